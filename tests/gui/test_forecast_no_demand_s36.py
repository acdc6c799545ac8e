"""The Forecast's summary with no demand points read "P50 capacity covers peak demand in every month"
and P(meet demand) 100% (QA s36): it says there is no demand to meet."""


def test_the_summary_says_there_is_no_demand_to_meet(window):
    panel = window.panel("forecast")
    panel.trials_spin.setValue(200)
    panel.compute_now()
    assert "covers peak demand" not in panel.view._summary_html(panel.result)   # the story is short
    state = panel.scenario_state()
    state["demand"]["points"] = []
    panel.apply_scenario_state(state)
    panel.trials_spin.setValue(200)
    panel.compute_now()
    text = panel.view._summary_html(panel.result)
    assert "<b>No demand to meet</b>: demand is 0 in every month (no demand points, or demand scaled to 0)" in text
    assert "covers peak demand" not in text
    # the uncertainty shares of log(capacity / demand) have no demand to divide by: said, no bars
    from gui.panels.forecast_charts import NO_DEMAND_NOTICE

    assert panel.view.shares_chart.notice() == NO_DEMAND_NOTICE and panel.view.shares_chart.series_names() == []
    # the tornado's P(meet) and shortfall: the notice alone, no zero bars on an axis ticked to 1e-09 (s37)
    from tests.gui.test_charts_qa26 import _completion_tornado

    panel.view.draw_tornado(_completion_tornado())
    for metric in ("prob_meet_demand", "shortfall_mean_unit_chips"):
        chart = panel.view.tornado_charts[metric]
        assert chart.notice() == NO_DEMAND_NOTICE and chart.data_table()[1] == []
    assert panel.view.tornado_charts["job_completion_days"].data_table()[1] != []


def test_the_shortfall_chart_draws_p50_and_p90_not_the_mean(window):
    """QA s36: the shortfall chart's mean line followed a few trials' runaway demand (22M chips
    beside a P50 of 1.8M) and flattened the P50 bars the summary quotes."""
    import numpy as np

    panel = window.panel("forecast")
    panel.trials_spin.setValue(1000)
    panel.compute_now()
    r, chart = panel.result, panel.view.shortfall_chart
    assert chart.series_names() == ["Shortfall P50", "Shortfall P90"]
    _x, p90 = chart.series_data("Shortfall P90")
    assert np.allclose(p90, r.shortfall_unit_chips.p90)
    assert (r.shortfall_unit_chips.p90 >= r.shortfall_p50_unit_chips).all()
    # the story's tail: the mean runs far above the P90 at the horizon, and the axis follows the P90
    assert r.shortfall_mean_unit_chips[-1] > 1.5 * r.shortfall_unit_chips.p90[-1]
    assert chart.plot_item.vb.viewRange()[1][1] < r.shortfall_mean_unit_chips.max()


def test_the_key_figures_and_the_report_say_there_is_no_demand(window):
    """QA s36: the key figures read "never" and the report "covers demand in every month ... no new
    orders are needed" for a scenario with no demand points."""
    from engine.studies_forecast import NO_DEMAND_VALUE, forecast_key_figures
    from gui import report
    from tests.gui.test_report_s23 import _context

    panel = window.panel("forecast")
    state = panel.scenario_state()
    state["demand"]["points"] = []
    panel.apply_scenario_state(state)
    panel.trials_spin.setValue(200)
    panel.compute_now()
    figures = dict(forecast_key_figures(panel.result))
    assert figures["First month demand exceeds capacity P50 (date)"] == NO_DEMAND_VALUE
    text = " ".join(report.forecast_sentences(_context(figures={"forecast": {k: (v, "") for k, v in figures.items()}})))
    assert text.startswith("<b>There is no demand to meet</b>: demand is 0 in every month (no demand points, or "
                           "demand scaled to 0), so P(meet demand) is 100% with nothing to meet; add demand points")
    assert "covers demand" not in text and "The probability that installed capacity meets demand" not in text
