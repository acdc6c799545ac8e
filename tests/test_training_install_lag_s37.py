"""QA s37: "the fleet installed on" a date counted a fixed 30-day install lag inside a what-if whose
lag was 120 days: `train --scenario` ran on 30,000 Ascend 910B2 on 2024-11-01 where the scenario's
forecast had none of them in service. The Training study counts its scenario's lag."""

import copy
import datetime as dt
import json
from dataclasses import replace

from engine.catalog import reference_chips
from engine.forecast_inputs import story_orders
from engine.store import open_store
from engine.studies import TrainingStudy, fleet_note
from tests.cli_run import run_cli


def test_the_study_counts_the_lag_it_is_given_and_never_saves_it():
    orders = story_orders()
    study = TrainingStudy(chip_id="ascend-910b2", chips_source="fleet", fleet_date="2024-11-01")
    # the story's 910B2 deliveries: 10,000 each on 1 Jul, 1 Aug and 1 Sep 2024
    assert study.chips_used(orders) == 30_000   # 30 days: the last one in service from 1 Oct
    late = replace(study, install_lag_days=120.0)
    assert late.chips_used(orders) == 10_000     # 120 days: delivered by 4 Jul
    assert replace(study, install_lag_days=130.0).chips_used(orders) == 0   # delivered by 24 Jun: none
    note = fleet_note(late, reference_chips(), orders)
    assert "(delivered by 2024-07-04, the scenario's 120-day install lag, as recorded" in note
    assert "install_lag_days" not in late.to_dict()
    assert TrainingStudy.from_dict({**study.to_dict(), "install_lag_days": 5}).install_lag_days == 30.0
    # the default date (the month after every delivery is in service, the H20's of 1 Dec 2024 last)
    # moves with the lag: + 30 days = 31 Dec, + 120 days = 31 Mar
    assert TrainingStudy(chips_source="fleet").day(orders) == dt.date(2025, 1, 1)
    assert replace(TrainingStudy(chips_source="fleet"), install_lag_days=120.0).day(orders) == dt.date(2025, 4, 1)


def test_train_scenario_uses_the_scenarios_lag(tmp_path, capsys):
    db = tmp_path / "lag.db"
    store = open_store(db)
    params = copy.deepcopy(store.scenario("Story default")["params"])
    params["install_lag_days"] = 120.0
    params.setdefault("ui", {})["training"] = {**TrainingStudy(
        model_id="llama3-8b", chip_id="ascend-910b2", chips_source="fleet", fleet_date="2024-12-01",
        tokens_t=1.0).to_dict()}
    store.save_scenario("Lag 120", {**params, "name": "Lag 120"})
    store.close()
    code, out, err = run_cli(capsys, "--db", str(db), "--format", "json", "train", "--scenario", "Lag 120")
    assert code == 0, err
    # the seeded database's 910B2 deliveries: 10,000 each on 15 Jul, 15 Aug and 15 Sep 2024;
    # 1 Dec 2024 - 120 days = 3 Aug 2024: July's alone (30 days: all three)
    assert json.loads(out)["num_chips"] == 10_000
    code, out, err = run_cli(capsys, "--db", str(db), "--format", "json", "train", "--scenario", "Story default")
    assert code == 0, err
