"""The window by keyboard (QA s28): the Forecast form tabs top to bottom and ends before the charts,
the Plan's "Plan … instead" offer is reached by Tab and followed with Enter, and the Training MTBF's
arrows step from the Llama 3 rate the special text stands for."""

from PySide6.QtCore import QDate, QPoint, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QGroupBox

from engine.reliability import DEFAULT_MTBF_CHIP_HOURS


def _active(widget, qtbot, size=(1280, 688)):
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    widget.activateWindow()   # key presses move the focus only in the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is widget.window(), timeout=5000)


def _tabs(start, qtbot, presses: int) -> list:
    """The widgets the focus visits on `presses` Tab key presses from `start` (start first)."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=2000)
    visited = [QApplication.focusWidget()]
    for _ in range(presses):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        visited.append(QApplication.focusWidget())
    return visited


def _owner(widget, candidates):
    """The candidate `widget` is or sits in (a spin box's line edit has the focus, not the box)."""
    while widget is not None:
        if widget in candidates:
            return widget
        widget = widget.parentWidget()
    return None


def _group(widget) -> str:
    while widget is not None:
        if isinstance(widget, QGroupBox):
            return widget.title()
        widget = widget.parentWidget()
    return ""


def _column(panel):
    return panel.splitter.widget(0).widget()   # the form, in its scroll area left of the charts


def _form_visits(panel, visited):
    """The Tab stops inside the form column, in visit order, and the index of the first outside it."""
    column = _column(panel)
    inside, left_at = [], None
    for i, w in enumerate(visited):
        if w is not None and column.isAncestorOf(w):
            if left_at is not None:
                break   # round again
            if not inside or inside[-1] is not w:   # (Tab first walks a date's year and month)
                inside.append(w)
        elif inside and left_at is None:
            left_at = i
    return inside, left_at


def _forecast_tab_walk(window, qtbot):
    window.tabs.setCurrentIndex(3)
    panel = window.panel("forecast")
    qtbot.waitUntil(lambda: panel.start_edit.isVisible(), timeout=5000)
    return panel, _tabs(panel.start_edit, qtbot, 120)


def _assert_form_tabs_top_to_bottom(panel, visited):
    inside, left_at = _form_visits(panel, visited)
    assert left_at is not None, "Tab never left the form"
    column = _column(panel)
    # each stop below (or beside, on the same row) the one before: the form read top to bottom
    spots = [w.mapTo(column, QPoint(0, 0)) for w in inside]
    for (a, pa), (b, pb) in zip(zip(inside, spots), zip(inside[1:], spots[1:])):
        assert (pb.y() > pa.y() + 2) or (abs(pb.y() - pa.y()) <= 2 and pb.x() > pa.x()), (
            f"{type(a).__name__} in {_group(a)!r} at {pa.toTuple()} then {type(b).__name__} in "
            f"{_group(b)!r} at {pb.toTuple()}")
    groups = list(dict.fromkeys(_group(w) for w in inside if _group(w)))
    assert groups == ["Horizon and run", "Supply", "Delivery uncertainty", "Export-licence cut-offs",
                      "Allocation: training share and serving per chip type", "Demand and serving",
                      "Training jobs (run one after another per chip type)"]
    # the form ends before the charts: every field (and every per-chip share) before the first chart stop
    shares = list(panel._share_spins.values()) + list(panel._serve_checks.values())
    assert shares
    seen = [_owner(w, shares + [panel.growth_multiplier_spin, panel.sigma_floor_spin, panel.ceiling_spin,
                                panel.curve_kind, panel.training_goodput_spin]) for w in inside]
    assert all(s in seen for s in shares)
    assert seen.index(shares[0]) < seen.index(panel.curve_kind)   # Allocation before Demand and serving
    assert panel.training_goodput_spin in seen   # the form's last field, before the charts
    outside = visited[left_at]
    assert not column.isAncestorOf(outside) and panel.view.isAncestorOf(outside)
    return seen


def test_forecast_form_tabs_top_to_bottom_then_the_charts(window, qtbot):
    """Tab went Training jobs -> charts -> Allocation -> more charts, and Growth multiplier came
    after Precision, though it sits between Fit error floor and Ceiling."""
    _active(window, qtbot)
    panel, visited = _forecast_tab_walk(window, qtbot)
    seen = _assert_form_tabs_top_to_bottom(panel, visited)
    growth = panel.growth_multiplier_spin
    assert growth in seen and seen.index(growth) < seen.index(panel.ceiling_spin)
    if panel.sigma_floor_spin.isEnabled():
        assert seen.index(panel.sigma_floor_spin) + 1 == seen.index(growth)


def test_forecast_tab_order_holds_after_the_allocation_rows_are_rebuilt(window, qtbot):
    """A load (scenario switch, undo, store change) makes the per-chip rows anew: they keep their place."""
    _active(window, qtbot)
    panel = window.panel("forecast")
    old = list(panel._share_spins.values())
    panel._on_store_changed()   # the store changed: the form re-reads it and rebuilds the rows
    qtbot.waitUntil(lambda: list(panel._share_spins.values()) != old, timeout=5000)
    _panel, visited = _forecast_tab_walk(window, qtbot)
    _assert_form_tabs_top_to_bottom(panel, visited)


def test_forecast_tab_order_at_1920(window, qtbot):
    _active(window, qtbot, (1920, 1048))
    panel, visited = _forecast_tab_walk(window, qtbot)
    _assert_form_tabs_top_to_bottom(panel, visited)


def test_plan_instead_link_is_reached_by_tab_and_followed_with_enter(plan_panel, qtbot):
    """The summary's "Plan Mar 2025 – May 2025 instead" took the mouse only (NoFocus label)."""
    panel = plan_panel
    label = panel.summary_label
    # with no link the summary is no Tab stop
    assert "<a " not in label.text() and label.focusPolicy() == Qt.FocusPolicy.NoFocus
    for r in range(panel.cand_table.rowCount()):   # the default caps: no plan keeps Dec 2026 at 85%
        panel.cand_table.item(r, 4).setText(f"{panel._candidates[r].max_per_quarter:g}")
    panel.confidence.setValue(85)
    panel.until_edit.setDate(QDate(2026, 12, 1))
    panel.compute_now()
    r = panel.result
    assert not r.feasible and r.reachable_target is not None
    first, last = r.reachable_target
    _active(panel, qtbot)
    panel.from_edit.setFocus(Qt.FocusReason.TabFocusReason)
    for _ in range(60):
        if QApplication.focusWidget() is label:
            break
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is label, "Tab never reached the summary's link"
    # the link, ready for Enter ("Show" where the fleet already keeps the offer with no orders, s32)
    verb = "Show" if r.reachable_target_cost_usd == 0 else "Plan"
    assert label.selectedText() == f"{verb} {first:%b %Y} – {last:%b %Y} instead"
    qtbot.keyClick(label, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not label   # one Tab onto the link, the next one leaves
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is label and label.hasSelectedText()   # Shift+Tab lands on it too
    qtbot.keyClick(label, Qt.Key.Key_Return)
    assert not panel.auto_from.isChecked() and not panel.auto_until.isChecked()
    assert (panel.from_edit.date(), panel.until_edit.date()) == (QDate(first.year, first.month, 1),
                                                                 QDate(last.year, last.month, 1))
    qtbot.waitUntil(lambda: panel.result is not r, timeout=120_000)   # Enter planned it, as a click does
    assert (panel.result.from_month, panel.result.until_month) == (first, last)


def test_mtbf_arrows_step_from_the_llama3_rate(training_panel, qtbot):
    """Up from "Llama 3 rate (50,677 chip-h)" (stored as 0) read 5000 chip-h: ten times less reliable."""
    box = training_panel.mtbf_spin
    _active(training_panel, qtbot)
    assert box.value() == 0 and box.text() == f"Llama 3 rate ({DEFAULT_MTBF_CHIP_HOURS:,.0f} chip-h)"
    assert box.text() == "Llama 3 rate (50,677 chip-h)"
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Up)
    assert (box.value(), box.text()) == (55_000.0, "55,000 chip-h")   # the next 5,000 above 50,677
    box.setValue(0)
    assert box.stepEnabled() & QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
    qtbot.keyClick(box, Qt.Key.Key_Down)
    assert (box.value(), box.text()) == (50_000.0, "50,000 chip-h")   # the next 5,000 below it
    qtbot.keyClick(box, Qt.Key.Key_Down)
    assert box.text() == "45,000 chip-h"
    box.setValue(0)
    qtbot.keyClick(box, Qt.Key.Key_PageUp)   # ten steps
    assert box.value() == 50_000 + 10 * 5_000
    # thousands separators as the other number boxes, and read back as typed
    box.setValue(5000)
    assert box.text() == "5,000 chip-h"
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "123,456.5")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == 123_456.5 and box.text() == "123,456.5 chip-h"
    # from a plain value the arrows step as before, and so do the boxes with no stand-in
    box.setValue(20_000)
    qtbot.keyClick(box, Qt.Key.Key_Down)
    assert box.value() == 15_000
    restart = training_panel.restart_spin
    restart.setFocus()
    before = restart.value()
    qtbot.keyClick(restart, Qt.Key.Key_Up)
    assert restart.value() == before + 5
    assert training_panel.scenario_state()["mtbf_chip_hours"] == 15_000


def test_a_plan_candidate_edit_is_named_by_its_chip_and_column(window, qtbot):
    """QA s28: "Edit Plan: Candidates: h20-96gb" where the table shows "H20"."""
    window.tabs.setCurrentIndex(next(i for i in range(window.tabs.count())
                                     if window.tabs.widget(i) is window._area_widget("plan")))
    panel = window.panels["plan"]
    table = panel.cand_table
    row = next(r for r in range(table.rowCount()) if table.item(r, 1).text() == "H20")
    table.item(row, 4).setText("99000")
    qtbot.waitUntil(lambda: window.undo_stack.count() > 0, timeout=5000)
    assert window.undo_stack.text(window.undo_stack.count() - 1).startswith("Edit H20 Most per quarter → 99,000")
