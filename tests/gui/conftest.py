"""The main window on a fresh seeded database, for the GUI tests that drive it whole (a module may
define its own `store` or `window`, which then wins)."""

import pytest

from engine.store import open_store


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "window.db")
    yield s
    s.close()


@pytest.fixture
def window(store, qtbot, qsettings_isolated):
    from gui.app import MainWindow
    from gui.settings import settings

    w = MainWindow(store)
    qtbot.addWidget(w)
    yield w
    for panel in w.panels.values():
        panel.shutdown()
    w.fleet_panel.detach()
    for group in ("window", "scenarios", "fleet"):   # the next test must not inherit them
        settings().remove(group)
