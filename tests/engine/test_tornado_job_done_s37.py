"""QA s37: the completion tornado's base is the median trial's finish; where more than half the
trials never finish, that median was a stand-in a year past the horizon, shown as a P50 date. The
engine says whether the median trial finishes."""

import pytest

from engine.forecast import scenario_from_dict
from engine.forecast_inputs import build_inputs
from engine.forecast_sensitivity import _metrics
from engine.store import open_store


@pytest.fixture
def story(tmp_path):
    store = open_store(tmp_path / "s.db")
    try:
        yield (store.orders(), {c.id: c for c in store.chips()}, {m.id: m for m in store.models()},
               scenario_from_dict(store.scenario("Story default")["params"]))
    finally:
        store.close()


def test_the_median_trial_finishes_the_story_job_and_not_without_its_chips(story):
    orders, chips, models, scenario = story
    done = _metrics(build_inputs(orders, chips, models, scenario), None, 200)
    assert done["job_done_p50"] == 1.0 and 0 < done["job_completion_days"] < 365
    # no 910B2 at all: the 405B job on it never starts
    without = [o for o in orders if o.chip_id != "ascend-910b2"]
    never = _metrics(build_inputs(without, chips, models, scenario), None, 200)
    assert never["job_done_p50"] == 0.0


def test_the_tornado_counts_a_shortfall_in_the_forecasts_unit():
    """QA s37: where the unit chip cannot serve, the tornado divided by 1.0 (tokens/s as "chips");
    the forecast counts in the first chip that can, and in none where none can."""
    import math
    from types import SimpleNamespace

    from engine.forecast_sensitivity import _unit_tput

    run = lambda rates: SimpleNamespace(unit_chip="a", serve_on=("a", "b"), chip_ids=("a", "b", "c"),  # noqa: E731
                                        serving_tput=rates)
    assert _unit_tput(run({"a": 300.0, "b": 500.0})) == 300.0
    assert _unit_tput(run({"a": 0.0, "b": 2.171})) == 2.171
    assert _unit_tput(run({"a": 0.0, "b": 0.0, "c": 7.0})) == 7.0
    assert math.isnan(_unit_tput(run({"a": 0.0, "b": 0.0})))
