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
    assert r.kv_gb_per_sequence == pytest.approx(327_680 / 8 * 2000 / 1e9)
    # TP16 > kv_heads: each chip still keeps one KV head per layer (replicated, not split further)
    r16 = _eval(tp=16, input_len=1000, output_len=1000, chip="h100-sxm5-80gb")
    assert r16.kv_gb_per_sequence == pytest.approx(2 * 80 * 128 * 2 * 2000 / 1e9)


def test_kv_bytes_mla_latent_not_split_by_tp():
    # DeepSeek-V3 MLA: 61 layers x (512 + 64) x 2 bytes = 70,272 B per token, on every TP rank
    r = _eval(model="deepseek-v3", chip="h200-sxm-141gb", tp=8, weight_dtype="fp8",
              input_len=1000, output_len=1000)
    assert r.kv_gb_per_sequence == pytest.approx(70_272 * 2000 / 1e9)
    r8 = _eval(model="deepseek-v3", chip="h200-sxm-141gb", tp=8, weight_dtype="fp8", kv_dtype="fp8",
               input_len=1000, output_len=1000)
    assert r8.kv_gb_per_sequence == pytest.approx(r.kv_gb_per_sequence / 2)


def test_max_concurrency_from_hbm_left_after_weights():
    m = MODELS["llama3-8b"]
    r = _eval(model="llama3-8b", tp=1, input_len=1000, output_len=1000, factors=IDEAL)
    weights = (m.total_params() - m.embedding_params()) * 2 + m.embedding_params() * 2
    kv_seq = 2 * 32 * 8 * 128 * 2 * 2000
    expected = math.floor((80 * GIB - weights) / kv_seq)
    assert r.max_concurrency == expected
    assert r.weights_gb_per_chip == pytest.approx(weights / 1e9)
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
        busy = max(bd["weights_ms"] + bd["kv_ms"], bd["compute_ms"])
        assert bd["total_ms"] == pytest.approx(busy + bd["comm_ms"] + bd["overhead_ms"])
        assert r.decode_step_ms == pytest.approx(bd["total_ms"])
        pb = r.prefill_breakdown_ms
        assert pb["total_ms"] == pytest.approx(max(pb["compute_ms"], pb["weights_ms"]) + pb["comm_ms"] + pb["overhead_ms"])


def test_overhead_grows_with_tp():
    steps = [_eval(tp=t).decode_breakdown_ms["overhead_ms"] for t in (2, 4, 8)]
    assert steps[0] < steps[1] < steps[2]


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


def test_dtype_errors_name_the_chip():
    with pytest.raises(UserError, match="weight dtype fp8: Ascend 910B2 has no FP8 support"):
        _eval(chip="ascend-910b2", weight_dtype="fp8")
    with pytest.raises(UserError, match="kv dtype fp8"):
        _eval(chip="a100-sxm4-80gb", kv_dtype="fp8")
    with pytest.raises(UserError, match="weight dtype"):
        _eval(weight_dtype="fp4")


def test_int4_weights_halve_weight_memory_vs_int8():
    a = _eval(weight_dtype="int8")
    b = _eval(weight_dtype="int4")
    assert b.weights_gb_per_chip < a.weights_gb_per_chip
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


def test_engine_version_factor_overrides_family():
    from engine.inference import resolve_factors

    chip = CHIPS["h100-sxm5-80gb"].with_calibration(**{"inf_ttft_sync@trtllm": 0.1,
                                                        "inf_ttft_sync@trtllm@9.9": 0.7})
    assert resolve_factors(chip, "trtllm@9.9")["inf_ttft_sync"] == 0.7
    assert resolve_factors(chip, "trtllm@1.0")["inf_ttft_sync"] == 0.1   # unlisted version: family
    assert resolve_factors(chip, "trtllm")["inf_ttft_sync"] == 0.1
    assert resolve_factors(chip, "TRTLLM@9.9", {"inf_ttft_sync@trtllm@9.9": 0.3})["inf_ttft_sync"] == 0.3


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
