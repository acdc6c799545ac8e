"""Serving model: KV sizes, capacity, roofline limits, SLO search and invariants."""

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.errors import UserError
from engine.inference import (GIB, ServingInputs, chips_needed, evaluate_serving, serving_curve,
                              slo_capacity)

CHIPS = reference_chips()
MODELS = reference_models()
# No reserve, no overheads, full efficiency: results are pure roofline and hand-checkable.
IDEAL = {"inf_mem_reserve_frac": 0.0, "inf_mem_reserve_gb": 0.0, "inf_hbm_eff": 1.0, "inf_kv_eff": 1.0,
         "inf_step_overhead_ms": 0.0, "inf_layer_overhead_us": 0.0, "inf_comm_layer_overhead_us": 0.0,
         "inf_kv_occupancy": 1.0, "inf_max_batch": 1e9}


def _eval(model="llama3-70b", chip="h100-sxm5-80gb", **kw):
    base = dict(model=MODELS[model], chip=CHIPS[chip], input_len=1000, output_len=200, tp=8,
                scenario="static_batch", batch=1)
    base.update(kw)
    return evaluate_serving(ServingInputs(**base))


def test_kv_bytes_per_token_gqa_and_tp_split():
    # Llama 3 70B: 2 (K,V) x 80 layers x 8 kv heads x 128 x 2 bytes = 327,680 B per token
    r = _eval(tp=8, input_len=1000, output_len=1000)
    assert r.kv_gib_per_sequence == pytest.approx(327_680 / 8 * 2000 / GIB)
    # TP16 > kv_heads: each chip still keeps one KV head per layer (replicated, not split further)
    r16 = _eval(tp=16, input_len=1000, output_len=1000, chip="h100-sxm5-80gb")
    assert r16.kv_gib_per_sequence == pytest.approx(2 * 80 * 128 * 2 * 2000 / GIB)


def test_kv_bytes_mla_latent_not_split_by_tp():
    # DeepSeek-V3 MLA: 61 layers x (512 + 64) x 2 bytes = 70,272 B per token, on every TP rank
    r = _eval(model="deepseek-v3", chip="h200-sxm-141gb", tp=8, weight_dtype="fp8",
              input_len=1000, output_len=1000)
    assert r.kv_gib_per_sequence == pytest.approx(70_272 * 2000 / GIB)
    r8 = _eval(model="deepseek-v3", chip="h200-sxm-141gb", tp=8, weight_dtype="fp8", kv_dtype="fp8",
               input_len=1000, output_len=1000)
    assert r8.kv_gib_per_sequence == pytest.approx(r.kv_gib_per_sequence / 2)


def test_max_concurrency_from_hbm_left_after_weights():
    m = MODELS["llama3-8b"]
    r = _eval(model="llama3-8b", tp=1, input_len=1000, output_len=1000, factors=IDEAL)
    weights = (m.total_params() - m.embedding_params()) * 2 + m.embedding_params() * 2
    kv_seq = 2 * 32 * 8 * 128 * 2 * 2000
    expected = math.floor((80 * GIB - weights) / kv_seq)
    assert r.max_concurrency == expected
    assert r.weights_gib_per_chip == pytest.approx(weights / GIB)   # GiB, as the HBM it fills
    # replicas multiply the concurrency that fits
    r2 = _eval(model="llama3-8b", tp=1, input_len=1000, output_len=1000, factors=IDEAL, replicas=2, batch=2)
    assert r2.max_concurrency == 2 * expected


def test_model_that_does_not_fit_is_infeasible_with_reason():
    r = _eval(model="llama3-405b", chip="h100-sxm5-80gb", tp=1)
    assert not r.feasible and r.limiting == "memory capacity"
    assert "does not fit" in r.reason and "H100" in r.reason


def test_batch1_decode_is_weight_read_roofline_when_overheads_are_zero():
    m = MODELS["llama3-8b"]
    chip = CHIPS["h100-sxm5-80gb"]
    r = _eval(model="llama3-8b", tp=1, input_len=1, output_len=2, factors=IDEAL)
    read = (m.total_params() - m.vocab * m.hidden) * 2  # the input embedding is not read in full
    ideal_ms = read / (chip.hbm_gbps * 1e9) * 1e3
    assert r.decode_step_ms == pytest.approx(ideal_ms, rel=0.01)
    assert r.limiting == "bandwidth"


def test_large_batch_decode_becomes_compute_bound():
    r = _eval(model="llama3-8b", tp=1, input_len=128, output_len=128, batch=512, weight_dtype="fp8",
              kv_dtype="fp8")
    bd = r.decode_breakdown_ms
    assert bd["compute_ms"] > bd["weights_ms"] + bd["kv_ms"]
    assert r.limiting == "compute"


def test_prefill_is_compute_bound_and_scales_with_tokens():
    a = _eval(model="llama3-8b", tp=1, input_len=4096, batch=1)
    b = _eval(model="llama3-8b", tp=1, input_len=4096, batch=4)
    assert a.prefill_breakdown_ms["compute_ms"] > a.prefill_breakdown_ms["weights_ms"]
    assert 3.5 < b.prefill_ms / a.prefill_ms < 4.5


def test_decode_breakdown_sums_to_step():
    for kw in (dict(batch=1), dict(batch=64), dict(batch=300, input_len=4000)):
        r = _eval(**kw)
        bd = r.decode_breakdown_ms
        # GEMM kernels then attention kernels, each on its own roofline
        gemm_ms = bd["compute_ms"] - bd["attn_compute_ms"]
        busy = max(bd["weights_ms"], gemm_ms) + max(bd["kv_ms"], bd["attn_compute_ms"])
        assert bd["total_ms"] == pytest.approx(busy + bd["comm_ms"] + bd["overhead_ms"])
        assert r.decode_step_ms == pytest.approx(bd["total_ms"])
        pb = r.prefill_breakdown_ms
        assert pb["total_ms"] == pytest.approx(max(pb["compute_ms"], pb["weights_ms"]) + pb["comm_ms"] + pb["overhead_ms"])


def test_compute_bound_gemms_do_not_hide_memory_bound_attention():
    """A decode step runs its GEMMs and its attention as separate kernels: at a large batch the
    GEMMs are compute bound and the attention is KV-read bound, and the step pays both (hand
    check: Llama 3 8B on one H200, batch 512 at 1,000 tokens of context, ideal efficiencies)."""
    m = MODELS["llama3-8b"]
    f = dict(IDEAL, inf_decode_mfu=1.0)
    r = _eval(model="llama3-8b", chip="h200-sxm-141gb", tp=1, input_len=900, output_len=200, batch=512, factors=f)
    bd = r.decode_breakdown_ms
    ctx = 900 + 200 / 2
    gemm_ms = 2 * 512 * (m.total_params() - m.embedding_params() + m.vocab * m.hidden) / 989.4e12 * 1e3
    kv_ms = 512 * ctx * (2 * 32 * 8 * 128 * 2) / 4.8e12 * 1e3
    assert bd["compute_ms"] - bd["attn_compute_ms"] == pytest.approx(gemm_ms, rel=0.02)
    assert bd["kv_ms"] == pytest.approx(kv_ms, rel=0.02)
    assert gemm_ms > bd["weights_ms"] and kv_ms > bd["attn_compute_ms"]      # each on its own roofline
    assert r.decode_step_ms == pytest.approx(gemm_ms + kv_ms, rel=0.03)       # summed, not max(.)


def test_overhead_grows_with_tp():
    """The collectives' latency grows with the TP group and is communication in the breakdown;
    the launch overhead is the same at any TP (the total is their sum either way)."""
    bds = [_eval(tp=t).decode_breakdown_ms for t in (2, 4, 8)]
    fixed = [bd["overhead_ms"] + bd["comm_ms"] for bd in bds]
    assert fixed[0] < fixed[1] < fixed[2]
    latency = [bd["comm_latency_ms"] for bd in bds]
    assert 0 < latency[0] < latency[1] < latency[2] and all(lat <= bd["comm_ms"] for lat, bd in zip(latency, bds))
    assert bds[0]["overhead_ms"] == pytest.approx(bds[2]["overhead_ms"])


def test_in_switch_all_reduce_moves_less_than_a_ring_at_tp8():
    """NVSwitch gen 3+ reduces in the fabric (NVLS): a TP8 all-reduce moves `inf_switch_allreduce`
    bytes per message byte instead of a ring's 1.75. At 2-4 GPUs nccl-tests measure NVLS at the
    ring's bus bandwidth (NVIDIA/nccl issue 1455), so TP4 keeps the ring's 1.5."""
    from engine.inference import model_shape, _allreduce_traffic, _deployment, _hw_arrays

    h100, a100 = CHIPS["h100-sxm5-80gb"], CHIPS["a100-sxm4-80gb"]
    nvls = h100.factor("inf_switch_allreduce", 0.0)
    assert 1.0 < nvls < 1.5 and a100.factor("inf_switch_allreduce", 0.0) == 0.0
    shape = model_shape(MODELS["llama3-70b"])

    def traffic(chip, tp, engine="vllm"):
        dep = _deployment(shape, _hw_arrays([chip], "bf16", engine), tp, 1, 1, "bf16", "bf16")
        return float(np.asarray(_allreduce_traffic(dep)).reshape(-1)[0])

    assert traffic(h100, 8) == pytest.approx(nvls)              # ring would move 1.75
    assert traffic(h100, 4) == pytest.approx(1.5)               # NVLS = ring at 2-4 GPUs
    assert traffic(h100, 2) == pytest.approx(1.0)               # a 2-chip ring already moves 1
    assert traffic(a100, 8) == pytest.approx(1.75)              # NVSwitch gen 2: ring
    assert traffic(h100, 8, "unknown") == pytest.approx(1.75)   # generic family: NCCL ring (2023)
    # TP16 over two nodes rings over the NICs
    assert traffic(h100, 16) == pytest.approx(2 * 15 / 16)
    # the prefill comm time is that traffic over the link: 2 all-reduces x 80 layers x 8192 x 2 B
    # per token, 1,000 tokens, at 450 GB/s x link efficiency
    r = _eval(tp=8, engine="vllm", input_len=1000)
    expected_ms = 2 * 80 * nvls * 1000 * 8192 * 2 / (450e9 * h100.factor("inf_link_eff", 0.0)) * 1e3
    assert r.prefill_breakdown_ms["comm_ms"] == pytest.approx(expected_ms, rel=1e-6)


def test_a100_all_reduce_latency_is_its_own_chip_family_factor():
    """A100 (NVLink 3, NVSwitch gen 2, no in-switch reduction) pays more latency per small
    all-reduce than Hopper: its batch-1 TP8 decode steps ran 13-19% over the shared value."""
    a100, h100 = CHIPS["a100-sxm4-80gb"], CHIPS["h100-sxm5-80gb"]
    c_a100 = a100.factor("inf_comm_layer_overhead_us", 0.0)
    c_h100 = h100.factor("inf_comm_layer_overhead_us", 0.0)
    assert CHIPS["a100-sxm4-40gb"].factor("inf_comm_layer_overhead_us", 0.0) == c_a100
    assert CHIPS["a800-sxm4-80gb"].factor("inf_comm_layer_overhead_us", 0.0) == c_a100   # same NVSwitch gen 2
    assert 1.3 * c_h100 < c_a100 < 3.0 * c_h100

    def tp4_to_tp8_ms(chip):
        steps = [_eval(chip=chip, tp=t, engine="vllm").decode_breakdown_ms["comm_latency_ms"] for t in (4, 8)]
        return steps[1] - steps[0]

    # hand-derived: 80 layers x comm_us x (log2 8 - log2 4) at the vLLM family's overhead scale 1
    assert tp4_to_tp8_ms("a100-sxm4-80gb") == pytest.approx(80 * c_a100 * 1e-3)
    assert tp4_to_tp8_ms("h100-sxm5-80gb") == pytest.approx(80 * c_h100 * 1e-3)


@pytest.mark.parametrize("scenario,extra", [("static_batch", {"batch": 32}), ("concurrency", {"concurrency": 64}),
                                            ("offline", {}), ("server", {"request_rate": 2.0})])
def test_more_bandwidth_never_slower_and_no_nan(scenario, extra):
    chip = CHIPS["h100-sxm5-80gb"]
    fast = replace(chip, hbm_gbps=chip.hbm_gbps * 1.5)
    a = _eval(scenario=scenario, **extra)
    b = evaluate_serving(ServingInputs(model=MODELS["llama3-70b"], chip=fast, input_len=1000, output_len=200,
                                       tp=8, scenario=scenario, **extra))
    for r in (a, b):
        for v in (r.ttft_ms, r.tpot_ms, r.output_tokens_per_s_per_chip, r.total_tokens_per_s_per_chip):
            assert math.isfinite(v) and v > 0
    assert b.tpot_ms <= a.tpot_ms + 1e-9
    assert b.output_tokens_per_s_per_chip >= a.output_tokens_per_s_per_chip - 1e-9


def test_closed_loop_throughput_grows_and_tpot_grows_with_concurrency():
    res = [_eval(scenario="concurrency", concurrency=c, input_len=1024, output_len=1024) for c in (1, 8, 32, 128)]
    tput = [r.output_tokens_per_s_per_chip for r in res]
    tpot = [r.tpot_ms for r in res]
    assert tput == sorted(tput) and tpot == sorted(tpot)


def test_concurrency_beyond_kv_capacity_queues():
    r = _eval(model="llama3-70b", chip="h100-sxm5-80gb", tp=2, scenario="concurrency", concurrency=2000,
              input_len=4000, output_len=1000)
    assert r.limiting == "memory capacity"
    assert r.running_batch == pytest.approx(r.max_concurrency)
    assert r.ttft_ms > 10 * r.prefill_ms


def test_dtype_errors_name_the_field_and_value():
    with pytest.raises(UserError, match="weight dtype 'fp3'"):
        _eval(weight_dtype="fp3")
    with pytest.raises(UserError, match="kv dtype 'fp4'"):
        _eval(kv_dtype="fp4")


def test_a_chip_without_a_16_bit_rate_is_refused_by_name_not_divided_by_zero():
    # Cambricon MLU290-M5 publishes INT8 only: its W8A8 GEMMs have a rate, attention has none
    for wdt in ("int8", "bf16", "fp8"):
        with pytest.raises(UserError, match="MLU290-M5 has no 16-bit matrix rate"):
            _eval(chip="mlu290-m5", weight_dtype=wdt, tp=4)


def test_low_precision_without_its_matrix_rate_runs_weight_only():
    """FP8 on A100 (vLLM's FP8 Marlin), FP4 on H100: 8-/4-bit weights read from HBM, 16-bit GEMMs."""
    from engine.inference import default_kv_dtype

    a100 = dict(chip="a100-sxm4-80gb", tp=4, batch=8)
    bf16, fp8, int8, int4 = (_eval(weight_dtype=w, **a100) for w in ("bf16", "fp8", "int8", "int4"))
    # weight bytes are the dtype's (fp8 = int8 byte for byte), the GEMMs run at the 16-bit rate
    assert fp8.weights_gib_per_chip == pytest.approx(int8.weights_gib_per_chip)
    assert fp8.weights_gib_per_chip < 0.55 * bf16.weights_gib_per_chip
    assert fp8.prefill_breakdown_ms["compute_ms"] == pytest.approx(bf16.prefill_breakdown_ms["compute_ms"])
    assert int8.prefill_breakdown_ms["compute_ms"] < 0.9 * bf16.prefill_breakdown_ms["compute_ms"]  # W8A8
    assert int4.decode_step_ms < fp8.decode_step_ms < bf16.decode_step_ms
    assert "W8A16" in fp8.explanation and "A100" in fp8.explanation
    assert "weight-only" not in int8.explanation and "weight-only" not in bf16.explanation
    # H100 has FP8 (W8A8, no note) but no FP4 matrix rate (W4A16, as int4 weights are)
    h_fp8, h_fp4, h_int4 = (_eval(weight_dtype=w, tp=4) for w in ("fp8", "fp4", "int4"))
    assert "weight-only" not in h_fp8.explanation and "W4A16" in h_fp4.explanation
    # both W4A16; NVFP4 stores 4.5 bits a weight (an FP8 scale per 16), group-128 int4 4.156
    assert h_fp4.weights_gib_per_chip > h_int4.weights_gib_per_chip and h_fp4.decode_step_ms > h_int4.decode_step_ms
    # a blank KV dtype beside weight-only FP8 stays 16-bit (activations are 16-bit there)
    assert default_kv_dtype("fp8", CHIPS["a100-sxm4-80gb"]) == "bf16"
    assert default_kv_dtype("fp8", CHIPS["h100-sxm5-80gb"]) == "fp8"
    # an FP8 KV cache on A100 is stored in 8 bits (vLLM --kv-cache-dtype fp8): half the bytes
    kv8 = _eval(kv_dtype="fp8", **a100)
    assert kv8.kv_gib_per_sequence == pytest.approx(bf16.kv_gib_per_sequence / 2)
    assert "KV cache is stored in 8 bits" in kv8.explanation


def test_int4_weights_halve_weight_memory_vs_int8():
    a = _eval(weight_dtype="int8")
    b = _eval(weight_dtype="int4")
    assert b.weights_gib_per_chip < a.weights_gib_per_chip
    assert b.decode_breakdown_ms["weights_ms"] < a.decode_breakdown_ms["weights_ms"]


def test_slo_capacity_monotone_in_targets():
    m, chip = MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"]
    caps = [slo_capacity(m, chip, input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=t, tp=8)
            for t in (30, 50, 100, 200)]
    vals = [c.output_tokens_per_s_per_chip for c in caps]
    assert all(c.feasible for c in caps)
    assert vals == sorted(vals) and vals[0] < vals[-1]
    for c, t in zip(caps, (30, 50, 100, 200)):
        assert c.tpot_ms <= t and c.ttft_ms <= 2000
    loose = slo_capacity(m, chip, input_len=2000, output_len=300, tp=8)
    assert loose.output_tokens_per_s_per_chip >= vals[-1]


def test_slo_capacity_best_tp_and_infeasible_reason():
    m, chip = MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"]
    best = slo_capacity(m, chip, input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=50)
    fixed = [slo_capacity(m, chip, input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=50, tp=t)
             for t in (2, 4, 8)]
    assert best.output_tokens_per_s_per_chip == pytest.approx(max(f.output_tokens_per_s_per_chip for f in fixed))
    bad = slo_capacity(m, chip, input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=1, tp=8)
    assert not bad.feasible and bad.limiting == "latency target" and "TPOT" in bad.reason


def test_targets_no_layout_meets_report_the_figures_of_the_layout_they_name():
    """Best TP, targets nobody meets: the result named TP8 but carried TP1's figures (the whole
    70B, 131 GiB 'of 96', and no sequence fitting)."""
    m, chip = MODELS["llama3-70b"], CHIPS["h20-96gb"]
    bad = slo_capacity(m, chip, input_len=1024, output_len=256, ttft_ms=20, tpot_ms=50)
    at_tp = slo_capacity(m, chip, input_len=1024, output_len=256, ttft_ms=2000, tpot_ms=50, tp=bad.tp)
    assert not bad.feasible and bad.tp > 1
    assert bad.weights_gib_per_chip == pytest.approx(at_tp.weights_gib_per_chip)
    assert bad.weights_gib_per_chip < chip.hbm_gib and bad.max_concurrency == at_tp.max_concurrency > 0
    assert bad.kv_gib_per_sequence == pytest.approx(at_tp.kv_gib_per_sequence)


def test_chips_needed_scales_with_demand_in_whole_replicas():
    m, chip = MODELS["llama3-70b"], CHIPS["h20-96gb"]
    kw = dict(input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=50, tp=8)
    n1 = chips_needed(m, chip, demand_output_tokens_per_s=10_000, **kw)
    n2 = chips_needed(m, chip, demand_output_tokens_per_s=100_000, **kw)
    assert n1 % 8 == 0 and n2 % 8 == 0 and n2 > n1 > 0
    cap = slo_capacity(m, chip, **kw)
    assert n2 >= 100_000 / cap.output_tokens_per_s_per_chip
    assert n2 - 8 < 100_000 / cap.output_tokens_per_s_per_chip


def test_serving_curve_shapes_and_monotone_throughput():
    chips = [CHIPS[c] for c in ("h100-sxm5-80gb", "h20-96gb", "a100-sxm4-80gb")]
    batches = np.arange(1, 65)
    cur = serving_curve(MODELS["llama3-70b"], chips, [2, 4, 8], batches, input_len=1000, output_len=200)
    assert cur.output_tokens_per_s_per_chip.shape == (3, 3, 64)
    ok = np.isfinite(cur.output_tokens_per_s_per_chip)
    assert ok[:, 1:, :].all()  # TP4/TP8 hold 64 sequences on every chip
    t = cur.output_tokens_per_s_per_chip[:, 2, :]
    assert (np.diff(t, axis=-1) > 0).all()
    assert (np.diff(cur.tpot_ms[:, 2, :], axis=-1) >= 0).all()
    # a single evaluation agrees with the curve at the same point (pp=1, no queueing)
    one = slo_capacity(MODELS["llama3-70b"], chips[0], input_len=1000, output_len=200, tp=8)
    assert one.feasible


def test_moe_reads_fewer_expert_bytes_at_small_batch():
    a = _eval(model="mixtral-8x7b", tp=2, batch=1)
    b = _eval(model="mixtral-8x7b", tp=2, batch=64)
    assert a.decode_breakdown_ms["weights_ms"] < 0.6 * b.decode_breakdown_ms["weights_ms"]


def _qwen3_decode(**factors):
    """Qwen3-235B-A22B FP8 on 4 x H100, TP4/EP4, one static batch of 32 decoding sequences, ideal
    bandwidth and no overheads: the decode breakdown is roofline arithmetic."""
    f = dict(IDEAL, inf_decode_mfu=1.0, inf_fp8_gemm_rel=1.0, **factors)
    return _eval(model="qwen3-235b-a22b", chip="h100-sxm5-80gb", tp=4, ep=4, weight_dtype="fp8", kv_dtype="fp8",
                 batch=32, factors=f).decode_breakdown_ms


def test_expert_reads_and_expert_gemms_have_their_own_efficiencies():
    """Routed expert weights are read at the dense stream rate / inf_moe_read_eff and expert
    FLOPs run at the dense GEMM rate x inf_moe_eff; neither factor touches the other term.

    By hand: one expert is 3 x 4096 x 1536 = 18,874,368 weights, 128 experts x 94 layers = 227.1 GB
    in FP8, 56.78 GB per chip at EP4. 32 tokens x top-8 of 128 touch 1 - (15/16)^32 = 0.8731 of
    them: 49.57 GB, 14.80 ms at 3.35 TB/s, doubled at a read efficiency of 0.5. Their FLOPs per
    chip are 2 x 32 x 8 x 18,874,368 x 94 / 4 = 227.1 GFLOP: 0.1148 ms at H100's 1,979 FP8
    TFLOP/s, doubled at a GEMM efficiency of 0.5."""
    touched = 1.0 - (1.0 - 8.0 / 128.0) ** 32
    read_ms = 128 * 94 * 18_874_368 / 4 * touched / 3.35e12 * 1e3
    flop_ms = 2.0 * 32 * 8 * 18_874_368 * 94 / 4 / 1978.9e12 * 1e3
    assert read_ms == pytest.approx(14.80, abs=0.01) and flop_ms == pytest.approx(0.1148, abs=1e-4)
    base = _qwen3_decode(inf_moe_read_eff=1.0, inf_moe_eff=1.0)
    slow_read = _qwen3_decode(inf_moe_read_eff=0.5, inf_moe_eff=1.0)
    slow_gemm = _qwen3_decode(inf_moe_read_eff=1.0, inf_moe_eff=0.5)
    assert slow_read["weights_ms"] - base["weights_ms"] == pytest.approx(read_ms, rel=1e-3)
    assert slow_read["compute_ms"] == pytest.approx(base["compute_ms"], rel=1e-12)
    assert slow_gemm["compute_ms"] - base["compute_ms"] == pytest.approx(flop_ms, rel=1e-3)
    assert slow_gemm["weights_ms"] == pytest.approx(base["weights_ms"], rel=1e-12)


def test_expert_read_efficiency_is_a_family_key_over_a_fixed_prior():
    """The packaged calibration: vLLM's and SGLang's fused-MoE kernels carry fitted read
    efficiencies; TensorRT-LLM (whose grouped GEMMs the public rows do not separate from the
    dense stream) and any family without a key read experts at the documented prior, the dense
    weight stream; the default-scope value is not refitted (it is the prior)."""
    from engine.inference import resolve_factors
    from engine.validation_inference import fitted_parameters

    chip = CHIPS["h200-sxm-141gb"]
    reads = {fam: resolve_factors(chip, fam)["inf_moe_read_eff"] for fam in ("trtllm", "vllm", "sglang", "tgi")}
    assert reads["tgi"] == reads["trtllm"] == 1.0
    assert 0.3 < reads["vllm"] < reads["sglang"] < 1.0
    keys = {f"{p['scope']}:{p['name']}" for p in fitted_parameters(CHIPS)}
    assert "default:inf_moe_read_eff@vllm" in keys and "default:inf_moe_read_eff" not in keys


def test_factors_are_keyed_by_family_never_by_version():
    from engine.inference import resolve_factors

    chip = CHIPS["h100-sxm5-80gb"].with_calibration(**{"inf_moe_eff@trtllm": 0.9,
                                                        "inf_moe_eff@trtllm@9.9": 0.1})
    assert resolve_factors(chip, "trtllm@9.9")["inf_moe_eff"] == 0.9   # the version key is ignored
    assert resolve_factors(chip, "trtllm@1.0")["inf_moe_eff"] == 0.9
    assert resolve_factors(chip, "fastertransformer")["inf_moe_eff"] == 0.9   # FT is the TRT-LLM family
    assert resolve_factors(chip, "TRTLLM", {"inf_moe_eff@trtllm": 0.3})["inf_moe_eff"] == 0.3
    assert "inf_ttft_sync" not in resolve_factors(chip, "trtllm")        # the old TTFT fudge is gone
    assert "inf_ttft_wait_steps" not in resolve_factors(chip, "trtllm")


def test_attention_dp_single_prompt_runs_on_one_rank():
    # tp=1, ep=8: one prompt's attention/dense GEMMs are not split 8 ways, so its prefill is much
    # slower than an 8-way TP prefill of the same prompt; 8 prompts spread one per rank.
    m = MODELS["deepseek-v3"]
    kw = dict(model="deepseek-v3", chip="h200-sxm-141gb", weight_dtype="fp8", input_len=4096, output_len=64)
    dp1 = _eval(tp=1, ep=8, batch=1, **kw)
    dp8 = _eval(tp=1, ep=8, batch=8, **kw)
    tp8 = _eval(tp=8, ep=8, batch=1, **kw)
    assert dp1.prefill_ms > 1.3 * tp8.prefill_ms  # experts are split by EP either way
    assert dp8.prefill_ms < 2.0 * dp1.prefill_ms
    assert m.is_moe


def test_prefix_cache_and_moe_layouts_in_slo_capacity():
    m, chip = MODELS["qwen3-235b-a22b"], CHIPS["h100-sxm5-80gb"]
    kw = dict(input_len=4000, output_len=300, ttft_ms=2000, tpot_ms=50, weight_dtype="fp8", kv_dtype="fp8")
    cold = slo_capacity(m, chip, **kw)
    warm = slo_capacity(m, chip, prefix_cache_hit=0.6, **kw)
    assert warm.output_tokens_per_s_per_chip > cold.output_tokens_per_s_per_chip
    assert warm.prefix_cache_hit == 0.6 and warm.chips_per_replica == max(warm.tp, warm.ep)
    dense_only = max(slo_capacity(m, chip, tp=t, **kw).output_tokens_per_s_per_chip for t in (2, 4, 8))
    assert cold.output_tokens_per_s_per_chip >= dense_only - 1e-9   # the search includes TP-only layouts
    ep8 = slo_capacity(m, chip, tp=1, ep=8, **kw)
    assert ep8.feasible and ep8.ep == 8 and ep8.chips_per_replica == 8
    with pytest.raises(UserError, match="prefix_cache_hit"):
        slo_capacity(m, chip, prefix_cache_hit=1.0, **kw)


# ---- wide expert parallelism (experts over several scale-up domains) --------------------------

def test_deepseek_v3_on_h800_matches_deepseek_production_within_2x():
    """DeepSeek's published day (STORY.md): 776B tokens/day on an average of 1,814 H800, i.e.
    ~428M tokens per H800-day, prefill and decode together. Inputs assumed here and why:
    DeepSeek-V3 with fp8 weights and an fp8 KV cache (V3 serves fp8 GEMMs; fp8 KV is our
    assumption); requests of 2,880 in / 800 out (the published ~3.6:1 input:output mix;
    the absolute lengths are assumptions); 56% of input tokens hit the prefix cache (published);
    TTFT 2 s and TPOT 50 ms (DeepSeek reports 20-22 output tokens/s per user, i.e. ~45-50 ms).
    The layout is searched (DeepSeek runs EP32 prefill, EP144-320 decode with data-parallel
    attention). Our figure is SLO-bounded peak capacity of a colocated deployment without
    multi-token prediction, while DeepSeek's is a daily average over nodes that follow the load,
    so only agreement within a factor ~2 is claimed."""
    cap = slo_capacity(MODELS["deepseek-v3"], CHIPS["h800-sxm5-80gb"], input_len=2880, output_len=800,
                       ttft_ms=2000, tpot_ms=50, weight_dtype="fp8", kv_dtype="fp8", prefix_cache_hit=0.56)
    per_day = cap.total_tokens_per_s_per_chip * 86_400
    assert 428e6 / 2 <= per_day <= 428e6 * 2
    assert cap.ep > 8 and cap.chips_per_replica > 8        # wide EP wins, as in production
    assert cap.tpot_ms <= 50 and cap.ttft_ms <= 2000
    cold = slo_capacity(MODELS["deepseek-v3"], CHIPS["h800-sxm5-80gb"], input_len=2880, output_len=800,
                        ttft_ms=2000, tpot_ms=50, weight_dtype="fp8", kv_dtype="fp8")
    assert cold.total_tokens_per_s_per_chip < cap.total_tokens_per_s_per_chip


def _ds_h800(batch, **factors):
    return _eval(model="deepseek-v3", chip="h800-sxm5-80gb", tp=1, ep=64, weight_dtype="fp8", kv_dtype="fp8",
                 input_len=1000, output_len=100, batch=batch, factors=factors)


def test_wide_ep_all_to_all_is_bytes_over_nics_plus_latency():
    # tp=1, ep=64 on 8-GPU H800 nodes, 6,400 sequences = 100 tokens per chip per decode step.
    # Per MoE layer each chip sends 100 x top-8 x 7168 elements: fp8 dispatch + bf16 combine
    # = 3 bytes each; 56/64 of the experts are off-node (50 GB/s NIC at 0.8), 7/64 on-node
    # (200 GB/s NVLink at the packaged link efficiency); plus 2 x 15 us latency; 58 MoE layers.
    # No overlap here.
    r = _ds_h800(6400, inf_ep_overlap=0.0)
    chip = CHIPS["h800-sxm5-80gb"]
    link_eff = chip.factor("inf_link_eff", 0.0)
    bytes_ = 100 * 8 * 7168 * 3
    per_layer = bytes_ * (56 / 64 / (chip.scaleout_gbps * 1e9 * 0.8) + 7 / 64 / (chip.scaleup_gbps * 1e9 * link_eff))
    expected_ms = 58 * (per_layer + 30e-6) * 1e3
    bd = r.decode_breakdown_ms      # comm_ms also holds the TP collectives' latency (comm_latency_ms)
    assert bd["comm_ms"] - bd["comm_latency_ms"] == pytest.approx(expected_ms, rel=1e-6)
    # the comm grows with the tokens per chip, the latency part does not vanish at batch 1 per chip
    small = _ds_h800(64, inf_ep_overlap=0.0).decode_breakdown_ms
    assert 58 * 30e-3 < small["comm_ms"] - small["comm_latency_ms"] < bd["comm_ms"] - bd["comm_latency_ms"]


def test_two_batch_overlap_hides_all_to_all_behind_compute():
    off = _ds_h800(6400, inf_ep_overlap=0.0)
    on = _ds_h800(6400)   # default overlap 0.85
    a2a = off.decode_breakdown_ms["comm_ms"] - off.decode_breakdown_ms["comm_latency_ms"]
    # the step's busy time: GEMMs (weights vs GEMM FLOPs) then attention (KV vs attention FLOPs)
    d = on.decode_breakdown_ms
    busy = max(d["weights_ms"], d["compute_ms"] - d["attn_compute_ms"]) + max(d["kv_ms"], d["attn_compute_ms"])
    exposed = max(0.0, a2a - busy) + 0.15 * min(a2a, busy)
    assert d["comm_ms"] - d["comm_latency_ms"] == pytest.approx(exposed, rel=1e-6)
    assert on.decode_step_ms < off.decode_step_ms
    # micro-batches each read the experts: twice the expert bytes of the un-overlapped step
    assert on.decode_breakdown_ms["weights_ms"] > off.decode_breakdown_ms["weights_ms"]


def test_cross_node_tp_overhead_not_charged_to_expert_parallelism():
    m = MODELS["deepseek-v3"]
    # wide EP pays no inter-node all-reduce latency per layer: its fixed overhead is that of a
    # group of one node (8 chips: 3 doublings), step + 61 layers x (layer + comm x 3) us
    h800 = CHIPS["h800-sxm5-80gb"]
    step_ms, layer_us, comm_us = (h800.factor(n, 0.0) for n in (
        "inf_step_overhead_ms", "inf_layer_overhead_us", "inf_comm_layer_overhead_us"))
    expected_ms = step_ms + 61 * (layer_us + comm_us * 3) * 1e-3
    for ep in (16, 64, 256):
        r = _eval(model="deepseek-v3", chip="h800-sxm5-80gb", tp=1, ep=ep, weight_dtype="fp8", batch=ep)
        bd = r.decode_breakdown_ms   # launches in overhead_ms, the collectives' latency in comm_ms
        assert bd["overhead_ms"] + bd["comm_latency_ms"] == pytest.approx(expected_ms)
    tp8 = _eval(model="deepseek-v3", chip="h200-sxm-141gb", tp=8, weight_dtype="fp8", batch=1)
    tp16 = _eval(model="deepseek-v3", chip="h200-sxm-141gb", tp=16, weight_dtype="fp8", batch=1)
    extra = (tp16.decode_breakdown_ms["comm_latency_ms"] - tp8.decode_breakdown_ms["comm_latency_ms"]) * 1e3
    h200 = CHIPS["h200-sxm-141gb"]
    # TP across nodes: the inter-node all-reduce latency per layer + one more doubling
    assert extra == pytest.approx(m.layers * (h200.factor("inf_scaleout_layer_overhead_us", 0.0)
                                              + h200.factor("inf_comm_layer_overhead_us", 0.0)))


def test_slo_capacity_moe_wide_ep_beats_one_node_on_slow_nic_chip():
    # Qwen3-235B int8 on Ascend 910B2 (25 GB/s per-chip scale-out): wide EP is still chosen,
    # because splitting experts further lets a TPOT-bounded step carry a larger batch.
    m, chip = MODELS["qwen3-235b-a22b"], CHIPS["ascend-910b2"]
    kw = dict(input_len=1155, output_len=211, ttft_ms=2000, tpot_ms=50, weight_dtype="int8", prefix_cache_hit=0.5)
    best = slo_capacity(m, chip, **kw)
    one_node = max(slo_capacity(m, chip, tp=t, ep=1, **kw).output_tokens_per_s_per_chip for t in (4, 8))
    assert best.ep > 8 and best.output_tokens_per_s_per_chip > 2 * one_node
    # a slower NIC lowers wide-EP capacity (never raises it)
    slow = replace(chip, scaleout_gbps=5.0)
    wide = slo_capacity(m, chip, tp=best.tp, ep=best.ep, **kw)
    wide_slow = slo_capacity(m, slow, tp=best.tp, ep=best.ep, **kw)
    assert wide_slow.output_tokens_per_s_per_chip <= wide.output_tokens_per_s_per_chip


def test_fp8_gemms_reach_a_share_of_their_doubled_peak():
    """A compute-bound prefill in FP8 on H100 runs on the FP8 peak (2x BF16) scaled by
    `inf_fp8_gemm_rel` (activation quantisation and scaling: FP8 prefill rarely runs twice as
    fast as BF16), and never slower than the 16-bit path it replaces."""
    def pf(wdt, rel):
        f = dict(IDEAL, inf_fp8_gemm_rel=rel, inf_gemm_half_tokens=1e-9)
        return _eval(model="llama3-8b", tp=1, input_len=8192, output_len=1, weight_dtype=wdt,
                     kv_dtype="bf16", factors=f).prefill_breakdown_ms["compute_ms"]

    bf16, full, rel85 = pf("bf16", 0.85), pf("fp8", 1.0), pf("fp8", 0.85)
    assert full < rel85 < bf16
    # attention stays 16-bit; the GEMM part G (at the full FP8 peak) is 2G in BF16 and G/0.85 at 0.85
    assert (rel85 - full) / (bf16 - full) == pytest.approx(1 / 0.85 - 1, rel=1e-3)  # catalog FP8 ~ 2.000 x BF16
    assert pf("fp8", 0.4) == pytest.approx(bf16, rel=1e-9)       # floor: the 16-bit rate


def test_ascend_int8_gemms_gain_little_over_16_bit():
    """On the 910B the W8A8 (de)quantisation runs on the vector cores: its chip-family
    `inf_fp8_gemm_rel` (fitted on MindIE Qwen3-8B, INT8 offline 7-11% over BF16) keeps the INT8
    GEMM rate just above the 16-bit one, where Hopper's FP8 runs at 1.7x."""
    from engine.inference import _hw_arrays

    chip = CHIPS["ascend-910b2"]
    rel = chip.factor("inf_fp8_gemm_rel", 0.0)
    assert 0.5 < rel < CHIPS["h100-sxm5-80gb"].factor("inf_fp8_gemm_rel", 0.0)
    peak_int8 = float(_hw_arrays([chip], "int8", "mindie")["peak"][0])
    # hand-derived: max(752 TOPS x rel, 376 TFLOP/s 16-bit)
    assert peak_int8 == pytest.approx(max(chip.int8_tops * rel, chip.peak_tflops("bf16")) * 1e12)
    assert 1.0 < peak_int8 / (chip.peak_tflops("bf16") * 1e12) < 1.15
    h100 = CHIPS["h100-sxm5-80gb"]
    assert float(_hw_arrays([h100], "fp8", "trtllm")["peak"][0]) / (h100.peak_tflops("bf16") * 1e12) > 1.6


def test_engine_limits_cap_the_closed_form_as_the_simulator():
    """max_num_seqs is the closed form's running cap too (families.limit_factors): offline, an 8B
    model on an 80 GB H100 runs hundreds of sequences by KV; capped at 8 it runs 8, in both paths."""
    chip, model = reference_chips()["h100-sxm5-80gb"], reference_models()["llama3-8b"]
    kw = dict(model=model, chip=chip, input_len=512, output_len=128, scenario="offline")
    free = evaluate_serving(ServingInputs(**kw, simulate=False))
    capped = evaluate_serving(ServingInputs(**kw, simulate=False, max_num_seqs=8))
    simulated = evaluate_serving(ServingInputs(**kw, max_num_seqs=8, requests=64))
    assert free.running_batch > 64
    assert capped.running_batch == pytest.approx(8.0)
    assert simulated.running_batch <= 8.0 + 1e-9
    assert capped.output_tokens_per_s_per_chip < free.output_tokens_per_s_per_chip / 4


def test_curve_stops_at_the_engine_cap_not_only_the_kv_fit():
    """A running batch beyond the engine's cap on running sequences does not exist: the curve
    ends at the fewer of the KV fit and the cap (a deployment's max_num_seqs included)."""
    chip, model = reference_chips()["h100-sxm5-80gb"], reference_models()["llama3-8b"]
    batches = [16, 64, 65, 512, 1024, 1025, 2048]
    free = serving_curve(model, [chip], [1], batches, input_len=64, output_len=64)
    assert free.max_concurrency[0, 0] > 2048                  # KV would hold more than vLLM runs
    ok = np.isfinite(free.tpot_ms[0, 0])
    assert ok.tolist() == [True, True, True, True, True, False, False]   # vLLM's default cap: 1,024
    capped = serving_curve(model, [chip], [1], batches, input_len=64, output_len=64,
                           factors={"inf_max_batch": 64.0})
    assert np.isfinite(capped.tpot_ms[0, 0]).tolist() == [True, True] + [False] * 5


def test_the_910c_serves_like_two_910b_dies_not_like_a_generic_chip():
    """The 910C (two 910B-class dies) took the generic default factors: 2.7x a 910B2's decode per
    chip where its catalog peaks and bandwidth are 2.0x."""
    from engine.calibration import chip_family

    assert chip_family("ascend-910c") == chip_family("ascend-910b2") == "ascend-910b"
    c, b = CHIPS["ascend-910c"], CHIPS["ascend-910b2"]
    assert c.hbm_gbps == pytest.approx(2 * b.hbm_gbps)
    for name in ("inf_hbm_eff", "inf_decode_mfu", "inf_prefill_mfu"):
        assert c.factor(name, -1.0) == b.factor(name, -2.0), name
    kw = dict(input_len=1000, output_len=500, tp=1, scenario="static_batch", batch=64)
    ratio = evaluate_serving(ServingInputs(model=MODELS["llama3-8b"], chip=c, **kw)).output_tokens_per_s_per_chip \
        / evaluate_serving(ServingInputs(model=MODELS["llama3-8b"], chip=b, **kw)).output_tokens_per_s_per_chip
    assert 1.7 < ratio < 2.1


@pytest.mark.parametrize("output_len", [1, 4])
def test_steady_state_with_outputs_shorter_than_the_batch_agrees_with_the_simulator(output_len):
    """A request that is mostly its prompt: the steady state solved Little's law once from the
    prompt time alone, put prefill utilisation near 1 and gave 12 s TTFTs (throughput falling
    with the batch) for a load the simulator serves in about 100 ms. Now: throughput rises with
    the batch, and at the steady state's own Poisson rate the simulator agrees on TTFT and on
    the sequences running."""
    m, c = MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"]
    curve = serving_curve(m, [c], [1], [1, 2, 4, 8], input_len=1024, output_len=output_len)
    out, ttft = curve.output_tokens_per_s_per_chip[0, 0], curve.ttft_ms[0, 0]
    assert np.all(np.diff(out[np.isfinite(out)]) > 0)
    assert ttft[1] < 2.0 * ttft[0] and np.all(ttft < 1000)
    rate = out[2] / output_len          # the rate that keeps 4 sequences in the server
    sim = evaluate_serving(ServingInputs(model=m, chip=c, input_len=1024, output_len=output_len, tp=1,
                                         scenario="server", request_rate=float(rate)))
    assert sim.ttft_ms == pytest.approx(ttft[2], rel=0.5)
    assert sim.running_batch == pytest.approx(4.0, rel=0.3)


def test_without_targets_a_batch_the_prompts_cannot_fill_is_named_prefill_saturation():
    """1-token outputs with no latency target: the search stops where prompts outrun prefill; it
    said 'a larger batch would break the latency target' with no target set."""
    r = slo_capacity(MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"], input_len=1024, output_len=1, tp=1)
    assert r.feasible and r.limiting == "prefill saturation"
    assert "latency target" not in r.explanation and f"beyond {r.batch:.0f} sequences" in r.explanation


def test_experts_over_the_attention_tp_group_exchange_no_tokens():
    """QA: TP8 EP8 charged every chip every token's dispatch and combine on top of the TP
    all-reduces: DeepSeek-V3 on 8 H200 prefilled 2,000 tokens in 149 ms against TP8's 83 (the extra
    66 ms = 2 x 58 MoE layers x top-8 x 2,000 x 7,168 x 2 B x 7/8 over the NVLink at its
    efficiency). With TP attention every rank already holds every token; each runs its own experts
    and the MoE all-reduce (in the TP cost) combines them. With attention data parallel (TP1 EP8)
    each chip still sends (ep - 1) / ep of its tokens' top-k copies."""
    from engine.inference import local_dispatch_share

    kw = dict(model="deepseek-v3", chip="h200-sxm-141gb", weight_dtype="fp8", input_len=2000, output_len=300)
    tp8 = _eval(tp=8, ep=1, **kw)
    tp8_ep8 = _eval(tp=8, ep=8, **kw)
    assert tp8_ep8.ttft_ms == pytest.approx(tp8.ttft_ms, rel=0.02)
    assert float(local_dispatch_share(8, 8)) == 0.0
    assert float(local_dispatch_share(8, 1)) == pytest.approx(7 / 8)
    assert float(local_dispatch_share(8, 2)) == pytest.approx(6 / 8 / 2)   # 1/2 of the tokens, 6 of 8 off-group


def test_16_bit_serving_on_a_chip_without_bf16_says_it_is_fp16():
    """QA: a V100 accepted --weight-dtype bf16 (the default) with no word; it has no BF16 units."""
    from engine.catalog import reference_chips
    from engine.inference import precision_note

    chips = reference_chips()
    assert precision_note(chips["v100-sxm2-32gb"], "bf16", "bf16") == (
        "V100 SXM2 32GB has no BF16 matrix units: 16-bit weights are served in FP16 at its 125 TFLOP/s")
    assert precision_note(chips["h100-sxm5-80gb"], "bf16", "bf16") == ""


@pytest.mark.parametrize("model_id, chip_id, tp, tpot_ms", [
    ("qwen3-235b-a22b", "b200", 4, 70.0),        # QA s35: steady 456 against 812 simulated at p90
    ("mixtral-8x7b", "h100-sxm5-80gb", 2, 70.0),  # steady 520 against 585
    ("llama3-70b", "b200", 2, 70.0),              # dense: in order before and after
])
def test_the_steady_state_is_not_below_the_simulated_percentiles_with_tensor_parallel_attention(
        model_id, chip_id, tp, tpot_ms):
    """The steady state holds the targets as means, so it may serve more per chip than the
    simulator at p50 and p90, never less. It added every prompt's work to every decode step,
    where the simulator prices a step carrying prompts as max(weights, GEMMs + prompts) +
    attention: a MoE model's decode reads every expert far below its compute roof, so the
    prompts hide under the reads, and the steady state read up to 44% below p90 (QA s35)."""
    from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip

    m, chip = reference_models()[model_id], reference_chips()[chip_id]
    kw = dict(input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=tpot_ms, tp=tp)
    steady = slo_capacity(m, chip, **kw).output_tokens_per_s_per_chip
    p50 = slo_capacity_tokens_per_s_per_chip(m, chip, percentile="p50", **kw).output_tokens_per_s_per_chip
    p90 = slo_capacity_tokens_per_s_per_chip(m, chip, percentile="p90", **kw).output_tokens_per_s_per_chip
    assert steady >= p50 >= p90 > 0
    assert steady < 1.25 * p50   # and near it: the same physics with means for percentiles


def test_the_steady_state_does_not_jump_where_a_prompt_needs_a_second_chunk():
    """QA s35: the steady state priced a prompt cut in two as two equal halves, each hidden under
    the weight read, where the scheduler cuts a full share and the rest: a longer prompt or a
    looser TPOT target read up to 1.6x the rate (Qwen3-235B on B200 TP4, 8,100 -> 8,200 prompt
    tokens: 177 -> 215; Mixtral with a 2,048-token budget, TPOT 47.5 -> 48 ms: 295 -> 506)."""
    qwen, b200 = MODELS["qwen3-235b-a22b"], reference_chips()["b200"]
    kw = dict(output_len=300, ttft_ms=5000, tpot_ms=70, tp=4)
    shorter, longer = (slo_capacity(qwen, b200, input_len=n, **kw).output_tokens_per_s_per_chip for n in (8100, 8200))
    assert longer <= shorter
    mixtral, h100 = MODELS["mixtral-8x7b"], reference_chips()["h100-sxm5-80gb"]
    rates = [slo_capacity(mixtral, h100, input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=t, tp=2,
                          factors={"inf_prefill_chunk_tokens": 2048}).output_tokens_per_s_per_chip
             for t in (47.5, 48.0, 50.0)]
    assert rates == sorted(rates) and rates[1] < 1.1 * rates[0]   # a looser target, a little more


@pytest.mark.parametrize("model_id, chip_id, tp, input_len, output_len, budget", [
    ("mixtral-8x7b", "h100-sxm5-80gb", 2, 2000, 300, 2048),
    ("llama3-8b", "h100-sxm5-80gb", 1, 1000, 50, 512),
    ("qwen3-235b-a22b", "b200", 4, 8200, 50, None),
])
def test_a_token_never_gets_faster_with_more_sequences_running(model_id, chip_id, tp, input_len, output_len, budget):
    """Over the steady search's grid of running sequences, TPOT never falls (QA s35 found it
    falling by up to 9% where one chunk a step gave way to full shares)."""
    from engine.inference import _capacity_arrays
    from engine.serving.families import limit_factors

    out = _capacity_arrays(MODELS[model_id], [reference_chips()[chip_id]], [tp], float(input_len), float(output_len),
                           math.inf, math.inf, "bf16", "bf16", "", limit_factors(None, budget) or None, eps=[1])
    grid, r = out[3], out[4]
    tpot = np.broadcast_to(r["tpot"], grid.shape)[0, 0]
    assert (np.diff(tpot) >= 0).all()


def test_a_longer_prompt_never_raises_the_steady_rate_under_a_small_token_budget():
    """QA s35: a chunk was priced as its share of the whole prompt's compute at the whole prompt's
    GEMM efficiency, so with a 512-token budget a 468-token chunk hid under the weight read where
    the simulator finds it 12 ms past it: Mixtral 8x7B on one MI300X read 315 -> 847 output
    tokens/s per chip from 500 to 883 prompt tokens, 3.3x the simulated p50 (255). Each chunk is
    priced at its own rows and attention offset now."""
    mixtral, mi300x = MODELS["mixtral-8x7b"], reference_chips()["mi300x"]
    kw = dict(output_len=100, ttft_ms=5000, tpot_ms=50, tp=1, ep=1, engine="vllm",
              factors={"inf_prefill_chunk_tokens": 512})
    rates = [slo_capacity(mixtral, mi300x, input_len=n, **kw).output_tokens_per_s_per_chip
             for n in (500, 609, 706, 820, 883, 1000)]
    assert rates == sorted(rates, reverse=True), rates
    assert rates[4] < 1.1 * 255.1   # the simulated p50 at 883 tokens (QA)


def test_a_given_tp_still_searches_the_experts_parallel_degree_of_an_moe_model():
    """QA s38: `serve --tp 8` on Qwen3-235B int8 over H20 fixed EP at 1 (93.8 output tokens/s per
    chip, 1,072 chips for 100,000 tokens/s) where --ep's help promised the best EP under the SLOs
    and TP8 EP64 reads 160 (640 chips)."""
    m, chip = MODELS["qwen3-235b-a22b"], CHIPS["h20-96gb"]
    kw = dict(input_len=2000, output_len=300, ttft_ms=1000, tpot_ms=60, weight_dtype="int8")
    given_tp = slo_capacity(m, chip, tp=8, **kw)
    ep1 = slo_capacity(m, chip, tp=8, ep=1, **kw)
    ep64 = slo_capacity(m, chip, tp=8, ep=64, **kw)
    assert given_tp.tp == 8 and given_tp.ep > 1
    assert given_tp.output_tokens_per_s_per_chip >= max(ep1.output_tokens_per_s_per_chip,
                                                        ep64.output_tokens_per_s_per_chip)
    assert given_tp.output_tokens_per_s_per_chip > 1.5 * ep1.output_tokens_per_s_per_chip
    # a dense model with a TP given: that TP alone, as before
    dense = slo_capacity(MODELS["llama3-70b"], chip, tp=8, input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=60)
    assert (dense.tp, dense.ep) == (8, 1)


def test_a_batch_no_target_binds_is_named_the_throughput_peak_not_a_latency_target():
    """QA s38: with a 100 s TPOT target the answer read "limited by latency target: a larger batch
    would break the latency target" at 82 ms per token."""
    m, chip = MODELS["qwen3-235b-a22b"], CHIPS["h800-sxm5-80gb"]
    r = slo_capacity(m, chip, tp=8, ep=1, input_len=2000, output_len=300, ttft_ms=0, tpot_ms=100000,
                     weight_dtype="int8")
    assert r.limiting != "latency target", (r.limiting, r.explanation)
    assert r.tpot_ms < 1000
