"""The window shows the store's refusals (damaged structure, in use) and leaves the file alone."""

import sqlite3

import pytest

from engine.store import files, open_store
from gui.app import MainWindow, _ask_recovery, open_store_or_recover


@pytest.fixture
def schema_damaged(tmp_path):
    path = tmp_path / "damaged-schema.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE deliveries")
    conn.commit()
    conn.close()
    return path


def test_open_menu_shows_a_damaged_structure_and_keeps_the_window(qtbot, tmp_path, schema_damaged, qsettings_isolated):
    window = MainWindow(open_store(tmp_path / "one.db"))
    window.owns_store = True
    qtbot.addWidget(window)
    window.show()
    before = schema_damaged.read_bytes()
    assert window.switch_database(create=False, path=str(schema_damaged)) is None
    banner = window.fleet_panel.banner.text()
    assert window.isVisible() and "damaged-schema.db" in banner
    assert "table 'deliveries' is missing" in banner and "Restore a backup" in banner
    assert schema_damaged.read_bytes() == before
    window.close()


def test_start_up_dialog_says_in_use_and_offers_another_file(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("FLEETCAST_SMOKE_EXIT_MS", raising=False)
    monkeypatch.setattr(files, "BUSY_TIMEOUT_S", 0.2)
    busy = tmp_path / "busy.db"
    open_store(busy).close()
    plain = sqlite3.connect(busy)   # a file opening must write (not yet WAL): in use while held
    plain.execute("PRAGMA journal_mode = DELETE")
    plain.close()
    shown = []

    def fake_exec(box):  # the real dialog, not run modally: record what it says, press "Create new…"
        shown.append((box.text(), [b.text() for b in box.buttons()]))
        new_button = next(b for b in box.buttons() if b.text().startswith("Create new"))
        monkeypatch.setattr(type(box), "clickedButton", lambda self: new_button)
        return 0

    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    holder = sqlite3.connect(busy, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        store = open_store_or_recover(busy, ask=_ask_recovery,
                                      choose_path=lambda create: str(tmp_path / "fresh.db") if create else "")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store is not None and store.path.name == "fresh.db"
    store.close()
    text, buttons = shown[0]
    assert "busy.db" in text and "in use" in text and "damaged" not in text
    assert any(b.startswith("Open another") for b in buttons)


def test_start_up_names_a_value_another_tool_wrote(tmp_path, monkeypatch):
    """Refused on open (not when a panel first reads it), so the window never half-builds."""
    monkeypatch.delenv("FLEETCAST_SMOKE_EXIT_MS", raising=False)
    path = tmp_path / "edited.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE orders SET order_date = 'garbage' WHERE id = 1")
    conn.commit()
    conn.close()
    asked = []
    assert open_store_or_recover(path, ask=lambda m: asked.append(m) or "quit", choose_path=lambda c: "") is None
    assert "table orders, row id 1, column order_date: 'garbage'" in asked[0]
