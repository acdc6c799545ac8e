"""Ctrl+Z and Ctrl+Shift+Z undo the window's edits even while a number or date field has the focus.

A spin box's inner line edit claims the Undo and Redo keys for its own text (it accepts the
ShortcutOverride event), so with the focus in the Chip count or a date the window's Undo never
fired and a typed 4096 could not be taken back. One filter on the application hands those keys
to the window's Undo / Redo action instead:

- in a number or date field, text typed but not yet confirmed is committed first (it becomes an
  edit on the stack), then the window's Undo takes back that edit;
- in a plain text field (a name), text being typed keeps its own text undo until it is confirmed
  (Enter or leaving the field); after that the keys undo the window's edits too;
- a cell editor inside a table keeps its own keys (its text reaches the table only when it
  closes), and so does a field in a window without an Undo action (a dialog);
- a field no FormUndoWatcher listens to (the Fleet view's Add order / Add delivery forms) keeps
  its own keys while it has text to undo: its edits are not on the window's stack, so the
  window's Undo would take back an unrelated, already-saved edit (an order's price) instead of
  the typing; with nothing of its own to undo (an empty filter box) the keys go to the window.

    install_undo_keys(QApplication.instance())   # once; the window does it
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QAbstractSpinBox, QApplication, QLineEdit, QWidget

from gui.widgets.form_undo import WATCHED_PROPERTY, flush_pending_edits

_UNDO = (QKeySequence.StandardKey.Undo,)
_REDO = (QKeySequence.StandardKey.Redo,)
# the window's bindings (gui.app) whatever the platform's standard keys are
_UNDO_TEXT = ("Ctrl+Z",)
REDO_KEYS_TEXT = ("Ctrl+Shift+Z", "Ctrl+Y")


def undo_direction(event) -> str | None:
    """'undo', 'redo' or None for a key event."""
    pressed = QKeySequence(event.keyCombination())
    if any(event.matches(k) for k in _UNDO) or any(pressed == QKeySequence(t) for t in _UNDO_TEXT):
        return "undo"
    if any(event.matches(k) for k in _REDO) or any(pressed == QKeySequence(t) for t in REDO_KEYS_TEXT):
        return "redo"
    return None


def _field(obj) -> QWidget | None:
    """The watched number, date or text field a key event is for (a spin box's inner line edit
    counts as the spin box); None for anything else, for a field whose edits are not undo steps
    (no FormUndoWatcher listens to it) and for a table's cell editor."""
    if not isinstance(obj, QWidget):
        return None
    field = None
    if isinstance(obj, QAbstractSpinBox):
        field = obj
    elif isinstance(obj, QLineEdit):
        parent = obj.parentWidget()
        field = parent if isinstance(parent, QAbstractSpinBox) else obj
    if field is None or not field.property(WATCHED_PROPERTY):
        return None
    ancestor = field.parentWidget()
    while ancestor is not None and not ancestor.isWindow():
        if isinstance(ancestor, QAbstractItemView):
            return None   # a cell editor: committed to the table when it closes, not before
        ancestor = ancestor.parentWidget()
    return field


def _idle_text_field(obj, direction: str) -> QLineEdit | None:
    """A plain text field outside the form's undo (the Fleet view's filter box, where Ctrl+1 puts
    the focus) with no text undo of its own in that direction: it swallowed Ctrl+Z, so the window's
    Undo did nothing (QA). None for anything else, a spin box's or a cell's editor included."""
    if not isinstance(obj, QLineEdit) or isinstance(obj.parentWidget(), QAbstractSpinBox):
        return None
    ancestor = obj.parentWidget()
    while ancestor is not None and not ancestor.isWindow():
        if isinstance(ancestor, QAbstractItemView):
            return None
        ancestor = ancestor.parentWidget()
    own = obj.isUndoAvailable() if direction == "undo" else obj.isRedoAvailable()
    return None if own else obj


def _window_has_action_for(field: QWidget, event) -> bool:
    pressed = QKeySequence(event.keyCombination())
    return any(pressed in action.shortcuts() for action in field.window().findChildren(QAction))


class UndoKeys(QObject):
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if event.type() != QEvent.Type.ShortcutOverride:
            return False
        direction = undo_direction(event)
        if direction is None:
            return False
        field = _field(obj)
        if field is None:
            idle = _idle_text_field(obj, direction)
            if idle is not None and _window_has_action_for(idle, event):
                event.ignore()   # nothing of its own to undo: the window's Undo / Redo
                return True
            return False
        if not _window_has_action_for(field, event):
            return False
        if isinstance(field, QAbstractSpinBox):
            # a value typed but not yet confirmed is what the user sees: it becomes an edit of
            # its own first, so the undo that follows takes back exactly that
            field.interpretText()
            flush_pending_edits()
        elif field.isModified() and (field.isUndoAvailable() if direction == "undo" else field.isRedoAvailable()):
            return False   # text being typed: the field's own text undo, until it is confirmed
        event.ignore()     # not the field's: the shortcut goes to the window's Undo / Redo
        return True


_filter: UndoKeys | None = None


def install_undo_keys(app=None) -> UndoKeys:
    """Install the one application-wide filter (idempotent)."""
    global _filter
    app = app or QApplication.instance()
    if _filter is None:
        _filter = UndoKeys()
        app.installEventFilter(_filter)
    return _filter
