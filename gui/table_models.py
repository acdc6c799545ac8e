"""Table models over store rows (plain dicts). Units live in the headers.

A model never writes to the store itself: an edit calls `edit_handler(key, field, text, shown)`,
which the panel wires to an undo command; the handler returns False (and shows the store's
message) when the value is refused, so the cell keeps its old value. An edit that leaves the
stored value as it is ("100,000" over 100000) pushes nothing and calls
`unchanged_handler(key, field)` instead (the panel clears a refusal of that cell).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from PySide6.QtCore import (
    QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt,
)
from PySide6.QtGui import QBrush, QColor

from engine.validate import cell_float

SORT_ROLE = Qt.ItemDataRole.UserRole
ROW_KEY_ROLE = Qt.ItemDataRole.UserRole + 1

# (key, field, text typed, the value the cell held when its editor opened): an edit is refused
# where the store no longer holds that value (another program wrote it meanwhile)
EditHandler = Callable[[object, str, str, object], bool]
UnchangedHandler = Callable[[object, str], None]


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: str = "text"  # text | int | float | date
    editable: bool = True
    tooltip: str = ""
    long_text: bool = False  # elided in the cell, whole text in the tooltip
    grouping: bool = True  # thousands separators (not for years)

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")


def _display(value, column: Column) -> str:
    if value is None or value == "":
        return ""
    if column.kind == "int":
        try:
            return f"{int(value):,}" if column.grouping else str(int(value))
        except (TypeError, ValueError):
            return str(value)
    if column.kind == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        if not math.isfinite(number):
            return ""
        if number.is_integer() and abs(number) < 1e15:
            return f"{int(number):,}"
        if abs(number) >= 1e6:   # 6 significant figures read "1.23457e+06" for a price of 1234567.5 (QA s37)
            return f"{number:,.0f}"
        return f"{number:,.6g}" if abs(number) >= 1 else f"{number:.4g}"
    text = str(value)
    if column.long_text:
        first = text.splitlines()[0] if text else ""
        return first if len(first) <= 60 else first[:59] + "…"
    return text


def edit_text(value) -> str:
    """A stored value as a cell's editor shows it (100000.0 as "100000")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def same_value(stored, typed, column: Column) -> bool:
    """Whether `typed` (a cell's edited text) means the value stored: a number column compares
    numbers ("100,000" and "1e5" are 100000: re-entering one pushed an undo step that changed
    nothing), other columns their text."""
    if edit_text(stored) == edit_text(typed):
        return True
    if not column.numeric or stored in (None, "") or typed in (None, ""):
        return False
    try:
        typed_number = cell_float(typed) if isinstance(typed, str) else float(typed)
        return float(stored) == typed_number
    except (TypeError, ValueError):
        return False


def _wrap(text: str, width: int = 90) -> str:
    import html
    import textwrap

    lines = []
    for paragraph in str(text).splitlines() or [""]:
        lines += textwrap.wrap(paragraph, width) or [""]
    return "<p style='white-space:pre-wrap'>" + html.escape("\n".join(lines)) + "</p>"


class RowTableModel(QAbstractTableModel):
    """Rows are dicts keyed by column; `key_field` identifies a row across refreshes."""

    columns: tuple[Column, ...] = ()
    key_field = "id"
    row_tooltip_field: str | None = None

    def __init__(self, rows: Sequence[dict] = (), parent=None):
        super().__init__(parent)
        self._rows: list[dict] = [dict(r) for r in rows]
        self.edit_handler: EditHandler | None = None
        self.unchanged_handler: UnchangedHandler | None = None
        # (row key, field) -> the value the cell held when its editor read it: a refresh from
        # another program's write under an open editor left the old value on screen behind the
        # typing, and Enter wrote over the newer one without a word (QA s39)
        self._opened: dict = {}

    def note_opened(self, index) -> None:
        """An editor was given this cell's value (KeepTypingDelegate): what a later edit of it is
        checked against. Not on every EditRole read: the filter and Ctrl+C read it too, and a
        refresh under an open editor with a filter typed recorded the newer value (QA s39)."""
        if index.isValid() and 0 <= index.row() < len(self._rows) and 0 <= index.column() < len(self.columns):
            row = self._rows[index.row()]
            column = self.columns[index.column()]
            self._opened[(row.get(self.key_field), column.key)] = row.get(column.key)

    # ---- content -----------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[dict]) -> None:
        """Replace the content. Same keys in the same order: update in place (keeps selection)."""
        rows = [dict(r) for r in rows]
        same_keys = [r.get(self.key_field) for r in rows] == [r.get(self.key_field) for r in self._rows]
        if same_keys:
            # the cells that changed, each on its own: one signal over whole rows set every open
            # editor in them back to the stored value, so another program's edit to an order's
            # quantity wiped the note the user was typing in that row (QA s34)
            cells = [(i, j) for i, (old, new) in enumerate(zip(self._rows, rows)) if old != new
                     for j, c in enumerate(self.columns) if old.get(c.key) != new.get(c.key)]
            self._rows = rows
            for i, j in cells:
                self.dataChanged.emit(self.index(i, j), self.index(i, j))
            return
        if self._insert_or_remove(rows):
            self.set_rows(rows)   # the same keys now: the changed cells
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def _insert_or_remove(self, rows: list[dict]) -> bool:
        """Rows only added or only removed, the others in the same order: done row by row, so an
        open editor on a row that stays keeps its typing (a reset closed it: another program
        adding an order lost the note being typed, QA s34). False when the keys moved otherwise."""
        old = [r.get(self.key_field) for r in self._rows]
        new = [r.get(self.key_field) for r in rows]
        if not old or not new or len(set(old)) != len(old) or len(set(new)) != len(new):
            return False   # (from or to empty: a reset, on which the table fits its columns)
        kept, staying = set(old), set(new)   # (once: a set per row made it quadratic in the rows)
        # each run of adjacent rows in one insert or removal: row by row, the view's sort proxy re-sorted
        # on every one, and 5,000 imported orders took 114 s in the window where the store took 2 (QA s40)
        if len(new) > len(old) and [k for k in new if k in kept] == old:
            i = 0
            while i < len(new):
                if new[i] in kept:
                    i += 1
                    continue
                end = i
                while end + 1 < len(new) and new[end + 1] not in kept:
                    end += 1
                self.beginInsertRows(QModelIndex(), i, end)
                self._rows[i:i] = [dict(row) for row in rows[i:end + 1]]
                self.endInsertRows()
                i = end + 1
            return True
        if len(new) < len(old) and [k for k in old if k in staying] == new:
            gone = kept - staying
            i = len(old) - 1
            while i >= 0:
                if old[i] not in gone:
                    i -= 1
                    continue
                start = i
                while start - 1 >= 0 and old[start - 1] in gone:
                    start -= 1
                self.beginRemoveRows(QModelIndex(), start, i)
                del self._rows[start:i + 1]
                self.endRemoveRows()
                i = start - 1
            return True
        return False

    def rows(self) -> list[dict]:
        return [dict(r) for r in self._rows]

    def row_dict(self, row: int) -> dict:
        return dict(self._rows[row])

    def key_at(self, row: int):
        return self._rows[row].get(self.key_field)

    def row_of_key(self, key) -> int:
        for i, r in enumerate(self._rows):
            if r.get(self.key_field) == key:
                return i
        return -1

    def column_of(self, key: str) -> int:
        for i, c in enumerate(self.columns):
            if c.key == key:
                return i
        raise KeyError(key)

    # ---- Qt model API ------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            column = self.columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return column.header
            if role == Qt.ItemDataRole.ToolTipRole:
                return column.tooltip or column.header
            if role == Qt.ItemDataRole.TextAlignmentRole and column.long_text:
                # at the left, where the column starts: centred in a wide text column the name sat
                # past the pane's edge at 1280x720 ("Note" of the deliveries)
                return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        elif orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not (0 <= index.row() < len(self._rows)) \
                or not (0 <= index.column() < len(self.columns)):
            return None
        row = self._rows[index.row()]
        column = self.columns[index.column()]
        value = row.get(column.key)
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(value, column)
        if role == Qt.ItemDataRole.EditRole:
            return edit_text(value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column, value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column.numeric:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(row, column)
        if role == SORT_ROLE:
            if column.numeric:
                try:
                    return float(value)
                except (TypeError, ValueError):
                    return -math.inf  # blanks sort first
            return "" if value is None else str(value).lower()
        if role == ROW_KEY_ROLE:
            return row.get(self.key_field)
        return None

    def _tooltip(self, row: dict, column: Column, value) -> str | None:
        if column.long_text:
            return _wrap(value) if value else f"No {column.header.lower()} recorded."
        if value in (None, ""):
            return f"{column.header}: blank"
        return f"{column.header}: {edit_text(value)}"

    def _foreground(self, row: dict, column: Column):
        return None

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        if self.edit_handler is not None and self.columns[index.column()].editable:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or self.edit_handler is None:
            return False
        column = self.columns[index.column()]
        if not column.editable:
            return False
        row = self._rows[index.row()]
        text = value.strip() if isinstance(value, str) else value
        shown = self._opened.pop((row.get(self.key_field), column.key), row.get(column.key))
        if same_value(row.get(column.key), text, column):
            if self.unchanged_handler is not None:   # unchanged: no undo entry
                self.unchanged_handler(row.get(self.key_field), column.key)
            return True
        return bool(self.edit_handler(row.get(self.key_field), column.key, text, shown))


# ---- concrete models ------------------------------------------------------------------------

_PEAK = "Dense peak (no sparsity), as published by the vendor."


class ChipTableModel(RowTableModel):
    columns = (
        Column("id", "ID", editable=False, tooltip="Catalog id; orders refer to it, so it can't change"),
        Column("vendor", "Vendor"),
        Column("name", "Name"),
        # beside the name: a copy of a catalog chip under another id takes its calibration only by this
        Column("calibrate_as", "Calibrate as", tooltip="the catalog chip whose calibration this chip takes, "
               "e.g. h100-sxm5-80gb for a copy of it; blank: by its id"),
        Column("year", "Year", "int", tooltip="Year of first availability", grouping=False),
        Column("bf16_tflops", "BF16 (TFLOP/s)", "float", tooltip=_PEAK),
        Column("fp16_tflops", "FP16 (TFLOP/s)", "float", tooltip=_PEAK),
        Column("fp8_tflops", "FP8 (TFLOP/s)", "float", tooltip=_PEAK),
        Column("int8_tops", "INT8 (TOP/s)", "float", tooltip=_PEAK),
        Column("fp4_tflops", "FP4 (TFLOP/s)", "float", tooltip=_PEAK + " Blank: the chip has no FP4 rate, and "
               "FP4 weights run weight-only (dequantised to 16-bit GEMMs)"),
        Column("tf32_tflops", "TF32 (TFLOP/s)", "float", tooltip=_PEAK),
        Column("fp32_tflops", "FP32 (TFLOP/s)", "float", tooltip="Dense FP32 peak (non-tensor)"),
        Column("hbm_gb", "HBM (GiB)", "float", tooltip="High-bandwidth memory per chip as the vendor labels it "
               "(\"80 GB\" on an H100), counted as GiB (2^30 bytes) by every engine: the HBM actually fitted"),
        Column("hbm_gbps", "HBM BW (GB/s)", "float", tooltip="Memory bandwidth per chip, decimal GB/s"),
        Column("scaleup_name", "Scale-up link", tooltip="NVLink / HCCS / ICI …: the link's name (its shape is "
               "the next column)"),
        Column("scaleup_topology", "Scale-up topology", tooltip="switch (NVSwitch: every chip at its full "
               "bandwidth), mesh (per-pair links: a TP2 group gets one link, as HCCS in an 8-chip 910B server), or "
               "torus (TPU ICI); blank: switch"),
        Column("scaleup_link_gbps", "Per-pair link (GB/s/dir)", "float", tooltip="On a mesh or torus, one link's "
               "bandwidth between two chips in each direction; blank: the scale-up bandwidth over the links"),
        Column("scaleup_gbps", "Scale-up (GB/s/dir)", "float",
               tooltip="Scale-up bandwidth per chip, GB/s in each direction (not the bidirectional sum)"),
        Column("scaleup_domain", "Scale-up domain (chips)", "int",
               tooltip="Chips that share the scale-up fabric at full bandwidth"),
        Column("chips_per_node", "Chips per node", "int"),
        Column("scaleout_gbps", "Scale-out (GB/s/dir)", "float",
               tooltip="Scale-out NIC bandwidth per chip, GB/s in each direction"),
        Column("scaleout_oversubscription", "Scale-out oversubscription", "float", tooltip="The fabric's "
               "oversubscription above the node, at least 1 (1: non-blocking; 2: half the NIC rate across it); "
               "blank: 1"),
        Column("tdp_w", "TDP (W)", "float", tooltip="Board power per chip"),
        Column("price_usd", "Price (USD)", "float", tooltip="Indicative unit price; often a press estimate"),
        Column("china_market", "China market", tooltip="yes / restricted / no"),
        Column("confidence", "Confidence", tooltip="How well sourced the row is: high / medium / low"),
        Column("sources", "Sources", long_text=True, tooltip="Where each figure comes from"),
        Column("notes", "Notes", long_text=True, tooltip="Conversions, conventions and caveats"),
    )

    def _foreground(self, row, column):
        if column.key == "confidence" and row.get("confidence") == "low":
            return QBrush(QColor("#a15c00"))
        return None


def promised_text(schedule) -> str:
    """'2024-07-01:30000;2024-10-01:35000' as '2024-07-01: 30,000 · 2024-10-01: 35,000' (readable;
    the cell's editor keeps the DATE:QTY;DATE:QTY form the importer reads)."""
    parts = []
    for lot in str(schedule or "").split(";"):
        day, _, qty = lot.strip().partition(":")
        try:
            parts.append(f"{day.strip()}: {int(float(qty)):,}")
        except ValueError:
            return str(schedule or "")
    return " · ".join(p for p in parts if p.strip(": "))


class OrderTableModel(RowTableModel):
    columns = (
        Column("id", "ID", "int", editable=False, grouping=False),
        Column("buyer", "Buyer"),
        Column("vendor", "Vendor"),
        Column("chip_id", "Chip", tooltip="The chip ordered (edit by catalog id)"),
        Column("quantity", "Quantity (chips)", "int"),
        Column("delivered", "Delivered (chips)", "int", editable=False,
               tooltip="Sum of this order's deliveries (edit them below)"),
        Column("order_date", "Ordered (date)", "date", tooltip="ISO date, YYYY-MM-DD"),
        Column("promised", "Promised (date:chips; …)", tooltip="Promised schedule, e.g. 2024-07-01:10000;2024-10-01:20000"),
        Column("price_usd_per_chip", "Price (USD/chip)", "float"),
        Column("status", "Status", tooltip="sourced (public figures), partial, or assumption (placeholder numbers)"),
        Column("source", "Source", long_text=True),
        Column("note", "Note", long_text=True),
    )

    chip_names: dict = {}  # chip id -> display name (the Fleet view sets it); edits keep the id

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        # the cell shows the chip's name: typing a name it shows ("H20") means that chip's id
        # (it was refused as "chip_id: 'H20' (use lower-case letters ...)")
        if role == Qt.ItemDataRole.EditRole and index.isValid() and isinstance(value, str) \
                and self.columns[index.column()].key == "chip_id":
            by_name = {str(name).strip().lower(): chip_id for chip_id, name in self.chip_names.items()}
            value = by_name.get(value.strip().lower(), value)
        return super().setData(index, value, role)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and index.isValid() and 0 <= index.column() < len(self.columns) \
                and self.columns[index.column()].key == "chip_id" and 0 <= index.row() < len(self._rows):
            chip_id = self._rows[index.row()].get("chip_id")
            return self.chip_names.get(chip_id, chip_id)
        if role == Qt.ItemDataRole.DisplayRole and index.isValid() and 0 <= index.column() < len(self.columns) \
                and self.columns[index.column()].key == "promised" and 0 <= index.row() < len(self._rows):
            return promised_text(self._rows[index.row()].get("promised"))   # edits keep DATE:QTY;...
        return super().data(index, role)

    def _foreground(self, row, column):
        if row.get("status") == "assumption" and column.key == "status":
            return QBrush(QColor("#a15c00"))
        return None


class DeliveryTableModel(RowTableModel):
    columns = (
        Column("id", "ID", "int", editable=False, grouping=False),
        Column("date", "Delivered on (date)", "date", tooltip="ISO date, YYYY-MM-DD"),
        Column("quantity", "Quantity (chips)", "int"),
        Column("note", "Note", long_text=True),
    )


class TableFilterProxy(QSortFilterProxyModel):
    """Case-insensitive filter over every column; numeric sort via SORT_ROLE."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)
        self.setFilterRole(Qt.ItemDataRole.DisplayRole)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        if super().filterAcceptsRow(source_row, source_parent):
            return True
        # also the stored text behind a cell shown by another name: an order's chip shows as
        # "Ascend 910B2", and filtering by its id "ascend-910b2" (as the CLI prints it) found nothing
        wanted, model = self.filterRegularExpression(), self.sourceModel()
        return any(wanted.match(str(model.data(model.index(source_row, c, source_parent), Qt.ItemDataRole.EditRole) or ""))
                   .hasMatch() for c in range(model.columnCount(source_parent)))

    def source_row(self, proxy_row: int) -> int:
        return self.mapToSource(self.index(proxy_row, 0)).row()


__all__ = [
    "Column", "RowTableModel", "ChipTableModel", "OrderTableModel", "DeliveryTableModel",
    "TableFilterProxy", "SORT_ROLE", "ROW_KEY_ROLE", "edit_text", "same_value",
]
