"""Orders, deliveries and the installed fleet over time (deterministic; no uncertainty here).

The forecast module adds uncertainty on top of these records.
"""

from __future__ import annotations

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
    orders: list[Order], months: list[dt.date], install_lag_days: float = 30.0
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
