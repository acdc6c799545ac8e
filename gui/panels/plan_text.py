"""The Plan view's words: the summary above its charts and the caption of a refused plan's table
(kept apart from gui/panels/plan.py, which holds the form, the run and the drawing)."""

from __future__ import annotations

import html
import re

from engine.commands.plan import expected_delivered_cost
from engine.forecast_plan import (FRESH_TOLERANCE, cost_spread_text, fresh_shortfall_text, fresh_standard_error,
                                  pct_text, usd_text)
from engine.studies_forecast import plan_lowest_prob
from gui.panels.base import counted, with_names
from gui.widgets.plot_panel import format_number

# why `plan` refused orders it found, by the word its status ends with
REFUSED_REASONS = ("over budget", "short on fresh trials")


def refused_caption(result) -> str:
    """The orders table's caption when it lists a plan that was found and then refused, else "":
    the table listed 34,000 + 2,000 + 2,000 H20 ($456M) as if they were the plan to order."""
    if result is None or result.feasible or not result.orders:
        return ""
    reason = next((r for r in REFUSED_REASONS if r in result.status), "misses the target")
    return f"Refused plan ({reason}): not a plan to order, shown for reference"


def plan_summary_html(r, unit: str, names: dict, asked_samples: int) -> str:
    """The summary of plan result `r` as rich text: what to order and what it keeps, or why no
    plan does. `names`: model and chip ids -> the names the views show; `asked_samples`: the
    trials the form asked the fit for (a refit on more says so)."""
    window = f"{r.from_month:%b %Y} – {r.until_month:%b %Y}"
    notes = "".join(f" {html.escape(with_names(n, names))}." for n in r.notes)   # how chips serve (e.g. weight-only)
    if not r.feasible:
        offer = ""
        if r.reachable_target is not None:   # one click plans the longest target that can be kept
            first, last = r.reachable_target
            offer = f" <a href='reachable'>Plan {first:%b %Y} – {last:%b %Y} instead</a> (sets From and Until)."
        # the engine's words name `plan`'s flags; here the form's field ("set From to 2025-10")
        why = re.sub(r"\(--from (\d{4}-\d{2})(, [^)]*)?\)",
                     r"(untick 'first month a plan can reach' and set From to \1\2)", r.why)
        why = re.sub(r"\(--confidence (0\.\d+)( --from (\d{4}-\d{2}))?\)",
                     lambda m: f"(set Confidence to {float(m[1]):.0%}"
                               + (f" and From to {m[3]}" if m[3] else "") + ")", why)
        why = re.sub(r"\(--from (\d{4}-\d{2}) --until (\d{4}-\d{2})\)", r"(set From to \1 and Until to \2)", why)
        return (f"<b>No plan</b> keeps P(meet demand) ≥ {pct_text(r.confidence)} over {window}. "
                f"<span style='color:#a1260d'>{html.escape(why[:1].upper() + why[1:])}.</span>{offer}"
                f"<span style='color:#666'>{notes}</span>")
    jobs = "; ".join(f"job {k}: " + (f"{v:.0%}" if v is not None else "n/a (after the horizon)") + " by its deadline"
                     for k, v in r.jobs_prob_by_deadline.items())
    jobs = jobs[:1].upper() + jobs[1:]   # a sentence of its own
    chips = sum(o.quantity for o in r.orders)
    lowest = plan_lowest_prob(r)
    # The rule (MEETS_RULE): a plan meets the target when its lowest month on the fresh trials, the
    # point estimate, is at least the confidence (FRESH_TOLERANCE 0). A plan kept short of it (one
    # saved under the one point of slack there was) is said to be short, never "inside a tolerance".
    se = fresh_standard_error(lowest, r.check_trials or 4000)
    error = f" ± {100 * se:.2f} pt" if se == se else ""
    short = (f" <span style='color:#a1260d'>That is short of the target, {lowest:.1%} "
             f"{fresh_shortfall_text(lowest, r.confidence, r.check_trials or 4000)}: a plan meets it when its lowest "
             f"month on the fresh trials is at least the confidence; fit on more trials for a safer plan.</span>"
             if lowest < r.confidence - FRESH_TOLERANCE else
             " It meets the target: its lowest month on the fresh trials is at least the confidence." if lowest == lowest
             else "")
    refit = (f" (refitted: the {asked_samples}-trial fit fell short on fresh trials)" if r.samples > asked_samples else "")
    paid = expected_delivered_cost(r)   # in `plan`'s words and by its rule (the headline left it out)
    paid = (f" ({usd_text(paid)} of it expected to be delivered: the vendors' fulfilment and cut-offs, what a "
            "contract that pays on delivery pays)" if paid is not None and paid < 0.99 * r.total_cost_usd else "")
    return (f"<b>{counted(len(r.orders), 'order')}, {format_number(chips)} chips, "
            f"{usd_text(r.total_cost_usd)}</b>{paid}, fitted to keep P(meet demand) ≥ {pct_text(r.confidence)} in every "
            f"month over {window} on {r.samples} trials{refit}{html.escape(cost_spread_text(r))}. On "
            f"{r.check_trials or 4000:,} fresh trials its lowest month is "
            f"{lowest:.1%}{error} (without the plan {plan_lowest_prob(r, with_plan=False):.1%}).{short} "
            f"{jobs + '. ' if jobs else ''}<span style='color:#666'>Capacity in {unit} chips.{notes}</span>")


# the cost charts' unit: "USD" on an axis of 0.05 read as the cost of something unnamed
COST_UNIT = "USD per million tokens"


def cost_chart_context(r) -> dict:
    """The cost charts' subtitle: the plan's target in one line (their files carried the whole
    nine-line reason no plan was found, which the capacity chart's files give)."""
    if r is None:
        return {}
    target = f"P(meet demand) >= {pct_text(r.confidence)} from {r.from_month:%Y-%m} to {r.until_month:%Y-%m}"
    return {"Plan": f"candidate chips for {target}" + ("" if r.feasible else " (no plan found)")}
