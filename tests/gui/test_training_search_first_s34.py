"""QA s34 on the Training view: the search's figures waited for the scaling curve (1.6 s of search,
then 12.5 s of "…" for DeepSeek-V3 on 65,536 H800), and a cancel during the curve threw the
finished search away ("Search cancelled: no figures yet"); the step-time bars compared layouts
whose global batches differ without saying so."""

import numpy as np
import pytest

from engine.errors import Cancelled
from engine.studies import layout_label, run_layout_analysis, run_scaling_curve, run_training_analysis
from engine.training import search_layouts
from gui.panels.base import fmt_big

SEARCH = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "num_chips": 64, "layout_mode": "search",
          "compare_chips": ["h100-sxm5-80gb", "h20-96gb"], "tokens_t": 1.0}


@pytest.fixture
def panel(training_panel):   # (tests/gui/conftest.py: the Training view on the test's store)
    return training_panel


def test_the_two_parts_make_the_whole_analysis(panel):
    panel.apply_scenario_state(SEARCH)
    panel._evaluate()
    inp, chips = panel.inputs, panel._compare_chips(panel.inputs)
    counts = (32, 64)
    first = run_layout_analysis(inp, chips, counts, ("k",))
    assert not first.scaling_done and np.isnan(first.scaling_tokens_per_s_per_chip).all()
    assert first.scaling_tokens_per_s_per_chip.shape == (2, 2)
    whole = run_training_analysis(inp, chips, counts, ("k",))
    done = run_scaling_curve(first, inp, chips)
    assert done.scaling_done and whole.scaling_done
    np.testing.assert_array_equal(done.scaling_tokens_per_s_per_chip, whole.scaling_tokens_per_s_per_chip)
    assert np.isfinite(whole.scaling_tokens_per_s_per_chip).all()
    assert done.search.best.tokens_per_s_per_chip == whole.search.best.tokens_per_s_per_chip
    # H100 at 64 chips: the curve's point is the layout search's own best
    assert whole.scaling_tokens_per_s_per_chip[0, 1] == pytest.approx(whole.search.best.tokens_per_s_per_chip)
    assert run_scaling_curve(done, inp, chips) is done   # nothing left to run
    # with nothing to compare there is no curve to wait for
    assert run_layout_analysis(inp, (), counts).scaling_done


def test_the_search_is_shown_before_its_curve_and_a_cancel_keeps_it(panel, qtbot, monkeypatch):
    started = []

    def slow_curve(analysis, inputs, chips, *, progress=None, should_stop=None):
        started.append(analysis.key)
        while not should_stop():   # the curve runs until it is cancelled
            pass
        raise Cancelled("scaling curve cancelled")

    monkeypatch.setattr("gui.panels.training.run_scaling_curve", slow_curve)
    panel.apply_scenario_state(SEARCH)
    panel._evaluate()
    panel.analysis_timer.stop()
    inputs = panel.inputs
    panel.start_analysis()
    qtbot.waitUntil(lambda: bool(started), timeout=60000)
    # the search's figures are up while the curve runs
    best = search_layouts(inputs, top_k=1).best
    assert panel.tiles.value("layout") == layout_label(best.layout)
    assert panel.tiles.value("throughput") == fmt_big(best.tokens_per_s_per_chip * 64)
    assert panel.runner.is_running() and "drawing the scaling curve" in panel.run_bar.message.text()
    assert panel.scaling_chart._notice.toPlainText() == "Drawing the scaling curve…"
    assert not panel.scaling_chart.series_names()   # no chip drawn as "(no layout fits)" meanwhile
    panel.cancel_analysis()
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=10000)
    # kept: the figures, the heatmap and the bars; the curve says how to draw it
    assert panel.tiles.value("layout") == layout_label(best.layout)
    assert "no figures yet" not in panel.notes.text()
    assert panel.run_bar.message.text().startswith("Cancelled: the search's answer is shown")
    assert panel.scaling_chart._notice.toPlainText() == "Scaling curve cancelled: press Run search to draw it"
    assert panel.heatmap.data_table()[1] and len(panel.step_chart.data_table()[1]) == 4
    # Run search draws only the curve now
    monkeypatch.undo()
    searched = panel.analysis.search
    with qtbot.waitSignal(panel.analysis_finished, timeout=60000):
        panel.start_analysis(force=True)
    assert panel.analysis.search is searched and panel.analysis.scaling_done
    assert sorted(panel.scaling_chart.series_names()) == ["H100 SXM5 80GB", "H20"]
    assert panel.scaling_chart._notice.toPlainText() == ""


def test_a_cancel_before_the_search_finishes_does_not_speak_of_charts(panel, qtbot):
    panel.apply_scenario_state({**SEARCH, "model_id": "llama3-70b", "num_chips": 4096})
    panel._evaluate()
    panel.analysis_timer.stop()
    panel.start_analysis()
    panel.cancel_analysis()
    assert panel.analysis is None
    assert panel.run_bar.message.text() == "Cancelled before the search finished: press Run search to start again."


def test_step_bars_name_their_batch_where_layouts_round_it_differently(panel):
    """Llama 3 70B on 1,024 910B2 at TP8 PP4 VPP2 micro-batch 3 runs 384 sequences in 12.58 s,
    beside best layouts of 512 in 12.51 s: alike as bars, 25% apart in tokens/s."""
    layout = {"tp": 8, "pp": 4, "cp": 1, "ep": 1, "vpp": 2, "zero": 1, "micro_batch": 3, "recompute": "selective"}
    panel.apply_scenario_state({"model_id": "llama3-70b", "chip_id": "ascend-910b2", "num_chips": 1024,
                                "layout_mode": "fixed", "layout": layout, "compare_chips": [], "tokens_t": 1.0})
    panel.compute_now()
    assert panel.result.layout["global_batch_seqs"] == 384
    names = [row[0] for row in panel.step_chart.data_table()[1]]
    assert names[0].startswith("Yours") and names[0].endswith("batch 384")
    assert all(n.endswith("batch 512") for n in names[1:]) and len(names) == 4
    # one batch for every bar: nothing added
    panel.apply_scenario_state({**SEARCH, "compare_chips": []})
    panel.compute_now()
    assert not any("batch" in row[0] for row in panel.step_chart.data_table()[1])


def _slow_curve(started):
    def slow(analysis, inputs, chips, *, progress=None, should_stop=None):
        started.append(analysis.key)
        while not should_stop():
            pass
        raise Cancelled("scaling curve cancelled")
    return slow


def test_a_cancelled_curve_keeps_a_no_fit_answer_and_run_search_says_what_it_draws(panel, qtbot, monkeypatch):
    """QA: Llama 3 405B on 8 H100 found no layout ('at least ~76 chips'); cancelling its curve
    then read 'Search cancelled: no figures yet', and Run search kept the cancel's words."""
    started = []
    monkeypatch.setattr("gui.panels.training.run_scaling_curve", _slow_curve(started))
    panel.apply_scenario_state({**SEARCH, "model_id": "llama3-405b", "num_chips": 8})
    panel._evaluate()
    panel.analysis_timer.stop()
    panel.start_analysis()
    qtbot.waitUntil(lambda: bool(started), timeout=60000)
    answer = panel.notes.text()
    assert panel.analysis.search.best is None and panel.tiles.value("time") == "no layout fits" and answer
    panel.cancel_analysis()
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=10000)
    assert panel.notes.text() == answer and panel.tiles.value("time") == "no layout fits"
    assert panel.run_bar.message.text().startswith("Cancelled: the search's answer is shown")
    panel.start_analysis(force=True)
    assert panel.run_bar.message.text() == "Drawing the scaling curve…"
    qtbot.waitUntil(lambda: len(started) == 2, timeout=10000)
    panel.cancel_analysis()
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=10000)


def test_a_curve_left_behind_by_an_edit_says_it_was_not_drawn(panel, qtbot, monkeypatch):
    """QA: the 64-chip search's curve running, the count set to 128 and that search cancelled: the
    empty curve kept 'Drawing the scaling curve…' with nothing running."""
    started = []
    monkeypatch.setattr("gui.panels.training.run_scaling_curve", _slow_curve(started))
    panel.apply_scenario_state(SEARCH)
    panel._evaluate()
    panel.analysis_timer.stop()
    panel.start_analysis()
    qtbot.waitUntil(lambda: bool(started), timeout=60000)
    panel.count_spin.setValue(128)
    panel._evaluate()
    panel.analysis_timer.stop()
    panel.start_analysis()
    panel.cancel_analysis()
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=10000)
    assert "greyed" in panel.run_bar.message.text()
    assert panel.scaling_chart._notice.toPlainText() == "Scaling curve cancelled: press Run search to draw it"
