"""Headless subcommands. Each module exposes `register(subparsers)`; its handler returns `Output`.

A handler has the signature `run(args, ctx) -> Output` and is attached with
`parser.set_defaults(handler=run)`. It raises `engine.errors.UserError` for anything the user
can fix; the CLI turns that into one line on stderr and exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable
from engine.errors import UserError


def plain_number(text: str) -> float:
    """argparse type for a number as people write it: digits, sign, point, exponent (and nan/inf,
    which each flag's own check names). float() also reads "1_000" and other scripts' digits,
    which the import files refuse (engine.validate.cell_float)."""
    from engine.validate import cell_float

    try:
        return cell_float(str(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None


def whole_number(text: str) -> int:
    """argparse type for counts: 4096, and also 1e4 or 4.096e3 (the e-notation `--tokens 15e12`
    and `--caps h20=1e7` take), but never 1.5 (nor 1_000)."""
    if re.fullmatch(r"[+-]?\d+", str(text).strip(), re.ASCII):
        return int(text)   # exact, however long (each flag checks its own range)
    try:
        value = plain_number(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text!r}") from None
    if not math.isfinite(value) or value != math.floor(value) or abs(value) >= 2 ** 63:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text!r}")
    return int(value)


def record_id(text: str) -> int:
    """argparse type for a stored record's id (`orders delete 2`): digits only, as an import's id
    column takes them. A count's forms (20e-1, 2.0, +2) named order 2 and deleted it, where the same
    id in an import is refused."""
    raw = str(text).strip()
    if not re.fullmatch(r"\d{1,19}", raw, re.ASCII) or int(raw) < 1:
        raise argparse.ArgumentTypeError(f"invalid id: {text!r} (a whole number written with digits only, "
                                         "as `orders list` shows it)")
    return int(raw)


@dataclass
class Output:
    """What a command produced.

    `data` is what `--format json` prints. `rows` (a list of flat dicts) is what `table` and `csv`
    print; when `rows` is None, table/csv fall back to `data` if it is a list of flat dicts.
    `text` (optional) is printed above the table in `table` format, e.g. a summary.
    `stream` (optional) replaces all of that: called with the output file, it writes the result
    itself a row at a time (for results too large to hold in memory).
    """

    data: Any
    rows: list[dict] | None = None
    columns: list[str] | None = None
    text: str = ""
    extra_tables: list[tuple[str, list[dict]]] = field(default_factory=list)
    stream: Callable[[Any], None] | None = None


# The window saves each view's inputs in a scenario under params["ui"][VIEW_KEY]; the CLI's
# `--scenario NAME` reads them back through these two, one place for where they live.
VIEW_NAMES = {"training": "Training", "inference": "Serving", "plan": "Plan"}


def optional_store(ctx):
    """The command's store, or None where none can be opened (no sqlite-utils): for what a
    command adds from the database when there is one (saved calibrations, what-if names)."""
    try:
        return ctx.store()
    except ImportError:
        return None


def saved_view_state(ctx, name: str, view: str, *, required: bool = True):
    """(store, the `view` state saved in scenario `name`). With `required`, a UserError in one
    line when there is no store or the scenario has no such study; else (store or None, None)."""
    from engine.errors import UserError

    try:
        store = ctx.store()
    except ImportError:
        store = None
    if store is None:
        if required:
            raise UserError(f"--scenario {name!r}: no database to read saved scenarios from")
        return None, None
    params = store.scenario(name)["params"]  # UserError naming the saved ones when it is missing
    state = (params.get("ui") or {}).get(view) if isinstance(params, dict) else None
    if isinstance(state, dict):
        return store, state
    if required:
        label = VIEW_NAMES.get(view, view)
        view_name = "Inference" if view == "inference" else label
        raise UserError(f"--scenario {name!r}: has no {label} study (open the scenario in the {view_name} "
                        "view, set it up and Save)")
    return store, None


@contextlib.contextmanager
def terminal_progress(render: Callable[..., str]):
    """`progress(*args)` drawing `render(*args)` as one self-overwriting stderr line, cleared when
    the work ends (before the answer is printed); None when stderr is a file or a pipe, whose
    readers expect one line per error. For work of a minute or more (a fit, a holdout run)."""
    if not sys.stderr.isatty():
        yield None
        return

    def say(*args) -> None:
        print(f"\r{render(*args)}\x1b[K", end="", file=sys.stderr, flush=True)
    try:
        yield say
    finally:
        print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def study_problem_error(scenario: str, study_name: str, problems, flags: dict) -> UserError:
    """One line for a saved study's problems once the command's flags are merged in: a problem at a
    field the command line set names that flag and its value (`--chips 0: Enter at least one
    chip.`); the others name the scenario, as the view shows them at its fields."""
    def shown(value) -> str:
        return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)

    from_flags = [f"{flags[p.field][0]} {shown(flags[p.field][1])}: {p.message}"
                  for p in problems if flags.get(p.field) and flags[p.field][1] is not None]
    if from_flags:
        return UserError(" ".join(from_flags))
    return UserError(f"scenario {scenario!r}, {study_name}: " + " ".join(p.message for p in problems))
