"""The window fits 1280x720 and 1366x768 laptops after every area has been visited: no minimum
size larger than the screen, key controls inside the window, no sideways scrolling in the
Inference chip table, and a first window no larger than the screen."""

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QApplication

from engine.store import open_store
from gui.app import ANALYSIS_PANELS, WINDOW_FRAME_PX, MainWindow, first_window_size
from tests.gui.shared_setups import reveal


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "laptop.db")
    yield s
    s.close()


def _inside(widget, window) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    rect = QRect(top_left, widget.size())
    return window.rect().contains(rect)


_reveal = reveal


def test_first_window_size_follows_the_screen():
    assert first_window_size((1920, 1080)).toTuple() == (1360, 880)
    assert first_window_size((1280, 720)).toTuple() == (1280, 720 - WINDOW_FRAME_PX)
    assert first_window_size((1366, 768)).toTuple() == (1360, 768 - WINDOW_FRAME_PX)


def _shown_window(store, qtbot, room):
    """The main window shown at `room` (logical pixels, the frame taken off)."""
    window = MainWindow(store)
    qtbot.addWidget(window)
    window.resize(*room)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.mark.slow
@pytest.mark.parametrize("screen", [(1280, 720), (1366, 768)])
def test_every_area_fits_a_laptop_screen(store, qtbot, qsettings_isolated, screen):
    width, height = screen
    room = (width, height - WINDOW_FRAME_PX)
    window = _shown_window(store, qtbot, room)
    try:
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            QApplication.processEvents()
        for key in ("training", "inference", "forecast", "compare"):
            window.panels[key].compute_now()
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            QApplication.processEvents()
            hint = window.minimumSizeHint()
            area = window.tabs.tabText(index)
            assert hint.width() <= room[0] and hint.height() <= room[1], (area, hint.toTuple(), room)
            window.resize(*room)
            QApplication.processEvents()
            assert window.size().toTuple() == room, (area, window.size().toTuple())
            assert _inside(window.statusBar(), window), area
        for key in ANALYSIS_PANELS:
            panel = window.panels[key]
            window.tabs.setCurrentIndex(list(ANALYSIS_PANELS).index(key) + 1)
            QApplication.processEvents()
            for name, chart in panel.charts().items():
                _reveal(chart)
                assert _inside(chart.export_button, window), (key, name)
                assert chart.plot_widget.height() >= 120, (key, name, chart.plot_widget.height())
                _assert_chart_not_clipped(chart, (key, name))
        inference = window.panels["inference"]
        window.tabs.setCurrentIndex(list(ANALYSIS_PANELS).index("inference") + 1)
        QApplication.processEvents()
        assert inference.table.rowCount() >= 2
        assert inference.table.horizontalScrollBar().maximum() == 0
        plan = window.panels["plan"]
        window.tabs.setCurrentIndex(list(ANALYSIS_PANELS).index("plan") + 1)
        QApplication.processEvents()
        assert plan.cand_table.rowCount() >= 2
        assert plan.cand_table.horizontalScrollBar().maximum() == 0, "Plan candidates scroll sideways"
        plan.compute_now()
        for page in range(plan.tabs.count()):  # the orders table, then the cost-per-token table
            plan.tabs.setCurrentIndex(page)
            QApplication.processEvents()
        assert plan.econ_table.rowCount() >= 2
        for table in (plan.orders_table, plan.econ_table):
            assert table.horizontalScrollBar().maximum() == 0, "a Plan result table scrolls sideways"
        for run_bar in (window.panels["training"].run_bar, inference.run_bar):
            assert _inside(run_bar.run_button, window.panels["training"].window())
    finally:
        for panel in window.panels.values():
            panel.shutdown()
        window.fleet_panel.detach()
        _forget_window_settings()


def _assert_chart_not_clipped(chart, where) -> None:
    """The whole chart is inside its view (a title or axis that needs more width than the view
    holds the plot wider, and its right edge is cut off), and the curves keep a real area beside
    or above the legend."""
    QApplication.processEvents()
    item, view = chart.plot_item, chart.plot_widget
    assert item.width() <= view.width() + 1, (where, item.width(), view.width())
    assert item.height() <= view.height() + 1, (where, item.height(), view.height())
    title = item.titleLabel
    if title.isVisible() and chart.title:
        left = item.getAxis("left").width() if item.getAxis("left").isVisible() else 0
        right_margin = item.layout.getContentsMargins()[2]
        assert left + title.item.boundingRect().width() <= view.width() - right_margin + 1, \
            (where, "title", title.item.boundingRect().width())
    assert item.vb.height() >= 40 and item.vb.width() >= 100, (where, item.vb.width(), item.vb.height())


def _forget_window_settings():
    """The window saves its tab and scenario on close; the next test must not inherit them."""
    from gui.settings import settings

    for group in ("window", "scenarios", "fleet"):
        settings().remove(group)


def test_a_tile_value_wider_than_its_tile_is_set_smaller_not_cut(qtbot):
    """QA: at 1280x720 the Training layout tile read "TP4 PP32 VPP4 (" and hid the CP8."""
    from PySide6.QtGui import QFont, QFontMetrics

    from gui.panels.base import FigureTiles

    tiles = FigureTiles([("layout", "Layout", "the layout"), ("mfu", "MFU (%)", "")], columns=2)
    qtbot.addWidget(tiles)
    tiles.resize(330, 80)
    tiles.show()
    tiles.set("layout", "TP4 PP32 VPP4 CP8", "DP16")
    tiles.set("mfu", "42.8")
    qtbot.wait(10)
    label = tiles._values["layout"]
    font = QFont(label.font())
    font.setPointSizeF(label.shown_pt())
    font.setWeight(QFont.Weight.DemiBold)
    assert label.shown_pt() < 13
    assert QFontMetrics(font).horizontalAdvance("TP4 PP32 VPP4 CP8") <= label.contentsRect().width()
    assert tiles._values["mfu"].shown_pt() == 13          # a short value keeps the large size
    assert label.toolTip() == "TP4 PP32 VPP4 CP8"


def test_a_wide_view_never_holds_the_window_past_a_scaled_screen(store, qtbot, qsettings_isolated):
    """QA s29: at 1280x720 with a 125 % display scale (1024x576 logical) showing the Plan grew the
    window to 1140 px and its minimum to 1,096; back on the Fleet it stayed there. Every area now
    scrolls where it is short of room, so the window's minimum stays inside the screen."""
    room = (1024, 576 - WINDOW_FRAME_PX)
    window = _shown_window(store, qtbot, room)
    try:
        for index in (*range(window.tabs.count()), 0):   # every view built, then back to the Fleet
            window.tabs.setCurrentIndex(index)
            QApplication.processEvents()
            hint = window.minimumSizeHint()
            assert hint.width() <= room[0] and hint.height() <= room[1], (window.tabs.tabText(index), hint.toTuple())
            assert window.size().toTuple() == room, (window.tabs.tabText(index), window.size().toTuple())
    finally:
        for panel in window.panels.values():
            panel.shutdown()
        window.fleet_panel.detach()
        _forget_window_settings()
