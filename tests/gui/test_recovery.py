"""A database that can't be used: the user is told why and can open another or create a new one."""

import pytest

from engine.store import open_store
from gui.app import MainWindow, open_store_or_recover


@pytest.fixture
def damaged(tmp_path):
    path = tmp_path / "damaged.db"
    path.write_bytes(b"not a database at all" * 50)
    return path


def test_recovery_offers_a_new_database_and_leaves_the_damaged_file(tmp_path, damaged, monkeypatch):
    monkeypatch.delenv("FLEETCAST_SMOKE_EXIT_MS", raising=False)
    before = damaged.read_bytes()
    messages = []
    store = open_store_or_recover(damaged, ask=lambda m: messages.append(m) or "new",
                                  choose_path=lambda create: str(tmp_path / "fresh.db") if create else "")
    assert store is not None and store.path.name == "fresh.db" and len(store.chips()) == 34
    assert len(messages) == 1 and "damaged.db" in messages[0] and "not a Fleetcast database" in messages[0]
    assert damaged.read_bytes() == before
    store.close()


def test_recovery_quit_returns_none(damaged, monkeypatch):
    monkeypatch.delenv("FLEETCAST_SMOKE_EXIT_MS", raising=False)
    assert open_store_or_recover(damaged, ask=lambda m: "quit", choose_path=lambda c: "") is None


def test_recovery_keeps_asking_until_a_usable_file(tmp_path, damaged, monkeypatch):
    monkeypatch.delenv("FLEETCAST_SMOKE_EXIT_MS", raising=False)
    good = tmp_path / "good.db"
    open_store(good).close()
    answers = iter([str(damaged), str(good)])
    asked = []
    store = open_store_or_recover(damaged, ask=lambda m: asked.append(m) or "open", choose_path=lambda c: next(answers))
    assert store.path == good and len(asked) == 2
    store.close()


def test_open_database_menu_switches_windows(qtbot, tmp_path, qsettings_isolated):
    first_store = open_store(tmp_path / "one.db")
    window = MainWindow(first_store)
    window.owns_store = True
    qtbot.addWidget(window)
    window.show()
    other = tmp_path / "two.db"
    new_window = window.switch_database(create=True, path=str(other))
    qtbot.addWidget(new_window)
    assert new_window.store.path == other and not window.isVisible()
    assert "two.db" in new_window.windowTitle()
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 100)
    assert new_window.switch_database(create=False, path=str(bad)) is None
    assert new_window.isVisible() and "bad.db" in new_window.fleet_panel.banner.text()
    # the window's words, not the command line's: File > Open database…, not --db NEW.db
    assert "File > New database" in new_window.fleet_panel.banner.text()
    assert "--db" not in new_window.fleet_panel.banner.text()
    new_window.close()


def test_new_database_on_an_existing_database_leaves_it_and_says_open_it(qtbot, tmp_path, qsettings_isolated):
    """The save dialog's "Replace?" let File > New database open the old file, data and all, as if new."""
    window = MainWindow(open_store(tmp_path / "one.db"))
    window.owns_store = True
    qtbot.addWidget(window)
    existing = tmp_path / "kept.db"
    keeper = open_store(existing)
    keeper.delete_scenario("Huawei delivers half")   # its own data, which a "new" file must not show
    keeper.close()
    before = existing.read_bytes()
    assert window.switch_database(create=True, path=str(existing)) is None
    said = window.fleet_panel.banner.text()
    assert said.startswith(f"{existing}: already exists, so it was left unchanged") and "File > Open" in said
    assert existing.read_bytes() == before and not (tmp_path / "kept.db-wal").exists()
    window.close()


@pytest.mark.parametrize("create", [False, True])
def test_an_empty_file_made_a_database_says_so(qtbot, tmp_path, qsettings_isolated, create):
    window = MainWindow(open_store(tmp_path / "one.db"))
    window.owns_store = True
    qtbot.addWidget(window)
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    opened = window.switch_database(create=create, path=str(empty))
    assert opened is not None
    qtbot.addWidget(opened)
    assert opened.fleet_panel.banner.text().startswith(f"{empty}: was an empty file; it now holds a new database "
                                                       "with the demo chips, orders and scenarios")
    opened.close()


def test_an_empty_file_given_at_start_says_it_was_filled(qtbot, tmp_path, qsettings_isolated):
    """An empty file opened at start (`make run` on a touched file) was filled with the demo data
    in silence; File > Open said so. The store's notice says it, wherever the file is opened."""
    empty = tmp_path / "touched.db"
    empty.write_bytes(b"")
    window = MainWindow(open_store(empty))
    window.owns_store = True
    qtbot.addWidget(window)
    assert window.fleet_panel.banner.text() == (f"{empty}: was an empty file; it now holds a new database with the "
                                                "demo chips, orders and scenarios")
    window.close()
