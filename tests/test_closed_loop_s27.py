"""Closed-loop throughput (session 27): read as the rate through the clients' sends, so it neither
dips nor wanders as clients are added past saturation, and equals a hand-derived steady state."""

from dataclasses import replace

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.inference import ServingInputs, evaluate_serving
from engine.serving.cost_model import build_cost_model
from engine.serving.families import scheduler_for
from engine.serving.run_reading import RunTrace, read_throughput
from engine.serving.simulator import Workload, simulate

CHIPS = reference_chips()
MODELS = reference_models()


def _constant_step_cm(step_s: float):
    """Every step, prefill or decode, costs `step_s` (only the per-step overhead is left), with room
    in the KV cache for everything: the steps can be counted by hand."""
    cm = build_cost_model(MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"], tp=1, weight_dtype="bf16", kv_dtype="bf16")
    zero = dict(weights_s=0.0, expert_all_s=0.0, kv_s_per_token=0.0, dec_lin_s_per_seq=0.0, dec_exp_s_per_seq=0.0,
                dec_attn_s_per_ctx=0.0, pf_lin_flops_per_token=0.0, pf_head_flops_per_seq=0.0, pf_attn_coeff=0.0,
                pf_exp_flops_per_token=0.0, tp_comm_s_per_token=0.0, a2a_s_per_token=0.0, a2a_latency_s=0.0)
    cm = replace(cm, overhead_s=step_s, prefill_overhead_scale=1.0, pp=1.0, kv_capacity_tokens=1e6, **zero)
    assert cm.step_s(7, 7000.0) == pytest.approx(step_s) and cm.step_s(0, 0.0, 500, 1, 0.0, 500) == pytest.approx(step_s)
    return cm


@pytest.mark.parametrize("clients,steady_ttft_steps", [(10, 1), (16, 7)])
def test_closed_loop_reads_the_hand_derived_steady_rate(clients, steady_ttft_steps):
    """10 ms a step; 100-token prompts, 10 output tokens; a token budget of one whole prompt plus
    the decodes (no chunking), so one prompt is prefilled per step. The C >= 10 clients send at
    once: request j is prefilled in step j + 1 (TTFT (j + 1) x 10 ms in the first round) and
    ends with step j + 10, so from step 10 on one request ends and one starts every step: each
    step carries one first token and 9 decode tokens, 10 tokens per 10 ms = 1,000 tokens/s, and a
    client that sends at the end of step s waits C - 10 steps behind the others (TTFT (C - 9) x
    10 ms). 4 requests per client end after 4C + 9 steps. Read from t = 0 to the last send, as
    before, the first 9 steps' 1 + 2 + ... + 9 = 45 tokens weighed in: C = 10, (45 + 300 tokens) /
    0.39 s = 885 tokens/s."""
    cm = _constant_step_cm(0.01)
    sched = replace(scheduler_for("vllm"), max_num_batched_tokens=100 + clients, chunked_prefill=False)
    res = simulate(cm, sched, Workload("closed", 100, 10, requests=4 * clients, concurrency=clients))
    assert np.allclose(res.ttft_s[:clients], 0.01 * np.arange(1, clients + 1))
    assert np.allclose(res.ttft_s[clients:], 0.01 * steady_ttft_steps)
    assert res.makespan_s == pytest.approx(0.01 * (4 * clients + 9))
    assert res.output_tokens_per_s == pytest.approx(1000.0, rel=1e-9)


def _sweep(model: str, input_len: int, output_len: int, factors) -> tuple[int, list[float]]:
    """Output tokens/s per chip of one H100 under the default closed-loop protocol, at the
    sequences the KV cache holds (the seats) times each factor."""
    base = ServingInputs(model=MODELS[model], chip=CHIPS["h100-sxm5-80gb"], input_len=input_len,
                         output_len=output_len, scenario="concurrency", concurrency=8, engine="vllm")
    seats = evaluate_serving(base).max_running
    return seats, [evaluate_serving(replace(base, concurrency=int(seats * f))).output_tokens_per_s_per_chip
                   for f in factors]


@pytest.mark.parametrize("model,input_len,output_len", [("llama3-8b", 1000, 200), ("qwen3-8b", 2000, 300)])
def test_closed_loop_throughput_does_not_fall_as_clients_are_added_past_saturation(model, input_len, output_len):
    """From the seats to 2.5 times as many clients the batch is full and the rest queue, so the
    throughput holds (the steady state falls once, 2.5-3.5%, where preemptions start, then stays
    flat). The two ends of the span (t = 0 and the last send) read 7.5% and 7.9% falls here: the
    clients' joint start at full weight, and synchronised cohorts cut wherever the last send fell
    (Llama 3 8B 1,000 / 200: 4,303, 4,733, 4,553, 4,379 at 358, 393, 447, 501 clients)."""
    seats, out = _sweep(model, input_len, output_len, (1.0, 1.1, 1.25, 1.4, 1.6, 1.8, 2.0, 2.5))
    assert seats > 100
    best = np.maximum.accumulate(out)
    assert max((best - out) / best) <= 0.03, [round(x) for x in out]


def test_the_line_through_the_sends_leaves_out_a_slow_start_and_needs_two_send_times():
    """A trace whose sends gain 100 tokens per second from t = 1 s on, after a start that gave only
    5 tokens in its first second: the slope is 100 (the two ends read 1,005 / 10 = 100.5). Sends
    that all fell at one instant give no slope: the two ends, 50 tokens in 1 s."""
    n = 10
    times = [float(k) for k in range(1, n + 1)]
    tokens = [5 + 100 * (k - 1) for k in range(1, n + 1)]
    trace = dict(mode="closed", makespan_s=12.0, out_tokens=1_200, output_lens=np.full(40, 30),
                 queue_s=np.zeros(40), concurrency=4, issued=40)
    out, kept_up, window_s = read_throughput(RunTrace(last_issue=(times[-1], tokens[-1]), sends=(times, tokens),
                                                      **trace))
    assert out == pytest.approx(100.0, rel=1e-12) and kept_up and window_s == pytest.approx(10.0)
    out, _, window_s = read_throughput(RunTrace(last_issue=(1.0, 50), sends=([1.0] * 3, [50] * 3), **trace))
    assert out == pytest.approx(50.0) and window_s == pytest.approx(1.0)
    # nine sends at one instant whose float mean is not exactly that instant (a cohort of 1-token
    # requests finishing together read 0 tokens/s: Hypothesis, tests/engine/test_properties.py)
    at = 0.0070356197322426735
    out, _, _ = read_throughput(RunTrace(last_issue=(at, 9), sends=([at] * 9, [9] * 9), **trace))
    assert out == pytest.approx(9 / at)
