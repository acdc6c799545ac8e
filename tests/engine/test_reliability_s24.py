"""QA s24 on training goodput: goodput rose with more chips where Daly's interval jumps (a
checkpoint of 2x the job's MTBF), the no-progress message printed an MTBF of 0.01 as 0, the
run's reliability inputs and losses were in no output, and the forecast's training jobs took a
fixed efficiency whatever the fleet's size or failure rate."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.reliability as rel
from engine.catalog import reference_chips
from engine.forecast import Allocation, ForecastInputs, ForecastScenario, ThroughputTable, TrainingJob
from engine.forecast import job_completions, simulate
from engine.fleet import Delivery, Order
from engine.training import NoProgressError, estimate_run

D = dt.date
PARAMS_405B = 405e9


def _sweep(gbps: float, restart_s: float, mtbf: float | None = None) -> np.ndarray:
    counts = np.unique(np.round(np.geomspace(1, 4e6, 6000)))
    return np.array([rel.goodput(int(n), PARAMS_405B * 14.0, checkpoint_write_gbps=gbps, restart_s=restart_s,
                                 mtbf_chip_hours=mtbf).goodput for n in counts])


def test_goodput_does_not_rise_where_dalys_interval_jumps_to_the_mtbf():
    # 405B at 1 GB/s: a 5,670 s checkpoint reaches 2 x the job's MTBF near 64,350 chips, where
    # the interval jumped from 0.889 M to M and goodput rose (4.2383% on 64,349 chips, 4.2400% on
    # 64,352)
    m = 5670.0 / 2.0
    n = rel.DEFAULT_MTBF_CHIP_HOURS * 3600.0 / m
    below, above = (rel.goodput(int(k), PARAMS_405B * 14.0, checkpoint_write_gbps=1.0).goodput
                    for k in (int(n) - 1, int(n) + 2))
    assert below > 0 and above <= below
    good = _sweep(1.0, 600.0)
    assert np.all(np.diff(good) <= 0.0)


@settings(max_examples=40, deadline=None)
@given(gbps=st.floats(0.01, 5000.0), restart_s=st.floats(0.0, 3600.0), mtbf=st.floats(100.0, 1e6),
       params=st.floats(1e8, 2e12), n=st.integers(1, 2_000_000), more=st.integers(1, 200_000))
def test_goodput_never_rises_with_more_chips(gbps, restart_s, mtbf, params, n, more):
    def good(k):
        return rel.goodput(k, params * 14.0, checkpoint_write_gbps=gbps, restart_s=restart_s,
                           mtbf_chip_hours=mtbf).goodput
    assert good(n + more) <= good(n) + 1e-12


def test_the_usual_interval_is_still_dalys():
    g = rel.goodput(16384, PARAMS_405B * 14.0)
    assert g.checkpoint_interval_s == rel.daly_interval_s(g.checkpoint_time_s, g.mtbf_job_s)


def test_goodput_by_fleet_agrees_with_goodput_element_by_element():
    counts = np.array([[0.0, 1.0, 700.5, 16384.0], [65536.0, 131072.0, 300000.0, 4e6]])
    for gbps, restart_s in ((1000.0, 600.0), (1.0, 600.0), (0.05, 60.0), (10.0, 0.0)):
        got = rel.goodput_by_fleet(counts, PARAMS_405B * 14.0, checkpoint_write_gbps=gbps, restart_s=restart_s)
        want = [[rel.goodput(max(int(k), 1) if k == int(k) else 1, PARAMS_405B * 14.0, checkpoint_write_gbps=gbps,
                             restart_s=restart_s).goodput for k in row] for row in counts]
        assert got[:, [0, 1, 3]] == pytest.approx(np.array(want)[:, [0, 1, 3]], rel=1e-12, abs=1e-15)


def test_no_progress_names_a_small_mtbf_with_its_digits():
    g = rel.goodput(64, PARAMS_405B * 14.0, mtbf_chip_hours=0.01)
    text = rel.no_progress_reason(64, g, 600.0, 0.01)
    assert "(0.01 chip-hours MTBF per chip" in text
    assert "(50,677 chip-hours" in rel.no_progress_reason(1_000_000, rel.goodput(1_000_000, 0.0), 600.0)


def test_the_run_estimate_carries_its_reliability_inputs_and_losses():
    chip = reference_chips()["h800-sxm5-80gb"]
    est = estimate_run(15e12, 162.4, 65536, chip, params=PARAMS_405B)
    d = est.as_dict()
    assert d["mtbf_chip_hours"] == pytest.approx(rel.DEFAULT_MTBF_CHIP_HOURS)
    assert (d["restart_min"], d["checkpoint_write_gbps"], d["checkpoint_bytes_per_param"]) == (10.0, 1000.0, 14.0)
    assert d["job_mtbf_h"] == pytest.approx(rel.DEFAULT_MTBF_CHIP_HOURS / 65536)
    assert d["checkpoint_write_s"] == pytest.approx(PARAMS_405B * 14 / 1e12)
    assert (d["utilisation"], d["pue"]) == (0.8, 1.2)
    lost = d["lost_to_restarts_pct"] + d["lost_to_rework_pct"] + d["lost_to_checkpoints_pct"]
    assert lost + 100 * d["goodput"] == pytest.approx(100.0)
    bigger = estimate_run(15e12, 162.4, 65536, chip, params=PARAMS_405B, checkpoint_bytes_per_param=28.0)
    assert bigger.checkpoint_write_s == pytest.approx(2 * est.checkpoint_write_s)
    assert bigger.goodput < est.goodput
    with pytest.raises(NoProgressError):
        estimate_run(15e12, 162.4, 65536, chip, params=PARAMS_405B, mtbf_chip_hours=0.01)


# ---- the forecast's training jobs ------------------------------------------------------------

CHIP = "chip-a"


def _job_inputs(chips: int) -> ForecastInputs:
    o = Order(id=1, buyer="b", vendor="v", chip_id=CHIP, quantity=chips, order_date=D(2023, 1, 1),
              deliveries=(Delivery(id=1, order_id=1, date=D(2023, 12, 1), quantity=chips),))
    tokens = chips * 1000.0 * 86400.0 * 100   # 100 days at 1,000 tokens/s per chip
    sc = ForecastScenario(start=D(2024, 1, 1), months=24, trials=10, seed=1, install_lag_days=0.0,
                          annual_failure_rate=0.0, allocation=Allocation({CHIP: 1.0}),
                          jobs=(TrainingJob("405B", "m", tokens, CHIP, D(2024, 1, 1)),))
    table = {("m", CHIP): ThroughputTable((1.0, 1e7), (1000.0, 1000.0))}
    return ForecastInputs((o,), sc, {CHIP: 400.0}, {CHIP: 50.0}, training_tokens_per_s_per_chip=table)


def _days(chips: int, reliability: rel.ReliabilityInputs | None) -> float:
    inp = _job_inputs(chips)
    s = simulate(inp, fixed=("supply", "throughput", "demand", "mix", "policy"))
    goodput = None if reliability is None else (lambda job, fleet: reliability.goodput_by_fleet(fleet, PARAMS_405B))
    (start, done), = job_completions(inp, s, job_goodput=goodput)
    return float(np.median(done - start))


def test_forecast_jobs_take_the_goodput_of_their_fleet_and_failure_rate():
    assert _days(1000, None) == pytest.approx(100.0, abs=0.01)   # without: as it was
    rates = rel.ReliabilityInputs()
    small, big = _days(1000, rates), _days(65536, rates)
    assert small == pytest.approx(100.0 / rel.goodput(1000, PARAMS_405B * 14.0).goodput, rel=1e-3)
    assert big == pytest.approx(100.0 / rel.goodput(65536, PARAMS_405B * 14.0).goodput, rel=1e-3)
    assert big > small * 1.2
    failing = rel.ReliabilityInputs(mtbf_chip_hours=rel.DEFAULT_MTBF_CHIP_HOURS / 5)
    assert _days(14864, failing) > _days(14864, rates) * 1.05


def test_reliability_inputs_from_a_saved_training_study():
    assert rel.ReliabilityInputs.from_training_state(None) == rel.ReliabilityInputs()
    got = rel.ReliabilityInputs.from_training_state({"mtbf_chip_hours": 0.0, "restart_min": 2.5,
                                                      "checkpoint_write_gbps": 2.4})
    assert got == rel.ReliabilityInputs(mtbf_chip_hours=None, restart_min=2.5, checkpoint_write_gbps=2.4)
    assert rel.ReliabilityInputs.from_training_state({"mtbf_chip_hours": 10000}).mtbf_chip_hours == 10000.0
