"""The Training view: a model on a fleet of chips, its figures and four charts.

Edits re-run a single evaluation on the GUI thread (debounced 50 ms; one layout costs about a
millisecond). The layout search behind the heatmap and the scaling curve (a search per chip
type and chip count) run in a worker through LatestRunner: a newer request cancels the older
one, a progress bar and Cancel sit above the charts, and the window never waits for them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from PySide6.QtCore import QDate, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QCheckBox, QDateEdit, QFormLayout, QGridLayout, QLabel,
    QVBoxLayout, QWidget,
)

from engine.errors import UserError
from engine.layout import DIMENSION, data_parallel
from engine.studies import (  # noqa: F401  (heatmap_grid, scaling_counts: re-exported for tests)
    TrainingAnalysis, TrainingStudy, heatmap_grid, run_training_analysis, scaling_counts,
)
from engine.studies import layout_label, training_key_figures, training_top_layouts
from engine.fleet import INSTALL_LAG_DAYS, first_month_all_installed, installed_on
from engine.training import (
    BREAKDOWN_KEYS, MEMORY_KEYS, RECOMPUTE_NAMES, LayoutResult, TrainingInputs,
    estimate_run, evaluate_layout,
)
from gui.panels.base import (
    AnalysisPanel,
    DEFAULT_COMPARE_CHIPS, ChipSetButton, FigureTiles, chip_label, combo, dspin,
    fmt_big, notes_label, section, select_data, short_chip_label, spin,
)
from gui import style
from gui.widgets.category_chart import CategoryBarPanel
from gui.widgets.heatmap import HeatmapPanel
from gui.widgets.plot_panel import PlotPanel

DEFAULTS = TrainingStudy().to_dict()  # the saved state is a TrainingStudy (engine.studies)
# The run's software settings (TrainingInputs fields); defaults are today's common practice.
SOFTWARE_DEFAULTS = {"flash_attention": True, "sequence_parallel": True, "grad_overlap": True,
                     "tp_comm_overlap": False, "dropout": False, "schedule": "1f1b", "cp_kind": "ring"}
SOFTWARE_CHECKS = (  # (field, caption, tooltip)
    ("flash_attention", "Fused attention (FlashAttention)", "Attention kernels that never store the score matrix"),
    ("sequence_parallel", "Sequence parallelism", "Norms and dropout split over the TP group (all-gather + "
                                                  "reduce-scatter instead of all-reduce)"),
    ("grad_overlap", "Overlap gradient reduction", "Data-parallel gradient reduction bucketed under backward"),
    ("tp_comm_overlap", "Overlap TP communication", "TP collectives hidden behind GEMMs (TransformerEngine)"),
    ("dropout", "Dropout", "Dropout layers active (older GPT-style runs)"),
)
CUSTOM_FIELDS = (  # (field, caption, max)
    ("layers", "Layers", 1000), ("hidden", "Hidden size", 65536), ("heads", "Attention heads", 1024),
    ("kv_heads", "KV heads", 1024), ("ffn_hidden", "FFN width", 262144), ("vocab", "Vocabulary", 1_000_000),
    ("moe_experts", "Routed experts", 1024), ("moe_topk", "Experts per token", 64),
    ("moe_ffn_hidden", "Expert FFN width", 65536),
)
SEGMENT_NAMES = {
    "gemm": "GEMMs", "attention": "Attention", "memory_bound": "Mem-bound ops", "recompute": "Recompute",
    "overhead": "Overhead", "tp_comm": "TP comm", "cp_comm": "CP comm", "ep_comm": "EP comm",
    "pp_comm": "PP comm", "bubble": "PP bubble", "dp_comm": "DP comm", "optimizer": "Optimizer",
}
MEMORY_NAMES = {
    "weights": "Weights", "gradients": "Gradients", "optimizer": "Optimizer",
    "activations": "Activations", "logits": "Logits", "buffers": "Buffers", "reserve": "Reserve",
}


def _set_text_if_changed(label, text: str) -> None:
    if label.text() != text:  # a relayout of the form per edit costs more than the evaluation
        label.setText(text)


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


# ---- the panel ------------------------------------------------------------------------------

class TrainingPanel(AnalysisPanel):
    analysis_finished = Signal()  # after the background search + scaling result is drawn
    ANALYSIS_DELAY_MS = 250

    def __init__(self, store, undo_stack: QUndoStack | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo_stack = undo_stack
        self._init_analysis(evaluate=self._evaluate, finished=self._on_analysis, failed=self._on_analysis_failed,
                            cancelled=self._on_analysis_cancelled, run_text="Run search")
        self.result: LayoutResult | None = None
        self.run_estimate = None
        self.inputs: TrainingInputs | None = None
        self.analysis: TrainingAnalysis | None = None
        self._running_key = None
        self._reload_catalog()

        # The search starts once edits settle, after the quick evaluation has been drawn.
        self.analysis_timer = QTimer(self)
        self.analysis_timer.setSingleShot(True)
        self.analysis_timer.setInterval(self.ANALYSIS_DELAY_MS)
        self.analysis_timer.timeout.connect(self.start_analysis)
        self._scaling_drawn = None
        self.heatmap_note = ""

        form = self._build_form()

        self.tiles = FigureTiles([
            ("time", "Time to train (days)", "Wall-clock days for the token budget, failures and checkpoints included"),
            ("throughput", "Throughput (tokens/s)", "Training tokens per second over all chips (per chip below)"),
            ("mfu", "MFU (%)", "Model FLOPs utilisation: useful model FLOPs / dense peak (HFU below counts recompute)"),
            ("memory", "Memory per chip (GB)", "Peak memory per chip against its HBM"),
            ("step", "Step time (s)", "One optimizer step; the largest term is named below"),
            ("chip_hours", "Chip-hours", "Chips x wall-clock hours for the run"),
            ("energy", "Energy (MWh)", "Chip TDP x utilisation 80% x PUE 1.2 over the run"),
            ("cost", "Cost (USD)", "Chip-hours x price (list price amortised over 4 years unless you enter one)"),
            ("goodput", "Goodput (%)", "Useful fraction of wall-clock time after failures, restarts and checkpoints"),
            ("layout", "Layout", "Parallel layout evaluated (searched or as entered)"),
        ], columns=5)
        self.notes = notes_label()
        self.run_bar.run_button.setToolTip("Search layouts and compute the scaling curve again")
        self.run_bar.run_clicked.connect(lambda: self.start_analysis(force=True))
        self.run_bar.cancel_clicked.connect(self.cancel_analysis)

        self.step_chart = CategoryBarPanel("Step-time breakdown", x_label="Layout", y_label="Time per step",
                                           y_unit="s")
        self.memory_chart = CategoryBarPanel("Memory per chip against HBM", x_label="Layout",
                                             y_label="Memory per chip", y_unit="GB")
        self.heatmap = HeatmapPanel("Layout search: best tokens/s per chip",
                                    x_label="TP", x_unit="ways", y_label="PP", y_unit="stages",
                                    value_label="Best throughput", value_unit="tokens/s per chip")
        self.scaling_chart = PlotPanel("Time to train vs chips (best layout per count)",
                                       x_label="Chips", x_unit="chips", y_label="Time to train", y_unit="days")
        if self.scaling_chart.legend is not None:
            self.scaling_chart.legend.setOffset((-10, 10))  # top right: the curves fall to the right
        for chart in self.charts().values():
            chart.status_message.connect(self.status_message)
        grid = QGridLayout()
        grid.setSpacing(8)
        grid.addWidget(self.step_chart, 0, 0)
        grid.addWidget(self.memory_chart, 0, 1)
        grid.addWidget(self.heatmap, 1, 0)
        grid.addWidget(self.scaling_chart, 1, 1)

        self._layout_panel(form, [self.tiles, self.notes, self.run_bar], grid)
        self.apply_scenario_state({})

    # ---- catalog -----------------------------------------------------------------------------
    def _reload_catalog(self) -> None:
        self._chips = {c.id: c for c in self.store.chips()}
        style.register_chips(self._chips.values())
        self._models = {m.id: m for m in self.store.models()}
        self._orders = self.store.orders()

    # ---- form --------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        e = self.errors
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(4, 0, 8, 0)

        column.addWidget(section("Model"))
        form = QFormLayout()
        self.model_combo = combo([(m.name, m.id) for m in sorted(self._models.values(), key=lambda m: m.name)])
        e.add_row(form, "model", "Preset", self.model_combo, "The architecture to train (presets from the store)")
        self.custom_check = QCheckBox("Edit the architecture")
        self.custom_check.setToolTip("Start from the preset and change its shape (a custom model)")
        form.addRow(self.custom_check)
        column.addLayout(form)
        self.custom_box = QWidget()
        custom_form = QFormLayout(self.custom_box)
        custom_form.setContentsMargins(12, 0, 0, 0)
        self.custom_spins = {}
        for name, caption, hi in CUSTOM_FIELDS:
            box = spin(0 if name.startswith("moe") else 1, hi, 1)
            self.custom_spins[name] = box
            e.add_row(custom_form, f"custom_{name}", caption, box,
                      f"{caption} of the custom model ({name}); 0 experts = dense")
        self.custom_box.hide()
        column.addWidget(self.custom_box)

        column.addWidget(section("Fleet"))
        form = QFormLayout()
        self.chip_combo = combo([(chip_label(c), c.id) for c in self._chips.values()])
        e.add_row(form, "chip", "Chip", self.chip_combo, "Chip type the job runs on")
        self.source_combo = combo([("A chip count", "count"), ("The fleet installed on a date", "fleet")])
        e.add_row(form, "source", "Chips from", self.source_combo,
                  "Enter a count, or use every chip of this type installed on a date (Fleet view)")
        self.count_spin = spin(1, 10_000_000, 1024, " chips", step=8)
        e.add_row(form, "num_chips", "Chip count", self.count_spin, "Chips the job uses")
        self.date_edit = QDateEdit(_qdate(dt.date.today()))
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        e.add_row(form, "fleet_date", "Fleet on date", self.date_edit,
                  f"Chips of this type delivered by this date minus {INSTALL_LAG_DAYS:.0f} days to install")
        self.fleet_hint = QLabel("")
        self.fleet_hint.setWordWrap(True)
        self.fleet_hint.setStyleSheet("color: #5f6368; font-size: 8pt;")
        form.addRow(self.fleet_hint)
        column.addLayout(form)

        column.addWidget(section("Run"))
        form = QFormLayout()
        self.tokens_spin = dspin(0.001, 10_000.0, 15.0, 3, " T tokens", step=1.0)
        e.add_row(form, "tokens", "Token budget", self.tokens_spin, "Training tokens, in trillions (15 = 15e12)")
        self.seq_spin = spin(0, 1_048_576, 0, " tokens", special="model default", step=1024)
        e.add_row(form, "seq_len", "Sequence length", self.seq_spin, "Tokens per sequence (0 = the model's default)")
        self.batch_spin = spin(0, 1_048_576, 0, " sequences", special="auto", step=64)
        e.add_row(form, "global_batch", "Global batch", self.batch_spin,
                  "Sequences per optimizer step (auto: about 4M tokens, at least 1K tokens per chip)")
        self.batch_hint = QLabel("")
        self.batch_hint.setWordWrap(True)
        self.batch_hint.setStyleSheet("color: #5f6368; font-size: 8pt;")
        form.addRow(self.batch_hint)
        self.dtype_combo = combo([("BF16", "bf16"), ("FP8 (GEMMs)", "fp8")])
        e.add_row(form, "dtype", "Precision", self.dtype_combo, "Matrix-multiply precision")
        self.price_spin = dspin(0.0, 1000.0, 0.0, 2, " USD/chip-h", special="amortised list price", step=0.25)
        e.add_row(form, "price", "Price", self.price_spin,
                  "USD per chip-hour for the cost (0 = list price amortised over 4 years)")
        column.addLayout(form)

        column.addWidget(section("Layout"))
        form = QFormLayout()
        self.mode_combo = combo([("Search the best layout", "search"), ("Fixed layout", "fixed")])
        e.add_row(form, "layout_mode", "Layout", self.mode_combo,
                  "Search every TP/PP/CP/EP/ZeRO/micro-batch/recompute combination, or enter one")
        column.addLayout(form)
        self.layout_box = QWidget()
        lf = QFormLayout(self.layout_box)
        lf.setContentsMargins(12, 0, 0, 0)
        # Spin boxes from the one layout schema (engine.layout): ranges, captions, units, tips.
        layout_spins = {}
        for key in ("tp", "pp", "cp", "ep", "vpp"):
            d = DIMENSION[key]
            layout_spins[key] = spin(d.low, d.high, DEFAULTS["layout"][key], f" {d.unit}")
            e.add_row(lf, key, d.label, layout_spins[key], d.help)
        self.tp_spin, self.pp_spin, self.cp_spin, self.ep_spin, self.vpp_spin = (
            layout_spins[k] for k in ("tp", "pp", "cp", "ep", "vpp"))
        self.zero_combo = combo([("0 (none)", 0), ("1 (optimizer)", 1), ("2 (+ gradients)", 2), ("3 (+ weights)", 3)])
        e.add_row(lf, "zero", "ZeRO stage", self.zero_combo, "How far optimizer state is sharded over data parallel")
        d = DIMENSION["micro_batch"]
        self.mb_spin = spin(d.low, d.high, 1, f" {d.unit}")
        e.add_row(lf, "micro_batch", d.label, self.mb_spin, d.help)
        self.recompute_combo = combo([(n, n) for n in RECOMPUTE_NAMES])
        e.add_row(lf, "recompute", "Recompute", self.recompute_combo, "Activation recomputation")
        self.dp_label = QLabel("")
        self.dp_label.setStyleSheet("color: #5f6368;")
        lf.addRow("Data parallel DP", self.dp_label)
        self.layout_box.hide()
        column.addWidget(self.layout_box)

        self._build_software(column)

        column.addWidget(section("Scaling curve"))
        self.compare_button = ChipSetButton()
        self.compare_button.setToolTip("Chip types drawn in the time-to-train-vs-chip-count chart")
        column.addWidget(self.compare_button)
        column.addStretch(1)

        for w in [self.count_spin, self.tokens_spin, self.seq_spin, self.batch_spin, self.price_spin,
                  self.tp_spin, self.pp_spin, self.cp_spin, self.ep_spin, self.vpp_spin, self.mb_spin,
                  *self.custom_spins.values()]:
            w.valueChanged.connect(self.schedule)
        for w in (self.chip_combo, self.dtype_combo, self.zero_combo, self.recompute_combo):
            w.currentIndexChanged.connect(self.schedule)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.source_combo.currentIndexChanged.connect(self._on_source_changed)
        self.mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.custom_check.toggled.connect(self._on_custom_toggled)
        self.date_edit.dateChanged.connect(self.schedule)
        self.compare_button.changed.connect(self.schedule)
        return page

    def _build_software(self, column) -> None:
        """The "Software" group: kernel and framework settings the step time depends on."""
        column.addWidget(section("Software"))
        form = QFormLayout()
        self.software_checks = {}
        for name, caption, tip in SOFTWARE_CHECKS:
            box = QCheckBox(caption)
            box.setToolTip(tip)
            box.setChecked(SOFTWARE_DEFAULTS[name])
            box.toggled.connect(self.schedule)
            self.software_checks[name] = box
            form.addRow(box)
        self.schedule_combo = combo([("1F1B (interleaved if VPP > 1)", "1f1b"), ("Zero bubble (ZB-H1)", "zero-bubble"),
                                     ("DualPipe", "dualpipe")])
        self.errors.add_row(form, "schedule", "Pipeline schedule", self.schedule_combo,
                            "How pipeline stages interleave forward and backward work")
        self.cp_kind_combo = combo([("Ring attention", "ring"), ("K/V all-gather (Llama 3)", "allgather")])
        self.errors.add_row(form, "cp_kind", "Context parallel", self.cp_kind_combo,
                            "How context-parallel ranks exchange keys and values")
        for w in (self.schedule_combo, self.cp_kind_combo):
            w.currentIndexChanged.connect(self.schedule)
        column.addLayout(form)

    def software_settings(self) -> dict:
        values = {name: box.isChecked() for name, box in self.software_checks.items()}
        values["schedule"] = self.schedule_combo.currentData()
        values["cp_kind"] = self.cp_kind_combo.currentData()
        return values

    def _apply_software(self, state) -> None:
        values = {**SOFTWARE_DEFAULTS, **(state if isinstance(state, dict) else {})}
        for name, box in self.software_checks.items():
            box.setChecked(bool(values[name]))
        select_data(self.schedule_combo, values["schedule"])
        select_data(self.cp_kind_combo, values["cp_kind"])

    def _on_model_changed(self, *_):
        if not self._loading:
            self._fill_custom_from_preset()
        self.schedule()

    def _fill_custom_from_preset(self) -> None:
        model = self._models.get(self.model_combo.currentData())
        if model is None:
            return
        for name, box in self.custom_spins.items():
            box.blockSignals(True)
            box.setValue(int(getattr(model, name)))
            box.blockSignals(False)

    def _on_custom_toggled(self, on: bool):
        self.custom_box.setVisible(on)
        self.schedule()

    def _on_source_changed(self, *_):
        fleet = self.source_combo.currentData() == "fleet"
        self.count_spin.parentWidget().setEnabled(not fleet)
        self.date_edit.parentWidget().setEnabled(fleet)
        self.schedule()

    def _on_mode_changed(self, *_):
        self.layout_box.setVisible(self.mode_combo.currentData() == "fixed")
        self.schedule()

    # ---- inputs ------------------------------------------------------------------------------
    def installed_on(self, chip_id: str, day: dt.date) -> int:
        return installed_on(self._orders, chip_id, day)

    def current_model(self):
        return self.current_study().model(self._models)

    def current_study(self) -> TrainingStudy:
        return TrainingStudy.from_dict(self.scenario_state())

    def read_inputs(self) -> TrainingInputs | None:
        """The current inputs, or None after showing each problem at its field (the checks are
        the study's, in engine.studies)."""
        e = self.errors
        e.clear()
        study = self.current_study()
        chip = self._chips.get(study.chip_id)
        if study.chips_source == "fleet" and chip is not None:
            day = study.day(self._orders)
            n = study.chips_used(self._orders)
            _set_text_if_changed(self.fleet_hint, f"{n:,} {short_chip_label(chip)} installed on {day.isoformat()} "
                                 f"(delivered by {(day - dt.timedelta(days=INSTALL_LAG_DAYS)).isoformat()}).")
        else:
            _set_text_if_changed(self.fleet_hint, "")
        problems = study.problems(self._chips, self._models, self._orders)
        for problem in problems:
            e.set(problem.field if problem.field in e._labels else "model", problem.message)
        if study.layout_mode == "fixed":
            n = study.chips_used(self._orders)
            values = study.fixed_layout()
            divides = n > 0 and n % (values["tp"] * values["pp"] * values["cp"]) == 0
            _set_text_if_changed(self.dp_label, f"{data_parallel(n, values):,} (chips / (TP × PP × CP))"
                                 if divides else "–")
        if problems:
            return None
        software = self.software_settings()
        if study.layout_mode == "fixed" and software["schedule"] != "1f1b" and study.fixed_layout()["vpp"] > 1:
            e.set("schedule", "Zero-bubble and DualPipe run one chunk per stage: set VPP to 1.")
            return None
        inputs = study.training_inputs(self._chips, self._models, self._orders, software=software)
        batch = inputs.batch_seqs()
        _set_text_if_changed(self.batch_hint, 
            f"{'Auto' if not self.batch_spin.value() else 'Set'}: {batch:,} sequences × {inputs.seq:,} tokens "
            f"= {fmt_big(batch * inputs.seq)} tokens per step"
            + (" (about 4M tokens, at least 1K per chip; rounded to the layout's DP × micro-batch)"
               if not self.batch_spin.value() else ""))
        return inputs

    def _analysis_key(self, inp: TrainingInputs) -> tuple:
        return (inp.model, inp.chip.id, inp.num_chips, inp.seq, inp.batch_seqs(), inp.dtype,
                tuple(self.compare_button.selected()), tuple(sorted(self.software_settings().items())))

    def _compare_chips(self, inp: TrainingInputs) -> tuple:
        ids = self.compare_button.selected()
        return tuple(self._chips[i] for i in ids if i in self._chips)

    # ---- evaluation --------------------------------------------------------------------------
    def _evaluate(self) -> None:
        self.timer.stop()
        inp = self.read_inputs()
        self.inputs = inp
        if inp is None:
            self.show_invalid()
            self.evaluated.emit()
            return
        self.show_valid()
        if self.mode_combo.currentData() == "fixed":
            try:
                self.result = evaluate_layout(inp)
            except UserError as exc:
                self.result = None
                self.banner.show_error(str(exc))
        else:
            a = self.analysis
            fresh = a is not None and a.key == self._analysis_key(inp)
            self.result = a.search.best if fresh else None
        self._draw_figures()
        self._draw_bars()
        self._draw_scaling()
        self.evaluated.emit()
        self.analysis_timer.start()

    def start_analysis(self, force: bool = False) -> None:
        self.analysis_timer.stop()
        inp = self.inputs
        if inp is None:
            return
        key = self._analysis_key(inp)
        if not force and ((self.analysis is not None and self.analysis.key == key) or self._running_key == key):
            return
        self._running_key = key
        counts = scaling_counts(inp.num_chips)
        self.run_bar.set_message(f"Searching layouts for {inp.model.name} on {inp.num_chips:,} × {short_chip_label(inp.chip)}…")
        self.runner.start(run_training_analysis, inp, self._compare_chips(inp), counts, key)

    def cancel_analysis(self) -> None:
        was = self.runner.is_running()
        self.runner.cancel()
        self._running_key = None
        if was:
            self.run_bar.set_message("Cancelled. Charts show the last finished search; press Run search to start again.")
            self.status_message.emit("Layout search cancelled")

    def _on_analysis(self, analysis: TrainingAnalysis) -> None:
        self._running_key = None
        self.analysis = analysis
        s = analysis.search
        self.run_bar.set_progress(1.0)
        if s.best is None:
            reasons = ", ".join(f"{k} ({v:,})" for k, v in s.infeasible_by_reason.items())
            self.run_bar.set_message(f"No layout fits among {s.layouts_evaluated:,}: {reasons}", error=True)
        else:
            self._draw_heatmap()
            self.run_bar.set_message(f"Searched {s.layouts_evaluated:,} layouts ({s.layouts_feasible:,} feasible) "
                                     f"in {s.search_seconds:.2f} s" + (self.heatmap_note or
                                     f"; scaling curve for {len(analysis.scaling_chips)} chip types") + ".")
        self._draw_heatmap()
        if self.inputs is not None and self.mode_combo.currentData() == "search" \
                and analysis.key == self._analysis_key(self.inputs):
            self.result = s.best
            self._draw_figures()
        self._draw_bars()
        self._draw_scaling()
        self.analysis_finished.emit()

    def _on_analysis_failed(self, message: str) -> None:
        self._running_key = None
        self.run_bar.set_message(f"Search failed: {message}", error=True)
        self.status_message.emit(f"Layout search failed: {message}")

    def _on_analysis_cancelled(self) -> None:
        self._running_key = None

    # ---- drawing -----------------------------------------------------------------------------
    def _price(self):
        return self.price_spin.value() or None

    def _estimate(self, tokens_per_s_per_chip: float, n: int, chip):
        if not (tokens_per_s_per_chip > 0) or n <= 0:
            return None
        return estimate_run(self.tokens_spin.value() * 1e12, tokens_per_s_per_chip, n, chip,
                            params=float(self.inputs.model.total_params()),
                            price_per_chip_hour_usd=self._price())

    def _draw_figures(self) -> None:
        t = self.tiles
        r, inp = self.result, self.inputs
        self.run_estimate = None
        if inp is None:
            t.clear()
            self.notes.setText("")
            return
        if r is None:
            waiting = self.mode_combo.currentData() == "search"
            t.clear("…" if waiting else "–")
            self.notes.setText("Searching for the best layout; the figures appear when it finishes."
                               if waiting else "")
            return
        n = inp.num_chips
        t.set("step", f"{r.step_time_s:.2f}", f"largest term: {r.limiting.replace('_', ' ')}")
        t.set("mfu", f"{r.mfu_pct:.1f}", f"HFU {r.hfu_pct:.1f}%, {r.model_tflops_per_chip:.0f} TFLOP/s per chip")
        t.set("memory", f"{r.memory_gb_per_chip:.1f}", f"of {r.memory_capacity_gb:.0f} GB HBM")
        lay = r.layout
        batch = int(lay.get("global_batch_seqs") or inp.batch_seqs())
        t.set("layout", layout_label(lay),
              f"DP{lay['dp']} · batch {batch:,} seq ({fmt_big(batch * inp.seq)} tokens) · ZeRO-{lay['zero_stage']}"
              f" · mb{lay['micro_batch']} · rc {lay['recompute']}")
        if not r.feasible:
            for key in ("time", "throughput", "chip_hours", "energy", "cost", "goodput"):
                t.set(key, "–", "")
            t.set("time", "does not fit", r.reason)
            self.notes.setText(f"This layout is infeasible: {r.reason}. " + " ".join(r.explanations[:-1]))
            return
        t.set("throughput", fmt_big(r.tokens_per_s_per_chip * n), f"{r.tokens_per_s_per_chip:,.0f} per chip")
        est = self._estimate(r.tokens_per_s_per_chip, n, inp.chip)
        self.run_estimate = est
        if est is None:
            return
        t.set("time", f"{est.time_to_train_days:,.1f}", f"{est.steady_days:,.1f} days at steady state")
        t.set("chip_hours", fmt_big(est.chip_hours), f"{n:,} chips")
        t.set("energy", f"{est.energy_mwh:,.0f}", f"{inp.chip.tdp_w or 700:.0f} W per chip")
        if est.cost_usd > 0:
            per = est.cost_usd / est.chip_hours if est.chip_hours else 0
            t.set("cost", fmt_big(est.cost_usd), f"{per:.2f} USD per chip-hour")
        else:
            t.set("cost", "–", "no list price: enter a price")
        t.set("goodput", f"{100 * est.goodput:.1f}",
              f"ckpt every {est.checkpoint_interval_min:.0f} min, {est.expected_interruptions:,.0f} failures")
        notes = list(r.explanations)
        self.notes.setText("Why: " + "; ".join(notes) + "." if notes else "")

    def _bar_layouts(self) -> list[tuple[str, LayoutResult]]:
        out = []
        fixed = self.mode_combo.currentData() == "fixed"
        if fixed and self.result is not None:
            out.append(("Yours\n" + layout_label(self.result.layout), self.result))
        a = self.analysis
        if a is not None and self.inputs is not None and a.key == self._analysis_key(self.inputs):
            for i, r in enumerate(a.search.top[: (3 if fixed else 4)]):
                out.append((f"Best #{i + 1}\n{layout_label(r.layout)}", r))
        elif not fixed and self.result is not None:
            out.append((f"Best #1\n{layout_label(self.result.layout)}", self.result))
        return out

    def _draw_bars(self) -> None:
        bars = self._bar_layouts()
        if not bars:
            self.step_chart.clear_bars()
            self.memory_chart.clear_bars()
            return
        names = [name for name, _ in bars]
        for chart in (self.step_chart, self.memory_chart):
            chart.set_categories(names)
        steps = {}
        for key in BREAKDOWN_KEYS:
            values = [r.breakdown_s.get(key, 0.0) for _, r in bars]
            if any(v > 0 for v in values):
                steps[SEGMENT_NAMES[key]] = values
        self.step_chart.set_stacked(steps)
        memory = {}
        for key in MEMORY_KEYS:
            values = [r.memory_breakdown_gb.get(key, 0.0) for _, r in bars]
            if any(v > 0 for v in values):
                memory[MEMORY_NAMES[key]] = values
        self.memory_chart.set_stacked(memory)
        self.memory_chart.set_reference_line("HBM capacity", bars[0][1].memory_capacity_gb)

    MAX_HEATMAP_ROWS = 12

    def _draw_heatmap(self) -> None:
        a = self.analysis
        if a is None:
            self.heatmap.clear_grid()
            return
        best = a.search.best
        rows = list(range(len(a.grid_pp)))
        self.heatmap_note = ""
        if len(rows) > self.MAX_HEATMAP_ROWS:
            # Many chips have many divisors: show the PP values with the best layouts, in order.
            scored = [(np.nanmax(a.grid_best[j]) if np.isfinite(a.grid_best[j]).any() else -1.0, j) for j in rows]
            keep = sorted(j for _, j in sorted(scored, reverse=True)[: self.MAX_HEATMAP_ROWS])
            self.heatmap_note = f"; heatmap: the {len(keep)} best of {len(rows)} PP values"
            rows = keep
        self.heatmap.set_grid(a.grid_tp, [a.grid_pp[j] for j in rows], a.grid_best[rows], [a.grid_reason[j] for j in rows],
                              counts=a.grid_count[rows],
                              highlight=(best.layout["tp"], best.layout["pp"]) if best else None)

    def _draw_scaling(self) -> None:
        a, inp = self.analysis, self.inputs
        chart = self.scaling_chart
        if a is None or inp is None:
            return
        drawn = (id(a), inp.model, self.tokens_spin.value(), self._price())
        if drawn == self._scaling_drawn:
            return  # nothing it shows has changed (most edits)
        self._scaling_drawn = drawn
        counts = np.array(a.scaling_counts, dtype=float)
        wanted, colors = {}, {}
        for k, chip_id in enumerate(a.scaling_chips):
            chip = self._chips.get(chip_id)
            if chip is None:
                continue
            days = []
            for j, n in enumerate(a.scaling_counts):
                tps = a.scaling_tokens_per_s_per_chip[k, j]
                est = self._estimate(float(tps), int(n), chip) if np.isfinite(tps) else None
                days.append(est.time_to_train_days if est else np.nan)
            wanted[short_chip_label(chip)] = np.array(days)
            colors[short_chip_label(chip)] = (style.chip_color(chip.id), chip.id in style.CHIP_DASHED)
        for name in chart.series_names():
            if name not in wanted:
                chart.remove_series(name)
        for name, days in wanted.items():
            chart.set_series(name, counts, days, color=colors[name][0], dashed=colors[name][1])
        finite = np.concatenate([d[np.isfinite(d)] for d in wanted.values()]) if wanted else np.zeros(0)
        if finite.size:
            chart.plot_item.setYRange(0, float(finite.max()) * 1.1, padding=0)
            chart.plot_item.setXRange(0, float(counts.max()) * 1.03, padding=0)

    # ---- protocol ----------------------------------------------------------------------------
    def export_context(self) -> dict:
        """What this panel's exports show (model and workload, in the units the form uses)."""
        inp = self.inputs
        if inp is None:
            return {"Model": self.model_combo.currentText(), "Workload": "inputs invalid (results out of date)"}
        return {"Model": inp.model.name,
                "Workload": f"{inp.num_chips:,} × {short_chip_label(inp.chip)}, {self.tokens_spin.value():g}T tokens, "
                            f"sequence {inp.seq:,}, global batch {inp.batch_seqs():,} sequences, {inp.dtype.upper()}"}

    def charts(self) -> dict:
        return {"step-time": self.step_chart, "memory": self.memory_chart,
                "layout-search": self.heatmap, "scaling": self.scaling_chart}

    def tables(self) -> dict:
        out = {}
        figures = self.figure_rows()
        out["figures"] = (["Figure", "Value", "Unit"], figures)
        if self.analysis is not None:
            out["top-layouts"] = training_top_layouts(self.analysis.search)
        return out

    def figure_rows(self) -> list[list]:
        return training_key_figures(self.inputs, self.result, self.run_estimate)

    def compute_now(self) -> None:
        """Evaluate the current inputs and run the search + scaling curve synchronously."""
        self.timer.stop()
        self.analysis_timer.stop()
        self.runner.cancel(emit=False)
        self._running_key = None
        self._evaluate()
        self.analysis_timer.stop()
        self.runner.cancel(emit=False)
        self.run_bar.set_busy(False)
        self._running_key = None
        inp = self.inputs
        if inp is None:
            return
        key = self._analysis_key(inp)
        if self.analysis is None or self.analysis.key != key:
            analysis = run_training_analysis(inp, self._compare_chips(inp), scaling_counts(inp.num_chips), key)
            self._on_analysis(analysis)

    def scenario_state(self) -> dict:
        custom = None
        if self.custom_check.isChecked():
            custom = {name: box.value() for name, box in self.custom_spins.items()}
        return {
            "model_id": self.model_combo.currentData(), "custom": custom, "chip_id": self.chip_combo.currentData(),
            "chips_source": self.source_combo.currentData(), "num_chips": self.count_spin.value(),
            "fleet_date": self.date_edit.date().toPython().isoformat(), "tokens_t": self.tokens_spin.value(),
            "seq_len": self.seq_spin.value(), "global_batch": self.batch_spin.value(),
            "dtype": self.dtype_combo.currentData(), "layout_mode": self.mode_combo.currentData(),
            "layout": {"tp": self.tp_spin.value(), "pp": self.pp_spin.value(), "cp": self.cp_spin.value(),
                       "ep": self.ep_spin.value(), "vpp": self.vpp_spin.value(),
                       "zero": self.zero_combo.currentData(), "micro_batch": self.mb_spin.value(),
                       "recompute": self.recompute_combo.currentData()},
            "price_per_chip_hour": self.price_spin.value(),
            "compare_chips": self.compare_button.selected(),
            "software": self.software_settings(),
            "version": DEFAULTS["version"],
        }

    def apply_scenario_state(self, state: dict) -> None:
        try:
            s = TrainingStudy.from_dict(state).to_dict()
        except UserError as exc:  # saved by a newer Fleetcast: show the defaults and say why
            self.banner.show_error(str(exc))
            s = dict(DEFAULTS)
        layout = dict(s["layout"])
        self._loading = True
        try:
            if not select_data(self.model_combo, s["model_id"]) and self.model_combo.count():
                self.model_combo.setCurrentIndex(0)
            self._fill_custom_from_preset()
            custom = s.get("custom") if isinstance(s.get("custom"), dict) else None
            self.custom_check.setChecked(custom is not None)
            self.custom_box.setVisible(custom is not None)
            for name, value in (custom or {}).items():
                if name in self.custom_spins:
                    self.custom_spins[name].setValue(int(value))
            if not select_data(self.chip_combo, s["chip_id"]) and self.chip_combo.count():
                self.chip_combo.setCurrentIndex(0)
            select_data(self.source_combo, s["chips_source"])
            self.count_spin.setValue(int(s["num_chips"]))
            day = None
            try:
                day = dt.date.fromisoformat(s["fleet_date"]) if s.get("fleet_date") else None
            except (TypeError, ValueError):
                day = None
            self.date_edit.setDate(_qdate(day or self._default_fleet_date()))
            self.tokens_spin.setValue(float(s["tokens_t"]))
            self.seq_spin.setValue(int(s["seq_len"] or 0))
            self.batch_spin.setValue(int(s["global_batch"] or 0))
            select_data(self.dtype_combo, s["dtype"])
            select_data(self.mode_combo, s["layout_mode"])
            self.tp_spin.setValue(int(layout["tp"]))
            self.pp_spin.setValue(int(layout["pp"]))
            self.cp_spin.setValue(int(layout["cp"]))
            self.ep_spin.setValue(int(layout["ep"]))
            self.vpp_spin.setValue(int(layout["vpp"]))
            select_data(self.zero_combo, int(layout["zero"]))
            self.mb_spin.setValue(int(layout["micro_batch"]))
            select_data(self.recompute_combo, layout["recompute"])
            self.price_spin.setValue(float(s["price_per_chip_hour"] or 0.0))
            self._apply_software(s.get("software"))
            compare = [c for c in (s.get("compare_chips") or []) if c in self._chips]
            self.compare_button.set_chips(self._chips.values(), compare or
                                          [c for c in DEFAULT_COMPARE_CHIPS if c in self._chips])
        finally:
            self._loading = False
        self._on_source_changed()
        self._on_mode_changed()
        self.schedule()

    def _default_fleet_date(self) -> dt.date:
        return first_month_all_installed(self._orders)

    def shutdown(self) -> None:
        self.analysis_timer.stop()
        super().shutdown()
        self._running_key = None
