"""QA s35: the Plan view's capacity chart ran from four months before the target to four after, so
a plan for Oct-Dec 2025 whose orders were due in Feb-May 2025 showed none of its deliveries."""

import datetime as dt
from types import SimpleNamespace

import numpy as np

from engine.studies_forecast import plan_view_window


def _result(due_months):
    months = [dt.date(2025, m, 1) for m in range(1, 13)] + [dt.date(2026, m, 1) for m in range(1, 7)]
    orders = [SimpleNamespace(chip_id="h20", quantity=1000 * (k + 1), delivery_month=m) for k, m in enumerate(due_months)]
    n = len(months)
    return SimpleNamespace(months=months, from_month=dt.date(2025, 10, 1), until_month=dt.date(2025, 12, 1),
                           capacity_unit_chips=(np.ones(n), np.ones(n) * 2, np.full(n, 3.0)),
                           demand_unit_chips=np.full(n, 2.5), orders=orders, economics=(), unit_chip_id="h20")


def test_the_window_takes_in_every_planned_delivery():
    r = _result([dt.date(2025, 2, 1), dt.date(2025, 5, 1)])
    i0, i1, top = plan_view_window(r)
    assert r.months[i0] == dt.date(2025, 1, 1)      # a month before the first delivery (Feb)
    assert r.months[i1] == dt.date(2026, 4, 1)      # the target's four months after
    assert top == 2000 * 1.08                        # the May delivery is the tallest thing shown


def test_without_early_deliveries_the_window_is_the_target_and_four_months_each_side():
    r = _result([dt.date(2025, 9, 1)])
    i0, i1, top = plan_view_window(r)
    assert (r.months[i0], r.months[i1]) == (dt.date(2025, 6, 1), dt.date(2026, 4, 1))
    assert top == 1000 * 1.08
