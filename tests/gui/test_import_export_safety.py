"""The window's imports and exports: File > Export all asks before replacing files; an import that
updates orders says what it did and undoes exactly (issue 10)."""

import csv

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.app import MainWindow


@pytest.fixture
def window(store, qtbot, qsettings_isolated):
    QApplication.instance().setOrganizationName("Fleetcast")
    QApplication.instance().setApplicationName("Fleetcast")
    w = MainWindow(store)
    qtbot.addWidget(w)
    yield w
    w.fleet_panel.detach()


@pytest.mark.slow  # ~20 s: the Yes path renders every chart of every panel
def test_export_all_asks_before_replacing_a_users_files(window, store, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "fleet_orders.csv"
    mine.write_bytes(b"my spreadsheet\n")
    store.update_order(1, "note", "=HYPERLINK(\"http://evil\",\"x\")")
    asked = []

    def answer(choice):
        def question(parent, title, text, *args, **kwargs):
            asked.append(text)
            return choice
        return staticmethod(question)

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    assert window.export_all(str(out)) is None
    assert "fleet_orders.csv" in asked[0] and "Replace them?" in asked[0]
    assert mine.read_bytes() == b"my spreadsheet\n"
    assert [p.name for p in out.iterdir()] == ["fleet_orders.csv"]  # nothing else written either
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    written = window.export_all(str(out))
    assert mine in written and len(asked) == 2
    rows = list(csv.reader(open(mine, encoding="utf-8")))
    assert any(cell == "'=HYPERLINK(\"http://evil\",\"x\")" for row in rows for cell in row)  # neutralised
    assert not [p.name for p in out.iterdir() if ".tmp" in p.name]


def test_an_import_that_updates_an_order_keeps_its_deliveries_and_undoes_exactly(window, store, tmp_path, monkeypatch):
    import gui.commands

    monkeypatch.setattr(gui.commands, "ask_to_replace", lambda question: True)   # the user says Yes
    before = store.snapshot_tables()
    path = tmp_path / "orders.csv"
    path.write_text("id,buyer,vendor,chip_id,quantity,order_date\n1,ByteDance Ltd,Huawei,ascend-910b2,100000,2024-01-15\n")
    assert window.import_csv("orders", str(path)) == 1
    banner = window.fleet_panel.banner.text()
    assert "1 updated (1)" in banner and "deliveries kept for order(s) 1" in banner and "Ctrl+Z" in banner
    assert store.delivery_rows(1) == [d for d in before["deliveries"] if d["order_id"] == 1]
    window.undo_action.trigger()
    assert store.snapshot_tables() == before
