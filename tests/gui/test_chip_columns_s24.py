"""QA s24: the window's chip catalog shows and edits what changes results: the FP4 rate and the
network's shape (topology, per-pair link, oversubscription) were only in exports."""

from PySide6.QtCore import Qt


def _set(model, key, field, text) -> bool:
    return model.setData(model.index(model.row_of_key(key), model.column_of(field)), text, Qt.ItemDataRole.EditRole)


def _shown(model, key, field) -> str:
    return model.data(model.index(model.row_of_key(key), model.column_of(field)), Qt.ItemDataRole.DisplayRole)


def test_the_chip_table_shows_fp4_and_the_network_and_edits_undo(window, store):
    model = window.fleet_panel.chip_model
    headers = [model.headerData(j, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
               for j in range(model.columnCount())]
    for title in ("FP4 (TFLOP/s)", "Scale-up topology", "Per-pair link (GB/s/dir)", "Scale-out oversubscription"):
        assert title in headers
    assert _shown(model, "ascend-910b2", "scaleup_topology") == store.chip("ascend-910b2").scaleup_topology == "mesh"
    assert _set(model, "h20-96gb", "scaleout_oversubscription", "2")
    assert store.chip("h20-96gb").scaleout_oversubscription == 2.0
    assert not _set(model, "h20-96gb", "scaleout_oversubscription", "0.5")   # below 1: refused, nothing stored
    assert store.chip("h20-96gb").scaleout_oversubscription == 2.0
    window.undo_action.trigger()
    assert not store.chip("h20-96gb").scaleout_oversubscription   # back to blank (non-blocking)
