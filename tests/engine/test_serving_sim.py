"""The continuous-batching simulator and its cost model: hand-checkable cases and properties."""

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import inference as inf
from engine.catalog import reference_chips, reference_models
from engine.errors import UserError
from engine.inference import ServingInputs, evaluate_serving
from engine.serving.cost_model import build_cost_model
from engine.serving.families import FAMILIES, SCHEDULERS, engine_family, scheduler_for
from engine.serving.simulator import PrefillPool, Workload, draw_lengths, percentiles, simulate

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


def test_a_pipelined_step_charges_each_stage_its_share_of_the_prompt():
    """A step of a pp-stage instance is a round of pp micro-batches; the prompt rides in one and
    each stage runs its 1/pp of the layers on it once. By hand: the step grows by the whole
    model's prefill compute / pp (+ its TP/EP traffic, none at TP1). It grew by the whole prefill,
    so PP8 served Llama 3 70B with 1K prompts at a fifth of TP8's rate."""
    model, chip = MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"]
    prompt = 2048
    for pp in (1, 2, 4, 8):
        cm = build_cost_model(model, chip, tp=1, pp=pp)
        flops = cm.chunk_attn_flops(0, prompt)
        prefill_s, _ = cm.prefill_compute_s(prompt, 1, flops, prompt)
        base = cm.step_s(64, 64 * 1024)
        mixed = cm.step_s(64, 64 * 1024, prefill_tokens=prompt, prefill_seqs=1, prefill_attn_flops=flops,
                          largest_chunk=prompt)
        # compute-bound with the prompt: the stage that holds it gains prefill_s / pp (less the
        # decode GEMMs' memory-bound slack it fills)
        assert prefill_s / pp * 0.85 <= mixed - base <= prefill_s / pp * 1.001, pp


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
    ("TensorRT LLM@0.9", "trtllm"), ("tensorrt_llm", "trtllm"), ("vLLM Ascend", "vllm-ascend"),
    (" SGLang ", "sglang"), ("vllm-gaudi@1.21", "vllm"), ("@1.0", "vllm"),
    ("LMDeploy@0.6", "vllm"), ("lmdeploy-turbomind", "vllm"), ("DeepSpeed-FastGen", "vllm"), ("lightllm", "sglang"),
    ("Triton TRT-LLM", "trtllm"), ("NVIDIA NIM@1.3", "trtllm"), ("MindIE Service", "mindie"),
    ("llama.cpp", "generic"), ("transformers", "generic"),
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


def _assert_same_as_reference(fast, ref):
    """Every request's figures equal to float noise; counts exactly; the fast run's KV points
    (one per run of steps) are points of the reference's per-step series."""
    for key in ("ttft_s", "tpot_s", "e2e_s", "queue_s"):
        np.testing.assert_allclose(getattr(fast, key), ref[key], rtol=1e-9, atol=1e-12, err_msg=key)
        a, b = percentiles(getattr(fast, key)), percentiles(ref[key])
        for p in a:
            assert a[p] == pytest.approx(b[p], rel=1e-9, abs=1e-12, nan_ok=True), (key, p)
    for key in ("output_tokens_per_s", "makespan_s", "mean_running", "mean_decode_step_s"):
        assert getattr(fast, key) == pytest.approx(ref[key], rel=1e-9, nan_ok=True), key
    assert (fast.steps, fast.preemptions) == (ref["steps"], ref["preemptions"])
    assert len(ref["kv_time_s"]) == ref["steps"] + 1
    at = np.minimum(np.searchsorted(ref["kv_time_s"], fast.kv_time_s * (1 - 1e-12)), len(ref["kv_time_s"]) - 1)
    np.testing.assert_allclose(ref["kv_time_s"][at], fast.kv_time_s, rtol=1e-9)
    np.testing.assert_allclose(ref["kv_used_frac"][at], fast.kv_used_frac, rtol=1e-12)


def _small_kv(cm, tokens):
    return replace(cm, kv_capacity_tokens=float(tokens))


REFERENCE_CASES = {
    "vllm Poisson, spread lengths": ("vllm", lambda: _cm(), Workload(
        "poisson", 800, 200, requests=200, request_rate=4.0, input_spread=0.6, output_spread=0.6, seed=3)),
    "trtllm closed loop, fixed (reserved KV)": ("trtllm", lambda: _cm(), Workload(
        "closed", 1000, 500, requests=96, concurrency=64)),
    "sglang Poisson, long prompts (prefill steps alone)": ("sglang", lambda: _cm(), Workload(
        "poisson", 3000, 300, requests=150, request_rate=3.0, input_spread=0.8, output_spread=0.8, seed=5)),
    "vllm-ascend offline, prefix hits, runs across the roofline's break": (
        "vllm-ascend", lambda: _cm("llama3-8b", "ascend-910b2", wdt="bf16", kdt="bf16"), Workload(
            "offline", 3000, 300, requests=150, input_spread=0.5, output_spread=1.0, prefix_cache_hit=0.3)),
    "tgi closed loop, spread": ("tgi", lambda: _cm("llama3-8b", "h100-sxm5-80gb", wdt="bf16", kdt="bf16"), Workload(
        "closed", 600, 80, requests=200, concurrency=40, input_spread=0.4, output_spread=0.9, seed=2)),
    "generic Poisson, MoE with wide expert parallelism": (
        "generic", lambda: _cm("deepseek-v3", "h200-sxm-141gb", ep=32), Workload(
            "poisson", 1000, 100, requests=150, request_rate=30.0, output_spread=0.5)),
    "vllm closed loop under KV pressure (preemption)": (
        "vllm", lambda: _small_kv(_cm("llama3-70b", "mi300x", wdt="bf16", kdt="bf16"), 30000), Workload(
            "closed", 1000, 800, requests=80, concurrency=32, input_spread=0.5, output_spread=0.7)),
    "vllm Poisson under KV pressure, prefix hits": ("vllm", lambda: _small_kv(_cm(), 20000), Workload(
        "poisson", 800, 600, requests=100, request_rate=3.0, input_spread=0.5, output_spread=0.7,
        prefix_cache_hit=0.2)),
    "sglang offline under KV pressure (token pages)": ("sglang", lambda: _small_kv(_cm(), 20000), Workload(
        "offline", 800, 600, requests=60, input_spread=0.5, output_spread=0.7)),
    "tgi Poisson (admission throttled)": ("tgi", lambda: _cm("llama3-8b", "h100-sxm5-80gb", wdt="bf16", kdt="bf16"),
                                          Workload("poisson", 500, 300, requests=300, request_rate=40.0,
                                                   input_spread=0.5, output_spread=0.6, seed=4)),
    "mindie Poisson (reserved KV, prefill alone)": (
        "mindie", lambda: _cm("llama3-8b", "ascend-910b2", wdt="bf16", kdt="bf16"), Workload(
            "poisson", 1500, 150, requests=150, request_rate=8.0, output_spread=0.7)),
}


@pytest.mark.parametrize("case", list(REFERENCE_CASES))
def test_fast_simulator_equals_the_step_by_step_reference(case):
    """The simulator advances whole runs of decode steps at once (closed-form sums over the cost
    model's lines, a completion heap, a KV phase histogram); a plain loop that re-runs the
    scheduler and prices every step alone with `step_s` must give the same figures."""
    family, make_cm, w = REFERENCE_CASES[case]
    cm, sched = make_cm(), scheduler_for(family)
    fast = simulate(cm, sched, w)
    _assert_same_as_reference(fast, reference_simulate(cm, sched, w))
    assert fast.steps > 2 * len(fast.kv_time_s) or w.mode == "offline"   # runs were taken whole


def test_fast_disaggregated_decode_equals_the_reference():
    cm = _cm()
    w = Workload("poisson", 2000, 150, requests=120, request_rate=2.0, output_spread=0.8, seed=4)
    pool = PrefillPool(cm, instances=1, transfer_s_per_token=2e-6)
    fast = simulate(cm, scheduler_for("vllm"), w, prefill_pool=pool)
    _assert_same_as_reference(fast, reference_simulate(cm, scheduler_for("vllm"), w, prefill_pool=pool))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(FAMILIES), mode=st.sampled_from(["offline", "closed", "poisson"]),
       lin=st.integers(1, 600), lout=st.integers(1, 120), spread=st.sampled_from([0.0, 0.5, 1.5]),
       load=st.floats(0.05, 3.0), kv_tokens=st.sampled_from([None, 3000, 12000]),
       hit=st.sampled_from([0.0, 0.5]), seed=st.integers(0, 1000), ramp=st.sampled_from([0.0, 0.05, 0.6]),
       warmup=st.sampled_from([0, 7]))
def test_fast_simulator_equals_the_reference_on_random_workloads(family, mode, lin, lout, spread, load,
                                                                 kv_tokens, hit, seed, ramp, warmup):
    cm = _cm("llama3-8b", "h100-sxm5-80gb", wdt="bf16", kdt="bf16")
    if kv_tokens:
        cm = _small_kv(cm, max(kv_tokens, 4 * (lin + lout) * (1 + spread) ** 3))
    w = Workload(mode, lin, lout, requests=40, concurrency=max(int(16 * load), 1), request_rate=40.0 * load,
                 input_spread=spread, output_spread=spread, prefix_cache_hit=hit, seed=seed,
                 ramp_s=ramp if mode == "closed" else 0.0, warmup=warmup)
    sched = scheduler_for(family)
    try:
        fast = simulate(cm, sched, w)
    except UserError:                       # a drawn request larger than the shrunken KV cache
        return
    _assert_same_as_reference(fast, reference_simulate(cm, sched, w))


def test_runs_are_priced_like_the_cost_model_step_by_step():
    """A run's length and time from the closed-form sums equal the step-by-step cumulative sum
    of `decode_run_s`, also across the break where decode turns compute-bound, and when the
    run stops at an arrival."""
    from engine.serving.simulator import _RunPricer

    # A decode step's GEMMs and attention add (each on its own roofline), so its lines share one
    # intercept and only a wide-EP all-to-all longer than the step makes a break: exaggerate the
    # all-to-all latency and the KV slope so the break (~150k context tokens) falls inside the runs
    from dataclasses import replace

    cm = _cm("deepseek-v3", "h800-sxm5-80gb", tp=1, ep=64)
    cm = replace(cm, a2a_latency_s=0.05, kv_s_per_token=cm.kv_s_per_token * 1000)
    pricer = _RunPricer(cm)
    assert len(pricer.envelope(128)) == 2
    rng = np.random.default_rng(1)
    for _ in range(200):
        d = int(rng.integers(1, 300))
        s = int(rng.integers(0, 300_000))
        kmax = int(rng.integers(1, 3000))
        t = float(rng.uniform(0, 100))
        cum = np.cumsum(cm.decode_run_s(d, s + d * np.arange(kmax, dtype=float)))
        arrival = t + float(rng.uniform(0, 1.2)) * cum[-1] if rng.random() < 0.7 else math.inf
        k, dt = pricer.run(d, s, kmax, t, arrival)
        want = kmax if arrival == math.inf else min(int(np.searchsorted(t + cum, arrival, side="left")) + 1, kmax)
        assert k == want
        assert dt == pytest.approx(cum[k - 1], rel=1e-12)


@pytest.mark.parametrize("model,chip,tp,ep,pp", [
    ("llama3-70b", "h100-sxm5-80gb", 8, 1, 1), ("llama3-70b", "h100-sxm5-80gb", 4, 1, 2),
    ("deepseek-v3", "h200-sxm-141gb", 1, 8, 1), ("deepseek-v3", "h200-sxm-141gb", 1, 32, 1),
    ("qwen3-235b-a22b", "h200-sxm-141gb", 4, 4, 1), ("llama3-8b", "ascend-910b2", 1, 1, 1),
])
def test_decode_lines_are_the_decode_step_time(model, chip, tp, ep, pp):
    """`decode_lines` (what the simulator sums) is `decode_run_s` for every batch and context sum,
    dense, pipelined, MoE and wide-EP (where the all-to-all hides under the step) alike."""
    cm = build_cost_model(MODELS[model], CHIPS[chip], tp=tp, ep=ep, pp=pp, weight_dtype="fp8", kv_dtype="fp8")
    xs = np.linspace(0.0, 2.0 * max(cm.kv_capacity_tokens, 1.0), 257)
    for d in (1, 2, 7, 64, 300, 1024, 4096):
        lines = np.array(cm.decode_lines(d))
        got = (lines[:, :1] + lines[:, 1:] * xs).max(axis=0)
        np.testing.assert_allclose(got, cm.decode_run_s(d, xs), rtol=1e-12)
    from engine.serving.simulator import _RunPricer

    assert _RunPricer(cm).lines_ok            # so the simulator takes the closed-form path here


def test_runs_fall_back_to_step_pricing_when_the_lines_disagree(monkeypatch):
    """A cost model whose lines no longer match its step time (changed without them) is priced
    step by step, with the same answers."""
    from weakref import WeakKeyDictionary

    from engine.serving import simulator as sim
    from engine.serving.cost_model import StepCostModel

    monkeypatch.setattr(sim, "_ENVELOPES", WeakKeyDictionary())
    monkeypatch.setattr(sim, "_LINES_OK", WeakKeyDictionary())
    true_lines = StepCostModel.decode_lines
    # right except at one batch size nobody would pad to: still caught
    monkeypatch.setattr(StepCostModel, "decode_lines", lambda self, d: [
        (a * (1.0 + 1e-6 * (d == 383)), b) for a, b in true_lines(self, d)])
    cm = _cm()
    w = Workload("poisson", 800, 200, requests=120, request_rate=4.0, input_spread=0.6, output_spread=0.6, seed=3)
    fast = simulate(cm, scheduler_for("vllm"), w)
    assert sim._LINES_OK[cm] is False and not sim._ENVELOPES[cm]
    _assert_same_as_reference(fast, reference_simulate(cm, scheduler_for("vllm"), w))


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


def test_mlperf_like_lengths_latency_grows_with_load_and_throughput_saturates():
    """Poisson arrivals with MLPerf OpenOrca-like lengths (spread 0.9): every latency percentile
    keeps its order and never falls as the rate rises; output tokens/s follows the offered
    load, then levels off at the offline rate."""
    cm = _cm("llama3-70b", "h100-sxm5-80gb", tp=8)
    sched = scheduler_for("vllm")
    # an overloaded server reads its whole run: it serves its backlog at full batch to the end
    lengths = dict(input_spread=0.9, output_spread=0.9, requests=2000, seed=11)
    offline = simulate(cm, sched, Workload("offline", 222, 291, **lengths))
    sat = 2000 / offline.makespan_s
    rows = []
    for r in sat * np.array([0.05, 0.2, 0.5, 0.8, 1.2, 2.0, 4.0]):
        res = simulate(cm, sched, Workload("poisson", 222, 291, request_rate=float(r), **lengths))
        pct = {k: percentiles(getattr(res, k)) for k in ("ttft_s", "tpot_s", "e2e_s", "queue_s")}
        for p in pct.values():
            assert p["p50"] <= p["p90"] <= p["p99"]
        rows.append((float(r), pct, res.output_tokens_per_s))
    for (_, a, _), (_, b, _) in zip(rows, rows[1:]):
        for key in ("ttft_s", "e2e_s"):
            for p in ("p50", "p90", "p99"):
                assert b[key][p] >= a[key][p] * 0.98, (key, p)
    mean_out = float(offline.output_lens.mean())
    assert rows[0][2] == pytest.approx(rows[0][0] * mean_out, rel=0.15)
    # past saturation the figure is what the queue says was served: it does not fall, and it comes
    # within 20% of the steady rate, a 16,000-request open loop's at the same load (16,109 tokens/s;
    # over 2,000 requests the running set still takes in the excess). The 2,000-request offline
    # run (8,976) is held back by its drain, a few long requests in an emptying batch.
    steady = simulate(cm, sched, Workload("poisson", 222, 291, request_rate=rows[-1][0], **dict(lengths, requests=16000)))
    assert rows[-1][2] >= 0.98 * rows[-2][2]
    assert rows[-1][2] == pytest.approx(steady.output_tokens_per_s, rel=0.2)


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


def test_disaggregated_one_token_outputs_finish_at_their_prefill():
    """Regression: when every request's only token comes from the prefill pool, the decode
    instance has nothing to do; the loop used to index past the last arrival."""
    cm = _cm()
    w = Workload("poisson", 100, 1, requests=5, request_rate=1.0)
    res = simulate(cm, scheduler_for("vllm"), w, prefill_pool=PrefillPool(cm))
    np.testing.assert_array_equal(res.e2e_s, res.ttft_s)
    assert np.isfinite(res.e2e_s).all() and res.steps == 0


def test_disaggregated_closed_loop_is_a_user_error():
    from engine.serving.capacity import simulate_disaggregated

    inp = ServingInputs(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], input_len=100, output_len=10,
                        scenario="concurrency", concurrency=4)
    with pytest.raises(UserError, match="disaggregated"):
        simulate_disaggregated(inp, prefill_tp=1)


# ---- precisions and chips ------------------------------------------------------------------------------

def _fp4_over_fp8_weight_bytes(model) -> float:
    """Decode reads every matrix but the embedding table (one row a token); the head stays 16-bit.
    Llama 3 70B: matrices 70.55e9 - 2 x 1.05e9 = 68.45e9 params; (68.45 x 0.5625 + 2.10) /
    (68.45 x 1 + 2.10) = 0.5755 (a flat 0.5 byte read 0.515)."""
    head_params = model.vocab * model.hidden
    matrices = model.total_params() - 2 * head_params
    return (matrices * (4 + 8 / 16) / 8 + 2 * head_params) / (matrices * 1.0 + 2 * head_params)


def test_fp4_weights_on_b200_read_nvfp4_bytes_and_use_the_fp4_rate():
    b200 = CHIPS["b200"]
    assert b200.fp4_tflops == 9000 and b200.peak_tflops("fp4") == 9000
    fp8 = build_cost_model(MODELS["llama3-70b"], b200, tp=1, weight_dtype="fp8", kv_dtype="fp8")
    fp4 = build_cost_model(MODELS["llama3-70b"], b200, tp=1, weight_dtype="fp4", kv_dtype="fp8")
    # weights: NVFP4 matrices at 4.5 bits (an FP8 scale per 16 values), the head 16-bit in both
    assert fp4.weights_s / fp8.weights_s == pytest.approx(_fp4_over_fp8_weight_bytes(MODELS["llama3-70b"]), rel=1e-3)
    assert fp4.peak_flops == pytest.approx(2 * fp8.peak_flops)
    assert fp4.kv_capacity_tokens > fp8.kv_capacity_tokens       # more HBM left for KV
    assert 0 < fp4.step_s(1, 1000) < fp8.step_s(1, 1000)     # batch-1 decode reads half the bytes


def test_fp4_without_an_fp4_rate_runs_w4a16_and_fp4_kv_is_a_user_error():
    h100 = CHIPS["h100-sxm5-80gb"]
    inf.check_dtypes(h100, "fp4", "fp8")   # answered weight-only, not refused
    fp4 = build_cost_model(MODELS["llama3-70b"], h100, tp=1, weight_dtype="fp4", kv_dtype="fp8")
    fp8 = build_cost_model(MODELS["llama3-70b"], h100, tp=1, weight_dtype="fp8", kv_dtype="fp8")
    assert fp4.peak_flops == pytest.approx(fp4.peak16_flops)           # 16-bit GEMMs (W4A16)
    assert fp8.peak_flops > fp4.peak_flops                             # H100 runs FP8 GEMMs
    assert fp4.weights_s / fp8.weights_s == pytest.approx(_fp4_over_fp8_weight_bytes(MODELS["llama3-70b"]), rel=1e-3)
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


# ---- a straightforward step-by-step reference of the same scheduler -----------------------------------

class _Req:
    """One request in the reference simulator (plain attributes, nothing vectorised)."""

    def __init__(self, lin, lout, arrival):
        self.lin, self.lout, self.arrival, self.user_arrival = lin, lout, arrival, arrival
        self.state = "new"          # new | waiting | prefill | decode | done
        self.gen = self.ctx = self.need = self.done_pf = self.cached = self.alloc = 0
        self.first = self.finish = self.scheduled = float("nan")
        self.pool_wait = 0.0        # disaggregated: waits for a prefill instance and the NICs


def reference_simulate(cm, sched, w, prefill_pool=None):
    """The scheduler of `simulate` (see its module doc), one step per loop turn, every step priced
    alone by `StepCostModel.step_s`, every request a plain object: slow and obvious. Returns the
    same figures as `SimResult` (a dict) for comparison."""
    from collections import deque

    from engine.serving.simulator import prefill_pool_ready

    rng = np.random.default_rng(w.seed)
    n = int(w.requests)
    lin = draw_lengths(w.input_len, w.input_spread, n, rng)
    lout = draw_lengths(w.output_len, w.output_spread, n, rng)
    bs = int(sched.block_size)
    total = int(cm.kv_capacity_tokens // bs)
    watermark = 0 if sched.reserve_output else int(0.01 * total)
    max_seqs = max(int(sched.max_num_seqs * cm.attn_groups), 1)
    budget_all = max(int(sched.max_num_batched_tokens * cm.attn_groups), 1)
    if w.mode == "poisson":
        gaps = rng.exponential(1.0 / w.request_rate, n)
        arrivals = np.cumsum(gaps) - gaps[0]
    else:
        arrivals = np.zeros(n)
        if w.mode == "closed":         # ramped clients: client k starts at k x ramp / C
            c = min(int(w.concurrency), n)
            arrivals[:c] = np.arange(c) * (w.ramp_s / c)
    reqs = [_Req(int(a), int(b), float(c)) for a, b, c in zip(lin, lout, arrivals)]
    warm = int(w.warmup)
    ramped = w.mode == "closed" and w.ramp_s > 0
    mode = w.mode
    if prefill_pool is not None:
        ready, waited = prefill_pool_ready(prefill_pool, arrivals, lin, float(w.prefix_cache_hit))
        for r, a, q in zip(reqs, ready, waited):
            r.gen, r.arrival, r.pool_wait = 1, float(a), float(q)
        reqs = [reqs[i] for i in np.argsort(ready, kind="stable")]
        mode = "poisson"
    issued = min(int(w.concurrency), n) if mode == "closed" else n
    future = deque(reqs[:issued]) if mode == "poisson" or ramped else deque()
    waiting = deque() if mode == "poisson" or ramped else deque(reqs[:issued])
    running = []                       # admission order: the last one is preempted first
    used = 0
    t = 0.0
    finished = steps = preemptions = dec_steps = 0
    busy = dec_time = 0.0
    tokens = [(0.0, 0)]                # (time, output tokens so far) after every step
    kv = [(0.0, 0.0)]
    marks = {}                         # 'first_done' / 'last_arrival': (time, output tokens)
    sends = []                         # closed loop: (time, output tokens) at each send after a response
    since_admit = 0                    # decode steps since requests were last admitted (TGI throttle)
    first_due = []                     # prefilled elsewhere, admitted: first token at the end of the next step

    def blocks(x):
        return -(-x // bs)

    def finish(r):
        nonlocal used, finished, issued
        marks.setdefault("first_done", (t, tokens[-1][1]))
        r.state, r.finish = "done", t
        used -= r.alloc
        r.alloc = 0
        finished += 1
        if mode == "closed" and issued < n:
            nxt = reqs[issued]
            nxt.arrival = nxt.user_arrival = t
            waiting.append(nxt)
            if issued == warm:
                marks["warm"] = (t, tokens[-1][1])
            issued += 1
            sends.append((t, tokens[-1][1]))

    while finished < n:
        while future and future[0].arrival <= t:
            r = future.popleft()
            if prefill_pool is not None:   # its first token (the pool's) counts as it arrives
                tokens[-1] = (tokens[-1][0], tokens[-1][1] + 1)
            r.out_at_arrival = tokens[-1][1]   # output tokens so far when it arrived (late window)
            if prefill_pool is not None and r.lout <= 1:   # ends when its KV arrives
                r.finish = r.first = r.arrival
                r.state = "done"
                finished += 1
                marks.setdefault("first_done", (t, tokens[-1][1]))
            else:
                waiting.append(r)
            if ramped and reqs.index(r) == warm:
                marks["warm"] = (t, tokens[-1][1])
            if not future:
                marks["last_arrival"] = (t, tokens[-1][1])
        if (mode == "poisson" or ramped) and not running and not waiting:
            if future:
                t = future[0].arrival
            continue
        decoding = [r for r in running if r.state == "decode"]
        preempted_now = False
        if decoding and not sched.reserve_output:
            while sum(r.ctx % bs == 0 for r in decoding) > total - used and running:
                v = running.pop()
                used -= v.alloc
                v.alloc = v.ctx = v.done_pf = 0
                v.need = v.lin + v.gen - v.cached
                v.state = "waiting"
                waiting.appendleft(v)
                preemptions += 1
                preempted_now = True
                decoding = [r for r in running if r.state == "decode"]
        budget = budget_all - (len(decoding) if sched.mixed_batches else 0)
        chunks = []                    # (request, offset, tokens)
        for r in [r for r in running if r.state == "prefill"]:
            if budget > 0:
                c = min(r.need, budget) if sched.chunked_prefill else r.need
                if not sched.chunked_prefill and c > budget and chunks:
                    break
                chunks.append((r, r.cached + r.done_pf, c))
                budget -= c
        direct = admitted = False
        gate = (not sched.max_waiting_steps or not running or since_admit >= sched.max_waiting_steps
                or len(waiting) >= int(len(running) * sched.waiting_served_ratio)) and not preempted_now
        while gate and waiting and len(running) < max_seqs and (budget > 0 or (not sched.chunked_prefill and not chunks)):
            r = waiting[0]
            if r.gen == 0:
                r.cached = int(r.lin * w.prefix_cache_hit)
                r.need = r.lin - r.cached
            nb = blocks(r.lin + r.gen + ((r.lout - r.gen) if sched.reserve_output else 0))
            if nb > total - used - watermark:
                break
            if r.need == 0 and r.gen > 0:        # prefilled elsewhere: decodes from the next step
                waiting.popleft()
                running.append(r)
                r.alloc, r.ctx, r.state = nb, r.lin + r.gen, "decode"
                used += nb
                if math.isnan(r.scheduled):
                    r.scheduled = t
                    first_due.append(r)            # the decode instance streams the first token
                direct = True
                continue
            c = min(r.need, budget) if sched.chunked_prefill else r.need
            if not sched.chunked_prefill and c > budget and chunks:
                break
            waiting.popleft()
            running.append(r)
            r.alloc, r.ctx, r.done_pf, r.state = nb, r.lin + r.gen, 0, "prefill"
            used += nb
            if math.isnan(r.scheduled):
                r.scheduled = t
            chunks.append((r, r.cached, c))
            budget -= c
            admitted = True
        if admitted:
            since_admit = 0
        if direct and not chunks and not decoding:
            continue
        if chunks and not sched.mixed_batches:
            decoding = []
        if not chunks and not decoding:
            if future:
                t = max(t, future[0].arrival)
                continue
            raise AssertionError("stuck")
        pf_tokens = sum(c for _, _, c in chunks)
        attn = 0.0
        for _, off, c in chunks:
            attn += cm.chunk_attn_flops(off, c)
        dt = cm.step_s(len(decoding), float(sum(r.ctx for r in decoding)), pf_tokens, len(chunks), attn,
                       max((c for _, _, c in chunks), default=0))
        busy += len(running) * dt
        t += dt
        steps += 1
        for r in first_due:            # the step that admitted them has run
            r.first = t
        first_due = []
        if not chunks:
            dec_time += dt
            dec_steps += 1
        if decoding:
            since_admit += 1
        ended = []
        for r in decoding:
            r.gen += 1
            r.ctx += 1
            if not sched.reserve_output:
                used += blocks(r.ctx) - r.alloc
                r.alloc = blocks(r.ctx)
            if r.gen >= r.lout:
                ended.append(r)
        produced = len(decoding)
        for r, _, c in chunks:
            r.done_pf += c
            r.need -= c
            if r.need <= 0:
                r.need = 0
                if r.gen == 0:
                    r.first = t
                r.gen += 1
                r.ctx += 1
                produced += 1
                r.state = "decode"
                if not sched.reserve_output:
                    used += blocks(r.ctx) - r.alloc
                    r.alloc = blocks(r.ctx)
                if r.gen >= r.lout:
                    ended.append(r)
        tokens.append((t, tokens[-1][1] + produced))
        for r in ended:
            running.remove(r)
            finish(r)
        kv.append((t, used / total))
    order = range(n)
    first = np.array([reqs[i].first for i in order])
    fin = np.array([reqs[i].finish for i in order])
    user = np.array([reqs[i].user_arrival for i in order])
    arr = np.array([reqs[i].arrival for i in order])
    sch = np.array([reqs[i].scheduled for i in order])
    wait = np.array([reqs[i].pool_wait for i in order])   # before the decode instance (disaggregated)
    lo = np.array([reqs[i].lout for i in order])
    tt, tn = np.array([a for a, _ in tokens]), np.array([b for _, b in tokens], dtype=float)
    if mode == "closed":
        t0, t1 = 0.0, t
        if issued > min(int(w.concurrency), n):   # while every client is busy (see simulate)
            t1 = float(arr[min(int(w.concurrency), n):].max())   # the last request a client sent again
            start = max([(0.0, 0)] + [marks[k] for k in ("warm", "last_arrival") if k in marks])
            t0 = start[0] if t1 > start[0] else 0.0   # all clients started and the warm-up sent
    else:
        t0, t1 = float(user.min()), t
    rate = (np.interp(t1, tt, tn) - np.interp(t0, tt, tn)) / (t1 - t0)
    after = np.array([p for p in sends if p[0] > t0]).reshape(-1, 2)
    if mode == "closed" and t1 < t and len(after) and after[:, 0].max() > after[:, 0].min():
        # the least-squares line through the sends after the window's start (run_reading)
        rate = float(np.polyfit(after[:, 0], after[:, 1], 1)[0])
    if w.mode == "poisson":
        # the offered load, or the share of it the queue's rise says was served: request i waits
        # about (lambda / mu - 1) x its arrival time, read from the second quarter's mean wait to
        # the fourth's, when the wait rises quarter by quarter and by over 0.1 s (see run_reading)
        waits = (sch - arr + wait)[np.arange(n) >= warm]
        k = waits.size // 4
        if waits.size >= 20:
            q2, q3, q4 = (float(np.nanmean(waits[i * k:(i + 1) * k])) for i in (1, 2, 3))
            growth = (q4 - q2) * w.request_rate / (2 * k) if q2 <= q3 <= q4 and q4 - q2 > 0.1 else 0.0
            rate = w.request_rate * float(lout.mean()) / (1.0 + growth)
    kept = np.arange(n) >= warm       # warm-up requests are left out of the figures
    first, fin, user, arr, sch, lo, wait = first[kept], fin[kept], user[kept], arr[kept], sch[kept], lo[kept], wait[kept]
    multi = lo > 1
    return dict(ttft_s=first - user, e2e_s=fin - user, queue_s=sch - arr + wait,
                tpot_s=(fin[multi] - first[multi]) / (lo[multi] - 1), output_tokens_per_s=rate, steps=steps,
                preemptions=preemptions, makespan_s=t, mean_running=busy / t,
                mean_decode_step_s=dec_time / dec_steps if dec_steps else float("nan"),
                kv_time_s=np.array([a for a, _ in kv]), kv_used_frac=np.array([b for _, b in kv]))


# ---- admission throttle (TGI) and the Poisson throughput window -----------------------------------

def _constant_step_cm(step_s=0.01):
    """Every step, prefill or decode, takes `step_s`: only the per-step overhead is left, so
    waits can be counted in steps by hand."""
    zero = dict(weights_s=0.0, expert_all_s=0.0, kv_s_per_token=0.0, dec_lin_s_per_seq=0.0, dec_exp_s_per_seq=0.0,
                dec_attn_s_per_ctx=0.0, pf_lin_flops_per_token=0.0, pf_head_flops_per_seq=0.0, pf_attn_coeff=0.0,
                pf_exp_flops_per_token=0.0, tp_comm_s_per_token=0.0, a2a_s_per_token=0.0, a2a_latency_s=0.0)
    cm = replace(_cm(), overhead_s=step_s, prefill_overhead_scale=1.0, pp=1.0, **zero)
    assert cm.step_s(7, 7000.0) == pytest.approx(step_s) and cm.step_s(0, 0.0, 500, 1, 0.0, 500) == pytest.approx(step_s)
    return cm


def test_tgi_admits_waiting_requests_every_20_decode_steps_or_at_the_ratio():
    """TGI's router (waiting_served_ratio 0.3, max_waiting_tokens 20): with ~40 requests running
    and one arrival every ~5 steps, fewer than 0.3 x 40 = 12 ever wait, so a prefill runs every
    20 decode steps: a request waits at most 20 decode steps plus the step in flight (210 ms at
    10 ms a step) and about 10 on average. Without the throttle it waits at most the step in
    flight (10 ms)."""
    cm = _constant_step_cm(0.01)
    tgi = scheduler_for("tgi")
    assert (tgi.waiting_served_ratio, tgi.max_waiting_steps) == (0.3, 20)
    w = Workload("poisson", 100, 200, requests=400, request_rate=20.0, seed=3)
    free = simulate(cm, replace(tgi, max_waiting_steps=0), w)
    assert free.queue_s.max() <= 0.01 + 1e-9
    held = simulate(cm, tgi, w)
    assert held.queue_s.max() <= 0.21 + 1e-9
    assert held.queue_s.max() >= 0.15               # some request waited most of the 20 steps
    assert 0.05 <= float(np.mean(held.queue_s)) <= 0.15
    # the ratio opens the gate at once: 3 running, 0.3 x 3 -> 0 waiting needed
    few = simulate(cm, tgi, Workload("poisson", 100, 200, requests=60, request_rate=0.5, seed=3))
    assert few.queue_s.max() <= 0.01 + 1e-9


def test_poisson_throughput_is_the_offered_load_when_the_server_keeps_up():
    """20 requests/s x 2,000 output tokens = 40,000 tokens/s offered; a request lives ~20 s
    (2,000 steps of 10 ms) against 100 s of arrivals. Over the whole run the empty start and
    the drain would give about 40,000 x 100 / 120 = 33,000; the window from the first completion
    to the last arrival gives the offered load."""
    cm = replace(_constant_step_cm(0.01), kv_capacity_tokens=1e8)
    w = Workload("poisson", 100, 2000, requests=2000, request_rate=20.0, seed=5)
    res = simulate(cm, replace(scheduler_for("vllm"), max_num_seqs=4096), w)
    assert res.output_tokens_per_s == pytest.approx(40_000 * float(res.output_lens.mean()) / 2000, rel=1e-12)
    assert 2000 * 2000 / res.makespan_s < 0.9 * 40_000      # what the whole run would have said
    # capped at 100 running sequences, one token each per 10 ms step: 10,000 tokens/s, whatever
    # is offered beyond it
    capped = simulate(cm, replace(scheduler_for("vllm"), max_num_seqs=100), w)
    assert capped.output_tokens_per_s == pytest.approx(10_000, rel=0.02)


# ---- closed-loop benchmark protocol: warm-up, requests per client, client ramp -------------------

def test_client_ramp_staggers_the_first_requests_by_hand():
    """Every step costs 10 ms. Two clients, 10 output tokens (a prefill step then 9 decode
    steps). With a 50 ms ramp client 1 starts at 0 and client 2 at 25 ms, inside the third
    step, so its prompt runs in the fourth: TTFT 40 - 25 = 15 ms. From then on each client's
    next request arrives at a step boundary (a completion) and is prefilled in the next step
    alone: 10 ms. Without the ramp both prompts share the first step and every TTFT is 10 ms."""
    cm = replace(_constant_step_cm(0.01), kv_capacity_tokens=1e6)
    w = Workload("closed", 100, 10, requests=8, concurrency=2, ramp_s=0.05)
    res = simulate(cm, scheduler_for("vllm"), w)
    assert res.ttft_s[0] == pytest.approx(0.010)
    assert res.ttft_s[1] == pytest.approx(0.015)
    assert np.allclose(res.ttft_s[2:], 0.010)
    # staggered by 3 steps, each step carries one token of each client: 2 tokens per 10 ms
    assert res.output_tokens_per_s == pytest.approx(200.0, rel=1e-9)
    together = simulate(cm, scheduler_for("vllm"), replace(w, ramp_s=0.0))
    assert np.allclose(together.ttft_s, 0.010)


def test_ramp_spreads_a_prefill_bound_cohort():
    """70B on one H200, 16 clients of 1,000-token prompts: started together the first cohort
    queues behind itself (two steps of the 8,192-token budget); a ramp over one request's
    lifetime leaves each prompt nearly alone in its step, so the mean TTFT falls and is close
    to one prompt's prefill."""
    cm = _cm()
    w = Workload("closed", 1000, 200, requests=64, concurrency=16)
    at_once = simulate(cm, scheduler_for("vllm"), w)
    one_prefill = cm.step_s(0, 0.0, 1000, 1, cm.chunk_attn_flops(0, 1000), 1000)
    lifetime = float(np.median(at_once.e2e_s))
    ramped = simulate(cm, scheduler_for("vllm"), replace(w, ramp_s=lifetime))
    assert np.mean(ramped.ttft_s) < 0.5 * np.mean(at_once.ttft_s)
    assert np.mean(ramped.ttft_s) < 2.0 * one_prefill


def test_warmup_requests_run_but_are_left_out_of_the_figures():
    """A warm-up changes no request's timing: the figures are the same run's later requests."""
    cm = _cm(model="llama3-8b", chip="h100-sxm5-80gb", wdt="bf16", kdt="bf16")
    w = Workload("closed", 1500, 120, requests=96, concurrency=8, input_spread=0.3, output_spread=0.3, seed=2)
    whole = simulate(cm, scheduler_for("vllm"), w)
    warm = simulate(cm, scheduler_for("vllm"), replace(w, warmup=16))
    assert len(warm.ttft_s) == 80 and len(whole.ttft_s) == 96
    assert np.array_equal(warm.ttft_s, whole.ttft_s[16:])
    assert np.array_equal(warm.e2e_s, whole.e2e_s[16:])
    assert np.array_equal(warm.queue_s, whole.queue_s[16:])
    assert warm.makespan_s == whole.makespan_s


def test_warmup_throughput_window_starts_after_the_warmup_by_hand():
    """One client, every step 10 ms, 10 tokens a request: 100 tokens/s however the window is
    cut. With 3 warm-up requests the window opens when request 3 is sent (t = 0.3 s, 30
    tokens out) and closes when the last is sent (t = 0.9 s, 90 tokens out)."""
    cm = replace(_constant_step_cm(0.01), kv_capacity_tokens=1e6)
    res = simulate(cm, scheduler_for("vllm"), Workload("closed", 100, 10, requests=10, concurrency=1, warmup=3))
    assert res.output_tokens_per_s == pytest.approx(100.0, rel=1e-9)
    assert len(res.ttft_s) == 7 and np.allclose(res.ttft_s, 0.01)


@pytest.mark.parametrize("field,value,needle", [("warmup", 8, "warmup"), ("warmup", -1, "warmup"),
                                                ("ramp_s", -0.5, "ramp_s"), ("ramp_s", math.inf, "ramp_s")])
def test_bad_protocol_fields_are_user_errors(field, value, needle):
    w = replace(Workload("closed", 100, 10, requests=8, concurrency=2), **{field: value})
    with pytest.raises(UserError, match=needle):
        simulate(_cm(), scheduler_for("vllm"), w)
    with pytest.raises(UserError, match="closed loop"):
        simulate(_cm(), scheduler_for("vllm"), Workload("offline", 100, 10, requests=8, ramp_s=1.0))


def test_serving_inputs_carry_the_closed_loop_protocol():
    """requests_per_client x clients are measured; the warm-up runs on top of them."""
    from engine.serving.capacity import workload_for

    inp = ServingInputs(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], input_len=1000, output_len=100,
                        scenario="concurrency", concurrency=32, replicas=2, requests_per_client=20,
                        warmup_requests=32, ramp_s=2.0)
    w = workload_for(inp)
    assert (w.concurrency, w.requests, w.warmup, w.ramp_s) == (16, 16 * 20 + 32, 32, 2.0)
    assert workload_for(replace(inp, requests_per_client=None, warmup_requests=0)).requests == 500
    res = evaluate_serving(replace(inp, replicas=1, concurrency=4, requests_per_client=5, warmup_requests=4,
                                   ramp_s=0.0))
    assert res.simulated_requests == 24 and np.isfinite(res.ttft_ms)
    for bad in (dict(requests_per_client=0), dict(warmup_requests=-1), dict(ramp_s=-1.0),
                dict(scenario="offline", concurrency=None, ramp_s=1.0)):
        with pytest.raises(UserError):
            evaluate_serving(replace(inp, **bad))


def test_token_budget_splits_a_cohort_by_hand():
    """Every step costs 10 ms. Four 1,000-token prompts at once under a 2,000-token budget
    (vLLM: chunked, mixed): step 1 computes A and B; step 2 gives A and B a token (2 of the
    budget), C whole and 998 tokens of D; step 3 the last 2 of D. TTFT 10, 10, 20, 30 ms. The
    family default (8,192) computes all four in step 1."""
    cm = replace(_constant_step_cm(0.01), kv_capacity_tokens=1e6)
    w = Workload("offline", 1000, 5, requests=4)
    split = simulate(cm, replace(scheduler_for("vllm"), max_num_batched_tokens=2000), w)
    assert np.allclose(split.ttft_s, [0.01, 0.01, 0.02, 0.03])
    assert np.allclose(simulate(cm, scheduler_for("vllm"), w).ttft_s, 0.01)


def test_serving_inputs_override_the_family_scheduler_limits():
    """A deployment's own limits (vLLM --max-num-batched-tokens / --max-num-seqs) replace the
    family defaults: a 2-sequence cap makes 6 clients queue, a small budget splits the cohort."""
    from engine.serving.capacity import cost_model_for, scheduler_of

    inp = ServingInputs(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], input_len=2000, output_len=50,
                        scenario="concurrency", concurrency=6, engine="vllm", requests=36)
    cm = cost_model_for(inp)
    assert scheduler_of(inp, cm) is scheduler_for("vllm")
    capped = replace(inp, max_num_seqs=2, max_num_batched_tokens=3000)
    sched = scheduler_of(capped, cm)
    assert (sched.max_num_seqs, sched.max_num_batched_tokens) == (2, 3000)
    assert sched.block_size == scheduler_for("vllm").block_size
    free, held = evaluate_serving(inp), evaluate_serving(capped)
    assert held.queue_ms > 10 * free.queue_ms       # 4 of 6 clients wait for a seat
    assert held.ttft_ms > free.ttft_ms
    for bad in (dict(max_num_seqs=0), dict(max_num_batched_tokens=2.5)):
        with pytest.raises(UserError):
            evaluate_serving(replace(inp, **bad))


def test_tgi_reserves_prompt_and_output_and_never_preempts():
    """TGI's router allocates the blocks of input + max_new_tokens when it admits a request (its
    queue's block allocator) and has no preemption. On demand, an offline run under KV pressure
    with TGI's unmixed prefill batches and admission bursts preempted over and over (hundreds
    of thousands of recomputes for 2,000 requests, 20 s of simulation, a tenth of the
    throughput); reserved, nobody is preempted and no more sequences run than fit whole."""
    tgi = scheduler_for("tgi")
    assert tgi.reserve_output
    cm = _small_kv(_cm("llama3-8b", "h100-sxm5-80gb", wdt="bf16", kdt="bf16"), 60_000)
    res = simulate(cm, tgi, Workload("offline", 217, 201, requests=2000))
    assert res.preemptions == 0
    fit_whole = 60_000 // (-(-(217 + 201) // 16) * 16)          # 143 requests of 27 blocks
    assert res.mean_running <= fit_whole
    assert res.kv_used_frac.max() <= 1.0
    on_demand = simulate(cm, replace(tgi, reserve_output=False), Workload("offline", 217, 201, requests=300))
    assert on_demand.preemptions > 0                 # what the old default did


def test_a_request_that_can_never_finish_is_named_up_front_on_demand_too():
    """On demand a request holds its prompt and all but its last output token by its last step:
    one longer than the KV cache can never finish, and the error names its length (it used to
    surface as "the scheduler cannot make progress" after simulating every other request)."""
    cm = _small_kv(_cm("llama3-8b", "h100-sxm5-80gb", wdt="bf16", kdt="bf16"), 20_000)
    with pytest.raises(UserError, match="a 20049-token request needs more KV than the 20,000 tokens"):
        simulate(cm, scheduler_for("sglang"), Workload("offline", 50, 20_000, requests=10))
    ok = simulate(cm, scheduler_for("sglang"), Workload("offline", 50, 19_000, requests=2))
    assert ok.steps > 0


@pytest.mark.parametrize("family", ["sglang", "vllm", "vllm-ascend"])
def test_a_step_that_preempts_admits_nobody(family):
    """vLLM V1's scheduler admits no waiting request in a step that preempted (`if not
    preempted_reqs`); SGLang raises its output reserve after a retraction. Without the rule the
    victims went straight back into the memory they had freed: SGLang's token pages with short
    prompts (50 in, 200 +- 80% out, a 60K-token cache) preempted about 11 times per request and
    ran at a fifth of the reserved-KV throughput. With it: fewer preemptions than requests, and
    on demand is within 20% of reserving every output (it packs more, it pays recomputes)."""
    cm = _small_kv(_cm("llama3-8b", "h100-sxm5-80gb", wdt="bf16", kdt="bf16"), 60_000)
    w = Workload("offline", 50, 200, requests=2000, output_spread=0.8)
    sched = scheduler_for(family)
    on_demand = simulate(cm, sched, w)
    reserved = simulate(cm, replace(sched, reserve_output=True), w)
    assert 0 < on_demand.preemptions < w.requests
    assert on_demand.output_tokens_per_s >= 0.8 * reserved.output_tokens_per_s


def test_slo_capacity_looks_past_the_offline_saturation_estimate_when_lengths_spread():
    """An offline run's makespan ends in a drain (the longest requests in an emptying batch), so
    with lengths spread (CV 1) it puts saturation well below what a Poisson load is served at.
    With targets that only bind far out, the SLO search must not stop at that estimate: it keeps
    raising the load while the targets hold and the served throughput grows."""
    from engine.serving.capacity import (_base_inputs, cost_model_for, run_load, saturation_rate, scheduler_of,
                                         slo_capacity_sim)

    m, c = reference_models()["llama3-70b"], reference_chips()["h100-sxm5-80gb"]
    kw = dict(input_len=1024, output_len=256, tp=8, input_spread=1.0, output_spread=1.0, requests=552)
    cap = slo_capacity_sim(m, c, ttft_ms=5000, tpot_ms=45, **kw)
    inp = _base_inputs(m, c, input_len=1024, output_len=256, tp=8, ep=1, weight_dtype="bf16", kv_dtype="bf16",
                       engine="", factors=None)
    cm = cost_model_for(inp)
    sched = scheduler_of(inp, cm)
    sat = saturation_rate(cm, sched, 1024, 256, requests=552, input_spread=1.0, output_spread=1.0)
    at_estimate = run_load(cm, sched, Workload("poisson", 1024, 256, requests=552, request_rate=0.98 * sat,
                                               input_spread=1.0, output_spread=1.0), 8)
    assert at_estimate.tpot_ms["p90"] < 45 and at_estimate.ttft_ms["p90"] < 5000   # the old answer held both
    assert cap.feasible and cap.request_rate_per_s > 1.15 * sat
    assert cap.output_tokens_per_s_per_chip > 1.15 * at_estimate.output_tokens_per_s_per_chip
    assert cap.tpot_ms["p90"] <= 45 and cap.ttft_ms["p90"] <= 5000


def test_percentile_targets_a_light_load_holds_are_met_though_the_steady_state_misses_them():
    """QA: Qwen3-235B int8 on 8 x 910B (TP1 EP8, attention data parallel) was refused: "TPOT
    50.9 ms > 50 ms even at batch 1", the steady state of one sequence always running per attention
    group. A light Poisson load (0.1 requests/s) holds p90 TTFT 445 ms and TPOT 32 ms, so the p90
    capacity is a small positive load, below where p90 TPOT passes 50 ms.

    s28: without the NVIDIA fused-MoE read factor on Ascend (1482034) the steady state at TPOT 50 ms
    holds (45.6 ms per token at its batch); its lightest steady load, one sequence per attention
    group, reads TPOT 33.9 ms (a lone request 18.9 ms), so the case is now a 30 ms TPOT target: the
    steady state misses it, and 0.20 requests/s per replica holds p90 TTFT 446 ms and TPOT 28.8 ms
    (`engine.inference.slo_capacity` and this call, measured)."""
    from engine.catalog import reference_chips, reference_models
    from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip

    cap = slo_capacity_tokens_per_s_per_chip(
        reference_models()["qwen3-235b-a22b"], reference_chips()["ascend-910b2"], input_len=2000, output_len=300,
        ttft_ms=2000, tpot_ms=30, weight_dtype="int8", kv_dtype="bf16", tp=1, ep=8, percentile="p90")
    assert cap.feasible and cap.output_tokens_per_s_per_chip > 0
    assert cap.latencies_ms["tpot_ms"]["p90"] <= 30 and cap.latencies_ms["ttft_ms"]["p90"] <= 2000
    assert "misses a target (TPOT 33.9 ms > 30 ms at the lightest steady load" in cap.explanation
