"""Compare a database's tables, columns, keys and indexes with what Fleetcast's migrations make.

The expected schema is not written down twice: it is derived by running the same migrations on an
empty in-memory database, so a new migration is checked without editing this file. Declared
column types are compared by SQLite affinity (INTEGER, TEXT, REAL, NUMERIC, BLOB), which is what
SQLite itself uses, so a spelling such as FLOAT vs REAL is not mistaken for damage.
"""

from __future__ import annotations

import functools
import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from engine.store import schema


def affinity(declared: str) -> str:
    """SQLite's column affinity rules (https://sqlite.org/datatype3.html, section 3.1)."""
    text = (declared or "").upper()
    if "INT" in text:
        return "INTEGER"
    if any(word in text for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not text or "BLOB" in text:
        return "BLOB"
    if any(word in text for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def describe(conn: sqlite3.Connection, tables) -> dict[str, dict]:
    """For each table present: columns (name -> (affinity, not null, default, pk position)),
    foreign keys and indexes as comparable sets."""
    present = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    out = {}
    for table in tables:
        if table not in present:
            continue
        quoted = '"' + table.replace('"', '""') + '"'
        columns = {row[1]: (affinity(row[2]), bool(row[3]), row[4], row[5])
                   for row in conn.execute(f"PRAGMA table_info({quoted})")}
        foreign = {(row[3], row[2], row[4], row[5], row[6])  # from, table, to, on update, on delete
                   for row in conn.execute(f"PRAGMA foreign_key_list({quoted})")}
        indexes = set()
        for row in conn.execute(f"PRAGMA index_list({quoted})"):
            name, unique, origin = row[1], bool(row[2]), row[3]
            if origin == "pk":  # the primary key's own index: covered by the pk positions
                continue
            index_q = '"' + name.replace('"', '""') + '"'
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({index_q})"))
            indexes.add((unique, cols))
        out[table] = {"columns": columns, "foreign": foreign, "indexes": indexes}
    return out


@functools.lru_cache(maxsize=8)
def expected(applied: tuple[str, ...]) -> dict[str, dict]:
    """The schema that exactly the migrations `applied` produce (names not known are ignored:
    the caller refuses a newer file before asking)."""
    conn = sqlite3.connect(":memory:")
    try:
        db = Database(conn)
        # The same migration functions, only those applied, in their defined order (a file
        # written between two releases' merges may lack one in the middle).
        subset = Migrations(schema.MIGRATION_SET)
        for migration in schema.migrations._migrations:
            if migration.name in applied:
                subset(name=migration.name, transactional=migration.transactional)(migration.fn)
        subset.apply(db)
        tables = [row[0] for row in conn.execute(
            "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")]
        return describe(conn, tables)
    finally:
        conn.close()


def problems(conn: sqlite3.Connection, applied: list[str]) -> list[str]:
    """What differs from the expected schema, one short phrase each ([] when it matches).

    Extra tables and extra non-unique indexes are allowed (they change no row); a missing or
    extra column, a changed type, NOT NULL, default, key, or a missing index is not.
    """
    want = expected(tuple(applied))
    have = describe(conn, want)
    out = []
    for table, spec in want.items():
        if table not in have:
            out.append(f"table '{table}' is missing")
            continue
        got = have[table]
        for column, props in spec["columns"].items():
            if column not in got["columns"]:
                out.append(f"column '{table}.{column}' is missing")
            elif got["columns"][column] != props:
                out.append(f"column '{table}.{column}' has a different type or constraint "
                           f"({_props(got['columns'][column])}, expected {_props(props)})")
        for column in got["columns"]:
            if column not in spec["columns"]:
                out.append(f"column '{table}.{column}' is not part of Fleetcast's schema")
        for key in spec["foreign"] - got["foreign"]:
            out.append(f"the foreign key {table}.{key[0]} -> {key[1]}.{key[2]} is missing")
        for key in got["foreign"] - spec["foreign"]:
            out.append(f"table '{table}' has a foreign key Fleetcast doesn't make ({key[0]} -> {key[1]}.{key[2]})")
        for unique, cols in spec["indexes"] - got["indexes"]:
            out.append(f"the {'unique ' if unique else ''}index on {table}({', '.join(cols)}) is missing")
        for unique, cols in got["indexes"] - spec["indexes"]:
            if unique:
                out.append(f"table '{table}' has a unique index Fleetcast doesn't make ({', '.join(cols)})")
    return out


def _props(props) -> str:
    kind, not_null, default, pk = props
    parts = [kind]
    if not_null:
        parts.append("NOT NULL")
    if default is not None:
        parts.append(f"DEFAULT {default}")
    if pk:
        parts.append("PRIMARY KEY")
    return " ".join(parts)
