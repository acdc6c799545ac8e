"""QA s36: "No Ascend 910B2 installed by 2026-12-07: pick a later date" was said of a fleet with no
910B2 orders at all, where no later date helps. The problem names what is missing."""

from dataclasses import replace

from engine.catalog import reference_chips, reference_models
from engine.forecast_inputs import story_orders
from engine.studies import TrainingStudy


def _fleet_problem(study, orders) -> str:
    problems = study.problems(reference_chips(), reference_models(), orders)
    return next(p.message for p in problems if p.field == "fleet_date")


def test_the_empty_fleet_problem_says_what_a_later_date_cannot_fix():
    orders = story_orders()
    study = TrainingStudy(chip_id="ascend-910b2", chips_source="fleet", fleet_date="2024-01-01")
    # chips delivered after the date: a later date helps
    assert _fleet_problem(study, orders) == ("No Ascend 910B2 installed by 2024-01-01: pick a later date, another "
                                             "chip, or enter a count.")
    # no order of the chip: a later date does not
    others = [o for o in orders if o.chip_id != "ascend-910b2"]
    assert _fleet_problem(study, others) == ("No Ascend 910B2 installed by 2024-01-01: the fleet has no Ascend 910B2 "
                                             "orders: add one in the Fleet view, pick another chip, or enter a count.")
    # ordered, nothing delivered yet
    undelivered = [replace(o, deliveries=()) for o in orders if o.chip_id == "ascend-910b2"]
    ordered = sum(o.quantity for o in undelivered)
    assert _fleet_problem(study, undelivered) == (
        f"No Ascend 910B2 installed by 2024-01-01: none of the {ordered:,} ordered is recorded as delivered: record "
        "deliveries in the Fleet view, pick another chip, or enter a count.")
