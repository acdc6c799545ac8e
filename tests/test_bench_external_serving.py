"""bench/bench_external_serving.py: the silicon-sample rows are converted as the public file
converts its own (a row of it converts back to its public values), and rows it cannot place are
skipped, not guessed."""

import csv
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bench_external_serving", REPO / "bench" / "bench_external_serving.py")
ext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ext)


def _public():
    if not ext.PUBLIC.is_file():
        pytest.skip("../shared/validation is not beside the repository")
    with open(ext.PUBLIC, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _silicon(**kw):
    row = dict.fromkeys(["id", "silicon_data_source", "backend", "backend_version", "model_path", "system",
                         "precision", "mode", "isl", "osl", "gemm_quant_mode", "moe_quant_mode", "batch_size",
                         "tp_size", "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size",
                         "silicon_ttft_ms", "silicon_tpot_ms"], "")
    row.update(id="x1", silicon_data_source="source_file=a.csv; silicon_concurrency=32", backend="trtllm",
               backend_version="1.1.0rc2.post2", model_path="deepseek-ai/DeepSeek-R1", system="h200_sxm",
               precision="fp8", mode="agg", isl="1024", osl="1024", gemm_quant_mode="fp8", batch_size="4",
               tp_size="1", pp_size="1", attention_dp_size="8", moe_tp_size="1", moe_ep_size="8",
               silicon_ttft_ms="671.08", silicon_tpot_ms="19.25")
    row.update(kw)
    return row


def test_attention_data_parallel_row_maps_as_the_public_file_does():
    public = _public()
    rows = ext.convert([_silicon()], public)
    assert [r["metric"] for r in rows] == ["ttft_ms", "tpot_ms"]
    r = rows[1]
    # 8 chips = attention TP 1 x attention DP 8; experts over EP 8 (public inf-R0693/0694 read the same)
    assert (r["num_chips"], r["tp"], r["ep"], r["concurrency"]) == ("8", "1", "8", "32")
    assert (r["engine"], r["weight_dtype"], r["kv_dtype"], r["chip"]) == ("trtllm@1.1.0rc2.post2", "fp8", "bf16",
                                                                           "h200-sxm-141gb")
    assert float(r["value"]) == pytest.approx(19.25) and r["model"] == "DeepSeek-R1"
    assert r["kv_lora_rank"] == "512" and r["moe_experts"] == "256"   # the architecture of the public rows


def test_rows_it_cannot_place_are_skipped():
    public = _public()
    skipped = [_silicon(mode="disagg"), _silicon(system="b200_sxm"), _silicon(model_path="openai/gpt-oss-120b"),
               _silicon(pp_size="2"), _silicon(attention_dp_size="16"), _silicon(gemm_quant_mode="int4_wo"),
               _silicon(silicon_data_source="no concurrency recorded")]
    assert ext.convert(skipped, public) == []
    # a public row's own silicon id is left out: the check scores only rows nobody fitted
    in_public = next(r for r in public if "row id=" in r["locator"])
    sid = in_public["locator"].split("row id=", 1)[1]
    assert ext.convert([_silicon(id=sid)], public) == []
    # blank GEMM quantisation is a 16-bit checkpoint
    assert ext.convert([_silicon(id="x2", precision="", gemm_quant_mode="")], public)[0]["weight_dtype"] == "bf16"
