"""The tornado's demand bar pins the demand points' own uncertainty with the growth: a month
before the last point moves with the points alone, and pinning the growth alone left that bar
at nothing while the points were the month's main uncertainty."""

from dataclasses import replace

from engine.forecast import DemandPoint
from engine.forecast_sensitivity import _demand_pinned
from tests.engine.test_forecast_uncertainty import CHIP, D, inp, sc, split_orders


def _inputs(sd_pct):
    # demand near the fleet's capacity in mid 2025, from two points; the later one uncertain
    points = (DemandPoint(D(2024, 1, 1), 2e9), DemandPoint(D(2026, 1, 1), 6e9, sd_pct=sd_pct))
    scenario = sc(trials=400)
    scenario = replace(scenario, demand=replace(scenario.demand, points=points, growth_model="fixed",
                                                growth_after_last_per_year=1.0))
    return inp(split_orders(1), scenario, family_by_chip={CHIP: "f"}, serving_sigma_by_chip={CHIP: 0.0})


def test_a_month_before_the_last_point_moves_with_the_points():
    month = 18   # Jul 2025, before the last point (Jan 2026)
    lo, hi = _demand_pinned(_inputs(40.0), month, 400)
    assert hi["prob_meet_demand"] < lo["prob_meet_demand"]          # P90 demand: less often met
    assert hi["shortfall_mean_unit_chips"] > lo["shortfall_mean_unit_chips"]
    exact_lo, exact_hi = _demand_pinned(_inputs(0.0), month, 400)
    for key in ("prob_meet_demand", "shortfall_mean_unit_chips"):      # exact points: no demand spread there
        assert exact_lo[key] == exact_hi[key]
