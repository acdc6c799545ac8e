"""QA round 23 (the window): Compare's changes row after a delete, Ctrl+Y, undo bringing the
Fleet's sub-tab forward, a scenario delete undone, Plan tooltips, no model presets, no orders."""

import sqlite3

import pytest
from PySide6.QtCore import QThreadPool, Qt
from PySide6.QtGui import QKeySequence, QUndoStack
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.store import open_store
from gui.commands import AddOrderCommand, push_command
from gui.panels.compare import ComparePanel
from gui.panels.forecast import NO_MODELS_HINT, ForecastPanel
from gui.panels.plan import PlanPanel
from tests.gui.shared_setups import forecast_without_orders, story_store_with_all_serve, type_training_chip_count

CTRL = Qt.KeyboardModifier.ControlModifier


def _changes_row(panel) -> dict:
    headers, rows = panel.figure_rows()
    return dict(zip(headers, next(r for r in rows if r[0] == "Changes from the baseline")))


def test_compare_keeps_the_changes_its_run_used_after_the_what_if_is_deleted(tmp_path, qtbot):
    """A what-if deleted after the comparison ran read "none" (re-read from the store at display)."""
    store = story_store_with_all_serve(tmp_path / "c.db", trials=200)
    panel = ComparePanel(store)
    qtbot.addWidget(panel)
    try:
        panel.compute_now()
        ran_with = _changes_row(panel)["All serve"]
        assert ran_with not in ("", "none") and "training share" in ran_with.lower()
        store.delete_scenario("All serve")
        panel.refresh_scenarios()
        panel._draw()
        assert _changes_row(panel)["All serve"] == ran_with   # the table and the exported CSV alike
        assert dict(zip(*[panel.tables()["key_figures"][0], panel.tables()["key_figures"][1][0]]))["All serve"] == ran_with
    finally:
        panel.shutdown()
        QThreadPool.globalInstance().waitForDone(5000)
        store.close()


def test_ctrl_y_redoes_in_the_window_and_inside_a_number_field(window, qtbot):
    redo_keys = window.redo_action.shortcuts()
    for key in ["Ctrl+Shift+Z", "Ctrl+Y"] + [k.toString() for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Redo)]:
        assert QKeySequence(key) in redo_keys
    assert redo_keys[0] == QKeySequence("Ctrl+Shift+Z")   # what the menu shows, as before
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    count, start = type_training_chip_count(window, qtbot, "4096")
    QTest.keyClick(count.lineEdit(), Qt.Key.Key_Z, CTRL)
    QApplication.processEvents()
    assert count.value() == start
    QTest.keyClick(count.lineEdit(), Qt.Key.Key_Y, CTRL)   # inside the field: the window's Redo
    QApplication.processEvents()
    assert count.value() == 4096
    window.undo_action.trigger()   # (nothing left unsaved for the window's close)
    assert count.value() == start


def _edit_cell(model, key, field, text) -> None:
    assert model.setData(model.index(model.row_of_key(key), model.column_of(field)), text, Qt.ItemDataRole.EditRole)


def test_undo_brings_the_fleet_area_and_the_sub_tab_it_changes_forward(window, store):
    fleet = window.fleet_panel
    tab_text = lambda: (window.tabs.tabText(window.tabs.currentIndex()), fleet.tabs.tabText(fleet.tabs.currentIndex()))
    _edit_cell(fleet.chip_model, "h20-96gb", "price_usd", "15000")
    fleet.tabs.setCurrentIndex(fleet.PAGES["orders"])
    window.tabs.setCurrentIndex(2)
    window.undo_action.trigger()
    assert tab_text() == ("Fleet", "Chip catalog")

    order_id = store.orders()[0].id
    _edit_cell(fleet.order_model, order_id, "price_usd_per_chip", "29000")
    window.tabs.setCurrentIndex(1)
    window.undo_action.trigger()
    assert tab_text() == ("Fleet", "Orders && deliveries")
    window.redo_action.trigger()
    assert tab_text() == ("Fleet", "Orders && deliveries")

    # "Add plan (N orders)" is a macro: its steps say where they change
    row = {"buyer": "Plan", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 100, "order_date": "2025-01-01",
           "status": "assumption"}
    window.undo_stack.beginMacro("Add plan (1 order)")
    assert push_command(window.undo_stack, AddOrderCommand(store, row)) is None
    window.undo_stack.endMacro()
    fleet.tabs.setCurrentIndex(fleet.PAGES["chips"])
    window.tabs.setCurrentIndex(4)
    window.undo_action.trigger()
    assert tab_text() == ("Fleet", "Orders && deliveries")


def test_undoing_a_scenario_delete_shows_the_restored_scenario(window):
    bar = window.scenario_bar
    assert bar.select("Huawei delivers half")
    assert bar.delete_current()
    assert bar.current_name() != "Huawei delivers half"
    window.undo_action.trigger()
    assert bar.current_name() == "Huawei delivers half"
    window.redo_action.trigger()
    assert bar.current_name() != "Huawei delivers half"


def test_plan_tables_explain_their_columns(plan_panel):
    t = plan_panel.cand_table
    tips = [t.horizontalHeaderItem(k).toolTip() for k in range(t.columnCount())]
    assert all(tips) and "USD" in tips[2] and "Months" in tips[3] and "quarter" in tips[4]
    for col in (2, 3, 4):
        assert t.item(0, col).toolTip() == tips[col]
    for table in (plan_panel.orders_table, plan_panel.econ_table):
        header_tips = [table.horizontalHeaderItem(k).toolTip() for k in range(table.columnCount())]
        assert all(header_tips)
    orders = [plan_panel.orders_table.horizontalHeaderItem(k).toolTip() for k in range(plan_panel.orders_table.columnCount())]
    assert "Cost (million USD): quantity × price" in orders and "Quantity (chips): chips to order" in orders


@pytest.fixture
def no_models_store(tmp_path):
    path = tmp_path / "nomodels.db"
    open_store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("delete from models")
    conn.close()
    store = open_store(path)
    assert not store.models()
    yield store
    store.close()


def test_without_model_presets_forecast_plan_and_compare_give_one_hint(no_models_store, qtbot):
    forecast = ForecastPanel(no_models_store, QUndoStack())
    qtbot.addWidget(forecast)
    forecast.auto_check.setChecked(False)
    plan = PlanPanel(no_models_store, QUndoStack())
    qtbot.addWidget(plan)
    compare = ComparePanel(no_models_store)
    qtbot.addWidget(compare)
    try:
        forecast.compute_now()
        assert forecast.banner.text() == NO_MODELS_HINT and forecast.compute_error == NO_MODELS_HINT
        main_charts = [c for c in forecast.charts().values() if c not in forecast.view.tornado_charts.values()]
        assert main_charts and all(c.notice() == NO_MODELS_HINT for c in main_charts)
        assert plan.banner.text() == NO_MODELS_HINT   # before Find is pressed
        plan.compute_now()
        assert plan.banner.text() == NO_MODELS_HINT
        compare.compute_now()
        assert compare.banner.text() == NO_MODELS_HINT   # once, not per scenario
        assert compare.compute_error == NO_MODELS_HINT
    finally:
        for panel in (forecast, plan, compare):
            panel.shutdown()
        QThreadPool.globalInstance().waitForDone(5000)


def test_no_orders_note_agrees_with_the_forecast_that_ran(store, qtbot):
    for panel in forecast_without_orders(store, qtbot):
        panel.compute_now()
        assert panel.result is not None
        text = panel.banner.text()
        assert text.startswith("No orders yet: the forecast shows demand against no installed chips")
        assert "then the forecast runs" not in text
