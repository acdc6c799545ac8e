"""`validate`: rows that can't be what ran are errors naming their field, a repeated id is not
scored twice, and both kinds summarise their statuses under the same key."""

import csv
import json

from engine.cli import main


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def test_impossible_layout_fields_and_repeated_ids(tmp_path, capsys, shared_dir):
    with open(shared_dir / "validation" / "training_public.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if r["zero_stage"] and r["num_chips"] and r["tp"]][:2]
        header = reader.fieldnames
    bad_zero = {**rows[0], "id": "ZERO-7", "zero_stage": "7"}
    no_chips = {**rows[0], "id": "CHIPS-0", "num_chips": "0"}
    half_tp = {**rows[0], "id": "TP-1.5", "tp": "1.5"}
    path = _write(tmp_path / "cases.csv", header, rows + [dict(rows[0]), bad_zero, no_chips, half_tp])
    assert main(["--db", str(tmp_path / "v.db"), "validate", "training", "--cases", path, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    by_id = {}
    for c in d["cases"]:
        by_id.setdefault(c["id"], []).append(c)
    first = by_id[rows[0]["id"]]
    assert [c["status"] for c in first] == ["ok", "error"] and "repeats row 2" in first[1]["message"]
    assert by_id["ZERO-7"][0]["status"] == "error" and "zero_stage: 7 (0 to 3)" in by_id["ZERO-7"][0]["message"]
    assert "num_chips: 0 (at least 1" in by_id["CHIPS-0"][0]["message"]
    assert "tp: '1.5' is not a whole number" in by_id["TP-1.5"][0]["message"]
    assert d["summary"]["by_status"] == d["summary"]["counts"] == {"ok": 2, "infeasible": 0, "error": 4}


def test_holdout_needs_two_sources_and_in_sample_says_what_it_is(tmp_path, capsys, shared_dir):
    """QA: with the source column blank, "--holdout source" made one fold with nothing fitted and
    still printed "out of sample (leave one source out)"; the plain run did not say in sample."""
    from engine.cli import main

    from tests.case_files import write_cases

    path = write_cases(shared_dir / "validation" / "training_public.csv", tmp_path / "blank.csv",
                       lambda r: True, lambda r: r.update(source=""), limit=12)
    db = str(tmp_path / "v.db")
    assert main(["--db", db, "validate", "training", "--cases", str(path), "--holdout", "source"]) == 1
    assert "--holdout source needs cases from at least 2 sources" in capsys.readouterr().err
    assert main(["--db", db, "validate", "training", "--cases", str(path)]) == 0
    assert capsys.readouterr().out.startswith("with the current factors (in sample for the public cases")


def test_a_column_given_twice_is_refused(tmp_path, capsys, shared_dir):
    """QA: a second `tp` column of 1s silently replaced the run's tp (median 16% -> 32%)."""
    from engine.cli import main

    text = (shared_dir / "validation" / "training_public.csv").read_text(encoding="utf-8").splitlines()
    head = text[0] + ",TP"
    body = [line + ",1" for line in text[1:6]]
    path = tmp_path / "dup.csv"
    path.write_text("\n".join([head] + body) + "\n", encoding="utf-8")
    assert main(["--db", str(tmp_path / "v.db"), "validate", "training", "--cases", str(path)]) == 1
    assert "column 'tp' appears twice" in capsys.readouterr().err


def test_a_training_rows_params_b_is_read(tmp_path, capsys, shared_dir):
    """`params_b` was never read in a training file: "abc", "-5" or 10x passed with the row 'ok'
    (the inference reader refused them; QA s39). A bad value is the row's error; a good one
    changes nothing (the architecture columns give the parameters)."""
    with open(shared_dir / "validation" / "training_public.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        row = next(r for r in reader if r["params_b"])
        header = reader.fieldnames
    rows = [{**row, "id": "PB-ABC", "params_b": "abc"}, {**row, "id": "PB-NEG", "params_b": "-5"},
            {**row, "id": "PB-10X", "params_b": str(10 * float(row["params_b"]))}, {**row, "id": "PB-OK"}]
    path = _write(tmp_path / "cases.csv", header, rows)
    assert main(["--db", str(tmp_path / "v.db"), "validate", "training", "--cases", path, "--format", "json"]) == 0
    by_id = {c["id"]: c for c in json.loads(capsys.readouterr().out)["cases"]}
    assert by_id["PB-ABC"]["status"] == "error" and "params_b: 'abc' is not a number" in by_id["PB-ABC"]["message"]
    assert by_id["PB-NEG"]["status"] == "error" and "params_b: '-5'" in by_id["PB-NEG"]["message"]
    assert by_id["PB-10X"]["predicted"] == by_id["PB-OK"]["predicted"]
