"""The redraw after an edit does no work the picture doesn't need (bench/bench_gui_edit.py has the
timings): the grid is drawn opaque and behind the data, and a bar chart whose range changes is
painted once per update, not twice."""

import numpy as np
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication

from gui.widgets.category_chart import CategoryBarPanel
from gui.widgets.plot_panel import PlotPanel


class _PaintCounter(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def _tick_pens(axis):
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _axis_spec, tick_specs, _texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [pen for pen, _p1, _p2 in tick_specs]


def test_grid_lines_are_opaque_and_behind_the_curves(qtbot):
    chart = PlotPanel("t", y_label="Installed", y_unit="chips", time_axis=True)
    qtbot.addWidget(chart)
    chart.resize(600, 400)
    chart.show()
    chart.set_series("a", np.arange(10) * 86400.0 * 40, np.arange(10) * 1000.0)
    QApplication.processEvents()
    for side in ("left", "bottom"):
        axis = chart.plot_item.getAxis(side)
        assert axis.zValue() < chart.plot_item.vb.zValue(), side  # an opaque grid must not cross a curve
        pens = _tick_pens(axis)
        assert pens, side
        assert all(pen.color().alpha() == 255 for pen in pens), side
        # the grid is still light: pyqtgraph's 25% black on white, pre-blended
        assert max(pen.color().red() for pen in pens) >= 180, side


def test_a_bar_chart_is_painted_once_per_update(qtbot):
    chart = CategoryBarPanel("Step time", x_label="Layout", y_label="Time per step", y_unit="s")
    qtbot.addWidget(chart)
    chart.resize(600, 400)
    chart.show()
    qtbot.waitExposed(chart)
    chart.set_categories(["a", "b"])
    chart.set_stacked({"GEMM": [1.0, 2.0], "Bubble": [0.5, 0.1]})
    QApplication.processEvents()
    counter = _PaintCounter()
    chart.plot_widget.viewport().installEventFilter(counter)
    for top in (3.0, 7.0, 11.0):  # each changes the value range
        counter.count = 0
        chart.set_stacked({"GEMM": [1.0, top], "Bubble": [0.5, 0.1]})
        QApplication.processEvents()
        QApplication.processEvents()
        assert counter.count == 1, (top, counter.count)
