"""QA round s20a: a refusal in the scenario bar is elided instead of widening the window past a
1280 screen (and squeezing the name field to 28 px); Esc in the name field cancels, as its tooltip
says; Cancel takes the naming's refusal away with it; a plan of one order reads "1 order"; a Fleet
cell refusal names its row and groups its limit's digits."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from gui.scenarios import DEFAULT_NAME

LAPTOP = (1280, 690)   # a 1280x720 screen less the window frame


def _show(window, qtbot, size=LAPTOP):
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    QApplication.processEvents()


def _refuse_a_taken_name(bar) -> None:
    QTest.mouseClick(bar.new_button, Qt.MouseButton.LeftButton)
    bar.name_edit.setText(DEFAULT_NAME)
    QTest.keyClick(bar.name_edit, Qt.Key.Key_Return)
    QApplication.processEvents()


# ---- 1. a refusal in the scenario bar fits the window ------------------------------------------

def test_a_long_scenario_refusal_is_elided_and_the_window_still_fits_1280(window, qtbot):
    _show(window, qtbot)
    bar = window.scenario_bar
    _refuse_a_taken_name(bar)
    said = bar.message.text()
    assert "already exists" in said
    assert window.width() == LAPTOP[0] and window.minimumSizeHint().width() <= LAPTOP[0]
    assert bar.name_edit.width() >= 100            # was squeezed to 28 px
    assert bar.message.toolTip() == said           # the whole text, where the bar shows "…"
    shown = bar.message.shown_text()
    assert shown == said or shown.endswith("…")
    assert bar.message.fontMetrics().horizontalAdvance(shown) <= bar.message.contentsRect().width()


# ---- 2. Esc cancels the naming ---------------------------------------------------------------

def test_esc_in_the_scenario_name_field_cancels(window, qtbot):
    _show(window, qtbot)
    bar = window.scenario_bar
    depth = window.undo_stack.count()
    QTest.mouseClick(bar.rename_button, Qt.MouseButton.LeftButton)
    assert "Esc cancels" in bar.name_edit.toolTip() and bar.name_edit.isVisible()
    bar.name_edit.setText("Not this name")
    QTest.keyClick(bar.name_edit, Qt.Key.Key_Escape)
    QApplication.processEvents()
    assert not bar.name_edit.isVisible() and not bar.name_ok.isVisible()
    assert bar.current_name() == DEFAULT_NAME and window.undo_stack.count() == depth


# ---- 3. Cancel (or Esc) takes the naming's refusal with it --------------------------------------

def test_cancel_clears_the_names_refusal_and_the_windows_minimum_width(window, qtbot):
    _show(window, qtbot)
    bar = window.scenario_bar
    narrowest = window.minimumSizeHint().width()
    _refuse_a_taken_name(bar)
    assert bar.message.text()
    QTest.mouseClick(bar.name_cancel, Qt.MouseButton.LeftButton)
    QApplication.processEvents()
    assert bar.message.text() == "" and bar.message.toolTip() == ""
    qtbot.waitUntil(lambda: window.minimumSizeHint().width() == narrowest)   # (once the layout has run)
    _refuse_a_taken_name(bar)                      # Esc, as Cancel
    QTest.keyClick(bar.name_edit, Qt.Key.Key_Escape)
    assert bar.message.text() == ""


def test_cancel_leaves_a_refusal_said_before_the_naming(window, qtbot):
    """A "Not saved: <bad cell>" from Save is not the name's: it stays until the cell is fixed."""
    _show(window, qtbot)
    bar = window.scenario_bar
    bar._show_problem("Not saved: Cut-offs row 1 (Probability): '150' (above 100%)")
    QTest.mouseClick(bar.new_button, Qt.MouseButton.LeftButton)
    QTest.mouseClick(bar.name_cancel, Qt.MouseButton.LeftButton)
    assert bar.message.text().startswith("Not saved: Cut-offs row 1")


# ---- 4. one planned order --------------------------------------------------------------------

def test_a_plan_of_one_order_says_order_not_orders(plan_panel, store):
    panel = plan_panel
    said = []
    panel.status_message.connect(said.append)
    panel.compute_now()
    r = panel.result
    assert r is not None and r.feasible and len(r.orders) == 1, r.why if r else None
    assert "<b>1 order, " in panel.summary_label.text()
    assert panel.add_as_orders() == 1
    assert said[-1] == "Added 1 planned order to the Fleet (Ctrl+Z to undo)."
    assert panel._stack.undoText() == "Add plan (1 order)"


# ---- 5. a Fleet refusal names its row; limits grouped ----------------------------------------

def test_a_fleet_cell_refusal_names_the_order_and_groups_the_limit(window):
    fleet = window.fleet_panel
    table = fleet.orders_table
    quantity = table.source_index(3, "quantity")
    assert not fleet.order_model.setData(quantity, "abc")
    assert fleet.banner.text() == "Not saved: order 3, Quantity (chips): 'abc' (not a number)"
    assert not fleet.order_model.setData(quantity, "1e12")
    assert fleet.banner.text() == "Not saved: order 3, Quantity (chips): '1e12' (must be <= 100,000,000)"
    # a float limit read "(must be <= 1e+08)"
    assert not fleet.order_model.setData(table.source_index(3, "price_usd_per_chip"), "1e9")
    assert fleet.banner.text().endswith("'1e9' (must be <= 100,000,000)")
    # a year is no count: its limit stays as written; a chip is named by its id
    assert not fleet.chip_model.setData(fleet.chips_table.source_index("h20-96gb", "year"), "2200")
    assert fleet.banner.text() == "Not saved: chip h20-96gb, Year: '2200' (must be <= 2100)"


def test_grouped_limits_leaves_small_and_fractional_limits_alone():
    from gui.panels.fleet import grouped_limits

    assert grouped_limits("x: '0' (must be >= 1)") == "x: '0' (must be >= 1)"
    assert grouped_limits("x: '2' (must be <= 1.5)") == "x: '2' (must be <= 1.5)"
    assert grouped_limits("x: '2e7' (must be <= 1e+06)") == "x: '2e7' (must be <= 1,000,000)"
    assert grouped_limits("x: '-1e9' (must be >= -100000)") == "x: '-1e9' (must be >= -100,000)"


def test_the_plan_views_no_plan_text_turns_a_checked_from_hint_into_the_forms_words(plan_panel):
    """The engine's checked hint "(--from 2025-12, $69.5B)" is said with the form's field, and a
    deadline the horizon cannot answer reads n/a, not a percentage."""
    import dataclasses
    import datetime as dt

    import numpy as np

    from engine.forecast_plan import PlanResult

    D = dt.date
    r = PlanResult(feasible=False, why="lead times: ...; from 2025-12 a plan holds (--from 2025-12, $69.5B)",
                   orders=(), total_cost_usd=0.0, months=[D(2025, 9, 1)], from_month=D(2025, 9, 1),
                   until_month=D(2025, 12, 1), confidence=0.9, prob_meet_demand=np.zeros(1),
                   prob_meet_without=np.zeros(1), capacity_unit_chips=(np.zeros(1),) * 3,
                   demand_unit_chips=np.zeros(1), unit_chip_id="h20-96gb", economics=(),
                   jobs_prob_by_deadline={}, solve_s=0.0, samples=200, status="infeasible")
    text = plan_panel._summary(r, "chips")
    assert "set From to 2025-12, $69.5B)" in text and "--from" not in text
    kept = dataclasses.replace(r, feasible=True, why="", jobs_prob_by_deadline={"405B": None, "70B": 0.93},
                               check_trials=4000)
    text = plan_panel._summary(kept, "chips")
    assert "On 4,000 fresh trials" in text    # as checked (it said 2,000 whatever the check)
    assert "Job 405B: n/a (after the horizon) by its deadline; job 70B: 93% by its deadline" in text
