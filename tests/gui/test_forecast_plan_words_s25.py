"""QA s25 (P1) in the window: notes kept over edited values say so (demand, cut-offs) through a
saved what-if to what the report reads; the Plan's delivery bars name their unit and give the
expected arrivals; chart value axes keep their quantity's name at 1280x720."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from engine.forecast import PolicyEvent
from engine.studies_forecast import EDITED_NOTE


def _settle(qtbot, ms: int = 50) -> None:
    qtbot.wait(ms)


# ---- notes written for other values --------------------------------------------------------------

def test_the_form_marks_the_demand_note_when_its_values_are_edited_and_not_before(window, qtbot):
    panel = window.panel("forecast")
    panel.auto_check.setChecked(False)
    base = panel.scenario().demand
    assert "TPOT 50 ms" in base.note and not base.note.startswith(EDITED_NOTE)
    assert panel.scenario().demand == panel._base.demand   # loading alone marks nothing
    panel.tpot_spin.setValue(25)
    edited = panel.scenario().demand
    assert edited.tpot_ms == 25 and edited.note == EDITED_NOTE + base.note
    panel.tpot_spin.setValue(50)   # back to the values the note was written for
    assert panel.scenario().demand.note == base.note


def test_an_edited_cut_off_row_says_its_note_was_for_the_earlier_values(policy_editor, qtbot):
    editor = policy_editor
    coin = PolicyEvent("h20-96gb", 0.5, dt.date(2025, 1, 1), dt.date(2025, 12, 31), None,
                       "assumption: a licence requirement in 2025 was a coin flip")
    editor.set_choices([("h20-96gb", "H20"), ("ascend-910b2", "Ascend 910B2")])
    editor.set_values([coin])
    assert editor.events()[0] == coin   # as written: the note as it was
    editor.table.item(0, 1).setText("100")
    editor.table.item(0, 3).setText("2025-01-01")
    event = editor.events()[0]
    assert (event.probability, event.window_end) == (1.0, dt.date(2025, 1, 1))
    assert event.note == EDITED_NOTE + coin.note
    assert editor.table.item(0, 0).toolTip() == event.note   # the row's tip says so too
    editor.table.item(0, 3).setText("2025-03-31")   # marked once
    assert editor.events()[0].note == EDITED_NOTE + coin.note
    editor.table.item(0, 1).setText("50")   # back to the values it was written for: as written again
    editor.table.item(0, 3).setText("2025-12-31")
    assert editor.events()[0] == coin


def test_a_what_if_saved_from_the_window_reads_marked_notes_in_the_report(window, store, qtbot):
    from gui.report import ReportContext, assumptions_section

    panel = window.panel("forecast")
    panel.auto_check.setChecked(False)
    bar = window.scenario_bar
    baseline = store.scenario("Story default")["params"]
    assert bar.duplicate_current("TPOT 25ms")
    panel.tpot_spin.setValue(25)
    editor = panel.policy_editor
    row = next(r for r in range(editor.table.rowCount()) if editor.events()[r].chip_id == "h20-96gb")
    editor.table.item(row, 1).setText("100")
    editor.table.item(row, 3).setText(editor.table.item(row, 2).text())
    assert bar.save_current()
    saved = store.scenario("TPOT 25ms")
    assert saved["base"] == "Story default"
    params = saved["params"]
    assert params["demand"]["tpot_ms"] == 25
    assert params["demand"]["note"] == EDITED_NOTE + baseline["demand"]["note"]
    h20 = next(e for e in params["policy_events"] if e["chip_id"] == "h20-96gb")
    assert h20["probability"] == 1 and h20["note"].startswith(EDITED_NOTE)
    # the baseline itself is untouched
    assert store.scenario("Story default")["params"]["demand"]["note"] == baseline["demand"]["note"]
    ctx = ReportContext(scenario="TPOT 25ms", params=params, created=dt.datetime(2026, 1, 1), db_path=Path("x.db"),
                        figures={}, tables={}, charts=[], orders=[], chips={}, stored_calibration={}, accuracy={})
    html = assumptions_section(ctx)
    assert "TPOT 25 ms" in html and "edited by hand; this note was written for the earlier values" in html


# ---- the Plan's delivery bars --------------------------------------------------------------------

def _plan_result(feasible=True):
    from engine.forecast_plan import ChipEconomics, PlannedOrder, PlanResult

    months = tuple(dt.date(2025, m, 1) for m in range(1, 5))
    econ = (ChipEconomics("ascend-910b2", 1.0, 260.7, None, None, None),
            ChipEconomics("h20-96gb", 1.0, 349.0, None, None, None))
    orders = (PlannedOrder("h20-96gb", 41_000, months[0], months[1], 0.0, expected_delivered=33_000.0),)
    capacity = tuple(np.full(4, chips) for chips in (120_000.0, 160_000.0, 200_000.0))   # the story's size
    return PlanResult(feasible, "", orders, 0.0, months, months[0], months[-1], 0.9, np.full(4, 0.95),
                      np.full(4, 0.8), capacity, np.linspace(50_000, 150_000, 4), "ascend-910b2", econ)


def test_the_plan_bars_name_their_unit_and_show_the_expected_arrivals(qtbot):
    from gui.panels.plan_text import delivery_names, draw_deliveries, short_chip_name
    from gui.widgets.plot_panel import PlotPanel, to_timestamps

    assert [short_chip_name(n) for n in ("Ascend 910B2", "H20", "H800 SXM5 80GB", "Gaudi 3")] == \
        ["910B2", "H20", "H800", "Gaudi 3"]
    r = _plan_result()
    chart = PlotPanel("Plan capacity vs peak demand", y_label="Capacity, demand", y_unit="Ascend 910B2 chips",
                      time_axis=True)
    qtbot.addWidget(chart)
    names = {"ascend-910b2": "Ascend 910B2", "h20-96gb": "H20"}
    draw_deliveries(chart, r, to_timestamps(r.months), "Ascend 910B2", names)
    ordered, expected = delivery_names(r, "Ascend 910B2")
    assert (ordered, expected) == ("Ordered (910B2-eq.)", "Expected (910B2-eq.)")
    assert chart.series_names() == [ordered, expected]
    headers, rows = chart.data_table()
    assert headers[1:] == ["Ordered (Ascend 910B2 chips)", "Expected (Ascend 910B2 chips)"]   # one unit (QA s26)
    assert rows[1][1] == pytest.approx(41_000 * 349 / 260.7) and rows[1][2] == pytest.approx(33_000 * 349 / 260.7)
    tips = {getattr(label, "full_name", label.text): label.toolTip() for _sample, label in chart.legend.items}
    assert "the whole ordered quantity in Ascend 910B2-equivalents" in tips[ordered]
    assert "41,000 H20 × 1.34 = 54,887" in tips[ordered]
    assert "expected to arrive" in tips[expected] and "33,000 H20 × 1.34 = 44,177" in tips[expected]
    assert delivery_names(_plan_result(feasible=False), "Ascend 910B2")[0] == "Refused: ordered (910B2-eq.)"


# ---- value-axis titles at 1280x720 ----------------------------------------------------------------

def test_axis_title_choices_keep_the_name_shortest_first():
    from gui.panels.forecast_common import axis_title_choices

    choices = axis_title_choices("Capacity, demand", "Ascend 910B2 chips")
    assert choices[0] == (["Capacity, demand", "(Ascend 910B2 chips)"], False)
    assert all("Capacity" in lines[0] for lines, _ in choices)
    assert [len(lines) for lines, _ in choices] == sorted(len(lines) for lines, _ in choices[:-2]) + [1, 2]
    assert choices[-2:] == [(["Capacity, demand"], True), (["Capacity,", "demand"], True)]


def _shown_label(chart) -> str:
    return (getattr(chart, "_shown_y_label", None) or ("",))[0]


def test_the_forecast_and_plan_value_axes_keep_their_names_at_1280x720(window, qtbot):
    """QA: "Capacity vs demand", "Shortfall at peak" and "Plan capacity" showed only "(Ascend 910B2
    chips)" at 1280x720; the name (and the unit, on the axis or after the title) now stays."""
    from PySide6.QtCore import QThreadPool

    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    names = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    panel = window.panel("forecast")
    window.tabs.setCurrentIndex(names.index("Forecast"))
    panel.auto_check.setChecked(False)
    panel.run()
    qtbot.waitUntil(lambda: panel.result is not None and not panel.is_running(), timeout=60_000)
    _settle(qtbot, 300)
    charts = panel.view
    for chart, name in ((charts.capacity_chart, "Capacity, demand"), (charts.shortfall_chart, "Shortfall")):
        shown = _shown_label(chart)
        assert shown.startswith(name.split(",")[0]), (chart.title, shown)
        assert "910B2" in shown + chart.unit_in_title, (chart.title, shown, chart.unit_in_title)
    plan = window.panel("plan")
    window.tabs.setCurrentIndex(names.index("Plan"))
    plan._draw(_plan_result())
    _settle(qtbot, 300)
    chart = plan.capacity_chart
    shown = _shown_label(chart)
    assert shown.startswith("Capacity"), shown
    assert "910B2" in shown or chart.unit_in_title.endswith("(Ascend 910B2 chips)"), (shown, chart.unit_in_title)
    if chart.unit_in_title:   # the unit after the title, never cut off
        assert chart.plot_item.titleLabel.text == chart.unit_in_title
    QThreadPool.globalInstance().waitForDone(20_000)
