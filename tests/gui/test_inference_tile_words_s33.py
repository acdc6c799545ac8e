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


def test_a_load_the_nics_bind_says_so_beside_the_limit(panel):
    """Llama 3 8B 8,000 / 20 tokens on an Ascend 910B2, TP1 fed by 16 TP1 prefill instances, loose
    targets: the decode NIC binds (s31). The tile read "kv transfer (receiving NICs)" over "time per
    token: compute" (QA s33); serve's bound_by names the NICs, and the detail now says why."""
    panel.apply_scenario_state({**STATE, "model_id": "llama3-8b", "chip_id": "ascend-910b2", "tp": 1,
                                "input_len": 8000, "output_len": 20, "ttft_ms": 20000.0, "tpot_ms": 100.0,
                                "length_spread": 0.0, "prefill_tp": 1, "prefill_instances": 16, "kv_dtype": "bf16",
                                "compare_chips": ["ascend-910b2"]})
    panel.compute_now()
    assert panel.tiles.value("limiting") == "kv transfer (receiving NICs)"
    assert panel.tiles.detail("limiting") == "NICs full: KV transfers"
