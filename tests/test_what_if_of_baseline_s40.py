"""The CLI describes a what-if by its differences from the database's baseline, as Compare does (QA
s40): one built on another scenario read "what-if of 'Huawei delivers half'" with JSON `baseline` that
scenario, and one stored whole after Make baseline read as a forecast of its own (`baseline: null`)."""

import copy

from engine.commands.forecast import what_if_of
from engine.store import open_store


def test_a_chained_and_a_whole_what_if_read_against_the_baseline(tmp_path):
    store = open_store(tmp_path / "w.db")
    try:
        assert store.baseline_name() == "Story default"
        half = store.scenario("Huawei delivers half")
        assert half["base"] == "Story default"
        base, changes = what_if_of(store, "Huawei delivers half")
        assert base == "Story default" and changes and not changes[0].startswith(("built on", "stored in full"))
        # the QA's round trip: Make baseline on the what-if, a what-if built on it, the story made the
        # baseline again (the old what-if is then stored whole, the new one built on it)
        store.set_baseline("Huawei delivers half")
        store.save_scenario("Half + late", {**half["params"], "vendor_uncertainty": {
            **half["params"]["vendor_uncertainty"],
            "Huawei": {**half["params"]["vendor_uncertainty"]["Huawei"], "extra_delay_days": 182.0}}})
        store.set_baseline("Story default")
        assert store.scenario("Half + late")["base"] == "Huawei delivers half"
        assert not store.scenario("Huawei delivers half").get("base")
        base, changes = what_if_of(store, "Half + late")
        assert base == "Story default"
        assert changes[0] == "built on 'Huawei delivers half', not the baseline; from the baseline"
        said = " ".join(changes)
        assert "182" in said and "50%" in said        # its own change and the one it inherits
        base, changes = what_if_of(store, "Huawei delivers half")
        assert base == "Story default" and changes[0] == "stored in full; from the baseline"
        assert "50%" in " ".join(changes[1:])
        # the baseline itself is no what-if; a new scenario is built on the baseline
        assert what_if_of(store, "Story default") == (None, [])
        shorter = copy.deepcopy(store.scenario("Story default")["params"])
        shorter["months"] = 36
        store.save_scenario("Shorter", shorter)
        base, changes = what_if_of(store, "Shorter")
        assert base == "Story default" and len(changes) == 1 and "36" in changes[0]
    finally:
        store.close()
