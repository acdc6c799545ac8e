"""Serving QA (s23): the steady state under a token budget and a prefix cache, and what
`fleetcast serve` says about its figures (chips_needed's bound, the decode parts, a closed loop's
start, length spread, TPOT under overload)."""

import json

import pytest

from engine.catalog import reference_chips, reference_models
from engine.cli import main
from engine.inference import ServingInputs, evaluate_serving, slo_capacity

CHIPS = reference_chips()
MODELS = reference_models()


def _serve(capsys, *argv) -> dict:
    assert main(["serve", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_steady_state_keeps_prompts_and_decodes_within_the_token_budget():
    """QA: --max-num-batched-tokens 512 left the SLO answer at batch 115 and TTFT 160 ms, where 115
    sequences need 767 prompt tokens a step beside 115 decode tokens and a 2,000-token prompt spans
    at least 4 steps."""
    kw = dict(input_len=2000, output_len=300, ttft_ms=2000, tpot_ms=50, tp=8)
    m, c = MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"]
    free = slo_capacity(m, c, **kw)
    tight = slo_capacity(m, c, **kw, factors={"inf_prefill_chunk_tokens": 512.0})
    n = tight.batch
    assert tight.feasible and n * 299 / 300 + n / 300 * 2000 <= 512
    assert tight.output_tokens_per_s_per_chip < 0.9 * free.output_tokens_per_s_per_chip
    # the prompt rides along 5 steps (512 - 65 decodes leave 447 prompt tokens a step)
    assert tight.ttft_ms > free.ttft_ms + 3 * 10.0
    assert "token budget of 512" in tight.explanation
    # the default budget (8,192) does not bind here: the answer is what it was
    assert free.batch > 100


def test_new_prompt_tokens_attend_to_the_cached_prefix():
    """QA: with 90% of a 30,000-token prompt cached the steady state charged the 3,000 new tokens
    as a lone 3,000-token prompt (~8 ms of attention, not ~150): 396 ms against the simulator's
    432 ms for a lone request, whose prefill_ms read 286."""
    m, c = MODELS["qwen2.5-72b"], CHIPS["h20-96gb"]
    steady = slo_capacity(m, c, input_len=30000, output_len=200, tp=8, prefix_cache_hit=0.9,
                          ttft_ms=100000, tpot_ms=1000)
    lone = evaluate_serving(ServingInputs(model=m, chip=c, input_len=30000, output_len=200, tp=8,
                                          scenario="concurrency", concurrency=1, requests=5, prefix_cache_hit=0.9))
    assert lone.prefill_ms == pytest.approx(lone.ttft_ms, rel=0.05)
    cold = evaluate_serving(ServingInputs(model=m, chip=c, input_len=3000, output_len=200, tp=8,
                                          scenario="concurrency", concurrency=1, requests=5))
    assert lone.prefill_ms > 1.3 * cold.prefill_ms
    assert steady.ttft_ms >= 0.9 * lone.ttft_ms


def test_serve_names_chips_needed_a_lower_bound_and_how_decode_parts_combine(capsys):
    d = _serve(capsys, "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "8", "--input-len", "2000",
               "--output-len", "300", "--ttft-ms", "2000", "--tpot-ms", "50", "--requests", "200")
    mt = d["max_throughput"]
    parts = mt["decode_breakdown_ms"]
    assert "max(weights, compute - attn_compute) + max(kv, attn_compute)" in mt["decode_breakdown_combine"]
    total = (max(parts["weights_ms"], parts["compute_ms"] - parts["attn_compute_ms"])
             + max(parts["kv_ms"], parts["attn_compute_ms"]) + parts["comm_ms"] + parts["overhead_ms"])
    assert total == pytest.approx(parts["total_ms"], rel=1e-6)
    from engine.commands import serve

    source = open(serve.__file__).read()
    assert "an upper bound)" not in source and "a lower bound" in source


def test_a_closed_loop_with_few_requests_per_client_says_its_start_weighs(capsys):
    """QA: at 128 clients the default fell to 4 requests each and the joint start made TTFT 8.0 s
    (2.1 s at 50 each)."""
    argv = ["--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "500",
            "--output-len", "50", "--concurrency", "160"]
    few = _serve(capsys, *argv)
    assert any("simultaneous start" in n for n in few["notes"])
    many = _serve(capsys, *argv, "--requests-per-client", "12")
    assert not any("simultaneous start" in n for n in many["notes"])


def test_the_steady_state_answer_says_it_ignores_length_spread(capsys):
    argv = ["--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "500",
            "--output-len", "50", "--ttft-ms", "2000", "--tpot-ms", "50", "--requests", "200"]
    spread = _serve(capsys, *argv, "--input-len-spread", "1")
    assert any("assumes fixed --input-len/--output-len" in n for n in spread["notes"])
    fixed = _serve(capsys, *argv)
    assert not any("assumes fixed" in n for n in fixed["notes"])


def test_an_overloaded_run_says_tpot_does_not_grow_with_the_offered_load(capsys):
    d = _serve(capsys, "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "2000",
               "--output-len", "100", "--request-rate", "200", "--requests", "600")
    assert d["overloaded"]
    assert any("does not grow with the load" in n for n in d["notes"] if n.startswith("overloaded"))
