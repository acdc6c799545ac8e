"""Serving study QA (s21 L): the closed form's running-sequence cap per engine family, the chip
comparison's layout words and latency basis, the caveats and CLI line the Inference view exports."""

import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.inference import resolve_factors, serving_curve, slo_capacity
from engine.serving.families import FAMILIES, SCHEDULERS, blank_engine_note
from engine.studies import ServingStudy
from engine.studies_serving import (
    ChipComparison, comparison_basis_text, comparison_table, run_chip_comparison, serve_command, serving_caveats,
    serving_request,
)
from engine.topology import assumed_network_note

CHIPS = reference_chips()
MODELS = reference_models()


@pytest.mark.parametrize("engine", [f for f in FAMILIES if f != "vllm-ascend"] + ["", "vllm-ascend@0.9"])
def test_the_closed_form_caps_running_sequences_at_the_familys_scheduler_max(engine):
    """The closed form capped every family at 1,024 running sequences while the simulator runs the
    family's own scheduler (MindIE 200): MindIE 70B on a 910B2 read '755 per replica; 696 at
    targets' where a simulated C=696 ran 147.5."""
    from engine.serving.families import scheduler_for

    chip = CHIPS["ascend-910b2"]
    assert resolve_factors(chip, engine)["inf_max_batch"] == scheduler_for(engine).max_num_seqs
    # a deployment's own limit still wins
    assert resolve_factors(chip, engine, {"inf_max_batch": 64.0})["inf_max_batch"] == 64.0


def test_mindie_runs_no_more_sequences_in_steady_state_than_its_scheduler_admits():
    model, chip = MODELS["llama3-8b"], CHIPS["ascend-910b2"]
    cap = SCHEDULERS["mindie"].max_num_seqs
    curve = serving_curve(model, [chip], [1], [cap, cap + 1], input_len=64, output_len=64, engine="mindie")
    assert np.isfinite(curve.tpot_ms[0, 0]).tolist() == [True, False]
    steady = slo_capacity(MODELS["llama3-70b"], chip, input_len=1024, output_len=256, tp=8, engine="mindie")
    assert steady.max_running <= cap and steady.batch_at_slo <= cap


def _comparison_at_tp1():
    # TPOT 20 ms: both rows' batches are within what the simulator runs (p90 under load)
    req = serving_request(ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, input_len=1024,
                                       output_len=256, tpot_ms=20.0), CHIPS, MODELS)
    return req, run_chip_comparison(req, (CHIPS["h100-sxm5-80gb"], CHIPS["h20-96gb"]))


@pytest.fixture(scope="module")
def tp1_comparison():
    return _comparison_at_tp1()


def test_other_chips_rows_say_their_layout_was_searched(tp1_comparison):
    """The form fixes TP for the chosen chip; another chip's row said 'TP4 (given; ...' of a layout
    its own search chose."""
    _req, c = tp1_comparison
    mine, other = c.rows
    assert mine["form_layout"] and "TP1 (given" in mine["capacity"].explanation
    assert not other["form_layout"] and other["capacity"].feasible and other["tp"] != 1
    assert "(given" not in other["capacity"].explanation
    assert f"TP{other['tp']} chosen at p90 under load" in other["capacity"].explanation


def test_comparison_rows_say_which_latencies_they_hold(tp1_comparison):
    """Rows simulated at p90 sat beside steady-state means under one header: each row says its
    basis, and the run bar counts them."""
    req, c = tp1_comparison
    headers, rows = comparison_table(c)
    assert headers[-1] == "Latencies at"
    assert [r[-1] for r in rows] == ["p90 under load", "p90 under load"]
    assert comparison_basis_text(c) == "2 at p90 under load"
    steady = req.capacity(CHIPS["h20-96gb"], fixed_layout=False)       # a mean (steady-state) figure
    mixed = replace(c, rows=(c.rows[0], {**c.rows[1], "capacity": steady}))
    assert [r[-1] for r in comparison_table(mixed)[1]] == ["p90 under load", "mean (steady state)"]
    assert comparison_basis_text(mixed) == "1 at p90 under load, 1 at mean (steady state)"
    assert comparison_basis_text(ChipComparison((), (), np.zeros(0), np.zeros((0, 0)), np.zeros((0, 0)),
                                                np.zeros((0, 0)))) == ""


def test_the_cli_line_leaves_a_blank_engine_blank():
    """`--engine vllm` names an engine: the CLI then drops its 'engine not given' note."""
    blank = serving_request(ServingStudy(model_id="llama3-8b", chip_id="ascend-910b2"), CHIPS, MODELS)
    assert "--engine" not in serve_command(blank)
    named = serving_request(ServingStudy(model_id="llama3-8b", chip_id="ascend-910b2", engine="mindie"), CHIPS, MODELS)
    assert "--engine mindie" in serve_command(named)


def test_the_views_caveats_are_the_notes_serve_prints(capsys):
    from engine.cli import main

    req = serving_request(ServingStudy(model_id="llama3-8b", chip_id="ascend-910b2", tp=2, prefix_cache_pct=50.0,
                                       ttft_ms=0.0, tpot_ms=0.0, demand_tokens_per_s=0.0), CHIPS, MODELS)
    caveats = serving_caveats(req, req.capacity())
    assert blank_engine_note("", req.chip) in caveats
    assert any(c.startswith("prefix cache: 50%") for c in caveats)
    assert main(serve_command(req).split()[1:] + ["--format", "json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert all(c in notes for c in caveats), (caveats, notes)
    # a replica that spans servers crosses them: the scale-out figure a catalog lacks is said
    h20 = replace(req, chip=CHIPS["h20-96gb"], engine="vllm", prefix_cache_hit=0.0)
    across = serving_caveats(h20, SimpleNamespace(tp=16, ep=1))
    assert across == [assumed_network_note(CHIPS["h20-96gb"], scaleup=True, scaleout=True)] and across[0]
    assert serving_caveats(h20, SimpleNamespace(tp=1, ep=1)) == []


def test_a_model_whose_weights_alone_exceed_the_hbm_says_so():
    """'weights plus reserve exceed 96 GiB' where Llama 3 70B's 131.4 GiB per chip at TP1 exceed it alone."""
    cap = slo_capacity(MODELS["llama3-70b"], CHIPS["h20-96gb"], input_len=1024, output_len=256, tp=1)
    assert not cap.feasible and "weights alone exceed 96 GiB" in cap.reason
