"""QA s24 on calibrate_as (follow-up of tests/test_calibrate_as_s24.py): the forecast's throughput
band, validation's families and the serving refit follow a copy's calibrate_as; a calibrate_as
that names no chip is refused; a copy calibrated as another vendor's chip is said; a deleted
built-in chip comes back from a chips CSV."""

from dataclasses import replace

import pytest

import resources
from engine.calibration import uncalibrated_note
from engine.catalog import (CHIP_FIELDS, calibration_rows, chip_from_row, read_csv_rows, reference_chips,
                            resolve_calibration)
from engine.errors import ValidationError
from engine.store import open_store
from tests.case_files import write_chips_csv
from tests.cli_run import run_cli

def _catalog_row(chip_id: str) -> dict:
    return next(r for r in read_csv_rows(resources.read_text("chips.csv")) if r["id"] == chip_id)


def _copy(original: str, copy_id: str, calibrate_as: str, **fields):
    row = {**_catalog_row(original), "id": copy_id, "calibrate_as": calibrate_as, **fields}
    return chip_from_row(row, resolve_calibration(row, calibration_rows()))


def _chips_with(*copies) -> dict:
    return {**reference_chips(), **{c.id: c for c in copies}}


_write_chips = write_chips_csv


# ---- 1: the forecast's throughput band follows calibrate_as ---------------------------------------

def test_throughput_sigmas_follow_calibrate_as():
    """QA: an exact H800 copy doubled the 2024-05 capacity band (the fallback's 0.75 for Hopper's
    0.18); an H20 calibrated as a 910B2 got Hopper's 0.18 instead of the 910B's 0.75."""
    from engine.forecast_inputs import throughput_sigmas

    h800 = _copy("h800-sxm5-80gb", "our-h800", "h800-sxm5-80gb")
    ascal = _copy("h20-96gb", "h20-ascal", "ascend-910b2")
    chips = _chips_with(h800, ascal)
    family, serving, training = throughput_sigmas(["our-h800", "h800-sxm5-80gb", "h20-ascal", "ascend-910b2"], chips)
    assert family["our-h800"] == family["h800-sxm5-80gb"] == "hopper"
    assert serving["our-h800"] == serving["h800-sxm5-80gb"] and training["our-h800"] == training["h800-sxm5-80gb"]
    assert family["h20-ascal"] == "ascend" and serving["h20-ascal"] == serving["ascend-910b2"] == 0.75
    # without the chips (or for a chip they lack) the id itself is matched, as before
    assert throughput_sigmas(["our-h800"])[0]["our-h800"] == "other"


def test_the_forecast_inputs_carry_the_copys_band_and_the_vendor_note():
    from engine.forecast import default_scenario
    from engine.forecast_inputs import build_inputs, story_orders
    from engine.catalog import reference_models

    ascal = _copy("h20-96gb", "h20-ascal", "ascend-910b2", name="h20-ascal")
    orders = [replace(o, chip_id="h20-ascal") if o.chip_id == "h20-96gb" else o for o in story_orders()]
    assert any(o.chip_id == "h20-ascal" for o in orders)
    inp = build_inputs(orders, _chips_with(ascal), reference_models(), replace(default_scenario(), trials=10))
    assert inp.family_by_chip["h20-ascal"] == "ascend" and inp.serving_sigma_by_chip["h20-ascal"] == 0.75
    assert ("h20-ascal takes Huawei Ascend 910B2's calibration (calibrate_as) though its vendor is NVIDIA"
            in inp.notes)


# ---- 2: validation's families follow calibrate_as ----------------------------------------------------

def test_a_copy_is_its_originals_family_in_validation():
    from engine.calibration import case_family
    from engine.validation import summarize

    ours = _copy("h100-sxm5-80gb", "our-h100", "h100-sxm5-80gb")
    chips = _chips_with(ours)
    assert case_family("our-h100", chips) == "hopper" and case_family(" OUR-H100 ", chips) == "hopper"
    assert case_family("our-h100", {}) == "our-h100"                 # a chip not at hand: its bare id
    assert case_family("H100-SXM5-80GB", chips) == "hopper"
    cases = [{"status": "ok", "chip": chip, "error_pct": e, "id": str(i), "source": "s", "metric": "m", "trust": "t"}
             for i, (chip, e) in enumerate([("our-h100", 10.0), ("h100-sxm5-80gb", 20.0), ("ascend-910b2", 5.0)])]
    assert set(summarize(cases, chips)["by_family"]) == {"hopper", "ascend-910b"}


def test_leave_one_source_out_refits_a_copy_with_its_family():
    """QA: `validate training --holdout source` took an H100 copy (calibrate_as h100-sxm5-80gb) for
    a family of its own: its rows were predicted from an all-family fit, not Hopper's."""
    from engine.validation import validate_training_holdout
    from tests.conftest import SHARED

    rows = [r for r in read_csv_rows((SHARED / "validation" / "training_public.csv").read_text())
            if r["chip"] == "h100-sxm5-80gb" and r["source"].startswith(("PyTorch torchtitan", "NVIDIA Megatron-LM"))]
    rows = [{**r, "chip": "our-h100"} if r["source"].startswith("NVIDIA Megatron-LM") else r for r in rows]
    assert {r["chip"] for r in rows} == {"our-h100", "h100-sxm5-80gb"}
    result = validate_training_holdout(rows, _chips_with(_copy("h100-sxm5-80gb", "our-h100", "h100-sxm5-80gb")))
    summary = result["summary"]
    assert set(summary["by_family"]) == {"hopper"} and set(summary["in_sample_by_family"]) == {"hopper"}
    assert not any("our-h100" in note for note in summary["notes"]), summary["notes"]


def test_the_serving_refit_counts_a_copy_with_its_original():
    """QA: validation_inference matched scopes on the copy's id: a 910B2 copy's factors were refitted
    as the default scope's, not the 910B's."""
    from engine.validation_inference import fitted_parameters

    for original in ("ascend-910b2", "ascend-910c", "h100-sxm5-80gb"):
        params = fitted_parameters(_chips_with(_copy(original, "our-copy", original)))
        assert [(p["scope"], p["name"]) for p in params if original in p["chips"]] == [
            (p["scope"], p["name"]) for p in params if "our-copy" in p["chips"]], original
    assert any(p["scope"] == "ascend-910b*" and "our-copy" in p["chips"]
               for p in fitted_parameters(_chips_with(_copy("ascend-910b2", "our-copy", "ascend-910b2"))))


# ---- 3: a calibrate_as that names no chip is refused -------------------------------------------------

@pytest.mark.parametrize("value, example", [("h100", "h100-sxm5-80gb"), ("h100-typo", "h100-sxm5-80gb"),
                                            ("zz9", "h100-sxm5-80gb")])
def test_an_import_refuses_a_calibrate_as_naming_no_chip(tmp_path, capsys, value, example):
    """QA: 'h100' was taken and half applied: training hit the h100* scope, serving the generic factors."""
    db = str(tmp_path / "c.db")
    path = _write_chips(tmp_path / "bad.csv", [{**_catalog_row("h100-sxm5-80gb"), "id": "our-h100",
                                                "calibrate_as": value}])
    code, out, err = run_cli(capsys, "--db", db, "chips", "import", path)
    assert code == 1 and err.count("\n") == 1, err
    assert (f"bad.csv row 2, column calibrate_as: '{value}' (no catalog chip has this id; e.g. {example})"
            in err), err
    assert "nothing imported" in err
    store = open_store(db)
    assert "our-h100" not in {c.id for c in store.chips()}
    store.close()


def test_an_import_takes_a_calibrate_as_naming_a_chip_of_the_database_or_the_file(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    h100 = _catalog_row("h100-sxm5-80gb")
    rows = [{**h100, "id": "copy-a", "calibrate_as": "base-b"},      # named further down the file
            {**h100, "id": "base-b", "calibrate_as": "h100-sxm5-80gb"},
            {**h100, "id": "self-c", "calibrate_as": "self-c"}]      # its own id
    code, _, err = run_cli(capsys, "--db", db, "chips", "import", _write_chips(tmp_path / "ok.csv", rows))
    assert code == 0, err
    more = [{**h100, "id": "copy-d", "calibrate_as": "base-b"}]      # a chip already in the database
    code, _, err = run_cli(capsys, "--db", db, "chips", "import", _write_chips(tmp_path / "ok2.csv", more))
    assert code == 0, err


def test_the_window_edit_refuses_a_calibrate_as_naming_no_chip(tmp_path):
    store = open_store(tmp_path / "w.db")
    store.add_chip({k: {**_catalog_row("h20-96gb"), "id": "hgx-h20"}.get(k) for k in CHIP_FIELDS})
    with pytest.raises(ValidationError) as exc:
        store.update_chip("hgx-h20", "calibrate_as", "h20")
    assert exc.value.problems == ["calibrate_as: 'h20' (no catalog chip has this id; e.g. h20-96gb)"]
    assert store.chip("hgx-h20").calibrate_as == ""
    store.update_chip("hgx-h20", "calibrate_as", "h20-96gb")
    assert store.chip("hgx-h20").calibrate_as == "h20-96gb"
    store.update_chip("hgx-h20", "calibrate_as", "hgx-h20")     # its own id: a database chip
    store.update_chip("hgx-h20", "calibrate_as", "")
    store.close()


# ---- 4: another vendor's calibration is said -----------------------------------------------------------

def test_a_copy_calibrated_as_another_vendors_chip_is_said():
    """QA: an NVIDIA H20 copy calibrated as ascend-910b2 served 31-60% off with nothing said."""
    ascal = _copy("h20-96gb", "h20-ascal", "ascend-910b2", name="h20-ascal")
    assert uncalibrated_note(ascal) == ("h20-ascal takes Huawei Ascend 910B2's calibration (calibrate_as) "
                                        "though its vendor is NVIDIA")
    assert uncalibrated_note(_copy("h20-96gb", "hgx-h20", "h20-96gb")) is None          # same vendor
    assert uncalibrated_note(_copy("h20-96gb", "hgx-h20", "h20-96gb", vendor="nvidia")) is None   # any case
    assert uncalibrated_note(reference_chips()["h20-96gb"]) is None


def test_train_says_another_vendors_calibration(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    row = {**_catalog_row("h20-96gb"), "id": "h20-ascal", "name": "h20-ascal", "calibrate_as": "ascend-910b2"}
    assert run_cli(capsys, "--db", db, "chips", "import", _write_chips(tmp_path / "a.csv", [row]))[0] == 0
    code, out, err = run_cli(capsys, "--db", db, "train", "--model", "llama3-8b", "--chips", "64", "--tokens", "1e11",
                             "--chip", "h20-ascal")
    assert code == 0, err
    assert "h20-ascal takes Huawei Ascend 910B2's calibration (calibrate_as) though its vendor is NVIDIA" in out + err


# ---- 5: where a deleted built-in comes back from ------------------------------------------------------

@pytest.mark.parametrize("group, item, back", [("chips", "b200", "a backup or a chips CSV (chips export first)"),
                                               ("models", "llama3-8b", "a backup or its config.json")])
def test_a_built_ins_way_back_is_said(tmp_path, capsys, group, item, back):
    code, _, err = run_cli(capsys, "--db", str(tmp_path / "b.db"), group, "delete", item)
    assert code == 1 and f"built in, it can come back only from {back}; pass --force" in err, err


def test_a_deleted_built_in_chip_comes_back_from_a_chips_csv(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    assert run_cli(capsys, "--db", db, "chips", "export", str(tmp_path / "all.csv"))[0] == 0
    store = open_store(db)
    before = dict(store.chip("b200").calibration)
    store.close()
    assert run_cli(capsys, "--db", db, "chips", "delete", "b200", "--force")[0] == 0
    assert run_cli(capsys, "--db", db, "chips", "import", str(tmp_path / "all.csv"))[0] == 0
    store = open_store(db)
    assert dict(store.chip("b200").calibration) == before
    store.close()


def test_the_plans_inputs_carry_the_copys_band_too():
    """`plan` re-derived the bands by chip id after build_inputs: a copy took a band of its own."""
    from engine.commands.plan import default_candidates, plan_inputs
    from engine.forecast import default_scenario
    from engine.forecast_inputs import story_orders
    from engine.catalog import reference_models

    ascal = _copy("h20-96gb", "h20-ascal", "ascend-910b2", name="h20-ascal")
    chips = _chips_with(ascal)
    orders = [replace(o, chip_id="h20-ascal") if o.chip_id == "h20-96gb" else o for o in story_orders()]
    inp = plan_inputs(orders, chips, reference_models(), replace(default_scenario(), trials=10),
                      default_candidates(chips, None))
    assert inp.family_by_chip["h20-ascal"] == "ascend" and inp.serving_sigma_by_chip["h20-ascal"] == 0.75
