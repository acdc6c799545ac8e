"""Where a plan starts ordering, and the words that say why (engine.forecast_plan).

A plan orders from the month after the fleet's latest recorded delivery, never before the
scenario's "Deliveries known to" date (ForecastScenario.as_of) when one is set: that date is the
forecast's now. Ordered before it, a planned order's lots fell due before it and the forecast,
once they were imported, counted them as known to be late (P(meet) 76.0% planned, 74.15% forecast
at the same trials, QA), where a plan ordered from it is drawn as the forecast draws it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

from engine.forecast import ForecastInputs, _add_months

if TYPE_CHECKING:   # (engine.forecast_plan imports this module)
    from engine.forecast_plan import PlanRequest

AS_OF_WORDS = "the scenario's 'deliveries known to' date"
AFTER_DELIVERIES_WORDS = "the month after the fleet's latest delivery"
START_WORDS = "the forecast's first month"


def whole_lots(chips: float, lot_chips: float) -> int:
    """Whole lots within `chips` (a cap of 2,900 with lots of 1,000 is 2 lots)."""
    return max(math.floor(chips / lot_chips + 1e-9), 0)


def as_of_month(as_of: dt.date) -> dt.date:
    """The first month start on or after `as_of`: orders are placed on the 1st, so an as-of date of
    15 Mar orders from April (a March order would be dated before it)."""
    return as_of if as_of.day == 1 else _add_months(as_of, 1)


def first_order_start(inputs: ForecastInputs, req: PlanRequest) -> tuple[dt.date, str]:
    """The first month a plan orders in and why, in words: the request's month (else the month after
    the fleet's latest delivery), moved to the scenario's as-of date where that is later."""
    latest = max((d.date for o in inputs.orders for d in o.deliveries), default=inputs.scenario.start)
    if req.first_order_month is not None:
        month, why = req.first_order_month.replace(day=1), "as asked"
    else:
        month, why = _add_months(latest, 1), AFTER_DELIVERIES_WORDS
    as_of = inputs.scenario.as_of
    if as_of is not None and as_of_month(as_of) > month:
        month, why = as_of_month(as_of), (AS_OF_WORDS if as_of.day == 1 else
                                          f"the first month start after {AS_OF_WORDS}, {as_of:%Y-%m-%d}")
    start = inputs.scenario.start.replace(day=1)
    if month < start:
        # the plan orders within the forecast's months: a fleet whose last delivery predates them
        # read "ordering from 2023-10" beside orders from 2024-05, and its first target month came
        # before anything ordered could arrive (QA s37)
        return start, START_WORDS
    return month, why


def first_order_month(inputs: ForecastInputs, req: PlanRequest) -> dt.date:
    """The first month a plan orders in (`first_order_start`)."""
    return first_order_start(inputs, req)[0]


def ordering_from_text(inputs: ForecastInputs, req: PlanRequest) -> str:
    """'ordering from 2025-03' and, where the as-of date sets it, why: a plan whose first order is
    later than the fleet's records suggest says what moved it."""
    month, why = first_order_start(inputs, req)
    return f"ordering from {month:%Y-%m}" + (f" ({why})" if AS_OF_WORDS in why else "")


def start_notes(inputs: ForecastInputs, req: PlanRequest) -> tuple[str, ...]:
    """A plan's note on its first order month when the scenario's as-of date sets it (none else)."""
    month, why = first_order_start(inputs, req)
    if AS_OF_WORDS not in why:
        return ()
    date = f" ({inputs.scenario.as_of:%Y-%m-%d})" if AS_OF_WORDS == why else ""
    return (f"orders are placed from {month:%Y-%m}, {why}{date}, not before: a plan orders nothing before the "
            "date the forecast knows deliveries to",)


def check_horizon(inputs: ForecastInputs, req: PlanRequest) -> None:
    """UserError when the horizon ends before any new order can arrive: no target in it can be
    planned for. A horizon ending before the first order month left the plan no order month, and
    its reason read the first of none (QA: IndexError at 1-6 months on the story)."""
    from engine.errors import UserError

    sc = inputs.scenario
    last_month = sc.last_month()
    first_order, since = first_order_start(inputs, req)
    buyable = [c for c in req.candidates if whole_lots(c.max_per_quarter, req.lot_chips) > 0]
    # (promised delivery, before the vendor's delay and the install lag: no chip arrives sooner)
    first_arrival = min((_add_months(first_order, c.lead_time_months) for c in buyable), default=None)
    if first_order <= last_month and (first_arrival is None or first_arrival <= last_month):
        return   # (none buyable: the caps are the reason, said by the plan itself)
    arrive = f", the first delivered in {first_arrival:%Y-%m}" if first_arrival is not None else ""
    past = f" past {first_arrival:%Y-%m}" if first_arrival is not None else ""
    # an as-of date past the horizon is moved back as well as the horizon lengthened
    later = f", or set {AS_OF_WORDS} earlier" if AS_OF_WORDS in since else ""
    raise UserError(f"scenario {sc.name!r}: the horizon ends in {last_month:%Y-%m}, before new orders can arrive "
                    f"(ordered from {first_order:%Y-%m}, {since}{arrive}); lengthen it{past} (the scenario's "
                    f"months, now {sc.months}){later}")


def hindsight_note(inputs: ForecastInputs, first_order: dt.date) -> tuple[str, ...]:
    """Demand points dated after the first order month are taken as known: the plan's confidence
    rests on them (QA: the story's 90% from Nov 2024 was 73-75% with the demand known then)."""
    later = [p.date for p in inputs.scenario.demand.points if p.date >= first_order]
    if not later:
        return ()
    before = first_order - dt.timedelta(days=1)
    # the backtest fits the growth on the points known by then: with fewer than its model needs it
    # refuses (QA s37: it was suggested anyway, and for the baseline, without --scenario)
    import shlex

    from engine.forecast_backtest import backtest_refusal
    from engine.studies_forecast import BUILT_IN_NAME

    demand = inputs.scenario.demand
    least = {"loglinear": 2, "decaying": 3}.get(demand.growth_model, 1)
    known = sum(p.date <= before for p in demand.points)
    # a saved scenario by its name, quoted for the shell ("Bob's plan"); the built-in one is the
    # backtest's own default, with no name to give
    name = inputs.scenario.name
    scenario = f" --scenario {shlex.quote(name)}" if name and name != BUILT_IN_NAME else ""
    refused = backtest_refusal(demand)
    if refused:
        how = f"no backtest: {refused}"
    elif known >= least:
        how = f"`fleetcast backtest{scenario} --as-of {before:%Y-%m-%d}` shows the demand's spread as known then"
    else:
        how = (f"{known} demand point{'' if known == 1 else 's'} predate{'s' if known == 1 else ''} them, too few "
               "to fit the growth then, so there is nothing to backtest")
    return (f"demand to {max(later):%Y-%m} is the scenario's {len(later)} point{'s' if len(later) > 1 else ''} "
            f"dated from {first_order:%Y-%m} on, taken as known: orders placed in {first_order:%Y-%m} could not have "
            f"seen them, so the confidence holds with that hindsight ({how})",)


def target_start_index(month_ok, earliest_i: int) -> int:
    """Where a target left to the run starts (its From): the first month, not before the first new
    chips can arrive (`earliest_i`), from which every month through the target's end is kept
    (`month_ok`, per month through that end: the most a plan can order keeps the confidence, read on
    the validation trials); none kept, `earliest_i`, where the verdict then says why it fails."""
    start = len(month_ok)
    while start > 0 and month_ok[start - 1]:
        start -= 1
    return max(start if start < len(month_ok) else 0, earliest_i)
