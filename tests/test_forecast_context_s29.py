"""QA s29: a Forecast request longer than the served model's context is named by the field that
took it past the context (an output raised to 50,000 tokens read "input_tokens_per_request"), and
the form's checks catch it before a Save stores a scenario every later run refuses."""

from dataclasses import replace

import pytest

from engine.catalog import reference_models
from engine.errors import ValidationError
from engine.forecast import default_scenario
from engine.forecast_inputs import build_inputs, story_orders
from engine.models import context_fields
from engine.studies_forecast import ForecastStudy

MODELS = reference_models()
QWEN = MODELS["qwen3-235b-a22b"]   # context_len 40,960


@pytest.mark.parametrize("input_tokens, output_tokens, field", [
    (1_000, 50_000, "output_tokens_per_request"),     # the output alone is past the context
    (1, 40_960, "output_tokens_per_request"),         # an output filling the context leaves no room
    (100_000, 500, "input_tokens_per_request"),       # the prompt alone is past the context
    (40_960, 1, "input_tokens_per_request"),          # a prompt filling the context leaves no room
    (30_000, 20_000, "input_tokens_per_request"),     # neither alone: the prompt's field, both in the words
    (20_000, 20_960, ""),                             # exactly the context: served
])
def test_the_field_named_is_the_one_past_the_context(input_tokens, output_tokens, field):
    named, words = context_fields(QWEN, input_tokens, output_tokens)
    assert named == field
    assert bool(words) == bool(field)
    if field:
        assert f"{input_tokens + output_tokens:,} tokens exceed" in words and "40,960" in words


def _scenario(input_tokens, output_tokens):
    sc = default_scenario()
    assert sc.demand.model_id == "qwen3-235b-a22b"
    return replace(sc, demand=replace(sc.demand, input_tokens_per_request=input_tokens,
                                      output_tokens_per_request=output_tokens))


def test_the_form_checks_name_the_output_field_with_the_models():
    sc = _scenario(1_000, 50_000)
    assert not [p for p in ForecastStudy(sc).problems() if p.field in ("input", "output")]   # no models: unknown
    (problem,) = [p for p in ForecastStudy(sc).problems(MODELS) if p.field in ("input", "output")]
    assert problem.field == "output" and problem.message.startswith("Output per request: input 1,000 + output 50,000")
    assert not [p for p in ForecastStudy(_scenario(1_000, 2_000)).problems(MODELS) if p.field in ("input", "output")]


def test_the_run_refusal_names_the_output_field():
    from engine.catalog import reference_chips

    with pytest.raises(ValidationError) as caught:
        build_inputs(story_orders(), reference_chips(), MODELS, _scenario(1_000, 50_000))
    assert any(p.startswith("demand.output_tokens_per_request: input 1,000 + output 50,000") for p in caught.value.problems)
    assert not any(p.startswith("demand.input_tokens_per_request") for p in caught.value.problems)


def test_the_inference_view_marks_the_output_length_past_the_context():
    from engine.catalog import reference_chips
    from engine.studies import ServingStudy

    chips = reference_chips()
    (problem,) = [p for p in ServingStudy(model_id="llama3-70b", input_len=2000, output_len=200_000).problems(chips, MODELS)
                  if "context window" in p.message]
    assert problem.field == "output_len"
    (problem,) = [p for p in ServingStudy(model_id="gpt3-175b", input_len=2000, output_len=300).problems(chips, MODELS)
                  if "context window" in p.message]
    assert problem.field == "input_len"


def test_the_forecast_summary_states_the_unit_chips_rating():
    """QA s29: a what-if with a 30 ms TPOT read 203k "ascend-910b2 chips" of capacity against the
    baseline's 181k while its tokens/s fell: its unit chip serves 210 tokens/s, not 283. The head
    line says which chips it counts in."""
    from engine.catalog import reference_chips
    from engine.commands.forecast import _summary
    from engine.compare_units import rate_text, unit_rating
    from engine.forecast import run_forecast

    base = replace(default_scenario(), trials=40)
    tight = replace(base, demand=replace(base.demand, tpot_ms=30.0))
    heads = []
    for sc in (base, tight):
        result = run_forecast(build_inputs(story_orders(), reference_chips(), MODELS, sc))
        head = _summary(result).splitlines()[0]
        assert head.endswith(f"capacity and demand in chips of ascend-910b2 at {rate_text(unit_rating(result))} "
                             "output tokens/s each (its rating under this scenario's targets)")
        heads.append(unit_rating(result))
    assert heads[1] < heads[0]   # a tighter TPOT: smaller unit chips
