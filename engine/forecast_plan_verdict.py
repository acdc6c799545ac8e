"""Whether a plan's target can be kept at all, read on the validation trials, and the words of a
verdict (engine.forecast_plan).

The most a plan can order (every candidate's quarterly cap ordered in the quarter's first month)
decides three things: where a target left to the run starts, whether the LP is fitted at all, and,
when no plan is found, why and which shorter target to offer. Read on the 200 trials a plan is
fitted on, those answers followed the sample: with the story's seed set to 4, "caps ... cover
demand in 2025-06 in only 77% of the 200 trials fitted" refused a target that 81.6% of 20,000
trials keep at 80%, and with the caps lifted a From found on 200 trials (2025-03) failed, so the
plan for Aug-Dec 2025 came from a refit on 400 trials ($18.6B) where `--from 2025-08` typed gave
another, fitted on 200 ($22.7B; QA s27). They are read here on the validation trials plans are
sized on, the same for every sample and refit, so a found From plans exactly as that From typed.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from engine.forecast import meets
from engine.forecast_plan_start import ordering_from_text
from engine.forecast_plan_start import whole_lots as _whole_lots

if TYPE_CHECKING:   # (engine.forecast_plan imports this module inside its functions)
    from engine.forecast import ForecastInputs
    from engine.forecast_plan import PlanRequest, PlanResult


@dataclass
class Reach:
    """What the most a plan can order reaches on the validation trials, in the samples' months from
    the first through the target's last."""
    ok: np.ndarray                  # trials x months: that capacity meets peak demand
    jobs_on_time: dict[int, float]  # scenario job index -> P(done by its deadline) with it
    any_quantity: Callable[[], np.ndarray] = field(repr=False)   # P(meet) per month whatever is bought

    @property
    def trials(self) -> int:
        return int(self.ok.shape[0])

    @property
    def p_max(self) -> np.ndarray:
        return self.ok.mean(axis=0)

    def holds(self, lo_t: int, hi_t: int, confidence: float, job_ids: Sequence[int]) -> bool:
        """The most a plan can order keeps `confidence` in every month lo_t..hi_t and by the
        deadlines of jobs `job_ids` (MEETS_RULE: the point estimate)."""
        return bool((self.p_max[lo_t:hi_t + 1] >= confidence).all()) and all(
            self.jobs_on_time.get(i, 1.0) >= confidence for i in job_ids)


_REACH_CACHE: dict = {}      # key -> Reach, for the validation trials in _REACH_OWNER
_REACH_OWNER: list = [None]


def drop_reach_cache() -> None:
    _REACH_CACHE.clear()
    _REACH_OWNER[0] = None


def reach_on_validation(inputs: ForecastInputs, req: PlanRequest, order_months: Sequence[dt.date],
                        most_lots: np.ndarray, hi_t: int) -> Reach:
    """`Reach` of `most_lots` (candidates x order months) on the validation trials, computed once
    per plan: every sample and refit of it reads the same trials."""
    from engine import forecast_plan as fp

    val = fp._cached_samples(inputs, req.validation_trials, inputs.scenario.seed + fp.VALIDATION_SEED_OFFSET)
    if _REACH_OWNER[0] is not val:
        drop_reach_cache()
        _REACH_OWNER[0] = val
    key = (req.candidates, req.lot_chips, tuple(order_months), hi_t, most_lots.tobytes())
    if key not in _REACH_CACHE:
        fp._check_stop()
        check = fp._OnValidation(inputs, req, order_months, 0, hi_t, val)
        # serving: the lots ordered by the target's end (later ones add nothing to it); the deadlines:
        # the lots of the chips the jobs train on, whenever ordered (no other chip moves a job)
        by_end = np.array([m <= val.months[hi_t] for m in order_months])
        ok = meets(check.capacity(most_lots * by_end[None, :]), check.demand)
        trained = {j.chip_id for j in inputs.scenario.jobs}
        training = np.array([c.chip_id in trained for c in req.candidates])
        jobs = dict(zip((i for i, _ in check.deadlines), check.jobs_on_time(most_lots * training[:, None])))
        memo: list[np.ndarray] = []

        def any_quantity() -> np.ndarray:   # (only a refusal's reason needs it)
            if not memo:
                memo.append(_any_quantity(inputs, req, val, order_months, hi_t, check.seed))
            return memo[0]

        _REACH_CACHE[key] = Reach(ok, jobs, any_quantity)
    return _REACH_CACHE[key]


def _any_quantity(inputs, req, val, order_months, hi_t: int, seed: int) -> np.ndarray:
    """P(meet demand) per month 0..hi_t on the validation trials with any quantity bought: the
    trial-months the fleet serves as it is, or that some lot of a candidate that serves reaches
    (lead times, the vendors' delays and fulfilment, export cut-offs)."""
    from engine import forecast_plan as fp

    window = slice(0, hi_t + 1)
    reached = meets(val.capacity_tps[:, window], val.demand_tps[:, window])
    last = val.months[hi_t]
    for cand in req.candidates:
        if _whole_lots(cand.max_per_quarter, req.lot_chips) <= 0 or not fp._serves(inputs, cand.chip_id):
            continue
        share = val.share.get(cand.chip_id, inputs.scenario.allocation.share(cand.chip_id, val.months))[window]
        if val.serving_tput.get(cand.chip_id, 0.0) <= 0:
            continue
        by_end = [m for m in order_months if m <= last]
        for k in range(0, len(by_end), 12):   # a year of order months at a time (trials x 12 x months)
            fp._check_stop()
            arrived = fp._arrivals(inputs, val, cand, by_end[k:k + 12], seed, slice(None), window)
            reached |= (arrived > 0).any(axis=1) & (share < 1.0)[None, :]
    return reached.mean(axis=0)


def reachable_target(ok: np.ndarray, months, fit_confidence: float, start_i: int, *, search_start: bool
                     ) -> tuple[dt.date, dt.date] | None:
    """(first, last month) of the longest target from `start_i` that the most a plan can order keeps
    in `fit_confidence` of the trials in every month; `ok` is trials x months (through the target's
    end). With `search_start`, the target starts at the first month from `start_i` that is kept."""
    n_months = ok.shape[1]
    if search_start:
        kept_alone = np.nonzero(ok[:, start_i:].mean(axis=0) >= fit_confidence)[0]
        if len(kept_alone) == 0:
            return None
        start_i += int(kept_alone[0])
    if start_i >= n_months:
        return None
    kept = ok[:, start_i:].mean(axis=0) >= fit_confidence
    if not kept[0]:
        return None
    last = start_i + int(np.argmin(kept)) - 1 if not kept.all() else n_months - 1
    return months[start_i], months[last]


def no_plan_reason(inputs: ForecastInputs, req: PlanRequest, order_months, active, months, res, reach: Reach,
                   jobs=()) -> str:
    """Why no plan meets the target, as read on the validation trials (`reach`): a training job's
    deadline (`jobs`: (scenario index, job) of those a candidate trains), lead times, quarterly
    caps, serve-on, or the solver."""
    from engine.forecast_plan import _cap_text, _ordered_by_quarter, _quarter, _serves, pct_text

    conf = req.confidence
    p_max = reach.p_max
    trials = f"{reach.trials:,} validation trials"
    reasons = []
    for i, job in jobs:
        # a deadline holds whatever the target window: shortening the target cannot help it
        done = reach.jobs_on_time.get(i, 1.0)
        if done < conf:
            reasons.append(f"training job '{job.name}': even every candidate ordered at its cap from "
                           f"{order_months[0]:%Y-%m} finishes it by {job.deadline:%Y-%m-%d} in only "
                           f"{pct_text(done)} of the {trials} (the target is {pct_text(conf)}); move its "
                           f"deadline or lower the confidence")
    name = lambda c: req.chip_names.get(c.chip_id, c.chip_id)  # noqa: E731
    unbuyable = [c for c in req.candidates if _whole_lots(c.max_per_quarter, req.lot_chips) <= 0]
    if unbuyable and len(unbuyable) == len(req.candidates):
        # nothing can be ordered at all: that, not the lead times, is why
        names = ", ".join(f"{name(c)}: a cap of {max(c.max_per_quarter, 0):,.0f} per quarter" for c in unbuyable)
        return (f"caps: no candidate can be ordered ({names}, from --caps or the candidates' table; orders are "
                f"whole lots of {req.lot_chips:,}); "
                f"give a cap (--caps CHIP=N, or the Plan view's \"Most per quarter\" column) or add candidates")
    serving = [c for c in req.candidates if c not in unbuyable and _serves(inputs, c.chip_id)]
    if not serving and (p_max[active] < conf).any():
        # every buyable candidate is outside demand.serve_on: none adds serving capacity, as in the
        # forecast, and "lead times" or "caps" would send the user to the wrong knob
        names = ", ".join(name(c) for c in req.candidates if c not in unbuyable)
        reasons.append(f"serve on: no candidate serves the demand ({names}: not in the scenario's demand.serve_on, "
                       f"{', '.join(inputs.scenario.demand.serve_on)}, so the forecast counts none of it as serving "
                       "capacity); add a candidate to the scenario's serve-on chips or choose one that serves")
        return "; ".join(reasons)
    rated = [c for c in serving if (inputs.serving_tokens_per_s_per_chip.get(c.chip_id) or 0.0) > 0]
    if serving and not rated and (p_max[active] < conf).any():
        # no candidate serves the model under the latency targets: any quantity adds no capacity,
        # and "lead times and vendor risk" 14 months out sent the user to the wrong knob (QA s37)
        d = inputs.scenario.demand
        names = ", ".join(name(c) for c in serving)
        reasons.append(f"latency targets: no candidate serves the demand's model under them ({names}; TTFT "
                       f"{d.ttft_ms:,.0f} ms, TPOT {d.tpot_ms:,.0f} ms at {d.slo_percentile}), so none adds "
                       "serving capacity; relax the targets or add a candidate chip that meets them")
        return "; ".join(reasons)
    short = [i for i in active if p_max[i] < conf]
    p_any = reach.any_quantity() if short else p_max
    slow = [i for i in short if p_any[i] < conf]
    capped = [i for i in short if p_any[i] >= conf]
    ok_from = np.nonzero(p_max < conf)[0]
    # a target from that month may be within reach (its own plan is checked on fresh trials like
    # any other, and can still fall short by their noise)
    hint = (f"; from {months[int(ok_from[-1]) + 1]:%Y-%m} a plan may reach it (--from "
            f"{months[int(ok_from[-1]) + 1]:%Y-%m})" if len(ok_from) and int(ok_from[-1]) + 1 <= active[-1] else "")
    if slow:
        i = slow[0]
        reasons.append(
            f"lead times and vendor risk: {ordering_from_text(inputs, req)}, chips installed by "
            f"{months[i]:%Y-%m-%d} cover demand that day in at most {pct_text(p_any[i])} of the {trials}, whatever the "
            f"quantity "
            f"(shortest lead time, the vendors' delays and fulfilment, export cut-offs; the target is "
            f"{pct_text(conf)}){hint}")
    if capped:
        i = capped[0]
        caps = ", ".join(_cap_text(c, req.lot_chips, name(c)) for c in serving)
        planned = {_quarter(m) for m in order_months}
        own = any(q in planned for c in serving for q in _ordered_by_quarter(inputs, c.chip_id))
        less = " less the fleet's own orders placed in that quarter" if own else ""
        # (each quarter's cap in one order: orders spread over its months draw their deliveries apart
        # and can read a little higher, QA s35: 91.8% at the caps, 92.0% for a plan of split orders)
        reasons.append(f"caps: ordering every candidate at its maximum per quarter ({caps}{less}), in the "
                       f"quarter's first month, covers demand on "
                       f"{months[i]:%Y-%m-%d} in only {pct_text(p_max[i])} of the {trials} (the target is "
                       f"{pct_text(conf)}; orders spread over a quarter's months can read a little higher); "
                       f"raise the caps, add candidates, "
                       f"lower the confidence or end the target earlier{hint}")
    if not reasons:
        reasons.append(f"no plan keeps {pct_text(conf)} in every month of the target within the caps on "
                       f"these trials; lower the confidence or shorten the target")
    if res is not None and res.status not in (0, 2):
        reasons.append(f"solver: {res.message}")
    return "; ".join(reasons)


def first_of_month_text(first: dt.date, last: dt.date, dash: str = "-") -> str:
    """The days a target is read on: its months' 1st days ("on the 1st of each month, Mar 1 - May
    1 2025"). "Over Mar 2025 - May 2025" read as the whole of May, where the plan is checked on 1
    May (demand grows 28% in May on the story; 1 Jun read 78.2% beside a 90% plan, QA s27)."""
    def day(d: dt.date, year: bool) -> str:
        return f"{d:%b} 1" + (f" {d.year}" if year else "")

    if first == last:
        return f"on {day(first, True)}"
    return f"on the 1st of each month, {day(first, first.year != last.year)} {dash} {day(last, True)}"


def meets_target(result: PlanResult, confidence: float) -> bool:
    """A fit's plan meets the target (MEETS_RULE) on the validation trials and on the fresh ones."""
    from engine.forecast_plan import FRESH_TOLERANCE, SHORT_ON_VALIDATION, lowest_fresh_prob

    return (result.feasible and SHORT_ON_VALIDATION not in result.status
            and lowest_fresh_prob(result) >= confidence - FRESH_TOLERANCE)


def cheapest_of_samples(result: PlanResult, others: Sequence[PlanResult], confidence: float) -> PlanResult:
    """The answer among the plans fitted on several samples: the cheapest that holds (`meets_target`); when
    none does, the cheapest plan fitted, for the refusal to name (it named the first sample's $152B
    "the cheapest plan fitted" beside $145.9B and $135.0B fitted on the others, QA s27). The others'
    costs go with it, NaN (null in JSON: "that set found no plan") for a fit that does not hold: a
    cost of a plan short on the validation trials read as one to buy."""
    fits = [result, *others]
    held = [r for r in fits if meets_target(r, confidence)]
    ordered = [r for r in fits if r.feasible and r.orders]
    best = min(held or ordered or [result], key=lambda r: r.total_cost_usd)
    rest = [r for r in fits if r is not best]
    note = ((f"the cheapest of {len(fits)} samples' plans that hold on the validation and fresh trials",)
            if held and best is not result else ())
    return replace(best, solve_s=sum(r.solve_s for r in fits), notes=best.notes + note,
                   cost_on_other_trials_usd=tuple(r.total_cost_usd if meets_target(r, confidence) else math.nan
                                                  for r in rest))


def refused_why(result: PlanResult, req: PlanRequest, *, on_fresh: bool) -> str:
    """Why a plan that was fitted is no plan: short on the fresh trials (`on_fresh`), else on the
    validation ones (no scale of it keeps the confidence there); its size and cost said, so that a
    table of its orders is not read as a plan to act on."""
    from engine.forecast_plan import _refused_plan_text, lowest_fresh_prob, pct_text

    lowest = lowest_fresh_prob(result)
    caps = _caps_reach_text(result, req)
    if not on_fresh:
        # its fresh figure is that sample's noise (QA s23: $36.5B read 90.1% on the fresh trials, 89.2%
        # on the validation ones and 89.5% pooled over 48,000 others)
        return (f"{_refused_plan_text(result, req)} reads {pct_text(lowest)} in its worst month on "
                f"{req.check_trials:,} fresh trials, but no scale of it keeps P(meet demand) >= "
                f"{pct_text(req.confidence)} on {req.validation_trials:,} validation trials drawn apart (the fresh "
                f"figure is within their noise of a miss){caps}; lower the confidence, shorten the target, or raise "
                "the caps")
    return (f"{_refused_plan_text(result, req)} keeps P(meet demand) >= {pct_text(req.confidence)} on its "
            f"{result.samples:,} trials, but only {pct_text(lowest)} in its worst month on {req.check_trials:,} fresh "
            f"trials{caps}; lower the confidence, shorten the target, or raise the caps")


def _caps_reach_text(result: PlanResult, req: PlanRequest) -> str:
    """What ordering at the caps reads on the validation trials, for a refusal ("" where not read):
    within one standard error of the confidence, a borderline case a refusal alone hid."""
    from engine.forecast_plan import pct_text

    most = result.caps_reach_lowest
    if most is None:
        return ""
    n = max(int(req.validation_trials), 1)
    se = math.sqrt(max(req.confidence * (1.0 - req.confidence), 1e-12) / n)
    text = (f"; ordering every candidate at its caps reads {pct_text(most)} in the worst target month on the "
            f"{n:,} validation trials")
    if abs(most - req.confidence) <= se:
        text += (f", within one standard error ({100 * se:.1f} points) of {pct_text(req.confidence)}: a borderline "
                 "case, where a slightly higher cap or confidence a little lower may find a plan")
    return text
