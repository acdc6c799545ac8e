"""File > Open Recent: the databases opened last, newest first, kept in QSettings."""

from __future__ import annotations

import os
from pathlib import Path

from gui.settings import settings

RECENT_KEY = "recent/databases"
RECENT_MAX = 8


def recent_databases() -> list[str]:
    """Newest first; only files that still exist (a moved or deleted one drops out)."""
    value = settings().value(RECENT_KEY, [], type=list)  # type=: an INI file may hold one item as a str
    out: list[str] = []
    for item in value or []:
        path = str(item)
        if path and path not in out and Path(path).is_file():
            out.append(path)
    return out[:RECENT_MAX]


def remember_database(path: str | os.PathLike) -> list[str]:
    absolute = str(Path(path).expanduser().absolute())
    items = [absolute] + [p for p in recent_databases() if p != absolute]
    s = settings()
    s.setValue(RECENT_KEY, items[:RECENT_MAX])
    s.sync()
    return items[:RECENT_MAX]


def clear_recent() -> None:
    s = settings()
    s.remove(RECENT_KEY)
    s.sync()
