"""QA s32: an undo's guard read the row before the write lock was taken. An undo waiting on another
program's write (a CLI import holding the lock for a second or two) then passed its check on the row
as it was, and wrote the old value over the import's once the import committed: "CLI NOTE" was
silently gone, 3 of 3 tries. Check and write now happen in one transaction, so the guard reads
what the other program committed and refuses."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import UserError
from engine.store import open_store


def _race(path, hold, act):
    """Program B holds the write lock while `hold(b)` writes; window A then runs `act(a)`, which waits
    for the lock; B commits 0.4 s later. What `act` raised (or None) once it returned."""
    done: dict = {}
    locked, ready = threading.Event(), threading.Event()

    def window():
        a = open_store(path)
        try:
            done["before"] = ready.set()
            locked.wait(10)
            try:
                act(a)
                done["error"] = None
            except UserError as exc:
                done["error"] = exc
        finally:
            a.close()

    thread = threading.Thread(target=window)
    thread.start()
    ready.wait(10)
    b = open_store(path)
    try:
        with b.db.atomic():   # BEGIN IMMEDIATE: B's write lock, as an import holds it
            hold(b)
            locked.set()
            time.sleep(0.4)   # A is waiting on the lock by now (its busy timeout is 5 s)
    finally:
        b.close()
    thread.join(20)
    assert not thread.is_alive()
    return done["error"]


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "fleet.db"
    store = open_store(path)
    order = store.order_rows()[0]
    store.close()
    return path, order


def test_an_undo_waiting_on_another_write_refuses_instead_of_writing_over_it(db):
    path, order = db
    oid, before = order["id"], order.get("note")
    error = _race(path, lambda b: b.update_order(oid, "note", "CLI NOTE"),
                  lambda a: a.update_order(oid, "note", "GUI NOTE", expect=before))
    assert isinstance(error, UserError) and "CLI NOTE" in str(error)
    store = open_store(path)
    assert store.stored_value("order", oid, "note") == "CLI NOTE"
    store.close()


def test_a_guarded_delete_keeps_the_deliveries_another_program_added_meanwhile(db):
    path, _ = db
    probe = open_store(path)
    oid = next(o["id"] for o in probe.order_rows()
               if o["quantity"] > sum(d["quantity"] for d in probe.delivery_rows(o["id"])))
    snapshot = probe.order_snapshot(oid)
    probe.close()
    added = {"order_id": oid, "date": "2026-01-15", "quantity": 1, "note": "added by B"}
    error = _race(path, lambda b: b.add_delivery(added), lambda a: a.delete_order(oid, expect=snapshot))
    assert isinstance(error, UserError)
    store = open_store(path)
    assert any(d["note"] == "added by B" for d in store.order_snapshot(oid)["deliveries"])
    store.close()


def test_a_scenario_undo_checks_and_writes_in_one_transaction(db):
    path, _ = db
    probe = open_store(path)
    name = probe.scenarios()[0]["name"]
    row = probe.scenario_row(name)
    probe.close()

    def b_saves(b):
        params = b.scenario(name)["params"]
        b.save_scenario(name, {**params, "note_by_b": "kept"})

    def a_puts_back(a):
        def work():
            if a.scenario_row(name)["params"] != row["params"]:
                raise UserError("moved")
            a.put_scenario_row(row)
        a.atomically(work)

    error = _race(path, b_saves, a_puts_back)
    assert isinstance(error, UserError)
    store = open_store(path)
    assert store.scenario(name)["params"].get("note_by_b") == "kept"
    store.close()


# ---- the file replaced under an open store (QA s32) -------------------------------------------

def test_an_edit_into_a_file_replaced_underneath_is_refused(tmp_path):
    """`cp backup.db new.db; mv new.db fleet.db` while the window had fleet.db open: its edits went
    to the orphaned file (and its -wal), unreachable once it closed."""
    import shutil

    path = tmp_path / "fleet.db"
    store = open_store(path)
    order = store.order_rows()[0]
    other = tmp_path / "other.db"
    open_store(other).close()
    assert store.file_replaced() is None
    shutil.copy(other, tmp_path / "new.db")
    (tmp_path / "new.db").replace(path)
    assert "replaced" in store.file_replaced()
    with pytest.raises(UserError) as refused:
        store.update_order(order["id"], "note", "LATER")
    assert "replaced by another file" in str(refused.value) and "nothing was changed" in str(refused.value)
    store.close()
    fresh = open_store(path)
    assert fresh.stored_value("order", order["id"], "note") != "LATER"
    fresh.close()


def test_an_edit_into_a_file_moved_away_is_refused(tmp_path):
    path = tmp_path / "fleet.db"
    store = open_store(path)
    path.rename(tmp_path / "elsewhere.db")
    with pytest.raises(UserError, match="moved or deleted"):
        store.save_scenario("x", {"a": 1})
    store.close()


def test_a_relative_path_stays_the_file_opened_after_a_change_of_folder(tmp_path, monkeypatch):
    """QA s32: opened as 'fleet.db' and then a chdir, the check read the path in the new folder and
    refused every edit as "moved or deleted"."""
    monkeypatch.chdir(tmp_path)
    store = open_store("fleet.db")
    order = store.order_rows()[0]
    monkeypatch.chdir("/")
    assert store.file_replaced() is None
    store.update_order(order["id"], "note", "kept")
    assert store.stored_value("order", order["id"], "note") == "kept"
    store.close()
