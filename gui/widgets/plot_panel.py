"""One chart widget for every panel: units on the axes, a legend, a hover readout, exports.

    panel = PlotPanel("Installed chips", y_label="Installed", y_unit="chips", time_axis=True)
    panel.set_series("H100", to_timestamps(months), counts)   # again later: updates in place
    panel.set_bars("Compute", x=[0, 1, 2], heights=[4.1, 2.0, 0.7])
    panel.set_band("P10–P90", x, low, high)
    headers, rows = panel.data_table()                         # what "Export data CSV…" writes

Series are kept by name; calling a setter again calls setData/setOpts on the existing item (no
clear-and-replot, so zoom and legend stay). The legend exists before any item is added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QPainter, QPicture
from PySide6.QtWidgets import (
    QFileDialog, QHBoxLayout, QLabel, QMenu, QSizePolicy, QToolButton, QVBoxLayout, QWidget,
)

from gui import export as export_mod
from gui import style
from gui.widgets.chart_keys import ChartView, step
from gui.widgets.plot_axes import (  # noqa: F401  (re-exported: panels and tests import them here)
    DateAxisItem, GroupedAxisItem, PlainAxisItem, format_number, from_timestamp, to_timestamps,
)

# Colour-blind-friendly qualitative palette; per-series colours come from gui.style.
PALETTE = style.EXTENDED

HOVER_RADIUS_PX = 40.0
# Small enough that two rows of charts, the figures and the run bar fit a 1280x720 laptop
# (the panels give charts the rest of the height; this is only the floor).
MIN_PLOT_HEIGHT_PX = 120
MIN_PLOT_WIDTH_PX = 240
RIGHT_MARGIN_PX = 14


@dataclass
class _Series:
    name: str
    kind: str  # 'line' | 'bars' | 'band'
    item: object
    x: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # header suffix -> values


MAX_LEGEND_ENTRIES = 12   # more series than this: no legend, the hover readout names them
TWO_LINE_LABEL_MIN_PX = 400  # narrower charts keep the value axis one line wide
# A legend entry is cut to this many characters (a chip's legal name may run to 200: one legend
# line of it hid every other entry), and further to the chart's width; descriptive entries ("USD
# per million served tokens, input + output (capital, 5 y, load = peak / 1.5)") stay whole.
NAME_CHARS = 90
# A name in the hover readout, a banner or a form field: one line beside other text.
SHORT_NAME_CHARS = 40
LEGEND_SAMPLE_PX = 26.0   # a legend entry's sample and spacing beside its label
# A title too long for its chart is drawn smaller, then on two lines, before it is cut: "Probability
# of meeting peak de…" and "KV cache use over time at the chosen…" at 1280x688 fit whole at 10 or 9 pt.
TITLE_PTS = (11.0, 10.0, 9.0)
TITLE_MARGIN_PX, TWO_LINE_TITLE_MARGIN_PX = 4.0, 0.0   # around a title's text (Qt's default, and on two lines)


def chart_file_stem(panel_key: str, chart_key: str) -> str:
    """A chart's file name without suffix, as File > Export all writes it ("fleet_installed_chips")."""
    return f"{panel_key}_{chart_key}"


def _split_in_two(text: str) -> list[str]:
    """`text` split at the space that makes its longer half shortest ([text] with no space)."""
    spaces = [i for i, c in enumerate(text) if c == " "]
    if not spaces:
        return [text]
    cut = min(spaces, key=lambda i: max(i, len(text) - i - 1))
    return [text[:cut], text[cut + 1:]]


def elide_name(text: str, limit: int = NAME_CHARS) -> str:
    """`text` cut in the middle to `limit` characters with "…": the start names it and the end keeps
    what follows a name (": capacity P50", " (chips)"), so two entries of one long name differ."""
    if len(text) <= limit:
        return text
    tail = (limit - 1) // 3
    return text[:limit - 1 - tail].rstrip() + "…" + text[len(text) - tail:].lstrip()


class ElidingLegend(pg.LegendItem):
    """A legend whose entries show names elided (elide_name), the full name in their tooltip; the
    entries are still added and removed by their full names."""

    def addItem(self, item, name) -> None:
        name = str(name)
        super().addItem(item, elide_name(name))
        sample, label = self.items[-1]
        label.full_name = name
        for part in (sample, label):
            part.setToolTip(name)

    def fit_labels(self, room_px: float) -> None:
        """Entries wider than `room_px` elided further (a narrow chart): one entry wider than the
        chart was cut off at its edge."""
        for _sample, label in self.items:
            full = getattr(label, "full_name", label.text)
            limit = NAME_CHARS
            if label.text != elide_name(full, limit):
                label.setText(elide_name(full, limit))
            while label.item.boundingRect().width() > room_px and limit > 12:
                limit = max(12, min(limit - 1, int(limit * room_px / label.item.boundingRect().width())))
                label.setText(elide_name(full, limit))
            # to the text's own width: the legend measures its entries' (stale, wider) geometry
            label.resize(label.minimumSize())

    def removeItem(self, item) -> None:
        for sample, label in self.items:
            if sample.item is item or getattr(label, "full_name", label.text) == item:
                self.items.remove((sample, label))
                self._removeItemFromLayout(sample, label)
                self.updateSize()
                return

    def full_names(self) -> list[str]:
        return [getattr(label, "full_name", label.text) for _sample, label in self.items]


class PlotPanel(QWidget):
    """A titled pyqtgraph chart with unit-bearing axes, legend, hover readout and export menu."""

    status_message = Signal(str)  # e.g. "Saved chart to /path/x.png"

    def __init__(self, title: str = "", *, x_label: str = "", x_unit: str = "", y_label: str = "",
                 y_unit: str = "", time_axis: bool = False, legend: bool = True,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.title = title
        self.x_label, self.x_unit = x_label, x_unit
        self.y_label, self.y_unit = y_label, y_unit
        self.time_axis = time_axis
        self._series: dict[str, _Series] = {}
        self._colors: dict[str, str] = {}
        # series name -> its name in the CSV's header, where the legend's name carries a unit of its
        # own ("Ordered (910B2-eq.)" read "Ordered (910B2-eq.) (Ascend 910B2 chips)" in the file)
        self.header_names: dict[str, str] = {}
        self._title_pt = TITLE_PTS[0]

        axis_items = {"left": GroupedAxisItem(orientation="left"),
                      "bottom": DateAxisItem(orientation="bottom", utcOffset=0) if time_axis
                      else PlainAxisItem(orientation="bottom")}
        self._key_at: tuple[int, int] | None = None   # (row, point) the arrow keys read last
        # a redraw while the keys read a point reads it again (its value moved: QA s39)
        self._key_refresh = QTimer(self)
        self._key_refresh.setSingleShot(True)
        self._key_refresh.setInterval(0)
        self._key_refresh.timeout.connect(self._refresh_key_point)
        self.plot_widget = ChartView(self._read_key, self._key_tab_in, self._key_focus_out, axisItems=axis_items)
        self.plot_widget.setMinimumHeight(MIN_PLOT_HEIGHT_PX)
        self.plot_widget.setMinimumWidth(MIN_PLOT_WIDTH_PX)
        self.plot_item = self.plot_widget.getPlotItem()
        self.plot_item.showGrid(x=True, y=True, alpha=0.25)
        for side in ("left", "bottom"):
            # Grid at the labelled and the minor ticks only: pyqtgraph's third, finest level
            # clutters a small chart and its long semi-transparent lines cost 2-4 ms per axis
            # on every repaint (most of an edit's redraw; bench/bench_gui_edit.py).
            self.plot_item.getAxis(side).setStyle(maxTickLevel=1)
            # Behind the data (pyqtgraph puts axes, and so the grid, at z 0.5 over its view box
            # at z -100): the grid is opaque now and must not cross the curves and bars.
            self.plot_item.getAxis(side).setZValue(self.plot_item.vb.zValue() - 1)
            # an axis title styled without a colour in the chart's own, not the palette's text
            # (#e6e6e6 on the white chart and in its files, on a dark desktop)
            axis = self.plot_item.getAxis(side)
            axis.label.setDefaultTextColor(axis.textPen().color())
        self.plot_item.setMenuEnabled(True)
        if title:
            self.plot_item.setTitle(title, size="11pt")
        self._set_axis_label("bottom", x_label or ("Date" if time_axis else ""), x_unit)
        self._set_axis_label("left", y_label, y_unit)
        # The legend must exist before items are added, or it stays empty (PlotItem.addLegend
        # makes a plain one when none is set).
        if legend:
            self.plot_item.legend = ElidingLegend(offset=(10, 10))
            self.plot_item.legend.setParentItem(self.plot_item.vb)
        self.legend = self.plot_item.legend if legend else None
        if self.legend is not None:
            # LegendItem ignores transformations (for zoomable views); an export scales the scene
            # to its width, and the legend must scale and move with the rest of the chart.
            self.legend.setFlag(self.legend.GraphicsItemFlag.ItemIgnoresTransformations, False)
            # Below the axes, never over the curves (in the window and in every export): the
            # plot keeps a bottom margin as tall as the legend.
            self.legend.setParentItem(self.plot_item)
            self.legend.setLabelTextSize(f"{style.small_pt():g}pt")
            self.legend.setBrush(pg.mkBrush(None))
            self.legend.setPen(pg.mkPen(None))
            self.legend.anchor(itemPos=(0.5, 1), parentPos=(0.5, 1), offset=(0, -2))

        self._marker = pg.ScatterPlotItem(size=11, pen=pg.mkPen("k", width=1.5), brush=pg.mkBrush(None))
        self._marker.setZValue(100)
        self.plot_item.addItem(self._marker, ignoreBounds=True)

        self.readout = QLabel(self._idle_readout())
        self.readout.setObjectName("plotReadout")
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.readout.setStyleSheet(style.note_style())   # under the chart, on the window's background

        self.export_png_action = QAction("Export PNG…", self)
        self.export_svg_action = QAction("Export SVG…", self)
        self.export_csv_action = QAction("Export data CSV…", self)
        self.export_png_action.triggered.connect(lambda: self._export_with_dialog("png"))
        self.export_svg_action.triggered.connect(lambda: self._export_with_dialog("svg"))
        self.export_csv_action.triggered.connect(lambda: self._export_with_dialog("csv"))
        menu = QMenu(self)
        menu.addActions([self.export_png_action, self.export_svg_action, self.export_csv_action])
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setToolTip("Save this chart as PNG or SVG, or the numbers behind it as CSV")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setMenu(menu)

        bar = self._bar = QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        bar.addWidget(self.readout, 1)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.plot_widget, 1)
        layout.addLayout(bar)

        self.plot_item.scene().sigMouseMoved.connect(self._on_mouse_moved)
        # after the axis' own slot (connected when the plot was made): it reads the new range
        self.plot_item.vb.sigYRangeChanged.connect(self._fit_value_axis_to_ticks)
        # A value axis that widens for its tick labels (fit_left_axis, a new range) leaves the
        # title less room: shorten it again, or it holds the chart wider than its widget.
        self.plot_item.getAxis("left").geometryChanged.connect(self._fit_texts)

    # ---- axes --------------------------------------------------------------------------------
    @staticmethod
    def _axis_text(label: str, unit: str) -> str:
        return f"{label} ({unit})" if label and unit else (label or (f"({unit})" if unit else ""))

    def _set_axis_label(self, side: str, label: str, unit: str) -> None:
        # Units go into the text ourselves: pyqtgraph's `units=` adds SI prefixes ("kchips").
        text = self._axis_text(label, unit)
        if text:
            self.set_axis_title(side, text)   # at the normal size again (a fit may have shrunk it)
        if side == "bottom":
            self._show_x_title()   # (setLabel shows it again)
        if side == "left":
            self._shown_y_label = None
            self._texts_signature = None

    def set_axis_title(self, side: str, text: str, size_pt: float | None = None) -> None:
        """An axis title (at `size_pt`, else the axis' font) in the chart's text colour: pyqtgraph's
        setLabel replaces the title's style with its keywords, and a font size alone dropped the
        colour (the palette's light text on a dark desktop)."""
        sized = {"font-size": f"{size_pt:g}pt"} if size_pt is not None else {}
        axis = self.plot_item.getAxis(side)
        self.plot_item.setLabel(side, text, color=axis.textPen().color().name(), **sized)
        # pyqtgraph centres the title on its axis only when the axis is resized: an axis of fixed width
        # kept a longer title where the shorter one began (the Shortfall chart's title ran 23 px
        # past the axis' top, under Export, at 1360x880)
        axis.resizeEvent()

    def set_axis_labels(self, *, x_label=None, x_unit=None, y_label=None, y_unit=None) -> None:
        self.x_label = self.x_label if x_label is None else x_label
        self.x_unit = self.x_unit if x_unit is None else x_unit
        self.y_label = self.y_label if y_label is None else y_label
        self.y_unit = self.y_unit if y_unit is None else y_unit
        self._set_axis_label("bottom", self.x_label, self.x_unit)
        self._set_axis_label("left", self.y_label, self.y_unit)
        self._fit_texts()  # a longer label must be shortened to the axis now, not at the next resize

    def set_title(self, title: str) -> None:
        self.title = title
        self._shown_title = None
        self._texts_signature = None
        self.plot_item.setTitle(title, size="11pt")
        self.plot_widget.setAccessibleName(title)
        self._fit_texts()

    def _show_x_title(self) -> None:
        """A short chart's date axis goes without its "Date" title, as a short category chart goes
        without its axis title: the years say what the axis is, and its ~20 px go to the value
        axis, whose title then keeps its quantity and its unit at 1280x688 (it kept the unit alone,
        or the quantity alone with the unit pushed into a cut title). Files always show it."""
        if self.time_axis and self.x_label in ("", "Date"):
            axis = self.plot_item.getAxis("bottom")
            show = not self.compact or self._texts_frozen
            if axis.label.isVisible() != show:
                axis.showLabel(show)

    # ---- series ------------------------------------------------------------------------------
    def color_for(self, name: str) -> str:
        """The series' colour from the shared palette (by chip or category, never by order), one no
        other series of this chart has (gui.style.series_color_among)."""
        if name not in self._colors:
            self._colors[name] = style.series_color_among(name, {c for n, c in self._colors.items() if n != name})
        return self._colors[name]

    def set_series(self, name: str, x, y, *, color: str | None = None, width: float = 2.0,
                   symbol: str | None = "o", dashed: bool = False) -> pg.PlotDataItem:
        """Add or update a line. x are numbers (timestamps when time_axis: use to_timestamps)."""
        self.data_redrawn()
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"series {name!r}: x has {x.size} points, y has {y.size}")
        existing = self._series.get(name)
        if existing is not None and existing.kind == "line":
            existing.item.setData(x, y)
            existing.x, existing.columns = x, {"": y}
            return existing.item
        if existing is not None:
            self.remove_series(name)
        colour = color or self.color_for(name)
        self._colors.setdefault(name, colour)   # a given colour counts as taken in this chart
        pen = pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        if symbol == "o":  # the default marker: the chip's own, so overlapping lines stay apart
            symbol = style.series_symbol(name)
        item = self.plot_item.plot(x, y, name=name, pen=pen, symbol=symbol, symbolSize=6,
                                   symbolBrush=colour, symbolPen=None)
        if dashed:  # over the solid lines: where two nearly coincide (H100, H800) the dashes show both
            item.setZValue(1)
        self._series[name] = _Series(name, "line", item, x, {"": y})
        self._sync_axis_values()
        self.layout_legend()
        return item

    def set_bars(self, name: str, x, heights, *, width: float = 0.8, color: str | None = None,
                 y0=None) -> pg.BarGraphItem:
        """Add or update a bar series (breakdowns). `y0` stacks bars on a base."""
        self.data_redrawn()
        x = np.asarray(x, dtype=float)
        heights = np.asarray(heights, dtype=float)
        base = np.zeros_like(heights) if y0 is None else np.asarray(y0, dtype=float)
        existing = self._series.get(name)
        if existing is not None and existing.kind == "bars":
            existing.item.setOpts(x=x, height=heights, y0=base, width=width)
            existing.x, existing.columns = x, {"": heights}
            return existing.item
        if existing is not None:
            self.remove_series(name)
        colour = color or self.color_for(name)
        # No name= on the item: PlotItem.addItem would put a named item in the legend a second time.
        item = pg.BarGraphItem(x=x, height=heights, y0=base, width=width, brush=colour, pen=pg.mkPen("w"))
        self.plot_item.addItem(item)
        if self.legend is not None:
            self.legend.addItem(item, name)
        self._series[name] = _Series(name, "bars", item, x, {"": heights})
        self._sync_axis_values()
        self.layout_legend()
        return item

    def set_band(self, name: str, x, low, high, *, color: str | None = None, alpha: int = 60):
        """Add or update a shaded band between `low` and `high` (e.g. P10–P90)."""
        self.data_redrawn()
        x = np.asarray(x, dtype=float)
        low = np.asarray(low, dtype=float)
        high = np.asarray(high, dtype=float)
        existing = self._series.get(name)
        if existing is not None and existing.kind == "band":
            low_curve, high_curve, _fill = existing.item
            low_curve.setData(x, low)
            high_curve.setData(x, high)
            existing.x, existing.columns = x, {" low": low, " high": high}
            return existing.item[2]
        if existing is not None:
            self.remove_series(name)
        c = QColor(color or self.color_for(name))
        edge = pg.mkPen(c, width=0.8)
        low_curve = pg.PlotDataItem(x, low, pen=edge)
        high_curve = pg.PlotDataItem(x, high, pen=edge)
        c.setAlpha(alpha)
        fill = pg.FillBetweenItem(low_curve, high_curve, brush=pg.mkBrush(c))
        for item in (low_curve, high_curve, fill):
            self.plot_item.addItem(item)
        if self.legend is not None:
            # The legend's sample reads item.opts, which a FillBetweenItem lacks (painting it
            # fails): show a filled, empty line item as the band's sample instead.
            sample = pg.PlotDataItem([], [], pen=edge, fillLevel=0, fillBrush=pg.mkBrush(c))
            fill._legend_sample = sample  # keep it alive as long as the band
            self.legend.addItem(sample, name)
        self._series[name] = _Series(name, "band", (low_curve, high_curve, fill), x,
                                     {" low": low, " high": high})
        self._sync_axis_values()
        self.layout_legend()
        return fill

    def remove_series(self, name: str) -> None:
        self.data_redrawn()
        series = self._series.pop(name, None)
        if series is None:
            return
        items = series.item if isinstance(series.item, tuple) else (series.item,)
        if self.legend is not None:
            self.legend.removeItem(name)
        for item in items:
            self.plot_item.removeItem(item)
        self._sync_axis_values()
        self.layout_legend()

    def set_notice(self, text: str) -> None:
        """A line in the middle of the plot saying why it is empty (e.g. no demand entered);
        part of the scene, so exports carry it too. An empty text removes it."""
        notice = getattr(self, "_notice", None)
        if notice is None:
            notice = self._notice = pg.TextItem("", color="#5f6368", anchor=(0.5, 0.5))
            self.plot_item.addItem(notice, ignoreBounds=True)
            # placed in data coordinates: a view range or plot area that changes later (a chart
            # laid out while hidden, then shown) left it off-centre and cut at the right edge
            vb = self.plot_item.vb
            vb.sigResized.connect(self._wrap_notice)
            vb.sigRangeChanged.connect(self._wrap_notice)
        notice.setText(text)
        notice.setVisible(bool(text))
        if text:
            self._wrap_notice()
        self._sync_axis_values()

    def _wrap_notice(self, *_) -> None:
        """The notice centred in the view and wrapped to the plot area's width: one long line was
        cut off at both ends of a narrow chart ("chips installed in this horizon: add orders in the
        Fleet vi"). Called again whenever the view box resizes or its range changes."""
        notice = getattr(self, "_notice", None)
        if notice is None or not notice.isVisible():
            return
        (x0, x1), (y0, y1) = self.plot_item.vb.viewRange()
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        if (notice.pos().x(), notice.pos().y()) != centre:
            notice.setPos(*centre)
        width = self.plot_item.vb.width()
        if width <= 0:
            return
        text_item = notice.textItem
        text_item.setTextWidth(-1)    # its natural width first: short notices stay one line
        if text_item.boundingRect().width() > width - 16:
            text_item.setTextWidth(max(width - 16, 60.0))
        document = text_item.document()
        option = document.defaultTextOption()
        option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        document.setDefaultTextOption(option)
        notice.updateTextPos()

    def _sync_axis_values(self) -> None:
        """An empty chart that says why it is empty shows no tick values: the default 0..1 view
        would read as data ("00.250" on a date axis, "0.8" chips)."""
        notice = getattr(self, "_notice", None)
        show = bool(self._series) or notice is None or not notice.isVisible()
        if show == getattr(self, "_axis_values_shown", True):
            return
        self._axis_values_shown = show
        for side in ("left", "bottom"):
            self.plot_item.getAxis(side).setStyle(showValues=show)
        if show:   # the axis last measured labels before its notice hid them, or never
            self._fit_value_axis_to_ticks()

    def _fit_value_axis_to_ticks(self, *_) -> None:
        """The value axis widened (or narrowed) to its tick labels before it is drawn, not after.
        pyqtgraph measures the labels only while painting the axis: it drops those wider than the
        axis as it stands, then resizes the axis for the next paint. So the first picture after the
        labels grew showed one of six: "50,000" over the axis title of the Plan's capacity chart,
        its values shown again after the notice at 0 to 300,000 (a flash on screen; what a grab or
        screenshot taken as the run ended kept, until a resize). Here the same measurement runs as
        soon as the range or the values change, the layout takes the new width at once, and the
        picture made is the one the next paint plays (no second cost)."""
        if getattr(self, "_fitting_axis", False):
            return
        if not self.plot_widget.isVisible():   # a hidden tab's chart: measured when shown
            self._axis_unmeasured = True
            return
        self._axis_unmeasured = False
        self._fitting_axis = True
        try:
            resized = False
            for side in ("left", "right"):
                axis = self.plot_item.getAxis(side)
                if not axis.isVisible() or not axis.style["showValues"] or axis.fixedWidth is not None:
                    continue
                width_px = axis.minimumWidth()
                picture = QPicture()
                painter = QPainter(picture)
                try:   # as AxisItem.paint makes its picture
                    if axis.style["tickFont"]:
                        painter.setFont(axis.style["tickFont"])
                    specs = axis.generateDrawSpecs(painter)   # sets the width its labels need
                    if specs is not None:
                        axis.drawPicture(painter, *specs)
                finally:
                    painter.end()
                if axis.minimumWidth() == width_px:
                    axis.picture = picture
                else:
                    resized = True
            if resized:   # now, not at the next event loop pass: a grab or an export may come first
                self.plot_item.layout.activate()
        finally:
            self._fitting_axis = False

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if getattr(self, "_axis_unmeasured", False):
            self._fit_value_axis_to_ticks()

    def axis_values_shown(self) -> bool:
        return getattr(self, "_axis_values_shown", True)

    def notice(self) -> str:
        notice = getattr(self, "_notice", None)
        return notice.toPlainText() if notice is not None and notice.isVisible() else ""

    legend_beside_ok = True  # False: the legend always goes below the axes (e.g. beside a colour bar)

    def legend_names(self) -> list[str]:
        if self.legend is None:
            return []
        return self.legend.full_names()

    # The legend's row height at 8 pt and the smallest plot area worth having beside it.
    LEGEND_ROW_PX = 21.0
    SHORT_CHART_PX = 240  # below this plot height, compact legend labels (and axis texts)
    MIN_VIEW_WIDTH_PX = 120.0

    def legend_row_px(self) -> float:   # LEGEND_ROW_PX scaled as the legend's text, by the application font
        return self.LEGEND_ROW_PX * style.small_pt() / 8.0

    def _legend_entry_px(self) -> float:
        """Width of one legend column: the sample, the widest label and the spacing."""
        label_px = max([label.item.boundingRect().width() for _sample, label in self.legend.items] or [0.0])
        return LEGEND_SAMPLE_PX + label_px  # sample 20 px and the spacing (measured: 98 px for 72 px labels)

    def min_view_width(self) -> float:
        """The narrowest plot area this chart reads well in (category charts need their labels)."""
        return self.MIN_VIEW_WIDTH_PX

    def legend_arrangement(self, names: list[str], width: float, height: float) -> tuple[str, int]:
        """('below' | 'beside', columns): of the legend shapes that fit, the one that leaves the
        curves the largest plot area. Below the axes on a tall chart; beside them (in one or more
        columns) on a short, wide one, where rows under the axes would squeeze the curves flat."""
        n = len(names)
        entry_px = max(self._legend_entry_px(), 40.0)
        vb = self.plot_item.vb
        left, top, right, bottom = self.plot_item.layout.getContentsMargins()
        # What the title and the axes take, measured now (the margins are the legend's room).
        over_w = max(self.plot_item.width() - vb.width() - right, 60.0)
        over_h = max(self.plot_item.height() - vb.height() - bottom, 60.0)
        best, best_area = ("below", max(1, min(n, int(width // entry_px)))), -1.0
        for columns in range(1, n + 1):
            if columns * entry_px > width and columns > 1:
                break
            rows = -(-n // columns)
            area = (width - over_w) * (height - over_h - rows * self.legend_row_px() - 2)
            if area > best_area:
                best, best_area = ("below", columns), area
        if self.legend_beside_ok:
            for columns in range(1, min(n, 3) + 1):
                rows = -(-n // columns)
                view_w = width - over_w - columns * entry_px - 4
                if rows * self.legend_row_px() > height - 4 or view_w < self.min_view_width():
                    continue
                area = view_w * (height - over_h)
                if area > best_area * 1.1:  # beside only when clearly better: below reads more easily
                    best, best_area = ("beside", columns), area
        return best

    def layout_legend(self) -> None:
        """Lay the legend out where it leaves the curves the most room (legend_arrangement), under
        or beside the axes, and give the plot a margin as large as the legend, so it never covers
        a curve (in the window and in every export, which renders this layout)."""
        if self.legend is None:
            return
        names = self.legend_names()
        width = max(self.plot_widget.width(), MIN_PLOT_WIDTH_PX)
        height = max(self.plot_widget.height(), MIN_PLOT_HEIGHT_PX)
        signature = (tuple(names), width, height, self.legend_beside_ok)
        if signature == getattr(self, "_legend_signature", None):
            self._fit_texts()
            return  # most redraws update data only: nothing to lay out (the edit stays fast)
        self._legend_signature = signature
        if len(names) > MAX_LEGEND_ENTRIES:
            # 34 chips' legend filled the chart and squeezed the plot to a strip: past a dozen
            # series the hover readout names each one instead (the CSV lists them all)
            self.legend.setVisible(False)
            self.plot_item.layout.setContentsMargins(0, 0, RIGHT_MARGIN_PX, 0)
            self._legend_hidden_note = f"{len(names)} series (legend hidden): hover a curve to name it."
            self.readout.setText(self._idle_readout())
            self._texts_signature = None
            self._fit_texts()
            self.plot_item.layout.activate()
            return
        if getattr(self, "_legend_hidden_note", ""):
            self._legend_hidden_note = ""
            self.readout.setText(self._idle_readout())
        # A short chart (a laptop screen) gets smaller legend labels: more columns fit, so the
        # legend takes fewer rows of the height the curves need. Both follow the application font.
        size = f"{style.small_pt(style.SMALLER_SCALE if height < self.SHORT_CHART_PX else style.SMALL_SCALE):g}pt"
        if self.legend.opts.get("labelTextSize") != size:
            self.legend.setLabelTextSize(size)
            for _sample, label in self.legend.items:
                label.setText(label.text)
        self.legend.fit_labels(width - LEGEND_SAMPLE_PX - 2 * RIGHT_MARGIN_PX)
        where, columns = self.legend_arrangement(names, width, height) if names else ("below", 1)
        beside = where == "beside"
        if self.legend.columnCount != columns:
            self.legend.setColumnCount(columns)
        self.legend.setVisible(bool(names))
        self.legend.updateSize()
        rect = self.legend.boundingRect() if names else None
        if beside:
            # The legend's own rect can lag its labels: count the widest label instead.
            needed = max(rect.width() if rect else 0.0, columns * self._legend_entry_px() + 6.0)
            self.plot_item.layout.setContentsMargins(0, 0, needed + 4 if names else 0, 0)
        else:
            # A little room at the right: the last date label is centred on the axis' end.
            self.plot_item.layout.setContentsMargins(0, 0, RIGHT_MARGIN_PX, (rect.height() + 2) if rect else 0)
        self._texts_signature = None
        self._fit_texts()  # the title shortened to the room left beside the legend, before measuring
        # Now, not at the next event loop pass: an export may follow before any events run.
        self.plot_item.layout.activate()
        if beside and self.plot_item.minimumWidth() > self.plot_widget.width():
            # Titles and axes need more width than is left beside the legend: put it below.
            self.legend_beside_ok, keep = False, self.legend_beside_ok
            self._legend_signature = None
            try:
                self.layout_legend()
            finally:
                self.legend_beside_ok = keep
            self._legend_signature = signature  # decided for this size: don't retry on every redraw
            # The trial grew the plot item past its view; give it the view's size back.
            pg.GraphicsView.setRange(self.plot_widget, self.plot_widget.range, padding=0, disableAutoPixel=False)
            return
        if beside:
            self.legend.anchor(itemPos=(1, 0.5), parentPos=(1, 0.5), offset=(-2, 0))
        else:
            self.legend.anchor(itemPos=(0.5, 1), parentPos=(0.5, 1), offset=(0, -2))
        self._fit_texts()

    # ---- compact mode (a short chart on a laptop screen) -----------------------------------
    # Below this height the row under the chart (hover readout, Export) gives its ~25 px to the
    # curves: Export sits in the title row's left corner (above the value axis) and the readout
    # shows in its right corner while the pointer is on a value.
    COMPACT_PANEL_PX = 300
    compact = False

    def _set_compact(self, compact: bool) -> None:
        if compact == self.compact:
            return
        self.compact = compact
        self._show_x_title()
        if compact:
            for widget in (self.readout, self.export_button):
                self._bar.removeWidget(widget)
                widget.setParent(self.plot_widget)
            self.readout.setStyleSheet("color: #222; background: rgba(255, 255, 255, 225); padding: 1px 3px;")
            self.readout.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            self.export_button.show()
        else:
            for widget in (self.readout, self.export_button):
                widget.setParent(self)
            self.readout.setStyleSheet(style.note_style())
            self.readout.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            self._bar.addWidget(self.readout, 1)
            self._bar.addWidget(self.export_button)
            self.readout.show()
            self.export_button.show()
        self._place_overlays()
        self._texts_signature = None

    def _place_overlays(self) -> None:
        if not self.compact:
            return
        button = self.export_button
        button.adjustSize()
        button.move(2, 2)  # above the value axis: the title is centred over the plot area
        button.raise_()
        idle = self.readout.text() == self._idle_readout()
        self.readout.setVisible(not idle)
        if not idle:
            self.readout.adjustSize()
            self.readout.move(max(self.plot_widget.width() - self.readout.width() - 2, button.width() + 6), 2)
            self.readout.raise_()

    def set_readout(self, text: str) -> None:
        """The hover readout's text (below the chart, or over its corner on a short chart)."""
        self.readout.setText(text)
        if self.compact:
            self._place_overlays()

    def leaveEvent(self, event) -> None:
        super().leaveEvent(event)
        if self.compact:
            self.set_readout(self._idle_readout())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._set_compact(0 < self.height() < self.COMPACT_PANEL_PX)
        self._place_overlays()
        self.layout_legend()
        self._fit_texts()
        self._wrap_notice()

    @property
    def _texts_frozen(self) -> bool:
        """True while a file is written (gui.export.titled, gui.report.whole_title): the texts are
        the file's, not refitted to the window's chart."""
        return getattr(self, "_frozen_for_file", False)

    @_texts_frozen.setter
    def _texts_frozen(self, frozen: bool) -> None:
        self._frozen_for_file = bool(frozen)
        self._show_x_title()   # a file names its date axis, whatever the window's chart left out

    def _fit_texts(self) -> None:
        """Titles and the value-axis label shortened to the room they have (full text in the
        tooltip), rather than cut off at the widget's edge."""
        if self._texts_frozen:
            return
        from PySide6.QtGui import QFontMetrics

        # The room the layout can give, not the plot item's current width (a long title would
        # otherwise hold the item wider than the widget, beside a legend on the right).
        _left, _top, right_margin, _bottom = self.plot_item.layout.getContentsMargins()
        width = min(self.plot_item.width(), self.plot_widget.width() - right_margin) \
            if self.plot_widget.width() > 0 else self.plot_item.width()
        if width <= 0:
            return
        axis = self.plot_item.getAxis("left")
        signature = (self.title, self.y_label, self.y_unit, width, axis.height(), axis.width())
        if signature == getattr(self, "_texts_signature", None):
            self._fit_item_to_view()
            return
        self._texts_signature = signature
        if self.title:
            self._fit_title(self.title_room(width))
        axis = self.plot_item.getAxis("left")
        full = self._axis_text(self.y_label, self.y_unit)
        room = axis.height() - 4
        if self.compact:  # the label is centred on the axis: keep both ends clear of Export above it
            axis_top = axis.mapToScene(0, 0).y()
            overlap = self.export_button.y() + self.export_button.sizeHint().height() + 2 - axis_top
            room -= 2 * max(overlap, 0.0)
        if full and room > 0:
            from PySide6.QtGui import QFont

            font = QFont(axis.label.font())
            size_pt = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
            # Full text, then the name over its unit on two lines, then the unit alone (what a
            # reader must not lose), each at the normal size and then smaller; elided only when
            # even that does not fit.
            unit_only = f"({self.y_unit})" if self.y_unit else ""
            choices = [full]
            if self.y_label and unit_only and full != unit_only and width >= TWO_LINE_LABEL_MIN_PX:
                choices.append(f"{self.y_label}<br>{unit_only}")   # a second line widens the axis
            if unit_only and full != unit_only:
                choices.append(unit_only)
            words = unit_only.split(" ")
            if len(words) > 1:   # a long unit over two lines rather than cut ("(Ascend 910B2 ch…")
                half = max(1, len(words) // 2)
                choices.append(" ".join(words[:half]) + "<br>" + " ".join(words[half:]))
            if len(words) > 2:   # a word a line on a short axis ("(Ascend / 910B2 / chips)" beside a tornado)
                choices.append("<br>".join(words))
            text, shown_pt = None, size_pt
            for candidate in choices:
                for pt in (size_pt, max(size_pt - 2.0, 7.0)):
                    font.setPointSizeF(pt)
                    if max(QFontMetrics(font).horizontalAdvance(line) for line in candidate.split("<br>")) <= room:
                        text, shown_pt = candidate, pt
                        break
                if text is not None:
                    break
            if text is None:
                font.setPointSizeF(max(size_pt - 2.0, 7.0))
                text = QFontMetrics(font).elidedText(unit_only or full, Qt.TextElideMode.ElideRight, int(room))
                shown_pt = font.pointSizeF()
            if (text, shown_pt) != getattr(self, "_shown_y_label", None):
                self._shown_y_label = (text, shown_pt)
                self.set_axis_title("left", text, shown_pt if shown_pt != size_pt else None)
            font.setPointSizeF(shown_pt)
            self._widen_fixed_axis(axis, text.count("<br>") * QFontMetrics(font).height())
        self._fit_item_to_view()

    def _fit_item_to_view(self) -> None:
        """The plot item as large as its view again. Laid out while a text was too long for the
        chart (a scenario's title before it was shortened), it kept that width after the text
        was: its right end stayed cut off ("2029" read "202" at 1280x720, QA s36) until the next
        resize of the window, which sets the item to the view's size, as this does."""
        from pyqtgraph import GraphicsView

        view = self.plot_widget
        item = view.centralWidget
        if (item is None or getattr(item, "export_layout", False) or getattr(self, "_fitting_item", False)
                or view.closed or not view.autoPixelRange or view.width() <= 0):
            return
        # only an item larger than its view, that its layout lets shrink to it (Qt keeps a widget
        # at its minimum: asked again and again, the refit this sets off asked again, for ever)
        wide = item.width() > view.width() and item.minimumWidth() <= view.width()
        tall = item.height() > view.height() and item.minimumHeight() <= view.height()
        if wide or tall:
            self._fitting_item = True
            try:
                GraphicsView.resizeEvent(view, None)
            finally:
                self._fitting_item = False

    def _fit_title(self, room: float, suffix: str = "") -> None:
        """The title (and `suffix`, never cut) in `room` px: whole on one line at 11, 10 or 9 pt;
        else on two lines at 9 pt (the title over its unit suffix, or split between words), which
        fill PlotItem's 30 px title row; else cut with "…" at 9 pt, over the unit where there is
        one (the whole title in the chart's tooltip). One line cut kept the unit and lost the
        subject: "Serving capaci… (Ascend 910B2 chips)", "Probability of meeting peak de…" at 1280x720."""
        label = self.plot_item.titleLabel
        self._title_centred(label)
        fits = False
        for pt in TITLE_PTS:   # whole at a smaller size before anything else
            fits = self._title_try(label, [self.title + suffix], pt, room)
            if fits:
                break
        lines = [self.title, suffix.strip()] if suffix else _split_in_two(self.title)
        if not fits and len(lines) == 2:
            fits = self._title_try(label, lines, TITLE_PTS[-1], room)
        text = self.title
        if not fits:   # cut at the smallest size, on the first line when the unit has a second
            tail = [suffix.strip()] if suffix else []
            while not self._title_try(label, [text] + tail, self._title_pt, room) and len(text) > 8:
                keep = max(8, int(len(text) * room / label.item.boundingRect().width()) - 2)
                shorter = self.title[:keep].rstrip(" ,(") + "…"
                if shorter == text:
                    break  # as short as it gets
                text = shorter
        self._shown_title = text
        self.plot_widget.setToolTip(self.title if text != self.title else "")

    def _title_try(self, label, lines: list[str], pt: float, room: float) -> bool:
        """`lines` shown as the title at `pt`; whether its widest line fits in `room` px. Two
        lines go without the text's 4 px margin: at 9 pt they take 28 px, inside the 30 px row
        PlotItem (and every export, gui.export) fixes for the title, so neither line is cut."""
        self._title_pt = pt
        label.item.document().setDocumentMargin(TWO_LINE_TITLE_MARGIN_PX if len(lines) > 1 else TITLE_MARGIN_PX)
        label.setText("<br>".join(lines), size=f"{pt:g}pt")
        return label.item.boundingRect().width() <= room

    @staticmethod
    def _title_centred(label) -> None:
        """A title on two lines centred line by line (the label centres the block only)."""
        document = label.item.document()
        option = document.defaultTextOption()
        if option.alignment() != Qt.AlignmentFlag.AlignHCenter:
            option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            document.setDefaultTextOption(option)

    def title_room(self, width: float | None = None) -> float:
        """The width the title may take: over the plot area only (the value axis beside it takes its
        share, else a long title holds the whole chart wider than its widget), and on a short chart
        clear of Export at its left, the title being centred over the plot area."""
        if width is None:
            right_margin = self.plot_item.layout.getContentsMargins()[2]
            width = min(self.plot_item.width(), self.plot_widget.width() - right_margin) \
                if self.plot_widget.width() > 0 else self.plot_item.width()
        # an axis just widened for a second line of its title is as wide as its minimum already
        axes_px = {side: max(axis.width(), axis.minimumWidth()) if axis.isVisible() else 0.0
                   for side in ("left", "right") for axis in (self.plot_item.getAxis(side),)}
        room = width - 16 - sum(axes_px.values())
        if self.compact:
            left_px = axes_px["left"]
            centre = left_px + (width - left_px) / 2
            button_px = self.export_button.sizeHint().width()  # (width() is 640 before it is shown)
            room = min(room, 2 * (centre - button_px - 8))
        return max(room, 0.0)

    @staticmethod
    def _widen_fixed_axis(axis, extra_px: float) -> None:
        """A value axis of fixed width (fit_left_axis, a bar chart's 64 px) has room for its ticks
        and one line of label: a label on two lines gets the second line's width added, or it
        overlapped the tick labels (the tornado's "Shortfall / (chips)" at 1280)."""
        if axis.fixedWidth is None:
            return   # pyqtgraph sizes the axis to its label
        if axis.fixedWidth != getattr(axis, "fitted_width_px", None):
            axis.owner_width_px = axis.fixedWidth   # set anew by the chart's owner: the base
        wanted = int(axis.owner_width_px + math.ceil(extra_px))
        if wanted != axis.fixedWidth:
            axis.fitted_width_px = wanted
            axis.setWidth(wanted)

    def restore_full_texts(self) -> None:
        """Full title and axis label (before an export, which is wider than the window)."""
        if self.title:
            self.plot_item.titleLabel.item.document().setDocumentMargin(TITLE_MARGIN_PX)
            self.plot_item.titleLabel.setText(self.title, size="11pt")
        self._set_axis_label("left", self.y_label, self.y_unit)
        self._shown_title = None
        self._texts_signature = None

    def clear_series(self) -> None:
        for name in list(self._series):
            self.remove_series(name)
        self._marker.setData([], [])
        self._key_at = None

    def series_names(self) -> list[str]:
        return list(self._series)

    def series_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        s = self._series[name]
        return s.x, next(iter(s.columns.values()))

    # ---- the numbers behind the chart --------------------------------------------------------
    def _x_header(self) -> str:
        if self.time_axis:
            return "Date"
        label = self.x_label or "x"
        return f"{label} ({self.x_unit})" if self.x_unit else label

    def _y_header(self, series_name: str, suffix: str = "") -> str:
        name = self.header_names.get(series_name, series_name)
        return f"{name}{suffix} ({self.y_unit})" if self.y_unit else f"{name}{suffix}"

    def _x_value(self, x: float):
        return from_timestamp(x) if self.time_axis else float(x)

    def data_table(self) -> tuple[list[str], list[list]]:
        """(headers, rows): one row per x when every series shares x, else one row per point."""
        series = list(self._series.values())
        if not series:
            return [self._x_header()], []
        same_x = all(s.x.shape == series[0].x.shape and np.array_equal(s.x, series[0].x) for s in series)
        if same_x:
            headers = [self._x_header()]
            columns = []
            for s in series:
                for suffix, values in s.columns.items():
                    headers.append(self._y_header(s.name, suffix))
                    columns.append(values)
            rows = [[self._x_value(x)] + [float(c[i]) for c in columns] for i, x in enumerate(series[0].x)]
            return headers, rows
        headers = ["Series", self._x_header(), self._y_header("Value").replace("Value", self.y_label or "Value", 1)]
        rows = []
        for s in series:
            for suffix, values in s.columns.items():
                rows += [[s.name + suffix, self._x_value(x), float(v)] for x, v in zip(s.x, values)]
        return headers, rows

    # ---- hover readout -----------------------------------------------------------------------
    def _idle_readout(self) -> str:
        # as short as it was ("Hover over the chart to read values."): the label's width is the
        # chart's least, and a longer one widened the Plan view past a scaled laptop screen
        return getattr(self, "_legend_hidden_note", "") or "Hover or use arrow keys for values."

    def nearest_point(self, x: float, y: float, radius_px: float = HOVER_RADIUS_PX):
        """(series name, x, y) of the point nearest to view coordinates (x, y), or None."""
        px, py = self.plot_item.vb.viewPixelSize()
        px, py = (px or 1.0), (py or 1.0)
        best, best_d = None, radius_px ** 2
        for s in self._series.values():
            for suffix, values in s.columns.items():
                if s.x.size == 0:
                    continue
                d = ((s.x - x) / px) ** 2 + ((values - y) / py) ** 2
                d = np.where(np.isfinite(d), d, np.inf)
                i = int(np.argmin(d))
                if d[i] <= best_d:
                    best, best_d = (s.name + suffix, float(s.x[i]), float(values[i])), float(d[i])
        return best

    def readout_text(self, point) -> str:
        if point is None:
            return self._idle_readout()
        name, x, y = point
        if self.time_axis:
            x_text = from_timestamp(x).isoformat()
        else:
            x_text = format_number(x) + (f" {self.x_unit}" if self.x_unit else "")
            if self.x_label:
                x_text = f"{self.x_label} {x_text}"
        y_text = format_number(y) + (f" {self.y_unit}" if self.y_unit else "")
        # the name elided: a 200-character one held the chart wider than the window (full in its tooltip)
        return f"{elide_name(name, SHORT_NAME_CHARS)} · {x_text} · {y_text}"

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        vb = self.plot_item.vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return
        view = vb.mapSceneToView(scene_pos)
        point = self.nearest_point(view.x(), view.y())
        self.set_readout(self.readout_text(point))
        self.readout.setToolTip(point[0] if point is not None else "")   # the name in full
        if point is None:
            self._marker.setData([], [])
        else:
            self._marker.setData(*self._marker_position(point))

    def _marker_position(self, point) -> tuple[list, list]:
        """Where the hover marker sits for a (series, x, y) point; stacked charts override it."""
        return [point[1]], [point[2]]

    # ---- keyboard readout (gui.widgets.chart_keys) ----------------------------------------------
    def key_rows(self) -> list[list]:
        """What the arrow keys step through: rows (Up/Down) of points (Left/Right), each as
        nearest_point gives it: one row per drawn line, band edge or bar set, left to right."""
        rows = []
        for s in self._series.values():
            order = np.argsort(s.x, kind="stable")
            for suffix, values in s.columns.items():
                row = [(s.name + suffix, float(s.x[i]), float(values[i])) for i in order
                       if np.isfinite(s.x[i]) and np.isfinite(values[i])]
                if row:
                    rows.append(row)
        return rows

    def key_x(self, point) -> float:
        return point[1]

    def key_text(self, point) -> str:
        return self.readout_text(point)

    def key_marker(self, point) -> tuple[list, list]:
        return self._marker_position(point)

    def _read_key(self, key, stay: bool = False) -> bool:
        """Move the keys' marker by `key` (`stay`: show the point read last again, after a Tab)."""
        rows = self.key_rows()
        if not rows:
            reason = self.empty_reason()
            self.set_readout(f"No values to read: {reason}." if reason else self._idle_readout())
            return True
        rows_x = [[self.key_x(p) for p in row] for row in rows]
        self._key_at = at = step(rows_x, self._key_at, None if stay else key)
        point = rows[at[0]][at[1]]
        text = self.key_text(point)
        self.set_readout(text)
        self.readout.setToolTip(text)
        self._marker.setData(*self.key_marker(point))
        self.plot_widget.setAccessibleName(text)   # announced by a screen reader as it changes
        return True

    def _key_tab_in(self) -> None:
        """Reached by Tab: show where the keys are (the point read last, else the first)."""
        self._read_key(Qt.Key.Key_Home, stay=True)

    def _key_focus_out(self) -> None:
        """Its name again, and no marker left behind (it was drawn into an exported picture)."""
        self.plot_widget.setAccessibleName(self.title)
        if self._key_at is not None:
            self._marker.setData([], [])
            self.set_readout(self._idle_readout())

    def data_redrawn(self) -> None:
        """What the chart draws changed: the point the keys read is read again once it is drawn."""
        if self._key_at is not None and self.plot_widget.hasFocus():
            self._key_refresh.start()

    def _refresh_key_point(self) -> None:
        if self._key_at is not None and self.plot_widget.hasFocus():
            self._read_key(None, stay=True)

    # ---- export ------------------------------------------------------------------------------
    # What a file of this chart shows ({"Scenario": ..., "Model": ..., "Workload": ...}); the
    # window sets it, so single-chart exports say it as File > Export all does.
    context_provider = None

    def export_context(self) -> dict:
        """{} for a chart outside the window (a plain CSV); else chart, scenario, model, workload."""
        if self.context_provider is None:
            return {}
        return {"Chart": self.title, **(self.context_provider() or {})}

    # What to run before this chart has numbers ("press Compare chips first"), for a panel whose
    # empty charts show no notice; else the panel's run button is named, or nothing.
    empty_hint = ""

    def empty_reason(self) -> str:
        """Why this chart has nothing to export ("" when it has numbers): its notice, else what to
        run first. An empty chart's CSV was its header alone, reported as saved."""
        if self.data_table()[1]:
            return ""
        reason = self.notice() or self.empty_hint or self._run_hint()
        return reason[:1].lower() + reason[1:] if reason[1:2].islower() else reason

    def _run_hint(self) -> str:
        """"press <its panel's run button> first", found up the widget tree; else a plain word."""
        widget = self.parentWidget()
        while widget is not None:
            button = getattr(getattr(widget, "run_bar", None), "run_button", None) or getattr(widget, "run_button", None)
            if button is not None and hasattr(button, "text") and button.text():
                return f"press {button.text().rstrip('.…')} first"
            widget = widget.parentWidget()
        return "nothing is drawn in it yet"

    def _refuse_empty(self, kind: str) -> None:
        """ValueError naming the chart and why when it has no numbers: a CSV of it is a header
        alone, and a picture of it blank unless its notice says why (then the picture is kept)."""
        reason = self.empty_reason()
        if reason and (kind == "csv" or not self.notice()):
            raise ValueError(f"{elide_name(self.title or 'this chart', SHORT_NAME_CHARS)} has no data: {reason}")

    def export_png(self, path, width: int = 1600, context: dict | None = None):
        self._refuse_empty("png")
        with export_mod.titled(self, context if context is not None else self.export_context()):
            return export_mod.export_png(self, path, width=width)

    def export_svg(self, path, context: dict | None = None):
        self._refuse_empty("svg")
        with export_mod.titled(self, context if context is not None else self.export_context()):
            return export_mod.export_svg(self, path)

    def export_csv(self, path, context: dict | None = None):
        self._refuse_empty("csv")
        headers, rows = self.data_table()
        return export_mod.export_csv(headers, rows, path,
                                     context=context if context is not None else self.export_context())

    def export_file_stem(self) -> str:
        """The name Export… suggests: Export all's, from the keys of the area holding the chart and of the
        chart in its charts() ("fleet_installed_chips", not a 116-character title); else the title's start."""
        from gui.panels.registry import PANELS

        widget = self.parentWidget()
        while widget is not None:
            spec = next((s for s in PANELS for c in type(widget).__mro__ if (c.__module__, c.__name__) == (s.module, s.class_name)), None)
            key = next((k for k, c in widget.charts().items() if c is self), None) if spec else None
            if key is not None:
                return chart_file_stem(spec.key, key)
            widget = None if spec else widget.parentWidget()
        stem = "-".join("".join(ch if ch.isalnum() else " " for ch in self.title.lower()).split()) or "chart"
        return stem if len(stem) <= 40 else stem[:41].rsplit("-", 1)[0][:40]

    def _export_with_dialog(self, kind: str) -> None:
        from gui.settings import last_dir, remember_dir

        try:   # refused before asking for a file name: there is nothing to write
            self._refuse_empty(kind)
        except ValueError as exc:
            self.status_message.emit(f"Not exported: {exc}")
            return
        filters = {"png": "PNG image (*.png)", "svg": "SVG image (*.svg)", "csv": "CSV (*.csv)"}
        start = f"{last_dir('export')}/{self.export_file_stem()}.{kind}"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind.upper()}", start, filters[kind])
        from gui.widgets.save_path import with_suffix_confirmed

        path = with_suffix_confirmed(self, path, kind)
        if not path:
            return
        try:
            {"png": self.export_png, "svg": self.export_svg, "csv": self.export_csv}[kind](path)
        except (OSError, ValueError) as exc:
            self.status_message.emit(f"Could not export to {path}: {exc}")
            return
        remember_dir("export", path)
        self.status_message.emit(f"Saved {kind.upper()} to {path}")


def percent_y_range(panel: "PlotPanel") -> None:
    """A 0-100 % axis with room for its 0 and 100 tick labels: at 2% padding pyqtgraph hid them, and
    the flat lines at 100% and 0% sat on unlabelled edges."""
    panel.plot_item.setYRange(0, 100, padding=0.06)
