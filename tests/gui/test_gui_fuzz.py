"""The GUI survives random and hostile input: no exception escapes, the data stays consistent."""

import random

import pytest

from engine.store import open_store
from tests.gui.fuzzing import fuzz


def _consistent(store):
    db = store.db
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    over = db.execute("select o.id from orders o join deliveries d on d.order_id = o.id "
                      "group by o.id having sum(d.quantity) > o.quantity").fetchall()
    assert over == []
    for chip in store.chips():  # every stored number still finite and non-negative
        for value in (chip.bf16_tflops, chip.hbm_gb, chip.hbm_gbps):
            assert value is None or (value == value and 0 <= value < 1e7)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fleet_panel_survives_hostile_input(qtbot, tmp_path, seed):
    from PySide6.QtGui import QUndoStack

    from gui.panels.fleet import FleetPanel

    store = open_store(tmp_path / "fuzz.db")
    stack = QUndoStack()
    panel = FleetPanel(store, stack)
    qtbot.addWidget(panel)
    panel.show()
    before = {t: [dict(r) for r in store.db[t].rows] for t in ("chips", "orders", "deliveries")}
    rng = random.Random(seed)
    assert fuzz(panel, qtbot, rng, rounds=100) > 120
    _consistent(store)
    while stack.canUndo():  # everything the fuzzing managed to change undoes cleanly
        stack.undo()
    _consistent(store)
    assert {t: [dict(r) for r in store.db[t].rows] for t in ("chips", "orders", "deliveries")} == before
    panel.detach() if hasattr(panel, "detach") else None
    store.close()


ANALYSIS = [("gui.panels.training", "TrainingPanel"), ("gui.panels.inference", "InferencePanel"),
            ("gui.panels.forecast", "ForecastPanel"), ("gui.panels.compare", "ComparePanel")]


@pytest.mark.parametrize("module_name,class_name", ANALYSIS)
def test_analysis_panels_survive_hostile_input(qtbot, tmp_path, module_name, class_name):
    """Random and hostile values in every field, random clicks; then one clean evaluation works."""
    import importlib

    from PySide6.QtCore import QThreadPool
    from PySide6.QtGui import QUndoStack

    cls = getattr(importlib.import_module(module_name), class_name)
    store = open_store(tmp_path / "fuzz.db")
    stack = QUndoStack()
    panel = cls(store, stack)
    qtbot.addWidget(panel)
    panel.resize(1400, 900)
    panel.show()
    clean_state = panel.scenario_state()
    assert fuzz(panel, qtbot, random.Random(7), rounds=30) > 60
    panel.shutdown()
    assert QThreadPool.globalInstance().waitForDone(20000)
    panel.apply_scenario_state(clean_state)  # back to sane inputs: the panel still computes
    panel.compute_now()
    assert panel.charts()
    for name, (headers, rows) in panel.tables().items():
        assert headers, name
    panel.shutdown()
    assert QThreadPool.globalInstance().waitForDone(20000)
    _consistent(store)
    store.close()
