"""Undo and redo of scenario steps, and adding a plan as orders, never drop or half-write data
(QA s27): a redo of New or Save wrote this window's scenario over another window's later save
of it (and the next undo deleted that), a redo of Delete deleted it; "Add plan as assumption
orders" was separate adds, so a failing second write left the first order stored under a banner
saying "nothing was changed", and its undo after another program edited one order removed the
others. "Another window" here is a second connection to the same file, as another process is."""

import sqlite3

import pytest
from sqlite_utils.db import Table

from engine.errors import UserError, ValidationError
from engine.store import open_store
from gui.commands import refusals

WHAT_IF = "Huawei delivers half"


@pytest.fixture
def refused():
    said = []
    refusals.refused.connect(said.append)
    yield said
    refusals.refused.disconnect(said.append)


def _efficiency(store, name):
    """The scenario's serving efficiency as stored now (None when there is no such scenario)."""
    if name not in {s["name"] for s in store.scenarios()}:
        return None
    return store.scenario(name)["params"]["serving_efficiency_scale"]


def _save_elsewhere(path, name, efficiency):
    """Another window saves `name` (creating it if need be) with this serving efficiency."""
    other = open_store(path)
    try:
        params = dict(other.scenario("Story default")["params"], serving_efficiency_scale=efficiency)
        other.save_scenario(name, params)
    finally:
        other.close()


# ---- 1. scenario steps --------------------------------------------------------------------------

def test_redo_of_new_keeps_another_windows_later_new_of_the_same_name(window, store, refused):
    bar, stack = window.scenario_bar, window.undo_stack
    assert bar.new_scenario("Plan B")
    stack.undo()
    assert _efficiency(store, "Plan B") is None
    _save_elsewhere(store.path, "Plan B", 0.6)
    stack.redo()   # wrote this window's empty 'Plan B' over the other's
    assert _efficiency(store, "Plan B") == 0.6
    assert refused == ["Could not redo 'New scenario 'Plan B'': scenario 'Plan B' was created by another window "
                       "or program after this step was undone; nothing was redone"]
    assert not stack.canRedo()
    stack.undo()   # deleted the other window's 'Plan B'
    assert _efficiency(store, "Plan B") == 0.6


def test_redo_of_save_keeps_another_windows_later_save(window, store, refused):
    bar, stack = window.scenario_bar, window.undo_stack
    params = dict(store.scenario("Story default")["params"], serving_efficiency_scale=0.5)
    assert _efficiency(store, "Story default") == 1.0
    assert bar.save_current(params)
    stack.undo()
    assert _efficiency(store, "Story default") == 1.0
    _save_elsewhere(store.path, "Story default", 0.7)
    stack.redo()   # put 0.5 back over the other window's 0.7 ...
    assert _efficiency(store, "Story default") == 0.7
    assert len(refused) == 1 and "'Story default' was saved by another window or program after this step " \
                                 "was undone; nothing was redone" in refused[0]
    stack.undo()   # ... and this undo then put 1.0 back: 0.7 was gone
    assert _efficiency(store, "Story default") == 0.7


def test_redo_of_delete_keeps_another_windows_later_save(window, store, refused):
    bar, stack = window.scenario_bar, window.undo_stack
    assert bar.select(WHAT_IF) and bar.delete_current()
    stack.undo()
    _save_elsewhere(store.path, WHAT_IF, 0.7)
    stack.redo()   # deleted the other window's save
    assert _efficiency(store, WHAT_IF) == 0.7
    assert len(refused) == 1 and f"'{WHAT_IF}' was saved by another window or program after this step was " \
                                 "undone" in refused[0]


def test_undo_of_save_keeps_the_scenario_another_window_deleted(window, store, refused):
    bar, stack = window.scenario_bar, window.undo_stack
    params = dict(store.scenario(WHAT_IF)["params"], serving_efficiency_scale=0.4)
    assert bar.select(WHAT_IF) and bar.save_current(params)
    other = open_store(store.path)
    other.delete_scenario(WHAT_IF)
    other.close()
    stack.undo()   # would write the scenario back as it was before this Save
    assert _efficiency(store, WHAT_IF) is None
    assert len(refused) == 1 and f"'{WHAT_IF}' was deleted or renamed by another window or program after this " \
                                 "step; nothing was undone" in refused[0]


def test_undo_and_redo_with_nobody_else_writing_still_work(window, store, refused):
    bar, stack = window.scenario_bar, window.undo_stack
    assert bar.new_scenario("Plan C")
    stack.undo()
    assert _efficiency(store, "Plan C") is None
    stack.redo()
    assert _efficiency(store, "Plan C") == 1.0
    assert bar.select("Story default")
    assert bar.save_current(dict(store.scenario("Story default")["params"], serving_efficiency_scale=0.5))
    stack.undo()
    stack.redo()
    assert _efficiency(store, "Story default") == 0.5
    assert bar.select(WHAT_IF) and bar.delete_current()
    stack.undo()
    stack.redo()
    assert _efficiency(store, WHAT_IF) is None and refused == []


def test_undo_of_a_what_ifs_save_after_its_baseline_was_saved_elsewhere(window, store, refused):
    """Only the baseline moved: the what-if's own row is as this Save left it, so undo takes the
    Save back (its resolved inputs differ, but nothing another window wrote is lost)."""
    bar, stack = window.scenario_bar, window.undo_stack
    months = store.scenario(WHAT_IF)["params"]["months"]
    assert bar.select(WHAT_IF)
    assert bar.save_current(dict(store.scenario(WHAT_IF)["params"], serving_efficiency_scale=0.4))
    other = open_store(store.path)
    base = other.scenario("Story default")["params"]
    other.save_scenario("Story default", dict(base, months=months + 12))
    other.close()
    stack.undo()
    assert refused == []
    assert _efficiency(store, WHAT_IF) == 1.0 and store.scenario(WHAT_IF)["params"]["months"] == months + 12


# ---- 2. a plan added as orders --------------------------------------------------------------------

def _plan(panel):
    """The plan to June 2025 at 75% with at most 25,000 of a chip a quarter: two orders (25,000 H20
    in Nov 2024 and 14,000 in Jan 2025), so a step can fail, or be edited elsewhere, between them.
    (Since s28, the 910B2 rated at 283 tokens/s, the 80% plan at 50,000 a quarter is one order.)"""
    from PySide6.QtCore import QDate

    panel.until_edit.setDate(QDate(2025, 6, 1))
    panel.confidence.setValue(75)
    for r in range(panel.cand_table.rowCount()):
        panel.cand_table.item(r, 4).setText("25000")
    panel.compute_now()
    assert panel.result is not None and panel.result.feasible and len(panel.result.orders) >= 2
    return len(panel.result.orders)


def _fail_second_insert(monkeypatch, exc):
    """The store's second row insert fails as a full disk does (or with `exc`)."""
    real, calls = Table.insert, []

    def insert(self, *args, **kwargs):
        calls.append(self.name)
        if self.name == "orders" and calls.count("orders") == 2:
            raise exc
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Table, "insert", insert)


def test_a_plan_whose_second_write_fails_adds_nothing_and_says_so(plan_panel, store, monkeypatch):
    _plan(plan_panel)
    stack, before = plan_panel._stack, store.order_rows()
    steps = stack.count()
    _fail_second_insert(monkeypatch, sqlite3.OperationalError("disk I/O error"))
    assert plan_panel.add_as_orders() == 0
    monkeypatch.undo()
    assert store.order_rows() == before   # the first order stayed
    text = plan_panel.banner.text()
    assert text.startswith("The plan was not added to the Fleet: ") and "disk I/O error" in text
    assert "nothing was changed" in text or "left unchanged" in text   # true now
    assert stack.count() == steps   # no step (the macro left an empty or a half step)


def test_a_plan_is_one_step_all_or_nothing_with_the_same_ids_on_redo(plan_panel, store):
    n = _plan(plan_panel)
    stack, before = plan_panel._stack, store.order_rows()
    steps = stack.count()
    assert plan_panel.add_as_orders() == n
    assert stack.count() == steps + 1 and stack.undoText().startswith(f"Add plan ({n} orders")
    added = [r for r in store.order_rows() if r not in before]
    assert len(added) == n and {r["buyer"] for r in added} == {"plan"}
    stack.undo()
    assert store.order_rows() == before
    stack.redo()
    assert store.order_rows() == before + added   # same ids, same rows


def test_undo_of_a_plan_edited_elsewhere_keeps_every_order(plan_panel, store, refused):
    n = _plan(plan_panel)
    stack, before = plan_panel._stack, store.order_rows()
    assert plan_panel.add_as_orders() == n
    ids = [r["id"] for r in store.order_rows() if r not in before]
    other = open_store(store.path)
    other.update_order(ids[-1], "quantity", 15000)   # (a 14,000-chip order: fewer would leave its lot unscheduled)
    other.close()
    stack.undo()   # removed the others and kept the edited one
    assert [r["id"] for r in store.order_rows()] == [r["id"] for r in before] + ids
    assert len(refused) == 1 and refused[0].startswith(f"Could not undo 'Add plan ({n} orders)': order {ids[-1]} (plan "
                                                       "15,000 ")
    assert refused[0].endswith(f"was changed by another window or program since; none of the {n} orders was removed")
    assert not stack.canRedo() and not stack.canUndo()


def test_undo_of_a_plan_refuses_when_one_order_got_a_delivery_elsewhere(plan_panel, store, refused):
    n = _plan(plan_panel)
    stack = plan_panel._stack
    assert plan_panel.add_as_orders() == n
    first = max(r["id"] for r in store.order_rows()) - n + 1
    other = open_store(store.path)
    order = next(r for r in other.order_rows() if r["id"] == first)
    other.add_delivery({"order_id": first, "quantity": 1, "date": order["order_date"]})
    other.close()
    stack.undo()
    assert len(store.order_rows()) >= n and first in {r["id"] for r in store.order_rows()}
    assert len(refused) == 1 and f"order {first} (plan" in refused[0] and "none of the" in refused[0]


def test_store_adds_orders_all_or_none(store, monkeypatch):
    rows = [{"buyer": "plan", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": q, "order_date": "2025-03-01"}
            for q in (100, 200)]
    before = store.order_rows()
    bad = [rows[0], dict(rows[1], chip_id="no-such-chip")]
    with pytest.raises(ValidationError, match=r"^order 2 of 2 \(plan, no-such-chip\); none was added: chip_id"):
        store.add_orders_with_snapshots(bad)
    assert store.order_rows() == before
    _fail_second_insert(monkeypatch, KeyboardInterrupt())   # killed between the two rows
    with pytest.raises(KeyboardInterrupt):
        store.add_orders_with_snapshots(rows)
    monkeypatch.undo()
    other = open_store(store.path)   # nothing of it reached the file
    assert other.order_rows() == before
    other.close()
    ids, old, new = store.add_orders_with_snapshots(rows)
    assert [r["quantity"] for r in store.order_rows() if r["id"] in ids] == [100, 200]
    assert store.swap_rows(new, old) == 2 and store.order_rows() == before
    with pytest.raises(UserError):   # a second undo finds nothing as it was added
        store.swap_rows(new, old)
