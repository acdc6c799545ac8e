"""Axis items and value formatting for PlotPanel: dates on a UTC time axis, grouped thousands,
and grid lines drawn opaque (see _opaque_on_white for why)."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.DateAxisItem import (MONTH_SPACING, YEAR_SPACING, TickSpec, ZoomLevel, makeMStepper,
                                                  makeYStepper)
from PySide6.QtGui import QColor

# Month ticks that name their year ("May 2024"): on a few months no 1 January falls in range, so
# pyqtgraph's year-over-month level would show "May Jun" with no year.
MONTH_YEAR_ZOOM_LEVEL = ZoomLevel([TickSpec(MONTH_SPACING, makeMStepper(1), "%b %Y", autoSkip=[1, 2, 3, 6])],
                                  "Sep 2024")

# Years over months, as pyqtgraph's coarsest level but for two things: it went from every year
# straight to every 5th, so a 5-year horizon on a plot 224 px wide (40 px a year) showed "2025"
# alone and no yearly grid; and it sized a label by "YYYY", wider than any year's digits, so a
# year needed about 50 px. Every year or every 2nd now comes first, sized by digits and a gap of
# YEAR_GAP_PX (pyqtgraph's 10 px asked 40 px for "2026", 30 px wide, and dropped to every 2nd year
# at 39 px a year).
YEAR_MONTH_ZOOM_LEVEL = ZoomLevel([TickSpec(YEAR_SPACING, makeYStepper(1), "%Y", autoSkip=[1, 2, 5, 10, 25]),
                                   TickSpec(MONTH_SPACING, makeMStepper(1), "%b")],
                                  "2026")
YEAR_GAP_PX = 6


def to_timestamps(dates: Sequence[dt.date]) -> np.ndarray:
    """Dates to seconds since the epoch at UTC midnight (what DateAxisItem(utcOffset=0) shows)."""
    epoch = dt.date(1970, 1, 1).toordinal()
    return np.array([(d.toordinal() - epoch) * 86400.0 for d in dates], dtype=float)


def from_timestamp(seconds: float) -> dt.date:
    return dt.date.fromordinal(dt.date(1970, 1, 1).toordinal() + int(np.floor(seconds / 86400.0)))


def format_number(value: float) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    magnitude = abs(value)
    if magnitude >= 100 or (magnitude >= 1 and float(value).is_integer()):
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def _opaque_on_white(pen):
    """The pen's colour blended onto the white plot background, fully opaque.

    Why: the raster engine draws a semi-transparent line about ten times slower than an opaque
    one (0.66 vs 0.06 ms for ten 600 px lines), and every repaint after an edit replays the grid.
    The axes sit behind the data (PlotPanel), so an opaque grid never covers a curve.
    """
    colour = pen.color()
    alpha = colour.alphaF()
    if alpha >= 1.0:
        return pen
    mixed = QColor(*(round(c * alpha + 255 * (1.0 - alpha)) for c in (colour.red(), colour.green(), colour.blue())))
    opaque = pg.mkPen(pen)
    opaque.setColor(mixed)
    return opaque


class OpaqueGridMixin:
    """Grid lines (and minor ticks) drawn in opaque, pre-blended colours: see _opaque_on_white."""

    def generateDrawSpecs(self, p):
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return specs
        axis_spec, tick_specs, text_specs = specs
        return axis_spec, [(_opaque_on_white(pen), p1, p2) for pen, p1, p2 in tick_specs], text_specs


class PlainAxisItem(OpaqueGridMixin, pg.AxisItem):
    pass


class DateAxisItem(OpaqueGridMixin, pg.DateAxisItem):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.zoomLevels[np.inf] = YEAR_MONTH_ZOOM_LEVEL   # (keeps its place: the coarsest, first)

    def setZoomLevelForDensity(self, density):   # noqa: N802 (pyqtgraph's name)
        super().setZoomLevelForDensity(density)
        if self.zoomLevel is YEAR_MONTH_ZOOM_LEVEL and self.orientation in ("bottom", "top"):
            label_px = self.fontMetrics.boundingRect(YEAR_MONTH_ZOOM_LEVEL.exampleText).width() + YEAR_GAP_PX
            self.minSpacing = density * label_px

    def months_at_finest(self) -> None:
        """Ticks no finer than months, for monthly data: on a horizon of a month or two pyqtgraph
        went down to days and seconds ("22 27 May 02", "59.750 00:00:00"), which a monthly
        forecast cannot be read at."""
        self.zoomLevels = OrderedDict([(np.inf, YEAR_MONTH_ZOOM_LEVEL), (MONTH_SPACING, MONTH_YEAR_ZOOM_LEVEL)])


class GroupedAxisItem(OpaqueGridMixin, pg.AxisItem):
    """Value axis with thousands separators (120,000 rather than 120000) and no SI prefixes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):
        if spacing >= 1:
            top = max((abs(v * scale) for v in values), default=0.0)
            if top >= 1e7:  # "12,000,000,000" would not fit beside the axis: 12B, 340M
                div, suffix = (1e9, "B") if top >= 1e9 else (1e6, "M")
                # zero is "0", not "0M" (QA s37)
                return [f"{v * scale / div:,.4g}{suffix}" if v * scale else "0" for v in values]
            return [f"{v * scale:,.0f}" for v in values]
        return super().tickStrings(values, scale, spacing)
