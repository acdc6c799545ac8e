"""QA s24: `plan --scenario WHAT-IF` named neither the what-if's changes (its JSON had no
`baseline`/`changes`, unlike forecast's) nor the candidate prices it planned on: an H20 priced at
$18,750 in the what-if's Plan study read as the catalog's."""

import json

from engine.scenario_changes import apply_changes
from engine.store import open_store
from tests.cli_run import run_cli

WHAT_IF = "H20 dearer"
TARGET = ["--from", "2025-03", "--until", "2025-05", "--samples", "100"]
CHANGE = "Plan candidate H20 price the catalog's → 18,750 USD"


def _db(tmp_path) -> str:
    path = tmp_path / "p.db"
    store = open_store(path)
    try:
        params = apply_changes(store.scenario("Story default")["params"],
                               {"ui.plan.candidates.h20-96gb.unit_price_usd": 18750.0})
        params["name"] = WHAT_IF
        store.save_scenario(WHAT_IF, params)
    finally:
        store.close()
    return str(path)


def test_plan_of_a_what_if_names_its_baseline_changes_and_prices(tmp_path, capsys):
    db = _db(tmp_path)
    code, out, _ = run_cli(capsys, "--db", db, "--format", "json", "plan", "--scenario", WHAT_IF, *TARGET)
    assert code == 0
    data = json.loads(out)
    assert data["baseline"] == "Story default" and data["changes"] == [CHANGE]
    h20 = next(c for c in data["candidates"] if c["chip_id"] == "h20-96gb")
    assert h20["unit_price_usd"] == 18750.0 and h20["catalog_price_usd"] == 12000.0
    code, out, _ = run_cli(capsys, "--db", db, "plan", "--scenario", WHAT_IF, *TARGET)
    lines = out.splitlines()
    assert code == 0 and f"what-if of 'Story default': {CHANGE}" in lines
    terms = next(line for line in lines if line.startswith("candidates (price per chip"))
    assert "h20-96gb $18,750 (catalog $12,000), 3 months, 50,000" in terms
    # the baseline: a whole scenario, priced as the catalog
    code, out, _ = run_cli(capsys, "--db", db, "--format", "json", "plan", *TARGET)
    data = json.loads(out)
    assert code == 0 and data["baseline"] is None and data["changes"] == []
    assert all(c["unit_price_usd"] == c["catalog_price_usd"] for c in data["candidates"])


def test_a_refused_plan_of_a_what_if_names_it_too(tmp_path, capsys):
    db = _db(tmp_path)
    code, _, err = run_cli(capsys, "--db", db, "plan", "--scenario", WHAT_IF, "--samples", "100")
    assert code == 1 and "NO PLAN" in err and f"what-if of 'Story default': {CHANGE}" in err
    assert "candidates (price per chip" not in err   # the refusal stays one short line; the JSON has the terms
