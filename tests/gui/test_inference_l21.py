"""Inference view QA (s21 L): the run bar's basis counts and its words beside Under load, the
caveats `serve` prints, advice in the window's terms, and what the CSVs say."""

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.inference import _pipeline_hint
from engine.serving.families import blank_engine_note
from gui.panels.inference_notes import BATCH_HEADER, window_terms


@pytest.fixture
def panel(inference_panel):   # tests/gui/conftest.py
    return inference_panel


def test_cli_advice_is_said_in_the_windows_terms():
    """'try --tp 8 --pp 2 with a load (--concurrency ...)' named flags and a load the window lacks."""
    hint = _pipeline_hint(16, 8, reference_models()["llama3-405b"])
    said = window_terms(f"latency target not met; {hint}")
    assert "--concurrency," not in said and "with a load" not in said
    assert "the command line can try TP8 x PP2: fleetcast serve ... --tp 8 --pp 2 --concurrency N" in said
    note = window_terms(blank_engine_note("", reference_chips()["ascend-910b2"]))
    assert "--engine" not in note and "Serving engine MindIE or vLLM-Ascend" in note


def test_405b_on_910b2_run_bar_agrees_with_under_load(panel):
    """The run bar said 'The p90 targets were not simulated for Ascend 910B2' while Under load
    showed a simulation missing them at 1.92 requests/s."""
    panel.apply_scenario_state({"model_id": "llama3-405b", "chip_id": "ascend-910b2",
                                "compare_chips": ["ascend-910b2"]})
    panel.compute_now()
    c = panel.comparison
    assert c.load is not None and not c.chosen.feasible and c.chosen.latency_basis == "mean"
    bar = panel.run_bar.message.text()
    assert "were not simulated" not in bar
    assert "Ascend 910B2: the p90 targets are missed at every load simulated (Under load)" in bar
    assert "Latencies: 1 at mean (steady state)." in bar
    assert "targets missed at every load" in panel.load_note.text()
    # the pipeline advice in the notes is the command line's, said as such
    assert "--concurrency," not in panel.notes.text() and "the command line can try TP8 x PP2" in panel.notes.text()


def test_notes_carry_serves_caveats_and_exports_say_their_basis_and_load(panel, tmp_path):
    # long prompts: the KV cache holds a batch the simulator runs, so Under load has a run to label
    panel.apply_scenario_state({"model_id": "llama3-8b", "chip_id": "ascend-910b2", "tp": 1, "ttft_ms": 0.0,
                                "tpot_ms": 0.0, "prefix_cache_pct": 50.0, "input_len": 4000, "output_len": 1000,
                                "compare_chips": ["ascend-910b2"]})
    panel.compute_now()
    notes = panel.notes.text()
    assert "engine not given: a vLLM-style scheduler" in notes and "Serving engine MindIE or vLLM-Ascend" in notes
    assert "prefix cache: 50% of prompt tokens assumed served from cache" in notes
    assert "--engine" not in panel.export_context()["CLI"]
    # no targets: the batch shown is the saturation load's, not one "at targets"
    detail = panel.tiles.detail("concurrency")
    assert detail.endswith("at saturation") and "at targets" not in detail
    # the run bar counts the rows on each basis; the table shows the basis column
    assert "Latencies: 1 at p90 under load." in panel.run_bar.message.text()
    labels = [panel.table.horizontalHeaderItem(j).text() for j in range(panel.table.columnCount())]
    assert labels[-1] == "Latencies at" and not panel.table.isColumnHidden(len(labels) - 1)
    assert panel.table.item(0, len(labels) - 1).text() == "p90 under load"
    path = tmp_path / "cmp.csv"
    panel.export_table_csv(path)
    assert "# Latencies at: 1 at p90 under load" in path.read_text()
    # the single-run charts say the load they were run at
    load = panel.comparison.load
    for key in ("ttft-distribution", "kv-use"):
        assert panel.chart_export_context(key)["Load"] == f"{load.chosen_rate_per_s:.2f} requests/s per replica " \
                                                          "(Poisson arrivals)"
    assert "Load" not in panel.chart_export_context("latency-vs-load")
    # the throughput-latency CSV carries each point's running batch
    headers, rows = panel.curve_chart.data_table()
    assert headers[-1] == BATCH_HEADER
    c = panel.comparison
    ok = np.isfinite(c.tpot_ms[0]) & np.isfinite(c.tokens_per_s_per_chip[0])
    assert [r[3] for r in rows] == c.batches[ok].tolist()
    assert [r[1] for r in rows] == c.tpot_ms[0][ok].tolist()
