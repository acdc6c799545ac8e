"""The Training view's "Expert TP" field (Software group, beside "MoE routing"): it reaches the
engine, comes back from a saved scenario and is undoable, like every other field of the form."""

import json

import pytest
from PySide6.QtWidgets import QApplication

from engine.training import TrainingInputs, evaluate_layout

MIXTRAL = {"model_id": "mixtral-8x7b", "chip_id": "h100-sxm5-80gb", "num_chips": 16, "layout_mode": "fixed",
           "layout": {"tp": 4, "pp": 1, "cp": 1, "ep": 4, "vpp": 1, "zero": 1, "micro_batch": 1,
                      "recompute": "selective"},
           "tokens_t": 1.0, "compare_chips": ["h100-sxm5-80gb"]}


@pytest.fixture
def panel(training_panel):
    return training_panel


def test_the_field_says_what_it_is_and_starts_derived(panel):
    box = panel.expert_tp_spin
    assert box.value() == 0 and box.specialValueText() == "derived"
    assert box.minimum() == 0 and box.maximum() == 64
    assert "Megatron-Core's --expert-tensor-parallel-size" in box.toolTip()
    assert "gcd(TP, TP × CP × DP / EP)" in box.toolTip()
    assert panel.software_settings()["expert_tp"] is None


def test_expert_tp_reaches_the_engine_and_round_trips_in_the_scenario(panel, qtbot):
    panel.apply_scenario_state(MIXTRAL)
    panel.compute_now()
    assert panel.inputs.expert_tp is None and panel.result.layout["expert_tp"] == 4   # gcd(4, 16 / 4)
    derived = panel.result
    panel.expert_tp_spin.setValue(2)
    panel.compute_now()
    assert panel.inputs.expert_tp == 2 and panel.result.layout["expert_tp"] == 2
    engine = evaluate_layout(TrainingInputs(model=panel.inputs.model, chip=panel.inputs.chip, num_chips=16, tp=4,
                                            pp=1, cp=1, dp=4, ep=4, micro_batch=1, zero_stage=1,
                                            recompute="selective", expert_tp=2))
    assert panel.result.step_time_s == pytest.approx(engine.step_time_s, rel=1e-12)
    assert panel.result.memory_gib_per_chip > derived.memory_gib_per_chip   # the experts split 2 ways, not 4
    assert "ETP 2 (set)" in panel.notes.text()
    saved = json.loads(json.dumps(panel.scenario_state()))
    assert saved["software"]["expert_tp"] == 2
    panel.apply_scenario_state(MIXTRAL)           # saved before the field existed: derived
    assert panel.expert_tp_spin.value() == 0 and panel.software_settings()["expert_tp"] is None
    panel.apply_scenario_state(saved)
    assert panel.expert_tp_spin.value() == 2 and panel.current_study().software_settings()["expert_tp"] == 2
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_an_expert_tp_the_layout_cannot_take_is_said_with_its_reason(panel, qtbot):
    panel.apply_scenario_state({**MIXTRAL, "software": {"expert_tp": 8}})   # does not divide TP 4
    panel.compute_now()
    assert panel.expert_tp_spin.value() == 8
    assert not panel.result.feasible
    # the rule with its numbers (s28: the engine words every refusal with the values it checked)
    assert "Expert TP 8 does not divide tp 4" in panel.notes.text()
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_an_expert_tp_edit_is_undoable(window, qtbot):
    window.tabs.setCurrentIndex(window.tab_of(window.panel("training")))
    panel = window.panels["training"]
    assert panel.expert_tp_spin.value() == 0
    depth = window.undo_stack.count()
    panel.expert_tp_spin.setValue(2)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.undo_stack.text(depth) == "Edit Training: Software: Expert TP"
    assert panel.scenario_state()["software"]["expert_tp"] == 2
    window.undo_stack.undo()
    QApplication.processEvents()
    assert panel.expert_tp_spin.value() == 0 and panel.scenario_state()["software"]["expert_tp"] is None
    window.undo_stack.redo()
    QApplication.processEvents()
    assert panel.expert_tp_spin.value() == 2
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)
