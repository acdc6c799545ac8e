"""QA s25 (W2): a model deleted elsewhere never has its stand-in saved as the scenario's choice,
and the substitution a store change makes is never counted as the user's edit.

The seeded "Story default" stores no Training or Inference inputs: both views show their defaults,
which name llama3-70b. With that model deleted the views show the first preset (DeepSeek-V3); a
Save must then write nothing for them (the defaults stay defaults), and no banner may claim that
saved inputs name the model. Where inputs are stored, a Save keeps them byte for byte."""

import pytest
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QSpinBox, QVBoxLayout, QWidget

from engine.store import open_store
from gui.panels.base_missing import DEFAULTS_KEPT, EDITED, KEPT
from gui.widgets.form_undo import FormEditCommand, FormUndoWatcher

BASE = "Story default"
GONE = "llama3-70b"           # the engine studies' default model (TrainingStudy, ServingStudy)
FIRST = "DeepSeek-V3 (671B MoE, MLA)"   # the first preset by name once it is gone
VIEWS = ("training", "inference")


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "deleted_choice.db")
    yield s
    s.close()


def _ui(store) -> dict:
    return store.scenario(BASE)["params"].get("ui") or {}


def _delete_elsewhere(store, model_id: str) -> None:
    other = open_store(store.path)   # another program's connection: the window sees data_version move
    other.delete_model(model_id)
    other.close()


def _form_edits(window) -> list[str]:
    stack = window.undo_stack
    return [stack.command(i).text() for i in range(stack.count()) if isinstance(stack.command(i), FormEditCommand)]


# ---- 1. deleted before the window opened ---------------------------------------------------------

def test_nothing_stored_and_the_default_model_deleted_saves_no_inputs_for_the_views(store, window_factory, qtbot):
    """QA t13: both banners said "The saved inputs name model 'llama3-70b' ... are kept", and a
    Save then stored deepseek-v3 as both views' model."""
    store.delete_model(GONE)
    assert _ui(store) == {}
    window = window_factory()
    for key in VIEWS:
        panel = window.panel(key)
        assert panel.model_combo.currentText() == FIRST
        assert GONE not in panel.banner.text()      # nothing saved names it: nothing to warn of
    assert not window.is_modified()
    assert window.scenario_bar.save_current()
    assert _ui(store) == {}                          # the views' defaults stay defaults
    assert not window.is_modified()


def test_stored_inputs_naming_a_deleted_model_are_kept_by_a_save(store, window_factory, qtbot):
    params = store.scenario(BASE)["params"]
    stored = {"training": {"model_id": GONE, "num_chips": 4096},
              "inference": {"model_id": GONE, "input_len": 3000}}
    store.save_scenario(BASE, {**params, "ui": stored})
    store.delete_model(GONE)
    window = window_factory()
    for key in VIEWS:
        panel = window.panel(key)
        assert panel.model_combo.currentText() == FIRST
        assert f"saved inputs name model '{GONE}', which is not among the model presets: showing {FIRST}." \
            in panel.banner.text()
        assert panel.banner.text().endswith(KEPT)
    assert window.panel("training").count_spin.value() == 4096   # the rest of what is stored is shown
    assert window.scenario_bar.save_current()
    assert _ui(store) == stored                      # byte for byte, not the substitute


def test_a_banner_about_one_scenarios_inputs_goes_when_another_is_shown(store, window_factory, qtbot):
    """The warning stayed over a scenario whose inputs name models the store has."""
    params = store.scenario(BASE)["params"]
    store.save_scenario(BASE, {**params, "ui": {"training": {"model_id": "gone-model"}}})
    store.save_scenario("Other", {**params, "ui": {"training": {"model_id": "llama3-8b"}}})
    window = window_factory()
    panel = window.panel("training")
    assert "'gone-model'" in panel.banner.text()
    assert window.scenario_bar.select("Other")
    assert panel.model_combo.currentData() == "llama3-8b"
    assert panel.banner.text() == ""


# ---- 2. deleted while the window shows it --------------------------------------------------------

def _shown_then_deleted(store, window_factory, qtbot):
    window = window_factory()
    panels = {key: window.panel(key) for key in VIEWS}   # Training built first: its follower runs first
    for panel in panels.values():
        assert panel.model_combo.currentData() == GONE
    qtbot.wait(20)   # the builds settle
    assert not window.is_modified()
    _delete_elsewhere(store, GONE)
    assert window.check_external_changes()           # the timer's look, driven here
    return window, panels


def test_a_substitution_made_by_a_store_change_is_not_an_edit(store, window_factory, qtbot):
    """QA t8/t12 (2 runs in 3): the Training view's substitution asked every view whether it was
    edited, the Inference watcher took the store change as over before its view re-read the store,
    and the Inference substitute became an 'Edit Inference: Model' step and a [*] title."""
    window, panels = _shown_then_deleted(store, window_factory, qtbot)
    for panel in panels.values():
        assert panel.model_combo.currentText() == FIRST
    assert not window.is_modified()
    qtbot.wait(20)   # the deferred snapshots run
    assert not window.is_modified() and not window.isWindowModified()
    assert _form_edits(window) == []


def test_deleted_while_shown_with_nothing_stored_says_no_inputs_are_saved_and_saves_none(
        store, window_factory, qtbot):
    window, panels = _shown_then_deleted(store, window_factory, qtbot)
    for panel in panels.values():
        text = panel.banner.text()
        assert f"The inputs name model '{GONE}', which is no longer among the model presets: showing {FIRST}." in text
        assert text.endswith(DEFAULTS_KEPT) and KEPT not in text
    assert window.scenario_bar.save_current()
    assert _ui(store) == {}


def test_deleted_while_an_edited_view_shows_it_says_a_save_stores_what_is_shown(store, window_factory, qtbot):
    window = window_factory()
    panel = window.panel("training")
    panel.count_spin.setValue(panel.count_spin.value() + 8)
    qtbot.waitUntil(window.isWindowModified)
    _delete_elsewhere(store, GONE)
    assert window.check_external_changes()
    assert panel.banner.text().endswith(EDITED)
    assert window.scenario_bar.save_current()
    assert _ui(store)["training"]["model_id"] == panel.model_combo.currentData() == "deepseek-v3"


# ---- 3. the watcher alone, in a fixed order ------------------------------------------------------

class _Form(QWidget):
    def __init__(self):
        super().__init__()
        self.box = QSpinBox()
        self.box.setRange(0, 100)
        self.box.setValue(10)
        QVBoxLayout(self).addWidget(self.box)

    def scenario_state(self) -> dict:
        return {"value": self.box.value()}

    def apply_scenario_state(self, state: dict) -> None:
        self.box.setValue(state["value"])


def test_a_store_change_stays_absorbed_until_every_view_has_reread_the_store(qtbot):
    """store_changed, then someone asks is_modified (another view's follower), then the form
    changes with the store: still the store's change, not an edit, and taken as saved once the
    window says the store change is over; a change after that is the user's edit."""
    form, stack = _Form(), QUndoStack()
    qtbot.addWidget(form)
    watcher = FormUndoWatcher(form, stack, "Form")
    watcher.store_changed()
    assert not watcher.is_modified()   # asked before this form re-read the store
    form.box.setValue(20)              # its re-read of the store
    assert not watcher.is_modified()
    watcher.store_change_over()        # the last follower of the write has run
    assert not watcher.is_modified() and stack.count() == 0
    assert watcher.saved == {"value": 20}
    form.box.setValue(30)              # the user's edit, in the same turn
    assert watcher.is_modified() and stack.count() == 1
    qtbot.wait(10)
    assert watcher.is_modified() and stack.count() == 1
