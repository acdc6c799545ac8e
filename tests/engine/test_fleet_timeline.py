"""Fleet timeline rules that the views share (once, in the engine, tested without Qt)."""

import datetime as dt

from engine.fleet import (
    INSTALL_LAG_DAYS, Delivery, Order, ScheduledLot, add_months, first_month_all_installed, installed_on,
    installed_timeline, months_between, promised_timeline, timeline_months,
)


def _order(deliveries=(), promised=(), chip="ascend-910b2", quantity=100):
    return Order(id=1, buyer="B", vendor="Huawei", chip_id=chip, quantity=quantity, order_date=dt.date(2024, 1, 15),
                 promised=tuple(promised),
                 deliveries=tuple(Delivery(i, 1, d, q) for i, (d, q) in enumerate(deliveries)))


def test_month_arithmetic_crosses_years_both_ways():
    assert add_months(dt.date(2024, 11, 30), 3) == dt.date(2025, 2, 1)
    assert add_months(dt.date(2024, 1, 31), -1) == dt.date(2023, 12, 1)
    assert add_months(dt.date(2024, 1, 1), -13) == dt.date(2022, 12, 1)
    assert months_between(dt.date(2024, 1, 31), dt.date(2024, 2, 1)) == 1
    assert months_between(dt.date(2023, 12, 5), dt.date(2025, 2, 1)) == 14


def test_installed_on_counts_deliveries_after_the_install_lag():
    assert INSTALL_LAG_DAYS == 30.0
    order = _order([(dt.date(2024, 7, 1), 30), (dt.date(2024, 8, 1), 20)])
    assert installed_on([order], "ascend-910b2", dt.date(2024, 7, 30)) == 0   # 29 days after
    assert installed_on([order], "ascend-910b2", dt.date(2024, 7, 31)) == 30  # 30 days after
    assert installed_on([order], "ascend-910b2", dt.date(2024, 8, 31)) == 50
    assert installed_on([order], "h20-96gb", dt.date(2030, 1, 1)) == 0


def test_first_month_all_installed_is_the_month_after_the_last_install():
    order = _order([(dt.date(2024, 11, 20), 10)])
    # 20 Nov + 30 days = 20 Dec, so the first month start after it is 1 Jan 2025
    assert first_month_all_installed([order]) == dt.date(2025, 1, 1)
    assert installed_on([order], "ascend-910b2", first_month_all_installed([order])) == 10
    assert first_month_all_installed([_order()], today=dt.date(2026, 3, 4)) == dt.date(2026, 3, 4)


def test_promised_and_timeline_months():
    order = _order([(dt.date(2024, 3, 1), 10)], promised=[ScheduledLot(dt.date(2024, 2, 1), 40)])
    months = timeline_months([order], today=dt.date(2024, 3, 1))
    assert months[0] == dt.date(2023, 12, 1) and len(months) == 12  # at least a year
    promised = promised_timeline([order], months)
    # the lot of 2 Feb is in service from 2 Mar: counted from the 1 Apr month start
    assert list(promised[:5]) == [0, 0, 0, 0, 40]
    assert promised_timeline([_order()], months) is None


def test_add_months_same_day_keeps_the_day_or_the_month_end():
    import datetime as dt

    from engine.fleet import add_months_same_day

    assert add_months_same_day(dt.date(2025, 1, 15), 12) == dt.date(2026, 1, 15)
    assert add_months_same_day(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months_same_day(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)  # leap year
    assert add_months_same_day(dt.date(2025, 3, 31), -1) == dt.date(2025, 2, 28)
    assert add_months_same_day(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)


def test_the_promise_never_falls_below_what_an_order_delivered():
    """QA s37: a schedule of 10,000 on an order that delivered 30,000 drew the promise line at
    10,000 under 30,000 installed, as if the vendor had over-delivered; the other 20,000 of the
    delivered chips (and 70,000 outstanding) had no promised date."""
    from engine.fleet import undated_chips

    order = Order(1, "ByteDance", "Huawei", "ascend-910b2", 100_000, dt.date(2024, 1, 15),
                  promised=(ScheduledLot(dt.date(2024, 7, 1), 10_000),),
                  deliveries=tuple(Delivery(i, 1, dt.date(2024, m, 15), 10_000) for i, m in enumerate((7, 8, 9), 1)))
    months = [dt.date(2024, m, 1) for m in range(6, 13)]
    promised = promised_timeline([order], months, 0)
    installed = installed_timeline([order], months, 0)["ascend-910b2"]
    # lag 0: the lot of 1 Jul counts from Jul; the deliveries of 15 Jul, Aug, Sep from the next month starts
    assert list(installed) == [0, 0, 10_000, 20_000, 30_000, 30_000, 30_000]
    assert list(promised) == [0, 10_000, 10_000, 20_000, 30_000, 30_000, 30_000]
    assert (promised >= installed).all()
    assert undated_chips(order) == 70_000
    # a schedule ahead of the deliveries keeps its own dates; an order scheduled in full has none undated
    ahead = Order(2, "b", "v", "c", 40, dt.date(2024, 1, 1), promised=(ScheduledLot(dt.date(2024, 6, 1), 40),),
                  deliveries=(Delivery(9, 2, dt.date(2024, 9, 1), 10),))
    assert list(promised_timeline([ahead], months, 0)) == [40] * 7
    assert undated_chips(ahead) == 0
