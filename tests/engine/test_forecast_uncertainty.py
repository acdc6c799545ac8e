"""Forecast v2 uncertainty: vendor common shocks, cut-offs, demand growth, throughput, decomposition."""

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import (DemandCurve, DemandPoint, ForecastInputs, ForecastScenario, OrderUncertainty,
                             PolicyEvent, run_forecast, scenario_from_dict, scenario_to_dict, simulate)
from engine.forecast_demand import draw_log_growth, fit_growth

D = dt.date
CHIP = "chip-a"
HUAWEI = OrderUncertainty("beta", 0.3, 0.4, 0.8, "order", "triangular", 0, 90, 365)


def split_orders(n: int, total: int = 100_000, same_contract: bool = True) -> list[Order]:
    """One 100,000-chip order entered as n rows (30% delivered, the rest due in two lots)."""
    q = total // n
    out = []
    for k in range(n):
        day = D(2024, 1, 1) if same_contract else D(2024, 1, 1) + dt.timedelta(days=k)
        out.append(Order(id=k + 1, buyer="B", vendor="Huawei", chip_id=CHIP, quantity=q, order_date=day,
                         promised=(ScheduledLot(D(2024, 7, 1), q * 3 // 10), ScheduledLot(D(2025, 1, 1), q * 35 // 100),
                                   ScheduledLot(D(2025, 7, 1), q - q * 3 // 10 - q * 35 // 100)),
                         deliveries=(Delivery(k, k + 1, D(2024, 7, 1), q * 3 // 10),)))
    return out


def sc(**kw):
    base = dict(start=D(2024, 1, 1), months=36, trials=2000, seed=3, install_lag_days=0.0,
                demand=DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1.0),), model_id="m", chip_id=CHIP,
                                   input_tokens_per_request=0.0, output_tokens_per_request=1.0),
                vendor_uncertainty={"Huawei": HUAWEI})
    base.update(kw)
    return ForecastScenario(**base)


def inp(orders, scenario, **kw):
    return ForecastInputs(orders=tuple(orders), scenario=scenario, chip_peak_tflops={CHIP: 500.0},
                          serving_tokens_per_s_per_chip={CHIP: 1.0}, **kw)


def spread(result, day=D(2026, 1, 1)):
    i = result.months.index(day)
    return result.installed_total.p90[i] - result.installed_total.p10[i]


# ---- vendor common shock ------------------------------------------------------------------------

def test_splitting_an_order_into_rows_of_one_contract_keeps_the_spread_exactly():
    spreads = [spread(run_forecast(inp(split_orders(n), sc()))) for n in (1, 10, 100)]
    assert spreads[0] > 20_000  # 0.1 had 56k / 16.6k / 5.3k for 1 / 10 / 100 rows
    assert spreads[1] == pytest.approx(spreads[0], rel=1e-9)
    assert spreads[2] == pytest.approx(spreads[0], rel=1e-9)


def test_separate_contracts_keep_the_vendor_share_of_the_spread():
    """100 separate contracts keep sqrt(common share + (1 - share)/100) of one contract's spread
    (in normal scores; 0.84 at the default 0.7), and all of it when the vendor's shock is all."""
    one = spread(run_forecast(inp(split_orders(1), sc())))
    many = spread(run_forecast(inp(split_orders(100, same_contract=False), sc())))
    assert 0.78 * one < many < 0.92 * one
    common = sc(vendor_uncertainty={"Huawei": replace(HUAWEI, vendor_common_share=1.0)})
    assert spread(run_forecast(inp(split_orders(100, same_contract=False), common))) == \
        pytest.approx(spread(run_forecast(inp(split_orders(1), common))), rel=1e-9)
    own = sc(vendor_uncertainty={"Huawei": replace(HUAWEI, vendor_common_share=0.0)})
    assert spread(run_forecast(inp(split_orders(100, same_contract=False), own))) < 0.2 * one


def test_marginal_distribution_is_kept_whatever_the_common_share():
    for share in (0.0, 0.7, 1.0):
        unc = OrderUncertainty("uniform", 0.2, 0.5, 0.8, "outstanding", "fixed", 0, 0, 0, vendor_common_share=share)
        o = [Order(id=1, buyer="B", vendor="V", chip_id=CHIP, quantity=1000, order_date=D(2024, 1, 1),
                   promised=(ScheduledLot(D(2024, 2, 1), 1000),))]
        s = simulate(inp(o, sc(trials=20_000, vendor_uncertainty={"V": unc})))
        end = s.installed[CHIP][:, -1] / 1000 / (0.97 ** 0)  # no attrition in this scenario
        assert end.mean() == pytest.approx(0.5, abs=0.01)
        assert np.quantile(end, 0.1) == pytest.approx(0.2 + 0.6 * 0.1, abs=0.01)


# ---- export-licence cut-off -----------------------------------------------------------------------

def cutoff_order():
    return [Order(id=1, buyer="B", vendor="NVIDIA", chip_id=CHIP, quantity=100_000, order_date=D(2024, 1, 1),
                  promised=(ScheduledLot(D(2024, 6, 1), 30_000), ScheduledLot(D(2025, 1, 1), 35_000),
                            ScheduledLot(D(2025, 7, 1), 20_000), ScheduledLot(D(2025, 11, 1), 15_000)),
                  deliveries=(Delivery(1, 1, D(2024, 6, 1), 30_000),))]


def installed_end(scenario):
    r = run_forecast(inp(cutoff_order(), scenario))
    return r.installed_total.p50[-1]


def test_permanent_cutoff_loses_every_lot_due_from_its_start():
    event = PolicyEvent(CHIP, 1.0, D(2025, 4, 9), D(2025, 4, 9), None)
    # delivered 30k + the January lot 35k; the July and November lots are lost
    assert installed_end(sc(policy_events=(event,))) == pytest.approx(65_000)


def test_temporary_cutoff_loses_only_the_lots_inside_it():
    event = PolicyEvent(CHIP, 1.0, D(2025, 4, 9), D(2025, 4, 9), 6.0)  # to about 9 Oct 2025
    assert installed_end(sc(policy_events=(event,))) == pytest.approx(80_000)


def test_cutoff_probability_is_the_share_of_trials_that_lose_chips():
    event = PolicyEvent(CHIP, 0.3, D(2025, 4, 9), D(2025, 4, 9), None)
    s = simulate(inp(cutoff_order(), sc(trials=20_000, policy_events=(event,))))
    lost = s.installed[CHIP][:, -1] < 99_999
    assert lost.mean() == pytest.approx(0.3, abs=0.015)


def test_policy_events_round_trip_and_are_validated():
    event = PolicyEvent(CHIP, 0.5, D(2025, 1, 1), D(2025, 12, 31), 3.0, "note")
    s1 = sc(policy_events=(event,))
    assert scenario_from_dict(scenario_to_dict(s1)).policy_events == (event,)
    bad = scenario_to_dict(s1)
    bad["policy_events"][0]["probability"] = 1.5
    with pytest.raises(Exception, match=r"policy_events\[0\]\.probability: 1\.5"):
        scenario_from_dict(bad)


# ---- demand growth ----------------------------------------------------------------------------------

def gompertz_points(rate0=8.0, decay=1.2, n=6):
    """Points whose growth rate is rate0 * exp(-decay t) exactly (t in years from the first)."""
    pts = []
    for k in range(n):
        t = k * 0.25
        log_n = math.log(1e11) + rate0 / decay * (1 - math.exp(-decay * t))
        pts.append(DemandPoint(D(2024, 1, 1) + dt.timedelta(days=round(t * 365.25)), math.exp(log_n)))
    return tuple(pts)


def test_decaying_fit_recovers_the_decay_of_the_growth_rate():
    curve = DemandCurve(points=gompertz_points(), growth_model="decaying", growth_sigma_floor=0.0)
    fit = fit_growth(curve)
    # interval rates are averages over each interval: log r is linear in the mid-time up to 1%
    assert fit.mean[1] == pytest.approx(-1.2, rel=0.02)
    assert math.exp(fit.mean[0]) == pytest.approx(8.0 * math.exp(-1.2 * 1.25), rel=0.02)
    # the central path saturates at the remaining growth rate / decay
    far = draw_log_growth(fit, np.array([50.0]), None)[0, 0]
    assert far == pytest.approx(math.exp(fit.mean[0]) / -fit.mean[1], rel=1e-6)


def test_loglinear_fit_of_an_exact_exponential_has_the_floor_as_its_error():
    pts = tuple(DemandPoint(D(2024, 1, 1) + dt.timedelta(days=round(k * 365.25 / 2)), 1e9 * 3.0 ** (k / 2))
                for k in range(3))
    fit = fit_growth(DemandCurve(points=pts, growth_model="loglinear", fit_points=3, growth_sigma_floor=0.1))
    assert math.exp(fit.mean[0]) == pytest.approx(3.0, rel=2e-3)  # dates rounded to whole days
    # se = floor / sqrt(sum (t - mean t)^2), t = 0, 0.5, 1 years
    assert math.sqrt(fit.cov[0][0]) == pytest.approx(0.1 / math.sqrt(0.5), rel=1e-3)


def test_user_growth_quantiles_come_back_from_the_draws():
    curve = DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1e9),), growth_model="user",
                        growth_p10_per_year=1.5, growth_p50_per_year=2.0, growth_p90_per_year=4.0)
    z = np.random.default_rng(0).standard_normal((200_000, 2))
    g = np.exp(draw_log_growth(fit_growth(curve), np.array([1.0]), z)[:, 0])
    assert np.quantile(g, [0.1, 0.5, 0.9]) == pytest.approx([1.5, 2.0, 4.0], rel=0.01)


def test_a_higher_user_p50_never_lowers_any_trials_growth():
    """QA: P10/P50/P90 1.5/2.0/3.0 x/yr against P50 2.5 with the same P10 and P90: each half kept
    its own slope beyond P10, so the higher P50 lowered the growth at score -2 (1.28 -> 1.13 x/yr)
    and with it the demand P(meet) reads. Beyond P10 and P90 the tails now take the average
    half-spread, (ln 3 - ln 1.5) / (2 x 1.2816) per unit of score, whatever the P50."""
    z = np.linspace(-6, 6, 241)[:, None] * np.ones((1, 2))

    def growth(p50):
        curve = DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1e9),), growth_model="user",
                            growth_p10_per_year=1.5, growth_p50_per_year=p50, growth_p90_per_year=3.0)
        return np.exp(draw_log_growth(fit_growth(curve), np.array([1.0]), z)[:, 0])

    low, high = growth(2.0), growth(2.5)
    assert np.all(high >= low - 1e-12)
    tail = (math.log(3.0) - math.log(1.5)) / (2 * 1.2815515655446004)
    at_minus_2 = math.exp(math.log(1.5) + (-2.0 + 1.2815515655446004) * tail)
    i = int(np.argmin(abs(z[:, 0] + 2.0)))
    assert low[i] == pytest.approx(at_minus_2, rel=1e-6) and high[i] == pytest.approx(at_minus_2, rel=1e-6)


def test_ceiling_turns_growth_into_a_logistic():
    curve = DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1e9),), growth_model="fixed",
                        growth_after_last_per_year=4.0)
    fit = fit_growth(curve)
    capped = draw_log_growth(fit, np.array([0.0, 1.0, 30.0]), None, ceiling_tokens_per_day=1e10)[0]
    k = 10.0  # K / N0
    assert capped[0] == pytest.approx(0.0, abs=1e-12)
    assert math.exp(capped[1]) == pytest.approx(k / (1 + (k - 1) / 4.0))
    assert math.exp(capped[2]) == pytest.approx(k, rel=1e-6)


def test_demand_uncertainty_spreads_demand_only_after_the_last_point():
    curve = DemandCurve(points=gompertz_points(), growth_model="decaying", growth_sigma_floor=0.25,
                        model_id="m", chip_id=CHIP, input_tokens_per_request=0.0, output_tokens_per_request=1.0)
    r = run_forecast(inp(split_orders(1), sc(demand=curve, start=D(2024, 1, 1), months=48)))
    b = r.demand_tokens_per_day_bands
    before = [i for i, m in enumerate(r.months) if m <= curve.points[-1].date]
    after = [i for i, m in enumerate(r.months) if m.year >= 2027]
    assert np.allclose(b.p10[before], b.p90[before])
    assert np.all(b.p90[after] > 1.5 * b.p10[after])


# ---- throughput ----------------------------------------------------------------------------------------

def test_throughput_sigma_gives_the_lognormal_band_of_capacity():
    fixed = OrderUncertainty()  # supply exact: capacity varies only by the chip family's multiplier
    orders = split_orders(1)
    s = simulate(inp(orders, sc(trials=40_000, vendor_uncertainty={"Huawei": fixed}),
                     family_by_chip={CHIP: "fam"}, serving_sigma_by_chip={CHIP: 0.3}))
    cap = s.capacity_tps[:, -1]
    assert np.quantile(cap, 0.9) / np.median(cap) == pytest.approx(math.exp(1.2816 * 0.3), rel=0.02)


def test_throughput_sigmas_are_data_per_family():
    from engine.forecast_inputs import throughput_sigmas

    family, serving, training = throughput_sigmas(["ascend-910b2", "h20-96gb", "a100-sxm4-80gb", "mystery-x"])
    assert family == {"ascend-910b2": "ascend", "h20-96gb": "hopper", "a100-sxm4-80gb": "ampere",
                      "mystery-x": "other"}
    # the 910B's serving evidence (p90 57.6%) is thinner than the H100's (p90 36.7%)
    assert serving["ascend-910b2"] > serving["h20-96gb"]
    assert all(0 < v < 1 for v in list(serving.values()) + list(training.values()))


# ---- variance decomposition -----------------------------------------------------------------------

def test_variance_shares_sum_to_one_and_name_the_only_source():
    from engine.forecast_sensitivity import variance_shares

    v = variance_shares(inp(split_orders(1), sc(trials=500)))
    supply = v.sources.index("supply")
    varying = v.total_variance > 1e-9
    assert varying.any()
    assert np.allclose(v.shares[:, varying].sum(axis=0), 1.0)
    assert np.allclose(v.shares[supply, varying], 1.0)
    both = inp(split_orders(1), sc(trials=500), family_by_chip={CHIP: "f"}, serving_sigma_by_chip={CHIP: 0.5})
    v2 = variance_shares(both)
    late = -1
    assert v2.shares[v2.sources.index("throughput"), late] > 0.3
    assert v2.dominant()[late] in ("supply", "throughput")


def test_tornado_bad_end_of_each_input_is_never_better():
    """Each bar's 'bad' setting (less delivered, later, slower chips) cannot raise P(meet) or lower
    the shortfall: the tornado ranks inputs, and its ends must mean what their labels say."""
    from engine.forecast_sensitivity import tornado

    # a demand the fleet can miss: at 1 token a day no input moved anything, and the last check
    # passed only while the throughput bar divided a tiny shortfall by two different pinned rates
    demand = replace(sc().demand, points=(DemandPoint(D(2024, 1, 1), 4e9),))
    t = tornado(inp(split_orders(1), sc(trials=400, demand=demand), family_by_chip={CHIP: "f"},
                    serving_sigma_by_chip={CHIP: 0.3}), trials=400)
    names = [b.input for b in t.bars]
    assert any(n.endswith(" fraction") for n in names) and any(n.endswith(" delay") for n in names)
    assert "demand (points and growth)" in names and "throughput" in names
    checked = 0
    for bar in t.bars:
        if bar.input.endswith((" fraction", " delay")) or bar.input == "throughput":
            assert bar.high["prob_meet_demand"] <= bar.low["prob_meet_demand"] + 1e-9, bar.input
            assert bar.high["shortfall_mean_unit_chips"] >= bar.low["shortfall_mean_unit_chips"] - 1e-9, bar.input
            checked += 1
    assert checked >= 3
    spread = [abs(b.high["shortfall_mean_unit_chips"] - b.low["shortfall_mean_unit_chips"]) for b in t.bars]
    assert max(spread) > 0  # at least one input moves the answer


def test_effective_uncertainty_precedence_order_then_vendor_then_default():
    from engine.forecast import OrderUncertainty, effective_uncertainty

    default = OrderUncertainty(fraction_mode=0.9)
    huawei = OrderUncertainty(fraction_mode=0.7)
    order_7 = OrderUncertainty(fraction_mode=0.5)
    by_vendor, by_order = {"Huawei": huawei}, {7: order_7}
    assert effective_uncertainty(7, "Huawei", default, by_vendor, by_order) is order_7
    assert effective_uncertainty(8, "huawei", default, by_vendor, by_order) is huawei  # case-insensitive
    assert effective_uncertainty(8, "NVIDIA", default, by_vendor, by_order) is default
    assert effective_uncertainty(8, None, default, by_vendor, by_order) is default


def test_an_order_whose_vendor_has_no_profile_carries_its_chip_makers_risk():
    """A 910B order imported with vendor "Acme" or "Huawei Technologies" was forecast as nearly
    certain (Jun 2025 P10 of the 910B fleet 315k against 117k for "Huawei"): free text decided
    the delivery risk. The chip's maker (the catalog's vendor) now carries it."""
    from engine.catalog import reference_chips, reference_models
    from engine.forecast import default_scenario, run_forecast
    from engine.forecast_inputs import build_inputs, story_orders

    chips, models = reference_chips(), reference_models()
    sc = replace(default_scenario(), trials=2000, months=24, jobs=())
    orders = story_orders()
    ascend = next(o for o in orders if o.chip_id == "ascend-910b2")

    def p10_and_p90(vendor):
        mine = [replace(o, vendor=vendor) if o is ascend else o for o in orders]
        r = run_forecast(build_inputs(mine, chips, models, sc))
        band = r.installed_by_chip["ascend-910b2"]
        return band.p10[-1], band.p90[-1]

    huawei, typo, reseller = p10_and_p90("Huawei"), p10_and_p90("Huawei Technologies"), p10_and_p90("Acme")
    width = huawei[1] - huawei[0]
    assert width > 0.2 * huawei[1]                    # Huawei's fulfilment is uncertain
    for other in (typo, reseller):                    # and stays so whoever resells it
        assert other[1] - other[0] == pytest.approx(width, rel=0.1)


def test_a_vendor_spelled_in_another_case_is_the_same_vendor():
    """An undated 910B order from "huawei" took its known-up-to date from another vendor's
    deliveries (the H20's), so its forecast differed from the same order from "Huawei"."""
    from engine.catalog import reference_chips, reference_models
    from engine.forecast import default_scenario, run_forecast
    from engine.forecast_inputs import build_inputs, story_orders

    chips, models = reference_chips(), reference_models()
    sc = replace(default_scenario(), trials=300, months=24, jobs=())
    extra = Order(id=99, buyer="T", vendor="Huawei", chip_id="ascend-910b2", quantity=50_000,
                  order_date=dt.date(2024, 6, 1))

    def installed(vendor):
        r = run_forecast(build_inputs(story_orders() + [replace(extra, vendor=vendor)], chips, models, sc))
        return r.installed_by_chip["ascend-910b2"].p50

    assert np.array_equal(installed("Huawei"), installed("huawei"))


def test_a_ceiling_below_the_data_is_refused_and_accelerating_growth_is_said():
    """QA: a piecewise ceiling of 10 T under points reaching 50 T was dropped without a word; points
    implying accelerating growth read "falling by -0.111 ... (half-life inf years)"."""
    from engine.forecast import default_scenario, validate_scenario

    sc = default_scenario()
    low = replace(sc, demand=replace(sc.demand, kind="piecewise", ceiling_tokens_per_day=1e13))
    assert any(p.startswith("demand.ceiling_tokens_per_day: 1e+13 (must be above the largest demand point")
               for p in validate_scenario(low))
    pts = (DemandPoint(D(2024, 1, 1), 1e9), DemandPoint(D(2024, 7, 1), 1.5e9), DemandPoint(D(2025, 1, 1), 3e9),
           DemandPoint(D(2025, 7, 1), 1.2e10))
    fit = fit_growth(DemandCurve(points=pts, growth_model="decaying"))
    assert fit.mean[1] >= 0 and "NOT falling: the points imply accelerating growth" in fit.note
    assert "half-life inf" not in fit.note


def _story_inputs(tmp_path):
    """The seeded story's forecast inputs (a fresh database in tmp_path)."""
    from engine.forecast_inputs import build_inputs
    from engine.store import open_store
    from engine.studies_forecast import scenario_of

    store = open_store(tmp_path / "story.db")
    try:
        story = scenario_of(store.scenario("Story default")["params"])
        return build_inputs(store.orders(), {c.id: c for c in store.chips()}, {m.id: m for m in store.models()}, story)
    finally:
        store.close()


def test_a_step_like_supply_keeps_its_share_where_holding_it_raises_the_variance(tmp_path):
    """QA: vendor supply read 0% of the variance in Jul-Aug 2025 on the story while the tornado
    moved P(meet) 15 points with it: held at its median, the lots' step-like arrivals raised the
    month's variance (0.072 -> 0.078), and the negative drop was clipped. Drawn alone it creates
    its own variance, never less than none."""
    from engine.forecast_sensitivity import variance_shares

    inputs = _story_inputs(tmp_path)
    v = variance_shares(inputs, trials=400)
    months = [m.isoformat()[:7] for m in v.months]
    supply = v.sources.index("supply")
    assert all(v.shares[supply, months.index(m)] > 0.02 for m in ("2025-07", "2025-08")), v.shares[:, :24]
    assert (v.shares >= 0).all()


def test_the_tornado_has_the_request_mix_and_each_uncertain_cut_off(tmp_path):
    """QA: 'which uncertainty dominates' named the request mix (26-42% of the variance) and export
    cut-offs, and the tornado had no bar for either. A certain cut-off and the P90 mix are the bad
    ends: neither raises P(meet)."""
    import datetime as dt

    from engine.forecast_sensitivity import tornado

    inputs = _story_inputs(tmp_path)
    t = tornado(inputs, month=dt.date(2025, 8, 1), trials=400)
    bars = {b.input: b for b in t.bars}
    assert (bars["request mix"].low_label, bars["request mix"].high_label) == ("P10", "P90")
    assert (bars["cut-off h20-96gb"].low_label, bars["cut-off h20-96gb"].high_label) == ("none", "certain")
    for name in ("request mix", "cut-off h20-96gb"):
        assert bars[name].high["prob_meet_demand"] <= bars[name].low["prob_meet_demand"] + 1e-9, name
    assert bars["cut-off h20-96gb"].high["prob_meet_demand"] < bars["cut-off h20-96gb"].low["prob_meet_demand"]
