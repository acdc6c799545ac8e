"""QA s25: what-ifs that mean what they say (forecast).

1. A cut-off's random stream was keyed on its place in the scenario's list: a 0% cut-off for
   another chip put before the story's H20 cut-off moved the H20's draws, and P(meet) with them,
   though nothing about the H20 changed.
2. "What if Doubao grows 2x faster?" had no field: `DemandCurve.growth_rate_multiplier`
   multiplies the log-growth after the last point (3x/year at 2 reads 9x/year), saved with the
   scenario, listed as a what-if change and checked.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import (STORY_910B_CHIP, STORY_H20_CHIP, DemandCurve, DemandPoint, ForecastInputs, PolicyEvent,
                             default_scenario, demand_tokens_per_day, draw_policy, run_forecast, scenario_from_dict,
                             scenario_to_dict, validate_scenario)
from engine.forecast_demand import Z90, draw_log_growth, fit_growth

D = dt.date
TRIALS = 400


# ---- 1. a cut-off's draws are its own ----------------------------------------------------------

def _story_inputs(tmp_path):
    """The seeded story's forecast inputs (a fresh database in tmp_path), at TRIALS trials."""
    from engine.forecast_inputs import build_inputs
    from engine.store import open_store
    from engine.studies_forecast import scenario_of

    store = open_store(tmp_path / "story.db")
    try:
        story = replace(scenario_of(store.scenario("Story default")["params"]), trials=TRIALS)
        return build_inputs(store.orders(), {c.id: c for c in store.chips()}, {m.id: m for m in store.models()}, story)
    finally:
        store.close()


def _p_meet(inputs, events) -> np.ndarray:
    return run_forecast(replace(inputs, scenario=replace(inputs.scenario, policy_events=tuple(events)))).prob_meet_demand


def test_a_cut_off_for_another_chip_put_before_the_h20_leaves_its_p_meet_as_it_was(tmp_path):
    inputs = _story_inputs(tmp_path)
    (h20,) = inputs.scenario.policy_events
    assert h20.chip_id == STORY_H20_CHIP and 0 < h20.probability < 1
    never = PolicyEvent(STORY_910B_CHIP, 0.0, D(2025, 1, 1), D(2025, 12, 31))   # changes nothing itself
    alone = _p_meet(inputs, [h20])
    # the H20 cut-off does move P(meet) on this seed, so its draws moving would show
    assert not np.array_equal(alone, _p_meet(inputs, []))
    assert np.array_equal(_p_meet(inputs, [never, h20]), alone)   # put before it: index 0 -> 1 before the fix
    assert np.array_equal(_p_meet(inputs, [h20, never]), alone)


def test_a_cut_off_is_ranked_among_its_own_chips_only():
    from engine.forecast import cutoff_ranks

    early = PolicyEvent("h20-96gb", 0.5, D(2025, 1, 1), D(2025, 6, 30))
    late = PolicyEvent("h20-96gb", 0.5, D(2025, 7, 1), D(2025, 12, 31))
    other = PolicyEvent("ascend-910b2", 0.2, D(2024, 1, 1), D(2024, 2, 1))
    assert cutoff_ranks([early, late]) == [0, 1]
    assert cutoff_ranks([late, other, early]) == [1, 0, 0]   # by window, not by place in the list
    assert cutoff_ranks([other, late, early]) == [0, 1, 0]
    # chip ids read as the stream key reads them (case and spaces aside): one chip, two ranks
    assert cutoff_ranks([late, replace(early, chip_id=" H20-96GB")]) == [1, 0]
    # same window: by chance, then by duration (for good last)
    assert cutoff_ranks([replace(early, probability=0.9), early]) == [1, 0]
    assert cutoff_ranks([early, replace(early, duration_months=3.0)]) == [1, 0]


def test_a_higher_chance_of_a_cut_off_keeps_each_trials_uniforms():
    """Common random numbers: the trials cut off at 30% are cut off at 60% too, on the same day."""
    ev = PolicyEvent(STORY_H20_CHIP, 0.3, D(2025, 1, 1), D(2025, 12, 31))
    start_30, _ = draw_policy(ev, 0, 2024, 5000)
    start_60, _ = draw_policy(replace(ev, probability=0.6), 0, 2024, 5000)
    hit_30, hit_60 = np.isfinite(start_30), np.isfinite(start_60)
    assert np.all(hit_60[hit_30]) and hit_60.sum() > hit_30.sum()
    assert np.array_equal(start_30[hit_30], start_60[hit_30])
    assert abs(hit_30.mean() - 0.3) < 0.03 and abs(hit_60.mean() - 0.6) < 0.03


# ---- 2. the demand growth multiplier ----------------------------------------------------------

LAST = D(2024, 1, 1)


def _curve(**kw) -> DemandCurve:
    return DemandCurve(points=(DemandPoint(LAST, 1e12),), growth_after_last_per_year=3.0, **kw)


@pytest.mark.parametrize("multiplier, expected", [(1.0, 3.0), (2.0, 9.0), (0.5, math.sqrt(3.0))])
def test_fixed_3x_a_year_at_multiplier_2_is_9x_a_year_after_the_last_point(multiplier, expected):
    """Hand-derived: log(3) per year x 2 = log(9): x9 a year after the last point (x3 at 1)."""
    fit = fit_growth(_curve(growth_rate_multiplier=multiplier))
    assert math.exp(draw_log_growth(fit, np.array([1.0]), None)[0, 0]) == pytest.approx(expected, rel=1e-12)
    # the curve itself (what an exponential/logistic forecast reads, and piecewise without draws)
    one_year = demand_tokens_per_day(_curve(growth_rate_multiplier=multiplier), [D(2025, 1, 1)])[0] / 1e12
    assert one_year == pytest.approx(expected ** (366 / 365.25), rel=1e-12)   # 2024 has 366 days


def test_the_forecast_reads_the_multiplier_on_its_demand():
    """End to end: the forecast's tokens/day on 1 Jan 2025 (366 days after the last point)."""
    order = Order(1, "ByteDance", "Huawei", STORY_910B_CHIP, 1000, D(2023, 6, 1), (ScheduledLot(D(2023, 7, 1), 1000),),
                  deliveries=(Delivery(1, 1, D(2023, 7, 1), 1000),))
    got = {}
    for m in (1.0, 2.0):
        sc = replace(default_scenario(), start=D(2024, 1, 1), months=13, trials=200, policy_events=(), jobs=(),
                     demand=_curve(growth_rate_multiplier=m, chip_id=STORY_910B_CHIP))
        r = run_forecast(ForecastInputs(orders=(order,), scenario=sc, chip_peak_tflops={STORY_910B_CHIP: 376.0},
                                        serving_tokens_per_s_per_chip={STORY_910B_CHIP: 261.0}))
        got[m] = r.demand_tokens_per_day[r.months.index(D(2025, 1, 1))] / 1e12
        assert "what-if: growth x2" in r.growth_note if m == 2.0 else "what-if" not in r.growth_note
    assert got[1.0] == pytest.approx(3.0 ** (366 / 365.25), rel=1e-9)
    assert got[2.0] == pytest.approx(9.0 ** (366 / 365.25), rel=1e-9)


def _points(*pairs) -> tuple[DemandPoint, ...]:
    return tuple(DemandPoint(D(*d), v) for d, v in pairs)


SIX = _points(((2024, 1, 1), 1e11), ((2024, 4, 1), 2.2e11), ((2024, 7, 1), 4.5e11), ((2024, 10, 1), 8e11),
              ((2025, 1, 1), 1.3e12), ((2025, 4, 1), 2e12))


@pytest.mark.parametrize("model", ["loglinear", "decaying", "user"])
def test_every_growth_model_scales_its_median_and_its_spread_by_the_multiplier(model):
    """Each trial's log-growth times m: every quantile of the draws (P10, P50, P90) scales by m."""
    curve = DemandCurve(points=SIX, growth_model=model, growth_p10_per_year=1.5, growth_p50_per_year=2.0,
                        growth_p90_per_year=3.0)
    z = np.random.default_rng(5).standard_normal((4000, 2))
    tau = np.array([0.5, 1.0, 2.0])
    one = draw_log_growth(fit_growth(curve), tau, z)
    two = draw_log_growth(fit_growth(replace(curve, growth_rate_multiplier=2.0)), tau, z)
    np.testing.assert_allclose(two, 2.0 * one, rtol=1e-12)
    for q in (10, 50, 90):
        np.testing.assert_allclose(np.percentile(two, q, axis=0), 2.0 * np.percentile(one, q, axis=0), rtol=1e-12)


def test_the_users_p10_p50_p90_read_squared_at_multiplier_2():
    curve = DemandCurve(points=SIX, growth_model="user", growth_p10_per_year=1.5, growth_p50_per_year=2.0,
                        growth_p90_per_year=3.0, growth_rate_multiplier=2.0)
    z = np.array([[-Z90, 0.0], [0.0, 0.0], [Z90, 0.0]])
    got = np.exp(draw_log_growth(fit_growth(curve), np.array([1.0]), z)[:, 0])
    np.testing.assert_allclose(got, [2.25, 4.0, 9.0], rtol=1e-12)


def test_a_ceiling_still_holds_and_the_points_do_not_move():
    ceiling = 5e12
    curve = DemandCurve(points=SIX, growth_model="fixed", growth_after_last_per_year=3.0, ceiling_tokens_per_day=ceiling)
    fast = replace(curve, growth_rate_multiplier=4.0)
    tau = np.array([0.25, 1.0, 5.0])
    slow_n = 2e12 * np.exp(draw_log_growth(fit_growth(curve), tau, None, ceiling)[0])
    fast_n = 2e12 * np.exp(draw_log_growth(fit_growth(fast), tau, None, ceiling)[0])
    assert np.all(fast_n > slow_n) and np.all(fast_n < ceiling)
    # the exponential and logistic curves: the fit's own values up to the last point, faster after it
    days = [D(2024, 2, 1), D(2024, 8, 1), D(2025, 4, 1), D(2026, 4, 1)]
    for kind in ("exponential", "logistic"):
        base = DemandCurve(points=SIX, kind=kind, ceiling_tokens_per_day=ceiling)
        a = demand_tokens_per_day(base, days)
        b = demand_tokens_per_day(replace(base, growth_rate_multiplier=2.0), days)
        np.testing.assert_array_equal(a[:3], b[:3])
        assert b[3] > a[3]
        if kind == "exponential":   # log-growth over the year after the last point: twice the fit's
            before = demand_tokens_per_day(base, [D(2025, 4, 1)])[0]
            assert math.log(b[3] / before) == pytest.approx(2 * math.log(a[3] / before), rel=1e-9)
        else:
            assert b[3] < ceiling


def test_the_multiplier_round_trips_through_the_scenario_dict_and_the_store(tmp_path):
    from engine.scenario_changes import describe_changes, effective_changes
    from engine.store import open_store
    from engine.studies_forecast import ForecastStudy

    sc = default_scenario()
    faster = replace(sc, name="Doubao grows 2x faster", demand=replace(sc.demand, growth_rate_multiplier=2.0))
    assert scenario_from_dict(scenario_to_dict(faster)) == faster
    store = open_store(tmp_path / "s.db")
    try:
        baseline = store.scenario("Story default")["params"]
        store.save_scenario(faster.name, ForecastStudy(faster).to_dict())
        row = store.scenario(faster.name)
        assert ForecastStudy.from_dict(row["params"]).scenario.demand.growth_rate_multiplier == 2.0
        changes = effective_changes(baseline, row["changes"])
        assert describe_changes(changes, limit=None, base=baseline) == ["demand growth multiplier ×1 → ×2"]
    finally:
        store.close()


def test_a_baseline_saved_before_the_field_reads_as_1_and_lists_no_change():
    """A baseline stored before the field existed lacks it: a what-if saved since holds it at 1,
    which is no change; at 2 it reads from x1."""
    from engine.scenario_changes import describe_changes, effective_changes

    old = scenario_to_dict(default_scenario())
    del old["demand"]["growth_rate_multiplier"]
    assert scenario_from_dict(old).demand.growth_rate_multiplier == 1.0
    assert effective_changes(old, {"demand.growth_rate_multiplier": 1.0}) == {}
    assert describe_changes({"demand.growth_rate_multiplier": 1.0}, base=old) == []
    assert describe_changes({"demand.growth_rate_multiplier": 2.0}, base=old) == ["demand growth multiplier ×1 → ×2"]


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), 1000.0])
def test_a_bad_multiplier_is_one_line_naming_the_field_and_value(bad):
    from engine.errors import ValidationError
    from engine.studies_forecast import ForecastStudy

    sc = default_scenario()
    sc = replace(sc, demand=replace(sc.demand, growth_rate_multiplier=bad))
    problems = [p for p in validate_scenario(sc) if "growth_rate_multiplier" in p]
    assert problems == [f"demand.growth_rate_multiplier: {bad!r} (must be > 0 and at most 100)"]
    form = [p for p in ForecastStudy(sc).problems() if p.field == "growth_multiplier"]
    assert len(form) == 1 and form[0].message.startswith(f"Growth multiplier {bad!r}" if math.isnan(bad)
                                                         else f"Growth multiplier {bad:,.6g} ×")
    with pytest.raises(ValidationError) as err:
        scenario_from_dict(scenario_to_dict(sc))
    assert "demand.growth_rate_multiplier" in str(err.value) and "\n" not in problems[0]
