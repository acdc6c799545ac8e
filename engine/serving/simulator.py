"""A continuous-batching server simulated step by step, priced by the per-step cost model.

Engine-agnostic: what differs between vLLM, SGLang, TensorRT-LLM, ... is the scheduler
configuration (`families.SchedulerConfig`), not the code. Each step the scheduler

1. gives every running sequence in decode one token (it must find a KV block for it; when the
   paged KV cache is full, the most recently admitted sequence is preempted and later recomputed);
2. fills the rest of the token budget (`max_num_batched_tokens`) with prompt chunks: first the
   prompts already being prefilled, then new requests in arrival order while the running set is
   under `max_num_seqs` and their KV blocks fit (prompt only, or prompt + output when the engine
   reserves output space); engines that do not mix prefill with decode run the prefill step alone;
   an engine with an admission throttle (TGI's router) admits new requests into a running batch
   only when `waiting_served_ratio` x running of them wait or `max_waiting_steps` decode steps
   have passed since the last admission;
3. prices the step with `StepCostModel.step_s` for that exact mix and advances the clock.

Arrivals: offline (all at t=0), closed loop (C clients; each sends its next request when the
previous one finishes) or open loop (Poisson at a rate: the offered load, or the share of it the
run's queue says it served when it falls behind; `run_reading` reads every mode's throughput).
Lengths are fixed or log-normal with a given mean and coefficient of variation (seeded).

Closed-loop benchmark protocol (`Workload.warmup`, `Workload.ramp_s`): the first `warmup`
requests run but are left out of every figure (the per-request arrays, and the throughput window,
which then opens when request `warmup` is sent). With `ramp_s` > 0 client k sends its first
request at k x ramp_s / C and the window opens once the last client has started; without a ramp
every client sends at t = 0. The throughput is the rate through the window's sends
(`run_reading`). With fixed lengths a cohort that shares a step then stays together
round after round (the scheduler is deterministic); how far a real benchmark's clients drift apart
is not in any input (resources/calibration_README.md, closed-loop TTFT).

Speed: between two events (a completion, an arrival, a KV block shortfall) the scheduler makes
the same decision every step, so such a run of pure-decode steps is advanced in one jump, in
O(1) Python however long it is and however many sequences it holds:
- a decode step's time is the largest of a few lines in the batch's context sum
  (`StepCostModel.decode_lines`), and the context sum grows by the batch size each step, so a
  run's time is a sum of arithmetic series and the step that reaches the next arrival the root
  of a quadratic;
- the decode set is kept as aggregates: with G the decode steps so far, a member's context is
  base + G and it finishes at a fixed G, so a heap gives the next completion, a running sum
  the context sum, and a histogram of (context - G) mod block size the KV blocks the set adds
  over the next k steps (D x k // block, plus the members whose phase crosses a boundary).
Steps with prompt chunks (arrivals, chunked prefill) are priced one by one with `step_s`.
The figures equal a plain step-by-step loop's to float noise (tested). 2,000 requests take
5-25 ms of CPU whatever the arrivals and length spreads (bench/bench_serving.py).

Windowed attention (cost_model's module doc): the KV blocks count the full-attention layers'
tokens, growing as above; each request also holds its windowed layers' KV at min(prompt +
output, window) from admission to its end (the most they hold, as vLLM's hybrid allocator frees
blocks that leave the window: a request shorter than the window is held whole a little early).

Everything here is per model instance; replicas share nothing (the caller divides the load).
"""

from __future__ import annotations

import heapq
import math
import weakref
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.errors import UserError
from engine.serving.cost_model import StepCostModel
from engine.serving.families import SchedulerConfig
# the prefill pool (disaggregated serving) lives in sim_steps; its names stay importable from here
from engine.serving.sim_steps import (PrefillPool, _prefill_pool_run, _prefill_pool_transfers,  # noqa: F401
                                      prefill_pool_done, prefill_pool_ready)
# the run's throughput reading lives in run_reading; its names stay importable from here
from engine.serving.run_reading import (MIN_QUEUE_REQUESTS, OVERLOAD_SHARE, PERCENTILE_Q, RunTrace,  # noqa: F401
                                        TargetsMissed, _floats, over_needed, percentiles, read_throughput, served_share_from_queue,
                                        unsettled_share)

ARRIVAL_MODES = ("offline", "closed", "poisson")
# the widest length spread (CV) whose open loop is judged on its batch's growth (`unsettled_share`):
# at CV 0.5 a 2,000-request run's batch grows as if 98 / 96 / 88 / 82 / 52% were served at 0.55 / 0.76 /
# 0.90 / 1.00 / 1.31 of the offline rate (Llama 3 8B on one H100, 100 / 100 tokens); at CV 1 it grows as
# if 91% were at a load its queue and 8,000 requests read as served in full
SETTLING_SPREAD = 0.5
MAX_RUN_STEPS = 8192


@dataclass(frozen=True)
class Workload:
    mode: str                         # offline | closed | poisson
    input_len: float
    output_len: float
    requests: int = 2000
    concurrency: int | None = None    # closed: clients (per instance)
    request_rate: float | None = None  # poisson: requests/s (per instance)
    input_spread: float = 0.0         # coefficient of variation of the prompt length (0 = fixed)
    output_spread: float = 0.0
    prefix_cache_hit: float = 0.0     # fraction of each prompt served from a prefix cache
    seed: int = 0
    # Benchmark protocol (closed loop; see `Workload` notes in the module doc):
    warmup: int = 0                   # the first `warmup` requests run but are left out of the figures
    ramp_s: float = 0.0               # closed: the C clients start evenly over this many seconds (0: at once)
    # The model's context window (0: not known): a drawn request longer than it is capped to fit
    # (`cap_to_context`), as a server refuses a longer prompt and stops generating at its end
    context_len: int = 0


@dataclass(frozen=True)
class SimResult:
    ttft_s: np.ndarray                # per request
    tpot_s: np.ndarray                # per request with >= 2 output tokens
    e2e_s: np.ndarray
    queue_s: np.ndarray               # arrival -> first scheduled
    output_tokens_per_s: float        # whole instance (`run_reading.read_throughput`)
    total_tokens_per_s: float
    kv_time_s: np.ndarray             # KV utilisation over time (end of each step or run)
    kv_used_frac: np.ndarray
    steps: int
    preemptions: int
    mean_running: float               # time-weighted sequences in the running set, over the whole run
    mean_decode_step_s: float         # (pure-decode steps; NaN: none ran)
    makespan_s: float
    input_lens: np.ndarray
    output_lens: np.ndarray
    # Poisson: the run served at least OVERLOAD_SHARE of the offered load, read off its queue
    # (`run_reading`); False: the server fell behind, its queue grows with the run and so do its
    # latency percentiles
    keeps_up: bool = True
    # requests in the figures whose drawn lengths were capped to the context window (`cap_to_context`)
    capped_requests: int = 0
    # seconds of the window the throughput was read over (the makespan when the whole run);
    # closed loop: from the warm-up's or the ramp's end to the last send, 0 when no client sent
    # again after that (a ramp as long as the run), the figure then read from t = 0, the ramp included
    window_s: float = math.nan
    # peak KV use: the fullest the cache got, read before finished sequences free their blocks
    # (kv_used_frac samples after each step or run, when they have: it misses the peak)
    kv_peak_frac: float = 0.0
    # disaggregated (a prefill pool), per request as queue_s: the parts of queue_s spent waiting
    # for a prefill instance and for the NICs (the rest waited for a decode seat); None otherwise
    prefill_wait_s: np.ndarray | None = None
    transfer_wait_s: np.ndarray | None = None
    # The same two over the steady window (`_steady_window`): what a planner reads as "sequences
    # running at this load"; the whole run's where the run has none (steady_window_s 0)
    steady_running: float = math.nan
    steady_decode_step_s: float = math.nan
    steady_window_s: float = 0.0
    # Poisson, no queue read: the share of the load a still-growing running batch leaves served
    # (None: it settled); the run is then too short to judge (`run_reading.unsettled_share`)
    unsettled_share: float | None = None


def draw_lengths(mean: float, spread: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Integer lengths >= 1: fixed at the mean, or log-normal with that mean and CV `spread`."""
    if spread <= 0:
        return np.full(n, max(int(round(mean)), 1), dtype=np.int64)
    sigma2 = math.log1p(spread * spread)
    mu = math.log(mean) - sigma2 / 2.0
    x = rng.lognormal(mu, math.sqrt(sigma2), n)
    return np.maximum(np.rint(x), 1).astype(np.int64)


def cap_to_context(lin: np.ndarray, lout: np.ndarray, context_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prompt lengths, output lengths, which were capped): requests drawn longer than the
    context window fitted into it, the prompt cut to leave one output token at least and the
    output stopped at the window's end (a server refuses a longer prompt, vLLM's max_model_len,
    and ends generation there). A log-normal spread's tail otherwise ran 132,677-token requests
    on an 8K model."""
    over = (lin + lout) > context_len
    if not over.any():
        return lin, lout, over
    lin = np.minimum(lin, context_len - 1)
    lout = np.minimum(lout, context_len - lin)
    return lin, lout, over


def _check(w: Workload, sched: SchedulerConfig, cm: StepCostModel) -> None:
    if w.mode not in ARRIVAL_MODES:
        raise UserError(f"arrivals: {w.mode!r} (one of {', '.join(ARRIVAL_MODES)})")
    if not (w.requests >= 1):
        raise UserError(f"requests: {w.requests!r} (must be >= 1)")
    if w.mode == "closed" and not (w.concurrency and w.concurrency >= 1):
        raise UserError(f"concurrency: {w.concurrency!r} (must be >= 1)")
    if w.mode == "poisson" and not (w.request_rate and w.request_rate > 0 and math.isfinite(w.request_rate)):
        raise UserError(f"request_rate: {w.request_rate!r} (must be a finite rate > 0)")
    for name in ("input_len", "output_len"):
        v = getattr(w, name)
        if not (v >= 1) or not math.isfinite(v):
            raise UserError(f"{name}: {v!r} (must be >= 1)")
    for name in ("input_spread", "output_spread"):
        v = getattr(w, name)
        if not (0.0 <= v <= 10.0):
            raise UserError(f"{name}: {v!r} (a coefficient of variation in [0, 10])")
    if not (0.0 <= w.prefix_cache_hit < 1.0):
        raise UserError(f"prefix_cache_hit: {w.prefix_cache_hit!r} (must be in [0, 1))")
    if not (0 <= w.warmup < w.requests):
        raise UserError(f"warmup: {w.warmup!r} (warm-up requests must be 0 or more and fewer than the "
                        f"{w.requests} simulated)")
    if not (0.0 <= w.ramp_s < math.inf):
        raise UserError(f"ramp_s: {w.ramp_s!r} (a ramp-up in seconds, 0 or more)")
    if w.ramp_s > 0 and w.mode != "closed":
        raise UserError("ramp_s: a client ramp-up applies to a closed loop (concurrency) only")
    if w.context_len and w.context_len < 2:
        raise UserError(f"context_len: {w.context_len!r} (a context window of 2 tokens or more, or 0: not known)")
    if cm.kv_capacity_tokens < 1:
        raise UserError("the model's weights leave no HBM for the KV cache on this deployment")


# Per cost model (weakly held, so they go with it): its lines' check, and one envelope per batch
# size. Single dict operations only, so GUI worker threads may share them (a race at worst
# builds an envelope twice).
_ENVELOPES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LINES_OK: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()     # the envelopes of one line (`_RunPricer.line`)


def _steps_to_arrival(al: float, be: float, kmax: int, t: float, arrival: float) -> tuple[int, float]:
    """Of a run whose step j takes al + be * j seconds, starting at t: the number of steps k
    (1..kmax) after which the clock first reaches `arrival`, and their total time. The quadratic's
    root gives k; the two loops settle it exactly against float rounding."""
    rest = arrival - t
    lead = al - 0.5 * be
    m = min(max(math.ceil(2.0 * rest / (lead + math.sqrt(lead * lead + 2.0 * be * rest))), 1), kmax)
    while m > 1 and t + ((m - 1) * al + be * ((m - 1) * (m - 2) // 2)) >= arrival:
        m -= 1
    while m < kmax and t + (m * al + be * (m * (m - 1) // 2)) < arrival:
        m += 1
    return m, m * al + be * (m * (m - 1) // 2)


class _RunPricer:
    """Prices a run of pure-decode steps of one batch size: the steps differ only in their
    context sum (x, x + D, x + 2D, ...), so with the cost model's lines (`decode_lines`) the
    run's time is a sum of arithmetic series, found in O(1) however long the run; the first
    step that ends at or after the next arrival is found by solving that sum. The lines are
    checked against `decode_run_s` once per cost model, at batch sizes no CUDA-graph padding or
    power-of-two rule would single out; a cost model whose lines disagree (changed without
    them) is priced step by step with numpy instead, as before."""

    CHECK_BATCHES = (1, 2, 3, 5, 7, 11, 13, 17, 23, 31, 47, 61, 97, 131, 199, 257, 383, 509, 769, 1021,
                     1531, 2039, 3067, 4093)

    def __init__(self, cm: StepCostModel):
        self.cm = cm
        # shared by every simulation of an equal cost model (an SLO search runs a dozen)
        self.envelopes: dict[int, list[tuple[float, float, float]] | None] = _ENVELOPES.setdefault(cm, {})
        if cm not in _LINES_OK:
            _LINES_OK[cm] = all(self._matches(d) for d in self.CHECK_BATCHES)
        self.lines_ok: bool = _LINES_OK[cm]
        # the batch sizes whose envelope is one line, as (intercept, slope): what most runs take (`line`)
        self.lines: dict[int, tuple[float, float]] = _LINES.setdefault(cm, {}) if self.lines_ok else {}

    def _build(self, decode_seqs: int) -> list[tuple[float, float, float]]:
        """[(x from, intercept, slope), ...]: the upper envelope of the lines for ctx_sum >= 0
        (with a window: in the context sum, `StepCostModel.in_context_sum`)."""
        return self.cm.in_context_sum(self._upper(decode_seqs), decode_seqs)

    def _upper(self, decode_seqs: int) -> list[tuple[float, float, float]]:
        lines = self.cm.decode_lines(decode_seqs)
        a, b = max(lines)                     # highest at ctx_sum = 0 (a tie: the steeper)
        x = 0.0
        env = [(0.0, a, b)]
        while True:                           # the next line to overtake the current one
            nxt = None
            for a2, b2 in lines:
                if b2 > b:
                    xc = max((a - a2) / (b2 - b), x)
                    if nxt is None or (xc, -b2) < (nxt[0], -nxt[2]):
                        nxt = (xc, a2, b2)
            if nxt is None:
                break
            x, a, b = nxt
            env.append(nxt)
        return env

    def _matches(self, decode_seqs: int) -> bool:
        """The envelope is the step time: at its breaks, between them, at a full KV cache and far out."""
        env = self._build(decode_seqs)
        xs = [0.0]
        for x0, _, _ in env[1:]:
            xs += [0.5 * (x0 + xs[-1]), x0]
        xs += [float(self.cm.kv_capacity_tokens), 2.0 * max(xs[-1], self.cm.kv_capacity_tokens) + 1e6]
        ref = self.cm.decode_run_s(decode_seqs, np.asarray(xs)).tolist()
        return all(abs(next(a + b * x for x0, a, b in reversed(env) if x0 <= x) - r) <= 1e-9 * abs(r)
                   for x, r in zip(xs, ref))

    def envelope(self, decode_seqs: int) -> list[tuple[float, float, float]] | None:
        """The envelope of this batch size (cached), or None when runs are priced step by step."""
        env = self.envelopes.get(decode_seqs)
        if env is None and self.lines_ok:
            env = self.envelopes[decode_seqs] = self._build(decode_seqs)
        return env

    def line(self, decode_seqs: int, ctx_sum: int, kmax: int) -> tuple[float, float] | None:
        """(intercept, slope) of the envelope's piece that holds a run of `kmax` steps from
        `ctx_sum`, step j then taking intercept + slope x (ctx_sum + j x decode_seqs) seconds;
        None where the run crosses a break or runs are priced step by step (`run` prices them)."""
        env = self.envelope(decode_seqs)
        if env is None:
            return None
        if len(env) == 1:
            line = self.lines[decode_seqs] = env[0][1:]
            return line
        n = len(env) - 1
        while env[n][0] > ctx_sum:
            n -= 1
        if n + 1 < len(env) and env[n + 1][0] <= ctx_sum + decode_seqs * (kmax - 1):
            return None
        return env[n][1:]

    def run(self, decode_seqs: int, ctx_sum: int, kmax: int, t: float, arrival: float) -> tuple[int, float]:
        """(steps, seconds) of the run: `kmax` steps, or fewer to stop at the first step that
        ends at or after `arrival` (inf: none)."""
        env = self.envelope(decode_seqs)
        if env is None:
            dts = self.cm.decode_run_s(decode_seqs, float(ctx_sum) + decode_seqs * np.arange(kmax, dtype=float))
            cum = np.cumsum(dts)
            if arrival < math.inf:
                j = int(np.searchsorted(t + cum, arrival, side="left"))
                kmax = max(min(kmax, j + 1), 1)
            return kmax, float(cum[kmax - 1])
        n = len(env) - 1
        while env[n][0] > ctx_sum:
            n -= 1
        _, a, b = env[n]
        if n + 1 < len(env) and env[n + 1][0] <= ctx_sum + decode_seqs * (kmax - 1):
            return self._run_pieces(env, n, decode_seqs, ctx_sum, kmax, t, arrival)
        # one straight piece (the usual case): step j takes al + be * j seconds
        al = a + b * ctx_sum
        be = b * decode_seqs
        k = kmax
        total = k * al + be * (k * (k - 1) // 2)
        if t + total >= arrival:
            return _steps_to_arrival(al, be, kmax, t, arrival)
        return k, total

    @staticmethod
    def _run_pieces(env, n, decode_seqs, ctx_sum, kmax, t, arrival) -> tuple[int, float]:
        """`run` across breaks of the envelope: a sum of arithmetic series, one per piece."""
        pieces: list[list] = []       # [j0, j1, al, be]: step j0 <= j < j1 takes al + be * j seconds
        x_last = ctx_sum + decode_seqs * (kmax - 1)
        for x0, a, b in env[n:]:
            j0 = 0 if x0 <= ctx_sum else min(math.ceil((x0 - ctx_sum) / decode_seqs), kmax)
            if pieces:
                pieces[-1][1] = j0
            pieces.append([j0, kmax, a + b * ctx_sum, b * decode_seqs])
            if x0 > x_last:
                break

        def total(m: int) -> float:
            s = 0.0
            for j0, j1, al, be in pieces:
                if m <= j0:
                    break
                e = m if m < j1 else j1
                s += (e - j0) * al + be * ((e * (e - 1) - j0 * (j0 - 1)) // 2)
            return s

        if not t + total(kmax) >= arrival:
            return kmax, total(kmax)
        lo, hi = 1, kmax              # smallest m with t + total(m) >= arrival (rare path: bisect)
        while lo < hi:
            mid = (lo + hi) // 2
            if t + total(mid) >= arrival:
                hi = mid
            else:
                lo = mid + 1
        return lo, total(lo)


def simulate(cm: StepCostModel, sched: SchedulerConfig, w: Workload,
             prefill_pool: PrefillPool | None = None, miss_targets: tuple | None = None) -> SimResult:
    """Run the workload to completion on one (decode) instance; see the module doc. With a
    `prefill_pool`, prompts are prefilled there and arrive here ready to decode.

    `miss_targets` ((TTFT ms or None, TPOT ms or None, "p50" | "p90" | "p99"); aggregated, no
    warm-up): raise `TargetsMissed` once enough finished requests are over a target that its
    percentile is over it whatever the rest read (`over_needed`); the run is unchanged otherwise."""
    _check(w, sched, cm)
    if prefill_pool is not None and w.mode == "closed":
        raise UserError("disaggregated prefill: arrivals must be offline or Poisson (closed loop not simulated)")
    rng = np.random.default_rng(w.seed)
    N = int(w.requests)
    lin_a = draw_lengths(w.input_len, w.input_spread, N, rng)
    lout_a = draw_lengths(w.output_len, w.output_spread, N, rng)
    capped_a = np.zeros(N, dtype=bool)
    if w.context_len and (w.input_spread > 0 or w.output_spread > 0):
        # (fixed lengths over the window are the caller's to refuse: a request nobody can send)
        lin_a, lout_a, capped_a = cap_to_context(lin_a, lout_a, int(w.context_len))
    bs = max(int(sched.block_size), 1)
    total_blocks = int(cm.kv_capacity_tokens // bs)
    # One request that can never fit is a user error, not an endless loop. On demand a request
    # holds its prompt and all but its last output token by its last step.
    longest = lin_a + (lout_a if sched.reserve_output else np.maximum(lout_a - 1, 1))
    worst = int(longest.max())
    # a window no request outgrows changes nothing; else the blocks count the full layers' tokens
    # and each request holds its windowed layers' too (see the module doc)
    win = bool(cm.window_tokens) and int((lin_a + lout_a).max()) > cm.window_tokens
    grows = not win or cm.window_share < 1.0   # the full-attention layers' KV grows with the context
    if win:
        total_blocks = int(cm.kv_block_capacity_tokens() // bs)
        held = (-(-longest // bs) if grows else 0) + cm.window_blocks(lin_a + lout_a, bs)
        if int(held.max()) > total_blocks:
            worst = int(longest[int(held.argmax())])
            raise UserError(f"a {worst}-token request needs more KV than fits beside the weights "
                            f"({int(held.max()):,} of {total_blocks:,} KV blocks); use more chips per replica "
                            "or a smaller KV dtype")
    elif -(-worst // bs) > total_blocks:
        raise UserError(f"a {worst}-token request needs more KV than the {total_blocks * bs:,} tokens that fit "
                        "beside the weights; use more chips per replica or a smaller KV dtype")
    watermark = 0 if sched.reserve_output else int(0.01 * total_blocks)
    max_seqs = max(int(sched.max_num_seqs * cm.attn_groups), 1)
    budget_all = max(int(sched.max_num_batched_tokens * cm.attn_groups), 1)
    hit = float(w.prefix_cache_hit)
    reserve = bool(sched.reserve_output)
    on_demand = not reserve and grows         # blocks added as contexts grow
    chunked = bool(sched.chunked_prefill)
    mixed = bool(sched.mixed_batches)

    arr_a = np.full(N, np.inf)
    if w.mode == "offline":
        arr_a[:] = 0.0
        issued = N
    elif w.mode == "closed":
        issued = min(int(w.concurrency or 1), N)
        # client k sends its first request at k x ramp / C (aiperf --concurrency-ramp-duration,
        # vLLM bench --ramp-up-strategy); without a ramp every client starts at once
        arr_a[:issued] = np.arange(issued) * (float(w.ramp_s) / issued)
    else:
        gaps = rng.exponential(1.0 / float(w.request_rate or 1.0), N)
        arr_a = np.cumsum(gaps) - gaps[0]
        issued = N
    mode = w.mode
    user_a = arr_a.copy()                     # when each user sent its request
    pre_finished_a: np.ndarray | None = None  # disaggregated: one-token requests, done once their KV arrives
    pool_wait_a = np.zeros(N)                # disaggregated: waits before the decode instance
    prefill_wait_a = nic_wait_a = None
    if prefill_pool is not None:
        ready, prefill_wait_a, nic_wait_a = _prefill_pool_transfers(prefill_pool, arr_a, lin_a, hit)
        order = np.argsort(ready, kind="stable")
        lin_a, lout_a, user_a, arr_a = lin_a[order], lout_a[order], user_a[order], ready[order]
        prefill_wait_a, nic_wait_a = prefill_wait_a[order], nic_wait_a[order]
        capped_a, pool_wait_a = capped_a[order], prefill_wait_a + nic_wait_a
        # The prefill instance computes the first token, but the user gets it from the decode
        # instance (vLLM's and SGLang's P/D streams come from there) once the KV has arrived and
        # the decode instance has run its first step on the request: `first` is set at the end
        # of the step that admits it, so an overloaded decode instance's queue is in TTFT (it sat
        # in TPOT, TTFT p90 106 ms beside a 40 s queue) and so is that step (a light load read
        # TTFT = prefill + transfer exactly). A one-token request ends when its KV arrives.
        mode = "poisson"                      # the decode instance sees arrivals in time order
        pre_finished_a = lout_a <= 1
    poisson = mode == "poisson"
    closed = mode == "closed"
    pool_first = prefill_pool is not None       # first tokens computed by the prefill pool
    # Per-request state as Python lists: the loop touches one request at a time, where list
    # indexing is several times faster than numpy scalar access.
    lin: list[int] = lin_a.tolist()
    lout: list[int] = lout_a.tolist()
    arr: list[float] = arr_a.tolist()
    user: list[float] = arr if prefill_pool is None else user_a.tolist()   # (the same times, as sent)
    nan = math.nan
    first: list[float] = [nan] * N
    pre_finished: list[bool] = [False] * N if pre_finished_a is None else pre_finished_a.tolist()
    wblk: list[int] = cm.window_blocks(lin_a + lout_a, bs).tolist() if win else [0] * N
    finish_t = [nan] * N
    sched_t = [nan] * N
    # output tokens produced (in the decode set: at its join); disaggregated, the first one by the pool
    gen: list[int] = [1 if pool_first else 0] * N
    ctx = [0] * N                             # tokens held in KV (in the decode set: at its join)
    # prompt tokens served from the prefix cache, and still to compute: set for every request up
    # front (a preempted prompt's are set again); disaggregated, none here (prefilled elsewhere)
    if pool_first or not hit:
        cached: list[int] = [0] * N
        need: list[int] = [0] * N if pool_first else lin.copy()
    else:
        cached_a = (lin_a * hit).astype(np.int64)
        cached, need = cached_a.tolist(), (lin_a - cached_a).tolist()
    done_pf = [0] * N                         # prompt tokens computed in the current prefill (0 at admission)
    alloc = [0] * N                           # KV blocks held (decode set, on demand: see below)

    # The decode set. Every member gains one token per decode step, so with G the number of
    # decode steps so far, a member's context is base_ctx + G and it finishes at G = fin_g: one
    # heap gives the next completion, a running sum the step's context sum, and a histogram of
    # (context - G) mod block the sequences crossing a KV block boundary in the next k steps.
    G = 0
    D = 0
    S = 0                                     # context sum of the decode set
    base_ctx = [0] * N
    fin_g = [-1] * N                          # -1: not in the decode set
    heap: list[int] = []                      # fin_g * N + id: plain ints (no tuples for the GC to track)
    hist = [0] * bs

    waiting: deque[int] = deque()
    ptr = 0                                   # next arrival (Poisson: sorted times)
    arr_next = arr[0] if poisson else math.inf    # Poisson: its time (inf: none left)
    ramp_end = issued if closed and w.ramp_s > 0 else 0   # closed loop with a ramp: first requests still to come
    if not poisson:
        waiting.extend(range(issued) if not ramp_end else [0])
        ptr = 1 if ramp_end else N
    running: dict[int, None] = {}             # ids in admission order (a dict: O(1) removal)
    prefilling: list[int] = []                # running ids whose prompt is not yet computed
    pending: list[int] = []                   # admitted already prefilled: join the decode set next step
    first_due: list[int] = []                 # admitted already prefilled: first token at the end of the next step
    # Pipelined (pp > 1): a prompt finished in a step with decodes has its first token only once
    # its micro-batch has crossed every stage (`StepCostModel.prefill_latency_s`), after the
    # step's round ends; it joins the decode set then. {id: when}, and a heap of (when, id).
    piped = cm.pp > 1
    crossing: dict[int, float] = {}
    crossing_heap: list[tuple[float, int]] = []
    used = 0
    t = 0.0
    finished = 0
    steps = 0
    preemptions = 0
    kv_t = [0.0]
    kv_u = [0]                                # KV blocks held then (scaled to the cache at the end)
    kv_scale = 1.0 / max(total_blocks, 1)
    kv_peak = 0                               # blocks held at the fullest, before any step's completions free theirs
    out_tokens = 0
    last_issue = (0.0, 0)                     # closed loop: (time, output tokens) when a client last sent again
    send_t: list[float] = []                  # closed loop: the same at every send after a response
    send_n: list[int] = []
    warm = int(w.warmup)
    after_warmup = (0.0, 0)                   # closed loop: (time, output tokens) when request `warm` was sent
    ramp_done = (0.0, 0)                      # closed loop: the same when the last client started
    first_done: tuple[float, int] | None = None     # (time, output tokens) at the first completion
    last_arrival = (0.0, 0)                   # Poisson: the same when the last request arrived
    busy_run_sum = 0.0                        # integral of running-set size over time
    # (time, busy_run_sum, dec_time, dec_steps) at the steady window's candidate ends (`_steady_window`)
    marks: dict[str, tuple[float, float, float, int]] = {}
    # Poisson: the request whose arrival opens the steady window (the queue reading's second quarter)
    open_at = warm + (N - warm) // 4 if w.mode == "poisson" and N - warm >= MIN_QUEUE_REQUESTS else -1
    # the window's middle arrival: the running batch's two halves tell a batch that keeps growing
    mid_at = open_at + (N - open_at) // 2 if open_at >= 0 else -1
    dec_time = 0.0
    dec_steps = 0
    pricer = _RunPricer(cm)
    # missed targets: (limit over which a request counts (s; a hair above, as `capacity._meets` compares
    # the percentile in ms), count that decides) for TTFT and TPOT
    ttft_ms, tpot_ms, pct = miss_targets if miss_targets and prefill_pool is None and not warm else (0, 0, "")
    q = PERCENTILE_Q.get(pct, 0.0)
    watch = bool(q and (ttft_ms or tpot_ms))
    ttft_over = tpot_over = 0
    ttft_lim, tpot_lim = ((x * (1.0 + 1e-9) / 1e3 if watch and x else math.inf) for x in (ttft_ms, tpot_ms))
    ttft_need, tpot_need = (over_needed(N, q), over_needed(int((lout_a > 1).sum()), q)) if watch else (0, 0)
    step_s = cm.step_s
    attn_coeff = 0.0 if cm.window_tokens else cm.pf_attn_coeff
    lines = pricer.lines
    heappush, heappop = heapq.heappush, heapq.heappop
    wsr = float(sched.waiting_served_ratio)
    max_wait = int(sched.max_waiting_steps)
    throttle = max_wait > 0
    since_admit = 0                           # decode steps since new requests were last admitted

    def join(i: int) -> None:
        nonlocal D, S
        c = ctx[i]
        b = c - G
        base_ctx[i] = b
        f = G + lout[i] - gen[i]
        fin_g[i] = f
        heappush(heap, f * N + i)
        D += 1
        S += c
        hist[b % bs] += 1

    def leave(i: int) -> None:
        """Out of the decode set, its state written back to the per-request lists (which kept
        its context and output tokens at its join: both grew by one a step since)."""
        nonlocal D, S
        b = base_ctx[i]
        c = b + G
        gen[i] += c - ctx[i]
        ctx[i] = c
        fin_g[i] = -1
        D -= 1
        S -= c
        hist[b % bs] -= 1
        if not reserve:
            alloc[i] = (-(-c // bs) if grows else 0) + wblk[i]

    def growth(k: int) -> int:
        """KV blocks the decode set adds over its next k steps (on-demand allocation)."""
        q, r = divmod(k, bs)
        g = D * q
        if r:
            hi = (-G) % bs                    # phase of the sequences at a block boundary now
            lo = hi - r + 1
            g += sum(hist[lo:hi + 1]) if lo >= 0 else sum(hist[:hi + 1]) + sum(hist[lo:])
        return g

    def finish(i: int, now: float) -> None:
        nonlocal used, finished, issued, last_issue, first_done, after_warmup, ttft_over, tpot_over
        if watch:
            if first[i] - user[i] > ttft_lim:
                ttft_over += 1
                if ttft_over >= ttft_need:
                    raise TargetsMissed()
            if lout[i] > 1 and (now - first[i]) / (lout[i] - 1) > tpot_lim:
                tpot_over += 1
                if tpot_over >= tpot_need:
                    raise TargetsMissed()
        if first_done is None:
            first_done = (now, out_tokens)
        finish_t[i] = now
        used -= alloc[i]
        alloc[i] = 0
        finished += 1
        del running[i]
        if closed and issued < N:
            arr[issued] = now
            user[issued] = now
            waiting.append(issued)
            if issued == warm:
                after_warmup = (now, out_tokens)
                marks["warm"] = (now, busy_run_sum, dec_time, dec_steps)
            issued += 1
            last_issue = (now, out_tokens)
            marks["issue"] = (now, busy_run_sum, dec_time, dec_steps)
            send_t.append(now)
            send_n.append(out_tokens)

    def completions() -> list[int]:
        ended = []
        top = (G + 1) * N                     # keys below finish at or before step G
        while heap and heap[0] < top:
            f, i = divmod(heappop(heap), N)
            if fin_g[i] == f:
                leave(i)
                ended.append(i)
        return ended

    while finished < N:
        if ramp_end:                          # ramped clients whose first request is due
            while ptr < ramp_end and arr[ptr] <= t:
                waiting.append(ptr)
                if ptr == warm:
                    after_warmup = (t, out_tokens)
                    marks["warm"] = (t, busy_run_sum, dec_time, dec_steps)
                ptr += 1
            if ptr == ramp_end:
                ramp_end = 0
                ramp_done = (t, out_tokens)
                marks["ramp"] = (t, busy_run_sum, dec_time, dec_steps)
            elif not running and not waiting:
                t = arr[ptr]
                continue
        if poisson:
            while arr_next <= t:
                if pool_first:
                    out_tokens += 1                # its first token, computed by the prefill pool
                if pre_finished[ptr]:
                    first[ptr] = finish_t[ptr] = arr[ptr]
                    finished += 1
                    if first_done is None:
                        first_done = (t, out_tokens)
                else:
                    waiting.append(ptr)
                if ptr == open_at:
                    marks["open"] = (t, busy_run_sum, dec_time, dec_steps)
                elif ptr == mid_at:
                    marks["mid"] = (t, busy_run_sum, dec_time, dec_steps)
                ptr += 1
                if ptr == N:
                    last_arrival = (t, out_tokens)
                    marks["close"] = (t, busy_run_sum, dec_time, dec_steps)
                    arr_next = math.inf
                else:
                    arr_next = arr[ptr]
            if not running and not waiting:
                if ptr < N:
                    t = arr[ptr]
                continue
        while crossing_heap and crossing_heap[0][0] <= t:
            when, i = heapq.heappop(crossing_heap)
            if crossing.get(i) != when:
                continue                                # preempted while crossing
            del crossing[i]
            if gen[i] >= lout[i]:
                finish(i, when)
            else:
                join(i)
        # ---- decode part: every running sequence past its prefill gets one token ----
        if pending:
            for i in pending:
                join(i)
            pending = []
        preempted_now = False
        if D and on_demand and D > total_blocks - used:     # (else each sequence finds a block)
            grow = hist[(-G) % bs]            # sequences at a block boundary need a block now
            while grow > total_blocks - used and running:
                victim, _ = running.popitem()          # latest admitted: recompute later
                if fin_g[victim] >= 0:
                    leave(victim)
                elif victim in crossing:
                    del crossing[victim]                # its prompt recomputes, its first token stands
                else:
                    prefilling.remove(victim)
                used -= alloc[victim]
                alloc[victim] = 0
                ctx[victim] = 0
                need[victim] = lin[victim] + gen[victim] - cached[victim]
                done_pf[victim] = 0
                waiting.appendleft(victim)
                preemptions += 1
                preempted_now = True
                grow = hist[(-G) % bs] if D else 0
        # ---- prefill part: continue chunks, then admit in arrival order ----
        chunks: list[tuple[int, int, int]] = []         # (id, offset, tokens)
        pf_tokens = 0
        if waiting or prefilling:                       # (else a decode run, or idle)
            budget = budget_all - (D if mixed else 0)
            for i in prefilling:
                if budget > 0:
                    c = min(need[i], budget) if chunked else need[i]
                    if not chunked and c > budget and chunks:
                        break
                    chunks.append((i, cached[i] + done_pf[i], c))
                    budget -= c
                    pf_tokens += c
            # TGI-style throttle: with a batch running, waiting requests are prefilled only once there
            # are ratio x running of them or the batch has made max_wait decode steps since the last
            # admission (families.SchedulerConfig.waiting_served_ratio / max_waiting_steps)
            gate = not throttle or not running or since_admit >= max_wait or len(waiting) >= int(len(running) * wsr)
            # A step that preempted admits nobody (vLLM V1's scheduler: `if not preempted_reqs`;
            # SGLang raises its output reserve after a retraction, to the same effect): re-admitting
            # the victims into the memory they just freed is what made runs thrash.
            gate = gate and not preempted_now
            admitted = False
            while gate and waiting and len(running) < max_seqs and (budget > 0 or (not chunked and not chunks)):
                i = waiting[0]
                g_i = gen[i]
                nb = (-(-(lin[i] + (lout[i] if reserve else g_i)) // bs) if grows else 0) + wblk[i]
                if nb > total_blocks - used - watermark:
                    break
                if need[i] == 0 and g_i > 0:               # prefilled elsewhere (disaggregated): decode next step
                    waiting.popleft()
                    running[i] = None
                    alloc[i] = nb
                    used += nb
                    ctx[i] = lin[i] + g_i
                    if sched_t[i] != sched_t[i]:           # NaN: first time scheduled
                        sched_t[i] = t
                        first_due.append(i)                 # the decode instance streams the first token
                    pending.append(i)
                    continue
                c = need[i]
                if c > budget and chunked:
                    c = budget
                elif c > budget and chunks:
                    break                                   # an unchunked prompt runs whole, one per step at least
                waiting.popleft()
                running[i] = None
                prefilling.append(i)
                alloc[i] = nb
                used += nb
                ctx[i] = lin[i] + g_i
                if sched_t[i] != sched_t[i]:
                    sched_t[i] = t
                chunks.append((i, cached[i], c))
                budget -= c
                pf_tokens += c
                admitted = True
            if admitted:
                since_admit = 0
        if not chunks and not D:
            if pending:
                continue                                # they decode from the next step on
            nxt = arr[ptr] if ramp_end else arr_next
            if crossing_heap:
                nxt = min(nxt, crossing_heap[0][0])
            if nxt < math.inf:
                t = max(t, nxt)
                continue
            raise UserError("the scheduler cannot make progress (a request does not fit the KV cache)")

        if not chunks:
            # ---- a run of pure-decode steps up to the next event, priced in one go ----
            # (admission just failed for lack of requests, seats, budget or KV: nothing changes
            # before a completion, an arrival or a KV block shortfall)
            if pending or first_due or (preempted_now and waiting):
                k = 1                                   # admission reopens next step (or a first token is due)
            else:
                f, i = divmod(heap[0], N)
                while fin_g[i] != f:                    # left by a preempted sequence
                    heappop(heap)
                    f, i = divmod(heap[0], N)
                k = f - G if f - G < MAX_RUN_STEPS else MAX_RUN_STEPS
                if throttle and waiting and since_admit < max_wait:
                    k = min(k, max_wait - since_admit)      # the wait limit opens admission
            # (each sequence adds at most k // block + 1 blocks in k steps: test exactly only near full)
            if on_demand and k > 1 and D * (k // bs + 1) > total_blocks - used and growth(k) > total_blocks - used:
                # the last step before the KV cache runs short: q whole block cycles add D x q
                # blocks, so it lies in the cycle after the last affordable one (1: the check
                # above already made the next step fit)
                q = (total_blocks - used) // D
                lo, hi = max(q * bs, 1), min(k, (q + 1) * bs) - 1
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if growth(mid) <= total_blocks - used:
                        lo = mid
                    else:
                        hi = mid - 1
                k = lo
            na = arr[ptr] if ramp_end else arr_next     # the next arrival ends the run
            if crossing_heap and crossing_heap[0][0] < na:
                na = crossing_heap[0][0]                # so does a prompt's first token (pipelined)
            ab = lines.get(D) or pricer.line(D, S, k)   # the run on one line of the envelope
            if ab is not None:
                # the usual case, inlined: step j takes al + be * j seconds (see _RunPricer.run,
                # which does the same in general)
                a, b = ab
                al = a + b * S
                be = b * D
                dt = k * al + be * (k * (k - 1) // 2)
                if t + dt >= na:
                    k, dt = _steps_to_arrival(al, be, k, t, na)
            else:
                k, dt = pricer.run(D, S, k, t, na)
            busy_run_sum += len(running) * dt
            dec_time += dt
            dec_steps += k
            t += dt
            steps += k
            if first_due:                               # k is 1: the step that admitted them
                for i in first_due:
                    first[i] = t
                first_due = []
            out_tokens += D * k
            if on_demand:
                used += growth(k)
            G += k
            since_admit += k
            S += D * k
            if heap[0] < (G + 1) * N:
                # the run's peak is its last step, before the finished sequences free their blocks
                # (the series samples after: a 4,000-token decode's peak read 0.54% for 19.6%)
                if used > kv_peak:
                    kv_peak = used
                for i in completions():
                    finish(i, t)
            kv_t.append(t)
            kv_u.append(used)
            continue

        # ---- one general step ----
        step_d = D if mixed else 0                      # a prefill step of an unmixed engine runs alone
        attn = 0.0
        largest = 0
        for _, off, c in chunks:
            # (StepCostModel.chunk_attn_flops inlined without a window: one call fewer a chunk)
            attn += attn_coeff * ((off + c) * (off + c) - off * off) if attn_coeff else cm.chunk_attn_flops(off, c)
            if c > largest:
                largest = c
        dt = step_s(step_d, S, pf_tokens, len(chunks), attn, largest)
        busy_run_sum += len(running) * dt
        t_step = t
        t += dt
        steps += 1
        if first_due:
            for i in first_due:
                first[i] = t
            first_due = []
        crossed_at = t                                  # when this step's prompts have their first token
        if piped and step_d and any(need[i] <= c for i, _, c in chunks):
            crossed_at = max(t, t_step + cm.prefill_latency_s(step_d, float(S), pf_tokens, len(chunks), attn,
                                                              largest))
        produced = step_d
        ended = []
        if step_d:
            since_admit += 1
            if on_demand:
                used += hist[(-G) % bs]               # growth(1): the sequences at a block boundary
            G += 1
            S += step_d
            if heap[0] < (G + 1) * N:
                ended = completions()
        for i, _, c in chunks:
            left = need[i] - c
            if left > 0:                                # its prompt goes on next step
                need[i] = left
                done_pf[i] += c
                continue
            need[i] = 0
            prefilling.remove(i)
            g_i = gen[i] + 1
            if g_i == 1:
                first[i] = crossed_at
            gen[i] = g_i
            c_i = ctx[i] + 1
            ctx[i] = c_i
            produced += 1
            if not reserve:
                nb = (-(-c_i // bs) if grows else 0) + wblk[i]
                used += nb - alloc[i]
                alloc[i] = nb
            if crossed_at > t:                          # still crossing the pipeline: joins (or ends) then
                crossing[i] = crossed_at
                heapq.heappush(crossing_heap, (crossed_at, i))
            elif g_i >= lout[i]:
                ended.append(i)
            else:
                join(i)
        out_tokens += produced
        if used > kv_peak:                    # the step's peak, before the finished free their blocks
            kv_peak = used
        for i in ended:
            finish(i, t)
        kv_t.append(t)
        kv_u.append(used)

    # ---- figures ----
    first_a = _floats(first)
    finish_a = _floats(finish_t)
    user_a = _floats(user) if closed else user_a     # (a closed loop's clients send when they choose)
    # Warm-up requests (the first `warm` sent) ran but are not in the figures.
    kept = np.arange(N) >= warm
    ttft = (first_a - user_a)[kept]
    e2e = (finish_a - user_a)[kept]
    multi = (lout_a > 1) & kept
    tpot = (finish_a[multi] - first_a[multi]) / (lout_a[multi] - 1)
    # disaggregated: the waits for a prefill instance and the NICs too, so a queue that forms
    # anywhere on the way reads as one (`run_reading.served_share`)
    queue = (_floats(sched_t) - (_floats(arr) if closed else arr_a) + pool_wait_a)[kept]
    out_rate, keeps_up, window_s = read_throughput(RunTrace(
        mode=w.mode, makespan_s=t, out_tokens=out_tokens, output_lens=lout_a, queue_s=queue,
        request_rate=float(w.request_rate or 0.0), concurrency=int(w.concurrency or 1), issued=issued,
        after_warmup=after_warmup, ramp_done=ramp_done, last_issue=last_issue, first_done=first_done,
        last_arrival=last_arrival, sends=(send_t, send_n)))
    # a running batch still growing where no queue was read (`run_reading.unsettled_share`); lengths
    # spread up to CV 0.5 only: wider spreads' longest requests outlive a run, so their batch grows at
    # loads served in full (Qwen3-235B FP4 on 8 B200, CV 1, 50 requests/s over 8,000 requests)
    unsettled = (unsettled_share(tuple((m[0], m[1]) for m in (marks.get("open"), marks.get("mid"), marks.get("close"))
                                       if m), float(w.request_rate or 0.0))
                 if w.mode == "poisson" and keeps_up and max(w.input_spread, w.output_spread) <= SETTLING_SPREAD
                 and served_share_from_queue(queue, float(w.request_rate or 0.0)) is None else None)
    mean_in = float(lin_a.mean())
    mean_out = float(lout_a.mean())
    whole = (busy_run_sum / t if t > 0 else 0.0, dec_time / dec_steps if dec_steps else math.nan)
    held_s = (e2e - queue)[np.isfinite(e2e - queue)]      # (a one-token request disaggregated has no queue)
    residence_s = float(held_s.mean()) if held_s.size else 0.0
    steady_running, steady_step_s, steady_s = _steady_window(w.mode, marks,
                                                             issued > min(int(w.concurrency or 1), N), residence_s,
                                                             whole)
    return SimResult(
        ttft_s=ttft, tpot_s=tpot, e2e_s=e2e, queue_s=queue, output_tokens_per_s=out_rate,
        total_tokens_per_s=out_rate * (mean_in + mean_out) / mean_out,
        kv_time_s=_floats(kv_t), kv_used_frac=np.fromiter(kv_u, dtype=np.int64, count=len(kv_u)) * kv_scale, steps=steps,
        preemptions=preemptions, mean_running=whole[0], mean_decode_step_s=whole[1], makespan_s=t,
        input_lens=lin_a, output_lens=lout_a, keeps_up=keeps_up, capped_requests=int(capped_a[kept].sum()),
        window_s=float(window_s), kv_peak_frac=kv_peak * kv_scale,
        prefill_wait_s=None if prefill_wait_a is None else prefill_wait_a[kept],
        transfer_wait_s=None if nic_wait_a is None else nic_wait_a[kept],
        steady_running=steady_running, steady_decode_step_s=steady_step_s, steady_window_s=steady_s,
        unsettled_share=unsettled)


def _steady_window(mode: str, marks: dict, sent_again: bool, residence_s: float,
                   whole: tuple[float, float]) -> tuple[float, float, float]:
    """(running sequences, decode step s, window s): the time averages over the run's steady
    window, the one its throughput is read over (`run_reading`), or the whole run's (window 0).
    Over the whole run a Poisson or closed-loop run's running batch took in the ramp from an
    empty server and the drain after the last arrival, so it moved with --requests where the
    steady state did not (Qwen3-235B FP8 on 8 H100, 12.6 requests/s, CV 0.5 lengths: 152 / 290 /
    367 running over 500 / 2,000 / 8,000 requests, the window's 379 / 394 over 2,000 / 8,000 and
    about 390 over 32,000; 300 clients: 253 / 289 whole, 290 / 298 over the window).

    Closed loop: from the later of the warm-up's end and the last client's start to the last send
    (every client busy); none when no client sent again or none sent after the window's start.
    Poisson: from the arrival that opens the queue reading's second quarter (the first is left out
    as the batch fills from empty there) to the last arrival (the drain after it left out); none
    when the queue is not read (too few requests) or the window opens before a request's mean time
    in the running set has passed (the batch still filling: a run too short for a steady state).
    Offline: the whole run, as its throughput (every request at t = 0 has no steady state to
    reach). A window without a pure-decode step keeps the whole run's decode step."""
    if mode == "closed" and sent_again and "issue" in marks:
        start = max(marks.get("warm", (0.0, 0.0, 0.0, 0)), marks.get("ramp", (0.0, 0.0, 0.0, 0)))
        end = marks["issue"]
    elif mode == "poisson" and "open" in marks and "close" in marks and marks["open"][0] >= residence_s:
        start, end = marks["open"], marks["close"]
    else:
        return whole[0], whole[1], 0.0
    span = end[0] - start[0]
    if not span > 0:
        return whole[0], whole[1], 0.0
    steps = end[3] - start[3]
    return (end[1] - start[1]) / span, ((end[2] - start[2]) / steps if steps else whole[1]), span
