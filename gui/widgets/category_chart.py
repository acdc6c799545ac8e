"""Bar charts over named categories (layouts, chip types): stacked segments and reference lines.

    chart = CategoryBarPanel("Step time", x_label="Layout", y_label="Time per step", y_unit="s")
    chart.set_categories(["Current", "#1 TP8 PP4"])
    chart.set_stacked({"GEMM": [2.7, 2.5], "Bubble": [0.8, 0.1]})   # stacks in this order
    chart.set_reference_line("HBM capacity", 80.0)                  # dashed, across all bars
    headers, rows = chart.data_table()   # one row per category, one column per segment (with units)

The x axis shows the category names instead of numbers; the hover readout names the category
and the segment under the cursor, with its value and the bar's total.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from gui.widgets.plot_panel import PlotPanel, format_number


TICK_PT = 8.0           # the category names' size
CROWDED_TICK_PT = 7.0   # ... where at 8 pt they would take more lines to fit side by side
TICK_LINE_PX = {TICK_PT: 12, CROWDED_TICK_PT: 11}   # a line of names, in the axis' height
VALUE_TITLE_LINES_PX = 28   # a value-axis title's two further lines at most (gui.panels.forecast_common)


class CategoryBarPanel(PlotPanel):
    # Category names already take the bottom: on a short chart a dozen segments go beside.
    def __init__(self, title: str = "", *, x_label: str = "", y_label: str = "", y_unit: str = "",
                 bar_width: float = 0.6, parent=None):
        super().__init__(title, x_label=x_label, y_label=y_label, y_unit=y_unit, parent=parent)
        self.categories: list[str] = []
        self.bar_width = bar_width
        self._segments: dict[str, np.ndarray] = {}
        self._unknown: dict[str, np.ndarray] = {}
        self._refs: dict[str, tuple[float, pg.InfiniteLine]] = {}
        # With a reference line, bars taller than this many times it are cut at that height and
        # labelled with their total (None: the axis takes every bar whole); `clipped_labels`: the
        # labels on the chart now
        self.clip_above_ref: float | None = None
        self.clipped_labels: list[pg.TextItem] = []
        self.plot_item.setMouseEnabled(x=False, y=False)
        # Axis-aligned bars need no antialiasing, and painting without it is cheaper (each edit
        # redraws two bar charts).
        self.plot_widget.setAntialiasing(False)
        # A grid at the labelled values only, and no vertical lines between categories: the
        # bars are read against the labelled values; finer lines are clutter.
        self.plot_item.showGrid(x=False, y=True, alpha=0.25)
        self.plot_item.getAxis("left").setStyle(maxTickLevel=0)
        from PySide6.QtGui import QFont

        tick_font = QFont()
        tick_font.setPointSizeF(TICK_PT)
        self.plot_item.getAxis("bottom").setStyle(tickFont=tick_font)
        self.plot_item.getAxis("left").setWidth(64)  # room for "100,000" beside the axis label
        self._ticks_shown: list[str] = []

    def min_view_width(self) -> float:
        """Room for every category's label side by side (else they overlap)."""
        from PySide6.QtGui import QFontMetrics

        metrics = QFontMetrics(self.plot_item.getAxis("bottom").style["tickFont"] or self.font())
        widest = max([metrics.horizontalAdvance(line) for name in self.categories for line in name.split("\n")]
                     or [0])
        return max(super().min_view_width(), len(self.categories) * (widest + 12.0))

    _short = False

    def resizeEvent(self, event) -> None:
        short = 0 < self.plot_widget.height() < self.SHORT_CHART_PX
        if short != self._short:
            self._short = short
            self.set_categories(self.categories)
        super().resizeEvent(event)
        self._show_ticks()   # the names rewrapped to the width each category has now
        if self._refs:
            self._autorange_y()  # the reference label's room is in pixels

    # ---- data --------------------------------------------------------------------------------
    def set_categories(self, names) -> None:
        self.categories = [str(n) for n in names]
        self.plot_item.getAxis("bottom").enableAutoSIPrefix(False)   # one bar's -0.6..0.6 range read "Layout (x0.001)"
        self._ticks_shown = []
        self._show_ticks()
        n = max(len(self.categories), 1)
        self.plot_item.setXRange(-0.6, n - 0.4, padding=0)

    def tick_labels(self, point_size: float | None = None) -> list[str]:
        """The category names as drawn: each line wrapped at its spaces to the width one category
        has in the plot area, at `point_size` (the axis' size when None). The tornado's "demand
        (points and growth)" ran into its neighbours' names at 1280x688 ("P10 | P90(points and
        growth)P10 | P90")."""
        from PySide6.QtGui import QFont, QFontMetrics

        width = self.category_area_px()
        if not self.categories or width <= 0:
            return list(self.categories)
        room_px = width / len(self.categories) - 4.0   # a category's share, a gap between neighbours
        font = QFont(self.plot_item.getAxis("bottom").style["tickFont"] or self.font())
        if point_size is not None:
            font.setPointSizeF(point_size)
        metrics = QFontMetrics(font)
        shown = []
        for name in self.categories:
            lines = []
            for line in name.split("\n"):
                words = line.split(" ")
                current = words[0]
                for word in words[1:]:
                    if metrics.horizontalAdvance(f"{current} {word}") <= room_px:
                        current = f"{current} {word}"
                    else:
                        lines.append(current)
                        current = word
                lines.append(current)
            shown.append("\n".join(lines))
        return shown

    def category_area_px(self) -> float:
        """The plot area's width as the names are wrapped for: the widget's, less the value axis at
        its widest (its title may take two more lines: NamedAxisMixin) and the right margin. Not
        the view's own width, which the wrapping moves (more lines of names, a lower plot, a
        shorter value axis, a label on fewer lines, a wider view): the names flipped between two
        wrappings on every layout pass."""
        if self.plot_widget.width() <= 0:
            return 0.0
        axis = self.plot_item.getAxis("left")
        base_px = getattr(axis, "owner_width_px", None) or axis.fixedWidth or axis.width()
        right_px = self.plot_item.layout.getContentsMargins()[2]
        return self.plot_widget.width() - max(axis.width(), base_px + VALUE_TITLE_LINES_PX) - right_px

    def _show_ticks(self) -> None:
        """The axis' ticks as tick_labels wraps them, and its height for their lines: at 8 pt, or
        at 7 pt where that takes fewer lines (each line is height the bars lose)."""
        from PySide6.QtGui import QFont

        count = lambda names: max([name.count("\n") + 1 for name in names] or [1])  # noqa: E731
        point_size, shown = TICK_PT, self.tick_labels(TICK_PT)
        if count(shown) > count(self.categories):
            smaller = self.tick_labels(CROWDED_TICK_PT)
            if count(smaller) < count(shown):
                point_size, shown = CROWDED_TICK_PT, smaller
        axis = self.plot_item.getAxis("bottom")
        font = QFont(axis.style["tickFont"] or self.font())
        if shown == self._ticks_shown and shown and font.pointSizeF() == point_size:
            return
        self._ticks_shown = shown
        if font.pointSizeF() != point_size:
            font.setPointSizeF(point_size)
            axis.setStyle(tickFont=font)
        axis.setTicks([[(i, name) for i, name in enumerate(shown)]])
        # On a short chart the category names say what the axis is: its title gives its height
        # to the bars.
        titled = bool(self.x_label) and not self._short
        axis.showLabel(titled)
        axis.setHeight(10 + TICK_LINE_PX[point_size] * count(shown) + (20 if titled else 0))

    def set_stacked(self, segments: dict, colors: dict | None = None) -> None:
        """Replace the bar segments: name -> one height per category, stacked in order."""
        n = len(self.categories)
        base = np.zeros(n)
        for name in list(self._segments):
            if name not in segments:
                self.remove_series(name)
        self._segments = {}
        self._unknown = {}   # name -> which categories have no value (drawn as no bar, exported blank)
        for name, heights in segments.items():
            raw = np.asarray(heights, dtype=float).reshape(-1)[:n]
            self._unknown[name] = ~np.isfinite(raw)
            h = np.nan_to_num(raw, nan=0.0)
            self.set_bars(name, np.arange(n), h, width=self.bar_width, y0=base.copy(),
                          color=(colors or {}).get(name))
            self._segments[name] = h
            base = base + h
        self._totals = base
        self._relegend()
        self._autorange_y()

    def _relegend(self) -> None:
        """The legend in stack order, without holes: removing and adding entries as the segments
        change left empty cells and a new entry at the end (Training's step breakdown after a
        search then a fixed layout)."""
        if self.legend is None:
            return
        wanted = list(self._segments) + [name for name in self._refs]
        if self.legend_names() == wanted:
            return
        self.legend.clear()
        for name in self._segments:
            self.legend.addItem(self._series[name].item, name)
        for name, (_value, line) in self._refs.items():
            self.legend.addItem(pg.PlotDataItem(pen=line.pen), name)
        self._legend_signature = None
        self.layout_legend()

    def set_reference_line(self, name: str, value: float | None, color: str = "#C00000") -> None:
        """A dashed horizontal line at `value` across all categories (None removes it)."""
        old = self._refs.get(name)
        if value is None or not np.isfinite(value):
            if old is not None:
                self._refs.pop(name)
                self.plot_item.removeItem(old[1])
                if self.legend is not None:
                    self.legend.removeItem(name)
            self._autorange_y()
            return
        text = f"{name} {format_number(value)} {self.y_unit}".strip()
        if old is not None:  # move the existing line (an edit must not rebuild items)
            old[1].setValue(float(value))
            old[1].label.setFormat(text)
            self._refs[name] = (float(value), old[1])
            self._autorange_y()
            return
        line = pg.InfiniteLine(pos=float(value), angle=0,
                               pen=pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine), label=text,
                               labelOpts={"position": 0.92, "color": color, "anchors": [(1, 1), (1, 1)]})
        self.plot_item.addItem(line)
        if self.legend is not None:
            self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine)), name)
        self._refs[name] = (float(value), line)
        self._autorange_y()

    def _autorange_y(self) -> None:
        totals = getattr(self, "_totals", np.zeros(0))
        top = float(np.max(totals)) if totals.size else 0.0
        for label in self.clipped_labels:
            self.plot_item.removeItem(label)
        self.clipped_labels = []
        if self.clip_above_ref and self._refs and totals.size:
            # One infeasible layout's 1,424 GiB put the HBM line and the feasible bars (60-78 GiB)
            # in the bottom 5% of the memory chart (QA s36): the axis stops short of such a bar,
            # which says its total at the top
            ref = max(value for value, _line in self._refs.values())
            limit = self.clip_above_ref * ref
            # only beside a bar that fits: with none, the cut hid all but the first segment of the
            # only bars there are (QA s36: "961 GiB" showing its weights alone on a 16 GiB chip)
            if top > limit and bool((totals <= ref).any()):
                top = max(limit, float(np.max(totals[totals <= limit], initial=0.0)))
                for i in np.nonzero(totals > top)[0]:
                    label = pg.TextItem(f"{format_number(float(totals[i]))} {self.y_unit} \u2191".strip(),
                                        color="#333333", anchor=(0.5, 1.0))
                    label.setPos(float(i), top)
                    self.plot_item.addItem(label)
                    self.clipped_labels.append(label)
        for value, _line in self._refs.values():
            top = max(top, value)
        self.layout_legend()
        upper = top * 1.08
        if self._refs:
            # Room above the highest reference line for its label (about 18 px, whatever the height).
            highest = max(value for value, _line in self._refs.values())
            free = 18.0 / max(self.plot_item.vb.height(), 60.0)
            upper = max(upper, top * 1.15, highest / max(1.0 - free, 0.5))
        self.plot_item.setYRange(0, upper if top > 0 else 1.0, padding=0)
        # Apply the new range to the view's transform now: left to the paint, it moves every
        # item during that paint and Qt paints the chart a second time (measured: two paints
        # per edit of the step-time chart, one with this).
        self.plot_item.vb.prepareForPaint()

    def clear_bars(self) -> None:
        for name in list(self._segments):
            self.remove_series(name)
        self._segments = {}
        self._unknown = {}
        self._totals = np.zeros(0)
        for name in list(self._refs):
            self.set_reference_line(name, None)
        self.set_categories([])

    # ---- numbers -----------------------------------------------------------------------------
    def data_table(self) -> tuple[list[str], list[list]]:
        unit = f" ({self.y_unit})" if self.y_unit else ""
        headers = [self.x_label or "Category"] + [f"{name}{unit}" for name in self._segments]
        if len(self._segments) > 1:
            headers.append(f"Total{unit}")
        headers += [f"{name}{unit}" for name in self._refs]
        rows = []
        for i, cat in enumerate(self.categories):
            # a category without a value (no answer) is a blank cell, not a 0 the reader takes as one
            # one line per cell: a bar label wraps on the chart ("Best #1\nTP8 PP2\nVPP8"), a table's does not
            row = [" ".join(str(cat).split())] + [None if self._unknown.get(name, np.zeros(0, bool))[i:i + 1].any() else float(h[i])
                           for name, h in self._segments.items()]
            if len(self._segments) > 1:
                row.append(float(self._totals[i]))
            row += [value for value, _ in self._refs.values()]
            rows.append(row)
        return headers, rows

    # ---- hover -------------------------------------------------------------------------------
    def nearest_point(self, x: float, y: float, radius_px: float = 0.0):
        i = int(round(x))
        if not self.categories or not (0 <= i < len(self.categories)) or abs(x - i) > self.bar_width / 2:
            return None
        base = 0.0
        for name, heights in self._segments.items():
            if base <= y <= base + heights[i] and heights[i] > 0:
                return (name, float(i), float(heights[i]))
            base += heights[i]
        return None

    def readout_text(self, point) -> str:
        if point is None:
            return self._idle_readout()
        name, x, y = point
        i = int(x)
        total = float(self._totals[i]) if i < len(self._totals) else y
        unit = f" {self.y_unit}" if self.y_unit else ""
        share = f" ({y / total:.0%} of {format_number(total)}{unit})" if total > 0 and len(self._segments) > 1 else ""
        return f"{self.categories[i]} · {name}: {format_number(y)}{unit}{share}"

    def key_rows(self) -> list[list]:
        """One row per stacked segment (or the bars), its categories left to right; a category with
        no value is skipped (no bar drawn, blank in the CSV)."""
        rows = []
        for name, heights in self._segments.items():
            unknown = self._unknown.get(name, np.zeros(len(heights), bool))
            row = [(name, float(i), float(h)) for i, h in enumerate(heights)
                   if i < len(self.categories) and not unknown[i:i + 1].any() and np.isfinite(h)]
            if row:
                rows.append(row)
        return rows

    def _marker_position(self, point) -> tuple[list, list]:
        # the middle of the hovered segment: its base is the sum of the segments stacked below it
        order = list(self._segments)
        below = order[:order.index(point[0])]
        base = sum(self._segments[n][int(point[1])] for n in below)
        return [point[1]], [base + point[2] / 2]
