"""Help > Quick start names every area of the window, and both texts stay a two-minute read."""

import re

from gui import help_text
from gui.panels.registry import PANELS


def _words(html: str) -> int:
    return len(re.sub(r"<[^>]+>", " ", html).split())


def test_quick_start_names_every_area():
    for spec in PANELS:
        assert f"<b>{spec.title}</b>" in help_text.QUICK_START, spec.title


def test_help_reads_in_two_minutes():
    # about 250 words a minute
    assert _words(help_text.QUICK_START) + _words(help_text.GLOSSARY) <= 550
