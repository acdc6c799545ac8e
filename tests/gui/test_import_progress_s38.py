"""File > Import of a large file showed nothing for as long as it took (234,000 orders: about a
minute) and could not be stopped. It now reports progress in a dialog with Cancel; a cancel
leaves the store and the undo history as they were."""

from gui.widgets import progress_dialog
from tests.store.test_import_progress_s38 import _orders_csv


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
