"""QA s37 on the Fleet view: a refused edit cost the whole redo history; an order's schedule short
of it left its undated chips unsaid; a price of 1234567.5 read "1.23457e+06"."""

from gui.commands import push_command
from gui.table_models import Column, _display


def _price(store, order_id):
    return store.order_snapshot(order_id)["order"]["price_usd_per_chip"]


def test_a_refused_edit_keeps_the_steps_to_redo(window, store):
    fleet = window.fleet_panel
    stack = window.undo_stack
    before = _price(store, 2)
    assert fleet.order_model.setData(fleet.orders_table.source_index(2, "price_usd_per_chip"), "13000")
    assert fleet.order_model.setData(fleet.orders_table.source_index(2, "buyer"), "Someone")
    stack.undo()
    stack.undo()
    assert stack.index() == stack.count() - 2 and _price(store, 2) == before
    # "abc" in Quantity is refused: nothing is stored, and both steps can still be redone
    assert not fleet.order_model.setData(fleet.orders_table.source_index(1, "quantity"), "abc")
    assert stack.canRedo() and stack.count() - stack.index() == 2
    stack.redo()
    stack.redo()
    assert _price(store, 2) == 13000.0 and store.order_snapshot(2)["order"]["buyer"] == "Someone"


def test_push_command_applies_once_and_a_refusal_never_reaches_the_stack(window, store):
    from gui.commands import _EditFieldCommand

    class Edit(_EditFieldCommand):
        kind = "order"

    stack = window.undo_stack
    depth = stack.count()
    calls = []
    good = Edit(store, 1, "buyer", "Once", "buyer")
    original = good.apply
    good.apply = lambda: (calls.append(1), original())[1]
    assert push_command(stack, good) is None
    assert calls == [1] and stack.count() == depth + 1 and store.order_snapshot(1)["order"]["buyer"] == "Once"
    bad = Edit(store, 1, "quantity", -5, "quantity")
    assert push_command(stack, bad) is not None
    assert stack.count() == depth + 1 and store.order_snapshot(1)["order"]["quantity"] != -5
    stack.undo()
    stack.redo()   # redo applies again (it was skipped only inside the push)
    assert store.order_snapshot(1)["order"]["buyer"] == "Once"


def test_the_deliveries_caption_counts_the_chips_with_no_promised_date(window, store):
    fleet = window.fleet_panel
    store.update_order(2, "promised", "2024-07-01:10000")   # the H20 order: 100,000, 80,000 delivered
    fleet.refresh()
    assert fleet.select_order(2)
    text = fleet.deliveries_caption.text()
    assert text.endswith("Delivered 80,000 of 100,000 chips; 20,000 outstanding, 20,000 of them with no promised date.")
    store.update_order(2, "promised", "2024-07-01:70000;2025-01-01:30000")
    fleet.refresh()
    assert fleet.select_order(2)
    assert fleet.deliveries_caption.text().endswith("; 20,000 outstanding.")


def test_large_fractional_numbers_are_grouped_not_scientific():
    price = Column("price_usd_per_chip", "Price (USD/chip)", kind="float")
    assert _display(1234567.5, price) == "1,234,568"
    assert _display(12500.123456789, price) == "12,500.1"
    assert _display(0.5, price) == "0.5"


def test_an_import_that_changes_nothing_keeps_the_steps_to_redo(window, store, tmp_path):
    """QA of the first fix: re-importing the database's own orders ("nothing changed: no step to
    undo") still emptied the redo history."""
    fleet, stack = window.fleet_panel, window.undo_stack
    path = tmp_path / "orders.csv"
    store.export_orders_csv(path)
    assert fleet.order_model.setData(fleet.orders_table.source_index(2, "buyer"), "Someone")
    stack.undo()
    assert stack.canRedo()
    window.import_csv("orders", str(path))
    assert stack.canRedo() and stack.redoText().startswith("Edit order 2")
