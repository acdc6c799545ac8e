"""QA round 20 (b): Compare's demand on an empty fleet, one Run key for every view, tile text and
titles that fit at 1280 px, and key answers that say whose inputs they are."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool, Qt
from PySide6.QtWidgets import QApplication

from engine.store import open_store
from gui import report
from tests.gui.shared_setups import story_store_with_all_serve

ANALYSIS_RUNS = {   # view -> (its tab, the method its run button calls, the button's text)
    "training": (1, "start_analysis", "Run search"),
    "inference": (2, "start_comparison", "Compare chips"),
    "forecast": (3, "run", "Run forecast"),
    "plan": (4, "run", "Find the cheapest plan"),
    "compare": (5, "run", "Compare"),
}


@pytest.fixture
def compare_store(tmp_path):
    """The story's default and one variant on 500 trials (Compare's own test's pair)."""
    s = story_store_with_all_serve(tmp_path / "compare.db", trials=500)
    yield s
    s.close()


def test_an_empty_fleet_keeps_the_demand_line_on_compare_capacity_chart(compare_store, qtbot):
    """Every order deleted: the capacity chart's axis was pinned to 0-1, hiding the demand line
    (up to 2.5 million chips) its legend lists."""
    from gui.panels.compare import ComparePanel

    for order in compare_store.orders():
        compare_store.delete_order(order.id)
    panel = ComparePanel(compare_store)
    qtbot.addWidget(panel)
    try:
        panel.resize(1280, 690)
        panel.show()
        qtbot.waitExposed(panel)
        qtbot.waitUntil(lambda: bool(panel.outcomes), timeout=60000)   # it compares when first shown
        demand = panel.capacity_chart.series_data("Peak demand")[1]
        assert float(demand.max()) > 1

        def demand_in_view() -> bool:
            low, high = panel.capacity_chart.plot_item.viewRange()[1]
            return high >= float(demand.max()) and low <= 0

        qtbot.waitUntil(demand_in_view, timeout=5000)
        # the installed chart has only zeros: 0-1 there, with the reason said
        assert panel.installed_chart.plot_item.viewRange()[1] == [0.0, 1.0]
        for chart in (panel.capacity_chart, panel.installed_chart):
            assert chart.notice() == "No chips installed in any scenario: add orders in the Fleet view"
    finally:
        panel.shutdown()
        QThreadPool.globalInstance().waitForDone(5000)


def _wait_idle(qtbot, panel) -> None:
    from gui.app import view_is_busy

    qtbot.waitUntil(lambda: not view_is_busy(panel), timeout=60000)


def _shown_at_1280(window, qtbot, tab: int, key: str):
    """The window on a 1280x720 laptop (less its frame), on view `key` (tab `tab`)."""
    window.resize(1280, 690)
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(tab)
    return window.panels[key]


def test_f5_and_ctrl_r_run_the_forecast_with_update_as_i_edit_off(window, qtbot):
    """F5, Ctrl+R and the menus ran nothing: with "Update as I edit" off, no key reran a forecast."""
    panel = _shown_at_1280(window, qtbot, 3, "forecast")
    panel.auto_check.setChecked(False)
    window.activateWindow()   # a window's shortcut needs it active
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    qtbot.wait(100)
    _wait_idle(qtbot, panel)
    panel.seed_spin.setFocus()   # typing in a field, as the QA script did
    assert window.run_action in window.view_menu.actions()
    assert [k.toString() for k in window.run_action.shortcuts()] == ["F5", "Ctrl+R"]
    assert window.run_action.text().replace("&", "") == "Run forecast" and "F5" in window.run_action.toolTip()
    assert "F5" in panel.run_button.toolTip()   # the button says its key too
    for key, modifier in ((Qt.Key.Key_F5, Qt.KeyboardModifier.NoModifier),
                          (Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)):
        before = panel.runner.generation
        qtbot.keyClick(window, key, modifier)
        assert panel.runner.generation == before + 1
        _wait_idle(qtbot, panel)


def test_the_run_action_runs_each_views_own_computation(window, qtbot, monkeypatch):
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(0)
    assert not window.run_action.isEnabled()   # the Fleet view has nothing to run
    calls = []
    for key, (tab, method, text) in ANALYSIS_RUNS.items():
        panel = window.panel(key)
        monkeypatch.setattr(panel, method, lambda *a, key=key, **k: calls.append(key))
        window.tabs.setCurrentIndex(tab)
        _wait_idle(qtbot, panel)   # (a view computes once when first shown)
        calls.clear()
        assert window.run_action.text().replace("&", "") == text and window.run_action.isEnabled()
        window.run_action.trigger()
        assert calls == [key]


def test_the_run_action_waits_while_the_view_is_busy(window, qtbot, monkeypatch):
    """F5 held down must not restart a long run: off while the view on screen runs."""
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(3)
    panel = window.panels["forecast"]
    panel.auto_check.setChecked(False)
    _wait_idle(qtbot, panel)
    calls = []
    monkeypatch.setattr(panel, "run", lambda: calls.append("run"))
    monkeypatch.setattr(panel.runner, "is_running", lambda: True)
    panel.runner.busy_changed.emit(True)
    assert not window.run_action.isEnabled() and "running" in window.run_action.text()
    assert window.run_current_view() is False and calls == []
    monkeypatch.setattr(panel.runner, "is_running", lambda: False)
    panel.runner.busy_changed.emit(False)
    assert window.run_action.isEnabled() and window.run_current_view() is True and calls == ["run"]


def test_inference_memory_tile_and_compare_title_fit_at_1280(window, qtbot):
    """"of 96 GiB; KV 0.049 GiB/seq on e…" and "Capacity vs demand (zo…" were cut at 1280 px."""
    inference = _shown_at_1280(window, qtbot, 2, "inference")
    qtbot.waitUntil(lambda: inference.tiles.value("memory") not in ("–", ""), timeout=30000)
    label = inference.tiles.detail_label("memory")
    assert label.text().endswith("GiB/seq") and label.shown_text() == label.text()
    assert "per sequence on each chip" in label.toolTip()   # the detail in full words
    window.tabs.setCurrentIndex(5)
    compare = window.panels["compare"]
    _wait_idle(qtbot, compare)
    qtbot.waitUntil(lambda: bool(compare.outcomes), timeout=60000)
    chart = compare.capacity_chart
    assert chart.title == "Capacity, demand (zoomed)"   # the story's demand runs far past capacity
    qtbot.waitUntil(lambda: chart._shown_title == chart.title, timeout=5000)


def _context(**overrides) -> report.ReportContext:
    base = dict(scenario="Test", params={}, created=dt.datetime(2026, 1, 2), db_path=Path("/tmp/x.db"),
                figures={}, tables={}, charts=[], orders=[], chips={}, stored_calibration={}, accuracy={})
    base.update(overrides)
    return report.ReportContext(**base)


TRAINING = {"Model": ("Llama 3 70B", ""), "Chip": ("Ascend 910B2", ""), "Chips": (1024, "chips"),
            "Time to train": (478.9, "days")}
SERVING = {"Model": ("Llama 3 70B", ""), "Chip": ("H20", ""), "Chips needed": (13016, "chips"),
           "Peak demand": (1e6, "output tokens/s"), "Throughput at SLO": (76.8, "tokens/s/chip")}


def test_key_answers_say_whose_inputs_they_are():
    """The training and serving answers (Llama 3 70B) sat beside the forecast's 405B job and
    Doubao demand with nothing saying they were the Training and Inference views' own inputs."""
    job = ["405B dense on 15T tokens"] + [None] * 6 + [dt.date(2025, 9, 1), dt.date(2026, 1, 1), 97.0]
    ctx = _context(figures={"training": TRAINING, "inference": SERVING, "forecast": {"Horizon end": ("", "")}},
                   tables={"forecast": {"jobs": (["Job"], [job])}},
                   params={"demand": {"model_id": "qwen3-235b-a22b"}},
                   extra={"model_names": {"qwen3-235b-a22b": "Qwen3 235B-A22B"}})
    text = report.key_answers_section(ctx)
    assert ("<li><i>From the Training view's inputs, not the forecast's job below:</i> Training "
            "<b>Llama 3 70B</b>") in text
    assert "the job <b>405B dense on 15T tokens</b> finishes by" in text
    assert ("<li><i>From the Inference view's inputs, not the forecast's demand served by Qwen3 235B-A22B:</i> "
            "Serving <b>Llama 3 70B</b>") in text
    # with no forecast job or demand, the source alone
    alone = report.key_answers_section(_context(figures={"training": TRAINING, "inference": SERVING}))
    assert "<i>From the Training view's inputs:</i> Training" in alone
    assert "<i>From the Inference view's inputs:</i> Serving" in alone


@pytest.mark.slow
def test_the_report_names_the_demands_served_model(tmp_path, qapp, monkeypatch):
    """write_report gives the key answers the catalog's model names (not the id)."""
    from gui.export_all import build_offscreen_panels, shutdown_panels
    from gui.scenarios import ensure_default_scenario

    store = open_store(tmp_path / "story.db")
    captured = {}

    def spy(ctx):
        captured["text"] = report.key_answers_section(ctx)
        return captured["text"]

    monkeypatch.setattr(report, "SECTIONS", [(name, spy if name == "key answers" else build)
                                             for name, build in report.SECTIONS])
    try:
        ensure_default_scenario(store)
        panels = build_offscreen_panels(store, "Story default")
        try:
            report.write_report(store, panels, "Story default", store.scenario("Story default")["params"],
                                tmp_path / "story.pdf", partial=True)
        finally:
            shutdown_panels(panels)
            for panel in panels.values():
                panel.close()
                panel.deleteLater()
        served = {m.id: m.name for m in store.models()}["qwen3-235b-a22b"]
        assert f"served by {served}:</i> Serving" in captured["text"]
        assert "From the Training view's inputs, not the forecast's job below:</i> Training" in captured["text"]
    finally:
        store.close()
        QThreadPool.globalInstance().waitForDone(5000)
