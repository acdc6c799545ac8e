"""QA s21 (M1): Save stored a Supply value the Forecast form flagged. Failures at 100 %/year read
"Fix before running: ..." on the form, yet the window's save_problem() was "" and Save stored a
rate of 1.0, after which every CLI run of the scenario failed. The field stops at 99.99 %/year, and
a field problem of the edited Forecast form refuses the Save, naming it."""

from gui.widgets.form_undo import flush_pending_edits

DEFAULT = "Story default"


def test_the_failures_field_stops_below_100_percent(window):
    spin = window.panel("forecast").supply_editor.failure_spin
    spin.setValue(100)
    assert spin.maximum() == 99.99 and spin.value() == 99.99


def test_a_flagged_supply_field_refuses_the_save(window, store):
    forecast = window.panel("forecast")
    forecast.auto_check.setChecked(False)
    supply = forecast.supply_editor
    supply.failure_spin.setMaximum(100)   # as a scenario loaded with a rate of 1.0 widens it
    supply.failure_spin.setValue(100)
    flush_pending_edits()
    problem = "Failures 100 %/year: use 0 to 99.99 %/year."
    assert window.save_problem() == problem
    assert window.is_modified()
    assert not window.scenario_bar.save_current()
    assert window.scenario_bar.message.text() == f"Not saved: {problem}"
    assert store.scenario(DEFAULT)["params"].get("annual_failure_rate") != 1.0
    supply.failure_spin.setValue(10)
    flush_pending_edits()
    assert window.save_problem() == ""
    assert window.scenario_bar.message.text() == ""   # the refusal goes once the field is fixed
    assert window.scenario_bar.save_current()
    assert store.scenario(DEFAULT)["params"]["annual_failure_rate"] == 0.1


def test_a_scenario_stored_bad_is_not_flagged_until_the_form_is_edited(window, store):
    """What is stored is what is on screen: not unsaved, and no refusal until the form changes."""
    params = {**store.scenario(DEFAULT)["params"], "annual_failure_rate": 1.0}
    store.save_scenario(DEFAULT, params)
    assert window.scenario_bar.select("Huawei delivers half") and window.scenario_bar.select(DEFAULT)
    forecast = window.panel("forecast")
    forecast.auto_check.setChecked(False)
    assert forecast.scenario().annual_failure_rate == 1.0
    assert window.save_problem() == "" and not window.is_modified()
    forecast.supply_editor.lag_spin.setValue(45)
    flush_pending_edits()
    assert window.save_problem() == "Failures 100 %/year: use 0 to 99.99 %/year."
