"""Two windows on one database (QA s39). "Another window" is a second connection to the same
file, as another process is."""

from PySide6.QtCore import Qt

from engine.store import open_store

WHAT_IF = "Huawei delivers half"


def test_a_what_if_renamed_elsewhere_is_followed_not_read_as_deleted(window, store):
    """A what-if's resolved inputs carry its own name, so after a rename elsewhere they never
    matched what this window had read: it jumped to the baseline saying the what-if was deleted
    (unedited), or offered to save the edits as a new scenario beside the renamed one."""
    bar = window.scenario_bar
    assert bar.select(WHAT_IF)
    other = open_store(store.path)
    try:
        other.rename_scenario(WHAT_IF, "HDH")
    finally:
        other.close()
    window.check_external_changes()
    assert bar.current_name() == "HDH"
    names = [s["name"] for s in store.scenarios()]
    assert "HDH" in names and WHAT_IF not in names   # nothing saved again under the old name


def _save_elsewhere(path, name, **changes):
    other = open_store(path)
    try:
        other.save_scenario(name, dict(other.scenario(name)["params"], **changes))
    finally:
        other.close()


def test_a_scenario_saved_elsewhere_reloads_an_unedited_window(window, store):
    """The views kept the old inputs, unmarked, while the CLI, Compare and report read the new
    ones (a Plan confidence saved as 95 elsewhere still showed 90)."""
    bar = window.scenario_bar
    assert bar.select(WHAT_IF)
    forecast = window.panel("forecast")
    assert forecast.scenario_state()["install_lag_days"] == 30.0
    _save_elsewhere(store.path, WHAT_IF, install_lag_days=90.0)
    window.check_external_changes()
    assert forecast.scenario_state()["install_lag_days"] == 90.0
    assert not window.is_modified()
    assert "was saved by another window or program: its inputs were reloaded" in window.statusBar().currentMessage()


def test_an_edited_window_keeps_its_edits_when_the_scenario_is_saved_elsewhere(window, store):
    bar = window.scenario_bar
    assert bar.select(WHAT_IF)
    forecast = window.panel("forecast")
    seed = forecast.seed_spin.value()
    forecast.seed_spin.setValue(seed + 1)
    assert window.is_modified()
    _save_elsewhere(store.path, WHAT_IF, install_lag_days=90.0)
    window.check_external_changes()
    # the user's edit stays on screen, marked, and Save will ask (test_data_safety_s27)
    assert forecast.seed_spin.value() == seed + 1 and window.is_modified()
    assert forecast.scenario_state()["install_lag_days"] == 30.0
    assert "your unsaved edits stay on screen" in window.statusBar().currentMessage()


# ---- a cell edit never writes over another program's newer value unasked -------------------------

def _quantity_cell(window):
    model = window.fleet_panel.order_model
    row = next(i for i, r in enumerate(model._rows) if r["quantity"])
    column = [c.key for c in model.columns].index("quantity")
    return model, model.index(row, column), model._rows[row]["id"], model._rows[row]["quantity"]


def _set_quantity_elsewhere(path, order_id, quantity):
    other = open_store(path)
    try:
        other.update_order(order_id, "quantity", quantity)
    finally:
        other.close()


def test_an_edit_typed_while_another_program_wrote_the_cell_is_refused(window, store):
    """Typed 110000 with the editor open, another program set 120000, the window's check showed it
    under the editor, Enter: 110000 was stored, the status saying only 'Edit order 1 Quantity'."""
    model, index, order_id, before = _quantity_cell(window)
    model.note_opened(index)                                  # the editor opens on the stored value
    _set_quantity_elsewhere(store.path, order_id, before + 20_000)
    window.check_external_changes()                           # the table shows the new value
    assert not model.setData(index, str(before + 10_000))
    assert store.stored_value("order", order_id, "quantity") == before + 20_000
    assert "changed by another window or program" in window.fleet_panel.banner.text()


def test_an_edit_before_the_window_saw_another_programs_write_is_refused(window, store):
    model, index, order_id, before = _quantity_cell(window)
    _set_quantity_elsewhere(store.path, order_id, before + 20_000)   # the table still shows `before`
    assert not model.setData(index, str(before + 10_000))
    assert store.stored_value("order", order_id, "quantity") == before + 20_000
    assert f"now {before + 20_000}" in window.fleet_panel.banner.text()


def test_an_edit_with_nobody_else_writing_still_saves(window, store):
    model, index, order_id, before = _quantity_cell(window)
    model.note_opened(index)
    assert model.setData(index, str(before + 10_000))
    assert store.stored_value("order", order_id, "quantity") == before + 10_000
    window.undo_stack.undo()
    assert store.stored_value("order", order_id, "quantity") == before


def test_with_a_filter_typed_an_edit_under_another_programs_write_is_still_refused(window, store, qtbot):
    """The filter reads each cell's edit text to match the chip id: refreshed under the open editor,
    it had recorded the newer value as the one shown, and Enter wrote 'Alibaba' over another
    program's 'Tencent' (QA s39). Through the view, its editor and the keys."""
    from PySide6.QtWidgets import QApplication, QLineEdit

    window.resize(1280, 720)
    window.show()
    table = window.fleet_panel.orders_table
    table.filter_edit.setText("h20-96gb")
    view, proxy = table.view, table.proxy
    column = [c.key for c in table.model.columns].index("buyer")
    index = proxy.index(0, column)
    order_id = table.model._rows[proxy.mapToSource(index).row()]["id"]
    window.activateWindow()
    view.setFocus()
    view.setCurrentIndex(index)
    view.edit(index)
    qtbot.wait(100)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit) and editor.text() == "ByteDance"
    editor.selectAll()
    qtbot.keyClicks(editor, "Alibaba")
    other = open_store(store.path)
    try:
        other.update_order(order_id, "buyer", "Tencent")
    finally:
        other.close()
    window.check_external_changes()   # the table refreshes, and re-filters, under the open editor
    qtbot.wait(100)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.wait(100)
    assert store.stored_value("order", order_id, "buyer") == "Tencent"
    assert "changed by another window or program" in window.fleet_panel.banner.text()
