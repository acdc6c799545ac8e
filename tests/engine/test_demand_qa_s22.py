"""QA s22 on demand growth and the first short month: a log-linear fit to falling points is
followed with its spread (it was held flat, P10 = P50 = P90), and "First month demand exceeds
capacity P50" is the month the demand line crosses capacity P50."""

import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pytest

from engine.forecast import DemandCurve, DemandPoint
from engine.forecast_demand import draw_log_growth, fit_growth

D = dt.date
FALLING = (DemandPoint(D(2024, 5, 15), 50e12), DemandPoint(D(2024, 9, 15), 10e12), DemandPoint(D(2024, 12, 15), 1e12))


def _falling_fit():
    return fit_growth(DemandCurve(points=FALLING, growth_model="loglinear", fit_points=3))


def test_a_loglinear_fit_to_falling_points_gives_falling_demand_with_its_spread():
    """QA: the note said 0.0014x/year while every trial was held at the last point (the drawn
    slope was clipped at 0): demand 1.0e12 every month, P10 = P50 = P90."""
    fit = _falling_fit()
    assert fit.mean[0] == pytest.approx(-6.57, abs=0.01)
    assert "0.0014x/year, falling (slope -6.57" in fit.note
    z = np.random.default_rng(0).standard_normal((20_000, 2))
    log_g = draw_log_growth(fit, np.array([0.0, 1.0, 2.0]), z)
    assert np.all(log_g[:, 0] == 0.0)
    p10, p50, p90 = np.quantile(log_g[:, 1], [0.1, 0.5, 0.9])
    assert p50 == pytest.approx(fit.mean[0], abs=0.05)          # the fit, followed
    assert p90 - p10 == pytest.approx(2 * 1.2816 * math.sqrt(fit.cov[0][0]), rel=0.03)   # and its spread
    assert np.median(log_g[:, 2]) < np.median(log_g[:, 1]) < 0


def test_a_slowly_growing_fit_keeps_its_lower_tail():
    """The clip at 0 also cut the draws below 0 of a fit that grows: +0.1 +- 0.5 per year had
    its P10 held at no growth."""
    fit = SimpleNamespace(model="loglinear", mean=(0.1,), cov=((0.25,),), last_tokens_per_day=1e12)
    z = np.random.default_rng(1).standard_normal((20_000, 2))
    g = draw_log_growth(fit, np.array([1.0]), z)[:, 0]
    assert np.quantile(g, 0.1) == pytest.approx(0.1 - 1.2816 * 0.5, abs=0.03)


def test_falling_demand_reaches_the_forecast():
    """End to end: the repro scenario's demand falls month by month, with a band."""
    from dataclasses import replace

    from engine.catalog import reference_chips, reference_models
    from engine.forecast import default_scenario, run_forecast
    from engine.forecast_inputs import build_inputs, story_orders

    base = default_scenario()
    sc = replace(base, months=24, trials=1000, jobs=(),
                 demand=replace(base.demand, growth_model="loglinear", fit_points=3, points=FALLING))
    r = run_forecast(build_inputs(story_orders(), reference_chips(), reference_models(), sc))
    i = r.months.index(D(2025, 6, 1))
    j = r.months.index(D(2026, 4, 1))
    demand = np.asarray(r.demand_tokens_per_day)
    assert demand[j] < demand[i] < 1e12
    bands = r.demand_tokens_per_day_bands
    assert bands.p10[j] < demand[j] < bands.p90[j]


def _result(balance, shortfall, prob, trials=10_000):
    months = tuple(D(2025, m, 1) for m in range(5, 5 + len(balance)))
    return SimpleNamespace(months=months, balance_p50_unit_chips=np.array(balance, dtype=float),
                           shortfall_p50_unit_chips=np.array(shortfall, dtype=float),
                           prob_meet_demand=np.array(prob, dtype=float), trials=trials)


def test_the_first_month_demand_exceeds_capacity_p50_is_where_the_lines_cross():
    """QA: on the story at 10,000 trials 2025-07 had demand 3.4 chips over capacity P50 but a
    median shortfall of 0, so "First month demand exceeds capacity P50" read 2025-08 while the
    chart crossed in July."""
    from engine.studies_forecast import first_shortfall_month, shortfall_seed_words

    # the story's months 2025-05 to 2025-08 at 10,000 trials (capacity_p50 - demand, shortfall_p50, P(meet))
    r = _result([40_000.0, 28_881.0, -3.4, -37_608.9], [0.0, 0.0, 0.0, 36_202.2], [0.9, 0.7793, 0.5076, 0.2549])
    assert first_shortfall_month(r) == D(2025, 7, 1)
    first, count = shortfall_seed_words(r)
    # the seed range holds the figure; the count of P50 shortfall months is still the median's
    assert first.startswith("2025-07 or 2025-08 by the seed (P(meet) 2025-07 50.8% +-0.5 points")
    assert count.startswith("1 to 2 by the seed")
    # far from 50%, no range: the figure alone
    far = _result([1.0, -3.4, -50.0], [0.0, 0.0, 40.0], [0.9, 0.45, 0.1])
    assert first_shortfall_month(far) == D(2025, 6, 1) and shortfall_seed_words(far) == ("", "")
    assert first_shortfall_month(_result([1.0, 2.0], [0.0, 0.0], [0.9, 0.8])) is None
