"""The window at 1280x688 (QA s27): Compare's key figures with seven scenarios, and the Forecast's
form when its divider is dragged or restored fully left."""

import pytest
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QSplitter, QStyle, QWidget

from engine.store import open_store
from gui.panels.compare_text import LABEL_MIN_PX, WHOLE_CHARS, column_widths

LAPTOP = (1280, 688)   # 1280x720 less the window manager's frame


@pytest.fixture
def store(tmp_path):
    """The seeded story's four scenarios and three copies of one (seven compared), on 200 trials."""
    s = open_store(tmp_path / "layout.db")
    names = [row["name"] for row in s.scenarios()]
    for name in ["Story default"] + [n for n in names if n != "Story default"]:
        params = s.scenario(name)["params"]
        params["trials"] = 200
        s.save_scenario(name, params)
    half = s.scenario("Huawei delivers half")["params"]
    for name in ("Half A", "Half B", "Half C"):
        s.save_scenario(name, dict(half))
    yield s
    s.close()


def _shown_at(window, qtbot, size, tab: int):
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(tab)
    QApplication.processEvents()


def _settle():
    for _ in range(3):
        QApplication.processEvents()


def _cut_cells(table) -> list:
    """The short value cells and the column titles' lines wider than their column (a cell's text
    has the style's focus-frame margin and one pixel on each side)."""
    margin_px = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    cells, titles = QFontMetrics(table.font()), QFontMetrics(table.horizontalHeader().font())
    cut = []
    for c in range(1, table.columnCount()):
        width = table.columnWidth(c)
        for line in table.horizontalHeaderItem(c).text().split("\n"):
            if titles.horizontalAdvance(line) + 2 * margin_px > width:
                cut.append(("title", c, line))
        for r in range(table.rowCount()):
            item = table.item(r, c)
            if item is not None and len(item.text()) <= WHOLE_CHARS and cells.horizontalAdvance(item.text()) + 2 * margin_px > width:
                cut.append((table.item(r, 0).text(), c, item.text()))
    return cut


def test_column_widths_give_the_values_room_first():
    # room to spare: the label whole, the rest shared by the values (430 px: 215 each)
    assert column_widths(400, [80, 90], 1000) == [400, 295, 305]
    # 100 px over for six 100-px values: 16 each and the first four one more
    assert column_widths(300, [100] * 6, 1000) == [300, 117, 117, 117, 117, 116, 116]
    # short of room: the label gives way down to its floor, the values stay whole, the table scrolls
    assert column_widths(400, [100] * 7, 1000, 260) == [300] + [100] * 7
    assert column_widths(400, [100] * 8, 1000, 260) == [260] + [100] * 8
    assert column_widths(200, [100] * 8, 1000, 260) == [200] + [100] * 8   # a short label keeps its own width


@pytest.mark.slow
def test_seven_compared_scenarios_keep_their_values_whole_at_1280(window, qtbot):
    """Every column stretched alike: the Figure column kept 421 px and 13 value columns shrank to
    46 px, cutting 121 cells ("61,6…", "202…") and the titles, with no scroll bar."""
    _shown_at(window, qtbot, LAPTOP, 5)
    compare = window.panel("compare")
    assert len(compare.compared_names()) == 7
    compare.compute_now()
    _settle()
    table = compare.figures_table
    assert table.columnCount() == 14
    assert _cut_cells(table) == []
    widths = [table.columnWidth(c) for c in range(table.columnCount())]
    labels = QFontMetrics(table.font())
    label_px = max(labels.horizontalAdvance(table.item(r, 0).text()) for r in range(table.rowCount()))
    # the Figure column gave way (it is elided in its middle; its tooltip has it whole) ...
    assert widths[0] == LABEL_MIN_PX < label_px
    assert "Installed P50 at horizon end" in table.item(3, 0).toolTip()
    # ... and what still does not fit is reached by the horizontal scroll bar
    assert sum(widths) > table.viewport().width()
    assert table.horizontalScrollBar().maximum() == sum(widths) - table.viewport().width()

    # at 1920 the same comparison fits: no scroll bar, every label whole
    window.resize(1920, 1048)
    _settle()
    assert _cut_cells(table) == []
    assert table.horizontalScrollBar().maximum() == 0
    assert table.columnWidth(0) >= label_px
    assert sum(table.columnWidth(c) for c in range(table.columnCount())) == table.viewport().width()


def _form_fits(panel) -> None:
    """The form's scroll area shows the form's whole width: no right edge cut."""
    scroll = panel.splitter.widget(0)
    form = scroll.widget()
    _settle()
    assert scroll.viewport().width() >= form.minimumSizeHint().width(), (scroll.width(), form.minimumSizeHint())
    assert form.width() <= scroll.viewport().width()
    assert scroll.horizontalScrollBar().maximum() == 0


@pytest.mark.slow
def test_the_forecast_divider_stops_at_the_forms_own_width(window, qtbot):
    """Dragged fully left the form's column stopped at 400 px where the form needs ~451: its
    right edge (the assumptions, "Deliveries known to", the progress text) was cut, no scroll bar."""
    _shown_at(window, qtbot, LAPTOP, 3)
    forecast = window.panel("forecast")
    _form_fits(forecast)
    forecast.splitter.setSizes([1, 5000])
    _form_fits(forecast)
    assert forecast.splitter.sizes()[0] == forecast.splitter.widget(0).minimumSizeHint().width()


@pytest.mark.slow
def test_a_restored_forecast_divider_is_clamped_to_the_forms_width(window, qtbot):
    """A divider saved at 300 px (an older version's) came back cutting the form."""
    from gui.app import restore_splitters
    from gui.settings import settings

    _shown_at(window, qtbot, LAPTOP, 3)
    forecast = window.panel("forecast")
    narrow = QSplitter(Qt.Orientation.Horizontal)   # a state saved with the form 300 px wide
    narrow.addWidget(QWidget())
    narrow.addWidget(QWidget())
    narrow.setSizes([300, 960])
    state = narrow.saveState()
    at = forecast.findChildren(QSplitter).index(forecast.splitter)
    settings().setValue(f"forecast/splitter{at}", QByteArray(state))
    try:
        restore_splitters(forecast, "forecast")
        _form_fits(forecast)
        # and a window saving its settings now keeps the clamped divider, not the 300 px
        window.save_settings()
        forecast.splitter.setSizes([800, 460])
        restore_splitters(forecast, "forecast")
        _form_fits(forecast)
        assert forecast.splitter.sizes()[0] < 800   # the saved (clamped) state came back
    finally:
        settings().remove("forecast")
