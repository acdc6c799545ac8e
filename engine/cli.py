"""The `fleetcast` command line (contract: ../shared/design/CLI.md).

Exit codes: 0 success, 1 a user error (one line on stderr naming the problem), 2 usage errors,
130 interrupted (Ctrl+C) and 143 terminated (SIGTERM), each with one line saying what was saved.
"""

from __future__ import annotations

import argparse
import difflib
import contextlib
import io
import json
import math
import os
import re
import signal
import sys
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from engine import __version__
from engine.commands import Output
from engine.errors import Cancelled, InfeasibleRequest, UserError, ValidationError

FORMATS = ("table", "csv", "json")
INTERRUPTED_EXIT = 130   # 128 + SIGINT, as a shell reports a command stopped by Ctrl+C
TERMINATED_EXIT = 143    # 128 + SIGTERM
# Random seeds every command takes (serve's simulated arrivals, forecast, backtest): one range
SEED_MAX = 2 ** 32 - 1

# Modules under engine.commands that register subcommands, in help order.
COMMAND_MODULES = (
    "engine.commands.catalog",     # chips, orders, models
    "engine.commands.train",       # train, validate training
    "engine.commands.serve",       # serve, validate inference
    "engine.commands.forecast",    # forecast
    "engine.commands.plan",        # plan, backtest
    "engine.commands.validate",    # validate training|inference
    "engine.commands.calibrate",   # calibrate training|inference
    "engine.commands.restore",     # restore
)


if TYPE_CHECKING:
    from engine.store.store import Store


class Context:
    """Lazily opens the store the first time a command asks for it."""

    def __init__(self, db_path: str | None):
        self.db_path = db_path
        self._store: Store | None = None
        self._commits_at_open = 0
        self._opened_path: Path | None = None   # the store's, for messages after it closed
        # For Ctrl+C's one line (run_command): what this command has saved, in words, once it has
        # ("the import was saved (20,000 orders added)"), and what to say while it has not.
        self.saved = ""
        self.unsaved = "nothing was changed"
        self.committed = False

    def store(self) -> Store:
        if self._store is None:
            from engine.store import open_store

            self._store = open_store(self.db_path)
            self._commits_at_open = self._store.commit_count()
            self._opened_path = self._store.path
            # a read-only command too: an upgrade (older versions can't open it now), an empty file
            # filled with the demo data (that was said nowhere)
            changed = "; ".join(n for n in (self._store.filled_notice, self._store.upgrade_notice) if n)
            if changed:
                _say(f"fleetcast: note: {self._store.path}: {changed}")
        return self._store

    def viewing_note(self) -> str:
        """After a command that worked: the file was opened for viewing only (a command that
        tried to write says so in its error instead)."""
        if self._store is None or not self._store.viewing_notice:
            return ""
        return f"fleetcast: note: {self._store.path}: {self._store.viewing_notice}"

    def saved_text(self) -> str:
        """What this command has saved, in words ("" while nothing): the command's own words, else
        that the database changed. Said when it ends early (Ctrl+C, SIGTERM, a write error)."""
        if self.saved:
            return self.saved
        if self._committed():
            return f"a change was saved to {self._opened_path}; check it before running the command again"
        return ""

    def interrupted_text(self) -> str:
        """What Ctrl+C left: what was saved, else what was not."""
        saved = self.saved_text()
        return f"interrupted after {saved}" if saved else f"interrupted; {self.unsaved}"

    def _committed(self) -> bool:
        """Whether this command has committed a change to the database (before close, or since open)."""
        if self._store is not None:
            self.committed = self.committed or self._store.commit_count() > self._commits_at_open
        return self.committed

    def close(self):
        if self._store is not None:
            self._committed()   # kept for interrupted_text: Ctrl+C may come while or after closing
            self._store.close()
            self._store = None


# argparse's words for an option's value it could not convert or that is not among its choices
# ("argument --tp: invalid whole number: '1.5'", "argument --recompute: invalid choice: 'some'"),
# and for a positional value it could not convert ("argument ID: invalid id: '2.0'"); a positional
# choice is a command word (`chips foo`), a usage error
_BAD_VALUE = re.compile(r"argument (-[^:]*: invalid |[^:]*: invalid (?!choice))")


_INVALID_CHOICE = re.compile(r"argument [^:]*: invalid choice: '([^']*)' \(choose from (.*)\)$")


_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, top: bool = False, **kwargs):
        # `--tok 1e12 --pri 3` ran as --tokens and --price-per-chip-hour: a script's typo, or a
        # flag a later version adds, must not silently become another flag
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.top = top   # fleetcast's own parser: only the global options come before the command
        # a negative number as a flag's value is a value, exponent or not: argparse's own pattern
        # (-3, -.5) read `--tokens -1e12` as a flag and said "expected one argument" with exit 2,
        # where `--tokens -1` gets the range check's one line (QA s33). No flag of ours is a digit.
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def add_argument(self, *args, **kwargs):
        if "--seed" in args:   # every command's --seed: one check, one wording (check_seed)
            kwargs["type"] = _seed_type(kwargs.get("type") or int)
        return super().add_argument(*args, **kwargs)

    def _parse_top(self, args, namespace):
        """As argparse's parse_args, but an unknown flag is said by the command it was given to,
        with its usage and the flag meant where one is close (`train --modle` printed fleetcast's
        own usage, which lists no flag of `train`: QA s37)."""
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._command_parser(namespace) or self
            # names without their dashes, and close ones only: "--" or "--dry" read as --db (QA s37)
            known = {o[2:]: o for a in parser._actions for o in a.option_strings if o.startswith("--")}
            close = [known[m] for x in extras if x.startswith("--") and len(x) > 3
                     for m in difflib.get_close_matches(x[2:].split("=", 1)[0], list(known), n=1, cutoff=0.75)]
            hint = f" (did you mean {', '.join(dict.fromkeys(close))}?)" if close else ""
            parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return namespace

    def _command_parser(self, namespace) -> "argparse.ArgumentParser | None":
        """The (sub)command parser `namespace` was parsed by: `train`, or `chips import`."""
        parser: argparse.ArgumentParser | None = self
        dest = "command"
        while parser is not None:
            actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            name = getattr(namespace, dest, None)
            if not actions or name not in actions[0].choices:
                return parser if parser is not self else None
            parser = actions[0].choices[name]
            dest = f"{name}_command"
        return None

    def error(self, message):
        choice = _INVALID_CHOICE.match(message)
        if choice:   # `fleetcast chip list`: the command meant, where one is close
            meant = difflib.get_close_matches(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)), n=1)
            if meant:
                message += f"; did you mean '{meant[0]}'?"
        if _BAD_VALUE.match(message):
            # a flag's value the user can fix (`--concurrency 2.5`, `--budget abc`) is bad input, as
            # `--input-len 2000.5` (checked after parsing) always was: exit 1 and one line, not 2
            # with the usage above it (QA s32: the same mistake gave either code by flag)
            self.exit(1, f"{self.prog}: error: {message}\n")
        # usage errors (an unknown command or flag, a missing or conflicting one): exit 2
        if sys.stderr is not None:   # (print_usage(None) writes to stdout: `2>&-` put it there)
            self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")

    def _print_message(self, message, file=None):
        """argparse's output (--help, --version, usage errors): what goes to stdout checked as a
        command's output is, one line and exit 1 when it can't be written (a full disk read as
        success, the text lost); nothing on stdout that was meant for a closed stderr."""
        if not message:
            return
        if file is None:
            if sys.stdout is None and sys.stderr is not None:   # meant for a closed stdout (>&-)
                _say(f"fleetcast: error: {_cannot_write('stdout is closed')}")
                raise SystemExit(1)
            return   # meant for a closed stderr (2>&-)
        if file is not sys.stdout:
            with contextlib.suppress(OSError, ValueError):
                file.write(message)
            return
        try:
            file.write(_escaped(message))
            file.flush()
        except BrokenPipeError:   # `fleetcast --help | head -1`: the reader left
            _quiet_stdout()
        except (OSError, ValueError) as exc:
            _quiet_stdout()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            _say(f"fleetcast: error: {_cannot_write(reason)}")
            raise SystemExit(1) from None

    def parse_args(self, args=None, namespace=None):
        if self.top:
            stray = stray_global_option(sys.argv[1:] if args is None else list(args))
            if stray:
                # `--form json chips list` said "argument COMMAND: invalid choice: 'json'"
                self.error(f"unrecognized option {_escaped(elide(stray, 80))} (before the command: "
                           f"{', '.join(GLOBAL_OPTIONS)})")
        parsed = self._parse_top(args, namespace) if self.top else super().parse_args(args, namespace)
        problem = repeated_global_problem(parsed) or global_option_problem(parsed)
        if problem:
            self.error(problem)
        return parsed


# The options that may come before the command, and which of them take a value.
GLOBAL_OPTIONS = ("--db", "--format", "--version")
_GLOBAL_VALUE_OPTIONS = frozenset({"--db", "--format"})
_HELP_OPTIONS = frozenset({"-h", "--help"})


def stray_global_option(argv: Sequence[str]) -> str | None:
    """The first option before the command that is not a global one (its name, without an
    `=value`), or None: argparse took its value for the command."""
    at = 0
    while at < len(argv):
        token = argv[at]
        if token == "--" or token == "-" or not token.startswith("-"):
            return None
        name = token.split("=", 1)[0]
        if name not in GLOBAL_OPTIONS and name not in _HELP_OPTIONS:
            return name
        at += 2 if token in _GLOBAL_VALUE_OPTIONS else 1
    return None


class _NotASeed(str):
    """--seed text that is no whole number (1.5): kept for check_seed to refuse as it refuses -1
    (argparse's own "invalid whole number" was another wording and exit 2)."""


def _seed_type(parse: Callable):
    def seed(text: str):
        try:
            return parse(text)
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            return _NotASeed(text)

    return seed


_GIVEN = "_given_"   # namespace attributes `_given_<dest>_<parser>`: each value a global option got


class _GlobalOption(argparse.Action):
    """--db / --format at any level: stored as usual, and each value also recorded per parser, so
    `--db a.db models list --db b.db` (the inner one silently won) can be refused."""

    def __init__(self, *args, level: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.level = level

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        key = f"{_GIVEN}{self.dest}_{self.level}"
        setattr(namespace, key, [*getattr(namespace, key, []), values])


def repeated_global_problem(args: argparse.Namespace) -> str | None:
    """A usage error when --db or --format was given twice with different values (before and
    after the subcommand, or twice in one place), else None; the records are removed from `args`."""
    given: dict[str, list] = {}
    for key in [k for k in vars(args) if k.startswith(_GIVEN)]:
        given.setdefault(key[len(_GIVEN):].rsplit("_", 1)[0], []).extend(getattr(args, key))
        delattr(args, key)
    for dest, values in given.items():
        if len(set(values)) > 1:
            shown = " and ".join(f"'{_escaped(elide(str(v), 80))}'" for v in dict.fromkeys(values))
            return f"argument --{dest}: given twice ({shown}); give it once"
    return None


# Arguments that name files: any bytes the OS allows are fine there (Path keeps them).
PATH_ARGUMENTS = frozenset({"db", "file", "cases", "out"})


# Flags that name something (a saved scenario, a preset, a chip, a precision, an engine): empty is refused.
NAMED_ARGUMENTS = ("scenario", "model", "chip", "weight_dtype", "kv_dtype", "engine", "id", "dtype")
# Flags whose empty value had read as not given, or as a file named "" ("plan --orders-csv ''" wrote
# nothing and exited 0; "--caps ''" planned with the packaged caps; QA s38): refused likewise.
EMPTY_REFUSED = ("orders_csv", "caps", "cases")
# Required flags given as "" (`export --out ""` exited 1 where other empty values exit 2; QA s39).
EMPTY_REQUIRED = ("out", "as_of")


def global_option_problem(args: argparse.Namespace) -> str | None:
    """A usage error in the global options or the argument text, or None.

    `--db ""` and an empty $FLEETCAST_DB are errors rather than "use the default database": a
    script whose variable came out empty must not import into the user's real data. Text
    arguments that are not valid UTF-8 (e.g. `--chip $'\\xff'`) can't name anything stored.
    """
    db = getattr(args, "db", None)
    if db is not None and not db.strip():
        return "argument --db: the path is empty (leave --db out to use $FLEETCAST_DB or the default database)"
    if db is None and os.environ.get("FLEETCAST_DB") is not None and not os.environ["FLEETCAST_DB"].strip():
        return "FLEETCAST_DB is set but empty; unset it to use the default database, or give --db PATH"
    # a name or choice given as "" (a script's empty variable) is not "the default": the baseline's
    # or bf16's figures came back with exit 0 for a scenario or a precision nobody named
    for name in NAMED_ARGUMENTS + EMPTY_REFUSED:
        value = getattr(args, name, None)
        if isinstance(value, str) and not value.strip():
            return f"argument --{name.replace('_', '-')}: the value is empty (leave the flag out for the default)"
    for name in EMPTY_REQUIRED:
        value = getattr(args, name, None)
        if isinstance(value, str) and not value.strip():
            return f"argument --{name.replace('_', '-')}: the value is empty"
    if isinstance(getattr(args, "file", None), str) and not args.file.strip():   # `orders import ''`
        return "argument FILE: the file name is empty"
    for name, value in vars(args).items():
        if name in PATH_ARGUMENTS or callable(value):
            continue
        for text in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(text, str) and not _is_utf8(text):
                shown = text.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
                return f"argument --{name.replace('_', '-')}: '{shown}' is not valid UTF-8 text"
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes the terminal passed through as lone surrogates
        return False
    return True


_parser_levels = iter(range(1, 1 << 62))   # a record key per parser that takes the global options


def _add_common(parser: argparse.ArgumentParser, top: bool) -> None:
    # Global options work before or after the subcommand; SUPPRESS lets the inner one not
    # overwrite a value given to the outer one.
    default = None if top else argparse.SUPPRESS
    level = 0 if top else next(_parser_levels)
    parser.add_argument("--db", metavar="PATH", default=default, action=_GlobalOption, level=level,
                        help="database file (default: $FLEETCAST_DB or the user data dir; an empty value is an error)")
    parser.add_argument("--format", choices=FORMATS, default="table" if top else argparse.SUPPRESS,
                        action=_GlobalOption, level=level, help="output format (default: table)")
    # CLI.md: --version is a global option too (`chips list --version` was a usage error)
    parser.add_argument("--version", action="version", version=f"fleetcast {__version__}")


def build_parser(extra_registrars: Iterable[Callable] = ()) -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(prog="fleetcast", description="Fleetcast: what-if planner for AI compute fleets.", top=True)
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    registrars = []
    for name in COMMAND_MODULES:
        registrars.append(importlib.import_module(name).register)
    registrars.extend(extra_registrars)
    for register in registrars:
        register(sub)
    return parser


def add_command(subparsers, name: str, help: str, **kwargs) -> argparse.ArgumentParser:
    """Add a subcommand that also accepts the global options (--db, --format)."""
    parser = subparsers.add_parser(name, help=help, description=help, **kwargs)
    _add_common(parser, top=False)
    return parser


def add_group(subparsers, name: str, help: str):
    """A command with its own subcommands (`chips list`, `chips import`)."""
    parser = subparsers.add_parser(name, help=help, description=help)
    _add_common(parser, top=False)
    inner = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", parser_class=_Parser)
    inner.required = True
    return inner


def check_seed(seed: int | str | None, flag: str = "--seed") -> None:
    """UserError unless `seed` (None: not given) is a whole number in the one range every command
    takes, 0 to SEED_MAX (`serve` refused 4294967296 where `forecast` took 99999999999999999999);
    text that is no whole number (`_NotASeed`) is refused the same way."""
    if seed is not None and (isinstance(seed, str) or not 0 <= seed <= SEED_MAX):
        raise UserError(f"{flag}: {elide(str(seed), 40)} (must be a whole number from 0 to {SEED_MAX:,})")


# ---- rendering -------------------------------------------------------------------------------

def _json_default(value):
    import datetime as _dt

    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(value):
    """JSON has no NaN/inf: emit null rather than invalid JSON; nor lone surrogates (`_escaped`)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return _escaped(value)
    if isinstance(value, dict):
        return {_escaped(k) if isinstance(k, str) else k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        if abs(value) >= 1000:
            return f"{value:.1f}" if abs(value) < 1e15 else f"{value:.6g}"
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(_clean(value), default=_json_default)
    return str(value)


def _csv_cell(value):
    """CSV keeps full precision (a table rounds for reading; a file is read by programs)."""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (dict, list)):
        return _cell(value)
    return "" if value is None else value


def _rows_of(output: Output) -> list[dict]:
    if output.rows is not None:
        return output.rows
    if isinstance(output.data, list) and all(isinstance(r, dict) for r in output.data):
        return output.data
    if isinstance(output.data, dict):
        return [{"key": k, "value": v} for k, v in output.data.items()]
    return [{"value": output.data}]


def _columns_of(rows: list[dict], columns: Sequence[str] | None) -> list[str]:
    if columns:
        return list(columns)
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


PATH_COLUMNS = frozenset({"file", "out", "path", "backup"})   # table columns holding file names


def display_width(text: str) -> int:
    """Terminal columns `text` takes: a wide (CJK) character two, a combining mark none (a buyer
    字节跳动 padded by its 4 characters shifted the rest of its row 4 columns left)."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - display_width(text), 0)


def _clip_to_width(text: str, width: int) -> str:
    out, used = [], 0
    for ch in text:
        used += display_width(ch)
        if used > width:
            break
        out.append(ch)
    return "".join(out)


def render_table(rows: list[dict], columns: Sequence[str] | None = None, max_width: int = 48) -> str:
    cols = _columns_of(rows, columns)
    if not cols:
        return "(no rows)"
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    # a file name is never clipped ("…/inference_throughput-latency…" could not be opened from the table)
    whole = [c in PATH_COLUMNS for c in cols]
    clipped = [[v if display_width(v) <= max_width or whole[i] else _clip_to_width(v, max_width - 1) + "…"
                for i, v in enumerate(row)] for row in cells]
    widths = [max([display_width(c)] + [display_width(row[i]) for row in clipped]) for i, c in enumerate(cols)]
    lines = ["  ".join(_pad(c, w) for c, w in zip(cols, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(_pad(v, w) for v, w in zip(row, widths)) for row in clipped]
    if not rows:
        lines.append("(no rows)")
    return "\n".join(lines)


def render_csv(rows: list[dict], columns: Sequence[str] | None = None) -> str:
    buffer = io.StringIO()
    stream_csv(rows, _columns_of(rows, columns), buffer)
    return buffer.getvalue()


def stream_csv(rows: Iterable[dict], columns: Sequence[str], out) -> None:
    """CSV to `out` a row at a time; text cells a spreadsheet would run as formulas are neutralised."""
    from engine.csv_io import write_csv_rows

    write_csv_rows(out, list(columns), ([row.get(c) for c in columns] for row in rows), cell=_csv_cell,
                   lineterminator="\n")


def stream_json_list(items: Iterable, out) -> None:
    """A JSON list written item by item, the same text as json.dumps(list(items), indent=2)."""
    first = True
    for item in items:
        text = json.dumps(_clean(item), indent=2, default=_json_default, allow_nan=False)
        out.write(("[\n" if first else ",\n") + "\n".join("  " + line for line in text.splitlines()))
        first = False
    out.write("[]\n" if first else "\n]\n")


def render(output: Output, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(_clean(output.data), indent=2, default=_json_default, allow_nan=False)
    if output.rows == [] and output.text and fmt == "table":  # a message, no table
        return output.text
    rows = _rows_of(output)
    if fmt == "csv":
        return render_csv(rows, output.columns).rstrip("\n")
    parts = []
    if output.text:
        parts.append(output.text)
    parts.append(render_table(rows, output.columns))
    for title, table in output.extra_tables:
        parts.append(f"\n{title}\n" + render_table(table))
    return "\n".join(parts)


# ---- entry point -----------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None, extra_registrars: Iterable[Callable] = ()) -> int:
    parser = build_parser(extra_registrars)
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        if sys.stderr is not None:   # (print_help(None) writes to stdout)
            parser.print_help(sys.stderr)
        return 2
    return run_command(args)


# Signals that end a command as SIGTERM does: SIGHUP is a closed terminal (QA s32: an export
# killed by it left its multi-MB hidden temporary beside the target, and said nothing).
ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) while a command runs: unwound as Ctrl+C is (temporary files and folders
    removed, the transaction rolled back), then exit 128 + the signal (143, 129)."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__()
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _qt_in_use() -> bool:
    """Whether a Qt application exists in this process (a command drawing charts offscreen)."""
    core = sys.modules.get("PySide6.QtCore")
    return core is not None and core.QCoreApplication.instance() is not None


def _raise_terminated(signum, frame):
    if _qt_in_use():
        # an exception raised inside Qt's C++ (a chart being drawn) crashed the process (exit 139):
        # a Qt command ends as SIGTERM always ended it, unless it set a handler of its own (report)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise Terminated(signum)


@contextlib.contextmanager
def _sigterm_unwinds():
    """SIGTERM and SIGHUP raise Terminated while the block runs: by default they ended the process
    at once, leaving `report`'s /tmp/fleetcast-report-XXXX of PNGs and an export's hidden
    temporary. A SIGHUP ignored when the block starts (`nohup`) stays ignored."""
    previous: dict = {}
    try:
        for signum in ENDING_SIGNALS:
            if signum != signal.SIGTERM and signal.getsignal(signum) == signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, _raise_terminated)
    except (ValueError, OSError):   # not the main thread, or no such signal here
        pass
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


class SignalsDeferred:
    """While the block runs, Ctrl+C (SIGINT) and SIGTERM are only noted, for work where an
    exception raised by a signal handler may land inside C++ calling Python: Qt drawing a chart
    for `fleetcast export` or `report` (a KeyboardInterrupt there crashed the process, exit 139,
    or printed pyqtgraph's paint traceback and exited 1; SIGTERM ended it without a word). The
    work asks `requested()` between steps, or `check()` (Cancelled), and stops there; when the
    block ends, after the work has put its Qt objects away, the handlers are restored and the
    first signal is raised as KeyboardInterrupt or Terminated, which `run_command` reports in
    one line with exit 130 or 143. A signal ignored when the block starts (`nohup`, a shell's
    background job) stays ignored; outside the main thread the block changes nothing."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Callable | int | None] = {}

    def _note(self, signum: int, frame) -> None:
        if self.signum is None:   # the first decides the exit code; a second Ctrl+C changes nothing
            self.signum = signum

    def requested(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        """Cancelled once a signal was noted: for a step that may stop (before a chart is drawn)."""
        if self.signum is not None:
            raise Cancelled()

    def __enter__(self) -> SignalsDeferred:
        for signum in (signal.SIGINT, *ENDING_SIGNALS):
            try:
                if signal.getsignal(signum) == signal.SIG_IGN:
                    continue
                self._previous[signum] = signal.signal(signum, self._note)
            except (ValueError, OSError):   # not the main thread: signals are not delivered to it
                break
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for signum, previous in self._previous.items():
            # (None: a handler set outside Python; the default is the nearest we can give back)
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()
        if self.signum is None:
            return
        # the work stopped for the signal (Cancelled), or ended anyway: say it was interrupted.
        # Another error that came first is reported instead: it says more than the interruption.
        if exc_type is None or issubclass(exc_type, (Cancelled, KeyboardInterrupt)):
            raise (KeyboardInterrupt() if self.signum == signal.SIGINT else Terminated(self.signum)) from None


def run_command(args: argparse.Namespace) -> int:
    """Run a parsed subcommand: print its output, or one line on stderr for a user error (exit 1)
    or for Ctrl+C (exit 130, saying what was saved) or SIGTERM (exit 143)."""
    if sys.stderr is None:
        # 2>&-: print(..., file=None) writes to stdout, so error lines landed after the JSON
        sys.stderr = open(os.devnull, "w")
    if sys.stdout is None:   # >&-: the command ran and exited 0 with its output lost
        _say(f"fleetcast: error: {_cannot_write('stdout is closed')}")
        return 1
    ctx = Context(args.db)
    try:
        with _sigterm_unwinds():
            try:
                return _run_handler(args, ctx)
            finally:
                ctx.close()
    except KeyboardInterrupt as exc:
        # one line saying what was or was not saved, not a traceback: an import interrupted
        # after its commit was run again and every order was added twice
        with contextlib.suppress(KeyboardInterrupt, OSError, ValueError):
            sys.stdout.flush()
        text = ctx.interrupted_text()
        if isinstance(exc, Terminated):
            text = "terminated" + text[len("interrupted"):]
        with contextlib.suppress(KeyboardInterrupt, OSError, ValueError):
            _say(f"fleetcast: {text}")
        return exc.exit_code if isinstance(exc, Terminated) else INTERRUPTED_EXIT


class OutputError(Exception):
    """stdout could not be written: a full disk (`> /dev/full`), a device error."""

    def __init__(self, error: OSError):
        super().__init__(error.strerror or str(error))


class _Stdout:
    """sys.stdout (looked up at each call: tests swap it) whose write errors are OutputError,
    apart from an OSError the command itself raised. BrokenPipeError passes: the reader left."""

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(_escaped(text))
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc) from None

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc) from None


def _run_handler(args: argparse.Namespace, ctx: Context) -> int:
    out = _Stdout()
    try:
        check_seed(getattr(args, "seed", None))   # before any work, for every command that takes one
        output = args.handler(args, ctx)
        if output is not None and output.stream is not None:
            output.stream(out)
        elif output is not None:
            _print_safely(render(output, args.format), out)
        out.flush()   # here, where a failure can be said, not at exit (a traceback, or lost unsaid)
        note = ctx.viewing_note()
        if note:
            _say(note)
        return 0
    except UserError as exc:
        lines = error_lines(exc)
        document = None
        if args.format == "json":
            if isinstance(exc, InfeasibleRequest) and exc.data is not None:   # its figures
                document = exc.data
            elif isinstance(exc, ValidationError) and len(exc.problems) > 1:   # every problem, for a script
                document = {"error": error_text(_problems_head(exc)), "problems": list(exc.problems)}
        if document is not None:
            try:
                _print_safely(render(Output(data=document), "json"), out)
                out.flush()
            except BrokenPipeError:   # `... --format json | true`: the reader left; the error still goes to stderr
                _quiet_stdout()
            except OutputError as write_error:
                return _output_failed(write_error, ctx)
        for line in lines:
            _say(line)
        return 1
    except BrokenPipeError:  # `fleetcast chips list | head`
        _quiet_stdout()
        return 0
    except OutputError as exc:
        return _output_failed(exc, ctx)


def _cannot_write(reason: str) -> str:
    return f"cannot write output ({reason})"


def _output_failed(exc: OutputError, ctx: Context | None = None) -> int:
    """The one line for output that could not be written, with what the command saved first: an
    import's orders were saved unsaid, and the obvious retry added them twice."""
    _quiet_stdout()   # the unwritten rest would fail again, with a traceback, at exit
    saved = ctx.saved_text() if ctx is not None else ""
    _say(f"fleetcast: error: {_cannot_write(str(exc))}" + (f"; {saved}" if saved else ""))
    return 1


def _say(line: str) -> None:
    """A line on stderr, after what stdout holds; never on stdout (print's fallback where stderr is None)."""
    if sys.stderr is None:
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()   # after the output, not in the middle of it
    with contextlib.suppress(BrokenPipeError):
        print(_escaped(line), file=sys.stderr)


# ---- error lines -----------------------------------------------------------------------------

# An error line keeps a value's start and end, and says how much it left out: a 100 KB --scenario
# was echoed whole. File names are rarely longer than a run of this many characters.
LONG_VALUE_CHARS = 300
MAX_ERROR_CHARS = 2000
_LONG_RUN = re.compile(r"\S{%d,}" % (LONG_VALUE_CHARS + 1))


def elide(text: str, limit: int = LONG_VALUE_CHARS) -> str:
    """`text` cut in the middle to about `limit` characters, saying how many it left out."""
    if len(text) <= limit:
        return text
    tail = limit // 3
    head = limit - tail
    return f"{text[:head]}…({len(text) - head - tail:,} characters)…{text[-tail:]}"


HEAD_PROBLEMS = 5   # problems a ValidationError names on its one line (as its message does)


def error_lines(exc: UserError) -> list[str]:
    """The lines a user error prints on stderr: one, which names the problem (CLI.md). A
    ValidationError with several problems names the first five on that line, as many of them
    whole as fit, and each problem past those on a line of its own below it: every problem is
    shown, and up to five are one line. (Its first line read "nothing imported: 2 problems:",
    naming none, QA s33; JSON keeps every problem in `problems`.)"""
    if isinstance(exc, ValidationError) and len(exc.problems) > 1:
        head = f"fleetcast: error: {_problems_head(exc)}: "
        texts = [error_text(p) for p in exc.problems]
        shown = 1   # the first, whatever its length (error_text caps one problem's)
        while shown < min(HEAD_PROBLEMS, len(texts)) and \
                len(head) + len("; ".join(texts[:shown + 1])) + 40 <= MAX_ERROR_CHARS:
            shown += 1
        rest = len(texts) - shown
        line = head + "; ".join(texts[:shown]) + (f"; and {rest:,} more below" if rest else "")
        return [line] + [f"  {t}" for t in texts[shown:]]
    return [f"fleetcast: error: {error_text(str(exc))}"]


def _problems_head(exc: ValidationError) -> str:
    """'nothing imported: 8 problems'."""
    return (f"{exc.context}: " if exc.context else "") + f"{len(exc.problems):,} problems"


def error_text(message: str) -> str:
    """One line: no line breaks, long values elided, undecodable bytes escaped (`_escaped`)."""
    text = _LONG_RUN.sub(lambda m: elide(m.group()), _escaped(message.replace("\n", " ")))
    return elide(text, MAX_ERROR_CHARS)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(text: str) -> str:
    """`text` with each byte that is not UTF-8 (a file name's, kept by Python as a lone surrogate,
    '\\udce9') written as the 4 characters '\\xe9', in every format: JSON has no such character
    and strict readers refuse the '\\udce9' escape. os.fsencode of the name with '\\xe9' replaced
    by that byte gives the file's name back. (Another lone surrogate is written '\\udXXX'.)"""
    if not _SURROGATE.search(text):
        return text

    def one(match: re.Match) -> str:
        code = ord(match.group())
        return f"\\x{code - 0xdc00:02x}" if 0xdc80 <= code <= 0xdcff else f"\\u{code:04x}"

    return _SURROGATE.sub(one, text)


def _quiet_stdout() -> None:
    """Point stdout at the null device after the reader closed the pipe, so the interpreter's
    flush at exit does not print a BrokenPipeError traceback."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_safely(text: str, out=None) -> None:
    """Print, escaping what the terminal's encoding can't show (a file name with odd bytes)."""
    out = out or _Stdout()
    text += "\n"
    try:
        out.write(text)
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        out.write(text.encode(encoding, "backslashreplace").decode(encoding))


if __name__ == "__main__":
    sys.exit(main())
