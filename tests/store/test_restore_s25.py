"""Restoring a backup never loses data, and "it was left unchanged" is true (QA s25 q3).

A session killed with the database open leaves NAME.db-wal (and -shm) beside it. Copying a backup
over NAME.db, as every damaged-file message advised, kept that -wal, and the next open replayed it
into the copy: with another database's backup the file turned malformed (200,704 bytes became
110,592, the -wal and -shm deleted) while the message said the file "was left unchanged"; with an
older backup of the same database the killed session's change was quietly redone. Now a file
with such a -wal is judged read-only before a writable open, a connection that found damage is
closed without writing the -wal in, and `fleetcast restore` puts a backup in place safely.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from engine import cli
from engine.errors import UserError
from engine.commands import restore as restore_command
from engine.store import StoreError, boundary, files, open_store, transfer
from engine.store.transfer import restore_backup

REPO = Path(__file__).resolve().parents[2]
SIDES = ("-wal", "-shm", "-journal")
HEADER = ("id,buyer,vendor,chip_id,quantity,order_date,promised,price_usd_per_chip,status,source,note,"
          "deliveries,delivery_notes")


# ---- helpers ---------------------------------------------------------------------------------

def fingerprint(path: Path) -> dict[str, tuple[int, str]]:
    """Size and md5 of the file and each side file present."""
    seen = {}
    for suffix in ("", *SIDES):
        name = Path(f"{path}{suffix}")
        if name.exists():
            data = name.read_bytes()
            seen[suffix or "db"] = (len(data), hashlib.md5(data).hexdigest())
    return seen


def order_ids(path: Path) -> set[int]:
    store = open_store(path)
    try:
        return {order.id for order in store.orders()}
    finally:
        store.close()


def seeded(path: Path) -> Path:
    open_store(path).close()
    return path


def with_many_orders(path: Path, tmp_path: Path, count: int = 300) -> Path:
    """A database that holds `count` orders besides the seed's 3 (about 200 KB, as in the report)."""
    csv_path = tmp_path / "many.csv"
    rows = [f",Buyer{i},NVIDIA,h20-96gb,{100 + i},2025-01-01,,,,src{i},note {i} {'x' * 200},,"
            for i in range(count)]
    csv_path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    store = open_store(path)
    try:
        store.import_orders(csv_path)
    finally:
        store.close()
    return path


def backup_of(path: Path, target: Path) -> Path:
    store = open_store(path)
    try:
        return store.backup_to(target)
    finally:
        store.close()


# Opens the database at argv[1], deletes order 3 (committed: in the -wal) and is killed as a
# crash would kill it: no close, so the -wal and -shm stay beside the file.
_KILLED_SESSION = """
import os, signal, sys
from engine.store import open_store
store = open_store(sys.argv[1])
store.delete_orders([3])
os.kill(os.getpid(), signal.SIGKILL)
"""


def kill_mid_session(path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _KILLED_SESSION, str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert os.path.getsize(f"{path}-wal") > 0 and os.path.exists(f"{path}-shm")


@pytest.fixture
def dbs(tmp_path):
    """(a: the seed's 3 orders, bk_same: a backup of a, bk_other: a backup of a 303-order database)."""
    a = seeded(tmp_path / "a.db")
    other = with_many_orders(seeded(tmp_path / "other.db"), tmp_path)
    return a, backup_of(a, tmp_path / "bk_same.db"), backup_of(other, tmp_path / "bk_other.db")


def run_restore_cli(*argv) -> tuple[int, str, str]:
    """The CLI in-process with the restore command registered (once engine.cli lists the module
    itself, it is not registered twice)."""
    extra = [] if "engine.commands.restore" in cli.COMMAND_MODULES else [restore_command.register]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv], extra_registrars=extra)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


# ---- "it was left unchanged" is true ---------------------------------------------------------

@pytest.mark.parametrize("shm", ["kept", "deleted"])
def test_a_backup_copied_over_a_killed_sessions_file_is_refused_and_left_byte_for_byte(dbs, tmp_path, shm,
                                                                                        monkeypatch):
    a, _, bk_other = dbs
    scratch = tmp_path / "scratch"   # the temporary folder (the probe's copies, without a -shm)
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    kill_mid_session(live)
    live.write_bytes(bk_other.read_bytes())   # what the message advised: copy a backup over it
    if shm == "deleted":   # a -wal copied on its own: a read-only look would have to make a -shm
        os.unlink(f"{live}-shm")
    before = fingerprint(live)
    assert before["db"][0] == bk_other.stat().st_size and "-wal" in before
    with pytest.raises(StoreError) as info:
        open_store(live)
    # the file, its -wal and its -shm: same bytes, same sizes (the file became 110,592 bytes)
    assert fingerprint(live) == before
    message = str(info.value)
    assert "the database is damaged" in message and "it was left unchanged" in message
    assert "live.db-wal" in message and "fleetcast restore" in message
    assert list(scratch.iterdir()) == []


def test_a_killed_sessions_own_wal_is_still_replayed(dbs, tmp_path):
    a, _, _ = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    kill_mid_session(live)
    assert order_ids(live) == {1, 2}   # the killed session's committed delete is kept
    assert not [s for s in SIDES if os.path.exists(f"{live}{s}")]


def test_damage_found_after_the_open_is_not_written_in_on_close(dbs, tmp_path, monkeypatch):
    """A store that met damage while open closes without its checkpoint: the -wal it had is
    left beside the file, which keeps its bytes."""
    a, _, _ = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    kill_mid_session(live)
    store = open_store(live)
    wal_before = Path(f"{live}-wal").read_bytes()
    db_before = live.read_bytes()

    def malformed(*args, **kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(boundary, "checked", malformed)
    with pytest.raises(StoreError, match="the database is damaged"):
        store.chip_rows()
    store.close()
    assert live.read_bytes() == db_before          # (the close wrote the -wal in: 110,592 bytes changed)
    assert Path(f"{live}-wal").read_bytes() == wal_before


def test_the_damaged_hint_names_the_restore_command():
    assert "Restore a backup with `fleetcast restore BACKUP.db --force`" in files.DAMAGED_HINT


# ---- fleetcast restore -----------------------------------------------------------------------

def test_restore_over_a_killed_sessions_file_gives_the_backup_and_keeps_the_old_one(dbs, tmp_path):
    a, _, bk_other = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    kill_mid_session(live)
    before = fingerprint(live)
    summary = restore_backup(bk_other, live, force=True)
    # the old file with its -wal and -shm, byte for byte, under one name beside it
    saved = summary.saved
    assert saved is not None and saved.parent == live.parent
    assert saved.name.startswith("live.before-restore-") and saved.suffix == ".db"
    assert fingerprint(saved) == before
    assert summary.side_files == ("-wal", "-shm") and summary.replaced_file
    # nothing stale beside the restored file; it holds the backup's 303 orders, order 3 among them
    assert not [s for s in SIDES if os.path.exists(f"{live}{s}")]
    assert order_ids(live) == order_ids(bk_other) and len(order_ids(live)) == 303 and 3 in order_ids(live)
    assert summary.counts == {"chips": 34, "orders": 303, "models": summary.counts["models"],
                              "scenarios": summary.counts["scenarios"]}
    # and the old state is still there: the seed's orders less the killed session's delete
    assert order_ids(saved) == {1, 2}
    text = summary.text()
    assert text.startswith(f"restored {bk_other} to {live} (34 chips, 303 orders,") and "\n" not in text
    assert f"the file it replaced is now {saved}, with its -wal and -shm" in text


def test_restore_of_an_older_backup_of_the_same_file_does_not_redo_the_killed_change(dbs, tmp_path):
    """The report's second case: the backup was taken before the killed session deleted order 3;
    copied by hand, the next open deleted it again, silently."""
    a, bk_same, _ = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    kill_mid_session(live)
    restore_backup(bk_same, live, force=True)
    assert order_ids(live) == {1, 2, 3}


def test_restore_refuses_to_replace_without_force_and_changes_nothing(dbs, tmp_path):
    a, _, bk_other = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    kill_mid_session(live)
    before = fingerprint(live)
    listing = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_restore_cli("--db", live, "restore", bk_other)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0] == (f"fleetcast: error: {live}: exists; not replaced (pass --force to replace it: the file as "
                        "it is, and its -wal and -shm if any, is kept beside it as live.before-restore-DATE-TIME.db); "
                        "nothing was changed")
    assert fingerprint(live) == before and sorted(p.name for p in tmp_path.iterdir()) == listing


def test_restore_through_the_cli_says_what_it_did_in_one_line(dbs, tmp_path):
    a, _, bk_other = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    code, out, err = run_restore_cli("--db", live, "restore", bk_other, "--force")
    assert code == 0 and err == ""
    [line] = out.strip().splitlines()
    saved = next(tmp_path.glob("live.before-restore-*.db"))
    assert line == (f"restored {bk_other} to {live} (34 chips, 303 orders, {line.split(', ')[2]}, "
                    f"{line.split(', ')[3].split(')')[0]}); the file it replaced is now {saved}")
    assert saved.read_bytes() == a.read_bytes()
    code, out, _ = run_restore_cli("--db", tmp_path / "fresh.db", "--format", "json", "restore", bk_other)
    assert code == 0 and '"orders": 303' in out and '"saved": null' in out


def test_restore_onto_a_missing_file_needs_no_force(dbs, tmp_path):
    _, bk_same, _ = dbs
    target = tmp_path / "new.db"
    summary = restore_backup(bk_same, target)
    assert summary.saved is None and order_ids(target) == {1, 2, 3}


def test_stale_side_files_without_a_file_are_moved_aside_too(dbs, tmp_path):
    a, bk_same, _ = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    kill_mid_session(live)
    wal = Path(f"{live}-wal").read_bytes()
    live.unlink()   # the file deleted by hand, its -wal and -shm left
    with pytest.raises(UserError, match="has -wal and -shm left beside its name .no database file.; not restored"):
        restore_backup(bk_same, live)
    summary = restore_backup(bk_same, live, force=True)
    assert not summary.replaced_file and summary.side_files == ("-wal", "-shm")
    assert Path(f"{summary.saved}-wal").read_bytes() == wal and not summary.saved.exists()
    assert "(no database file was there) moved to" in summary.text()
    assert order_ids(live) == {1, 2, 3}


@pytest.mark.parametrize("damage", ["pages", "not sqlite", "foreign", "empty", "missing"])
def test_a_backup_that_is_not_a_sound_fleetcast_database_is_refused(dbs, tmp_path, damage):
    a, bk_same, _ = dbs
    bad = tmp_path / "bad.db"
    if damage == "pages":
        data = bytearray(bk_same.read_bytes())
        data[4096 * 3: 4096 * 3 + 200] = b"\xff" * 200   # a b-tree page overwritten
        bad.write_bytes(bytes(data))
    elif damage == "not sqlite":
        bad.write_text("id,name\n1,x\n")
    elif damage == "foreign":
        conn = sqlite3.connect(bad)
        conn.execute("create table t(x)")
        conn.commit()
        conn.close()
    elif damage == "empty":
        bad.touch()
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    before = fingerprint(live)
    with pytest.raises(UserError) as info:
        restore_backup(bad, live, force=True)
    message = str(info.value)
    expected = {"pages": "can't be restored: the database is damaged", "not sqlite": "can't be restored: not a "
                "Fleetcast database", "foreign": "can't be restored: an SQLite file but not a Fleetcast database",
                "empty": "is empty, not a backup", "missing": "no such file"}[damage]
    assert message.startswith(f"{bad}: ") and expected in message and message.endswith("nothing was changed")
    assert "\n" not in message and "it was left unchanged" not in message
    assert fingerprint(live) == before
    assert sorted(p.name for p in tmp_path.glob("live*")) == ["live.db"]
    assert not list(tmp_path.glob(".live.db.*"))   # no temporary left


_HOLDER = """
import sys, time
from engine.store import open_store
store = open_store(sys.argv[1])
store.order_count()
print("open", flush=True)
time.sleep(60)
"""


def test_restore_onto_a_database_another_program_has_open_is_refused(dbs, tmp_path):
    a, _, bk_other = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(live)], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        before = fingerprint(live)
        with pytest.raises(StoreError) as info:
            restore_backup(bk_other, live, force=True)
        assert str(info.value) == (f"{live}: in use by another program (another Fleetcast?); close it and try "
                                   "again; nothing was changed")
        assert fingerprint(live) == before and not list(tmp_path.glob("live.before-restore-*"))
    finally:
        holder.kill()
        holder.wait()
    restore_backup(bk_other, live, force=True)   # once it is closed
    assert len(order_ids(live)) == 303


def test_restore_onto_a_database_open_in_this_program_is_refused(dbs, tmp_path):
    a, _, bk_other = dbs
    store = open_store(a)
    try:
        with pytest.raises(StoreError, match="is open in this program; close it before restoring"):
            restore_backup(bk_other, a, force=True)
    finally:
        store.close()


def test_restore_of_the_database_onto_itself_is_refused(dbs):
    a, _, _ = dbs
    with pytest.raises(UserError, match="is the database itself"):
        restore_backup(a, a, force=True)


def test_restore_through_a_link_replaces_the_linked_file_and_keeps_the_link(dbs, tmp_path):
    a, bk_same, bk_other = dbs
    real = tmp_path / "real.db"
    real.write_bytes(a.read_bytes())
    link = tmp_path / "link.db"
    link.symlink_to(real)
    summary = restore_backup(bk_other, link, force=True)
    assert link.is_symlink() and len(order_ids(real)) == 303
    assert summary.saved is not None and summary.saved.name.startswith("real.before-restore-")


def test_an_interrupted_swap_puts_the_file_and_its_side_files_back(dbs, tmp_path, monkeypatch):
    a, _, bk_other = dbs
    live = tmp_path / "live.db"
    live.write_bytes(a.read_bytes())
    kill_mid_session(live)
    before = fingerprint(live)

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(transfer.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        restore_backup(bk_other, live, force=True)
    monkeypatch.undo()
    assert fingerprint(live) == before
    assert not list(tmp_path.glob("live.before-restore-*")) and not list(tmp_path.glob(".live.db.*"))
    assert order_ids(live) == {1, 2}


def test_the_restore_parser_takes_the_backup_and_force():
    import argparse

    from engine.cli import _add_common, _Parser

    parser = _Parser(prog="fleetcast", top=True)
    _add_common(parser, top=True)
    restore_command.register(parser.add_subparsers(dest="command", parser_class=_Parser))
    args = parser.parse_args(["--db", "x.db", "restore", "bk.db", "--force"])
    assert (args.db, args.backup, args.force, args.handler) == ("x.db", "bk.db", True, restore_command.run)
    assert parser.parse_args(["restore", "bk.db"]).force is False
    with pytest.raises(SystemExit):
        with redirect_stderr(io.StringIO()):
            parser.parse_args(["restore"])
    assert isinstance(parser, argparse.ArgumentParser)
