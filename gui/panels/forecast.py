"""The Forecast view: supply vs demand under delivery uncertainty, and when training jobs finish.

Inputs (uncertainty per vendor / per order, training share per chip type, the demand curve and
how it is served, horizon, trials, seed) are read on the GUI thread into an immutable
`ForecastRequest`; a worker runs `build_inputs` (the inference and training engines, ~0.5 s) and
`run_forecast` (the Monte Carlo, ~30 ms for 2,000 trials). Throughputs depend only on the orders,
the catalog, the served model and SLOs and the jobs, so they are reused while those stay the same:
editing an uncertainty or a share re-runs only the Monte Carlo.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDateEdit, QDoubleSpinBox, QFormLayout, QGridLayout,
    QGroupBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton, QScrollArea, QSizePolicy,
    QSpinBox, QSplitter, QStyledItemDelegate, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget,
)

from engine.errors import UserError, ValidationError
from engine.forecast import (
    CURVE_KINDS, DISTRIBUTIONS, DemandPoint, ForecastInputs, ForecastResult, ForecastScenario,
    OrderUncertainty, TrainingJob, default_scenario, run_forecast, scenario_from_dict, scenario_to_dict, validate_scenario,
)
from gui.commands import follow_stack
from gui.panels.analysis_common import dspin, parse_iso_date, parse_positive, spin
from gui.widgets.banner import MessageBanner
from gui.widgets.plot_panel import PlotPanel, format_number, to_timestamps
from gui.workers import LatestRunner

DEBOUNCE_MS = 80
WEIGHT_DTYPES = ("bf16", "fp16", "fp8", "int8", "int4")
KV_DTYPES = ("bf16", "fp16", "fp8", "int8")
DIST_LABELS = {"fixed": "fixed", "uniform": "uniform", "triangular": "triangular", "beta": "PERT (beta)"}
CURVE_LABELS = {"piecewise": "piecewise (log-linear)", "exponential": "exponential fit",
                "logistic": "logistic (ceiling)"}


# ---- the work (runs in a worker; no Qt, no store) ------------------------------------------

def throughput_key(scenario: ForecastScenario) -> tuple:
    """What `build_inputs` reads from a scenario: equal keys give equal throughputs."""
    d = scenario.demand
    return (d.model_id, d.input_tokens_per_request, d.output_tokens_per_request, d.ttft_ms, d.tpot_ms,
            d.chip_id, tuple(d.serve_on), d.weight_dtype, d.kv_dtype, tuple(scenario.jobs))


@dataclass(frozen=True)
class ForecastRequest:
    orders: tuple
    chips: Mapping
    models: Mapping
    scenario: ForecastScenario
    cached_inputs: ForecastInputs | None = None  # reusable throughputs, when still valid


@dataclass(frozen=True)
class ForecastOutcome:
    inputs: ForecastInputs
    result: ForecastResult
    seconds: float
    reused_throughputs: bool
    request: ForecastRequest


def compute_forecast(request: ForecastRequest, *, progress=None, should_stop=None) -> ForecastOutcome:
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

    def scaled(fraction, message=""):
        report(0.1 + 0.9 * fraction, message or "Monte Carlo…")

    result = run_forecast(inputs, progress=scaled, should_stop=should_stop)
    return ForecastOutcome(inputs, result, time.perf_counter() - t0, reused, request)


# ---- figures shared with the Compare view --------------------------------------------------

def _months_index(result: ForecastResult, months_in: int) -> int | None:
    return months_in if 0 <= months_in < len(result.months) else None


def first_shortfall_month(result: ForecastResult) -> dt.date | None:
    """First month whose peak demand exceeds the P50 serving capacity."""
    short = np.flatnonzero(result.shortfall_p50_unit_chips > 0)
    return result.months[int(short[0])] if short.size else None


def key_figures(result: ForecastResult, chip_names: Mapping[str, str] | None = None) -> list[tuple[str, object]]:
    """(label with unit, value) pairs summarising a forecast; values are numbers, dates or text."""
    names = chip_names or {}
    end = len(result.months) - 1
    rows: list[tuple[str, object]] = [("Horizon end (date)", result.months[end])]
    for chip in result.chip_ids:
        rows.append((f"Installed P50 at horizon end, {names.get(chip, chip)} (chips)",
                     float(result.installed_by_chip[chip].p50[end])))
    rows.append(("Installed P50 at horizon end, all types (chips)", float(result.installed_total.p50[end])))
    rows.append(("Installed P50 at horizon end (H100-equivalents)", float(result.h100_equiv_total.p50[end])))
    rows.append(("Months with a P50 shortfall (months)", int(np.count_nonzero(result.shortfall_p50_unit_chips > 0))))
    rows.append(("First month demand exceeds capacity P50 (date)", first_shortfall_month(result) or "never"))
    unit = names.get(result.unit_chip_id, result.unit_chip_id)
    rows.append((f"Largest P50 shortfall ({unit} chips)", float(np.max(result.shortfall_p50_unit_chips, initial=0.0))))
    for months_in in (12, 24):
        i = _months_index(result, months_in)
        label = f"P(meet demand) {months_in} months in (%)"
        rows.append((label, float(result.prob_meet_demand[i]) * 100 if i is not None else "beyond horizon"))
    for job in result.jobs:
        for q, value in (("P50", job.completion_p50), ("P90", job.completion_p90)):
            rows.append((f"Job '{job.job.name}' done {q} (date)", value or "after the horizon"))
        rows.append((f"Job '{job.job.name}' done within horizon (%)", job.prob_within_horizon * 100))
    return rows


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


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


def _form_box(box, tip: str):
    box.setKeyboardTracking(False)  # one evaluation per finished number, not per keystroke
    box.setToolTip(tip)
    box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    box.setMinimumWidth(64)  # else the widest value of the range sets the form's width
    return box


def _spin(low, high, value=0.0, *, decimals=2, step=1.0, suffix="", tip="") -> QDoubleSpinBox:
    return _form_box(dspin(low, high, value, decimals, suffix, step=step), tip)


def _int_spin(low, high, value, *, step=1, suffix="", tip="") -> QSpinBox:
    return _form_box(spin(low, high, value, suffix, step=step), tip)


def _combo(items, tip="") -> QComboBox:
    box = QComboBox()
    for item in items:
        if isinstance(item, tuple):
            box.addItem(item[1], item[0])
        else:
            box.addItem(str(item), item)
    box.setToolTip(tip)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(8)
    box.setMinimumWidth(80)
    return box


def _set_combo(box: QComboBox, data) -> None:
    i = box.findData(data)
    if i < 0 and data not in (None, ""):
        box.addItem(str(data), data)
        i = box.count() - 1
    box.setCurrentIndex(max(i, 0))


# ---- editable tables: demand points and training jobs ---------------------------------------

BAD_CELL = QColor("#fde2df")


def _add_months_day(day: dt.date, k: int) -> dt.date:
    y, m = divmod(day.month - 1 + k, 12)
    return dt.date(day.year + y, m + 1, min(day.day, 28))


def _number_text(value: float) -> str:
    return f"{value:.6g}"


class _RowsEditor(QWidget):
    """A small table of typed rows with Add/Remove, checked on every edit.

    Cells hold text; a commit parses every row. Bad cells turn red with the reason in their tooltip
    and under the table, and the last good rows are kept (`errors()` tells the panel not to run).
    """

    edited = Signal()
    HEADERS: tuple[str, ...] = ()
    TIPS: tuple[str, ...] = ()
    WHAT = "row"

    def __init__(self, parent=None):
        super().__init__(parent)
        self._good: tuple = ()
        self._errors: list[str] = []
        self._filling = False
        self.table = QTableWidget(0, len(self.HEADERS))
        self.table.setHorizontalHeaderLabels(list(self.HEADERS))
        for i, tip in enumerate(self.TIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.table.setWordWrap(False)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.table.itemChanged.connect(self._on_item_changed)
        self.add_button = QPushButton("Add row")
        self.add_button.clicked.connect(self.add_row)
        self.remove_button = QPushButton("Remove row")
        self.remove_button.clicked.connect(self.remove_row)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #a1260d;")
        self.error_label.hide()
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        self.summary_label = QLabel()  # one short line beside the buttons
        self.summary_label.setStyleSheet("color: #555;")
        buttons.addWidget(self.summary_label, 1)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(3)
        v.addWidget(self.table)
        v.addLayout(buttons)
        v.addWidget(self.error_label)

    # subclasses: the row <-> value mapping
    def _write_row(self, r: int, value) -> None:
        raise NotImplementedError

    def _parse_row(self, r: int) -> tuple[object | None, list[tuple[int, str]]]:
        raise NotImplementedError

    def _check_rows(self, values: list) -> list[tuple[int, int, str]]:
        """Problems across rows: (row, column, message)."""
        return []

    def _new_value(self, values: tuple):
        raise NotImplementedError

    def _ordered(self, values: list) -> list:
        return values

    def _untidy(self) -> bool:
        """True when a good cell is not shown in its usual form (e.g. an id typed for a label)."""
        return False

    # ---- public ----
    def values(self) -> tuple:
        """The last rows that passed every check."""
        return self._good

    def errors(self) -> list[str]:
        return list(self._errors)

    def set_values(self, values) -> None:
        self._good = tuple(values)
        self._fill(self._good)
        self._errors = []
        self._show_errors({})

    def add_row(self) -> None:
        base = self._good if not self._errors else tuple(v for v in self._parsed() if v is not None)
        value = self._new_value(base)
        self._filling = True
        try:
            r = self.table.rowCount()
            self.table.insertRow(r)
            self._write_row(r, value)
        finally:
            self._filling = False
        self._fit_height()
        self.table.selectRow(r)
        self.commit()

    def remove_row(self) -> None:
        if not self.table.rowCount():
            return
        r = self.table.currentRow()
        self.table.removeRow(r if 0 <= r < self.table.rowCount() else self.table.rowCount() - 1)
        self._fit_height()
        self.commit()

    def commit(self) -> None:
        """Check every row; keep them when all are good (in order), else flag the bad cells."""
        values, cells = [], {}
        for r in range(self.table.rowCount()):
            value, problems = self._parse_row(r)
            values.append(value)
            for c, message in problems:
                cells.setdefault((r, c), f"Row {r + 1}: {message}")
        if not cells:
            for r, c, message in self._check_rows(values):
                cells.setdefault((r, c), f"Row {r + 1}: {message}")
        self._errors = list(dict.fromkeys(cells.values()))
        if not cells:
            ordered = self._ordered(values)
            if ordered != values or self._untidy():  # show the rows the way the engine reads them
                self._fill(ordered)
            self._good = tuple(ordered)
        self._show_errors(cells)
        self.edited.emit()

    # ---- internals ----
    def _parsed(self) -> list:
        return [self._parse_row(r)[0] for r in range(self.table.rowCount())]

    def _fill(self, values) -> None:
        self._filling = True
        self.table.setUpdatesEnabled(False)
        try:
            self.table.setRowCount(0)
            self.table.setRowCount(len(values))
            for r, value in enumerate(values):
                self._write_row(r, value)
        finally:
            self.table.setUpdatesEnabled(True)
            self._filling = False
        self._fit_height()

    def _fit_height(self, max_rows: int = 7) -> None:
        rows = min(max(self.table.rowCount(), 2), max_rows)
        header = self.table.horizontalHeader().sizeHint().height()
        scroll = self.table.horizontalScrollBar().sizeHint().height()
        self.table.setFixedHeight(header + rows * self.table.verticalHeader().defaultSectionSize()
                                  + scroll + 2 * self.table.frameWidth() + 2)

    def _on_item_changed(self, _item) -> None:
        if not self._filling:
            self.commit()

    def _show_errors(self, cells: dict) -> None:
        self._filling = True
        try:
            for r in range(self.table.rowCount()):
                for c in range(self.table.columnCount()):
                    item = self.table.item(r, c)
                    if item is None:
                        continue
                    bad = cells.get((r, c))
                    item.setBackground(BAD_CELL if bad else QBrush())
                    if bad:
                        item.setToolTip(bad)
                    elif item.data(Qt.ItemDataRole.UserRole + 1) is not None:
                        item.setToolTip(item.data(Qt.ItemDataRole.UserRole + 1))
                    else:
                        item.setToolTip("")
        finally:
            self._filling = False
        if self._errors:
            self.error_label.setText("Not used until fixed — " + "; ".join(self._errors))
            self.error_label.show()
        else:
            self.error_label.hide()

    def _text(self, r: int, c: int) -> str:
        item = self.table.item(r, c)
        return item.text() if item is not None else ""

    def _set_text(self, r: int, c: int, text: str, *, right: bool = False, tip: str | None = None) -> None:
        item = QTableWidgetItem(text)
        if right:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if tip:
            item.setData(Qt.ItemDataRole.UserRole + 1, tip)
            item.setToolTip(tip)
        self.table.setItem(r, c, item)


class DemandPointsEditor(_RowsEditor):
    """Measured or reported tokens/day: (date, tokens/day, note), kept in date order."""

    HEADERS = ("As of\n(date)", "Tokens per day\n(billions)", "Note")
    TIPS = ("Date of the figure, YYYY-MM-DD; rows are kept in date order and no two share a date",
            "Average tokens per day (input + output), in billions: 120 = 120 billion, 50000 = 50 trillion",
            "Where the figure comes from (free text)")
    WHAT = "demand point"

    def __init__(self, parent=None):
        super().__init__(parent)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.add_button.setToolTip("Add a demand point three months after the last one (then edit it)")
        self.remove_button.setToolTip("Remove the selected demand point (the last one if none is selected)")

    def points(self) -> tuple[DemandPoint, ...]:
        return self.values()

    def _write_row(self, r: int, p: DemandPoint) -> None:
        self._set_text(r, 0, p.date.isoformat())
        self._set_text(r, 1, _number_text(p.tokens_per_day / 1e9), right=True)
        self._set_text(r, 2, p.note, tip=p.note or None)

    def _parse_row(self, r: int):
        problems = []
        day, why = parse_iso_date(self._text(r, 0), "date")
        if why:
            problems.append((0, why))
        billions, why = parse_positive(self._text(r, 1), "tokens per day")
        if why:
            problems.append((1, why))
        elif billions * 1e9 > 1e21:
            problems.append((1, f"tokens per day {self._text(r, 1)!r} billion is implausibly large"))
        if problems:
            return None, problems
        return DemandPoint(day, billions * 1e9, self._text(r, 2).strip()), []

    def _check_rows(self, values):
        seen: dict[dt.date, int] = {}
        out = []
        for r, p in enumerate(values):
            if p.date in seen:
                out.append((r, 0, f"date {p.date.isoformat()} is already used by row {seen[p.date] + 1}"))
            seen.setdefault(p.date, r)
        return out

    def _ordered(self, values):
        return sorted(values, key=lambda p: p.date)

    def _new_value(self, values):
        if not values:
            return DemandPoint(dt.date.today().replace(day=1), 1e9, "")
        last = max(values, key=lambda p: p.date)
        return DemandPoint(_add_months_day(last.date, 3), last.tokens_per_day, "")


class _ChoiceDelegate(QStyledItemDelegate):
    """Edits a cell with a combo of (id, label) choices; the id goes to UserRole, the label is shown."""

    def __init__(self, choices, parent=None):
        super().__init__(parent)
        self.choices = choices  # callable -> list[(id, label)]

    def createEditor(self, parent, option, index):
        box = QComboBox(parent)
        for data, text in self.choices():
            box.addItem(text, data)
        return box

    def setEditorData(self, editor, index):
        i = editor.findData(index.data(Qt.ItemDataRole.UserRole))
        editor.setCurrentIndex(max(i, 0))

    def setModelData(self, editor, model, index):
        # both roles in one change: one commit sees the new id and its label together
        model.setItemData(index, {Qt.ItemDataRole.EditRole: editor.currentText(),
                                  Qt.ItemDataRole.UserRole: editor.currentData()})


class TrainingJobsEditor(_RowsEditor):
    """Training jobs: name, model preset, chip type, tokens and earliest start; run in list order."""

    HEADERS = ("Name", "Model", "Chip type", "Tokens\n(trillions)", "Earliest start\n(date)")
    TIPS = ("A name for the job (unique)",
            "The model preset to train (Library view)",
            "The chip type it trains on: it gets that type's training share; jobs on one type run in list order",
            "Training tokens, in trillions: 15 = 15 trillion tokens",
            "The first day the job may start, YYYY-MM-DD")
    WHAT = "job"

    def __init__(self, parent=None):
        self._models: list[tuple[str, str]] = []
        self._chips: list[tuple[str, str]] = []
        super().__init__(parent)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        metrics = self.table.fontMetrics()
        for c, sample in ((1, "Llama 3.1 405B"), (2, "Ascend 910B2"), (3, "(trillions)"), (4, "2025-01-01")):
            self.table.setColumnWidth(c, metrics.horizontalAdvance(sample) + 14)
        self.table.setItemDelegateForColumn(1, _ChoiceDelegate(lambda: self._models, self.table))
        self.table.setItemDelegateForColumn(2, _ChoiceDelegate(lambda: self._chips, self.table))
        self.add_button.setToolTip("Add a training job (then pick its model, chip type and tokens)")
        self.remove_button.setToolTip("Remove the selected job (the last one if none is selected)")

    def set_choices(self, models: list[tuple[str, str]], chips: list[tuple[str, str]]) -> None:
        """(id, label) of the store's model presets and chip types."""
        self._models, self._chips = list(models), list(chips)

    def jobs(self) -> tuple[TrainingJob, ...]:
        return self.values()

    def _choice_cell(self, r: int, c: int, items, current: str, tip: str) -> None:
        label = dict(items).get(current, current)
        self._set_text(r, c, label, tip=f"{tip} ({current}); double-click to choose another")
        self.table.item(r, c).setData(Qt.ItemDataRole.UserRole, current)

    def _untidy(self) -> bool:
        for c, items in ((1, self._models), (2, self._chips)):
            labels = dict(items)
            for r in range(self.table.rowCount()):
                item = self.table.item(r, c)
                if item is not None and item.text() != labels.get(item.data(Qt.ItemDataRole.UserRole)):
                    return True
        return False

    def _choice(self, r: int, c: int, items) -> str:
        """The id in a choice cell: the one picked, else typed text matching an id or a label."""
        item = self.table.item(r, c)
        if item is None:
            return ""
        text, picked = item.text().strip(), item.data(Qt.ItemDataRole.UserRole)
        labels = dict(items)
        if picked in labels and text in (labels[picked], picked):
            return picked
        for data, label in items:
            if text.lower() in (str(data).lower(), label.lower()):
                return data
        return text

    def _write_row(self, r: int, job: TrainingJob) -> None:
        self._set_text(r, 0, job.name, tip=job.name)
        self.table.item(r, 0).setData(Qt.ItemDataRole.UserRole, (job.seq_len, job.global_batch_seqs))
        self._choice_cell(r, 1, self._models, job.model_id, "The model preset this job trains")
        self._choice_cell(r, 2, self._chips, job.chip_id, "The chip type this job trains on")
        self._set_text(r, 3, _number_text(job.tokens / 1e12), right=True)
        self._set_text(r, 4, job.earliest_start.isoformat())

    def _parse_row(self, r: int):
        problems = []
        name = self._text(r, 0).strip()
        if not name:
            problems.append((0, "the name is empty"))
        model = self._choice(r, 1, self._models)
        if model not in {m for m, _ in self._models}:
            problems.append((1, f"model {model!r} is not a model preset"))
        chip = self._choice(r, 2, self._chips)
        if chip not in {c for c, _ in self._chips}:
            problems.append((2, f"chip type {chip!r} is not in the store"))
        trillions, why = parse_positive(self._text(r, 3), "tokens")
        if why:
            problems.append((3, why))
        elif trillions > 1e6:
            problems.append((3, f"tokens {self._text(r, 3)!r} trillion is implausibly large"))
        start, why = parse_iso_date(self._text(r, 4), "earliest start")
        if why:
            problems.append((4, why))
        if problems:
            return None, problems
        item = self.table.item(r, 0)
        seq_len, batch = item.data(Qt.ItemDataRole.UserRole) or (None, None)
        return TrainingJob(name, model, trillions * 1e12, chip, start, seq_len, batch), []

    def _check_rows(self, values):
        seen: dict[str, int] = {}
        out = []
        for r, job in enumerate(values):
            if job.name in seen:
                out.append((r, 0, f"name {job.name!r} is already used by row {seen[job.name] + 1}"))
            seen.setdefault(job.name, r)
        return out

    def _new_value(self, values):
        names = {j.name for j in values}
        n = len(values) + 1
        while f"Job {n}" in names:
            n += 1
        last = values[-1] if values else None
        model = last.model_id if last else (self._models[0][0] if self._models else "")
        chip = last.chip_id if last else (self._chips[0][0] if self._chips else "")
        start = last.earliest_start if last else dt.date.today().replace(day=1)
        return TrainingJob(f"Job {n}", model, 1e12, chip, start)


class ForecastPanel(QWidget):
    """Monte Carlo forecast of installed chips, serving capacity vs demand, and training jobs."""

    status_message = Signal(str)
    result_ready = Signal(object)  # ForecastResult, after the charts are drawn

    def __init__(self, store, undo_stack: QUndoStack | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo_stack = undo_stack
        self.result: ForecastResult | None = None
        self.inputs: ForecastInputs | None = None
        self._cache: tuple | None = None  # (orders, chips, models, throughput key, inputs)
        self._base: ForecastScenario = default_scenario()
        self._uncertainty: dict[tuple, OrderUncertainty] = {}
        self._unc_key: tuple = ("default", None)
        self._share_spins: dict[str, QDoubleSpinBox] = {}
        self._job_markers: list = []
        self._loading = False
        self._chip_names: dict[str, str] = {}
        self._orders = []

        self.runner = LatestRunner(self)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.progress.connect(self._on_progress)
        self.runner.busy_changed.connect(self._on_busy)
        self.runner.cancelled.connect(self._on_cancelled)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self.run)

        self.banner = MessageBanner()
        form = self._build_form()
        charts = self._build_charts()

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(form)
        split.addWidget(charts)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([490, 1010])  # room for the jobs table's five columns
        self.splitter = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)

        self._read_store()
        self.apply_scenario_state(scenario_to_dict(self._base))
        if undo_stack is not None:
            self._unfollow_stack = follow_stack(undo_stack, self._on_store_changed)

    # ---- form --------------------------------------------------------------------------------
    def _build_form(self) -> QWidget:
        # Run controls
        self.start_edit = QDateEdit()
        self.start_edit.setDisplayFormat("yyyy-MM")
        self.start_edit.setCalendarPopup(True)
        self.start_edit.setToolTip("First month of the forecast (the 1st of the month)")
        self.months_spin = _int_spin(1, 240, 60, suffix=" months", tip="How many months to forecast")
        self.trials_spin = _int_spin(100, 500_000, 2000, step=500, suffix=" trials",
                                     tip="Monte Carlo trials: each draws every order's fulfilled fraction and delay. "
                                         "2,000 trials take about 30 ms.")
        self.seed_spin = _int_spin(0, 2_000_000_000, 0, tip="Random seed: the same seed gives the same draws")
        self.seed_spin.setGroupSeparatorShown(False)  # an identifier, not a quantity
        self.auto_check = QCheckBox("Update as I edit")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("Re-run the forecast shortly after every change (in the background)")
        self.run_button = QPushButton("Run forecast")
        self.run_button.setToolTip("Run the Monte Carlo forecast with these inputs")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running forecast; the last result stays on screen")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("Idle")
        run_box = QGroupBox("Horizon and run")
        run_form = QFormLayout(run_box)
        run_form.addRow("First month", self.start_edit)
        run_form.addRow("Horizon", self.months_spin)
        run_form.addRow("Trials", self.trials_spin)
        run_form.addRow("Seed", self.seed_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        run_form.addRow(buttons)
        run_form.addRow(self.auto_check)
        run_form.addRow(self.progress_bar)

        # Delivery uncertainty
        self.unc_target = _combo([], "Which orders this distribution applies to: the default, a vendor's "
                                     "orders, or one order (the most specific wins)")
        self.unc_target.currentIndexChanged.connect(self._on_unc_target)
        self.unc_specific = QCheckBox("Own distribution (else the vendor's or the default)")
        self.unc_specific.setToolTip("Unchecked: this vendor/order follows the less specific distribution")
        self.frac_dist = _combo([(k, DIST_LABELS[k]) for k in DISTRIBUTIONS],
                                "Distribution of the fulfilled fraction: fixed = the mode; uniform low..high; "
                                "triangular/PERT with that mode")
        self.frac_low = _spin(0, 100, 100, decimals=0, step=5, suffix=" %", tip="Lowest fulfilled fraction")
        self.frac_mode = _spin(0, 100, 100, decimals=0, step=5, suffix=" %", tip="Most likely fulfilled fraction")
        self.frac_high = _spin(0, 100, 100, decimals=0, step=5, suffix=" %", tip="Highest fulfilled fraction")
        self.frac_of = _combo([("order", "of the ordered quantity"), ("outstanding", "of what is outstanding")],
                              "order: share of the whole order eventually delivered (delivered chips count); "
                              "outstanding: share of what is not delivered yet")
        self.delay_dist = _combo([(k, DIST_LABELS[k]) for k in DISTRIBUTIONS], "Distribution of the delay of every "
                                                                              "undelivered lot of the order")
        self.delay_low = _spin(0, 3650, 0, decimals=0, step=30, suffix=" days", tip="Shortest delay")
        self.delay_mode = _spin(0, 3650, 0, decimals=0, step=30, suffix=" days", tip="Most likely delay")
        self.delay_high = _spin(0, 3650, 0, decimals=0, step=30, suffix=" days", tip="Longest delay")
        self.unc_note = QLabel()
        self.unc_note.setWordWrap(True)
        self.unc_note.setStyleSheet("color: #555;")
        unc_box = QGroupBox("Delivery uncertainty")
        unc_form = QFormLayout(unc_box)
        unc_form.addRow("Applies to", self.unc_target)
        unc_form.addRow(self.unc_specific)
        unc_form.addRow("Fulfilled", self.frac_dist)
        frac_row = QHBoxLayout()
        for w in (self.frac_low, self.frac_mode, self.frac_high):
            frac_row.addWidget(w)
        unc_form.addRow("Low/mode/high", frac_row)
        unc_form.addRow("Fraction", self.frac_of)
        unc_form.addRow("Delay", self.delay_dist)
        delay_row = QHBoxLayout()
        for w in (self.delay_low, self.delay_mode, self.delay_high):
            delay_row.addWidget(w)
        unc_form.addRow("Low/mode/high", delay_row)
        unc_form.addRow(self.unc_note)
        for w in (self.frac_low, self.frac_mode, self.frac_high, self.delay_low, self.delay_mode, self.delay_high):
            w.setMinimumWidth(50)
            w.valueChanged.connect(self._on_unc_edited)
        for w in (self.frac_dist, self.frac_of, self.delay_dist):
            w.currentIndexChanged.connect(self._on_unc_edited)
        self.unc_specific.toggled.connect(self._on_unc_edited)

        # Allocation
        self.alloc_box = QGroupBox("Allocation: training share per chip type")
        self.alloc_form = QFormLayout(self.alloc_box)
        self.alloc_note = QLabel()
        self.alloc_note.setWordWrap(True)
        self.alloc_note.setStyleSheet("color: #555;")

        # Demand
        self.curve_kind = _combo([(k, CURVE_LABELS[k]) for k in CURVE_KINDS],
                                 "How tokens/day are interpolated between the data points and extended after them")
        self.growth_spin = _spin(0.01, 100, 2, decimals=2, step=0.1, suffix=" ×/year",
                                 tip="Growth of tokens/day after the last data point (piecewise curve), per year")
        self.ceiling_spin = _spin(0, 1e5, 0, decimals=0, step=10, suffix=" T tokens/day",
                                  tip="Logistic curve: the ceiling of tokens/day (trillions); 0 = fitted")
        self.peak_spin = _spin(1, 20, 1.5, decimals=2, step=0.1, suffix=" ×",
                               tip="Peak over average load: capacity is sized for the peak hour")
        self.scale_spin = _spin(0.01, 100, 1, decimals=2, step=0.1, suffix=" ×",
                                tip="Multiplies every demand point (what-if: more or less demand)")
        self.input_tokens_spin = _spin(1, 1e6, 1000, decimals=0, step=100, suffix=" tokens",
                                       tip="Input (prompt) tokens per request")
        self.output_tokens_spin = _spin(1, 1e6, 200, decimals=0, step=50, suffix=" tokens",
                                        tip="Output (generated) tokens per request")
        self.model_combo = _combo([], "The model that serves the demand")
        self.unit_chip_combo = _combo([], "Capacity and demand are reported in chips of this type")
        self.ttft_spin = _spin(1, 600_000, 2000, decimals=0, step=100, suffix=" ms",
                               tip="Time-to-first-token target: prefill must finish within it")
        self.tpot_spin = _spin(1, 10_000, 50, decimals=0, step=5, suffix=" ms",
                               tip="Time-per-output-token target: each decode step must finish within it")
        self.weight_dtype = _combo(WEIGHT_DTYPES, "Weight precision when serving")
        self.kv_dtype = _combo(KV_DTYPES, "KV-cache precision when serving")
        self.points_editor = DemandPointsEditor()
        self.points_editor.edited.connect(self._on_points_edited)
        demand_box = QGroupBox("Demand and serving")
        demand_form = QFormLayout(demand_box)
        points_caption = QLabel("<b>Demand points</b> (tokens/day; double-click a cell to edit)")
        points_caption.setToolTip("The curve below runs through these points")
        demand_form.addRow(points_caption)
        demand_form.addRow(self.points_editor)
        demand_form.addRow("Curve", self.curve_kind)
        demand_form.addRow("Growth after data", self.growth_spin)
        demand_form.addRow("Logistic ceiling", self.ceiling_spin)
        demand_form.addRow("Peak / average", self.peak_spin)
        demand_form.addRow("Demand scale", self.scale_spin)
        demand_form.addRow("Input per request", self.input_tokens_spin)
        demand_form.addRow("Output per request", self.output_tokens_spin)
        demand_form.addRow("Serving model", self.model_combo)
        demand_form.addRow("Report in chips of", self.unit_chip_combo)
        demand_form.addRow("TTFT target", self.ttft_spin)
        demand_form.addRow("TPOT target", self.tpot_spin)
        dtype_row = QHBoxLayout()
        dtype_row.addWidget(QLabel("weights"))
        dtype_row.addWidget(self.weight_dtype, 1)
        dtype_row.addWidget(QLabel("KV"))
        dtype_row.addWidget(self.kv_dtype, 1)
        demand_form.addRow("Precision", dtype_row)

        # Training jobs
        self.jobs_box = QGroupBox("Training jobs (run one after another per chip type)")
        self.jobs_editor = TrainingJobsEditor()
        self.jobs_editor.edited.connect(self._on_jobs_edited)
        jobs_layout = QVBoxLayout(self.jobs_box)
        jobs_layout.addWidget(self.jobs_editor)

        self.validation_label = QLabel()
        self.validation_label.setWordWrap(True)
        self.validation_label.setStyleSheet("color: #a1260d;")
        self.validation_label.hide()

        for w in (self.months_spin, self.trials_spin, self.seed_spin, self.growth_spin, self.ceiling_spin,
                  self.peak_spin, self.scale_spin, self.input_tokens_spin, self.output_tokens_spin,
                  self.ttft_spin, self.tpot_spin):
            w.valueChanged.connect(self.schedule)
        for w in (self.curve_kind, self.model_combo, self.unit_chip_combo, self.weight_dtype, self.kv_dtype):
            w.currentIndexChanged.connect(self.schedule)
        self.start_edit.dateChanged.connect(self.schedule)

        column = QWidget()
        v = QVBoxLayout(column)
        v.setContentsMargins(0, 0, 6, 0)
        for w in (run_box, self.validation_label, unc_box, self.alloc_box, demand_box, self.jobs_box):
            v.addWidget(w)
        v.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(column)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(400)
        return scroll

    # ---- charts ------------------------------------------------------------------------------
    def _build_charts(self) -> QWidget:
        self.summary_label = QLabel("Run the forecast to see capacity against demand.")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.setStyleSheet("QLabel { background: #f4f6f8; border: 1px solid #d8dde3; "
                                         "border-radius: 4px; padding: 6px; }")
        self.capacity_chart = PlotPanel("Serving capacity vs peak demand", y_label="Capacity",
                                        y_unit="chips", time_axis=True)
        self.installed_chart = PlotPanel("Installed chips by type", y_label="Installed", y_unit="chips",
                                         time_axis=True)
        self.shortfall_chart = PlotPanel("Shortfall at peak (P50 capacity)", y_label="Shortfall", y_unit="chips",
                                         time_axis=True)
        self.probability_chart = PlotPanel("Probability of meeting peak demand", y_label="Probability",
                                           y_unit="%", time_axis=True)
        self.probability_chart.plot_item.setYRange(0, 100, padding=0.02)
        self.probability_chart.plot_item.getViewBox().setLimits(yMin=-5, yMax=105)
        self.jobs_chart = PlotPanel("Training-job completion date", y_label="Trials finishing",
                                    y_unit="% per month", time_axis=True)
        for chart in self.charts().values():
            chart.status_message.connect(self.status_message)
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
        self.result_tabs.addTab(self.monthly_table, "Monthly table")

        page = QWidget()
        v = QVBoxLayout(page)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.summary_label)
        v.addWidget(self.result_tabs, 1)
        return page

    @staticmethod
    def _setup_table(table: QTableWidget) -> None:
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setAlternatingRowColors(True)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(22)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)

    # ---- protocol ----------------------------------------------------------------------------
    def charts(self) -> dict[str, PlotPanel]:
        return {"capacity_vs_demand": self.capacity_chart, "installed_by_type": self.installed_chart,
                "shortfall_p50": self.shortfall_chart, "prob_meet_demand": self.probability_chart,
                "job_completion": self.jobs_chart}

    def tables(self) -> dict[str, tuple[list[str], list[list]]]:
        if self.result is None:
            return {}
        return {"monthly": self.monthly_rows(), "jobs": self.job_rows(), "key_figures": self.key_figure_rows()}

    def compute_now(self) -> None:
        """Run the forecast synchronously with the current inputs and draw it (export, tests)."""
        self._debounce.stop()
        self.runner.cancel(emit=False)
        self._on_busy(False)
        request = self._request()
        if request is None:
            return
        try:
            outcome = compute_forecast(request)
        except UserError as exc:
            self._on_failed(str(exc))
            return
        self._show(outcome)

    def scenario_state(self) -> dict:
        return scenario_to_dict(self.scenario())

    def apply_scenario_state(self, state: dict) -> None:
        """Show a saved scenario's inputs (a `scenario_to_dict` dict; "ui" and unknown keys ignored)."""
        known = set(scenario_to_dict(ForecastScenario()))
        params = {k: v for k, v in (state or {}).items() if k in known}
        try:
            scenario = scenario_from_dict(params)
        except ValidationError as exc:
            self.banner.show_error(f"This scenario has values the forecast can't use: {exc}")
            return
        self._load(scenario)
        self.schedule()

    def shutdown(self) -> None:
        self._debounce.stop()
        self.runner.cancel(emit=False)
        if self.undo_stack is not None:
            self._unfollow_stack()

    # ---- reading the store and the form -------------------------------------------------------
    def _read_store(self) -> None:
        chip_rows = self.store.chip_rows()
        self._chip_names = {r["id"]: (r.get("name") or r["id"]) for r in chip_rows}
        self._orders = self.store.orders()
        models = self.store.models()
        self._loading = True
        try:
            for box, items in ((self.model_combo, [(m.id, m.name if getattr(m, "name", "") else m.id) for m in models]),
                               (self.unit_chip_combo, [(r["id"], f"{r.get('vendor')} {r.get('name')}")
                                                       for r in chip_rows])):
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
        self.jobs_editor.set_choices([(m.id, (getattr(m, "name", "") or m.id).split(" (")[0]) for m in models],
                                     [(cid, name.split(" (")[0]) for cid, name in chip_items])
        if not self._orders:
            self.banner.show_info("No orders yet: add orders in the Fleet view, then the forecast runs on them.")
        elif self.banner.kind == "info":
            self.banner.dismiss()

    def chip_name(self, chip_id: str) -> str:
        return self._chip_names.get(chip_id, chip_id)

    def _load(self, sc: ForecastScenario) -> None:
        """Put a scenario's values into the widgets without triggering runs."""
        self._loading = True
        try:
            self._base = sc
            self.start_edit.setDate(_qdate(sc.start))
            self.months_spin.setValue(sc.months)
            self.trials_spin.setValue(sc.trials)
            self.seed_spin.setValue(sc.seed)
            d = sc.demand
            _set_combo(self.curve_kind, d.kind)
            self.growth_spin.setValue(d.growth_after_last_per_year)
            self.ceiling_spin.setValue((d.ceiling_tokens_per_day or 0.0) / 1e12)
            self.peak_spin.setValue(d.peak_to_average)
            self.scale_spin.setValue(d.scale)
            self.input_tokens_spin.setValue(d.input_tokens_per_request)
            self.output_tokens_spin.setValue(d.output_tokens_per_request)
            _set_combo(self.model_combo, d.model_id)
            _set_combo(self.unit_chip_combo, d.chip_id or (self._orders[0].chip_id if self._orders else ""))
            self.ttft_spin.setValue(d.ttft_ms)
            self.tpot_spin.setValue(d.tpot_ms)
            _set_combo(self.weight_dtype, d.weight_dtype)
            _set_combo(self.kv_dtype, d.kv_dtype)
            self.points_editor.set_values(sorted(d.points, key=lambda p: p.date))
            self.points_editor.table.setToolTip(d.note)
            self._describe_points()
            self._uncertainty = {("default", None): sc.default_uncertainty}
            self._uncertainty.update({("vendor", k): v for k, v in sc.vendor_uncertainty.items()})
            self._uncertainty.update({("order", k): v for k, v in sc.order_uncertainty.items()})
            self._rebuild_unc_targets()
            self._rebuild_allocation(sc)
            self._rebuild_jobs(sc)
        finally:
            self._loading = False

    def _rebuild_unc_targets(self) -> None:
        keep = self._unc_key
        self.unc_target.blockSignals(True)
        self.unc_target.clear()
        self.unc_target.addItem("Default (every order)", "default")
        vendors = list(dict.fromkeys([o.vendor for o in self._orders if o.vendor]
                                     + [k[1] for k in self._uncertainty if k[0] == "vendor"]))
        for vendor in vendors:
            self.unc_target.addItem(f"Vendor: {vendor}", unc_key_text(("vendor", vendor)))
        for o in self._orders:
            self.unc_target.addItem(f"Order #{o.id}: {o.quantity:,} × {self.chip_name(o.chip_id)}", unc_key_text(("order", o.id)))
        i = self.unc_target.findData(unc_key_text(keep))
        self.unc_target.setCurrentIndex(max(i, 0))
        self.unc_target.blockSignals(False)
        self._show_unc(unc_key_of(self.unc_target.currentData()))

    def _effective_unc(self, key) -> OrderUncertainty:
        if key in self._uncertainty:
            return self._uncertainty[key]
        if key[0] == "order":
            order = next((o for o in self._orders if o.id == key[1]), None)
            if order is not None:
                for (kind, vendor), unc in self._uncertainty.items():
                    if kind == "vendor" and vendor.lower() == (order.vendor or "").lower():
                        return unc
        return self._uncertainty[("default", None)]

    def _show_unc(self, key) -> None:
        self._unc_key = key
        loading, self._loading = self._loading, True
        try:
            unc = self._effective_unc(key)
            self.unc_specific.setVisible(key[0] != "default")
            self.unc_specific.setChecked(key in self._uncertainty)
            _set_combo(self.frac_dist, unc.fraction_dist)
            self.frac_low.setValue(unc.fraction_low * 100)
            self.frac_mode.setValue(unc.fraction_mode * 100)
            self.frac_high.setValue(unc.fraction_high * 100)
            _set_combo(self.frac_of, unc.fraction_of)
            _set_combo(self.delay_dist, unc.delay_dist)
            self.delay_low.setValue(unc.delay_low_days)
            self.delay_mode.setValue(unc.delay_mode_days)
            self.delay_high.setValue(unc.delay_high_days)
            self.unc_note.setText(unc.note)
            self.unc_note.setVisible(bool(unc.note))
            self._enable_unc_fields()
        finally:
            self._loading = loading

    def _enable_unc_fields(self) -> None:
        own = self._unc_key[0] == "default" or self.unc_specific.isChecked()
        for dist, low, mode, high in ((self.frac_dist, self.frac_low, self.frac_mode, self.frac_high),
                                      (self.delay_dist, self.delay_low, self.delay_mode, self.delay_high)):
            kind = dist.currentData()
            dist.setEnabled(own)
            low.setEnabled(own and kind != "fixed")
            high.setEnabled(own and kind != "fixed")
            mode.setEnabled(own and kind != "uniform")
        self.frac_of.setEnabled(own)

    def _on_unc_target(self, _index) -> None:
        self._show_unc(unc_key_of(self.unc_target.currentData()))

    def _on_unc_edited(self, *_):
        if self._loading:
            return
        key = self._unc_key
        if key[0] != "default" and not self.unc_specific.isChecked():
            self._uncertainty.pop(key, None)
            self._show_unc(key)  # show what it falls back to
        else:
            previous = self._effective_unc(key)
            self._uncertainty[key] = OrderUncertainty(
                fraction_dist=self.frac_dist.currentData(), fraction_low=self.frac_low.value() / 100,
                fraction_mode=self.frac_mode.value() / 100, fraction_high=self.frac_high.value() / 100,
                fraction_of=self.frac_of.currentData(), delay_dist=self.delay_dist.currentData(),
                delay_low_days=self.delay_low.value(), delay_mode_days=self.delay_mode.value(),
                delay_high_days=self.delay_high.value(),
                note=previous.note if key in self._uncertainty else "")
            self._enable_unc_fields()
        self.schedule()

    def _rebuild_allocation(self, sc: ForecastScenario) -> None:
        while self.alloc_form.rowCount():
            self.alloc_form.removeRow(0)
        self._share_spins = {}
        chips = list(dict.fromkeys([o.chip_id for o in self._orders] + list(sc.allocation.training_share)))
        for chip in chips:
            share = sc.allocation.training_share.get(chip, sc.allocation.default_training_share)
            spin = _spin(0, 100, share * 100, decimals=0, step=5, suffix=" % trains",
                         tip=f"Share of the installed {self.chip_name(chip)} chips that trains; the rest serves")
            spin.valueChanged.connect(self.schedule)
            self._share_spins[chip] = spin
            self.alloc_form.addRow(self.chip_name(chip), spin)
        if sc.allocation.steps:
            self.alloc_note.setText(f"{len(sc.allocation.steps)} dated change(s) of the share are kept from the "
                                    "saved scenario.")
            self.alloc_form.addRow(self.alloc_note)
        if not chips:
            self.alloc_form.addRow(QLabel("No chip types yet: add orders in the Fleet view."))

    def _rebuild_jobs(self, sc: ForecastScenario) -> None:
        self.jobs_editor.set_values(sc.jobs)

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

    def _on_jobs_edited(self) -> None:
        self._editor_edited()

    def _editor_edited(self) -> None:
        if self.validation_label.isVisibleTo(self):  # a fixed cell clears the stale message now
            self._validate(self.scenario())
        self.schedule()

    def scenario(self) -> ForecastScenario:
        """The scenario the form describes (fields the form doesn't show come from the loaded one)."""
        b = self._base
        ceiling = self.ceiling_spin.value() * 1e12
        demand = replace(
            b.demand, kind=self.curve_kind.currentData(), growth_after_last_per_year=self.growth_spin.value(),
            ceiling_tokens_per_day=ceiling if ceiling > 0 else None, peak_to_average=self.peak_spin.value(),
            scale=self.scale_spin.value(), input_tokens_per_request=self.input_tokens_spin.value(),
            output_tokens_per_request=self.output_tokens_spin.value(),
            model_id=self.model_combo.currentData() or b.demand.model_id,
            chip_id=self.unit_chip_combo.currentData() or b.demand.chip_id,
            ttft_ms=self.ttft_spin.value(), tpot_ms=self.tpot_spin.value(),
            weight_dtype=self.weight_dtype.currentData(), kv_dtype=self.kv_dtype.currentData())
        shares = dict(b.allocation.training_share)
        shares.update({chip: spin.value() / 100 for chip, spin in self._share_spins.items()})
        demand = replace(demand, points=self.points_editor.points())
        jobs = self.jobs_editor.jobs()
        return replace(
            b, start=_pydate(self.start_edit.date()).replace(day=1), months=self.months_spin.value(),
            trials=self.trials_spin.value(), seed=self.seed_spin.value(),
            default_uncertainty=self._uncertainty[("default", None)],
            vendor_uncertainty={k[1]: v for k, v in self._uncertainty.items() if k[0] == "vendor"},
            order_uncertainty={k[1]: v for k, v in self._uncertainty.items() if k[0] == "order"},
            demand=demand, allocation=replace(b.allocation, training_share=shares), jobs=jobs)

    def set_scenario_name(self, name: str) -> None:
        self._base = replace(self._base, name=name)

    # ---- running -------------------------------------------------------------------------------
    def schedule(self, *_):
        """Re-run shortly after an edit (debounced), when 'Update as I edit' is on."""
        if self._loading:
            return
        if self.auto_check.isChecked():
            self._debounce.start()

    def _validate(self, sc: ForecastScenario) -> bool:
        # The editors keep their last good rows; while a cell is bad nothing runs.
        problems = [f"Demand points: {e}" for e in self.points_editor.errors()]
        problems += [f"Training jobs: {e}" for e in self.jobs_editor.errors()]
        problems += validate_scenario(sc)
        fields = {"fraction": (self.frac_low, self.frac_mode, self.frac_high),
                  "delay": (self.delay_low, self.delay_mode, self.delay_high),
                  "demand.growth": (self.growth_spin,), "demand.peak": (self.peak_spin,),
                  "demand.ttft": (self.ttft_spin,), "demand.tpot": (self.tpot_spin,),
                  "demand.input": (self.input_tokens_spin,), "demand.output": (self.output_tokens_spin,),
                  "months": (self.months_spin,), "trials": (self.trials_spin,)}
        flagged = set()
        for problem in problems:
            for prefix, widgets in fields.items():
                if prefix in problem.split(":")[0]:
                    flagged.update(widgets)
        for widgets in fields.values():
            for w in widgets:
                w.setStyleSheet("border: 1px solid #c0392b;" if w in flagged else "")
        if problems:
            self.validation_label.setText("Fix before running: " + "; ".join(problems))
            self.validation_label.show()
            return False
        self.validation_label.hide()
        return True

    def _request(self) -> ForecastRequest | None:
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

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(round(fraction * 100)))
        self.progress_bar.setFormat(f"{message} %p%" if message else "%p%")

    def _on_cancelled(self) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Cancelled — showing the previous result")
        self.status_message.emit("Forecast cancelled; the previous result is still shown.")

    def _on_failed(self, message: str) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Failed")
        self.banner.show_error(f"The forecast could not run: {message}")
        self.status_message.emit(f"Forecast failed: {message}")

    def _on_finished(self, outcome: ForecastOutcome) -> None:
        self._show(outcome)

    def _on_store_changed(self, *_):
        self._read_store()
        self._cache = None  # orders or chips may have changed
        sc = self.scenario()
        self._load(sc)
        self.schedule()

    # ---- drawing -------------------------------------------------------------------------------
    def _show(self, outcome: ForecastOutcome) -> None:
        self.inputs, self.result = outcome.inputs, outcome.result
        req = outcome.request
        self._cache = (req.orders, req.chips, req.models, throughput_key(req.scenario), outcome.inputs)
        if self.banner.kind == "error":
            self.banner.dismiss()
        r = outcome.result
        self._draw(r)
        self.progress_bar.setValue(100)
        self.progress_bar.setFormat(f"Done: {r.trials:,} trials in {outcome.seconds:.2f} s")
        self.status_message.emit(f"Forecast: {r.trials:,} trials × {len(r.months)} months in "
                                 f"{outcome.seconds * 1000:.0f} ms")
        self.result_ready.emit(r)

    def _draw(self, r: ForecastResult) -> None:
        x = to_timestamps(r.months)
        unit_name = self.chip_name(r.unit_chip_id)
        unit = f"{unit_name} chips"
        cap = r.serving_capacity_unit_chips
        c = self.capacity_chart
        c.set_axis_labels(y_label="Serving capacity, demand", y_unit=unit)
        c.set_band("Capacity P10–P90", x, cap.p10, cap.p90, color="#0072B2")
        c.set_series("Capacity P50", x, cap.p50, color="#0072B2", symbol=None)
        c.set_series("Peak demand", x, r.demand_unit_chips, color="#D55E00", symbol=None, dashed=True)
        # Demand that grows far past capacity would flatten the band to a line at zero: show the
        # crossing and let the Shortfall chart carry the size of the gap (the A button zooms out).
        top = float(np.nanmax(cap.p90)) if cap.p90.size else 0.0
        if top > 0 and float(np.nanmax(r.demand_unit_chips)) > 4 * top:
            c.plot_item.setYRange(0, 3 * top, padding=0.02)
            c.plot_item.setXRange(float(x[0]), float(x[-1]), padding=0.02)
            c.set_title("Capacity vs peak demand (zoomed in)")
            fit_left_axis(c, [3 * top])
        else:
            c.plot_item.enableAutoRange()
            c.set_title("Serving capacity vs peak demand")
            fit_left_axis(c, np.concatenate([cap.p90, r.demand_unit_chips]))

        inst = self.installed_chart
        wanted = {"All types P10–P90", "All types P50"} | {f"{self.chip_name(ch)} P50" for ch in r.chip_ids}
        for name in inst.series_names():
            if name not in wanted:
                inst.remove_series(name)
        inst.set_band("All types P10–P90", x, r.installed_total.p10, r.installed_total.p90, color="#7F7F7F")
        inst.set_series("All types P50", x, r.installed_total.p50, color="#000000", symbol=None)
        colours = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
        for i, chip in enumerate(r.chip_ids):
            inst.set_series(f"{self.chip_name(chip)} P50", x, r.installed_by_chip[chip].p50,
                            color=colours[i % len(colours)], symbol=None)
        fit_left_axis(inst, r.installed_total.p90)

        s = self.shortfall_chart
        s.set_axis_labels(y_unit=unit)
        s.set_bars("Shortfall P50", x, r.shortfall_p50_unit_chips, width=26 * 86400.0, color="#D55E00")
        fit_left_axis(s, r.shortfall_p50_unit_chips)
        s.plot_item.enableAutoRange()

        p = self.probability_chart
        p.set_series("P(capacity ≥ peak demand)", x, r.prob_meet_demand * 100, color="#009E73", symbol=None)
        p.plot_item.setYRange(0, 100, padding=0.02)

        self._draw_jobs(r)
        self._fill_tables(r)
        self.summary_label.setText(self._summary_html(r))

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
        last = dt.date(end.year + (end.month == 12), end.month % 12 + 1, 1)
        edges = np.array([m.toordinal() for m in months + [last]], dtype=float)
        centres = to_timestamps(months) + 14 * 86400.0
        n = max(len(r.jobs), 1)
        width = 26 * 86400.0 / n
        colours = ("#0072B2", "#E69F00", "#009E73", "#CC79A7")
        for i, job in enumerate(r.jobs):
            counts, _ = np.histogram(job.completion_ordinals[np.isfinite(job.completion_ordinals)], bins=edges)
            share = counts / max(len(job.completion_ordinals), 1) * 100
            colour = colours[i % len(colours)]
            offset = (i - (n - 1) / 2) * width
            j.set_bars(job.job.name, centres + offset, share, width=width, color=colour)
            for q, day in (("P10", job.completion_p10), ("P50", job.completion_p50), ("P90", job.completion_p90)):
                if day is None:
                    continue
                line = pg.InfiniteLine(pos=float(to_timestamps([day])[0]), angle=90,
                                       pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
                                       label=f"{q} {day:%Y-%m}",
                                       labelOpts={"position": 0.92 if q != "P50" else 0.82, "color": colour,
                                                  "fill": pg.mkBrush(255, 255, 255, 200)})
                j.plot_item.addItem(line, ignoreBounds=True)
                self._job_markers.append(line)
        if r.jobs:
            done = [jb for jb in r.jobs if np.isfinite(jb.completion_ordinals).any()]
            if done:
                lo = min(float(np.nanmin(np.where(np.isfinite(jb.completion_ordinals), jb.completion_ordinals,
                                                   np.nan))) for jb in done)
                hi = max(float(np.nanmax(np.where(np.isfinite(jb.completion_ordinals), jb.completion_ordinals,
                                                   np.nan))) for jb in done)
                epoch = dt.date(1970, 1, 1).toordinal()
                j.plot_item.setXRange((lo - epoch - 60) * 86400.0, (hi - epoch + 60) * 86400.0, padding=0)
                j.plot_item.enableAutoRange(axis="y")
            else:
                j.plot_item.enableAutoRange()
        self.jobs_chart.set_title("Training-job completion date (share of trials finishing each month)"
                                  if r.jobs else "Training-job completion date: no jobs in this scenario")

    # ---- tables --------------------------------------------------------------------------------
    def monthly_rows(self) -> tuple[list[str], list[list]]:
        r = self.result
        unit = f"{self.chip_name(r.unit_chip_id)} chips"
        headers = ["Month", "Installed P10 (chips)", "Installed P50 (chips)", "Installed P90 (chips)"]
        headers += [f"Installed P50 {self.chip_name(c)} (chips)" for c in r.chip_ids]
        headers += ["H100-equivalents P50 (chips)", f"Capacity P10 ({unit})", f"Capacity P50 ({unit})",
                    f"Capacity P90 ({unit})", f"Peak demand ({unit})", "Demand (tokens/day)",
                    f"Shortfall P50 ({unit})", "P(meet demand) (%)"]
        rows = []
        for i, month in enumerate(r.months):
            row = [month, float(r.installed_total.p10[i]), float(r.installed_total.p50[i]),
                   float(r.installed_total.p90[i])]
            row += [float(r.installed_by_chip[c].p50[i]) for c in r.chip_ids]
            row += [float(r.h100_equiv_total.p50[i]), float(r.serving_capacity_unit_chips.p10[i]),
                    float(r.serving_capacity_unit_chips.p50[i]), float(r.serving_capacity_unit_chips.p90[i]),
                    float(r.demand_unit_chips[i]), float(r.demand_tokens_per_day[i]),
                    float(r.shortfall_p50_unit_chips[i]), float(r.prob_meet_demand[i]) * 100]
            rows.append(row)
        return headers, rows

    def job_rows(self) -> tuple[list[str], list[list]]:
        headers = ["Job", "Model", "Chip type", "Tokens (T tokens)", "Earliest start (date)", "Start P50 (date)",
                   "Done P10 (date)", "Done P50 (date)", "Done P90 (date)", "Done within horizon (%)"]
        rows = []
        for j in self.result.jobs:
            rows.append([j.job.name, j.job.model_id, self.chip_name(j.job.chip_id), j.job.tokens / 1e12,
                         j.job.earliest_start, j.start_p50 or "", j.completion_p10 or "after horizon",
                         j.completion_p50 or "after horizon", j.completion_p90 or "after horizon",
                         j.prob_within_horizon * 100])
        return headers, rows

    def key_figure_rows(self) -> tuple[list[str], list[list]]:
        return ["Figure", "Value"], [[label, value] for label, value in key_figures(self.result, self._chip_names)]

    def _fill_table(self, table: QTableWidget, headers, rows) -> None:
        table.setUpdatesEnabled(False)
        table.clear()
        table.setColumnCount(len(headers))
        table.setRowCount(len(rows))
        table.setHorizontalHeaderLabels(headers)
        for i, row in enumerate(rows):
            for k, value in enumerate(row):
                item = QTableWidgetItem(figure_text(value))
                if isinstance(value, (int, float)):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(i, k, item)
        table.setUpdatesEnabled(True)

    def _fill_tables(self, r: ForecastResult) -> None:
        self._fill_table(self.monthly_table, *self.monthly_rows())
        self._fill_table(self.jobs_table, *self.job_rows())

    def _summary_html(self, r: ForecastResult) -> str:
        end = len(r.months) - 1
        unit = self.chip_name(r.unit_chip_id)
        first = first_shortfall_month(r)
        parts = [f"<b>{r.months[end]:%b %Y}</b>: {format_number(r.installed_total.p50[end])} chips installed "
                 f"(P50; P10 {format_number(r.installed_total.p10[end])}, P90 "
                 f"{format_number(r.installed_total.p90[end])})."]
        if first is None:
            parts.append("P50 capacity covers peak demand in every month.")
        else:
            short = int(np.count_nonzero(r.shortfall_p50_unit_chips > 0))
            parts.append(f"Peak demand first exceeds P50 capacity in <b>{first:%b %Y}</b>; {short} of "
                         f"{len(r.months)} months short (largest gap "
                         f"{format_number(float(r.shortfall_p50_unit_chips.max()))} {unit} chips).")
        for months_in in (12, 24):
            if months_in < len(r.months):
                parts.append(f"P(meet demand) at {r.months[months_in]:%b %Y}: "
                             f"{r.prob_meet_demand[months_in] * 100:.0f}%.")
        for j in r.jobs:
            when = (lambda d: f"{d:%b %Y}" if d else "after the horizon")
            parts.append(f"Job <i>{j.job.name}</i>: done P50 <b>{when(j.completion_p50)}</b> "
                         f"(P10 {when(j.completion_p10)}, P90 {when(j.completion_p90)}).")
        parts.append(f"<span style='color:#666'>{r.trials:,} trials, seed {r.seed}; throughput from "
                     f"{r.throughput_source}.</span>")
        return " ".join(parts)
