"""CSV import and export of chips and orders (the store's side; `engine.csv_io` does the files),
and restoring a whole database from a backup (`restore_backup`, at the end).

Imports stream the file and validate every row before anything is kept: rows are written inside
one transaction as they are read, and the transaction is rolled back if any row has a problem, so
memory stays bounded and the database sees all rows or none. What an import changes:

- chips: a row whose id is in the catalog updates that chip (columns the file lacks are kept);
  others are added.
- orders: a row without an id adds an order. A row with an id (a whole number, 1..2^53-1) adds that
  order if the id is new and updates it if it exists; columns the file lacks keep their values.
  An existing order's deliveries are replaced only when the row gives deliveries (a non-blank
  `deliveries` cell); otherwise they are kept. An id given twice in a file is refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import stat
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from engine.catalog import CHIP_FIELDS
from engine.csv_io import (
    CHIP_COLUMN_UNITS, MAX_CSV_BYTES, MAX_CSV_ROWS, ORDER_COLUMN_UNITS, CsvReader, atomic_output,
    nearest_column_hint, write_csv_rows,
)
from engine.errors import UserError, ValidationError
from engine.store import files
from engine.store.errors import StoreError
from engine.store.schema import (
    CHIPS, DELIVERIES, ORDER_ID_MAX, ORDERS, SCENARIOS, claim_id, last_id, note_id,
)
from engine.validate import (
    ORDER_FIELDS, check_chip, check_order, escape_controls, future_delivery, parse_delivery_notes,
    parse_schedule_in_order, vendor_mismatch,
)

if TYPE_CHECKING:
    from engine.store.store import Store

# delivery_notes: a JSON list, one text per lot of `deliveries` (optional on import)
ORDER_CSV_FIELDS = ORDER_FIELDS + ("deliveries", "delivery_notes")
ORDER_REQUIRED = ("buyer", "vendor", "chip_id", "quantity", "order_date")
# The largest order id an import takes (ORDER_ID_MAX, kept beside claim_id, which never hands out
# a larger one): 2^53 - 1, exact in JSON and in a spreadsheet, and far below SQLite's 2^63 - 1 (an
# id of 2^63 - 1 left "Add order" with an OverflowError and no id to give)
MAX_REPORTED_PROBLEMS = 200       # then the import stops reading: the file needs fixing anyway
_DIGITS = re.compile(r"^[0-9]+$")
_ORDER_VALUE_FIELDS = tuple(f for f in ORDER_FIELDS if f != "id")
IMPORTED_NOTE = "imported"        # a new lot's note when the file gives none (a blank delivery_notes cell)


@dataclass
class ImportSummary:
    """What an import did, for the CLI's message and JSON and the window's banner."""

    kind: str                      # "chip" or "order"
    file: str
    added: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    deliveries_replaced: list = field(default_factory=list)   # orders whose deliveries the file replaced
    deliveries_kept: list = field(default_factory=list)       # existing orders the file gave no deliveries for
    warnings: list = field(default_factory=list)              # kept rows a user should look at again

    @property
    def count(self) -> int:
        return len(self.added) + len(self.updated) + len(self.unchanged)

    def as_dict(self) -> dict:
        data = {"imported": self.count, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "file": self.file}
        if self.kind == "chip":
            data["replaced"] = self.updated  # the key `chips import` has always printed
        else:
            data.update(deliveries_replaced=self.deliveries_replaced, deliveries_kept=self.deliveries_kept,
                        warnings=self.warnings)
        return data

    def text(self) -> str:
        def ids(values) -> str:
            shown = ", ".join(str(v) for v in values[:8])
            return shown + (f" and {len(values) - 8} more" if len(values) > 8 else "")

        parts = [f"{len(self.added)} added" + (f" ({ids(self.added)})" if self.added else ""),
                 f"{len(self.updated)} updated" + (f" ({ids(self.updated)})" if self.updated else "")]
        if self.unchanged:
            parts.append(f"{len(self.unchanged)} unchanged ({ids(self.unchanged)})")
        text = f"imported {self.count} {self.kind}(s) from {self.file}: " + ", ".join(parts)
        if self.deliveries_replaced:
            text += f"; deliveries replaced by the file's for order(s) {ids(self.deliveries_replaced)}"
        if self.deliveries_kept:
            text += (f"; deliveries kept for order(s) {ids(self.deliveries_kept)} "
                     "(the file gives none for them)")
        return text + "".join(f"\nwarning: {w}" for w in self.warnings)


class _Problems:
    def __init__(self, name: str):
        self.name = name
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)
        if len(self.items) >= MAX_REPORTED_PROBLEMS:
            # the problems listed are all the problems counted: the note that reading stopped was
            # a 201st "problem", and 5,000 bad rows read "nothing imported: 201 problems"
            raise ValidationError(self.items, context=self._context(stopped=True))

    def add_row(self, line: int, exc: ValidationError) -> None:
        for problem in exc.problems:
            column, _, rest = problem.partition(":")
            self.add(f"{self.name} row {line}, column {column}: {rest.strip()}")

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationError(self.items, context=self._context())

    def _context(self, stopped: bool = False) -> str:
        """"nothing imported", naming the file unless every problem does ("orders.csv: nothing
        imported: orders.csv row 5, ..." named it twice), and saying when reading stopped early."""
        named = all(item.startswith(f"{self.name} ") or item.startswith(f"{self.name}:") for item in self.items)
        text = "nothing imported" if named else f"{self.name}: nothing imported"
        if stopped:
            text += (f" (reading stopped at the {MAX_REPORTED_PROBLEMS}th problem; the rows after it were not "
                     "checked and may hold more)")
        return text


class _RowReader(CsvReader):
    """CsvReader that keeps the number of cells of the row it last read: a row with fewer cells
    than the header came out with blanks in the missing columns (a chip added without the HBM
    bandwidth its line lacked), which an import refuses as it refuses more cells."""

    cells_read = 0

    def __enter__(self) -> _RowReader:
        return self

    def _next(self, start: int | None = None) -> list[str] | None:
        cells = super()._next(start)
        self.cells_read = len(cells) if cells is not None else 0
        return cells

    def width_problem(self, line: int, row: dict) -> str | None:
        """'NAME row N: ...' when the row just read has more or fewer cells than the header."""
        if "__extra__" in row:
            return (f"{self.name} row {line}: {self.cells_read} cells, the header has {len(self.header)}"
                    if self.cells_read > len(self.header) else f"{self.name} row {line}: more cells than header columns")
        if self.cells_read < len(self.header):
            return f"{self.name} row {line}: {self.cells_read} cells, the header has {len(self.header)}"
        return None


def _blanks_over_stored(what: str, row: dict, header: set, stored: dict, fields) -> list[str]:
    """Problems ('field: why') for blank cells that would erase a value stored for an existing row:
    an import updates what it is given, and a blank is too easily a cell nobody filled in."""
    out = []
    for name in fields:
        if name in header and name != "id" and (row.get(name) or "").strip() == "" \
                and stored.get(name) not in (None, ""):
            out.append(f"{name}: blank would erase the stored {_show_cell(stored[name])} of {what} (leave the "
                       "column out to keep it, or give a value; to clear it, edit it in the window)")
    return out


def _show_cell(text: str) -> str:
    shown = escape_controls(str(text))
    return f"'{shown}'" if len(shown) <= 40 else f"'{shown[:37]}...'"


def parse_order_id(text) -> int | None:
    """An order id from a CSV cell: blank -> None; digits in 1..ORDER_ID_MAX -> int; else ValidationError."""
    raw = "" if text is None else str(text).strip()
    if raw == "":
        return None
    if not _DIGITS.match(raw) or len(raw) > 19 or not (1 <= int(raw) <= ORDER_ID_MAX):
        raise ValidationError([f"id: {_show_cell(raw)} (an order id is a whole number from 1 to {ORDER_ID_MAX:,}, "
                               "written with digits only)"])
    return int(raw)


# A column named with its unit in brackets ("Quantity (chips)", "BF16 (TFLOP/s)"): the window's and
# `fleetcast export`'s display tables label their columns so; no import field is written that way.
# Two such columns make a display export (one may be a user's own "notes (internal)")
_DISPLAY_LABEL = re.compile(r"\S.*\s\(.+\)")


def _header_problems(reader: CsvReader, allowed, required, kind: str) -> list[str]:
    known = {a.lower() for a in allowed}
    for sep in (";", "\t"):
        # Excel in many locales saves ';'-separated "CSV": the whole header is then one cell (a
        # display export's "Promised (date:chips; …)" holds a ';' too, among comma-separated columns)
        cells = [c.strip().lower() for c in reader.header[0].split(sep)] if len(reader.header) == 1 else []
        if sum(c in known for c in cells) >= 2:
            # one line, not one per unknown column
            name = "semicolons" if sep == ";" else "tabs"
            return [f"{reader.name} header: the columns are separated by {name}; save the file as "
                    "comma-separated CSV (UTF-8) and import it again"]
    labels = [h for h in reader.header if h not in allowed and _DISPLAY_LABEL.fullmatch(h)]
    if len(labels) >= 2:
        label = labels[0]
        what = "chips" if kind == "a chip" else "orders"
        return [f"{reader.name} header: a display export (column '{escape_controls(label)}'): its columns are the "
                f"view's, not the import format; `fleetcast {what} export` writes a file that imports"]
    # the other kind's file (a chips export given to `orders import`): one line naming it, not a
    # problem per column ("29 problems: column 'name' is not an order field; ...")
    unknown = [h.strip().lower() for h in reader.header if h not in allowed]
    other, other_kind, this, that = ((ORDER_CSV_FIELDS, "orders", "an orders", "a chips") if kind == "a chip"
                                     else (CHIP_FIELDS, "chips", "a chips", "an orders"))
    if len(unknown) >= 3 and sum(h in other for h in unknown) >= 0.8 * len(unknown):
        return [f"{reader.name} header: this is {this} file, not {that} file (columns {', '.join(unknown[:3])}, "
                f"...): import it with `fleetcast {other_kind} import`"]
    # `orders list --format csv` is a listing (its `delivered` is computed): `orders export` writes
    # the file an import reads back
    listing = " (a listing, from `orders list`? `orders export` writes the file an import reads)" \
        if kind == "an order" and "delivered" in reader.header else ""
    units = CHIP_COLUMN_UNITS if kind == "a chip" else ORDER_COLUMN_UNITS
    problems = [f"{reader.name} header: column '{escape_controls(h)}' is not {kind} field"
                + (listing if h == "delivered" and listing else nearest_column_hint(h, allowed, units))
                for h in reader.header if h not in allowed]
    problems += [f"{reader.name} header: missing the '{f}' column" for f in required if f not in reader.header]
    return problems


# ---- chips ---------------------------------------------------------------------------------

class UpdatesRefused(ValidationError):
    """An import refused because rows would change existing records the caller did not allow to
    change: `ids` are all of them (the window asks about them by name and imports again)."""

    def __init__(self, problems: list[str], context: str, what: str, ids: list):
        super().__init__(problems, context=context)
        self.what, self.ids = what, list(ids)


class TwinsRefused(ValidationError):
    """An import refused because rows without an id equal stored orders in every field and
    delivery (the same file imported again?) and the caller did not allow more such orders:
    `lines` are the rows, `twins` the stored orders they equal (the window asks, then imports
    again with `allow_twins`)."""

    def __init__(self, problems: list[str], context: str, lines: list, twins: list):
        super().__init__(problems, context=context)
        self.lines, self.twins = list(lines), list(twins)


def show_ids(ids: list) -> str:
    """'4, 7, 9' or '4, 7, 9, 12, 15 and 3 more'."""
    return ", ".join(str(i) for i in ids[:5]) + (f" and {len(ids) - 5:,} more" if len(ids) > 5 else "")


def _refuse_unasked_updates(summary: ImportSummary, name: str, what: str, allowed: bool | frozenset) -> None:
    """Raised inside the import's transaction (so nothing is written) when rows would change
    existing ones and the caller did not ask for that: an export of another database carries ids
    that are this one's other orders, and the CLI has no undo. `allowed`: True (any), False
    (none) or the ids the user agreed to replace (the window: not one written since it asked)."""
    if allowed is True or not summary.updated:
        return
    unasked = [i for i in summary.updated if not allowed or i not in allowed]
    if not unasked:
        return
    raise UpdatesRefused([f"{len(unasked):,} row(s) would change existing {what} ({show_ids(unasked)}); "
                          "pass --replace to update them"], f"{name}: nothing imported", what, unasked)


# Chip fields an import requires beyond check_chip's (which takes them blank, as "unknown")
REQUIRED_CHIP_MEMORY = {"hbm_gb": "the HBM size in GiB", "hbm_gbps": "the HBM bandwidth in GB/s"}


def import_chips(store, path, *, max_bytes: int = MAX_CSV_BYTES, max_rows: int = MAX_CSV_ROWS,
                 update_existing: bool | frozenset = True, progress=None) -> ImportSummary:
    store._writable()
    summary = ImportSummary("chip", str(path))
    with _RowReader(path, max_bytes=max_bytes, max_rows=max_rows, columns=CHIP_FIELDS, progress=progress) as reader:
        problems = _header_problems(reader, CHIP_FIELDS, ("id",), "a chip")
        if problems:
            raise ValidationError(problems)
        header = set(reader.header)
        issues = _Problems(reader.name)
        seen: dict[str, int] = {}
        calibrate_as: dict[int, str] = {}   # line -> a row's calibrate_as, checked once every id is known
        with store.db.atomic():
            current = {r["id"]: r for r in store.chip_rows()}   # under the write lock, as in import_orders
            for line, row in reader.rows():
                width = reader.width_problem(line, row)
                if width:
                    issues.add(width)
                    continue
                base = current.get((row.get("id") or "").strip(), {})
                erased = _blanks_over_stored(f"chip '{(row.get('id') or '').strip()}'", row, header, base, CHIP_FIELDS)
                if erased:
                    issues.add_row(line, ValidationError(erased))
                    continue
                try:
                    # A chip already in the catalog keeps the columns this file doesn't have.
                    chip = check_chip({k: (row.get(k) if k in header else base.get(k)) for k in CHIP_FIELDS})
                except ValidationError as exc:
                    issues.add_row(line, exc)
                    continue
                missing = [f"{f}: blank ({what}; serve, train and the forecast need it)"
                           for f, what in REQUIRED_CHIP_MEMORY.items() if chip.get(f) is None]
                if missing:   # accepted, the chip was then refused by serve and train and counted as no capacity
                    issues.add_row(line, ValidationError(missing))
                    continue
                if chip["id"] in seen:
                    issues.add(f"{reader.name} row {line}, column id: '{chip['id']}' repeats row {seen[chip['id']]}")
                    continue
                seen[chip["id"]] = line
                if chip.get("calibrate_as"):
                    calibrate_as[line] = chip["calibrate_as"]
                if chip["id"] in current:
                    old = {k: current[chip["id"]].get(k) for k in CHIP_FIELDS}
                    if old == chip:
                        summary.unchanged.append(chip["id"])
                    else:
                        store.db[CHIPS].update(chip["id"], chip)
                        summary.updated.append(chip["id"])
                else:
                    store.db[CHIPS].insert(chip)
                    summary.added.append(chip["id"])
            # after every row: a copy may name a chip added further down the file
            from engine.calibration import calibrate_as_problem
            from engine.catalog import calibrate_as_loops

            for line, target in calibrate_as.items():
                problem = calibrate_as_problem(target, current.keys() | seen.keys())
                if problem:
                    issues.add_row(line, ValidationError([problem]))
            # my-a -> my-b -> my-a calibrates neither: one line per loop, naming its chips
            lines = {cid: line for cid, line in seen.items() if line in calibrate_as}
            written = {r["id"]: r for r in store.chip_rows()}   # this file's rows over the database's
            for cid, problem in calibrate_as_loops(lines, written).items():
                issues.add_row(lines[cid], ValidationError([problem]))
            issues.raise_if_any()  # rolls the transaction back
            _refuse_unasked_updates(summary, reader.name, "chips", update_existing)
    return summary


def export_chips(store, path, *, force: bool = False) -> int:
    """The catalog to the CSV file `path` (with a UTF-8 byte order mark, for Excel)."""
    with atomic_output(path, force=force, bom=True) as handle:
        return write_chips_csv(store, handle)


def write_chips_csv(store, handle, lineterminator: str = "\r\n") -> int:
    """The catalog as an import file's CSV on an open text handle (a file, or stdout)."""
    return write_csv_rows(handle, CHIP_FIELDS, ([row.get(k) for k in CHIP_FIELDS] for row in store.chip_rows()),
                          cell=_plain, lineterminator=lineterminator)


def _plain(value):
    return "" if value is None else value


# ---- orders --------------------------------------------------------------------------------

def _existing_lots(store, order_id: int) -> list[tuple[str, int, str]]:
    return [(d, q, n or "") for d, q, n in store.db.execute(
        f"select date, quantity, note from {DELIVERIES} where order_id = ? order by date, id", [order_id]).fetchall()]


def _lot_notes(lots: list, given: list[str] | None, old: list[tuple[str, int, str]]) -> list[str]:
    """Each new lot's note: the file's when it gives them; else the note of a stored lot of the
    same date and quantity (a re-import must not wipe what was written about a delivery);
    else 'imported'."""
    if given is not None:
        return list(given)
    spare = list(old)
    notes = []
    for day, qty in lots:
        match = next((i for i, (d, q, _) in enumerate(spare) if d == day and q == qty), None)
        notes.append(spare.pop(match)[2] if match is not None else IMPORTED_NOTE)
    return notes


def import_orders(store, path, *, max_bytes: int = MAX_CSV_BYTES, max_rows: int = MAX_CSV_ROWS,
                  update_existing: bool | frozenset = True, allow_twins: bool = False,
                  progress=None) -> ImportSummary:
    """Orders with their deliveries ('deliveries' column, DATE:QTY;...). All rows or none.
    `progress(fraction of the file read)` may raise engine.errors.Cancelled: nothing is written.
    Rows without an id that equal stored orders in every field and delivery refuse the file
    (TwinsRefused) unless `allow_twins`: the same sheet imported three times had tripled the
    fleet's supply with a warning (QA s41: 3,000 orders became 9,000)."""
    store._writable()
    summary = ImportSummary("order", str(path))
    conn = store.db.conn
    with _RowReader(path, max_bytes=max_bytes, max_rows=max_rows, columns=ORDER_CSV_FIELDS, progress=progress) as reader:
        name = reader.name
        problems = _header_problems(reader, ORDER_CSV_FIELDS, ORDER_REQUIRED, "an order")
        if problems:
            raise ValidationError(problems)
        header = set(reader.header)
        issues = _Problems(name)
        given_at: dict[int, int] = {}     # id -> line that gave it
        reused: list[tuple[int, int, str]] = []   # (line, a deleted order's id given again, chip)
        stored_orders: dict[tuple, int] | None = None
        twins: list[tuple[int, int]] = []          # (line, the stored order it equals)
        stored_cores: dict[tuple, int] = {}
        updates: list[tuple[int, int, int, str]] = []   # (line, the stored order it seems to update, its new id, what differs)
        stored_by_id: dict[int, tuple] = {}        # the orders in stored_cores: id -> (values, lots)
        # each id-less row's hash of values and lots, and its line, 16 bytes a row: memory stays
        # small for a million rows (a false match needs a 64-bit hash collision)
        row_hashes, row_lines = array("q"), array("q")
        profiles: list[str] | None = None          # vendors with a delivery-risk profile, read at the first mismatch

        def exists(order_id: int) -> bool:
            return conn.execute(f"select 1 from {ORDERS} where id = ?", [order_id]).fetchone() is not None
        columns = ", ".join(_ORDER_VALUE_FIELDS)
        marks = ", ".join("?" for _ in _ORDER_VALUE_FIELDS)
        insert_sql = f"insert into {ORDERS} (id, {columns}) values (?, {marks})"
        update_sql = f"update {ORDERS} set {', '.join(f'{c} = ?' for c in _ORDER_VALUE_FIELDS)} where id = ?"
        delivery_sql = f"insert into {DELIVERIES} (id, order_id, date, quantity, note) values (?, ?, ?, ?, ?)"

        def add_deliveries(order_id: int, lots, notes) -> None:   # new ids, never one a deleted delivery had
            conn.executemany(delivery_sql, [(claim_id(conn, DELIVERIES), order_id, d, q, n)
                                            for (d, q), n in zip(lots, notes)])
        with store.db.atomic():
            # Read under the write lock (BEGIN IMMEDIATE), not before it: read earlier, another
            # import committed in between went unseen, and its order 10 read as one this import
            # had just given a row without an id.
            chip_ids = store._chip_ids()
            chip_vendors = dict(conn.execute(f"select id, vendor from {CHIPS}").fetchall())
            # Ids the database gives rows without one are above every id it held before (SQLite: max + 1),
            # so an id above `max_before` that exists and no row gave was assigned by this import.
            max_before = conn.execute(f"select coalesce(max(id), 0) from {ORDERS}").fetchone()[0]
            ever_before = max(int(max_before), last_id(conn, ORDERS))   # ids handed out before this import
            for line, row in reader.rows():
                width = reader.width_problem(line, row)
                if width:
                    issues.add(width)
                    continue
                try:
                    order_id = parse_order_id(row.get("id"))
                except ValidationError as exc:
                    issues.add_row(line, exc)
                    continue
                if order_id is not None:
                    if order_id in given_at:
                        issues.add(f"{name} row {line}, column id: {order_id} (also given on row {given_at[order_id]}; "
                                   "each order once per file)")
                        continue
                    found = exists(order_id)
                    if found and order_id > max_before:
                        issues.add(f"{name} row {line}, column id: {order_id} (this import already gave that id to an "
                                   "earlier row without an id; give ids to all rows or none)")
                        continue
                    given_at[order_id] = line
                is_update = order_id is not None and found
                gives_deliveries = "deliveries" in header and (row.get("deliveries") or "").strip() != ""
                gives_notes = "delivery_notes" in header and (row.get("delivery_notes") or "").strip() != ""
                try:
                    if gives_notes and not gives_deliveries:
                        raise ValidationError(["delivery_notes: given without deliveries (a note is for a lot of the "
                                               "deliveries cell)"])
                    in_order = parse_schedule_in_order("deliveries", row.get("deliveries")) if gives_deliveries else []
                    file_notes = parse_delivery_notes("delivery_notes", row.get("delivery_notes"), len(in_order))
                    # sorted by date (and quantity) as parse_schedule has them, each note with its lot
                    paired = sorted(zip(in_order, file_notes or [""] * len(in_order)), key=lambda p: p[0])
                    lots = [lot for lot, _ in paired]
                    given_notes: list[str] | None = [n for _, n in paired] if file_notes is not None else None
                    late = [p for p in (future_delivery("deliveries", d) for d, _ in lots) if p]
                    if late:
                        raise ValidationError(late[:1])
                    if is_update:
                        assert order_id is not None  # an update names an existing order
                        current = dict(store.db[ORDERS].get(order_id))
                        erased = _blanks_over_stored(f"order {order_id}", row, header, current, _ORDER_VALUE_FIELDS)
                        if erased:
                            raise ValidationError(erased)
                        old_full = _existing_lots(store, order_id)
                        old_lots = [(d, q) for d, q, _ in old_full]
                        merged = {k: (row.get(k) if k in header else current.get(k)) for k in _ORDER_VALUE_FIELDS}
                        first: dt.date | None
                        if gives_deliveries:
                            delivered, first = sum(q for _, q in lots), lots[0][0]
                        else:
                            delivered = sum(q for _, q in old_lots)
                            first = min((dt.date.fromisoformat(d) for d, _ in old_lots), default=None)
                        order = check_order(merged, known_chip_ids=chip_ids, delivered=delivered,
                                            first_delivery=first, deliveries_given=gives_deliveries)
                    else:
                        order = check_order(row, known_chip_ids=chip_ids, delivered=sum(q for _, q in lots),
                                            first_delivery=lots[0][0] if lots else None, deliveries_given=True)
                except ValidationError as exc:
                    issues.add_row(line, exc)
                    continue
                if issues.items:
                    continue  # nothing will be kept: validate the rest without writing
                maker = chip_vendors.get(order["chip_id"]) or ""
                # (without profiles first: the scenarios are read only once an order's vendor differs)
                mismatch = vendor_mismatch(order["vendor"], order["chip_id"], maker, [])
                if mismatch:
                    if profiles is None:
                        profiles = risk_profile_vendors(store)
                    mismatch = vendor_mismatch(order["vendor"], order["chip_id"], maker, profiles)
                    summary.warnings.append(f"{name} row {line}: {mismatch}")
                values = [order[c] for c in _ORDER_VALUE_FIELDS]
                new_lots = [(d.isoformat(), q) for d, q in lots]
                if is_update:
                    assert order_id is not None  # an update names an existing order
                    order_changed = any(order[c] != current.get(c) for c in _ORDER_VALUE_FIELDS)
                    new_notes = _lot_notes(new_lots, given_notes, old_full)
                    replace = gives_deliveries and (sorted(new_lots) != sorted(old_lots) or (
                        given_notes is not None and sorted(zip(new_lots, new_notes)) != sorted(
                            ((d, q), n) for d, q, n in old_full)))
                    if order_changed:
                        conn.execute(update_sql, values + [order_id])
                    if replace:
                        conn.execute(f"delete from {DELIVERIES} where order_id = ?", [order_id])
                        add_deliveries(order_id, new_lots, new_notes)
                        summary.deliveries_replaced.append(order_id)
                    elif not gives_deliveries and old_lots:
                        summary.deliveries_kept.append(order_id)
                    (summary.updated if order_changed or replace else summary.unchanged).append(order_id)
                else:
                    update_of = None   # the stored order this row seems to update
                    if order_id is None:
                        if stored_orders is None:   # the orders held before this import, read once
                            stored_orders = _orders_by_values(conn, max_before)
                            stored_cores = _orders_by_core(stored_orders)
                            stored_by_id = {oid: key for key, oid in stored_orders.items()}
                        twin = _same_order(stored_orders, order, new_lots)
                        if twin is not None:   # an id-less file imported twice doubled the fleet unsaid
                            twins.append((line, twin))
                        elif (updated := stored_cores.get(_order_core(order))) is not None:
                            # an updated tracking sheet (one more delivery) imported again: the
                            # order was added a second time, where "imported twice?" was said
                            # only for its unchanged rows
                            update_of = updated
                        if twin is None:   # a row pasted twice into one file doubled that order unsaid too
                            row_hashes.append(hash(_order_key(order, new_lots)))
                            row_lines.append(line)
                        order_id = claim_id(conn, ORDERS)
                    else:
                        if order_id <= ever_before:
                            reused.append((line, order_id, order["chip_id"]))
                        note_id(conn, ORDERS, order_id)
                    new_id = conn.execute(insert_sql, [order_id] + values).lastrowid
                    add_deliveries(new_id, new_lots, _lot_notes(new_lots, given_notes, []))
                    summary.added.append(new_id)
                    if update_of is not None:
                        updates.append((line, update_of, new_id,
                                        _differing_fields(stored_by_id[update_of], order, new_lots)))
            issues.raise_if_any()  # rolls the transaction back
            _refuse_unasked_updates(summary, name, "orders", update_existing)
            if twins and not allow_twins:   # rolls it back too: nothing written
                shown = "; ".join(f"row {line} = order {twin}" for line, twin in twins[:3])
                rest = f" and {len(twins) - 3:,} more" if len(twins) > 3 else ""
                raise TwinsRefused([f"{len(twins):,} row(s) without an id equal stored orders in every field and "
                                    f"delivery ({shown}{rest}): imported before? pass --again to add them as more "
                                    "orders"], f"{name}: nothing imported",
                                   [line for line, _ in twins], [twin for _, twin in twins])
            summary.warnings += _reused_id_warnings(conn, name, reused)
            summary.warnings += [f"{name} row {line}: the same as order {twin} in every field and delivery; added as "
                                 "another order, as asked" for line, twin in twins[:3]]
            if len(twins) > 3:
                summary.warnings.append(f"{name}: {len(twins) - 3} more rows equal a stored order the same way")
            # the undo names the order just added: the stored one is the one to keep, and a row
            # given its id is refused without --replace
            summary.warnings += [f"{name} row {line}: looks like an update of order {stored}: the same buyer, vendor, "
                                 f"chip, quantity and order date, differing in {differs}; added as order {added}; to update "
                                 f"order {stored} instead: `orders delete {added}`, then import the row with id "
                                 f"{stored} and --replace"
                                 for line, stored, added, differs in updates[:3]]
            if len(updates) > 3:
                summary.warnings.append(f"{name}: {len(updates) - 3} more rows look like updates of stored orders "
                                        "the same way")
            file_twins, more = _repeated_rows(row_hashes, row_lines, shown=3)
            summary.warnings += [f"{name} row {line}: the same as row {earlier} in every field and delivery; added as "
                                 "another order (pasted twice?)" for line, earlier in file_twins]
            if more:
                summary.warnings.append(f"{name}: {more} more rows equal an earlier row the same way")
    return summary


def _orders_by_values(conn, max_id: int) -> dict[tuple, int]:
    """The first id of each order up to `max_id` (those before an import) by its values and its
    deliveries, read in two queries (a query per stored order and row took 2 minutes for 2,000
    rows against 10,000 alike orders)."""
    lots: dict[int, list] = {}
    for oid, day, qty in conn.execute(f"select order_id, date, quantity from {DELIVERIES} where order_id <= ?",
                                      [max_id]):
        lots.setdefault(int(oid), []).append((str(day), int(qty)))
    out: dict[tuple, int] = {}
    columns = ", ".join(_ORDER_VALUE_FIELDS)
    for row in conn.execute(f"select id, {columns} from {ORDERS} where id <= ? order by id", [max_id]):
        out.setdefault((tuple(row[1:]), tuple(sorted(lots.get(int(row[0]), [])))), int(row[0]))
    return out


def _differing_fields(stored: tuple, order: dict, lots: list) -> str:
    """What a row that `looks like an update` changes of the stored order (`_orders_by_values`'s
    key): 'note', 'price_usd_per_chip and note', 'deliveries' ("other deliveries" was said of
    a row whose deliveries were the stored ones and whose price was not)."""
    values, stored_lots = stored
    names = [f for f, old in zip(_ORDER_VALUE_FIELDS, values) if f not in _ORDER_CORE_FIELDS and order[f] != old]
    if tuple(sorted((d, int(q)) for d, q in lots)) != tuple(stored_lots):
        names.append("deliveries")
    if not names:   # (equal in all is a twin, caught before this)
        return "a stored value"
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def _repeated_rows(hashes: array, lines: array, shown: int) -> tuple[list[tuple[int, int]], int]:
    """([(line, the first line with the same hash)] for the first `shown` rows that repeat an
    earlier one, in file order; how many more repeat one)."""
    import numpy as np

    if len(hashes) < 2:
        return [], 0
    keys = np.frombuffer(hashes, dtype=np.int64)
    at = np.frombuffer(lines, dtype=np.int64)
    order = np.argsort(keys, kind="stable")        # equal hashes together, in file order
    ranked = keys[order]
    starts = np.r_[True, ranked[1:] != ranked[:-1]]
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    repeats = np.flatnonzero(~starts)
    by_line = repeats[np.argsort(at[order[repeats]], kind="stable")][:shown]
    pairs = [(int(at[order[i]]), int(at[order[run_start[i]]])) for i in by_line]
    return pairs, len(repeats) - len(pairs)


def _order_key(order: dict, lots: list) -> tuple:
    """An order's values and deliveries, as `_orders_by_values` keys the stored ones."""
    return tuple(order[c] for c in _ORDER_VALUE_FIELDS), tuple(sorted((d, int(q)) for d, q in lots))


# What names one order in a tracking sheet, whatever its deliveries so far: a row equal in these
# and not in its deliveries is most likely the same order updated
_ORDER_CORE_FIELDS = ("buyer", "vendor", "chip_id", "quantity", "order_date")
_CORE_AT = tuple(_ORDER_VALUE_FIELDS.index(f) for f in _ORDER_CORE_FIELDS)


def _order_core(order: dict) -> tuple:
    return tuple(order[f] for f in _ORDER_CORE_FIELDS)


def _orders_by_core(stored: dict[tuple, int]) -> dict[tuple, int]:
    """The first id of each order in `stored` (`_orders_by_values`) by its `_ORDER_CORE_FIELDS`."""
    out: dict[tuple, int] = {}
    for (values, _), order_id in sorted(stored.items(), key=lambda item: item[1]):
        out.setdefault(tuple(values[i] for i in _CORE_AT), order_id)
    return out


def _same_order(stored: dict[tuple, int], order: dict, lots: list) -> int | None:
    """The id of an order held before the import equal to `order` in every value and delivery, or None."""
    return stored.get(_order_key(order, lots))


def risk_profile_vendors(store) -> list[str]:
    """The vendors with a delivery-risk profile in the scenario a forecast runs when none is named
    (the database's baseline; the built-in story's when it has none to read), for
    `vendor_mismatch` to name the profile an order really gets."""
    from engine.errors import UserError
    from engine.forecast import default_scenario
    from engine.studies_forecast import baseline_name

    try:
        name = baseline_name((s["name"] for s in store.scenarios()), store.baseline_name())
        profiles = store.scenario(name)["params"].get("vendor_uncertainty") if name else None
    except (UserError, ValueError, TypeError, KeyError, AttributeError):   # no baseline or a broken one
        profiles = None
    if isinstance(profiles, dict):
        return [str(v) for v in profiles]
    return list(default_scenario().vendor_uncertainty)


def _risk_order_ids(params_json: str) -> set[str]:
    """Order ids whose delivery risk a stored scenario sets: a whole scenario's `order_uncertainty`
    keys, or a what-if's changes `order_uncertainty.ID[.field]`."""
    try:
        params = json.loads(params_json or "{}")
        ids = {str(k) for k in (params.get("order_uncertainty") or {})}
        ids |= {str(k).split(".")[1] for k in (params.get("changes") or {}) if str(k).startswith("order_uncertainty.")}
        return ids
    except (ValueError, AttributeError, IndexError, TypeError):
        return set()


def _reused_id_warnings(conn, name: str, reused: list[tuple[int, int, str]]) -> list[str]:
    """A file that gives a deleted order's id makes that id another order: a saved what-if that
    set the deleted order's delivery risk (`order_uncertainty`) now applies to the new one (QA:
    "Order 1 certain", written for the 910B order, made an H20 order certain). Said, not refused:
    the same import restores a deleted order from an earlier export."""
    if not reused:
        return []
    out = []
    rows = conn.execute(f"select name, params from {SCENARIOS}").fetchall()
    for line, order_id, chip in reused:
        names = []
        for scenario, params in rows:
            if str(order_id) in _risk_order_ids(params):
                names.append(scenario)
        if names:
            listed = ", ".join(repr(n) for n in names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            out.append(f"{name} row {line}: id {order_id} belonged to a deleted order; the delivery risk that "
                       f"scenario {listed} sets for order {order_id} now applies to this {chip} order")
    return out


def iter_orders_with_deliveries(store, *, limit: int | None = None, offset: int = 0,
                                batch: int = 500) -> Iterator[tuple[dict, list[dict]]]:
    """(order row with `delivered`, its delivery rows) in list order, fetched a batch at a time, all
    from one state of the file (`read_snapshot`: another program's commit between two batches is
    in all of them or none)."""
    from engine.store.store import read_snapshot

    with read_snapshot(store.db.conn):
        yield from _orders_with_deliveries(store, limit, offset, batch)


def _orders_with_deliveries(store, limit, offset, batch):
    sql = (f"select o.*, coalesce((select sum(d.quantity) from {DELIVERIES} d where d.order_id = o.id), 0) "
           f"as delivered from {ORDERS} o order by o.order_date, o.id limit ? offset ?")
    cursor = store.db.conn.execute(sql, [-1 if limit is None else int(limit), int(offset)])
    names = [c[0] for c in cursor.description]
    while True:
        chunk = cursor.fetchmany(batch)
        if not chunk:
            return
        orders = [dict(zip(names, values)) for values in chunk]
        by_order: dict[int, list[dict]] = {}
        ids = [o["id"] for o in orders]
        marks = ", ".join("?" for _ in ids)
        dcur = store.db.conn.execute(
            f"select * from {DELIVERIES} where order_id in ({marks}) order by date, id", ids)
        dnames = [c[0] for c in dcur.description]
        for values in dcur:
            row = dict(zip(dnames, values))
            by_order.setdefault(row["order_id"], []).append(row)
        for order in orders:
            yield order, by_order.get(order["id"], [])


def export_orders(store, path, *, force: bool = False) -> int:
    """Every order with its deliveries to the CSV file `path` (with a UTF-8 byte order mark)."""
    with atomic_output(path, force=force, bom=True) as handle:
        return write_orders_csv(store, handle)


def write_orders_csv(store, handle, lineterminator: str = "\r\n") -> int:
    """Every order with its deliveries as an import file's CSV on an open text handle."""
    def rows():
        for order, deliveries in iter_orders_with_deliveries(store):
            cells = [order.get(k) for k in ORDER_FIELDS]
            notes = [d.get("note") or "" for d in deliveries]
            # blank only where a blank cell imports the same notes: blank was written for all-empty
            # notes, which came back as "imported" in another database
            exact = bool(notes) and any(n != IMPORTED_NOTE for n in notes)
            yield cells + [";".join(f"{d['date']}:{d['quantity']}" for d in deliveries),
                           json.dumps(notes, ensure_ascii=False) if exact else ""]

    return write_csv_rows(handle, ORDER_CSV_FIELDS, rows(), cell=_plain, lineterminator=lineterminator)


# ---- restoring a backup ----------------------------------------------------------------------
# Copying a backup over the database by hand kept the -wal a killed session had left beside it,
# and the next open replayed that -wal into the copy: another database's pages (the copy then
# malformed) or the killed session's last changes (an order deleted after the backup, deleted
# again). `restore` checks the backup, moves the file and its -wal/-shm/-journal aside under one
# timestamped name (recording which side files were the file's: files.record_moved_sides), and
# renames a checked copy of the backup onto the file's name.

RESTORED_ASIDE = files.RESTORED_ASIDE


@dataclass
class RestoreSummary:
    """What `restore_backup` did, for the CLI's line and JSON (and a window's status bar)."""

    backup: Path
    target: Path
    counts: dict[str, int]
    saved: Path | None = None          # the file it replaced, under its new name (None: there was none)
    shown_saved: Path | None = None    # `saved` as the user named the folder (beside a link's target: that)
    side_files: tuple[str, ...] = ()   # suffixes of the side files moved beside `saved` ("-wal", ...)
    replaced_file: bool = False        # a database file was there (else only side files, or nothing)
    note: str = ""                     # an older backup: the next open upgrades it
    applied: tuple[str, ...] = ()      # the backup's own side files applied to the copy restored
    record: Path | None = None         # files.record_moved_sides's record beside `saved`

    def as_dict(self) -> dict:
        data: dict = {"file": str(self.target), "backup": str(self.backup), **self.counts,
                      "saved": str(self.saved) if self.saved and self.replaced_file else None,
                      "moved_aside": [f"{self.saved}{s}" for s in self.side_files]}
        if self.record:
            data["sides_record"] = str(self.record)
        if self.applied:
            data["applied"] = [f"{self.backup}{s}" for s in self.applied]
        if self.note:
            data["note"] = self.note
        return data

    def text(self) -> str:
        counts = ", ".join(f"{n:,} {k}" for k, n in self.counts.items())
        text = f"restored {self.backup} to {self.target} ({counts})"
        for suffix in self.applied:
            what = ("with the changes in its -wal" if suffix == "-wal"
                    else "with the interrupted transaction in its -journal rolled back")
            text += f", {what} (applied to a copy; {self.backup.name}{suffix} is kept as it was)"
        sides = " and ".join(self.side_files)
        saved = self.shown_saved or self.saved
        if self.replaced_file:
            text += f"; the file it replaced is now {saved}" + (f", with its {sides}" if sides else "")
        elif sides:
            text += f"; the {sides} left beside it (no database file was there) moved to {saved}{self.side_files[0]}"
            text += "".join(f" and {saved}{s}" for s in self.side_files[1:])
        # the note is the restored file's (an older schema): said of it, not after the file set aside,
        # which has the current schema ("the file it replaced is now X (its schema is older ...)"; QA s39)
        return text.replace(f" to {self.target} ({counts})", f" to {self.target} ({counts}; {self.note})", 1) \
            if self.note else text


def _aside_name(path: Path) -> Path:
    """NAME.before-restore-YYYYmmdd-HHMMSS.db beside `path`, numbered when that (or one of its
    side files, or its record) exists: the file, its -wal and -shm move there together."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = path.suffix or ".db"
    name = path.with_name(f"{path.stem}.{RESTORED_ASIDE}-{stamp}{suffix}")
    for n in range(2, 1000):
        if not any(os.path.lexists(f"{name}{s}") for s in ("", *files.SIDE_SUFFIXES, files.SIDES_RECORD)):
            return name
        name = path.with_name(f"{path.stem}.{RESTORED_ASIDE}-{stamp}-{n}{suffix}")
    raise StoreError(f"{path}: too many earlier restores this second; nothing was changed")


def _backup_problem(source: Path, exc: StoreError, opened: Path) -> UserError:
    """The one line for a backup that can't be restored, from the store's message about it (about
    `opened`: the backup, or the copy its side files were applied to)."""
    text = str(exc).replace(str(opened), str(source))
    prefix = f"{source}: "
    reason = text[len(prefix):] if text.startswith(prefix) else text
    reason = reason.split("; it was left unchanged")[0]
    return UserError(f"{source}: can't be restored: {reason}; nothing was changed")


def _checked_backup(source: Path, scratch: Path) -> tuple[tuple[str, ...], Store]:
    """(the backup's side files applied to a copy of it, the backup (or that copy) opened read-only)
    after every check a database gets when it opens, SQLite's full integrity check and its
    foreign key check: a UserError in one line otherwise. A backup with side files `restore`
    recorded as its own is applied, on copies, in the folder `scratch` (made here)."""
    from engine.store.store import open_store

    try:
        info = os.stat(source)
    except FileNotFoundError:
        raise UserError(f"{source}: no such file; nothing was changed") from None
    except OSError as exc:
        raise UserError(f"{source}: can't be read ({exc.strerror or exc}); nothing was changed") from None
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        raise UserError(f"{source}: is empty, not a backup; nothing was changed")
    applied = tuple(files.backup_sides_to_apply(source))
    opened = source
    if applied:
        try:
            scratch.mkdir()
            opened = files.applied_copy(source, list(applied), scratch)
        except files.NotRecorded as exc:
            files.refuse_sides(source, list(applied), str(exc))
        except OSError as exc:
            raise UserError(f"{source}: can't be restored: its copy could not be made in {scratch.parent} "
                            f"({exc.strerror or exc}); nothing was changed") from None
        except sqlite3.Error as exc:
            raise UserError(f"{source}: can't be restored: applying {' and '.join(applied)} to a copy failed: the "
                            f"database is damaged ({exc}); nothing was changed") from None
    try:
        store = open_store(opened, read_only=True)
    except StoreError as exc:
        raise _backup_problem(source, exc, opened) from None
    try:
        conn = store._file_conn or store.db.conn   # the file's own pages (an older one is viewed in memory)
        try:
            status = [row[0] for row in conn.execute("PRAGMA integrity_check(5)")]
            orphans = conn.execute("PRAGMA foreign_key_check").fetchmany(1)
        except sqlite3.Error as exc:
            raise UserError(f"{source}: can't be restored: the database is damaged ({exc}); nothing was changed") from None
        if status != ["ok"]:
            shown = " ".join(" ".join(status).split())[:160]
            raise UserError(f"{source}: can't be restored: the database is damaged (integrity check: {shown}); "
                            "nothing was changed")
        if orphans:
            table, rowid, parent = orphans[0][:3]
            raise UserError(f"{source}: can't be restored: the database is damaged (table {table}, row {rowid}: "
                            f"refers to a missing {parent} row); nothing was changed")
    except BaseException:
        store.close()
        raise
    return applied, store


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def restore_backup(backup, db=None, *, force: bool = False) -> RestoreSummary:
    """Put the database in `backup` in place of the one at `db` (None: $FLEETCAST_DB or the
    default). The backup must pass every check an open makes plus SQLite's integrity and foreign
    key checks. An existing file (or a -wal/-shm/-journal left beside its name) is replaced only
    with `force`, and is first moved aside, side files and all, to NAME.before-restore-STAMP.db;
    a file another program has open is refused. The copy is made beside the file and renamed
    onto its name: the name holds the old database or the whole backup, never a part. A backup
    that `restore` itself moved aside with its -wal (going back) is restored with the -wal's
    changes, replayed into a copy of the two."""
    from engine.csv_io import temp_file_beside

    text = os.fsdecode(backup) if isinstance(backup, bytes) else os.fspath(backup)
    if not text.strip():
        raise UserError("restore: the backup file name is empty; give the backup to restore (BACKUP.db)")
    source = files.expand_user(text)
    path, is_default = files.resolve_db_path(db)
    real = Path(os.path.realpath(path))   # SQLite keeps the -wal and -shm beside the file a link names
    target = files.examine(real, create_folder=is_default)
    if files.is_open_here(real):
        raise StoreError(f"{path}: is open in this program; close it before restoring a backup over it; "
                         "nothing was changed")
    if os.path.exists(source) and target.existed and os.path.samefile(source, real):
        raise UserError(f"{source}: is the database itself; give the backup to restore; nothing was changed")
    if not os.access(real.parent, os.W_OK | os.X_OK):
        raise StoreError(f"{path}: its folder {real.parent} is not writable; nothing was changed")
    with files.held_against_others(real, path):   # (asked early: said before the backup's long check)
        pass
    present = target.existed or bool(target.side_files)
    if present and not force:
        aside = f"{real.stem}.{RESTORED_ASIDE}-DATE-TIME{real.suffix or '.db'}"
        if target.existed:
            raise UserError(f"{path}: exists; not replaced (pass --force to replace it: the file as it is, and its "
                            f"-wal and -shm if any, is kept beside it as {aside}); nothing was changed")
        sides = " and ".join(s for s in files.SIDE_SUFFIXES if s in target.side_files)
        raise UserError(f"{path}: has {sides} left beside its name (no database file); not restored (pass --force "
                        f"to move {'them' if ' and ' in sides else 'it'} aside, beside {aside}); nothing was changed")
    from engine.store.store import sweep_stale_temps

    sweep_stale_temps(real, ".restoring")   # a killed restore's copy, and its own copy's (QA s41)
    tmp = temp_file_beside(real, ".restoring")
    scratch = Path(f"{tmp}.d")   # (made only for a backup whose side files are applied)
    try:
        applied, store = _checked_backup(source, scratch)
        try:
            counts = {"chips": len(store.chip_rows()), "orders": store.order_count(),
                      "models": len(store.model_rows()), "scenarios": len(store.scenarios())}
            older = store.older_schema
            store._copy_into(tmp, replace=True)   # online backup, checked, synced
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{path}: the backup could not be copied beside it ({exc}); nothing was changed") from None
        finally:
            store.close()
        if target.existed:   # the database's permissions, not the backup's
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(os.stat(real).st_mode) | stat.S_IRUSR | stat.S_IWUSR)
        summary = RestoreSummary(source, path, counts, applied=applied,
                                 note=(f"its schema is older ({older}): the next open upgrades it and keeps a copy "
                                       "as it was") if older else "")
        with files.held_against_others(real, path):
            _swap_in(real, tmp, summary)
        if summary.saved is not None and os.path.realpath(path.parent) == os.fspath(real.parent):
            summary.shown_saved = path.parent / summary.saved.name
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        shutil.rmtree(scratch, ignore_errors=True)
    return summary


def _swap_in(real: Path, tmp: Path, summary: RestoreSummary) -> None:
    """Move the file and its side files aside (recording the -wal or -journal that was the file's,
    so that restoring it applies them), then rename `tmp` onto the file's name; undone when
    interrupted before that rename. The side files go first: the backup beside the old -wal is
    what this command exists to prevent."""
    sides = [s for s in files.SIDE_SUFFIXES if os.path.lexists(f"{real}{s}")]
    existed = os.path.lexists(real)
    if not existed and not sides:
        os.replace(tmp, real)
        _fsync_folder(real.parent)
        return
    saved = _aside_name(real)
    moved: list[str] = []
    kept_file = False
    record = None
    try:
        if existed:
            try:
                os.link(real, saved)   # the same bytes under a second name, nothing copied
            except OSError:   # a filesystem without hard links
                shutil.copy2(real, saved)
                with open(saved, "rb+") as handle:
                    os.fsync(handle.fileno())
            kept_file = True
        for suffix in sides:
            os.rename(f"{real}{suffix}", f"{saved}{suffix}")
            moved.append(suffix)
        if existed:
            record = files.record_moved_sides(saved, moved)
        os.replace(tmp, real)
    except BaseException as exc:
        for suffix in reversed(moved):   # as it was: the file with its side files
            with contextlib.suppress(OSError):
                os.rename(f"{saved}{suffix}", f"{real}{suffix}")
        for made in (files.sides_record(saved), saved) if kept_file else ():
            with contextlib.suppress(OSError):
                made.unlink()
        if isinstance(exc, OSError):
            raise StoreError(f"{real}: the backup could not be put in place ({exc.strerror or exc}); "
                             "nothing was changed") from None
        raise
    _fsync_folder(real.parent)
    summary.saved, summary.side_files, summary.replaced_file = saved, tuple(moved), existed
    summary.record = record
