"""QA s21 on the honesty of `fleetcast forecast`: its Monte Carlo error is stated, figures a seed
decides say so, key figures carry the digits their error supports, too few trials are refused,
and the fitted demand growth (with its runaway cap) reaches the output."""

import json
import math
from dataclasses import replace

import pytest

from engine.cli import main


def _json(capsys, *argv):
    code = main(["--format", "json", *argv])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def _figures(capsys, *argv) -> dict:
    return {f["figure"]: f["value"] for f in _json(capsys, "forecast", "--months", "30", *argv)["key_figures"]}


def _even_odds_scenario() -> str:
    """The story with 11% less demand: P(meet) in Jul 2025 is 0.49-0.52 at 2,000 trials (the
    story's own crossing moved to a settled Jul 2025 once its demand points carried their
    uncertainty, QA s23). s28: with the Ascend MoE factor fix (1482034) the fleet serves more and
    12% less demand read Jul 2025 at 51.2% (seed 1) and 53.3% (seed 5), both short first in August;
    at 11% less it is 49.8% (seed 1: July first, 16 short months) and 51.9% (seed 5: August, 15),
    measured with `fleetcast forecast --months 30 --seed 1|5` on this scenario."""
    import copy
    import os

    from engine.store import open_store

    store = open_store(os.environ["FLEETCAST_DB"])
    params = copy.deepcopy(store.scenario("Story default")["params"])
    params["demand"]["scale"] = 0.89
    store.save_scenario("Even odds", params)
    store.close()
    return "Even odds"


def test_a_first_short_month_at_even_odds_is_named_as_the_seeds_choice(capsys):
    """The headline flipped with the seed at 2,000 trials (2025-07 for seed 1, 2025-08 for seed
    5): P(meet) in Jul 2025 is 0.49-0.52. Each seed's figure stays, and beside it both say the
    same: which months another seed may give, and why."""
    name = _even_odds_scenario()
    figures = {seed: _figures(capsys, "--scenario", name, "--seed", str(seed)) for seed in (1, 5)}
    first = "First month demand exceeds capacity P50 (date)"
    assert {f[first] for f in figures.values()} == {"2025-07-01", "2025-08-01"}   # the flip itself
    for f in figures.values():
        words = f["First month demand exceeds capacity P50, Monte Carlo range (date)"]
        assert words.startswith("2025-07 or 2025-08 by the seed (P(meet) 2025-07 ")
        assert "within 3 standard errors of 50% at 2,000 trials" in words
        assert f["Months with a P50 shortfall, Monte Carlo range (months)"].startswith("15 to 16 by the seed")
        assert f["Months with a P50 shortfall (months)"] in (15, 16)


def test_a_figure_no_seed_can_move_has_no_range(capsys):
    # a year: every month's P(meet) is far from 50%
    figures = _figures(capsys, "--seed", "1", "--months", "12")
    assert not any("Monte Carlo range" in label for label in figures)
    assert figures["First month demand exceeds capacity P50 (date)"] == "never"


def test_the_forecast_states_its_monte_carlo_error(capsys):
    """No output stated it: a standard error per month in the JSON, one line in the table, and
    key figures to three significant figures (2377840.80277982 chips); data series unchanged."""
    d = _json(capsys, "forecast", "--months", "30", "--seed", "1")
    se = d["prob_meet_demand_se"]
    assert len(se) == len(d["months"]) and "prob_meet_demand_se" in d["units"]
    for p, e in zip(d["prob_meet_demand"], se):
        assert e == pytest.approx(math.sqrt(p * (1 - p) / 2000), abs=1e-4)
    figures = {f["figure"]: f["value"] for f in d["key_figures"]}
    largest = figures["Largest P50 shortfall (ascend-910b2 chips)"]
    assert largest == float(f"{largest:.3g}") and largest > 1000
    assert figures["Installed P50 at horizon end, all types (chips)"] % 100 == 0   # 144,457 -> 144,000
    assert any(v != round(v) for v in d["capacity_p50"] if v)   # series keep their decimal

    assert main(["forecast", "--months", "30", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "P(meet) figures carry +-1.1 points of Monte Carlo error at 2,000 trials (1 standard error at 50%" in text
    # Since the demand points carry their uncertainty (QA s23) no month is within 3 errors of 50% at
    # 2,000 trials (Jun 2025 ~63%, Jul ~33%; it was Jul 2025 at 48-53%): at 100 trials June is
    assert main(["forecast", "--months", "30", "--seed", "1", "--trials", "100"]) == 0
    assert "first month demand exceeds capacity P50: 2025-06 or 2025-07 by the seed" in capsys.readouterr().out


def test_demand_is_described_as_the_median_over_trials():
    """UNITS called it "the central curve": it is the median over trials, growth and request mix
    drawn (it moves with the seed)."""
    from engine.commands.forecast import UNITS

    assert "central curve" not in UNITS["demand"] and "median over trials" in UNITS["demand"]


@pytest.mark.parametrize("trials", ["1", "99"])
def test_fewer_than_100_trials_are_refused_in_one_line(capsys, trials):
    """`--trials 1` printed P10 = P90 with no word (the window's least is 100)."""
    code = main(["forecast", "--trials", trials, "--months", "3"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert f"--trials: {trials} (at least 100: P10/P90 of fewer draws are not percentiles)" in err


def test_a_saved_scenario_of_too_few_trials_is_refused_naming_it(capsys, tmp_path):
    from engine.forecast import default_scenario, scenario_to_dict
    from engine.store import open_store

    db = str(tmp_path / "t.db")
    store = open_store(db)
    store.save_scenario("few", {**scenario_to_dict(default_scenario()), "trials": 33})
    store.close()
    code = main(["--db", db, "forecast", "--scenario", "few", "--months", "3"])
    err = capsys.readouterr().err
    assert code == 1 and "scenario 'few': trials 33 (at least 100" in err and "give --trials 100" in err
    assert main(["--db", db, "forecast", "--scenario", "few", "--months", "3", "--trials", "100"]) == 0


@pytest.mark.parametrize("share, text", [
    (0.9999, "> 99.9%"), (0.996, "99.6%"), (1.0, "100%"), (0.0001, "< 0.1%"), (0.004, "0.4%"), (0.0, "0%"),
    (0.5, "50%"), (0.955, "96%"),
])
def test_a_probability_short_of_certain_never_reads_100_percent(share, text):
    """The summary rounded P(done by deadline) 0.9999 to "100%"."""
    from engine.commands.forecast import prob_text

    assert prob_text(share) == text


def test_runaway_growth_and_the_fit_reach_the_table_and_json(capsys, tmp_path):
    """A demand point typed 1,234.6 (for 500 billion tokens/day) capped demand at a millionfold of
    the last point in a third of the trials, and the warning (and the fitted slope) reached no output."""
    from engine.forecast import default_scenario, scenario_to_dict
    from engine.store import open_store

    base = default_scenario()
    points = list(base.demand.points)
    points[-2] = replace(points[-2], tokens_per_day=1234.6)
    typo = replace(base, demand=replace(base.demand, growth_model="loglinear", fit_points=3, points=tuple(points)))
    db = str(tmp_path / "g.db")
    store = open_store(db)
    store.save_scenario("typo", scenario_to_dict(typo))
    store.close()
    argv = ["--db", db, "forecast", "--scenario", "typo", "--trials", "200", "--months", "60"]
    d = _json(capsys, *argv)
    assert "slope" in d["demand_growth"] and "millionfold" in d["demand_growth"]
    assert any(n.startswith("demand growth after the last point: log-linear") and "millionfold" in n
               for n in d["throughput_notes"])
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "note: demand growth after the last point: log-linear on the last 3 points" in text
    assert "grew past a millionfold of the last point" in text
