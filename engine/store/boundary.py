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
from engine.store import schema, schema_check
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
def _affinities(table: str) -> dict[str, str]:
    columns = schema_check.expected(tuple(schema.known_migration_names()))[table]["columns"]
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


def row_problem(table: str, row: dict) -> tuple[str, object, str] | None:
    """(column, value, why) for the first value the engine can't use, or None."""
    affinities = _affinities(table)
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
                dt.date.fromisoformat(value)
            except ValueError:
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


def checked(path, table: str, rows: list[dict]) -> list[dict]:
    """`rows` unchanged, or a StoreError naming the first bad value's table, row and column."""
    key = KEYS.get(table, "rowid")
    for row in rows:
        found = row_problem(table, row)
        if found:
            column, value, why = found
            raise StoreError(f"{path}: table {table}, row {key} {_show(row.get(key))}, column {column}: "
                             f"{_show(value)} ({why}); the file was changed outside Fleetcast. Correct "
                             "that value or restore a backup")
    return rows
