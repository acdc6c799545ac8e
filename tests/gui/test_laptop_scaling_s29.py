"""The window on a laptop with display scaling or a larger font (QA s29).

At 1280x720 a 125 % display scale leaves 1024x576 logical pixels and 150 % leaves 853x480; a 12 pt
application font needs a third more room for every text. QT_SCALE_FACTOR cannot change inside a
process, so a scale is tested as the logical screen it leaves (less the window manager's frame).
Before: the window's minimum grew to 1,096 px wide on a 1024 px screen (the Plan's fixed form and
results columns) and stayed after leaving the view; the Plan's capacity chart drew a 10 px plot
with no axis title; the Plan's summary was cut after six lines with no scroll bar at 12 pt; the
Inference chip table read "Ascen…" at 1280x720 beside a "p90 under load" column ~100 px wide."""

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QLabel, QTableWidget, QTableWidgetItem, QWidget

from gui.app import ANALYSIS_PANELS, WINDOW_FRAME_PX
from gui.panels.small_screen import MIN_PLOT_AREA_PX, AreaScroll, names_first, overflow_px
from tests.gui.shared_setups import reveal, story_store_on_trials

SCALED = {"125%": (1024, 576), "150%": (853, 480)}   # 1280x720 at each scale, in logical pixels
BIG_FONT_PT = 12
READABLE_PLOT_PX = 60


@pytest.fixture
def store(tmp_path):
    """The seeded story on 200 trials a forecast (the views' layouts, not their figures, are tested)."""
    s = story_store_on_trials(tmp_path / "scaling.db", 200)
    yield s
    s.close()


@pytest.fixture
def app_font():
    """set(pt): the application font at `pt` points, as a desktop's larger text setting does;
    the font before is restored after the test."""
    app = QApplication.instance()
    before = app.font()

    def set_pt(pt: float) -> None:
        font = app.font()
        font.setPointSizeF(pt)
        app.setFont(font)

    yield set_pt
    app.setFont(before)


def _settle(qtbot, area: AreaScroll | None = None) -> None:
    for _ in range(4):
        QApplication.processEvents()
        qtbot.wait(20)
    if area is not None:   # wrapped text laid out, and the area grown to hold it
        qtbot.waitUntil(lambda: overflow_px(area.widget()) == 0, timeout=5000)


def _area(window, key: str) -> AreaScroll:
    page = window._area_widget(key)
    return page if isinstance(page, AreaScroll) else page.findChild(AreaScroll)


def _inside(widget, window) -> bool:
    return window.rect().contains(QRect(widget.mapTo(window, QPoint(0, 0)), widget.size()))


def _laptop_window(window_factory, qtbot, screen):
    """The window as a laptop shows it at first: the screen's free area less the frame."""
    room = (screen[0], screen[1] - WINDOW_FRAME_PX)
    window = window_factory()
    window.resize(*room)
    window.show()
    qtbot.waitExposed(window)
    return window, room


def _plan_with_orders(plan) -> None:
    """The Plan's inputs for a plan it can find (to Dec 2025 at 80 %, the 910B and the H20 uncapped,
    as tests.gui.conftest.plan_panel): its orders table then lists chips."""
    from PySide6.QtCore import QDate, Qt

    plan.auto_until.setChecked(False)
    plan.until_edit.setDate(QDate(2025, 12, 1))
    plan.samples.setValue(100)
    plan.confidence.setValue(80)
    for r in range(plan.cand_table.rowCount()):
        if plan.cand_table.item(r, 1).text().split()[0] not in ("Ascend", "H20"):
            plan.cand_table.item(r, 0).setCheckState(Qt.CheckState.Unchecked)
        plan.cand_table.item(r, 4).setText("1000000")


def _visit_and_compute(window, qtbot):
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        _settle(qtbot)
    _plan_with_orders(window.panels["plan"])
    for key in ("training", "inference", "forecast", "plan", "compare"):
        window.tabs.setCurrentIndex(list(ANALYSIS_PANELS).index(key) + 1)
        window.panels[key].compute_now()
        _settle(qtbot)


def _check_every_view(window, qtbot, room, *, sideways_ok: set) -> None:
    """The window's minimum fits `room` in every area; an area scrolls sideways only where listed;
    every chart has a readable plot area with its value axis titled, inside its area."""
    for index, key in enumerate(("fleet", *ANALYSIS_PANELS)):
        window.tabs.setCurrentIndex(index)
        _settle(qtbot)
        hint = window.minimumSizeHint()
        assert hint.width() <= room[0] and hint.height() <= room[1], (key, hint.toTuple(), room)
        window.resize(*room)
        _settle(qtbot)
        assert window.size().toTuple() == room, (key, window.size().toTuple())
        area = _area(window, key)
        if key not in sideways_ok:
            assert area.horizontalScrollBar().maximum() == 0, (key, area.widget().minimumSizeHint().width(),
                                                               area.viewport().width())
        for name, chart in window.panels[key].charts().items():
            reveal(chart)
            _settle(qtbot, area)
            plot_px = chart.plot_item.vb.height()
            assert plot_px >= READABLE_PLOT_PX, (key, name, plot_px)
            if chart._axis_text(chart.y_label, chart.y_unit):
                axis = chart.plot_item.getAxis("left")
                assert axis.label.isVisible() and axis.labelText.strip(), (key, name)
            # inside its area: the area scrolls to it, nothing lies past its edge
            assert overflow_px(area.widget()) == 0, (key, name)


@pytest.mark.slow
@pytest.mark.parametrize("scale", sorted(SCALED))
def test_a_scaled_laptop_screen_fits_every_view(window_factory, qtbot, qsettings_isolated, scale):
    window, room = _laptop_window(window_factory, qtbot, SCALED[scale])
    try:
        _scaled_screen_checks(window, qtbot, room, scale)
    finally:
        window._shut_down = True   # closed without asking about the Plan inputs the test edited


def _scaled_screen_checks(window, qtbot, room, scale: str) -> None:
    _visit_and_compute(window, qtbot)
    # at 125 % every view fits sideways; at 150 % (853 px) the Forecast's form and 2x2 charts, the
    # Plan's orders beside its charts and Compare's columns are wider than the screen: they scroll
    wide = set() if scale == "125%" else {"forecast", "plan", "compare"}
    _check_every_view(window, qtbot, room, sideways_ok=wide)
    # the Training run bar's Cancel was past the right edge of a 1024 px screen
    training = window.panels["training"]
    window.tabs.setCurrentIndex(1)
    _settle(qtbot)
    assert _inside(training.run_bar.cancel_button, window)
    # leaving the widest view leaves the window's minimum as small as before it was shown
    window.tabs.setCurrentIndex(0)
    _settle(qtbot)
    assert window.minimumSizeHint().width() <= room[0]
    window.resize(*room)
    assert window.size().toTuple() == room


@pytest.mark.slow
def test_a_12pt_font_at_1280x720_fits_every_view(window_factory, qtbot, qsettings_isolated, app_font):
    app_font(BIG_FONT_PT)
    window, room = _laptop_window(window_factory, qtbot, (1280, 720))
    try:
        _big_font_checks(window, qtbot, room)
    finally:
        window._shut_down = True   # closed without asking about the Plan inputs the test edited


def _big_font_checks(window, qtbot, room) -> None:
    _visit_and_compute(window, qtbot)
    _check_every_view(window, qtbot, room, sideways_ok=set())
    training = window.panels["training"]
    window.tabs.setCurrentIndex(1)
    _settle(qtbot)
    assert _inside(training.run_bar.cancel_button, window)   # it sat at x 1275-1355 on 1280 px
    # the memory chart's Export (at x 1280-1351) in the window, once its area scrolls down to it
    export = training.charts()["memory"].export_button
    reveal(export)
    _area(window, "training").ensureWidgetVisible(export, 0, 0)
    _settle(qtbot)
    assert _inside(export, window)
    # the Plan's chips whole in its orders, candidates and cost tables
    plan = window.panels["plan"]
    window.tabs.setCurrentIndex(list(ANALYSIS_PANELS).index("plan") + 1)
    _settle(qtbot)
    _assert_names_whole(plan.cand_table, 1)
    for page, table in enumerate((plan.orders_table, plan.econ_table)):
        plan.tabs.setCurrentIndex(page)
        _settle(qtbot)
        _assert_names_whole(table, 0)
    _assert_titles_whole(plan.econ_table)   # "SD per 1M serve…" in six equal columns
    # the Inference chip table's chips whole ("As…" at 12 pt)
    inference = window.panels["inference"]
    window.tabs.setCurrentIndex(list(ANALYSIS_PANELS).index("inference") + 1)
    reveal(inference.table)
    _settle(qtbot)
    _assert_names_whole(inference.table, 0)


def _assert_names_whole(table, column: int) -> None:
    """Every single-column cell of `column` as wide as its text needs (a table may scroll sideways)."""
    rows = [r for r in range(table.rowCount()) if table.item(r, column) is not None and table.columnSpan(r, column) == 1]
    assert rows, table
    need = table.sizeHintForColumn(column)
    assert table.columnWidth(column) >= need, (table.item(rows[0], column).text(), table.columnWidth(column), need)
    texts = [table.item(r, column).text() for r in rows]
    widest = max(QFontMetrics(table.font()).horizontalAdvance(t) for t in texts)
    assert table.columnWidth(column) > widest, texts


def _assert_titles_whole(table) -> None:
    header = table.horizontalHeader()
    for c in range(table.columnCount()):
        assert header.sectionSize(c) >= header.sectionSizeHint(c), (table.horizontalHeaderItem(c).text(),
                                                                     header.sectionSize(c), header.sectionSizeHint(c))


@pytest.mark.slow
def test_the_plan_summary_scrolls_to_its_end_at_12pt(app_font, qtbot, store):
    """Its text stopped at "...dated from 2024-11 on, taken as" with no scroll bar (QA probe2)."""
    from PySide6.QtGui import QUndoStack

    from gui.panels.plan import PlanPanel

    app_font(BIG_FONT_PT)
    panel = PlanPanel(store, QUndoStack())
    qtbot.addWidget(panel)
    panel.resize(1268, 560)   # the Plan's room in a 1280x720 window
    panel.show()
    qtbot.waitExposed(panel)
    try:
        panel.compute_now()
        _settle(qtbot)
        label, scroll = panel.summary_label, panel.summary_scroll
        whole_px = label.heightForWidth(label.width())
        assert whole_px > scroll.viewport().height()             # longer than its box ...
        bar = scroll.verticalScrollBar()
        assert bar.isVisible() and bar.maximum() > 0              # ... so it scrolls
        assert label.height() >= whole_px                         # every line is in what scrolls
        bar.setValue(bar.maximum())
        assert label.height() - bar.value() <= scroll.viewport().height()   # its last line in view
        # the tabs below keep their room: the summary takes at most its few lines
        assert scroll.height() <= scroll.maximumHeight() < panel.tabs.height()
    finally:
        panel.shutdown()


def test_a_view_with_wrapped_text_scrolls_to_hold_it_all(qtbot):
    """A layout gives wrapped text its whole height whatever minimum it reported: below that height
    the widget under the text lay past the view's edge (the Inference charts at 125 %). The area
    measures what reaches past it and scrolls to it."""
    from PySide6.QtWidgets import QVBoxLayout

    view = QWidget()
    column = QVBoxLayout(view)
    text = QLabel("a long note " * 80)
    text.setWordWrap(True)
    chart = QWidget()
    chart.setMinimumHeight(150)
    column.addWidget(text)
    column.addWidget(chart, 1)
    area = AreaScroll(view)
    qtbot.addWidget(area)
    area.resize(300, 200)
    area.show()
    qtbot.waitExposed(area)
    area.schedule_fit()
    _settle(qtbot, area)
    holder = area.widget()
    assert text.height() >= text.heightForWidth(text.width())      # the text whole ...
    assert chart.y() + chart.height() <= holder.height()           # ... and the widget under it inside
    assert chart.height() >= 150
    assert area.verticalScrollBar().maximum() == holder.height() - area.viewport().height() > 0
    # wider, the text takes fewer lines: the extra height is measured anew
    area.resize(900, 600)
    _settle(qtbot, area)
    assert holder.height() == area.viewport().height()
    assert area.verticalScrollBar().maximum() == 0


def test_overflow_is_what_reaches_past_the_bottom(qtbot):
    from PySide6.QtWidgets import QVBoxLayout

    window = QWidget()   # (a window is never smaller than its minimum: a child placed by hand is)
    qtbot.addWidget(window)
    window.resize(300, 300)
    parent = QWidget(window)
    parent.setGeometry(0, 0, 200, 100)
    layout = QVBoxLayout(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    inner = QWidget()
    inner.setMinimumHeight(130)
    layout.addWidget(inner)
    window.show()
    qtbot.waitExposed(window)
    _settle(qtbot)
    assert overflow_px(parent) == 30       # a 130 px minimum in 100 px
    assert overflow_px(window) == 0        # (inside the window)
    parent.setGeometry(0, 0, 200, 160)
    _settle(qtbot)
    assert overflow_px(parent) == 0


def test_chip_names_stay_whole_and_the_repeated_column_gives_way(qtbot):
    """Stretching the chip column and sizing the others to their text left "Ascen…" beside ~100
    px of "p90 under load" on every row; now that column is elided first."""
    table = QTableWidget(3, 4)
    qtbot.addWidget(table)
    table.setHorizontalHeaderLabels(["Chip", "TTFT ms", "Chips", "Latencies at"])
    for r, (chip, ttft, chips) in enumerate((("Ascend 910B2", "348", "11,856"), ("H100 SXM5 80GB", "257", "2,200"),
                                             ("H20", "812", "13,032"))):
        for c, text in enumerate((chip, ttft, chips, "p90 under load")):
            table.setItem(r, c, QTableWidgetItem(text))
    table.horizontalHeader().setSectionResizeMode(table.horizontalHeader().ResizeMode.ResizeToContents)
    table.show()
    qtbot.waitExposed(table)
    names_px = table.sizeHintForColumn(0)
    natural_px = max(table.sizeHintForColumn(3), table.horizontalHeader().sectionSizeHint(3))
    others_px = table.columnWidth(1) + table.columnWidth(2)
    frame = table.width() - table.viewport().width()
    # room for all: the chips take what the last column leaves
    table.resize(names_px + others_px + natural_px + 60 + frame, 200)
    names_first(table, 0, 3)
    _settle(qtbot)
    assert table.columnWidth(3) == natural_px and table.columnWidth(0) >= names_px + 60
    assert table.horizontalScrollBar().maximum() == 0
    # 40 px short: the repeated column gives them, the chips stay whole, nothing scrolls
    table.resize(names_px + others_px + natural_px - 40 + frame, 200)
    _settle(qtbot)
    assert table.columnWidth(0) == names_px and table.columnWidth(3) == natural_px - 40
    assert table.horizontalScrollBar().maximum() == 0
    # far too narrow: the chips still whole, and the table scrolls sideways to the rest
    table.resize(names_px + 20 + frame, 200)
    _settle(qtbot)
    assert table.columnWidth(0) == names_px
    assert table.horizontalScrollBar().maximum() > 0


def test_a_chart_asks_for_the_height_of_a_readable_plot(qtbot):
    """Title, axes and a legend of eight rows took 200 of a chart's 211 px: its plot was a strip.
    The chart now asks for what they take plus MIN_PLOT_AREA_PX."""
    import numpy as np

    from gui.panels.small_screen import keep_plot_room
    from gui.widgets.plot_panel import PlotPanel

    holder = QWidget()
    from PySide6.QtWidgets import QVBoxLayout

    QVBoxLayout(holder).addWidget(chart := PlotPanel("A chart title", x_label="Layout", y_label="Time", y_unit="s"))
    qtbot.addWidget(holder)
    for k in range(8):
        chart.set_series(f"Series number {k}", np.arange(5.0), np.arange(5.0) * k)
    keep_plot_room(chart)
    holder.resize(260, 130)
    holder.show()
    qtbot.waitExposed(holder)
    qtbot.waitUntil(lambda: chart.plot_widget.minimumHeight() > 130, timeout=3000)
    holder.resize(260, holder.minimumSizeHint().height())
    _settle(qtbot)
    assert chart.plot_item.vb.height() >= MIN_PLOT_AREA_PX - 1
