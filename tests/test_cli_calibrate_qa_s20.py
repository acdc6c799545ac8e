"""QA session 20: `calibrate` and repeated rows; durations in the no-progress message."""

import csv
import json

import pytest

from engine.cli import main


def write_copies(source, path, run_id, copies, extra_filter=None):
    """A cases file holding the row `run_id` of `source` `copies` times (plus the rows
    `extra_filter` picks, once each, after them)."""
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        fields = reader.fieldnames
    run = next(r for r in rows if r["id"] == run_id)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows([run] * copies + [r for r in rows if extra_filter and extra_filter(r)])
    return str(path)


def stored_fits(capsys, db, chip_id):
    """The factors this database stores as fitted for `chip_id`."""
    main(["--db", db, "chips", "list", "--format", "json"])
    calibration = next(c for c in json.loads(capsys.readouterr().out) if c["id"] == chip_id)["calibration"]
    from engine.store import open_store

    store = open_store(db)
    try:
        return [r for r in store.calibration_rows(chip_id) if "fitted to" in str(r.get("note", ""))], calibration
    finally:
        store.close()


def test_calibrate_training_counts_a_repeated_run_once_and_saves_nothing(capsys, tmp_path, shared_dir):
    """QA: 4 copies of one 910B run were "4 measured runs" and 3 factors fitted to the one
    measurement were saved, where `validate` refuses the copies. Now they are dropped as validate
    drops them: 1 run, every factor held, the copies named, and --save refused."""
    cases = write_copies(shared_dir / "validation" / "training_public.csv", tmp_path / "dup.csv",
                         "MODELLINK-NPU-01", 4)
    db = str(tmp_path / "d.db")
    assert main(["--db", db, "calibrate", "training", "--cases", cases, "--chip", "ascend-910b2",
                 "--format", "json"]) == 1   # nothing fitted from one run: exit 1
    dry = json.loads(capsys.readouterr().out)
    assert dry["summary"]["cases"] == 1 and not any(f["constrained"] for f in dry["factors"])
    assert [r["message"][:6] for r in dry["rows_not_fitted"]] == ["row 3:", "row 4:", "row 5:"]
    assert all("repeats row 2 (each measured run needs its own id)" in r["message"] and r["status"] == "error"
               for r in dry["rows_not_fitted"])
    assert "not fitted: row 3: id 'MODELLINK-NPU-01'" in " ".join(dry["warnings"])
    assert main(["--db", db, "calibrate", "training", "--cases", cases, "--chip", "ascend-910b2", "--save"]) == 1
    err = capsys.readouterr().err
    # the reason names the copy once, validate's words, no "row ID: row 3:"
    assert "not saved: 3 row(s) of the file can't be used (row 3: id 'MODELLINK-NPU-01' with metric" in err
    assert "row 4: id" in err and "row 5: id" in err and "row MODELLINK-NPU-01: row" not in err
    assert stored_fits(capsys, db, "ascend-910b2")[0] == []
    # validate says the same of the same file
    main(["--db", db, "validate", "training", "--cases", cases, "--format", "json"])
    validated = json.loads(capsys.readouterr().out)
    assert [c["message"] for c in validated["cases"] if c["status"] == "error"] == [
        r["message"] for r in dry["rows_not_fitted"]]


def test_calibrate_training_names_a_copy_among_distinct_runs(capsys, tmp_path, shared_dir):
    """One run repeated among 11 others: 12 runs fitted (the copy not counted), the copy named."""
    public = shared_dir / "validation" / "training_public.csv"
    with open(public, newline="", encoding="utf-8") as handle:
        ids = [r["id"] for r in csv.DictReader(handle)
               if r["chip"] == "ascend-910b2" and r["metric"] == "tokens_per_s_per_chip"][:12]
    cases = write_copies(public, tmp_path / "one_copy.csv", ids[0], 1, lambda r: r["id"] in ids)
    assert main(["--db", str(tmp_path / "o.db"), "calibrate", "training", "--cases", cases, "--chip", "ascend-910b2",
                 "--format", "json"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["summary"]["cases"] == 12
    assert len(dry["rows_not_fitted"]) == 1
    assert dry["rows_not_fitted"][0]["message"].startswith(f"row 3: id '{ids[0]}' with metric 'tokens_per_s_per_chip'")


def test_calibrate_inference_counts_a_repeated_run_once_and_saves_nothing(capsys, tmp_path, shared_dir):
    """The serving fit counted 5 copies of one 910B run as 5 runs and saved 3 factors."""
    public = shared_dir / "validation" / "inference_public.csv"
    with open(public, newline="", encoding="utf-8") as handle:
        run_id = next(r["id"] for r in csv.DictReader(handle) if r["chip"] == "ascend-910b2")
    cases = write_copies(public, tmp_path / "idup.csv", run_id, 5)
    db = str(tmp_path / "i.db")
    assert main(["--db", db, "calibrate", "inference", "--cases", cases, "--chip", "ascend-910b2", "--save",
                 "--format", "json"]) == 1
    out, err = capsys.readouterr()
    refused = json.loads(out)
    assert refused["saved"] is False and refused["summary"]["cases"] == 1
    assert len(refused["rows_not_fitted"]) == 4 and "1 of 1 runs depend on it" in err
    assert f"can't be used (row 3: id '{run_id}' with metric" in err
    assert stored_fits(capsys, db, "ascend-910b2")[0] == []


def test_a_copy_under_another_chip_leaves_no_row_and_says_why(capsys, tmp_path, shared_dir):
    """The only row of the chip repeats another chip's id and metric: not "no rows with chip"
    alone, but the repeat that removed it."""
    public = shared_dir / "validation" / "training_public.csv"
    with open(public, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        fields = reader.fieldnames
    first = next(r for r in rows if r["chip"] == "ascend-910b2")
    other = {**first, "chip": "h100-sxm5-80gb"}
    path = tmp_path / "cross.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows([other, first])
    assert main(["calibrate", "training", "--cases", str(path), "--chip", "ascend-910b2"]) == 1
    err = capsys.readouterr().err
    assert "no rows with chip 'ascend-910b2' to calibrate on (row 3: id" in err and "repeats row 2" in err


@pytest.mark.parametrize("seconds, text", [
    (0.0, "0 s"), (0.11, "0.11 s"), (5.23, "5.2 s"), (45.3, "45 s"), (59.96, "1 min"), (91.2, "1.5 min"),
    (252.0, "4.2 min"), (600.0, "10 min"), (11_160.0, "3.1 h"), (360_000.0, "100 h"), (1e9, "277,778 h"),
])
def test_duration_text_picks_its_unit_by_size(seconds, text):
    from engine.reliability import duration_text

    assert duration_text(seconds) == text


def test_no_progress_message_shows_sub_second_figures(capsys, tmp_path):
    """QA: "plus 0.0 min of lost work, and a checkpoint takes 0.0 min" for a 0.11 s checkpoint."""
    argv = ["--db", str(tmp_path / "t.db"), "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb",
            "--chips", "64", "--tp", "1", "--pp", "1", "--dp", "64", "--cp", "1", "--vpp", "1", "--micro-batch", "1",
            "--zero", "1", "--recompute", "selective", "--global-batch", "256", "--tokens", "1e12",
            "--mtbf-chip-hours", "1"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "0.0 min" not in err
    assert "between failures 56 s (1 chip-hours" in err and "costs 10 min of restart plus 1.8 s of lost work" in err
    assert "a checkpoint takes 0.11 s." in err
