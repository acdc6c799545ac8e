"""The order planner's shortcuts (S22 speed-up) give exactly the values the direct computation gives."""

from dataclasses import replace

import numpy as np
import pytest

import engine.forecast as forecast
from engine.forecast import (ForecastInputs, ThroughputTable, _add_months, _stream, _survival, _text_key,
                             default_scenario, draw_fraction_delay, simulate, vendor_shocks)
from engine.forecast_inputs import story_orders, throughput_sigmas
from engine.forecast_plan import (Candidate, PlanRequest, _arrivals, _candidate_unc, _drop_plan_caches, _OnValidation,
                                  _plan_capacity)

SERVING = {"ascend-910b2": 316.0, "h20-96gb": 479.5, "h800-sxm5-80gb": 860.9, "h100-sxm5-80gb": 1023.8}
PEAK = {"ascend-910b2": 376.0, "h20-96gb": 148.0, "h800-sxm5-80gb": 989.4, "h100-sxm5-80gb": 989.4}
ASCEND = Candidate("ascend-910b2", "Huawei", 16854.0, 6, 1e7)
H20 = Candidate("h20-96gb", "NVIDIA", 12000.0, 3, 1e7)   # the story's export cut-off falls on it
SEED = 11


@pytest.fixture(scope="module")
def story():
    """The story scenario (as bench/bench_plan.py), 400 trials of it."""
    family, s_sig, t_sig = throughput_sigmas(list(SERVING))
    table = ThroughputTable((8.0, 128.0, 2048.0, 32768.0), (0.0, 66.0, 63.0, 61.0))
    inputs = ForecastInputs(orders=tuple(story_orders()), scenario=replace(default_scenario(), months=36),
                            chip_peak_tflops=PEAK, serving_tokens_per_s_per_chip=SERVING,
                            training_tokens_per_s_per_chip={("llama3-405b", "ascend-910b2"): table},
                            family_by_chip=family, serving_sigma_by_chip=s_sig, training_sigma_by_chip=t_sig)
    yield inputs, simulate(inputs, trials=400, seed=SEED)
    _drop_plan_caches()


def direct_arrivals(inputs, s, cand, order_months, seed):
    """`_arrivals` as it was: the vendor draws and the ageing of every trial, order month and month.
    Each order month is a contract of its own, with its own noise, as the forecast draws it once
    the order is added to the fleet (s23: one draw per candidate had served all its months)."""
    sc, n = inputs.scenario, s.capacity_tps.shape[0]
    common = s.vendor_z.get(cand.vendor.lower())
    if common is None:
        common = vendor_shocks(seed, cand.vendor, n)
    draws = [draw_fraction_delay(_candidate_unc(inputs, cand), common, _stream(
        seed, 2, _text_key(f"{cand.vendor}|{cand.chip_id}|{m.isoformat()}")).standard_normal((2, n)), n)
        for m in order_months]
    fraction = np.stack([f for f, _ in draws], axis=1)            # trials x order months
    delay = np.stack([d for _, d in draws], axis=1)
    month_ord = np.array([m.toordinal() for m in s.months], dtype=float)
    ship = np.array([_add_months(m, cand.lead_time_months).toordinal() for m in order_months], dtype=float)
    ship = ship[None, :] + np.rint(delay)
    out = fraction[:, :, None] * _survival(month_ord[None, None, :] - (ship[:, :, None] + sc.install_lag_days), sc)
    start, end = s.cutoffs.get(cand.chip_id, (np.full(n, np.inf), np.full(n, np.inf)))
    lost = (ship >= start[:, None]) & (ship < end[:, None])
    return np.where(lost[:, :, None], 0.0, out), lost


@pytest.mark.parametrize("cand", [ASCEND, H20], ids=["no cut-off", "export cut-off"])
def test_arrivals_equal_the_ageing_of_every_trial(story, cand):
    inputs, s = story
    order_months = list(s.months[2:30])
    expected, lost = direct_arrivals(inputs, s, cand, order_months, SEED)
    assert lost.any() == (cand is H20)   # the cut-off case does lose lots
    assert np.array_equal(_arrivals(inputs, s, cand, order_months, SEED, slice(None)), expected)
    window = slice(8, 20)
    assert np.array_equal(_arrivals(inputs, s, cand, order_months, SEED, slice(None), window), expected[:, :, window])
    # drawn once per candidate and trials, the same again
    assert np.array_equal(_arrivals(inputs, s, cand, order_months, SEED, slice(None)), expected)


def test_capacity_in_the_target_months_alone_equals_those_months_of_all(story):
    inputs, s = story
    req = PlanRequest(candidates=(ASCEND, H20))
    order_months = list(s.months[3:6])
    lots = np.array([[0.0, 2000.0, 0.0], [1000.0, 0.0, 3000.0]])
    add, train = _plan_capacity(inputs, s, req, order_months, lots, SEED)
    window = slice(5, 17)
    add_window, no_train = _plan_capacity(inputs, s, req, order_months, lots, SEED, months=window, training=False)
    assert np.array_equal(add_window, add[:, window]) and add_window.any()
    assert no_train == {} and set(train) == {"ascend-910b2", "h20-96gb"}


def test_lots_of_a_chip_no_job_trains_on_do_not_simulate_the_jobs_again(story, monkeypatch):
    """The training deadlines move with the chips a job trains on alone: plans differing in H20 lots
    share one simulation of the jobs (it was re-run at every step of an H20 order's bisection)."""
    inputs, s = story
    assert any(j.deadline is not None and j.chip_id == ASCEND.chip_id for j in inputs.scenario.jobs)
    assert all(j.chip_id != H20.chip_id for j in inputs.scenario.jobs)
    calls = []
    real = forecast.job_completions
    monkeypatch.setattr(forecast, "job_completions", lambda *a, **k: calls.append(1) or real(*a, **k))
    req = PlanRequest(candidates=(ASCEND, H20))
    order_months = list(s.months[3:9])
    check = _OnValidation(inputs, req, order_months, 10, 20, s)
    lots = np.zeros((2, len(order_months)))
    lots[0, 1] = 5
    first = check.jobs_on_time(lots)
    for h20_lots in (3, 8, 40):
        lots[1, 2] = h20_lots
        assert check.jobs_on_time(lots) == first
    assert len(calls) == 1
    lots[0, 1] = 50   # more of the chip the job trains on: simulated again
    check.jobs_on_time(lots)
    assert len(calls) == 2
