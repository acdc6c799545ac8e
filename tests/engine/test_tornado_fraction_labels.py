"""QA s20: each tornado setting's label names the percentile its bar was computed at.

The delivered-share bar read "P10 | P90" while its first bar was computed at the share's 0.9
quantile (story, Jul 2025: "Huawei fraction P10 | P90, +4.8, -4" where 50% delivered lowers
P(meet)); the throughput bar left the scenario's sigma scale out and held training throughput at
its median at both ends ("P90 | P10" on the completion tab, both +1.3 days).
"""

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pytest

import engine.forecast_sensitivity as fs
from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import (Allocation, DemandCurve, DemandPoint, ForecastInputs, ForecastScenario,
                             OrderUncertainty, ThroughputTable, TrainingJob, quantile, simulate)

D = dt.date
CHIP = "chip-a"
# a wide delivered share (30-80%) and delay (0-365 days): both move P(meet) and the job
HUAWEI = OrderUncertainty("beta", 0.3, 0.4, 0.8, "order", "triangular", 0, 90, 365)
MONTH = D(2025, 7, 1)


def _orders() -> tuple[Order, ...]:
    q = 100_000
    return (Order(id=1, buyer="B", vendor="Huawei", chip_id=CHIP, quantity=q, order_date=D(2024, 1, 1),
                  promised=(ScheduledLot(D(2024, 7, 1), 30_000), ScheduledLot(D(2025, 1, 1), 35_000),
                            ScheduledLot(D(2025, 7, 1), 35_000)),
                  deliveries=(Delivery(0, 1, D(2024, 7, 1), 30_000),)),)


def _inputs(**scenario_kw) -> ForecastInputs:
    # demand between the P10 and P90 of the capacity in Jul 2025, so every input moves P(meet)
    scenario = dict(start=D(2024, 1, 1), months=36, trials=400, seed=3, install_lag_days=0.0,
                    demand=DemandCurve(points=(DemandPoint(D(2023, 1, 1), 0.5), DemandPoint(D(2023, 7, 1), 0.7),
                                               DemandPoint(D(2024, 1, 1), 1.0)),
                                       growth_model="decaying", request_mix_sigma=0.2, model_id="m",
                                       chip_id=CHIP, input_tokens_per_request=0.0, output_tokens_per_request=1.0),
                    vendor_uncertainty={"Huawei": HUAWEI},
                    jobs=(TrainingJob(name="job", model_id="m", chip_id=CHIP, tokens=5e14,
                                      earliest_start=D(2024, 8, 1)),),
                    allocation=Allocation(training_share={CHIP: 0.3}))
    scenario.update(scenario_kw)
    return ForecastInputs(orders=_orders(), scenario=ForecastScenario(**scenario), chip_peak_tflops={CHIP: 500.0},
                          serving_tokens_per_s_per_chip={CHIP: 1.0},
                          training_tokens_per_s_per_chip={("m", CHIP): ThroughputTable((1.0, 1e6), (1000.0, 1000.0))},
                          family_by_chip={CHIP: "f"}, serving_sigma_by_chip={CHIP: 0.3},
                          training_sigma_by_chip={CHIP: 0.3})


def _percentile_of(label: str) -> float:
    """"P90 (good end)" -> 0.9."""
    head = label.split(" (")[0]
    assert head.startswith("P") and head[1:].isdigit(), label
    return int(head[1:]) / 100


def _calibrated_demand(inputs: ForecastInputs) -> ForecastInputs:
    """Peak demand at the median capacity of MONTH, so P(meet) there is near 50%."""
    s = simulate(inputs, trials=400)
    i = list(s.months).index(MONTH)
    median = float(np.median(s.capacity_tps[:, i]))
    scale = median / float(np.median(s.demand_tps[:, i]))
    sc = inputs.scenario
    return replace(inputs, scenario=replace(sc, demand=replace(sc.demand, scale=sc.demand.scale * scale)))


@pytest.fixture(scope="module")
def bars():
    inputs = _calibrated_demand(_inputs())
    return {b.input: b for b in fs.tornado(inputs, month=MONTH, trials=400).bars}


def test_each_vendor_setting_is_labelled_with_the_quantile_it_was_computed_at(monkeypatch):
    """The labels against the quantiles `_vendor_setting` was actually called with."""
    calls = []
    real = fs._vendor_setting

    def spy(unc, which, q):
        calls.append((which, q))
        return real(unc, which, q)

    monkeypatch.setattr(fs, "_vendor_setting", spy)
    monkeypatch.setattr(fs, "_metrics", lambda *a, **k: {"prob_meet_demand": 0.5})
    monkeypatch.setattr(fs, "_demand_pinned", lambda *a, **k: ({}, {}))
    t = fs.tornado(_inputs(), month=MONTH, trials=10)
    vendor_bars = [b for b in t.bars if b.input.startswith("Huawei ")]
    assert [b.input for b in vendor_bars] == ["Huawei fraction", "Huawei delay"]
    for k, bar in enumerate(vendor_bars):
        (which_low, q_low), (which_high, q_high) = calls[2 * k], calls[2 * k + 1]
        assert bar.input == f"Huawei {which_low}" and which_high == which_low
        assert _percentile_of(bar.low_label) == pytest.approx(q_low), (bar.input, bar.low_label, q_low)
        assert _percentile_of(bar.high_label) == pytest.approx(q_high), (bar.input, bar.high_label, q_high)


def test_a_delivered_shares_low_percentile_has_the_lower_p_meet(bars):
    """Less delivered can't meet demand more often: the setting labelled with the lower
    percentile of the share has the lower P(meet) and the later job."""
    bar = bars["Huawei fraction"]
    at = {_percentile_of(bar.low_label): bar.low, _percentile_of(bar.high_label): bar.high}
    assert set(at) == {0.1, 0.9}
    assert at[0.1]["prob_meet_demand"] < at[0.9]["prob_meet_demand"]
    assert at[0.1]["shortfall_mean_unit_chips"] > at[0.9]["shortfall_mean_unit_chips"]
    assert at[0.1]["job_completion_days"] >= at[0.9]["job_completion_days"]


@pytest.mark.parametrize("name, more_is_better", [("Huawei fraction", True), ("Huawei delay", False),
                                                  ("throughput", True), ("request mix", False),
                                                  ("demand (points and growth)", False)])
def test_each_percentile_label_points_the_way_its_input_moves_p_meet(bars, name, more_is_better):
    """For every percentile-labelled input: its P90 setting is the better one where more of it
    helps (delivered share, throughput) and the worse one where more of it hurts (delay, mix,
    demand growth)."""
    bar = bars[name]
    at = {_percentile_of(bar.low_label): bar.low["prob_meet_demand"],
          _percentile_of(bar.high_label): bar.high["prob_meet_demand"]}
    assert set(at) == {0.1, 0.9}, (bar.low_label, bar.high_label)
    if more_is_better:
        assert at[0.9] > at[0.1], (name, at)
    else:
        assert at[0.9] < at[0.1], (name, at)


def test_the_throughput_bar_pins_training_throughput_too(bars):
    """The completion tab's throughput bar: the job is done sooner at P90 (fast) than at P10
    (slow); both ends held training at its median and read the same."""
    bar = bars["throughput"]
    assert _percentile_of(bar.low_label) == 0.9 and _percentile_of(bar.high_label) == 0.1
    assert bar.low["job_completion_days"] < bar.high["job_completion_days"]


def test_the_throughput_bar_uses_the_scenarios_sigma_scale():
    """With throughput_sigma_scale 0 the forecast draws no throughput spread: neither end moves
    P(meet); at 2 the P90 end is the multiplier exp(1.28 * 2 * sigma), as simulate draws it."""
    t = fs.tornado(_calibrated_demand(_inputs(throughput_sigma_scale=0.0)), month=MONTH, trials=200)
    bar = next(b for b in t.bars if b.input == "throughput")
    assert bar.low["prob_meet_demand"] == pytest.approx(bar.high["prob_meet_demand"])

    wide = fs._throughput_pinned(_inputs(throughput_sigma_scale=2.0), -fs.Z90)
    assert wide.serving_tokens_per_s_per_chip[CHIP] == pytest.approx(math.exp(-fs.Z90 * 2.0 * 0.3))
    table = wide.training_tokens_per_s_per_chip[("m", CHIP)]
    assert table.tokens_per_s_per_chip[0] == pytest.approx(1000.0 * math.exp(-fs.Z90 * 2.0 * 0.3))
    assert wide.serving_sigma_by_chip == {} and wide.training_sigma_by_chip == {}


def test_a_callable_training_throughput_is_pinned_too():
    inputs = replace(_inputs(), training_tokens_per_s_per_chip=lambda model, chip, n: 500.0)
    fast = fs._throughput_pinned(inputs, fs.Z90)
    assert fast.training_tokens_per_s_per_chip("m", CHIP, 8) == pytest.approx(500.0 * math.exp(fs.Z90 * 0.3))


def test_the_vendor_quantiles_are_the_distributions_own():
    """The fraction pinned at 0.9 is the share's 90th percentile (beta 0.3-0.4-0.8 here)."""
    pinned = fs._vendor_setting(HUAWEI, "fraction", 0.9)
    p90 = float(quantile("beta", 0.3, 0.4, 0.8, np.array([0.9]))[0])
    assert pinned.fraction_mode == pytest.approx(p90) and p90 > 0.4
