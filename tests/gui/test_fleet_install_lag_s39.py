"""The Fleet chart counted every chip installed 30 days after delivery whatever the scenario said:
with an install lag of 90 the report's Figure 1 and the exported chart put chips in service 60 days
before the Forecast beside them counted them, and its files named no scenario (QA s39)."""

import datetime as dt

import numpy as np

from gui.widgets.plot_panel import from_timestamp


def _installed_on(chart, day: dt.date) -> float:
    x, y = chart.series_data("All chips") if "All chips" in chart.series_names() else chart.series_data(chart.series_names()[0])
    months = [from_timestamp(v) for v in x]
    return float(np.asarray(y)[months.index(day)])


def test_the_fleet_chart_follows_the_scenarios_install_lag(window):
    fleet = window.fleet_panel
    assert "delivered + 30 days" in fleet.chart.title
    # the demo H800 order's first 5,000 arrived in summer 2023: installed by September at 30 days, not at 90
    at_30 = _installed_on(fleet.chart, dt.date(2023, 9, 1))
    forecast = window.panel("forecast")
    forecast.supply_editor.lag_spin.setValue(90)
    assert "delivered + 90 days" in fleet.chart.title
    assert fleet.chart_export_context("installed_chips") == {"Install lag": "90 days after delivery"}
    at_90 = _installed_on(fleet.chart, dt.date(2023, 9, 1))
    assert at_90 < at_30   # the same deliveries counted two months later
    forecast.supply_editor.lag_spin.setValue(30)
    assert _installed_on(fleet.chart, dt.date(2023, 9, 1)) == at_30
