"""The Training and Inference views follow the store: a chip edited in the Fleet view's catalog
(an undoable command on the window's stack) reaches their figures, and undo takes it back."""

import pytest
from PySide6.QtGui import QUndoStack

from engine.store import open_store
from gui.commands import EditChipCommand, ImportCommand, push_command
from gui.panels.inference import InferencePanel
from gui.panels.training import TrainingPanel


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "follow.db")
    yield s
    s.close()


@pytest.fixture
def stack():
    return QUndoStack()


def test_training_follows_a_chip_edit_and_its_undo(store, stack, qtbot):
    panel = TrainingPanel(store, stack)
    qtbot.addWidget(panel)
    panel.compute_now()
    chip_id = panel.inputs.chip.id
    before = panel.result.tokens_per_s_per_chip
    peak = panel.inputs.chip.bf16_tflops
    assert push_command(stack, EditChipCommand(store, chip_id, "bf16_tflops", 2 * peak)) is None
    panel.compute_now()
    assert panel.inputs.chip.bf16_tflops == pytest.approx(2 * peak)
    assert panel.result.tokens_per_s_per_chip > 1.2 * before   # twice the matrix rate trains faster
    assert panel.analysis is not None and panel.analysis.key[1].bf16_tflops == pytest.approx(2 * peak)
    stack.undo()
    panel.compute_now()
    assert panel.result.tokens_per_s_per_chip == pytest.approx(before, rel=1e-9)
    panel.shutdown()


def test_inference_follows_a_chip_edit_and_a_new_chip_joins_its_combo(store, stack, qtbot, tmp_path):
    panel = InferencePanel(store, stack)
    qtbot.addWidget(panel)
    panel.apply_scenario_state({"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "input_len": 1024,
                                "output_len": 256, "ttft_ms": 0.0, "tpot_ms": 0.0})
    panel.compute_now()
    before = panel.capacity.output_tokens_per_s_per_chip
    assert push_command(stack, EditChipCommand(store, "h100-sxm5-80gb", "hbm_gbps", 2 * 3350.0)) is None
    panel.compute_now()
    assert panel.request.chip.hbm_gbps == pytest.approx(6700.0)
    assert panel.capacity.output_tokens_per_s_per_chip > before
    row = next(r for r in panel.comparison.rows if r["chip_id"] == "h100-sxm5-80gb")   # the comparison too
    assert row["capacity"].output_tokens_per_s_per_chip == pytest.approx(panel.capacity.output_tokens_per_s_per_chip,
                                                                         rel=1e-9)
    # a chip imported into the catalog is offered at once, the selection kept
    csv_text = "id,vendor,name,bf16_tflops,hbm_gb,hbm_gbps\nmy-npu,Acme,Acme NPU,500,96,3000\n"
    path = tmp_path / "chips.csv"
    path.write_text(csv_text, encoding="utf-8")
    assert panel.chip_combo.findData("my-npu") < 0
    assert push_command(stack, ImportCommand(store, "chips", str(path))) is None
    assert panel.chip_combo.findData("my-npu") >= 0 and panel.chip_combo.currentData() == "h100-sxm5-80gb"
    stack.undo()
    assert panel.chip_combo.findData("my-npu") < 0
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)
    panel.shutdown()


def test_a_form_edit_on_the_shared_stack_does_not_read_the_store_again(store, stack, qtbot, monkeypatch):
    """Form edits go on the window's undo stack too; only a command that wrote to the store makes
    a view read the catalog again (with a large fleet each read takes a while)."""
    from gui.widgets.form_undo import FormUndoWatcher

    panel = InferencePanel(store, stack)
    qtbot.addWidget(panel)
    watcher = FormUndoWatcher(panel, stack, "Inference")
    reads = []
    real = store.chips
    monkeypatch.setattr(store, "chips", lambda: reads.append(1) or real())
    with qtbot.waitSignal(panel.evaluated, timeout=5000):
        panel.input_spin.setValue(2048)
    assert stack.count() >= 1 and reads == []          # an edit of the form: no read
    assert push_command(stack, EditChipCommand(store, "h20-96gb", "hbm_gbps", 5000.0)) is None
    assert len(reads) == 1                             # a write: one read
    stack.undo()
    assert len(reads) == 2
    watcher.deleteLater()
    panel.shutdown()


def test_a_forecast_form_edit_keeps_its_engine_runs_and_a_chip_edit_drops_them(store, stack, qtbot, monkeypatch):
    """The Forecast view followed every move of the shared stack, so each form edit (on the same
    stack) dropped its cached engine runs and re-ran every chip's serving throughput. Now only a
    store write does: Peak / average reuses them, an edited chip runs them again."""
    import engine.forecast_inputs as fi
    from gui.panels.forecast import ForecastPanel
    from gui.widgets.form_undo import FormUndoWatcher

    panel = ForecastPanel(store, stack)
    qtbot.addWidget(panel)
    panel.auto_check.setChecked(False)
    panel._debounce.stop()
    watcher = FormUndoWatcher(panel, stack, "Forecast")
    panel.compute_now()
    runs = []
    real = fi.serving_throughput
    monkeypatch.setattr(fi, "serving_throughput", lambda *a, **k: runs.append(1) or real(*a, **k))
    panel.peak_spin.setValue(1.6)
    qtbot.waitUntil(lambda: stack.count() >= 1, timeout=5000)   # the edit is on the shared stack
    panel.compute_now()
    assert runs == [] and panel.result.scenario.demand.peak_to_average == pytest.approx(1.6)
    assert push_command(stack, EditChipCommand(store, "h20-96gb", "hbm_gbps", 5000.0)) is None
    panel.compute_now()
    assert len(runs) >= 1                                    # the catalog changed: priced again
    watcher.deleteLater()
    panel.shutdown()
