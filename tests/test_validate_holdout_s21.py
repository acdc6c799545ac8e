"""`validate --holdout source` on a small file (QA s21): a fold refitted 4 factors to whatever
was left (BLOOM predicted +95.5% from factors fitted to one DeepSeek-V2 H800 run) without a
word. A family whose fold has fewer runs than factors is predicted at the documented default
factors (never the current ones, which may be a fit to the held-out rows: QA s26), said once per
fold. And a ';'-separated cases file is named as such, as `chips import` names it."""

import csv
import json

import pytest

from engine.cli import main

THIN = ("BLOOM-176B-2", "GPTNEOX-20B", "DEEPSEEK-V2")   # 2 A100 sources, 1 Hopper: every fold thin


def _cases(shared_dir, tmp_path, ids, name="cases.csv", delimiter=","):
    path = shared_dir / "validation" / "training_public.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), [r for r in reader if r["id"] in ids]
    assert len(rows) == len(ids)
    out = tmp_path / name
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return str(out)


def _validate(tmp_path, capsys, path, *extra):
    code = main(["--db", str(tmp_path / "v.db"), "validate", "training", "--cases", path, "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_a_fold_with_fewer_runs_than_factors_predicts_at_the_documented_defaults(shared_dir, tmp_path, capsys):
    from engine.calibration import prior_chips
    from engine.catalog import reference_chips
    from engine.validation import read_cases_csv, validate_case

    path = _cases(shared_dir, tmp_path, THIN)
    defaults = prior_chips(reference_chips())
    expected = {r["id"]: validate_case(r, defaults)["predicted"] for r in read_cases_csv(path)}
    held = _validate(tmp_path, capsys, path, "--holdout", "source")
    assert {c["id"]: c["predicted"] for c in held["cases"]} == pytest.approx(expected, rel=1e-12)
    assert all(c["message"].startswith("default factors, none fitted (too few runs left to refit)") for c in held["cases"])
    notes = held["summary"]["notes"]
    assert len(notes) == 3   # one per fold
    bloom = next(n for n in notes if n.startswith("fold 'BigScience"))
    assert bloom.endswith(": 1 a100 run left for 4 factors; predicted at the documented default factors")
    deepseek = next(n for n in notes if n.startswith("fold 'DeepSeek"))
    assert deepseek.endswith(": 2 runs left for 4 factors, none of them hopper; predicted at the documented "
                             "default factors")


def test_a_fold_with_enough_runs_is_still_refitted(shared_dir, tmp_path, capsys):
    """5 vTrain A100 runs fit BLOOM's fold; the Ascend row, with no 910B run left, gets the fit
    over every other run (as the public file's ModelLink fold always did), and says so."""
    ids = ("VTRAIN-GT-001", "VTRAIN-GT-004", "VTRAIN-GT-006", "VTRAIN-GT-007", "VTRAIN-GT-009",
           "BLOOM-176B-2", "MODELLINK-NPU-03")
    path = _cases(shared_dir, tmp_path, ids)
    in_sample = {c["id"]: c["predicted"] for c in _validate(tmp_path, capsys, path)["cases"]}
    held = _validate(tmp_path, capsys, path, "--holdout", "source")
    cases = {c["id"]: c for c in held["cases"]}
    assert cases["BLOOM-176B-2"]["predicted"] != pytest.approx(in_sample["BLOOM-176B-2"], rel=1e-6)
    assert not cases["BLOOM-176B-2"]["message"].startswith("default factors, none fitted")
    assert cases["VTRAIN-GT-001"]["message"].startswith("default factors, none fitted")   # 1 A100 run left
    notes = held["summary"]["notes"]
    assert len(notes) == 2
    assert any(n.startswith("fold 'Huawei") and n.endswith(": no ascend-910b run left; fitted to the other "
                                                           "families' 6 runs") for n in notes)
    assert any(n.startswith("fold 'Bang") and ": 1 a100 run left for 4 factors" in n for n in notes)


@pytest.mark.parametrize("command", [["validate", "training"], ["validate", "inference"],
                                     ["calibrate", "training", "--chip", "a100-sxm4-80gb"]])
def test_a_semicolon_separated_cases_file_is_named_as_such(shared_dir, tmp_path, capsys, command):
    path = _cases(shared_dir, tmp_path, THIN, name="semi.csv", delimiter=";")
    code = main(["--db", str(tmp_path / "v.db"), *command, "--cases", path])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip() == (f"fleetcast: error: {path} header: the columns are separated by semicolons; save the "
                           "file as comma-separated CSV (UTF-8)")


def test_the_table_says_which_folds_were_not_refitted(shared_dir, tmp_path, capsys):
    cases = _cases(shared_dir, tmp_path, THIN)
    code = main(["--db", str(tmp_path / "t.db"), "validate", "training", "--cases", cases, "--holdout", "source"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("note: fold '") >= 2 and "predicted at the documented default factors" in out


def test_the_holdout_line_gives_the_in_sample_figure_beside_the_out_of_sample_one(shared_dir, tmp_path, capsys):
    """QA s34: README states out of sample with in sample beside it; the table printed only the
    out-of-sample figures (in sample was in the JSON alone)."""
    import json

    cases = _cases(shared_dir, tmp_path, THIN)
    db = str(tmp_path / "t.db")
    assert main(["--db", db, "--format", "json", "validate", "training", "--cases", cases, "--holdout", "source"]) == 0
    s = json.loads(capsys.readouterr().out)["summary"]
    assert main(["--db", db, "validate", "training", "--cases", cases, "--holdout", "source"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    out_of, ins = s["overall"], s["in_sample"]
    assert first.startswith("out of sample (leave one source out): ")
    assert f"median |error| {out_of['median_abs_error_pct']:.1f}%" in first.split("; with the current")[0]
    assert first.endswith(f"; with the current factors (in sample for the public cases they were fitted on): "
                          "median |error| "
                          f"{ins['median_abs_error_pct']:.1f}%, p90 {ins['p90_abs_error_pct']:.1f}%")
