"""The Forecast view's results: capacity vs demand, installed chips, P(meet), shortfall, training
jobs, which uncertainty dominates (variance shares and a tornado), and the monthly table."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
    QScrollArea, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget,
)

from engine.forecast import SOURCE_LABELS, ForecastResult
from engine.forecast_sensitivity import completion_base, job_done_p50, setting_change
from engine.fleet import add_months
from engine.studies_forecast import (file_percent_text, forecast_job_table, forecast_monthly_table, no_demand, p50_short,
                                     prob_percent_text, round_figure, serves_nothing)
from gui import style
from gui.panels.base import with_names
from gui.panels.forecast_common import (NamedAxisChart, NamedAxisMixin, counts_from_zero, figure_text,
                                        first_shortfall_month, fit_left_axis, legend_top_right)
from gui.widgets.category_chart import CategoryBarPanel
from gui.widgets.plot_panel import PlotPanel, format_number, to_timestamps, percent_y_range

WAITING_NOTICE = "The forecast fills this chart when it has run (it runs as you edit, or press Run forecast)"
# the same chart while the form holds a value the forecast refuses: neither way runs it until it is fixed
NOT_RUN_NOTICE = "The forecast fills this chart once it can run: fix {what} (left)"
# Up to this many months a line gets a marker at each month and the date axis a month either
# side: one month drew nothing (a line of one point, a band of no width) on a 1970-2020 axis.
SHORT_HORIZON_MONTHS = 3
SUMMARY_LINES_SHOWN = 7   # the summary's lines in view; the rest scrolls
SUMMARY_PADDING_PX = 18   # its box's padding and border, which heightForWidth leaves out



# Engine notes name the scenario file's fields for the command line; the window says what they are
# (an empty database's summary read "policy_events[0].chip_id 'H20': no order of it in the fleet,
# so this cut-off changes nothing": QA s32).
_CUT_OFF_NOTE = re.compile(r"policy_events\[\d+\]\.chip_id '([^']*)': (.*), so this cut-off changes nothing")
_VENDOR_NOTE = re.compile(r"vendor_uncertainty '([^']*)': (.*), so this profile changes nothing")


def window_words(note: str, chip_name: Callable[[str], str] = str) -> str:
    note = _CUT_OFF_NOTE.sub(lambda m: f"The export cut-off of {chip_name(m.group(1))}: {m.group(2)}, "
                             "so it changes nothing", note)
    return _VENDOR_NOTE.sub(lambda m: f"{m.group(1)}'s delivery uncertainty: {m.group(2)}, so it changes nothing", note)

class _ProbabilityChart(NamedAxisChart):
    """P(meet) by month. Its data (the chart's CSV, Export's forecast_prob_meet_demand.csv) is in
    percent to 2 decimals as the monthly table and `fleetcast forecast --format csv` write it: the
    raw floats read 99.9 and 33.333333333333336 beside their 99.90 and 33.33."""

    def data_table(self) -> tuple[list[str], list[list]]:
        headers, rows = super().data_table()
        return headers, [[file_percent_text(cell) if isinstance(cell, float) else cell for cell in row] for row in rows]


def _mark_months(line, name: str, months_count: int) -> None:
    """A marker at each month on a short horizon (a line of one point draws nothing), none otherwise."""
    short = months_count <= SHORT_HORIZON_MONTHS
    line.setSymbol(style.series_symbol(name) if short else None)
    line.setSymbolSize(9 if short else 6)


NO_DEMAND_NOTICE = "No demand to meet: demand is 0 in every month (no demand points, or demand scaled to 0)"


def _wrapped(label: str) -> str:
    """A training share's chip on a line of its own ("train share\nAscend 910B2"); other names are
    wrapped by the chart to the width a bar has (CategoryBarPanel.tick_labels)."""
    return "train share\n" + label[12:] if label.startswith("train share ") else label


def _setting(label: str) -> str:
    """A tornado setting in a few characters under its bar ("P90 (good end)" -> "P90"): the
    percentile stays, and it is the one the engine computed the bar at."""
    return label.split(" (")[0]


# metric -> (title, tab, value axis, unit, the quantity in the CSV's headers). A completion is a
# date: its change is in days, + later, from the base run's P50 date (not "in <month>").
TORNADO_METRICS = {
    "prob_meet_demand": ("P(meet demand): change from the scenario", "P(meet)", "P(meet)", "points",
                         "Change in P(meet)"),
    "shortfall_mean_unit_chips": ("Mean shortfall: change", "Shortfall", "Shortfall", "chips",
                                  "Change in mean shortfall"),
    "job_completion_days": ("Last job's P50 completion: change", "Completion", "Change in P50 completion",
                            "days later", "Change in the last job's P50 completion"),
}


SENSITIVITY_HINT = ("Each bar: the change when one input sits at one of the two settings named under it, "
                    "everything else as in the scenario.")
TORNADO_WAITING = "Press \u201cCompute sensitivity (tornado)\u201d to see which input moves this most"


class GroupedBarPanel(NamedAxisMixin, CategoryBarPanel):
    """Bars side by side per category (not stacked), e.g. a tornado's low and high ends. Its value
    axis keeps its quantity's name (NamedAxisMixin): the tornado's shortfall axis said only
    "(Ascend 910B2 chips)" and the cost charts "(USD per million tokens)" at 1280x688."""

    value_header = ""   # the quantity each series' column holds ("first setting: Change in P(meet) (points)")

    def set_grouped(self, names, series: dict, colors: dict) -> None:
        self.set_categories(names)
        for old in [n for n in self._segments if n not in series]:
            self.remove_series(old)
        n, k = len(self.categories), max(len(series), 1)
        width = 0.7 / k
        self._segments, self._no_value = {}, {}
        for j, (name, values) in enumerate(series.items()):
            raw = np.asarray(values, dtype=float)[:n]
            self._no_value[name] = ~np.isfinite(raw)   # no bar, a blank cell (not a 0)
            h = np.nan_to_num(raw)
            self.set_bars(name, np.arange(n) + (j - (k - 1) / 2) * width, h, width=width * 0.95,
                          color=colors.get(name))
            self._segments[name] = h
        self._totals = np.zeros(n)
        both = np.concatenate([np.concatenate(list(self._segments.values()) or [np.zeros(0)]), [0.0]])
        self.plot_item.setYRange(float(both.min()) * 1.1, float(both.max()) * 1.1 + 1e-9, padding=0.05)

    def data_table(self) -> tuple[list[str], list[list]]:
        unit = f" ({self.y_unit})" if self.y_unit else ""
        quantity = f": {self.value_header}" if self.value_header else ""
        headers = [self.x_label or "Category"] + [f"{name}{quantity}{unit}" for name in self._segments]
        none = getattr(self, "_no_value", {})
        return headers, [[cat.replace("\n", " ")] + [None if none.get(name, np.zeros(0, bool))[i:i + 1].any()
                                                      else float(h[i]) for name, h in self._segments.items()]
                         for i, cat in enumerate(self.categories)]


class _SummaryLabel(QLabel):
    """The summary: new text asks its scroll area for the height the text needs."""

    def setText(self, text: str) -> None:
        super().setText(text)
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, _FitScroll):
            parent = parent.parentWidget()
        if parent is not None:
            parent.updateGeometry()


class _FitScroll(QScrollArea):
    """A scroll area as tall as its label's text up to its maximum height (a plain one asked for a
    fixed, smaller height: three lines and a scroll bar on a 1920x1080 screen)."""

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        label = self.widget()
        if label is not None:
            # the width the text wraps at with the scroll bar shown (without it, a line short)
            width = max(self.viewport().width() - self.verticalScrollBar().sizeHint().width(), 200)
            # QLabel.heightForWidth reads rich text short (a 6-line summary as 5 lines), so a text
            # near the cap takes the whole cap, and a short one (before a run) its own height
            natural = label.heightForWidth(width - SUMMARY_PADDING_PX) + SUMMARY_PADDING_PX
            hint.setHeight(self.maximumHeight() if natural > self.maximumHeight() * 0.6 else natural)
        return hint

    def resizeEvent(self, event) -> None:   # a new width changes the text's height
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()


class ForecastCharts(QWidget):
    """Charts and tables of one forecast; `draw(result)` fills them."""

    status_message = Signal(str)
    sensitivity_requested = Signal()

    def __init__(self, chip_name: Callable[[str], str], parent=None,
                 model_names: Callable[[], dict] | None = None):
        super().__init__(parent)
        self.chip_name = chip_name
        self.model_names = model_names or dict   # model id -> the name the form shows
        self.result: ForecastResult | None = None
        self.shares = None
        self.tornado = None
        self.tornado_text = ""   # what the label said of the tornado drawn ("" with none)
        self._job_markers: list = []
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self._build_charts())

    def _build_uncertainty_page(self) -> QWidget:
        self.sensitivity_button = QPushButton("Compute sensitivity (tornado)")
        self.sensitivity_button.setToolTip("Re-run the forecast with each uncertain input at its P10 and P90 "
                                           "(about 15 runs of 1,000 trials) and show what each moves")
        self.sensitivity_button.clicked.connect(self.sensitivity_requested)
        # not "good (P10) or bad (P90) end": a delivered share's and throughput's good end is their P90
        self.sensitivity_label = QLabel(SENSITIVITY_HINT)
        self.sensitivity_label.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.sensitivity_button)
        top.addWidget(self.sensitivity_label, 1)
        tornado_tabs = QTabWidget()
        tornado_tabs.setDocumentMode(True)
        tornado_tabs.setTabPosition(QTabWidget.TabPosition.North)   # side tabs were clipped at 1280x720
        self.tornado_tabs = tornado_tabs
        for metric, chart in self.tornado_charts.items():
            tornado_tabs.addTab(chart, TORNADO_METRICS[metric][1])
        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.shares_chart, 1)
        v.addLayout(top)
        v.addWidget(tornado_tabs, 1)
        return page

    def charts(self) -> dict[str, PlotPanel]:
        return {"capacity_vs_demand": self.capacity_chart, "installed_by_type": self.installed_chart,
                "shortfall_p50": self.shortfall_chart, "prob_meet_demand": self.probability_chart,
                "job_completion": self.jobs_chart, "uncertainty_shares": self.shares_chart,
                **{f"tornado_{k}": c for k, c in self.tornado_charts.items()}}

    @staticmethod
    def _setup_table(table: QTableWidget) -> None:
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(22)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)

    def draw_shares(self, shares) -> None:
        """Stacked monthly shares of the variance by source (engine.forecast_sensitivity)."""
        self.shares = shares
        chart = self.shares_chart
        if shares is None:
            return
        if self.result is not None and no_demand(self.result):
            # log(capacity / demand) with no demand is log capacity over a floor: no shares to read (QA s36)
            chart.clear_series()
            chart.set_notice(NO_DEMAND_NOTICE)
            return
        chart.set_notice("")
        x = to_timestamps(shares.months)
        base = np.zeros(len(shares.months))
        for i, source in enumerate(shares.sources):
            h = shares.shares[i] * 100
            chart.set_bars(SOURCE_LABELS[source], x, h, width=26 * 86400.0, color=style.series_color(SOURCE_LABELS[source]),
                           y0=base.copy())
            base = base + h
        percent_y_range(chart)
        self._frame_months(chart, list(shares.months))

    def _input_label(self, text: str) -> str:
        """A tornado input as the planner reads it: a chip by its one display name, not its id."""
        prefix = "train share "
        return prefix + self.chip_name(text[len(prefix):]) if text.startswith(prefix) else text

    def draw_tornado(self, tornado, job_start: dt.date | None = None) -> None:
        """One bar pair per input: the metric at its low and high setting minus the scenario's.
        `job_start`: the earliest start of the last job the tornado ran (its completion's base is
        days from it); None: the last job of the forecast drawn."""
        self.tornado = tornado
        if tornado is None:
            return
        if job_start is None and self.result is not None and self.result.jobs:
            job_start = self.result.jobs[-1].job.earliest_start
        self.completion_base = completion_base(tornado, job_start)
        # Each input's two settings are named under its bar ("P90 | P10", "30% | 70%"), as the
        # engine labels them: one "good end (P10)" / "bad end (P90)" pair for every bar was wrong
        # for throughput and a delivered share (their first bar is P90) and for a training share
        # (more of it delays the job less).
        when = f" in {tornado.month:%b %Y}" if tornado.month else ", averaged over the horizon"
        first, second = "first setting", "second setting"
        for metric, chart in self.tornado_charts.items():
            scale = 100.0 if metric == "prob_meet_demand" else 1.0
            base = tornado.base.get(metric, float("nan"))
            lows = np.array([setting_change(b.low, metric, base, scale) for b in tornado.bars])
            highs = np.array([setting_change(b.high, metric, base, scale) for b in tornado.bars])
            order = np.argsort(-np.nan_to_num(np.abs(highs - lows)))
            def said(bar, end: str) -> str:   # a setting whose median trial never finishes: said, no bar
                setting = _setting(getattr(bar, f"{end}_label"))
                undone = metric == "job_completion_days" and getattr(bar, end).get("job_done_p50", 1.0) <= 0
                return f"{setting} (not done)" if undone else setting

            names = [f"{_wrapped(self._input_label(tornado.bars[i].input))}\n{said(tornado.bars[i], 'low')} | "
                     f"{said(tornado.bars[i], 'high')}" for i in order]
            title = TORNADO_METRICS[metric][0]
            if metric != "job_completion_days" and self.result is not None and no_demand(self.result):
                # every bar 0 on an axis ticked to 1e-09 said nothing (QA s36): no bars, the notice alone
                chart.set_grouped([], {}, {})
                chart.set_title(f"{title}{when}")
                chart.set_notice(NO_DEMAND_NOTICE)
                continue
            if metric == "shortfall_mean_unit_chips" and self.result is not None and serves_nothing(self.result):
                chart.set_grouped([], {}, {})   # no chip's rate to count a shortfall in (QA s37)
                chart.set_title(f"{title}{when}")
                chart.set_notice("No chip serves the demand under its latency targets: no unit to count a "
                                 "shortfall in (see the notes)")
                continue
            chart.set_grouped(names, {first: lows[order], second: highs[order]},
                              {first: style.series_color("good end (P10)"), second: style.series_color("bad end (P90)")})
            if metric != "job_completion_days":
                chart.set_title(f"{title}{when}")   # the month read, in the exports too
                chart.set_notice("")
            elif self.completion_base is not None:   # a date moves in days from the base run's P50
                chart.set_title(f"{title} from base P50 {self.completion_base:%Y-%m-%d}")
                chart.set_notice("")
            elif np.isfinite(tornado.base.get("job_completion_days", np.nan)) and not job_done_p50(tornado):
                chart.set_grouped([], {}, {})   # days from a stand-in date: no bars to read
                chart.set_title(f"{title} (not done within the horizon at P50)")
                chart.set_notice("The last job does not finish within the horizon in the base run's median trial: "
                                 "no P50 date to measure a change from (see its row under Training jobs)")
            else:
                chart.set_title(f"{title} (no training job)")
                chart.set_notice("No training job in this scenario: add one under Training jobs to see what delays it")
        # its own runs: a base P(meet) of 55% beside the summary's 53.1% for the same month read as a clash
        own_runs = f" on its own {tornado.trials:,} trials" if tornado.trials else " on its own trials"
        base_text = html.escape(prob_percent_text(tornado.base["prob_meet_demand"]))
        done = (f" The last job's base P50 completion: {self.completion_base:%Y-%m-%d}."
                if self.completion_base is not None else "")
        self.tornado_text = (f"P(meet) and shortfall{when}; base P(meet) "
                             f"{base_text}{own_runs}.{done} Bars: the change when one "
                             "input sits at the <span style='color:#009E73'>first</span> or "
                             "<span style='color:#D55E00'>second</span> setting named under it "
                             "(P10 / P90: the input's own 10th / 90th percentile).")
        self.sensitivity_label.setText(self.tornado_text)

    def clear_tornado(self) -> None:
        """No tornado on screen: the one drawn was for other inputs (another scenario, an edit), and
        it stayed under the new forecast and went into its exports under the new scenario's name."""
        self.tornado, self.tornado_text, self.completion_base = None, "", None
        for chart in self.tornado_charts.values():
            chart.set_grouped([], {}, {})
            chart.set_notice(TORNADO_WAITING)
        self.sensitivity_label.setText(SENSITIVITY_HINT)

    def show_not_run(self, what: str) -> None:
        """The charts still waiting for a first run say what to fix (`what`, e.g. "Trials x
        horizon"), or again how they fill ("" when the form is fine)."""
        waiting = NOT_RUN_NOTICE.format(what=what) if what else WAITING_NOTICE
        for key, chart in self.charts().items():
            if not key.startswith("tornado_") and (chart.notice() == WAITING_NOTICE or chart.notice().startswith(
                    NOT_RUN_NOTICE.split("{")[0])):
                chart.set_notice(waiting)

    def _build_charts(self) -> QWidget:
        self.summary_label = _SummaryLabel("Run the forecast to see capacity against demand.")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.setStyleSheet(style.box_style(style.SUMMARY_BOX))   # its text and background together
        self.capacity_chart = NamedAxisChart("Serving capacity vs peak demand", y_label="Capacity",
                                             y_unit="chips", time_axis=True)
        self.installed_chart = NamedAxisChart("Installed chips by type", y_label="Installed", y_unit="chips",
                                              time_axis=True)
        self.shortfall_chart = NamedAxisChart("Shortfall at peak", y_label="Shortfall",
                                              y_unit="chips", time_axis=True)
        self.probability_chart = _ProbabilityChart("Probability of meeting peak demand", y_label="Probability",
                                                   y_unit="%", time_axis=True)
        percent_y_range(self.probability_chart)
        self.probability_chart.plot_item.getViewBox().setLimits(yMin=-8, yMax=108)
        self.jobs_chart = NamedAxisChart("Training-job completion date", y_label="Trials finishing",
                                         y_unit="% per month", time_axis=True)
        self.shares_chart = NamedAxisChart("Which uncertainty dominates: share of the variance of "
                                           "log(capacity / demand)", y_label="Share", y_unit="%", time_axis=True)
        self.tornado_charts = {m: GroupedBarPanel(title, y_label=label, y_unit=unit)
                               for m, (title, _tab, label, unit, _header) in TORNADO_METRICS.items()}
        self.completion_base: dt.date | None = None   # the completion tornado's base P50 date
        for metric, chart in self.tornado_charts.items():   # an empty chart says what fills it
            chart.set_notice(TORNADO_WAITING)
            chart.value_header = TORNADO_METRICS[metric][4]
        self._whiskers: list = []   # P10-P90 of a one-month horizon, where a band has no width
        self._framed: set = set()   # charts whose date axis a short horizon fixed (see _frame_months)
        for chart in self.charts().values():
            chart.status_message.connect(self.status_message)
            if chart.time_axis:   # monthly figures: no day or second ticks on a short horizon
                chart.plot_item.getAxis("bottom").months_at_finest()
            if chart not in self.tornado_charts.values():   # bare axes ("00.250") said nothing while it ran
                chart.set_notice(WAITING_NOTICE)
        legend_top_right(self.probability_chart)

        grid_page = QWidget()
        grid = QGridLayout(grid_page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.capacity_chart, 0, 0)
        grid.addWidget(self.installed_chart, 0, 1)
        grid.addWidget(self.probability_chart, 1, 0)
        grid.addWidget(self.shortfall_chart, 1, 1)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)

        self.jobs_table = QTableWidget()
        self._setup_table(self.jobs_table)
        jobs_page = QWidget()
        jobs_layout = QVBoxLayout(jobs_page)
        jobs_layout.setContentsMargins(0, 0, 0, 0)
        jobs_layout.addWidget(self.jobs_chart, 3)
        jobs_layout.addWidget(self.jobs_table, 1)

        self.monthly_table = QTableWidget()
        self._setup_table(self.monthly_table)

        self.result_tabs = QTabWidget()
        self.result_tabs.setDocumentMode(True)
        self.result_tabs.addTab(grid_page, "Capacity && demand")
        self.result_tabs.addTab(jobs_page, "Training jobs")
        self.result_tabs.addTab(self._build_uncertainty_page(), "Uncertainty")
        self.result_tabs.addTab(self.monthly_table, "Monthly table")

        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        # the summary grows a note per chip, job and assumption: past a few lines it scrolls, so
        # the charts keep their room (the tornado's plot was squeezed to 32 px at 1280x720)
        self.summary_scroll = _FitScroll()
        self.summary_scroll.setWidget(self.summary_label)
        self.summary_scroll.setWidgetResizable(True)
        self.summary_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.summary_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.summary_scroll.setMaximumHeight(SUMMARY_LINES_SHOWN * self.summary_label.fontMetrics().lineSpacing()
                                             + SUMMARY_PADDING_PX)
        v.addWidget(self.summary_scroll)
        v.addWidget(self.result_tabs, 1)
        return page

    def summary_html(self) -> str:
        """The summary of the result drawn last (the label may carry a note above it)."""
        return getattr(self, "_summary_text", None) or "Run the forecast to see capacity against demand."

    def _frame_months(self, chart: PlotPanel, months) -> None:
        """A short horizon's date axis from a month before its first month to a month after its last."""
        if 0 < len(months) <= SHORT_HORIZON_MONTHS:
            first, last = to_timestamps([add_months(months[0], -1), add_months(months[-1], 1)])
            chart.plot_item.setXRange(float(first), float(last), padding=0.04)
            self._framed.add(chart)
        elif chart in self._framed:   # a longer run next must not stay inside the short one's months
            self._framed.discard(chart)
            chart.plot_item.enableAutoRange(axis="x")

    def _whisker(self, chart: PlotPanel, x, low, high, color: str) -> None:
        """P10-P90 as a capped bar at the one month of a one-month horizon, where the band has no width."""
        if len(x) != 1:
            return
        item = pg.ErrorBarItem(x=np.asarray(x, dtype=float), y=np.asarray(low, dtype=float),
                               top=np.asarray(high, dtype=float) - np.asarray(low, dtype=float),
                               bottom=np.zeros(1), beam=8 * 86400.0, pen=pg.mkPen(color, width=1.5))
        chart.plot_item.addItem(item, ignoreBounds=True)   # the band's own curves give the bounds
        self._whiskers.append((chart, item))

    def draw(self, r: ForecastResult) -> None:
        self.result = r
        for chart, item in self._whiskers:
            chart.plot_item.removeItem(item)
        self._whiskers = []
        for chart in (self.probability_chart, self.jobs_chart):   # the others set or clear their own below
            chart.set_notice("")
        x = to_timestamps(r.months)
        count = len(r.months)
        unit_name = self.chip_name(r.unit_chip_id)
        unit = f"{unit_name} chips"
        cap = r.serving_capacity_unit_chips
        c = self.capacity_chart
        c.set_axis_labels(y_label="Capacity, demand", y_unit=unit)   # the title says serving; a shorter label fits 1280 px
        c.set_band("Capacity P10–P90", x, cap.p10, cap.p90, color="#0072B2")
        self._whisker(c, x, cap.p10, cap.p90, "#0072B2")
        _mark_months(c.set_series("Capacity P50", x, cap.p50, color="#0072B2", symbol=None), "Capacity P50", count)
        _mark_months(c.set_series("Peak demand", x, r.demand_unit_chips, color="#D55E00", symbol=None, dashed=True),
                     "Peak demand", count)
        if r.demand_unit_chips_bands is not None:
            dem = r.demand_unit_chips_bands
            c.set_band("Peak demand P10–P90", x, dem.p10, dem.p90, color="#D55E00", alpha=40)
            self._whisker(c, x, dem.p10, dem.p90, "#D55E00")
        # Demand that grows far past capacity would flatten the band to a line at zero: show the
        # crossing and let the Shortfall chart carry the size of the gap (the A button zooms out).
        top = float(np.nanmax(cap.p90, initial=0.0)) if not serves_nothing(r) else 0.0   # (all NaN: no unit chip)
        if top > 0 and float(np.nanmax(r.demand_unit_chips)) > 4 * top:
            c.plot_item.setYRange(0, 3 * top, padding=0.02)
            c.plot_item.setXRange(float(x[0]), float(x[-1]), padding=0.02)
            c.set_title("Capacity vs demand (zoomed)")
            fit_left_axis(c, [3 * top])
        else:
            c.plot_item.enableAutoRange()
            c.set_title("Serving capacity vs peak demand")
            fit_left_axis(c, np.concatenate([cap.p90, r.demand_unit_chips]))
        if serves_nothing(r):   # every series NaN: the axes framed on the horizon (they read 1970-2020)
            c.plot_item.setXRange(float(x[0]), float(x[-1]), padding=0.02)
            c.plot_item.setYRange(0, 1, padding=0)
            c.set_notice("No chip serves the demand under its latency targets (see the notes): no capacity to draw")
        elif top <= 0 and float(np.nanmax(r.demand_unit_chips, initial=0.0)) <= 0:
            c.plot_item.setYRange(0, 1, padding=0)
            c.set_notice("No serving capacity and no demand in this horizon")
        else:
            c.set_notice("")
        self._frame_months(c, r.months)

        inst = self.installed_chart
        wanted = {"All types P10–P90", "All types P50"} | {f"{self.chip_name(ch)} P50" for ch in r.chip_ids}
        for name in inst.series_names():
            if name not in wanted:
                inst.remove_series(name)
        inst.set_band("All types P10–P90", x, r.installed_total.p10, r.installed_total.p90, color="#7F7F7F")
        self._whisker(inst, x, r.installed_total.p10, r.installed_total.p90, "#7F7F7F")
        _mark_months(inst.set_series("All types P50", x, r.installed_total.p50, color="#000000", symbol=None),
                     "All types P50", count)
        for chip in r.chip_ids:  # each chip in its own colour everywhere (gui.style), not by its place
            name = f"{self.chip_name(chip)} P50"
            _mark_months(inst.set_series(name, x, r.installed_by_chip[chip].p50, color=style.chip_color(chip),
                                         symbol=None), name, count)
        fit_left_axis(inst, r.installed_total.p90)
        counts_from_zero(inst, r.installed_total.p90)
        self._frame_months(inst, r.months)
        if float(np.nanmax(r.installed_total.p90, initial=0.0)) <= 0:
            # a flat line on a 0.2-0.8 chip axis said nothing: say why it is empty
            inst.plot_item.setYRange(0, 1, padding=0)
            inst.set_notice("No chips installed in this horizon: add orders in the Fleet view")
        else:
            inst.set_notice("")

        s = self.shortfall_chart
        s.set_axis_labels(y_unit=unit)
        # the tornado's shortfall is in the same unit chips (it said "chips", read as any chip)
        self.tornado_charts["shortfall_mean_unit_chips"].set_axis_labels(y_unit=unit)
        s.set_bars("Shortfall P50", x, r.shortfall_p50_unit_chips, width=26 * 86400.0, color="#D55E00")
        # P90 beside the P50 bars, as every other chart's band: the mean followed a few trials' runaway
        # demand (22M chips in Apr 2029 beside a P50 of 1.8M and demand's own P90 of 7.8M) and
        # flattened the bars the summary quotes (QA s36). The tornado still ranks the mean.
        high = r.shortfall_unit_chips.p90 if r.shortfall_unit_chips is not None else r.shortfall_p50_unit_chips
        _mark_months(s.set_series("Shortfall P90", x, high, color="#7F3C00", symbol=None), "Shortfall P90", count)
        fit_left_axis(s, np.maximum(r.shortfall_p50_unit_chips, high))
        worst = float(np.nanmax(np.maximum(r.shortfall_p50_unit_chips, high), initial=0.0))
        if serves_nothing(r):   # NaN bars on an empty axis: no chip's rate to count the shortfall in
            s.set_notice("No chip serves the demand under its latency targets: the whole demand is short "
                         "(see the notes)")
        elif worst > 0:
            s.plot_item.enableAutoRange()
            s.set_notice("")
        else:  # all zero: a flat axis around 0 with nothing on it would look broken; say why
            s.plot_item.setXRange(float(x[0]), float(x[-1]), padding=0.02)
            s.plot_item.setYRange(0, 1, padding=0)
            s.set_notice("No shortfall at P90 in any month (capacity meets peak demand in at least 9 of 10 trials)")
        self._frame_months(s, r.months)

        p = self.probability_chart
        name = "P(capacity ≥ peak demand)"
        _mark_months(p.set_series(name, x, r.prob_meet_demand * 100, color="#009E73", symbol=None), name, count)
        percent_y_range(p)
        self._frame_months(p, r.months)

        self._draw_jobs(r)
        self._fill_tables(r)
        self._summary_text = self._summary_html(r)
        self.summary_label.setText(self._summary_text)

    def _draw_jobs(self, r: ForecastResult) -> None:
        j = self.jobs_chart
        for item in self._job_markers:
            j.plot_item.removeItem(item)
        self._job_markers = []
        names = {f"{job.job.name}" for job in r.jobs}
        for name in j.series_names():
            if name not in names:
                j.remove_series(name)
        months = list(r.months)
        end = months[-1]
        last = add_months(end, 1)
        edges = np.array([m.toordinal() for m in months + [last]], dtype=float)
        centres = to_timestamps(months) + 14 * 86400.0
        n = max(len(r.jobs), 1)
        width = 26 * 86400.0 / n
        for i, job in enumerate(r.jobs):
            counts, _ = np.histogram(job.completion_ordinals[np.isfinite(job.completion_ordinals)], bins=edges)
            share = counts / max(len(job.completion_ordinals), 1) * 100
            colour = style.job_color(job.job.name)  # by the job's name: stable across redraws
            offset = (i - (n - 1) / 2) * width
            j.set_bars(job.job.name, centres + offset, share, width=width, color=colour)
            for q, day in (("P10", job.completion_p10), ("P50", job.completion_p50), ("P90", job.completion_p90)):
                if day is None:
                    continue
                # Labels never on top of each other: P10 left of its line, P90 right of it, P50
                # centred one row lower; each further job one more row down.
                anchor, row = {"P10": ((1, 0.5), 0), "P50": ((0.5, 0.5), 1), "P90": ((0, 0.5), 0)}[q]
                line = pg.InfiniteLine(pos=float(to_timestamps([day])[0]), angle=90,
                                       pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                                       label=f"{q} {day:%Y-%m}",
                                       labelOpts={"position": max(0.95 - 0.09 * (row + 2 * i), 0.1), "color": colour,
                                                  "anchors": [anchor, anchor],
                                                  "fill": pg.mkBrush(255, 255, 255, 200)})
                j.plot_item.addItem(line, ignoreBounds=True)
                self._job_markers.append(line)
        done = [jb for jb in r.jobs if np.isfinite(jb.completion_ordinals).any()]
        if r.jobs:
            if done:
                lo = min(float(np.nanmin(np.where(np.isfinite(jb.completion_ordinals), jb.completion_ordinals,
                                                   np.nan))) for jb in done)
                hi = max(float(np.nanmax(np.where(np.isfinite(jb.completion_ordinals), jb.completion_ordinals,
                                                   np.nan))) for jb in done)
                epoch = dt.date(1970, 1, 1).toordinal()
                j.plot_item.setXRange((lo - epoch - 60) * 86400.0, (hi - epoch + 60) * 86400.0, padding=0)
                j.plot_item.enableAutoRange(axis="y")
            else:   # bars of nothing sat on a -0.4..0.4 axis with no word of why
                j.plot_item.enableAutoRange()
                j.plot_item.setYRange(0, 1, padding=0)
                j.set_notice("No trial finishes a job within this horizon: extend the horizon")
        if not done:   # bars of nothing on one month went down to day ticks ("02 07 12")
            self._frame_months(j, months)
        self.jobs_chart.set_title("Training-job completion date (share of trials finishing each month)"
                                  if r.jobs else "Training-job completion date: no jobs in this scenario")

    def _names(self) -> dict[str, str]:
        r = self.result
        ids = set(r.chip_ids) | {r.unit_chip_id} | {j.job.chip_id for j in r.jobs}
        return {c: self.chip_name(c) for c in ids}

    def monthly_rows(self) -> tuple[list[str], list[list]]:
        table = forecast_monthly_table(self.result, self._names())  # the table `fleetcast forecast` prints
        return table.headers(), table.rows()

    def job_rows(self) -> tuple[list[str], list[list]]:
        return forecast_job_table(self.result, self._names(), self.model_names())

    def _fill_table(self, table: QTableWidget, headers, rows, texts=None) -> None:
        """`texts`: per column, a function writing its value (None: figure_text)."""
        table.setUpdatesEnabled(False)
        table.clear()
        table.setColumnCount(len(headers))
        table.setRowCount(len(rows))
        # Units on a second line: narrower columns, less sideways scrolling on a laptop (the
        # CSV keeps one-line headers).
        table.setHorizontalHeaderLabels([h.replace(" (", "\n(") for h in headers])
        for k, header in enumerate(headers):
            table.horizontalHeaderItem(k).setToolTip(header)
        for i, row in enumerate(rows):
            for k, value in enumerate(row):
                write = texts[k] if texts and k < len(texts) and texts[k] is not None else figure_text
                item = QTableWidgetItem(write(value))
                if isinstance(value, (int, float)):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(i, k, item)
        table.setUpdatesEnabled(True)

    def _fill_tables(self, r: ForecastResult) -> None:
        # P(meet) to 2 decimals as the CLI's CSV and the export write it ("53.60", "23.00"; it read
        # "53.60" beside "23": QA s32)
        monthly = forecast_monthly_table(self.result, self._names())
        self._fill_table(self.monthly_table, monthly.headers(), monthly.rows(),
                         [None] + [c.file_text for c in monthly.columns])
        self._fill_table(self.jobs_table, *self.job_rows())

    def _summary_html(self, r: ForecastResult) -> str:
        end = len(r.months) - 1
        unit = self.chip_name(r.unit_chip_id)
        first = first_shortfall_month(r)

        # Monte Carlo percentiles to 3 significant figures, as the key figures, the CLI and the report
        # give them ("largest gap 2,660,833" beside the report's 2.66 million; QA s28)
        def fig(value) -> str:
            return format_number(float(round_figure(float(value))))

        parts = [f"<b>{r.months[end]:%b %Y}</b>: {fig(r.installed_total.p50[end])} chips installed "
                 f"(P50; P10 {fig(r.installed_total.p10[end])}, P90 "
                 f"{fig(r.installed_total.p90[end])})."]
        if first is None and no_demand(r):
            parts.append("<b>No demand to meet</b>: demand is 0 in every month (no demand points, or demand scaled "
                         "to 0), so P(meet demand) is 100% with nothing to meet. Add points under Demand.")
        elif first is None:
            parts.append("P50 capacity covers peak demand in every month.")
        elif serves_nothing(r):
            parts.append(f"<b>No chip serves the demand</b> under its latency targets (see the notes): capacity is 0, "
                         f"so peak demand exceeds it from <b>{first:%b %Y}</b>, {int(np.count_nonzero(p50_short(r)))} "
                         f"of {len(r.months)} months short. Relax the targets or serve on another chip.")
        else:
            short = int(np.count_nonzero(p50_short(r)))
            # a month at even odds is the seed's pick: said beside it (it flipped Jul/Aug with the seed)
            from engine.studies_forecast import shortfall_seed_words

            seed_first = shortfall_seed_words(r)[0]
            parts.append(f"Peak demand first exceeds P50 capacity in <b>{first:%b %Y}</b>"
                         + (f" ({html.escape(seed_first.replace(' (', ': ', 1).rstrip(')').replace('+-', '±'))})"
                            if seed_first else "") + f"; {short} of "
                         f"{len(r.months)} months short (largest gap "
                         f"{fig(r.shortfall_p50_unit_chips.max())} {unit} chips).")
        for months_in in (12, 24):
            if months_in < len(r.months):
                # the forecast reads each month on its first day (demand grew ~25% within a month in 2025)
                parts.append(f"P(meet demand) on 1 {r.months[months_in]:%b %Y}: "
                             f"{html.escape(prob_percent_text(float(r.prob_meet_demand[months_in])))}.")
        for j in r.jobs:
            when = (lambda d: f"{d:%b %Y}" if d else "after the horizon")
            parts.append(f"Job <i>{j.job.name}</i>: done P50 <b>{when(j.completion_p50)}</b> "
                         f"(P10 {when(j.completion_p10)}, P90 {when(j.completion_p90)}).")
        names = {**{c: self.chip_name(c) for c in (*r.chip_ids, r.unit_chip_id) if c}, **self.model_names()}
        # how each chip serves or trains; the engine's ASCII "+-" as the window writes it (the
        # assumptions box beside it says "±62%": QA s32)
        notes = "".join(f" {html.escape(window_words(with_names(n, names), self.chip_name).replace('+-', '±'))}." for n in r.notes)
        parts.append(f"<span style='color:#666'>{r.trials:,} trials, seed {r.seed}; throughput from "
                     f"{html.escape(r.throughput_source)}.{notes}</span>")
        return " ".join(parts)
