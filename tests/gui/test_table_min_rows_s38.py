"""At 14 pt on a 1280x720 screen the Fleet view's deliveries table was squeezed to its header
alone (QA s38): a filterable table keeps room for its header and two rows, in the font it has."""

from PySide6.QtWidgets import QApplication

from gui.table_models import RowTableModel
from gui.widgets.tables import FilterableTable


def test_a_table_keeps_room_for_its_header_and_two_rows_at_any_font_size(qtbot):
    app = QApplication.instance()
    before = app.font()
    try:
        heights = {}
        for points in (9, 14):
            font = app.font()
            font.setPointSize(points)
            app.setFont(font)
            table = FilterableTable(RowTableModel([]))
            qtbot.addWidget(table)
            header_px = table.view.horizontalHeader().sizeHint().height()
            row_px = table.view.fontMetrics().height() + 8
            assert table.view.minimumHeight() >= header_px + 2 * row_px
            heights[points] = table.view.minimumHeight()
        assert heights[14] > heights[9]
    finally:
        app.setFont(before)
