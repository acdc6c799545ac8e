"""QA s37: with latency targets no chip can meet (TPOT 8 ms), capacity is 0 and P(meet) 0% in
every month, yet the forecast read "months with a P50 shortfall: 0 of 60" and "none within the
horizon" (the unit-chip figures were NaN, and NaN > 0 is False), and Compare showed it as the best
scenario. Every month with demand is short, and the figures in unit chips say why they are not
counted."""

import copy
import json

from engine.store import open_store
from engine.studies_forecast import SERVES_NOTHING_VALUE
from tests.cli_run import run_cli


def test_a_scenario_no_chip_can_serve_is_short_in_every_month(tmp_path, capsys):
    db = tmp_path / "s.db"
    store = open_store(db)
    params = copy.deepcopy(store.scenario("Story default")["params"])
    params["demand"]["tpot_ms"] = 8.0
    params["trials"] = 200
    store.save_scenario("TPOT 8", {**params, "name": "TPOT 8"})
    store.close()
    code, out, _ = run_cli(capsys, "--db", str(db), "forecast", "--scenario", "TPOT 8")
    assert code == 0
    assert "first month demand exceeds capacity P50: 2024-05 (read on 2024-05-01)" in out
    assert ("months with a P50 shortfall: 60 of 60 (no chip serves the model under its latency targets: "
            "the capacity is 0)") in out
    code, out, _ = run_cli(capsys, "--db", str(db), "forecast", "--scenario", "TPOT 8", "--format", "json")
    figures = {row["figure"]: row["value"] for row in json.loads(out)["key_figures"]}
    assert figures["Months with a P50 shortfall (months)"] == 60
    assert figures["First month demand exceeds capacity P50 (date)"] == "2024-05-01"
    assert figures["Largest P50 shortfall (ascend-910b2 chips)"] == SERVES_NOTHING_VALUE
    assert figures["P(meet demand) 12 months in (%)"] == 0
    # a target one chip meets keeps its figures in unit chips
    code, out, _ = run_cli(capsys, "--db", str(db), "forecast", "--format", "json")
    figures = {row["figure"]: row["value"] for row in json.loads(out)["key_figures"]}
    assert isinstance(figures["Largest P50 shortfall (ascend-910b2 chips)"], (int, float))
