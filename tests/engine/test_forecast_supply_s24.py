"""QA s24 on fleet supply and what-ifs.

1. A share "of the order" was drawn blind to what had arrived and clipped: 90k of a 100k 910B
   order delivered against Huawei's 40-100% left every trial without the last 10k.
2. Rows of one vendor, chip and order date were one contract whatever their buyer: another
   buyer's fully delivered order drew an undelivered one down to 40% (70% with dates a day apart).
3. A negative delay put undelivered chips into months already past (-60 days: 29,974 910B on
   1 Sep 2024 against 9,985 recorded; -200 days: chips before the first delivery).
4. A cut-off or a vendor profile matching nothing did nothing, without a word.
5. Orders of a vendor with no profile were certain, with a note naming neither them nor the fix.
6. The forecast and the plan never said a chip's rates rest on generic (uncalibrated) factors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

import engine.forecast as fc
from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import (STORY_910B_CHIP, ForecastInputs, OrderUncertainty, PolicyEvent, contract_notes,
                             contract_stream_keys, contract_totals, default_scenario, early_delay_notes,
                             no_profile_notes, run_forecast, simulate, supply_key)

D = dt.date
JUN_2026 = D(2026, 6, 1)
ORDERED = D(2024, 1, 15)


def order_910b(delivered: int, oid: int = 1, buyer: str = "ByteDance", quantity: int = 100_000,
               ordered: dt.date = ORDERED) -> Order:
    """`delivered` of `quantity` 910B delivered on 15 Jul 2024, the rest promised for 1 Jan 2025."""
    deliveries = (Delivery(oid * 10, oid, D(2024, 7, 15), delivered),) if delivered else ()
    promised = (ScheduledLot(D(2024, 7, 15), delivered),) if delivered else ()
    if quantity > delivered:
        promised += (ScheduledLot(D(2025, 1, 1), quantity - delivered),)
    return Order(oid, buyer, "Huawei", STORY_910B_CHIP, quantity, ordered, promised, deliveries=deliveries)


def supply_inputs(orders, trials: int = 1000, **scenario) -> ForecastInputs:
    sc = replace(default_scenario(), trials=trials, policy_events=(), jobs=(), **scenario)
    return ForecastInputs(orders=tuple(orders), scenario=sc, chip_peak_tflops={STORY_910B_CHIP: 376.0},
                          serving_tokens_per_s_per_chip={STORY_910B_CHIP: 261.0},
                          maker_by_chip={STORY_910B_CHIP: "Huawei"})


def installed(orders, month: dt.date = JUN_2026, **scenario) -> np.ndarray:
    s = simulate(supply_inputs(orders, **scenario))
    return s.installed[STORY_910B_CHIP][:, s.months.index(month)]


def delivered_only(delivered: int, month: dt.date = JUN_2026, **scenario) -> float:
    """The chips of `delivered` alone in `month` (after attrition): what no more deliveries give."""
    return float(installed([order_910b(delivered, quantity=delivered)], month, **scenario)[0])


# ---- 1. the share delivered is drawn given what has arrived ----------------------------------

def test_a_share_mostly_delivered_still_draws_the_rest():
    got, floor = installed([order_910b(90_000)]), delivered_only(90_000)
    assert got.min() > floor + 1            # every trial delivers some of the last 10k (none did)
    assert np.percentile(got, 10) > floor + 200 and np.percentile(got, 90) > floor + 5_000
    got, floor = installed([order_910b(70_000)]), delivered_only(70_000)
    assert np.percentile(got, 50) > floor + 5_000    # P50 was exactly the delivered chips
    assert got.min() > floor + 10


def test_a_share_delivered_below_the_profiles_minimum_draws_as_before(monkeypatch):
    """The story's 30k of 100k (Huawei 40-100%): the same figures to the bit."""
    now = simulate(supply_inputs([order_910b(30_000)]))
    monkeypatch.setattr(fc, "delivered_share_floor", lambda unc, contract: 0.0)
    blind = simulate(supply_inputs([order_910b(30_000)]))
    assert now.installed[STORY_910B_CHIP].tobytes() == blind.installed[STORY_910B_CHIP].tobytes()


def test_the_conditioned_share_is_said():
    sc = supply_inputs([]).scenario
    (note,) = contract_notes([order_910b(90_000, oid=7)], sc, {STORY_910B_CHIP: "Huawei"})
    assert note.startswith("order 7 (ascend-910b2): 90,000 of 100,000 delivered") and "from 90% up" in note
    assert contract_notes([order_910b(30_000)], sc, {STORY_910B_CHIP: "Huawei"}) == ()


# ---- 2. the buyer is part of the contract ---------------------------------------------------

def test_another_buyers_delivered_order_of_the_same_day_is_another_contract():
    a = order_910b(50_000, oid=1, buyer="Buyer A", quantity=50_000)
    b = order_910b(0, oid=2, buyer="Buyer B", quantity=50_000)
    assert len(contract_totals([a, b])) == 2
    same_day = np.percentile(installed([a, b]), 50)
    next_day = np.percentile(installed([a, replace(b, order_date=ORDERED + dt.timedelta(days=1))]), 50)
    base = delivered_only(50_000)
    # B draws ~70% of its 50k in both (it drew 40%: A's 50k counted as B's delivered share)
    assert same_day - base > 30_000 and next_day - base > 30_000
    assert abs(same_day - next_day) < 2_000


def test_a_contract_written_as_delivered_and_outstanding_rows_is_still_one():
    """The s22 fix: one buyer's delivered 30k row and outstanding 70k row forecast as the one row."""
    whole = order_910b(30_000)
    done = replace(whole, id=101, quantity=30_000, promised=whole.promised[:1])
    rest = Order(102, "ByteDance", "Huawei", STORY_910B_CHIP, 70_000, ORDERED, whole.promised[1:])
    assert len(contract_totals([done, rest])) == 1
    np.testing.assert_allclose(installed([done, rest]), installed([whole]), rtol=1e-9, atol=1e-6)
    notes = contract_notes([done, rest], supply_inputs([]).scenario)
    assert any(n.startswith("orders 101, 102 (ByteDance, Huawei ascend-910b2, ordered 2024-01-15) are read as one "
                            "contract of 100,000 chips (30,000 delivered)") for n in notes)


def test_the_first_buyer_keeps_its_draws_and_a_plan_order_gets_the_forecasts_stream():
    from engine.forecast_plan import Candidate, _other_buyers, plan_contract_key

    a, b = order_910b(0, oid=1, buyer="Buyer A"), order_910b(0, oid=2, buyer="Buyer B")
    keys = contract_stream_keys([b, a])
    assert keys == [supply_key(b) + "|buyer b", supply_key(a)]   # (in the order given)
    assert contract_stream_keys([a]) == contract_stream_keys([a, b])[:1]   # a new buyer leaves a's draws
    cand = Candidate(STORY_910B_CHIP, "Huawei", unit_price_usd=1.0, lead_time_months=3, max_per_quarter=1)
    month = D(2025, 2, 1)
    fleet = supply_inputs([replace(a, order_date=month)])
    planned = Order(9, "plan", "Huawei", STORY_910B_CHIP, 1000, month)
    expected = contract_stream_keys(list(fleet.orders) + [planned])[-1]
    assert plan_contract_key(cand, month, _other_buyers(fleet)) == expected == supply_key(planned) + "|plan"
    assert plan_contract_key(cand, month, _other_buyers(supply_inputs([a]))) == supply_key(planned)


# ---- 3. nothing undelivered ships before the as-of date -------------------------------------

@pytest.mark.parametrize("delay_days", [-60.0, -200.0])
def test_a_negative_delay_never_ships_before_the_as_of_date(delay_days):
    from engine.forecast_inputs import story_orders

    early = OrderUncertainty(fraction_dist="fixed", fraction_low=1.0, fraction_mode=1.0, fraction_high=1.0,
                             delay_dist="fixed", delay_low_days=delay_days, delay_mode_days=delay_days,
                             delay_high_days=delay_days)
    orders = [o for o in story_orders() if o.chip_id == STORY_910B_CHIP]
    kw = dict(as_of=D(2024, 9, 15), vendor_uncertainty={"Huawei": early})
    recorded = [replace(o, quantity=o.delivered) for o in orders]
    s, known = simulate(supply_inputs(orders, **kw)), simulate(supply_inputs(recorded, **kw))
    up_to = s.months.index(D(2024, 10, 1)) + 1   # chips shipped on 15 Sep count from 15 Oct
    np.testing.assert_array_equal(s.installed[STORY_910B_CHIP][:, :up_to], known.installed[STORY_910B_CHIP][:, :up_to])
    # lot by lot, every lot at due date + delay and never before the as-of date (an independent path)
    expected = fc.deterministic_installed(orders, supply_inputs(orders, **kw).scenario, {}, {1: int(delay_days)})
    np.testing.assert_allclose(s.installed[STORY_910B_CHIP][0], expected[STORY_910B_CHIP], rtol=1e-9)
    (note,) = early_delay_notes(orders, supply_inputs(orders, **kw).scenario)
    assert note.startswith(f"order 1 (ascend-910b2): a delay down to {delay_days:g} days would ship") and \
        "before 2024-09-15" in note


def test_floored_lots_match_a_lot_by_lot_count_under_a_cut_off():
    sc = default_scenario()
    lots = [(D(2024, 10, 1), 1000.0), (D(2024, 12, 1), 2000.0), (D(2025, 3, 1), 3000.0)]
    months = np.array([m.toordinal() for m in fc.month_starts(D(2024, 5, 1), 24)])
    as_of = D(2024, 9, 15).toordinal()
    rng = np.random.default_rng(1)
    delay = rng.integers(-250, 100, 300).astype(np.int64)
    start = np.where(rng.random(300) < 0.5, as_of - 30 + np.floor(rng.random(300) * 200), np.inf)
    end = start + np.where(rng.random(300) < 0.5, 90.0, np.inf)
    for cut in (None, (start, end)):
        rows, inv = fc._lot_rows(lots, sc, months, 30.0, delay, cut, as_of)
        for t in range(300):
            want = np.zeros(len(months))
            for due, qty in lots:
                ship = max(due.toordinal() + int(delay[t]), as_of)
                if cut is None or not cut[0][t] <= ship < cut[1][t]:
                    want += qty * fc._survival(months - (ship + 30.0), sc)
            np.testing.assert_allclose(rows[inv[t]], want, atol=1e-6)


# ---- 4-6. notes: what-ifs that match nothing, orders with no risk, uncalibrated chips --------

def test_a_cut_off_or_profile_that_matches_nothing_is_said():
    from engine.catalog import reference_chips
    from engine.forecast_inputs import unmatched_notes

    chips = reference_chips()
    sc = replace(default_scenario(), policy_events=(
        PolicyEvent("h20-96gb", 1.0, D(2025, 4, 9), D(2025, 4, 9)), PolicyEvent("H20", 1.0, D(2025, 4, 9), D(2025, 4, 9)),
        PolicyEvent("mi300x", 1.0, D(2025, 4, 9), D(2025, 4, 9))),
        vendor_uncertainty={**default_scenario().vendor_uncertainty, "Huawai": OrderUncertainty()})
    from engine.forecast_inputs import story_orders

    notes = unmatched_notes(sc, story_orders(), chips)
    assert notes == ["policy_events[1].chip_id 'H20': no such chip in the catalog, so this cut-off changes nothing",
                     "policy_events[2].chip_id 'mi300x': no order of it in the fleet, so this cut-off changes nothing",
                     "vendor_uncertainty 'Huawai': no order has this vendor (nor a chip of this maker), so this "
                     "profile changes nothing"]
    # a plan may buy the chip: its cut-off counts there
    assert not any("mi300x" in n for n in unmatched_notes(sc, story_orders(), chips, ("mi300x",)))


def cambricon(oid: int, qty: int = 20_000) -> Order:
    return Order(oid, "ByteDance", "Cambricon", "mlu370-x8", qty, D(2024, 6, 1),
                 (ScheduledLot(D(2025, 3, 1), qty),))


def test_orders_with_no_profile_are_named_with_the_fix_and_a_default_risk_applies():
    sc = default_scenario()
    makers = {"mlu370-x8": "Cambricon", STORY_910B_CHIP: "Huawei"}
    orders = [order_910b(30_000), cambricon(5), cambricon(6, 10_000)]
    (note,) = no_profile_notes(orders, sc, makers)
    assert note.startswith("NO DELIVERY RISK: Cambricon orders 5, 6 (mlu370-x8, 30,000 chips outstanding) are "
                           "forecast in full and on time (P10 = P50 = P90)") and "vendor_uncertainty.Cambricon" in note
    risky = replace(sc, trials=400, policy_events=(), jobs=(),
                    default_uncertainty=OrderUncertainty(fraction_dist="uniform", fraction_low=0.5, fraction_high=1.0))
    assert no_profile_notes(orders, risky, makers) == ()
    inputs = ForecastInputs(orders=(cambricon(5),), scenario=replace(risky, demand=replace(risky.demand, chip_id="",
                                                                                            serve_on=())),
                            chip_peak_tflops={"mlu370-x8": 96.0}, serving_tokens_per_s_per_chip={"mlu370-x8": 10.0},
                            maker_by_chip=makers)
    bands = run_forecast(inputs).installed_by_chip["mlu370-x8"]
    i = list(run_forecast(inputs).months).index(JUN_2026)
    assert bands.p10[i] < bands.p90[i] - 2_000   # the default's risk reaches the order


def test_build_inputs_puts_the_no_risk_note_first_and_names_uncalibrated_chips():
    from engine.catalog import reference_chips, reference_models
    from engine.forecast_inputs import build_inputs, story_orders

    sc = replace(default_scenario(), jobs=(), trials=50,
                 policy_events=(PolicyEvent("H20", 1.0, D(2025, 4, 9), D(2025, 4, 9)),))
    sc = replace(sc, demand=replace(sc.demand, serve_on=(STORY_910B_CHIP,)))
    inputs = build_inputs(story_orders() + [cambricon(5)], reference_chips(), reference_models(), sc)
    assert inputs.notes[0].startswith("NO DELIVERY RISK: Cambricon order 5 (mlu370-x8, 20,000 chips outstanding)")
    assert any(n.startswith("policy_events[0].chip_id 'H20': no such chip in the catalog") for n in inputs.notes)
    assert any(n.startswith("MLU370-X8: no published run of this chip family") for n in inputs.notes)
    assert not any("Ascend" in n and "no published run" in n for n in inputs.notes)
    result = run_forecast(inputs)
    assert result.notes[0].startswith("NO DELIVERY RISK: Cambricon")


def test_one_no_risk_line_per_vendor_however_it_is_cased_and_a_capped_profile_says_its_highest():
    """QA: "Cambricon" and "cambricon" made two lines; a uniform 40-80% profile with 90% delivered
    was said to have a "fixed share (40%)"."""
    sc = default_scenario()
    makers = {"mlu370-x8": "Cambricon"}
    lower = replace(cambricon(6, 10_000), vendor="cambricon")
    (note,) = no_profile_notes([cambricon(5), lower], sc, makers)
    assert note.startswith("NO DELIVERY RISK: Cambricon orders 5, 6 (")
    capped = replace(sc, vendor_uncertainty={**sc.vendor_uncertainty, "Huawei": OrderUncertainty(
        fraction_dist="uniform", fraction_low=0.4, fraction_mode=0.6, fraction_high=0.8)})
    (note,) = contract_notes([order_910b(90_000, oid=4)], capped, {STORY_910B_CHIP: "Huawei"})
    assert "the profile's highest share (80%) is no more, so no more arrive" in note and "fixed" not in note
