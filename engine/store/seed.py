"""First-launch seed: the sourced chip catalog, default calibration, model presets, the story's
orders and the default scenario, all in one transaction."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import resources
from engine.catalog import CHIP_FIELDS, read_csv_rows
from engine.store.schema import CHIPS, META
from engine.validate import check_chip, check_model

DEFAULT_SCENARIO_NAME = "Story default"
LATE_NOTE = ("what-if: every 910B lot ships 6 months (182 days) later than the baseline assumes, on top of "
             "the baseline's delay; fulfilment as in the baseline")


def seed(store) -> None:
    db = store.db
    with db.atomic():
        chips = [check_chip({k: row.get(k) for k in CHIP_FIELDS}) for row in read_csv_rows(resources.read_text("chips.csv"))]
        db[CHIPS].insert_all(chips)
        for data in json.loads(resources.read_text("models.json"))["models"]:
            store.save_model(check_model(data))
        with tempfile.TemporaryDirectory() as tmp:
            orders = Path(tmp) / "orders_seed.csv"
            orders.write_text(resources.read_text("orders_seed.csv"), encoding="utf-8")
            store.import_orders_csv(orders)
        for row in store.delivery_rows():
            store.db["deliveries"].update(row["id"], {"note": "seed (see the order's note for what is sourced)"})
        scenarios = _story_scenarios()
        store.save_scenario(*scenarios[0])
        db[META].insert({"key": store.BASELINE_KEY, "value": DEFAULT_SCENARIO_NAME}, replace=True)
        for name, params in scenarios[1:]:  # stored as the baseline plus their changes
            store.save_scenario(name, params)
        db[META].insert({"key": "seeded_at", "value": _today()}, replace=True)


def _story_scenarios() -> list[tuple[str, dict]]:
    """The story's baseline and the what-ifs it asks, each the baseline plus the listed changes."""
    from engine.forecast import default_scenario, scenario_from_dict, scenario_to_dict
    from engine.scenario_changes import apply_changes

    base = scenario_to_dict(default_scenario())
    base["name"] = DEFAULT_SCENARIO_NAME
    out = [(DEFAULT_SCENARIO_NAME, base)]
    for name, changes in story_what_ifs().items():
        params = apply_changes(base, changes)
        params["name"] = name
        scenario_from_dict(params)  # a seed that doesn't validate is a bug: fail loudly here
        out.append((name, params))
    return out


def story_what_ifs() -> dict[str, dict]:
    """Changes from the baseline; each is worse than the baseline in the way its name says."""
    hu = "vendor_uncertainty.Huawei."
    return {
        "Huawei delivers half": {
            hu + "fraction_dist": "fixed", hu + "fraction_low": 0.5, hu + "fraction_mode": 0.5,
            hu + "fraction_high": 0.5, hu + "fraction_of": "order",
            # every order from the vendor, a plan's proposed ones too (engine.forecast draws a planned
            # order from its maker's profile): "the 910B order" read as the one placed in 2024 (QA s28)
            hu + "note": "what-if: exactly half of every 910B order, placed or planned, is ever delivered "
                         "(baseline: 40-100%); delays as in the baseline"},
        # The shift is an input of its own (extra_delay_days), not the baseline's delays plus 182
        # written out: those stayed put when the baseline's delay was edited, and the what-if
        # read earlier than the baseline (migration 0009 rewrites the old seeded form).
        "Huawei 6 months late": {
            hu + "extra_delay_days": 182.0,
            hu + "note": LATE_NOTE},
        "H20 cut off (Apr 2025)": {
            "policy_events": [{"chip_id": "h20-96gb", "probability": 1.0, "window_start": "2025-04-09",
                               "window_end": "2025-04-09", "duration_months": None,
                               "note": "what-if: the US licence requirement of 9 Apr 2025 stops every H20 "
                                       "not delivered by then, for good"}]},
    }


def _today() -> str:
    import datetime as dt

    return dt.date.today().isoformat()
