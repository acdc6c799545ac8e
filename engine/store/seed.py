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
        for name, params in _story_scenarios():
            store.save_scenario(name, params)
        db[META].insert({"key": "seeded_at", "value": _today()}, replace=True)


def _story_scenarios() -> list[tuple[str, dict]]:
    """The story's default and the what-ifs it asks: Huawei delivers half, or late; H20 cut off."""
    import copy

    from engine.forecast import default_scenario, scenario_from_dict, scenario_to_dict

    base = scenario_to_dict(default_scenario())
    base["name"] = DEFAULT_SCENARIO_NAME

    def variant(name: str, vendor: str, note: str, **uncertainty) -> tuple[str, dict]:
        params = copy.deepcopy(base)
        params["name"] = name
        params["vendor_uncertainty"][vendor].update(uncertainty, note=note)
        scenario_from_dict(params)  # a seed that doesn't validate is a bug: fail loudly here
        return name, params

    fixed = dict(fraction_dist="fixed", delay_dist="fixed")
    return [
        (DEFAULT_SCENARIO_NAME, base),
        variant("Huawei delivers half", "Huawei", "what-if: exactly 50% of the 910B order arrives, on schedule",
                **fixed, fraction_low=0.5, fraction_mode=0.5, fraction_high=0.5, fraction_of="order",
                delay_low_days=0.0, delay_mode_days=0.0, delay_high_days=0.0),
        variant("Huawei 6 months late", "Huawei", "what-if: the whole 910B order arrives, 6 months late",
                **fixed, fraction_low=1.0, fraction_mode=1.0, fraction_high=1.0, fraction_of="order",
                delay_low_days=182.0, delay_mode_days=182.0, delay_high_days=182.0),
        variant("H20 cut off (Apr 2025)", "NVIDIA", "what-if: no H20 beyond what was delivered before the licence rule",
                **fixed, fraction_low=0.0, fraction_mode=0.0, fraction_high=0.0, fraction_of="outstanding",
                delay_low_days=0.0, delay_mode_days=0.0, delay_high_days=0.0),
    ]


def _today() -> str:
    import datetime as dt

    return dt.date.today().isoformat()
