"""After Enter added an order, the first Ctrl+Z only cleared the Buyer field (its own typing) and a
second took the order back (QA s38). The text stays for the next row; one Ctrl+Z undoes the add."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.gui.test_undo_keys import _focus


def _undo(field) -> None:
    QTest.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QApplication.processEvents()


def test_one_ctrl_z_after_adding_an_order_takes_the_order_back(window, store, qtbot):
    fleet = window.fleet_panel
    before = len(store.orders())
    _focus(window, qtbot, fleet.buyer_edit)
    QTest.keyClicks(fleet.buyer_edit, "KbdCo")
    assert fleet.add_order_from_form() is not None
    assert len(store.orders()) == before + 1
    assert fleet.buyer_edit.text() == "KbdCo" and not fleet.buyer_edit.isUndoAvailable()
    _undo(fleet.buyer_edit)
    assert len(store.orders()) == before
    assert fleet.buyer_edit.text() == "KbdCo"


def test_one_ctrl_z_after_adding_a_delivery_takes_it_back(window, store, qtbot):
    fleet = window.fleet_panel
    _focus(window, qtbot, fleet.delivery_note_edit)
    fleet.select_order(1)
    assert fleet.selected_order_id() == 1
    count = lambda: len(next(o for o in store.orders() if o.id == 1).deliveries)  # noqa: E731
    before = count()
    fleet.delivery_note_edit.setFocus()
    QTest.keyClicks(fleet.delivery_note_edit, "ship note")
    assert fleet.add_delivery_from_form() is not None
    assert count() == before + 1 and not fleet.delivery_note_edit.isUndoAvailable()
    _undo(fleet.delivery_note_edit)
    assert count() == before
