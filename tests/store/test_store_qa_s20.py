"""QA s20 (data safety): the pre-migration backup and `backup` write a temporary file and leave
nothing behind when the copy fails; an import reads what it compares with under its write lock;
a read that runs out of temporary space is not called a broken database."""

from __future__ import annotations

import contextlib
import csv
import json
import resource
import signal
import sqlite3

import pytest

from engine.errors import UserError
from engine.store import open_store
from engine.store.errors import StoreError
from engine.store.schema import ORDERS
from engine.store.transfer import UpdatesRefused


@contextlib.contextmanager
def files_limited_to(limit_bytes: int):
    """Writes past `limit_bytes` in any file fail (EFBIG, as `ulimit -f`), SIGXFSZ ignored."""
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)


def _names(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _make_older(path) -> None:
    """A database as the release before the last migration wrote it: opening it upgrades it,
    backing it up first."""
    from engine.store import schema
    from tests.old_db import old_database

    old_database(path, len(schema.known_migration_names()) - 1)


def test_a_failed_pre_migration_backup_leaves_no_file_under_the_backups_name(tmp_path):
    """QA: killing an upgrade during its backup left an empty database (and a -journal) under the
    backup's name. The copy goes to a hidden temporary file, moved into place when whole; here the
    copy fails (file size limit) and neither it nor its side files are left."""
    db = tmp_path / "old.db"
    _make_older(db)
    before = _names(tmp_path)
    with files_limited_to(32 * 1024), pytest.raises(StoreError) as caught:
        open_store(db)
    message = str(caught.value)
    assert "backup before upgrading its schema could not be written" in message
    assert "left as it was" in message and "\n" not in message
    assert _names(tmp_path) <= before          # no backup, no .tmp, no -journal
    store = open_store(db)                     # and the file still upgrades when space allows
    try:
        assert store.backup_path is not None and store.backup_path.exists()
        assert store.backup_path.name.startswith("old.pre-migration-")
    finally:
        store.close()
    leftovers = {n for n in _names(tmp_path) if n.startswith(".") or n.endswith("-journal")}
    assert leftovers == set()


def test_a_failed_backup_leaves_no_temporary_journal(tmp_path):
    """QA: a backup that failed for lack of space left `.NAME.xxx.tmp-journal` beside it (a
    database larger than SQLite's page cache, which spills to the file before the commit)."""
    store = open_store(tmp_path / "fleet.db")
    try:
        filler = json.dumps({"text": "x" * 100_000})
        with store.db.atomic():   # about 4 MB of scenarios
            store.db.conn.executemany("insert into scenarios (name, params, updated_at) values (?, ?, '2025-01-01')",
                                      [(f"filler {i}", filler) for i in range(40)])
        before = _names(tmp_path)
        with files_limited_to(1_000_000), pytest.raises(UserError, match="could not be written"):
            store.backup_to(tmp_path / "bk2.db")
        assert _names(tmp_path) == before
        assert store.backup_to(tmp_path / "bk2.db").exists()   # with space it works
    finally:
        store.close()


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def _commit_before_the_lock(monkeypatch, store, sql: str, params: list) -> None:
    """Another program commits `sql` just before the import takes its write lock."""
    real_atomic = store.db.atomic
    other = sqlite3.connect(store.path)

    def atomic():
        if not store.db.conn.in_transaction:
            with other:
                other.execute(sql, params)
        return real_atomic()

    monkeypatch.setattr(store.db, "atomic", atomic)


def test_an_import_sees_an_order_another_import_committed_before_its_lock(tmp_path, monkeypatch):
    """QA: two `orders import --replace id10.csv` at once: the second read the highest id before
    taking the write lock, so the first's order 10 read as one it had itself given a row without
    an id ("this import already gave that id ..."). Read under the lock, it updates order 10."""
    store = open_store(tmp_path / "fleet.db")
    path = _write_csv(tmp_path / "id10.csv", ["id", "buyer", "vendor", "chip_id", "quantity", "order_date"],
                      [["10", "ByteDance", "NVIDIA", "h20-96gb", "777", "2024-05-01"]])
    _commit_before_the_lock(monkeypatch, store,
                            f"insert into {ORDERS} (id, buyer, vendor, chip_id, quantity, order_date, status) "
                            "values (10, 'ByteDance', 'NVIDIA', 'h20-96gb', 5, '2024-05-01', 'assumption')", [])
    try:
        summary = store.import_orders(path, update_existing=True)
        assert summary.updated == [10] and summary.added == []
        assert store.stored_value("order", 10, "quantity") == 777
    finally:
        store.close()


def test_a_chips_import_sees_a_chip_committed_before_its_lock(tmp_path, monkeypatch):
    store = open_store(tmp_path / "fleet.db")
    out = tmp_path / "chips.csv"
    store.export_chips_csv(out)
    rows = list(csv.reader(open(out, encoding="utf-8-sig")))
    header, h100 = rows[0], next(r for r in rows[1:] if r[0] == "h100-sxm5-80gb")
    twin = dict(zip(header, h100), id="h100-copy", name="H100 copy")
    path = _write_csv(tmp_path / "one.csv", header, [[twin[k] for k in header]])
    columns = ", ".join(f'"{k}"' for k in header)
    marks = ", ".join("?" for _ in header)
    cells = [twin[k] if twin[k] != "" or k == "calibrate_as" else None for k in header]   # ('' is its blank)
    _commit_before_the_lock(monkeypatch, store, f"insert into chips ({columns}) values ({marks})", cells)
    try:
        # the chip is there, equal to the file's row: unchanged, not a clash on insert
        summary = store.import_chips(path, update_existing=False)
        assert summary.unchanged == ["h100-copy"] and summary.added == []
    finally:
        store.close()


def test_the_window_import_refuses_updates_unless_allowed_by_id(tmp_path):
    """import_with_snapshots (the window's import) refuses, as the CLI without --replace, a row
    that would change a stored order; given the ids agreed to, it replaces those and no other."""
    store = open_store(tmp_path / "fleet.db")
    header = ["id", "buyer", "vendor", "chip_id", "quantity", "order_date"]
    path = _write_csv(tmp_path / "theirs.csv", header,
                      [["4", "ColleagueCo", "NVIDIA", "h20-96gb", "500", "2024-11-01"],
                       ["5", "ColleagueCo", "NVIDIA", "h20-96gb", "600", "2024-11-01"]])
    try:
        store.delete_orders([1, 2, 3])
        store.import_orders(_write_csv(tmp_path / "mine.csv", header[1:],
                                       [["ByteDance", "Huawei", "ascend-910b2", "200000", "2025-01-10"],
                                        ["ByteDance", "Huawei", "ascend-910b2", "1000", "2025-01-10"]]))
        before = store.order_rows()
        assert store.records_in_words("orders", [4, 5, 99]) == \
            "4 (ByteDance 200,000 Ascend 910B2), 5 (ByteDance 1,000 Ascend 910B2), 99"
        with pytest.raises(UpdatesRefused) as caught:
            store.import_with_snapshots("orders", path)
        assert caught.value.ids == [4, 5] and caught.value.what == "orders"
        assert store.order_rows() == before and not store.db.conn.in_transaction
        with pytest.raises(UpdatesRefused) as caught:   # 5 was not agreed to
            store.import_with_snapshots("orders", path, update_existing=frozenset({4}))
        assert caught.value.ids == [5] and store.order_rows() == before
        summary, snap_before, snap_after = store.import_with_snapshots("orders", path,
                                                                       update_existing=frozenset({4, 5}))
        assert summary.updated == [4, 5]
        assert [(o["buyer"], o["quantity"]) for o in store.order_rows()] == [("ColleagueCo", 500), ("ColleagueCo", 600)]
        store.swap_rows(snap_after, snap_before)
        assert store.order_rows() == before
    finally:
        store.close()


def _io_error() -> sqlite3.OperationalError:
    """What SQLite raised when its temporary sort file could not grow (SQLITE_IOERR_WRITE)."""
    exc = sqlite3.OperationalError("disk I/O error")
    exc.sqlite_errorcode = 778   # type: ignore[attr-defined]
    return exc


def test_an_export_that_runs_out_of_temporary_space_is_not_called_a_broken_database(tmp_path, monkeypatch):
    """QA: `orders export` with SQLite's temporary sort file out of space said "reading or writing
    it failed (disk I/O error) ... restore a backup" of a healthy database."""
    from engine.store import transfer

    store = open_store(tmp_path / "fleet.db")

    def failing(*args, **kwargs):
        raise _io_error()

    monkeypatch.setattr(transfer, "iter_orders_with_deliveries", failing)
    try:
        with pytest.raises(UserError) as caught:
            store.export_orders_csv(tmp_path / "exp.csv")
        message = str(caught.value)
        assert "reading it failed while exporting" in message and "restore a backup" not in message
        assert "temporary folder may be full" in message
        assert not (tmp_path / "exp.csv").exists()
    finally:
        store.close()


def test_a_write_that_fails_the_same_way_still_says_restore_a_backup(tmp_path, monkeypatch):
    store = open_store(tmp_path / "fleet.db")
    try:
        from engine.store import files

        message = str(files.explain(store.path, _io_error()))
        assert "restore a backup" in message
    finally:
        store.close()
