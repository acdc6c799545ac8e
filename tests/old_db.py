"""An older database for the upgrade tests: what a release that ran only the first migrations wrote."""

from __future__ import annotations

from engine.store import open_store, schema


def old_database(path, applied: int, extra_sql: tuple[str, ...] = ()) -> None:
    """A database at `path` with only the first `applied` migrations (a rollback journal, as
    sqlite-utils makes it), holding the seeded rows in the columns those migrations made, then
    `extra_sql` (a user's own rows)."""
    import sqlite_utils

    full = path.with_name("full-" + path.name)
    open_store(full).close()
    db = sqlite_utils.Database(path)
    schema.migrations.apply(db, stop_before=schema.known_migration_names()[applied])
    db.conn.execute("attach database ? as full", (str(full),))
    for table in db.table_names():
        if table.startswith("_"):
            continue
        columns = ", ".join(f'"{c}"' for c in db[table].columns_dict)
        db.conn.execute(f'insert into "{table}" ({columns}) select {columns} from full."{table}"')
    for sql in extra_sql:
        db.conn.execute(sql)
    db.conn.commit()
    db.conn.execute("detach database full")
    db.close()
    for leftover in full.parent.glob(full.name + "*"):   # and its -wal / -shm
        leftover.unlink()
