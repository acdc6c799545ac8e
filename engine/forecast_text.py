"""`fleetcast forecast` as text at any fleet size.

A fleet of 200 chip types made the monthly table thousands of characters wide (one installed
column per chip type) and printed one note per order. Here the text folds: the largest chip
types keep their column and the rest are summed in one; the table is cut into blocks of columns
that fit the terminal; notes of one kind beyond a few end in one "... and N more" line. Only
the text: `--format json` and `--format csv` keep every chip and every note.
"""

from __future__ import annotations

import math
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence

# More chip types than this fold into an "other" column (the story has 3: its table is unchanged)
CHIP_COLUMNS_SHOWN = 6
# Notes of one kind shown before the rest fold into one line; folded only when that saves lines
NOTES_SHOWN = 5
# Items of a "chip rate, chip rate, ..." list in one note shown before the rest are counted
LIST_ITEMS_SHOWN = 5
# The table's width when stdout is not a terminal (a file, a pager, a test): no size to ask for
PIPE_COLUMNS = 120
TERMINAL_FALLBACK_COLUMNS = 100
NARROWEST_COLUMNS = 60   # below this a block could hold nothing beside the month

MORE = "--format json lists them all"


def text_columns() -> int:
    """How wide the table may be: the terminal's width, or a fixed cap when stdout is not one."""
    if not sys.stdout.isatty():
        return PIPE_COLUMNS
    return max(shutil.get_terminal_size((TERMINAL_FALLBACK_COLUMNS, 24)).columns, NARROWEST_COLUMNS)


def table_cell(value):
    """A monthly table cell: a whole number as one ("0", not "0.0" beside "9798"); small fractions
    to 4 places."""
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    return round(value) if value == round(value) or abs(value) >= 10 else round(value, 4)


# ---- notes ---------------------------------------------------------------------------------------

_CHIPS = re.compile(r"(\d[\d,]*) chips")
_DUE_BEFORE = re.compile(r"due before (\d{4}-\d\d-\d\d)")
# one "name number" item of a list ("h800-sxm5-80gb 900", "bigchip-007 1.23e+03"), and a run of
# more than LIST_ITEMS_SHOWN + 1 of them
_ITEM = r"[^\s,:;()]+ \d(?:[\d.]|,(?=\d))*(?:e[+-]?\d+)?"   # a comma inside a number only
_LONG_LIST = re.compile(rf"{_ITEM}(?:, {_ITEM}){{{LIST_ITEMS_SHOWN + 1},}}")
_NUMBER = re.compile(r"\d[\d,.]*")


def _chips_of(note: str) -> int | None:
    found = _CHIPS.search(note)
    return int(found[1].replace(",", "")) if found else None


def _chips_words(notes: Sequence[str]) -> str:
    counts = [_chips_of(n) for n in notes]
    return "" if None in counts else f" with {sum(c or 0 for c in counts):,} chips"


def _fold_overdue(notes: Sequence[str]) -> str:
    dates = {m[1] for n in notes for m in _DUE_BEFORE.finditer(n)}
    when = f"due before {dates.pop()}" if len(dates) == 1 else "due before their deliveries' as-of dates"
    return f"... and {len(notes):,} more orders{_chips_words(notes)} {when} (counted as late); {MORE}"


def _fold_unscheduled(notes: Sequence[str]) -> str:
    return f"... and {len(notes):,} more orders{_chips_words(notes)} that have no promised date; {MORE}"


def _fold_own_risk(notes: Sequence[str]) -> str:
    return f"... and {len(notes):,} more orders with a delivery risk of their own (not their vendor's); {MORE}"


def _fold_no_profile(notes: Sequence[str]) -> str:
    counts = [_chips_of(n) for n in notes]
    chips = "" if None in counts else f" ({sum(c or 0 for c in counts):,} chips)"
    return (f"... and {len(notes):,} more vendor and chip pairs{chips} forecast as delivered in full and on time "
            f"for want of a delivery-risk profile; {MORE}")


FOLD_LINES: dict[str, Callable[[Sequence[str]], str]] = {
    "overdue": _fold_overdue, "unscheduled": _fold_unscheduled, "own_risk": _fold_own_risk,
    "no_profile": _fold_no_profile}


def shorten_lists(note: str) -> str:
    """A note's "chip rate, chip rate, ..." list cut to its first items (the steady-state note listed
    all 200 chip types' rates on one line)."""
    def cut(found: re.Match) -> str:
        items = found[0].split(", ")
        return ", ".join(items[:LIST_ITEMS_SHOWN]) + f", ... ({len(items) - LIST_ITEMS_SHOWN:,} more; {MORE})"
    return _LONG_LIST.sub(cut, note)


def _shape(note: str, chip_words: re.Pattern | None) -> str:
    """A note with its chip ids, chip names and numbers blanked: notes one per chip type ("INT8
    weights run weight-only on Big Chip 007 ...") share it and fold as one kind."""
    if chip_words is not None:
        note = chip_words.sub("<chip>", note)
    return "shape:" + _NUMBER.sub("#", note)


def condense_notes(notes: Sequence[str], kind_of: Mapping[str, str], chip_words: Iterable[str] = ()) -> list[str]:
    """`notes` for reading: those of one kind (`kind_of`: a key of FOLD_LINES by note; others by
    their shape) beyond NOTES_SHOWN folded into one line, the most chips first, where they were;
    long lists cut. Unchanged where no kind has more than NOTES_SHOWN + 1 notes."""
    if len(notes) <= NOTES_SHOWN + 1:
        return [shorten_lists(n) for n in notes]
    words = sorted({w for w in chip_words if w}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(w) for w in words)) if words else None
    kinds = [kind_of.get(note) or _shape(note, pattern) for note in notes]
    groups: dict[str, list[str]] = {}
    for kind, note in zip(kinds, notes):
        groups.setdefault(kind, []).append(note)
    out: list[str] = []
    done: set[str] = set()
    for kind, note in zip(kinds, notes):
        members = groups[kind]
        if len(members) <= NOTES_SHOWN + 1:
            out.append(note)
        elif kind not in done:   # the kind's lines where its first note was
            done.add(kind)
            if kind in FOLD_LINES:   # the most chips first (stable: by order id among equals)
                members = sorted(members, key=lambda n: -(_chips_of(n) or 0))
                folded = FOLD_LINES[kind](members[NOTES_SHOWN:])
            else:
                folded = f"... and {len(members) - NOTES_SHOWN:,} more notes like the {NOTES_SHOWN} above; {MORE}"
            out += members[:NOTES_SHOWN] + [folded]
    return [shorten_lists(n) for n in out]


# ---- the monthly table ---------------------------------------------------------------------------

def _fold_chip_columns(rows: list[dict], result, ordered_by_chip: Mapping[str, float]) -> tuple[list[dict], str]:
    """`rows` with the CHIP_COLUMNS_SHOWN - 1 chip types with the most installed P50 in the last
    month (then the most ordered) in their own columns and the rest summed in one, and a line
    saying so."""
    chips = list(result.chip_ids)

    def size(chip: str) -> tuple[float, float]:
        last = float(result.installed_by_chip[chip].p50[-1])
        return (last if math.isfinite(last) else 0.0, float(ordered_by_chip.get(chip, 0.0)))

    ranked = sorted(chips, key=size, reverse=True)   # stable: the forecast's order among equals
    shown, folded = ranked[:CHIP_COLUMNS_SHOWN - 1], ranked[CHIP_COLUMNS_SHOWN - 1:]
    other_key = f"installed_p50_chips_other ({len(folded):,} chip types)"
    chip_key = {f"installed_p50_chips_{c}": c for c in chips}
    out = []
    for i, row in enumerate(rows):
        other = sum(float(result.installed_by_chip[c].p50[i]) for c in folded)
        folded_row: dict = {}
        for key, value in row.items():
            if key not in chip_key:
                folded_row[key] = value
            elif other_key not in folded_row:   # where the chip columns began
                folded_row.update({f"installed_p50_chips_{c}": row.get(f"installed_p50_chips_{c}") for c in shown})
                folded_row[other_key] = table_cell(other) if math.isfinite(other) else None
        out.append(folded_row)
    last = result.months[-1]
    line = (f"table: installed P50 of the {len(shown)} chip types with the most in {last:%Y-%m}; the other "
            f"{len(folded):,} summed in one column; --format json/csv has every chip")
    return out, line


def _column_blocks(rows: list[dict], columns: int) -> list[str]:
    """The table cut into blocks of columns no wider than `columns`, each led by the month."""
    from engine.cli import render_table

    keys = list(rows[0]) if rows else []
    lead, rest = keys[:1], keys[1:]
    blocks: list[str] = []
    block: list[str] = []
    for key in rest:
        if block and max(len(line) for line in render_table(rows, lead + block + [key]).splitlines()) > columns:
            blocks.append(render_table(rows, lead + block))
            block = []
        block.append(key)
    if block or not blocks:
        blocks.append(render_table(rows, lead + block))
    return blocks


def wide_table_text(rows: list[dict], result, ordered_by_chip: Mapping[str, float],
                    columns: int | None = None) -> str | None:
    """The monthly table as text that fits `columns` (the terminal's width by default): for a
    fleet of more than CHIP_COLUMNS_SHOWN chip types the largest in their own columns and the rest
    summed; a table still wider than `columns` cut into blocks of columns, each led by the month
    (the story's three chip types made one 464-character line per month). None where the plain
    table already fits."""
    from engine.cli import render_table

    if not rows:
        return None
    width = columns or text_columns()
    line = ""
    if len(result.chip_ids) > CHIP_COLUMNS_SHOWN:
        rows, line = _fold_chip_columns(rows, result, ordered_by_chip)
        line += "\n"
    elif max(len(text) for text in render_table(rows).splitlines()) <= width:
        return None
    return line + "\n\n".join(_column_blocks(rows, width))


# ---- the demand what-ifs in words ----------------------------------------------------------------

def _per_year(value: float) -> str:
    """A growth per year for a sentence: "9", "5.2", "59,049", "5.2e+47"."""
    if value < 10:
        return f"{value:.3g}"
    return f"{value:,.0f}" if value < 1e9 else f"{value:.2g}"


def demand_what_if_words(growth_rate_multiplier: float = 1.0, scale: float = 1.0) -> list[str]:
    """The demand's what-ifs that differ from 1 (DemandCurve.growth_rate_multiplier and scale), one
    phrase each, for every place that lists a scenario's assumptions (the Forecast's "This
    scenario assumes:" box, the report's settings): without them a scenario at twice the growth
    read as the fitted one. Empty when both are 1."""
    out = []
    m = float(growth_rate_multiplier)
    if m != 1.0:   # log terms: g x/year reads g^m x/year, so say one worked case
        out.append(f"demand growth ×{m:g} in log terms (3×/year reads {_per_year(3.0 ** m)}×/year)")
    if float(scale) != 1.0:
        out.append(f"demand ×{float(scale):g} (tokens per day at every point and month)")
    return out
