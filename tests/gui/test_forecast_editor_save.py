"""A Forecast table cell holding bad text is never saved as the last good value behind the user's
back: the view counts as modified, and Save (Ctrl+S, or Save on a scenario switch) refuses with one
line naming the table, row, column and typed value, leaving the text on screen to fix."""

import pytest
from PySide6.QtWidgets import QMessageBox


DEFAULT = "Story default"
OTHER = "Huawei delivers half"


def _answer(monkeypatch, button):
    asked = []

    def question(*args, **kwargs):
        asked.append(args[2] if len(args) > 2 else "")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def _stored_events(store):
    return store.scenario(DEFAULT)["params"].get("policy_events")


def test_a_bad_probability_marks_the_view_modified_and_save_refuses_naming_the_cell(window, store, qtbot,
                                                                                   monkeypatch, policy_editor):
    editor = policy_editor
    before = _stored_events(store)
    depth = window.undo_stack.count()
    editor.table.item(0, 1).setText("150")
    assert window.isWindowModified()                       # it stayed unmarked: nothing looked unsaved

    assert not window.scenario_bar.save_current()
    said = window.scenario_bar.message.text()
    assert said.startswith("Not saved: Cut-offs row 1 (Probability):") and "'150'" in said, said
    assert _stored_events(store) == before and window.undo_stack.count() == depth
    assert editor.table.item(0, 1).text() == "150"         # left on screen to fix

    asked = _answer(monkeypatch, QMessageBox.StandardButton.Save)
    assert not window.scenario_bar.select(OTHER)           # Save on the switch refuses too: no switch
    assert len(asked) == 1 and window.scenario_bar.current_name() == DEFAULT
    assert editor.table.item(0, 1).text() == "150" and _stored_events(store) == before

    editor.table.item(0, 1).setText("40")                  # fixed: it saves, and it is what is stored
    assert window.scenario_bar.save_current()
    assert _stored_events(store)[0]["probability"] == pytest.approx(0.4)
    assert not window.isWindowModified()


def test_the_refusal_goes_once_the_cell_is_fixed(window, qtbot, policy_editor):
    """The red "Not saved: ... '150' is above 100%" stayed beside a window with nothing left to fix."""
    editor = policy_editor
    editor.table.item(0, 1).setText("150")
    assert not window.scenario_bar.save_current()
    assert window.scenario_bar.message.text().startswith("Not saved: Cut-offs row 1")
    editor.table.item(0, 1).setText("60")                   # still unsaved (60 is not the saved value)
    assert window.isWindowModified() and window.scenario_bar.message.text() == ""


def test_ctrl_s_refuses_a_bad_date_in_a_new_row_instead_of_dropping_the_row(window, store, qtbot, policy_editor):
    editor = policy_editor
    before = _stored_events(store)
    editor.add_row()
    row = editor.table.rowCount() - 1
    editor.table.item(row, 2).setText("2025/06/01")
    window.save_scenario_action.trigger()
    said = window.scenario_bar.message.text()
    assert f"Cut-offs row {row + 1} (Window from):" in said and "'2025/06/01'" in said, said
    assert _stored_events(store) == before
    assert editor.table.item(row, 2).text() == "2025/06/01" and window.isWindowModified()


def test_discard_on_a_switch_drops_the_bad_text_and_asks_once(window, store, qtbot, monkeypatch, policy_editor):
    editor = policy_editor
    before = _stored_events(store)
    editor.table.item(0, 1).setText("150")
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    assert window.scenario_bar.select(OTHER)
    assert window.scenario_bar.select(DEFAULT)
    assert len(asked) == 1                                 # the bad cell did not ask a second time
    assert _stored_events(store) == before and not editor.errors()
    assert not window.isWindowModified()
