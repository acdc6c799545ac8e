"""The public inference cases: every case predicted, accuracy targets, bad rows reported."""

import csv

import numpy as np
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
    assert s["overall"]["median_abs_error_pct"] <= 9     # 11.2 before A100's all-reduce latency, NVLS, GEMM + attention
    assert thr["median_abs_error_pct"] <= 6
    assert lat["median_abs_error_pct"] <= 11.5
    # 38% before FP8 GEMMs ran below twice the BF16 rate, 26.5 before 910B INT8, 16.6 before expert
    # weights were read at the dense stream rate: that made TRT-LLM's attention-data-parallel
    # Qwen3-235B offline rows at 1,024/8,192 (R0119, R0122) +52/+56% (a missing term, see
    # calibration_README) while the AIConfigurator file's 126 other TRT-LLM Qwen3-235B TPOT rows
    # went from +55% to +3% (signed median)
    assert thr["p90_abs_error_pct"] <= 22.5
    assert s["by_metric"]["tpot_ms"]["median_abs_error_pct"] <= 8.5
    assert s["by_metric"]["decode_step_ms"]["median_abs_error_pct"] <= 6   # 10.0 before (A100 TP8 -13..-19%)
    # 58.4 before the step-cost changes, 55.9 before expert reads at the dense rate, 51.8 while TP8 EP8
    # charged a dispatch of every token (it had matched TensorRT-LLM's DeepSeek-R1 TP8 EP8 TTFT rows,
    # now -57..-67%; on the 2,002 silicon-sample rows nobody fitted the p90 fell from 90.7 to 83.0)
    assert s["overall"]["p90_abs_error_pct"] <= 54
    assert s["by_metric"]["tpot_ms"]["p90_abs_error_pct"] <= 21        # 29.0 with that dispatch
    assert s["by_metric"]["ttft_ms"]["median_abs_error_pct"] <= 46     # 38.5 with that dispatch
    assert s["by_metric"]["ttft_ms"]["p90_abs_error_pct"] <= 92         # 86.5 (90.5 before it)


def test_mlperf_server_row_keeps_up_with_its_offered_load(public):
    """MLPerf Server (Gaudi2, TGI, Poisson 21.85 req/s): the offered load is what the row
    measures (786 tokens/s per chip) when the server keeps up. Admitting every arrival with its
    own prefill step (no TGI throttle, a 256-sequence cap) left the simulated server short of it,
    so its queue grew over the run: TTFT +634%, throughput -13%."""
    _, res = public
    case = {c["id"]: c for c in res["cases"]}
    assert abs(case["inf-R0022"]["error_pct"]) <= 8          # throughput: -4.9%
    assert abs(case["inf-R0023"]["error_pct"]) <= 60         # TTFT: +38.5%


def test_trtllm_attention_dp_moe_decode_reads_experts_at_the_dense_rate(public):
    """TensorRT-LLM DeepSeek-R1 FP8 on 8 x H200, attention data parallel 8 + EP8, 128 clients,
    1,024/1,024: measured TPOT 31.5 ms. By hand: 16 sequences per rank; 128 x 8 picks touch
    1 - (1 - 8/256)^128 = 98.3% of each rank's 32 experts (81.7 GB of FP8 per rank), 80.3 GB at
    0.831 x 4.8 TB/s = 20.1 ms, plus every rank's own attention, dense layers and head (4.3 ms)
    and 5.1 ms of per-step overhead: ~30 ms (the model: 32.2). Expert reads priced at the old
    0.45 of that rate made it 56.6 ms (+80%)."""
    _, res = public
    case = {c["id"]: c for c in res["cases"]}
    assert abs(case["inf-R0694"]["error_pct"]) <= 10        # +80% before
    assert abs(case["inf-R0698"]["error_pct"]) <= 15        # 8,192/1,024: +31% before
    assert abs(case["inf-R1200"]["error_pct"]) <= 5         # SGLang R1 TP8, C=32: unchanged (+1%)


# Sources whose rows are all static batches (closed forms): a leave-one-source-out run over them
# refits every factor per fold in seconds, where the full public file takes minutes.
_STATIC_SOURCES = ("SplitwiseSim profiles", "kipply FasterTransformer 13B", "tenstorrent tt-inference-server issue 356",
                   "TensorRT-LLM performance.md v0.6.1", "lmdeploy PR 2278 thread (user report)")


@pytest.mark.slow
def test_leave_one_source_out_refits_every_factor_per_fold(public):
    """`--holdout source`: each fold refits the base factors and the family keys on the other
    sources; a factor no other source depends on returns to its documented prior."""
    rows, in_sample = public
    sub = [r for r in rows if r["source"] in _STATIC_SOURCES]
    res = validate_inference_cases(sub, reference_chips(), holdout="source")
    s = res["summary"]
    assert s["holdout"] == "source" and s["counts"] == {"ok": len(sub), "infeasible": 0, "error": 0}
    assert s["in_sample"]["n"] == len(sub) and {"prefill_ms", "decode_step_ms"} <= set(s["by_metric"])
    assert set(s["in_sample_by_engine"]) == set(s["by_engine"]) >= {"generic", "trtllm"}
    assert "default:inf_hbm_eff" in s["fitted_factors"] and "default:inf_overhead_scale@generic" in s["fitted_factors"]
    folds = s["folds"]
    # SplitwiseSim is the only source with an unstated engine: its fold cannot see the @generic keys
    assert "default:inf_overhead_scale@generic" in folds["SplitwiseSim profiles"]["not_identified"]
    assert "default:inf_overhead_scale@generic" in folds["kipply FasterTransformer 13B"]["values"]
    # the TP16 inter-node overhead is seen only in the tenstorrent rows
    assert "default:inf_scaleout_layer_overhead_us" in folds["tenstorrent tt-inference-server issue 356"]["not_identified"]
    # base factors are refitted in every fold (not the packaged values)
    hbm = {g: f["values"]["default:inf_hbm_eff"] for g, f in folds.items()}
    assert len({round(v, 6) for v in hbm.values()}) > 1
    assert all(0.2 <= v <= 0.95 for v in hbm.values())
    # out of sample is not better than in sample on the source that owns the generic family
    by_src = s["by_source"]["SplitwiseSim profiles"]["median_abs_error_pct"]
    ins = [c for c in in_sample["cases"] if c["source"] == "SplitwiseSim profiles"]
    assert by_src >= float(np.median([abs(c["error_pct"]) for c in ins])) - 1.0


@pytest.mark.slow
def test_holdout_never_sees_the_left_out_measurements(public):
    """Changing the measured values of one source changes nothing in that source's own fold."""
    rows, _ = public
    sub = [r for r in rows if r["source"] in _STATIC_SOURCES[:3]]
    a = validate_inference_cases(sub, reference_chips(), holdout="source")
    moved = [dict(r, value=str(float(r["value"]) * 3.0)) if r["source"] == _STATIC_SOURCES[1] else r for r in sub]
    b = validate_inference_cases(moved, reference_chips(), holdout="source")
    pa = {c["id"]: c["predicted"] for c in a["cases"]}
    pb = {c["id"]: c["predicted"] for c in b["cases"]}
    held = [r["id"] for r in sub if r["source"] == _STATIC_SOURCES[1]]
    assert held and all(pa[i] == pytest.approx(pb[i], rel=1e-9) for i in held)


def test_linearised_refit_recovers_a_shift_inside_its_bounds():
    """The fold fit on a known linear model: a bandwidth efficiency that makes every time 1.3x
    longer is found (0.78 -> 0.60); a parameter no training row depends on is not identified;
    a target outside the documented range stops on the bound and is reported."""
    from engine.validation_inference import refit_linearised

    chips = reference_chips()
    cid = "h100-sxm5-80gb"
    chips = {cid: chips[cid].with_calibration(inf_hbm_eff=0.78, inf_kv_eff=0.92)}
    params = [{"scope": "default", "name": "inf_hbm_eff", "family": None, "chips": frozenset({cid})},
              {"scope": "default", "name": "inf_kv_eff", "family": None, "chips": frozenset({cid})}]
    n = 20
    base = [{"status": "ok", "predicted": 10.0, "measured": 13.0, "trust": "high"} for _ in range(n)]
    J = np.zeros((n, 2))
    J[:, 0] = -1.0                       # time ~ 1 / bandwidth efficiency
    out = refit_linearised([{}] * n, base, J, params, chips, list(range(n)))
    assert out["values"]["default:inf_hbm_eff"] == pytest.approx(0.6, rel=1e-3)
    assert out["values"]["default:inf_kv_eff"] is None and out["identified"] == ["default:inf_hbm_eff"]
    assert out["on_bound"] == []
    # measurements 3x slower would need 0.26: the 1.5x trust region stops the fit at 0.52
    base3 = [dict(b, measured=30.0) for b in base]
    out3 = refit_linearised([{}] * n, base3, J, params, chips, list(range(n)))
    assert out3["values"]["default:inf_hbm_eff"] == pytest.approx(0.78 / 1.5, rel=1e-3)
    # a documented range bound is reported when the fit lands on it
    chips_lo = {cid: chips[cid].with_calibration(inf_hbm_eff=0.25)}
    out_lo = refit_linearised([{}] * n, base3, J, params, chips_lo, list(range(n)))
    assert out_lo["values"]["default:inf_hbm_eff"] == pytest.approx(0.2, rel=1e-6)
    assert out_lo["on_bound"] == ["default:inf_hbm_eff"]


def test_packaged_fitted_factors_sit_inside_their_documented_ranges():
    """Every fitted serving factor in resources/calibration_inference.csv lies strictly inside its
    prior range (a value on a bound would mean a missing term)."""
    from engine.catalog import calibration_rows
    from engine.validation_inference import FIT_BOUNDS

    seen = 0
    for r in calibration_rows():
        base = r["factor"].split("@", 1)[0]
        if base in FIT_BOUNDS:
            lo, hi = FIT_BOUNDS[base]
            assert lo < float(r["value"]) < hi, (r["scope"], r["factor"], r["value"])
            seen += 1
    assert seen >= 20


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
    bad_dtype = dict(good, id="x4", weight_dtype="fp7", chip="ascend-910b2", num_chips="8")
    blank = {"id": "x5"}
    res = validate_inference_cases([bad_chip, bad_num, good, bad_metric, bad_dtype, blank], reference_chips())
    cases = {c["id"]: c for c in res["cases"]}
    assert cases["x1"]["status"] == "error" and "chip" in cases["x1"]["message"] and "nochip" in cases["x1"]["message"]
    assert cases["x2"]["status"] == "error" and "layers" in cases["x2"]["message"] and "eighty" in cases["x2"]["message"]
    assert cases["x3"]["status"] == "error" and "joules" in cases["x3"]["message"]
    assert cases["x4"]["status"] == "error" and "weight_dtype" in cases["x4"]["message"] and "fp7" in cases["x4"]["message"]
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


def test_fp8_gemm_share_is_refitted_only_where_a_chip_family_has_its_own():
    """The FP8/INT8 GEMM share is the training prior (0.85) at the default scope, not refitted per
    fold; the 910B's own W8A8 value is, and a fold that cannot see its INT8 rows returns it to the
    prior (not to the fitted value)."""
    from engine.validation_inference import _fold_chips, fitted_parameters

    chips = reference_chips()
    params = fitted_parameters(chips)
    keys = {f"{p['scope']}:{p['name']}" for p in params}
    assert "ascend-910b*:inf_fp8_gemm_rel" in keys and "default:inf_fp8_gemm_rel" not in keys
    fold = _fold_chips(chips, params, {})       # nothing identified
    assert fold["ascend-910b2"].factor("inf_fp8_gemm_rel", 0.0) == pytest.approx(0.85)
    assert chips["ascend-910b2"].factor("inf_fp8_gemm_rel", 0.0) < 0.6


def test_optional_scheduler_and_protocol_columns(public):
    """max_num_batched_tokens, max_num_seqs and requests_per_client describe the run (blank or
    absent: the family defaults); a bad value names its column."""
    from engine.validation_inference import inputs_from_row

    rows, _ = public
    row = next(r for r in rows if r["scenario"] == "concurrency")
    chips = reference_chips()
    plain = inputs_from_row(row, chips)
    assert (plain.max_num_batched_tokens, plain.max_num_seqs, plain.requests_per_client) == (None, None, None)
    assert inputs_from_row(dict(row, max_num_seqs="", requests_per_client=""), chips) == plain
    given = inputs_from_row(dict(row, max_num_batched_tokens="2048", max_num_seqs="64", requests_per_client="20"),
                            chips)
    assert (given.max_num_batched_tokens, given.max_num_seqs, given.requests_per_client) == (2048, 64, 20)
    bad = [dict(row, id="b1", max_num_seqs="lots"), dict(row, id="b2", max_num_batched_tokens="0"),
           dict(row, id="b3", requests_per_client="2.5")]
    res = validate_inference_cases(bad, chips)
    msgs = {c["id"]: c["message"] for c in res["cases"]}
    assert "max_num_seqs" in msgs["b1"] and "lots" in msgs["b1"]
    assert "max_num_batched_tokens" in msgs["b2"]
    assert "requests_per_client" in msgs["b3"]


def test_blank_layout_and_dtype_columns_are_read_as_not_reported(public):
    """A blank tp, replica count, attention kind or KV dtype is "not reported": it is derived from
    the columns that are given (num_chips = replicas x pp x max(tp, ep)), never an error, and on a
    public row whose stated values follow the same rule the prediction does not change."""
    from engine.inference import default_kv_dtype
    from engine.validation_inference import inputs_from_row

    rows, res = public
    chips = reference_chips()
    tp8 = next(r for r in rows if r["tp"] == "8" and r["replicas"] == "1" and r["pp"] == "1" and r["ep"] == "1")
    assert inputs_from_row(dict(tp8, tp=""), chips).tp == 8
    # 8 chips as 4 x TP2: blank replicas -> 4; blank tp with the replicas given -> 2
    four = dict(tp8, tp="2", replicas="", num_chips="8")
    assert inputs_from_row(four, chips).replicas == 4
    assert inputs_from_row(dict(four, tp="", replicas="4"), chips).tp == 2
    mla = next(r for r in rows if r["attention"] == "mla")
    assert inputs_from_row(dict(mla, attention=""), chips).model.kv_lora_rank == int(mla["kv_lora_rank"] or 512)
    gqa = next(r for r in rows if r["attention"] == "gqa")
    assert inputs_from_row(dict(gqa, attention=""), chips).model.kv_lora_rank == 0
    # KV dtype: the engines' "auto" (16-bit), FP8 beside FP8 weights, 16-bit beside INT8 W8A8
    assert [default_kv_dtype(w) for w in ("bf16", "fp16", "fp8", "int8", "int4")] == \
        ["bf16", "fp16", "fp8", "bf16", "bf16"]
    same = [r for r in rows if r["kv_dtype"] == default_kv_dtype(r["weight_dtype"])][:40]
    blanked = [dict(r, kv_dtype="", attention="", tp="", replicas="") for r in same]
    before = {c["id"]: c["predicted"] for c in res["cases"]}
    after = validate_inference_cases(blanked, chips)["cases"]
    assert all(c["status"] == "ok" for c in after)
    assert {c["id"]: c["predicted"] for c in after} == {c["id"]: before[c["id"]] for c in after}


def test_chip_id_case_does_not_matter(public):
    from engine.validation_inference import inputs_from_row

    rows, _ = public
    row = rows[0]
    chips = reference_chips()
    assert inputs_from_row(dict(row, chip=row["chip"].upper()), chips).chip.id == row["chip"]


def test_metric_and_scenario_spelling_case_does_not_matter(public):
    rows, res = public
    row = next(r for r in rows if r["scenario"] == "concurrency")
    before = next(c for c in res["cases"] if c["id"] == row["id"])
    after = validate_inference_cases([dict(row, metric=row["metric"].upper(), scenario="Concurrency")],
                                     reference_chips())["cases"][0]
    assert after["status"] == "ok" and after["predicted"] == before["predicted"]


def test_an_fp8_row_on_a100_is_predicted_weight_only_with_a_16_bit_cache(public):
    rows, res = public
    row = next(r for r in rows if r["chip"].startswith("a100") and r["metric"] == "output_tokens_per_s_per_chip")
    fp16_predicted = next(c for c in res["cases"] if c["id"] == row["id"])["predicted"]
    blank_kv, bf16_kv = validate_inference_cases(
        [dict(row, id="w1", weight_dtype="fp8", kv_dtype=""), dict(row, id="w2", weight_dtype="fp8", kv_dtype="bf16")],
        reference_chips())["cases"]
    assert blank_kv["status"] == "ok", blank_kv["message"]
    assert blank_kv["predicted"] == bf16_kv["predicted"]        # A100 "auto" KV is 16-bit beside W8A16
    assert blank_kv["predicted"] >= fp16_predicted                # half the weight bytes, same GEMM rate


def test_an_unrecognised_engine_is_said_on_its_case(shared_dir):
    """An engine name Fleetcast can't place is modelled as the generic family; a typo moved one
    public TTFT prediction from 489 ms to 51,082 ms with status ok and no message."""
    with open(shared_dir / "validation" / "inference_public.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:2]
    rows[1]["engine"] = "vlm@0.6"
    cases = validate_inference_cases(rows, reference_chips())["cases"]
    assert cases[0]["message"] == ""
    assert cases[1]["status"] == "ok" and "engine 'vlm@0.6' not recognised: modelled as the generic family" \
        in cases[1]["message"]
