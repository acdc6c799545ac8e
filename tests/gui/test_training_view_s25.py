"""QA s25 on the Training view: a search that finished after an invalid edit stayed "Searching…"
for ever; TP × PP × CP errors sat under TP whichever field was changed; the Layout tile's detail was
cut off at 1280x720; the scaling axis read "Chips (chips)"; a run with 0.35 expected failures read
"0 failures"."""

import pytest

from engine.catalog import reference_models
from engine.layout import layout_problems
from engine.studies import layout_label
from engine.training import estimate_run, search_layouts
from gui.panels.base import fmt_big, is_stale

SEARCH = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "num_chips": 64, "layout_mode": "search",
          "compare_chips": ["h100-sxm5-80gb"], "tokens_t": 1.0}
FIXED = {**SEARCH, "layout_mode": "fixed",
         "layout": {"tp": 2, "pp": 2, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1, "recompute": "selective"}}


@pytest.fixture
def panel(training_panel):   # (tests/gui/conftest.py: the Training view on the test's store)
    return training_panel


def _make_invalid(panel) -> None:
    """The QA's edit: the architecture's KV heads set to 3, which does not divide 32 heads."""
    panel.custom_check.setChecked(True)
    panel.custom_spins["kv_heads"].setValue(3)
    panel._evaluate()
    assert panel.inputs is None and "kv_heads" in panel.banner.text()


def test_a_search_that_finishes_after_an_invalid_edit_is_drawn_greyed(panel, qtbot):
    panel.apply_scenario_state(SEARCH)
    panel._evaluate()
    inputs = panel.inputs
    assert panel.tiles.value("time") == "…"   # its search has not run yet
    with qtbot.waitSignal(panel.analysis_finished, timeout=60000):
        panel.start_analysis()
        # the result reaches the panel on the event loop, after this edit
        _make_invalid(panel)
        assert panel.tiles.value("time") == "…" and panel.notes.text().startswith("Searching")   # true: it runs
    best = search_layouts(inputs, top_k=1).best
    assert panel.tiles.value("layout") == layout_label(best.layout)
    assert panel.tiles.value("throughput") == fmt_big(best.tokens_per_s_per_chip * 64)
    days = estimate_run(1e12, best.tokens_per_s_per_chip, 64, inputs.chip,
                        params=float(inputs.model.total_params())).time_to_train_days
    assert panel.tiles.value("time") == f"{days:,.1f}"
    assert "Searching" not in panel.notes.text()
    # greyed, as the banner says ("The greyed figures and charts are from the last valid inputs")
    assert is_stale(panel.tiles) and "last valid inputs" in panel.banner.text()
    assert len(panel.step_chart.data_table()[1]) == 4 and panel.scaling_chart.series_names()
    assert panel.inputs is None and panel.result is None and panel.run_estimate is None   # still invalid


def test_with_no_search_of_the_last_valid_inputs_the_notes_say_to_fix_the_field(panel, qtbot):
    panel.apply_scenario_state(SEARCH)
    panel._evaluate()
    panel.analysis_timer.stop()   # the edit comes before the search would start
    _make_invalid(panel)
    assert panel.tiles.value("time") == "–"
    assert "fix the fields marked in red" in panel.notes.text() and "Searching" not in panel.notes.text()
    qtbot.wait(400)   # nothing starts for invalid inputs: it does not turn into "Searching" again
    assert not panel.runner.is_running() and "fix the fields" in panel.notes.text()
    assert panel.step_chart.notice().startswith("Fix the fields marked in red")
    assert panel.analysis is None and panel.scaling_chart.notice().startswith("Fix the fields marked in red")
    panel.custom_spins["kv_heads"].setValue(8)   # valid again: searched, drawn, the notices gone
    panel.compute_now()
    assert panel.tiles.value("layout") == layout_label(panel.analysis.search.best.layout)
    assert panel.scaling_chart.notice() == "" and panel.step_chart.notice() == "" and not is_stale(panel.tiles)


@pytest.mark.parametrize("layout, chips, fields", [
    ({"tp": 8, "pp": 3}, 1024, {"pp"}),             # PP 3 was the edit: 3 does not divide 1,024
    ({"tp": 3, "pp": 4}, 1024, {"tp"}),
    ({"tp": 1, "pp": 1, "cp": 3}, 64, {"cp"}),
    ({"tp": 8, "pp": 16}, 96, {"tp", "pp"}),        # each divides 96, their product 128 does not
])
def test_a_product_that_does_not_divide_the_chips_is_at_the_fields_at_fault(layout, chips, fields):
    model = reference_models()["llama3-8b"]   # 32 heads, 32 layers
    full = {"tp": 1, "pp": 1, "cp": 1, "ep": 1, "vpp": 1, "micro_batch": 1, **layout}
    product = [p for p in layout_problems(full, chips, model) if p.message.startswith("TP × PP × CP")]
    assert len(product) == 1 and {product[0].key, *product[0].also} == fields


def test_the_banner_names_the_product_not_tp(panel):
    panel.apply_scenario_state({**FIXED, "num_chips": 1024, "layout": {**FIXED["layout"], "tp": 8, "pp": 3}})
    panel.compute_now()
    text = "TP × PP × CP = 24 does not divide 1,024 chips: use 1,008 or 1,032 chips, or another layout."
    assert panel.errors.messages() == {"pp": text}   # 1,024 // 24 = 42: 42 x 24 = 1,008, 43 x 24 = 1,032
    assert panel.banner.text().startswith("TP × PP × CP = 24 does not divide 1,024 chips")
    # both factors at fault: the message under each
    panel.apply_scenario_state({**FIXED, "num_chips": 96, "layout": {**FIXED["layout"], "tp": 8, "pp": 16}})
    panel.compute_now()
    both = "TP × PP × CP = 128 does not divide 96 chips: use 128 chips, or another layout."
    assert panel.errors.messages() == {"tp": both, "pp": both}
    assert panel.banner.text().startswith("TP × PP × CP = 128 does not divide 96 chips")


def test_the_layout_tile_is_whole_at_1280x720(window, qtbot):
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    panel = window.panel("training")
    window.tabs.setCurrentIndex(window.tab_of(panel))
    panel.compute_now()
    label = panel.tiles.detail_label("layout")
    lay = panel.result.layout
    batch = int(lay["global_batch_seqs"])
    lines = [f"DP{lay['dp']:,} · ZeRO-{lay['zero_stage']} · mb{lay['micro_batch']:,}",
             f"rc {lay['recompute']} · batch {batch:,} seq"]
    assert label.text() == "\n".join(lines)
    metrics, room = label.fontMetrics(), label.contentsRect()
    qtbot.waitUntil(lambda: label.contentsRect().height() >= 2 * metrics.height())   # both lines shown
    room = label.contentsRect()
    assert all(metrics.horizontalAdvance(line) <= room.width() for line in lines), (lines, room.width())
    assert label.toolTip() == (f"DP {lay['dp']:,} · ZeRO-{lay['zero_stage']} · micro-batch {lay['micro_batch']:,} "
                               f"sequences · recompute {lay['recompute']} · global batch {batch:,} sequences")
    panel.tiles.clear()   # FigureTiles' accessors reach the two-line label
    assert panel.tiles.detail("layout") == "" and label.text() == ""


def test_the_scaling_axis_reads_chips_once(panel):
    panel.apply_scenario_state(SEARCH)
    panel.compute_now()
    assert panel.scaling_chart.plot_item.getAxis("bottom").labelText == "Chips"
    assert panel.scaling_chart.data_table()[0][0] == "Chips (chips)"   # the exported column keeps its unit


def test_under_one_expected_failure_is_not_zero_failures(panel):
    panel.apply_scenario_state({**FIXED, "tokens_t": 0.5})
    panel.compute_now()
    inp = panel.inputs
    est = estimate_run(0.5e12, panel.result.tokens_per_s_per_chip, 64, inp.chip, params=float(inp.model.total_params()))
    assert 0 < est.expected_interruptions < 0.5   # "0 failures" before
    assert panel.tiles.detail("goodput").endswith(", under 1 failure")
    assert panel.tiles.detail_label("goodput").toolTip().endswith(
        f"under 1 failure ({est.expected_interruptions:.2g} expected)")
