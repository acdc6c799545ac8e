"""Test setup: offscreen Qt, isolated settings and data dirs, no unexpected modal dialogs."""

import gc
import os
import sys
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["PYQTGRAPH_QT_LIB"] = "PySide6"

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Every test gets its own data dir, log dir, settings and default database."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("FLEETCAST_DB", str(tmp_path / "fleetcast-test.db"))
    monkeypatch.setenv("FLEETCAST_LOG_DIR", str(tmp_path / "logs"))
    if "PySide6.QtCore" in sys.modules:
        # Qt reads XDG_CONFIG_HOME once per process: point QSettings at this test's folder so a
        # window's saved tab or scenario never leaks into the next test.
        from PySide6.QtCore import QSettings

        for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
            QSettings.setPath(fmt, QSettings.Scope.UserScope, str(home / "config"))
    yield


def pytest_configure(config):
    # The suite runs as the app does (gui.app.collect_garbage_on_gui_thread): no automatic cyclic
    # GC, which could start inside a Qt call holding a Qt lock and free a QObject whose destructor
    # needs that lock (a hang seen in test_analysis_panels_are_built_when_first_shown). Garbage is
    # collected between tests instead, on the main thread, where no Qt lock is held.
    gc.disable()


def _parentless_windows() -> dict:
    """Application windows made by Python code: parentless QMainWindow / QDialog subclasses.

    Other parentless widgets are left alone: Qt's own helpers (the tooltip label, completer
    popups) are referenced by Qt, and widgets a module caches for reuse would be dead for the
    next test; both are freed by their owners or by the collection below.
    """
    from PySide6.QtWidgets import QApplication, QDialog, QMainWindow
    from shiboken6 import getCppPointer

    return {getCppPointer(w)[0]: w for w in QApplication.topLevelWidgets()
            if w.parentWidget() is None and isinstance(w, (QMainWindow, QDialog))
            and not type(w).__module__.startswith("PySide6")}


_FULL_COLLECTION_EVERY = 25  # tests; a full collection costs ~0.15 s with Qt and pyqtgraph loaded
_tests_since_full_collection = 0


def _collect_garbage() -> None:
    """Collect the young generations (what the test just made, ~ms); everything now and then."""
    global _tests_since_full_collection
    _tests_since_full_collection += 1
    if _tests_since_full_collection >= _FULL_COLLECTION_EVERY:
        _tests_since_full_collection = 0
        gc.collect()
    else:
        gc.collect(1)


@pytest.fixture(autouse=True)
def _settings_per_test(tmp_path):
    """Each test's QSettings in its own folder, in both formats.

    `QSettings(org, app)` (what gui.settings uses) is NativeFormat whatever the default format,
    and Qt reads XDG_CONFIG_HOME once per process: without this, a window closed by one test
    (saving its area and geometry) hands its state to the next test's window.
    """
    if _qt_loaded():
        from PySide6.QtCore import QSettings

        for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
            for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
                QSettings.setPath(fmt, scope, str(tmp_path / "qsettings"))
    yield


@pytest.fixture(autouse=True)
def _windows_deleted_and_garbage_collected():
    """After each test: close and delete the windows it left, then collect garbage (a safe point)."""
    before = set(_parentless_windows()) if _qt_loaded() else set()
    yield
    if _qt_loaded():
        from PySide6.QtCore import QCoreApplication, QEvent, QThreadPool
        from PySide6.QtWidgets import QApplication

        if QApplication.instance() is not None:
            for key, widget in _parentless_windows().items():
                if key in before:
                    continue
                if widget.isVisible():
                    widget.close()
                widget.deleteLater()
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            QCoreApplication.processEvents()
            # A window closed here may have cancelled work still unwinding: the next test starts
            # with an idle pool (its own close-and-wait checks must not see this test's workers).
            QThreadPool.globalInstance().waitForDone(10000)
    _collect_garbage()


@pytest.fixture
def shared_dir() -> Path:
    return SHARED


def _qt_loaded() -> bool:
    return "PySide6.QtWidgets" in sys.modules


@pytest.fixture(autouse=True)
def _no_modal_dialogs(request, monkeypatch):
    """A modal dialog in a test would hang the suite: make it a failure instead.

    Tests that expect a dialog patch the specific call themselves (monkeypatch wins: it is
    applied after this fixture).
    """
    if not _qt_loaded() and "qtbot" not in request.fixturenames:
        yield
        return
    from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox

    def _fail(name):
        def raiser(*args, **kwargs):
            raise AssertionError(f"unexpected modal dialog: {name} {args[1:3] if len(args) > 1 else ''}")
        return staticmethod(raiser) if name != "QDialog.exec" else raiser

    for name in ("critical", "warning", "information", "question", "about"):
        monkeypatch.setattr(QMessageBox, name, _fail(f"QMessageBox.{name}"))
    for name in ("getOpenFileName", "getSaveFileName", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, _fail(f"QFileDialog.{name}"))
    for name in ("getText", "getInt", "getDouble", "getItem"):
        monkeypatch.setattr(QInputDialog, name, _fail(f"QInputDialog.{name}"))
    monkeypatch.setattr(QDialog, "exec", _fail("QDialog.exec"))
    monkeypatch.setattr(QMessageBox, "exec", _fail("QMessageBox.exec"))
    yield
    from PySide6.QtCore import QThreadPool

    assert QThreadPool.globalInstance().waitForDone(5000), "worker threads still running after test"


@pytest.fixture
def qsettings_isolated(tmp_path):
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    yield
