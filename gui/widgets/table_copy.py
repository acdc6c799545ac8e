"""Ctrl+C in any table copies the selected cells as tab-separated text a spreadsheet pastes.

Qt's own Copy in an item view puts the current cell's display text on the clipboard: one cell,
as shown ("1,234.5", a chip's display name). A planner copying a Fleet row or a forecast month
into a spreadsheet wants the selection, whole, with the figures as stored. One filter on the
application handles Copy for every table view:

- the selected cells, rows in the order shown (sorting and filters apply), columns in the order
  shown; a selection with holes is copied as the rectangle around it, the holes blank;
- each cell's edit text where the model gives one (the stored value: 1234.5678, a chip id, an
  ISO date), else its display text; tabs and line breaks inside a cell become spaces;
- text a spreadsheet would run as a formula (`=x`, `-5% discount`, `@home`) gets the leading
  apostrophe the CSV export gives it (engine.csv_io.neutralise_cell, the one rule for both); a
  number stays a number (-5 pastes as -5);
- when every selected row is selected whole, the column headers as the table shows them come
  first, units and all ("Quantity (chips)"): a row copied from the Fleet pastes with its column
  names;
- a cell being edited keeps the editor's own Copy.

    install_table_copy(QApplication.instance())   # once; the window does it
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractProxyModel, QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QTableView

from engine.csv_io import neutralise_cell


def _numeric_column(index) -> bool:
    """Whether the cell's column holds numbers in a RowTableModel (whose edit text is always
    text: "-5" is the number -5 there), seen through any filter or sort proxies."""
    model = index.model()
    while isinstance(model, QAbstractProxyModel) and index.isValid():
        index = model.mapToSource(index)
        model = model.sourceModel()
    columns = getattr(model, "columns", None)
    if not index.isValid() or not isinstance(columns, (list, tuple)) or not 0 <= index.column() < len(columns):
        return False
    return bool(getattr(columns[index.column()], "numeric", False))


def _cell_text(index) -> str:
    value = index.data(Qt.ItemDataRole.EditRole)
    if value is None or value == "":
        value = index.data(Qt.ItemDataRole.DisplayRole)
    if isinstance(value, str) and not _numeric_column(index):
        value = neutralise_cell(value)   # as the CSV export writes it: pasted, `=x` ran as a formula
    text = "" if value is None else str(value)
    return " ".join(text.replace("\t", " ").splitlines())


def selection_text(view: QTableView) -> str:
    """The view's selected cells as tab-separated lines ('' when nothing is selected)."""
    selection = view.selectionModel()
    model = view.model()
    if selection is None or model is None:
        return ""
    indexes = [i for i in selection.selectedIndexes() if not view.isIndexHidden(i)]
    if not indexes and view.currentIndex().isValid():
        indexes = [view.currentIndex()]
    if not indexes:
        return ""
    vheader, hheader = view.verticalHeader(), view.horizontalHeader()
    rows = sorted({i.row() for i in indexes}, key=vheader.visualIndex)
    columns = sorted({i.column() for i in indexes}, key=hheader.visualIndex)
    cells = {(i.row(), i.column()): i for i in indexes}
    lines = []
    whole_rows = all(selection.isRowSelected(r, view.rootIndex()) for r in rows) and len(columns) > 1
    if whole_rows:
        lines.append("\t".join(neutralise_cell(" ".join(str(model.headerData(c, Qt.Orientation.Horizontal,
                                                                             Qt.ItemDataRole.DisplayRole) or "").split()))
                               for c in columns))
    for r in rows:
        lines.append("\t".join(_cell_text(cells[(r, c)]) if (r, c) in cells else "" for c in columns))
    return "\n".join(lines)


class _TableCopy(QObject):
    def eventFilter(self, obj, event):   # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.KeyPress and event.matches(QKeySequence.StandardKey.Copy) \
                and isinstance(obj, QTableView) and obj.state() != QTableView.State.EditingState:
            text = selection_text(obj)
            if text:
                QApplication.clipboard().setText(text)
                return True
        return False


def install_table_copy(app: QApplication) -> None:
    """Ctrl+C copies a table's selection for the whole application (idempotent)."""
    if app.property("fleetcast_table_copy"):
        return
    filt = _TableCopy(app)
    app.installEventFilter(filt)
    app.setProperty("fleetcast_table_copy", True)
