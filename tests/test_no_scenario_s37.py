"""QA s37: with every scenario deleted, `forecast` ran the built-in defaults under the name "Story
default", as if one were saved (`report` and `export`: tests/gui/test_no_scenario_s37.py)."""

import json

from engine.store import open_store
from tests.cli_run import run_cli


def _emptied(tmp_path):
    db = tmp_path / "empty.db"
    store = open_store(db)
    for row in store.scenarios():
        store.delete_scenario(row["name"])
    assert store.scenarios() == []
    store.close()
    return db


def test_forecast_says_it_runs_the_built_in_defaults(tmp_path, capsys):
    db = _emptied(tmp_path)
    code, out, err = run_cli(capsys, "--db", str(db), "forecast", "--trials", "100", "--months", "3",
                             "--format", "json")
    assert code == 0, err
    assert json.loads(out)["scenario"] == "built-in defaults (no scenario saved)"
