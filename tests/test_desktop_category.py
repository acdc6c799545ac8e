"""The .desktop template: one main category (the Desktop Menu spec), and validator-clean."""

import configparser
import shutil
import subprocess

from gui import commands_cli

# The main categories of the freedesktop.org Desktop Menu Specification.
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network",
                   "Office", "Science", "Settings", "System", "Utility"}


def _entry(text: str) -> dict:
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return dict(parser["Desktop Entry"])


def test_exactly_one_main_category(tmp_path):
    entry = _entry(commands_cli.desktop_entry_text(["/opt/fleetcast/fleetcast"], tmp_path / "fleetcast.svg"))
    categories = [c for c in entry["Categories"].split(";") if c]
    assert [c for c in categories if c in MAIN_CATEGORIES] == ["Office"]


def test_desktop_file_validate_is_clean(tmp_path):
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        import pytest

        pytest.skip("desktop-file-validate not installed (Debian: desktop-file-utils)")
    desktop = tmp_path / "fleetcast.desktop"
    icon = tmp_path / "fleetcast.svg"
    icon.write_text("<svg/>")
    desktop.write_text(commands_cli.desktop_entry_text(["/opt/fleetcast/fleetcast"], icon), encoding="utf-8")
    result = subprocess.run([validator, str(desktop)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout
