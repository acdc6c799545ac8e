"""Ctrl+Z / Ctrl+Shift+Z pressed in a number, date or (confirmed) text field undo and redo the
window's edits: the fields' own line edits claimed the keys, so with the focus in the Chip count a
typed 4096 could not be undone from the keyboard. Real key events, sent to the focused field."""

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QKeySequence, QUndoStack
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDateEdit, QLineEdit, QMainWindow, QSpinBox, QVBoxLayout, QWidget

from gui.widgets.form_undo import FormUndoWatcher
from gui.widgets.undo_keys import install_undo_keys

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _undo(field) -> None:
    QTest.keyClick(field, Qt.Key.Key_Z, CTRL)
    QApplication.processEvents()


def _redo(field) -> None:
    QTest.keyClick(field, Qt.Key.Key_Z, CTRL | SHIFT)
    QApplication.processEvents()


def _focus(window, qtbot, field) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)


# ---- the window -------------------------------------------------------------------------------

def test_ctrl_z_in_the_chip_count_undoes_the_typed_count_and_ctrl_shift_z_redoes_it(window, qtbot):
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    count = panel.count_spin
    start = count.value()
    _focus(window, qtbot, count)
    count.lineEdit().selectAll()
    QTest.keyClicks(count.lineEdit(), "4096")
    QTest.keyClick(count.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.undo_stack.canUndo() and count.value() == 4096)

    _undo(count)                                   # the focus still in the field
    assert count.value() == start and count.hasFocus()
    _redo(count)
    assert count.value() == 4096

    QTest.keyClick(count.lineEdit(), Qt.Key.Key_Tab)   # the next field (the token budget) undoes it too
    focused = QApplication.focusWidget()
    assert focused is not count and isinstance(focused.parentWidget() or focused, QWidget)
    _undo(focused)
    assert count.value() == start and window.redo_action.isEnabled()


def test_a_number_typed_without_enter_becomes_the_step_ctrl_z_takes_back(window, qtbot):
    """The Forecast's fields take a number on Enter only: the typed 3 is committed first, so Ctrl+Z
    undoes exactly it (not the edit before it) and Ctrl+Shift+Z brings it back."""
    window.tabs.setCurrentIndex(3)
    scale = window.panels["forecast"].scale_spin
    before = scale.value()
    depth = window.undo_stack.count()
    _focus(window, qtbot, scale)
    scale.lineEdit().selectAll()
    QTest.keyClicks(scale.lineEdit(), "3")
    assert scale.value() == before                 # typed, not yet interpreted

    _undo(scale)
    assert scale.value() == before and window.undo_stack.count() == depth + 1
    assert "Forecast" in window.redo_action.text()
    _redo(scale)
    assert scale.value() == 3.0 and window.isWindowModified()
    _undo(scale)
    assert scale.value() == before and not window.isWindowModified()


# ---- a text field and a date field, in a small window of their own --------------------------

class _Form(QWidget):
    """A panel with a name and a date, as a FormUndoWatcher sees the views."""

    def __init__(self):
        super().__init__()
        self.name = QLineEdit("Base")
        self.day = QDateEdit(QDate(2025, 1, 1))
        self.day.setDisplayFormat("yyyy-MM-dd")
        self.count = QSpinBox()
        self.count.setRange(1, 100000)
        layout = QVBoxLayout(self)
        for w in (self.name, self.day, self.count):
            layout.addWidget(w)

    def scenario_state(self) -> dict:
        return {"name": self.name.text(), "day": self.day.date().toString(Qt.DateFormat.ISODate),
                "count": self.count.value()}

    def apply_scenario_state(self, state: dict) -> None:
        self.name.setText(state["name"])
        self.day.setDate(QDate.fromString(state["day"], Qt.DateFormat.ISODate))
        self.count.setValue(state["count"])


@pytest.fixture
def form_window(qtbot):
    install_undo_keys(QApplication.instance())
    main = QMainWindow()
    stack = QUndoStack(main)
    undo = stack.createUndoAction(main, "Undo")
    undo.setShortcut(QKeySequence("Ctrl+Z"))
    redo = stack.createRedoAction(main, "Redo")
    redo.setShortcut(QKeySequence("Ctrl+Shift+Z"))
    main.addAction(undo)
    main.addAction(redo)
    form = _Form()
    main.setCentralWidget(form)
    main.watcher = FormUndoWatcher(form, stack, "Form")
    main.form, main.stack = form, stack
    qtbot.addWidget(main)
    return main


def test_a_text_field_keeps_its_own_undo_while_typing_and_undoes_the_window_once_confirmed(form_window, qtbot):
    form, stack = form_window.form, form_window.stack
    name = form.name
    _focus(form_window, qtbot, name)
    name.selectAll()
    QTest.keyClicks(name, "Tight")
    _undo(name)                                    # typing not yet confirmed: the field's own undo
    assert name.text() == "Base" and stack.count() == 0

    QTest.keyClicks(name, "Tight")
    QTest.keyClick(name, Qt.Key.Key_Return)        # confirmed: an edit on the window's stack
    qtbot.waitUntil(lambda: stack.count() == 1)
    _undo(name)
    assert name.text() == "Base" and stack.index() == 0
    _redo(name)
    assert name.text() == "Tight" and stack.index() == 1


def test_ctrl_z_in_a_date_field_undoes_its_edit(form_window, qtbot):
    form, stack = form_window.form, form_window.stack
    form.day.setDate(QDate(2026, 3, 1))
    qtbot.waitUntil(lambda: stack.count() == 1)
    _focus(form_window, qtbot, form.day)
    _undo(form.day)
    assert form.day.date() == QDate(2025, 1, 1)
    _redo(form.day)
    assert form.day.date() == QDate(2026, 3, 1)


def test_other_keys_still_reach_the_field(form_window, qtbot):
    count = form_window.form.count
    _focus(form_window, qtbot, count)
    count.lineEdit().selectAll()
    QTest.keyClicks(count.lineEdit(), "12")
    QTest.keyClick(count.lineEdit(), Qt.Key.Key_A, CTRL)   # select all: still the field's
    assert count.lineEdit().selectedText() == count.lineEdit().text() and count.value() == 12


# ---- a rename to the same name ----------------------------------------------------------------

def test_renaming_a_scenario_to_its_own_name_leaves_no_undo_step(window, qtbot):
    bar = window.scenario_bar
    name = bar.current_name()
    depth = window.undo_stack.count()
    with qtbot.waitSignal(bar.status_message) as said:
        assert bar.rename_current(f" {name} ")
    assert window.undo_stack.count() == depth and bar.current_name() == name
    assert said.args[0] == f"Name unchanged: '{name}'" and not bar.message.text()


def test_a_field_no_watcher_listens_to_keeps_its_own_keys(form_window, qtbot):
    """A field whose edits are not undo steps (the Fleet view's Add-order quantity) took the
    window's Undo too, and Ctrl+Z there took back an unrelated, already-saved edit."""
    form, stack = form_window.form, form_window.stack
    start = form.count.value()
    form.count.setValue(7)
    qtbot.waitUntil(lambda: stack.count() == 1)
    bar = form_window.addToolBar("Add")
    quantity = QSpinBox()
    quantity.setRange(1, 100000)
    bar.addWidget(quantity)
    _focus(form_window, qtbot, quantity)
    quantity.lineEdit().selectAll()
    QTest.keyClicks(quantity.lineEdit(), "50")
    _undo(quantity)
    assert stack.index() == 1 and form.count.value() == 7   # the form's edit stays
    _focus(form_window, qtbot, form.count)
    _undo(form.count)                                          # a watched field still undoes it
    assert stack.index() == 0 and form.count.value() == start


def test_an_idle_filter_box_hands_ctrl_z_to_the_window(form_window, qtbot):
    """Ctrl+1 puts the focus in the Fleet view's filter box, which swallowed Ctrl+Z: the Training
    edit stayed on the Edit menu and nothing said why (QA). With text of its own to undo, the box
    keeps the keys."""
    form, stack = form_window.form, form_window.stack
    start = form.count.value()
    form.count.setValue(7)
    qtbot.waitUntil(lambda: stack.count() == 1)
    bar = form_window.addToolBar("Filter")
    box = QLineEdit()
    bar.addWidget(box)
    _focus(form_window, qtbot, box)
    QTest.keyClicks(box, "h20")
    _undo(box)                                   # its own typing first
    assert box.text() == "" and stack.index() == 1
    _undo(box)                                   # nothing of its own left: the window's edit
    assert stack.index() == 0 and form.count.value() == start
