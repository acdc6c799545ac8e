"""The SLO search made faster without changing a figure (issue 12's 0.5 s per chip; timings in
bench/bench_serving.py): a run stopped once sure to miss its targets only ever stops runs that
miss them, and the layout race answers exactly as it did with every run simulated in full."""

from dataclasses import replace

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.serving import capacity
from engine.serving.capacity import _meets, _poisson_runner, context_of, slo_capacity_tokens_per_s_per_chip
from engine.serving.simulator import TargetsMissed, Workload, _floats, over_needed, simulate

CHIPS = reference_chips()
MODELS = reference_models()


def _runner(tp, model="llama3-8b", chip="h20-96gb", **kw):
    lengths = dict(input_len=1024, output_len=256, input_spread=0.5, output_spread=0.5)
    lengths.update(kw)
    return _poisson_runner(MODELS[model], CHIPS[chip], tp=tp, ep=1, weight_dtype="bf16", kv_dtype="bf16", engine="",
                           factors=None, prefix_cache_hit=0.0, **lengths)


def test_floats_reads_as_asarray():
    values = [0.0, 1.5, float("nan"), 3, 1e300, -2.25]
    got = _floats(values)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.asarray(values, dtype=float))


def test_over_needed_puts_the_percentile_over():
    # n = 2,000 at p90: the sorted value at floor(0.9 x 1,999) = 1,799 and all above it is 201
    # values; one more for a rounded index: 202
    assert over_needed(2000, 90.0) == 202
    assert over_needed(2000, 50.0) == 2000 - 999 + 1   # floor(0.5 x 1,999) = 999
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(600):
        n = int(rng.integers(1, 300))
        q = float(rng.choice([50.0, 90.0, 99.0]))
        need = over_needed(n, q)
        if need > n:
            continue
        x = rng.exponential(1.0, n)
        ranked = np.sort(x)
        # the highest target that exactly `need` values are over: the percentile is over it too
        target = float(ranked[n - need - 1]) if n - need - 1 >= 0 else float(ranked[0]) - 1.0
        assert (x > target).sum() == need
        assert np.percentile(x, q) > target
        checked += 1
    assert checked > 300


def test_a_run_stopped_early_is_a_run_that_misses():
    """Stopped: the full run misses the targets (an overloaded TP2 at 8 requests/s reads TPOT p90
    96 ms against 50); not stopped: the very run, figure for figure."""
    run_at, chips, _, cm, sched = _runner(2)
    targets = (2000.0, 50.0, "p90")
    w = Workload("poisson", 1024, 256, requests=2000, request_rate=8.01, input_spread=0.5, output_spread=0.5,
                 seed=0, context_len=context_of(MODELS["llama3-8b"]))
    with pytest.raises(TargetsMissed):
        simulate(cm, sched, w, miss_targets=targets)
    assert not _meets(run_at(8.01, 2000, 0), 2000.0, 50.0, "p90", 8.01)
    for rate in (1.216, 7.31):   # these hold them: run to the end, unchanged
        w = replace(w, request_rate=rate)
        a, b = simulate(cm, sched, w), simulate(cm, sched, w, miss_targets=targets)
        for name in ("ttft_s", "tpot_s", "e2e_s", "queue_s", "kv_time_s", "kv_used_frac"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert (a.output_tokens_per_s, a.steps, a.keeps_up, a.mean_running) == (
            b.output_tokens_per_s, b.steps, b.keeps_up, b.mean_running)
    # the runner: None for a stopped run, kept apart from the runs read in full
    fresh, *_ = _runner(2)
    assert fresh(8.01, 2000, 0, miss_targets=targets) is None
    assert fresh(8.01, 2000, 0).tpot_ms["p90"] > 50.0


def test_early_stop_takes_the_percentile_asked():
    """A p50 target is missed only when half the requests are over it: 8 requests/s on TP2 is
    overloaded at p90 (TPOT 96 ms) and its run stops; a TPOT target its p50 holds never stops it."""
    _, _, _, cm, sched = _runner(2)
    w = Workload("poisson", 1024, 256, requests=2000, request_rate=8.01, input_spread=0.5, output_spread=0.5,
                 seed=0, context_len=context_of(MODELS["llama3-8b"]))
    full = simulate(cm, sched, w)
    p50_tpot_ms = float(np.percentile(full.tpot_s, 50)) * 1e3
    got = simulate(cm, sched, w, miss_targets=(None, p50_tpot_ms * 1.001, "p50"))
    np.testing.assert_array_equal(got.tpot_s, full.tpot_s)
    with pytest.raises(TargetsMissed):
        simulate(cm, sched, w, miss_targets=(None, p50_tpot_ms * 0.98, "p50"))
    # no percentile to read it against (the mean), or no target: run in full
    assert simulate(cm, sched, w, miss_targets=(None, 1.0, "mean")).steps == full.steps
    assert simulate(cm, sched, w, miss_targets=(None, None, "p90")).steps == full.steps


@pytest.mark.parametrize("kw", [
    dict(input_len=1024, output_len=256, ttft_ms=2000, tpot_ms=50, input_spread=0.5, output_spread=0.5,
         demand_output_tokens_per_s=1e6),
    dict(input_len=2000, output_len=300, ttft_ms=500, tpot_ms=25, input_spread=1.0, output_spread=1.0,
         demand_output_tokens_per_s=1e5),
])
def test_layout_race_answers_as_with_every_run_in_full(kw, monkeypatch):
    """The bench's layout searches (three layouts near-tied, some dropped in the race): the same
    capacity, layout, explanation and layouts under load whether the race's runs that miss are
    stopped early or run in full."""
    fast = slo_capacity_tokens_per_s_per_chip(MODELS["llama3-8b"], CHIPS["h20-96gb"], percentile="p90", **kw)
    stopped = []
    real = capacity.run_load

    def full_runs(cm, sched, w, chips, pool=None, miss_targets=None):
        stopped.append(miss_targets)
        return real(cm, sched, w, chips, pool)

    monkeypatch.setattr(capacity, "run_load", full_runs)
    slow = slo_capacity_tokens_per_s_per_chip(MODELS["llama3-8b"], CHIPS["h20-96gb"], percentile="p90", **kw)
    assert any(stopped)   # the race asked for early stops
    assert repr(fast) == repr(slow)
    assert "under load" in fast.explanation and "miss" in fast.explanation
