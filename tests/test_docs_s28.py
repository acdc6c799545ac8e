"""QA s28 on the planner's outputs: the backtest scored "more than" demand points as exact outcomes;
the text forecast left out the first shortfall month unless another seed might move it; the plan's
and forecast's CSV rows carried no run context; planned orders' notes read "2025-03..2025-05"."""

import copy
import csv
import datetime as dt
import io
import json
from types import SimpleNamespace

import pytest

from engine.cli import main
from engine.forecast_backtest import Backtest, BacktestPoint

D = dt.date


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- 1. the backtest scores a floor as a floor ------------------------------------------------

@pytest.mark.parametrize("actual, is_floor, outcome, inside", [
    (50.0, False, "inside", True),
    (30.0, False, "below", False),
    (70.0, False, "above", False),
    # a floor the band does not refute is not known to be inside: None (QA s31: it read True, and
    # JSON/CSV counted it inside where the table printed "-")
    (50.0, True, "consistent", None),     # at least 50, band 40-60: inside or above, not refuted
    (30.0, True, "consistent", None),     # at least 30, below P10: no miss-low, the value may be 45
    (60.0, True, "consistent", None),     # the floor at P90 itself
    (70.0, True, "above", False),         # at least 70 > P90: outside wherever the true value is
])
def test_a_floor_point_is_scored_as_a_floor(actual, is_floor, outcome, inside):
    p = BacktestPoint(D(2025, 12, 15), actual, 40.0, 50.0, 60.0, actual_is_floor=is_floor)
    assert p.outcome == outcome and p.inside is inside


def test_coverage_counts_the_exact_points_only():
    pts = (BacktestPoint(D(2025, 1, 1), 45.0, 40.0, 50.0, 60.0),                        # inside
           BacktestPoint(D(2025, 2, 1), 35.0, 40.0, 50.0, 60.0),                        # below
           BacktestPoint(D(2025, 3, 1), 50.0, 40.0, 50.0, 60.0, actual_is_floor=True))  # consistent
    assert Backtest(D(2024, 12, 1), 3, "", pts).coverage == 0.5   # 1 of the 2 exact ones (was 2 of 3)
    assert Backtest(D(2024, 12, 1), 3, "", pts[2:]).coverage is None   # no exact point to score


def test_the_story_backtest_marks_its_floors_in_every_format(tmp_path, capsys):
    from engine.forecast import default_scenario

    db = str(tmp_path / "b.db")
    floors = {p.date.isoformat(): p.at_least for p in default_scenario().demand.points}
    assert floors["2025-12-15"] and floors["2025-09-15"] and not floors["2024-12-15"]
    code, out, _ = _run(capsys, "--db", db, "--format", "json", "backtest", "--as-of", "2025-09-15")
    data = json.loads(out)
    assert code == 0 and len(data["points"]) == 1
    point = data["points"][0]
    assert point["date"] == "2025-12-15" and point["actual"] == 50e12 and point["actual_is_floor"] is True
    # the floor sits inside the band (P10 ~41T, P90 ~67T): consistent, not "inside"
    assert point["p10"] < point["actual"] <= point["p90"] and point["outcome"] == "consistent"
    assert point["inside"] is None   # not known to be inside (it read true)
    assert data["coverage"] is None and data["exact_points"] == 0 and data["floor_points_consistent"] == 1
    assert data["median_actual_over_p50_is_floor"] is True and "floor" in data["notes"][0]

    code, out, _ = _run(capsys, "--db", db, "backtest", "--as-of", "2025-09-15")
    ratio = f"{point['actual_over_p50']:.3g}"
    assert code == 0 and f"the actual was \u2265 {ratio}x the median forecast" in out
    assert "no exact later point to score coverage on" in out and "100% of 1" not in out
    row = next(line for line in out.splitlines() if line.startswith("2025-12-15"))
    assert row.split()[1] == "\u226550" and f"\u2265{ratio}" in row.split() and "consistent" in row.split()
    assert "note: a floor point" in out

    code, out, _ = _run(capsys, "--db", db, "--format", "csv", "backtest", "--as-of", "2024-09-30")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["date"] for r in rows] == ["2024-12-15", "2025-09-15", "2025-12-15"]
    # the flag is the demand points' own at_least, the actual a number beside it
    assert [r["actual_is_floor"] == "True" for r in rows] == [floors[r["date"]] for r in rows]
    assert [float(r["actual_T_tokens_per_day"]) for r in rows] == [4.0, 30.0, 50.0]
    assert [r["outcome"] for r in rows][1:] == ["consistent", "consistent"]
    assert [r["inside"] for r in rows][1:] == ["", ""]   # not known: empty, as the table's "-"
    assert {r["coverage"] for r in rows} == {"1.0"}   # the one exact point, 2024-12, inside


def test_the_floor_flag_is_read_from_the_point_never_its_note(tmp_path, capsys):
    from engine.store import open_store

    db = str(tmp_path / "b.db")
    assert main(["--db", db, "chips", "list"]) == 0
    store = open_store(db)
    params = copy.deepcopy(store.scenario("Story default")["params"])
    for p in params["demand"]["points"]:
        if p["date"] == "2025-12-15":
            p.pop("at_least", None)   # the note still says 'more than'
            assert "more than" in p["note"]
    store.save_scenario("exact Dec", params)
    store.close()
    capsys.readouterr()
    code, out, _ = _run(capsys, "--db", db, "--format", "json", "backtest", "--scenario", "exact Dec",
                        "--as-of", "2025-09-15")
    data = json.loads(out)
    assert code == 0 and data["points"][0]["actual_is_floor"] is False
    assert data["points"][0]["outcome"] == "inside" and data["coverage"] == 1.0 and data["notes"] == []


# ---- 2. the text forecast always says the first shortfall month ----------------------------------

def test_the_text_forecast_states_the_first_shortfall_month_and_the_months_short(tmp_path, capsys):
    db = str(tmp_path / "f.db")
    code, out, _ = _run(capsys, "--db", db, "--format", "json", "forecast", "--months", "24")
    data = json.loads(out)
    figures = {f["figure"]: f["value"] for f in data["key_figures"]}
    assert code == 0 and not any("Monte Carlo range" in k for k in figures)   # not seed-ambiguous here
    first = figures["First month demand exceeds capacity P50 (date)"]
    months_short = sum(v > 0 for v in data["shortfall_p50"])
    assert first != "never" and months_short == figures["Months with a P50 shortfall (months)"] > 0
    code, out, _ = _run(capsys, "--db", db, "forecast", "--months", "24")
    assert code == 0
    assert f"first month demand exceeds capacity P50: {first[:7]} (read on {first})" in out
    assert f"months with a P50 shortfall: {months_short} of 24" in out


def test_a_forecast_with_no_shortfall_says_none_within_the_horizon(tmp_path, capsys):
    code, out, _ = _run(capsys, "--db", str(tmp_path / "f.db"), "forecast", "--months", "6")
    assert code == 0
    assert "first month demand exceeds capacity P50: none within the horizon (2024-05 to 2024-10)" in out
    assert "months with a P50 shortfall: 0 of 6" in out


# ---- 3. CSV rows carry their run -------------------------------------------------------------------

def test_forecast_csv_rows_carry_the_scenario_trials_and_seed(tmp_path, capsys):
    code, out, _ = _run(capsys, "--db", str(tmp_path / "f.db"), "--format", "csv", "forecast", "--months", "4",
                        "--trials", "300", "--seed", "7")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 4
    assert {(r["scenario"], r["trials"], r["seed"]) for r in rows} == {("Story default", "300", "7")}


PLAN = ["plan", "--from", "2025-03", "--until", "2025-05", "--samples", "40"]


def test_plan_csv_rows_carry_the_plan_they_belong_to(tmp_path, capsys):
    db = str(tmp_path / "p.db")
    code, out, err = _run(capsys, "--db", db, "--format", "json", *PLAN)
    plan = json.loads(out)
    assert code == 0 and plan["feasible"] and plan["orders"], err
    code, out, _ = _run(capsys, "--db", db, "--format", "csv", *PLAN)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == len(plan["orders"])
    for row, order in zip(rows, plan["orders"], strict=True):
        assert (row["chip_id"], int(row["quantity"])) == (order["chip_id"], order["quantity"])
        assert row["scenario"] == "Story default"
        assert (row["target_from_month"], row["target_until_month"]) == ("2025-03", "2025-05")
        assert float(row["confidence"]) == plan["confidence"] == 0.9
        assert float(row["min_prob_meet_in_target"]) == plan["min_prob_meet_in_target"] >= 0.9
        assert int(row["fresh_trials"]) == plan["fresh_trials"] and int(row["fresh_seed"]) == plan["fresh_seed"]
        assert int(row["total_cost_usd"]) == round(plan["total_cost_usd"]) == sum(o["cost_usd"] for o in plan["orders"])


def test_a_refused_plan_in_csv_says_why_on_stderr_in_one_line_and_exits_1(tmp_path, capsys):
    code, out, err = _run(capsys, "--db", str(tmp_path / "p.db"), "--format", "csv", "plan", "--until", "2025-12")
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 1 and lines[0].startswith("fleetcast: error: ")
    assert "NO PLAN for P(meet demand) >= 90%" in lines[0] and "Traceback" not in err
    assert out == ""   # no rows of a plan that is not one


def test_planned_orders_say_the_target_is_read_on_the_1st_of_each_month():
    from engine.forecast_plan import Candidate, PlannedOrder
    from engine.studies_forecast import plan_order_rows

    order = PlannedOrder("h20-96gb", 41000, D(2024, 11, 1), D(2025, 2, 1), 41000 * 12_000.0)
    result = SimpleNamespace(orders=(order,), from_month=D(2025, 3, 1), until_month=D(2025, 5, 1))
    rows = plan_order_rows(result, 0.9, [Candidate("h20-96gb", "NVIDIA", 12_000.0, 3, 50_000.0)])
    assert rows[0]["note"] == "planned for P(meet demand) >= 90% on the 1st of each month, Mar 1 - May 1 2025"
    one = SimpleNamespace(orders=(order,), from_month=D(2025, 3, 1), until_month=D(2025, 3, 1))
    assert plan_order_rows(one, 0.9, [])[0]["note"] == "planned for P(meet demand) >= 90% on Mar 1 2025"


def test_a_plan_that_needs_no_order_still_says_so_in_csv(tmp_path, capsys):
    """QA s28: `plan --format csv --from 2025-01 --until 2025-02` printed a header only."""
    import csv as _csv
    import io as _io

    from engine.cli import main as _main

    db = str(tmp_path / "p.db")
    assert _main(["--db", db, "--format", "csv", "plan", "--from", "2025-01", "--until", "2025-02"]) == 0
    rows = list(_csv.DictReader(_io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["chip_id"] == "" and rows[0]["quantity"] == ""
    assert rows[0]["target_from_month"] == "2025-01" and rows[0]["target_until_month"] == "2025-02"
    assert float(rows[0]["min_prob_meet_in_target"]) >= 0.9 and float(rows[0]["total_cost_usd"]) == 0


def test_dash_is_refused_where_it_is_not_standard_output(tmp_path, capsys, monkeypatch):
    """QA s28: `plan --orders-csv -` wrote a file named '-', and `orders import -` imported such a
    file silently; '-' is standard output for export only."""
    from engine.cli import main as _main

    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "p.db")
    (tmp_path / "-").write_text("buyer,vendor,chip_id,quantity,order_date\nX,NVIDIA,h20-96gb,5,2025-01-01\n")
    for argv in (["orders", "import", "-"], ["chips", "import", "-"],
                 ["plan", "--from", "2025-03", "--until", "2025-05", "--orders-csv", "-"]):
        assert _main(["--db", db, *argv]) != 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "-" in err and "Traceback" not in err, err
    assert _main(["--db", db, "--format", "json", "orders", "list"]) == 0
    assert "\"X\"" not in capsys.readouterr().out     # the stray '-' file was not imported
