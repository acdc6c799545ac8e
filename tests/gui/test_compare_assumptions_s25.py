"""QA s25 (W3): the demand what-ifs are among the scenario's assumptions (the Forecast's box and the
report's settings); Compare's capacity axis keeps its name at 1280x720; the rating row reads with
the unit's digits and differences are taken from unrounded values, 0 where the cells read alike."""

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QThreadPool

from engine.compare_units import OWN_RATING_LABEL, rate_figure, rate_text, rating_difference
from engine.forecast import scenario_from_dict
from engine.forecast_text import demand_what_if_words
from gui.panels.compare_text import shown_difference
from gui.panels.forecast_common import NamedAxisChart
from gui.panels.forecast_uncertainty import assumptions_html
from gui.report import ReportContext, forecast_setting_lines

BASE = "Story default"


# ---- 1: the growth multiplier and the demand scale among the assumptions -------------------------

def test_the_words_name_a_worked_case_and_are_silent_at_one():
    assert demand_what_if_words(2.0) == ["demand growth ×2 in log terms (3×/year reads 9×/year)"]
    # 3 ** 0.5 = 1.732: three figures; scale 1.5 in its own phrase
    assert demand_what_if_words(0.5, 1.5) == ["demand growth ×0.5 in log terms (3×/year reads 1.73×/year)",
                                              "demand ×1.5 (tokens per day at every point and month)"]
    assert demand_what_if_words(1.0, 1.0) == []


def _scenario(store, **demand):
    sc = scenario_from_dict(store.scenario(BASE)["params"])
    return replace(sc, demand=replace(sc.demand, **demand))


def test_the_forecast_box_says_the_growth_multiplier(store):
    """QA: at Growth multiplier 2 the box still said "growth rate fitted as falling ... with its error"."""
    text = assumptions_html(_scenario(store, growth_rate_multiplier=2.0))
    assert "<b>what-if</b>: demand growth ×2 in log terms (3×/year reads 9×/year)" in text
    assert "demand ×" not in text   # the scale is 1: not said
    scaled = assumptions_html(_scenario(store, scale=1.5))
    assert "demand ×1.5 (tokens per day" in scaled and "growth ×" not in scaled
    assert "what-if" not in assumptions_html(_scenario(store))


def _context(params) -> ReportContext:
    return ReportContext(scenario="Growth x2", params=params, created=dt.datetime(2026, 1, 1), db_path=Path("x.db"),
                         figures={}, tables={}, charts=[], orders=[], chips={}, stored_calibration={}, accuracy={})


def test_the_reports_settings_say_it_too(store):
    """QA: the report's Assumptions listed the efficiency scales but not the growth multiplier."""
    params = store.scenario(BASE)["params"]
    params["demand"] = {**params["demand"], "growth_rate_multiplier": 2.0, "scale": 3.0}
    lines = forecast_setting_lines(_context(params))
    assert "What-if: demand growth ×2 in log terms (3×/year reads 9×/year)." in lines
    assert "What-if: demand ×3 (tokens per day at every point and month)." in lines
    params["demand"] = {**params["demand"], "growth_rate_multiplier": 1.0, "scale": 1.0}
    assert not [line for line in forecast_setting_lines(_context(params)) if line.startswith("What-if")]
    params["demand"] = {**params["demand"], "growth_rate_multiplier": "fast"}   # not a number: no traceback
    assert not [line for line in forecast_setting_lines(_context(params)) if line.startswith("What-if")]


# ---- 3: differences from unrounded values --------------------------------------------------------

def test_the_rating_difference_is_of_the_unrounded_ratings():
    """Differencing the cells (96.18 - 260.7 = -164.52) would give -164.5; the ratings differ by
    96.184 - 260.74 = -164.556, -164.6 at the unit's four figures."""
    assert rate_figure(96.184) == 96.18 and rate_figure(260.74) == 260.7 and rate_figure(349.04) == 349
    assert rating_difference(96.184, 260.74) == -164.6
    assert rating_difference(349.04, 260.74) == 88.3
    assert rating_difference(260.71, 260.74) == 0   # both read 260.7


def test_a_difference_is_of_the_unrounded_values_and_0_where_the_cells_read_alike():
    # QA: 13,200,000 - 2,660,000 read 10,540,000; the figures differ by 10,581,711 (10,600,000 at 3 figures)
    assert shown_difference(13_242_543.6, 2_660_832.731, 13_200_000, 2_660_000, 3) == 10_600_000
    # two cells reading 2,280,000 differ by 0, not -496
    assert shown_difference(2_280_400.0, 2_280_896.0, 2_280_000, 2_280_000, 3) == 0
    # to the place both cells keep: 543.1 between cells of 62,200 and 61,700 reads 500; 598 between
    # 62,249 and 61,651 (cells 62,200 and 61,700) reads 600, not the cells' 500
    assert shown_difference(62_243.2, 61_700.1, 62_200, 61_700, 3) == 500
    assert shown_difference(62_249.0, 61_651.0, 62_200, 61_700, 3) == 600
    assert shown_difference(45.64, 12.31, 45.6, 12.3, 3) == 33.3   # a place under 1: decimals, no binary tail
    assert shown_difference(dt.date(2025, 7, 1), dt.date(2025, 5, 1), dt.date(2025, 7, 1), dt.date(2025, 5, 1), 3) \
        == "+2 months"
    assert shown_difference(46, 48, 46, 48, 3) == -2
    assert shown_difference(1.5, 1.25, 1.5, 1.25) == 0.25   # the window: as computed
    # rounding in the last bits is no difference (QA s37: two cells of 1,954,632 read "2.33e-10")
    assert shown_difference(1_954_632.0000000002, 1_954_632.0, 1_954_632.0000000002, 1_954_632.0) == 0.0
    assert shown_difference(1e-6, 2e-6, 1e-6, 2e-6) == -1e-6   # small figures keep their differences


# ---- 2 and 3 in the window -----------------------------------------------------------------------

def _shown_label(chart) -> str:
    return (getattr(chart, "_shown_y_label", None) or ("",))[0]


@pytest.fixture
def tpot_what_if(store):
    params = store.scenario(BASE)["params"]
    params["trials"] = 300
    store.save_scenario(BASE, params)
    store.save_scenario("TPOT 25ms", {**params, "name": "TPOT 25ms", "demand": {**params["demand"], "tpot_ms": 25.0}})


def test_compare_keeps_the_capacity_name_and_the_units_digits_at_1280x720(tpot_what_if, window, qtbot, monkeypatch):
    """QA: the left axis read "(Ascend 910B2 chips<br>at 260.7 output tokens/s)" only, and the
    rating row 261 under it."""
    monkeypatch.setattr(window, "maybe_save", lambda *_a, **_k: True)   # the ticked scenario is an edit
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    names = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    panel = window.panel("compare")
    window.tabs.setCurrentIndex(names.index("Compare"))
    panel.refresh_scenarios()
    panel.set_selected(["TPOT 25ms"])
    panel.compute_now()
    qtbot.wait(300)
    chart = panel.capacity_chart
    assert isinstance(chart, NamedAxisChart)
    base, what_if = (o.result for _, o in panel.results)
    rating_base = base.serving_tokens_per_s_per_chip[base.unit_chip_id]
    rating_what_if = what_if.serving_tokens_per_s_per_chip[what_if.unit_chip_id]
    unit = f"Ascend 910B2 chips at {rate_text(rating_base)} output tokens/s"
    assert chart.y_unit == unit
    shown = _shown_label(chart)
    assert shown.startswith("Capacity"), shown
    assert "260" not in shown or "output tokens/s" in shown + chart.unit_in_title
    assert rate_text(rating_base) in shown + chart.unit_in_title, (shown, chart.unit_in_title)
    # the rating row with the unit's digits, its difference from the unrounded ratings
    table = panel.figures_table
    row = next(i for i in range(table.rowCount()) if table.item(i, 0).toolTip().endswith(OWN_RATING_LABEL))
    cells = [table.item(row, k).text() for k in range(1, 4)]
    assert cells == [rate_text(rating_base), rate_text(rating_what_if),
                     rate_text(rating_difference(rating_what_if, rating_base))]
    assert "." in cells[0]   # 260.7, not 261
    _, rows = panel.tables()["key_figures"]
    filed = next(r for r in rows if r[0] == OWN_RATING_LABEL)
    assert filed[1:] == [rate_figure(rating_base), rate_figure(rating_what_if),
                         rating_difference(rating_what_if, rating_base)]
    window.resize(1920, 1080)
    qtbot.wait(300)
    assert _shown_label(chart).startswith("Capacity")
    QThreadPool.globalInstance().waitForDone(20_000)
