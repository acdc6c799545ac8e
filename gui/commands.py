"""Undoable edits of the store. `push_command(stack, cmd)` applies the change and returns the
UserError that refused it, if any; only a change that took (and changed something) goes on the
stack: QUndoStack.push drops the steps to redo before it learns a step is obsolete.

Deletes keep a snapshot and undo re-inserts the same primary keys (an order comes back with
its deliveries), so ids seen in tables, CSV exports and scenarios stay valid across undo/redo.
An import changes many rows at once: `ImportCommand` keeps the rows it changed as they were
before and after it; undo and redo change those rows and no other.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.errors import UserError
from engine.store.schema import ORDERS
from engine.store.store import NOT_GIVEN, same_rows
from gui.widgets.form_undo import MenuText, menu_safe

log = logging.getLogger("fleetcast.commands")


class _Refusals(QObject):
    refused = Signal(str)   # an undo that could not be done, in words (the window shows it)


refusals = _Refusals()


def _short(value) -> str:
    # one line: Qt's menu text stops at a line break ("Undo line two + three" for a two-line note)
    text = "blank" if value in (None, "") else " ".join(str(value).split())
    return text if len(text) <= 30 else text[:29] + "…"


class StoreCommand(MenuText, QUndoCommand):
    """Base: `apply()` does the change the first time and on redo; `revert()` undoes it."""

    def __init__(self, store, text: str):
        super().__init__(menu_safe(text))
        self.store = store
        # Read through a plain dict: after a refused push Qt deletes the C++ command.
        self.outcome: dict = {"error": None, "applied": 0}

    area: str | None = "fleet"   # the window brings this area forward when the step is undone or redone
    # and this page of it (gui.panels.fleet.FleetPanel.PAGES): the value it changes in sight
    fleet_page: str | None = "orders"

    def order_to_select(self, undone: bool) -> int | None:
        """The order the Fleet view selects after this step is undone (`undone`) or done: the one
        it put back or added; None when it has none."""
        return None

    def apply(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def revert(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def redo(self) -> None:
        if self.outcome.pop("done_before_push", False):   # push_command applied it already
            return
        try:
            self.apply()
            self.outcome["applied"] += 1
        except UserError as exc:
            if self.outcome["applied"] == 0:
                self.outcome["error"] = exc
                self.setObsolete(True)
            else:  # another program changed those rows since: as for undo, below
                log.error("redo of %r refused: %s", self.text(), exc)
                self.outcome["error"] = exc
                self.setObsolete(True)
                refusals.refused.emit(f"Could not redo '{self.text()}': {exc}")

    def undo(self) -> None:
        try:
            self.revert()
        except UserError as exc:
            # The data could not go back (another program changed those rows since): the step
            # leaves the history, since Qt has already moved past it, and the window says why.
            log.error("undo of %r refused: %s", self.text(), exc)
            self.outcome["error"] = exc
            self.setObsolete(True)
            refusals.refused.emit(f"Could not undo '{self.text()}': {exc}")


def push_command(stack: QUndoStack, command: StoreCommand) -> UserError | None:
    """Apply `command` and, where it took, put it on `stack`. A refused step never reaches the
    stack: QUndoStack.push drops the steps to redo before it learns the new one is obsolete, so a
    typo ("abc" in Quantity) cost the whole redo history (QA s37)."""
    outcome = command.outcome
    command.redo()
    if outcome["error"] is not None or command.isObsolete():   # refused, or nothing changed (QA s37)
        return outcome["error"]
    outcome["done_before_push"] = True   # Qt's push calls redo(): the step is done already
    stack.push(command)
    return outcome["error"]


# ---- chips ------------------------------------------------------------------------------------

class _EditFieldCommand(StoreCommand):
    """One field of a chip, order or delivery. Undo and redo write only over the value this step
    left (or found): what another window or program wrote since stays, and the step is refused in
    words instead."""

    kind = ""   # "chip", "order" or "delivery": the store's update_<kind> and stored_value kind

    def __init__(self, store, key, field: str, value, text: str, shown=NOT_GIVEN):
        super().__init__(store, text)
        self.key, self.field, self.value = key, field, value
        # the value the user saw when typing (a table cell's when its editor opened): the first
        # apply is refused where the store holds another program's value since (QA s39)
        self.shown = shown
        self.old_value = None
        self.new_value = None

    def _update(self, value, expect):
        return getattr(self.store, f"update_{self.kind}")(self.key, self.field, value, expect=expect)

    def apply(self):
        expect = self.old_value if self.outcome["applied"] else self.shown
        old = self._update(self.value, expect)
        if self.outcome["applied"] == 0:
            self.old_value = old
        self.new_value = self.store.stored_value(self.kind, self.key, self.field)

    def revert(self):
        self._update(self.old_value, self.new_value)


def _table_columns(kind: str) -> tuple:
    """The columns of the table that shows `kind` ("chip", "order", "delivery"); () for others."""
    from gui.table_models import ChipTableModel, DeliveryTableModel, OrderTableModel

    model = {"chip": ChipTableModel, "order": OrderTableModel, "delivery": DeliveryTableModel}.get(kind)
    return tuple(model.columns) if model is not None else ()


def field_label(kind: str, field: str) -> str:
    """A stored field as its table's column header names it ("Price (USD/chip)", not
    "price_usd_per_chip"): the undo menu and the error banner speak the table's words."""
    return next((c.header for c in _table_columns(kind) if c.key == field), field.replace("_", " "))


def in_table_words(kind: str, field: str, message: str) -> str:
    """`message` ("order_date: '2025-02-30' (...)") with its fields named as the columns are:
    the edited one, and each other stored field a problem names ("2 problems: promised: ...;
    quantity: ..." named the stored fields where one problem used the header)."""
    import re

    keys = sorted({c.key for c in _table_columns(kind)} | ({field} if field else set()), key=len, reverse=True)
    pattern = re.compile(r"(^|; |problems?: )(" + "|".join(re.escape(k) for k in keys) + r"):")
    return pattern.sub(lambda m: f"{m.group(1)}{field_label(kind, m.group(2))}:", message)


class EditChipCommand(_EditFieldCommand):
    kind = "chip"
    fleet_page = "chips"

    def __init__(self, store, chip_id: str, field: str, value, shown=NOT_GIVEN):
        super().__init__(store, chip_id, field, value, f"Edit {chip_id} {field_label('chip', field)} → {_short(value)}",
                         shown)


# ---- orders -----------------------------------------------------------------------------------

class AddOrderCommand(StoreCommand):
    adds = "order"   # the table a refusal's fields are named from (the form's words, gui.panels.fleet)

    def __init__(self, store, row: dict):
        super().__init__(store, f"Add order ({row.get('buyer') or '?'}, {row.get('chip_id') or '?'})")
        self.row = dict(row)
        self.order_id: int | None = None
        self.snapshot: dict | None = None

    def apply(self):
        if self.snapshot is not None:  # redo: same id as the first time
            self.store.restore_order(self.snapshot)
        else:
            self.order_id = self.store.add_order(self.row)
        self.added = self.store.order_snapshot(self.order_id)

    def revert(self):   # not over edits or deliveries another window or program made since
        self.snapshot = self.store.delete_order(self.order_id, expect=self.added)

    def order_to_select(self, undone: bool) -> int | None:
        return None if undone else self.order_id


class AddOrdersCommand(StoreCommand):
    """Several new orders as one step, all or none (the Plan view's "Add plan as assumption
    orders"): one transaction adds them all (a step of separate adds left the first of a plan
    stored when the second failed, and its undo removed the others when one had been edited
    elsewhere). Undo and redo change exactly those rows (Store.swap_rows), refused whole, with
    nothing changed, when another window or program changed or deleted any of them since."""

    def __init__(self, store, rows: list[dict], text: str):
        super().__init__(store, text)
        self.rows = [dict(r) for r in rows]
        self.order_ids: list[int] = []
        self.before: dict | None = None   # the rows before and after the add: swap_rows snapshots
        self.after: dict | None = None

    def apply(self):
        if self.after is not None:   # redo: the same orders, same ids, where nothing took them since
            self.store.swap_rows(self.before, self.after)
            return
        self.order_ids, self.before, self.after = self.store.add_orders_with_snapshots(self.rows)

    def _changed_since(self) -> str | None:
        """The first added order another window or program changed, deleted or gave a delivery
        since this step, in words; None when every one is as added. (swap_rows checks the order
        rows again inside its transaction; it does not look at their deliveries.)"""
        for row in (self.after or {}).get(ORDERS, []):
            try:
                now = self.store.order_snapshot(row["id"])
            except UserError:
                return f"order {row['id']} was deleted"
            if not same_rows(now, {"order": row, "deliveries": []}):
                return f"order {self.store.records_in_words('orders', [row['id']])} was changed"
        return None

    def revert(self):
        changed = self._changed_since()
        if changed is not None:
            raise UserError(f"{changed} by another window or program since; none of the "
                            f"{len(self.order_ids):,} orders was removed")
        self.store.swap_rows(self.after, self.before)

    def order_to_select(self, undone: bool) -> int | None:
        return None if undone or not self.order_ids else self.order_ids[0]


class EditOrderCommand(_EditFieldCommand):
    kind = "order"

    def __init__(self, store, order_id: int, field: str, value, shown=NOT_GIVEN):
        super().__init__(store, order_id, field, value,
                         f"Edit order {order_id} {field_label('order', field)} → {_short(value)}", shown)


class DeleteOrderCommand(StoreCommand):
    """Deletes an order and its deliveries; undo re-inserts both with the same ids."""

    def __init__(self, store, order_id: int):
        super().__init__(store, f"Delete order {order_id}")
        self.order_id = order_id
        self.snapshot: dict | None = None

    def apply(self):   # a redo deletes only the order as the undo put it back, not later edits
        expect = self.snapshot if self.outcome["applied"] else None
        self.snapshot = self.store.delete_order(self.order_id, expect=expect)

    def revert(self):
        self.store.restore_order(self.snapshot)

    def order_to_select(self, undone: bool) -> int | None:
        return self.order_id if undone else None


# ---- deliveries -------------------------------------------------------------------------------

class AddDeliveryCommand(StoreCommand):
    adds = "delivery"

    def __init__(self, store, row: dict):
        super().__init__(store, f"Add delivery to order {row.get('order_id')} ({_short(row.get('quantity'))} chips)")
        self.row = dict(row)
        self.delivery_id: int | None = None
        self.snapshot: dict | None = None

    def apply(self):
        if self.snapshot is not None:
            self.store.restore_delivery(self.snapshot)
        else:
            self.delivery_id = self.store.add_delivery(self.row)
        self.added = self.store.delivery_row(self.delivery_id)

    def revert(self):   # not over an edit another window or program made since
        self.snapshot = self.store.delete_delivery(self.delivery_id, expect=self.added)

    def order_to_select(self, undone: bool) -> int | None:
        return self.row.get("order_id")


class EditDeliveryCommand(_EditFieldCommand):
    kind = "delivery"

    def __init__(self, store, delivery_id: int, field: str, value, shown=NOT_GIVEN):
        super().__init__(store, delivery_id, field, value,
                         f"Edit delivery {delivery_id} {field_label('delivery', field)} → {_short(value)}", shown)


class DeleteDeliveryCommand(StoreCommand):
    def __init__(self, store, delivery_id: int):
        super().__init__(store, f"Delete delivery {delivery_id}")
        self.delivery_id = delivery_id
        self.snapshot: dict | None = None

    def apply(self):   # as DeleteOrderCommand's
        expect = self.snapshot if self.outcome["applied"] else None
        self.snapshot = self.store.delete_delivery(self.delivery_id, expect=expect)

    def revert(self):
        self.store.restore_delivery(self.snapshot)


def follow_stack(stack, slot):
    """Call `slot` whenever the undo stack moves; returns an idempotent `unfollow()`.

    Views detach before their store closes (a dying stack still signals) and may be shut down
    twice (window close, then test teardown); a second disconnect would warn.
    """
    stack.indexChanged.connect(slot)
    following = [True]

    def unfollow() -> None:
        if following[0]:
            following[0] = False
            stack.indexChanged.disconnect(slot)

    return unfollow


def store_reading(store, method: str) -> int | None:
    """`store.change_count()` or `store.data_version()`; None when the store has no such reading
    (a test double) or cannot give one now (the file went away or is locked for a moment)."""
    read = getattr(store, method, None)
    try:
        return read() if callable(read) else None
    except UserError:
        return None


def follow_store_writes(stack, store, slot):
    """As `follow_stack`, but `slot` runs only when the move wrote to the store (its change count
    moved): the window's stack also carries every form edit, and a view that re-reads the store,
    or drops its cached engine runs, on each keystroke is slow with a large fleet or a dense model."""
    last = [store_reading(store, "change_count")]

    def on_move(*args) -> None:
        now = store_reading(store, "change_count")   # it reads the file's data_version too
        if now is not None and now == last[0]:
            return
        last[0] = now
        slot(*args)

    return follow_stack(stack, on_move)


# ---- imports ----------------------------------------------------------------------------------

def ask_to_replace(question: str) -> bool:
    """Yes/No (default No) before an import replaces stored records with a file's rows of the
    same id. Module-level so a test can answer it."""
    return _ask_yes_no("Replace existing records?", question)


def ask_to_add_twins(question: str) -> bool:
    """Yes/No (default No) before an import adds orders equal to stored ones in every field and
    delivery (the same sheet again?). Module-level so a test can answer it."""
    return _ask_yes_no("Import the same orders again?", question)


def _ask_yes_no(title: str, question: str) -> bool:
    from PySide6.QtWidgets import QApplication, QMessageBox

    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(QApplication.activeWindow(), title, question,
                                  buttons.Yes | buttons.No, buttons.No)
    return answer == buttons.Yes


class ImportCommand(StoreCommand):
    """Import a chips or orders CSV (all rows or none); undo puts the rows it touched back.

    Rows that would change existing records are first refused, as the CLI refuses them without
    --replace (another database's export carries its own order 4, not this one's): the window
    asks, naming them, and imports again replacing only those on Yes."""

    def __init__(self, store, kind: str, path: str):
        super().__init__(store, f"Import {kind} from {_short(str(path).rsplit('/', 1)[-1])}")
        self.kind, self.path = kind, path
        self.fleet_page = "chips" if kind == "chips" else "orders"
        self.before: dict | None = None
        self.after: dict | None = None
        self.count = 0
        self.summary = None  # engine.store.transfer.ImportSummary: what was added and updated
        # progress(fraction, message) of the first apply; may raise engine.errors.Cancelled (nothing written)
        self.progress = None

    def apply(self):
        if self.after is not None:  # redo: the rows as the import left them (its rows only)
            self.store.swap_rows(self.before, self.after)
            return
        from engine.errors import ValidationError
        from engine.store.transfer import TwinsRefused, UpdatesRefused, show_ids

        file_name = str(self.path).rsplit("/", 1)[-1]
        allowed: frozenset | bool = False   # the ids the user agreed to replace
        twins_ok = False                    # rows equal to stored orders added as more, asked
        while True:
            try:
                result = self.store.import_with_snapshots(self.kind, self.path, update_existing=allowed,
                                                          allow_twins=twins_ok, progress=self.progress)
                break
            except UpdatesRefused as refused:
                ids = refused.ids
                if allowed is not False:   # only those asked about: one another program wrote since is not replaced
                    raise ValidationError([f"{self.kind} {show_ids(ids)} changed since you were asked (by another "
                                           "program?); import again"], context=refused.context) from None
                question = (f"Replace {self.kind} {self.store.records_in_words(self.kind, ids)} with the file's?\n\n"
                            f"{file_name} has {len(ids):,} row(s) with the id of a stored {self.kind[:-1]} but other "
                            "values (an export of another database?). "
                            + ("A row that gives deliveries replaces the order's deliveries too. " if self.kind == "orders"
                               else "") + "No imports nothing.")
                if not ask_to_replace(question):
                    raise ValidationError([f"{len(ids):,} row(s) would change existing {self.kind} ({show_ids(ids)}); "
                                           "kept as they are"], context=refused.context) from None
                allowed = frozenset(ids)
            except TwinsRefused as twins:
                # the same sheet imported again had doubled the fleet with a warning (QA s41)
                question = (f"Add {len(twins.lines):,} more order(s) equal to stored ones?\n\n{file_name} has "
                            f"{len(twins.lines):,} row(s) without an id equal to stored orders "
                            f"({show_ids(sorted(set(twins.twins)))}) in every field and delivery: imported before? "
                            "Yes adds them as more orders; No imports nothing.")
                if twins_ok or not ask_to_add_twins(question):
                    raise ValidationError([f"{len(twins.lines):,} row(s) equal stored orders in every field and "
                                           "delivery; kept as they are"], context=twins.context) from None
                twins_ok = True
        self.summary, self.before, self.after = result
        self.count = self.summary.count
        self.outcome["summary"] = self.summary   # (read after the push, as `error` is)
        if not (self.summary.added or self.summary.updated):
            # a re-import that changed nothing is no step to undo (Qt drops it on push)
            self.setObsolete(True)

    def revert(self):
        # only the rows this import added or changed go back: rows another program wrote since
        # stay (a whole-table restore deleted them)
        self.store.swap_rows(self.after, self.before)
