"""QA s24 (issue 11): a chip's calibration is an input the user sets, `calibrate_as` (the catalog
chip whose packaged calibration it takes), never guessed from a display name or a word inside an id;
the uncalibrated note says so; one scale-up link is no faster than the chip's scale-up bandwidth."""

import json
import re

import pytest

import resources
from engine.calibration import uncalibrated_note
from engine.catalog import CHIP_FIELDS, calibration_rows, chip_from_row, read_csv_rows, resolve_calibration
from engine.errors import ValidationError
from engine.store import open_store
from engine.validate import check_chip
from tests.case_files import write_chips_csv
from tests.cli_run import run_cli
from tests.old_db import old_database

COPIES = {"nv-h100-sxm5-80gb": "h100-sxm5-80gb", "ascend-910c-copy": "ascend-910c", "hgx-h20": "h20-96gb"}


def _catalog_rows() -> list[dict]:
    return read_csv_rows(resources.read_text("chips.csv"))


def _catalog_row(chip_id: str) -> dict:
    return next(r for r in _catalog_rows() if r["id"] == chip_id)


_write_chips = write_chips_csv


def _import(capsys, db, path, *extra):
    code, out, err = run_cli(capsys, "--db", db, "chips", "import", path, *extra)
    assert code == 0, err
    return out


def _figures(capsys, db, chip_id) -> tuple[dict, dict]:
    """`train` and `serve` of Llama 3 70B on `chip_id` as JSON, the chip's own id and name taken out."""
    chip = next(c for c in open_store(db).chips() if c.id == chip_id)
    shown = []
    for argv in (["train", "--model", "llama3-70b", "--chips", "64", "--tokens", "1e12"],
                 ["serve", "--model", "llama3-70b", "--tp", "8", "--input-len", "2000", "--output-len", "300",
                  "--ttft-ms", "2000", "--tpot-ms", "50", "--demand-tokens-per-s", "100000"]):
        code, out, err = run_cli(capsys, "--db", db, "--format", "json", *argv, "--chip", chip_id)
        assert code == 0, err
        # (the attention-kernel note names the chip by its name before any " (...)")
        short = chip.name.split(" (")[0]
        figures = json.loads(out.replace(chip.name, "CHIP").replace(short, "CHIP").replace(chip_id, "CHIP"))
        figures.pop("search_seconds", None)   # how long the layout search took here, not a figure
        shown.append(figures)
    return shown[0], shown[1]


# ---- 1: a copy with calibrate_as is its original ------------------------------------------------

def test_a_copy_with_calibrate_as_trains_and_serves_as_its_original(tmp_path, capsys):
    """QA: an H100 imported as nv-h100-sxm5-80gb trained 19% faster than the H100; a 910C copy
    served 31% faster than the 910C."""
    db = str(tmp_path / "c.db")
    rows = [{**_catalog_row(original), "id": copy, "name": _catalog_row(original)["name"] + " (ours)",
             "calibrate_as": original} for copy, original in COPIES.items()]
    _import(capsys, db, _write_chips(tmp_path / "copies.csv", rows))
    store = open_store(db)
    by_id = {c.id: c for c in store.chips()}
    for copy, original in COPIES.items():
        assert by_id[copy].calibrate_as == original
        assert dict(by_id[copy].calibration) == dict(by_id[original].calibration), copy
        assert uncalibrated_note(by_id[copy]) is None
    store.close()
    for copy, original in COPIES.items():
        assert _figures(capsys, db, copy) == _figures(capsys, db, original), copy


def test_a_rename_never_changes_a_figure(tmp_path, capsys):
    """QA: renaming a chip's display name changed training 170 -> 175 tokens/s; a chip named
    "H100 killer (Cambricon MLU)" got the Hopper factors."""
    db = str(tmp_path / "r.db")
    mlu = {**_catalog_row("mlu370-x8"), "id": "mlu-next", "name": "MLU next", "hbm_gb": "48", "hbm_gbps": "614"}
    _import(capsys, db, _write_chips(tmp_path / "a.csv", [mlu]))
    before = _figures(capsys, db, "mlu-next")
    generic = dict(open_store(db).chip("mlu-next").calibration)
    for name in ("H100 killer (Cambricon MLU)", "NVIDIA H100 SXM5 80GB", "Huawei Ascend 910C"):
        store = open_store(db)
        store.update_chip("mlu-next", "name", name)
        assert dict(store.chip("mlu-next").calibration) == generic, name
        store.close()
        assert _figures(capsys, db, "mlu-next") == before, name


# ---- 2: catalog chips are as before -------------------------------------------------------------

# HEAD's rule before calibrate_as (6930e4c), frozen: a catalog chip's id starts with its family's
# prefix, so its scopes were matched on its id
HEAD_FAMILY_PREFIXES = ("a100", "a800", "h100", "h800", "h20", "h200", "gh200", "ascend-910b", "ascend-910c")
HEAD_FAMILY_TOKEN = re.compile(r"(?:gh200|h200|h100|h800|h20|a100|a800)(?![0-9])|910[bc](?![a-z])")


def _head_calibration_id(chip_id: str, name: str) -> str:
    cid = chip_id.strip().lower()
    if cid.startswith(HEAD_FAMILY_PREFIXES):
        return cid
    for text in (cid, name):
        words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
        for skip in range(min(2, len(words) - 1) + 1):
            if skip and not words[skip - 1].isalpha():
                break
            rest = "-".join(words[skip:])
            if HEAD_FAMILY_TOKEN.match(rest):
                return "ascend-" + rest if rest.startswith("910") else rest
    return cid


def _head_resolve(row: dict, rows: list[dict]) -> dict:
    scoped = _head_calibration_id(row["id"], row.get("name") or "")
    ranked: dict = {}
    for cal in rows:
        scope = (cal.get("scope") or "").strip()
        if scope in (row["id"], scoped):
            rank = 3
        elif scope.endswith("*") and scoped.startswith(scope[:-1]):
            rank = 2
        elif scope and scope.lower() == (row.get("vendor") or "").lower():
            rank = 1
        elif scope == "default":
            rank = 0
        else:
            continue
        factor = cal["factor"].strip()
        if factor not in ranked or rank >= ranked[factor][0]:
            ranked[factor] = (rank, float(cal["value"]))
    return {factor: value for factor, (_, value) in ranked.items()}


# the catalog chips no packaged run calibrates (their notes as before)
UNCALIBRATED_CATALOG = {
    "v100-sxm2-32gb", "b200", "gb200", "l20-48gb", "l40s-48gb", "mi250x", "mi300x", "mi325x",
    "gaudi2", "gaudi3", "tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "mlu370-x8", "mlu290-m5", "dcu-k100-ai", "br100",
    "kunlun2", "mtt-s4000"}


def test_every_catalog_chip_resolves_the_factors_it_did():
    rows, cal = _catalog_rows(), calibration_rows()
    assert len(rows) == 34
    for row in rows:
        assert resolve_calibration(row, cal) == _head_resolve(row, cal), row["id"]
        # and the same said of it
        note = uncalibrated_note(chip_from_row(row, resolve_calibration(row, cal)))
        assert (note is not None) == (row["id"] in UNCALIBRATED_CATALOG), row["id"]
        assert note is None or note.startswith(f"{row['name']}: no published run of this chip family")


# ---- 3: the note whenever no chip-specific scope matched ----------------------------------------

@pytest.mark.parametrize("chip_id, original", [("ascend-910c-copy", "ascend-910c"), ("gh200-copy", "h200-sxm-141gb"),
                                               ("nv-h100-sxm5-80gb", "h100-sxm5-80gb")])
def test_a_copy_no_scope_matches_is_said_with_the_fix(chip_id, original):
    """QA: ascend-910c-copy starts with a family's prefix, so no note, yet the exact-id scope
    'ascend-910c' did not match: it served 31% faster than the 910C. gh200-copy likewise."""
    row = {**_catalog_row(original), "id": chip_id}
    chip = chip_from_row(row, resolve_calibration(row, calibration_rows()))
    note = uncalibrated_note(chip)
    assert note == (f"{row['name']}: no packaged calibration matches id '{chip_id}', so its efficiency factors "
                    "are the generic ones; set calibrate_as to the catalog chip it copies, or fit your own runs "
                    "with `fleetcast calibrate`")
    fixed = {**row, "calibrate_as": original}
    assert uncalibrated_note(chip_from_row(fixed, resolve_calibration(fixed, calibration_rows()))) is None
    unknown = {**row, "calibrate_as": "h-100-sxm5"}
    said = uncalibrated_note(chip_from_row(unknown, resolve_calibration(unknown, calibration_rows())))
    assert "calibrate_as 'h-100-sxm5' is no catalog chip" in said and " a a" not in said


def test_a_chip_the_user_fitted_is_not_called_uncalibrated():
    row = {**_catalog_row("ascend-910c"), "id": "ascend-910c-copy"}
    chip = chip_from_row(row, resolve_calibration(row, calibration_rows()))
    fitted = chip.with_calibration(train_gemm_eff=0.42)
    note = uncalibrated_note(fitted)   # what it fitted is its own; what it did not stays named generic
    assert "train_gemm_eff" not in note
    assert "train_attn_eff, train_hbm_eff, train_scaleup_eff and its serving factors are still the generic ones" in note
    assert uncalibrated_note(fitted.with_calibration(train_attn_eff=0.4, train_hbm_eff=0.6, train_scaleup_eff=0.7,
                                                     **{"inf_hbm_eff@vllm": 0.5})) is None


# ---- calibrate_as as a field: validation, the store, export/import, the window ------------------

def test_calibrate_as_is_an_id_or_blank():
    base = {**_catalog_row("h100-sxm5-80gb"), "id": "nv-h100"}
    assert check_chip({**base, "calibrate_as": " h100-sxm5-80gb "})["calibrate_as"] == "h100-sxm5-80gb"
    assert check_chip({**base, "calibrate_as": None})["calibrate_as"] == ""
    assert check_chip({**base, "calibrate_as": "nv-h100"})["calibrate_as"] == "nv-h100"   # its own id
    with pytest.raises(ValidationError) as exc:
        check_chip({**base, "calibrate_as": "H100 SXM5"})
    assert exc.value.problems == ["calibrate_as: 'H100 SXM5' (a catalog chip's id, e.g. h100-sxm5-80gb, or blank)"]


def test_export_and_import_keep_calibrate_as(tmp_path, capsys):
    db, other = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    row = {**_catalog_row("ascend-910c"), "id": "huawei-910c", "calibrate_as": "ascend-910c"}
    _import(capsys, db, _write_chips(tmp_path / "in.csv", [row]))
    assert run_cli(capsys, "--db", db, "chips", "export", str(tmp_path / "out.csv"))[0] == 0
    exported = {r["id"]: r for r in read_csv_rows((tmp_path / "out.csv").read_text(encoding="utf-8-sig"))}
    assert exported["huawei-910c"]["calibrate_as"] == "ascend-910c" and exported["ascend-910c"]["calibrate_as"] == ""
    _import(capsys, other, str(tmp_path / "out.csv"))
    store = open_store(other)
    assert store.chip("huawei-910c").calibrate_as == "ascend-910c"
    assert dict(store.chip("huawei-910c").calibration) == dict(store.chip("ascend-910c").calibration)
    store.close()
    # the same file again changes nothing (a NULL beside '' would count every chip as changed)
    out = _import(capsys, other, str(tmp_path / "out.csv"), "--format", "json")
    assert json.loads(out)["updated"] == []


def test_an_older_database_gets_a_blank_calibrate_as(tmp_path, capsys):
    path = tmp_path / "old.db"
    old_database(path, 11)   # every migration before calibrate_as
    store = open_store(path)
    assert {r["calibrate_as"] for r in store.chip_rows()} == {""}
    assert dict(store.chip("h100-sxm5-80gb").calibration) == resolve_calibration(
        _catalog_row("h100-sxm5-80gb"), calibration_rows())
    store.close()
    assert run_cli(capsys, "--db", str(path), "chips", "export", str(tmp_path / "all.csv"))[0] == 0
    out = _import(capsys, str(path), str(tmp_path / "all.csv"), "--format", "json")
    assert json.loads(out)["updated"] == []


def test_the_window_edits_calibrate_as(tmp_path, qapp):
    from PySide6.QtCore import Qt

    from gui.table_models import ChipTableModel

    store = open_store(tmp_path / "w.db")
    row = {**_catalog_row("h20-96gb"), "id": "hgx-h20", "name": "HGX H20"}
    store.add_chip({k: row.get(k) for k in CHIP_FIELDS})
    model = ChipTableModel(store.chip_rows())
    column = model.column_of("calibrate_as")
    assert model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) == "Calibrate as"
    assert model.headerData(column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole) == (
        "the catalog chip whose calibration this chip takes, e.g. h100-sxm5-80gb for a copy of it; blank: by its id")
    model.edit_handler = lambda key, field, value, shown=None: store.update_chip(key, field, value) is not None or True
    assert model.setData(model.index(model.row_of_key("hgx-h20"), column), "h20-96gb", Qt.ItemDataRole.EditRole)
    assert dict(store.chip("hgx-h20").calibration) == dict(store.chip("h20-96gb").calibration)
    store.close()


# ---- 4: one link is no faster than the chip's scale-up bandwidth --------------------------------

def test_a_link_faster_than_the_chips_scale_up_is_refused(tmp_path, capsys):
    """QA: a 500 GB/s per-pair link on a 196 GB/s chip made a mesh faster than a switch."""
    row = {**_catalog_row("ascend-910b2"), "id": "fast-link", "scaleup_link_gbps": "500"}
    with pytest.raises(ValidationError) as exc:
        check_chip(row)
    assert exc.value.problems == ["scaleup_link_gbps: 500 (more than scaleup_gbps 196: one link is a share of "
                                  "the chip's scale-up bandwidth)"]
    assert check_chip({**row, "scaleup_link_gbps": "196"})["scaleup_link_gbps"] == 196
    assert check_chip({**row, "scaleup_gbps": ""})["scaleup_link_gbps"] == 500   # no total to compare with
    # an import: one line naming the file, the row, the field and both values; nothing written
    db = str(tmp_path / "l.db")
    path = _write_chips(tmp_path / "link.csv", [row])
    code, _, err = run_cli(capsys, "--db", db, "chips", "import", path)
    assert code == 1 and "link.csv row 2" in err and "scaleup_link_gbps: 500 (more than scaleup_gbps 196" in err
    assert err.strip().count("\n") == 0
    # the window's cell edit (Store.update_chip): either field, refused, nothing stored
    store = open_store(db)
    for field, value in (("scaleup_link_gbps", "500"), ("scaleup_gbps", "20")):
        with pytest.raises(ValidationError) as exc:
            store.update_chip("ascend-910b2", field, value)
        assert "more than scaleup_gbps" in exc.value.problems[0]
    assert store.chip("ascend-910b2").scaleup_link_gbps == 28 and store.chip("ascend-910b2").scaleup_gbps == 196
    store.close()
