"""The order planner's candidates: caps the fleet's own orders already use, caps in whole lots,
chips outside the scenario's serve-on list, and the order rows a plan adds to the Fleet."""

import dataclasses
import datetime as dt
from types import SimpleNamespace

import numpy as np

from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import DemandCurve, DemandPoint, ForecastInputs, ForecastScenario, OrderUncertainty, run_forecast
from engine.forecast_plan import Candidate, PlannedOrder, PlanRequest, solve_plan

D = dt.date
CHIP, OTHER = "chip-a", "chip-b"


def toy(extra_orders=(), serve_on=()) -> ForecastInputs:
    """1,000 chips installed (1 output token/s each); demand 1,000 tokens/s, then 3,000 from 2025-01."""
    pts = (DemandPoint(D(2024, 1, 1), 1000.0 * 86400), DemandPoint(D(2024, 12, 31), 1000.0 * 86400),
           DemandPoint(D(2025, 1, 1), 3000.0 * 86400), DemandPoint(D(2026, 12, 31), 3000.0 * 86400))
    sc = ForecastScenario(
        start=D(2024, 1, 1), months=24, trials=200, seed=5, install_lag_days=0.0,
        demand=DemandCurve(points=pts, growth_model="fixed", growth_after_last_per_year=1.0, model_id="m",
                           chip_id=CHIP, input_tokens_per_request=0.0, output_tokens_per_request=1.0,
                           serve_on=tuple(serve_on)),
        vendor_uncertainty={"V": OrderUncertainty()})
    order = Order(id=1, buyer="B", vendor="V", chip_id=CHIP, quantity=1000, order_date=D(2023, 6, 1),
                  deliveries=(Delivery(1, 1, D(2023, 7, 1), 1000),))
    return ForecastInputs(orders=(order,) + tuple(extra_orders), scenario=sc,
                          chip_peak_tflops={CHIP: 100.0, OTHER: 100.0},
                          serving_tokens_per_s_per_chip={CHIP: 1.0, OTHER: 1.0})


def req(*candidates, **kw):
    base = dict(candidates=candidates, confidence=0.9, from_month=D(2025, 1, 1), first_order_month=D(2024, 6, 1),
                samples=100, lot_chips=100, check_trials=400)
    base.update(kw)
    return PlanRequest(**base)


def quarter(day):
    return day.year, (day.month - 1) // 3


def test_the_fleets_own_orders_count_against_a_quarters_cap():
    """500 chips already ordered on 2024-10-01 (installed in December) and a cap of 1,000 a quarter:
    2,000 tokens/s short from January leaves 1,500 chips to order by October (3 months' lead). The
    LP prefers the latest months, so it took October's whole 1,000 and September's 500, and Q4 2024
    then held 1,500 orders against its cap of 1,000. Q4 has 500 left: 500 in October, 1,000 in Q3."""
    ordered = Order(id=2, buyer="B", vendor="V", chip_id=CHIP, quantity=500, order_date=D(2024, 10, 1),
                    deliveries=(Delivery(2, 2, D(2024, 12, 1), 500),))
    inputs = toy(extra_orders=(ordered,))
    cand = Candidate(CHIP, "V", 10_000.0, 3, max_per_quarter=1000)
    r = solve_plan(inputs, req(cand))
    assert r.feasible, r.why
    assert sum(o.quantity for o in r.orders) == 1500
    by_quarter: dict = {quarter(ordered.order_date): ordered.quantity}
    for o in r.orders:
        by_quarter[quarter(o.order_month)] = by_quarter.get(quarter(o.order_month), 0) + o.quantity
    assert max(by_quarter.values()) <= 1000, by_quarter
    assert by_quarter[(2024, 3)] == 1000   # October: 500 planned on top of the 500 ordered
    assert any("2024 Q4 500 already ordered" in n for n in r.notes)
    # the plan added to the fleet and planned again: nothing more to order, and no quarter over
    added = tuple(Order(id=10 + k, buyer="plan", vendor="V", chip_id=o.chip_id, quantity=o.quantity,
                        order_date=o.order_month, promised=(ScheduledLot(o.delivery_month, o.quantity),))
                  for k, o in enumerate(r.orders))
    again = solve_plan(toy(extra_orders=(ordered,) + added), req(cand))
    assert again.feasible and again.orders == ()


def test_a_cap_that_is_not_whole_lots_is_quoted_as_the_lots_the_plan_can_order():
    """A cap of 550 a quarter in lots of 100 is 500: three quarters (June, July-September, October)
    give 1,500 of the 2,000 chips needed by January. The reason quoted 550, which was never used."""
    r = solve_plan(toy(), req(Candidate(CHIP, "V", 10_000.0, 3, max_per_quarter=550)))
    assert not r.feasible and "caps:" in r.why
    assert "(chip-a 500 (its cap of 550 a quarter is 5 lots of 100))" in r.why
    assert "chip-a: its cap of 550 a quarter is 5 lots of 100: the plan orders at most 500 a quarter" in r.notes
    # a cap under one lot buys nothing: said as such, not as lead times or "caps (chip-a 50)"
    tiny = solve_plan(toy(), req(Candidate(CHIP, "V", 10_000.0, 3, max_per_quarter=50)))
    assert not tiny.feasible
    assert tiny.why.startswith("caps: no candidate can be ordered (chip-a: a cap of 50 per quarter")
    assert "whole lots of 100" in tiny.why


def test_a_chip_outside_serve_on_is_not_bought_for_serving():
    """demand.serve_on lists only chip-a: the forecast counts no chip-b as serving capacity, so a
    cheaper chip-b bought for the 2,000 tokens/s short would leave the forecast short all the same.
    The plan buys 2,000 chip-a (1 token/s each) and says why chip-b is not bought."""
    inputs = toy(serve_on=(CHIP,))
    cheap_b = Candidate(OTHER, "V", 5_000.0, 3, max_per_quarter=10_000)
    r = solve_plan(inputs, req(Candidate(CHIP, "V", 10_000.0, 3, max_per_quarter=10_000), cheap_b))
    assert r.feasible, r.why
    assert [(o.chip_id, o.quantity, o.order_month) for o in r.orders] == [(CHIP, 2000, D(2024, 10, 1))]
    assert any(n.startswith("chip-b: not among the chips that serve the demand (demand.serve_on: chip-a)")
               for n in r.notes)
    # the forecast with the plan in the fleet agrees with the plan
    added = tuple(Order(id=10 + k, buyer="plan", vendor="V", chip_id=o.chip_id, quantity=o.quantity,
                        order_date=o.order_month, promised=(ScheduledLot(o.delivery_month, o.quantity),))
                  for k, o in enumerate(r.orders))
    fc = run_forecast(dataclasses.replace(inputs, orders=inputs.orders + added))
    january = list(fc.months).index(D(2025, 1, 1))
    assert np.all(np.asarray(fc.prob_meet_demand)[january:] == 1.0)
    # chip-b alone: no plan, and the reason is serve-on, not lead times or caps
    only_b = solve_plan(inputs, req(cheap_b))
    assert not only_b.feasible and only_b.orders == ()
    assert only_b.why.startswith("serve on: no candidate serves the demand (chip-b: not in the scenario's "
                                 "demand.serve_on, chip-a")


def test_the_order_rows_name_the_confidence_as_the_planner_does():
    """A 99.5% plan's rows said "planned for P(meet demand) >= 100%"."""
    from engine.studies_forecast import plan_order_rows

    plan = SimpleNamespace(orders=(PlannedOrder(CHIP, 2000, D(2024, 10, 1), D(2025, 1, 1), 2e7),),
                           from_month=D(2025, 1, 1), until_month=D(2025, 12, 1))
    rows = plan_order_rows(plan, 0.995, [Candidate(CHIP, "V", 10_000.0, 3, 10_000)])
    assert rows[0]["note"] == "planned for P(meet demand) >= 99.5% on the 1st of each month, Jan 1 - Dec 1 2025"
