"""Saving charts and their data: PNG, SVG and CSV. No dialogs here; callers pick the path.

A chart is exported laid out at one size (EXPORT_LAYOUT_PX), not as it happens to stand in the
window, and only its own scene items are drawn. PNG renders that scene region at the asked width.
SVG tries pyqtgraph's SVGExporter and
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
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

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


def set_tall_title(item, title_html: str) -> None:
    """Set a plot's title (rich text, maybe several lines) and make its row tall enough to show
    it: PlotItem fixes the title row at 30 px."""
    item.setTitle(title_html, size="11pt")
    height = item.titleLabel.item.boundingRect().height() + 4
    item.titleLabel.setMaximumHeight(height)
    item.layout.setRowFixedHeight(0, height)


@contextlib.contextmanager
def titled(target, context: Mapping[str, object] | None):
    """While exporting: the chart's full title with a second line naming scenario, model and
    workload (a file must say what it shows); the window's title comes back afterwards."""
    item = plot_item_of(target)
    # the CLI line that reproduces the figures is for the CSV's comment lines, not a chart's title
    lines = context_lines({k: v for k, v in (context or {}).items() if k not in ("Chart", "CLI")})
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
        # The axis names its quantity in full: the window may have shortened it to the unit alone
        # ("(Ascend 910B2 chips)") for a short chart, and a file's reader can't hover to find it.
        if hasattr(target, "_set_axis_label"):
            target._set_axis_label("left", target.y_label, target.y_unit)
    on_screen = item.geometry()   # given back at the end (a longer title widens the item for good)
    set_tall_title(item, f"{html.escape(title)}<br><span style='font-size:9pt; color:#444444'>{subtitle}</span>")
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
        restore_geometry(item, on_screen)


# Every exported chart is laid out at this size (logical pixels) whatever its size in the window:
# a chart on a hidden tab or a narrow window was written as it stood there, squashed to a strip
# or cut off, and the same chart came out differently from the window and from `fleetcast export`.
EXPORT_LAYOUT_PX = (1000, 600)


@contextlib.contextmanager
def export_layout(target, size: tuple[int, int] = EXPORT_LAYOUT_PX):
    """While a file is written: the chart's plot laid out at `size`; yields its scene rectangle.
    Only the chart's own items are drawn (never the window's widgets around or over it), and its
    on-screen layout comes back afterwards."""
    from PySide6.QtCore import QRectF
    from PySide6.QtWidgets import QApplication

    item = plot_item_of(target)
    if item.scene() is None:
        raise ValueError("the plot is not in a view; add it to a PlotWidget before exporting")
    old = item.geometry()
    item.export_layout = True   # the chart leaves this size alone meanwhile (PlotPanel._fit_item_to_view)
    try:
        item.setGeometry(QRectF(old.x(), old.y(), float(size[0]), float(size[1])))
        _settle(item)
        # A first render lets the axes widen to their tick labels (pyqtgraph fits an axis to the
        # labels it drew), then the layout settles at that width.
        _render_scene(item, 64)
        _settle(item)
        yield item.sceneBoundingRect()
    finally:
        item.export_layout = False
        restore_geometry(item, old)
        QApplication.processEvents()


def restore_geometry(item, geometry) -> None:
    """Give the plot item its on-screen geometry back. Twice when needed: Qt never sets a widget
    narrower than its layout's minimum, which the export's full-length title raised; the chart
    shortens its title again once resized, and only then does the geometry fit (Compare's charts
    stayed export-wide, cut off in their cells, until the window was resized)."""
    for _ in range(2):
        item.setGeometry(geometry)
        _settle(item)
        if item.geometry() == geometry:
            return
    log.debug("plot item kept %s after an export instead of %s", item.geometry(), geometry)


def _settle(item) -> None:
    from PySide6.QtWidgets import QApplication

    if getattr(item, "layout", None) is not None:
        item.layout.invalidate()
        item.layout.activate()
    QApplication.processEvents()
    if getattr(item, "layout", None) is not None:
        item.layout.activate()


def _render_scene(item, width: int):
    """The item's part of its scene as a white-backed image `width` pixels wide (fonts, lines and
    legend scale with it: the layout is the export layout's, drawn larger)."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QImage, QPainter

    source = item.sceneBoundingRect()
    scale = width / max(source.width(), 1.0)
    image = QImage(int(width), max(int(round(source.height() * scale)), 1), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        item.scene().render(painter, QRectF(0, 0, image.width(), image.height()), source)
    finally:
        painter.end()
    return image


# Asked before each chart is drawn into a file; each may raise to stop there. A headless export or
# report puts its signal check here (engine.cli.SignalsDeferred.check): Ctrl+C then stops the
# report between two charts, in Python, never inside Qt's drawing.
_BEFORE_EACH_CHART: list[Callable[[], None]] = []


@contextlib.contextmanager
def checked_before_each_chart(check: Callable[[], None]):
    """`check()` is called before each chart is drawn while the block runs (it raises to stop)."""
    _BEFORE_EACH_CHART.append(check)
    try:
        yield
    finally:
        _BEFORE_EACH_CHART.remove(check)


def _before_drawing() -> None:
    for check in tuple(_BEFORE_EACH_CHART):
        check()


def export_png(target, path: str | os.PathLike, width: int = 1600) -> Path:
    """Render the chart to a PNG `width` pixels wide, laid out at EXPORT_LAYOUT_PX and drawn at
    width / 1000 times that (fonts, axes and legend keep their proportions and come out sharp).
    """
    _before_drawing()
    path = Path(path)
    with export_layout(target):
        image = _render_scene(plot_item_of(target), int(width))
    data = png_bytes(image)
    with staged_file(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
    return path


def png_bytes(image) -> bytes:
    """`image` encoded as PNG in memory, for Python to write. Qt saving to a file on a full disk
    said only that it failed, and libpng printed "libpng error: Write Error" on stderr itself
    (its own error handler: no Qt message a handler could catch); Python's write says why (No
    space left on device). OSError (naming no file: the caller names the one it meant) with what
    Qt said if the image cannot be encoded."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    try:
        with qt_messages_captured() as said:
            encoded = image.save(buffer, "PNG")
    finally:
        buffer.close()
    if not encoded:
        raise OSError("the PNG could not be encoded" + (f": {'; '.join(said)}" if said else ""))
    return bytes(data.data())


@contextlib.contextmanager
def qt_messages_captured():
    """Qt's warnings during the block are kept in the yielded list, not printed (the caller says
    what went wrong in its own one line); the handler installed before comes back afterwards."""
    from PySide6.QtCore import qInstallMessageHandler

    said: list[str] = []
    previous = qInstallMessageHandler(lambda mode, context, message: said.append(str(message).strip()))
    try:
        yield said
    finally:
        qInstallMessageHandler(previous)   # (None: Qt's own handler, as before)
        if said:
            log.debug("Qt said while a file was written: %s", "; ".join(said))


def export_svg(target, path: str | os.PathLike, backend: str = "auto") -> Path:
    """Write the plot as SVG, laid out at EXPORT_LAYOUT_PX. backend: 'auto' (pyqtgraph, then
    Qt), 'pyqtgraph' or 'qt'."""
    _before_drawing()
    item = plot_item_of(target)
    path = Path(path)
    with export_layout(target), staged_file(path) as tmp:
        if backend in ("auto", "pyqtgraph"):
            try:
                from pyqtgraph.exporters import SVGExporter

                SVGExporter(item).export(fileName=str(tmp))
                _check_whole(tmp)
                return path
            except OSError as exc:
                if exc.errno is not None or backend == "pyqtgraph":   # the disk said no: Qt's would too
                    raise
                log.info("pyqtgraph's SVG came out incomplete (%s); using QSvgGenerator", exc)
            except Exception as exc:
                if backend == "pyqtgraph":
                    raise
                log.info("pyqtgraph SVG export failed (%s); using QSvgGenerator", exc)
        with qt_messages_captured():   # a failed write shows as a short file (_check_whole)
            _export_svg_qt(item, tmp)
    return path


# PNG's last chunk, whole: IEND, no data, its CRC
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _check_whole(path: Path) -> None:
    """OSError unless `path` holds a whole PNG or SVG. Qt's writers report no error when the disk
    fills: they leave a short file (a PNG without its end chunk, an SVG cut mid-tag)."""
    kind = path.suffix.lower()
    if kind == ".png":
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(size - len(_PNG_END), 0))
            whole = size > len(_PNG_END) and handle.read() == _PNG_END
    elif kind == ".svg":
        import xml.etree.ElementTree as ET

        try:
            whole = ET.parse(path).getroot().tag.endswith("svg")
        except ET.ParseError:
            whole = False
    else:
        whole = path.stat().st_size > 0
    if not whole:
        raise OSError(f"the {kind.lstrip('.').upper()} came out incomplete (is the disk full?)")


@contextlib.contextmanager
def staged_file(path: Path):
    """A temporary file next to `path` for the body to write; checked whole, flushed to disk and
    moved onto `path` only then. A failed or short write leaves `path` as it was (a previous
    export stays whole) and no temporary file behind."""
    path = Path(path)
    from engine.csv_io import refuse_protected

    refuse_protected(path)   # never onto the open database
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise _without_file(exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _check_whole(tmp)
        settle_file(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise _without_file(exc) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _without_file(exc: OSError) -> OSError:
    """`exc` without the file it names: that is a hidden temporary (.name.x1y2.tmp.png), and the
    caller names the file meant (a disk-full export said the temporary's name)."""
    if exc.errno is not None and exc.strerror:
        return OSError(exc.errno, exc.strerror)
    return exc


def settle_file(path: Path) -> None:
    """Flush a finished temporary file to disk (a full disk may only show here, before the old
    file is replaced) and give it an ordinary file's permissions (mkstemp makes 0600)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


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
        raise OSError("can't write the SVG file")   # (`path` is a temporary: the caller names the file)
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
        # ten significant figures: sums and differences of binary floats carry noise in the last
        # digits (0.09999999999999432 for 0.1, 99.85000000000001) that no figure here means
        text = f"{value:.10g}"
        return text if "e" not in text else repr(float(text))
    return str(value)


def export_csv(headers: Sequence[str], rows: Iterable[Sequence], path: str | os.PathLike,
               context: Mapping[str, object] | None = None) -> Path:
    """Write `headers` (units in them, e.g. 'Installed H100 (chips)') and `rows`. Returns the path.

    `context` ({"Scenario": ..., "Model": ..., "Workload": ...}) goes first as '# Key: value'
    comment lines, so the file says what it shows (pandas: read_csv(path, comment="#")).
    Written atomically (a temporary file moved into place); replaces an existing file, since the
    callers have asked (a save dialog confirms, Export all checks first). Text cells that a
    spreadsheet would run as formulas are neutralised, and the file opens with a UTF-8 byte order
    mark so Excel reads its text as UTF-8 (engine.csv_io)."""
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
        with atomic_output(path, force=True, bom=True) as handle:
            for line in context_lines(context):  # comment lines: '#' is no formula trigger
                handle.write("# " + " ".join(line.splitlines()) + "\n")
            write_csv_rows(handle, headers, checked(rows), cell=_csv_cell)
    except UserError as exc:  # callers handle OSError for a file that can't be written
        cause = exc.__context__   # (kept by `from None`): the system's reason, without the file
        if isinstance(cause, OSError) and cause.errno is not None and cause.strerror:
            # atomic_output's text names its own temporary; `path` may be one (Export all's
            # staging), and every caller names the file it meant
            raise OSError(cause.errno, cause.strerror) from None
        raise OSError(str(exc)) from None
    return path
