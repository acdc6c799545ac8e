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
