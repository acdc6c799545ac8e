"""QA s24 on the Training view's reliability: the goodput tile read "ckpt 0 min" for a 25 s
interval, and the reliability fields had whole-number decimals, so a study saved with 2.4 GB/s
opened as 2 and an MTBF of 0.4 chip-hours as 0 (the Llama 3 rate)."""

import pytest

from engine.reliability import duration_text
from engine.training import estimate_run

FIXED = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "num_chips": 64, "layout_mode": "fixed",
         "layout": {"tp": 2, "pp": 2, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1,
                    "recompute": "selective"}, "tokens_t": 1.0}


@pytest.fixture
def panel(training_panel):   # (tests/gui/conftest.py: the Training view on the test's store)
    return training_panel


def test_the_goodput_tile_gives_a_short_interval_in_seconds(panel, qtbot):
    # 50 chip-hours on 64 chips: a failure every 47 min, a checkpoint every ~25 s
    panel.apply_scenario_state({**FIXED, "mtbf_chip_hours": 50.0})
    panel.compute_now()
    inp = panel.inputs
    est = estimate_run(1e12, panel.result.tokens_per_s_per_chip, inp.num_chips, inp.chip,
                       params=float(inp.model.total_params()), mtbf_chip_hours=50.0)
    assert est.checkpoint_interval_min < 1.0
    detail = panel.tiles.detail("goodput")
    assert detail.startswith(f"ckpt {duration_text(est.checkpoint_interval_min * 60.0)}, ") and " s, " in detail
    assert "0 min" not in detail
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


@pytest.mark.parametrize("saved", [
    {"mtbf_chip_hours": 0.4, "restart_min": 2.25, "checkpoint_write_gbps": 2.4},
    {"mtbf_chip_hours": 12345.678, "restart_min": 0.5, "checkpoint_write_gbps": 0.005},
    {"mtbf_chip_hours": 0.0, "restart_min": 10.0, "checkpoint_write_gbps": 1e7},
])
def test_saved_reliability_values_open_as_saved(panel, qtbot, saved):
    panel.apply_scenario_state({**FIXED, **saved})
    state = panel.scenario_state()
    assert {k: state[k] for k in saved} == saved
    assert panel.mtbf_spin.value() == saved["mtbf_chip_hours"]
    if saved["mtbf_chip_hours"]:
        assert str(saved["mtbf_chip_hours"]).rstrip("0").rstrip(".") in panel.mtbf_spin.text().replace(",", "")
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)


def test_a_typed_checkpoint_bandwidth_under_one_is_kept(panel, qtbot):
    panel.apply_scenario_state(FIXED)
    box = panel.ckpt_spin
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "0.25")
    box.interpretText()
    assert box.value() == 0.25 and panel.scenario_state()["checkpoint_write_gbps"] == 0.25
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=20000)
