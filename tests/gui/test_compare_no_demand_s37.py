"""Compare beside a scenario with no demand points: its P(meet) read "+13" and "+100" points and its
shortfall "-46 months" against the story, as if it served the demand better (left undone in s36)."""

import copy

from engine.store import open_store
from tests.gui.test_compare_s34 import _compared


def test_figures_that_read_demand_take_no_difference_against_no_demand(tmp_path, qtbot):
    store = open_store(tmp_path / "c.db")
    try:
        demand = copy.deepcopy(store.scenario("Story default")["params"]["demand"])
        demand["points"] = []
        p = _compared(store, qtbot, "no demand", demand=demand)
        headers, rows = p.tables()["key_figures"]
        assert headers == ["Figure", "Story default (baseline)", "no demand", "no demand − baseline"]
        by = {row[0]: row for row in rows}
        demand_rows = [label for label in by if label.startswith(
            ("P(meet demand)", "Months with a P50 shortfall", "Largest P50 shortfall", "First month demand"))]
        assert len(demand_rows) >= 5
        for label in demand_rows:
            assert by[label][-1] == "— (no demand in no demand)", (label, by[label])
        assert by["P(meet demand) 24 months in (%)"][2] == 100   # the value itself stays what it is
        # figures that do not read demand keep their differences
        assert by["Horizon end (date)"][-1] == "+0 months"
        job = next(label for label in by if label.startswith("Job ") and "within horizon" in label)
        assert by[job][-1] == 0
        # the window's table as the file
        shown = {row[0]: row for row in p.figure_rows()[1]}
        assert shown["P(meet demand) 12 months in (%)"][-1] == "— (no demand in no demand)"
        p.shutdown()
    finally:
        store.close()


def test_a_scenario_no_chip_can_serve_is_not_the_best_in_the_table(tmp_path, qtbot):
    """QA s37: TPOT 8 ms (no chip meets it) read "0 (-46)" months short and "never" in Compare, the
    best scenario in the table; the Forecast view said nothing of it in its summary."""
    store = open_store(tmp_path / "c.db")
    try:
        demand = copy.deepcopy(store.scenario("Story default")["params"]["demand"])
        demand["tpot_ms"] = 8.0
        p = _compared(store, qtbot, "TPOT 8", demand=demand)
        by = {row[0]: row for row in p.figure_rows()[1]}
        assert by["Months with a P50 shortfall (months)"][2] == 60
        assert by["First month demand exceeds capacity P50 (date)"][2] == by["Horizon end (date)"][2].replace(
            year=2024, month=5)
        largest = next(label for label in by if label.startswith("Largest P50 shortfall"))
        assert by[largest][2] == "not counted (no chip serves the model under the targets)"
        assert by[largest][3] == ""   # no difference from a figure that is not counted
        p.shutdown()
    finally:
        store.close()


def test_the_forecast_view_says_no_chip_serves(window):
    panel = window.panel("forecast")
    state = panel.scenario_state()
    state["demand"]["tpot_ms"] = 8.0
    panel.apply_scenario_state(state)
    panel.trials_spin.setValue(200)
    panel.compute_now()
    text = panel.view._summary_html(panel.result)
    assert "<b>No chip serves the demand</b> under its latency targets (see the notes): capacity is 0, so peak " \
           "demand exceeds it from <b>May 2024</b>, 60 of 60 months short." in text
    assert panel.view.shortfall_chart.notice().startswith("No chip serves the demand")
    assert panel.view.capacity_chart.notice().startswith("No chip serves the demand")


def test_the_files_say_why_a_scenario_no_chip_serves_has_no_capacity_line(tmp_path, qtbot):
    """s38: its capacity and demand lines were blank in the chart files without a word."""
    store = open_store(tmp_path / "c.db")
    try:
        demand = copy.deepcopy(store.scenario("Story default")["params"]["demand"])
        demand["tpot_ms"] = 8.0
        p = _compared(store, qtbot, "TPOT 8", demand=demand)
        note = p.chart_export_context("capacity_p50")["Note"]
        assert note == "'TPOT 8' has no capacity or demand line: no chip serves its model under its targets"
        p.shutdown()
        demand["tpot_ms"] = 50.0
        p = _compared(store, qtbot, "TPOT 50", demand=demand)
        assert p.chart_export_context("capacity_p50")["Note"] is None   # one that serves: no note
        p.shutdown()
    finally:
        store.close()
