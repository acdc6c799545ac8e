"""Notes `fleetcast serve` adds to a simulated run where a figure needs a word to be read right:
a run too short for a steady window, alike replicas that reuse one simulated share, a closed loop
of too few requests a client. Each returns "" where there is nothing to say."""

from __future__ import annotations

import math

import numpy as np

from engine.serving.run_reading import MIN_QUEUE_REQUESTS
from engine.serving.simulator import SimResult

MAX_RUN_REQUESTS = 1_000_000   # serve's --requests ceiling (engine.commands.serve)


def whole_run_note(sim: SimResult | None, offline: bool, request_rate_per_s: float | None = None) -> str:
    """The note for a loaded run (`sim`: the busiest replica's) too short for a steady window ('' when it
    has one, or offline, whose figures are the whole run's by design): its running batch and decode
    step are then the whole run's, ramp-up and drain included (`simulator._steady_window`).
    `request_rate_per_s` (Poisson, the deployment's): the note says about how many requests give a
    window, since it opens a quarter of the way through the arrivals and only once a request's mean
    time in the running set has passed: 4 x rate x that time (the replicas' split cancels out), a
    lower bound, as a short run's requests spend less time running than a steady run's."""
    if offline or sim is None or sim.steady_window_s != 0.0:
        return ""
    more = "more --requests"
    held_s = (sim.e2e_s - sim.queue_s)[np.isfinite(sim.e2e_s - sim.queue_s)]
    if request_rate_per_s and held_s.size:
        needed = max(4.0 * request_rate_per_s * float(held_s.mean()), 4.0 * MIN_QUEUE_REQUESTS)
        more = (f"at least about {math.ceil(needed / 100.0) * 100:,} --requests at this load" if needed <= MAX_RUN_REQUESTS
                # (it had asked for 42,194,556,697,400 where --requests takes at most 1,000,000; QA s38)
                else f"more than the {MAX_RUN_REQUESTS:,} --requests a run may have at this load: the server "
                "never settles at this rate; lower --request-rate")
    return ("running_batch and decode_step_ms are the whole run's, its ramp-up from an empty server and its drain "
            f"included: too few requests for a steady window ({more})")


def drawn_lengths_note(sim: object | None, input_len: float, output_len: float) -> str:
    """The note for a run whose drawn lengths average more than 10% off the means asked for ('' when
    within): a large spread puts much of a log-normal's mean in a rare tail that a finite run, and
    the context window's cap, leave out. At CV 10 a 1,000-token prompt averaged 594, so latencies
    fell as the spread rose, read as an effect of variable traffic (QA s40)."""
    if sim is None:
        return ""
    lens = [(name, float(np.mean(drawn)), float(asked)) for name, drawn, asked in
            (("prompt", getattr(sim, "input_lens", None), input_len), ("output", getattr(sim, "output_lens", None),
                                                                        output_len))
            if drawn is not None and len(drawn) and asked]
    off = [(name, got, asked) for name, got, asked in lens if abs(got / asked - 1.0) > 0.10]
    if not off:
        return ""
    said = "; ".join(f"{name} {got:,.0f} tokens where {asked:,.0f} was asked" for name, got, asked in off)
    capped = int(getattr(sim, "capped_requests", 0) or 0)
    # more draws reach more of the tail, but not past the context window's cap (QA s40)
    closer = ("a smaller spread comes closer; more --requests cannot lift the context window's cap" if capped
              else "a smaller spread, or more --requests, comes closer")
    return (f"the simulated requests average {said}: a large length spread puts much of the mean in a rare tail "
            f"that this many draws{', and the context window' + chr(39) + 's cap,' if capped else ''} leave out; the "
            f"figures are for the lengths simulated ({closer})")


def unsettled_note(sim: object | None, request_rate_per_s: float | None, simulated_requests: int) -> str:
    """The note for an open loop whose running batch was still growing with no queue to read ('' when
    it settled): the run cannot tell whether the server keeps up, and its throughput is the
    offered load (`run_reading.unsettled_share`)."""
    share = getattr(sim, "unsettled_share", None)
    if sim is None or share is None or not request_rate_per_s:
        return ""
    more = min(4 * max(int(simulated_requests), MIN_QUEUE_REQUESTS), MAX_RUN_REQUESTS)
    return (f"not settled: the running batch was still growing at the end of the run (as fast as if only about "
            f"{share:.0%} of the load were served), with no queue to read, so this run cannot tell whether the "
            f"server keeps up with {request_rate_per_s:g} requests/s; the throughput shown is the offered load and the "
            f"latencies are an early reading: run more requests (--requests {more:,}) or a lower --request-rate")


def shared_sample_note(distinct_requests: int, requests: int, replicas: int) -> str:
    """The note for a deployment whose alike replicas reuse one simulated share ('' otherwise):
    `requests` counts every replica's, the percentiles know only the `distinct_requests` drawn."""
    if not 0 < distinct_requests < requests:
        return ""
    return (f"the {replicas:,} replicas take alike shares: {distinct_requests:,} simulated requests stand for the "
            f"{requests:,} counted, and the percentiles carry the sampling error of {distinct_requests:,}")


# requests per client below which a closed loop's throughput window (the first completion to the
# last send) holds the clients' first requests (of one output length) finishing together, not a steady rate (Qwen3-235B
# FP8 on 8 H100, C=300: 241 output tokens/s per chip at 310-600 requests, 697 at 750, 676 at 4,000)
FIRST_COHORT_REQUESTS = 2.5


def first_cohort_note(requests: int, concurrency: int, output_spread: float) -> str:
    """The note for a closed loop of `requests` over `concurrency` clients too few for a steady
    throughput reading ('' otherwise; one request a client or fewer is read over the whole run).
    Fixed output lengths only: with a spread (0.5: 725 tokens/s at 450 requests, 712 at 1,000)
    the first requests finish apart and the window reads a steady rate."""
    per_client = requests / concurrency if concurrency else 0.0
    if output_spread or not 1.0 < per_client < FIRST_COHORT_REQUESTS:
        return ""
    return (f"{per_client:.2f} requests per client: the throughput is read while the clients' first requests "
            f"finish together, not at a steady rate; give at least {math.ceil(FIRST_COHORT_REQUESTS * concurrency):,} "
            "--requests")


def lockstep_note(concurrency: int, ramp_s: float, input_spread: float, output_spread: float,
                  ttft_p50_ms: float | None, ttft_p90_ms: float | None) -> str:
    """The note for a closed loop whose clients run in step ('' otherwise): fixed lengths and every
    client sending at t = 0 keep each request's prompt arriving with the others' all run long, so
    the TTFT percentiles read one phase: p50 equals p90 (Llama 3 8B on H100, C=32, 200 output
    tokens, 2,000 prompt tokens: both 192.6 ms, the mean 236 ms; p50 185, 188, 193, 190 ms at 500,
    1,000, 2,000, 3,000 prompt tokens where the mean rises 190, 205, 236, 268 ms). Said where the
    percentiles collapse (within 0.5%): on every closed loop of fixed lengths it was noise."""
    if concurrency <= 1 or ramp_s or input_spread or output_spread or not ttft_p50_ms or not ttft_p90_ms:
        return ""
    if ttft_p90_ms > 1.005 * ttft_p50_ms:
        return ""
    return (f"TTFT p50 equals p90: the {concurrency:,} clients start together with the same lengths, so they run in "
            "step (prompts arrive in cohorts) and the percentiles read that phase, not a mix; the mean is the fairer "
            "figure, and --ramp-s or a length spread puts them out of step")
