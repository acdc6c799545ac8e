"""QA s25 q5: `fleetcast restore` of a backup with a -wal beside it.

A backup that `fleetcast backup` wrote is whole: it never has a -wal. One beside it was copied
there (or left by a session on a same-named file) and may hold another database's changes. The
refusal said the backup "can't apply them read-only" (the folder and file were writable), to
copy "all three files" (there were two) and to "open it once", which replays the foreign -wal into
the backup; with a -shm beside it as well, the -wal's changes were read and restored as the
backup's. Now a backup with a non-empty -wal is refused, saying what it may be and what to do.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
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
from engine.store.transfer import restore_backup

REPO = Path(__file__).resolve().parents[2]
MARK = " FROM-OTHER"


def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def chip_names(path: Path) -> list[str]:
    store = open_store(path)
    try:
        return sorted(row["name"] for row in store.chip_rows())
    finally:
        store.close()


@pytest.fixture
def setup(tmp_path):
    """(live.db, bk.db made by backup, other.db-wal: a copy of bk.db with every chip renamed, its
    changes still in the -wal, and its -shm) in tmp_path/work."""
    work = tmp_path / "work"
    work.mkdir()
    live = work / "live.db"
    open_store(live).close()
    store = open_store(live)
    try:
        bk = store.backup_to(work / "bk.db")
    finally:
        store.close()
    other = tmp_path / "other.db"
    shutil.copyfile(bk, other)
    conn = sqlite3.connect(other)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("UPDATE chips SET name = name || ?", (MARK,))
    conn.commit()
    saved = tmp_path / "saved"   # the -wal and -shm as they are while the writer is open
    saved.mkdir()
    for suffix in ("-wal", "-shm"):
        shutil.copyfile(f"{other}{suffix}", saved / f"other.db{suffix}")
    conn.close()
    assert os.path.getsize(saved / "other.db-wal") > 0
    return live, bk, saved


def run_restore_cli(*argv) -> tuple[int, str, str]:
    extra = [] if "engine.commands.restore" in cli.COMMAND_MODULES else [restore_command.register]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv], extra_registrars=extra)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_a_backup_with_another_databases_wal_is_refused_with_what_to_do(setup):
    live, bk, saved = setup
    shutil.copyfile(saved / "other.db-wal", f"{bk}-wal")
    before = fingerprint(live.parent)
    code, out, err = run_restore_cli("--db", live, "restore", bk, "--force")
    assert code == 1 and out == ""
    line = err.strip()
    assert "\n" not in line
    assert line == (f"fleetcast: error: {bk}: can't be restored: bk.db-wal sits beside it, changes SQLite would "
                    "replay into the backup that may be another database's (a backup made by `fleetcast backup` "
                    "never has one: it is written whole); move bk.db-wal to another folder and restore again (if "
                    "it is the backup's own, left by a session that had the backup itself open, that session's "
                    "changes not yet written into the file are left out); nothing was changed")
    for wrong in ("read-only", "open it once", "three"):
        assert wrong not in line
    assert fingerprint(live.parent) == before   # the database, the backup and its -wal, byte for byte

    # as the message says: the -wal moved away, the backup is restored as `backup` wrote it
    os.rename(f"{bk}-wal", saved / "moved.db-wal")
    restore_backup(bk, live, force=True)
    names = chip_names(live)
    assert len(names) == 34 and not [n for n in names if n.endswith(MARK)]


def test_with_a_shm_too_the_foreign_changes_are_not_restored_as_the_backups(setup):
    """With both side files a read-only open reads the -wal: the renamed chips were restored."""
    live, bk, saved = setup
    for suffix in ("-wal", "-shm"):
        shutil.copyfile(saved / f"other.db{suffix}", f"{bk}{suffix}")
    before = fingerprint(live.parent)
    with pytest.raises(UserError) as info:
        restore_backup(bk, live, force=True)
    assert "bk.db-wal sits beside it" in str(info.value)
    assert "move bk.db-wal (and bk.db-shm) to another folder and restore again" in str(info.value)
    assert fingerprint(live.parent) == before
    assert not [n for n in chip_names(live) if n.endswith(MARK)]


def test_an_empty_wal_beside_the_backup_holds_nothing_and_is_no_reason_to_refuse(setup):
    live, bk, _ = setup
    Path(f"{bk}-wal").write_bytes(b"")
    summary = restore_backup(bk, live, force=True)
    assert summary.counts["chips"] == 34


# Opens the backup at argv[1] as a window would, renames chip h20-96gb (in its -wal), says so and
# keeps the file open until a line arrives on stdin, then closes (which writes the -wal in).
_HOLDER = """
import sys
from engine.store import open_store
store = open_store(sys.argv[1])
store.db.conn.execute("UPDATE chips SET name = 'held' WHERE id = 'h20-96gb'")
store.db.conn.commit()
store.chip_rows()
print("open", flush=True)
sys.stdin.readline()
store.close()
"""


def test_a_backup_another_program_has_open_is_refused_until_it_closes(setup):
    live, bk, _ = setup
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(bk)], cwd=REPO, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        assert os.path.getsize(f"{bk}-wal") > 0
        with pytest.raises(UserError) as info:
            restore_backup(bk, live, force=True)
        # not "move the -wal aside": that would take the open program's changes from under it
        assert str(info.value) == (f"{bk}: can't be restored: another program has it open (bk.db-wal beside it "
                                   "holds that program's changes); close that program, then restore again; "
                                   "nothing was changed")
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=60) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert not os.path.exists(f"{bk}-wal")   # the close wrote it in
    restore_backup(bk, live, force=True)
    assert "held" in chip_names(live)


def test_a_read_only_open_with_a_wal_names_the_two_files_there(tmp_path):
    """The general read-only refusal said "copy all three files"; only the file and its -wal are there."""
    source = tmp_path / "live.db"
    open_store(source).close()
    writer = sqlite3.connect(source)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE chips SET name = name || ?", (MARK,))
    writer.commit()
    copy = tmp_path / "copy" / "fleet.db"
    copy.parent.mkdir()
    shutil.copyfile(source, copy)
    shutil.copyfile(f"{source}-wal", f"{copy}-wal")
    writer.close()
    with pytest.raises(StoreError) as info:
        open_store(copy, read_only=True)
    assert "copy it and fleet.db-wal together somewhere writable" in str(info.value)
    assert "three" not in str(info.value)
