"""Every form edit on the undo stack, and whether a panel differs from its saved scenario.

A panel's inputs are its `scenario_state()` (a plain dict); `apply_scenario_state(state)` puts
them back. The watcher listens to every input widget of a panel, takes a snapshot after each
edit and pushes a `FormEditCommand(old, new)`: undo applies the old snapshot, redo the new one.
Quick edits of the same fields (typing "1024" into a spin box) merge into one command; edits of
two fields, however quick, stay two steps.

    watcher = FormUndoWatcher(panel, undo_stack, "Training")
    watcher.edited.connect(window.update_modified)
    with watcher.suspended():
        panel.apply_scenario_state(state)      # loading a scenario is not an edit
    watcher.mark_saved()                       # the current inputs are what the scenario holds
"""

from __future__ import annotations

import contextlib
import copy
import time
import weakref

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QDateEdit, QLineEdit, QWidget,
)

from engine.scenario_changes import EDITED_NOTE, diff_params, path_words, split_path

MERGE_WINDOW_S = 1.5
STALE_SUFFIX = " (another scenario's: skipped)"
_COMMAND_ID = 0x46E0  # FormEditCommand.id(): commands with the same id may merge
WATCHED_PROPERTY = "fleetcastFormUndoWatched"  # Qt property on a widget or model already listened to
_WATCHED = WATCHED_PROPERTY
_LIVE_WATCHERS: "weakref.WeakSet[FormUndoWatcher]" = weakref.WeakSet()


def flush_pending_edits() -> None:
    """Push the edit every watcher has waiting (its snapshot runs on the next event-loop turn):
    an undo pressed in the same turn as the change must find that edit on the stack."""
    for watcher in list(_LIVE_WATCHERS):
        with contextlib.suppress(RuntimeError):   # a watcher whose panel is being destroyed
            watcher.check_now()


def changed_keys(old: dict, new: dict) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def changed_fields(old: dict, new: dict, prefix: tuple = ()) -> list[tuple]:
    """The paths of the fields an edit changed, walking nested inputs down to their fields: two
    quick edits merge only when they touch the same fields (typing "1024" into one spin box),
    not when they share a group (TP then PP, both under "layout", had merged into one step; QA)."""
    out: list[tuple] = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            out += changed_fields(a, b, (*prefix, key))
        else:
            out.append((*prefix, key))
    return out


def edited_names(old: dict, new: dict, labels: dict[str, str], caption_of=None,
                 chip_labels: dict[str, str] | None = None) -> list[str]:
    """What an edit changed, in the form's words: the panel's `STATE_LABELS` for its inputs
    ("Chip count", not "num chips"); inside a nested input without a label of its own (the
    Forecast's demand, a vendor's uncertainty), each changed field as Compare names it."""
    names: list[str] = []
    for key in changed_keys(old, new):
        a, b = old.get(key), new.get(key)
        if key not in labels and isinstance(a, dict) and isinstance(b, dict):
            paths = sorted(set(diff_params(a, b)) | set(diff_params(b, a)))   # changed, added, removed
            # a note marked as written for earlier values follows the edit of those values: the
            # step is named by what the user edited (not "demand note, demand peak/average")
            paths = [p for p in paths if not _only_marked(_nested(a, p), _nested(b, p))] or paths
            # (chips by the names the form shows: "training share of H20", not of "h20-96gb"; QA s31)
            names += [path_words([key, *split_path(p)], chip_labels or {}) for p in paths] or [path_words([key], {})]
        elif key in labels and isinstance(a, dict) and isinstance(b, dict):
            # a labelled group: the group and its fields ("Software: dropout"), so two edits in
            # one group read as two steps in the Edit menu
            fields = [(caption_of(path[-1]) if caption_of else None) or path_words(list(path), {})
                      for path in changed_fields(a, b)]
            names.append(f"{labels[key]}: {', '.join(fields)}" if fields else labels[key])
        else:
            names.append(labels.get(key) or path_words([key], {}))
    return list(dict.fromkeys(names))


def _nested(params, path: str):
    for key in split_path(path):
        params = params.get(key) if isinstance(params, dict) else None
    return params


def _only_marked(old, new) -> bool:
    """Two notes that differ only by the mark of a note written for earlier values."""
    return isinstance(old, str) and isinstance(new, str) and old != new and \
        (new == EDITED_NOTE + old or old == EDITED_NOTE + new)


def _at(params, path: tuple):
    for key in path:
        params = params.get(key) if isinstance(params, dict) else None
    return params


def table_step(panel: QWidget, old: dict, new: dict) -> str:
    """An editable table's own words for an edit of its rows alone, as the Fleet names its steps
    ("Add demand point", "Edit H20 Most per quarter → 99,000"; every such edit read "Edit Forecast:
    demand points" or "Edit Plan: Candidates: h20-96gb"), or "". A table says where its rows sit in
    the panel's state (`STATE_PATH`) and names the edit (`step_text(old rows, new rows)`)."""
    fields = [f for f in changed_fields(old, new) if not _only_marked(_at(old, f), _at(new, f))]
    if not fields:
        return ""
    for table in panel.findChildren(QWidget):
        path = tuple(getattr(table, "STATE_PATH", ()) or ())
        if path and all(f[:len(path)] == path for f in fields) and callable(getattr(table, "step_text", None)):
            return table.step_text(_at(old, path), _at(new, path)) or ""
    return ""


def cell_words(item) -> str:
    """A table cell's text as a step names it ("on" or "off" for a check box cell)."""
    if item is None:
        return ""
    # a check box cell is one with a check state: every QTableWidgetItem is user-checkable by
    # default, and a cleared text cell read "→ off" (QA s28)
    if item.data(Qt.ItemDataRole.CheckStateRole) is not None and not item.text():
        return "on" if item.checkState() == Qt.CheckState.Checked else "off"
    return item.text()


def column_caption(header: str) -> str:
    """A column's name without its unit ("Most per\nquarter (chips)" -> "Most per quarter")."""
    words = " ".join(header.split())
    return words.split(" (")[0] if " (" in words else words


def keyed_rows_step(table, row_keys: list[str], field_columns: dict[str, int], old, new) -> str:
    """The step of an edit of a table whose state is {row key: {field: value}}, each row's changes
    from its defaults (the Plan's candidates, `row_keys` their chip ids in table order): "Edit H20
    Most per quarter → 99,000", the row named by its first cell with text and the value as the
    cell shows it now; "" unless exactly one cell changed."""
    old, new = old if isinstance(old, dict) else {}, new if isinstance(new, dict) else {}
    changed = [(r, field) for r, key in enumerate(row_keys) for field in field_columns
               if (old.get(key) or {}).get(field) != (new.get(key) or {}).get(field)]
    if len(changed) != 1 or changed[0][0] >= table.rowCount():
        return ""
    r, field = changed[0]
    column = field_columns[field]
    texts = [cell_words(table.item(r, c)) for c in range(table.columnCount())]
    name = next((table.item(r, c).text() for c in range(table.columnCount())
                 if table.item(r, c) is not None and table.item(r, c).text().strip()), row_keys[r])
    header = table.horizontalHeaderItem(column)
    caption = column_caption(header.text()) if header is not None else field.replace("_", " ")
    return f"Edit {name} {caption} → {texts[column]}"


class MenuText:
    """For a QUndoCommand: its words shown in the Edit menu as written. Qt reads '&' in an action's
    text as the next letter's shortcut, so a note "R&D" read "Undo Edit note → RD" with the D
    underlined. The part after a line break is the menu's words (`actionText`); `text()` (the
    status bar's "Undid: ...") keeps the plain part."""

    def setText(self, text: str) -> None:   # noqa: N802 (Qt's name)
        super().setText(menu_safe(text))   # type: ignore[misc]


def menu_safe(text: str) -> str:
    return f"{text}\n{text.replace('&', '&&')}" if "&" in text else text


class FormEditCommand(MenuText, QUndoCommand):
    def __init__(self, watcher: "FormUndoWatcher", old: dict, new: dict):
        self.keys = changed_fields(old, new)
        # a table's step stands alone: a table commits once a cell, not a keystroke, and two quick
        # steps merged kept the first one's words ("Add demand point" for an add and an edit)
        self.table_step = table_step(watcher.panel, old, new)
        # (the view named after it, as "Edit Forecast: …" names it: the Edit menu lists every view's steps)
        step = f"{self.table_step} ({watcher.title})" if self.table_step and watcher.title else self.table_step
        super().__init__(menu_safe(step or self._text(watcher, old, new)))
        self.watcher, self.old, self.new = watcher, old, new
        self.generation = watcher.generation   # the scenario load the edit was made in
        self.scenario = watcher.scenario         # and the scenario's name
        self.created_s = time.monotonic()
        self._first = True

    @staticmethod
    def _text(watcher: "FormUndoWatcher", old: dict, new: dict) -> str:
        errors = getattr(watcher.panel, "errors", None)   # the form's captions of its fields, where it has them
        names = edited_names(old, new, dict(getattr(watcher.panel, "STATE_LABELS", {})),
                             getattr(errors, "caption_of", None), getattr(watcher.panel, "chip_labels", None))
        shown = ", ".join(names[:3]) + ("…" if len(names) > 3 else "")
        return f"Edit {watcher.title}: {shown}"

    def id(self) -> int:  # noqa: A003 (Qt override)
        return _COMMAND_ID

    def mergeWith(self, other) -> bool:  # noqa: N802 (Qt override)
        if not isinstance(other, FormEditCommand) or other.watcher is not self.watcher \
                or other.generation != self.generation or self.table_step or other.table_step:
            return False
        mine, theirs = set(self.keys), set(other.keys)
        # (one field's edit may also touch a field it drives, say a note marked as written for
        # the earlier value on the first keystroke only: still the same edit, its later keystrokes
        # a subset of the first. A later edit touching more than this step is another edit that
        # drives this one's field: the Inference load kind rewriting the load typed just before
        # merged into it, and one undo took the typed 2.5 requests/s away with the kind; QA s31)
        if not theirs <= mine or other.created_s - self.created_s > MERGE_WINDOW_S:
            return False
        self.new = other.new
        if not theirs <= mine:
            self.keys = sorted(mine | theirs)
            self.setText(self._text(self.watcher, self.old, self.new))
        self.created_s = other.created_s
        if self.new == self.old:
            # typed back to where it started (90 -> 80 -> 90): a step that would undo nothing
            # leaves the stack (Qt drops a command made obsolete in mergeWith)
            self.setObsolete(True)
        return True

    def _stale(self, expected: dict) -> bool:
        """The edit was made in another scenario: applying its snapshot would put that scenario's
        inputs into this one, and a Save would store them. Or in this one before it was loaded
        again, and the inputs on screen are no longer `expected`, where the step left them (its
        edit discarded on the way out, say). Such a step drops out of the stack (Qt deletes an
        obsolete command after undo/redo). The same scenario loaded again with the step's inputs
        (saved, then left and come back to) keeps its steps: every one was skipped as "another
        scenario's", and Ctrl+Z could not take the inputs back to where they started (QA s35)."""
        if self.generation == self.watcher.generation:
            return False
        same = self.scenario is not None and self.scenario == self.watcher.scenario
        if same and self.watcher.current() == expected:
            return False
        self.setObsolete(True)
        text = self.text().removesuffix(STALE_SUFFIX)
        self.watcher.skipped.emit(
            f"'{text}' was made before '{self.scenario}' was loaded again, and its inputs have changed since: skipped"
            if same else f"'{text}' was an edit of another scenario: skipped")
        return True

    def redo(self) -> None:
        if self._first:  # the edit is already on screen
            self._first = False
            return
        if not self._stale(self.old):
            self.watcher.apply(self.new)

    def undo(self) -> None:
        if not self._stale(self.new):
            self.watcher.apply(self.old)


class FormUndoWatcher(QObject):
    edited = Signal()  # after an edit, an undo or a redo (modified state may have changed)
    skipped = Signal(str)  # an undo or redo step that belonged to another scenario was dropped

    def __init__(self, panel: QWidget, undo_stack: QUndoStack, title: str):
        super().__init__(panel)
        self.panel, self.undo_stack, self.title = panel, undo_stack, title
        self._suspended = 0
        self._pending = False
        self.generation = 0    # bumped when a scenario is loaded: older edits belong to another
        self.scenario: str | None = None   # (or to the same one loaded again: the name says which)
        # the store was written and the views are re-reading it: until `store_change_over`,
        # every change is the store's, not the user's
        self._absorb = False
        self.last = self._snapshot()
        self.saved = copy.deepcopy(self.last)
        self.connect_widgets()
        _LIVE_WATCHERS.add(self)
        if hasattr(panel, "inputs_rebuilt"):
            panel.inputs_rebuilt.connect(self.connect_widgets)

    # ---- wiring ------------------------------------------------------------------------------
    def connect_widgets(self) -> None:
        """Listen to every input widget now under the panel. Called again after each edit, load
        and save, and when the panel says it rebuilt fields (`inputs_rebuilt`), so fields made
        later (the Forecast's per-chip shares after a scenario switch) are edits too.

        A listened object carries a Qt property: Python ids of Qt wrappers are reused once a
        temporary wrapper is freed, and a new widget may take a deleted one's address."""
        for w in self.panel.findChildren(QWidget):
            if isinstance(w, QAbstractItemView):
                # editable tables (demand points, jobs, plan candidates): cell edits, checks, added
                # and removed rows are edits; tables of results (no edit triggers) are not inputs
                model = w.model()
                if model is None or model.property(_WATCHED) \
                        or w.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers:
                    continue
                for signal in (model.dataChanged, model.rowsInserted, model.rowsRemoved):
                    signal.connect(self._on_widget_changed)
                model.setProperty(_WATCHED, True)
                continue
            if w.property(_WATCHED):
                continue
            signal = None
            if isinstance(w, QDateEdit):
                signal = w.dateChanged
            elif isinstance(w, QAbstractSpinBox) and hasattr(w, "valueChanged"):
                signal = w.valueChanged
            elif isinstance(w, QComboBox):
                signal = w.currentIndexChanged
            elif isinstance(w, QLineEdit) and not isinstance(w.parentWidget(), (QAbstractSpinBox, QComboBox)):
                signal = w.editingFinished
            elif isinstance(w, QAbstractButton) and w.isCheckable():
                signal = w.toggled
            elif hasattr(w, "changed") and hasattr(w, "selected"):  # ChipSetButton
                signal = w.changed
            if signal is not None:
                signal.connect(self._on_widget_changed)
                if isinstance(w, QLineEdit):
                    signal.connect(self._on_text_confirmed)
                w.setProperty(_WATCHED, True)

    def _on_text_confirmed(self) -> None:
        """Enter or leaving a text field made its text an edit: from now on Ctrl+Z there undoes
        the window's edits, not the field's typing (gui.widgets.undo_keys reads isModified)."""
        field = self.sender()
        if isinstance(field, QLineEdit):
            field.setModified(False)

    def _on_widget_changed(self, *_) -> None:
        if self._suspended or self._pending:
            return
        self._pending = True
        QTimer.singleShot(0, self.check)  # one snapshot per edit, after the panel has reacted

    # ---- state -------------------------------------------------------------------------------
    def _snapshot(self) -> dict:
        return copy.deepcopy(self.panel.scenario_state())

    def current(self) -> dict:
        """The inputs on screen, as a step's snapshot holds them."""
        return self._snapshot()

    def check(self) -> None:
        """Push a command when the inputs differ from the last snapshot."""
        self._pending = False
        if self._suspended:
            return
        try:
            new = self._snapshot()
        except RuntimeError:  # the panel is being destroyed
            return
        if self._absorb:
            # a view re-read the store after a write (a new chip's training share, a renamed
            # scenario's tick): not an edit; what is saved moves with it unless edits are pending.
            # The flag stays until `store_change_over`: another view's follower may ask this one
            # (is_modified) before its own view has re-read the store.
            clean = self.last == self.saved
            self.last = new
            if clean:
                self.saved = copy.deepcopy(new)
            self.edited.emit()
            return
        if new == self.last:
            return
        old, self.last = self.last, new
        self.undo_stack.push(FormEditCommand(self, old, new))
        self.connect_widgets()   # an edit may have made fields (a row added to a table)
        self.edited.emit()

    def apply(self, state: dict) -> None:
        with self.suspended():
            self.panel.apply_scenario_state(copy.deepcopy(state))
        self.last = self._snapshot()
        self.connect_widgets()
        self.edited.emit()

    @contextlib.contextmanager
    def suspended(self):
        self._suspended += 1
        try:
            yield
        finally:
            self._suspended -= 1

    def store_changed(self) -> None:
        """The store was written (by this window or another program): the views re-read it, and
        the inputs that change with it are taken as they come, not pushed as edits, until
        `store_change_over`. (Ended by the first check, one view's substitution of a deleted
        model asked every view whether it was edited before the next view had re-read the store,
        and that view's substitute became the user's edit.)"""
        self._absorb = True

    def store_change_over(self) -> None:
        """Every view has re-read the store (the window calls this after the last follower of
        the write): what changed with it is saved where nothing was edited; later changes are edits."""
        if self._absorb:
            self._pending = True
            self.check()
            self._absorb = False

    def scenario_loaded(self, name: str | None = None) -> None:
        """Another scenario's inputs (or the same one's again) are on screen: the edits on the
        stack so far belong to what was shown before (`FormEditCommand._stale`)."""
        self.generation += 1
        self.scenario = name
        self.mark_saved()
        # the menu offered "Undo Edit Forecast: demand peak/average" for a discarded edit of the
        # other scenario, and Ctrl+Z then did nothing: say so in the step's name
        renamed = False
        for i in range(self.undo_stack.count()):
            command = self.undo_stack.command(i)
            if not isinstance(command, FormEditCommand) or command.watcher is not self:
                continue
            other = command.scenario is None or command.scenario != name
            marked = command.text().endswith(STALE_SUFFIX)
            if other != marked:   # back in its own scenario: its name loses the mark
                command.setText(command.text() + STALE_SUFFIX if other else command.text().removesuffix(STALE_SUFFIX))
                renamed = True
        if renamed:   # the Edit menu reads the text on index changes only
            self.undo_stack.undoTextChanged.emit(self.undo_stack.undoText())
            self.undo_stack.redoTextChanged.emit(self.undo_stack.redoText())

    def renamed(self, old: str, new: str) -> None:
        """The scenario on screen was renamed: its steps are still its own."""
        if self.scenario == old:
            self.scenario = new
        for i in range(self.undo_stack.count()):
            command = self.undo_stack.command(i)
            if isinstance(command, FormEditCommand) and command.watcher is self and command.scenario == old:
                command.scenario = new

    def mark_saved(self) -> None:
        """The inputs on screen are the scenario's saved inputs (after loading or saving)."""
        self.last = self._snapshot()
        self.saved = copy.deepcopy(self.last)
        self.connect_widgets()

    def is_modified(self) -> bool:
        self.check_now()
        return self.last != self.saved

    def check_now(self) -> None:
        if self._pending:
            self.check()
