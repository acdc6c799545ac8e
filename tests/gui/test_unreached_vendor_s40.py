"""A what-if of a vendor's delivery profile reaches no order where each of that vendor's outstanding
orders has a delivery risk of its own (QA s40): said beside its changes in Compare, and in the
Forecast's assumptions box, where "Huawei delivers 50%" had read alone."""

import dataclasses

from engine.forecast import OrderUncertainty, default_scenario, unreached_vendor_notes
from engine.store import open_store
from gui.panels.forecast_uncertainty import assumptions_html

HALF = ("vendor_uncertainty.Huawei.fraction_mode", "vendor_uncertainty.Huawei.fraction_low")


def test_a_vendor_change_is_unreached_only_when_every_outstanding_order_has_its_own_risk(tmp_path):
    store = open_store(tmp_path / "u.db")
    try:
        orders = store.orders()
    finally:
        store.close()
    huawei = [o for o in orders if o.vendor == "Huawei" and o.outstanding > 0]
    assert [o.id for o in huawei] == [1]
    sc = default_scenario()
    assert unreached_vendor_notes(HALF, orders, sc) == ()
    own = dataclasses.replace(sc, order_uncertainty={1: OrderUncertainty(fraction_dist="fixed", fraction_mode=0.8)})
    assert unreached_vendor_notes(HALF, orders, own) == (
        "Huawei's changes move nothing here: every outstanding Huawei order (order 1) has a delivery risk of its "
        "own, which wins",)
    assert unreached_vendor_notes(("vendor_uncertainty.NVIDIA.fraction_mode", "months"), orders, own) == ()
    assert unreached_vendor_notes(("months",), orders, own) == ()
    # the assumptions box names the order's own risk beside its vendor's line
    text = assumptions_html(own)
    assert "<b>order 1</b> delivers 80% of the order, 0 days late (its own risk: its vendor's line does not " \
           "apply to it)" in text
    assert "<b>order" not in assumptions_html(sc)


def test_an_own_risk_on_a_delivered_or_deleted_order_says_it_applies_to_nothing(tmp_path):
    """s40's left-undone: the box listed "order 9 delivers 80% ... (its own risk ...)" for an order
    fully delivered, or no longer in the fleet, as if it moved the forecast."""
    store = open_store(tmp_path / "u.db")
    try:
        orders = store.orders()
    finally:
        store.close()
    done = next(o for o in orders if o.outstanding <= 0)
    missing = max(o.id for o in orders) + 1
    own = OrderUncertainty(fraction_dist="fixed", fraction_mode=0.8)
    sc = dataclasses.replace(default_scenario(), order_uncertainty={1: own, done.id: own, missing: own})
    text = assumptions_html(sc, orders=orders)
    assert "<b>order 1</b> delivers 80% of the order" in text            # outstanding: its risk stands
    assert (f"<b>order {done.id}</b> has a delivery risk of its own but is fully delivered: nothing is left for it "
            "to apply to") in text
    assert f"<b>order {missing}</b> has a delivery risk of its own but is not in the fleet: it applies to nothing" in text
    assert f"<b>order {done.id}</b> delivers" not in text and f"<b>order {missing}</b> delivers" not in text
    # without the fleet (a report of the scenario alone) every line reads as before
    assert f"<b>order {done.id}</b> delivers 80%" in assumptions_html(sc)
