"""Export all: offscreen panels built for a scenario, every chart and table written."""

import csv
import xml.etree.ElementTree as ET

import pytest
from PySide6.QtGui import QImage

from engine.errors import UserError
from tests.gui.shared_setups import offscreen_export_panels, short_scenario_store
from gui.export_all import build_offscreen_panels, export_all


@pytest.fixture
def store(tmp_path):
    s = short_scenario_store(tmp_path / "export.db")
    yield s
    s.close()


@pytest.fixture
def panels(store, qtbot, qsettings_isolated):
    yield from offscreen_export_panels(store, qtbot)


def test_scenario_is_applied_and_everything_is_written(panels, tmp_path):
    assert {"forecast", "compare"} <= set(panels)
    assert panels["forecast"].months_spin.value() == 24
    assert panels["compare"].selected()[0] == "Short" or "Short" in panels["compare"].selected()
    out = tmp_path / "all"
    written = export_all(panels, out)
    names = {p.name for p in written}
    for key, panel in panels.items():
        for chart in panel.charts():
            for ext in ("png", "svg", "csv"):
                assert f"{key}_{chart}.{ext}" in names
        for table in panel.tables():
            assert f"{key}_{table}.csv" in names
    monthly = list(csv.reader(line for line in open(out / "forecast_monthly.csv", encoding="utf-8-sig")
                              if not line.startswith("#")))
    assert len(monthly) == 1 + 24  # compute_now ran with the scenario's horizon
    assert not QImage(str(out / "forecast_installed_by_type.png")).isNull()
    ET.parse(out / "compare_capacity_p50.svg")


def test_unknown_scenario_and_unwritable_folder(store, tmp_path, qsettings_isolated, qtbot):
    with pytest.raises(UserError, match="Nope"):
        build_offscreen_panels(store, "Nope")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="can't write"):
        export_all({}, blocker / "x")


def test_a_failure_part_way_changes_nothing_in_the_folder(panels, tmp_path, monkeypatch):
    """QA: a full disk during `export --force` replaced 72 of 97 files and said nothing was
    changed. Every file is now written and checked before any is moved into place."""
    from gui import export as export_mod

    out = tmp_path / "all"
    first = export_all(panels, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real_csv, calls = export_mod.export_csv, []

    def failing(headers, rows, path, context=None):
        calls.append(path)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        return real_csv(headers, rows, path, context=context)

    monkeypatch.setattr(export_mod, "export_csv", failing)
    with pytest.raises(UserError, match="No space left on device.*nothing was written"):
        export_all(panels, out, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # no temporary left either
    assert len(first) == len(before)


def test_a_folder_in_the_way_is_refused_before_writing(panels, tmp_path):
    out = tmp_path / "all"
    out.mkdir()
    (out / "forecast_monthly.csv").mkdir()
    with pytest.raises(UserError, match="forecast_monthly.csv: is not a file; nothing was written"):
        export_all(panels, out, force=True)
    assert [p.name for p in out.iterdir()] == ["forecast_monthly.csv"]


def test_every_chart_csv_has_numbers_or_says_why_not(panels, tmp_path):
    """An empty chart's CSV was its header alone, listed among the files written as if it held
    results; it keeps its name (scripts find every file) and a comment line says why."""
    out = tmp_path / "all"
    export_all(panels, out)
    empty_seen = 0
    for key, panel in panels.items():
        for chart_key, chart in panel.charts().items():
            lines = open(out / f"{key}_{chart_key}.csv", encoding="utf-8").read().splitlines()
            data = [line for line in lines if not line.startswith("#")]
            said = [line for line in lines if line.startswith("# No data:")]
            assert (len(data) > 1) != bool(said), (key, chart_key, lines[:3])
            if said:
                empty_seen += 1
                assert chart.empty_reason() in said[0]


def test_an_empty_chart_in_export_all_says_why(panels, tmp_path, monkeypatch):
    chart = next(iter(panels["forecast"].charts().values()))
    monkeypatch.setattr(type(chart), "data_table", lambda self: (["Date"], []))
    export_all(panels, tmp_path / "all")
    key = next(k for k, c in panels["forecast"].charts().items() if c is chart)
    text = open(tmp_path / "all" / f"forecast_{key}.csv", encoding="utf-8").read()
    assert "# No data: " in text
