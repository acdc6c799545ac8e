"""The window at laptop size (QA s24): a geometry saved on a larger monitor, the Plan's cost table,
the Inference chips-needed labels, and the Forecast's job-editor words."""

import pytest
from PySide6.QtWidgets import QApplication

from gui.app import WINDOW_FRAME_PX, MainWindow, first_window_size

LAPTOP = (1280, 720)   # (the offscreen screen is 800 px wide: Qt fits what it restores into it)


def _second_window(store, qtbot, monkeypatch):
    """A window opened again (as after a restart) on a 1280x720 laptop."""
    monkeypatch.setattr(MainWindow, "_available_size", lambda self: LAPTOP)
    w = MainWindow(store)
    qtbot.addWidget(w)
    return w


def _close(w) -> None:
    for panel in w.panels.values():
        panel.shutdown()
    w.fleet_panel.detach()


@pytest.mark.parametrize("saved, kept", [((640, 480), False), ((790, 600), True)])
def test_a_tiny_restored_window_opens_at_the_first_window_size(window, store, qtbot, monkeypatch, saved, kept):
    """After a larger monitor the window reopened at 640x480 on the laptop."""
    window.resize(*saved)
    window.save_settings()
    again = _second_window(store, qtbot, monkeypatch)
    try:
        first = first_window_size(LAPTOP).toTuple()
        assert again.size().toTuple() == (saved if kept else first)
    finally:
        _close(again)


def test_a_geometry_qt_refuses_opens_at_the_first_window_size(window, store, qtbot, monkeypatch):
    """Qt's restoreGeometry returns False (and leaves 640x480) for a geometry from another screen."""
    window.resize(1300, 700)
    window.save_settings()

    def refuse(self, _geometry):
        self.resize(640, 480)
        return False

    monkeypatch.setattr(MainWindow, "restoreGeometry", refuse)
    again = _second_window(store, qtbot, monkeypatch)
    try:
        assert again.size().toTuple() == first_window_size(LAPTOP).toTuple()
    finally:
        _close(again)


def _at_1280(window, qtbot):
    window.resize(1280, 720 - WINDOW_FRAME_PX)
    window.show()
    qtbot.waitExposed(window)


@pytest.mark.slow
def test_the_plan_cost_table_shows_every_chip_at_1280x720(window, qtbot):
    """Its six-line served-cost title left room for 1 of its 4 rows."""
    _at_1280(window, qtbot)
    window.tabs.setCurrentIndex(4)
    plan = window.panel("plan")
    plan.compute_now()
    plan.tabs.setCurrentIndex(1)
    QApplication.processEvents()
    table = plan.econ_table
    assert table.rowCount() >= 4
    last = table.rowCount() - 1
    assert table.rowViewportPosition(last) + table.rowHeight(last) <= table.viewport().height(), "a chip is cut off"
    titles = [table.horizontalHeaderItem(k) for k in range(table.columnCount())]
    assert max(t.text().count("\n") + 1 for t in titles) <= 2
    # the basis is in the caption and the titles' tooltips (the export's headers are unchanged)
    served = next(t for t in titles if "served" in t.text())
    assert "5-year life" in served.toolTip() and "peak / 1.5" in served.toolTip()
    assert "5-year life" in plan.econ_caption.text() and "90% goodput" in plan.econ_caption.text()
    assert "average load = peak / 1.5" in plan.econ_rows()[0][3]
    for chart in (plan.served_cost_chart, plan.training_cost_chart):   # the charts keep their room
        assert chart.plot_widget.height() >= 120


def test_the_chips_needed_labels_break_and_fit_at_1280(window, qtbot):
    """"Ascend 910B2H100 SXM5 80GB": the labels ran together, and went missing narrower."""
    _at_1280(window, qtbot)
    window.tabs.setCurrentIndex(2)
    inference = window.panel("inference")
    inference.compute_now()
    chart = inference.chips_chart
    from tests.gui.test_keyboard_s24 import _reveal

    _reveal(chart)
    assert "Ascend\n910B2" in chart.categories and "H100\nSXM5 80GB" in chart.categories
    assert chart.min_view_width() <= chart.plot_item.vb.width(), "the chip names overlap"
    _headers, rows = chart.data_table()
    assert any(row[0] == "Ascend 910B2" for row in rows)   # the CSV's names on one line


def test_the_training_jobs_model_tip_names_a_real_place(qtbot):
    """"(Library view)": there is none; the presets are the Training view's, `fleetcast models`."""
    from gui.panels.forecast_editors import TrainingJobsEditor

    tip = TrainingJobsEditor.TIPS[TrainingJobsEditor.HEADERS.index("Model")]
    assert "Library" not in tip and "Training view" in tip and "fleetcast models" in tip
