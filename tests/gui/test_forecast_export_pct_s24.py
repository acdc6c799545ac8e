"""QA s24: Export all's forecast_monthly.csv wrote P(meet) as 99.9, 100 and 96.65 beside
`fleetcast forecast --format csv`'s "99.90", "100.00" and "96.65" for the same table."""

from engine.commands.forecast import file_percent


def test_the_exported_monthly_table_gives_p_meet_as_the_forecast_csv_does(forecast_panel):
    forecast_panel.trials_spin.setValue(500)
    forecast_panel.compute_now()
    headers, rows = forecast_panel.tables()["monthly"]
    column = next(i for i, h in enumerate(headers) if h.startswith("P(meet"))
    shares = forecast_panel.result.prob_meet_demand
    assert [r[column] for r in rows] == [file_percent(float(p)) for p in shares]
    assert all(isinstance(r[1], float) for r in rows)   # the other columns stay numbers
