"""A chart's values could be read with the mouse only: a keyboard or screen-reader user reached a
chart and read nothing (s38 took charts out of the Tab order instead). The arrow keys now step a
marker through the drawn points and put each value in the readout and the chart's accessible name."""

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget

from gui.widgets.category_chart import CategoryBarPanel
from gui.widgets.chart_keys import step
from gui.widgets.heatmap import HeatmapPanel
from gui.widgets.plot_panel import PlotPanel

K = Qt.Key


def _press(qtbot, panel, *keys):
    for key in keys:
        qtbot.keyClick(panel.plot_widget, key)
    return panel.readout.text()


def test_step_walks_a_row_and_changes_rows_at_the_nearest_x():
    rows = [[0.0, 1.0, 2.0], [0.5, 1.9]]
    assert step(rows, None, K.Key_Right) == (0, 0)        # from nowhere: the first point
    assert step(rows, None, K.Key_End) == (0, 2)
    assert step(rows, (0, 0), K.Key_Left) == (0, 0)       # stops at the ends
    assert step(rows, (0, 2), K.Key_Right) == (0, 2)
    assert step(rows, (0, 2), K.Key_Down) == (1, 1)       # x 2.0 -> 1.9, the nearest
    assert step(rows, (1, 1), K.Key_Down) == (0, 2)       # wraps
    assert step(rows, (0, 1), K.Key_Up) == (1, 0)         # x 1.0: 0.5 and 1.9 -> 0.5 (0.5 away, not 0.9)
    assert step(rows, (5, 9), None) == (1, 1)             # rows shrank since: kept inside them


def test_arrows_read_a_line_charts_points_with_units(qtbot):
    panel = PlotPanel("Throughput", x_label="Batch", x_unit="sequences", y_label="Rate", y_unit="tokens/s")
    qtbot.addWidget(panel)
    panel.resize(600, 400)
    panel.show()
    panel.set_series("H20", [8, 1, 4], [300.0, 50.0, 200.0])   # drawn unsorted: read left to right
    panel.set_series("910B2", [1, 4, 8], [40.0, np.nan, 250.0])  # a gap is skipped
    panel.plot_widget.setFocus()
    assert _press(qtbot, panel, K.Key_Right) == "H20 · Batch 1 sequences · 50 tokens/s"
    assert _press(qtbot, panel, K.Key_Right) == "H20 · Batch 4 sequences · 200 tokens/s"
    assert _press(qtbot, panel, K.Key_Down) == "910B2 · Batch 1 sequences · 40 tokens/s"  # 4 is a gap: 1 and 8 tie
    assert _press(qtbot, panel, K.Key_End) == "910B2 · Batch 8 sequences · 250 tokens/s"
    assert panel.plot_widget.accessibleName() == "910B2 · Batch 8 sequences · 250 tokens/s"
    assert list(panel._marker.getData()[0]) == [8.0] and list(panel._marker.getData()[1]) == [250.0]
    # the chart's own zoom keys still reach pyqtgraph; modified arrows are not read
    before = panel.readout.text()
    qtbot.keyClick(panel.plot_widget, K.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert panel.readout.text() == before


def test_an_empty_chart_says_why_instead_of_reading(qtbot):
    panel = PlotPanel("Nothing yet", y_unit="chips")
    panel.set_notice("No demand entered")
    qtbot.addWidget(panel)
    panel.show()
    panel.plot_widget.setFocus()
    assert _press(qtbot, panel, K.Key_Right) == "No values to read: no demand entered."


def test_bars_and_heatmap_cells_are_read_by_their_category_and_cell(qtbot):
    bars = CategoryBarPanel("Cost", y_label="Cost", y_unit="USD per million tokens")
    qtbot.addWidget(bars)
    bars.show()
    bars.set_categories(["910B2", "H20", "H800"])
    bars.set_stacked({"capital": [1.5, float("nan"), 0.9]})
    bars.plot_widget.setFocus()
    first = _press(qtbot, bars, K.Key_Home)
    assert first.startswith("910B2 · capital: 1.50 USD per million tokens")
    assert _press(qtbot, bars, K.Key_Right).startswith("H800 · capital: 0.9 USD")   # H20 has no value: skipped

    grid = HeatmapPanel("Best MFU", x_label="TP", y_label="PP", value_unit="%")
    qtbot.addWidget(grid)
    grid.show()
    grid.set_grid([1, 2], [1, 2], [[40.0, 42.0], [float("nan"), 45.0]], reasons=[["", ""], ["out of memory", ""]])
    grid.plot_widget.setFocus()
    assert _press(qtbot, grid, K.Key_Home).startswith("TP 1 × PP 2: infeasible — out of memory")   # top row first
    assert _press(qtbot, grid, K.Key_Right).startswith("TP 2 × PP 2: 45 %")
    assert _press(qtbot, grid, K.Key_Down).startswith("TP 2 × PP 1: 42 %")


def test_tab_reaches_every_views_charts(window):
    panels = {key: window.panel(key) for key in ("training", "inference", "forecast")}   # made on first use
    chain, w = [], window.nextInFocusChain()
    while w is not window and len(chain) < 5000:
        if w.focusPolicy().value & Qt.FocusPolicy.TabFocus.value and w.isEnabled():
            chain.append(w)
        w = w.nextInFocusChain()
    for key, panel in panels.items():
        for chart in panel.charts().values():
            assert chart.plot_widget in chain, (key, chart.title)


def _field_and_chart(qtbot, title):
    """A text field, then a chart in chips after it (Tab goes from one to the other), in an active window."""
    holder = QWidget()
    layout = QVBoxLayout(holder)
    field = QLineEdit()
    chart = PlotPanel(title, y_label=title, y_unit="chips")
    layout.addWidget(field)
    layout.addWidget(chart)
    qtbot.addWidget(holder)
    holder.show()
    holder.activateWindow()
    qtbot.waitUntil(holder.isActiveWindow)
    return holder, field, chart   # (the holder kept by the caller: dropped, Qt deleted the chart)


def test_a_tab_in_shows_the_point_and_leaving_restores_the_name(qtbot):
    _holder, before, chart = _field_and_chart(qtbot, "Capacity")
    chart.set_series("probe", [0.0, 1.0], [3.0, 4.0])
    before.setFocus()
    qtbot.keyClick(before, K.Key_Tab)
    assert QApplication.focusWidget() is chart.plot_widget
    assert chart.readout.text() == "probe · 0 · 3 chips"
    qtbot.keyClick(chart.plot_widget, K.Key_Right)
    before.setFocus()
    assert chart.plot_widget.accessibleName() == "Capacity"   # its title again once left
    qtbot.keyClick(before, K.Key_Tab)
    assert chart.readout.text().endswith("4 chips")   # back: the point read last, not the first


def test_a_redraw_reads_the_point_again_and_leaving_takes_the_marker_away(qtbot):
    """QA s39: redrawn while focused (another program's delivery edit, a run finishing), the readout,
    the accessible name and the marker kept the old value; after focus left, the marker stayed on
    the chart and was drawn into an exported picture."""
    _holder, other, chart = _field_and_chart(qtbot, "Installed")
    chart.set_series("910B2", [0.0, 1.0], [10_000.0, 30_000.0])
    chart.plot_widget.setFocus(Qt.FocusReason.TabFocusReason)
    assert _press(qtbot, chart, K.Key_End) == "910B2 · 1 · 30,000 chips"
    chart.set_series("910B2", [0.0, 1.0], [10_000.0, 25_000.0])
    qtbot.waitUntil(lambda: chart.readout.text() == "910B2 · 1 · 25,000 chips")
    assert chart.plot_widget.accessibleName() == "910B2 · 1 · 25,000 chips"
    assert list(chart._marker.getData()[1]) == [25_000.0]
    other.setFocus()
    assert len(chart._marker.getData()[0]) == 0 and chart.readout.text() == chart._idle_readout()
