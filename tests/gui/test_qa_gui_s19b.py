"""QA round s19b: the Fleet view's Add-order fields keep their own Ctrl+Z (it undid a saved edit),
Forecast tables keep numbers nobody touched exactly (a 1234.5678 was saved as 1234.57), a cut-off
probability "0.00" is 0, Ctrl+Z over a bad Forecast cell puts its last good value back, a Fleet
refusal clears once the cell holds its stored value again, and an edit that changes nothing
(re-typing 100000 as "100,000") is no undo step; a step names the value stored, not the text typed."""

import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.forecast import DemandPoint, PolicyEvent
from gui.panels.forecast_editors import DemandPointsEditor, PolicyEventsEditor
from tests.gui.shared_setups import type_training_chip_count

CTRL = Qt.KeyboardModifier.ControlModifier


def _show(window, qtbot):
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()


def _ctrl_z(widget) -> None:
    QTest.keyClick(widget, Qt.Key.Key_Z, CTRL)
    QApplication.processEvents()


def _price(store, order_id):
    return store.order_snapshot(order_id)["order"]["price_usd_per_chip"]


# ---- 1. Ctrl+Z in the Fleet view's Add-order / Add-delivery fields --------------------------

def test_ctrl_z_in_the_add_order_fields_does_not_undo_a_saved_edit(window, store, qtbot):
    _show(window, qtbot)
    fleet = window.fleet_panel
    assert fleet.order_model.setData(fleet.orders_table.source_index(2, "price_usd_per_chip"), "13000")
    depth = window.undo_stack.index()
    for field in (fleet.order_qty_spin, fleet.order_date_edit, fleet.delivery_qty_spin, fleet.delivery_date_edit):
        field.setEnabled(True)
        field.setFocus()
        qtbot.waitUntil(field.hasFocus)
        line = field.lineEdit()
        line.selectAll()
        QTest.keyClicks(line, "5")
        _ctrl_z(line)                  # the field's own text undo, or nothing: not the window's Undo
        assert _price(store, 2) == 13000.0, field.objectName() or type(field).__name__
        assert window.undo_stack.index() == depth


def test_ctrl_z_in_the_chip_count_still_undoes_the_typed_count(window, qtbot):
    _show(window, qtbot)
    count, start = type_training_chip_count(window, qtbot, "4096")
    _ctrl_z(count.lineEdit())
    assert count.value() == start


# ---- 2, 3. Forecast table numbers -----------------------------------------------------------

def test_numbers_nobody_touched_keep_every_digit_when_another_row_is_edited(qtbot):
    editor = DemandPointsEditor()
    qtbot.addWidget(editor)
    exact = [120e9, 1234.5678e9, 1234.56789012345e9, 0.1 * 3e9]
    editor.set_values([DemandPoint(dt.date(2024, 1 + 2 * i, 15), v, "") for i, v in enumerate(exact)])
    assert editor.table.item(1, 1).text() == "1234.5678"   # shown as stored, not 1234.57
    editor.table.item(0, 2).setText("paid API launch")  # only another row's note
    assert [p.tokens_per_day for p in editor.points()] == exact
    assert editor.points()[0].note == "paid API launch"

    editor.table.item(3, 1).setText("7.5")               # a cell typed is read from its text
    assert editor.points()[3].tokens_per_day == 7.5e9 and editor.points()[2].tokens_per_day == exact[2]


def test_cut_off_probability_and_duration_round_trip_and_0_00_is_zero(qtbot):
    editor = PolicyEventsEditor()
    qtbot.addWidget(editor)
    editor.set_choices([("h20-96gb", "H20"), ("ascend-910b2", "Ascend 910B2")])
    events = [PolicyEvent("h20-96gb", 0.123456789123, dt.date(2025, 1, 1), dt.date(2025, 12, 31), 6.123456789123),
              PolicyEvent("ascend-910b2", 0.29, dt.date(2025, 1, 1), dt.date(2025, 6, 30), None)]
    editor.set_values(events)
    editor.table.item(1, 2).setText("2025-02-01")        # another row's window
    assert editor.events()[0] == events[0]
    assert editor.events()[1].probability == 0.29

    for zero in ("0.00", "00", "0.", ".0", "0e0"):
        editor.table.item(0, 1).setText(zero)
        assert not editor.errors(), (zero, editor.errors())
        assert editor.events()[0].probability == 0.0
    editor.table.item(0, 1).setText("abc")
    assert editor.errors() == ["Row 1: probability 'abc' is not a number"]
    editor.table.item(0, 1).setText("100.5")
    assert editor.errors() == ["Row 1: probability '100.5' is above 100%"]


# ---- 4. Ctrl+Z over a bad Forecast cell ------------------------------------------------------

def test_ctrl_z_in_a_forecast_table_puts_a_bad_cells_last_good_value_back(window, qtbot, policy_editor):
    _show(window, qtbot)
    window.tabs.setCurrentIndex(3)
    editor = policy_editor
    good = editor.table.item(0, 1).text()
    editor.table.item(0, 1).setText("150")
    assert editor.errors() and window.isWindowModified()

    editor.table.setFocus()
    qtbot.waitUntil(editor.table.hasFocus)
    _ctrl_z(editor.table)
    assert editor.table.item(0, 1).text() == good and not editor.errors()
    assert not window.isWindowModified()
    said = window.statusBar().currentMessage()
    assert said.startswith("Undid typing: Cut-offs row 1 Probability") and f"'{good}'" in said, said


# ---- 5, 6. Fleet refusals and edits that change nothing ---------------------------------------

def test_a_refusal_clears_once_the_cell_is_edited_back_to_its_stored_value(window, store):
    fleet = window.fleet_panel
    said = []
    fleet.status_message.connect(said.append)
    order = store.order_snapshot(1)["order"]
    for field, bad in (("order_date", "2030-01-01"), ("buyer", "  ")):
        index = fleet.orders_table.source_index(1, field)
        assert not fleet.order_model.setData(index, bad)
        assert fleet.banner.error_text().startswith("Not saved:")
        assert fleet.order_model.setData(fleet.orders_table.source_index(1, "status"), order["status"])
        assert fleet.banner.error_text()            # another cell left as it was: still refused
        assert fleet.order_model.setData(index, order[field])
        assert fleet.banner.error_text() == "" and said[-1].endswith(": unchanged")


def test_an_edit_spelled_differently_is_no_undo_step_and_a_step_names_the_stored_value(window, store):
    fleet = window.fleet_panel
    depth = window.undo_stack.count()
    quantity = store.order_snapshot(1)["order"]["quantity"]
    index = fleet.orders_table.source_index(1, "quantity")
    for spelling in (f"{quantity:,}", f"{quantity}.0", f"{quantity:.0e}" if quantity == 100000 else str(quantity)):
        assert fleet.order_model.setData(index, spelling)
        assert window.undo_stack.count() == depth, spelling

    assert fleet.order_model.setData(fleet.orders_table.source_index(1, "price_usd_per_chip"), "1,234.5")
    assert window.undo_stack.text(window.undo_stack.count() - 1) == "Edit order 1 Price (USD/chip) → 1234.5"
    assert fleet.order_model.setData(fleet.orders_table.source_index(1, "price_usd_per_chip"), "1.5e4")
    assert window.undo_stack.text(window.undo_stack.count() - 1) == "Edit order 1 Price (USD/chip) → 15000"
    assert window.undo_action.text().endswith("→ 15000")   # the Edit menu too
