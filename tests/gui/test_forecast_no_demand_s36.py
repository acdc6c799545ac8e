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
    assert "<b>No demand to meet</b>: the scenario has no demand points" in text
    assert "covers peak demand" not in text
