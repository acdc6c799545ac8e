"""The Plan view: the cheapest order plan that serves demand at a confidence (engine.forecast_plan).

Candidates (chip, unit price, lead time, most per quarter) start from resources/plan_candidates.csv
and the catalog's prices; the vendor's risk (fulfilled fraction, delay, export cut-offs) comes from
the current scenario. A worker builds the inputs (the engines' throughputs, cached while the
scenario's serving inputs stay the same) and solves; the result shows as a table, on the capacity
chart, with P(meet demand) re-simulated on fresh trials, and each chip's cost per token. "Add as
orders" writes the plan into the Fleet as assumption orders: one transaction, one undoable step.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import replace
from typing import Callable

from PySide6.QtCore import QDate, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QDateEdit, QHeaderView, QLabel, QPushButton, QSplitter, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from engine.errors import UserError
from engine.commands.plan import candidate_chip_ids, default_candidates
from engine.forecast_plan import pct_text
from engine.studies import chip_name
from engine.studies_forecast import (  # noqa: F401  (PlanJob, compute_plan: re-exported)
    CANDIDATE_FIELDS, PLAN_SAMPLES, PlanJob, PlanStudy, compute_plan, plan_curve_name, plan_economics_table, plan_lowest_prob, plan_order_rows,
    plan_order_table, plan_view_window, scenario_of,
)
from gui import style
from gui.commands import follow_stack, follow_store_writes
from gui.panels.base import counted, mark_stale, run_controls, ungrouped
from gui.panels.forecast_charts import GroupedBarPanel
from gui.panels.forecast import NO_MODELS_HINT
from gui.panels.forecast_common import NamedAxisChart
from gui.panels.forecast_editors import BAD_CELL, _int_spin, _spin
from gui.panels.plan_text import (COST_UNIT, ReturnRuns, add_orders_state, cell_text as _cell_text, cost_chart_context,
                                  cost_series_names, draw_deliveries, econ_caption, fill_result_table, fit_table_height,
                                  plan_summary_html, refused_caption, regroup_cell)
from gui.panels.plan_layout import (SummaryLabel, fit_cost_columns, fit_orders_width, fit_table_width, form_column,
                                    form_first, results_page)
from gui.widgets.banner import MessageBanner
from gui.widgets.exact_fields import ExactFields
from gui.widgets.form_undo import keyed_rows_step
from gui.widgets.plot_panel import PlotPanel, to_timestamps, percent_y_range
from gui.workers import LatestRunner

CAND_HEADERS = ("Use", "Chip", "Price\n(USD)", "Lead time\n(months)", "Most per\nquarter (chips)")
# what each column means, with its unit (the titles are short), on its title and its cells
CAND_TIPS = ("Ticked: the plan may buy this chip", "The chip the plan may buy", "Price per chip, USD (double-click to edit)",
             "Months from order to delivery (double-click to edit)", "Most chips the plan may order in a quarter "
             "(double-click to edit); 0 keeps the chip out of the plan but in the cost comparison")
# The capacity chart's titles, short enough to stay whole beside its legend at 1280x720 (about 180
# px of room: "Plan capacity vs peak demand" was cut to "Plan capacity vs peak de…" even at 9 pt)
PLAN_TITLE, REFUSED_TITLE = "Plan vs peak demand", "Refused plan vs demand"


def _canonical(scenario):
    """The scenario with training shares equal to the default left out: the Forecast view lists
    every fleet chip's share (0 for the H800) once it is built, which changes nothing planned."""
    a = scenario.allocation
    shares = {k: v for k, v in a.training_share.items() if v != a.default_training_share}
    return replace(scenario, allocation=replace(a, training_share=shares))


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class PlanPanel(QWidget):
    """What to order, when, at what cost, to meet demand with a given confidence."""
    # the form's labels for its inputs (the undo menu names an edit by them)
    STATE_LABELS = {"confidence": "Confidence", "from_month": "From", "until_month": "Until", "budget_usd": "Budget",
                    "samples": "Fitted on", "candidates": "Candidates"}

    status_message = Signal(str)
    result_ready = Signal(object)

    def __init__(self, store, undo_stack: QUndoStack | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo_stack = undo_stack
        self.scenario_provider: Callable[[], dict] | None = None  # the app's current scenario params
        self.result = None
        self.scenario = None
        self.planned_candidates: tuple = ()  # the candidates the shown plan was solved with
        self._cache = None
        self._shown_key = None     # the inputs of the plan on screen (scenario, request, store contents)
        self._running_key = None
        self._summary_html = ""
        self._exact_fields = ExactFields()   # a saved 5000 trials had run as the field's 2000 (QA s37)
        self.runner = LatestRunner(self)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.progress.connect(lambda f, m: (self.progress_bar.setValue(int(f * 100)),
                                                   self.progress_bar.setFormat(f"{m} %p%")))
        self.runner.busy_changed.connect(lambda busy: self.cancel_button.setEnabled(busy))
        self.runner.cancelled.connect(self._on_cancelled)
        self.banner = MessageBanner()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._build_form())   # first at its fields' width (plan_layout.FormColumn)
        split.addWidget(self._build_results())
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        form_first(split)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        self._fill_candidates()
        # a plan on screen whose inputs changed since (this form, the Forecast's scenario, the
        # fleet, the catalog) is greyed and cannot be added to the Fleet until it is found again
        self._unfollow = []
        if undo_stack is not None:   # (in this order: the candidates refilled, then the plan checked)
            self._unfollow = [follow_store_writes(undo_stack, store, self._refill_candidates),
                              follow_stack(undo_stack, self._on_stack_moved)]
        for signal in (self.confidence.valueChanged, self.auto_from.toggled, self.auto_until.toggled,
                       self.from_edit.dateChanged,
                       self.until_edit.dateChanged, self.budget.valueChanged, self.samples.valueChanged,
                       self.cand_table.itemChanged):
            signal.connect(self.check_current)

    # ---- form ----------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        self.cand_table = QTableWidget(0, len(CAND_HEADERS))
        # Titles on two lines: one-line titles made the table scroll sideways at 1280x720.
        self.cand_table.setHorizontalHeaderLabels([h.replace("Most per quarter", "Most per\nquarter")
                                                   .replace(" (", "\n(") for h in CAND_HEADERS])
        for k, tip in enumerate(CAND_TIPS):
            self.cand_table.horizontalHeaderItem(k).setToolTip(tip)
        self.cand_table.verticalHeader().setVisible(False)
        self.cand_table.setTabKeyNavigation(False)   # Tab goes on to the next control (it cycled the cells)
        self.cand_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.cand_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.cand_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.cand_table.setMinimumHeight(150)
        self.cand_table.itemChanged.connect(lambda item: regroup_cell(self.cand_table, item))   # "15000" -> "15,000"
        self.cand_table.itemChanged.connect(self._mark_bad_cells)
        # the undo step names the chip and the column as shown ("Edit H20 Most per quarter → 99,000")
        self.cand_table.STATE_PATH = ("candidates",)
        self.cand_table.step_text = lambda old, new: keyed_rows_step(
            self.cand_table, [c.chip_id for c in self._candidates],
            {"use": 0, "unit_price_usd": 2, "lead_time_months": 3, "max_per_quarter": 4}, old, new)
        self.confidence = _spin(50, 99.9, 90, decimals=1, step=1, suffix=" %",
                                tip="P(serving capacity >= peak demand) to keep on the 1st of every month of the target")
        self.auto_from = QCheckBox("first month a plan can reach")
        self.auto_from.setChecked(True)
        self.auto_from.setToolTip("Start the target at the first month orders placed now can reach (lead times, "
                                  "vendor delays); untick to choose")
        # greyed, it shows the month a run chose; before one, "set by the run" (a fixed 2025-06 read
        # as the plan's month where the run then chose 2025-03)
        self.from_edit = QDateEdit(_qdate(dt.date(2000, 1, 1)))
        self.from_edit.setMinimumDate(_qdate(dt.date(2000, 1, 1)))
        self.from_edit.setSpecialValueText("set by the run")
        self.from_edit.setDisplayFormat("yyyy-MM")
        self.from_edit.setEnabled(False)
        self.from_edit.setToolTip("First month the target must hold (untick 'first month a plan can reach' to choose)")
        self.auto_from.toggled.connect(self._from_toggled)
        self.until_edit = QDateEdit(_qdate(dt.date(2026, 12, 1)))
        self.until_edit.setDisplayFormat("yyyy-MM")
        self.until_edit.setEnabled(False)
        self.until_edit.setToolTip("Last month the target must hold (untick 'the horizon's end' to choose)")
        # the default is `fleetcast plan`'s: the forecast's last month
        self.auto_until = QCheckBox("the horizon's end")
        self.auto_until.setChecked(True)
        self.auto_until.setToolTip("Hold the target to the forecast's last month, as `fleetcast plan` does; "
                                   "untick to choose an earlier month")
        self.auto_until.toggled.connect(lambda on: self.until_edit.setEnabled(not on))
        self.budget = _spin(0, 1e6, 0, decimals=2, step=1, suffix=" B USD", tip="Most the plan may cost; 0 = no limit")
        self.budget.setSpecialValueText("no limit")
        self.samples = _int_spin(*PLAN_SAMPLES, 200, step=20, suffix=" trials",
                                 tip="Monte Carlo trials the plan is fitted on (it is then checked on 4,000 fresh)")
        self._run_row = run_controls(
            self, "Find the cheapest plan", "Solve for the cheapest orders that keep the confidence from 'From' to "
            "'Until' (a few seconds; checked on 4,000 fresh trials)", "Stop the search; the plan shown before stays",
            cancel=lambda: self.runner.cancel())
        self.add_button = QPushButton("Add plan as assumption orders")
        self._show_add_state()   # greyed, its tooltip says why
        self.add_button.clicked.connect(self.add_as_orders)
        self._return_runs = ReturnRuns(self.run_button, (self.confidence, self.from_edit, self.auto_from, self.until_edit,
                                                         self.auto_until, self.budget, self.samples),
                                       busy=lambda: self.runner.is_running())
        return form_column(self)

    def _build_results(self) -> QWidget:
        # its "Plan … instead" link: Tab reaches it, Enter follows it (a plain QLabel's link took the mouse only)
        self.summary_label = SummaryLabel("Find the cheapest plan to see what to order, when, and at what cost.")
        self.summary_label.setWordWrap(True)
        # its text and links in colours that read on the light box on a dark desktop too (gui.style.Box)
        self.summary_label.setStyleSheet(style.box_style(style.SUMMARY_BOX, extra="QLabel:focus { border-color: #3b7dd8; }"))
        self.summary_label.linkActivated.connect(self._on_summary_link)
        self.capacity_chart = NamedAxisChart(PLAN_TITLE, y_label="Capacity",
                                             y_unit="chips", time_axis=True)
        self.prob_chart = NamedAxisChart("P(meet demand), fresh trials", y_label="Probability",
                                         y_unit="%", time_axis=True)
        self.served_cost_chart = GroupedBarPanel("Capital cost per 1M served tokens",
                                                 y_label="Cost", y_unit=COST_UNIT)
        self.training_cost_chart = GroupedBarPanel("Capital cost per 1M training tokens", y_label="Cost",
                                                   y_unit=COST_UNIT)
        for chart in self.charts().values():
            chart.status_message.connect(self.status_message)
            chart.set_notice("No plan yet: Find the cheapest plan (left) draws it here")
        self.orders_table = QTableWidget()
        self.econ_table = QTableWidget()
        for t in (self.orders_table, self.econ_table):
            t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            t.verticalHeader().setVisible(False)
            t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            t.setWordWrap(True)
            t.setTabKeyNavigation(False)
        # never scrolled sideways: short chip names, months as YYYY-MM, two-line headers
        self.orders_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.econ_table.verticalHeader().setDefaultSectionSize(24)   # its rows in view, the charts kept tall
        # before a plan: the columns it will fill, not a blank box
        self._fill(self.orders_table, *plan_order_table(None))
        self._fill(self.econ_table, *plan_economics_table(None))
        self.econ_caption = QLabel(econ_caption(None))   # the costs' basis, left out of the titles
        self.econ_caption.setWordWrap(True)
        self.econ_caption.setStyleSheet(style.hint_style())   # (a fixed #555 vanished on a dark window)
        self.orders_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        fit_cost_columns(self.econ_table)
        self.orders_caption = QLabel()   # a refused plan's orders say so (_label_refused)
        self.orders_caption.setWordWrap(True)
        self.orders_caption.setStyleSheet(style.error_style() + " font-weight: 600;")   # a dark window's light red
        self.orders_caption.hide()
        return results_page(self)

    def _fill_candidates(self) -> None:
        chips = {c.id: c for c in self.store.chips()}
        try:
            cands = default_candidates(chips)
        except UserError as exc:
            self.banner.show_error(str(exc))
            cands = []
        self._candidates = cands
        if not self.store.models():   # said before Find is pressed, as Training and Inference say it
            self.banner.show_error(NO_MODELS_HINT)
        if not cands:   # an empty table says why and what to do
            self.banner.show_warning(f"No chip to plan with: the catalog holds none of the chips the plan buys "
                                     f"({', '.join(candidate_chip_ids())}) with a price. Add them in the Fleet view "
                                     "(File > Import chips CSV, or the chip catalog).")
        self.cand_table.setRowCount(len(cands))
        for r, c in enumerate(cands):
            use = QTableWidgetItem()
            use.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            use.setCheckState(Qt.CheckState.Checked)
            use.setToolTip(c.note)
            self.cand_table.setItem(r, 0, use)
            name = QTableWidgetItem(chip_name(chips[c.chip_id]))
            name.setFlags(Qt.ItemFlag.ItemIsEnabled)
            name.setToolTip(f"{c.chip_id} ({c.vendor}): {c.note}")
            self.cand_table.setItem(r, 1, name)
            for col, value in ((2, c.unit_price_usd), (3, c.lead_time_months), (4, c.max_per_quarter)):
                item = QTableWidgetItem(_cell_text(value))
                item.setToolTip(CAND_TIPS[col])
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.cand_table.setItem(r, col, item)
        fit_table_width(self.cand_table, 1)   # its chips whole in the font in use ("Asce…" at 12 pt)

    def _candidate_edits(self) -> dict:
        """What the table changes from the default candidates: {chip_id: {"use": False, field: value}}
        (a cell that is not a number is kept as typed, for the study to name)."""
        edits: dict = {}
        for r, c in enumerate(self._candidates):
            edit: dict = {}
            if self.cand_table.item(r, 0).checkState() != Qt.CheckState.Checked:
                edit["use"] = False
            for col, (key, *_rest) in zip((2, 3, 4), CANDIDATE_FIELDS):
                text = ungrouped(self.cand_table.item(r, col).text())   # "1,5" kept as typed, for the study to name
                try:
                    value: object = float(text)
                except ValueError:
                    value = text
                if value != getattr(c, key):
                    edit[key] = value
            if edit:
                edits[c.chip_id] = edit
        return edits

    def _show_candidates(self, edits) -> None:
        for r, c in enumerate(self._candidates):
            edit = edits.get(c.chip_id, {})
            self.cand_table.item(r, 0).setCheckState(Qt.CheckState.Unchecked if edit.get("use", True) is False
                                                     else Qt.CheckState.Checked)
            for col, (key, *_rest) in zip((2, 3, 4), CANDIDATE_FIELDS):
                value = edit.get(key, getattr(c, key))
                self.cand_table.item(r, col).setText(_cell_text(value) if isinstance(value, (int, float)) else str(value))

    def study(self) -> PlanStudy:
        """The PlanStudy the form describes (engine.studies_forecast: its checks, its request)."""
        month = lambda edit: edit.date().toString("yyyy-MM")  # noqa: E731
        exact = self._exact_fields.value
        return PlanStudy(confidence=exact(self.confidence, lambda v: v / 100),
                         from_month=None if self.auto_from.isChecked() else month(self.from_edit),
                         until_month=None if self.auto_until.isChecked() else month(self.until_edit),
                         budget_usd=exact(self.budget, lambda v: v * 1e9) or None,
                         samples=exact(self.samples), candidates=self._candidate_edits())

    def candidates(self) -> tuple[list, list[str]]:
        """(candidates, problems) of the form's study; every bad cell named."""
        study = self.study()
        problems = [p.message for p in study.problems(self._candidates)]
        return study.candidate_list(self._candidates), problems

    # ---- protocol ------------------------------------------------------------------------------
    def charts(self) -> dict[str, PlotPanel]:
        return {"plan_capacity": self.capacity_chart, "plan_prob_meet": self.prob_chart,
                "cost_per_million_served_tokens": self.served_cost_chart,
                "cost_per_million_training_tokens": self.training_cost_chart}

    def export_context(self) -> dict:
        """What the exported plan answers: its target, its trials, and why there is none."""
        r = self.result
        if r is None:
            return {}
        target = f"P(meet demand) >= {pct_text(r.confidence)} from {r.from_month:%Y-%m} to {r.until_month:%Y-%m}"
        return {"Plan": (f"{target}, fitted on {r.samples:,} trials; lowest month on fresh trials "
                         f"{plan_lowest_prob(r):.1%}" if r.feasible else f"no plan for {target}: {r.why}")}

    def chart_export_context(self, chart_key: str) -> dict:
        """The cost charts' files say what they show in one line, not why no plan was found."""
        return cost_chart_context(self.result) if chart_key.startswith("cost_per_million") else self.export_context()

    def tables(self) -> dict:
        if self.result is None:
            return {}
        return {"orders": self.order_rows(), "chip_economics": self.econ_rows()}

    def scenario_state(self) -> dict:
        return self.study().to_dict()

    def apply_scenario_state(self, state: dict) -> None:
        try:
            study = PlanStudy.from_dict(state)
        except UserError as exc:  # saved by a newer Fleetcast: keep the form and say why
            self.banner.show_error(str(exc))
            return
        qmonth = lambda text: QDate.fromString(text, "yyyy-MM")  # noqa: E731
        # kept exactly as saved (the fields round and clamp): a value the fields cannot show is
        # refused by the study's checks, in the CLI's words, not run as another one
        self._exact_fields.clear()
        shown = lambda value, scale, default: value * scale if _finite(value) else default  # noqa: E731
        self._exact_fields.show(self.confidence, study.confidence, shown(study.confidence, 100, 90))
        self.auto_from.setChecked(not study.from_month)
        if study.from_month:
            self.from_edit.setDate(qmonth(study.from_month))
        self.auto_until.setChecked(not study.until_month)
        if study.until_month:
            self.until_edit.setDate(qmonth(study.until_month))
        self._show_horizon_end()
        self._exact_fields.show(self.budget, study.budget_usd, shown(study.budget_usd or 0.0, 1e-9, 0.0))
        self._exact_fields.show(self.samples, study.samples,
                                study.samples if isinstance(study.samples, int) and not isinstance(study.samples, bool)
                                else PLAN_SAMPLES[0])
        self._show_candidates(study.candidates)

    def shutdown(self) -> None:
        self.runner.cancel(emit=False)
        for unfollow in self._unfollow:
            unfollow()

    # ---- running ---------------------------------------------------------------------------------
    def _job(self):
        study = self.study()
        problems = study.problems(self._candidates)
        if not self.store.models():   # one hint, not each stored id "is not a model preset"
            self.banner.show_error(NO_MODELS_HINT)
            return None
        if problems:
            self.banner.show_error("Fix before planning: " + "; ".join(p.message for p in problems))
            return None
        params = self.scenario_provider() if self.scenario_provider is not None else None
        try:
            scenario = scenario_of(params)
        except UserError as exc:
            self.banner.show_error(f"The scenario can't be planned for: {exc}")
            return None
        chips = {c.id: c for c in self.store.chips()}
        request = replace(study.request(self._candidates), chip_names={k: chip_name(c) for k, c in chips.items()})
        job = PlanJob(tuple(self.store.orders()), chips, {m.id: m for m in self.store.models()}, scenario, request,
                      self._cache)
        self._running_key = self._key_of(job)
        return job

    @staticmethod
    def _key_of(job) -> tuple:
        """What a plan depends on (the names messages use for chips aside); "the horizon's end"
        is that month, so unticking it over the month it shows changes nothing."""
        request = replace(job.request, chip_names={},
                          until_month=job.request.until_month or job.scenario.last_month())
        return (_canonical(job.scenario), request, job.orders,
                tuple(sorted(job.chips.items())), tuple(sorted(job.models.items())))

    def _from_toggled(self, auto: bool) -> None:
        self.from_edit.setEnabled(not auto)
        if not auto and self.from_edit.date() == self.from_edit.minimumDate():   # a month to start from
            try:
                start = scenario_of(self.scenario_provider() if self.scenario_provider is not None else None).start
            except UserError:
                start = dt.date.today().replace(day=1)
            self.from_edit.setDate(_qdate(start))

    def _show_horizon_end(self) -> None:
        """While 'the horizon's end' is ticked, the greyed Until shows that month (it showed the
        old fixed 2026-12, or the last scenario's, before a run)."""
        if not self.auto_until.isChecked():
            return
        try:
            scenario = scenario_of(self.scenario_provider() if self.scenario_provider is not None else None)
        except UserError:
            return
        with QSignalBlocker(self.until_edit):
            self.until_edit.setDate(_qdate(scenario.last_month()))

    def _inputs_key_now(self) -> tuple | None:
        """The key of the plan a run would find now; None when the form or scenario can't be planned."""
        study = self.study()
        if study.problems(self._candidates):
            return None
        try:
            scenario = scenario_of(self.scenario_provider() if self.scenario_provider is not None else None)
            request = study.request(self._candidates)
        except UserError:
            return None
        return self._key_of(PlanJob(tuple(self.store.orders()), {c.id: c for c in self.store.chips()},
                                    {m.id: m for m in self.store.models()}, scenario, request))

    def _refill_candidates(self, *_args) -> None:
        """After a store write: the catalog's prices and chips, the table's edits kept."""
        edits = self._candidate_edits()
        with QSignalBlocker(self.cand_table):
            self._fill_candidates()
            self._show_candidates(edits)

    def _on_stack_moved(self, *_args) -> None:
        # every form edit of every view moves the stack: re-reading the store for a hidden Plan on
        # each keystroke is wasted, so a hidden one checks when it is shown (showEvent)
        if self.isVisible():
            self.check_current()

    def check_current(self, *_args) -> bool:
        """Grey the plan on screen when its inputs changed since it was found; True while it is current."""
        self._show_horizon_end()
        if self.result is None:
            return True
        current = self._inputs_key_now() == self._shown_key
        mark_stale([self.tabs], not current)
        self._show_add_state(current)
        note = ("" if current else "<b style='color:#a1260d'>The inputs changed since this plan was found</b> "
                "(this form, the scenario, the fleet or the catalog): find it again; the greyed plan below is "
                "for the previous inputs.<br>")
        self.summary_label.setText(style.box_html(style.SUMMARY_BOX, note + self._summary_html))
        return current

    def _show_add_state(self, current: bool = True) -> None:
        """"Add plan as assumption orders" on for a current plan with orders; greyed, its tooltip says why."""
        enabled, tip = add_orders_state(self.result, current, self.undo_stack is not None)
        self.add_button.setEnabled(enabled)
        self.add_button.setToolTip(tip)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.check_current()

    def run(self) -> int | None:
        job = self._job()
        if job is None:
            return None
        self.scenario, self.planned_candidates = job.scenario, job.request.candidates
        self._started_s = time.perf_counter()   # the whole run's time: result.solve_s is the LP's alone
        return self.runner.start(compute_plan, job)

    def compute_now(self, progress=None, should_stop=None) -> None:
        job = self._job()
        if job is None:
            self.compute_error = self.banner.error_text() or "its inputs are not valid"
            return
        try:
            self._started_s = time.perf_counter()
            done = compute_plan(job, progress=progress, should_stop=should_stop)   # cancelled: the plan shown stays
            self.scenario, self.planned_candidates = job.scenario, job.request.candidates
            self._on_finished(done)
            self.compute_error = None
        except UserError as exc:
            self._on_failed(str(exc))
            self.compute_error = str(exc)   # export and report say so (gui.export_all.not_computed)

    def bad_cells(self) -> list[tuple[int, int, str]]:
        """(row, column, why) of each candidate cell the study refuses (engine.studies_forecast)."""
        from engine.studies_forecast import CANDIDATE_FIELDS

        rows = {c.chip_id: r for r, c in enumerate(self._candidates)}
        columns = {key: col for col, (key, *_rest) in zip((2, 3, 4), CANDIDATE_FIELDS)}   # as the table's
        bad = []
        for problem in self.study().problems(self._candidates):
            keys = problem.field.split(".")   # "candidate.<chip id>.<field>"; a chip id may hold dots
            chip, key = ".".join(keys[1:-1]), keys[-1]
            if keys[0] != "candidate" or chip not in rows or key not in columns:
                continue   # not a cell (no candidate ticked): the view says so, and it saves as shown
            r, c = rows[chip], columns[key]
            why = problem.message
            if "(must" in why:   # "h20-96gb price: 'abc' (must be ...)." -> the text in the cell and the rule
                why = f"'{self.cand_table.item(r, c).text()}' {why[why.index('(must'):].rstrip('.')}"
            bad.append((r, c, why))
        return bad

    def _mark_bad_cells(self, *_) -> None:
        """A refused cell turns red, its tooltip says why, as Help > Quick start promises (QA s37:
        "abc" in Most per quarter showed nothing until the plan was asked for)."""
        table = self.cand_table
        if any(table.item(r, c) is None for r in range(table.rowCount()) for c in range(5)):
            return   # the rows are being filled
        bad = {(r, c): why for r, c, why in self.bad_cells()}
        with QSignalBlocker(self.cand_table):
            for r in range(self.cand_table.rowCount()):
                for c in (2, 3, 4):
                    item = self.cand_table.item(r, c)
                    if item is not None:
                        item.setBackground(BAD_CELL if (r, c) in bad else QBrush())
                        item.setToolTip(bad.get((r, c), CAND_TIPS[c]))

    def _on_cancelled(self) -> None:
        self._running_key = None
        self.progress_bar.setValue(0)
        # (before any plan there is none to keep: QA s37 read "the plan shown before stays" on Esc)
        self.progress_bar.setFormat("Cancelled: the plan shown before stays" if self.result is not None
                                    else "Cancelled: no plan yet")
        self.status_message.emit("Plan search cancelled")

    def _on_failed(self, message: str) -> None:
        self.progress_bar.setFormat("Failed")
        self.banner.show_error(f"The plan could not be computed: {message}")
        self.check_current()   # the plan on screen, if any, is for other inputs

    def _on_finished(self, outcome) -> None:
        result, self._cache = outcome
        self.result = result
        self._shown_key = self._running_key
        self.banner.dismiss_error()
        self.progress_bar.setValue(100)
        took_s = time.perf_counter() - getattr(self, "_started_s", time.perf_counter() - result.solve_s)
        self.progress_bar.setFormat(f"Done in {took_s:.1f} s (solver {result.solve_s:.1f} s)")   # one line at 1280
        self.progress_bar.setToolTip(f"{result.status}; the solver took {result.solve_s:.1f} s of the {took_s:.1f} s run")
        # the status bar follows the run it reports (it still said "Plan search cancelled")
        self.status_message.emit(f"Plan found in {took_s:.1f} s" if result.feasible else f"No plan for these inputs ({took_s:.1f} s)")
        self._show_add_state()
        if self.auto_from.isChecked():  # the greyed From shows the month the plan chose (not an edit)
            with QSignalBlocker(self.from_edit):
                self.from_edit.setDate(_qdate(result.from_month))
        if self.auto_until.isChecked():  # and the greyed Until the horizon's end it held to
            with QSignalBlocker(self.until_edit):
                self.until_edit.setDate(_qdate(result.until_month))
        self._draw(result)
        self.check_current()
        self.result_ready.emit(result)

    # ---- drawing ---------------------------------------------------------------------------------
    def _chip_names(self) -> dict:
        """One name per chip, as every other view shows it ("H20", not "H20 (HGX) 96GB")."""
        return {c.id: chip_name(c) for c in self.store.chips()}

    def _draw(self, r) -> None:
        names = self._chip_names()
        unit = names.get(r.unit_chip_id, r.unit_chip_id)
        for chart in self.charts().values():
            chart.set_notice("")
        x = to_timestamps(r.months)
        c = self.capacity_chart
        c.set_axis_labels(y_label="Capacity, demand", y_unit=f"{unit} chips")
        # A plan that was not kept is not drawn as "the plan": with no orders the capacity is the
        # fleet's own, and orders refused (over budget, short on fresh trials) are named as such.
        which = plan_curve_name(r)
        c.set_title(PLAN_TITLE if r.feasible else REFUSED_TITLE if r.orders else "Capacity vs peak demand (no plan)")
        c.clear_series()
        lo, mid, hi = r.capacity_unit_chips
        c.set_band(f"{which} P10–P90", x, lo, hi, color="#0072B2")
        c.set_series(f"{which} P50", x, mid, color="#0072B2", symbol=None)
        c.set_series("Peak demand P50", x, r.demand_unit_chips, color="#D55E00", symbol=None, dashed=True)
        if r.orders:   # ordered and expected, in unit-chip equivalents (their names and tips say so)
            draw_deliveries(c, r, x, unit, names)
        i0, i1, top = plan_view_window(r)   # the target months, not the whole horizon's demand
        c.plot_item.setYRange(0.0, top, padding=0)
        p = self.prob_chart
        for chart in (c, p):   # both framed alike: P(meet) over 2024-2029 left Mar-Jun 22 px wide at 1280
            chart.plot_item.setXRange(x[i0] - 20 * 86400.0, x[i1] + 20 * 86400.0, padding=0)
        p.clear_series()
        if r.orders:
            p.set_series("With the plan" if r.feasible else "With the refused plan", x, r.prob_meet_demand * 100,
                         color="#009E73", symbol=None)
        p.set_series("Without", x, r.prob_meet_without * 100, color="#7F7F7F", symbol=None, dashed=True)
        p.set_series("Target", to_timestamps([r.from_month, r.until_month]), [r.confidence * 100] * 2,
                     color="#C00000", symbol=None, dashed=True)
        percent_y_range(p)
        econ, heads = list(r.economics), cost_series_names(r)   # the series say the costs' basis, as the table
        labels = [names.get(e.chip_id, e.chip_id).replace(" ", "\n", 1) for e in econ]
        for chart, key, values, colour in (
                (self.served_cost_chart, heads[0], [e.usd_per_million_served_tokens or 0.0 for e in econ], "#0072B2"),
                (self.training_cost_chart, heads[1], [e.usd_per_million_training_tokens or 0.0 for e in econ],
                 "#E69F00")):
            chart.set_grouped(labels, {key: values}, {key: colour})
            if chart.legend is not None:
                chart.legend.setVisible(False)
        self._fill(self.orders_table, *self.order_rows())
        self._fill(self.econ_table, *self.econ_rows())
        self.econ_caption.setText(econ_caption(r))
        self._label_refused(r)
        self.orders_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        if not r.orders:   # an empty table says why, not a blank box
            self.orders_table.setRowCount(1)
            empty = QTableWidgetItem("No plan meets the target: see the summary above" if not r.feasible
                                     else "No new orders are needed for this target")
            empty.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.orders_table.setItem(0, 0, empty)
            self.orders_table.setSpan(0, 0, 1, max(self.orders_table.columnCount(), 1))
        self._summary_html = self._summary(r, unit)
        self.summary_label.setText(style.box_html(style.SUMMARY_BOX, self._summary_html))

    def _summary(self, r, unit: str) -> str:
        names = {**{m.id: m.name for m in self.store.models()}, **self._chip_names()}
        return plan_summary_html(r, unit, names, self.study().samples)

    def _on_summary_link(self, link: str) -> None:
        """'Plan … instead': the target the last result says can be kept, then plan it."""
        r = self.result
        if link != "reachable" or r is None or r.reachable_target is None:
            return
        first, last = r.reachable_target
        self.auto_from.setChecked(False)
        self.auto_until.setChecked(False)
        self.from_edit.setDate(_qdate(first))
        self.until_edit.setDate(_qdate(last))
        self.run()

    def _label_refused(self, r) -> None:
        """A refused plan's orders captioned as such and greyed: only the chart's title said so."""
        caption = refused_caption(r)
        self.orders_caption.setText(caption)
        self.orders_caption.setVisible(bool(caption))
        for i in range(self.orders_table.rowCount() if caption else 0):
            for k in range(self.orders_table.columnCount()):
                if (item := self.orders_table.item(i, k)) is not None:
                    item.setForeground(QColor("#8a8a8a"))
                    item.setToolTip(caption)

    def _fill(self, table: QTableWidget, headers, rows) -> None:
        fill_result_table(table, headers, rows)
        if table is self.econ_table:   # all its rows in view, under titles without the basis
            fit_table_height(table)
        else:   # as wide as its columns need in the font in use ("Ascend 910B2" whole), never sideways
            fit_orders_width(table)

    def order_rows(self) -> tuple[list[str], list[list]]:
        return plan_order_table(self.result, self._chip_names())

    def econ_rows(self) -> tuple[list[str], list[list]]:
        return plan_economics_table(self.result, self._chip_names())

    # ---- into the fleet ----------------------------------------------------------------------------
    def add_as_orders(self) -> int:
        """Every planned order as an assumption order: one transaction and one undo step, all or
        none. Returns how many were added (0 when refused: the banner says why, no step is left)."""
        from gui.commands import AddOrdersCommand, push_command

        if self.result is None or not self.result.orders or self.undo_stack is None or not self.check_current():
            return 0   # a greyed plan was found for other inputs: find it again first
        # the candidates as planned (prices edited in the table included), not the defaults
        rows = plan_order_rows(self.result, self.result.confidence, self.planned_candidates)
        error = push_command(self.undo_stack, AddOrdersCommand(self.store, rows, f"Add plan ({counted(len(rows), 'order')})"))
        if error is not None:
            self.banner.show_error(f"The plan was not added to the Fleet: {error}")
            return 0
        self.banner.dismiss_error()   # (an earlier refusal of the same plan no longer holds)
        self.status_message.emit(f"Added {counted(len(rows), 'planned order')} to the Fleet (Ctrl+Z to undo).")
        return len(rows)
