"""Ctrl+C in any table copies the selected cells as tab-separated text a spreadsheet pastes.

Qt's own Copy in an item view puts the current cell's display text on the clipboard: one cell,
as shown ("1,234.5", a chip's display name). A planner copying a Fleet row or a forecast month
into a spreadsheet wants the selection, whole, with the figures as stored. One filter on the
application handles Copy for every table view:

- the selected cells, rows in the order shown (sorting and filters apply), columns in the order
  shown; a selection with holes is copied as the rectangle around it, the holes blank;
- each cell's edit text where the model gives one (the stored value: 1234.5678, a chip id, an
  ISO date), else its display text; tabs and line breaks inside a cell become spaces;
- when every selected row is selected whole, the column headers come first (a row copied from
  the Fleet pastes with its field names);
- a cell being edited keeps the editor's own Copy.

    install_table_copy(QApplication.instance())   # once; the window does it
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QTableView


def _cell_text(index) -> str:
    value = index.data(Qt.ItemDataRole.EditRole)
    if value is None or value == "":
        value = index.data(Qt.ItemDataRole.DisplayRole)
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
        lines.append("\t".join(" ".join(str(model.headerData(c, Qt.Orientation.Horizontal,
                                                             Qt.ItemDataRole.DisplayRole) or "").split())
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
