"""Orders, deliveries and the installed fleet over time (deterministic; no uncertainty here).

The forecast module adds uncertainty on top of these records.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ScheduledLot:
    """Part of an order's promised schedule: `quantity` chips due on `due_date`."""

    due_date: dt.date
    quantity: int


@dataclass(frozen=True)
class Delivery:
    id: int
    order_id: int
    date: dt.date
    quantity: int
    note: str = ""


@dataclass(frozen=True)
class Order:
    id: int
    buyer: str
    vendor: str
    chip_id: str
    quantity: int
    order_date: dt.date
    promised: tuple[ScheduledLot, ...] = ()
    price_usd_per_chip: float | None = None
    status: str = "assumption"  # 'sourced' or 'assumption'
    source: str = ""
    note: str = ""
    deliveries: tuple[Delivery, ...] = field(default=())

    @property
    def delivered(self) -> int:
        return sum(d.quantity for d in self.deliveries)

    @property
    def outstanding(self) -> int:
        return max(self.quantity - self.delivered, 0)


# Days from a delivery to a chip in service (racking, burn-in): the one default every view uses.
INSTALL_LAG_DAYS = 30.0


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after `day`'s month (negative: before)."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def add_months_same_day(day: dt.date, months: int) -> dt.date:
    """The same day of the month `months` later (earlier if negative), or that month's last day
    when it is shorter (2025-01-31 + 1 -> 2025-02-28)."""
    first = add_months(day, months)
    return first.replace(day=min(day.day, calendar.monthrange(first.year, first.month)[1]))


def months_between(start: dt.date, end: dt.date) -> int:
    """Whole calendar months from `start`'s month to `end`'s month (2024-01-31 -> 2024-02-01: 1)."""
    return (end.year * 12 + end.month) - (start.year * 12 + start.month)


def month_starts(start: dt.date, months: int) -> list[dt.date]:
    """First day of `months` consecutive months beginning with `start`'s month."""
    year, month = start.year, start.month
    out = []
    for _ in range(months):
        out.append(dt.date(year, month, 1))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


def add_days(day: dt.date, days: float) -> dt.date:
    return day + dt.timedelta(days=int(round(days)))


def installed_timeline(
    orders: list[Order], months: list[dt.date], install_lag_days: float = INSTALL_LAG_DAYS
) -> dict[str, np.ndarray]:
    """Chips installed at each month start per chip id, from actual deliveries only.

    A delivery counts from `install_lag_days` after its date (racking, burn-in).
    """
    month_ord = np.array([m.toordinal() for m in months])
    out: dict[str, np.ndarray] = {}
    for order in orders:
        series = out.setdefault(order.chip_id, np.zeros(len(months)))
        for delivery in order.deliveries:
            ready = add_days(delivery.date, install_lag_days).toordinal()
            series += np.where(month_ord >= ready, delivery.quantity, 0)
    return out


def installed_on(orders: list[Order], chip_id: str, day: dt.date, install_lag_days: float = INSTALL_LAG_DAYS) -> int:
    """Chips of `chip_id` in service on `day`: delivered at least `install_lag_days` before."""
    series = installed_timeline(orders, [day], install_lag_days=install_lag_days)
    return int(series.get(chip_id, np.zeros(1))[0])


def promised_timeline(orders: list[Order], months: list[dt.date],
                      install_lag_days: float = INSTALL_LAG_DAYS) -> np.ndarray | None:
    """Chips that would be installed if every promised lot had arrived on its date (orders with a
    schedule; the others count as delivered), or None when no order has a schedule. An order counts
    at least what it has delivered: a schedule of 10,000 on an order that delivered 30,000 drew the
    promise below the installed line, as if the vendor had over-delivered (QA s37), where the other
    20,000 had no promised date (`undated_chips`)."""
    if not any(o.promised for o in orders):
        return None
    month_ord = np.array([m.toordinal() for m in months])

    def counted(dated) -> np.ndarray:
        series = np.zeros(len(months))
        for day, quantity in dated:
            series += np.where(month_ord >= add_days(day, install_lag_days).toordinal(), quantity, 0)
        return series

    total = np.zeros(len(months))
    for order in orders:
        delivered = counted((d.date, d.quantity) for d in order.deliveries)
        total += np.maximum(counted((lot.due_date, lot.quantity) for lot in order.promised), delivered)
    return total


def undated_chips(order: Order) -> int:
    """Chips of an order neither delivered nor in a promised lot: ones no vendor has put a date on."""
    promised = sum(lot.quantity for lot in order.promised)
    delivered = sum(d.quantity for d in order.deliveries)
    return max(order.quantity - max(promised, delivered), 0)


def timeline_months(orders: list[Order], install_lag_days: float = INSTALL_LAG_DAYS,
                    today: dt.date | None = None) -> list[dt.date]:
    """Month starts from the month before the first order to three months after the last
    delivery or promised lot is installed, and at least to today (at least 12 months)."""
    if not orders:
        return []
    start = add_months(min(o.order_date for o in orders), -1)
    last = max([o.order_date for o in orders]
               + [d.date for o in orders for d in o.deliveries]
               + [lot.due_date for o in orders for lot in o.promised]
               + [(today or dt.date.today()) - dt.timedelta(days=install_lag_days)])
    end = add_months(add_days(last, install_lag_days), 3)
    return month_starts(start, max(months_between(start, end) + 1, 12))


def first_month_all_installed(orders: list[Order], install_lag_days: float = INSTALL_LAG_DAYS,
                              today: dt.date | None = None) -> dt.date:
    """The first month start after the last delivery is in service (a date on which the whole
    delivered fleet counts); today when nothing was delivered."""
    dates = [d.date for o in orders for d in o.deliveries]
    if not dates:
        return today or dt.date.today()
    return add_months(add_days(max(dates), install_lag_days), 1)
