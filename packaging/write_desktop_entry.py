"""Write `fleetcast.desktop` into a built bundle folder, pointing at that folder's binary and icon.

Usage: python packaging/write_desktop_entry.py dist/fleetcast
Double-clicking the file (or copying it to ~/.local/share/applications) starts the bundle; running
`dist/fleetcast/fleetcast install-desktop-entry` adds it to the application menu instead.
"""

from __future__ import annotations

import sys
from pathlib import Path


def write(bundle_dir: Path) -> Path:
    from gui.commands_cli import DESKTOP_FILE_NAME, ICON_FILE_NAME, desktop_entry_text

    bundle_dir = bundle_dir.resolve()
    binary = bundle_dir / "fleetcast"
    icon = bundle_dir / "_internal" / "resources" / ICON_FILE_NAME
    for required in (binary, icon):
        if not required.is_file():
            raise SystemExit(f"{required}: missing; build the bundle first (make bundle)")
    target = bundle_dir / DESKTOP_FILE_NAME
    target.write_text(desktop_entry_text([str(binary)], icon), encoding="utf-8")
    target.chmod(0o755)  # some desktops only trust executable launchers
    return target


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(write(Path(sys.argv[1] if len(sys.argv) > 1 else "dist/fleetcast")))
