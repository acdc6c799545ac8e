"""The order planner's rounding of the LP's fractional lots to whole lots."""

import datetime as dt
import math

import numpy as np
import pytest

from engine.fleet import Delivery, Order
from engine.forecast import DAYS_PER_YEAR, DemandCurve, DemandPoint, ForecastInputs, ForecastScenario, OrderUncertainty
from engine.forecast_plan import Candidate, PlanRequest, _round_lots, solve_plan

D = dt.date
CHIP = "chip-a"
FAILURE_PER_YEAR = 0.03
INSTALLED = D(2023, 7, 1)


def attrition_toy() -> ForecastInputs:
    """1,000 chips installed in July 2023 (1 output token/s each), 3% of chips failing a year;
    demand 1,000 tokens/s, then 3,000 from 2025-01 through the horizon's end (2025-12)."""
    pts = (DemandPoint(D(2024, 1, 1), 1000.0 * 86400), DemandPoint(D(2024, 12, 31), 1000.0 * 86400),
           DemandPoint(D(2025, 1, 1), 3000.0 * 86400), DemandPoint(D(2026, 12, 31), 3000.0 * 86400))
    sc = ForecastScenario(
        start=D(2024, 1, 1), months=24, trials=200, seed=5, install_lag_days=0.0,
        annual_failure_rate=FAILURE_PER_YEAR,
        demand=DemandCurve(points=pts, growth_model="fixed", growth_after_last_per_year=1.0, model_id="m",
                           chip_id=CHIP, input_tokens_per_request=0.0, output_tokens_per_request=1.0),
        vendor_uncertainty={"V": OrderUncertainty()})
    order = Order(id=1, buyer="B", vendor="V", chip_id=CHIP, quantity=1000, order_date=D(2023, 6, 1),
                  deliveries=(Delivery(1, 1, INSTALLED, 1000),))
    return ForecastInputs(orders=(order,), scenario=sc, chip_peak_tflops={CHIP: 100.0},
                          serving_tokens_per_s_per_chip={CHIP: 1.0})


def test_topping_up_for_attrition_rounds_the_cumulative_quantity_not_each_month():
    """QA: the LP covers attrition with a fraction of a lot each month, and each fraction rounded up
    to a whole lot bought a lot every month (23,000 H20 for $276M where one order of 7,000 holds).
    One order placed in October 2024 (3 months' lead) installed on 2025-01-01 must still cover the
    last month, 2025-12, when both it and the old fleet are at their oldest:
    N = (3,000 - 1,000 x 0.97^(age of the old chips)) / 0.97^(age of the new ones)."""
    survive = lambda since: (1 - FAILURE_PER_YEAR) ** ((D(2025, 12, 1) - since).days / DAYS_PER_YEAR)  # noqa: E731
    one_order = (3000 - 1000 * survive(INSTALLED)) / survive(D(2025, 1, 1))
    assert 2100 < one_order < 2190   # 2,130 chips: 22 lots of 100 with room to spare
    lot = 100
    one_order_lots = math.ceil(one_order / lot)
    cand = Candidate(CHIP, "V", unit_price_usd=10_000.0, lead_time_months=3, max_per_quarter=10_000)
    r = solve_plan(attrition_toy(), PlanRequest(candidates=(cand,), from_month=D(2025, 1, 1),
                                                first_order_month=D(2024, 6, 1), samples=100, lot_chips=lot,
                                                check_trials=400))
    assert r.feasible, r.why
    bought = sum(o.quantity for o in r.orders)
    # rounded month by month it bought a lot in each of the 11 months from Nov 2024 to Sep 2025 on
    # top of October's 21: 3,200 chips
    assert bought <= one_order_lots * lot
    assert r.total_cost_usd <= one_order_lots * lot * 10_000.0
    # and the whole lots still hold every target month in every trial (no uncertainty here)
    target = [i for i, m in enumerate(r.months) if m >= D(2025, 1, 1)]
    assert np.all(r.prob_meet_demand[target] == 1.0)


def test_rounding_keeps_the_caps_and_tops_up_a_row_the_lp_met():
    quarter_of = np.array([0, 0, 1, 1])
    # half a lot a month, one lot a quarter allowed: cumulative 0.5, 1, 1.5, 2 rounds to 1, 1, 2, 2,
    # one lot in each quarter (rounding each month up gave two a quarter, past the cap)
    no_rows = np.zeros((0, 4))
    lots = _round_lots(np.full((1, 4), 0.5), quarter_of, np.array([[1.0, 1.0]]), no_rows, np.zeros(0), np.ones(4))
    assert lots.tolist() == [[1.0, 0.0, 1.0, 0.0]]
    # half a lot in the first month and 6.5 in the second, whose chips are fresher (1.0 a lot
    # against 0.9 for the first month's, aged): the LP's row is 0.5 x 0.9 + 6.5 x 1.0 = 6.95.
    # The cumulative 0.5, 7.0 rounds to 1 + 6 lots, 0.9 + 6 = 6.9: short, so a lot is added.
    a = np.array([[0.9, 1.0]])
    b = np.array([0.5 * 0.9 + 6.5 * 1.0])
    lots = _round_lots(np.array([[0.5, 6.5]]), np.array([0, 0]), np.array([[10.0]]), a, b, np.array([1.0, 0.999]))
    assert (a @ lots.ravel())[0] >= b[0]
    assert lots.tolist() == [[1.0, 7.0]]   # the cheaper (later) lot
    # where the caps leave no room, nothing is added: the fresh trials report what it holds
    full = _round_lots(np.array([[0.5, 6.5]]), np.array([0, 0]), np.array([[7.0]]), a, b, np.array([1.0, 0.999]))
    assert full.sum() == 7.0
    assert (a @ full.ravel())[0] == pytest.approx(6.9)
