"""Faults: killed writes, old schemas, read-only and locked files. Nothing stored is ever lost."""

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap

import pytest

from engine.store import open_store, schema
from engine.store.store import StoreError
from tests.old_db import old_database


def _snapshot(path):
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"select * from {t} order by 1").fetchall() for t in schema.ALL_TABLES}
    finally:
        conn.close()


def test_killed_bulk_import_leaves_last_committed_state(tmp_path):
    db = tmp_path / "fleet.db"
    open_store(db).close()
    before = _snapshot(db)
    rows = "\n".join(f"buyer{i},NVIDIA,h100-sxm5-80gb,10,2025-01-01,2025-02-01:5" for i in range(3000))
    csv_path = tmp_path / "big.csv"
    csv_path.write_text("buyer,vendor,chip_id,quantity,order_date,deliveries\n" + rows + "\n")
    child = textwrap.dedent(f"""
        import sys, time
        from engine.store import open_store
        store = open_store({str(db)!r})
        from engine import csv_io
        original = csv_io.CsvReader.rows
        def slow_rows(self):
            for count, item in enumerate(original(self), start=1):
                if count == 1001:  # well inside the transaction: 1000 orders written
                    print("mid-write", flush=True)
                    time.sleep(60)
                yield item
        csv_io.CsvReader.rows = slow_rows
        store.import_orders_csv({str(csv_path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "mid-write"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    store = open_store(db)  # recovers from the WAL without the uncommitted rows
    store.close()
    assert _snapshot(db) == before


def _make_old_database(path):
    """A database as the first release wrote it: migration 0001 only (later migrations never ran),
    holding the seeded rows (the columns 0001 had) and one scenario of the user's."""
    old_database(path, 1, ("""insert into scenarios values ('mine', '{"x": 1}', '2025-01-01')""",))


def test_older_database_is_backed_up_then_migrated(tmp_path):
    db = tmp_path / "fleet.db"
    _make_old_database(db)
    old = _snapshot(db)
    store = open_store(db)
    assert store.backup_path is not None and store.backup_path.exists()
    assert store.backup_path.parent == db.parent
    assert "description" in store.db["scenarios"].columns_dict
    assert store.scenario("mine")["params"] == {"x": 1}
    store.close()
    assert _snapshot(store.backup_path)["scenarios"] == old["scenarios"]


def test_an_upgrade_is_said_with_its_backup_on_the_cli(tmp_path, capsys):
    """A read-only command upgraded an older file in silence: an older Fleetcast sharing it was then
    locked out without warning (QA). One stderr line names the upgrade and the backup."""
    from engine.cli import main

    db = tmp_path / "fleet.db"
    _make_old_database(db)
    assert main(["--db", str(db), "chips", "list", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    backups = sorted(tmp_path.glob("fleet.pre-migration-*.db"))
    assert len(backups) == 1 and out.startswith("[")
    assert err.strip().splitlines() == [f"fleetcast: note: {db}: upgraded to this version's schema (older Fleetcast "
                                        f"versions can't open it now); the file as it was is at {backups[0]}"]
    assert main(["--db", str(db), "chips", "list", "--format", "json"]) == 0
    assert capsys.readouterr().err == ""    # said once: the second open has nothing to upgrade


def test_failed_migration_leaves_file_unchanged_and_names_backup(tmp_path, monkeypatch):
    db = tmp_path / "fleet.db"
    _make_old_database(db)
    before = _snapshot(db)
    migration = next(m for m in schema.migrations._migrations if m.name == "0002_scenario_description")

    def broken(database):
        database["scenarios"].add_column("description", str, not_null_default="")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(migration, "fn", broken)
    with pytest.raises(StoreError) as info:
        open_store(db)
    assert "disk on fire" in str(info.value) and "backup" in str(info.value)
    assert _snapshot(db) == before


def test_read_only_file_opens_read_only(tmp_path, monkeypatch):
    db = tmp_path / "fleet.db"
    open_store(db).close()
    before = db.read_bytes()
    db.chmod(stat.S_IRUSR)
    if os.geteuid() == 0:  # root may write anyway: make the permission check see what a user sees
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode == os.W_OK else real_access(p, mode, **kw))
    store = open_store(db)
    assert store.read_only and "read-only" in store.notice
    assert len(store.orders()) == 3
    with pytest.raises(Exception, match="read-only"):
        store.add_order({"buyer": "x", "vendor": "y", "chip_id": "h20-96gb", "quantity": 1, "order_date": "2025-01-01"})
    store.close()
    db.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert db.read_bytes() == before


def test_explicit_read_only_refuses_edits_and_keeps_bytes(tmp_path):
    db = tmp_path / "fleet.db"
    open_store(db).close()
    before = db.read_bytes()
    store = open_store(db, read_only=True)
    assert len(store.chips()) == 34
    with pytest.raises(Exception, match="read-only"):
        store.update_chip("h20-96gb", "hbm_gb", 100)
    store.close()
    assert db.read_bytes() == before


def test_a_write_to_a_locked_database_is_refused_with_a_clear_message_and_reads_go_on(tmp_path):
    """Another program holds a write transaction: reading goes on (WAL; `orders list` used to wait
    5 s at open and say "in use"), and a write is refused in one line, the file unchanged."""
    db = tmp_path / "fleet.db"
    open_store(db).close()
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = open_store(db, busy_timeout_s=0.2)
        try:
            assert store.order_rows()
            with pytest.raises(StoreError, match="locked by another program"):
                store.update_order(store.order_rows()[0]["id"], "note", "x")
        finally:
            store.close()
    finally:
        holder.rollback()
        holder.close()


def test_a_database_that_needs_writing_at_open_is_refused_while_locked(tmp_path):
    """A file not yet in WAL mode (or needing an upgrade) is written at open: while another
    program writes it, it is reported as in use before anything here changes it."""
    db = tmp_path / "fleet.db"
    open_store(db).close()
    plain = sqlite3.connect(db)
    plain.execute("PRAGMA journal_mode = DELETE")
    plain.close()
    holder = sqlite3.connect(db)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another program"):
            open_store(db, busy_timeout_s=0.2)
    finally:
        holder.rollback()
        holder.close()


def test_truncated_database_is_refused_and_untouched(tmp_path):
    db = tmp_path / "fleet.db"
    open_store(db).close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    before = db.read_bytes()
    with pytest.raises(StoreError):
        open_store(db)
    assert db.read_bytes() == before


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(StoreError, match="folder"):
        open_store(tmp_path)


def test_a_database_that_could_not_be_made_is_not_said_to_be_left_unchanged(tmp_path):
    """A new file on a full disk read "f.db: the disk is full; it was left unchanged" though no
    file was ever made; an existing one is still 'left unchanged'."""
    import sqlite3

    from engine.store import files

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13   # SQLITE_FULL
    missing = tmp_path / "never.db"
    assert str(files.explain(missing, full, opening=True)) == (
        f"{missing}: the disk is full; no database was created. Free some space and try again (even reading it, "
        "or backing it up elsewhere, needs a few KiB beside it for SQLite's -shm file)")
    there = tmp_path / "there.db"
    there.write_bytes(b"")
    assert "it was left unchanged" in str(files.explain(there, full, opening=True))


def test_an_io_error_on_a_full_disk_is_said_as_a_full_disk_without_restore_advice(tmp_path, monkeypatch):
    """QA s36: on a full disk SQLite could not size the -shm file (SQLITE_IOERR_SHMSIZE, an I/O
    error), and every command said "reading or writing it failed ... restore a backup", which
    would have replaced a healthy database with an older copy."""
    import sqlite3

    from engine.store import files

    shm = sqlite3.OperationalError("disk I/O error")
    shm.sqlite_errorcode = 4874   # SQLITE_IOERR_SHMSIZE
    there = tmp_path / "there.db"
    there.write_bytes(b"")
    monkeypatch.setattr(files, "disk_nearly_full", lambda path: True)
    said = str(files.explain(there, shm, opening=True))
    assert said.startswith(f"{there}: the disk is full; it was left unchanged. Free some space") and "restore" not in said
    monkeypatch.setattr(files, "disk_nearly_full", lambda path: False)   # space to spare: a real I/O error
    assert "restore a backup" in str(files.explain(there, shm, opening=True))


def test_disk_nearly_full_reads_the_folders_free_space(tmp_path, monkeypatch):
    import os
    from types import SimpleNamespace

    from engine.store import files

    seen = []

    def statvfs(folder):
        seen.append(str(folder))
        return SimpleNamespace(f_bavail=100, f_frsize=4096)   # 400 KiB free

    monkeypatch.setattr(os, "statvfs", statvfs)
    assert files.disk_nearly_full(tmp_path / "x.db") and seen == [str(tmp_path.resolve())]
    # through a link, the folder of the file it points to (where SQLite makes the -shm; QA s36)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f.db").write_bytes(b"")
    (tmp_path / "link.db").symlink_to(tmp_path / "sub" / "f.db")
    files.disk_nearly_full(tmp_path / "link.db")
    assert seen[-1] == str((tmp_path / "sub").resolve())
    monkeypatch.setattr(os, "statvfs", lambda folder: SimpleNamespace(f_bavail=10_000, f_frsize=4096))   # 40 MB
    assert not files.disk_nearly_full(tmp_path / "x.db")
