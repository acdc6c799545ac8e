"""QA s29: `calibrate` on a user's own runs says what it did not fit and why, on every format.

1. an engine no family has ('mindei') is named (file, row, value, nearest known family) and its
   runs are not saved as the generic family's factors;
2. csv and json print the same notices as the table, on stderr, one line each;
3. a factor held on its bound says only that (not "3 runs per factor are needed" of 34 runs);
4. after a save that held a factor at the generic value, the figures still say which factors are
   generic.
"""

import csv
import io
import json

import resources
from engine.calibration import uncalibrated_note
from engine.catalog import calibration_rows, chip_from_row, read_csv_rows, resolve_calibration
from tests.case_files import write_cases, write_chips_csv
from tests.cli_run import run_cli

CHIP = "ascend-910b2"
COLUMNS = ["factor", "before", "fitted", "prior_low", "prior_high", "on_bound", "constrained", "held"]


def _public(shared_dir, kind: str):
    return shared_dir / "validation" / f"{kind}_public.csv"


def _mindie_runs(shared_dir, path, engine):
    """The public 910B2 MindIE runs (10) with their engine column rewritten by `engine(old)`."""
    def change(row):
        row["engine"] = engine(row["engine"])
        row["source"] = "MyLab serving"

    return write_cases(_public(shared_dir, "inference"), path,
                       lambda r: r["chip"] == CHIP and r["engine"].startswith("mindie"), change)


def _npu_runs(shared_dir, path, scale: float, chip: str = CHIP):
    """The public 910B2 throughput runs with a layout (34), `scale` times the measured value, on `chip`."""
    def change(row):
        row["value"] = f"{float(row['value']) * scale:.1f}"
        row["chip"], row["trust"], row["source"] = chip, "high", "MyLab 2026"

    return write_cases(_public(shared_dir, "training"), path,
                       lambda r: r["chip"] == CHIP and r["metric"] == "tokens_per_s_per_chip" and r["tp"], change)


# ---- 1: a misspelt engine -----------------------------------------------------------------------

def test_a_misspelt_engine_is_named_and_its_fit_is_not_saved(capsys, tmp_path, shared_dir):
    """QA: MindIE runs written as 'mindei' were fitted as inf_*@generic and "saved", no word said;
    `serve --engine mindie` was unchanged while the user believed it calibrated."""
    db = str(tmp_path / "t.db")
    cases = _mindie_runs(shared_dir, tmp_path / "typo.csv", lambda e: e.replace("mindie", "mindei"))
    code, out, err = run_cli(capsys, "--db", db, "calibrate", "inference", "--cases", str(cases), "--chip", CHIP)
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("warning: ") and "mindei" in x)
    # the file, the first row (row 2 is the first after the header) and its id, the value, the hint
    assert line.startswith(f"warning: {cases}, row 2 (inf-R1209) and 9 more: engine 'mindei@2.1rc1' not recognised "
                           "(nearest known: mindie): these runs are fitted as the generic family, which "
                           "`serve --engine mindie` never reads")
    assert "--save would be refused: row 2 (inf-R1209) and 9 more: engine 'mindei@2.1rc1'" in out.splitlines()[0]

    code, out, err = run_cli(capsys, "--db", db, "calibrate", "inference", "--cases", str(cases), "--chip", CHIP,
                             "--save")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(f"fleetcast: error: {cases}: not saved: row 2 (inf-R1209) and 9 more: engine "
                          "'mindei@2.1rc1' not recognised (nearest known: mindie)")
    code, out, _ = run_cli(capsys, "--db", db, "calibrate", "inference", "--chip", CHIP, "--show")
    assert code == 0 and out.startswith(f"this database stores no inference factors for {CHIP}")


def test_an_engine_the_user_names_is_saved_as_its_family(capsys, tmp_path, shared_dir):
    """The user says what the runs are by writing a known name: `generic` saves the generic
    family's factors, `mindie` MindIE's; neither is refused or warned about."""
    for engine, family in (("generic", "generic"), ("mindie", "mindie")):
        db = str(tmp_path / f"{engine}.db")
        cases = _mindie_runs(shared_dir, tmp_path / f"{engine}.csv", lambda e, name=engine: name)
        code, out, err = run_cli(capsys, "--db", db, "calibrate", "inference", "--cases", str(cases), "--chip", CHIP,
                                 "--save")
        assert code == 0, err
        assert "saved to the database" in out.splitlines()[0] and "not recognised" not in out
        code, out, _ = run_cli(capsys, "--db", db, "--format", "json", "calibrate", "inference", "--chip", CHIP,
                               "--show")
        stored = [r["factor"] for r in json.loads(out)["stored"]]
        assert stored and all(f.endswith(f"@{family}") for f in stored), stored


def test_no_hint_where_no_name_is_near(capsys, tmp_path, shared_dir):
    cases = _mindie_runs(shared_dir, tmp_path / "odd.csv", lambda e: "inhouse-server")
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "o.db"), "--format", "csv", "calibrate", "inference",
                             "--cases", str(cases), "--chip", CHIP)
    assert code == 0, err
    assert (f"fleetcast: note: {cases}: --save would be refused: row 2 (inf-R1209) and 9 more: engine 'inhouse-server' "
            "not recognised: these runs are fitted as the generic family; correct the engine column (one of vllm, "
            "sglang, trtllm, vllm-ascend, mindie, tgi, generic)") in err
    assert "nearest" not in err and "never reads" not in err


# ---- 2: csv and json say what the table says ----------------------------------------------------

def _training_cases_with_bad_rows(shared_dir, path):
    """Nine public 910B2 runs and three rows no run can be made of: one not a number, one for a chip
    no catalog has, one with an unknown metric (as the QA file, train_cases.csv)."""
    good = {f"MODELLINK-NPU-{n:02d}" for n in (1, 3, 5, 6, 14, 21, 26, 30, 49)}
    with open(_public(shared_dir, "training"), newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames or [], [r for r in reader if r["id"] in good]
    base = rows[0]
    rows += [{**base, "id": "BAD-NONNUMVAL", "value": "fast"}, {**base, "id": "BAD-UNKCHIP", "chip": "ascend-910x"},
             {**base, "id": "BAD-METRIC", "metric": "tflops"}]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_csv_and_json_print_the_tables_notices_on_stderr(capsys, tmp_path, shared_dir):
    """QA: `--format csv` printed the factor table alone: nothing of the rows not fitted, of
    train_hbm_eff held on its bound, nor that --save would be refused."""
    db = str(tmp_path / "c.db")
    cases = str(_training_cases_with_bad_rows(shared_dir, tmp_path / "train.csv"))
    argv = ["calibrate", "training", "--cases", cases, "--chip", CHIP]
    code, table, err = run_cli(capsys, "--db", db, *argv)
    assert code == 0 and err == ""
    said = [x[len("warning: "):] for x in table.splitlines() if x.startswith("warning: ")]
    refusal = table.splitlines()[0].split("; --save would be refused: ", 1)[1]
    assert refusal == "3 row(s) of the file can't be used (row 12 (BAD-UNKCHIP): chip: 'ascend-910x' not in the catalog); fix or remove them"
    assert any(s.startswith("train_hbm_eff: held at 0.5748, not fitted (fit on its bound (0.5, 0.95)") for s in said)

    code, out, err = run_cli(capsys, "--db", db, "--format", "csv", *argv)
    assert code == 0
    # stdout: the factor table as before, a header and a row per factor asked for
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == COLUMNS and [r["factor"] for r in rows] == [
        "train_gemm_eff", "train_attn_eff", "train_hbm_eff", "train_scaleup_eff"]
    assert next(r for r in rows if r["factor"] == "train_hbm_eff")["held"] == "fit on its bound (0.5, 0.95)"
    lines = err.splitlines()
    assert lines[0] == f"fleetcast: note: {cases}: --save would be refused: {refusal}"
    # every warning of the table, once each, a line each; the row the refusal names is not repeated
    assert lines[1:] == [f"fleetcast: warning: {s}" for s in said if not s.startswith("row 12 (BAD-UNKCHIP)")]
    assert "fleetcast: warning: row 11 (BAD-NONNUMVAL): not fitted, error (value: 'fast' is not a number)" in lines

    code, out, err_json = run_cli(capsys, "--db", db, "--format", "json", *argv)
    assert code == 0 and err_json == err
    data = json.loads(out)
    assert data["saved"] is False and [r["factor"] for r in data["factors"]] == [r["factor"] for r in rows]
    assert len(data["rows_not_fitted"]) == 3
    # (s34) each factor with its documented prior range, and whether it sits on it: the range was
    # only in the on-bound warning
    from engine.calibration import TRAINING_BOUNDS

    for r in data["factors"]:
        assert (r["prior_low"], r["prior_high"]) == tuple(TRAINING_BOUNDS[r["factor"]])
        edges = (r["prior_low"], r["prior_high"])
        assert r["on_bound"] == (r["constrained"] and any(abs(r["fitted"] - e) <= 1e-3 * e for e in edges))
    assert {r["factor"]: r["on_bound"] for r in rows} == {r["factor"]: str(r["on_bound"]) for r in data["factors"]}


def test_csv_of_a_fit_that_would_save_says_its_warnings_alone(capsys, tmp_path, shared_dir):
    """34 runs 5% slower: a --save would be taken, with train_hbm_eff held on its bound; csv says
    that line on stderr (it said nothing) and no refusal."""
    cases = str(_npu_runs(shared_dir, tmp_path / "s95.csv", 0.95))
    argv = ["calibrate", "training", "--cases", cases, "--chip", CHIP]
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "c.db"), "--format", "csv", *argv)
    assert code == 0 and out.startswith(",".join(COLUMNS) + "\n") and len(out.splitlines()) == 5
    _, table, _ = run_cli(capsys, "--db", str(tmp_path / "c.db"), *argv)
    assert "would be refused" not in table and "not saved (add --save to keep them)" in table.splitlines()[0]
    assert err.splitlines() == [f"fleetcast: {x}" for x in table.splitlines() if x.startswith("warning: ")] == [
        "fleetcast: warning: train_hbm_eff: held at 0.5748, not fitted (fit on its bound (0.5, 0.95): the model "
        "misses something on these runs); the others were fitted with it there"]


# ---- 3: a held factor's own reason --------------------------------------------------------------

def test_a_factor_held_on_its_bound_says_only_that(capsys, tmp_path, shared_dir):
    """QA: 34 runs 15% slower: "(train_gemm_eff: fit on its bound (0.5, 0.95); 3 runs per factor
    are needed)": the runs-needed clause was appended whatever held the factor."""
    cases = str(_npu_runs(shared_dir, tmp_path / "s85.csv", 0.85))
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "h.db"), "calibrate", "training", "--cases", cases,
                             "--chip", CHIP, "--factors", "train_gemm_eff")
    assert code == 1
    assert err == (f"fleetcast: error: {cases}: nothing fitted: every factor asked for is held (train_gemm_eff: fit on "
                   "its bound (0.5, 0.95): the model misses something on these runs); the current factors are kept\n")


def test_a_factor_too_few_runs_move_says_how_many_are_needed(capsys, tmp_path, shared_dir):
    cases = _mindie_runs(shared_dir, tmp_path / "m.csv", lambda e: "mindie")
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "f.db"), "calibrate", "inference", "--cases", str(cases),
                             "--chip", CHIP, "--factors", "inf_step_overhead_ms")
    assert code == 1
    assert ("nothing fitted: every factor asked for is held (inf_step_overhead_ms@mindie: 2 of 10 runs depend on it; "
            "3 runs per factor are needed); the current factors are kept") in err


# ---- 4: what stays generic after a save ---------------------------------------------------------

def _my_npu(tmp_path, capsys) -> str:
    """A database with my-npu: the catalog 910B2 under another id, calibrate_as blank (generic factors)."""
    db = str(tmp_path / "n.db")
    row = next(r for r in read_csv_rows(resources.read_text("chips.csv")) if r["id"] == CHIP)
    path = write_chips_csv(tmp_path / "chips.csv", [{**row, "id": "my-npu", "name": "My NPU", "calibrate_as": ""}])
    code, _, err = run_cli(capsys, "--db", db, "chips", "import", path)
    assert code == 0, err
    return db


TRAIN = ["train", "--model", "llama3-70b", "--chips", "64", "--tp", "8", "--pp", "4", "--dp", "2", "--micro-batch",
         "1", "--global-batch", "512", "--seq-len", "4096", "--tokens", "1e12", "--format", "json"]
SERVE = ["serve", "--model", "llama3-70b", "--tp", "8", "--input-len", "2000", "--output-len", "300", "--format", "json"]


def test_after_a_save_the_figures_still_name_the_generic_factors(capsys, tmp_path, shared_dir):
    """QA: a save of my-npu held train_hbm_eff at the generic 0.7466 (on its bound); `train` then
    said only that it used factors fitted to the user's runs, and the generic notice went, for
    train_hbm_eff and for every serving factor."""
    db = _my_npu(tmp_path, capsys)
    code, out, _ = run_cli(capsys, "--db", db, *TRAIN, "--chip", "my-npu")
    before = [e for e in json.loads(out)["explanations"] if "no packaged calibration matches id 'my-npu'" in e]
    assert code == 0 and before == ["My NPU: no packaged calibration matches id 'my-npu', so its efficiency factors "
                                    "are the generic ones; set calibrate_as to the catalog chip it copies, or fit "
                                    "your own runs with `fleetcast calibrate`"]
    cases = str(_npu_runs(shared_dir, tmp_path / "npu95.csv", 0.95, chip="my-npu"))
    code, out, err = run_cli(capsys, "--db", db, "calibrate", "training", "--cases", cases, "--chip", "my-npu",
                             "--save")
    assert code == 0, err
    assert "train_hbm_eff: held at 0.7466, not fitted (fit on its bound (0.5, 0.95)" in out
    code, out, _ = run_cli(capsys, "--db", db, *TRAIN, "--chip", "my-npu")
    data = json.loads(out)
    assert sorted(data["calibrated"][0]["factors"]) == ["train_attn_eff", "train_gemm_eff", "train_scaleup_eff"]
    generic = [e for e in data["explanations"] if "no packaged calibration matches id 'my-npu'" in e]
    assert generic == ["My NPU: no packaged calibration matches id 'my-npu', so its training factor train_hbm_eff "
                       "and its serving factors are still the generic ones (the rest are your own); set calibrate_as "
                       "to the catalog chip it copies, or fit your own runs with `fleetcast calibrate`"]
    # serving reads none of the saved factors: its note is back too (it went with the training save)
    code, out, _ = run_cli(capsys, "--db", db, *SERVE, "--chip", "my-npu")
    assert code == 0 and json.loads(out)["calibration_note"] == generic[0]


def test_the_note_names_what_is_still_generic_and_goes_when_nothing_is():
    row = {**next(r for r in read_csv_rows(resources.read_text("chips.csv")) if r["id"] == CHIP), "id": "my-npu",
           "name": "My NPU"}
    chip = chip_from_row(row, resolve_calibration(row, calibration_rows()))
    trained = chip.with_calibration(train_gemm_eff=0.55, train_attn_eff=0.45, train_hbm_eff=0.6, train_scaleup_eff=0.7)
    assert "so its serving factors are still the generic ones (the rest are your own)" in uncalibrated_note(trained)
    served = chip.with_calibration(**{"inf_hbm_eff@vllm": 0.5})
    assert ("so its training factors train_gemm_eff, train_attn_eff, train_hbm_eff, train_scaleup_eff are still the "
            "generic ones") in uncalibrated_note(served)
    one = trained.with_calibration(train_hbm_eff=0.7466, **{"inf_hbm_eff@vllm": 0.5})   # the generic value, as held
    assert "so its training factor train_hbm_eff is still the generic one (the rest" in uncalibrated_note(one)
    assert uncalibrated_note(trained.with_calibration(**{"inf_hbm_eff@vllm": 0.5})) is None
