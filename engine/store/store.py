"""Opening, migrating, seeding and editing the Fleetcast database.

Safety rules: foreign keys on every connection; WAL journal; every multi-row write inside one
transaction; validation before any write; a backup before migrating an older file; a file that is
not ours, damaged, newer or locked is never modified.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from engine.catalog import CHIP_FIELDS, chip_from_row, model_from_dict
from engine.errors import UserError, ValidationError
from engine.fleet import Delivery, Order, ScheduledLot
from engine.store import schema
from engine.store.schema import CALIBRATION, CHIPS, DELIVERIES, META, MODELS, ORDERS, SCENARIOS
from engine.validate import (
    ORDER_FIELDS, check_chip, check_chip_field, check_delivery, check_model, check_order, parse_float,
    parse_schedule, parse_text,
)

SQLITE_HEADER = b"SQLite format 3\x00"
APP_NAME = "fleetcast"
ORDER_CSV_FIELDS = ORDER_FIELDS + ("deliveries",)


class StoreError(UserError):
    """The database file can't be used as asked; the message names the file and what to do."""


def default_db_path() -> Path:
    env = os.environ.get("FLEETCAST_DB")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "fleetcast.db"


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0)
    else:
        conn = sqlite3.connect(str(path), timeout=2.0)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def open_store(path: str | os.PathLike | None = None, *, read_only: bool = False) -> "Store":
    """Open (creating and seeding if missing, migrating if older) the database at `path`."""
    path = Path(path).expanduser() if path else default_db_path()
    if path.is_dir():
        raise StoreError(f"{path}: is a folder, not a database file; give a file path with --db")
    existed = path.exists() and path.stat().st_size > 0
    if existed:
        try:
            with open(path, "rb") as handle:
                header = handle.read(16)
        except OSError as exc:
            raise StoreError(f"{path}: can't be read ({exc.strerror}); check its permissions") from None
        if header != SQLITE_HEADER:
            raise StoreError(f"{path}: not a Fleetcast database (not an SQLite file); it was left unchanged. "
                             "Open another file or create a new one with --db NEW.db")
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        notice = ""
        if not writable and not read_only:
            read_only, notice = True, "the file is read-only: opened for viewing, edits are disabled"
    else:
        if read_only:
            raise StoreError(f"{path}: does not exist (can't create it read-only)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path.parent}: can't create the data folder ({exc.strerror})") from None
        notice = ""
    try:
        conn = _connect(path, read_only)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: can't be opened ({exc}); it was left unchanged") from None
    try:
        store = Store._open(conn, path, read_only=read_only, existed=existed)
    except BaseException:
        conn.close()
        if not existed and path.exists() and not read_only:
            _remove_db_files(path)  # a half-created new file is never left behind
        raise
    store.notice = notice
    return store


def _remove_db_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            Path(str(path) + suffix).unlink()
        except FileNotFoundError:
            pass


class Store:
    """One open database. Use on the thread that opened it (SQLite's rule)."""

    def __init__(self, db: Database, path: Path, read_only: bool):
        self.db = db
        self.path = path
        self.read_only = read_only
        self.notice = ""
        self.backup_path: Path | None = None
        self._default_rows: list[dict] | None = None

    # ---- opening -----------------------------------------------------------------------------
    @classmethod
    def _open(cls, conn: sqlite3.Connection, path: Path, *, read_only: bool, existed: bool) -> "Store":
        try:
            status = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: the database is damaged ({exc}); it was left unchanged. "
                             "Restore a backup or open another file") from None
        if status != "ok":
            raise StoreError(f"{path}: the database is damaged (integrity check: {status}); it was left "
                             "unchanged. Restore a backup or open another file")
        db = Database(conn)
        store = cls(db, path, read_only)
        tables = set(db.table_names())
        applied = [m.name for m in schema.migrations.applied(db)] if schema.migrations.migrations_table in tables else []
        known = schema.known_migration_names()
        newer = [name for name in applied if name not in known]
        if newer:
            raise StoreError(f"{path}: written by a newer Fleetcast (schema {newer[-1]}); it was left "
                             "unchanged. Upgrade Fleetcast to open it")
        if tables and not applied:
            raise StoreError(f"{path}: an SQLite file but not a Fleetcast database; it was left unchanged. "
                             "Open another file or create a new one with --db NEW.db")
        pending = [name for name in known if name not in applied]
        if read_only:
            if pending:
                raise StoreError(f"{path}: needs an upgrade of its schema but is read-only; "
                                 "make it writable or copy it somewhere writable")
            return store
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError:
            raise StoreError(f"{path}: locked by another program (another Fleetcast?); close it and try "
                             "again, or open a copy") from None
        conn.execute("PRAGMA journal_mode = WAL")
        if pending and applied:
            store.backup_path = store._backup("pre-migration")
            try:
                schema.migrations.apply(db)
            except Exception as exc:
                raise StoreError(f"{path}: upgrading the schema failed ({exc}); the file was left as it was "
                                 f"and a backup is at {store.backup_path}") from None
        elif pending:
            schema.migrations.apply(db)
            from engine.store.seed import seed

            seed(store)
        return store

    def _backup(self, label: str) -> Path:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.stem}.{label}-{stamp}{self.path.suffix or '.db'}")
        with sqlite3.connect(str(target)) as dest:
            self.db.conn.backup(dest)
        dest.close()
        return target

    def close(self) -> None:
        try:
            self.db.conn.close()
        except sqlite3.Error:
            pass

    def _writable(self) -> None:
        if self.read_only:
            raise UserError(f"{self.path}: opened read-only; edits are disabled")

    # ---- chips -------------------------------------------------------------------------------
    def chip_rows(self) -> list[dict]:
        return [{k: row.get(k) for k in CHIP_FIELDS} for row in self.db[CHIPS].rows_where(order_by="vendor, name")]

    def _calibration_by_chip(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for row in self.db[CALIBRATION].rows:
            out.setdefault(row["chip_id"], {})[row["factor"]] = row["value"]
        return out

    def _effective_calibration(self, chip_row: dict, stored: dict[str, float]) -> dict[str, float]:
        # Packaged defaults (which improve with releases) overlaid by this database's own values
        # (user edits or fits), so an old database still benefits from better defaults.
        from engine.catalog import calibration_rows, resolve_calibration

        if self._default_rows is None:
            self._default_rows = calibration_rows()
        merged = resolve_calibration(chip_row, self._default_rows)
        merged.update(stored)
        return merged

    def chips(self) -> list:
        cal = self._calibration_by_chip()
        return [chip_from_row(row, self._effective_calibration(row, cal.get(row["id"], {})))
                for row in self.chip_rows()]

    def chip(self, chip_id: str):
        rows = list(self.db[CHIPS].rows_where("id = ?", [chip_id]))
        if not rows:
            raise UserError(f"chip '{chip_id}': not in the catalog (see `fleetcast chips list`)")
        cal = {r["factor"]: r["value"] for r in self.db[CALIBRATION].rows_where("chip_id = ?", [chip_id])}
        return chip_from_row(rows[0], self._effective_calibration(rows[0], cal))

    def _chip_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute(f"select id from {CHIPS}").fetchall()}

    def add_chip(self, row: dict, calibration: dict | None = None) -> None:
        self._writable()
        cleaned = check_chip(row)
        if cleaned["id"] in self._chip_ids():
            raise ValidationError([f"id: '{cleaned['id']}' (a chip with this id already exists)"])
        with self.db.atomic():
            self.db[CHIPS].insert(cleaned)
            self.db[CALIBRATION].insert_all(
                [{"chip_id": cleaned["id"], "factor": f, "value": v, "note": "given with the chip"}
                 for f, v in (calibration or {}).items()], replace=True)

    def update_chip(self, chip_id: str, field: str, value):
        self._writable()
        if field == "id":
            raise ValidationError(["id: can't be changed (orders refer to it); add a new chip instead"])
        old_row = self.db[CHIPS].get(chip_id)
        new_value = check_chip_field(field, value)
        check_chip({**{k: old_row.get(k) for k in CHIP_FIELDS}, field: new_value})
        with self.db.atomic():
            self.db[CHIPS].update(chip_id, {field: new_value})
        return old_row.get(field)

    def delete_chip(self, chip_id: str) -> dict:
        self._writable()
        count = self.db.execute(f"select count(*) from {ORDERS} where chip_id = ?", [chip_id]).fetchone()[0]
        if count:
            raise UserError(f"chip '{chip_id}': {count} order(s) use it; delete those orders first")
        row = dict(self.db[CHIPS].get(chip_id))
        calibration = list(self.db[CALIBRATION].rows_where("chip_id = ?", [chip_id]))
        with self.db.atomic():
            self.db[CALIBRATION].delete_where("chip_id = ?", [chip_id])
            self.db[CHIPS].delete(chip_id)
        return {"chip": row, "calibration": calibration}

    def restore_chip(self, snapshot: dict) -> None:
        self._writable()
        row = snapshot.get("chip", snapshot)
        with self.db.atomic():
            self.db[CHIPS].insert(row)
            self.db[CALIBRATION].insert_all(snapshot.get("calibration", []), replace=True)

    def calibration_rows(self, chip_id: str | None = None) -> list[dict]:
        """This database's own calibration values (user edits and fits), not the packaged defaults."""
        where, args = ("chip_id = ?", [chip_id]) if chip_id else (None, None)
        return list(self.db[CALIBRATION].rows_where(where, args, order_by="chip_id, factor"))

    def set_calibration(self, chip_id: str, factor: str, value, note: str = "") -> float | None:
        self._writable()
        self.chip(chip_id)
        factor = parse_text("factor", factor, required=True, limit=100)
        number = parse_float(factor, value, minimum=None, allow_blank=False)
        rows = list(self.db[CALIBRATION].rows_where("chip_id = ? and factor = ?", [chip_id, factor]))
        with self.db.atomic():
            self.db[CALIBRATION].upsert({"chip_id": chip_id, "factor": factor, "value": number, "note": note},
                                        pk=("chip_id", "factor"))
        return rows[0]["value"] if rows else None

    # ---- CSV helpers -------------------------------------------------------------------------
    @staticmethod
    def _read_csv(path) -> tuple[list[str], list[tuple[int, dict]]]:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise UserError(f"{path}: no such file") from None
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8") from None
        except OSError as exc:
            raise UserError(f"{path}: can't be read ({exc.strerror})") from None
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise UserError(f"{path}: empty file (expected a header row)")
        header = [h.strip() for h in reader.fieldnames]
        rows = []
        try:
            for row in reader:
                clean = {(k or "").strip(): v for k, v in row.items() if k is not None}
                if None in row:
                    clean["__extra__"] = row[None]
                if any((v or "").strip() for v in clean.values() if isinstance(v, str)):
                    rows.append((reader.line_num, clean))
        except csv.Error as exc:
            raise UserError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None
        return header, rows

    @staticmethod
    def _row_problems(path, line: int, exc: ValidationError, row: dict) -> list[str]:
        out = []
        for problem in exc.problems:
            field = problem.split(":", 1)[0]
            out.append(f"{Path(path).name} row {line}, column {field}: {problem.split(':', 1)[-1].strip()}")
        return out

    @staticmethod
    def _write_csv(path, fields, rows) -> int:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(fields), extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})
        os.replace(tmp, path)  # never a half-written export
        return len(rows)

    # ---- chips import/export -----------------------------------------------------------------
    def import_chips_csv(self, path) -> int:
        self._writable()
        header, rows = self._read_csv(path)
        problems = [f"{Path(path).name} header: column '{h}' is not a chip field" for h in header
                    if h not in CHIP_FIELDS]
        if "id" not in header:
            problems.append(f"{Path(path).name} header: missing the 'id' column")
        if problems:
            raise ValidationError(problems)
        cleaned, seen = [], {}
        current = {r["id"]: r for r in self.chip_rows()}
        for line, row in rows:
            if "__extra__" in row:
                problems.append(f"{Path(path).name} row {line}: more cells than header columns")
                continue
            try:
                # A chip already in the catalog keeps the columns this file doesn't have.
                base = current.get((row.get("id") or "").strip(), {})
                chip = check_chip({k: (row.get(k) if k in header else base.get(k)) for k in CHIP_FIELDS})
            except ValidationError as exc:
                problems.extend(self._row_problems(path, line, exc, row))
                continue
            if chip["id"] in seen:
                problems.append(f"{Path(path).name} row {line}, column id: '{chip['id']}' repeats row {seen[chip['id']]}")
            seen[chip["id"]] = line
            cleaned.append(chip)
        if problems:
            raise ValidationError(problems, context=f"{Path(path).name}: nothing imported")
        existing = self._chip_ids()
        with self.db.atomic():
            for chip in cleaned:
                if chip["id"] in existing:
                    self.db[CHIPS].update(chip["id"], chip)
                else:
                    self.db[CHIPS].insert(chip)
        return len(cleaned)

    def export_chips_csv(self, path) -> int:
        return self._write_csv(path, CHIP_FIELDS, self.chip_rows())

    # ---- orders ------------------------------------------------------------------------------
    def order_rows(self) -> list[dict]:
        sql = (f"select o.*, coalesce(sum(d.quantity), 0) as delivered from {ORDERS} o "
               f"left join {DELIVERIES} d on d.order_id = o.id group by o.id order by o.order_date, o.id")
        cursor = self.db.execute(sql)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, values)) for values in cursor.fetchall()]

    def delivery_rows(self, order_id: int | None = None) -> list[dict]:
        where, args = ("order_id = ?", [order_id]) if order_id is not None else (None, None)
        return [dict(r) for r in self.db[DELIVERIES].rows_where(where, args, order_by="date, id")]

    def orders(self) -> list[Order]:
        by_order: dict[int, list[Delivery]] = {}
        for row in self.delivery_rows():
            by_order.setdefault(row["order_id"], []).append(Delivery(
                id=row["id"], order_id=row["order_id"], date=dt.date.fromisoformat(row["date"]),
                quantity=row["quantity"], note=row.get("note") or ""))
        out = []
        for row in self.order_rows():
            lots = tuple(ScheduledLot(d, q) for d, q in parse_schedule("promised", row.get("promised")))
            out.append(Order(
                id=row["id"], buyer=row["buyer"], vendor=row["vendor"], chip_id=row["chip_id"],
                quantity=row["quantity"], order_date=dt.date.fromisoformat(row["order_date"]),
                promised=lots, price_usd_per_chip=row.get("price_usd_per_chip"),
                status=row.get("status") or "assumption", source=row.get("source") or "",
                note=row.get("note") or "", deliveries=tuple(by_order.get(row["id"], ()))))
        return out

    def _order(self, order_id: int) -> dict:
        try:
            return dict(self.db[ORDERS].get(order_id))
        except Exception:
            raise UserError(f"order {order_id}: no such order") from None

    def _delivered(self, order_id: int, excluding: int | None = None) -> tuple[int, dt.date | None]:
        rows = [r for r in self.delivery_rows(order_id) if r["id"] != excluding]
        first = min((dt.date.fromisoformat(r["date"]) for r in rows), default=None)
        return sum(r["quantity"] for r in rows), first

    def add_order(self, row: dict) -> int:
        self._writable()
        cleaned = check_order(row, known_chip_ids=self._chip_ids())
        if row.get("id") not in (None, ""):
            cleaned["id"] = int(row["id"])
        with self.db.atomic():
            return self.db[ORDERS].insert(cleaned).last_pk

    def update_order(self, order_id: int, field: str, value):
        self._writable()
        if field not in ORDER_FIELDS or field == "id":
            raise ValidationError([f"{field}: not an editable order field"])
        current = self._order(order_id)
        delivered, first = self._delivered(order_id)
        merged = {**current, field: value}
        cleaned = check_order(merged, known_chip_ids=self._chip_ids(), delivered=delivered, first_delivery=first)
        with self.db.atomic():
            self.db[ORDERS].update(order_id, {field: cleaned[field]})
        return current.get(field)

    def delete_order(self, order_id: int) -> dict:
        self._writable()
        snapshot = {"order": self._order(order_id), "deliveries": self.delivery_rows(order_id)}
        with self.db.atomic():  # deliveries go with their order: no orphans
            self.db[DELIVERIES].delete_where("order_id = ?", [order_id])
            self.db[ORDERS].delete(order_id)
        return snapshot

    def restore_order(self, snapshot: dict) -> None:
        self._writable()
        with self.db.atomic():
            self.db[ORDERS].insert(snapshot["order"])
            if snapshot.get("deliveries"):
                self.db[DELIVERIES].insert_all(snapshot["deliveries"])

    def add_delivery(self, row: dict) -> int:
        self._writable()
        order_id = row.get("order_id")
        try:
            order_id = int(order_id)
        except (TypeError, ValueError):
            raise ValidationError([f"order_id: {order_id!r} (not an order number)"]) from None
        order = self._order(order_id)
        delivered, _ = self._delivered(order_id)
        cleaned = check_delivery(row, order_date=dt.date.fromisoformat(order["order_date"]),
                                 outstanding=order["quantity"] - delivered)
        cleaned["order_id"] = order_id
        if row.get("id") not in (None, ""):
            cleaned["id"] = int(row["id"])
        with self.db.atomic():
            return self.db[DELIVERIES].insert(cleaned).last_pk

    def update_delivery(self, delivery_id: int, field: str, value):
        self._writable()
        if field not in ("date", "quantity", "note"):
            raise ValidationError([f"{field}: not an editable delivery field"])
        current = dict(self.db[DELIVERIES].get(delivery_id))
        order = self._order(current["order_id"])
        delivered, _ = self._delivered(order["id"], excluding=delivery_id)
        cleaned = check_delivery({**current, field: value}, order_date=dt.date.fromisoformat(order["order_date"]),
                                 outstanding=order["quantity"] - delivered)
        with self.db.atomic():
            self.db[DELIVERIES].update(delivery_id, {field: cleaned[field]})
        return current.get(field)

    def delete_delivery(self, delivery_id: int) -> dict:
        self._writable()
        row = dict(self.db[DELIVERIES].get(delivery_id))
        with self.db.atomic():
            self.db[DELIVERIES].delete(delivery_id)
        return row

    def restore_delivery(self, row: dict) -> None:
        self._writable()
        with self.db.atomic():
            self.db[DELIVERIES].insert(row)

    # ---- orders import/export ----------------------------------------------------------------
    def import_orders_csv(self, path) -> int:
        """Orders with their deliveries ('deliveries' column, DATE:QTY;...). All or nothing."""
        self._writable()
        name = Path(path).name
        header, rows = self._read_csv(path)
        problems = [f"{name} header: column '{h}' is not an order field" for h in header if h not in ORDER_CSV_FIELDS]
        missing = [f for f in ("buyer", "vendor", "chip_id", "quantity", "order_date") if f not in header]
        problems += [f"{name} header: missing the '{f}' column" for f in missing]
        if problems:
            raise ValidationError(problems)
        chip_ids = self._chip_ids()
        existing_ids = {r[0] for r in self.db.execute(f"select id from {ORDERS}").fetchall()}
        plan = []
        for line, row in rows:
            if "__extra__" in row:
                problems.append(f"{name} row {line}: more cells than header columns")
                continue
            try:
                lots = parse_schedule("deliveries", row.get("deliveries"))
                delivered = sum(q for _, q in lots)
                first = lots[0][0] if lots else None
                order = check_order(row, known_chip_ids=chip_ids, delivered=delivered, first_delivery=first)
                if row.get("id") not in (None, ""):
                    order["id"] = int(float(row["id"]))
            except ValidationError as exc:
                problems.extend(self._row_problems(path, line, exc, row))
                continue
            except ValueError:
                problems.append(f"{name} row {line}, column id: '{row.get('id')}' (not a whole number)")
                continue
            plan.append((order, lots))
        if problems:
            raise ValidationError(problems, context=f"{name}: nothing imported")
        with self.db.atomic():
            for order, lots in plan:
                if order.get("id") in existing_ids:
                    self.db[DELIVERIES].delete_where("order_id = ?", [order["id"]])
                    self.db[ORDERS].update(order["id"], order)
                    order_id = order["id"]
                else:
                    order_id = self.db[ORDERS].insert(order).last_pk
                self.db[DELIVERIES].insert_all(
                    [{"order_id": order_id, "date": d.isoformat(), "quantity": q, "note": "imported"}
                     for d, q in lots])
        return len(plan)

    def export_orders_csv(self, path) -> int:
        deliveries: dict[int, list[str]] = {}
        for row in self.delivery_rows():
            deliveries.setdefault(row["order_id"], []).append(f"{row['date']}:{row['quantity']}")
        rows = [{**r, "deliveries": ";".join(deliveries.get(r["id"], []))} for r in self.order_rows()]
        return self._write_csv(path, ORDER_CSV_FIELDS, rows)

    # ---- models ------------------------------------------------------------------------------
    def model_rows(self) -> list[dict]:
        return [dict(r) for r in self.db[MODELS].rows_where(order_by="id")]

    @staticmethod
    def _model_of(row: dict):
        data = dict(row)
        data["gated_ffn"] = bool(data.get("gated_ffn"))
        data["tied_embeddings"] = bool(data.get("tied_embeddings"))
        for key, value in list(data.items()):
            if value is None and key not in ("params_b_reported",):
                data[key] = "" if key in ("source", "name") else 0
        return model_from_dict(data)

    def models(self) -> list:
        return [self._model_of(r) for r in self.model_rows()]

    def model(self, model_id: str):
        rows = list(self.db[MODELS].rows_where("id = ?", [model_id]))
        if not rows:
            raise UserError(f"model '{model_id}': no such preset (see `fleetcast models list`)")
        return self._model_of(rows[0])

    def save_model(self, model) -> None:
        """Insert or replace a preset (validated)."""
        self._writable()
        from dataclasses import asdict

        model = check_model(asdict(model))
        row = asdict(model)
        row["gated_ffn"] = int(row["gated_ffn"])
        row["tied_embeddings"] = int(row["tied_embeddings"])
        with self.db.atomic():
            self.db[MODELS].insert(row, replace=True)

    def delete_model(self, model_id: str) -> dict:
        self._writable()
        self.model(model_id)
        row = dict(self.db[MODELS].get(model_id))
        with self.db.atomic():
            self.db[MODELS].delete(model_id)
        return row

    def restore_model(self, row: dict) -> None:
        self._writable()
        with self.db.atomic():
            self.db[MODELS].insert(row, replace=True)

    # ---- scenarios ---------------------------------------------------------------------------
    # A scenario other than the baseline is stored as {"base": BASELINE, "changes": {path: value}}
    # (engine.scenario_changes) and read back resolved: it follows later edits of the baseline.
    BASELINE_KEY = "baseline_scenario"

    def baseline_name(self) -> str | None:
        name = self.meta(self.BASELINE_KEY)
        return name if name and self._raw_scenario(name) is not None else None

    def _raw_scenario(self, name: str) -> dict | None:
        rows = list(self.db[SCENARIOS].rows_where("name = ?", [name]))
        return json.loads(rows[0]["params"]) if rows else None

    @staticmethod
    def _is_derived(raw) -> bool:
        return isinstance(raw, dict) and set(raw) == {"base", "changes"} and isinstance(raw["changes"], dict)

    def _resolve(self, name: str, raw: dict, depth: int = 0) -> tuple[dict, str | None, dict]:
        from engine.scenario_changes import apply_changes

        if not self._is_derived(raw):
            return raw, None, {}
        base_raw = self._raw_scenario(raw["base"]) if depth < 8 else None
        base_params = self._resolve(raw["base"], base_raw, depth + 1)[0] if base_raw is not None else {}
        params = apply_changes(base_params, raw["changes"])
        if "name" in params:
            params["name"] = name
        return params, raw["base"], dict(raw["changes"])

    def _scenario_dict(self, row: dict) -> dict:
        params, base, changes = self._resolve(row["name"], json.loads(row["params"]))
        return {"name": row["name"], "params": params, "updated_at": row["updated_at"], "base": base,
                "changes": changes}

    def scenarios(self) -> list[dict]:
        """Every scenario, resolved; `base` and `changes` say how a what-if differs from its baseline."""
        return [self._scenario_dict(r) for r in self.db[SCENARIOS].rows_where(order_by="name")]

    def scenario(self, name: str) -> dict:
        rows = list(self.db[SCENARIOS].rows_where("name = ?", [name]))
        if not rows:
            names = ", ".join(s["name"] for s in self.scenarios()) or "none saved"
            raise UserError(f"scenario '{name}': not found (saved: {names})")
        return self._scenario_dict(rows[0])

    def _stored_form(self, name: str, params: dict) -> dict:
        """What to write for `params`: the changes from the baseline, or the whole (baseline itself)."""
        from engine.scenario_changes import diff_params

        base = self.baseline_name()
        if base is None or base == name or self._is_derived(params):
            return params
        return {"base": base, "changes": diff_params(self.scenario(base)["params"], params)}

    def save_scenario(self, name: str, params: dict) -> None:
        self._writable()
        name = parse_text("name", name, required=True, limit=200)
        try:
            json.dumps(params, allow_nan=False)
            text = json.dumps(self._stored_form(name, params), allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValidationError([f"params: not storable as JSON ({exc})"]) from None
        with self.db.atomic():
            self.db[SCENARIOS].insert({"name": name, "params": text, "updated_at": _now()}, replace=True)

    def set_baseline(self, name: str) -> None:
        """Make `name` the baseline that new what-ifs are stored against (existing ones keep theirs)."""
        self.scenario(name)
        self.set_meta(self.BASELINE_KEY, name)

    def rename_scenario(self, old: str, new: str) -> None:
        self._writable()
        new = parse_text("name", new, required=True, limit=200)
        if new == old:
            return
        if list(self.db[SCENARIOS].rows_where("name = ?", [new])):
            raise ValidationError([f"name: '{new}' (a scenario with this name already exists)"])
        raw = self._raw_scenario(old)
        if raw is None:
            raise UserError(f"scenario '{old}': not found")
        with self.db.atomic():
            self.db[SCENARIOS].delete(old)
            self.db[SCENARIOS].insert({"name": new, "params": json.dumps(raw, sort_keys=True),
                                       "updated_at": _now()})
            for row in list(self.db[SCENARIOS].rows):  # what-ifs follow their baseline's new name
                other = json.loads(row["params"])
                if self._is_derived(other) and other["base"] == old:
                    other["base"] = new
                    self.db[SCENARIOS].update(row["name"], {"params": json.dumps(other, sort_keys=True)})
            if self.meta(self.BASELINE_KEY) == old:
                self.db[META].insert({"key": self.BASELINE_KEY, "value": new}, replace=True)

    def delete_scenario(self, name: str) -> dict:
        """Delete `name`; what-ifs built on it are first written out in full, so none changes."""
        self._writable()
        row = dict(self.db[SCENARIOS].get(name)) if list(self.db[SCENARIOS].rows_where("name = ?", [name])) else None
        if row is None:
            raise UserError(f"scenario '{name}': not found")
        dependents = [s for s in self.scenarios() if s["base"] == name]
        with self.db.atomic():
            for dep in dependents:
                self.db[SCENARIOS].update(dep["name"], {"params": json.dumps(dep["params"], sort_keys=True)})
            self.db[SCENARIOS].delete(name)
        if self.meta(self.BASELINE_KEY) == name:
            row["was_baseline"] = True
        return row

    def restore_scenario(self, row: dict) -> None:
        self._writable()
        row = dict(row)
        was_baseline = row.pop("was_baseline", False)
        with self.db.atomic():
            self.db[SCENARIOS].insert(row, replace=True)
            if was_baseline:
                self.db[META].insert({"key": self.BASELINE_KEY, "value": row["name"]}, replace=True)

    # ---- whole-table snapshots (undo of bulk changes) ---------------------------------------
    SNAPSHOT_TABLES = (CHIPS, CALIBRATION, ORDERS, DELIVERIES)

    def snapshot_tables(self) -> dict[str, list[dict]]:
        """Every row of the catalog and order tables, to undo a bulk change such as an import."""
        return {t: [dict(r) for r in self.db[t].rows] for t in self.SNAPSHOT_TABLES}

    def restore_tables(self, snapshot: dict[str, list[dict]]) -> None:
        """Put the tables back exactly as in `snapshot`, in one transaction."""
        self._writable()
        with self.db.atomic():
            for table in (DELIVERIES, ORDERS, CALIBRATION, CHIPS):  # children first (foreign keys)
                self.db.execute(f"delete from {table}")
            for table in (CHIPS, CALIBRATION, ORDERS, DELIVERIES):
                if snapshot.get(table):
                    self.db[table].insert_all(snapshot[table])

    # ---- meta --------------------------------------------------------------------------------
    def meta(self, key: str, default: str | None = None) -> str | None:
        rows = list(self.db[META].rows_where("key = ?", [key]))
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        self._writable()
        with self.db.atomic():
            self.db[META].insert({"key": key, "value": value}, replace=True)

    def table_counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in schema.ALL_TABLES}
