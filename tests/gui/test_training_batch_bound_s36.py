"""The Training view says when a fixed global batch makes more chips finish later (QA s36), with the
days `train` gives on the sooner count and how to set it."""

from engine.training import SOONER_MIN
from gui.panels.training import TrainingPanel


def test_the_notes_name_the_sooner_count_with_the_batch_fixed(store, qtbot):
    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    try:
        panel.apply_scenario_state({**panel.scenario_state(), "model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb",
                                    "chips_source": "count", "num_chips": 65536, "layout_mode": "search",
                                    "global_batch": 512, "tokens_t": 1})
        panel.compute_now()
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
    finally:
        panel.shutdown()
