"""Fleet timeline rules that the views share (once, in the engine, tested without Qt)."""

import datetime as dt

from engine.fleet import (
    INSTALL_LAG_DAYS, Delivery, Order, ScheduledLot, add_months, first_month_all_installed, installed_on,
    months_between, promised_timeline, timeline_months,
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
