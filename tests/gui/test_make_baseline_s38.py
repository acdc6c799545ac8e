"""The baseline could not be chosen in the window: once deleted, nothing replaced it but renaming
another scenario to its name, and `forecast`/`report` without --scenario refused. Make baseline
chooses one, undoably; deleting the baseline says what that changes."""

from engine.store import open_store
from engine.studies_forecast import baseline_name


def test_make_baseline_is_one_undoable_step_and_compare_follows(window, store):
    bar = window.scenario_bar
    assert store.baseline_name() == "Story default"
    assert not bar.baseline_button.isEnabled()            # on the baseline itself
    assert bar.baseline_button.toolTip().startswith("'Story default' is the baseline")
    assert bar.select("Huawei delivers half")
    assert bar.baseline_button.isEnabled()
    assert "The baseline now: 'Story default'" in bar.baseline_button.toolTip()
    steps = window.undo_stack.count()
    bar.baseline_button.click()
    assert store.baseline_name() == "Huawei delivers half"
    assert baseline_name([s["name"] for s in store.scenarios()], store.baseline_name()) == "Huawei delivers half"
    assert window.undo_stack.count() == steps + 1
    assert window.undo_stack.undoText() == "Make 'Huawei delivers half' the baseline"
    assert not bar.baseline_button.isEnabled()
    assert window.statusBar().currentMessage().startswith("'Huawei delivers half' is now the baseline")
    assert window.panel("compare").baseline() == "Huawei delivers half"
    window.undo_stack.undo()
    assert store.baseline_name() == "Story default" and bar.baseline_button.isEnabled()
    window.undo_stack.redo()
    assert store.baseline_name() == "Huawei delivers half" and not bar.baseline_button.isEnabled()
    # what-ifs saved before keep the baseline they were built on
    assert {s["name"]: s["base"] for s in store.scenarios()}["Huawei 6 months late"] == "Story default"


def test_deleting_the_baseline_says_so_and_another_can_be_made_the_baseline(window, store):
    bar = window.scenario_bar
    assert bar.select("Story default")
    assert bar.delete_current()
    message = window.statusBar().currentMessage()
    assert message.startswith("Delete scenario 'Story default', the baseline: until another is made the baseline")
    assert store.baseline_name() is None
    assert bar.baseline_button.isEnabled() and bar.baseline_button.toolTip().endswith("No baseline is saved now")
    assert bar.select("Huawei 6 months late")
    assert bar.make_baseline()
    assert store.baseline_name() == "Huawei 6 months late"
    window.undo_stack.undo()   # back to no baseline (the deleted one's name, as stored)
    assert store.baseline_name() is None
    window.undo_stack.undo()   # the delete undone: the baseline again
    assert store.baseline_name() == "Story default"


def test_a_read_only_database_cannot_change_its_baseline(tmp_path, qtbot, qsettings_isolated):
    from gui.app import MainWindow

    path = tmp_path / "ro.db"
    open_store(path).close()
    store = open_store(path, read_only=True)
    try:
        w = MainWindow(store)
        qtbot.addWidget(w)
        assert w.scenario_bar.select("Huawei delivers half")
        assert not w.scenario_bar.baseline_button.isEnabled()
        assert not w.scenario_bar.make_baseline()
        w.close()
    finally:
        store.close()


def test_a_what_if_made_the_baseline_is_stored_whole_and_the_old_baseline_saves_without_a_loop(window, store):
    bar = window.scenario_bar
    resolved = store.scenario("Huawei delivers half")["params"]
    assert store.scenario("Huawei delivers half")["base"] == "Story default"
    assert bar.select("Huawei delivers half") and bar.make_baseline()
    row = store.scenario("Huawei delivers half")
    assert row["base"] is None and row["params"] == resolved   # in full, the same inputs
    # the old baseline saved now is stored as changes from the new one, and both still read
    story = store.scenario("Story default")["params"]
    story["demand"]["scale"] = 1.5
    store.save_scenario("Story default", story)
    assert store.scenario("Story default")["base"] == "Huawei delivers half"
    assert store.scenario("Story default")["params"]["demand"]["scale"] == 1.5
    assert store.scenario("Huawei delivers half")["params"] == resolved
    assert store.scenario("Huawei 6 months late")["params"]["demand"]["scale"] == 1.5   # follows its own baseline


def test_undo_puts_the_what_ifs_changes_back(window, store):
    bar = window.scenario_bar
    derived_row = store.scenario_row("Huawei delivers half")
    assert bar.select("Huawei delivers half") and bar.make_baseline()
    window.undo_stack.undo()
    assert store.scenario_row("Huawei delivers half") == derived_row
    assert store.baseline_name() == "Story default"
    window.undo_stack.redo()
    assert store.scenario("Huawei delivers half")["base"] is None
    # saved elsewhere after the step: its undo refuses, nothing written
    other = open_store(store.path)
    try:
        params = other.scenario("Huawei delivers half")["params"]
        params["demand"]["scale"] = 2.0
        other.save_scenario("Huawei delivers half", params)
    finally:
        other.close()
    window.undo_stack.undo()
    assert store.baseline_name() == "Huawei delivers half"
    assert store.scenario("Huawei delivers half")["params"]["demand"]["scale"] == 2.0
