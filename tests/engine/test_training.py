"""Single-layout step time and memory: hand-derived figures and properties."""

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.training import (BREAKDOWN_KEYS, GIB, TrainingInputs, evaluate_layout, evaluate_layouts,
                             estimate_run)

CHIPS = reference_chips()
MODELS = reference_models()


def inputs(**kw):
    base = dict(model=MODELS["llama3-70b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=64, global_batch_seqs=128,
                tp=8, pp=2, dp=4, cp=1, vpp=1, micro_batch=1, zero_stage=1, recompute="selective")
    base.update(kw)
    return TrainingInputs(**base)


# Korthikanti et al. 2022, Table 2 / Eq. (sequence + tensor parallel): activation bytes per layer
# s*b*h*(34/t + 5*a*s/(h*t)) without recompute, s*b*h*34/t with selective recompute.
KORTHIKANTI = [  # (name, layers, hidden, heads, tp)
    ("22B", 48, 6144, 64, 8), ("175B", 96, 12288, 96, 8), ("530B", 105, 20480, 128, 8), ("1T", 128, 25600, 160, 8),
]


@pytest.mark.parametrize("name,layers,hidden,heads,tp", KORTHIKANTI)
@pytest.mark.parametrize("recompute", ["none", "selective"])
def test_activation_memory_matches_korthikanti(name, layers, hidden, heads, tp, recompute):
    from engine.models import ModelConfig

    m = ModelConfig(id=name, name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=heads,
                    ffn_hidden=4 * hidden, vocab=51200, seq_len=2048, gated_ffn=False)
    inp = TrainingInputs(model=m, chip=CHIPS["a100-sxm4-80gb"], num_chips=tp, global_batch_seqs=1, tp=tp, pp=1,
                         dp=1, cp=1, micro_batch=1, zero_stage=0, recompute=recompute,
                         flash_attention=False, dropout=True)
    got = evaluate_layout(inp).memory_breakdown_gib["activations"] * GIB
    s, b, h, a = 2048, 1, hidden, heads
    per_layer = s * b * h * (34 / tp + (5 * a * s / (h * tp) if recompute == "none" else 0))
    assert got == pytest.approx(layers * per_layer, rel=0.05)


def test_full_recompute_keeps_only_layer_inputs():
    r_sel = evaluate_layout(inputs(recompute="selective"))
    r_full = evaluate_layout(inputs(recompute="full"))
    assert r_full.memory_breakdown_gib["activations"] < 0.25 * r_sel.memory_breakdown_gib["activations"]
    assert r_full.step_time_s > r_sel.step_time_s
    assert r_full.hfu_pct > r_full.mfu_pct


def test_breakdown_sums_to_step_time_and_is_finite():
    for kw in (dict(), dict(recompute="full"), dict(tp=4, pp=4, vpp=2, dp=4), dict(cp=2, dp=2),
               dict(zero_stage=3, tp=1, pp=1, dp=64), dict(dtype="fp8")):
        r = evaluate_layout(inputs(**kw))
        assert set(r.breakdown_s) == set(BREAKDOWN_KEYS)
        assert sum(r.breakdown_s.values()) == pytest.approx(r.step_time_s, rel=1e-9)
        assert all(math.isfinite(v) and v >= 0 for v in r.breakdown_s.values())
        assert all(math.isfinite(v) and v >= 0 for v in r.memory_breakdown_gib.values())


def test_each_breakdown_term_appears_when_its_parallelism_does():
    r = evaluate_layout(inputs(tp=8, pp=2, dp=2, cp=2, recompute="full"))
    for key in ("gemm", "attention", "memory_bound", "recompute", "overhead", "tp_comm", "pp_comm", "bubble",
                "dp_comm", "optimizer"):
        assert r.breakdown_s[key] > 0, key
    plain = evaluate_layout(inputs(tp=1, pp=1, dp=64, recompute="none", zero_stage=3))
    for key in ("tp_comm", "pp_comm", "bubble", "cp_comm", "ep_comm", "recompute"):
        assert plain.breakdown_s[key] == 0, key
    moe = TrainingInputs(model=MODELS["mixtral-8x7b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=64,
                         global_batch_seqs=256, tp=2, pp=1, dp=32, cp=1, ep=8, micro_batch=1, zero_stage=1,
                         recompute="selective")
    assert evaluate_layout(moe).breakdown_s["ep_comm"] > 0


def test_bubble_follows_pipeline_formula():
    # bubble = (pp - 1) / vpp x time of one micro-batch through a stage
    r = evaluate_layout(inputs(tp=8, pp=4, dp=2, vpp=1, global_batch_seqs=64))
    per_mb_work = sum(v for k, v in r.breakdown_s.items() if k not in ("bubble", "dp_comm", "optimizer"))
    per_mb_work -= 0.05  # the per-step overhead inside "overhead"
    m = 64 / 2
    assert r.breakdown_s["bubble"] == pytest.approx(3 / 1 * per_mb_work / m, rel=0.02)
    r2 = evaluate_layout(inputs(tp=8, pp=4, dp=2, vpp=2, global_batch_seqs=64))
    assert r2.breakdown_s["bubble"] < 0.6 * r.breakdown_s["bubble"]


def _scaled(chip, **fields):
    return replace(chip, **{k: getattr(chip, k) * v for k, v in fields.items()})


@pytest.mark.parametrize("field", ["bf16_tflops", "hbm_gbps", "scaleup_gbps", "scaleout_gbps"])
def test_more_flops_or_bandwidth_is_never_slower(field):
    rng = np.random.default_rng(1)
    chip = CHIPS["h100-sxm5-80gb"]
    layouts = []
    for _ in range(40):
        tp = int(rng.choice([1, 2, 4, 8, 16]))
        pp = int(rng.choice([1, 2, 4]))
        cp = int(rng.choice([1, 2]))
        dp = 128 // (tp * pp * cp)
        layouts.append(dict(tp=tp, pp=pp, vpp=1, dp=dp, cp=cp, ep=1, mb=1, zero=int(rng.integers(0, 4)),
                            rc=int(rng.integers(0, 3)), gb=dp * 8))
    base = evaluate_layouts(inputs(num_chips=128), layouts)
    fast = evaluate_layouts(replace(inputs(num_chips=128), chip=_scaled(chip, **{field: 1.5})), layouts)
    for b, f in zip(base, fast):
        assert f.step_time_s <= b.step_time_s * (1 + 1e-12)


def test_tp_not_dividing_heads_is_infeasible_with_reason():
    r = evaluate_layout(inputs(tp=16, pp=1, dp=4, model=MODELS["llama3-8b"]))  # 8 KV heads, tp 16 ok
    assert r.reason != "tp does not divide heads"
    m = replace(MODELS["llama3-8b"], heads=24, kv_heads=8, head_dim=128)
    r = evaluate_layout(inputs(model=m, tp=16, pp=1, dp=4))
    assert not r.feasible and r.reason == "tp does not divide heads"


def test_out_of_memory_reason_and_capacity():
    r = evaluate_layout(inputs(model=MODELS["llama3-405b"], tp=1, pp=1, dp=64, zero_stage=0))
    assert not r.feasible and r.reason == "out of memory"
    assert r.memory_gib_per_chip > r.memory_capacity_gib


def test_zero_stages_shrink_memory_in_order():
    mem = [evaluate_layout(inputs(zero_stage=z)).memory_gib_per_chip for z in range(4)]
    assert mem[0] > mem[1] > mem[2] > mem[3]


def test_fp8_is_faster_than_bf16_on_h100_and_rejected_on_a100():
    assert evaluate_layout(inputs(dtype="fp8")).step_time_s < evaluate_layout(inputs()).step_time_s
    r = evaluate_layout(inputs(dtype="fp8", chip=CHIPS["a100-sxm4-80gb"]))
    assert not r.feasible and "fp8" in r.reason


def test_mfu_uses_model_flops_over_16bit_peak():
    from engine.models import training_flops_per_token

    r = evaluate_layout(inputs())
    expected = r.tokens_per_s_per_chip * training_flops_per_token(MODELS["llama3-70b"], 8192) / 989.4e12 * 100
    assert r.mfu_pct == pytest.approx(expected)
    assert r.tokens_per_s_per_chip == pytest.approx(128 * 8192 / r.step_time_s / 64)


def test_estimate_run_whole_run_figures():
    chip = CHIPS["h100-sxm5-80gb"]
    est = estimate_run(15e12, 400.0, 16384, chip, params=405e9, price_per_chip_hour_usd=2.0)
    steady_days = 15e12 / (400 * 16384) / 86400
    assert est.steady_days == pytest.approx(steady_days)
    assert est.time_to_train_days == pytest.approx(steady_days / est.goodput)
    assert 0.85 < est.goodput < 0.97
    assert est.chip_hours == pytest.approx(est.time_to_train_days * 24 * 16384)
    assert est.cost_usd == pytest.approx(est.chip_hours * 2.0)
    assert est.energy_mwh == pytest.approx(est.chip_hours * 700 * 0.8 * 1.2 / 1e6)


@pytest.mark.parametrize("name,layers,hidden,heads,tp", KORTHIKANTI[:2])
def test_activation_memory_without_sequence_parallel_matches_korthikanti(name, layers, hidden, heads, tp):
    # Korthikanti et al. 2022, Eq. (tensor parallel only): s*b*h*(10 + 24/t + 5*a*s/(h*t))
    from engine.models import ModelConfig

    m = ModelConfig(id=name, name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=heads,
                    ffn_hidden=4 * hidden, vocab=51200, seq_len=2048, gated_ffn=False)
    inp = TrainingInputs(model=m, chip=CHIPS["a100-sxm4-80gb"], num_chips=tp, global_batch_seqs=1, tp=tp, pp=1,
                         dp=1, cp=1, micro_batch=1, zero_stage=0, recompute="none",
                         flash_attention=False, dropout=True, sequence_parallel=False)
    got = evaluate_layout(inp).memory_breakdown_gib["activations"] * GIB
    s, h, a = 2048, hidden, heads
    assert got == pytest.approx(layers * s * h * (10 + 24 / tp + 5 * a * s / (h * tp)), rel=0.05)
    # and the replicated norms/dropout make the step slower than with sequence parallelism
    assert evaluate_layout(inp).step_time_s > evaluate_layout(replace(inp, sequence_parallel=True)).step_time_s


def test_fp8_stores_gemm_inputs_in_one_byte():
    bf16 = evaluate_layout(inputs(recompute="none"))
    fp8 = evaluate_layout(inputs(recompute="none", dtype="fp8"))
    assert fp8.memory_breakdown_gib["activations"] < 0.9 * bf16.memory_breakdown_gib["activations"]


def test_expert_states_shard_over_the_expert_data_parallel_group():
    # Mixtral on 64 chips, ep=8: expert weights are replicated over dp/ep = 8 ranks, so ZeRO-3
    # divides them by 8, not by 64; dense (attention) weights by 64
    m = MODELS["mixtral-8x7b"]
    base = dict(model=m, chip=CHIPS["h100-sxm5-80gb"], num_chips=64, global_batch_seqs=128, tp=1, pp=1, dp=64,
                cp=1, ep=8, micro_batch=1, recompute="full", zero_stage=3)
    mem = evaluate_layout(TrainingInputs(**base)).memory_breakdown_gib
    expert = m.moe_layers * m.moe_experts * m.expert_params() / 8
    other = m.total_params() - m.moe_layers * m.moe_experts * m.expert_params()
    # fully sharded: fp32 master + two Adam moments (12 bytes) and fp32 gradients (4), no
    # persistent 16-bit copy (layers are gathered on use)
    assert mem["weights"] == 0.0
    assert mem["optimizer"] * GIB == pytest.approx(12.0 * (expert / 8 + other / 64), rel=0.05)
    assert mem["gradients"] * GIB == pytest.approx(4.0 * (expert / 8 + other / 64), rel=0.05)


def test_default_global_batch_stays_realistic_on_a_large_fleet():
    """Regression (issue 14): with 30,000 chips the search once picked TP1 PP1 DP30000 and a
    30,000-sequence (246M-token) global batch while "auto" promised about 4M tokens."""
    from engine.training import MAX_BATCH_GROWTH, search_layouts

    chip = reference_chips()["ascend-910b2"]
    model = reference_models()["llama3-70b"]
    inp = TrainingInputs(model=model, chip=chip, num_chips=30_000)
    target = inp.batch_seqs()
    assert target * inp.seq <= 40e6  # max(4M tokens, 1K tokens per chip), a power of two: 4,096 x 8,192
    result = search_layouts(inp, top_k=5)
    assert result.best is not None
    for r in result.top:
        batch = r.layout["global_batch_seqs"]
        assert batch <= MAX_BATCH_GROWTH * target, r.layout
        assert batch % (r.layout["dp"] * r.layout["micro_batch"]) == 0
        assert r.layout["dp"] <= batch
    # A user-set batch is kept exactly.
    fixed = search_layouts(TrainingInputs(model=model, chip=chip, num_chips=30_000, global_batch_seqs=2_000), top_k=3)
    assert all(r.layout["global_batch_seqs"] == 2_000 for r in fixed.top)
