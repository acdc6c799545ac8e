"""A fleet of thousands of orders ran for minutes (s22): the as-of date was found by scanning every
order's deliveries per order, and each overdue lot's survival was computed over every trial x month.
The fast paths must give the same arrays to the bit and the same notes as the straightforward ones."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

from engine import forecast as fc
from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import (AsOfLookup, ForecastInputs, OrderUncertainty, ThroughputTable, as_of_and_source,
                             default_scenario, overdue_notes, run_forecast, unscheduled_notes)

CHIPS = ("ascend-910b2", "h20-96gb", "h800-sxm5-80gb")
VENDORS = ("Huawei", "NVIDIA", "huawei ", "Reseller A", "")


def mid_fleet(n: int = 60) -> list[Order]:
    """Several vendors (two spellings of one), lots overdue at the vendor's latest delivery, chips
    with no promised date, and vendors with no delivery recorded."""
    orders, delivery_id = [], 0
    for k in range(n):
        ordered = dt.date(2023 + (k % 24) // 12, k % 12 + 1, 1 + k % 28)
        lots = []
        for i in range(1 + k % 5):
            month = ordered.month - 1 + 2 + 2 * i
            lots.append(ScheduledLot(dt.date(ordered.year + month // 12, month % 12 + 1, 1 + (k + i) % 27),
                                     100 + 37 * ((k + i) % 11)))
        deliveries = []
        for lot in lots[:(k % 3 if k % 7 and VENDORS[k % 5] != "Reseller A" else 0)]:
            delivery_id += 1
            deliveries.append(Delivery(delivery_id, k + 1, lot.due_date + dt.timedelta(days=9 * (k % 4)),
                                       lot.quantity))
        orders.append(Order(id=k + 1, buyer="B", vendor=VENDORS[k % 5], chip_id=CHIPS[k % 3],
                            quantity=sum(lot.quantity for lot in lots) + (0 if k % 4 else 400),
                            order_date=ordered, promised=tuple(lots), deliveries=tuple(deliveries)))
    return orders


def mid_inputs(orders, trials: int = 300, months: int = 72) -> ForecastInputs:
    sc = default_scenario()
    unc = OrderUncertainty("beta", 0.3, 0.6, 1.0, "order", "triangular", 0, 60, 300)
    sc = replace(sc, trials=trials, months=months, start=dt.date(2024, 1, 1), as_of=None,
                 vendor_uncertainty={"Huawei": unc, "NVIDIA": replace(unc, fraction_of="outstanding"),
                                     "Reseller A": replace(unc, extra_delay_days=45.0)},
                 order_uncertainty={5: replace(unc, delay_dist="fixed", delay_mode_days=20.0)})
    table = ThroughputTable((8.0, 512.0, 8192.0), (0.0, 50.0, 45.0))
    return ForecastInputs(orders=tuple(orders), scenario=sc,
                          chip_peak_tflops={"ascend-910b2": 376.0, "h20-96gb": 148.0, "h800-sxm5-80gb": 989.4},
                          serving_tokens_per_s_per_chip={"ascend-910b2": 76.0, "h20-96gb": 128.0,
                                                         "h800-sxm5-80gb": 268.0},
                          training_tokens_per_s_per_chip={("llama3-405b", "ascend-910b2"): table},
                          maker_by_chip={"ascend-910b2": "Huawei", "h20-96gb": "NVIDIA",
                                         "h800-sxm5-80gb": "NVIDIA"})


def naive_as_of(orders, scenario, order):
    """The scan per order the lookup replaced, word for word."""
    if scenario.as_of is not None:
        return scenario.as_of, "the scenario's 'as of' date"
    vendor = (order.vendor or "").strip().lower() if order is not None else None
    same = [d.date for o in orders if vendor is not None and (o.vendor or "").strip().lower() == vendor
            for d in o.deliveries]
    if same:
        return max(same), f"{order.vendor}'s latest recorded delivery"
    every = [d.date for o in orders for d in o.deliveries]
    if every:
        return max(every), "the latest delivery recorded from any vendor" + (
            f": {order.vendor} has none" if order is not None else "")
    if order is not None:
        return order.order_date, "its order date: no delivery is recorded"
    return scenario.start, "the forecast's first month: no delivery is recorded"


def naive_order_installed(order, scenario, months, as_of, scale, delay_days, cutoff=None, overdue_delay=None,
                          into=None):
    """`order_installed` before s22: each overdue lot's survival over the whole trials x months,
    whole arrays added to the fleet's (`into`) as `installed[chip] += order_installed(...)` did."""
    out = _naive_order_installed(order, scenario, months, as_of, scale, delay_days, cutoff, overdue_delay)
    if into is None:
        return out
    into += out
    return into


def _naive_order_installed(order, scenario, months, as_of, scale, delay_days, cutoff, overdue_delay):
    month_ord = np.array([m.toordinal() for m in months], dtype=np.int64)
    lag = float(scenario.install_lag_days)
    delivered = fc._installed_curve([d.date.toordinal() + lag for d in order.deliveries],
                                    [float(d.quantity) for d in order.deliveries], month_ord.astype(float), scenario)
    every = fc.outstanding_lots(order, as_of, scenario.unscheduled_spread_months, floor=False)
    overdue = [(day, qty) for day, qty in every if day < as_of]
    lots = sorted((day, qty) for day, qty in every if day >= as_of)
    late_part = None
    if overdue:
        trials = max(len(scale), len(delay_days))
        late_part = np.zeros((trials, len(months)))
        for due_day, qty in overdue:
            gap = float(as_of.toordinal() - due_day.toordinal())
            late_by = overdue_delay(gap) if overdue_delay is not None else delay_days
            ship = np.maximum(due_day.toordinal() + np.broadcast_to(late_by, (trials,)).astype(float),
                              float(as_of.toordinal()))
            got = qty * fc._survival(month_ord[None, :] - (ship[:, None] + lag), scenario)
            if cutoff is not None:
                got *= ~((ship >= cutoff[0]) & (ship < cutoff[1]))[:, None]
            late_part += got
        late_part *= np.broadcast_to(scale, (trials,))[:, None]
    if not lots:
        out = np.broadcast_to(delivered, (len(scale), len(months)))
        return out if late_part is None else late_part + delivered[None, :]
    rows, inv = fc._lot_rows(lots, scenario, month_ord, lag, delay_days, cutoff)
    out = rows[inv]
    out *= scale[:, None]
    out += delivered[None, :]
    if late_part is not None:
        out += late_part
    return out


def test_as_of_lookup_and_notes_match_the_scan_per_order():
    orders = mid_fleet()
    sc = mid_inputs(orders).scenario
    lookup = AsOfLookup(orders, sc)
    for order in orders + [None]:
        assert lookup(order) == naive_as_of(orders, sc, order) == as_of_and_source(orders, sc, order)
    # no delivery anywhere, and the scenario's own date
    bare = [replace(o, deliveries=()) for o in orders[:5]]
    for order in bare + [None]:
        assert AsOfLookup(bare, sc)(order) == naive_as_of(bare, sc, order)
        fixed = replace(sc, as_of=dt.date(2025, 3, 1))
        assert AsOfLookup(bare, fixed)(order) == naive_as_of(bare, fixed, order)
    notes = overdue_notes(orders, sc, {"h20-96gb": "NVIDIA"}) + unscheduled_notes(orders, sc)
    assert any("are not recorded as delivered" in n for n in notes)
    assert any("no promised date" in n for n in notes)
    assert any("from any vendor: Reseller A has none" in n for n in notes)


@pytest.mark.parametrize("fixed", [(), ("supply",), ("policy",)])
def test_big_fleet_forecast_is_bit_identical_to_the_slow_path(monkeypatch, fixed):
    inputs = mid_inputs(mid_fleet())
    fast = run_forecast(inputs, fixed=fixed, keep_samples=True)
    # the fast path must have had overdue lots under an H20 cut-off and in several blocks of trials
    monkeypatch.setattr(fc, "_BLOCK_ELEMENTS", 72 * 64)
    blocked = run_forecast(inputs, fixed=fixed, keep_samples=True)
    monkeypatch.setattr(fc, "order_installed", naive_order_installed)
    monkeypatch.setattr(fc, "AsOfLookup", lambda orders, sc: (lambda order=None: naive_as_of(orders, sc, order)))
    slow = run_forecast(inputs, fixed=fixed, keep_samples=True)
    assert fast.samples is not None and slow.samples is not None and blocked.samples is not None
    assert any("are not recorded as delivered" in n for n in slow.notes)
    assert fast.notes == slow.notes == blocked.notes
    for chip in slow.chip_ids:
        for got in (fast, blocked):
            assert got.samples is not None
            assert got.samples.installed[chip].tobytes() == slow.samples.installed[chip].tobytes(), chip
            assert got.samples.promised[chip].tobytes() == slow.samples.promised[chip].tobytes(), chip
    assert fast.installed_total.p50.tobytes() == slow.installed_total.p50.tobytes()
    for a, b in zip(fast.jobs, slow.jobs):
        assert a.completion_ordinals.tobytes() == b.completion_ordinals.tobytes()


def test_survival_work_does_not_grow_with_trials(monkeypatch):
    """Overdue lots' survival is evaluated once per ship day, not per trial x month: ten times the
    trials may not cost ten times the evaluations (it did before s22)."""
    evaluated = []
    survival = fc._survival

    def counting(age_days, scenario):
        evaluated.append(np.size(age_days))
        return survival(age_days, scenario)

    monkeypatch.setattr(fc, "_survival", counting)
    counts = []
    for trials in (200, 2000):
        evaluated.clear()
        run_forecast(mid_inputs(mid_fleet(30), trials=trials, months=36), fixed=("policy",))
        counts.append(sum(evaluated))
    assert counts[1] < 3 * counts[0], counts
