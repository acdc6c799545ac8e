"""`fleetcast train`: one layout, or the best layouts for a model on N chips (CLI.md)."""

from __future__ import annotations

import argparse
import math

from engine.commands import Output, plain_number, whole_number
from engine.errors import InfeasibleRequest, UserError
from engine.hardware import GB_PER_GIB
from engine.studies import (FLAG_NAMES, cp_sequence_rule, ep_experts_rule, infeasible_detail, layout_label,
                            no_fit_blocker, pp_layers_rule, schedule_rule, tp_heads_rule, zero_note)


def register(subparsers) -> None:
    from engine.cli import add_command

    p = add_command(subparsers, "train", "training throughput, memory and time for a model on a fleet")
    p.add_argument("--scenario", metavar="NAME",
                   help="take the Training study saved in scenario NAME (the Training view's inputs); "
                        "flags given as well override it (a saved fixed layout keeps its other fields; "
                        "--search searches instead)")
    p.add_argument("--model", help="model preset id (required without --scenario)")
    p.add_argument("--chip", help="chip id (required without --scenario)")
    p.add_argument("--chips", type=whole_number, help="number of chips (required without --scenario)")
    p.add_argument("--tokens", type=plain_number, help="token budget (e.g. 15e12) for time to train")
    from engine.layout import DIMENSIONS

    for d in DIMENSIONS:  # --tp --pp --cp --ep --vpp --micro-batch --dp: one schema with the GUI
        p.add_argument(d.flag, type=whole_number, dest=d.key, help=f"{d.help} ({d.low:,} to {d.high:,} {d.unit})")
    p.add_argument("--zero", type=whole_number, choices=(0, 1, 2, 3), help="ZeRO stage (3 = FSDP)")
    p.add_argument("--global-batch", type=whole_number, dest="global_batch",
                   help="sequences per step (default: about max(4M tokens, 1K tokens per chip) in sequences, rounded to "
                        "the nearest power of two; each layout then takes the nearest multiple of dp x micro-batch "
                        "(x pp when interleaved), at most 1.5x the default; the JSON's global_batch_seqs and "
                        "default_global_batch_seqs say what ran)")
    p.add_argument("--recompute", choices=("none", "selective", "full"),
                   help="activation recomputation (default: searched)")
    p.add_argument("--seq-len", type=whole_number, dest="seq_len", help="tokens per sequence (default: the model preset's)")
    p.add_argument("--dtype", choices=("bf16", "fp16", "fp8"), help="matrix-multiply precision (default bf16)")
    # software settings (defaults: today's common practice, engine.studies.SOFTWARE_DEFAULTS; None
    # here means "not given", so that a saved study's settings apply)
    p.add_argument("--flash-attention", action=argparse.BooleanOptionalAction, default=None, dest="flash_attention",
                   help="fused attention kernels (default on)")
    p.add_argument("--sequence-parallel", action=argparse.BooleanOptionalAction, default=None,
                   dest="sequence_parallel", help="Megatron sequence parallelism with TP (default on)")
    p.add_argument("--grad-overlap", action=argparse.BooleanOptionalAction, default=None, dest="grad_overlap",
                   help="overlap the data-parallel gradient reduction with backward (default on)")
    p.add_argument("--tp-comm-overlap", action=argparse.BooleanOptionalAction, default=None,
                   dest="tp_comm_overlap", help="overlap TP collectives with GEMMs (default off)")
    p.add_argument("--dropout", action=argparse.BooleanOptionalAction, default=None,
                   help="dropout layers active (default off)")
    p.add_argument("--schedule", choices=("1f1b", "zero-bubble", "dualpipe"),
                   help="pipeline schedule (default 1f1b, interleaved when vpp > 1)")
    p.add_argument("--cp-kind", choices=("ring", "allgather"), dest="cp_kind",
                   help="context parallelism: ring attention (default) or K/V all-gather (Llama 3)")
    p.add_argument("--attention-kernel", choices=("portable", "native"), dest="attention_kernel",
                   help="fused attention kernels: portable FlashAttention-2 class (default) or native to the "
                        "chip (FlashAttention-3 / cuDNN on Hopper)")
    p.add_argument("--moe-route-nodes", type=whole_number, dest="moe_route_nodes",
                   help="node-limited MoE routing (DeepSeek-V3: 4): a token reaches at most this many nodes and "
                        "crosses the network once per node it reaches, its copies for several experts there "
                        "forwarded inside the node; left out, one copy per remote expert (a plain all-to-all)")
    p.add_argument("--expert-tp", type=whole_number, dest="expert_tp",
                   help="expert tensor parallelism (Megatron-Core's --expert-tensor-parallel-size): the chips each "
                        "expert's weights are split over, in every layout; it must divide --tp, and --ep x it "
                        "must divide tp x dp x cp (default: derived, gcd(tp, tp x cp x dp / ep); MoE only)")
    p.add_argument("--fp8-dispatch", action=argparse.BooleanOptionalAction, default=None, dest="fp8_dispatch",
                   help="with --dtype fp8, MoE tokens are dispatched in FP8 (combined in BF16; default on)")
    p.add_argument("--search", action="store_true", help="search the best layouts")
    p.add_argument("--top", type=whole_number, default=5, help="layouts listed by a search")
    p.add_argument("--price-per-chip-hour", type=plain_number, dest="price",
                   help="USD per chip-hour, for the cost (default: the catalog price over 5 years)")
    p.add_argument("--mtbf-chip-hours", type=plain_number, default=None,
                   help="with --tokens: mean time between job-stopping failures, per chip, in hours (default "
                        "the Llama 3 report's rate: 419 interruptions in 54 days on 16,384 H100, ~50,677)")
    p.add_argument("--restart-min", type=plain_number, default=None, help="with --tokens: minutes a restart takes (default 10)")
    p.add_argument("--checkpoint-write-gbps", type=plain_number, default=None,
                   help="with --tokens: GB/s a checkpoint is written at (default 1,000)")
    p.add_argument("--checkpoint-bytes-per-param", type=plain_number, default=None, dest="checkpoint_bytes_per_param",
                   help="with --tokens: bytes a checkpoint holds per parameter (default 14: bf16 weights, fp32 "
                        "master copy and two Adam moments)")
    p.set_defaults(handler=run, usage_error=p.error)


def lookup(ctx, chip_id: str, model_id: str):
    """Chip and model from the store, or the packaged catalog while the store is absent."""
    try:
        store = ctx.store()
    except ImportError:
        store = None
    if store is not None:
        return store.chip(chip_id), store.model(model_id)
    from engine.catalog import reference_chips, reference_models

    chips, models = reference_chips(), reference_models()
    if chip_id not in chips:
        raise UserError(f"--chip: unknown chip id {chip_id!r} (see `fleetcast chips list`)")
    if model_id not in models:
        raise UserError(f"--model: unknown model id {model_id!r} (see `fleetcast models list`)")
    return chips[chip_id], models[model_id]


def software_settings(args) -> dict:
    """The software settings of `train` as TrainingInputs fields (flags not given: the defaults)."""
    from engine.studies import SOFTWARE_DEFAULTS

    return {k: (getattr(args, k) if getattr(args, k) is not None else default) for k, default in SOFTWARE_DEFAULTS.items()}


def scenario_study(ctx, name: str):
    """The TrainingStudy saved in scenario `name`; the Training view's defaults when it saved none
    (what the window and the report show for it)."""
    from dataclasses import replace

    from engine.commands import saved_view_state
    from engine.errors import UserError
    from engine.studies import TrainingStudy

    store, state = saved_view_state(ctx, name, "training", required=False)
    if store is None:
        raise UserError(f"--scenario {name!r}: no database to read saved scenarios from")
    # "the fleet installed on" a date counts the scenario's own install lag, as its forecast does
    lag = store.scenario(name)["params"].get("install_lag_days")
    study = TrainingStudy.from_dict(state or {})
    return store, study if lag is None else replace(study, install_lag_days=float(lag))


LAYOUT_FLAGS = ("tp", "pp", "dp", "cp", "ep", "vpp", "micro_batch", "zero", "recompute")


def apply_scenario(args, ctx):
    """Fill the flags not given from the scenario's Training study; (chip, model) to use.

    The study's checks (engine.studies) apply to what results: a problem is one line naming the
    scenario, as the Training view shows it at its field."""
    from dataclasses import replace

    from engine.layout import data_parallel

    store, study = scenario_study(ctx, args.scenario)
    changes: dict = {}
    if args.model is not None:
        changes.update(model_id=args.model, custom=None)
    if args.chip is not None:
        changes["chip_id"] = args.chip
    if args.chips is not None:
        changes.update(chips_source="count", num_chips=args.chips)
    if args.tokens is not None:
        changes["tokens_t"] = args.tokens / 1e12
    for flag, key in (("seq_len", "seq_len"), ("global_batch", "global_batch")):
        if getattr(args, flag) is not None:
            changes[key] = getattr(args, flag)
    if args.dtype is not None:   # (fp16 too: a study holds it, as the Training view's Precision does)
        changes["dtype"] = args.dtype
    if args.price is not None:
        changes["price_per_chip_hour"] = args.price
    for key in ("mtbf_chip_hours", "restart_min", "checkpoint_write_gbps", "checkpoint_bytes_per_param"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    # a saved fixed layout with some layout flags given runs that layout with those fields changed
    # (`--recompute full` searched every other field: TP8 PP4 VPP2 came back TP2 PP8 VPP5 CP2, QA
    # s29); --search searches. The study's checks see the fields the flags leave to fill.
    saved_fixed = study.layout_mode == "fixed" and not args.search
    if args.search or any(getattr(args, k) is not None for k in LAYOUT_FLAGS):
        changes["layout_mode"] = "search"  # the flags say which layout (or search) to run
    study = replace(study, **changes)
    chips = {c.id: c for c in store.chips()}
    models = {m.id: m for m in store.models()}
    orders = store.orders()
    if args.model is not None and args.model not in models:
        raise UserError(f"--model: unknown model id {args.model!r} (see `fleetcast models list`)")
    if args.chip is not None and args.chip not in chips:
        raise UserError(f"--chip: unknown chip id {args.chip!r} (see `fleetcast chips list`)")
    problems = study.problems(chips, models, orders)
    if problems:
        from engine.commands import study_problem_error

        raise study_problem_error(args.scenario, "Training study", problems, {
            "num_chips": ("--chips", args.chips), "tokens": ("--tokens", args.tokens),
            "global_batch": ("--global-batch", args.global_batch), "dtype": ("--dtype", args.dtype),
            "model": ("--model", args.model), "chip": ("--chip", args.chip),
            "mtbf": ("--mtbf-chip-hours", args.mtbf_chip_hours), "restart": ("--restart-min", args.restart_min),
            "checkpoint": ("--checkpoint-write-gbps", args.checkpoint_write_gbps),
            "checkpoint_bytes": ("--checkpoint-bytes-per-param", args.checkpoint_bytes_per_param)})
    args.chip, args.chips = study.chip_id, study.chips_used(orders)
    args.tokens = float(study.tokens_t) * 1e12
    args.seq_len, args.global_batch = study.seq_len or None, study.global_batch or None
    args.dtype = study.dtype
    args.price = study.price()
    rel = study.reliability()
    args.mtbf_chip_hours, args.restart_min = rel["mtbf_chip_hours"], rel["restart_min"]
    args.checkpoint_write_gbps, args.checkpoint_bytes_per_param = (rel["checkpoint_write_gbps"],
                                                                   rel["checkpoint_bytes_per_param"])
    for key, value in study.software_settings().items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if study.layout_mode == "fixed" or saved_fixed:
        saved = replace(study, layout_mode="fixed")
        fixed, full = saved.fixed_layout(), saved.full_layout()
        for key, value in fixed.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        if args.dp is None:   # chips / (tp x pp x cp) of the layout run, the flags' fields included
            args.dp = data_parallel(args.chips, {k: getattr(args, k) for k in ("tp", "pp", "cp")})
        if args.zero is None:
            args.zero = int(full["zero"])
        if args.recompute is None:
            args.recompute = str(full["recompute"])
    model = study.model(models)
    args.model = model.id
    return chips[study.chip_id], model


def reliability_text(run: dict) -> str:
    """One line of the failure model's inputs and where the time lost goes (they were in no output)."""
    from engine.reliability import DEFAULT_MTBF_CHIP_HOURS, duration_text, significant

    default = " (Llama 3 rate)" if run["mtbf_chip_hours"] == DEFAULT_MTBF_CHIP_HOURS else ""
    return (f"failures: MTBF {significant(run['mtbf_chip_hours'])} chip-hours per chip{default}, one every "
            f"{duration_text(run['job_mtbf_h'] * 3600.0)} on the job; restart {run['restart_min']:g} min; checkpoint "
            f"{run['checkpoint_bytes_per_param']:g} bytes/param at {run['checkpoint_write_gbps']:,g} GB/s = "
            f"{duration_text(run['checkpoint_write_s'])}, every {duration_text(run['checkpoint_interval_min'] * 60.0)}; "
            f"time lost: restarts {run['lost_to_restarts_pct']:.2g}%, rework {run['lost_to_rework_pct']:.2g}%, "
            f"checkpoints {run['lost_to_checkpoints_pct']:.2g}%")


def chips_words(n: int) -> str:
    """"1 chip", "1,024 chips": the text's count of chips ("on 1 chips" read wrong)."""
    return f"{n:,} chip" + ("" if n == 1 else "s")


def interruptions_text(expected: float, word: str = "interruption") -> str:
    """The run's expected interruptions in words: "about 96 interruptions", or, below one,
    "under 1 interruption (0.27 expected)" (a short run read "about 0 interruptions", as if none
    could happen)."""
    if not expected > 0:
        return f"no {word}s expected"
    if expected < 0.995:   # would round to 1 at two figures: "about 1" then
        return f"under 1 {word} ({expected:.2g} expected)"
    count = round(expected)
    return f"about {count:,} {word}" + ("" if count == 1 else "s")


def energy_text(mwh: float) -> str:
    """"3,261 MWh", or two figures below 10 ("0.012 MWh": a short run read "0 MWh")."""
    return f"{mwh:,.0f} MWh" if mwh >= 10 or mwh <= 0 else f"{mwh:.2g} MWh"


def _figures(res, inputs, mfu_basis: str) -> dict:
    d = res.as_dict()
    d["tokens_per_s"] = res.tokens_per_s_per_chip * inputs.num_chips
    d["mfu_basis"] = mfu_basis   # an fp8 run's mfu_pct is of the 16-bit peak: said beside it
    fp8_peak = fp8_peak_tflops(inputs)
    if fp8_peak and res.feasible:   # and its share of the FP8 peak, as the window's MFU tile gives it (QA s41:
        # "MFU 97.3% of the BF16 peak" alone for a run at 48.6% of the H20's FP8 peak)
        d["mfu_fp8_pct"] = 100.0 * res.model_tflops_per_chip / fp8_peak
    return d


def duration_text(days: float) -> str:
    """"189.1 days", or minutes or seconds under a tenth of a day (1e3 tokens read "0.0 days")."""
    seconds = days * 86400.0
    return (f"{days:,.1f} days" if days >= 0.1 else f"{seconds / 60:,.1f} min" if seconds >= 120
            else f"{seconds:,.1f} s")


def fp8_peak_tflops(inputs) -> float | None:
    """The chip's dense FP8 peak for an FP8 run (None for a 16-bit run or a chip without FP8)."""
    if getattr(inputs, "dtype", "bf16") != "fp8":
        return None
    return getattr(inputs.chip, "fp8_tflops", None) or None


# what each layout's run estimate adds to its JSON entry and CSV row (one list: they differ no more)
RUN_FIGURES = ("time_to_train_days", "cost_usd", "chip_hours", "energy_mwh", "goodput")


# the figures of a run's speed: None in the JSON of a layout the rules rule out (its memory stays)
SPEED_FIGURES = ("step_time_s", "tokens_per_s_per_chip", "tokens_per_s", "mfu_pct", "hfu_pct",
                 "model_tflops_per_chip", "breakdown_s", "limiting")


def _unmatched_rule(args) -> str:
    """Which rule leaves no layout, with the numbers ("8 x 4 x 4 = 128, not 64"). The fields not
    given are free: "dp = 3 = 3, not 64" was said where pp and cp could take the rest, were 3 a
    divisor of 64."""
    given = {k: getattr(args, k) for k in ("tp", "pp", "dp", "cp") if getattr(args, k) is not None}
    product = math.prod(given.values())
    names = " x ".join(given)
    if len(given) == 4 or product > args.chips:
        return f"{names} = {' x '.join(map(str, given.values()))} = {product:,}, not {args.chips:,}"
    if args.chips % product:
        return f"{names} = {product:,} does not divide {chips_words(args.chips)}"
    if len(given) == 3 and args.cp is None:   # what is left for cp is none of the searched ones
        return f"{names} = {product:,} leaves cp {args.chips // product:,} (the search tries 1, 2, 4, 8, 16)"
    return "tp x pp x dp x cp must equal --chips, and tp must divide the heads"


def _fewer_data(fewer, chips: int) -> dict | None:
    """JSON of `fewer_chips_alternative`: the count, the idle chips and its best layout's figures."""
    if not fewer:
        return None
    m, result = fewer
    best = result.best
    return {"chips": m, "idle_chips": chips - m, "tokens_per_s_per_chip": best.tokens_per_s_per_chip,
            "tokens_per_s": best.tokens_per_s_per_chip * m, "layout": layout_label(best.layout)}


def _fewer_text(fewer, chips: int) -> str:
    m, result = fewer
    best = result.best
    return (f"on {m:,} of the {chips:,} chips ({chips - m:,} idle) the best layout, {layout_label(best.layout)}, "
            f"trains at {best.tokens_per_s_per_chip * m:,.0f} tokens/s (--chips {m})")


def plain_usd(usd: float) -> str:
    """$76,143, $6.16M or $1.23B."""
    for scale, unit in ((1e9, "B"), (1e6, "M")):
        if abs(usd) >= scale:
            return f"${usd / scale:,.2f}{unit}"
    return f"${usd:,.0f}"


# what mixed-precision Adam keeps per parameter however far it is sharded: fp32 master weights and
# two moments (12 bytes) plus the gradients (`grad_reduce_bytes`); ZeRO-3 keeps no 16-bit copy
ADAM_STATE_BYTES_PER_PARAM = 12.0


def model_state_shortfall(inputs) -> dict | None:
    """When the model's training state outgrows the HBM of all the chips, so that no layout fits
    (even full ZeRO-3 or TP x PP over every chip): its bytes, the chips' HBM and the fewest
    chips whose HBM holds it (activations need more); None when it fits or HBM is unknown.
    A memory refusal was told "try a chip count with more factors" on 64 chips (QA)."""
    hbm_per_chip = float(inputs.chip.hbm_bytes)
    state_bytes = float(inputs.model.total_params()) * (ADAM_STATE_BYTES_PER_PARAM + float(inputs.grad_reduce_bytes))
    if hbm_per_chip <= 0 or state_bytes <= hbm_per_chip * inputs.num_chips:
        return None
    return {"state_bytes": state_bytes, "hbm_bytes": hbm_per_chip * inputs.num_chips,
            "min_chips": math.ceil(state_bytes / hbm_per_chip)}


def binary_bytes(nbytes: float, decimals: int = 0) -> str:
    """5.9 TiB or 640 GiB (the chips' HBM is counted in binary units), with `decimals` more."""
    if nbytes >= 2 ** 40:
        return f"{nbytes / 2 ** 40:,.{1 + decimals}f} TiB"
    return f"{nbytes / 2 ** 30:,.{decimals}f} GiB"


def shortfall_text(short: dict, num_chips: int) -> str:
    """"weights, gradients and Adam state (5.9 TiB) outgrow the 4.0 TiB of HBM on 64 chips: at least ~95
    chips hold them (more with activations)"; the window and `train` say the same."""
    # as many digits as tell the two apart: "1.0 TiB outgrow the 1.0 TiB" read as a contradiction
    # (1.027 against 1.000 TiB)
    extra = next((d for d in range(4) if binary_bytes(short["state_bytes"], d) != binary_bytes(short["hbm_bytes"], d)),
                 3)
    return (f"weights, gradients and Adam state ({binary_bytes(short['state_bytes'], extra)}) outgrow the "
            f"{binary_bytes(short['hbm_bytes'], extra)} of HBM on {chips_words(num_chips)}: at least "
            f"~{short['min_chips']:,} chips hold them (more with activations)")


def _stage_chips(args, pp) -> int | None:
    """tp x dp x cp of the layouts the flags allow, where --pp fixes it (--chips / --pp)."""
    if pp and args.chips % pp == 0:
        return args.chips // pp
    return None


def _fitting_expert_tps(inputs) -> list[int]:
    """The Expert TP values that pass the ETP rules in some layout the other flags allow (the
    layouts' ep rule included): "use a smaller one" pointed at values that also failed (QA)."""
    from dataclasses import replace

    import numpy as np

    from engine.training import EXPERT_TP_MAX, candidate_arrays

    L = candidate_arrays(replace(inputs, expert_tp=None))
    stage = L["tp"] * L["dp"] * L["cp"]
    ep_ok = (inputs.model.moe_experts % L["ep"] == 0) & (stage % L["ep"] == 0)
    out = []
    for etp in (v for v in range(1, EXPERT_TP_MAX + 1) if v & (v - 1) == 0 or v == inputs.expert_tp):
        if np.any(ep_ok & (L["tp"] % etp == 0) & (stage % (L["ep"] * etp) == 0)):
            out.append(etp)
    return out


def _batch_words(args, inputs) -> str:
    """Why dp x micro-batch fails the default batch, with the numbers: the default rounds to a
    multiple of it at most 1.5x up, beyond which the default stays (not divisible); said as
    "global batch not divisible" where no --global-batch was given (QA)."""
    from engine.training import MAX_BATCH_GROWTH

    tp, pp, cp = args.tp, args.pp, args.cp or 1
    if args.global_batch or not args.micro_batch or not tp or not pp:
        return ""
    dp = args.dp or args.chips // (tp * pp * cp)
    unit = dp * args.micro_batch * (pp if (args.vpp or 1) > 1 else 1)
    default = inputs.batch_seqs()
    if unit <= MAX_BATCH_GROWTH * default:
        return ""
    return (f"dp x micro-batch {dp:,} x {args.micro_batch:,} = {unit:,} exceeds {MAX_BATCH_GROWTH:g}x the default "
            f"batch {default:,}: use a smaller --micro-batch, or --global-batch {unit}")


def _pinned_batch_fix(args) -> tuple[str, dict] | None:
    """(words, the inputs that release it) where --global-batch is no multiple of a dp the flags pin
    (--dp, or --tp, --pp and --cp together) times the smallest micro-batch they allow: every layout
    fails the batch rule, and a chip count with more factors was the advice (QA). None otherwise, or
    where the micro-batch alone fails it (engine.studies.no_fit_blocker says that)."""
    gb, mb = args.global_batch, args.micro_batch or 1
    group = (args.tp or 0) * (args.pp or 0) * (args.cp or 0)
    dp = args.dp or (args.chips // group if group and args.chips % group == 0 else None)
    if not gb or not dp or gb % mb or gb % (dp * mb) == 0:
        return None
    step = dp * mb
    below, above = gb // step * step, (gb // step + 1) * step
    near = f"{above:,}" if below == 0 else f"{below:,} or {above:,}"
    return (f"--global-batch {gb:,} is not a multiple of dp {dp:,} x micro-batch {mb:,} = {step:,}; e.g. {near}",
            {"global_batch_seqs": below or above})


def _flag_fixes(args, inputs, reasons: set) -> list[tuple[str, dict]]:
    """The flags given that rule out every layout, each with its fix and the inputs that release
    it, for the search's reasons that they cause ("--ep 16: Mixtral has 8 experts" was told to
    try a chip count)."""
    from engine.layout import Infeasible
    from engine.training import max_vpp

    model, fixes = inputs.model, []
    tp, pp, vpp, cp, ep = args.tp, args.pp, args.vpp, args.cp, args.ep
    free_dp = {"dp": None} if args.dp is not None else {}   # a pinned dp moves with the field released
    if Infeasible.SCHEDULE.text in reasons and inputs.schedule != "1f1b":
        if vpp is not None and vpp > 1:
            fixes.append((f"--schedule {inputs.schedule} runs one chunk per stage: drop --vpp {vpp} "
                          "(or use --schedule 1f1b)", {"vpp": None}))
        elif inputs.schedule == "dualpipe" and pp is not None and pp % 2:
            fixes.append((schedule_rule("dualpipe", {"pp": pp}, FLAG_NAMES), {"pp": None, **free_dp}))
    if Infeasible.INTERLEAVE.text in reasons and vpp is not None and vpp > 1 and pp and args.global_batch:
        # the interleaving rule (12 micro-batches on pp 8): a chip count is no fix for it
        dp_mb = (args.dp or 1) * (args.micro_batch or 1)
        if args.global_batch % dp_mb == 0 and (args.global_batch // dp_mb) % pp:
            fixes.append((f"--vpp {vpp} interleaves: its micro-batches (--global-batch {args.global_batch} / "
                          f"{dp_mb}) must be a multiple of --pp {pp}; e.g. --global-batch "
                          f"{math.ceil(args.global_batch / (dp_mb * pp)) * dp_mb * pp}, or drop --vpp", {"vpp": None}))
    if Infeasible.BATCH.text in reasons:
        words = _batch_words(args, inputs)
        if words:
            fixes.append((words, {"micro_batch": None}))
    if Infeasible.VPP.text in reasons and vpp is not None and vpp > 1:
        if pp == 1:
            fixes.append((f"--vpp {vpp} interleaves pipeline stages: give --pp 2 or more, or drop --vpp",
                          {"vpp": None}))
        elif pp is not None and 1 < pp <= model.layers and max_vpp(model.layers, pp) < vpp:
            # every chunk of every stage holds a whole layer: the fullest stage alone (ceil(layers /
            # pp)) let PP 33 x VPP 4 over 126 layers through, its end stages one layer each
            fixes.append((f"--vpp {vpp} needs a layer in every chunk of every stage; --pp {pp} over "
                          f"{model.layers} layers allows --vpp {max_vpp(model.layers, pp)} at most", {"vpp": None}))
        elif pp is None and math.ceil(model.layers / 2) < vpp:
            fixes.append((f"--vpp {vpp}: {model.layers} layers are too few for {vpp} chunks per stage",
                          {"vpp": None}))
    # (the rules and their words are the engine's, engine.studies: the Training view says the same)
    if Infeasible.TP_HEADS.text in reasons and tp is not None and tp_heads_rule(model, tp, FLAG_NAMES):
        fixes.append((tp_heads_rule(model, tp, FLAG_NAMES), {"tp": None, **free_dp}))
    if Infeasible.PP_LAYERS.text in reasons and pp is not None and pp_layers_rule(model, pp, FLAG_NAMES):
        fixes.append((pp_layers_rule(model, pp, FLAG_NAMES), {"pp": None, **free_dp}))
    if Infeasible.CP_SEQUENCE.text in reasons and cp is not None and cp_sequence_rule(inputs.seq, cp, FLAG_NAMES):
        fixes.append((cp_sequence_rule(inputs.seq, cp, FLAG_NAMES), {"cp": None, **free_dp}))
    if Infeasible.EP.text in reasons and ep is not None and model.is_moe:
        per_stage = _stage_chips(args, pp) or args.chips   # tp x dp x cp
        if ep_experts_rule(model, ep, FLAG_NAMES):
            fixes.append((ep_experts_rule(model, ep, FLAG_NAMES), {"ep": None}))
        elif per_stage % ep:
            fixes.append((f"--ep {ep} does not divide --chips / --pp = {per_stage:,}" if pp else
                          f"--ep {ep} does not divide --chips {args.chips:,}", {"ep": None}))
    if Infeasible.EXPERT_TP.text in reasons and inputs.expert_tp and model.is_moe:
        etp = inputs.expert_tp
        per_stage = _stage_chips(args, pp)
        if tp is not None and tp % etp:
            words = f"--expert-tp {etp} does not divide --tp {tp}"
        elif ep is not None and per_stage and per_stage % (ep * etp):
            words = f"ep {ep} x etp {etp} = {ep * etp:,} does not divide tp x dp x cp = {per_stage:,}"
        else:
            words = f"--expert-tp {etp}: it must divide tp, and ep x {etp} divide tp x dp x cp"
        if tp is not None and ep is not None and per_stage:   # one layout: the ETP it would derive
            words += f"; derived ETP would be {math.gcd(tp, max(per_stage // ep, 1))} (drop --expert-tp)"
        else:
            fitting = [v for v in _fitting_expert_tps(inputs) if v != etp]
            listed = f"{', '.join(map(str, fitting[:-1]))} or {fitting[-1]}" if len(fitting) > 1 else "".join(map(str, fitting))
            words += (f"; use --expert-tp {listed}, or drop it to derive it" if fitting else
                      "; drop --expert-tp to derive it")
        fixes.append((words, {"expert_tp": None}))
    return fixes


def _fits(inputs, changes: dict):
    """The best layout of a search with `changes` to the inputs (None: nothing fits)."""
    from dataclasses import replace

    from engine.training import search_layouts

    return search_layouts(replace(inputs, **changes), top_k=1).best


# the memory settings a user may pin, as (flag, TrainingInputs field, layout key, pinned-and-costly test)
MEMORY_LEVERS = (("--zero", "zero_stage", "zero_stage", lambda a: a.zero is not None and a.zero < 3),
                 ("--recompute", "recompute", "recompute", lambda a: a.recompute not in (None, "full")),
                 ("--micro-batch", "micro_batch", "micro_batch", lambda a: (a.micro_batch or 1) > 1))


def _fewest_lever_changes(args, inputs):
    """(the pinned memory flags' new values, the layout) of the fewest of them that, released,
    let a layout fit; the others stay as given (QA: "--zero 3 --micro-batch 2" was told where
    --zero 3 alone fits at --micro-batch 1). None when releasing them all does not help."""
    from itertools import combinations

    pinned = [lever for lever in MEMORY_LEVERS if lever[3](args)]
    for size in range(1, len(pinned) + 1):
        for levers in combinations(pinned, size):
            best = _fits(inputs, {field: None for _, field, _, _ in levers})
            if best is not None:
                given = {"zero_stage": args.zero, "recompute": args.recompute, "micro_batch": args.micro_batch}
                changed = [f"{flag} {best.layout[key]}" for flag, field, key, _ in levers
                           if best.layout[key] != given[field]]
                return changed, best
    return None


# at most this many larger counts are searched for one that fits, each a whole search
MORE_CHIPS_TRIES = 8


def _more_chips_that_fit(args, inputs):
    """(count, its best layout) for the fewest chips above --chips, in steps of about an eighth of
    it (a multiple of 8), up to twice it, whose layouts fit; None when none does. A pinned dp is
    released (it fixes the count)."""
    n = args.chips
    step = 8 * max(1, round(n / 64))
    short = model_state_shortfall(inputs)
    low = max(n + 1, short["min_chips"] if short else 0)
    for k in range(1, MORE_CHIPS_TRIES + 1):
        m = (n // step + k) * step
        if m < low:
            continue
        if m > 2 * n:
            break
        best = _fits(inputs, {"num_chips": m, "dp": None})
        if best is not None:
            return m, best
    return None


def _no_layout_hint(args, inputs, result, fewer) -> str:
    """What to change when no layout runs, from the search's reasons. Each layout counts under the
    first rule it fails, memory last: where some are out of memory, those are the layouts that pass
    every other rule, so memory is what stops the run, whatever else the count rules out (128
    chips were told "try a chip count with more factors"). A flag's fix is given where it rules out
    every layout, or where releasing it lets one fit; then fewer chips, memory, and last the chip
    count's factors."""
    from engine.layout import Infeasible

    reasons = set(result.infeasible_by_reason)
    out_of_memory = "out of memory" in reasons
    fixes = _flag_fixes(args, inputs, reasons)
    # (not among _flag_fixes: a fixed layout's own line already says it, engine.studies.infeasible_detail)
    pinned = _pinned_batch_fix(args) if Infeasible.BATCH.text in reasons else None
    if pinned:
        fixes.append(pinned)
    if out_of_memory:   # some layouts pass the flags' rules: a flag is to blame only if releasing it helps
        fixes = [(text, release) for text, release in fixes if _fits(inputs, release) is not None]
    texts = [text for text, _ in fixes]
    blocker = no_fit_blocker(inputs)
    if blocker:   # the batch given rules out every layout on any chip count (engine.studies)
        return "; " + "; ".join([blocker, *texts])
    short = model_state_shortfall(inputs) if out_of_memory else None
    if short:   # no count's factors or pinned memory setting can help: chips first, then the flags' own fixes
        return "; " + "; ".join([f"more chips are needed: {shortfall_text(short, args.chips)}", *texts])
    if texts:
        return "; " + "; ".join(texts)
    if fewer:
        return f"; {_fewer_text(fewer, args.chips)}"
    if not out_of_memory or args.chips % 8:   # the chip count factors badly for this model
        multiple = " (a multiple of 8)" if args.chips % 8 else ""
        return f"; try a chip count with more factors{multiple} or another --global-batch"
    # memory settings the user pinned (the search tries the others itself)
    levers = [f"{flag} {'3' if flag == '--zero' else 'full' if flag == '--recompute' else '1'}"
              for flag, _, _, pinned in MEMORY_LEVERS if pinned(args)]
    kept = _fewest_lever_changes(args, inputs) if levers else None
    fixed = [f"--{k} {getattr(args, k)}" for k in ("tp", "pp", "cp", "dp") if getattr(args, k) is not None]
    if any(getattr(args, k) is not None for k in ("tp", "pp", "cp")):   # not "more chips": the layout given
        free = _fits(inputs, {"tp": None, "pp": None, "cp": None, "dp": None})
        ways = []
        if kept is not None and kept[0]:   # the pinned memory settings that change
            ways.append(f"keep it with {' '.join(kept[0])}")
        if free is not None:
            ways.append(f"drop {' '.join(f.split()[0] for f in fixed)} to search ({layout_label(free.layout)} fits)")
        if ways:
            return f"; the fixed {' '.join(fixed)} does not fit in memory: {', or '.join(ways)}"
    elif kept is not None and kept[0]:
        return (f"; every layout runs out of memory with the settings given: {' '.join(kept[0])} fits "
                f"({layout_label(kept[1].layout)})")
    more = _more_chips_that_fit(args, inputs)
    if more is not None:
        m, best = more
        return (f"; more chips are needed: the {result.infeasible_by_reason['out of memory']:,} layouts that pass "
                f"the other rules run out of memory; {m:,} chips fit ({layout_label(best.layout)}, --chips {m})")
    return f"; more chips are needed (or less memory per chip: {', '.join(levers + ['--dtype', '--seq-len'])})"


# the run's flags with the values they allow: (dest, low, high, low allowed); checked as typed,
# before a scenario's study takes them (there 0 MTBF means the Llama 3 rate, and a bad value was
# told as the scenario's)
RUN_FLAG_RANGES = (("mtbf_chip_hours", 0.0, 1e9, False), ("restart_min", 0.0, 10_000.0, True),
                   ("checkpoint_write_gbps", 0.001, 1e7, True), ("checkpoint_bytes_per_param", 0.0, 1000.0, False))


# What `--attention-kernel` stands for on a chip, by its calibration target (the packaged factors' scopes):
# (id prefixes, the portable kernel class, the native one). The portable class's share of the dense
# peak is the chip's train_attn_path_rel; the native one issues the whole peak. Where both run the
# chip's own matrix instructions (A100 and Ada: FA2's mma.sync is theirs) native is None.
ATTENTION_CLASSES = (
    (("h100", "h800", "h20", "h200", "gh200"), "FlashAttention-2 class (Ampere-style mma.sync, no wgmma or TMA)",
     "FlashAttention-3 / cuDNN (wgmma + TMA)"),
    (("b200", "gb200"), "FlashAttention-2 class (Ampere-style mma.sync, no tcgen05 or tensor memory)",
     "cuDNN / FlashAttention-4 (tcgen05 + tensor memory)"),
    (("a100", "a800", "l20", "l40s"), "FlashAttention-2 (mma.sync, the chip's own tensor-core path)", None),
    (("v100",), "memory-efficient fused attention (xformers / CUTLASS on Volta's mma; FlashAttention-2 needs Ampere)",
     None),
)
# other vendors' fused attention on their own matrix units; their path share is the family's documented
# train_attn_path_rel (0.5: no public source puts them at FlashAttention-2's A100 share of the peak;
# engine/calibration.py OTHER_VENDOR_FAMILIES)
VENDOR_ATTENTION = {"AMD": "CK / Triton FlashAttention on the MFMA units",
                    "Huawei": "CANN's fused FlashAttention operator on the cube units",
                    "Intel": "Gaudi's fused scaled-dot-product attention on the MME",
                    "Google": "Pallas / XLA flash attention on the MXUs"}


def attention_kernel_note(inp) -> str:
    """The attention kernel class the run is priced with on its chip, in one line: which kernels
    `attention_kernel` stands for there and the share of the dense 16-bit peak they issue."""
    import numpy as np

    chip = inp.chip
    name = str(chip.name).split(" (")[0]
    if not inp.flash_attention:
        return ("attention kernels: unfused (flash attention off): the score matrix as batched GEMMs at the GEMM "
                "efficiency, plus the softmax passes over HBM")
    from engine.catalog import calibration_target

    target = calibration_target(chip).lower()
    portable, native = next(((p, n) for prefixes, p, n in ATTENTION_CLASSES if target.startswith(prefixes)),
                            (VENDOR_ATTENTION.get(chip.vendor, "the vendor's fused (flash) attention on its matrix "
                                                               "units"), None))
    share = float(np.asarray(inp.factor("train_attn_path_rel"), dtype=float).reshape(-1)[0])
    peak = f"{chip.peak_tflops('bf16') or 0.0:,.0f} TFLOP/s dense 16-bit peak"
    if share >= 1.0:
        return (f"attention kernels: {native or portable}, whose instructions issue {name}'s whole {peak} "
                "(--attention-kernel portable and native are the same on this chip)")
    # a vendor's own kernels below the whole peak: named, with the documented share (MI300X's read "portable
    # kernels" as if an NVIDIA port ran there)
    portable = portable if native else f"{portable} (train_attn_path_rel {share:g})"
    native = native or "kernels reaching FlashAttention-2's A100 share of the peak (none published for this chip)"
    if inp.attention_kernel == "native":
        return (f"attention kernels: native, {native}, whose instructions issue {name}'s whole {peak}; "
                f"--attention-kernel portable: {portable}, {share:g} of it")
    return (f"attention kernels: portable, {portable}, whose instructions issue {share:g} of {name}'s {peak}; "
            f"--attention-kernel native: {native}, the whole peak")


def _infeasible_words(best, inputs=None) -> str:
    """Why `best` cannot run, with its numbers (engine.studies.infeasible_detail)."""
    return infeasible_detail(best) if inputs is None else infeasible_detail(best, inputs, FLAG_NAMES)


def check_run_flags(args) -> None:
    """Refuse a bad price or reliability flag, naming the flag and its value (nan and inf too)."""
    if args.price is not None and not (0 < args.price < 1e6):
        # 0 is the window's "list price" (its field's special value) and priced the run at $0 here
        raise UserError(f"--price-per-chip-hour: {args.price:g} (must be above 0 and below 1,000,000 USD; leave it "
                        "out for the list price over 5 years)")
    for dest, low, high, low_allowed in RUN_FLAG_RANGES:
        v = getattr(args, dest, None)
        if v is not None and not ((low <= v if low_allowed else low < v) and v <= high):
            raise UserError(f"--{dest.replace('_', '-')}: {v:g} (must be {'' if low_allowed else 'more than '}"
                            f"{low:g} to {high:,.0f})")


def run(args, ctx) -> Output:
    from engine.calibration import saved_calibrations
    from engine.commands import optional_store
    from engine.training import (NoProgressError, TrainingInputs, estimate_run, evaluate_layout,
                                 fewer_chips_alternative, halved_searches, search_layouts, sooner_on_fewer)

    typed_moe = [f for f, v in (("--moe-route-nodes", args.moe_route_nodes),   # typed, not a study's
                                ("--expert-tp", args.expert_tp),
                                ("--fp8-dispatch/--no-fp8-dispatch", args.fp8_dispatch)) if v is not None]
    check_run_flags(args)
    study_chip_model = apply_scenario(args, ctx) if args.scenario else None
    missing = [flag for flag, value in (("--model", args.model), ("--chip", args.chip), ("--chips", args.chips))
               if value is None]
    if missing and getattr(args, "usage_error", None) is not None:
        args.usage_error(f"the following arguments are required: {', '.join(missing)} (or --scenario NAME)")
    from engine.training import MAX_CHIPS

    if args.chips is None or not 1 <= args.chips <= MAX_CHIPS:   # the flag named, not the engine's field
        raise UserError(f"--chips: {args.chips} (must be a whole number of chips, 1 to {MAX_CHIPS:,})")
    for name in ("tp", "pp", "vpp", "dp", "cp", "ep", "micro_batch", "global_batch", "seq_len", "top",
                 "moe_route_nodes", "expert_tp"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UserError(f"--{name.replace('_', '-')}: {value} (must be a positive integer)")
    from engine.layout import DIMENSIONS, Infeasible, reason_words

    for d in DIMENSIONS:
        problem = d.check(getattr(args, d.key))
        if problem:
            raise UserError(problem)
    from engine.training import EXPERT_TP_MAX

    if args.expert_tp is not None and args.expert_tp > EXPERT_TP_MAX:
        raise UserError(f"--expert-tp: {args.expert_tp} (must be a whole number from 1 to {EXPERT_TP_MAX} ways; it "
                        "divides --tp)")
    if args.tokens is not None and not (0 < args.tokens <= 1e18):  # also refuses nan and inf
        raise UserError(f"--tokens: {args.tokens:g} (must be a positive number of tokens, at most 1e18)")
    if args.tokens is not None and args.tokens < 2 ** 53 and args.tokens != math.floor(args.tokens):
        raise UserError(f"--tokens: {args.tokens!r} (must be a whole number of tokens, e.g. 15e12)")
    if not args.tokens:   # they shape the time to train only: given alone they changed nothing, silently
        alone = [flag for f, flag in (("mtbf_chip_hours", "--mtbf-chip-hours"), ("restart_min", "--restart-min"),
                                      ("checkpoint_write_gbps", "--checkpoint-write-gbps"),
                                      ("checkpoint_bytes_per_param", "--checkpoint-bytes-per-param"),
                                      ("price", "--price-per-chip-hour")) if getattr(args, f) is not None]
        if alone:
            raise UserError(f"{', '.join(alone)}: used for the time and cost to train, which need --tokens "
                            "(e.g. --tokens 15e12)")
    chip, model = study_chip_model or lookup(ctx, args.chip, args.model)
    if args.ep is not None and args.ep > 1 and not model.is_moe:
        raise UserError(f"--ep {args.ep}: {model.id} has no experts (a dense model runs at --ep 1)")
    if typed_moe and not model.is_moe:   # accepted and ignored, where --ep is refused
        what = ("there is no MoE dispatch to set" if set(typed_moe) - {"--expert-tp"} else
                "there are no expert weights to split over chips")
        raise UserError(f"{', '.join(typed_moe)}: {model.id} has no experts, so {what}")
    dtype = "bf16" if args.dtype in ("fp16", None) else args.dtype
    if args.dp is None and not args.search and None not in (args.tp, args.pp, args.cp) \
            and args.chips % (args.tp * args.pp * args.cp) == 0:
        # every other layout field given: dp is what the chips leave, so the layout is evaluated
        # as given (a search of its one layout hid the memory figures of an out-of-memory run)
        args.dp = args.chips // (args.tp * args.pp * args.cp)
    inputs = TrainingInputs(
        model=model, chip=chip, num_chips=args.chips, seq_len=args.seq_len, global_batch_seqs=args.global_batch,
        dtype=dtype, tp=args.tp, pp=args.pp, vpp=args.vpp, dp=args.dp, cp=args.cp, ep=args.ep,
        zero_stage=args.zero, micro_batch=args.micro_batch, recompute=args.recompute,
        **software_settings(args),
    )
    layout_given = all(v is not None for v in (args.tp, args.pp, args.dp, args.micro_batch, args.recompute, args.zero))
    # The engine prices 16-bit work at the chip's one 16-bit rate; what is reported is the format
    # the chip runs: a V100 has no BF16 matrix units, and "dtype": "bf16" on it read as a BF16 run.
    asked16 = args.dtype or "bf16"
    own, other = (chip.bf16_tflops, chip.fp16_tflops) if asked16 == "bf16" else (chip.fp16_tflops, chip.bf16_tflops)
    ran16 = asked16 if own or not other else ("fp16" if asked16 == "bf16" else "bf16")
    software = software_settings(args)
    if not model.is_moe:   # a scenario's saved Expert TP does not apply to a dense model (--expert-tp refuses it)
        software["expert_tp"] = None
    base = {"model": model.id, "chip": chip.id, "num_chips": args.chips, "seq_len": inputs.seq,
            # the batch the answer's layout runs (below); the default before rounding beside it
            "global_batch_seqs": inputs.batch_seqs(), "default_global_batch_seqs": inputs.batch_seqs(),
            "dtype": ran16 if dtype == "bf16" else dtype,
            "software": software,
            # the attention kernel class the figures assume on this chip, and the share of its peak
            # (--attention-kernel portable and native were the same on B200 with nothing said)
            "attention_note": attention_kernel_note(inputs),
            # training factors a `calibrate --save` stored for this chip: the figures rest on the user's runs
            "calibrated": saved_calibrations(optional_store(ctx), [chip], ("training",))}
    if getattr(model, "context_len", None) and inputs.seq > model.context_len:
        # serve refuses a request beyond the window; training may extend it on purpose: said, not refused
        base["context_note"] = (f"sequences of {inputs.seq:,} tokens are beyond {model.name}'s context window of "
                                f"{model.context_len:,} (the preset's context_len): a context-extension run")
    # MFU and HFU count against the chip's dense 16-bit peak whatever the GEMMs run in (an fp8 run's
    # table said "of the BF16 peak"; its JSON and CSV did not)
    from engine.layout import sixteen_bit_format

    peak_format = ran16 if dtype == "bf16" else sixteen_bit_format(chip)
    mfu_basis = f"{peak_format} dense peak"
    if dtype == "bf16" and ran16 != asked16:
        base["dtype_note"] = (f"{chip.name} has no {asked16.upper()} matrix units: 16-bit training runs in "
                              f"{ran16.upper()} at its {chip.peak_tflops(ran16):g} TFLOP/s")
    fewer = None   # (chips, search) when leaving a few idle trains faster (search only)
    halved: tuple = ()   # the best layouts on fewer chips with the global batch fixed (search only)
    reliability: dict = {}

    def days_at(m: int, tok: float) -> float | None:
        """Days to train args.tokens on `m` chips at `tok` tokens/s per chip (None: no progress)."""
        try:
            return estimate_run(args.tokens, tok, m, chip, params=float(model.total_params()),
                                price_per_chip_hour_usd=args.price, **reliability).time_to_train_days
        except NoProgressError:
            return None

    from engine.layout import dtype_problem

    problem = dtype_problem(dtype, chip)
    if problem:  # it rules out every layout, a fixed one too: said so ("fp8 not supported by chip" was)
        raise UserError(f"--dtype {dtype}: {problem}")
    if args.search or not layout_given:
        result = search_layouts(inputs, top_k=args.top)
        # a count that factors badly: the same chips with a few left idle may train much faster
        fewer = fewer_chips_alternative(inputs, result.best.tokens_per_s_per_chip if result.best else 0.0)
        if args.tokens and result.best is not None:
            halved = halved_searches(inputs)
        if result.best is None:
            if not result.layouts_evaluated:
                given = ", ".join(f"--{k} {v}" for k, v in (("tp", args.tp), ("pp", args.pp), ("dp", args.dp),
                                                          ("cp", args.cp), ("ep", args.ep)) if v is not None)
                raise UserError(f"no layout of {chips_words(args.chips)} matches {given or 'the flags given'}: "
                                f"{_unmatched_rule(args)}")
            reasons = "; ".join(f"{v:,} layout{'' if v == 1 else 's'}: {reason_words(k, inputs.schedule)}"
                                for k, v in result.infeasible_by_reason.items())
            hint = _no_layout_hint(args, inputs, result, fewer)
            short = model_state_shortfall(inputs) if "out of memory" in result.infeasible_by_reason else None
            # --format json still gets the counts by reason (it printed nothing)
            raise InfeasibleRequest(f"no feasible layout for {model.id} on {args.chips:,} x {chip.id} of "
                                    f"{result.layouts_evaluated:,} evaluated ({reasons}){hint}",
                                    data={**base, "feasible": False, "layouts_evaluated": result.layouts_evaluated,
                                          "layouts_feasible": 0,
                                          "infeasible_by_reason": dict(result.infeasible_by_reason),
                                          "fewer_chips": _fewer_data(fewer, args.chips),
                                          # the fewest chips whose HBM holds the training state (None: it fits)
                                          "min_chips_for_model_state": (short or {}).get("min_chips")})
        best = result.best
        data = dict(base)
        data.update(_figures(best, inputs, mfu_basis))
        data.update(layouts_evaluated=result.layouts_evaluated, layouts_feasible=result.layouts_feasible,
                    search_seconds=result.search_seconds, infeasible_by_reason=result.infeasible_by_reason,
                    top=[_figures(r, inputs, mfu_basis) for r in result.top],
                    fewer_chips=_fewer_data(fewer, args.chips))
    else:
        if args.tp * args.pp * args.dp * (args.cp or 1) != args.chips:
            raise UserError(f"--tp x --pp x --dp x --cp = {args.tp * args.pp * args.dp * (args.cp or 1)} "
                            f"does not equal --chips {args.chips}")
        best = evaluate_layout(inputs)
        data = dict(base)
        data.update(_figures(best, inputs, mfu_basis))
        if not best.feasible:  # the contract: an infeasible request exits 1 with the reason (JSON still printed)
            # the rule (the search's key, kept for scripts) and the flag at fault with its numbers,
            # in the engine's words (engine.studies.reason_numbers; the view says the same): "ep does
            # not divide experts or tp x dp x cp" named neither EP nor the values. The schedule's key
            # lists every rule of it, VPP 1 too where VPP was 1: the broken one alone is said.
            numbers = _infeasible_words(best, inputs)
            parts = [] if best.reason in ("out of memory", Infeasible.SCHEDULE.text, Infeasible.BATCH.text,
                                          Infeasible.INTERLEAVE.text) \
                else [reason_words(best.reason, inputs.schedule)]
            for text in [numbers, *(text for text, _ in _flag_fixes(args, inputs, {best.reason}))]:
                if text not in parts:
                    parts.append(text)
            data["infeasible_reason"] = "; ".join(parts)
            # the batch this layout ran with; no speed for a layout the rules rule out (the window
            # blanks it; the JSON gave 820 tokens/s and MFU 37.2% for a TP that splits no heads).
            # Out of memory, the figures stay, flagged: the speed it would run at with the memory
            # (scripts compare them, tests/test_cli_train.py)
            data["global_batch_seqs"] = int(best.layout.get("global_batch_seqs") or data["global_batch_seqs"])
            if best.reason == "out of memory":
                data["figures_note"] = "out of memory: the speed figures are what it would run at if it fit"
            else:
                data.update({key: None for key in SPEED_FIGURES})
                # the notes on speed ("exposed TP communication takes 7% of the step") describe a
                # run that cannot happen: dropped, as the window drops them
                data["explanations"] = [e for e in data.get("explanations", ()) if "of the step" not in e]
            layout = " x ".join(f"{('etp' if k == 'expert_tp' else k).upper()}{best.layout[k]}" for k in
                                ("tp", "pp", "vpp", "dp", "cp", "ep", "expert_tp") if best.layout.get(k) is not None
                                and (model.is_moe or k != "ep"))
            raise InfeasibleRequest(f"layout {layout} for {model.id} on {args.chips:,} x {chip.id} is infeasible: "
                                    f"{data['infeasible_reason']}", data=data)
    if best is not None and best.layout.get("global_batch_seqs"):
        data["global_batch_seqs"] = int(best.layout["global_batch_seqs"])   # the view's, and the top list's
    if args.tokens:
        reliability = {k: v for k, v in (("mtbf_chip_hours", args.mtbf_chip_hours), ("restart_min", args.restart_min),
                                         ("checkpoint_write_gbps", args.checkpoint_write_gbps),
                                         ("checkpoint_bytes_per_param", getattr(args, "checkpoint_bytes_per_param", None)))
                       if v is not None}
        try:
            run_est = estimate_run(args.tokens, best.tokens_per_s_per_chip, args.chips, chip,
                                   params=float(model.total_params()), price_per_chip_hour_usd=args.price,
                                   **reliability)
        except NoProgressError as exc:
            # the layout's figures stand; the run has no end: JSON and CSV still get them (README)
            why = str(exc)
            sooner = sooner_on_fewer(halved, days_at, math.inf) if halved else None
            if sooner is not None:   # where the note is most use (QA s36): which fewer count does finish
                from engine.studies import finishing_count_text

                why += f"; {finishing_count_text(sooner, int(inputs.global_batch_seqs or 0))} (--chips {sooner[0]})"
            data.update(feasible=False, time_to_train_days=None, run=None, infeasible_reason=why)
            raise InfeasibleRequest(why, data=data) from None
        data["time_to_train_days"] = run_est.time_to_train_days
        data["run"] = run_est.as_dict()
    rows = []
    for r in ([best] if "top" not in data else result.top):
        # (new columns go after the old ones: scripts read these rows by name, some by position)
        lay = {k: v for k, v in r.layout.items() if k != "expert_tp"}   # MoE's ETP: a new column, at the end
        row = {**lay, "tokens_per_s_per_chip": r.tokens_per_s_per_chip, "step_time_s": r.step_time_s,
               "mfu_pct": r.mfu_pct, "memory_gib_per_chip": r.memory_gib_per_chip,
               "memory_gb_per_chip": r.memory_gib_per_chip * GB_PER_GIB, "limiting": r.limiting,
               "feasible": r.feasible, "hfu_pct": r.hfu_pct, "mfu_basis": mfu_basis, "dtype": data["dtype"],
               **{f"breakdown_{term}_s": seconds for term, seconds in r.breakdown_s.items()}}
        if args.tokens and r.feasible and r.tokens_per_s_per_chip > 0:
            # the CSV carried the layouts only: the days to train, asked for with --tokens, were
            # in the table and JSON output alone (and the cost in JSON alone)
            est = run_est if r is best else estimate_run(
                args.tokens, r.tokens_per_s_per_chip, args.chips, chip, params=float(model.total_params()),
                price_per_chip_hour_usd=args.price, **reliability)
            row.update({key: getattr(est, key) for key in RUN_FIGURES})
        if "expert_tp" in r.layout:
            row["expert_tp"] = r.layout["expert_tp"]
        rows.append(row)
    if "top" in data and args.tokens:   # each listed layout's run figures, as the CSV rows carry them
        for entry, row in zip(data["top"], rows):
            entry.update({key: row[key] for key in RUN_FIGURES if key in row})
    peak_named = dtype == "fp8" or "dtype_note" in data   # a peak not of the format asked for: named
    fp8_peak = fp8_peak_tflops(inputs)
    of_fp8 = f" ({100.0 * best.model_tflops_per_chip / fp8_peak:.1f}% of the FP8 peak)" if fp8_peak else ""
    text_lines = [f"{model.name} on {args.chips:,} x {chip.name}: {best.tokens_per_s_per_chip:,.0f} tokens/s per chip, "
                  f"MFU {best.mfu_pct:.1f}%{f' of the {peak_format.upper()} peak' if peak_named else ''}{of_fp8}, "
                  f"step {best.step_time_s:.2f} s, {best.memory_gib_per_chip:.1f} GiB per chip"]
    if "top" in data:
        text_lines.append(f"searched {data['layouts_evaluated']:,} layouts ({data['layouts_feasible']:,} feasible) "
                          f"in {data['search_seconds']:.2f} s")
    if "time_to_train_days" in data:
        days = data["time_to_train_days"]   # (1e3 tokens read "0.0 days"; 99.86% goodput "100%")
        days_text = duration_text(days)
        good = 100 * data["run"]["goodput"]
        text_lines.append(f"time to train {args.tokens:.3g} tokens: {days_text} "
                          f"(goodput {good:.2f}%)" if good >= 99.9 else
                          f"time to train {args.tokens:.3g} tokens: {days_text} (goodput {good:.1f}%)")
        from engine.studies import under_one_step_note

        step_note = under_one_step_note(args.tokens, best, inputs.seq)
        if step_note:
            text_lines.append(f"note: {step_note}")
        # the run's cost, chip-hours, energy and failures were in JSON alone: --price-per-chip-hour
        # changed nothing a table or CSV reader saw
        run = data["run"]
        cost = ("no cost" if run["cost_usd"] is None else f"cost {plain_usd(run['cost_usd'])}")
        text_lines.append(f"{cost} ({run['cost_basis']}); {run['chip_hours']:,.0f} chip-hours, "
                          f"{energy_text(run['energy_mwh'])}, {interruptions_text(run['expected_interruptions'])}")
        # the power behind the MWh, beside the cost's basis: a chip without a TDP is counted at an
        # assumed 700 W, which the figure alone hid
        text_lines.append(f"energy basis: {run['energy_basis']}")
        text_lines.append(reliability_text(run))
    if zero_note(best.layout):   # ZeRO-2/3 with nothing to shard over (it looked like a memory saving)
        data["zero_note"] = zero_note(best.layout)
    for key in ("dtype_note", "context_note", "zero_note", "attention_note"):
        if key in data:
            text_lines.append(f"note: {data[key]}")
    from engine.calibration import saved_calibration_text

    text_lines += [f"note: {saved_calibration_text(entry)}" for entry in data["calibrated"]]
    if data.get("fewer_chips"):
        more = ""
        if args.tokens and fewer and fewer[1].best is not None:
            try:
                days = estimate_run(args.tokens, fewer[1].best.tokens_per_s_per_chip, fewer[0], chip,
                                    params=float(model.total_params()), price_per_chip_hour_usd=args.price,
                                    **reliability).time_to_train_days
                data["fewer_chips"]["time_to_train_days"] = days
                more = f": {duration_text(days)}"   # (1e3 tokens: "0.0 days" here too)
            except NoProgressError:
                pass
        text_lines.append(f"note: leaving some of the {args.chips:,} chips idle trains faster; {_fewer_text(fewer, args.chips)}{more}")
    if halved and data.get("time_to_train_days"):
        from engine.studies import sooner_on_fewer_text

        sooner = sooner_on_fewer(halved, days_at, data["time_to_train_days"])
        if sooner is not None:
            m, tok, sooner_layout, days = sooner
            data["sooner_on_fewer_chips"] = {"chips": m, "tokens_per_s_per_chip": tok, "tokens_per_s": tok * m,
                                             "layout": layout_label(sooner_layout), "time_to_train_days": days}
            words = sooner_on_fewer_text(sooner, args.chips, int(inputs.global_batch_seqs or 0), data["time_to_train_days"],
                                         best.tokens_per_s_per_chip * args.chips)
            text_lines.append(f"note: {words} (--chips {m})")
    ran = data.get("global_batch_seqs")
    if not args.global_batch and ran and ran != data.get("default_global_batch_seqs"):   # (was in the JSON only)
        text_lines.append(f"global batch {ran:,} sequences: the default {data['default_global_batch_seqs']:,} "
                          f"rounded to a multiple of dp x micro-batch for this layout")
    if not best.feasible:
        text_lines.insert(0, f"INFEASIBLE layout: {reason_words(_infeasible_words(best), inputs.schedule)}")
    if "top" in data and result.infeasible_by_reason:
        text_lines.append("infeasible layouts by reason: " + "; ".join(   # "heads 3" read as 3 heads
            f"{reason_words(k, inputs.schedule)} ({v:,} layout{'s' if v != 1 else ''})"
            for k, v in sorted(result.infeasible_by_reason.items(), key=lambda kv: -kv[1])))
    text_lines += [f"- {e}" for e in best.explanations]
    extra = [("breakdown (s per step)", [{"term": k, "seconds": v} for k, v in best.breakdown_s.items()])]
    return Output(data=data, rows=rows, text="\n".join(text_lines), extra_tables=extra)
