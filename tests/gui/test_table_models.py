"""Table models over real store rows: Qt's model contract, units in headers, edits via a handler."""

import pytest
from PySide6.QtCore import Qt

from engine.store import open_store
from gui.table_models import (
    SORT_ROLE, ChipTableModel, DeliveryTableModel, OrderTableModel, TableFilterProxy,
)

DISPLAY = Qt.ItemDataRole.DisplayRole


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "models.db")
    yield s
    s.close()


def _headers(model):
    return [model.headerData(i, Qt.Orientation.Horizontal, DISPLAY) for i in range(model.columnCount())]


@pytest.mark.parametrize("kind", ["chips", "orders", "deliveries"])
def test_models_pass_qt_model_tester(qtmodeltester, store, kind):
    model = {"chips": lambda: ChipTableModel(store.chip_rows()),
             "orders": lambda: OrderTableModel(store.order_rows()),
             "deliveries": lambda: DeliveryTableModel(store.delivery_rows())}[kind]()
    model.edit_handler = lambda key, field, value, shown=None: True
    assert model.rowCount() > 0
    qtmodeltester.check(model, force_py=True)
    proxy = TableFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy, force_py=True)


def test_chip_headers_carry_units(store):
    headers = _headers(ChipTableModel(store.chip_rows()))
    for expected in ("BF16 (TFLOP/s)", "HBM (GiB)", "HBM BW (GB/s)", "Scale-up (GB/s/dir)", "TDP (W)",
                     "Sources", "Notes"):
        assert expected in headers
    assert "Quantity (chips)" in _headers(OrderTableModel(store.order_rows()))


def test_sources_are_visible_and_whole_in_tooltip(store):
    model = ChipTableModel(store.chip_rows())
    col = model.column_of("sources")
    row = model.row_of_key("h800-sxm5-80gb")
    full = store.chip_rows()[row]["sources"]
    shown = model.data(model.index(row, col), DISPLAY)
    assert shown and full.startswith(shown.rstrip("…"))
    tip = model.data(model.index(row, col), Qt.ItemDataRole.ToolTipRole)
    assert full.split()[0] in tip and full.split()[-1].rstrip(".;") in tip


def test_numbers_display_with_separators_and_edit_raw(store):
    model = OrderTableModel(store.order_rows())
    row = model.row_of_key(1)
    qty = model.index(row, model.column_of("quantity"))
    assert model.data(qty, DISPLAY) == "100,000"
    assert model.data(qty, Qt.ItemDataRole.EditRole) == "100000"
    assert model.data(qty, SORT_ROLE) == 100000.0


def test_set_data_goes_through_handler_and_skips_no_change(store):
    model = OrderTableModel(store.order_rows())
    calls = []
    model.edit_handler = lambda key, field, value, shown=None: calls.append((key, field, value)) or True
    row = model.row_of_key(1)
    qty = model.index(row, model.column_of("quantity"))
    assert model.setData(qty, " 120000 ")
    assert model.setData(qty, "100000")  # same as stored: nothing to do
    assert calls == [(1, "quantity", "120000")]
    delivered = model.index(row, model.column_of("delivered"))
    assert not model.flags(delivered) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(delivered, "5")


def test_refused_edit_returns_false(store):
    model = DeliveryTableModel(store.delivery_rows())
    model.edit_handler = lambda key, field, value, shown=None: False
    assert not model.setData(model.index(0, model.column_of("quantity")), "999999999")


def test_no_handler_means_read_only(store):
    model = ChipTableModel(store.chip_rows())
    index = model.index(0, model.column_of("hbm_gb"))
    assert not model.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(index, "1")


def test_refresh_with_same_keys_keeps_rows_and_emits_data_changed(qtbot, store):
    model = OrderTableModel(store.order_rows())
    rows = store.order_rows()
    rows[0]["buyer"] = "Someone else"
    with qtbot.waitSignal(model.dataChanged, timeout=1000):
        model.set_rows(rows)
    assert model.data(model.index(0, model.column_of("buyer")), DISPLAY) == "Someone else"
    with qtbot.waitSignal(model.rowsRemoved, timeout=1000):   # (s34: removed, not a reset)
        model.set_rows(rows[1:])
    assert model.rowCount() == len(rows) - 1


def test_proxy_sorts_numbers_numerically_and_filters(store):
    model = ChipTableModel(store.chip_rows())
    proxy = TableFilterProxy()
    proxy.setSourceModel(model)
    col = model.column_of("hbm_gb")
    proxy.sort(col, Qt.SortOrder.DescendingOrder)
    values = [proxy.data(proxy.index(r, col), SORT_ROLE) for r in range(proxy.rowCount())]
    assert values == sorted(values, reverse=True)
    proxy.setFilterFixedString("ascend")
    assert 0 < proxy.rowCount() < model.rowCount()
    names = [proxy.data(proxy.index(r, model.column_of("name")), DISPLAY) for r in range(proxy.rowCount())]
    assert all("ascend" in n.lower() for n in names)


def test_a_promised_schedule_reads_as_dates_and_chips_and_edits_as_typed(store):
    model = OrderTableModel(store.order_rows())
    col = [c.key for c in model.columns].index("promised")
    row = next(i for i, r in enumerate(store.order_rows()) if r["promised"] == "2023-06-01:5000;2023-09-01:5000")
    assert model.data(model.index(row, col), DISPLAY) == "2023-06-01: 5,000 · 2023-09-01: 5,000"
    assert model.data(model.index(row, col), Qt.ItemDataRole.EditRole) == "2023-06-01:5000;2023-09-01:5000"


def test_long_text_column_headers_sit_at_the_left(store):
    """The deliveries' "Note" was centred in its wide column, past the pane's edge at 1280x720."""
    model = DeliveryTableModel([])
    col = model.column_of("note")
    align = model.headerData(col, Qt.Orientation.Horizontal, Qt.ItemDataRole.TextAlignmentRole)
    assert align == int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    assert model.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.TextAlignmentRole) is None


def test_another_programs_edit_leaves_the_cell_being_typed_in(qtbot, store):
    """QA s34: the CLI changing order 1's quantity set the note the user was typing in that row
    back to the stored one (one signal over the whole row), and Enter saved nothing."""
    from PySide6.QtWidgets import QLineEdit

    from gui.widgets.tables import FilterableTable

    model = OrderTableModel(store.order_rows())
    saved = []
    model.edit_handler = lambda key, field, value, shown=None: saved.append((key, field, value)) or True
    table = FilterableTable(model)
    qtbot.addWidget(table)
    table.show()
    signals = []
    model.dataChanged.connect(lambda a, b: signals.append(((a.row(), a.column()), (b.row(), b.column()))))
    note, quantity = model.column_of("note"), model.column_of("quantity")
    index = table.proxy.mapFromSource(model.index(0, note))
    table.view.setCurrentIndex(index)
    table.view.edit(index)
    editor = table.view.indexWidget(index) or table.view.focusWidget()
    assert isinstance(editor, QLineEdit)
    editor.clear()
    qtbot.keyClicks(editor, "typed by me")
    rows = store.order_rows()
    rows[0]["quantity"] = int(rows[0]["quantity"]) + 5   # another program's edit, same row
    model.set_rows(rows)
    assert signals == [((0, quantity), (0, quantity))]   # that cell alone
    assert editor.text() == "typed by me"
    rows = [dict(r) for r in rows]
    rows[0]["note"] = "their note"   # and the very cell: the typing is kept too
    model.set_rows(rows)
    assert editor.text() == "typed by me"
    table.view.commitData(editor)
    assert saved == [(rows[0]["id"], "note", "typed by me")]
    # an editor not typed in shows what is stored now
    from PySide6.QtWidgets import QAbstractItemDelegate

    table.view.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)
    index = table.proxy.mapFromSource(model.index(1, note))
    table.view.edit(index)
    editor = table.view.indexWidget(index) or table.view.focusWidget()
    rows = [dict(r) for r in rows]
    rows[1]["note"] = "changed elsewhere"
    model.set_rows(rows)
    assert editor.text() == "changed elsewhere"


def test_rows_added_or_removed_elsewhere_keep_the_cell_being_typed_in(qtbot, store, qtmodeltester):
    """QA s34: another program adding an order reset the model, which closed the editor open on
    order 1's note and lost the typing. Rows are now inserted and removed one by one."""
    from PySide6.QtWidgets import QLineEdit

    from gui.widgets.tables import FilterableTable

    rows = store.order_rows()
    model = OrderTableModel(rows[:2])
    saved = []
    model.edit_handler = lambda key, field, value, shown=None: saved.append((key, field, value)) or True
    table = FilterableTable(model)
    qtbot.addWidget(table)
    table.show()
    index = table.proxy.mapFromSource(model.index(0, model.column_of("note")))
    table.view.setCurrentIndex(index)
    table.view.edit(index)
    editor = table.view.indexWidget(index) or table.view.focusWidget()
    assert isinstance(editor, QLineEdit)
    qtbot.keyClicks(editor, " and more")
    typed = editor.text()
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    model.set_rows(rows)   # a third order added (at the end)
    assert model.rowCount() == 3 and [model.key_at(i) for i in range(3)] == [r["id"] for r in rows]
    model.set_rows([rows[0], rows[2]])   # the second removed
    assert [model.key_at(i) for i in range(2)] == [rows[0]["id"], rows[2]["id"]]
    assert not resets and editor.text() == typed
    table.view.commitData(editor)   # still the view's editor: Enter saves the typing
    assert saved == [(rows[0]["id"], "note", typed.strip())]
    model.set_rows([rows[2], rows[0]])   # reordered: a reset, as before
    assert resets == [1] and [model.key_at(i) for i in range(2)] == [rows[2]["id"], rows[0]["id"]]
    qtmodeltester.check(model)


def test_a_first_load_resets_so_the_table_fits_its_columns(qtbot, store):
    """QA s34: rows inserted one by one from an empty model never reset it, and the table fits
    its columns on a reset: every launch showed the chip ids and names cut ("mi…")."""
    from gui.widgets.tables import FilterableTable

    model = ChipTableModel([])
    table = FilterableTable(model)
    qtbot.addWidget(table)
    table.show()
    with qtbot.waitSignal(model.modelReset, timeout=1000):
        model.set_rows(store.chip_rows())
    name = model.column_of("name")
    widest = max(table.view.fontMetrics().horizontalAdvance(str(model.data(model.index(r, name))))
                 for r in range(min(model.rowCount(), 50)))
    assert table.view.columnWidth(name) >= min(widest, 200)
