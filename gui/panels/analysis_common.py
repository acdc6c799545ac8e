"""Moved to gui.panels.base (kept so code written against the old name still imports)."""

from gui.panels.base import *  # noqa: F401,F403
from gui.panels.base import (  # noqa: F401  (names the star import skips)
    _DATE_TEXT, _GROUPED_TEXT, _NUMBER_TEXT,
)
