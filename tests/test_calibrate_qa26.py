"""QA session 26 on `calibrate` and calibrate_as:

1. `calibrate --save --replace` removed a factor the fit held at its saved value (the others were
   fitted with it there): the saved set was not the set fitted.
2. A calibrate_as naming a database chip (a copy of a copy) gave the generic factors; the chain is
   followed to the catalog chip it ends at, a loop is refused naming the chips, and the factors
   saved for a chip on the way apply to the copy.
"""

import json
import shutil

import pytest

import resources
from engine.calibration import chip_family, uncalibrated_note
from engine.catalog import (CalibrateAsLoop, calibrate_as_chain, calibrate_as_loops, calibration_rows,
                            chip_with_calibration, chips_with_calibration, read_csv_rows, reference_chips,
                            saved_along_chain)
from engine.commands.calibrate import _kept_saved
from engine.errors import ValidationError
from engine.store import open_store
from tests.case_files import write_cases, write_chips_csv
from tests.cli_run import run_cli

H100 = "h100-sxm5-80gb"
TRAIN_H100 = ["train", "--model", "llama3-70b", "--chip", H100, "--chips", "1024", "--tp", "8", "--pp", "4",
              "--dp", "32", "--format", "json"]


def _json(capsys, *argv, code=0):
    got, out, err = run_cli(capsys, *argv)
    assert got == code, err
    return json.loads(out)


# ---- 1: --replace keeps a factor held at its saved value -----------------------------------------

def _h100_files(shared_dir, tmp_path):
    """QA's two files: every public H100 run 10% faster than published, then the 28 single-node
    MPT throughput runs as published (one of which depends on the scale-up efficiency)."""
    public = shared_dir / "validation" / "training_public.csv"

    def faster(row):
        ratio = 1.1 if row["metric"] != "step_time_s" else 1 / 1.1
        row["value"] = f"{float(row['value']) * ratio:.6g}"
    first = write_cases(public, tmp_path / "h100_x1.1.csv", lambda r: r["chip"] == H100, faster)
    second = write_cases(public, tmp_path / "h100_mpt8.csv",
                         lambda r: r["chip"] == H100 and r["id"].startswith("MPT") and r["num_chips"] == "8"
                         and r["metric"] == "tokens_per_s_per_chip")
    return str(first), str(second)


def test_replace_keeps_a_factor_the_fit_held_at_its_saved_value(capsys, tmp_path, shared_dir):
    """QA: the second --save --replace printed "train_scaleup_eff: held at 0.9244 ... the others
    were fitted with it there and it is not saved"; --show then listed 3 factors and the scale-up
    fell back to the packaged 0.8388 (803.6 tokens/s per chip against 815.8 as fitted)."""
    db = str(tmp_path / "r.db")
    first, second = _h100_files(shared_dir, tmp_path)
    cal = ["--db", db, "calibrate", "training", "--chip", H100, "--format", "json"]
    saved = _json(capsys, *cal, "--cases", first, "--save")
    assert saved["saved"] and {f["factor"] for f in saved["factors"] if not f["held"]} == {
        "train_gemm_eff", "train_attn_eff", "train_hbm_eff", "train_scaleup_eff"}
    scaleup = next(f["fitted"] for f in saved["factors"] if f["factor"] == "train_scaleup_eff")
    shutil.copy(db, tmp_path / "text.db")

    again = _json(capsys, *cal, "--cases", second, "--save", "--replace")
    held = {f["factor"]: f for f in again["factors"] if f["held"]}
    assert again["saved"] and set(held) == {"train_scaleup_eff"}, again["factors"]
    assert held["train_scaleup_eff"]["fitted"] == pytest.approx(scaleup, rel=1e-12)
    assert [r["factor"] for r in again["kept"]] == ["train_scaleup_eff"]
    assert "train_scaleup_eff" not in {r["factor"] for r in again["replaced"]}
    assert any(w.startswith("train_scaleup_eff: held at") and w.endswith("so its saved value stays saved")
               for w in again["warnings"]), again["warnings"]

    # the saved set is the set fitted: all four, at the values this fit ran with
    shown = _json(capsys, *cal, "--show")["stored"]
    assert {r["factor"]: r["value"] for r in shown} == pytest.approx(
        {f["factor"]: f["fitted"] for f in again["factors"]}, rel=1e-12)
    notes = {r["factor"]: r["note"] for r in shown}
    assert notes["train_scaleup_eff"].startswith("fitted to h100_x1.1.csv")   # the runs that measured it
    assert notes["train_gemm_eff"].startswith("fitted to h100_mpt8.csv")

    # and the forecast uses that set: the chip's calibration holds every fitted value
    store = open_store(db)
    calibration = dict(store.chip(H100).calibration)
    store.close()
    for f in again["factors"]:
        assert calibration[f["factor"]] == pytest.approx(f["fitted"], rel=1e-12), f["factor"]

    # the text says what stayed
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "text.db"), "calibrate", "training", "--chip", H100,
                             "--cases", second, "--save", "--replace")
    assert code == 0, err
    assert f"keeping train_scaleup_eff = {scaleup:.4g} as saved (not fitted now: the others were fitted with it" in out
    assert "so its saved value stays saved" in out and "it is not saved" not in out


def test_replace_still_removes_the_factors_this_fit_does_not_ask_for(capsys, tmp_path, shared_dir):
    db = str(tmp_path / "n.db")
    first, second = _h100_files(shared_dir, tmp_path)
    cal = ["--db", db, "calibrate", "training", "--chip", H100, "--format", "json"]
    assert _json(capsys, *cal, "--cases", first, "--save")["saved"]
    again = _json(capsys, *cal, "--cases", second, "--save", "--replace", "--factors", "train_gemm_eff,train_attn_eff")
    assert again["saved"] and again["kept"] == []
    assert {r["factor"] for r in again["replaced"]} == {"train_gemm_eff", "train_attn_eff", "train_hbm_eff",
                                                         "train_scaleup_eff"}
    shown = _json(capsys, *cal, "--show")["stored"]
    assert {r["factor"] for r in shown} == {"train_gemm_eff", "train_attn_eff"}
    assert all(r["note"].startswith("fitted to h100_mpt8.csv") for r in shown)
    store = open_store(db)
    chip = store.chip(H100)
    store.close()
    packaged = reference_chips()[H100]
    for name in ("train_hbm_eff", "train_scaleup_eff"):   # back to the packaged values
        assert chip.calibration[name] == packaged.calibration[name]


def test_which_saved_serving_keys_a_replace_keeps():
    """The same rule for serving keys (`name@family`): kept only where this fit ran with the saved
    value and fitted something else; a key not asked for, or at another value, goes."""
    earlier = [{"factor": "inf_hbm_eff@vllm", "value": 0.61, "note": "fitted to a.csv (6 measured runs) on 2026-01-02"},
               {"factor": "inf_prefill_mfu@vllm", "value": 0.4, "note": ""},
               {"factor": "inf_step_overhead_ms@vllm", "value": 3.0, "note": ""}]
    names = ("inf_hbm_eff@vllm", "inf_prefill_mfu@vllm")
    start = {"inf_hbm_eff@vllm": 0.61, "inf_prefill_mfu@vllm": 0.4}
    kept = _kept_saved(names, ["inf_prefill_mfu@vllm"], start, earlier)
    assert list(kept) == ["inf_hbm_eff@vllm"] and kept["inf_hbm_eff@vllm"]["note"].startswith("fitted to a.csv")
    assert _kept_saved(names, ["inf_prefill_mfu@vllm"], {**start, "inf_hbm_eff@vllm": 0.5}, earlier) == {}
    assert _kept_saved(names, [], start, earlier) == {}   # nothing fitted: nothing is saved


# ---- 2: a calibrate_as chain through database chips ----------------------------------------------

def _catalog_row(chip_id: str) -> dict:
    return next(r for r in read_csv_rows(resources.read_text("chips.csv")) if r["id"] == chip_id)


def _rows(**links) -> dict:
    """Chip rows (copies of the 910B2) by id, each with the calibrate_as given."""
    return {cid: {**_catalog_row("ascend-910b2"), "id": cid, "calibrate_as": target} for cid, target in links.items()}


def test_the_chain_is_followed_to_the_catalog_chip():
    rows = {**_rows(**{"my-910b": "ascend-910b2", "my2-910b": "my-910b", "self-c": "self-c", "gone": "deleted-x"}),
            "ascend-910b2": _catalog_row("ascend-910b2")}
    assert calibrate_as_chain("my2-910b", rows) == ["my2-910b", "my-910b", "ascend-910b2"]
    assert calibrate_as_chain("ascend-910b2", rows) == ["ascend-910b2"]
    assert calibrate_as_chain("self-c", rows) == ["self-c"]          # its own id: no chain
    assert calibrate_as_chain("gone", rows) == ["gone", "deleted-x"]  # an id the database lacks ends it
    packaged = calibration_rows()
    chips = {c.id: c for c in chips_with_calibration(rows.values(), {}, packaged)}
    original = reference_chips()["ascend-910b2"]
    for cid in ("my-910b", "my2-910b"):
        assert dict(chips[cid].calibration) == dict(original.calibration), cid
        assert chips[cid].calibrate_as == "ascend-910b2"
        assert chip_family(chips[cid]) == "ascend-910b" and uncalibrated_note(chips[cid]) is None


def test_a_loop_is_named_once_with_its_chips():
    rows = _rows(**{"loop-a": "loop-b", "loop-b": "loop-a", "into": "loop-a"})
    with pytest.raises(CalibrateAsLoop) as exc:
        calibrate_as_chain("loop-a", rows)
    assert exc.value.chain == ["loop-a", "loop-b", "loop-a"]
    assert str(exc.value) == ("calibrate_as: 'loop-b' makes a loop (loop-a -> loop-b -> loop-a); a chain of "
                              "calibrate_as must end at a catalog chip")
    assert list(calibrate_as_loops(["loop-a", "loop-b", "into"], rows)) == ["loop-a"]
    # a loop stored before loops were refused: the chip keeps its own calibrate_as, nothing raises
    chip = chip_with_calibration("loop-a", rows, {}, calibration_rows())
    assert chip.calibrate_as == "loop-b"


def test_the_factors_saved_for_a_chip_on_the_way_apply_nearest_first():
    rows = {**_rows(**{"my-910b": "ascend-910b2", "my2-910b": "my-910b"}), "ascend-910b2": _catalog_row("ascend-910b2")}
    stored = {"ascend-910b2": {"train_gemm_eff": 0.61, "train_attn_eff": 0.41},
              "my-910b": {"train_gemm_eff": 0.72, "train_hbm_eff": 0.66},
              "my2-910b": {"train_hbm_eff": 0.77}}
    chip = chip_with_calibration("my2-910b", rows, stored, calibration_rows())
    assert (chip.calibration["train_gemm_eff"], chip.calibration["train_attn_eff"],
            chip.calibration["train_hbm_eff"]) == (0.72, 0.41, 0.77)
    middle = chip_with_calibration("my-910b", rows, stored, calibration_rows())
    assert (middle.calibration["train_gemm_eff"], middle.calibration["train_hbm_eff"]) == (0.72, 0.66)

    def stored_rows(cid):
        return [{"chip_id": cid, "factor": f, "value": v, "note": ""} for f, v in sorted(stored.get(cid, {}).items())]
    taken = saved_along_chain("my2-910b", rows, stored_rows)
    assert [(r["chip_id"], r["factor"], r["value"]) for r in taken] == [
        ("my2-910b", "train_hbm_eff", 0.77), ("my-910b", "train_gemm_eff", 0.72),
        ("ascend-910b2", "train_attn_eff", 0.41)]


# The tests below go through the store: they need engine/store/store.py's chips() and chip() to
# build chips with engine.catalog.chip_with_calibration (and the loop checks of update_chip and
# import_chips).

def _import(capsys, db, path, *extra):
    code, _, err = run_cli(capsys, "--db", db, "chips", "import", *extra, path)
    assert code == 0, err


def _tokens(capsys, db, chip_id):
    data = _json(capsys, "--db", db, *[chip_id if a == H100 else a for a in TRAIN_H100])
    return data["tokens_per_s_per_chip"], data


def test_a_copy_of_a_copy_trains_as_the_catalog_chip_and_takes_the_saved_factors(capsys, tmp_path, shared_dir):
    """QA: my2-910b (calibrate_as my-910b, itself calibrate_as ascend-910b2) trained at the generic
    factors (345.44 tokens/s per chip against 330.86), its note said "calibrate_as 'my-910b' is no
    catalog chip" and validate made it a family of its own."""
    db = str(tmp_path / "c.db")
    rows = [{**_catalog_row("ascend-910b2"), "id": "my-910b", "name": "My 910B", "calibrate_as": "ascend-910b2"},
            {**_catalog_row("ascend-910b2"), "id": "my2-910b", "name": "My2 910B", "calibrate_as": "my-910b"}]
    _import(capsys, db, write_chips_csv(tmp_path / "mine.csv", rows))
    original, _ = _tokens(capsys, db, "ascend-910b2")
    for cid in ("my-910b", "my2-910b"):
        tokens, data = _tokens(capsys, db, cid)
        assert tokens == original, cid
        code, out, err = run_cli(capsys, "--db", db, *[cid if a == H100 else a for a in TRAIN_H100[:-2]])
        assert code == 0 and "no catalog chip" not in out and "generic" not in out, out

    # validate's families follow the chain
    public = shared_dir / "validation" / "training_public.csv"
    cases = write_cases(public, tmp_path / "chain.csv", lambda r: r["chip"] == "ascend-910b2"
                        and r["metric"] == "tokens_per_s_per_chip", lambda r: r.update(chip="my2-910b"), limit=4)
    report = _json(capsys, "--db", db, "--format", "json", "validate", "training", "--cases", str(cases))
    assert set(report["summary"]["by_family"]) == {"ascend-910b"}

    # the factors a --save stored for my-910b are my2-910b's too
    runs = write_cases(public, tmp_path / "my910b.csv", lambda r: r["chip"] == "ascend-910b2"
                       and r["metric"] == "tokens_per_s_per_chip",
                       lambda r: r.update(chip="my-910b", value=f"{float(r['value']) * 0.9:.6g}"), limit=10)
    fit = _json(capsys, "--db", db, "calibrate", "training", "--cases", str(runs), "--chip", "my-910b", "--save",
                "--format", "json")
    assert fit["saved"]
    fitted, _ = _tokens(capsys, db, "my-910b")
    copy, data = _tokens(capsys, db, "my2-910b")
    assert fitted != original and copy == fitted
    assert [(e["chip"], e["kind"], e.get("saved_for")) for e in data["calibrated"]] == [
        ("my2-910b", "training", ["my-910b"])]
    shown = _json(capsys, "--db", db, "calibrate", "training", "--chip", "my2-910b", "--show", "--format", "json")
    assert shown["stored"] == [] and {r["chip"] for r in shown["taken"]} == {"my-910b"}
    assert {r["factor"] for r in shown["taken"]} == {f["factor"] for f in fit["factors"] if not f["held"]}
    assert _tokens(capsys, db, "ascend-910b2")[0] == original   # the catalog chip itself is untouched


def test_a_loop_is_refused_by_an_import_and_an_edit(capsys, tmp_path):
    db = str(tmp_path / "l.db")
    base = _catalog_row("ascend-910b2")
    loop = write_chips_csv(tmp_path / "loop.csv", [{**base, "id": "loop-a", "calibrate_as": "loop-b"},
                                                   {**base, "id": "loop-b", "calibrate_as": "loop-a"}])
    code, _, err = run_cli(capsys, "--db", db, "chips", "import", loop)
    assert code == 1 and err.count("\n") == 1, err
    assert ("loop.csv row 2, column calibrate_as: 'loop-b' makes a loop (loop-a -> loop-b -> loop-a)" in err), err
    _import(capsys, db, write_chips_csv(tmp_path / "ok.csv", [{**base, "id": "my-a", "calibrate_as": "ascend-910b2"},
                                                               {**base, "id": "my-b", "calibrate_as": "my-a"}]))
    store = open_store(db)
    with pytest.raises(ValidationError) as exc:
        store.update_chip("my-a", "calibrate_as", "my-b")
    assert exc.value.problems == ["calibrate_as: 'my-b' makes a loop (my-a -> my-b -> my-a); a chain of "
                                  "calibrate_as must end at a catalog chip"]
    assert store.chip("my-b").calibrate_as == "ascend-910b2"
    store.close()


def test_every_other_chip_is_counted_in_the_skipped_rows_line(capsys, tmp_path, shared_dir):
    """The public file has rows for four other chips; the line named three and dropped the H800
    without "and 1 more" (QA)."""
    import json as _json

    from engine.cli import main as _main

    cases = shared_dir / "validation" / "training_public.csv"
    assert _main(["--db", str(tmp_path / "w.db"), "--format", "json", "calibrate", "training", "--cases",
                  str(cases), "--chip", "ascend-910b2"]) == 0
    warnings = _json.loads(capsys.readouterr().out)["warnings"]
    line = next(w for w in warnings if "row(s) for other chips" in w)
    assert line.startswith("263 row(s) for other chips (a100-sxm4-40gb, a100-sxm4-80gb, h100-sxm5-80gb and 1 more)")


def test_a_chip_other_copies_calibrate_as_cannot_be_deleted_under_them(tmp_path):
    """copy-c -> copy-b -> h100: `chips delete copy-b` left copy-c on generic factors with a note,
    and the database's own chips export no longer imported (QA)."""
    from engine.errors import UserError as _UserError
    from engine.store import open_store as _open_store

    store = _open_store(tmp_path / "chain.db")
    try:
        h100 = next(r for r in store.chip_rows() if r["id"] == "h100-sxm5-80gb")
        for cid, target in (("copy-b", "h100-sxm5-80gb"), ("copy-c", "copy-b")):
            store.db.table("chips").insert({**h100, "id": cid, "name": cid, "calibrate_as": target})
        before = store.chip("copy-c").calibration
        with pytest.raises(_UserError, match=r"chip 'copy-b': 'copy-c' take their calibration from it"):
            store.delete_chip("copy-b")
        assert store.chip("copy-c").calibration == before
        store.delete_chip("copy-c")          # nothing takes from it: deleted
        store.delete_chip("copy-b")          # and now copy-b may go
        assert {"copy-b", "copy-c"}.isdisjoint(r["id"] for r in store.chip_rows())
    finally:
        store.close()
