"""A sortable, filterable table view over a RowTableModel.

Rows are selected whole, several at once (Shift/Ctrl+click, Shift+arrows), so Ctrl+C copies them
all (gui.widgets.table_copy). An action on one row (edit form, delete, add a delivery) reads
`selected_key`, which names a row only while exactly one is selected: with several selected it
acts on none, never on one of them picked unasked; `selected_keys` gives them all.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QLineEdit, QStyle, QStyledItemDelegate, QTableView,
                               QVBoxLayout, QWidget)

from gui.table_models import RowTableModel, TableFilterProxy


# Rows read to fit a column's width (Qt reads the visible ones and this many in all).
FIT_ROWS = 200
# a table of more rows than this filters once the typing pauses for FILTER_PAUSE_MS
FILTER_AT_ONCE_ROWS = 2000
FILTER_PAUSE_MS = 300


class KeepTypingDelegate(QStyledItemDelegate):
    """An open cell editor the user has typed in keeps the typing when the stored value changes
    under it (another program's edit of the same cell): Qt set it back to the stored value, and
    Enter then saved nothing. Enter saves the typing as any edit, undoable back to the value stored
    meanwhile; an editor not typed in shows the new value."""

    def setEditorData(self, editor, index):
        if isinstance(editor, QLineEdit) and editor.isModified():
            return
        super().setEditorData(editor, index)
        # the value the editor shows: an edit is checked against it (another program's write since
        # is not overwritten unasked: RowTableModel.setData)
        model = index.model()
        source = model.mapToSource(index) if hasattr(model, "mapToSource") else index
        if hasattr(source.model(), "note_opened"):
            source.model().note_opened(source)


class FilterableTable(QWidget):
    def __init__(self, model: RowTableModel, placeholder: str = "Filter…", parent=None):
        super().__init__(parent)
        self.model = model
        self.proxy = TableFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText(placeholder)
        self.filter_edit.setToolTip("Show only the rows containing this text (any column; clear to show all)")
        self.filter_edit.setClearButtonEnabled(True)
        # a large table filters once the typing pauses: each keystroke re-read every cell (20,000 orders:
        # 16-28 s a key, QA s40); a small one at once, as it always did
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_PAUSE_MS)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.filter_edit.textChanged.connect(self._on_filter_typed)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setItemDelegate(KeepTypingDelegate(self.view))
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # keep the store's order until asked
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # several rows for copying; one-row actions see None then (selected_key)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.view.setWordWrap(False)
        # Tab leaves the table for the next control (Qt's default walked the cells, wrapping at the
        # end: 400 presses never reached the Add-order form); arrows move among cells, F2 edits
        self.view.setTabKeyNavigation(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(24)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        # widths from the first rows only: fitting walked every row, 0.6 s of CPU per edit at 2,000
        # orders (QA s29); a longer cell further down is elided, its full text in the tooltip
        header.setResizeContentsPrecision(FIT_ROWS)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.filter_edit)
        # a filter that hides every row says so (an empty table read as "no data")
        self.no_match = QLabel()
        self.no_match.setStyleSheet("color: #a15c00;")
        self.no_match.hide()
        layout.addWidget(self.no_match)
        layout.addWidget(self.view, 1)
        # at least its header and two rows: at 14 pt on a 1280x720 screen the deliveries table was
        # squeezed to its header alone (0 px of rows) beside an order with two (QA s38); the view
        # scrolls instead (gui.panels.small_screen)
        row_px = max(self.view.verticalHeader().defaultSectionSize(), self.view.fontMetrics().height() + 8)
        scrollbar_px = self.view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)   # (a wide table's)
        self.view.setMinimumHeight(self.view.horizontalHeader().sizeHint().height() + 2 * row_px + scrollbar_px
                                   + 2 * self.view.frameWidth() + 2)
        model.modelReset.connect(self.fit_columns)
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._show_no_match)
        self.fit_columns()

    def _on_filter_typed(self, _text: str) -> None:
        if self.model.rowCount() > FILTER_AT_ONCE_ROWS:
            self._filter_timer.start()
        else:
            self._apply_filter()

    def _apply_filter(self) -> None:
        self._filter_timer.stop()
        self.proxy.setFilterFixedString(self.filter_edit.text())
        self._show_no_match()

    def _show_no_match(self, *_) -> None:
        text = self.filter_edit.text().strip()
        hidden = bool(text) and self.proxy.rowCount() == 0 and self.model.rowCount() > 0
        self.no_match.setText(f"No row contains “{text}” ({self.model.rowCount():,} hidden): clear the filter "
                              "to see them." if hidden else "")
        self.no_match.setVisible(hidden)

    def fit_columns(self) -> None:
        self.view.resizeColumnsToContents()
        header = self.view.horizontalHeader()
        for i, column in enumerate(self.model.columns):
            limit = 240 if column.long_text else 200
            if header.sectionSize(i) > limit:
                header.resizeSection(i, limit)

    def selected_key(self):
        """The key of the one selected row; None when none is, or several are (Delete with three
        rows selected deleted the first of them alone)."""
        keys = self.selected_keys()
        return keys[0] if len(keys) == 1 else None

    def selected_keys(self) -> list:
        """The keys of the selected rows, in the order shown."""
        rows = sorted(self.view.selectionModel().selectedRows(), key=lambda index: index.row())
        return [self.model.key_at(self.proxy.mapToSource(index).row()) for index in rows]

    def select_key(self, key, *, reveal: bool = True) -> bool:
        """Select the row of `key` alone. `reveal`: a row the filter hides is shown by clearing the
        filter (a row the user asked for: just added, or put back by an undo); without it the row
        stays hidden and nothing is selected (a refresh keeping the selection: another program's
        edit cleared the user's filter, QA s34)."""
        if self._filter_timer.isActive():   # the text typed is what the row is shown by, not the last one applied
            self._apply_filter()
        row = self.model.row_of_key(key)
        if row < 0:
            self.view.clearSelection()
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid() and reveal and self.filter_edit.text():
            # hidden by the filter: the filter goes, so the row asked for is the one selected (an
            # order just added under the filter 'Huawei' stayed hidden with order 1 selected, and
            # Delete order then deleted order 1: QA s34)
            self.filter_edit.clear()
            self._apply_filter()   # now, not once a pause has passed (a large table waits for one)
            index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            self.view.clearSelection()   # never the previous row, acted on unasked
            return False
        # that row alone, whatever keys are held (selectRow in extended mode reads the keyboard's
        # modifiers, and could add the row to the selection)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.view.selectionModel().setCurrentIndex(index, flags)
        self.view.scrollTo(index)
        return True

    def source_index(self, key, field: str):
        return self.model.index(self.model.row_of_key(key), self.model.column_of(field))
