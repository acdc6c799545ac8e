"""The crash hook logs tracebacks with context, tells the user once, and never raises itself."""

import sys

import pytest
from PySide6.QtWidgets import QMessageBox

from gui import crash


@pytest.fixture
def hook(tmp_path):
    path = crash.install_excepthook(tmp_path / "logs")
    yield path
    crash.uninstall_excepthook()


def _raise_and_handle(exc):
    try:
        raise exc
    except type(exc):
        crash.handle_exception(*sys.exc_info())


def test_log_file_gets_traceback_and_context(hook, qapp, monkeypatch, capsys):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda *a: shown.append(a[2])))
    _raise_and_handle(ValueError("bad bandwidth 7e99"))
    text = hook.read_text()
    assert "ValueError: bad bandwidth 7e99" in text
    assert "Traceback" in text and "fleetcast" in text and "python" in text
    assert len(shown) == 1 and str(hook) in shown[0]
    _raise_and_handle(KeyError("second"))
    assert "KeyError: 'second'" in hook.read_text()
    assert len(shown) == 1  # told once per session
    assert "ValueError" in capsys.readouterr().err


def test_default_dir_comes_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEETCAST_LOG_DIR", str(tmp_path / "envlogs"))
    path = crash.install_excepthook()
    try:
        assert path == tmp_path / "envlogs" / "fleetcast.log"
        assert sys.excepthook is crash.handle_exception
    finally:
        crash.uninstall_excepthook()
    assert sys.excepthook is not crash.handle_exception


def test_platformdirs_log_dir_without_env(monkeypatch, tmp_path):
    monkeypatch.delenv("FLEETCAST_LOG_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert crash.resolve_log_dir() == tmp_path / "state" / "fleetcast" / "log"


def test_windowed_launch_without_stderr_still_logs(hook, monkeypatch, qapp):
    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda *a: None))
    _raise_and_handle(RuntimeError("no console here"))
    assert "RuntimeError: no console here" in hook.read_text()
