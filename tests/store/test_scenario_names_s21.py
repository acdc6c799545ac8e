"""Scenario names that read as one on screen (QA s21): 'Huawei  delivers half' (two spaces), a
no-break space, or 'Café' with a combining accent was saved beside the name it reads as; the
store refuses the twin (so the window, the CLI and imports all do) and a lookup by it points at
the stored name."""

import pytest

from engine.cli import main
from engine.errors import UserError, ValidationError
from engine.store import open_store

SEEDED = "Huawei delivers half"


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "names.db")
    yield s
    s.close()


def _names(store) -> list[str]:
    return [s["name"] for s in store.scenarios()]


@pytest.mark.parametrize("twin, how", [
    ("Huawei  delivers half", "spacing or case"),     # two spaces
    ("Huawei\u00a0delivers half", "spacing or case"),  # a no-break space
    ("Huawei\u3000Delivers half", "spacing or case"),  # an ideographic space, and a capital
    ("huawei delivers HALF", "case"),
])
def test_a_new_name_that_reads_as_a_saved_one_is_refused(store, twin, how):
    params = store.scenario(SEEDED)["params"]
    before = _names(store)
    with pytest.raises(ValidationError) as refused:
        store.save_scenario(twin, params)
    assert f"differs from the scenario '{SEEDED}' only in {how}" in str(refused.value)
    assert _names(store) == before


def test_an_accent_typed_two_ways_is_one_name(store):
    from engine.store.store import scenario_key

    params = {"fulfilment": 0.5}
    store.save_scenario("Cafe\u0301", params)          # e + combining acute accent
    with pytest.raises(ValidationError, match="only in Unicode form"):
        store.save_scenario("Caf\u00e9", params)       # one character
    assert [n for n in _names(store) if n.startswith("Caf")] == ["Cafe\u0301"]
    assert scenario_key("Caf\u00e9") == scenario_key(" CAFE\u0301 ")


def test_a_rename_onto_a_name_that_reads_as_another_is_refused(store):
    store.save_scenario("Mine", {"fulfilment": 0.5})
    with pytest.raises(ValidationError, match=f"differs from the scenario '{SEEDED}' only in spacing"):
        store.rename_scenario("Mine", "Huawei  delivers  half")
    # a scenario's own name respelt is not a twin of itself
    store.rename_scenario("Mine", "MINE")
    assert "MINE" in _names(store) and "Mine" not in _names(store)


def test_twins_stored_before_are_kept_and_can_still_be_saved(store):
    """No rename of what is stored: each of two existing twins is saved over as it is."""
    row = store.scenario_row(SEEDED)
    store.put_scenario_row({**row, "name": "Huawei  delivers half"})   # as an older version stored it
    params = store.scenario(SEEDED)["params"]
    store.save_scenario("Huawei  delivers half", params)
    store.save_scenario(SEEDED, params)
    assert {SEEDED, "Huawei  delivers half"} <= set(_names(store))


def test_a_lookup_by_a_name_that_reads_as_a_saved_one_says_which(store, tmp_path, capsys):
    with pytest.raises(UserError, match=r"scenario 'huawei  delivers half': not found \(did you mean "
                                        f"'{SEEDED}'\\?\\)"):
        store.scenario("huawei  delivers half")
    with pytest.raises(UserError, match=r"not found \(saved: "):
        store.scenario("nothing like it")
    store.close()
    code = main(["--db", str(tmp_path / "names.db"), "forecast", "--scenario", "Huawei\u00a0delivers half"])
    assert code == 1
    assert f"did you mean '{SEEDED}'?" in capsys.readouterr().err
