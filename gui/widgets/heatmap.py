"""A heatmap over two categorical axes (e.g. TP x PP) with infeasible cells marked by reason.

    heat = HeatmapPanel("Layout search", x_label="Tensor parallel TP", x_unit="ways",
                        y_label="Pipeline parallel PP", y_unit="ways",
                        value_label="Best throughput", value_unit="tokens/s per chip")
    heat.set_grid([1, 2, 4, 8], [1, 2, 4], values, reasons, counts=feasible_counts, highlight=(8, 4))

`values` is shaped (len(y), len(x)) with NaN where no layout is feasible; `reasons[j][i]` names
why (shown in the cell as a short code, spelled out in the legend and the hover readout). The
colour bar gives the value scale; every cell also prints its value, so the chart reads in grey
scale and in exports.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPen

from engine.layout import Infeasible
from gui.widgets.plot_panel import PlotPanel, format_number

INFEASIBLE_RGBA = (222, 222, 222, 255)

# Short cell codes for the training engine's reasons (unknown reasons get their first word).
REASON_CODES = {reason.text: reason.code for reason in Infeasible if reason is not Infeasible.OK}


def reason_code(reason: str) -> str:
    return REASON_CODES.get(reason, (reason.split() or ["?"])[0])


def compact_number(value: float) -> str:
    if not np.isfinite(value):
        return ""
    magnitude = abs(value)
    if magnitude >= 10_000:
        return f"{value / 1000:.0f}k"
    if magnitude >= 1000:
        return f"{value / 1000:.1f}k"
    if magnitude >= 10:
        return f"{value:.0f}"
    return f"{value:.2g}"


class HeatmapPanel(PlotPanel):
    legend_beside_ok = False  # reasons are long; the colour bar sits at the right

    def __init__(self, title: str = "", *, x_label: str = "", x_unit: str = "", y_label: str = "",
                 y_unit: str = "", value_label: str = "Value", value_unit: str = "",
                 colormap: str = "viridis", parent=None):
        super().__init__(title, x_label=x_label, x_unit=x_unit, y_label=y_label, y_unit=y_unit, parent=parent)
        self.value_label, self.value_unit = value_label, value_unit
        self.cmap = pg.colormap.get(colormap)
        self.x_values: list = []
        self.y_values: list = []
        self.values = np.zeros((0, 0))
        self.reasons: list[list[str]] = []
        self.counts = np.zeros((0, 0), dtype=int)
        self.highlight: tuple | None = None
        self._texts: list[pg.TextItem] = []
        self._legend_reasons: list[str] = []
        # Cells are rectangles, not an image: an SVG then holds plain <rect>s that every viewer
        # draws alike (an image relied on CSS pixelated scaling, which rsvg ignores).
        self._cells: list = []
        self.plot_item.showGrid(x=False, y=False)
        self.plot_item.setMouseEnabled(x=False, y=False)
        self.plot_item.hideButtons()
        self.outline = pg.QtWidgets.QGraphicsRectItem()
        # A stroke in cell units, not a cosmetic (non-scaling) pen: SVG viewers without
        # vector-effect support drew the 3-px cosmetic stroke as a blob 3 cells wide.
        outline_pen = pg.mkPen("#D55E00", width=0.08)
        outline_pen.setCosmetic(False)
        self.outline.setPen(outline_pen)
        self.outline.setZValue(20)
        self.outline.hide()
        self.plot_item.addItem(self.outline, ignoreBounds=True)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=self.cmap, interactive=False, width=14)
        # The bar's axis comes at a fixed 45 px, room for its tick labels alone: its title
        # "(tokens/s per chip)" sat on "7000" (1920x1080, QA). Sized by its content, the axis takes
        # the widest tick label plus the title's line.
        self.colorbar.axis.setWidth(None)
        # Beside the plot, as ColorBarItem.setImageItem(insert_in=...) would place it.
        self.plot_item.layout.addItem(self.colorbar, 2, 5)
        self.plot_item.layout.setColumnFixedWidth(4, 5)
        if self.legend is not None:
            # Under the axes: inside the plot it would cover cells.
            self.legend.setParentItem(self.plot_item)
            self.legend.anchor(itemPos=(0.5, 1), parentPos=(0.5, 1), offset=(0, -2))
            self.legend.setBrush(pg.mkBrush(None))
            self.legend.setPen(pg.mkPen(None))

    def _value_header(self) -> str:
        return f"{self.value_label} ({self.value_unit})" if self.value_unit else self.value_label

    # ---- data --------------------------------------------------------------------------------
    def set_grid(self, x_values, y_values, values, reasons=None, *, counts=None, highlight=None,
                 details=None) -> None:
        self.x_values = list(x_values)
        self.y_values = list(y_values)
        nx, ny = len(self.x_values), len(self.y_values)
        values = np.asarray(values, dtype=float).reshape(ny, nx) if nx and ny else np.zeros((0, 0))
        self.values = values
        self.reasons = [list(r) for r in reasons] if reasons is not None else [[""] * nx for _ in range(ny)]
        # words beside an infeasible cell's reason, in the readout and the CSV ("needs at least ... GiB")
        self.details = [list(r) for r in details] if details else [[""] * nx for _ in range(ny)]
        self.counts = (np.asarray(counts, dtype=int).reshape(ny, nx) if counts is not None
                       else np.zeros((ny, nx), dtype=int))
        self.highlight = highlight
        self._redraw()
        self.data_redrawn()

    def clear_grid(self) -> None:
        self.set_grid([], [], np.zeros((0, 0)))
        self._key_at = None

    def _redraw(self) -> None:
        for t in self._texts:
            self.plot_item.removeItem(t)
        self._texts = []
        for name in self._legend_reasons:
            self.legend.removeItem(name)
        self._legend_reasons = []
        for cell in self._cells:
            self.plot_item.removeItem(cell)
        self._cells = []
        nx, ny = len(self.x_values), len(self.y_values)
        if nx == 0 or ny == 0:
            self.outline.hide()
            self.plot_item.getAxis("bottom").setTicks([[]])
            self.plot_item.getAxis("left").setTicks([[]])
            return
        finite = self.values[np.isfinite(self.values)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + max(abs(lo) * 0.01, 1.0)
        norm = np.clip((self.values - lo) / (hi - lo), 0.0, 1.0)
        rgba = self.cmap.map(np.nan_to_num(norm.reshape(-1)), mode="byte").reshape(ny, nx, 4)
        rgba[~np.isfinite(self.values)] = INFEASIBLE_RGBA
        no_pen = QPen(Qt.PenStyle.NoPen)
        for j in range(ny):  # row 0 at the bottom: the view's y axis points up
            for i in range(nx):
                cell = pg.QtWidgets.QGraphicsRectItem(QRectF(i - 0.5, j - 0.5, 1.0, 1.0))
                cell.setPen(no_pen)
                cell.setBrush(QBrush(QColor(*(int(c) for c in rgba[j, i]))))
                cell.setZValue(-10)
                self.plot_item.addItem(cell, ignoreBounds=True)
                self._cells.append(cell)
        self.colorbar.setLevels((lo, hi))
        self.colorbar.setLabel("right", f"({self.value_unit})" if self.value_unit else self.value_label)
        for side in ("bottom", "left"):   # category axes: one cell spans -0.5..0.5, read "TP (ways) (x0.001)"
            self.plot_item.getAxis(side).enableAutoSIPrefix(False)
        self.plot_item.getAxis("bottom").setTicks([[(i, str(v)) for i, v in enumerate(self.x_values)]])
        self.plot_item.getAxis("left").setTicks([[(j, str(v)) for j, v in enumerate(self.y_values)]])
        self.plot_item.setXRange(-0.5, nx - 0.5, padding=0)
        self.plot_item.setYRange(-0.5, ny - 0.5, padding=0)
        font = QFont()
        font.setPointSizeF(8.0 if nx * ny > 48 else 9.0)
        used = []
        for j in range(ny):
            for i in range(nx):
                v = self.values[j, i]
                if np.isfinite(v):
                    text = compact_number(v)
                    light = (v - lo) / (hi - lo) < 0.55  # viridis is dark at the low end
                    color = "#ffffff" if light else "#000000"
                else:
                    reason = self.reasons[j][i] if j < len(self.reasons) and i < len(self.reasons[j]) else ""
                    text = reason_code(reason) if reason else "—"
                    color = "#555555"
                    if reason and reason not in used:
                        used.append(reason)
                item = pg.TextItem(text, color=color, anchor=(0.5, 0.5))
                item.setFont(font)
                item.setPos(i, j)
                self.plot_item.addItem(item, ignoreBounds=True)
                self._texts.append(item)
        if self.legend is not None:
            for reason in used:
                swatch = pg.ScatterPlotItem(symbol="s", size=12, brush=pg.mkBrush(QColor(*INFEASIBLE_RGBA)),
                                            pen=pg.mkPen("#888888"))
                name = f"{reason_code(reason)}: {reason}"
                self.legend.addItem(swatch, name)
                self._legend_reasons.append(name)
        if self.legend is not None:
            self.legend.setVisible(bool(self._legend_reasons))
            self.legend.updateSize()
            height = self.legend.boundingRect().height() if self._legend_reasons else 0.0
            self.plot_item.layout.setContentsMargins(0, 0, 0, height + 2)
            self.plot_item.layout.activate()  # now: an export may follow before any events run
            self.legend.anchor(itemPos=(0.5, 1), parentPos=(0.5, 1), offset=(0, -2))
        if self.highlight is not None and self.highlight[0] in self.x_values and self.highlight[1] in self.y_values:
            i, j = self.x_values.index(self.highlight[0]), self.y_values.index(self.highlight[1])
            self.outline.setRect(QRectF(i - 0.5, j - 0.5, 1.0, 1.0))
            self.outline.show()
        else:
            self.outline.hide()

    # ---- numbers -----------------------------------------------------------------------------
    def _axis_header(self, label: str, unit: str) -> str:
        return f"{label} ({unit})" if unit else label

    def data_table(self) -> tuple[list[str], list[list]]:
        headers = [self._axis_header(self.x_label or "x", self.x_unit),
                   self._axis_header(self.y_label or "y", self.y_unit),
                   self._value_header(), "Feasible layouts (count)", "Infeasible because"]
        rows = []
        for j, yv in enumerate(self.y_values):
            for i, xv in enumerate(self.x_values):
                v = float(self.values[j, i])
                reason = "" if np.isfinite(v) else (self.reasons[j][i] if self.reasons else "")
                if reason and self._detail(i, j):
                    reason = f"{reason} ({self._detail(i, j)})"
                rows.append([xv, yv, v if np.isfinite(v) else None, int(self.counts[j, i]), reason])
        return headers, rows

    # ---- hover -------------------------------------------------------------------------------
    def cell_at(self, x: float, y: float):
        i, j = int(round(x)), int(round(y))
        if 0 <= i < len(self.x_values) and 0 <= j < len(self.y_values):
            return i, j
        return None

    def cell_text(self, i: int, j: int) -> str:
        where = f"{self.x_label} {self.x_values[i]} × {self.y_label} {self.y_values[j]}"
        v = float(self.values[j, i])
        if np.isfinite(v):
            unit = f" {self.value_unit}" if self.value_unit else ""
            n = int(self.counts[j, i])
            extra = f" (best of {n:,} feasible layouts)" if n else ""
            return f"{where}: {format_number(v)}{unit}{extra}"
        reason = self.reasons[j][i] if self.reasons and self.reasons[j][i] else "no layout"
        detail = self._detail(i, j)
        return f"{where}: infeasible — {reason}" + (f" ({detail})" if detail else "")

    def _detail(self, i: int, j: int) -> str:
        rows = getattr(self, "details", [])
        return rows[j][i] if j < len(rows) and i < len(rows[j]) else ""

    def _on_mouse_moved(self, scene_pos) -> None:
        vb = self.plot_item.vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return
        view = vb.mapSceneToView(scene_pos)
        cell = self.cell_at(view.x(), view.y())
        if cell is None:
            self.set_readout(self._idle_readout())
            self._marker.setData([], [])
            return
        self.set_readout(self.cell_text(*cell))
        self._marker.setData([cell[0]], [cell[1]])

    def _idle_readout(self) -> str:
        return "Hover or use arrow keys: a cell's value, or why infeasible."

    # the arrow keys walk the cells: a row of the grid at a time, from the top row down
    def key_rows(self) -> list[list]:
        return [[(i, j) for i in range(len(self.x_values))] for j in reversed(range(len(self.y_values)))
                if len(self.x_values)]

    def key_x(self, point) -> float:
        return float(point[0])

    def key_text(self, point) -> str:
        return self.cell_text(*point)

    def key_marker(self, point) -> tuple[list, list]:
        return [point[0]], [point[1]]
