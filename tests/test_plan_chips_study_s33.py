"""`plan --scenario NAME --chips ...`: the flag names the candidates, and the saved Plan study's
prices, lead times and caps hold for them (QA s33: naming the two chips ticked in the window planned
them at the packaged 50,000 / 25,000 a quarter where the study had 1,000,000, and found no plan;
`plan --help` says the study gives every setting a flag does not)."""

import json

from engine.store import open_store
from tests.cli_run import run_cli

PLAN_STUDY = {"confidence": 0.9, "from_month": "2025-03", "until_month": "2025-05", "budget_usd": None,
              "samples": 200, "version": 1,
              "candidates": {"h20-96gb": {"max_per_quarter": 60000, "unit_price_usd": 11000.0},
                             "ascend-910b2": {"use": False, "lead_time_months": 4.0}}}


def _plan(tmp_path, capsys, monkeypatch, *flags) -> dict:
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    db = tmp_path / "a.db"
    store = open_store(db)
    params = store.scenario("Story default")["params"]
    params["ui"] = {"plan": PLAN_STUDY}
    store.save_scenario("Story default", params)
    store.close()
    code, out, err = run_cli(capsys, "--db", str(db), "--format", "json", "plan", "--scenario", "Story default",
                             *flags)
    assert code == 0, err
    return json.loads(out)


def _candidates(tmp_path, capsys, monkeypatch, *flags):
    return {c["chip_id"]: (c["unit_price_usd"], c["lead_time_months"], c["max_per_quarter"])
            for c in _plan(tmp_path, capsys, monkeypatch, *flags)["candidates"]}


def test_chips_named_keep_the_study_s_prices_lead_times_and_caps(tmp_path, capsys, monkeypatch):
    got = _candidates(tmp_path, capsys, monkeypatch, "--chips", "h20-96gb,ascend-910b2")
    # the 910B2, unticked in the study, is planned because the flag names it, at the study's lead time
    assert got == {"h20-96gb": (11000.0, 3, 60000), "ascend-910b2": (16854.0, 4, 25000)}


def test_without_chips_the_study_s_ticks_hold(tmp_path, capsys, monkeypatch):
    got = _candidates(tmp_path, capsys, monkeypatch)
    assert "ascend-910b2" not in got and got["h20-96gb"] == (11000.0, 3, 60000)


def test_the_notes_say_the_study_s_ticks_give_way(tmp_path, capsys, monkeypatch):
    """The what-if's changes still list the study's ticks ("Plan candidate H20 use yes -> no"): with
    --chips a note says they do not apply here (QA s33)."""
    notes = _plan(tmp_path, capsys, monkeypatch, "--chips", "h20-96gb")["candidate_notes"]
    assert any(n.startswith("--chips names the candidates: the saved Plan study's ticks do not apply") for n in notes)
