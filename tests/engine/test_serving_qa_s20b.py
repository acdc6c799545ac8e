"""QA s20b: the simulator's KV peak and the SLO search's overload check."""

from engine.catalog import reference_chips, reference_models
from engine.serving.capacity import _base_inputs, cost_model_for, scheduler_of, slo_capacity_sim
from engine.serving.simulator import Workload, simulate

CHIPS = reference_chips()
MODELS = reference_models()


def _cm_sched(model, chip, tp):
    inp = _base_inputs(MODELS[model], CHIPS[chip], input_len=1024, output_len=256, tp=tp, ep=1,
                       weight_dtype="bf16", kv_dtype="bf16", engine="", factors=None)
    cm = cost_model_for(inp)
    return cm, scheduler_of(inp, cm)


def test_kv_peak_is_read_before_finished_sequences_free_their_blocks():
    """One 100 + 4,000-token sequence at a time: the peak is one whole sequence's KV, not a prompt's."""
    cm, sched = _cm_sched("llama3-70b", "h100-sxm5-80gb", 8)
    sim = simulate(cm, sched, Workload("closed", 100, 4000, requests=4, concurrency=1))
    one_seq = (100 + 4000 - 1) / cm.kv_capacity_tokens
    assert sim.kv_peak_frac >= 0.95 * one_seq


def test_a_growing_queue_does_not_keep_up():
    cm, sched = _cm_sched("llama3-8b", "h100-sxm5-80gb", 1)
    sim = simulate(cm, sched, Workload("poisson", 1024, 256, request_rate=40.0, input_spread=0.5, output_spread=0.5))
    assert not sim.keeps_up


def test_slo_search_never_takes_an_overloaded_load():
    """A TPOT-only target: the found load serves its offered load (QA: 15.6 requests/s, 56% served)."""
    kw = dict(input_len=1024, output_len=256, tpot_ms=100, percentile="p90", tp=8, weight_dtype="int8",
              engine="mindie", prefix_cache_hit=0.5)
    m, c = MODELS["qwen3-235b-a22b"], CHIPS["ascend-910b2"]
    only_tpot = slo_capacity_sim(m, c, **kw)
    with_ttft = slo_capacity_sim(m, c, ttft_ms=5000, **kw)
    assert only_tpot.feasible
    assert only_tpot.ttft_ms["p90"] < 30_000
    assert only_tpot.output_tokens_per_s_per_chip <= 1.05 * with_ttft.output_tokens_per_s_per_chip
