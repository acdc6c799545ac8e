"""`fleetcast forecast` on the seeded database: the contract keys, formats, errors."""

import csv
import io
import json

import pytest

from engine.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def story_json(tmp_path_factory):
    import os
    import subprocess
    import sys

    db = tmp_path_factory.mktemp("db") / "fleetcast.db"
    out = subprocess.run([sys.executable, "-m", "engine.cli", "--db", str(db), "forecast", "--trials", "2000",
                          "--months", "60", "--format", "json"], capture_output=True, text=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, check=True)
    return json.loads(out.stdout)


def test_json_has_the_contract_keys_per_month(story_json):
    d = story_json
    assert len(d["months"]) == 60 and d["months"][0] == "2024-05-01" and d["months"][-1] == "2029-04-01"
    for key in ("capacity_p10", "capacity_p50", "capacity_p90", "demand", "shortfall_p50", "prob_meet_demand"):
        assert len(d[key]) == 60, key
    for lo, mid, hi in zip(d["capacity_p10"], d["capacity_p50"], d["capacity_p90"]):
        assert lo <= mid <= hi
    assert all(0 <= p <= 1 for p in d["prob_meet_demand"])
    assert all(s >= 0 for s in d["shortfall_p50"])
    assert d["throughput_source"] in ("engine", "roofline fallback") or d["throughput_source"].startswith("mixed")


def test_demand_comes_with_its_band(story_json):
    """Demand growth is most of the uncertainty a year out, yet the CLI gave demand as one number
    while capacity had P10/P50/P90: the band the charts draw is in the JSON and the table too."""
    d = story_json
    for lo, mid, hi in zip(d["demand_p10"], d["demand"], d["demand_p90"]):
        assert lo <= mid <= hi
    width = [hi / lo for lo, hi in zip(d["demand_p10"], d["demand_p90"])]
    assert width[-1] > 3 * width[0] > 1          # wider far out, where growth is extrapolated
    assert all(lo <= hi for lo, hi in zip(d["demand_tokens_per_day_p10"], d["demand_tokens_per_day_p90"]))
    assert "demand_p10" in d["units"]["demand"]


def test_story_answers(story_json):
    d = story_json
    ascend = d["by_chip"]["ascend-910b2"]
    # The seeded 910B order: 30,000 delivered Jul-Sep 2024, so by 2024-12 about 30,000 are installed.
    i = d["months"].index("2024-12-01")
    assert 29_000 < ascend["installed_p50"][i] <= 30_000
    # The bands open up after the outstanding 70,000 become uncertain, and never exceed the order.
    j = d["months"].index("2026-01-01")
    assert ascend["installed_p10"][j] < ascend["installed_p50"][j] < ascend["installed_p90"][j] <= 100_000
    # Doubao's demand outgrows the fleet: a shortfall with low probability of meeting demand by 2026.
    assert d["demand"][j] > d["demand"][0] * 10
    assert d["shortfall_p50"][j] > 0 and d["prob_meet_demand"][j] < 0.5
    job = d["training_jobs"][0]
    assert job["model_id"] == "llama3-405b" and job["chip_id"] == "ascend-910b2"
    assert set(job) >= {"completion_p10", "completion_p50", "completion_p90", "prob_finish_within_horizon"}
    done = [job[k] for k in ("completion_p10", "completion_p50", "completion_p90") if job[k]]
    assert done == sorted(done)
    # the seeded job's deadline and the chance it is met (the jobs editor promised the forecast reports it)
    assert job["deadline"] == "2025-12-31" and 0.0 <= job["prob_done_by_deadline"] <= job["prob_finish_within_horizon"]


def test_same_seed_same_numbers_and_csv_has_unit_columns(capsys):
    args = ("forecast", "--trials", "300", "--months", "18", "--seed", "5")
    code1, out1, _ = run_cli(capsys, *args, "--format", "json")
    code2, out2, _ = run_cli(capsys, *args, "--format", "json")
    assert code1 == code2 == 0 and out1 == out2
    code, out, _ = run_cli(capsys, *args, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 18
    assert {"month", "installed_p50_chips", "capacity_p50_chips_ascend-910b2", "demand_chips_ascend-910b2",
            "prob_meet_demand_pct", "pflops_p50", "h100_equiv_p50"} <= set(rows[0])
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and "405B" in out and "month" in out


def test_saved_scenario_is_used(capsys):
    from engine.forecast import default_scenario, scenario_to_dict
    from engine.store import open_store

    params = scenario_to_dict(default_scenario())
    params.update(months=6, trials=100, jobs=[])
    store = open_store(None)
    store.save_scenario("short", params)
    store.close()
    code, out, _ = run_cli(capsys, "forecast", "--scenario", "short", "--format", "json")
    assert code == 0
    d = json.loads(out)
    assert d["scenario"] == "short" and len(d["months"]) == 6 and d["training_jobs"] == []


@pytest.mark.parametrize("argv, needle", [
    (("forecast", "--trials", "0"), "--trials: 0"),
    (("forecast", "--months", "9999"), "--months: 9999"),
    (("forecast", "--start", "May 2024"), "--start: 'May 2024'"),
    (("forecast", "--start", "2024-05-20"), "--start: '2024-05-20' (must be YYYY-MM: the forecast works in whole months)"),
    (("forecast", "--scenario", "nope"), "nope"),
    # a typo'd year answered "0 chips installed" for 35 years instead of naming the field
    (("forecast", "--start", "1990-01"), "--start: 1990-01 (must be from 2000-01 to 2100-12)"),
])
def test_bad_input_is_one_line_and_exit_1(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_saved_scenario_names_field(capsys):
    from engine.store import open_store

    store = open_store(None)
    store.save_scenario("broken", {"demand": {"kind": "cubic"}})
    store.close()
    code, _, err = run_cli(capsys, "forecast", "--scenario", "broken")
    assert code == 1 and "demand.kind: 'cubic'" in err


def test_another_vendors_order_does_not_move_the_910b_forecast(capsys, tmp_path):
    """Adding a later H100 order from another buyer leaves the 910B bands exactly as they were."""
    import json

    from engine.cli import main

    db = str(tmp_path / "f.db")
    argv = ["--db", db, "forecast", "--trials", "500", "--months", "36", "--format", "json"]
    assert main(argv) == 0
    before = json.loads(capsys.readouterr().out)["by_chip"]["ascend-910b2"]
    extra = tmp_path / "acme.csv"
    extra.write_text("buyer,vendor,chip_id,quantity,order_date,promised,deliveries\n"
                     "Acme,NVIDIA,h100-sxm5-80gb,1000,2025-01-01,2025-06-01:1000,2025-06-15:500\n")
    assert main(["--db", db, "orders", "import", str(extra)]) == 0
    capsys.readouterr()
    assert main(argv) == 0
    after = json.loads(capsys.readouterr().out)["by_chip"]["ascend-910b2"]
    for key in ("installed_p10", "installed_p50", "installed_p90"):
        assert after[key] == before[key]


def test_without_scenario_the_saved_baseline_is_used_as_report_and_the_window_use_it(capsys):
    """`forecast` and `plan` without --scenario ran the built-in story, labelled "Story default",
    while `report` and the window used the saved "Story default" with the user's edits."""
    from engine.store import open_store

    args = ("forecast", "--trials", "200", "--months", "24", "--format", "json")
    code, out, _ = run_cli(capsys, *args)
    before = json.loads(out)
    store = open_store(None)
    params = store.scenario("Story default")["params"]
    store.save_scenario("Story default", {**params, "demand": {**params["demand"], "scale": 2.0}})
    store.close()
    code, out, _ = run_cli(capsys, *args)
    after = json.loads(out)
    assert code == 0 and after["scenario"] == before["scenario"] == "Story default"
    assert after["demand"][12] == pytest.approx(2 * before["demand"][12], rel=1e-5)   # JSON keeps 0.1 chip
    code, named, _ = run_cli(capsys, *args[:-2], "--scenario", "Story default", "--format", "json")
    assert json.loads(named)["demand"] == after["demand"]


def test_a_scenario_with_empty_prompts_is_refused_not_blank(capsys):
    """Input per request 0 passed the checks, then every month's capacity came out blank with
    P(meet) 0 and exit 0."""
    from engine.store import open_store

    store = open_store(None)
    params = store.scenario("Story default")["params"]
    store.save_scenario("in0", {**params, "demand": {**params["demand"], "input_tokens_per_request": 0}})
    store.close()
    code, out, err = run_cli(capsys, "forecast", "--scenario", "in0")
    assert code == 1 and "demand.input_tokens_per_request: 0" in err and "must be >= 1 token" in err and not out


def test_a_job_that_may_start_before_the_window_says_it_is_counted_from_its_first_month(capsys):
    code, out, _ = run_cli(capsys, "forecast", "--start", "2025-05", "--months", "24", "--trials", "200",
                           "--format", "json")
    d = json.loads(out)
    assert code == 0 and d["training_jobs"][0]["start_p50"] == "2025-05-01"
    assert any("may start 2025-01, before the forecast's first month 2025-05" in n for n in d["throughput_notes"])
    code, out, _ = run_cli(capsys, "forecast", "--start", "2024-05", "--months", "24", "--trials", "200",
                           "--format", "json")
    assert not any("before the forecast's first month" in n for n in json.loads(out)["throughput_notes"])
    code, out, _ = run_cli(capsys, "forecast", "--start", "2023-01", "--months", "24", "--trials", "200",
                           "--format", "json")   # a piecewise curve is flat before its first point: said so
    assert any(n.startswith("demand before its first point (2024-05) is held") for n in json.loads(out)["throughput_notes"])


def test_forecast_csv_writes_whole_numbers_as_whole(capsys, tmp_path):
    """Chip counts of 0 read "0.0" beside "9798" in the same row."""
    db = str(tmp_path / "f.db")
    assert main(["--db", db, "forecast", "--months", "3", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    cells = [v for row in rows for k, v in row.items() if k != "month"]
    assert "0.0" not in cells and all(not v.endswith(".0") for v in cells)
    assert all(0 <= float(row["prob_meet_demand_pct"]) <= 100 for row in rows)


def test_key_figure_probabilities_are_whole_percent(capsys, tmp_path):
    """Compare showed "95.55" where the Forecast summary and the report say 96%: 2,000 trials
    know a probability near 95% to about half a point."""
    assert main(["--db", str(tmp_path / "k.db"), "forecast", "--trials", "300", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    figures = {f["figure"]: f["value"] for f in d["key_figures"]}
    p12 = figures["P(meet demand) 12 months in (%)"]
    assert isinstance(p12, int) and p12 == round(100 * d["prob_meet_demand"][12])


def test_no_scenario_named_runs_the_databases_baseline_even_renamed_and_never_a_what_if(tmp_path, capsys):
    """The baseline renamed "Zeta base": `forecast` without --scenario ran "H20 cut off (Apr 2025)",
    the first name in alphabetical order. Deleted: the same what-if, as if it were the baseline."""
    from engine.store import open_store

    db = tmp_path / "f.db"
    store = open_store(db)
    store.rename_scenario("Story default", "Zeta base")
    store.close()
    code, out, _ = run_cli(capsys, "--db", str(db), "forecast", "--trials", "100", "--months", "3", "--format", "json")
    assert code == 0 and json.loads(out)["scenario"] == "Zeta base"
    store = open_store(db)
    store.delete_scenario("Zeta base")
    store.close()
    code, out, err = run_cli(capsys, "--db", str(db), "forecast", "--trials", "100", "--months", "3")
    assert code == 1 and "no baseline scenario (it was deleted); name one with --scenario" in err
    assert "'H20 cut off (Apr 2025)'" in err and out == ""
