"""The layout an SLO search under load answers with (split from `capacity`, which runs one layout).

- `under_load(model, chip, cap, load)`: one layout's capacity at the percentile under Poisson load
  (`capacity.slo_capacity_sim`), as the `CapacityResult` of the steady-state search's `cap` with
  the simulated figures in place, or why it was not simulated.
- `best_layout_under_load(...)`: the steady search's pick and the layouts near it held against each
  other under load (a race of single loads, then full searches of those left), the best answered.
- `layout_said(...)`: the answer's explanation names the layout and who chose it.

`capacity.slo_capacity_tokens_per_s_per_chip` is the entry point that picks between them.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from engine.errors import UserError
from engine.serving.capacity import (MAX_SIMULATED_BATCH, _meets, _poisson_runner, _slo_requests, capped_note,
                                     running_text, slo_capacity_sim)
from engine.serving.disagg_load import NIC_SIDE_WORDS
from engine.serving.slo_margin import rate_text as stated_rate_text

LAYOUT_FACTOR = 2.0   # searched layouts within this factor of the steady search's best are held against it under
MAX_LAYOUTS = 4       # load, at most this many, best first
# what a load that is not served ran into (`disagg_load.unserved_limit`), in the explanation's words
UNSERVED_WORDS = {"saturation": "saturation",
                  **{side: f"its KV transfers need more than {words}' time" for side, words in NIC_SIDE_WORDS.items()}}
RACE_STEPS = 5        # loads at which the layouts still in the running are held against each other (5: 3% apart)
RACE_HEADROOM = 1.25  # the race's top load: this much above the best steady-state rate among them
RACE_START = 0.5      # its first load: this share of the steady choice's rate, then 4x lighter ones


def layout_said(result, simulated: bool, cap, given: bool):
    """A simulated `result` at the layout of `cap` (the steady search's), with that layout's
    reasons, named as such: given by the user, or the steady search's choice."""
    if not simulated:
        return result
    layout = _layout_words(cap)
    if not cap.feasible:   # simulated all the same: the steady state missed a target
        return replace(result, explanation=f"{result.explanation}; {layout}: its steady state (every attention "
                       f"group always busy) misses a target ({cap.reason.split(': ', 1)[-1]}), a lighter load "
                       "holds them")
    if given:   # the user fixed the layout
        return replace(result, explanation=f"{result.explanation}; {layout} (given; its steady state: "
                       f"{cap.explanation})")
    return replace(result, explanation=f"{result.explanation}; {layout} chosen by the steady-state search "
                   f"({cap.explanation})")


def _layout_words(cap) -> str:
    return f"TP{cap.tp}" + (f" EP{cap.ep}" if cap.ep > 1 else "")


def _chips_for(cap, demand) -> int | None:
    """Chips for `demand` output tokens/s in whole replicas at `cap`'s rate (studies.chips_for_demand)."""
    per_replica = cap.output_tokens_per_s_per_chip * cap.chips_per_replica
    if not cap.feasible or not demand or per_replica <= 0:
        return None
    return int(math.ceil(demand / per_replica - 1e-9) * cap.chips_per_replica)


def under_load(model, chip, cap, load: dict) -> tuple[Any, bool]:
    """(the capacity at the percentile under load of `cap`'s layout, whether it was simulated);
    not simulated: `cap` itself (its targets missed for want of memory), or its steady state
    (a running batch beyond the simulator's), or the simulated search's reason (no load meets
    the targets)."""
    input_len, output_len, ttft_ms, tpot_ms = (load[k] for k in ("input_len", "output_len", "ttft_ms", "tpot_ms"))
    percentile, prefill_tp, prefill_instances = load["percentile"], load["prefill_tp"], load["prefill_instances"]
    steady_missed = not cap.feasible and cap.limiting == "latency target" and cap.tp
    if not cap.feasible and not steady_missed:
        return cap, False
    if steady_missed:
        # The steady state holds one sequence per attention group running all the time; a light
        # Poisson load runs fewer (Qwen3 on 8 x 910B with attention data parallel: "TPOT 50.9 ms
        # > 50 ms even at batch 1", while 0.1 requests/s holds p90 TTFT 445 ms, TPOT 32 ms). The
        # percentile targets are the simulator's to judge, at the layout the steady search tried.
        cap = replace(cap, batch=max(float(cap.batch), 1.0))
    if cap.batch > MAX_SIMULATED_BATCH:
        # A replica running thousands of sequences (wide expert parallelism) needs ~3x as many
        # simulated requests per load point: too slow for an interactive forecast. The
        # steady-state search stands, and says so.
        if prefill_tp and not tpot_ms:
            # no TPOT target: the steady search runs the batch to what the KV cache and the
            # engine's cap hold, a batch nobody asked for (QA: "a running batch of 1017")
            raise UserError(f"disaggregated prefill (--prefill-tp {prefill_tp}) with no TPOT target: the running "
                            f"batch grows to what the KV cache and the engine's cap allow ({cap.max_running} sequences "
                            f"per replica; {cap.batch:.0f} at the search's point), beyond the {MAX_SIMULATED_BATCH} "
                            f"simulated here; give --tpot-ms, or cap the running sequences with --max-num-seqs "
                            f"({MAX_SIMULATED_BATCH} or fewer per replica)")
        if prefill_tp:
            raise UserError(f"disaggregated prefill (--prefill-tp {prefill_tp}): the --tpot-ms {tpot_ms:g} target "
                            f"allows a running batch of {cap.batch:.0f} sequences per replica, beyond the "
                            f"{MAX_SIMULATED_BATCH} simulated here; give a tighter --tpot-ms, cap the running "
                            f"sequences with --max-num-seqs ({MAX_SIMULATED_BATCH} or fewer), or serve it aggregated")
        return replace(cap, explanation=cap.explanation + f"; steady-state estimate (a running batch of "
                       f"{cap.batch:.0f} per replica is beyond the {MAX_SIMULATED_BATCH} the simulator is run at here)"), False
    sim = slo_capacity_sim(model, chip, tp=cap.tp, ep=cap.ep, requests=_slo_requests(cap.batch),
                           **{k: v for k, v in load.items() if k != "demand"})
    pool_chips = int(prefill_tp or 0) * int(prefill_instances) if prefill_tp else 0
    cap = replace(cap, chips_per_replica=cap.chips_per_replica + pool_chips, prefill_chips=pool_chips)
    if not sim.feasible and steady_missed:
        return replace(cap, batch=0.0), False   # the steady state's own reason
    if not sim.feasible:
        return replace(cap, feasible=False, reason=sim.reason, output_tokens_per_s_per_chip=0.0,
                       total_tokens_per_s_per_chip=0.0, limiting="latency target", explanation=sim.reason,
                       latency_basis=percentile, layouts_under_load=((cap.tp, cap.ep, None, None, None),)), False
    out = sim.output_tokens_per_s_per_chip
    rate = sim.request_rate_per_s
    # the load as held (four figures, `slo_margin.stated_rate`): rerun as printed, it is a run checked
    rate_text = stated_rate_text(rate) if sim.margin else f"{rate:.2f}" if rate >= 0.1 else f"{rate:.2g}"
    # one output token: no decode step, no TPOT ("TPOT nan ms")
    tpot_text = f"TPOT {sim.tpot_ms[percentile]:.1f} ms " if math.isfinite(sim.tpot_ms[percentile]) else ""
    running = running_text(sim.mean_running)
    where = (f"{prefill_instances} x TP{prefill_tp} prefill instance{'s' if prefill_instances > 1 else ''} "
             f"beside each replica ({pool_chips} chips), " if pool_chips else "")
    result = replace(cap, feasible=True, reason="", output_tokens_per_s_per_chip=out,
                   total_tokens_per_s_per_chip=out * (input_len + output_len) / output_len,
                   ttft_ms=sim.ttft_ms[percentile], tpot_ms=sim.tpot_ms[percentile], latency_basis=percentile,
                   request_rate_per_s=sim.request_rate_per_s,
                   batch_simulated=sim.mean_running,
                   latencies_ms={"ttft_ms": dict(sim.ttft_ms), "tpot_ms": dict(sim.tpot_ms)},
                   # what binds is the simulated load's ("TTFT p90 target", "saturation"): the steady
                   # search's "memory capacity" or "TPOT target" sat beside p90s that said otherwise
                   limiting=sim.limiting,
                   explanation=f"simulated under Poisson arrivals, {where}{percentile} "
                   f"TTFT {sim.ttft_ms[percentile]:.0f} ms, {tpot_text}"
                   f"at {rate_text} requests/s per replica, {running}: "
                   f"a larger load breaks the {sim.limiting}" if sim.limiting not in UNSERVED_WORDS else
                   f"simulated under Poisson arrivals, {where}{percentile} TTFT {sim.ttft_ms[percentile]:.0f} ms, "
                   f"{tpot_text}at {rate_text} requests/s per replica, "
                   f"{running}: more offered load is not served ({UNSERVED_WORDS[sim.limiting]})")
    if sim.bracket_pct > 0:
        # the search's resolution, said: a what-if that moves the answer by less is within it (QA
        # s33: 141 GiB of HBM, unused, read 2.2% less than 80 GiB at p90)
        result = replace(result, explanation=f"{result.explanation}; the search resolves the load on its own "
                         f"sample to {sim.bracket_pct:.1f}% (its last step)")
    if sim.margin:
        result = replace(result, explanation=f"{result.explanation}; {sim.margin}")
    if sim.note:
        result = replace(result, explanation=f"{result.explanation}; {sim.note}")
    if sim.capped_requests:
        note = capped_note(sim.capped_requests, sim.requests, model, run="the run at the SLO load")
        result = replace(result, explanation=f"{result.explanation}; {note}")
    return replace(result, layouts_under_load=((cap.tp, cap.ep, out, _chips_for(result, load["demand"]), None),)), True


def best_layout_under_load(model, chip, cap, load: dict):
    """The searched layout that is best at the percentile under load. With spread lengths the
    steady state ranks layouts wrong: Llama 3 8B at 2,000/300 on H20, p90 TTFT 500 ms, TPOT 25 ms,
    CV 1: the steady search picks TP2 (162 chips for 100,000 tokens/s), where p90 under load
    needs 450 chips, TP4 224 and TP8 200.

    The steady search's choice and the layouts within `LAYOUT_FACTOR` of it (chips for the demand,
    else output tokens/s per chip) race: each runs at the load that carries the same output
    tokens/s per chip (with a demand: that serves it on the same chips, in whole replicas), from
    `RACE_START` of the steady choice's rate (4x lighter while none holds the targets) towards
    `RACE_HEADROOM` above the steady rates of those that hold them, bisecting; a layout that
    misses the targets where another holds them drops out (latency grows with load). Those left
    after `RACE_STEPS` loads are searched in full, as `--tp` searches them, so the figures are
    that layout's own (each after the first only if it holds the targets at the best one's load);
    the best of them is the answer. A race run is one simulated load (a full
    search runs ~10) at the requests and seed of that layout's own search."""
    from engine.inference import slo_capacity

    pct, demand, out_len, seed = load["percentile"], load["demand"], float(load["output_len"]), int(load["seed"])
    lead = cap.layout_ranking[0]
    near = [x for x in cap.layout_ranking[1:]
            if (x[3] <= LAYOUT_FACTOR * lead[3] if demand else x[2] * LAYOUT_FACTOR >= lead[2])][:MAX_LAYOUTS - 1]
    steady_kw = {k: load[k] for k in ("input_len", "output_len", "ttft_ms", "tpot_ms", "weight_dtype", "kv_dtype",
                                      "engine", "factors", "prefix_cache_hit")}
    runner_kw = dict({k: v for k, v in steady_kw.items() if k not in ("ttft_ms", "tpot_ms")},
                     input_spread=load["input_spread"], output_spread=load["output_spread"])
    rivals = [slo_capacity(model, chip, tp=t, ep=e, demand_output_tokens_per_s=demand, **steady_kw)
              for t, e, _, _ in near]
    caps = [cap] + [c for c in rivals if c.feasible and c.batch <= MAX_SIMULATED_BATCH]
    # a running batch beyond the simulator's: its steady state would stand beside percentiles, so not compared
    unsimulated = [_layout_words(c) for c in rivals if c.feasible and c.batch > MAX_SIMULATED_BATCH]
    if len(caps) == 1:   # none near it to hold against it
        return layout_said(*under_load(model, chip, cap, load), cap, False)
    runs = [_poisson_runner(model, chip, tp=c.tp, ep=c.ep, **runner_kw)[0] for c in caps]

    targets = (load["ttft_ms"], load["tpot_ms"], pct)

    def chips_at(x: float) -> int:
        return math.floor(demand / x + 1e-9)

    def holds(k: int, x: float) -> bool:
        """Layout k meets the targets carrying x output tokens/s per chip (with a demand: serving it
        on the chips x stands for, in whole replicas)."""
        w = caps[k].chips_per_replica
        reps = chips_at(x) // w if demand else 0
        if demand and reps < 1:
            return False
        rate = demand / (reps * out_len) if demand else x * w / out_len
        # (stopped once sure to miss them: only whether it holds them is read here)
        run = runs[k](rate, _slo_requests(caps[k].batch), seed, miss_targets=targets)
        return run is not None and _meets(run, load["ttft_ms"], load["tpot_ms"], pct, rate)

    dropped: dict[int, float] = {}   # layout -> the load it missed the targets at (where another held them)
    x = RACE_START * cap.output_tokens_per_s_per_chip
    alive: list[int] = []
    for _ in range(3):
        alive = [k for k in range(len(caps)) if holds(k, x)]
        if alive:
            break
        x /= 4.0
    dropped.update({k: x for k in range(len(caps)) if alive and k not in alive})
    lo, hi = x, RACE_HEADROOM * max([x] + [caps[k].output_tokens_per_s_per_chip for k in alive])
    for _ in range(RACE_STEPS):
        if len(alive) <= 1:
            break
        x = math.sqrt(lo * hi)
        passed = [k for k in alive if holds(k, x)]
        if passed:
            dropped.update({k: x for k in alive if k not in passed})
            alive, lo = passed, x
        else:
            hi = x
    if not alive:   # none holds the targets at a 32nd of the steady rate: the steady search's choice, alone
        return layout_said(*under_load(model, chip, cap, load), cap, False)
    full: dict = {}

    def rank(k: int) -> tuple:
        return (_chips_for(full[k][0], demand) or 0, -full[k][0].output_tokens_per_s_per_chip)

    for k in alive:   # in the steady search's order; one that misses where the best so far holds them drops
        held = [j for j in full if full[j][0].feasible and full[j][1]]
        if held:
            top = full[min(held, key=rank)][0]
            level = demand / (_chips_for(top, demand) or 1) if demand else top.output_tokens_per_s_per_chip
            if not holds(k, level):
                dropped[k] = level
                continue
        full[k] = under_load(model, chip, caps[k], load)

    done = sorted((k for k in full if full[k][0].feasible and full[k][1]), key=rank)
    if not done:   # no load holds them after all: the steady search's choice says why
        first = full[0] if 0 in full else under_load(model, chip, cap, load)
        return layout_said(first[0], first[1], cap, False)
    name = [_layout_words(c) for c in caps]
    said = [f"{name[k]} {_chips_for(full[k][0], demand):,} chips" if demand else
            f"{name[k]} {full[k][0].output_tokens_per_s_per_chip:,.1f} output tokens/s per chip" for k in done]
    said += [f"{name[k]} meets them at no load" for k in full if k not in done]
    for level in sorted(set(dropped.values()), reverse=True):
        who = [name[k] for k in sorted(dropped) if dropped[k] == level]
        said.append(f"{' and '.join(who)} miss{'es' if len(who) == 1 else ''} them "
                    # (the load per chip a fleet of that many carries: "misses them on 13,413 chips" read as
                    # the chips that layout needs, QA s35)
                    + (f"at the load per chip of {chips_at(level):,} chips" if demand
                       else f"at {level:,.1f} output tokens/s per chip"))
    if unsimulated:
        said.append(f"{' and '.join(unsimulated)} not simulated (running batches beyond {MAX_SIMULATED_BATCH})")
    summary = ", ".join(said)
    w = done[0]
    best = full[w][0]
    under = tuple(entry for k in full for entry in full[k][0].layouts_under_load) + (
        tuple((caps[k].tp, caps[k].ep, None, None, chips_at(x)) for k, x in dropped.items()) if demand else ())
    lead_said = ("" if not demand else f", needs {_chips_for(full[0][0], demand) or 0:,}" if 0 in done else
                 f", misses them on {chips_at(dropped[0]):,} chips" if 0 in dropped else "")
    choice = (f"{name[w]}: the fewest chips for {demand:,.0f} output tokens/s at {pct} under load"
              + (f"; the steady state's choice, {name[0]}{lead_said}" if w != 0 and lead_said else "")
              if demand else "")
    if w == 0:
        explanation = (f"{best.explanation}; {name[0]} chosen by the steady-state search ({cap.explanation}) "
                       f"and the best at {pct} under load ({summary})")
    else:
        explanation = (f"{best.explanation}; {name[w]} chosen at {pct} under load ({summary}) over {name[0]}, the "
                       f"steady-state search's choice ({cap.explanation}); {name[w]} at the steady state: "
                       f"{caps[w].explanation}")
    return replace(best, explanation=explanation, layouts_under_load=under, layout_choice=choice)
