"""The Compare view's words: a scenario's changes from the baseline, column titles and the
differences it shows, with the marks on those Monte Carlo noise may explain, and the table that
shows them with its columns as wide as their words need (kept apart from gui.panels.compare,
which runs and draws)."""

from __future__ import annotations

import datetime as dt
import math
import textwrap

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyledItemDelegate, QTableWidget

from engine.compare_units import round_to_shown_place
from engine.errors import UserError
from engine.scenario_changes import describe_changes, described_views, diff_params, effective_changes
from engine.studies_forecast import (
    SEED_STANDARD_ERRORS, demand_over_capacity_p50, p50_short, prob_meet_standard_error, round_figure,
)
from gui import style
from gui.widgets.plot_panel import elide_name

# a compared what-if's changes when its stored row could not be read when the comparison ran
# (deleted meanwhile, or unreadable): never "none", which says it changed nothing
CHANGES_UNREADABLE = "deleted or unreadable"
# The empty Compare view's words, on its table and charts (and its banner when Compare is pressed)
ONE_SCENARIO_TEXT = "Only one scenario: create another with New or Duplicate to compare"
TICK_TEXT = "Tick a scenario besides the baseline, then press Compare"
PRESS_TEXT = "Press Compare to run the ticked scenarios"
ROWS_KEPT = 3   # the key-figures table never shows fewer rows than this (the view scrolls instead)


def changes_text(store, name: str, baseline: str | None, chip_names: dict[str, str]) -> str:
    """`name`'s changes from the baseline as stored now, in the forms' words (every one: the
    exported CSV kept "... and 1 more" and lost the last; the cell's tooltip shows the whole
    text). Read when a comparison runs: the changes that run used, whatever is deleted later."""
    return changes_and_keys(store, name, baseline, chip_names)[0]


def changes_and_keys(store, name: str, baseline: str | None, chip_names: dict[str, str]) -> tuple[str, tuple]:
    """(`changes_text`, the dotted keys of the changes it describes)."""
    if name == baseline:
        return "—", ()
    base_params = None
    lead = ""
    try:
        row = store.scenario(name)
        if not row.get("base") and baseline is None:   # the baseline was deleted
            return "stored in full (no baseline)", ()
        if row.get("base") and row["base"] == baseline:
            base_params = store.scenario(row["base"])["params"]
            changes = effective_changes(base_params, row.get("changes") or {})   # what still differs now
        else:
            # stored whole, or built on another scenario (the baseline before Make baseline): its
            # differences from the baseline it is compared with, which its figures' differences
            # show. Its own changes read "6 months late" beside +15,000 chips that came from the
            # fulfilment of the scenario it was built on (QA s38).
            base_params = store.scenario(baseline)["params"]
            changes = diff_params(base_params, row["params"])
            lead = (f"built on '{row['base']}', not the baseline; from the baseline: " if row.get("base")
                    else "stored in full; from the baseline: ")
    except UserError:
        return CHANGES_UNREADABLE, ()
    text = lead + ("; ".join(describe_changes(changes, limit=None, chip_labels=chip_names, base=base_params)) or "none")
    views = described_views(changes)
    if views:
        # Compare runs the forecasts: a change to the Training or Inference view's inputs, listed
        # above, moves none of its figures (QA: every row read 0 beside "Training: chip H800")
        names = " and ".join(views)
        text += f" ({names}: not compared here, only the forecast's figures; their views show them)"
    return text, tuple(changes)


def file_value(value, for_file: bool):
    """A figure for a file: a number that is not whole to 3 significant figures."""
    return round_figure(value) if for_file and isinstance(value, float) else value


def header_lines(header: str, width: int = 12) -> str:
    """A column title on short lines (the window's columns are narrow at 1280 px; CSV keeps one line):
    "Huawei 6 months late − baseline" -> "Huawei 6 months\nlate\n− baseline". The name is elided to
    three lines (a 200-character one made a header 17 lines tall); its tooltip has it in full."""
    for tail in (" − baseline", " (baseline)"):
        if header.endswith(tail):
            return "\n".join(textwrap.wrap(elide_name(header[:-len(tail)], 3 * width), width) + [tail.strip()])
    return "\n".join(textwrap.wrap(elide_name(header, 3 * width), width)) or header


def difference(value, base):
    """value - base for numbers, months for month starts (days for other dates), "" when they can't
    be compared."""
    if isinstance(value, bool) or isinstance(base, bool):
        return ""
    if isinstance(value, (int, float)) and isinstance(base, (int, float)):
        difference = value - base
        if isinstance(difference, float) and abs(difference) <= 1e-9 * max(abs(value), abs(base)):
            return 0.0   # rounding in the last bits: 1,954,632 beside 1,954,632 read "2.33e-10" (QA s37)
        # to 12 significant figures: 45.6 - 12.3 is 33.3, not the binary 33.300000000000004
        return float(f"{difference:.12g}") if isinstance(difference, float) else difference
    if isinstance(value, dt.date) and isinstance(base, dt.date):
        if value.day == 1 and base.day == 1:   # month starts (a monthly model's dates): in months
            months = (value.year - base.year) * 12 + value.month - base.month
            return f"{months:+d} month{'s' if abs(months) != 1 else ''}"
        return f"{(value - base).days:+d} days"
    return ""


def shown_difference(value, base, shown_value, shown_base, digits: int | None = None):
    """The difference of two figures whose cells show `shown_value` and `shown_base` (rounded to
    `digits` significant figures, for a file; None: as computed, the window): from the unrounded
    `value` and `base`, rounded at the last place both cells keep, and 0 where they read the same.
    Differencing the cells said 10,540,000 for 13,200,000 - 2,660,000 where the figures differ by
    10,581,711 (10,600,000 at the cells' place); differencing the unrounded values alone said -496
    between two cells reading 2,280,000, and 543 between 62,200 and 61,700 (500 here)."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (value, base, shown_value, shown_base))
    if numbers and shown_value == shown_base:
        return difference(shown_value, shown_base)   # 0 (or 0.0) as the row reads
    diff = difference(value, base)
    if digits is None or not numbers or not isinstance(diff, float):   # whole counts are exact
        return diff
    return round_to_shown_place(diff, (shown_value, shown_base), digits)


# The marks on a difference that Monte Carlo noise may explain ((the row's words, the rule)), said
# in a last row: a what-if changing only the seed showed "Largest P50 shortfall +136,646 chips" and
# "First month ... -1 month" as effects. No extra runs: the error is read off the two runs.
NOISE_MARK, SEED_MARK = "~", "*"
MARKS = (NOISE_MARK, SEED_MARK)
MARK_WORDS = {
    NOISE_MARK: ("within Monte Carlo error",
                 f"the runs' probabilities differ by under {SEED_STANDARD_ERRORS:g} standard errors "
                 "(sqrt(p(1-p)/trials) each, combined), or the months other seeds may give overlap "
                 f"(P(meet) within {SEED_STANDARD_ERRORS:g} standard errors of 50%)"),
    SEED_MARK: ("from runs with other seeds or trials",
                "part of this difference is Monte Carlo noise, not estimated here"),
}


def _month_number(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def noise_sources(result) -> dict[str, tuple]:
    """{key-figure label: what its Monte Carlo error is read from}: ("p", probability, trials) for
    a probability; ("span", least, most) for a figure other seeds may move (the first short month
    as a month number, inf for never; the count of short months), by the engine's rule: a month
    whose P(meet) is within SEED_STANDARD_ERRORS of 50% may fall either side of it."""
    p = np.asarray(result.prob_meet_demand, dtype=float)
    near = np.abs(p - 0.5) <= SEED_STANDARD_ERRORS * prob_meet_standard_error(result) + 1e-12
    short = p50_short(result)
    maybe, surely = np.flatnonzero(short | near), np.flatnonzero(short & ~near)
    # the first month is where demand crosses capacity P50 (engine's first_shortfall_month)
    over = demand_over_capacity_p50(result)
    first_maybe, first_surely = np.flatnonzero(over | near), np.flatnonzero(over & ~near)

    def first(index) -> float:
        return _month_number(result.months[int(index[0])]) if index.size else math.inf

    out: dict[str, tuple] = {
        "First month demand exceeds capacity P50 (date)": ("span", first(first_maybe), first(first_surely)),
        "Months with a P50 shortfall (months)": ("span", int(surely.size), int(maybe.size)),
    }
    for months_in in (12, 24):   # the labels of engine.studies_forecast.forecast_key_figures
        if 0 <= months_in < len(p):
            out[f"P(meet demand) {months_in} months in (%)"] = ("p", float(p[months_in]), int(result.trials))
    for job in result.jobs:
        out[f"Job '{job.job.name}' done within horizon (%)"] = ("p", float(job.prob_within_horizon),
                                                                 int(result.trials))
    return out


OTHER_MONTHS = "other months"   # a difference not taken: the two forecasts' months differ


# figures read at a month of the run: "N months in" from its first month; over or at the end of
# its horizon (the horizon end's own date is a date, compared as one)
_MONTHS_IN = ("months in",)
_OVER_HORIZON = ("at horizon end", "Months with a P50 shortfall", "Largest P50 shortfall", "within horizon")


# figures that read demand: against a forecast with none to meet, their difference is not one
# (QA s36: P(meet) "+100" and "-46 months" short beside a scenario without demand points)
_READS_DEMAND = ("Months with a P50 shortfall", "First month demand exceeds", "Largest P50 shortfall",
                 "P(meet demand)")


def no_demand_difference(label: str, name_without_demand: str | None) -> str:
    """The difference cell of figure `label` when one of the two forecasts has no demand to meet
    (`name_without_demand`: that scenario's name; None: both have demand), or "" to take the
    difference as usual."""
    if name_without_demand is None or not label.startswith(_READS_DEMAND):
        return ""
    return f"— (no demand in {name_without_demand})"


def other_months(a, b, label: str = "") -> bool:
    """Whether figure `label` of two forecasts is read at other months in each: a figure "12 months
    in" where their first months differ, one over or at the end of the horizon where their months
    differ (QA s34: 2026-01 against 2025-05 read -86.9 points of P(meet), 2029-12 against 2029-04
    -97,352 chips). Dates (a job's finish, the first short month) are the calendar's: compared."""
    if any(word in label for word in _MONTHS_IN):
        return a.months[:1] != b.months[:1]
    if any(word in label for word in _OVER_HORIZON):
        return tuple(a.months) != tuple(b.months)
    return False


def runs_differ(result, base) -> str:
    """How two forecasts' Monte Carlo runs differ ("" when they share trials and seed)."""
    other = [word for word, differs in (("trials", result.trials != base.trials),
                                        ("seed", result.scenario.seed != base.scenario.seed)) if differs]
    return f"other {' and '.join(other)}" if other else ""


def noise_mark(source, base_source, difference, runs_differ: str) -> str:
    """The mark of a difference Monte Carlo noise may explain (MARKS), or ""."""
    if difference in ("", 0) or (isinstance(difference, str) and difference.startswith("+0 ")):
        return ""
    if source and base_source and source[0] == base_source[0] == "p":
        (_, p, trials), (_, p_base, trials_base) = source, base_source
        se = math.sqrt(p * (1 - p) / max(trials, 1) + p_base * (1 - p_base) / max(trials_base, 1))
        return NOISE_MARK if abs(p - p_base) <= SEED_STANDARD_ERRORS * se + 1e-12 else ""
    if source and base_source and source[0] == base_source[0] == "span":
        overlap = max(source[1], base_source[1]) <= min(source[2], base_source[2])
        return NOISE_MARK if overlap else ""
    return SEED_MARK if runs_differ else ""


# The key-figures table's columns. A value cell of at most WHOLE_CHARS characters is always shown
# whole (numbers, dates, "+3 months", "not computed"); longer words (a scenario's changes, a seed
# range's reasons, the runs) elide, and their tooltip has them. No value column is narrower than
# NARROWEST_VALUE, and the Figure column gives way to the values down to LABEL_MIN_PX.
WHOLE_CHARS = 16
NARROWEST_VALUE = "-1,234,567"
LABEL_MIN_PX = 260
CELL_PADDING_PX = 14   # the cell's text margins and focus frame, with room to spare


def column_widths(label_px: int, value_px: list[int], room_px: int, label_min_px: int = LABEL_MIN_PX) -> list[int]:
    """Widths of the Figure column (needing `label_px`) and the value columns (each needing its
    `value_px`) in a viewport `room_px` wide: the values whole first; the Figure column takes what
    is left, between the smaller of its need and `label_min_px` and its need; room to spare is
    shared by the value columns. Past that the table scrolls sideways."""
    label = max(min(label_px, label_min_px), min(label_px, room_px - sum(value_px)))
    spare, n = max(room_px - label - sum(value_px), 0), len(value_px)
    return [label] + [px + spare // n + (1 if k < spare % n else 0) for k, px in enumerate(value_px)]


class _MiddleElided(QStyledItemDelegate):
    """A figure's label cut in its middle, keeping its end, which names the chip type and the unit
    ("Installed P50 at…H20 (chips)"): cut at the end, five rows read "Installed P50 at horizon…"."""

    def initStyleOption(self, option, index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class FiguresTable(QTableWidget):
    """The key figures side by side, fitted to the viewport as it resizes (fit_columns). Every
    column stretched alike held the Figure column at 421 px and cut 121 cells ("61,6…", "202…") to
    46 px with seven scenarios at 1280 px, with no scroll bar to reach them."""

    def __init__(self):
        super().__init__()
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setWordWrap(False)   # one line a row: wrapped, a label was cut at a word, then elided again
        self._label_delegate = _MiddleElided(self)
        self.setItemDelegateForColumn(0, self._label_delegate)
        self.placeholder = ""   # said in the middle while the table has no rows (an empty white box said nothing)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """Tall enough for its titles, ROWS_KEPT rows and the sideways scroll bar: the splitter
        gave the charts' minimum first, and at 150 % (853x480) the table kept a 2 px viewport."""
        bar = self.horizontalScrollBar().sizeHint().height()
        rows_px = ROWS_KEPT * self.verticalHeader().defaultSectionSize()
        header_px = self.horizontalHeader().sizeHint().height()
        return QSize(super().minimumSizeHint().width(), header_px + rows_px + bar + 2 * self.frameWidth())

    def set_placeholder(self, text: str) -> None:
        if text != self.placeholder:
            self.placeholder = text
            self.viewport().update()

    def paintEvent(self, event) -> None:   # noqa: N802 (Qt's name)
        super().paintEvent(event)
        if self.rowCount() or not self.placeholder:
            return
        painter = QPainter(self.viewport())
        # a hint's grey on the table's own background (Base), light or dark
        painter.setPen(style.hint_color(self.palette(), QPalette.ColorRole.Base))
        area = self.viewport().rect().adjusted(12, 8, -12, -8)
        painter.drawText(area, int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.placeholder)
        painter.end()

    def fit_columns(self) -> None:
        header = self.horizontalHeader()
        if self.columnCount() == 0:
            return
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        metrics = self.fontMetrics()

        def needs_px(k: int, whole_only: bool) -> list[int]:
            texts = [item.text() for item in map(lambda r: self.item(r, k), range(self.rowCount())) if item is not None]
            return [header.sectionSizeHint(k)] + [metrics.horizontalAdvance(t) + CELL_PADDING_PX
                                                  for t in texts if not whole_only or len(t) <= WHOLE_CHARS]
        narrowest_px = metrics.horizontalAdvance(NARROWEST_VALUE) + CELL_PADDING_PX
        values_px = [max(needs_px(k, True) + [narrowest_px]) for k in range(1, self.columnCount())]
        for k, px in enumerate(column_widths(max(needs_px(0, False)), values_px, self.viewport().width())):
            header.resizeSection(k, px)

    def resizeEvent(self, event) -> None:   # the viewport's (a scroll bar shown or hidden too)
        super().resizeEvent(event)
        self.fit_columns()
