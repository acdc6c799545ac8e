"""Migration 0009: a stored "Huawei 6 months late" holding exactly the old seeded changes (absolute
delays 182/272/547 days and the old note) becomes 182 days on top of the baseline's delay; a what-if
anyone edited is left exactly as it is."""

import json
from dataclasses import replace

import numpy as np
import pytest

from engine.store import open_store
from engine.store.schema import SCENARIOS, m0009_late_what_if_as_extra_delay

NAME = "Huawei 6 months late"
HU = "vendor_uncertainty.Huawei."
OLD = {HU + "delay_low_days": 182.0, HU + "delay_mode_days": 272.0, HU + "delay_high_days": 547.0,
       HU + "note": "what-if: every 910B lot ships 6 months (182 days) later than the baseline assumes; "
                    "fulfilment as in the baseline"}
MIGRATION = "0009_late_what_if_as_extra_delay"


def _database_at_0008(path, params: dict | None) -> None:
    """A database as 0008 left it: the what-if stored as `params` (None: no such scenario) and
    migration 0009 not applied."""
    s = open_store(path)
    with s.db.atomic():
        if params is None:
            s.db[SCENARIOS].delete(NAME)
        else:
            s.db[SCENARIOS].update(NAME, {"params": json.dumps(params, sort_keys=True)})
        s.db["_sqlite_migrations"].delete_where("name = ?", [MIGRATION])
    s.close()


def _raw(s) -> dict:
    return {r["name"]: r["params"] for r in s.db[SCENARIOS].rows}


def test_the_untouched_seeded_what_if_becomes_182_days_on_top_of_the_baseline(tmp_path):
    from engine.store.seed import story_what_ifs

    path = tmp_path / "old.db"
    _database_at_0008(path, {"base": "Story default", "changes": OLD})
    s = open_store(path)
    try:
        assert s.backup_path is not None and s.backup_path.exists()   # backed up before migrating
        late = s.scenario(NAME)
        assert late["base"] == "Story default"
        assert late["changes"] == story_what_ifs()[NAME] == {
            HU + "extra_delay_days": 182.0,
            HU + "note": "what-if: every 910B lot ships 6 months (182 days) later than the baseline assumes, "
                         "on top of the baseline's delay; fulfilment as in the baseline"}
        huawei, base = late["params"]["vendor_uncertainty"]["Huawei"], s.scenario("Story default")["params"]
        assert {k: v for k, v in huawei.items() if k not in ("note", "extra_delay_days")} == \
            {k: v for k, v in base["vendor_uncertainty"]["Huawei"].items() if k not in ("note", "extra_delay_days")}
        # it now follows an edit of the baseline's delay, and stays 182 days on top of it
        base["vendor_uncertainty"]["Huawei"].update(delay_low_days=150.0, delay_mode_days=300.0, delay_high_days=700.0)
        s.save_scenario("Story default", base)
        huawei = s.scenario(NAME)["params"]["vendor_uncertainty"]["Huawei"]
        assert (huawei["delay_low_days"], huawei["delay_mode_days"], huawei["delay_high_days"],
                huawei["extra_delay_days"]) == (150.0, 300.0, 700.0, 182.0)
    finally:
        s.close()


def test_under_the_seeded_baseline_the_rewrite_changes_no_figure(tmp_path):
    """Baseline Huawei delay 0/90/365 days: the old 182/272/547 is that plus 182 written out, and a
    triangular quantile shifts with its three points, so each trial's delay is the same."""
    from engine.forecast import run_forecast, scenario_from_dict
    from engine.forecast_inputs import build_inputs

    path = tmp_path / "old.db"
    _database_at_0008(path, {"base": "Story default", "changes": OLD})

    def installed(s):
        chips, models = {c.id: c for c in s.chips()}, {m.id: m for m in s.models()}
        sc = replace(scenario_from_dict(s.scenario(NAME)["params"]), trials=500)
        return run_forecast(build_inputs(s.orders(), chips, models, sc)).installed_by_chip["ascend-910b2"]

    s = open_store(path)
    try:
        after = installed(s)
        # the old changes put back as 0008 left them, resolved by the same engine
        s.db[SCENARIOS].update(NAME, {"params": json.dumps({"base": "Story default", "changes": OLD}, sort_keys=True)})
        before = installed(s)
    finally:
        s.close()
    for band in ("p10", "p50", "p90"):
        assert np.array_equal(getattr(after, band), getattr(before, band)), band


@pytest.mark.parametrize("edit", [
    {HU + "delay_mode_days": 300.0},                       # the user's own delay
    {HU + "note": "my own reason"},                        # only the note
    {"months": 36},                                        # another change beside the seeded ones
    {HU + "fraction_mode": 0.9},
])
def test_a_what_if_anyone_edited_is_left_exactly_as_it_is(tmp_path, edit):
    path = tmp_path / "old.db"
    _database_at_0008(path, {"base": "Story default", "changes": {**OLD, **edit}})
    before = json.loads(json.dumps({"base": "Story default", "changes": {**OLD, **edit}}, sort_keys=True))
    s = open_store(path)
    try:
        assert json.loads(s.db[SCENARIOS].get(NAME)["params"]) == before
        assert s.scenario(NAME)["params"]["vendor_uncertainty"]["Huawei"].get("extra_delay_days", 0.0) == 0.0
    finally:
        s.close()


def test_saved_view_inputs_do_not_count_and_are_kept(tmp_path):
    path = tmp_path / "old.db"
    ui = {"ui.training.num_chips": 1024, "ui.inference.batch": 8}
    _database_at_0008(path, {"base": "Story default", "changes": {**OLD, **ui}})
    s = open_store(path)
    try:
        changes = s.scenario(NAME)["changes"]
        assert changes[HU + "extra_delay_days"] == 182.0 and HU + "delay_mode_days" not in changes
        assert {k: v for k, v in changes.items() if k.startswith("ui.")} == ui
    finally:
        s.close()


def test_a_whole_or_missing_or_other_what_if_is_left_alone(tmp_path):
    path = tmp_path / "old.db"
    s = open_store(path)
    whole = s.scenario(NAME)["params"]     # written out in full (its baseline was deleted once)
    s.close()
    _database_at_0008(path, whole)
    s = open_store(path)
    try:
        assert json.loads(s.db[SCENARIOS].get(NAME)["params"]) == json.loads(json.dumps(whole))
        # the old changes under another name are a user's own what-if: not this migration's
        s.db[SCENARIOS].insert({"name": "Mine", "params": json.dumps({"base": "Story default", "changes": OLD}),
                                "updated_at": "2026-01-01T00:00:00"})
        raw = _raw(s)
        m0009_late_what_if_as_extra_delay(s.db)   # run again: nothing to do
        assert _raw(s) == raw
    finally:
        s.close()
    path2 = tmp_path / "none.db"
    _database_at_0008(path2, None)
    s = open_store(path2)
    try:
        assert NAME not in _raw(s)
    finally:
        s.close()
