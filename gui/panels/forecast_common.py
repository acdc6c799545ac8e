"""Forecast work and figures shared by the Forecast, Plan and Compare views (no store access)."""

from __future__ import annotations

import datetime as dt
import shlex
import time
from dataclasses import dataclass, replace
from typing import Mapping, cast

import numpy as np
import pyqtgraph as pg

from engine.forecast import ForecastInputs, ForecastResult, ForecastScenario, run_forecast
# One definition, in the engine (the CLI prints the same figures); re-exported for the views.
from engine.studies_forecast import first_shortfall_month, throughput_key  # noqa: F401
from engine.studies_forecast import forecast_key_figures as key_figures  # noqa: F401
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import (QBoxLayout, QFormLayout, QGridLayout, QLabel, QLayout, QScrollArea, QStyle,
                               QWidget)

from gui.panels.small_screen import FORM_MIN_PX
from gui.widgets.plot_panel import PlotPanel, format_number

NARROW_WINDOW_PX = 1000   # a window narrower than this (1280 px at 150 %) lets the inputs give way


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


class FormScrollArea(QScrollArea):
    """The Forecast's form column: the splitter's divider stops at the form's own minimum width and
    the vertical scroll bar beside it (at a fixed 400 px minimum the form, which needs ~451 px,
    had its right edge cut with no scroll bar), or, where the screen is narrower, at FORM_MIN_PX,
    the form scrolled sideways: at 150 % (853 px) the form's 460 px left the charts too little and
    the whole view scrolled sideways."""

    def __init__(self, form: QWidget):
        super().__init__()
        self.setWidget(form)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        form.installEventFilter(self)

    def fields_px(self) -> int:
        """The width that shows the form's fields whole beside the vertical scroll bar."""
        form = self.widget()
        bar_px = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        return (form.minimumSizeHint().width() if form is not None else 0) + bar_px + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        form = self.widget()
        if form is None:
            return hint
        # (the form is taller than any window, so its vertical bar is always there.) Only in a
        # narrow window (150 %: 853 px) does the column give way below its fields: in a wider one a
        # divider dragged or restored narrower cut the form's right edge behind a sideways bar
        narrow = self.window() is not self and self.window().width() < NARROW_WINDOW_PX
        own = min(self.fields_px(), FORM_MIN_PX) if narrow else self.fields_px()
        return QSize(max(hint.width(), own), hint.height())

    def eventFilter(self, watched, event) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()   # a form grown wider moves the divider's stop with it
        return super().eventFilter(watched, event)


def _layout_widgets(layout: QLayout | None) -> list[QWidget]:
    """The widgets under `layout` in the order they sit on screen: a form row by row (label, then
    field), a grid row by row, a box along its direction; nested layouts and widgets' own layouts
    in place."""
    if layout is None:
        return []
    if isinstance(layout, QFormLayout):
        roles = (QFormLayout.ItemRole.LabelRole, QFormLayout.ItemRole.FieldRole, QFormLayout.ItemRole.SpanningRole)
        items = [layout.itemAt(row, role) for row in range(layout.rowCount()) for role in roles]
    elif isinstance(layout, QGridLayout):
        grid = layout
        cells = sorted(range(grid.count()), key=lambda i: cast("tuple[int, int, int, int]", grid.getItemPosition(i))[:2])
        items = [grid.itemAt(i) for i in cells]
    else:
        items = [layout.itemAt(i) for i in range(layout.count())]
        if isinstance(layout, QBoxLayout) and layout.direction() in (QBoxLayout.Direction.RightToLeft,
                                                                    QBoxLayout.Direction.BottomToTop):
            items.reverse()
    found: list[QWidget] = []
    for item in items:
        widget = item.widget() if item is not None else None
        if widget is not None:
            found.append(widget)
            found += _layout_widgets(widget.layout())
        elif item is not None:
            found += _layout_widgets(item.layout())
    return found


def set_visual_tab_order(root: QWidget) -> list[QWidget]:
    """Chain Tab through `root`'s fields top to bottom as they sit on screen; returns the chain.

    Qt tabs in creation order: rows made after the form (the per-chip Allocation rows, rebuilt on
    each load; the growth multiplier, inserted into its group late) were reached after the charts or
    last in their group. Call again after any rebuild; the rest of the window (the charts) follows
    the form's last field. Hidden and disabled fields stay in the chain: Qt skips them as it tabs."""
    chain = [w for w in dict.fromkeys(_layout_widgets(root.layout()))
             if w.focusPolicy() & Qt.FocusPolicy.TabFocus]
    for first, second in zip(chain, chain[1:]):
        QWidget.setTabOrder(first, second)
    return chain


class LinkLabel(QLabel):
    """A rich-text label whose links the keyboard reaches: Tab lands on its first link, Enter follows
    it (`linkActivated`), Tab again leaves. A QLabel's links answer the mouse only, so the Plan's
    "Plan … instead" offer could not be used without one. The label takes focus only while its text
    has a link: a summary without one is no Tab stop."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.setText(text)

    def setText(self, text: str) -> None:  # type: ignore[override]
        super().setText(text)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus if "<a " in text else Qt.FocusPolicy.NoFocus)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        # reached by Tab the label alone had focus and Enter did nothing: a second Tab picked the link
        if event.reason() in (Qt.FocusReason.TabFocusReason, Qt.FocusReason.BacktabFocusReason):
            self.focusNextPrevChild(True)


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


# `fleetcast forecast`'s pointer to every note, in words that name the command in the window
# the window's pointer to every note: the CLI run of the saved scenario (a bare `fleetcast forecast`
# ran the default scenario on the default database, not the one on screen)
WINDOW_MORE = "`fleetcast forecast --scenario {name} --format json` lists them all (as saved)"


def condensed_notes(result: ForecastResult, inputs: ForecastInputs, chips: Mapping) -> tuple[str, ...]:
    """The run's notes as `fleetcast forecast` prints them: notes of one kind beyond a few (one per
    order in a large fleet) folded into one "... and N more" line, the most chips first
    (engine.forecast_text.condense_notes, with the CLI's kinds and chip words). The summary
    listed every one: a wall of text with many orders. `chips`: {chip id: chip}."""
    from engine.commands.forecast import note_kinds
    from engine.forecast_text import MORE, condense_notes

    forecast_chips = set(result.chip_ids)
    words = list(forecast_chips) + [c.name for c in chips.values() if c.id in forecast_chips]
    notes = condense_notes(list(result.notes), note_kinds(result, inputs, []), words)
    name = shlex.quote(result.scenario.name or "NAME")
    return tuple(note.replace(MORE, WINDOW_MORE.format(name=name)) for note in notes)


def own_run_context(chart_key: str, context: dict, tornado, shares, completion_base: dt.date | None = None) -> dict:
    """`context` (the forecast's run) for one chart of the Forecast view, naming the runs the
    tornado and the variance shares made themselves: their files said "Run: 2,000 trials" (the
    forecast's) over a tornado of 500 trials a setting and shares of 1,000 a source. The completion
    tornado's base is the last job's P50 completion date (`completion_base`), not a P(meet)."""
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

    run = {**out, "Run": f"its own {own.trials:,} trials a setting{seed} (not the forecast's run)"}
    if chart_key == "tornado_job_completion_days":
        return {**run, "Base P50 completion": (f"{completion_base:%Y-%m-%d} (the last job), on those trials"
                                               if completion_base is not None else "no training job")}
    when = f"in {own.month:%b %Y}" if own.month else "averaged over the horizon"
    return {**run, "Base P(meet)": f"{prob_percent_text(own.base['prob_meet_demand'])} {when}, on those trials"}


NOT_RUN_PREFIX = "Not run: fix "


def not_run_text(problems: list[str], models_missing: bool = False) -> tuple[str, str]:
    """(the run bar's text, its tooltip) while the form holds a value the forecast refuses: the
    field in a few words ("Not run: fix Trials x horizon"), the whole problems in the tooltip. A
    forecast cancelled by such an edit left its bar at "Estimating ... 2%" with nothing running."""
    if models_missing:
        return "Not run: add a model preset (`fleetcast models`)", ""
    if not problems:
        return "", ""
    what = problems[0].split(":")[0].strip()
    what = what if len(what) <= 32 else what[:31].rstrip() + "…"
    more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
    return f"{NOT_RUN_PREFIX}{what}{more}", "Fix before running: " + "; ".join(problems)


def validation_fields(panel) -> dict:
    """The Forecast form's fields by the study's problem field names (engine.studies_forecast):
    the widgets a problem marks in red."""
    unc = panel.unc_editor.fields()
    return {"uncertainty.fraction": unc["fraction"], "uncertainty.delay": unc["delay"],
            "growth": (panel.growth_spin, panel.growth_p10, panel.growth_p50, panel.growth_p90),
            "growth_model": (panel.growth_model,), "sigma_floor": (panel.sigma_floor_spin,),
            "ceiling": (panel.ceiling_spin,), "curve": (panel.curve_kind,), "peak": (panel.peak_spin,),
            "scale": (panel.scale_spin,), "mix_sigma": (panel.mix_sigma_spin,),
            "throughput_sigma": (panel.throughput_sigma_spin,), "ttft": (panel.ttft_spin,),
            "serving_efficiency": (panel.serving_eff_spin,),
            "training_efficiency": (panel.training_goodput_spin,),
            "tpot": (panel.tpot_spin,), "input": (panel.input_tokens_spin,), "output": (panel.output_tokens_spin,),
            "prefix": (panel.prefix_spin,), "slo_percentile": (panel.pct_combo,),
            "length_spread": (panel.spread_spin,), "growth_multiplier": (panel.growth_multiplier_spin,),
            "months": (panel.months_spin,), "trials": (panel.trials_spin,), "seed": (panel.seed_spin,),
            "start": (panel.start_edit,), **panel.supply_editor.fields(),
            **{f"share.{chip}": (spin,) for chip, spin in panel._share_spins.items()}}


def last_job_start(inputs) -> dt.date | None:
    """The earliest start of the scenario's last training job (the tornado's completion counts its
    days from it), or None without a job."""
    jobs = inputs.scenario.jobs if inputs is not None else ()
    return jobs[-1].earliest_start if jobs else None


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


class NamedAxisMixin:
    """For a chart (PlotPanel or a bar chart) whose value-axis title keeps its quantity's name at
    any size. Short of room, PlotPanel keeps the unit alone ("(Ascend 910B2 chips)"): at 1280x720
    the Forecast's capacity and shortfall charts and the Plan's capacity chart never said what they
    count. Here the name stays, over its unit on as few lines as fit (up to MOST_AXIS_LINES), at 9,
    8 or 7 pt; only when none fits is the name shown alone and the unit said after the chart's title
    ("Plan capacity vs peak demand (Ascend 910B2 chips)", smaller rather than cut). Exports and the
    CSV's headers keep the whole title and unit (PlotPanel.restore_full_texts, y_unit)."""

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
        sizes = sorted({size_pt, min(size_pt, 8.0), min(size_pt, SMALLEST_AXIS_PT)}, reverse=True)
        for lines, in_title in axis_title_choices(self.y_label, self.y_unit):
            for pt in sizes:
                font.setPointSizeF(pt)
                if max(QFontMetrics(font).horizontalAdvance(line) for line in lines) <= room:
                    text = "<br>".join(lines)
                    self._shown_y_label = (text, pt)
                    self.set_axis_title("left", text, pt if pt != size_pt else None)
                    self._widen_fixed_axis(axis, (len(lines) - 1) * QFontMetrics(font).height())
                    if in_title:
                        self._title_with_unit()
                    else:
                        self._title_beside()
                    return

    def _title_beside(self) -> None:
        """The title fitted again beside the axis as widened here (PlotPanel fitted it beside the
        narrower axis: the plot item then held 2 px wider than its view at 1280x720)."""
        if self.title:
            self._fit_title(self.title_room())

    def _title_with_unit(self) -> None:
        """The title, smaller or shortened where it must be, and the unit after it (never cut)."""
        suffix = f" ({self.y_unit})"
        self._fit_title(self.title_room(), suffix)
        self.unit_in_title = self.plot_item.titleLabel.text
        self.plot_widget.setToolTip(f"{self.title} ({self.y_unit})")


class NamedAxisChart(NamedAxisMixin, PlotPanel):
    """A PlotPanel whose value axis keeps its quantity's name (NamedAxisMixin)."""


def _two_lines(name: str) -> list[str]:
    """`name` on two lines: at its comma ("Capacity,<br>demand"), else at the space nearest its
    middle ("Change in P50<br>completion")."""
    if ", " in name:
        return name.replace(", ", ",\n", 1).split("\n")
    spaces = [i for i, ch in enumerate(name) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - len(name) / 2))
    return [name[:cut], name[cut + 1:]]


def axis_title_choices(name: str, unit: str) -> list[tuple[list[str], bool]]:
    """The ways to write a value axis's title that keep its quantity's `name`, shortest first:
    (its lines, whether the unit goes into the chart's title instead). The name over the unit,
    then over the unit split in two or a word a line, up to MOST_AXIS_LINES lines; then the name
    alone, on one line or split in two ("Capacity,<br>demand"), the unit said in the title."""
    words = f"({unit})".split(" ")
    units = [[f"({unit})"]]
    if len(words) > 1:
        half = max(1, len(words) // 2)
        units += [[" ".join(words[:half]), " ".join(words[half:])], words]
    names = [[name]] + ([_two_lines(name)] if " " in name else [])
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
