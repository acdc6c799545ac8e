"""Headless subcommands. Each module exposes `register(subparsers)`; its handler returns `Output`.

A handler has the signature `run(args, ctx) -> Output` and is attached with
`parser.set_defaults(handler=run)`. It raises `engine.errors.UserError` for anything the user
can fix; the CLI turns that into one line on stderr and exit code 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


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
