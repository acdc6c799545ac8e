"""A Serving study's load point (Qt-free): the load a user sets, "what happens at 3 requests/s per
replica" or "at 64 concurrent clients", simulated for one replica of the request's chosen layout as
`fleetcast serve --request-rate/--concurrency/--offline` simulates it (the same `ServingInputs`
and `simulate_inputs`), and whether the targets hold there.

    point = load_point_of(study)                       # LoadPoint("rate", 3.0)
    result = run_load_point(request, point, tp, ep)    # LoadPointRun: the LoadRun and its verdict

The SLO capacity (the chips for the demand) never reads it: it is a what-if beside that answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from engine.errors import UserError

# the unit of each kind's value, as the form's spin and every sentence say it
LOAD_UNITS = {"rate": "requests/s per replica", "concurrency": "clients per replica"}
SERVE_SCENARIO = {"rate": "server", "concurrency": "concurrency", "offline": "offline"}   # ServingInputs.scenario


@dataclass(frozen=True)
class LoadPoint:
    kind: str = "targets"      # engine.studies.LOAD_POINTS
    value: float = 0.0         # requests/s per replica (rate), clients per replica (concurrency)

    @property
    def is_set(self) -> bool:
        """Whether the user chose a load (else the figures are read at the targets' capacity)."""
        return self.kind in SERVE_SCENARIO

    def text(self) -> str:
        """The load in words: "3.00 requests/s per replica", "64 clients per replica"."""
        if self.kind == "rate":
            return f"{self.value:,.2f} requests/s per replica"
        if self.kind == "concurrency":
            return f"{int(self.value):,} client{'s' if int(self.value) != 1 else ''} per replica"
        if self.kind == "offline":
            return "offline, every request at once"
        return "at the targets' capacity"

    def serve_flag(self, replicas: int = 1) -> str:
        """The `serve` flag of this load over `replicas` replicas ("" at the targets)."""
        if self.kind == "rate":
            return f"--request-rate {self.value * replicas:g}"
        if self.kind == "concurrency":
            return f"--concurrency {int(self.value) * replicas}"
        return "--offline" if self.kind == "offline" else ""


def load_point_of(study) -> LoadPoint:
    """The study's load point (its value kept only where the kind has one)."""
    kind = study.load_point
    return LoadPoint(kind, float(study.load_value) if kind in LOAD_UNITS else 0.0)


def load_point_inputs(request, point: LoadPoint, tp: int, ep: int = 1, replicas: int = 1):
    """The `ServingInputs` `fleetcast serve` builds for this request at `point` (per replica, times
    `replicas` for the deployment): the study's length spread, engine limits and prefix-cache share,
    seed 0 and the default request count, as serve's defaults."""
    from engine.inference import ServingInputs

    if not point.is_set:
        raise UserError("load point: none set (the figures are read at the targets' capacity)")
    load: dict = {"scenario": SERVE_SCENARIO[point.kind]}
    if point.kind == "rate":
        load["request_rate"] = float(point.value) * replicas
    elif point.kind == "concurrency":
        load["concurrency"] = int(point.value) * replicas
    return ServingInputs(model=request.model, chip=request.chip, input_len=request.input_len,
                         output_len=request.output_len, tp=int(tp), pp=1, ep=int(ep or 1), replicas=replicas,
                         weight_dtype=request.weight_dtype, kv_dtype=request.kv_dtype, engine=request.engine,
                         input_len_spread=request.length_spread, output_len_spread=request.length_spread,
                         prefix_cache_hit=request.prefix_cache_hit, seed=0,
                         max_num_batched_tokens=request.max_num_batched_tokens, max_num_seqs=request.max_num_seqs,
                         **load)


@dataclass(frozen=True)
class LoadPointRun:
    """One replica at the user's load point: the run and what it says about the targets. `run`'s
    throughput is the one serve reports: with disaggregated prefill at a rate, no more than NICs
    short of time carry (engine.serving.disagg_load)."""

    point: LoadPoint
    run: object                    # engine.serving.capacity.LoadRun
    tp: int
    ep: int
    percentile: str                # the targets' share of requests (the study's)
    missed: tuple = ()             # each target that breaks: "TPOT p90 62.1 ms > 50 ms"
    served_share: float | None = None   # open loop: the offered load's share served
    overloaded: bool = False       # open loop: the queue grows through the run
    has_targets: bool = False      # whether the request has a latency target to hold
    # disaggregated at a rate (engine.serving.disagg_load): the busier side's share of its NICs' time
    # the KV transfers need, and the side that binds an overloaded run ("" when none)
    nic_busy_share: float | None = None
    bound_by: str = ""
    # open loop, not overloaded: the running batch still growing with no queue to read, so the run
    # cannot tell whether the load is kept up with (`run_reading.unsettled_share`)
    unsettled: bool = False

    @property
    def targets_hold(self) -> bool:
        return not self.missed and not self.overloaded


def _ms(ms: float) -> str:
    return "n/a" if not math.isfinite(ms) else f"{ms:,.1f} ms" if ms < 100 else f"{ms:,.0f} ms"


def missed_targets(run, ttft_ms, tpot_ms, pct: str) -> tuple:
    """The targets `run` (a LoadRun) misses at percentile `pct`, each as "TTFT p90 2,659 ms >
    1,500 ms" (serve's words); a figure the run has not (NaN) misses."""
    out = []
    for name, limit, figures in (("TTFT", ttft_ms, run.ttft_ms), ("TPOT", tpot_ms, run.tpot_ms)):
        got = float(figures.get(pct, math.nan))
        if limit and not got <= limit:
            out.append(f"{name} {pct} {_ms(got)} > {_ms(float(limit))}")
    return tuple(out)


def run_load_point(request, point: LoadPoint, tp: int, ep: int = 1, progress=None,
                   should_stop=None) -> LoadPointRun:
    """One replica of the request's layout (`tp`, `ep`: the chosen one) at `point`, simulated as
    `serve --request-rate R` (or --concurrency C, --offline) simulates it for one replica; with
    disaggregated prefill, the prompts on the request's prefill instances (serve's
    "disaggregated" run), read at a rate as serve reads it (engine.serving.disagg_load)."""
    from engine.errors import Cancelled
    from engine.serving.capacity import simulate_disaggregated, simulate_inputs
    from engine.serving.disagg_load import read_disaggregated_load
    from engine.studies_serving import open_loop_reading

    if should_stop is not None and should_stop():
        raise Cancelled("load point cancelled")
    if point.kind == "concurrency" and request.prefill_tp:   # as serve: --prefill-tp with --concurrency is refused
        raise UserError("disaggregated prefill is simulated with Poisson arrivals or offline, not concurrent "
                        "clients; pick one of those, or Prefill on the replica")
    inputs = load_point_inputs(request, point, tp, ep)
    if request.prefill_tp:
        run = simulate_disaggregated(inputs, prefill_tp=int(request.prefill_tp),
                                     prefill_instances=int(request.prefill_instances or 1),
                                     requests=inputs.requests, input_spread=inputs.input_len_spread,
                                     output_spread=inputs.output_len_spread, seed=inputs.seed,
                                     prefix_cache_hit=inputs.prefix_cache_hit)
    else:
        run = simulate_inputs(inputs)
    if progress is not None:
        progress(1.0, f"Simulated {point.text()}")
    share, over, nic_busy, side = None, False, None, ""
    if point.kind == "rate" and request.prefill_tp:
        # serve's disaggregated reading: the KV transfers' NIC time, the throughput capped where the NICs
        # are short of it and overloaded there (before: "the targets hold" where serve said overloaded)
        read = read_disaggregated_load(run, inputs, prefill_tp=int(request.prefill_tp),
                                       prefill_instances=int(request.prefill_instances or 1),
                                       request_rate=float(point.value))
        run = replace(run, output_tokens_per_s_per_chip=read.output_tokens_per_s_per_chip,
                      total_tokens_per_s_per_chip=read.total_tokens_per_s_per_chip)
        share, over, nic_busy, side = read.served_share, read.overloaded, read.nic_busy_share, read.bound_by
    elif point.kind == "rate" and run.output_tokens_per_s_per_chip > 0:
        # serve's reading of the same run: offered at the simulated lengths, the queue's growth read
        over, share, _, _ = open_loop_reading(run.sim, float(point.value), run.output_tokens_per_s_per_chip,
                                              run.chips_per_replica, request.output_len)
    pct = request.slo_percentile
    return LoadPointRun(point=point, run=run, tp=int(tp), ep=int(ep or 1), percentile=pct,
                        missed=missed_targets(run, request.ttft_ms, request.tpot_ms, pct),
                        served_share=share, overloaded=bool(over),
                        has_targets=bool(request.ttft_ms or request.tpot_ms), nic_busy_share=nic_busy,
                        bound_by=side, unsettled=bool(point.kind == "rate" and not over
                                                      and getattr(run.sim, "unsettled_share", None) is not None))


__all__ = ["LOAD_UNITS", "LoadPoint", "LoadPointRun", "load_point_of", "load_point_inputs", "missed_targets",
           "run_load_point"]
