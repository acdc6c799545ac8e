"""Ctrl+C in a table copies the selection as tab-separated text with the stored values."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QTableWidget, QTableWidgetItem

from gui.widgets.table_copy import install_table_copy, selection_text


def test_a_fleet_row_copies_whole_with_headers_and_stored_values(window, qtbot):
    install_table_copy(QApplication.instance())
    table = window.fleet_panel.orders_table
    window.fleet_panel.show()
    qtbot.waitUntil(lambda: table.model.rowCount() > 0)
    view = table.view
    # the first row alone, as a click selects it (view.selectRow reads the keyboard's modifiers in the
    # extended selection the Fleet's tables have since s28, and a modifier an earlier test left held
    # made it a toggle)
    assert table.select_key(table.model.key_at(table.proxy.mapToSource(table.proxy.index(0, 0)).row()))
    view.setFocus()
    QApplication.clipboard().clear()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QApplication.clipboard().text().splitlines()
    assert len(lines) == 2
    headers, values = lines[0].split("\t"), lines[1].split("\t")
    assert len(headers) == len(values) == table.model.columnCount()
    row = table.model._rows[table.proxy.mapToSource(table.proxy.index(0, 0)).row()]
    chip = headers.index(next(h for h in headers if h.lower().startswith("chip")))
    assert values[chip] == row["chip_id"]                 # the id, not the display name
    quantity = next(i for i, h in enumerate(headers) if h.lower().startswith("quantity"))
    assert values[quantity] == str(row["quantity"])       # 10000, not "10,000"


def test_a_block_is_copied_as_its_rectangle_in_the_order_shown(qtbot):
    t = QTableWidget(3, 3)
    qtbot.addWidget(t)
    for r in range(3):
        for c in range(3):
            t.setItem(r, c, QTableWidgetItem(f"r{r}c{c}"))
    t.item(1, 1).setText("two\nlines\tand a tab")
    t.setSelectionMode(QTableWidget.SelectionMode.MultiSelection)
    for r, c in ((0, 1), (1, 1), (1, 2)):
        t.setCurrentCell(r, c)
    assert selection_text(t) == "r0c1\t\ntwo lines and a tab\tr1c2"
    t.clearSelection()
    t.setCurrentCell(2, 0)
    t.clearSelection()
    assert selection_text(t) == "r2c0"           # nothing selected: the current cell


def test_the_copy_filter_leaves_an_open_cell_editor_alone(qtbot):
    install_table_copy(QApplication.instance())
    t = QTableWidget(1, 1)
    qtbot.addWidget(t)
    t.setItem(0, 0, QTableWidgetItem("cell"))
    t.show()
    t.setCurrentCell(0, 0)
    t.editItem(t.item(0, 0))
    assert t.state() == QTableWidget.State.EditingState
    QApplication.clipboard().setText("before")
    editor = t.viewport().findChild(QLineEdit)
    assert editor is not None
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "cell"      # the editor's own copy of its text
