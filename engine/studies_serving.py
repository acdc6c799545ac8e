"""What a Serving study computes (Qt-free): the chosen chip's capacity under the targets, the
comparison across chip types (best layout, chips for the demand, throughput-latency and TTFT
curves), the chosen chip under Poisson load, and the figures and tables the Inference view, its
exports and tests print.

    request = serving_request(study, chips, models)          # ServingRequest (UserError: problems)
    cap = request.capacity()                                  # engine.inference.CapacityResult
    comparison = run_chip_comparison(request, compare_chips)  # ChipComparison (a worker runs it)
    headers, rows = comparison_table(comparison)
    rows = serving_key_figures(request, cap, chips_for_demand(cap, request.demand))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from engine.errors import Cancelled, UserError
from engine.hardware import Chip
from engine.inference import ServingInputs, evaluate_serving, serving_curve, slo_capacity
from engine.models import ModelConfig
from engine.studies import ServingStudy, chip_labels, chip_name, chips_for_demand, cli_head
from engine.serving.families import limit_factors
# the overload rule is the simulator's (the SLO search applies it too); said here as serve reads it
from engine.serving.simulator import OVERLOAD_SHARE, served_share_from_queue

# Running batches of the throughput-latency curves (sequences per replica), log-spaced 1 to 4,096.
CURVE_BATCHES = tuple(float(b) for b in np.unique(np.round(np.geomspace(1, 4096, 56))))
MAX_LOAD_BATCH = 512  # replicas that run more sequences take too long to simulate interactively
SLO_PERCENTILE = "p90"  # the targets of the Inference view are met by this share of requests under load
EP_CHOICES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def ep_choices(model) -> tuple[int, ...]:
    """Expert-parallel degrees an MoE model can split its routed experts over; () for dense."""
    if model is None or not model.is_moe:
        return ()
    return tuple(e for e in EP_CHOICES if e <= model.moe_experts and model.moe_experts % e == 0)


@dataclass(frozen=True)
class ServingRequest:
    """Everything one capacity evaluation needs (immutable: it goes to a worker)."""

    model: ModelConfig
    chip: Chip
    input_len: float
    output_len: float
    ttft_ms: float | None
    tpot_ms: float | None
    weight_dtype: str
    kv_dtype: str
    tp: int | None
    ep: int | None
    engine: str
    prefix_cache_hit: float
    demand: float  # output tokens/s at peak
    max_num_seqs: int | None = None            # the engine's limits per replica (None: family default)
    max_num_batched_tokens: int | None = None
    length_spread: float = 0.5                 # CV of prompt and output lengths in simulated loads
    prefill_tp: int = 0                        # disaggregated prefill instances' TP (0: aggregated)
    prefill_instances: int = 1
    slo_percentile: str = SLO_PERCENTILE       # the share of requests the targets hold for under load

    @property
    def limit_factors(self) -> dict:
        """The scheduler limits as the closed-form model's factor overrides (families.limit_factors)."""
        return limit_factors(self.max_num_seqs, self.max_num_batched_tokens)

    def capacity(self, chip=None, *, fixed_layout: bool = True):
        return slo_capacity(self.model, chip or self.chip, input_len=self.input_len, output_len=self.output_len,
                            ttft_ms=self.ttft_ms, tpot_ms=self.tpot_ms, weight_dtype=self.weight_dtype,
                            kv_dtype=self.kv_dtype, tp=self.tp if fixed_layout else None,
                            ep=self.ep if fixed_layout else None, engine=self.engine,
                            prefix_cache_hit=self.prefix_cache_hit, factors=self.limit_factors or None,
                            # a searched layout serves the demand on the fewest chips (the CLI's answer)
                            demand_output_tokens_per_s=self.demand or None)

    def capacity_under_load(self, chip=None, *, tp: int | None = None, ep: int | None = None,
                            percentile: str | None = None, layout_given: bool | None = None,
                            fixed_layout: bool = True):
        """The capacity at the targets read as percentiles under Poisson arrivals, lengths spread
        by `length_spread` (engine.serving.capacity.slo_capacity_tokens_per_s_per_chip): the
        figure the Forecast converts demand with. `tp`/`ep` fix the layout; None takes the
        request's own, and where that is None too the layout is searched at the percentile (the
        best under load, which the steady state can rank wrong). `fixed_layout` False searches it
        whatever the request fixes (another chip of a comparison). `layout_given`: whether a
        fixed layout is the user's (default: the form fixes TP)."""
        from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip

        own = fixed_layout
        return slo_capacity_tokens_per_s_per_chip(
            self.model, chip or self.chip, input_len=self.input_len, output_len=self.output_len,
            ttft_ms=self.ttft_ms, tpot_ms=self.tpot_ms, weight_dtype=self.weight_dtype, kv_dtype=self.kv_dtype,
            engine=self.engine, factors=self.limit_factors or None, percentile=percentile or self.slo_percentile,
            prefix_cache_hit=self.prefix_cache_hit, tp=tp if tp is not None else self.tp if own else None,
            ep=ep if ep is not None else self.ep if own else None, input_spread=self.length_spread,
            output_spread=self.length_spread, prefill_tp=self.prefill_tp or None,
            prefill_instances=self.prefill_instances,
            # a `tp` passed back is the search's choice, not the user's
            layout_given=(own and self.tp is not None) if layout_given is None else layout_given,
            # a searched layout serves the demand on the fewest chips (the CLI's answer)
            demand_output_tokens_per_s=self.demand or None)

    def chips_for_demand(self, cap) -> int | None:
        return chips_for_demand(cap, self.demand)

    def targets_text(self) -> str:
        parts = ([f"TTFT ≤ {self.ttft_ms:,.0f} ms"] if self.ttft_ms else []) + \
                ([f"TPOT ≤ {self.tpot_ms:g} ms"] if self.tpot_ms else [])
        return ", ".join(parts) or "no latency targets"


def serving_request(study: ServingStudy, chips: Mapping, models: Mapping) -> ServingRequest:
    """The study's request (UserError listing its problems when there are any)."""
    problems = study.problems(chips, models)
    if problems:
        raise UserError("; ".join(p.message for p in problems))
    model = models[study.model_id]
    return ServingRequest(model=model, chip=chips[study.chip_id], input_len=float(study.input_len),
                          output_len=float(study.output_len), ttft_ms=study.ttft_ms or None,
                          tpot_ms=study.tpot_ms or None, weight_dtype=study.weight_dtype, kv_dtype=study.kv_dtype,
                          tp=study.tp, ep=study.ep if model.is_moe else None, engine=study.engine,
                          prefix_cache_hit=study.prefix_cache_pct / 100.0, demand=float(study.demand_tokens_per_s),
                          max_num_seqs=study.max_num_seqs, max_num_batched_tokens=study.max_num_batched_tokens,
                          length_spread=float(study.length_spread), prefill_tp=int(study.prefill_tp or 0),
                          prefill_instances=int(study.prefill_instances or 1), slo_percentile=study.slo_percentile)


@dataclass(frozen=True)
class ChipComparison:
    key: tuple
    rows: tuple        # dict per chip: chip_id, name, tp, ep, capacity (CapacityResult or None), chips, error
    batches: np.ndarray
    tpot_ms: np.ndarray            # (chips, batches), NaN where the batch does not fit
    ttft_ms: np.ndarray
    tokens_per_s_per_chip: np.ndarray
    load: object = None            # engine.serving.capacity.LoadAnalysis of the chosen chip (or None)
    load_error: str = ""
    length_spread: float = 0.5     # the CV of lengths that load was simulated with
    chosen: object = None          # the chosen chip and layout's CapacityResult under load (or None)
    chosen_error: str = ""
    # the user's load point (engine.studies_load.LoadPoint; None: at the targets) and the chosen
    # layout's run there (LoadPointRun, or None with why not): a what-if beside the SLO capacity
    load_point: object = None
    point: object = None
    point_error: str = ""


def _ep_curve(request: ServingRequest, chip, tp: int, ep: int, batches: np.ndarray):
    """The same curve for an expert-parallel replica (serving_curve takes TP only): one closed-loop
    evaluation per running batch, NaN beyond the KV cache."""
    tpot = np.full(len(batches), np.nan)
    ttft = np.full(len(batches), np.nan)
    tokens = np.full(len(batches), np.nan)
    for k, b in enumerate(batches):
        res = evaluate_serving(ServingInputs(
            model=request.model, chip=chip, input_len=request.input_len, output_len=request.output_len,
            tp=int(tp), ep=int(ep), scenario="concurrency", concurrency=int(b), weight_dtype=request.weight_dtype,
            kv_dtype=request.kv_dtype, engine=request.engine, simulate=False, factors=request.limit_factors,
            prefix_cache_hit=request.prefix_cache_hit))
        if not res.feasible or b > res.max_concurrency:
            break
        tpot[k], ttft[k], tokens[k] = res.tpot_ms, res.ttft_ms, res.output_tokens_per_s_per_chip
    return tpot, ttft, tokens


def run_chip_comparison(request: ServingRequest, chips: tuple, key: tuple = (), *, progress=None,
                        should_stop=None, labels: Mapping[str, str] | None = None,
                        load_point=None) -> ChipComparison:
    """Best layout, SLO capacity, chips needed and the throughput-latency curve per chip type.
    `labels`: chip id -> name (the catalog's, chip_labels over all chips, so a chip is called here
    what it is called elsewhere); default: told apart among `chips`."""
    batches = np.array(CURVE_BATCHES)
    n = len(chips)
    tpot = np.full((n, len(batches)), np.nan)
    ttft = np.full((n, len(batches)), np.nan)
    tokens = np.full((n, len(batches)), np.nan)
    rows = []
    names = {**chip_labels(chips), **dict(labels or {})}   # one short name, two chips: told apart
    for i, chip in enumerate(chips):
        if should_stop is not None and should_stop():
            raise Cancelled("chip comparison cancelled")
        # The chosen chip at the form's layout when it fixes one (beside the figures that use
        # it); every other chip at its own best layout: another chip's memory may not hold the
        # form's TP, or may serve better at another one.
        own = chip.id == request.chip.id and (request.tp is not None or request.ep is not None)
        row = {"chip_id": chip.id, "name": names[chip.id], "tp": None, "ep": None, "capacity": None,
               "chips": None, "error": "", "form_layout": own}
        try:
            cap = request.capacity(chip, fixed_layout=own)
            # The table and the chips needed read the targets as p90s under load, as the Forecast
            # does, at the layout best under load (another chip's is its own search's, whatever TP
            # the form fixes for the chosen one); the steady state draws the curves below
            # (a steady state that misses a latency target is simulated too: a lighter load may hold
            # it, as `serve` finds; one that does not fit is the steady answer again)
            loaded = request.capacity_under_load(chip, fixed_layout=own)
            tp, ep = loaded.tp, loaded.ep
            row.update(capacity=loaded, steady=cap, tp=tp, ep=ep, chips=request.chips_for_demand(loaded))
            if not loaded.feasible:
                row["error"] = loaded.reason
            if ep > 1:
                tpot[i], ttft[i], tokens[i] = _ep_curve(request, chip, tp, ep, batches)
            else:
                curve = serving_curve(request.model, [chip], [tp], batches, input_len=request.input_len,
                                      output_len=request.output_len, weight_dtype=request.weight_dtype,
                                      kv_dtype=request.kv_dtype, engine=request.engine,
                                      factors=request.limit_factors or None,
                                      prefix_cache_hit=request.prefix_cache_hit)
                tpot[i] = curve.tpot_ms[0, 0]
                ttft[i] = curve.ttft_ms[0, 0]
                tokens[i] = curve.output_tokens_per_s_per_chip[0, 0]
        except UserError as exc:
            row["error"] = str(exc)
        rows.append(row)
        if progress is not None:
            progress((i + 1) / max(n, 1), f"Compared {chip_name(chip)}")
    if should_stop is not None and should_stop():
        raise Cancelled("chip comparison cancelled")
    mine = [r for r in rows if r["chip_id"] == request.chip.id and r["capacity"] is not None]
    if mine:   # the chosen chip's row is at the request's own layout: the same search, not run twice
        chosen, chosen_error = mine[0]["capacity"], ""
    else:
        chosen, chosen_error = chosen_under_load(request)
    load, load_error = load_analysis_of(request, should_stop, chosen=chosen)
    done = ChipComparison(key=key, rows=tuple(rows), batches=batches, tpot_ms=tpot, ttft_ms=ttft,
                          tokens_per_s_per_chip=tokens, load=load, load_error=load_error,
                          length_spread=request.length_spread, chosen=chosen, chosen_error=chosen_error)
    return with_load_point(done, request, load_point, should_stop=should_stop)


def with_load_point(comparison: ChipComparison, request: ServingRequest, point, progress=None,
                    should_stop=None) -> ChipComparison:
    """The comparison with the chosen layout run at the user's load point (`point`: a LoadPoint,
    None or "targets" for none): only that run, the chips' rows and the SLO capacity as they were."""
    from engine.studies_load import run_load_point

    if point is None or not point.is_set:
        return replace(comparison, load_point=point, point=None, point_error="")
    try:
        tp, ep = point_layout(request, comparison.chosen)
        run, error = run_load_point(request, point, tp, ep, progress=progress, should_stop=should_stop), ""
    except UserError as exc:
        run, error = None, str(exc)
    return replace(comparison, load_point=point, point=run, point_error=error)


def point_layout(request: ServingRequest, chosen) -> tuple[int, int]:
    """(TP, EP) the load point runs at: the chosen layout under load (the Under load tab's), else
    the steady-state search's (UserError when neither has one)."""
    for cap in (chosen, request.capacity()):
        if cap is not None and cap.tp and cap.max_concurrency >= 1:   # one sequence's KV fits
            return int(cap.tp), int(cap.ep or 1)
    raise UserError(f"not simulated: {cap.reason or 'no layout of this chip holds the model'}")


def chosen_under_load(request: ServingRequest):
    """(CapacityResult under load, "") of the chosen chip and layout, or (None, why not)."""
    try:
        # the request's layout, or the best under load; a steady state that misses a latency
        # target is simulated all the same (`serve` finds the lighter load that may hold them)
        return request.capacity_under_load(), ""
    except UserError as exc:
        return None, str(exc)


def load_analysis_of(request: ServingRequest, should_stop=None, chosen=None):
    """The chosen chip under Poisson load (engine.serving.capacity.load_analysis), or why not.
    `chosen`: the capacity under load (chosen_under_load, searched here when not given); its
    layout and load are the ones the run shows."""
    from engine.serving.capacity import load_analysis, slo_run_of

    if chosen is None:
        chosen, _ = chosen_under_load(request)
    try:
        cap = request.capacity()
        if not cap.feasible and cap.max_concurrency < 1:
            return None, cap.reason
        if chosen is not None and chosen.feasible and chosen.tp:
            cap = chosen   # the layout under load (the best there, where searched), its steady batch
        if cap.batch > MAX_LOAD_BATCH:
            return None, (f"not simulated: a running batch of {cap.batch:,.0f} sequences per replica is beyond "
                          f"the {MAX_LOAD_BATCH} simulated interactively")
        at = {}
        if chosen is not None and chosen.feasible and chosen.request_rate_per_s > 0:
            n, seed = slo_run_of(chosen.batch, bool(request.prefill_tp))
            at = dict(chosen_rate_per_s=chosen.request_rate_per_s, chosen_requests=n, chosen_seed=seed)
        analysis = load_analysis(request.model, request.chip, input_len=request.input_len,
                                 output_len=request.output_len, tp=cap.tp, ep=cap.ep, ttft_ms=request.ttft_ms,
                                 tpot_ms=request.tpot_ms, weight_dtype=request.weight_dtype,
                                 kv_dtype=request.kv_dtype, engine=request.engine, should_stop=should_stop,
                                 max_num_seqs=request.max_num_seqs,
                                 max_num_batched_tokens=request.max_num_batched_tokens,
                                 input_spread=request.length_spread, output_spread=request.length_spread,
                                 percentile=request.slo_percentile,
                                 prefix_cache_hit=request.prefix_cache_hit, prefill_tp=request.prefill_tp or None,
                                 prefill_instances=request.prefill_instances, **at)
        return analysis, ""
    except UserError as exc:
        return None, str(exc)


def serve_command(req: ServingRequest) -> str:
    """The `fleetcast serve` line that answers what the Inference view shows for `req` (exports
    carry it: the CLI's defaults differ from the view's, steady state and fixed lengths against
    p90 under load with spread lengths, so the figures could not be reproduced from a file)."""
    head = cli_head("serve", req.model, req.chip)
    if isinstance(head, str):
        return head
    parts = head + [f"--input-len {req.input_len:g}", f"--output-len {req.output_len:g}"]
    parts += [f"--ttft-ms {req.ttft_ms:g}"] if req.ttft_ms else []
    parts += [f"--tpot-ms {req.tpot_ms:g}"] if req.tpot_ms else []
    parts += [f"--slo-percentile {req.slo_percentile}"]
    if req.length_spread:
        parts += [f"--input-len-spread {req.length_spread:g}", f"--output-len-spread {req.length_spread:g}"]
    parts += [f"--weight-dtype {req.weight_dtype}", f"--kv-dtype {req.kv_dtype}"]
    # a blank engine stays blank: `--engine vllm` is a named engine, which drops the CLI's note
    # that the scheduler was assumed (families.blank_engine_note)
    parts += [f"--engine {req.engine}"] if req.engine else []
    parts += [f"--tp {req.tp}"] if req.tp else []
    parts += [f"--ep {req.ep}"] if req.ep and req.ep > 1 else []
    parts += [f"--prefix-cache-pct {100 * req.prefix_cache_hit:g}"] if req.prefix_cache_hit else []
    parts += [f"--max-num-seqs {req.max_num_seqs}"] if req.max_num_seqs else []
    parts += [f"--max-num-batched-tokens {req.max_num_batched_tokens}"] if req.max_num_batched_tokens else []
    if req.prefill_tp:
        parts += [f"--prefill-tp {req.prefill_tp}", f"--prefill-instances {req.prefill_instances}"]
    parts += [f"--demand-tokens-per-s {req.demand:g}"] if req.demand > 0 else []   # the CLI refuses 0: no demand
    return " ".join(parts)


COMPARISON_HEADERS = ["Chip", "TP (ways)", "EP (ways)", "Throughput at SLO (output tokens/s per chip)", "TTFT (ms)",
                      "TPOT (ms)", "Max running (sequences per replica)", "Chips needed (chips)", "Limiting",
                      "Why", "Layout", "Latencies at"]
STEADY_BASIS = "mean (steady state)"


def latency_basis_text(cap) -> str:
    """What a row's latencies are: a percentile simulated under load, or the steady state's means
    (a batch beyond the simulator, or targets missed before any load was simulated)."""
    if cap is None:
        return ""
    return STEADY_BASIS if cap.latency_basis == "mean" else f"{cap.latency_basis} under load"


def comparison_basis_text(comparison: ChipComparison | None) -> str:
    """How many rows of the comparison are on each basis, for the run bar: "2 at p90 under load,
    1 at mean (steady state)"; rows with no capacity (an error) are not counted."""
    if comparison is None:
        return ""
    counts: dict[str, int] = {}
    for r in comparison.rows:
        if r["capacity"] is not None:
            basis = latency_basis_text(r["capacity"])
            counts[basis] = counts.get(basis, 0) + 1
    return ", ".join(f"{n} at {basis}" for basis, n in counts.items())


def prefix_cache_note(prefix_cache_pct: float) -> str:
    """The prefix-cache assumption ('' for none): a large lever on every figure."""
    if not prefix_cache_pct:
        return ""
    return f"prefix cache: {prefix_cache_pct:g}% of prompt tokens assumed served from cache (not prefilled)"


def serving_caveats(req: ServingRequest, cap) -> list[str]:
    """The assumptions `fleetcast serve` prints as notes for this request (engine.commands.serve):
    a blank engine's assumed scheduler, the network figures the chip catalog lacks for the tiers
    the replica's traffic crosses, and the prefix-cache share."""
    from engine.serving.families import blank_engine_note
    from engine.topology import DEFAULT_DOMAIN, assumed_network_note, topology_of

    notes = [blank_engine_note(req.engine, req.chip)]
    # the decode replica's chips, as serve counts them (a prefill pool is the scale-out below)
    per_replica = max(int(cap.tp or 1), int(cap.ep or 1)) if cap is not None else 0
    if per_replica:
        # as serve: a replica of several chips talks inside a server; one that spans servers,
        # or KV moved to and from a prefill pool, crosses them
        notes.append(assumed_network_note(req.chip, scaleup=per_replica > 1,
                                          scaleout=per_replica > topology_of(req.chip).server or bool(req.prefill_tp),
                                          host=per_replica > (req.chip.scaleup_domain or DEFAULT_DOMAIN)) or "")
    notes.append(prefix_cache_note(100.0 * req.prefix_cache_hit))
    return [n for n in notes if n]


def comparison_layout_note(comparison: ChipComparison | None) -> str:
    """Which layout each row of the comparison is at, for its caption and exports."""
    if comparison is None:
        return ""
    fixed = [r for r in comparison.rows if r.get("form_layout") and r["tp"] is not None]
    if not fixed:
        return "each chip at its best layout"
    r = fixed[0]
    layout = f"TP{r['tp']}" + (f" EP{r['ep']}" if (r["ep"] or 1) > 1 else "")
    return f"{r['name']} at the form's {layout}, every other chip at its best layout"


def comparison_table(comparison: ChipComparison | None) -> tuple[list[str], list[list]]:
    """The chip comparison as (headers with units, rows); figures are None where targets fail."""
    rows: list[list] = []
    if comparison is None:
        return list(COMPARISON_HEADERS), rows
    for r in comparison.rows:
        cap = r["capacity"]
        if cap is None:
            rows.append([r["name"], None, None, None, None, None, None, None, "error", r["error"], "", ""])
            continue
        ok = cap.feasible
        # the view's "Max running" tile's figure (the engine's cap applied), not the KV bound
        rows.append([r["name"], cap.tp, cap.ep, cap.output_tokens_per_s_per_chip if ok else None,
                     cap.ttft_ms if ok else None, cap.tpot_ms if ok else None, concurrency_limit(cap)[0],
                     r["chips"] or None,   # none for no demand, as the view's tile ("–"), not 0 chips
                     cap.limiting, cap.explanation if ok else cap.reason,
                     "the form's" if r.get("form_layout") else "best", latency_basis_text(cap)])
    return list(COMPARISON_HEADERS), rows


def concurrency_limit(cap) -> tuple[int, str]:
    """Sequences one replica can run at once (`cap.max_running`: the fewer of those whose KV
    cache fits beside the weights and the engine's cap on running sequences, as the SLO search
    applied them), and which of the two sets it."""
    if cap.max_running < cap.max_concurrency:
        return int(cap.max_running), "engine cap"
    return int(cap.max_concurrency), "KV cache"


def serving_key_figures(request: ServingRequest | None, cap, chips_needed: int | None) -> list[list]:
    """[figure, value, unit] rows of the chosen chip, as the Inference view's figures table and CSV."""
    if request is None or cap is None:
        return []
    req = request
    most, set_by = concurrency_limit(cap)
    rows: list[list] = [["Model", req.model.name, ""], ["Chip", chip_name(req.chip), ""], ["Input length", req.input_len, "tokens"],
            ["Output length", req.output_len, "tokens"], ["TTFT target", req.ttft_ms, "ms"],
            ["TPOT target", req.tpot_ms, "ms"], ["Weights", req.weight_dtype, ""], ["KV cache", req.kv_dtype, ""],
            ["TP", cap.tp, "ways"], ["EP", cap.ep, "ways"], ["Chips per replica", cap.chips_per_replica, "chips"],
            ["Targets met", cap.feasible, ""], ["Max running sequences", most, "sequences per replica"],
            ["Set by", set_by, ""], ["Sequences whose KV fits", cap.max_concurrency,
                                                              "sequences per replica"],
            ["Weights per chip", cap.weights_gib_per_chip, "GiB"], ["KV per sequence, on each chip", cap.kv_gib_per_sequence, "GiB"],
            ["HBM per chip", req.chip.hbm_gib, "GiB"],
            ["Limiting", cap.limiting, ""]]
    rows += [["Latencies held at", cap.latency_basis if cap.latency_basis != "mean" else "mean (steady state)", ""],
             ["Length spread", req.length_spread, "CV"]]
    if req.prefill_tp:
        rows += [["Prefill (disaggregated)", f"{req.prefill_instances} x TP{req.prefill_tp}", ""],
                 ["Prefill chips per replica", cap.prefill_chips, "chips"]]
    if cap.feasible:
        # the latencies at the basis the targets were held on (p90 under load, or the steady-state
        # mean): plain "TTFT" beside the CLI line's mean ttft_ms read as a mean
        basis = cap.latency_basis
        rows += [["Throughput at SLO", cap.output_tokens_per_s_per_chip, "output tokens/s per chip"],
                 ["Batch at SLO", cap.batch_at_slo, "sequences per replica"], [f"TTFT {basis}", cap.ttft_ms, "ms"],
                 [f"TPOT {basis}", cap.tpot_ms, "ms"], ["Peak demand", req.demand, "output tokens/s"],
                 ["Chips needed", chips_needed, "chips"]]
    return rows


# ---- an open loop's overload (`fleetcast serve --request-rate`) -------------------------------------

def overload_verdict(sim, rate_per_replica: float, share: float) -> tuple[bool, float, float | None]:
    """(overloaded, the share of the offered load served as the words give it, the share read off
    the queue's growth or None): `engine.serving.run_reading.open_loop_verdict`, the one rule
    `fleetcast serve` and the SLO search apply, with a queue rising at under OVERLOAD_SHARE of the
    load overloaded whatever `share` says (a throughput read elsewhere than off that queue)."""
    from engine.serving.run_reading import open_loop_verdict

    overloaded, from_queue = open_loop_verdict(sim, rate_per_replica, share)
    if from_queue is not None and from_queue < OVERLOAD_SHARE:
        return True, (from_queue if share >= OVERLOAD_SHARE else share), from_queue
    return overloaded, share, from_queue


def open_loop_reading(sim, rate_per_replica: float, output_tokens_per_s_per_chip: float, chips_per_replica: float,
                      output_len: float) -> tuple[bool, float, float, float | None]:
    """(overloaded, the share served as the words give it, the share the throughput reads, the share
    read off the queue's growth or None) of an aggregated Poisson run at `rate_per_replica`
    requests/s: the load offered at the simulated output lengths (`output_len` where the run has
    none; capped draws: 282 of 300 read "94% served" against --output-len), judged by
    `overload_verdict`. The one reading `fleetcast serve --request-rate` and the Inference view's
    load point give; they had two copies, serve's without the verdict's queue-growth rule."""
    lens = getattr(sim, "output_lens", None)
    mean_out = float(lens.mean()) if lens is not None and len(lens) else float(output_len)
    offered = float(rate_per_replica) * mean_out / float(chips_per_replica)
    measured = float(output_tokens_per_s_per_chip) / offered
    over, said, from_queue = overload_verdict(sim, float(rate_per_replica), measured)
    return over, said, measured, from_queue


def ttft_histogram(ttft_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(bin centres ms, share of requests %, bin width ms) of simulated TTFTs (finite ones)."""
    ttft = np.asarray(ttft_s, dtype=float)
    ttft = ttft[np.isfinite(ttft)] * 1e3
    if not ttft.size:
        return np.zeros(0), np.zeros(0), 1.0
    counts, edges = np.histogram(ttft, bins=min(30, max(5, ttft.size // 10)))
    share = 100.0 * counts / max(ttft.size, 1)
    width = float(edges[1] - edges[0]) if len(edges) > 1 else 1.0
    return 0.5 * (edges[:-1] + edges[1:]), share, width


__all__ = [
    "CURVE_BATCHES", "MAX_LOAD_BATCH", "ServingRequest", "ChipComparison", "run_chip_comparison", "load_analysis_of",
    "with_load_point", "point_layout",
    "comparison_layout_note", "comparison_basis_text", "latency_basis_text", "serving_caveats", "prefix_cache_note",
    "comparison_table", "serving_key_figures", "chosen_under_load", "SLO_PERCENTILE", "OVERLOAD_SHARE",
    "served_share_from_queue", "overload_verdict", "open_loop_reading", "serving_request", "ep_choices", "ttft_histogram", "COMPARISON_HEADERS",
]
