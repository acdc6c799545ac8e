"""Training engine v2: physics by hand, published frontier layouts as targets, provenance blindness."""

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from engine.catalog import reference_chips, reference_models
from engine.errors import UserError
from engine.training import TrainingInputs, evaluate_layout, search_layouts, whole_run_goodput
from engine.validation import read_cases_csv, validate_training_cases

CHIPS = reference_chips()
MODELS = reference_models()
SHARED = Path(__file__).resolve().parents[3] / "shared" / "validation"
H100 = CHIPS["h100-sxm5-80gb"]


def _layout(**kw):
    base = dict(model=MODELS["llama2-7b"], chip=H100, num_chips=16, global_batch_seqs=64, tp=8, pp=1, vpp=1, dp=2,
                cp=1, micro_batch=1, zero_stage=1, recompute="none")
    base.update(kw)
    return TrainingInputs(**base)


# ---- physics, by hand ------------------------------------------------------------------------

def test_tp_traffic_is_eight_ring_passes_of_bsh_per_layer():
    """With SP: 2 all-gathers + 2 reduce-scatters forward and backward, each (t-1)/t of b*s*h."""
    f = {"train_scaleup_eff": 1.0, "train_latency_us": 0.0, "train_tp_overlap": 0.0}
    inp = _layout(factors=f)
    res = evaluate_layout(inp)
    m = inp.model
    per_layer = 8 * (7 / 8) * (1 * 4096 * m.hidden * 2) / 450e9
    micro = 64 / (2 * 1)
    assert res.breakdown_s["tp_comm"] == pytest.approx(micro * m.layers * per_layer, rel=1e-6)
    # full recompute repeats the forward's four
    full = evaluate_layout(replace(inp, recompute="full"))
    assert full.breakdown_s["tp_comm"] == pytest.approx(1.5 * res.breakdown_s["tp_comm"], rel=1e-6)


def test_tp2_on_a_mesh_gets_one_link():
    # 910B HCCS: a TP2 pair shares one 28 GB/s link, TP8 uses all seven -> per-byte cost 3.5x lower
    chip = CHIPS["ascend-910b2"]
    f = {"train_scaleup_eff": 1.0, "train_latency_us": 0.0}
    # same micro-batch count (4) on both
    t2 = evaluate_layout(_layout(chip=chip, tp=2, dp=8, global_batch_seqs=32, factors=f)).breakdown_s["tp_comm"]
    t8 = evaluate_layout(_layout(chip=chip, tp=8, dp=2, global_batch_seqs=8, factors=f)).breakdown_s["tp_comm"]
    # volume per pass (t-1)/t: 1/2 for TP2, 7/8 for TP8; bandwidth 28 vs 196 GB/s
    assert t2 / t8 == pytest.approx((0.5 / 28) / (0.875 / 196), rel=1e-6)


def test_zero2_and_zero3_traffic_repeat_every_micro_batch():
    f = {"train_dp_overlap": 0.0, "train_latency_us": 0.0}
    one = dict(tp=1, dp=16, global_batch_seqs=16, factors=f)
    many = dict(tp=1, dp=16, global_batch_seqs=128, factors=f)   # 8 micro-batches
    for zero, grows in ((1, False), (2, True), (3, True)):
        a = evaluate_layout(_layout(zero_stage=zero, **one)).breakdown_s["dp_comm"]
        b = evaluate_layout(_layout(zero_stage=zero, **many)).breakdown_s["dp_comm"]
        assert (b > 4 * a) == grows, (zero, a, b)


def test_goodput_of_a_whole_run_falls_with_fleet_size():
    small = whole_run_goodput(_layout(num_chips=1024))
    large = whole_run_goodput(_layout(num_chips=16384))
    assert 0.5 < large < small < 1.0
    # Llama 3: 419 interruptions in 54 days at 16K; with ~15 min lost per restart plus rework the
    # useful fraction lands near Meta's reported >90% effective training time (less idle pauses)
    assert large == pytest.approx(0.85, abs=0.06)


def test_interleaved_bubble_runs_whole_layer_chunks():
    """Interleaved 1F1B with 15 layers per stage and vpp 8: a model chunk is whole layers, so the
    largest one (2 layers, not 15/8) sets the pace of the (pp-1) warm-up/cool-down chunks; each
    chunk still costs its p2p. By hand: bubble = (pp-1) x (2/15 x (per_mb - p2p) + p2p / vpp)."""
    model = replace(MODELS["llama2-7b"], layers=30)
    pp, vpp, gb = 2, 8, 64
    r = evaluate_layout(_layout(model=model, pp=pp, vpp=vpp, dp=1, global_batch_seqs=gb))
    micro = gb / 1
    b = r.breakdown_s
    per_mb = (sum(v for k, v in b.items() if k not in ("bubble", "dp_comm", "optimizer")) - 0.05) / micro
    p2p = b["pp_comm"] / micro
    expected = (pp - 1) * (2.0 / 15.0 * (per_mb - p2p) + p2p / vpp)
    assert b["bubble"] == pytest.approx(expected, rel=1e-6)
    # when vpp divides the stage's layers it is the textbook (pp-1)/vpp of a micro-batch
    r5 = evaluate_layout(_layout(model=model, pp=pp, vpp=5, dp=1, global_batch_seqs=gb)).breakdown_s
    per_mb5 = (sum(v for k, v in r5.items() if k not in ("bubble", "dp_comm", "optimizer")) - 0.05) / micro
    assert r5["bubble"] == pytest.approx((pp - 1) / 5 * per_mb5, rel=1e-6)


def test_mla_attention_activations_use_its_own_head_widths():
    """DeepSeek-V3's MLA heads are 192 wide for Q/K (128 nope + 64 rope) and 128 for V/O, not
    hidden/heads = 56. Flash attention keeps Q, K, V, O; recomputing the up-projections from the
    latents (selective) drops Q, K, V. By hand, per token and layer (bytes, 2 per element), the
    selective saving is the generic 4h + 2 x (routed expert / dense FFN widths) plus
    2 x 128 x (192 + 192 + 128) = 131,072 for Q, K, V."""
    m = MODELS["deepseek-v3"]
    assert (m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim, m.heads) == (128, 64, 128, 128)
    s = 4096
    kw = dict(model=m, chip=H100, num_chips=1, seq_len=s, global_batch_seqs=1, tp=1, pp=1, vpp=1, dp=1, cp=1,
              ep=1, micro_batch=1, zero_stage=0)
    act = {rc: evaluate_layout(TrainingInputs(recompute=rc, **kw)).memory_breakdown_gib["activations"]
           for rc in ("none", "selective")}
    h = m.hidden
    dense_frac = m.dense_layers / m.layers
    moe_frac = m.moe_layers / m.layers
    generic = 4 * h + 2 * (dense_frac * m.ffn_hidden + moe_frac * m.moe_topk * m.moe_ffn_hidden)
    mla_qkv = 2 * 128 * (192 + 192 + 128)
    expected_gib = s * m.layers * (generic + mla_qkv) / 2 ** 30
    assert act["none"] - act["selective"] == pytest.approx(expected_gib, rel=1e-6)


def test_context_parallel_passes_mla_keys_and_values_at_their_widths():
    """All-gather CP moves K and V of every chunk: for MLA 128 heads x (192 + v_head_dim). Widening
    V from 128 to 256 per head scales the traffic by (192 + 256) / (192 + 128) = 1.4 exactly."""
    m = MODELS["deepseek-v3"]
    kw = dict(chip=H100, num_chips=32, seq_len=32768, global_batch_seqs=4, tp=8, pp=1, vpp=1, dp=1, cp=4, ep=1,
              micro_batch=1, zero_stage=1, recompute="none", cp_kind="allgather",
              factors={"train_latency_us": 0.0})
    narrow = evaluate_layout(TrainingInputs(model=m, **kw)).breakdown_s["cp_comm"]
    wide = evaluate_layout(TrainingInputs(model=replace(m, v_head_dim=256), **kw)).breakdown_s["cp_comm"]
    assert narrow > 0
    assert wide / narrow == pytest.approx(1.4, rel=1e-9)


def _meta_128k(**kw):
    """Meta's 128K layout (Llama 3 paper Table 4): 16,384 H100, TP8 CP16 PP16 DP8, 128 sequences."""
    base = dict(model=MODELS["llama3-405b"], chip=H100, num_chips=16384, tp=8, pp=16, vpp=1, cp=16, dp=8,
                seq_len=131072, global_batch_seqs=128, micro_batch=1, zero_stage=1, recompute="none",
                cp_kind="allgather")
    base.update(kw)
    return TrainingInputs(**base)


def test_allgather_cp_moves_the_gqa_keys_and_values_once_each_way_per_layer():
    """Llama 3 CP (all-gather form): K and V of the whole 128K sequence are gathered before each
    layer's attention; backward gathers them again (only the local chunk is kept) and
    reduce-scatters their gradients (TransformerEngine's AttnFuncWithCPAndKVAllGather). By hand for 405B: with 8 KV
    heads over TP8 each rank holds 1 KV head, so K+V are 2 x 128 x 2 B = 512 B per token and the
    gathered buffer is 131,072 x 512 B = 64 MiB. The 16 CP ranks are 8 apart (one per 8-GPU node),
    so the ring runs on one 50 GB/s NIC per rank: 15/16 x 64 MiB / 50 GB/s = 1.258 ms; 3 collectives
    per layer (4 with full recompute), 8 layers on the fullest stage, 128 / 8 = 16 micro-batches."""
    f = {"train_scaleout_eff": 1.0, "train_latency_us": 0.0}
    gathered_bytes = 131072 * 2 * 1 * 128 * 2
    assert gathered_bytes == 64 * 2 ** 20
    one_s = 15 / 16 * gathered_bytes / 50e9
    for rc, n in (("none", 3), ("full", 4)):
        res = evaluate_layout(_meta_128k(recompute=rc, factors=f))
        assert res.breakdown_s["cp_comm"] == pytest.approx(16 * 8 * n * one_s, rel=1e-9), rc
    # Meta's reason for exposing it: with GQA the gather is small next to the O(s^2) attention
    res = evaluate_layout(_meta_128k())
    assert res.breakdown_s["cp_comm"] < 0.06 * res.breakdown_s["attention"]   # 0.62 s of 11.0 s


def test_allgather_cp_rank_computes_one_cp_th_of_the_causal_attention():
    """Load-balanced causal CP (2 x 16 chunks, every rank an early and a late one): each rank's
    8,192 queries see 65,536 keys on average, so per layer and rank the forward core is
    2 x 8,192 x 131,072 x 16,384 / 8 FLOP (QK^T and PV, half the matrix) = 4.40 TFLOP; flash
    backward costs 2.5 forwards. At attention efficiency 0.5 of the 989.4 TFLOP/s dense peak:
    16 micro-batches x 8 layers x 3.5 x 4.40e12 / (0.5 x 989.4e12)."""
    f = {"train_attn_eff": 0.5, "train_attn_path_rel": 1.0}
    res = evaluate_layout(_meta_128k(factors=f))
    fwd_flop = 2 * 8192 * 131072 * 16384 / 8
    assert fwd_flop == pytest.approx(4.398e12, rel=1e-3)
    expected = 16 * 8 * 3.5 * fwd_flop / (0.5 * 989.4e12)
    assert res.breakdown_s["attention"] == pytest.approx(expected, rel=1e-9)


def test_ring_cp_shows_what_the_attention_cannot_hide_and_repeats_with_full_recompute():
    """Ring CP over a slow fabric (every rank its own domain, 50 GB/s): Llama 2 7B, 4K tokens over
    CP8 leaves 512 tokens per rank, so one hop carries K and V of 512 tokens x 32 heads x 128 x 2 B
    = 8 MiB (167.8 us), far more than the 512-query attention takes. Forward, backward K/V and
    their gradients: 3 ring passes of 7 hops; full recompute runs the forward ring once more, and
    the recomputed attention hides its share."""
    f = {"train_scaleout_eff": 1.0, "train_latency_us": 0.0}
    kw = dict(model=MODELS["llama2-7b"], num_chips=8, tp=1, dp=1, cp=8, seq_len=4096, global_batch_seqs=8,
              scaleup_domain=1, factors=f)
    hop_s = 512 * 2 * 32 * 128 * 2 / 50e9
    layers, micro = 32, 8
    for rc, passes, fwd_attn in (("none", 3, 1.0), ("full", 4, 2.0)):
        res = evaluate_layout(_layout(recompute=rc, **kw))
        attn_fwd_s = res.breakdown_s["attention"] / (micro * layers * 3.5)     # flash: fwd + 2.5 fwd
        hidden_s = fwd_attn * attn_fwd_s + 2.5 * attn_fwd_s
        assert passes * 7 * hop_s > hidden_s
        assert res.breakdown_s["cp_comm"] == pytest.approx(micro * layers * (passes * 7 * hop_s - hidden_s),
                                                           rel=1e-9), rc


def test_unfused_attention_counts_each_pass_over_the_score_matrix_once():
    """Unfused attention (flash_attention = no), by hand for Llama 2 7B at 4K on one H100, TP1:
    QK^T and PV over the whole s x s matrix at the GEMM efficiency x d/(d+48) (their thin inner
    dimension, which also carries their own write/read of the matrix); forward 2x that in
    backward; the softmax adds 2 passes of the matrix forward and 3 backward (2 bytes a pass);
    dropout 2.5 more each way."""
    m = MODELS["llama2-7b"]
    s, d = 4096, m.head_dim_eff
    f = {"train_hbm_eff": 1.0, "train_gemm_eff": 0.7}
    kw = dict(model=m, num_chips=1, seq_len=s, global_batch_seqs=1, tp=1, pp=1, dp=1, recompute="none",
              flash_attention=False, factors=f)
    plain = evaluate_layout(_layout(**kw)).breakdown_s["attention"]
    dropped = evaluate_layout(_layout(dropout=True, **kw)).breakdown_s["attention"]
    peak = H100.peak_tflops("bf16") * 1e12
    hbm = H100.hbm_gbps * 1e9
    core_flops = s * 4.0 * s * m.heads * d                     # QK^T + PV, whole matrix, one sequence
    gemm_s = 3.0 * core_flops / (peak * 0.7 * d / (d + 48.0))  # forward + 2x backward
    pass_s = m.heads * s * s * 2.0 / hbm
    assert plain == pytest.approx(m.layers * (gemm_s + 5.0 * pass_s), rel=1e-9)
    assert dropped - plain == pytest.approx(m.layers * 5.0 * pass_s, rel=1e-9)


def test_schedules_order_the_bubble():
    base = dict(model=MODELS["llama3-405b"], num_chips=1024, tp=8, pp=16, vpp=1, dp=8, global_batch_seqs=512,
                micro_batch=1, zero_stage=1, recompute="full")
    b = {s: evaluate_layout(_layout(schedule=s, **base)).breakdown_s["bubble"] for s in ("1f1b", "zero-bubble", "dualpipe")}
    assert b["dualpipe"] < b["zero-bubble"] < b["1f1b"]
    assert b["zero-bubble"] == pytest.approx(b["1f1b"] / 3.0, rel=1e-6)


# ---- published frontier layouts (targets) ----------------------------------------------------

def _llama(num_chips, cp):
    return TrainingInputs(model=MODELS["llama3-405b"], chip=H100, num_chips=num_chips, tp=8, pp=16, cp=cp,
                          seq_len=8192 if cp == 1 else 131072, global_batch_seqs=2048 if cp == 1 else 128,
                          cp_kind="allgather")


def _meta_tflops(result, inp):
    """TFLOP/s per GPU the way Meta counts them: the whole s x s attention matrix (PaLM's
    6N + 12*L*H*Q*T, as Meta's torchtitan counts it), not the causal half. Our model FLOPs count
    the causal half; at 8K the two differ by 4%, at 128K by 40%."""
    from engine.models import training_flops_per_token

    return result.tokens_per_s_per_chip * training_flops_per_token(inp.model, inp.seq, causal_half=False) / 1e12


@pytest.mark.parametrize("num_chips,cp,tflops", [
    (8192, 1, 430.0),
    (16384, 1, 400.0),
    pytest.param(16384, 16, 380.0, marks=pytest.mark.xfail(
        strict=True, reason="128K context: 297 vs 380 TFLOP/s (-22%) with the FA2-class attention kernels every "
                            "public H100 row ran (train_attn_path_rel 0.6); 396 (+4%) with Hopper-native "
                            "(FA3/cuDNN) kernels (attention_kernel='native', tested below), which the paper "
                            "does not say Meta used. CP traffic (3.1% of the step) and the load-balanced "
                            "causal FLOPs are checked by hand above; see resources/calibration_README.md")),
])
def test_llama3_405b_meta_layouts(num_chips, cp, tflops):
    """Llama 3 paper Table 4: BF16 TFLOP/s per GPU with TP8, PP16 (126 layers), CP1/16."""
    inp = _llama(num_chips, cp)
    best = search_layouts(inp, top_k=1).best
    assert best is not None and best.memory_gib_per_chip <= 80.0       # Meta's layout fits in 80 GB
    assert _meta_tflops(best, inp) == pytest.approx(tflops, rel=0.15)


def test_meta_flop_convention_counts_the_whole_attention_matrix():
    # by hand, 405B at 128K: per token and layer the GEMMs are 2*(2h*qd + 2h*kvd) + 6h*ffn and the
    # attention core 4*s*qd counted whole (2*s*qd causal half); logits 2*h*V once
    m, s = MODELS["llama3-405b"], 131072
    h, qd, kvd = m.hidden, m.heads * m.head_dim_eff, m.kv_heads * m.head_dim_eff
    gemm = 2 * (2 * h * qd + 2 * h * kvd) + 2 * 3 * h * m.ffn_hidden
    whole = 3 * (m.layers * (gemm + 4 * s * qd) + 2 * h * m.vocab)
    half = 3 * (m.layers * (gemm + 2 * s * qd) + 2 * h * m.vocab)
    res = evaluate_layout(TrainingInputs(model=m, chip=H100, num_chips=16384, tp=8, pp=16, cp=16, dp=8,
                                         seq_len=s, global_batch_seqs=128, micro_batch=1, vpp=1,
                                         zero_stage=1, recompute="full", cp_kind="allgather"))
    inp = _llama(16384, 16)
    assert _meta_tflops(res, inp) / res.model_tflops_per_chip == pytest.approx(whole / half, rel=1e-9)
    assert whole / half == pytest.approx(1.40, abs=0.01)


def test_hopper_native_attention_path_speeds_attention_only():
    """train_attn_path_rel: FA2-class kernels on Hopper issue mma.sync at ~0.6 of the wgmma peak;
    a Hopper-native kernel (1.0) makes the attention core 1/0.6 times faster and nothing else."""
    base = _layout(model=MODELS["llama3-405b"], num_chips=128, tp=8, pp=16, dp=1, seq_len=32768,
                   global_batch_seqs=16, recompute="none")
    fa2 = evaluate_layout(replace(base, factors={"train_attn_path_rel": 0.6}))
    native = evaluate_layout(replace(base, factors={"train_attn_path_rel": 1.0}))
    assert fa2.breakdown_s["attention"] == pytest.approx(native.breakdown_s["attention"] / 0.6, rel=1e-9)
    for k in ("gemm", "memory_bound", "tp_comm", "dp_comm", "optimizer"):
        assert fa2.breakdown_s[k] == pytest.approx(native.breakdown_s[k], rel=1e-9), k
    # the packaged calibration gives the Hopper family the FA2-class path, A100 the native one
    assert H100.factor("train_attn_path_rel", None) == pytest.approx(0.6)
    assert CHIPS["a100-sxm4-80gb"].factor("train_attn_path_rel", 1.0) == 1.0


def test_attention_kernel_input_is_the_native_path_on_hopper_and_a_no_op_on_a100():
    """`attention_kernel="native"` (FA3 / cuDNN on Hopper) sets the instruction-path share to 1:
    Hopper's attention core gets 1/0.6 times faster and nothing else moves; on A100, where the
    FA2-class kernel already is the native one (share 1), the input changes nothing."""
    base = _layout(model=MODELS["llama3-405b"], num_chips=128, tp=8, pp=16, dp=1, seq_len=32768,
                   global_batch_seqs=16, recompute="none")
    portable = evaluate_layout(base)
    native = evaluate_layout(replace(base, attention_kernel="native"))
    assert portable.breakdown_s["attention"] == pytest.approx(native.breakdown_s["attention"] / 0.6, rel=1e-9)
    for k in ("gemm", "memory_bound", "tp_comm", "dp_comm", "optimizer"):
        assert portable.breakdown_s[k] == pytest.approx(native.breakdown_s[k], rel=1e-9), k
    a100 = replace(base, chip=CHIPS["a100-sxm4-80gb"])
    assert evaluate_layout(replace(a100, attention_kernel="native")).step_time_s == pytest.approx(
        evaluate_layout(a100).step_time_s, rel=1e-12)
    with pytest.raises(UserError, match="attention_kernel"):
        evaluate_layout(replace(base, attention_kernel="fa9"))


def test_llama3_128k_with_hopper_native_kernels_is_within_the_issue_band():
    """What-if, not the anchor: with Hopper-native attention kernels (a user input) Meta's 128K
    layout is predicted within 15% of its published 380 TFLOP/s; with the default FA2-class kernels
    it is the expected failure above. The gap is which kernel ran, which the paper does not say."""
    inp = replace(_llama(16384, 16), attention_kernel="native")
    best = search_layouts(inp, top_k=1).best
    assert best is not None and best.memory_gib_per_chip <= 80.0
    assert _meta_tflops(best, inp) == pytest.approx(380.0, rel=0.15)


def test_gpt3_175b_on_1024_a100_narayanan():
    """Narayanan et al. 2021 Table 1: 175B on 1,024 A100, TP8 PP16, batch 1536: 140 TFLOP/s per GPU,
    counted with recompute FLOPs (hardware FLOPs)."""
    inp = TrainingInputs(model=MODELS["gpt3-175b"], chip=CHIPS["a100-sxm4-80gb"], num_chips=1024, tp=8, pp=16, dp=8,
                         global_batch_seqs=1536, micro_batch=1, recompute="full", sequence_parallel=False,
                         dropout=True, flash_attention=False)
    best = search_layouts(inp, top_k=1).best
    assert best is not None
    hw_tflops = best.hfu_pct / 100.0 * 312.0
    assert hw_tflops == pytest.approx(140.0, rel=0.10)


def test_deepseek_v3_on_2048_h800_with_its_layout():
    """DeepSeek-V3 report: 180K H800 GPU-hours per trillion tokens on 2,048 H800 (3.7 days), FP8
    GEMMs, PP16 DualPipe, EP64, no TP, node-limited routing (4 nodes); its layout fits in 80 GB."""
    inp = TrainingInputs(model=MODELS["deepseek-v3"], chip=CHIPS["h800-sxm5-80gb"], num_chips=2048, tp=1, pp=16,
                         vpp=1, ep=64, dp=128, cp=1, dtype="fp8", schedule="dualpipe", global_batch_seqs=15360,
                         moe_route_nodes=4, seq_len=4096)
    best = search_layouts(inp, top_k=1).best
    assert best is not None and best.memory_gib_per_chip <= 80.0
    days_per_trillion = 1e12 / (best.tokens_per_s_per_chip * 2048) / 86400.0
    assert days_per_trillion == pytest.approx(3.7, rel=0.20)


# ---- provenance is not an input ------------------------------------------------------------

def _blank_provenance(src, dst):
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(dst, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if k in ("notes", "source", "locator", "trust") else v) for k, v in r.items()})
    return dst


@pytest.fixture(scope="module")
def public_training():
    path = SHARED / "training_public.csv"
    if not path.exists():
        pytest.skip("shared validation cases not present")
    return path


def test_training_predictions_ignore_provenance(public_training, tmp_path):
    a = validate_training_cases(read_cases_csv(public_training), CHIPS)["cases"]
    b = validate_training_cases(read_cases_csv(_blank_provenance(public_training, tmp_path / "t.csv")), CHIPS)["cases"]
    assert [c["id"] for c in a] == [c["id"] for c in b]
    for x, y in zip(a, b):
        assert x["status"] == y["status"] == "ok", (x["id"], x["message"], y["message"])
        assert x["predicted"] == y["predicted"], x["id"]


def test_inference_predictions_ignore_provenance(tmp_path):
    from engine.validation_inference import validate_inference_cases

    path = SHARED / "inference_public.csv"
    if not path.exists():
        pytest.skip("shared validation cases not present")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = [dict(r) for r in csv.DictReader(fh)]
    with open(_blank_provenance(path, tmp_path / "i.csv"), newline="", encoding="utf-8") as fh:
        blank = [dict(r) for r in csv.DictReader(fh)]
    a = validate_inference_cases(rows, CHIPS)["cases"]
    b = validate_inference_cases(blank, CHIPS)["cases"]
    for x, y in zip(a, b):
        assert x.get("status") == y.get("status") and x.get("predicted") == y.get("predicted"), x.get("id")


def test_zero2_gradients_are_exposed_without_grad_overlap():
    """grad_overlap = no: gradients are reduced after backward, not in buckets during it. ZeRO-2's
    per-micro-batch reduce-scatters then show in full (they were hidden regardless before), and so
    does its once-per-step parameter all-gather (half a reduce-scatter's bytes): only ZeRO-3's
    per-layer gathers prefetch under compute whatever the setting (QA s29: ZeRO-2 showed less than
    ZeRO-1 for the same traffic). ZeRO-0's exposed all-reduce is 2 reduce-scatter passes, so with 8
    micro-batches ZeRO-2 shows 8.5 x half of it."""
    f = {"train_dp_overlap": 1.0, "train_latency_us": 0.0}
    kw = dict(tp=1, dp=16, global_batch_seqs=128, micro_batch=1, grad_overlap=False, factors=f)
    z0 = evaluate_layout(_layout(zero_stage=0, **kw)).breakdown_s["dp_comm"]
    z2 = evaluate_layout(_layout(zero_stage=2, **kw)).breakdown_s["dp_comm"]
    assert z2 == pytest.approx(8.5 * z0 / 2, rel=1e-9)
    hidden = evaluate_layout(_layout(zero_stage=2, **{**kw, "grad_overlap": True})).breakdown_s["dp_comm"]
    assert hidden < 0.05 * z2


def test_gradient_buckets_grow_with_the_data_parallel_group():
    """Megatron-LM's DDP buckets hold max(40M, 1M x dp) elements, so the ring hops a step pays for
    gradients stay about constant as DP grows (a fixed 100 MB bucket made them grow as n and sank
    DeepSpeed's 2,240-GPU ZeRO rows). Latency part by hand: 2 passes x buckets x (n-1) hops x 8 us."""
    m = MODELS["llama2-7b"]
    p = m.total_params()
    lat = {}
    for n in (1024, 2048):
        kw = dict(num_chips=n, tp=1, dp=n, global_batch_seqs=n, zero_stage=0, grad_overlap=False)
        slow = evaluate_layout(_layout(**kw, factors={"train_dp_overlap": 0.0, "train_latency_us": 8.0}))
        fast = evaluate_layout(_layout(**kw, factors={"train_dp_overlap": 0.0, "train_latency_us": 0.0}))
        lat[n] = slow.breakdown_s["dp_comm"] - fast.breakdown_s["dp_comm"]
        import math
        buckets = math.ceil(p / max(40e6, 1e6 * n))
        assert lat[n] == pytest.approx(2 * buckets * (n - 1) * 8e-6, rel=1e-3)
    assert lat[2048] / lat[1024] < 1.3


def test_zero3_regathers_weights_for_the_recomputed_forward():
    """ZeRO-3 frees each layer's gathered weights after its forward, so full recompute gathers
    them a third time: per micro-batch 4 bytes/param reduce-scattered + 2 x 2 bytes gathered
    (8) become 4 + 3 x 2 (10) -- a ratio of 1.25 with latency and overlap off. ZeRO-1 gathers
    once per step, recompute or not."""
    f = {"train_latency_us": 0.0, "train_dp_overlap": 0.0}
    kw = dict(tp=1, dp=16, global_batch_seqs=64, factors=f)
    for zero, ratio in ((3, 1.25), (1, 1.0)):
        none = evaluate_layout(_layout(zero_stage=zero, recompute="none", **kw)).breakdown_s["dp_comm"]
        full = evaluate_layout(_layout(zero_stage=zero, recompute="full", **kw)).breakdown_s["dp_comm"]
        assert full == pytest.approx(ratio * none, rel=1e-9), zero


def test_memory_is_the_peak_over_the_stages_the_middle_full_ones_too():
    """QA: with 80 layers on 32 stages the end stages hold 1 layer each and the rest 3; memory was
    sized on the end stages only: Llama 3 70B TP1 PP32 CP4 on 910B2 "fit" in 31.5 GiB. By hand its
    second stage holds 3 layers x 31 micro-batches in flight x 274,432 B per token and layer x
    2,048 tokens (8K over CP4) = 48.7 GiB of activations, with 15.3 GiB of weights, gradients and
    optimizer states: about 69 GiB of 64."""
    from engine.catalog import reference_chips

    inp = TrainingInputs(model=MODELS["llama3-70b"], chip=reference_chips()["ascend-910b2"], num_chips=1024, tp=1,
                         pp=32, vpp=1, dp=8, cp=4, zero_stage=1, micro_batch=1, global_batch_seqs=512, recompute="none")
    res = evaluate_layout(inp)
    assert not res.feasible and "out of memory" in res.reason
    assert res.memory_gib_per_chip == pytest.approx(69.0, abs=1.5)
    act = 3 * 31 * 274_432 * 2048 / 2**30
    assert res.memory_breakdown_gib["activations"] == pytest.approx(act, rel=0.02)


def test_an_interleaved_second_stage_holds_megatrons_warm_up():
    """QA: Megatron warms the second stage of an interleaved pipeline up with 2(pp - 2) + (vpp - 1) pp
    chunks, so it holds that + 1 chunks of 1/vpp stage: pp + (pp - 3)/vpp micro-batches, 39.25 at
    PP32 VPP4, where the model held 31 x (1 + 30/128) = 38.27. Llama 3 405B TP2 PP32 VPP4 CP8 on
    H800 (4 layers on the second stage) then needs about 1 GiB more than the 79.6 of 80 it showed:
    out of memory. And a step of micro-batches that are all forwarded first (micro x vpp chunks
    under the warm-up) holds the step's micro-batches, no more."""
    from engine.catalog import reference_chips

    chip = reference_chips()["h800-sxm5-80gb"]
    kw = dict(model=MODELS["llama3-405b"], chip=chip, num_chips=16384, tp=2, pp=32, vpp=4, cp=8, zero_stage=1,
              recompute="none", micro_batch=1, global_batch_seqs=2048)
    res = evaluate_layout(TrainingInputs(**kw))
    assert not res.feasible and "out of memory" in res.reason
    per_mb_layer = res.memory_breakdown_gib["activations"] / 39.25 / 4   # 4 layers, 39.25 micro-batches
    assert per_mb_layer == pytest.approx(0.248, rel=0.02)                 # QA's 0.248 GiB per layer and micro-batch
    # 512 sequences over dp 32: 16 micro-batches, 64 chunks, under the second stage's warm-up of
    # 2 x 30 + 3 x 32 = 156: every forward first, 16 micro-batches held
    few = evaluate_layout(TrainingInputs(**{**kw, "global_batch_seqs": 512}))
    assert few.memory_breakdown_gib["activations"] == pytest.approx(per_mb_layer * 4 * 16, rel=0.02)


def test_fp8_is_never_slower_than_bf16_where_its_rate_is_no_higher():
    """Gaudi 3 and TPU v5p run FP8 matrices at their BF16 rate: FP8 GEMMs at 0.85 of it (and the
    casts) made training 11% slower than BF16 (Llama 3 70B on 512 Gaudi 3: 1,232 against 1,341
    tokens/s per chip). Counted as BF16 and said; the H100, with twice the rate, keeps FP8's gain."""
    m = MODELS["llama3-70b"]
    for chip_id in ("gaudi3", "tpu-v5p", "h100-sxm5-80gb"):
        kw = dict(model=m, chip=CHIPS[chip_id], num_chips=512, tp=8, pp=4, dp=16, global_batch_seqs=512)
        bf16 = evaluate_layout(TrainingInputs(dtype="bf16", **kw))
        fp8 = evaluate_layout(TrainingInputs(dtype="fp8", **kw))
        assert fp8.tokens_per_s_per_chip >= bf16.tokens_per_s_per_chip, chip_id
        said = any("FP8 brings no speed" in n for n in fp8.explanations)
        if chip_id == "h100-sxm5-80gb":
            assert fp8.tokens_per_s_per_chip > 1.2 * bf16.tokens_per_s_per_chip and not said
        else:
            assert fp8.tokens_per_s_per_chip == pytest.approx(bf16.tokens_per_s_per_chip, rel=1e-12) and said


def test_a_route_limit_at_or_past_the_nodes_the_expert_group_spans_binds_nothing_more():
    """Qwen3-235B (top-8 of 128), EP8 x ETP4 on H100: the expert group spans 32 chips, 4 nodes of 8
    (2 EP ranks a node). Dispatched per node, a token crosses the network once per remote node it
    reaches, 3 of the 4 at most: R = 4, 5 and 8 are one answer (they were three, R = 8 counting
    6 remote nodes of 3, QA s33), R = 2 half of R = 4's crossings; left out, one copy per remote
    expert (8 x 6/8 = 6)."""
    kw = dict(model=MODELS["qwen3-235b-a22b"], num_chips=256, tp=4, pp=8, dp=8, ep=8, global_batch_seqs=256,
              recompute="selective", factors={"train_latency_us": 0.0})
    ep = {r: evaluate_layout(_layout(moe_route_nodes=r, **kw)).breakdown_s["ep_comm"] for r in (None, 2, 4, 5, 8)}
    assert ep[4] == ep[5] == ep[8]
    # the network term is 3 copies at R >= 4, 1.5 at R = 2 and 6 per expert: R = 2 < R = 4 < unset
    assert ep[2] < ep[4] < ep[None]
