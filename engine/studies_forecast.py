"""Forecast and Plan studies: what the Forecast and Plan views describe, Qt-free.

Like the Training and Serving studies (engine.studies): frozen, with `to_dict`/`from_dict` (old
and partial dicts load, a newer version is refused), `problems()` in a planner's words and the
form's units (percent where the form shows percent, T tokens/day, ms), keyed by form field, and
the functions that turn results into the figures and tables the CLI and the GUI both print.

    study = ForecastStudy.from_dict(saved_params)          # a scenario's params ("ui" ignored)
    problems = study.problems()                              # [StudyProblem("peak", "Peak / average ...")]
    table = forecast_monthly_table(result, chip_names)        # MonthlyTable: .headers()/.rows() for
                                                              # people, .records() for CSV/JSON
    plan = PlanStudy.from_dict(saved_params["ui"]["plan"])   # confidence, months, budget, candidates
    request = plan.request(default_candidates(chips))         # engine.forecast_plan.PlanRequest

The forecast's own dict is the scenario's stored `params` (engine.forecast.scenario_to_dict),
which the store already migrates with its schema and every reader checks field by field; its
study version is therefore written only from version 2 on (a missing "version" is version 1),
so that the baseline-plus-changes form of stored what-ifs and older readers see no new key.
"""

from __future__ import annotations

import datetime as dt
import math
import shlex
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from engine.errors import UserError, ValidationError
from engine.validate import iso_day
from engine.hardware import KV_DTYPES, SERVE_DTYPES
from engine.models import context_fields
from engine.forecast import (
    CURVE_KINDS, DEADLINE_AFTER_HORIZON, FRACTION_BASES, MAX_GROWTH_RATE_MULTIPLIER, START_YEARS, ForecastResult,
    ForecastScenario, OrderUncertainty, default_scenario, scenario_from_dict, scenario_to_dict, trial_months_problem,
    uncertainty_problems, validate_scenario,
)
from engine.forecast_plan import PlanRequest, pct_text
from engine.scenario_changes import EDITED_NOTE  # the mark on such notes, defined where change lines read it
from engine.studies import STUDY_VERSION, StudyProblem

FORECAST_STUDY_VERSION = 1
PLAN_STUDY_VERSION = STUDY_VERSION
GROWTH_WORDS = {"fixed": "a fixed rate", "loglinear": "the log-linear fit", "decaying": "the falling-rate fit",
                "user": "your P10/P50/P90"}


def _check_version(kind: str, data: Mapping | None, newest: int) -> None:
    version = (data or {}).get("version", 1)
    if isinstance(version, int) and not isinstance(version, bool) and version > newest:
        raise UserError(f"{kind} study version {version} is newer than this Fleetcast reads ({newest}): "
                        "update Fleetcast")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pct(value) -> str:
    return f"{value * 100:,.4g}%" if _number(value) else repr(value)


def _num(value, unit: str = "") -> str:
    return f"{value:,.6g}{unit}" if _number(value) else repr(value)


# ---- forecast --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ForecastStudy:
    """A forecast scenario as the Forecast view shows it (the model itself is ForecastScenario)."""

    scenario: ForecastScenario = field(default_factory=default_scenario)
    version: int = FORECAST_STUDY_VERSION

    def to_dict(self) -> dict:
        """The scenario's params (what a saved scenario holds at its top level)."""
        out = scenario_to_dict(self.scenario)
        if self.version > 1:
            out["version"] = self.version
        return out

    @classmethod
    def from_dict(cls, data: Mapping | None, *, check: bool = True, fit: bool = True) -> "ForecastStudy":
        """A saved scenario's params: "ui" (the other views' studies) and keys this version does
        not know are dropped, missing ones take the defaults of the model; a newer version is
        refused; bad values raise ValidationError naming each field (`check=False`: only values
        of the wrong type; values that don't fit together are kept for `problems()` to name)."""
        _check_version("forecast", data, FORECAST_STUDY_VERSION)
        known = set(scenario_to_dict(ForecastScenario()))
        params = {k: v for k, v in (data or {}).items() if k in known}
        return cls(scenario_from_dict(params, check=check, fit=fit))

    @classmethod
    def to_show(cls, data: Mapping | None) -> tuple["ForecastStudy | None", str]:
        """(study, "") for a form to show saved params: checked, or as saved when the values only
        don't fit together (a logistic curve without a ceiling: `problems()` names what to fix);
        (None, why) when no form can show them (wrong types, a newer version)."""
        try:
            return cls.from_dict(data), ""
        except ValidationError as exc:
            why = f"This scenario has values the forecast can't use: {exc}"
        except UserError as exc:
            return None, str(exc)
        try:
            return cls.from_dict(data, check=False), ""
        except UserError:
            return None, why

    def problems(self, models: Mapping | None = None) -> list[StudyProblem]:
        """Every check of the forecast (all of validate_scenario's), in the form's words and units;
        with the model presets (`models`), also the request against the served model's context."""
        sc = self.scenario
        out: list[StudyProblem] = []
        add = lambda key, text: out.append(StudyProblem(key, text))  # noqa: E731
        if not START_YEARS[0] <= sc.start.year <= START_YEARS[1]:
            add("start", f"Start {sc.start.isoformat()[:7]}: use a month from {START_YEARS[0]}-01 to {START_YEARS[1]}-12.")
        if not (isinstance(sc.months, int) and 1 <= sc.months <= 600):
            add("months", f"Horizon {sc.months!r} months: use 1 to 600 months.")
        if not (isinstance(sc.trials, int) and 1 <= sc.trials <= 1_000_000):
            add("trials", f"Trials {sc.trials!r}: use 1 to 1,000,000 trials.")
        too_many = trial_months_problem(sc.trials, sc.months)
        if too_many and not any(p.field in ("months", "trials") for p in out):
            # refused before it runs (500,000 x 240 ran out of memory after 20 s)
            add("trials", f"Trials x horizon: {too_many}.")
        if not (isinstance(sc.seed, int) and sc.seed >= 0):
            add("seed", f"Seed {sc.seed!r}: use a whole number, 0 or more.")
        for what, u in [("Every order", sc.default_uncertainty)] + \
                [(f"{vendor} orders", u) for vendor, u in sc.vendor_uncertainty.items()] + \
                [(f"Order {order_id}", u) for order_id, u in sc.order_uncertainty.items()]:
            out += _uncertainty_problems(u, what)
        d = sc.demand
        if d.kind not in CURVE_KINDS:
            add("curve", f"Demand curve {d.kind!r} is unknown: pick {', '.join(CURVE_KINDS)}.")
        bad_points = False
        for point in d.points:
            if not (_number(point.tokens_per_day) and point.tokens_per_day > 0):
                add("points", f"Demand point {point.date}: {_num(point.tokens_per_day / 1e9 if _number(point.tokens_per_day) else point.tokens_per_day)} "
                              "billion tokens/day must be more than 0.")
                bad_points = True
        dates = [p.date for p in d.points]
        for day in sorted({x for x in dates if dates.count(x) > 1}):
            add("points", f"Two demand points share the date {day}: keep one.")
            bad_points = True
        if not (_number(d.growth_after_last_per_year) and d.growth_after_last_per_year > 0):
            add("growth", f"Fixed growth {_num(d.growth_after_last_per_year, ' ×/year')}: must be more than 0.")
        if not (_number(d.growth_rate_multiplier) and 0 < d.growth_rate_multiplier <= MAX_GROWTH_RATE_MULTIPLIER):
            add("growth_multiplier", f"Growth multiplier {_num(d.growth_rate_multiplier, ' ×')}: use more than 0 up "
                                     f"to {MAX_GROWTH_RATE_MULTIPLIER:g} × (1 = as fitted).")
        top = max((p.tokens_per_day for p in d.points if _number(p.tokens_per_day)), default=0.0)
        ceiling = d.ceiling_tokens_per_day
        if d.kind == "logistic" and not (ceiling is not None and _number(ceiling) and ceiling > top):
            add("ceiling", f"A logistic curve needs a ceiling above the largest demand point ({top / 1e12:,.4g} "
                           f"T tokens/day); it is {_num((d.ceiling_tokens_per_day or 0) / 1e12, ' T tokens/day')}.")
        if d.kind == "piecewise" and d.ceiling_tokens_per_day is not None \
                and not (_number(d.ceiling_tokens_per_day) and d.ceiling_tokens_per_day > 0):
            add("ceiling", f"Ceiling {_num(d.ceiling_tokens_per_day)} tokens/day: must be more than 0 (0 = none).")
        elif d.kind == "piecewise" and d.ceiling_tokens_per_day and _number(d.ceiling_tokens_per_day) \
                and top and d.ceiling_tokens_per_day <= top:
            # the curve bends toward a ceiling above the data; one below it was dropped without a word
            add("ceiling", f"Ceiling {d.ceiling_tokens_per_day / 1e12:,.4g} T tokens/day is not above the largest "
                           f"demand point ({top / 1e12:,.4g} T tokens/day): raise it, or 0 for none.")
        if not (_number(d.prefix_cache_hit) and 0 <= d.prefix_cache_hit < 1):
            add("prefix", f"Prefix-cache hits {_pct(d.prefix_cache_hit)}: use 0 to 99%.")
        if d.slo_percentile not in ("p50", "p90", "p99"):
            add("slo_percentile", f"Targets hold for {d.slo_percentile!r}: pick p90, p99 or p50.")
        if not (_number(d.length_spread) and 0 <= d.length_spread <= 10):
            add("length_spread", f"Length spread {_num(d.length_spread)}: use a coefficient of variation from 0 "
                                 "(every request the mean length) to 10.")
        if not (_number(d.peak_to_average) and d.peak_to_average >= 1):
            add("peak", f"Peak / average {_num(d.peak_to_average, ' ×')}: must be at least 1 ×.")
        if not (_number(d.input_tokens_per_request) and d.input_tokens_per_request >= 1):
            add("input", f"Input per request {_num(d.input_tokens_per_request, ' tokens')}: must be 1 token or more.")
        if not (_number(d.output_tokens_per_request) and d.output_tokens_per_request > 0):
            add("output", f"Output per request {_num(d.output_tokens_per_request, ' tokens')}: must be more than 0.")
        if models and d.model_id in models and not any(p.field in ("input", "output") for p in out):
            # saved, a request longer than the model's context failed every run of the scenario and
            # of each what-if on it; the field named is the one past the context (QA s29)
            field, too_long = context_fields(models[d.model_id], d.input_tokens_per_request,
                                             d.output_tokens_per_request)
            if too_long:
                add("output" if field == "output_tokens_per_request" else "input",
                    f"{'Output' if field == 'output_tokens_per_request' else 'Input'} per request: {too_long}.")
        if not (_number(d.scale) and d.scale >= 0):
            add("scale", f"Demand scale {_num(d.scale, ' ×')}: must be 0 or more.")
        for key, name, value in (("ttft", "TTFT target", d.ttft_ms), ("tpot", "TPOT target", d.tpot_ms)):
            if not (_number(value) and value > 0):
                add(key, f"{name} {_num(value, ' ms')}: must be more than 0 ms.")
        for key, name, allowed in (("weight_dtype", "Weight precision", SERVE_DTYPES),
                                   ("kv_dtype", "KV-cache precision", KV_DTYPES)):
            if getattr(d, key) not in allowed + ("fp32",):   # fp32: older scenarios (no chip serves it)
                add(key, f"{name} {getattr(d, key)!r}: pick {', '.join(allowed)}.")
        out += self._growth_problems(bad_points or any(p.field in ("growth", "curve") for p in out))
        if not (_number(d.request_mix_sigma) and 0 <= d.request_mix_sigma <= 3):
            add("mix_sigma", f"Mix uncertainty {_pct(d.request_mix_sigma)}: use 0 to 300%.")
        if not (_number(sc.throughput_sigma_scale) and 0 <= sc.throughput_sigma_scale <= 10):
            add("throughput_sigma", f"Throughput error {_num(sc.throughput_sigma_scale, ' ×')}: use 0 to 10 ×.")
        if not (_number(sc.training_efficiency_scale) and 0 < sc.training_efficiency_scale <= 10):
            add("training_efficiency", f"Training efficiency {_num(sc.training_efficiency_scale, ' ×')}: use more "
                                       "than 0 up to 10 ×.")
        if not (_number(sc.serving_efficiency_scale) and 0 < sc.serving_efficiency_scale <= 10):
            add("serving_efficiency", f"Serving efficiency {_num(sc.serving_efficiency_scale, ' ×')}: use more than "
                                      "0 up to 10 ×.")
        seen: set[str] = set()
        for i, ev in enumerate(sc.policy_events):
            what = f"Cut-off {i + 1}" + (f" ({ev.chip_id})" if ev.chip_id else "")
            if not ev.chip_id:
                add("cutoffs", f"{what}: pick the chip type it cuts off.")
            elif ev.chip_id in seen:
                add("cutoffs", f"{what}: one cut-off per chip type (this chip has one above).")
            seen.add(ev.chip_id)
            if not (_number(ev.probability) and 0 <= ev.probability <= 1):
                add("cutoffs", f"{what}: probability {_pct(ev.probability)} must be 0 to 100%.")
            if ev.window_end < ev.window_start:
                add("cutoffs", f"{what}: the window ends ({ev.window_end}) before it starts ({ev.window_start}).")
            if ev.duration_months is not None and not (_number(ev.duration_months) and ev.duration_months > 0):
                add("cutoffs", f"{what}: lasts {_num(ev.duration_months, ' months')}: must be more than 0 "
                               "(empty = for good).")
        a = sc.allocation
        for chip, share in list(a.training_share.items()) + [("other chip types", a.default_training_share)]:
            if not (_number(share) and 0 <= share <= 1):
                add(f"share.{chip}", f"Training share of {chip}: {_pct(share)} must be 0 to 100%.")
        for i, step in enumerate(a.steps):
            if not (_number(step.training_share) and 0 <= step.training_share <= 1):
                add("share", f"Dated share change {i + 1} ({step.chip_id}, {step.start}): "
                             f"{_pct(step.training_share)} must be 0 to 100%.")
        names: set[str] = set()
        for i, job in enumerate(sc.jobs):
            what = f"Training job '{job.name}'" if job.name else f"Training job {i + 1}"
            if not (_number(job.tokens) and job.tokens > 0):
                add("jobs", f"{what}: {_num(job.tokens / 1e12 if _number(job.tokens) else job.tokens)} "
                            "trillion tokens must be more than 0.")
            if not job.model_id:
                add("jobs", f"{what}: pick a model.")
            if not job.chip_id:
                add("jobs", f"{what}: pick a chip type.")
            if job.name in names:
                add("jobs", f"{what}: the name is used twice; rename one.")
            names.add(job.name)
        # Fields the form does not show (kept from the saved scenario): named as stored, so that
        # nothing validate_scenario refuses is ever let through unexplained.
        shown = ("months", "trials", "seed", "default_uncertainty", "vendor_uncertainty", "order_uncertainty",
                 "demand", "throughput_sigma_scale", "policy_events", "allocation", "jobs",
                 "serving_efficiency_scale", "training_efficiency_scale")
        # the Supply group's fields (gui/panels/forecast_supply.py), named as its own
        supply = ("as_of", "install_lag_days", "annual_failure_rate", "lifetime_years", "unscheduled_spread_months")
        raw = validate_scenario(sc)
        for text in raw:
            key = text.split(":", 1)[0]
            if key.startswith(supply):
                add("supply", f"Supply setting {text}.")
            elif not key.startswith(shown):
                add("other", f"Saved value {text} (not on the form: restore a backup of the scenario).")
        if raw and not out:  # a check this list does not word yet: never let it through unexplained
            out += [StudyProblem("other", text) for text in raw]
        return out

    def _growth_problems(self, skip_fit: bool) -> list[StudyProblem]:
        from engine.forecast_demand import GROWTH_MODELS, fit_growth

        d = self.scenario.demand
        out: list[StudyProblem] = []
        if d.growth_model not in GROWTH_MODELS:
            return [StudyProblem("growth_model", f"Growth after data {d.growth_model!r} is unknown: pick "
                                                 f"{', '.join(GROWTH_MODELS)}.")]
        if d.kind != "piecewise" or not d.points:
            return out
        if d.growth_model == "user":
            g = (d.growth_p10_per_year, d.growth_p50_per_year, d.growth_p90_per_year)
            if not all(_number(v) and v > 0 for v in g) or not g[0] <= g[1] <= g[2]:
                out.append(StudyProblem("growth", "Your growth needs 0 < P10 ≤ P50 ≤ P90 ×/year "
                                                  f"({' / '.join(_num(v) for v in g)} does not hold)."))
        if not (isinstance(d.fit_points, int) and d.fit_points >= 2):
            out.append(StudyProblem("growth_model", f"The growth fit uses {d.fit_points!r} points: "
                                                    "it needs 2 or more."))
        if not (_number(d.growth_sigma_floor) and 0 <= d.growth_sigma_floor <= 5):
            out.append(StudyProblem("sigma_floor", f"Fit error floor {_num(d.growth_sigma_floor)}: use 0 to 5."))
        if not out and not skip_fit:
            try:
                fit_growth(d)
            except ValueError as exc:
                need = {"loglinear": 2, "decaying": 3}.get(d.growth_model, 1)
                if len(d.points) < need:
                    out.append(StudyProblem("growth_model", f"Growth after data by {GROWTH_WORDS[d.growth_model]} "
                                                            f"needs at least {need} demand points; there are "
                                                            f"{len(d.points)}: add points or pick a fixed rate."))
                else:   # enough points, but they do not fit the model (demand falls between two)
                    reason = str(exc).split(": ", 1)[-1]
                    out.append(StudyProblem("growth_model", f"Growth after data by {GROWTH_WORDS[d.growth_model]} "
                                                            f"cannot be fitted: {reason}; edit the points or pick "
                                                            "another growth model."))
        return out


def _uncertainty_problems(u: OrderUncertainty, applies_to: str) -> list[StudyProblem]:
    out = [StudyProblem("uncertainty.delay" if "the delay" in text else "uncertainty.fraction", text + ".")
           for text in uncertainty_problems(u, applies_to)]
    if not (_number(u.vendor_common_share) and 0 <= u.vendor_common_share <= 1):
        out.append(StudyProblem("uncertainty.common", f"{applies_to}: the share common to the vendor "
                                                      f"{_pct(u.vendor_common_share)} must be 0 to 100%."))
    if u.fraction_of not in FRACTION_BASES:
        out.append(StudyProblem("uncertainty.fraction", f"{applies_to}: the fulfilled share applies to "
                                                        f"{u.fraction_of!r}: pick the whole order or what is "
                                                        "still outstanding."))
    return out


# ---- forecast results: key figures, the monthly table, the jobs table ------------------------

def serves_nothing(result: ForecastResult) -> bool:
    """No chip can serve the demand's model under its targets: capacity is 0 in every trial and no
    chip's rate gives a unit to count in, so every figure in unit chips is NaN (QA s37: a TPOT of
    8 ms read "0 of 60 months short" and "none within the horizon" beside P(meet) 0%)."""
    return not np.isfinite(np.asarray(result.balance_p50_unit_chips, dtype=float)).any()


SERVES_NOTHING_VALUE = "not counted (no chip serves the model under the targets)"   # a figure in unit chips


def demand_over_capacity_p50(result: ForecastResult) -> np.ndarray:
    """Per month: peak demand (median over trials) above the P50 serving capacity (balance_p50 < 0;
    in tokens/s where no chip serves, so there is no unit chip)."""
    if serves_nothing(result):
        return (np.asarray(result.serving_capacity_tokens_per_s.p50, dtype=float)
                < np.asarray(result.demand_peak_output_tokens_per_s, dtype=float))
    return np.asarray(result.balance_p50_unit_chips, dtype=float) < 0


def p50_short(result: ForecastResult) -> np.ndarray:
    """Per month: the median trial is short (P50 shortfall above 0). Where no chip serves, capacity
    is 0 in every trial: every month with demand."""
    if serves_nothing(result):
        return np.asarray(result.demand_peak_output_tokens_per_s, dtype=float) > 0
    return np.asarray(result.shortfall_p50_unit_chips, dtype=float) > 0


# what a command runs where no scenario is saved (the story's defaults), and the name it gives it
BUILT_IN_NAME = "built-in defaults (no scenario saved)"
NO_DEMAND_VALUE = "none (no demand to meet)"   # the key figures' first short month with no demand to meet


def no_demand(result: ForecastResult) -> bool:
    """The forecast had no demand to meet (0 tokens/day in every month: no demand points, or a demand
    scale of 0)."""
    return not np.any(np.asarray(result.demand_tokens_per_day, dtype=float) > 0)


def first_shortfall_month(result: ForecastResult) -> dt.date | None:
    """First month whose peak demand exceeds the P50 serving capacity, where the chart's demand
    line crosses capacity P50. Not read from shortfall_p50 > 0 (the median trial short, P(meet)
    < 50%), which may start a month later: on the story at 10,000 trials 2025-07 has demand 3.4
    chips over capacity P50 and a median shortfall of 0, so the label said 2025-08."""
    over = np.flatnonzero(demand_over_capacity_p50(result))
    return result.months[int(over[0])] if over.size else None


# A probability within this many binomial standard errors of 50% may fall on either side of it
# with another seed: the month the median shortfall starts is then the seed's choice (at 2,000
# trials the story's Jul 2025 P(meet) drew 0.48 to 0.53, and the first short month flipped). Two
# seeds' estimates differ by sqrt(2) standard errors, so 2 of those are 2.8: 3 (2 missed the
# default seed's 0.5315, 2.8 away, which other seeds put below 50%).
SEED_STANDARD_ERRORS = 3.0


def prob_meet_standard_error(result: ForecastResult) -> np.ndarray:
    """Binomial standard error of P(meet demand) per month, sqrt(p(1 - p) / trials): how far
    another seed moves it (0 where every trial agrees)."""
    p = np.clip(np.asarray(result.prob_meet_demand, dtype=float), 0.0, 1.0)
    return np.sqrt(p * (1.0 - p) / max(int(result.trials), 1))


def prob_error_points(trials: int) -> float:
    """One standard error of a probability near 50% at `trials`, in percentage points."""
    return 100.0 * 0.5 / math.sqrt(max(int(trials), 1))


def _seed_sensitive(result: ForecastResult) -> np.ndarray:
    """Per month: P(meet) within SEED_STANDARD_ERRORS of 50%, so another seed may put its median
    shortfall on the other side of 0."""
    p = np.asarray(result.prob_meet_demand, dtype=float)
    return np.abs(p - 0.5) <= SEED_STANDARD_ERRORS * prob_meet_standard_error(result) + 1e-12


def shortfall_seed_words(result: ForecastResult) -> tuple[str, str]:
    """(first short month, months short) as other seeds may give them, in words, or "" each when
    no month's P(meet) is within SEED_STANDARD_ERRORS of 50%: "2025-07 or 2025-08 by the seed (P(meet)
    2025-07 50.6% +-1.1 points, within 3 standard errors of 50% at 2,000 trials)", "45 to 46 ..."."""
    short = p50_short(result)
    near = _seed_sensitive(result)
    if not near.any():
        return "", ""
    months = list(result.months)
    se = prob_meet_standard_error(result)
    maybe, surely = np.flatnonzero(short | near), np.flatnonzero(short & ~near)
    # the first month is first_shortfall_month's (demand over capacity P50), so its range holds it
    over = demand_over_capacity_p50(result)
    first_maybe, first_surely = np.flatnonzero(over | near), np.flatnonzero(over & ~near)
    earliest = months[int(first_maybe[0])]   # a month near 50% is one that may be short
    latest = months[int(first_surely[0])] if first_surely.size else None
    why = "; ".join(f"{months[i]:%Y-%m} {result.prob_meet_demand[i]:.1%} +-{100 * se[i]:.1f} points"
                    for i in np.flatnonzero(near)[:3]) + ("; ..." if near.sum() > 3 else "")
    # "within Monte Carlo error" read as within one error: 53.1% +-1.1 is 2.8 of them from 50%
    why = f"P(meet) {why}, within {SEED_STANDARD_ERRORS:g} standard errors of 50% at {result.trials:,} trials"
    first = ""
    if earliest != latest:
        if latest is None:
            span = f"{earliest:%Y-%m} or later, or never"
        else:
            gap = (latest.year - earliest.year) * 12 + latest.month - earliest.month
            span = f"{earliest:%Y-%m} {'or' if gap == 1 else 'to'} {latest:%Y-%m}"
        first = f"{span} by the seed ({why})"
    few, many = int(surely.size), int(maybe.size)
    count = f"{few} to {many} by the seed ({why})" if few != many else ""
    return first, count


def prob_percent(share: float) -> float | int:
    """A probability in whole percent, with one decimal where that would read 0 or 100 and it is
    not, kept within 0.1 to 99.9: 0.9995 of the trials is 99.9, not a certainty (prob_percent_text
    says "> 99.9%")."""
    whole = round(share * 100)
    if not 0 < share < 1 or whole not in (0, 100):
        return whole
    return min(max(round(share * 100, 1), 0.1), 99.9)


def prob_percent_text(share: float) -> str:
    """A probability as text in whole percent, as `fleetcast forecast` prints it: "> 99.9%" or
    "< 0.1%" where it is not certain but rounds to it, one decimal where that reads 0% or 100%."""
    text = f"{share:.0%}"
    if 0 < share < 1 and text in ("0%", "100%"):
        text = f"{share:.1%}"
        if text == "100.0%":
            return "> 99.9%"
        if text == "0.0%":
            return "< 0.1%"
    return text


def prob_percent_cell(share: float) -> float | int | str:
    """A probability for a table people read (`fleetcast forecast`'s monthly P(meet)): prob_percent,
    but "< 0.1" / "> 99.9" where it is short of 0 or 100 by less than a tenth of a point, as
    prob_percent_text writes it. The number 0.1 stood for 3 trials of 10,000 (0.03%, the CSV's
    figure) as for 0.12%. A number for the files and the JSON (prob_percent) stays one."""
    text = prob_percent_text(share)
    return text.rstrip("%") if text[:1] in "<>" else prob_percent(share)


def round_figure(value: object, digits: int = 3) -> object:
    """A key figure to `digits` significant figures (numbers that are not whole only; dates, text
    and counts as they are): a P50 over 2,000 trials moves by about 1% with the seed, so
    2377840.80277982 chips claimed ten digits it has not."""
    if isinstance(value, bool) or not isinstance(value, float) or not math.isfinite(value) or value == 0:
        return value
    shown = float(f"{value:.{digits}g}")
    return round(shown) if abs(shown) >= 10 ** (digits - 1) else shown


def forecast_key_figures(result: ForecastResult, chip_names: Mapping[str, str] | None = None
                         ) -> list[tuple[str, object]]:
    """(label with unit, value) pairs summarising a forecast; values are numbers, dates or text."""
    names = chip_names or {}
    end = len(result.months) - 1
    rows: list[tuple[str, object]] = [("Horizon end (date)", result.months[end])]
    for chip in result.chip_ids:
        rows.append((f"Installed P50 at horizon end, {names.get(chip, chip)} (chips)",
                     float(result.installed_by_chip[chip].p50[end])))
    rows.append(("Installed P50 at horizon end, all types (chips)", float(result.installed_total.p50[end])))
    rows.append(("Installed P50 at horizon end (H100-equivalents)", float(result.h100_equiv_total.p50[end])))
    first_words, count_words = shortfall_seed_words(result)
    rows.append(("Months with a P50 shortfall (months)", int(np.count_nonzero(p50_short(result)))))
    if count_words:   # the count above is one seed's: said beside it (the labels above stay as they were)
        rows.append(("Months with a P50 shortfall, Monte Carlo range (months)", count_words))
    # with no demand points, "never" read as capacity covering demand (QA s36): there is none to meet
    rows.append(("First month demand exceeds capacity P50 (date)", first_shortfall_month(result)
                 or (NO_DEMAND_VALUE if no_demand(result) else "never")))
    if first_words:
        rows.append(("First month demand exceeds capacity P50, Monte Carlo range (date)", first_words))
    unit = names.get(result.unit_chip_id, result.unit_chip_id)
    rows.append((f"Largest P50 shortfall ({unit} chips)", SERVES_NOTHING_VALUE if serves_nothing(result)
                 else float(np.max(result.shortfall_p50_unit_chips, initial=0.0))))
    for months_in in (12, 24):
        label = f"P(meet demand) {months_in} months in (%)"
        inside = 0 <= months_in < len(result.months)
        # whole percent, as the Forecast summary and the report give it: 2,000 trials know a
        # probability near 95% to about half a point, so "95.55" claimed a precision it lacks
        rows.append((label, prob_percent(float(result.prob_meet_demand[months_in])) if inside else "beyond horizon"))
    for job in result.jobs:
        for q, value in (("P50", job.completion_p50), ("P90", job.completion_p90)):
            rows.append((f"Job '{job.job.name}' done {q} (date)", value or "after the horizon"))
        rows.append((f"Job '{job.job.name}' done within horizon (%)", prob_percent(job.prob_within_horizon)))
    return rows


@dataclass(frozen=True)
class TableColumn:
    key: str              # machine name with its unit (CSV and JSON), e.g. "capacity_p50_chips_h20-96gb"
    header: str           # people's name with its unit (the GUI's table and exports)
    values: np.ndarray    # in the key's unit
    scale: float = 1.0    # the header's unit per the key's (1: the same unit, as every column now)
    # a value in the header's unit as a file writes it (None: the number as it is)
    file_text: Callable[[float], str] | None = None


@dataclass(frozen=True)
class MonthlyTable:
    months: tuple
    columns: tuple[TableColumn, ...]

    def headers(self) -> list[str]:
        return ["Month"] + [c.header for c in self.columns]

    def rows(self) -> list[list]:
        """For people: values in the headers' units."""
        return [[month] + [float(c.values[i]) * c.scale for c in self.columns] for i, month in enumerate(self.months)]

    def file_rows(self) -> list[list]:
        """For an exported CSV: `rows` with each column's `file_text` applied (P(meet) to 2
        decimals, as `fleetcast forecast --format csv` writes it: the export wrote 99.9, 100 and
        96.65 beside its "99.90" and "100.00")."""
        return [[row[0]] + [value if c.file_text is None else c.file_text(value)
                            for c, value in zip(self.columns, row[1:])] for row in self.rows()]

    def keys(self) -> list[str]:
        return ["month"] + [c.key for c in self.columns]

    def records(self) -> list[dict]:
        """For files: {key: value} per month in the keys' units, NaN as None."""
        out = []
        for i, month in enumerate(self.months):
            row: dict = {"month": month.isoformat()}
            for c in self.columns:
                v = float(c.values[i])
                row[c.key] = v if math.isfinite(v) else None
            out.append(row)
        return out


def forecast_monthly_table(result: ForecastResult, chip_names: Mapping[str, str] | None = None) -> MonthlyTable:
    """The month-by-month table of a forecast, one definition for the CLI and the GUI."""
    names = chip_names or {}
    r = result
    unit = r.unit_chip_id
    unit_name = f"{names.get(unit, unit)} chips"
    cols = [TableColumn("installed_p10_chips", "Installed P10 (chips)", r.installed_total.p10),
            TableColumn("installed_p50_chips", "Installed P50 (chips)", r.installed_total.p50),
            TableColumn("installed_p90_chips", "Installed P90 (chips)", r.installed_total.p90)]
    cols += [TableColumn(f"installed_p50_chips_{c}", f"Installed P50 {names.get(c, c)} (chips)",
                         r.installed_by_chip[c].p50) for c in r.chip_ids]
    cols += [TableColumn("pflops_p50", "Peak compute P50 (PFLOP/s BF16)", r.pflops_total.p50),
             TableColumn("h100_equiv_p50", "H100-equivalents P50 (chips)", r.h100_equiv_total.p50),
             TableColumn(f"capacity_p10_chips_{unit}", f"Capacity P10 ({unit_name})", r.serving_capacity_unit_chips.p10),
             TableColumn(f"capacity_p50_chips_{unit}", f"Capacity P50 ({unit_name})", r.serving_capacity_unit_chips.p50),
             TableColumn(f"capacity_p90_chips_{unit}", f"Capacity P90 ({unit_name})", r.serving_capacity_unit_chips.p90),
             TableColumn("demand_tokens_per_day", "Demand (tokens/day)", np.asarray(r.demand_tokens_per_day)),
             TableColumn(f"demand_chips_{unit}", f"Peak demand ({unit_name})", np.asarray(r.demand_unit_chips))]
    if r.demand_unit_chips_bands is not None:
        # demand growth is most of the forecast's uncertainty: its band beside the central curve
        cols += [TableColumn(f"demand_p10_chips_{unit}", f"Peak demand P10 ({unit_name})", r.demand_unit_chips_bands.p10),
                 TableColumn(f"demand_p90_chips_{unit}", f"Peak demand P90 ({unit_name})", r.demand_unit_chips_bands.p90)]
    cols += [TableColumn(f"shortfall_p50_chips_{unit}", f"Shortfall P50 ({unit_name})",
                         np.asarray(r.shortfall_p50_unit_chips)),
             # in percent in files too, as its header, the summary and the export say: a bare
             # fraction (0.01 for 1%) beside them read as a percent. The JSON's prob_meet_demand
             # (a share, a contract) is another series (engine.commands.forecast).
             TableColumn("prob_meet_demand_pct", "P(meet demand) (%)", 100.0 * np.asarray(r.prob_meet_demand),
                         file_text=file_percent_text)]
    return MonthlyTable(tuple(r.months), tuple(cols))


def file_percent_text(percent: float) -> str:
    """A percent of trials as files write it: engine.commands.forecast.file_percent (2 decimals,
    never "100.00" or "0.00" where it is not); blank where there is no value. The monthly table
    and the Forecast's P(meet) chart write their files with it."""
    from engine.commands.forecast import file_percent

    return file_percent(percent / 100.0) if math.isfinite(percent) else ""



JOB_HEADERS = ["Job", "Model", "Chip type", "Tokens (T tokens)", "Earliest start (date)", "Start P50 (date)",
               "Done P10 (date)", "Done P50 (date)", "Done P90 (date)", "Done within horizon (%)",
               "Deadline (date)", "Done by deadline (%)"]


def _deadline_cell(job) -> float | str:
    if job.deadline_unknown:
        return f"n/a: {DEADLINE_AFTER_HORIZON}"
    return "" if job.prob_by_deadline is None else job.prob_by_deadline * 100


def forecast_job_table(result: ForecastResult, chip_names: Mapping[str, str] | None = None,
                       model_names: Mapping[str, str] | None = None) -> tuple[list[str], list[list]]:
    names, models = chip_names or {}, model_names or {}
    rows = [[j.job.name, models.get(j.job.model_id, j.job.model_id), names.get(j.job.chip_id, j.job.chip_id), j.job.tokens / 1e12,
             j.job.earliest_start, j.start_p50 or "", j.completion_p10 or "after horizon",
             j.completion_p50 or "after horizon", j.completion_p90 or "after horizon", j.prob_within_horizon * 100,
             # the job's deadline and the chance it is met (the editor's tooltip promised it); not known
             # where the deadline is after the horizon and some trials don't finish within it
             j.job.deadline or "", _deadline_cell(j)]
            for j in result.jobs]
    return list(JOB_HEADERS), rows


# ---- plan ------------------------------------------------------------------------------------

CANDIDATE_FIELDS = (("unit_price_usd", "price", "USD", 1e-9), ("lead_time_months", "lead time", "months", 0.0),
                    ("max_per_quarter", "most per quarter", "chips", 0.0))
CANDIDATE_WHOLE = {"lead_time_months": 120, "max_per_quarter": 100_000_000}   # whole numbers, and their ceilings


def _month(text) -> dt.date | None:
    if isinstance(text, dt.date):
        return text.replace(day=1)
    if not isinstance(text, str) or not text:
        return None
    try:
        return iso_day(text + "-01" if len(text) == 7 else text).replace(day=1)
    except ValueError:
        return None



# the trials a plan may be fitted on: the CLI's --samples and the Plan view's "Fitted on"
PLAN_SAMPLES = (20, 2000)


@dataclass(frozen=True)
class PlanStudy:
    """The Plan view's inputs; the vendor risk and demand come from the scenario's forecast."""

    confidence: float = 0.9              # P(serving capacity >= peak demand), 0.5 to 0.999
    from_month: str | None = None        # "YYYY-MM"; None: the first month orders placed now can reach
    # "YYYY-MM", the last month the target must hold; None: the horizon's end, as `fleetcast plan`
    # (the view planned to a fixed 2026-12 while the CLI planned to 2029-04 for the same scenario)
    until_month: str | None = None
    budget_usd: float | None = None      # None: no limit
    samples: int = 200                   # Monte Carlo trials the plan is fitted on
    # Per candidate chip: {"use": bool, "unit_price_usd", "lead_time_months", "max_per_quarter"}
    # (what differs from resources/plan_candidates.csv and the catalog's price); {} = the defaults.
    candidates: Mapping = field(default_factory=dict)
    version: int = PLAN_STUDY_VERSION

    def to_dict(self) -> dict:
        return {"confidence": self.confidence, "from_month": self.from_month, "until_month": self.until_month,
                "budget_usd": self.budget_usd, "samples": self.samples,
                "candidates": {k: dict(v) for k, v in self.candidates.items()}, "version": self.version}

    @classmethod
    def from_dict(cls, data: Mapping | None) -> "PlanStudy":
        """Tolerant of old and partial dicts (the Plan view saved "from"/"until" before studies)."""
        _check_version("plan", data, PLAN_STUDY_VERSION)
        data = dict(data or {})
        for old, new in (("from", "from_month"), ("until", "until_month")):
            if old in data and new not in data:
                data[new] = data.pop(old)
        names = {f.name for f in fields(cls)} - {"version"}
        known = {k: v for k, v in data.items() if k in names}
        if not isinstance(known.get("candidates"), Mapping):
            known.pop("candidates", None)
        else:
            known["candidates"] = {str(k): dict(v) for k, v in known["candidates"].items() if isinstance(v, Mapping)}
        for key in ("from_month", "until_month"):
            if key in known and not known[key]:
                known[key] = None
        if "budget_usd" in known and not known["budget_usd"]:
            known["budget_usd"] = None  # 0 meant "no limit" in the form
        return cls(**known)

    def candidate_list(self, defaults: Sequence) -> list:
        """The default candidates (engine.commands.plan.default_candidates) with this study's
        edits, unticked ones left out."""
        out = []
        for c in defaults:
            edit = dict(self.candidates.get(c.chip_id, {}))
            if edit.get("use", True) is False:
                continue
            values = {k: edit[k] for k, *_ in CANDIDATE_FIELDS if k in edit}
            if "lead_time_months" in values and _number(values["lead_time_months"]):
                values["lead_time_months"] = int(values["lead_time_months"])
            out.append(replace(c, **values))
        return out

    def problems(self, defaults: Sequence = ()) -> list[StudyProblem]:
        out: list[StudyProblem] = []
        if not (_number(self.confidence) and 0.5 <= self.confidence < 1):
            out.append(StudyProblem("confidence", f"Confidence {_pct(self.confidence)}: use 50% to 99.9%."))
        until = _month(self.until_month) if self.until_month is not None else None
        if self.until_month is not None and until is None:
            out.append(StudyProblem("until", f"Until {self.until_month!r}: a month, YYYY-MM."))
        if self.from_month is not None:
            start = _month(self.from_month)
            if start is None:
                out.append(StudyProblem("from", f"From {self.from_month!r}: a month, YYYY-MM."))
            elif until is not None and start > until:
                out.append(StudyProblem("from", f"From {start:%Y-%m} is after Until {until:%Y-%m}."))
        if self.budget_usd is not None and not (_number(self.budget_usd) and self.budget_usd > 0):
            out.append(StudyProblem("budget", f"Budget {_num(self.budget_usd)} USD: more than 0 (empty = no limit)."))
        if not (isinstance(self.samples, int) and not isinstance(self.samples, bool)
                and PLAN_SAMPLES[0] <= self.samples <= PLAN_SAMPLES[1]):
            out.append(StudyProblem("samples", f"Fitted on {self.samples!r} trials: use {PLAN_SAMPLES[0]} to {PLAN_SAMPLES[1]:,}."))
        used = 0
        for c in defaults:
            edit = self.candidates.get(c.chip_id, {})
            if edit.get("use", True) is False:
                continue
            used += 1
            for key, words, unit, low in CANDIDATE_FIELDS:
                value = edit.get(key, getattr(c, key))
                if not (_number(value) and value >= low):
                    out.append(StudyProblem(f"candidate.{c.chip_id}.{key}",
                                            f"{c.chip_id} {words}: {value!r} (must be a number of {unit}, "
                                            f"{'more than 0' if low > 0 else '0 or more'})."))
                elif key in CANDIDATE_WHOLE and (value != int(value) or value > CANDIDATE_WHOLE[key]):
                    # a lead time of 2.5 months was planned as 2, a cap of 1.5 chips as 1; 1e9 months
                    # ended in "year 83335358 is out of range"
                    out.append(StudyProblem(f"candidate.{c.chip_id}.{key}",
                                            f"{c.chip_id} {words}: {value!r} (must be a whole number of {unit}, "
                                            f"at most {CANDIDATE_WHOLE[key]:,})."))
        if defaults and not used:
            out.append(StudyProblem("candidates", "Tick at least one candidate chip."))
        return out

    def request(self, defaults: Sequence):
        """The engine's PlanRequest (UserError listing the problems when there are any)."""
        problems = self.problems(defaults)
        if problems:
            raise UserError("; ".join(p.message for p in problems))
        return PlanRequest(candidates=tuple(self.candidate_list(defaults)), confidence=float(self.confidence),
                           from_month=_month(self.from_month),
                           until_month=_month(self.until_month) if self.until_month is not None else None,
                           budget_usd=self.budget_usd, samples=int(self.samples))


BASELINE_NAME = "Story default"


def baseline_name(names, stored: str | None = "") -> str | None:
    """The scenario used when none is named (the CLI's forecast, plan, backtest, report and export;
    Compare's baseline): the database's baseline `stored` (`Store.baseline_name`), which a rename
    keeps; without a store's word ("" here), "Story default" when saved, else the first by name.
    A store whose baseline is gone (deleted) has none: a UserError naming the saved scenarios, where
    the first by name ran a what-if ("H20 cut off") as if it were the baseline."""
    names = list(names)
    if stored and stored in names:
        return stored
    if stored == "" and BASELINE_NAME in names:
        return BASELINE_NAME
    if stored == "" or not names:
        return sorted(names)[0] if names else None
    raise UserError("no baseline scenario (it was deleted); name one with --scenario: "
                    + ", ".join(repr(n) for n in sorted(names)[:6]) + (" ..." if len(names) > 6 else "")
                    + " (a scenario renamed to the deleted baseline's name becomes the baseline)")


# ---- notes written for other values ------------------------------------------------------------
# A note is provenance ("served model ..., TTFT 2 s, TPOT 50 ms (assumptions)"): once the values it
# argues for are edited it is kept, said to be about the earlier values. Kept as it was, a what-if
# at TPOT 25 ms read "TPOT 25 ms" and then a note giving 50 ms as the assumption. The Forecast's
# vendor notes (gui.panels.forecast_uncertainty) carry the same words.
# What a demand note does not describe: the points carry notes of their own, and the unit chip is
# what chips are counted in, no claim about demand.
DEMAND_NOT_IN_NOTE = ("points", "chip_id")


def _note_of(item) -> str:
    note = item.get("note") if isinstance(item, Mapping) else getattr(item, "note", "")
    return note if isinstance(note, str) else ""


def _described(item, ignore: Sequence[str]) -> dict:
    """The values a note speaks for: every field but the note and `ignore`."""
    if isinstance(item, Mapping):
        return {k: v for k, v in item.items() if k != "note" and k not in ignore}
    return {f.name: getattr(item, f.name) for f in fields(item) if f.name != "note" and f.name not in ignore}


def note_for_values(before, after, ignore: Sequence[str] = ()):
    """`after` with its note marked as written for earlier values (EDITED_NOTE + the note) where it
    kept `before`'s note but not the values that note describes (a field other than the note and
    `ignore` differs); `after` unchanged otherwise: a note of its own, no note, values unchanged, or
    marked already. `before` and `after`: one dataclass (DemandCurve, PolicyEvent, OrderUncertainty)
    or the mappings a scenario's params hold for one."""
    note = _note_of(after)
    if before is None or not note or note.startswith(EDITED_NOTE) or note != _note_of(before) \
            or _described(before, ignore) == _described(after, ignore):
        return after
    if isinstance(after, Mapping):
        return {**after, "note": EDITED_NOTE + note}
    return replace(after, note=EDITED_NOTE + note)


def flag_edited_notes(base: Mapping | None, params: Mapping) -> dict:
    """A scenario's params (a what-if as resolved over its baseline's params `base`) with every note
    it took from `base` marked (note_for_values) where it changed what that note describes: the
    demand's, each cut-off's (by its chip), the delivery uncertainty's (default, vendor, order). A
    what-if stored as its changes alone (TPOT 50 -> 25 ms) kept the baseline's note unmarked."""
    out = dict(params)
    if not isinstance(base, Mapping):
        return out
    if isinstance(out.get("demand"), Mapping):
        out["demand"] = note_for_values(base.get("demand"), out["demand"], DEMAND_NOT_IN_NOTE)
    if isinstance(out.get("default_uncertainty"), Mapping):
        out["default_uncertainty"] = note_for_values(base.get("default_uncertainty"), out["default_uncertainty"])
    for key in ("vendor_uncertainty", "order_uncertainty"):
        mine, theirs = out.get(key), base.get(key)
        if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
            out[key] = {k: note_for_values(theirs.get(k), v) if isinstance(v, Mapping) else v for k, v in mine.items()}
    events, base_events = out.get("policy_events"), base.get("policy_events")
    if isinstance(events, list) and isinstance(base_events, list):   # one cut-off per chip: matched by it
        by_chip = {e.get("chip_id"): e for e in base_events if isinstance(e, Mapping)}
        out["policy_events"] = [note_for_values(by_chip.get(e.get("chip_id")), e) if isinstance(e, Mapping) else e
                                for e in events]
    return out


def scenario_of(params: Mapping | None, name: str = BASELINE_NAME) -> ForecastScenario:
    """The forecast scenario a Plan (or any view) works on: a saved scenario's params, or the
    story's default under the name the GUI shows for it. ValidationError for bad values."""
    if not params:
        return replace(default_scenario(), name=name)
    scenario = ForecastStudy.from_dict(params).scenario
    return scenario if params.get("name") else replace(scenario, name=name)


def throughput_key(scenario: ForecastScenario) -> tuple:
    """What `engine.forecast_inputs.build_inputs` reads from a scenario: equal keys give equal
    throughputs, so the (slow) engine runs behind a forecast or a plan can be reused."""
    d = scenario.demand
    return (d.model_id, d.input_tokens_per_request, d.output_tokens_per_request, d.ttft_ms, d.tpot_ms,
            d.chip_id, tuple(d.serve_on), d.weight_dtype, d.kv_dtype, d.prefix_cache_hit, d.slo_percentile,
            d.length_spread,
            tuple(scenario.jobs))


@dataclass(frozen=True)
class PlanJob:
    """Everything one plan needs (immutable: a worker runs it)."""

    orders: tuple
    chips: Mapping
    models: Mapping
    scenario: ForecastScenario
    request: PlanRequest
    cached: tuple | None = None   # (key, inputs, training rates) of an earlier job

    def inputs_key(self) -> tuple:
        # the catalog entries themselves: an edited chip or model preset must be priced again
        return (throughput_key(self.scenario), tuple(c.chip_id for c in self.request.candidates), self.orders,
                tuple(sorted(self.chips.items(), key=lambda kv: kv[0])),
                tuple(sorted(self.models.items(), key=lambda kv: kv[0])))


def compute_plan(job: PlanJob, *, progress=None, should_stop=None):
    """(PlanResult, cache) for a job: the candidates' throughputs (or the cached ones, while the
    scenario's serving inputs, the candidates and the orders stay the same), then the plan."""
    from engine.commands.plan import plan_inputs, training_rates
    from engine.forecast_plan import solve_plan

    report = progress or (lambda f, m="": None)
    key = job.inputs_key()
    if job.cached is not None and job.cached[0] == key:
        inputs, rates = replace(job.cached[1], scenario=job.scenario), job.cached[2]
    else:
        report(0.05, "Serving and training throughput of each candidate…")
        inputs = plan_inputs(list(job.orders), job.chips, job.models, job.scenario, job.request.candidates)
        rates = training_rates(job.models, job.chips, job.scenario, job.request.candidates)
    if should_stop is not None and should_stop():
        from engine.errors import Cancelled

        raise Cancelled()
    report(0.6, "Solving over the Monte Carlo trials…")
    result = solve_plan(inputs, job.request, training_tokens_per_s=rates, should_stop=should_stop)
    return result, (key, inputs, rates)


# ---- plan results ----------------------------------------------------------------------------

def plan_lowest_prob(result, with_plan: bool = True) -> float:
    """The lowest P(meet demand) over the target months (fresh trials), NaN without months."""
    values = result.prob_meet_demand if with_plan else result.prob_meet_without
    target = [i for i, m in enumerate(result.months) if result.from_month <= m <= result.until_month]
    return float(np.min(np.asarray(values)[target])) if target else float("nan")


def plan_curve_name(result) -> str:
    """What the "with the plan" capacity curve of a result shows: the plan's, the fleet's own when
    no plan was found (no orders), or a plan found and then refused (over budget, short on fresh
    trials), which must not read as a plan to act on."""
    if result.feasible:
        return "With plan"
    return "With the refused plan" if result.orders else "Without a plan"


def plan_deliveries(result) -> np.ndarray:
    """Planned deliveries due per month of the result, the whole ordered quantity, in the unit chips
    of its capacity chart (the bars share that axis: 291,000 H20 were drawn as 291,000 910B2, where
    each serves 1.37 of them; unit_chip_worth)."""
    return _due_per_month(result, lambda o: o.quantity)


def plan_expected_deliveries(result) -> np.ndarray | None:
    """As plan_deliveries, the chips expected to arrive from each order instead (its vendor's
    fulfilment and export cut-offs, the mean over the fresh trials; late lots too), at its due
    month: 41,000 H20 ordered, about 33,000 expected. None where an order lacks that figure."""
    if any(o.expected_delivered is None for o in result.orders):
        return None
    return _due_per_month(result, lambda o: o.expected_delivered)


def _due_per_month(result, chips_of) -> np.ndarray:
    out = np.zeros(len(result.months))
    for o in result.orders:
        if o.delivery_month in result.months:
            out[result.months.index(o.delivery_month)] += chips_of(o) * unit_chip_worth(result, o.chip_id)
    return out


def unit_chip_worth(result, chip_id: str) -> float:
    """How many of the result's unit chips one `chip_id` serves as (its serving rate over the unit
    chip's: an H20 at 349 output tokens/s is 349 / 261 = 1.34 Ascend 910B2); 1 where a rate is unknown."""
    rate = {e.chip_id: e.serving_output_tokens_per_s for e in result.economics}
    unit = rate.get(result.unit_chip_id) or 0.0
    return rate[chip_id] / unit if unit > 0 and rate.get(chip_id) else 1.0


def plan_view_window(result, months_before: int = 4, months_after: int = 4) -> tuple[int, int, float]:
    """(first, last month index, top of the value axis) the Plan's capacity chart shows: the target
    months with some before and after, and every month a planned order is due (a month before the
    first), up to the largest capacity P90, demand or delivery there. Drawn over the whole horizon,
    a demand of 2.5 M chips by 2029 left a 39,000-chip plan for Mar-Jun 2025 in the bottom few
    pixels; drawn from four months before the target, a plan for Oct-Dec 2025 due in Feb-May showed
    none of its deliveries at 1280x720 (QA s35)."""
    months = list(result.months)
    if not months:
        return 0, 0, 1.0
    first = next((i for i, m in enumerate(months) if m >= result.from_month), 0)
    last = max((i for i, m in enumerate(months) if m <= result.until_month), default=len(months) - 1)
    deliveries = plan_deliveries(result)
    due = np.flatnonzero(np.asarray(deliveries, float) > 0)
    i0, i1 = max(first - months_before, 0), min(last + months_after, len(months) - 1)
    if due.size:
        i0, i1 = min(i0, max(int(due[0]) - 1, 0)), max(i1, min(int(due[-1]) + 1, len(months) - 1))
    _lo, _mid, hi = result.capacity_unit_chips
    shown = [np.asarray(hi, float)[i0:i1 + 1], np.asarray(result.demand_unit_chips, float)[i0:i1 + 1],
             deliveries[i0:i1 + 1]]
    top = max((float(np.nanmax(v)) for v in shown if v.size and np.isfinite(v).any()), default=0.0)
    return i0, i1, top * 1.08 if top > 0 else 1.0


def plan_order_table(result, chip_names: Mapping[str, str] | None = None) -> tuple[list[str], list[list]]:
    names = chip_names or {}
    headers = ["Chip", "Quantity (chips)", "Order month (date)", "Due (date)", "Cost (million USD)"]
    return headers, [[names.get(o.chip_id, o.chip_id), o.quantity, o.order_month, o.delivery_month, o.cost_usd / 1e6]
                     for o in (result.orders if result is not None else ())]   # None: no plan yet


def plan_economics_table(result, chip_names: Mapping[str, str] | None = None) -> tuple[list[str], list[list]]:
    names = chip_names or {}
    econ = result.economics if result is not None else ()
    # the costs' basis in their headers: capital over the chip's life, served at the average load,
    # training at the scenario's goodput (the tokens/s column is before it)
    life = f"capital, {econ[0].life_years:g}-year life, " if econ else ""
    served = f" ({life}average load = peak / {econ[0].peak_to_average:g})" if econ else ""
    trained = f" ({life}at {econ[0].training_goodput:.0%} goodput)" if econ else ""
    # served tokens are input + output (README): beside an output-only tokens/s column a reader
    # took $0.049 for the price of an output token ($0.32, 6.5x more, on the H20)
    headers = ["Chip", "Price (USD)", "Serving (output tokens/s per chip)",
               f"USD per million served tokens, input + output{served}",
               "Training (tokens/s per chip, before goodput)", f"USD per million training tokens{trained}"]
    na = lambda v: v if v is not None else "n/a"  # noqa: E731
    return headers, [[names.get(e.chip_id, e.chip_id), e.unit_price_usd, e.serving_output_tokens_per_s,
                      na(e.usd_per_million_served_tokens), na(e.training_tokens_per_s),
                      na(e.usd_per_million_training_tokens)]
                     for e in (result.economics if result is not None else ())]


def plan_cost_series(result) -> tuple[str, str]:
    """The cost charts' series names, their basis short enough for a legend at 1280 px (the
    table's full headers were cut off under the chart)."""
    econ = result.economics if result is not None else ()
    if not econ:
        return "USD per million served tokens, input + output", "USD per million training tokens"
    e = econ[0]
    return (f"USD per million served tokens, input + output (capital, {e.life_years:g} y, load = peak / "
            f"{e.peak_to_average:g})",
            f"USD per million training tokens (capital, {e.life_years:g} y, {e.training_goodput:.0%} goodput)")


def plan_order_rows(result, confidence: float, candidates: Sequence) -> list[dict]:
    """Each planned order as an assumption order row (the Fleet's fields), for "Add as orders"."""
    from engine.forecast_plan_verdict import first_of_month_text

    vendors = {c.chip_id: c.vendor for c in candidates}
    prices = {c.chip_id: c.unit_price_usd for c in candidates}
    return [{"buyer": "plan", "vendor": vendors.get(o.chip_id, ""), "chip_id": o.chip_id, "quantity": o.quantity,
             "order_date": o.order_month.isoformat(), "promised": f"{o.delivery_month.isoformat()}:{o.quantity}",
             "price_usd_per_chip": prices.get(o.chip_id), "status": "assumption", "source": "fleetcast plan",
             # the days the target is read on, as the plan says them ("2025-03..2025-05" read as the
             # whole of May, where the plan is checked on 1 May; QA s28)
             "note": f"planned for P(meet demand) >= {pct_text(confidence)} "
                     f"{first_of_month_text(result.from_month, result.until_month)}"} for o in result.orders]


__all__ = [
    "BASELINE_NAME", "baseline_name", "EDITED_NOTE", "DEMAND_NOT_IN_NOTE", "note_for_values", "flag_edited_notes",
    "ForecastStudy", "PlanStudy", "MonthlyTable", "TableColumn", "FORECAST_STUDY_VERSION", "PLAN_STUDY_VERSION",
    "forecast_key_figures", "forecast_monthly_table", "forecast_job_table", "first_shortfall_month", "scenario_of",
    "prob_meet_standard_error", "prob_error_points", "shortfall_seed_words", "round_figure", "prob_percent",
    "prob_percent_text", "prob_percent_cell",
    "plan_lowest_prob", "throughput_key", "PlanJob", "compute_plan", "plan_deliveries", "plan_expected_deliveries", "unit_chip_worth", "plan_order_table", "plan_economics_table", "plan_cost_series", "plan_order_rows",
]


def forecast_run_context(result: ForecastResult, scenario: str | None = None) -> dict:
    """The Monte Carlo run behind a forecast's exported files, with the CLI line that repeats it
    (the files named only the scenario, not the trials or the seed). `scenario`: the saved
    scenario it ran (the line repeated the default scenario's forecast under a what-if's files)."""
    first, n = result.months[0], len(result.months)
    named = f"--scenario {shlex.quote(scenario)} " if scenario else ""
    return {"Run": f"{result.trials:,} trials, seed {result.seed}, {n} months from {first:%Y-%m} (fleetcast forecast "
                   f"{named}--start {first:%Y-%m} --months {n} --trials {result.trials} --seed {result.seed})"}
