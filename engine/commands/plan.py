"""`fleetcast plan` and `fleetcast backtest`: what to order, when; and how the demand forecast did."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import replace

from engine.cli import add_command, check_seed
from engine.commands import Output, plain_number, whole_number
from engine.errors import InfeasibleRequest, UserError, ValidationError
from engine.validate import cell_float, iso_day


def register(subparsers) -> None:
    p = add_command(subparsers, "plan", "the cheapest order plan that keeps P(capacity >= demand) >= P every "
                                        "month from MONTH (chance-constrained over the Monte Carlo trials)")
    p.add_argument("--scenario", metavar="NAME",
                   help="a saved scenario (default: the database's baseline scenario); its saved Plan study, when "
                        "it has one, gives every setting below that is not given as a flag")
    p.add_argument("--confidence", type=plain_number, metavar="P", help="P(meet demand) to keep, 0.5 to below 1 (default 0.9)")
    p.add_argument("--from", dest="from_month", metavar="YYYY-MM",
                   help="first month that must meet, read on its 1st day as every month (default: the first month "
                        "from which ordering every candidate at its cap keeps --confidence through --until on the "
                        "validation trials, then planned as if given; it depends on the confidence, so give --from "
                        "to compare costs across confidence levels)")
    p.add_argument("--until", dest="until_month", metavar="YYYY-MM",
                   help="last month that must meet, read on its 1st day (default: the scenario's last)")
    p.add_argument("--budget", type=plain_number, metavar="USD", help="most the plan may cost")
    p.add_argument("--chips", metavar="ID,ID,...",
                   help="candidate chips (default: resources/plan_candidates.csv, or the saved Plan study's "
                        "ticked ones); with --scenario the study's prices, lead times and caps hold for them")
    p.add_argument("--samples", type=whole_number, metavar="N", help="Monte Carlo trials the plan is fitted on (default 200)")
    p.add_argument("--caps", metavar="ID=N,...", help="most chips per quarter for some candidates "
                                                      "(default: resources/plan_candidates.csv)")
    p.add_argument("--orders-csv", dest="orders_csv", metavar="FILE.csv",
                   help="also write the plan's orders as assumption orders that `orders import` reads "
                        "(what the window's Add as orders stores); nothing is written for a refused plan")
    p.add_argument("--force", action="store_true", help="replace the --orders-csv file if it exists")
    p.set_defaults(handler=run_plan)

    b = add_command(subparsers, "backtest", "forecast demand from the points known on DATE and score the later ones")
    b.add_argument("--scenario", metavar="NAME", help="a saved scenario (default: the database's baseline scenario)")
    b.add_argument("--as-of", dest="as_of", required=True, metavar="YYYY-MM-DD", help="what was known on this date")
    b.add_argument("--trials", type=whole_number, metavar="N",
                   help=f"Monte Carlo draws of the growth (default {BACKTEST_TRIALS:,}; {BACKTEST_TRIALS_RANGE[0]:,} to "
                        f"{BACKTEST_TRIALS_RANGE[1]:,})")
    b.add_argument("--seed", type=whole_number, metavar="S", help="random seed (default: the scenario's)")
    b.set_defaults(handler=run_backtest)


BACKTEST_TRIALS = 20_000
# fewer than 100 draws have no P10/P90 worth the name; 1,000,000 x a few dozen points is ~0.5 GB
BACKTEST_TRIALS_RANGE = (100, 1_000_000)


def whole_month(flag: str, text: str, what: str = "the plan") -> dt.date:
    """YYYY-MM (or its first day) as a date; a later day is refused: read as the month's start
    it would be a month the user did not ask for."""
    try:
        day = iso_day(text + "-01" if len(text) == 7 else text)
    except ValueError:
        raise UserError(f"{flag}: {text!r} (must be YYYY-MM)") from None
    if day.day != 1:
        raise UserError(f"{flag}: {text!r} (must be YYYY-MM: {what} works in whole months)")
    return day


def _month(flag: str, text: str | None) -> dt.date | None:
    return None if text is None else whole_month(flag, text)


def candidate_chip_ids() -> list[str]:
    """The chips the plan considers buying by default (resources/plan_candidates.csv)."""
    import resources
    from engine.catalog import read_csv_rows

    return [r["chip_id"] for r in read_csv_rows(resources.read_text("plan_candidates.csv"))]


def default_candidates(chips, chip_ids: list[str] | None = None):
    """Candidates from resources/plan_candidates.csv, priced from the chip catalog."""
    import resources
    from engine.catalog import read_csv_rows
    from engine.forecast_plan import Candidate

    rows = {r["chip_id"]: r for r in read_csv_rows(resources.read_text("plan_candidates.csv"))}
    wanted = chip_ids or list(rows)
    out, problems = [], []
    for chip_id in wanted:
        if chip_id not in chips:
            if chip_ids:   # asked for by name; a packaged default absent from this catalog is no candidate
                problems.append(f"--chips: {chip_id!r} is not in the chip catalog")
            continue
        row = rows.get(chip_id, {"vendor": chips[chip_id].vendor, "lead_time_months": "3",
                                 "max_per_quarter": "10000", "note": "default lead time and cap (assumption)"})
        price = getattr(chips[chip_id], "price_usd", None)
        if not price:
            if chip_ids:
                problems.append(f"--chips: {chip_id!r} has no price_usd in the chip catalog")
            continue
        out.append(Candidate(chip_id, row["vendor"], float(price), int(row["lead_time_months"]),
                             float(row["max_per_quarter"]), row["note"]))
    if problems:
        raise ValidationError(problems, "plan candidates")
    return out


def plan_inputs(orders, chips, models, scenario, candidates):
    """ForecastInputs with the candidates' serving throughput and sigmas added."""
    from engine.forecast_inputs import build_inputs, merge_notes, throughput_sigmas

    # the candidates are rated with the fleet's serving chips, on one basis (serving_throughputs)
    inputs = build_inputs(orders, chips, models, scenario, extra_serving_chips=[c.chip_id for c in candidates])
    serving = dict(inputs.serving_tokens_per_s_per_chip)
    notes = list(inputs.notes)
    # (by each chip's calibrate_as, as the forecast's: a copy of the H800 took a band of its own)
    family, s_sig, t_sig = throughput_sigmas(list(dict.fromkeys(list(serving) + list(inputs.family_by_chip))), chips)
    peaks = {**inputs.chip_peak_tflops, **{c.chip_id: float(chips[c.chip_id].peak_tflops("bf16") or 0.0)
                                           for c in candidates}}
    return replace(inputs, serving_tokens_per_s_per_chip=serving, family_by_chip=family, notes=merge_notes(notes),
                   serving_sigma_by_chip=s_sig, training_sigma_by_chip=t_sig, chip_peak_tflops=peaks)


def training_rates(models, chips, scenario, candidates, n_chips: int = 8192) -> dict[str, float]:
    """Training tokens/s per chip of the scenario's first job's model on each candidate."""
    from engine.forecast_inputs import training_table

    if not scenario.jobs:
        return {}
    job = scenario.jobs[0]
    out = {}
    for c in candidates:
        table, _, _ = training_table(models[job.model_id], chips[c.chip_id], n_chips, job.seq_len, job.global_batch_seqs)
        import numpy as np

        out[c.chip_id] = float(table.per_chip(np.array([float(n_chips)]))[0])
    return out


def expected_delivered_cost(result) -> float | None:
    """List price of the chips expected to arrive (None without orders' expectations)."""
    if any(o.expected_delivered is None for o in result.orders):
        return None
    return float(sum(o.cost_usd * o.expected_delivered / o.quantity for o in result.orders if o.quantity))


def _lowest_in_target(result) -> float:
    return float(min(result.prob_meet_demand[i] for i, m in enumerate(result.months)
                     if result.from_month <= m <= result.until_month))


def plan_to_dict(result, scenario_name: str, samples_requested: int | None = None) -> dict:
    from engine.forecast_plan import FRESH_TOLERANCE, MEETS_RULE, fresh_standard_error

    iso = lambda d: d.isoformat()  # noqa: E731
    r4 = lambda x: None if x is None else round(float(x), 4)  # noqa: E731
    return {
        "scenario": scenario_name,
        "feasible": result.feasible,
        **({"why": result.why} if not result.feasible else {}),
        **({"reachable_target": {"from_month": iso(result.reachable_target[0]),
                                 "until_month": iso(result.reachable_target[1]),
                                 # where it was planned before being offered: that plan's cost
                                 **({"total_cost_usd": result.reachable_target_cost_usd}
                                    if result.reachable_target_cost_usd is not None else {})}}
           if result.reachable_target is not None else {}),
        # refused as short on fresh trials: the highest lower confidence whose plan holds over the same months
        **({"reachable_confidence": {"confidence": result.reachable_confidence,
                                     "from_month": iso(result.from_month), "until_month": iso(result.until_month),
                                     "total_cost_usd": result.reachable_confidence_cost_usd}}
           if result.reachable_confidence is not None else {}),
        # true: `orders` are a refused plan's (over budget, short on fresh trials), shown, not to act on
        "orders_refused": not result.feasible and bool(result.orders),
        "orders": [{"chip_id": o.chip_id, "quantity": o.quantity, "order_month": iso(o.order_month),
                    "delivery_month": iso(o.delivery_month), "cost_usd": o.cost_usd,
                    "expected_delivered_chips": None if o.expected_delivered is None else round(o.expected_delivered),
                    } for o in result.orders],
        "total_cost_usd": result.total_cost_usd,
        # what arrives, at list price: the vendors' fulfilment and cut-offs (the mean over the fresh trials)
        "expected_delivered_cost_usd": expected_delivered_cost(result),
        # the same target fitted on other trial sets of the same size: the cost's own sampling spread
        "cost_on_other_trial_sets_usd": [c if c == c else None for c in result.cost_on_other_trials_usd],  # null: no plan
        "months": [iso(m) for m in result.months],
        "prob_meet_demand": [r4(v) for v in result.prob_meet_demand],
        "prob_meet_demand_without_plan": [r4(v) for v in result.prob_meet_without],
        "confidence": result.confidence,
        # the one rule for "meets the target", on the validation trials and the fresh ones alike (0:
        # no slack below the confidence on the fresh trials)
        "meets_target_rule": MEETS_RULE,
        "fresh_tolerance": FRESH_TOLERANCE,
        "from_month": iso(result.from_month), "until_month": iso(result.until_month),
        "min_prob_meet_in_target": r4(_lowest_in_target(result)),
        # its binomial standard error on the fresh trials (null without them)
        "min_prob_meet_in_target_se": r4(fresh_standard_error(_lowest_in_target(result), result.check_trials))
        if result.check_trials else None,
        # whose probability that is: with no plan it is the refused plan's, or the fleet's as it is
        # the fresh trials' count and seed: `forecast --trials N --seed S` with the plan's orders
        # imported reads the same P(meet) (QA s23: nothing said which seed)
        "fresh_trials": result.check_trials or None,
        "fresh_seed": result.check_seed if result.check_trials else None,
        "min_prob_meet_in_target_with": ("the plan" if result.feasible else
                                         "the refused plan" if result.orders else "the current fleet, no orders"),
        "unit_chip_id": result.unit_chip_id,
        "capacity_p50_with_plan": [round(float(v), 1) for v in result.capacity_unit_chips[1]],
        "demand_p50": [round(float(v), 1) for v in result.demand_unit_chips],
        "training_jobs_prob_by_deadline": {k: r4(v) for k, v in result.jobs_prob_by_deadline.items()},
        "chip_economics": [{"chip_id": e.chip_id, "unit_price_usd": e.unit_price_usd,
                            "serving_output_tokens_per_s_per_chip": round(e.serving_output_tokens_per_s, 2),
                            "usd_per_million_served_tokens": r4(e.usd_per_million_served_tokens),
                            "training_tokens_per_s_per_chip": None if e.training_tokens_per_s is None
                            else round(e.training_tokens_per_s, 2),
                            "usd_per_million_training_tokens": r4(e.usd_per_million_training_tokens)}
                           for e in result.economics],
        "solve_s": round(result.solve_s, 3), "samples": result.samples, "samples_requested": samples_requested, "status": result.status,
        "throughput_notes": list(result.notes),
        "units": {"capacity/demand": "chips of unit_chip_id", "usd_per_million_served_tokens":
                  "chip price over the tokens (input + output) it serves in its life at average load "
                  "(peak / peak-to-average); capital only",
                  "usd_per_million_training_tokens": "chip price over the tokens it trains in its life at the "
                  "scenario's training goodput (training_efficiency_scale), not `train`'s goodput at one fleet "
                  "size; capital only",
                  "prob_meet_demand": "out of sample: fresh trials, not the ones the plan was fitted on"},
    }


def saved_plan_study(ctx, name: str):
    """The PlanStudy saved in scenario `name` by the Plan view, or None when it has none."""
    from engine.commands import saved_view_state
    from engine.studies_forecast import PlanStudy

    # not required: without a store, _load says so in one line; without a Plan study, the defaults
    _, state = saved_view_state(ctx, name, "plan", required=False)
    return PlanStudy.from_dict(state) if state is not None else None


def apply_saved_plan(args, ctx):
    """Fill the flags not given from the scenario's saved Plan study (flags win, as in `train`);
    the study, or None. The defaults stay 0.9 and 200 trials without one."""
    from engine.commands.forecast import name_default_scenario

    name_default_scenario(args, ctx)   # the baseline's saved Plan study too, as the window's Plan
    study = saved_plan_study(ctx, args.scenario) if args.scenario else None
    if args.confidence is None:
        args.confidence = study.confidence if study else 0.9
    if args.samples is None:
        args.samples = study.samples if study else 200
    if study is not None:
        args.from_month = args.from_month or study.from_month
        args.until_month = args.until_month or study.until_month
        if args.budget is None:
            args.budget = study.budget_usd
    return study


def _store_or_none(ctx):
    try:
        return ctx.store()
    except ImportError:
        return None


def candidates_text(candidates, catalog_prices: dict[str, float]) -> str:
    """The terms each candidate was planned on, a price that is not the catalog's said so: the
    plan named neither, so a what-if's H20 at $18,750 read as the catalog's $12,000."""
    from engine.forecast_plan import usd_text

    def terms(c) -> str:
        catalog = catalog_prices.get(c.chip_id)
        price = usd_text(c.unit_price_usd) + (f" (catalog {usd_text(catalog)})" if catalog is not None
                                              and catalog != c.unit_price_usd else "")
        return f"{c.chip_id} {price}, {c.lead_time_months} months, {c.max_per_quarter:,.0f}"

    return ("candidates (price per chip, lead time, most per quarter): "
            + "; ".join(terms(c) for c in candidates))


def _repeated(ids: list[str]) -> str | None:
    """The first id given a second time, or None."""
    seen: set[str] = set()
    for chip_id in ids:
        if chip_id in seen:
            return chip_id
        seen.add(chip_id)
    return None


def run_plan(args, ctx) -> Output:
    from engine.commands.forecast import _load
    from engine.forecast_plan import (MEETS_RULE, PlanRequest, cost_spread_text,
                                      fresh_shortfall_text, pct_text, solve_plan, usd_text)
    from engine.forecast_plan_verdict import first_of_month_text
    from engine.studies_forecast import PLAN_SAMPLES

    study = apply_saved_plan(args, ctx)
    if not 0.5 <= args.confidence < 1.0:
        raise UserError(f"--confidence: {args.confidence!r} (must be in [0.5, 1))")
    if args.budget is not None and not 0 < args.budget < float("inf"):
        raise UserError(f"--budget: {args.budget!r} (must be a finite number of USD > 0)")
    if not PLAN_SAMPLES[0] <= args.samples <= PLAN_SAMPLES[1]:
        raise UserError(f"--samples: {args.samples!r} (must be {PLAN_SAMPLES[0]} to {PLAN_SAMPLES[1]})")
    if args.orders_csv:   # refused before the plan is worked out, not after
        from engine.csv_io import STDOUT_NAME, check_can_create

        if args.orders_csv == STDOUT_NAME:   # (it wrote a file named '-'; export's '-' is stdout)
            raise UserError("--orders-csv -: give a file name (the orders file is for `fleetcast orders import "
                            "FILE.csv`; --format csv prints the plan on standard output)")
        check_can_create(args.orders_csv, force=args.force)
    orders, chips, models, scenario = _load(args, ctx)
    ids = [c.strip() for c in args.chips.split(",") if c.strip()] if args.chips is not None else None
    if ids is not None and not ids:
        raise UserError(f"--chips {args.chips!r}: no chip ids (give CHIP_ID,CHIP_ID,...; fleetcast chips list)")
    if ids is not None and (twice := _repeated(ids)):   # a repeated chip was planned twice, at twice its cap
        raise UserError(f"--chips: {twice!r} given twice")
    candidates = default_candidates(chips, ids)
    catalog_prices = {c.chip_id: c.unit_price_usd for c in candidates}
    if study is not None:  # the Plan view's candidate table: ticks, prices, lead times, caps
        table = study
        if ids:
            # --chips names the candidates: the table's ticks give way, its prices, lead times and
            # caps stay (QA s33: naming the two chips ticked in the window planned them at the
            # packaged 50,000 / 25,000 a quarter, where the view had 1,000,000, and found no plan)
            table = replace(study, candidates={chip: {k: v for k, v in edit.items() if k != "use"}
                                               for chip, edit in study.candidates.items()})
        problems = [p.message for p in table.problems(candidates) if p.field.startswith("candidate")]
        if problems:
            raise UserError(f"scenario {args.scenario!r}, Plan study: " + " ".join(problems))
        candidates = table.candidate_list(candidates)
    if args.caps:
        from engine.studies_forecast import CANDIDATE_WHOLE

        most = CANDIDATE_WHOLE["max_per_quarter"]   # the Plan view's ceiling: 1e300 overflowed the float32 sums
        caps = {}
        for part in args.caps.split(","):
            chip_id, _, value = part.partition("=")
            try:
                cap = cell_float(value)   # a plain number: "1_000" is refused, as in files
                if not (0 <= cap <= most and cap == int(cap)):   # whole chips a quarter
                    raise ValueError
            except ValueError:
                raise UserError(f"--caps: {part!r} (must be CHIP_ID=CHIPS_PER_QUARTER, a whole number of chips "
                                f"from 0 to {most:,})") from None
            if chip_id.strip() in caps:   # not last-wins: which of the two was meant is not ours to guess
                raise UserError(f"--caps: {chip_id.strip()!r} given twice")
            caps[chip_id.strip()] = cap
        unknown = set(caps) - {c.chip_id for c in candidates}
        if unknown:
            raise UserError(f"--caps: {sorted(unknown)[0]!r} is not a candidate (see --chips)")
        candidates = [replace(c, max_per_quarter=caps.get(c.chip_id, c.max_per_quarter)) for c in candidates]
    if not candidates:
        raise UserError("--chips: no candidate chips")
    from_month, until_month = _month("--from", args.from_month), _month("--until", args.until_month)
    first, last = scenario.start.replace(day=1), scenario.last_month()
    for flag, month in (("--from", from_month), ("--until", until_month)):
        if month is not None and not first <= month <= last:
            raise UserError(f"{flag} {month:%Y-%m}: outside the scenario's horizon, {first:%Y-%m} to {last:%Y-%m}")
    if from_month is not None and until_month is not None and from_month > until_month:
        raise UserError(f"--from {from_month:%Y-%m} is after --until {until_month:%Y-%m}")
    inputs = plan_inputs(orders, chips, models, scenario, candidates)
    req = PlanRequest(candidates=tuple(candidates), confidence=args.confidence,
                      from_month=from_month, until_month=until_month, budget_usd=args.budget, samples=args.samples)
    result = solve_plan(inputs, req, training_tokens_per_s=training_rates(models, chips, scenario, candidates))
    data = plan_to_dict(result, scenario.name, args.samples)
    # the scenario a what-if changes (null for a whole scenario) and its changes in words, as
    # `forecast` gives them: a what-if pricing the H20 higher read as a plan of its own
    from engine.commands.forecast import what_if_line, what_if_of

    what_if = what_if_of(_store_or_none(ctx), args.scenario)
    data.update(baseline=what_if[0], changes=what_if[1])
    data["candidates"] = [{"chip_id": c.chip_id, "unit_price_usd": c.unit_price_usd,
                           "catalog_price_usd": catalog_prices.get(c.chip_id),
                           "lead_time_months": c.lead_time_months, "max_per_quarter": c.max_per_quarter}
                          for c in candidates]
    rows = [{"chip_id": o.chip_id, "quantity": o.quantity, "order_month": o.order_month.isoformat()[:7],
             "delivery_month": o.delivery_month.isoformat()[:7], "cost_usd": round(o.cost_usd)} for o in result.orders]
    short = result.feasible and data["min_prob_meet_in_target"] < args.confidence
    # a plan that keeps the target only within the fresh trials' noise is not headlined as keeping it
    lowest = data["min_prob_meet_in_target"]
    # enough digits that a short plan never reads as meeting it (0.8495 read "85.0% against 85%")
    lowest_text = f"{lowest:.1%}" if not short or f"{lowest:.1%}" != f"{args.confidence:.1%}" else f"{lowest:.2%}"
    # one verdict: short on the fresh trials by no more than their own error is the confidence kept
    # within Monte Carlo error, said with that error (the headline read "94.8% against the 95%
    # asked" beside a note that the fleet keeps 95% on the validation trials: no orders)
    if short:
        headline = (f"plan reaching P(meet demand) {lowest_text} "
                    f"{fresh_shortfall_text(lowest, args.confidence, result.check_trials)}")
    else:
        headline = f"{'plan' if result.feasible else 'NO PLAN'} for P(meet demand) >= {pct_text(args.confidence)}"
    # the days it is read on: "from 2025-03 to 2025-05" read as the whole of May, checked on 1 May (QA s27)
    text = f"scenario {scenario.name!r}: {headline} {first_of_month_text(result.from_month, result.until_month)}; "
    within = ""
    spread = cost_spread_text(result)
    paid = data["expected_delivered_cost_usd"]
    if paid is not None and result.total_cost_usd > 0 and paid < 0.99 * result.total_cost_usd:
        # ordered chips a vendor short-ships or an export cut-off stops are not delivered: said
        spread += (f"; {usd_text(paid)} of it expected to be delivered (the vendors' fulfilment and cut-offs, "
                   "what a contract that pays on delivery pays)")
    se = data["min_prob_meet_in_target_se"]
    error = (f" ± {100 * se:.2f} pt on {result.check_trials:,} fresh trials (seed {data['fresh_seed']})"
             if se is not None and se == se else "")
    text += (f"total {usd_text(result.total_cost_usd)}{spread}, lowest P(meet) in the target months "
             f"{lowest_text}{error} (out of sample{within}; {MEETS_RULE})" if result.feasible else result.why)
    if result.reachable_target is not None:
        first, last = result.reachable_target
        text += f" (--from {first:%Y-%m} --until {last:%Y-%m})"
    # a refused plan's one-line reason names the what-if too (the terms are in the JSON), set off
    # from the reason (it ran on: "... --until 2025-04) what-if of 'Story default': ..."; QA)
    refusal = text + (f"; {what_if_line(*what_if)}" if what_if[0] else "")
    if what_if[0]:
        text += "\n" + what_if_line(*what_if)
    text += "\n" + candidates_text(candidates, catalog_prices)
    text += ("\nvendor risk: the scenario's delivery uncertainty (each vendor's fulfilment and delays, export "
             "cut-offs) applies to the orders planned here as to those already placed")
    # a chip the candidates file does not list is planned on assumed terms: said, not silent
    assumed = [f"{c.chip_id} is not in resources/plan_candidates.csv: its lead time ({c.lead_time_months} months) "
               f"and cap ({c.max_per_quarter:,.0f} a quarter) are assumptions, and nothing says it can be bought "
               "by this buyer; set its cap with --caps CHIP=N" for c in candidates
               if c.note.startswith("default lead time")]
    # a candidate whose maker the scenario gives no delivery risk is planned as arriving in full
    # and on time (the default); said, as the QA found an MI300X plan cheaper for that reason alone
    from engine.forecast import OrderUncertainty

    known = {v.lower() for v in scenario.vendor_uncertainty}
    for c in candidates:
        maker = (chips[c.chip_id].vendor if c.chip_id in chips else "") or ""
        if maker and maker.lower() not in known and scenario.default_uncertainty == OrderUncertainty():
            assumed.append(f"{c.chip_id}: the scenario gives its maker ({maker}) no delivery risk, so its orders are "
                           "planned as delivered in full and on time; add a profile for it in the Forecast view")
    if ids and study is not None and study.candidates:
        # the what-if's changes describe the saved study, ticks included, which --chips sets aside
        assumed.append("--chips names the candidates: the saved Plan study's ticks do not apply here (nor its "
                       "edits to chips not named); its prices, lead times and caps do, for the chips named")
    data["candidate_notes"] = assumed
    text += "".join(f"\nnote: {n}" for n in list(result.notes) + assumed)
    econ = [{"chip_id": e["chip_id"], "usd_per_million_served_tokens": e["usd_per_million_served_tokens"],
             "usd_per_million_training_tokens": e["usd_per_million_training_tokens"]} for e in data["chip_economics"]]
    if not result.feasible:   # an infeasible request: exit 1, the reason on stderr (JSON still printed)
        raise InfeasibleRequest(refusal, data=data)
    if args.orders_csv:
        # the plan as rows `orders import` reads: headless, a plan had to be rebuilt by hand (plan's
        # CSV is its order table: order_month, no buyer), and hand-built rows merged into one
        # contract what the plan drew apart
        from engine.csv_io import write_csv_file
        from engine.studies_forecast import plan_order_rows

        planned = plan_order_rows(result, args.confidence, candidates)
        header = ["buyer", "vendor", "chip_id", "quantity", "order_date", "promised", "price_usd_per_chip", "status",
                  "source", "note"]
        count = write_csv_file(args.orders_csv, header, ([r[k] for k in header] for r in planned), force=args.force)
        data["orders_csv"] = str(args.orders_csv)
        text += (f"\nwrote {count} order{'' if count == 1 else 's'} to {args.orders_csv} "
                 f"(`fleetcast orders import {args.orders_csv}` adds them to the fleet as assumptions)")
    columns = ["chip_id", "quantity", "order_month", "delivery_month", "cost_usd"]
    if getattr(args, "format", None) == "csv":
        # a CSV travels without the text above the table: each order row carries the plan it belongs
        # to (its target, confidence, P(meet) on the fresh trials and totals), as `backtest`'s rows do
        basis = plan_csv_basis(data)
        # a plan that needs no order is one row with blank order fields, so the file still says
        # what was planned and that it holds (a header alone read like an empty or failed file)
        rows = [{**row, **basis} for row in rows] or [{**{c: None for c in columns}, **basis}]
        columns += list(basis)
    return Output(data=data, rows=rows, columns=columns,
                  text=text, extra_tables=[(f"cost per token (capital only; training at the scenario's goodput "
                                            f"{scenario.training_efficiency_scale:.0%})", econ)])


def plan_csv_basis(data: dict) -> dict:
    """The plan's context, repeated on each row of `plan --format csv` (from the JSON document, so
    the two say the same): the target is read on the 1st of each month from target_from_month to
    target_until_month; confidence and min_prob_meet_in_target are shares of trials, as in the JSON."""
    return {"scenario": data["scenario"], "target_from_month": data["from_month"][:7],
            "target_until_month": data["until_month"][:7], "confidence": data["confidence"],
            "min_prob_meet_in_target": data["min_prob_meet_in_target"],
            "min_prob_meet_in_target_se": data["min_prob_meet_in_target_se"],
            "fresh_trials": data["fresh_trials"], "fresh_seed": data["fresh_seed"],
            "total_cost_usd": round(data["total_cost_usd"]),
            "expected_delivered_cost_usd": None if data["expected_delivered_cost_usd"] is None
            else round(data["expected_delivered_cost_usd"])}


def _sig3(value):
    """Three significant figures (None stays None): what a Monte Carlo quantile's error supports."""
    if value is None:
        return None
    shown = float(f"{value:.3g}")
    return round(shown) if abs(shown) >= 100 else shown   # 983, not 983.0


def backtest_to_dict(bt) -> dict:
    from engine.forecast_backtest import FLOOR_SCORING_NOTE, SE_MIN_TRIALS

    # coverage alone reads a band 600x wide as a pass: the nominal level, how wide the bands are
    # (P90/P10) and how far the median was off (actual/P50) go with it
    spread = [p.p90 / p.p10 for p in bt.points if p.p10 > 0]
    miss = [p.actual / p.p50 for p in bt.points if p.p50 > 0]
    # a median is monotone in each value, so one floor among them makes the median a floor too
    miss_is_floor = any(p.actual_is_floor for p in bt.points if p.p50 > 0)
    floors = bt.floor_points
    rel = bt.relative_se
    return {"as_of": bt.as_of.isoformat(), "known_points": bt.known, "fit": bt.fit_note,
            "points": [{"date": p.date.isoformat(), "actual": round(p.actual), "p10": round(p.p10), "p50": round(p.p50),
                        "p90": round(p.p90), "inside": p.inside,
                        # 6 significant figures: round(x, 3) read 0.0609 as 0.061 (the table shows 3)
                        "p90_over_p10": float(f"{p.p90 / p.p10:.6g}") if p.p10 > 0 else None,
                        "actual_over_p50": float(f"{p.actual / p.p50:.6g}") if p.p50 > 0 else None,
                        # (added in s28) a "more than" figure: actual and actual_over_p50 are lower bounds
                        "actual_is_floor": p.actual_is_floor, "outcome": p.outcome} for p in bt.points],
            "coverage": bt.coverage, "nominal_coverage": 0.8,
            "exact_points": len(bt.exact_points), "floor_points": len(floors),
            "floor_points_consistent": sum(p.outcome == "consistent" for p in floors),
            "floor_points_above": sum(p.outcome == "above" for p in floors),
            "median_p90_over_p10": float(f"{statistics.median(spread):.6g}") if spread else None,
            "median_actual_over_p50": float(f"{statistics.median(miss):.6g}") if miss else None,
            "median_actual_over_p50_is_floor": miss_is_floor,
            "notes": [FLOOR_SCORING_NOTE] if floors else [],
            # the run behind the figures, and how far another seed moves them (added in s21)
            "trials": bt.trials, "seed": bt.seed,
            "relative_se_p10_p50_p90": None if rel is None else [round(v, 4) for v in rel],
            "units": {"actual, p10, p50, p90": "tokens per day",
                      "inside": "exact point: P10 <= actual <= P90; floor point (actual_is_floor): null at or "
                                "below P90, outcome 'consistent' (not known to be inside), false above P90",
                      "outcome": "inside, below or above P10-P90; a floor point: consistent or above",
                      "coverage": "share of the exact points inside P10-P90 (null without one); floors apart",
                      "p90_over_p10, actual_over_p50": "ratios (1 = a band of zero width; 1 = the median was right)",
                      "relative_se_p10_p50_p90": "the largest over the points of each quantile's Monte Carlo "
                                                 "standard error over its value, from up to 20 batches of the "
                                                 f"trials (null below {SE_MIN_TRIALS:,} trials: not estimated)"}}


def _error_words(bt) -> str:
    """The run and its Monte Carlo error in one clause (the QA saw P90 move 27% across seeds)."""
    from engine.forecast_backtest import SE_MIN_TRIALS

    run = f"{bt.trials:,} trials, seed {bt.seed}"
    if bt.relative_se is None and bt.points and bt.trials < SE_MIN_TRIALS:
        # below it the error went unsaid, and the figures read as exact as at 20,000 trials
        return f"figures from {run}; Monte Carlo error not estimated below {SE_MIN_TRIALS:,} trials"
    if bt.relative_se is None:
        return f"figures from {run}"
    if max(bt.relative_se) < 1e-9:
        # every trial drew the same demand (a fixed growth): no Monte Carlo error, not "+-1.1e-14%"
        return f"figures from {run}; no Monte Carlo error (every trial draws the same demand)"
    lo, mid, hi = (f"{100 * v:.2g}%" for v in bt.relative_se)
    return (f"Monte Carlo error at {run}: P10 / P50 / P90 about +-{lo} / +-{mid} / +-{hi} "
            "(1 standard error, the largest over the points)")


def run_backtest(args, ctx) -> Output:
    from engine.commands.forecast import _load
    from engine.forecast_backtest import backtest, backtest_refusal

    try:
        as_of = iso_day(args.as_of)
    except ValueError:
        import re

        # 2024-02-30 is in the format and still no day: say which (it read "must be YYYY-MM-DD")
        shaped = re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", str(args.as_of))
        raise UserError(f"--as-of: {args.as_of!r} " + ("is not a date of the calendar" if shaped
                                                         else "(must be YYYY-MM-DD)")) from None
    trials = BACKTEST_TRIALS if args.trials is None else args.trials
    low, high = BACKTEST_TRIALS_RANGE
    if not low <= trials <= high:
        raise UserError(f"--trials: {trials} (must be {low:,} to {high:,}: P10/P90 of fewer draws are not percentiles)")
    check_seed(args.seed)   # the range `forecast` and `serve` take
    _, _, _, scenario = _load(args, ctx, fit=False)
    seed = scenario.seed if args.seed is None else args.seed
    refusal = backtest_refusal(scenario.demand)
    if refusal:
        raise UserError(f"scenario {scenario.name!r}: {refusal}")
    try:
        bt = backtest(scenario.demand, as_of, trials=trials, seed=seed)
    except ValueError as exc:
        raise UserError(f"--as-of: {exc}") from None
    data = backtest_to_dict(bt)
    data["scenario"] = scenario.name
    rows, columns = _backtest_rows(data, as_table=getattr(args, "format", None) != "csv")
    if getattr(args, "format", None) == "csv":
        # a CSV travels without the text above the table: each row carries the run it came from
        basis = {"scenario": scenario.name, "as_of": as_of.isoformat(), "trials": bt.trials, "seed": bt.seed,
                 "coverage": bt.coverage, "nominal_coverage": 0.8}
        rows = [{**row, **basis} for row in rows]
        columns += list(basis)
    notes = "".join(f"\nnote: {n}" for n in data["notes"])
    return Output(data=data, rows=rows,
                  columns=columns,
                  text=f"scenario {scenario.name!r}: fit on {bt.known} points known on {as_of}: {bt.fit_note}; "
                       f"{_coverage_words(bt, data)} (the table in trillions of tokens per day)\n{_error_words(bt)}"
                       + notes)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _coverage_words(bt, data: dict) -> str:
    """Coverage of the exact later points, the floors' verdicts apart, the bands' width and the
    median's miss ("the actual was >= 0.996x" where a floor is among the points: its actual is
    only a lower bound, QA s28 read the Dec 2025 floor of 50T as the outcome)."""
    if not bt.points:
        return "no later points"
    exact, floors = len(bt.exact_points), len(bt.floor_points)
    words = (f"{bt.coverage:.0%} of {_plural(exact, 'exact later point')} inside P10-P90 (80% expected)" if exact
             else "no exact later point to score coverage on")
    if floors:
        consistent, above = data["floor_points_consistent"], data["floor_points_above"]
        words += (f"; {_plural(floors, 'floor point')} (\"more than\" figure{'' if floors == 1 else 's'}): {consistent} consistent with the band "
                  f"(the floor at or below P90: inside or above it), {above} above P90")
    spread, miss = data["median_p90_over_p10"], data["median_actual_over_p50"]
    if spread is not None and miss is not None:
        at_least = "\u2265 " if data["median_actual_over_p50_is_floor"] else ""
        words += (f"; the bands span {spread:,.3g}x (median P90/P10) and the actual was {at_least}{miss:,.3g}x "
                  "the median forecast (median of the points)")
    # a band that wide holds most points by its width alone, so full coverage says little; a
    # point outside it all the same says much (0 of 3 inside, the actual 0.02x the median)
    if (spread or 0) > 10 and bt.coverage is not None and bt.coverage >= 0.8:
        words += "; coverage says little about bands that wide"
    return words


def _backtest_rows(data: dict, as_table: bool) -> tuple[list[dict], list[str]]:
    """The points in trillions of tokens a day, to three significant figures: P90 moves by several
    percent with the seed, so "7549028867745809" claimed 13 digits more than it has (the JSON
    keeps the numbers in tokens per day). A floor's actual and actual/P50 read ">=50" in the table;
    the CSV keeps them numbers, with actual_is_floor beside them."""
    per_day = ("actual", "p10", "p50", "p90")
    rows = []
    for p in data["points"]:
        row = {"date": p["date"], **{f"{k}_T_tokens_per_day": _sig3(p[k] / 1e12) for k in per_day},
               "inside": p["inside"], **{k: _sig3(p[k]) for k in ("p90_over_p10", "actual_over_p50")},
               "actual_is_floor": p["actual_is_floor"], "outcome": p["outcome"]}
        if p["inside"] is None:   # a floor the band is consistent with: not known (JSON null, CSV empty)
            row["inside"] = "-" if as_table else ""
        if as_table and p["actual_is_floor"]:
            for k in ("actual_T_tokens_per_day", "actual_over_p50"):
                if row[k] is not None:
                    row[k] = f"\u2265{row[k]:g}"
        rows.append(row)
    columns = ["date", *(f"{k}_T_tokens_per_day" for k in per_day), "inside", "p90_over_p10", "actual_over_p50",
               "actual_is_floor", "outcome"]
    return rows, columns
