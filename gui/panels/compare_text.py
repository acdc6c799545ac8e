"""The Compare view's words: a scenario's changes from the baseline, column titles and the
differences it shows (kept apart from gui.panels.compare, which runs and draws)."""

from __future__ import annotations

import datetime as dt
import textwrap

from engine.errors import UserError
from engine.scenario_changes import describe_changes, effective_changes
from engine.studies_forecast import round_figure
from gui.widgets.plot_panel import elide_name

# a compared what-if's changes when its stored row could not be read when the comparison ran
# (deleted meanwhile, or unreadable): never "none", which says it changed nothing
CHANGES_UNREADABLE = "deleted or unreadable"


def changes_text(store, name: str, baseline: str | None, chip_names: dict[str, str]) -> str:
    """`name`'s changes from the baseline as stored now, in the forms' words (every one: the
    exported CSV kept "... and 1 more" and lost the last; the cell's tooltip shows the whole
    text). Read when a comparison runs: the changes that run used, whatever is deleted later."""
    if name == baseline:
        return "—"
    base_params = None
    try:
        row = store.scenario(name)
        if not row.get("base"):   # the baseline was deleted, or it was never stored against one
            return "stored in full (no baseline)" if baseline is None else "stored in full"
        base_params = store.scenario(row["base"])["params"]
        changes = effective_changes(base_params, row.get("changes") or {})   # what still differs now
    except UserError:
        return CHANGES_UNREADABLE
    return "; ".join(describe_changes(changes, limit=None, chip_labels=chip_names, base=base_params)) or "none"


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
        # to 12 significant figures: 45.6 - 12.3 is 33.3, not the binary 33.300000000000004
        return float(f"{difference:.12g}") if isinstance(difference, float) else difference
    if isinstance(value, dt.date) and isinstance(base, dt.date):
        if value.day == 1 and base.day == 1:   # month starts (a monthly model's dates): in months
            months = (value.year - base.year) * 12 + value.month - base.month
            return f"{months:+d} month{'s' if abs(months) != 1 else ''}"
        return f"{(value - base).days:+d} days"
    return ""
