"""`fleetcast serve` QA round 19: lengths capped to the context window, disaggregated chips,
the phase that limits, layouts across nodes, engine/chip pairs and the wording of counts."""

import json

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.cli import main

CHIPS = reference_chips()
MODELS = reference_models()
SPREAD = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "4000",
          "--output-len", "1000", "--input-len-spread", "3", "--output-len-spread", "3", "--format", "json"]


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_spread_lengths_are_capped_to_the_context_window_and_said(capsys):
    # a CV of 3 drew ~14% of requests past Llama 3 8B's 8,192 tokens (longest 132,677), unsaid
    assert main(SPREAD + ["--request-rate", "1"]) == 0
    d = _json(capsys)
    capped = d["context_capped_requests"]
    assert 0.05 * d["simulated_requests"] < capped < 0.3 * d["simulated_requests"]
    assert any(f"{capped:,} of {d['simulated_requests']:,} simulated requests" in n and "8,192-token context" in n
               for n in d["notes"])
    # no prompt in the figures runs past the window: an 8,191-token prompt prefills in well under a
    # second on an H100 (prompts of up to 132,677 tokens read TTFT p99 5.1 s)
    assert d["ttft_ms_p99"] < 1000


def test_the_simulator_caps_drawn_lengths_and_leaves_fixed_ones():
    from engine.serving.capacity import build_cost_model, scheduler_for
    from engine.serving.simulator import Workload, simulate

    model, chip = MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"]
    cm = build_cost_model(model, chip, tp=1)
    w = Workload("offline", 4000, 1000, requests=500, input_spread=3.0, output_spread=3.0, context_len=8192)
    sim = simulate(cm, scheduler_for("vllm"), w)
    assert int((sim.input_lens + sim.output_lens).max()) <= 8192 and sim.output_lens.min() >= 1
    assert sim.capped_requests > 0
    free = simulate(cm, scheduler_for("vllm"), Workload("offline", 4000, 1000, requests=500, input_spread=3.0,
                                                        output_spread=3.0))
    assert int((free.input_lens + free.output_lens).max()) > 8192 and free.capped_requests == 0
    fixed = simulate(cm, scheduler_for("vllm"), Workload("offline", 4000, 1000, requests=50, context_len=8192))
    assert fixed.capped_requests == 0 and set(fixed.input_lens.tolist()) == {4000}


def test_the_slo_search_under_spread_lengths_caps_them_too():
    from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip

    cap = slo_capacity_tokens_per_s_per_chip(MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"], input_len=4000,
                                             output_len=1000, ttft_ms=5000, tpot_ms=100, tp=1,
                                             input_spread=3.0, output_spread=3.0)
    assert cap.feasible
    assert "context window and capped to it" in cap.explanation


def test_disaggregated_runs_on_the_chips_given_and_says_how_many(capsys):
    base = ["serve", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "4", "--input-len", "2000",
            "--output-len", "300", "--request-rate", "4", "--prefill-tp", "4"]
    # 12 chips are 3 aggregated replicas but 1.5 disaggregated ones (4 decode + 4 prefill each)
    assert main(base + ["--chips", "12"]) == 1
    assert "--chips 12: not a multiple of the 8 chips of one disaggregated replica" in capsys.readouterr().err
    assert main(base + ["--chips", "16", "--format", "json"]) == 0
    d = _json(capsys)["disaggregated"]
    assert (d["replicas"], d["chips"], d["chips_per_replica"]) == (2, 16, 8)
    assert main(base + ["--chips", "16"]) == 0
    assert "per replica, 2 replicas, 16 chips;" in capsys.readouterr().out


def test_a_prefill_heavy_run_names_the_prefill_as_the_limit(capsys):
    # 7,000-token prompts, 20 output tokens: ~97% of the time is prefill (compute), not the decode
    # step's HBM reads
    assert main(["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "7000",
                 "--output-len", "20", "--offline", "--format", "json"]) == 0
    d = _json(capsys)
    assert d["limiting"] == "compute"
    assert d["explanation"].startswith("prompt prefill takes about 9")
    assert "decode steps are" not in d["explanation"]
    # near balance both phases are named
    assert main(["serve", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "4", "--input-len", "2000",
                 "--output-len", "300", "--request-rate", "4", "--format", "json"]) == 0
    why = _json(capsys)["explanation"]
    assert why.startswith("prompt prefill takes about 5") and "the decode steps (the rest) are HBM-bandwidth bound" in why


def test_a_light_load_reads_its_mean_batch_with_a_decimal(capsys):
    assert main(["serve", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "8", "--input-len", "2000",
                 "--output-len", "300", "--request-rate", "0.1", "--format", "json"]) == 0
    d = _json(capsys)
    assert "of the step at batch 0.4" in d["explanation"]


def test_a_model_too_big_for_one_node_is_laid_out_across_nodes(capsys):
    # Llama 3.1 405B in BF16 does not fit 8 x H100: the search stopped at TP8 and refused
    assert main(["serve", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb", "--input-len", "2000",
                 "--output-len", "300", "--ttft-ms", "3000", "--tpot-ms", "80", "--format", "json"]) == 0
    d = _json(capsys)
    assert d["tp"] == 16 and d["slo_feasible"] and d["slo_tpot_ms"] <= 80
    assert "TP16 spans 2 nodes" in d["explanation"]


def test_a_layout_within_one_node_is_still_preferred():
    from engine.inference import slo_capacity

    cap = slo_capacity(MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"], input_len=2000, output_len=300,
                       ttft_ms=3000, tpot_ms=80)
    assert cap.feasible and cap.tp <= 8 and "spans" not in cap.explanation


@pytest.mark.parametrize("engine, chip, says", [
    ("trtllm", "ascend-910b2", "TensorRT-LLM runs on NVIDIA GPUs only"),
    ("mindie", "h100-sxm5-80gb", "MindIE runs on Huawei Ascend only"),
    ("vllm-ascend", "h100-sxm5-80gb", "vLLM-Ascend runs on Huawei Ascend only"),
])
def test_an_engine_for_another_vendors_chips_is_refused(engine, chip, says, capsys):
    assert main(["serve", "--model", "llama3-8b", "--chip", chip, "--engine", engine, "--input-len", "100",
                 "--output-len", "10"]) == 1
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_a_serving_study_with_an_engine_for_another_vendor_is_refused():
    from engine.errors import UserError
    from engine.studies import ServingStudy
    from engine.studies_serving import serving_request

    study = ServingStudy(model_id="llama3-8b", chip_id="ascend-910b2", tp=1, engine="trtllm")
    with pytest.raises(UserError, match="TensorRT-LLM runs on NVIDIA GPUs only"):
        serving_request(study, CHIPS, MODELS)
    assert serving_request(ServingStudy(model_id="llama3-8b", chip_id="ascend-910b2", tp=1, engine="mindie"),
                           CHIPS, MODELS).engine == "mindie"
    # the view says both at their fields, as serve refuses them
    problems = {p.field: p.message for p in study.problems(CHIPS, MODELS)}
    assert problems["engine"].startswith("TensorRT-LLM runs on NVIDIA GPUs only")
    chunkless = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, engine="trtllm",
                             input_len=2000, max_num_batched_tokens=512)
    assert {p.field: p.message for p in chunkless.problems(CHIPS, MODELS)}["max_num_batched_tokens"] == (
        "Token budget per step 512: trtllm does not chunk prompts, so its token budget must hold a whole prompt "
        "(2,000 tokens).")


def test_an_engine_on_its_own_chips_still_serves(capsys):
    for engine, chip in (("trtllm", "h100-sxm5-80gb"), ("mindie", "ascend-910b2"), ("vllm-ascend", "ascend-910b2"),
                         ("vllm", "ascend-910b2")):
        assert main(["serve", "--model", "llama3-8b", "--chip", chip, "--engine", engine, "--tp", "1",
                     "--input-len", "100", "--output-len", "10", "--requests", "50", "--format", "json"]) == 0, engine
        capsys.readouterr()


def test_a_model_that_fits_no_tp_names_the_tps_in_words():
    from engine.inference import slo_capacity, tp_list_text

    cap = slo_capacity(MODELS["llama3-70b"], CHIPS["h20-96gb"], input_len=2000, output_len=300, tp=1)
    assert not cap.feasible and "at TP 1 with" in cap.reason and "[" not in cap.reason
    assert tp_list_text([1, 2, 4]) == "TP 1, 2 or 4"


def test_counts_of_one_are_singular():
    from engine.inference import _count, batch_text
    from engine.serving.capacity import running_text

    assert running_text(1.0) == "1 sequence running"
    assert running_text(0.38) == "0.4 sequences running"
    assert running_text(37.2) == "37 sequences running"
    assert _count(1, "preemption") == "1 preemption" and _count(335, "sequence") == "335 sequences"
    assert batch_text(0.38) == "0.4" and batch_text(24.4) == "24" and batch_text(3.0) == "3"
    assert np.isclose(float(batch_text(9.94)), 9.9)
