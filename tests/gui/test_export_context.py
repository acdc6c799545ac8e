"""Every exported file says what it shows (scenario, model, workload), and the SVG heatmap is
plain rectangles with a scaling outline (no CSS pixelated image, no non-scaling strokes)."""

import csv
import re

import numpy as np
import pytest

from engine.store import open_store
from PySide6.QtWidgets import QApplication

from gui import export
from gui.widgets.heatmap import HeatmapPanel
from gui.widgets.plot_panel import PlotPanel


def test_csv_starts_with_context_comment_lines(tmp_path):
    path = export.export_csv(["Chips (chips)"], [[8]], tmp_path / "x.csv",
                             context={"Scenario": "Huawei delivers half", "Model": "Llama 3 70B", "Workload": ""})
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[:3] == ["# Scenario: Huawei delivers half", "# Model: Llama 3 70B", "Chips (chips)"]
    rows = list(csv.reader(line for line in lines if not line.startswith("#")))
    assert rows == [["Chips (chips)"], ["8"]]


def test_chart_exports_carry_the_context_and_restore_the_title(qtbot, tmp_path):
    chart = PlotPanel("Installed chips", y_label="Installed", y_unit="chips")
    qtbot.addWidget(chart)
    chart.resize(500, 300)
    chart.show()
    chart.set_series("H20", np.arange(3.0), np.arange(3.0))
    chart.context_provider = lambda: {"Scenario": "Story default", "Model": "Llama 3 70B"}
    chart.export_svg(tmp_path / "c.svg")
    chart.export_csv(tmp_path / "c.csv")
    svg = (tmp_path / "c.svg").read_text(encoding="utf-8")
    assert "Scenario: Story default" in svg and "Model: Llama 3 70B" in svg
    assert (tmp_path / "c.csv").read_text(encoding="utf-8-sig").startswith(
        "# Chart: Installed chips\n# Scenario: Story default\n# Model: Llama 3 70B\n")
    assert "Scenario" not in chart.plot_item.titleLabel.text  # the window's title is back


def test_svg_heatmap_is_rectangles_with_a_scaling_outline(qtbot, tmp_path):
    heatmap = HeatmapPanel("Layouts", x_label="TP", y_label="PP", value_label="Best", value_unit="tokens/s")
    qtbot.addWidget(heatmap)
    heatmap.resize(600, 400)
    heatmap.show()
    heatmap.set_grid([1, 2, 4], [1, 2], np.array([[1.0, 2.0, np.nan], [3.0, 4.0, 5.0]]),
                     [["", "", "out of memory"], ["", "", ""]], highlight=(2, 1))
    svg = export.export_svg(heatmap, tmp_path / "h.svg").read_text(encoding="utf-8")
    assert len(re.findall(r"<image\b", svg)) <= 1  # only the colour bar's gradient, not the cells
    outline = [m for m in re.findall(r"<g [^>]*>", svg) if 'stroke="#d55e00"' in m]
    assert outline and all("vector-effect" not in g for g in outline)
    assert len(heatmap._cells) == 6


@pytest.mark.slow
def test_export_all_names_scenario_model_and_workload(tmp_path, qtbot):
    from gui.export_all import build_offscreen_panels, export_all, shutdown_panels

    store = open_store(tmp_path / "e.db")
    built = build_offscreen_panels(store, "Huawei delivers half")
    try:
        written = export_all({"training": built["training"]}, tmp_path / "out", scenario="Huawei delivers half")
    finally:
        shutdown_panels(built)
        from PySide6.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(5000)
        for panel in built.values():
            panel.close()
            panel.deleteLater()
    csv_text = (tmp_path / "out" / "training_scaling.csv").read_text(encoding="utf-8-sig")
    assert csv_text.startswith("# Chart: Time to train vs chips")
    assert "# Scenario: Huawei delivers half\n# Model: Llama 3 70B\n# Workload: 1,024 × Ascend 910B2" in csv_text
    svg = (tmp_path / "out" / "training_scaling.svg").read_text(encoding="utf-8")
    assert "Scenario: Huawei delivers half" in svg
    assert any(p.suffix == ".png" for p in written)
    store.close()


def test_headless_default_is_the_baseline_not_the_last_opened(tmp_path, qsettings_isolated, qtbot):
    import json
    import os

    from gui.scenarios import SETTINGS_KEY, baseline_scenario, remembered_scenario
    from gui.settings import settings

    store = open_store(tmp_path / "b.db")
    settings().setValue(SETTINGS_KEY, json.dumps({os.path.realpath(tmp_path / "b.db"): "Huawei delivers half"}))
    assert remembered_scenario(store) == "Huawei delivers half"  # what the window reopens
    assert baseline_scenario(store) == "Story default"           # what `fleetcast export` uses
    store.close()


def test_a_new_database_opens_on_its_baseline_not_the_last_databases_what_if(tmp_path, qsettings_isolated, qtbot):
    """QA: File > New database opened on the previous database's "Huawei delivers half", and
    that name then labelled every export of the new one."""
    from gui.scenarios import ScenarioBar, remembered_scenario

    first = open_store(tmp_path / "first.db")
    bar = ScenarioBar(first)
    qtbot.addWidget(bar)
    bar.select("Huawei delivers half")
    second = open_store(tmp_path / "second.db")
    assert remembered_scenario(second) == "Story default"
    assert remembered_scenario(first) == "Huawei delivers half"   # each database keeps its own
    bar.detach()
    first.close()
    second.close()


def test_an_export_names_the_axis_quantity_the_short_window_chart_left_out(qtbot, tmp_path):
    """At 1280x720 the Forecast's capacity axis has room for its unit only ("(Ascend 910B2
    chips)"); the exported file is laid out larger and must name the quantity, at the normal size,
    and the window's short label comes back afterwards."""
    chart = PlotPanel("Capacity vs demand", y_label="Capacity, demand", y_unit="Ascend 910B2 chips")
    qtbot.addWidget(chart)
    chart.show()
    chart.resize(400, 170)
    chart.set_series("P50", np.arange(3.0), np.arange(3.0))
    QApplication.processEvents()
    short = chart._shown_y_label
    assert "Capacity" not in short[0]
    chart.context_provider = lambda: {"Scenario": "Story default"}
    chart.export_svg(tmp_path / "c.svg")
    svg = (tmp_path / "c.svg").read_text(encoding="utf-8")
    assert "Capacity, demand (Ascend 910B2 chips)" in svg
    QApplication.processEvents()
    assert chart._shown_y_label == short
