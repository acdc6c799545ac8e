"""The Plan view's words and small parts: the summary above its charts, the result tables' titles
and captions, and Enter in the form (kept apart from gui/panels/plan.py, which holds the form, the
run and the drawing)."""

from __future__ import annotations

import datetime as dt
import html
import math
import re
import textwrap

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, QTimer
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from engine.commands.plan import expected_delivered_cost
from engine.forecast_plan import (FRESH_TOLERANCE, cost_spread_text, fresh_shortfall_text, fresh_standard_error,
                                  pct_text, usd_text)
from engine.forecast_plan_verdict import first_of_month_text
from engine.studies_forecast import plan_deliveries, plan_expected_deliveries, plan_lowest_prob, unit_chip_worth
from gui.panels.base import counted, ungrouped, with_names
from gui.panels.forecast_common import figure_text
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
    # the days the target is read on: "over Mar 2025 – May 2025" read as the whole of May (QA s27)
    window = first_of_month_text(r.from_month, r.until_month, "–")
    # how chips serve (e.g. weight-only); the engine's ASCII ">=" and "+-" as the head line writes them
    notes = "".join(f" {html.escape(with_names(n, names).replace('>=', '≥').replace('+-', '±'))}." for n in r.notes)
    if not r.feasible:
        offer = ""
        if r.reachable_target is not None:   # one click plans the longest target that can be kept
            first, last = r.reachable_target
            # an offer the fleet already keeps is shown, not planned for (QA s32: "Plan Mar – Apr instead"
            # gave a plan of 0 orders)
            verb = "Show" if r.reachable_target_cost_usd == 0 else "Plan"
            offer = f" <a href='reachable'>{verb} {first:%b %Y} – {last:%b %Y} instead</a> (sets From and Until)."
        # the engine's words name `plan`'s flags; here the form's field ("set From to 2025-10")
        why = re.sub(r"\(--from (\d{4}-\d{2})(, [^)]*)?\)",
                     r"(untick 'first month a plan can reach' and set From to \1\2)", r.why)
        why = re.sub(r"\(--confidence (0\.\d+)( --from (\d{4}-\d{2}))?\)",
                     lambda m: f"(set Confidence to {float(m[1]):.0%}"
                               + (f" and From to {m[3]}" if m[3] else "") + ")", why)
        why = re.sub(r"\(--from (\d{4}-\d{2}) --until (\d{4}-\d{2})\)", r"(set From to \1 and Until to \2)", why)
        return (f"<b>No plan</b> keeps P(meet demand) ≥ {pct_text(r.confidence)} {window}. "
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
            f"{usd_text(r.total_cost_usd)}</b>{paid}, fitted to keep P(meet demand) ≥ {pct_text(r.confidence)} "
            f"{window}, on {r.samples} trials{refit}{html.escape(cost_spread_text(r))}. On "
            f"{r.check_trials or 4000:,} fresh trials its lowest month is "
            f"{lowest:.1%}{error} (without the plan {plan_lowest_prob(r, with_plan=False):.1%}).{short} "
            f"{jobs + '. ' if jobs else ''}<span style='color:#666'>Capacity in {unit} chips.{notes}</span>")


# the cost charts' unit: "USD" on an axis of 0.05 read as the cost of something unnamed
COST_UNIT = "USD per million tokens"


def cost_series_names(r) -> tuple[str, str]:
    """The cost charts' series names: which tokens and the costs' basis, no unit of their own (the
    CSV's header adds COST_UNIT once; "USD per million served tokens, ... (capital, 5 y, load = peak
    / 1.5) (USD per million tokens)" said it twice)."""
    econ = r.economics if r is not None else ()
    if not econ:
        return "Served tokens, input + output", "Training tokens"
    e = econ[0]
    return (f"Served tokens, input + output: capital over {e.life_years:g} y, load = peak / {e.peak_to_average:g}",
            f"Training tokens: capital over {e.life_years:g} y, {e.training_goodput:.0%} goodput")


ADD_ORDERS_TIP = "Write each planned order into the Fleet (status 'assumption'); Ctrl+Z undoes it"


def add_orders_state(r, current: bool, undoable: bool) -> tuple[bool, str]:
    """(whether "Add plan as assumption orders" may be pressed, its tooltip): what it does, or why
    it is greyed (before a plan and after "no plan" its tooltip said only what it would do)."""
    if r is None:
        return False, "No plan yet: Find the cheapest plan first; this button then writes its orders into the Fleet"
    if not r.feasible:
        why = refused_caption(r) or "No plan meets the target (the summary says why)"
        return False, f"{why}: there are no orders to add"
    if not r.orders:
        return False, "This target needs no new orders: there is nothing to add"
    if not current:
        return False, "The inputs changed since this plan was found: find it again before adding its orders"
    if not undoable:
        return False, "Adding orders needs the window's undo history"
    return True, ADD_ORDERS_TIP


def cell_text(value: float) -> str:
    """A candidate's number as the table shows it: thousands separated like every other table,
    every digit kept (`:g` wrote 1,234,567 as 1.23457e+06, which read back as an edit)."""
    value = float(value)
    return f"{int(value):,}" if value.is_integer() and abs(value) < 1e15 else f"{value:,}"


NUMBER_COLUMNS = (2, 3, 4)   # the candidate table's price, lead time and most per quarter


def regroup_cell(table: QTableWidget, item: QTableWidgetItem) -> None:
    """A number typed into a candidate cell shown as its neighbours are ("15000" -> "15,000": an
    edited price read "15000" beside "16,854"); a cell that is not a number stays as typed, for
    the study to name."""
    if item.column() not in NUMBER_COLUMNS:
        return
    try:
        value = float(ungrouped(item.text()))
    except ValueError:
        return
    if math.isfinite(value) and cell_text(value) != item.text():
        with QSignalBlocker(table):   # the same value: not a second edit
            item.setText(cell_text(value))


def cost_chart_context(r) -> dict:
    """The cost charts' subtitle: the plan's target in one line (their files carried the whole
    nine-line reason no plan was found, which the capacity chart's files give)."""
    if r is None:
        return {}
    target = f"P(meet demand) >= {pct_text(r.confidence)} {first_of_month_text(r.from_month, r.until_month)}"
    return {"Plan": f"candidate chips for {target}" + ("" if r.feasible else " (no plan found)")}


# the result tables' titles, wrapped, in full in their tooltips with what they mean
RESULT_TIPS = {"Chip": "the chip", "Quantity": "chips to order", "Order month": "the month to place the order",
               "Due": "the month the chips are due", "Cost": "quantity × price", "Price": "the price of one chip"}
# the cost table's titles without their basis (the caption above the table says it once): with it
# the served-cost title took six lines and the table showed 1 of its 4 chips at 1280x720
SHORT_TITLES = {"Serving": "Serving, output\ntokens/s per chip", "Training": "Training\ntokens/s per chip",
                "USD per million served tokens, input + output": "USD per 1M served\ntokens, in + out",
                "USD per million training tokens": "USD per 1M\ntraining tokens"}
ECON_MOST_PX = 240   # the cost table's most height: more chips than fit scroll


def result_title(header: str) -> str:
    """A result table's column title as shown: short, the unit on its own line, wrapped at ~16
    characters ("Order month\n(date)"), so that no table scrolls sideways."""
    base = header.split(" (")[0]
    if base in SHORT_TITLES:
        return SHORT_TITLES[base]
    return "\n".join(line for part in header.replace(" (", "\n(", 1).split("\n")
                     for line in textwrap.wrap(part, 16, break_long_words=False))


def fill_result_table(table: QTableWidget, headers, rows) -> None:
    """Fill a Plan result table; each title's tooltip is the whole header (with its basis) and
    what it means."""
    table.clear()
    table.clearSpans()
    table.setColumnCount(len(headers))
    table.setRowCount(len(rows))
    table.setHorizontalHeaderLabels([result_title(h) for h in headers])
    for k, h in enumerate(headers):
        table.horizontalHeaderItem(k).setToolTip(f"{h}: {tip}" if (tip := RESULT_TIPS.get(h.split(" (")[0])) else h)
    for i, row in enumerate(rows):
        for k, value in enumerate(row):
            # plan dates are months; money in whole dollars
            text = value.strftime("%Y-%m") if isinstance(value, dt.date) else figure_text(value)
            item = QTableWidgetItem(text)
            if isinstance(value, (int, float)):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(i, k, item)


def econ_caption(r, tokens: str = "both") -> str:
    """The cost table's basis in one line (its titles leave it out; their tooltips have it).
    `tokens`: "served" or "training" for the one chart of those tokens (the training chart's caption
    spoke of served tokens at average load: QA s37), "both" for the table."""
    econ = r.economics if r is not None else ()
    if not econ:
        return "Capital cost per token of each candidate chip, once a plan is found"
    e = econ[0]
    served = f"served tokens (input + output) at average load = peak / {e.peak_to_average:g}"
    training = f"training at {e.training_goodput:.0%} goodput"
    said = {"served": [served], "training": [training]}.get(tokens, [served, training])
    return "; ".join([f"Capital over a {e.life_years:g}-year life"] + said)


def fit_table_height(table: QTableWidget, most_px: int = ECON_MOST_PX) -> None:
    """The table as tall as its titles and rows (up to `most_px`): given a share of the page, it
    showed one row under its titles while the charts above had room to spare."""
    rows_px = sum(table.rowHeight(i) for i in range(table.rowCount())) or table.verticalHeader().defaultSectionSize()
    frame_px = 2 * table.frameWidth() + table.horizontalScrollBar().sizeHint().height() * (
        table.horizontalScrollBarPolicy() != Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setFixedHeight(min(table.horizontalHeader().sizeHint().height() + rows_px + frame_px, most_px))


# the capacity chart's delivery bars: days wide (a month is ~30), the expected inside the ordered
DUE_BAR_DAYS, EXPECTED_BAR_DAYS = 26, 12
DAY_S = 86400.0


def short_chip_name(name: str) -> str:
    """A chip's name by its model number where it has one ("Ascend 910B2" -> "910B2", "H800 SXM5
    80GB" -> "H800"), else whole ("Gaudi 3"): for a legend entry that must fit a third of a chart."""
    word = next((w for w in name.split() if any(ch.isdigit() for ch in w) and any(ch.isalpha() for ch in w)), "")
    return word if len(word) >= 3 else name


def delivery_names(r, unit: str, with_unit: bool = True) -> tuple[str, str]:
    """(the ordered bars' name, the expected bars') on the Plan's capacity chart, the unit in each
    (legend): the bars counted an order of 41,000 H20 as 54,884 chips on that axis, named "Planned
    deliveries (due)", read as the chips to arrive. Short, so that the legend keeps three columns at
    1280 px (a name a row squeezed the plot). `with_unit=False`: the names in the CSV's header, which
    adds the axis's "(Ascend 910B2 chips)" (both read "Ordered (910B2-eq.) (Ascend 910B2 chips)")."""
    eq = f" ({short_chip_name(unit)}-eq.)" if with_unit else ""
    ordered, expected = ("Ordered", "Expected") if r.feasible else ("Refused: ordered", "Refused: expected")
    return f"{ordered}{eq}", f"{expected}{eq}"


def _as_unit_chips(r, unit: str, names: dict, chips_of) -> str:
    """Each planned order as unit chips in words ("41,000 H20 × 1.34 = 54,884"), up to three."""
    parts = [f"{format_number(chips_of(o))} {names.get(o.chip_id, o.chip_id)}"
             + ("" if o.chip_id == r.unit_chip_id else f" × {unit_chip_worth(r, o.chip_id):.3g}")
             + f" = {format_number(chips_of(o) * unit_chip_worth(r, o.chip_id))}" for o in r.orders[:3]]
    return "; ".join(parts) + (f"; and {len(r.orders) - 3} more orders" if len(r.orders) > 3 else "")


def delivery_tips(r, unit: str, names: dict) -> tuple[str, str]:
    """The tooltips of delivery_names' legend entries: what each bar counts and how, with figures."""
    worth = f"each chip counted as the {unit} chips it serves as (its serving rate over the {unit}'s)"
    ordered = (f"Planned orders due in that month, the whole ordered quantity in {unit}-equivalents: {worth}. "
               f"{_as_unit_chips(r, unit, names, lambda o: o.quantity)}.")
    expected = (f"Chips expected to arrive from those orders (the vendors' fulfilment and export cut-offs, "
                f"the mean over the fresh trials; late lots too), in {unit}-equivalents, drawn at the month "
                f"they are due: {_as_unit_chips(r, unit, names, lambda o: o.expected_delivered or 0.0)}.")
    return ordered, expected


def draw_deliveries(chart, r, x, unit: str, names: dict) -> None:
    """The planned orders as bars on the capacity chart (`x`: its months as timestamps): the
    ordered quantity, the expected arrivals inside it, each named with its unit, its legend
    entry's tooltip saying how it is counted."""
    ordered_name, expected_name = delivery_names(r, unit)
    chart.header_names.update(zip((ordered_name, expected_name), delivery_names(r, unit, with_unit=False)))
    tips = dict(zip((ordered_name, expected_name), delivery_tips(r, unit, names)))
    chart.set_bars(ordered_name, x, plan_deliveries(r), width=DUE_BAR_DAYS * DAY_S, color="#BBBBBB")
    expected = plan_expected_deliveries(r)
    if expected is not None:
        chart.set_bars(expected_name, x, expected, width=EXPECTED_BAR_DAYS * DAY_S, color="#555555")
    for sample, label in (chart.legend.items if chart.legend is not None else ()):
        tip = tips.get(getattr(label, "full_name", label.text))
        if tip:
            sample.setToolTip(tip)
            label.setToolTip(tip)


class ReturnRuns(QObject):
    """Enter in one of the form's fields runs the view's search, as Enter does in the other views
    (it did nothing here: only F5 and the button ran the plan). The field takes the key first, so a
    value typed is committed (and its undo step made) before the run reads the form. Not while a
    search runs (`busy`), as F5: Enter held down must not restart it."""

    def __init__(self, run_button, fields, busy=lambda: False):
        super().__init__(run_button)
        self.run_button = run_button
        self.busy = busy
        for field in fields:
            field.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if (event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            QTimer.singleShot(0, self._run)
        return False

    def _run(self) -> None:
        if self.run_button.isEnabled() and not self.busy():
            self.run_button.click()
