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
        scenario = _default_scenario_params()
        if scenario is not None:
            store.save_scenario(DEFAULT_SCENARIO_NAME, scenario)
        db[META].insert({"key": "seeded_at", "value": _today()}, replace=True)


def _default_scenario_params() -> dict | None:
    try:
        from engine.forecast import default_scenario, scenario_to_dict
    except ImportError:
        return None
    return scenario_to_dict(default_scenario())


def _today() -> str:
    import datetime as dt

    return dt.date.today().isoformat()
