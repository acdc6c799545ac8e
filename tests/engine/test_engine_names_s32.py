"""QA s32 on cases nobody fitted: an engine written "name version" ("vLLM v0.12.0", "TensorRT-LLM
1.0") read as an unknown, eager stack (inf-R1029's TTFT 705.6 -> 10,278 ms), and a blank engine cell
read as vLLM where `unknown` (the file's word for "not stated") reads as that eager stack."""

import csv

import pytest

from engine.catalog import reference_chips
from engine.serving.families import engine_family, known_engine
from engine.validation_inference import validate_inference_cases


@pytest.mark.parametrize("written, family", [
    ("vLLM 0.6.3", "vllm"), ("vLLM v0.12.0", "vllm"), ("vllm-0.6.3", "vllm"), ("TensorRT-LLM 1.0", "trtllm"),
    ("TensorRT-LLM v0.9", "trtllm"), ("trt-llm 0.12", "trtllm"), ("TensorRT LLM", "trtllm"),
    ("FasterTransformer 5.3", "trtllm"), ("MindIE 2.1RC1", "mindie"), ("mindie-2.1rc1", "mindie"),
    ("LMDeploy v0.6", "vllm"), ("sglang-v0.4.6", "sglang"), ("SGLang 0.5.7", "sglang"), ("HF TGI", "tgi"),
    ("TGI 2.0.4", "tgi"), ("vLLM Ascend", "vllm-ascend"), ("vllm-ascend@0.9.1", "vllm-ascend"),
    ("tgi-gaudi@synapseai-1.14", "tgi"), ("trtllm@1.0.0rc3", "trtllm"), ("unknown", "generic"),
])
def test_a_version_after_the_name_never_changes_the_family(written, family):
    assert engine_family(written) == family and known_engine(written)


def test_a_typo_is_still_unknown():
    assert engine_family("vlm@0.6") == "generic" and not known_engine("vlm@0.6")


@pytest.fixture(scope="module")
def rows():
    from tests.conftest import SHARED

    path = SHARED / "validation" / "inference_public.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return {r["id"]: r for r in csv.DictReader(path.open(encoding="utf-8"))}


def _predicted(row):
    case = validate_inference_cases([row], reference_chips())["cases"][0]
    assert case["status"] == "ok", case
    return case["predicted"]


def test_an_engine_written_with_its_version_predicts_as_name_at_version(rows):
    row = rows["inf-R1029"]   # vllm, TTFT under a closed loop
    assert row["engine"] == "vllm"
    base = _predicted(row)
    for written in ("vLLM v0.12.0", "vllm@0.12.0", "vLLM 0.12.0"):
        assert _predicted({**row, "engine": written}) == base


def test_a_blank_engine_is_not_stated_as_unknown_is(rows):
    row = rows["inf-R1029"]
    assert _predicted({**row, "engine": ""}) == _predicted({**row, "engine": "unknown"})


def test_a_blank_ep_with_tp_and_replicas_given_spreads_the_experts_over_the_instance(rows):
    """QA s32: DeepSeek-R1 on 8 chips at TP1 with ep blank was an error ("num_chips: 8 (expected
    replicas x pp x max(tp, ep) = 1)"); the instance's 8 chips hold the experts, as ep=8 says."""
    row = rows["inf-R0115"]
    assert (row["tp"], row["ep"], row["replicas"], row["num_chips"]) == ("1", "8", "1", "8")
    assert _predicted({**row, "ep": ""}) == _predicted(row)


def test_blank_ep_and_replicas_spread_experts_that_no_single_chip_holds(rows):
    """QA s32: with both blank, DeepSeek-R1 on 8 H200 at TP1 read as 8 replicas of one chip, each
    holding 627 GiB of weights: infeasible. Its experts spread over the 8 chips, as ep=8 says; a
    small MoE whose weights fit one chip stays 8 replicas."""
    row = rows["inf-R0115"]
    assert _predicted({**row, "ep": "", "replicas": ""}) == _predicted(row)
    from engine.validation_inference import inputs_from_row

    small = {**row, "model": "tiny-moe", "layers": "4", "hidden": "1024", "heads": "8", "kv_heads": "8",
             "head_dim": "128", "moe_experts": "8", "moe_topk": "2", "moe_ffn_hidden": "1024",
             "moe_shared_experts": "", "moe_dense_layers": "", "ffn_hidden": "", "attention": "gqa",
             "kv_lora_rank": "", "q_lora_rank": "", "qk_rope_head_dim": "", "qk_nope_head_dim": "",
             "v_head_dim": "", "params_b": "", "ep": "", "replicas": ""}
    inp = inputs_from_row(small, reference_chips())
    assert (inp.ep, inp.replicas) == (1, 8)


def test_a_precision_the_chip_lacks_is_said_in_the_row(rows):
    """QA s32: FP8 weights on an A100 (no FP8 matrix rate) were predicted with an empty message;
    serve says they run weight-only (W8A16), and so does the row now."""
    row = rows["inf-R0165"]
    assert row["chip"] == "a100-sxm4-80gb"
    case = validate_inference_cases([{**row, "weight_dtype": "fp8", "kv_dtype": ""}], reference_chips())["cases"][0]
    assert case["status"] == "ok" and "W8A16" in case["message"], case["message"]
