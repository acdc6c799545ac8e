"""The continuous-batching simulator and its cost model: hand-checkable cases and properties."""

import math

import numpy as np
import pytest

from engine import inference as inf
from engine.catalog import reference_chips, reference_models
from engine.errors import UserError
from engine.inference import ServingInputs, evaluate_serving
from engine.serving.cost_model import build_cost_model
from engine.serving.families import FAMILIES, SCHEDULERS, engine_family, scheduler_for
from engine.serving.simulator import Workload, draw_lengths, percentiles, simulate

CHIPS = reference_chips()
MODELS = reference_models()


def _cm(model="llama3-70b", chip="h200-sxm-141gb", tp=1, ep=1, wdt="fp8", kdt="fp8", engine=""):
    return build_cost_model(MODELS[model], CHIPS[chip], tp=tp, ep=ep, weight_dtype=wdt, kv_dtype=kdt, engine=engine)


# ---- cost model ------------------------------------------------------------------------------------

@pytest.mark.parametrize("model,chip,tp,ep,wdt", [
    ("llama3-70b", "h100-sxm5-80gb", 8, 1, "bf16"),
    ("llama3-8b", "ascend-910b2", 1, 1, "bf16"),
    ("deepseek-v3", "h200-sxm-141gb", 1, 8, "fp8"),    # MoE, data-parallel attention
    ("qwen3-235b-a22b", "h200-sxm-141gb", 4, 4, "fp8"),
])
def test_cost_model_equals_the_roofline_step_functions(model, chip, tp, ep, wdt):
    """A pure decode step and a pure prefill step cost exactly what engine.inference says."""
    m, c = MODELS[model], CHIPS[chip]
    cm = build_cost_model(m, c, tp=tp, ep=ep, weight_dtype=wdt, kv_dtype=wdt)
    dep = inf._deployment(inf.model_shape(m), inf._hw_arrays([c], wdt, "", None), tp, ep, 1, wdt, wdt)
    for batch, ctx in ((1, 500), (32, 3000), (256, 1500)):
        ref = float(inf._decode_step(dep, batch, ctx)["total_s"][0])
        assert cm.step_s(batch, batch * ctx) == pytest.approx(ref, rel=1e-9)
        assert cm.decode_run_s(batch, np.array([batch * ctx]))[0] == pytest.approx(ref, rel=1e-9)
    for prompt in (64, 2048):
        ref = float(inf._prefill(dep, 1.0, prompt)["total_s"][0])
        got = cm.step_s(0, 0.0, prompt, 1, cm.chunk_attn_flops(0, prompt), prompt)
        assert got == pytest.approx(ref, rel=1e-9)


def test_mixed_step_reads_weights_once():
    cm = _cm()
    dec = cm.step_s(32, 32 * 2000)
    pf = cm.step_s(0, 0.0, 512, 1, cm.chunk_attn_flops(0, 512), 512)
    mixed = cm.step_s(32, 32 * 2000, 512, 1, cm.chunk_attn_flops(0, 512), 512)
    assert max(dec, pf) <= mixed < dec + pf


def test_chunk_attention_is_causal_and_additive():
    cm = _cm()
    whole = cm.chunk_attn_flops(0, 4096)
    parts = cm.chunk_attn_flops(0, 1024) + cm.chunk_attn_flops(1024, 1024) + cm.chunk_attn_flops(2048, 2048)
    assert parts == pytest.approx(whole)


# ---- families ------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine,family", [
    ("trtllm@1.0.0rc3", "trtllm"), ("trtllm@1.1.0rc2.post2", "trtllm"), ("TRTLLM", "trtllm"),
    ("fastertransformer", "trtllm"), ("vllm@0.12.0", "vllm"), ("sglang@0.5.7", "sglang"),
    ("vllm-ascend@0.9.1", "vllm-ascend"), ("mindie@2.1rc1", "mindie"), ("tgi-gaudi@synapseai-1.14", "tgi"),
    ("unknown", "generic"), ("some-new-stack@3", "generic"), ("", "vllm"), (None, "vllm"),
])
def test_engine_string_maps_to_a_family(engine, family):
    assert engine_family(engine) == family
    assert scheduler_for(engine) is SCHEDULERS[family]


def test_every_family_has_documented_scheduler_defaults():
    import engine.serving.families as fam

    for name in FAMILIES:
        s = SCHEDULERS[name]
        assert s.max_num_seqs >= 1 and s.max_num_batched_tokens >= 512 and s.block_size >= 1
        assert f"| {name} |" in fam.__doc__


# ---- simulator: hand-checked cases -------------------------------------------------------------------

def test_single_request_ttft_is_its_prefill_plus_one_step_overhead():
    """Concurrency 1: the first token leaves with the step that computes the prompt. The old
    closed form added 15-36 decode steps (`inf_ttft_wait_steps`) to every first token."""
    inp = ServingInputs(model=MODELS["llama3-70b"], chip=CHIPS["h100-sxm5-80gb"], tp=8, input_len=2000,
                        output_len=200, scenario="concurrency", concurrency=1, engine="trtllm", requests=8)
    res = evaluate_serving(inp)
    assert res.ttft_ms == pytest.approx(res.prefill_ms, rel=0.05)
    assert res.ttft_ms < res.prefill_ms + 2 * res.decode_step_ms


def test_static_cohort_has_hand_derived_ttft_and_e2e():
    """Offline, 4 equal requests that fit at once (vLLM: mixed chunked steps): one prefill step of
    all four prompts, then 9 decode steps of 4 sequences."""
    cm = _cm(model="llama3-8b", chip="h100-sxm5-80gb", wdt="bf16", kdt="bf16")
    res = simulate(cm, scheduler_for("vllm"), Workload("offline", 1000, 10, requests=4))
    pf = cm.step_s(0, 0.0, 4000, 4, 4 * cm.chunk_attn_flops(0, 1000), 1000)
    decode = sum(cm.step_s(4, 4 * (1001 + j)) for j in range(9))
    assert np.allclose(res.ttft_s, pf)
    assert np.allclose(res.e2e_s, pf + decode)
    assert np.allclose(res.tpot_s, decode / 9)
    assert res.preemptions == 0


def test_every_request_finishes_and_tokens_are_conserved():
    cm = _cm()
    w = Workload("poisson", 800, 200, requests=300, request_rate=4.0, input_spread=0.6, output_spread=0.6, seed=3)
    res = simulate(cm, scheduler_for("vllm"), w)
    assert np.isfinite(res.e2e_s).all() and np.isfinite(res.ttft_s).all()
    assert (res.e2e_s >= res.ttft_s).all() and (res.queue_s >= 0).all()
    assert (res.ttft_s >= res.queue_s).all()
    assert res.output_lens.sum() > 0 and res.makespan_s > 0


def test_kv_pressure_preempts_on_demand_but_never_under_reservation():
    cm = _cm()  # 70B fp8 on one H200: ~350k KV tokens
    w = Workload("closed", 1000, 8000, requests=128, concurrency=64)
    ondemand = simulate(cm, scheduler_for("vllm"), w)
    reserved = simulate(cm, scheduler_for("trtllm"), w)
    assert ondemand.preemptions > 0
    assert reserved.preemptions == 0
    assert reserved.kv_used_frac.max() <= 1.0 + 1e-12 and ondemand.kv_used_frac.max() <= 1.0 + 1e-12
    # reservation admits fewer at once, so its requests queue longer
    assert np.mean(reserved.queue_s) > np.mean(ondemand.queue_s)


def test_seventy_b_at_concurrency_64_with_8k_outputs_does_not_wait_for_whole_requests():
    """Regression (issue 12): the closed form predicted 624 s of TTFT here, as if each request
    waited for whole earlier requests; simulated with paged KV it stays in seconds."""
    inp = ServingInputs(model=MODELS["llama3-70b"], chip=CHIPS["h200-sxm-141gb"], tp=1, input_len=1000,
                        output_len=8000, scenario="concurrency", concurrency=64, weight_dtype="fp8",
                        kv_dtype="fp8", engine="vllm", requests=128)
    res = evaluate_serving(inp)
    assert res.ttft_ms_p50 < 60_000


def test_prefix_cache_hits_shorten_ttft():
    cm = _cm()
    base = Workload("poisson", 4000, 100, requests=200, request_rate=1.0, seed=1)
    cold = simulate(cm, scheduler_for("vllm"), base)
    from dataclasses import replace

    warm = simulate(cm, scheduler_for("vllm"), replace(base, prefix_cache_hit=0.75))
    assert np.mean(warm.ttft_s) < 0.5 * np.mean(cold.ttft_s)


def test_lengths_have_the_requested_mean_and_spread():
    rng = np.random.default_rng(0)
    x = draw_lengths(222, 0.9, 20000, rng)
    assert x.min() >= 1
    assert x.mean() == pytest.approx(222, rel=0.03)
    assert x.std() / x.mean() == pytest.approx(0.9, rel=0.1)
    assert (draw_lengths(100, 0.0, 5, rng) == 100).all()


@pytest.mark.parametrize("field,value", [("mode", "burst"), ("requests", 0), ("concurrency", 0),
                                         ("request_rate", -1.0), ("input_len", 0), ("output_spread", -0.1),
                                         ("prefix_cache_hit", 1.0)])
def test_bad_workloads_are_user_errors_naming_the_field(field, value):
    from dataclasses import replace

    mode = "closed" if field == "concurrency" else ("poisson" if field == "request_rate" else "offline")
    w = replace(Workload(mode, 100, 10, requests=4, concurrency=2, request_rate=1.0), **{field: value})
    with pytest.raises(UserError) as err:
        simulate(_cm(), scheduler_for("vllm"), w)
    assert field.split("_")[0] in str(err.value) or "arrivals" in str(err.value)


def test_request_larger_than_the_kv_cache_is_a_user_error():
    with pytest.raises(UserError, match="KV"):
        simulate(_cm(), scheduler_for("vllm"), Workload("offline", 2_000_000, 10, requests=1))


# ---- properties under load ---------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["vllm", "sglang", "trtllm"])
def test_latency_never_falls_as_load_rises_and_throughput_saturates(family):
    cm = _cm(model="llama3-8b", chip="h100-sxm5-80gb", wdt="bf16", kdt="bf16")
    sched = scheduler_for(family)
    offline = simulate(cm, sched, Workload("offline", 1000, 200, requests=600))
    sat = 600 / offline.makespan_s
    rates = sat * np.array([0.1, 0.3, 0.6, 0.9, 1.5, 3.0])
    ttft90, tpot50, out = [], [], []
    for r in rates:
        res = simulate(cm, sched, Workload("poisson", 1000, 200, requests=600, request_rate=float(r), seed=7))
        p_t, p_o = percentiles(res.ttft_s), percentiles(res.tpot_s)
        assert p_t["p50"] <= p_t["p90"] <= p_t["p99"]
        assert p_o["p50"] <= p_o["p90"] <= p_o["p99"]
        ttft90.append(p_t["p90"])
        tpot50.append(p_o["p50"])
        out.append(res.output_tokens_per_s)
    assert all(b >= a * 0.98 for a, b in zip(ttft90, ttft90[1:])), ttft90
    # TPOT rises up to saturation; beyond it a prefill-first scheduler (SGLang) admits fewer
    # prompts per decode step once the KV cache is full, so TPOT may ease while TTFT explodes
    assert all(b >= a * 0.98 for a, b in zip(tpot50[:4], tpot50[1:4])), tpot50
    # below saturation the server keeps up with the offered load; beyond it throughput levels off
    assert out[1] == pytest.approx(rates[1] * 200, rel=0.15)
    assert out[-1] <= offline.output_tokens_per_s * 1.1
    assert out[-1] == pytest.approx(out[-2], rel=0.15)


def test_closed_loop_throughput_grows_then_saturates_with_concurrency():
    inp = dict(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], tp=1, input_len=1000, output_len=200,
               scenario="concurrency", engine="vllm")
    out, tpot = [], []
    for c in (1, 8, 64, 512, 2048):
        res = evaluate_serving(ServingInputs(concurrency=c, requests=max(4 * c, 32), **inp))
        out.append(res.output_tokens_per_s_per_chip)
        tpot.append(res.tpot_ms)
    assert all(b >= a * 0.98 for a, b in zip(out, out[1:]))
    assert all(b >= a * 0.98 for a, b in zip(tpot, tpot[1:]))
    assert out[-1] == pytest.approx(out[-2], rel=0.2)   # saturated: the engine's batch cap binds
    assert math.isfinite(out[-1])


# ---- disaggregated prefill / decode ------------------------------------------------------------------

def test_disaggregated_prefill_keeps_decode_steps_free_of_prompts():
    """Long prompts interleaved with decode raise TPOT on a single pool; with prompts on their own
    instances the decode steps are pure, so TPOT falls, while TTFT pays the KV transfer."""
    from engine.serving.capacity import kv_transfer_s_per_token, simulate_disaggregated, simulate_scenario

    inp = ServingInputs(model=MODELS["llama3-70b"], chip=CHIPS["h100-sxm5-80gb"], tp=8, input_len=4000,
                        output_len=200, scenario="server", request_rate=2.0, weight_dtype="fp8", kv_dtype="fp8",
                        engine="vllm")
    mixed = simulate_scenario(inp, requests=300, seed=2)
    split = simulate_disaggregated(inp, prefill_tp=8, prefill_instances=1, requests=300, seed=2)
    assert split.tpot_ms["p90"] < mixed.tpot_ms["p90"]
    assert split.chips_per_replica == 16
    # every TTFT includes at least one prefill and the KV transfer of its prompt
    per_tok = kv_transfer_s_per_token(MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"], tp=8, kv_dtype="fp8")
    assert per_tok > 0
    assert np.nanmin(split.sim.ttft_s) > 0
    assert np.isfinite(split.sim.e2e_s).all()
    assert (split.sim.e2e_s >= split.sim.ttft_s + 4000 * per_tok - 1e-12).all()


def test_disaggregated_closed_loop_is_a_user_error():
    from engine.serving.capacity import simulate_disaggregated

    inp = ServingInputs(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], input_len=100, output_len=10,
                        scenario="concurrency", concurrency=4)
    with pytest.raises(UserError, match="disaggregated"):
        simulate_disaggregated(inp, prefill_tp=1)


# ---- precisions and chips ------------------------------------------------------------------------------

def test_fp4_weights_on_b200_halve_the_weight_reads_and_use_the_fp4_rate():
    b200 = CHIPS["b200"]
    assert b200.fp4_tflops == 9000 and b200.peak_tflops("fp4") == 9000
    fp8 = build_cost_model(MODELS["llama3-70b"], b200, tp=1, weight_dtype="fp8", kv_dtype="fp8")
    fp4 = build_cost_model(MODELS["llama3-70b"], b200, tp=1, weight_dtype="fp4", kv_dtype="fp8")
    # weights: non-expert matrices at 0.5 byte (embeddings and head stay 16-bit)
    assert 0.5 < fp4.weights_s / fp8.weights_s < 0.56
    assert fp4.peak_flops == pytest.approx(2 * fp8.peak_flops)
    assert fp4.kv_capacity_tokens > fp8.kv_capacity_tokens       # more HBM left for KV
    assert 0 < fp4.step_s(1, 1000) < fp8.step_s(1, 1000)     # batch-1 decode reads half the bytes


def test_fp4_without_an_fp4_rate_and_fp4_kv_are_user_errors():
    with pytest.raises(UserError, match="fp4"):
        inf.check_dtypes(CHIPS["h100-sxm5-80gb"], "fp4", "fp8")
    with pytest.raises(UserError, match="kv dtype"):
        inf.check_dtypes(CHIPS["b200"], "fp4", "fp4")


def test_fp8_kv_doubles_the_sequences_that_fit():
    bf16 = _cm(wdt="fp8", kdt="bf16")
    fp8 = _cm(wdt="fp8", kdt="fp8")
    assert fp8.kv_capacity_tokens == pytest.approx(2 * bf16.kv_capacity_tokens, rel=1e-6)
    assert fp8.kv_s_per_token == pytest.approx(bf16.kv_s_per_token / 2)


def test_mi300x_runs_through_the_same_model():
    """AMD MI300X (192 GB, 5.3 TB/s, FP8): a 70B FP8 model fits on one chip with room for KV."""
    inp = ServingInputs(model=MODELS["llama3-70b"], chip=CHIPS["mi300x"], tp=1, input_len=1000, output_len=200,
                        scenario="server", request_rate=1.0, weight_dtype="fp8", kv_dtype="fp8", requests=400)
    res = evaluate_serving(inp)
    assert res.feasible and res.max_concurrency > 100
    assert res.output_tokens_per_s_per_chip == pytest.approx(200.0, rel=0.15)   # keeps up with 1 req/s
    h200 = evaluate_serving(ServingInputs(**{**inp.__dict__, "chip": CHIPS["h200-sxm-141gb"]}))
    assert res.tpot_ms < h200.tpot_ms        # 5.3 vs 4.8 TB/s of HBM, same calibrated efficiencies
    assert res.max_concurrency > h200.max_concurrency   # 192 vs 141 GB


def test_closed_loop_latencies_count_every_request_from_its_own_arrival():
    """Regression: a later client request's arrival is set when the previous one finishes; every
    request's TTFT and e2e must be finite and measured from that arrival, not from t=0."""
    cm = _cm(model="llama3-8b", chip="h100-sxm5-80gb", wdt="bf16", kdt="bf16")
    res = simulate(cm, scheduler_for("vllm"), Workload("closed", 500, 50, requests=64, concurrency=4))
    assert np.isfinite(res.ttft_s).all() and np.isfinite(res.e2e_s).all()
    assert res.e2e_s.max() < 0.5 * res.makespan_s   # no request waited for the whole run


def test_serving_collectives_use_the_topology_tiers():
    """A TP2 group on the 910B's HCCS full mesh gets one link, on an NVSwitch the chip's full rate
    (engine/topology.py), so the same all-reduce costs more per token on the mesh."""
    from engine.topology import topology_of

    def tp_bps(chip_id, tp):
        chip = CHIPS[chip_id]
        dep = inf._deployment(inf.model_shape(MODELS["llama3-70b"]), inf._hw_arrays([chip], "bf16", "", None),
                              tp, 1, 1, "bf16", "bf16")
        return float(np.asarray(dep.scaleup_tp_bps).reshape(-1)[0])

    mesh = topology_of(CHIPS["ascend-910b2"])
    assert mesh.kind == "mesh"
    assert tp_bps("ascend-910b2", 2) == pytest.approx(mesh.link_gbps * 1e9)
    assert tp_bps("ascend-910b2", 8) == pytest.approx(min(7, mesh.links) * mesh.link_gbps * 1e9)
    assert tp_bps("h100-sxm5-80gb", 2) == pytest.approx(CHIPS["h100-sxm5-80gb"].scaleup_gbps * 1e9)
    m910 = build_cost_model(MODELS["llama3-70b"], CHIPS["ascend-910b2"], tp=2, weight_dtype="bf16", kv_dtype="bf16")
    assert m910.tp_comm_s_per_token > 0
