"""Helpers of the Forecast's editable tables (gui.panels.forecast_editors): rows repeating a key,
and the words of the undo step a table's edit makes.

A table's step is named by what changed in it, as the Fleet names its steps: "Add demand point",
"Remove training job 'Job 3'", "Edit demand point 2025-06-15 Tokens per day → 99,000". Every edit
of a table read "Edit Forecast: demand points" (or "jobs", "policy events") before, whatever it did.
The window's undo watcher (gui.widgets.form_undo) asks the table for these words when an edit
changed its rows alone.
"""

from __future__ import annotations

from gui.widgets.form_undo import cell_words, column_caption


def number_text(value: float) -> str:
    """A number cell's text, 10 significant digits: 1234.5678 shows as typed, float noise
    (28.999999999999996) not."""
    return f"{value:.10g}"


def repeated_key_problems(values, key, message) -> list[tuple[int, int, str]]:
    """(row, column 0, message) for each row whose key an earlier row already has; `message`
    gets the key and the earlier row's number (1-based)."""
    first: dict = {}
    out = []
    for r, value in enumerate(values):
        k = key(value)
        if k in first:
            out.append((r, 0, message(k, first[k] + 1)))
        first.setdefault(k, r)
    return out


def row_texts(table) -> list[tuple[str, ...]]:
    """Each row of a QTableWidget as its cells' texts (a check box cell: "on" or "off")."""
    return [tuple(cell_words(table.item(r, c)) for c in range(table.columnCount())) for r in range(table.rowCount())]


def step_words(what: str, headers, old_values, new_values, old_texts, new_texts) -> str:
    """The undo step of a table edit from rows `old_values` (shown as `old_texts`) to `new_values`
    (`new_texts`), or "" when it is not one add, remove or row edit (a reorder, several rows).
    A row is named by its first cell (the date, the job's name, the chip type)."""
    old_values, new_values = list(old_values), list(new_values)
    if len(old_texts) != len(old_values) or len(new_texts) != len(new_values):
        return ""
    gone = [i for i, v in enumerate(old_values) if v not in new_values]
    added = [j for j, v in enumerate(new_values) if v not in old_values]
    if len(new_values) == len(old_values) + 1 and not gone and len(added) == 1:
        return f"Add {what}"
    if len(new_values) == len(old_values) - 1 and len(gone) == 1 and not added:
        return f"Remove {what} {_row_name(old_texts[gone[0]])}".rstrip()
    if len(new_values) == len(old_values) and len(gone) == len(added) == 1:
        before, after = old_texts[gone[0]], new_texts[added[0]]
        columns = [c for c in range(min(len(before), len(after))) if before[c] != after[c]]
        name = _row_name(before)
        if len(columns) == 1:
            c = columns[0]
            caption = column_caption(headers[c]) if c < len(headers) else f"column {c + 1}"
            return f"Edit {what} {name} {caption} → {_short(after[c])}"
        return f"Edit {what} {name}"
    return ""


def _row_name(texts: tuple[str, ...]) -> str:
    name = texts[0].strip() if texts else ""
    return _short(name) if name else ""


def _short(text: str) -> str:
    """A cell's text as the step names it: a plain number grouped ("99000" -> "99,000")."""
    whole, point, decimals = text.strip().partition(".")
    if whole.lstrip("-").isdigit() and (not point or decimals.isdigit()):
        text = f"{int(whole):,}" + (f".{decimals}" if point else "")
    text = text if text.strip() else "blank"
    return text if len(text) <= 30 else text[:29] + "…"
