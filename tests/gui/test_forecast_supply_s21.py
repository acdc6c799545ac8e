"""QA s21: the scenario's supply settings (the date deliveries are known to, install lag, failures,
chip life, how undated chips arrive) could not be seen or set in the window. The Forecast form's
"Supply" group shows them: each edit reaches the run's ForecastScenario as one undo step, Save and
reload keep them, a scenario saved without them loads the engine's defaults, the assumptions box
names them, and a bad value is flagged on its field before anything runs."""

import datetime as dt

import pytest
from PySide6.QtCore import QDate

from engine.forecast import ForecastScenario
from gui.panels.forecast import ForecastPanel
from gui.widgets.form_undo import flush_pending_edits

DEFAULT = "Story default"
OTHER = "Huawei delivers half"
SUPPLY_KEYS = ("as_of", "install_lag_days", "annual_failure_rate", "lifetime_years", "unscheduled_spread_months")


@pytest.fixture
def panel(forecast_panel):   # tests/gui/conftest.py
    return forecast_panel


@pytest.fixture
def forecast(window):
    p = window.panel("forecast")
    p.auto_check.setChecked(False)
    return p


def _supply(sc: ForecastScenario) -> tuple:
    return tuple(getattr(sc, k) for k in SUPPLY_KEYS)


def _latest_delivery(store) -> dt.date:
    return max(d.date for o in store.orders() for d in o.deliveries)


def test_each_supply_field_reaches_the_scenario_as_one_undo_step(window, forecast, store):
    supply = forecast.supply_editor
    before = forecast.scenario()
    assert _supply(before) == (None, 30.0, 0.03, 5.0, 12)   # the story's, now on screen
    assert supply.as_of_auto.isChecked() and not supply.as_of_edit.isEnabled()
    edits = [
        (lambda: supply.lag_spin.setValue(45), "install_lag_days", 45.0),
        (lambda: supply.failure_spin.setValue(5), "annual_failure_rate", 0.05),
        (lambda: supply.life_spin.setValue(0), "lifetime_years", None),   # "no retirement"
        (lambda: supply.spread_spin.setValue(18), "unscheduled_spread_months", 18),
        (lambda: supply.as_of_auto.setChecked(False), "as_of", _latest_delivery(store)),   # starts from 'latest'
        (lambda: supply.life_spin.setValue(7), "lifetime_years", 7.0),
        (lambda: supply.as_of_edit.setDate(QDate(2024, 12, 31)), "as_of", dt.date(2024, 12, 31)),
    ]   # (two quick edits of one field in a row merge into one step, as in every field)
    for edit, key, wanted in edits:
        old = getattr(forecast.scenario(), key)
        depth = window.undo_stack.count()
        edit()
        flush_pending_edits()
        assert getattr(forecast.scenario(), key) == wanted, key
        assert window.undo_stack.count() == depth + 1, key             # one step per edit
        assert window.gather_scenario_params()[key] == (wanted.isoformat() if key == "as_of" else wanted)
        window.undo_stack.undo()
        assert getattr(forecast.scenario(), key) == old, key
        window.undo_stack.redo()
        assert getattr(forecast.scenario(), key) == wanted, key
    assert forecast._request().scenario.install_lag_days == 45.0      # what a forecast or a plan runs
    text = forecast.assumptions_label.text()
    assert ("<b>supply</b>: deliveries known to 2024-12-31; chips count 45 days after delivery, fail 5%/year "
            "and retire after 7 years; undated chips arrive over 18 months") in text, text
    for _ in edits:
        window.undo_stack.undo()
    assert _supply(forecast.scenario()) == _supply(before)
    assert supply.as_of_auto.isChecked() and not supply.as_of_edit.isEnabled()


def test_save_and_reload_keep_the_supply_settings(window, forecast, store, qtbot):
    supply = forecast.supply_editor
    supply.as_of_auto.setChecked(False)
    supply.as_of_edit.setDate(QDate(2024, 11, 15))
    supply.lag_spin.setValue(60)
    supply.failure_spin.setValue(2.5)
    supply.life_spin.setValue(0)
    supply.spread_spin.setValue(24)
    flush_pending_edits()
    wanted = (dt.date(2024, 11, 15), 60.0, 0.025, None, 24)
    assert _supply(forecast.scenario()) == wanted
    assert window.scenario_bar.save_current()
    params = store.scenario(DEFAULT)["params"]
    assert [params[k] for k in SUPPLY_KEYS] == ["2024-11-15", 60.0, 0.025, None, 24]
    assert window.scenario_bar.select(OTHER)
    assert _supply(forecast.scenario()) == wanted          # a what-if follows its baseline's supply
    assert window.scenario_bar.select(DEFAULT)
    assert _supply(forecast.scenario()) == wanted
    assert supply.life_spin.text() == "no retirement" and supply.as_of_edit.isEnabled()
    assert not window.isWindowModified()
    fresh = ForecastPanel(store)                            # read back from the store by another form
    qtbot.addWidget(fresh)
    fresh.auto_check.setChecked(False)
    fresh.apply_scenario_state(store.scenario(DEFAULT)["params"])
    assert _supply(fresh.scenario()) == wanted
    fresh.shutdown()


def test_a_scenario_saved_without_the_supply_keys_loads_the_engines_defaults(panel):
    state = {k: v for k, v in panel.scenario_state().items() if k not in SUPPLY_KEYS}
    panel.supply_editor.lag_spin.setValue(90)   # not carried over from what was on screen
    panel.apply_scenario_state(state)
    assert _supply(panel.scenario()) == _supply(ForecastScenario())   # None, 30, 0, no retirement, 12
    supply = panel.supply_editor
    assert supply.as_of_auto.isChecked() and supply.life_spin.text() == "no retirement"
    assert supply.failure_spin.value() == 0 and supply.lag_spin.value() == 30 and supply.spread_spin.value() == 12
    assert "fail 0%/year and never retire" in panel.assumptions_label.text()


def test_saved_values_are_kept_exactly_and_out_of_range_ones_are_named_not_clamped(panel):
    state = {**panel.scenario_state(), "annual_failure_rate": 0.03125, "install_lag_days": 5000.0}
    panel.apply_scenario_state(state)
    sc = panel.scenario()
    assert (sc.annual_failure_rate, sc.install_lag_days) == (0.03125, 5000.0)   # 3.13 % shown, 3.125 kept
    assert panel.supply_editor.lag_spin.value() == 5000
    assert panel._request() is not None                                           # both are valid
    panel.apply_scenario_state({**state, "lifetime_years": -1.0, "unscheduled_spread_months": 300})
    assert panel.run() is None and not panel.is_running()
    text = panel.validation_label.text()
    assert "Chip life -1 years: use more than 0, or no retirement." in text, text
    assert "Unscheduled chips spread over 300 months: use 1 to 240." in text, text
    assert "not on the form" not in text
    assert "c0392b" in panel.supply_editor.life_spin.styleSheet()
    assert "c0392b" in panel.supply_editor.spread_spin.styleSheet()


def test_a_failure_rate_of_100_percent_is_flagged_on_its_field(panel):
    panel.apply_scenario_state({**panel.scenario_state(), "annual_failure_rate": 1.0})   # stored; the field stops at 99.99
    assert panel.run() is None
    assert panel.validation_label.text() == "Fix before running: Failures 100 %/year: use 0 to 99.99 %/year."
    assert "c0392b" in panel.supply_editor.failure_spin.styleSheet()
    panel.supply_editor.failure_spin.setValue(10)
    assert panel._request() is not None and "c0392b" not in panel.supply_editor.failure_spin.styleSheet()


def test_the_run_uses_the_supply_settings(panel):
    """A forecast run counts them: chips lost at 50%/year leave fewer installed than 3%/year."""
    panel.trials_spin.setValue(200)
    panel.months_spin.setValue(24)
    panel.compute_now()
    installed_before = float(panel.result.installed_total.p50[-1])
    panel.supply_editor.failure_spin.setValue(50)
    panel.compute_now()
    assert panel._shown_for().scenario.annual_failure_rate == 0.5
    assert float(panel.result.installed_total.p50[-1]) < 0.8 * installed_before
