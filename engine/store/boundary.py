"""Stored rows checked where they become engine values (the store boundary).

SQLite's type affinity keeps whatever another program writes: 'lots' in an INTEGER column stays
text, 'garbage' in a date column is just text. Fleetcast validates everything it writes, so such a
value means the file was edited by another tool; it is reported naming table, row and column
instead of surfacing later as a traceback deep in the engine.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math

from engine.errors import ValidationError
from engine.store import files, schema, schema_check
from engine.store.errors import StoreError
from engine.validate import parse_schedule

# Columns that must parse as more than their SQL type says.
DATE_COLUMNS = {schema.ORDERS: ("order_date",), schema.DELIVERIES: ("date",)}
SCHEDULE_COLUMNS = {schema.ORDERS: ("promised",)}
JSON_OBJECT_COLUMNS = {schema.SCENARIOS: ("params",)}
# Counts the engine divides by or sums: zero or negative can only come from outside.
POSITIVE_COLUMNS = {
    schema.ORDERS: ("quantity",), schema.DELIVERIES: ("quantity",),
    schema.MODELS: ("layers", "hidden", "heads", "kv_heads", "vocab"),
}
KEYS = {schema.CHIPS: "id", schema.ORDERS: "id", schema.DELIVERIES: "id", schema.MODELS: "id",
        schema.SCENARIOS: "name", schema.CALIBRATION: "chip_id", schema.META: "key"}


@functools.lru_cache(maxsize=None)
def _affinities(table: str, applied: tuple[str, ...] | None = None) -> dict[str, str]:
    """Column -> affinity for the schema `applied` migrations make (default: all of them)."""
    spec = schema_check.expected(applied if applied is not None else tuple(schema.known_migration_names()))
    columns = spec[table]["columns"] if table in spec else {}
    return {name: props[0] for name, props in columns.items()}


def _show(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def value_problem(affinity: str, value) -> str | None:
    if value is None:
        return None
    if affinity == "INTEGER" and type(value) is not int:
        return "not a whole number"
    if affinity == "REAL":
        if type(value) not in (int, float):
            return "not a number"
        if not math.isfinite(value):
            return "not a finite number"
    if affinity == "TEXT" and not isinstance(value, str):
        return "not text"
    return None


def row_problem(table: str, row: dict, applied: tuple[str, ...] | None = None) -> tuple[str, object, str] | None:
    """(column, value, why) for the first value the engine can't use, or None."""
    affinities = _affinities(table, applied)
    for column, value in row.items():
        why = value_problem(affinities.get(column, ""), value)
        if why:
            return column, value, why
    for column in POSITIVE_COLUMNS.get(table, ()):
        value = row.get(column)
        if isinstance(value, int) and value <= 0:
            return column, value, "must be at least 1"
    for column in DATE_COLUMNS.get(table, ()):
        value = row.get(column)
        if value is not None:
            try:
                valid = dt.date.fromisoformat(value).isoformat() == value  # as Fleetcast writes it
            except (ValueError, TypeError):
                valid = False
            if not valid:
                return column, value, "not a date (YYYY-MM-DD)"
    for column in SCHEDULE_COLUMNS.get(table, ()):
        try:
            parse_schedule(column, row.get(column))
        except ValidationError:
            return column, row.get(column), "not a delivery schedule (DATE:QUANTITY;...)"
    for column in JSON_OBJECT_COLUMNS.get(table, ()):
        value = row.get(column)
        try:
            parsed = json.loads(value) if value is not None else {}
        except (ValueError, RecursionError):
            return column, value, "not valid JSON"
        if not isinstance(parsed, dict):
            return column, value, "not a JSON object"
    return None


def checked(path, table: str, rows: list[dict], applied: tuple[str, ...] | None = None) -> list[dict]:
    """`rows` unchanged, or a StoreError naming the first bad value's table, row and column."""
    key = KEYS.get(table, "rowid")
    for row in rows:
        found = row_problem(table, row, applied)
        if found:
            column, value, why = found
            raise StoreError(f"{path}: table {table}, row {key} {_show(row.get(key))}, column {column}: "
                             f"{_show(value)} ({why}); the file was changed outside Fleetcast. Correct "
                             f"that value or restore a backup with {files.RESTORE_COMMAND}")
    return rows


# ---- the whole-file check on open --------------------------------------------------------------

def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _suspect_sql(table: str, applied: tuple[str, ...]) -> str:
    """A WHERE clause true for rows SQLite can tell are wrong (types, signs, dates): one scan."""
    conditions = []
    for column, affinity in _affinities(table, applied).items():
        q = _quoted(column)
        if affinity == "INTEGER":
            conditions.append(f"typeof({q}) not in ('integer', 'null')")
        elif affinity == "REAL":
            conditions.append(f"typeof({q}) not in ('integer', 'real', 'null') or abs({q}) = 9e999")
        elif affinity == "TEXT":
            conditions.append(f"typeof({q}) not in ('text', 'null')")
    for column in POSITIVE_COLUMNS.get(table, ()):
        conditions.append(f"(typeof({_quoted(column)}) = 'integer' and {_quoted(column)} <= 0)")
    for column in DATE_COLUMNS.get(table, ()):
        q = _quoted(column)
        # '+0 days' makes SQLite normalise (2025-02-30 -> 2025-03-02), so a day that does not
        # exist differs from its text; year 0000 is valid to SQLite but not to Python.
        conditions.append(f"({q} is not null and (date({q}, '+0 days') is null "
                          f"or date({q}, '+0 days') != {q} or {q} < '0001'))")
    return " or ".join(f"({c})" for c in conditions) or "0"


CHUNK_ROWS = 50_000  # rows decoded at a time when looking for text that is not UTF-8


def find_undecodable(conn, applied: tuple[str, ...] | None = None) -> tuple[str, str, object, str] | None:
    """(table, key column, key, column) of the first text that is not UTF-8, or None.

    SQLite stores text as bytes and never checks them; Python fails when it decodes them. The
    scan concatenates each chunk of rows in SQL and decodes it once, so a healthy file costs one
    pass in C; only a chunk that fails is searched row by row.
    """
    old_factory = conn.text_factory
    conn.text_factory = bytes
    try:
        for table in schema.ALL_TABLES:
            columns = [name for name, affinity in _affinities(table, applied).items() if affinity == "TEXT"]
            if not columns:
                continue
            key = KEYS.get(table, "rowid")
            joined = " || char(31) || ".join(f"coalesce(cast({_quoted(c)} as blob), x'')" for c in columns)
            low, high = conn.execute(f"select min(rowid), max(rowid) from {table}").fetchone()
            if low is None:
                continue
            # chunks of CHUNK_ROWS rows that exist, found on the rowid index: stepping through the
            # id range instead made one query per 50,000 ids, so one order with id 2^63-1 left
            # every open of the file spinning for hours
            start: int | None = low
            while start is not None:
                following = conn.execute(f"select rowid from {table} where rowid >= ? order by rowid "
                                         "limit 1 offset ?", [start, CHUNK_ROWS - 1]).fetchone()
                bounds = [start, following[0] if following else high]
                start = bounds[1] + 1 if bounds[1] < high else None   # (never past 2^63-1)
                blob = conn.execute(f"select group_concat({joined}, x'1e') from {table} "
                                    "where rowid between ? and ?", bounds).fetchone()[0]
                try:
                    (blob or b"").decode("utf-8")
                    continue
                except UnicodeDecodeError:
                    pass
                names = ", ".join(_quoted(c) for c in columns)
                for row in conn.execute(f"select {_quoted(key)}, {names} from {table} "
                                        "where rowid between ? and ?", bounds):
                    for column, value in zip(columns, row[1:]):
                        if isinstance(value, bytes):
                            try:
                                value.decode("utf-8")
                            except UnicodeDecodeError:
                                shown = row[0].decode("utf-8", "replace") if isinstance(row[0], bytes) else row[0]
                                return table, key, shown, column
        return None
    finally:
        conn.text_factory = old_factory


def undecodable_message(path, found) -> str:
    table, key, value, column = found
    return (f"{path}: table {table}, row {key} {_show(value)}, column {column}: text that is not UTF-8 "
            "(the file is damaged or was written by another program); it was left unchanged. Restore a "
            "backup or open another file")


def check_file(conn, path, applied: tuple[str, ...]) -> None:
    """Refuse on open what a later read would trip over: text that is not UTF-8, and values
    another program wrote that the engine can't use (the same rules as `checked`), judged by
    the schema of the migrations `applied` (so an older file is checked before it is migrated)."""
    found = find_undecodable(conn, applied)
    if found:
        raise StoreError(undecodable_message(path, found))
    for table in schema.ALL_TABLES:
        if not _affinities(table, applied):
            continue
        cursor = conn.execute(f"select * from {table} where {_suspect_sql(table, applied)} limit 1")
        names = [c[0] for c in cursor.description]
        suspect = cursor.fetchone()
        if suspect is not None:
            checked(path, table, [dict(zip(names, suspect))], applied)
    # What SQL can't judge (schedules, JSON), in Python over the rows that have a value.
    for table in schema.ALL_TABLES:
        present = _affinities(table, applied)
        for column in SCHEDULE_COLUMNS.get(table, ()) + JSON_OBJECT_COLUMNS.get(table, ()):
            if column not in present:
                continue
            key, q = KEYS[table], _quoted(column)
            # A single canonical lot (most rows) is judged in SQL; the rest go through the parser.
            simple = "" if column not in SCHEDULE_COLUMNS.get(table, ()) else (
                f" and not ({q} glob '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]:[1-9]*' "
                f"and substr({q}, 12) not glob '*[^0-9]*' and length({q}) <= 19 "
                f"and date(substr({q}, 1, 10), '+0 days') = substr({q}, 1, 10) "
                f"and substr({q}, 1, 4) between '1990' and '2100')")
            cursor = conn.execute(f"select {_quoted(key)}, {q} from {table} "
                                  f"where {q} is not null and {q} != ''{simple}")
            checked(path, table, [{key: k, column: v} for k, v in cursor], applied)
    _check_deliveries_agree(conn, path, applied)


def _check_deliveries_agree(conn, path, applied: tuple[str, ...]) -> None:
    """What two tables say together, which only another tool can break (Fleetcast's writes keep
    foreign keys on and refuse over-delivery): a delivery whose order was deleted would be adopted
    by the next order given that id (an import of 10 H20 as order 1 read 30,000 delivered), and an
    order delivered beyond its quantity counts chips nobody ordered."""
    if not {"order_id", "quantity"} <= set(_affinities(schema.DELIVERIES, applied)) or \
            "quantity" not in _affinities(schema.ORDERS, applied):
        return
    orphan = conn.execute(f"select d.id, d.order_id from {schema.DELIVERIES} d left join {schema.ORDERS} o "
                          "on o.id = d.order_id where o.id is null limit 1").fetchone()
    if orphan is not None:
        raise StoreError(f"{path}: table {schema.DELIVERIES}, row id {orphan[0]}, column order_id: {orphan[1]} "
                         "(no such order); the file was changed outside Fleetcast. Delete that delivery or "
                         f"restore a backup with {files.RESTORE_COMMAND}")
    over = conn.execute(f"select o.id, o.quantity, sum(d.quantity) from {schema.ORDERS} o join {schema.DELIVERIES} d "
                        "on d.order_id = o.id group by o.id having sum(d.quantity) > o.quantity limit 1").fetchone()
    if over is not None:
        raise StoreError(f"{path}: table {schema.ORDERS}, row id {over[0]}, column quantity: {over[1]} (its "
                         f"deliveries add up to {over[2]}); the file was changed outside Fleetcast. Correct "
                         f"that value or restore a backup with {files.RESTORE_COMMAND}")
