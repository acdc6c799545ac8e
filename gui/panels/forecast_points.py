"""The Forecast view's demand points table: date, tokens/day, note and each figure's uncertainty.

Apart from gui.panels.forecast_editors (which re-exports DemandPointsEditor) to keep that file short.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidgetItem

from engine.fleet import add_months_same_day
from engine.forecast import DemandPoint
from gui.panels.analysis_common import parse_iso_date
from gui.panels.forecast_editors import _TIP_ROLE, _ZERO_TEXT, _RowsEditor

SD_COLUMN, AT_LEAST_COLUMN = 3, 4
SD_TIP = ("How far the figure may be off: one standard deviation, in % of the figure (lognormal), drawn "
          "afresh in every trial; 0 = exact. A date known to about a month, at a growth of g× a year, is "
          "off by about ln(g)/12: 17% at 8×/year, 8% at 2.6×/year. Piecewise curves only")
AT_LEAST_TIP = ("Ticked: the figure is a lower bound (\"more than\"): every draw is at or above it, spread "
                "upward by the ± % of its row")


class DemandPointsEditor(_RowsEditor):
    """Measured or reported tokens/day: (date, tokens/day, note, ± % at 1 sd, at least), kept in
    date order. The uncertainty columns follow the note so that the columns the other views and
    tests know keep their places."""

    HEADERS = ("As of\n(date)", "Tokens per day\n(billions)", "Note", "± %\n(1 sd)", "At least\n(floor)")
    TIPS = ("Date of the figure, YYYY-MM-DD; rows are kept in date order and no two share a date",
            "Average tokens per day (input + output), in billions: 120 = 120 billion, 50000 = 50 trillion",
            "Where the figure comes from (free text)", SD_TIP, AT_LEAST_TIP)
    WHAT = "demand point"
    TITLE = "Demand points"
    STATE_PATH = ("demand", "points")

    def __init__(self, parent=None):
        super().__init__(parent)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(SD_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(AT_LEAST_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        self.add_button.setToolTip("Add a demand point three months after the last one (then edit it)")
        self.remove_button.setToolTip("Remove the selected demand point (the last one if none is selected)")

    def points(self) -> tuple[DemandPoint, ...]:
        return self.values()

    def _write_row(self, r: int, p: DemandPoint) -> None:
        self._set_text(r, 0, p.date.isoformat())
        self._set_number(r, 1, p.tokens_per_day, unit=1e9)
        self._set_text(r, 2, p.note, tip=p.note or None)
        self._set_number(r, SD_COLUMN, p.sd_pct)
        self.table.item(r, SD_COLUMN).setData(_TIP_ROLE, SD_TIP)
        # a check box, not text: a click (or Space) is the edit, and itemChanged commits it
        box = QTableWidgetItem()
        box.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        box.setCheckState(Qt.CheckState.Checked if p.at_least else Qt.CheckState.Unchecked)
        box.setData(_TIP_ROLE, AT_LEAST_TIP)
        box.setToolTip(AT_LEAST_TIP)
        self.table.setItem(r, AT_LEAST_COLUMN, box)

    def _parse_row(self, r: int):
        problems = []
        day, why = parse_iso_date(self._text(r, 0), "date")
        if why:
            problems.append((0, why))
        tokens_per_day, why = self._number(r, 1, "tokens per day", unit=1e9)
        if why:
            problems.append((1, why))
        elif tokens_per_day > 1e21:
            problems.append((1, f"tokens per day {self._text(r, 1)!r} billion is implausibly large"))
        sd_pct, why = self._sd_pct(r)
        if why:
            problems.append((SD_COLUMN, why))
        if problems:
            return None, problems
        box = self.table.item(r, AT_LEAST_COLUMN)
        at_least = box is not None and box.checkState() == Qt.CheckState.Checked
        return DemandPoint(day, tokens_per_day, self._text(r, 2).strip(), sd_pct, at_least), []

    def _sd_pct(self, r: int) -> tuple[float, str]:
        """(± % at 1 sd, why-not): blank or 0 in any spelling is an exact figure."""
        text = self._text(r, SD_COLUMN).strip()
        if not text or _ZERO_TEXT.fullmatch(text):
            return 0.0, ""
        sd_pct, why = self._number(r, SD_COLUMN, "uncertainty")
        if why:
            return 0.0, (why.replace("must be a positive finite number", "must be 0 to 100 (% at 1 sd)")
                         .replace("(type a positive number)", "(type 0 to 100 %)"))
        if sd_pct > 100:
            return 0.0, f"uncertainty {self._text(r, SD_COLUMN)!r} is above 100 (% of the figure at 1 sd)"
        return sd_pct, ""

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
        return DemandPoint(add_months_same_day(last.date, 3), last.tokens_per_day, "")
