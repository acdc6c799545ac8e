"""QA round 26 (charts): at 1280x688 every Forecast and Plan chart shows a whole title and a value
axis that names its quantity and its unit ("Capacity… (Ascend 910B2 chips)" over an axis saying
"Capacity, demand", "(chips)", "…log(capacit…"); the tornado's bar names no longer run together; a
forecast refused for a bad field says so on its run bar (it stayed at "Estimating … 2%"); the
completion tornado reads in days later from its base P50 date (not "in Jun 2025" with a base
P(meet)); CSV headers carry one unit each; the Plan's greyed "Add plan" button says why, and an edited
candidate price reads like its neighbours."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication

from tests.gui.shared_setups import reveal

D = dt.date
LAPTOP = (1280, 688)   # a 1280x720 screen less the window's frame


def _plan_result(feasible=True, orders=True):
    """A small plan in the story's units: 41,000 H20 ordered (33,000 expected) against 910B2 chips."""
    from engine.forecast_plan import ChipEconomics, PlannedOrder, PlanResult

    months = tuple(D(2025, m, 1) for m in range(1, 5))
    econ = (ChipEconomics("ascend-910b2", 1.0, 260.7, None, None, None),
            ChipEconomics("h20-96gb", 1.0, 349.0, None, None, None))
    planned = (PlannedOrder("h20-96gb", 41_000, months[0], months[1], 0.0, expected_delivered=33_000.0),) if orders else ()
    capacity = tuple(np.full(4, chips) for chips in (120_000.0, 160_000.0, 200_000.0))
    return PlanResult(feasible, "" if feasible else "caps too low", planned, 0.0, months, months[0], months[-1], 0.9,
                      np.full(4, 0.95), np.full(4, 0.8), capacity, np.linspace(50_000, 150_000, 4), "ascend-910b2",
                      econ)


# ---- every chart at 1280x688 --------------------------------------------------------------------

def _axis_text(chart) -> tuple[str, list[str], float]:
    """(the value axis' title as one line, its lines, its size in pt) as drawn."""
    axis = chart.plot_item.getAxis("left")
    lines = axis.labelText.split("<br>")
    size = axis.labelStyle.get("font-size")
    font = QFont(axis.label.font())
    return " ".join(lines), lines, float(size[:-2]) if size else (font.pointSizeF() if font.pointSizeF() > 0 else 9.0)


def _assert_readable(chart, where: str) -> None:
    title = chart.plot_item.titleLabel.text
    assert "…" not in title and title == chart.title, (where, title, chart.title)
    assert chart.plot_item.titleLabel.item.boundingRect().width() <= chart.title_room() + 1, (where, title)
    text, lines, size_pt = _axis_text(chart)
    assert text == f"{chart.y_label} ({chart.y_unit})", (where, text)   # the quantity and its unit, whole
    font = QFont(chart.plot_item.getAxis("left").label.font())
    font.setPointSizeF(size_pt)
    longest = max(QFontMetrics(font).horizontalAdvance(line) for line in lines)
    assert longest <= chart.plot_item.getAxis("left").height(), (where, text, longest)   # not cut at its ends


def test_every_forecast_and_plan_chart_has_a_whole_title_and_a_named_axis_with_its_unit_at_1280x688(window, qtbot):
    window.resize(*LAPTOP)
    window.show()
    qtbot.waitExposed(window)
    names = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    panel = window.panel("forecast")
    window.tabs.setCurrentIndex(names.index("Forecast"))
    panel.auto_check.setChecked(False)
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=60_000)
    panel.compute_now()   # the forecast and its tornado (500 trials a setting)
    assert panel.result is not None and panel.view.tornado is not None
    checked = []
    for key, chart in panel.charts().items():
        reveal(chart)
        qtbot.wait(80)
        assert chart.compact or key == "job_completion", key   # short charts: the cramped case
        _assert_readable(chart, key)
        checked.append(key)
    # the capacity axis says what it counts and in which chips
    assert _axis_text(panel.view.capacity_chart)[0] == "Capacity, demand (Ascend 910B2 chips)"
    assert _axis_text(panel.view.installed_chart)[0] == "Installed (chips)"
    assert _axis_text(panel.view.tornado_charts["job_completion_days"])[0] == \
        "Change in P50 completion (days later)"
    plan = window.panel("plan")
    window.tabs.setCurrentIndex(names.index("Plan"))
    plan._draw(_plan_result())
    for key, chart in plan.charts().items():
        reveal(chart)
        qtbot.wait(80)
        _assert_readable(chart, key)
        checked.append(key)
    assert _axis_text(plan.capacity_chart)[0] == "Capacity, demand (Ascend 910B2 chips)"
    assert _axis_text(plan.prob_chart)[0] == "Probability (%)"
    assert len(checked) == 13
    QThreadPool.globalInstance().waitForDone(20_000)


def test_a_title_too_long_for_its_chart_is_drawn_smaller_before_it_is_cut(qtbot):
    """"KV cache use over time at the chosen…" (Inference at 1280x688): whole at 10 or 9 pt where
    that fits; cut with "…" only where even 9 pt does not."""
    import pyqtgraph as pg

    from gui.widgets.plot_panel import PlotPanel

    title = "KV cache use over time at the chosen load"
    chart = PlotPanel(title, y_label="KV used", y_unit="%", time_axis=True)
    qtbot.addWidget(chart)
    chart.show()
    probe = pg.LabelItem()
    probe.setText(title, size="9pt")
    smallest_px = probe.item.boundingRect().width()
    seen = set()
    for width in range(700, 200, -20):
        chart.resize(width, 260)
        QApplication.processEvents()
        shown, room = chart.plot_item.titleLabel.text, chart.title_room()
        if shown == title:
            assert chart.plot_item.titleLabel.item.boundingRect().width() <= room + 1
            seen.add(chart._title_pt)
        elif "<br>" in shown:   # s28: on two lines at 9 pt before anything is cut
            assert shown.replace("<br>", " ") == title and chart._title_pt == 9.0
            assert chart.plot_item.titleLabel.item.boundingRect().width() <= room + 1
            seen.add("two lines")
        else:   # cut only where the whole title at 9 pt is wider than its room
            assert shown.endswith("…") and chart._title_pt == 9.0 and smallest_px > room, (width, shown, room)
            seen.add("cut")
    assert {11.0, "two lines", "cut"} <= seen and (9.0 in seen or 10.0 in seen), seen   # each way met going down


def test_a_short_date_axis_gives_its_title_to_the_value_axis_and_a_file_keeps_it(qtbot, tmp_path):
    from gui.widgets.plot_panel import PlotPanel

    chart = PlotPanel("Capacity", y_label="Capacity, demand", y_unit="Ascend 910B2 chips", time_axis=True)
    qtbot.addWidget(chart)
    chart.show()
    chart.set_series("P50", np.array([0.0, 86400.0 * 400]), np.array([1.0, 2.0]))
    bottom = chart.plot_item.getAxis("bottom")
    chart.resize(900, 600)
    QApplication.processEvents()
    assert not chart.compact and bottom.label.isVisible()
    chart.resize(400, 220)
    QApplication.processEvents()
    assert chart.compact and not bottom.label.isVisible()
    chart.context_provider = lambda: {"Scenario": "Story default"}
    chart.export_svg(tmp_path / "c.svg")
    assert re.search(r">\s*Date\s*<", (tmp_path / "c.svg").read_text(encoding="utf-8"))   # the file names its axis
    QApplication.processEvents()
    assert not bottom.label.isVisible()   # the window's short chart again


# ---- the tornado ------------------------------------------------------------------------------

TORNADO_NAMES = ["train share\nAscend 910B2\n30% | 70%", "Huawei delay\nP10 | P90", "throughput\nP90 | P10",
                 "Huawei fraction\nP90 | P10", "NVIDIA delay\nP10 | P90", "demand (points and growth)\nP10 | P90",
                 "request mix\nP10 | P90", "NVIDIA fraction\nP90 | P10", "cut-off H20\nnone | certain"]


def test_the_tornado_bar_names_do_not_run_into_each_other_at_1280x688(qtbot):
    """"P10 | P90(points and growth)P10 | P90": nine names under a 790 px tornado overlapped."""
    from gui.panels.forecast_charts import GroupedBarPanel

    chart = GroupedBarPanel("Last job's P50 completion", y_label="Change in P50 completion", y_unit="days later")
    qtbot.addWidget(chart)
    chart.resize(790, 184)   # its size at 1280x688
    chart.show()
    n = len(TORNADO_NAMES)
    chart.set_grouped(TORNADO_NAMES, {"first setting": np.linspace(-50, 70, n), "second setting": np.linspace(40, -30, n)},
                      {})
    for _ in range(4):
        QApplication.processEvents()
    axis = chart.plot_item.getAxis("bottom")
    ticks = lambda: [label for _value, label in axis._tickLevels[0]]  # noqa: E731  (the names as drawn)
    shown = ticks()
    assert [" ".join(t.split()) for t in shown] == [" ".join(t.split()) for t in TORNADO_NAMES]   # words kept
    metrics = QFontMetrics(axis.style["tickFont"])
    widths = [max(metrics.horizontalAdvance(line) for line in name.split("\n")) for name in shown]
    step_px = chart.plot_item.vb.width() / n   # one category's width on the axis
    for i in range(n - 1):
        assert (widths[i] + widths[i + 1]) / 2 < step_px, (shown[i], shown[i + 1], widths[i], widths[i + 1], step_px)
    assert max(name.count("\n") + 1 for name in shown) <= 3   # wrapped, not stacked a word a line
    for _ in range(3):   # settled: the wrapping does not flip on later layout passes
        QApplication.processEvents()
    assert ticks() == shown
    # the CSV keeps each name on one line, as given
    assert chart.data_table()[1][5][0] == "demand (points and growth) P10 | P90"


def _completion_tornado():
    from engine.forecast_sensitivity import Tornado, TornadoBar

    bar = TornadoBar("throughput", "P90 (good end)", "P10 (bad end)",
                     low={"prob_meet_demand": 0.7, "shortfall_mean_unit_chips": 10.0, "job_completion_days": 31.0},
                     high={"prob_meet_demand": 0.4, "shortfall_mean_unit_chips": 90.0, "job_completion_days": 60.0})
    return Tornado(base={"prob_meet_demand": 0.55, "shortfall_mean_unit_chips": 40.0, "job_completion_days": 41.0},
                   bars=(bar,), month=D(2025, 6, 1), trials=500, seed=2024)


def test_the_completion_tornado_reads_in_days_later_from_its_base_p50_date(qtbot):
    from gui.panels.forecast_charts import ForecastCharts
    from gui.panels.forecast_common import own_run_context

    view = ForecastCharts(chip_name=lambda chip: chip)
    qtbot.addWidget(view)
    view.draw_tornado(_completion_tornado(), D(2025, 5, 1))
    chart = view.tornado_charts["job_completion_days"]
    # 1 May 2025 + 41 days = 11 Jun 2025; the throughput's ends finish 10 days earlier and 19 days later
    assert view.completion_base == D(2025, 6, 11)
    assert chart.title == "Last job's P50 completion: change from base P50 2025-06-11"
    assert "Jun 2025" not in chart.title
    assert (chart.y_label, chart.y_unit) == ("Change in P50 completion", "days later")
    headers, rows = chart.data_table()
    assert headers == ["Category", "first setting: Change in the last job's P50 completion (days later)",
                       "second setting: Change in the last job's P50 completion (days later)"]
    assert rows == [["throughput P90 | P10", pytest.approx(-10.0), pytest.approx(19.0)]]
    # the P(meet) tornado keeps its month
    assert view.tornado_charts["prob_meet_demand"].title.endswith("in Jun 2025")
    assert "on its own 500 trials. The last job's base P50 completion: 2025-06-11." in view.sensitivity_label.text()
    run = {"Scenario": "Story default", "Run": "2,000 trials"}
    context = own_run_context("tornado_job_completion_days", run, view.tornado, None, view.completion_base)
    assert context["Base P50 completion"].startswith("2025-06-11") and "Base P(meet)" not in context
    assert own_run_context("tornado_prob_meet_demand", run, view.tornado, None, view.completion_base)[
        "Base P(meet)"].startswith("55% in Jun 2025")
    # no job: no base date, and the chart says why it is empty
    no_job = replace(_completion_tornado(), base={"prob_meet_demand": 0.55, "job_completion_days": float("nan")})
    view.draw_tornado(no_job, None)
    assert view.completion_base is None and "No training job" in chart.notice()


# ---- a forecast refused for a bad field ---------------------------------------------------------

def test_a_run_refused_for_a_bad_field_says_so_on_its_bar_not_a_frozen_percentage(forecast_panel, qtbot):
    """QA: a first run going, 400000 typed into Trials and Enter: the bar stayed at "Estimating
    serving and training throughput per chip… 2%" with nothing running and Cancel greyed."""
    from gui.panels.forecast_charts import WAITING_NOTICE

    panel = forecast_panel
    assert panel.run() is not None and panel.is_running()
    panel.trials_spin.setValue(400_000)   # x 60 months: 24,000,000 trial-months, over the 20,000,000 limit
    assert panel.run() is None
    qtbot.wait(200)
    assert not panel.is_running() and not panel.cancel_button.isEnabled()
    bar = panel.progress_bar
    assert bar.format() == "Not run: fix Trials x horizon" and bar.value() == 0
    assert "400,000 x 60" in bar.toolTip()
    assert panel.view.capacity_chart.notice() == \
        "The forecast fills this chart once it can run: fix Trials x horizon (left)"
    panel.trials_spin.setValue(2000)   # fixed, with "Update as I edit" off: ready, nothing stale
    assert bar.format() == "Ready: press Run forecast" and bar.toolTip() == ""
    assert panel.view.capacity_chart.notice() == WAITING_NOTICE
    with qtbot.waitSignal(panel.result_ready, timeout=60_000):
        panel.run()
    assert bar.format().startswith("Done: 2,000 trials")
    QThreadPool.globalInstance().waitForDone(20_000)


# ---- one unit per CSV header ------------------------------------------------------------------

def test_the_plan_charts_csv_headers_carry_one_unit_each(qtbot):
    from gui.panels.forecast_charts import GroupedBarPanel
    from gui.panels.plan_text import COST_UNIT, cost_series_names, delivery_names, draw_deliveries
    from gui.widgets.plot_panel import PlotPanel, to_timestamps

    r = _plan_result()
    chart = PlotPanel("Plan capacity vs peak demand", y_label="Capacity, demand", y_unit="Ascend 910B2 chips",
                      time_axis=True)
    qtbot.addWidget(chart)
    draw_deliveries(chart, r, to_timestamps(r.months), "Ascend 910B2", {"ascend-910b2": "Ascend 910B2", "h20-96gb": "H20"})
    assert chart.legend_names() == list(delivery_names(r, "Ascend 910B2")) == ["Ordered (910B2-eq.)", "Expected (910B2-eq.)"]
    headers, rows = chart.data_table()
    assert headers == ["Date", "Ordered (Ascend 910B2 chips)", "Expected (Ascend 910B2 chips)"]
    assert rows[1][1] == pytest.approx(41_000 * 349 / 260.7)
    econ = SimpleNamespace(economics=(SimpleNamespace(life_years=5.0, peak_to_average=1.5, training_goodput=0.9),))
    served, training = cost_series_names(econ)
    assert served == "Served tokens, input + output: capital over 5 y, load = peak / 1.5"
    assert training == "Training tokens: capital over 5 y, 90% goodput"
    for name in (served, training):
        cost = GroupedBarPanel("Capital cost", y_label="Cost", y_unit=COST_UNIT)
        qtbot.addWidget(cost)
        cost.set_grouped(["Ascend\n910B2", "H20"], {name: [0.0949, 0.0505]}, {})
        header = cost.data_table()[0][1]
        assert header == f"{name} (USD per million tokens)" and header.count("USD") == 1 and header.count("(") == 1


# ---- the Plan form ------------------------------------------------------------------------------

def test_the_greyed_add_plan_button_says_why(plan_panel):
    button = plan_panel.add_button
    assert not button.isEnabled() and button.toolTip().startswith("No plan yet: Find the cheapest plan first")
    plan_panel._on_finished((_plan_result(feasible=False, orders=False), None))
    assert plan_panel.result is not None and not plan_panel.result.feasible
    assert not button.isEnabled() and button.toolTip().startswith("No plan meets the target")
    assert "no orders to add" in button.toolTip()
    from gui.panels.plan_text import ADD_ORDERS_TIP, add_orders_state

    kept = _plan_result()
    assert add_orders_state(kept, True, True) == (True, ADD_ORDERS_TIP)
    assert add_orders_state(kept, False, True)[1].startswith("The inputs changed since this plan was found")
    assert add_orders_state(replace(kept, orders=()), True, True)[1].startswith("This target needs no new orders")
    refused = replace(kept, feasible=False, status="optimal, over budget")
    assert add_orders_state(refused, True, True)[1].startswith("Refused plan (over budget)")


def test_an_edited_candidate_number_reads_like_its_neighbours(plan_panel):
    table = plan_panel.cand_table
    price = table.item(0, 2)
    neighbour = table.item(1, 2).text()
    assert "," in neighbour   # the defaults are grouped ("16,854")
    price.setText("15000")
    assert price.text() == "15,000"
    chip = plan_panel._candidates[0].chip_id
    assert plan_panel.study().candidates[chip]["unit_price_usd"] == 15000.0
    table.item(0, 4).setText("1200000.5")
    assert table.item(0, 4).text() == "1,200,000.5"
    for typed in ("abc", "1,5"):   # not a number: kept as typed, for the study to name
        price.setText(typed)
        assert price.text() == typed


def test_a_job_not_done_at_p50_draws_no_bars_from_a_stand_in_date(qtbot):
    """QA s37: with no 910B2 at all the last job never finishes, and the completion tornado read
    "change from base P50 2030-05-01", the stand-in of a year past the horizon."""
    from gui.panels.forecast_charts import ForecastCharts

    view = ForecastCharts(chip_name=lambda chip: chip)
    qtbot.addWidget(view)
    never = _completion_tornado()
    never = replace(never, base={**never.base, "job_completion_days": 1460.0, "job_done_p50": 0.0})
    view.draw_tornado(never, D(2025, 5, 1))
    chart = view.tornado_charts["job_completion_days"]
    assert view.completion_base is None
    assert chart.title.endswith("(not done within the horizon at P50)") and "2029" not in chart.title
    assert chart.data_table()[1] == [] and "does not finish within the horizon" in chart.notice()
    assert "base P50 completion" not in view.sensitivity_label.text()
    # the P(meet) tornado keeps its bars
    assert view.tornado_charts["prob_meet_demand"].data_table()[1] != []



def test_a_setting_whose_median_trial_never_finishes_has_no_bar(qtbot):
    """QA s37: on a 14-month horizon three settings read "382.75 days later", the stand-in of a
    year past the horizon minus the base; they are said "(not done)", with no bar."""
    from gui.panels.forecast_charts import ForecastCharts

    view = ForecastCharts(chip_name=lambda chip: chip)
    qtbot.addWidget(view)
    tornado = _completion_tornado()
    bar = tornado.bars[0]
    late = replace(bar, high={**bar.high, "job_completion_days": 800.0, "job_done_p50": 0.0})
    view.draw_tornado(replace(tornado, bars=(late,)), D(2025, 5, 1))
    [row] = view.tornado_charts["job_completion_days"].data_table()[1]
    assert row[0] == "throughput P90 | P10 (not done)"
    assert row[1] == pytest.approx(-10.0) and row[2] is None   # no bar, a blank cell
