"""QA round 19, text and layout: the run bar elides, advice follows the reasons, a chip that
cannot hold the model says so, the Plan's wall time, Compare's baseline tick, and small slips."""

import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from engine.forecast import ForecastScenario
from engine.store import open_store


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "qa19.db")
    yield s
    s.close()


# ---- 1. Training: the run bar elides; the advice follows the reasons ---------------------------

def test_the_run_bar_elides_a_long_message_and_keeps_it_whole_in_text_and_tooltip(qtbot):
    """At 1280 px the red message stopped mid-word under Run search ("…; set Chi"), no ellipsis."""
    from gui.panels.base import RunBar

    bar = RunBar("Run search")
    qtbot.addWidget(bar)
    bar.resize(500, 30)
    bar.show()
    text = "Set Chips to 1,016 (5 idle), where TP8 PP1 trains at 331,932 tokens/s in all. " * 3
    bar.set_message(text, error=True)
    qtbot.wait(10)
    shown = bar.message.shown_text()
    assert shown.endswith("…") and text.startswith(shown[:-1])
    assert bar.message.text() == text and bar.message.toolTip() == text
    bar.set_progress(0.5, "Searching layouts…")    # progress messages carry their tooltip too
    assert bar.message.toolTip() == "Searching layouts…"


def test_no_fit_advice_follows_the_reasons():
    """"Add chips, shorten the sequence or pick a chip with more memory" was said whatever the
    reason, also for a count whose layouts merely do not divide the batch."""
    from gui.panels.training import no_fit_advice, no_fit_text

    memory = no_fit_advice({"out of memory": 480}, None, 1)
    assert memory.startswith("Add chips") and "factors" not in memory
    factors = no_fit_advice({"global batch not divisible by dp x micro-batch": 60}, None, 1021)
    assert "more factors" in factors and "memory" not in factors
    both = no_fit_advice({"out of memory": 5, "layout does not match the chip count": 50}, None, 1021)
    assert both.index("more factors") < both.index("memory")    # the commonest reason first
    fewer = no_fit_advice({"global batch not divisible by dp x micro-batch": 60}, (1016, 326.7, "TP8 PP1"), 1021)
    assert fewer.startswith("Set Chips to 1,016 (5 idle)") and "TP8 PP1" in fewer
    search = SimpleNamespace(infeasible_by_reason={"global batch not divisible by dp x micro-batch": 60},
                             layouts_evaluated=60)
    assert no_fit_text(search, (1016, 326.7, "TP8 PP1"), 1021, advice_first=True).startswith("Set Chips to 1,016")
    assert no_fit_text(search, None, 1021).startswith("No layout fits among 60: ")


def test_a_badly_factored_count_names_the_count_to_set_first_in_the_run_bar(store, qtbot):
    """1,021 Ascend 910B2 for Llama 3 70B: no layout divides the batch; 1,016 trains."""
    from gui.panels.training import TrainingPanel

    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    try:
        panel.apply_scenario_state({**panel.scenario_state(), "model_id": "llama3-70b", "chip_id": "ascend-910b2",
                                    "num_chips": 1021, "layout_mode": "search"})
        panel.compute_now()
        assert panel.analysis.search.best is None and panel.analysis.fewer_chips
        m = panel.analysis.fewer_chips[0]
        assert panel.run_bar.message.text().startswith(f"Set Chips to {m:,}")
        assert f"Set Chips to {m:,}" in panel.notes.text() and "Add chips" not in panel.notes.text()
    finally:
        panel.shutdown()


def test_the_mfu_tile_names_its_rate_as_model_flops(store, qtbot):
    """"HFU 40.1% · 147 TFLOP/s": the 147 is MFU x peak (model FLOPs), not HFU's rate."""
    from gui.panels.training import TrainingPanel

    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    try:
        panel.compute_now()
        r = panel.result
        detail = panel.tiles.detail("mfu")
        assert detail.startswith(f"HFU {r.hfu_pct:.1f}%, model {r.model_tflops_per_chip:.0f} TF/s")
        assert "TFLOP/s of model FLOPs per chip" in panel.tiles.detail_label("mfu").toolTip()
    finally:
        panel.shutdown()


# ---- 2. An empty chart's notice follows its view --------------------------------------------------

def test_an_empty_charts_notice_is_re_centred_and_wrapped_when_its_view_changes(qtbot):
    """The tornado's notice was placed in data coordinates once, while the chart was hidden: shown
    later it sat off-centre, cut at the right edge."""
    from gui.panels.forecast_charts import GroupedBarPanel

    chart = GroupedBarPanel("P(meet demand): change from the scenario", y_label="P(meet)", y_unit="points")
    qtbot.addWidget(chart)
    chart.set_notice("Press \u201cCompute sensitivity (tornado)\u201d to see which input moves this most")
    chart.resize(420, 300)
    chart.show()
    qtbot.wait(20)
    vb = chart.plot_item.vb
    vb.setRange(xRange=(0, 10), yRange=(0, 4), padding=0)
    qtbot.wait(20)
    notice = chart._notice
    (x0, x1), (y0, y1) = vb.viewRange()
    assert notice.pos().x() == pytest.approx((x0 + x1) / 2) and notice.pos().y() == pytest.approx((y0 + y1) / 2)
    inside = vb.mapRectFromItem(notice, notice.boundingRect())
    assert vb.boundingRect().contains(inside), (inside, vb.boundingRect())


# ---- 3. Inference: a chip that cannot hold the model says so --------------------------------------

def test_a_chip_that_cannot_hold_the_model_says_it_does_not_fit(store, qtbot):
    """Llama 3 70B on a 96 GiB H20 at TP 1 (131.4 GiB of weights): the run bar said "the p90
    targets were not simulated" and the tile "no load meets the targets"."""
    from gui.panels.inference import InferencePanel

    panel = InferencePanel(store)
    qtbot.addWidget(panel)
    try:
        panel.apply_scenario_state({"model_id": "llama3-70b", "chip_id": "h20-96gb", "tp": 1, "input_len": 1024,
                                    "output_len": 256, "ttft_ms": 2000.0, "tpot_ms": 50.0,
                                    "compare_chips": ["h20-96gb", "h100-sxm5-80gb"]})
        panel.compute_now()
        message = panel.run_bar.message.text()
        assert "not simulated" not in message
        assert "does not fit on H20 at TP1: weights 131.4 GiB per chip > 96 GiB; use a larger TP" in message
        assert panel.tiles.value("throughput") == "does not fit"
        assert panel.tiles.detail("throughput") == "weights 131.4 > 96 GiB"
        assert panel.notes.text().endswith("Use a larger TP.")
    finally:
        panel.shutdown()


def test_the_prefix_cache_field_takes_what_serve_takes(store, qtbot):
    """The form stopped at 95% while `serve --prefix-cache-pct` and the study take 0 to 99."""
    from gui.panels.inference import InferencePanel

    panel = InferencePanel(store)
    qtbot.addWidget(panel)
    try:
        assert panel.prefix_spin.maximum() == 99
    finally:
        panel.shutdown()


# ---- 4. and 8. Plan: the whole run's time; sentences start with a capital ---------------------------

def test_the_plan_says_the_whole_runs_time_and_its_sentences_start_with_capitals(plan_panel, monkeypatch):
    """"Done in 0.2 s" after a 2.6 s run (it showed the LP's time alone); "... noise allows. job
    405B dense ..." and "<b>No plan</b> .... the cheapest plan ..." began sentences in lower case."""
    import gui.panels.plan as plan_mod

    real = plan_mod.compute_plan

    def slow(job, **kw):   # what the run spends beside the solver (trials, fresh checks)
        time.sleep(2.0)
        return real(job, **kw)

    monkeypatch.setattr(plan_mod, "compute_plan", slow)
    plan_panel.compute_now()
    r = plan_panel.result
    assert r is not None and r.feasible, r.why if r else None
    took = float(plan_panel.progress_bar.format().split("Done in ")[1].split(" s")[0])
    assert took >= 2.0 and took >= r.solve_s + 1.9   # the whole run, not the solver alone
    assert f"(solver {r.solve_s:.1f} s)" in plan_panel.progress_bar.format()
    assert r.status in plan_panel.progress_bar.toolTip()
    summary = plan_panel._summary(replace(r, jobs_prob_by_deadline={"405B dense on 15T tokens": 1.0}), "H20")
    assert "Job 405B dense on 15T tokens: 100% by its deadline." in summary and " job 405B" not in summary
    refused = replace(r, feasible=False, why="the cheapest plan fitted on 800 trials falls short", reachable_target=None)
    assert "The cheapest plan fitted on 800 trials falls short." in plan_panel._summary(refused, "H20")


# ---- 6. Compare: the baseline is shown ticked, not a choice ---------------------------------------

def test_compare_shows_the_baseline_ticked_and_disabled(store, qtbot):
    """The baseline was an unticked box though it is always compared."""
    from gui.panels.compare import ComparePanel

    params = store.scenario("Story default")["params"]
    store.save_scenario("All serve", {**params, "name": "All serve"})
    panel = ComparePanel(store)
    qtbot.addWidget(panel)
    try:
        base = panel.baseline()
        items = {panel.scenario_list.item(i).text(): panel.scenario_list.item(i)
                 for i in range(panel.scenario_list.count())}
        item = items[base]
        assert item.checkState() == Qt.CheckState.Checked and not item.flags() & Qt.ItemFlag.ItemIsEnabled
        assert "always compared" in item.toolTip()
        panel.set_selected([])                 # nothing else ticked: the baseline's tick stays
        assert item.checkState() == Qt.CheckState.Checked and not panel.run_button.isEnabled()
        panel.set_selected(["All serve"])
        assert panel.compared_names() == [base, "All serve"] and panel.run_button.isEnabled()
    finally:
        panel.shutdown()


# ---- 8. The assumptions box leaves out a multiplier of 1 -------------------------------------------

def test_the_assumptions_say_as_validated_for_a_throughput_error_scale_of_one():
    from gui.panels.forecast_uncertainty import assumptions_html

    text = assumptions_html(ForecastScenario())
    assert "validation error (as validated)." in text and "× 1." not in text
    assert "validation error × 1.5." in assumptions_html(replace(ForecastScenario(), throughput_sigma_scale=1.5))


# ---- 9. The Fleet chart says what its "installed" counts ------------------------------------------

def test_the_fleet_chart_says_installed_is_before_failures_and_retirement(store, qtbot):
    from gui.panels.fleet import FleetPanel

    stack = QUndoStack()
    panel = FleetPanel(store, stack)
    qtbot.addWidget(panel)
    try:
        assert "before failures and retirement, which the Forecast counts" in panel.chart.title
    finally:
        panel.detach()
