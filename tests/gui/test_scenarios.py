"""Scenario bar: create, rename, duplicate, delete with undo/redo, save, restore on launch."""

import pytest
from PySide6.QtGui import QUndoStack

from engine.forecast import scenario_from_dict
from engine.store import open_store
from gui.scenarios import DEFAULT_NAME, ScenarioBar, apply_scenario_params, gather_scenario_params
from tests.gui.shared_setups import story_default_alone


_BARS = []


@pytest.fixture
def store(tmp_path):
    s = story_default_alone(tmp_path / "scenarios.db")   # these tests start from the story's default alone
    yield s
    while _BARS:
        _BARS.pop().detach()
    s.close()


def _bar(store, qtbot, stack=None, gather=None):
    stack = stack or QUndoStack()
    bar = ScenarioBar(store, stack, gather_params=gather)
    bar._test_stack = stack
    qtbot.addWidget(bar)
    _BARS.append(bar)
    return bar


def names(store):
    return [s["name"] for s in store.scenarios()]


def test_empty_database_gets_story_default(store, qtbot, qsettings_isolated):
    for name in names(store):
        store.delete_scenario(name)
    bar = _bar(store, qtbot)
    assert names(store) == [DEFAULT_NAME]
    assert bar.current_name() == DEFAULT_NAME
    scenario_from_dict(bar.current_params())  # a valid forecast scenario


def test_new_rename_duplicate_delete_with_undo_redo(store, qtbot, qsettings_isolated):
    bar = _bar(store, qtbot)
    stack = bar.undo_stack
    seen = []
    bar.current_changed.connect(lambda name, params: seen.append(name))

    assert bar.new_scenario("Tight supply")
    assert names(store) == sorted([DEFAULT_NAME, "Tight supply"]) and bar.current_name() == "Tight supply"
    assert seen[-1] == "Tight supply"
    assert not bar.new_scenario("Tight supply")  # refused: exists; nothing pushed
    assert "already exists" in bar.message.text() and stack.count() == 1

    depth = stack.count()
    for blank in ("", "  "):   # the words of a blank New ("name: value is required" before)
        assert not bar.rename_current(blank) and stack.count() == depth
        assert bar.message.text() == "name: blank (a scenario needs a name)"
        assert not bar.new_scenario(blank) and bar.message.text() == "name: blank (a scenario needs a name)"
    assert bar.rename_current("Tight supply 2025")
    assert "Tight supply 2025" in names(store) and "Tight supply" not in names(store)
    assert bar.current_name() == "Tight supply 2025"
    stack.undo()
    assert "Tight supply" in names(store) and bar.current_name() == "Tight supply"
    stack.redo()
    assert bar.current_name() == "Tight supply 2025"

    assert bar.duplicate_current("Copy")
    assert store.scenario("Copy")["params"]["months"] == store.scenario("Tight supply 2025")["params"]["months"]
    assert bar.delete_current()
    assert "Copy" not in names(store) and bar.current_name() in names(store)
    stack.undo()  # delete undone: same params back
    assert store.scenario("Copy")["params"]["name"] == "Copy"
    stack.undo()  # duplicate undone
    stack.undo()  # rename undone
    stack.undo()  # new undone
    assert names(store) == [DEFAULT_NAME] and bar.current_name() == DEFAULT_NAME
    for _ in range(4):
        stack.redo()
    assert sorted(names(store)) == sorted([DEFAULT_NAME, "Tight supply 2025"])
    assert [bar.combo.itemText(i) for i in range(bar.combo.count())] == names(store)


def test_delete_refuses_the_last_scenario(store, qtbot, qsettings_isolated):
    bar = _bar(store, qtbot)
    assert not bar.delete_current()
    assert names(store) == [DEFAULT_NAME] and bar.message.text()


def test_save_writes_gathered_params_with_ui_and_undo_restores(store, qtbot, qsettings_isolated):
    before = store.scenario(DEFAULT_NAME)["params"]

    class Stub:
        def __init__(self, state):
            self.state = state

        def scenario_state(self):
            return dict(self.state)

        def apply_scenario_state(self, state):
            self.state = dict(state)

    training, inference = Stub({"model": "llama3-70b", "chips": 1024}), Stub({"chip": "h20-96gb"})
    forecast = Stub({**before, "months": 36})
    panels = {"training": training, "inference": inference}
    bar = _bar(store, qtbot, gather=lambda: gather_scenario_params(forecast, panels))
    assert bar.save_current()
    saved = store.scenario(DEFAULT_NAME)["params"]
    assert saved["months"] == 36 and saved["ui"] == {"training": training.state, "inference": inference.state}
    assert scenario_from_dict(saved).months == 36  # "ui" is ignored by the engine
    training.state, forecast.state = {}, {}
    apply_scenario_params(saved, forecast, panels)
    assert training.state == {"model": "llama3-70b", "chips": 1024} and forecast.state["months"] == 36
    bar.undo_stack.undo()
    assert store.scenario(DEFAULT_NAME)["params"] == before


def test_inline_name_editor_creates_without_dialogs(store, qtbot, qsettings_isolated):
    bar = _bar(store, qtbot)
    bar.new_button.click()
    assert bar.name_edit.isVisibleTo(bar)
    bar.name_edit.setText("From the bar")
    bar.name_ok.click()
    assert "From the bar" in names(store) and not bar.name_edit.isVisibleTo(bar)
    bar.new_button.click()
    bar.name_edit.setText("   ")
    bar.name_ok.click()  # blank: refused at the field
    assert bar.name_edit.isVisibleTo(bar) and "name" in bar.message.text()


def test_last_scenario_is_restored_on_next_launch(store, qtbot, qsettings_isolated):
    bar = _bar(store, qtbot)
    assert bar.new_scenario("Other")
    bar.select(DEFAULT_NAME)
    bar.select("Other")
    bar.deleteLater()
    second = _bar(store, qtbot)  # a new launch: reads QSettings
    assert second.current_name() == "Other"
    seen = []
    second.current_changed.connect(lambda name, params: seen.append((name, params["name"])))
    second.emit_current()
    assert seen == [("Other", "Other")]


def test_saving_the_baseline_names_the_what_ifs_that_follow_it(store, qtbot, qsettings_isolated):
    """A duplicate of the baseline keeps its changes from it (none), so a later save of the
    baseline moved the "copy" unseen: the save now names every what-if that follows."""
    bar = _bar(store, qtbot)
    bar.select(DEFAULT_NAME)
    assert bar.duplicate_current("Frozen copy")
    assert "baseline" in bar.duplicate_button.toolTip()
    assert bar.select(DEFAULT_NAME)
    params = store.scenario(DEFAULT_NAME)["params"]
    with qtbot.waitSignal(bar.status_message) as said:
        assert bar.save_current({**params, "months": 36})
    assert "the 1 what-if(s) built on it follow: 'Frozen copy'" in said.args[0]
    assert store.scenario("Frozen copy")["params"]["months"] == 36   # as the message says
    assert bar.select("Frozen copy")
    with qtbot.waitSignal(bar.status_message) as said:
        assert bar.save_current(store.scenario("Frozen copy")["params"])
    assert "follow" not in said.args[0]                                # a what-if's own save moves nothing else


def test_undo_and_redo_put_scenario_rows_back_time_stamps_included(store, qtbot, qsettings_isolated):
    """QA: after Save or Rename and Ctrl+Z the inputs came back but `updated_at` kept the new
    time; Duplicate, undo, redo stamped the copy anew."""
    import time

    def rows():
        return {r["name"]: dict(r) for r in store.db["scenarios"].rows}

    with store.db.atomic():   # an old time stamp, so a new one can't coincide with it
        store.db["scenarios"].update(DEFAULT_NAME, {"updated_at": "2025-01-01T00:00:00"})
    before = rows()
    params = store.scenario(DEFAULT_NAME)["params"]
    bar = _bar(store, qtbot, gather=lambda: {**params, "months": 30})
    assert bar.save_current()
    assert rows()[DEFAULT_NAME]["updated_at"] != "2025-01-01T00:00:00"
    bar.undo_stack.undo()
    assert rows() == before
    assert bar.rename_current("Renamed")
    bar.undo_stack.undo()
    assert rows() == before
    assert bar.duplicate_current("Copy")
    first = rows()
    bar.undo_stack.undo()
    assert rows() == before
    time.sleep(1.1)       # a second later: a redo that stamps anew would show it
    bar.undo_stack.redo()
    assert rows() == first


def test_undoing_a_what_if_save_puts_its_stored_changes_back(tmp_path, qtbot, qsettings_isolated):
    """QA: undo saved the what-if's resolved inputs again, diffed against today's baseline, so a
    change that equalled the baseline by then was dropped: a what-if saved with a 30-month horizon
    read 60 after undoing a later save and the baseline's own."""
    from gui.scenarios import SaveScenarioCommand

    s = open_store(tmp_path / "w.db")
    base, what_if = s.baseline_name(), "Huawei 6 months late"
    stack = QUndoStack()
    p = s.scenario(what_if)["params"]
    p["months"] = 30
    stack.push(SaveScenarioCommand(s, what_if, p))
    b = s.scenario(base)["params"]
    b["months"] = 30
    stack.push(SaveScenarioCommand(s, base, b))
    row = s.scenario_row(what_if)
    p = s.scenario(what_if)["params"]
    p["trials"] = 500
    stack.push(SaveScenarioCommand(s, what_if, p))
    stack.undo()
    assert s.scenario_row(what_if) == row          # the row as stored, its 30-month change included
    stack.undo()
    assert s.scenario(base)["params"]["months"] == 60 and s.scenario(what_if)["params"]["months"] == 30
    stack.redo()
    stack.redo()
    assert s.scenario(what_if)["params"]["trials"] == 500
    s.close()


def test_a_rename_that_works_replaces_an_earlier_refusal_in_the_status_bar(store, qtbot, qsettings_isolated):
    """QA: after a blank name was refused, the successful rename left "name: blank" showing."""
    bar = _bar(store, qtbot)
    bar.select(DEFAULT_NAME)
    with qtbot.waitSignal(bar.status_message) as said:
        assert not bar.rename_current("  ")
    assert "blank" in said.args[0]
    with qtbot.waitSignal(bar.status_message) as said:
        assert bar.rename_current("Renamed base")
    assert "Renamed base" in said.args[0] and said.args[0].endswith("(Ctrl+Z to undo)")


def test_a_name_that_differs_only_in_case_is_refused(store, qtbot, qsettings_isolated):
    """QA: 'QA a' and 'qa A' both existed and read as one scenario in Compare."""
    bar = _bar(store, qtbot)
    bar.select(DEFAULT_NAME)
    assert bar.duplicate_current("QA a")
    assert not bar.new_scenario("qa A")
    assert "only in case" in bar.message.text()
    assert not bar.rename_current("story DEFAULT")
    assert "only in case" in bar.message.text()
    assert bar.rename_current("QA A copy")   # another name is fine


def test_new_says_only_the_forecast_starts_from_the_story_defaults(store, qtbot, qsettings_isolated):
    """New stores the story's forecast as changes over the baseline: the other views keep the
    baseline's (edited) inputs. The tooltip said "the story's default inputs" for all of them."""
    params = store.scenario(DEFAULT_NAME)["params"]
    store.save_scenario(DEFAULT_NAME, {**params, "ui": {"training": {"num_chips": 4096}}})
    bar = _bar(store, qtbot)
    said = []
    bar.status_message.connect(said.append)
    assert "story's default inputs" not in bar.new_button.toolTip()
    assert "the other views' inputs as the baseline's" in bar.new_button.toolTip()
    assert bar.new_scenario("Fresh")
    assert store.scenario("Fresh")["params"]["ui"] == {"training": {"num_chips": 4096}}   # as the words say
    assert said[-1] == (f"New scenario 'Fresh': the Forecast's inputs at the story's defaults, the other views' "
                        f"as in the baseline '{DEFAULT_NAME}' (Ctrl+Z to undo)")
