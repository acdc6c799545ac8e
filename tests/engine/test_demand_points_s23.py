"""QA s23: demand points carry their own uncertainty (sd_pct, at_least).

"A forecast that is more certain than its inputs is wrong": the story's points are approximate
("date approximate", "'more than'", "secondary source"), yet the piecewise curve interpolated them
exactly, so tokens/day had P10 = P90 in every month up to Dec 2025.
"""

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from engine.errors import ValidationError
from engine.fleet import month_starts
from engine.forecast import (DemandCurve, DemandPoint, _demand_samples, _stream, default_scenario,
                             demand_points_note, demand_tokens_per_day, point_log_offsets, scenario_from_dict,
                             scenario_to_dict, simulate, validate_scenario)
from engine.forecast_demand import DAYS_PER_YEAR, draw_log_growth, fit_growth
from tests.engine.test_forecast_uncertainty import CHIP, inp, sc, split_orders

D = dt.date
TRIALS = 4000


def _months(scenario):
    return tuple(month_starts(scenario.start, scenario.months))


def _tokens(scenario, trials=TRIALS, random_growth=True):
    return _demand_samples(scenario, _months(scenario), trials, random_growth, True)[0]


def _exact(points):
    return tuple(replace(p, sd_pct=0.0, at_least=False) for p in points)


def test_story_points_carry_the_uncertainty_their_notes_state():
    points = {p.date.isoformat(): (p.sd_pct, p.at_least) for p in default_scenario().demand.points}
    assert points == {"2024-05-15": (0.0, False),    # the launch figure: exact
                      "2024-07-15": (62.0, False),   # secondary source; date approximate
                      "2024-09-15": (41.0, True),    # 'more than'; date approximate
                      "2024-12-15": (26.0, False),   # date approximate: ln(23x/yr)/12
                      "2025-09-15": (21.0, True),
                      "2025-12-15": (17.0, True)}    # ln(7.8x/yr)/12, the brief's "~17% at 8x/year"
    assert "ln(growth per year)/12" in default_scenario().demand.note


def test_story_demand_has_a_band_before_the_last_point():
    """QA: Jun 2025 tokens/day read 13.76T at P10, P50 and P90; moving the approximate Sep 2025
    point a month earlier moved it to 16.1T, outside any band the tool showed."""
    story = default_scenario()
    months = _months(story)
    jun = months.index(D(2025, 6, 1))
    p10, p50, p90 = np.percentile(_tokens(story)[:, jun], [10, 50, 90])
    assert p90 / p10 > 1.25
    earlier = tuple(replace(p, date=D(2025, 8, 15)) if p.date == D(2025, 9, 15) else p
                    for p in _exact(story.demand.points))
    moved = demand_tokens_per_day(replace(story.demand, points=earlier), months)[jun]
    assert p10 < moved < p90


def test_every_sd_0_gives_the_old_curve_bit_for_bit():
    """With no point uncertainty the draws are exactly the old code's: the interpolated figures,
    times the growth drawn on stream 5 after the last point."""
    story = default_scenario()
    d = replace(story.demand, points=_exact(story.demand.points))
    exact = replace(story, demand=d)
    months = _months(exact)
    got = _tokens(exact)
    # the old _demand_samples, written out
    fit = fit_growth(d)
    flat = demand_tokens_per_day(replace(d, growth_after_last_per_year=1.0), months)
    tau = (np.array([m.toordinal() for m in months], dtype=float) - fit.last_ordinal) / DAYS_PER_YEAR
    z = _stream(exact.seed, 5).standard_normal((TRIALS, 2))
    # (s34) the story's points, made exact, scatter about the decaying curve more than they now
    # state: that scatter is drawn after the last point from a third normal of its own stream
    assert fit.level_sd > 0.1
    z = np.hstack([z, _stream(exact.seed, 5, 1).standard_normal((TRIALS, 1))])
    old = flat[None, :] * np.exp(draw_log_growth(fit, tau, z, d.ceiling_tokens_per_day)) * d.scale
    assert np.array_equal(got, old)
    # at_least with sd 0 is the figure too, and the dict is the one stored before the fields existed
    floors = replace(exact, demand=replace(d, points=tuple(replace(p, at_least=True) for p in d.points)))
    assert np.array_equal(_tokens(floors), old)
    assert all(set(p) == {"date", "tokens_per_day", "note"} for p in scenario_to_dict(exact)["demand"]["points"])
    assert point_log_offsets(d, exact.seed, 10) is None and demand_points_note(d) == ""


def test_a_point_is_drawn_lognormal_and_a_floor_never_below_its_figure():
    d = DemandCurve(points=(DemandPoint(D(2024, 1, 15), 1e12, "", 20.0),
                            DemandPoint(D(2024, 7, 15), 2e12, "", 10.0, True)))
    off = point_log_offsets(d, 5, 20_000)
    assert off[:, 0].std() == pytest.approx(0.20, rel=0.03) and abs(np.median(off[:, 0])) < 0.01
    assert off[:, 1].min() >= 0.0 and np.median(off[:, 1]) == pytest.approx(0.10 * 0.6745, rel=0.05)
    # each point its own stream, keyed by its date: editing one leaves the other's draws alone
    edited = replace(d, points=(replace(d.points[0], sd_pct=40.0), d.points[1]))
    assert np.array_equal(point_log_offsets(edited, 5, 20_000)[:, 1], off[:, 1])
    assert np.corrcoef(off[:, 0], off[:, 1])[0, 1] == pytest.approx(0.0, abs=0.03)


def test_the_curve_interpolates_the_perturbed_points_and_grows_from_the_perturbed_last():
    points = (DemandPoint(D(2024, 1, 1), 1e12, "", 30.0), DemandPoint(D(2024, 3, 1), 4e12, "", 10.0))
    scenario = sc(demand=replace(sc().demand, points=points, growth_model="fixed", growth_after_last_per_year=3.0),
                  months=6)
    months = _months(scenario)
    tokens = _tokens(scenario, trials=500)
    off = point_log_offsets(scenario.demand, scenario.seed, 500)
    flat = demand_tokens_per_day(scenario.demand, months)
    log_ratio = np.log(tokens / flat[None, :])
    np.testing.assert_allclose(log_ratio[:, 0], off[:, 0], atol=1e-12)        # at the first point
    w = (months[1].toordinal() - points[0].date.toordinal()) / (points[1].date.toordinal() - points[0].date.toordinal())
    np.testing.assert_allclose(log_ratio[:, 1], (1 - w) * off[:, 0] + w * off[:, 1], atol=1e-12)
    np.testing.assert_allclose(log_ratio[:, 2:], np.repeat(off[:, 1:], 4, axis=1), atol=1e-12)   # 3x/yr on top


def test_a_ceiling_is_approached_from_each_trials_own_last_point():
    points = (DemandPoint(D(2024, 1, 1), 1e12), DemandPoint(D(2024, 3, 1), 4e12, "", 50.0))
    scenario = sc(demand=replace(sc().demand, points=points, growth_model="fixed", growth_after_last_per_year=50.0,
                                 ceiling_tokens_per_day=5e12), months=60)
    tokens = _tokens(scenario, trials=2000)
    assert np.all(np.isfinite(tokens))
    assert np.allclose(tokens[:, -1], 5e12, rtol=1e-3)   # every trial ends at the ceiling, above or below it
    assert tokens[:, 2].max() > 5e12                        # a last point drawn above it starts there


def test_holding_demand_fixed_holds_the_points_at_their_figures_and_shares_count_them():
    """The uncertainty-share breakdown and the what-drives-it runs attribute the points to demand."""
    from engine.forecast_sensitivity import variance_shares

    points = (DemandPoint(D(2024, 1, 1), 1e5, "", 30.0), DemandPoint(D(2026, 12, 1), 1e6, "", 30.0))
    scenario = sc(demand=replace(sc().demand, points=points), trials=1000)
    inputs = inp(split_orders(1), scenario)
    held = simulate(inputs, fixed=("demand",)).tokens_day
    assert np.all(held.max(axis=0) == held.min(axis=0))
    drawn = simulate(inputs).tokens_day
    assert np.all(drawn.max(axis=0) > drawn.min(axis=0))
    shares = variance_shares(inputs, trials=500)
    served = [i for i, m in enumerate(shares.months) if m >= D(2024, 7, 1)]   # no chips before: nothing varies
    assert shares.shares[shares.sources.index("demand"), served].min() > 0.05
    assert CHIP in simulate(inputs).installed


@pytest.mark.parametrize("field, value, message", [
    ("sd_pct", -1.0, "demand.points[0].sd_pct: -1.0 (must be 0 to 100, % at 1 sd)"),
    ("sd_pct", 150.0, "demand.points[0].sd_pct: 150.0 (must be 0 to 100, % at 1 sd)"),
    ("sd_pct", float("nan"), "demand.points[0].sd_pct: nan (must be 0 to 100, % at 1 sd)"),
    ("at_least", "yes", "demand.points[0].at_least: 'yes' (must be true or false)"),
])
def test_validation_names_the_point_field_and_value(field, value, message):
    d = DemandCurve(points=(replace(DemandPoint(D(2024, 1, 1), 1e12), **{field: value}),))
    assert message in validate_scenario(sc(demand=replace(sc().demand, points=d.points)))


def test_point_uncertainty_on_a_fitted_curve_is_refused_in_one_line():
    points = (DemandPoint(D(2024, 1, 1), 1e12, "", 10.0), DemandPoint(D(2025, 1, 1), 2e12))
    problems = validate_scenario(sc(demand=replace(sc().demand, points=points, kind="exponential")))
    assert "demand.points[0].sd_pct: 10 (a point's uncertainty needs a piecewise curve)" in problems


def test_params_round_trip_and_old_scenarios_read_as_exact():
    story = default_scenario()
    params = scenario_to_dict(story)
    sep = next(p for p in params["demand"]["points"] if p["date"] == "2025-09-15")
    assert sep["sd_pct"] == 21.0 and sep["at_least"] is True
    launch = params["demand"]["points"][0]
    assert "sd_pct" not in launch and "at_least" not in launch   # exact: stored as before
    assert scenario_from_dict(params) == story
    for p in params["demand"]["points"]:
        p.pop("sd_pct", None)
        p.pop("at_least", None)
    old = scenario_from_dict(params)
    assert all(p.sd_pct == 0.0 and p.at_least is False for p in old.demand.points)
    params["demand"]["points"][0]["sd_pct"] = "15%"
    params["demand"]["points"][1]["at_least"] = 1
    with pytest.raises(ValidationError) as err:
        scenario_from_dict(params)
    assert "demand.points[0].sd_pct: '15%' (must be a number)" in err.value.problems
    assert "demand.points[1].at_least: 1 (must be true or false)" in err.value.problems


def test_the_forecast_notes_say_the_points_are_uncertain():
    scenario = sc(demand=replace(sc().demand, points=(DemandPoint(D(2024, 1, 1), 1e5, "", 20.0, True),
                                                        DemandPoint(D(2025, 1, 1), 2e5, "", 12.5))), trials=200)
    from engine.forecast import run_forecast

    notes = run_forecast(inp(split_orders(1), scenario)).notes
    assert "demand points, 1 sd (lognormal, per trial): 2024-01 +20% floor, 2025-01 +-12.5%" in notes
