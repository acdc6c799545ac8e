"""QA s25: the window and another program on one database. Both edits are kept when the other saves
the scenario on screen (Save offers a new scenario beside it, Duplicate copies what is shown); a
model or chip deleted while shown is said as on opening, and a Save keeps the stored one; a store
refusal names its row once; a read-only database's backup points to the way its edits are kept."""

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.store import open_store
from tests.gui.shared_setups import shut_unshown_window

# the real question box (the suite's autouse fixture fails every dialog; one test clicks this one)
_REAL_QUESTION = QMessageBox.__dict__["question"]
BASE = "Story default"
KEPT = "Story default (kept)"


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "concurrent.db")
    yield s
    s.close()


@pytest.fixture
def window(store, qtbot, qsettings_isolated):
    from gui.app import MainWindow
    from gui.settings import settings

    w = MainWindow(store)   # (not shown: closing a shown one would ask about the edits a test left)
    qtbot.addWidget(w)
    yield w
    shut_unshown_window(w)
    for group in ("window", "scenarios", "fleet"):
        settings().remove(group)


def _answers(monkeypatch, by_title: dict):
    """Answer each QMessageBox.question by its title; returns the titles asked, in order."""
    asked = []

    def question(parent, title, text, *args, **kwargs):
        asked.append(title)
        return by_title[title]

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def _edit_two_views(window, qtbot):
    """Forecast > Install lag 60 and Training > Chip count 2048, unsaved (as the QA did)."""
    forecast = window.panel("forecast")
    forecast.supply_editor.lag_spin.setValue(60)
    training = window.panel("training")
    training.count_spin.setValue(2048)
    qtbot.waitUntil(window.isWindowModified)
    return forecast, training


def _save_elsewhere(store, trials=777):
    other = open_store(store.path)
    try:
        params = other.scenario(BASE)["params"]
        other.save_scenario(BASE, {**params, "trials": trials})
    finally:
        other.close()


def _params(store, name):
    return store.scenario(name)["params"]


# ---- 1. another program saved the scenario on screen: both edits kept ----------------------------

def test_save_keeps_both_the_other_save_and_the_inputs_shown_as_a_new_scenario(window, store, qtbot, monkeypatch):
    trials = _params(store, BASE)["trials"]
    forecast, training = _edit_two_views(window, qtbot)
    _save_elsewhere(store)
    assert window.check_external_changes()
    asked = _answers(monkeypatch, {"Scenario changed elsewhere": QMessageBox.StandardButton.Save})
    assert window.scenario_bar.save_current()
    assert asked == ["Scenario changed elsewhere"]
    other = _params(store, BASE)                      # the other program's save, untouched
    assert other["trials"] == 777 and other["install_lag_days"] != 60
    assert other.get("ui", {}).get("training", {}).get("num_chips") != 2048
    kept = _params(store, KEPT)                       # the inputs shown, whole
    assert kept["install_lag_days"] == 60 and kept["ui"]["training"]["num_chips"] == 2048
    assert kept["trials"] == trials                   # as shown here, not the other's 777
    assert window.scenario_bar.current_name() == KEPT and KEPT in window.windowTitle()
    assert not window.is_modified()
    assert f"saved as '{KEPT}'" in window.statusBar().currentMessage()
    assert forecast.supply_editor.lag_spin.value() == 60 and training.count_spin.value() == 2048
    window.undo_stack.undo()                          # back on the scenario it was kept beside
    assert KEPT not in window.scenario_bar.names() and window.scenario_bar.current_name() == BASE
    assert forecast.trials_spin.value() == 777        # as the other program saved it
    window.undo_stack.redo()
    assert _params(store, KEPT)["install_lag_days"] == 60


def test_the_overwrite_question_names_its_three_ways_on_its_buttons(window, store, qtbot, monkeypatch):
    """The real box: its buttons say Overwrite / Save as a New Scenario / Cancel; clicking the
    middle one keeps both saves."""
    monkeypatch.setattr(QMessageBox, "question", _REAL_QUESTION)
    _edit_two_views(window, qtbot)
    _save_elsewhere(store)
    seen = {}

    def click_keep_both():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click_keep_both)
            return
        seen["buttons"] = sorted(b.text() for b in box.buttons())
        seen["text"] = box.text()
        keep_both = box.button(QMessageBox.StandardButton.Save)
        keep_both.click() if keep_both is not None else box.reject()   # (no such button: the test fails, not hangs)

    QTimer.singleShot(50, click_keep_both)
    assert window.scenario_bar.save_current()
    assert seen["buttons"] == ["Cancel", "Overwrite", "Save as a New Scenario"]
    assert f"'{KEPT}'" in seen["text"]
    assert _params(store, BASE)["trials"] == 777 and _params(store, KEPT)["install_lag_days"] == 60


def test_cancel_saves_nothing_and_says_how_to_go_on(window, store, qtbot, monkeypatch):
    _edit_two_views(window, qtbot)
    _save_elsewhere(store)
    _answers(monkeypatch, {"Scenario changed elsewhere": QMessageBox.StandardButton.Cancel})
    assert not window.scenario_bar.save_current()
    assert "Save again to overwrite it or to keep both" in window.scenario_bar.message.text()
    assert KEPT not in window.scenario_bar.names() and _params(store, BASE)["trials"] == 777
    assert window.is_modified()


def test_new_after_another_programs_save_keeps_both(window, store, qtbot, monkeypatch):
    """New asked to save first, and that Save led back to a refusal: only losing one edit got out."""
    _edit_two_views(window, qtbot)
    _save_elsewhere(store)
    asked = _answers(monkeypatch, {"Unsaved changes": QMessageBox.StandardButton.Save,
                                   "Scenario changed elsewhere": QMessageBox.StandardButton.Save})
    assert window.scenario_bar.new_scenario("Mine2")
    assert asked == ["Unsaved changes", "Scenario changed elsewhere"]
    assert window.scenario_bar.current_name() == "Mine2"
    assert _params(store, BASE)["trials"] == 777
    assert _params(store, KEPT)["install_lag_days"] == 60 and _params(store, KEPT)["ui"]["training"]["num_chips"] == 2048


def test_duplicate_copies_the_inputs_on_screen_and_asks_nothing(window, store, qtbot, monkeypatch):
    trials = _params(store, BASE)["trials"]
    forecast, training = _edit_two_views(window, qtbot)
    _save_elsewhere(store)
    assert window.check_external_changes()
    asked = _answers(monkeypatch, {})                 # any question fails the test (KeyError)
    with qtbot.waitSignal(window.scenario_bar.status_message) as said:
        assert window.scenario_bar.duplicate_current("Mine")
    assert asked == []
    assert "with the unsaved edits shown ('Story default' stays as saved)" in said.args[0]
    mine = _params(store, "Mine")
    assert mine["install_lag_days"] == 60 and mine["ui"]["training"]["num_chips"] == 2048
    assert mine["trials"] == trials
    assert _params(store, BASE)["trials"] == 777      # the other program's save stays
    assert window.scenario_bar.current_name() == "Mine" and not window.is_modified()
    assert forecast.supply_editor.lag_spin.value() == 60 and training.count_spin.value() == 2048
    # the step says the edits went with the copy: its undo shows the source as saved (QA s37)
    assert window.undo_stack.undoText() == "Duplicate 'Story default' with its unsaved edits as 'Mine'"
    window.undo_stack.undo()                          # the copy undone: back on what was copied
    assert "Mine" not in window.scenario_bar.names() and window.scenario_bar.current_name() == BASE


def test_a_duplicate_of_the_baseline_stores_only_the_edits_as_its_changes(window, store, qtbot):
    """The copy is a what-if on the baseline: only the fields edited on screen are its changes
    (the views nobody edited follow the baseline)."""
    window.panel("training").count_spin.setValue(2048)
    window.panel("inference")
    qtbot.waitUntil(window.isWindowModified)
    assert window.scenario_bar.duplicate_current("Copy")
    row = store.scenario("Copy")
    assert row["base"] == BASE
    assert set(row["changes"]) - {"name"} == {"ui.training.num_chips"}, row["changes"]


# ---- 2. a model or chip deleted while the view shows it --------------------------------------------

def _saved_view(window, key, what, value, qtbot):
    panel = window.panel(key)
    box = panel.model_combo if what == "model" else panel.chip_combo
    box.setCurrentIndex(box.findData(value))
    qtbot.waitUntil(window.isWindowModified)
    assert window.scenario_bar.save_current()
    assert not window.is_modified()
    return panel, box


@pytest.mark.parametrize("key, what, value", [("training", "model", "llama3-8b"),
                                              ("inference", "chip", "b200")])
def test_a_choice_deleted_elsewhere_is_said_and_a_save_keeps_the_stored_one(window, store, qtbot, key, what, value):
    panel, box = _saved_view(window, key, what, value, qtbot)
    other = open_store(store.path)
    (other.delete_model if what == "model" else other.delete_chip)(value)
    other.close()
    assert window.check_external_changes()
    shown = box.currentText()
    assert box.currentData() != value
    words = "no longer among the model presets" if what == "model" else "no longer in the catalog"
    assert panel.banner.kind == "warning"
    assert f"{what} '{value}', which is {words}: showing {shown}." in panel.banner.text()
    assert "The saved inputs are kept unless you edit this view." in panel.banner.text()
    assert not window.is_modified()
    assert window.scenario_bar.save_current()        # (Save by hand: nothing edited)
    stored = _params(store, BASE)["ui"][key]
    assert stored[f"{what}_id"] == value              # not the substitute on screen


def test_an_edited_view_saves_what_it_shows_after_a_deletion(window, store, qtbot):
    """Edited before or after, the view is the user's: Save stores what it shows, as on reopen."""
    panel, box = _saved_view(window, "training", "model", "llama3-8b", qtbot)
    other = open_store(store.path)
    other.delete_model("llama3-8b")
    other.close()
    assert window.check_external_changes()
    qtbot.wait(20)   # the re-read settles, as before any keystroke a user makes
    panel.count_spin.setValue(panel.count_spin.value() + 8)
    qtbot.waitUntil(window.isWindowModified)
    assert window.scenario_bar.save_current()
    assert _params(store, BASE)["ui"]["training"]["model_id"] == box.currentData() != "llama3-8b"


# ---- 3. a store refusal naming its row, once ---------------------------------------------------------

def _cell(model, key, field):
    return model.index(model.row_of_key(key), [c.key for c in model.columns].index(field))


def test_an_order_deleted_elsewhere_is_named_once(window, store, qtbot):
    fleet = window.fleet_panel
    other = open_store(store.path)
    other.delete_order(3)
    other.close()
    assert not fleet.order_model.setData(_cell(fleet.order_model, 3, "quantity"), "5000")
    assert fleet.banner.text() == "Not saved: order 3: no such order"


def test_a_chip_deleted_elsewhere_is_named_once_and_a_bad_value_still_names_its_row(window, store, qtbot):
    fleet = window.fleet_panel
    other = open_store(store.path)
    other.delete_chip("b200")
    other.close()
    assert not fleet.chip_model.setData(_cell(fleet.chip_model, "b200", "tdp_w"), "900")
    assert fleet.banner.text().startswith("Not saved: chip 'b200': not in the catalog")
    assert fleet.banner.text().count("b200") == 1
    assert not fleet.order_model.setData(_cell(fleet.order_model, 1, "quantity"), "-5")
    assert fleet.banner.text().startswith("Not saved: order 1, ")


# ---- 4. a read-only database's backup ---------------------------------------------------------------

@pytest.fixture
def read_only_window(tmp_path, qtbot, qsettings_isolated):
    from gui.app import MainWindow

    path = tmp_path / "ro.db"
    open_store(path).close()
    ro = open_store(path, read_only=True)
    w = MainWindow(ro)
    qtbot.addWidget(w)
    yield w
    shut_unshown_window(w)
    ro.close()


def test_a_read_only_backup_points_to_the_copy_with_the_edits(read_only_window, qtbot, tmp_path):
    window = read_only_window
    forecast = window.panel("forecast")
    forecast.supply_editor.lag_spin.setValue(60)
    qtbot.waitUntil(window.isWindowModified)
    assert not window.save_scenario_action.isEnabled()
    assert window.backup_database(str(tmp_path / "backup.db"))
    said = window.statusBar().currentMessage()
    assert "File > Save a copy with the edits… keeps them" in said and "Save the scenario first" not in said
    action = window.save_copy_action   # the item it names is there, and keeps them
    assert action in window.file_menu.actions() and action.isEnabled()
    assert action.text().replace("&", "") == "Save a copy with the edits…"
    assert window.save_copy_with_edits(str(tmp_path / "copy.db"))
    copy = open_store(tmp_path / "copy.db")
    try:
        assert copy.scenario(window._scenario_name)["params"]["install_lag_days"] == 60
    finally:
        copy.close()


def test_a_writable_window_has_no_copy_item_and_its_backup_says_save(window, store, qtbot, tmp_path):
    assert window.save_copy_action is None   # (Save keeps the edits here)
    window.panel("forecast").supply_editor.lag_spin.setValue(60)
    qtbot.waitUntil(window.isWindowModified)
    assert window.backup_database(str(tmp_path / "backup.db"))
    assert "Save the scenario first" in window.statusBar().currentMessage()
