"""The Training view says when a fixed global batch makes more chips finish later (QA s36), with the
days `train` gives on the sooner count and how to set it."""

import contextlib

from engine.training import SOONER_MIN
from gui.panels.training import TrainingPanel


@contextlib.contextmanager
def _computed(store, qtbot, **state):
    """A Training view with `state` over its defaults, computed; shut down after."""
    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    try:
        panel.apply_scenario_state({**panel.scenario_state(), "chips_source": "count", **state})
        panel.compute_now()
        yield panel
    finally:
        panel.shutdown()


def test_the_notes_name_the_sooner_count_with_the_batch_fixed(store, qtbot):
    with _computed(store, qtbot, model_id="llama3-8b", chip_id="h100-sxm5-80gb", num_chips=65536,
                   layout_mode="search", global_batch=512, tokens_t=1) as panel:
        assert panel.inputs.num_chips == 65536 and panel.inputs.global_batch_seqs == 512
        here = panel.run_estimate.time_to_train_days
        m, tok, _layout = next(h for h in panel.analysis.halved if h[0] == 32768)
        there = panel.study.estimate(panel.inputs, tok, m).time_to_train_days
        assert there < here * (1 - SOONER_MIN)
        notes = panel.notes.text()
        assert ("With the global batch fixed at 512 sequences, the failures 65,536 chips add outweigh their "
                "throughput: on 32,768 (half of them)") in notes
        assert f"finishes in {there:.3g} days against {here:.3g}; set Chips to 32,768" in notes
        # the default batch grows with the chips: no halvings, nothing said
        panel.apply_scenario_state({**panel.scenario_state(), "global_batch": 0})
        panel.compute_now()
        assert panel.analysis.halved == () and "global batch fixed" not in panel.notes.text()


def test_an_out_of_memory_bar_is_cut_at_twice_the_hbm_and_labelled(store, qtbot):
    """QA s36: a fixed layout's 1,424 GiB bar put the HBM line and the feasible bars (72-80 GiB) in
    the bottom 5% of the memory chart."""
    with _computed(store, qtbot, model_id="llama3-70b", chip_id="h100-sxm5-80gb", num_chips=64, layout_mode="fixed",
                   layout={"tp": 1, "pp": 1, "cp": 1, "ep": 1, "vpp": 1, "micro_batch": 1, "zero": 0,
                           "recompute": "none"}) as panel:
        chart = panel.memory_chart
        headers, rows = chart.data_table()
        total = headers.index("Total (GiB)")
        assert rows[0][total] > 1000 and all(row[total] <= 80 for row in rows[1:])   # the CSV keeps the true total
        top = chart.plot_item.vb.viewRange()[1][1]
        assert 160 <= top < 250   # twice the 80 GiB HBM, with room for the line's label
        assert [label.toPlainText() for label in chart.clipped_labels] == [f"{rows[0][total]:,.0f} GiB \u2191"]
        # no bar fits (a fixed layout on too few chips, alone): nothing to keep readable, every bar whole
        chart.set_categories(["a", "b"])
        chart.set_stacked({"Weights": [500.0, 300.0], "Optimizer": [900.0, 600.0]})
        assert chart.clipped_labels == [] and chart.plot_item.vb.viewRange()[1][1] >= 1400.0
        # a layout that fits: every bar whole, no label
        panel.apply_scenario_state({**panel.scenario_state(), "layout_mode": "search"})
        panel.compute_now()
        assert chart.clipped_labels == []
        assert chart.plot_item.vb.viewRange()[1][1] >= max(r[total] for r in chart.data_table()[1])


def test_a_run_that_makes_no_progress_names_the_fewer_count_that_finishes(store, qtbot):
    """QA s36: the view said "Use fewer chips" alone where `train` names the count."""
    with _computed(store, qtbot, model_id="llama3-8b", chip_id="h100-sxm5-80gb", num_chips=65536,
                   layout_mode="search", global_batch=512, tokens_t=15, mtbf_chip_hours=2000) as panel:
        notes = panel.notes.text()
        assert notes.startswith("no progress on 65,536 chips") or "no progress" in notes
        assert "With the global batch fixed at 512 sequences, 8,192 chips finish in 16.1 days with the best layout" in notes
        assert notes.endswith("set Chips to 8,192.")
