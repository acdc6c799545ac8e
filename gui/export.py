"""Saving charts and their data: PNG, SVG and CSV. No dialogs here; callers pick the path.

PNG goes through pyqtgraph's ImageExporter with an explicit integer width (otherwise it uses the
widget's current size, 640x480 for a never-shown widget). SVG tries pyqtgraph's SVGExporter and
falls back to Qt's QSvgGenerator (pyqtgraph 0.14.0's exporter breaks on PySide6 >= 6.11, #3485).
CSV is written by us, with unit-bearing headers, from the numbers behind the chart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import logging
import math
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

log = logging.getLogger("fleetcast.export")


def plot_item_of(target):
    """The PlotItem behind a PlotPanel, a PlotWidget or a PlotItem."""
    import pyqtgraph as pg

    if hasattr(target, "plot_item"):  # our PlotPanel
        return target.plot_item
    if isinstance(target, pg.PlotWidget):
        return target.getPlotItem()
    return target


def context_lines(context: Mapping[str, object] | None) -> list[str]:
    """"Key: value" lines saying what an exported file shows (scenario, model, workload)."""
    return [f"{key}: {value}" for key, value in (context or {}).items() if value not in (None, "")]


@contextlib.contextmanager
def titled(target, context: Mapping[str, object] | None):
    """While exporting: the chart's full title with a second line naming scenario, model and
    workload (a file must say what it shows); the window's title comes back afterwards."""
    item = plot_item_of(target)
    lines = context_lines({k: v for k, v in (context or {}).items() if k != "Chart"})
    title = getattr(target, "title", "") or ""
    if not lines or not hasattr(item, "titleLabel"):
        yield
        return
    from PySide6.QtWidgets import QApplication

    # One short line each (wrapped): a title wider than the plot would widen the whole chart.
    import textwrap

    subtitle = "<br>".join(html.escape(part) for line in lines for part in textwrap.wrap(line, 90))
    # The chart must not shorten this title again while the file is written (it refits its
    # title when its axes move, and the two-line title moves them).
    freeze = hasattr(target, "_texts_frozen")
    if freeze:
        target._texts_frozen = True
    item.setTitle(f"{html.escape(title)}<br><span style='font-size:9pt; color:#444444'>{subtitle}</span>",
                  size="11pt")
    height = item.titleLabel.item.boundingRect().height() + 4  # PlotItem fixes the title row at 30 px
    item.titleLabel.setMaximumHeight(height)
    item.layout.setRowFixedHeight(0, height)
    item.layout.activate()
    QApplication.processEvents()
    try:
        yield
    finally:
        if freeze:
            target._texts_frozen = False
        if hasattr(target, "restore_full_texts"):
            target.restore_full_texts()
            target._fit_texts()
        else:
            item.setTitle(title, size="11pt")
        item.titleLabel.setMaximumHeight(30)
        item.layout.setRowFixedHeight(0, 30)
        item.layout.activate()


def export_png(target, path: str | os.PathLike, width: int = 1600) -> Path:
    """Render the chart to a PNG `width` pixels wide, laid out exactly as on screen.

    The chart's view is rendered at a higher device-pixel ratio, so fonts, axes and legend keep
    their on-screen proportions and come out sharp. (pyqtgraph's ImageExporter instead scales the
    fonts with the width and then drops tick labels that no longer fit the axis.) A plot with no
    view of a real size falls back to ImageExporter.
    """
    item = plot_item_of(target)
    if item.scene() is None:
        raise ValueError("the plot is not in a view; add it to a PlotWidget before exporting")
    path = Path(path)
    views = [v for v in item.scene().views() if v.width() > 10 and v.height() > 10]
    if views:
        image = _render_view(views[0], int(width))
        if not image.save(str(path), "PNG"):
            raise OSError(f"{path}: the PNG could not be written")
        return path
    from pyqtgraph.exporters import ImageExporter

    exporter = ImageExporter(item)
    params = exporter.parameters()
    # Setting width recomputes height as a float in some versions; set both as ints.
    rect = item.sceneBoundingRect()
    aspect = rect.height() / rect.width() if rect.width() > 0 else 0.6
    params["width"] = int(width)
    params["height"] = max(int(round(int(width) * aspect)), 1)
    exporter.export(str(path))
    if not path.exists():
        raise OSError(f"{path}: the PNG was not written")
    return path


def _render_view(view, width: int):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QWidget

    from PySide6.QtWidgets import QApplication

    # A first paint lets axes widen to their tick labels (pyqtgraph drops labels that don't fit
    # until the next layout pass); settle that before the real render.
    view.viewport().grab()
    QApplication.processEvents()
    QApplication.processEvents()
    scale = width / view.width()
    image = QImage(int(width), max(int(round(view.height() * scale)), 1), QImage.Format.Format_ARGB32)
    image.setDevicePixelRatio(scale)
    image.fill(Qt.GlobalColor.white)
    # QWidget.render onto the image (not QGraphicsView.render, which fits the scene to the
    # device's pixels and so would apply the scale twice).
    QWidget.render(view, image, QPoint())
    image.setDevicePixelRatio(1.0)  # the file holds `width` real pixels
    return image


def export_svg(target, path: str | os.PathLike, backend: str = "auto") -> Path:
    """Write the plot as SVG. backend: 'auto' (pyqtgraph, then Qt), 'pyqtgraph' or 'qt'."""
    item = plot_item_of(target)
    if item.scene() is None:
        raise ValueError("the plot is not in a view; add it to a PlotWidget before exporting")
    path = Path(path)
    if backend in ("auto", "pyqtgraph"):
        try:
            from pyqtgraph.exporters import SVGExporter

            SVGExporter(item).export(fileName=str(path))
            if path.exists() and path.stat().st_size > 0:
                return path
            raise OSError("SVGExporter wrote nothing")
        except Exception as exc:
            if backend == "pyqtgraph":
                raise
            log.info("pyqtgraph SVG export failed (%s); using QSvgGenerator", exc)
    return _export_svg_qt(item, path)


def _export_svg_qt(item, path: Path) -> Path:
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    source = item.sceneBoundingRect()
    width, height = max(int(source.width()), 1), max(int(source.height()), 1)
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(width, height))
    generator.setViewBox(QRectF(0, 0, width, height))
    generator.setTitle(item.titleLabel.text if hasattr(item, "titleLabel") else "Fleetcast chart")
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError(f"{path}: can't write the SVG file")
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        item.scene().render(painter, QRectF(0, 0, width, height), source)
    finally:
        painter.end()
    return path


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)  # shortest round-tripping form, never "1e+05." style noise
    return str(value)


def export_csv(headers: Sequence[str], rows: Iterable[Sequence], path: str | os.PathLike,
               context: Mapping[str, object] | None = None) -> Path:
    """Write `headers` (units in them, e.g. 'Installed H100 (chips)') and `rows`. Returns the path.

    `context` ({"Scenario": ..., "Model": ..., "Workload": ...}) goes first as '# Key: value'
    comment lines, so the file says what it shows (pandas: read_csv(path, comment="#")).
    Written atomically (a temporary file moved into place); replaces an existing file, since the
    callers have asked (a save dialog confirms, Export all checks first). Text cells that a
    spreadsheet would run as formulas are neutralised (engine.csv_io)."""
    from engine.csv_io import atomic_output, write_csv_rows
    from engine.errors import UserError

    path = Path(path)
    headers = list(headers)

    def checked(rows):
        for row in rows:
            row = list(row)
            if len(row) != len(headers):
                raise ValueError(f"row has {len(row)} values for {len(headers)} columns: {row!r}")
            yield row

    try:
        with atomic_output(path, force=True) as handle:
            for line in context_lines(context):  # comment lines: '#' is no formula trigger
                handle.write("# " + " ".join(line.splitlines()) + "\n")
            write_csv_rows(handle, headers, checked(rows), cell=_csv_cell)
    except UserError as exc:  # callers handle OSError for a file that can't be written
        raise OSError(str(exc)) from None
    return path
