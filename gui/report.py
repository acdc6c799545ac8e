"""The PDF report of a scenario: File > Export report... and `fleetcast report`.

    panels = build_offscreen_panels(store, "Story default")      # or the window's own panels
    result = write_report(store, panels, "Story default", params, "/tmp/story.pdf")

The report is an HTML document laid out by QTextDocument and printed by QPdfWriter (Qt's own PDF
writer: no new dependency). It is a list of section builders, `SECTIONS`: each takes the
`ReportContext` and returns HTML, or "" when it has nothing to say. A new analysis (an order plan)
is one more builder in that list.

The figures come from the panels' own `tables()` and `charts()`, the same objects File > Export all
and `fleetcast export` write, so the report says what the window shows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from engine import __version__
from engine.commands.forecast import what_if_line, what_if_of
from engine.csv_io import temp_file_beside
from engine.errors import UserError
from engine.forecast import NO_DEMAND_WORDS
from engine.forecast_text import demand_what_if_words
from engine.studies_forecast import NO_DEMAND_VALUE, SERVES_NOTHING_VALUE
from engine.studies import chip_name

# QTextDocument.print_ lays a document without a page size out with its own 2 cm margins inside
# the writer's page, so the writer's margins stay at zero.
PAGE_MARGIN_MM = 0.0
CHART_WIDTH_PX = 1200  # rendered width; shown at the text width (~170 mm), i.e. ~180 dpi
CHART_SHOWN_WIDTH = 640  # layout units of the document (its text width at A4 is ~650)

# Labels of the calibration factors the report shows (a factor not listed shows its own name).
FACTOR_LABELS = {
    "train_gemm_eff": "Train matmul",
    "train_attn_eff": "Train attention",
    "train_hbm_eff": "Train HBM",
    "train_scaleup_eff": "Scale-up links",
    "train_scaleout_eff": "Scale-out network",
    "train_layer_overhead_us": "Layer overhead (µs)",
    "inf_hbm_eff": "Serve HBM",
    "inf_prefill_mfu": "Prefill matmul",
    "inf_decode_mfu": "Decode matmul",
    "train_attn_path_rel": "Attention kernel path",
}
SERVING_HEADLINE_FACTORS = ("inf_hbm_eff", "inf_prefill_mfu", "inf_decode_mfu")


def calibration_factors() -> list[str]:
    """Every training factor the packaged calibration fits, then the headline serving ones."""
    import csv
    import io

    from resources import read_text

    names: list[str] = []
    for row in csv.DictReader(io.StringIO(read_text("calibration_training.csv"))):
        factor = (row.get("factor") or "").strip()
        if factor and "@" not in factor and factor not in names:
            names.append(factor)
    return names + list(SERVING_HEADLINE_FACTORS)


@dataclass
class ReportContext:
    """Everything a section builder may read; built once per report."""

    scenario: str
    params: dict
    created: dt.datetime
    db_path: Path
    figures: dict[str, dict[str, tuple[object, str]]]  # panel -> label -> (value, unit)
    tables: dict[str, dict[str, tuple[list, list]]]  # panel -> table key -> (headers, rows)
    charts: list[tuple[str, str]]  # (resource name, caption), images already in the document
    orders: list[dict]
    chips: dict[str, object]  # chip id -> engine Chip (with its effective calibration)
    stored_calibration: dict[str, dict[str, float]]  # chip id -> factors this database overrides
    accuracy: dict
    plan: dict | None = None  # an order plan, when one has been computed
    extra: dict = field(default_factory=dict)
    not_computed: dict[str, str] = field(default_factory=dict)  # panel key -> why (a --partial report)


@dataclass(frozen=True)
class ReportResult:
    path: Path
    pages: int
    charts: int
    sections: list[str]
    not_computed: dict[str, str] = field(default_factory=dict)   # (--partial) panel key -> why


# ---- formatting ---------------------------------------------------------------------------------

def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _parsed(value) -> tuple[float | None, str]:
    """(the number, '') or (None, what to show instead: the text itself, or '—' when not finite)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None, _esc(value)
    return (x, "") if math.isfinite(x) else (None, "—")


def _number(value, digits: int = 0) -> str:
    """Thousands separators; `digits` decimals; '—' for a missing value."""
    if value is None or value == "":
        return "—"
    x, shown = _parsed(value)
    return shown if x is None else f"{x:,.{digits}f}"


def _smart(value) -> str:
    """A figure with sensible precision: 3 significant digits below 100, integers above."""
    x, shown = _parsed(value)
    if x is None:
        return shown
    if abs(x) >= 100:
        return _number(x, 0)
    if abs(x) >= 10:
        text = _number(x, 1)
        return text[:-2] if text.endswith(".0") else text
    return f"{x:.2f}".rstrip("0").rstrip(".") if x != int(x) else f"{int(x)}"


def _approx(value) -> str:
    """A modelled quantity to three significant figures, in words past a million: the engine's
    error is 10-20%, so "12,810,439 chip-hours" and "USD 6,161,733" claimed digits it has not."""
    x, shown = _parsed(value)
    if x is None:
        return shown
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(x) >= scale:
            return f"{float(f'{x / scale:.3g}'):g} {word}"
    return f"{float(f'{x:.3g}'):,.0f}" if abs(x) >= 100 else _smart(x)


def _energy_mwh(value) -> str:
    """A run's energy as `fleetcast train` and the Training view write it: whole MWh from 10 on
    (the report's 3 figures said 4,520 MWh beside their 4,519), 3 significant digits below."""
    x, shown = _parsed(value)
    if x is None:
        return shown
    return _number(x, 0) if abs(x) >= 10 else f"{x:.3g}"


def _usd(value) -> str:
    """A plan's cost as the Plan view writes it ($470M, $41.5B)."""
    from engine.forecast_plan import usd_text

    try:
        return _esc(usd_text(float(value)))
    except (TypeError, ValueError):
        return "—"


def _is_date(value) -> bool:
    try:
        dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return False
    return True


def _month(value) -> str:
    """'2029-04-01' -> 'Apr 2029': a monthly model's dates are months, not days."""
    try:
        return dt.date.fromisoformat(str(value)[:10]).strftime("%b %Y")
    except ValueError:
        return _esc(value)


def _pct(value) -> str:
    """12.3 -> '12.3 %'; a range given as text ('16-20') -> '16–20 %'."""
    if isinstance(value, str):
        return f"{_esc(value.replace('-', '–'))} %"
    return f"{_smart(value)} %"


def _figure_map(rows: list) -> dict[str, tuple[object, str]]:
    out: dict[str, tuple[object, str]] = {}
    for row in rows or []:
        if not row:
            continue
        label = str(row[0])
        value = row[1] if len(row) > 1 else None
        unit = str(row[2]) if len(row) > 2 and row[2] is not None else ""
        out[label] = (value, unit)
    return out


def _find(figures: Mapping[str, tuple[object, str]], prefix: str, *, skip: str = ""):
    """The first figure whose label starts with `prefix` (and holds no `skip`): (label, value,
    unit) or None."""
    for label, (value, unit) in figures.items():
        if label.startswith(prefix) and not (skip and skip in label):
            return label, value, unit
    return None


# The forecast's key figures that another seed may change come with a row saying by how much
# (engine.studies_forecast.shortfall_seed_words): "2025-07 or 2025-08 by the seed (P(meet) ...)".
SEED_RANGE = "Monte Carlo range"


def _seed_range(figures: Mapping[str, tuple[object, str]], prefix: str) -> tuple[str, str]:
    """(the range, why) from the "<prefix>, Monte Carlo range" key figure: ("2025-07 or 2025-08",
    "P(meet) 2025-07 47.3% ±1.1 points, within 3 standard errors of 50% at 2,000 trials"), or
    ("", "") when the figure is settled (no such row)."""
    found = _find(figures, f"{prefix}, {SEED_RANGE}")
    if not found or not found[1]:
        return "", ""
    span, _, why = str(found[1]).partition(" by the seed")
    return span.strip(), why.strip().removeprefix("(").removesuffix(")").replace("+-", "±")


def _table(headers: list[str], rows: list[list], widths: list[int] | None = None, small: bool = True,
           nowrap: int = 0) -> str:
    """`nowrap`: the first that many columns never break inside a word ("ByteDanc|e")."""
    size = "8pt" if small else "9pt"
    widths = widths or [0] * len(headers)
    keep = lambda k: ' style="white-space:nowrap"' if k < nowrap else ""  # noqa: E731
    head = "".join(f'<th align="left" style="background:#e8edf3{"; white-space:nowrap" if k < nowrap else ""}"'
                   f'{_width_attr(w)}>{_esc(h)}</th>' for k, (h, w) in enumerate(zip(headers, widths)))
    body = []
    for i, row in enumerate(rows):
        shade = ' style="background:#f6f8fa"' if i % 2 else ""
        cells = "".join(f"<td{keep(k)}>{cell}</td>" for k, cell in enumerate(row))
        body.append(f"<tr{shade}>{cells}</tr>")
    return (f'<table width="100%" cellspacing="0" cellpadding="3" style="font-size:{size}; border-collapse:collapse">'
            f"<tr>{head}</tr>{''.join(body)}</table>")


def _width_attr(percent: int) -> str:
    return f' width="{percent}%"' if percent else ""


def _h1(text: str, first: bool = False) -> str:
    brk = "" if first else ' style="page-break-before: always"'
    return f'<h2{brk}>{_esc(text)}</h2>'


# ---- sections -----------------------------------------------------------------------------------

def what_if_html(ctx: ReportContext) -> str:
    """"What-if of 'Story default': export cut-offs: changed H20: probability 50% → 100%, …" under the
    title: a what-if's report named neither its baseline nor what it changes ("" for a whole scenario)."""
    base, changes = ctx.extra.get("what_if") or (None, [])
    if not base:
        return ""
    line = what_if_line(base, changes, more_hint="the scenario's inputs are under Assumptions")
    return f"<p><b>{_esc(line[:1].upper() + line[1:])}</b></p>"


def title_section(ctx: ReportContext) -> str:
    when = ctx.created.strftime("%Y-%m-%d %H:%M")
    return (f'<h1 style="font-size:22pt">Fleetcast report: {_esc(ctx.scenario)}</h1>'
            f'<p style="color:#555">Scenario <b>{_esc(ctx.scenario)}</b> · created {when} · Fleetcast {__version__}'
            f"<br/>Database: {_esc(os.path.abspath(ctx.db_path))}</p>" + what_if_html(ctx) +
            '<p>What the fleet can train and serve, and whether the chips on order will meet demand. Every figure '
            "below is a model estimate from the scenario's inputs (listed under Assumptions), with the error bars "
            "stated under Accuracy.</p>")


def key_answers_section(ctx: ReportContext) -> str:
    from gui.export_all import not_computed_text

    # a part that could not be computed is said first, not left out (the report read as complete)
    missing = [f"<b>Not in this report:</b> {_esc(t[0].upper() + t[1:])}; its answers and charts are missing."
               for t in not_computed_text(ctx.not_computed)]
    sentences = missing + _sourced(training_sentences(ctx), training_source(ctx)) + \
        _sourced(serving_sentences(ctx), serving_source(ctx)) + forecast_sentences(ctx) + plan_sentences(ctx)
    if not sentences:
        return '<h2>Key answers</h2><p>No analysis produced figures for this scenario.</p>'
    items = "".join(f"<li>{s}</li>" for s in sentences)
    return f'<h2>Key answers</h2><ul style="font-size:11pt">{items}</ul>'


def _sourced(sentences: list[str], source: str) -> list[str]:
    """The first sentence led by where its inputs come from."""
    return [f"<i>{source}:</i> {sentences[0]}"] + sentences[1:] if sentences else sentences


def training_source(ctx: ReportContext) -> str:
    """The Training and Inference views study a workload of their own, which the forecast's jobs
    and demand need not be: the answers read as if about the forecast's 405B and Doubao."""
    jobs = (ctx.tables.get("forecast", {}).get("jobs") or ([], []))[1]
    return "From the Training view's inputs" + (f", not the forecast's job{'s' if len(jobs) > 1 else ''} below"
                                                 if jobs else "")


def serving_source(ctx: ReportContext) -> str:
    model_id = (ctx.params.get("demand") or {}).get("model_id") if ctx.figures.get("forecast") else None
    if not model_id:
        return "From the Inference view's inputs"
    served = (ctx.extra.get("model_names") or {}).get(model_id, model_id)
    return f"From the Inference view's inputs, not the forecast's demand served by {_esc(served)}"


def training_sentences(ctx: ReportContext) -> list[str]:
    f = ctx.figures.get("training") or {}
    if "Time to train" not in f and "Feasible" not in f:
        return []
    model, chip = f.get("Model", ("?", ""))[0], f.get("Chip", ("?", ""))[0]
    chips = f.get("Chips", (None, ""))[0]
    if str(f.get("Feasible", ("true", ""))[0]).lower() in ("false", "0"):
        return [f"Training <b>{_esc(model)}</b> on {_number(chips)} {_esc(chip)} chips: no layout fits in memory "
                "with these settings."]
    tokens = f.get("Token budget", (None, ""))[0]
    days = f.get("Time to train", (None, ""))[0]
    parts = [f"Training <b>{_esc(model)}</b> on <b>{_number(chips)} {_esc(chip)}</b> chips"]
    if tokens:
        parts.append(f" for {_smart(float(tokens) / 1e12)} trillion tokens")
    parts.append(f" takes about <b>{_number(days)} days</b>")
    detail = []
    if "Layout" in f:
        detail.append(f"best layout {_esc(f['Layout'][0])}")
    if "MFU" in f:
        detail.append(f"{_smart(f['MFU'][0])} % MFU")
    if "Throughput per chip" in f:
        detail.append(f"{_number(f['Throughput per chip'][0])} tokens/s per chip")
    if "Goodput" in f:
        detail.append(f"{_smart(f['Goodput'][0])} % goodput after failures and restarts")
    sentence = "".join(parts) + (f" ({'; '.join(detail)})" if detail else "") + "."
    out = [sentence]
    if f.get("Cost", (None, ""))[0] and f.get("Energy", (None, ""))[0]:
        # the bases the engine priced and powered the run on (a price typed per chip-hour read as
        # "the catalog's list prices amortised over 5 years")
        basis = f.get("Cost basis", ("the catalog's list price amortised over 5 years of use; energy not included", ""))[0]
        power = f.get("Energy basis", (None, ""))[0]
        out.append(f"That run uses about {_approx(f['Chip-hours'][0])} chip-hours and {_energy_mwh(f['Energy'][0])} MWh"
                   + (f" ({_esc(power)})" if power else "") + f", about USD {_approx(f['Cost'][0])} of chip time "
                   f"({_esc(basis)}).")
    for job in (ctx.tables.get("forecast", {}).get("jobs") or ([], []))[1]:
        name, done_p50, done_p90, within = job[0], job[7], job[8], job[9]
        if not _is_date(done_p50):   # "finishes by after horizon" (QA s34): it does not, at the median
            out.append(f"In the fleet forecast, the job <b>{_esc(name)}</b> does not finish within the horizon at the "
                       f"median; it finishes within it in {_smart(within)} % of trials.")
            continue
        p90 = _month(done_p90) if _is_date(done_p90) else "after the horizon"
        out.append(f"In the fleet forecast, the job <b>{_esc(name)}</b> finishes by <b>{_month(done_p50)}</b> at the "
                   f"median (P90: {p90}); it finishes within the horizon in {_smart(within)} % of trials.")
    return out


def serving_sentences(ctx: ReportContext) -> list[str]:
    f = ctx.figures.get("inference") or {}
    if "Chips needed" not in f:
        return []
    model, chip = f.get("Model", ("?", ""))[0], f.get("Chip", ("?", ""))[0]
    demand = f.get("Peak demand", (None, ""))
    slo = []
    if "TTFT target" in f:
        slo.append(f"time to first token ≤ {_number(f['TTFT target'][0])} ms")
    if "TPOT target" in f:
        slo.append(f"≤ {_number(f['TPOT target'][0])} ms per output token")
    if slo and f.get("Latencies held at", (None, ""))[0]:
        slo[-1] += f", held at {_esc(f['Latencies held at'][0])}"
    per_chip = f.get("Throughput at SLO", (None, ""))[0]
    # the workload the figure is for (the report gave targets and chips but no request lengths)
    work = []
    if "Input length" in f and "Output length" in f:
        spread = f.get("Length spread", (None, ""))[0]
        work.append(f"requests of {_number(f['Input length'][0])} input and {_number(f['Output length'][0])} "
                    "output tokens" + (f" on average, lengths spread with a CV of {_smart(spread)}" if spread else ""))
    if f.get("TP", (None, ""))[0]:
        work.append(f"TP{_esc(f['TP'][0])}" + (f" EP{_esc(f['EP'][0])}" if (f.get("EP", (1, ""))[0] or 1) > 1 else ""))
    if f.get("Weights", (None, ""))[0]:
        work.append(f"{_esc(str(f['Weights'][0]).upper())} weights, {_esc(str(f.get('KV cache', ('', ''))[0]).upper())} "
                    "KV cache")
    return [f"Serving <b>{_esc(model)}</b> at a peak of {_number(demand[0])} {_esc(demand[1] or 'tokens/s')} "
            f"({' and '.join(slo) or 'no latency targets'}) needs <b>about {_approx(f['Chips needed'][0])} {_esc(chip)} "
            f"chips</b>, at {_smart(per_chip)} output tokens/s per chip"
            + (f" ({'; '.join(work)})" if work else "") + "."]


def forecast_sentences(ctx: ReportContext) -> list[str]:
    f = ctx.figures.get("forecast") or {}
    if not f:
        return []
    out = []
    if (_find(f, "First month demand exceeds capacity P50", skip=SEED_RANGE) or (None, None, None))[1] == NO_DEMAND_VALUE:
        # its 100% and "covers demand in every month" read as a fleet that keeps up (QA s36)
        out.append(f"<b>There is no demand to meet</b>: {_esc(NO_DEMAND_WORDS.split(': ', 1)[1])}; add demand points "
                   "(and a demand scale above 0) to compare capacity with demand.")
        installed, end = _find(f, "Installed P50 at horizon end, all types"), _find(f, "Horizon end")
        if installed and end:
            out.append(f"By {_month(end[1])} the median installed fleet is about {_approx(installed[1])} chips.")
        return out
    # a month past a short horizon reads 'beyond horizon', not a probability: said as such below
    probabilities = [(label, value) for label, (value, _u) in f.items()
                     if label.startswith("P(meet demand)") and isinstance(value, (int, float))]
    if probabilities:
        # whole percent, as the Forecast summary writes it: 2,000 trials measure a probability to
        # about half a point (the report said 97.2 % beside the summary's 97%)
        monthly = (ctx.tables.get("forecast", {}).get("monthly") or ([], []))[1]

        def when(label: str) -> str:   # "12 months in" with its month, as the window names it
            words = label.split(")", 1)[1].split("(")[0].strip()
            n = words.split()[0]
            if n.isdigit() and int(n) < len(monthly) and hasattr(monthly[int(n)][0], "strftime"):
                return f"{words} (on 1 {monthly[int(n)][0]:%b %Y})"   # each month is read on its first day
            return words

        # a figure short of certain keeps its decimal (engine prob_percent: 99.9, not "100 %")
        said = [f"<b>{_number(value) if float(value).is_integer() else f'{float(value):g}'} %</b> {_esc(when(label))}"
                for label, value in probabilities]
        out.append("The probability that installed capacity meets demand is " + " and ".join(said) + "."
                   + _prob_error_sentence(ctx))
    # the first short month and the count are one seed's: where another seed may move them the
    # report gives their range and why, as `fleetcast forecast` and the key-figures CSV do (it
    # said "2025-07; 46 months" where those said "2025-07 or 2025-08 ... 45 to 46 by the seed")
    first = _find(f, "First month demand exceeds capacity P50", skip=SEED_RANGE)
    months = _find(f, "Months with a P50 shortfall", skip=SEED_RANGE)
    largest = _find(f, "Largest P50 shortfall")
    first_span, first_why = _seed_range(f, "First month demand exceeds capacity P50")
    count_span, count_why = _seed_range(f, "Months with a P50 shortfall")
    why = first_why or count_why
    if first and first[1] and str(first[1]) != "never":
        shown = f"<b>{_esc(first_span)}</b> by the seed" if first_span else f"<b>{_esc(str(first[1])[:7])}</b>"
        text = f"Demand first exceeds the median capacity in {shown}"
        if months:
            count = f"{_esc(count_span)} months (by the seed)" if count_span else f"{_number(months[1])} months"
            text += f"; {count} of the horizon show a median shortfall"
        if largest and largest[1] == SERVES_NOTHING_VALUE:   # no unit chip to count the gap in
            text += ": no chip serves the model under its latency targets, so the capacity is 0"
        elif largest:
            unit = largest[0].split("(", 1)[1].rstrip(")") if "(" in largest[0] else ""
            text += f", at most about {_approx(largest[1])} {_esc(unit)}"
        out.append(text + (f" ({_esc(why)})" if why else "") + ".")
    elif months is not None:
        out.append("Median capacity covers demand in every month of the horizon"
                   + (f" at this seed; another seed may show a shortfall from {_esc(first_span)} ({_esc(why)})"
                      if first_span else "") + ".")
    installed = _find(f, "Installed P50 at horizon end, all types")
    end = _find(f, "Horizon end")
    if installed and end:
        out.append(f"By {_month(end[1])} the median installed fleet is about {_approx(installed[1])} chips.")
    return out


def _prob_error_sentence(ctx: ReportContext) -> str:
    """" These carry ±1.1 points of Monte Carlo error at 2,000 trials (...)": the run's own error,
    as `fleetcast forecast` states it ("" when the run's trials are not known)."""
    from engine.studies_forecast import prob_error_points

    trials = (ctx.extra.get("forecast_run") or {}).get("trials")
    if not trials:
        return ""
    return (f" These carry ±{prob_error_points(trials):.1f} points of Monte Carlo error at {int(trials):,} trials "
            "(1 standard error at 50%).")


def plan_sentences(ctx: ReportContext) -> list[str]:
    plan = ctx.plan
    if not plan:
        return []
    first, last = str(plan.get("from_month") or "")[:7], str(plan.get("until_month") or "")[:7]
    if not plan.get("feasible", True):   # the target it failed, as the window names it
        if not (first and last):
            return [f"No order plan meets the target: {_esc(plan.get('why', ''))}."]
        return [f"No order plan keeps P(capacity ≥ demand) ≥ {100 * float(plan.get('confidence') or 0):g}% on the "
                f"1st of each month from {_esc(first)} to {_esc(last)}: {_esc(plan.get('why', ''))}."]
    orders = plan.get("orders") or []
    # the target it answers: "0 orders" is an answer about this window only
    target = (f"To keep P(capacity ≥ demand) ≥ {100 * float(plan.get('confidence') or 0):g}% on the 1st of "
              f"each month from {_esc(first)} to {_esc(last)}, " if first and last else "")
    if orders:
        text = (f"{target}the cheapest order plan places {len(orders)} order{'s' if len(orders) != 1 else ''} for "
                f"{_usd(plan.get('total_cost_usd'))} in total{_cost_spread(plan)}{_delivered_text(plan)} "
                "(see Order plan).")
        fresh = plan.get("min_prob_meet_in_target")
        se = plan.get("min_prob_meet_in_target_se")
        if fresh is not None:   # what it reached, and the rule it is held to (QA s23: the report said neither)
            trials = plan.get("fresh_trials")
            on = f" on {int(trials):,} fresh trials" + (f" (seed {plan.get('fresh_seed')})" if trials else "") \
                if trials else " on fresh trials"
            rule = str(plan.get("meets_target_rule") or "")
            text += (f" Its lowest month reaches {100 * float(fresh):.1f}%"
                     + (f" ± {100 * float(se):.1f} points" if se is not None else "") + on
                     + (f"; {_esc(rule)}" if rule else "") + ".")
        others = plan.get("cost_on_other_trial_sets_usd") or []
        if others and all(c is None for c in others):   # (some found one: said in the cost's spread above)
            text += (f" On {len(others)} other set{'s' if len(others) > 1 else ''} of trials no plan is found: "
                     "the target is at the edge of what supply can reach.")
    else:
        text = f"{target}no new orders are needed."
    text = text[0].upper() + text[1:]
    out = [text]
    later = [(m, p) for m, p in zip(plan.get("months") or [], plan.get("prob_meet_demand") or [])
             if last and str(m)[:7] > last and p is not None]
    if later:   # past the target window the plan promises nothing: say how far it falls
        out += _after_target_sentences(later, last, float(plan.get("confidence") or 0))
    return out


def _after_target_sentences(later: list, last: str, confidence: float) -> list[str]:
    """When P(capacity ≥ demand) first drops below the confidence after the target, and its
    lowest: the lowest alone ("falls to 0% by 2026-07") read as if 2025-07's 64% were still kept."""
    month, low = min(later, key=lambda mp: mp[1])
    if low >= confidence:
        return []
    first_month, first_prob = next((m, p) for m, p in later if p < confidence)
    lowest = f"{100 * low:.0f}% by {_esc(str(month)[:7])}"
    if str(first_month)[:7] == str(month)[:7]:   # the first month below is the lowest: one figure
        return [f"After {_esc(last)} it is not planned for: P(capacity ≥ demand) falls to {lowest}."]
    return [f"After {_esc(last)} it is not planned for: P(capacity ≥ demand) falls below {100 * confidence:g}% "
            f"in {_esc(str(first_month)[:7])} ({_prob_pct(first_prob)}) and to {lowest}."]


def _prob_pct(probability: float) -> str:
    """0.638 -> '63.8%': one decimal, as the plan's own "lowest month reaches 89.2%" caveat."""
    return f"{100 * probability:.1f}%"


VENDOR_RISK_LINE = ("A vendor's row applies to every order from that vendor, placed or planned: the order plan's "
                    "orders are drawn from it too.")


def assumptions_section(ctx: ReportContext) -> str:
    out = [_h1("Assumptions")]
    p = ctx.params or {}
    settings = forecast_setting_lines(ctx)
    if settings:
        out.append("<h3>Forecast settings</h3><ul>" + "".join(f"<li>{line}</li>" for line in settings) + "</ul>")
    if p.get("note"):
        # prose the author wrote, which need not match the inputs ("half the 910B fleet trains"
        # beside a 20% share): said as theirs, after the settings the figures use
        out.append('<p style="font-size:9pt; color:#444"><b>Scenario note</b> (as written; the settings above '
                   f"are what the figures use): {_esc(p['note'])}</p>")
    # Orders and their provenance.
    status_words = {"sourced": "sourced", "partial": "partly sourced", "assumption": "assumed"}
    rows = []
    for o in ctx.orders:
        status = status_words.get(str(o.get("status") or ""), _esc(o.get("status") or "—"))
        rows.append([_esc(o.get("id")), _esc(o.get("buyer") or ""), _esc(o.get("vendor") or ""),
                     _esc(chip_name(ctx.chips[o["chip_id"]]) if o.get("chip_id") in ctx.chips
                          else o.get("chip_id") or ""), _number(o.get("quantity")), _number(o.get("delivered")),
                     _esc(o.get("order_date") or ""), f"<b>{status}</b>", _esc(o.get("source") or "")])
    out.append("<h3>Orders</h3>")
    if rows:
        out.append(_table(["ID", "Buyer", "Vendor", "Chip", "Chips", "Delivered", "Ordered", "Status", "Source"],
                          rows, widths=[4, 10, 8, 13, 10, 10, 11, 10, 24], nowrap=8))
        counts = {}
        for o in ctx.orders:
            counts[status_words.get(str(o.get("status")), str(o.get("status")))] = counts.get(
                status_words.get(str(o.get("status")), str(o.get("status"))), 0) + 1
        out.append("<p>" + ", ".join(f"{n} {word}" for word, n in counts.items()) + " order(s). "
                   "Sourced figures come from public reports; assumed ones are placeholders to replace.</p>")
    else:
        out.append("<p>No orders are recorded.</p>")
    # Delivery uncertainty.
    out.append("<h3>Delivery uncertainty</h3>")
    unc_rows = []
    held = {str(o.get("id")) for o in ctx.orders}   # a deleted order's setting does nothing: said so
    for scope, u in [("Default", p.get("default_uncertainty"))] + sorted((p.get("vendor_uncertainty") or {}).items()) \
            + sorted((f"Order {k}" + ("" if str(k) in held else " (not in the fleet: no effect)"), v)
                     for k, v in (p.get("order_uncertainty") or {}).items()):
        if not u:
            continue
        unc_rows.append([_esc(scope), _uncertainty_delay(u), _uncertainty_fraction(u), _esc(u.get("note") or "")])
    out.append(_table(["Applies to", "Delay (days)", "Share delivered", "Why"], unc_rows, widths=[12, 22, 22, 44])
               if unc_rows
               else "<p>Deliveries arrive as promised (no uncertainty set).</p>")
    if p.get("vendor_uncertainty"):
        # the forecast draws a planned order from its maker's row as a placed one: "Huawei delivers
        # half" halves the plan's 910B orders too, which a note on "the 910B order" hid (QA s28)
        out.append(f"<p>{VENDOR_RISK_LINE}</p>")
    # Demand.
    demand = p.get("demand") or {}
    out.append("<h3>Demand</h3>")
    points = demand.get("points") or []
    if points:
        def spread(pt) -> str:   # each point's own uncertainty, as the points table gives it
            sd, floor = float(pt.get("sd_pct") or 0), bool(pt.get("at_least"))
            return (f"+{sd:g}% (floor)" if floor else f"±{sd:g}%") if sd else ("floor" if floor else "exact")

        out.append(_table(["Date", "Tokens per day", "± (1 sd)", "Note"], widths=[13, 21, 14, 52], rows=
                          [[_esc(pt.get("date")), _number(pt.get("tokens_per_day")), spread(pt),
                            _esc(pt.get("note") or "")] for pt in points]))
        growth = demand.get("growth_after_last_per_year")
        served = []
        if demand.get("model_id"):
            served.append(f"served model {_esc(demand['model_id'])}")
        if demand.get("ttft_ms"):
            served.append(f"TTFT {_number(demand['ttft_ms'])} ms, TPOT {_number(demand.get('tpot_ms'))} ms")
        if demand.get("peak_to_average"):
            served.append(f"peak/average {_smart(demand['peak_to_average'])}")
        # the growth the forecast uses: `growth_after_last_per_year` only with the fixed model (the
        # report quoted "×2 per year" for a fitted decaying growth that ignores it)
        model = demand.get("growth_model") or "fixed"
        if model == "fixed" and growth:
            served.append(f"growth after the last point ×{_smart(growth)} per year (fixed)")
        elif model == "user":
            served.append("growth after the last point, P10/P50/P90 "
                          + "/".join(f"×{_smart(demand.get(k))}" for k in
                                     ("growth_p10_per_year", "growth_p50_per_year", "growth_p90_per_year"))
                          + " per year (as set)")
        elif model == "loglinear":
            served.append(f"growth fitted log-linearly on the last {_number(demand.get('fit_points') or 2)} points, "
                          "with its error")
        elif model == "decaying":
            served.append("growth rate fitted as falling over time on every point, with its error "
                          "(it saturates on its own)")
        out.append(f"<p>{'; '.join(served)}.</p>")
        if demand.get("note"):
            out.append(f'<p style="font-size:8pt; color:#444">{_esc(demand["note"])}</p>')
    else:
        out.append("<p>No demand points are set.</p>")
    out.append(training_reliability_html(ctx))
    out.append(calibration_html(ctx))
    return "".join(out)


def training_reliability_html(ctx: ReportContext) -> str:
    """The failure and restart inputs behind the training time, goodput and cost (the Training
    view's, "ui.training"; its defaults where the scenario stores none): the report gave the
    goodput and never what it rests on. "" without training figures."""
    from engine.reliability import DEFAULT_MTBF_CHIP_HOURS, LLAMA3_CHIPS, LLAMA3_DAYS, LLAMA3_INTERRUPTIONS
    from engine.studies import TrainingStudy

    if not ctx.figures.get("training"):
        return ""
    try:
        study = TrainingStudy.from_dict((ctx.params.get("ui") or {}).get("training"))
    except UserError as exc:   # saved by a newer Fleetcast, or a field that is no number
        return f"<h3>Training reliability</h3><p>Not read: {_esc(exc)}.</p>"
    mtbf = (f"{_smart(study.mtbf_chip_hours)} chip-hours" if study.mtbf_chip_hours else
            f"{_number(DEFAULT_MTBF_CHIP_HOURS)} chip-hours (the Llama 3 report's rate: {LLAMA3_INTERRUPTIONS} "
            f"interruptions in {LLAMA3_DAYS:g} days on {LLAMA3_CHIPS:,} H100)")
    return ("<h3>Training reliability</h3>"
            f"<p>The training time, goodput and cost assume a mean time between job-stopping failures of {mtbf} "
            f"per chip (a job on N chips stops every MTBF / N hours), {_smart(study.restart_min)} min to restart "
            f"after each, and checkpoints ({_smart(study.checkpoint_bytes_per_param)} bytes per parameter) written at "
            f"{_smart(study.checkpoint_write_gbps)} "
            "GB/s, at the interval that loses the least time.</p>")


def forecast_setting_lines(ctx: ReportContext) -> list[str]:
    """The scenario's forecast inputs as the engine reads them, one line each (HTML): the horizon,
    the export cut-offs, the training shares and the efficiency scales. The report quoted the
    free-text note alone for these, which said "half the 910B fleet trains" beside a 20% share
    and listed no cut-off (a cut-off scenario's assumptions read as the baseline's)."""
    p = ctx.params or {}
    lines = []
    if p.get("trials"):
        life = f"{_smart(p['lifetime_years'])}-year chip life" if p.get("lifetime_years") else "no chip retirement"
        lines.append(f"{_number(p['trials'])} Monte Carlo trials over {_number(p.get('months'))} months from "
                     f"{_esc(p.get('start') or '—')}; install lag {_number(p.get('install_lag_days'))} days; "
                     f"{_smart(100 * float(p.get('annual_failure_rate') or 0))} %/year attrition; {life}.")
    if p.get("unscheduled_spread_months") is not None:
        lines.append("Undelivered chips with no promised date: spread over "
                     f"{_number(p['unscheduled_spread_months'])} months after the last recorded delivery.")
    if "policy_events" in p:
        lines += _cutoff_lines(ctx, p.get("policy_events") or [])
    if isinstance(p.get("allocation"), Mapping):
        lines.append(_training_share_line(ctx, p["allocation"]))
    scales = (("training_efficiency_scale", "Training efficiency", "each training job's throughput from the "
               "engine (goodput after failures, checkpoints and restarts)"),
              ("serving_efficiency_scale", "Serving efficiency", "each chip's serving throughput from the engines"),
              ("throughput_sigma_scale", "Throughput uncertainty", "each chip family's validation error"))
    for key, label, what in scales:
        if p.get(key) is not None:
            lines.append(f"{label} ×{_smart(p[key])}: multiplies {what}.")
    demand = p.get("demand") if isinstance(p.get("demand"), Mapping) else {}
    try:   # the demand what-ifs, in the words the Forecast's assumptions box uses
        what_ifs = demand_what_if_words(float(demand.get("growth_rate_multiplier", 1.0)),
                                        float(demand.get("scale", 1.0)))
    except (TypeError, ValueError):   # not a number: the scenario's check says so under Assumptions
        what_ifs = []
    lines += [f"What-if: {_esc(words)}." for words in what_ifs]
    return lines


def _chip_label(ctx: ReportContext, chip_id) -> str:
    """A chip id as the rest of the report names it ("H20"), or the id when the catalog lacks it."""
    if chip_id in ctx.chips:
        return chip_name(ctx.chips[chip_id])
    return str((ctx.extra.get("chip_names") or {}).get(chip_id, chip_id))


def _cutoff_lines(ctx: ReportContext, events: list) -> list[str]:
    """One line per export cut-off, in the Compare view's words ("H20 cut off, 100% chance on
    2025-04-09"), with how long it lasts and its note; "none" when the scenario has none."""
    from engine.scenario_changes import _value_text

    if not events:
        return ["Export cut-offs: none."]
    labels = {e.get("chip_id"): _chip_label(ctx, e.get("chip_id")) for e in events if isinstance(e, Mapping)}
    out = []
    for event in events:
        if not isinstance(event, Mapping):
            continue
        text = _value_text("policy_events", event, labels)
        if not event.get("duration_months"):   # None: the engine keeps the chip cut off to the horizon
            text += ", for good"
        why = f' <span style="color:#444">({_esc(event["note"])})</span>' if event.get("note") else ""
        out.append(f"Export cut-off: {_esc(text)}.{why}")
    return out


def _training_share_line(ctx: ReportContext, allocation: Mapping) -> str:
    """The share of each chip type that trains (the rest serves), and its dated changes."""
    shares = [f"{_esc(_chip_label(ctx, chip_id))} {_pct(100 * float(share))}"
              for chip_id, share in (allocation.get("training_share") or {}).items()]
    shares.append(f"other chip types {_pct(100 * float(allocation.get('default_training_share') or 0))}")
    steps = [f"from {_esc(step.get('start'))} {_esc(_chip_label(ctx, step.get('chip_id')))} "
             f"{_pct(100 * float(step.get('training_share') or 0))}"
             for step in allocation.get("steps") or [] if isinstance(step, Mapping)]
    return "Training share (the rest serves): " + "; ".join(shares + steps) + "."


def _uncertainty_delay(u: dict) -> str:
    if u.get("delay_dist") == "fixed":
        text = f"{_number(u.get('delay_mode_days'))} (fixed)"
    else:
        text = (f"{_number(u.get('delay_low_days'))}–{_number(u.get('delay_high_days'))}, most likely "
                f"{_number(u.get('delay_mode_days'))} ({_esc(u.get('delay_dist'))})")
    extra = u.get("extra_delay_days")   # every lot this many days later, on top of the delay drawn
    return f"{text}, +{_number(extra)} on top" if extra else text


def _uncertainty_fraction(u: dict) -> str:
    of = "of the order" if u.get("fraction_of") == "order" else "of what is outstanding"
    if u.get("fraction_dist") == "fixed":
        return f"{_smart(100 * float(u.get('fraction_mode') or 0))} % {of}"
    return (f"{_smart(100 * float(u.get('fraction_low') or 0))}–{_smart(100 * float(u.get('fraction_high') or 0))} % "
            f"{of} ({_esc(u.get('fraction_dist'))})")


def calibration_html(ctx: ReportContext) -> str:
    if not ctx.chips:
        return ""
    factors = calibration_factors()
    headers = ["Chip"] + [FACTOR_LABELS.get(f, f) for f in factors]
    rows = []
    for chip_id, chip in ctx.chips.items():
        stored = ctx.stored_calibration.get(chip_id, {})
        cells = [_esc(chip_name(chip))]   # as the rest of the report names it ("H20")
        for factor in factors:
            value = chip.calibration.get(factor) if hasattr(chip, "calibration") else None
            digits = 0 if factor.endswith("_us") else 2
            text = "—" if value is None else f"{float(value):.{digits}f}"
            cells.append(f"<b>{text}*</b>" if factor in stored else text)
        rows.append(cells)
    legend = ", ".join(f"{FACTOR_LABELS.get(f, f)}: {f}" for f in factors)
    return (f"<h3>Calibration</h3><p>Efficiency factors of the chips in this scenario ({_factor_units(factors)}), "
            "fitted to published runs and shipped with Fleetcast; a starred value was fitted or set "
            f"in this database.</p>{_table(headers, rows, widths=[20] + [80 // max(len(factors), 1)] * len(factors))}"
            f'<p style="font-size:8pt; color:#444">Factor names: {_esc(legend)}.</p>')


# What a calibration factor measures where it is not a fraction of the data-sheet peak reached:
# the paragraph said "the layer overhead in microseconds" over a table without that column, and
# called the attention kernel path (a relative factor) a fraction of the peak.
FACTOR_MEANINGS = {
    "train_attn_path_rel": "the share of the dense 16-bit peak the attention kernel's instructions can issue, "
                           "a relative factor (1 where the kernels use the chip's newest instruction path)",
    "train_layer_overhead_us": "microseconds per layer",
}


def _factor_units(factors: list[str]) -> str:
    """What the factors shown are: fractions of the data-sheet peak reached, but for those listed
    in FACTOR_MEANINGS, each said once by its label."""
    special = [f"{FACTOR_LABELS.get(f, f)}, instead: {FACTOR_MEANINGS[f]}" for f in factors if f in FACTOR_MEANINGS]
    return "; ".join(["fraction of the data-sheet peak reached"] + special)


def charts_section(ctx: ReportContext) -> str:
    if not ctx.charts:
        return ""
    out = [_h1("Charts")]
    missing = compare_not_drawn_html(ctx)
    for i, (resource, caption) in enumerate(ctx.charts):
        if missing and resource.startswith("chart-compare-"):   # said where the Compare charts start
            out.append(missing)
            missing = ""
        out.append(f'<p align="center"><img src="{resource}" width="{CHART_SHOWN_WIDTH}"/><br/>'
                   f'<span style="font-size:9pt; color:#444">Figure {i + 1}. {_esc(caption)}</span></p>')
    return "".join(out)


def compare_not_drawn_html(ctx: ReportContext) -> str:
    """"Long prompts (this report's scenario) is not drawn: <why>." for each compared scenario
    that could not be computed: a --partial report's Compare charts left out its own scenario
    without a word."""
    lines = []
    for name, why in ctx.extra.get("compare_not_drawn") or []:
        own = " (this report's scenario)" if name == ctx.scenario else ""
        lines.append(f"<b>{_esc(name)}</b>{own} is not drawn: {_esc(why)}")
    if not lines:
        return ""
    return ('<p style="font-size:9pt"><b>Compare:</b> ' + "; ".join(lines)
            + ". The charts below compare the other scenarios.</p>")


# What an exported chart's subtitle says of the run behind it (gui.export_all.panel_context) that
# its caption here says too: the report's P(meet) in Jul 2025 read 53.5%, 55% and 49.25% in three
# figures with no word that they came from 2,000, 500 and 4,000 trials.
RUN_BASIS_KEYS = ("Run", "Base P(meet)", "Load")


def chart_caption(panel_key: str, title: str, context: Mapping[str, object], basis: str = "") -> str:
    """A figure's caption: its view, its title (the chosen chip named) and its run basis, from the
    context its exported files carry (`basis`: one the view's context lacks, e.g. the plan's)."""
    workload = str(context.get("Workload") or "")
    chip = workload.split(",")[0].strip() if panel_key == "inference" and "invalid" not in workload else ""
    if chip:   # "(chosen chip)" named no chip; the CSV says "Workload: H20, ..."
        title = title.replace("(chosen chip)", f"({chip})").replace("at the chosen load", f"on {chip} at the chosen load")
    parts = []
    for key in RUN_BASIS_KEYS:
        value = str(context.get(key) or "")
        if value:   # the CLI line that repeats the run is in the files; a caption keeps the figures
            parts.append(f"{key}: {value.split(' (fleetcast ')[0]}")
    if basis:
        parts.append(basis)
    text = f"{_AREA_NAMES.get(panel_key, panel_key.title())}: {title}"
    return text + (". " + "; ".join(parts) + "." if parts else "")


def plan_run_basis(result, seed) -> str:
    """The plan charts' runs: fitted on `samples` trials at the scenario's seed, shown on its own
    fresh trials (their P(meet) "without" the plan is not the forecast's: 49.25% beside 53.5%)."""
    if result is None or not getattr(result, "samples", 0):
        return ""
    fitted = f"fitted on {result.samples:,} trials" + (f", seed {seed}" if seed is not None else "")
    # no plan found: the charts show the fleet without one (QA s37: "the plan fitted on 200 trials")
    plan = f"the plan {fitted}" if getattr(result, "orders", None) else f"no plan found ({fitted})"
    fresh = getattr(result, "check_trials", 0)
    if not fresh:
        return f"Run: {plan}"
    return f"Run: {fresh:,} fresh trials of a seed of their own (not the forecast's run); {plan}"


def plan_cost_basis(result, tokens: str = "both") -> str:
    """The cost-per-token charts' basis (life, load, which tokens, goodput): the caption the Plan
    view shows above them (gui.panels.plan_text.econ_caption, built there alone), which the CLI's
    JSON `units` state too. The report's figures gave the dollars without it (QA s28). "" before
    the plan has priced any chip."""
    from gui.panels.plan_text import econ_caption

    return econ_caption(result, tokens) if result is not None and getattr(result, "economics", None) else ""


def compare_run_basis(results) -> str:
    """The Compare charts' runs: each scenario's trials and seed (one clause when they agree)."""
    runs = [(name, getattr(o.result, "trials", None), getattr(o.result, "seed", None))
            for name, o in results or [] if getattr(o, "result", None) is not None]
    if not runs:
        return ""
    from collections import Counter

    (trials, seed), _n = Counter((t, s) for _, t, s in runs).most_common(1)[0]
    others = [f"{name}: {t:,} trials, seed {s}" for name, t, s in runs if (t, s) != (trials, seed)]
    return f"Runs: {trials:,} trials, seed {seed}, each scenario" + (f" but {'; '.join(others)}" if others else "")


def accuracy_section(ctx: ReportContext) -> str:
    a = ctx.accuracy or {}
    out = [_h1("Accuracy")]
    out.append("<p>Predictions are checked against published measurements that no prediction reads as input. "
               "Errors are absolute percentage errors; <i>out of sample</i> means the factors were fitted without "
               "the cases scored.</p>")
    for key, title in (("training", "Training"), ("inference", "Serving")):
        part = a.get(key)
        if not part:
            continue
        ins = part.get("in_sample") or {}
        rows = [[_esc(o.get("how")), _pct(o.get("median_pct")), _pct(o.get("p90_pct"))]
                for o in part.get("out_of_sample") or []]
        # out of sample first, the headline (README's too): the in-sample figure, read alone,
        # flatters the tool on runs nobody fitted (7% against 12% for training)
        lead = (f"<p><b>{title}</b> ({_esc(part.get('what', ''))}), {_number(part.get('cases'))} public cases"
                + (f", out of sample: median error {rows[0][1]}, 90th percentile {rows[0][2]} "
                   f"({rows[0][0]}).</p>" if rows else ".</p>"))
        out.append(lead)
        if rows:
            out.append(_table(["Out of sample", "Median error", "P90 error"], rows, small=False,
                              widths=[64, 18, 18]))
        text = (f"<p>In sample (the factors fitted on every one of these cases, so lower than on a run nobody "
                f"fitted): median error {_smart(ins.get('median_pct'))} %, 90th percentile "
                f"{_smart(ins.get('p90_pct'))} %")
        if "latency_median_pct" in ins:
            text += (f" (latency: {_smart(ins['latency_median_pct'])} % / {_smart(ins['latency_p90_pct'])} %)")
        text += ".</p>"
        out.append(text)
        if part.get("expect"):
            out.append(f"<p>Expect {_esc(part['expect'])}.</p>")
    out.append(demand_accuracy_html(ctx))
    return "".join(out)


def demand_accuracy_html(ctx: ReportContext) -> str:
    """The demand's error bars: how the forecast draws demand and how to check it (`fleetcast
    backtest`), with a backtest from the scenario's own points. The section covered the engines
    alone, though demand growth is most of the forecast's uncertainty ("" without demand points)."""
    from engine.forecast import scenario_from_dict

    demand = (ctx.params or {}).get("demand") or {}
    if not demand.get("points"):
        return ""
    try:
        scenario = scenario_from_dict(ctx.params)
    except (UserError, ValueError, TypeError, KeyError):   # invalid inputs: said under Assumptions
        return ""
    curve = scenario.demand
    text = ["<p><b>Demand</b>"]
    share = _demand_share_words(ctx)
    text.append(f" ({share}): " if share else ": ")
    text.append("the forecast joins the scenario's reported tokens per day (see Demand under Assumptions)"
                if curve.kind == "piecewise" else
                f"the forecast fits a {_esc(curve.kind)} curve to the scenario's reported tokens per day")
    from engine.forecast import demand_points_note

    points_note = demand_points_note(curve)
    text.append(f"; {_esc(points_note.replace('+-', '±'))}" if points_note else ", each taken as exact")
    model = curve.growth_model
    text.append({"fixed": "; after the last point it grows at the fixed rate set, with no error drawn",
                 "user": "; after the last point each trial draws its growth from the P10/P50/P90 set"}.get(
        model, "; after the last point each trial draws its growth from the fit's own error"))
    text.append(". To check it, <code>fleetcast backtest --as-of DATE</code> fits the growth on the points known "
                "on DATE and scores the later ones")
    text.append(_backtest_words(curve, scenario.seed) + ".</p>")
    return "".join(text)


def _demand_share_words(ctx: ReportContext) -> str:
    """"the largest source of the forecast's uncertainty: 71% of the variance ..., Figure 18"."""
    shares = ctx.extra.get("uncertainty_shares") or {}
    if "demand (points and growth)" not in shares:
        return ""
    figure = next((f", Figure {i + 1}" for i, (name, _c) in enumerate(ctx.charts)
                   if name == "chart-forecast-uncertainty_shares"), "")
    largest = max(shares.values()) <= shares["demand (points and growth)"]
    return (f"{'the largest' if largest else 'a'} source of the forecast's uncertainty: "
            f"{100 * shares['demand (points and growth)']:.0f}% of the variance of log(capacity / demand), averaged over the "
            f"months{figure}")


def _backtest_words(curve, seed: int) -> str:
    """"; from 2024-09-15 (3 points known), 3 of 3 later points fell inside P10–P90 ...": a
    backtest as of the point that leaves half of them to score (at least the fit's fewest points
    known), or "" when there are too few points."""
    from engine.commands.plan import BACKTEST_TRIALS   # `fleetcast backtest`'s default: ~0.1 s
    from engine.forecast_backtest import backtest

    dates = sorted(p.date for p in curve.points)
    known = max({"loglinear": 2, "decaying": 3}.get(curve.growth_model, 1), math.ceil(len(dates) / 2))
    if known >= len(dates):
        return ""
    try:
        bt = backtest(curve, dates[known - 1], trials=BACKTEST_TRIALS, seed=seed)
    except ValueError:
        return ""
    spread = sorted(p.p90 / p.p10 for p in bt.points if p.p10 > 0)
    miss = sorted(p.actual / p.p50 for p in bt.points if p.p50 > 0)
    if not spread or not miss:
        return ""
    wide = _median(spread)
    # Exact points are scored inside or outside the band; a "more than" point (the demand point's
    # at_least flag) only as consistent with it or above it, and the ratio over it is a lower bound
    # (engine.forecast_backtest.FLOOR_SCORING_NOTE: the report said "3 of 3 inside" with two floors).
    exact, floors = bt.exact_points, bt.floor_points
    if exact:
        inside = sum(p.outcome == "inside" for p in exact)
        scored = f"{inside} of {len(exact)} exact later points fell inside P10–P90 (80% expected)"
    else:
        scored = "no exact later point to score the bands on"
    if floors:
        consistent = sum(p.outcome == "consistent" for p in floors)
        scored += f"; {consistent} of {len(floors)} “more than” points consistent with their bands"
    # (as `fleetcast backtest` says: a band that wide holds most points by its width alone)
    little = ("; coverage says little about bands that wide"
              if wide > 10 and bt.coverage is not None and bt.coverage >= 0.8 else "")
    at_least = "≥ " if floors else ""
    return (f"; as of {bt.as_of:%Y-%m-%d} ({bt.known} points known), {scored}, bands {_approx(wide)}× wide "
            f"(median P90/P10), the actual {at_least}{_approx(_median(miss))}× the median forecast "
            f"({bt.trials:,} trials, seed {bt.seed}){little}")


def _median(values: list[float]) -> float:
    import statistics

    return float(statistics.median(values))


def plan_section(ctx: ReportContext) -> str:
    """The order plan, when one exists (engine.plan); nothing otherwise."""
    plan = ctx.plan
    if not plan or not plan.get("orders"):
        return ""
    def shown(chip_id):   # the names the Plan view shows ("H20", not "h20-96gb")
        return chip_name(ctx.chips[chip_id]) if chip_id in ctx.chips else chip_id

    rows = [[_esc(shown(o.get("chip_id"))), _number(o.get("quantity")), _esc(o.get("order_month")),
             _esc(o.get("delivery_month")), _number(o.get("cost_usd"))] for o in plan["orders"]]
    table = _table(["Chip", "Quantity (chips)", "Order", "Delivery", "Cost (USD)"], rows, small=False)
    if not plan.get("feasible", True):
        # a plan the answer refused (over the budget) read as the plan to act on under "Order plan"
        return (_h1("Refused plan (not to act on)") + f"<p>{_esc(plan.get('why') or 'It does not meet the target.')}"
                "</p>" + table + f"<p>It would cost {_usd(plan.get('total_cost_usd'))}.</p>")
    return (_h1("Order plan") + table + f"<p>Total {_usd(plan.get('total_cost_usd'))}{_cost_spread(plan)}"
            f"{_delivered_text(plan)}.</p>" + _plan_notes_html(plan))


def _cost_spread(plan: dict) -> str:
    """' (fitted on 2 other sets of 200 trials: $53.0B and $46.4B)': the cost's own sampling
    spread, in `fleetcast plan`'s words (engine.forecast_plan.cost_spread_text); the report gave
    the one cost alone. "" when not computed, or when no other set found a plan (said apart)."""
    from types import SimpleNamespace

    from engine.forecast_plan import cost_spread_text

    others = plan.get("cost_on_other_trial_sets_usd") or []
    if not others or not plan.get("samples") or all(c is None for c in others):
        return ""
    fits = SimpleNamespace(cost_on_other_trials_usd=tuple(math.nan if c is None else float(c) for c in others),
                           samples=int(plan["samples"]), total_cost_usd=float(plan.get("total_cost_usd") or 0.0))
    return _esc(cost_spread_text(fits))


def _plan_notes_html(plan: dict) -> str:
    """The plan's own notes, as `fleetcast plan` prints them: among them the hindsight one (demand
    points after the first order month taken as known), without which the report's plan read
    surer than the CLI's."""
    notes = [str(n) for n in list(plan.get("throughput_notes") or []) + list(plan.get("candidate_notes") or []) if n]
    if not notes:
        return ""
    import re

    def shown(note: str) -> str:   # a command quoted `like this` in the CLI's text set as code here
        text = re.sub(r"`([^`]+)`", r"<code>\1</code>", _esc(note[:1].upper() + note[1:]))
        return text if text.endswith((".", ")")) else text + "."

    items = "".join(f"<li>{shown(n)}</li>" for n in notes)
    return f'<h3>Notes on the plan</h3><ul style="font-size:9pt">{items}</ul>'


def _delivered_text(plan: dict) -> str:
    """', of which $10.2 billion expected to be delivered (...)' where the vendors' fulfilment and
    cut-offs leave chips undelivered (`plan` and the window say it; the report left it out)."""
    paid, total = plan.get("expected_delivered_cost_usd"), plan.get("total_cost_usd")
    if paid is None or not total or paid >= 0.99 * float(total):
        return ""
    return (f", of which {_usd(paid)} expected to be delivered (the vendors' fulfilment and export cut-offs: what a "
            "contract that pays on delivery pays)")


# The report, in order. A new analysis adds a builder here.
SECTIONS: list[tuple[str, Callable[[ReportContext], str]]] = [
    ("title", title_section),
    ("key answers", key_answers_section),
    ("order plan", plan_section),
    ("assumptions", assumptions_section),
    ("charts", charts_section),
    ("accuracy", accuracy_section),
]


# ---- building and writing -----------------------------------------------------------------------

def load_accuracy() -> dict:
    from resources import read_text

    return json.loads(read_text("accuracy.json"))


def _scenario_chips(store, panels_figures: dict, orders: list[dict], params: dict, extra_ids=()) -> dict:
    ids: list[str] = []
    for o in orders:
        if o.get("chip_id") and o["chip_id"] not in ids:
            ids.append(o["chip_id"])
    for job in params.get("jobs") or []:
        if job.get("chip_id") and job["chip_id"] not in ids:
            ids.append(job["chip_id"])
    for chip_id in [(params.get("demand") or {}).get("chip_id")] + list(extra_ids):
        if chip_id and chip_id not in ids:
            ids.append(chip_id)
    chips = {}
    for chip_id in ids:
        try:
            chips[chip_id] = store.chip(chip_id)
        except UserError:
            continue
    return chips


def _panel_run_basis(panel_key: str, panel, chart_key: str, params: dict) -> str:
    """A run basis the panel's export context lacks: the plan's trials, the cost charts' basis
    and the Compare's runs."""
    if panel_key == "plan" and chart_key in ("plan_capacity", "plan_prob_meet"):
        return plan_run_basis(getattr(panel, "result", None), (params or {}).get("seed"))
    if panel_key == "plan" and chart_key.startswith("cost_per_million"):
        tokens = "training" if chart_key.endswith("training_tokens") else "served"
        return plan_cost_basis(getattr(panel, "result", None), tokens)
    if panel_key == "compare":
        return compare_run_basis(getattr(panel, "results", None))
    return ""


def _forecast_run(panels: Mapping[str, object], failed: Mapping[str, str]) -> dict:
    """The Forecast view's run: its trials and seed ({} when it has none)."""
    result = getattr(panels.get("forecast"), "result", None) if "forecast" not in failed else None
    if result is None:
        return {}
    return {"trials": getattr(result, "trials", None), "seed": getattr(result, "seed", None)}


def _uncertainty_shares(panels: Mapping[str, object], failed: Mapping[str, str]) -> dict[str, float]:
    """{source label: its share of the variance of log(capacity / demand), averaged over the
    months where anything varies} from the Forecast view's run ({} without one)."""
    from engine.forecast import SOURCE_LABELS

    shares = getattr(getattr(panels.get("forecast"), "view", None), "shares", None) if "forecast" not in failed \
        else None
    if shares is None:
        return {}
    import numpy as np

    table = np.asarray(shares.shares, dtype=float)
    varied = table.sum(axis=0) > 0
    if not varied.any():
        return {}
    return {SOURCE_LABELS.get(src, src): float(table[i, varied].mean()) for i, src in enumerate(shares.sources)}


def _compare_not_drawn(panels: Mapping[str, object], failed: Mapping[str, str]) -> list[tuple[str, str]]:
    """[(scenario, why)] for each scenario the Compare view could not compute (not drawn)."""
    if "compare" in failed:   # said first in the key answers
        return []
    return [(name, str(outcome.why)) for name, outcome in getattr(panels.get("compare"), "results", None) or []
            if hasattr(outcome, "why") and getattr(outcome, "result", None) is None]


def refuse_existing(path: Path, force: bool) -> None:
    from engine.csv_io import refuse_protected

    refuse_protected(path)   # the open database is never a file to write a report onto
    if path.is_symlink() and not path.exists():   # a link to nothing: writing would replace the link
        raise UserError(f"{path}: is a link to a missing file ({os.readlink(path)}); it was left unchanged")
    if path.exists() and not force:
        raise UserError(f"{path}: already exists; choose another name or pass --force to overwrite it")
    if path.exists() and not path.is_file():
        raise UserError(f"{path}: is not a regular file")
    # the folder must take a new file: said now, not after the minute of computing
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
    except OSError as exc:
        raise UserError(f"{path}: can't write in {path.parent} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def write_report(store, panels: Mapping[str, object], scenario: str, params: dict | None,
                 out_path: str | os.PathLike, *, force: bool = False, plan: dict | None = None,
                 created: dt.datetime | None = None, partial: bool = False, progress=None,
                 should_stop=None, store_version: int | None = None) -> ReportResult:
    """Compute every panel, then write the PDF to `out_path` (atomically). Needs a QApplication.

    Raises UserError (naming the file) when it exists and `force` is false, or can't be written;
    and (naming the part) when a panel could not be computed, unless `partial`: then the report
    says so first in its key answers. `progress` and `should_stop`: see `gui.export_all.compute_all`
    (Cancelled: nothing was written).
    """
    from gui.export_all import compute_all, not_computed, panel_context, refuse_not_computed

    from PySide6.QtCore import QMarginsF, QUrl
    from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument

    from gui import export as export_mod

    from engine.store.files import expand_user

    out = expand_user(str(out_path))   # '~nouser/r.pdf': one line, not a traceback
    refuse_existing(out, force)
    if not out.parent.is_dir():
        raise UserError(f"{out.parent}: no such folder")
    params = params or {}
    # one section order whatever order the window built its views in: "Figure 2" is the same chart
    # in the window's report and `fleetcast report`
    from gui.panels.registry import PANELS

    rank = {spec.key: i for i, spec in enumerate(PANELS)}
    panels = dict(sorted(panels.items(), key=lambda kv: rank.get(kv[0], len(rank))))
    # the report reads the store over a minute or more (each view, then the orders, chips and
    # calibration): a change meanwhile made a PDF whose forecast had orders and whose plan and
    # orders table had none (QA). One that moved is refused, not written.
    # (`store_version`: taken by the caller before it read the scenario and built the views)
    version = store_version if store_version is not None else store_version_of(store)
    compute_all(panels, progress=progress, should_stop=should_stop)
    failed = not_computed(panels)
    if not partial:
        refuse_not_computed(failed, "the report")
    tables = {key: (panel.tables() if hasattr(panel, "tables") and key not in failed else {})
              for key, panel in panels.items()}
    figures = {}
    for key, panel_tables in tables.items():
        rows = (panel_tables.get("figures") or panel_tables.get("key_figures") or ([], []))[1]
        figures[key] = _figure_map(rows)

    document = QTextDocument()
    document.setDefaultStyleSheet("h1, h2 { color: #1f3a5f; } h3 { color: #1f3a5f; margin-top: 10px; } "
                                  "td, th { border: 1px solid #c9d2dc; }")
    charts: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="fleetcast-report-") as tmp:
        for panel_key, panel in panels.items():
            if panel_key in failed:   # (--partial) its charts would be empty or left from other inputs
                continue
            for chart_key, chart in (panel.charts() if hasattr(panel, "charts") else {}).items():
                png = Path(tmp) / f"{panel_key}_{chart_key}.png"
                with whole_title(chart):
                    export_mod.export_png(chart, png, width=CHART_WIDTH_PX)
                from PySide6.QtGui import QImage

                image = QImage(str(png))
                if image.isNull():
                    continue
                name = f"chart-{panel_key}-{chart_key}"
                document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
                title = getattr(chart, "title", "") or chart_key.replace("_", " ").replace("-", " ")
                charts.append((name, chart_caption(panel_key, title, panel_context(panel, scenario, chart_key),
                                                   _panel_run_basis(panel_key, panel, chart_key, params))))

    if plan is None and "plan" not in failed:  # the Plan view computed one: report it, feasible or not
        plan_result = getattr(panels.get("plan"), "result", None)
        if plan_result is not None:
            from engine.commands.plan import plan_to_dict

            plan = plan_to_dict(plan_result, scenario)
    orders = store.order_rows()
    stored = store._calibration_by_chip() if hasattr(store, "_calibration_by_chip") else {}
    ctx = ReportContext(scenario=scenario, params=params, created=created or dt.datetime.now(),
                        db_path=Path(store.path), figures=figures, tables=tables, charts=charts, orders=orders,
                        chips=_scenario_chips(store, figures, orders, params,
                                              [o.get("chip_id") for o in (plan or {}).get("orders") or []]),
                        stored_calibration=stored,
                        accuracy=load_accuracy(), plan=plan, not_computed=failed,
                        extra={"model_names": {m.id: m.name for m in store.models()},
                               "chip_names": {c.id: chip_name(c) for c in store.chips()},
                               "what_if": what_if_of(store, scenario),
                               "forecast_run": _forecast_run(panels, failed),
                               "uncertainty_shares": _uncertainty_shares(panels, failed),
                               "compare_not_drawn": _compare_not_drawn(panels, failed)})
    if store_version_of(store) != version:
        raise UserError(f"{store.path}: the database changed while the report was being made (another "
                        "window or program saved to it), so its parts would disagree; nothing was written: "
                        "make the report again")
    parts, names = [], []
    for name, build in SECTIONS:
        text = build(ctx)
        if text:
            parts.append(text)
            names.append(name)
    document.setHtml(f'<html><body style="font-size:10pt">{"".join(parts)}</body></html>')
    document.setMetaInformation(QTextDocument.MetaInformation.DocumentTitle, f"Fleetcast report: {scenario}")

    tmp_out = temp_file_beside(out, ".partial")
    writer = QPdfWriter(str(tmp_out))
    writer.setTitle(f"Fleetcast report: {scenario}")
    writer.setCreator(f"Fleetcast {__version__}")
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM),
                                     QPageLayout.Unit.Millimeter))
    writer.setResolution(300)
    try:
        document.print_(writer)
        del writer  # finishes the file
        check_whole_pdf(tmp_out, out)
        export_mod.settle_file(tmp_out)
        refuse_existing(out, force)  # a file that appeared meanwhile is still not overwritten
        os.replace(tmp_out, out)
    except OSError as exc:
        raise UserError(f"{out}: could not write ({exc.strerror or exc})") from None
    finally:
        if tmp_out.exists():
            tmp_out.unlink()
    pages = pdf_page_count(out)
    return ReportResult(path=out, pages=pages, charts=len(charts), sections=names, not_computed=failed)


def store_version_of(store) -> int | None:
    """What moves when anything stored changes (None for a store that cannot say)."""
    count = getattr(store, "change_count", None)
    return count() if callable(count) else None


# A title longer than this many characters goes on more lines: at the export's 1,000 px layout an
# 11 pt line holds about 110, and a longer one would widen the plot past the image.
TITLE_LINE_CHARS = 90


@contextlib.contextmanager
def whole_title(chart):
    """While the chart is drawn for the report: its whole title (wrapped) and value-axis label.
    The window shortens them to the room its chart has ("…share of the variance of log(capacity
    /…" in the report's Figure 18); the window's shortened texts come back afterwards."""
    import textwrap

    item = getattr(chart, "plot_item", None)
    title = getattr(chart, "title", "") or ""
    if item is None or not hasattr(chart, "restore_full_texts") or not hasattr(chart, "_texts_frozen"):
        yield
        return
    from PySide6.QtWidgets import QApplication

    from gui.export import restore_geometry

    on_screen = item.geometry()   # given back at the end (a longer title widens the item)
    chart.restore_full_texts()
    chart._texts_frozen = True   # the chart refits its texts when its axes move: not while drawn
    lines = textwrap.wrap(title, TITLE_LINE_CHARS)
    if len(lines) > 1:
        from gui.export import set_tall_title

        set_tall_title(item, "<br>".join(html.escape(line) for line in lines))
    item.layout.activate()
    QApplication.processEvents()
    try:
        yield
    finally:
        chart._texts_frozen = False
        chart.restore_full_texts()
        if len(lines) > 1:
            item.titleLabel.setMaximumHeight(30)
            item.layout.setRowFixedHeight(0, 30)
            item.layout.activate()
        chart._fit_texts()   # the window's own (shortened) texts again
        restore_geometry(item, on_screen)


def check_whole_pdf(path: Path, out: Path) -> None:
    """UserError unless `path` is a whole PDF: Qt's PDF writer reports no error when the disk
    fills or the folder can't be written; it leaves an empty or short file without the trailer
    (`%%EOF`) that ends every PDF."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(size - 64, 0))
            tail = handle.read()
    except OSError as exc:
        raise UserError(f"{out}: the PDF could not be written ({exc.strerror or exc}); nothing was changed") from None
    if size == 0 or b"%%EOF" not in tail or pdf_page_count(path) == 0:
        raise UserError(f"{out}: the PDF came out incomplete ({size:,} bytes, no end; is the disk full?); "
                        "nothing was changed")


def pdf_page_count(path: Path) -> int:
    """Page objects in a PDF file (Qt writes one `/Type /Page` dictionary per page, uncompressed)."""
    import re

    return len(re.findall(rb"/Type\s*/Page(?![A-Za-z])", Path(path).read_bytes()))


_AREA_NAMES = {"fleet": "Fleet", "training": "Training", "inference": "Inference", "forecast": "Forecast",
               "compare": "Compare"}
