"""QA s26: the Training view's fields for two `train` inputs it lacked. "Checkpoint size"
(bytes per parameter, `--checkpoint-bytes-per-param`) sits in the Reliability group beside
"Checkpoint write"; the Precision combo offers FP16 (`--dtype fp16`). Both are saved in the
scenario, come back when it is opened again, are undoable, and give the figures `train --scenario`
gives."""

import json

import pytest
from PySide6.QtWidgets import QApplication, QFormLayout

import engine.cli as cli
from engine.reliability import CHECKPOINT_BYTES_PER_PARAM

# 50 chip-hours MTBF and 1 GB/s storage: the checkpoint's size moves the days, not only a digit
STATE = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "num_chips": 64, "layout_mode": "fixed",
         "layout": {"tp": 2, "pp": 2, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1,
                    "recompute": "selective"},
         "tokens_t": 1.0, "mtbf_chip_hours": 50.0, "checkpoint_write_gbps": 1.0,
         "compare_chips": ["h100-sxm5-80gb"]}


def _training(window):
    panel = window.panel("training")
    window.tabs.setCurrentIndex(window.tab_of(panel))
    return panel


def _figures(panel) -> tuple[float, float]:
    panel.compute_now()
    est = panel.run_estimate
    return est.time_to_train_days, est.goodput


def _train(capsys, db: str, name: str, *flags) -> dict:
    code = cli.main(["--format", "json", "train", "--db", str(db), "--scenario", name, *flags])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_the_field_says_what_it_counts_and_its_default(training_panel):
    box = training_panel.ckpt_bytes_spin
    assert box.value() == CHECKPOINT_BYTES_PER_PARAM == 14.0 and box.suffix() == " bytes/param"
    assert (box.minimum(), box.maximum()) == (0.001, 1000.0)
    tip = box.toolTip()
    assert "per model parameter" in tip and "default 14" in tip and "--checkpoint-bytes-per-param" in tip
    assert training_panel.errors._captions["checkpoint_bytes"] == "Checkpoint size"
    assert training_panel.scenario_state()["checkpoint_bytes_per_param"] == 14.0
    # the row under Checkpoint write, in the Reliability group's form
    write, size = training_panel.ckpt_spin.parentWidget(), box.parentWidget()   # (each row's holder)
    form = next(f for f in training_panel.findChildren(QFormLayout) if f.indexOf(write) >= 0)
    assert form.getWidgetPosition(size)[0] == form.getWidgetPosition(write)[0] + 1
    assert form.indexOf(training_panel.mtbf_spin.parentWidget()) >= 0


def test_the_size_reaches_the_figures(training_panel, qtbot):
    panel = training_panel
    panel.apply_scenario_state(STATE)
    days14, good14 = _figures(panel)
    params = float(panel.inputs.model.total_params())
    panel.ckpt_bytes_spin.setValue(28.0)
    days28, good28 = _figures(panel)
    est = panel.run_estimate
    assert est.checkpoint_bytes_per_param == 28.0
    assert est.checkpoint_write_s == pytest.approx(params * 28.0 / 1e9, rel=1e-12)   # at 1 GB/s
    assert good28 < good14 and days28 > days14
    assert "--checkpoint-bytes-per-param 28" in panel.export_context()["CLI"]
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_saved_reopened_and_equal_to_train_scenario(window_factory, store, qtbot, capsys):
    window = window_factory()
    panel = _training(window)
    name = window.scenario_bar.current_name()
    panel.apply_scenario_state(STATE)
    panel.ckpt_bytes_spin.setValue(40.0)
    days, goodput = _figures(panel)
    assert window.scenario_bar.save_current()
    saved = store.scenario(name)["params"]["ui"]["training"]
    assert saved["checkpoint_bytes_per_param"] == 40.0
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)

    again = _training(window_factory())
    assert again.ckpt_bytes_spin.value() == 40.0
    assert _figures(again) == (days, goodput)
    cli_run = _train(capsys, store.path, name)
    assert cli_run["run"]["checkpoint_bytes_per_param"] == 40.0
    assert cli_run["time_to_train_days"] == pytest.approx(days, rel=1e-12)
    assert cli_run["run"]["goodput"] == pytest.approx(goodput, rel=1e-12)
    # at the default 14 both give other figures: the 40 is what ran
    default = _train(capsys, store.path, name, "--checkpoint-bytes-per-param", "14")
    assert default["time_to_train_days"] < days
    qtbot.waitUntil(lambda: not again.runner.is_running(), timeout=20000)


def test_an_old_scenario_without_the_key_opens_with_the_default(training_panel, qtbot):
    panel = training_panel
    panel.apply_scenario_state({**STATE, "checkpoint_bytes_per_param": 40.0})
    assert panel.ckpt_bytes_spin.value() == 40.0
    panel.apply_scenario_state(STATE)   # saved before the field existed
    assert panel.ckpt_bytes_spin.value() == 14.0
    assert panel.current_study().reliability()["checkpoint_bytes_per_param"] == 14.0
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_a_size_edit_is_undoable(window, qtbot):
    panel = _training(window)
    depth = window.undo_stack.count()
    panel.ckpt_bytes_spin.setValue(20.0)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.undo_stack.text(depth) == "Edit Training: Checkpoint size"
    assert panel.scenario_state()["checkpoint_bytes_per_param"] == 20.0
    window.undo_stack.undo()
    QApplication.processEvents()
    assert panel.ckpt_bytes_spin.value() == 14.0 and panel.scenario_state()["checkpoint_bytes_per_param"] == 14.0
    window.undo_stack.redo()
    QApplication.processEvents()
    assert panel.ckpt_bytes_spin.value() == 20.0
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_fp16_is_offered_runs_at_the_bf16_figures_and_round_trips(window_factory, store, qtbot, capsys):
    window = window_factory()
    panel = _training(window)
    combo = panel.dtype_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["bf16", "fp16", "fp8"]
    assert "loss" in combo.itemText(combo.findData("fp16")).lower() and "loss scale" in combo.toolTip()
    panel.apply_scenario_state(STATE)
    bf16 = _figures(panel)
    step16 = panel.result.step_time_s
    combo.setCurrentIndex(combo.findData("fp16"))
    assert _figures(panel) == bf16 and panel.inputs.dtype == "fp16" and panel.result.step_time_s == step16
    assert "FP16" in panel.export_context()["Workload"] and "--dtype fp16" in panel.export_context()["CLI"]
    assert window.scenario_bar.save_current()
    name = window.scenario_bar.current_name()
    assert store.scenario(name)["params"]["ui"]["training"]["dtype"] == "fp16"
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)
    again = _training(window_factory())
    assert again.dtype_combo.currentData() == "fp16"
    cli_run = _train(capsys, store.path, name)
    assert cli_run["dtype"] == "fp16" and cli_run["time_to_train_days"] == pytest.approx(bf16[0], rel=1e-12)
    qtbot.waitUntil(lambda: not again.runner.is_running(), timeout=20000)
