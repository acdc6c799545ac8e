"""Unhandled exceptions: log them to a rotating file and tell the user once, keep the app alive.

Shape borrowed from Friture's exception handler: the hook never raises, never blocks a test run
(no dialog without a QApplication), and survives windowed launches where `sys.stderr` is None.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import platform
import sys
import traceback
from pathlib import Path

LOGGER_NAME = "fleetcast.crash"
LOG_FILE_NAME = "fleetcast.log"

_state = {"log_path": None, "shown": False, "previous_hook": None}


def resolve_log_dir(override: str | os.PathLike | None = None) -> Path:
    """Where logs go: the argument, else $FLEETCAST_LOG_DIR, else the platformdirs user log dir."""
    if override:
        return Path(override)
    env = os.environ.get("FLEETCAST_LOG_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_log_dir("fleetcast", appauthor=False))


def _logger(path: Path) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        if getattr(handler, "baseFilename", None) != str(path):
            logger.removeHandler(handler)
            handler.close()
    if not logger.handlers:
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3,
                                                       encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    return logger


def install_excepthook(log_dir: str | os.PathLike | None = None) -> Path:
    """Route unhandled exceptions to the log (and one message box). Returns the log file path."""
    directory = resolve_log_dir(log_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOG_FILE_NAME
    _logger(path)
    _state["log_path"] = path
    _state["shown"] = False
    if sys.excepthook is not handle_exception:
        _state["previous_hook"] = sys.excepthook
    sys.excepthook = handle_exception
    return path


def uninstall_excepthook() -> None:
    if sys.excepthook is handle_exception:
        sys.excepthook = _state["previous_hook"] or sys.__excepthook__
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def current_log_path() -> Path | None:
    return _state["log_path"]


def _context() -> str:
    from engine import __version__

    parts = [f"fleetcast {__version__}", f"python {platform.python_version()}",
             f"{platform.system()} {platform.release()}"]
    try:
        import PySide6

        parts.append(f"PySide6 {PySide6.__version__}")
    except ImportError:  # pragma: no cover
        pass
    return ", ".join(parts)


def handle_exception(exc_type, exc_value, exc_tb) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        (_state["previous_hook"] or sys.__excepthook__)(exc_type, exc_value, exc_tb)
        return
    text = "".join(traceback.format_exception(exc_type, exc_value, exc_tb))
    path = _state["log_path"]
    try:
        if path is not None:
            _logger(path).error("Unhandled exception (%s)\n%s", _context(), text)
    except Exception:  # logging must never raise out of the hook
        pass
    if sys.stderr is not None:  # None in pythonw / gui-scripts launches
        try:
            sys.stderr.write(text)
        except Exception:
            pass
    _show_message_once(exc_value, path)


def _show_message_once(exc_value, path: Path | None) -> None:
    if _state["shown"]:
        return
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox
    except ImportError:  # pragma: no cover
        return
    app = QApplication.instance()
    if app is None:
        return
    _state["shown"] = True
    where = f"\n\nDetails were written to:\n{path}" if path else ""
    try:
        QMessageBox.critical(
            app.activeWindow(), "Fleetcast: unexpected error",
            f"Something went wrong: {type(exc_value).__name__}: {exc_value}{where}\n\n"
            "Fleetcast keeps running; unsaved view state may be stale. "
            "Further errors this session go to the same log without this message.")
    except Exception:
        pass
