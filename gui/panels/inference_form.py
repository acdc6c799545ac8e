"""The Inference view's form: model and chip, layout and precision, workload and targets, the
chips to compare, and the two-way binding between the widgets and the ServingStudy
(engine.studies) a scenario saves. The panel (gui/panels/inference.py) evaluates and draws.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from engine.inference import KV_DTYPES, SERVE_DTYPES, default_kv_dtype
from engine.serving.families import scheduler_for
from engine.studies import ServingStudy, forecast_tokens_per_day
from engine.studies_load import LOAD_UNITS
from engine.studies_serving import ep_choices
from gui import style
from gui.widgets.exact_fields import ExactFields
from gui.panels.base import (
    DEFAULT_COMPARE_CHIPS, ChipSetButton, chip_label, combo, dspin, fmt_big, form_page, model_combo,
    missing_choices, saved_study, section, select_data, spin,
)

ENGINES = (("vLLM (default)", ""), ("SGLang", "sglang"), ("TensorRT-LLM", "trtllm"),
           ("vLLM-Ascend", "vllm-ascend"), ("MindIE", "mindie"), ("TGI", "tgi"),
           ("Generic / unstated (eager)", "generic"))
TP_CHOICES = (1, 2, 4, 8, 16, 32, 64)
LOAD_SUFFIX = {kind: f" {unit}" for kind, unit in LOAD_UNITS.items()}   # the load point value's unit
DEFAULTS = ServingStudy().to_dict()  # the saved state is a ServingStudy (engine.studies)


def _ways(n: int) -> str:
    """A TP or EP choice as read aloud: "1 way", "8 ways" (the combo said "1 ways")."""
    return f"{n} way" if n == 1 else f"{n} ways"


class InferenceForm:
    """Mixed into InferencePanel (an AnalysisPanel): builds the form into `self` and converts it to
    and from a ServingStudy. Needs `self.errors`, `self.schedule`, `self._chips`, `self._models`,
    `self._loading` and `self.banner` from the panel."""
    # the form's labels for its inputs (the undo menu names an edit by them)
    STATE_LABELS = {
        "model_id": "Model",
        "chip_id": "Chip",
        "engine": "Serving engine",
        "tp": "Tensor parallel TP",
        "ep": "Expert parallel EP",
        "weight_dtype": "Weights",
        "kv_dtype": "KV cache",
        "prefill_tp": "Prefill",
        "prefill_instances": "Prefill instances",
        "max_num_seqs": "Max running sequences",
        "max_num_batched_tokens": "Token budget per step",
        "input_len": "Input length",
        "output_len": "Output length",
        "ttft_ms": "TTFT target",
        "tpot_ms": "TPOT target",
        "slo_percentile": "Targets hold for",
        "load_point": "Load point",
        "load_value": "Load",
        "prefix_cache_pct": "Prefix-cache hits",
        "length_spread": "Length spread",
        "demand_tokens_per_s": "Peak demand",
        "compare_chips": "Chips to compare",
    }

    # ---- form --------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        self._exact_fields = ExactFields()   # loaded values kept exactly while the fields show them
        e = self.errors
        page, column = form_page()
        column.addWidget(section("Model and chip"))
        form = QFormLayout()
        self.model_combo = model_combo(self._models)
        e.add_row(form, "model", "Model", self.model_combo, "The model to serve (presets from the store)")
        self.chip_combo = combo([(chip_label(c), c.id) for c in self._chips.values()])
        e.add_row(form, "chip", "Chip", self.chip_combo, "Chip type of the serving replicas")
        self.engine_combo = combo(list(ENGINES))
        e.add_row(form, "engine", "Serving engine", self.engine_combo,
                  "Engine family whose calibration applies (overheads, bandwidth efficiency)")
        column.addLayout(form)

        column.addWidget(section("Layout and precision"))
        form = QFormLayout()
        self.tp_combo = combo([("Best under the targets", None)] + [(_ways(t), t) for t in TP_CHOICES])
        e.add_row(form, "tp", "Tensor parallel TP", self.tp_combo,
                  "Chips per replica splitting each layer; 'best' searches TP (and EP for MoE)")
        self.ep_combo = combo([("Best / none", None)])
        e.add_row(form, "ep", "Expert parallel EP", self.ep_combo, "Experts split across chips (MoE models)")
        self.weight_combo = combo([(d.upper(), d) for d in SERVE_DTYPES])
        e.add_row(form, "weight_dtype", "Weights", self.weight_combo,
                  "Weight precision. FP8/INT8/FP4 run 8-/4-bit GEMMs on chips with that rate and weight-only "
                  "(16-bit GEMMs) elsewhere; INT4 is weight-only (W4A16)")
        self.kv_combo = combo([(d.upper(), d) for d in KV_DTYPES])
        e.add_row(form, "kv_dtype", "KV cache", self.kv_combo,
                  "KV-cache precision. Follows the weights as `fleetcast serve` does (FP8 with FP8 weights, and "
                  "with FP4 on a chip with an FP8 rate; else 16-bit) until you pick another")
        # whether the KV precision shown is the user's own pick, not the default (`_follow_kv_default`)
        self._kv_picked = False
        for follow in (self.weight_combo, self.chip_combo):
            follow.activated.connect(self._follow_kv_default)
        self.kv_combo.activated.connect(self._on_kv_picked)
        self.prefill_combo = combo([("On the replica (aggregated)", 0)] + [(f"Separate, TP{t}", t) for t in TP_CHOICES])
        e.add_row(form, "prefill_tp", "Prefill", self.prefill_combo,
                  "Where prompts run. Separate (disaggregated): on prefill instances of this TP beside each "
                  "replica, their KV moved to the replica over the scale-out network, so decode steps carry no "
                  "prompts. Applies to the simulated figures (under load) and counts those chips too")
        self.prefill_spin = spin(1, 64, 1, " per replica", step=1)
        e.add_row(form, "prefill_instances", "Prefill instances", self.prefill_spin,
                  "Separate prefill instances beside each replica (disaggregated prefill only)")
        self.prefill_combo.currentIndexChanged.connect(self._enable_prefill_instances)
        column.addLayout(form)

        column.addWidget(section("Engine limits (per replica)"))
        form = QFormLayout()
        self.max_seqs_spin = spin(0, 10_000_000, 0, " sequences", special="engine default", step=64)
        e.add_row(form, "max_num_seqs", "Max running sequences", self.max_seqs_spin,
                  "The engine's cap on sequences decoding together (vLLM --max-num-seqs, TensorRT-LLM "
                  "max_batch_size, SGLang --max-running-requests); 0 = the engine family's default")
        self.max_tokens_spin = spin(0, 10_000_000, 0, " tokens", special="engine default", step=1024)
        e.add_row(form, "max_num_batched_tokens", "Token budget per step", self.max_tokens_spin,
                  "Prompt and decode tokens one step may take (vLLM --max-num-batched-tokens, TensorRT-LLM "
                  "max_num_tokens, SGLang --chunked-prefill-size); 0 = the engine family's default")
        self.limits_hint = QLabel("")
        self.limits_hint.setWordWrap(True)
        self.limits_hint.setStyleSheet(style.hint_style(small=True))
        form.addRow(self.limits_hint)
        column.addLayout(form)

        column.addWidget(section("Workload and targets"))
        form = QFormLayout()
        self.input_spin = spin(1, 1_000_000, 1024, " tokens", step=128)
        e.add_row(form, "input_len", "Input length", self.input_spin, "Prompt tokens per request")
        self.output_spin = spin(1, 1_000_000, 256, " tokens", step=64)
        e.add_row(form, "output_len", "Output length", self.output_spin, "Generated tokens per request")
        self.ttft_spin = dspin(0.0, 600_000.0, 2000.0, 0, " ms", special="no target", step=100.0)
        e.add_row(form, "ttft_ms", "TTFT target", self.ttft_spin, "Time-to-first-token target (0 = none)")
        self.tpot_spin = dspin(0.0, 10_000.0, 50.0, 1, " ms", special="no target", step=5.0)
        e.add_row(form, "tpot_ms", "TPOT target", self.tpot_spin, "Time-per-output-token target (0 = none)")
        self.pct_combo = combo([("90% of requests (p90)", "p90"), ("99% of requests (p99)", "p99"),
                                ("half of requests (p50)", "p50")])
        e.add_row(form, "slo_percentile", "Targets hold for", self.pct_combo,
                  "The share of requests whose TTFT and TPOT must meet the targets under Poisson load (the "
                  "figures under load, the Forecast's basis); the steady-state figure holds mean latencies")
        self.load_combo = combo([("At the targets' capacity", "targets"), ("Poisson arrivals", "rate"),
                                 ("Concurrent clients", "concurrency"), ("Offline, all at once", "offline")])
        e.add_row(form, "load_point", "Load point", self.load_combo,
                  "The load the Under load tab's TTFT spread, KV use and note are read at: the SLO capacity "
                  "the targets allow (default), Poisson arrivals at a rate, a closed loop of clients, or every "
                  "request at once (as serve --request-rate / --concurrency / --offline, for one replica). "
                  "A what-if: Chips for the demand stays at the targets' capacity")
        self.load_spin = dspin(0.0, 100_000.0, 1.0, 2, LOAD_SUFFIX["rate"], step=0.5)
        e.add_row(form, "load_value", "Load", self.load_spin,
                  "Poisson arrivals: requests per second offered to one replica; concurrent clients: "
                  "requests kept in flight on one replica (serve --scenario multiplies by the replicas)")
        # each kind keeps its own value (see _on_load_kind); the kind shown last
        self._load_kept = dict(DEFAULTS["load_values"])
        self._load_kind_shown = "rate"
        self.load_combo.currentIndexChanged.connect(self._on_load_kind)
        self.prefix_spin = dspin(0.0, 99.0, 0.0, 0, " %", step=5.0)   # as serve --prefix-cache-pct: 0 to 99
        e.add_row(form, "prefix", "Prefix-cache hits", self.prefix_spin,
                  "Share of prompt tokens already cached (shared system prompts): they skip prefill")
        self.spread_spin = dspin(0.0, 10.0, 0.5, 2, "", step=0.1)
        e.add_row(form, "length_spread", "Length spread (CV)", self.spread_spin,
                  "How much prompt and output lengths vary around the lengths above, as a coefficient of "
                  "variation, in the simulated loads (Under load; serve --scenario): 0 = every request the same "
                  "length; chat traffic runs near 1")
        self.demand_spin = dspin(0.0, 1e12, 1_000_000.0, 0, " output tokens/s", step=100_000.0)
        e.add_row(form, "demand", "Peak demand", self.demand_spin,
                  "Output tokens per second to serve at peak (the Forecast counts tokens per day)")
        self.demand_hint = QLabel("")
        self.demand_hint.setWordWrap(True)
        self.demand_hint.setStyleSheet(style.hint_style(small=True))
        form.addRow(self.demand_hint)
        for box in (self.demand_spin, self.input_spin, self.output_spin):   # the hint reads the request mix
            box.valueChanged.connect(self._show_demand_per_day)
        column.addLayout(form)

        column.addWidget(section("Comparison"))
        self.compare_button = ChipSetButton()
        self.compare_button.setToolTip("Chip types drawn in the curves and the chips-needed chart")
        column.addWidget(self.compare_button)
        column.addStretch(1)

        for w in (self.input_spin, self.output_spin, self.ttft_spin, self.tpot_spin, self.prefix_spin,
                  self.demand_spin, self.max_seqs_spin, self.max_tokens_spin, self.spread_spin, self.prefill_spin,
                  self.load_spin):
            w.valueChanged.connect(self.schedule)
        self.engine_combo.currentIndexChanged.connect(self._show_engine_limits)
        for w in (self.chip_combo, self.engine_combo, self.tp_combo, self.ep_combo, self.weight_combo,
                  self.kv_combo, self.prefill_combo, self.pct_combo, self.load_combo):
            w.currentIndexChanged.connect(self.schedule)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.compare_button.changed.connect(self.schedule)
        return page

    def _on_load_kind(self, *_) -> None:
        """The value's unit follows the kind (clients are whole); none for the targets or offline."""
        kind = self.load_combo.currentData()
        box = self.load_spin
        # each kind keeps its own value: whole clients rounded a rate of 2.5/s to 3 (0.4/s to 0, an
        # error), and that was what came back and was saved (QA s31)
        kept = self._load_kept
        before = self._load_kind_shown
        if before in kept:
            kept[before] = box.value()
        self._load_kind_shown = kind
        box.setEnabled(kind in LOAD_SUFFIX)
        box.blockSignals(True)   # the kind's edit is one undo step, not two
        box.setDecimals(0 if kind == "concurrency" else 2)
        box.setSingleStep(1.0 if kind == "concurrency" else 0.5)
        box.setSuffix(LOAD_SUFFIX.get(kind, LOAD_SUFFIX["rate"]))
        if kind in kept:
            box.setValue(kept[kind])
        box.blockSignals(False)

    def _enable_prefill_instances(self, *_) -> None:
        self.prefill_spin.setEnabled(bool(self.prefill_combo.currentData()))

    def _on_model_changed(self, *_):
        self._fill_ep_choices()
        self.schedule()

    def _fill_ep_choices(self, wanted=None) -> None:
        model = self._models.get(self.model_combo.currentData())
        current = self.ep_combo.currentData() if wanted is None else wanted
        self.ep_combo.blockSignals(True)
        self.ep_combo.clear()
        if model is not None and model.is_moe:
            self.ep_combo.addItem("Best under the targets", None)
            for e in ep_choices(model):
                self.ep_combo.addItem(_ways(e), e)
            self.ep_combo.setEnabled(True)
        else:
            self.ep_combo.addItem("– (dense model)", None)
            self.ep_combo.setEnabled(False)
        select_data(self.ep_combo, current)
        self.ep_combo.blockSignals(False)

    def current_study(self) -> ServingStudy:
        return ServingStudy.from_dict(self.scenario_state())

    def _show_engine_limits(self, *_) -> None:
        """The engine family's documented defaults, which a 0 in the two limit fields means."""
        engine = self.engine_combo.currentData() or ""
        sched = scheduler_for(engine)
        name = self.engine_combo.currentText().replace(" (default)", "")
        self.limits_hint.setText(
            f"{name} defaults: {sched.max_num_seqs:,} sequences, "
            f"{sched.max_num_batched_tokens:,} tokens per step")

    def _show_demand_per_day(self, *_) -> None:
        per_s = self.demand_spin.value()
        # the Forecast counts average input + output tokens a day (not output tokens at the peak rate)
        day = forecast_tokens_per_day(per_s, self.input_spin.value(), max(self.output_spin.value(), 1))
        self.demand_hint.setText(
            f"Output tokens at peak: {fmt_big(per_s)} per s; as the Forecast counts demand (input + output "
            f"tokens a day at this mix): {fmt_big(day)} if the peak were the average (divide by its "
            "peak-to-average)" if per_s > 0 else "No demand: chips needed is not computed.")

    def scenario_state(self) -> dict:
        return {
            "model_id": self.model_combo.currentData(), "chip_id": self.chip_combo.currentData(),
            "tp": self.tp_combo.currentData(), "ep": self.ep_combo.currentData(),
            "weight_dtype": self.weight_combo.currentData(), "kv_dtype": self.kv_combo.currentData(),
            "engine": self.engine_combo.currentData(), "input_len": self.input_spin.value(),
            "output_len": self.output_spin.value(), "ttft_ms": self._exact_fields.value(self.ttft_spin),
            "tpot_ms": self._exact_fields.value(self.tpot_spin), "prefix_cache_pct": self._exact_fields.value(self.prefix_spin),
            "demand_tokens_per_s": self._exact_fields.value(self.demand_spin), "compare_chips": self.compare_button.selected(),
            "max_num_seqs": self.max_seqs_spin.value() or None,
            "max_num_batched_tokens": self.max_tokens_spin.value() or None,
            "length_spread": self._exact_fields.value(self.spread_spin),
            "prefill_tp": int(self.prefill_combo.currentData() or 0),
            "prefill_instances": self.prefill_spin.value(),
            "slo_percentile": self.pct_combo.currentData(),
            "load_point": self.load_combo.currentData(), "load_value": self.load_spin.value(),
            # every kind's value, the one shown as typed (the others as kept: `_on_load_kind`)
            "load_values": {**self._load_kept, **({self._load_kind_shown: self.load_spin.value()}
                                                 if self._load_kind_shown in self._load_kept else {})},
            "version": DEFAULTS["version"],
        }

    def apply_scenario_state(self, state: dict) -> None:
        s = saved_study(ServingStudy, state, DEFAULTS, self.banner)
        self._loading = True
        try:
            missing = []   # (what, saved id, shown instead): one banner names them all
            if not select_data(self.model_combo, s["model_id"]) and self.model_combo.count():
                self.model_combo.setCurrentIndex(0)
                missing.append(("model", s["model_id"], self.model_combo.currentText()))
            self._fill_ep_choices(s["ep"])
            if not select_data(self.chip_combo, s["chip_id"]) and self.chip_combo.count():
                self.chip_combo.setCurrentIndex(0)
                missing.append(("chip", s["chip_id"], self.chip_combo.currentText()))
            missing_choices(self.banner, missing)
            select_data(self.tp_combo, s["tp"])
            select_data(self.weight_combo, s["weight_dtype"])
            select_data(self.kv_combo, s["kv_dtype"])
            select_data(self.engine_combo, s["engine"])
            self.input_spin.setValue(int(s["input_len"]))
            self.output_spin.setValue(int(s["output_len"]))
            # kept exactly while shown rounded (QA s37: a TTFT of 1234.567 ran at 1235 in the report)
            self._exact_fields.clear()
            self._exact_fields.show(self.ttft_spin, float(s["ttft_ms"] or 0.0))
            self._exact_fields.show(self.tpot_spin, float(s["tpot_ms"] or 0.0))
            self._exact_fields.show(self.prefix_spin, float(s["prefix_cache_pct"] or 0.0))
            self._exact_fields.show(self.demand_spin, float(s["demand_tokens_per_s"] or 0.0))
            self.max_seqs_spin.setValue(int(s.get("max_num_seqs") or 0))
            self.max_tokens_spin.setValue(int(s.get("max_num_batched_tokens") or 0))
            self._exact_fields.show(self.spread_spin, float(s.get("length_spread", DEFAULTS["length_spread"]) or 0.0))
            if not select_data(self.prefill_combo, int(s.get("prefill_tp") or 0)):
                self.prefill_combo.setCurrentIndex(0)
            self.prefill_spin.setValue(int(s.get("prefill_instances") or 1))
            if not select_data(self.pct_combo, s.get("slo_percentile") or "p90"):
                self.pct_combo.setCurrentIndex(0)
            self._enable_prefill_instances()
            if not select_data(self.load_combo, s.get("load_point") or "targets"):
                self.load_combo.setCurrentIndex(0)
            # the scenario's value for each kind, not the one typed in the scenario shown before
            self._load_kept = {**DEFAULTS["load_values"], **(s.get("load_values") or {})}
            self._load_kind_shown = None   # (nothing on screen to keep: the spin still has the old scenario's)
            self._on_load_kind()
            self.load_spin.setValue(float(s.get("load_value", DEFAULTS["load_value"]) or 0.0))
            if self._load_kind_shown in self._load_kept:
                self._load_kept[self._load_kind_shown] = self.load_spin.value()
            compare = [c for c in (s.get("compare_chips") or []) if c in self._chips]
            self.compare_button.set_chips(self._chips.values(), compare or
                                          [c for c in DEFAULT_COMPARE_CHIPS if c in self._chips])
        finally:
            self._loading = False
        self._note_kv_basis()   # a loaded study's KV off its default was picked for it
        self._show_demand_per_day()
        self._show_engine_limits()
        self.schedule()

    def _kv_default(self) -> str:
        return default_kv_dtype(self.weight_combo.currentData(), self._chips.get(self.chip_combo.currentData()))

    def _note_kv_basis(self) -> None:
        self._kv_picked = self.kv_combo.currentData() != self._kv_default()

    def _on_kv_picked(self, _index: int) -> None:
        # picking the default itself lets it follow again; any other is the user's and stays
        self._note_kv_basis()

    def _follow_kv_default(self, *_) -> None:
        """The user picked weights or a chip: a KV precision the user has not picked follows to their
        default (`engine.inference.default_kv_dtype`, serve's rule). The window had kept BF16 under FP4
        weights where `serve` ran FP8: DeepSeek-V3 on B200, TP1 EP8 and 472 chips beside the CLI's TP4
        and 464 (QA s40). A KV precision the user picked stays, through later changes of the weights."""
        if not self._kv_picked:
            select_data(self.kv_combo, self._kv_default())
