"""The Inference view: serving a model on a chip under latency targets, and how chip types compare.

The chosen chip's SLO capacity is one engine call of about a millisecond: it runs on the GUI
thread 50 ms after the last edit. The comparison across chip types (throughput-latency curves,
TTFT curves, chips needed for the demand) runs in a worker through LatestRunner, with a
progress bar and Cancel, the latest request winning.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton,
    QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget,
)

from engine.calibration import uncalibrated_note
from engine.errors import UserError
from engine.studies_serving import (  # noqa: F401  (ServingRequest, run_chip_comparison: re-exported for tests)
    ChipComparison, ServingRequest, comparison_basis_text, comparison_layout_note, comparison_table, concurrency_limit,
    ep_choices, run_chip_comparison, serve_command, serving_key_figures, serving_request, ttft_histogram,
)
from gui import export as export_mod
from gui import style
from gui.panels.base import AnalysisPanel, FigureTiles, counted, fmt, fmt_big, mark_stale, notes_label, short_chip_label
from gui.panels.chart_grid import ChartGrid
from gui.panels.small_screen import layout_form_and_results, names_first
from gui.panels.inference_form import DEFAULTS, ENGINES, TP_CHOICES, InferenceForm  # noqa: F401
from gui.panels.inference_load import (draw_load_point, draw_point_alone, load_point_of, make_point_lines,
                                       point_context, point_lags, with_load_point)
from gui.panels.inference_notes import (  # noqa: F401  (limiting_detail: re-exported)
    BatchCurveChart, caveats_text, does_not_fit_text, draw_load_targets, limiting_detail, load_curve_context,
    load_point_text, no_fit_fix, run_bar_text, window_terms,
)
from gui.widgets.category_chart import CategoryBarPanel
from gui.widgets.plot_panel import PlotPanel


class InferencePanel(InferenceForm, AnalysisPanel):
    analysis_finished = Signal()
    DEBOUNCE_MS = 50  # one capacity search costs tens of ms: let typing settle first

    def __init__(self, store, undo_stack: QUndoStack | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo_stack = undo_stack
        self._init_analysis(evaluate=self._evaluate, finished=self._on_comparison, failed=self._on_failed,
                            cancelled=self._on_cancelled, run_text="Compare chips")
        self.request: ServingRequest | None = None
        self.capacity = None          # what the figures show: under load once simulated, else steady state
        self.steady_capacity = None   # the steady-state search (layout, batch, curves)
        self.chips_for_demand: int | None = None
        self.comparison: ChipComparison | None = None
        self._running_key = None
        self._reload_store()

        form = self._build_form()

        self.tiles = FigureTiles([
            ("throughput", "SLO throughput (tokens/s/chip)", "Output tokens per second per chip at the largest "
             "Poisson load whose TTFT and TPOT at the form's percentile (p90 by default) meet the targets "
             "(simulated request by request, lengths spread by the form's CV), as the Forecast counts chips; "
             "the steady-state figure (mean latencies, fixed lengths) shows first and stays beside it"),
            ("concurrency", "Max running (sequences)", "Sequences one replica can run at once (`serve` JSON "
             "max_running_sequences; its max_concurrency is the KV fit alone): the fewer of those "
             "whose KV cache fits beside the weights and the engine's cap on running sequences"),
            ("ttft", "TTFT (ms)", "Time to first token at that load (the form's percentile under load; the mean "
             "in steady state)"),
            ("tpot", "TPOT (ms)", "Time per output token at that load (the form's percentile under load; the mean "
             "in steady state)"),
            ("limiting", "Limiting resource", "What stops a larger load: memory capacity, the engine's batch cap, a "
             "latency target, prefill saturation, the engine's token budget or saturation; and what fills the time per token"),
            ("chips", "Chips for the demand", "Chips of this type to serve the demand under the targets (whole replicas)"),
            ("layout", "Layout per replica", "Tensor/expert parallel degrees of one serving replica"),
            ("memory", "Weights per chip (GiB)", "Model weights held by each chip of a replica, against its HBM "
             "(GiB, 2^30 bytes: the unit of every chip's HBM capacity)"),
        ], columns=4)
        self.notes = notes_label()
        self.run_bar.run_button.setToolTip("Compute the comparison across chip types again")
        self.run_bar.run_clicked.connect(lambda: self.start_comparison(force=True))
        self.run_bar.cancel_clicked.connect(self.cancel_comparison)

        self.curve_chart = BatchCurveChart("Throughput vs latency, steady state", x_label="Time per output token",
                                     x_unit="ms", y_label="Output throughput", y_unit="tokens/s per chip")
        self.ttft_chart = PlotPanel("Time to first token vs running batch", x_label="Running batch",
                                    x_unit="sequences per replica", y_label="TTFT", y_unit="ms")
        # Under load (simulated request by request, Poisson arrivals, lengths with the form's CV)
        self.load_chart = PlotPanel("TTFT vs offered load (chosen chip)", x_label="Offered load",
                                    x_unit="requests/s per replica", y_label="TTFT", y_unit="ms")
        # TPOT on its own axis: tens of ms beside TTFTs of seconds, it read as a flat line at 0
        self.tpot_load_chart = PlotPanel("TPOT vs offered load (chosen chip)", x_label="Offered load",
                                         x_unit="requests/s per replica", y_label="TPOT", y_unit="ms")
        self.ttft_hist_chart = PlotPanel("TTFT distribution at the chosen load", x_label="TTFT", x_unit="ms",
                                         y_label="Requests", y_unit="share %")
        self.kv_chart = PlotPanel("KV cache use over time at the chosen load", x_label="Time", x_unit="s",
                                  y_label="KV used", y_unit="%")
        self.load_note = notes_label()
        self.chips_chart = CategoryBarPanel("Chips needed for the demand", x_label="Chip type",
                                            y_label="Chips needed", y_unit="chips")
        self._tpot_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#C00000", width=1.5, style=Qt.PenStyle.DashLine),
                                          label="TPOT target", labelOpts={"position": 0.9, "color": "#C00000"})
        self._ttft_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#C00000", width=1.5, style=Qt.PenStyle.DashLine),
                                          label="TTFT target", labelOpts={"position": 0.97, "color": "#C00000",
                                                                          "anchors": [(1, 1), (1, 1)]})
        # the load the figures are read at (the SLO search's point), on the latency-vs-load chart
        self._load_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#C00000", width=1.5, style=Qt.PenStyle.DashLine),
                                          label="", labelOpts={"position": 0.95, "color": "#C00000"})
        self.load_chart.plot_item.addItem(self._load_line, ignoreBounds=True)
        self._load_line.hide()
        # the targets on the latency-vs-load chart too: where each percentile crosses its target is
        # what sets the SLO capacity (TPOT sits low on a TTFT-sized axis; its line shows where)
        self._load_targets = {}
        for key, chart in (("TTFT", self.load_chart), ("TPOT", self.tpot_load_chart)):
            line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#C00000", width=1.2, style=Qt.PenStyle.DotLine),
                                   label="", labelOpts={"position": 0.03, "color": "#C00000",
                                                        "anchors": [(0, 1), (0, 1)]})
            chart.plot_item.addItem(line, ignoreBounds=True)
            line.hide()
            self._load_targets[key] = line
        # labelled as on the TTFT chart: an unlabelled dashed line read as a second target
        self._tpot_load_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#C00000", width=1.5, style=Qt.PenStyle.DashLine),
                                               label="", labelOpts={"position": 0.95, "color": "#C00000"})
        self.tpot_load_chart.plot_item.addItem(self._tpot_load_line, ignoreBounds=True)
        self._tpot_load_line.hide()
        make_point_lines(self)   # the user's load point beside it (rate only); self.load_point: the form's
        self.curve_chart.plot_item.addItem(self._tpot_line, ignoreBounds=True)
        self.ttft_chart.plot_item.addItem(self._ttft_line, ignoreBounds=True)
        for chart in self.charts().values():
            chart.status_message.connect(self.status_message)

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        # The chip name takes the spare width, the numbers their own (names_first); the long columns
        # (limiting resource, why) are in each row's tooltip and in the CSV.
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.setWordWrap(False)
        self.export_table_button = QPushButton("Export table CSV…")
        self.export_table_button.setToolTip("Save the chip comparison as CSV")
        self.export_table_button.clicked.connect(self._export_table_with_dialog)
        table_box = QWidget()
        tb = QVBoxLayout(table_box)
        tb.setContentsMargins(0, 0, 0, 0)
        self.table_caption = QLabel("Chip comparison under the targets")
        self.table_caption.setStyleSheet("font-weight: 600;")
        self.table_caption.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(self.table_caption, 1)
        head.addWidget(self.export_table_button)
        tb.addLayout(head)
        tb.addWidget(self.table, 1)

        # two rows of two each; where the screen is too short, a tab per row (ChartGrid)
        compare_tab = ChartGrid([("Throughput and latency", [self.curve_chart, self.ttft_chart]),
                                 ("Chips needed", [self.chips_chart, table_box])])
        load_grid = ChartGrid([("Latency vs load", [self.load_chart, self.tpot_load_chart]),
                               ("TTFT spread and KV use", [self.ttft_hist_chart, self.kv_chart])])
        load_tab = QWidget()
        load_box = QVBoxLayout(load_tab)
        load_box.setContentsMargins(0, 0, 0, 0)
        load_box.addWidget(self.load_note)
        load_box.addWidget(load_grid, 1)
        self.chart_grids = (compare_tab, load_grid)
        self.chart_tabs = QTabWidget()
        self.chart_tabs.setDocumentMode(True)
        self.chart_tabs.addTab(compare_tab, "Chip comparison")
        self.chart_tabs.addTab(load_tab, "Under load")
        self.chart_tabs.setTabToolTip(1, "The chosen chip simulated request by request under Poisson arrivals")
        # (the inputs column gives way to the results on a narrow screen: gui.panels.small_screen)
        layout_form_and_results(self, form, [self.tiles, self.notes, self.run_bar], self.chart_tabs)
        self.apply_scenario_state({})
        self._follow_store(undo_stack)

    def _reload_store(self) -> None:
        self._chips = {c.id: c for c in self.store.chips()}
        style.register_chips(self._chips.values())
        self._models = {m.id: m for m in self.store.models()}

    # ---- inputs ------------------------------------------------------------------------------
    def read_request(self) -> ServingRequest | None:
        """The request of the form's study, or None after showing each problem at its field (the
        checks live once, in engine.studies)."""
        e = self.errors
        e.clear()
        study = self.current_study()
        problems = study.problems(self._chips, self._models)
        for problem in problems:
            e.set(problem.field if problem.field in e._labels else "chip", problem.message)
        self.load_point = None if problems else load_point_of(study)
        return None if problems else serving_request(study, self._chips, self._models)

    def _comparison_key(self, req: ServingRequest) -> tuple:
        # Every input of the request: the comparison's rows depend on the engine limits and the
        # demand, and its Under load analysis is the chosen chip's at the chosen layout (a key
        # without the chip, TP, EP or limits left the previous chip's simulation on screen).
        ids = tuple(self._compare_ids(req))
        labels = self._chip_labels()   # a chip added with a shared short name renames a compared one
        return (req, ids, tuple(labels.get(i, i) for i in ids))

    def _chip_labels(self) -> dict[str, str]:
        """Each chip's name as every view shows it (told apart across the whole catalog)."""
        return {cid: style.chip_display_name(chip) for cid, chip in self._chips.items()}

    def _compare_ids(self, req: ServingRequest) -> list[str]:
        ids = [i for i in self.compare_button.selected() if i in self._chips]
        if req.chip.id not in ids:
            ids.insert(0, req.chip.id)
        return ids

    # ---- evaluation --------------------------------------------------------------------------
    def _evaluate(self) -> None:
        self.timer.stop()
        req = self.read_request()
        self.request = req
        self.capacity = None
        self.steady_capacity = None
        self.chips_for_demand = None
        if req is None:
            self.show_invalid()
            self._draw_figures()
            self.evaluated.emit()
            return
        self.show_valid()
        try:
            self.capacity = self.steady_capacity = req.capacity()
            self.chips_for_demand = req.chips_for_demand(self.capacity)
            self._take_chosen_under_load()   # a comparison of this very request already ran
        except UserError as exc:
            self.banner.show_error(str(exc))
        self.start_comparison()   # first: the tiles say whether the run under load is pending
        self._draw_figures()
        self._draw_targets()
        self._show_comparison_state()
        self.evaluated.emit()

    def start_comparison(self, force: bool = False) -> None:
        req = self.request
        # what export and report say when the form's inputs cannot be evaluated (gui.export_all)
        self.compute_error = None if req is not None else (
            "; ".join(self.errors.messages().values()) or "its inputs are not valid")
        if req is None:
            return
        key, point, c = self._comparison_key(req), self.load_point, self.comparison
        if not force and ((c is not None and c.key == key and c.load_point == point) or self._running_key == (key, point)):
            return
        self._running_key = (key, point)
        if not force and c is not None and c.key == key:   # only the load point moved: its run alone
            self.run_bar.set_message(f"Simulating the load point for {req.model.name}…")
            self.runner.start(with_load_point, c, req, point)
            return
        chips = tuple(self._chips[i] for i in self._compare_ids(req))
        self.run_bar.set_message(f"Comparing {len(chips)} chip types for {req.model.name}…")
        self.runner.start(run_chip_comparison, req, chips, key, labels=self._chip_labels(), load_point=point)

    def cancel_comparison(self) -> None:
        was = self.runner.is_running()
        self.runner.cancel()
        self._running_key = None
        if was:
            self.run_bar.set_message("Cancelled: the greyed charts are for earlier inputs. Compare chips updates them."
                                     if self._comparison_lags() else
                                     "Cancelled. Charts show the last finished comparison; press Compare chips "
                                     "to start again.")
            self.status_message.emit("Chip comparison cancelled")
        self._draw_figures()   # "p90 pending" beside the steady-state tiles becomes "not run"

    def _on_comparison(self, comparison: ChipComparison) -> None:
        self._running_key = None
        self.comparison = comparison
        self.run_bar.set_progress(1.0)
        if self.request is not None:
            self.run_bar.set_message(run_bar_text(self.request, comparison))
        if self._take_chosen_under_load() or comparison.chosen_error:
            self._draw_figures()
        self._draw_comparison()
        self._draw_load()
        self._show_comparison_state()
        self.analysis_finished.emit()

    def _on_failed(self, message: str) -> None:
        self._running_key = None
        self.run_bar.set_message(f"Comparison failed: {message}", error=True)
        self.status_message.emit(f"Chip comparison failed: {message}")
        self._draw_figures()

    def _on_cancelled(self) -> None:
        self._running_key = None

    def _comparison_lags(self) -> bool:
        """Whether the comparison on screen ran from other inputs than the form's (a run after
        an edit still going, cancelled or failed): its charts and table are then greyed, and
        their exports name the inputs they came from."""
        c, req = self.comparison, self.request
        return c is not None and req is not None and c.key != self._comparison_key(req)

    def comparison_widgets(self) -> list:
        """What shows the chip comparison and the chosen chip under load (a worker's result)."""
        return [self.curve_chart, self.ttft_chart, self.chips_chart, self.table, self.load_note,
                self.load_chart, self.tpot_load_chart, self.ttft_hist_chart, self.kv_chart]

    def _show_comparison_state(self) -> None:
        if self.request is not None:   # invalid inputs: show_invalid has greyed every result
            mark_stale(self.comparison_widgets(), self._comparison_lags())
            if not self._comparison_lags():   # the Under load tab's (note and charts) alone, while its load point runs
                mark_stale(self.comparison_widgets()[4:], point_lags(self))

    def _take_chosen_under_load(self) -> bool:
        """Show the chosen chip's figures under load when the comparison of this request has them."""
        c, req = self.comparison, self.request
        if c is None or req is None or c.chosen is None or self.steady_capacity is None \
                or c.key != self._comparison_key(req) or self.capacity is c.chosen:
            return False
        self.capacity = c.chosen
        self.chips_for_demand = req.chips_for_demand(c.chosen)
        return True

    def under_load(self) -> bool:
        """Whether the figures show the simulated p90 capacity (else the steady-state one)."""
        return self.capacity is not None and self.capacity.latency_basis != "mean"

    # ---- drawing -----------------------------------------------------------------------------
    def _draw_figures(self) -> None:
        t, cap, req = self.tiles, self.capacity, self.request
        if req is None or cap is None:
            t.clear()
            self.notes.setText("")
            return
        target = []
        if req.ttft_ms:
            target.append(f"TTFT ≤ {req.ttft_ms:,.0f} ms")
        if req.tpot_ms:
            target.append(f"TPOT ≤ {req.tpot_ms:g} ms")
        layout = f"TP{cap.tp}" + (f" EP{cap.ep}" if cap.ep > 1 else "")
        if cap.prefill_chips:   # disaggregated: the prefill instances beside each replica count too
            layout += f" + {req.prefill_instances}×TP{req.prefill_tp} prefill"
            t.set("layout", layout, f"{counted(cap.chips_per_replica, 'chip')} per replica ({cap.prefill_chips} prefill)")
        else:
            t.set("layout", layout, f"{counted(cap.chips_per_replica, 'chip')} per replica")
        # short: "...GiB/seq on each chip" was cut at 1280 px; the tooltip says it in full
        t.set("memory", f"{cap.weights_gib_per_chip:.1f}", f"of {req.chip.hbm_gib:g} GiB; KV {cap.kv_gib_per_sequence:.3f}"
              " GiB/seq", tip=f"Weights {cap.weights_gib_per_chip:.1f} GiB of the chip's {req.chip.hbm_gib:g} GiB HBM; "
              f"the KV cache takes {cap.kv_gib_per_sequence:.3f} GiB per sequence on each chip")
        most, set_by = concurrency_limit(cap)
        why = "engine" if set_by == "engine cap" else "KV"   # short: the tile is ~38 characters wide
        at = "at targets" if req.ttft_ms or req.tpot_ms else "at saturation"   # no targets: nothing to be "at"
        t.set("concurrency", f"{most:,}", f"per replica ({why}); {cap.batch_at_slo:,.0f} {at}"
              if cap.feasible else f"per replica ({set_by})")
        if not cap.feasible:
            for key in ("throughput", "ttft", "tpot", "chips"):
                t.set(key, "–", "")
            steady = self.steady_capacity
            no_fit = does_not_fit_text(req, cap)
            if no_fit:   # "no load meets the targets" read as a latency problem
                hbm = req.chip.hbm_gib
                t.set("throughput", "does not fit", f"weights {cap.weights_gib_per_chip:.1f} > {hbm:g} GiB"
                      if cap.weights_gib_per_chip > hbm else f"weights + reserve > {hbm:g} GiB", tip=no_fit)
            else:
                t.set("throughput", "not met", f"at {cap.latency_basis} under load; steady state "
                      f"{fmt(steady.output_tokens_per_s_per_chip)}{', aggregated' if req.prefill_tp else ''}"
                      if self.under_load() and steady is not None and steady.feasible else "no load meets the targets")
            t.set("limiting", cap.limiting, "")
            fix = no_fit_fix(req, cap) if no_fit else ""
            fix = f" {fix[:1].upper()}{fix[1:]}." if fix else ""
            self.notes.setText(f"{req.model.name} on {short_chip_label(req.chip)}: {window_terms(cap.explanation)}."
                               f"{fix}{caveats_text(req, cap)}")
            return
        steady = self.steady_capacity
        kind = cap.latency_basis
        # the steady state: aggregated beside a disaggregated figure, its own layout beside one best under load
        agg = ", aggregated" if req.prefill_tp else "" if steady is None or steady.tp == cap.tp else f" at TP{steady.tp}"
        if self.under_load():
            t.set("throughput", fmt(cap.output_tokens_per_s_per_chip),
                  f"{kind} under load; steady state {fmt(steady.output_tokens_per_s_per_chip)}{agg}"
                  if steady is not None and steady.feasible else f"{kind} under load")
        elif req.prefill_tp and not cap.prefill_chips:
            # the steady state serves prompts and decode on one pool: say so beside a
            # disaggregated request that could not be simulated
            t.set("throughput", fmt(cap.output_tokens_per_s_per_chip),
                  "aggregated steady state; disaggregated not simulated")
        else:
            t.set("throughput", fmt(cap.output_tokens_per_s_per_chip),
                  "steady state (mean latencies)" + self._basis_note(req, cap))
        t.set("ttft", fmt(cap.ttft_ms), f"{kind}; target {req.ttft_ms:,.0f} ms" if req.ttft_ms else f"{kind}; no target")
        t.set("tpot", fmt(cap.tpot_ms), f"{kind}; target {req.tpot_ms:g} ms" if req.tpot_ms else f"{kind}; no target")
        t.set("limiting", cap.limiting, limiting_detail(cap))
        if self.chips_for_demand:   # none asked (demand 0) reads "–", as the chart's notice says
            replicas = self.chips_for_demand // max(cap.chips_per_replica, 1)
            t.set("chips", f"{self.chips_for_demand:,}", f"{counted(replicas, 'replica')} × {cap.chips_per_replica}"
                  + self._basis_note(req, cap))
        else:
            t.set("chips", "–", "")
        c = self.comparison
        pending = ("" if c is None or c.key != self._comparison_key(req) or not c.chosen_error
                   else f" Under load: {c.chosen_error}.")
        uncalibrated = uncalibrated_note(req.chip)
        # with a demand the layout is the one that needs the fewest chips for it (engine): say why
        choice = f" Layout: {cap.layout_choice}." if getattr(cap, "layout_choice", "") else ""
        self.notes.setText(f"{req.model.name} on {short_chip_label(req.chip)} ({', '.join(target) or 'no latency targets'}): "
                           f"{window_terms(cap.explanation)}.{choice}{pending}"
                           + (f" Note: {uncalibrated}." if uncalibrated else "") + caveats_text(req, cap))

    def _basis_note(self, req: ServingRequest, cap) -> str:
        """What steady-state figures stand in for, beside the tiles: the targets hold for a
        percentile under load, which the comparison simulates. After a Cancel the tiles read as
        the answer at mean latencies (5,304 chips where p90 needs 6,512) without a word."""
        if self.under_load():
            return ""
        pct = req.slo_percentile
        aggregated = " aggregated" if req.prefill_tp and not cap.prefill_chips else ""
        c = self.comparison
        if c is not None and c.key == self._comparison_key(req) and c.chosen is not None:
            return f";{aggregated} {pct} not simulated"     # the comparison ran: it could not simulate this
        if self.runner.is_running():
            return f";{aggregated} {pct} pending"
        return f";{aggregated} {pct} not run"

    def _draw_targets(self) -> None:
        req = self.request
        for line, value in ((self._tpot_line, req.tpot_ms if req else None),
                            (self._ttft_line, req.ttft_ms if req else None)):
            if value:
                line.setValue(value)
                line.label.setFormat(("TPOT" if line is self._tpot_line else "TTFT") + f" target {value:,.0f} ms")
                line.show()
            else:
                line.hide()

    def _draw_comparison(self) -> None:
        c = self.comparison
        if c is None:
            return
        # the curves are the closed-form steady state: one pool, prompts and decode together
        agg = " (aggregated deployment)" if self.request is not None and self.request.prefill_tp else ""
        self.curve_chart.set_title(f"Throughput vs latency, steady state{agg}")
        self.ttft_chart.set_title(f"Time to first token vs running batch{agg}")
        wanted_curve, wanted_ttft = {}, {}
        for i, row in enumerate(c.rows):
            if row["tp"] is None:
                continue
            name = f"{row['name']} (TP{row['tp']}" + (f" EP{row['ep']})" if (row["ep"] or 1) > 1 else ")")
            ok = np.isfinite(c.tpot_ms[i]) & np.isfinite(c.tokens_per_s_per_chip[i])
            if ok.any():
                wanted_curve[name] = (c.tpot_ms[i][ok], c.tokens_per_s_per_chip[i][ok], c.batches[ok])
            ok = np.isfinite(c.ttft_ms[i])
            if ok.any():
                wanted_ttft[name] = (c.batches[ok], c.ttft_ms[i][ok])
        for chart, wanted in ((self.curve_chart, wanted_curve), (self.ttft_chart, wanted_ttft)):
            for name in chart.series_names():
                if name not in wanted:
                    chart.remove_series(name)
        for name, (x, y, batches) in wanted_curve.items():   # the CSV carries each point's running batch
            self.curve_chart.set_curve(name, x, y, batches)
        for name, (x, y) in wanted_ttft.items():
            self.ttft_chart.set_series(name, x, y, symbol=None)
        req = self.request
        # Ranges that keep the targets in view rather than the far tails of the curves.
        xs = np.concatenate([v[0] for v in wanted_curve.values()]) if wanted_curve else np.zeros(0)
        ys = np.concatenate([v[1] for v in wanted_curve.values()]) if wanted_curve else np.zeros(0)
        if xs.size:
            x_hi = float(np.nanmax(xs))
            if req is not None and req.tpot_ms:
                x_hi = min(x_hi, 3.0 * req.tpot_ms)
            in_view = xs <= x_hi
            self.curve_chart.plot_item.setXRange(0, x_hi * 1.02, padding=0)
            self.curve_chart.plot_item.setYRange(0, float(np.nanmax(ys[in_view])) * 1.08 if in_view.any() else 1, padding=0)
        tx = np.concatenate([x for x, _ in wanted_ttft.values()]) if wanted_ttft else np.zeros(0)
        ty = np.concatenate([y for _, y in wanted_ttft.values()]) if wanted_ttft else np.zeros(0)
        if ty.size:
            y_hi = float(np.nanmax(ty))
            if req is not None and req.ttft_ms:
                y_hi = min(y_hi, 3.0 * req.ttft_ms)
            keep = ty <= y_hi
            self.ttft_chart.plot_item.setYRange(0, y_hi * 1.05, padding=0)
            self.ttft_chart.plot_item.setXRange(0, float(np.nanmax(tx[keep])) * 1.03 if keep.any() else 1, padding=0)

        # "Ascend\n910B2", as the Plan's cost chart: on one line the names ran together at 1280 px
        names = [r["name"].replace(" ", "\n", 1) + ("" if r["chips"] is not None else "\n(targets not met)") for r in c.rows]
        self.chips_chart.set_categories(names)
        # no answer (targets not met, or no demand) is no bar and a blank cell in the export
        self.chips_chart.set_stacked({"Chips needed": [r["chips"] if r["chips"] else np.nan for r in c.rows]})
        self.chips_chart.set_notice("" if req is None or req.demand > 0 else
                                    "No peak demand entered (0 tokens/s): enter one to see chips needed")
        # which layout each row is at: the chosen chip keeps a TP the form fixes, the others search
        self.table_caption.setText(f"Chip comparison under the targets ({comparison_layout_note(c)})")
        headers, rows = self.comparison_table()
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(["Chip", "TP", "EP", "tok/s/chip", "TTFT ms", "TPOT ms",
                                              "Max conc.", "Chips", "Limiting", "Why", "Layout", "Latencies at"])
        for j, header in enumerate(headers):
            self.table.horizontalHeaderItem(j).setToolTip(header)
        for i, row in enumerate(rows):
            why = f"{row[0]}: limited by {row[8]}; {row[9]}" if row[9] else ""
            for j, value in enumerate(row):
                text = value if isinstance(value, str) else fmt(value) if value is not None else "–"
                if j in self.TABLE_DECIMALS and isinstance(value, (int, float)):
                    # one number of decimals per column: "%g" made H20's TPOT of 49.96 ms read "50"
                    # beside a 50 ms target, and 47.96 tokens/s "48" beside the 910B's "48.2"
                    text = f"{value:,.{self.TABLE_DECIMALS[j]}f}"
                item = QTableWidgetItem(text)
                if not isinstance(value, str):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(why)
                self.table.setItem(i, j, item)
        header = self.table.horizontalHeader()
        for j in self.TABLE_HIDDEN_COLUMNS:
            self.table.setColumnHidden(j, j < len(headers))
        if headers:   # the chips whole: "Latencies at" is elided first, then the table scrolls sideways
            names_first(self.table, 0, len(headers) - 1)

    # EP, max concurrency, limiting, why, layout: in the row tooltip, the caption and the CSV.
    TABLE_HIDDEN_COLUMNS = (2, 6, 8, 9, 10)

    def _draw_load(self) -> None:
        c, req = self.comparison, self.request
        a = c.load if c is not None else None
        load_charts = (self.load_chart, self.tpot_load_chart, self.ttft_hist_chart, self.kv_chart)
        for chart in load_charts:
            chart.clear_series()
        for line in (self._load_line, self._tpot_load_line, *self._load_targets.values(), *self._point_lines):
            line.hide()
        if a is None:
            why = (c.load_error if c is not None else "") or "not simulated"
            for chart in load_charts:   # the reason in each chart, not a blank one on an old run's ranges
                chart.set_notice(f"Under load: {why}" if c is not None else "")
                chart.plot_item.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
            # the user's load point still shows where it ran (draw_point_alone)
            self.load_note.setText(draw_point_alone(self, why) + f"Under load: {why}." if c is not None else "")
            return
        for chart in load_charts:
            chart.set_notice("")
            chart.plot_item.enableAutoRange()
        cv = a.curve
        rate = cv.offered_rate_per_s
        self.load_chart.set_series("TTFT p50", rate, cv.ttft_ms_p50)
        self.load_chart.set_series("TTFT p90", rate, cv.ttft_ms_p90)
        self.load_chart.set_series("TTFT p99", rate, cv.ttft_ms_p99)
        pct = c.chosen.latency_basis if c.chosen is not None and c.chosen.latency_basis in ("p50", "p99") else "p90"
        tpot_ms = {"p50": cv.tpot_ms_p50, "p90": cv.tpot_ms_p90, "p99": cv.tpot_ms_p99}[pct]
        self.tpot_load_chart.set_series(f"TPOT {pct}", rate, tpot_ms)
        for line in (self._load_line, self._tpot_load_line):
            line.show()   # first: a hidden line's label does not take its text
            line.setValue(a.chosen_rate_per_s)
            line.label.setFormat(load_point_text(c, req))
        # the targets' lines, framed with room above for their labels, clear of the load line's
        draw_load_targets(self, pct, tpot_ms)
        # the TTFT spread and KV use: at the user's load point when one is set, else at this load
        out, mine = a.chosen.output_tokens_per_s_per_chip, draw_load_point(self, pct)
        self.load_note.setText(
            mine + f"Poisson arrivals, lengths spread with CV {c.length_spread:g}. "
            + (f"Prompts on {req.prefill_instances} × TP{req.prefill_tp} prefill instance(s) beside the replica, "
               f"KV moved over the network (disaggregated). " if req is not None and req.prefill_tp else "")
            + f"At {'the red line, ' if mine else ''}{a.chosen_rate_per_s:.2f} requests/s per replica: {fmt(out)} output tokens/s per chip, "
            f"TTFT p50/p90/p99 {a.chosen.ttft_ms['p50']:,.0f} / {a.chosen.ttft_ms['p90']:,.0f} / "
            f"{a.chosen.ttft_ms['p99']:,.0f} ms, TPOT {pct} {a.chosen.tpot_ms[pct]:.1f} ms. "
            + (f"Knee near {cv.knee_rate_per_s:.2f} requests/s (TTFT p90 three times its light-load value)"
               if np.isfinite(cv.knee_rate_per_s) else "No knee in the loads shown (TTFT p90 stays "
               "under three times its light-load value)")
            + (f"; offline saturation estimate {cv.saturation_rate_per_s:.2f} requests/s"
               if a.chosen_rate_per_s <= cv.saturation_rate_per_s else
               f"; served load still grows past the offline saturation estimate of "
               f"{cv.saturation_rate_per_s:.2f} requests/s (that run ends draining its longest requests"
               + (" and waits on the prefill pool" if req is not None and req.prefill_tp else "")
               + "), so loads beyond it were simulated")
            + f". Limiting: {a.limiting}."
            + (f" ({a.note})" if a.note else ""))

    TABLE_DECIMALS = {3: 1, 4: 0, 5: 2}   # tok/s/chip, TTFT ms, TPOT ms

    def comparison_table(self) -> tuple[list[str], list[list]]:
        return comparison_table(self.comparison)

    def export_table_csv(self, path) -> None:
        """The chip comparison with the lines saying what it shows (scenario, model, workload), as
        every chart's export has them; nothing written before the comparison has run."""
        headers, rows = self.comparison_table()
        rows = list(rows)
        if not rows:
            raise ValueError("the chip comparison has not run yet: press Compare chips first")
        provider = getattr(self.curve_chart, "context_provider", None)   # the window's: names the scenario
        context = provider() if provider else self.chart_export_context("throughput-latency")
        # rows simulated at a percentile beside rows of steady-state means: the header line says which
        context = {**context, "Latencies at": comparison_basis_text(self.comparison)}
        export_mod.export_csv(headers, rows, path, context=context)

    def _export_table_with_dialog(self) -> None:
        from gui.settings import last_dir, remember_dir

        from gui.widgets.save_path import with_suffix_confirmed

        if not self.comparison_table()[1]:   # refused before asking for a file name
            self.status_message.emit("Not exported: the chip comparison has not run yet: press Compare chips first")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV", f"{last_dir('export')}/chip-comparison.csv",
                                              "CSV (*.csv)")
        path = with_suffix_confirmed(self, path, "csv")   # ".csv" added, and asked before replacing
        if not path:
            return
        try:
            self.export_table_csv(path)
        except (OSError, ValueError) as exc:
            self.status_message.emit(f"Could not export to {path}: {exc}")
            return
        remember_dir("export", path)
        self.status_message.emit(f"Saved CSV to {path}")

    # ---- protocol ----------------------------------------------------------------------------
    def chart_export_context(self, chart_key: str) -> dict:
        """Every chart here draws the comparison: one left from earlier inputs is labelled with
        the inputs it ran from."""
        c = self.comparison
        # invalid inputs keep the last comparison on screen: it is labelled with its own inputs too
        context = self._comparison_context() if c is not None and (self.request is None or self._comparison_lags()) \
            else self.export_context()
        load = c.load if c is not None else None
        if chart_key in ("ttft-distribution", "kv-use") and load is not None:   # one run, at one load
            context["Load"] = f"{load.chosen_rate_per_s:.2f} requests/s per replica (Poisson arrivals)"
        elif chart_key in ("latency-vs-load", "tpot-vs-load") and load is not None:   # what the note says
            context.update(load_curve_context(c))
        return point_context(context, c, chart_key)   # which load point the Under load charts read

    def _comparison_context(self) -> dict:
        c = self.comparison
        assert c is not None
        why = "are not valid" if self.request is None else "changed after this comparison ran"
        return {**self._request_context(c.key[0]),
                "Note": f"the form's inputs {why}: it is for the inputs above, not the ones on screen"}

    def export_context(self) -> dict:
        """What this panel's exports show (model and workload, in the units the form uses)."""
        req = self.request
        if req is None:
            return {"Model": self.model_combo.currentText(), "Workload": "inputs invalid (results out of date)"}
        context = self._request_context(req)
        cap = self.capacity
        if cap is not None and getattr(cap, "latency_basis", "mean") == "mean" and (req.ttft_ms or req.tpot_ms):
            # the figures hold the targets at the steady state's means, as the tiles say: the files' header had
            # read "targets at p90 under Poisson arrivals" beside them (QA s40)
            pct = req.slo_percentile
            context["Serving"] = context["Serving"].replace(
                f"targets at {pct} under Poisson arrivals",
                f"targets asked at {pct} under Poisson arrivals, these figures at the steady state's mean "
                f"latencies ({self._basis_note(req, cap).lstrip(';').strip()})", 1)
        return context

    @staticmethod
    def _request_context(req: ServingRequest) -> dict:
        return {"Model": req.model.name,
                "Workload": ", ".join([f"{short_chip_label(req.chip)}",
                                       f"{req.input_len:,.0f} in / {req.output_len:,.0f} out tokens"]
                                      + ([f"TTFT ≤ {req.ttft_ms:,.0f} ms"] if req.ttft_ms else [])
                                      + ([f"TPOT ≤ {req.tpot_ms:g} ms"] if req.tpot_ms else [])
                                      + [f"peak demand {fmt_big(req.demand)} output tokens/s"]),
                "Serving": ", ".join([f"targets at {req.slo_percentile} under Poisson arrivals",
                                      f"lengths spread CV {req.length_spread:g}",
                                      f"{req.weight_dtype.upper()} weights, {req.kv_dtype.upper()} KV",
                                      f"engine {req.engine or 'not given (vLLM-style)'}"]
                                     + ([f"prefix cache {100 * req.prefix_cache_hit:g}%"] if req.prefix_cache_hit else [])),
                "CLI": serve_command(req)}

    def result_widgets(self) -> list:
        """What shows results (greyed while the inputs are invalid)."""
        return [self.tiles, self.notes, self.load_note, *self.charts().values(), self.table]

    def charts(self) -> dict:
        return {"throughput-latency": self.curve_chart, "ttft": self.ttft_chart,
                "chips-needed": self.chips_chart, "latency-vs-load": self.load_chart,
                "tpot-vs-load": self.tpot_load_chart,
                "ttft-distribution": self.ttft_hist_chart, "kv-use": self.kv_chart}

    def tables(self) -> dict:
        out = {"figures": (["Figure", "Value", "Unit"], self.figure_rows())}
        if self.comparison is not None:
            out["chip-comparison"] = self.comparison_table()
        return out

    def figure_rows(self) -> list[list]:
        return serving_key_figures(self.request, self.capacity, self.chips_for_demand)

    def compute_now(self, progress=None, should_stop=None) -> None:
        self.timer.stop()
        self.runner.cancel(emit=False)
        self._running_key = None
        self._evaluate()
        self.runner.cancel(emit=False)
        self.run_bar.set_busy(False)
        self._running_key = None
        req = self.request
        if req is None:
            return
        key = self._comparison_key(req)
        if self.comparison is None or self.comparison.key != key:
            chips = tuple(self._chips[i] for i in self._compare_ids(req))
            self._on_comparison(run_chip_comparison(req, chips, key, labels=self._chip_labels(), progress=progress,
                                                    should_stop=should_stop, load_point=self.load_point))
        elif self.comparison.load_point != self.load_point:
            self._on_comparison(with_load_point(self.comparison, req, self.load_point, should_stop=should_stop))

    def shutdown(self) -> None:
        super().shutdown()
        self._running_key = None

