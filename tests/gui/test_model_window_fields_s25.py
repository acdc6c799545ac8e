"""The Training view's model editor: "Attention window (tokens)" and "Windowed layers" beside the
other architecture fields. They start from the preset, reach the engine, are checked in one line,
come back from a saved scenario and are undoable like every other model field."""

import json
from dataclasses import replace

import pytest
from PySide6.QtWidgets import QApplication, QLabel

from engine.training import TrainingInputs, evaluate_layout

LLAMA = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "num_chips": 64, "layout_mode": "fixed",
         "seq_len": 8192,
         "layout": {"tp": 2, "pp": 2, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1,
                    "recompute": "selective"},
         "compare_chips": ["h100-sxm5-80gb"], "tokens_t": 1.0}


@pytest.fixture
def panel(training_panel):
    return training_panel


def test_the_fields_say_what_they_are(panel):
    window, layers = panel.custom_spins["attention_window_tokens"], panel.custom_spins["windowed_layers"]
    assert window.suffix() == " tokens" and window.specialValueText() == "no window" and window.minimum() == 0
    assert layers.suffix() == " layers" and layers.minimum() == 0 and layers.maximum() == 1000
    assert "sliding window" in window.toolTip() and "chunk" in window.toolTip()
    assert "attend within the attention window" in layers.toolTip()
    captions = {label.text() for label in panel.findChildren(QLabel)}
    assert {"Attention window (tokens)", "Windowed layers"} <= captions
    panel.apply_scenario_state({**LLAMA, "custom": {}})          # a preset without a window: 0 and 0
    assert window.value() == 0 and layers.value() == 0


def test_a_window_reaches_the_engine_and_round_trips(panel, qtbot):
    panel.apply_scenario_state({**LLAMA, "custom": {"attention_window_tokens": 1024, "windowed_layers": 24}})
    panel.compute_now()
    model = panel.inputs.model
    assert (model.attention_window_tokens, model.windowed_layers) == (1024, 24)
    assert panel.errors.messages() == {}
    layout = dict(chip=panel.inputs.chip, num_chips=64, seq_len=8192, tp=2, pp=2, dp=16, cp=1, micro_batch=1,
                  zero_stage=1, recompute="selective")
    alone = evaluate_layout(TrainingInputs(model=model, **layout))
    whole = evaluate_layout(TrainingInputs(model=replace(model, attention_window_tokens=0, windowed_layers=0),
                                           **layout))
    assert panel.result.step_time_s == pytest.approx(alone.step_time_s, rel=1e-12)
    assert alone.step_time_s < whole.step_time_s          # 24 of 32 layers attend to 1,024 of 8,192 tokens
    saved = json.loads(json.dumps(panel.scenario_state()))
    assert saved["custom"]["attention_window_tokens"] == 1024 and saved["custom"]["windowed_layers"] == 24
    panel.apply_scenario_state({**LLAMA, "custom": {}})
    panel.apply_scenario_state(saved)
    assert panel.custom_spins["attention_window_tokens"].value() == 1024
    assert panel.current_model().windowed_layers == 24
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_a_window_without_layers_is_named_on_its_field(panel, qtbot):
    panel.apply_scenario_state({**LLAMA, "custom": {"attention_window_tokens": 1024, "windowed_layers": 0}})
    panel.compute_now()
    assert "windowed_layers: 0 (an attention window of 1,024 tokens" in panel.errors.messages()["custom_windowed_layers"]
    panel.custom_spins["windowed_layers"].setValue(40)
    panel.compute_now()
    assert "windowed_layers: 40 (at most layers = 32)" in panel.errors.messages()["custom_windowed_layers"]
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_a_window_edit_is_undoable(window, qtbot, monkeypatch):
    from gui.widgets import form_undo

    monkeypatch.setattr(form_undo, "MERGE_WINDOW_S", -1.0)   # the check and the edit: two steps, not one
    window.tabs.setCurrentIndex(window.tab_of(window.panel("training")))
    panel = window.panels["training"]
    before = window.undo_stack.count()
    panel.custom_check.setChecked(True)                       # its own step: the architecture is edited
    qtbot.waitUntil(lambda: window.undo_stack.count() == before + 1)
    box = panel.custom_spins["attention_window_tokens"]
    assert box.value() == 0
    depth = window.undo_stack.count()
    box.setValue(4096)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.undo_stack.text(depth) == "Edit Training: Architecture: attention window tokens"
    assert panel.scenario_state()["custom"]["attention_window_tokens"] == 4096
    window.undo_stack.undo()
    QApplication.processEvents()
    assert box.value() == 0 and panel.scenario_state()["custom"]["attention_window_tokens"] == 0
    window.undo_stack.redo()
    QApplication.processEvents()
    assert box.value() == 4096
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)
