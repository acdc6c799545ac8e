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


def test_a_default_fleet_date_follows_the_lag_and_is_never_saved_as_a_date(window):
    """QA s37 (of the first fix): with no date saved, the Training view fixed the default date at
    the lag it found when loading, saved it as a date, and kept its result when the lag changed."""
    import datetime as dt

    forecast, training = window.panel("forecast"), window.panel("training")
    training.apply_scenario_state({**training.scenario_state(), "chips_source": "fleet", "fleet_date": None,
                                   "chip_id": "ascend-910b2"})
    assert training.scenario_state()["fleet_date"] is None
    before = training.date_edit.date().toPython()
    called = []
    training.schedule = lambda *a: called.append(1)
    forecast.supply_editor.lag_spin.setValue(120)   # the Training view runs again
    assert called
    training.read_inputs()
    # the month after the last delivery is in service, at 30 days and at 120
    from engine.fleet import first_month_all_installed

    orders = window.store.orders()
    assert before == first_month_all_installed(orders, 30.0) == dt.date(2024, 12, 1)
    assert training.date_edit.date().toPython() == first_month_all_installed(orders, 120.0) == dt.date(2025, 3, 1)
    assert training.scenario_state()["fleet_date"] is None
    training.date_edit.setDate(training.date_edit.date().addMonths(1))   # picked: saved as picked
    assert training.scenario_state()["fleet_date"] == "2025-04-01"


def test_the_report_and_export_count_the_scenarios_lag_with_no_date_saved(tmp_path, qapp):
    """QA s37: export and report read 10,000 chips where `train --scenario` read 30,000: the
    offscreen Training view fixed its default date before it was given the scenario's lag."""
    import copy

    from engine.store import open_store
    from gui.export_all import build_offscreen_panels, shutdown_panels

    store = open_store(tmp_path / "lag.db")
    try:
        params = copy.deepcopy(store.scenario("Story default")["params"])
        params["install_lag_days"] = 120.0
        params.setdefault("ui", {})["training"] = {**TrainingStudy(chip_id="ascend-910b2", chips_source="fleet",
                                                                   fleet_date=None).to_dict()}
        store.save_scenario("Lag 120", {**params, "name": "Lag 120"})
        expected = TrainingStudy(chip_id="ascend-910b2", chips_source="fleet", install_lag_days=120.0)
        panels = build_offscreen_panels(store, "Lag 120")
        try:
            study = panels["training"].current_study()
            assert study.install_lag_days == 120.0 and study.fleet_date is None
            assert study.chips_used(store.orders()) == expected.chips_used(store.orders()) == 30_000
        finally:
            shutdown_panels(panels)
            for panel in panels.values():
                panel.close()
                panel.deleteLater()
    finally:
        store.close()
