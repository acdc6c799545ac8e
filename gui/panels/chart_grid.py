"""Rows of charts that stay readable on a short screen.

On a tall results area every row shows at once (a grid, one row per line); when the area is too
short for each row to get `min_row_height` pixels, the rows become tabs, one row per page, so a
chart's legend never squeezes its plot to nothing on a 1280x720 laptop. The widgets move between
the two arrangements; nothing is rebuilt, and the grid's minimum height is one row's, so it never
raises the window's minimum size.

A `side` widget (the Plan's orders table) sits beside the rows on a wide area; where the charts
beside it would be narrower than `min_chart_px`, it becomes the first tab and the charts take the
whole width (at 125 % the Plan's orders left its charts 244 px wide, a 64 px plot under "Plan vs…").
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLayout, QStackedLayout, QTabWidget, QVBoxLayout, QWidget

HYSTERESIS_PX = 40  # back to the grid only with some room to spare: no flicker at the threshold


class ChartGrid(QWidget):
    def __init__(self, rows: list[tuple[str, list[QWidget]]], min_row_height: int = 300, parent=None,
                 side: tuple[str, QWidget] | None = None, min_chart_px: int = 0):
        super().__init__(parent)
        self.rows = rows
        self.side, self.min_chart_px, self.side_tabbed = side, min_chart_px, False
        self.min_row_height = min_row_height
        self.base_row_px = min_row_height   # its own row height, before any chart asked for more
        self._grid_page = QWidget()
        self._grid = QGridLayout(self._grid_page)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(8)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self._row_pages = []
        for title, _ in rows:
            page = QWidget()
            h = QHBoxLayout(page)
            h.setContentsMargins(0, 4, 0, 0)
            h.setSpacing(8)
            self._row_pages.append(page)
            self.tabs.addTab(page, title)
        body = self
        if side is not None:
            body = QWidget()
            self._outer = QHBoxLayout(self)
            self._outer.setContentsMargins(0, 0, 0, 0)
            self._outer.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
            self._outer.addWidget(side[1])
            self._outer.addWidget(body, 1)
            self._side_page = QWidget()
            QVBoxLayout(self._side_page).setContentsMargins(0, 4, 0, 0)
        self._stack = QStackedLayout(body)
        self._stack.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._stack.addWidget(self._grid_page)
        self._stack.addWidget(self.tabs)
        self.mode = ""
        self._arrange("grid")

    def _arrange(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        for r, (_, widgets) in enumerate(self.rows):
            for c, w in enumerate(widgets):
                if mode == "grid":
                    self._grid.addWidget(w, r, c)
                    self._grid.setRowStretch(r, 1)   # rows alike (the Plan's capacity row kept 20 px less)
                else:
                    self._row_pages[r].layout().addWidget(w, 1)
        self._stack.setCurrentWidget(self._grid_page if mode == "grid" else self.tabs)

    def _place_side(self, width: int) -> None:
        """The side widget beside the rows, or the first tab where the charts would be too narrow."""
        if self.side is None or width <= 0:
            return
        title, widget = self.side
        room = width - widget.minimumSizeHint().width() - self._outer.spacing()
        tabbed = room < self.min_chart_px + (HYSTERESIS_PX if self.side_tabbed else 0)
        if tabbed == self.side_tabbed:
            return
        self.side_tabbed = tabbed
        if tabbed:
            self._side_page.layout().addWidget(widget)
            self.tabs.insertTab(0, self._side_page, title)
            self.tabs.setCurrentIndex(0)
        else:
            self.tabs.removeTab(self.tabs.indexOf(self._side_page))
            self._outer.insertWidget(0, widget)
            self.mode = ""   # the rows' arrangement chosen anew (the tabs were the side widget's)
        self.updateGeometry()

    def wanted_mode(self, height: int) -> str:
        if self.side_tabbed:
            return "tabs"   # the side widget is a tab: the rows are tabs beside it
        need = len(self.rows) * self.min_row_height
        if self.mode == "tabs" and height < need + HYSTERESIS_PX:
            return "tabs"
        return "tabs" if height < need else "grid"

    def fit_rows_to_charts(self) -> None:
        """Show the rows together only where each row gets the height its charts need: its own
        `base_row_px`, or more where a chart's minimum asks for more (two rows of 300 px left the
        Step-time breakdown's plot a strip under its legend; see gui.panels.small_screen)."""
        row_px = max([w.minimumSizeHint().height() for _title, widgets in self.rows for w in widgets], default=0)
        self.min_row_height = max(self.base_row_px, row_px + self._grid.spacing())
        self._arrange(self.wanted_mode(self.height()))

    def show_row_of(self, widget: QWidget) -> None:
        """Bring `widget`'s row forward (in tabs mode)."""
        for r, (_, widgets) in enumerate(self.rows):
            if widget in widgets:
                self.tabs.setCurrentWidget(self._row_pages[r])

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._place_side(event.size().width())
        self._arrange(self.wanted_mode(event.size().height()))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        # (the side widget asks for no width here: short of it, it becomes a tab)
        hint = self.tabs.minimumSizeHint()
        return QSize(max(hint.width(), 0), max(hint.height(), 0))
