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


def test_a_long_title_on_a_short_narrow_chart_is_shortened_not_clipped(qtbot):
    """Compact mode (Export above the value axis) and a title that can't fit: shortened with an
    ellipsis (full text in the tooltip), and the plot stays inside its widget."""
    chart = PlotPanel("Training-job completion date (share of trials finishing each month, all jobs)",
                      y_label="Trials finishing", y_unit="% per month", time_axis=True)
    qtbot.addWidget(chart)
    chart.show()
    for width, height in ((900, 600), (320, 200), (260, 150)):
        chart.resize(width, height)
        QApplication.processEvents()
        assert chart.compact == (height < chart.COMPACT_PANEL_PX)
        assert chart.plot_item.width() <= chart.plot_widget.width() + 1, (width, chart.plot_item.width())
    assert chart._shown_title.endswith("…")
    assert chart.plot_widget.toolTip() == chart.title
    assert chart.export_button.isVisible()


def test_a_long_unit_on_a_short_chart_goes_over_two_lines_rather_than_cut(qtbot):
    """The Forecast capacity chart at 1280x720: "(Ascend 910B2 chips)" did not fit the value
    axis's height and was cut to "(Ascend 910B2 ch…"; the unit is what a reader must not lose."""
    chart = PlotPanel("Capacity vs demand", y_label="Capacity, demand", y_unit="Ascend 910B2 chips",
                      time_axis=True)
    qtbot.addWidget(chart)
    chart.show()
    chart.resize(400, 150)     # about 80 px of value axis: the unit alone is wider than that
    QApplication.processEvents()
    text, _pt = chart._shown_y_label
    assert text == "(Ascend<br>910B2 chips)"
    chart.resize(900, 600)     # room again: the whole label on one line
    QApplication.processEvents()
    assert chart._shown_y_label[0] == "Capacity, demand (Ascend 910B2 chips)"


def test_a_one_bar_category_chart_has_no_si_scale_on_its_axis(qtbot):
    """One bar spans -0.6..0.6 on the category axis: pyqtgraph's SI prefix titled it
    "Layout (x0.001)"."""
    from gui.widgets.category_chart import CategoryBarPanel

    chart = CategoryBarPanel("Step time", x_label="Layout", y_label="Step", y_unit="s")
    qtbot.addWidget(chart)
    chart.resize(600, 400)
    chart.show()
    chart.set_categories(["TP8 PP4"])
    chart.set_stacked({"compute": [1.5]})
    qtbot.wait(50)
    axis = chart.plot_item.getAxis("bottom")
    assert "x0.001" not in axis.labelString() and "0.001" not in axis.labelString()


def test_a_long_notice_on_a_narrow_chart_wraps_inside_the_plot_area(qtbot):
    """The Forecast's "Installed chips" empty state at 1280x720 was one line cut off at both ends
    of the plot ("chips installed in this horizon: add orders in the Fleet vi")."""
    chart = PlotPanel("Installed chips by type", y_label="Installed", y_unit="chips")
    qtbot.addWidget(chart)
    chart.show()
    chart.resize(330, 260)
    QApplication.processEvents()
    text = "No chips installed in this horizon: add orders in the Fleet view"
    chart.set_notice(text)
    QApplication.processEvents()
    notice = chart._notice
    width = chart.plot_item.vb.width()
    assert notice.textItem.toPlainText() == text
    assert notice.textItem.boundingRect().width() <= width
    assert notice.textItem.boundingRect().height() > 1.5 * chart.fontMetrics().height()   # wrapped
    chart.resize(1200, 500)      # room again: one line
    QApplication.processEvents()
    assert notice.textItem.boundingRect().height() < 1.5 * chart.fontMetrics().height() + 8


def test_a_stacked_chart_keeps_its_legend_in_stack_order_as_segments_change(qtbot):
    """QA: after a search and then a fixed layout the step-time legend read out of stack order with
    empty cells."""
    chart = CategoryBarPanel("Step time", y_label="Time", y_unit="s")
    qtbot.addWidget(chart)
    chart.set_categories(["a", "b"])
    chart.set_stacked({"GEMMs": [1, 2], "Attention": [1, 1], "PP bubble": [0.5, 0.5]})
    chart.set_reference_line("Target", 5.0)
    chart.set_stacked({"GEMMs": [1, 2], "TP comm": [0.2, 0.3], "PP bubble": [0.5, 0.5]})
    assert chart.legend_names() == ["GEMMs", "TP comm", "PP bubble", "Target"]
    cells = sorted(chart.legend.layout.itemAt(i, j) is not None
                   for i in range(chart.legend.layout.rowCount()) for j in range(chart.legend.layout.columnCount()))
    assert cells.count(True) == 2 * 4     # a sample and a label per entry, nothing left over
