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
