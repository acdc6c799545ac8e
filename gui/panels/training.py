"""The Training view: a model on a fleet of chips, its figures and four charts.

Edits re-run a single evaluation on the GUI thread (debounced 50 ms; one layout costs about a
millisecond). The layout search behind the heatmap and the scaling curve (a search per chip
type and chip count) run in a worker through LatestRunner: a newer request cancels the older
one, a progress bar and Cancel sit above the charts, and the window never waits for them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QLabel

from engine.commands.train import interruptions_text
from engine.errors import UserError
from engine.layout import PRODUCT_NAME, data_parallel, dtype_problem
from engine.studies import (  # noqa: F401  (heatmap_grid, scaling_counts: re-exported for tests)
    TrainingAnalysis, TrainingStudy, heatmap_grid, run_layout_analysis, run_scaling_curve, run_training_analysis,
    scaling_counts,
)
from engine.studies import (
    batch_note, batch_note_pending, finishing_count_text, fleet_note, infeasible_detail, layout_label, scaling_days,
    software_text, sooner_on_fewer_text,
    train_command, training_key_figures, training_top_layouts, under_one_step_note, zero_note,
)
from engine.reliability import duration_text
from engine.training import BREAKDOWN_KEYS, MEMORY_KEYS, LayoutResult, TrainingInputs, evaluate_layout, sooner_on_fewer
from gui import style
from gui.panels.base import AnalysisPanel, FigureTiles, counted, fmt, fmt_big, mark_stale, notes_label, short_chip_label
from gui.panels.chart_grid import ChartGrid
from gui.panels.small_screen import layout_form_and_results
from gui.panels.training_form import CUSTOM_FIELDS, DEFAULTS, SOFTWARE_CHECKS, TrainingForm  # noqa: F401
from gui.panels.training_notes import (  # noqa: F401  (the view's sentences; tests import them from here)
    FACTOR_REASONS, MEMORY_REASONS, days_words, fewer_chips_note, infeasible_fix, no_fit_advice, no_fit_text,
    set_chips_words,
)
from gui.widgets.category_chart import CategoryBarPanel
from gui.widgets.heatmap import HeatmapPanel
from gui.widgets.plot_panel import PlotPanel

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


def two_line_detail(tiles: FigureTiles, key: str) -> QLabel:
    """Tile `key`'s detail on the lines its text has (wrapped where one is still too wide), in
    place of FigureTiles' one elided line, with the same look, tooltip and accessors."""
    single = tiles.detail_label(key)
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(single.styleSheet())
    policy = single.sizePolicy()
    policy.setHeightForWidth(True)   # a wrapped line takes its height from the tile's width
    label.setSizePolicy(policy)
    single.parentWidget().layout().replaceWidget(single, label)
    single.deleteLater()
    tiles._details[key] = label   # FigureTiles' set, detail and clear find it by key
    return label


# ---- the panel ------------------------------------------------------------------------------

class TrainingPanel(TrainingForm, AnalysisPanel):
    analysis_finished = Signal()  # after the background search + scaling result is drawn (both parts)
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
        self.study = TrainingStudy()
        # the scenario's install lag as edited now (the app's Forecast inputs; None: the default)
        self.install_lag_provider: Callable[[], float | None] | None = None
        self.analysis: TrainingAnalysis | None = None
        self._running_key = None
        # what the tiles and bars were last drawn for: the key and layout mode of the last valid inputs,
        # and (inputs, study, result) to draw them again, greyed, while the form is invalid
        self._shown_key: tuple | None = None
        self._shown_mode = "search"
        self._last_valid: tuple | None = None
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
            ("mfu", "MFU (%)", "Model FLOPs utilisation: useful model FLOPs / dense BF16 peak, for FP8 runs too "
                                "(HFU below counts recompute)"),
            ("memory", "Memory per chip (GiB)", "Peak memory per chip against its HBM (GiB, 2^30 bytes)"),
            ("step", "Step time (s)", "One optimizer step; the largest term is named below"),
            ("chip_hours", "Chip-hours", "Chips x wall-clock hours for the run"),
            ("energy", "Energy (MWh)", "Chip TDP x utilisation 80% x PUE 1.2 over the run"),
            ("cost", "Cost (USD)", "Chip-hours x price (list price amortised over 5 years unless you enter one)"),
            ("goodput", "Goodput (%)", "Useful fraction of wall-clock time after failures, restarts and checkpoints"),
            ("layout", "Layout", "Parallel layout evaluated (searched or as entered)"),
        ], columns=5)
        two_line_detail(self.tiles, "layout")
        self.notes = notes_label()
        self.run_bar.run_button.setToolTip("Search layouts and compute the scaling curve again")
        self.run_bar.run_clicked.connect(lambda: self.start_analysis(force=True))
        self.run_bar.cancel_clicked.connect(self.cancel_analysis)

        self.step_chart = CategoryBarPanel("Step-time breakdown", x_label="Layout", y_label="Time per step",
                                           y_unit="s")
        self.memory_chart = CategoryBarPanel("Memory per chip against HBM", x_label="Layout",
                                             y_label="Memory per chip", y_unit="GiB")
        self.memory_chart.clip_above_ref = 2.0   # an out-of-memory layout's bar stops at twice the HBM
        self.heatmap = HeatmapPanel("Layout search: best tokens/s per chip",
                                    x_label="TP", x_unit="ways", y_label="PP", y_unit="stages",
                                    value_label="Best throughput", value_unit="tokens/s per chip")
        self.scaling_chart = PlotPanel("Time to train vs chips (best layout per count)",
                                       x_label="Chips", x_unit="chips", y_label="Time to train", y_unit="days")
        # the axis reads "Chips", not "Chips (chips)"; the exported column keeps its unit (scripts read it)
        self.scaling_chart.plot_item.setLabel("bottom", "Chips")
        if self.scaling_chart.legend is not None:
            self.scaling_chart.legend.setOffset((-10, 10))  # top right: the curves fall to the right
        for chart in self.charts().values():
            chart.status_message.connect(self.status_message)
        # two rows of two charts; tabs of one row each where the screen is too short for both
        grid = ChartGrid([("Step time and memory", [self.step_chart, self.memory_chart]),
                          ("Layout search and scaling", [self.heatmap, self.scaling_chart])])
        self.chart_grid = grid

        # (the inputs column gives way to the results on a narrow screen: gui.panels.small_screen)
        layout_form_and_results(self, form, [self.tiles, self.notes, self.run_bar], grid)
        self.apply_scenario_state({})
        self._follow_store(undo_stack)

    # ---- catalog -----------------------------------------------------------------------------
    def _reload_store(self) -> None:
        self._reload_catalog()

    def _reload_catalog(self) -> None:
        self._chips = {c.id: c for c in self.store.chips()}
        style.register_chips(self._chips.values())
        self._models = {m.id: m for m in self.store.models()}
        self._orders = self.store.orders()

    # ---- inputs ------------------------------------------------------------------------------
    def read_inputs(self) -> TrainingInputs | None:
        """The current inputs, or None after showing each problem at its field (the checks are
        the study's, in engine.studies)."""
        e = self.errors
        e.clear()
        self.sync_default_fleet_date()
        study = self.study = self.current_study()  # the study the shown results belong to
        _set_text_if_changed(self.fleet_hint, fleet_note(study, self._chips, self._orders))
        problems = study.problems(self._chips, self._models, self._orders)
        for problem in problems:
            for key in (problem.field, *problem.also):   # a product's problem: at each factor at fault
                e.set(key if key in e._labels else "model", problem.message)
        if study.layout_mode == "fixed":
            n = study.chips_used(self._orders)
            values = study.fixed_layout()
            divides = n > 0 and n % (values["tp"] * values["pp"] * values["cp"]) == 0
            _set_text_if_changed(self.dp_label, f"{data_parallel(n, values):,} (chips / (TP × PP × CP))"
                                 if divides else "–")
        if problems:
            _set_text_if_changed(self.batch_hint, batch_note_pending(int(study.global_batch or 0)))
            return None
        inputs = study.training_inputs(self._chips, self._models, self._orders)
        _set_text_if_changed(self.batch_hint, batch_note(inputs, set_by_user=bool(study.global_batch)))
        return inputs

    def _analysis_key(self, inp: TrainingInputs) -> tuple:
        # chips as catalog entries, not ids: an edited chip (bandwidth, HBM) must search again
        return (inp.model, inp.chip, inp.num_chips, inp.seq, inp.batch_seqs(), inp.dtype,
                self._compare_chips(inp), tuple(sorted(self.software_settings().items())))

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
            self._draw_last_valid()
            self.evaluated.emit()
            return
        self.show_valid()
        self._shown_key, self._shown_mode = self._analysis_key(inp), self.mode_combo.currentData()
        if self._shown_mode == "fixed":
            try:
                self.result = evaluate_layout(inp)
            except UserError as exc:
                self.result = None
                self.banner.show_error(str(exc))
        else:
            a = self._fresh_analysis()
            self.result = a.search.best if a is not None else None
        self._last_valid = (inp, self.study, self.result)
        self._draw_figures()
        self._draw_bars()
        self._draw_scaling()
        self._show_analysis_state()
        self.evaluated.emit()
        self.analysis_timer.start()

    def _fresh_analysis(self) -> TrainingAnalysis | None:
        """The finished search of the inputs the tiles show (the last valid ones), or None."""
        a = self.analysis
        return a if a is not None and self._shown_key is not None and a.key == self._shown_key else None

    def _draw_last_valid(self) -> None:
        """Inputs invalid: the tiles, bars and scaling curve show the last valid inputs, greyed, as
        the banner says, a search of them that finishes now included (an edit made while it ran
        left "…" and "Searching for the best layout" for ever, over empty charts). Where no search
        of them finished and none runs, what to do is said instead."""
        if self._last_valid is None:
            return
        inputs, study, result = self._last_valid
        a = self._fresh_analysis()
        if self._shown_mode == "search":
            result = a.search.best if a is not None else None
            if a is None and self._running_key != self._shown_key:
                self.tiles.clear("–")
                self.notes.setText("No figures yet: fix the fields marked in red, and the layout search runs.")
                for chart in (self.step_chart, self.memory_chart):
                    chart.clear_bars()
                # the search's charts too where they are empty (one of earlier inputs draws its heatmap
                # alone: its curve's days need inputs the form no longer has)
                idle = self.analysis is None and not self.runner.is_running()
                empty = self.analysis_widgets() if idle else [self.scaling_chart] if (
                    self.analysis is not None and not self.scaling_chart.series_names()) else []
                for chart in [self.step_chart, self.memory_chart, *empty]:
                    chart.set_notice("Fix the fields marked in red to search layouts")
                return
        now = self.inputs, self.study, self.result, self.run_estimate
        self.inputs, self.study, self.result = inputs, study, result
        try:
            self._draw_figures()
            self._draw_bars()
            self._draw_scaling()
        finally:
            self.inputs, self.study, self.result, self.run_estimate = now

    def show_invalid(self) -> None:
        super().show_invalid()
        first = self.errors.first()
        if first is not None and first[1].startswith(PRODUCT_NAME):
            # the product's message names its own fields: "Tensor parallel TP: TP × PP × CP = 24 …"
            # pinned it on TP after the user set PP 3
            self.banner.show_error(self.banner.error_text().removeprefix(f"{first[0]}: "))

    def _analysis_lags(self) -> bool:
        """Whether the search on screen (heatmap, scaling curve) ran from other inputs than the
        form's: a search after an edit still going, cancelled or failed. Its charts are then
        greyed and their exports name the inputs they came from."""
        a, inp = self.analysis, self.inputs
        return a is not None and inp is not None and a.key != self._analysis_key(inp)

    def analysis_widgets(self) -> list:
        return [self.heatmap, self.scaling_chart]

    def _show_analysis_state(self) -> None:
        if self.inputs is not None:   # invalid inputs: show_invalid has greyed every result
            mark_stale(self.analysis_widgets(), self._analysis_lags())

    def start_analysis(self, force: bool = False) -> None:
        self.analysis_timer.stop()
        inp = self.inputs
        # what export and report say when the form's inputs cannot be evaluated (gui.export_all)
        self.compute_error = None if inp is not None else (
            "; ".join(self.errors.messages().values()) or "its inputs are not valid")
        if inp is None:
            return
        key = self._analysis_key(inp)
        a = self.analysis
        searched = a is not None and a.key == key
        if (not force and searched and a.scaling_done) or self._running_key == key:
            return
        if searched and not a.scaling_done:   # the search's figures are up: only the curve is left
            self._start_scaling(a, inp)
            # (the cancel's words stayed until the curve's first point, a whole search, reported)
            self.run_bar.set_message("Drawing the scaling curve…")
            return
        self._running_key = key
        if self.analysis is None:
            for chart in self.analysis_widgets():
                chart.set_notice("Searching layouts…")
        counts = scaling_counts(inp.num_chips)
        self.run_bar.set_message(f"Searching layouts for {inp.model.name} on {inp.num_chips:,} × {short_chip_label(inp.chip)}…")
        # the search first, drawn as soon as it finishes; the scaling curve (a search per compared
        # chip and count, most of the time) follows it, and a cancel keeps the search
        self.runner.start(run_layout_analysis, inp, self._compare_chips(inp), counts, key)

    def _start_scaling(self, analysis: TrainingAnalysis, inp: TrainingInputs) -> None:
        self._running_key = analysis.key
        self.scaling_chart.set_notice("Drawing the scaling curve…")
        self.runner.start(run_scaling_curve, analysis, inp, self._compare_chips(inp))

    def cancel_analysis(self) -> None:
        was = self.runner.is_running()
        self.runner.cancel()
        self._running_key = None
        if was:
            a = self.analysis
            self.run_bar.set_message(
                "Cancelled before the search finished: press Run search to start again." if a is None else
                "Cancelled: the greyed charts are for earlier inputs. Run search updates them." if self._analysis_lags()
                else "Cancelled: the search's answer is shown; press Run search to draw the scaling curve."
                if not a.scaling_done else
                "Cancelled. Charts show the last finished search; press Run search to start again.")
            self.status_message.emit("Layout search cancelled")
            if self.result is None and self.mode_combo.currentData() == "search" and self._fresh_analysis() is None:
                # nothing was found: the tiles must not keep saying a search is under way (a finished
                # search that found no layout keeps its answer: only its curve was cancelled)
                self.tiles.clear("–")
                self.notes.setText("Search cancelled: no figures yet. Press Run search to search again.")
            if self.analysis is None:   # empty charts said nothing over bare 0-1 axes
                for chart in self.analysis_widgets():
                    chart.set_notice("Search cancelled: press Run search to draw this chart")
            elif not self.analysis.scaling_done:   # (lagging too: it said "Drawing…" with nothing running)
                self.scaling_chart.set_notice("Scaling curve cancelled: press Run search to draw it")
            if not self._bar_layouts():
                for chart in (self.step_chart, self.memory_chart):
                    chart.set_notice("Search cancelled: press Run search")

    def _on_analysis(self, analysis: TrainingAnalysis) -> None:
        self._running_key = None
        self.analysis = analysis
        for chart in self.analysis_widgets():
            chart.set_notice("")
        s = analysis.search
        if analysis.scaling_done:   # (the curve's progress goes on from the search's share)
            self.run_bar.set_progress(1.0)
        if s.best is None:
            chips = self.inputs.num_chips if self.inputs is not None else 0
            self.run_bar.set_message(no_fit_text(s, analysis.fewer_chips, chips, advice_first=True,
                                                 **self._no_fit_context(analysis)), error=True)
        else:
            self._draw_heatmap()
            curve = (f"; scaling curve for {len(analysis.scaling_chips)} chip types" if analysis.scaling_done else
                     "; drawing the scaling curve…")   # (short: its chip count elided the line at 1280 px)
            self.run_bar.set_message(f"Searched {s.layouts_evaluated:,} layouts ({s.layouts_feasible:,} feasible) "
                                     f"in {s.search_seconds:.2f} s" + (self.heatmap_note or curve)
                                     + ("." if analysis.scaling_done else ""))
        self._draw_heatmap()
        if self.inputs is None:   # the form went invalid while it ran: drawn greyed if it is the last valid's
            self._draw_last_valid()
        else:
            if self._shown_mode == "search" and analysis.key == self._shown_key:
                self.result = s.best
                self._last_valid = (self.inputs, self.study, self.result)
                self._draw_figures()
            self._draw_bars()
            self._draw_scaling()
        self._show_analysis_state()
        if not analysis.scaling_done:
            # the curve of the inputs searched: the form's, or the last valid ones it is drawn greyed for
            inp = self.inputs if self.inputs is not None else self._last_valid[0] if self._last_valid else None
            if inp is not None and self._analysis_key(inp) == analysis.key:
                self._start_scaling(analysis, inp)
                return   # finished when its curve is
        self.analysis_finished.emit()

    def _on_analysis_failed(self, message: str) -> None:
        self._running_key = None
        self.run_bar.set_message(f"Search failed: {message}", error=True)
        # the empty charts said "Searching layouts…" for ever
        a = self.analysis
        empty = ([*self.analysis_widgets()] if a is None else [self.scaling_chart] if not a.scaling_done else []) + \
            ([self.step_chart, self.memory_chart] if not self._bar_layouts() else [])
        for chart in empty:
            chart.set_notice("Search failed: press Run search to try again")
        self.status_message.emit(f"Layout search failed: {message}")

    def _on_analysis_cancelled(self) -> None:
        self._running_key = None

    # ---- drawing -----------------------------------------------------------------------------
    def _fewer_days(self, fewer: tuple | None) -> float | None:
        """Days to train on the suggested fewer chips (`train` gives them: 107.2 against 116.3)."""
        if not fewer or self.inputs is None:
            return None
        chips, tok, _layout = fewer
        try:
            est = self.study.estimate(self.inputs, tok, chips)
        except UserError:   # failures outpace progress there too: no days to give
            return None
        return est.time_to_train_days if est is not None else None

    def _sooner_on_fewer(self, analysis, days_here: float | None):
        """engine.training.sooner_on_fewer on the analysis's halved counts, at this run's inputs."""
        if analysis is None or not analysis.halved or self.inputs is None:
            return None

        def days_at(chips: int, tok: float) -> float | None:
            try:
                est = self.study.estimate(self.inputs, tok, chips)
            except UserError:
                return None
            return est.time_to_train_days if est is not None else None

        return sooner_on_fewer(analysis.halved, days_at, days_here)

    def _days_here(self, analysis, days_shown: float) -> float:
        """The days fewer chips are measured against: with a fixed layout, the best layout's on this
        count where the search found one (a slow hand-made layout on 512 chips read "on 256 the best
        layout finishes in 84.1 days against 87.4; set Chips to 256", where the best on 512 takes
        43.7: QA s39); else the run shown."""
        best = analysis.search.best if analysis is not None and self._shown_mode == "fixed" else None
        if best is None or self.inputs is None:
            return days_shown
        try:
            est = self._estimate(best.tokens_per_s_per_chip, self.inputs.num_chips, self.inputs.chip)
        except UserError:
            return days_shown
        return min(days_shown, est.time_to_train_days) if est is not None else days_shown

    def _no_fit_context(self, analysis) -> dict:
        """What no_fit_text needs beyond the search: the inputs (for the state's size), the way
        the chips are set and the days on the suggested count."""
        return {"inputs": self.inputs, "fleet": self.study.chips_source == "fleet",
                "days": self._fewer_days(analysis.fewer_chips)}

    def _estimate(self, tokens_per_s_per_chip: float, n: int, chip):
        return self.study.estimate(self.inputs, tokens_per_s_per_chip, n, chip)

    def _draw_figures(self) -> None:
        t = self.tiles
        r, inp = self.result, self.inputs
        self.run_estimate = None
        if inp is None:
            t.clear()
            self.notes.setText("")
            return
        if r is None:
            a = self._fresh_analysis()
            searched = a is not None and a.search.best is None
            waiting = self._shown_mode == "search" and not searched
            t.clear("…" if waiting else "–")
            if a is not None and searched:   # the search finished and nothing fits: not "searching" for ever
                s = a.search
                t.set("time", "no layout fits", f"of {s.layouts_evaluated:,} searched")
                self.notes.setText(no_fit_text(s, a.fewer_chips, inp.num_chips, **self._no_fit_context(a)))
            else:
                self.notes.setText("Searching for the best layout; the figures appear when it finishes."
                                   if waiting else "")
            return
        n = inp.num_chips
        t.set("step", f"{r.step_time_s:.2f}", f"largest term: {r.limiting.replace('_', ' ')}")
        # FP8 runs are measured against the BF16 peak, as MFU is usually quoted: said at the tile
        basis = " · of the BF16 peak" if getattr(inp, "dtype", "bf16") not in ("bf16", "fp16") else ""
        # the rate is MFU x peak (model FLOPs), not HFU's: named so, short enough for a 1280 px tile
        # (for FP8 the basis takes the TF/s' place, which the tooltip keeps: both cut the detail at 1280 px)
        # and its share of the FP8 peak first: "MFU 102.5" alone read as impossible (QA s39); as short
        # as it is, "BF16 basis; 26% of FP8 peak" was cut at "FP8 p" on a 1280 px window
        fp8 = getattr(inp.chip, "fp8_tflops", None)
        t.set("mfu", f"{r.mfu_pct:.1f}", (f"BF16 peak; {100 * r.model_tflops_per_chip / fp8:.0f}% of FP8"
                                           if fp8 else f"HFU {r.hfu_pct:.1f}%{basis}") if basis else
              f"HFU {r.hfu_pct:.1f}%, model {r.model_tflops_per_chip:.0f} TF/s",
              tip=f"HFU {r.hfu_pct:.1f}% (hardware FLOPs, recompute included); {r.model_tflops_per_chip:.0f} "
                  f"TFLOP/s of model FLOPs per chip (MFU × peak){basis}")
        t.set("memory", f"{r.memory_gib_per_chip:.1f}", f"of {r.memory_capacity_gib:.0f} GiB HBM")
        lay = r.layout
        batch = int(lay.get("global_batch_seqs") or inp.batch_seqs())
        # two lines: on one, recompute and the batch were cut off at 1280x720 ("… · rc …")
        t.set("layout", layout_label(lay),
              f"DP{lay['dp']:,} · ZeRO-{lay['zero_stage']} · mb{lay['micro_batch']:,}\n"
              f"rc {lay['recompute']} · batch {batch:,} seq",
              tip=f"DP {lay['dp']:,} · ZeRO-{lay['zero_stage']} · micro-batch {lay['micro_batch']:,} sequences · "
                  f"recompute {lay['recompute']} · global batch {batch:,} sequences")
        if not r.feasible:
            # a layout that cannot run has no speed: its step time and MFU would read as a result
            for key in ("time", "throughput", "chip_hours", "energy", "cost", "goodput", "step", "mfu"):
                t.set(key, "–", "")
            t.set("time", "does not fit", r.reason)
            # the reason with its numbers (the CLI's words) and what to change; the model's notes on
            # speed ("pipeline bubble costs 22% of the step") describe a run that cannot happen
            self.notes.setText(f"This layout is infeasible: {infeasible_detail(r, inp)}. {infeasible_fix(r)}")
            return
        t.set("throughput", fmt_big(r.tokens_per_s_per_chip * n), f"{r.tokens_per_s_per_chip:,.0f} per chip")
        try:
            est = self._estimate(r.tokens_per_s_per_chip, n, inp.chip)
        except UserError as exc:   # failures outpace progress (the engine's reason, not a crash dialog)
            for key in ("time", "chip_hours", "energy", "cost", "goodput"):
                t.set(key, "–", "")
            t.set("time", "never finishes", "failures outpace progress")
            t.set("goodput", "0", "")
            text = f"{exc}.".replace("..", ".")
            a = self._fresh_analysis()
            sooner = self._sooner_on_fewer(a, self._days_here(a, float("inf")))
            if sooner is not None:   # the fewer count that does finish, as `train` names it (QA s36)
                words = finishing_count_text(sooner, int(inp.global_batch_seqs or 0))
                text += f" {words[0].upper()}{words[1:]}; {set_chips_words(sooner[0], self.study.chips_source == 'fleet')}."
            self.notes.setText(text)
            return
        self.run_estimate = est
        if est is None:
            return
        # small budgets keep their figures (0.023 days read "0.0", 0.024 MWh read "0")
        t.set("time", fmt(est.time_to_train_days) if est.time_to_train_days < 10 else f"{est.time_to_train_days:,.1f}",
              f"{fmt(est.steady_days)} days at steady state")
        t.set("chip_hours", fmt_big(est.chip_hours), f"{n:,} chips")
        t.set("energy", fmt(est.energy_mwh) if est.energy_mwh < 10 else f"{est.energy_mwh:,.0f}",
              f"{inp.chip.tdp_w or 700:.0f} W" + (" x 80% x PUE 1.2" if inp.chip.tdp_w else " assumed (no TDP)"))
        if est.cost_usd:
            per = est.cost_usd / est.chip_hours if est.chip_hours else 0
            t.set("cost", fmt_big(est.cost_usd), f"{per:.2f} USD per chip-hour")
        else:
            t.set("cost", "–", "no list price: enter a price")
        failures = est.expected_interruptions
        t.set("goodput", f"{100 * est.goodput:.2f}" if est.goodput >= 0.999 else f"{100 * est.goodput:.1f}",  # not "100.0"
              # in the unit its size reads in: a 25 s interval read "ckpt 0 min"; 0.27 failures read "0 failures"
              f"ckpt {duration_text(est.checkpoint_interval_min * 60.0)}, "
              + (counted(failures, "failure") if failures >= 0.995 else "under 1 failure"),
              tip=f"checkpoint every {duration_text(est.checkpoint_interval_min * 60.0)}; "
                  f"{interruptions_text(failures, 'failure')}")
        notes = list(r.explanations) + ([zero_note(r.layout)] if zero_note(r.layout) else []) + [
            note for note in [under_one_step_note(float(self.study.tokens_t) * 1e12, r, inp.seq)] if note]
        a = self._fresh_analysis()   # a badly factored count: the wrapped notes carry it (the run bar cut it at 1280)
        fewer = ""
        if a is not None and a.fewer_chips:
            fewer = fewer_chips_note(a.fewer_chips, n, fleet=self.study.chips_source == "fleet",
                                     days=self._fewer_days(a.fewer_chips), days_now=self._days_here(a, est.time_to_train_days))
        here_days = self._days_here(a, est.time_to_train_days)
        sooner = self._sooner_on_fewer(a, here_days)
        if sooner is not None:   # a fixed global batch on more chips than it can use (QA s36)
            best_here = here_days < est.time_to_train_days   # (a fixed layout: measured against the best here)
            words = sooner_on_fewer_text(sooner, n, int(inp.global_batch_seqs or 0), here_days,
                                         (a.search.best.tokens_per_s_per_chip if best_here else r.tokens_per_s_per_chip) * n)
            words += f" (the best layout on {n:,})" if best_here else ""
            fewer = (f"{fewer}. " if fewer else "") + (
                f"{words[0].upper()}{words[1:]}; {set_chips_words(sooner[0], self.study.chips_source == 'fleet')}")
        self.notes.setText(("Why: " + "; ".join(notes) + "." if notes else "") + (f" {fewer}." if fewer else ""))

    def _bar_layouts(self) -> list[tuple[str, LayoutResult]]:
        def label(layout) -> str:   # TP and PP, then VPP/CP/EP on a line of their own (a bar is narrow)
            parts = layout_label(layout).split()
            return " ".join(parts[:2]) + ("\n" + " ".join(parts[2:]) if parts[2:] else "")

        out = []
        fixed = self._shown_mode == "fixed"
        if fixed and self.result is not None:
            out.append(("Yours\n" + label(self.result.layout), self.result))
        a = self._fresh_analysis()
        if a is not None and self.inputs is not None:
            for i, r in enumerate(a.search.top[: (3 if fixed else 4)]):
                out.append((f"Best #{i + 1}\n{label(r.layout)}", r))
        elif not fixed and self.result is not None:
            out.append((f"Best #1\n{label(self.result.layout)}", self.result))
        # each layout rounds the batch to its DP x micro-batch: bars of steps over different batches
        # are not alike (Yours, 384 sequences in 12.58 s, beside the best's 512 in 12.51 s), so each
        # then names its batch
        batches = {int(r.layout.get("global_batch_seqs") or 0) for _, r in out}
        if len(batches) > 1:
            out = [(f"{name}\nbatch {int(r.layout.get('global_batch_seqs') or 0):,}", r) for name, r in out]
        return out

    def _draw_bars(self) -> None:
        bars = self._bar_layouts()
        if not bars:
            a, inp = self._fresh_analysis(), self.inputs
            nothing_fits = a is not None and inp is not None and a.search.best is None
            search = self._shown_mode == "search" and inp is not None
            for chart in (self.step_chart, self.memory_chart):
                chart.clear_bars()
                # say why it is empty, not bare 0-1 axes
                chart.set_notice("No layout fits these inputs" if nothing_fits else
                                 "Searching layouts…" if search else "")
            return
        for chart in (self.step_chart, self.memory_chart):
            chart.set_notice("")
        names = [name for name, _ in bars]
        for chart in (self.step_chart, self.memory_chart):
            chart.set_categories(names)
        steps = {}
        for key in BREAKDOWN_KEYS:   # a layout that cannot run has no step time: no bar (its memory bar says why)
            values = [r.breakdown_s.get(key, 0.0) if r.feasible else float("nan") for _, r in bars]
            if any(v > 0 for v in values):
                steps[SEGMENT_NAMES[key]] = values
        self.step_chart.set_stacked(steps)
        memory = {}
        for key in MEMORY_KEYS:
            values = [r.memory_breakdown_gib.get(key, 0.0) for _, r in bars]
            if any(v > 0 for v in values):
                memory[MEMORY_NAMES[key]] = values
        self.memory_chart.set_stacked(memory)
        self.memory_chart.set_reference_line("HBM capacity", bars[0][1].memory_capacity_gib)

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
                              details=[a.grid_detail[j] for j in rows] if a.grid_detail else None,
                              highlight=(best.layout["tp"], best.layout["pp"]) if best else None)

    def _draw_scaling(self) -> None:
        a, inp = self.analysis, self.inputs
        chart = self.scaling_chart
        if a is None or inp is None:
            return
        if not a.scaling_done:   # the search alone so far: its curve is drawn next (or was cancelled)
            for name in chart.series_names():
                chart.remove_series(name)
            self._scaling_drawn = None
            return
        study = self.study
        # every input of the days drawn: the reliability ones too (an MTBF or restart edit moved
        # the tile and left the curve at the old days)
        drawn = (id(a), inp.model, study.tokens_t, study.price(), *study.reliability().values())
        if drawn == self._scaling_drawn:
            return  # nothing it shows has changed (most edits)
        self._scaling_drawn = drawn
        counts = np.array(a.scaling_counts, dtype=float)
        wanted, colors = {}, {}
        for chip_id, days in scaling_days(study, inp, a, self._chips).items():
            chip = self._chips[chip_id]
            # a chip no layout fits at any count shown (DeepSeek-V3 in FP8 on a 910B) is named as
            # such, with no points, rather than as a legend entry for an invisible line
            # (a chip without the precision's units says that: "no layout fits" read as memory; QA s39)
            why = " (no FP8)" if dtype_problem(inp.dtype, chip) else " (no layout fits)"
            name = short_chip_label(chip) + ("" if np.isfinite(days).any() else why)
            wanted[name] = days
            colors[name] = (style.chip_color(chip.id), chip.id in style.CHIP_DASHED)
        for name in chart.series_names():
            if name not in wanted:
                chart.remove_series(name)
        chart.set_notice("")   # (one said to fix the form while it was invalid)
        for name, days in wanted.items():
            shown = np.isfinite(days)   # infeasible counts are gaps, not NaN points
            chart.set_series(name, counts[shown], days[shown], color=colors[name][0], dashed=colors[name][1])
        finite = np.concatenate([d[np.isfinite(d)] for d in wanted.values()]) if wanted else np.zeros(0)
        if finite.size:
            chart.plot_item.setYRange(0, float(finite.max()) * 1.1, padding=0)
            chart.plot_item.setXRange(0, float(counts.max()) * 1.03, padding=0)

    # ---- protocol ----------------------------------------------------------------------------
    def chart_export_context(self, chart_key: str) -> dict:
        """The search's charts, left from earlier inputs, are labelled with the inputs they ran from."""
        if chart_key in ("layout-search", "scaling") and self._analysis_lags():
            assert self.analysis is not None
            model, chip, n, seq, batch, dtype = self.analysis.key[:6]
            # the batch before each layout rounds it (the key's); set by the user or the default
            return {"Model": model.name,
                    "Workload": f"{n:,} × {short_chip_label(chip)}, sequence {seq:,}, global batch {batch:,} "
                                f"sequences before rounding to each layout, {dtype.upper()}",
                    "Note": "the form's inputs changed after this search ran: it is for the inputs above, "
                            "not the ones on screen"}
        return self.export_context()

    def export_context(self) -> dict:
        """What this panel's exports show (model and workload, in the units the form uses)."""
        inp = self.inputs
        if inp is None:
            return {"Model": self.model_combo.currentText(), "Workload": "inputs invalid (results out of date)"}
        # the batch the layout shown runs: the default rounded to its DP x micro-batch (10,000
        # sequences on 80,000 chips, where the default is 8,192)
        used = int((self.result.layout.get("global_batch_seqs") if self.result is not None else 0) or inp.batch_seqs())
        return {"Model": inp.model.name,
                "Workload": f"{inp.num_chips:,} × {short_chip_label(inp.chip)}, {self.tokens_spin.value():g}T tokens, "
                            f"sequence {inp.seq:,}, global batch {used:,} sequences, {inp.dtype.upper()}",
                # what else sets the figures: the run's software and the line that reproduces them
                "Software": software_text(self.study.software_settings(), moe=inp.model.is_moe,
                                          fp8=inp.dtype == "fp8",
                                          cp=int((self.result.layout.get("cp") if self.result is not None else 0) or 0)
                                          or None),
                "CLI": train_command(self.study, inp)}

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

    def compute_now(self, progress=None, should_stop=None) -> None:
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
            analysis = run_training_analysis(inp, self._compare_chips(inp), scaling_counts(inp.num_chips), key,
                                             progress=progress, should_stop=should_stop)
        else:   # already searched: shown again, so a search it cancelled does not stay "Searching layouts…"
            analysis = run_scaling_curve(self.analysis, inp, self._compare_chips(inp), progress=progress,
                                         should_stop=should_stop)
        self._on_analysis(analysis)

    def shutdown(self) -> None:
        self.analysis_timer.stop()
        super().shutdown()
        self._running_key = None
