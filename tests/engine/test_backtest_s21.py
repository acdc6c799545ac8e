"""QA s21 on `fleetcast backtest`: --seed and --trials, figures printed to the digits their Monte
Carlo error supports, and that error stated."""

import datetime as dt
import json

import numpy as np
import pytest

from engine.cli import main

AS_OF = "2024-12-31"   # (from 2024-09-30 the bands span a millionfold since s29: three points weighted by their stated uncertainty)


def _run(capsys, *argv):
    code = main(["backtest", "--as-of", AS_OF, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_seed_and_trials_are_flags_and_the_json_names_them(capsys):
    code, out, _ = _run(capsys, "--format", "json")
    default = json.loads(out)
    assert code == 0 and default["trials"] == 20_000 and default["seed"] == 2024   # as before: the scenario's seed
    code, out, _ = _run(capsys, "--format", "json", "--seed", "7", "--trials", "5000")
    other = json.loads(out)
    assert code == 0 and other["trials"] == 5000 and other["seed"] == 7
    assert other["points"][-1]["p90"] != default["points"][-1]["p90"]
    rel = default["relative_se_p10_p50_p90"]
    assert len(rel) == 3 and 0 < rel[1] < rel[2] < 0.3   # P90 of a heavy tail moves most with the seed


def test_table_figures_have_three_significant_figures_and_the_error_is_said(capsys):
    """P90 7549028867745809 and p90_over_p10 3359.8 against a seed-to-seed spread of 27%."""
    code, out, _ = _run(capsys, "--format", "csv")
    assert code == 0
    rows = [line.split(",") for line in out.strip().splitlines()]
    head = rows[0]
    for row in rows[1:]:
        for key in ("p10_T_tokens_per_day", "p50_T_tokens_per_day", "p90_T_tokens_per_day", "p90_over_p10",
                    "actual_over_p50"):
            value = float(row[head.index(key)])
            assert value == float(f"{value:.3g}"), (key, row)
    code, out, _ = _run(capsys)
    assert "7549028867745809" not in out and "3359.8" not in out
    assert "Monte Carlo error at 20,000 trials, seed 2024: P10 / P50 / P90 about +-" in out


@pytest.mark.parametrize("argv, needle", [
    (("--trials", "5"), "--trials: 5 (must be 100 to 1,000,000"),
    (("--trials", "2000000"), "--trials: 2000000 (must be 100 to 1,000,000"),
    (("--seed", "-1"), "--seed: -1 (must be a whole number from 0 to 4,294,967,295)"),
])
def test_bad_seed_or_trials_is_one_line(capsys, argv, needle):
    code, _, err = _run(capsys, *argv)
    assert code == 1 and needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_the_stated_error_is_about_the_seed_to_seed_spread():
    """The batch estimate of the quantiles' error against their spread over 10 seeds (P90 about
    9%, P50 about 2% from 2024-09-30)."""
    from engine.forecast import default_scenario
    from engine.forecast_backtest import backtest

    demand = default_scenario().demand
    as_of = dt.date.fromisoformat(AS_OF)
    runs = [backtest(demand, as_of, seed=seed) for seed in range(10)]
    quantiles = np.array([[[p.p10, p.p50, p.p90] for p in r.points] for r in runs])   # seeds x points x 3
    spread = (quantiles.std(axis=0, ddof=1) / quantiles.mean(axis=0)).max(axis=0)
    for estimate in (r.relative_se for r in runs[:3]):
        assert estimate is not None
        for said, seen in zip(estimate[1:], spread[1:]):   # P50, P90 (P10's error is a fraction of a percent)
            assert seen / 2.5 < said < seen * 2.5
    assert backtest(demand, as_of, trials=100, seed=1).relative_se is None   # too few trials to batch
