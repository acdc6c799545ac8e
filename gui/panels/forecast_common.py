"""Forecast work and figures shared by the Forecast, Plan and Compare views (no store access)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np
import pyqtgraph as pg

from engine.forecast import ForecastInputs, ForecastResult, ForecastScenario, run_forecast
# One definition, in the engine (the CLI prints the same figures); re-exported for the views.
from engine.studies_forecast import first_shortfall_month, throughput_key  # noqa: F401
from engine.studies_forecast import forecast_key_figures as key_figures  # noqa: F401
from gui.widgets.plot_panel import PlotPanel, format_number


@dataclass(frozen=True)
class ForecastRequest:
    orders: tuple
    chips: Mapping
    models: Mapping
    scenario: ForecastScenario
    cached_inputs: ForecastInputs | None = None  # reusable throughputs, when still valid
    with_shares: bool = True  # also the variance shares by source (five more runs)


@dataclass(frozen=True)
class ForecastOutcome:
    inputs: ForecastInputs
    result: ForecastResult
    seconds: float
    reused_throughputs: bool
    request: ForecastRequest
    shares: object = None  # engine.forecast_sensitivity.VarianceShares


STALE_FORECAST_NOTE = ("<b style='color:#a1260d'>The inputs changed since this forecast ran</b> (this form, the "
                       "scenario, the fleet or the catalog): run it again; the greyed charts are for the previous "
                       "inputs.<br>")


STEADY_FIELDS = {"Targets hold for": "the percentile", "Length spread (CV)": "the length spread"}


def mark_steady_fields(form, notes) -> None:
    """Beside "Targets hold for" and "Length spread (CV)": not used while every serving chip is
    rated on the steady state (engine.forecast_inputs.serving_throughputs; the fields changed
    nothing then, and only the notes said why)."""
    from engine.forecast_inputs import on_steady_basis

    steady = on_steady_basis(notes)
    for i in range(form.rowCount()):
        label = form.itemAt(i, form.ItemRole.LabelRole)
        widget = label.widget() if label is not None else None
        if widget is None or not hasattr(widget, "setText"):
            continue
        base = widget.text().split("\n")[0]
        if base in STEADY_FIELDS:   # a second line, not a wider label (it pushed the form sideways at 1280)
            widget.setText(f"{base}\n(unused now)" if steady else base)
            widget.setToolTip(f"Not used while every chip's serving capacity is the steady state (see the "
                              f"forecast's notes): {STEADY_FIELDS[base]} moves only simulated capacity"
                              if steady else "")


def same_inputs(request: ForecastRequest, scenario: ForecastScenario, orders, chips, models) -> bool:
    """True when `request` (what a forecast on screen ran from) is these inputs."""
    return (request.scenario == scenario and request.orders == tuple(orders)
            and request.chips == {c.id: c for c in chips} and request.models == {m.id: m for m in models})


def compute_forecast(request: ForecastRequest, *, progress=None, should_stop=None) -> ForecastOutcome:
    """The forecast of `request` (its trials x months are within the limit the form checks); out of
    memory all the same, one line saying what to lower (it said numpy's "MemoryError: Unable to
    allocate 916. MiB for an array with shape ...")."""
    from engine.errors import UserError

    try:
        return _compute_forecast(request, progress=progress, should_stop=should_stop)
    except MemoryError:
        sc = request.scenario
        raise UserError(f"out of memory at {sc.trials:,} trials over {sc.months} months: lower Trials or "
                        "Horizon") from None


def _compute_forecast(request: ForecastRequest, *, progress=None, should_stop=None) -> ForecastOutcome:
    from engine.errors import Cancelled
    from engine.forecast_inputs import build_inputs

    report = progress or (lambda fraction, message="": None)
    t0 = time.perf_counter()
    reused = request.cached_inputs is not None
    if reused:
        inputs = replace(request.cached_inputs, scenario=request.scenario)
    else:
        report(0.02, "Estimating serving and training throughput per chip…")
        inputs = build_inputs(list(request.orders), request.chips, request.models, request.scenario)
    if should_stop is not None and should_stop():
        raise Cancelled()

    from gui import style
    from gui.panels.base import with_names

    # the engine's steps name chips by id ("supply: order 4 (ascend-910b2)"): shown as the views name them
    names = {cid: style.chip_display_name(c) for cid, c in request.chips.items()}

    def scaled(fraction, message=""):
        text = with_names(message, names) if message else "Monte Carlo…"
        report(0.1 + 0.9 * fraction, text[:1].upper() + text[1:])

    result = run_forecast(inputs, progress=lambda f, m="": scaled(0.8 * f, m), should_stop=should_stop)
    if not request.with_shares:
        return ForecastOutcome(inputs, result, time.perf_counter() - t0, reused, request)
    from engine.forecast_sensitivity import variance_shares

    report(0.92, "Which uncertainty dominates…")
    # one run per source drawn alone (the others at their medians); 1,000 trials are plenty for a share of variance
    shares = variance_shares(inputs, trials=min(request.scenario.trials, 1000), should_stop=should_stop)
    return ForecastOutcome(inputs, result, time.perf_counter() - t0, reused, request, shares)


def own_run_context(chart_key: str, context: dict, tornado, shares) -> dict:
    """`context` (the forecast's run) for one chart of the Forecast view, naming the runs the
    tornado and the variance shares made themselves: their files said "Run: 2,000 trials" (the
    forecast's) over a tornado of 500 trials a setting and shares of 1,000 a source."""
    if not context or not (chart_key.startswith("tornado_") or chart_key == "uncertainty_shares"):
        return context
    own = shares if chart_key == "uncertainty_shares" else tornado
    out = {k: v for k, v in context.items() if k != "Run"}   # (not yet computed: no run to name)
    if own is None or not getattr(own, "trials", 0):
        return out
    seed = f", seed {own.seed}" if own.seed is not None else ""
    if chart_key == "uncertainty_shares":
        return {**out, "Run": f"its own {own.trials:,} trials a run{seed} (not the forecast's run)"}
    from engine.studies_forecast import prob_percent_text

    when = f"in {own.month:%b %Y}" if own.month else "averaged over the horizon"
    return {**out, "Run": f"its own {own.trials:,} trials a setting{seed} (not the forecast's run)",
            "Base P(meet)": f"{prob_percent_text(own.base['prob_meet_demand'])} {when}, on those trials"}


# ---- figures shared with the Compare view --------------------------------------------------

def figure_text(value) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(float(value))
    return str(value)


def fit_left_axis(chart: PlotPanel, values) -> None:
    """Widen the value axis to its longest tick label: pyqtgraph drops labels that don't fit."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    biggest = float(np.max(np.abs(finite))) if finite.size else 0.0
    axis = chart.plot_item.getAxis("left")
    text = f"{biggest * 1.2:,.0f}"
    width = pg.QtGui.QFontMetrics(axis.style.get("tickFont") or chart.font()).horizontalAdvance(text)
    axis.setWidth(int(width) + 38)  # + tick length and the rotated axis title


SMALLEST_AXIS_PT = 7.0   # PlotPanel's smallest axis-title size
MOST_AXIS_LINES = 3      # the name over its unit on more lines took a third of a 390 px chart's width


class NamedAxisChart(PlotPanel):
    """A chart whose value-axis title keeps its quantity's name at any size. Short of room,
    PlotPanel keeps the unit alone ("(Ascend 910B2 chips)"): at 1280x720 the Forecast's capacity
    and shortfall charts and the Plan's capacity chart never said what they count. Here the name
    stays, over its unit on as few lines as fit (up to MOST_AXIS_LINES), else alone, the unit then
    said after the chart's title ("Plan capacity vs peak… (Ascend 910B2 chips)"). Exports
    and the CSV's headers keep the whole title and unit (PlotPanel.restore_full_texts, y_unit)."""

    unit_in_title = ""   # the title as shown with the unit after it, "" while the axis says the unit

    def _fit_texts(self) -> None:
        signature = getattr(self, "_texts_signature", None)
        super()._fit_texts()
        if self._texts_frozen or signature == getattr(self, "_texts_signature", None):
            return   # nothing refitted: what is shown stands
        self.unit_in_title = ""   # PlotPanel wrote the title anew
        shown = getattr(self, "_shown_y_label", None)
        if shown is None or not self.y_label or not self.y_unit or shown[0].startswith(self.y_label):
            return   # the name is shown: PlotPanel's fit stands
        axis = self.plot_item.getAxis("left")
        from PySide6.QtGui import QFont, QFontMetrics

        font = QFont(axis.label.font())
        size_pt = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
        room = axis.height() - 4
        if self.compact:   # as PlotPanel: the label, centred on the axis, keeps clear of Export
            room -= 2 * max(self.export_button.y() + self.export_button.sizeHint().height() + 2
                            - axis.mapToScene(0, 0).y(), 0.0)
        for lines, in_title in axis_title_choices(self.y_label, self.y_unit):
            for pt in (size_pt, min(size_pt, SMALLEST_AXIS_PT)):
                font.setPointSizeF(pt)
                if max(QFontMetrics(font).horizontalAdvance(line) for line in lines) <= room:
                    text = "<br>".join(lines)
                    self._shown_y_label = (text, pt)
                    self.plot_item.setLabel("left", text, **({"font-size": f"{pt:g}pt"} if pt != size_pt else {}))
                    self._widen_fixed_axis(axis, (len(lines) - 1) * QFontMetrics(font).height())
                    if in_title:
                        self._title_with_unit()
                    else:
                        self._title_beside(axis)
                    return

    def _title_beside(self, axis) -> None:
        """The title shortened again for the axis as widened here (PlotPanel fitted it beside the
        narrower axis: the plot item then held 2 px wider than its view at 1280x720)."""
        if not self.title:
            return
        label = self.plot_item.titleLabel
        right_margin = self.plot_item.layout.getContentsMargins()[2]
        width = min(self.plot_item.width(), self.plot_widget.width() - right_margin)
        room = max(width - 16 - axis.width(), 0.0)
        text = getattr(self, "_shown_title", None) or self.title
        while label.item.boundingRect().width() > room and len(text) > 8:
            shorter = text[:max(8, len(text) - 3)].rstrip(" ,(…") + "…"
            if shorter == text:
                break
            text = shorter
            label.setText(text, size="11pt")
        self._shown_title = text
        self.plot_widget.setToolTip(self.title if text != self.title else "")

    def _title_with_unit(self) -> None:
        """The title as shown, shortened where it must be, and the unit after it (never cut)."""
        label = self.plot_item.titleLabel
        suffix = f" ({self.y_unit})"
        room = self.plot_item.vb.width() if self.plot_item.vb.width() > 0 else self.plot_item.width()
        # never more than the view leaves beside the (widened) axis: the view box can still be as
        # wide as before the widening, and the title then held the chart 2 px past its view
        right_margin = self.plot_item.layout.getContentsMargins()[2]
        room = min(room, self.plot_widget.width() - right_margin - 16 - self.plot_item.getAxis("left").width())
        if self.compact:   # as PlotPanel: centred over the plot, clear of Export at its left
            left_px = self.plot_item.getAxis("left").width()
            room = min(room, 2 * (left_px + room / 2 - self.export_button.sizeHint().width() - 8))
        title = self.title
        label.setText(title + suffix, size="11pt")
        words = self.title.split(" ")
        while label.item.boundingRect().width() > room and len(words) > 1:   # whole words kept
            words = words[:-1]
            title = " ".join(words).rstrip(",(") + "…"
            label.setText(title + suffix, size="11pt")
        self.unit_in_title = title + suffix
        self.plot_widget.setToolTip(f"{self.title} ({self.y_unit})")


def axis_title_choices(name: str, unit: str) -> list[tuple[list[str], bool]]:
    """The ways to write a value axis's title that keep its quantity's `name`, shortest first:
    (its lines, whether the unit goes into the chart's title instead). The name over the unit,
    then over the unit split in two or a word a line, up to MOST_AXIS_LINES lines; then the name
    alone, on one line or split at its comma ("Capacity,<br>demand"), the unit said in the title."""
    words = f"({unit})".split(" ")
    units = [[f"({unit})"]]
    if len(words) > 1:
        half = max(1, len(words) // 2)
        units += [[" ".join(words[:half]), " ".join(words[half:])], words]
    names = [[name]] + ([name.replace(", ", ",\n").split("\n")] if ", " in name else [])
    with_unit = [(n + u, False) for n in names for u in units if len(n + u) <= MOST_AXIS_LINES]
    return sorted(with_unit, key=lambda choice: len(choice[0])) + [(n, True) for n in names]


def counts_from_zero(chart: PlotPanel, values) -> None:
    """A chart of chip counts starts at 0: the autorange put Compare's installed chips on a
    10,000-based axis, and a fleet with no orders on -0.4..0.4 (negative chips)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size else 0.0
    chart.plot_item.setYRange(0.0, top if top > 0 else 1.0, padding=0.05)


def unc_key_text(key: tuple) -> str:
    """Combo data for an uncertainty target: 'default', 'vendor:Huawei', 'order:3'."""
    return "default" if key[0] == "default" else f"{key[0]}:{key[1]}"


def unc_key_of(text: str | None) -> tuple:
    if not text or text == "default":
        return ("default", None)
    kind, _, value = text.partition(":")
    return (kind, int(value)) if kind == "order" else (kind, value)


def legend_top_right(chart: PlotPanel) -> None:
    """For charts whose data start high on the left (probabilities that fall)."""
    if chart.legend is not None:
        chart.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-10, 10))


# The Forecast form's labels for its inputs (the undo menu names an edit by them); a nested input
# (demand, a vendor's uncertainty) is named field by field (gui.widgets.form_undo.edited_names).
FORECAST_STATE_LABELS = {
    "start": "First month",
    "months": "Horizon",
    "trials": "Trials",
    "seed": "Seed",
    "as_of": "Deliveries known to",
    "install_lag_days": "Install lag",
    "annual_failure_rate": "Failures",
    "lifetime_years": "Chip life",
    "unscheduled_spread_months": "Unscheduled chips spread over",
    "jobs": "Training jobs",
    "policy_events": "Export cut-offs",
    "note": "Note",
}
