"""QA s37: the Training view counted "the fleet installed on" a date with a fixed 30-day install lag
inside a scenario whose lag (Forecast > Supply) was 120 days."""

from engine.studies import TrainingStudy


def test_the_training_view_counts_the_scenarios_install_lag(window):
    forecast, training = window.panel("forecast"), window.panel("training")
    assert training.current_study().install_lag_days == 30.0
    forecast.supply_editor.lag_spin.setValue(120)   # as edited, before a Save
    study = training.current_study()
    assert study.install_lag_days == 120.0
    fleet = TrainingStudy.from_dict({**study.to_dict(), "chips_source": "fleet", "fleet_date": "2024-12-01"})
    counted = fleet.chips_used(window.store.orders())
    from dataclasses import replace
    assert replace(fleet, install_lag_days=120.0).chips_used(window.store.orders()) < counted
    training.source_combo.setCurrentIndex(training.source_combo.findData("fleet"))
    training.read_inputs()
    assert "the scenario's 120-day install lag" in training.fleet_hint.text()
