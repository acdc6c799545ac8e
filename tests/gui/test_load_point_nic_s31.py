"""The Inference view's load point with disaggregated prefill says when the KV transfers' NICs
bind, as `serve --prefill-tp 1 --prefill-instances 16 --request-rate 19.5` does (s31): Llama 3 8B
8,000 / 20 tokens on an Ascend 910B2 needs 19.5 x 52.4 ms = 102% of the decode NIC's time. Before,
the view read "the p90 targets hold there" at the uncapped 22.5 output tokens/s per chip."""

from gui.panels.inference import InferencePanel
from gui.panels.inference_load import point_sentence

from .test_load_point_s31 import panel, store  # noqa: F401  (the fixtures)

STATE = {"model_id": "llama3-8b", "chip_id": "ascend-910b2", "tp": 1, "input_len": 8000, "output_len": 20,
         "ttft_ms": 20000.0, "tpot_ms": 100.0, "demand_tokens_per_s": 1000.0, "compare_chips": ["ascend-910b2"],
         "length_spread": 0.0, "prefill_tp": 1, "prefill_instances": 16, "load_point": "rate", "load_value": 19.5}


def test_the_note_says_the_decode_nics_bind_at_the_load_point(panel: InferencePanel):  # noqa: F811
    panel.apply_scenario_state(STATE)
    panel.compute_now()
    run = panel.comparison.point
    assert run is not None and run.overloaded and run.nic_busy_share is not None
    assert round(run.nic_busy_share, 4) == 1.0224    # 19.5 x 0.0524288 s
    note = panel.load_note.text()
    assert "Your load point, 19.50 requests/s per replica (TP1): 22.4 output tokens/s per chip" in note
    assert ("overloaded (about 98% of it served): the KV transfers need 102% of the decode side's NICs' time, so "
            "they queue without end") in note
    assert "TTFT grows with the run's length; the targets do not hold there." in note and point_sentence(run) in note
