"""QA s21 (N): a what-if's `forecast --scenario` output and PDF report named neither its baseline
nor what it changes; and --scenario's help named the baseline 'Story default', wrong after a rename."""

import datetime as dt
import html
import json
from pathlib import Path

import pytest

from engine.cli import build_parser, main
from engine.store import open_store

CUT = "H20 cut off (Apr 2025)"
ARGV = ["forecast", "--trials", "100", "--months", "6"]
CHANGED = ("export cut-offs: H20 cut-off replaces the baseline's (50% in 2025-01..2025-12) with 100% "
           "from 2025-04-09")


def test_forecast_of_a_what_if_names_its_baseline_and_changes(tmp_path, capsys):
    db = str(tmp_path / "f.db")
    assert main(["--db", db, "--format", "json", *ARGV, "--scenario", CUT]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["baseline"] == "Story default" and data["changes"] == [CHANGED]
    assert main(["--db", db, *ARGV, "--scenario", CUT]) == 0
    assert f"what-if of 'Story default': {CHANGED}" in capsys.readouterr().out.splitlines()
    assert main(["--db", db, "--format", "json", *ARGV]) == 0   # the baseline: a whole scenario
    data = json.loads(capsys.readouterr().out)
    assert data["baseline"] is None and data["changes"] == []


def test_the_reports_title_names_the_baseline_and_changes(tmp_path):
    from engine.commands.forecast import what_if_of
    from gui.report import ReportContext, title_section

    store = open_store(tmp_path / "r.db")
    try:
        def title(name: str) -> str:
            ctx = ReportContext(scenario=name, params={}, created=dt.datetime(2025, 1, 1), db_path=Path(store.path),
                                figures={}, tables={}, charts=[], orders=[], chips={}, stored_calibration={},
                                accuracy={}, extra={"what_if": what_if_of(store, name)})
            return title_section(ctx)

        assert f"<p><b>What-if of {html.escape(repr('Story default'))}: {html.escape(CHANGED)}</b></p>" in title(CUT)
        assert "What-if of" not in title("Story default")
        store.rename_scenario("Story default", "Base 2025")   # the what-if follows its baseline's name
        assert what_if_of(store, CUT) == ("Base 2025", [CHANGED])
    finally:
        store.close()


@pytest.mark.parametrize("command", ["forecast", "export", "report"])
def test_scenario_help_names_no_baseline(command):
    from gui.__main__ import _gui_registrars

    parser = build_parser(extra_registrars=_gui_registrars())
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    text = next(a for a in sub._actions if a.dest == "scenario").help
    assert "Story default" not in text and "the database's baseline scenario" in text
