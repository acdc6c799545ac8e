"""Serving figures under load from the simulator: one scenario, load curves, SLO capacity.

- `simulate_scenario(inputs, ...)`: a `ServingInputs` scenario (concurrency, server, offline)
  run request by request (replicas share nothing: the load is divided, each distinct share
  simulated once, idle replicas counted).
- `load_curve(...)`: latency percentiles and throughput as the offered load rises (the knee).
- `slo_capacity_tokens_per_s_per_chip(...)`: the highest Poisson load whose TTFT/TPOT
  percentiles meet the targets, as output tokens/s per chip (what the forecast needs); one
  layout's search is `slo_capacity_sim`, the load it finds held on several samples
  `engine.serving.slo_margin`, the layout chosen under load `engine.serving.slo_layout`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from engine.errors import UserError
from engine.serving.cost_model import StepCostModel, build_cost_model
from engine.serving.families import LIMIT_FACTORS, SchedulerConfig, engine_family, scheduler_for
from engine.serving.disagg_load import unserved_limit
from engine.serving.slo_margin import BACK_OFF, MAX_BACK_OFFS, SAMPLES, hold_on_samples, margin_words, stated_rate
from engine.serving.simulator import (OVERLOAD_SHARE, PrefillPool, SimResult, TargetsMissed, Workload, percentiles,
                                      served_share_from_queue, simulate)

DEFAULT_REQUESTS = 2000
PAST_SATURATION_STEP = 1.2      # SLO search: offered-load steps beyond the offline saturation estimate
MAX_PAST_SATURATION_PROBES = 6  # up to 3x the estimate (lengths spread with CV 1 read ~35% low)
LIGHT_LOAD_SHARE = 0.02     # SLO search: its lightest load, this share of the offline saturation estimate,
LIGHTER_STEP = 4.0          # and when that misses the targets, loads this many times lighter each,
MAX_LIGHTER_LOADS = 4       # down to 1/256 of it (a request then mostly runs alone)
MAX_SIMULATED_BATCH = 512   # SLO capacity: replicas running more sequences keep the steady-state figure
# Disaggregated SLO search: the samples the point found is held on run this many times the requests
VERIFY_REQUESTS_FACTOR = 4


@dataclass(frozen=True)
class LoadRun:
    """One simulated load point, with the figures a user reads (ms, tokens/s per chip)."""

    sim: SimResult
    chips_per_replica: int
    ttft_ms: dict                 # mean, p50, p90, p99
    tpot_ms: dict
    e2e_ms: dict
    queue_ms: dict
    output_tokens_per_s_per_chip: float
    total_tokens_per_s_per_chip: float
    requests: int                 # simulated, every replica's
    # A deployment whose replicas ran different shares of the load (`simulate_scenario`): each
    # distinct replica run and how many replicas ran it, ((replicas, SimResult or None: idle), ...),
    # busiest first; `sim` is the busiest. Empty: every replica ran `sim`.
    replica_runs: tuple = ()
    split: str = ""               # the uneven share in words ("" when every replica ran the same)
    # requests drawn and simulated once: replicas with the same share reuse one run, so the
    # percentiles carry the sampling error of these, not of `requests` (0: not counted)
    distinct_requests: int = 0
    # disaggregated, in the SLO search: the busier side's share of its NICs' time the KV transfers
    # need at the run's rate (`disagg_load.pool_nics_busy_share`; over 1, serve's "overloaded"),
    # and that side's name (`disagg_load.SENDING_NICS` or `RECEIVING_NICS`)
    nic_busy_share: float = 0.0
    nic_side: str = ""

    @property
    def _runs(self) -> tuple:
        return self.replica_runs or ((1, self.sim),)

    @property
    def mean_running(self) -> float:
        """Sequences running per replica (time-weighted over each run's steady window,
        `SimResult.steady_running`), averaged over every replica (idle: 0)."""
        n = sum(c for c, _ in self._runs)
        return sum(c * s.steady_running for c, s in self._runs if s is not None) / n

    @property
    def preemptions(self) -> int:
        """Preemptions over every replica."""
        return int(sum(c * s.preemptions for c, s in self._runs if s is not None))

    @property
    def capped_requests(self) -> int:
        """Requests, over every replica, whose drawn lengths were capped to the context window."""
        return int(sum(c * s.capped_requests for c, s in self._runs if s is not None))

    @property
    def mean_decode_step_s(self) -> float:
        """Mean decode step (each run's steady window's) over the replicas that ran decode steps (NaN: none did)."""
        steps = [(c, s.steady_decode_step_s) for c, s in self._runs
                 if s is not None and math.isfinite(s.steady_decode_step_s)]
        n = sum(c for c, _ in steps)
        return sum(c * v for c, v in steps) / n if n else float("nan")


def _ms(d: dict) -> dict:
    return {k: v * 1e3 for k, v in d.items()}


def pooled_percentiles(groups) -> dict:
    """`percentiles` of the requests of several replica runs pooled, each run's array counted as
    many times as replicas ran it (`groups`: (count, array) pairs): np.percentile's linear
    interpolation over the repeated arrays, without building them. One group: `percentiles`."""
    parts = [(c, np.asarray(x, dtype=float)) for c, x in groups if c > 0]
    parts = [(c, x[np.isfinite(x)]) for c, x in parts]
    parts = [(c, x) for c, x in parts if x.size]
    if len(parts) <= 1:
        return percentiles(parts[0][1] if parts else np.empty(0))
    values = np.concatenate([x for _, x in parts])
    if all(float(c).is_integer() for c, _ in parts):   # whole counts: exactly the repeated arrays
        g = math.gcd(*(int(c) for c, _ in parts))
        weights = np.concatenate([np.full(x.size, int(c) // g, dtype=float) for c, x in parts])
    else:   # weights per request (a busier replica's requests stand for more of the deployment's)
        low = min(float(c) for c, _ in parts)
        weights = np.concatenate([np.full(x.size, float(c) / low) for c, x in parts])
    order = np.argsort(values, kind="stable")
    values, cum = values[order], np.cumsum(weights[order])
    n = float(cum[-1])

    def at(q: float) -> float:
        pos = q / 100.0 * (n - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, int(math.ceil(n - 1)))
        v_lo, v_hi = values[np.searchsorted(cum, [lo, hi], side="right")]
        return float(v_lo + (pos - lo) * (v_hi - v_lo))

    return {"mean": float(np.dot(values, weights[order]) / n), "p50": at(50), "p90": at(90), "p99": at(99)}


def run_load(cm: StepCostModel, sched: SchedulerConfig, workload: Workload, chips_per_replica: int,
             prefill_pool: PrefillPool | None = None, miss_targets: tuple | None = None) -> LoadRun:
    """One load point; with a `prefill_pool`, prompts run there (disaggregated) and
    `chips_per_replica` counts both pools. `miss_targets`: `simulate`'s (it may raise
    `simulator.TargetsMissed`)."""
    sim = simulate(cm, sched, workload, prefill_pool=prefill_pool, miss_targets=miss_targets)
    return LoadRun(sim=sim, chips_per_replica=chips_per_replica, ttft_ms=_ms(percentiles(sim.ttft_s)),
                   tpot_ms=_ms(percentiles(sim.tpot_s)), e2e_ms=_ms(percentiles(sim.e2e_s)),
                   queue_ms=_ms(percentiles(sim.queue_s)),
                   output_tokens_per_s_per_chip=sim.output_tokens_per_s / chips_per_replica,
                   total_tokens_per_s_per_chip=sim.total_tokens_per_s / chips_per_replica,
                   requests=workload.requests)


def cost_model_for(inputs) -> StepCostModel:
    return build_cost_model(inputs.model, inputs.chip, tp=inputs.tp, ep=inputs.ep, pp=inputs.pp,
                            weight_dtype=inputs.weight_dtype, kv_dtype=inputs.kv_dtype, engine=inputs.engine,
                            factors=inputs.factors or None)


def scheduler_of(inputs, cm: StepCostModel) -> SchedulerConfig:
    """The family's documented scheduler, with the limits the deployment sets itself (token
    budget per step, running sequences) in their place when the inputs give them, as fields or
    as the closed-form model's explicit factor overrides (`families.LIMIT_FACTORS`)."""
    from dataclasses import replace

    sched = scheduler_for(inputs.engine)
    given = getattr(inputs, "factors", None) or {}
    seqs, budget = (getattr(inputs, f, None) or given.get(LIMIT_FACTORS[f])
                    for f in ("max_num_seqs", "max_num_batched_tokens"))
    if seqs is not None:
        sched = replace(sched, max_num_seqs=int(seqs))
    if budget is not None:
        sched = replace(sched, max_num_batched_tokens=int(budget))
    return sched


def _shares(total: int, parts: int) -> list[tuple[int, int]]:
    """`total` split over `parts` as evenly as whole numbers go, in replica order: [(how many
    replicas, each one's share)], the larger share first (`total % parts` replicas take one more)."""
    q, r = divmod(int(total), int(parts))
    return [(k, v) for k, v in ((r, q + 1), (int(parts) - r, q)) if k > 0]


def _aligned(parts: int, *splits: list) -> list[tuple[int, tuple]]:
    """Splits of the same `parts` replicas (each as `_shares` gives it, in replica order) read
    together: [(how many replicas, (their share in each split))], runs of equal shares merged."""
    bounds = {0, int(parts)}
    for split in splits:
        end = 0
        for k, _ in split:
            end += k
            bounds.add(end)
    edges = sorted(bounds)

    def share(split, i):
        end = 0
        for k, v in split:
            end += k
            if i < end:
                return v
        raise AssertionError("splits cover every replica")

    out: list[tuple[int, tuple]] = []
    for a, b in zip(edges, edges[1:]):
        key = tuple(share(sp, a) for sp in splits)
        if out and out[-1][1] == key:
            out[-1] = (out[-1][0] + b - a, key)
        else:
            out.append((b - a, key))
    return out


def running_text(n: float) -> str:
    """'0.4 sequences running', '1 sequence running', '37 sequences running': one decimal below 10
    (a mean of 0.38 read '0 sequences'), whole above."""
    if n < 10 and abs(n - round(n)) >= 0.05:
        return f"{n:.1f} sequences running"
    return f"{n:,.0f} sequence{'' if round(n) == 1 else 's'} running"


def capped_note(capped: int, requests: int, model, run: str = "", mean_output: float | None = None) -> str:
    """The note on requests whose drawn lengths were capped to the context window. `run` names the
    simulated run they belong to (one answer can carry two: the offline run and the SLO point's);
    `mean_output` is the mean output length after capping, which the capping shortens."""
    where = f" in {run}" if run else ""
    after = f"; mean output after capping {mean_output:,.0f} tokens" if mean_output is not None else ""
    return (f"{capped:,} of {requests:,} simulated requests{where} were drawn longer than {model.name}'s "
            f"{context_of(model):,}-token context window and capped to it (prompt cut, output stopped at its "
            f"end){after}")


def context_of(model) -> int:
    """The model's context window for the simulator's length cap (0: not known)."""
    return int(getattr(model, "context_len", 0) or 0)


def _workload(inputs, conc: int | None, requests: int | None, input_spread: float, output_spread: float,
              seed: int, prefix_cache_hit: float, max_seqs: int | None) -> Workload:
    """One replica's workload: `conc` clients (closed loop), `requests` of its own (None: the
    defaults below)."""
    sc = inputs.scenario
    reps = max(int(inputs.replicas), 1)
    warm = int(getattr(inputs, "warmup_requests", 0) or 0)
    window = context_of(inputs.model)
    if sc == "concurrency":
        conc = max(int(conc or 1), 1)
        per_client = getattr(inputs, "requests_per_client", None)
        n = requests or (per_client * conc if per_client else max(DEFAULT_REQUESTS // 4, 4 * conc))
        return Workload("closed", inputs.input_len, inputs.output_len, requests=int(n) + warm, concurrency=conc,
                        input_spread=input_spread, output_spread=output_spread, prefix_cache_hit=prefix_cache_hit,
                        seed=seed, warmup=warm, ramp_s=float(getattr(inputs, "ramp_s", 0.0) or 0.0),
                        context_len=window)
    if sc == "server":
        n = requests or DEFAULT_REQUESTS
        return Workload("poisson", inputs.input_len, inputs.output_len, requests=int(n) + warm,
                        request_rate=float(inputs.request_rate) / reps, input_spread=input_spread,
                        output_spread=output_spread, prefix_cache_hit=prefix_cache_hit, seed=seed, warmup=warm,
                        context_len=window)
    if sc == "offline":
        n = requests or max(DEFAULT_REQUESTS, 3 * int(max_seqs or 0))
        return Workload("offline", inputs.input_len, inputs.output_len, requests=int(n) + warm,
                        input_spread=input_spread, output_spread=output_spread, prefix_cache_hit=prefix_cache_hit,
                        seed=seed, warmup=warm, context_len=window)
    raise UserError(f"scenario {sc!r}: the load simulator runs concurrency, server or offline")


def replica_workloads(inputs, requests: int | None = None, input_spread: float = 0.0, output_spread: float = 0.0,
                      seed: int = 0, prefix_cache_hit: float = 0.0,
                      max_seqs: int | None = None) -> list[tuple[int, Workload | None]]:
    """The replicas' workloads of a scenario: [(how many replicas, the workload each of them
    runs, None for replicas left idle)], busiest first; at most three distinct ones.

    Replicas share nothing and take the load as evenly as whole clients and requests go: C
    clients over R replicas give C % R of them one client more than the rest, and with C < R,
    R - C replicas idle (their chips still count, doing nothing); a Poisson rate is split evenly;
    `requests` (the whole deployment's) split likewise over the replicas with clients.
    See `workload_for` for one replica's protocol."""
    reps = max(int(inputs.replicas), 1)
    if inputs.scenario == "concurrency":
        clients_total = max(int(inputs.concurrency or 1), 1)
        clients: list = _shares(clients_total, reps)
        busy = min(clients_total, reps)
    else:
        clients, busy = [(reps, None)], reps
    if requests is not None:
        split: list = _shares(max(int(requests), 1), busy) + ([(reps - busy, 0)] if reps > busy else [])
    else:
        split = [(reps, None)]
    out: list[tuple[int, Workload | None]] = []
    for count, (conc, n) in _aligned(reps, clients, split):
        idle = conc == 0 or n == 0
        out.append((count, None if idle else _workload(inputs, conc, n, input_spread, output_spread, seed,
                                                        prefix_cache_hit, max_seqs)))
    return out


def workload_for(inputs, requests: int | None = None, input_spread: float = 0.0, output_spread: float = 0.0,
                 seed: int = 0, prefix_cache_hit: float = 0.0, max_seqs: int | None = None) -> Workload:
    """The workload of the busiest replica of a scenario (closed loop C / replicas, Poisson R /
    replicas, `requests` / replicas, whole clients and requests: `replica_workloads`).

    Closed loop, the benchmark protocol (inputs a user sets; defaults documented here):
    - measured requests: `requests`, else `requests_per_client` x clients, else at least 500 and
      4 per client. Benchmark clients run 10-20 per client (AIConfigurator's aiperf sweep sends
      20 x C, its guide 10 x C; vLLM's and SGLang's benchmark scripts 1,000 in all);
    - `warmup_requests` more run first and are left out of the figures, as a client that keeps
      its clients busy through the warm-up reports. aiperf instead waits for its warm-up to
      drain before it measures, so its measured run starts from an idle server with every client
      sending at once: that is warm-up 0 here;
    - `ramp_s`: the clients start evenly over this many seconds (aiperf
      --concurrency-ramp-duration); 0 (the default, as every tool's default) starts them at once,
      so with fixed lengths the first cohort is prefilled together;
    - the latency figures are every measured request's, the clients' joint start included, as
      a benchmark's are; the output throughput is the steady rate while every client is busy
      (`run_reading`: a line through the output tokens at each send), not a benchmark's output
      over its duration, which takes in the start and the drain. The default stays at 4 per
      client: 10 or 20 move the TTFT mean the validation rows measure (median error of the public
      concurrency TTFT rows 48.6 -> 52.1 / 54.2%, overall p90 53.1 -> 55.7 / 57.4%), while the
      throughput read that way is within 4.1% of 60 per client's (0.19% median over 87 runs)."""
    groups = replica_workloads(inputs, requests, input_spread, output_spread, seed, prefix_cache_hit, max_seqs)
    return next(w for _, w in groups if w is not None)


def _split_words(inputs, groups: list) -> str:
    """How an uneven load fell on the replicas, in words ("" when every replica ran the same)."""
    if len(groups) == 1:
        return ""
    reps = sum(c for c, _ in groups)
    closed = inputs.scenario == "concurrency"

    def each(c: int, w) -> str:
        if w is None:
            return f"{c} replica{'s' if c > 1 else ''} idle"
        n = int(w.requests) - int(w.warmup)
        req = f"{n} request{'s' if n != 1 else ''}{' each' if c > 1 else ''}"
        if closed:
            req = f"{w.concurrency} client{'s' if w.concurrency != 1 else ''} ({req})"
        return f"{c} replica{'s' if c > 1 else ''} with {req}"

    what = (f"{int(inputs.concurrency)} client{'s' if int(inputs.concurrency) != 1 else ''}" if closed else
            f"{sum(c * (int(w.requests) - int(w.warmup)) for c, w in groups if w is not None)} requests")
    return f"{what} over {reps} replicas: {', '.join(each(c, w) for c, w in groups)}; per-chip figures over all {reps}"


def _replica_runs(inputs, groups: list, run_one, chips_per_replica: int) -> LoadRun:
    """Each distinct replica workload run once (`run_one(workload)` -> SimResult) and the
    deployment's figures from them: throughput summed over the replicas over all their chips,
    latency percentiles over every replica's requests."""
    sims: dict = {}
    runs = []
    for count, w in groups:
        if w is not None and w not in sims:
            sims[w] = run_one(w)
        runs.append((count, sims[w] if w is not None else None))
    reps = sum(c for c, _ in runs)
    busy = [(c, s) for c, s in runs if s is not None]
    sim = busy[0][1]
    requests = sum(c * int(w.requests) for c, w in groups if w is not None)
    if len(runs) == 1:   # every replica alike: one replica's figures stand for each
        lat = {k: percentiles(getattr(sim, k)) for k in ("ttft_s", "tpot_s", "e2e_s", "queue_s")}
        out, tot = sim.output_tokens_per_s / chips_per_replica, sim.total_tokens_per_s / chips_per_replica
    else:
        # closed loop: each replica's requests weigh as many as it serves in a common time (a
        # 2-client replica runs as many simulated requests as a 1-client one, in half the time:
        # count / makespan); offline and Poisson requests are the deployment's own, once each
        same = inputs.scenario != "concurrency" or len({round(s.makespan_s, 9) for _, s in busy}) == 1
        lat = {k: pooled_percentiles([(c if same else c / max(s.makespan_s, 1e-12), getattr(s, k)) for c, s in busy])
               for k in ("ttft_s", "tpot_s", "e2e_s", "queue_s")}
        chips = reps * int(chips_per_replica)
        out = sum(c * s.output_tokens_per_s for c, s in busy) / chips
        tot = sum(c * s.total_tokens_per_s for c, s in busy) / chips
    return LoadRun(sim=sim, chips_per_replica=int(chips_per_replica), ttft_ms=_ms(lat["ttft_s"]),
                   tpot_ms=_ms(lat["tpot_s"]), e2e_ms=_ms(lat["e2e_s"]), queue_ms=_ms(lat["queue_s"]),
                   output_tokens_per_s_per_chip=out, total_tokens_per_s_per_chip=tot,
                   requests=int(requests), replica_runs=tuple(runs) if len(runs) > 1 else (),
                   split=_split_words(inputs, groups), distinct_requests=sum(int(w.requests) for w in sims))


def simulate_scenario(inputs, *, requests: int | None = None, input_spread: float = 0.0,
                      output_spread: float = 0.0, seed: int = 0, prefix_cache_hit: float = 0.0) -> LoadRun:
    """A scenario over all its replicas: each distinct replica share simulated once
    (`replica_workloads`), the figures the whole deployment's (`requests`: all replicas')."""
    cm = cost_model_for(inputs)
    sched = scheduler_of(inputs, cm)
    groups = replica_workloads(inputs, requests, input_spread, output_spread, seed, prefix_cache_hit,
                               max_seqs=int(sched.max_num_seqs * cm.attn_groups))
    chips_per_replica = int(inputs.pp * max(inputs.tp, inputs.ep))
    return _replica_runs(inputs, groups, lambda w: simulate(cm, sched, w), chips_per_replica)


def simulate_inputs(inputs) -> LoadRun:
    """A `ServingInputs`' own load (its requests, length spreads, seed and prefix-cache share) over
    all its replicas: the run `evaluate_serving` (`fleetcast serve`) and a study's load point read."""
    return simulate_scenario(inputs, requests=inputs.requests, input_spread=inputs.input_len_spread,
                             output_spread=inputs.output_len_spread, seed=inputs.seed,
                             prefix_cache_hit=inputs.prefix_cache_hit)


# ---- curves and SLO capacity ---------------------------------------------------------------------

@dataclass(frozen=True)
class LoadCurve:
    offered_rate_per_s: np.ndarray        # per replica
    output_tokens_per_s_per_chip: np.ndarray
    ttft_ms_p50: np.ndarray
    ttft_ms_p90: np.ndarray
    ttft_ms_p99: np.ndarray
    tpot_ms_p50: np.ndarray
    tpot_ms_p90: np.ndarray
    tpot_ms_p99: np.ndarray
    knee_rate_per_s: float                # where p90 TTFT first exceeds 3x its light-load value (NaN: none)
    saturation_rate_per_s: float          # requests/s one replica completes when overloaded


def _base_inputs(model, chip, *, input_len, output_len, tp, ep, weight_dtype, kv_dtype, engine, factors,
                 max_num_seqs=None, max_num_batched_tokens=None):
    from engine.inference import ServingInputs

    return ServingInputs(model=model, chip=chip, input_len=float(input_len), output_len=float(output_len),
                         tp=int(tp), ep=int(ep or 1), scenario="server", request_rate=1.0,
                         weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine or "",
                         factors=dict(factors or {}), max_num_seqs=max_num_seqs,
                         max_num_batched_tokens=max_num_batched_tokens)


def saturation_rate(cm, sched, input_len, output_len, *, requests=400, input_spread=0.0, output_spread=0.0,
                    seed=0, prefix_cache_hit=0.0, prefill_pool: PrefillPool | None = None,
                    context_len: int = 0) -> float:
    """Requests/s one replica completes with every request available at once (offline)."""
    w = Workload("offline", input_len, output_len, requests=requests, input_spread=input_spread,
                 output_spread=output_spread, prefix_cache_hit=prefix_cache_hit, seed=seed, context_len=context_len)
    sim = simulate(cm, sched, w, prefill_pool=prefill_pool)
    return requests / sim.makespan_s


def load_curve(model, chip, *, input_len, output_len, tp=1, ep=1, weight_dtype="bf16", kv_dtype="bf16",
               engine="", factors=None, points: int = 12, requests: int = 600, input_spread=0.0,
               output_spread=0.0, seed: int = 0, max_num_seqs: int | None = None,
               max_num_batched_tokens: int | None = None, prefix_cache_hit: float = 0.0,
               prefill_tp: int | None = None, prefill_instances: int = 1,
               min_top_rate_per_s: float = 0.0) -> LoadCurve:
    """Poisson loads from 10% to 110% of the saturation rate (per replica; further when
    `min_top_rate_per_s` is beyond it); the scheduler limits
    are the engine family's unless given; `prefix_cache_hit` of each prompt skips prefill;
    `prefill_tp`: prompts run on `prefill_instances` separate instances of that TP."""
    inp = _base_inputs(model, chip, input_len=input_len, output_len=output_len, tp=tp, ep=ep,
                       weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine, factors=factors,
                       max_num_seqs=max_num_seqs, max_num_batched_tokens=max_num_batched_tokens)
    cm = cost_model_for(inp)
    sched = scheduler_of(inp, cm)
    pool, pool_chips = prefill_pool_of(inp, prefill_tp, prefill_instances)
    sat = saturation_rate(cm, sched, input_len, output_len, input_spread=input_spread,
                          output_spread=output_spread, seed=seed, prefix_cache_hit=prefix_cache_hit,
                          prefill_pool=pool, context_len=context_of(model))
    # up to 110% of saturation, or past a load the caller will mark (an SLO point beyond the offline
    # estimate of saturation, which reads low with spread lengths or a prefill pool)
    top = max(1.1 * sat, 1.1 * float(min_top_rate_per_s))
    rates = np.linspace(0.1 * sat, top, points)
    chips = max(int(tp), int(ep or 1)) + pool_chips
    cols: dict = {k: [] for k in ("out", "t50", "t90", "t99", "p50", "p90", "p99")}
    for r in rates:
        w = Workload("poisson", input_len, output_len, requests=requests, request_rate=float(r),
                     input_spread=input_spread, output_spread=output_spread, seed=seed,
                     prefix_cache_hit=prefix_cache_hit, context_len=context_of(model))
        run = run_load(cm, sched, w, chips, pool)
        cols["out"].append(run.output_tokens_per_s_per_chip)
        cols["t50"].append(run.ttft_ms["p50"])
        cols["t90"].append(run.ttft_ms["p90"])
        cols["t99"].append(run.ttft_ms["p99"])
        cols["p50"].append(run.tpot_ms["p50"])
        cols["p90"].append(run.tpot_ms["p90"])
        cols["p99"].append(run.tpot_ms["p99"])
    t90 = np.asarray(cols["t90"])
    over = np.nonzero(t90 > 3.0 * t90[0])[0]
    knee = float(rates[over[0]]) if over.size else float("nan")   # NaN: no knee in the range shown
    a = {k: np.asarray(v, dtype=float) for k, v in cols.items()}
    return LoadCurve(offered_rate_per_s=rates, output_tokens_per_s_per_chip=a["out"], ttft_ms_p50=a["t50"],
                     ttft_ms_p90=a["t90"], ttft_ms_p99=a["t99"], tpot_ms_p50=a["p50"], tpot_ms_p90=a["p90"],
                     tpot_ms_p99=a["p99"], knee_rate_per_s=knee, saturation_rate_per_s=float(sat))


@dataclass(frozen=True)
class SloCapacity:
    feasible: bool
    output_tokens_per_s_per_chip: float
    request_rate_per_s: float         # per replica at the capacity point
    ttft_ms: dict
    tpot_ms: dict
    tp: int
    ep: int
    limiting: str                     # which target binds, or 'saturation'
    reason: str = ""
    mean_running: float = 0.0         # per replica: sequences running (over the run's steady window) at that point
    requests: int = 0                 # the run the figures come from: its requests and seed
    seed: int = 0
    capped_requests: int = 0          # of those, drawn longer than the context window and capped to it
    note: str = ""                    # the figure was held to the offline run's (`_held_to_offline`)
    margin: str = ""                  # the samples the load holds the targets on, in words (`slo_margin`)
    # the search's last bracket on its own sample: the highest load that holds the targets there is
    # at most this much (%) above the last one found to (0: not bisected, the load saturates first)
    bracket_pct: float = 0.0


def _overloaded(run: LoadRun, rate_per_replica: float = 0.0) -> bool:
    """The run fell behind its offered load (`rate_per_replica` requests/s), by the rule `fleetcast
    serve` applies to the same run (`studies_serving.overload_verdict`): its steady window served
    under 97% of it (`SimResult.keeps_up` False) while its queue grows through the run (the last
    quarter of the requests, by arrival, waited over twice the first quarter and 0.1 s more), or
    the queue's own growth says it serves under `OVERLOAD_SHARE` of the load. The window alone
    reads low on a light or short run (its Poisson noise, the batch filling from empty), where no
    queue forms, and within its 3% noise it reads a small excess as served: without the queue's
    growth the search could take a load that serve then calls overloaded. Disaggregated, KV
    transfers that need more than the NICs' time queue without end, as serve reads them."""
    if getattr(run, "nic_busy_share", 0.0) > 1.0:   # (a run read elsewhere has none)
        return True
    share = served_share_from_queue(run.sim, rate_per_replica)
    if share is not None and share < OVERLOAD_SHARE:
        return True
    if run.sim.keeps_up:
        return False
    q = np.asarray(run.sim.queue_s, dtype=float)
    if q.size < 20:
        return False
    k = q.size // 4
    return float(np.nanmean(q[-k:])) > 2.0 * float(np.nanmean(q[:k])) + 0.1


def _meets(run: LoadRun, ttft_ms, tpot_ms, pct: str, rate_per_replica: float = 0.0) -> bool:
    """The run's percentiles hold the targets and it is not overloaded (`_overloaded`): a queue
    that grows through the run meets no target, whatever a finite run's percentiles read (a
    TPOT-only target held at 15.6 requests/s with TTFT p90 81 s and 56% of the load served)."""
    if _overloaded(run, rate_per_replica):
        return False
    ok = True
    if ttft_ms:
        ok &= run.ttft_ms[pct] <= ttft_ms
    if tpot_ms:
        ok &= run.tpot_ms[pct] <= tpot_ms
    return bool(ok)


def _poisson_runner(model, chip, *, input_len, output_len, tp, ep, weight_dtype, kv_dtype, engine, factors,
                    input_spread, output_spread, prefix_cache_hit, prefill_tp=None, prefill_instances=1):
    """(run_at(rate per replica, requests, seed) -> LoadRun, chips per replica, prefill pool, cost
    model, scheduler) of one layout under Poisson loads. Runs are kept by their load, requests and
    seed: a search that asks for one again (its next load up, a probe) reads it back.
    `run_at(..., miss_targets=(ttft_ms, tpot_ms, percentile))` (a caller that only asks whether
    the run meets them): None where the run was stopped once sure to miss them (`simulate`).
    Disaggregated, each run carries its KV transfers' NIC busy share (`LoadRun.nic_busy_share`)."""
    from engine.serving.disagg_load import pool_nics_busy_share

    inp = _base_inputs(model, chip, input_len=input_len, output_len=output_len, tp=tp, ep=ep,
                       weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine, factors=factors)
    cm = cost_model_for(inp)
    sched = scheduler_of(inp, cm)
    pool, pool_chips = prefill_pool_of(inp, prefill_tp, prefill_instances)
    chips = int(max(tp, ep or 1)) + pool_chips
    runs: dict = {}
    missed: set = set()   # loads stopped once sure to miss the targets asked about (`miss_targets`)

    def run_at(rate, n, s, miss_targets: tuple | None = None) -> LoadRun | None:
        key = (float(rate), int(n), int(s))
        if key not in runs:
            w = Workload("poisson", input_len, output_len, requests=int(n), request_rate=float(rate),
                         input_spread=input_spread, output_spread=output_spread,
                         prefix_cache_hit=prefix_cache_hit, seed=int(s), context_len=context_of(model))
            if miss_targets is not None and key in missed:
                return None
            try:
                run = run_load(cm, sched, w, chips, pool, miss_targets=miss_targets)
                if pool is not None:
                    share, side = pool_nics_busy_share(run.sim, model, pool, float(rate))
                    run = replace(run, nic_busy_share=share, nic_side=side)
                runs[key] = run
            except TargetsMissed:
                missed.add(key)   # a caller that wants the run itself then runs it in full
                return None
        return runs[key]

    return run_at, chips, pool, cm, sched


def slo_capacity_sim(model, chip, *, input_len, output_len, ttft_ms=None, tpot_ms=None, percentile: str = "p90",
                     tp=1, ep=1, weight_dtype="bf16", kv_dtype="bf16", engine="", factors=None,
                     requests: int | None = None, input_spread=0.0, output_spread=0.0, prefix_cache_hit=0.0,
                     seed: int = 0, iterations: int = 7, prefill_tp: int | None = None,
                     prefill_instances: int = 1) -> SloCapacity:
    """Highest Poisson rate whose `percentile` TTFT and TPOT meet the targets: bisection on the rate
    below the offline saturation estimate, or, when the targets still hold there, steps of 1.2x
    past it while they hold and the served throughput grows, then bisection in the last step
    (latency grows with load, so the set is an interval). When its lightest load (2% of that
    estimate) misses them, loads 4x lighter each are tried, down to 1/256 of it, and the bisection
    runs between the first that holds them and the one above it. `requests` per load point: at
    least 2,000 by default (`_slo_requests`). The load found on the `seed`'s sample is then held on
    more samples and lowered until each meets the targets (`_on_samples`); `SloCapacity.margin`
    says which, and its figures are the first sample's at that load."""
    if percentile not in ("mean", "p50", "p90", "p99"):
        raise UserError(f"percentile: {percentile!r} (one of mean, p50, p90, p99)")
    if requests is None:
        requests = _slo_requests(0)
    run_at, chips, pool, cm, sched = _poisson_runner(
        model, chip, input_len=input_len, output_len=output_len, tp=tp, ep=ep, weight_dtype=weight_dtype,
        kv_dtype=kv_dtype, engine=engine, factors=factors, input_spread=input_spread, output_spread=output_spread,
        prefix_cache_hit=prefix_cache_hit, prefill_tp=prefill_tp, prefill_instances=prefill_instances)
    offline = simulate(cm, sched, Workload("offline", input_len, output_len, requests=requests,
                                           input_spread=input_spread, output_spread=output_spread,
                                           prefix_cache_hit=prefix_cache_hit, seed=seed,
                                           context_len=context_of(model)), prefill_pool=pool)
    sat = requests / offline.makespan_s   # saturation_rate's figure, from the same run
    fixed_lengths = not input_spread and not output_spread and pool is None

    def held(found: SloCapacity) -> SloCapacity:
        return _held_to_offline(found, offline.output_tokens_per_s / chips) if fixed_lengths else found

    def at(rate):
        return run_at(rate, requests, seed)

    def meets(rate) -> bool:
        return _meets(at(rate), ttft_ms, tpot_ms, percentile, rate)

    # every load tried is stated to four figures (`slo_margin.stated_rate`): the load found is then
    # a number a user can type back, and (aggregated) its run is the first sample held
    lo_rate = stated_rate(sat * LIGHT_LOAD_SHARE)
    above = None   # a load that misses the targets where a lighter one holds them
    for _ in range(MAX_LIGHTER_LOADS):
        if meets(lo_rate):
            break
        # the queueing of 2% of saturation (a prompt arriving behind another's prefill) can be what
        # misses a tight TTFT: 70B on 8 x H100, 2,000-token prompts, p90 95 ms there, 84.5 ms at
        # 0.02 requests/s against a 90 ms target
        above, lo_rate = lo_rate, stated_rate(lo_rate / LIGHTER_STEP)
    if not meets(lo_rate):
        lo = at(lo_rate)
        which = []
        if ttft_ms and lo.ttft_ms[percentile] > ttft_ms:
            which.append(f"TTFT {percentile} {lo.ttft_ms[percentile]:.0f} ms > {ttft_ms:g} ms"
                         + (_disaggregated_ttft_parts(pool, input_len, prefix_cache_hit, lo.ttft_ms[percentile],
                                                      fixed=not input_spread) if pool is not None else ""))
        if tpot_ms and lo.tpot_ms[percentile] > tpot_ms:
            which.append(f"TPOT {percentile} {lo.tpot_ms[percentile]:.1f} ms > {tpot_ms:g} ms")
        return SloCapacity(False, 0.0, 0.0, lo.ttft_ms, lo.tpot_ms, int(tp), int(ep or 1), "latency target",
                           f"even at light load ({lo_rate:.3g} requests/s per replica): "
                           + "; ".join(which or ["the load is not served"]))
    best, best_rate = at(lo_rate), lo_rate
    a, b = lo_rate, (above if above is not None else stated_rate(sat * 0.98))
    if above is None and meets(b):
        # The offline estimate of saturation reads low when lengths spread: its makespan ends in a
        # drain where the longest requests run in an emptying batch. So look past it, while the
        # targets hold and the served throughput still grows.
        best, best_rate = at(b), b
        rate, crossed = b, False
        for _ in range(MAX_PAST_SATURATION_PROBES):
            rate = stated_rate(rate * PAST_SATURATION_STEP)
            run = at(rate)
            if not meets(rate):
                crossed = True
                break
            if run.output_tokens_per_s_per_chip <= best.output_tokens_per_s_per_chip * 1.02:
                break   # saturated: more offered load is not served
            best, best_rate = run, rate
        if not crossed:
            found = SloCapacity(True, best.output_tokens_per_s_per_chip, best_rate, best.ttft_ms, best.tpot_ms,
                                int(tp), int(ep or 1), "saturation", mean_running=best.sim.steady_running,
                                requests=int(requests), seed=int(seed), capped_requests=best.capped_requests)
            return held(_on_samples(found, run_at, requests, seed, ttft_ms, tpot_ms, percentile, pool is not None))
        a, b = best_rate, rate
        iterations = min(iterations, 4)   # a 1.2x bracket: 4 halvings of its log reach 1.1%
    for _ in range(iterations):
        mid = stated_rate(math.sqrt(a * b))
        run = at(mid)
        if meets(mid):
            a = mid
            # near saturation a short run's served rate is noisy: keep the most served while the
            # targets hold, not the last load that held them
            if run.output_tokens_per_s_per_chip >= best.output_tokens_per_s_per_chip:
                best, best_rate = run, mid
        else:
            b = mid
    nxt = at(b)
    binds = []
    if ttft_ms and nxt.ttft_ms[percentile] > ttft_ms:
        binds.append("TTFT")
    if tpot_ms and nxt.tpot_ms[percentile] > tpot_ms:
        binds.append("TPOT")
    # nothing over its target at the next load: it was not served (the queue grows)
    limiting = (f"{' and '.join(binds)} {percentile} target" if binds else
                unserved_limit(nxt) if _overloaded(nxt, b) else f"latency {percentile} target")
    found = SloCapacity(True, best.output_tokens_per_s_per_chip, best_rate, best.ttft_ms, best.tpot_ms,
                        int(tp), int(ep or 1), limiting,
                        mean_running=best.sim.steady_running, requests=int(requests), seed=int(seed),
                        capped_requests=best.capped_requests, bracket_pct=100.0 * (b / a - 1.0))
    return held(_on_samples(found, run_at, requests, seed, ttft_ms, tpot_ms, percentile, pool is not None))


def _disaggregated_ttft_parts(pool: PrefillPool, input_len, hit: float, ttft_ms: float, fixed: bool) -> str:
    """" (prefill X ms + KV transfer Y ms + Z ms of ...)": what a disaggregated TTFT is made of,
    one --input-len prompt alone on a prefill instance and the NICs (a light load's missed TTFT
    read as the deployment's, where the transfer was most of it)."""
    cached = int(input_len * hit)
    chunk = max(int(input_len) - cached, 1)
    prefill_ms = pool.cost.step_s(0, 0.0, chunk, 1, pool.cost.chunk_attn_flops(cached, chunk), chunk) * 1e3
    # the prompt's KV as whole-model tokens (a windowed layer sends only its window)
    transfer_ms = float(pool.transfer_s_per_token) * float(pool.cost.kv_tokens(float(input_len))) * 1e3
    if not fixed:   # spread prompts: the percentile is not this prompt's
        return f" (a {input_len:g}-token prompt: prefill {prefill_ms:.0f} ms + KV transfer {transfer_ms:.0f} ms)"
    rest = max(ttft_ms - prefill_ms - transfer_ms, 0.0)
    return (f" (prefill {prefill_ms:.0f} ms + KV transfer {transfer_ms:.0f} ms + {rest:.0f} ms of waits and the "
            "first decode step)")


def _held_to_offline(found: SloCapacity, offline_per_chip: float) -> SloCapacity:
    """A Poisson load whose steady window served 97% of it reads as served in full
    (`SimResult.keeps_up`), so near saturation the SLO figure read up to 3% above the offline run
    of the same requests (2,358 beside 2,278 tokens/s per chip): no load serves more than every
    request at once does, so the figure is held to that run's, and says so. Fixed lengths only:
    with spread lengths the offline run's drain (a few long requests in an emptying batch) reads
    it low, which the search looks past on purpose."""
    if not found.feasible or not offline_per_chip > 0 or found.output_tokens_per_s_per_chip <= offline_per_chip:
        return found
    note = (f"held to the offline run's {offline_per_chip:,.1f} output tokens/s per chip (the Poisson run read "
            f"{found.output_tokens_per_s_per_chip:,.1f}: its window counts a load served within 3% as served)")
    # the offered rate stays: the latencies reported are that run's
    return replace(found, output_tokens_per_s_per_chip=offline_per_chip, note=note)


def _on_samples(found: SloCapacity, run_at, requests: int, seed: int, ttft_ms, tpot_ms, pct: str,
                disaggregated: bool = False) -> SloCapacity:
    """The search's load held on several samples, backed off until every one meets the targets
    (`slo_margin.hold_on_samples`): `slo_margin.SAMPLES` of `requests` each, the search's own seed
    and the next ones (`serve --request-rate` at the load as printed, `--seed` 0 to 3, reruns one).
    The figures are the search's own seed's run there, or disaggregated a run of
    `VERIFY_REQUESTS_FACTOR` x the requests at the next seed, a sample too (`slo_run_of` names it),
    which must also serve the offered load (`SimResult.keeps_up`): near the prefill pool's
    capacity its queue takes far longer than 2,000 requests to settle (Llama 3 70B 1,024/256 with
    2 x TP8 prefill on H100 met a 500 ms p90 TTFT at 47.3 requests/s over 2,000 requests, prompts
    arriving at 94% of what the pool prefills, where 8,000 read 628 ms and fell behind the load)."""
    n = int(requests)
    samples = tuple((n, int(seed) + i) for i in range(SAMPLES))
    # the run the figures are read from (`slo_run_of`), a sample with the others
    own = (n * VERIFY_REQUESTS_FACTOR, int(seed) + 1) if disaggregated else (n, int(seed))
    samples += (own,) if disaggregated else ()

    def meets(run, rate) -> bool:   # (a short run's window reads a few % low: `keeps_up` on the long one only)
        long_run = disaggregated and run.requests == own[0]
        return (run.sim.keeps_up or not long_run) and _meets(run, ttft_ms, tpot_ms, pct, rate)

    held = hold_on_samples(found.request_rate_per_s, run_at, samples, meets)
    if held is None:
        return SloCapacity(False, 0.0, 0.0, found.ttft_ms, found.tpot_ms, found.tp, found.ep, "latency target",
                           f"the targets met at {found.request_rate_per_s:.3g} requests/s per replica over seed "
                           f"{seed}'s {requests:,} requests are missed by another sample down to "
                           f"{found.request_rate_per_s * BACK_OFF ** (2 ** MAX_BACK_OFFS - 1):.3g}")
    run = held.run_of(own)
    limiting = found.limiting
    if held.missed_run is not None:   # what broke where a sample missed: the lighter load's limit
        miss = held.missed_run
        binds = [k for k, target, got in (("TTFT", ttft_ms, miss.ttft_ms[pct]), ("TPOT", tpot_ms, miss.tpot_ms[pct]))
                 if target and got > target]
        limiting = f"{' and '.join(binds)} {pct} target" if binds else unserved_limit(miss)
    return replace(found, output_tokens_per_s_per_chip=run.output_tokens_per_s_per_chip, request_rate_per_s=held.rate,
                   ttft_ms=run.ttft_ms, tpot_ms=run.tpot_ms, limiting=limiting, mean_running=run.sim.steady_running,
                   requests=own[0], seed=own[1], capped_requests=run.capped_requests,
                   margin=margin_words(held, ttft_ms, tpot_ms, pct))


def _slo_requests(batch: float) -> int:
    """Requests per simulated load point of the SLO search: at least 2,000, and three running
    batches' worth. A short run's Poisson window is mostly its ramp, and with spread lengths its
    p90 is read off a few long requests: MLPerf-like lengths (CV 0.9) on 8 x H100 gave 870
    output tokens/s per chip at 240 requests, 1,530 at 2,000 and 1,710 at 4,000; fixed 1,024/256
    gave 417 at 552 and 453 at 2,000, so fixed and spread lengths are compared at one count."""
    return int(max(2000, 3 * batch))


def slo_run_of(batch: float, disaggregated: bool, seed: int = 0) -> tuple[int, int]:
    """(requests, seed) of the run the SLO figures are read from: the search's own, or for a
    disaggregated deployment its first sample's longer run (`_on_samples`)."""
    n = _slo_requests(batch)
    return (n * VERIFY_REQUESTS_FACTOR, seed + 1) if disaggregated else (n, seed)


def slo_capacity_tokens_per_s_per_chip(model, chip, *, input_len, output_len, ttft_ms=None, tpot_ms=None,
                                       weight_dtype="bf16", kv_dtype="bf16", engine="", factors=None,
                                       percentile: str = "p90", prefix_cache_hit: float = 0.0,
                                       tp: int | None = None, ep: int | None = None,
                                       input_spread: float = 0.0, output_spread: float = 0.0,
                                       prefill_tp: int | None = None, prefill_instances: int = 1, seed: int = 0,
                                       layout_given: bool | None = None,
                                       demand_output_tokens_per_s: float | None = None):
    """Output tokens/s per chip at the highest load meeting percentile SLOs, with the layout.
    `layout_given`: the user fixed TP (said so); default: `tp` was passed. A caller that passes
    the steady search's own TP back (not to search twice) says False.

    The simulator finds the load that holds the percentile targets under Poisson arrivals, with
    the prompt and output lengths spread as given (coefficients of variation; 0 = fixed), at the
    layout (TP, EP) given, or else searched: the steady-state SLO search (`inference.slo_capacity`)
    ranks the layouts, and those near its best are held against each other under load
    (`slo_layout.best_layout_under_load`; aggregated serving). Returns the `CapacityResult` with the
    simulated throughput, TTFT and TPOT. `prefill_tp`: prompts run disaggregated, on
    `prefill_instances` instances of that TP beside each replica, which `chips_per_replica` (and
    `prefill_chips`) then count; the decode layout is then the steady search's.
    `demand_output_tokens_per_s`: the layout with the fewest chips for it is the best.
    """
    from engine.inference import slo_capacity
    # (imported here: slo_layout builds on this module's single-layout search)
    from engine.serving.slo_layout import best_layout_under_load, layout_said, under_load

    kw = dict(input_len=input_len, output_len=output_len, ttft_ms=ttft_ms, tpot_ms=tpot_ms, weight_dtype=weight_dtype,
              kv_dtype=kv_dtype, engine=engine, factors=factors, prefix_cache_hit=prefix_cache_hit)
    cap = slo_capacity(model, chip, tp=tp, ep=ep, demand_output_tokens_per_s=demand_output_tokens_per_s, **kw)
    load = dict(kw, percentile=percentile, input_spread=input_spread, output_spread=output_spread, prefill_tp=prefill_tp,
                prefill_instances=prefill_instances, seed=seed, demand=demand_output_tokens_per_s)
    given = (tp is not None) if layout_given is None else layout_given
    if len(cap.layout_ranking) > 1 and not given and not prefill_tp and cap.batch <= MAX_SIMULATED_BATCH:
        return best_layout_under_load(model, chip, cap, load)
    return layout_said(*under_load(model, chip, cap, load), cap, given)


__all__ = ["simulate_scenario", "simulate_inputs", "load_curve", "slo_capacity_sim", "slo_capacity_tokens_per_s_per_chip",
           "engine_family", "LoadRun", "LoadCurve", "SloCapacity"]


@dataclass(frozen=True)
class LoadAnalysis:
    """What the Inference panel shows under load for one chip and layout."""

    curve: LoadCurve
    chosen_rate_per_s: float          # per replica: the SLO capacity point, or 70% of saturation
    chosen: LoadRun
    limiting: str                     # in words: what stops more load
    note: str = ""


def load_analysis(model, chip, *, input_len, output_len, tp=1, ep=1, ttft_ms=None, tpot_ms=None,
                  weight_dtype="bf16", kv_dtype="bf16", engine="", percentile: str = "p90",
                  requests: int = 300, points: int = 10, input_spread: float = 0.5, output_spread: float = 0.5,
                  seed: int = 0, should_stop=None, max_num_seqs: int | None = None,
                  max_num_batched_tokens: int | None = None, prefix_cache_hit: float = 0.0,
                  chosen_rate_per_s: float | None = None, chosen_requests: int | None = None,
                  prefill_tp: int | None = None, prefill_instances: int = 1,
                  chosen_seed: int | None = None) -> LoadAnalysis:
    """Latency percentiles against offered Poisson load (the knee), and one run at the chosen
    load (its TTFT distribution and KV use over time). Lengths vary (CV 0.5 by default) so the
    curve shows queueing, not lock-step cohorts.

    The chosen load is `chosen_rate_per_s` when given (the SLO search's point, run again with its
    `chosen_requests` and `chosen_seed` (default `seed`), so the run is the one the SLO figures
    were read from: `slo_run_of`), else the last load of the curve that meets the targets."""
    limits = dict(max_num_seqs=max_num_seqs, max_num_batched_tokens=max_num_batched_tokens)
    chosen_seed = seed if chosen_seed is None else int(chosen_seed)
    # the curve runs as many requests as the SLO point's run, so the two agree where they meet
    # (300 requests read the queueing near the knee low: TTFT p90 ~0.9 s where 2,000 read 1.9 s);
    # a disaggregated point's longer verification run (`slo_run_of`) is not the curve's count
    curve = load_curve(model, chip, input_len=input_len, output_len=output_len, tp=tp, ep=ep,
                       weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine, points=points,
                       requests=max(int(requests), int(chosen_requests or 0) // (
                           VERIFY_REQUESTS_FACTOR if prefill_tp and chosen_seed != seed else 1)), input_spread=input_spread, output_spread=output_spread, seed=seed,
                       prefix_cache_hit=prefix_cache_hit, prefill_tp=prefill_tp,
                       prefill_instances=prefill_instances, min_top_rate_per_s=float(chosen_rate_per_s or 0.0),
                       **limits)
    if should_stop is not None and should_stop():
        from engine.errors import Cancelled

        raise Cancelled("load analysis cancelled")
    pct_ttft = {"p50": curve.ttft_ms_p50, "p90": curve.ttft_ms_p90, "p99": curve.ttft_ms_p99}.get(percentile,
                                                                                                 curve.ttft_ms_p90)
    pct_tpot = {"p50": curve.tpot_ms_p50, "p90": curve.tpot_ms_p90, "p99": curve.tpot_ms_p99}.get(percentile,
                                                                                                 curve.tpot_ms_p90)
    ok = np.ones(len(curve.offered_rate_per_s), dtype=bool)
    if ttft_ms:
        ok &= pct_ttft <= ttft_ms
    if tpot_ms:
        ok &= pct_tpot <= tpot_ms
    # the largest load before the first miss (latency grows with load)
    first_miss = int(np.argmin(ok)) if not ok.all() else len(ok)
    if first_miss > 0:
        rate = float(curve.offered_rate_per_s[first_miss - 1])
        nxt = first_miss if first_miss < len(ok) else None
        if nxt is None:
            limiting = "throughput saturates before the targets bind (the engine is busy every step)"
        else:
            binds = []
            if ttft_ms and pct_ttft[nxt] > ttft_ms:
                binds.append(f"TTFT {percentile} {pct_ttft[nxt]:.0f} ms > {ttft_ms:g} ms")
            if tpot_ms and pct_tpot[nxt] > tpot_ms:
                binds.append(f"TPOT {percentile} {pct_tpot[nxt]:.1f} ms > {tpot_ms:g} ms")
            limiting = "latency target: at the next load " + "; ".join(binds)
        note = ""
    elif chosen_rate_per_s:
        rate, limiting, note = 0.0, f"latency target ({percentile})", ""
    else:
        rate = 0.7 * curve.saturation_rate_per_s
        limiting = "latency target: missed even at the lightest load shown"
        note = "targets missed at every load; showing 70% of saturation"
    if chosen_rate_per_s:
        rate = float(chosen_rate_per_s)
    inp = _base_inputs(model, chip, input_len=input_len, output_len=output_len, tp=tp, ep=ep,
                       weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine, factors=None, **limits)
    cm = cost_model_for(inp)
    sched = scheduler_of(inp, cm)
    w = Workload("poisson", input_len, output_len, requests=int(chosen_requests or requests), request_rate=rate,
                 input_spread=input_spread, output_spread=output_spread, seed=chosen_seed,
                 prefix_cache_hit=prefix_cache_hit, context_len=context_of(model))
    pool, pool_chips = prefill_pool_of(inp, prefill_tp, prefill_instances)
    chosen = run_load(cm, sched, w, int(max(tp, ep or 1)) + pool_chips, pool)
    if chosen.sim.kv_used_frac.size and max(chosen.sim.kv_used_frac.max(), chosen.sim.kv_peak_frac) > 0.97:
        limiting += "; the KV cache fills (memory capacity)"
    return LoadAnalysis(curve=curve, chosen_rate_per_s=rate, chosen=chosen, limiting=limiting, note=note)


def attention_ranks(tp, ep) -> int:
    """Data-parallel attention ranks of one decode replica: max(TP, EP) / TP (a TP1 EP8
    replica runs each request on one of 8 ranks; `inference._deployment`'s attn_groups). Each
    rank takes its own requests' KV over its own chips' NICs."""
    tp = max(int(tp or 1), 1)
    return max(max(tp, int(ep or 1)) // tp, 1)


def kv_transfer_sides_s_per_token(model, chip, *, tp=1, ep=1, pp=1, prefill_tp: int | None = None,
                                  kv_dtype="bf16", weight_dtype="bf16", engine="",
                                  factors=None) -> tuple[float, float]:
    """(send, receive): seconds per prompt token the prefill instance's NICs and the decode
    instance's spend moving one request's KV, each NIC at the achieved RDMA efficiency
    (`inf_scaleout_eff`). Receive: every chip of the decode attention group that takes the
    request (TP x PP chips; data-parallel attention puts a request on one group) takes its own
    shard over its own NIC, in parallel; the other ranks' NICs receive other requests meanwhile
    (`attention_ranks`: the transfers' busy share is over all of them). Send: those shards, all of them, leave over the
    `prefill_tp` chips' NICs, shared evenly (a head replicated on the prefill side is sent by
    either holder). `prefill_tp` None: the receiving side alone, for both."""
    from engine import inference as inf

    def one(x) -> float:
        return float(np.asarray(x).reshape(-1)[0])

    shape = inf.model_shape(model)
    hw = inf._hw_arrays([chip], weight_dtype, engine, factors)
    dec = inf._deployment(shape, hw, tp, ep, pp, weight_dtype, kv_dtype)
    nic_bps = one(dec.scaleout_bps) * one(dec.f["inf_scaleout_eff"])
    shard = one(dec.kv_bytes_token_chip)                 # bytes per token each receiving chip needs
    receivers = int(tp) * int(pp)
    recv_s = shard / nic_bps
    if not prefill_tp:
        return recv_s, recv_s
    # (the prefill pool runs on the same chip type, so the same NIC figure)
    send_s = shard * receivers / (int(prefill_tp) * nic_bps)
    return send_s, recv_s


def kv_transfer_s_per_token(model, chip, *, tp=1, ep=1, pp=1, prefill_tp: int | None = None, kv_dtype="bf16",
                            weight_dtype="bf16", engine="", factors=None) -> float:
    """Seconds to move one prompt token's KV from a prefill to a decode instance, one transfer
    alone: the slower of the sending and the receiving NICs (`kv_transfer_sides_s_per_token`).
    Pricing the decode side alone read 8.19 ms for 8,000 tokens of Llama 3 70B sent from one
    chip's NIC to a TP8 decode replica, where that NIC alone needs 65.5 ms."""
    return max(kv_transfer_sides_s_per_token(model, chip, tp=tp, ep=ep, pp=pp, prefill_tp=prefill_tp,
                                             kv_dtype=kv_dtype, weight_dtype=weight_dtype, engine=engine,
                                             factors=factors))


def prefill_pool_of(inputs, prefill_tp: int | None, prefill_instances: int = 1) -> tuple[PrefillPool | None, int]:
    """(the prefill pool of a disaggregated deployment, its chips per replica), or (None, 0) when
    `prefill_tp` is None or 0 (prompts run on the replica itself). The pool is a deployment of
    its own: its TP must split the heads and its weights plus one prompt's KV must fit, or the
    figures would describe a layout nobody can run (UserError naming it)."""
    from dataclasses import replace as _replace

    from engine.inference import evaluate_serving

    if not prefill_tp:
        return None, 0
    if prefill_tp < 1 or prefill_instances < 1:
        raise UserError(f"prefill layout: tp={prefill_tp}, instances={prefill_instances} (must be >= 1)")
    pf_inputs = _replace(inputs, tp=int(prefill_tp), ep=1, pp=1, replicas=1, scenario="offline", simulate=False,
                         concurrency=None, request_rate=None)
    try:
        pf_check = evaluate_serving(pf_inputs)
    except UserError as exc:
        raise UserError(f"prefill instance (tp={prefill_tp}): {exc}") from None
    if not pf_check.feasible:
        raise UserError(f"prefill instance (tp={prefill_tp}): {pf_check.reason}")
    decode_cm = cost_model_for(inputs)
    sched = scheduler_of(inputs, decode_cm)
    send_s, recv_s = kv_transfer_sides_s_per_token(
        inputs.model, inputs.chip, tp=inputs.tp, ep=inputs.ep, pp=inputs.pp, prefill_tp=int(prefill_tp),
        kv_dtype=inputs.kv_dtype, weight_dtype=inputs.weight_dtype, engine=inputs.engine,
        factors=inputs.factors or None)
    pool = PrefillPool(cost=cost_model_for(pf_inputs), instances=int(prefill_instances),
                       max_num_batched_tokens=sched.max_num_batched_tokens,
                       transfer_s_per_token=max(send_s, recv_s), send_s_per_token=send_s, recv_s_per_token=recv_s,
                       recv_queues=attention_ranks(inputs.tp, inputs.ep))
    return pool, int(prefill_tp) * int(prefill_instances)


def simulate_disaggregated(inputs, *, prefill_tp: int, prefill_instances: int = 1, requests: int | None = None,
                           input_spread: float = 0.0, output_spread: float = 0.0, seed: int = 0,
                           prefix_cache_hit: float = 0.0) -> LoadRun:
    """`inputs` describes the decode instance and the load (server or offline); prompts run on
    `prefill_instances` separate instances of `prefill_tp` chips, and their KV crosses the
    scale-out network. Throughput per chip counts both pools."""
    if inputs.scenario not in ("server", "offline"):
        raise UserError(f"scenario {inputs.scenario!r}: disaggregated serving is simulated for server or offline loads")
    if prefill_tp < 1 or prefill_instances < 1:
        raise UserError(f"prefill layout: tp={prefill_tp}, instances={prefill_instances} (must be >= 1)")
    decode_cm = cost_model_for(inputs)
    sched = scheduler_of(inputs, decode_cm)
    pool, _pool_chips = prefill_pool_of(inputs, prefill_tp, prefill_instances)
    groups = replica_workloads(inputs, requests, input_spread, output_spread, seed, prefix_cache_hit,
                               max_seqs=int(sched.max_num_seqs * decode_cm.attn_groups))
    chips = int(inputs.pp * max(inputs.tp, inputs.ep)) + int(prefill_tp) * int(prefill_instances)
    return _replica_runs(inputs, groups, lambda w: simulate(decode_cm, sched, w, prefill_pool=pool), chips)
