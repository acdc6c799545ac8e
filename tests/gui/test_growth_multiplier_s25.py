"""QA s25 in the Forecast view: the demand growth what-if is a field of the demand form, and the
P(meet) chart's CSV is written as the forecast's CSV writes P(meet) (percent, 2 decimals)."""

import csv
import datetime as dt

import numpy as np
import pytest
from PySide6.QtGui import QUndoStack

from engine.studies_forecast import ForecastStudy, file_percent_text, forecast_monthly_table
from gui.panels.forecast_editors import GROWTH_MULTIPLIER_LABEL, attach_growth_multiplier


@pytest.fixture
def panel(forecast_panel):
    return forecast_panel   # conftest's Forecast view, not updating as it is edited


def _run(panel, qtbot):
    with qtbot.waitSignal(panel.result_ready, timeout=20000) as blocker:
        assert panel.run() is not None
    return blocker.args[0]


def test_the_growth_multiplier_is_a_row_of_the_demand_form_and_moves_only_demand_after_the_points(panel, qtbot):
    box = attach_growth_multiplier(panel)
    assert attach_growth_multiplier(panel) is box   # one row, however often it is asked for
    form = panel._demand_form
    assert form.labelForField(box).text() == GROWTH_MULTIPLIER_LABEL
    floor_row = form.getWidgetPosition(panel.sigma_floor_spin)[0]
    assert form.getWidgetPosition(box)[0] == floor_row + 1
    assert box.value() == 1.0 and panel.scenario().demand.growth_rate_multiplier == 1.0
    panel.trials_spin.setValue(300)
    first = _run(panel, qtbot)
    box.setValue(2.0)
    assert panel.scenario().demand.growth_rate_multiplier == 2.0
    second = _run(panel, qtbot)
    assert second.scenario.demand.growth_rate_multiplier == 2.0
    last_point = max(p.date for p in panel.scenario().demand.points)
    before = np.array([m <= last_point for m in first.months])
    np.testing.assert_array_equal(second.demand_tokens_per_day[before], first.demand_tokens_per_day[before])
    after = ~before
    assert np.all(second.demand_tokens_per_day[after] > first.demand_tokens_per_day[after])
    assert "what-if: growth x2" in second.growth_note


def test_a_loaded_scenario_shows_its_multiplier_and_undo_puts_the_last_one_back(panel, qtbot):
    from gui.widgets.form_undo import FormUndoWatcher

    box = attach_growth_multiplier(panel)
    state = panel.scenario_state()
    state["demand"]["growth_rate_multiplier"] = 3.0
    panel.apply_scenario_state(state)
    assert box.value() == 3.0 and panel.scenario().demand.growth_rate_multiplier == 3.0
    assert ForecastStudy.from_dict(panel.scenario_state()).scenario.demand.growth_rate_multiplier == 3.0
    stack = QUndoStack()   # the watcher's own: the edit lands on it
    watcher = FormUndoWatcher(panel, stack, "Forecast")
    box.setValue(1.5)
    qtbot.waitUntil(lambda: stack.count() == 1)   # the edit is one step, named in the form's words
    assert "demand growth" in stack.text(0)
    stack.undo()
    assert box.value() == 3.0 and panel.scenario().demand.growth_rate_multiplier == 3.0
    stack.redo()
    assert box.value() == 1.5 and panel.scenario().demand.growth_rate_multiplier == 1.5
    watcher.deleteLater()


def test_the_p_meet_chart_csv_writes_percent_to_2_decimals_as_the_forecast_csv(panel, qtbot, tmp_path):
    from gui.export_all import export_all

    panel.trials_spin.setValue(300)   # shares of 300 trials: 1/3 is 33.333333333333336% as a raw float
    panel.months_spin.setValue(24)
    written = export_all({"forecast": panel}, tmp_path / "out")
    path = next(p for p in written if p.name == "forecast_prob_meet_demand.csv")
    rows = list(csv.reader(line for line in path.read_text(encoding="utf-8-sig").splitlines() if not line.startswith("#")))
    header, body = rows[0], rows[1:]
    assert header == ["Date", "P(capacity ≥ peak demand) (%)"]   # the unit in the header
    r = panel.result
    expected = [file_percent_text(100.0 * p) for p in r.prob_meet_demand]
    assert [row[1] for row in body] == expected
    # the same text as the monthly table's file (and `fleetcast forecast --format csv`) for each month
    table = forecast_monthly_table(r)
    monthly = [row[-1] for row in table.file_rows()]
    assert table.keys()[-1] == "prob_meet_demand_pct" and [row[1] for row in body] == monthly
    assert all(len(v.split(".")[1]) == 2 for v in expected)
    assert any(0 < p < 1 and round(p * 300) % 3 for p in r.prob_meet_demand), "no share with a long decimal"
    assert [dt.date.fromisoformat(row[0]) for row in body] == list(r.months)
