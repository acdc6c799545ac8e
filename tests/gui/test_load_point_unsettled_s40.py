"""The Inference view's load point says when its run did not settle, as `serve` does (s40): Llama 3
8B 100 / 100 tokens on one H100 at 170 requests/s, past the about 160 it serves, formed no queue in
its 2,000 requests and read "the p90 targets hold there" at 17,000 output tokens/s per chip."""

from gui.panels.inference import InferencePanel

from .test_load_point_s31 import panel, store  # noqa: F401  (the fixtures)

STATE = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "tp": 1, "input_len": 100, "output_len": 100,
         "ttft_ms": 2000.0, "tpot_ms": 100.0, "demand_tokens_per_s": 100000.0, "compare_chips": ["h100-sxm5-80gb"],
         "length_spread": 0.0, "load_point": "rate", "load_value": 170.0}


def test_an_unsettled_load_point_is_said_and_not_called_held(panel: InferencePanel):  # noqa: F811
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    run = panel.comparison.point
    assert run is not None and run.unsettled and not run.overloaded
    note = panel.load_note.text()
    assert "; not settled: the running batch was still growing when the run ended" in note
    assert "targets held while it ran (an early reading)." in note and "targets hold there" not in note
    panel.apply_scenario_state({**STATE, "load_value": 100.0})   # settles: judged as before
    panel.compute_now()
    assert not panel.comparison.point.unsettled and "not settled" not in panel.load_note.text()
