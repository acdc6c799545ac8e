"""QA s28: what the report, the exports and the seeded story say against what the engine computes.

1. the accuracy statement's "5-10% on chip families with published runs here" beside its own table's
   out-of-sample medians of 7.7 / 10.6 / 16.9%;
2. Export all's key figures (61652.59624 chips) and monthly table (9797.832847 chips) beside the
   CLI's and the Compare export's 61700 and 9798;
3. the report's cost-per-token figures without the basis the Plan view's caption states;
4. "Huawei delivers half" said "the 910B order" where every 910B order, a plan's too, is halved;
5. the plan chart's title cut to "Plan capacity vs peak de…" at 1280x720.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from gui import report

REPO = Path(__file__).resolve().parents[2]


# ---- 1. the training accuracy statement -------------------------------------------------------

def _accuracy() -> dict:
    return json.loads((REPO / "resources" / "accuracy.json").read_text(encoding="utf-8"))


def test_the_training_expectation_quotes_its_own_out_of_sample_medians():
    training = _accuracy()["training"]
    expect = training["expect"]
    oos = training["out_of_sample"]
    families = {"Hopper": "Hopper", "910B2": "Ascend 910B2", "A100": "A100"}
    medians = {}
    for entry in oos:
        for key, words in families.items():
            if entry["how"].startswith(words) or entry["how"].startswith(key):
                medians[words] = float(entry["median_pct"])
    assert set(medians) == set(families.values())   # the table has a row per family
    # each family's median, in whole percent beside its name, and the all-sources one
    for words, median in medians.items():
        assert re.search(rf"{round(median)}% on (the )?{re.escape(words)}", expect), (words, median, expect)
    assert f"{round(float(oos[0]['median_pct']))}% over all sources" in expect
    # no range it claims for the families with published runs ends below the worst family's median
    for low, high in re.findall(r"(\d+)-(\d+)% (?:median )?on chip families", expect):
        assert float(high) >= max(medians.values()), (low, high)
    # README's sentence for a new chip or framework stays the report's
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "Expect 10-20% median on a new chip or framework" in readme
    assert expect.startswith("10-20% median on a new chip or framework")


def test_the_report_prints_the_corrected_expectation():
    html = report.accuracy_section(_context(accuracy=_accuracy()))
    assert "5-10% on chip families" not in html
    assert "17% on A100" in html and "8% on Hopper" in html   # the table's 16.9 and 7.7, whole


# ---- 2. one figure for one quantity in the Forecast's files ------------------------------------

def test_the_forecast_export_rounds_key_figures_and_chips_as_the_cli(forecast_panel, tmp_path):
    from engine.commands.forecast import result_rows, result_to_dict
    from engine.studies_forecast import forecast_monthly_table
    from gui import export as export_mod

    forecast_panel.trials_spin.setValue(500)
    forecast_panel.compute_now()
    r = forecast_panel.result
    headers, rows = forecast_panel.tables()["key_figures"]
    assert headers == ["Figure", "Value"]
    figures = dict(rows)
    # by hand: the 910B's P50 at the horizon's end to 3 significant figures, a whole number
    raw = float(r.installed_by_chip["ascend-910b2"].p50[-1])
    assert raw != round(raw)   # a P50 of 500 trials: not whole, so the rounding is seen
    shown = figures["Installed P50 at horizon end, Ascend 910B2 (chips)"]
    assert shown == round(float(f"{raw:.3g}")) and isinstance(shown, int)
    gap = float(np.max(r.shortfall_p50_unit_chips))
    assert figures["Largest P50 shortfall (Ascend 910B2 chips)"] == round(float(f"{gap:.3g}"))
    # the same values, in the same order, as `fleetcast forecast --format json` key_figures
    cli = [f["value"] for f in result_to_dict(r, forecast_panel.inputs)["key_figures"]]
    assert [v for _, v in rows] == cli
    # the file: no figure with more than 3 significant digits
    out = export_mod.export_csv(headers, rows, tmp_path / "kf.csv")
    line = next(x for x in out.read_text().splitlines() if x.startswith('"Installed P50 at horizon end, Ascend'))
    assert line.endswith(f",{round(float(f'{raw:.3g}'))}")
    # the monthly table: as `fleetcast forecast --format csv` writes each cell, chips whole
    m_headers, m_rows = forecast_panel.tables()["monthly"]
    keys = forecast_monthly_table(r).keys()
    assert len(keys) == len(m_headers)
    for mine, cli_row in zip(m_rows, result_rows(r, for_file=True)):
        assert [mine[0].isoformat()] + mine[1:] == [cli_row[k] for k in keys]
        assert all(v == round(v) for v, h in zip(mine[1:], m_headers[1:]) if "(chips)" in h or "chips)" in h)
    assert m_rows[0][1] == round(float(r.installed_total.p10[0]))


# ---- 3. the cost charts' basis in the report ---------------------------------------------------

def _plan_result(feasible: bool = True):
    from engine.forecast_plan import ChipEconomics, PlannedOrder, PlanResult

    months = tuple(dt.date(2025, m, 1) for m in range(1, 5))
    econ = (ChipEconomics("ascend-910b2", 16_854.0, 260.7, 0.095, 60.0, 1.89, life_years=5.0,
                          peak_to_average=1.5, training_goodput=0.9),
            ChipEconomics("h20-96gb", 12_000.0, 349.0, 0.05, 30.0, 2.61, life_years=5.0,
                          peak_to_average=1.5, training_goodput=0.9))
    orders = (PlannedOrder("h20-96gb", 41_000, months[0], months[1], 0.0, expected_delivered=33_000.0),)
    capacity = tuple(np.full(4, chips) for chips in (120_000.0, 160_000.0, 200_000.0))
    return PlanResult(feasible, "", orders, 0.0, months, months[0], months[-1], 0.9, np.full(4, 0.95),
                      np.full(4, 0.8), capacity, np.linspace(50_000, 150_000, 4), "ascend-910b2", econ)


def test_the_report_cost_charts_carry_the_plan_views_basis():
    from gui.panels.plan_text import econ_caption

    panel = SimpleNamespace(result=_plan_result())
    # each chart its own tokens' basis (QA s37: the training chart's spoke of served tokens at average load)
    for chart_key, title, said, unsaid in (
            ("cost_per_million_served_tokens", "Capital cost per 1M served tokens",
             ("5-year life", "input + output", "average load = peak / 1.5"), "goodput"),
            ("cost_per_million_training_tokens", "Capital cost per 1M training tokens",
             ("5-year life", "90% goodput"), "average load")):
        basis = report._panel_run_basis("plan", panel, chart_key, {"seed": 2024})
        assert basis == econ_caption(panel.result, chart_key.split("_")[3])   # one text, built in one place
        caption = report.chart_caption("plan", title, {"Plan": "candidate chips for P(meet demand) >= 90%"}, basis)
        for words in said:
            assert words in caption, (words, caption)
        assert unsaid not in caption
    for words in ("input + output", "90% goodput"):   # the Plan view's table: both
        assert words in econ_caption(panel.result)
    # before any chip is priced there is no basis to state
    assert report._panel_run_basis("plan", SimpleNamespace(result=None), "cost_per_million_served_tokens", {}) == ""
    # the capacity chart keeps its run basis, not the costs'
    assert "goodput" not in report._panel_run_basis("plan", panel, "plan_capacity", {"seed": 1})


# ---- 4. "Huawei delivers half": every 910B order, a plan's too -------------------------------------

def test_the_half_what_if_says_what_the_engine_draws_for_a_planned_order(tmp_path):
    from engine.forecast import scenario_from_dict
    from engine.forecast_plan import Candidate, _candidate_unc
    from engine.store import open_store

    store = open_store(tmp_path / "s.db")
    try:
        params = store.scenario("Huawei delivers half")["params"]
        placed = next(o for o in store.orders() if o.chip_id == "ascend-910b2")
        makers = {c.id: c.vendor for c in store.chips()}
    finally:
        store.close()
    scenario = scenario_from_dict(params)
    note = scenario.vendor_uncertainty["Huawei"].note
    assert "every 910B order, placed or planned" in note and "the 910B order is" not in note
    # the engine: a 910B order the plan proposes draws the same profile as the one placed, half of it
    planned = _candidate_unc(SimpleNamespace(scenario=scenario, maker_by_chip=makers),
                             Candidate("ascend-910b2", makers["ascend-910b2"], 16_854.0, 6, 25_000.0))
    held = scenario.uncertainty_for(placed, makers["ascend-910b2"])
    assert planned == held
    assert (planned.fraction_dist, planned.fraction_low, planned.fraction_high, planned.fraction_of) == \
        ("fixed", 0.5, 0.5, "order")
    # the seed code and the frozen v2 seed say the same words
    v2 = json.loads((REPO / "resources" / "scenario_seed_v2.json").read_text(encoding="utf-8"))
    assert v2["what_ifs"]["Huawei delivers half"]["vendor_uncertainty.Huawei.note"] == note


def test_the_report_says_vendor_risk_applies_to_planned_orders():
    with_vendor = report.assumptions_section(_context(params={"vendor_uncertainty": {"Huawei": {
        "fraction_dist": "fixed", "fraction_low": 0.5, "fraction_mode": 0.5, "fraction_high": 0.5,
        "note": "what-if"}}}))
    assert report.VENDOR_RISK_LINE in with_vendor and "placed or planned" in report.VENDOR_RISK_LINE
    assert report.VENDOR_RISK_LINE not in report.assumptions_section(_context(params={}))


# ---- 5. the plan chart's title at 1280x720 ----------------------------------------------------------

@pytest.mark.parametrize("feasible", [True, False])
def test_the_plan_chart_title_is_whole_at_1280x720(window, qtbot, feasible):
    from PySide6.QtCore import QThreadPool

    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    names = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    plan = window.panel("plan")
    window.tabs.setCurrentIndex(names.index("Plan"))
    plan._draw(_plan_result(feasible))
    qtbot.wait(300)
    chart = plan.capacity_chart
    assert chart.title == ("Plan vs peak demand" if feasible else "Refused plan vs demand")
    assert chart._shown_title == chart.title, chart._shown_title   # not cut with "…"
    assert chart.plot_item.titleLabel.item.boundingRect().width() <= chart.title_room()
    QThreadPool.globalInstance().waitForDone(20_000)


def _context(**overrides) -> report.ReportContext:
    from pathlib import Path as _Path

    base = dict(scenario="Test", params={}, created=dt.datetime(2026, 1, 2), db_path=_Path("/tmp/x.db"),
                figures={}, tables={}, charts=[], orders=[], chips={}, stored_calibration={}, accuracy={})
    base.update(overrides)
    return report.ReportContext(**base)
