"""QA s29: two forecasts more certain than their inputs.

1. Growth after the last demand point was fitted to the points' figures alone: with every point but
   the last at +-100%, the band a year after the last point was the exact points' to the decimal
   (Dec 2026 98.3/136.4/227.7T in both). The fit now weighs each point by its stated uncertainty,
   and its spread includes it.
2. A fixed 90-day delay shipped a lot 151 days overdue on the as-of date, 90 days before a
   89/90/91-day triangle did: a certain delay is now read as the limit of a narrowing range.
"""

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.fleet import month_starts
from engine.forecast import (DemandCurve, DemandPoint, OrderUncertainty, _demand_samples, default_scenario,
                             delay_given_overdue, overdue_notes, point_log_offsets, run_forecast)
from engine.forecast_demand import DAYS_PER_YEAR, draw_log_growth, fit_growth
from tests.engine.test_extra_delay import one_lot_scenario

D = dt.date
YEAR_AFTER_LAST = D(2026, 12, 1)   # the story's last point is 2025-12-15


def _story(**demand):
    """The story, its request mix exact (the QA what-ifs), the demand edited by `demand`."""
    base = default_scenario()
    return replace(base, demand=replace(base.demand, request_mix_sigma=0.0, **demand))


def _points_with(sd_pct: float, last_exact: bool = True, at_least: bool = False):
    pts = sorted(default_scenario().demand.points, key=lambda p: p.date)
    return tuple(replace(p, sd_pct=0.0 if (last_exact and i == len(pts) - 1) else float(sd_pct), at_least=at_least)
                 for i, p in enumerate(pts))


def _band(scenario, month=YEAR_AFTER_LAST, trials=4000):
    """P10, P50, P90 of tokens/day in `month`, as the forecast draws them."""
    months = tuple(month_starts(scenario.start, 36))
    tokens = _demand_samples(scenario, months, trials, True, True)[0][:, months.index(month)]
    return np.percentile(tokens, [10, 50, 90])


# ---- 1. the growth fit carries the points' own uncertainty -----------------------------------

@pytest.mark.parametrize("seed", [2024, 7])
def test_loose_points_widen_the_band_after_the_last_one(seed):
    """The QA pair: A every point exact, B every point but Dec 2025 at +-100%. Before the last
    point B was already wider; a year after it the bands were identical. B is now much wider."""
    a = _band(replace(_story(points=_points_with(0.0)), seed=seed))
    b = _band(replace(_story(points=_points_with(100.0)), seed=seed))
    # the exact points' band: 2.32 before s34; those six points, stated exact, scatter about the
    # curve by 0.25 in log sd, which is now drawn after the last one (engine.forecast_demand.
    # level_scatter_sd)
    assert a[2] / a[0] == pytest.approx(3.5, abs=0.15)
    assert b[2] - b[0] > 3.0 * (a[2] - a[0])
    assert b[2] / b[0] > 3.0 * (a[2] / a[0])


@pytest.mark.parametrize("model", ["decaying", "loglinear"])
def test_the_band_widens_as_the_points_loosen(model):
    """P90/P10 a year after the last (exact) point, the others +-sd_pct: strictly increasing once
    the stated uncertainty covers the points' scatter about the curve. Below that (s34) the scatter
    the points do not state is drawn as demand's own (exact figures that scatter say demand swings
    so), and a stated +-10% calls part of it reporting error: the fit says which in its note."""
    widths, notes = [], []
    for sd in (0.0, 10.0, 25.0, 50.0, 100.0):
        scenario = _story(points=_points_with(sd), growth_model=model)
        p10, _, p90 = _band(scenario, trials=3000)
        widths.append(p90 / p10)
        notes.append(fit_growth(scenario.demand).note)
    assert all(later > earlier for earlier, later in zip(widths[2:], widths[3:])), widths
    assert widths[-1] > 4.0 * widths[0]
    assert "more than they state" in notes[0] and "more than they state" not in notes[2]
    # without the scatter drawn, the exact points' band is narrower than every looser one
    scenario = _story(points=_points_with(0.0), growth_model=model)
    fit = fit_growth(scenario.demand)
    z = np.random.default_rng(1).standard_normal((3000, 2))
    tau = np.array([(YEAR_AFTER_LAST.toordinal() - fit.last_ordinal) / DAYS_PER_YEAR])
    g = draw_log_growth(fit, tau, z, scenario.demand.ceiling_tokens_per_day)[:, 0]
    assert all(math.exp(np.percentile(g, 90) - np.percentile(g, 10)) < w for w in widths[1:])


def _exponential(growth_per_year: float, **point):
    """Three points 365 days apart on an exact exponential (the last may carry `point`)."""
    days = (0, 365, 730)
    first = D(2024, 1, 1)
    pts = [DemandPoint(first + dt.timedelta(days=d), 1e12 * growth_per_year ** (d / 365.0)) for d in days]
    pts[-1] = replace(pts[-1], **point)
    return tuple(pts)


def test_exact_points_fit_as_before_by_hand():
    """3x every 365 days, exactly: log-linear slope ln 3 / step with variance floor^2 / (2 step^2);
    decaying: log rate log(ln 3 / step), no decline, covariance floor^2 [[2.5, 2/step], [2/step,
    2/step^2]] at the last point (two intervals, mid-times step/2 and 3 step/2, no residual: the
    floor). A floor flag with sd 0 is the figure: the same fit."""
    step = 365.0 / DAYS_PER_YEAR
    floor = 0.25
    for at_least in (False, True):
        pts = _exponential(3.0, at_least=at_least)
        lin = fit_growth(DemandCurve(points=pts, growth_model="loglinear", fit_points=3, growth_sigma_floor=floor))
        assert lin.mean[0] == pytest.approx(math.log(3.0) / step, rel=1e-12)
        assert lin.cov[0][0] == pytest.approx(floor ** 2 / (2 * step ** 2), rel=1e-12)
        dec = fit_growth(DemandCurve(points=pts, growth_model="decaying", growth_sigma_floor=floor))
        assert dec.mean[0] == pytest.approx(math.log(math.log(3.0) / step), rel=1e-12)
        assert dec.mean[1] == pytest.approx(0.0, abs=1e-9)
        expected = floor ** 2 * np.array([[2.5, 2 / step], [2 / step, 2 / step ** 2]])
        np.testing.assert_allclose(np.array(dec.cov), expected, rtol=1e-12)
        for fit in (lin, dec):
            assert getattr(fit, "last_point_coef", ()) == () and "weighted" not in fit.note


def test_an_uncertain_last_point_weighs_less_by_hand():
    """Log-linear on three points on a line (no residual, so the scatter is the floor f), the last
    +-s: weights 1/f^2, 1/f^2, 1/(f^2 + s^2); the slope's variance is 1 / sum w (t - t_w)^2, its
    mean still the line's."""
    step, f, s = 365.0 / DAYS_PER_YEAR, 0.25, 0.40
    fit = fit_growth(DemandCurve(points=_exponential(3.0, sd_pct=100 * s), growth_model="loglinear",
                                 fit_points=3, growth_sigma_floor=f))
    t = np.array([0.0, step, 2 * step])
    w = np.array([1 / f ** 2, 1 / f ** 2, 1 / (f ** 2 + s ** 2)])
    t_w = (w @ t) / w.sum()
    assert fit.mean[0] == pytest.approx(math.log(3.0) / step, rel=1e-9)
    assert fit.cov[0][0] == pytest.approx(1.0 / (w @ (t - t_w) ** 2), rel=1e-9)
    assert fit.cov[0][0] > f ** 2 / (2 * step ** 2)          # wider than exact points
    assert "weighted by its stated uncertainty" in fit.note


def test_a_floor_point_is_fitted_where_its_draws_sit_on_average():
    """A "more than" figure +s% is drawn at figure x exp(s |z|): the fit takes it at its mean,
    figure x exp(s sqrt(2/pi)), with the half-normal's variance s^2 (1 - 2/pi). The same fit as a
    two-sided point there with that spread: exactly for the log-linear fit, to first order for the
    decaying one (an interval's log rate moves with its points' offsets to first order)."""
    pts = _exponential(3.0)
    for model, s, rtol, atol in (("loglinear", 0.3, 1e-9, 1e-12), ("decaying", 0.02, 1e-3, 2e-4)):
        floor = replace(pts[0], sd_pct=100 * s, at_least=True)
        moved = replace(pts[0], tokens_per_day=pts[0].tokens_per_day * math.exp(s * math.sqrt(2 / math.pi)),
                        sd_pct=100 * s * math.sqrt(1 - 2 / math.pi))
        a = fit_growth(DemandCurve(points=(floor,) + pts[1:], growth_model=model))
        b = fit_growth(DemandCurve(points=(moved,) + pts[1:], growth_model=model))
        np.testing.assert_allclose(a.mean, b.mean, rtol=rtol, atol=atol)
        np.testing.assert_allclose(np.array(a.cov), np.array(b.cov), rtol=rtol)
        exact = fit_growth(DemandCurve(points=pts, growth_model=model))
        assert abs(a.mean[-1] - exact.mean[-1]) > 1e-2    # the floor moved the fit (not at its figure)


def test_growth_drawn_given_the_last_point_keeps_the_fits_spread():
    """Each trial's growth is drawn given its own last point: a point drawn high steepens the fit
    through it (positive correlation), and over the trials the growth's spread is the fit's."""
    pts = _exponential(3.0, sd_pct=40.0)
    curve = DemandCurve(points=(replace(pts[0], sd_pct=30.0),) + pts[1:], growth_model="loglinear", fit_points=3)
    fit = fit_growth(curve)
    trials = 40_000
    last = point_log_offsets(curve, 11, trials)[:, -1:]
    z = np.random.default_rng(3).standard_normal((trials, 2))
    g = draw_log_growth(fit, np.array([1.0]), z, last_log_offset=last)[:, 0]
    assert g.var() == pytest.approx(fit.cov[0][0], rel=0.05)
    assert g.mean() == pytest.approx(fit.mean[0], abs=0.02)
    assert np.corrcoef(g, last[:, 0])[0, 1] > 0.3
    # without the point's draw (the central estimate, a hand-made fit) it draws as fitted
    assert draw_log_growth(fit, np.array([1.0]), None)[0, 0] == pytest.approx(fit.mean[0], rel=1e-12)


# ---- 2. a certain delay is the limit of a narrowing one ---------------------------------------

FIXED90 = OrderUncertainty("fixed", 1.0, 1.0, 1.0, "order", "fixed", 90.0, 90.0, 90.0)


def _triangle(half_width: float) -> OrderUncertainty:
    return replace(FIXED90, delay_dist="triangular", delay_low_days=90.0 - half_width,
                   delay_high_days=90.0 + half_width)


@pytest.mark.parametrize("overdue", [1.0, 30.0, 89.0, 90.0, 91.0, 120.0, 151.0, 365.0, 800.0])
def test_a_fixed_delay_given_lateness_is_the_narrowing_triangles_limit(overdue):
    scores = np.linspace(-4.0, 4.0, 81)
    fixed = delay_given_overdue(FIXED90, scores, overdue)
    for half_width in (1.0, 0.25):
        assert np.max(np.abs(fixed - delay_given_overdue(_triangle(half_width), scores, overdue))) <= 2.0
    # past the delay it is drawn again after the known date; within it, the delay itself
    assert np.all(fixed == (overdue + 90.0 if overdue > 90.0 else 90.0))


def test_a_lot_151_days_overdue_arrives_as_with_a_narrow_triangle():
    """1,000 chips due 2025-01-01, not delivered by 2025-06-01 (151 days late). Fixed 90 days: on
    2025-08-30 (151 + 90 days after the due date), as with 89/90/91 in every trial (within a month);
    it had arrived on 2025-06-01."""
    as_of = D(2025, 6, 1)
    got = {}
    for name, unc in (("fixed", FIXED90), ("triangle", _triangle(1.0))):
        r = run_forecast(one_lot_scenario(unc, as_of=as_of, trials=1001))
        got[name] = r
        p50 = dict(zip(r.months, r.installed_total.p50))
        assert (p50[D(2025, 6, 1)], p50[D(2025, 8, 1)], p50[D(2025, 9, 1)]) == (0, 0, 1000), name
    for band in ("p10", "p50", "p90"):
        fixed, tri = (np.asarray(getattr(got[k].installed_total, band)) for k in ("fixed", "triangle"))
        # every month equal to the triangle's, or to its next month's (one month apart at most)
        assert np.all((fixed == tri) | (fixed == np.roll(tri, -1)) | (fixed == np.roll(tri, 1))), band
    [note] = overdue_notes(one_lot_scenario(FIXED90, as_of=as_of).orders,
                           one_lot_scenario(FIXED90, as_of=as_of).scenario)
    assert ("1,000 of them are later than the profile's fixed delay (90 days), so they are drawn that "
            "delay again after 2025-06-01") in note


def test_the_late_lot_note_keeps_a_range_at_its_maximum():
    as_of = D(2025, 6, 1)
    wide = replace(FIXED90, delay_dist="triangular", delay_low_days=0.0, delay_high_days=120.0)
    inputs = one_lot_scenario(wide, as_of=as_of)
    [note] = overdue_notes(inputs.orders, inputs.scenario)
    assert "later than the profile's maximum delay (120 days), so they are drawn that delay again" in note
    inside = one_lot_scenario(replace(wide, delay_high_days=200.0), as_of=as_of)
    [note] = overdue_notes(inside.orders, inside.scenario)
    assert "drawn that delay again" not in note
