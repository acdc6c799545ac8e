"""The Training view against a real seeded store: figures, edits, validation, worker, cancel, export."""

import datetime as dt
import json
import math

import numpy as np
import pytest

from engine.fleet import installed_timeline
from engine.training import TrainingInputs, estimate_run, evaluate_layout, search_layouts
from gui.panels.training import TrainingPanel, heatmap_grid, scaling_counts

FIXED = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "num_chips": 64, "layout_mode": "fixed",
         "layout": {"tp": 2, "pp": 2, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1,
                    "recompute": "selective"},
         "compare_chips": ["h100-sxm5-80gb", "h20-96gb"], "tokens_t": 1.0}


@pytest.fixture
def panel(training_panel):   # (tests/gui/conftest.py: the Training view on the test's store)
    return training_panel


def _rows(table):
    headers, rows = table
    return [dict(zip(headers, r)) for r in rows]


def test_defaults_show_every_figure_and_chart(panel, store):
    panel.compute_now()
    r = panel.result
    assert r is not None and r.feasible
    for key in ("time", "throughput", "mfu", "memory", "step", "chip_hours", "energy", "cost", "goodput", "layout"):
        assert panel.tiles.value(key) not in ("", "–", "…"), key
    # Search mode: the figures are the search's best layout of the same inputs.
    inp = panel.inputs
    best = search_layouts(TrainingInputs(model=inp.model, chip=inp.chip, num_chips=inp.num_chips), top_k=1).best
    assert r.tokens_per_s_per_chip == pytest.approx(best.tokens_per_s_per_chip)
    est = estimate_run(15e12, best.tokens_per_s_per_chip, inp.num_chips, inp.chip,
                       params=float(inp.model.total_params()))
    assert panel.tiles.value("time") == f"{est.time_to_train_days:,.1f}"
    # Each stacked step-time bar sums to its layout's step time; memory bars to memory per chip.
    steps = _rows(panel.step_chart.data_table())
    top = panel.analysis.search.top
    assert len(steps) == 4
    for row, layout in zip(steps, top):
        assert row["Total (s)"] == pytest.approx(layout.step_time_s)
    memory = _rows(panel.memory_chart.data_table())
    assert memory[0]["Total (GiB)"] == pytest.approx(top[0].memory_gib_per_chip)
    # one line per label in the table (the chart's bar label wraps): "Best #1 TP8 PP2 VPP8"
    assert all("\n" not in str(next(iter(row.values()))) for row in steps + memory)
    assert memory[0]["HBM capacity (GiB)"] == pytest.approx(top[0].memory_capacity_gib)
    # Heatmap: the best cell is the search's best; infeasible cells name a reason.
    heat = _rows(panel.heatmap.data_table())
    value_key = "Best throughput (tokens/s per chip)"
    best_cell = max((h for h in heat if h[value_key] is not None), key=lambda h: h[value_key])
    assert best_cell[value_key] == pytest.approx(best.tokens_per_s_per_chip)
    assert (best_cell["TP (ways)"], best_cell["PP (stages)"]) == (best.layout["tp"], best.layout["pp"])
    assert all(h["Infeasible because"] for h in heat if h[value_key] is None)
    # Scaling curve: 910B, H20, H800, H100 by default, time to train at each chip count.
    headers, rows = panel.scaling_chart.data_table()
    assert headers[0] == "Chips (chips)"
    assert sorted(headers[1:]) == sorted(["Ascend 910B2 (days)", "H20 (days)", "H800 SXM5 80GB (days)",
                                          "H100 SXM5 80GB (days)"])
    assert [row[0] for row in rows] == list(scaling_counts(inp.num_chips))
    at_current = rows[[row[0] for row in rows].index(inp.num_chips)][headers.index("Ascend 910B2 (days)")]
    assert at_current == pytest.approx(est.time_to_train_days)


def test_heatmap_grid_aggregates_the_search_by_hand():
    from engine.catalog import reference_chips, reference_models

    inp = TrainingInputs(model=reference_models()["llama3-8b"], chip=reference_chips()["h100-sxm5-80gb"],
                         num_chips=16)
    s = search_layouts(inp)
    tps, pps, best, count, reasons = heatmap_grid(s)
    for j, pp in enumerate(pps):
        for i, tp in enumerate(tps):
            mask = (s.tp == tp) & (s.pp == pp)
            feasible = mask & s.feasible
            assert count[j, i] == feasible.sum()
            if feasible.any():
                assert best[j, i] == pytest.approx(s.tokens_per_s_per_chip[feasible].max())
                assert reasons[j][i] == ""
            else:
                assert math.isnan(best[j, i]) and reasons[j][i]


def test_an_edit_re_evaluates_after_the_debounce(panel, qtbot):
    panel.apply_scenario_state(FIXED)
    panel.compute_now()
    with qtbot.waitSignal(panel.evaluated, timeout=3000):
        panel.count_spin.setValue(128)
    inp = panel.inputs
    assert inp.num_chips == 128 and inp.tp == 2 and inp.pp == 2 and inp.dp == 32
    direct = evaluate_layout(inp)
    assert panel.result.tokens_per_s_per_chip == pytest.approx(direct.tokens_per_s_per_chip)
    assert panel.tiles.value("layout") == "TP2 PP2"
    steps = _rows(panel.step_chart.data_table())
    assert steps[0]["Layout"].startswith("Yours")
    assert steps[0]["Total (s)"] == pytest.approx(direct.step_time_s)
    # Several quick edits collapse into one evaluation.
    seen = []
    panel.evaluated.connect(lambda: seen.append(panel.inputs.num_chips if panel.inputs else None))
    for n in (136, 144, 152):
        panel.count_spin.setValue(n)
    qtbot.waitUntil(lambda: bool(seen), timeout=3000)
    qtbot.wait(120)
    assert seen == [152]
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_validation_messages_sit_at_their_fields(panel, qtbot, store):
    panel.apply_scenario_state({**FIXED, "num_chips": 62})
    panel.compute_now()
    assert "does not divide 62 chips" in panel.errors.messages()["tp"]
    assert panel.banner.text()  # a hint at the top, no dialog, no traceback
    assert panel.inputs is None
    panel.tp_spin.setValue(3)
    panel.compute_now()
    assert "does not divide the 32 attention heads" in panel.errors.messages()["tp"]
    # FP8 on a chip without FP8 units.
    panel.apply_scenario_state({**FIXED, "chip_id": "ascend-910b2", "dtype": "fp8"})
    panel.compute_now()
    assert "FP8" in panel.errors.messages()["dtype"]
    # A custom architecture with heads not divisible by kv_heads.
    panel.apply_scenario_state({**FIXED, "custom": {"kv_heads": 5}})
    panel.compute_now()
    assert "kv_heads" in panel.errors.messages()["custom_kv_heads"]
    panel.custom_spins["kv_heads"].setValue(8)
    panel.custom_spins["layers"].setValue(16)
    panel.compute_now()
    assert panel.errors.messages() == {}
    assert panel.inputs.model.layers == 16 and panel.inputs.model.id == "custom"


def test_fleet_on_a_date_uses_the_installed_chips(panel, store):
    orders = store.orders()
    chip_id = "h20-96gb"
    first = min(d.date for o in orders if o.chip_id == chip_id for d in o.deliveries)
    panel.apply_scenario_state({**FIXED, "chip_id": chip_id, "chips_source": "fleet",
                                "fleet_date": (first - dt.timedelta(days=1)).isoformat(), "layout_mode": "search"})
    panel.compute_now()
    assert "No H20" in panel.errors.messages()["fleet_date"]
    day = first + dt.timedelta(days=120)
    panel.date_edit.setDate(panel.date_edit.date().fromString(day.isoformat(), "yyyy-MM-dd"))
    panel.compute_now()
    expected = int(installed_timeline(orders, [day], install_lag_days=30.0)[chip_id][0])
    assert expected > 0
    assert panel.inputs.num_chips == expected
    assert f"{expected:,}" in panel.fleet_hint.text()


def test_compute_now_over_a_search_of_the_same_inputs_says_it_is_done(panel):
    """A search started again for inputs already searched, then compute_now: the worker was
    cancelled unsaid and the run bar kept saying 'Searching layouts…' while nothing ran."""
    panel.compute_now()
    assert panel.run_bar.message.text().startswith("Searched ")
    panel.start_analysis(force=True)
    assert panel.run_bar.message.text().startswith("Searching layouts")
    panel.compute_now()
    assert not panel.runner.is_running() and panel.run_bar.message.text().startswith("Searched ")


def test_search_runs_in_a_worker_can_be_cancelled_and_the_latest_wins(panel, qtbot):
    heavy = {"model_id": "deepseek-v3", "chip_id": "h800-sxm5-80gb", "num_chips": 2048, "layout_mode": "search"}
    panel.apply_scenario_state(heavy)
    panel.timer.stop()
    panel.inputs = panel.read_inputs()
    panel.start_analysis(force=True)
    assert panel.runner.is_running() and panel.run_bar.cancel_button.isEnabled()
    qtbot.mouseClick(panel.run_bar.cancel_button, qtbot_left())
    assert not panel.runner.is_running()
    assert not panel.run_bar.cancel_button.isEnabled()
    assert "Cancelled" in panel.run_bar.message.text()
    assert panel.analysis is None
    # nothing was found: the tiles and the note no longer say a search is under way
    assert "Searching" not in panel.notes.text() and "cancelled" in panel.notes.text()
    assert panel.tiles.value("step") == "–"
    assert panel.heatmap._notice.toPlainText().startswith("Search cancelled") and panel.heatmap._notice.isVisible()
    assert panel.step_chart._notice.toPlainText().startswith("Search cancelled")
    # Two requests in a row: only the second one's result is drawn.
    panel.apply_scenario_state(FIXED)
    panel.timer.stop()
    panel.inputs = panel.read_inputs()
    panel.start_analysis(force=True)
    panel.count_spin.setValue(128)
    panel.inputs = panel.read_inputs()
    with qtbot.waitSignal(panel.analysis_finished, timeout=20000):
        panel.start_analysis()
    assert panel.analysis.key == panel._analysis_key(panel.inputs)
    assert panel.analysis.search.best is not None
    assert panel.run_bar.progress.value() == 100
    assert not panel.scaling_chart._notice.isVisible()
    assert "top-layouts" in panel.tables()


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_every_chart_and_table_exports(panel, tmp_path):
    from gui import export

    panel.apply_scenario_state(FIXED)
    panel.compute_now()
    charts = panel.charts()
    assert set(charts) == {"step-time", "memory", "layout-search", "scaling"}
    for name, chart in charts.items():
        png, svg, csv_path = chart.export_png(tmp_path / f"{name}.png"), chart.export_svg(tmp_path / f"{name}.svg"), \
            chart.export_csv(tmp_path / f"{name}.csv")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in svg.read_text(encoding="utf-8")[:2000]
        header = csv_path.read_text(encoding="utf-8").splitlines()
        assert len(header) > 1 and "(" in header[0], name
    for name, (headers, rows) in panel.tables().items():
        path = export.export_csv(headers, rows, tmp_path / f"{name}.csv")
        assert len(path.read_text(encoding="utf-8").splitlines()) == len(rows) + 1 > 1


def test_scenario_state_round_trips_and_ignores_unknown_keys(panel, store, qtbot):
    state = {**FIXED, "price_per_chip_hour": 2.5, "custom": {"layers": 30}, "future_key": 1}
    panel.apply_scenario_state(state)
    saved = panel.scenario_state()
    json.dumps(saved)
    assert saved["num_chips"] == 64 and saved["layout"]["tp"] == 2 and saved["price_per_chip_hour"] == 2.5
    assert saved["custom"]["layers"] == 30 and saved["compare_chips"] == ["h100-sxm5-80gb", "h20-96gb"]
    other = TrainingPanel(store)
    qtbot.addWidget(other)
    other.apply_scenario_state(saved)
    assert other.scenario_state() == saved
    other.compute_now()
    panel.compute_now()
    assert other.result.tokens_per_s_per_chip == panel.result.tokens_per_s_per_chip
    assert other.run_estimate.cost_usd == pytest.approx(other.run_estimate.chip_hours * 2.5)
    other.shutdown()


def test_scaling_counts_bracket_the_current_count():
    counts = scaling_counts(1000)
    assert 1000 in counts and counts[0] < 1000 < counts[-1]
    assert all(c % 8 == 0 for c in counts)
    assert np.all(np.diff(counts) > 0)


def test_hover_readouts_name_cell_segment_and_units(panel):
    panel.apply_scenario_state({**FIXED, "num_chips": 8})
    panel.compute_now()
    heat = panel.heatmap
    best = panel.analysis.search.best
    i, j = heat.x_values.index(best.layout["tp"]), heat.y_values.index(best.layout["pp"])
    assert heat.cell_at(i + 0.3, j - 0.2) == (i, j)
    text = heat.cell_text(i, j)
    assert f"TP {best.layout['tp']} × PP {best.layout['pp']}" in text and "tokens/s per chip" in text
    blocked = [(a, b) for b in range(len(heat.y_values)) for a in range(len(heat.x_values))
               if not np.isfinite(heat.values[b, a])]
    assert blocked, "8 chips leave some TP x PP pairs without a layout"
    assert "infeasible" in heat.cell_text(*blocked[0])
    # The bottom segment of the first step-time bar.
    chart = panel.step_chart
    first, heights = next(iter(chart._segments.items()))
    point = chart.nearest_point(0.0, heights[0] / 2)
    assert point[0] == first
    assert chart.readout_text(point).startswith(chart.categories[0])
    assert " s (" in chart.readout_text(point)
    assert chart.nearest_point(0.5, heights[0] / 2) is None  # between bars


def test_software_group_reaches_the_engine_and_round_trips_in_scenarios(panel, store, qtbot):
    panel.apply_scenario_state(FIXED)
    panel.compute_now()
    base = panel.result.step_time_s
    assert panel.scenario_state()["software"] == {"flash_attention": True, "sequence_parallel": True,
                                                  "grad_overlap": True, "tp_comm_overlap": False, "dropout": False,
                                                  "schedule": "1f1b", "cp_kind": "ring",
                                                  "attention_kernel": "portable", "fp8_dispatch": True,
                                                  "moe_route_nodes": None, "expert_tp": None}
    panel.software_checks["flash_attention"].setChecked(False)
    panel.compute_now()
    assert panel.inputs.flash_attention is False and panel.result.step_time_s > base
    from gui.panels.analysis_common import select_data

    select_data(panel.schedule_combo, "zero-bubble")
    panel.compute_now()
    assert panel.inputs.schedule == "zero-bubble"
    select_data(panel.attention_kernel_combo, "native")
    panel.compute_now()
    assert panel.inputs.attention_kernel == "native"
    state = panel.scenario_state()
    # a saved scenario brings the settings back; one saved before the group existed gets defaults
    panel.apply_scenario_state({**FIXED})
    assert panel.software_settings()["flash_attention"] is True
    panel.apply_scenario_state(json.loads(json.dumps(state)))
    assert panel.software_settings()["flash_attention"] is False
    assert panel.software_settings()["schedule"] == "zero-bubble"
    assert panel.software_settings()["attention_kernel"] == "native"


def test_chart_rows_become_tabs_on_a_short_screen(qtbot):
    """Two rows of charts need 2 x 300 px; below that each row is a tab (the same widgets), so a
    legend never squeezes a plot to nothing on a 720-pixel laptop; with room again, the grid."""
    from PySide6.QtWidgets import QLabel

    from gui.panels.chart_grid import ChartGrid

    widgets = [QLabel(str(i)) for i in range(4)]
    grid = ChartGrid([("First row", widgets[:2]), ("Second row", widgets[2:])], min_row_height=300)
    qtbot.addWidget(grid)
    grid.resize(900, 1000)
    grid.show()
    qtbot.waitExposed(grid)
    assert grid.mode == "grid" and all(w.isVisible() for w in widgets)
    grid.resize(900, 500)
    qtbot.waitUntil(lambda: grid.mode == "tabs")
    grid.show_row_of(widgets[3])
    assert grid.tabs.currentIndex() == 1 and widgets[3].isVisible() and not widgets[0].isVisible()
    assert grid.minimumSizeHint().height() < 600  # never raises the window's minimum height
    grid.resize(900, 620)  # within the hysteresis: stays tabs (no flicker at the threshold)
    qtbot.wait(20)
    assert grid.mode == "tabs"
    grid.resize(900, 1000)
    qtbot.waitUntil(lambda: grid.mode == "grid")
    assert all(w.isVisible() for w in widgets)


def test_a_study_saved_by_a_newer_fleetcast_shows_the_defaults_and_says_why(panel):
    # gui.panels.base.saved_study: the form falls back to the study defaults, the banner names the version
    panel.apply_scenario_state({"version": 999, "model_id": "no-such-model"})
    assert "version 999 is newer" in panel.banner.text()
    from gui.panels.training_form import DEFAULTS

    assert panel.model_combo.currentData() == DEFAULTS["model_id"]


def test_moe_dispatch_and_routing_are_fields_that_reach_the_engine(panel, qtbot):
    """Two inputs the engine took that no field could set: FP8 dispatch of MoE tokens and
    node-limited routing. They sit in the Software group, reach the expert all-to-all and come
    back from a saved scenario; a bad saved value is named at its field."""
    state = {"model_id": "deepseek-v3", "chip_id": "h800-sxm5-80gb", "num_chips": 2048, "layout_mode": "fixed",
             "layout": {"tp": 1, "pp": 16, "cp": 1, "ep": 64, "vpp": 1, "zero": 1, "micro_batch": 1,
                        "recompute": "full"},
             "seq_len": 4096, "global_batch": 15360, "dtype": "fp8", "tokens_t": 1.0,
             "software": {"schedule": "dualpipe"}}
    panel.apply_scenario_state(state)
    panel.compute_now()
    assert panel.inputs.fp8_dispatch is True and panel.inputs.moe_route_nodes is None
    fp8 = panel.result.breakdown_s["ep_comm"]
    panel.software_checks["fp8_dispatch"].setChecked(False)
    panel.compute_now()
    assert panel.inputs.fp8_dispatch is False and panel.result.breakdown_s["ep_comm"] > 2 * fp8
    panel.route_nodes_spin.setValue(4)
    panel.compute_now()
    assert panel.inputs.moe_route_nodes == 4
    saved = json.loads(json.dumps(panel.scenario_state()))
    assert saved["software"]["fp8_dispatch"] is False and saved["software"]["moe_route_nodes"] == 4
    panel.apply_scenario_state(state)
    assert panel.software_settings()["moe_route_nodes"] is None and panel.route_nodes_spin.value() == 0
    panel.apply_scenario_state(saved)
    assert panel.route_nodes_spin.value() == 4 and not panel.software_checks["fp8_dispatch"].isChecked()
    from engine.studies import TrainingStudy

    bad = TrainingStudy.from_dict({**state, "software": {"moe_route_nodes": 2.5}})
    fields = [p.field for p in bad.problems(panel._chips, panel._models)]
    assert fields == ["moe_route_nodes"]
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_reliability_is_a_field_group_that_moves_time_to_train(panel, qtbot):
    """MTBF per chip, restart time and checkpoint bandwidth were fixed inputs of the time to
    train (the Llama 3 rate on every chip). They are fields: a fleet that fails 5x as often
    loses more of its wall-clock, at the throughput the search found, by estimate_run's own
    arithmetic; the study saves them."""
    panel.apply_scenario_state(FIXED)
    panel.compute_now()
    base_days = float(panel.tiles.value("time").replace(",", ""))
    r, inp = panel.result, panel.inputs
    with qtbot.waitSignal(panel.evaluated, timeout=3000):
        panel.mtbf_spin.setValue(10_130.0)          # 5x the Llama 3 failure rate
    est = estimate_run(panel.study.tokens_t * 1e12, panel.result.tokens_per_s_per_chip, inp.num_chips, inp.chip,
                       params=float(inp.model.total_params()), mtbf_chip_hours=10_130.0)
    assert panel.result.tokens_per_s_per_chip == pytest.approx(r.tokens_per_s_per_chip)   # the step is the same
    assert panel.tiles.value("time") == f"{est.time_to_train_days:,.1f}"
    assert float(panel.tiles.value("time").replace(",", "")) > base_days
    state = panel.scenario_state()
    assert state["mtbf_chip_hours"] == 10_130.0 and state["restart_min"] == 10.0
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_the_scaling_curve_follows_reliability_edits(panel, qtbot):
    """MTBF 2,000 and a 120-minute restart moved Time to train 521.3 -> 576.1 days while the
    scaling curve kept 521.26 at the same chip count, not greyed (its redraw check left the
    reliability inputs out)."""
    from gui.panels.training import short_chip_label

    panel.compute_now()
    qtbot.waitUntil(lambda: panel.analysis is not None and not panel.runner.is_running(), timeout=30000)
    inp = panel.inputs
    name = short_chip_label(inp.chip)

    def curve_at_count():
        x, days = panel.scaling_chart.series_data(name)
        return float(days[list(x).index(float(inp.num_chips))])

    assert curve_at_count() == pytest.approx(float(panel.tiles.value("time").replace(",", "")), abs=0.06)
    for spin, value in ((panel.mtbf_spin, 2_000.0), (panel.restart_spin, 60.0)):
        with qtbot.waitSignal(panel.evaluated, timeout=3000):
            spin.setValue(value)
        assert curve_at_count() == pytest.approx(float(panel.tiles.value("time").replace(",", "")), abs=0.06)
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_failures_that_outpace_progress_are_told_not_a_crash(panel, qtbot):
    """A failure every few seconds: the engine refuses ("no progress"); the view let the error out
    (the "unexpected error" dialog) and kept the old days on the tiles."""
    panel.apply_scenario_state(FIXED)
    panel.compute_now()
    assert panel.tiles.value("time") not in ("–", "never finishes")
    with qtbot.waitSignal(panel.evaluated, timeout=3000):
        panel.mtbf_spin.setValue(0.5)               # a failure every few seconds on this many chips
    assert panel.tiles.value("time") == "never finishes" and panel.tiles.value("goodput") == "0"
    assert panel.notes.text().startswith("no progress on ")
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_a_search_where_nothing_fits_says_so_instead_of_searching(panel, qtbot):
    """Llama 3 8B on one H100: the bar said "No layout fits among 480" while the tiles said
    "Searching for the best layout" for ever."""
    state = panel.scenario_state()
    with qtbot.waitSignal(panel.analysis_finished, timeout=30000):
        panel.apply_scenario_state({**state, "model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "num_chips": 1,
                                    "layout_mode": "search"})
        panel.compute_now()
        panel.start_analysis(force=True)
    panel.compute_now()
    assert panel.analysis.search.best is None
    assert panel.tiles.value("time") == "no layout fits"
    assert panel.notes.text().startswith("No layout fits among ") and "out of memory" in panel.notes.text()
    assert "Searching" not in panel.notes.text()
    assert "0.001" not in panel.heatmap.plot_item.getAxis("bottom").labelString()   # one TP cell: no SI scale


def test_an_infeasible_fixed_layout_says_why_with_its_numbers(panel):
    """The note said only "out of memory." where the CLI names the GiB needed and each part, and
    the model's other notes ran together without punctuation."""
    panel.apply_scenario_state({**FIXED, "model_id": "llama3-70b", "num_chips": 8,
                                "layout": {**FIXED["layout"], "tp": 1, "pp": 1, "zero": 0, "micro_batch": 8}})
    panel.compute_now()
    note = panel.notes.text()
    assert note.startswith("This layout is infeasible: out of memory: ") and "GiB needed per chip" in note
    assert "weights" in note and "optimizer" in note and "GiB available" in note
    assert not any(word in note for word in ("step exposed", "step Exposed"))   # sentences, not run together
    # what to change, and no notes on the speed of a run that cannot happen (QA: "Exposed TP
    # communication takes 18% of the step" under an out-of-memory layout)
    assert "Try ZeRO-1 or above, recompute full, micro-batch 1, more TP or PP, or Layout: Search" in note
    assert "% of the step" not in note
    # no speed for a layout that cannot run: the MFU tile read 49.5% and the table 69,722 tokens/s
    assert panel.tiles.value("mfu") == "–" and panel.tiles.value("step") == "–"
    rows = {r[0]: r[1] for r in panel.tables()["figures"][1]}
    assert rows["MFU"] is None and rows["Throughput"] is None and rows["Step time"] is None
    assert rows["Not feasible because"] == "out of memory" and rows["Memory per chip"] > rows["HBM per chip"]
    # and no step-time bar for it either (a 72 s bar sat beside the feasible ones); its memory bar stays
    panel._draw_bars()
    steps = panel.step_chart.data_table()[1]
    yours = [row for row in steps if str(row[0]).startswith("Yours")]
    assert yours and all(v is None for v in yours[0][1:-1])


def test_the_layout_names_its_interleaved_stages():
    from engine.studies import layout_label

    assert layout_label({"tp": 8, "pp": 2, "vpp": 8, "cp": 1, "ep": 1}) == "TP8 PP2 VPP8"
    assert layout_label({"tp": 8, "pp": 2, "vpp": 1, "cp": 2, "ep": 1}) == "TP8 PP2 CP2"


def test_exports_name_the_global_batch_the_layout_runs(panel):
    """1,000 chips at TP8: DP125 rounds the 512-sequence default to 500, which the layout tile and
    the figures table show; the exports' Workload line said 512."""
    panel.apply_scenario_state({**FIXED, "num_chips": 1000, "layout": {**FIXED["layout"], "tp": 8, "pp": 1}})
    panel.compute_now()
    assert panel.result.layout["global_batch_seqs"] == 500
    assert "global batch 500 sequences" in panel.export_context()["Workload"]
    assert "nearest power of two" in panel.batch_hint.text()
    context = panel.export_context()   # what else sets the figures: the software and the reproducing line
    assert context["Software"].startswith("fused attention on") and context["CLI"].startswith(
        "fleetcast train --model llama3-8b --chip h100-sxm5-80gb --chips 1000 --tokens 1e+12 --tp 8 --pp 1 --dp 125")


def test_a_search_left_from_earlier_inputs_is_greyed_and_its_exports_name_those_inputs(panel, qtbot, tmp_path):
    """Cancel the search an edit started: the heatmap and scaling curve still show the old one.
    They are greyed, and a chart export names the 64-chip search it is, with a note."""
    from gui.export_all import panel_context
    from gui.panels.base import is_stale

    panel.apply_scenario_state({**FIXED, "layout_mode": "search"})
    panel.compute_now()
    for chart_key, chart in panel.charts().items():
        chart.context_provider = lambda key=chart_key: panel_context(panel, "S", key)
    assert not any(is_stale(w) for w in panel.analysis_widgets())
    panel.count_spin.setValue(128)
    panel._evaluate()
    panel.start_analysis()
    assert panel.runner.is_running() and all(is_stale(w) for w in panel.analysis_widgets())
    qtbot.mouseClick(panel.run_bar.cancel_button, qtbot_left())
    assert "greyed" in panel.run_bar.message.text() and all(is_stale(w) for w in panel.analysis_widgets())
    head = [ln for ln in panel.scaling_chart.export_csv(tmp_path / "s.csv").read_text(encoding="utf-8").splitlines()
            if ln.startswith("#")]
    assert any("64 × H100" in ln for ln in head) and any(ln.startswith("# Note:") for ln in head), head
    assert "128 × H100" in panel.export_context()["Workload"]
    with qtbot.waitSignal(panel.analysis_finished, timeout=30000):
        panel.start_analysis(force=True)
    assert not any(is_stale(w) for w in panel.analysis_widgets())


def test_a_failed_search_says_so_on_its_empty_charts(panel, qtbot, monkeypatch):
    """The charts kept 'Searching layouts…' after the search failed."""
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("gui.panels.training.run_layout_analysis", broken)
    panel.apply_scenario_state({**FIXED, "layout_mode": "search"})
    panel.timer.stop()
    panel.inputs = panel.read_inputs()
    panel._draw_bars()
    assert panel.step_chart._notice.toPlainText() == "Searching layouts…"
    panel.start_analysis(force=True)
    qtbot.waitUntil(lambda: "Search failed" in panel.run_bar.message.text(), timeout=20000)
    for chart in (panel.heatmap, panel.scaling_chart, panel.step_chart, panel.memory_chart):
        assert chart._notice.toPlainText() == "Search failed: press Run search to try again"


def test_a_chip_count_that_factors_badly_is_offered_fewer_chips(qtbot, tmp_path):
    """1,023 H100 (3 x 11 x 31) trained Llama 3 70B at half the speed of 1,022; the view now says
    which count, a few chips idle, trains faster."""
    from engine.catalog import reference_chips, reference_models
    from engine.studies import fewer_chips_text, run_training_analysis
    from engine.training import TrainingInputs

    inputs = TrainingInputs(model=reference_models()["llama3-70b"], chip=reference_chips()["h100-sxm5-80gb"],
                            num_chips=1023)
    analysis = run_training_analysis(inputs, (), ())
    m, tok, layout = analysis.fewer_chips
    assert m == 1022   # of the counts that gain, the fewest idle within 5% of the fastest
    assert tok * m > 1.05 * analysis.search.best.tokens_per_s_per_chip * 1023
    text = fewer_chips_text(analysis, 1023)
    assert text.startswith("Leaving some of the 1,023 chips idle trains faster: on ") and text.endswith(f"set Chips to {m:,}")
    # a round count with many layouts is offered fewer chips where the layers split more evenly (QA
    # s41): 80 layers and the output layer (1.23 layers' weight) over 9 stages, not 8, on 1,008 of 1,024
    at_1024 = run_training_analysis(inputs.__class__(model=inputs.model, chip=inputs.chip, num_chips=1024), (), ())
    m, tok, layout = at_1024.fewer_chips
    assert (m, layout) == (1008, "TP2 PP9 VPP5 CP4")
    assert tok * m > 1.04 * at_1024.search.best.tokens_per_s_per_chip * 1024
