"""Session 29: an inference cases row `fleetcast serve` would refuse is an `error` row naming its
field and value, never scored or fitted: more pipeline stages than layers, EP on a dense model, an
engine on a chip it has no build for, and a value faster than physics allows (QA: pp 64 on a
32-layer model read 2.79 tokens/s "ok"; MindIE runs relabelled trtllm were saved on the 910B as
`inf_hbm_eff@trtllm`; 546,550 tokens/s on one 910B at batch 10 was only seen as a poor fit)."""

from __future__ import annotations

import csv
import json

from engine.cli import main

CHIP = "ascend-910b2"
BASE_ID = "inf-R1221"   # Yi-1.5-6B on one 910B2, MindIE, static batch 10, 1 in / 100 out: 643 tokens/s

# Yi-1.5-6B as the row gives it (32 layers, hidden 4096, 32 heads, 4 KV heads of 128, gated FFN
# 11,008, vocab 64,000, untied: 6.06e9 parameters). Per layer: q and o 2 x 4096^2, k and v
# 2 x 4096 x 512, FFN 3 x 4096 x 11,008, norms 2 x 4096 = 173,023,232; x 32 = 5,536,743,424. With
# the output head (64,000 x 4096) and the final norm, a step reads 5,798,891,520 parameters, in
# FP16 11.598 GB. On the 910B2's 1,600 GB/s: 7.249 ms per read; at batch 10, 10 x 1,600 / 11.598
# = 1,379.6 tokens/s per chip; at its 376 TFLOP/s, 376e12 / (2 x 5.7989e9) = 32,420 tokens/s.


def _public(shared_dir):
    return shared_dir / "validation" / "inference_public.csv"


def _rows(shared_dir, path, changes: list[dict]):
    """The public BASE_ID row once per entry of `changes`, each with those columns replaced."""
    with open(_public(shared_dir), newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        base = next(r for r in reader if r["id"] == BASE_ID)
        fields = reader.fieldnames or []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*fields, "max_num_batched_tokens"])
        writer.writeheader()
        for i, change in enumerate(changes):
            writer.writerow({**base, "id": f"T-{i + 1}", **change})
    return str(path)


def _validate(capsys, db, path):
    code = main(["--db", db, "--format", "json", "validate", "inference", "--cases", path])
    out, err = capsys.readouterr()
    return code, {c["id"]: c for c in json.loads(out)["cases"]}, err


def _lines(capsys, db, path):
    main(["--db", db, "validate", "inference", "--cases", path])
    out, err = capsys.readouterr()
    return out + err


def test_layouts_serve_refuses_are_error_rows_naming_the_field(capsys, tmp_path, shared_dir):
    """QA: pp 64 on 64 chips read 2.79 tokens/s (-99.6%) and EP 4 on the dense Yi 163, both `ok`
    with no message; `serve` refuses both. A token budget under a whole prompt on MindIE (which
    does not chunk prompts) is refused by serve too."""
    path = _rows(shared_dir, tmp_path / "lay.csv", [
        {"pp": "64", "num_chips": "64"}, {"ep": "4", "num_chips": "4"}, {},
        {"scenario": "static_batch", "input_len": "1000", "max_num_batched_tokens": "500"}])
    db = str(tmp_path / "v.db")
    code, cases, _ = _validate(capsys, db, path)
    assert code == 0
    assert [cases[i]["status"] for i in ("T-1", "T-2", "T-3", "T-4")] == ["error", "error", "ok", "error"]
    assert cases["T-1"]["predicted"] is None and cases["T-2"]["predicted"] is None
    assert cases["T-1"]["message"] == "pp 64 exceeds Yi-1.5-6B's 32 layers"
    assert cases["T-2"]["message"] == "ep 4: Yi-1.5-6B has no experts (a dense model runs at ep 1)"
    assert cases["T-4"]["message"] == ("max_num_batched_tokens: 500 (mindie does not chunk prompts, so its token "
                                       "budget must hold a whole prompt (1,000 tokens))")
    text = _lines(capsys, db, path)
    assert f"{path} row 2 (T-1): pp 64 exceeds Yi-1.5-6B's 32 layers" in text
    assert f"{path} row 3 (T-2): ep 4: Yi-1.5-6B has no experts" in text


def test_an_engine_on_a_chip_it_cannot_run_on_is_an_error_row(capsys, tmp_path, shared_dir):
    """QA: TGI on a 910B, MindIE and vLLM-Ascend on an H100 all read `ok` with no message."""
    path = _rows(shared_dir, tmp_path / "eng.csv", [
        {"engine": "tgi@2.0"}, {"engine": "mindie", "chip": "h100-sxm5-80gb"},
        {"engine": "vllm-ascend@0.9", "chip": "h100-sxm5-80gb"}, {"engine": "trtllm@1.0"},
        {"engine": "vllm", "chip": "h100-sxm5-80gb"}])
    db = str(tmp_path / "v.db")
    _, cases, _ = _validate(capsys, db, path)
    assert {i: c["status"] for i, c in cases.items()} == {
        "T-1": "error", "T-2": "error", "T-3": "error", "T-4": "error", "T-5": "ok"}
    assert cases["T-1"]["message"] == ("engine: 'tgi@2.0' on chip ascend-910b2: TGI has no Ascend backend "
                                       "(Ascend 910B2 is Huawei's)")
    assert cases["T-2"]["message"] == ("engine: 'mindie' on chip h100-sxm5-80gb: MindIE runs on Huawei Ascend only "
                                       "(H100 SXM5 80GB is NVIDIA's)")
    assert cases["T-3"]["message"].startswith("engine: 'vllm-ascend@0.9' on chip h100-sxm5-80gb: vLLM-Ascend runs "
                                              "on Huawei Ascend only")
    assert cases["T-4"]["message"].startswith("engine: 'trtllm@1.0' on chip ascend-910b2: TensorRT-LLM runs on "
                                              "NVIDIA GPUs only")
    text = _lines(capsys, db, path)
    assert f"{path} row 2 (T-1): engine: 'tgi@2.0' on chip ascend-910b2: TGI has no Ascend backend" in text


def test_a_value_faster_than_physics_allows_is_an_error_row_with_the_bound(capsys, tmp_path, shared_dir):
    """QA: TTFT 0.0001 ms read `ok` at +14,703,190%, 1e9 tokens/s `ok`, a 1000x unit slip
    (546,550 for 546.55) only a poor fit. Bounds (module doc): 1,379.6 tokens/s per chip at batch
    10 (x3: 4,139), 32,420 with no batch stated (offline; x3: 97,260), 7.249 ms per weight read
    (/3: 2.42 ms). The public value 643 and values just inside the bounds stay `ok`."""
    path = _rows(shared_dir, tmp_path / "phys.csv", [
        {"metric": "ttft_ms", "value": "0.0001"}, {"value": "1e9"}, {"value": "546550.0"}, {"value": "4100"},
        {"scenario": "offline", "batch": "", "value": "100000"}, {"scenario": "offline", "batch": "", "value": "97000"},
        {"metric": "tpot_ms", "value": "2.4"}, {"metric": "tpot_ms", "value": "2.5"}, {},
        {"metric": "total_tokens_per_s_per_chip", "value": "4200"}, {"metric": "total_tokens_per_s_per_chip", "value": "4150"},
        {"metric": "e2e_latency_ms", "value": "240"}, {"metric": "e2e_latency_ms", "value": "245"}])
    db = str(tmp_path / "v.db")
    _, cases, _ = _validate(capsys, db, path)
    assert {i: c["status"] for i, c in cases.items()} == {
        "T-1": "error", "T-2": "error", "T-3": "error", "T-4": "ok", "T-5": "error", "T-6": "ok",
        "T-7": "error", "T-8": "ok", "T-9": "ok", "T-10": "error", "T-11": "ok", "T-12": "error", "T-13": "ok"}
    assert cases["T-9"]["measured"] == 643 and abs(cases["T-9"]["predicted"] - 643) < 0.5 * 643
    assert cases["T-1"]["message"] == (
        "value: '0.0001' ttft_ms is below 1/3 of the 7.25 ms that Yi-1.5-6B's 11.6 GB of active weights read once "
        "over 1 chip at 1,600 GB/s each takes (2.42 ms at least): not a possible measurement (check the value and "
        "its unit)")
    typo = ("is above 3x the 1,380 tokens/s per chip that ascend-910b2's 1,600 GB/s of HBM allows reading "
            "Yi-1.5-6B's 11.6 GB of active weights once per decode step for 10 sequences per instance (4,139 at "
            "most): not a possible measurement")
    assert cases["T-2"]["message"].startswith("value: '1e9' output_tokens_per_s_per_chip " + typo)
    assert cases["T-3"]["message"].startswith("value: '546550.0' output_tokens_per_s_per_chip " + typo)
    assert ("above 3x the 32,420 tokens/s per chip that ascend-910b2's 376 TFLOP/s peak allows at 2 FLOPs per "
            "active parameter (5.8 billion) per output token (97,260 at most)") in cases["T-5"]["message"]
    assert cases["T-7"]["message"].startswith("value: '2.4' tpot_ms is below 1/3 of the 7.25 ms")
    # prompt tokens count with the output: 1,379.6 x (1 + 100) / 100 = 1,393.4, x3 = 4,180
    assert ("above 3x the 1,393 tokens/s per chip that ascend-910b2's 1,600 GB/s of HBM allows reading "
            "Yi-1.5-6B's 11.6 GB of active weights once per decode step for 10 sequences per instance, counting "
            "1 prompt tokens with every 100 output tokens (4,180 at most)") in cases["T-10"]["message"]
    # a request: one read for its first token and 99 more, 100 x 7.249 = 725 ms, /3 = 242
    assert cases["T-12"]["message"].startswith("value: '240' e2e_latency_ms is below 1/3 of the 725 ms")
    assert "(242 ms at least)" in cases["T-12"]["message"]
    text = _lines(capsys, db, path)
    assert f"{path} row 4 (T-3): value: '546550.0' output_tokens_per_s_per_chip {typo}" in text


def test_no_public_row_comes_near_the_new_rules(shared_dir):
    """Every public row passes the deployment rules and lies inside the physical limit itself
    (the margin's comment: 0.66 of it at most), so the public predictions are untouched."""
    from engine.catalog import reference_chips
    from engine.validation import read_cases_csv
    from engine.validation_inference import THROUGHPUT_METRICS, inputs_from_row, physical_limit

    chips = reference_chips()
    worst = 0.0
    rows = read_cases_csv(str(_public(shared_dir)))
    for row in rows:
        inp = inputs_from_row(row, chips)   # raises on a refused deployment
        limit, how = physical_limit(inp, row["metric"])
        value = float(row["value"])
        worst = max(worst, value / limit if row["metric"] in THROUGHPUT_METRICS else limit / value)
    assert len(rows) == 273 and 0.6 < worst < 0.7


def _mindie_runs(shared_dir, path, engine="mindie", extra=()):
    """Four MindIE Yi runs on the 910B2 at batch 1-200 (the QA's values), and `extra` rows."""
    runs = [{"batch": b, "value": v, "engine": engine}
            for b, v in (("1", "57.8"), ("10", "546.55"), ("100", "3769.75"), ("200", "3775.7"))]
    return _rows(shared_dir, path, runs + list(extra))


def test_calibrate_never_fits_a_refused_row_nor_saves_a_family_the_chip_cannot_run(capsys, tmp_path, shared_dir):
    """QA: MindIE runs relabelled trtllm were fitted and saved on the 910B as inf_hbm_eff@trtllm,
    which `serve --engine trtllm --chip ascend-910b2` can never read; the typo row was fitted."""
    db = str(tmp_path / "c.db")
    relabelled = _mindie_runs(shared_dir, tmp_path / "trt.csv", engine="trtllm@1.0")
    assert main(["--db", db, "calibrate", "inference", "--cases", relabelled, "--chip", CHIP, "--save"]) == 1
    err = capsys.readouterr().err
    assert "no usable rows" in err and "TensorRT-LLM runs on NVIDIA GPUs only" in err
    shown = main(["--db", db, "calibrate", "inference", "--chip", CHIP, "--show", "--format", "json"])
    assert shown == 0 and json.loads(capsys.readouterr().out)["stored"] == []

    mixed = _mindie_runs(shared_dir, tmp_path / "mixed.csv",
                         extra=[{"value": "546550.0"}, {"engine": "trtllm@1.0", "value": "600"},
                                {"pp": "64", "num_chips": "64"}])
    main(["--db", db, "--format", "json", "calibrate", "inference", "--cases", mixed, "--chip", CHIP])
    fit = json.loads(capsys.readouterr().out)
    assert fit["summary"]["cases"] == 4   # the four MindIE runs only
    assert {r["id"] for r in fit["rows_not_fitted"]} == {"T-5", "T-6", "T-7"}
    assert all(f["factor"].endswith("@mindie") for f in fit["factors"]) and fit["factors"]
