"""A training case whose stated layout cannot have run (QA s29): `validate training` made it `ok`
("pp exceeds layers ... but the run ran: predicted anyway", -97%), dropped a stated dp that did not
fit the chips ("layout as published" on 8 x 1 x 3 = 24 of 8 chips), or called it `infeasible`
without its dp, and `calibrate training` fitted such rows and saved the fit. Each is now an error
row naming the field, its value and `train`'s rule with its numbers, and is never fitted; a run
that only overflows the memory model is still predicted."""

from __future__ import annotations

import csv
import json

import pytest

from engine.cli import main

BASE_ID = "MODELLINK-NPU-01"   # Aquila-7B (32 layers, 32 heads) on 8 Ascend 910B2, tp 8 pp 1 dp 1 cp 1
MODEL = "Aquila-7B (Legacy)"
# the four layouts QA wrote into that row, and the one line each must get, in `train`'s rules
IMPOSSIBLE = {
    "PP64": ({"tp": "1", "pp": "64", "dp": "1", "num_chips": "64"}, f"pp 64 exceeds {MODEL}'s 32 layers"),
    "VPP3": ({"vpp": "3"}, "vpp 3 interleaves pipeline stages: it needs pp 2 or more"),
    "DP3": ({"dp": "3"}, "tp x pp x dp x cp = 8 x 1 x 3 x 1 = 24, not 8 chips"),
    "BAD-LAYOUT2": ({"tp": "8", "pp": "4", "dp": "4"}, "tp x pp x dp x cp = 8 x 4 x 4 x 1 = 128, not 8 chips"),
}


def _public(shared_dir) -> tuple[list[str], list[dict]]:
    with open(shared_dir / "validation" / "training_public.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path, header, rows) -> str:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _variant(rows, case_id, **changes) -> dict:
    base = next(r for r in rows if r["id"] == BASE_ID)
    return {**base, "id": case_id, **changes}


def _validate(capsys, tmp_path, path, fmt="table"):
    code = main(["--db", str(tmp_path / "v.db"), "validate", "training", "--cases", path, "--format", fmt])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case_id", list(IMPOSSIBLE))
def test_an_impossible_stated_layout_is_an_error_row_with_its_rule(tmp_path, capsys, shared_dir, case_id):
    header, rows = _public(shared_dir)
    changes, rule = IMPOSSIBLE[case_id]
    good = _variant(rows, "GOOD")
    path = _write(tmp_path / "cases.csv", header, [good, _variant(rows, case_id, **changes)])
    code, out, _ = _validate(capsys, tmp_path, path)
    assert code == 0   # a bad row is reported, never fatal to the others (CLI.md)
    assert f"\nerror: {path} row 3 ({case_id}): {rule}\n" in out + "\n"
    assert "predicted anyway" not in out and "infeasible 0, error 1" in out
    code, out, _ = _validate(capsys, tmp_path, path, "json")
    cases = {c["id"]: c for c in json.loads(out)["cases"]}
    assert cases["GOOD"]["status"] == "ok"
    bad = cases[case_id]
    assert (bad["status"], bad["message"], bad["predicted"]) == ("error", rule, None)


def test_the_rules_are_trains_own(tmp_path, capsys, shared_dir):
    """The row's line and `train --pp 64` on a 32-layer model break the same rule, worded once."""
    header, rows = _public(shared_dir)
    row = _variant(rows, "PP64", **IMPOSSIBLE["PP64"][0], model="Llama 3 8B")
    path = _write(tmp_path / "cases.csv", header, [row])
    _validate(capsys, tmp_path, path)
    assert main(["--db", str(tmp_path / "v.db"), "train", "--model", "llama3-8b", "--chip", "ascend-910b2",
                 "--chips", "64", "--pp", "64"]) == 1
    refusal = capsys.readouterr().err
    assert "--pp 64 exceeds Llama 3 8B's 32 layers" in refusal
    code, out, _ = _validate(capsys, tmp_path, path, "json")
    assert json.loads(out)["cases"][0]["message"] == "pp 64 exceeds Llama 3 8B's 32 layers"


def test_a_partial_layout_meets_the_rules_its_fields_break(tmp_path, capsys, shared_dir):
    """Blank fields are searched, but a stated pp over the layers, or vpp over what pp stages of 32
    layers can fill (8 stages: 4 layers each, so vpp 4 at most; vpp 3 fits though 3 does not divide 4,
    as `train` lets it), is wrong whatever they become; a stated dp stays in the search's message."""
    header, rows = _public(shared_dir)
    blank = {"tp": "", "dp": "", "cp": "", "micro_batch": ""}
    bad = [_variant(rows, "PP33", pp="33", **blank),
           _variant(rows, "VPP5", tp="1", pp="8", vpp="5"),
           _variant(rows, "DP4", tp="8", pp="4", dp="4", cp="")]
    fits = _variant(rows, "VPP3", tp="1", pp="8", vpp="3", global_batch_seqs="64")
    path = _write(tmp_path / "cases.csv", header, bad + [fits])
    code, out, _ = _validate(capsys, tmp_path, path, "json")
    cases = {c["id"]: c for c in json.loads(out)["cases"]}
    assert (cases["PP33"]["status"], cases["PP33"]["message"]) == ("error", f"pp 33 exceeds {MODEL}'s 32 layers")
    assert (cases["VPP5"]["status"], cases["VPP5"]["message"]) == (
        "error", "vpp 5 needs a layer in every chunk of every stage; pp 8 over 32 layers allows vpp 4 at most")
    # cp blank: 8 x 4 x 4 x cp is no layout of 8 chips, said with the dp the row gave (it was left out)
    assert cases["DP4"]["status"] == "infeasible"
    assert "no layout of 8 chips has tp=8, pp=4, dp=4" in cases["DP4"]["message"]
    assert cases["VPP3"]["status"] == "ok", cases["VPP3"]["message"]


def test_a_run_over_the_memory_model_is_still_predicted(tmp_path, capsys, shared_dir):
    """Out of memory on a layout that ran is the memory model's miss, not a typo (the one public
    case the fallback serves: MODELLINK-NPU-39, 66.5 of 64 GiB)."""
    header, rows = _public(shared_dir)
    path = _write(tmp_path / "cases.csv", header, [r for r in rows if r["id"] == "MODELLINK-NPU-39"])
    code, out, _ = _validate(capsys, tmp_path, path, "json")
    case = json.loads(out)["cases"][0]
    assert code == 0 and case["status"] == "ok" and case["predicted"] > 0
    assert "model says out of memory" in case["message"] and case["message"].endswith("predicted anyway")


def test_calibrate_fits_none_of_the_impossible_rows(tmp_path, capsys, shared_dir):
    """QA: three pp-64 rows beside 34 good ones moved the scale-up factor (0.732 -> 0.609) and --save
    kept it. The fit counts the good runs only, is the good runs' own fit, and --save refuses."""
    header, rows = _public(shared_dir)
    good = [r for r in rows if r["chip"] == "ascend-910b2" and r["metric"] == "tokens_per_s_per_chip"][:10]
    bad = [_variant(rows, case_id, **changes) for case_id, (changes, _) in IMPOSSIBLE.items()]
    db = str(tmp_path / "c.db")

    def fit(path):
        assert main(["--db", db, "calibrate", "training", "--cases", path, "--chip", "ascend-910b2",
                     "--format", "json"]) == 0
        return json.loads(capsys.readouterr().out)

    mixed = fit(_write(tmp_path / "mixed.csv", header, good + bad))
    alone = fit(_write(tmp_path / "good.csv", header, good))
    assert mixed["summary"]["cases"] == alone["summary"]["cases"] == 10
    assert [(r["id"], r["status"], r["message"]) for r in mixed["rows_not_fitted"]] == [
        (case_id, "error", rule) for case_id, (_, rule) in IMPOSSIBLE.items()]
    assert {f["factor"]: f["fitted"] for f in mixed["factors"]} == {f["factor"]: f["fitted"] for f in alone["factors"]}
    assert main(["--db", db, "calibrate", "training", "--cases", str(tmp_path / "mixed.csv"), "--chip",
                 "ascend-910b2", "--save"]) == 1
    assert "row 12 (PP64): pp 64 exceeds" in capsys.readouterr().err
