"""A scenario with no demand points has zero demand: the forecast read "none within the horizon" and
P(meet demand) 100% with no word of why, and a planner who deleted or mis-imported the points read
that the fleet covers demand (QA s36). Every reading now says there is nothing to meet."""

from __future__ import annotations

from engine.cli import main
from engine.forecast import NO_DEMAND_WORDS
from engine.store import open_store


def _no_points_db(tmp_path) -> str:
    db = str(tmp_path / "x.db")
    store = open_store(db)   # seeded with the story
    params = store.scenario("Story default")["params"]
    params["demand"]["points"] = []
    params["name"] = "nopts"
    store.save_scenario("nopts", params)
    return db


def test_the_forecast_says_it_has_no_demand_to_meet(tmp_path, capsys):
    db = _no_points_db(tmp_path)
    assert main(["--db", db, "forecast", "--scenario", "nopts", "--trials", "200"]) == 0
    out = capsys.readouterr().out
    first = next(line for line in out.splitlines() if line.startswith("first month demand exceeds"))
    assert first == f"first month demand exceeds capacity P50: none ({NO_DEMAND_WORDS})"
    assert f"note: {NO_DEMAND_WORDS}; add demand points" in out
    assert NO_DEMAND_WORDS.startswith("no demand to meet: demand is 0 in every month")
    # the story itself (it has points) reads as before
    assert main(["--db", db, "forecast", "--trials", "200"]) == 0
    assert NO_DEMAND_WORDS not in capsys.readouterr().out


def test_the_plan_says_so(tmp_path, capsys):
    db = _no_points_db(tmp_path)
    code = main(["--db", db, "plan", "--scenario", "nopts", "--until", "2025-06", "--samples", "100"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"note: {NO_DEMAND_WORDS}: the plan orders only for training deadlines" in out


def test_a_demand_scaled_to_zero_reads_the_same_without_blaming_the_points(tmp_path, capsys):
    """QA s36: Story default at demand scale 0 was told it had "no demand points" (it has six)."""
    db = str(tmp_path / "x.db")
    store = open_store(db)
    params = store.scenario("Story default")["params"]
    params["demand"]["scale"] = 0
    params["name"] = "scale0"
    store.save_scenario("scale0", params)
    assert main(["--db", db, "forecast", "--scenario", "scale0", "--trials", "200"]) == 0
    out = capsys.readouterr().out
    assert f"first month demand exceeds capacity P50: none ({NO_DEMAND_WORDS})" in out
    assert "(no demand points, or demand scaled to 0)" in out and f"note: {NO_DEMAND_WORDS}" in out
