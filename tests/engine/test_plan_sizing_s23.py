"""Sizing is not the rule (s23): plans are sized on the validation trials to the confidence plus a
margin, so the fresh check (MEETS_RULE: the point estimate at least the confidence) usually passes;
a plan short on the fresh trials is re-sized on the validation trials before any refit, and a plan
no quantity of which reaches the margin but that keeps the confidence (a plateau) is sized to it."""

import datetime as dt

import numpy as np

import engine.forecast_plan as fp
from engine.forecast import meets
from tests.engine.test_forecast_plan import req, toy
from tests.engine.test_plan_s23_contract import RISKY

D = dt.date


def test_a_plan_short_on_the_fresh_trials_is_resized_on_the_validation_trials_not_refitted(monkeypatch):
    """Sized below the confidence (a margin of -3 standard errors), the plan reads short on the fresh
    trials; the next sizing scales the same LP plans up on the validation trials (the LP is not run
    again: a refit on twice the trials doubled the bench's time) and that plan holds."""
    inputs, asked = toy(candidate_unc=RISKY), req(confidence=0.8, samples=100, check_trials=400)
    rounded = []
    real = fp._round_lots
    monkeypatch.setattr(fp, "_round_lots", lambda *a, **k: rounded.append(1) or real(*a, **k))
    under = fp._solve_once(inputs, asked, sizings=(fp.Sizing(-3.0, "none"),))
    assert under.feasible and fp.lowest_fresh_prob(under) < 0.8
    fitted = len(rounded)
    resized = fp._solve_once(inputs, asked, sizings=(fp.Sizing(-3.0, "none"), fp.Sizing(2.0, "none")))
    assert len(rounded) == 2 * fitted   # the LP's plans of one fit, sized twice
    assert resized.feasible and fp.lowest_fresh_prob(resized) >= 0.8 and resized.samples == 100
    assert resized.total_cost_usd > under.total_cost_usd
    assert any("re-sized on the validation trials" in n for n in resized.notes), resized.notes
    fp._drop_plan_caches()


def test_a_plan_that_cannot_reach_the_margin_is_sized_to_its_plateau():
    """The most a plan may order keeps the confidence but not the confidence plus the margin (its
    P(meet) flat in the quantity, as H20's under its export cut-off risk): sized to the confidence
    itself (the fresh check decides), or, re-sizing, halfway to what it reaches; no plan where the
    sizing allows no plateau."""
    inputs = toy(candidate_unc=RISKY)
    months = [D(2024, m, 1) for m in range(6, 13)]
    val = fp._cached_samples(inputs, 8000, inputs.scenario.seed + fp.VALIDATION_SEED_OFFSET)
    lo_t, hi_t = val.months.index(D(2025, 1, 1)), val.months.index(D(2025, 12, 1))
    most = np.zeros((1, len(months)))
    most[0, 0] = 30   # the cap: 30 lots of 100 in June 2024
    probe = fp._OnValidation(inputs, req(validation_trials=8000), months, lo_t, hi_t, val)
    top = float(meets(probe.capacity(most), probe.demand).mean(axis=0).min())
    assert 0.6 < top < 0.95
    # a confidence just under what the most keeps; on 100 fresh trials the margin is ~4 points
    asked = req(confidence=round(top - 0.005, 3), check_trials=100, validation_trials=8000)
    caps = np.array([[30.0]])
    quarter_of = np.zeros(len(months), dtype=int)
    for sizing, level in ((fp.Sizing(1.0, "confidence"), asked.confidence),
                          (fp.Sizing(2.0, "halfway"), 0.5 * (asked.confidence + top)),
                          (fp.Sizing(1.0, "none"), None)):
        check = fp._OnValidation(inputs, asked, months, lo_t, hi_t, val, sizing)
        assert check.target > top
        assert check.level(most, []) == level
        sized = fp._one_chip_early_sized(check, 0, quarter_of, caps, [])
        assert (sized is None) == (level is None)
        if sized is not None:
            lots, at = sized
            assert at == level and lots.sum() <= 30 and check.holds(lots, [], level)
            fewer = lots.copy()
            fewer[0, 0] -= 1
            assert not check.holds(fewer, [], level)
        scaled, note, at = fp._scale_to_validation(inputs, asked, months, most, quarter_of, caps, lo_t, hi_t, val,
                                                   sizing)
        assert at == level
        if level is not None and scaled.sum() < 30:
            assert "sized to a plateau, the fresh check decides" in note
    fp._drop_plan_caches()
