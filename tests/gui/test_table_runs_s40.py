"""A table's rows added or removed in runs arrive as one insert or removal per run (QA s40): one
signal per row had the view's sort proxy re-sort on each, and 5,000 orders imported in the window
took 114 s (2,000: 16.6 s) where the store took 2."""

from gui.table_models import Column, RowTableModel


class _Rows(RowTableModel):
    columns = (Column("id", "ID", "int", editable=False), Column("name", "Name"))


def _rows(keys):
    return [{"id": k, "name": f"n{k}"} for k in keys]


def test_runs_of_added_and_removed_rows_take_one_signal_each(qtbot):
    model = _Rows(_rows([1, 2, 3]))
    inserted, removed = [], []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    model.rowsRemoved.connect(lambda _p, first, last: removed.append((first, last)))
    model.set_rows(_rows([10, 11, 1, 2, 12, 3, 13, 14, 15]))
    assert inserted == [(0, 1), (4, 4), (6, 8)]
    assert [model.key_at(i) for i in range(model.rowCount())] == [10, 11, 1, 2, 12, 3, 13, 14, 15]
    assert model.row_dict(5) == {"id": 3, "name": "n3"}
    model.set_rows(_rows([11, 2, 12, 15]))
    assert removed == [(5, 7), (2, 2), (0, 0)]       # from the end, so each index still holds
    assert [model.key_at(i) for i in range(model.rowCount())] == [11, 2, 12, 15]
    big = _Rows(_rows([0]))
    seen = []
    big.rowsInserted.connect(lambda _p, first, last: seen.append((first, last)))
    big.set_rows(_rows(range(20_001)))        # an import of 20,000 after the one row: one signal
    assert seen == [(1, 20_000)] and big.rowCount() == 20_001


def test_a_large_table_filters_once_the_typing_pauses(qtbot):
    """Each keystroke re-read every cell: 16-28 s a key at 20,000 orders (QA s40). Above
    FILTER_AT_ONCE_ROWS the filter waits for a pause; a small table filters at once."""
    from gui.widgets.tables import FILTER_AT_ONCE_ROWS, FilterableTable

    small = FilterableTable(_Rows(_rows(range(10))))
    qtbot.addWidget(small)
    small.filter_edit.setText("n7")
    assert small.proxy.rowCount() == 1
    big = FilterableTable(_Rows(_rows(range(FILTER_AT_ONCE_ROWS + 1))))
    qtbot.addWidget(big)
    big.filter_edit.setText("n1")
    big.filter_edit.setText("n17")
    assert big.proxy.rowCount() == FILTER_AT_ONCE_ROWS + 1      # not yet
    qtbot.waitUntil(lambda: big.proxy.rowCount() == 111, timeout=3000)   # n17, n170-n179, n1700-n1799
    big.filter_edit.setText("zz")
    qtbot.waitUntil(lambda: big.no_match.isVisibleTo(big), timeout=3000)
    big.filter_edit.clear()
    assert big.select_key(5)                 # the cleared filter applies at once for a row asked for
    assert big.proxy.rowCount() == FILTER_AT_ONCE_ROWS + 1 and big.selected_key() == 5
