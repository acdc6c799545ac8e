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


def test_a_what_if_made_the_baseline_is_stored_whole_and_the_old_baseline_stays_whole(window, store):
    """QA s38: a plain Save of the old baseline stored it as changes from the new one, and an edit of
    the new one then moved it and its what-ifs (P(meet) 12 months in 87% -> 12%)."""
    bar = window.scenario_bar
    resolved = store.scenario("Huawei delivers half")["params"]
    assert store.scenario("Huawei delivers half")["base"] == "Story default"
    assert bar.select("Huawei delivers half") and bar.make_baseline()
    row = store.scenario("Huawei delivers half")
    assert row["base"] is None and row["params"] == resolved   # in full, the same inputs
    story = store.scenario("Story default")["params"]
    story["demand"]["scale"] = 1.5
    store.save_scenario("Story default", story)
    assert store.scenario("Story default")["base"] is None   # stored whole, as before
    late = store.scenario("Huawei 6 months late")
    assert late["base"] == "Story default" and late["params"]["demand"]["scale"] == 1.5   # follows its own
    # an edit of the new baseline moves neither the old one nor its what-ifs
    half = store.scenario("Huawei delivers half")["params"]
    half["demand"]["scale"] = 2.0
    store.save_scenario("Huawei delivers half", half)
    assert store.scenario("Story default")["params"]["demand"]["scale"] == 1.5
    assert store.scenario("Huawei 6 months late")["params"]["demand"]["scale"] == 1.5
    # a what-if saved again keeps the baseline it was built on; a new one is built on the baseline
    late_params = late["params"]
    late_params["demand"]["peak_to_average"] = 1.7
    store.save_scenario("Huawei 6 months late", late_params)
    assert store.scenario("Huawei 6 months late")["base"] == "Story default"
    store.save_scenario("Brand new", store.scenario("Story default")["params"])
    assert store.scenario("Brand new")["base"] == "Huawei delivers half"
    brand_new, story_now = store.scenario("Brand new")["params"], store.scenario("Story default")["params"]
    assert brand_new["demand"]["scale"] == 1.5 and brand_new["vendor_uncertainty"] == story_now["vendor_uncertainty"]


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


def test_a_save_names_every_what_if_that_follows_it_not_only_the_baselines(window, store):
    bar = window.scenario_bar
    assert bar.select("Huawei delivers half") and bar.make_baseline()
    assert bar.select("Story default")
    assert bar.save_current()
    message = window.statusBar().currentMessage()
    assert message.startswith("Saved scenario 'Story default'; the 2 what-if(s) built on it follow: "), message
    assert "'Huawei 6 months late'" in message and "'H20 cut off (Apr 2025)'" in message
    assert store.scenario("Story default")["base"] is None   # still whole


def test_compare_describes_each_scenario_against_the_baseline_it_is_compared_with(store):
    """QA s38: after Make baseline, '6 months late' read only its own delay beside +15,000 chips that
    came from the fulfilment of the scenario it was built on."""
    from gui.panels.compare_text import changes_text

    store.set_baseline("Huawei delivers half")
    late = changes_text(store, "Huawei 6 months late", "Huawei delivers half", {})
    assert late.startswith("built on 'Story default', not the baseline; from the baseline: Huawei extra delay 0 days → 182 days")
    assert "Huawei fulfilled low 50% → 40% of the order" in late
    story = changes_text(store, "Story default", "Huawei delivers half", {})
    assert story.startswith("stored in full; from the baseline: Huawei fulfilled distribution fixed → beta")
    store.set_baseline("Story default")   # as seeded: each by its own changes
    assert changes_text(store, "Huawei 6 months late", "Story default", {}).startswith("Huawei extra delay 0 days → 182 days")


def test_undo_refuses_where_the_old_baseline_was_renamed_elsewhere_since(window, store):
    """QA s38: undone after another window renamed 'Story default', the what-if was put back as
    changes from a scenario no longer there (unreadable) and the database had no baseline."""
    bar = window.scenario_bar
    assert bar.select("Huawei delivers half") and bar.make_baseline()
    other = open_store(store.path)
    try:
        other.rename_scenario("Story default", "Story 2")
    finally:
        other.close()
    window.check_external_changes()
    window.undo_stack.undo()
    assert store.baseline_name() == "Huawei delivers half"
    for row in store.scenarios():   # every scenario still reads
        assert store.scenario(row["name"])["params"]["demand"]
