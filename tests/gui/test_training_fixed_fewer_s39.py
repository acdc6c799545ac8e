"""With a fixed layout the Training view told the planner to halve the chips by comparing the
best layout on half of them with the hand-made one on all (a slow layout on 512 H800 read "on 256
the best layout finishes in 84.1 days against 87.4; set Chips to 256" where the best on 512 takes
43.7; QA s39). Fewer chips are now measured against the best layout on this count."""

import re

import pytest

from gui.panels.training import TrainingPanel

SLOW = {"tp": 8, "pp": 16, "cp": 1, "ep": 1, "vpp": 1, "micro_batch": 1, "zero": 0, "recompute": "full"}


def test_fewer_chips_are_measured_against_the_best_layout_not_the_fixed_one(store, qtbot):
    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    try:
        base = {**panel.scenario_state(), "chips_source": "count", "model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb",
                "num_chips": 65536, "global_batch": 512, "tokens_t": 1}
        panel.apply_scenario_state({**base, "layout_mode": "search"})
        panel.compute_now()
        best_days = panel.run_estimate.time_to_train_days
        panel.apply_scenario_state({**base, "layout_mode": "fixed", "layout": SLOW})
        panel.compute_now()
        fixed_days = panel.run_estimate.time_to_train_days
        assert fixed_days > 1.5 * best_days   # the hand-made layout is the slow part
        assert abs(panel._days_here(panel.analysis, fixed_days) - best_days) <= 1e-9 * best_days
        # half the chips finish sooner than the best layout on all of them: said against that one
        said = re.search(r"finishes in ([\d.,]+) days against ([\d.,]+) \(the best layout on 65,536\)", panel.notes.text())
        assert said, panel.notes.text()
        assert float(said.group(2).replace(",", "")) == float(f"{best_days:.3g}")
        assert float(said.group(1).replace(",", "")) < best_days
    finally:
        panel.shutdown()


@pytest.fixture
def fp8_run(store, qtbot):
    """Llama 3 8B in FP8 on 64 H800, searched (the default compared chips include the 910B2)."""
    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    panel.apply_scenario_state({**panel.scenario_state(), "chips_source": "count", "model_id": "llama3-8b",
                                "chip_id": "h800-sxm5-80gb", "num_chips": 64, "dtype": "fp8", "layout_mode": "search"})
    panel.compute_now()
    yield panel
    panel.shutdown()


def test_a_compared_chip_without_fp8_says_so_in_the_legend(fp8_run):
    """'Ascend 910B2 (no layout fits)' on an FP8 run read as a memory or chip-count problem; the
    chip has no FP8 (QA s39)."""
    names = fp8_run.scaling_chart.series_names()
    assert any(n.endswith("(no FP8)") and "910B" in n for n in names), names
    assert not any(n.endswith("(no layout fits)") for n in names)


def test_an_fp8_runs_mfu_tile_gives_its_share_of_the_fp8_peak(fp8_run):
    """MFU is quoted against the BF16 peak for FP8 runs too, so it can pass 100% (102.5% on 8 H20);
    the tile read "MFU 102.5" with "HFU ... · of the BF16 …" cut at 1280 px (QA s39)."""
    r, chip = fp8_run.result, fp8_run.inputs.chip
    assert fp8_run.tiles.detail("mfu") == f"BF16 peak; {100 * r.model_tflops_per_chip / chip.fp8_tflops:.0f}% of FP8"
    assert 0 < r.model_tflops_per_chip / chip.fp8_tflops < 1
