"""The public inference cases: every case predicted, accuracy targets, bad rows reported."""

import csv

import pytest

from engine.catalog import reference_chips
from engine.validation_inference import model_from_row, validate_inference_cases


@pytest.fixture(scope="module")
def public(request):
    from tests.conftest import SHARED

    path = SHARED / "validation" / "inference_public.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    return rows, validate_inference_cases(rows, reference_chips())


def test_every_public_case_is_predicted(public):
    rows, res = public
    assert len(res["cases"]) == len(rows) == 273
    assert res["summary"]["counts"] == {"ok": 273, "infeasible": 0, "error": 0}


def test_public_accuracy_regression_guard(public):
    """What the simulator reaches on the public cases (README states it against issue 12's
    targets: overall median <= 10% / p90 <= 25%, TTFT median <= 20% / p90 <= 40%). These bounds
    hold today with a small margin and catch a regression; the TTFT and p90 targets are NOT met."""
    _, res = public
    s = res["summary"]
    thr, lat = s["by_class"]["throughput"], s["by_class"]["latency"]
    assert s["overall"]["median_abs_error_pct"] <= 13
    assert thr["median_abs_error_pct"] <= 10
    assert lat["median_abs_error_pct"] <= 16
    assert thr["p90_abs_error_pct"] <= 42
    assert s["overall"]["p90_abs_error_pct"] <= 62
    assert s["by_metric"]["tpot_ms"]["median_abs_error_pct"] <= 10
    assert s["by_metric"]["decode_step_ms"]["median_abs_error_pct"] <= 15
    assert s["by_metric"]["ttft_ms"]["median_abs_error_pct"] <= 45


@pytest.mark.slow
def test_leave_one_source_out(public):
    """Out of sample (`--holdout source`): a held-out source's engine family or chip vendor,
    when no other source has it, falls back to the base factors and the family's prior."""
    rows, in_sample = public
    res = validate_inference_cases(rows, reference_chips(), holdout="source")
    s = res["summary"]
    assert s["holdout"] == "source"
    assert s["counts"] == {"ok": 273, "infeasible": 0, "error": 0}
    assert s["overall"]["median_abs_error_pct"] <= 15          # issue 12 target: 15%
    assert s["overall"]["p90_abs_error_pct"] <= 65             # target 40%: not met (TTFT)
    by_id = {c["id"]: c for c in res["cases"]}
    ins = {c["id"]: c for c in in_sample["cases"]}
    # SplitwiseSim is the only source with an unstated engine: held out, its rows lose the fitted
    # `@generic` factors and move; a TensorRT-LLM row (three other TRT-LLM sources) does not.
    assert by_id["inf-R0216"]["predicted"] != pytest.approx(ins["inf-R0216"]["predicted"], rel=1e-6)
    assert by_id["inf-R0089"]["predicted"] == pytest.approx(ins["inf-R0089"]["predicted"], rel=1e-6)


def test_bad_holdout_is_a_user_error():
    from engine.errors import UserError

    with pytest.raises(UserError, match="holdout"):
        validate_inference_cases([], reference_chips(), holdout="chip")


def test_summary_groups(public):
    _, res = public
    s = res["summary"]
    assert set(s["by_chip"]) >= {"h100-sxm5-80gb", "ascend-910b2", "h20-96gb", "gaudi2"}
    assert sum(v["n"] for v in s["by_source"].values()) == 273
    assert s["worst"] and abs(s["worst"][0]["error_pct"]) >= abs(s["worst"][-1]["error_pct"])


def test_engine_matters_on_ascend(public):
    # INFERENCE.md section 3: MindIE serves Qwen3-8B about 1.8x faster than vLLM-Ascend 0.9.1
    _, res = public
    by_id = {c["id"]: c for c in res["cases"]}
    ratio = by_id["inf-R1209"]["predicted"] / by_id["inf-R1208"]["predicted"]
    assert 1.4 < ratio < 2.4


def test_bad_rows_become_error_cases_naming_field_and_value(public):
    rows, _ = public
    good = dict(rows[0])
    bad_chip = dict(good, id="x1", chip="nochip")
    bad_num = dict(good, id="x2", layers="eighty")
    bad_metric = dict(good, id="x3", metric="joules")
    bad_dtype = dict(good, id="x4", weight_dtype="fp8", chip="ascend-910b2", num_chips="8")
    blank = {"id": "x5"}
    res = validate_inference_cases([bad_chip, bad_num, good, bad_metric, bad_dtype, blank], reference_chips())
    cases = {c["id"]: c for c in res["cases"]}
    assert cases["x1"]["status"] == "error" and "chip" in cases["x1"]["message"] and "nochip" in cases["x1"]["message"]
    assert cases["x2"]["status"] == "error" and "layers" in cases["x2"]["message"] and "eighty" in cases["x2"]["message"]
    assert cases["x3"]["status"] == "error" and "joules" in cases["x3"]["message"]
    assert cases["x4"]["status"] == "error" and "FP8" in cases["x4"]["message"]
    assert cases["x5"]["status"] == "error"
    assert cases[good["id"]]["status"] == "ok"
    assert res["summary"]["counts"]["error"] == 5


def test_model_from_row_matches_params_and_mla(public):
    rows, _ = public
    by_model = {}
    for r in rows:
        by_model.setdefault(r["model"], r)
    for name, r in by_model.items():
        m = model_from_row(r)
        assert m.total_params() / 1e9 == pytest.approx(float(r["params_b"]), rel=0.03), name
    ds = model_from_row(by_model["DeepSeek-R1"])
    assert ds.kv_lora_rank == 512 and ds.qk_rope_head_dim == 64 and ds.moe_dense_layers == 3
    assert ds.active_params() / 1e9 == pytest.approx(37.5, rel=0.05)
    bloom = model_from_row(by_model["BLOOM-176B"])
    assert not bloom.gated_ffn


def test_fit_recovers_a_bandwidth_efficiency(public):
    # Measurements made with inf_hbm_eff = 0.5 on batch-1 decode rows: the fit moves toward 0.5.
    from engine.validation_inference import fit_inference_factors

    rows, _ = public
    chips = reference_chips()
    picked = [dict(r) for r in rows if r["metric"] == "decode_step_ms"][:6]
    truth = validate_inference_cases(picked, chips, factors={"inf_hbm_eff": 0.5})
    for r, c in zip(picked, truth["cases"]):
        r["value"] = str(c["predicted"])
    out = fit_inference_factors(picked, chips, ["inf_hbm_eff"], start={"inf_hbm_eff": 0.8}, rounds=2)
    assert out["loss_after"] < out["loss_before"]
    assert out["factors"]["inf_hbm_eff"] == pytest.approx(0.5, rel=0.1)


def test_predictions_never_read_provenance(public):
    """notes, source, locator and trust blanked: every prediction is the same (MLA sizes, dense
    layers and dtypes come from their columns)."""
    rows, res = public
    blanked = [{k: ("" if k in ("notes", "source", "locator", "trust") else v) for k, v in r.items()}
               for r in rows if r["attention"] == "mla" or "trtllm" in r["engine"]][:60]
    ids = {r["id"] for r in blanked}
    before = {c["id"]: c["predicted"] for c in res["cases"] if c["id"] in ids}
    after = {c["id"]: c["predicted"] for c in validate_inference_cases(blanked, reference_chips())["cases"]}
    assert after == before
