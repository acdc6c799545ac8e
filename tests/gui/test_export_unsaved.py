"""Files exported from inputs nobody saved say so: the scenario is named "<name> (with unsaved
changes)" and the command that runs the saved scenario is qualified (it gives other numbers: 94%
where the files said 8%). Saved again, the files name the scenario plainly."""

import pytest

from gui.export_all import SAVE_FIRST, UNSAVED_MARK, marked_unsaved

WHAT_IF = "Huawei 6 months late"


def test_marked_unsaved_names_the_scenario_and_qualifies_only_saved_scenario_commands():
    context = {"Scenario": WHAT_IF,
               "Run": "2,000 trials, seed 2024 (fleetcast forecast --scenario 'x' --start 2024-05)",
               "CLI": "fleetcast train --model llama3-70b --chips 1024"}   # every input a flag: it repeats them
    marked = marked_unsaved(context)
    assert marked["Scenario"] == f"{WHAT_IF}{UNSAVED_MARK}"
    assert marked["Run"] == f"2,000 trials, seed 2024 ({SAVE_FIRST}fleetcast forecast --scenario 'x' --start 2024-05)"
    assert marked["CLI"] == context["CLI"]
    assert marked_unsaved(marked) == marked            # said once, however often it is applied


def _comments(path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]


@pytest.mark.slow
def test_exports_of_unsaved_inputs_say_so_until_saved(window, tmp_path):
    assert window.scenario_bar.select(WHAT_IF)
    forecast = window.panel("forecast")
    forecast.scale_spin.setValue(2.0)                  # demand doubled, not saved
    window.update_modified()
    assert window.is_modified()

    written = window.export_all(str(tmp_path / "unsaved"))
    assert written
    key_figures = _comments(tmp_path / "unsaved" / "forecast_key_figures.csv")
    assert f"# Scenario: {WHAT_IF}{UNSAVED_MARK}" in key_figures, key_figures
    run = next(line for line in key_figures if line.startswith("# Run:"))
    assert f"{SAVE_FIRST}fleetcast forecast --scenario" in run, run
    chart_csv = _comments(tmp_path / "unsaved" / "forecast_capacity_vs_demand.csv")
    assert f"# Scenario: {WHAT_IF}{UNSAVED_MARK}" in chart_csv
    assert f"{WHAT_IF}{UNSAVED_MARK}" in (tmp_path / "unsaved" / "forecast_capacity_vs_demand.svg").read_text(
        encoding="utf-8")
    compared = _comments(tmp_path / "unsaved" / "compare_key_figures.csv")   # Compare runs it as saved
    assert any(line.startswith("# Note:") and WHAT_IF in line and "as saved" in line for line in compared)

    chart = forecast.charts()["capacity_vs_demand"]   # a chart's own Export menu says the same
    chart.export_csv(tmp_path / "one.csv")
    assert f"# Scenario: {WHAT_IF}{UNSAVED_MARK}" in _comments(tmp_path / "one.csv")

    assert window.scenario_bar.save_current()
    assert not window.is_modified()
    assert window.export_all(str(tmp_path / "saved"))
    key_figures = _comments(tmp_path / "saved" / "forecast_key_figures.csv")
    assert f"# Scenario: {WHAT_IF}" in key_figures and not any(UNSAVED_MARK in line for line in key_figures)
    assert not any(SAVE_FIRST in line for line in key_figures)
    assert not any(line.startswith("# Note:") for line in _comments(tmp_path / "saved" / "compare_key_figures.csv"))
    chart.export_csv(tmp_path / "one.csv")
    assert f"# Scenario: {WHAT_IF}" in _comments(tmp_path / "one.csv")
