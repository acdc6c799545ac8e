"""QA s27: going back after a restore, a backup with a -journal, and an upgrade whose backup fails.

1. `restore --force` moves the old file aside "with its -wal and -shm"; restoring that file to go
   back (as the README says) was refused because of its -wal, and the way out the message gave
   (move the -wal away) restored it without the changes a killed session had committed. Now
   `restore` records the bytes of the file and the -wal it moved aside together
   (NAME.before-restore-STAMP.db.sides.json), and restoring that file replays exactly those bytes
   into a private copy; any other -wal is still refused, now with the way to keep its changes.
2. A backup with an interrupted transaction's -journal was said to be read-only.
3. An older file whose pre-migration backup could not be written was switched to WAL first (its
   header changed) while the message said it "was left as it was" (engine/store/store.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from engine import cli
from engine.commands import restore as restore_command
from engine.errors import UserError
from engine.store import StoreError, open_store
from engine.store.store import Store
from engine.store.transfer import restore_backup
from tests.old_db import old_database

REPO = Path(__file__).resolve().parents[2]
LAST_MINUTE = ("buyer,vendor,chip_id,quantity,order_date\n"
               "LastMinute,NVIDIA,h20-96gb,4242,2024-05-01\n")


def fingerprint(folder: Path) -> dict[str, str]:
    """md5 of every file in the folder, hidden ones included."""
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def buyers(path: Path) -> list[str]:
    store = open_store(path)
    try:
        return sorted(order.buyer for order in store.orders())
    finally:
        store.close()


def run_restore_cli(*argv) -> tuple[int, str, str]:
    extra = [] if "engine.commands.restore" in cli.COMMAND_MODULES else [restore_command.register]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv], extra_registrars=extra)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


# Imports argv[2] into the database at argv[1] (committed: in its -wal) and is killed before it
# closes, as the QA's session was: the -wal and -shm stay beside the file.
_KILLED_IMPORT = """
import os, signal, sys
from engine.store import open_store
store = open_store(sys.argv[1])
store.import_orders(sys.argv[2])
os.kill(os.getpid(), signal.SIGKILL)
"""


def kill_after_import(path: Path, csv_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _KILLED_IMPORT, str(path), str(csv_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert os.path.getsize(f"{path}-wal") > 0


@pytest.fixture
def went_back(tmp_path):
    """(folder, db.db, bk.db, the aside) after the QA's steps: db.db's last order only in its -wal
    when a backup taken before it was restored over it."""
    folder = tmp_path / "work"
    folder.mkdir()
    db = folder / "db.db"
    store = open_store(db)
    try:
        bk = store.backup_to(folder / "bk.db")
    finally:
        store.close()
    csv_path = tmp_path / "lm.csv"
    csv_path.write_text(LAST_MINUTE, encoding="utf-8")
    kill_after_import(db, csv_path)
    summary = restore_backup(bk, db, force=True)
    assert summary.side_files == ("-wal", "-shm") and summary.saved is not None
    return folder, db, bk, summary.saved


# ---- 1. going back after a restore -----------------------------------------------------------

def test_going_back_after_a_restore_keeps_the_order_only_the_wal_held(went_back):
    folder, db, _, aside = went_back
    assert "LastMinute" not in buyers(db)
    record = Path(f"{aside}.sides.json")
    assert record.exists() and set(json.loads(record.read_text())["side_files"]) == {"-wal"}
    kept = {name: digest for name, digest in fingerprint(folder).items() if name.startswith(aside.name)}
    assert set(kept) == {aside.name, f"{aside.name}-wal", f"{aside.name}-shm", record.name}

    code, out, err = run_restore_cli("--db", db, "restore", aside, "--force")   # the README's way back
    assert code == 0 and err == "", err
    [line] = out.strip().splitlines()
    assert line.startswith(f"restored {aside} to {db} (34 chips, 4 orders, ")
    assert f"with the changes in its -wal (applied to a copy; {aside.name}-wal is kept as it was)" in line
    assert buyers(db) == ["ByteDance", "ByteDance", "ByteDance", "LastMinute"]   # the committed order is back
    # the aside, its -wal, -shm and record keep their bytes: it can be restored again
    assert {n: d for n, d in fingerprint(folder).items() if n.startswith(aside.name)} == kept
    assert not [p for p in folder.iterdir() if p.name.startswith(".db.db.")]   # no copy left behind
    # the file replaced this time had no -wal: nothing to record beside it
    [second] = [p for p in folder.glob("db.before-restore-*.db") if p != aside]
    assert not Path(f"{second}.sides.json").exists()


def test_the_wal_is_replayed_into_a_copy_even_when_it_can_be_written(went_back):
    """The aside is restored a second time to the same result: the first replay wrote nothing
    into it (an open of the aside itself would have written the -wal in and deleted it)."""
    _, db, _, aside = went_back
    restore_backup(aside, db, force=True)
    restore_backup(aside, db, force=True)
    assert "LastMinute" in buyers(db) and os.path.getsize(f"{aside}-wal") > 0


@pytest.mark.parametrize("change", ["another -wal", "one byte of the -wal", "one byte of the file"])
def test_a_wal_or_file_that_is_not_what_restore_recorded_is_refused(went_back, tmp_path, change):
    folder, db, bk, aside = went_back
    wal = Path(f"{aside}-wal")
    if change == "another -wal":   # another database's -wal copied over it (bk.db with its chips renamed)
        other = tmp_path / "other.db"
        other.write_bytes(bk.read_bytes())
        conn = sqlite3.connect(other)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("UPDATE chips SET name = name || ' OTHER'")
        conn.commit()
        wal.write_bytes(Path(f"{other}-wal").read_bytes())
        conn.close()
    else:   # the same size, one byte different: only the copies' SHA-256 tells
        name = wal if change.endswith("-wal") else aside
        data = bytearray(name.read_bytes())
        data[-1] ^= 0x01
        name.write_bytes(bytes(data))
    before = fingerprint(folder)
    with pytest.raises(UserError) as info:
        restore_backup(aside, db, force=True)
    message = str(info.value)
    assert message.startswith(f"{aside}: can't be restored: {wal.name} beside it holds changes not yet written")
    assert f"is not as `restore` recorded it in {aside.name}.sides.json" in message
    assert f"open it once with `fleetcast --db {aside} orders list`" in message
    assert message.endswith("nothing was changed") and "\n" not in message
    assert fingerprint(folder) == before
    assert "OTHER" not in "".join(buyers(db))


def test_an_aside_without_a_record_says_how_to_keep_its_changes(went_back):
    """An aside an older Fleetcast made (no record): refused, and the way the message gives first
    keeps the committed order."""
    folder, db, _, aside = went_back
    Path(f"{aside}.sides.json").unlink()
    before = fingerprint(folder)
    code, out, err = run_restore_cli("--db", db, "restore", aside, "--force")
    assert code == 1 and out == ""
    [line] = err.strip().splitlines()
    assert "nothing records that `restore` moved the two aside together" in line
    assert f"open it once with `fleetcast --db {aside} orders list`, which writes them in" in line
    assert f"moving {aside.name}-wal and {aside.name}-shm to another folder instead restores it without" in line
    assert fingerprint(folder) == before
    # as it says: the open writes the -wal in, and the restore then takes the file alone
    assert cli.main(["--db", str(aside), "orders", "list"]) == 0
    assert not os.path.exists(f"{aside}-wal")
    restore_backup(aside, db, force=True)
    assert "LastMinute" in buyers(db)


# ---- 2. a -journal beside the backup ---------------------------------------------------------

# Opens argv[1] with a rollback journal, rewrites every order's note in one transaction with a
# one-page cache (so changed pages reach the file before the commit) and is killed mid-way.
_KILLED_WRITER = """
import os, signal, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute("PRAGMA cache_size = 1")
conn.execute("BEGIN")
conn.execute("UPDATE orders SET note = 'HALF ' || hex(randomblob(3000))")
os.kill(os.getpid(), signal.SIGKILL)
"""


def kill_mid_transaction(path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert os.path.getsize(f"{path}-journal") > 0 and not os.path.exists(f"{path}-wal")


def notes(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("select note from orders order by id")]
    finally:
        conn.close()


def test_a_backup_with_an_interrupted_transactions_journal_names_it(tmp_path):
    live = tmp_path / "live.db"
    store = open_store(live)
    try:
        bk = store.backup_to(tmp_path / "bk.db")
    finally:
        store.close()
    kill_mid_transaction(bk)
    before = fingerprint(tmp_path)
    code, out, err = run_restore_cli("--db", live, "restore", bk, "--force")
    assert code == 1 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"fleetcast: error: {bk}: can't be restored: bk.db-journal sits beside it, the saved "
                           "pages of a transaction interrupted while writing the file")
    assert f"open it once with `fleetcast --db {bk} orders list` (that rolls the transaction back)" in line
    assert "read-only" not in line and line.endswith("nothing was changed")
    assert fingerprint(tmp_path) == before
    # a read-only open of it names the -journal too (it said the file or its -wal/-shm were read-only)
    with pytest.raises(StoreError) as info:
        open_store(bk, read_only=True)
    assert "bk.db-journal beside it holds a transaction that was interrupted" in str(info.value)
    assert "-wal/-shm" not in str(info.value)
    # as the message says: an open rolls it back, and the backup then restores as it was before
    assert cli.main(["--db", str(bk), "orders", "list"]) == 0
    restore_backup(bk, live, force=True)
    assert not [n for n in notes(live) if n.startswith("HALF")] and len(notes(live)) == 3


def test_a_journal_restore_moved_aside_with_its_file_is_rolled_back_in_a_copy(tmp_path):
    """An older (rollback-journal) database killed mid-write, restored over and then restored
    back: the interrupted transaction is rolled back in a copy, the aside keeps its bytes."""
    live = tmp_path / "live.db"
    old_database(live, 5)
    wanted = notes(live)
    kill_mid_transaction(live)
    bk = tmp_path / "bk.db"
    store = open_store(tmp_path / "other.db")
    try:
        store.backup_to(bk)
    finally:
        store.close()
    summary = restore_backup(bk, live, force=True)
    aside = summary.saved
    assert summary.side_files == ("-journal",)
    assert set(json.loads(Path(f"{aside}.sides.json").read_text())["side_files"]) == {"-journal"}
    kept = {n: d for n, d in fingerprint(tmp_path).items() if n.startswith(aside.name)}
    back = restore_backup(aside, live, force=True)
    assert back.applied == ("-journal",) and "with the interrupted transaction in its -journal rolled back" in back.text()
    assert notes(live) == wanted
    assert {n: d for n, d in fingerprint(tmp_path).items() if n.startswith(aside.name)} == kept


# ---- 3. an upgrade whose backup can't be written leaves the file as it was ---------------------

def test_an_upgrade_whose_backup_fails_leaves_the_file_byte_for_byte(tmp_path, monkeypatch):
    old = tmp_path / "old5.db"
    old_database(old, 5)
    before = old.read_bytes()
    assert before[18:20] == b"\x01\x01"   # a rollback journal, as older releases wrote

    def no_room(self, target, *, replace):
        raise OSError(27, "File too large")   # what `ulimit -f` gave the QA

    monkeypatch.setattr(Store, "_copy_into", no_room)
    with pytest.raises(StoreError) as info:
        open_store(old)
    assert "the backup before upgrading its schema could not be written" in str(info.value)
    assert "the file was left as it was" in str(info.value)
    assert old.read_bytes() == before   # the journal mode bytes and change counter too
    assert sorted(p.name for p in tmp_path.glob("old5*")) == ["old5.db"]   # no backup, no -journal or -wal
    monkeypatch.undo()
    store = open_store(old)   # with room, the upgrade goes ahead and ends in WAL
    store.close()
    assert old.read_bytes()[18:20] == b"\x02\x02"
