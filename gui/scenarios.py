"""Saved scenarios: a bar to pick, create, rename, duplicate, delete (undoable) and save them.

A scenario in the store is {"name", "params"}: `params` is the forecast scenario dict
(`scenario_to_dict`) plus "ui": {"training": {...}, "inference": {...}} with the other panels'
inputs. The bar does not know the panels: the window hands it `gather_params` (a callable
returning the params to save) and listens to `current_changed(name, params)` to apply them.

    bar = ScenarioBar(store, undo_stack, gather_params=lambda: gather_scenario_params(forecast, panels))
    bar.current_changed.connect(lambda name, params: apply_scenario_params(params, forecast, panels))
    bar.emit_current()   # once connected: applies the scenario remembered from the last session
"""

from __future__ import annotations

import copy
import json
from typing import Callable, Mapping

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPainter, QUndoStack
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QWidget

from engine.errors import UserError, ValidationError
from gui import style
from gui.commands import StoreCommand, follow_stack, push_command, store_reading
from gui.settings import settings

DEFAULT_NAME = "Story default"
# confirm_overwrite's answer that keeps both saves: the other program's in the scenario, the
# inputs on screen as a new scenario beside it
KEEP_BOTH = "keep_both"
SETTINGS_KEY = "scenarios/last_by_database"   # {database path: the scenario last used on it}
MAX_REMEMBERED_DATABASES = 50


def _database_key(store) -> str:
    import os

    return os.path.realpath(str(getattr(store, "path", "") or ""))


def _remembered_map() -> dict:
    try:
        data = json.loads(settings().value(SETTINGS_KEY, "{}", type=str) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def default_params() -> dict:
    from engine.forecast import default_scenario, scenario_to_dict

    return scenario_to_dict(default_scenario())


def ensure_default_scenario(store) -> None:
    """A database without scenarios gets "Story default" (not undoable: it is the starting point)."""
    if getattr(store, "read_only", False) or store.scenarios():
        return
    params = default_params()
    params["name"] = DEFAULT_NAME
    store.save_scenario(DEFAULT_NAME, params)


def remembered_scenario(store) -> str | None:
    """The scenario used last on this database (QSettings), if it still exists; else "Story
    default" or the first. One remembered name for every database opened a new database on the
    last one's what-if ("Huawei delivers half"), which then labelled every export."""
    names = [s["name"] for s in store.scenarios()]
    last = _remembered_map().get(_database_key(store), "")
    if last in names:
        return last
    if DEFAULT_NAME in names:
        return DEFAULT_NAME
    return names[0] if names else None


def baseline_scenario(store) -> str | None:
    """The scenario a headless export uses when none is named (engine.studies_forecast.baseline_name)."""
    from engine.studies_forecast import baseline_name

    return baseline_name((s["name"] for s in store.scenarios()),
                         store.baseline_name() if hasattr(store, "baseline_name") else "")


def gather_scenario_params(forecast_panel, panels: Mapping[str, object] | None = None) -> dict:
    """Forecast inputs plus the other panels' inputs under "ui"."""
    params = forecast_panel.scenario_state() if forecast_panel is not None else default_params()
    ui = {}
    for key, panel in (panels or {}).items():
        if panel is not None and hasattr(panel, "scenario_state"):
            ui[key] = panel.scenario_state()
    params["ui"] = ui
    return params


def apply_scenario_params(params: dict, forecast_panel=None, panels: Mapping[str, object] | None = None) -> None:
    if forecast_panel is not None:
        forecast_panel.apply_scenario_state(params)
    ui = params.get("ui") or {}
    for key, panel in (panels or {}).items():
        if panel is not None and key in ui and hasattr(panel, "apply_scenario_state"):
            panel.apply_scenario_state(ui[key])


def ask_labelled(parent, title: str, text: str, labels: dict, default) -> object:
    """QMessageBox.question with its standard buttons (`labels`' keys) showing `labels`' words,
    set once the box is up: a button's own words say what it does, and a test still answers it
    as any question."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def relabel() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.windowTitle() == title:
            for which, words in labels.items():
                button = box.button(which)
                if button is not None:
                    button.setText(words)

    QTimer.singleShot(0, relabel)
    buttons = QMessageBox.StandardButton.NoButton
    for which in labels:
        buttons |= which
    return QMessageBox.question(parent, title, text, buttons, default)


def ask_overwrite(parent, bar: "ScenarioBar", name: str) -> object:
    """The window's `confirm_overwrite`: True overwrites the other save; KEEP_BOTH saves the
    inputs shown as a new scenario beside it; False saves nothing. (With Overwrite or nothing
    alone, the edits could only be dropped, or the other save: Duplicate and New asked to save
    first and led back here.)"""
    from PySide6.QtWidgets import QMessageBox

    buttons = QMessageBox.StandardButton
    answer = ask_labelled(
        parent, "Scenario changed elsewhere",
        f"'{name}' was saved by another window or program after it was opened here.\n\n"
        f"Overwrite it with the inputs shown here, or save them as a new scenario, '{bar.kept_name(name)}', "
        f"and leave '{name}' as the other save left it?",
        {buttons.Yes: "Overwrite", buttons.Save: "Save as a New Scenario", buttons.Cancel: "Cancel"}, buttons.Save)
    return True if answer == buttons.Yes else KEEP_BOTH if answer == buttons.Save else False


# ---- undo commands -----------------------------------------------------------------------------

def _params_text(store, name: str) -> str | None:
    """A scenario's stored params as compared text (None when there is no such scenario)."""
    try:
        return json.dumps(store.scenario(name)["params"], sort_keys=True)
    except UserError:
        return None


def _without_name(text: str | None) -> str | None:
    """`_params_text`'s text without the scenario's own name (None stays None)."""
    if not text:
        return None
    try:
        params = json.loads(text)
    except ValueError:
        return text
    if isinstance(params, dict):
        params.pop("name", None)
    return json.dumps(params, sort_keys=True)


def _exists(store, name: str) -> bool:
    return any(s["name"] == name for s in store.scenarios())


def _same_stored(row: dict | None, expected: dict | None) -> bool:
    """Two stored scenario rows (Store.scenario_row; None: no such scenario) hold the same inputs.
    The time stamp is left out: a save of the same inputs elsewhere loses nothing."""
    if row is None or expected is None:
        return row is None and expected is None
    return json.loads(row["params"]) == json.loads(expected["params"])


def refuse_if_moved(store, name: str, expected: dict | None, *, undoing: bool) -> None:
    """UserError, with nothing written, when scenario `name` no longer holds what this window's
    previous step left there (`expected`, its row as stored then; None: no such scenario). An undo
    or redo writing over it anyway dropped another window's later save of the same scenario (a
    redo of New put an empty 'Plan B' over the other window's, and the next undo deleted it)."""
    now = store.scenario_row(name)
    if _same_stored(now, expected):
        return
    happened = ("deleted or renamed" if now is None else "created" if expected is None else "saved")
    after = "after this step" if undoing else "after this step was undone"
    raise UserError(f"scenario '{name}' was {happened} by another window or program {after}; "
                    f"nothing was {'undone' if undoing else 'redone'}")


class SaveScenarioCommand(StoreCommand):
    """Create or overwrite a scenario; undo restores what was there (or removes the new one)."""
    area = None   # the scenario bar, in every area

    def __init__(self, store, name: str, params: dict, *, must_be_new: bool = False, text: str | None = None):
        super().__init__(store, text or f"Save scenario '{name}'")
        self.name = name
        self.params = copy.deepcopy(params)
        self.params["name"] = name
        self.must_be_new = must_be_new
        self.previous: dict | None = None
        self.previous_row: dict | None = None   # as stored (Store.scenario_row): what undo writes back
        self.saved_row: dict | None = None       # what this save stored: what redo writes back
        # (before, after) of what the views count as saved: undo puts `before` back, so the
        # edits a Save stored are unsaved again once it is undone (ScenarioBar.save_current)
        self.marks: tuple | None = None
        self.restore_marks: Callable[[object], None] | None = None
        # Asked when another window or program deleted the scenario on screen (its name): True
        # saves the inputs shown here under that name again; None or False shows another one.
        self.keep_vanished: Callable[[str], bool] | None = None
        self._known_names: set[str] = set()   # the scenarios the combo listed
        self._names_version: int | None = None   # the store's data_version when it listed them
        self.on_written: Callable[[str], None] | None = None   # the bar: its own write, not another's
        self.on_reverted: Callable[[], None] | None = None   # after an undo (a Duplicate's: back to its source)
        # after a redo (a New's or Duplicate's: its scenario current again, as the undo left it)
        self.on_redone: Callable[[], None] | None = None

    def apply(self):
        if self.outcome["applied"] == 0:
            name = (self.name or "").strip()
            if not name:
                raise ValidationError(["name: blank (a scenario needs a name)"])
            if self.must_be_new:
                # 'QA a' beside 'qa A' read as one scenario in Compare and with --scenario
                twin = next((s["name"] for s in self.store.scenarios()
                             if s["name"].casefold() == name.casefold() and s["name"] != name), None)
                if twin is not None:
                    raise ValidationError([f"name: '{name}' (differs from the scenario '{twin}' only in case; "
                                           "choose another name)"])
            if _exists(self.store, name):
                if self.must_be_new:
                    raise ValidationError([f"name: '{name}' (a scenario with this name already exists)"])
                self.previous = self.store.scenario(name)
                self.previous_row = self.store.scenario_row(name)
        if self.saved_row is not None:   # a redo writes the row the first apply wrote, byte for byte,
            # over what the undo left only (another window's save or New of the name since stays);
            # checked and written in one transaction, so no other program's save lands in between
            def redo_save():
                refuse_if_moved(self.store, self.name, self.previous_row, undoing=False)
                self.store.put_scenario_row(self.saved_row)

            self.store.atomically(redo_save)
        else:
            self.store.save_scenario(self.name, self.params)
            self.saved_row = self.store.scenario_row(self.name)
        if self.on_written is not None:
            self.on_written(self.name)
        if self.outcome["applied"] and self.marks and self.restore_marks is not None:   # a redo
            self.restore_marks(self.marks[1])
        if self.outcome["applied"] and self.on_redone is not None:
            self.on_redone()

    def revert(self):
        # saved (or deleted, renamed) by another window or program after this step: undo would
        # silently drop that. The row, not the resolved inputs: a what-if whose baseline alone was
        # saved elsewhere still holds this step's changes, which undo may take back.
        def undo_save():
            refuse_if_moved(self.store, self.name, self.saved_row, undoing=True)
            if self.previous_row is None:
                self.store.delete_scenario(self.name)
            else:   # the row as it was stored (its changes, not its inputs diffed again), time stamp too
                self.store.put_scenario_row(self.previous_row)

        self.store.atomically(undo_save)
        if self.on_written is not None:
            self.on_written(self.name)
        if self.marks and self.restore_marks is not None:
            self.restore_marks(self.marks[0])
        if self.on_reverted is not None:
            self.on_reverted()


class RenameScenarioCommand(StoreCommand):
    area = None   # the scenario bar, in every area

    def __init__(self, store, old: str, new: str):
        super().__init__(store, f"Rename scenario '{old}' → '{new}'")
        self.old, self.new = old, new
        self.on_renamed: Callable[[str, str], None] | None = None  # lets the bar follow the name

    def apply(self):
        if not self.new.strip():   # the same words as a blank New or Duplicate
            raise ValidationError(["name: blank (a scenario needs a name)"])
        if not hasattr(self, "old_updated_at"):
            self.old_updated_at = self.store.scenario(self.old).get("updated_at")
        self.store.rename_scenario(self.old, self.new, updated_at=getattr(self, "new_updated_at", None))
        self.new_updated_at = self.store.scenario(self.new).get("updated_at")
        if self.on_renamed is not None:
            self.on_renamed(self.old, self.new)

    def revert(self):
        self.store.rename_scenario(self.new, self.old, updated_at=self.old_updated_at)
        if self.on_renamed is not None:
            self.on_renamed(self.new, self.old)


class DeleteScenarioCommand(StoreCommand):
    area = None   # the scenario bar, in every area

    def __init__(self, store, name: str):
        super().__init__(store, f"Delete scenario '{name}'")
        self.name = name
        self.row: dict | None = None
        self.on_restored: Callable[[str], None] | None = None   # lets the bar show it again

    def apply(self):
        def delete():
            if self.row is not None:   # a redo deletes the scenario as the undo put it back, not a later save
                refuse_if_moved(self.store, self.name, self.row, undoing=False)
            return self.store.delete_scenario(self.name)

        self.row = self.store.atomically(delete)

    def revert(self):   # (restore_scenario refuses when the name was taken again meanwhile)
        self.store.restore_scenario(self.row)
        if self.on_restored is not None:
            self.on_restored(self.name)


class SetBaselineCommand(StoreCommand):
    """Make a scenario the baseline: Compare's first column, the CLI's scenario without
    --scenario, and what New builds on. What-ifs saved before keep the baseline they store."""
    area = None   # the scenario bar, in every area

    def __init__(self, store, name: str):
        super().__init__(store, f"Make '{name}' the baseline")
        self.name = name
        self.previous: str | None = None   # the baseline's name as stored before (None: none stored)
        self.row_before: dict | None = None   # its row before (a what-if's changes), and after (in full)
        self.row_after: dict | None = None
        self.needed: list[str] = []   # the scenarios an undo's rows read from (set_baseline's time)
        self.on_moved: Callable[[], None] | None = None   # the bar: its button and tooltip again

    def apply(self):
        def make():
            if self.outcome["applied"]:   # a redo: over the row the undo put back, not a later save
                refuse_if_moved(self.store, self.name, self.row_before, undoing=False)
            # (a UserError, with nothing written, once the scenario is gone)
            self.previous, self.row_before, self.row_after = self.store.set_baseline(self.name)
            base = json.loads(self.row_before["params"]).get("base") if self.row_before else None
            # what an undo puts back reads from these: each must still be there then (a deleted
            # baseline's name, already gone, goes back as it was)
            self.needed = [x for x in dict.fromkeys((self.previous, base)) if x and self.store.scenario_row(x) is not None]

        self.store.atomically(make)
        if self.on_moved is not None:
            self.on_moved()

    def revert(self):
        def unmake():
            refuse_if_moved(self.store, self.name, self.row_after, undoing=True)
            # the old baseline, and the scenario this one was built on, renamed or deleted elsewhere
            # since: put back, the row read from a scenario no longer there (QA s38)
            for gone in self.needed:
                if self.store.scenario_row(gone) is None:
                    raise UserError(f"scenario '{gone}' was renamed or deleted by another window or program after "
                                    f"this step; nothing was undone ('{self.name}' stays the baseline)")
            self.store.restore_baseline(self.previous, self.row_before)

        self.store.atomically(unmake)
        if self.on_moved is not None:
            self.on_moved()


# ---- the bar -------------------------------------------------------------------------------------

class _NameEdit(QLineEdit):
    """The inline name field. Esc cancels the naming, as its tooltip says: a QLineEdit ignores Esc."""

    cancelled = Signal()

    def keyPressEvent(self, event) -> None:   # noqa: N802 (Qt's name)
        if event.key() == Qt.Key.Key_Escape:
            event.accept()
            self.cancelled.emit()
            return
        super().keyPressEvent(event)


# What the naming row's button does, by what is named (the button is Create, Rename or Duplicate).
NAMING_TIPS = {"new": "Create a new what-if on the baseline under this name (Enter)",
               "rename": "Give this scenario the name typed here (Enter)",
               "duplicate": "Save a copy of the inputs shown here, unsaved edits included, under this name (Enter)"}


class _MessageLabel(QLabel):
    """The bar's refusal on one line, ending in "…" when the bar has no room for it (the tooltip
    has it whole). A plain label asked for the whole text's width: "'Story default' (a scenario
    with this name already exists)" widened the window past a 1280 screen and squeezed the name
    field to 28 px."""

    def setText(self, text: str) -> None:   # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text)

    def clear(self) -> None:
        self.setText("")

    def minimumSizeHint(self) -> QSize:   # noqa: N802
        return QSize(0, super().minimumSizeHint().height())

    def shown_text(self) -> str:
        """The text as painted: elided to the label's width."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, event) -> None:   # noqa: N802
        painter = QPainter(self)
        painter.setFont(self.font())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         self.shown_text())


class ScenarioBar(QWidget):
    """Scenario combo + New, Rename, Duplicate, Delete, Save; names typed inline (no dialogs)."""

    current_changed = Signal(str, dict)  # name, params
    renamed = Signal(str, str)           # the current scenario's old and new name (a rename or its undo)
    # any scenario's old and new name, shown or not (the views' undo steps follow it: a rename undone
    # from another scenario left the renamed one's edits skipped as another's, QA s35)
    name_moved = Signal(str, str)
    status_message = Signal(str)
    saved = Signal(str)  # after the current scenario was saved (name)

    def __init__(self, store, undo_stack: QUndoStack | None = None,
                 gather_params: Callable[[], dict] | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo_stack = undo_stack or QUndoStack(self)
        self.gather_params = gather_params
        # Asked before another scenario replaces the current inputs; False keeps the current one
        # (the window asks Save / Discard / Cancel when there are unsaved edits).
        self.confirm_switch: Callable[[], bool] | None = None
        # Asked before Save overwrites a scenario another window or program changed since this
        # one loaded or saved it (name -> True to overwrite, KEEP_BOTH to save the inputs on
        # screen as a new scenario, `kept_name(name)`, anything else saves nothing); None: overwrite.
        self.confirm_overwrite: Callable[[str], object] | None = None
        # The inputs on screen as they would be stored under another name (name -> params: a new
        # what-if keeps only its changes from the baseline); None: gather_params
        self.gather_params_as: Callable[[str], dict] | None = None
        # Whether the inputs on screen differ from what the current scenario stores (a Duplicate
        # says so); None: never
        self.unsaved: Callable[[], bool] | None = None
        # What the views count as saved, taken before and after a Save and put back by its undo
        # and redo (the window's; None: nothing to follow)
        self.capture_marks: Callable[[], object] | None = None
        self.restore_marks: Callable[[object], None] | None = None
        # Why the inputs on screen cannot be saved as they are ("" when they can; the window's:
        # a table cell holding bad text); None: nothing to check
        self.save_problem: Callable[[], str] | None = None
        # Called before a Save gathers the inputs (the window's: it looks for another program's
        # commit now, so a baseline saved elsewhere a moment ago is under the inputs it stores)
        self.sync_before_save: Callable[[], object] | None = None
        self._seen: dict[str, str] = {}     # name -> its params as this window last read or wrote them
        # name -> its row as stored then (a what-if's own changes): another program's save of the
        # baseline alone moves `_seen` (the resolved params) but not this
        self._seen_rows: dict[str, str | None] = {}
        self._changed_elsewhere: set[str] = set()
        self._base_moved: set[str] = set()   # seen what-ifs whose baseline alone was saved elsewhere
        self._version: int | None = None    # the store's data_version when _seen was last trusted
        self._mark: int | None = None       # the store's change count when _seen was last compared
        self._current: str | None = None
        self._problem_said: str | None = None   # the "Not saved: <bad cell>" message on show, if any
        self._name_mode: str | None = None  # 'new' | 'rename' | 'duplicate' while typing a name
        self._name_refusal: str | None = None   # the message refusing the name typed, while naming
        self._restored: str | None = None   # a deleted scenario put back by an undo: shown next
        editable = not getattr(store, "read_only", False)
        ensure_default_scenario(store)

        self.combo = QComboBox()
        self.combo.setToolTip("The scenario the panels show; switching loads its saved inputs")
        self.combo.setMinimumContentsLength(18)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.activated.connect(self._on_activated)
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Save the current inputs of every panel into this scenario (Ctrl+S; Ctrl+Z undoes)")
        self.save_button.clicked.connect(lambda: self.save_current())
        self.new_button = QPushButton("New…")
        # (what New stores: the story's forecast over the baseline; the other views keep the
        # baseline's inputs, which "the story's default inputs" did not say)
        self.new_button.setToolTip("A new what-if on the baseline: the Forecast's inputs at the story's defaults, "
                                   "the other views' inputs as the baseline's. Like every what-if it stores "
                                   "only its changes: a later edit of the baseline moves it too")
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Rename this scenario")
        self.duplicate_button = QPushButton("Duplicate…")
        self.duplicate_button.setToolTip("Copy the inputs shown here, unsaved edits included, under a new name "
                                         "(this scenario stays as saved). Like every what-if, the copy keeps its "
                                         "changes from the baseline: a later edit of the baseline moves it too")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete this scenario (Ctrl+Z undoes)")
        # without it a deleted baseline could not be replaced but by renaming another scenario to
        # its name (the CLI's forecast and report then refuse to guess one)
        self.baseline_button = QPushButton("Make baseline")
        self.baseline_button.clicked.connect(lambda: self.make_baseline())
        self.new_button.clicked.connect(lambda: self._ask_name("new"))
        self.rename_button.clicked.connect(lambda: self._ask_name("rename"))
        self.duplicate_button.clicked.connect(lambda: self._ask_name("duplicate"))
        self.delete_button.clicked.connect(lambda: self.delete_current())

        self.name_edit = _NameEdit()
        self.name_edit.setPlaceholderText("Scenario name")
        self.name_edit.setToolTip("Type a name, then Enter (Esc cancels)")
        # room for a name such as "Story default copy" whatever message shares the row
        self.name_edit.setMinimumWidth(self.name_edit.fontMetrics().horizontalAdvance("Story default copy") + 16)
        self.name_edit.returnPressed.connect(self._commit_name)
        self.name_edit.cancelled.connect(self._cancel_name)
        self.name_ok = QPushButton("OK")
        self.name_ok.clicked.connect(self._commit_name)
        self.name_cancel = QPushButton("Cancel")
        self.name_cancel.setToolTip("Leave the name as it was: nothing is created or renamed (Esc)")
        self.name_cancel.clicked.connect(self._cancel_name)
        self.message = _MessageLabel()
        self.message.setStyleSheet(style.error_style())   # a red that reads on a light or dark window
        # the room left, not the text's width: a long message is elided, never widens the window
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Scenario"))
        layout.addWidget(self.combo, 1)
        for w in (self.save_button, self.new_button, self.rename_button, self.duplicate_button,
                  self.delete_button, self.baseline_button, self.name_edit, self.name_ok, self.name_cancel):
            layout.addWidget(w)
        layout.addWidget(self.message, 1)
        self._end_name()
        if not editable:
            for w in (self.save_button, self.new_button, self.rename_button, self.duplicate_button,
                      self.delete_button, self.baseline_button):
                w.setEnabled(False)

        self._unfollow_stack = follow_stack(self.undo_stack, self._on_stack_moved)
        self._fill_combo()
        self._current = remembered_scenario(store)
        self._select_in_combo(self._current)

    # ---- queries -------------------------------------------------------------------------------
    def names(self) -> list[str]:
        return [s["name"] for s in self.store.scenarios()]

    def current_name(self) -> str | None:
        return self._current

    def current_params(self) -> dict:
        if self._current is None:
            return default_params()
        try:
            return self.store.scenario(self._current)["params"]
        except UserError:
            return default_params()

    def emit_current(self) -> None:
        """Announce the current scenario (call once after connecting current_changed)."""
        self._show_baseline()
        if self._current is not None:
            params = self.current_params()
            self._note_seen(self._current, params)
            self.current_changed.emit(self._current, params)

    # ---- another window or program saving the same scenario --------------------------------
    def _stored_text(self, name: str) -> str | None:
        return _params_text(self.store, name)

    def _row_text(self, name: str) -> str | None:
        row = self.store.scenario_row(name) if hasattr(self.store, "scenario_row") else None
        return row["params"] if row else None

    def _note_own_write(self, name: str) -> None:
        """This window wrote the scenario (a Save, its undo or redo): what it now holds is what
        this window has seen, whatever else another connection committed meanwhile."""
        if name in self._seen:
            self._seen[name] = self._stored_text(name) or ""
            self._seen_rows[name] = self._row_text(name)
            self._changed_elsewhere.discard(name)
            self._base_moved.discard(name)

    def _note_seen(self, name: str, params: dict | None = None) -> None:
        self._seen[name] = json.dumps(params, sort_keys=True) if params is not None else (self._stored_text(name) or "")
        self._seen_rows[name] = self._row_text(name)
        self._changed_elsewhere.discard(name)
        self._base_moved.discard(name)
        self._version = self._data_version()

    def note_reloaded(self, name: str) -> None:
        """The window shows `name` as stored now (reloaded or rebased after its baseline moved)."""
        self._note_seen(name)

    def saved_elsewhere(self, name: str | None = None) -> bool:
        """The scenario `name` (default: the current one) itself was saved by another window or
        program since this window read or wrote it (not only its baseline: moved_base)."""
        name = name or self._current
        if name is None or name not in self._seen:
            return False
        self._follow_versions()
        return name in self._changed_elsewhere and name not in self._base_moved

    def moved_base(self, name: str | None = None) -> str | None:
        """The baseline of the what-if `name` (default: the current one) when another window or
        program saved that baseline, and not the what-if itself, since this window read it: what
        the views show is the old baseline under the what-if's changes. None otherwise."""
        name = name or self._current
        if name is None or name not in self._seen:
            return None
        self._follow_versions()
        if name not in self._base_moved:
            return None
        try:
            return self.store.scenario(name).get("base")
        except UserError:
            return None

    def _data_version(self) -> int | None:
        return store_reading(self.store, "data_version")

    def changed_elsewhere(self, name: str | None = None) -> bool:
        """The scenario (default: the current one) was saved by another window or program since
        this one read or wrote it (or its baseline was, and the window has not shown that yet)."""
        name = name or self._current
        if name is None or name not in self._seen:
            return False
        self._follow_versions()
        return name in self._changed_elsewhere or name in self._base_moved

    def _follow_versions(self) -> None:
        """What moved since `_seen` was trusted: another connection's commit marks a scenario
        whose stored params differ as changed elsewhere; with none, the differences are this
        window's own writes (a save, its undo), which become what it has seen."""
        mark = store_reading(self.store, "change_count")
        if mark is not None and mark == self._mark:
            return   # nothing stored changed (a form edit moved the stack): no store reads per keystroke
        self._mark = mark
        now = self._data_version()
        external = now is not None and self._version is not None and now != self._version
        for name, seen in list(self._seen.items()):
            stored = self._stored_text(name)
            if stored is None or stored == seen:
                continue
            if external and name not in self._changed_elsewhere and self._seen_rows.get(name) is not None \
                    and self._row_text(name) == self._seen_rows[name]:
                # its own changes are as read: its baseline was saved elsewhere. Nothing of another
                # what-if is on screen; the current one is the window's to reload (moved_base)
                if name == self._current:
                    self._base_moved.add(name)
                else:
                    self._seen[name] = stored
            elif external:
                self._changed_elsewhere.add(name)
            elif name not in self._changed_elsewhere:
                self._seen[name] = stored
                self._seen_rows[name] = self._row_text(name)
        self._version = now

    # ---- actions (each an undoable command; return True when applied) --------------------------
    def select(self, name: str) -> bool:
        if name not in self.names():
            return False
        changed = name != self._current
        if changed and self._current is not None and self.confirm_switch is not None \
                and not self.confirm_switch():
            self._select_in_combo(self._current)
            return False
        self._current = name
        self._select_in_combo(name)
        self._remember()
        if changed:
            self.emit_current()
        return True

    def _may_leave(self) -> bool:
        return self.confirm_switch is None or self._current is None or self.confirm_switch()

    def new_scenario(self, name: str, params: dict | None = None) -> bool:
        if not self._may_leave():
            return False
        name = name.strip()
        command = SaveScenarioCommand(self.store, name, params or default_params(),
                                      must_be_new=True, text=f"New scenario '{name}'")
        self._follow_undo_redo(command, name, self._current)
        ok = self._push(command, say=params is not None)
        if not ok or not self.select(name):
            return False
        if params is None:   # says what it starts from: only the Forecast's inputs are the story's
            base = self.store.baseline_name()
            rest = (f"the other views' as in the baseline '{base}'" if base not in (None, name)
                    else "the other views' at their defaults")
            self.status_message.emit(f"New scenario '{name}': the Forecast's inputs at the story's defaults, "
                                     f"{rest} (Ctrl+Z to undo)")
        return True

    def duplicate_current(self, name: str) -> bool:
        """A copy of the inputs on screen, unsaved edits included, under `name`, shown next; the
        scenario left stays as it is stored. (It copied the stored inputs after asking to save
        the edits first: with the scenario saved elsewhere meanwhile, Save was refused and the
        only ways on dropped one of the two.) Its undo shows the scenario copied again."""
        source = self._current
        if source is None:
            return False
        name = name.strip()
        params = self._inputs_on_screen(name, "Not duplicated")
        if params is None:
            return False
        edited = self.unsaved is not None and self.unsaved()
        # with unsaved edits the step says where they went: its undo shows the source as saved, and
        # only the redo brings the copy holding them back (QA s37)
        text = f"Duplicate '{source}'{' with its unsaved edits' if edited else ''} as '{name}'"
        command = SaveScenarioCommand(self.store, name, params, must_be_new=True, text=text)
        self._follow_undo_redo(command, name, source)
        if not self._push(command, say=False):
            return False
        # no "Save before switching?": nothing on screen is dropped, the copy holds it
        self._current = name
        self._select_in_combo(name)
        self._remember()
        self.emit_current()
        edits = f" with the unsaved edits shown ('{source}' stays as saved)" if edited else ""
        self.status_message.emit(f"Duplicated '{source}' as '{name}'{edits} (Ctrl+Z to undo)")
        return True

    def _inputs_on_screen(self, name: str, refused: str) -> dict | None:
        """The inputs on screen as stored under `name` (not the current scenario), or None after
        saying why they cannot be ("<refused>: <bad cell>")."""
        if self.gather_params is None:   # a bar without views: the stored inputs are all there is
            return self.current_params()
        problem = self.save_problem() if self.save_problem is not None else ""
        if problem:
            self._show_problem(f"{refused}: {problem}")
            self._problem_said = self.message.text()
            return None
        if self.sync_before_save is not None:
            self.sync_before_save()
        return self.gather_params_as(name) if self.gather_params_as is not None else self.gather_params()

    def rename_current(self, name: str) -> bool:
        if self._current is None:
            return False
        if name.strip() == self._current:
            # renamed to its own name: nothing to store and no step for Ctrl+Z to take back
            self.message.clear()
            self.status_message.emit(f"Name unchanged: '{self._current}'")
            return True
        command = RenameScenarioCommand(self.store, self._current, name.strip())
        command.on_renamed = self._follow_rename
        return self._push(command)

    def _follow_undo_redo(self, command: SaveScenarioCommand, name: str, before: str | None) -> None:
        """A New or Duplicate of `name`, made while `before` was current: its undo shows `before`
        again, its redo `name` (the redo had left the previous one current, so the next Rename or
        Delete acted on it instead of the scenario just brought back)."""
        if before is not None:
            command.on_reverted = lambda: self._back_from_copy(name, before)
        command.on_redone = lambda: self._show_after_move(name)

    def _back_from_copy(self, copy_name: str, source: str) -> None:
        """A Duplicate (or a Save as a new scenario) undone while its copy is shown: the scenario
        copied is shown next, not the first one listed."""
        if self._current == copy_name:
            self._show_after_move(source)

    def _show_after_move(self, name: str) -> None:
        self._restored = name   # shown once the stack has moved (the combo lists it then)

    def _follow_rename(self, old: str, new: str) -> None:
        self.name_moved.emit(old, new)
        if old in self._seen:
            self._seen[new] = self._seen.pop(old)
            self._seen_rows[new] = self._seen_rows.pop(old, None)
        for marked in (self._changed_elsewhere, self._base_moved):
            if old in marked:
                marked.discard(old)
                marked.add(new)
        if self._current == old:
            self._current = new
            self._remember()
            self.renamed.emit(old, new)

    def make_baseline(self) -> bool:
        """Make the scenario on screen the baseline (undoable). Its saved inputs are what Compare
        and the CLI run: unsaved edits on screen stay unsaved."""
        if self._current is None or getattr(self.store, "read_only", False):
            return False
        if self._current == self.store.baseline_name():
            self.status_message.emit(f"'{self._current}' is the baseline already")
            return False
        command = SetBaselineCommand(self.store, self._current)
        command.on_moved = self._show_baseline
        if not self._push(command, say=False):
            return False
        self.status_message.emit(f"'{self._current}' is now the baseline: Compare compares against it, and the "
                                 "CLI runs it without --scenario; what-ifs saved before keep theirs (Ctrl+Z to undo)")
        return True

    def _show_baseline(self) -> None:
        """The button greyed on the baseline, and the combo's tooltip naming it."""
        try:
            base = self.store.baseline_name()
        except UserError:
            base = None
        editable = not getattr(self.store, "read_only", False)
        self.baseline_button.setEnabled(editable and self._current is not None and self._current != base)
        if self._current is not None and self._current == base:
            tip = f"'{self._current}' is the baseline"
        else:
            tip = ("Make this scenario the baseline: Compare compares every scenario against it, the CLI's "
                   "forecast, plan and report run it when no --scenario is named, and New stores its what-ifs "
                   "as changes from it. What-ifs saved before keep the baseline they were built on, and this one's inputs are "
                   "stored in full from then on (Ctrl+Z undoes)")
        self.baseline_button.setToolTip(tip + (f". The baseline now: '{base}'" if base and base != self._current
                                               else ". No baseline is saved now" if not base else ""))
        self.combo.setToolTip("The scenario the panels show; switching loads its saved inputs"
                              + (f" (the baseline: '{base}')" if base else " (no baseline is saved)"))

    def delete_current(self) -> bool:
        if self._current is None:
            return False
        if len(self.names()) <= 1:
            self._show_problem("Keep at least one scenario: create another before deleting this one.")
            return False
        if not self._may_leave():   # unsaved edits: Save (the undo brings them back), Discard or Cancel
            return False
        was_baseline = self._current == self.store.baseline_name()
        command = DeleteScenarioCommand(self.store, self._current)
        command.on_restored = self._show_after_move
        if not self._push(command, say=not was_baseline):
            return False
        if was_baseline:   # nothing replaces it unasked: say what that changes and how to choose one
            self.status_message.emit(f"{command.text()}, the baseline: until another is made the baseline (Make "
                                     "baseline), Compare has no baseline column and the CLI asks for --scenario "
                                     "(Ctrl+Z to undo)")
        return True

    def save_current(self, params: dict | None = None) -> bool:
        """Save `params` (default: gather_params()) into the current scenario."""
        if self._current is None:
            return False
        if params is None:
            problem = self.save_problem() if self.save_problem is not None else ""
            if problem:   # never the last good value in place of the one on screen, unsaid
                self._show_problem(f"Not saved: {problem}")
                self._problem_said = self.message.text()
                return False
            if self.sync_before_save is not None:
                self.sync_before_save()
            params = self.gather_params() if self.gather_params is not None else self.current_params()
            given = False
        else:
            given = True
        if self.changed_elsewhere() and self.confirm_overwrite is not None:
            answer = self.confirm_overwrite(self._current)
            if answer == KEEP_BOTH:   # the other save stays; the inputs shown go beside it
                name = self._current
                target = self.kept_name(name)
                if not given and self.gather_params_as is not None:
                    params = self.gather_params_as(target)
                return self._save_as_new(name, target, params, "saved elsewhere meanwhile",
                                         f"'{name}' was saved by another window or program and is left as "
                                         "it saved it")
            if answer is not True:
                self._show_problem(f"Not saved: '{self._current}' was changed by another window or program; "
                                   "Save again to overwrite it or to keep both")
                return False
        before = self.capture_marks() if self.capture_marks is not None else None
        command = SaveScenarioCommand(self.store, self._current, params)
        command.on_written = self._note_own_write
        if self._push(command, say=False):   # its own message, naming the what-ifs that follow
            self._note_seen(self._current)
            self.status_message.emit(f"Saved scenario '{self._current}'{self._followers_text()} (Ctrl+Z to undo)")
            self.saved.emit(self._current)
            if self.capture_marks is not None and self.restore_marks is not None:
                command.marks = (before, self.capture_marks())
                command.restore_marks = self.restore_marks
            return True
        return False

    def recheck_save_problem(self) -> None:
        """Clear a "Not saved: <bad cell>" refusal once no cell is bad any more (the window calls
        this as its inputs change): it stayed red beside a window with nothing left to fix."""
        said = self._problem_said
        if said is None:
            return
        if self.message.text() != said:   # something else has been said since
            self._problem_said = None
        elif not (self.save_problem() if self.save_problem is not None else ""):
            self.message.clear()
            self._problem_said = None

    def _followers_text(self) -> str:
        """A save of a scenario changes every what-if built on it (they store their changes
        only): the status line names them, so a "copy" made before the edit does not change unseen."""
        # any scenario what-ifs are built on (a former baseline too), and what-ifs built on those
        # (QA s38: two a level further down changed unnamed)
        bases = {s["name"]: s.get("base") for s in self.store.scenarios()}
        followers: list[str] = []
        reached = {self._current}
        while True:
            more = [n for n, b in bases.items() if b in reached and n not in reached]
            if not more:
                break
            followers += more
            reached.update(more)
        if not followers:
            return ""
        shown = ", ".join(f"'{n}'" for n in followers[:4]) + (f" and {len(followers) - 4} more" if len(followers) > 4
                                                              else "")
        return f"; the {len(followers)} what-if(s) built on it follow: {shown}"

    def detach(self) -> None:
        """Stop following the undo stack (before the store closes: a dying stack still signals)."""
        self._unfollow_stack()

    # ---- internals -----------------------------------------------------------------------------
    def _push(self, command, *, say: bool = True) -> bool:
        error = push_command(self.undo_stack, command)
        if error is not None:
            self._show_problem(str(error))
            return False
        self.message.clear()
        # what was done replaces an earlier refusal in the status bar (it kept "name: blank" after
        # a rename that then worked)
        done = command.text() if say and hasattr(command, "text") else ""
        if done:
            self.status_message.emit(f"{done} (Ctrl+Z to undo)")
        return True

    def _show_problem(self, text: str) -> None:
        self.message.setText(text)
        self.status_message.emit(text)

    def _fill_combo(self) -> None:
        names = self.names()
        self._known_names = set(names)
        self._names_version = self._data_version()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(names)
        self.combo.blockSignals(False)
        self._select_in_combo(self._current)

    def _select_in_combo(self, name) -> None:
        i = self.combo.findText(name) if name else -1
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(max(i, 0))
        self.combo.blockSignals(False)

    def _remember(self) -> None:
        if self._current:
            data = _remembered_map()
            key = _database_key(self.store)
            data.pop(key, None)
            data[key] = self._current      # most recent last; the oldest dropped past the cap
            while len(data) > MAX_REMEMBERED_DATABASES:
                data.pop(next(iter(data)))
            settings().setValue(SETTINGS_KEY, json.dumps(data))

    def _on_activated(self, index: int) -> None:
        self.select(self.combo.itemText(index))

    def _on_stack_moved(self, *_):
        """After any push, undo or redo (or another program's commit): follow renames, fall back
        when the current one is gone."""
        # data_version moves only with other connections' commits: this window's own undo of a
        # New leaves it where it was
        external = self._names_version is not None and self._data_version() != self._names_version
        listed_before = set(self._known_names)
        self._follow_versions()
        self._show_baseline()   # (a delete, an undo, another program's change of the baseline)
        names = self.names()
        self._fill_combo()
        restored, self._restored = self._restored, None
        if restored in names and restored != self._current:
            # the delete undone: back on the scenario it took away, as a rename's undo is
            self.select(restored)
            return
        if self._current in names or self._current is None:
            return
        gone = self._current
        if external and self._follow_external_rename(gone, [n for n in names if n not in listed_before]):
            return
        if external and self.keep_vanished is not None and self.keep_vanished(gone) and self._save_again(gone):
            return
        fallback = next((n for n in names if n == DEFAULT_NAME), names[0] if names else None)
        if fallback is not None:
            self._current = None
            self.select(fallback)
            if external:
                self._show_problem(f"'{gone}' was deleted by another window or program; "
                                   f"showing '{fallback}'")

    def _follow_external_rename(self, old: str, new_names: list[str]) -> bool:
        """Another program renamed the scenario on screen: the one new name holding exactly what
        this window last read as `old` is it. Follow it; the inputs on screen stay."""
        # compared without the name: a what-if's resolved inputs carry its own name (Store._resolve),
        # so a renamed what-if never matched and read as deleted (the baseline, stored whole, did; QA s39)
        seen = _without_name(self._seen.get(old))
        matches = [n for n in new_names if seen is not None and _without_name(self._stored_text(n)) == seen]
        if len(matches) != 1:
            return False
        self._follow_rename(old, matches[0])
        self.status_message.emit(f"'{old}' was renamed '{matches[0]}' by another window or program")
        return True

    def kept_name(self, name: str) -> str:
        """A free name for the inputs of `name` kept beside it: `name (kept)`, `name (kept 2)`…"""
        taken = {n.casefold() for n in self.names()}   # (a twin in case is refused as taken)
        target = name
        for k in range(1, 100):
            if target.casefold() not in taken:
                break
            target = f"{name} (kept)" if k == 1 else f"{name} (kept {k})"
        return target

    def _save_again(self, name: str) -> bool:
        """The inputs on screen saved as a new scenario named `name` (or `name (kept)`, `name
        (kept 2)`… if another program took the name meanwhile), which stays current."""
        target = self.kept_name(name)
        params = (self.gather_params_as(target) if self.gather_params_as is not None
                  else self.gather_params() if self.gather_params is not None else default_params())
        return self._save_as_new(name, target, params, "deleted elsewhere",
                                 f"'{name}' was deleted by another window or program")

    def _save_as_new(self, name: str, target: str, params: dict, why: str, said: str) -> bool:
        """`params` (the inputs on screen for `name`) saved as the new scenario `target`, which is
        current next; `why` goes in the undo step's name, `said` begins the status line."""
        command = SaveScenarioCommand(self.store, target, params, must_be_new=True,
                                      text=f"Keep '{name}' ({why}) as '{target}'")
        command.on_reverted = lambda: self._back_from_copy(target, name)   # (when `name` is still there)
        self._current = target   # before the push: the stack's move must find it current
        if not self._push(command, say=False):
            self._current = name
            return False
        self._remember()
        self._fill_combo()
        self._note_seen(target)
        if target != name:
            self.name_moved.emit(name, target)   # (the inputs on screen, and their edits, are the copy's)
            self.renamed.emit(name, target)
        self.status_message.emit(f"{said}; the inputs shown here are saved as '{target}' (Ctrl+Z to undo)")
        self.saved.emit(target)
        return True

    def _ask_name(self, mode: str) -> None:
        self._name_mode = mode
        suggestion = {"new": "New scenario", "rename": self._current or "",
                      "duplicate": f"{self._current} copy" if self._current else ""}[mode]
        self.name_edit.setText(suggestion)
        self.name_ok.setText({"new": "Create", "rename": "Rename", "duplicate": "Duplicate"}[mode])
        self.name_ok.setToolTip(NAMING_TIPS[mode])
        for w in (self.name_edit, self.name_ok, self.name_cancel):
            w.show()
        self.name_edit.selectAll()
        self.name_edit.setFocus()

    def _commit_name(self) -> None:
        name = self.name_edit.text().strip()
        action = {"new": self.new_scenario, "rename": self.rename_current,
                  "duplicate": self.duplicate_current}.get(self._name_mode)
        said_before = self.message.text()
        if action is not None and action(name):
            self._end_name()
        else:
            if self.message.text() != said_before:   # this name's refusal, not one said before
                self._name_refusal = self.message.text() or None
            self.name_edit.setStyleSheet("border: 1px solid #c0392b;")

    def _cancel_name(self) -> None:
        """Cancel or Esc: the naming ends, and so does its refusal (a red "already exists" stayed
        beside a bar with no name field)."""
        if self._name_refusal is not None and self.message.text() == self._name_refusal:
            self.message.clear()   # (a refusal said before the naming, "Not saved: <bad cell>", stays)
        self._end_name()

    def _end_name(self) -> None:
        self._name_mode = None
        self._name_refusal = None
        self.name_edit.setStyleSheet("")
        for w in (self.name_edit, self.name_ok, self.name_cancel):
            w.hide()
