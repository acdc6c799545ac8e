"""Scenarios as the baseline plus listed changes: storage, the 0003 migration, the seeded what-ifs."""

import json
import re

import numpy as np
import pytest

from engine.scenario_changes import apply_changes, diff_params
from engine.store import open_store
from engine.store.schema import SCENARIOS


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "fleet.db")
    yield s
    s.close()


def test_diff_then_apply_gives_the_scenario_back():
    base = {"name": "b", "a": 1, "n": {"x": 1.0, "y": [1, 2]}, "z": "t"}
    new = {"name": "w", "a": 1, "n": {"x": 2.0, "y": [1, 2, 3]}, "z": "t", "extra": None}
    changes = diff_params(base, new)
    assert changes == {"n.x": 2.0, "n.y": [1, 2, 3], "extra": None}
    assert apply_changes(base, changes) == {**new, "name": "b"}


def test_keys_with_dots_read_back_as_they_were(store):
    """A chip id `h20.v2` or a vendor `Acme Inc.` in a what-if came back as {"h20": {"v2": ...}} and
    "Acme Inc": the share was lost and `forecast` refused the scenario."""
    base = {"allocation": {"training_share": {"h20-96gb": 0.0}},
            "vendor_uncertainty": {"Huawei": {"fraction_mode": 0.7}}}
    new = {"allocation": {"training_share": {"h20-96gb": 0.0, "h20.v2": 0.35, "back\\slash.": 0.1}},
           "vendor_uncertainty": {"Huawei": {"fraction_mode": 0.7}, "Acme Inc.": {"fraction_mode": 0.5}}}
    changes = diff_params(base, new)
    assert apply_changes(base, changes) == new
    params = store.scenario("Story default")["params"]
    params["allocation"]["training_share"]["h20.v2"] = 0.35
    params["vendor_uncertainty"]["Acme Inc."] = dict(params["vendor_uncertainty"]["Huawei"])
    store.save_scenario("dotted", params)
    back = store.scenario("dotted")
    assert back["base"] == "Story default" and back["params"]["allocation"]["training_share"]["h20.v2"] == 0.35
    assert "Acme Inc." in back["params"]["vendor_uncertainty"]


def test_seeded_what_ifs_are_stored_as_their_changes_only(store):
    rows = {r["name"]: json.loads(r["params"]) for r in store.db[SCENARIOS].rows}
    assert "vendor_uncertainty" in rows["Story default"]  # the baseline is whole
    late = rows["Huawei 6 months late"]
    assert set(late) == {"base", "changes"} and late["base"] == "Story default"
    # "later than the baseline" is its own input: the baseline's delay distribution is not copied
    assert set(late["changes"]) == {f"vendor_uncertainty.Huawei.{k}" for k in ("extra_delay_days", "note")}


def test_what_ifs_follow_an_edit_of_the_baseline(store):
    base = store.scenario("Story default")["params"]
    base["demand"]["peak_to_average"] = 1.8
    store.save_scenario("Story default", base)
    half = store.scenario("Huawei delivers half")["params"]
    assert half["demand"]["peak_to_average"] == 1.8
    assert half["vendor_uncertainty"]["Huawei"]["fraction_mode"] == 0.5


def test_renaming_or_deleting_the_baseline_keeps_every_what_if(store):
    before = {s["name"]: s["params"] for s in store.scenarios()}
    store.rename_scenario("Story default", "Base")
    assert store.baseline_name() == "Base"
    assert store.scenario("Huawei delivers half")["base"] == "Base"
    row = store.delete_scenario("Base")
    for name in ("Huawei delivers half", "Huawei 6 months late"):
        assert store.scenario(name)["params"] == before[name]  # written out in full, unchanged
    store.restore_scenario(row)
    assert store.baseline_name() == "Base"


def _leaves(d, prefix=""):
    out = set()
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out |= _leaves(v, f"{prefix}{k}.")
        else:
            out.add((f"{prefix}{k}", json.dumps(v, sort_keys=True)))
    return out


def _make_v1_database(path, extra: dict):
    """A database as version 0.1 left it: migrations 0001-0002, the v1 seed, plus `extra` scenarios."""
    import resources

    s = open_store(path)
    v1 = json.loads(resources.read_text("scenario_seed_v1.json"))
    with s.db.atomic():
        s.db[SCENARIOS].delete_where()
        for name, params in {**v1, **extra}.items():
            s.db[SCENARIOS].insert({"name": name, "params": json.dumps(params, sort_keys=True),
                                    "updated_at": "2026-01-01T00:00:00"})
        s.db["_sqlite_migrations"].delete_where("name = ?", ["0005_scenarios_as_baseline_changes"])
        s.db["meta"].delete_where("key = ?", ["baseline_scenario"])
    s.close()
    return v1


def test_migration_keeps_user_scenarios_and_upgrades_untouched_seeds(tmp_path):
    import resources

    v1 = json.loads(resources.read_text("scenario_seed_v1.json"))
    mine = json.loads(json.dumps(v1["Story default"]))
    mine["name"] = "My plan"
    mine["vendor_uncertainty"]["Huawei"]["fraction_mode"] = 0.55
    mine["demand"]["peak_to_average"] = 1.7
    edited_half = json.loads(json.dumps(v1["Huawei delivers half"]))
    edited_half["vendor_uncertainty"]["Huawei"]["fraction_mode"] = 0.5
    edited_half["vendor_uncertainty"]["Huawei"]["note"] = "my own note"
    path = tmp_path / "old.db"
    _make_v1_database(path, {"My plan": mine, "Huawei delivers half": edited_half})

    s = open_store(path)
    assert s.backup_path is not None and s.backup_path.exists()  # backed up before migrating
    v2 = json.loads(resources.read_text("scenario_seed_v2.json"))
    assert s.scenario("Story default")["params"] == v2["baseline"]
    # every value the user's scenarios held survives (fields they predate come from the baseline)
    for name, old in (("My plan", mine), ("Huawei delivers half", edited_half)):
        got = s.scenario(name)
        assert got["base"] == "Story default"
        assert _leaves(old) <= _leaves(got["params"]) | {("name", name)}, name
    # an untouched seeded what-if became the v2 definition (the baseline plus its changes)
    late = s.scenario("Huawei 6 months late")
    assert late["changes"] == v2["what_ifs"]["Huawei 6 months late"]
    s.close()


def test_migration_leaves_an_edited_baseline_alone(tmp_path):
    import resources

    v1 = json.loads(resources.read_text("scenario_seed_v1.json"))
    edited = json.loads(json.dumps(v1["Story default"]))
    edited["trials"] = 5000
    path = tmp_path / "old.db"
    _make_v1_database(path, {"Story default": edited})
    s = open_store(path)
    assert s.scenario("Story default")["params"] == edited
    # an untouched what-if becomes the user's baseline plus its change
    half = s.scenario("Huawei delivers half")["params"]
    assert half["trials"] == 5000 and half["vendor_uncertainty"]["Huawei"]["fraction_mode"] == 0.5
    s.close()


def test_frozen_v2_seed_matches_the_seed_code():
    import resources
    from engine.store.seed import _story_scenarios, story_what_ifs

    v2 = json.loads(resources.read_text("scenario_seed_v2.json"))
    code = json.loads(json.dumps(_story_scenarios()[0][1]))
    # Demand fields added after the v2 seed froze: the seed code holds them at the value a scenario
    # saved without them reads (so a migrated database and a new one mean the same scenario).
    added_since = {"slo_percentile": "p90", "length_spread": 0.0, "growth_rate_multiplier": 1.0}
    for key, default in added_since.items():
        assert code["demand"].pop(key) == default and key not in v2["baseline"]["demand"]
    # ... and so do delivery uncertainties (extra_delay_days: 0, no days on top)
    for unc in [code["default_uncertainty"], *code["vendor_uncertainty"].values(), *code["order_uncertainty"].values()]:
        assert unc.pop("extra_delay_days") == 0.0
    # Each demand point's stated uncertainty came after v2 froze (QA s23), with a clause of the
    # demand note that says so; a database seeded before keeps the exact points.
    from engine.forecast import DOUBAO_POINT_UNCERTAINTY

    for point in code["demand"]["points"]:
        sd_pct, at_least = DOUBAO_POINT_UNCERTAINTY[point["date"]]
        assert (point.pop("sd_pct", 0.0), point.pop("at_least", False)) == (sd_pct, at_least)
    clause = re.search(r", each point uncertain as its note says: .*? is a floor", code["demand"]["note"])
    assert clause is not None
    code["demand"]["note"] = code["demand"]["note"].replace(clause.group(0), "")
    assert v2["baseline"] == code
    # "Huawei 6 months late" changed after v2 froze (migration 0009 rewrites an untouched one)
    what_ifs = json.loads(json.dumps(story_what_ifs()))
    assert v2["what_ifs"].pop("Huawei 6 months late") != what_ifs.pop("Huawei 6 months late")
    assert v2["what_ifs"] == what_ifs


@pytest.fixture(scope="module")
def story_results(tmp_path_factory):
    """The four seeded scenarios run on the seeded database (1,000 trials each)."""
    from dataclasses import replace

    from engine.forecast import run_forecast, scenario_from_dict
    from engine.forecast_inputs import build_inputs

    s = open_store(tmp_path_factory.mktemp("db") / "fleet.db")
    chips = {c.id: c for c in s.chips()}
    models = {m.id: m for m in s.models()}
    out = {}
    for sc in s.scenarios():
        scenario = replace(scenario_from_dict(sc["params"]), trials=1000)
        out[sc["name"]] = run_forecast(build_inputs(s.orders(), chips, models, scenario))
    s.close()
    return out


def _at(result, day):
    import datetime as dt

    return result.months.index(dt.date.fromisoformat(day))


@pytest.mark.parametrize("name, chip", [("Huawei delivers half", "ascend-910b2"),
                                        ("Huawei 6 months late", "ascend-910b2"),
                                        ("H20 cut off (Apr 2025)", "h20-96gb")])
def test_seeded_what_ifs_are_worse_than_the_baseline(story_results, name, chip):
    base, what_if = story_results["Story default"], story_results[name]
    i = _at(base, "2025-12-01")
    assert what_if.installed_by_chip[chip].p50[i] < 0.9 * base.installed_by_chip[chip].p50[i]
    assert what_if.serving_capacity_unit_chips.p50[i] < base.serving_capacity_unit_chips.p50[i]
    # P(meet demand) never better, and worse somewhere in 2025
    assert np.all(what_if.prob_meet_demand <= base.prob_meet_demand + 0.02)
    assert (base.prob_meet_demand - what_if.prob_meet_demand).max() > 0.03
    # the 405B job runs on the 910B: later when the 910B is short, unchanged by the H20
    job_base, job_if = base.jobs[0].completion_ordinals, what_if.jobs[0].completion_ordinals
    if chip == "ascend-910b2":
        assert np.median(job_if) > np.median(job_base) + 10
    else:
        assert np.median(job_if) == np.median(job_base)


def test_migration_runs_once_and_leaves_non_forecast_scenarios_alone(tmp_path):
    path = tmp_path / "old.db"
    _make_v1_database(path, {"mine": {"x": 1}})
    s = open_store(path)
    assert s.scenario("mine")["params"] == {"x": 1}
    raw = {r["name"]: r["params"] for r in s.db[SCENARIOS].rows}
    # running it again (rows already as baseline + changes) changes nothing
    from engine.store.schema import m0005_scenarios_as_baseline_changes

    m0005_scenarios_as_baseline_changes(s.db)
    assert {r["name"]: r["params"] for r in s.db[SCENARIOS].rows} == raw
    s.close()


def test_a_vendor_removed_in_a_what_if_stays_removed(store):
    """QA: unticking Huawei's own assumptions in "Huawei delivers half" was undone on save: the
    stored changes were {} and the baseline's Huawei (fraction 0.7) came back."""
    from dataclasses import replace as dc_replace

    from engine.forecast import scenario_from_dict, scenario_to_dict

    name = "Huawei delivers half"
    sc = scenario_from_dict(store.scenario(name)["params"])
    assert "Huawei" in sc.vendor_uncertainty
    vendors = dict(sc.vendor_uncertainty)
    vendors.pop("Huawei")
    store.save_scenario(name, scenario_to_dict(dc_replace(sc, vendor_uncertainty=vendors)))
    back = store.scenario(name)
    assert back["changes"]["vendor_uncertainty.Huawei"] == {"$removed": True}
    assert "Huawei" not in scenario_from_dict(back["params"]).vendor_uncertainty
    # an edit of the baseline's Huawei does not bring it back either
    base = store.scenario("Story default")["params"]
    base["vendor_uncertainty"]["Huawei"]["fraction_mode"] = 0.65
    store.save_scenario("Story default", base)
    assert "Huawei" not in store.scenario(name)["params"]["vendor_uncertainty"]


def test_removal_is_only_for_maps_keyed_by_ids():
    base = {"vendor_uncertainty": {"A": {"x": 1}, "B": {"x": 2}}, "demand": {"scale": 1.0, "new_field": 3},
            "ui": {"plan": {"a": 1}}}
    new = {"vendor_uncertainty": {"A": {"x": 1}}, "demand": {"scale": 2.0}, "ui": {}}
    changes = diff_params(base, new)
    # a fixed field the saved scenario predates, and view state it does not carry, keep the base's
    assert changes == {"vendor_uncertainty.B": {"$removed": True}, "demand.scale": 2.0}
    assert apply_changes(base, changes) == {"vendor_uncertainty": {"A": {"x": 1}},
                                            "demand": {"scale": 2.0, "new_field": 3}, "ui": {"plan": {"a": 1}}}


def test_migration_keeps_a_vendor_an_old_what_if_had_removed(tmp_path):
    import resources

    v1 = json.loads(resources.read_text("scenario_seed_v1.json"))
    mine = json.loads(json.dumps(v1["Story default"]))
    mine["name"] = "No Huawei profile"
    mine["vendor_uncertainty"].pop("Huawei")
    path = tmp_path / "old.db"
    _make_v1_database(path, {"No Huawei profile": mine})
    s = open_store(path)
    try:
        assert "Huawei" not in s.scenario("No Huawei profile")["params"]["vendor_uncertainty"]
    finally:
        s.close()


def test_a_what_if_whose_base_is_gone_or_loops_says_so(store):
    """A hand-edited what-if over a missing base resolved to changes over nothing, and the
    forecast said "demand.model_id: '' is not a model preset"."""

    from engine.errors import UserError

    with store.db.conn:
        store.db.execute("insert into scenarios (name, params, updated_at) values (?, ?, ?)",
                         ["orphan", json.dumps({"base": "Gone", "changes": {}}), "2026-01-01T00:00:00"])
        store.db.execute("insert into scenarios (name, params, updated_at) values (?, ?, ?)",
                         ["loop", json.dumps({"base": "loop", "changes": {}}), "2026-01-01T00:00:00"])
    with pytest.raises(UserError, match="scenario 'orphan': its base scenario 'Gone' is not in the database"):
        store.scenario("orphan")
    with pytest.raises(UserError, match=r"scenario 'loop': its bases loop \(loop -> loop\)"):
        store.scenario("loop")
    assert {"orphan", "loop"} <= {s["name"] for s in store.scenarios()}   # the list still shows them
    assert store.scenario("Huawei delivers half")["base"] == "Story default"


def test_undoing_a_delete_never_overwrites_what_was_written_since(store, monkeypatch):
    """Two windows on one file: the undo of a delete puts nothing back over a scenario of that name
    made since, or over a what-if saved since; it is refused with every row as it was."""
    import copy

    from engine.errors import UserError

    row = store.delete_scenario("Story default")
    half = store.scenario("Huawei delivers half")["params"]
    edited = copy.deepcopy(half)
    edited["trials"] = 777
    store.save_scenario("Huawei delivers half", edited)          # another window's save
    with pytest.raises(UserError, match="'Huawei delivers half', built on 'Story default', was changed since"):
        store.restore_scenario(copy.deepcopy(row))
    assert store.scenario("Huawei delivers half")["params"]["trials"] == 777
    assert "Story default" not in {s["name"] for s in store.scenarios()}

    # the inputs as the delete left them, saved in a later second (an undone Save): undo works
    monkeypatch.setattr("engine.store.store._now", lambda: "2099-01-01T00:00:00")
    store.save_scenario("Huawei delivers half", half)
    store.save_scenario("Story default", {**half, "trials": 33})  # ... unless the name exists again
    with pytest.raises(UserError, match="'Story default' exists again"):
        store.restore_scenario(copy.deepcopy(row))
    assert store.scenario("Story default")["params"]["trials"] == 33
    store.delete_scenario("Story default")
    store.restore_scenario(row)
    assert store.baseline_name() == "Story default"
    assert store.scenario("Huawei delivers half")["base"] == "Story default"


# ---- lists with item identities (KEYED_LISTS) ---------------------------------------------------

def _event(chip, prob, start="2025-01-01", end="2025-12-31"):
    return {"chip_id": chip, "probability": prob, "window_start": start, "window_end": end,
            "duration_months": None, "note": ""}


def test_a_what_if_that_replaced_one_cut_off_gets_the_baselines_later_cut_offs(store):
    """QA: the "H20 cut off" what-if stored the whole cut-off list, so a 910B cut-off added to the
    baseline later never reached it, and it then read better than the baseline (910B fleet P50
    64,314 against the baseline's 29,132 in Sep 2025)."""
    base = store.scenario("Story default")["params"]
    base["policy_events"].append(_event("ascend-910b2", 1.0, "2025-01-01", "2025-01-01"))
    store.save_scenario("Story default", base)
    cut = store.scenario("H20 cut off (Apr 2025)")
    events = {e["chip_id"]: e for e in cut["params"]["policy_events"]}
    assert set(events) == {"h20-96gb", "ascend-910b2"}
    assert events["h20-96gb"]["probability"] == 1.0                # its own change kept
    assert events["ascend-910b2"] == base["policy_events"][-1]     # the baseline's new item reached it
    # the change is the one item, in words
    from engine.scenario_changes import describe_changes
    lines = describe_changes(cut["changes"], limit=None, chip_labels={"h20-96gb": "H20"})
    assert [ln for ln in lines if ln.startswith("export cut-offs")] == [
        "export cut-offs: changed H20 cut off, 100% chance on 2025-04-09"]


def test_item_changes_round_trip_and_fall_back_to_the_whole_list():
    base = {"policy_events": [_event("a", 0.5), _event("b", 0.2)],
            "jobs": [{"name": "j1", "tokens": 1.0}, {"name": "j2", "tokens": 2.0}],
            "demand": {"points": [{"date": "2025-01-01", "tokens_per_day": 1.0},
                                  {"date": "2025-06-01", "tokens_per_day": 2.0}], "serve_on": ["x"]}}
    new = {"policy_events": [_event("a", 1.0), _event("b", 0.2), _event("c", 0.1)],
           "jobs": [{"name": "j2", "tokens": 2.0}],
           "demand": {"points": [{"date": "2024-12-01", "tokens_per_day": 0.5},
                                 {"date": "2025-01-01", "tokens_per_day": 1.0},
                                 {"date": "2025-06-01", "tokens_per_day": 2.0}], "serve_on": ["x", "y"]}}
    changes = diff_params(base, new)
    assert changes["policy_events"] == {"$items": [["a", _event("a", 1.0), "changed"], ["c", _event("c", 0.1), "added"]]}
    assert changes["jobs"] == {"$items": [["j1", {"$removed": True}, "removed"]]}
    assert changes["demand.points"] == {"$items": [["2024-12-01", {"date": "2024-12-01", "tokens_per_day": 0.5},
                                                    "added"]]}
    # serve-on changes whole: an empty list means every chip, so removing items could mean "all"
    assert changes["demand.serve_on"] == ["x", "y"]
    assert apply_changes(base, changes) == new
    # two cut-offs of one chip can't be told apart, and a reordering isn't an item change: whole lists
    twice = {"policy_events": [_event("a", 0.5), _event("a", 0.9)]}
    assert diff_params(base, twice)["policy_events"] == twice["policy_events"]
    swapped = {"jobs": list(reversed(base["jobs"]))}
    assert diff_params(base, swapped)["jobs"] == swapped["jobs"]
    for other in (twice, swapped):
        assert apply_changes(base, diff_params(base, other)) == {**base, **other}


def test_added_items_keep_their_order_and_a_renamed_item_is_not_added_twice(store):
    """QA: jobs added in a what-if came back in alphabetical order (jobs on one chip queue in list
    order: finish dates moved 3 days), and a job the baseline renamed appeared twice in a what-if
    that changed it (the 405B trained twice)."""
    params = store.scenario("Story default")["params"]
    job = params["jobs"][0]
    params["jobs"] = [job, {**job, "name": "Zeta 70B", "tokens": 1e12}, {**job, "name": "Alpha 7B", "tokens": 1e11}]
    store.save_scenario("Two more jobs", params)
    assert [j["name"] for j in store.scenario("Two more jobs")["params"]["jobs"]] == [job["name"], "Zeta 70B", "Alpha 7B"]
    later = store.scenario("Story default")["params"]
    later["jobs"] = [{**job, "deadline": "2026-06-30"}]
    store.save_scenario("Later deadline", later)
    base = store.scenario("Story default")["params"]
    base["jobs"] = [{**job, "name": "405B (renamed)"}]
    store.save_scenario("Story default", base)
    names = [j["name"] for j in store.scenario("Later deadline")["params"]["jobs"]]
    assert names == ["405B (renamed)"]          # the change to the old name is not added back


def test_migration_stores_old_whole_list_changes_item_by_item_with_the_same_values(tmp_path):
    """0008 on a database whose what-if holds a whole cut-off list: the same resolved values, now
    as item changes, so a later baseline edit reaches it."""
    path = tmp_path / "old.db"
    s = open_store(path)
    before = s.scenario("H20 cut off (Apr 2025)")["params"]
    raw = json.loads(s.db[SCENARIOS].get("H20 cut off (Apr 2025)")["params"])
    raw["changes"]["policy_events"] = before["policy_events"]          # as 0.2 stored it: the whole list
    s.db[SCENARIOS].update("H20 cut off (Apr 2025)", {"params": json.dumps(raw, sort_keys=True)})
    s.db["_sqlite_migrations"].delete_where("name = ?", ["0008_what_if_list_items"])
    s.close()
    s = open_store(path)
    try:
        after = s.scenario("H20 cut off (Apr 2025)")
        assert after["params"] == before
        assert after["changes"]["policy_events"] == {"$items": [["h20-96gb", before["policy_events"][0], "changed"]]}
    finally:
        s.close()


def test_changes_the_baseline_has_caught_up_with_are_not_differences():
    """QA: Compare listed "horizon = 30 months" for a what-if once the baseline was 30 months too."""
    from engine.scenario_changes import effective_changes

    base = {"months": 30, "demand": {"scale": 1.0}, "policy_events": [_event("a", 0.5), _event("b", 0.2)]}
    changes = {"months": 30, "demand.scale": 1.2,
               "policy_events": {"$items": [["a", _event("a", 0.5), "changed"], ["b", _event("b", 1.0), "changed"],
                                            ["c", {"$removed": True}, "removed"]]}}
    assert effective_changes(base, changes) == {
        "demand.scale": 1.2, "policy_events": {"$items": [["b", _event("b", 1.0), "changed"]]}}


def test_a_changed_item_names_the_fields_that_differ():
    """QA: Compare repeated the whole job where only its deadline had changed, and read a changed
    demand point like an added one."""
    from engine.scenario_changes import describe_changes

    base = {"jobs": [{"name": "405B", "tokens": 1.5e13, "deadline": "2025-12-31"}]}
    new = {"jobs": [{"name": "405B", "tokens": 1.5e13, "deadline": "2026-03-31"},
                    {"name": "70B", "tokens": 1e12, "deadline": None}]}
    lines = describe_changes(diff_params(base, new), limit=None, base=base)
    assert lines[0] == "training jobs: changed 405B: deadline 2025-12-31 → 2026-03-31"
    assert lines[1].startswith("training jobs: added 70B")


def _as_seeded_before_point_uncertainty(path, edit=None):
    """A database whose baseline is the untouched v2 seed (exact demand points), 0010 not yet run."""
    import resources

    s = open_store(path)
    params = json.loads(resources.read_text("scenario_seed_v2.json"))["baseline"]
    params["ui"] = {"plan": {"confidence": 0.85}}
    if edit:
        edit(params)
    with s.db.atomic():
        s.db[SCENARIOS].update("Story default", {"params": json.dumps(params, sort_keys=True)})
        s.db["_sqlite_migrations"].delete_where("name = ?", ["0010_story_demand_point_uncertainty"])
    s.close()
    return params


def test_migration_0010_gives_an_untouched_baseline_the_points_uncertainty(tmp_path):
    from engine.forecast import default_scenario, scenario_to_dict

    path = tmp_path / "old.db"
    _as_seeded_before_point_uncertainty(path)
    s = open_store(path)
    got = s.scenario("Story default")["params"]
    seeded = scenario_to_dict(default_scenario())["demand"]                  # as a new database seeds it
    assert (got["demand"]["points"], got["demand"]["note"]) == (seeded["points"], seeded["note"])
    assert got["ui"] == {"plan": {"confidence": 0.85}}                        # view inputs kept
    assert [p.get("sd_pct", 0) for p in got["demand"]["points"]] == [0, 62.0, 41.0, 26.0, 21.0, 17.0]
    s.close()


def test_migration_0010_leaves_an_edited_baseline_alone(tmp_path):
    def edit(params):
        params["demand"]["points"][-1]["tokens_per_day"] = 55e12

    path = tmp_path / "old.db"
    before = _as_seeded_before_point_uncertainty(path, edit)
    s = open_store(path)
    got = s.scenario("Story default")["params"]
    assert got["demand"] == before["demand"]
    assert not any("sd_pct" in p for p in got["demand"]["points"])
    s.close()


def test_migration_0010_reaches_a_baseline_a_recent_build_seeded(tmp_path):
    """QA s23: a database seeded by the build before (its baseline has fields the v2 seed lacks:
    extra_delay_days, slo_percentile, length_spread) read as 'edited' and kept exact points."""
    def later_fields(params):
        params["demand"]["slo_percentile"] = "p90"
        params["demand"]["length_spread"] = 0.0
        params["default_uncertainty"]["extra_delay_days"] = 0.0

    path = tmp_path / "recent.db"
    before = _as_seeded_before_point_uncertainty(path, later_fields)
    s = open_store(path)
    got = s.scenario("Story default")["params"]
    assert [p.get("sd_pct", 0) for p in got["demand"]["points"]] == [0, 62.0, 41.0, 26.0, 21.0, 17.0]
    assert got["demand"]["slo_percentile"] == "p90" and got["default_uncertainty"] == before["default_uncertainty"]
    s.close()
