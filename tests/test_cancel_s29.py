"""Cancel reaches the plan's and the tornado's long stretches (QA s29: with 2,003 orders a
cancelled plan ran on 15-80 s, one simulation of the 8,000 validation trials being 10 s that no
stop check reached, and the tornado took neither `progress` nor `should_stop`).

The work done after a stop is counted in calls of the engine's units of work (one order placed on
the trials, one candidate's arrivals, one LP), not in seconds: a stop must be heard within one or
two of them wherever it comes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import scipy.optimize

import engine.forecast as forecast
import engine.forecast_plan as fp
from engine.errors import Cancelled
from engine.fleet import Delivery, Order
from engine.forecast import OrderUncertainty
from engine.forecast_sensitivity import tornado

from tests.engine.test_forecast_plan import CHIP, D, req, toy

ORDERS = 60   # the toy's 1,000 chips as 60 orders: a simulation is 60 units of work, one per order
# the candidate's vendor delivers 50-100% 0-60 days late: the plan is fitted, scaled and cut
RISKY = OrderUncertainty("uniform", 0.5, 0.75, 1.0, "order", "uniform", 0, 30, 60)


def many_orders(inputs):
    """`inputs` with its one order of 1,000 chips split into ORDERS orders, delivered a month apart
    in the same year (the same fleet, in more pieces)."""
    orders = []
    left = 1000
    for i in range(ORDERS):
        qty = left if i == ORDERS - 1 else 1000 // ORDERS
        left -= qty
        day = D(2023, 1 + i % 12, 1)
        orders.append(Order(id=i + 1, buyer="B", vendor="V", chip_id=CHIP, quantity=qty, order_date=D(2022, 12, 1),
                            deliveries=(Delivery(i + 1, i + 1, day, qty),)))
    return dataclasses.replace(inputs, orders=tuple(orders))


class Work:
    """Counts the engine's units of work and when a stop was asked for. `flip_at`: the unit of work
    during which the user presses Cancel (the flag is set, `should_stop` reads it at its next poll);
    `after_calls`: the flag is set once `should_stop` has been asked this many times."""

    def __init__(self, monkeypatch, flip_at: int | None = None, after_calls: int | None = None):
        self.units, self.calls, self.flip_at, self.after_calls = 0, 0, flip_at, after_calls
        self.flipped_at: int | None = None
        for module, name in ((forecast, "order_installed"), (fp, "_arrivals"), (scipy.optimize, "linprog")):
            monkeypatch.setattr(module, name, self._counted(getattr(module, name)))

    def _counted(self, fn):
        def wrapper(*args, **kwargs):
            self.units += 1
            if self.flip_at is not None and self.units == self.flip_at and self.flipped_at is None:
                self.flipped_at = self.units
            return fn(*args, **kwargs)
        return wrapper

    def should_stop(self) -> bool:
        self.calls += 1
        if self.after_calls is not None and self.calls > self.after_calls and self.flipped_at is None:
            self.flipped_at = self.units
        return self.flipped_at is not None

    def after_stop(self) -> int:
        """Units of work begun after the one during which the stop came."""
        assert self.flipped_at is not None
        return self.units - self.flipped_at


def plan_request():
    return req(samples=100, check_trials=400, validation_trials=1000, confidence=0.85)


def plan_inputs():
    return many_orders(toy(candidate_unc=RISKY))


def test_an_uncancelled_plan_is_the_same_with_a_stop_hook_that_never_fires(monkeypatch):
    inputs, asked = plan_inputs(), plan_request()
    plain = fp.solve_plan(inputs, asked)
    work = Work(monkeypatch)
    hooked = fp.solve_plan(inputs, asked, should_stop=work.should_stop)
    assert plain.feasible and plain.orders, plain.why
    assert hooked.orders == plain.orders and hooked.total_cost_usd == plain.total_cost_usd
    assert (hooked.prob_meet_demand == plain.prob_meet_demand).all()
    assert hooked.status == plain.status and hooked.notes == plain.notes
    # asked often: at least once per order of each of its simulations
    assert work.calls > 3 * ORDERS


@pytest.mark.parametrize("share", [0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.97])
def test_a_cancel_anywhere_in_a_plan_stops_it_within_two_units_of_work(monkeypatch, share):
    """The flag set while one unit of work runs (an order of a simulation, a candidate's arrivals, an
    LP): Cancelled, with at most two more begun. Before, a stop during the validation trials'
    simulation ran its other orders, the LPs and the checks to the end."""
    inputs, asked = plan_inputs(), plan_request()
    total = Work(monkeypatch)
    fp.solve_plan(inputs, asked, should_stop=total.should_stop)
    monkeypatch.undo()
    work = Work(monkeypatch, flip_at=max(1, int(share * total.units)))
    with pytest.raises(Cancelled):
        fp.solve_plan(inputs, asked, should_stop=work.should_stop)
    assert work.after_stop() <= 2, (work.flip_at, total.units, work.units)


@pytest.mark.parametrize("calls", [1, 5, 40, 150, 400])
def test_a_stop_after_n_calls_cancels_the_plan_at_once(monkeypatch, calls):
    inputs, asked = plan_inputs(), plan_request()
    work = Work(monkeypatch, after_calls=calls)
    with pytest.raises(Cancelled):
        fp.solve_plan(inputs, asked, should_stop=work.should_stop)
    assert work.calls == calls + 1 and work.after_stop() == 0


def tornado_inputs():
    return many_orders(toy(candidate_unc=RISKY))


MONTH = D(2025, 3, 1)


def test_the_tornado_reports_each_input_and_is_unchanged(monkeypatch):
    inputs = tornado_inputs()
    plain = tornado(inputs, MONTH, trials=100)
    seen: list[tuple[float, str]] = []
    work = Work(monkeypatch)
    hooked = tornado(inputs, MONTH, trials=100, progress=lambda f, m="": seen.append((f, m)),
                     should_stop=work.should_stop)
    assert repr(hooked) == repr(plain)   # (NaN completion days: no job)
    fractions = [f for f, _ in seen]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    # each input varied is named while it runs (both of its ends)
    for bar in plain.bars:
        assert sum(m == f"Sensitivity: {bar.input}" for _, m in seen) == 2, bar.input
    assert work.calls > 2 * len(plain.bars) * ORDERS


@pytest.mark.parametrize("share", [0.01, 0.2, 0.5, 0.8, 0.99])
def test_a_cancel_anywhere_in_the_tornado_stops_it_within_one_order(monkeypatch, share):
    inputs = tornado_inputs()
    total = Work(monkeypatch)
    tornado(inputs, MONTH, trials=100, should_stop=total.should_stop)
    monkeypatch.undo()
    work = Work(monkeypatch, flip_at=max(1, int(share * total.units)))
    with pytest.raises(Cancelled):
        tornado(inputs, MONTH, trials=100, should_stop=work.should_stop)
    assert work.after_stop() <= 1, (work.flip_at, total.units, work.units)


@pytest.mark.parametrize("calls", [0, 1, 2, 100])
def test_a_stop_after_n_calls_cancels_the_tornado(monkeypatch, calls):
    work = Work(monkeypatch, after_calls=calls)
    with pytest.raises(Cancelled):
        tornado(tornado_inputs(), MONTH, trials=100, should_stop=work.should_stop)
    assert work.calls == calls + 1 and work.after_stop() == 0


def test_a_month_outside_the_horizon_still_reports_to_the_end():
    """(month None: P(meet) averaged over the months) the count of runs is the same either way."""
    seen: list[float] = []
    tornado(tornado_inputs(), dt.date(1999, 1, 1), trials=50, progress=lambda f, m="": seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and max(seen[:-1]) < 1.0
