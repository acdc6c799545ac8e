"""QA round 21 on the PDF report: the assumptions say the inputs the figures use (export cut-offs,
training shares, efficiencies) and label the free-text note as prose; the plan's after-target
sentence names the first month below the target; energy as `train` writes it; chart titles whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.forecast import default_scenario, scenario_to_dict
from gui import report


def _context(**overrides) -> report.ReportContext:
    base = dict(scenario="Test", params={}, created=dt.datetime(2026, 1, 2), db_path=Path("/tmp/x.db"),
                figures={}, tables={}, charts=[], orders=[], chips={}, stored_calibration={}, accuracy={},
                extra={"chip_names": {"h20-96gb": "H20", "ascend-910b2": "Ascend 910B2"}})
    base.update(overrides)
    return report.ReportContext(**base)


def _story_params(**changes) -> dict:
    return {**scenario_to_dict(default_scenario()), **changes}


def test_assumptions_list_the_export_cutoffs():
    """The "H20 cut off (Apr 2025)" report's assumptions equalled the baseline's although the
    cut-off moves P(meet) in Jul 2025 from 53% to 49%: the cut-offs were never listed."""
    baseline = _story_params()
    cut = _story_params(policy_events=[{**baseline["policy_events"][0], "probability": 1.0,
                                        "window_start": "2025-04-09", "window_end": "2025-04-09",
                                        "note": "what-if: stops every H20 not delivered by then"}])
    base_text = report.assumptions_section(_context(params=baseline))
    cut_text = report.assumptions_section(_context(params=cut))
    assert "Export cut-off: H20 cut off, 50% chance, between 2025-01-01 and 2025-12-31, for good." in base_text
    assert "Export cut-off: H20 cut off, 100% chance on 2025-04-09, for good." in cut_text
    assert "what-if: stops every H20 not delivered by then" in cut_text
    lasting = _story_params(policy_events=[{**baseline["policy_events"][0], "duration_months": 6.0}])
    assert "H20 cut off, 50% chance, between 2025-01-01 and 2025-12-31, for 6 months." in \
        report.assumptions_section(_context(params=lasting))
    assert "Export cut-offs: none." in report.assumptions_section(_context(params=_story_params(policy_events=[])))


def test_assumptions_state_the_inputs_and_label_the_note_as_written():
    """The note said "half the 910B fleet trains", "install lag 30 days", "goodput 90%" while the
    inputs said 20%, 90 days and 0.5, and the report quoted the note alone, as its assumptions."""
    params = _story_params(install_lag_days=90.0, training_efficiency_scale=0.5, serving_efficiency_scale=0.8,
                           allocation={"training_share": {"ascend-910b2": 0.2}, "default_training_share": 0.1,
                                       "steps": [{"start": "2026-01-01", "chip_id": "h20-96gb",
                                                  "training_share": 0.3}]})
    text = report.assumptions_section(_context(params=params))
    assert "install lag 90 days" in text
    assert "Training share (the rest serves): Ascend 910B2 20 %; other chip types 10 %; from 2026-01-01 H20 30 %." \
        in text
    assert "Training efficiency ×0.5: multiplies each training job's throughput" in text
    assert "Serving efficiency ×0.8: multiplies each chip's serving throughput" in text
    assert "Throughput uncertainty ×1: multiplies each chip family's validation error" in text
    assert "Undelivered chips with no promised date: spread over 12 months" in text
    label = "<b>Scenario note</b> (as written; the settings above are what the figures use): assumptions: install lag 30"
    assert label in text and "Scenario notes." not in text
    # the note comes after the settings it may contradict, which come first under Assumptions
    assert text.index("Forecast settings") < text.index("Training efficiency") < text.index(label) < \
        text.index("<h3>Orders</h3>")


def test_the_plan_says_the_first_month_below_its_target_and_the_lowest():
    """"After 2025-06 ... falls to 0% by 2026-07" named only the lowest month: the plan's own
    P(meet) is 63.8% in Jul 2025, 14.7% in Sep, 0.45% in Dec."""
    plan = {"feasible": True, "total_cost_usd": 2.16e8, "confidence": 0.85, "from_month": "2025-03-01",
            "until_month": "2025-06-01",
            "orders": [{"chip_id": "h20-96gb", "quantity": 18000, "order_month": "2024-11",
                        "delivery_month": "2025-02", "cost_usd": 2.16e8}],
            "months": ["2025-05-01", "2025-06-01", "2025-07-01", "2025-09-01", "2025-12-01", "2026-07-01",
                       "2026-08-01"],
            "prob_meet_demand": [0.9, 0.88, 0.638, 0.147, 0.0045, 0.0, 0.0]}
    sentences = report.plan_sentences(_context(plan=plan))
    assert sentences[-1] == ("After 2025-06 it is not planned for: P(capacity ≥ demand) falls below 85% in 2025-07 "
                             "(63.8%) and to 0% by 2026-07.")
    # kept above the target after it: nothing to say
    held = {**plan, "prob_meet_demand": [0.9, 0.88, 0.87, 0.86, 0.9, 0.95, 0.99]}
    assert not any("not planned for" in s for s in report.plan_sentences(_context(plan=held)))


def test_energy_reads_as_train_writes_it():
    """The report said 4,520 MWh beside `fleetcast train`'s 4,519 MWh (3 significant figures)."""
    figures = {"training": {"Model": ("Llama 3 70B", ""), "Chip": ("Ascend 910B2", ""), "Chips": (1024, "chips"),
                            "Time to train": (479.2, "days"), "Chip-hours": (11_777_000, "chip-hours"),
                            "Energy": (4519.4, "MWh"), "Cost": (4_530_000, "USD")}}
    sentences = report.training_sentences(_context(figures=figures))
    assert "11.8 million chip-hours and 4,519 MWh" in sentences[1]
    small = {"training": {**figures["training"], "Energy": (0.02374, "MWh")}}
    assert "and 0.0237 MWh" in report.training_sentences(_context(figures=small))[1]


LONG_TITLE = "Which uncertainty dominates: share of the variance of log(capacity / demand)"


@pytest.fixture
def narrow_chart(qtbot):
    """A chart as narrow as a grid cell of the window: it shortens its title to the room it has."""
    from gui.widgets.plot_panel import PlotPanel

    chart = PlotPanel(LONG_TITLE, y_label="Share", y_unit="%", time_axis=True)
    qtbot.addWidget(chart)
    chart.resize(300, 300)   # (at 420 px the title now fits whole on two lines, s28)
    chart.show()
    qtbot.waitExposed(chart)
    chart.set_series("a", [0.0, 1.0, 2.0], [10.0, 20.0, 30.0])
    qtbot.wait(20)   # the axes settle to their tick labels, and the title to the room left
    assert chart._shown_title != LONG_TITLE and chart._shown_title.endswith("…")
    return chart


def test_report_charts_are_drawn_with_their_whole_title(narrow_chart, tmp_path, monkeypatch):
    """Figure 18's title read "...share of the variance of log(capacity /…" in the report: the
    chart was drawn with the title the window had shortened for its cell."""
    from engine.store import open_store
    from gui import export as export_mod

    chart = narrow_chart
    shown_before, geometry_before = chart._shown_title, chart.plot_item.geometry()
    drawn_titles = []
    real_export_png = export_mod.export_png

    def recording_export_png(target, path, width=1600):
        drawn_titles.append(target.plot_item.titleLabel.text)
        return real_export_png(target, path, width=width)

    monkeypatch.setattr(export_mod, "export_png", recording_export_png)

    class OneChartPanel:
        def tables(self):
            return {}

        def charts(self):
            return {"shares": chart}

    store = open_store(tmp_path / "r.db")
    try:
        result = report.write_report(store, {"forecast": OneChartPanel()}, "Test", {}, tmp_path / "r.pdf")
    finally:
        store.close()
    assert result.charts == 1
    assert len(drawn_titles) == 1 and LONG_TITLE in drawn_titles[0] and "…" not in drawn_titles[0]
    # the window's chart is as it was: its shortened title, its size
    assert chart._shown_title == shown_before and chart.plot_item.titleLabel.text == shown_before
    assert chart.plot_item.geometry() == geometry_before


def test_a_title_longer_than_a_line_is_wrapped_while_drawn(narrow_chart):
    chart = narrow_chart
    chart.set_title(LONG_TITLE + " and a second clause that makes it far too long for one line of the export")
    chart._fit_texts()
    shown = chart.plot_item.titleLabel.text
    with report.whole_title(chart):
        drawn = chart.plot_item.titleLabel.text
        assert "<br>" in drawn and "…" not in drawn and drawn.replace("<br>", " ") == chart.title
        assert chart.plot_item.layout.rowMinimumHeight(0) > 30   # both lines are inside the image
    assert chart.plot_item.titleLabel.text == shown and chart.plot_item.layout.rowMinimumHeight(0) == 30


def test_a_job_past_the_horizon_is_not_said_to_finish_by_it():
    """QA s34: with no orders the report read "finishes by after horizon at the median (P90: after
    horizon)"."""
    figures = {"training": {"Model": ("Llama 3 70B", ""), "Chip": ("Ascend 910B2", ""), "Chips": (1024, "chips"),
                            "Time to train": (47.2, "days")}}
    job = ["405B", "", "", "", "", "", "", "after horizon", "after horizon", 0.0]
    ctx = _context(figures=figures, tables={"forecast": {"jobs": (["Job"], [job])}})
    said = [s for s in report.training_sentences(ctx) if "405B" in s]
    assert said == ["In the fleet forecast, the job <b>405B</b> does not finish within the horizon at the median; it "
                    "finishes within it in 0 % of trials."]
    late = ["405B", "", "", "", "", "", "", "2026-03-01", "after horizon", 62.5]
    said = [s for s in report.training_sentences(_context(figures=figures, tables={"forecast": {"jobs": (["Job"], [late])}}))
            if "405B" in s]
    assert said == ["In the fleet forecast, the job <b>405B</b> finishes by <b>Mar 2026</b> at the median (P90: after the "
                    "horizon); it finishes within the horizon in 62.5 % of trials."]
