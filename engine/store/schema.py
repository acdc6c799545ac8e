"""Tables and numbered migrations. A shipped migration is never edited: add a new one."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from engine.errors import UserError

# Table names as constants: a typo would otherwise create a new table silently.
CHIPS = "chips"
CALIBRATION = "calibration"
ORDERS = "orders"
DELIVERIES = "deliveries"
MODELS = "models"
SCENARIOS = "scenarios"
META = "meta"
ALL_TABLES = (CHIPS, CALIBRATION, ORDERS, DELIVERIES, MODELS, SCENARIOS, META)

MIGRATION_SET = "fleetcast"
migrations = Migrations(MIGRATION_SET)


@migrations(name="0001_initial")
def m0001_initial(db: Database) -> None:
    db.table(CHIPS).create(
        {
            "id": str, "vendor": str, "name": str, "year": int,
            "fp32_tflops": float, "tf32_tflops": float, "bf16_tflops": float, "fp16_tflops": float,
            "fp8_tflops": float, "int8_tops": float, "hbm_gb": float, "hbm_gbps": float,
            "scaleup_name": str, "scaleup_gbps": float, "scaleup_domain": int, "chips_per_node": int,
            "scaleout_gbps": float, "tdp_w": float, "price_usd": float, "china_market": str,
            "confidence": str, "sources": str, "notes": str,
        },
        pk="id",
        not_null={"vendor", "name"},
    )
    db.table(CALIBRATION).create(
        {"chip_id": str, "factor": str, "value": float, "note": str},
        pk=("chip_id", "factor"),
        foreign_keys=[("chip_id", CHIPS, "id")],
        not_null={"value"},
    )
    db.table(ORDERS).create(
        {
            "id": int, "buyer": str, "vendor": str, "chip_id": str, "quantity": int,
            "order_date": str, "promised": str, "price_usd_per_chip": float,
            "status": str, "source": str, "note": str,
        },
        pk="id",
        foreign_keys=[("chip_id", CHIPS, "id")],
        not_null={"buyer", "vendor", "chip_id", "quantity", "order_date"},
    )
    db.table(DELIVERIES).create(
        {"id": int, "order_id": int, "date": str, "quantity": int, "note": str},
        pk="id",
        foreign_keys=[("order_id", ORDERS, "id")],
        not_null={"order_id", "date", "quantity"},
    )
    db.table(DELIVERIES).create_index(["order_id"])
    db.table(MODELS).create(
        {
            "id": str, "name": str, "layers": int, "hidden": int, "heads": int, "kv_heads": int,
            "ffn_hidden": int, "vocab": int, "seq_len": int, "head_dim": int, "gated_ffn": int,
            "tied_embeddings": int, "moe_experts": int, "moe_shared_experts": int, "moe_topk": int,
            "moe_ffn_hidden": int, "moe_dense_layers": int, "q_lora_rank": int, "kv_lora_rank": int,
            "qk_nope_head_dim": int, "qk_rope_head_dim": int, "v_head_dim": int,
            "params_b_reported": float, "source": str,
        },
        pk="id",
        not_null={"name", "layers", "hidden", "heads", "kv_heads", "vocab"},
    )
    db.table(SCENARIOS).create({"name": str, "params": str, "updated_at": str}, pk="name", not_null={"params"})
    db.table(META).create({"key": str, "value": str}, pk="key")


# ---- ids never handed out twice ---------------------------------------------------------------
# Orders and deliveries have an INTEGER PRIMARY KEY, for which SQLite gives max(id) + 1: the id
# of a deleted last order came back for the next one, which then inherited what referred to the
# old one (a scenario's per-order uncertainty, an undo step that restores the old order, a redo
# that deletes "order 3"). The highest id ever given is kept in `meta` instead of rebuilding the
# tables with AUTOINCREMENT (a rebuild needs foreign keys off, which a migration can't do).

def _last_id_key(table: str) -> str:
    return f"last_id.{table}"


def last_id(conn, table: str) -> int:
    """The largest id `table` has ever handed out (0 when not recorded)."""
    row = conn.execute(f"select value from {META} where key = ?", [_last_id_key(table)]).fetchone()
    try:
        return int(row[0]) if row else 0
    except (TypeError, ValueError):   # written by another tool: the ids in the table still count
        return 0


def note_id(conn, table: str, row_id: int) -> None:
    """An id written into `table` (given by a file, restored by undo): never handed out again."""
    if int(row_id) > last_id(conn, table):
        conn.execute(f"insert or replace into {META} (key, value) values (?, ?)", [_last_id_key(table), str(int(row_id))])


SQLITE_MAX_INT = 2**63 - 1
# The largest order id: 2^53 - 1, exact in JSON and in a spreadsheet; an export with a larger id
# can't be imported (engine.store.transfer refuses it), so none is handed out.
ORDER_ID_MAX = 2**53 - 1


def claim_id(conn, table: str) -> int:
    """A new id for `table`: above every id it holds and every id it ever held (call inside the
    transaction that inserts the row). An order's id stays at or below ORDER_ID_MAX: one above it
    could not be imported back from the database's own export (a file gave 2^53 - 1, the next
    order got 2^53)."""
    ceiling = ORDER_ID_MAX if table == ORDERS else SQLITE_MAX_INT
    top = conn.execute(f"select coalesce(max(id), 0) from {table}").fetchone()[0]
    new_id = max(last_id(conn, table), int(top)) + 1
    if new_id > ceiling:   # a file may hold (or have held) the largest id there is
        raise UserError(f"{table}: no id left for a new row (ids up to {ceiling:,} have been given); "
                        f"give the row with id {new_id - 1:,} a smaller one and add rows with ids of their own")
    note_id(conn, table, new_id)
    return new_id


def known_migration_names() -> list[str]:
    return [m.name for m in migrations._migrations]


@migrations(name="0002_scenario_description")
def m0002_scenario_description(db: Database) -> None:
    # A free-text description shown next to a scenario's name in Compare.
    db.table(SCENARIOS).add_column("description", str, not_null_default="")


@migrations(name="0003_chip_network_topology")
def m0003_chip_network_topology(db: Database) -> None:
    # The scale-up fabric's kind and per-link speed and the scale-out oversubscription
    # (engine/topology.py); blank in an older database means switch / aggregate / non-blocking.
    # Chips seeded from the packaged catalog get the packaged values.
    import resources
    from engine.catalog import read_csv_rows

    table = db.table(CHIPS)
    table.add_column("scaleup_topology", str)
    table.add_column("scaleup_link_gbps", float)
    table.add_column("scaleout_oversubscription", float)
    packaged = {r["id"]: r for r in read_csv_rows(resources.read_text("chips.csv"))}
    for row in list(table.rows):
        src = packaged.get(row["id"])
        if src is None:
            continue
        update = {}
        if src.get("scaleup_topology"):
            update["scaleup_topology"] = src["scaleup_topology"]
        for name in ("scaleup_link_gbps", "scaleout_oversubscription"):
            if src.get(name):
                update[name] = float(src[name])
        if update:
            table.update(row["id"], update)


@migrations(name="0004_chip_fp4_tflops")
def m0004_chip_fp4_tflops(db: Database) -> None:
    # Dense FP4 matrix rate (Blackwell NVFP4). Existing catalogs get the published values of
    # the parts shipped with this release; a user's own rows stay blank (no FP4).
    db.table(CHIPS).add_column("fp4_tflops", float)
    for chip_id, tflops in (("b200", 9000.0), ("gb200", 10000.0)):
        db.execute(f"UPDATE {CHIPS} SET fp4_tflops = ? WHERE id = ?", [tflops, chip_id])


@migrations(name="0005_scenarios_as_baseline_changes")
def m0005_scenarios_as_baseline_changes(db: Database) -> None:
    # Scenarios become "the baseline plus listed changes". Every stored scenario keeps its values
    # exactly (it is rewritten as its difference from the baseline), except the four seeded ones
    # that nobody edited: those take the forecast v2 seed (resources/scenario_seed_v2.json, frozen
    # with this migration), whose what-ifs are worse than the baseline in the way their names say.
    import json

    import resources
    from engine.scenario_changes import diff_params

    rows = {r["name"]: r for r in db.table(SCENARIOS).rows}
    baseline = "Story default"
    if baseline not in rows:
        return
    v1 = json.loads(resources.read_text("scenario_seed_v1.json"))
    v2 = json.loads(resources.read_text("scenario_seed_v2.json"))

    def untouched(params: dict, seeded: dict) -> bool:  # the GUI's saved inputs ("ui") don't count
        strip = lambda d: {k: v for k, v in d.items() if k != "ui"}  # noqa: E731
        return strip(params) == strip(seeded)

    base_params = json.loads(rows[baseline]["params"])
    if untouched(base_params, v1[baseline]):
        ui = {"ui": base_params["ui"]} if "ui" in base_params else {}
        base_params = {**v2["baseline"], **ui}
        db.table(SCENARIOS).update(baseline, {"params": json.dumps(base_params, sort_keys=True)})
    for name, row in rows.items():
        if name == baseline:
            continue
        params = json.loads(row["params"])
        if not isinstance(params, dict) or set(params) == {"base", "changes"} \
                or not {"demand", "vendor_uncertainty"} <= set(params):
            continue  # already in this form, or not a forecast scenario: left exactly as it is
        if name in v2["what_ifs"] and name in v1 and untouched(params, v1[name]):
            changes = dict(v2["what_ifs"][name])
            if "ui" in params:
                changes["ui"] = params["ui"]
        else:
            # Every value it holds is kept; fields it predates (policy events, demand growth
            # model, ...) come from the baseline, as for any what-if.
            changes = diff_params(base_params, params)
        db.table(SCENARIOS).update(name, {"params": json.dumps({"base": baseline, "changes": changes}, sort_keys=True)})
    db.table("meta").insert({"key": "baseline_scenario", "value": baseline}, replace=True)


@migrations(name="0006_ids_never_reused")
def m0006_ids_never_reused(db: Database) -> None:
    # From here on an order or delivery id is never handed out twice (claim_id): the ids a file
    # holds when it is upgraded count as given.
    for table in (ORDERS, DELIVERIES):
        top = db.execute(f"select coalesce(max(id), 0) from {table}").fetchone()[0]
        note_id(db.conn, table, int(top))


@migrations(name="0007_model_context_len")
def m0007_model_context_len(db: Database) -> None:
    # A preset's context window (max_position_embeddings): a served request's prompt and output
    # must fit in it. Presets seeded from the packaged list, under their packaged id and name, get
    # the packaged value; any other model stays 0 ("not known": nothing is checked against it).
    import json

    import resources

    db.table(MODELS).add_column("context_len", int, not_null_default=0)
    for data in json.loads(resources.read_text("models.json"))["models"]:
        db.execute(f"UPDATE {MODELS} SET context_len = ? WHERE id = ? AND name = ?",
                   [int(data.get("context_len") or 0), data["id"], data["name"]])


@migrations(name="0008_what_if_list_items")
def m0008_what_if_list_items(db: Database) -> None:
    # A what-if's change to a list with item identities (cut-offs by chip, jobs by name, demand
    # points by date: scenario_changes.KEYED_LISTS) is stored item by item from here on, so a later
    # baseline edit of another item reaches it. Each what-if resolves to exactly the same values
    # before and after (checked here; one that would not keeps its changes as they are).
    import json

    from engine.scenario_changes import apply_changes, diff_params

    raw = {r["name"]: json.loads(r["params"]) for r in db.table(SCENARIOS).rows}

    def derived(params) -> bool:
        return isinstance(params, dict) and set(params) == {"base", "changes"} and isinstance(params["changes"], dict)

    def resolved(name: str, depth: int = 0):
        params = raw.get(name)
        if params is None or not derived(params):
            return params
        base = resolved(params["base"], depth + 1) if depth < 8 else None
        return None if not isinstance(base, dict) else apply_changes(base, params["changes"])

    for name, params in raw.items():
        if not derived(params) or not any(isinstance(v, list) for v in params["changes"].values()):
            continue
        base, whole = resolved(params["base"]), resolved(name)
        if not isinstance(base, dict) or not isinstance(whole, dict):
            continue   # a broken chain: left for the store to name when it is opened
        changes = diff_params(base, whole)
        if apply_changes(base, changes) != whole:
            continue
        db.table(SCENARIOS).update(name, {"params": json.dumps({"base": params["base"], "changes": changes},
                                                               sort_keys=True)})


def _stored_params(db: Database, name: str):
    """A scenario's stored params, or None when it is missing or not readable here (left for the
    store to name when it is opened)."""
    import json

    row = next(iter(db.table(SCENARIOS).rows_where("name = ?", [name])), None)
    if row is None:
        return None
    try:
        return json.loads(row["params"])
    except (TypeError, ValueError):
        return None


@migrations(name="0009_late_what_if_as_extra_delay")
def m0009_late_what_if_as_extra_delay(db: Database) -> None:
    # "Huawei 6 months late" was seeded as absolute delays (182/272/547 days: the baseline's
    # 0/90/365 plus 182 written out), so an edit of the baseline's Huawei delay left it behind and
    # it could read earlier than the baseline. A delivery uncertainty now has `extra_delay_days`
    # (on top of the drawn delay): a what-if still holding exactly the old seeded changes becomes
    # "182 days on top of the baseline's delay". Its saved view inputs ("ui") don't count, as in
    # 0005, and are kept; a what-if with any other change, or a whole (not derived) one, is left
    # exactly as it is. Both definitions are frozen here (a shipped migration is never edited).
    import json

    hu = "vendor_uncertainty.Huawei."
    name = "Huawei 6 months late"
    old = {hu + "delay_low_days": 182.0, hu + "delay_mode_days": 272.0, hu + "delay_high_days": 547.0,
           hu + "note": "what-if: every 910B lot ships 6 months (182 days) later than the baseline assumes; "
                        "fulfilment as in the baseline"}
    new = {hu + "extra_delay_days": 182.0,
           hu + "note": "what-if: every 910B lot ships 6 months (182 days) later than the baseline assumes, "
                        "on top of the baseline's delay; fulfilment as in the baseline"}
    params = _stored_params(db, name)
    if params is None:
        return
    if not (isinstance(params, dict) and set(params) == {"base", "changes"} and isinstance(params["changes"], dict)):
        return

    def is_ui(path: str) -> bool:
        return path == "ui" or path.startswith("ui.")

    changes = params["changes"]
    if {k: v for k, v in changes.items() if not is_ui(k)} != old:
        return
    rewritten = {**new, **{k: v for k, v in changes.items() if is_ui(k)}}
    db.table(SCENARIOS).update(name, {"params": json.dumps({"base": params["base"], "changes": rewritten},
                                                           sort_keys=True)})


@migrations(name="0010_story_demand_point_uncertainty")
def m0010_story_demand_point_uncertainty(db: Database) -> None:
    # Demand points carry their own uncertainty (DemandPoint.sd_pct, at_least): the story's
    # Doubao points are approximate ("date approximate", "'more than'", a secondary source), and
    # interpolating them exactly gave a demand with no spread up to Dec 2025. A baseline whose
    # demand points and demand note are as seeded (the v2 seed's: every build since seeds the same
    # ones, while later fields such as extra_delay_days or slo_percentile were added beside them, so
    # a whole-scenario comparison passed over every database seeded by a recent build) takes the
    # points' uncertainty a new database is seeded with, and only that; points or a note anyone
    # edited are left exactly as they are. Both are frozen here (a shipped migration is never edited).
    import json

    import resources

    name = "Story default"
    params = _stored_params(db, name)
    if params is None:
        return
    seeded = json.loads(resources.read_text("scenario_seed_v2.json"))["baseline"]["demand"]
    demand = params.get("demand") if isinstance(params, dict) else None
    if not isinstance(demand, dict) or demand.get("points") != seeded["points"] or demand.get("note") != seeded["note"]:
        return
    uncertainty = {"2024-07-15": (62.0, False), "2024-09-15": (41.0, True), "2024-12-15": (26.0, False),
                   "2025-09-15": (21.0, True), "2025-12-15": (17.0, True)}
    for point in params["demand"]["points"]:
        sd_pct, at_least = uncertainty.get(point["date"], (0.0, False))
        if sd_pct:
            point["sd_pct"] = sd_pct
        if at_least:
            point["at_least"] = at_least
    params["demand"]["note"] = params["demand"]["note"].replace(
        "Doubao tokens/day (STORY.md); growth after Dec 2025",
        "Doubao tokens/day (STORY.md), each point uncertain as its note says: a date known to about a month is "
        "off by ln(growth per year)/12 (17-41% at the local growth; 62% for the secondary Jul 2024 source), a "
        "'more than' figure is a floor; growth after Dec 2025")
    db.table(SCENARIOS).update(name, {"params": json.dumps(params, sort_keys=True)})


@migrations(name="0011_story_h20_cut_off_note")
def m0011_story_h20_cut_off_note(db: Database) -> None:
    # The story's H20 cut-off note said the last H20 delivery was in Dec 2024; it was in Oct 2024
    # (new databases are seeded with the corrected note). A stored value that is exactly the old
    # seeded note (the baseline's, or a copy of it in any scenario) takes the new one; a note
    # anyone edited is left exactly as it is. Both are frozen here (a shipped migration is never
    # edited).
    import json

    old = ("assumption: as of the last H20 delivery (Dec 2024) a US licence requirement for the H20 in "
           "2025 was a coin flip; it came on 9 Apr 2025")
    new = ("assumption: as of the end of 2024 (the last H20 delivery was in Oct 2024) a US licence "
           "requirement for the H20 in 2025 was a coin flip; it came on 9 Apr 2025")

    def corrected(value):
        if isinstance(value, dict):
            return {key: corrected(item) for key, item in value.items()}
        if isinstance(value, list):
            return [corrected(item) for item in value]
        return new if value == old else value

    for row in list(db.table(SCENARIOS).rows):
        try:
            params = json.loads(row["params"])
        except (TypeError, ValueError):
            continue   # not readable here: left for the store to name when it is opened
        fixed = corrected(params)
        if fixed != params:
            db.table(SCENARIOS).update(row["name"], {"params": json.dumps(fixed, sort_keys=True)})


@migrations(name="0012_chip_calibrate_as")
def m0012_chip_calibrate_as(db: Database) -> None:
    # The catalog chip whose packaged calibration a chip takes (a copy of the H100 under another
    # id; engine.catalog.calibration_target). Blank for every stored chip: each keeps the factors
    # its own id gave it. Not null, default '' (what check_chip writes for a blank): a NULL beside
    # it would count every stored chip as changed by a re-import of the same file.
    db.table(CHIPS).add_column("calibrate_as", str, not_null_default="")


@migrations(name="0013_model_attention_window")
def m0013_model_attention_window(db: Database) -> None:
    # Windowed attention (engine.models): the window in tokens and how many of the layers use it.
    # 0 and 0 for every stored model: each attends over the whole context, as it was counted
    # before (the packaged presets have no window). Not null, default 0, as check_model writes.
    db.table(MODELS).add_column("attention_window_tokens", int, not_null_default=0)
    db.table(MODELS).add_column("windowed_layers", int, not_null_default=0)
