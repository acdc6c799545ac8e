"""QA s20: File > Import in the window replaced this database's order 4 with another database's
order 4 without a word, where the CLI refuses the file without --replace. The window now asks,
naming the records, and replaces them only on Yes; undo puts them back exactly."""

from __future__ import annotations

import csv

import pytest

import gui.commands

ORDER_HEADER = ["id", "buyer", "vendor", "chip_id", "quantity", "order_date", "note"]


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return str(path)


@pytest.fixture
def mine(store, tmp_path):
    """The window's database holding only its own order 4 (ByteDance's 910B contract), and a file
    exported from another database whose order 4 is something else."""
    store.delete_orders([1, 2, 3])
    store.import_orders(_write_csv(tmp_path / "mine.csv", ORDER_HEADER[1:],
                                   [["ByteDance", "Huawei", "ascend-910b2", "200000", "2025-01-10", "MY big 910B"]]))
    return _write_csv(tmp_path / "theirs.csv", ORDER_HEADER,
                      [["4", "ColleagueCo", "NVIDIA", "h20-96gb", "500", "2024-11-01", "their small H20 test"]])


def _answer(monkeypatch, yes: bool) -> list[str]:
    asked: list[str] = []
    monkeypatch.setattr(gui.commands, "ask_to_replace", lambda question: asked.append(question) or yes)
    return asked


def _orders(store):
    return [(o["id"], o["buyer"], o["chip_id"], o["quantity"], o["note"]) for o in store.order_rows()]


def test_no_keeps_this_databases_order(window, store, mine, monkeypatch):
    asked = _answer(monkeypatch, yes=False)
    before = _orders(store)
    depth = window.undo_stack.count()
    assert window.import_csv("orders", mine) is None
    assert asked[0].startswith("Replace orders 4 (ByteDance 200,000 Ascend 910B2) with the file's?")
    # (QA s41: 30,000 delivered chips became the file's one lot, said only afterwards)
    assert "A row that gives deliveries replaces the order's deliveries too. No imports nothing." in asked[0]
    assert _orders(store) == before == [(4, "ByteDance", "ascend-910b2", 200000, "MY big 910B")]
    banner = window.fleet_panel.banner.text()
    assert banner == "theirs.csv: nothing imported: 1 row(s) would change existing orders (4); kept as they are"
    assert window.undo_stack.count() == depth   # no step to undo


def test_yes_replaces_it_and_undo_puts_it_back_exactly(window, store, mine, monkeypatch):
    asked = _answer(monkeypatch, yes=True)
    before = store.snapshot_tables()
    assert window.import_csv("orders", mine) == 1
    assert len(asked) == 1
    assert _orders(store) == [(4, "ColleagueCo", "h20-96gb", 500, "their small H20 test")]
    assert "0 added, 1 updated (4)" in window.fleet_panel.banner.text()
    window.undo_stack.undo()
    assert store.snapshot_tables() == before
    window.undo_stack.redo()
    assert _orders(store) == [(4, "ColleagueCo", "h20-96gb", 500, "their small H20 test")]


def test_a_file_that_only_adds_is_not_asked_about(window, store, mine, tmp_path, monkeypatch):
    asked = _answer(monkeypatch, yes=False)
    path = _write_csv(tmp_path / "new.csv", ORDER_HEADER[1:],
                      [["ColleagueCo", "NVIDIA", "h20-96gb", "500", "2024-11-01", "new"]])
    assert window.import_csv("orders", path) == 1
    assert asked == [] and sorted(o[0] for o in _orders(store)) == [4, 5]


def test_chips_are_asked_about_the_same_way(window, store, tmp_path, monkeypatch):
    out = tmp_path / "chips.csv"
    store.export_chips_csv(out)
    rows = list(csv.reader(open(out, encoding="utf-8")))
    header = rows[0]
    h100 = dict(zip(header, next(r for r in rows[1:] if r[0] == "h100-sxm5-80gb")), bf16_tflops="500")
    path = _write_csv(tmp_path / "h100mod.csv", header, [[h100[k] for k in header]])
    stored = store.stored_value("chip", "h100-sxm5-80gb", "bf16_tflops")
    asked = _answer(monkeypatch, yes=False)
    assert window.import_csv("chips", path) is None
    assert asked == [f"Replace chips h100-sxm5-80gb ({h100['name']}) with the file's?\n\n"
                     "h100mod.csv has 1 row(s) with the id of a stored chip but other values (an export of another "
                     "database?). No imports nothing."]
    assert store.stored_value("chip", "h100-sxm5-80gb", "bf16_tflops") == stored
    _answer(monkeypatch, yes=True)
    assert window.import_csv("chips", path) == 1
    assert store.stored_value("chip", "h100-sxm5-80gb", "bf16_tflops") == 500
    window.undo_stack.undo()
    assert store.stored_value("chip", "h100-sxm5-80gb", "bf16_tflops") == stored


def test_the_question_is_yes_no_with_no_the_default(window, mine, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    calls = []

    def question(parent, title, text, buttons, default):
        calls.append((title, text, buttons, default))
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    assert window.import_csv("orders", mine) is None
    (title, text, buttons, default), = calls
    assert "Replace orders 4 (ByteDance 200,000 Ascend 910B2)" in text
    assert buttons == QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    assert default == QMessageBox.StandardButton.No


def test_the_same_orders_imported_again_are_asked_about_and_no_adds_nothing(window, store, tmp_path, monkeypatch):
    """QA s41: a sheet imported three times tripled the fleet's supply (3,000 orders became 9,000)
    with only a warning; the window had asked before a change, never before a repeat. Now it asks,
    naming the stored orders; No imports nothing, Yes adds them as one undoable step."""
    path = _write_csv(tmp_path / "sheet.csv", ORDER_HEADER[1:],
                      [["ColleagueCo", "NVIDIA", "h20-96gb", "500", "2024-11-01", "one"],
                       ["ColleagueCo", "NVIDIA", "h20-96gb", "700", "2024-12-01", "two"]])
    assert window.import_csv("orders", path) == 2
    first = sorted(o[0] for o in _orders(store))[-2:]
    asked: list[str] = []
    monkeypatch.setattr(gui.commands, "ask_to_add_twins", lambda question: asked.append(question) or False)
    before, depth = _orders(store), window.undo_stack.count()
    assert window.import_csv("orders", path) is None
    assert asked == [f"Add 2 more order(s) equal to stored ones?\n\nsheet.csv has 2 row(s) without an id equal to "
                     f"stored orders ({first[0]}, {first[1]}) in every field and delivery: imported before? Yes adds "
                     "them as more orders; No imports nothing."]
    assert _orders(store) == before and window.undo_stack.count() == depth
    assert window.fleet_panel.banner.text() == ("sheet.csv: nothing imported: 2 row(s) equal stored orders in every "
                                                "field and delivery; kept as they are")
    monkeypatch.setattr(gui.commands, "ask_to_add_twins", lambda question: True)
    assert window.import_csv("orders", path) == 2
    assert len(_orders(store)) == len(before) + 2
    window.undo_stack.undo()
    assert _orders(store) == before
