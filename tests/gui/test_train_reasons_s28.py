"""The Training view names the rule of an infeasible fixed layout with its numbers, in the engine's
words that `train` also gives; its no-fit advice follows the batch given and Search mode; the
heatmap's colour-bar title clears its tick labels (QA s28)."""

import numpy as np
import pytest

BASE = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "num_chips": 64, "layout_mode": "fixed",
        "compare_chips": ["h100-sxm5-80gb"], "tokens_t": 1.0,
        "layout": {"tp": 8, "pp": 1, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1, "recompute": "full"}}


@pytest.fixture
def panel(training_panel):
    return training_panel     # (conftest's: the Training view alone, on the test's store)


def show(panel, **changes):
    layout = {**BASE["layout"], **changes.pop("layout", {})}
    panel.apply_scenario_state({**panel.scenario_state(), **BASE, **changes, "layout": layout})
    panel.compute_now()
    return panel.notes.text()


@pytest.mark.parametrize("changes, said", [
    ({"model_id": "mixtral-8x7b", "num_chips": 24, "layout": {"tp": 1, "ep": 3}},
     "This layout is infeasible: EP 3 does not divide Mixtral 8x7B's 8 experts: use a divisor of 8."),
    ({"seq_len": 32, "global_batch": 1, "layout": {"tp": 1, "cp": 64}},
     "This layout is infeasible: CP 64: sequences of 32 tokens are not a multiple of 2 x cp = 128."),
    ({"num_chips": 72, "layout": {"pp": 3}, "software": {"schedule": "dualpipe"}},
     "This layout is infeasible: DualPipe needs an even PP (not 3)."),
    ({"global_batch": 2, "layout": {"pp": 4}, "software": {"schedule": "dualpipe"}},
     "This layout is infeasible: 1 micro-batch (global batch 2 / (dp 2 x micro-batch 1)); DualPipe needs 2 x pp = 8."),
])
def test_a_fixed_layouts_refusal_names_the_value_and_the_rule(panel, changes, said):
    notes = show(panel, **changes)
    assert notes.startswith(said), notes
    assert "ep does not divide experts or tp x dp x cp" not in notes and "schedule needs vpp 1" not in notes


def test_zero3_over_one_rank_is_noted_and_holds_zero0s_memory(panel):
    show(panel, num_chips=8, layout={"zero": 0})
    zero0 = panel.result.memory_gib_per_chip
    notes = show(panel, num_chips=8, layout={"zero": 3})
    assert panel.result.memory_gib_per_chip == pytest.approx(zero0, rel=1e-12)
    assert "ZeRO-3 shards over the data-parallel group (dp x cp = 1 here)" in notes


def test_search_with_a_batch_too_small_for_dualpipe_names_the_batch(panel):
    """Search, 64 chips, DualPipe, batch 2: "Pick a chip count with more factors (a multiple of 8)" and
    "change the layout fields you fixed (VPP, schedule)", where 64 is a multiple of 8 and none is fixed."""
    notes = show(panel, model_id="llama3-70b", layout_mode="search", global_batch=2, software={"schedule": "dualpipe"})
    assert panel.analysis is not None and panel.analysis.search.best is None
    assert "Global batch 2 allows at most 2 micro-batches (micro-batch 1); DualPipe needs" in notes
    assert "multiple of 8" not in notes and "fields you fixed" not in notes
    assert "dualpipe needs vpp 1, an even pp and 2 x pp micro-batches (" in notes   # the reason in DualPipe's words


def test_no_fit_advice_says_a_multiple_of_8_only_to_a_count_that_is_not_one():
    from types import SimpleNamespace

    from gui.panels.training import no_fit_advice

    reasons = {"global batch not divisible by dp x micro-batch": 60, "schedule needs vpp 1 (DualPipe also: even pp, "
               "2 x pp micro-batches)": 5}
    searched = SimpleNamespace(tp=None, pp=None, vpp=None, schedule="zero-bubble", global_batch_seqs=None,
                               micro_batch=None)
    on64 = no_fit_advice(reasons, None, 64, searched)
    assert on64.startswith("Pick a chip count with more factors or another global batch") and "multiple of 8" not in on64
    assert on64.endswith("use the 1F1B schedule")
    assert "(a multiple of 8)" in no_fit_advice(reasons, None, 60, searched)


def test_the_colour_bar_title_clears_its_tick_labels(qtbot):
    """"(tokens/s per chip)" sat on the 4-digit tick labels: the bar's axis was a fixed 45 px."""
    from gui.widgets.heatmap import HeatmapPanel

    heat = HeatmapPanel("Layout search", x_label="TP", x_unit="ways", y_label="PP", y_unit="ways",
                        value_label="Best throughput", value_unit="tokens/s per chip")
    qtbot.addWidget(heat)
    heat.resize(600, 400)
    heat.show()
    heat.set_grid([1, 2], [1, 2], np.array([[380.0, 450.0], [500.0, 740.0]]))
    heat.set_grid([1, 2], [1, 2], np.array([[3800.0, 4500.0], [5000.0, 7400.0]]))
    qtbot.wait(50)
    axis = heat.colorbar.axis
    title_line = axis.label.boundingRect().height() * 0.8
    ticks = axis.textWidth + axis.style["tickTextOffset"][0] + max(0, axis.style["tickLength"])
    assert axis.textWidth > 20 and axis.width() >= ticks + title_line - 0.5
