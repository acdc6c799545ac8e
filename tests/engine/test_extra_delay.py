"""`extra_delay_days`: every undelivered lot ships that many days later, on top of the drawn delay.

The seeded "Huawei 6 months late" stored absolute delays (182/272/547 days: the baseline's
0/90/365 plus 182 written out). With the baseline's Huawei delay edited to 150/300/700 days it kept
182/272/547 and read EARLIER than the baseline (910B installed Oct 2025 P50 42,329 late vs 29,059
baseline). It now stores `extra_delay_days: 182`, which stays 182 days on top of whatever the
baseline's delay is."""

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.errors import ValidationError
from engine.fleet import Order, ScheduledLot
from engine.forecast import (DemandCurve, DemandPoint, ForecastInputs, ForecastScenario, OrderUncertainty,
                             default_scenario, delay_given_overdue, draw_fraction_delay, run_forecast,
                             scenario_from_dict, scenario_to_dict, uncertainty_problems, validate_scenario)

D = dt.date
CHIP = "chip-a"
# the baseline's Huawei delay as a user edited it: triangular 150 / 300 / 700 days
EDITED = OrderUncertainty("fixed", 1.0, 1.0, 1.0, "order", "triangular", 150.0, 300.0, 700.0)
# its median, by hand: mode share (300 - 150) / 550 = 0.27 < 0.5, so the median is on the upper
# side: 700 - sqrt(0.5 * 550 * (700 - 300)) = 700 - sqrt(110,000) = 368.34 days
EDITED_MEDIAN = 700.0 - math.sqrt(110_000.0)


def one_lot_scenario(unc: OrderUncertainty, **kw) -> ForecastInputs:
    """1,000 chips of one order, due 2025-01-01, none delivered; no attrition, no install lag."""
    order = Order(id=1, buyer="B", vendor="Huawei", chip_id=CHIP, quantity=1000, order_date=D(2024, 1, 1),
                  promised=(ScheduledLot(D(2025, 1, 1), 1000),))
    base = dict(start=D(2024, 1, 1), months=48, trials=4001, seed=5, install_lag_days=0.0,
                annual_failure_rate=0.0, lifetime_years=None, vendor_uncertainty={"Huawei": unc},
                demand=DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1.0),), model_id="m", chip_id=CHIP,
                                   input_tokens_per_request=0.0, output_tokens_per_request=1.0))
    base.update(kw)
    return ForecastInputs(orders=(order,), scenario=ForecastScenario(**base), chip_peak_tflops={CHIP: 500.0},
                          serving_tokens_per_s_per_chip={CHIP: 1.0})


# ---- the draw --------------------------------------------------------------------------------

def test_every_trials_delay_is_the_drawn_one_plus_the_extra_days():
    rng = np.random.default_rng(1)
    common, own = rng.standard_normal((2, 5000)), rng.standard_normal((2, 5000))
    _, base = draw_fraction_delay(EDITED, common, own, 5000)
    _, late = draw_fraction_delay(replace(EDITED, extra_delay_days=182.0), common, own, 5000)
    assert np.allclose(late - base, 182.0)
    # the median (the source switched off): 368.34 days, and 550.34 with the extra 182
    assert draw_fraction_delay(EDITED, None, None, 1)[1][0] == pytest.approx(EDITED_MEDIAN, abs=0.01)
    assert draw_fraction_delay(replace(EDITED, extra_delay_days=182.0), None, None, 1)[1][0] == \
        pytest.approx(EDITED_MEDIAN + 182.0, abs=0.01)


def test_the_median_lot_ships_182_days_later():
    """The lot arrives 2025-01-01 + the delay. P(delay <= d) = 1 - (700 - d)^2 / (550 * 400) above
    the mode: 0.39 by 2025-12-01 (334 days), 0.58 by 2026-02-01 (396 days), so P50 installed is 0
    and 1,000 there (the median, 368 days, is 2026-01-04). With 182 days on top the same
    probabilities fall on 2026-06-01 and 2026-08-01 (the median lot on 2026-07-05), and since
    2025-12-01 + 182 days is 2026-06-01, the what-if's P10/P50/P90 there are the baseline's on
    2025-12-01 exactly (same draws, each shifted 182 days)."""
    base = run_forecast(one_lot_scenario(EDITED))
    late = run_forecast(one_lot_scenario(replace(EDITED, extra_delay_days=182.0)))
    p50_base, p50_late = (dict(zip(r.months, r.installed_total.p50)) for r in (base, late))
    assert (p50_base[D(2025, 12, 1)], p50_base[D(2026, 2, 1)]) == (0, 1000)
    assert (p50_late[D(2026, 6, 1)], p50_late[D(2026, 8, 1)]) == (0, 1000)
    assert D(2025, 12, 1) + dt.timedelta(days=182) == D(2026, 6, 1)
    i, j = base.months.index(D(2025, 12, 1)), late.months.index(D(2026, 6, 1))
    for band in ("p10", "p50", "p90"):
        assert getattr(late.installed_total, band)[j] == getattr(base.installed_total, band)[i]
        assert np.all(getattr(late.installed_total, band) <= getattr(base.installed_total, band))


def test_a_lot_already_overdue_still_ships_the_extra_days_later():
    """1,000 chips due 2024-06-01, not delivered by the known date 2025-01-01 (214 days late), a
    fixed 90-day delay: the delay has passed, so it is drawn again from the known date, as a
    narrowing range's is (s29: a fixed delay shipped them on the known date, three months before an
    89/90/91-day one): 2025-04-01. 182 days on top: 2025-09-30, so none on 2025-09-01 and all on
    2025-10-01. (The old seeded form, a fixed 272 days, gave 2025-02-27: only 57 days later.)"""
    fixed90 = OrderUncertainty("fixed", 1.0, 1.0, 1.0, "order", "fixed", 90.0, 90.0, 90.0)
    kw = dict(as_of=D(2025, 1, 1), start=D(2024, 1, 1), months=24)

    def installed(unc):
        inputs = one_lot_scenario(unc, **kw)
        inputs = replace(inputs, orders=(replace(inputs.orders[0], promised=(ScheduledLot(D(2024, 6, 1), 1000),)),))
        r = run_forecast(inputs)
        return dict(zip(r.months, r.installed_total.p50))

    base, late = installed(fixed90), installed(replace(fixed90, extra_delay_days=182.0))
    assert (base[D(2025, 3, 1)], base[D(2025, 4, 1)]) == (0, 1000)
    assert (late[D(2025, 9, 1)], late[D(2025, 10, 1)]) == (0, 1000)
    # with a distribution: the delay given the lateness, then the extra days, per trial
    scores = np.linspace(-3, 3, 61)
    for overdue in (0.0, 200.0, 400.0, 800.0):
        known = delay_given_overdue(EDITED, scores, overdue)
        shifted = delay_given_overdue(replace(EDITED, extra_delay_days=182.0), scores, overdue)
        assert np.array_equal(shifted, np.maximum(known, overdue) + 182.0), overdue


# ---- the seeded what-if follows an edit of the baseline's delay -------------------------------

def test_huawei_6_months_late_stays_later_than_an_edited_baseline(tmp_path):
    """The baseline's Huawei delay edited to 150/300/700 days. Each trial draws the same fraction
    and delay scores in both (same seed), and the what-if adds 182 days to every Huawei lot, so in
    every trial, every month, it has at most the baseline's 910B: its P50 is never above. With
    attrition off (chips that arrive later would otherwise have decayed less by the horizon)."""
    from engine.forecast_inputs import build_inputs
    from engine.store import open_store

    s = open_store(tmp_path / "fleet.db")
    try:
        base = s.scenario("Story default")["params"]
        huawei = base["vendor_uncertainty"]["Huawei"]
        huawei.update(delay_dist="triangular", delay_low_days=150.0, delay_mode_days=300.0, delay_high_days=700.0)
        base.update(annual_failure_rate=0.0, lifetime_years=None)
        s.save_scenario("Story default", base)
        chips, models, orders = {c.id: c for c in s.chips()}, {m.id: m for m in s.models()}, s.orders()
        got = {name: scenario_from_dict(s.scenario(name)["params"])
               for name in ("Story default", "Huawei 6 months late")}
    finally:
        s.close()
    late_unc, base_unc = got["Huawei 6 months late"].vendor_uncertainty["Huawei"], got["Story default"].vendor_uncertainty["Huawei"]
    assert (late_unc.delay_low_days, late_unc.delay_mode_days, late_unc.delay_high_days) == (150.0, 300.0, 700.0)
    assert replace(late_unc, extra_delay_days=0.0, note="") == replace(base_unc, note="")
    # the median delay: 368.34 days in the baseline, 182 more in the what-if
    assert draw_fraction_delay(late_unc, None, None, 1)[1][0] - draw_fraction_delay(base_unc, None, None, 1)[1][0] \
        == pytest.approx(182.0)
    runs = {name: run_forecast(build_inputs(orders, chips, models, replace(sc, trials=1000)))
            for name, sc in got.items()}
    b = runs["Story default"].installed_by_chip["ascend-910b2"].p50
    w = runs["Huawei 6 months late"].installed_by_chip["ascend-910b2"].p50
    assert np.all(w <= b + 1e-6)
    assert (b - w).max() > 10_000     # and really later somewhere, not the same fleet
    # every 910B lot 182 days later: on 2026-06-01 (2025-12-01 + 182 days) the what-if holds what
    # the baseline held on 2025-12-01 (45,015 at 1,000 trials), the chips delivered by then included
    months = runs["Story default"].months
    assert w[months.index(D(2026, 6, 1))] == pytest.approx(b[months.index(D(2025, 12, 1))], rel=1e-9)
    i = months.index(D(2025, 10, 1))
    assert w[i] <= b[i]               # the month: the what-if read 42,329 vs 29,059


# ---- round trip and validation -----------------------------------------------------------------

def test_extra_delay_round_trips_and_an_old_scenario_reads_0():
    sc = default_scenario()
    sc = replace(sc, default_uncertainty=replace(sc.default_uncertainty, extra_delay_days=30.0),
                 vendor_uncertainty={**sc.vendor_uncertainty,
                                     "Huawei": replace(sc.vendor_uncertainty["Huawei"], extra_delay_days=182.5)},
                 order_uncertainty={3: replace(EDITED, extra_delay_days=7.0)})
    d = scenario_to_dict(sc)
    assert d["vendor_uncertainty"]["Huawei"]["extra_delay_days"] == 182.5
    back = scenario_from_dict(d)
    assert back == sc
    assert (back.default_uncertainty.extra_delay_days, back.order_uncertainty[3].extra_delay_days) == (30.0, 7.0)
    # a scenario saved before the field existed: no days on top
    for unc in [d["default_uncertainty"], *d["vendor_uncertainty"].values(), *d["order_uncertainty"].values()]:
        del unc["extra_delay_days"]
    old = scenario_from_dict(d)
    assert old.default_uncertainty.extra_delay_days == 0.0
    assert {u.extra_delay_days for u in [*old.vendor_uncertainty.values(), *old.order_uncertainty.values()]} == {0.0}
    assert OrderUncertainty().extra_delay_days == 0.0


@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf, 3651.0])
def test_a_negative_or_not_finite_extra_delay_is_refused_naming_the_field(value):
    sc = default_scenario()
    bad = replace(sc, vendor_uncertainty={**sc.vendor_uncertainty,
                                          "Huawei": replace(sc.vendor_uncertainty["Huawei"], extra_delay_days=value)})
    problems = validate_scenario(bad)
    assert problems == [f"vendor_uncertainty.Huawei.extra_delay_days: {value!r} (must be in [0, 3650] days)"]
    [words] = uncertainty_problems(bad.vendor_uncertainty["Huawei"], "Huawei orders")
    assert words.startswith("Huawei orders: the delay added on top (extra delay) ") and "0 days and 3,650 days" in words
    d = scenario_to_dict(bad)   # read back: refused, naming the field (nan/inf: "must be a number")
    with pytest.raises(ValidationError, match=r"vendor_uncertainty\.Huawei\.extra_delay_days: "):
        scenario_from_dict(d)
    d["vendor_uncertainty"]["Huawei"]["extra_delay_days"] = "182"
    with pytest.raises(ValidationError, match=r"vendor_uncertainty\.Huawei\.extra_delay_days: '182'"):
        scenario_from_dict(d)


def test_zero_and_the_limit_are_accepted():
    sc = default_scenario()
    for value in (0.0, 3650.0):
        ok = replace(sc, default_uncertainty=replace(sc.default_uncertainty, extra_delay_days=value))
        assert validate_scenario(ok) == []
