"""A what-if's changed list item whose key the baseline no longer has (QA s21 K): removing the H20
cut-off from the baseline turned "H20 cut off (Apr 2025)" into the baseline while Compare still
listed its cut-off. Now it is applied as an added item, and the words say what is applied."""

from engine.scenario_changes import apply_changes, describe_changes, diff_params, effective_changes
from engine.store import open_store


def _event(chip, prob):
    return {"chip_id": chip, "probability": prob, "window_start": "2025-04-09", "window_end": "2025-04-09"}


def test_a_cut_off_the_baseline_no_longer_has_is_added_and_said_so():
    base = {"policy_events": [_event("h20", 0.5)]}
    changes = diff_params(base, {"policy_events": [_event("h20", 1.0)]})
    assert changes["policy_events"]["$items"][0][2] == "changed"
    later = {"policy_events": []}
    assert apply_changes(later, changes)["policy_events"] == [_event("h20", 1.0)]
    shown = describe_changes(effective_changes(later, changes), limit=None, chip_labels={"h20": "H20"}, base=later)
    assert shown == ["export cut-offs: added H20 cut off, 100% chance on 2025-04-09"]
    # a baseline without any cut-off list reads the same way
    assert apply_changes({}, changes)["policy_events"] == [_event("h20", 1.0)]
    assert describe_changes(changes, base={}, chip_labels={"h20": "H20"})[0].startswith("export cut-offs: added H20")


def test_demand_points_and_allocation_steps_keep_their_changed_item_too():
    point = {"date": "2025-06-01", "tokens_per_day": 2.0}
    step = {"start": "2025-06-01", "chip_id": "h20", "training_share": 0.3}
    base = {"demand": {"points": [{"date": "2025-01-01", "tokens_per_day": 1.0}, point]},
            "allocation": {"steps": [step]}}
    what_if = {"demand": {"points": [base["demand"]["points"][0], {**point, "tokens_per_day": 3.0}]},
               "allocation": {"steps": [{**step, "training_share": 0.6}]}}
    changes = diff_params(base, what_if)
    later = {"demand": {"points": [{"date": "2025-01-01", "tokens_per_day": 1.0},
                                   {"date": "2025-07-01", "tokens_per_day": 2.5}]},   # the point moved
             "allocation": {"steps": []}}
    resolved = apply_changes(later, changes)
    assert [p["date"] for p in resolved["demand"]["points"]] == ["2025-01-01", "2025-06-01", "2025-07-01"]
    assert resolved["allocation"]["steps"] == [{**step, "training_share": 0.6}]
    lines = describe_changes(effective_changes(later, changes), limit=None, base=later)
    assert [ln.split(": ")[1].split(" ")[0] for ln in lines] == ["added", "added"]


def test_a_job_the_baseline_renamed_is_not_trained_twice_and_the_change_says_it_is_not_applied():
    job = {"name": "405B", "tokens": 1.5e13, "deadline": "2025-12-31"}
    base = {"jobs": [job]}
    changes = diff_params(base, {"jobs": [{**job, "deadline": "2026-03-31"}]})
    renamed = {"jobs": [{**job, "name": "405B v2"}]}
    assert apply_changes(renamed, changes)["jobs"] == renamed["jobs"]
    assert describe_changes(effective_changes(renamed, changes), base=renamed) == [
        "training jobs: changed 405B: not applied, the baseline has no 405B now"]


def test_items_read_as_applied_to_the_baseline_now():
    """An added cut-off the baseline has since replaces the baseline's (a change, named by its
    fields); removing one the baseline no longer has does nothing, and is not listed."""
    changes = {"policy_events": {"$items": [["a", _event("a", 1.0), "added"],
                                            ["b", {"$removed": True}, "removed"]]}}
    base = {"policy_events": [_event("a", 0.5)]}
    assert describe_changes(changes, base=base) == ["export cut-offs: a cut-off replaces the baseline's (50% from 2025-04-09) with 100% from 2025-04-09"]
    assert describe_changes(changes) == ["export cut-offs: added a cut off, 100% chance on 2025-04-09",
                                         "export cut-offs: b removed"]   # without the base: as stored


def test_the_stored_what_if_keeps_its_cut_off_when_the_baseline_drops_its_own(tmp_path):
    store = open_store(tmp_path / "k.db")
    try:
        base = store.scenario("Story default")["params"]
        base["policy_events"] = []
        store.save_scenario("Story default", base)
        cut = store.scenario("H20 cut off (Apr 2025)")
        assert [(e["chip_id"], e["probability"]) for e in cut["params"]["policy_events"]] == [("h20-96gb", 1.0)]
        words = describe_changes(effective_changes(base, cut["changes"]), limit=None,
                                 chip_labels={"h20-96gb": "H20"}, base=base)
        assert [w for w in words if w.startswith("export cut-offs")] == [
            "export cut-offs: added H20 cut off, 100% chance on 2025-04-09"]
    finally:
        store.close()
