"""QA s32: the window did not notice its database file replaced underneath it and kept taking edits
into the orphaned file. Its 2-second look now says so, once, and the store refuses the edits."""

from __future__ import annotations

import shutil

from engine.store import open_store


def test_the_window_says_once_that_its_file_was_replaced(window, store, tmp_path):
    other = tmp_path / "other.db"
    open_store(other).close()
    window.check_external_changes()
    assert "replaced" not in window.statusBar().currentMessage()
    shutil.copy(other, tmp_path / "new.db")
    (tmp_path / "new.db").replace(store.path)
    window.check_external_changes()
    said = window.statusBar().currentMessage()
    assert "replaced by another file" in said and "File > Open" in said
    assert "replaced by another file" in window.fleet_panel.banner.text()
    window.statusBar().clearMessage()
    window.check_external_changes()   # said once, not every 2 s
    assert window.statusBar().currentMessage() == ""
