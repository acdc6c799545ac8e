"""The Inference view's exported header says when its figures hold the targets at the steady
state's means (QA s40): DeepSeek-V3 FP4 on B200, whose batch is beyond the simulator's, read "p90
not simulated" on the tiles while the files opened "targets at p90 under Poisson arrivals"."""

STATE = {"model_id": "deepseek-v3", "chip_id": "b200", "weight_dtype": "fp4", "kv_dtype": "bf16",
         "input_len": 2000, "output_len": 500, "ttft_ms": 2000.0, "tpot_ms": 50.0,
         "demand_tokens_per_s": 1_000_000.0, "compare_chips": ["b200"]}


def test_the_header_says_the_figures_are_at_the_steady_state_means(inference_panel):
    p = inference_panel
    p.apply_scenario_state(STATE)
    p.compute_now()
    assert p.capacity.latency_basis == "mean" and "p90 not simulated" in p.tiles.detail("throughput")
    serving = p.export_context()["Serving"]
    assert serving.startswith("targets asked at p90 under Poisson arrivals, these figures at the steady state's "
                              "mean latencies (p90 not simulated), ")


def test_a_simulated_answer_keeps_its_header(inference_panel):
    p = inference_panel
    p.apply_scenario_state({**STATE, "model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "weight_dtype": "bf16",
                            "compare_chips": ["h100-sxm5-80gb"]})
    p.compute_now()
    assert p.capacity.latency_basis == "p90"
    assert p.export_context()["Serving"].startswith("targets at p90 under Poisson arrivals, ")
