"""QA s23 on the demand chain of `fleetcast forecast`: the serving rates' basis stated for simulated
chips, a serve-on chip with no orders, what-if descriptions in the forms' units, the fields the
steady state leaves unused, and an unknown unit chip named by its field."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from engine.catalog import reference_chips, reference_models
from engine.errors import ValidationError
from engine.forecast import default_scenario
from engine.forecast_inputs import UPPER_BOUND_NOTE, build_inputs, story_orders


def _scenario(**demand):
    sc = default_scenario()
    return replace(sc, demand=replace(sc.demand, **demand))


def _fake_rates(rates: dict[str, tuple[float, str]]):
    """serving_throughputs standing in for the engines: {chip: (value, note)}."""
    def rated(model, chips, *args, **kwargs):
        return {c.id: (rates[c.id][0], "engine", rates[c.id][1]) for c in chips}
    return rated


def test_simulated_rates_are_stated_per_chip_with_their_basis(monkeypatch):
    """llama3-70b (dense, simulated at p90): 910B2 149, H20 174, H800 969 output tokens/s per chip
    were in the JSON only; only steady-state (upper-bound) chips had a note."""
    import engine.forecast_inputs as fi

    monkeypatch.setattr(fi, "serving_throughputs", _fake_rates({
        "ascend-910b2": (148.7, ""), "h20-96gb": (174.3, ""), "h800-sxm5-80gb": (969.3, "")}))
    sc = _scenario(model_id="llama3-70b", chip_id="h800-sxm5-80gb",
                   serve_on=("ascend-910b2", "h20-96gb", "h800-sxm5-80gb"))
    orders = story_orders() + [replace(story_orders()[1], id=3, chip_id="h800-sxm5-80gb")]
    notes = build_inputs(orders, reference_chips(), reference_models(), sc).notes
    rate_notes = [n for n in notes if "output tokens/s per chip" in n]
    assert rate_notes == ["llama3-70b serving capacity is simulated, the most load whose p90 TTFT and TPOT meet "
                          "the targets (every chip is rated on this one basis): ascend-910b2 149, h20-96gb 174, "
                          "h800-sxm5-80gb 969 output tokens/s per chip"]


def test_steady_state_rates_keep_their_one_note(monkeypatch):
    import engine.forecast_inputs as fi

    monkeypatch.setattr(fi, "serving_throughputs", _fake_rates({
        "ascend-910b2": (261.0, f"m on ascend-910b2: 261{UPPER_BOUND_NOTE} p90"),
        "h20-96gb": (349.0, f"m on h20-96gb: 349{UPPER_BOUND_NOTE} p90")}))
    notes = build_inputs(story_orders(), reference_chips(), reference_models(), default_scenario()).notes
    rate_notes = [n for n in notes if "output tokens/s per chip" in n]
    assert len(rate_notes) == 1 and rate_notes[0].startswith("m serving capacity is the steady state")


def test_a_dense_model_on_the_story_fleet_states_its_simulated_rates():
    """The engines themselves: every chip of the story fleet in the one line, with its rate."""
    sc = _scenario(model_id="llama3-70b")
    inputs = build_inputs(story_orders(), reference_chips(), reference_models(), sc)
    line = next(n for n in inputs.notes if n.startswith("llama3-70b serving capacity is simulated"))
    for chip, value in inputs.serving_tokens_per_s_per_chip.items():
        assert f"{chip} {value:,.0f}" in line


def test_a_serve_on_chip_without_orders_says_nothing_serves(monkeypatch):
    """serve_on = [H100] and no H100 ordered: capacity 0 and P(meet) 0% every month, with the
    H100's rate listed as if it served."""
    import engine.forecast_inputs as fi

    monkeypatch.setattr(fi, "serving_throughputs", _fake_rates({
        "h100-sxm5-80gb": (908.0, ""), "ascend-910b2": (261.0, ""), "h20-96gb": (349.0, "")}))
    chips, models = reference_chips(), reference_models()
    notes = build_inputs(story_orders(), chips, models, _scenario(serve_on=("h100-sxm5-80gb",))).notes
    assert notes[0] == "h100-sxm5-80gb serves but has no orders: nothing serves the demand"
    # beside a chip that is ordered it adds nothing, and says so
    notes = build_inputs(story_orders(), chips, models, _scenario(serve_on=("h100-sxm5-80gb", "h20-96gb"))).notes
    assert notes[0] == "h100-sxm5-80gb serves but has no orders: no capacity from it"
    # the plan may buy it
    notes = build_inputs(story_orders(), chips, models, _scenario(serve_on=("h100-sxm5-80gb",)),
                         extra_serving_chips=["h100-sxm5-80gb"]).notes
    assert notes[0].endswith("nothing serves the demand (before any the plan buys)")
    # every serve-on chip ordered: no such note
    notes = build_inputs(story_orders(), chips, models, _scenario(serve_on=("h20-96gb",))).notes
    assert not any("no orders" in n for n in notes)


def test_an_unknown_unit_chip_is_named_by_its_field():
    chips, models = reference_chips(), reference_models()
    with pytest.raises(ValidationError) as err:
        build_inputs(story_orders(), chips, models, _scenario(chip_id="h999"))
    assert "demand.chip_id: 'h999' is not in the chip catalog" in str(err.value)
    with pytest.raises(ValidationError) as err:
        build_inputs(story_orders(), chips, models, _scenario(serve_on=("h998",)))
    assert "demand.serve_on: 'h998' is not in the chip catalog" in str(err.value)


def test_what_if_descriptions_read_in_the_forms_units():
    """QA: "demand demand ceiling = 100,000,000,000,000; demand input tokens per request = 2,000;
    demand prefix-cache hit = 0.3; demand request-mix uncertainty = 0.3"."""
    from engine.scenario_changes import describe_changes

    lines = describe_changes({"demand.ceiling_tokens_per_day": 1e14, "demand.input_tokens_per_request": 2000.0,
                              "demand.prefix_cache_hit": 0.3, "demand.request_mix_sigma": 0.3,
                              "demand.output_tokens_per_request": 211.0, "annual_failure_rate": 0.03},
                             limit=None)
    assert lines == ["demand ceiling = 100 T tokens/day", "demand input tokens per request = 2,000 tokens",
                     "demand prefix-cache hit = 30%", "demand request-mix uncertainty = 30%",
                     "demand output tokens per request = 211 tokens", "annual failure rate = 3%/year"]
    # the mix uncertainty goes to 300%, still in percent
    assert describe_changes({"demand.request_mix_sigma": 2.0}) == ["demand request-mix uncertainty = 200%"]
    point = {"demand.points": {"$items": [["2025-01-01", {"date": "2025-01-01", "tokens_per_day": 2.5e12}, "added"]]}}
    assert describe_changes(point) == ["demand points: added (date 2025-01-01, demand 2.5 T tokens/day)"]


def _forecast(db, scenario, capsys, *extra):
    from gui.__main__ import main

    assert main(["--db", str(db), "forecast", "--scenario", scenario, "--trials", "100", "--months", "3", *extra]) == 0
    return capsys.readouterr().out


def test_the_cli_says_which_fields_the_steady_state_leaves_unused(tmp_path, capsys):
    """The window marks "Targets hold for" and "Length spread" "(unused now)" while every chip is
    rated on the steady state; the CLI changed them and printed the same figures without a word."""
    from engine.store import open_store

    db = tmp_path / "s.db"
    store = open_store(str(db))
    params = store.scenario("Story default")["params"]
    params["demand"]["slo_percentile"] = "p99"
    store.save_scenario("p99", {**params, "name": "p99"})
    store.close()
    text = _forecast(db, "p99", capsys)
    data = json.loads(_forecast(db, "p99", capsys, "--format", "json"))
    unused = [n for n in data["throughput_notes"] if n.startswith("'Targets hold for' (slo_percentile)")]
    assert len(unused) == 1 and "unused for qwen3-235b-a22b" in unused[0] and "steady state" in unused[0]
    assert f"note: {unused[0]}" in text.splitlines()
