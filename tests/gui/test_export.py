"""PNG, SVG and CSV export from a real chart, and the PlotPanel behind them."""

import csv
import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from PySide6.QtGui import QImage

from gui import export
from gui.widgets.plot_panel import PlotPanel, from_timestamp, to_timestamps

MONTHS = [dt.date(2024, m, 1) for m in range(1, 7)]


@pytest.fixture
def timeline(qtbot):
    panel = PlotPanel("Installed chips", y_label="Installed", y_unit="chips", time_axis=True)
    qtbot.addWidget(panel)
    panel.resize(800, 500)
    x = to_timestamps(MONTHS)
    panel.set_series("H100", x, [0, 0, 1000, 1000, 3000, 3000])
    panel.set_series("H20", x, [500, 500, 500, 2500, 2500, 2500])
    return panel


def test_png_has_the_requested_width(timeline, tmp_path):
    path = export.export_png(timeline, tmp_path / "chart.png", width=1234)
    image = QImage(str(path))
    assert not image.isNull()
    assert image.width() == 1234
    assert image.height() > 100


def test_png_of_never_shown_plotwidget_uses_explicit_width(qtbot, tmp_path):
    import pyqtgraph as pg

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    widget.plot([1, 2, 3], [3, 1, 2])
    image = QImage(str(export.export_png(widget, tmp_path / "w.png", width=900)))
    assert image.width() == 900


def _dark_rows(image: QImage) -> list[int]:
    """Rows (of a 1/10 sample) holding a pixel of the H100 series' blue."""
    rows = []
    for y in range(0, image.height(), 4):
        if any(_blue(image.pixelColor(x, y)) for x in range(0, image.width(), 8)):
            rows.append(y)
    return rows


def _blue(color) -> bool:
    return color.blue() > 150 and color.red() < 90 and color.green() < 150


@pytest.mark.parametrize("shown_size", [(800, 500), (260, 160)])
def test_a_squeezed_or_hidden_chart_exports_the_same_whole_chart(qtbot, tmp_path, shown_size):
    """A chart on a hidden tab or in a narrow window was written as it stood there: the plot
    squashed to a line under its title (1600 x 800 of mostly title), or cut off on the right."""
    panel = PlotPanel("Installed chips", y_label="Installed", y_unit="chips")
    qtbot.addWidget(panel)
    panel.resize(*shown_size)
    panel.set_series("H100", [0, 1, 2, 3, 4, 5], [0, 0, 1000, 1000, 3000, 3000], color="#0072b2")
    before = panel.plot_item.geometry()
    image = QImage(str(export.export_png(panel, tmp_path / "c.png", width=1600)))
    assert (image.width(), image.height()) == (1600, 960)     # the export layout, 1000 x 600, drawn at 1.6x
    rows = _dark_rows(image)
    assert rows and max(rows) - min(rows) > 0.5 * image.height()   # the series spans the plot's height
    assert panel.plot_item.geometry() == before                     # the window's layout is back
    svg = ET.parse(export.export_svg(panel, tmp_path / "c.svg", backend="qt")).getroot()
    assert svg.get("viewBox").split()[-2:] == ["1000", "600"]


@pytest.mark.parametrize("backend", ["pyqtgraph", "qt"])
def test_svg_parses_and_contains_drawing(timeline, tmp_path, backend):
    path = export.export_svg(timeline, tmp_path / f"chart-{backend}.svg", backend=backend)
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert tags & {"path", "polyline", "line"}, tags


def test_csv_from_panel_has_unit_headers_and_dates(timeline, tmp_path):
    path = timeline.export_csv(tmp_path / "chart.csv")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Date", "H100 (chips)", "H20 (chips)"]
    assert rows[1] == ["2024-01-01", "0", "500"]
    assert rows[6] == ["2024-06-01", "3000", "2500"]
    assert len(rows) == 7


def test_export_csv_writes_floats_without_noise(tmp_path):
    path = export.export_csv(["Step time (s)", "MFU (%)"], [[0.1 + 0.2, 41.0], [float("nan"), None]],
                             tmp_path / "x.csv")
    # ten significant figures: the binary noise of 0.1 + 0.2 is not a figure (nor 99.85000000000001)
    assert path.read_text(encoding="utf-8-sig").splitlines() == ["Step time (s),MFU (%)", "0.3,41", ","]
    more = export.export_csv(["a"], [[99.85000000000001], [0.09999999999999432], [42086.8993607626], [1.5e-12]],
                             tmp_path / "y.csv")
    assert more.read_text(encoding="utf-8-sig").splitlines() == ["a", "99.85", "0.1", "42086.89936", "1.5e-12"]


def test_export_csv_rejects_ragged_rows(tmp_path):
    with pytest.raises(ValueError, match="2 values for 3 columns"):
        export.export_csv(["a", "b", "c"], [[1, 2]], tmp_path / "bad.csv")


def test_set_series_updates_the_same_item(timeline):
    item = timeline.series_names() and timeline._series["H100"].item
    x = to_timestamps(MONTHS)
    again = timeline.set_series("H100", x, [1, 2, 3, 4, 5, 6])
    assert again is item
    assert list(timeline.series_data("H100")[1]) == [1, 2, 3, 4, 5, 6]
    # The legend was created before the items, so it lists them.
    assert [label.text for _, label in timeline.legend.items] == ["H100", "H20"]


def test_mismatched_lengths_are_refused(timeline):
    with pytest.raises(ValueError, match="x has 6 points, y has 2"):
        timeline.set_series("bad", to_timestamps(MONTHS), [1, 2])


def test_hover_readout_names_series_date_and_unit(timeline, qtbot):
    timeline.show()
    qtbot.waitExposed(timeline)
    timeline.plot_item.vb.autoRange()
    x = to_timestamps(MONTHS)[4]
    point = timeline.nearest_point(x, 2950)
    assert point == ("H100", x, 3000.0)
    assert timeline.readout_text(point) == "H100 · 2024-05-01 · 3,000 chips"
    # Through the scene signal as a mouse move would deliver it.
    scene_pos = timeline.plot_item.vb.mapViewToScene(__import__("PySide6.QtCore", fromlist=["QPointF"]).QPointF(x, 2600))
    timeline.plot_item.scene().sigMouseMoved.emit(scene_pos)
    assert timeline.readout.text().startswith(("H100 · 2024-05-01", "H20 · 2024-05-01"))


def test_far_from_every_point_shows_hint(timeline, qtbot):
    timeline.show()
    qtbot.waitExposed(timeline)
    timeline.plot_item.vb.autoRange()
    x = to_timestamps(MONTHS)
    assert timeline.nearest_point(x[0] - 400 * 86400, 1e6) is None
    assert "Hover" in timeline.readout_text(None)


def test_bars_and_band_are_in_the_data_table(qtbot):
    panel = PlotPanel("Step time breakdown", x_label="Layout", y_label="Time", y_unit="s")
    qtbot.addWidget(panel)
    panel.set_bars("Compute", [0, 1, 2], [1.5, 2.0, 0.5])
    panel.set_band("P10–P90", [0, 1, 2], [1.0, 1.5, 0.2], [2.0, 2.5, 0.9])
    headers, rows = panel.data_table()
    assert headers == ["Layout", "Compute (s)", "P10–P90 low (s)", "P10–P90 high (s)"]
    assert rows[1] == [1.0, 2.0, 1.5, 2.5]
    panel.set_bars("Compute", [0, 1, 2], [9, 9, 9])
    assert panel.data_table()[1][0][1] == 9.0
    panel.remove_series("P10–P90")
    assert panel.series_names() == ["Compute"]


def test_series_with_different_x_use_long_format(qtbot):
    panel = PlotPanel("t", x_label="Batch", x_unit="requests", y_label="Latency", y_unit="ms")
    qtbot.addWidget(panel)
    panel.set_series("A", [1, 2], [10, 20])
    panel.set_series("B", [4], [5])
    headers, rows = panel.data_table()
    assert headers == ["Series", "Batch (requests)", "Latency (ms)"]
    assert rows == [["A", 1.0, 10.0], ["A", 2.0, 20.0], ["B", 4.0, 5.0]]


def test_timestamps_round_trip():
    days = [dt.date(1999, 12, 31), dt.date(2024, 2, 29), dt.date(2031, 7, 1)]
    assert [from_timestamp(t) for t in to_timestamps(days)] == days
    assert to_timestamps([dt.date(1970, 1, 2)])[0] == 86400.0


def test_export_menu_actions_use_tested_functions(timeline, tmp_path, monkeypatch, qsettings_isolated):
    from PySide6.QtWidgets import QFileDialog

    target = tmp_path / "via-menu"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    messages = []
    timeline.status_message.connect(messages.append)
    timeline.export_csv_action.trigger()
    assert (tmp_path / "via-menu.csv").read_text(encoding="utf-8-sig").startswith("Date,H100 (chips),H20 (chips)")
    assert messages == [f"Saved CSV to {target}.csv"]


def test_band_and_bars_legend_paint_and_list_each_series_once(qtbot, tmp_path):
    from gui.widgets.plot_panel import PlotPanel

    panel = PlotPanel("Bands", x_label="Month", y_label="Chips", y_unit="chips")
    qtbot.addWidget(panel)
    panel.set_band("P10–P90", [0, 1, 2], [1, 2, 3], [2, 4, 6])
    panel.set_bars("Compute", [0, 1, 2], [1.0, 2.0, 3.0])
    panel.set_bars("Compute", [0, 1, 2], [2.0, 2.0, 2.0])  # update in place
    labels = [label.text for _, label in panel.legend.items]
    assert sorted(labels) == ["Compute", "P10–P90"]
    panel.resize(600, 400)
    panel.show()
    qtbot.waitExposed(panel)
    assert not panel.grab().isNull()  # painting the legend samples must not fail
    panel.remove_series("P10–P90")
    assert [label.text for _, label in panel.legend.items] == ["Compute"]
    from gui.export import export_png

    export_png(panel, tmp_path / "bands.png", width=800)
    assert (tmp_path / "bands.png").stat().st_size > 1000


def test_stacked_bar_hover_marker_sits_in_the_middle_of_its_segment(qtbot):
    from gui.widgets.category_chart import CategoryBarPanel

    chart = CategoryBarPanel("Breakdown", x_label="Layout", y_label="Time", y_unit="s")
    qtbot.addWidget(chart)
    chart.set_categories(["A", "B"])
    chart.set_stacked({"compute": [4.0, 2.0], "comm": [1.0, 3.0]})
    xs, ys = chart._marker_position(("comm", 1, 3.0))
    assert (xs, ys) == ([1], [2.0 + 1.5])  # above compute's 2.0, half of its own 3.0
    assert chart._marker_position(("compute", 0, 4.0)) == ([0], [2.0])


def test_past_a_dozen_series_the_legend_gives_way_to_the_hover_readout(qtbot):
    """Comparing all 34 chips filled two charts with legend and squeezed their plots to a strip."""
    from gui.widgets.plot_panel import MAX_LEGEND_ENTRIES

    panel = PlotPanel("Many chips", y_label="TTFT", y_unit="ms")
    qtbot.addWidget(panel)
    panel.resize(700, 420)
    for i in range(MAX_LEGEND_ENTRIES + 1):
        panel.set_series(f"chip {i}", [1, 2, 3], [i, i + 1, i + 2])
    panel.layout_legend()
    assert not panel.legend.isVisible() and "13 series (legend hidden)" in panel.readout.text()
    panel.remove_series("chip 0")
    panel.layout_legend()
    assert panel.legend.isVisible() and panel.readout.text() == "Hover or use arrow keys for values."


# ---- a failed or short write never replaces a good file (QA: a full disk left truncated files) ----

def _short_save(monkeypatch):
    """A PNG cut short on its way to the disk (no end chunk), as a full disk left one."""
    real_bytes = export.png_bytes

    def short(image):
        data = real_bytes(image)
        return data[: len(data) // 2]

    monkeypatch.setattr(export, "png_bytes", short)


def test_a_short_png_write_keeps_the_old_file_and_leaves_no_temporary(timeline, tmp_path, monkeypatch):
    folder = tmp_path / "out"
    folder.mkdir()
    good = export.export_png(timeline, folder / "chart.png", width=600)
    before = good.read_bytes()
    _short_save(monkeypatch)
    with pytest.raises(OSError, match="incomplete"):
        export.export_png(timeline, good, width=600)
    assert good.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["chart.png"]


def test_a_cut_svg_is_refused(tmp_path):
    whole = tmp_path / "a.svg"
    whole.write_text('<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>')
    export._check_whole(whole)
    cut = tmp_path / "b.svg"
    cut.write_text('<svg xmlns="http://www.w3.org/2000/svg"><g')
    with pytest.raises(OSError, match="SVG came out incomplete"):
        export._check_whole(cut)


def test_exported_images_are_ordinary_files_like_the_csv(timeline, tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        files = [export.export_png(timeline, tmp_path / "c.png", width=400),
                 export.export_svg(timeline, tmp_path / "c.svg"),
                 export.export_csv(["a"], [[1]], tmp_path / "c.csv")]
    finally:
        os.umask(umask)
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o644}


def test_a_suffix_added_after_the_dialog_asks_before_replacing_that_file(qtbot, tmp_path, monkeypatch):
    """QA: typing `report` in the save dialog wrote report.png over an existing report.png: the
    dialog had asked about `report`, not about the name with its suffix."""
    from PySide6.QtWidgets import QMessageBox

    from gui.widgets.save_path import with_suffix_confirmed

    asked, warned = [], []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or answer[0])
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    mine = tmp_path / "report.png"
    mine.write_bytes(b"mine")
    assert with_suffix_confirmed(None, str(tmp_path / "report"), "png") is None
    assert asked and "report.png already exists" in asked[0] and mine.read_bytes() == b"mine"
    answer[0] = QMessageBox.StandardButton.Yes
    assert with_suffix_confirmed(None, str(tmp_path / "report"), "png") == str(mine)
    assert with_suffix_confirmed(None, str(tmp_path / "new"), "png") == str(tmp_path / "new.png")
    assert len(asked) == 2                         # a new name is not asked about
    (tmp_path / "plots.svg").mkdir()
    assert with_suffix_confirmed(None, str(tmp_path / "plots"), "svg") is None and "is a folder" in warned[0]
