"""`fleetcast calibrate`: fit a chip's factors to one's own runs, report, and optionally keep them."""

import csv
import json

import pytest

from engine.cli import main


def write_ascend_runs(shared_dir, path, count):
    """The first `count` public 910B2 throughput runs as a case file at `path`."""
    with open(shared_dir / "validation" / "training_public.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if r["chip"] == "ascend-910b2" and r["metric"] == "tokens_per_s_per_chip"][:count]
        fields = reader.fieldnames
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def ascend_runs(tmp_path, shared_dir):
    return write_ascend_runs(shared_dir, tmp_path / "my_runs.csv", 12)


def test_calibrate_training_reports_and_saves(capsys, tmp_path, ascend_runs):
    db = str(tmp_path / "c.db")
    assert main(["--db", db, "calibrate", "training", "--cases", str(ascend_runs), "--chip", "ascend-910b2",
                 "--format", "json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["saved"] is False and dry["summary"]["cases"] == 12
    names = [f["factor"] for f in dry["factors"]]
    assert names == ["train_gemm_eff", "train_attn_eff", "train_hbm_eff", "train_scaleup_eff"]
    main(["--db", db, "chips", "list", "--format", "json"])
    before = next(c for c in json.loads(capsys.readouterr().out) if c["id"] == "ascend-910b2")["calibration"]
    assert main(["--db", db, "calibrate", "training", "--cases", str(ascend_runs), "--chip", "ascend-910b2",
                 "--save", "--format", "json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    main(["--db", db, "chips", "list", "--format", "json"])
    after = next(c for c in json.loads(capsys.readouterr().out) if c["id"] == "ascend-910b2")["calibration"]
    for factor in saved["factors"]:
        assert after[factor["factor"]] == pytest.approx(factor["fitted"])
        assert factor["before"] == pytest.approx(before[factor["factor"]])


def test_calibrate_refuses_a_file_without_the_chip_and_unknown_factors(capsys, ascend_runs):
    assert main(["calibrate", "training", "--cases", str(ascend_runs), "--chip", "h100-sxm5-80gb"]) == 1
    assert "no rows with chip 'h100-sxm5-80gb'" in capsys.readouterr().err
    assert main(["calibrate", "training", "--cases", str(ascend_runs), "--chip", "ascend-910b2",
                 "--factors", "bogus"]) == 1
    assert "'bogus' is not a training factor" in capsys.readouterr().err


def test_calibrate_refuses_a_file_of_the_other_kind_and_saves_nothing(capsys, tmp_path, ascend_runs, shared_dir):
    """Training runs given as serving runs fit nothing: refused in one line, and --save writes no
    'fitted' factor (it used to store the unchanged defaults labelled as fitted)."""
    db = str(tmp_path / "k.db")
    assert main(["--db", db, "calibrate", "inference", "--cases", str(ascend_runs), "--chip", "ascend-910b2",
                 "--save"]) == 1
    assert "not an inference cases file: missing column(s) scenario, input_len, output_len" in capsys.readouterr().err
    from engine.store import open_store

    store = open_store(db)
    try:
        assert not [r for r in store.calibration_rows("ascend-910b2") if "fitted to" in str(r.get("note", ""))]
    finally:
        store.close()
    # and the other way round: serving rows are not training runs
    serving = str(shared_dir / "validation" / "inference_public.csv")
    assert main(["--db", db, "validate", "training", "--cases", serving]) == 1
    assert "not a training cases file" in capsys.readouterr().err


def test_a_factor_the_fit_puts_on_its_bound_is_held_and_the_rest_refitted(capsys, tmp_path, shared_dir):
    """All 38 public 910B runs put train_hbm_eff on its 0.5 bound (11.53% -> 12.04%), so README's
    `calibrate ... --save` was refused for any 910B file (QA: 10% slower runs too). The factor on
    its bound keeps its value and is not saved; the other three are fitted with it there."""
    from tests.case_files import write_cases

    db = str(tmp_path / "w.db")
    cases = str(shared_dir / "validation" / "training_public.csv")
    assert main(["--db", db, "calibrate", "training", "--cases", cases, "--chip", "ascend-910b2",
                 "--format", "json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    s = dry["summary"]
    assert s["median_abs_error_pct_before"] == pytest.approx(11.53, abs=0.01)
    # the fit lowers what it minimises (the trust-weighted Huber loss with the prior); the median
    # it also reports may rise (11.53% -> 12.11% here, s27): said, both figures
    assert s["objective_after"] < s["objective_before"]
    assert s["median_abs_error_pct_after"] <= s["median_abs_error_pct_before"] or \
        any(w.startswith("the median error rises (11.53% -> ") for w in dry["warnings"])
    hbm = next(f for f in dry["factors"] if f["factor"] == "train_hbm_eff")
    assert hbm["fitted"] == hbm["before"] and hbm["held"] == "fit on its bound (0.5, 0.95)"
    assert any(w.startswith("train_hbm_eff: held at 0.5748, not fitted") for w in dry["warnings"])
    slower = write_cases(cases, tmp_path / "slower.csv", lambda r: r["chip"] == "ascend-910b2",
                         lambda r: r.update(value=f"{float(r['value']) * (1 / 0.9 if r['metric'] == 'step_time_s' else 0.9):g}"))
    assert main(["--db", db, "calibrate", "training", "--cases", str(slower), "--chip", "ascend-910b2", "--save",
                 "--format", "json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["saved"] and saved["summary"]["median_abs_error_pct_after"] < saved["summary"]["median_abs_error_pct_before"]
    main(["--db", db, "chips", "list", "--format", "json"])
    stored = next(c for c in json.loads(capsys.readouterr().out) if c["id"] == "ascend-910b2")["calibration"]
    fitted = {f["factor"]: f["fitted"] for f in saved["factors"] if not f["held"]}
    assert set(fitted) == {"train_gemm_eff", "train_attn_eff", "train_scaleup_eff"}
    assert {n: stored[n] for n in fitted} == pytest.approx(fitted) and fitted["train_gemm_eff"] < 0.59


def test_a_fit_worse_than_the_current_factors_is_not_saved(capsys, tmp_path, ascend_runs, monkeypatch):
    """The fit's loss (Huber, trust-weighted, pulled to the prior) is not the median it reports: a fit
    that moves the median the wrong way is refused, and nothing is stored."""
    from dataclasses import replace

    import engine.calibration as calibration

    real = calibration.calibrate_training
    monkeypatch.setattr(calibration, "calibrate_training", lambda *a, **k: replace(
        real(*a, **k), objective_after=99.0))
    db = str(tmp_path / "w.db")
    assert main(["--db", db, "calibrate", "training", "--cases", str(ascend_runs), "--chip", "ascend-910b2",
                 "--save"]) == 1
    assert "not saved: the fit scores worse than the current factors" in capsys.readouterr().err
    main(["--db", db, "chips", "list", "--format", "json"])
    assert not any(n.startswith("train_") and "fitted to" in str(v) for c in json.loads(capsys.readouterr().out)
                   if c["id"] == "ascend-910b2" for n, v in c["calibration"].items())


def test_factor_lists_are_names_once_and_a_refused_save_still_shows_the_fit(capsys, tmp_path, ascend_runs, shared_dir):
    from tests.case_files import write_cases

    assert main(["calibrate", "training", "--cases", str(ascend_runs), "--chip", "ascend-910b2", "--factors", ""]) == 1
    assert "--factors '': no factor names" in capsys.readouterr().err
    assert main(["calibrate", "training", "--cases", str(ascend_runs), "--chip", "ascend-910b2", "--format", "json",
                 "--factors", "train_gemm_eff,train_gemm_eff"]) == 0
    assert [f["factor"] for f in json.loads(capsys.readouterr().out)["factors"]] == ["train_gemm_eff"]
    # a factor without a documented range is not fitted at all (an expert imbalance of 1.97 taken
    # from 2 MoE rows among 36 dense ones was saved)
    assert main(["calibrate", "training", "--cases", str(ascend_runs), "--chip", "ascend-910b2",
                 "--factors", "train_moe_imbalance"]) == 1
    assert "'train_moe_imbalance' has no documented range to fit within" in capsys.readouterr().err
    db = str(tmp_path / "r.db")
    # runs 20% slower than the public ones: GEMM held on its bound, then scale-up lands on its own
    slow = write_cases(shared_dir / "validation" / "training_public.csv", tmp_path / "slow.csv",
                       lambda r: r["chip"] == "ascend-910b2",
                       lambda r: r.update(value=f"{float(r['value']) * (1.25 if r['metric'] == 'step_time_s' else 0.8):g}"))
    assert main(["--db", db, "calibrate", "training", "--cases", str(slow), "--chip", "ascend-910b2", "--save",
                 "--format", "json"]) == 1
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert shown["saved"] is False and any("prior bound" in w for w in shown["warnings"])
    assert "is on its prior bound" in err


def test_a_fit_that_still_misses_its_runs_by_half_is_not_saved(capsys, tmp_path, shared_dir):
    """QA: one factor (step overhead) took a 3x slowdown of the H100 runs as 1.7 s a step, left a
    125% median error, and was saved."""
    from tests.case_files import write_cases

    path = write_cases(shared_dir / "validation" / "training_public.csv", tmp_path / "slow.csv",
                       lambda r: r["chip"] == "h100-sxm5-80gb" and r["metric"] == "tokens_per_s_per_chip",
                       lambda r: r.update(value=f"{float(r['value']) / 3:g}"), limit=20)
    code = main(["--db", str(tmp_path / "c.db"), "calibrate", "training", "--cases", str(path), "--chip",
                 "h100-sxm5-80gb", "--factors", "train_step_overhead_s", "--save"])
    err = capsys.readouterr().err
    assert code == 1 and "not saved: the fit still misses these runs by" in err
    assert "RuntimeWarning" not in err


def test_a_saved_fit_can_be_reset_to_the_packaged_factors(capsys, tmp_path, ascend_runs):
    """A --save had no way back short of a backup: --reset removes this database's factors of the
    kind for the chip, says which (with their values), and the packaged ones apply again."""
    db = str(tmp_path / "r.db")
    main(["--db", db, "chips", "list", "--format", "json"])
    packaged = next(c for c in json.loads(capsys.readouterr().out) if c["id"] == "ascend-910b2")["calibration"]
    assert main(["--db", db, "calibrate", "training", "--cases", str(ascend_runs), "--chip", "ascend-910b2",
                 "--save", "--format", "json"]) == 0
    saved = {f["factor"]: f["fitted"] for f in json.loads(capsys.readouterr().out)["factors"]}
    assert main(["--db", db, "calibrate", "training", "--chip", "ascend-910b2", "--reset", "--format", "json"]) == 0
    removed = {r["factor"]: r["removed_value"] for r in json.loads(capsys.readouterr().out)["removed"]}
    assert removed == pytest.approx(saved)
    main(["--db", db, "chips", "list", "--format", "json"])
    after = next(c for c in json.loads(capsys.readouterr().out) if c["id"] == "ascend-910b2")["calibration"]
    assert after == pytest.approx(packaged)
    assert main(["--db", db, "calibrate", "training", "--chip", "ascend-910b2", "--reset"]) == 0
    assert "nothing to remove" in capsys.readouterr().out
    assert main(["--db", db, "calibrate", "training", "--chip", "ascend-910b2"]) == 1
    assert "--cases FILE.csv" in capsys.readouterr().err
