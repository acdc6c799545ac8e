"""`fleetcast train` and `fleetcast validate training` through engine.cli.main."""

import csv
import io
import json
from pathlib import Path

import pytest

import engine.cli as cli


@pytest.fixture(autouse=True)
def catalog_only(monkeypatch):
    """Use the packaged catalog: the CLI falls back to it when the store cannot be imported."""
    def no_store(self):
        raise ImportError("store not used in these tests")

    monkeypatch.setattr(cli.Context, "store", no_store)


def run_json(capsys, *argv):
    code = cli.main(list(argv) + ["--format", "json"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def test_single_layout(capsys):
    code, data, _ = run_json(capsys, "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "64",
                             "--tp", "8", "--pp", "2", "--dp", "4", "--micro-batch", "1", "--zero", "1",
                             "--recompute", "selective", "--global-batch", "128", "--tokens", "1e12")
    assert code == 0
    for key in ("tokens_per_s_per_chip", "step_time_s", "mfu_pct", "hfu_pct", "memory_gb_per_chip", "breakdown_s",
                "time_to_train_days", "layout"):
        assert key in data
    assert sum(data["breakdown_s"].values()) == pytest.approx(data["step_time_s"])
    assert data["layout"]["tp"] == 8
    # memory: GiB, the unit of the HBM label (80 on an H100), and the _gb keys in decimal GB
    assert data["memory_capacity_gib"] == 80.0 and data["memory_capacity_gb"] == pytest.approx(85.899, abs=1e-3)
    assert data["memory_gb_per_chip"] == pytest.approx(data["memory_gib_per_chip"] * 2 ** 30 / 1e9)
    assert sum(data["memory_breakdown_gib"].values()) == pytest.approx(data["memory_gib_per_chip"], rel=1e-6)


def test_search_405b_on_16k_h100(capsys):
    code, data, _ = run_json(capsys, "train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb",
                             "--chips", "16384", "--search")
    assert code == 0
    assert data["layouts_evaluated"] >= 80_000
    assert 0 < data["layouts_feasible"] <= data["layouts_evaluated"]
    assert data["layouts_feasible"] + sum(data["infeasible_by_reason"].values()) == data["layouts_evaluated"]
    assert 35 <= data["top"][0]["mfu_pct"] <= 50
    assert data["search_seconds"] > 0 and data["infeasible_by_reason"]


@pytest.mark.parametrize("chip", ["ascend-910b2", "h20-96gb"])
def test_search_other_chips_explained(capsys, chip):
    code, data, _ = run_json(capsys, "train", "--model", "llama3-405b", "--chip", chip, "--chips", "16384")
    assert code == 0 and data["top"] and data["limiting"] and isinstance(data["explanations"], list)


def test_user_errors_exit_1_with_one_line(capsys):
    assert cli.main(["train", "--model", "nope", "--chip", "h100-sxm5-80gb", "--chips", "8"]) == 1
    err = capsys.readouterr().err
    assert "nope" in err and err.count("\n") == 1
    assert cli.main(["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "0"]) == 1
    assert cli.main(["train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb", "--chips", "1"]) == 1
    assert "no feasible layout" in capsys.readouterr().err


def test_validate_training_small_file(capsys, tmp_path):
    src = Path(__file__).resolve().parents[2] / "shared" / "validation" / "training_public.csv"
    if not src.exists():
        pytest.skip("shared validation cases not present")
    lines = src.read_text(encoding="utf-8").splitlines()
    sub = tmp_path / "few.csv"
    sub.write_text("\n".join([lines[0]] + [l for l in lines[1:] if l.startswith(("MPT-01", "KORTHIKANTI"))])
                   + "\nBROKEN,row\n", encoding="utf-8")
    code, data, _ = run_json(capsys, "validate", "training", "--cases", str(sub))
    assert code == 0
    assert data["cases"] and set(data["cases"][0]) >= {"id", "metric", "measured", "predicted", "error_pct",
                                                      "status", "message"}
    assert any(c["status"] == "error" for c in data["cases"])
    assert data["summary"]["overall"]["n"] >= 5


def test_validate_missing_file_is_user_error(capsys, tmp_path):
    assert cli.main(["validate", "training", "--cases", str(tmp_path / "none.csv")]) == 1
    assert "none.csv" in capsys.readouterr().err


@pytest.mark.parametrize("argv,needle", [
    (["--chips", "1000000000000", "--search"], "--chips: 1000000000000 (must be a whole number of chips, 1 to 10,000,000)"),
    (["--chips", "8", "--tp", "3"], "no layout of 8 chips matches --tp 3"),
    (["--chips", "8", "--tokens", "nan"], "--tokens: nan"),
    (["--chips", "8", "--tokens", "inf"], "--tokens: inf"),
    (["--chips", "8", "--tokens", "1.5"], "--tokens: 1.5 (must be a whole number of tokens"),
    (["--chips", "8", "--ep", "2"], "--ep 2: llama3-8b has no experts"),
])
def test_absurd_training_requests_are_refused_quickly(capsys, argv, needle):
    from engine.cli import main

    code = main(["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", *argv])
    err = capsys.readouterr().err
    assert code == 1 and needle in err and len(err.strip().splitlines()) == 1


def test_negative_price_is_refused(capsys):
    from engine.cli import main

    code = main(["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "8",
                 "--price-per-chip-hour", "-2"])
    assert code == 1 and "--price-per-chip-hour: -2" in capsys.readouterr().err


def _two_source_file(tmp_path, scale_korthikanti=1.0):
    import csv

    src = Path(__file__).resolve().parents[2] / "shared" / "validation" / "training_public.csv"
    if not src.exists():
        pytest.skip("shared validation cases not present")
    with open(src, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["id"].startswith(("KORTHIKANTI", "MPT-0"))][:12]
    out = tmp_path / f"two_{scale_korthikanti}.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            if r["id"].startswith("KORTHIKANTI"):
                r = {**r, "value": str(float(r["value"]) * scale_korthikanti)}
            w.writerow(r)
    return out


def test_validate_holdout_shows_its_folds_on_a_terminal_only(capsys, tmp_path, monkeypatch):
    """A holdout run refits every fold (most of a minute on the public files): on a terminal one
    self-overwriting stderr line names the source left out, cleared before the answer; in a file
    or a pipe stderr stays empty."""
    import io
    import sys

    from engine.cli import main

    cases = str(_two_source_file(tmp_path))
    assert main(["validate", "training", "--cases", cases, "--holdout", "source", "--format", "json"]) == 0
    assert capsys.readouterr().err == ""

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["validate", "training", "--cases", cases, "--holdout", "source", "--format", "json"]) == 0
    text = terminal.getvalue()
    assert "% leaving out Korthikanti" in text and "% leaving out MosaicML" in text
    assert text.endswith("\r\x1b[K")


def test_validate_holdout_source_never_sees_the_left_out_measurements(capsys, tmp_path):
    """Leave-one-source-out: a source's own measured values cannot move its predictions (they are
    fitted on the other sources only), while the in-sample figure beside it is reported."""
    code, a, _ = run_json(capsys, "validate", "training", "--cases", str(_two_source_file(tmp_path)),
                          "--holdout", "source")
    assert code == 0
    assert a["summary"]["holdout"] == "source" and a["summary"]["in_sample"]["n"] == a["summary"]["overall"]["n"]
    # 1.5x: twice Korthikanti's ~55% MFU would be above the A100's peak, a measurement no chip makes
    code, b, _ = run_json(capsys, "validate", "training", "--cases", str(_two_source_file(tmp_path, 1.5)),
                          "--holdout", "source")
    assert code == 0 and all(c["status"] == "ok" for c in b["cases"])
    pa = {c["id"]: c["predicted"] for c in a["cases"]}
    pb = {c["id"]: c["predicted"] for c in b["cases"]}
    kor = [k for k in pa if k.startswith("KORTHIKANTI")]
    assert kor and all(c["status"] == "ok" for c in a["cases"])
    assert all(pa[k] == pytest.approx(pb[k], rel=1e-9) for k in kor)
    # the other source was fitted with the scaled Korthikanti values in its training set
    assert any(pa[k] != pytest.approx(pb[k], rel=1e-6) for k in pa if k not in kor)


LAYOUT_70B = ["train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "8", "--pp", "2",
              "--dp", "4", "--micro-batch", "1", "--zero", "1", "--recompute", "selective"]


def test_software_flags_reach_the_model_and_the_json(capsys):
    _, base, _ = run_json(capsys, *LAYOUT_70B)
    assert base["software"] == {"flash_attention": True, "sequence_parallel": True, "grad_overlap": True,
                                "tp_comm_overlap": False, "dropout": False, "schedule": "1f1b", "cp_kind": "ring",
                                "attention_kernel": "portable", "fp8_dispatch": True,
                                "moe_route_nodes": None, "expert_tp": None}
    for flag, slower in (("--no-flash-attention", True), ("--no-sequence-parallel", True), ("--dropout", True),
                         ("--tp-comm-overlap", False), ("--no-grad-overlap", True)):
        code, data, err = run_json(capsys, *LAYOUT_70B, flag)
        assert data is not None, err  # a layout out of memory exits 1 (CLI.md) but still prints its figures
        if slower:
            assert data["step_time_s"] > base["step_time_s"], flag
        else:
            assert data["step_time_s"] < base["step_time_s"], flag
    # Hopper-native attention kernels: faster attention, saved in the JSON's software settings
    _, native, _ = run_json(capsys, *LAYOUT_70B, "--attention-kernel", "native")
    assert native["software"]["attention_kernel"] == "native"
    assert native["step_time_s"] < base["step_time_s"]
    _, zb, _ = run_json(capsys, *LAYOUT_70B, "--schedule", "zero-bubble")
    assert zb["breakdown_s"]["bubble"] < base["breakdown_s"]["bubble"]


def test_an_infeasible_layout_is_explained_by_its_reason(capsys):
    code, data, _ = run_json(capsys, "train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb", "--chips", "1024",
                             "--tp", "8", "--pp", "1", "--dp", "128", "--micro-batch", "1", "--zero", "1",
                             "--recompute", "none")
    assert code == 1 and data["feasible"] is False  # CLI.md: an infeasible request exits 1; JSON still printed
    assert data["infeasible_reason"].startswith("out of memory:") and "GiB needed per chip" in data["infeasible_reason"]
    # a search with nothing feasible names every reason with its count, in one line
    assert cli.main(["train", "--model", "llama3-405b", "--chip", "a100-sxm4-40gb", "--chips", "8", "--search"]) == 1
    err = capsys.readouterr().err
    assert "no feasible layout" in err and "layouts: out of memory" in err


# ---- `train --scenario NAME`: the Training view's saved study, headless ----------------------

_REAL_STORE = cli.Context.__dict__["store"]


@pytest.fixture
def saved_store(monkeypatch, tmp_path):
    """A real store in tmp_path (undoing catalog_only) with a scenario holding a Training study."""
    from engine.store import open_store
    from engine.studies import TrainingStudy

    monkeypatch.setattr(cli.Context, "store", _REAL_STORE)
    db = tmp_path / "train.db"
    store = open_store(str(db))
    params = dict(store.scenario("Story default")["params"])
    study = TrainingStudy(model_id="llama3-70b", chip_id="h100-sxm5-80gb", num_chips=64, tokens_t=1.0,
                          global_batch=128, layout_mode="fixed",
                          layout={"tp": 8, "pp": 2, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1,
                                  "recompute": "selective"},
                          software={"schedule": "1f1b", "flash_attention": True})
    store.save_scenario("with training", {**params, "ui": {"training": study.to_dict()}})
    store.save_scenario("bad training", {**params, "ui": {"training": {**study.to_dict(), "num_chips": 60}}})
    store.close()
    return str(db)


def test_scenario_runs_the_saved_training_study(capsys, saved_store):
    code, data, _ = run_json(capsys, "train", "--db", saved_store, "--scenario", "with training")
    assert code == 0
    assert data["model"] == "llama3-70b" and data["chip"] == "h100-sxm5-80gb" and data["num_chips"] == 64
    assert data["layout"]["tp"] == 8 and data["layout"]["pp"] == 2 and data["layout"]["dp"] == 4
    assert data["global_batch_seqs"] == 128 and "top" not in data  # the study's fixed layout, not a search
    # the same figures as the flags the study stands for
    code, flags, _ = run_json(capsys, "train", "--db", saved_store, "--model", "llama3-70b", "--chip",
                              "h100-sxm5-80gb", "--chips", "64", "--tp", "8", "--pp", "2", "--dp", "4", "--cp", "1",
                              "--ep", "1", "--vpp", "1", "--micro-batch", "1", "--zero", "1", "--recompute",
                              "selective", "--global-batch", "128", "--tokens", "1e12")
    assert code == 0
    assert data["step_time_s"] == pytest.approx(flags["step_time_s"])
    assert data["time_to_train_days"] == pytest.approx(flags["time_to_train_days"])


def test_flags_override_the_saved_study(capsys, saved_store):
    code, data, _ = run_json(capsys, "train", "--db", saved_store, "--scenario", "with training", "--chips", "128",
                             "--search", "--top", "2")
    assert code == 0 and data["num_chips"] == 128 and len(data["top"]) == 2
    assert data["model"] == "llama3-70b" and data["time_to_train_days"] > 0  # the study's token budget


@pytest.mark.parametrize("name, needle", [
    ("nope", "scenario 'nope': not found"),
    ("bad training", "TP × PP × CP = 16 does not divide 60 chips"),
])
def test_scenario_problems_are_one_line_exit_1(capsys, saved_store, name, needle):
    code = cli.main(["train", "--db", saved_store, "--scenario", name])
    err = capsys.readouterr().err
    assert code == 1 and needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_without_scenario_model_chip_and_chips_are_required(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--model", "llama3-8b"])
    assert exc.value.code == 2
    assert "--chip, --chips (or --scenario NAME)" in capsys.readouterr().err


def test_train_fp8_on_a_chip_without_fp8_says_so_in_one_line(capsys):
    code = cli.main(["train", "--model", "llama3-8b", "--chip", "a100-sxm4-80gb", "--chips", "64", "--search",
                     "--tokens", "1e12", "--dtype", "fp8"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "--dtype fp8: A100 SXM4 80GB has no FP8 matrix units" in err and "layouts:" not in err


DSV3_FP8 = ("train", "--model", "deepseek-v3", "--chip", "h800-sxm5-80gb", "--chips", "2048", "--tp", "1", "--pp", "16",
            "--ep", "64", "--dp", "128", "--vpp", "1", "--zero", "1", "--micro-batch", "1", "--global-batch",
            "15360", "--seq-len", "4096", "--recompute", "full", "--dtype", "fp8", "--schedule", "dualpipe")


def test_moe_dispatch_precision_and_node_limited_routing_are_flags(capsys):
    """`--fp8-dispatch` (new; it was an input no flag or field could set) and `--moe-route-nodes`
    reach the expert all-to-all and the JSON: BF16 dispatch sends twice the bytes, node-limited
    routing (DeepSeek's 4 nodes) less than routing anywhere."""
    _, fp8, err = run_json(capsys, *DSV3_FP8)
    assert fp8 is not None, err
    _, bf16, _ = run_json(capsys, *DSV3_FP8, "--no-fp8-dispatch")
    _, routed, _ = run_json(capsys, *DSV3_FP8, "--moe-route-nodes", "4")
    assert (fp8["software"]["fp8_dispatch"], bf16["software"]["fp8_dispatch"]) == (True, False)
    assert routed["software"]["moe_route_nodes"] == 4
    assert bf16["breakdown_s"]["ep_comm"] > 2 * fp8["breakdown_s"]["ep_comm"] > 0
    assert routed["breakdown_s"]["ep_comm"] < fp8["breakdown_s"]["ep_comm"]
    assert bf16["step_time_s"] > fp8["step_time_s"] > routed["step_time_s"]


LAYOUT_64 = ["train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "8", "--pp", "2",
             "--dp", "4", "--micro-batch", "1", "--zero", "1", "--recompute", "selective", "--global-batch", "128",
             "--tokens", "1e12"]


def test_reliability_flags_reach_the_time_to_train(capsys):
    """--mtbf-chip-hours, --restart-min, --checkpoint-write-gbps: the run's failures, restarts and
    checkpoints (they were fixed at the Llama 3 rate, 10 min and 1,000 GB/s)."""
    from engine.catalog import reference_chips, reference_models
    from engine.training import estimate_run

    _, base, _ = run_json(capsys, *LAYOUT_64)
    code, flaky, _ = run_json(capsys, *LAYOUT_64, "--mtbf-chip-hours", "2000", "--restart-min", "30",
                              "--checkpoint-write-gbps", "50")
    assert code == 0 and flaky["tokens_per_s_per_chip"] == base["tokens_per_s_per_chip"]
    est = estimate_run(1e12, base["tokens_per_s_per_chip"], 64, reference_chips()["h100-sxm5-80gb"],
                       params=float(reference_models()["llama3-70b"].total_params()), mtbf_chip_hours=2000, restart_min=30,
                       checkpoint_write_gbps=50)
    assert flaky["run"]["goodput"] < base["run"]["goodput"]
    assert flaky["run"]["expected_interruptions"] > base["run"]["expected_interruptions"]
    assert flaky["time_to_train_days"] == pytest.approx(est.time_to_train_days, rel=0.01)


@pytest.mark.parametrize("flag, value", [("--mtbf-chip-hours", "0"), ("--restart-min", "-1"),
                                         ("--checkpoint-write-gbps", "nan")])
def test_bad_reliability_flags_are_one_line(capsys, flag, value):
    code, _, err = run_json(capsys, *LAYOUT_64, flag, value)
    assert code == 1 and flag in err and err.count("\n") == 1 and "Traceback" not in err


def test_scenario_reliability_fields_reach_the_time_to_train(capsys, saved_store):
    """The study's reliability fields are the run's: the saved study (Llama 3 rate) gives the flags'
    figure, and --mtbf-chip-hours overrides it as any flag overrides its field."""
    code, saved, _ = run_json(capsys, "train", "--db", saved_store, "--scenario", "with training")
    code2, flaky, _ = run_json(capsys, "train", "--db", saved_store, "--scenario", "with training",
                               "--mtbf-chip-hours", "2000")
    assert code == code2 == 0
    assert flaky["run"]["expected_interruptions"] > saved["run"]["expected_interruptions"]
    assert flaky["time_to_train_days"] > saved["time_to_train_days"]


def test_a_scenario_without_a_training_study_answers_with_the_views_defaults(capsys, saved_store):
    """The window and the report show the Training view's defaults for such a scenario; `train`
    refused it ("has no Training study")."""
    from engine.studies import TrainingStudy

    code, data, _ = run_json(capsys, "train", "--db", saved_store, "--scenario", "Story default")
    default = TrainingStudy()
    assert code == 0 and (data["model"], data["num_chips"]) == (default.model_id, default.num_chips)


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_16_bit_training_reports_the_format_the_chip_runs(capsys):
    """A V100 has no BF16 matrix units: `--dtype bf16` reported "dtype": "bf16" at its FP16 peak."""
    code, out, err = _run(capsys, "train", "--model", "llama3-8b", "--chip", "v100-sxm2-32gb",
                         "--chips", "64", "--dtype", "bf16", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["dtype"] == "fp16" and "no BF16 matrix units" in data["dtype_note"] and "125" in data["dtype_note"]
    code, out, _ = _run(capsys, "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb",
                       "--chips", "64", "--dtype", "fp16", "--format", "json")
    assert json.loads(out)["dtype"] == "fp16" and "dtype_note" not in json.loads(out)   # H100 has both


def test_train_csv_carries_the_days_to_train(capsys):
    """`--tokens` gave 232.7 days in the table and JSON output; the CSV dropped them."""
    argv = ["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64",
            "--tokens", "1e12", "--search", "--top", "3"]
    code, out, err = _run(capsys, *argv, "--format", "json")
    assert code == 0, err
    days = json.loads(out)["time_to_train_days"]
    code, out, _ = _run(capsys, *argv, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3 and float(rows[0]["time_to_train_days"]) == pytest.approx(days)
    # each layout its own days: slower layouts take longer
    assert [float(r["time_to_train_days"]) for r in rows] == sorted(float(r["time_to_train_days"]) for r in rows)


def test_a_search_with_no_feasible_layout_still_prints_its_json(capsys):
    """405B on 8 chips: exit 1 with the reason, and --format json printed nothing."""
    code, out, err = _run(capsys, "train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb", "--chips", "8",
                          "--search", "--format", "json")
    assert code == 1 and "no feasible layout" in err and len(err.strip().splitlines()) == 1
    data = json.loads(out)
    assert data["feasible"] is False and data["layouts_feasible"] == 0
    assert sum(data["infeasible_by_reason"].values()) == data["layouts_evaluated"] > 0
    assert any("out of memory" in reason for reason in data["infeasible_by_reason"])


def test_the_global_batch_reported_is_the_one_the_layout_runs(capsys):
    """On 1,000 chips the default is 512 sequences (4M tokens at 8K); DP125 rounds it to 500, which
    the layout ran while the top-level key said 512."""
    code, data, _ = run_json(capsys, "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "1000",
                             "--tp", "8", "--pp", "1", "--dp", "125", "--micro-batch", "1", "--recompute",
                             "selective", "--zero", "1")
    assert code == 0
    assert data["default_global_batch_seqs"] == 512
    assert data["global_batch_seqs"] == data["layout"]["global_batch_seqs"] == 500


def test_counts_take_e_notation_as_the_token_budget_does(capsys):
    """`--tokens 15e12` worked where `--chips 1e3` and `forecast --trials 1e4` were usage errors;
    a count that is not whole is bad input: exit 1, one line (QA s32)."""
    from engine.cli import main
    from engine.commands import whole_number

    assert whole_number("1e3") == 1000 and whole_number("4096") == 4096 and whole_number("4.096e3") == 4096
    assert main(["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "8e0", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_chips"] == 8
    with pytest.raises(SystemExit) as exc:
        main(["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "1.5"])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and "--chips: invalid whole number: '1.5'" in err and len(err.strip().splitlines()) == 1


def test_a_run_with_no_progress_still_prints_its_layout_and_names_the_slow_checkpoint(capsys, tmp_path):
    """QA: with goodput 0 `--format json` printed nothing (README: the figures are still printed,
    feasible false), and a 66-day checkpoint was blamed on failures being too frequent."""
    argv = ["--db", str(tmp_path / "t.db"), "train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb",
            "--chips", "16384", "--tp", "4", "--pp", "32", "--vpp", "4", "--cp", "8", "--dp", "16", "--zero", "1",
            "--micro-batch", "1", "--global-batch", "2048", "--recompute", "none", "--tokens", "15e12"]
    from engine.cli import main

    assert main(argv + ["--checkpoint-write-gbps", "0.001", "--format", "json"]) == 1
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert d["feasible"] is False and d["time_to_train_days"] is None and d["tokens_per_s_per_chip"] > 0
    assert "a checkpoint takes longer than the job runs between failures" in err
    assert main(argv + ["--mtbf-chip-hours", "100"]) == 1
    assert "failures are so frequent" in capsys.readouterr().err


def test_reliability_flags_without_tokens_are_refused(capsys, tmp_path):
    """QA: --mtbf-chip-hours without --tokens ran with exit 0 and changed nothing."""
    from engine.cli import main

    assert main(["--db", str(tmp_path / "t.db"), "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb",
                 "--chips", "8", "--mtbf-chip-hours", "100"]) == 1
    assert "--mtbf-chip-hours: used for the time and cost to train, which need --tokens" in capsys.readouterr().err


def test_a_chip_count_that_factors_badly_is_offered_a_few_idle_chips(tmp_path, capsys):
    """QA: 1,023 H100 (3 x 11 x 31) trained Llama 3 70B in 27.6 days where 1,022 took 13.2, and a
    prime count had no feasible layout and no way forward. The search now also tries the largest
    multiples of 2..1,024 at or below the count (at most 10% idle) and offers, of those that beat it,
    the fewest idle chips within 5% of the fastest: 1,022 here (QA: 1,016 was offered, 7 idle, slower
    than 1,022 and 1,020)."""
    from engine.cli import main

    db = str(tmp_path / "t.db")
    code = main(["--db", db, "--format", "json", "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb",
                 "--chips", "1023", "--search", "--tokens", "1e12"])
    data = json.loads(capsys.readouterr().out)
    fewer = data["fewer_chips"]
    assert code == 0 and fewer["chips"] == 1022 and fewer["idle_chips"] == 1
    assert fewer["chips"] >= 0.9 * 1023
    # more tokens/s in all, so fewer days, than every chip of the badly factored count
    assert fewer["tokens_per_s"] > 1.05 * data["tokens_per_s_per_chip"] * 1023
    assert fewer["time_to_train_days"] < data["time_to_train_days"]
    # 16,381 H100 for Llama 3 405B: 16,380 (1 idle) trains at half the speed of 16,128 (253 idle;
    # PP33 x VPP4 on 16,368 ran its end stages' chunks empty)
    code = main(["--db", db, "--format", "json", "train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb",
                 "--chips", "16381", "--search", "--tokens", "1e12"])
    assert json.loads(capsys.readouterr().out)["fewer_chips"]["chips"] == 16128
    code = main(["--db", db, "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "1021",
                 "--search"])
    err = capsys.readouterr().err
    assert code == 1 and "no feasible layout" in err and "idle) the best layout" in err and "--chips 10" in err
    # a round count whose layers split evenly is left alone (8B: 32 layers)
    main(["--db", db, "--format", "json", "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb",
          "--chips", "1024", "--search"])
    assert json.loads(capsys.readouterr().out)["fewer_chips"] is None
    # but not one whose layers split unevenly (QA s41): 70B's 80 layers and output layer over 9 stages
    # of 1,008 chips, 4.3% sooner than over 8 of 1,024 (no multiple of a power of two reaches 1,008)
    main(["--db", db, "--format", "json", "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb",
          "--chips", "1024", "--search", "--tokens", "15e12"])
    data = json.loads(capsys.readouterr().out)
    assert data["fewer_chips"]["chips"] == 1008 and "PP9 " in data["fewer_chips"]["layout"]
    assert data["fewer_chips"]["time_to_train_days"] == pytest.approx(189.1, abs=0.1)
    assert data["time_to_train_days"] == pytest.approx(197.5, abs=0.1)


def test_moe_only_flags_on_a_dense_model_are_refused_and_small_runs_keep_their_figures(tmp_path, capsys):
    """--moe-route-nodes and --fp8-dispatch on Llama 3 70B were accepted and changed nothing (where
    --ep is refused); 1e3 tokens read "0.0 days" and a 99.86% goodput "100%"."""
    from engine.cli import main

    db = str(tmp_path / "t.db")
    base = ["--db", db, "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "1024", "--search"]
    for flag in (["--moe-route-nodes", "2"], ["--fp8-dispatch"], ["--no-fp8-dispatch"]):
        assert main(base + flag) == 1
        assert "has no experts, so there is no MoE dispatch to set" in capsys.readouterr().err
    assert main(base + ["--tokens", "1e3"]) == 0
    out = capsys.readouterr().out
    assert "time to train 1e+03 tokens: " in out and " s (goodput " in out and "0.0 days" not in out
    assert main(base + ["--tokens", "1e12"]) == 0
    assert "days (goodput 99." in capsys.readouterr().out


def test_a_sequence_beyond_the_context_window_is_said(tmp_path, capsys):
    from engine.cli import main

    assert main(["--db", str(tmp_path / "t.db"), "--format", "json", "train", "--model", "llama3-70b", "--chip",
                 "h100-sxm5-80gb", "--chips", "1024", "--search", "--seq-len", "100000"]) == 0
    note = json.loads(capsys.readouterr().out)["context_note"]
    assert note.startswith("sequences of 100,000 tokens are beyond Llama 3 70B's context window of 8,192")


def test_a_model_that_fits_no_layout_for_memory_asks_for_more_chips(tmp_path, capsys):
    """QA: 70B on 8 H100 (70.6e9 params x 16 bytes = 1.13 TB against 8 x 80 GiB) was told to try
    "a chip count with more factors (a multiple of 8)"; 8 is one, and no factoring fits it."""
    from engine.cli import main

    assert main(["--db", str(tmp_path / "t.db"), "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb",
                 "--chips", "8", "--search"]) == 1
    err = capsys.readouterr().err
    assert "out of memory" in err and "more chips are needed" in err and "multiple of 8" not in err
    assert main(["--db", str(tmp_path / "t.db"), "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb",
                 "--chips", "1024", "--search", "--tokens", "1e10"]) == 0
    assert " min (goodput " in capsys.readouterr().out   # 24.6 min, not "1.47e+03 s"


def test_the_runs_cost_is_in_the_table_and_csv_and_a_price_of_0_is_refused(capsys, tmp_path):
    """QA: --price-per-chip-hour changed nothing a table or CSV reader saw (cost, chip-hours,
    energy were in JSON alone), and 0 priced the run at $0 where the window's 0 means list price."""
    from engine.cli import main

    db = str(tmp_path / "t.db")
    argv = ["--db", db, "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "1",
            "--pp", "1", "--cp", "1", "--zero", "1", "--recompute", "selective", "--micro-batch", "1", "--tokens", "1e12"]
    assert main(argv + ["--price-per-chip-hour", "2"]) == 0
    out = capsys.readouterr().out
    hours = float(out.split(" chip-hours")[0].rsplit("; ", 1)[1].replace(",", ""))
    cost = float(out.split("cost $")[1].split(" (2 USD per chip-hour, as given)")[0].replace(",", ""))
    assert cost == pytest.approx(2 * hours, abs=2)
    assert main(argv + ["--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    # list price 33,800 USD over 5 x 8,760 h
    chip_hours = float(rows[0]["time_to_train_days"]) * 24 * 64
    assert float(rows[0]["cost_usd"]) == pytest.approx(chip_hours * 33_800 / (5 * 8760), rel=1e-3)
    assert main(argv + ["--price-per-chip-hour", "0"]) == 1
    assert "leave it out for the list price over 5 years" in capsys.readouterr().err


@pytest.mark.parametrize("flags, changed", [
    (["--recompute", "full"], {"recompute": "full"}),
    (["--zero", "2"], {"zero_stage": 2}),
    (["--tp", "4", "--pp", "4"], {"tp": 4, "pp": 4}),   # dp follows: 64 / (4 x 4 x 1) = 4
    (["--micro-batch", "2"], {"micro_batch": 2}),
])
def test_one_layout_flag_changes_that_field_of_the_saved_fixed_layout(capsys, saved_store, flags, changed):
    """QA s29: `--scenario` with `--recompute full` searched every other field (TP8 PP4 VPP2 came back
    TP2 PP8 VPP5 CP2); the help says flags override the study, so the rest of its layout stays."""
    code, data, _ = run_json(capsys, "train", "--db", saved_store, "--scenario", "with training", *flags)
    assert code == 0 and "top" not in data   # one layout evaluated, not a search
    saved = {"tp": 8, "pp": 2, "cp": 1, "vpp": 1, "dp": 4, "micro_batch": 1, "zero_stage": 1, "recompute": "selective"}
    expected = {**saved, **changed}
    assert {k: data["layout"][k] for k in expected} == expected
