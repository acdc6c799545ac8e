"""A value axis shows its tick labels in the first picture drawn after they change, without a resize.

QA s32: the Plan's "Capacity vs peak demand (no plan)" chart at 1920x1080, grabbed as its run ended,
showed one value label of six ("50,000", over the axis title): the axis kept the 30 px pyqtgraph
gives unmeasured labels, because its values had been hidden under the "No plan yet" notice until
then, and pyqtgraph measures labels only while painting, dropping those wider than the axis.
"""

import datetime as dt

import numpy as np
import pytest
from PySide6.QtGui import QFontMetrics

from gui.widgets.plot_panel import PlotPanel, to_timestamps

# The Plan's months (Oct 2024 - Sep 2025) and its capacity chart's range (0 to 320,000 chips).
MONTHS = [dt.date(2024 + (9 + i) // 12, (9 + i) % 12 + 1, 1) for i in range(12)]
TOP_CHIPS = 320_000.0
# Ticks every 50,000 on a 330 px tall axis: pyqtgraph labels both levels (100,000s and the 50,000s).
EXPECTED_LABELS = {"50,000", "100,000", "150,000", "200,000", "250,000", "300,000"}


def _record_labels(panel) -> list:
    """Every set of tick labels the left axis lays out from now on, in order: the last one is
    in the picture its paint plays (pyqtgraph, and PlotPanel ahead of it, make that picture from
    them; the picture is kept until the range, the values or the axis' size change)."""
    axis = panel.plot_item.getAxis("left")
    made = []
    generate = axis.generateDrawSpecs

    def recording(painter):
        specs = generate(painter)
        made.append({text for _rect, _flags, text in specs[2]})
        return specs

    axis.generateDrawSpecs = recording
    return made


def _drawn_labels(panel, made: list):
    """The labels in the next picture of the chart (a grab: no event loop pass first, as a
    screenshot or an export right after a redraw), and the axis' width then."""
    panel.plot_widget.grab()
    return made[-1], panel.plot_item.getAxis("left").width()


def _plan_chart(qtbot):
    panel = PlotPanel("Plan capacity vs peak demand", y_label="Capacity", y_unit="chips", time_axis=True)
    qtbot.addWidget(panel)
    panel.resize(1080, 420)   # the Plan's chart at 1920x1080
    panel.set_notice("No plan yet: Find the cheapest plan (left) draws it here")
    panel.show()
    qtbot.waitExposed(panel)
    panel.plot_widget.grab()   # painted empty, values hidden (the view before a run)
    assert not panel.axis_values_shown()
    return panel, _record_labels(panel)


def _draw_plan(panel):
    """As PlanPanel._draw: the notice goes first, then the curves, then the view's range."""
    x = to_timestamps(MONTHS)
    capacity = np.linspace(105_000.0, 150_000.0, x.size)
    panel.set_notice("")
    panel.set_axis_labels(y_label="Capacity, demand", y_unit="Ascend 910B2 chips")
    panel.set_band("Without a plan P10–P90", x, 0.8 * capacity, 1.25 * capacity)
    panel.set_series("Without a plan P50", x, capacity, symbol=None)
    panel.set_series("Peak demand P50", x, np.linspace(20_000.0, 300_000.0, x.size), symbol=None, dashed=True)
    panel.plot_item.setYRange(0.0, TOP_CHIPS, padding=0)


@pytest.mark.parametrize("notice_first", [True, False], ids=["notice-off-then-series", "series-then-notice-off"])
def test_value_labels_drawn_in_the_first_picture_after_a_notice(qtbot, notice_first):
    panel, made = _plan_chart(qtbot)
    if notice_first:
        _draw_plan(panel)
    else:   # the curves and range set under the notice (values shown with the series), then it goes
        x = to_timestamps(MONTHS)
        panel.set_series("Peak demand P50", x, np.linspace(20_000.0, 300_000.0, x.size), symbol=None)
        panel.plot_item.setYRange(0.0, TOP_CHIPS, padding=0)
        panel.set_notice("")
    labels, width_px = _drawn_labels(panel, made)
    assert labels == EXPECTED_LABELS   # was {"50,000"}: the 7-character labels did not fit
    axis = panel.plot_item.getAxis("left")
    widest_px = QFontMetrics(axis.font()).horizontalAdvance("300,000")
    # room for the widest label, its gap to the axis line and, beside them, at least half a line
    # of the rotated axis title (it was 52.6 px: "50,000" ran over the title)
    title_line_px = QFontMetrics(axis.label.font()).height()
    assert width_px >= widest_px + axis.style["tickTextOffset"][0] + title_line_px / 2


def test_labels_that_grow_with_the_range_are_drawn_at_once(qtbot):
    """Not only after a notice: a range from hundreds to hundreds of thousands widens the axis
    before it is drawn (pyqtgraph dropped the wider labels for one picture)."""
    panel, made = _plan_chart(qtbot)
    panel.set_notice("")
    x = to_timestamps(MONTHS)
    panel.set_series("Peak demand P50", x, np.linspace(0.0, 300.0, x.size))
    panel.plot_item.setYRange(0.0, 320.0, padding=0)
    small, narrow_px = _drawn_labels(panel, made)
    assert "300" in small
    panel.set_series("Peak demand P50", x, np.linspace(0.0, 300_000.0, x.size))
    panel.plot_item.setYRange(0.0, TOP_CHIPS, padding=0)
    labels, width_px = _drawn_labels(panel, made)
    assert labels == EXPECTED_LABELS
    assert width_px > narrow_px


def test_a_chart_on_a_hidden_tab_is_measured_when_shown(qtbot):
    panel, made = _plan_chart(qtbot)
    panel.hide()
    _draw_plan(panel)
    panel.show()
    qtbot.waitExposed(panel)
    labels, _width_px = _drawn_labels(panel, made)
    assert labels == EXPECTED_LABELS
