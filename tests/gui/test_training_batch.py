"""The Training panel keeps a realistic global batch on the installed fleet and shows it."""

import pytest

from engine.store import open_store
from engine.training import MAX_BATCH_GROWTH
from gui.panels.training import TrainingPanel


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "batch.db")
    yield s
    s.close()


@pytest.mark.slow
def test_fleet_on_a_date_search_shows_the_batch_it_used(store, qtbot):
    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("fleet"))
    panel.compute_now()
    inp = panel.inputs
    assert inp is not None and inp.num_chips >= 10_000  # the story's installed 910B fleet
    best = panel.result
    batch = best.layout["global_batch_seqs"]
    assert batch <= MAX_BATCH_GROWTH * inp.batch_seqs()
    assert f"batch {batch:,} seq" in panel.tiles.detail("layout")
    assert f"{inp.batch_seqs():,} sequences" in panel.batch_hint.text()
    rows = {r[0]: r[1] for r in panel.figure_rows()}
    assert rows["Global batch"] == batch
    panel.shutdown()


def test_the_batch_hint_does_not_keep_a_figure_the_marked_inputs_would_not_use(store, qtbot):
    """A marked field leaves no inputs to work the batch out from: the hint had kept the last valid
    inputs' "Auto: 512 sequences x 8,192 tokens" (session 39's training QA)."""
    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    assert panel.read_inputs() is not None and panel.batch_hint.text().startswith("Auto: ")
    # the fleet's H100s on a date: the story's fleet has none, so the chip count is marked
    panel.chip_combo.setCurrentIndex(panel.chip_combo.findData("h100-sxm5-80gb"))
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("fleet"))
    assert panel.read_inputs() is None
    assert panel.batch_hint.text() == "Auto: worked out once the marked fields are fixed"
    panel.batch_spin.setValue(768)
    assert panel.read_inputs() is None
    assert panel.batch_hint.text().startswith("Set: 768 sequences (")
    panel.source_combo.setCurrentIndex(panel.source_combo.findData("count"))
    assert panel.read_inputs() is not None
    assert panel.batch_hint.text().startswith("Set: 768 sequences × ")
    panel.shutdown()
