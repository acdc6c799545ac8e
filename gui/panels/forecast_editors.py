"""Editable tables and form helpers of the Forecast view: demand points, training jobs, cut-offs.

The demand points table lives in gui.panels.forecast_points (it imports the base table from here);
it is re-exported below under its old name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from dataclasses import replace

from PySide6.QtCore import QDate, QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDateEdit, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout,
    QHeaderView, QLabel, QMainWindow, QPushButton, QSizePolicy, QSpinBox, QStyledItemDelegate, QTableWidget,
    QTableWidgetItem, QVBoxLayout, QWidget,
)

from engine.forecast import MAX_TRIAL_MONTHS, START_YEARS, PolicyEvent, TrainingJob
from engine.fleet import add_months_same_day
from engine.studies_forecast import note_for_values
from gui import style
from gui.panels.analysis_common import dspin, parse_iso_date, parse_positive, spin
from gui.panels.base import run_controls
from gui.panels.forecast_rows import number_text as _number_text, repeated_key_problems, row_texts, step_words
from gui.widgets.undo_keys import undo_direction


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
_TIP_ROLE = Qt.ItemDataRole.UserRole + 1
_EXACT_ROLE = Qt.ItemDataRole.UserRole + 2       # (text written, exact value) of a number cell
_LAST_GOOD_ROLE = Qt.ItemDataRole.UserRole + 3   # the cell's text at its last good commit
_ZERO_TEXT = re.compile(r"[+-]?(0+\.?0*|\.0+)([eE][+-]?\d+)?")   # 0, 0.0, 0.00, .0, 0e0


class _RowsEditor(QWidget):
    """A small table of typed rows with Add/Remove, checked on every edit.

    Cells hold text; a commit parses every row. Bad cells turn red with the reason in their tooltip
    and under the table, and the last good rows are kept (`errors()` tells the panel not to run;
    `save_problem()` tells the window not to save the last good rows in place of the typed text).
    """

    edited = Signal()
    HEADERS: tuple[str, ...] = ()
    TIPS: tuple[str, ...] = ()
    WHAT = "row"
    TITLE = "Rows"   # the table's name in a refusal ("Cut-offs row 2 (Probability): ...")
    STATE_PATH: tuple[str, ...] = ()   # where its rows sit in the view's state: form_undo asks it to name their edit

    def __init__(self, parent=None):
        super().__init__(parent)
        self._good: tuple = ()
        self._step = ("", ())   # the undo step's words for the last commit that changed the rows, and those rows
        self._good_texts: list[tuple[str, ...]] = []   # the kept rows as the table showed them
        self._errors: list[str] = []
        self._bad_cells: dict[tuple[int, int], str] = {}   # (row, column) -> why, while typed text is bad
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
        self.table.setTabKeyNavigation(False)   # Tab goes on to the Add/Remove buttons (it cycled the cells)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.installEventFilter(self)   # Ctrl+Z over a bad cell: its last good text
        self.add_button = QPushButton("Add row")
        self.add_button.clicked.connect(self.add_row)
        self.remove_button = QPushButton("Remove row")
        self.remove_button.clicked.connect(self.remove_row)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(style.error_style())
        self.error_label.hide()
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        self.summary_label = QLabel()  # one short line beside the buttons
        self.summary_label.setStyleSheet(style.hint_style())
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

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        """Bad text is no step on the window's stack, so Ctrl+Z did nothing, unsaid: while the
        table holds bad text, Ctrl+Z in it puts the bad cells' last good text back instead."""
        if obj is self.table and event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) \
                and self._bad_cells and undo_direction(event) == "undo":
            if event.type() == QEvent.Type.ShortcutOverride:
                event.accept()   # a key press for the table, not the window's Undo
            else:
                self.undo_bad_cells()
            return True
        return super().eventFilter(obj, event)

    def undo_bad_cells(self) -> str:
        """Each bad cell's last good text back, said in the window's status line; returns it."""
        restored = []
        with self._quiet():
            for r, c in sorted(self._bad_cells):
                item = self.table.item(r, c)
                if item is not None and item.data(_LAST_GOOD_ROLE) is not None:
                    item.setText(item.data(_LAST_GOOD_ROLE))
                    column = self.HEADERS[c].split("\n")[0]
                    restored.append(f"row {r + 1} {column} '{item.text()}'")
        self.commit()
        message = f"Undid typing: {self.TITLE} " + ", ".join(restored[:3]) + ("…" if len(restored) > 3 else "") \
            if restored else f"Nothing to undo: {self.save_problem()}"
        if isinstance(self.window(), QMainWindow):
            self.window().statusBar().showMessage(message, 8000)
        return message

    # ---- public ----
    def values(self) -> tuple:
        """The last rows that passed every check."""
        return self._good

    def errors(self) -> list[str]:
        return list(self._errors)

    def save_problem(self) -> str:
        """One line naming the first bad cell (table, row, column, the reason with the typed
        value), or "": while a cell is bad, `values()` are the last good rows, not what is on
        screen, and saving them would store a value the user no longer sees."""
        if not self._bad_cells:
            return ""
        (r, c), why = min(self._bad_cells.items())
        column = self.HEADERS[c].split("\n")[0] if c < len(self.HEADERS) else f"column {c + 1}"
        more = len(self._bad_cells) - 1
        return f"{self.TITLE} row {r + 1} ({column}): {why}" + (f" (+{more} more)" if more else "")

    def set_values(self, values) -> None:
        self._good = tuple(values)
        self._fill(self._good)
        self._good_texts = row_texts(self.table)
        self._errors = []
        self._bad_cells = {}
        self._show_errors({})

    def drop_bad_cells(self) -> None:
        """Show the last good rows again (the typed text a Discard gives up)."""
        if self._bad_cells:
            self.set_values(self._good)
            self.edited.emit()

    def add_row(self) -> None:
        base = self._good if not self._errors else tuple(v for v in self._parsed() if v is not None)
        value = self._new_value(base)
        with self._quiet():
            r = self.table.rowCount()
            self.table.insertRow(r)
            self._write_row(r, value)
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
        values, bad = [], {}
        for r in range(self.table.rowCount()):
            value, problems = self._parse_row(r)
            values.append(value)
            for c, message in problems:
                bad.setdefault((r, c), message)
        if not bad:
            for r, c, message in self._check_rows(values):
                bad.setdefault((r, c), message)
        self._bad_cells = bad
        cells = {(r, c): f"Row {r + 1}: {message}" for (r, c), message in bad.items()}
        self._errors = list(dict.fromkeys(cells.values()))
        if not cells:
            ordered = self._ordered(values)
            if ordered != values or self._untidy():  # show the rows the way the engine reads them
                self._fill(ordered)
            if tuple(ordered) != self._good:
                self._step = (step_words(self.WHAT, self.HEADERS, self._good, ordered, self._good_texts,
                                         row_texts(self.table)), tuple(ordered))
            self._good, self._good_texts = tuple(ordered), row_texts(self.table)
        self._show_errors(cells)
        self.edited.emit()

    def step_text(self, _old=None, _new=None) -> str:
        """The last commit's step in words ("Add demand point"), while its rows are the ones kept."""
        return self._step[0] if self._step[1] == self._good else ""

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

    @contextlib.contextmanager
    def _quiet(self):
        """Cell changes made here are not edits to check."""
        self._filling = True
        try:
            yield
        finally:
            self._filling = False

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
        with self._quiet():
            for r in range(self.table.rowCount()):
                for c in range(self.table.columnCount()):
                    item = self.table.item(r, c)
                    if item is None:
                        continue
                    bad = cells.get((r, c))
                    item.setBackground(BAD_CELL if bad else QBrush())
                    if not bad:   # for Ctrl+Z over the cell once it turns bad
                        item.setData(_LAST_GOOD_ROLE, item.text())
                    item.setToolTip(bad or item.data(_TIP_ROLE) or "")
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
            item.setData(_TIP_ROLE, tip)
            item.setToolTip(tip)
        self.table.setItem(r, c, item)

    def _set_number(self, r: int, c: int, value: float, *, unit: float = 1.0, per: float = 1.0) -> None:
        """A number cell showing `value / unit * per` (percent: per=100); `value` is kept with it."""
        text = _number_text(value / unit * per)
        self._set_text(r, c, text, right=True)
        self.table.item(r, c).setData(_EXACT_ROLE, (text, value))

    def _number(self, r: int, c: int, what: str, *, unit: float = 1.0, per: float = 1.0):
        """(value, why-not): the value written to the cell while its text is untouched (a commit
        re-reads every row: re-parsing a shown 1234.57 stored 1234.5678 as that, when only
        another row's note changed), else the typed number * unit / per."""
        item = self.table.item(r, c)
        kept = item.data(_EXACT_ROLE) if item is not None else None
        if isinstance(kept, tuple) and kept[0] == item.text():
            return kept[1], ""
        number, why = parse_positive(self._text(r, c), what)
        return (None, why) if why else (number * unit / per, "")


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

    HEADERS = ("Name", "Model", "Chip type", "Tokens\n(trillions)", "Earliest start\n(date)", "Deadline\n(date)")
    TIPS = ("A name for the job (unique)",
            "The model preset to train: a stored preset (the Training view's Preset list; `fleetcast models import` adds one)",
            "The chip type it trains on: it gets that type's training share; jobs on one type run in list order",
            "Training tokens, in trillions: 15 = 15 trillion tokens",
            "The first day the job may start, YYYY-MM-DD",
            "Optional: the day it must be done by, YYYY-MM-DD (the forecast reports the probability; the "
            "planner buys chips to meet it); empty = none")
    WHAT = "training job"
    TITLE = "Training jobs"
    STATE_PATH = ("jobs",)

    def __init__(self, parent=None):
        self._models: list[tuple[str, str]] = []
        self._chips: list[tuple[str, str]] = []
        super().__init__(parent)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(40)
        metrics = self.table.fontMetrics()
        for c, sample in ((1, "Llama 3.1 405B"), (2, "Ascend 910B2"), (3, "(trillions)"), (4, "2025-01-01"),
                          (5, "2025-01-01")):
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
        self._set_number(r, 3, job.tokens, unit=1e12)
        self._set_text(r, 4, job.earliest_start.isoformat())
        self._set_text(r, 5, job.deadline.isoformat() if job.deadline else "")

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
        tokens, why = self._number(r, 3, "tokens", unit=1e12)
        if why:
            problems.append((3, why))
        elif tokens > 1e18:
            problems.append((3, f"tokens {self._text(r, 3)!r} trillion is implausibly large"))
        start, why = parse_iso_date(self._text(r, 4), "earliest start")
        if why:
            problems.append((4, why))
        deadline = None
        if self._text(r, 5).strip():
            deadline, why = parse_iso_date(self._text(r, 5), "deadline")
            if why:
                problems.append((5, why))
            elif start is not None and deadline <= start:
                problems.append((5, f"deadline {deadline} is not after the earliest start {start}"))
        if problems:
            return None, problems
        item = self.table.item(r, 0)
        seq_len, batch = item.data(Qt.ItemDataRole.UserRole) or (None, None)
        return TrainingJob(name, model, tokens, chip, start, seq_len, batch, deadline), []

    def _check_rows(self, values):
        return repeated_key_problems(values, lambda job: job.name,
                                     lambda name, first: f"name {name!r} is already used by row {first}")

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


class PolicyEventsEditor(_RowsEditor):
    """Export-licence cut-offs: chip type, probability, window, duration (empty = for good)."""

    HEADERS = ("Chip type", "Probability\n(%)", "Window from\n(date)", "Window to\n(date)", "Lasts\n(months)")
    TIPS = ("The chip type whose exports are cut off (every vendor's undelivered lots of it)",
            "The chance that the cut-off happens within the window, in percent",
            "The earliest day it may start, YYYY-MM-DD",
            "The latest day it may start, YYYY-MM-DD (the start is drawn uniformly in between)",
            "How long it lasts, in months; empty = for good. Lots due to ship during it are lost")
    WHAT = "export cut-off"
    TITLE = "Cut-offs"
    STATE_PATH = ("policy_events",)

    def __init__(self, parent=None):
        self._chips: list[tuple[str, str]] = []
        self._notes: dict[int, str] = {}
        super().__init__(parent)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        metrics = self.table.fontMetrics()
        for c, sample in ((1, "Probability"), (2, "2025-01-01"), (3, "2025-01-01"), (4, "(months)")):
            self.table.setColumnWidth(c, metrics.horizontalAdvance(sample) + 14)
        self.table.setItemDelegateForColumn(0, _ChoiceDelegate(lambda: self._chips, self.table))
        self.add_button.setToolTip("Add an export-licence cut-off of a chip type")
        self.remove_button.setToolTip("Remove the selected cut-off")

    def set_choices(self, chips: list[tuple[str, str]]) -> None:
        self._chips = list(chips)

    def events(self) -> tuple[PolicyEvent, ...]:
        return self.values()

    def _write_row(self, r: int, ev: PolicyEvent) -> None:
        label = dict(self._chips).get(ev.chip_id, ev.chip_id)
        self._set_text(r, 0, label, tip=ev.note or f"{ev.chip_id}; double-click to choose another")
        self.table.item(r, 0).setData(Qt.ItemDataRole.UserRole, (ev.chip_id, ev.note, ev))   # ev: what the note was for
        self._set_number(r, 1, ev.probability, per=100)
        self._set_text(r, 2, ev.window_start.isoformat())
        self._set_text(r, 3, ev.window_end.isoformat())
        if ev.duration_months is None:
            self._set_text(r, 4, "", right=True)
        else:
            self._set_number(r, 4, ev.duration_months)

    def _parse_row(self, r: int):
        problems = []
        item = self.table.item(r, 0)
        picked = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        chip_id, note, written = (picked if isinstance(picked, tuple) else (picked, "", None))
        text = item.text().strip() if item is not None else ""
        labels = dict(self._chips)
        if not (chip_id in labels and text in (labels[chip_id], chip_id)):
            chip_id = next((c for c, lab in self._chips if text.lower() in (c.lower(), lab.lower())), text)
        if chip_id not in labels:
            problems.append((0, f"chip type {chip_id!r} is not in the store"))
        # 0 is allowed in any spelling ("0.00": a cut-off switched off); parse_positive refuses it
        probability, why = (0.0, "") if _ZERO_TEXT.fullmatch(self._text(r, 1).strip()) else \
            self._number(r, 1, "probability", per=100)
        if why:
            problems.append((1, why.replace("must be a positive finite number", "must be 0 to 100 (%)")
                             .replace("(type a positive number)", "(type 0 to 100 %)")))
        elif probability > 1:
            problems.append((1, f"probability {self._text(r, 1)!r} is above 100%"))
        lo, why_lo = parse_iso_date(self._text(r, 2), "window start")
        hi, why_hi = parse_iso_date(self._text(r, 3), "window end")
        if why_lo:
            problems.append((2, why_lo))
        if why_hi:
            problems.append((3, why_hi))
        if lo and hi and hi < lo:
            problems.append((3, f"window end {hi} is before its start {lo}"))
        duration = None
        if self._text(r, 4).strip():
            duration, why = self._number(r, 4, "months")
            if why:
                problems.append((4, why))
        if problems:
            return None, problems
        # a note argued for the row as written ("a coin flip in 2025"): edited, it says so (a vendor's does)
        event = note_for_values(written, PolicyEvent(chip_id, probability, lo, hi, duration, note or ""))
        with QSignalBlocker(self.table):   # its tip (_show_errors shows it), not an edit
            item.setData(_TIP_ROLE, event.note or item.data(_TIP_ROLE))
        return event, []

    def _check_rows(self, values):
        return repeated_key_problems(values, lambda ev: ev.chip_id,
                                     lambda chip, first: f"{chip} already has a cut-off in row {first} (one per chip type)")

    def _new_value(self, values):
        used = {ev.chip_id for ev in values}
        chip = next((c for c, _ in self._chips if c not in used), self._chips[0][0] if self._chips else "")
        start = dt.date.today().replace(day=1)
        return PolicyEvent(chip, 0.5, start, add_months_same_day(start, 12), None)


def rows_editors(widget: QWidget) -> list[_RowsEditor]:
    """The editable tables under `widget` (the window watches them for bad cells)."""
    return widget.findChildren(_RowsEditor)


def save_problem_under(widget: QWidget) -> str:
    """The first bad cell of the tables under `widget`, in one line, or "" (see save_problem)."""
    return next((p for p in (e.save_problem() for e in rows_editors(widget)) if p), "")


def build_run_box(owner) -> QGroupBox:
    """The Forecast's "Horizon and run" group; its widgets are set on `owner` (the Forecast view)
    under the names the view and the tests use, and Run / Cancel call `owner.run` / `owner.cancel`."""
    owner.start_edit = QDateEdit()
    owner.start_edit.setDisplayFormat("yyyy-MM")
    owner.start_edit.setCalendarPopup(True)
    owner.start_edit.setDateRange(QDate(START_YEARS[0], 1, 1), QDate(START_YEARS[1], 12, 1))
    owner.start_edit.setToolTip("First month of the forecast (the 1st of the month)")
    owner.months_spin = _int_spin(1, 240, 60, suffix=" months", tip="How many months to forecast")
    owner.trials_spin = _int_spin(100, 500_000, 2000, step=500, suffix=" trials",
                                 tip="Monte Carlo trials: each draws every order's fulfilled fraction and delay. "
                                     f"2,000 trials take about 30 ms. Trials x months: at most {MAX_TRIAL_MONTHS:,}.")
    owner.seed_spin = _int_spin(0, 2_000_000_000, 0, tip="Random seed: the same seed gives the same draws")
    owner.seed_spin.setGroupSeparatorShown(False)  # an identifier, not a quantity
    owner.auto_check = QCheckBox("Update as I edit")
    owner.auto_check.setChecked(True)
    owner.auto_check.setToolTip("Re-run the forecast shortly after every change (in the background)")
    buttons = run_controls(owner, "Run forecast", "Run the Monte Carlo forecast with these inputs",
                 "Stop the running forecast; the last result stays on screen")
    run_box = QGroupBox("Horizon and run")
    run_form = QFormLayout(run_box)
    run_form.addRow("First month", owner.start_edit)
    run_form.addRow("Horizon", owner.months_spin)
    run_form.addRow("Trials", owner.trials_spin)
    run_form.addRow("Seed", owner.seed_spin)
    run_form.addRow(buttons)
    run_form.addRow(owner.auto_check)
    run_form.addRow(owner.progress_bar)
    return run_box


GROWTH_MULTIPLIER_LABEL = "Growth multiplier"
GROWTH_MULTIPLIER_TIP = (
    "What-if on the demand growth after the last point, in log terms: 1 = as fitted; 2 = twice the "
    "log-growth per year, so 3×/year reads 9×/year (not 6×) and the spread widens alike (P10/P50/P90 of "
    "1.5/2/3×/year read 2.25/4/9×). Every growth model and curve; the points do not move, nor their "
    "scatter about the curve (a level, not growth)")


def attach_growth_multiplier(panel) -> QDoubleSpinBox:
    """The demand growth what-if (DemandCurve.growth_rate_multiplier) as a row of the Forecast's
    "Demand and serving" form, under "Fit error floor"; returns its spin box (also
    `panel.growth_multiplier_spin`). Called again it returns the same box.

    The view keeps fields it does not show in its loaded scenario (`panel._base`), which
    `panel.scenario()` carries over: an edit writes the multiplier there and schedules a run, and
    each load (`inputs_rebuilt`, after a scenario switch, an undo) shows the loaded value again
    with the box's signals held, so loading is no edit on the undo stack."""
    box = getattr(panel, "growth_multiplier_spin", None)
    if box is not None:
        return box
    box = _spin(0.01, 100, 1.0, decimals=2, step=0.1, suffix=" ×", tip=GROWTH_MULTIPLIER_TIP)
    form = panel._demand_form
    row, _role = form.getWidgetPosition(panel.sigma_floor_spin)
    form.insertRow(row + 1, GROWTH_MULTIPLIER_LABEL, box)

    def show_loaded() -> None:
        with QSignalBlocker(box):
            box.setValue(panel._base.demand.growth_rate_multiplier)

    def edited(value: float) -> None:
        base = panel._base
        panel._base = replace(base, demand=replace(base.demand, growth_rate_multiplier=float(value)))
        panel.schedule()

    box.valueChanged.connect(edited)
    panel.inputs_rebuilt.connect(show_loaded)
    show_loaded()
    panel.growth_multiplier_spin = box
    return box


def __getattr__(name: str):
    """DemandPointsEditor from gui.panels.forecast_points, on first use (that module imports the base
    table from this one, so it cannot be imported at the top of this file)."""
    if name == "DemandPointsEditor":
        from gui.panels.forecast_points import DemandPointsEditor

        return DemandPointsEditor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
