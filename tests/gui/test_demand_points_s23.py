"""QA s23: the demand points table edits each point's uncertainty (± % at 1 sd, at least), saved
with the scenario and undoable like its other cells."""

import datetime as dt

import pytest
from PySide6.QtCore import Qt

from engine.forecast import DemandPoint
from gui.panels.forecast_editors import DemandPointsEditor
from gui.panels.forecast_points import AT_LEAST_COLUMN, SD_COLUMN

D = dt.date


def _editor(qtbot, points):
    editor = DemandPointsEditor()
    qtbot.addWidget(editor)
    editor.set_values(points)
    return editor


def test_the_columns_show_and_read_each_points_uncertainty(qtbot):
    editor = _editor(qtbot, [DemandPoint(D(2024, 9, 15), 1.3e12, "'more than'", 41.0, True),
                             DemandPoint(D(2024, 12, 15), 4e12, "date approximate", 26.0)])
    headers = [editor.table.horizontalHeaderItem(c).text() for c in range(editor.table.columnCount())]
    assert headers[SD_COLUMN] == "± %\n(1 sd)" and headers[AT_LEAST_COLUMN] == "At least\n(floor)"
    assert "ln(g)/12" in editor.table.horizontalHeaderItem(SD_COLUMN).toolTip()
    assert "lower bound" in editor.table.horizontalHeaderItem(AT_LEAST_COLUMN).toolTip()
    assert editor.table.item(0, SD_COLUMN).text() == "41" and editor.table.item(1, SD_COLUMN).text() == "26"
    assert editor.table.item(0, AT_LEAST_COLUMN).checkState() == Qt.CheckState.Checked
    assert editor.table.item(1, AT_LEAST_COLUMN).checkState() == Qt.CheckState.Unchecked

    editor.table.item(1, SD_COLUMN).setText("12.5")
    editor.table.item(1, AT_LEAST_COLUMN).setCheckState(Qt.CheckState.Checked)
    assert editor.points()[1] == DemandPoint(D(2024, 12, 15), 4e12, "date approximate", 12.5, True)
    assert editor.points()[0].sd_pct == 41.0   # the row nobody touched keeps its value
    for exact in ("", "0", "0.0"):
        editor.table.item(1, SD_COLUMN).setText(exact)
        assert editor.errors() == [] and editor.points()[1].sd_pct == 0.0


@pytest.mark.parametrize("text, words", [("150", "uncertainty '150' is above 100 (% of the figure at 1 sd)"),
                                         ("-5", "uncertainty '-5' must be 0 to 100 (% at 1 sd)"),
                                         ("abc", "uncertainty 'abc' is not a number")])
def test_a_bad_uncertainty_is_refused_at_its_cell(qtbot, text, words):
    editor = _editor(qtbot, [DemandPoint(D(2024, 12, 15), 4e12, "", 26.0)])
    editor.table.item(0, SD_COLUMN).setText(text)
    assert editor.errors() == [f"Row 1: {words}"]
    assert editor.save_problem() == f"Demand points row 1 (± %): {words}"
    assert editor.table.item(0, SD_COLUMN).background().color().name() == "#fde2df"
    assert editor.points()[0].sd_pct == 26.0   # the last good rows are kept


def test_editing_the_uncertainty_changes_the_params_and_undo_restores_them(window, qtbot):
    window.tabs.setCurrentIndex(3)
    panel = window.panels["forecast"]
    points = panel.points_editor
    row = next(r for r in range(points.table.rowCount()) if points.table.item(r, 0).text() == "2025-09-15")

    def saved_point():
        return next(p for p in panel.scenario_state()["demand"]["points"] if p["date"] == "2025-09-15")

    assert saved_point()["sd_pct"] == 21.0 and saved_point()["at_least"] is True   # the story's
    at = window.undo_stack.index()
    points.table.item(row, SD_COLUMN).setText("35")
    qtbot.waitUntil(lambda: window.undo_stack.index() == at + 1)
    assert saved_point()["sd_pct"] == 35.0 and window.isWindowModified()
    assert "Forecast" in window.undo_stack.text(at)
    window.undo_stack.undo()
    assert points.table.item(row, SD_COLUMN).text() == "21" and saved_point()["sd_pct"] == 21.0
    assert not window.isWindowModified()

    points.table.item(row, AT_LEAST_COLUMN).setCheckState(Qt.CheckState.Unchecked)
    qtbot.waitUntil(lambda: window.undo_stack.index() == at + 1)
    assert "at_least" not in saved_point() and saved_point()["sd_pct"] == 21.0   # stored without a floor
    window.undo_stack.undo()
    assert points.table.item(row, AT_LEAST_COLUMN).checkState() == Qt.CheckState.Checked
    assert saved_point()["at_least"] is True and not window.isWindowModified()


def test_the_assumptions_line_follows_a_points_uncertainty_edit(forecast_panel, qtbot):
    """QA s23: ticking At least or typing a ± left the assumptions line on the old values until
    an undo redrew it."""
    p = forecast_panel
    table = p.points_editor.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "2024-12-15")
    assert "2024-12 ±26%" in p.assumptions_label.text()
    table.item(row, SD_COLUMN).setText("33")
    qtbot.waitUntil(lambda: "2024-12 ±33%" in p.assumptions_label.text())
    table.item(row, AT_LEAST_COLUMN).setCheckState(Qt.CheckState.Checked)
    qtbot.waitUntil(lambda: "2024-12 +33% floor" in p.assumptions_label.text())
