"""QA s24 on the database file: concurrent upgrades, failed upgrades, backups' permissions, foreign
files, ~user paths, read-only empty and older files, backup names, huge order ids, the H20 note."""

import json
import multiprocessing
import os
import sqlite3
import stat

import pytest

from engine.errors import UserError
from engine.store import files, open_store, schema
from engine.store.store import StoreError
from tests.old_db import old_database

KNOWN = schema.known_migration_names()


def _old_database(path, applied: int = 6):
    """A database as a release with only the first `applied` migrations wrote it."""
    old_database(path, applied)


def _applied(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("select name from _sqlite_migrations order by rowid")]
    finally:
        conn.close()


def _open_in_child(path, start, results):
    files.BUSY_TIMEOUT_S = 30.0   # the upgrade of another process is waited for, never "in use"
    start.wait()
    try:
        store = open_store(path)
        store.close()
        results.put("ok")
    except Exception as exc:   # noqa: BLE001 - the test shows whatever a process said
        results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_three_processes_opening_an_older_file_at_once_all_open_it_upgraded_once(tmp_path, journal):
    """QA: about half the runs failed ("structure is damaged (column 'models.context_len' ...)",
    "backup ... exists", "UNIQUE constraint failed: _sqlite_migrations"): the schema was checked and
    the backup made before any lock. One process now upgrades under the write lock; the others wait
    and open the upgraded file."""
    ctx = multiprocessing.get_context("fork")
    for round_ in range(3):
        folder = tmp_path / f"r{round_}"
        folder.mkdir()
        path = folder / "fleet.db"
        _old_database(path)
        if journal == "wal":
            conn = sqlite3.connect(path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.close()
        start, results = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_open_in_child, args=(path, start, results)) for _ in range(3)]
        for proc in procs:
            proc.start()
        start.set()
        said = [results.get(timeout=120) for _ in procs]
        for proc in procs:
            proc.join(timeout=60)
        assert said == ["ok"] * 3
        backups = sorted(folder.glob("fleet.pre-migration-*.db"))
        assert len(backups) == 1 and _applied(backups[0]) == KNOWN[:6]   # the file as it was, once
        assert _applied(path) == KNOWN


def test_a_migration_failing_after_others_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    """QA: each migration committed on its own, so one failing after others left the file half
    upgraded while the message said "the file was left as it was". They now run in one transaction."""
    path = tmp_path / "fleet.db"
    _old_database(path, applied=6)
    conn = sqlite3.connect(path)
    models_before = conn.execute("select count(*) from models").fetchone()[0]
    conn.close()
    last = schema.migrations._migrations[-1]

    def broken(database):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(last, "fn", broken)
    with pytest.raises(StoreError) as caught:
        open_store(path)
    assert "disk on fire" in str(caught.value) and "left as it was" in str(caught.value)
    assert _applied(path) == KNOWN[:6]
    conn = sqlite3.connect(path)
    try:   # 0007 ran (and committed on its own before) ahead of the failing last one
        assert "context_len" not in [r[1] for r in conn.execute("PRAGMA table_info(models)")]
        assert conn.execute("select count(*) from models").fetchone()[0] == models_before
    finally:
        conn.close()
    monkeypatch.undo()
    store = open_store(path)   # and it upgrades once the migration works
    store.close()
    assert _applied(path) == KNOWN


def test_backups_keep_the_databases_permissions(tmp_path):
    """QA: the pre-migration backup and `backup` of a 0600 database were 0644."""
    old = os.umask(0o022)
    try:
        path = tmp_path / "fleet.db"
        _old_database(path)
        os.chmod(path, 0o600)
        store = open_store(path)
        try:
            assert stat.S_IMODE(os.stat(store.backup_path).st_mode) == 0o600
            copy = store.backup_to(tmp_path / "copy.db")
            assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
        finally:
            store.close()
    finally:
        os.umask(old)


@pytest.mark.parametrize("make", [
    "create view v as select 1",
    "create temp table t(x)",   # (not in the file: this one is not foreign)
    "PRAGMA application_id = 1234",
    "PRAGMA user_version = 3",
])
def test_a_foreign_sqlite_file_with_no_tables_is_never_written(tmp_path, make):
    """QA: a file holding only a view (or a trigger, or another program's application_id or
    user_version) got Fleetcast's schema and the demo orders written into it, unsaid."""
    path = tmp_path / "theirs.db"
    conn = sqlite3.connect(path)
    conn.execute(make)
    conn.execute("create table keep(x)")
    conn.execute("drop table keep")    # a file of one page or more, as another program leaves it
    conn.commit()
    conn.close()
    before = path.read_bytes()
    if make.startswith("create temp"):
        open_store(path).close()   # an empty SQLite file: Fleetcast may make its database there
        return
    with pytest.raises(StoreError, match="not a Fleetcast database; it was left unchanged"):
        open_store(path)
    assert path.read_bytes() == before


def test_a_trigger_alone_makes_a_file_foreign(tmp_path):
    path = tmp_path / "theirs.db"
    conn = sqlite3.connect(path)
    conn.execute("create table t(x)")
    conn.execute("create view v as select x from t")
    conn.execute("create trigger tr instead of insert on v begin select 1; end")
    conn.execute("drop table t")   # the view and its trigger stay
    conn.commit()
    conn.close()
    assert sqlite3.connect(path).execute("select count(*) from sqlite_master where type = 'table'").fetchone()[0] == 0
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a Fleetcast database"):
        open_store(path)
    assert path.read_bytes() == before


def test_a_tilde_user_that_does_not_exist_is_one_line(tmp_path, monkeypatch):
    """QA: --db '~nouser/x.db' and FLEETCAST_DB='~nouser/x.db' gave a RuntimeError traceback."""
    with pytest.raises(UserError) as caught:
        open_store("~nouserzz24/x.db")
    assert str(caught.value) == "~nouserzz24/x.db: no user 'nouserzz24'"
    monkeypatch.setenv("FLEETCAST_DB", "~nouserzz24/x.db")
    with pytest.raises(UserError, match="no user 'nouserzz24'"):
        open_store()
    with pytest.raises(UserError, match="no user 'nouserzz24'"):
        files.expand_user("~nouserzz24/r.pdf")


def test_a_db_path_ending_in_a_slash_is_not_a_file_name(tmp_path, monkeypatch):
    """QA: --db $PWD/newdir/ (missing) created a FILE named newdir."""
    with pytest.raises(StoreError, match="newdir/: not a file name"):
        open_store(f"{tmp_path}/newdir/")
    assert not (tmp_path / "newdir").exists()
    monkeypatch.setenv("FLEETCAST_DB", f"{tmp_path}/newdir/")
    with pytest.raises(StoreError, match="not a file name"):
        open_store()
    assert not (tmp_path / "newdir").exists()


def test_an_empty_read_only_file_says_it_is_empty(tmp_path, monkeypatch):
    """QA: an empty read-only file said it "needs an upgrade of its schema". (Root writes any file:
    the store's own permission check is what says read-only here.)"""
    path = tmp_path / "empty.db"
    path.touch()
    monkeypatch.setattr(files, "read_only_reason", lambda target: "the file is read-only")
    with pytest.raises(StoreError) as caught:
        open_store(path)
    message = str(caught.value)
    assert "is empty" in message and "read-only" in message and "upgrade" not in message
    assert path.stat().st_size == 0


def test_an_older_read_only_file_opens_for_viewing_and_backs_up_as_it_is(tmp_path):
    """QA: an older file that can't be written could neither be viewed nor backed up ("needs an
    upgrade ... copy it somewhere writable"). It is shown upgraded in memory; the file is untouched
    and `backup` copies it as it is, at its older schema."""
    path = tmp_path / "fleet.db"
    _old_database(path)
    before = path.read_bytes()
    store = open_store(path, read_only=True)
    try:
        assert store.read_only and store.backup_path is None
        assert "context_len" in store.db["models"].columns_dict      # viewed at this version's schema
        assert len(store.chips()) > 0 and store.order_count() > 0
        assert "schema is older" in store.viewing_notice and "\n" not in store.viewing_notice
        with pytest.raises(UserError, match="edits are disabled"):
            store.delete_orders([1])
        copy = store.backup_to(tmp_path / "copy.db")
        assert "older schema (0006_ids_never_reused)" in store.backup_note()
    finally:
        store.close()
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("fleet.pre-migration-*"))
    assert _applied(copy) == KNOWN[:6]
    upgraded = open_store(copy)     # the copy upgrades like the file would
    upgraded.close()
    assert _applied(copy) == KNOWN


def test_backup_names_empty_and_home_paths(tmp_path, monkeypatch):
    """QA: `backup ""` said ".: is a folder"; `backup '~/x.db'` said "~: no such folder"."""
    store = open_store(tmp_path / "fleet.db")
    try:
        with pytest.raises(UserError, match="file name is empty"):
            store.backup_to("")
        home = tmp_path / "home-of-user"
        home.mkdir()
        monkeypatch.setenv("HOME", str(home))
        assert store.backup_to("~/x.db") == home / "x.db"
        assert (home / "x.db").exists()
        with pytest.raises(UserError, match="no user 'nouserzz24'"):
            store.backup_to("~nouserzz24/x.db")
    finally:
        store.close()


def test_deleting_an_order_id_beyond_64_bits_says_no_such_order(tmp_path):
    """QA: `orders delete 9223372036854775808` gave an OverflowError traceback."""
    store = open_store(tmp_path / "fleet.db")
    try:
        count = store.order_count()
        for huge in (2**63, -(2**63) - 1, 10**30):
            with pytest.raises(UserError, match=f"order {huge}: no such order"):
                store.delete_orders([huge])
        assert store.order_count() == count
    finally:
        store.close()


OLD_H20_NOTE = ("assumption: as of the last H20 delivery (Dec 2024) a US licence requirement for the H20 in "
                "2025 was a coin flip; it came on 9 Apr 2025")


def test_an_upgrade_corrects_the_seeded_h20_note_and_leaves_an_edited_one(tmp_path):
    """QA: upgraded databases kept "as of the last H20 delivery (Dec 2024)"; new ones say Oct 2024."""
    from engine.forecast import default_scenario

    new_note = next(e.note for e in default_scenario().policy_events if e.chip_id == "h20-96gb")
    path = tmp_path / "fleet.db"
    s = open_store(path)
    rows = {r["name"]: json.loads(r["params"]) for r in s.db["scenarios"].rows}
    base = rows["Story default"]
    event = next(e for e in base["policy_events"] if e["chip_id"] == "h20-96gb")
    assert event["note"] == new_note
    event["note"] = OLD_H20_NOTE
    mine = json.loads(json.dumps(base))
    next(e for e in mine["policy_events"] if e["chip_id"] == "h20-96gb")["note"] = OLD_H20_NOTE + " (mine)"
    with s.db.atomic():
        s.db["scenarios"].update("Story default", {"params": json.dumps(base, sort_keys=True)})
        s.db["scenarios"].insert({"name": "mine", "params": json.dumps(mine, sort_keys=True),
                                  "updated_at": "2025-01-01", "description": ""})
        s.db["_sqlite_migrations"].delete_where("name = ?", ["0011_story_h20_cut_off_note"])
    s.close()
    s = open_store(path)
    try:
        assert s.backup_path is not None
        rows = {r["name"]: json.loads(r["params"]) for r in s.db["scenarios"].rows}
        notes = {name: next(e["note"] for e in p["policy_events"] if e["chip_id"] == "h20-96gb")
                 for name, p in rows.items() if name in ("Story default", "mine")}
        assert notes == {"Story default": new_note, "mine": OLD_H20_NOTE + " (mine)"}
        base["policy_events"] = rows["Story default"]["policy_events"]
        assert rows["Story default"] == base    # nothing else changed
    finally:
        s.close()


def test_the_backup_command_says_an_older_read_only_copy_keeps_its_schema(tmp_path, monkeypatch, capsys):
    """`fleetcast backup` of an older file viewed read-only names the copy's schema on its own line."""
    import json

    from tests.cli_run import run_cli

    path = tmp_path / "fleet.db"
    _old_database(path)
    monkeypatch.setattr(files, "read_only_reason", lambda target: "the file is read-only")
    code, out, _ = run_cli(capsys, "--db", str(path), "--format", "json", "backup", str(tmp_path / "copy.db"))
    assert code == 0
    assert "older schema (0006_ids_never_reused)" in json.loads(out)["note"]
    assert _applied(tmp_path / "copy.db") == KNOWN[:6]
