"""`fleetcast serve`: serving figures of one model on one chip type (contract: CLI.md)."""

from __future__ import annotations

import math
from typing import Any
from dataclasses import replace

from engine.commands import Output, plain_number, whole_number
from engine.errors import InfeasibleRequest, UserError
from engine.models import context_problem
from engine.serving.disagg_load import slo_bound_by
from engine.topology import DEFAULT_DOMAIN, assumed_network_note, topology_of


MAX_TOKENS_PER_REQUEST = 10_000_000   # prompt or output tokens of one request
MAX_CONCURRENCY = 100_000             # closed-loop clients simulated (1,000,000 took 28 s and 1.8 GB)
MAX_PREFILL_STEPS = 2_000_000         # simulated prefill steps at the given token budget
MIN_REQUEST_RATE = 1e-4               # requests/s: 2,000 arrivals in 2e7 s keep microsecond resolution


def register(subparsers) -> None:
    from engine.cli import add_command

    p = add_command(subparsers, "serve", "serving throughput, latency and chips needed for a model on a chip")
    p.add_argument("--scenario", metavar="NAME",
                   help="take the Serving study saved in scenario NAME (the Inference view's inputs); flags given "
                        "as well override it")
    p.add_argument("--model", help="model preset id (fleetcast models list; required without --scenario)")
    p.add_argument("--chip", help="chip id (fleetcast chips list; required without --scenario)")
    p.add_argument("--tp", type=whole_number, default=None, help="tensor-parallel degree (default: best under the SLOs)")
    p.add_argument("--pp", type=whole_number, default=1, help="pipeline-parallel degree")
    p.add_argument("--ep", type=whole_number, default=None,
                   help="expert-parallel degree (MoE; default: 1, or the best under the SLOs for an MoE model)")
    p.add_argument("--chips", type=whole_number, default=None, help="chips in total (replicas = chips / chips per replica)")
    p.add_argument("--input-len", type=plain_number, help="prompt tokens per request (required without --scenario)")
    p.add_argument("--output-len", type=plain_number, help="generated tokens per request (required without --scenario)")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--concurrency", type=whole_number, default=None,
                      help="closed loop: requests kept in flight (all replicas); default: --offline, or with "
                           "--ttft-ms/--tpot-ms the highest load that meets them")
    load.add_argument("--request-rate", type=plain_number, default=None,
                      help="open loop: Poisson arrivals, requests/s for the whole deployment")
    load.add_argument("--offline", action="store_true", help="every request available at once (max throughput)")
    p.add_argument("--requests", type=whole_number, default=None, help="requests to simulate, for the whole deployment (split over the replicas; default: enough for a steady state on each)")
    p.add_argument("--input-len-spread", type=plain_number, default=None,
                   help="prompt length spread, coefficient of variation (default 0: every prompt --input-len "
                        "long; with --scenario, its Serving study's length spread)")
    p.add_argument("--output-len-spread", type=plain_number, default=None, help="output length spread (as above)")
    p.add_argument("--requests-per-client", type=whole_number, default=None,
                   help="closed loop: measured requests per client (aiperf sweeps use 10-20; default: --requests "
                        "or at least 500 and 4 per client)")
    p.add_argument("--warmup-requests", type=whole_number, default=0,
                   help="requests run first and left out of the figures, the clients kept busy (default 0; "
                        "aiperf drains its warm-up before measuring, which is 0 here)")
    p.add_argument("--ramp-s", type=plain_number, default=0.0,
                   help="closed loop: the clients start evenly over this many seconds (default 0: all at once)")
    p.add_argument("--max-num-batched-tokens", type=whole_number, default=None,
                   help="the engine's token budget per step, per attention rank: per replica, times its "
                        "data-parallel attention ranks with TP1 EP (vLLM --max-num-batched-tokens, "
                        "TensorRT-LLM max_num_tokens; default: the engine family's)")
    p.add_argument("--max-num-seqs", type=whole_number, default=None,
                   help="the engine's cap on running sequences per attention rank: per replica, times its "
                        "data-parallel attention ranks with TP1 EP (vLLM --max-num-seqs, TensorRT-LLM "
                        "max_batch_size; default: the engine family's)")
    p.add_argument("--prefill-tp", type=whole_number, default=None, metavar="N",
                   help="disaggregated serving: prompts run on separate prefill instances of N chips each (tensor parallel) "
                        "and their KV crosses the scale-out network to the decode replica (--tp/--ep); with --request-rate or "
                        "--offline. Reported under 'disaggregated' beside the aggregated figures")
    p.add_argument("--prefill-instances", type=whole_number, default=None, metavar="K",
                   help="prefill instances per decode replica (default 1; needs --prefill-tp)")
    p.add_argument("--seed", type=whole_number, default=0, help="seed of the simulated arrivals and lengths")
    p.add_argument("--slo-percentile", choices=("steady", "mean", "p50", "p90", "p99"), default=None,
                   help="hold the --ttft-ms/--tpot-ms targets at this percentile under simulated Poisson "
                        "arrivals (with no target: the largest Poisson load served, as the Inference view shows), "
                        "or 'steady' for the steady-state estimate (default: steady; with --scenario, "
                        "the Serving study's, p90 unless the Inference view chose another)")
    p.add_argument("--ttft-ms", type=plain_number, default=None, help="time-to-first-token target")
    p.add_argument("--tpot-ms", type=plain_number, default=None, help="time-per-output-token target")
    p.add_argument("--weight-dtype", help="bf16 (default), fp16, fp8, int8, int4 or fp4 (a chip without that "
                                          "matrix rate runs the weights weight-only)")
    p.add_argument("--kv-dtype", default=None, help="KV-cache dtype: bf16, fp16, fp8, int8 or int4 (default: fp8 "
                                                    "with fp8 or fp4 weights on a chip with an FP8 rate, else "
                                                    "16-bit)")
    p.add_argument("--engine", help="serving engine family: vllm (default), sglang, trtllm, vllm-ascend, mindie, tgi, generic")
    p.add_argument("--demand-tokens-per-s", type=plain_number, default=None,
                   help="peak output tokens/s to serve: reports chips_needed under the SLOs")
    p.add_argument("--prefix-cache-pct", type=plain_number, default=None, dest="prefix_cache_pct",
                   help="percent of prompt tokens served from the prefix cache (skip prefill) under the SLOs, "
                        "0 to 99 (default 0)")
    p.set_defaults(handler=run, usage_error=p.error)


def apply_scenario(args, ctx) -> None:
    """Fill the flags not given from the scenario's Serving study (the Inference view's inputs, its
    defaults when it saved none); UserError (one line) when the scenario is missing or the study
    has problems."""
    from dataclasses import replace

    from engine.studies import ServingStudy

    from engine.commands import saved_view_state

    # a scenario that saved no Serving study shows the view's defaults (window, report): its answer here too
    store, state = saved_view_state(ctx, args.scenario, "inference", required=False)
    if store is None:
        raise UserError(f"--scenario {args.scenario!r}: no database to read saved scenarios from")
    study = ServingStudy.from_dict(state or {})
    given = {"model_id": args.model, "chip_id": args.chip, "tp": args.tp, "ep": args.ep,
             "weight_dtype": args.weight_dtype, "kv_dtype": args.kv_dtype, "engine": args.engine,
             "input_len": args.input_len, "output_len": args.output_len, "ttft_ms": args.ttft_ms,
             "tpot_ms": args.tpot_ms, "prefix_cache_pct": args.prefix_cache_pct,
             "demand_tokens_per_s": args.demand_tokens_per_s, "max_num_seqs": args.max_num_seqs,
             "max_num_batched_tokens": args.max_num_batched_tokens, "prefill_tp": args.prefill_tp,
             "prefill_instances": args.prefill_instances}
    study = replace(study, **{k: v for k, v in given.items() if v is not None})
    if args.concurrency is not None or args.request_rate is not None or getattr(args, "offline", False):
        study = replace(study, load_point="targets")   # a load flag given overrides the saved load point
    chips = {c.id: c for c in store.chips()}
    models = {m.id: m for m in store.models()}
    problems = study.problems(chips, models)
    if problems:
        from engine.commands import study_problem_error

        out_bad = args.output_len is not None and (args.input_len is None or args.output_len < 1 <= args.input_len)
        length = ("--output-len", args.output_len) if out_bad else ("--input-len", args.input_len)
        raise study_problem_error(args.scenario, "Serving study", problems, {
            "input_len": length, "tp": ("--tp", args.tp), "prefix": ("--prefix-cache-pct", args.prefix_cache_pct),
            "demand": ("--demand-tokens-per-s", args.demand_tokens_per_s),
            "max_num_seqs": ("--max-num-seqs", args.max_num_seqs),
            "max_num_batched_tokens": ("--max-num-batched-tokens", args.max_num_batched_tokens),
            "prefill_tp": ("--prefill-tp", args.prefill_tp),
            "prefill_instances": ("--prefill-instances", args.prefill_instances),
            "model": ("--model", args.model), "chip": ("--chip", args.chip)})
    args.model, args.chip, args.tp = study.model_id, study.chip_id, study.tp
    args.ep = study.ep if models[study.model_id].is_moe else args.ep
    args.weight_dtype, args.kv_dtype, args.engine = study.weight_dtype, study.kv_dtype, study.engine
    args.input_len, args.output_len = float(study.input_len), float(study.output_len)
    args.ttft_ms, args.tpot_ms = study.ttft_ms or None, study.tpot_ms or None  # 0: no target
    args.prefix_cache_pct = study.prefix_cache_pct
    args.demand_tokens_per_s = study.demand_tokens_per_s or None
    args.max_num_seqs, args.max_num_batched_tokens = study.max_num_seqs, study.max_num_batched_tokens
    args.prefill_tp = study.prefill_tp or None   # the view's disaggregated prefill (0: aggregated)
    args.prefill_instances = study.prefill_instances if study.prefill_tp else args.prefill_instances
    if args.slo_percentile is None:   # the Inference view holds its targets at its percentile under load
        args.slo_percentile = study.slo_percentile
    for flag in ("input_len_spread", "output_len_spread"):   # the workload's spread, unless given
        if getattr(args, flag) is None:
            setattr(args, flag, float(study.length_spread))
    from engine.studies_load import load_point_of

    # the Inference view's load point, per replica here; `run` scales it to the replicas once
    # --chips and the layout set them (scenario_load)
    args.scenario_load = point = load_point_of(study)
    if point.kind == "rate":
        args.request_rate = point.value
    elif point.kind == "concurrency":
        args.concurrency = int(point.value)
    elif point.kind == "offline":
        args.offline = True


def _lookup(ctx, model_id: str, chip_id: str):
    try:
        store = ctx.store()
        return store.model(model_id), store.chip(chip_id)
    except ImportError:
        from engine.catalog import reference_chips, reference_models

        models, chips = reference_models(), reference_chips()
        if model_id not in models:
            raise UserError(f"--model {model_id!r}: unknown model (known: {', '.join(sorted(models))})") from None
        if chip_id not in chips:
            raise UserError(f"--chip {chip_id!r}: unknown chip") from None
        return models[model_id], chips[chip_id]


def _kv_peak_pct(sim) -> float | None:
    """Peak KV-cache use of a simulated run, percent (None without a simulation)."""
    used = getattr(sim, "kv_used_frac", None)
    if used is None or not used.size:
        return None
    # the peak before finished sequences free their blocks (the series samples after)
    return 100.0 * max(float(used.max()), float(getattr(sim, "kv_peak_frac", 0.0)))


def _disaggregated(args, inputs, prefix: float, notes: list[str]) -> dict:
    """The same load with prompts on separate prefill instances (engine.serving.capacity), read
    as the engine reads it (engine.serving.disagg_load: NICs' time, cap, verdict, the side that
    binds); its notes (overload, NICs too busy for the KV transfers) go to `notes`."""
    from engine.serving.capacity import simulate_disaggregated
    from engine.serving.disagg_load import read_disaggregated_load, transfer_sides_s_per_token

    instances = args.prefill_instances or 1
    run = simulate_disaggregated(inputs, prefill_tp=args.prefill_tp, prefill_instances=instances,
                                 requests=args.requests, input_spread=args.input_len_spread,
                                 output_spread=args.output_len_spread, seed=args.seed, prefix_cache_hit=prefix)
    send_s, recv_s = transfer_sides_s_per_token(inputs, int(args.prefill_tp))
    decode_chips = int(inputs.pp * max(inputs.tp, inputs.ep))
    out = {
        "load": inputs.scenario,   # offline: every request at once, targets not applied
        "prefill_tp": int(args.prefill_tp), "prefill_instances": int(instances),
        "prefill_chips": int(args.prefill_tp) * int(instances), "decode_chips": decode_chips,
        "chips_per_replica": run.chips_per_replica,
        # --chips over replicas of both pools (1 replica without --chips)
        "replicas": int(inputs.replicas), "chips": int(inputs.replicas) * run.chips_per_replica,
        "output_tokens_per_s_per_chip": run.output_tokens_per_s_per_chip,
        "total_tokens_per_s_per_chip": run.total_tokens_per_s_per_chip,
        "ttft_ms": _finite(run.ttft_ms["mean"]), "tpot_ms": _finite(run.tpot_ms["mean"]),
        **{f"ttft_ms_{q}": _finite(run.ttft_ms[q]) for q in ("p50", "p90", "p99")},
        **{f"tpot_ms_{q}": _finite(run.tpot_ms[q]) for q in ("p50", "p90", "p99")},
        # TTFT: prefill, the KV transfer and the decode instance's first step on the request, with
        # their queues; queue_ms: the waits for a prefill instance, the NICs and a decode seat
        "e2e_latency_ms": _finite(run.e2e_ms["mean"]), "queue_ms": _finite(run.queue_ms["mean"]),
        # one --input-len transfer alone (the slower of the sending and receiving NICs)
        "kv_transfer_ms_per_request": max(send_s, recv_s) * inputs.model.kv_context_tokens(float(inputs.input_len)) * 1e3,
        "simulated_requests": run.requests,   # every replica's, as the main run
        "context_capped_requests": run.capped_requests,
    }
    if args.request_rate:
        read = read_disaggregated_load(run, inputs, prefill_tp=int(args.prefill_tp), prefill_instances=int(instances),
                                       request_rate=float(args.request_rate), input_len=args.input_len,
                                       output_len=args.output_len, sides=(send_s, recv_s))
        busy, rate, ranks, share = read.nic_busy_share, read.rate_per_replica, read.attention_ranks, read.served_share
        out["kv_transfer_nic_busy_share"] = busy
        if busy > 1.0:
            over = f" over {ranks} attention ranks' NICs" if ranks > 1 and not read.sending else ""
            notes.append(f"disaggregated: the KV transfers need {busy:.0%} of the NICs' time ({rate:g} requests/s per "
                         f"replica x {out['kv_transfer_ms_per_request']:,.1f} ms{over}): they queue, in TTFT and "
                         "queue_ms")
        # the throughput the NICs can carry (the run's, or 1 / busy of the offered load)
        out["output_tokens_per_s_per_chip"] = read.output_tokens_per_s_per_chip
        out["total_tokens_per_s_per_chip"] = read.total_tokens_per_s_per_chip
        out["served_share_of_offered"] = share
        out["served_share_from_queue_growth"] = read.served_share_from_queue_growth
        out["overloaded"] = read.overloaded
        from engine.serving.run_notes import unsettled_note

        unsettled = "" if read.overloaded else unsettled_note(getattr(run, "sim", None), args.request_rate,
                                                              run.requests)
        if unsettled:   # the decode side's batch still growing, no queue to read: not judged (QA s40),
            # and no share served was read either (it had said 1, all served)
            out["overloaded"], out["settled"], out["served_share_of_offered"] = None, False, None
            notes.append(f"disaggregated: {unsettled}")
        elif not out["overloaded"]:   # its verdict whether or not the aggregated run keeps up
            notes.append(f"disaggregated: serves the {args.request_rate:g} requests/s offered (the KV transfers need "
                         f"{busy:.0%} of the busier NICs' time; no queue grows through the run)")
        if out["overloaded"]:
            out["bound_by"] = read.bound_by
            said = (f"{args.request_rate:g} requests/s offered, about {share * args.request_rate:.3g} served "
                    f"({share:.0%}); the queue grows through the run" if read.queue_grows else
                    "the KV transfers' queue grows without end (the NICs' time is short)")
            notes.append(f"disaggregated: overloaded: {said}, so TTFT grows with --requests: "
                         f"{_bind_advice(read.bound_by, busy)}")
    return out


def _budget_below_seqs(args, data: dict) -> str:
    """A token budget below the sequences that can run at once, said: a step that mixes decodes
    with prompts spends one token of it per decoding sequence, so no more than the budget decode at
    once (QA s35: --max-num-batched-tokens 1 answered a 2-hour TTFT without a word; vLLM refuses a
    budget below max_num_seqs). What can run at once is the fewest of the engine's cap, the KV
    fit and the clients per replica (16 clients never meet a budget of 1,500)."""
    from engine.serving.families import engine_family, scheduler_for

    budget = args.max_num_batched_tokens
    sched = scheduler_for(args.engine)
    if budget is None or not sched.mixed_batches:
        return ""
    cap = args.max_num_seqs or sched.max_num_seqs
    replicas = max(int(data.get("replicas") or 1), 1)
    # (max_running_sequences is every replica's: 8 replicas of 358 read 2,864, QA s35)
    running = min(cap, -(-int(data.get("max_running_sequences") or cap * replicas) // replicas))
    if args.concurrency:
        running = min(running, -(-int(args.concurrency) // replicas))
    refuses = (f"vLLM refuses a budget below --max-num-seqs ({cap:,})"
               if engine_family(args.engine) == "vllm" and budget < cap else "")
    if budget >= running:
        return f"--max-num-batched-tokens {budget:,}: {refuses}" if refuses else ""
    return (f"--max-num-batched-tokens {budget:,} is below the {running:,} sequences that can run at once per "
            f"replica: a step spends one token of the budget per decoding sequence, so at most {budget:,} decode "
            f"together" + (f"; {refuses}" if refuses else ""))


def _bind_advice(side: str, nic_busy: float) -> str:
    """What to change where `side` (engine.serving.disagg_load.binding_side) binds, in serve's flags."""
    return {
        "prefill pool": "the prefill instances bind (their queue grows): add prefill instances or lower --request-rate",
        "kv transfer (sending NICs)": f"the prefill instances' NICs bind ({nic_busy:.0%} busy): add prefill "
                                      "instances, a smaller --kv-dtype, or lower --request-rate",
        "kv transfer (receiving NICs)": f"the decode side's NICs bind ({nic_busy:.0%} busy): more decode replicas "
                                        "(--chips), a smaller --kv-dtype, or lower --request-rate",
        "decode batch": "the decode instance binds (requests wait for a decode seat): add decode chips or replicas "
                        "(--chips) or lower --request-rate; more prefill instances change nothing",
    }[side]


def _untargeted_demand(args, data: dict, cap, per_replica: int, loaded: bool) -> str:
    """chips_needed with no latency target, and the note that says what bounds it. With a load,
    at that load's simulated rate per chip (--request-rate 6: 225 output tokens/s per chip where
    the count read 357.5, the offline run's); without one, at saturation, the largest batch the
    steady state runs, where the latencies are those the note gives (Llama 3 70B on 8 x H100:
    280 chips at TPOT 198 ms, the offline run's TTFT 154 s, labelled "steady state")."""
    from engine.inference import batch_text

    demand = float(args.demand_tokens_per_s)
    at_saturation = data["chips_needed"]
    rate = data.get("output_tokens_per_s_per_chip") or 0.0
    if loaded and rate > 0:
        # whole replicas of this run's layout at the rate this load got
        data["chips_needed"] = int(math.ceil(demand / (rate * per_replica) - 1e-9)) * per_replica
        data["chips_needed_at"] = "this load"
        lat = ", ".join(f"{name} mean {_ms_text(data.get(key))}" for name, key in (("TTFT", "ttft_ms"),
                                                                                  ("TPOT", "tpot_ms"))
                        if data.get(key) is not None)
        over = ("; the load is overloaded, so those latencies grow with --requests" if data.get("overloaded") else "")
        return (f"no latency target bounds chips_needed: {data['chips_needed']:,} chips at this load's {rate:,.1f} "
                f"output tokens/s per chip ({lat}{over}); at saturation ({cap.output_tokens_per_s_per_chip:,.1f} per "
                f"chip) {at_saturation:,}; give --ttft-ms/--tpot-ms for a count that meets them")
    data["chips_needed_at"] = "saturation"
    if cap.latency_basis != "mean":   # --slo-percentile with no target: the largest Poisson load served
        where = (f"the largest Poisson load served ({cap.output_tokens_per_s_per_chip:,.1f} output tokens/s per "
                 f"chip), where TPOT {cap.latency_basis} is {_ms_text(cap.tpot_ms)} and TTFT {cap.latency_basis} "
                 f"{_ms_text(cap.ttft_ms)}")
    else:
        where = (f"saturation, its largest batch ({batch_text(cap.batch)} sequences, "
                 f"{cap.output_tokens_per_s_per_chip:,.1f} output tokens/s per chip), where the steady state's TPOT "
                 f"is {_ms_text(cap.tpot_ms)} and TTFT {_ms_text(cap.ttft_ms)}"
                 # the run above is the offline one: its TTFT is every request's wait for a batch seat
                 + (f" (the offline run above waits {_ms_text(data['ttft_ms'])} for a first token, its queue "
                    "included)" if data.get("scenario") == "offline" else ""))
    return (f"no latency target bounds chips_needed: {at_saturation:,} chips run every replica at {where}; give "
            "--ttft-ms/--tpot-ms for a count that meets them, or --request-rate for one at a load")


def _ms_text(ms) -> str:
    """A latency in words: milliseconds below 10 s, seconds above."""
    if ms is None or not math.isfinite(ms):
        return "n/a"
    return f"{ms:,.1f} ms" if ms < 100 else f"{ms:,.0f} ms" if ms < 10_000 else f"{ms / 1e3:,.1f} s"


def _missed_targets(run: dict, at: str, args) -> list[str]:
    """The targets `run` (serve's keys) misses at `at` (a percentile or "mean"), each as "TTFT p90
    2,659 ms > 1,500 ms"; a figure the run has not (None) meets none."""
    pairs = [(n, lim, run.get(f"{n.lower()}_ms" + ("" if at == "mean" else f"_{at}")))
             for n, lim in (("TTFT", args.ttft_ms), ("TPOT", args.tpot_ms)) if lim is not None and lim > 0]
    return [f"{n} {at} {_ms_text(got)} > {_ms_text(lim)}" for n, lim, got in pairs if got is None or got > lim]


def _judge_load(args, data: dict, cap, tp: int) -> None:
    """targets_met_under_load on the deployment asked about: with --prefill-tp the disaggregated one,
    whose best load slo_* is (the aggregated run's "met" sat beside a disaggregated TTFT p90 of 2,659
    ms against 1,500). A load above the same deployment's stated best load is not "met" whatever its
    own sample reads: that best load is the highest the search's samples all hold the targets at."""
    at, aggregated_met = data["targets_checked_at"], data["targets_met_under_load"]
    judged, run = ("disaggregated", data["disaggregated"]) if "disaggregated" in data else ("aggregated", data)
    missed, best = _missed_targets(run, at, args), data.get("slo_request_rate_per_s")
    rate = float(args.request_rate or 0) / max(int(run.get("replicas") or 1), 1)   # per replica, as `best`
    if not missed and best and rate > best * (1 + 1e-9) and data.get("slo_feasible") and cap.latency_basis == at \
            and (cap.tp, getattr(cap, "ep", 1) or 1) == (tp, args.ep or 1):
        data["targets_met_by_this_run"] = True
        missed = [f"{rate:.4g} requests/s per replica is above the best load that holds them on every sample the "
                  f"search ran, {best:.4g}; this run's own sample meets them"]
    data.update(targets_met_under_load=not missed, targets_judged_on=judged, targets_missed="; ".join(missed))
    if judged == "disaggregated":   # one verdict per deployment, named
        data["targets_met_by_deployment"] = {"disaggregated": not missed, "aggregated": aggregated_met}


def _verdict_text(data: dict) -> str:
    """The text's line for targets_met_under_load: on which deployment, and what missed."""
    by = data.get("targets_met_by_deployment")   # with --prefill-tp: judged on the disaggregated deployment
    why = [data["targets_missed"]] if data["targets_missed"] and (by or "targets_met_by_this_run" in data) else []
    why += [f"the aggregated run (prompts on the decode chips) {'meets' if by['aggregated'] else 'misses'} them"] if by else []
    return (f"targets {'met' if data['targets_met_under_load'] else 'not met'} at this load ({data['targets_checked_at']}"
            + (", disaggregated deployment" if by else "") + ")" + (f": {'; '.join(why)}" if why else ""))


def _pct_text(pct: float) -> str:
    """A percentage in words (`engine.inference.pct_text`, the words the explanation's KV peak is in)."""
    from engine.inference import pct_text

    return pct_text(pct)


def _finite(x):
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


from engine.hardware import GB_PER_GIB  # noqa: E402  (GiB -> decimal GB)


# how a decode step's parts make its total (inference._decode_step): weights and GEMM compute overlap,
# so do KV reads and attention compute
DECODE_COMBINE = ("total = max(weights, compute - attn_compute) + max(kv, attn_compute) + comm + overhead "
                  "(compute includes attn_compute, comm includes comm_latency)")
STEADY_CLIENT_REQUESTS = 10   # measured requests per client below which the clients' joint start weighs (aiperf: 10 x C)


def run(args, ctx) -> Output:
    from engine.calibration import saved_calibrations
    from engine.commands import optional_store
    from engine.hardware import DTYPE_BYTES
    from engine.inference import (ServingInputs, _tp_choices, batch_text, best_layouts, check_dtypes, default_kv_dtype,
                                  evaluate_serving, slo_capacity)
    from engine.studies import chips_for_demand
    from engine.serving.capacity import DEFAULT_REQUESTS
    from engine.serving.run_notes import (drawn_lengths_note, first_cohort_note, lockstep_note, shared_sample_note,
                                          unsettled_note, whole_run_note)
    from engine.studies_serving import open_loop_reading
    from engine.serving.families import (blank_engine_note, budget_problem, engine_chip_problem, engine_family,
                                         known_engine, limit_factors)

    # what the user typed, before a scenario fills the rest
    given_tpot, given_pct = args.tpot_ms, args.slo_percentile
    notes: list[str] = []
    dis_notes: list[str] = []   # the disaggregated deployment's, said after the aggregated run's
    if args.scenario:
        apply_scenario(args, ctx)
    args.input_len_spread = 0.0 if args.input_len_spread is None else args.input_len_spread
    args.output_len_spread = 0.0 if args.output_len_spread is None else args.output_len_spread
    missing = [flag for flag, value in (("--model", args.model), ("--chip", args.chip),
                                        ("--input-len", args.input_len), ("--output-len", args.output_len))
               if value is None]
    if missing and getattr(args, "usage_error", None) is not None:
        args.usage_error(f"the following arguments are required: {', '.join(missing)} (or --scenario NAME)")
    args.weight_dtype = args.weight_dtype or "bf16"
    args.engine = args.engine or ""
    if args.prefix_cache_pct is not None and not (0 <= args.prefix_cache_pct < 100):
        raise UserError(f"--prefix-cache-pct {args.prefix_cache_pct:g}: must be 0 to 99 percent")
    prefix = (args.prefix_cache_pct or 0.0) / 100.0
    for name in ("input_len", "output_len"):
        v = getattr(args, name)
        if not (1 <= v <= MAX_TOKENS_PER_REQUEST) or v != int(v):
            raise UserError(f"--{name.replace('_', '-')} {v:g}: a whole number of tokens, 1 to {MAX_TOKENS_PER_REQUEST:,}")
    one_token = args.output_len == 1   # no token follows the first: no decode step, TPOT does not apply
    if one_token and args.tpot_ms is not None:
        # a target for nothing ("TPOT 31.9 ms > 10 ms even at batch 1"): not applied, and said so; not
        # refused, as the Inference view's exported line carries its TPOT target whatever the output length
        what = f"--tpot-ms {args.tpot_ms:g}" if given_tpot is not None else \
            f"the scenario's TPOT target ({args.tpot_ms:g} ms)"
        notes.append(f"{what} is not applied: with an output length of 1 no token follows the first")
        args.tpot_ms = None
    for name in ("tp", "pp", "ep", "chips", "concurrency"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise UserError(f"--{name} {v}: must be a positive integer")
    if args.concurrency is not None and args.concurrency > MAX_CONCURRENCY:
        # each client is a simulated request stream: a million of them is minutes and gigabytes
        raise UserError(f"--concurrency {args.concurrency:,}: at most {MAX_CONCURRENCY:,} clients are simulated")
    from engine.cli import check_seed

    check_seed(args.seed)   # the range and wording of every command's --seed
    if args.engine and not known_engine(args.engine):
        raise UserError(f"--engine {args.engine!r}: not an engine Fleetcast knows; give a family (vllm, sglang, "
                        "trtllm, vllm-ascend, mindie, tgi, generic) or a server that schedules like one (lmdeploy, "
                        "triton, nim, ...)")
    from engine.serving.run_notes import MAX_RUN_REQUESTS

    for name, lo, hi in (("requests", 1, MAX_RUN_REQUESTS), ("requests_per_client", 1, 10_000), ("warmup_requests", 0, 1_000_000),
                         ("max_num_batched_tokens", 1, 10_000_000), ("max_num_seqs", 1, 10_000_000)):
        v = getattr(args, name)
        if v is not None and not (lo <= v <= hi):
            raise UserError(f"--{name.replace('_', '-')} {v}: must be {lo} to {hi:,}")
    if not (0.0 <= args.ramp_s <= 86_400.0):
        raise UserError(f"--ramp-s {args.ramp_s:g}: a ramp-up in seconds, 0 to 86,400 (a day)")
    if (args.requests_per_client is not None or args.ramp_s > 0) and args.concurrency is None:
        raise UserError("--requests-per-client and --ramp-s describe a closed loop: give --concurrency")
    for name in ("input_len_spread", "output_len_spread"):
        v = getattr(args, name)
        if not (0.0 <= v <= 10.0):
            raise UserError(f"--{name.replace('_', '-')} {v:g}: a coefficient of variation from 0 to 10")
    if args.request_rate is not None and not (0 < args.request_rate < float("inf")):
        raise UserError(f"--request-rate {args.request_rate:g}: must be a positive, finite number of requests/s")
    if args.request_rate is not None and args.request_rate < MIN_REQUEST_RATE:
        # thousands of arrivals spread over ~1e300 s: the clock can't resolve a millisecond any more
        raise UserError(f"--request-rate {args.request_rate:g}: at least {MIN_REQUEST_RATE:g} requests/s (one every "
                        f"{1 / MIN_REQUEST_RATE / 3600:.1f} hours); slower arrivals are each alone: --concurrency 1")
    for name in ("ttft_ms", "tpot_ms", "demand_tokens_per_s"):
        v = getattr(args, name)
        if v is not None and not (0 < v < float("inf")):  # also refuses nan and inf
            raise UserError(f"--{name.replace('_', '-')} {v:g}: must be a positive, finite number")
    model, chip = _lookup(ctx, args.model, args.chip)
    if wrong_engine := engine_chip_problem(args.engine, chip):
        raise UserError(f"--engine {args.engine} on --chip {chip.id}: {wrong_engine}")
    if assumed := blank_engine_note(args.engine, chip):
        notes.append(assumed)
    if args.ep is not None and args.ep > 1 and not model.is_moe:
        # a dense model has no experts to dispatch: EP would model an all-to-all that can't exist
        raise UserError(f"--ep {args.ep}: {model.id} has no experts (a dense model runs at --ep 1; "
                        "use --chips for more replicas)")
    if args.ep is not None and model.is_moe and model.moe_experts % args.ep:
        # named by its flag here (the engine's check reads "ep: 3 (must divide moe_experts = 256)")
        raise UserError(f"--ep {args.ep}: must divide {model.id}'s {model.moe_experts} experts")
    if too_long := context_problem(model, args.input_len, args.output_len):
        raise UserError(f"--input-len {args.input_len:g}, --output-len {args.output_len:g}: {too_long}")
    if args.pp > model.layers:
        raise UserError(f"--pp {args.pp}: more pipeline stages than {model.id}'s {model.layers} layers")
    if too_small := budget_problem(args.engine, args.max_num_batched_tokens, args.input_len, prefix):
        raise UserError(f"--max-num-batched-tokens {args.max_num_batched_tokens}: {too_small}")
    if args.max_num_batched_tokens is not None:
        # chunked prefill at a tiny token budget is one step per few tokens: refuse what would run for minutes
        steps = (args.requests or DEFAULT_REQUESTS) * args.input_len / args.max_num_batched_tokens
        if steps > MAX_PREFILL_STEPS:
            raise UserError(f"--max-num-batched-tokens {args.max_num_batched_tokens}: about {steps:,.0f} prefill steps "
                            f"to simulate ({MAX_PREFILL_STEPS:,} at most); raise it or simulate fewer --requests")
    wdt = args.weight_dtype.lower()
    kdt = (args.kv_dtype or default_kv_dtype(wdt, chip)).lower()
    check_dtypes(chip, wdt, kdt)
    if args.kv_dtype is None and wdt == "fp4" and kdt == "fp8":
        # a default chose it (NVFP4 checkpoints ship an FP8 KV cache): said, as it sets the sequences that fit
        notes.append(f"KV cache in FP8 by default with FP4 weights on {chip.id}; --kv-dtype bf16 for a 16-bit cache")
    has_slo = args.ttft_ms is not None or args.tpot_ms is not None
    targets = has_slo   # a latency target given (has_slo, below, also turns on for a percentile with none)
    asked_load = args.concurrency is not None or args.request_rate is not None or bool(getattr(args, "offline", False))
    if given_pct is not None and asked_load and not has_slo:
        # the percentile is where targets are held; a load with no target has none (its p50/p90/p99 are reported)
        load_flag = (f"--concurrency {args.concurrency}" if args.concurrency is not None else
                     f"--request-rate {args.request_rate:g}" if args.request_rate is not None else "--offline")
        raise UserError(f"--slo-percentile {given_pct}: the percentile the --ttft-ms/--tpot-ms targets are held at, "
                        f"and {load_flag} comes with no target; add a target or drop --slo-percentile (the run's "
                        "p50, p90 and p99 are reported anyway)")
    if not has_slo and args.slo_percentile not in (None, "steady") and args.pp == 1 and not asked_load:
        # a percentile under load with no latency target: the largest Poisson load the replica
        # serves, as the Inference view shows it (the view's exported line gave the offline run)
        has_slo = True

    if has_slo and args.prefill_tp is not None and args.slo_percentile == "steady":
        # asked for by name it was replaced by p90 without a word (QA s38)
        raise UserError("--slo-percentile steady: a disaggregated deployment (--prefill-tp) has no steady-state "
                        "answer (the closed form has no prefill pool); its targets are held under load at p50, p90 "
                        "or p99 (p90 when the flag is left out)")
    if has_slo and args.prefill_tp is not None and args.slo_percentile is None:
        # the closed-form steady state has no prefill pool: the simulator holds a disaggregated deployment's
        # targets, at p90 as the Inference view does (the steady answer sat beside p90 TTFT 215 s against 2 s)
        args.slo_percentile = "p90"
    if has_slo and args.pp != 1 and not asked_load:
        in_node = args.tp or max(_tp_choices(model, chip))
        # the search covers TP/EP layouts in one pipeline stage; a pipelined one is checked at a load given
        raise UserError(f"--pp {args.pp}: the load that meets --ttft-ms/--tpot-ms is searched over TP/EP layouts "
                        f"(pp=1); to check TP{in_node} x PP{args.pp} against them give --tp {in_node} --pp {args.pp} with "
                        "--concurrency, --request-rate or --offline")
    if args.prefill_instances is not None and args.prefill_tp is None:
        raise UserError(f"--prefill-instances {args.prefill_instances}: needs --prefill-tp (disaggregated serving)")
    for name in ("prefill_tp", "prefill_instances"):
        v = getattr(args, name)
        if v is not None and not 1 <= v <= 4096:
            raise UserError(f"--{name.replace('_', '-')} {v}: must be a whole number from 1 to 4,096")
    if args.prefill_tp is not None and args.concurrency is not None:
        raise UserError("--prefill-tp: disaggregated serving is simulated with --request-rate or --offline, "
                        "not --concurrency")
    # TP (and EP for MoE): given, or the best under the SLOs (fewest chips per output token/s)
    capacity_fn = slo_capacity
    if args.slo_percentile == "steady":
        args.slo_percentile = None
    if args.slo_percentile and has_slo:
        from functools import partial

        from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip

        # percentiles of simulated requests, lengths spread as asked; with --prefill-tp, the disaggregated deployment's
        capacity_fn = partial(slo_capacity_tokens_per_s_per_chip, percentile=args.slo_percentile,
                              input_spread=args.input_len_spread, output_spread=args.output_len_spread,
                              prefill_tp=args.prefill_tp, prefill_instances=args.prefill_instances or 1,
                              seed=args.seed)
    # the deployment's own limits reach the SLO search as the closed-form model's overrides
    limits = limit_factors(args.max_num_seqs, args.max_num_batched_tokens) or None
    def capacity_at(tp):
        return capacity_fn(model, chip, input_len=args.input_len, output_len=args.output_len,
                           ttft_ms=args.ttft_ms, tpot_ms=args.tpot_ms, weight_dtype=wdt, kv_dtype=kdt,
                           tp=tp, engine=args.engine, prefix_cache_hit=prefix, factors=limits,
                           # an MoE model's EP: searched under the targets, a TP given or not (QA s38: --tp 8
                           # had meant EP1); with a TP and no target, 1, as a load run of that TP always read
                           ep=args.ep if (args.ep or not model.is_moe) else (1 if tp and not has_slo else None),
                           demand_output_tokens_per_s=args.demand_tokens_per_s)

    cap = capacity_at(args.tp) if args.pp == 1 else None
    if cap is not None and args.tp is None and args.chips is not None \
            and args.chips % (args.pp * max(cap.tp, getattr(cap, "ep", 1) or 1, args.ep or 1)):
        # the best layout's replica does not divide --chips: the best one that does (the user gave the chips, not the TP)
        fits, why_not = [], []
        for tp_try in (t for t in (1, 2, 4, 8, 16, 32, 64) if args.chips % t == 0 and model.heads % t == 0):
            try:
                c = capacity_at(tp_try)
            except UserError as exc:
                why_not.append(f"TP{tp_try}: {exc}")
                continue
            if args.chips % (max(c.tp, getattr(c, "ep", 1) or 1)) == 0 and (c.feasible or not has_slo):
                fits.append(c)
            else:
                why_not.append(f"TP{tp_try}: {c.reason or c.limiting}")
        if not fits:   # each divisor's own reason (memory, heads, a target), not a guess
            raise UserError(f"--chips {args.chips}: the best layout needs {max(cap.tp, getattr(cap, 'ep', 1) or 1)} "
                            f"chips per replica (tp={cap.tp}); with {args.chips} chip{'s' if args.chips > 1 else ''}: "
                            + ("; ".join(why_not) or f"no TP divides {args.chips} and the model's heads")
                            + "; give more chips or --tp")
        best, cap = cap, max(fits, key=lambda c: c.output_tokens_per_s_per_chip)
        # said: --chips, not the search, chose this layout (TP2's 67.2 tokens/s per chip read as the best, not TP8's 94.3)
        best_chips = max(best.tp, getattr(best, "ep", 1) or 1)
        layout = lambda c: f"TP{c.tp}" + (f" EP{c.ep}" if (getattr(c, "ep", 1) or 1) > 1 else "")  # noqa: E731
        rate = lambda c: (f"{c.output_tokens_per_s_per_chip:,.1f} output tokens/s per chip"  # noqa: E731
                          + (" under the targets" if has_slo and c.feasible else ""))
        notes.append(f"--chips {args.chips} sets the layout: the best layout, {layout(best)} ({rate(best)}), needs "
                     f"{best_chips} chips per replica, which do not divide {args.chips}; {layout(cap)} ({rate(cap)}) "
                     f"is the best that does: --chips {math.ceil(args.chips / best_chips) * best_chips} for "
                     f"{layout(best)}, or --tp to choose")
    if cap is not None and args.ep is None:
        args.ep = getattr(cap, "ep", 1) or 1
    args.ep = args.ep or 1
    tp = args.tp or (cap.tp if cap else 1)
    if model.is_moe and 1 < args.ep <= tp:
        # deliberate physics (inference._deployment): experts inside the attention TP group need no dispatch
        notes.append(f"EP{args.ep} lies within the TP{tp} attention group: it is modelled like TP-sharded experts "
                     "(no all-to-all dispatch), so the figures equal EP1's")
    per_replica = args.pp * max(tp, args.ep)
    if args.chips is not None and args.chips % per_replica:
        raise UserError(f"--chips {args.chips}: not a multiple of the {per_replica} chips of one replica "
                        f"(tp={tp}, pp={args.pp}, ep={args.ep})")
    replicas = (args.chips // per_replica) if args.chips else 1
    disagg_replicas = 1
    if args.prefill_tp is not None:
        # a disaggregated replica is its decode instance and its prefill pool: --chips counts both
        disagg_per = per_replica + args.prefill_tp * (args.prefill_instances or 1)
        if args.chips is not None and args.chips % disagg_per:
            raise UserError(f"--chips {args.chips}: not a multiple of the {disagg_per} chips of one disaggregated replica "
                            f"({args.prefill_instances or 1} x TP{args.prefill_tp} prefill + {per_replica} decode)")
        disagg_replicas = args.chips // disagg_per if args.chips else 1
    point = getattr(args, "scenario_load", None)
    if point is not None and point.kind in ("rate", "concurrency"):
        # the study's load is per replica (the view simulates one): the deployment's is replicas times it,
        # a disaggregated replica counting its prefill pool (QA s31: 16 chips of 8 decode + 8 prefill
        # read as 2 replicas ran 12 requests/s for 6 per replica, and broke a TTFT target that holds)
        n = disagg_replicas if args.prefill_tp is not None else replicas
        scaled = point.serve_flag(n)
        if point.kind == "rate":
            args.request_rate = point.value * n
        else:
            args.concurrency = int(point.value) * n
            if args.concurrency > MAX_CONCURRENCY:
                raise UserError(f"scenario {args.scenario!r}: its load point, {point.text()} x {n} replicas, "
                                f"is over the {MAX_CONCURRENCY:,} clients simulated")
        notes.append(f"load: the scenario's load point, {point.text()}"
                     + (f" x {n} replicas ({scaled})" if n > 1 else f" ({scaled})")
                     + "; a load flag overrides it")
    elif point is not None and point.kind == "offline":
        notes.append("load: the scenario's load point, offline (every request at once); a load flag overrides it")
    load = dict(requests=args.requests, input_len_spread=args.input_len_spread,
                output_len_spread=args.output_len_spread, seed=args.seed,
                requests_per_client=args.requests_per_client, warmup_requests=args.warmup_requests,
                ramp_s=args.ramp_s, max_num_batched_tokens=args.max_num_batched_tokens,
                max_num_seqs=args.max_num_seqs)
    if args.concurrency is not None:
        scenario = dict(scenario="concurrency", concurrency=args.concurrency)
    elif args.request_rate is not None:
        scenario = dict(scenario="server", request_rate=args.request_rate)
    else:
        scenario = dict(scenario="offline")
    inputs = ServingInputs(model=model, chip=chip, input_len=args.input_len, output_len=args.output_len,
                           tp=tp, pp=args.pp, ep=args.ep, replicas=replicas, weight_dtype=wdt, kv_dtype=kdt,
                           engine=args.engine, prefix_cache_hit=prefix, **scenario, **load)
    # a load asked for (--offline included) is the answer; without one, the operating point that meets the targets
    loaded = args.concurrency is not None or args.request_rate is not None or bool(getattr(args, "offline", False))
    res = evaluate_serving(inputs)
    if not res.feasible:
        raise UserError(res.reason)
    if res.capped_requests:
        from engine.serving.capacity import capped_note

        outs = getattr(res.simulation, "output_lens", None)
        mean_out = float(outs.mean()) if outs is not None and len(outs) else None
        # with targets and no load, this run is the offline one (max_throughput); the SLO point's
        # own run names its capped requests in the explanation
        run_name = "the offline run (at max throughput)" if has_slo and not loaded else "this run"
        notes.append(capped_note(res.capped_requests, res.simulated_requests, model, run=run_name,
                                 mean_output=mean_out))
    if args.input_len_spread or args.output_len_spread:
        if drawn := drawn_lengths_note(res.simulation, args.input_len, args.output_len):
            notes.append(drawn)
    # the assumed figures of the tiers that carry traffic: a replica of several chips talks inside a
    # server; one that spans servers, or KV moved between pools, crosses them
    net_note = assumed_network_note(chip, scaleup=per_replica > 1, scaleout=per_replica > topology_of(chip).server
                                    or args.prefill_tp is not None,
                                    host=per_replica > (chip.scaleup_domain or DEFAULT_DOMAIN))
    if net_note:
        notes.append(net_note)
    if prefix:
        # a prefix-cache hit skips that share of every prompt's prefill: a large lever on the figures
        from engine.studies_serving import prefix_cache_note

        notes.append(prefix_cache_note(args.prefix_cache_pct))   # the Inference view's note, one wording

    data = {
        "model": model.id, "chip": chip.id, "tp": tp, "pp": args.pp, "ep": args.ep, "replicas": replicas,
        "chips": res.chips, "chips_per_replica": per_replica, "weight_dtype": wdt, "kv_dtype": kdt, "input_len": int(args.input_len),
        "output_len": int(args.output_len),
        "scenario": inputs.scenario, "concurrency": args.concurrency, "request_rate": args.request_rate,
        "engine_family": engine_family(args.engine),
        "prefix_cache_pct": float(args.prefix_cache_pct or 0.0),
        "output_tokens_per_s_per_chip": res.output_tokens_per_s_per_chip,
        "total_tokens_per_s_per_chip": res.total_tokens_per_s_per_chip,
        "ttft_ms": _finite(res.ttft_ms), "tpot_ms": _finite(res.tpot_ms),
        "prefill_ms": _finite(res.prefill_ms), "decode_step_ms": _finite(res.decode_step_ms),
        "running_batch": res.running_batch, "max_concurrency": res.max_concurrency,
        # max_concurrency is the KV fit (the contract's key); what can run at once is also
        # bounded by the engine's cap on running sequences, as the Inference view's tile shows
        "max_running_sequences": res.max_running,
        "concurrency_limited_by": "engine cap" if res.max_running < res.max_concurrency else "KV cache",
        # GiB, the unit of the chips' HBM capacity (the earlier _gb keys stay, in decimal GB as named);
        # kv_gib_per_sequence is one sequence's share on each chip (TP splits the KV heads), _whole all of it
        "kv_gib_per_sequence": res.kv_gib_per_sequence, "kv_gib_per_chip": res.kv_gib_per_chip,
        "kv_gib_per_sequence_whole": model.kv_bytes_per_token(DTYPE_BYTES[kdt]) * model.kv_context_tokens(args.input_len + args.output_len)
        / 2**30,
        "weights_gib_per_chip": res.weights_gib_per_chip, "hbm_gib_per_chip": chip.hbm_gib,
        "kv_gb_per_sequence": res.kv_gib_per_sequence * GB_PER_GIB, "kv_gb_per_chip": res.kv_gib_per_chip * GB_PER_GIB,
        "weights_gb_per_chip": res.weights_gib_per_chip * GB_PER_GIB,
        "limiting": res.limiting, "explanation": res.explanation,
        "decode_breakdown_ms": dict(res.decode_breakdown_ms),
        # the cost model's parts of one decode step at the run's mean batch (at least one sequence: idle replicas
        # average it below 1) and context, no prompts; both means over the run's steady window (run_notes.whole_run_note)
        "decode_breakdown_at": f"closed-form decode step at the mean running batch "
                               f"({max(res.running_batch, 1.0):,.1f}), no prompts in the step"
                               # with PP the parts are one stage's: a token passes every stage (they
                               # summed to 14.3 ms beside a 28.7 ms step at PP2, labelled the step)
                               + (f"; the parts are one of the {int(args.pp)} pipeline stages a token passes through"
                                  if (args.pp or 1) > 1 else ""),
        # the parts overlap (GEMMs and attention each on their own roofline): they do not add up to total_ms
        "decode_breakdown_combine": DECODE_COMBINE,
        # under load, request by request (ttft_ms / tpot_ms above are the means)
        "ttft_ms_p50": _finite(res.ttft_ms_p50), "ttft_ms_p90": _finite(res.ttft_ms_p90),
        "ttft_ms_p99": _finite(res.ttft_ms_p99), "tpot_ms_p50": _finite(res.tpot_ms_p50),
        "tpot_ms_p90": _finite(res.tpot_ms_p90), "tpot_ms_p99": _finite(res.tpot_ms_p99),
        "e2e_latency_ms": _finite(res.e2e_latency_ms), "e2e_latency_ms_p90": _finite(res.e2e_latency_ms_p90),
        "e2e_latency_ms_p99": _finite(res.e2e_latency_ms_p99), "queue_ms": _finite(res.queue_ms),
        "simulated_requests": res.simulated_requests, "preemptions": res.preemptions,
        # of those, drawn (length spread) longer than the context window and capped to it
        "context_capped_requests": res.capped_requests,
        "kv_used_pct_peak": _kv_peak_pct(res.simulation),
    }
    # the engine's cap on running sequences holds the batch (the mean within a sequence or 2% of it): it is what
    # limits, not the step's bandwidth ("limited by bandwidth ... at batch 31" at --max-num-seqs 32, 89% served)
    cap_per_replica = res.max_running / max(replicas, 1)
    capped_by_engine = (loaded and res.simulation is not None and res.max_running < res.max_concurrency
                        and res.running_batch >= cap_per_replica - max(1.0, 0.02 * cap_per_replica)
                        # a closed loop of fewer clients than seats is held by its clients
                        and not (args.concurrency and args.concurrency / max(replicas, 1) <= cap_per_replica))
    if capped_by_engine and data["limiting"] not in ("engine batch cap", "memory capacity"):
        groups = max(args.ep, tp) // tp   # --max-num-seqs is per attention rank (data-parallel attention)
        per = (f" per attention rank ({cap_per_replica:,.0f} per replica over {groups} ranks)" if groups > 1 else
               " per replica")
        data["explanation"] = (f"the engine's cap of {cap_per_replica / groups:,.0f} running sequences{per} is "
                               f"reached ({batch_text(res.running_batch)} running on average; the KV cache would hold "
                               f"{res.max_concurrency / max(replicas, 1):,.0f}): more requests queue for a seat; "
                               f"{data['explanation']}")
        data["limiting"] = "engine batch cap"
    if has_slo and loaded:
        # slo_* is the best load that meets the targets; whether this load meets them is its own answer (at the
        # targets' percentile; the means for steady). A pipelined layout (--pp) has only this answer
        at = args.slo_percentile or "mean"
        data["slo"] = {"ttft_ms": args.ttft_ms, "tpot_ms": args.tpot_ms}
        data["targets_met_under_load"] = not _missed_targets(data, at, args)   # aggregated; see _judge_load
        data["targets_checked_at"] = at
    if has_slo and cap is not None:
        data["slo"] = {"ttft_ms": args.ttft_ms, "tpot_ms": args.tpot_ms}
        # the flag's own value, so a script can pass it back (`--slo-percentile steady`; QA s32:
        # "steady state" was refused as an invalid choice)
        data["slo_percentile"] = args.slo_percentile or "steady"
        data["slo_feasible"] = cap.feasible
        data["slo_output_tokens_per_s_per_chip"] = cap.output_tokens_per_s_per_chip
        data["slo_total_tokens_per_s_per_chip"] = cap.total_tokens_per_s_per_chip
        data["slo_batch"] = cap.batch_at_slo
        data["slo_ttft_ms"] = _finite(cap.ttft_ms)
        data["slo_tpot_ms"] = _finite(cap.tpot_ms)
        # the rate the margin was checked at (with spread lengths, one worked out from tokens/s is not)
        data["slo_request_rate_per_s"] = cap.request_rate_per_s or None
        # what the slo_* latencies are: a running batch beyond the simulator's keeps the steady state's
        # means, whatever slo_percentile asked (its "p90" sat beside them with nothing to say so)
        data["slo_latency_basis"] = ("steady-state estimate" if cap.latency_basis == "mean" else
                                     f"{cap.latency_basis} of a simulated run")
        if not loaded:
            # With targets, the answer is the operating point that meets them (null when none does); the
            # unconstrained (offline, largest batch) figures move under "max_throughput".
            data["max_throughput"] = {k: data[k] for k in (
                "output_tokens_per_s_per_chip", "total_tokens_per_s_per_chip", "ttft_ms", "tpot_ms", "running_batch",
                "prefill_ms", "decode_step_ms")}
            # what that run is: every request at once, so paged KV over-admits and preempts; a
            # load that fits the KV (the SLO point) can out-run it
            data["max_throughput"]["run"] = ("offline: every request at once (preemptions when the KV cache "
                                             "overfills can hold it below a load that fits)")
            for key in ("prefill_ms", "decode_step_ms"):
                del data[key]
            # the simulated run is the offline one (every request at once): its latencies describe
            # that run, not the operating point above, so they move with it
            for key in ("ttft_ms_p50", "ttft_ms_p90", "ttft_ms_p99", "tpot_ms_p50", "tpot_ms_p90", "tpot_ms_p99",
                        "e2e_latency_ms", "e2e_latency_ms_p90", "e2e_latency_ms_p99", "queue_ms",
                        "kv_used_pct_peak", "simulated_requests", "preemptions", "decode_breakdown_ms",
                        "decode_breakdown_at", "decode_breakdown_combine"):
                data["max_throughput"][key] = data.pop(key)
            if cap.feasible:
                data.update(output_tokens_per_s_per_chip=cap.output_tokens_per_s_per_chip,
                            total_tokens_per_s_per_chip=cap.total_tokens_per_s_per_chip,
                            ttft_ms=_finite(cap.ttft_ms), tpot_ms=_finite(cap.tpot_ms), running_batch=cap.batch_at_slo,
                            scenario="slo")
                if cap.latencies_ms:
                    # at a percentile under load: ttft_ms / tpot_ms stay the means (as under --request-rate), that
                    # point's percentiles beside them; slo_ttft_ms / slo_tpot_ms are at slo_percentile
                    lat = cap.latencies_ms
                    data.update(ttft_ms=_finite(lat["ttft_ms"]["mean"]), tpot_ms=_finite(lat["tpot_ms"]["mean"]),
                                **{f"{m}_{q}": _finite(lat[m][q]) for m in ("ttft_ms", "tpot_ms")
                                   for q in ("p50", "p90", "p99")})
            else:
                data.update(output_tokens_per_s_per_chip=None, total_tokens_per_s_per_chip=None, ttft_ms=None,
                            tpot_ms=None, running_batch=None, scenario="slo")
        if loaded:
            # the figures above are the load asked for, its limit and explanation with them; the best load
            # explains itself beside its slo_* figures ("a larger batch would break..." sat over a 60 s TTFT)
            data["slo_limiting"] = cap.limiting
            data["slo_bound_by"] = slo_bound_by(cap)
            data["slo_explanation"] = cap.explanation
        else:
            # Under SLOs the binding constraint is what the user asked about.
            data["limiting"] = cap.limiting
            data["bound_by"] = slo_bound_by(cap)
            data["explanation"] = cap.explanation  # the reason when infeasible, and how the dtypes run
    untargeted = False   # chips_needed with no latency target (`_untargeted_demand`)
    if args.demand_tokens_per_s is not None:
        if cap is None:
            raise UserError(f"--demand-tokens-per-s with --pp {args.pp}: chips needed is searched over TP/EP layouts "
                        "(pp=1); drop --pp, or divide the demand by this run's output tokens/s per chip")
        if not cap.feasible:
            data["chips_needed"] = None
            data["chips_needed_reason"] = cap.reason
        else:
            # at the operating point reported above (a percentile under load when asked), not a
            # second steady-state search
            data["chips_needed"] = chips_for_demand(cap, args.demand_tokens_per_s)
            if cap.layout_choice:   # searched: the fewest chips for the demand, not the highest rate per chip
                data["layout_choice"] = cap.layout_choice
            untargeted = not targets   # counted once the load's overload test has run (below)
        searched_tps = best_layouts(model, [chip], demand_output_tokens_per_s=args.demand_tokens_per_s,
                                    input_len=args.input_len, output_len=args.output_len, ttft_ms=args.ttft_ms,
                                    tpot_ms=args.tpot_ms, weight_dtype=wdt, kv_dtype=kdt,
                                    engine=args.engine, factors=limits, prefix_cache_hit=prefix)[0]
        data["layouts"] = {str(k): v for k, v in searched_tps["by_tp"].items()}
        if model.is_moe:   # the EP each TP's count is at (TP8 alone is no layout a planner can copy)
            data["layouts_ep"] = {str(k): searched_tps["ep_by_tp"][k] for k in searched_tps["by_tp"]
                                  if k in searched_tps["ep_by_tp"]}
        # the per-TP comparison is the quick steady-state search; chips_needed is at the percentile under load
        # when one is set, unless its batch is beyond the simulator (said: "at p90" read as simulated, EP32)
        simulated = cap is not None and cap.latency_basis != "mean"
        data["layouts_at"] = "steady state" + (
            f" (chips_needed is at {args.slo_percentile} under load)" if args.slo_percentile and simulated else
            f" (chips_needed too: {args.slo_percentile} is not simulated for this layout, whose running batch is "
            "beyond the simulator's; a lower bound, as the steady state's load per chip is an upper one)"
            if args.slo_percentile else "")
        if not targets:   # each TP at its saturation, as chips_needed without a load
            data["layouts_at"] = "steady state, each at saturation (no latency target" + (
                "; chips_needed is at this run's load)" if loaded and untargeted else ")")
        elif simulated and args.prefill_tp is None and cap.layouts_under_load:
            # the layouts the percentile search simulated are at that percentile, as chips_needed (the steady
            # state put TP2 at 162 chips beside a p90 answer of 450, where TP8 needs 200 under load)
            at_load: dict = {}
            full_search = [x for x in cap.layouts_under_load if x[4] is None]
            ep_at_load: dict = {}
            for t, e, _rate, n, _missed in full_search:
                known = at_load.get(str(t))
                if n is not None and (known is None or n < known):
                    at_load[str(t)], ep_at_load[str(t)] = n, e
                else:
                    at_load.setdefault(str(t), None)
            data["layouts"].update(at_load)
            if "layouts_ep" in data:
                for t in at_load:   # a TP the percentile search put at another EP, or none, is that one's
                    data["layouts_ep"].pop(t, None)
                data["layouts_ep"].update(ep_at_load)
            # layouts dropped where another held the targets need more than that at the percentile (TP2 162
            # at the steady state, over 322 at p90): said where that exceeds the steady state's count
            data["layouts_more_than"] = {str(t): m for t, _e, _r, _n, m in cap.layouts_under_load
                                         if m is not None and str(t) not in at_load
                                         and m >= (data["layouts"].get(str(t)) or 0)}
            shown = [f"TP{t}" + (f" EP{e}" if e > 1 else "") for t, e, _r, _n, _m in full_search]
            names = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
            data["layouts_at"] = (f"{args.slo_percentile} under load" if set(at_load) >= set(data["layouts"]) else
                                  f"steady state, except {names} at {args.slo_percentile} under load")
    if args.prefill_tp is not None:
        dis = data["disaggregated"] = _disaggregated(args, replace(inputs, replicas=disagg_replicas), prefix,
                                                     dis_notes)
        # replicas, chips_per_replica and chips describe one deployment, the one the headline
        # figures are of (chips 4 sat beside chips_per_replica 8, and 2 replicas x 8 beside --chips 8)
        if has_slo and not loaded:
            # at the targets the headline is the disaggregated deployment (the SLO search ran it), chips_needed
            # whole replicas of both pools; the aggregated offline run keeps its own count under max_throughput
            data["max_throughput"].update(replicas=replicas, chips=res.chips, chips_per_replica=per_replica)
            data.update(replicas=dis["replicas"], chips=dis["chips"], chips_per_replica=dis["chips_per_replica"],
                        prefill_chips_per_replica=dis["prefill_chips"])
            data["figures_from"] = ("disaggregated deployment at the targets (chips_per_replica: decode + prefill); "
                                    "max_throughput is the aggregated offline run")
        else:
            data["figures_from"] = ("aggregated run (prompts prefilled on the decode chips); the disaggregated "
                                    "deployment's own replicas and chips are under 'disaggregated'")
    if "targets_met_under_load" in data:
        _judge_load(args, data, cap, tp)
    # `scenario` here is the load (slo, offline, concurrency, server), as it always was; the
    # saved scenario the figures come from is named beside it, as other commands name it
    data["load"] = data["scenario"]
    data["scenario_name"] = args.scenario
    from engine.calibration import saved_calibration_text, uncalibrated_note

    note = uncalibrated_note(chip)
    if note:   # figures on generic factors say so (the forecast widens such a chip's spread as well)
        data["calibration_note"] = note
    # factors a `calibrate --save` stored, that this engine reads: the figures rest on the user's runs
    data["calibrated"] = saved_calibrations(optional_store(ctx), [chip], ("inference",),
                                            family=engine_family(args.engine))
    notes += [saved_calibration_text(entry) for entry in data["calibrated"]]
    if one_token:
        # one output token per request: TPOT does not apply (null; "n/a" in the table), whatever
        # a steady-state search or a fallback step would put there
        notes.append("TPOT does not apply: with --output-len 1 no token follows the first (no decode step)")
        for d in (data, data.get("max_throughput") or {}, data.get("disaggregated") or {}):
            for k in [k for k in d if k.startswith(("tpot_ms", "slo_tpot_ms", "decode_step_ms"))]:
                d[k] = None
            if "decode_breakdown_at" in d:
                d["decode_breakdown_ms"] = {}
                d["decode_breakdown_at"] = "n/a: no decode step (one output token per request)"
                d.pop("decode_breakdown_combine", None)
    if args.request_rate and data.get("output_tokens_per_s_per_chip") and data.get("chips"):
        # an open loop offered more than it serves: its latencies grow with --requests (TTFT 1.8 / 16.8 / 91.9 s at
        # 500 / 2,000 / 8,000); offered at the simulated lengths (capped draws: 282 of 300 read "94% served")
        # overloaded (`studies_serving.open_loop_reading`, the view's reading too): under OVERLOAD_SHARE
        # of the load served, the share the throughput was read at (off the queue's growth)
        over, share, measured, from_queue = open_loop_reading(
            res.simulation, float(args.request_rate) / max(replicas, 1), float(data["output_tokens_per_s_per_chip"]),
            float(data["chips"]) / max(replicas, 1), float(args.output_len))
        data["served_share_of_offered"] = measured
        data["overloaded"] = over
        data["served_share_from_queue_growth"] = from_queue
        if not over and (note := unsettled_note(res.simulation, args.request_rate, res.simulated_requests)):
            # no queue to read, the batch still growing: not judged (null), said (QA s40: "overloaded:
            # false" at 170 requests/s where about 160 are served)
            # nor is the share served read: "served_share_of_offered" 1 beside "not settled" said
            # all was served (s40's left-undone)
            data["overloaded"], data["settled"], data["served_share_of_offered"] = None, False, None
            notes.append(note)
        if data["overloaded"]:
            what = ("lower --request-rate" if has_slo else
                    "lower --request-rate, or give --ttft-ms/--tpot-ms for the load that meets them")
            if capped_by_engine:   # more seats would serve more: the KV cache holds more sequences
                what += f", or raise --max-num-seqs (the KV cache holds {res.max_concurrency // max(replicas, 1):,})"
            # TPOT does not rise with the load past this point (94.4 -> 88.7 ms from 1.5 to 6 requests/s at a
            # batch of 42 both times): the served requests run at the full batch whatever waits behind them
            # with --prefill-tp these figures are the aggregated run's, the comparison: said so, as the
            # disaggregated deployment asked for has its own verdict below (QA s35: "overloaded" read
            # as the disaggregated deployment's, which served all 13 requests/s)
            whose = "aggregated run (prompts on the decode chips): " if args.prefill_tp is not None else ""
            notes.append(f"{whose}overloaded: {args.request_rate:g} requests/s offered, about {share * args.request_rate:.3g} "
                         f"served ({share:.0%}); the queue grows through the run, so TTFT and end-to-end latency "
                         f"grow with --requests ({data.get('simulated_requests', '?'):,} simulated): {what}; TPOT is "
                         f"the full batch's ({batch_text(res.running_batch)} running): it does not grow with the load")
    if untargeted:
        notes.append(_untargeted_demand(args, data, cap, per_replica, loaded))
    if budget_note := _budget_below_seqs(args, data):
        notes.append(budget_note)
    # (the default request count only: a --requests the user chose is their protocol)
    if args.concurrency and loaded and args.requests is None and args.requests_per_client is None and not args.ramp_s \
            and args.warmup_requests < args.concurrency / max(replicas, 1) and res.simulated_requests:
        # every client sends at t = 0: with few requests each, the first cohort's joint prefill and
        # its queue weigh on the figures (C=128 at 4 per client: TTFT 8.0 s, 2.1 s at 50 per client)
        measured = (res.simulated_requests - args.warmup_requests * max(replicas, 1)) / args.concurrency
        if measured < STEADY_CLIENT_REQUESTS:
            notes.append(f"{measured:.0f} requests per client: the latency figures include the clients' simultaneous start "
                         "(--requests-per-client 20 for the steady state); the throughput is the steady rate "
                         "while every client is busy")
    if has_slo and not loaded and not args.slo_percentile and (args.input_len_spread or args.output_len_spread):
        # the closed-form steady state has one prompt and one output length: the spread reached
        # only the max-throughput run (QA: spread 1 gave the same 62.22 tokens/s and 16,080 chips)
        notes.append("the steady-state SLO answer assumes fixed --input-len/--output-len (the spread is not applied); "
                     "--slo-percentile p90 simulates the spread")
    sim: Any = res.simulation if loaded else None
    if args.concurrency and sim is not None and getattr(sim, "window_s", None) is not None:
        # closed loop: the throughput is read while every client is busy; a ramp as long as the
        # run leaves no such time (--ramp-s 120 read 1,310 tokens/s per chip where 100 read 2,236)
        window = float(sim.window_s)
        if window == 0.0 or window < 0.1 * float(sim.makespan_s):
            data["throughput_window_s"] = window
            notes.append("throughput from t = 0, the ramp included: the clients were never all busy "
                         "at once (lower --ramp-s)" if window == 0.0 else
                         f"throughput over {window:.3g} s of {float(sim.makespan_s):.3g} s with every client busy "
                         "(lower --ramp-s, or more requests)")
        notes += [n for n in (first_cohort_note(res.simulated_requests, args.concurrency, args.output_len_spread),
                              lockstep_note(args.concurrency, args.ramp_s or 0.0, args.input_len_spread,
                                            args.output_len_spread, data.get("ttft_ms_p50"), data.get("ttft_ms_p90")))
                  if n]
    notes += [n for n in (whole_run_note(sim, bool(getattr(args, "offline", False)), getattr(args, "request_rate", None)),
                          shared_sample_note(res.distinct_requests, res.simulated_requests, replicas) if loaded else "")
              if n] + dis_notes
    data["notes"] = notes
    skip = {"decode_breakdown_ms", "layouts", "layouts_more_than", "slo", "disaggregated", "max_throughput", "calibration_note", "notes",
            "calibrated", "targets_met_by_deployment"}
    rows = [{"key": k, "value": v} for k, v in data.items() if k not in skip]
    rows += [{"key": f"targets_met_under_load ({k})", "value": v}
             for k, v in (data.get("targets_met_by_deployment") or {}).items()]
    rows += [{"key": f"slo_target_{k}", "value": v} for k, v in (data.get("slo") or {}).items()]
    # the offline run's figures, one row each (a JSON string in one cell could not be read)
    rows += [{"key": f"{k} (at max throughput)", "value": v}
             for k, v in data.get("max_throughput", {}).items() if k != "decode_breakdown_ms"]
    breakdown = data.get("decode_breakdown_ms") or data.get("max_throughput", {}).get("decode_breakdown_ms", {})
    rows += [{"key": f"decode {k} (at max throughput)" if "max_throughput" in data else f"decode {k}", "value": v}
             for k, v in breakdown.items()]
    if "disaggregated" in data:
        rows += [{"key": f"disaggregated {k}", "value": v} for k, v in data["disaggregated"].items()]
    # chips needed at each TP for the demand (the per-TP comparison chips_needed was chosen from)
    rows += [{"key": f"chips_needed at TP{t}", "value": n} for t, n in (data.get("layouts") or {}).items()]
    rows += [{"key": f"chips_needed at TP{t} at {args.slo_percentile}: more than", "value": n}
             for t, n in (data.get("layouts_more_than") or {}).items()]
    if "calibration_note" in data:   # the table's and JSON's warning travels in the CSV too, one row
        rows.append({"key": "calibration_note", "value": data["calibration_note"]})
    rows += [{"key": "note", "value": n} for n in notes]
    if one_token:
        for row in rows:
            if ("tpot_ms" in row["key"] or "decode_step_ms" in row["key"]) and row["value"] is None:
                row["value"] = "n/a"
    # the EP degree too: "(tp=1)" headed a TP1 EP16 replica of 16 chips
    where = f"tp={tp}" + (f", ep={args.ep}" if args.ep > 1 else "") + (f", pp={args.pp}" if args.pp > 1 else "")
    text = f"{model.name} on {chip.name} ({where}): limited by {data['limiting']}: {data['explanation']}"
    if "calibration_note" in data:
        text += f"\nnote: {data['calibration_note']}"
    for n in notes:
        text += f"\nnote: {n}"
    if "chips_needed" in data:
        more = data.get("layouts_more_than") or {}
        eps = data.get("layouts_ep") or {}
        by_tp = ", ".join(f"TP{t}{f' EP{eps[t]}' if (eps.get(t) or 1) > 1 else ''} {'-' if n is None else f'{n:,}'}"
                          + (f" ({args.slo_percentile}: over {more[t]:,})" if t in more else "")
                          for t, n in (data.get("layouts") or {}).items())
        need = data["chips_needed"]
        text += (f"\nchips needed for {args.demand_tokens_per_s:,.0f} output tokens/s: "
                 + (f"{need:,}" if need is not None else f"none ({data.get('chips_needed_reason', '')})")
                 + (f" ({data['layout_choice']})" if data.get("layout_choice") else "")
                 # "by TP at the steady state (...)": one level of parentheses ("by TP (steady
                 # state (chips_needed is at p90 under load))" read as nested)
                 + (f"; by TP at the {data['layouts_at']}: {by_tp}" if by_tp else ""))
    if "targets_met_under_load" in data:
        searched = ("" if "slo_limiting" not in data else
                    f"; the best load that meets them: limited by {data['slo_limiting']}: {data['slo_explanation']}"
                    if data.get("slo_feasible") else
                    # at a percentile the search ran Poisson loads, none of them steady
                    f"; no {'steady load' if not args.slo_percentile else 'load the search tried'} meets them: "
                    f"{data['slo_explanation']}")
        text += "\n" + _verdict_text(data) + searched
    if args.slo_percentile and (basis := data.get("slo_latency_basis")):   # in the JSON's words
        text += f"\nSLO latencies: {basis}" + (f", not the {args.slo_percentile} asked" if basis[0] == "s" else "")
    if "disaggregated" in data:
        d = data["disaggregated"]
        ran = {"offline": "offline, every request at once" + ("" if has_slo and loaded else
                                                        "; the targets are not applied"),
               "server": f"at {args.request_rate:g} request{'' if args.request_rate == 1 else 's'}/s"
               if args.request_rate else "under Poisson load"}.get(
            inputs.scenario, inputs.scenario)
        reps = f"{d['replicas']} replica{'s' if d['replicas'] != 1 else ''}, {d['chips']} chips"
        # the KV dtype too: the transfer moves that cache
        text += (f"\ndisaggregated ({d['prefill_instances']} x TP{d['prefill_tp']} prefill + {d['decode_chips']} decode "
                 f"chips per replica, {reps}; {kdt} KV, {d['kv_transfer_ms_per_request']:,.1f} ms of transfer per "
                 f"request; {ran}): {d['output_tokens_per_s_per_chip']:,.1f} output tokens/s per chip (both pools), "
                 f"TTFT p90 {d['ttft_ms_p90']:,.0f} ms, "
                 + (f"TPOT p90 {d['tpot_ms_p90']:.1f} ms; " if d["tpot_ms_p90"] is not None else "TPOT n/a; ")
                 # under a load the figures above are the aggregated run's, the best load this deployment's
                 + ("the figures above are this deployment at the targets" if has_slo and not loaded else
                    f"aggregated {data['output_tokens_per_s_per_chip']:,.1f}"
                    + ("; the best load above is this deployment's" if has_slo and data.get("slo_feasible") else "")))
    if has_slo and not loaded and cap is not None and not cap.feasible:
        # no load asked and none meets the targets: infeasible (with a load the run is the answer, met or not).
        # The search starts at one sequence always running: when a lone request meets them, only that is refused
        what = "the latency targets cannot be met" + (
            " at a steady load (a lighter one may: try --concurrency 1)" if cap.met_by_lone_request else "")
        # disaggregated: that deployment is what missed (the aggregated one may meet them)
        where = (f", disaggregated ({args.prefill_instances or 1} x TP{args.prefill_tp} prefill + {per_replica} "
                 f"decode chips)" if args.prefill_tp is not None else "")
        raise InfeasibleRequest(f"{model.id} on {chip.id}{where}: {what}: {cap.explanation}", data=data)
    return Output(data=data, rows=rows, columns=["key", "value"], text=text)
