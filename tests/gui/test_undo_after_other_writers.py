"""Undo and redo never overwrite what another window or program wrote since (QA: undo in the
window silently put back a price and a buyer the CLI had changed, and undoing a delivery delete
after another delivery was added left an order over-delivered)."""

import pytest
from PySide6.QtGui import QUndoStack

from engine.errors import UserError
from engine.store import open_store
from gui.commands import (
    AddOrderCommand, DeleteDeliveryCommand, EditChipCommand, EditDeliveryCommand, EditOrderCommand, push_command,
    refusals,
)

H100 = "h100-sxm5-80gb"


@pytest.fixture
def stores(tmp_path):
    """The window's store and another program's, on one file."""
    window = open_store(tmp_path / "shared.db")
    other = open_store(tmp_path / "shared.db")
    yield window, other
    other.close()
    window.close()


@pytest.fixture
def refused():
    said = []
    refusals.refused.connect(said.append)
    yield said
    refusals.refused.disconnect(said.append)


def _price(store):
    return store.stored_value("chip", H100, "price_usd")


def test_undo_of_a_chip_edit_keeps_a_later_edit_made_elsewhere(stores, refused):
    window, other = stores
    stack = QUndoStack()
    before = _price(window)
    assert push_command(stack, EditChipCommand(window, H100, "price_usd", "30000")) is None
    other.update_chip(H100, "price_usd", 25000)
    stack.undo()
    assert _price(window) == 25000.0
    assert len(refused) == 1 and "changed by another window or program since (now 25000.0)" in refused[0]
    assert not stack.canRedo()   # the refused step left the history
    # with nobody else writing, undo and redo work as before
    assert push_command(stack, EditChipCommand(window, H100, "price_usd", 31000)) is None
    stack.undo()
    assert _price(window) == 25000.0
    stack.redo()
    assert _price(window) == 31000.0
    assert before != 31000.0


def test_redo_refuses_too_when_the_old_value_changed_meanwhile(stores, refused):
    window, other = stores
    stack = QUndoStack()
    order_id = window.order_rows()[0]["id"]
    original = window.stored_value("order", order_id, "buyer")
    push_command(stack, EditOrderCommand(window, order_id, "buyer", "Window"))
    stack.undo()
    assert window.stored_value("order", order_id, "buyer") == original
    other.update_order(order_id, "buyer", "CLI")
    stack.redo()
    assert window.stored_value("order", order_id, "buyer") == "CLI"
    assert "now 'CLI'" in refused[-1]


def test_undo_of_a_delivery_edit_and_of_an_added_order_keep_later_edits(stores, refused):
    window, other = stores
    stack = QUndoStack()
    delivery = window.delivery_rows()[0]
    push_command(stack, EditDeliveryCommand(window, delivery["id"], "note", "window note"))
    other.update_delivery(delivery["id"], "note", "cli note")
    stack.undo()
    assert window.delivery_row(delivery["id"])["note"] == "cli note"
    row = {"buyer": "B", "vendor": "NVIDIA", "chip_id": H100, "quantity": 100, "order_date": "2024-01-10"}
    push_command(stack, AddOrderCommand(window, row))
    added = max(r["id"] for r in window.order_rows())
    other.update_order(added, "quantity", 200)
    stack.undo()   # deleting the order would drop the other program's edit
    assert window.stored_value("order", added, "quantity") == 200
    assert "order " + str(added) in refused[-1] and "changed by another window or program" in refused[-1]


def test_undo_of_a_delivery_delete_is_checked_like_a_new_delivery(stores, refused):
    window, other = stores
    stack = QUndoStack()
    order = next(r for r in window.order_rows() if r["delivered"] and r["delivered"] < r["quantity"])
    first = window.delivery_rows(order["id"])[0]
    push_command(stack, DeleteDeliveryCommand(window, first["id"]))
    outstanding = order["quantity"] - (order["delivered"] - first["quantity"])
    other.add_delivery({"order_id": order["id"], "date": first["date"], "quantity": outstanding})
    stack.undo()
    after = next(r for r in window.order_rows() if r["id"] == order["id"])
    assert after["delivered"] <= after["quantity"]              # never over-delivered
    assert "would deliver more than ordered" in refused[-1]


def test_a_missing_row_is_one_line_not_a_traceback(stores):
    window, _ = stores
    with pytest.raises(UserError, match="chip 'nope': not in the catalog"):
        window.update_chip("nope", "price_usd", 1)
    with pytest.raises(UserError, match="chip 'nope': not in the catalog"):
        window.delete_chip("nope")


def test_a_chip_put_back_twice_is_a_clash_not_damage(stores):
    window, _ = stores
    snapshot = window.delete_chip("mi250x") if "mi250x" in {r["id"] for r in window.chip_rows()} else None
    if snapshot is None:
        pytest.skip("no mi250x in the seeded catalog")
    window.restore_chip(snapshot)
    with pytest.raises(UserError) as caught:
        window.restore_chip(snapshot)
    assert "exists again" in str(caught.value) and "damaged" not in str(caught.value)


def test_redo_of_a_delete_keeps_what_was_written_after_the_undo(stores, refused):
    """QA: delete order, undo, another program edits the order, redo: the order and the other
    program's edit were deleted without a word."""
    from gui.commands import DeleteOrderCommand

    window, other = stores
    stack = QUndoStack()
    order_id = window.order_rows()[-1]["id"]
    push_command(stack, DeleteOrderCommand(window, order_id))
    stack.undo()
    other.update_order(order_id, "note", "written after the undo")
    stack.redo()
    assert window.stored_value("order", order_id, "note") == "written after the undo"
    assert "changed by another window or program" in refused[-1]
    delivery = window.delivery_rows()[0]
    push_command(stack, DeleteDeliveryCommand(window, delivery["id"]))
    stack.undo()
    other.update_delivery(delivery["id"], "note", "theirs")
    stack.redo()
    assert window.delivery_row(delivery["id"])["note"] == "theirs"
