"""QA round 23 on the PDF report, read as a manager would beside `fleetcast plan` and `forecast`:
the plan's cost with its spread over other trial sets and the plan's notes (the hindsight one);
the first short month with its Monte Carlo range and P(meet)'s standard error; each figure's run
basis in its caption; the demand's error bars under Accuracy; a Compare scenario not drawn said
so; distinct Compare colours; the database's absolute path; the calibration factors' meanings."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.forecast import default_scenario, scenario_to_dict
from gui import report, style


from tests.gui.test_report_s21 import _context  # noqa: E402  (a report context with the fields overridden)


PLAN = {"feasible": True, "total_cost_usd": 3.79e10, "samples": 200, "confidence": 0.9,
        "from_month": "2025-03-01", "until_month": "2026-03-01",
        "cost_on_other_trial_sets_usd": [5.30e10, 4.64e10],
        "orders": [{"chip_id": "h20-96gb", "quantity": 20000, "order_month": "2024-11-01",
                    "delivery_month": "2025-02-01", "cost_usd": 2.4e8}]}


def test_the_plan_cost_is_given_with_its_spread_over_other_trial_sets():
    """CLI: "$37.9B (fitted on 2 other sets of 200 trials: $53.0B and $46.4B)"; the report said
    only "places 8 orders for $37.9B"."""
    ctx = _context(plan=PLAN)
    spread = "(fitted on 2 other sets of 200 trials: $53.0B and $46.4B)"
    assert f"for $37.9B in total {spread} (see Order plan)" in report.key_answers_section(ctx)
    assert f"Total $37.9B {spread}." in report.plan_section(ctx)
    # one set found no plan: said in the spread, as `plan` says it
    edge = report.key_answers_section(_context(plan={**PLAN, "cost_on_other_trial_sets_usd": [None, 4.64e10]}))
    assert "(fitted on 2 other sets of 200 trials: no plan and $46.4B; the target is at the edge" in edge
    # none computed: nothing added
    assert "Total $37.9B." in report.plan_section(_context(plan={**PLAN, "cost_on_other_trial_sets_usd": []}))


def test_the_plan_section_carries_the_plans_notes_with_the_hindsight_one():
    """The plan's confidence rests on demand points after its first order month, taken as known
    (engine.forecast_plan._hindsight_note); the report never read the plan's notes."""
    hindsight = ("demand to 2025-12 is the scenario's 3 points dated from 2024-11 on, taken as known: orders "
                 "placed in 2024-11 could not have seen them, so the confidence holds with that hindsight "
                 "(`fleetcast backtest --as-of 2024-10-31` shows the demand's spread as known then)")
    html = report.plan_section(_context(plan={**PLAN, "throughput_notes": ["a throughput note", hindsight]}))
    assert "Notes on the plan" in html
    assert "Demand to 2025-12 is the scenario&#x27;s 3 points dated from 2024-11 on, taken as known" in html
    assert "A throughput note" in html
    assert "Notes on the plan" not in report.plan_section(_context(plan=PLAN))


# The key figures of "Huawei delivers half" (QA exp_half/forecast_key_figures.csv), as the
# Forecast view gives them to the report.
WHY = "(P(meet) 2025-07 47.3% +-1.1 points, within 3 standard errors of 50% at 2,000 trials)"
HALF_FIGURES = {
    "Months with a P50 shortfall (months)": (46, ""),
    "Months with a P50 shortfall, Monte Carlo range (months)": (f"45 to 46 by the seed {WHY}", ""),
    "First month demand exceeds capacity P50 (date)": (dt.date(2025, 7, 1), ""),
    "First month demand exceeds capacity P50, Monte Carlo range (date)": (f"2025-07 or 2025-08 by the seed {WHY}", ""),
    "Largest P50 shortfall (Ascend 910B2 chips)": (2313417.999, ""),
    "P(meet demand) 12 months in (%)": (94, ""),
}


def test_the_first_short_month_is_given_with_its_seed_range_and_error():
    """CLI and forecast_key_figures.csv: "2025-07 or 2025-08 by the seed ... 45 to 46 by the seed"
    and "+-1.1 points"; the report said "in 2025-07; 46 months" as settled."""
    ctx = _context(figures={"forecast": HALF_FIGURES}, extra={"forecast_run": {"trials": 2000, "seed": 2024}})
    text = " ".join(report.forecast_sentences(ctx))
    assert ("Demand first exceeds the median capacity in <b>2025-07 or 2025-08</b> by the seed; 45 to 46 months "
            "(by the seed) of the horizon show a median shortfall, at most about 2.31 million Ascend 910B2 chips "
            "(P(meet) 2025-07 47.3% ±1.1 points, within 3 standard errors of 50% at 2,000 trials).") in text
    assert "These carry ±1.1 points of Monte Carlo error at 2,000 trials (1 standard error at 50%)." in text
    # a settled first month reads as before
    settled = {k: v for k, v in HALF_FIGURES.items() if "Monte Carlo range" not in k}
    text = " ".join(report.forecast_sentences(_context(figures={"forecast": settled})))
    assert "Demand first exceeds the median capacity in <b>2025-07</b>; 46 months of the horizon show" in text


def test_each_caption_states_the_run_behind_its_figure():
    """P(meet) in Jul 2025 read 53.5% (2,000 trials), 55% (the tornado's own 500) and 49.25% (the
    plan's 4,000 fresh trials) in three figures whose captions named no run."""
    run = {"Scenario": "Story default", "Run": "2,000 trials, seed 2024, 60 months from 2024-05 (fleetcast forecast "
                                               "--scenario 'Story default' --trials 2000 --seed 2024)"}
    assert report.chart_caption("forecast", "Probability of meeting peak demand", run) == \
        "Forecast: Probability of meeting peak demand. Run: 2,000 trials, seed 2024, 60 months from 2024-05."
    from gui.panels.forecast_common import own_run_context

    tornado = SimpleNamespace(trials=500, seed=2024, month=dt.date(2025, 7, 1), base={"prob_meet_demand": 0.55})
    context = own_run_context("tornado_prob_meet_demand", run, tornado, None)
    assert report.chart_caption("forecast", "P(meet demand): change from the scenario in Jul 2025", context) == (
        "Forecast: P(meet demand): change from the scenario in Jul 2025. Run: its own 500 trials a setting, seed "
        "2024 (not the forecast's run); Base P(meet): 55% in Jul 2025, on those trials.")
    plan = report.plan_run_basis(SimpleNamespace(samples=200, check_trials=4000, orders=("an order",)), 2024)
    assert report.chart_caption("plan", "P(meet demand), fresh trials", {}, plan) == (
        "Plan: P(meet demand), fresh trials. Run: 4,000 fresh trials of a seed of their own (not the forecast's "
        "run); the plan fitted on 200 trials, seed 2024.")
    # no plan found: the charts show the fleet without one (QA s37)
    assert report.plan_run_basis(SimpleNamespace(samples=200, check_trials=4000, orders=()), 2024).endswith(
        "; no plan found (fitted on 200 trials, seed 2024)")
    outcome = lambda trials, seed: SimpleNamespace(result=SimpleNamespace(trials=trials, seed=seed))  # noqa: E731
    runs = [("Story default", outcome(2000, 2024)), ("Half seed7", outcome(500, 7)),
            ("Huawei late", outcome(2000, 2024)), ("Long prompts", SimpleNamespace(why="too long"))]
    assert report.compare_run_basis(runs) == \
        "Runs: 2,000 trials, seed 2024, each scenario but Half seed7: 500 trials, seed 7"


def test_the_chosen_chip_is_named_in_the_inference_captions():
    """"TTFT vs offered load (chosen chip)" named no chip; its CSV says "Workload: H20, ..."."""
    context = {"Workload": "H20, 1,024 in / 256 out tokens, TTFT ≤ 2,000 ms",
               "Load": "2.40 requests/s per replica (Poisson arrivals)"}
    assert report.chart_caption("inference", "TTFT vs offered load (chosen chip)", {"Workload": context["Workload"]}) \
        == "Inference: TTFT vs offered load (H20)"
    assert report.chart_caption("inference", "TTFT distribution at the chosen load", context) == \
        "Inference: TTFT distribution on H20 at the chosen load. Load: 2.40 requests/s per replica (Poisson arrivals)."


def test_a_compared_scenario_that_could_not_be_computed_is_said_not_drawn():
    """`report --scenario "Long prompts" --partial`: its Compare charts left it out silently."""
    from gui.panels.compare import NotComputed

    why = "demand.input_tokens_per_request: 200,211 tokens exceed the context window of 40,960 tokens"
    panel = SimpleNamespace(results=[("Story default", SimpleNamespace(result=object())),
                                     ("Long prompts", NotComputed(why))])
    missing = report._compare_not_drawn({"compare": panel}, {})
    assert missing == [("Long prompts", why)]
    assert report._compare_not_drawn({"compare": panel}, {"compare": "failed"}) == []
    ctx = _context(scenario="Long prompts", extra={"compare_not_drawn": missing},
                   charts=[("chart-fleet-installed", "Fleet: Installed"), ("chart-compare-prob", "Compare: P(meet)")])
    html = report.charts_section(ctx)
    note = f"<b>Long prompts</b> (this report's scenario) is not drawn: {why}"
    assert note in html
    assert html.index("Figure 1.") < html.index(note) < html.index("Figure 2.")


def test_accuracy_states_how_demand_is_drawn_and_backtested_quickly():
    """Demand growth is the forecast's largest uncertainty (its variance-share chart), yet the
    Accuracy section covered only the engines."""
    params = scenario_to_dict(default_scenario())
    charts = [("chart-forecast-prob_meet_demand", "x"), ("chart-forecast-uncertainty_shares", "y")]
    ctx = _context(params=params, charts=charts,
                   extra={"uncertainty_shares": {"demand (points and growth)": 0.62, "vendor fraction and delay": 0.3}})
    start = time.perf_counter()
    html = report.accuracy_section(ctx)
    assert time.perf_counter() - start < 2.0
    assert ("<b>Demand</b> (the largest source of the forecast's uncertainty: 62% of the variance of "
            "log(capacity / demand), averaged over the months, Figure 2)") in html
    assert "<code>fleetcast backtest --as-of DATE</code> fits the growth on the points known on DATE" in html
    # the story's six points: fitted on the first three (the decaying growth's fewest), scored on the rest
    # Dec 2024 is an exact point; Sep and Dec 2025 are "more than" figures, scored as floors (s28)
    assert ("as of 2024-09-15 (3 points known), 1 of 1 exact later points fell inside P10–P90 (80% expected); "
            "2 of 2 “more than” points consistent with their bands") in html
    assert "the actual ≥ " in html
    assert "seed 2024" in html
    assert "Demand" not in report.demand_accuracy_html(_context(params={}))


def test_compare_colours_are_far_apart_for_many_scenarios():
    """A 7-scenario Compare legend had two light blues and two teals."""
    saved = ["Story default"] + [f"What-if {i}" for i in range(10)]
    colours = [style.scenario_color(n, saved, "Story default") for n in saved]
    assert colours[0] == style.OKABE_ITO[0]
    assert len(set(colours)) == len(colours) == 11
    assert style.CATEGORY_COLORS["Peak demand"] not in colours
    nearest = min(_lab_distance(a, b) for a, b in itertools.combinations(colours, 2))
    assert nearest >= 25   # CIELAB: the old palette's sky blue and light blue were 14 apart


def _lab_distance(a: str, b: str) -> float:
    def lab(colour: str) -> tuple[float, float, float]:
        rgb = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92 for c in rgb)
        x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
        y = 0.2126 * r + 0.7152 * g + 0.0722 * b
        z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
        fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z))
        return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)

    return math.dist(lab(a), lab(b))


def test_the_database_is_named_by_its_absolute_path(tmp_path, monkeypatch):
    """`--db a.db` read "Database: a.db", which names no file once the PDF travels."""
    monkeypatch.chdir(tmp_path)
    html = report.title_section(_context(db_path=Path("a.db")))
    assert f"Database: {tmp_path / 'a.db'}</p>" in html


def test_the_calibration_paragraph_says_what_each_factor_is(tmp_path):
    """It promised "the layer overhead in microseconds" with no such column, and called the
    attention kernel path (a relative factor) a fraction of the data-sheet peak."""
    from engine.store import open_store

    store = open_store(tmp_path / "c.db")
    try:
        chips = {"h20-96gb": store.chip("h20-96gb")}
    finally:
        store.close()
    html = report.calibration_html(_context(chips=chips))
    factors = report.calibration_factors()
    assert ("microseconds" in html) == any(f.endswith("_us") for f in factors)
    assert "train_attn_path_rel" in factors
    assert ("(fraction of the data-sheet peak reached; Attention kernel path, instead: the share of the dense "
            "16-bit peak the attention kernel's instructions can issue, a relative factor") in html


@pytest.mark.slow
def test_the_story_report_carries_run_bases_and_demand_error_bars(tmp_path, monkeypatch, qapp):
    """The whole report, from a database named by a relative path as `--db story.db` gives it."""
    import unicodedata

    import pypdf

    from engine.store import open_store
    from gui.export_all import build_offscreen_panels, shutdown_panels
    from gui.scenarios import ensure_default_scenario

    monkeypatch.chdir(tmp_path)
    store = open_store("story.db")
    ensure_default_scenario(store)
    params = store.scenario("Story default")["params"]
    panels = build_offscreen_panels(store, "Story default")
    try:
        result = report.write_report(store, panels, "Story default", params, tmp_path / "story.pdf")
    finally:
        shutdown_panels(panels)
        for panel in panels.values():
            panel.close()
            panel.deleteLater()
        store.close()
    pages = [" ".join(unicodedata.normalize("NFKC", p.extract_text()).split())
             for p in pypdf.PdfReader(str(result.path)).pages]
    text = " ".join(pages)
    assert f"Database: {os.path.abspath(tmp_path / 'story.db')}" in text
    assert "These carry ±1.1 points of Monte Carlo error at 2,000 trials" in text
    assert "Forecast: Probability of meeting peak demand. Run: 2,000 trials, seed 2024, 60 months from 2024-05." \
        in text
    assert "Run: its own 500 trials a setting, seed 2024 (not the forecast's run); Base P(meet):" in text
    # the story's default window has no plan: its charts show the fleet without one (QA s37)
    assert "fresh trials of a seed of their own (not the forecast's run); no plan found (fitted on 200 trials" in text
    assert "(chosen chip)" not in text and "Inference: TTFT vs offered load (H20)" in text
    assert "Runs: 2,000 trials, seed 2024, each scenario" in text
    assert "fleetcast backtest --as-of DATE fits the growth" in text
    assert "1 of 1 exact later points fell inside P10" in text   # ("P10– P90": the line breaks at the dash)


def test_the_plan_sentence_states_what_it_reached_and_the_rule():
    """QA s23: the report gave the plan's cost but not the P(meet) it reached, its error, the
    fresh trials it was read on, or the rule it is held to."""
    plan = {"feasible": True, "confidence": 0.9, "from_month": "2025-03-01", "until_month": "2025-05-01",
            "orders": [{"chip_id": "h20-96gb", "quantity": 41000}], "total_cost_usd": 4.92e8,
            "min_prob_meet_in_target": 0.9015, "min_prob_meet_in_target_se": 0.0047, "fresh_trials": 4000,
            "fresh_seed": 9943, "meets_target_rule": "a plan meets the target when its lowest P(meet demand) over "
            "the target months, the point estimate on the trials it is checked on, is at least the confidence"}
    text = report.plan_sentences(_context(plan=plan))[0]
    assert "Its lowest month reaches 90.1% ± 0.5 points on 4,000 fresh trials (seed 9943); a plan meets" in text


def test_the_demand_assumptions_table_gives_each_points_uncertainty():
    """QA s23: the Demand table listed date, tokens/day and note only; the ± was in Accuracy alone."""
    params = {"demand": {"points": [{"date": "2024-05-15", "tokens_per_day": 1.2e11, "note": "launch"},
                                    {"date": "2024-12-15", "tokens_per_day": 4e12, "note": "approx", "sd_pct": 26.0},
                                    {"date": "2025-09-15", "tokens_per_day": 3e13, "note": "more than",
                                     "sd_pct": 21.0, "at_least": True}]}}
    html = report.assumptions_section(_context(params=params))
    assert "± (1 sd)" in html and "exact" in html and "±26%" in html and "+21% (floor)" in html
