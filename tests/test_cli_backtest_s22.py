"""QA s22: the backtest table printed raw tokens per day (1390000000000000) with the unit only at
the end of a long header line; its columns now name the unit and read in trillions."""

import csv
import datetime as dt
import io
import json

import pytest

from engine.cli import main


def test_the_backtest_table_names_its_unit_and_reads_in_trillions(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    assert main(["--db", db, "--format", "json", "backtest", "--as-of", "2024-09-30"]) == 0
    points = json.loads(capsys.readouterr().out)["points"]   # the JSON keeps tokens per day
    assert main(["--db", db, "--format", "csv", "backtest", "--as-of", "2024-09-30"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[:8] == ["date", "actual_T_tokens_per_day", "p10_T_tokens_per_day", "p50_T_tokens_per_day",
                                 "p90_T_tokens_per_day", "inside", "p90_over_p10", "actual_over_p50"]   # (then the run)
    for row, point in zip(rows, points, strict=True):
        assert float(row["actual_T_tokens_per_day"]) == pytest.approx(point["actual"] / 1e12, rel=5e-3)
        assert float(row["p90_T_tokens_per_day"]) == pytest.approx(point["p90"] / 1e12, rel=5e-3)
    assert main(["--db", db, "backtest", "--as-of", "2024-09-30"]) == 0
    text = capsys.readouterr().out
    assert "(the table in trillions of tokens per day)" in text and "1390000000000000" not in text


def _saved(db, name, change):
    import copy

    from engine.store import open_store

    store = open_store(db)
    params = copy.deepcopy(store.scenario("Story default")["params"])
    change(params)
    store.save_scenario(name, params)


def test_a_band_that_misses_every_point_is_not_called_uninformative(tmp_path, capsys):
    """QA: a log-linear fit from 2024-09-30 put 0 of 3 later points inside a 14.6x band (the actual
    0.02x its median) and was told "coverage says little about bands that wide"."""
    db = str(tmp_path / "b.db")
    assert main(["--db", db, "chips", "list"]) == 0
    _saved(db, "loglin", lambda p: p["demand"].update(growth_model="loglinear"))
    capsys.readouterr()
    assert main(["--db", db, "--format", "json", "backtest", "--scenario", "loglin", "--as-of", "2024-09-30"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["coverage"] < 0.8 and data["median_p90_over_p10"] > 10
    assert main(["--db", db, "backtest", "--scenario", "loglin", "--as-of", "2024-09-30"]) == 0
    assert "coverage says little" not in capsys.readouterr().out


def test_a_fixed_growth_has_no_monte_carlo_error_to_state(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    assert main(["--db", db, "chips", "list"]) == 0
    def fixed_and_exact(p):   # nothing drawn: a fixed growth from exact points (the points carry sd, s23)
        p["demand"].update(growth_model="fixed")
        for point in p["demand"]["points"]:
            point.pop("sd_pct", None)
            point.pop("at_least", None)

    _saved(db, "fixed", fixed_and_exact)
    capsys.readouterr()
    assert main(["--db", db, "backtest", "--scenario", "fixed", "--as-of", "2024-09-30"]) == 0
    text = capsys.readouterr().out
    assert "no Monte Carlo error (every trial draws the same demand)" in text and "e-1" not in text


def test_the_csv_carries_the_run_behind_each_row(capsys):
    """QA s23: `backtest --format csv` printed bare rows: no as-of date, scenario, trials, seed or
    coverage (the table's text and the JSON have them)."""
    import csv
    import io

    from engine.cli import main

    assert main(["--format", "csv", "backtest", "--as-of", "2024-09-30", "--trials", "500", "--seed", "3"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and all(r["as_of"] == "2024-09-30" and r["trials"] == "500" and r["seed"] == "3"
                        and r["scenario"] == "Story default" and r["nominal_coverage"] == "0.8" for r in rows)


def test_the_backtest_draws_the_last_known_points_uncertainty():
    """QA s23: the backtest grew its forecast from the last known figure, while the forecast grows
    from each trial's drawn point: with Sep 2024 a +41% floor, Dec 2024 read 1.92 / 3.02 / 8.04 T
    where the forecast's own method gives about 2.4 / 4.3 / 11.6 T."""
    import datetime as dt
    from dataclasses import replace

    from engine.forecast import default_scenario
    from engine.forecast_backtest import backtest

    curve = default_scenario().demand
    exact = replace(curve, points=tuple(replace(p, sd_pct=0.0, at_least=False) for p in curve.points))
    with_sd = backtest(curve, dt.date(2024, 9, 30), trials=4000, seed=1)
    without = backtest(exact, dt.date(2024, 9, 30), trials=4000, seed=1)
    dec = [(a, b) for a, b in zip(with_sd.points, without.points) if a.date == dt.date(2024, 12, 15)][0]
    # the floor point lifts the median and the top; the points' stated uncertainty (weighted into the
    # growth fit since s29) widens the band downward too, so the P10 need not rise
    assert dec[0].p50 > 1.2 * dec[1].p50 and dec[0].p90 > dec[1].p90


@pytest.mark.parametrize("kind", ["exponential", "logistic"])
def test_a_curve_with_nothing_drawn_has_no_backtest_to_score(tmp_path, capsys, kind):
    """QA s34: for an exponential curve backtest printed a log-linear growth fit and its 1.2x bands,
    where the forecast of that scenario draws one least-squares line (P10 = P50 = P90): it scored a
    model the forecast does not use. It now says so in one line, exit 1."""
    from engine.forecast import scenario_from_dict
    from engine.forecast_backtest import backtest
    from engine.store import open_store

    db = str(tmp_path / "b.db")
    assert main(["--db", db, "chips", "list"]) == 0
    def as_curve(p):   # (a point's stated uncertainty needs a piecewise curve)
        p["demand"].update(kind=kind, ceiling_tokens_per_day=2e14)
        for point in p["demand"]["points"]:
            point.pop("sd_pct", None)
            point.pop("at_least", None)

    _saved(db, "curve", as_curve)
    capsys.readouterr()
    assert main(["--db", db, "--format", "json", "forecast", "--scenario", "curve", "--trials", "200"]) == 0
    demand = json.loads(capsys.readouterr().out)
    assert main(["--db", db, "backtest", "--scenario", "curve", "--as-of", "2024-12-31"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"the demand curve is '{kind}'" in err[0] and "set the curve to piecewise" in err[0]
    assert demand   # (the forecast itself runs)
    store = open_store(db)
    curve = scenario_from_dict(store.scenario("curve")["params"]).demand
    store.close()
    with pytest.raises(ValueError, match="no band to score"):
        backtest(curve, dt.date(2024, 12, 31), trials=1000)


def test_a_later_point_that_falls_does_not_refuse_the_backtest_of_earlier_ones(tmp_path, capsys):
    """QA s34: with only the Dec 2025 point lowered (below Sep 2025), `backtest --as-of 2024-12-31`
    was refused ("demand falls between two points"), though the four points known then rise: the
    scenario was checked by fitting every point. A dip among the known points is refused naming
    the two points, without the "earliest --as-of" hint (a later date does not cure it)."""
    db = str(tmp_path / "b.db")
    assert main(["--db", db, "chips", "list"]) == 0
    _saved(db, "dip", lambda p: p["demand"]["points"][5].update(tokens_per_day=2e13))
    capsys.readouterr()
    assert main(["--db", db, "--format", "json", "backtest", "--scenario", "dip", "--as-of", "2024-12-31"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["known_points"] == 4 and len(data["points"]) == 2
    # the same as before the edit for what it scores: the Sep 2025 point's band is unchanged
    assert main(["--db", db, "--format", "json", "backtest", "--as-of", "2024-12-31"]) == 0
    story = json.loads(capsys.readouterr().out)
    assert data["points"][0] == story["points"][0]
    assert main(["--db", db, "backtest", "--scenario", "dip", "--as-of", "2025-12-31"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert ("demand does not grow (flat or falling) between two points, 2025-09-15 (3e+13 tokens/day) and "
            "2025-12-15 (2e+13)") in err
    assert "earliest --as-of" not in err
    # the forecast of that scenario still refuses it, naming the points
    assert main(["--db", db, "forecast", "--scenario", "dip"]) == 1
    assert "2025-09-15" in capsys.readouterr().err
