"""A continuous-batching server simulated step by step, priced by the per-step cost model.

Engine-agnostic: what differs between vLLM, SGLang, TensorRT-LLM, ... is the scheduler
configuration (`families.SchedulerConfig`), not the code. Each step the scheduler

1. gives every running sequence in decode one token (it must find a KV block for it; when the
   paged KV cache is full, the most recently admitted sequence is preempted and later recomputed);
2. fills the rest of the token budget (`max_num_batched_tokens`) with prompt chunks: first the
   prompts already being prefilled, then new requests in arrival order while the running set is
   under `max_num_seqs` and their KV blocks fit (prompt only, or prompt + output when the engine
   reserves output space); engines that do not mix prefill with decode run the prefill step alone;
3. prices the step with `StepCostModel.step_s` for that exact mix and advances the clock.

Arrivals: offline (all at t=0), closed loop (C clients; each sends its next request when the
previous one finishes) or open loop (Poisson at a rate). Lengths are fixed or log-normal with
a given mean and coefficient of variation (seeded). Runs of pure-decode steps between two
events (a completion, an arrival, a KV block shortfall) have the same shape and are priced
together with numpy, which keeps 2,000 requests in tens of milliseconds.

Everything here is per model instance; replicas share nothing (the caller divides the load).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.errors import UserError
from engine.serving.cost_model import StepCostModel
from engine.serving.families import SchedulerConfig

ARRIVAL_MODES = ("offline", "closed", "poisson")
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


@dataclass(frozen=True)
class SimResult:
    ttft_s: np.ndarray                # per request
    tpot_s: np.ndarray                # per request with >= 2 output tokens
    e2e_s: np.ndarray
    queue_s: np.ndarray               # arrival -> first scheduled
    output_tokens_per_s: float        # whole instance, steady window
    total_tokens_per_s: float
    kv_time_s: np.ndarray             # KV utilisation over time (end of each step or run)
    kv_used_frac: np.ndarray
    steps: int
    preemptions: int
    mean_running: float               # time-weighted sequences in the running set
    mean_decode_step_s: float
    makespan_s: float
    input_lens: np.ndarray
    output_lens: np.ndarray


def draw_lengths(mean: float, spread: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Integer lengths >= 1: fixed at the mean, or log-normal with that mean and CV `spread`."""
    if spread <= 0:
        return np.full(n, max(int(round(mean)), 1), dtype=np.int64)
    sigma2 = math.log1p(spread * spread)
    mu = math.log(mean) - sigma2 / 2.0
    x = rng.lognormal(mu, math.sqrt(sigma2), n)
    return np.maximum(np.rint(x), 1).astype(np.int64)


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
    if cm.kv_capacity_tokens < 1:
        raise UserError("the model's weights leave no HBM for the KV cache on this deployment")


@dataclass(frozen=True)
class PrefillPool:
    """Disaggregated prefill: prompts run on separate prefill instances (FCFS, each batching the
    waiting prompts up to its token budget per step), then their KV moves to the decode
    instance over the scale-out network at `transfer_s_per_token` (per prompt token)."""

    cost: StepCostModel
    instances: int = 1
    max_num_batched_tokens: int = 8192
    transfer_s_per_token: float = 0.0


def prefill_pool_done(pool: PrefillPool, arr_t: np.ndarray, lin: np.ndarray, hit: float) -> np.ndarray:
    """When each prompt's prefill (and so its first token) finishes in the prefill pool."""
    n = len(arr_t)
    done = np.empty(n)
    free = np.zeros(max(int(pool.instances), 1))
    order = np.argsort(arr_t, kind="stable")
    budget = max(int(pool.max_num_batched_tokens * pool.cost.attn_groups), 1)
    i = 0
    while i < n:
        k = int(np.argmin(free))
        t = max(float(free[k]), float(arr_t[order[i]]))
        tokens, attn, largest, j = 0, 0.0, 0, i
        while j < n and arr_t[order[j]] <= t:
            cached = int(lin[order[j]] * hit)
            c = max(int(lin[order[j]]) - cached, 1)
            if tokens and tokens + c > budget:
                break
            tokens += c
            attn += pool.cost.chunk_attn_flops(cached, c)
            largest = max(largest, c)
            j += 1
        dt = pool.cost.step_s(0, 0.0, tokens, j - i, attn, largest)
        done[order[i:j]] = t + dt
        free[k] = t + dt
        i = j
    return done


def simulate(cm: StepCostModel, sched: SchedulerConfig, w: Workload,
             prefill_pool: PrefillPool | None = None) -> SimResult:
    """Run the workload to completion on one (decode) instance; see the module doc. With a
    `prefill_pool`, prompts are prefilled there and arrive here ready to decode."""
    _check(w, sched, cm)
    if prefill_pool is not None and w.mode == "closed":
        raise UserError("disaggregated prefill: arrivals must be offline or Poisson (closed loop not simulated)")
    rng = np.random.default_rng(w.seed)
    N = int(w.requests)
    lin = draw_lengths(w.input_len, w.input_spread, N, rng)
    lout = draw_lengths(w.output_len, w.output_spread, N, rng)
    bs = max(int(sched.block_size), 1)
    total_blocks = int(cm.kv_capacity_tokens // bs)
    # One request that can never fit is a user error, not an endless loop.
    worst = int(lin.max() + (lout.max() if sched.reserve_output else 1))
    if -(-worst // bs) > total_blocks:
        raise UserError(f"a {worst}-token request needs more KV than the {total_blocks * bs:,} tokens that fit "
                        "beside the weights; use more chips per replica or a smaller KV dtype")
    watermark = 0 if sched.reserve_output else int(0.01 * total_blocks)
    max_seqs = max(int(sched.max_num_seqs * cm.attn_groups), 1)
    budget_all = max(int(sched.max_num_batched_tokens * cm.attn_groups), 1)
    hit = float(w.prefix_cache_hit)

    arr_t = np.full(N, np.inf)
    if w.mode == "offline":
        arr_t[:] = 0.0
        issued = N
    elif w.mode == "closed":
        c = min(int(w.concurrency or 1), N)
        arr_t[:c] = 0.0
        issued = c
    else:
        gaps = rng.exponential(1.0 / float(w.request_rate or 1.0), N)
        arr_t = np.cumsum(gaps) - gaps[0]
        issued = N
    first_t = np.full(N, np.nan)
    mode = w.mode
    user_arr = arr_t.copy()                   # when each user sent its request
    finish_t = np.full(N, np.nan)
    sched_t = np.full(N, np.nan)
    gen = np.zeros(N, dtype=np.int64)        # output tokens produced
    ctx = np.zeros(N, dtype=np.int64)        # tokens held in KV
    need = np.zeros(N, dtype=np.int64)       # prompt tokens still to compute
    done_pf = np.zeros(N, dtype=np.int64)    # prompt tokens computed in the current prefill
    cached = np.zeros(N, dtype=np.int64)     # prompt tokens served from the prefix cache
    alloc = np.zeros(N, dtype=np.int64)      # KV blocks held

    pre_finished = np.zeros(N, dtype=bool)
    if prefill_pool is not None:
        done = prefill_pool_done(prefill_pool, arr_t, lin, float(w.prefix_cache_hit))
        ready = done + prefill_pool.transfer_s_per_token * lin
        order = np.argsort(ready, kind="stable")
        lin, lout, user_arr, done, arr_t = lin[order], lout[order], user_arr[order], done[order], ready[order]
        first_t[:] = done
        gen[:] = 1                            # the prefill instance emitted the first token
        mode = "poisson"                      # the decode instance sees arrivals in time order
        pre_finished = lout <= 1
    waiting: deque = deque()
    ptr = 0                                   # next arrival (offline/poisson: sorted times)
    if mode != "poisson":
        waiting.extend(range(issued))
        ptr = N
    running: dict = {}                        # ids in admission order (a dict: O(1) removal)
    prefilling: list = []                     # running ids whose prompt is not yet computed
    # The decode set as dense arrays aligned with `dec` (the per-request arrays hold the state of
    # requests outside it): every step touches these, so they stay contiguous.
    dec = np.zeros(0, np.int64)               # running ids in decode
    d_ctx = np.zeros(0, np.int64)
    d_gen = np.zeros(0, np.int64)
    d_lout = np.zeros(0, np.int64)
    d_alloc = np.zeros(0, np.int64)
    pending: list = []                        # admitted already prefilled: join `dec` next step
    used = 0
    t = 0.0
    finished = 0
    steps = 0
    preemptions = 0
    kv_t: list = [np.zeros(1)]
    kv_u: list = [np.zeros(1)]
    tok_t: list = [np.zeros(1)]               # cumulative output tokens over time
    tok_n: list = [np.zeros(1)]
    out_tokens = 0
    busy_run_sum = 0.0                        # integral of running-set size over time
    dec_time = 0.0
    dec_steps = 0

    def blocks_for(tokens) -> int:
        return -(-int(tokens) // bs)

    def add_dec(ids) -> None:
        nonlocal dec, d_ctx, d_gen, d_lout, d_alloc
        ids = np.asarray(ids, dtype=np.int64)
        dec = np.concatenate([dec, ids])
        d_ctx = np.concatenate([d_ctx, ctx[ids]])
        d_gen = np.concatenate([d_gen, gen[ids]])
        d_lout = np.concatenate([d_lout, lout[ids]])
        d_alloc = np.concatenate([d_alloc, alloc[ids]])

    def drop_dec(mask) -> np.ndarray:
        """Remove the masked sequences from the decode set, writing their state back."""
        nonlocal dec, d_ctx, d_gen, d_lout, d_alloc
        ids = dec[mask]
        gen[ids] = d_gen[mask]
        ctx[ids] = d_ctx[mask]
        alloc[ids] = d_alloc[mask]
        keep = ~mask
        dec, d_ctx, d_gen, d_lout, d_alloc = dec[keep], d_ctx[keep], d_gen[keep], d_lout[keep], d_alloc[keep]
        return ids

    def finish(i: int, now: float) -> None:
        nonlocal used, finished, issued
        finish_t[i] = now
        used -= int(alloc[i])
        alloc[i] = 0
        finished += 1
        if mode == "closed" and issued < N:
            arr_t[issued] = now
            user_arr[issued] = now
            waiting.append(issued)
            issued += 1

    while finished < N:
        if mode == "poisson":
            while ptr < N and arr_t[ptr] <= t:
                if pre_finished[ptr]:
                    finish_t[ptr] = first_t[ptr]
                    finished += 1
                else:
                    waiting.append(ptr)
                ptr += 1
            if not running and not waiting:
                t = float(arr_t[ptr])
                continue
        # ---- decode part: every running sequence past its prefill gets one token ----
        if pending:
            add_dec(pending)
            pending = []
        if dec.size and not sched.reserve_output:
            grow = int(np.count_nonzero(d_ctx % bs == 0))
            while grow > total_blocks - used and running:
                victim, _ = running.popitem()          # latest admitted: recompute later
                if victim not in prefilling:
                    drop_dec(dec == victim)
                used -= int(alloc[victim])
                alloc[victim] = 0
                ctx[victim] = 0
                need[victim] = int(lin[victim]) + int(gen[victim]) - int(cached[victim])
                done_pf[victim] = 0
                waiting.appendleft(victim)
                if victim in prefilling:
                    prefilling.remove(victim)
                preemptions += 1
                grow = int(np.count_nonzero(d_ctx % bs == 0)) if dec.size else 0
        D = int(dec.size)
        # ---- prefill part: continue chunks, then admit in arrival order ----
        budget = budget_all - (D if sched.mixed_batches else 0)
        chunks: list = []                              # (id, offset, tokens)
        pf_tokens = 0
        for i in prefilling:
            if budget > 0:
                c = int(min(need[i], budget)) if sched.chunked_prefill else int(need[i])
                if not sched.chunked_prefill and c > budget and chunks:
                    break
                chunks.append((i, int(cached[i] + done_pf[i]), c))
                budget -= c
                pf_tokens += c
        direct = []
        while waiting and len(running) < max_seqs and (budget > 0 or (not sched.chunked_prefill and not chunks)):
            i = waiting[0]
            fresh = gen[i] == 0
            if fresh:
                cached[i] = int(lin[i] * hit)
                need[i] = int(lin[i]) - int(cached[i])
            kv_tokens = int(lin[i]) + int(gen[i]) + (int(lout[i]) - int(gen[i]) if sched.reserve_output else 0)
            nb = blocks_for(kv_tokens)
            if nb > total_blocks - used - watermark:
                break
            if need[i] == 0 and gen[i] > 0:            # prefilled elsewhere (disaggregated): decode next step
                waiting.popleft()
                running[i] = None
                alloc[i] = nb
                used += nb
                ctx[i] = int(lin[i]) + int(gen[i])
                if np.isnan(sched_t[i]):
                    sched_t[i] = t
                direct.append(i)
                continue
            c = int(min(need[i], budget)) if sched.chunked_prefill else int(need[i])
            if not sched.chunked_prefill and c > budget and chunks:
                break                                   # an unchunked prompt runs whole, one per step at least
            waiting.popleft()
            running[i] = None
            prefilling.append(i)
            alloc[i] = nb
            used += nb
            ctx[i] = int(lin[i]) + int(gen[i])
            done_pf[i] = 0
            if np.isnan(sched_t[i]):
                sched_t[i] = t
            chunks.append((i, int(cached[i]), c))
            budget -= c
            pf_tokens += c
        if direct:
            pending.extend(direct)                     # they decode from the next step on
            if not chunks and D == 0:
                continue
        if not sched.mixed_batches and chunks:
            D = 0                                       # the prefill step runs alone
        if not chunks and D == 0:
            if mode == "poisson" and ptr < N:
                t = max(t, float(arr_t[ptr]))
                continue
            raise UserError("the scheduler cannot make progress (a request does not fit the KV cache)")

        # ---- fast path: a run of identical pure-decode steps ----
        if not chunks and D > 0:
            rem = d_lout - d_gen
            k = int(min(rem.min(), MAX_RUN_STEPS)) if not direct else 1
            # (admission just failed for lack of KV or seats: nothing changes before a completion)
            c0 = d_ctx
            sums = float(c0.sum()) + D * np.arange(k, dtype=float)
            dts = cm.decode_run_s(D, sums)
            cum = np.cumsum(dts)
            if mode == "poisson" and ptr < N:
                j = int(np.searchsorted(t + cum, arr_t[ptr], side="left"))
                k = max(min(k, j + 1), 1)
            if not sched.reserve_output and k > 1:
                def grow_after(kk):
                    return int((-(-(c0 + kk) // bs)).sum() - d_alloc.sum())
                if grow_after(k) > total_blocks - used:
                    lo, hi = 1, k
                    while lo < hi:
                        mid = (lo + hi + 1) // 2
                        if grow_after(mid) <= total_blocks - used:
                            lo = mid
                        else:
                            hi = mid - 1
                    k = lo
            dt = float(cum[k - 1])
            busy_run_sum += len(running) * dt
            dec_time += dt
            dec_steps += k
            tok_t.append(t + cum[:k])
            tok_n.append(out_tokens + D * np.arange(1, k + 1, dtype=float))
            t += dt
            steps += k
            d_gen += k
            d_ctx += k
            out_tokens += D * k
            if not sched.reserve_output:
                newa = -(-d_ctx // bs)
                used += int(newa.sum() - d_alloc.sum())
                d_alloc = newa
            kv_t.append(np.array([t]))
            kv_u.append(np.array([used / max(total_blocks, 1)]))
            dmask = d_gen >= d_lout
            if dmask.any():
                done = drop_dec(dmask)
                dset = set(done.tolist())
                for i in dset:
                    del running[i]
                for i in done.tolist():
                    finish(i, t)
            continue

        # ---- one general step ----
        ctx_sum = float(d_ctx.sum()) if D else 0.0
        attn = 0.0
        largest = 0
        for _, off, c in chunks:
            attn += cm.chunk_attn_flops(off, c)
            largest = max(largest, c)
        dt = cm.step_s(D, ctx_sum, pf_tokens, len(chunks), attn, largest)
        busy_run_sum += len(running) * dt
        t += dt
        steps += 1
        if D and not chunks:
            dec_time += dt
            dec_steps += 1
        produced = D
        if D:
            d_gen += 1
            d_ctx += 1
            if not sched.reserve_output:
                newa = -(-d_ctx // bs)
                used += int(newa.sum() - d_alloc.sum())
                d_alloc = newa
        ended = []
        if D:
            dmask = d_gen >= d_lout
            if dmask.any():
                ended.extend(drop_dec(dmask).tolist())
        newly = []
        for i, _, c in chunks:
            done_pf[i] += c
            need[i] -= c
            if need[i] <= 0:
                need[i] = 0
                prefilling.remove(i)
                if gen[i] == 0:
                    first_t[i] = t
                gen[i] += 1
                ctx[i] += 1
                produced += 1
                if not sched.reserve_output:
                    nb = blocks_for(ctx[i])
                    used += nb - int(alloc[i])
                    alloc[i] = nb
                if gen[i] >= lout[i]:
                    ended.append(i)
                else:
                    newly.append(i)
        if newly:
            add_dec(newly)
        out_tokens += produced
        tok_t.append(np.array([t]))
        tok_n.append(np.array([float(out_tokens)]))
        if ended:
            eset = set(ended)
            for i in eset:
                del running[i]
            for i in ended:
                finish(i, t)
        kv_t.append(np.array([t]))
        kv_u.append(np.array([used / max(total_blocks, 1)]))

    # ---- figures ----
    ttft = first_t - user_arr
    e2e = finish_t - user_arr
    multi = lout > 1
    tpot = (finish_t[multi] - first_t[multi]) / (lout[multi] - 1)
    queue = sched_t - arr_t
    tt = np.concatenate(tok_t)
    tn = np.concatenate(tok_n)
    if mode == "closed":
        # while every client is busy: up to the last request's arrival (the tail has fewer clients)
        t0, t1 = 0.0, float(np.nanmax(arr_t))
        if not (t1 > t0):
            t0, t1 = 0.0, t
    else:
        # offline: everything over the makespan; Poisson: from the first arrival to the last
        # completion, which is the offered load when the server keeps up and its capacity when not
        t0, t1 = float(user_arr.min()), t
    n0 = float(np.interp(t0, tt, tn))
    n1 = float(np.interp(t1, tt, tn))
    out_rate = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
    mean_in = float(lin.mean())
    mean_out = float(lout.mean())
    return SimResult(
        ttft_s=ttft, tpot_s=tpot, e2e_s=e2e, queue_s=queue, output_tokens_per_s=out_rate,
        total_tokens_per_s=out_rate * (mean_in + mean_out) / mean_out,
        kv_time_s=np.concatenate(kv_t), kv_used_frac=np.concatenate(kv_u), steps=steps,
        preemptions=preemptions, mean_running=busy_run_sum / t if t > 0 else 0.0,
        mean_decode_step_s=dec_time / dec_steps if dec_steps else float("nan"), makespan_s=t,
        input_lens=lin, output_lens=lout)


def percentiles(x: np.ndarray) -> dict:
    """mean, p50, p90, p99 of finite values (NaN when none)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        nan = float("nan")
        return {"mean": nan, "p50": nan, "p90": nan, "p99": nan}
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    return {"mean": float(x.mean()), "p50": float(p50), "p90": float(p90), "p99": float(p99)}
