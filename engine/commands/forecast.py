"""`fleetcast forecast`: supply vs demand per month, and when training jobs finish."""

from __future__ import annotations

import math
from dataclasses import replace

from engine.cli import add_command, check_seed
from engine.commands import Output, whole_number
from engine.errors import UserError

UNITS = {
    "capacity_p10/p50/p90": "serving capacity in chips of `unit_chip_id` (output tokens/s of every serving "
                            "share over that chip's SLO-bounded output tokens/s)",
    "demand": "chips of `unit_chip_id` needed at peak: the median over trials of the drawn demand (growth after "
              "the last point and the request mix, so it moves a little with the seed), not a curve through the "
              "points; demand_p10/p90: its band over trials",
    "shortfall_p50": "median over trials of max(demand - capacity, 0), chips of `unit_chip_id` (not demand - capacity_p50)",
    "balance_p50": "capacity_p50 - demand (negative = shortfall), chips of `unit_chip_id`",
    "prob_meet_demand": "share of trials whose serving capacity covers the peak demand",
    "prob_meet_demand_se": "binomial standard error of prob_meet_demand, sqrt(p(1-p)/trials): how far another "
                           "seed moves it (0 where every trial agrees)",
    "installed_p10/p50/p90": "chips installed, every chip type",
    "pflops": "PFLOP/s dense BF16", "h100_equiv": "chips x BF16 peak / H100 SXM BF16 peak (989.4 TFLOP/s)",
    "demand_tokens_per_day": "average tokens/day, input + output (median over trials)",
    "demand_peak_output_tokens_per_s": "output tokens/s at peak",
    # its name (a contract) does not say "output": the unit does
    "serving_capacity_tokens_per_s_p50": "output tokens/s of every chip's serving share (median over trials)",
    "prob_done_by_deadline": "share of trials a job is done by its deadline; null without one, or when the deadline "
                             "is after the horizon and some trials don't finish within it (see the _note)",
}


def register(subparsers) -> None:
    p = add_command(subparsers, "forecast", "supply vs demand per month under delivery uncertainty "
                                            "(Monte Carlo P10/P50/P90), and training-job completion dates")
    # (the baseline's name is not written here: it was wrong once the baseline was renamed)
    p.add_argument("--scenario", metavar="NAME", help="a saved scenario (default: the database's baseline scenario)")
    p.add_argument("--trials", type=whole_number, metavar="N", help="Monte Carlo trials (default: the scenario's)")
    p.add_argument("--months", type=whole_number, metavar="M", help="months to forecast (default: the scenario's)")
    p.add_argument("--seed", type=whole_number, metavar="S", help="random seed (default: the scenario's)")
    p.add_argument("--start", metavar="YYYY-MM", help="first month (default: the scenario's)")
    p.set_defaults(handler=run)


def name_default_scenario(args, ctx) -> None:
    """No --scenario: the database's baseline ("Story default" as saved, edits included), the one
    `report`, `export` and the window show under that name; the built-in story only without a
    database or a saved scenario."""
    if args.scenario:
        return
    try:
        store = ctx.store()
    except ImportError:
        return
    if store is not None:
        from engine.studies_forecast import baseline_name

        args.scenario = baseline_name((s["name"] for s in store.scenarios()), store.baseline_name()
                                      if hasattr(store, "baseline_name") else "")


def what_if_of(store, name: str | None) -> tuple[str | None, list[str]]:
    """(its baseline's name, its changes from that baseline in words) of scenario `name` as
    stored (read only): a what-if's output named neither, so "H20 cut off" read as a forecast
    of its own. (None, []) for a whole scenario, or one that cannot be read. The changes are
    the ones that still differ from the baseline as it is now, as Compare lists them."""
    from engine.scenario_changes import describe_changes, diff_params, effective_changes
    from engine.studies import chip_labels

    if store is None or not name:
        return None, []
    lead: list[str] = []
    try:
        row = store.scenario(name)
        base = row.get("base")
        baseline = store.baseline_name() if hasattr(store, "baseline_name") else None
        if name == baseline or (not base and not baseline):
            return None, []
        if base and (base == baseline or not baseline):
            base_params = store.scenario(base)["params"]
            changes = effective_changes(base_params, row.get("changes") or {})
        else:
            # stored whole, or built on another scenario: its differences from the baseline, as Compare
            # describes it (QA s40: "what-if of 'Huawei delivers half'" beside a database whose baseline
            # is the story, and a what-if stored whole after Make baseline read as a forecast of its own)
            base_params = store.scenario(baseline)["params"]
            changes = diff_params(base_params, row["params"])
            lead = [f"built on {base!r}, not the baseline; from the baseline" if base else
                    "stored in full; from the baseline"]
            base = baseline
    except UserError:
        return None, []
    return base, lead + describe_changes(changes, limit=None, chip_labels=chip_labels(store.chips()),
                                         base=base_params)


def what_if_line(base: str | None, changes: list[str], more_hint: str = "--format json lists every change") -> str:
    """"what-if of 'Story default': export cut-offs: changed H20: probability 50% → 100%, …" ("" for
    a whole scenario)."""
    if not base:
        return ""
    shown = changes[:WHAT_IF_LINE_CHANGES]
    more = len(changes) - len(shown)
    # the first few: 200 changed demand points made a 14,043-character line before the answer (QA s40)
    tail = (f"; and {more:,} more ({more_hint})" if more else "")
    return f"what-if of {base!r}: " + ("; ".join(shown) or "no changes from it as it is now") + tail


WHAT_IF_LINE_CHANGES = 12   # changes the text line names; JSON's "changes" has every one


def _load(args, ctx, *, fit: bool = True):
    """(orders, chips, models, scenario) from the store, or the built-in story data without one
    (`fit=False`: a saved demand whose growth fails on every point loads; backtest fits it on the
    points known on its date, which later points must not refuse)."""
    from engine.forecast import default_scenario

    name_default_scenario(args, ctx)
    try:
        store = ctx.store()
    except ImportError:
        store = None
    if store is None:
        from engine.catalog import reference_chips, reference_models
        from engine.forecast_inputs import story_orders

        if args.scenario:
            raise UserError(f"--scenario {args.scenario!r}: no database to read saved scenarios from")
        return story_orders(), reference_chips(), reference_models(), default_scenario()
    if args.scenario:
        from engine.studies_forecast import ForecastStudy, flag_edited_notes

        row = store.scenario(args.scenario)
        params = row["params"]
        if row.get("base"):   # a what-if: a note it kept from its baseline says when it changed what it describes
            params = flag_edited_notes(store.scenario(row["base"])["params"], params)
        scenario = ForecastStudy.from_dict({**params, "name": args.scenario}, fit=fit).scenario
    else:  # the built-in story scenario: no scenario is saved in this database (QA s37: it ran under
        # the name "Story default", as if one were saved, which `scenario list` and the window did not show)
        from engine.studies_forecast import BUILT_IN_NAME

        scenario = replace(default_scenario(), name=BUILT_IN_NAME)
    chips = {c.id: c for c in store.chips()}
    models = {m.id: m for m in store.models()}
    return store.orders(), chips, models, scenario


# The window's least; the engine takes 1 (engine.forecast.validate_scenario), where P10 = P50 = P90
# of one draw printed as a band
MIN_TRIALS = 100


def _overrides(args, scenario):
    from engine.forecast import validate_scenario
    from engine.errors import ValidationError

    changes = {}
    if args.trials is not None:
        if not MIN_TRIALS <= args.trials:
            raise UserError(f"--trials: {args.trials} (at least {MIN_TRIALS}: P10/P90 of fewer draws are not "
                            "percentiles)")
        changes["trials"] = args.trials
    elif isinstance(scenario.trials, int) and 1 <= scenario.trials < MIN_TRIALS:   # 0 and worse: validate_scenario
        raise UserError(f"scenario {scenario.name!r}: trials {scenario.trials} (at least {MIN_TRIALS}: P10/P90 of "
                        f"fewer draws are not percentiles); give --trials {MIN_TRIALS} or more")
    if args.months is not None:
        changes["months"] = args.months
    if args.seed is not None:
        check_seed(args.seed)   # the range `serve` and `backtest` take
        changes["seed"] = args.seed
    if args.start is not None:
        from engine.commands.plan import whole_month

        changes["start"] = whole_month("--start", args.start, "the forecast")
    scenario = replace(scenario, **changes)
    problems = validate_scenario(scenario)
    if problems:
        # a value a flag gave is named by its flag ("--start: 1990-01"), one the scenario holds by its field
        flagged = [f"--{p}" if p.split(":")[0] in changes else p for p in problems]
        # the trial-months limit names both ("--trials x --months: 500,000 x 240 = ..."; no flag: as held)
        flagged = [" x ".join(f"--{k}" if k in changes else k for k in ("trials", "months")) + p[len("trials x months"):]
                   if p.startswith("trials x months:") else p for p in flagged]
        raise ValidationError(flagged, f"scenario {scenario.name!r}")
    return scenario


def _series(a, digits: int | None = None):
    return [None if not math.isfinite(float(v)) else (round(float(v), digits) if digits is not None else float(v))
            for v in a]


def growth_notes(result) -> list[str]:
    """The demand growth fitted after the last point, and its cap when a runaway fit hit it
    (engine.forecast keeps both in `growth_note`, which no output showed)."""
    return [f"demand growth after the last point: {result.growth_note}"] if result.growth_note else []


def steady_field_notes(result) -> list[str]:
    """Where every chip is rated on the steady state, the demand fields it leaves unused: the window
    marks them "(unused now)", and a CLI user changing them saw the same figures without a word."""
    from engine.forecast_inputs import steady_basis_models

    models = steady_basis_models(result.notes)
    if not models:
        return []
    return [f"'Targets hold for' (slo_percentile) and 'Length spread' (length_spread) are unused for "
            f"{', '.join(models)}: its capacity is the steady state (see above), targets held as means at the mean "
            "lengths; they move only simulated capacity"]


def forecast_notes(result) -> list[str]:
    """The notes of a forecast's run, as the JSON's throughput_notes and the text give them."""
    return list(result.notes) + growth_notes(result) + steady_field_notes(result)


def result_to_dict(result, inputs, supply_notes: list[str] | None = None) -> dict:
    """The JSON document of a forecast (keys of CLI.md plus details)."""
    from engine.forecast import DEADLINE_AFTER_HORIZON, scenario_to_dict
    from engine.studies_forecast import forecast_key_figures, prob_meet_standard_error, round_figure

    iso = lambda d: d.isoformat() if d is not None else None  # noqa: E731
    data = {
        "scenario": result.scenario.name,
        "months": [m.isoformat() for m in result.months],
        "unit_chip_id": result.unit_chip_id,
        "capacity_p10": _series(result.serving_capacity_unit_chips.p10, 1),
        "capacity_p50": _series(result.serving_capacity_unit_chips.p50, 1),
        "capacity_p90": _series(result.serving_capacity_unit_chips.p90, 1),
        "demand": _series(result.demand_unit_chips, 1),
        # demand growth is most of the uncertainty from a year out: its band (null without one)
        "demand_p10": _series(result.demand_unit_chips_bands.p10, 1) if result.demand_unit_chips_bands else None,
        "demand_p90": _series(result.demand_unit_chips_bands.p90, 1) if result.demand_unit_chips_bands else None,
        "shortfall_p50": _series(result.shortfall_p50_unit_chips, 1),
        "balance_p50": _series(result.balance_p50_unit_chips, 1),
        "prob_meet_demand": _series(result.prob_meet_demand, 4),
        # its Monte Carlo error per month (added in s21): the QA saw 0.48-0.53 across seeds
        "prob_meet_demand_se": _series(prob_meet_standard_error(result), 4),
        "installed_p10": _series(result.installed_total.p10, 1),
        "installed_p50": _series(result.installed_total.p50, 1),
        "installed_p90": _series(result.installed_total.p90, 1),
        "pflops_p10": _series(result.pflops_total.p10, 2),
        "pflops_p50": _series(result.pflops_total.p50, 2),
        "pflops_p90": _series(result.pflops_total.p90, 2),
        "h100_equiv_p10": _series(result.h100_equiv_total.p10, 1),
        "h100_equiv_p50": _series(result.h100_equiv_total.p50, 1),
        "h100_equiv_p90": _series(result.h100_equiv_total.p90, 1),
        "demand_tokens_per_day": _series(result.demand_tokens_per_day),
        "demand_tokens_per_day_p10": _series(result.demand_tokens_per_day_bands.p10)
        if result.demand_tokens_per_day_bands else None,
        "demand_tokens_per_day_p90": _series(result.demand_tokens_per_day_bands.p90)
        if result.demand_tokens_per_day_bands else None,
        "demand_peak_output_tokens_per_s": _series(result.demand_peak_output_tokens_per_s, 1),
        "serving_capacity_tokens_per_s_p50": _series(result.serving_capacity_tokens_per_s.p50, 1),
        "by_chip": {
            chip: {
                "installed_p10": _series(result.installed_by_chip[chip].p10, 1),
                "installed_p50": _series(result.installed_by_chip[chip].p50, 1),
                "installed_p90": _series(result.installed_by_chip[chip].p90, 1),
                "promised": _series(result.promised_by_chip[chip], 1),
                "pflops_p50": _series(result.pflops_by_chip[chip].p50, 2),
                "peak_bf16_tflops": inputs.chip_peak_tflops.get(chip),
                "training_share": _series(result.training_share_by_chip[chip], 4),
                "serving_output_tokens_per_s_per_chip": result.serving_tokens_per_s_per_chip.get(chip),
                "demand_chips": _series(result.demand_chips_by_chip[chip], 1)
                if chip in result.demand_chips_by_chip else None,
            } for chip in result.chip_ids
        },
        "training_jobs": [{
            "name": j.job.name, "model_id": j.job.model_id, "chip_id": j.job.chip_id, "tokens": j.job.tokens,
            "earliest_start": iso(j.job.earliest_start), "start_p50": iso(j.start_p50),
            "completion_p10": iso(j.completion_p10), "completion_p50": iso(j.completion_p50),
            "completion_p90": iso(j.completion_p90),
            "prob_finish_within_horizon": round(j.prob_within_horizon, 4),
            "deadline": iso(j.job.deadline) if j.job.deadline else None,
            "prob_done_by_deadline": None if j.prob_by_deadline is None else round(j.prob_by_deadline, 4),
            # why it is null for a job with a deadline (a note in throughput_notes gives the lower bound)
            "prob_done_by_deadline_note": DEADLINE_AFTER_HORIZON if j.deadline_unknown else None,
        } for j in result.jobs],
        "trials": result.trials, "seed": result.seed,
        "throughput_source": result.throughput_source,
        "throughput_notes": forecast_notes(result),
        "demand_growth": result.growth_note or None,   # the fit after the last point (and its cap), alone
        "units": UNITS,
        "assumptions": {"scenario": result.scenario.note, "demand": result.scenario.demand.note,
                        "uncertainty": {k: v.note for k, v in result.scenario.vendor_uncertainty.items()},
                        # orders forecast as certain for want of a profile (engine.forecast.no_profile_notes)
                        "no_delivery_risk": list(supply_notes or [])},
        "params": scenario_to_dict(result.scenario),
        # the figures the Forecast view's summary shows, labels with units (added in 0.3)
        # to three significant figures: what a P50 over the trials supports (the data series above
        # keep theirs)
        "key_figures": [{"figure": label, "value": round_figure(value)} for label, value in forecast_key_figures(result)],
    }
    return data


def result_rows(result, for_file: bool = False) -> list[dict]:
    """One row per month with unit-bearing column names (for table and CSV): the monthly table
    the Forecast view shows (engine.studies_forecast), by key. `for_file` (CSV): P(meet) to 2
    decimals (`file_percent`) rather than the table's whole percent."""
    from engine.forecast_text import table_cell
    from engine.studies_forecast import forecast_monthly_table, prob_percent_cell

    rows = [{k: table_cell(v) for k, v in row.items()} for row in forecast_monthly_table(result).records()]
    for row, share in zip(rows, result.prob_meet_demand):
        # whole percent as the summary gives it (2,000 trials know it to about a point), never 0 or
        # 100 where it is not: table_cell rounded 99.95 to 100, and "< 0.1" where 0.1 would round up
        row["prob_meet_demand_pct"] = file_percent(float(share)) if for_file else prob_percent_cell(float(share))
    return rows


FILE_PERCENT_DECIMALS = 2   # one trial is 0.05 points at the default 2,000 trials, 0.01 at 10,000


def file_percent(share: float) -> str:
    """A share of trials in percent for a file, always with 2 decimals ("96.65", "100.00"): the
    CSV read 97 and 86 beside the JSON's 0.9665, whole numbers mixed with 99.9. Never "0.00" or
    "100.00" where it is not (0.99996 is "99.99"), as the table's whole percent."""
    step = 10.0 ** -FILE_PERCENT_DECIMALS
    percent = 100.0 * share
    if 0 < share < 1:
        percent = min(max(percent, step), 100.0 - step)
    return f"{percent:.{FILE_PERCENT_DECIMALS}f}"


def _deadline_words(job) -> str:
    from engine.forecast import DEADLINE_AFTER_HORIZON

    if job.job.deadline is None:
        return ""
    if job.deadline_unknown:
        return f"; by its deadline {job.job.deadline}: n/a ({DEADLINE_AFTER_HORIZON})"
    return f"; {prob_text(job.prob_by_deadline)} by its deadline {job.job.deadline}"


def prob_text(share: float) -> str:
    """A probability in whole percent, with a decimal where that reads 0% or 100% and it is not:
    0.9999 of the trials is "> 99.9%", not a certainty (one rule with the window's)."""
    from engine.studies_forecast import prob_percent_text

    return prob_percent_text(share)


def note_kinds(result, inputs, supply_notes: list[str]) -> dict[str, str]:
    """{note: its kind} for the notes engine.forecast writes one per order, and ours one per vendor
    and chip: what the text folds beyond a few (engine.forecast_text.FOLD_LINES). Asked of the
    functions that wrote them, not read from their wording. Empty where too few notes to fold."""
    from engine.forecast import overdue_notes, own_risk_notes, unscheduled_notes
    from engine.forecast_text import NOTES_SHOWN

    if len(result.notes) + len(supply_notes) <= NOTES_SHOWN + 1:
        return {}
    orders, scenario, makers = inputs.orders, result.scenario, inputs.maker_by_chip
    kinds = {note: "no_profile" for note in supply_notes}
    kinds.update({note: "own_risk" for note in own_risk_notes(orders, scenario, makers)})
    kinds.update({note: "unscheduled" for note in unscheduled_notes(orders, scenario)})
    kinds.update({note: "overdue" for note in overdue_notes(orders, scenario, makers)})
    return kinds


def shortfall_lines(result) -> list[str]:
    """The first month demand (P50) exceeds capacity P50 and the months with a P50 shortfall, always
    (the text had them only where another seed might move them, while the JSON's key figures and
    the report stated Jul 2025 and 46 months), with the seed's range beside them where it may."""
    import numpy as np

    from engine.forecast import NO_DEMAND_WORDS
    from engine.studies_forecast import first_shortfall_month, no_demand, p50_short, serves_nothing, shortfall_seed_words

    first_words, count_words = shortfall_seed_words(result)
    first = first_shortfall_month(result)
    months = result.months
    if first_words:   # another seed may move it: the range first, this seed's reading after it
        found = f"{first:%Y-%m}" if first is not None else "none within the horizon"
        first_text = f"{first_words}; {found} at seed {result.seed}"
    elif first is not None:
        first_text = f"{first:%Y-%m} (read on {first:%Y-%m-%d})"
    elif no_demand(result):
        first_text = f"none ({NO_DEMAND_WORDS})"
    else:
        first_text = f"none within the horizon ({months[0]:%Y-%m} to {months[-1]:%Y-%m})"
    short = int(np.count_nonzero(p50_short(result)))
    count_text = f"{short} of {len(months)}"
    if serves_nothing(result):
        count_text += " (no chip serves the model under its latency targets: the capacity is 0)"
    if count_words:   # the months' why is the first month's, when that is said just above
        count_text += f"; {count_words.split(' (')[0] if first_words else count_words}"
    return [f"first month demand exceeds capacity P50: {first_text}",
            f"months with a P50 shortfall: {count_text}"]


def _summary(result, supply_notes: list[str] | None = None, what_if: tuple[str | None, list[str]] = (None, []),
             kinds: dict[str, str] | None = None, chip_words: list[str] | None = None) -> str:
    from engine.forecast_text import condense_notes
    from engine.studies_forecast import prob_error_points

    from engine.compare_units import rate_text, unit_rating

    # the unit chip's size is its rating under this scenario's targets: tighter targets shrink it,
    # so capacity "in chips" can rise while tokens/s fall (QA s29); the rating says which chips
    rating = unit_rating(result)
    unit = f"chips of {result.unit_chip_id}"
    if math.isfinite(rating):
        unit += f" at {rate_text(rating)} output tokens/s each (its rating under this scenario's targets)"
    lines = [f"scenario {result.scenario.name!r}: {result.trials} trials, seed {result.seed}, "
             f"throughput from {result.throughput_source}; capacity and demand in {unit}"]
    if what_if[0]:
        lines.append(what_if_line(*what_if))
    # the run's own Monte Carlo error (no output stated it), and the figures another seed may change
    lines.append(f"P(meet) figures carry +-{prob_error_points(result.trials):.1f} points of Monte Carlo error at "
                 f"{result.trials:,} trials (1 standard error at 50%; per month: prob_meet_demand_se in the JSON)")
    lines += shortfall_lines(result)
    # one note per order or chip type read as hundreds of lines in a large fleet: a few of each kind
    notes = forecast_notes(result) + list(supply_notes or [])
    lines += [f"note: {n}" for n in condense_notes(notes, kinds or {}, chip_words or ())]
    for j in result.jobs:
        when = lambda d: d.isoformat() if d else "after the horizon"  # noqa: E731
        lines.append(f"job {j.job.name!r} ({j.job.model_id}, {j.job.tokens:.3g} tokens on {j.job.chip_id}): "
                     f"done P10 {when(j.completion_p10)}, P50 {when(j.completion_p50)}, P90 {when(j.completion_p90)}; "
                     f"{prob_text(j.prob_within_horizon)} of trials within the horizon" + _deadline_words(j))
    return "\n".join(lines)


def run(args, ctx) -> Output:
    from engine.forecast import run_forecast
    from engine.forecast_inputs import build_inputs

    orders, chips, models, scenario = _load(args, ctx)
    scenario = _overrides(args, scenario)   # trials x months over the limit is refused here, up front
    inputs = build_inputs(orders, chips, models, scenario)
    from engine.commands import terminal_progress

    try:
        # a long run (many orders, trials or months: minutes) shows where it is, on a terminal
        with terminal_progress(lambda fraction, message="": f"{fraction * 100:3.0f}% {message}") as progress:
            result = run_forecast(inputs, progress=progress)
    except MemoryError:   # under the limit, on a machine short of memory or with many chip types
        raise UserError(f"the forecast ran out of memory at --trials {scenario.trials:,} x --months "
                        f"{scenario.months}: lower --trials or --months") from None
    from engine.forecast import no_profile_notes

    # orders forecast as certain for want of a profile: in the JSON's assumptions; the text has
    # them first among the notes (build_inputs puts them there), once
    supply_notes = list(no_profile_notes(inputs.orders, inputs.scenario, inputs.maker_by_chip))
    try:
        store = ctx.store()
    except ImportError:
        store = None
    what_if = what_if_of(store, args.scenario)
    data = result_to_dict(result, inputs, supply_notes)
    # the scenario a what-if changes (null for a whole scenario) and its changes in words
    data.update(baseline=what_if[0], changes=what_if[1])
    # factors a `calibrate --save` stored for the chips forecast (serving at the default engine's
    # family, as engine.forecast_inputs runs it; training for the jobs): the figures rest on them
    from engine.calibration import saved_calibration_text, saved_calibrations
    from engine.serving.families import DEFAULT_FAMILY

    used = [chips[c] for c in result.chip_ids if c in chips]
    trained = [chips[c] for c in dict.fromkeys(j.job.chip_id for j in result.jobs) if c in chips]
    data["calibrated"] = (saved_calibrations(store, used, ("inference",), family=DEFAULT_FAMILY)
                          + saved_calibrations(store, trained, ("training",)))
    rows = result_rows(result, for_file=args.format == "csv")
    if args.format == "csv":
        # a CSV travels without the summary: each row carries the run it came from (as `backtest`'s
        # does), so another seed's file is not read as this one's
        basis = {"scenario": result.scenario.name, "trials": result.trials, "seed": result.seed}
        rows = [{**row, **basis} for row in rows]
    if args.format != "table":   # JSON and CSV: every chip, every note
        return Output(data=data, rows=rows)
    from engine.forecast_text import wide_table_text

    forecast_chips = set(result.chip_ids)
    chip_words = list(forecast_chips) + [c.name for c in chips.values() if c.id in forecast_chips]
    text = _summary(result, [], what_if, note_kinds(result, inputs, []), chip_words)
    text += "".join(f"\nnote: {saved_calibration_text(entry)}" for entry in data["calibrated"])
    ordered: dict[str, float] = {}
    for order in inputs.orders:
        ordered[order.chip_id] = ordered.get(order.chip_id, 0.0) + float(order.quantity)
    table = wide_table_text(rows, result, ordered)
    if table is None:   # a plain table that fits
        return Output(data=data, rows=rows, text=text)
    return Output(data=data, rows=[], text=text + "\n" + table)   # rows=[]: the text is the whole output
