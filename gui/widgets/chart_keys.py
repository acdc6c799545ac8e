"""Reading a chart's values from the keyboard.

A chart's readout followed the mouse only: a keyboard or screen-reader user could reach a chart but
read nothing from it, so charts were taken out of the Tab order (s38). `ChartView` is the plot widget
of every PlotPanel: a Tab stop again, whose arrow keys step a marker through the drawn points and
put each one's value in the readout (and in the chart's accessible name, which a screen reader
announces as it changes). The focus frame is painted on the widget, not in the scene, so it is never
in an exported picture.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPen

KEY_HELP = ("Arrow keys read the values: Left and Right step along a series, Up and Down change series, "
            "Home and End go to its first and last points.")
READ_KEYS = {Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Home, Qt.Key.Key_End}


def step(rows_x: list[list[float]], at: tuple[int, int] | None, key) -> tuple[int, int]:
    """The (row, point) the arrow `key` moves to from `at` over rows of points given by their x:
    Left/Right/Home/End along the row, Up/Down to the row before/after (wrapping) at the point
    nearest the same x; None stays (within rows that may have changed since). From nowhere, any key
    starts at the first point of the first row (End: its last)."""
    if at is None:
        return (0, len(rows_x[0]) - 1 if key == Qt.Key.Key_End else 0)
    r = min(at[0], len(rows_x) - 1)
    i = min(max(at[1], 0), len(rows_x[r]) - 1)
    if key is None:
        return r, i
    if key == Qt.Key.Key_Left:
        return r, max(i - 1, 0)
    if key == Qt.Key.Key_Right:
        return r, min(i + 1, len(rows_x[r]) - 1)
    if key == Qt.Key.Key_Home:
        return r, 0
    if key == Qt.Key.Key_End:
        return r, len(rows_x[r]) - 1
    x = rows_x[r][i]
    r = (r + (1 if key == Qt.Key.Key_Down else -1)) % len(rows_x)
    xs = rows_x[r]
    return r, min(range(len(xs)), key=lambda k: (abs(xs[k] - x), k))


class ChartView(pg.PlotWidget):
    """The plot widget of a PlotPanel: `on_key(key) -> bool` reads the arrow keys (False: not
    handled, pyqtgraph's own keys go on to the scene); `on_tab_in()` when reached by Tab."""

    def __init__(self, on_key, on_tab_in, on_focus_out, **kwargs):
        super().__init__(**kwargs)
        self._on_key, self._on_tab_in, self._on_focus_out = on_key, on_tab_in, on_focus_out
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleDescription(KEY_HELP)

    def keyPressEvent(self, event) -> None:
        held = event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                    | Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.MetaModifier)
        if not held and event.key() in READ_KEYS and self._on_key(event.key()):
            event.accept()
            return
        super().keyPressEvent(event)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.viewport().update()
        if event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason):
            self._on_tab_in()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.viewport().update()
        self._on_focus_out()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.hasFocus():   # where the keys go; on the widget, never in the scene an export renders
            painter = QPainter(self.viewport())
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.drawRect(self.viewport().rect().adjusted(1, 1, -1, -1))
            painter.end()
