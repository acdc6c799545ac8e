"""QA s25 (W3): `chips delete` warns of the views that list the chip among several: the Training
view's scaling curve and the Inference view's chip comparison (saved, else their default list),
and a Plan candidate list that names it. Deleting the H100 said nothing while the Training curve
went from 4 chip types to 3."""

import json

from engine.store import open_store
from engine.studies import DEFAULT_COMPARE_CHIPS
from tests.cli_run import run_cli

H100 = "h100-sxm5-80gb"


def _delete(capsys, db, chip_id=H100):
    code, out, err = run_cli(capsys, "--db", db, "chips", "delete", chip_id, "--force", "--format", "json")
    assert code == 0, err
    return json.loads(out)["warnings"]


def _save(db, name, ui):
    store = open_store(db)
    params = store.scenario("Story default")["params"]
    store.save_scenario(name, {**params, "ui": ui})
    store.close()


def test_the_default_compare_lists_are_warned_of(capsys, tmp_path):
    assert H100 in DEFAULT_COMPARE_CHIPS   # the QA's case: the views' default list holds it
    db = str(tmp_path / "d.db")
    _save(db, "Bare", {})   # no saved view inputs: both views show their default list
    warnings = _delete(capsys, db)
    assert ("scenario 'Bare': its Training and Inference views compare h100-sxm5-80gb among their chips; they "
            "will compare one chip type fewer") in warnings
    assert any(w.startswith("scenario 'Story default': ") and "compare h100-sxm5-80gb" in w for w in warnings)


def test_a_saved_list_is_read_and_one_view_is_singular(capsys, tmp_path):
    db = str(tmp_path / "d.db")
    _save(db, "Own lists", {"training": {"compare_chips": ["ascend-910b2", H100]},
                            "inference": {"compare_chips": ["ascend-910b2", "h20-96gb"]}})
    warnings = [w for w in _delete(capsys, db) if w.startswith("scenario 'Own lists'")]
    assert warnings == ["scenario 'Own lists': its Training view compares h100-sxm5-80gb among its chips; it will "
                        "compare one chip type fewer"]


def test_a_list_without_the_chip_gives_no_warning(capsys, tmp_path):
    db = str(tmp_path / "d.db")
    _save(db, "No H100", {"training": {"compare_chips": ["ascend-910b2"]}, "inference": {"compare_chips": []}})
    assert not [w for w in _delete(capsys, db) if w.startswith("scenario 'No H100'")]


def test_the_plan_candidates_a_scenario_names_are_warned_of(capsys, tmp_path):
    db = str(tmp_path / "d.db")
    lists = {"training": {"compare_chips": []}, "inference": {"compare_chips": []}}
    _save(db, "Buys H100", {**lists, "plan": {"candidates": {H100: {"use": True, "max_per_quarter": 5000}}}})
    _save(db, "Drops H100", {**lists, "plan": {"candidates": {H100: {"use": False}}}})
    warnings = _delete(capsys, db)
    assert [w for w in warnings if w.startswith("scenario 'Buys H100'")] == [
        "scenario 'Buys H100': its Plan view lists h100-sxm5-80gb among the chips to buy; the plan will no longer "
        "consider it"]
    assert not [w for w in warnings if w.startswith("scenario 'Drops H100'")]


def test_the_text_output_says_it_too(capsys, tmp_path):
    db = str(tmp_path / "d.db")
    code, out, err = run_cli(capsys, "--db", db, "chips", "delete", H100, "--force")
    assert code == 0, err
    assert ("warning: scenario 'Story default': its Training and Inference views compare h100-sxm5-80gb among "
            "their chips; they will compare one chip type fewer") in out.splitlines()
