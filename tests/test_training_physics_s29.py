"""Training physics a QA pass found wrong (session 29): the zero-bubble bubble with fewer
micro-batches than stages, ZeRO-2's parameter all-gather without gradient overlap, the portable
attention kernel on Blackwell, the interleaving rule's own reason, and the refusal of a global batch
that a pinned dp cannot divide."""

import json
from dataclasses import replace

import pytest

import engine.cli as cli
from engine.catalog import reference_chips, reference_models
from engine.layout import Infeasible, interleave_rule
from engine.training import INTERLEAVE_REASON, REASONS, TrainingInputs, evaluate_layout, search_layouts
from tests.cli_run import use_packaged_catalog

CHIPS = reference_chips()
MODELS = reference_models()
STEP_OVERHEAD_S = 0.05   # train_step_overhead_s (documented default)


@pytest.fixture(autouse=True)
def catalog_only(monkeypatch):
    use_packaged_catalog(monkeypatch)


def _train(capsys, *flags, fmt="json"):
    code = cli.main(["--format", fmt, "train", *flags])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---- 1. zero-bubble with fewer micro-batches than stages ---------------------------------------

def _pipeline(schedule: str, micro_batches: int):
    inp = TrainingInputs(model=MODELS["llama3-70b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=64, tp=8, pp=8, dp=1,
                         micro_batch=1, zero_stage=1, recompute="none", global_batch_seqs=micro_batches,
                         schedule=schedule)
    res = evaluate_layout(inp)
    b = res.breakdown_s
    # one micro-batch through the slowest stage, F + B + W (the per-micro-batch terms over m)
    per_mb = (b["gemm"] + b["attention"] + b["memory_bound"] + b["recompute"] + b["overhead"] - STEP_OVERHEAD_S
              + b["tp_comm"] + b["cp_comm"] + b["ep_comm"] + b["pp_comm"]) / micro_batches
    return res, per_mb


@pytest.mark.parametrize("m", [1, 2, 4, 7, 8, 16])
def test_zero_bubble_bubble_with_few_micro_batches_follows_the_critical_path(m):
    """Llama 3 70B, TP8 PP8 on 64 H100, m micro-batches of one sequence. Each stage's pass is
    F = B = W = u (B: input gradients, W: weight gradients; per_mb = 3u, about 0.154 s, u ~ 0.0515 s).

    ZB-H1 (Qi et al. 2023) defers W, so with m >= p its bubble is (p-1)(F+B-W) = (p-1)u = 7u, a
    third of 1F1B's (p-1)(F+B+W) = 21u. With m < p there are too few W to fill the cool-down. The
    last stage cannot start before F of micro-batch 1 crossed p-1 stages ((p-1)u), then runs its m F
    and m B (2m u); the last B walks back p-1 stages ((p-1)u) and stage 1 ends with one W (u):
        step compute + bubble = (2(p-1) + 2m + 1) u,  bubble = (p-1)(F+B) - (m-1)W = (2p-1-m) u.
    m = 1: 17u = 0.874 s of chain (the engine's 0.581 s step ran below it), bubble 14u;
    m = 2: 13u; m = 4: 11u; m = 7: 8u; m = 8 and 16: 7u, ZB-H1's (p-1)u."""
    p = 8
    res, per_mb = _pipeline("zero-bubble", m)
    u = per_mb / 3.0
    assert u == pytest.approx(0.0515, abs=0.0005)
    assert res.breakdown_s["bubble"] == pytest.approx((2 * p - 1 - min(m, p)) * u, rel=1e-9)
    # never better than the chain of one micro-batch: F through p stages, B back, one W
    assert res.step_time_s >= (2 * p + 1) * u


def test_zero_bubble_one_micro_batch_hand_figure_and_no_worse_than_1f1b():
    """m = 1: 17u + the optimizer (0.0166 s) + the step overhead (0.05 s) = 0.941 s, where 1F1B's
    8 x (F+B+W) = 24u gives 1.302 s; the old 1/3-of-1F1B rule gave 0.581 s, below the 0.874 s chain."""
    zb, per_mb = _pipeline("zero-bubble", 1)
    one_f1b, _ = _pipeline("1f1b", 1)
    opt = zb.breakdown_s["optimizer"]
    assert opt == pytest.approx(0.0166, abs=0.0005)
    assert zb.step_time_s == pytest.approx(17 * per_mb / 3 + opt + STEP_OVERHEAD_S, rel=1e-9)
    assert zb.step_time_s == pytest.approx(0.941, abs=0.002)
    assert one_f1b.step_time_s == pytest.approx(1.302, abs=0.002)
    assert zb.step_time_s < one_f1b.step_time_s


# ---- 2. ZeRO-2 without gradient overlap ---------------------------------------------------------

# Llama 3 8B at TP1 PP1: every parameter on every chip,
#   P = 32 x (41,943,040 attention + 2 x 4,096 norms + 176,160,768 MLP) + 2 x 128,256 x 4,096 (untied
#       embedding and logits) = 8,030,257,152.
# DP 64 over 8 H100 servers: the ring leaves each server on its 8 NICs, 8 x 50 GB/s x 0.8
# (train_scaleout_eff) = 320 GB/s per chip; each ring pass moves 63/64 of the buffer and costs
# 63 hops x 8 us per bucket, ceil(P / max(40e6, 64 x 1e6)) = 126 buckets.
P_8B = 32 * (41_943_040 + 2 * 4_096 + 176_160_768) + 2 * 128_256 * 4_096
BW_64 = 8 * 50e9 * 0.8
HOPS_S = 63 * 8e-6 * 126
RS_S = 63 / 64 * P_8B * 4.0 / BW_64 + HOPS_S     # fp32 gradients reduce-scattered: 0.1623 s
AG_S = 63 / 64 * P_8B * 2.0 / BW_64 + HOPS_S     # bf16 parameters all-gathered: 0.1129 s


def _dp_comm(zero: int, micro_batches: int, grad_overlap: bool) -> float:
    inp = TrainingInputs(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=64, tp=1, pp=1, dp=64,
                         micro_batch=1, zero_stage=zero, recompute="full", global_batch_seqs=64 * micro_batches,
                         grad_overlap=grad_overlap)
    return evaluate_layout(inp).breakdown_s["dp_comm"]


def test_zero2_without_grad_overlap_exposes_its_all_gather_like_zero1():
    """One micro-batch: ZeRO-1 and ZeRO-2 both reduce-scatter the gradients once and all-gather the
    updated parameters once, after the optimizer. Without grad overlap neither hides the gather:
    RS + AG = 0.1623 + 0.1129 = 0.2752 s for both (ZeRO-2 showed 0.185, its gather taken as
    prefetched like ZeRO-3's). Two micro-batches: ZeRO-2 reduce-scatters each, 2 RS + AG = 0.4375 s,
    ZeRO-1 still RS + AG."""
    assert P_8B == 8_030_257_152
    assert RS_S + AG_S == pytest.approx(0.2752, abs=1e-4)
    assert _dp_comm(1, 1, False) == pytest.approx(RS_S + AG_S, rel=1e-6)
    assert _dp_comm(2, 1, False) == pytest.approx(RS_S + AG_S, rel=1e-6)
    assert _dp_comm(1, 2, False) == pytest.approx(RS_S + AG_S, rel=1e-6)
    assert _dp_comm(2, 2, False) == pytest.approx(2 * RS_S + AG_S, rel=1e-6)


def test_zero2_with_grad_overlap_still_hides_its_gather_under_the_next_forward():
    """With grad overlap (Megatron's --overlap-param-gather rides on it) both gathers overlap: 0.8 of
    the traffic hidden (train_dp_overlap), 0.2 x 0.2752 = 0.0550 s for ZeRO-1 and ZeRO-2 alike."""
    assert _dp_comm(1, 1, True) == pytest.approx(0.2 * (RS_S + AG_S), rel=1e-6)
    assert _dp_comm(2, 1, True) == pytest.approx(0.2 * (RS_S + AG_S), rel=1e-6)


# ---- 3. the portable attention kernel on Blackwell ----------------------------------------------

def _attention_s(chip: str, **software) -> float:
    inp = TrainingInputs(model=MODELS["llama3-8b"], chip=CHIPS[chip], num_chips=8, tp=1, pp=1, dp=8, micro_batch=1,
                         zero_stage=1, recompute="none", global_batch_seqs=64, **software)
    return evaluate_layout(inp).breakdown_s["attention"]


@pytest.mark.parametrize("chip", ["b200", "gb200"])
def test_blackwell_portable_attention_issues_a_share_of_the_tcgen05_peak(chip):
    """FA2-class kernels issue mma.sync on Blackwell, not tcgen05: 0.27 of the dense peak (FA2 at
    15-16% of B200's 2,250 TFLOP/s against its 50-73% on A100; calibration_README.md). Portable
    attention is the native time / 0.27, or the unfused kernels' time where that is less (a fused
    kernel is never priced slower than what it replaces); they read the same before."""
    assert CHIPS[chip].factor("train_attn_path_rel", 1.0) == pytest.approx(0.27)
    native = _attention_s(chip, attention_kernel="native")
    portable = _attention_s(chip, attention_kernel="portable")
    unfused = _attention_s(chip, flash_attention=False)
    assert portable == pytest.approx(min(native / 0.27, unfused), rel=1e-9)
    assert portable > 2.0 * native


@pytest.mark.parametrize("chip", ["a100-sxm4-80gb", "ascend-910b2"])
def test_native_path_chips_price_both_kernels_alike(chip):
    assert _attention_s(chip, attention_kernel="portable") == _attention_s(chip, attention_kernel="native")


@pytest.mark.parametrize("chip, kernel, said", [
    ("b200", "portable", "attention kernels: portable, FlashAttention-2 class (Ampere-style mma.sync, no tcgen05 or "
                         "tensor memory), whose instructions issue 0.27 of B200's 2,250 TFLOP/s dense 16-bit peak"),
    ("gb200", "native", "attention kernels: native, cuDNN / FlashAttention-4 (tcgen05 + tensor memory)"),
    ("h100-sxm5-80gb", "portable", "issue 0.6 of H100 SXM5 80GB's 989 TFLOP/s"),
    # s32: AMD's kernels at the documented 0.5 share (no public source at FA2's A100 share of the peak)
    ("mi300x", "portable", "attention kernels: portable, CK / Triton FlashAttention on the MFMA units "
                           "(train_attn_path_rel 0.5), whose instructions issue 0.5 of Instinct MI300X's 1,307 TFLOP/s"),
    ("a100-sxm4-80gb", "native", "FlashAttention-2 (mma.sync, the chip's own tensor-core path)"),
])
def test_train_says_which_attention_kernel_it_assumes(capsys, chip, kernel, said):
    flags = ["--model", "llama3-8b", "--chip", chip, "--chips", "8", "--tp", "1", "--pp", "1", "--dp", "8",
             "--micro-batch", "1", "--recompute", "full", "--zero", "1", "--global-batch", "64",
             "--attention-kernel", kernel]
    _, out, _ = _train(capsys, *flags)
    assert said in json.loads(out)["attention_note"]
    _, text, _ = _train(capsys, *flags, fmt="table")
    assert f"note: {json.loads(out)['attention_note']}" in text


# ---- 4. the interleaving rule, a reason of its own ----------------------------------------------

GPT3_INTERLEAVED = ["--model", "gpt3-175b", "--chip", "h100-sxm5-80gb", "--chips", "1024", "--tp", "8", "--pp", "16",
                    "--vpp", "2", "--dp", "8", "--micro-batch", "1", "--zero", "1", "--global-batch", "64"]


def test_interleaving_rule_is_its_own_reason():
    """64 sequences on dp 8 x micro-batch 1 divide (8 micro-batches); 8 is not a multiple of pp 16,
    which Megatron's interleaved schedule needs. The reason said the batch did not divide."""
    assert Infeasible.INTERLEAVE.text == INTERLEAVE_REASON == REASONS[Infeasible.INTERLEAVE]
    inp = TrainingInputs(model=MODELS["gpt3-175b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=1024, tp=8, pp=16, vpp=2,
                         dp=8, micro_batch=1, zero_stage=1, recompute="full", global_batch_seqs=64)
    res = evaluate_layout(inp)
    assert res.reason == "interleaved: micro-batches not a multiple of pp"
    assert interleave_rule(res.layout) == "interleaved pipeline (vpp 2): its 8 micro-batches are not a multiple of pp 16"
    # a batch dp x micro-batch does not divide keeps the batch reason
    assert evaluate_layout(replace(inp, global_batch_seqs=60)).reason == "global batch not divisible by dp x micro-batch"
    search = search_layouts(replace(inp, recompute=None))
    assert search.infeasible_by_reason == {"interleaved: micro-batches not a multiple of pp": 3}


def test_train_reports_the_interleaving_reason(capsys):
    code, out, err = _train(capsys, *GPT3_INTERLEAVED, "--recompute", "full")
    assert code == 1
    data = json.loads(out)
    assert data["reason"] == "interleaved: micro-batches not a multiple of pp"
    assert data["infeasible_reason"].startswith("interleaved pipeline (vpp 2): its 8 micro-batches are not a "
                                                "multiple of pp 16; --vpp 2 interleaves")
    code, out, err = _train(capsys, *GPT3_INTERLEAVED)   # recompute searched
    assert code == 1
    assert json.loads(out)["infeasible_by_reason"] == {"interleaved: micro-batches not a multiple of pp": 3}
    assert "(3 layouts: interleaved: micro-batches not a multiple of pp); --vpp 2 interleaves" in err


# ---- 5. a global batch a pinned dp cannot divide ------------------------------------------------

def test_batch_a_pinned_dp_cannot_divide_names_the_numbers(capsys):
    """--dp 64 and a batch of 100: dp x the smallest micro-batch, 64 x 1, divides 100 in no layout,
    so no chip count helps; the nearest batches that divide are 64 and 128."""
    code, _, err = _train(capsys, "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "1",
                          "--pp", "1", "--dp", "64", "--global-batch", "100", fmt="table")
    assert code == 1
    assert err.rstrip().endswith("(60 layouts: global batch not divisible by dp x micro-batch); --global-batch 100 "
                                 "is not a multiple of dp 64 x micro-batch 1 = 64; e.g. 64 or 128")
    assert "chip count" not in err
    # dp fixed by --tp --pp --cp on 64 chips (dp 16), micro-batch 2: 16 x 2 = 32; 40 -> 32 or 64
    code, _, err = _train(capsys, "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "4",
                          "--pp", "1", "--cp", "1", "--micro-batch", "2", "--global-batch", "40", "--search",
                          fmt="table")
    assert code == 1
    assert "--global-batch 40 is not a multiple of dp 16 x micro-batch 2 = 32; e.g. 32 or 64" in err


def test_regenerating_the_packaged_training_calibration_keeps_the_blackwell_prior():
    """The Blackwell attention path is a family default like Hopper's: `python -m engine.calibration`
    rewrites calibration_training.csv from FAMILY_DEFAULTS, and a family with no public run (no fit)
    dropped its rows there."""
    from engine.calibration import TRAINING_BOUNDS, chip_family, training_calibration_rows
    from engine.catalog import reference_chips

    chips = reference_chips()
    rows, _ = training_calibration_rows([], chips)
    got = {(r["scope"], r["factor"]): r["value"] for r in rows}
    assert got[("b200*", "train_attn_path_rel")] == got[("gb200*", "train_attn_path_rel")] == 0.27
    assert got[("h100*", "train_attn_path_rel")] == 0.6
    assert chip_family(chips["b200"]) == chip_family(chips["gb200"]) == "blackwell"
    low, high = TRAINING_BOUNDS["train_attn_path_rel"]
    assert low < 0.27 < high   # a documented value inside its prior range, not on its bound
