"""QA s22 (W1): the Plan's P(meet) chart frames the target as its capacity chart does, a refused
plan's orders table says so, an invalid field is named in the banner and scrolled into view,
descriptive legend entries stay whole, Compare's progress text fits its bar, and the tornado's
shortfall axis names its unit chips without running into its ticks."""

from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, QRect, QThreadPool
from PySide6.QtGui import QFontMetrics, QUndoStack
from PySide6.QtWidgets import QScrollArea

from gui.panels.forecast_charts import GroupedBarPanel
from gui.widgets.plot_panel import NAME_CHARS, PlotPanel

SERVED_COST = "USD per million served tokens, input + output (capital, 5 y, load = peak / 1.5)"
NO_LAYOUT = "H20 n/a: TP × PP does not divide the chip count"
LONG_NAME = "H100 clone " + "Ω" * 150


def test_the_p_meet_chart_frames_the_target_as_the_capacity_chart_does(plan_panel):
    """QA: P(meet) spanned 2024-01 to 2029-07 under a capacity chart framed on 2024-10 to 2025-10."""
    plan_panel.compute_now()
    r = plan_panel.result
    assert r is not None and r.feasible, r.why if r else None
    framed = plan_panel.capacity_chart.plot_item.viewRange()[0]
    assert plan_panel.prob_chart.plot_item.viewRange()[0] == pytest.approx(framed)
    horizon = plan_panel.prob_chart.series_data("Without")[0]
    assert framed[1] - framed[0] < 0.5 * (horizon[-1] - horizon[0])   # the target, not the horizon


def test_a_refused_plans_orders_table_says_it_is_refused(plan_panel):
    """QA: 34,000 + 2,000 + 2,000 H20 ($456M) were listed with no word that the plan was refused."""
    plan_panel.compute_now()
    kept = plan_panel.result
    assert kept.feasible and kept.orders
    assert plan_panel.orders_caption.isHidden()
    refused = replace(kept, feasible=False, status=kept.status + ", short on fresh trials")
    plan_panel._draw(refused)
    caption = plan_panel.orders_caption
    assert not caption.isHidden()
    assert caption.text().startswith("Refused plan (short on fresh trials): not a plan to order")
    item = plan_panel.orders_table.item(0, 0)
    assert item.foreground().color().name() == "#8a8a8a" and item.toolTip() == caption.text()
    plan_panel._draw(replace(kept, feasible=False, status=kept.status + ", over budget"))
    assert caption.text().startswith("Refused plan (over budget)")
    plan_panel._draw(kept)   # a kept plan again: no caption, nothing greyed
    assert plan_panel.orders_caption.isHidden()
    assert plan_panel.orders_table.item(0, 0).foreground().color().name() != "#8a8a8a"


def test_an_invalid_field_is_named_in_the_banner_and_scrolled_into_view(window, qtbot, monkeypatch):
    """QA at 1280x688: TP 8 x PP 3 on 1,024 chips said only "Fix the fields marked in red", and the
    red message sat below the form's viewport."""
    from PySide6.QtWidgets import QMessageBox

    # closing the window at the end asks about the edits: not saved
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard))
    window.resize(1280, 688)
    window.show()
    window.tabs.setCurrentIndex(window.tab_of(window.panel("training")))
    panel = window.panel("training")
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("fixed"))
    panel.tp_spin.setValue(8)
    panel.pp_spin.setValue(3)
    qtbot.waitUntil(lambda: "TP × PP × CP = 24" in panel.banner.text())
    assert panel.banner.text().startswith("TP × PP × CP = 24 does not divide 1,024 chips")
    assert "PP" in panel.errors.first()[0]
    label = panel.errors.label("pp")
    scroll = next(s for s in panel.findChildren(QScrollArea) if s.isAncestorOf(label))
    viewport = scroll.viewport()

    def shown() -> bool:
        return QRect(QPoint(0, 0), viewport.size()).contains(QRect(label.mapTo(viewport, QPoint(0, 0)), label.size()))
    qtbot.waitUntil(shown)
    panel.tp_spin.setValue(8 if panel.pp_spin.value() == 4 else 4)   # valid again: the banner goes
    panel.pp_spin.setValue(4)
    qtbot.waitUntil(lambda: panel.banner.text() == "")


def test_descriptive_legend_entries_stay_whole_and_long_names_are_still_elided(qtbot):
    """QA at 1920: "USD per million served tok…= peak / 1.5)" and "n/a: TP × PP does not divi…he
    chip count" lost their meaning at 40 characters."""
    chart = PlotPanel("Cost", y_label="Cost", y_unit="USD", time_axis=True)
    qtbot.addWidget(chart)
    chart.resize(900, 420)
    chart.show()
    x = [0.0, 1.0]
    for name in (SERVED_COST, NO_LAYOUT, LONG_NAME):
        chart.set_series(name, x, [1.0, 2.0])
    chart.layout_legend()
    texts = [label.text for _sample, label in chart.legend.items]
    assert texts[:2] == [SERVED_COST, NO_LAYOUT]
    assert "…" in texts[2] and len(texts[2]) <= NAME_CHARS and texts[2].startswith("H100 clone Ω")
    # a narrow chart (a laptop's grid) elides to its width: no entry runs past the chart's edge
    chart.resize(320, 420)
    qtbot.waitUntil(lambda: chart.plot_widget.width() <= 330)
    chart.layout_legend()
    assert all(label.item.boundingRect().width() <= chart.plot_widget.width() for _s, label in chart.legend.items)
    assert chart.legend.boundingRect().width() <= chart.plot_widget.width()
    assert chart.legend_names() == [SERVED_COST, NO_LAYOUT, LONG_NAME]   # full names kept (tooltips, CSV)


def test_compares_progress_text_is_one_line_that_fits_its_bar(store, qtbot):
    """QA: "Huawei 6 months late: Estimating serving an… 50%" wrapped and was cut in a 195 px bar."""
    from gui.panels.compare import ComparePanel

    panel = ComparePanel(store, QUndoStack())
    qtbot.addWidget(panel)
    try:
        panel.resize(1280, 688)
        panel.show()
        bar = panel.progress_bar
        bar.setFixedWidth(195)
        qtbot.waitUntil(lambda: bar.width() == 195)
        message = "Huawei 6 months late: Estimating serving and training throughput per chip…"
        panel._on_progress(0.5, message)
        text = bar.text()
        assert text.endswith(" 50%") and "…" in text and text.startswith("Huawei 6 months")
        assert QFontMetrics(bar.font()).horizontalAdvance(text) <= bar.contentsRect().width()
        assert bar.toolTip() == message
        panel._on_progress(0.25, "Demand")   # a short one whole
        assert bar.text() == "Demand 25%"
    finally:
        panel.shutdown()
        QThreadPool.globalInstance().waitForDone(5000)


def test_the_tornado_shortfall_names_its_unit_chips(forecast_panel):
    """QA: the tornado's values are Ascend 910B2-equivalent chips; its axis said "chips"."""
    forecast_panel.compute_now()
    view = forecast_panel.view
    unit = view.shortfall_chart.y_unit
    assert unit.endswith(" chips") and unit != "chips"
    assert view.tornado_charts["shortfall_mean_unit_chips"].y_unit == unit


def test_a_value_label_on_two_lines_keeps_clear_of_the_ticks(qtbot):
    """QA at 1280: the tornado's "Shortfall / (chips)" ran into its "20,000" (a bar chart's value
    axis is 64 px, room for one line of label)."""
    chart = GroupedBarPanel("Mean shortfall: change in Jul 2025", y_label="Shortfall", y_unit="chips")
    qtbot.addWidget(chart)
    chart.resize(780, 190)   # the tornado's size at 1280x688
    chart.show()
    chart.set_grouped(["throughput\nP90 | P10", "request mix\nP10 | P90"],
                      {"first setting": [-14000.0, -12000.0], "second setting": [36000.0, 21000.0]},
                      {"first setting": "#009E73", "second setting": "#D55E00"})
    chart.grab()   # paint: the axis measures its tick labels
    chart.set_axis_labels(y_unit="Ascend 910B2 chips")
    qtbot.wait(50)   # the axis' new width laid out
    chart.grab()
    axis = chart.plot_item.getAxis("left")
    shown = axis.labelText
    assert "<br>" in shown   # on more than one line at this height
    assert "…" not in shown  # and whole
    label_right = axis.label.pos().x() + axis.label.boundingRect().height() - axis.label.document().documentMargin()
    ticks_left = axis.width() - max(0, axis.style["tickLength"]) - axis.style["tickTextOffset"][0] - axis.textWidth
    assert label_right <= ticks_left + 1


def test_a_refused_plans_offers_read_in_the_forms_terms():
    """The engine's offers name `plan`'s flags ("(--confidence 0.85)"); the window says which field
    to set."""
    import datetime as dt
    from types import SimpleNamespace

    from gui.panels.plan_text import plan_summary_html

    why = ("the cheapest plan fitted ... only 88.6% ...; at 85% the same months hold with 20,000 h20-96gb for $240M "
           "(--confidence 0.85); 2025-03 through 2025-05 holds at 90% with no orders (--from 2025-03 --until 2025-05)")
    r = SimpleNamespace(feasible=False, reachable_target=None, why=why, confidence=0.9, notes=(),
                        from_month=dt.date(2025, 3, 1), until_month=dt.date(2025, 6, 1))
    text = plan_summary_html(r, "Ascend 910B2 chips", {}, 200)
    assert "--confidence" not in text and "--from" not in text
    assert "(set Confidence to 85%)" in text and "(set From to 2025-03 and Until to 2025-05)" in text
