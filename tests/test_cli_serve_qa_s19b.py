"""QA s19 (h): `fleetcast serve` chips for a demand, layouts searched, and what the answer assumes."""

from __future__ import annotations

import json

import pytest

from engine.catalog import reference_chips, reference_models
from engine.cli import main
from engine.inference import _layout_choices, slo_capacity

MODELS, CHIPS = reference_models(), reference_chips()
QWEN = ["serve", "--model", "qwen3-235b-a22b", "--weight-dtype", "fp8", "--input-len", "2000", "--output-len", "300",
        "--ttft-ms", "2000", "--tpot-ms", "50", "--demand-tokens-per-s", "10000"]
DISAGG = ["serve", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "4", "--input-len", "2000",
          "--output-len", "300"]


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_chips_needed_takes_the_layout_with_the_fewest_chips_for_the_demand(capsys):
    """QA: one EP128 replica (128 chips) was chosen for its rate per chip while TP1..8 served
    10,000 tokens/s on 32; chips_needed now agrees with the layouts and says why. (On the H800: on
    the H100, TP8 has led on both counts since the steady state overlaps prompt GEMMs with the
    weight reads, s35.)"""
    assert main(QWEN + ["--chip", "h800-sxm5-80gb", "--format", "json"]) == 0
    d = _json(capsys)
    assert d["chips_needed"] == min(n for n in d["layouts"].values() if n is not None) == 32
    assert "would need 128" in d["layout_choice"]
    assert main(QWEN + ["--chip", "h800-sxm5-80gb", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "chips_needed at TP8,32" in out and "layout_choice" in out


def test_a_demand_does_not_move_the_layout_the_search_gives_without_one():
    cap = slo_capacity(MODELS["qwen3-235b-a22b"], CHIPS["h800-sxm5-80gb"], input_len=2000, output_len=300,
                       ttft_ms=2000, tpot_ms=50, weight_dtype="fp8", kv_dtype="fp8")
    assert (cap.tp, cap.ep, cap.layout_choice) == (1, 128, "")


def test_nvl72_gets_expert_parallel_layouts_that_divide_the_experts(capsys):
    """QA: EP degrees were multiples of the 72-chip domain, which divide no expert count, so GB200
    needed more chips than B200 for Qwen3-235B; an 8-chip node searches what it did."""
    eps = {e for _, e in _layout_choices(MODELS["qwen3-235b-a22b"], CHIPS["gb200"])}
    assert {8, 16, 32, 64} <= eps and all(128 % e == 0 for e in eps)
    assert {e for _, e in _layout_choices(MODELS["qwen3-235b-a22b"], CHIPS["h100-sxm5-80gb"])} == {1, 8, 16, 32, 64, 128}
    need = {}
    for chip in ("b200", "gb200"):
        assert main(QWEN + ["--chip", chip, "--format", "json"]) == 0
        need[chip] = _json(capsys)["chips_needed"]
    assert need["gb200"] <= need["b200"]


def test_pipelined_layouts_are_named_and_checked_against_targets_at_a_load(capsys):
    """QA: only TP across nodes was tried for Llama 3 405B on H100 (TPOT 53 ms > 50 at TP64) and
    --pp with targets was refused with a message that named ep=1."""
    base = ["serve", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb", "--input-len", "2000", "--output-len", "300",
            "--ttft-ms", "2000", "--tpot-ms", "50"]
    assert main(base) == 1
    err = capsys.readouterr().err
    assert "try --tp 8 --pp 2 with a load" in err
    assert main(base + ["--pp", "2"]) == 1
    err = capsys.readouterr().err
    assert "give --tp 8 --pp 2 with --concurrency" in err and "ep=1" not in err
    assert main(base + ["--tp", "8", "--pp", "2", "--concurrency", "1", "--format", "json"]) == 0
    d = _json(capsys)
    assert d["targets_met_under_load"] is True and d["tpot_ms"] < 50
    assert main(["serve", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb", "--input-len", "2000",
                 "--output-len", "300", "--tp", "8", "--pp", "2", "--concurrency", "1",
                 "--demand-tokens-per-s", "1000"]) == 1
    assert "ep=1" not in capsys.readouterr().err


def test_tgi_is_refused_on_ascend_and_a_blank_engine_says_what_it_assumed(capsys):
    base = ["serve", "--model", "llama3-8b", "--chip", "ascend-910b2", "--input-len", "2000", "--output-len", "300",
            "--concurrency", "4", "--requests", "40"]
    assert main(base + ["--engine", "tgi"]) == 1
    assert "TGI has no Ascend backend" in capsys.readouterr().err
    assert main(base + ["--format", "json"]) == 0
    assert any(n.startswith("engine not given: a vLLM-style scheduler") for n in _json(capsys)["notes"])
    assert main(base + ["--engine", "mindie", "--format", "json"]) == 0
    assert not any(n.startswith("engine not given") for n in _json(capsys)["notes"])


@pytest.mark.parametrize("engine", ["trtllm", "tgi", "generic"])
def test_a_token_budget_below_a_prompt_is_refused_where_prompts_are_not_chunked(capsys, engine):
    argv = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "2000", "--output-len", "300",
            "--concurrency", "4", "--requests", "40", "--engine", engine, "--max-num-batched-tokens", "64"]
    assert main(argv) == 1
    assert "does not chunk prompts, so its token budget must hold a whole prompt" in capsys.readouterr().err


def test_the_prefix_cache_assumption_is_in_the_answer(capsys):
    argv = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "2000", "--output-len", "300",
            "--concurrency", "4", "--requests", "40", "--format", "json"]
    assert main(argv + ["--prefix-cache-pct", "90"]) == 0
    d = _json(capsys)
    assert d["prefix_cache_pct"] == 90 and any("prefix cache: 90%" in n for n in d["notes"])
    assert main(argv) == 0
    d = _json(capsys)
    assert d["prefix_cache_pct"] == 0 and not any("prefix cache" in n for n in d["notes"])


def test_disaggregated_chips_replicas_and_chips_per_replica_describe_one_deployment(capsys):
    """QA: chips 4 beside chips_per_replica 8; with --chips 8, 2 replicas x 8; with targets and
    --prefill-tp 8, chips 4 beside chips_per_replica 12."""
    for extra in (["--request-rate", "4", "--prefill-tp", "4"], ["--request-rate", "4", "--prefill-tp", "4", "--chips", "8"],
                  ["--ttft-ms", "2000", "--tpot-ms", "50", "--prefill-tp", "8"]):
        assert main(DISAGG + extra + ["--format", "json"]) == 0
        d = _json(capsys)
        assert d["chips"] == d["replicas"] * d["chips_per_replica"], extra
        dis = d["disaggregated"]
        assert dis["chips"] == dis["replicas"] * dis["chips_per_replica"]
        assert "figures_from" in d
        if "--chips" in extra:
            assert d["chips"] == dis["chips"] == 8
    assert d["chips_per_replica"] == 12 and d["figures_from"].startswith("disaggregated")


def test_capped_request_counts_name_their_run_and_the_mean_output_after_capping(capsys):
    argv = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "4000",
            "--output-len", "1000", "--input-len-spread", "3", "--output-len-spread", "3", "--ttft-ms", "5000",
            "--tpot-ms", "100", "--slo-percentile", "p90", "--format", "json"]
    assert main(argv) == 0
    d = _json(capsys)
    note = next(n for n in d["notes"] if "capped to it" in n)
    assert "in the offline run (at max throughput)" in note and "mean output after capping" in note
    assert "in the run at the SLO load" in d["explanation"]


def test_layouts_at_says_when_chips_needed_is_the_steady_state_at_a_percentile(capsys):
    """QA: Qwen3-235B FP8 at p90 chose EP32, whose running batch (1,056) is beyond the simulated 512:
    its chips_needed (160) is the steady-state upper bound, while layouts_at said 'chips_needed is at
    p90 under load'. (On the H20: on the H100, TP8 at p90 has been chosen since the steady state
    overlaps prompt GEMMs with the weight reads, s35.)"""
    from engine.cli import main

    argv = ["--format", "json", "serve", "--model", "qwen3-235b-a22b", "--chip", "h20-96gb", "--weight-dtype",
            "fp8", "--input-len", "1024", "--output-len", "256", "--ttft-ms", "2000", "--tpot-ms", "50",
            "--slo-percentile", "p90", "--demand-tokens-per-s", "100000"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["layouts_at"].startswith("steady state (chips_needed too: p90 is not simulated for this layout")
