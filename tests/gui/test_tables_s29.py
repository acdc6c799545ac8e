"""QA s29 (2,003 orders): fitting the Orders columns walked every row, 0.6 s of CPU on the window's
thread after each edit. Widths now come from the first FIT_ROWS rows (and those on screen)."""

from gui.table_models import Column, RowTableModel
from gui.widgets.tables import FIT_ROWS, FilterableTable


class _Notes(RowTableModel):
    columns = (Column("id", "Id", kind="int", editable=False), Column("name", "Name", editable=False))


def _name_width(qtbot, long_at: int) -> int:
    rows = [{"id": i, "name": "short"} for i in range(FIT_ROWS * 5)]
    rows[long_at]["name"] = "a much longer name than every other one"
    table = FilterableTable(_Notes(rows))
    qtbot.addWidget(table)
    table.resize(600, 300)
    table.fit_columns()
    return table.view.horizontalHeader().sectionSize(1)


def test_a_long_cell_near_the_top_widens_its_column_one_far_down_does_not(qtbot):
    # (Qt's default read 1,000 rows: the long name at row 800 widened the column too)
    near, far = _name_width(qtbot, 1), _name_width(qtbot, FIT_ROWS * 4)
    assert near > far
