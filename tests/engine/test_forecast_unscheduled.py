"""Chips ordered with no promised date (QA s21): they were spread from the vendor's last recorded
delivery, whatever the order's own date, so an order placed Nov 2026 was installed from Feb 2025
(the story's plan fell from $732M to $60M); with nothing recorded they were spread from the
forecast's first month, so --start moved when they arrived."""

import dataclasses
import datetime as dt

from engine.fleet import Order
from engine.forecast import UNSCHEDULED_LEAD_MONTHS, run_forecast
from tests.engine.test_forecast_plan import CHIP, toy

D = dt.date


def _installed(inputs, month):
    r = run_forecast(inputs)
    i = list(r.months).index(month)
    return float(r.installed_by_chip[CHIP].p50[i]), r


def test_an_unscheduled_order_never_arrives_before_a_lead_time_after_it_was_placed():
    base = toy()
    late = Order(id=2, buyer="B", vendor="V", chip_id=CHIP, quantity=1200, order_date=D(2025, 6, 1))
    inputs = dataclasses.replace(base, orders=base.orders + (late,))
    assert UNSCHEDULED_LEAD_MONTHS == 3
    # the vendor's last delivery was Jul 2023: the 1,200 came at 100 a month from Aug 2023 (before)
    before_order, r = _installed(inputs, D(2025, 6, 1))
    assert before_order == _installed(base, D(2025, 6, 1))[0]
    # no install lag in the toy: 100 a month from Sep 2025 (three months after the order)
    grown = [_installed(inputs, D(2025, m, 1))[0] - _installed(base, D(2025, m, 1))[0] for m in (8, 9, 10, 12)]
    assert grown == [0.0, 100.0, 200.0, 400.0]
    assert any("order 2 (chip-a): 1,200 chips have no promised date" in n and "from 2025-09" in n for n in r.notes)


def test_with_nothing_recorded_the_forecast_start_does_not_move_the_chips():
    base = toy()
    only = Order(id=2, buyer="B", vendor="V", chip_id=CHIP, quantity=1200, order_date=D(2025, 1, 1))
    early = dataclasses.replace(base, orders=(only,),
                                scenario=dataclasses.replace(base.scenario, start=D(2025, 1, 1), months=24))
    late = dataclasses.replace(early, scenario=dataclasses.replace(early.scenario, start=D(2026, 1, 1)))
    assert _installed(early, D(2026, 6, 1))[0] == _installed(late, D(2026, 6, 1))[0] > 0
