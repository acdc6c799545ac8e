"""The Forecast view on the seeded store: edit -> run -> result, cancel, export, scenario state."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QImage, QUndoStack

from engine.forecast import scenario_from_dict
from engine.store import open_store
from gui.export_all import export_all
from gui.panels.forecast import ForecastPanel, key_figures


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "forecast.db")
    yield s
    s.close()


@pytest.fixture
def panel(store, qtbot):
    stack = QUndoStack()
    p = ForecastPanel(store, stack)
    p._test_stack = stack
    qtbot.addWidget(p)
    p.auto_check.setChecked(False)  # tests start runs themselves
    yield p
    p.shutdown()
    QThreadPool.globalInstance().waitForDone(5000)


def _run(panel, qtbot):
    with qtbot.waitSignal(panel.result_ready, timeout=20000) as blocker:
        assert panel.run() is not None
    return blocker.args[0]


def test_run_shows_result_in_charts_and_tables(panel, qtbot):
    result = _run(panel, qtbot)
    assert panel.result is result and not panel.is_running()
    x, p50 = panel.capacity_chart.series_data("Capacity P50")
    assert len(x) == panel.months_spin.value() == len(result.months)
    assert np.array_equal(p50, result.serving_capacity_unit_chips.p50)
    headers, rows = panel.tables()["monthly"]
    assert headers[0] == "Month" and all("(" in h for h in headers[1:])  # every value column has a unit
    assert len(rows) == len(result.months)
    # P10 <= P50 <= P90 of installed chips, every month
    assert all(r[1] <= r[2] <= r[3] for r in rows)
    assert panel.jobs_table.rowCount() == len(result.jobs) == 1
    assert "trials" in panel.summary_label.text()


def test_editing_the_training_share_moves_the_job_and_a_second_run_reuses_throughputs(panel, qtbot):
    first = _run(panel, qtbot)
    spin = panel._share_spins["ascend-910b2"]
    spin.setValue(spin.value() / 2)  # half the chips train: the job must finish later
    assert panel.scenario().allocation.training_share["ascend-910b2"] == pytest.approx(0.25)
    second = _run(panel, qtbot)
    assert np.nanmedian(second.jobs[0].completion_ordinals) > np.nanmedian(first.jobs[0].completion_ordinals)
    assert panel.inputs.serving_tokens_per_s_per_chip == panel._cache[4].serving_tokens_per_s_per_chip
    # more chips serve, so the serving capacity rises
    assert second.serving_capacity_unit_chips.p50[-1] > first.serving_capacity_unit_chips.p50[-1]


def test_edit_schedules_a_debounced_run_when_auto_is_on(panel, qtbot):
    panel.auto_check.setChecked(True)
    with qtbot.waitSignal(panel.result_ready, timeout=20000) as blocker:
        panel.peak_spin.setValue(2.0)
    assert blocker.args[0].scenario.demand.peak_to_average == 2.0


def test_cancel_mid_run_keeps_previous_result_and_leaves_no_worker(panel, qtbot):
    first = _run(panel, qtbot)
    before = panel.capacity_chart.series_data("Capacity P50")[1].copy()
    panel.trials_spin.setValue(50_000)
    panel._cache = None  # force the slow path (throughputs re-estimated) so the run is in flight
    with qtbot.waitSignal(panel.runner.progress, timeout=10000):
        panel.run()
    with qtbot.waitSignal(panel.runner.cancelled, timeout=5000):
        panel.cancel()
    assert not panel.is_running()
    assert QThreadPool.globalInstance().waitForDone(10000)
    qtbot.wait(50)  # let any queued signal of the stopped worker arrive (it must be dropped)
    assert panel.result is first
    assert np.array_equal(panel.capacity_chart.series_data("Capacity P50")[1], before)
    assert "Cancelled" in panel.progress_bar.format()


def test_bad_distribution_is_flagged_at_the_field_and_not_run(panel, qtbot):
    panel.unc_target.setCurrentIndex(panel.unc_target.findData("default"))
    panel.frac_dist.setCurrentIndex(panel.frac_dist.findData("triangular"))
    panel.frac_low.setValue(90)
    panel.frac_high.setValue(50)  # low above high
    assert panel.run() is None
    assert not panel.is_running()
    assert panel.validation_label.isVisibleTo(panel) and "fraction" in panel.validation_label.text()
    assert "c0392b" in panel.frac_low.styleSheet()


def test_vendor_specific_uncertainty_round_trips_through_scenario_state(panel):
    i = panel.unc_target.findData("vendor:Huawei")
    assert i >= 0
    panel.unc_target.setCurrentIndex(i)
    assert panel.unc_specific.isChecked()  # the story sets Huawei's distribution
    panel.delay_high.setValue(500)
    state = panel.scenario_state()
    assert state["vendor_uncertainty"]["Huawei"]["delay_high_days"] == 500
    sc = scenario_from_dict(state)
    assert sc.vendor_uncertainty["Huawei"].delay_high_days == 500
    # Unticking "own distribution" falls back to the default
    panel.unc_specific.setChecked(False)
    assert "Huawei" not in panel.scenario_state()["vendor_uncertainty"]
    # apply_scenario_state restores the widgets and ignores "ui"
    panel.apply_scenario_state({**state, "ui": {"training": {"x": 1}}})
    panel.unc_target.setCurrentIndex(panel.unc_target.findData("vendor:Huawei"))
    assert panel.delay_high.value() == 500


def test_export_writes_valid_png_svg_csv(panel, tmp_path):
    written = export_all({"forecast": panel}, tmp_path / "out")
    names = {p.name for p in written}
    for chart in panel.charts():
        assert {f"forecast_{chart}.png", f"forecast_{chart}.svg", f"forecast_{chart}.csv"} <= names
        image = QImage(str(tmp_path / "out" / f"forecast_{chart}.png"))
        assert not image.isNull() and image.width() == 1600
        ET.parse(tmp_path / "out" / f"forecast_{chart}.svg")
        lines = (tmp_path / "out" / f"forecast_{chart}.csv").read_text().splitlines()
        assert len(lines) > 1 and lines[0].startswith(("Date", "Series"))
    assert "forecast_monthly.csv" in names and "forecast_key_figures.csv" in names


def test_key_figures_match_the_result(panel):
    panel.compute_now()
    figures = dict(key_figures(panel.result))
    r = panel.result
    assert figures["Installed P50 at horizon end, all types (chips)"] == pytest.approx(r.installed_total.p50[-1])
    assert figures["Months with a P50 shortfall (months)"] == int((r.shortfall_p50_unit_chips > 0).sum())
