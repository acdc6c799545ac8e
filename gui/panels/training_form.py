"""The Training view's form: its widgets, grouped as the planner reads them (model, fleet, run,
layout, software, scaling curve), and the two-way binding between the widgets and the
TrainingStudy (engine.studies) a scenario saves. The panel (gui/panels/training.py) evaluates
the study and draws; every check and default lives in the study.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

from PySide6.QtCore import QDate, QLocale
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QDateEdit, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from engine.fleet import INSTALL_LAG_DAYS, first_month_all_installed
from engine.layout import DIMENSION
from engine.reliability import CHECKPOINT_BYTES_PER_PARAM, DEFAULT_MTBF_CHIP_HOURS
from engine.studies import SOFTWARE_DEFAULTS, TrainingStudy
from engine.training import EXPERT_TP_MAX, RECOMPUTE_NAMES
from gui import style
from gui.widgets.exact_fields import ExactFields
from gui.panels.base import (
    DEFAULT_COMPARE_CHIPS, ChipSetButton, chip_label, combo, dspin, form_page, model_combo,
    _number_box, missing_choices, saved_study, section, select_data, spin,
)

DEFAULTS = TrainingStudy().to_dict()  # the saved state is a TrainingStudy (engine.studies)
# Where a saved choice is looked for, in the banner's words: models are presets, not catalog entries
SOFTWARE_CHECKS = (  # (field, caption, tooltip)
    ("flash_attention", "Fused attention (FlashAttention)", "Attention kernels that never store the score matrix"),
    ("sequence_parallel", "Sequence parallelism", "Norms and dropout split over the TP group (all-gather + "
                                                  "reduce-scatter instead of all-reduce)"),
    ("grad_overlap", "Overlap gradient reduction", "Data-parallel gradient reduction bucketed under backward"),
    ("tp_comm_overlap", "Overlap TP communication", "TP collectives hidden behind GEMMs (TransformerEngine)"),
    ("dropout", "Dropout", "Dropout layers active (older GPT-style runs)"),
    ("fp8_dispatch", "FP8 MoE dispatch", "With FP8 training, MoE tokens go to their experts in FP8 (combined in "
                                         "BF16), as DeepSeek-V3 does; off: BF16 both ways"),
)
CUSTOM_FIELDS = (  # (field, caption, max)
    ("layers", "Layers", 1000), ("hidden", "Hidden size", 65536), ("heads", "Attention heads", 1024),
    ("kv_heads", "KV heads", 1024), ("ffn_hidden", "FFN width", 262144), ("vocab", "Vocabulary", 1_000_000),
    ("moe_experts", "Routed experts", 1024), ("moe_topk", "Experts per token", 64),
    ("moe_ffn_hidden", "Expert FFN width", 65536),
    ("attention_window_tokens", "Attention window (tokens)", 10_000_000), ("windowed_layers", "Windowed layers", 1000),
)
# The windowed-attention fields (engine.models): 0 is "none", so they start at 0 with a unit and a
# tip of their own: {field: (unit suffix, text shown at 0, tooltip)}
WINDOW_SPINS = {
    "attention_window_tokens": (
        " tokens", "no window",
        "Tokens each windowed layer attends to and keeps in its KV cache: a sliding window (Mistral 7B v0.1 "
        "4,096 on every layer, Gemma 3 1,024 on 5 of 6, gpt-oss 128 on half), or Llama 4's chunk (8,192 on "
        "3 of 4; counted as a window of the chunk). 'no window' = every layer attends to the whole sequence"),
    "windowed_layers": (
        " layers", None,
        "How many of the layers attend within the attention window; the others attend to the whole "
        "sequence. 0 with no window"),
}

EXACT_DIGITS = 10   # significant digits an exact spin box keeps and shows


class ExactSpin(QDoubleSpinBox):
    """A number box that keeps a value as saved and shows its significant digits: with fixed
    decimals a study saved with 2.4 GB/s opened as 2, and an MTBF of 0.4 as 0 (the Llama 3 rate).

    `special_stands_for`: the value the special text at the minimum means (the MTBF's "Llama 3 rate"
    is 50,677 chip-h, stored as 0). The arrows then step from it: Up from the special text went to
    0 + 5,000 chip-h, a chip ten times less reliable; now it reads 55,000 and Down 50,000."""

    special_stands_for: float | None = None

    def textFromValue(self, value: float) -> str:   # (the locale's, as the box reads it back)
        locale = self.locale()   # with the separators the box is set to show ("5000" beside "50,677")
        omit = QLocale.NumberOption.OmitGroupSeparator
        locale.setNumberOptions(locale.numberOptions() & ~omit if self.isGroupSeparatorShown()
                                else locale.numberOptions() | omit)
        return locale.toString(float(value), "g", EXACT_DIGITS)

    def _on_special(self) -> bool:
        return (self.special_stands_for is not None and bool(self.specialValueText())
                and self.value() == self.minimum() and not self.isReadOnly())

    def stepBy(self, steps: int) -> None:
        if not self._on_special() or steps == 0:
            super().stepBy(steps)
            return
        step, stands_for = self.singleStep(), float(self.special_stands_for or 0.0)
        # to the step grid beside the value meant: 50,677 -> 55,000 up, 50,000 down
        grid = math.floor(stands_for / step) if steps > 0 else math.ceil(stands_for / step)
        self.setValue((grid + steps) * step)   # (bounded by the range; far enough down, the special text)
        self.selectAll()

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:
        flags = super().stepEnabled()
        if self._on_special():   # at the minimum, yet there are values below the one it means
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        return flags


def exact_spin(lo: float, hi: float, value: float, suffix: str = "", special: str | None = None,
               step: float = 1.0, special_stands_for: float | None = None) -> ExactSpin:
    box = ExactSpin()
    box.special_stands_for = special_stands_for
    box.setDecimals(EXACT_DIGITS)   # before the value: it rounds to the decimals
    return _number_box(box, lo, hi, value, step, suffix, special)


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


class TrainingForm:
    """Mixed into TrainingPanel (an AnalysisPanel): builds the form into `self` and converts it to
    and from a TrainingStudy. Needs `self.errors`, `self.schedule`, `self._chips`, `self._models`,
    `self._orders`, `self._loading` and `self.banner` from the panel."""
    # the form's labels for its inputs (the undo menu names an edit by them)
    STATE_LABELS = {
        "model_id": "Preset",
        "custom": "Architecture",
        "chip_id": "Chip",
        "chips_source": "Chips from",
        "num_chips": "Chip count",
        "fleet_date": "Fleet on date",
        "tokens_t": "Token budget",
        "seq_len": "Sequence length",
        "global_batch": "Global batch",
        "dtype": "Precision",
        "layout_mode": "Layout",
        "layout": "Layout",
        "price_per_chip_hour": "Price",
        "mtbf_chip_hours": "MTBF per chip",
        "restart_min": "Restart time",
        "checkpoint_write_gbps": "Checkpoint write",
        "checkpoint_bytes_per_param": "Checkpoint size",
        "compare_chips": "Chips to compare",
        "software": "Software",
    }

    # ---- form --------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        self._exact_fields = ExactFields()   # loaded values kept exactly while the fields show them
        e = self.errors
        page, column = form_page()

        column.addWidget(section("Model"))
        form = QFormLayout()
        self.model_combo = model_combo(self._models)
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
            if name in WINDOW_SPINS:
                unit, special, tip = WINDOW_SPINS[name]
                box = spin(0, hi, 0, unit, special=special, step=128 if name == "attention_window_tokens" else 1)
            else:
                box = spin(0 if name.startswith("moe") else 1, hi, 1)
                tip = f"{caption} of the custom model ({name}); 0 experts = dense"
            self.custom_spins[name] = box
            e.add_row(custom_form, f"custom_{name}", caption, box, tip)
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
                  "Chips of this type delivered by this date minus the scenario's install lag (Forecast > "
                  f"Supply; {INSTALL_LAG_DAYS:.0f} days by default)")
        self.fleet_hint = QLabel("")
        self.fleet_hint.setWordWrap(True)
        self.fleet_hint.setStyleSheet(style.hint_style(small=True))
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
        self.batch_hint.setStyleSheet(style.hint_style(small=True))
        form.addRow(self.batch_hint)
        # FP16 runs at the chips' one 16-bit peak, as BF16 does (engine.hardware); it trains with a
        # dynamic loss scale, whose few skipped steps are not counted
        self.dtype_combo = combo([("BF16", "bf16"), ("FP16 (loss scaling)", "fp16"), ("FP8 (GEMMs)", "fp8")])
        e.add_row(form, "dtype", "Precision", self.dtype_combo,
                  "Matrix-multiply precision. FP16: the same 16-bit peak and memory as BF16, trained with a loss "
                  "scale against gradient underflow (its occasional skipped steps are not counted); FP8: the "
                  "GEMMs in FP8")
        self.price_spin = dspin(0.0, 1000.0, 0.0, 2, " USD/chip-h", special="amortised list price", step=0.25)
        e.add_row(form, "price", "Price", self.price_spin,
                  "USD per chip-hour for the cost (0 = list price amortised over 5 years)")
        column.addLayout(form)

        column.addWidget(section("Reliability"))
        form = QFormLayout()
        # (key, label, box, tip): the run's failures, restarts and checkpoints (engine.reliability)
        reliability = (
            ("mtbf", "MTBF per chip", exact_spin(0.0, 1e9, 0.0, " chip-h", step=5000.0,
                                                 special=f"Llama 3 rate ({DEFAULT_MTBF_CHIP_HOURS:,.0f} chip-h)",
                                                 special_stands_for=DEFAULT_MTBF_CHIP_HOURS),
             "Mean time between job-stopping failures (GPU, HBM, host, network, software) per chip, in hours: "
             "a job on N chips stops every MTBF / N hours. 0 = the Llama 3 report's rate (419 interruptions "
             "in 54 days on 16,384 H100)"),
            ("restart", "Restart time", exact_spin(0.0, 10_000.0, 10.0, " min", step=5.0),
             "Minutes from a failure to training again (detect, replace, reload the checkpoint)"),
            ("checkpoint", "Checkpoint write", exact_spin(0.001, 1e7, 1000.0, " GB/s", step=100.0),
             "Storage bandwidth a checkpoint (Checkpoint size × parameters) is written at; the interval is "
             "Young/Daly's optimum"),
            # the flag's range (above 0, to 1,000); the box stops at 0.001, a checkpoint of next to nothing
            ("checkpoint_bytes", "Checkpoint size", exact_spin(0.001, 1000.0, CHECKPOINT_BYTES_PER_PARAM,
                                                               " bytes/param", step=1.0),
             f"Bytes a checkpoint holds per model parameter (train --checkpoint-bytes-per-param); default "
             f"{CHECKPOINT_BYTES_PER_PARAM:g}: bf16 weights (2), an fp32 master copy (4) and two fp32 Adam moments "
             "(8). 2 for the weights alone; more with fp32 gradients or extra optimizer state"))
        for key, label, box, tip in reliability:
            e.add_row(form, key, label, box, tip)
        self.mtbf_spin, self.restart_spin, self.ckpt_spin, self.ckpt_bytes_spin = (
            box for _key, _label, box, _tip in reliability)
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
        self.dp_label.setStyleSheet(style.hint_style())
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
                  self.mtbf_spin, self.restart_spin, self.ckpt_spin, self.ckpt_bytes_spin,
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
            self.errors.name(name, caption.replace("&", ""))
            form.addRow(box)
        self.schedule_combo = combo([("1F1B (interleaved if VPP > 1)", "1f1b"), ("Zero bubble (ZB-H1)", "zero-bubble"),
                                     ("DualPipe", "dualpipe")])
        self.errors.add_row(form, "schedule", "Pipeline schedule", self.schedule_combo,
                            "How pipeline stages interleave forward and backward work")
        self.cp_kind_combo = combo([("Ring attention", "ring"), ("K/V all-gather (Llama 3)", "allgather")])
        self.errors.add_row(form, "cp_kind", "Context parallel", self.cp_kind_combo,
                            "How context-parallel ranks exchange keys and values")
        self.attention_kernel_combo = combo([("FA2 class (portable)", "portable"),
                                             ("Chip-native (FA3, cuDNN)", "native")])
        self.errors.add_row(form, "attention_kernel", "Attention kernel", self.attention_kernel_combo,
                            "Fused attention written for older instructions, or for this chip's newest ones "
                            "(on Hopper: FlashAttention-3 or cuDNN, about 1.7x faster attention)")
        self.route_nodes_spin = spin(0, 4096, 0, " nodes", special="any node", step=1)
        self.errors.add_row(form, "moe_route_nodes", "MoE routing", self.route_nodes_spin,
                            "Node-limited routing: each token's experts sit on at most this many nodes, and it "
                            "crosses the network once per node it reaches (DeepSeek-V3: 4); 'any node' = a plain "
                            "all-to-all, one copy per remote expert")
        self.route_nodes_spin.valueChanged.connect(self.schedule)
        self.expert_tp_spin = spin(0, EXPERT_TP_MAX, 0, " ways", special="derived", step=1)
        self.errors.add_row(form, "expert_tp", "Expert TP", self.expert_tp_spin,
                            "Expert tensor parallelism (Megatron-Core's --expert-tensor-parallel-size): the chips "
                            "each expert's weights are split over, in every layout. It must divide TP, and EP × "
                            "Expert TP must divide TP × DP × CP. 'derived' = gcd(TP, TP × CP × DP / EP), the "
                            "largest that fits (MoE parallel folding). MoE models only")
        self.expert_tp_spin.valueChanged.connect(self.schedule)
        for w in (self.schedule_combo, self.cp_kind_combo, self.attention_kernel_combo):
            w.currentIndexChanged.connect(self.schedule)
        column.addLayout(form)

    def software_settings(self) -> dict:
        values = {name: box.isChecked() for name, box in self.software_checks.items()}
        values["schedule"] = self.schedule_combo.currentData()
        values["cp_kind"] = self.cp_kind_combo.currentData()
        values["attention_kernel"] = self.attention_kernel_combo.currentData()
        values["moe_route_nodes"] = self.route_nodes_spin.value() or None
        values["expert_tp"] = self.expert_tp_spin.value() or None
        return values

    def _apply_software(self, state) -> None:
        values = {**SOFTWARE_DEFAULTS, **(state if isinstance(state, dict) else {})}
        for name, box in self.software_checks.items():
            box.setChecked(bool(values[name]))
        select_data(self.schedule_combo, values["schedule"])
        select_data(self.cp_kind_combo, values["cp_kind"])
        select_data(self.attention_kernel_combo, values["attention_kernel"])
        route = values["moe_route_nodes"]
        self.route_nodes_spin.setValue(int(route) if isinstance(route, int) and route > 0 else 0)
        etp = values["expert_tp"]
        self.expert_tp_spin.setValue(int(etp) if isinstance(etp, int) and not isinstance(etp, bool)
                                    and 0 < etp <= EXPERT_TP_MAX else 0)

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

    def current_model(self):
        return self.current_study().model(self._models)

    def install_lag_days(self) -> float:
        """The scenario's install lag: "the fleet installed on" a date counts it, as its Forecast does."""
        provider = getattr(self, "install_lag_provider", None)
        lag = provider() if provider is not None else None
        return INSTALL_LAG_DAYS if lag is None else float(lag)

    def current_study(self) -> TrainingStudy:
        return replace(TrainingStudy.from_dict(self.scenario_state()), install_lag_days=self.install_lag_days())

    def scenario_state(self) -> dict:
        custom = None
        if self.custom_check.isChecked():
            custom = {name: box.value() for name, box in self.custom_spins.items()}
        return {
            "model_id": self.model_combo.currentData(), "custom": custom, "chip_id": self.chip_combo.currentData(),
            "chips_source": self.source_combo.currentData(), "num_chips": self.count_spin.value(),
            "fleet_date": None if self._fleet_date_is_default() else self.date_edit.date().toPython().isoformat(),
            "tokens_t": self._exact_fields.value(self.tokens_spin),
            "seq_len": self.seq_spin.value(), "global_batch": self.batch_spin.value(),
            "dtype": self.dtype_combo.currentData(), "layout_mode": self.mode_combo.currentData(),
            "layout": {"tp": self.tp_spin.value(), "pp": self.pp_spin.value(), "cp": self.cp_spin.value(),
                       "ep": self.ep_spin.value(), "vpp": self.vpp_spin.value(),
                       "zero": self.zero_combo.currentData(), "micro_batch": self.mb_spin.value(),
                       "recompute": self.recompute_combo.currentData()},
            "price_per_chip_hour": self._exact_fields.value(self.price_spin),
            "mtbf_chip_hours": self.mtbf_spin.value(), "restart_min": self.restart_spin.value(),
            "checkpoint_write_gbps": self.ckpt_spin.value(),
            "checkpoint_bytes_per_param": self.ckpt_bytes_spin.value(),
            "compare_chips": self.compare_button.selected(),
            "software": self.software_settings(),
            "version": DEFAULTS["version"],
        }

    def apply_scenario_state(self, state: dict) -> None:
        s = saved_study(TrainingStudy, state, DEFAULTS, self.banner)
        layout = dict(s["layout"])
        self._loading = True
        try:
            missing = []   # (what, saved id, shown instead): one banner names them all
            if not select_data(self.model_combo, s["model_id"]) and self.model_combo.count():
                self.model_combo.setCurrentIndex(0)
                missing.append(("model", s["model_id"], self.model_combo.currentText()))
            self._fill_custom_from_preset()
            custom = s.get("custom") if isinstance(s.get("custom"), dict) else None
            self.custom_check.setChecked(custom is not None)
            self.custom_box.setVisible(custom is not None)
            for name, value in (custom or {}).items():
                if name in self.custom_spins:
                    self.custom_spins[name].setValue(int(value))
            if not select_data(self.chip_combo, s["chip_id"]) and self.chip_combo.count():
                self.chip_combo.setCurrentIndex(0)
                missing.append(("chip", s["chip_id"], self.chip_combo.currentText()))
            missing_choices(self.banner, missing)
            select_data(self.source_combo, s["chips_source"])
            self.count_spin.setValue(int(s["num_chips"]))
            day = None
            try:
                day = dt.date.fromisoformat(s["fleet_date"]) if s.get("fleet_date") else None
            except (TypeError, ValueError):
                day = None
            self.date_edit.setDate(_qdate(day or self._default_fleet_date()))
            # no date saved: the default (every delivery in service at the scenario's install lag)
            # until the user picks one, recomputed as the lag changes (QA s37: it was fixed at the
            # lag the load found, and saved as a date)
            self._auto_fleet_date = None if day else self.date_edit.date()
            self._exact_fields.clear()   # kept exactly while shown rounded (QA s37: 2.345 USD ran at 2.35)
            self._exact_fields.show(self.tokens_spin, float(s["tokens_t"]))
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
            self._exact_fields.show(self.price_spin, float(s["price_per_chip_hour"] or 0.0))
            self.mtbf_spin.setValue(float(s.get("mtbf_chip_hours") or 0.0))
            self.restart_spin.setValue(float(s.get("restart_min", DEFAULTS["restart_min"])))
            self.ckpt_spin.setValue(float(s.get("checkpoint_write_gbps") or DEFAULTS["checkpoint_write_gbps"]))
            # (saved before the field existed: the study reads the default, 14)
            self.ckpt_bytes_spin.setValue(float(s.get("checkpoint_bytes_per_param")
                                                or DEFAULTS["checkpoint_bytes_per_param"]))
            self._apply_software(s.get("software"))
            compare = [c for c in (s.get("compare_chips") or []) if c in self._chips]
            self.compare_button.set_chips(self._chips.values(), compare or
                                          [c for c in DEFAULT_COMPARE_CHIPS if c in self._chips])
        finally:
            self._loading = False
        self._on_source_changed()
        self._on_mode_changed()
        self.schedule()

    def _fleet_date_is_default(self) -> bool:
        auto = getattr(self, "_auto_fleet_date", None)
        return auto is not None and self.date_edit.date() == auto

    def sync_default_fleet_date(self) -> None:
        """A default date shown (none saved, none picked) follows the scenario's install lag."""
        if not self._fleet_date_is_default():
            return
        new = _qdate(self._default_fleet_date())
        if new != self.date_edit.date():
            self.date_edit.blockSignals(True)
            self.date_edit.setDate(new)
            self.date_edit.blockSignals(False)
            self._auto_fleet_date = self.date_edit.date()

    def _default_fleet_date(self) -> dt.date:
        return first_month_all_installed(self._orders, self.install_lag_days())
