"""Crowded views on a laptop at 125 % and 150 % display scaling (s31 review, by screenshots).

At 1280x720 a 125 % scale leaves 1024x576 logical pixels and 150 % 853x480 (the window's room is
that less WINDOW_FRAME_PX). Before: the Plan's orders table and form left its charts ~240 px tall
at 125 %; Compare's key-figures table showed about one row at 150 %; the Forecast's inputs column
took ~450 of 853 px at 150 %; the Shortfall chart's value-axis title ran past its axis, under
Export, in a 1360x880 window (a 1920x1080 screen) and at 125 %."""

import numpy as np
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from gui.widgets.plot_panel import PlotPanel


def _settle(qtbot, rounds: int = 4) -> None:
    for _ in range(rounds):
        QApplication.processEvents()
        qtbot.wait(20)


def _title_span_px(chart) -> tuple[float, float, float, float]:
    """(axis top, axis bottom, title top, title bottom) of the value axis, in the chart's scene."""
    axis = chart.plot_item.getAxis("left")
    shown = axis.mapRectToScene(axis.boundingRect())
    label = axis.label.mapRectToScene(axis.label.boundingRect())
    return shown.top(), shown.bottom(), label.top(), label.bottom()


def test_a_value_axis_title_stays_centred_on_its_axis_when_its_size_changes(qtbot):
    """pyqtgraph centres an axis title only when its axis is resized: on an axis of fixed width
    (fit_left_axis) the title set back from 7 pt to its full size kept the 7 pt title's place and
    ran 23 px past the axis' top, its end "chips)" under Export (the Forecast's Shortfall chart in
    a 1360x880 window, the first window on a 1920x1080 screen)."""
    holder = QWidget()
    QVBoxLayout(holder).addWidget(chart := PlotPanel("Shortfall at peak", y_label="Shortfall",
                                                     y_unit="Ascend 910B2 chips", time_axis=True))
    qtbot.addWidget(holder)
    chart.set_series("Shortfall mean", np.arange(12.0), np.arange(12.0) * 5e6)
    chart.plot_item.getAxis("left").setWidth(107)   # as fit_left_axis sets it for "60,000,000"
    holder.resize(380, 400)
    holder.show()
    qtbot.waitExposed(holder)
    _settle(qtbot)
    axis = chart.plot_item.getAxis("left")
    full = "Shortfall (Ascend 910B2 chips)"
    for size_pt in (7.0, None):   # smaller, as a shorter axis had it, then the full size again
        chart.set_axis_title("left", full, size_pt)
        top, bottom, title_top, title_bottom = _title_span_px(chart)
        margin = axis.label.document().documentMargin()
        assert title_top + margin >= top - 1 and title_bottom - margin <= bottom + 1, \
            (size_pt, top, bottom, title_top, title_bottom)
        assert abs((title_top + title_bottom) / 2 - (top + bottom) / 2) <= 2, size_pt   # centred on its axis
