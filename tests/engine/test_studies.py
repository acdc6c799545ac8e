"""Studies: versioned round trips, problems in user words and units, and the figures they give
(no Qt: the same functions serve the GUI, the CLI and scenarios)."""

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from engine.catalog import reference_chips, reference_models
from engine.errors import UserError
from engine.fleet import Delivery, Order
from engine.studies import (
    STUDY_VERSION, ServingStudy, TrainingStudy, chips_for_demand, demand_per_day, training_key_figures,
    training_top_layouts,
)
from engine.training import estimate_run, search_layouts

CHIPS = reference_chips()
MODELS = reference_models()


def _orders():
    return [Order(id=1, buyer="B", vendor="Huawei", chip_id="ascend-910b2", quantity=100_000,
                  order_date=dt.date(2024, 1, 15),
                  deliveries=(Delivery(1, 1, dt.date(2024, 7, 1), 30_000),))]


def test_training_study_round_trips_through_json():
    study = TrainingStudy(num_chips=2048, layout_mode="fixed", layout={"tp": 4, "pp": 8}, compare_chips=("h20-96gb",))
    data = json.loads(json.dumps(study.to_dict()))
    assert data["version"] == STUDY_VERSION
    again = TrainingStudy.from_dict(data)
    assert again == TrainingStudy.from_dict(again.to_dict())
    assert again.layout["tp"] == 4 and again.layout["zero"] == 1  # missing layout keys take defaults
    assert TrainingStudy.from_dict({"num_chips": 64, "unknown": 1}).num_chips == 64  # old/partial dicts load
    with pytest.raises(UserError, match="newer"):
        TrainingStudy.from_dict({"version": STUDY_VERSION + 1})


def test_training_problems_name_the_field_in_user_words():
    study = TrainingStudy(chip_id="ascend-910b2", num_chips=1024, layout_mode="fixed",
                          layout={"tp": 3, "pp": 4, "cp": 1, "ep": 1}, dtype="fp8")
    problems = {(p.field, p.message) for p in study.problems(CHIPS, MODELS)}
    assert ("tp", "TP × PP × CP = 12 does not divide 1,024 chips.") in problems
    assert ("tp", "TP 3 does not divide the 64 attention heads.") in problems
    assert ("dtype", "Ascend 910B2 has no FP8 matrix units: use BF16.") in problems
    with pytest.raises(UserError, match="does not divide"):
        study.training_inputs(CHIPS, MODELS)


def test_fleet_source_counts_installed_chips_after_the_lag():
    orders = _orders()
    study = TrainingStudy(chips_source="fleet", fleet_date="2024-07-30")
    assert study.chips_used(orders) == 0  # 29 days after the delivery
    assert [p.field for p in study.problems(CHIPS, MODELS, orders)] == ["fleet_date"]
    ready = TrainingStudy(chips_source="fleet", fleet_date="2024-07-31")
    assert ready.training_inputs(CHIPS, MODELS, orders).num_chips == 30_000
    assert TrainingStudy(chips_source="fleet").day(orders) == dt.date(2024, 8, 1)  # default: all installed


def test_key_figures_and_top_layouts_come_from_the_search():
    inputs = TrainingStudy(chip_id="h100-sxm5-80gb", num_chips=512).training_inputs(CHIPS, MODELS)
    search = search_layouts(inputs, top_k=3)
    best = search.best
    estimate = estimate_run(15e12, best.tokens_per_s_per_chip, 512, inputs.chip, params=float(inputs.model.total_params()))
    rows = {r[0]: (r[1], r[2]) for r in training_key_figures(inputs, best, estimate)}
    assert rows["Chip"] == ("H100 SXM5 80GB", "")
    assert rows["Throughput"][0] == pytest.approx(best.tokens_per_s_per_chip * 512)
    assert rows["Tokens per step"][0] == rows["Global batch"][0] * inputs.seq
    assert rows["Time to train"] == (estimate.time_to_train_days, "days")
    headers, table = training_top_layouts(search)
    assert len(table) == 3 and sum("(" in h for h in headers) == 12  # units on every numeric column
    assert [row[0] for row in table] == [1, 2, 3]
    assert table[0][11] == pytest.approx(best.tokens_per_s_per_chip)


def test_serving_study_round_trip_problems_and_demand_units():
    study = ServingStudy(chip_id="ascend-910b2", weight_dtype="fp8", kv_dtype="fp8", tp=3)
    assert ServingStudy.from_dict(json.loads(json.dumps(study.to_dict()))) == study
    fields = [p.field for p in study.problems(CHIPS, MODELS)]
    assert fields == ["tp", "weight_dtype", "kv_dtype"]
    assert ServingStudy().problems(CHIPS, MODELS) == []
    assert demand_per_day(1_000_000) == 86_400_000_000
    assert ServingStudy(demand_tokens_per_s=2.0).demand_tokens_per_day == 172_800


def test_chips_for_demand_rounds_up_to_whole_replicas():
    cap = SimpleNamespace(feasible=True, output_tokens_per_s_per_chip=100.0, chips_per_replica=8)
    assert chips_for_demand(cap, 0) == 0
    assert chips_for_demand(cap, 800) == 8         # exactly one replica of 800 tokens/s
    assert chips_for_demand(cap, 801) == 16        # a second replica
    assert chips_for_demand(SimpleNamespace(feasible=False), 10) is None
