"""The Inference view against a real seeded store: SLO figures, edits, validation, worker, cancel, export."""

import json
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.inference import slo_capacity
from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip
from engine.store import open_store
from gui.panels.inference import InferencePanel
from tests.gui.shared_setups import inference_panel

STATE = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "input_len": 1024, "output_len": 256,
         "ttft_ms": 1000.0, "tpot_ms": 30.0, "demand_tokens_per_s": 250_000.0,
         "compare_chips": ["h100-sxm5-80gb", "h20-96gb", "ascend-910b2"]}


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "inference.db")
    yield s
    s.close()


@pytest.fixture
def panel(store, qtbot):
    yield from inference_panel(store, qtbot)


def _rows(table):
    headers, rows = table
    return [dict(zip(headers, r)) for r in rows]


def test_defaults_show_figures_that_match_the_engine(panel, store):
    panel.compute_now()
    req, cap = panel.request, panel.capacity
    assert cap is not None and cap.feasible
    direct = slo_capacity(req.model, req.chip, input_len=1024, output_len=256, ttft_ms=2000, tpot_ms=50)
    # With the comparison done, the figures are the p90 targets under Poisson load with the form's
    # length spread (CV 0.5), the figure the Forecast counts chips with; the steady state stays beside.
    loaded = slo_capacity_tokens_per_s_per_chip(req.model, req.chip, input_len=1024, output_len=256, ttft_ms=2000,
                                                tpot_ms=50, tp=direct.tp, input_spread=0.5, output_spread=0.5)
    assert panel.under_load() and cap.latency_basis == "p90" and cap.tp == direct.tp
    assert cap.output_tokens_per_s_per_chip == pytest.approx(loaded.output_tokens_per_s_per_chip)
    assert cap.output_tokens_per_s_per_chip < direct.output_tokens_per_s_per_chip   # queueing costs throughput
    assert panel.tiles.detail("throughput") == f"p90 under load; steady state {direct.output_tokens_per_s_per_chip:.1f}"
    assert panel.tiles.detail("tpot") == "p90; target 50 ms"
    assert cap.tpot_ms <= 50 and cap.ttft_ms <= 2000
    # Chips needed: whole replicas of chips_per_replica, enough for the demand and no more.
    per_replica = cap.output_tokens_per_s_per_chip * cap.chips_per_replica
    replicas = panel.chips_for_demand // cap.chips_per_replica
    assert panel.chips_for_demand % cap.chips_per_replica == 0
    assert replicas * per_replica >= 1_000_000 > (replicas - 1) * per_replica
    assert panel.tiles.value("chips") == f"{panel.chips_for_demand:,}"
    assert panel.tiles.value("limiting") == cap.limiting
    for key in ("throughput", "concurrency", "ttft", "tpot", "limiting", "chips", "layout", "memory"):
        assert panel.tiles.value(key) not in ("", "–"), key
    # The comparison: 910B, H20, H800, H100 by default, each with a curve and a chips-needed bar.
    bars = _rows(panel.chips_chart.data_table())
    assert len(bars) == 4
    by_name = {r["name"]: r for r in panel.comparison.rows}
    for bar in bars:
        name = bar["Chip type"].split("\n")[0]
        assert bar["Chips needed (chips)"] == (by_name[name]["chips"] or 0)
    assert len(panel.curve_chart.series_names()) == 4
    headers, rows = panel.curve_chart.data_table()
    assert headers == ["Series", "Time per output token (ms)", "Output throughput (tokens/s per chip)",
                       "Running batch (sequences per replica)"]
    assert all(np.isfinite(r[1]) and np.isfinite(r[2]) for r in rows)


def test_curves_rise_with_batch_and_the_capacity_point_meets_the_targets(panel):
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    c = panel.comparison
    for i, row in enumerate(c.rows):
        ok = np.isfinite(c.tpot_ms[i])
        assert ok.any(), row["name"]
        # A larger running batch never lowers the time per token or the time to first token.
        assert np.all(np.diff(c.tpot_ms[i][ok]) >= -1e-9)
        assert np.all(np.diff(c.ttft_ms[i][ok]) >= -1e-9)
        cap = row["capacity"]
        if cap.feasible:
            assert cap.tpot_ms <= 30.0 + 1e-9 and cap.ttft_ms <= 1000.0 + 1e-9


def test_an_edit_re_evaluates_and_a_tighter_target_never_raises_throughput(panel, qtbot):
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    loose = panel.capacity.output_tokens_per_s_per_chip
    with qtbot.waitSignal(panel.evaluated, timeout=3000):
        panel.tpot_spin.setValue(15.0)
    assert panel.request.tpot_ms == 15.0
    tight = panel.capacity.output_tokens_per_s_per_chip if panel.capacity.feasible else 0.0
    assert tight <= loose
    with qtbot.waitSignal(panel.evaluated, timeout=3000):
        panel.demand_spin.setValue(0.0)
    assert panel.chips_for_demand == 0
    assert panel.tiles.value("chips") == "–"      # no demand: nothing computed ("0 | 0 replicas" before)
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_validation_messages_sit_at_their_fields(panel, store):
    # FP8 on a chip without an FP8 rate is answered weight-only, and the notes say so
    fp8_less = next(c for c in store.chips() if not c.fp8_tflops and c.hbm_gb and c.hbm_gbps)
    panel.apply_scenario_state({**STATE, "chip_id": fp8_less.id, "weight_dtype": "fp8"})
    panel.compute_now()
    assert "weight_dtype" not in panel.errors.messages() and panel.capacity is not None
    assert "weight-only" in panel.notes.text() and "W8A16" in panel.notes.text()
    panel.apply_scenario_state({**STATE, "tp": 64})
    panel.compute_now()
    assert "does not divide" in panel.errors.messages()["tp"]
    # Targets nobody can meet: the panel explains instead of failing.
    panel.apply_scenario_state({**STATE, "tpot_ms": 0.5})
    panel.compute_now()
    assert panel.capacity is not None and not panel.capacity.feasible
    assert panel.tiles.value("throughput") == "not met"
    assert "latency target" in panel.notes.text()


def test_comparison_runs_in_a_worker_can_be_cancelled_and_rerun(panel, qtbot):
    panel.apply_scenario_state(STATE)
    panel.timer.stop()
    panel.request = panel.read_request()
    panel.start_comparison(force=True)
    assert panel.runner.is_running()
    qtbot.mouseClick(panel.run_bar.cancel_button, Qt.MouseButton.LeftButton)
    assert not panel.runner.is_running() and "Cancelled" in panel.run_bar.message.text()
    with qtbot.waitSignal(panel.analysis_finished, timeout=20000):
        qtbot.mouseClick(panel.run_bar.run_button, Qt.MouseButton.LeftButton)
    assert panel.comparison.key == panel._comparison_key(panel.request)
    assert {r["chip_id"] for r in panel.comparison.rows} == {"h100-sxm5-80gb", "h20-96gb", "ascend-910b2"}
    assert panel.table.rowCount() == 3
    # one number of decimals per column (H20's TPOT of 49.96 ms read "50" beside a 50 ms target)
    _headers, rows = panel.comparison_table()
    for i, row in enumerate(rows):
        if row[5] is not None:
            assert panel.table.item(i, 5).text() == f"{row[5]:,.2f}"
            assert panel.table.item(i, 3).text() == f"{row[3]:,.1f}"


def test_steady_state_tiles_say_the_percentile_run_is_pending_or_not_run(panel, qtbot):
    """Before the comparison finishes, or after a Cancel, the tiles hold the steady state at mean
    latencies (5,304 chips where p90 under load needs 6,512) and read like the answer."""
    panel.apply_scenario_state(STATE)
    panel.timer.stop()
    panel._evaluate()
    assert panel.runner.is_running() and not panel.under_load()
    assert panel.tiles.detail("chips").endswith("; p90 pending")
    assert panel.tiles.detail("throughput") == "steady state (mean latencies); p90 pending"
    qtbot.mouseClick(panel.run_bar.cancel_button, Qt.MouseButton.LeftButton)
    assert panel.tiles.detail("chips").endswith("; p90 not run")
    with qtbot.waitSignal(panel.analysis_finished, timeout=20000):
        qtbot.mouseClick(panel.run_bar.run_button, Qt.MouseButton.LeftButton)
    assert panel.under_load() and "p90" not in panel.tiles.detail("chips")


def test_a_model_beyond_the_simulator_says_its_percentile_was_not_simulated(panel):
    """DeepSeek-V3 at p90: the chosen chip's figures are steady-state means (its running batch is
    beyond what the simulator runs), and the run bar said only "4 meet the targets"."""
    state = {**STATE, "model_id": "deepseek-v3"}
    panel.apply_scenario_state(state)
    panel.compute_now()
    assert not panel.under_load()
    assert "The p90 targets were not simulated for" in panel.run_bar.message.text()
    assert panel.tiles.detail("chips").endswith("; p90 not simulated")


def test_chips_needed_without_an_answer_exports_a_blank_not_zero(panel, tmp_path):
    """With no peak demand the table says "–" and the export table leaves the cell blank, but the
    chart's CSV wrote "H20,0": a zero chips a reader can take as an answer."""
    panel.apply_scenario_state({**STATE, "demand_tokens_per_s": 0.0})
    panel.compute_now()
    _headers, rows = panel.chips_chart.data_table()
    assert rows and all(row[1] is None for row in rows)
    text = panel.chips_chart.export_csv(tmp_path / "chips.csv").read_text(encoding="utf-8-sig")
    assert not any(line.endswith(",0") or line.endswith(",0.0") for line in text.splitlines())


def test_no_targets_is_said_as_saturation_not_as_targets_met(panel):
    """With neither TTFT nor TPOT set the run bar said "4 meet the targets" and the load chart
    "SLO capacity 2.18/s" beside a 116 s TTFT p90."""
    panel.apply_scenario_state({**STATE, "ttft_ms": 0.0, "tpot_ms": 0.0})
    panel.compute_now()
    assert "with no latency targets: each at its saturation load" in panel.run_bar.message.text()
    assert "meet the targets" not in panel.run_bar.message.text()
    assert panel._load_line.label.format.startswith("saturation ") and "(no targets)" in panel._load_line.label.format


def test_every_chart_and_table_exports(panel, tmp_path):
    from gui import export

    panel.apply_scenario_state(STATE)
    panel.compute_now()
    charts = panel.charts()
    assert set(charts) == {"throughput-latency", "ttft", "chips-needed", "latency-vs-load", "tpot-vs-load", "ttft-distribution",
                           "kv-use"}
    for name, chart in charts.items():
        png, svg, csv_path = chart.export_png(tmp_path / f"{name}.png"), chart.export_svg(tmp_path / f"{name}.svg"), \
            chart.export_csv(tmp_path / f"{name}.csv")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in svg.read_text(encoding="utf-8")[:2000]
        lines = [ln for ln in csv_path.read_text(encoding="utf-8-sig").splitlines() if not ln.startswith("#")]
        assert len(lines) > 1 and "(" in lines[0], name   # unit-bearing header after the comment lines
    tables = panel.tables()
    assert set(tables) == {"figures", "chip-comparison"}
    for name, (headers, rows) in tables.items():
        path = export.export_csv(headers, rows, tmp_path / f"{name}.csv")
        assert len(path.read_text(encoding="utf-8-sig").splitlines()) == len(rows) + 1 > 1
    panel.export_table_csv(tmp_path / "table.csv")
    text = (tmp_path / "table.csv").read_text(encoding="utf-8-sig").splitlines()
    # the file says what it shows, as the charts' exports do (it had no context lines)
    assert any(line.startswith("# Model: ") for line in text)
    assert "Chips needed (chips)" in next(line for line in text if not line.startswith("#"))


def test_scenario_state_round_trips_and_moe_offers_expert_parallel(panel, store, qtbot):
    panel.apply_scenario_state({**STATE, "unknown": 3})
    saved = panel.scenario_state()
    json.dumps(saved)
    assert {k: saved[k] for k in STATE if k != "compare_chips"} == {k: v for k, v in STATE.items() if k != "compare_chips"}
    assert sorted(saved["compare_chips"]) == sorted(STATE["compare_chips"])
    assert not panel.ep_combo.isEnabled()
    panel.apply_scenario_state({**STATE, "model_id": "mixtral-8x7b", "ep": 8})
    assert panel.ep_combo.isEnabled() and panel.ep_combo.currentData() == 8
    other = InferencePanel(store)
    qtbot.addWidget(other)
    other.apply_scenario_state(panel.scenario_state())
    assert other.scenario_state() == panel.scenario_state()
    other.compute_now()
    assert other.capacity.ep == 8 or not other.capacity.feasible
    assert math.isfinite(other.capacity.weights_gib_per_chip)
    other.shutdown()


def test_under_load_charts_show_the_knee_the_ttft_spread_and_kv_use(panel):
    """The chosen chip simulated under Poisson load: latency percentiles rise with the offered
    load, the TTFT histogram sums to 100%, KV use stays within 0-100%, the limit is named."""
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    a = panel.comparison.load
    assert a is not None, panel.comparison.load_error
    cv = a.curve
    assert np.all(np.diff(cv.offered_rate_per_s) > 0)
    assert cv.ttft_ms_p99[-1] >= cv.ttft_ms_p99[0] and cv.ttft_ms_p90[-1] > cv.ttft_ms_p90[0]
    assert np.all(cv.ttft_ms_p50 <= cv.ttft_ms_p90 + 1e-9) and np.all(cv.ttft_ms_p90 <= cv.ttft_ms_p99 + 1e-9)
    assert set(panel.load_chart.series_names()) == {"TTFT p50", "TTFT p90", "TTFT p99"}
    assert set(panel.tpot_load_chart.series_names()) == {"TPOT p90"}   # its own axis: ms, not seconds
    _, share = panel.ttft_hist_chart.series_data("Requests")
    assert sum(share) == pytest.approx(100.0)
    _, kv = panel.kv_chart.series_data("KV used")
    assert kv.min() >= 0 and kv.max() <= 100.0 + 1e-9
    assert "Limiting:" in panel.load_note.text() and "requests/s" in panel.load_note.text()


def test_a_study_saved_by_a_newer_fleetcast_shows_the_defaults_and_says_why(panel):
    # gui.panels.base.saved_study: the form falls back to the study defaults, the banner names the version
    panel.apply_scenario_state({"version": 999, "model_id": "no-such-model"})
    assert "version 999 is newer" in panel.banner.text()
    from gui.panels.inference_form import DEFAULTS

    assert panel.model_combo.currentData() == DEFAULTS["model_id"]


def test_engine_limit_fields_cap_the_batch_and_round_trip(panel, qtbot):
    """The deployment's own limits are fields: 0 shows 'engine default' and leaves the family's
    documented values (named under the fields); a cap of 8 running sequences binds the capacity
    point and the saved scenario keeps it."""
    panel.apply_scenario_state({**STATE, "ttft_ms": 0.0, "tpot_ms": 0.0, "engine": "trtllm"})
    panel.compute_now()
    assert panel.max_seqs_spin.specialValueText() == "engine default" and panel.max_seqs_spin.value() == 0
    assert "2,048 sequences, 8,192 tokens per step" in panel.limits_hint.text()
    free = panel.capacity
    assert panel.request.max_num_seqs is None and free.batch > 8
    with qtbot.waitSignal(panel.evaluated, timeout=3000):
        panel.max_seqs_spin.setValue(8)
    assert panel.request.max_num_seqs == 8
    assert panel.capacity.batch == pytest.approx(8.0, rel=0.02)
    # the concurrency tile shows what one replica can run: the engine cap now, not the KV fit
    assert panel.tiles.value("concurrency") == "8" and "(engine)" in panel.tiles._details["concurrency"].text()
    assert panel.capacity.output_tokens_per_s_per_chip < free.output_tokens_per_s_per_chip
    saved = panel.scenario_state()
    assert saved["max_num_seqs"] == 8 and saved["max_num_batched_tokens"] is None
    panel.apply_scenario_state({**STATE, "max_num_batched_tokens": 4096})
    assert panel.max_tokens_spin.value() == 4096 and panel.max_seqs_spin.value() == 0
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_every_kv_precision_offered_is_one_the_engine_takes(panel):
    from engine.inference import KV_DTYPES

    offered = [panel.kv_combo.itemData(i) for i in range(panel.kv_combo.count())]
    assert offered == list(KV_DTYPES)  # FP4 was offered and then refused by the engine
    panel.apply_scenario_state({**STATE, "kv_dtype": offered[-1]})
    panel.compute_now()
    assert "kv_dtype" not in panel.errors.messages() and panel.capacity is not None


def test_under_load_and_the_comparison_follow_the_chosen_chip_layout_and_limits(panel, qtbot):
    """Switching the chosen chip to another one already compared, or changing the engine limits,
    re-runs the comparison: the Under load charts are the chosen chip's (they stayed on the
    previous chip's simulation) and every compared chip is held to the new limits."""
    from engine.studies_serving import load_analysis_of

    panel.apply_scenario_state(STATE)
    panel.compute_now()
    # per chip: the best layout under load may take another TP on each chip
    h100 = panel.comparison.load.curve.saturation_rate_per_s / panel.comparison.chosen.chips_per_replica
    with qtbot.waitSignal(panel.evaluated, timeout=5000):
        panel.chip_combo.setCurrentIndex(panel.chip_combo.findData("h20-96gb"))
    panel.compute_now()
    assert panel.request.chip.id == "h20-96gb"
    expected, _ = load_analysis_of(panel.request)
    assert panel.comparison.load.curve.saturation_rate_per_s == pytest.approx(expected.curve.saturation_rate_per_s)
    h20 = panel.comparison.load.curve.saturation_rate_per_s / panel.comparison.chosen.chips_per_replica
    assert h20 < 0.5 * h100   # an H20 is far slower than an H100
    with qtbot.waitSignal(panel.evaluated, timeout=5000):
        panel.max_seqs_spin.setValue(8)
    panel.compute_now()
    caps = [r["capacity"] for r in panel.comparison.rows if r["capacity"] is not None]
    assert caps and all(c.batch <= 8 + 1e-9 for c in caps)
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_length_spread_is_a_field_that_shapes_the_under_load_simulation(panel, qtbot):
    """The Under load charts used lengths with a fixed CV of 0.5 nobody could change. The spread is
    a field, saved with the scenario: at 0 every simulated request has the form's lengths; at 1
    they spread with that coefficient of variation, and the note says which."""
    panel.apply_scenario_state({**STATE, "length_spread": 0.0})
    panel.compute_now()
    sim = panel.comparison.load.chosen.sim
    assert set(sim.output_lens.tolist()) == {256} and set(sim.input_lens.tolist()) == {1024}
    assert "CV 0." in panel.load_note.text()
    with qtbot.waitSignal(panel.evaluated, timeout=5000):
        panel.spread_spin.setValue(1.0)
    panel.compute_now()
    sim = panel.comparison.load.chosen.sim
    cv = float(np.std(sim.output_lens) / np.mean(sim.output_lens))
    assert 0.7 < cv < 1.3 and "CV 1." in panel.load_note.text()
    assert panel.scenario_state()["length_spread"] == 1.0
    panel.apply_scenario_state({k: v for k, v in STATE.items()})   # a study saved before the field: 0.5
    assert panel.spread_spin.value() == pytest.approx(0.5)
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_the_under_load_run_is_the_one_the_slo_figures_were_read_from(panel):
    """The tiles hold the targets at p90 under load; the TTFT histogram and KV chart show that very
    run (its load, marked on the latency chart, its request count and seed), so the note's p90s
    are the tiles' figures. Before, the tiles showed the steady state beside a run at a coarse
    grid load whose p90 TPOT could already miss the target."""
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    cap, a = panel.capacity, panel.comparison.load
    assert panel.under_load() and cap.request_rate_per_s > 0
    assert a.chosen_rate_per_s == cap.request_rate_per_s
    assert a.chosen.ttft_ms["p90"] == pytest.approx(cap.ttft_ms) and a.chosen.tpot_ms["p90"] == pytest.approx(cap.tpot_ms)
    assert a.chosen.output_tokens_per_s_per_chip == pytest.approx(cap.output_tokens_per_s_per_chip)
    assert a.chosen.tpot_ms["p90"] <= 30.0 and a.chosen.ttft_ms["p90"] <= 1000.0
    assert panel._load_line.isVisible() and panel._load_line.value() == pytest.approx(cap.request_rate_per_s)
    assert panel._load_line.label.toPlainText().startswith("SLO capacity")
    figures = {r[0]: r[1] for r in panel.figure_rows()}   # the CSV and the report say which latencies
    assert figures["Latencies held at"] == "p90" and figures["Throughput at SLO"] == cap.output_tokens_per_s_per_chip


def test_prefix_cache_hits_reach_the_under_load_simulation(panel, qtbot):
    """The form's prefix-cache share reached the steady-state figures but not the Under load
    charts: with half of each prompt cached, light-load TTFT falls and the SLO load does not."""
    panel.apply_scenario_state({**STATE, "prefix_cache_pct": 0.0})
    panel.compute_now()
    cold = panel.comparison.load
    cold_cap = panel.capacity
    panel.apply_scenario_state({**STATE, "prefix_cache_pct": 50.0})
    panel.compute_now()
    warm = panel.comparison.load
    assert warm.curve.ttft_ms_p50[0] < 0.8 * cold.curve.ttft_ms_p50[0]
    assert warm.chosen.ttft_ms["p50"] < cold.chosen.ttft_ms["p50"] or warm.chosen_rate_per_s > cold.chosen_rate_per_s
    assert panel.capacity.output_tokens_per_s_per_chip >= 0.98 * cold_cap.output_tokens_per_s_per_chip
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_disaggregated_prefill_is_a_field_the_figures_under_load_follow(panel, qtbot):
    """Prompts on a separate TP4 prefill instance beside each replica: the figures under load come
    from that deployment (decode steps carry no prompts, so the replica holds TPOT at more load), its chips count in the
    replica and the chips needed, and the choice is saved with the scenario."""
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    agg = panel.capacity
    assert agg.prefill_chips == 0 and not panel.prefill_spin.isEnabled()
    panel.apply_scenario_state({**STATE, "prefill_tp": 4, "prefill_instances": 1})
    assert panel.prefill_spin.isEnabled()
    panel.compute_now()
    dis = panel.capacity
    assert panel.under_load() and dis.prefill_chips == 4 and dis.chips_per_replica == agg.chips_per_replica + 4
    # decode steps free of prompts: the one-chip replica keeps TPOT p90 <= 30 ms at a higher load
    assert dis.request_rate_per_s > 1.5 * agg.request_rate_per_s and dis.tpot_ms <= 30.0
    assert panel.chips_for_demand % dis.chips_per_replica == 0
    assert panel.chips_for_demand * dis.output_tokens_per_s_per_chip >= 250_000.0
    assert "1×TP4 prefill" in panel.tiles.value("layout") and "(4 prefill)" in panel.tiles.detail("layout")
    assert "prefill instance" in panel.notes.text() and "(disaggregated)" in panel.load_note.text()
    # the Under load run is the disaggregated deployment's: every request's first token came
    # from the prefill pool, so none waits behind decode steps for its prompt
    assert panel.comparison.load.chosen.chips_per_replica == dis.chips_per_replica
    # the note never calls a load below the SLO point the replica's saturation
    a = panel.comparison.load
    if a.chosen_rate_per_s > a.curve.saturation_rate_per_s:
        assert "still grows past the offline saturation estimate" in panel.load_note.text()
    else:
        assert "offline saturation estimate" in panel.load_note.text()
    state = panel.scenario_state()
    assert state["prefill_tp"] == 4 and state["prefill_instances"] == 1
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_a_prefill_layout_that_cannot_run_is_named(panel, qtbot):
    # 64 ways does not divide Llama 3 8B's 32 heads: a problem at the field, nothing evaluated
    panel.apply_scenario_state({**STATE, "prefill_tp": 64})
    panel.compute_now()
    assert panel.request is None
    assert "divides the 32 attention heads" in panel.errors.messages().get("prefill_tp", "")
    # Llama 3 70B's weights do not fit one H100: the steady-state figures stay, and the note says why
    panel.apply_scenario_state({**STATE, "model_id": "llama3-70b", "tp": 4, "prefill_tp": 1})
    panel.compute_now()
    assert panel.comparison.chosen is None and "prefill instance (tp=1): does not fit" in panel.comparison.chosen_error
    assert not panel.under_load() and "Under load: prefill instance (tp=1): does not fit" in panel.notes.text()
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_the_share_of_requests_the_targets_hold_for_is_a_field(panel, qtbot):
    """"Targets hold for" p90 (default), p99 or p50: a stricter percentile never raises the
    capacity under load, the tiles name it, the TPOT curve drawn is that percentile's, and the
    scenario saves it."""
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    p90 = panel.capacity
    panel.apply_scenario_state({**STATE, "slo_percentile": "p99"})
    panel.compute_now()
    p99 = panel.capacity
    assert p99.latency_basis == "p99" and p99.output_tokens_per_s_per_chip <= p90.output_tokens_per_s_per_chip
    assert panel.tiles.detail("tpot").startswith("p99;") and "TPOT p99" in panel.tpot_load_chart.series_names()
    assert "TPOT p90" not in panel.tpot_load_chart.series_names()
    assert panel.comparison.load.chosen.tpot_ms["p99"] == pytest.approx(p99.tpot_ms)
    assert panel.scenario_state()["slo_percentile"] == "p99"
    panel.apply_scenario_state({**STATE, "slo_percentile": "p50"})
    panel.compute_now()
    assert panel.capacity.output_tokens_per_s_per_chip >= p90.output_tokens_per_s_per_chip
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_exports_name_the_cli_line_that_reproduces_the_figures(panel, store, capsys):
    """The files named scenario, model and lengths but not the percentile, spread, dtypes or
    engine, and `serve`'s defaults differ (steady state, fixed lengths): nobody could reproduce them."""
    from engine.cli import main

    panel.compute_now()
    context = panel.export_context()
    assert "p90" in context["Serving"] and "CV 0.5" in context["Serving"]
    argv = context["CLI"].split()
    assert argv[:2] == ["fleetcast", "serve"]
    assert main(["--db", str(store.path), "--format", "json", *argv[1:]]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["output_tokens_per_s_per_chip"] == pytest.approx(panel.capacity.output_tokens_per_s_per_chip)
    assert d["chips_needed"] == panel.chips_for_demand


def test_a_comparison_left_from_earlier_inputs_is_greyed_and_its_exports_name_those_inputs(panel, qtbot, tmp_path):
    """Cancel the comparison an edit started: the charts still hold the old one. They are greyed
    and a chart's export is labelled with the inputs it ran from (256 output tokens), not the
    form's (512), with a note; the figures, computed at once, stay current."""
    from gui.export_all import panel_context
    from gui.panels.base import is_stale

    panel.apply_scenario_state(STATE)
    panel.compute_now()
    for chart_key, chart in panel.charts().items():
        chart.context_provider = lambda key=chart_key: panel_context(panel, "S", key)
    assert not any(is_stale(w) for w in panel.comparison_widgets())
    panel.apply_scenario_state({**STATE, "output_len": 512})
    panel._evaluate()
    assert panel.runner.is_running()
    assert all(is_stale(w) for w in panel.comparison_widgets())     # running: not the form's inputs yet
    assert not is_stale(panel.tiles) and not is_stale(panel.notes)
    qtbot.mouseClick(panel.run_bar.cancel_button, Qt.MouseButton.LeftButton)
    assert "greyed" in panel.run_bar.message.text()
    assert all(is_stale(w) for w in panel.comparison_widgets())
    path = panel.load_chart.export_csv(tmp_path / "load.csv")
    head = [ln for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.startswith("#")]
    assert any("1,024 in / 256 out tokens" in ln for ln in head), head
    assert any(ln.startswith("# Note:") and "changed after this comparison ran" in ln for ln in head), head
    assert panel.export_context()["Workload"].count("512 out") == 1 and "Note" not in panel.export_context()
    panel.export_table_csv(tmp_path / "table.csv")
    assert "256 out" in (tmp_path / "table.csv").read_text(encoding="utf-8")
    with qtbot.waitSignal(panel.analysis_finished, timeout=20000):
        qtbot.mouseClick(panel.run_bar.run_button, Qt.MouseButton.LeftButton)
    assert not any(is_stale(w) for w in panel.comparison_widgets())
    head = [ln for ln in panel.load_chart.export_csv(tmp_path / "load2.csv").read_text(encoding="utf-8-sig").splitlines()
            if ln.startswith("#")]
    assert any("512 out" in ln for ln in head) and not any(ln.startswith("# Note:") for ln in head), head


def test_a_chip_sharing_a_short_name_is_called_the_same_in_the_comparison(store, qtbot):
    """Compared without the catalog's B200, a user's "B200 (HGX, 700W air)" was "B200" in the
    comparison (and took the catalog B200's colour) while every other place used its full name."""
    row = next(r for r in store.chip_rows() if r["id"] == "b200")
    store.add_chip({**row, "id": "b200-air", "name": "B200 (HGX, 700W air)"})
    p = InferencePanel(store)
    qtbot.addWidget(p)
    try:
        p.apply_scenario_state({**STATE, "chip_id": "b200-air", "compare_chips": ["b200-air", "h20-96gb"]})
        p.compute_now()
        assert [r["name"] for r in p.comparison.rows][0] == "B200 (HGX, 700W air)"
        assert "on B200 (HGX, 700W air)" in p.notes.text()   # the view's own name for it
    finally:
        p.shutdown()


def test_a_chip_added_under_a_compared_chips_short_name_renames_it_in_the_comparison(panel, store):
    panel.apply_scenario_state({**STATE, "compare_chips": ["h100-sxm5-80gb", "b200"]})
    panel.compute_now()
    assert "B200" in [r["name"] for r in panel.comparison.rows]
    row = next(r for r in store.chip_rows() if r["id"] == "b200")
    store.add_chip({**row, "id": "b200-air", "name": "B200 (HGX, 700W air)"})
    panel._on_store_changed()
    panel.compute_now()
    assert "B200 (HGX, 1000W)" in [r["name"] for r in panel.comparison.rows]
