"""The Training view's sentences on a run that cannot go ahead: why no layout fits and what to
change, and what to change for a fixed layout that cannot run. Qt-free: the rules and their
numbers are the engine's (engine.studies, engine.commands.train), these put them in the form's
terms ("set Chips to 1,016")."""

from __future__ import annotations

import math

from engine.commands.train import model_state_shortfall, shortfall_text
from engine.layout import Infeasible, reason_words
from engine.studies import fewer_chips_lead, no_fit_blocker
from gui.panels.base import fmt

# what each kind of search refusal asks the user to change (engine.training.REASONS)
MEMORY_REASONS = frozenset({"out of memory"})
FACTOR_REASONS = frozenset({"tp does not divide heads", "layout does not match the chip count",
                            "global batch not divisible by dp x micro-batch", "cp does not divide sequence",
                            "ep does not divide experts or tp x dp x cp", "pp exceeds layers"})


def set_chips_words(chips: int, fleet: bool = False) -> str:
    """How to run on `chips` chips in the form's terms: with Chips from "the fleet installed on a
    date" the count field is disabled, and "set Chips to 29,952" named a field that could not be set."""
    if fleet:
        return f"choose \u201cA chip count\u201d in Chips from and set Chip count to {chips:,}"
    return f"set Chips to {chips:,}"


def days_words(days: float | None, days_now: float | None = None) -> str:
    """", 107.2 days against 116.3" (the time to train at a suggested count, as `train` gives it)."""
    if days is None:
        return ""
    shown = fmt(days) if days < 10 else f"{days:,.1f}"
    if days_now is None:
        return f", {shown} days to train"
    return f", {shown} days to train against {fmt(days_now) if days_now < 10 else f'{days_now:,.1f}'}"


def fewer_chips_note(fewer: tuple | None, num_chips: int, fleet: bool = False, days: float | None = None,
                     days_now: float | None = None) -> str:
    """The notes' sentence for `TrainingAnalysis.fewer_chips` (engine.studies.fewer_chips_text)
    with the days to train there and the way to set the count ("" when there is none)."""
    if not fewer:
        return ""
    return f"{fewer_chips_lead(fewer, num_chips)}{days_words(days, days_now)}; {set_chips_words(fewer[0], fleet)}"


def no_fit_advice(infeasible_by_reason: dict, fewer: tuple | None, num_chips: int, inputs=None,
                  fleet: bool = False, days: float | None = None) -> str:
    """What to change when no layout fits, following the reasons (the commonest first); the
    engine's suggested count when it has one, as `train` gives "(--chips 1016)". One fixed
    sentence ("add chips … more memory") was shown for a count that merely factors badly.
    With `inputs`, a model whose training state outgrows the HBM of all the chips is told to add
    chips, with how many (a multiple of 8 was told to "pick a chip count with more factors")."""
    if fewer:
        chips, tok, layout = fewer
        text = (f"{set_chips_words(chips, fleet)} ({num_chips - chips:,} idle), where {layout} trains at "
                f"{tok * chips:,.0f} tokens/s in all{days_words(days)}")
        return text[0].upper() + text[1:]
    blocker = no_fit_blocker(inputs) if inputs is not None else ""
    if blocker:   # the batch set rules out every layout on any count: no chip count is the way (engine's rule)
        return blocker[0].upper() + blocker[1:]
    advice = []
    short = model_state_shortfall(inputs) if inputs is not None and "out of memory" in infeasible_by_reason else None
    if short:   # no count's factors can help, and more memory per chip is the other way
        advice.append(f"add chips: {shortfall_text(short, num_chips)}; or pick a chip with more memory")
    # each layout counts under the first rule it fails, memory last: out-of-memory layouts pass every
    # other rule, so on a count that is already a multiple of 8 memory is what stops the run (128
    # chips were told to "pick a chip count with more factors (a multiple of 8)")
    memory_limits = "out of memory" in infeasible_by_reason and num_chips % 8 == 0
    for reason, _count in sorted(infeasible_by_reason.items(), key=lambda kv: -kv[1]):
        if short and (reason in MEMORY_REASONS or reason in FACTOR_REASONS):
            continue
        if memory_limits and reason in FACTOR_REASONS:
            continue
        text = ("add chips, shorten the sequence or pick a chip with more memory" if reason in MEMORY_REASONS else
                # ("a multiple of 8" was said to 64 chips)
                f"pick a chip count with more factors{' (a multiple of 8)' if num_chips % 8 else ''} or another "
                "global batch" if reason in FACTOR_REASONS else
                "train in BF16 or pick a chip with FP8 units" if reason.startswith("fp8") else
                "set Expert TP to derived, or to one that divides TP (EP × Expert TP must divide TP × DP × CP)"
                if reason.startswith("expert tp") else
                # interleaving runs each rank's micro-batches in groups of PP (engine.layout.interleave_rule)
                "set VPP 1, or a global batch that is a multiple of DP × micro-batch × PP"
                if reason == Infeasible.INTERLEAVE.text else
                schedule_advice(inputs))
        if text not in advice:
            advice.append(text)
    text = "; or ".join(advice) or "add chips or pick another chip"
    return text[0].upper() + text[1:]


def schedule_advice(inputs) -> str:
    """What to change for the schedule reason: a search fixes no layout field, so only the schedule
    (or the batch) can move ("change the layout fields you fixed (VPP, schedule)" was said there)."""
    searched = inputs is not None and all(getattr(inputs, k) is None for k in ("tp", "pp", "vpp"))
    if searched and inputs.schedule == "dualpipe":
        return "use the 1F1B schedule, or a global batch with 2 × PP micro-batches per DP rank (DualPipe's rule)"
    if searched:
        return "use the 1F1B schedule"
    return "change the layout fields you fixed (VPP, schedule)"


def infeasible_fix(result) -> str:
    """What to change when the fixed layout `result` cannot run. Search is offered only for a
    reason of this layout: FP8 and a set Expert TP rule out every layout, and "Layout: Search keeps
    only the layouts that can run" sent the user to a search that fails too (QA)."""
    lay = result.layout
    if result.reason == "out of memory":
        levers = ([f"ZeRO-{lay['zero_stage'] + 1} or above"] if lay["zero_stage"] < 3 else []) + \
            ([f"recompute {'selective or full' if lay['recompute'] == 'none' else 'full'}"]
             if lay["recompute"] != "full" else []) + (["micro-batch 1"] if lay["micro_batch"] > 1 else [])
        return (f"Try {', '.join(levers)}, more TP or PP, or " if levers else "Try more TP or PP, or ") + \
            "Layout: Search, which keeps the layouts that fit."
    if result.reason.startswith("fp8"):
        return "Train in BF16 or pick a chip with FP8 units: this holds for every layout, Search included."
    if result.reason.startswith("expert tp"):
        stage = int(lay["tp"]) * int(lay["dp"]) * int(lay["cp"])
        derived = math.gcd(int(lay["tp"]), max(stage // max(int(lay["ep"]), 1), 1))
        return (f"Set Expert TP to derived ({derived} here), or to a divisor of TP {lay['tp']} with EP "
                f"{lay['ep']} × Expert TP dividing TP × DP × CP ({stage:,}): a set Expert TP applies to every "
                "layout, Search included.")
    return "Layout: Search keeps only the layouts that can run."


def no_fit_text(search, fewer: tuple | None, num_chips: int, advice_first: bool = False, inputs=None,
                fleet: bool = False, days: float | None = None) -> str:
    """The sentence when no layout fits, with what to change. The run bar puts the advice first,
    so that where it ends in "…" (1280 px) what to do still shows; the notes wrap."""
    # the schedule's reason in the words of the schedule chosen, as `train` says it
    schedule = getattr(inputs, "schedule", "1f1b")
    reasons = ", ".join(f"{reason_words(k, schedule)} ({v:,})" for k, v in search.infeasible_by_reason.items())
    advice = no_fit_advice(search.infeasible_by_reason, fewer, num_chips, inputs, fleet, days)
    if advice_first:
        return f"{advice}. No layout of {num_chips:,} chips fits among {search.layouts_evaluated:,}: {reasons}."
    return f"No layout fits among {search.layouts_evaluated:,}: {reasons}. {advice}."
