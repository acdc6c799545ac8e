"""Builds `ForecastInputs` from orders, chips, models and a scenario (glue; no Qt, no SQLite).

Per-chip throughputs come from the inference engine (`engine.inference.slo_capacity`) and the
training engine (`engine.training.best_tokens_per_s_per_chip`), imported lazily. Where an engine
fails on arithmetic (overflow, division by zero; or the training engine refuses), a roofline
estimate written here stands in, and the result says so (`throughput_source`: "engine", "roofline
fallback" or "mixed (...)"). Any other exception is a bug and propagates: a ValueError (a numpy
shape mismatch, a math domain error) or a TypeError must not turn into a plausible roofline number.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Mapping, Sequence

from engine.errors import UserError, ValidationError
from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import (STORY_910B_CHIP, STORY_H20_CHIP, ForecastInputs, ForecastScenario,
                             ThroughputTable, no_profile_notes)
from engine.hardware import Chip
from engine.models import ModelConfig, context_fields

# Roofline fallback constants (stated, not calibrated): measured serving stacks reach 17-75% of
# HBM bandwidth in decode and 18-69% of peak in prefill (MODELING.md).
FALLBACK_DECODE_HBM_EFFICIENCY = 0.5
FALLBACK_PREFILL_COMPUTE_EFFICIENCY = 0.4
FALLBACK_HBM_RESERVE = 0.1  # runtime, activations, fragmentation
FALLBACK_MAX_BATCH = 512
FALLBACK_TRAINING_MFU = 0.35
FALLBACK_TRAINING_BYTES_PER_PARAM = 18.0  # bf16 weights + grads + fp32 Adam states + master copy
FALLBACK_TRAINING_HBM_USE = 0.7  # the rest holds activations and buffers
TRAINING_GRID_START = 8
TRAINING_GRID_FACTOR = 4
JOB_TABLE_MIN_CHIPS = 8192  # training tables reach at least this far: a plan may buy a job's chips


# ---- roofline fallbacks --------------------------------------------------------------------

def roofline_serving_tokens_per_s_per_chip(model: ModelConfig, chip: Chip, input_len: float, output_len: float,
                                           ttft_ms: float, tpot_ms: float, bytes_per_element: float = 2.0) -> float:
    """SLO-bounded output tokens/s per chip from a roofline (0 when the SLOs cannot be met).

    The smallest power-of-two tensor-parallel group that holds the weights serves a batch B limited
    by the KV cache left in HBM and by the TPOT target; a decode step reads the weights (for MoE
    only the experts the batch hits, in expectation) and every sequence's KV cache at
    FALLBACK_DECODE_HBM_EFFICIENCY of HBM bandwidth, or is compute-bound if that is slower;
    each request's prefill (2 x active params x input tokens at FALLBACK_PREFILL_COMPUTE_EFFICIENCY
    of peak) takes the group away from decoding.
    """
    peak = chip.peak_tflops("bf16")
    if not peak or not chip.hbm_gb or not chip.hbm_gbps:
        return 0.0
    total_bytes = model.total_params() * bytes_per_element
    active = model.active_params()
    kv_token = model.kv_bytes_per_token(bytes_per_element)
    for tp in (2 ** k for k in range(0, 11)):
        usable = tp * chip.hbm_bytes * (1 - FALLBACK_HBM_RESERVE)
        if total_bytes < 0.8 * usable:
            break
    else:
        return 0.0
    bw = tp * chip.hbm_gbps * 1e9 * FALLBACK_DECODE_HBM_EFFICIENCY
    flops = tp * peak * 1e12
    kv_avg = kv_token * model.kv_context_tokens(input_len + output_len / 2)
    kv_max = kv_token * model.kv_context_tokens(input_len + output_len)

    def weight_bytes_read(batch: float) -> float:
        if not model.is_moe:
            return total_bytes
        routed = model.moe_layers * model.moe_experts * model.expert_params() * bytes_per_element
        hit = 1 - (1 - model.moe_topk / model.moe_experts) ** batch
        return total_bytes - routed + routed * hit

    def step_s(batch: float) -> float:
        memory = (weight_bytes_read(batch) + batch * kv_avg) / bw
        compute = 2 * active * batch / (flops * FALLBACK_PREFILL_COMPUTE_EFFICIENCY)
        return max(memory, compute)

    batch_mem = math.floor((usable - total_bytes) / kv_max) if kv_max > 0 else FALLBACK_MAX_BATCH
    batch = min(batch_mem, FALLBACK_MAX_BATCH)
    while batch >= 1 and step_s(batch) * 1000 > tpot_ms:
        batch = batch // 2 if batch > 8 else batch - 1
    if batch < 1:
        return 0.0
    prefill_s = 2 * active * input_len / (flops * FALLBACK_PREFILL_COMPUTE_EFFICIENCY)
    if prefill_s * 1000 > ttft_ms:
        return 0.0
    group_s_per_request = prefill_s + output_len * step_s(batch) / batch
    return output_len / group_s_per_request / tp


def roofline_training_tokens_per_s_per_chip(model: ModelConfig, chip: Chip, num_chips: int) -> float:
    """6 x active params FLOPs per token at FALLBACK_TRAINING_MFU of peak; 0 below the chip count
    whose HBM holds the weights, gradients and optimizer states (no communication losses)."""
    peak = chip.peak_tflops("bf16")
    if not peak or not chip.hbm_gb:
        return 0.0
    needed = model.total_params() * FALLBACK_TRAINING_BYTES_PER_PARAM / (chip.hbm_bytes * FALLBACK_TRAINING_HBM_USE)
    if num_chips < needed:
        return 0.0
    return peak * 1e12 * FALLBACK_TRAINING_MFU / (6.0 * model.active_params())


# ---- engine calls with fallback ------------------------------------------------------------

UPPER_BOUND_NOTE = " output tokens/s per chip, a steady-state upper bound at"
MERGED_BOUNDS = re.compile(r"(?P<model>\S+) serving capacity is the steady state, an upper bound for (?P<percentile>\S+) "
                           r"latency under load \(running batches beyond the \d+ simulated; every chip is rated on this one "
                           r"basis\): (?P<items>.+) output "
                           r"tokens/s per chip")


def on_steady_basis(notes) -> bool:
    """Whether a forecast's notes say its serving chips are rated on the steady state (see
    `serving_throughputs`): its percentile and length spread then change nothing."""
    return any(MERGED_BOUNDS.fullmatch(str(n)) or UPPER_BOUND_NOTE in str(n) for n in notes)


def steady_basis_models(notes) -> list[str]:
    """The served models whose chips a forecast's (merged) notes rate on the steady state."""
    return list(dict.fromkeys(m["model"] for m in (MERGED_BOUNDS.fullmatch(str(n)) for n in notes) if m))


def simulated_rates_note(model_id: str, slo_percentile: str, rates: Mapping[str, float]) -> str:
    """The per-chip rates of chips the simulator rated (`serving_throughputs` found no steady-state
    bound), with their basis: only steady-state rates were stated, so a dense model's 910B2 at
    149 output tokens/s per chip beside an H800's 969 was in the JSON alone. "" without any."""
    if not rates:
        return ""
    return (f"{model_id} serving capacity is simulated, the most load whose {slo_percentile} TTFT and TPOT "
            "meet the targets (every chip is rated on this one basis): "
            + ", ".join(f"{chip} {value:,.0f}" for chip, value in rates.items()) + " output tokens/s per chip")


def unordered_serving_note(chip_ids: Sequence[str], every_serving_chip: bool, plan_candidates=()) -> str:
    """A note for serve-on chips with no orders: the forecast installs none of them, so they add
    no capacity (P(meet) 0% every month, with their rate listed as if they served). "" for none."""
    if not chip_ids:
        return ""
    names = " and ".join(chip_ids)
    verb = "serves but has" if len(chip_ids) == 1 else "serve but have"
    why = "nothing serves the demand" if every_serving_chip else "no capacity from " + (
        "it" if len(chip_ids) == 1 else "them")
    bought = " (before any the plan buys)" if any(c in plan_candidates for c in chip_ids) else ""
    return f"{names} {verb} no orders: {why}{bought}"


def merge_notes(notes) -> tuple[str, ...]:
    """The notes once each; the steady-state upper bounds of one model as one sentence (three chips'
    worth filled the Forecast's summary)."""
    from engine.serving.capacity import MAX_SIMULATED_BATCH

    out: list[str] = []
    bounds: dict[tuple[str, str], list[str]] = {}
    for note in dict.fromkeys(line for text in notes for line in str(text).split("\n") if line):
        merged = MERGED_BOUNDS.fullmatch(note)   # merged before (the plan adds its candidates)
        if merged:
            bounds.setdefault((merged["model"], merged["percentile"]), []).extend(merged["items"].split(", "))
            continue
        head, sep, percentile = note.partition(UPPER_BOUND_NOTE)
        if sep and " on " in head:
            model_id, _, rest = head.partition(" on ")
            bounds.setdefault((model_id, percentile.strip()), []).append(rest.replace(":", ""))
        else:
            out.append(note)
    for (model_id, percentile), items in bounds.items():
        out.append(f"{model_id} serving capacity is the steady state, an upper bound for {percentile} latency under "
                   f"load (running batches beyond the {MAX_SIMULATED_BATCH} simulated; every chip is rated on this "
                   "one basis): " + ", ".join(items)
                   + " output tokens/s per chip")
    return tuple(out)


def serving_throughput(model: ModelConfig, chip: Chip, input_len: float, output_len: float, ttft_ms: float,
                       tpot_ms: float, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
                       prefix_cache_hit: float = 0.0, slo_percentile: str = "p90",
                       length_spread: float = 0.0, steady_state: bool = False) -> tuple[float, str, str]:
    """(output tokens/s per chip, source, note) for one chip type.

    The inference engine searches the layout (TP, and EP with TP or data-parallel attention for
    MoE models, as production MoE serving runs) and the batch bounded by the SLOs;
    `prefix_cache_hit` input tokens skip prefill. `steady_state`: the steady-state search alone
    (targets held as means), not the simulator (see `serving_throughputs`)."""
    # the simulator's percentile-SLO capacity at this request mix
    from engine.inference import slo_capacity as steady_capacity
    from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip as slo_capacity

    if True:  # (kept flat: the engine is always there; its refusals and numeric failures fall back)
        try:
            if steady_state:
                cap = steady_capacity(model, chip, input_len=input_len, output_len=output_len, ttft_ms=ttft_ms,
                                      tpot_ms=tpot_ms, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                                      prefix_cache_hit=float(prefix_cache_hit))
            else:
                cap = slo_capacity(model, chip, input_len=input_len, output_len=output_len,
                                   ttft_ms=ttft_ms, tpot_ms=tpot_ms, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                                   prefix_cache_hit=float(prefix_cache_hit), percentile=slo_percentile,
                                   input_spread=float(length_spread), output_spread=float(length_spread))
            value = float(cap.output_tokens_per_s_per_chip) if cap.feasible else 0.0
            note = "" if cap.feasible else f"{model.id} on {chip.id} cannot meet the SLOs (engine)"
            if cap.feasible and slo_percentile != "mean" and cap.latency_basis == "mean":
                # wide expert parallelism: the steady state stands in for the simulation, and reads
                # high under load (README, "Wide expert parallelism"); say so where the figure is used
                note = f"{model.id} on {chip.id}: {value:,.0f}{UPPER_BOUND_NOTE} {slo_percentile}"
                # (the simulator runs replicas of up to MAX_SIMULATED_BATCH sequences; merge_notes says so)
            from engine.inference import precision_note

            how = precision_note(chip, weight_dtype, kv_dtype)   # e.g. FP8 on a 910B: served W8A16
            if how:   # its own line beside an upper-bound note, which merge_notes gathers per model
                sep = "\n" if UPPER_BOUND_NOTE in note else "; "
                note = f"{note}{sep}{model.id} on {chip.id}: {how}" if note else f"{model.id} on {chip.id}: {how}"
            return (value if math.isfinite(value) else 0.0), "engine", note
        except UserError as exc:  # e.g. a dtype the chip lacks: it cannot serve this way
            return 0.0, "engine", f"{model.id} on {chip.id} cannot be served: {exc}"
        except ArithmeticError as exc:  # overflow, division by zero: a bug must surface, not hide
            fallback_note = f"inference engine failed for {chip.id} ({type(exc).__name__}: {exc}); "
    from engine.hardware import DTYPE_BYTES

    value = roofline_serving_tokens_per_s_per_chip(model, chip, input_len, output_len, ttft_ms, tpot_ms,
                                                   DTYPE_BYTES.get(weight_dtype, 2.0))
    return value, "roofline fallback", fallback_note + (
        f"serving {chip.id}: roofline, decode at {FALLBACK_DECODE_HBM_EFFICIENCY:.0%} of HBM bandwidth, "
        f"prefill at {FALLBACK_PREFILL_COMPUTE_EFFICIENCY:.0%} of peak")


def serving_throughputs(model: ModelConfig, chips: Sequence[Chip], input_len: float, output_len: float,
                        ttft_ms: float, tpot_ms: float, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
                        prefix_cache_hit: float = 0.0, slo_percentile: str = "p90",
                        length_spread: float = 0.0) -> dict[str, tuple[float, str, str]]:
    """`serving_throughput` of each chip, all on one basis.

    A replica running more than the simulator's batch keeps the steady-state figure, an upper bound
    for percentile latency under load. If one chip is rated that way, a chip rated by the
    simulator would be compared against an optimistic figure: at a 25 ms TPOT the story's 910B2
    read 12 output tokens/s per chip simulated at p90 beside an H800's 571 steady (its steady state
    is 96), so the 910B-equivalents of the fleet and the demand moved by the rating, not by the
    chips. Then every chip is rated on the steady state, and the note says so."""
    args = (input_len, output_len, ttft_ms, tpot_ms, weight_dtype, kv_dtype, prefix_cache_hit, slo_percentile,
            length_spread)
    out = {c.id: serving_throughput(model, c, *args) for c in chips}
    bounded = [cid for cid, (_, _, note) in out.items() if UPPER_BOUND_NOTE in note]
    if bounded and slo_percentile != "mean":
        for c in chips:
            value, source, note = out[c.id]
            if c.id not in bounded and value > 0 and source == "engine":
                out[c.id] = serving_throughput(model, c, *args, steady_state=True)
    return out


def training_table(model: ModelConfig, chip: Chip, max_chips: float, seq_len: int | None = None,
                   global_batch_seqs: int | None = None) -> tuple[ThroughputTable, str, str]:
    """Per-chip training throughput at fleet sizes 8, 32, 128, ... up to `max_chips`."""
    sizes = [TRAINING_GRID_START]
    while sizes[-1] < max_chips:
        sizes.append(sizes[-1] * TRAINING_GRID_FACTOR)
    from engine.training import best_tokens_per_s_per_chip

    note = ""
    if True:  # (kept flat: the engine is always there; its refusals and numeric failures fall back)
        try:
            values = []
            for n in sizes:
                v = best_tokens_per_s_per_chip(model, chip, n, seq_len=seq_len, global_batch_seqs=global_batch_seqs)
                values.append(float(v) if v is not None and math.isfinite(float(v)) else 0.0)
            return ThroughputTable(tuple(float(n) for n in sizes), tuple(values)), "engine", ""
        except (UserError, ArithmeticError) as exc:  # refusals and overflow; a bug must surface, not hide
            note = f"training engine failed for {model.id} on {chip.id} ({type(exc).__name__}: {exc}); "
    values = [roofline_training_tokens_per_s_per_chip(model, chip, n) for n in sizes]
    return (ThroughputTable(tuple(float(n) for n in sizes), tuple(values)), "roofline fallback",
            note + f"training {model.id} on {chip.id}: 6 x active params per token at "
                   f"{FALLBACK_TRAINING_MFU:.0%} MFU, no communication losses")


def throughput_sigmas(chip_ids, chips: Mapping[str, Chip] | None = None
                      ) -> tuple[dict[str, str], dict[str, float], dict[str, float]]:
    """(family, serving sigma, training sigma) per chip from resources/throughput_sigma.csv.

    Lognormal sigmas of throughput derived from the validation error of each chip family (the
    file's `basis` column says how); the first family whose id prefix matches wins, a family with
    no prefixes is the fallback. A chip in `chips` is matched on its calibration_target (its
    calibrate_as, else its id), as its factors are: an exact H800 copy under another id got the
    fallback's band, twice the H800's, and an H20 calibrated as a 910B2 Hopper's.
    """
    import resources
    from engine.catalog import calibration_target, read_csv_rows

    rows = read_csv_rows(resources.read_text("throughput_sigma.csv"))
    family, serving, training = {}, {}, {}
    for chip in chip_ids:
        target = calibration_target(chips[chip]) if chips and chip in chips else chip
        match = next((r for r in rows if any(target.startswith(p) for p in r["chip_id_prefixes"].split(";") if p)),
                     next((r for r in rows if not r["chip_id_prefixes"].strip()), None))
        if match is None:
            continue
        family[chip] = match["family"]
        serving[chip] = float(match["serving_sigma"])
        training[chip] = float(match["training_sigma"])
    return family, serving, training


def unmatched_notes(scenario: ForecastScenario, orders: Sequence[Order], chips: Mapping[str, Chip],
                    plan_chips: Sequence[str] = ()) -> list[str]:
    """A line per cut-off whose chip no order (nor a plan candidate) has, and per vendor profile no
    order's vendor or chip maker matches: each changes nothing (ids and names are matched as the
    forecast matches them), and "H20 cut off" read like a real ban with chip_id 'H20'."""
    fleet_chips = {o.chip_id for o in orders} | set(plan_chips)
    out = []
    for i, event in enumerate(scenario.policy_events):
        if event.chip_id in fleet_chips:
            continue
        where = "no order of it in the fleet" if event.chip_id in chips else "no such chip in the catalog"
        out.append(f"policy_events[{i}].chip_id {event.chip_id!r}: {where}, so this cut-off changes nothing")
    names = {(o.vendor or "").strip().lower() for o in orders}
    names |= {(chips[c].vendor or "").strip().lower() for c in fleet_chips if c in chips}
    out += [f"vendor_uncertainty {vendor!r}: no order has this vendor (nor a chip of this maker), so this "
            "profile changes nothing" for vendor in scenario.vendor_uncertainty if vendor.strip().lower() not in names]
    return out


def uncalibrated_notes(chip_ids: Sequence[str], chips: Mapping[str, Chip]) -> list[str]:
    """`engine.calibration.uncalibrated_note` of each chip a run uses: its serving and training
    rates rest on the generic factors (the train, serve and inference views said so; the forecast
    and the plan did not)."""
    from engine.calibration import uncalibrated_note

    return [note for c in chip_ids if c in chips for note in [uncalibrated_note(chips[c])] if note]


def _chips_named(scenario: ForecastScenario, orders: Sequence[Order], extra_serving_chips: Sequence[str]
                 ) -> tuple[list[str], dict]:
    """(the chips that serve: demand.serve_on, or every chip type the fleet holds; every chip the
    forecast reads, in order)."""
    demand = scenario.demand
    fleet_chips = list(dict.fromkeys(o.chip_id for o in orders))
    serve_on = list(demand.serve_on) or fleet_chips
    return serve_on, dict.fromkeys(fleet_chips + serve_on + ([demand.chip_id] if demand.chip_id else [])
                                   + [j.chip_id for j in scenario.jobs] + list(extra_serving_chips))


def catalog_problems(scenario: ForecastScenario, chips: Mapping, models: Mapping, orders: Sequence[Order] = (),
                     extra_serving_chips: Sequence[str] = ()) -> list[str]:
    """The chips and model presets `scenario` (and `orders`) name that `chips` / `models` lack, each
    named by the field that holds it ("demand.chip_id: 'mi300x' is not in the chip catalog"). A
    forecast refuses them (build_inputs); the window refuses to save them (QA s36: a chip deleted by
    another program meanwhile was saved into the baseline, and every forecast of it failed)."""
    demand = scenario.demand
    serve_on, needed = _chips_named(scenario, orders, extra_serving_chips)
    # each unknown chip named by the field that holds it (the first, where several do)
    holders: dict[str, str] = {}
    for field_name, chip_ids in ([("demand.chip_id", [demand.chip_id] if demand.chip_id else []),
                                  ("demand.serve_on", list(demand.serve_on))]
                                 + [(f"jobs[{i}].chip_id", [j.chip_id]) for i, j in enumerate(scenario.jobs)]
                                 + [(f"order {o.id} chip_id", [o.chip_id]) for o in orders]
                                 + [("chip_id", list(extra_serving_chips))]):
        for chip_id in chip_ids:
            holders.setdefault(chip_id, field_name)
    problems = [f"{holders.get(c, 'chip_id')}: {c!r} is not in the chip catalog" for c in needed if c not in chips]
    if serve_on and demand.model_id not in models:
        problems.append(f"demand.model_id: {demand.model_id!r} is not a model preset")
    problems += [f"jobs[{i}].model_id: {j.model_id!r} is not a model preset"
                 for i, j in enumerate(scenario.jobs) if j.model_id not in models]
    return problems


def build_inputs(orders: Sequence[Order], chips: Mapping[str, Chip], models: Mapping[str, ModelConfig],
                 scenario: ForecastScenario, extra_serving_chips: Sequence[str] = ()) -> ForecastInputs:
    """ForecastInputs for `scenario`, with throughputs from the engines (or the roofline fallback).
    `extra_serving_chips` are rated for serving too, on the same basis (the plan's candidates)."""
    demand = scenario.demand
    serve_on, needed = _chips_named(scenario, orders, extra_serving_chips)
    problems = catalog_problems(scenario, chips, models, orders, extra_serving_chips)
    if serve_on and not demand.input_tokens_per_request >= 1:
        # the engines serve prompts of one token or more (0 left every month's capacity blank)
        problems.append(f"demand.input_tokens_per_request: {demand.input_tokens_per_request:g} (must be >= 1 token "
                        "for the engines to serve it)")
    if serve_on and demand.model_id in models:
        field, too_long = context_fields(models[demand.model_id], demand.input_tokens_per_request,
                                         demand.output_tokens_per_request)
        if too_long:
            problems.append(f"demand.{field}: {too_long}")
    if problems:
        raise ValidationError(problems, f"forecast scenario {scenario.name!r}")

    peaks = {c: float(chips[c].peak_tflops("bf16") or 0.0) for c in needed}
    sources: dict[str, set] = {"serving": set(), "training": set()}
    # a what-if's delivery risk for an order the fleet no longer has does nothing: said, not silent
    held = {o.id for o in orders}
    notes: list[str] = [f"the scenario sets the delivery risk of order {oid}, which is not in the fleet (deleted?); "
                        "that setting has no effect" for oid in sorted(scenario.order_uncertainty) if oid not in held]
    serving = {}
    rated = dict.fromkeys(serve_on + ([demand.chip_id] if demand.chip_id else []) + list(extra_serving_chips))
    by_chip = serving_throughputs(models[demand.model_id], [chips[c] for c in rated],
                                  demand.input_tokens_per_request, demand.output_tokens_per_request,
                                  demand.ttft_ms, demand.tpot_ms, demand.weight_dtype,
                                  demand.kv_dtype, getattr(demand, "prefix_cache_hit", 0.0),
                                  getattr(demand, "slo_percentile", "p90"),
                                  getattr(demand, "length_spread", 0.0)) if rated else {}
    for c, (value, source, note) in by_chip.items():
        serving[c] = value
        sources["serving"].add(source)
        if note:
            notes.append(note)
    percentile = getattr(demand, "slo_percentile", "p90")
    if by_chip and percentile != "mean" and not any(UPPER_BOUND_NOTE in note for _, _, note in by_chip.values()):
        # the simulator rated every chip: state the rates and their basis, as the steady state's note does
        notes.append(simulated_rates_note(demand.model_id, percentile, {
            c: value for c, (value, source, _) in by_chip.items() if source == "engine" and value > 0}))
    # a serve-on chip with no orders is never installed: its rate adds nothing (engine.forecast.simulate)
    fleet_chips = {o.chip_id for o in orders}
    unordered = [c for c in serve_on if c not in fleet_chips]
    notes.insert(0, unordered_serving_note(unordered, len(unordered) == len(serve_on), extra_serving_chips))

    tables = {}
    for job in scenario.jobs:
        key = (job.model_id, job.chip_id)
        if key in tables:
            continue
        fleet = sum(o.quantity for o in orders if o.chip_id == job.chip_id)
        # at least JOB_TABLE_MIN_CHIPS: a plan may buy the job's chips where few or none are ordered
        table, source, note = training_table(models[job.model_id], chips[job.chip_id], max(fleet, JOB_TABLE_MIN_CHIPS),
                                             job.seq_len, job.global_batch_seqs)
        tables[key] = table
        sources["training"].add(source)
        if note:
            notes.append(note)
    if scenario.jobs:   # a what-if on the Training view's MTBF moved `train` 184 -> 238 days and no job date
        notes.append(f"training jobs run at the training efficiency ({scenario.training_efficiency_scale:.0%}): "
                     "failures, restarts and checkpoints as one fraction, whatever the fleet's size; the Training "
                     "view's reliability inputs (MTBF, restart, checkpoint) feed `train` only")

    used = sources["serving"] | sources["training"]
    if used == {"engine"}:
        label = "engine"
    elif used <= {"roofline fallback"}:
        label = "roofline fallback"
    else:
        label = "mixed (" + "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in sources.items() if v) + ")"
    family, serving_sigma, training_sigma = throughput_sigmas(list(needed), chips)
    maker_by_chip = {c: chips[c].vendor for c in needed if getattr(chips[c], "vendor", "")}
    # first: orders forecast as certain for want of a profile read like any others (P10 = P50 = P90)
    notes = (list(no_profile_notes(orders, scenario, maker_by_chip)) + notes
             + unmatched_notes(scenario, orders, chips, extra_serving_chips) + uncalibrated_notes(list(needed), chips))
    return ForecastInputs(orders=tuple(orders), scenario=scenario, chip_peak_tflops=peaks,
                          serving_tokens_per_s_per_chip=serving, training_tokens_per_s_per_chip=tables,
                          throughput_source=label, notes=merge_notes(notes),
                          family_by_chip=family, serving_sigma_by_chip=serving_sigma,
                          training_sigma_by_chip=training_sigma, maker_by_chip=maker_by_chip)


# ---- the story's orders (used until the store is there, and by tests) ----------------------

def story_orders() -> list[Order]:
    """ByteDance's orders as the story tells them; dates inside 2024 and the H20 volume are assumptions."""
    ascend = Order(
        id=1, buyer="ByteDance", vendor="Huawei", chip_id=STORY_910B_CHIP, quantity=100_000,
        order_date=dt.date(2024, 1, 15), status="sourced",
        source="Reuters 2024 (STORY.md): >100,000 Ascend 910B ordered in 2024, ~30,000 delivered from July",
        note="order date and the monthly split of the 30,000 are assumptions; no promised schedule is public",
        deliveries=tuple(Delivery(id=i + 1, order_id=1, date=dt.date(2024, 7 + i, 1), quantity=10_000,
                                  note="assumption: split evenly Jul-Sep 2024") for i in range(3)))
    h20 = Order(
        id=2, buyer="ByteDance", vendor="NVIDIA", chip_id=STORY_H20_CHIP, quantity=100_000,
        order_date=dt.date(2024, 1, 15), status="assumption",
        source="STORY.md: ByteDance is a large H20 buyer; the volume is not public",
        note="assumption: 100,000 ordered, 60,000 delivered in 2024, the rest due in 2025 H1",
        promised=tuple(ScheduledLot(dt.date(y, m, 1), q) for y, m, q in (
            (2024, 3, 15_000), (2024, 6, 15_000), (2024, 9, 15_000), (2024, 12, 15_000),
            (2025, 3, 20_000), (2025, 6, 20_000))),
        deliveries=tuple(Delivery(id=10 + i, order_id=2, date=dt.date(2024, 3 * i + 3, 1), quantity=15_000,
                                  note="assumption") for i in range(4)))
    return [ascend, h20]
