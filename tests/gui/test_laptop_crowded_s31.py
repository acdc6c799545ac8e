"""Crowded views on a laptop at 125 % and 150 % display scaling (s31 review, by screenshots).

At 1280x720 a 125 % scale leaves 1024x576 logical pixels and 150 % 853x480 (the window's room is
that less WINDOW_FRAME_PX). Before: the Plan's orders table and form left its charts ~240 px tall
at 125 %; Compare's key-figures table showed about one row at 150 %; the Forecast's inputs column
took ~450 of 853 px at 150 %; the Shortfall chart's value-axis title ran past its axis, under
Export, in a 1360x880 window (a 1920x1080 screen) and at 125 %."""

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from gui.widgets.plot_panel import PlotPanel
from tests.gui.shared_setups import story_store_on_trials


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


@pytest.fixture
def store(tmp_path):
    """The seeded story on 200 trials a forecast (layouts, not figures, are tested)."""
    s = story_store_on_trials(tmp_path / "crowded.db", 200)
    yield s
    s.close()


def _shown(panel, qtbot, room):
    qtbot.addWidget(panel)
    panel.resize(*room)
    panel.show()
    qtbot.waitExposed(panel)
    _settle(qtbot)
    return panel


PLAN_ROOM = {"125%": (1020, 443), "1280x720": (1276, 587)}   # the Plan's room in the window (measured)


def test_the_plan_charts_take_the_width_where_the_orders_beside_them_leave_too_little(qtbot, store):
    """At 125 % the orders table (420 px) left the charts 244 px of the results' width and the two
    charts shared ~300 px of height: the capacity chart's plot was 147x64 px under "Plan vs…". Now
    the orders are a tab beside a tab for each chart there; at 1280x720 all three stay side by side."""
    from PySide6.QtGui import QUndoStack

    from gui.panels.plan import PLAN_TITLE, PlanPanel
    from tests.gui.shared_setups import reveal
    from tests.gui.test_laptop_scaling_s29 import _plan_with_orders

    panel = _shown(PlanPanel(store, QUndoStack()), qtbot, PLAN_ROOM["125%"])
    try:
        _plan_with_orders(panel)
        panel.compute_now()
        qtbot.waitUntil(lambda: panel.orders_table.rowCount() >= 1 and not panel.runner.is_running(), timeout=20000)
        _settle(qtbot)
        for chart, title in ((panel.capacity_chart, PLAN_TITLE), (panel.prob_chart, panel.prob_chart.title)):
            reveal(chart)
            _settle(qtbot)
            assert chart.plot_item.vb.height() >= 120 and chart.plot_item.vb.width() >= 400, \
                (title, chart.plot_item.vb.width(), chart.plot_item.vb.height())
            assert chart._shown_title == title, chart._shown_title   # not "Plan vs…"
        reveal(panel.orders_table)   # the orders a tab away, whole
        _settle(qtbot)
        assert panel.orders_table.isVisible() and panel.orders_table.horizontalScrollBar().maximum() == 0
        # at 1280x720 the orders, the capacity chart and P(meet) show at once, as before
        panel.resize(*PLAN_ROOM["1280x720"])
        _settle(qtbot)
        assert panel.orders_table.isVisible() and panel.capacity_chart.isVisible() and panel.prob_chart.isVisible()
    finally:
        panel.shutdown()


def _laptop_window(window_factory, qtbot, screen):
    from gui.app import WINDOW_FRAME_PX

    window = window_factory()
    window.resize(screen[0], screen[1] - WINDOW_FRAME_PX)
    window.show()
    qtbot.waitExposed(window)
    return window


def _show_view(window, qtbot, key: str):
    from gui.app import ANALYSIS_PANELS

    window.tabs.setCurrentIndex(list(ANALYSIS_PANELS).index(key) + 1)
    _settle(qtbot)
    return window.panels[key]


def _whole_rows(table) -> int:
    height = table.viewport().height()
    return sum(1 for r in range(table.rowCount())
               if 0 <= table.rowViewportPosition(r) and table.rowViewportPosition(r) + table.rowHeight(r) <= height)


def test_the_compare_figures_keep_three_rows_at_150_percent(window_factory, qtbot, qsettings_isolated):
    """At 853x480 the charts' minimum took the splitter's height and the key-figures table kept a
    2 px viewport: not one row showed. It now keeps its titles and three rows; the view scrolls."""
    window = _laptop_window(window_factory, qtbot, (853, 480))
    compare = _show_view(window, qtbot, "compare")
    compare.compute_now()
    qtbot.waitUntil(lambda: compare.figures_table.rowCount() >= 3, timeout=20000)
    _settle(qtbot)
    assert _whole_rows(compare.figures_table) >= 3, compare.figures_table.viewport().height()
    for name, chart in compare.charts().items():   # the charts keep a readable plot under it
        assert chart.plot_item.vb.height() >= 60, (name, chart.plot_item.vb.height())


def _area_of(window, key: str):
    from gui.panels.small_screen import AreaScroll

    page = window._area_widget(key)
    return page if isinstance(page, AreaScroll) else page.findChild(AreaScroll)


@pytest.mark.parametrize("screen", [(853, 480), (1280, 720)])
def test_the_forecast_inputs_give_way_to_the_charts_at_150_percent(window_factory, qtbot, qsettings_isolated, screen):
    """At 853x480 the Forecast's inputs kept their fields' 460 px (54 % of the screen) and the
    view scrolled sideways to its charts. They now give way down to FORM_MIN_PX, scrolled sideways
    inside; at 1280x720 they keep their fields whole as before."""
    from gui.panels.forecast_common import FormScrollArea

    window = _laptop_window(window_factory, qtbot, screen)
    forecast = _show_view(window, qtbot, "forecast")
    forecast.compute_now()
    _settle(qtbot)
    form = forecast.findChild(FormScrollArea)
    if screen[0] < 1000:
        assert form.width() <= 0.40 * screen[0], (form.width(), screen)
        assert _area_of(window, "forecast").horizontalScrollBar().maximum() == 0   # the charts in view
        assert form.horizontalScrollBar().maximum() > 0    # the fields a sideways scroll away
    else:
        assert form.width() >= form.fields_px() and form.horizontalScrollBar().maximum() == 0
