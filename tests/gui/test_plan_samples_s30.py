"""The Plan view's "Fitted on" took 40-1,000 trials while `plan --samples` and a saved Plan study
take 20-2,000: a study saved at 2,000 trials by the CLI showed, and was saved back, as 1,000."""

import pytest

from engine.studies_forecast import PLAN_SAMPLES, PlanStudy


@pytest.mark.parametrize("samples", [20, 2000])
def test_a_saved_study_at_the_clis_bounds_round_trips_through_the_view(plan_panel, samples):
    state = PlanStudy(samples=samples).to_dict()
    plan_panel.apply_scenario_state(state)
    assert plan_panel.samples.value() == samples
    assert plan_panel.scenario_state()["samples"] == samples
    assert not [p for p in PlanStudy.from_dict(plan_panel.scenario_state()).problems() if p.field == "samples"]


def test_the_view_and_the_engine_share_one_range(plan_panel):
    assert (plan_panel.samples.minimum(), plan_panel.samples.maximum()) == PLAN_SAMPLES == (20, 2000)
    for n in (PLAN_SAMPLES[0] - 1, PLAN_SAMPLES[1] + 1):
        assert [p.field for p in PlanStudy(samples=n).problems()] == ["samples"]
