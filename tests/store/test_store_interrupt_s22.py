"""A new database is created whole or not at all (QA s22 w4, finding 1).

A first run killed while it migrated and seeded left, under the target's name, a database with
every migration and no chips, orders or scenarios (accepted for good: "(no rows)", forecasts
failing "not in the chip catalog"), or a bare migrations table refused for good as "not a
Fleetcast database". Now the database is built beside the target and renamed onto it when whole.
"""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.store import StoreError, open_store
from engine.store import store as store_module

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path):
    """A folder of its own (tmp_path also holds the test's home)."""
    path = tmp_path / "dbs"
    path.mkdir()
    return path

# Creates the database at argv[1] but dies (as a kill would: no cleanup) once the migrations are
# in and before the seed has run.
_DIE_BEFORE_SEED = """
import os, sys
import engine.store.seed as seed_module
def die(store):
    os._exit(9)
seed_module.seed = die
from engine.store import open_store
open_store(sys.argv[1])
"""


def _create_and_die(path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _DIE_BEFORE_SEED, str(path)], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 9, done.stderr


def _counts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("select (select count(*) from chips), (select count(*) from orders), "
                            "(select count(*) from scenarios)").fetchone()
    finally:
        conn.close()


def test_a_creation_killed_before_the_seed_leaves_nothing_under_the_name(folder):
    target = folder / "n.db"
    _create_and_die(target)
    assert not os.path.lexists(target)
    assert not [s for s in ("-wal", "-shm", "-journal") if os.path.lexists(f"{target}{s}")]
    # at most the half-built temporary, under a name of its own
    assert all(p.name.startswith(".n.db.") and ".creating" in p.name for p in folder.iterdir())
    store = open_store(target)   # the next run creates it whole
    try:
        assert len(store.chips()) == 34 and store.orders() and store.scenarios()
    finally:
        store.close()


def test_an_empty_file_killed_while_set_up_stays_empty_then_is_filled_whole(folder):
    target = folder / "empty.db"
    target.touch()
    _create_and_die(target)
    assert target.stat().st_size == 0
    store = open_store(target)
    try:
        assert len(store.chips()) == 34
        assert "was an empty file" in store.notice
    finally:
        store.close()


def test_an_existing_database_is_opened_in_place_never_rebuilt(folder, monkeypatch):
    target = folder / "mine.db"
    store = open_store(target)
    store.delete_orders([o.id for o in store.orders()])
    store.close()
    inode, data = target.stat().st_ino, target.read_bytes()

    def no_seed(store):
        raise AssertionError("an existing database was seeded again")

    import engine.store.seed as seed_module

    monkeypatch.setattr(seed_module, "seed", no_seed)
    store = open_store(target)
    try:
        assert store.orders() == [] and len(store.chips()) == 34
    finally:
        store.close()
    assert target.stat().st_ino == inode and target.read_bytes() == data


def test_a_file_made_meanwhile_under_the_name_is_not_replaced(folder, monkeypatch):
    target = folder / "race.db"
    import engine.store.seed as seed_module

    real_seed = seed_module.seed

    def seed_then_another_program_writes(store):
        real_seed(store)
        target.write_bytes(b"another program's file")

    monkeypatch.setattr(seed_module, "seed", seed_then_another_program_writes)
    with pytest.raises(StoreError, match="not a Fleetcast database"):
        open_store(target)
    assert target.read_bytes() == b"another program's file"
    assert [p.name for p in folder.iterdir()] == ["race.db"]   # the temporary removed


def test_a_failed_seed_leaves_no_file_at_all(folder, monkeypatch):
    import engine.store.seed as seed_module

    def failing_seed(store):
        raise StoreError("seeding failed on purpose")

    monkeypatch.setattr(seed_module, "seed", failing_seed)
    with pytest.raises(StoreError, match="on purpose"):
        open_store(folder / "n.db")
    assert list(folder.iterdir()) == []


def test_old_leftovers_of_a_killed_creation_are_swept_by_the_next_one(folder):
    target = folder / "n.db"
    stale = [folder / ".n.db.abcd1234.creating", folder / ".n.db.abcd1234.creating-wal"]
    fresh = folder / ".n.db.zzzz9999.creating"     # another Fleetcast may be building it now
    other = folder / ".n.db2.abcd1234.creating"    # another target's
    for path in (*stale, fresh, other):
        path.write_bytes(b"x")
    old = time.time() - store_module._STALE_CREATION_S - 60
    for path in (*stale, other):
        os.utime(path, (old, old))
    open_store(target).close()
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(["n.db", fresh.name, other.name])
