"""Reading and writing user files safely: CSV/JSON in, CSV out.

Every import and export goes through here, so the same rules hold everywhere:

- Only regular files are read (a FIFO, a device or a folder is refused before anything blocks),
  with a size cap and, for CSV, a row cap; CSV is streamed row by row, never read whole.
- A header that names a column twice is refused (the second value would silently win).
- An export never replaces an existing file unless asked (`force`), and is written to a temporary
  file in the same folder and moved into place with `os.replace`, so a reader never sees half a
  file; the temporary file is removed on every failure.
- A CSV file written to disk opens with a UTF-8 byte order mark: Excel reads a CSV without one in
  the ANSI code page, and a buyer "字节跳动" saved back from it came in as mojibake without a word. CSV on stdout (`--format csv`, `export -`) has none: a pipe's reader is a program.
  Every reader here decodes utf-8-sig, so files with and without it read the same.
- Text cells that a spreadsheet would run as a formula (starting with = + - @ tab CR) are written
  with a leading apostrophe (OWASP "CSV injection"); numbers are written as numbers. Reading a
  Fleetcast CSV back removes exactly that apostrophe, so a round trip is exact.

Errors are `UserError`s with one line naming the file (and row, column, value where there is one).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import io
import json
import os
import typing
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from engine.errors import UserError

# Limits: far above any real catalog or order book, far below what exhausts a desktop's memory.
MAX_CSV_BYTES = 200 * 1024 * 1024      # 200 MB
MAX_CSV_ROWS = 1_000_000
PROGRESS_ROWS = 1_000   # rows between two progress calls: a few ms of an import's work
MAX_JSON_BYTES = 10 * 1024 * 1024      # a Hugging Face config.json is a few kB
# One cell may be as long as a whole file: an order's delivery_notes cell holds every lot's note
# (up to 10,000 characters each, lots unbounded), so csv's default 131,072 refused exports
# Fleetcast itself wrote; a UTF-8 file of MAX_CSV_BYTES holds no longer cell.
MAX_CELL_CHARS = MAX_CSV_BYTES

# A spreadsheet treats a cell starting with one of these as a formula (or DDE command).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# What a CSV file on disk starts with (see the module's notes); never written to stdout.
UTF8_BOM = "\ufeff"
# The file name that means stdout for an export, as for most command-line tools.
STDOUT_NAME = "-"

# The units of the import files' columns that have one (a chip's figures as the catalog holds
# them): said in `chips import --help` and beside a misspelt column's nearest field
CHIP_COLUMN_UNITS = {
    "year": "year of first availability",
    **{f"{p}_tflops": "dense TFLOP/s" for p in ("fp32", "tf32", "bf16", "fp16", "fp8", "fp4")},
    "int8_tops": "dense TOP/s",
    "hbm_gb": "GiB", "hbm_gbps": "GB/s",
    "scaleup_gbps": "GB/s per direction", "scaleup_link_gbps": "GB/s per direction, one link",
    "scaleup_domain": "chips", "chips_per_node": "chips",
    "scaleout_gbps": "GB/s per direction", "scaleout_oversubscription": "ratio, at least 1",
    "tdp_w": "W", "price_usd": "USD",
}
ORDER_COLUMN_UNITS = {
    "quantity": "chips", "order_date": "YYYY-MM-DD", "promised": "DATE:CHIPS;...",
    "price_usd_per_chip": "USD per chip", "deliveries": "DATE:CHIPS;...",
    "delivery_notes": "a JSON list, one text per lot",
}
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")


# ---- what an import says of a cell or a column --------------------------------------------

def nearest_column_hint(column: str, allowed, units: dict) -> str:
    """'; did you mean hbm_gb (GiB)?' for a column spelt near a field ('hbm_gib'), else ''."""
    match = difflib.get_close_matches(column.strip().lower(), [a for a in allowed if a != "id"], n=1, cutoff=0.6)
    if not match:
        return ""
    unit = units.get(match[0])
    return f"; did you mean {match[0]}" + (f" ({unit})" if unit else "") + "?"


# ---- formula injection ---------------------------------------------------------------------

def neutralise_cell(value: Any) -> Any:
    """A text cell safe to open in a spreadsheet; numbers and other types pass unchanged.

    Text starting with a formula trigger gets a leading apostrophe. Text that already starts with
    apostrophes followed by a trigger gets one more, so `restore_cell` can undo exactly one.
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_TRIGGERS) or _ESCAPED.match(value):
        return "'" + value
    return value


def restore_cell(text: str) -> str:
    """Undo `neutralise_cell` on a cell read from a CSV (only an apostrophe before a trigger)."""
    if isinstance(text, str) and _ESCAPED.match(text):
        return text[1:]
    return text


# ---- reading -------------------------------------------------------------------------------

def _describe_mode(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular_file(path: str | os.PathLike, *, max_bytes: int, what: str = "file") -> io.BufferedReader:
    """Open `path` for binary reading if it is a regular file no larger than `max_bytes`.

    Opened with O_NONBLOCK and checked with fstat on the open descriptor, so a FIFO never blocks
    and a file swapped after the check can't slip through.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a {what}") from None
    except OSError as exc:
        raise UserError(f"{path}: can't be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UserError(f"{path}: is {_describe_mode(info.st_mode)}, not a {what}; give a regular file")
        if info.st_size > max_bytes:
            raise UserError(f"{path}: {info.st_size / 1e6:,.1f} MB is more than the {max_bytes / 1e6:,.0f} MB "
                            f"a {what} may have; split it into smaller files")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class CsvReader:
    """Stream the rows of a CSV file: `header` first, then `rows()` yields (row, {column: text}),
    `row` as a spreadsheet numbers it: the header is row 1, blank rows count, and a row whose
    quoted cell spans several lines is one row.

    Blank rows are skipped; a row with more cells than the header carries them under
    `"__extra__"`. Limits: `max_bytes` for the file, `max_rows` for data rows, `max_cell_chars`
    for one cell. `progress(fraction of the file's bytes read)` is called every PROGRESS_ROWS rows;
    it may raise (engine.errors.Cancelled) to stop the import.
    """

    def __init__(self, path: str | os.PathLike, *, max_bytes: int = MAX_CSV_BYTES, max_rows: int = MAX_CSV_ROWS,
                 columns: Sequence[str] = (), max_cell_chars: int = MAX_CELL_CHARS,
                 progress: Callable[[float], None] | None = None):
        self.path = Path(path)
        self.progress = progress
        self.name = self.path.name
        self.max_rows = max_rows
        self.max_cell_chars = max_cell_chars
        raw = open_regular_file(self.path, max_bytes=max_bytes, what="CSV file")
        self._raw, self._size_bytes = raw, max(os.fstat(raw.fileno()).st_size, 1)
        self._text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        # strict: a quote never closed is an error, not a cell that swallows the rest of the file
        self._reader = csv.reader(self._text, strict=True)
        # records read, blank ones too: row N as a spreadsheet numbers it (the header is row 1). The
        # reader's line_num counts text lines, so a quoted cell over three lines put the next row's
        # errors on "row 5" where the spreadsheet shows row 3.
        self._records = 0
        try:
            first = self._next()
        except BaseException:
            self.close()
            raise
        if first is None:
            self.close()
            raise UserError(f"{self.path}: empty file (expected a header row)")
        # a known column in any case is that column ("ID", "Chip_ID"), as the validation files read
        canonical = {c.lower(): c for c in columns}
        self.header = [canonical.get(h.strip().lower(), h.strip()) for h in first]
        separated_otherwise = len(self.header) == 1 and any(sep in self.header[0] for sep in ";\t")
        if columns and not separated_otherwise and not any(h.lower() in {c.lower() for c in columns}
                                                           for h in self.header):
            # a file whose first row is data: "column '900' appears twice" sent the user after a column
            # that does not exist
            self.close()
            shown = ", ".join(f"'{h}'" for h in self.header[:4]) + (", ..." if len(self.header) > 4 else "")
            if self.header and self.header[0].startswith("# "):
                # File > Export all's tables open with "# Table: orders" / "# Scenario: ..." lines
                raise UserError(f"{self.path} row 1: {shown[:60]} is a display export (Export all's table, "
                                "with its '# ...' context lines), not an import file; `fleetcast orders export` "
                                "or `fleetcast chips export` writes one that imports")
            raise UserError(f"{self.path} row 1: not a header (no cell names a column: {shown}); the first row "
                            f"must name the columns, e.g. {','.join(list(columns)[:4])},...")
        seen: dict[str, int] = {}
        for index, column in enumerate(self.header, start=1):
            if column in seen:
                self.close()
                raise UserError(f"{self.path} header: column '{column}' appears twice (columns {seen[column]} "
                                f"and {index}); keep one")
            seen[column] = index

    def _next(self, start: int | None = None) -> list[str] | None:
        # csv's limit is one for the process: set before every read, as another reader may have set its own
        csv.field_size_limit(self.max_cell_chars)
        try:
            cells = next(self._reader)
            self._records += 1
            return cells
        except StopIteration:
            return None
        except UnicodeDecodeError as exc:
            # decoding runs ahead of the parser in blocks: the file is read again for the row and
            # column (QA s41: "byte 0xfc" alone, in a 3,000-row file)
            where = bad_utf8_place(self.path)
            raise UserError(f"{self.path}{where}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                            "save it as CSV UTF-8") from None
        except csv.Error as exc:
            if "unexpected end of data" in str(exc) and start is not None:
                raise UserError(f"{self.path} row {start}: a quoted cell opens on this row and is never "
                                "closed; add the closing \" (nothing imported)") from None
            if "field larger than field limit" in str(exc):
                where = f"row {start}" if start is not None else "header"
                raise UserError(f"{self.path} {where}: a cell longer than {self.max_cell_chars:,} characters "
                                "(the limit for one cell; nothing imported)") from None
            raise UserError(f"{self.path} row {self._records + 1}: malformed CSV ({exc})") from None
        except OSError as exc:
            raise UserError(f"{self.path}: can't be read ({exc.strerror or exc})") from None

    def rows(self) -> Iterator[tuple[int, dict]]:
        count = 0
        width = len(self.header)
        while True:
            start = self._records + 1  # the row about to be read, however many lines its quoted cells span
            cells = self._next(start)
            if cells is None:
                return
            if not any(c.strip() for c in cells):
                continue
            count += 1
            if self.progress is not None and count % PROGRESS_ROWS == 0:
                self.progress(self.fraction_read())
            if count > self.max_rows:
                raise UserError(f"{self.path}: more than {self.max_rows:,} rows (the limit for one import); "
                                "split it into smaller files")
            row: dict = {column: restore_cell(cell) for column, cell in zip(self.header, cells)}
            for column in self.header[len(cells):]:
                row[column] = ""
            if len(cells) > width:
                row["__extra__"] = cells[width:]
            yield start, row

    def fraction_read(self) -> float:
        """The share of the file's bytes read so far (the text layer reads ahead in blocks)."""
        try:
            return min(self._raw.tell() / self._size_bytes, 1.0)
        except (OSError, ValueError):
            return 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._text.close()

    def __enter__(self) -> "CsvReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _RepeatedKey(Exception):
    pass


def _short_json(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_json_file(path: str | os.PathLike, *, max_bytes: int = MAX_JSON_BYTES, what: str = "JSON file",
                   parse_int=None) -> Any:
    """Parse a small JSON file: regular files only, size-capped, nesting depth bounded.

    NaN and Infinity are parsed (Python's json accepts them); the caller checks the fields it uses."""
    path = Path(path)
    with open_regular_file(path, max_bytes=max_bytes, what=what) as handle:
        try:
            data = handle.read()
        except OSError as exc:
            raise UserError(f"{path}: can't be read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    def refuse_repeats(pairs):
        # a key given twice: json takes the last silently ({"hidden_size": 4096, "hidden_size": 8192}
        # imported a 20B model); the CSV reader refuses a repeated column for the same reason
        seen: dict = {}
        for key, value in pairs:
            if key in seen and seen[key] != value:
                raise _RepeatedKey(f"{path}: key {key!r} appears twice ({_short_json(seen[key])} and "
                                   f"{_short_json(value)}); keep one")
            seen[key] = value
        return seen

    try:
        return json.loads(text, parse_int=parse_int, object_pairs_hook=refuse_repeats)
    except _RepeatedKey as exc:
        raise UserError(str(exc)) from None
    except RecursionError:
        raise UserError(f"{path}: not usable JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, or an integer literal past Python's digit limit
        raise UserError(f"{path}: not valid JSON ({exc})") from None


# ---- writing -------------------------------------------------------------------------------

# Checks every file writer runs on its target (the store adds one: an open database, or its -wal
# or -shm file, is never a file to export onto); each returns why the path is refused, or None.
WRITE_GUARDS: list[typing.Callable[[Path], str | None]] = []


def refuse_protected(path: str | os.PathLike) -> None:
    """UserError when `path` is a file no export may replace (the open database itself: `chips
    export DB --force` wrote CSV over every chip, order and scenario, and exited 0)."""
    for guard in WRITE_GUARDS:
        why = guard(Path(path))
        if why:
            raise UserError(f"{path}: {why}")


def bad_utf8_place(path) -> str:
    """' row N, column NAME: 'text'' for the first byte of `path` that is not UTF-8 ('' if it can't
    be read): its line (the row, unless a quoted cell spans lines), the first line's name of the
    cell that holds it, and the cell with the byte shown as U+FFFD."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        raw.decode("utf-8")
        return ""
    except UnicodeDecodeError as exc:
        start = exc.start
    except OSError:
        return ""
    line_start = raw.rfind(b"\n", 0, start) + 1
    line_end = raw.find(b"\n", start)
    text = raw[line_start:line_end if line_end >= 0 else len(raw)].decode("utf-8", "replace").rstrip("\r")
    row = raw.count(b"\n", 0, start) + 1
    try:
        cells = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        return f" row {row}"
    first_end = raw.find(b"\n")
    try:
        header = next(csv.reader([raw[:first_end if first_end >= 0 else len(raw)].decode("utf-8-sig", "replace")]))
    except (csv.Error, StopIteration):
        header = []
    for index, cell in enumerate(cells):
        if "\ufffd" in cell:
            name = header[index].strip() if index < len(header) and row > 1 else f"{index + 1}"
            shown = cell if len(cell) <= 40 else cell[:37] + "..."
            return f" row {row}, column {name}: '{shown}'"
    return f" row {row}"


def check_can_create(path: str | os.PathLike, *, force: bool = False) -> Path:
    """The target of an export, checked before any work: refuses folders, missing folders, the
    open database and (without `force`) an existing file."""
    path = Path(path)
    refuse_protected(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a file name to write")
    if path.exists() or path.is_symlink():
        if not force:
            raise UserError(f"{path}: exists; not overwritten (pass --force to replace it)")
        if not path.is_file():
            raise UserError(f"{path}: is not a regular file; not overwritten")
    parent = path.parent
    if not parent.is_dir():
        raise UserError(f"{parent}: no such folder (for {path.name}); create it first")
    if not os.access(parent, os.W_OK | os.X_OK):   # before the work, not after it (QA s41: a plan
        # worked out for 11 s, then "can't write in rodir")
        raise UserError(f"{parent}: can't write in it (for {path.name}): not writable; nothing was written")
    return path


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, force: bool = False, mode: str = "w",
                  bom: bool = False) -> Iterator[typing.IO]:
    """Write `path` all at once: a temporary file in the same folder, moved into place at the end.

    Without `force` an existing file is never replaced (checked first, and again at the move, which
    uses a hard link so a file created meanwhile is not clobbered either). `bom`: the text starts
    with a UTF-8 byte order mark (a CSV file, for Excel).
    """
    path = check_can_create(path, force=force)
    if "b" not in mode and _is_sqlite(path):
        # --force onto another database wrote CSV over it: a text export never replaces one
        raise UserError(f"{path}: is a SQLite database (another Fleetcast database?); not replaced by a text "
                        "export, even with --force: give a .csv name")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(f"{path}: can't write in {path.parent} ({exc.strerror or exc})") from None
    tmp = Path(tmp_name)
    try:
        kwargs: dict = {"newline": "", "encoding": "utf-8"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as handle:
            if bom and "b" not in mode:
                handle.write(UTF8_BOM)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; an export is an ordinary file
        if force:
            os.replace(tmp, path)
        else:
            _move_no_clobber(tmp, path)
    except OSError as exc:
        raise UserError(f"{path}: could not be written ({exc.strerror or exc}); nothing was changed") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def temp_file_beside(target: Path, suffix: str = ".tmp") -> Path:
    """An empty file with a name of its own (mkstemp) in `target`'s folder, for a write that is
    moved into place when whole: never a fixed name that could be somebody's file."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise UserError(f"{target}: can't write in {target.parent} ({exc.strerror or exc})") from None
    return Path(name)


def _move_no_clobber(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # fails if `path` appeared since the check
    except FileExistsError:
        raise UserError(f"{path}: exists; not overwritten (pass --force to replace it)") from None
    except OSError:  # a filesystem without hard links: the check above is all we have
        if path.exists():
            raise UserError(f"{path}: exists; not overwritten (pass --force to replace it)") from None
        os.replace(tmp, path)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def safe_cell(value: Any, cell=None) -> Any:
    """`value` formatted by `cell` (default: as is), neutralised if it was text to begin with:
    a negative number stays a number, the text '-5' gets its apostrophe."""
    out = cell(value) if cell is not None else value
    return neutralise_cell(out) if isinstance(value, str) else out


def write_csv_rows(handle, header: Sequence[str], rows: Iterable[Sequence], cell=None,
                   lineterminator: str = "\r\n") -> int:
    """Write a header and rows to an open text handle through `safe_cell`. Returns the row count."""
    writer = csv.writer(handle, lineterminator=lineterminator)
    # a row with a '#' in a text cell has its text quoted: the files are read with
    # read_csv(comment="#") for their '# Key: value' lines, which cut "Best #1 TP8" at the '#'
    # (QA s37: every layout of training_memory.csv read "Best" with its numbers NaN)
    quoted = csv.writer(handle, lineterminator=lineterminator, quoting=csv.QUOTE_NONNUMERIC)

    def write(cells: list) -> None:
        has_hash = any(isinstance(c, str) and "#" in c for c in cells)
        (quoted if has_hash else writer).writerow(["" if c is None else c for c in cells] if has_hash else cells)

    write([neutralise_cell(h) for h in header])
    count = 0
    for row in rows:
        write([safe_cell(v, cell) for v in row])
        count += 1
    return count


def write_csv_file(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence], *,
                   force: bool = False, cell=None) -> int:
    """A CSV file written atomically (with a UTF-8 byte order mark), refusing to overwrite unless
    `force`. Returns the row count."""
    with atomic_output(path, force=force, bom=True) as handle:
        return write_csv_rows(handle, header, rows, cell=cell)
