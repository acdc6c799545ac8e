"""Forecast engine: closed forms derived by hand, Monte Carlo properties, scenarios, hooks."""

import dataclasses
import datetime as dt
import json
import re
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import Cancelled, UserError, ValidationError
from engine.fleet import Delivery, Order, ScheduledLot, installed_timeline, month_starts
from engine.forecast import (Allocation, AllocationStep, DemandCurve, DemandPoint, ForecastInputs,
                             ForecastScenario, OrderUncertainty, ThroughputTable, TrainingJob,
                             DOUBAO_TOKENS_PER_DAY, default_scenario, demand_tokens_per_day,
                             deterministic_installed, outstanding_lots, run_forecast, sample,
                             scenario_from_dict, scenario_to_dict)

D = dt.date
CHIP = "chip-a"


def order(oid=1, qty=100_000, deliveries=(), promised=(), vendor="Huawei", chip=CHIP):
    return Order(id=oid, buyer="B", vendor=vendor, chip_id=chip, quantity=qty, order_date=D(2024, 1, 1),
                 promised=tuple(ScheduledLot(d, q) for d, q in promised),
                 deliveries=tuple(Delivery(i, oid, d, q) for i, (d, q) in enumerate(deliveries)))


def fixed(fraction=1.0, delay=0.0, of="order"):
    return OrderUncertainty("fixed", fraction, fraction, fraction, of, "fixed", delay, delay, delay)


def scenario(**kw):
    base = dict(start=D(2024, 1, 1), months=24, trials=200, seed=1, install_lag_days=0.0,
                demand=DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1.0),), model_id="m", chip_id=CHIP,
                                   input_tokens_per_request=0.0, output_tokens_per_request=1.0))
    base.update(kw)
    return ForecastScenario(**base)


def inputs(orders, sc, tput=1.0, training=None, chips=(CHIP,)):
    return ForecastInputs(orders=tuple(orders), scenario=sc, chip_peak_tflops={c: 500.0 for c in chips},
                          serving_tokens_per_s_per_chip={c: tput for c in chips},
                          training_tokens_per_s_per_chip=training or {})


def month_index(sc, day):
    return month_starts(sc.start, sc.months).index(day)


# The story-shaped order: 30,000 of 100,000 delivered on 2024-07-01, the rest promised in two lots.
STORY_ORDER = order(deliveries=[(D(2024, 7, 1), 30_000)],
                    promised=[(D(2024, 7, 1), 30_000), (D(2025, 1, 1), 35_000), (D(2025, 7, 1), 35_000)])


# ---- supply closed forms -------------------------------------------------------------------

def test_fixed_fraction_of_order_scales_every_undelivered_lot():
    # 50% of 100,000 with 30,000 delivered: 20,000 more, i.e. 2/7 of each 35,000 lot = 10,000.
    sc = scenario(default_uncertainty=fixed(0.5), months=24)
    r = run_forecast(inputs([STORY_ORDER], sc))
    bands = r.installed_by_chip[CHIP]
    for day, expected in ((D(2024, 6, 1), 0), (D(2024, 8, 1), 30_000), (D(2025, 2, 1), 40_000),
                          (D(2025, 8, 1), 50_000)):
        i = month_index(sc, day)
        assert bands.p10[i] == bands.p50[i] == bands.p90[i] == pytest.approx(expected, abs=1e-6)
    assert r.promised_by_chip[CHIP][month_index(sc, D(2025, 8, 1))] == 100_000


def test_fixed_fraction_of_outstanding_and_fixed_delay():
    sc = scenario(default_uncertainty=fixed(0.5, delay=45, of="outstanding"))
    p50 = run_forecast(inputs([STORY_ORDER], sc)).installed_by_chip[CHIP].p50
    # The January lot (17,500 after halving) is ready 45 days late, on 2025-02-15.
    assert p50[month_index(sc, D(2025, 2, 1))] == pytest.approx(30_000)
    assert p50[month_index(sc, D(2025, 3, 1))] == pytest.approx(47_500)
    assert p50[month_index(sc, D(2025, 9, 1))] == pytest.approx(65_000)


def test_fraction_below_what_is_delivered_adds_nothing():
    sc = scenario(default_uncertainty=fixed(0.2))
    p90 = run_forecast(inputs([STORY_ORDER], sc)).installed_by_chip[CHIP].p90
    assert p90.max() == 30_000


def test_failures_and_retirement_closed_form():
    o = order(qty=12_000, deliveries=[(D(2024, 1, 1), 12_000)], promised=[(D(2024, 1, 1), 12_000)])
    sc = scenario(annual_failure_rate=0.1)
    p50 = run_forecast(inputs([o], sc)).installed_by_chip[CHIP].p50
    assert p50[month_index(sc, D(2024, 12, 1))] == pytest.approx(12_000 * 0.9 ** (335 / 365.25), rel=1e-12)
    assert p50[month_index(sc, D(2025, 1, 1))] == pytest.approx(12_000 * 0.9 ** (366 / 365.25), rel=1e-12)
    sc = scenario(lifetime_years=1.0)
    p50 = run_forecast(inputs([o], sc)).installed_by_chip[CHIP].p50
    assert p50[month_index(sc, D(2024, 12, 1))] == 12_000  # 335 days old
    assert p50[month_index(sc, D(2025, 1, 1))] == 0  # 366 days > 365.25


def test_install_lag_delays_installation():
    o = order(qty=1000, deliveries=[(D(2024, 1, 20), 1000)])
    sc = scenario(install_lag_days=30)  # ready 2024-02-19
    p50 = run_forecast(inputs([o], sc)).installed_by_chip[CHIP].p50
    assert list(p50[:4]) == [0, 0, 1000, 1000]


def test_unscheduled_quantity_is_spread_after_as_of_and_overdue_lots_move_to_as_of():
    o = dataclasses.replace(order(qty=12_000), order_date=D(2023, 6, 1))
    lots = outstanding_lots(o, D(2024, 1, 10), 12)
    assert [d for d, _ in lots][:2] == [D(2024, 2, 1), D(2024, 3, 1)] and len(lots) == 12
    # ordered Jan 2024, as of 10 Jan: not before a lead time (3 months) after the order
    assert outstanding_lots(order(qty=12_000), D(2024, 1, 10), 12)[0][0] == D(2024, 4, 1)
    assert all(q == 1000 for _, q in lots)
    late = order(qty=5000, promised=[(D(2023, 6, 1), 5000)])
    assert outstanding_lots(late, D(2024, 1, 10), 12) == [(D(2024, 1, 10), 5000.0)]
    sc = scenario(as_of=D(2024, 1, 10))
    p50 = run_forecast(inputs([o], sc)).installed_by_chip[CHIP].p50
    assert p50[month_index(sc, D(2024, 3, 1))] == 2000


def test_deliveries_fill_the_earliest_promised_lots_first():
    o = order(qty=100, deliveries=[(D(2024, 2, 1), 50)], promised=[(D(2024, 1, 1), 40), (D(2024, 6, 1), 60)])
    assert outstanding_lots(o, D(2024, 2, 1), 12) == [(D(2024, 6, 1), 50.0)]


# ---- Monte Carlo vs deterministic ----------------------------------------------------------

def two_orders():
    a = order(1, deliveries=[(D(2024, 7, 1), 30_000)],
              promised=[(D(2024, 7, 1), 30_000), (D(2024, 12, 1), 30_000), (D(2025, 6, 1), 40_000)])
    b = order(2, qty=50_000, vendor="NVIDIA", chip="chip-b", deliveries=[(D(2024, 3, 1), 20_000)])
    return [a, b]


def test_monte_carlo_without_uncertainty_equals_lot_by_lot_computation_exactly():
    sc = scenario(months=36, trials=50, vendor_uncertainty={"Huawei": fixed(0.6, delay=40), "NVIDIA": fixed(0.5, 10, "outstanding")})
    r = run_forecast(inputs(two_orders(), sc, chips=(CHIP, "chip-b")))
    expected = deterministic_installed(two_orders(), sc, {1: 3 / 7, 2: 0.5}, {1: 40, 2: 10})
    for chip in (CHIP, "chip-b"):
        bands = r.installed_by_chip[chip]
        assert np.array_equal(bands.p10, bands.p90) and np.array_equal(bands.p50, bands.p90)
        assert np.array_equal(bands.p50, expected[chip])  # integer sums: exact in float64


def test_monte_carlo_without_uncertainty_matches_deterministic_with_attrition():
    sc = scenario(months=36, trials=20, annual_failure_rate=0.07, lifetime_years=2.0,
                  vendor_uncertainty={"Huawei": fixed(0.6, delay=40)})
    r = run_forecast(inputs(two_orders(), sc, chips=(CHIP, "chip-b")))
    expected = deterministic_installed(two_orders(), sc, {1: 3 / 7}, {1: 40})
    for chip in (CHIP, "chip-b"):
        np.testing.assert_allclose(r.installed_by_chip[chip].p50, expected[chip], rtol=1e-12, atol=1e-9)


def test_delivered_only_matches_fleet_installed_timeline():
    o = order(qty=30_000, deliveries=[(D(2024, 7, 15), 10_000), (D(2024, 8, 15), 10_000), (D(2024, 9, 15), 10_000)])
    sc = scenario(install_lag_days=30)
    r = run_forecast(inputs([o], sc))
    expected = installed_timeline([o], month_starts(sc.start, sc.months), install_lag_days=30)[CHIP]
    assert np.array_equal(r.installed_by_chip[CHIP].p50, expected)


def _one_lot_due_2025_with_uniform_delay(high_days, *, start, months, trials, as_of):
    """A forecast of one lot of 1,000 due 2025-01-01, delay uniform on [0, high_days], demand 1,000
    chips' worth (P(meet) is then P(the lot is installed))."""
    o = order(qty=1000, promised=[(D(2025, 1, 1), 1000)])
    unc = OrderUncertainty(delay_dist="uniform", delay_low_days=0, delay_mode_days=high_days / 2,
                           delay_high_days=high_days)
    demand = DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1000 * 86400.0),), model_id="m", chip_id=CHIP,
                         input_tokens_per_request=0.0, output_tokens_per_request=1.0)
    sc = scenario(start=start, months=months, trials=trials, default_uncertainty=unc, demand=demand, as_of=as_of)
    return run_forecast(inputs([o], sc))


def test_uniform_delay_gives_the_closed_form_probability():
    # One lot of 1,000 due 2025-01-01, delay uniform on [0, 60] days rounded to whole days: it is
    # installed by 2025-02-01 when the delay is under 31.5 days (p = 31.5/60), by 2025-03-01 under 59.5.
    r = _one_lot_due_2025_with_uniform_delay(60, start=D(2024, 12, 1), months=4, trials=20_000, as_of=D(2024, 6, 1))
    assert r.demand_unit_chips[0] == pytest.approx(1000)
    assert r.prob_meet_demand[0] == 0
    assert r.prob_meet_demand[1] == pytest.approx(0.5 / 60, abs=0.003)  # delays rounding to 0 days
    assert r.prob_meet_demand[2] == pytest.approx(31.5 / 60, abs=0.015)
    assert r.prob_meet_demand[3] == pytest.approx(59.5 / 60, abs=0.005)
    bands = r.installed_by_chip[CHIP]
    assert (bands.p10[2], bands.p90[2]) == (0, 1000)


def test_pert_beta_mean_is_the_textbook_formula():
    x = sample("beta", 0.3, 0.4, 0.8, 200_000, np.random.default_rng(0))
    assert x.min() >= 0.3 and x.max() <= 0.8
    assert x.mean() == pytest.approx((0.3 + 4 * 0.4 + 0.8) / 6, abs=0.002)
    t = sample("triangular", 0, 90, 365, 200_000, np.random.default_rng(0))
    assert t.mean() == pytest.approx((0 + 90 + 365) / 3, rel=0.01)


def uncertain_scenario(seed=7, trials=500):
    return scenario(months=36, trials=trials, seed=seed, annual_failure_rate=0.03,
                    vendor_uncertainty={
                        "Huawei": OrderUncertainty("beta", 0.3, 0.4, 0.8, "order", "triangular", 0, 90, 365),
                        "NVIDIA": OrderUncertainty("uniform", 0.0, 0.5, 1.0, "outstanding", "uniform", -30, 0, 200)})


def test_bands_are_ordered_and_the_seed_reproduces():
    r1 = run_forecast(inputs(two_orders(), uncertain_scenario(), chips=(CHIP, "chip-b")))
    r2 = run_forecast(inputs(two_orders(), uncertain_scenario(), chips=(CHIP, "chip-b")))
    r3 = run_forecast(inputs(two_orders(), uncertain_scenario(seed=8), chips=(CHIP, "chip-b")))
    for bands in [*r1.installed_by_chip.values(), r1.installed_total, r1.pflops_total, r1.h100_equiv_total,
                  r1.serving_capacity_unit_chips]:
        assert np.all(bands.p10 <= bands.p50) and np.all(bands.p50 <= bands.p90)
    assert np.array_equal(r1.installed_total.p50, r2.installed_total.p50)
    assert np.array_equal(r1.prob_meet_demand, r2.prob_meet_demand)
    assert not np.array_equal(r1.installed_total.p50, r3.installed_total.p50)
    # P50 of the fleet really is uncertain here
    assert (r1.installed_total.p90 - r1.installed_total.p10).max() > 1000


def test_editing_one_order_leaves_the_other_orders_draws_alone():
    sc = uncertain_scenario()
    r1 = run_forecast(inputs(two_orders(), sc, chips=(CHIP, "chip-b")))
    sc2 = replace(sc, order_uncertainty={2: fixed(1.0)})
    r2 = run_forecast(inputs(two_orders(), sc2, chips=(CHIP, "chip-b")))
    assert np.array_equal(r1.installed_by_chip[CHIP].p50, r2.installed_by_chip[CHIP].p50)
    assert not np.array_equal(r1.installed_by_chip["chip-b"].p50, r2.installed_by_chip["chip-b"].p50)


@settings(max_examples=25, deadline=None)
@given(lo=st.floats(0, 1), mid=st.floats(0, 1), hi=st.floats(0, 1), dlo=st.floats(-100, 300),
       dspan=st.floats(0, 400), kind=st.sampled_from(["uniform", "triangular", "beta"]), seed=st.integers(0, 10**6))
def test_bands_ordered_and_finite_for_any_distribution(lo, mid, hi, dlo, dspan, kind, seed):
    lo, mid, hi = sorted((lo, mid, hi))
    unc = OrderUncertainty(kind, lo, mid, hi, "order", kind, dlo, dlo + dspan / 2, dlo + dspan)
    sc = scenario(months=30, trials=64, seed=seed, default_uncertainty=unc, annual_failure_rate=0.05)
    r = run_forecast(inputs(two_orders(), sc, chips=(CHIP, "chip-b")))
    for b in (r.installed_total, r.pflops_total, r.serving_capacity_tokens_per_s):
        assert np.all(np.isfinite(b.p50)) and np.all(b.p10 <= b.p50) and np.all(b.p50 <= b.p90)
    assert np.all((0 <= r.prob_meet_demand) & (r.prob_meet_demand <= 1))
    assert np.all(r.installed_total.p90 <= 150_000 + 1e-6)


# ---- demand --------------------------------------------------------------------------------

def test_piecewise_curve_is_log_linear_and_grows_after_the_last_point():
    c = DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1e9), DemandPoint(D(2025, 1, 1), 4e9)),
                    growth_after_last_per_year=2.0)
    v = demand_tokens_per_day(c, [D(2023, 6, 1), D(2024, 7, 2), D(2026, 1, 1)])
    assert v[0] == pytest.approx(1e9)  # flat before the first point
    assert v[1] == pytest.approx(2e9, rel=1e-12)  # 183 of 366 days: the geometric mean
    assert v[2] == pytest.approx(4e9 * 2 ** (365 / 365.25), rel=1e-12)


def test_exponential_and_logistic_fits_pass_through_two_points():
    pts = (DemandPoint(D(2024, 1, 1), 1e9), DemandPoint(D(2025, 1, 1), 1e10))
    exp = demand_tokens_per_day(DemandCurve(points=pts, kind="exponential"), [D(2024, 1, 1), D(2025, 1, 1), D(2026, 1, 1)])
    np.testing.assert_allclose(exp, [1e9, 1e10, 1e10 * 10 ** (365 / 366)], rtol=1e-9)
    log = demand_tokens_per_day(DemandCurve(points=pts, kind="logistic", ceiling_tokens_per_day=1e11),
                                [D(2024, 1, 1), D(2025, 1, 1), D(2040, 1, 1)])
    np.testing.assert_allclose(log[:2], [1e9, 1e10], rtol=1e-9)
    assert 0.999e11 < log[2] < 1e11


def test_demand_to_chips_by_hand():
    # 8.64e9 tokens/day x 2 (peak) x 1/4 output share / 86,400 s = 50,000 output tokens/s at peak;
    # at 100 tokens/s per chip that is 500 chips, 1,000 at half efficiency.
    demand = DemandCurve(points=(DemandPoint(D(2024, 1, 1), 8.64e9),), peak_to_average=2.0,
                         input_tokens_per_request=3.0, output_tokens_per_request=1.0, model_id="m", chip_id=CHIP)
    o = order(qty=400, deliveries=[(D(2023, 12, 1), 400)])
    sc = scenario(demand=demand, months=3)
    r = run_forecast(inputs([o], sc, tput=100.0))
    assert r.demand_peak_output_tokens_per_s[0] == pytest.approx(50_000)
    assert r.demand_unit_chips[0] == pytest.approx(500)
    assert r.serving_capacity_unit_chips.p50[0] == pytest.approx(400)
    assert r.shortfall_p50_unit_chips[0] == pytest.approx(100) and r.prob_meet_demand[0] == 0
    half = run_forecast(inputs([o], replace(sc, serving_efficiency_scale=0.5), tput=100.0))
    assert half.demand_unit_chips[0] == pytest.approx(1000)
    # the notes name the rate the figures use, not only the engine's (QA: 'h800 900' at x0.5)
    assert f"serving efficiency x0.5 applied: the forecast counts {CHIP} 50 output tokens/s per chip" in half.notes
    assert not any("serving efficiency x" in n for n in r.notes)
    # Half the fleet trains from February: serving capacity halves.
    sc_alloc = replace(sc, allocation=Allocation({CHIP: 0.0}, 0.0, (AllocationStep(D(2024, 2, 1), CHIP, 0.5),)))
    alloc = run_forecast(inputs([o], sc_alloc, tput=100.0))
    assert list(alloc.serving_capacity_unit_chips.p50) == pytest.approx([400, 200, 200])
    assert list(alloc.training_share_by_chip[CHIP]) == [0, 0.5, 0.5]
    bigger = run_forecast(inputs([order(qty=600, deliveries=[(D(2023, 12, 1), 600)])], sc, tput=100.0))
    assert bigger.prob_meet_demand[0] == 1 and bigger.balance_p50_unit_chips[0] == pytest.approx(100)
    assert bigger.shortfall_p50_unit_chips[0] == 0


def test_capacity_of_other_chip_types_counts_in_unit_chip_equivalents():
    a = order(1, qty=100, deliveries=[(D(2023, 12, 1), 100)])
    b = order(2, qty=100, chip="chip-b", deliveries=[(D(2023, 12, 1), 100)])
    sc = scenario(months=2)
    inp = ForecastInputs((a, b), sc, {CHIP: 400.0, "chip-b": 1000.0}, {CHIP: 50.0, "chip-b": 150.0})
    r = run_forecast(inp)
    assert r.serving_capacity_unit_chips.p50[0] == pytest.approx(100 + 300)
    assert r.pflops_total.p50[0] == pytest.approx(100 * 0.4 + 100 * 1.0)
    assert r.h100_equiv_total.p50[0] == pytest.approx(140_000 / 989.4 * 1000 / 1000)


# ---- training jobs -------------------------------------------------------------------------

def training_setup(tokens_days, second=None, start=D(2024, 1, 1), grow=False, scale=1.0):
    deliveries = [(D(2023, 12, 1), 1000)] + ([(D(2024, 2, 1), 1000)] if grow else [])
    o = order(qty=2000 if grow else 1000, deliveries=deliveries)
    tokens = 1000 * 1000 * 86400.0 * tokens_days  # days at 1,000 chips x 1,000 tokens/s
    jobs = [TrainingJob("first", "m", tokens, CHIP, start)]
    if second:
        jobs.append(TrainingJob("second", "m", tokens, CHIP, D(2024, 1, 1)))
    sc = scenario(months=6, trials=10, allocation=Allocation({CHIP: 1.0}), jobs=tuple(jobs),
                  training_efficiency_scale=scale)
    table = {("m", CHIP): ThroughputTable((1.0, 4096.0), (1000.0, 1000.0))}
    return inputs([o], sc, training=table)


def test_training_job_on_a_constant_fleet_finishes_on_the_hand_computed_day():
    r = run_forecast(training_setup(10))
    job = r.jobs[0]
    assert job.completion_p10 == job.completion_p50 == job.completion_p90 == D(2024, 1, 11)
    assert job.prob_within_horizon == 1.0
    assert run_forecast(training_setup(10, scale=0.5)).jobs[0].completion_p50 == D(2024, 1, 21)
    assert run_forecast(training_setup(10, start=D(2024, 1, 16))).jobs[0].completion_p50 == D(2024, 1, 26)


def test_training_jobs_queue_and_use_a_growing_fleet():
    r = run_forecast(training_setup(10, second=True))
    assert [j.completion_p50 for j in r.jobs] == [D(2024, 1, 11), D(2024, 1, 21)]
    assert r.jobs[1].start_p50 == D(2024, 1, 11)
    # 41 days of work at 1,000 chips: 31 days in January, then 10 days' worth at 2,000 chips = 5 days.
    grown = run_forecast(training_setup(41, grow=True)).jobs[0]
    assert grown.completion_p50 == D(2024, 2, 6)
    late = run_forecast(training_setup(1000)).jobs[0]
    assert late.completion_p50 is None and late.prob_within_horizon == 0.0


def test_callable_training_throughput_equals_the_table():
    inp = training_setup(10)
    inp = replace(inp, training_tokens_per_s_per_chip=lambda model, chip, n: 1000.0)
    assert run_forecast(inp).jobs[0].completion_p50 == D(2024, 1, 11)


def test_throughput_table_interpolates_in_log2_chips():
    t = ThroughputTable((8.0, 32.0), (100.0, 80.0))
    np.testing.assert_allclose(t.per_chip(np.array([4.0, 8.0, 16.0, 64.0])), [0, 100, 90, 80])
    t = ThroughputTable((8.0, 32.0, 128.0), (0.0, 80.0, 60.0))  # 8 chips cannot hold the model
    np.testing.assert_allclose(t.per_chip(np.array([16.0, 32.0, 64.0])), [0, 80, 70])


# ---- scenarios, validation, hooks ----------------------------------------------------------

def test_default_scenario_round_trips_through_json():
    sc = default_scenario()
    text = json.dumps(scenario_to_dict(sc))
    assert scenario_from_dict(json.loads(text)) == sc
    # at least the 30k of 100k already delivered, up to all of it
    assert sc.vendor_uncertainty["Huawei"].fraction_low >= 0.3
    assert sc.policy_events[0].chip_id == "h20-96gb" and sc.jobs[0].deadline is not None


@pytest.mark.parametrize("params, needle", [
    ({"months": 0}, "months: 0"),
    ({"trials": "many"}, "trials: 'many'"),
    ({"start": "2024-13-01"}, "start: '2024-13-01'"),
    ({"demand": {"kind": "cubic"}}, "demand.kind: 'cubic'"),
    ({"demand": {"kind": "logistic", "points": [{"date": "2024-01-01", "tokens_per_day": 5.0}]}},
     "demand.ceiling_tokens_per_day: None"),
    ({"vendor_uncertainty": {"Huawei": {"fraction_dist": "uniform", "fraction_high": 1.5}}}, "vendor_uncertainty.Huawei.fraction_high: 1.5"),
    ({"order_uncertainty": {"x": {}}}, "order_uncertainty.x"),
    ({"allocation": {"training_share": {"a": 2}}}, "allocation.training_share.a: 2"),
    ({"jobs": [{"name": "j", "model_id": "m", "chip_id": "c", "tokens": -1}]}, "jobs[0].tokens: -1"),
    ({"colour": "red"}, "colour: unknown field"),
])
def test_bad_scenarios_name_field_and_value(params, needle):
    with pytest.raises(ValidationError) as err:
        scenario_from_dict(params)
    assert needle in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as err:
        scenario_from_dict({"months": 0, "seed": -1, "annual_failure_rate": 1.5})
    assert len(err.value.problems) == 3


def test_missing_inputs_are_named():
    sc = scenario()
    inp = ForecastInputs((order(),), sc, {}, {})
    with pytest.raises(ValidationError) as err:
        run_forecast(inp)
    assert "chip_peak_tflops['chip-a']" in str(err.value) and "serving_tokens_per_s_per_chip" in str(err.value)


def test_progress_and_cancellation_hooks():
    seen = []
    run_forecast(training_setup(10), progress=lambda f, msg: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0
    with pytest.raises(Cancelled):
        run_forecast(training_setup(10), should_stop=lambda: True)


def test_doubao_csv_matches_the_built_in_points():
    import csv
    import io

    import resources

    rows = [r for r in csv.DictReader(io.StringIO(resources.read_text("demand_doubao.csv"))) if r["kind"] == "average"]
    assert [(r["date"], float(r["tokens_per_day"])) for r in rows] == [(d, v) for d, v, _ in DOUBAO_TOKENS_PER_DAY]
    assert any(r["status"] == "secondary" for r in rows)


def test_forecast_module_loads_no_qt_or_sql():
    import subprocess

    code = "import engine.forecast, sys; print([m for m in sys.modules if m.split('.')[0] in ('sqlite3','PySide6')])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---- glue: engine throughputs or the labelled roofline fallback ------------------------------

def test_roofline_training_fallback_by_hand():
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import roofline_training_tokens_per_s_per_chip

    chip, model = reference_chips()["ascend-910b2"], reference_models()["llama3-405b"]
    # 405B x 18 bytes over 70% of 64 GB needs about 163 chips.
    assert roofline_training_tokens_per_s_per_chip(model, chip, 128) == 0.0
    expected = 376e12 * 0.35 / (6 * model.active_params())
    assert roofline_training_tokens_per_s_per_chip(model, chip, 256) == pytest.approx(expected)
    assert 50 < expected < 60  # ~54 tokens/s per 910B


def test_roofline_serving_fallback_properties():
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import roofline_serving_tokens_per_s_per_chip as serve

    chip, model = reference_chips()["h100-sxm5-80gb"], reference_models()["llama3-70b"]
    base = serve(model, chip, 1155, 211, 2000, 50)
    assert base > 0
    assert serve(model, replace(chip, hbm_gbps=chip.hbm_gbps * 2), 1155, 211, 2000, 50) >= base
    assert serve(model, chip, 1155, 211, 2000, 100) >= base
    assert serve(model, chip, 1155, 211, 2000, 1) == 0.0  # 1 ms per token is out of reach
    assert serve(model, replace(chip, hbm_gb=None), 1155, 211, 2000, 50) == 0.0


def test_build_inputs_marks_the_roofline_fallback(monkeypatch):
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import build_inputs, story_orders

    import engine.serving.capacity
    import engine.training

    def numeric_failure(*args, **kwargs):
        raise FloatingPointError("overflow")  # a numeric failure: the forecast falls back

    monkeypatch.setattr(engine.serving.capacity, "slo_capacity_tokens_per_s_per_chip", numeric_failure)
    monkeypatch.setattr(engine.training, "best_tokens_per_s_per_chip", numeric_failure)
    sc = replace(default_scenario(), trials=200)
    inp = build_inputs(story_orders(), reference_chips(), reference_models(), sc)
    assert inp.throughput_source == "roofline fallback"
    assert any("roofline" in n for n in inp.notes)
    assert inp.serving_tokens_per_s_per_chip["ascend-910b2"] > 0
    r = run_forecast(inp)
    assert r.throughput_source == "roofline fallback"
    # 10,000 910B on the 1st of Jul, Aug, Sep 2024, installed 30 days later, 3%/year attrition.
    ages = [D(2024, 11, 1).toordinal() - D(2024, m, 1).toordinal() - 30 for m in (7, 8, 9)]
    expected = sum(10_000 * 0.97 ** (age / 365.25) for age in ages)
    assert r.installed_by_chip["ascend-910b2"].p50[month_index(sc, D(2024, 11, 1))] == pytest.approx(expected, rel=1e-12)


def test_fp8_demand_counts_the_910b_weight_only_and_says_so():
    """A planner's FP8 what-if: the 910B (no FP8) serves W8A16, H20 runs FP8 GEMMs; the notes
    say which, so the capacity means what it says."""
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import build_inputs, story_orders

    base = replace(default_scenario(), trials=10)
    sc = replace(base, demand=replace(base.demand, weight_dtype="fp8", kv_dtype="bf16"))
    inp = build_inputs(story_orders(), reference_chips(), reference_models(), sc)
    assert inp.serving_tokens_per_s_per_chip["ascend-910b2"] > 0
    notes = " ".join(inp.notes)
    assert "ascend-910b2" in notes and "W8A16" in notes
    assert not any("h20-96gb" in n and "W8" in n for n in inp.notes)   # H20 has an FP8 rate: nothing to explain
    assert any("ascend-910b2: " in n and "W8A16" in n for n in inp.notes)   # its own line, not merged away


def test_an_engine_bug_is_not_hidden_behind_the_roofline(monkeypatch):
    """Regression (issue 14): any exception once fell back to the roofline silently (54.7 vs
    61.5 tokens/s per chip for Llama 3 70B on an H20)."""
    import engine.serving.capacity
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import build_inputs, story_orders

    def bug(*args, **kwargs):
        raise TypeError("unexpected keyword")

    monkeypatch.setattr(engine.serving.capacity, "slo_capacity_tokens_per_s_per_chip", bug)
    with pytest.raises(TypeError):
        build_inputs(story_orders(), reference_chips(), reference_models(), replace(default_scenario(), trials=10))


@pytest.mark.parametrize("engine_module, function", [
    ("engine.serving.capacity", "slo_capacity_tokens_per_s_per_chip"),
    ("engine.training", "best_tokens_per_s_per_chip"),
])
def test_an_engine_value_error_is_not_hidden_behind_the_roofline(monkeypatch, engine_module, function):
    """Regression (issue 14): `except (ValueError, ArithmeticError)` still turned a genuine engine
    bug that surfaces as a ValueError (a numpy shape mismatch, an unpacking slip) into a
    plausible roofline number. Only arithmetic failures and refusals may fall back."""
    import importlib

    from engine.catalog import reference_chips, reference_models
    from engine.forecast import TrainingJob
    from engine.forecast_inputs import build_inputs, story_orders

    def bug(*args, **kwargs):
        return np.zeros(3) + np.zeros(2)  # ValueError: operands could not be broadcast together

    monkeypatch.setattr(importlib.import_module(engine_module), function, bug)
    sc = replace(default_scenario(), trials=10,
                 jobs=(TrainingJob("j", "llama3-8b", 1e12, "ascend-910b2", D(2025, 1, 1)),))
    with pytest.raises(ValueError, match="broadcast"):
        build_inputs(story_orders(), reference_chips(), reference_models(), sc)


def test_an_arithmetic_failure_in_training_falls_back_to_the_labelled_roofline(monkeypatch):
    import engine.training
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import roofline_training_tokens_per_s_per_chip, training_table

    def overflow(*args, **kwargs):
        raise OverflowError("math range error")

    monkeypatch.setattr(engine.training, "best_tokens_per_s_per_chip", overflow)
    model, chip = reference_models()["llama3-8b"], reference_chips()["ascend-910b2"]
    table, source, note = training_table(model, chip, 100)
    assert source == "roofline fallback" and "OverflowError" in note
    assert table.n_chips == (8.0, 32.0, 128.0)
    assert table.tokens_per_s_per_chip == tuple(roofline_training_tokens_per_s_per_chip(model, chip, n)
                                                for n in (8, 32, 128))


def test_build_inputs_names_unknown_chips_and_models():
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import build_inputs, story_orders

    sc = replace(default_scenario(), jobs=(TrainingJob("j", "no-such-model", 1e12, "ascend-910b2", D(2025, 1, 1)),))
    orders = story_orders() + [order(9, chip="no-such-chip")]
    with pytest.raises(ValidationError) as err:
        build_inputs(orders, reference_chips(), reference_models(), sc)
    assert "'no-such-chip'" in str(err.value) and "'no-such-model'" in str(err.value)


def test_prefix_cache_hit_round_trips_and_is_validated():
    from dataclasses import replace as _replace

    from engine.errors import ValidationError as _VE
    from engine.forecast import default_scenario, scenario_from_dict, scenario_to_dict

    sc = default_scenario()
    assert 0 < sc.demand.prefix_cache_hit < 1
    again = scenario_from_dict(scenario_to_dict(sc))
    assert again.demand.prefix_cache_hit == sc.demand.prefix_cache_hit
    bad = scenario_to_dict(_replace(sc, demand=_replace(sc.demand, prefix_cache_hit=1.2)))
    with pytest.raises(_VE, match="prefix_cache_hit"):
        scenario_from_dict(bad)


def test_story_910b_serving_rate_is_anchored_to_deepseek_production():
    """The default scenario's serving rate per 910B, from the inference engine, against the
    public anchor: DeepSeek served ~428M tokens per H800-day (STORY.md). A 910B2 has about half
    an H800's HBM bandwidth and scale-out NIC and ~40% of its 8-bit peak, and serves a model
    (Qwen3-235B, 22B active) with ~60% of DeepSeek-V3's active parameters at a shorter request
    mix, so its tokens per chip-day should sit well below the H800 figure but within ~10x of it;
    the chips needed for Doubao's Dec 2025 demand (50T tokens/day at peak/average 1.5) then fall
    between 100k and 1.5M 910B (not millions: MoE serving uses wide expert parallelism)."""
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import serving_throughput

    d = default_scenario().demand
    chips, models = reference_chips(), reference_models()
    out, source, _ = serving_throughput(models[d.model_id], chips["ascend-910b2"], d.input_tokens_per_request,
                                        d.output_tokens_per_request, d.ttft_ms, d.tpot_ms, d.weight_dtype,
                                        d.kv_dtype, d.prefix_cache_hit)
    assert source == "engine"
    per_day = out / d.output_fraction * 86_400
    assert 428e6 / 10 < per_day < 428e6
    chips_dec_2025 = 50e12 * d.peak_to_average / per_day
    assert 100_000 < chips_dec_2025 < 1_500_000
    h20, _, _ = serving_throughput(models[d.model_id], chips["h20-96gb"], d.input_tokens_per_request,
                                   d.output_tokens_per_request, d.ttft_ms, d.tpot_ms, d.weight_dtype,
                                   d.kv_dtype, d.prefix_cache_hit)
    assert h20 > out   # 2.5x the HBM bandwidth and an fp8-capable NVIDIA stack


def test_slo_percentile_of_the_demand_is_an_input_that_round_trips_and_orders_capacity():
    """The share of requests the serving targets hold for was fixed at p90 in the forecast; it is
    the demand's field now: saved, validated, in the throughput cache key, and a stricter share
    never gives a chip more capacity (Llama 3 70B in BF16, where the simulator runs)."""
    from dataclasses import replace as _replace

    from engine.catalog import reference_chips, reference_models
    from engine.errors import ValidationError as _VE
    from engine.forecast import default_scenario, scenario_from_dict, scenario_to_dict
    from engine.forecast_inputs import serving_throughput
    from engine.studies_forecast import throughput_key

    sc = default_scenario()
    assert sc.demand.slo_percentile == "p90"
    p99 = _replace(sc, demand=_replace(sc.demand, slo_percentile="p99"))
    assert scenario_from_dict(scenario_to_dict(p99)).demand.slo_percentile == "p99"
    assert throughput_key(p99) != throughput_key(sc)
    with pytest.raises(_VE, match="slo_percentile"):
        scenario_from_dict(scenario_to_dict(_replace(sc, demand=_replace(sc.demand, slo_percentile="p75"))))
    older = scenario_to_dict(sc)
    del older["demand"]["slo_percentile"]            # saved before the field: p90, as before
    assert scenario_from_dict(older).demand.slo_percentile == "p90"
    model, chip = reference_models()["llama3-70b"], reference_chips()["h20-96gb"]
    rates = [serving_throughput(model, chip, 1024, 256, 2000, 50, slo_percentile=p)[0] for p in ("p50", "p90", "p99")]
    assert rates[0] >= rates[1] >= rates[2] > 0 and rates[0] > rates[2]


def test_length_spread_of_the_demand_is_an_input_that_round_trips_and_costs_capacity():
    """The forecast simulated its SLO load with every request at the mean lengths; the spread is
    the demand's field now (0 by default, so saved scenarios keep their figures): saved,
    validated, in the throughput cache key, and spread lengths never give a dense chip more
    capacity at the same targets."""
    from dataclasses import replace as _replace

    from engine.catalog import reference_chips, reference_models
    from engine.errors import ValidationError as _VE
    from engine.forecast import default_scenario, scenario_from_dict, scenario_to_dict
    from engine.forecast_inputs import serving_throughput
    from engine.studies_forecast import throughput_key

    sc = default_scenario()
    assert sc.demand.length_spread == 0.0
    wide = _replace(sc, demand=_replace(sc.demand, length_spread=1.0))
    assert scenario_from_dict(scenario_to_dict(wide)).demand.length_spread == 1.0
    assert throughput_key(wide) != throughput_key(sc)
    with pytest.raises(_VE, match="length_spread"):
        scenario_from_dict(scenario_to_dict(_replace(sc, demand=_replace(sc.demand, length_spread=-1.0))))
    model, chip = reference_models()["llama3-70b"], reference_chips()["h20-96gb"]
    fixed, spread = (serving_throughput(model, chip, 1024, 256, 2000, 50, length_spread=cv)[0] for cv in (0.0, 1.0))
    assert 0 < spread < fixed


def test_steady_state_upper_bounds_are_said_once_per_model():
    """Wide-EP replicas keep the steady-state capacity (an upper bound under load); the forecast
    and the plan say so in one sentence per model, whatever order the chips' notes come in."""
    from engine.forecast_inputs import UPPER_BOUND_NOTE, merge_notes

    raw = [f"m on {c}: {v}{UPPER_BOUND_NOTE} p90" for c, v in (("a", "900"), ("b", "261"))] + ["other note"]
    once = merge_notes(raw + raw)
    assert once[0] == "other note" and len(once) == 2
    assert once[1].startswith("m serving capacity is the steady state, an upper bound for p90 latency under load")
    assert once[1].endswith(": a 900, b 261 output tokens/s per chip")
    again = merge_notes(list(once) + [f"m on c: 908{UPPER_BOUND_NOTE} p90"])   # the plan adds a candidate
    assert len(again) == 2 and again[1].endswith(": a 900, b 261, c 908 output tokens/s per chip")


def test_serving_chips_are_rated_on_one_basis():
    """At a 20 ms TPOT the story's H800 runs a wide-EP batch beyond the simulator (its steady
    state, an upper bound, 436 output tokens/s per chip), while the 910B2 alone is simulated at
    p90: 13 against its steady 131 (at 25 ms before its vLLM expert reads took the prior 1.0; at
    25 ms it now runs on the steady state alone too). The 910B-equivalents then moved by the rating,
    not by the chips. With any chip on the steady state, every chip is, and the note says so."""
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import UPPER_BOUND_NOTE, merge_notes, serving_throughput, serving_throughputs

    chips, model = reference_chips(), reference_models()["qwen3-235b-a22b"]
    args = (1155, 211, 2000, 20, "int8", "bf16", 0.5, "p90", 0.0)
    alone, _, alone_note = serving_throughput(model, chips["ascend-910b2"], *args)
    assert alone_note == "" and 5 < alone < 30          # simulated at p90 on its own
    both = serving_throughputs(model, [chips["h800-sxm5-80gb"], chips["ascend-910b2"]], *args)
    assert all(UPPER_BOUND_NOTE in note for _, _, note in both.values())
    assert 110 < both["ascend-910b2"][0] < 150 and both["ascend-910b2"][0] > 3 * alone
    assert 400 < both["h800-sxm5-80gb"][0] < 480
    merged = merge_notes([note for _, _, note in both.values()])
    assert merged == ("qwen3-235b-a22b serving capacity is the steady state, an upper bound for p90 latency under "
                      "load (running batches beyond the 512 simulated; every chip is rated on this one basis): "
                      "h800-sxm5-80gb 436, ascend-910b2 131 output tokens/s per chip",)
    # a basis that is not mixed is left alone: the 910B2 alone stays simulated
    assert serving_throughputs(model, [chips["ascend-910b2"]], *args)["ascend-910b2"][0] == alone


def test_a_unit_chip_that_cannot_serve_is_replaced_and_said():
    """The Story counts capacity and demand in 910B chips. With the 910B's HBM bandwidth blank it
    cannot serve: every figure in its chips was NaN, and the summary read "P50 capacity covers
    peak demand in every month". The figures are counted in a chip that serves, and a note says why."""
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import build_inputs, story_orders

    chips = dict(reference_chips())
    chips["ascend-910b2"] = replace(chips["ascend-910b2"], hbm_gbps=None)
    sc = replace(default_scenario(), trials=200)
    inp = build_inputs(story_orders(), chips, reference_models(), sc)
    assert inp.serving_tokens_per_s_per_chip["ascend-910b2"] == 0
    r = run_forecast(inp)
    assert r.unit_chip_id != "ascend-910b2" and r.serving_tokens_per_s_per_chip[r.unit_chip_id] > 0
    assert np.isfinite(r.serving_capacity_unit_chips.p50).all() and np.isfinite(r.demand_unit_chips).all()
    assert any(f"counted in {r.unit_chip_id} chips: ascend-910b2 cannot serve" in n for n in r.notes)


def test_an_overdue_lot_takes_the_delay_given_its_lateness_not_a_second_whole_delay():
    """One lot of 1,000 due 2025-01-01, not delivered by the known date 2025-02-01 (31 days late),
    delay uniform on [0, 120] days. Given delay > 31 it is uniform on (31, 120]: installed by
    2025-03-01 (59 days) with p = (59 - 31) / 89, by 2025-04-01 (90) with p = 59 / 89. Dating it
    from the known date plus a whole delay (the old rule) gave (28 / 120, 59 / 120)."""
    r = _one_lot_due_2025_with_uniform_delay(120, start=D(2025, 1, 1), months=5, trials=40_000, as_of=D(2025, 2, 1))
    assert r.prob_meet_demand[0] == 0                                   # nothing before the known date
    assert r.prob_meet_demand[1] == pytest.approx(0.5 / 89, abs=0.004)  # a delay rounding to 31 days
    assert r.prob_meet_demand[2] == pytest.approx(28 / 89, abs=0.012)
    assert r.prob_meet_demand[3] == pytest.approx(59 / 89, abs=0.012)
    assert r.prob_meet_demand[4] == 1.0
    assert any("order 1" in n and "1,000 chips due before 2025-02-01" in n for n in r.notes)


def test_a_delivery_on_another_order_of_the_vendor_does_not_delay_this_one_by_a_whole_delay():
    """QA: recording 5,000 delivered 910B on a new order (2025-03-10) moved the seeded 100,000-chip
    order's lots due Oct 2024 and Jan 2025 to that date plus a whole delay: P(meet) in Jul 2025
    fell from 53% to 45%. Given only that they are later than the new date, it moves by about a
    point (the news that they had not come by March), and the note says why."""
    from engine.catalog import reference_chips, reference_models
    from engine.forecast import default_scenario
    from engine.forecast_inputs import build_inputs, story_orders

    sc = replace(default_scenario(), trials=2000)
    seeded = [order(1, deliveries=[(D(2024, 7, 15), 10_000), (D(2024, 8, 15), 10_000), (D(2024, 9, 15), 10_000)],
                    promised=[(D(2024, 7, 1), 30_000), (D(2024, 10, 1), 35_000), (D(2025, 1, 1), 35_000)],
                    chip="ascend-910b2")] + [o for o in story_orders() if o.id != 1]
    extra = order(4, qty=5000, promised=[(D(2025, 3, 1), 5000)], deliveries=[(D(2025, 3, 10), 5000)],
                  chip="ascend-910b2")
    chips, models = reference_chips(), reference_models()
    before = run_forecast(build_inputs(seeded, chips, models, sc))
    after = run_forecast(build_inputs(seeded + [extra], chips, models, sc))
    for month, slack in ((D(2025, 7, 1), 0.03), (D(2025, 10, 1), 0.0), (D(2026, 1, 1), 0.0)):
        i = month_index(sc, month)
        assert after.prob_meet_demand[i] >= before.prob_meet_demand[i] - slack, month
    assert not any("counted as late" in n for n in before.notes)
    assert any(n.startswith("order 1 (ascend-910b2): 70,000 chips due before 2025-03-10 (Huawei's latest recorded "
                            "delivery)") for n in after.notes)


def test_the_late_lots_note_names_where_its_date_comes_from():
    """QA: the note credited "Acme's latest recorded delivery" when Acme had recorded none (the date
    was another vendor's delivery, or the forecast's first month)."""
    from engine.forecast import as_of_and_source, overdue_notes

    acme = order(1, qty=1000, promised=[(D(2025, 1, 1), 1000)], vendor="Acme")
    other = order(2, qty=10, deliveries=[(D(2025, 5, 1), 10)], vendor="Other", chip="chip-b")
    [note] = overdue_notes([acme, other], scenario(start=D(2024, 1, 1)))
    assert "due before 2025-05-01 (the latest delivery recorded from any vendor: Acme has none)" in note
    # nothing recorded from anyone: what is known is the order itself, whatever the forecast's start
    # (it was the first month, so --start 2025-06 made the lot late and moved it)
    assert overdue_notes([acme], scenario(start=D(2025, 6, 1))) == ()
    assert as_of_and_source([acme], scenario(start=D(2025, 6, 1)), acme) == (
        D(2024, 1, 1), "its order date: no delivery is recorded")


def test_a_slow_unit_chip_is_said_to_inflate_the_units():
    """QA: a 25 ms TPOT slowed the 910B2 (the unit) to 12 tokens/s and the capacity read 2.5 M "910B2
    chips" with 144k installed; the note says what the unit is and why it moves."""
    a = order(1, qty=1000, deliveries=[(D(2024, 1, 10), 1000)])
    b = order(2, qty=1000, deliveries=[(D(2024, 1, 10), 1000)], vendor="NVIDIA", chip="chip-b")
    sc = scenario(months=3, trials=20)
    inp = ForecastInputs(orders=(a, b), scenario=sc, chip_peak_tflops={CHIP: 500.0, "chip-b": 500.0},
                         serving_tokens_per_s_per_chip={CHIP: 1.0, "chip-b": 10.0}, training_tokens_per_s_per_chip={})
    r = run_forecast(inp)
    assert r.unit_chip_id == CHIP
    assert any("at its own rate under these targets (1 output tokens/s per chip, 1/10 of the fastest" in n
               for n in r.notes)
    even = ForecastInputs(orders=(a, b), scenario=sc, chip_peak_tflops={CHIP: 500.0, "chip-b": 500.0},
                          serving_tokens_per_s_per_chip={CHIP: 1.0, "chip-b": 2.0}, training_tokens_per_s_per_chip={})
    assert not any("at its own rate" in n for n in run_forecast(even).notes)


def test_a_delivery_risk_set_for_an_order_the_fleet_lacks_is_said():
    """A what-if's delivery risk for a deleted order did nothing, silently (the forecast read as
    the baseline's while the report listed the setting)."""
    from dataclasses import replace as _replace

    from engine.catalog import reference_chips, reference_models
    from engine.forecast import default_scenario
    from engine.forecast_inputs import build_inputs, story_orders

    sc = default_scenario()
    unc = sc.default_uncertainty
    sc = _replace(sc, order_uncertainty={1: unc, 77: unc})
    notes = build_inputs(story_orders(), reference_chips(), reference_models(), sc).notes
    assert ("the scenario sets the delivery risk of order 77, which is not in the fleet (deleted?); that setting "
            "has no effect") in notes
    assert not [n for n in notes if "order 1," in n]


def test_a_demand_point_far_off_the_others_is_held_at_a_millionfold_and_said():
    """QA: 1,234.5678 typed for 500 (billion tokens a day) made the decaying fit's growth draws
    overflow (P90 3e24 chips, blank charts, a numpy warning). Demand is held at a millionfold of the
    last point, and the note says how many trials that is."""
    import warnings

    pts = (DemandPoint(D(2024, 5, 15), 120e9), DemandPoint(D(2024, 7, 15), 1234.5678e9),   # the story's, typo'd
           DemandPoint(D(2024, 9, 15), 1.3e12), DemandPoint(D(2024, 12, 15), 4e12),
           DemandPoint(D(2025, 9, 15), 30e12), DemandPoint(D(2025, 12, 15), 50e12))
    demand = DemandCurve(points=pts, growth_model="decaying", model_id="m", chip_id=CHIP,
                         input_tokens_per_request=0.0, output_tokens_per_request=1.0)
    sc = scenario(demand=demand, start=D(2024, 5, 1), months=60, trials=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow warning either
        r = run_forecast(inputs([order(deliveries=[(D(2024, 1, 1), 100_000)])], sc))
    peak = np.asarray(r.demand_peak_output_tokens_per_s)
    assert np.isfinite(peak).all() and np.isfinite(r.serving_capacity_unit_chips.p90).all()
    assert peak.max() <= 50e12 * 1e6 / 86400 * 1.01   # a millionfold of the last point, at most
    assert "grew past a millionfold of the last point (50,000 billion tokens/day)" in r.growth_note, r.growth_note
    # counted in trials (3 of 2,000 had read "in 0% of trials", QA s36), the cause named
    held = re.search(r"in ([\d,]+) of 2,000 trials demand grew past", r.growth_note)
    assert held and int(held.group(1).replace(",", "")) > 0
    assert "check them for a typo" in r.growth_note
    # at a growth what-if the what-if is named, not the points
    fast = replace(sc, demand=replace(demand, growth_rate_multiplier=1.5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        note = run_forecast(inputs([order(deliveries=[(D(2024, 1, 1), 100_000)])], fast)).growth_note
    assert "the growth what-if (x1.5 in log terms)" in note and "typo" not in note, note
    # a growth the user set is named, not the points
    fixed = replace(sc, demand=replace(demand, growth_model="fixed", growth_after_last_per_year=100.0))
    note = run_forecast(inputs([order(deliveries=[(D(2024, 1, 1), 100_000)])], fixed)).growth_note
    assert "in 2,000 of 2,000 trials" in note and "the fixed growth after the last point of 100x/year" in note
    assert "typo" not in note, note


def test_a_lot_later_than_the_profiles_maximum_keeps_its_timing_uncertain():
    """QA s21: 70,000 910B 426-516 days overdue against a 365-day maximum shipped on the known
    date in every trial (P10 = P90 a month later). Past the maximum the profile's delay is drawn
    again after the known date, each trial at its own quantile."""
    from engine.forecast import OrderUncertainty, delay_given_overdue

    unc = OrderUncertainty("fixed", 1, 1, 1, "order", "triangular", 0, 90, 365)
    scores = np.linspace(-2.5, 2.5, 11)
    past = delay_given_overdue(unc, scores, 450.0)
    assert past.min() >= 450 and past.max() - past.min() > 200          # spread, not one date
    assert np.all(np.diff(past) >= 0)                                   # comonotonic with the scores
    fresh = delay_given_overdue(unc, scores, -1.0)                      # not overdue: the profile itself
    assert np.allclose(past, 450.0 + fresh, atol=1.0)
    within = delay_given_overdue(unc, scores, 200.0)                    # inside the support: conditioned
    assert within.min() >= 200 and within.max() <= 365


def test_the_redraw_takes_over_gradually_so_arrival_has_no_jump_at_the_maximum():
    """QA s21: at 364 days overdue (maximum 365) every trial shipped within a day; at 366 months
    later. From the profile's 90th percentile on, the redraw takes over gradually."""
    from engine.forecast import OrderUncertainty, delay_given_overdue

    unc = OrderUncertainty("fixed", 1, 1, 1, "order", "triangular", 0, 90, 365)
    scores = np.linspace(-2.5, 2.5, 41)
    below, above = delay_given_overdue(unc, scores, 364.0), delay_given_overdue(unc, scores, 366.0)
    assert np.max(np.abs(below - above)) <= 3.0                 # continuous at the maximum
    assert below.max() - below.min() > 200                        # and never a near-certain date
    means = [delay_given_overdue(unc, scores, d).mean() - d for d in (0.0, 100.0, 200.0, 300.0, 364.0)]
    assert means[0] == pytest.approx(delay_given_overdue(unc, scores, -1.0).mean(), abs=1.0)
    # a typical lateness is the profile's conditional (unchanged below its 90th percentile)
    assert delay_given_overdue(unc, scores, 100.0).max() <= 365


def test_an_orders_own_risk_is_said_to_shadow_its_vendors_profile():
    """QA s21: a baseline that set order 1's delivery risk made "Huawei delivers half" identical to
    it (the order's own risk wins) with no word."""
    from engine.forecast import own_risk_notes

    o = order(1, qty=1000, promised=[(D(2025, 6, 1), 1000)], vendor="Huawei")
    sc = scenario(vendor_uncertainty={"Huawei": fixed(0.5)}, order_uncertainty={1: fixed(1.0)})
    [note] = own_risk_notes([o], sc)
    assert note.startswith("order 1 (") and "Huawei's profile, and any what-if of it, does not apply" in note
    assert own_risk_notes([o], scenario(vendor_uncertainty={"Huawei": fixed(0.5)})) == ()


def test_the_memory_limit_counts_the_chip_types():
    """QA s21: 200 chip types at 20,000 x 240 (4.8 M trial-months, under the 20 M limit) peaked at
    8.2 GB; each chip type keeps an array of trials x months more. Refused before any is made."""
    from engine.forecast import MAX_TRIAL_MONTHS, memory_problem

    assert memory_problem(20_000, 240, 3) == ""
    assert memory_problem(MAX_TRIAL_MONTHS // 240, 240, 3) == ""          # the trial-month limit itself
    said = memory_problem(20_000, 240, 200)
    assert "20,000 trials x 240 months over 200 chip types need about 8.2 GB" in said and "at most" in said
    fits = int(said.split("at most ")[1].split()[0].replace(",", ""))
    assert memory_problem(fits, 240, 200) == "" and memory_problem(fits + 100, 240, 200) != ""
    chips = {CHIP: 100.0, **{f"c{i}": 100.0 for i in range(60)}}
    orders = tuple(order(i + 1, qty=10, deliveries=[(D(2024, 1, 10), 10)], chip=c) for i, c in enumerate(chips))
    sc = scenario(months=240, trials=50_000)
    inp = ForecastInputs(orders=orders, scenario=sc, chip_peak_tflops=chips, serving_tokens_per_s_per_chip=chips)
    with pytest.raises(UserError, match="chip types need about"):
        run_forecast(inp)


def test_a_job_on_a_chip_with_no_training_share_is_said_to_get_no_chips():
    """QA s21: an 8B job on the H20 (training share 0 in the story) read "0% within the horizon"
    with 80,000 H20 installed, and the plan advised moving its deadline."""
    from engine.fleet import month_starts
    from engine.forecast import Allocation, TrainingJob, idle_job_notes

    job = TrainingJob(name="8B", model_id="m", tokens=1e9, chip_id=CHIP, earliest_start=D(2024, 1, 1))
    months = month_starts(D(2024, 1, 1), 12)
    [note] = idle_job_notes(scenario(jobs=(job,), allocation=Allocation({CHIP: 0.0})), months)
    assert "job '8B' trains on chip-a, whose training share is 0% in every month" in note
    assert idle_job_notes(scenario(jobs=(job,), allocation=Allocation({CHIP: 0.5})), months) == ()
