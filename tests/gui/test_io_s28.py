"""The window's side of QA round s28's import/export fixes.

Each test failed before the fix: Ctrl+C on a Fleet table put `=x` and `@home` on the clipboard as
they are (a spreadsheet ran them as formulas), the orders table copied one row at most, the
status bar read "Imported 2 orders rows", and the window's CSV files had no UTF-8 byte order mark.
"""

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication

from gui.widgets.table_copy import install_table_copy, selection_text

BOM = b"\xef\xbb\xbf"
ORDER_HEADER = "buyer,vendor,chip_id,quantity,order_date,price_usd_per_chip,note"


@pytest.fixture
def store(tmp_path):
    from engine.store import open_store

    s = open_store(tmp_path / "window.db")
    source = tmp_path / "formulas.csv"
    source.write_text(f"{ORDER_HEADER}\n"
                      "=x,NVIDIA,h20-96gb,10,2030-01-01,5,-5% discount\n"
                      "Plain,NVIDIA,h20-96gb,20,2030-02-01,7,@home\n", encoding="utf-8")
    s.import_orders(source)
    yield s
    s.close()


def _rows_of(table, buyers) -> list[int]:
    """The view rows (order shown) of the orders whose buyer is in `buyers`."""
    out = []
    for r in range(table.proxy.rowCount()):
        source = table.proxy.mapToSource(table.proxy.index(r, 0)).row()
        if table.model._rows[source]["buyer"] in buyers:
            out.append(r)
    return out


def _select(view, rows) -> None:
    view.clearSelection()
    model = view.selectionModel()
    for r in rows:
        model.select(view.model().index(r, 0), QItemSelectionModel.SelectionFlag.Select
                     | QItemSelectionModel.SelectionFlag.Rows)


def test_copied_cells_are_escaped_as_the_csv_export_escapes_them(window, qtbot):
    from engine.csv_io import neutralise_cell

    table = window.fleet_panel.orders_table
    qtbot.waitUntil(lambda: table.model.rowCount() > 0)
    rows = _rows_of(table, {"=x", "Plain"})
    assert len(rows) == 2
    _select(table.view, rows)
    lines = selection_text(table.view).split("\n")
    assert len(lines) == 3                     # the header and both rows
    header = lines[0].split("\t")
    cells = [dict(zip(header, line.split("\t"))) for line in lines[1:]]
    by_buyer = {c["Buyer"]: c for c in cells}
    assert set(by_buyer) == {"'=x", "Plain"}   # '=x' pasted as text, not a formula
    assert by_buyer["'=x"]["Note"] == "'-5% discount" == neutralise_cell("-5% discount")
    assert by_buyer["Plain"]["Note"] == "'@home"
    assert by_buyer["'=x"]["Price (USD/chip)"] == "5"
    assert by_buyer["Plain"]["Quantity (chips)"] == "20"
    # the header is the columns as the table shows them (the docstring now says so)
    model = table.proxy
    assert header == [" ".join(str(model.headerData(c, Qt.Orientation.Horizontal)).split())
                      for c in range(model.columnCount())]


def test_a_negative_number_is_copied_as_a_number_and_text_like_it_is_escaped(qtbot):
    from PySide6.QtCore import QSortFilterProxyModel
    from PySide6.QtWidgets import QTableView

    from gui.table_models import Column, RowTableModel

    class Figures(RowTableModel):
        columns = (Column("change", "Change (chips)", "int"), Column("note", "Note"))

    model = Figures([{"change": -500, "note": "-500"}, {"change": 3, "note": "+3 spare"}])
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)   # seen through a proxy, as the Fleet tables are
    view.selectAll()
    # the CSV export's rule: a number as it is, text starting with - or + behind an apostrophe
    assert selection_text(view) == "Change (chips)\tNote\n-500\t'-500\n3\t'+3 spare"


def test_ctrl_c_copies_several_selected_order_rows(window, qtbot):
    install_table_copy(QApplication.instance())
    table = window.fleet_panel.orders_table
    window.fleet_panel.show()
    qtbot.waitUntil(lambda: table.model.rowCount() >= 3)
    view = table.view
    assert view.selectionMode() == QAbstractItemView.SelectionMode.ExtendedSelection
    view.setFocus()
    view.selectRow(0)
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)   # (a single-selection view ignores it)
    assert len(view.selectionModel().selectedRows()) == table.model.rowCount()
    QApplication.clipboard().clear()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QApplication.clipboard().text().splitlines()
    assert len(lines) == 1 + table.model.rowCount()
    # Ctrl let go: Qt keeps the last key event's modifiers, and the next test's selectRow would
    # read Ctrl held (toggling its row off)
    qtbot.keyRelease(view, Qt.Key.Key_Control)
    assert QApplication.keyboardModifiers() == Qt.KeyboardModifier.NoModifier


def test_delete_with_several_orders_selected_deletes_none(window, qtbot, store):
    panel = window.fleet_panel
    table = panel.orders_table
    qtbot.waitUntil(lambda: table.model.rowCount() > 0)
    before = store.order_count()
    rows = _rows_of(table, {"=x", "Plain"})
    _select(table.view, rows)
    assert len(table.selected_keys()) == 2
    assert table.selected_key() is None        # no one-row action picks one of them
    assert not panel.delete_order_button.isEnabled()
    assert panel.delete_selected_order() is False
    assert store.order_count() == before
    # one row selected: Delete works as before, on that row
    _select(table.view, rows[:1])
    (key,) = table.selected_keys()
    assert table.selected_key() == key
    assert panel.delete_selected_order() is True
    assert store.order_count() == before - 1


def test_the_status_bar_counts_orders_and_chips_not_rows(window, tmp_path, qtbot):
    orders = tmp_path / "two.csv"
    orders.write_text(f"{ORDER_HEADER}\nA,NVIDIA,h20-96gb,1,2031-01-01,,\nB,NVIDIA,h20-96gb,2,2031-01-01,,\n",
                      encoding="utf-8")
    assert window.import_csv("orders", str(orders)) == 2
    assert window.statusBar().currentMessage() == "Imported 2 orders"
    chips = tmp_path / "chip.csv"
    chips.write_text("id,vendor,name,bf16_tflops,hbm_gb,hbm_gbps\nx1,Foo,Foo X1,500,80,3000\n", encoding="utf-8")
    assert window.import_csv("chips", str(chips)) == 1
    assert window.statusBar().currentMessage() == "Imported 1 chip"


@pytest.mark.parametrize("kind", ["orders", "chips"])
def test_the_windows_csv_export_has_a_bom(window, tmp_path, kind):
    path = tmp_path / f"{kind}.csv"
    assert window.export_csv(kind, str(path)) > 0
    data = path.read_bytes()
    assert data.startswith(BOM + b"id,") and data.count(BOM) == 1


def test_a_chart_or_table_csv_puts_the_bom_before_its_context_lines(tmp_path):
    from gui import export

    path = export.export_csv(["Month", "Buyer"], [["2025-01", "字节跳动"]], tmp_path / "t.csv",
                             context={"Scenario": "base"})
    data = path.read_bytes()
    assert data.startswith(BOM + b"# Scenario: base\n")
    assert "字节跳动" in data.decode("utf-8-sig")
