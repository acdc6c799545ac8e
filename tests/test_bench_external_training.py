"""bench/bench_external_training.py: vTrain and MPT rows outside the public file are converted
like the public ones (same model columns, the row's own layout) and the public ones are left out."""

import csv
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_external_training", REPO / "bench" / "bench_external_training.py")
ext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ext)


@pytest.fixture
def public():
    if not ext.PUBLIC.is_file():
        pytest.skip("../shared/validation is not beside the repository")
    with open(ext.PUBLIC, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _vtrain(tp, pp, dp, mb, ms="9838.9"):
    return {"Parameters (billion)": "3.6", "# GPUs": "64", "global batch": "512", "micro batch": mb,
            "hidden size": "3072", "attention heads": "32", "# layers": "30", "sequence length": "2048",
            "tensor parallelism": tp, "data parallelism": dp, "pipeline parallelism": pp, "iteration time (ms)": ms}


def test_vtrain_rows_outside_the_public_file_keep_their_layout(public):
    # TP1 x DP64 at micro-batch 8 is public (VTRAIN-GT-001); TP8 x DP8 at micro-batch 64 is not
    rows = ext.convert_vtrain([_vtrain("1", "1", "64", "8"), _vtrain("8", "1", "8", "64")], public)
    assert len(rows) == 1
    r = rows[0]
    assert (r["tp"], r["pp"], r["dp"], r["micro_batch"], r["num_chips"]) == ("8", "1", "8", "64", "64")
    assert r["value"] == "9.8389" and r["metric"] == "step_time_s" and r["notes"] == ""
    assert (r["hidden"], r["layers"], r["recompute"], r["grad_overlap"]) == ("3072", "30", "full", "no")


def test_mpt_table_rows_map_sharding_and_checkpointing(public):
    header = "|  Model | SeqLen (T) | # GPUs | GPU | MFU | HFU | Model TFLOP | MicroBatchSize | GradAccum | ...\n"
    new = "|  13b | 4096 | 8 | h100_80gb | 1 | 1 | 1 | 10 | 1 | 80 | 1 | 1 | 4717 | 1 | amp_bf16 | DEFAULT | FULL_SHARD | True | False | 1 |\n"
    offload = new.replace("| True | False |", "| True | True |")
    fp8 = new.replace("amp_bf16", "amp_fp8")
    rows = ext.convert_mpt([header, new, offload, fp8], public)
    assert len(rows) == 1
    r = rows[0]
    assert (r["model"], r["seq_len"], r["chip"], r["zero_stage"], r["recompute"]) == (
        "MPT-13b", "4096", "h100-sxm5-80gb", "3", "full")
    assert (r["micro_batch"], r["global_batch_seqs"], r["value"]) == ("10", "80", "4717")
