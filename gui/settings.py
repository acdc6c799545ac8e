"""UI state in QSettings (domain data lives in SQLite). Always read with `type=`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORG = "Fleetcast"
APP = "Fleetcast"


def settings() -> QSettings:
    return QSettings(ORG, APP)


def last_dir(kind: str) -> str:
    """The folder last used for `kind` ('import', 'export'), else the user's documents folder."""
    value = settings().value(f"paths/last_{kind}_dir", "", type=str)
    if value and Path(value).is_dir():
        return value
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return docs if docs and Path(docs).is_dir() else str(Path.home())


def remember_dir(kind: str, file_path: str) -> None:
    folder = str(Path(file_path).parent)
    settings().setValue(f"paths/last_{kind}_dir", folder)
