"""The Inference view with disaggregated prefill: aggregated steady-state figures and curves are
labelled as such, a TTFT limit reads as one, and a TP the form fixes is said as given (QA)."""

import pytest

from engine.store import open_store
from gui.panels.inference import InferencePanel

STATE = {"model_id": "llama3-70b", "chip_id": "h100-sxm5-80gb", "input_len": 1024, "output_len": 256,
         "ttft_ms": 500.0, "tpot_ms": 30.0, "demand_tokens_per_s": 100_000.0, "tp": 8, "prefill_tp": 8,
         "prefill_instances": 2, "compare_chips": ["h100-sxm5-80gb"]}


@pytest.fixture
def panel(tmp_path, qtbot):
    store = open_store(tmp_path / "inference.db")
    p = InferencePanel(store)
    qtbot.addWidget(p)
    yield p
    p.shutdown()
    store.close()


def test_disaggregated_view_labels_the_aggregated_figures_and_the_ttft_limit(panel):
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    cap, steady = panel.capacity, panel.steady_capacity
    assert panel.under_load() and cap.prefill_chips == 16 and cap.chips_per_replica == 24
    assert panel.tiles.detail("throughput") == (f"p90 under load; steady state "
                                                f"{steady.output_tokens_per_s_per_chip:.0f}, aggregated")
    assert panel.curve_chart.title == "Throughput vs latency, steady state (aggregated deployment)"
    assert panel.ttft_chart.title == "Time to first token vs running batch (aggregated deployment)"
    assert cap.limiting == "TTFT p90 target"
    assert panel.tiles.detail("limiting") == "time to first token: prefill pool"
    assert "TP8 (given" in panel.notes.text() and "chosen by the steady-state search" not in panel.notes.text()
    # throughput: the SLO point's served requests/s x output tokens (lengths spread, CV 0.5: the
    # run's mean) over both pools' chips; the under-load run shown is the one it was read from
    run = panel.comparison.load.chosen
    assert run.requests == 8000 and run.ttft_ms["p90"] == pytest.approx(cap.ttft_ms) and cap.ttft_ms <= 500
    assert cap.output_tokens_per_s_per_chip == pytest.approx(
        cap.request_rate_per_s * run.sim.output_lens.mean() / 24, rel=1e-9)
    assert run.output_tokens_per_s_per_chip == pytest.approx(cap.output_tokens_per_s_per_chip)


def test_aggregated_view_keeps_its_titles_and_time_per_token_detail(panel):
    panel.apply_scenario_state({**STATE, "prefill_tp": 0, "ttft_ms": 5000.0})
    panel.compute_now()
    assert panel.curve_chart.title == "Throughput vs latency, steady state"
    assert "aggregated" not in panel.tiles.detail("throughput")
    cap = panel.capacity
    assert "TTFT" not in cap.limiting
    assert panel.tiles.detail("limiting") == (f"time per token: {cap.resource}" if cap.resource else "")
