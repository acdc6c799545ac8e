"""The prefill pool of a disaggregated deployment, for the simulator (`engine.serving.simulator`).

Prompts run on separate prefill instances, FCFS, each step batching the waiting prompts up to the
instance's token budget and priced with `StepCostModel.step_s`; each prompt's KV then crosses the
scale-out network to the decode instance, the transfers queueing on both sides' NICs. The
simulator takes the times each prompt's KV is ready there as its arrivals. Moved here from
simulator.py, which keeps importing the names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.serving.cost_model import StepCostModel


@dataclass(frozen=True)
class PrefillPool:
    """Disaggregated prefill: prompts run on separate prefill instances (FCFS, each batching the
    waiting prompts up to its token budget per step), then their KV moves to the decode
    instance over the scale-out network: `transfer_s_per_token` per prompt token for one
    transfer alone (the slower of the two sides). Transfers share the NICs: a prefill
    instance's sends take `send_s_per_token` of its NICs' time, the decode instance's receives
    `recv_s_per_token` of its own (None: the transfer's time), one transfer after another.
    `recv_queues`: the decode instance's data-parallel attention ranks; each takes its own
    requests' KV over its own NICs, so their receives run side by side."""

    cost: StepCostModel
    instances: int = 1
    max_num_batched_tokens: int = 8192
    transfer_s_per_token: float = 0.0
    send_s_per_token: float | None = None
    recv_s_per_token: float | None = None
    recv_queues: int = 1


def _prefill_pool_run(pool: PrefillPool, arr_t: np.ndarray, lin: np.ndarray,
                      hit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(when each prompt's prefill starts, when it finishes, which prefill instance ran it)."""
    n = len(arr_t)
    order = np.argsort(arr_t, kind="stable")
    # Python lists in the loop (numpy scalar access is several times slower), arrays at the end
    arr_s = arr_t[order].tolist()
    lin_s = lin[order].tolist()
    start_s = [0.0] * n
    done_s = [0.0] * n
    where_s = [0] * n
    free = [0.0] * max(int(pool.instances), 1)
    budget = max(int(pool.max_num_batched_tokens * pool.cost.attn_groups), 1)
    step_s, attn_flops = pool.cost.step_s, pool.cost.chunk_attn_flops
    i = 0
    while i < n:
        k = free.index(min(free))
        t = max(free[k], arr_s[i])
        tokens, attn, largest, j = 0, 0.0, 0, i
        while j < n and arr_s[j] <= t:
            cached = int(lin_s[j] * hit)
            c = max(int(lin_s[j]) - cached, 1)
            if tokens and tokens + c > budget:
                break
            tokens += c
            attn += attn_flops(cached, c)
            largest = max(largest, c)
            j += 1
        end = t + step_s(0, 0.0, tokens, j - i, attn, largest)
        start_s[i:j] = [t] * (j - i)
        done_s[i:j] = [end] * (j - i)
        where_s[i:j] = [k] * (j - i)
        free[k] = end
        i = j
    start, done, where = np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)
    start[order], done[order], where[order] = start_s, done_s, where_s
    return start, done, where


def prefill_pool_done(pool: PrefillPool, arr_t: np.ndarray, lin: np.ndarray, hit: float) -> np.ndarray:
    """When each prompt's prefill finishes in the prefill pool."""
    return _prefill_pool_run(pool, arr_t, lin, hit)[1]


def prefill_pool_ready(pool: PrefillPool, arr_t: np.ndarray, lin: np.ndarray,
                       hit: float) -> tuple[np.ndarray, np.ndarray]:
    """(when each prompt's KV has reached the decode instance, seconds it waited on the way:
    for a prefill instance, then for the NICs). Transfers go in the order their prefills
    finish; each starts when its prefill instance's NICs and the decode instance's are free, so
    transfers that need more than the NICs' time queue (timed alone, a 1 GB/s NIC kept 220%
    busy added nothing to TTFT)."""
    ready, prefill_wait, nic_wait = _prefill_pool_transfers(pool, arr_t, lin, hit)
    return ready, prefill_wait + nic_wait


def _prefill_pool_transfers(pool: PrefillPool, arr_t: np.ndarray, lin: np.ndarray,
                            hit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`prefill_pool_ready` with its waits apart: (ready, seconds waited for a prefill instance,
    seconds waited for the NICs)."""
    start, done, where = _prefill_pool_run(pool, arr_t, lin, hit)
    lin = pool.cost.kv_tokens(lin)        # each prompt's KV, as whole-model tokens (windowed layers: the window)
    whole = float(pool.transfer_s_per_token)
    send = whole if pool.send_s_per_token is None else float(pool.send_s_per_token)
    recv = whole if pool.recv_s_per_token is None else float(pool.recv_s_per_token)
    ranks = max(int(pool.recv_queues), 1)
    ready = np.empty(len(arr_t))
    prefill_wait = start - arr_t
    nic_wait = np.zeros(len(arr_t))
    if whole <= 0.0:
        ready[:] = done
        return ready, prefill_wait, nic_wait
    order = np.argsort(done, kind="stable")
    if ranks == 1 and (int(pool.instances) <= 1 or send <= recv):
        # The decode instance's NICs bind (or one sender, so one queue): transfer i starts at
        # max(its prefill's end, the previous start + the previous transfer's busy time), in
        # closed form: with S the busy times summed before i, S_i + max over j <= i of
        # (done_j - S_j). One sender is busy for the slower side's time, the receiver for its own.
        busy = lin[order] * (whole if int(pool.instances) <= 1 else recv)
        before = np.concatenate(([0.0], np.cumsum(busy)[:-1]))
        start = before + np.maximum.accumulate(done[order] - before)
        ready[order] = start + lin[order] * whole
        nic_wait[order] = start - done[order]
        return ready, prefill_wait, nic_wait
    send_free = [0.0] * max(int(pool.instances), 1)
    # one receive queue per attention rank: a request's KV goes to its rank's chips alone, and
    # the rank whose NICs free first takes it (the decode side's DP balancing)
    recv_free = [0.0] * ranks
    done_l, where_l, lin_l = done.tolist(), where.tolist(), lin.tolist()
    for i in order.tolist():
        k = where_l[i]
        r = recv_free.index(min(recv_free))
        t = max(done_l[i], send_free[k], recv_free[r])
        ready[i] = t + lin_l[i] * whole
        # each side is busy for its own share; the transfer lasts as long as the slower side
        send_free[k] = t + lin_l[i] * send
        recv_free[r] = t + lin_l[i] * recv
        nic_wait[i] = t - done_l[i]
    return ready, prefill_wait, nic_wait
