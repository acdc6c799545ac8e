"""Export all: offscreen panels built for a scenario, every chart and table written."""

import csv
import xml.etree.ElementTree as ET

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QImage

from engine.errors import UserError
from engine.forecast import default_scenario, scenario_to_dict
from engine.store import open_store
from gui.export_all import build_offscreen_panels, export_all, shutdown_panels


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "export.db")
    params = scenario_to_dict(default_scenario())
    params.update(name="Short", months=24, trials=300)
    s.save_scenario("Short", params)
    yield s
    s.close()


@pytest.fixture
def panels(store, qtbot, qsettings_isolated):
    built = build_offscreen_panels(store, "Short")
    for panel in built.values():
        qtbot.addWidget(panel)
    yield built
    shutdown_panels(built)
    QThreadPool.globalInstance().waitForDone(5000)


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
    monthly = list(csv.reader(line for line in open(out / "forecast_monthly.csv", encoding="utf-8")
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
