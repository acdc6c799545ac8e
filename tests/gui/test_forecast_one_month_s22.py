"""QA s22: a forecast of one or two months drew empty charts on nonsense date axes (1970-2020,
"59.750 00:00:00 00.250", "22 27 May 02"): a line of one point with no marker draws nothing, and
the autorange of one x went down to seconds. Each month is now a marker (P10-P90 a capped bar on
one month) on an axis from a month before to a month after, with month ticks."""

import datetime as dt
import re

import numpy as np
import pyqtgraph as pg
import pytest

from engine.fleet import add_months
from gui.widgets.plot_panel import to_timestamps

CHARTS = ("capacity_chart", "installed_chart", "probability_chart", "shortfall_chart")
MONTH_TICK = re.compile(r"^([A-Z][a-z]{2}( \d{4})?|\d{4})$")   # "May 2024", "May", "2025"


def _run(panel, qtbot, months: int):
    panel.months_spin.setValue(months)
    with qtbot.waitSignal(panel.result_ready, timeout=30000) as blocker:
        assert panel.run() is not None
    return blocker.args[0]


def _drawn_points(chart) -> list:
    """The chart's data items a reader sees: a line of two or more finite points, a line with a
    marker, or a bar of some height (a band's edges of one point draw nothing)."""
    seen = []
    for item in chart.plot_item.items:
        if not item.isVisible():
            continue
        if isinstance(item, pg.PlotDataItem):
            x, y = item.getData()
            if x is None or len(x) == 0 or not np.isfinite(y).all():
                continue
            if len(x) > 1 or item.opts["symbol"] is not None:
                seen.append(item)
        elif isinstance(item, pg.BarGraphItem) and np.any(np.asarray(item.opts["height"]) != 0):
            seen.append(item)
    return seen


def _tick_texts(chart) -> list[str]:
    chart.grab()   # the axis measures its labels when it paints
    axis = chart.plot_item.getAxis("bottom")
    low, high = chart.plot_item.vb.viewRange()[0]
    return [text for spacing, values in axis.tickValues(low, high, axis.width())
            for text in axis.tickStrings(values, 1, spacing)]


def _spans_a_month_either_side(chart, first: dt.date, last: dt.date) -> bool:
    low, high = chart.plot_item.vb.viewRange()[0]
    before, after = to_timestamps([add_months(first, -1), add_months(last, 1)])
    return low <= before + 5 * 86400 and high >= after - 5 * 86400 and high - low < 130 * 86400


@pytest.mark.parametrize("months", [1, 2])
def test_a_one_or_two_month_forecast_draws_each_month_on_a_month_axis(forecast_panel, qtbot, months):
    panel = forecast_panel
    result = _run(panel, qtbot, months)
    first, last = result.months[0], result.months[-1]
    for name in CHARTS:
        chart = getattr(panel.view, name)
        assert _drawn_points(chart), f"{name}: nothing drawn on {months} month(s)"
        assert _spans_a_month_either_side(chart, first, last), (name, chart.plot_item.vb.viewRange()[0])
        texts = _tick_texts(chart)
        assert texts and all(MONTH_TICK.match(t) for t in texts), (name, texts)
        assert any(t.startswith(f"{first:%b}") for t in texts), (name, texts)   # "May 2024", or "May" if narrow
    jobs = panel.view.jobs_chart   # the story job starts in 2025: no trial finishes in these months
    assert _spans_a_month_either_side(jobs, first, last)
    assert all(MONTH_TICK.match(t) for t in _tick_texts(jobs))
    assert jobs._notice.isVisible() and "extend the horizon" in jobs._notice.toPlainText()


def test_a_one_month_band_is_a_capped_bar_and_a_longer_run_after_it_draws_as_before(forecast_panel, qtbot):
    panel = forecast_panel
    result = _run(panel, qtbot, 1)
    bars = [item for item in panel.view.capacity_chart.plot_item.items if isinstance(item, pg.ErrorBarItem)]
    cap = result.serving_capacity_unit_chips
    assert any(np.isclose(b.opts["y"][0], cap.p10[0]) and np.isclose(b.opts["y"][0] + b.opts["top"][0], cap.p90[0])
               for b in bars)

    result = _run(panel, qtbot, 12)   # no markers, no capped bars, no axis held on the one month
    first, last = to_timestamps([result.months[0], result.months[-1]])
    for name in CHARTS:
        chart = getattr(panel.view, name)
        assert not [item for item in chart.plot_item.items if isinstance(item, pg.ErrorBarItem)], name
        lines = [item for item in chart.plot_item.items if isinstance(item, pg.PlotDataItem) and item.opts["symbol"]]
        assert not lines, name
        chart.grab()   # the autorange follows the new data when the chart paints
        low, high = chart.plot_item.vb.viewRange()[0]
        assert low <= first and high >= last, (name, low, high)
