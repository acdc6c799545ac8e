"""Views that stay usable on a laptop with display scaling or a larger font.

At 1280x720 a 125 % scale leaves 1024x576 logical pixels, 150 % 853x480, and a 12 pt application
font asks about a third more room of every text. A view's minimum size used to hold the window past
such a screen (1140 px on a 1024 px screen, kept after leaving the view) and squeezed its charts to
strips (a plot area 10 px tall under its title and legend). Three pieces keep each view readable:

- `AreaScroll`: every area of the window scrolls where the window is smaller than its view's
  minimum, so no view raises the window's minimum, and leaving a view leaves nothing behind.
- `keep_plot_room(chart)`: a chart asks for the height its title, axes and legend take plus a
  readable plot area (MIN_PLOT_AREA_PX), so its area scrolls rather than drawing a strip.
- `let_readout_shrink(chart)`: the hover readout under a chart no longer sets the chart's minimum
  width (the Layout search heatmap's idle text held the Training results 700 px wide).

`fit_view(panel)` applies the chart pieces to every chart a view lists in its `charts()`.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractScrollArea, QFrame, QHBoxLayout, QHeaderView, QLayout, QScrollArea, QVBoxLayout, QWidget,
)

from gui.panels.base import form_scroll_area
from gui.panels.chart_grid import ChartGrid
from gui.widgets.plot_panel import MIN_PLOT_HEIGHT_PX

MIN_PLOT_AREA_PX = 64   # a plot area this tall shows its y-axis title (unit at least) and a few ticks
SHRINK_SLACK_PX = 8     # a chart's minimum drops again only by more than this (no back-and-forth)
READOUT_MIN_PX = 40     # the readout may be cut to this on a narrow chart (its text is a hover aid)
FORM_MIN_PX = 300       # an inputs column narrower than its fields scrolls sideways, down to this


class _MinimumOnlyLayout(QVBoxLayout):
    """A layout of one widget that reports no height-for-width and gives its widget its whole
    rectangle. Qt asks a tab widget with wrapped text on a page for its *preferred* height at a
    width as the least it needs: a scroll area sized by it made the Training view 1,137 px tall at
    any screen size, and a column holding the Inference chart tabs took it for their minimum."""

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt's name)
        return False

    def setGeometry(self, rect) -> None:  # noqa: N802 (Qt's name)
        QLayout.setGeometry(self, rect)
        item = self.itemAt(0) if self.count() else None
        if item is not None:
            m = self.contentsMargins()
            item.setGeometry(rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom()))


def _fenced(widget: QWidget) -> QWidget:
    """`widget` in a holder that stops height-for-width there (see _MinimumOnlyLayout): the column
    around it counts its minimum, and the AreaScroll what reaches past (`overflow_px`)."""
    holder = QWidget()
    layout = _MinimumOnlyLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget)
    return holder


class _AreaView(QWidget):
    """The widget an AreaScroll scrolls: as tall as its view needs at its width (a box layout's
    minimum with its wrapped text at full height: Qt's minimum sizes leave height-for-width out),
    plus `extra_px` that AreaScroll measured reaching past it."""

    extra_px = 0

    def needed_px(self) -> int:
        height = super().minimumSizeHint().height()
        layout = self.layout()
        item = layout.itemAt(0) if layout is not None and layout.count() else None
        view = item.widget() if item is not None else None
        view_layout = view.layout() if view is not None else None
        if view_layout is not None and view_layout.hasHeightForWidth() and self.width() > 0:
            height = max(height, view_layout.totalMinimumHeightForWidth(self.width()))
        return height

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(super().minimumSizeHint().width(), self.needed_px() + self.extra_px)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():   # text wraps anew: asked again at this width
            QTimer.singleShot(0, self, self.updateGeometry)


def _laid_out(widget: QWidget) -> list[QWidget]:
    """The visible widgets `widget`'s layout places (through its nested layouts); for a widget that
    places its children itself (a tab widget, a splitter), its visible child widgets."""
    layout = widget.layout()
    if layout is None:
        return [c for c in widget.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
                if c.isVisible() and not c.isWindow()]
    found: list[QWidget] = []
    todo = [layout]
    while todo:
        current = todo.pop()
        for i in range(current.count()):
            item = current.itemAt(i)
            child = item.widget() if item is not None else None
            nested = item.layout() if item is not None else None
            if child is not None:
                if child.isVisible():
                    found.append(child)
            elif nested is not None:
                todo.append(nested)
    return found


def overflow_px(widget: QWidget) -> int:
    """How far the laid-out contents of `widget` reach below its bottom edge (0 when they fit). A
    layout gives wrapped text its whole height at the width it has, whatever the minimum it
    reported (Qt's minimum sizes leave height-for-width out): below that the widgets under the
    text were pushed past the view's edge (the Inference view's charts at 125 %)."""
    worst = 0
    for child in _laid_out(widget):
        inner = 0 if isinstance(child, QAbstractScrollArea) else overflow_px(child)
        worst = max(worst, child.y() + child.height() + inner - widget.height())
    return worst


class AreaScroll(QScrollArea):
    """One area of the window (a tab page): its view at the area's size, scrolled where the area is
    smaller than the view needs. It takes no focus (Tab goes from the scenario bar straight to the
    view's first field) and draws no frame of its own.

    What the view needs is its minimum size, and where wrapped text takes more height than that
    minimum says (`overflow_px`), that much more: measured after the view is laid out (charts
    moved or resized, the area resized or shown) and forgotten when the area's width changes by
    more than a scroll bar (the text wraps anew), so the view is measured again."""

    RESET_WIDTH_PX = 40   # (a scroll bar appearing changes the width by less: no back-and-forth)
    MOST_FITS = 12        # growths in a row for one change (a layout that never settles stops there)

    def __init__(self, view: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("areaScroll")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view = view
        holder = _AreaView()
        holder.setObjectName("areaView")
        layout = _MinimumOnlyLayout(holder)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(view)
        self.setWidget(holder)
        self._measured_width = -1   # the viewport width the extra height was measured at
        self._fits_left = self.MOST_FITS
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)   # once the view has been laid out
        self._timer.timeout.connect(self.fit_contents)

    def fit_contents(self) -> None:
        """Grow the scrolled height by what the view's contents reach past it."""
        holder = self.widget()
        if not isinstance(holder, _AreaView) or not self.isVisible():
            return
        # every layout still to be done, first: a widget not placed yet reads as overflowing
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        over = overflow_px(holder)
        if over > 0 and self._fits_left > 0:   # the view needs its height now and `over` more
            self._fits_left -= 1
            holder.extra_px = holder.height() + over - holder.needed_px()
            holder.updateGeometry()
            self.schedule_fit(again=True)   # measured again once laid out at the new height
        elif over <= 0:
            self._fits_left = self.MOST_FITS

    def schedule_fit(self, again: bool = False) -> None:
        if not again:
            self._fits_left = self.MOST_FITS
        self._timer.start()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        holder = self.widget()
        width = self.viewport().width()
        if isinstance(holder, _AreaView) and abs(width - self._measured_width) > self.RESET_WIDTH_PX:
            self._measured_width = width
            if holder.extra_px:
                holder.extra_px = 0
                holder.updateGeometry()
        super().resizeEvent(event)
        self.schedule_fit()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.schedule_fit()


def _area_of(widget: QWidget) -> AreaScroll | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, AreaScroll):
        parent = parent.parentWidget()
    return parent


class _PlotRoom(QObject):
    """Keeps one chart's plot widget tall enough for MIN_PLOT_AREA_PX of plot area: what its title,
    axes and legend take is measured after each layout (it changes with the legend's rows, a title
    on two lines, the font), not guessed."""

    def __init__(self, chart):
        super().__init__(chart)
        self.chart = chart
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)   # after the chart has laid its legend and titles out
        self._timer.timeout.connect(self.check)
        chart.plot_item.vb.sigResized.connect(lambda *_: self._timer.start())
        # a legend grown by new data can push the plot item past its widget while the plot area
        # stays at 0 px: the item's own size changes then, the plot area's does not
        chart.plot_item.geometryChanged.connect(self._timer.start)
        chart.plot_widget.installEventFilter(self)   # drawn while hidden (another tab): checked when shown

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Show:
            self._timer.start()
        if event.type() in (QEvent.Type.Show, QEvent.Type.Move, QEvent.Type.Resize):
            # text above a chart that wrapped onto more lines moves the chart down, or past the view's
            # edge: its area measures the view again
            area = _area_of(self.chart)
            if area is not None:
                area.schedule_fit()
        return False

    def needed_px(self) -> int | None:
        """The plot widget's height for MIN_PLOT_AREA_PX of plot area, or None before it is shown
        (or while a file is drawn from it: its plot then has the file's geometry)."""
        widget = self.chart.plot_widget
        if not widget.isVisible() or widget.height() <= 0 or getattr(self.chart, "_frozen_for_file", False):
            return None
        item = self.chart.plot_item   # (taller than its widget when title, axes and legend overfill it)
        overhead_px = max(item.height(), widget.height()) - item.vb.height()
        return max(MIN_PLOT_HEIGHT_PX, math.ceil(overhead_px + MIN_PLOT_AREA_PX))

    def check(self) -> None:
        need = self.needed_px()
        if need is None:
            return
        widget = self.chart.plot_widget
        now = widget.minimumHeight()
        if need > now or need < now - SHRINK_SLACK_PX:
            widget.setMinimumHeight(need)
            _minimum_changed(self.chart)


def _minimum_changed(chart) -> None:
    """Tell every widget between `chart` and its area that its minimum changed: a tab widget does
    not pass a page's new minimum on, and the chart grid kept a row too short for its charts."""
    parent = chart.parentWidget()
    while parent is not None and not isinstance(parent, AreaScroll):
        if isinstance(parent, ChartGrid):
            parent.fit_rows_to_charts()
        parent.updateGeometry()
        parent = parent.parentWidget()


def keep_plot_room(chart) -> None:
    """Give `chart` (a PlotPanel) a plot area at least MIN_PLOT_AREA_PX tall (idempotent)."""
    if getattr(chart, "_plot_room", None) is None:
        chart._plot_room = _PlotRoom(chart)


def let_readout_shrink(chart) -> None:
    """The hover readout under `chart` gives way to a narrow chart instead of widening it."""
    chart.readout.setMinimumWidth(READOUT_MIN_PX)
    # a view not shown yet keeps its layouts' cached minimum through that change: drop them
    top = chart.layout()
    for layout in (top, *top.findChildren(QLayout)) if top is not None else ():
        layout.invalidate()


class _ResultsColumn(QWidget):
    """A view's results column that asks for no more width than its minimum: a row short of width
    then takes it from the inputs column first (a layout takes a shortfall equally from every item
    that can shrink, and the results' wide preferred size left the form squeezed on a large screen
    while the results' own minimum held the window past a small one)."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return self.minimumSizeHint()


class FormColumn(QWidget):
    """An inputs column (a scroll area): it asks for its fields' whole width with the scroll bar
    (or `widest_px`, if more), which a scroll area alone does not (its hint leaves the scroll bar
    out: the column scrolled sideways at 1280x720), and gives way to the results below that, down
    to the scroll area's own minimum, where the screen is narrow."""

    def __init__(self, scroll: QScrollArea, widest_px: int | None = None):
        super().__init__()
        self.form_scroll = scroll   # (not `scroll`: QWidget.scroll moves a widget's contents)
        self.widest_px = widest_px or 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        if widest_px:
            self.setMaximumWidth(widest_px)

    def fields_px(self) -> int:
        """The width that shows the form's fields whole, beside its vertical scroll bar."""
        scroll = self.form_scroll
        bar = scroll.style().pixelMetric(scroll.style().PixelMetric.PM_ScrollBarExtent)
        form = scroll.widget()
        return (form.minimumSizeHint().width() if form is not None else 0) + bar + 2 * scroll.frameWidth()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(max(self.widest_px, self.fields_px()), super().sizeHint().height())


def layout_form_and_results(panel, form: QWidget, above_charts: list, charts) -> QScrollArea:
    """Lay `panel` out as the inputs column (`form`, scrolled) beside the results column (its banner,
    `above_charts`, then `charts`, a widget or a layout, taking the spare height). The inputs column
    gives way on a narrow screen: at its fields' width (at least form_scroll_area's 350 px) while
    there is room, narrower where the results need it, down to FORM_MIN_PX, then scrolled sideways.
    At 150 % the Training run bar's Cancel sat past the screen's edge. Returns the form's scroll area."""
    results = _ResultsColumn()
    right = QVBoxLayout(results)
    right.setContentsMargins(0, 0, 0, 0)
    right.setSpacing(6)
    right.addWidget(panel.banner)
    for widget in above_charts:
        right.addWidget(widget)
    if isinstance(charts, QWidget):
        right.addWidget(_fenced(charts), 1)
    else:
        right.addLayout(charts, 1)
    scroll = form_scroll_area(form)
    widest_px = scroll.maximumWidth()   # form_scroll_area fixed its width: the fields' and scroll bar's, or more
    bar_px = scroll.style().pixelMetric(scroll.style().PixelMetric.PM_ScrollBarExtent)
    fields_px = form.minimumSizeHint().width() + bar_px + 2 * scroll.frameWidth()
    scroll.setMinimumWidth(min(widest_px, fields_px, FORM_MIN_PX))   # (its maximum stays widest_px)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    root = QHBoxLayout(panel)
    root.setContentsMargins(6, 6, 6, 6)
    root.addWidget(FormColumn(scroll, max(widest_px, fields_px)))
    root.addWidget(results, 1)
    return scroll


def fit_view(panel) -> None:
    """Every chart of `panel` (its `charts()`) keeps a readable plot area and a readout that does
    not widen it."""
    charts = panel.charts() if hasattr(panel, "charts") else {}
    for chart in charts.values():
        keep_plot_room(chart)
        let_readout_shrink(chart)


class _NamesFirst(QObject):
    """Fits a table's columns to its viewport with its names (`name_column`) whole: a column of
    repetitive text (`give_way_column`) is elided first, and only where even that leaves the names
    too little the table scrolls sideways. The Inference chip table stretched its chip column and
    sized the others to their contents, so "Latencies at" ("p90 under load" on every row) kept ~100
    px while the chips read "Ascen…" at 1280x720 and "As…" at 12 pt."""

    NAME_PADDING_PX = 16

    def __init__(self, table, name_column: int, give_way_column: int):
        super().__init__(table)
        self.table, self.name_column, self.give_way_column = table, name_column, give_way_column
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        table.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)   # "Latenc…", not "tencies"
        table.viewport().installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False

    def fit(self) -> None:
        table, header = self.table, self.table.horizontalHeader()
        name, give = self.name_column, self.give_way_column
        if table.columnCount() <= max(name, give):
            return
        fm = table.fontMetrics()
        for column in (name, give):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        widest = max([fm.horizontalAdvance(item.text()) for r in range(table.rowCount())
                      if (item := table.item(r, name)) is not None], default=0)
        names_px = max(table.sizeHintForColumn(name), header.sectionSizeHint(name))
        padding_px = max(names_px - widest, 0) if widest else self.NAME_PADDING_PX   # a cell's margins
        others_px = sum(header.sectionSize(c) for c in range(table.columnCount())
                        if c not in (name, give) and not table.isColumnHidden(c))
        room = table.viewport().width() - others_px
        give_px = 0
        if not table.isColumnHidden(give):
            natural = max(table.sizeHintForColumn(give), header.sectionSizeHint(give))
            least = min(natural, fm.horizontalAdvance("p…") + padding_px)   # (the whole text in the CSV)
            give_px = max(least, min(natural, room - names_px))
            header.resizeSection(give, give_px)
        header.resizeSection(name, max(names_px, room - give_px))


def names_first(table, name_column: int, give_way_column: int) -> None:
    """Keep `table`'s names whole (see _NamesFirst); call again after refilling it (idempotent)."""
    keeper = getattr(table, "_names_first", None)
    if keeper is None:
        keeper = table._names_first = _NamesFirst(table, name_column, give_way_column)
    keeper.fit()
