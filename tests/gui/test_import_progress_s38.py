"""File > Import of a large file showed nothing for as long as it took (234,000 orders: about a
minute) and could not be stopped. It now reports progress in a dialog with Cancel; a cancel
leaves the store and the undo history as they were."""

import csv

from gui.widgets import progress_dialog

HEADER = ["buyer", "vendor", "chip_id", "quantity", "order_date", "price_usd_per_chip", "note", "deliveries"]


def _orders_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow([f"Buyer {i}", "NVIDIA", "h20-96gb", 100 + i, "2024-01-01", 12500, "", "2024-06-15:50"])


def test_a_cancelled_import_writes_nothing_and_keeps_the_history(window, store, tmp_path, monkeypatch):
    _orders_csv(tmp_path / "big.csv", 2500)
    window.fleet_panel.order_model.setData(window.fleet_panel.orders_table.source_index(1, "buyer"), "X")
    assert window.undo_stack.count() == 1
    before = store.order_rows()
    labels = []
    real_progress = progress_dialog.WorkDialog.progress

    def progress(self, fraction, message=""):
        labels.append(message)
        real_progress(self, fraction, message)

    monkeypatch.setattr(progress_dialog.WorkDialog, "progress", progress)
    monkeypatch.setattr(progress_dialog.WorkDialog, "should_stop", lambda self: len(labels) >= 3)
    assert window.import_csv("orders", str(tmp_path / "big.csv")) is None
    assert store.order_rows() == before
    assert window.undo_stack.count() == 1 and window.undo_stack.index() == 1
    assert window.statusBar().currentMessage() == "Import of big.csv cancelled: nothing was imported"
    assert labels[:3] == ["big.csv: Reading the stored rows…", "big.csv: Checking and writing the file's rows…",
                          "big.csv: Checking and writing the file's rows…"]


def test_an_import_that_runs_through_is_one_undoable_step(window, store, tmp_path):
    _orders_csv(tmp_path / "big.csv", 1500)
    count = len(store.order_rows())
    assert window.import_csv("orders", str(tmp_path / "big.csv")) == 1500
    assert len(store.order_rows()) == count + 1500
    window.undo_stack.undo()
    assert len(store.order_rows()) == count
    window.undo_stack.redo()   # redo swaps the kept rows: no progress dialog, nothing read again
    assert len(store.order_rows()) == count + 1500
