"""The Chips-for-the-demand tile counts its replicas with their noun: "1 replica × 32", not "1
replicas × 32" (QA s33, Qwen3-235B FP8 on H100 at 10,000 output tokens/s)."""

import pytest

from engine.store import open_store
from tests.gui.shared_setups import inference_panel

STATE = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "input_len": 1024, "output_len": 256,
         "ttft_ms": 1000.0, "tpot_ms": 30.0, "demand_tokens_per_s": 500.0, "compare_chips": ["h100-sxm5-80gb"]}


@pytest.fixture
def panel(tmp_path, qtbot):
    store = open_store(tmp_path / "inference.db")
    yield from inference_panel(store, qtbot)
    store.close()


def test_one_replica_is_one_replica(panel):
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    per = panel.capacity.chips_per_replica
    assert panel.chips_for_demand == per   # 500 tokens/s: one replica serves it
    assert panel.tiles.detail("chips").startswith(f"1 replica × {per}")
