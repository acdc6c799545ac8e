"""The Inference view's load point (s31): a field the user sets, the Under load tab's TTFT spread,
KV use and note read there (the SLO capacity's tiles unchanged), undoable and saved like every
other field."""

import json

import numpy as np
import pytest

from engine.studies import ServingStudy
from engine.studies_load import LoadPoint, run_load_point
from engine.studies_serving import serving_request, ttft_histogram
from engine.store import open_store
from gui.panels.base import select_data
from gui.panels.inference import InferencePanel
from tests.gui.shared_setups import inference_panel

STATE = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "tp": 1, "input_len": 1024, "output_len": 256,
         "ttft_ms": 1000.0, "tpot_ms": 30.0, "demand_tokens_per_s": 250_000.0, "compare_chips": ["h100-sxm5-80gb"]}


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "load.db")
    yield s
    s.close()


@pytest.fixture
def panel(store, qtbot):
    yield from inference_panel(store, qtbot)


def _set_rate(panel, rate: float) -> None:
    select_data(panel.load_combo, "rate")
    panel.load_spin.setValue(rate)


def test_a_rate_moves_the_ttft_spread_kv_use_and_note_to_it_not_the_chips(panel, store, qtbot):
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    c = panel.comparison
    slo_rate, chips = c.load.chosen_rate_per_s, panel.tiles.value("chips")
    assert "TTFT distribution at the chosen load" == panel.ttft_hist_chart.title
    assert not panel.load_spin.isEnabled()   # at the targets: no value
    with qtbot.waitSignal(panel.analysis_finished, timeout=20000):
        _set_rate(panel, 3.0)
    assert panel.load_spin.isEnabled() and panel.load_spin.suffix() == " requests/s per replica"
    # only the load point ran in the worker: the chips' rows and the SLO load are the same objects
    assert panel.comparison.rows is c.rows and panel.comparison.load is c.load
    chips_, models = {x.id: x for x in store.chips()}, {m.id: m for m in store.models()}
    want = run_load_point(serving_request(ServingStudy.from_dict(STATE), chips_, models), LoadPoint("rate", 3.0), 1, 1)
    centres, share, _ = ttft_histogram(want.run.sim.ttft_s)
    x, y = panel.ttft_hist_chart.series_data("Requests")
    assert np.allclose(x, centres) and np.allclose(y, share)
    assert np.allclose(panel.kv_chart.series_data("KV used")[1], 100.0 * want.run.sim.kv_used_frac)
    assert panel.ttft_hist_chart.title == "TTFT distribution at 3.00 requests/s per replica (your load point)"
    assert panel.kv_chart.title.endswith("at 3.00 requests/s per replica (your load point)")
    note = panel.load_note.text()
    p90 = want.run.ttft_ms["p90"]
    assert note.startswith(f"Your load point, 3.00 requests/s per replica (TP1): {want.run.output_tokens_per_s_per_chip:,.0f}")
    assert f"/ {p90:,.0f} /" in note and "the p90 targets hold there" in note
    # the SLO capacity line stays; the user's rate is a second line beside it
    assert panel._load_line.value() == pytest.approx(slo_rate) and panel._point_lines[0].isVisible()
    assert panel._point_lines[0].value() == pytest.approx(3.0)
    assert panel.tiles.value("chips") == chips   # a what-if: Chips for the demand stays
    context = panel.chart_export_context("ttft-distribution")
    assert context["Load"].startswith("3.00 requests/s per replica") and "--request-rate 3" in context["CLI at the load point"]


def test_a_load_past_the_capacity_names_the_target_that_breaks(panel):
    panel.apply_scenario_state({**STATE, "load_point": "rate", "load_value": 40.0})
    panel.compute_now()
    note = panel.load_note.text()
    assert "overloaded" in note and "the targets break there: TTFT p90" in note and "TPOT p90" in note


def test_a_bad_value_is_marked_at_its_field(panel):
    panel.apply_scenario_state({**STATE, "load_point": "rate", "load_value": 0.0})
    panel.compute_now()
    assert panel.request is None
    assert panel.errors.messages()["load_value"].startswith("Load point 0 requests/s per replica: use a rate above 0")


def test_the_load_point_saves_and_an_old_scenario_reads_at_the_targets(panel, store, qtbot):
    panel.apply_scenario_state({**STATE, "load_point": "concurrency", "load_value": 64})
    saved = json.loads(json.dumps(panel.scenario_state()))
    assert (saved["load_point"], saved["load_value"]) == ("concurrency", 64.0)
    assert panel.load_spin.suffix() == " clients per replica" and panel.load_spin.decimals() == 0
    other = InferencePanel(store)
    qtbot.addWidget(other)
    other.apply_scenario_state(saved)
    assert other.scenario_state() == saved
    other.apply_scenario_state(STATE)   # saved before the field: at the targets
    assert other.load_combo.currentData() == "targets" and not other.load_spin.isEnabled()
    other.shutdown()


def test_the_load_point_edit_is_undoable_by_name(window, qtbot):
    panel = window.panel("inference")
    depth = window.undo_stack.count()
    select_data(panel.load_combo, "rate")
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.undo_stack.text(depth) == "Edit Inference: Load point"
    window.undo_stack.undo()
    assert panel.load_combo.currentData() == "targets" and panel.load_combo.currentText() == "At the targets' capacity"
    window.undo_stack.redo()
    assert panel.load_combo.currentData() == "rate"


def test_each_kind_keeps_its_own_value(panel):
    """QA s31: whole clients rounded a rate of 2.5/s to 3 clients and back to 3.00/s, and 0.4/s to 0
    (an error that greyed the view): the value the user set for a kind comes back with it."""
    panel.apply_scenario_state(STATE)
    _set_rate(panel, 2.5)
    select_data(panel.load_combo, "concurrency")
    assert panel.load_spin.value() == 16.0 and panel.load_spin.decimals() == 0   # the clients' own default
    panel.load_spin.setValue(8)
    select_data(panel.load_combo, "rate")
    assert panel.load_spin.value() == 2.5 and panel.scenario_state()["load_value"] == 2.5
    panel.load_spin.setValue(0.4)
    select_data(panel.load_combo, "concurrency")
    assert panel.load_spin.value() == 8.0
    select_data(panel.load_combo, "rate")
    assert panel.load_spin.value() == pytest.approx(0.4) and not panel.errors.messages()


MOE = {**STATE, "model_id": "qwen3-235b-a22b", "tp": None, "ttft_ms": 1000.0, "tpot_ms": 50.0,
       "load_point": "concurrency", "load_value": 32}


def test_a_load_point_shows_where_the_load_curve_was_not_simulated(panel):
    """QA s31: a MoE model whose SLO batch is past the 512 simulated interactively has no load
    curve; its load point ran (and was exported) but the tab returned before drawing it. The
    exported command line carries the EP it ran at (a searched EP128 read as EP1 in serve)."""
    panel.apply_scenario_state(MOE)
    panel.compute_now()
    c = panel.comparison
    assert c.load is None and c.point is not None and c.point.ep > 1
    note = panel.load_note.text()
    assert note.startswith("Your load point, 32 clients per replica (TP") and "Under load: not simulated" in note
    x, y = panel.ttft_hist_chart.series_data("Requests")
    assert len(x) and y.sum() == pytest.approx(100.0)
    assert panel.ttft_hist_chart.title.endswith("(your load point)") and not panel.ttft_hist_chart._notice.isVisible()
    assert f"--tp {c.point.tp} --ep {c.point.ep} --concurrency 32" in \
        panel.chart_export_context("ttft-distribution")["CLI at the load point"]


def test_clients_with_disaggregated_prefill_leave_the_slo_answer_standing(panel):
    """QA s31: the pair serve refuses greyed the whole view, the chips for the demand with it; the
    load point is a what-if, so only its run says why it did not run."""
    panel.apply_scenario_state({**STATE, "prefill_tp": 1, "load_point": "concurrency", "load_value": 8})
    panel.compute_now()
    assert panel.request is not None and not panel.errors.messages()
    c = panel.comparison
    assert c.point is None and "Poisson arrivals or offline" in c.point_error
    assert panel.load_note.text().startswith("Your load point, 8 clients per replica, not simulated: disaggregated")
    assert panel.tiles.value("chips") not in ("", "—")


def test_a_quick_kind_change_after_typing_a_rate_is_its_own_undo_step(window, qtbot):
    """QA s31: typing 2.5 requests/s and within the merge window switching to clients (which
    rewrites the value field too) merged into one step, and one undo went back to (rate, 1.0): the
    typed 2.5 was undone with the kind. A later edit that touches more fields is another step."""
    panel = window.panel("inference")
    select_data(panel.load_combo, "rate")
    qtbot.waitUntil(lambda: window.undo_stack.undoText() == "Edit Inference: Load point")
    depth = window.undo_stack.count()
    panel.load_spin.setValue(2.5)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    select_data(panel.load_combo, "concurrency")   # at once: well inside the merge window
    qtbot.waitUntil(lambda: panel.load_combo.currentData() == "concurrency")
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 2)
    window.undo_stack.undo()
    assert (panel.load_combo.currentData(), panel.load_spin.value()) == ("rate", 2.5)


def test_the_load_point_line_has_a_colour_no_series_of_its_chart_has(panel):
    """QA s31: the user's rate was drawn in the TTFT p99 curve's green, and read as part of it."""
    panel.apply_scenario_state({**STATE, "load_point": "rate", "load_value": 3.0})
    panel.compute_now()
    def hue_deg(colour) -> float:
        return colour.hsvHueF() * 360.0

    for line, chart in zip(panel._point_lines, (panel.load_chart, panel.tpot_load_chart)):
        assert line.isVisible()
        mine = hue_deg(line.pen.color())
        hues = [hue_deg(s.item.opts["pen"].color()) for s in chart._series.values() if s.kind == "line"]
        # a hue at least 30 degrees from every curve's (the green #2E7D32 sat 17 degrees from p99's #117733)
        assert hues and all(min(abs(mine - h), 360.0 - abs(mine - h)) >= 30.0 for h in hues), (mine, hues)


def test_each_kinds_value_is_saved_and_a_load_brings_back_the_scenarios_own(panel, store, qtbot):
    """QA s35: the form keeps one value per kind, but a scenario saved with 8 clients chosen after
    2.5 requests/s were typed came back with 1 request/s when switched to arrivals; and a scenario
    loaded after another kept the other's typed values for the kinds not chosen."""
    panel.apply_scenario_state(STATE)
    _set_rate(panel, 2.5)
    select_data(panel.load_combo, "concurrency")
    panel.load_spin.setValue(8)
    saved = json.loads(json.dumps(panel.scenario_state()))   # as the store keeps it
    assert saved["load_values"] == {"rate": 2.5, "concurrency": 8.0} and saved["load_value"] == 8.0
    assert ServingStudy.from_dict(saved).load_values == (("concurrency", 8.0), ("rate", 2.5))
    panel.apply_scenario_state({**STATE, "load_point": "rate", "load_value": 0.5})   # another scenario
    select_data(panel.load_combo, "concurrency")
    assert panel.load_spin.value() == 16   # its default, not the 8 typed in the other one
    panel.apply_scenario_state(saved)
    assert panel.load_combo.currentData() == "concurrency" and panel.load_spin.value() == 8
    select_data(panel.load_combo, "rate")
    assert panel.load_spin.value() == 2.5
    select_data(panel.load_combo, "concurrency")
    assert panel.load_spin.value() == 8
