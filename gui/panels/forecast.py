"""The Forecast view: supply vs demand under every source of uncertainty, and when jobs finish.

Inputs (uncertainty per vendor / per order, export cut-offs, training share per chip type, the
demand curve, its growth model and how it is served, horizon, trials, seed) are read on the GUI
thread into an immutable `ForecastRequest`; a worker runs `build_inputs` (the inference and
training engines, ~0.5 s), `run_forecast` (the Monte Carlo) and the variance shares. Throughputs
depend only on the orders, the catalog, the served model and SLOs and the jobs, so they are
reused while those stay the same. The form's editors live in forecast_editors.py and
forecast_uncertainty.py, the charts in forecast_charts.py.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget,
)

from engine.errors import UserError
from engine.forecast import (CURVE_KINDS, ForecastInputs, ForecastResult, ForecastScenario,
                             default_scenario, scenario_to_dict)
from engine.hardware import KV_DTYPES, SERVE_DTYPES
from engine.forecast_demand import GROWTH_MODELS
from engine.studies_forecast import (ForecastStudy, forecast_job_table, forecast_monthly_table,
                                     forecast_run_context, note_for_values, DEMAND_NOT_IN_NOTE)
from gui import style
from gui.commands import follow_store_writes
from gui.panels.base import mark_stale
from gui.panels.forecast_allocation import allocation_chips, fill_allocation, serve_on_from
from gui.panels.forecast_charts import WAITING_NOTICE, ForecastCharts
from gui.panels.forecast_figures import key_figure_rows, monthly_file_rows
from gui.panels.forecast_common import (  # noqa: F401  (re-exported: Compare and tests import them here)
    FORECAST_STATE_LABELS, NOT_RUN_PREFIX, STALE_FORECAST_NOTE, FormScrollArea, ForecastOutcome, ForecastRequest,
    compute_forecast, condensed_notes, figure_text, first_shortfall_month, fit_left_axis, key_figures, last_job_start,
    mark_steady_fields, not_run_text, own_run_context, same_inputs, set_visual_tab_order, throughput_key, validation_fields,
)
__all__ = ["ForecastPanel", "ForecastOutcome", "ForecastRequest", "compute_forecast", "figure_text",
           "first_shortfall_month", "fit_left_axis", "key_figures", "throughput_key"]
from gui.panels.forecast_editors import (DemandPointsEditor, attach_growth_multiplier, build_run_box, PolicyEventsEditor,
                                         TrainingJobsEditor, _combo, _pydate, _qdate, _set_combo, _spin)
from gui.panels.forecast_supply import SupplyEditor, assumptions_box, supply_problems
from gui.panels.forecast_tornado import EXPORT_TORNADO_TRIALS, SensitivityRun, compute_tornado
from gui.panels.forecast_uncertainty import UncertaintyEditor
from gui.widgets.exact_fields import ExactFields
from gui.widgets.banner import MessageBanner
from gui.widgets.plot_panel import PlotPanel, format_number
from gui.workers import LatestRunner

DEBOUNCE_MS = 80
# Forecast, Plan and Compare need a model preset for the demand and the jobs: one hint, in the words Training uses
NO_MODELS_HINT = "The forecast needs a model preset (the store has none: add one with `fleetcast models`)."
CURVE_LABELS = {"piecewise": "piecewise (log-linear)", "exponential": "exponential fit",
                "logistic": "logistic (ceiling)"}
GROWTH_LABELS = {"fixed": "fixed rate", "loglinear": "log-linear fit (with its error)",
                 "decaying": "falling growth rate, fitted (saturates)", "user": "my P10/P50/P90"}


class ForecastPanel(QWidget):
    """Monte Carlo forecast of installed chips, serving capacity vs demand, and training jobs."""
    STATE_LABELS = FORECAST_STATE_LABELS   # the undo menu names an edit by these

    @property
    def chip_labels(self) -> dict[str, str]:   # chip id -> the name the form shows (the undo menu's too)
        return self._chip_names

    status_message = Signal(str)
    result_ready = Signal(object)  # ForecastResult, after the charts are drawn
    inputs_rebuilt = Signal()      # input fields were made anew (the per-chip training shares)

    def __init__(self, store, undo_stack: QUndoStack | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo_stack = undo_stack
        self.result: ForecastResult | None = None
        self.inputs: ForecastInputs | None = None
        self._cache: tuple | None = None  # (orders, chips, models, throughput key, inputs)
        self._base: ForecastScenario = default_scenario()
        self._exact_fields = ExactFields()   # loaded values kept exactly while the fields show them
        self._share_spins: dict[str, QDoubleSpinBox] = {}
        self._serve_checks: dict[str, QCheckBox] = {}
        self._loading = False
        self._chip_names: dict[str, str] = {}
        self._model_names: dict[str, str] = {}
        self.model_presets: dict = {}   # {model id: preset}: the request is checked against its context
        self._orders = []

        self.runner = LatestRunner(self).wired(finished=self._on_finished, failed=self._on_failed, progress=self._on_progress,
                                               busy=self._on_busy, cancelled=self._on_cancelled)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run)

        self.banner = MessageBanner()
        form = self._build_form()
        self.view = ForecastCharts(self.chip_name, model_names=lambda: self._model_names)
        self.view.status_message.connect(self.status_message)
        self.view.sensitivity_requested.connect(self.run_sensitivity)
        # progress, Cancel and a busy button under the view's "Compute sensitivity" (forecast_tornado)
        self.sensitivity = SensitivityRun(self.view, self.banner.show_error, self.status_message.emit, self)
        self.sensitivity_runner = self.sensitivity.runner
        # the charts and tables under the names the rest of the app (and tests) use
        for name in ("capacity_chart", "installed_chart", "shortfall_chart", "probability_chart", "jobs_chart",
                     "shares_chart", "jobs_table", "monthly_table", "summary_label", "result_tabs"):
            setattr(self, name, getattr(self.view, name))
        for name in ("target", "specific", "frac_dist", "frac_low", "frac_mode", "frac_high", "frac_of",
                     "delay_dist", "delay_low", "delay_mode", "delay_high"):
            setattr(self, {"target": "unc_target", "specific": "unc_specific"}.get(name, name),
                    getattr(self.unc_editor, name))

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(form)
        split.addWidget(self.view)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([470, 1030])  # room for the jobs table's six columns
        self.splitter = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)

        self._read_store()
        self.apply_scenario_state(scenario_to_dict(self._base))
        if undo_stack is not None:
            self._unfollow_stack = follow_store_writes(undo_stack, store, self._on_store_changed)

    # ---- form --------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        run_box = build_run_box(self)   # horizon, trials, seed, Run / Cancel, progress

        # What the scenario assumes, where the user looks first.
        self.assumptions_label = QLabel()
        self.assumptions_label.setWordWrap(True)
        self.assumptions_label.setTextFormat(Qt.TextFormat.RichText)
        self.assumptions_label.setStyleSheet(style.box_style(style.ASSUMPTIONS_BOX, padding_px=5))   # text too (dark)
        self.assumptions_label.setToolTip("Every figure here is an input: edit the groups below to change it")
        self.unc_editor = UncertaintyEditor()
        self.unc_editor.edited.connect(self._on_unc_edited)
        self.supply_editor = SupplyEditor(self._on_unc_edited)   # as-of date, install lag, failures, life
        self.policy_box = QGroupBox("Export-licence cut-offs")
        self.policy_editor = PolicyEventsEditor()
        self.policy_editor.edited.connect(self._editor_edited)
        QVBoxLayout(self.policy_box).addWidget(self.policy_editor)

        self.alloc_box = QGroupBox("Allocation: training share and serving per chip type")
        self.alloc_form = QFormLayout(self.alloc_box)

        # Demand
        self.curve_kind = _combo([(k, CURVE_LABELS[k]) for k in CURVE_KINDS],
                                 "How tokens/day are interpolated between the data points and extended after them")
        self.growth_model = _combo([(k, GROWTH_LABELS[k]) for k in GROWTH_MODELS],
                                   "How demand grows after the last point, and how uncertain that is")
        self.growth_spin = _spin(0.01, 100, 2, decimals=2, step=0.1, suffix=" ×/year",
                                 tip="Fixed growth of tokens/day after the last data point, per year")
        self.growth_p10 = _spin(0.01, 1000, 1.5, decimals=2, step=0.1, suffix=" ×", tip="Your P10 growth per year")
        self.growth_p50 = _spin(0.01, 1000, 2.0, decimals=2, step=0.1, suffix=" ×", tip="Your P50 growth per year")
        self.growth_p90 = _spin(0.01, 1000, 3.0, decimals=2, step=0.1, suffix=" ×", tip="Your P90 growth per year")
        self.sigma_floor_spin = _spin(0, 5, 0.25, decimals=2, step=0.05,
                                      tip="Least residual error (log units) a fit may claim: a few points on a "
                                          "line say little about the next year")
        self.mix_sigma_spin = _spin(0, 300, 15, decimals=0, step=5, suffix=" %",
                                    tip="Uncertainty of the serving work per token from the request mix "
                                        "(lognormal sigma)")
        self.serving_eff_spin = _spin(0.01, 10, 1, decimals=2, step=0.05, suffix=" ×",
                                      tip="Multiplies every chip's serving throughput from the engines (1 = as "
                                          "computed; 0.8 = a stack that reaches 80% of it). Counted in chips, "
                                          "the demand then needs more chips; the installed chips stay as they are")
        self.training_goodput_spin = _spin(0.01, 10, 1, decimals=2, step=0.05, suffix=" ×",
                                           tip="Multiplies the training chips' throughput from the engine over a "
                                               "whole job: goodput after failures, checkpoints and restarts (the "
                                               "Story assumes 0.9)")
        self.throughput_sigma_spin = _spin(0, 10, 1, decimals=2, step=0.25, suffix=" ×",
                                           tip="Multiplies each chip family's throughput error from validation "
                                               "(resources/throughput_sigma.csv); 0 = take the engines as exact")
        self.ceiling_spin = _spin(0, 1e5, 0, decimals=2, step=10, suffix=" T tokens/day",
                                  tip="The most tokens/day demand can reach (trillions), in every trial after the last point (the demand scale "
                                      "multiplies it). A logistic curve needs one above the largest point; a piecewise one bends toward it")
        self.ceiling_spin.setSpecialValueText("no ceiling")   # 0 read "0 T tokens/day", a ceiling at zero
        self.peak_spin = _spin(1, 20, 1.5, decimals=2, step=0.1, suffix=" ×",
                               tip="Peak over average load: capacity is sized for the peak hour")
        self.scale_spin = _spin(0, 10_000, 1, decimals=2, step=0.1, suffix=" ×",   # (0.01-100 clamped 0, 250: QA s37)
                                tip="Multiplies every demand point (what-if: more or less demand; 0: none)")
        self.input_tokens_spin = _spin(1, 1e6, 1000, decimals=0, step=100, suffix=" tokens",
                                       tip="Input (prompt) tokens per request")
        self.output_tokens_spin = _spin(1, 1e6, 200, decimals=0, step=50, suffix=" tokens",
                                        tip="Output (generated) tokens per request")
        self.prefix_spin = _spin(0, 99, 0, decimals=0, step=5, suffix=" %",
                                 tip="Share of prompt tokens served from the prefix cache (chat turns resend the "
                                     "history): they skip prefill, so each chip serves more")
        self.model_combo = _combo([], "The model that serves the demand")
        self.unit_chip_combo = _combo([], "Capacity and demand are reported in chips of this type")
        self.ttft_spin = _spin(1, 600_000, 2000, decimals=0, step=100, suffix=" ms",
                               tip="Time-to-first-token target: prefill must finish within it")
        self.tpot_spin = _spin(1, 10_000, 50, decimals=0, step=5, suffix=" ms",
                               tip="Time-per-output-token target: each decode step must finish within it")
        self.pct_combo = _combo((("p90", "90% of requests (p90)"), ("p99", "99% of requests (p99)"),
                                 ("p50", "half of requests (p50)")),
                                "The share of requests whose TTFT and TPOT must meet the targets under simulated "
                                "Poisson load (replicas running over 512 sequences keep the steady-state figure)")
        self.spread_spin = _spin(0, 10, 0, decimals=2, step=0.1,
                                 tip="How much prompt and output lengths vary around the means above in the "
                                     "simulated SLO load, as a coefficient of variation: 0 = every request the "
                                     "mean length; chat traffic runs near 1 (the Inference view's default is 0.5)")
        self.weight_dtype = _combo(SERVE_DTYPES, "Weight precision when serving (8-/4-bit run weight-only on chips "
                                                 "without that matrix rate)")
        self.kv_dtype = _combo(KV_DTYPES, "KV-cache precision when serving")
        self.points_editor = DemandPointsEditor()
        self.points_editor.edited.connect(self._on_points_edited)
        demand_box = QGroupBox("Demand and serving")
        demand_form = self._demand_form = QFormLayout(demand_box)
        points_caption = QLabel("<b>Demand points</b> (tokens/day; double-click a cell to edit)")
        points_caption.setToolTip("The curve below runs through these points")
        demand_form.addRow(points_caption)
        demand_form.addRow(self.points_editor)
        demand_form.addRow("Curve", self.curve_kind)
        demand_form.addRow("Growth after data", self.growth_model)
        demand_form.addRow("Fixed growth", self.growth_spin)
        user_row = QHBoxLayout()
        for w in (self.growth_p10, self.growth_p50, self.growth_p90):
            w.setMinimumWidth(50)
            user_row.addWidget(w)
        demand_form.addRow("P10/P50/P90", user_row)
        for label, field in (("Fit error floor", self.sigma_floor_spin), ("Ceiling", self.ceiling_spin),
                             ("Mix uncertainty", self.mix_sigma_spin), ("Throughput error", self.throughput_sigma_spin),
                             ("Serving efficiency", self.serving_eff_spin), ("Peak / average", self.peak_spin),
                             ("Demand scale", self.scale_spin), ("Input per request", self.input_tokens_spin),
                             ("Output per request", self.output_tokens_spin), ("Prefix-cache hits", self.prefix_spin),
                             ("Serving model", self.model_combo), ("Report in chips of", self.unit_chip_combo),
                             ("TTFT target", self.ttft_spin), ("TPOT target", self.tpot_spin),
                             ("Targets hold for", self.pct_combo), ("Length spread (CV)", self.spread_spin)):
            demand_form.addRow(label, field)
        dtype_row = QHBoxLayout()
        dtype_row.addWidget(QLabel("weights"))
        dtype_row.addWidget(self.weight_dtype, 1)
        dtype_row.addWidget(QLabel("KV"))
        dtype_row.addWidget(self.kv_dtype, 1)
        demand_form.addRow("Precision", dtype_row)
        attach_growth_multiplier(self)   # the demand growth what-if, under "Fit error floor" (forecast_editors)
        self.jobs_box = QGroupBox("Training jobs (run one after another per chip type)")
        self.jobs_editor = TrainingJobsEditor()
        self.jobs_editor.edited.connect(self._editor_edited)
        jobs_layout = QVBoxLayout(self.jobs_box)
        jobs_layout.addWidget(self.jobs_editor)
        goodput_form = QFormLayout()
        goodput_form.addRow("Training efficiency", self.training_goodput_spin)
        jobs_layout.addLayout(goodput_form)

        self.validation_label = QLabel()
        self.validation_label.setWordWrap(True)
        self.validation_label.setStyleSheet(style.error_style())   # reads on a dark window too
        self.validation_label.hide()

        for w in (self.growth_p10, self.growth_p50, self.growth_p90, self.sigma_floor_spin, self.mix_sigma_spin,
                  self.throughput_sigma_spin, self.serving_eff_spin, self.training_goodput_spin):
            w.valueChanged.connect(self.schedule)
        self.growth_model.currentIndexChanged.connect(self._enable_growth_fields)
        for w in (self.months_spin, self.trials_spin, self.seed_spin, self.growth_spin, self.ceiling_spin,
                  self.peak_spin, self.scale_spin, self.input_tokens_spin, self.output_tokens_spin,
                  self.prefix_spin, self.ttft_spin, self.tpot_spin, self.spread_spin):
            w.valueChanged.connect(self.schedule)
        for w in (self.curve_kind, self.growth_model, self.model_combo, self.unit_chip_combo, self.weight_dtype, self.kv_dtype,
                  self.pct_combo):
            w.currentIndexChanged.connect(self.schedule)
        self.start_edit.dateChanged.connect(self.schedule)

        column = self.form_column = QWidget()   # its Tab order is set after each rebuild
        v = QVBoxLayout(column)
        v.setContentsMargins(0, 0, 6, 0)
        for w in (self.assumptions_label, run_box, self.validation_label, self.supply_editor, self.unc_editor, self.policy_box,
                  self.alloc_box, demand_box, self.jobs_box):
            v.addWidget(w)
        v.addStretch(1)
        return FormScrollArea(column)   # the divider stops at the form's own minimum width

    def export_context(self) -> dict:
        """The Monte Carlo run behind the exports (trials, seed: how to get the numbers again)."""
        if getattr(self, "result", None) is None:
            return {}
        shown = self._shown_for()
        context = forecast_run_context(self.result, shown.scenario.name if shown is not None else None)
        if shown is not None and not self.check_current():
            context["Note"] = "the inputs changed after this forecast ran: these figures are for the previous inputs"
            if shown.scenario.name:   # the scenario the figures ran from, not the one now on screen
                context = {"Scenario": shown.scenario.name, **context}
        return context

    def chart_export_context(self, chart_key: str) -> dict:   # the tornado and shares made their own runs
        return own_run_context(chart_key, self.export_context(), self.view.tornado, self.view.shares,
                               self.view.completion_base)

    def charts(self) -> dict[str, PlotPanel]:
        return self.view.charts()

    def tables(self) -> dict[str, tuple[list[str], list[list]]]:
        if self.result is None:
            return {}
        table = forecast_monthly_table(self.result, self._chip_names)  # the table `fleetcast forecast` prints, as its CSV
        return {"monthly": (table.headers(), monthly_file_rows(table)), "jobs": forecast_job_table(self.result, self._chip_names, self._model_names),
                "key_figures": self.key_figure_rows()}

    def compute_now(self, progress=None, should_stop=None) -> None:
        """Run the forecast synchronously with the current inputs and draw it (export, tests)."""
        self._debounce.stop()
        self.runner.cancel(emit=False)
        self._on_busy(False)
        request, self.compute_error = self._request(), None   # what export and report say (gui.export_all)
        try:
            outcome = compute_forecast(request, progress=progress, should_stop=should_stop) if request is not None else None
        except UserError as exc:
            self._on_failed(str(exc))
            outcome, self.compute_error = None, str(exc)
        if outcome is None:   # refused by the form: its problems say why (a request past the model's context)
            why = "; ".join(getattr(self, "_problems", [])) if self._model_names else ""
            self.compute_error = self.compute_error or why or self.banner.error_text() or "its inputs are not valid"
            return
        self._show(outcome)
        if self.view.tornado is None:  # exports carry the tornado too (500 trials a run, ~1 s)
            self.view.draw_tornado(compute_tornado(outcome.inputs, self._sensitivity_month(), self._chip_names,
                                                   trials=EXPORT_TORNADO_TRIALS, should_stop=should_stop),
                                   last_job_start(outcome.inputs))
            req = outcome.request
            self.sensitivity.drawn_for = (req.scenario, req.orders, req.chips.values(), req.models.values())

    def _sensitivity_month(self) -> dt.date:
        from engine.forecast_sensitivity import sensitivity_month

        return sensitivity_month(self.result, self.scenario())

    def scenario_state(self) -> dict:
        return ForecastStudy(self.scenario()).to_dict()

    def apply_scenario_state(self, state: dict) -> None:
        """Show a saved scenario's inputs (its ForecastStudy; "ui" and unknown keys ignored)."""
        study, why = ForecastStudy.to_show(state)
        # inputs the form cannot show: a Save keeps them until the form is edited (gui.app)
        self.unloaded_state = None if study else (copy.deepcopy(state), self.scenario_state())
        if study is None:
            self.banner.show_error(f"{why} The saved forecast inputs are kept unless you edit this form.")
            return
        self._load(study.scenario)
        self.schedule()

    def shutdown(self) -> None:
        self._debounce.stop()
        self.runner.cancel(emit=False)
        self.sensitivity.cancel(emit=False)
        if self.undo_stack is not None:
            self._unfollow_stack()

    # ---- reading the store and the form -------------------------------------------------------
    def _read_store(self) -> None:
        chip_rows = self.store.chip_rows()
        chips = self.store.chips()
        style.register_chips(chips)
        self._chip_names = {c.id: style.chip_display_name(c) for c in chips}
        self._makers = {r["id"]: r.get("vendor") or "" for r in chip_rows}
        self._orders = self.store.orders()
        models = self.store.models()
        self._model_names = {m.id: (getattr(m, "name", "") or m.id).split(" (")[0] for m in models}
        self.model_presets = {m.id: m for m in models}
        self._loading = True
        try:
            for box, items in ((self.model_combo, [(m.id, m.name if getattr(m, "name", "") else m.id) for m in models]),
                               (self.unit_chip_combo, [(r["id"], self._chip_names[r["id"]]) for r in chip_rows])):
                current = box.currentData()
                box.clear()
                for data, text in items:
                    box.addItem(text, data)
                if current is not None:
                    _set_combo(box, current)
        finally:
            self._loading = False
        fleet = list(dict.fromkeys(o.chip_id for o in self._orders))
        chip_items = sorted(((r["id"], str(r.get("name") or r["id"])) for r in chip_rows),
                            key=lambda item: (item[0] not in fleet, item[1].lower()))
        self.policy_editor.set_choices([(cid, self._chip_names.get(cid, cid)) for cid, _ in chip_items])
        self.jobs_editor.set_choices([(m.id, (getattr(m, "name", "") or m.id).split(" (")[0]) for m in models],
                                     [(cid, self._chip_names.get(cid, cid)) for cid, _ in chip_items])
        if not self._orders:
            self.banner.show_info("No orders yet: the forecast shows demand against no installed chips; add orders in the Fleet view.")
        elif self.banner.kind == "info":
            self.banner.dismiss()

    def chip_name(self, chip_id: str) -> str:
        return self._chip_names.get(chip_id, chip_id)

    def _load(self, sc: ForecastScenario) -> None:
        """Put a scenario's values into the widgets without triggering runs."""
        self._loading = True
        try:
            self._base = sc
            self._exact_fields.clear()
            self.start_edit.setDate(_qdate(sc.start))
            for field, value in ((self.months_spin, sc.months), (self.trials_spin, sc.trials), (self.seed_spin, sc.seed)):
                self._exact_fields.show(field, value)
            d = sc.demand
            _set_combo(self.curve_kind, d.kind)
            self._exact_fields.show(self.growth_spin, d.growth_after_last_per_year)
            _set_combo(self.growth_model, d.growth_model)
            for field, value in zip((self.growth_p10, self.growth_p50, self.growth_p90),
                                    (d.growth_p10_per_year, d.growth_p50_per_year, d.growth_p90_per_year)):
                self._exact_fields.show(field, value)
            self._exact_fields.show(self.sigma_floor_spin, d.growth_sigma_floor)
            self._exact_fields.show(self.mix_sigma_spin, d.request_mix_sigma, d.request_mix_sigma * 100)
            self._exact_fields.show(self.throughput_sigma_spin, sc.throughput_sigma_scale)
            self._exact_fields.show(self.serving_eff_spin, sc.serving_efficiency_scale)
            self._exact_fields.show(self.training_goodput_spin, sc.training_efficiency_scale)
            self._enable_growth_fields()
            self._exact_fields.show(self.ceiling_spin, d.ceiling_tokens_per_day or 0.0, (d.ceiling_tokens_per_day or 0.0) / 1e12)
            self._exact_fields.show(self.peak_spin, d.peak_to_average)
            self._exact_fields.show(self.scale_spin, d.scale)
            self._exact_fields.show(self.input_tokens_spin, d.input_tokens_per_request)
            self._exact_fields.show(self.output_tokens_spin, d.output_tokens_per_request)
            self._exact_fields.show(self.prefix_spin, d.prefix_cache_hit, d.prefix_cache_hit * 100)
            _set_combo(self.model_combo, d.model_id)
            _set_combo(self.unit_chip_combo, d.chip_id or (self._orders[0].chip_id if self._orders else ""))
            for field, value in ((self.ttft_spin, d.ttft_ms), (self.tpot_spin, d.tpot_ms)):
                self._exact_fields.show(field, value)
            _set_combo(self.pct_combo, d.slo_percentile)
            self._exact_fields.show(self.spread_spin, d.length_spread)
            _set_combo(self.weight_dtype, d.weight_dtype)
            _set_combo(self.kv_dtype, d.kv_dtype)
            self.points_editor.set_values(sorted(d.points, key=lambda p: p.date))
            self.points_editor.table.setToolTip(d.note)
            self._describe_points()
            self.unc_editor.load(sc, self._orders, self.chip_name, self._makers)
            self.supply_editor.load(sc, self._orders)
            self.policy_editor.set_values(sc.policy_events)
            self.assumptions_label.setText(assumptions_box(sc, self.chip_name, self._orders))
            self._rebuild_allocation(sc)
            self._exact_fields.keep_each({spin: sc.allocation.training_share.get(c) for c, spin in self._share_spins.items()})
            self.jobs_editor.set_values(sc.jobs)
        finally:
            self._loading = False
        self.inputs_rebuilt.emit()   # the per-chip share fields are new: the undo watcher listens to them

    def _enable_growth_fields(self, *_):
        model = self.growth_model.currentData()
        piecewise = self.curve_kind.currentData() == "piecewise"
        self.growth_model.setEnabled(piecewise)
        self.growth_spin.setEnabled(piecewise and model == "fixed")
        for w in (self.growth_p10, self.growth_p50, self.growth_p90):
            w.setEnabled(piecewise and model == "user")
        self.sigma_floor_spin.setEnabled(piecewise and model in ("loglinear", "decaying"))

    def _on_unc_edited(self) -> None:
        self.schedule()

    def _rebuild_allocation(self, sc: ForecastScenario) -> None:
        chips = allocation_chips(sc, [o.chip_id for o in self._orders])
        self._share_spins, self._serve_checks = fill_allocation(self.alloc_form, sc, chips, self.chip_name,
                                                                self.schedule)
        set_visual_tab_order(self.form_column)   # the new rows: in their place on screen, not after the charts

    def _describe_points(self) -> None:
        points = self.points_editor.points()
        label = self.points_editor.summary_label
        if points:
            first, last = points[0], points[-1]
            label.setText(f"{len(points)} points, {first.date:%b %Y} – {last.date:%b %Y}")
            label.setToolTip(f"{format_number(first.tokens_per_day / 1e9)} to "
                             f"{format_number(last.tokens_per_day / 1e9)} billion tokens/day; the curve runs "
                             "through them and grows as set below after the last")
        else:
            label.setText("No points: demand is zero")
            label.setToolTip("Add a row to give the demand a level")

    def _on_points_edited(self) -> None:
        self._describe_points()
        self._editor_edited()

    def _editor_edited(self) -> None:
        if self.validation_label.isVisibleTo(self):  # a fixed cell clears the stale message now
            self._validate(self.scenario())
        self.schedule()

    def scenario(self) -> ForecastScenario:
        """The scenario the form describes (fields the form doesn't show come from the loaded one)."""
        b = self._base
        ceiling = self._exact_fields.value(self.ceiling_spin, lambda v: v * 1e12)
        demand = replace(
            b.demand, kind=self.curve_kind.currentData(), growth_after_last_per_year=self._exact_fields.value(self.growth_spin),
            ceiling_tokens_per_day=ceiling if ceiling > 0 else None, peak_to_average=self._exact_fields.value(self.peak_spin),
            growth_model=self.growth_model.currentData(), growth_p10_per_year=self._exact_fields.value(self.growth_p10),
            growth_p50_per_year=self._exact_fields.value(self.growth_p50), growth_p90_per_year=self._exact_fields.value(self.growth_p90),
            growth_sigma_floor=self._exact_fields.value(self.sigma_floor_spin), request_mix_sigma=self._exact_fields.value(self.mix_sigma_spin, lambda v: v / 100),
            scale=self._exact_fields.value(self.scale_spin), input_tokens_per_request=self._exact_fields.value(self.input_tokens_spin),
            output_tokens_per_request=self._exact_fields.value(self.output_tokens_spin),
            prefix_cache_hit=self._exact_fields.value(self.prefix_spin, lambda v: v / 100),
            model_id=self.model_combo.currentData() or b.demand.model_id,
            chip_id=self.unit_chip_combo.currentData() or b.demand.chip_id,
            ttft_ms=self._exact_fields.value(self.ttft_spin), tpot_ms=self._exact_fields.value(self.tpot_spin),
            slo_percentile=self.pct_combo.currentData() or "p90", length_spread=self._exact_fields.value(self.spread_spin),
            weight_dtype=self.weight_dtype.currentData(), kv_dtype=self.kv_dtype.currentData(),
            serve_on=serve_on_from(self._serve_checks, tuple(b.demand.serve_on)))
        shares = dict(b.allocation.training_share)
        for chip, spin in self._share_spins.items():
            # a chip the scenario gives no share of its own shows the default; left at it, it stays
            # unset, or a what-if saved with it pinned that share and stopped following its baseline
            value = self._exact_fields.value(spin, lambda v: v / 100)
            if value is not None and (chip in b.allocation.training_share or value != b.allocation.default_training_share):
                shares[chip] = value
        demand = note_for_values(b.demand, replace(demand, points=self.points_editor.points()), DEMAND_NOT_IN_NOTE)
        jobs = self.jobs_editor.jobs()
        default, vendors, orders = self.unc_editor.values()
        return replace(
            b, start=_pydate(self.start_edit.date()).replace(day=1), months=self._exact_fields.value(self.months_spin),
            trials=self._exact_fields.value(self.trials_spin), seed=self._exact_fields.value(self.seed_spin),
            default_uncertainty=default, vendor_uncertainty=vendors, order_uncertainty=orders,
            policy_events=self.policy_editor.events(), throughput_sigma_scale=self._exact_fields.value(self.throughput_sigma_spin),
            serving_efficiency_scale=self._exact_fields.value(self.serving_eff_spin),
            training_efficiency_scale=self._exact_fields.value(self.training_goodput_spin), **self.supply_editor.values(),
            demand=demand, allocation=replace(b.allocation, training_share=shares), jobs=jobs)

    def set_scenario_name(self, name: str) -> None:
        self._base = replace(self._base, name=name)

    # ---- running -------------------------------------------------------------------------------
    def schedule(self, *_):
        """Re-run shortly after an edit (debounced), when 'Update as I edit' is on; otherwise grey
        the result on screen if it no longer matches the inputs."""
        if self._loading:
            return
        self.assumptions_label.setText(assumptions_box(self.scenario(), self.chip_name, self._orders))
        if self.auto_check.isChecked():
            self._debounce.start()
        else:
            self.check_current()
            if self.progress_bar.format().startswith(NOT_RUN_PREFIX) and self._validate(self.scenario()):
                self._say_not_run()   # fixed: the bar no longer asks for it

    def _shown_for(self) -> ForecastRequest | None:
        return getattr(self, "_shown_request", None)

    def check_current(self, *_args) -> bool:
        """Grey the forecast on screen when its inputs changed since it ran (with the update off, a
        switch of scenario left the old charts looking current, and Export named the new one)."""
        shown = self._shown_for()
        if shown is None or self.result is None:
            return True
        current = same_inputs(shown, self.scenario(), self._orders, self.store.chips(), self.store.models())
        mark_stale([self.view.result_tabs], not current)
        self.summary_label.setText(("" if current else STALE_FORECAST_NOTE) + self.view.summary_html())
        if not current and not self.runner.is_running():   # not a full "done" bar over old figures
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Out of date: Run forecast to update")
        return current

    def _validate(self, sc: ForecastScenario) -> bool:
        # The editors keep their last good rows; while a cell is bad nothing runs.
        problems = [f"Demand points: {e}" for e in self.points_editor.errors()]
        problems += [f"Training jobs: {e}" for e in self.jobs_editor.errors()]
        problems += [f"Cut-offs: {e}" for e in self.policy_editor.errors()]
        # the engine's checks and words; with the presets, a request longer than the model's context too
        study_problems = supply_problems(ForecastStudy(sc).problems(self.model_presets), sc)
        problems += [p.message for p in study_problems]
        fields = validation_fields(self)
        flagged = set()
        for problem in study_problems:
            flagged.update(fields.get(problem.field, ()))
        for widgets in fields.values():
            for w in widgets:
                w.setStyleSheet("border: 1px solid #c0392b;" if w in flagged else "")
        self._problems = problems
        self.view.show_not_run(not_run_text(problems)[0][len(NOT_RUN_PREFIX):])   # the waiting charts say it too
        if problems:
            self.validation_label.setText("Fix before running: " + "; ".join(problems))
            self.validation_label.show()
            return False
        self.validation_label.hide()
        return True

    def _say_not_run(self) -> None:
        """The bar says why nothing runs (it stayed at a cancelled run's "Estimating … 2%"); once
        fixed, that the form may run again (or that the result shown is out of date)."""
        text, tip = not_run_text(getattr(self, "_problems", []), not self._model_names)
        stale = self.result is not None and not self.check_current()
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(text or ("Out of date: Run forecast to update" if stale else "Ready: press Run forecast"))
        self.progress_bar.setToolTip(tip)

    def _models_missing(self) -> bool:
        """No model preset stored: one hint, on the banner and the empty charts (not each id "is not a preset")."""
        missing = not self._model_names
        if missing:
            self.banner.show_error(NO_MODELS_HINT)
        elif self.banner.error_text() == NO_MODELS_HINT:
            self.banner.dismiss()
        for chart in self.view.charts().values():
            if chart.notice() in (WAITING_NOTICE, NO_MODELS_HINT):
                chart.set_notice(NO_MODELS_HINT if missing else WAITING_NOTICE)
        return missing

    def _request(self) -> ForecastRequest | None:
        if self._models_missing():
            return None
        sc = self.scenario()
        if not self._validate(sc):
            return None
        orders = tuple(self._orders)
        chips = {c.id: c for c in self.store.chips()}
        models = {m.id: m for m in self.store.models()}
        cached = None
        key = throughput_key(sc)
        if self._cache is not None:
            c_orders, c_chips, c_models, c_key, c_inputs = self._cache
            if c_key == key and c_orders == orders and c_chips == chips and c_models == models:
                cached = c_inputs
        return ForecastRequest(orders, chips, models, sc, cached)

    def run(self) -> int | None:
        """Start the forecast in a worker (the latest run wins). Returns its generation."""
        self._debounce.stop()
        request = self._request()
        if request is None:
            self.runner.cancel(emit=False)  # a run of older inputs would only show what no longer holds
            self._on_busy(False)
            self._say_not_run()             # and the result on screen, if any, is for other inputs
            return None
        return self.runner.start(compute_forecast, request)

    def cancel(self) -> None:
        self._debounce.stop()
        self.runner.cancel()

    def is_running(self) -> bool:
        return self.runner.is_running()

    def _on_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        if busy:
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Starting…")
            self.progress_bar.setToolTip("")   # (a "Not run" bar's problems)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(round(fraction * 100)))
        self.progress_bar.setFormat(f"{message} %p%" if message else "%p%")

    def _on_cancelled(self) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Cancelled" + (" — showing the previous result" if self.result else ""))
        self.status_message.emit("Forecast cancelled" + ("; the previous result is still shown." if self.result else "."))

    def _on_failed(self, message: str) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Failed")
        self.banner.show_error(f"The forecast could not run: {message}")
        self.status_message.emit(f"Forecast failed: {message}")

    def _on_finished(self, outcome: ForecastOutcome) -> None:
        self._show(outcome)

    def run_sensitivity(self) -> int | None:
        """The tornado in a worker (about 15 runs of 1,000 trials)."""
        if self.inputs is None:
            self.banner.show_info("Run the forecast first; the sensitivity re-uses its throughputs.")
            return None
        inputs = replace(self.inputs, scenario=self.scenario())
        # its completion's base counts from the last job's start; progress, Cancel: forecast_tornado
        key = (inputs.scenario, tuple(self._orders), self.store.chips(), self.store.models())   # as same_inputs takes them
        return self.sensitivity.start(inputs, self._sensitivity_month(), self._chip_names, last_job_start(inputs), key)

    def _on_store_changed(self, *_):
        self._read_store()
        self._cache = None  # orders or chips may have changed
        sc = self.scenario()
        self._load(sc)
        self.schedule()

    # ---- drawing -------------------------------------------------------------------------------
    def _show(self, outcome: ForecastOutcome) -> None:
        self.inputs, self.result = outcome.inputs, outcome.result
        req = self._shown_request = outcome.request
        self._cache = (req.orders, req.chips, req.models, throughput_key(req.scenario), outcome.inputs)
        self.banner.dismiss_error()
        r = outcome.result
        mark_steady_fields(self._demand_form, outcome.inputs.notes)   # fields the steady basis leaves unused
        self.view.draw(replace(r, notes=condensed_notes(r, outcome.inputs, req.chips)))   # folded as the CLI's
        self.view.draw_shares(outcome.shares)
        if any(key is not None and not same_inputs(req, *key) for key in (self.sensitivity.drawn_for,
                                                                          self.sensitivity.running_for)):
            self.sensitivity.forget()   # a tornado of other inputs: stayed, and was exported as this one's
        self.progress_bar.setValue(100)
        self.progress_bar.setFormat(f"Done: {r.trials:,} trials in {outcome.seconds:.2f} s")
        self.status_message.emit(f"Forecast: {r.trials:,} trials × {len(r.months)} months in "
                                 f"{outcome.seconds * 1000:.0f} ms")
        self.result_ready.emit(r)
        self.check_current()   # inputs edited while it ran: greyed at once

    def key_figure_rows(self) -> tuple[list[str], list[list]]:   # rounded as `forecast --format json` (QA s28)
        return key_figure_rows(self.result, self._chip_names)

