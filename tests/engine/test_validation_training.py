"""Training validation runner: robustness to bad rows, and accuracy on the public cases."""

import csv

import pytest

from engine.catalog import reference_chips
from engine.validation import read_cases_csv, summarize, validate_training_cases

CHIPS = reference_chips()
HEADER = ["id", "source", "model", "layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len",
          "chip", "num_chips", "tp", "pp", "vpp", "dp", "cp", "zero_stage", "micro_batch", "global_batch_seqs",
          "recompute", "dtype", "gated_ffn", "grad_overlap", "flash_attention", "metric", "value", "trust", "notes"]


def _write(tmp_path, rows):
    path = tmp_path / "cases.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, HEADER)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


GOOD = dict(id="G1", source="test 2024", model="7B", layers=32, hidden=4096, heads=32, kv_heads=32, ffn_hidden=11008,
            vocab=32000, seq_len=4096, chip="a100-sxm4-80gb", num_chips=64, tp=1, pp=1, dp=64, cp=1, zero_stage=3,
            micro_batch=2, global_batch_seqs=128, recompute="none", dtype="bf16", metric="tokens_per_s_per_chip",
            value=2000, trust="high", notes="swiglu")


def test_bad_rows_are_reported_never_fatal(tmp_path):
    rows = [GOOD,
            {**GOOD, "id": "B1", "chip": "no-such-chip"},
            {**GOOD, "id": "B2", "layers": "many"},
            {**GOOD, "id": "B3", "metric": "bananas"},
            {**GOOD, "id": "B4", "value": ""},
            {**GOOD, "id": "B5", "heads": ""},
            {**GOOD, "id": "B6", "layers": "1e30"}]
    cases = validate_training_cases(read_cases_csv(_write(tmp_path, rows)), CHIPS)["cases"]
    status = {c["id"]: c["status"] for c in cases}
    assert status["G1"] == "ok"
    assert all(status[k] == "error" for k in ("B1", "B2", "B3", "B4", "B5", "B6"))
    assert all(c["message"] for c in cases if c["status"] == "error")
    # an impossible size is named, not blamed on the measured value
    assert {c["id"]: c["message"] for c in cases}["B6"] == "layers: 1e+30 (at most 100,000; not a real model)"


def test_blank_layout_is_searched(tmp_path):
    row = {**GOOD, "id": "S1", "tp": "", "pp": "", "dp": "", "cp": "", "zero_stage": "", "micro_batch": "",
           "recompute": ""}
    case = validate_training_cases(read_cases_csv(_write(tmp_path, [row])), CHIPS)["cases"][0]
    assert case["status"] == "ok" and "searched" in case["message"]
    lay = case["layout"]
    assert lay["tp"] * lay["pp"] * lay["dp"] * lay["cp"] == 64


def test_summary_groups_and_statistics():
    cases = [dict(id=str(i), source="s", chip="c", metric="m", trust="high", status="ok", error_pct=e)
             for i, e in enumerate([-10.0, 5.0, 20.0, -40.0])] + [dict(id="x", status="error", source="s", chip="c",
                                                                     metric="m", trust="high", error_pct=None)]
    s = summarize(cases)
    assert s["by_status"] == {"ok": 4, "error": 1}
    assert s["overall"]["median_abs_error_pct"] == pytest.approx(15.0)
    assert s["by_chip"]["c"]["n"] == 4 and s["worst"][0]["id"] == "3"


@pytest.fixture(scope="module")
def public(request):
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "shared" / "validation" / "training_public.csv"
    if not path.exists():
        pytest.skip("shared validation cases not present")
    return validate_training_cases(read_cases_csv(path), CHIPS)


def test_public_cases_all_predicted_and_910b_reported(public):
    s = public["summary"]
    assert s["cases"] == 301
    assert s["by_status"] == {"ok": 301}  # no error, and no "infeasible" for a run that really ran
    # the 910B is the chip nobody here owns: its accuracy must be reported, and be usable
    assert "ascend-910b2" in s["by_chip"] and s["by_chip"]["ascend-910b2"]["n"] == 38
    assert s["by_chip"]["ascend-910b2"]["median_abs_error_pct"] < 15


def test_public_cases_accuracy_does_not_regress(public):
    # columns only (no notes), physics-first factors: 7.05% / 28.1% in sample in this build
    # (A100 40 GB 7.1%, 80 GB 8.6%, H100 4.0% median)
    s = public["summary"]
    assert s["overall"]["median_abs_error_pct"] <= 7.5
    assert s["overall"]["p90_abs_error_pct"] <= 29.0
    for chip in ("a100-sxm4-40gb", "a100-sxm4-80gb", "h100-sxm5-80gb"):
        assert s["by_chip"][chip]["median_abs_error_pct"] <= 9.5


@pytest.mark.xfail(strict=True, reason="issue 11 in-sample targets not reached: 7.05% / 28.1% (vTrain's "
                                       "Megatron-DeepSpeed rows with few micro-batches per stage, where the search "
                                       "interleaves (vpp blank) and TP != 8 runs measure ~20% slower than TP8, NeMo "
                                       "tables with cuDNN attention on Hopper, DeepSpeed ZeRO-3 at 1-2K GPUs, "
                                       "whole-run GPU-hour rows are the worst)")
def test_public_cases_meet_issue_targets(public):
    s = public["summary"]
    assert s["overall"]["median_abs_error_pct"] <= 6.0
    assert s["overall"]["p90_abs_error_pct"] <= 15.0


@pytest.fixture(scope="module")
def holdout_summary():
    from pathlib import Path

    from engine.validation import validate_training_holdout

    path = Path(__file__).resolve().parents[3] / "shared" / "validation" / "training_public.csv"
    if not path.exists():
        pytest.skip("shared validation cases not present")
    return validate_training_holdout(read_cases_csv(path), CHIPS)["summary"]


@pytest.mark.slow
def test_public_cases_leave_one_source_out_p90_meets_issue_target(holdout_summary):
    """Issue 11: leaving one source out (factors refitted per fold on the others, to convergence),
    p90 <= 35% over the public cases (this build: 12.1% median / 33.3% p90)."""
    s = holdout_summary
    assert s["by_status"] == {"ok": s["cases"]}
    assert s["overall"]["p90_abs_error_pct"] <= 33.5


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 11's out-of-sample median <= 12% is not met: 12.1% since the fits "
                                       "run to convergence (s27; fits that stopped after 2 iterations read 11.6%)")
def test_public_cases_leave_one_source_out_median_meets_issue_target(holdout_summary):
    assert holdout_summary["overall"]["median_abs_error_pct"] <= 12.0


def test_blank_batch_gets_a_usable_one(tmp_path):
    # 7,968 chips: a power-of-two default batch cannot divide over dp; the run still ran
    row = {**GOOD, "id": "N1", "num_chips": 7968, "tp": "", "pp": "", "dp": "", "cp": "", "zero_stage": "",
           "micro_batch": "", "global_batch_seqs": "", "recompute": ""}
    case = validate_training_cases(read_cases_csv(_write(tmp_path, [row])), CHIPS)["cases"][0]
    assert case["status"] == "ok"
    lay = case["layout"]
    assert lay["global_batch_seqs"] % (lay["dp"] * lay["micro_batch"]) == 0


def test_column_stated_settings_reach_the_model(tmp_path):
    # grad_overlap = no: the gradient all-reduce cannot hide behind backward -> slower
    base = {**GOOD, "id": "O1", "zero_stage": 1, "gated_ffn": "yes"}
    quiet = validate_training_cases(read_cases_csv(_write(tmp_path, [base])), CHIPS)["cases"][0]
    loud = validate_training_cases(read_cases_csv(_write(tmp_path, [{**base, "grad_overlap": "no"}])),
                                   CHIPS)["cases"][0]
    assert loud["predicted"] < quiet["predicted"]
    # the same words in the notes change nothing: provenance is not an input
    noted = validate_training_cases(read_cases_csv(_write(tmp_path, [{**base, "notes": "no DDP gradient bucketing; "
                                                                      "flash attention off; gpu-hours"}])),
                                    CHIPS)["cases"][0]
    assert noted["predicted"] == quiet["predicted"]


def test_attention_kernel_column_is_optional_and_checked(tmp_path):
    # Hopper: native kernels (FA3/cuDNN) speed the attention core; a file without the column,
    # or with it blank, is the portable FA2-class default; a bad value is that row's error only
    base = {**GOOD, "id": "K1", "chip": "h100-sxm5-80gb", "zero_stage": 1, "gated_ffn": "yes"}
    header = HEADER + ["attention_kernel"]

    def run(rows):
        path = tmp_path / "k.csv"
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, header)
            w.writeheader()
            w.writerows(rows)
        return {c["id"]: c for c in validate_training_cases(read_cases_csv(path), CHIPS)["cases"]}

    without = validate_training_cases(read_cases_csv(_write(tmp_path, [base])), CHIPS)["cases"][0]
    got = run([{**base, "attention_kernel": ""}, {**base, "id": "K2", "attention_kernel": "native"},
               {**base, "id": "K3", "attention_kernel": "fa9"}])
    assert got["K1"]["predicted"] == without["predicted"]
    assert got["K2"]["predicted"] > got["K1"]["predicted"]
    assert got["K3"]["status"] == "error" and "attention_kernel" in got["K3"]["message"]


def test_schedule_and_cp_kind_columns_reach_the_model(tmp_path):
    # the pipeline schedule and the context-parallel form are optional columns like the flags:
    # zero-bubble shrinks a PP4 bubble, a bad value is one row's error naming the column
    header = HEADER + ["schedule", "cp_kind"]
    base = {**GOOD, "id": "S1", "chip": "h100-sxm5-80gb", "tp": 2, "pp": 4, "vpp": 1, "dp": 8, "zero_stage": 1,
            "micro_batch": 1, "global_batch_seqs": 32, "gated_ffn": "yes"}
    path = tmp_path / "s.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, header)
        w.writeheader()
        w.writerows([{**base, "schedule": ""}, {**base, "id": "S2", "schedule": "zero-bubble"},
                     {**base, "id": "S3", "cp_kind": "spiral"}])
    got = {c["id"]: c for c in validate_training_cases(read_cases_csv(path), CHIPS)["cases"]}
    assert got["S1"]["status"] == got["S2"]["status"] == "ok"
    assert got["S2"]["predicted"] > got["S1"]["predicted"]
    assert got["S3"]["status"] == "error" and "cp_kind" in got["S3"]["message"]


def test_factor_sets_in_one_call_equal_one_at_a_time(tmp_path):
    """The calibration fit evaluates its Jacobian as k factor sets in one vectorised call; each
    must give exactly what a plain evaluation with that set gives (all three metrics)."""
    import numpy as np
    from dataclasses import replace

    from engine.validation import predict_metric, predict_metric_sets, resolve_layout, inputs_from_case

    sets = {"train_gemm_eff": np.array([0.6, 0.8]), "train_attn_eff": np.array([0.3, 0.5]),
            "train_scaleup_eff": np.array([0.7, 0.9])}
    for metric, value in (("tokens_per_s_per_chip", 2000), ("step_time_s", 5.0), ("mfu_pct_model_flops", 40)):
        row = {**{k: str(v) for k, v in GOOD.items()}, "tp": "2", "dp": "32", "metric": metric, "value": str(value)}
        inp, _ = resolve_layout(inputs_from_case(row, CHIPS))
        many = predict_metric_sets(row, inp, sets)
        for j in range(2):
            one = predict_metric(row, replace(inp, factors={n: float(v[j]) for n, v in sets.items()}))[0]
            assert many[j] == pytest.approx(one, rel=1e-12)
        assert many[0] != pytest.approx(many[1], rel=1e-3)   # the sets really differ


def test_holdout_reports_each_chip_family_out_of_sample_beside_in_sample(tmp_path):
    from engine.validation import validate_training_holdout

    # each fold keeps 4 runs of each family (as many as the factors it refits): a thinner fold keeps
    # the current factors and says so (tests/test_validate_holdout_s21.py)
    rows = []
    for src, scale in (("src a", 1.0), ("src b", 1.08)):
        for k, chips in enumerate((16, 32, 64, 128)):
            run = {"num_chips": chips, "dp": chips, "global_batch_seqs": 512}
            rows.append({**GOOD, **run, "id": f"A{src[-1]}{k}", "source": src, "value": round(2000 * scale * (1 - 0.03 * k))})
            rows.append({**GOOD, **run, "id": f"H{src[-1]}{k}", "source": src, "chip": "h100-sxm5-80gb",
                         "value": round(5000 * scale * (1 - 0.03 * k))})
    result = validate_training_holdout(read_cases_csv(_write(tmp_path, rows)), CHIPS)
    s = result["summary"]
    assert set(s["by_family"]) == set(s["in_sample_by_family"]) == {"a100", "hopper"}
    assert s["by_family"]["hopper"]["n"] == s["in_sample_by_family"]["hopper"]["n"] == 8
    assert not s.get("notes")          # no fold was too thin to refit
    # out of sample is a different prediction from in sample (each row's own source never fitted it)
    ins = {c["id"]: c for c in validate_training_cases(read_cases_csv(_write(tmp_path, rows)), CHIPS)["cases"]}
    assert any(c["predicted"] != ins[c["id"]]["predicted"] for c in result["cases"])


def test_a_blank_software_column_is_the_engines_own_default():
    # validation reads blank as the first allowed value; it must be TrainingInputs' default
    import dataclasses

    from engine.training import ATTENTION_KERNELS, CP_KINDS, SCHEDULES, TrainingInputs

    defaults = {f.name: f.default for f in dataclasses.fields(TrainingInputs)}
    assert (defaults["attention_kernel"], defaults["schedule"], defaults["cp_kind"]) == (
        ATTENTION_KERNELS[0], SCHEDULES[0], CP_KINDS[0])


def test_blank_cluster_size_is_the_given_layout(tmp_path):
    # num_chips not reported but tp x pp x dp x cp is: the cluster is that layout, not a default
    row = {**GOOD, "id": "C1", "num_chips": "", "tp": 2, "pp": 2, "dp": 16, "cp": 1, "global_batch_seqs": 128}
    case = validate_training_cases(read_cases_csv(_write(tmp_path, [row])), CHIPS)["cases"][0]
    assert case["status"] == "ok", case["message"]
    assert (case["layout"]["tp"], case["layout"]["pp"], case["layout"]["dp"]) == (2, 2, 16)
    # fields that no layout of the cluster can have: infeasible, and the message says why
    bad = {**GOOD, "id": "C2", "num_chips": 64, "tp": 8, "pp": 16, "dp": "", "cp": 1}
    case = validate_training_cases(read_cases_csv(_write(tmp_path, [bad])), CHIPS)["cases"][0]
    assert case["status"] == "infeasible"
    assert "no layout of 64 chips has tp=8, pp=16" in case["message"]


def test_blank_batch_holds_the_given_layout(tmp_path):
    """A blank global batch with dp x micro-batch given (a layout that ran): the default batch is at
    least one micro-batch per data-parallel rank, and a multiple of pp micro-batches per rank
    when the schedule is interleaved (Megatron's rule)."""
    # FSDP on 512 chips, 8 sequences each: 4,096 > 1.5 x the 2,048-sequence default
    wide = {**GOOD, "id": "W1", "num_chips": 512, "dp": 512, "micro_batch": 8, "global_batch_seqs": "",
            "seq_len": 2048, "recompute": "full"}
    case = validate_training_cases(read_cases_csv(_write(tmp_path, [wide])), CHIPS)["cases"][0]
    assert case["status"] == "ok", case["message"]
    assert case["layout"]["global_batch_seqs"] == 4096
    # interleaved PP35 x vpp3 at dp 1 (Korthikanti's 530B layout): 35 micro-batches divide the batch
    big = {**GOOD, "id": "K1", "layers": 105, "hidden": 20480, "heads": 128, "kv_heads": 128, "ffn_hidden": 81920,
           "vocab": 51200, "seq_len": 2048, "num_chips": 280, "tp": 8, "pp": 35, "vpp": 3, "dp": 1,
           "micro_batch": 1, "zero_stage": 1, "recompute": "full", "global_batch_seqs": "", "notes": "", "value": 5}
    hdr = HEADER + ["vpp"] if "vpp" not in HEADER else HEADER
    path = tmp_path / "k.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, hdr)
        w.writeheader()
        w.writerow(big)
    case = validate_training_cases(read_cases_csv(path), CHIPS)["cases"][0]
    assert case["status"] == "ok", case["message"]
    assert case["layout"]["global_batch_seqs"] % 35 == 0


def test_chip_id_case_does_not_matter(tmp_path):
    row = {**GOOD, "id": "U1", "chip": "A100-SXM4-80GB"}
    case = validate_training_cases(read_cases_csv(_write(tmp_path, [row])), CHIPS)["cases"][0]
    assert case["status"] == "ok", case["message"]


def test_metric_spelling_case_does_not_matter(tmp_path):
    row = {**GOOD, "id": "M1", "metric": "Tokens_Per_S_Per_Chip"}
    case = validate_training_cases(read_cases_csv(_write(tmp_path, [row])), CHIPS)["cases"][0]
    plain = validate_training_cases(read_cases_csv(_write(tmp_path, [GOOD])), CHIPS)["cases"][0]
    assert case["status"] == "ok" and case["predicted"] == plain["predicted"]


def test_a_dtype_the_chip_lacks_is_the_reason_not_one_count_among_many(tmp_path):
    row = {**GOOD, "id": "F1", "dtype": "fp8", "tp": "", "pp": "", "dp": "", "micro_batch": "", "zero_stage": ""}
    case = validate_training_cases(read_cases_csv(_write(tmp_path, [row])), CHIPS)["cases"][0]
    assert case["status"] == "infeasible"
    assert case["message"].startswith("dtype fp8: A100 SXM4 80GB has no FP8 matrix units"), case["message"]


@pytest.mark.slow
def test_readme_and_the_report_quote_the_holdout_as_it_runs(holdout_summary):
    """QA s32: README's out-of-sample figures had drifted 0.1 from the run (Hopper 7.7 for 7.65,
    MosaicML 11.9 for 11.95, Narayanan's p90 73.5 for 73.55) and the report's accuracy.json with it.
    Every figure README and resources/accuracy.json quote is the run's, rounded to one decimal."""
    import json
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    readme = " ".join((repo / "README.md").read_text(encoding="utf-8").split())
    s = holdout_summary

    def fig(x: dict) -> str:
        return f"{x['median_abs_error_pct']:.1f} / {x['p90_abs_error_pct']:.1f}"

    def source(prefix: str) -> dict:
        found = [v for k, v in s["by_source"].items() if k.startswith(prefix)]
        assert len(found) == 1, prefix
        return found[0]

    by_source = re.search(r"By source, out of sample \(median / p90\): (.*?) \(its DeepSeek", readme)
    assert by_source, "README's by-source sentence"
    quoted = by_source.group(1)
    for name, prefix in (("Megatron-LM", "NVIDIA Megatron-LM"), ("Narayanan", "Narayanan"),
                         ("torchtitan", "PyTorch torchtitan"), ("ModelLink", "Huawei Ascend ModelLink"),
                         ("MosaicML", "MosaicML"), ("Korthikanti", "Korthikanti"), ("vTrain", "Bang et al."),
                         ("Megatron-Bridge", "NVIDIA NeMo Megatron-Bridge"),
                         ("NeMo AutoModel (MoE)", "NVIDIA NeMo AutoModel")):
        assert f"{name} {fig(source(prefix))}" in quoted, (name, fig(source(prefix)), quoted)
    fam, chip, inside = s["by_family"], s["by_chip"], s["in_sample_by_family"]
    assert (f"| A100 (40 GB: {fig(chip['a100-sxm4-40gb'])} out of sample, 80 GB: {fig(chip['a100-sxm4-80gb'])}) "
            f"| 182 | {fig(fam['a100'])} | {fig(inside['a100'])} |") in readme
    assert f"| 81 | {fig(fam['hopper'])} | {fig(inside['hopper'])} |" in readme
    assert f"| 38 | {fig(fam['ascend-910b'])} | {fig(inside['ascend-910b'])} |" in readme
    accuracy = json.loads((repo / "resources" / "accuracy.json").read_text(encoding="utf-8"))["training"]
    quoted_json = {e["how"].split(" ")[0]: f"{e['median_pct']:.1f} / {e['p90_pct']:.1f}"
                   for e in accuracy["out_of_sample"]}
    assert quoted_json["leave"] == fig(s["overall"])
    assert quoted_json["Hopper"] == fig(fam["hopper"]) and quoted_json["A100,"] == fig(fam["a100"])
    assert quoted_json["Ascend"] == fig(fam["ascend-910b"])
    assert quoted_json["NeMo"] == fig(source("NVIDIA NeMo Megatron-Bridge"))


def test_a_run_the_memory_model_rejects_is_predicted_whether_or_not_its_layout_is_given():
    """QA s32: MODELLINK-NPU-39 with every field given is predicted ("model says out of memory (66.5
    of 64 GiB) but the run ran"); with tp blank (the chip count fixes it anyway) the search found no
    layout that fits and the row was lost as infeasible. Now the layout needing least memory is
    predicted, flagged the same way, with the same figure."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "shared" / "validation" / "training_public.csv"
    if not path.exists():
        pytest.skip("shared validation cases not present")
    row = next(r for r in read_cases_csv(path) if r["id"] == "MODELLINK-NPU-39")
    given = validate_training_cases([row], CHIPS)["cases"][0]
    assert given["status"] == "ok" and "model says out of memory" in given["message"]
    for blank in ("tp", "vpp", "micro_batch"):
        case = validate_training_cases([{**row, blank: ""}], CHIPS)["cases"][0]
        assert case["status"] == "ok", (blank, case["message"])
        assert case["predicted"] == pytest.approx(given["predicted"])
        assert "none fits the memory model: the one needing least memory" in case["message"]
        assert "model says out of memory" in case["message"]


def test_a_run_far_over_any_chip_is_no_miss_of_the_memory_model():
    """QA s32: the same row on one chip with the layout blank was predicted, "out of memory (2,219
    of 64 GiB) but the run ran": 35x over is no run that ran. Infeasible, the reason given."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "shared" / "validation" / "training_public.csv"
    if not path.exists():
        pytest.skip("shared validation cases not present")
    row = next(r for r in read_cases_csv(path) if r["id"] == "MODELLINK-NPU-39")
    blank = {k: "" for k in ("tp", "pp", "vpp", "dp", "cp", "zero_stage", "micro_batch", "recompute")}
    case = validate_training_cases([{**row, **blank, "num_chips": "1", "global_batch_seqs": ""}], CHIPS)["cases"][0]
    assert case["status"] == "infeasible" and "out of memory" in case["message"], case
