"""The order plan is never dearer than a plain plan that holds on the same validation trials: one
chip ordered as early as the caps allow (`_one_chip_early`), and every order cut to the fewest lots
that still hold (`_trimmed`). QA: at 80% for Mar-Dec 2025 with the caps lifted the LP's plans cost
$6.5B where 400,000 H20 ordered at once, $4.8B, held 82%."""

import datetime as dt
import json
import re

import numpy as np
import engine.forecast_plan as fp

from tests.engine.test_forecast_plan import CAND, req, toy

D = dt.date


def _checker(inputs, asked, order_months, lo_t, hi_t):
    val = fp._cached_samples(inputs, asked.validation_trials, inputs.scenario.seed + fp.VALIDATION_SEED_OFFSET)
    return fp._OnValidation(inputs, asked, order_months, lo_t, hi_t, val)


def test_trimming_cuts_the_late_redundant_order_then_the_rest_to_the_shortfall():
    """Exact supply, 2,000 chips short from January 2025 (1 token/s each, 100-chip lots): 30 lots in
    October and 10 in December cut to 20 in October, the later order first (same price)."""
    inputs, asked = toy(), req(validation_trials=400)
    months = [D(2024, m, 1) for m in range(6, 13)]          # Jun..Dec 2024
    lo_t = hi_t = None
    s = fp._cached_samples(inputs, 400, inputs.scenario.seed + fp.VALIDATION_SEED_OFFSET)
    lo_t, hi_t = s.months.index(D(2025, 1, 1)), s.months.index(D(2025, 12, 1))
    check = _checker(inputs, asked, months, lo_t, hi_t)
    lots = np.zeros((1, len(months)))
    lots[0, months.index(D(2024, 10, 1))] = 30
    lots[0, months.index(D(2024, 12, 1))] = 10
    assert check.holds(lots, [])
    cut = fp._trimmed(check, lots, np.array([CAND.unit_price_usd * 100]), [])
    assert cut[0, months.index(D(2024, 12, 1))] == 0
    assert cut[0, months.index(D(2024, 10, 1))] == 20
    fp._drop_plan_caches()


def test_one_chip_early_orders_the_fewest_lots_in_the_first_month_and_fills_quarters_in_turn():
    """Exact supply: 20 lots cover the 2,000 chips short. Ordered in the first order month (June
    2024, its quarter's first). With a cap of 15 lots a quarter the rest, 5, go in July (Q3's first)."""
    inputs = toy()
    months = [D(2024, m, 1) for m in range(6, 13)]
    quarter_of = np.array([fp._quarter(m)[1] for m in months]) - 1      # Q2 -> 0, Q3 -> 1, Q4 -> 2
    s = fp._cached_samples(inputs, 400, inputs.scenario.seed + fp.VALIDATION_SEED_OFFSET)
    lo_t, hi_t = s.months.index(D(2025, 1, 1)), s.months.index(D(2025, 12, 1))
    check = _checker(inputs, req(validation_trials=400), months, lo_t, hi_t)
    one = fp._one_chip_early(check, 0, quarter_of, np.array([[100.0, 100.0, 100.0]]), [])
    assert one is not None and one.sum() == 20 and one[0, 0] == 20
    capped = fp._one_chip_early(check, 0, quarter_of, np.array([[15.0, 15.0, 15.0]]), [])
    assert capped is not None and capped[0, 0] == 15 and capped[0, 1] == 5 and capped.sum() == 20
    assert fp._one_chip_early(check, 0, quarter_of, np.array([[5.0, 5.0, 5.0]]), []) is None   # 15 lots never hold
    fp._drop_plan_caches()


def test_the_storys_85pct_plan_beats_the_lps_and_holds_on_fresh_trials(tmp_path, capsys):
    """`plan --confidence 0.85 --from 2025-09 --until 2025-12` on the demo database with the caps
    lifted (2,000,000 a quarter): the LP's plans bought $22.9B; 743,000 H20 ordered in November
    2024, $8.92B, hold 85% on the validation trials and on the fresh ones (86.3%) for less.

    (s23: the story's demand points carry their own uncertainty and a planned order the forecast's
    own draws: over Mar-Jun 2025, the target this had (18,000 H20 ordered in November 2024 beat the
    LP's $0.30B and $0.23B), no plan keeps 85% within the caps (83.5% at most in June on the fitted
    trials), and with them lifted the LP's plan is the one kept. Sep-Dec 2025 with the caps lifted is
    the story's window at 85% where one chip ordered early beats the LP's plans; the figures are from
    `fleetcast plan --confidence 0.85 --from 2025-09 --until 2025-12 --caps
    ascend-910b2=2000000,h20-96gb=2000000 --format json` on a fresh database at commit 4664896.)"""
    from engine.cli import main

    code = main(["--db", str(tmp_path / "f.db"), "plan", "--confidence", "0.85", "--from", "2025-09",
                 "--until", "2025-12", "--caps", "ascend-910b2=2000000,h20-96gb=2000000", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["feasible"], d.get("why")
    lp = [re.search(r"cheaper than the LP's plan \(\$([\d.]+)([MB])\)", n) for n in d["throughput_notes"]]
    lp_usd = [float(m.group(1)) * (1e9 if m.group(2) == "B" else 1e6) for m in lp if m]
    assert lp_usd and d["total_cost_usd"] < min(lp_usd), d["throughput_notes"]
    assert {o["chip_id"] for o in d["orders"]} == {"h20-96gb"}
    assert min(o["order_month"] for o in d["orders"]) == "2024-11-01"
    i, j = d["months"].index("2025-09-01"), d["months"].index("2025-12-01")
    assert min(d["prob_meet_demand"][i:j + 1]) >= 0.85 - fp.FRESH_TOLERANCE     # out of sample
