"""Before opening a window: can Qt's X11 (xcb) platform plugin load on this machine?

PySide6 wheels carry Qt itself but not the system X11/OpenGL libraries the xcb plugin links to.
When one is missing, Qt aborts with a message that names at most one of them (a bare desktop
often lacks three). Here `ldd` lists every shared library of the plugin that the dynamic loader
cannot find, and the user gets one install command per distribution family.

Run as `python -m gui.syslibs` (exit 1 with the message when something is missing) or through
`check_before_window()`, which the launcher calls. Headless use never reaches this: subcommands
and `QT_QPA_PLATFORM=offscreen` (or any platform other than xcb) skip the check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora package). The list is what `ldd libqxcb.so` shows for
# PySide6 6.10 (direct and indirect dependencies outside the wheel), checked on Debian 12.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libXau.so.6": ("libxau6", "libXau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
}

# The X11/OpenGL libraries a minimal desktop may lack (README lists these).
DOCUMENTED_DEBIAN = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0", "libxcb-render-util0",
                     "libxcb-randr0", "libxcb-shape0", "libxcb-xkb1", "libxkbcommon-x11-0", "libegl1", "libgl1",
                     "libfontconfig1", "libdbus-1-3")
DOCUMENTED_FEDORA = ("xcb-util-cursor", "xcb-util-wm", "xcb-util-keysyms", "xcb-util-image", "xcb-util-renderutil",
                     "libxcb", "libxkbcommon-x11", "libglvnd-egl", "libglvnd-glx", "fontconfig", "dbus-libs")

_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found\s*$")


def xcb_plugin_path() -> Path | None:
    """The xcb platform plugin of the PySide6 in use (also inside a PyInstaller bundle)."""
    try:
        from PySide6.QtCore import QLibraryInfo
    except ImportError:
        return None
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
    candidate = plugins / "platforms" / "libqxcb.so"
    return candidate if candidate.is_file() else None


def run_ldd(path: Path, env: dict | None = None) -> str | None:
    """`ldd path` output, or None where ldd is unavailable (then nothing can be said)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        done = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=20, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def missing_from_ldd(ldd_output: str) -> list[str]:
    """Sonames that ldd could not resolve, in first-seen order, each once."""
    missing: list[str] = []
    for line in ldd_output.splitlines():
        match = _NOT_FOUND.match(line)
        if match and match.group(1) not in missing:
            missing.append(match.group(1))
    return missing


def install_message(missing: list[str]) -> str:
    """What to tell the user: the missing files and one install command per distribution."""
    qt_own = [name for name in missing if name.startswith("libQt6") or name.startswith("libpyside6")
              or name.startswith("libshiboken6")]
    known = [name for name in missing if name in PACKAGES]
    unknown = [name for name in missing if name not in PACKAGES and name not in qt_own]
    lines = [f"fleetcast: error: the Qt X11 platform plugin cannot load; missing system libraries: {', '.join(missing)}"]
    if known:
        debian = sorted({PACKAGES[name][0] for name in known})
        fedora = sorted({PACKAGES[name][1] for name in known})
        lines.append("Install them, then start Fleetcast again:")
        lines.append(f"  Debian/Ubuntu: sudo apt-get install {' '.join(debian)}")
        lines.append(f"  Fedora:        sudo dnf install {' '.join(fedora)}")
    if qt_own:
        lines.append(f"Qt's own libraries are missing ({', '.join(qt_own)}): the PySide6 install is incomplete; "
                     "reinstall it (make clean && make run) or rebuild the bundle.")
    if unknown:
        lines.append(f"Find the package for {', '.join(unknown)} with your package manager "
                     "(apt-file search NAME / dnf provides '*/NAME').")
    lines.append("Headless use needs none of the xcb libraries: fleetcast SUBCOMMAND ... (export and report "
                 "draw offscreen, with EGL, GL, fontconfig, xkbcommon and D-Bus).")
    return "\n".join(lines)


_SONAME = re.compile(r"(lib[\w.+-]+?\.so(?:\.\d+)*)")


def headless_qt_message(error_text: str, command: str) -> str:
    """One line for a subcommand that draws with Qt offscreen (`export`, `report`) when PySide6's
    import fails on a missing or broken system library: which one, and the package that brings it
    (QA s41: a 22-line traceback ending in "libEGL.so.1: file too short"). Offscreen Qt still links
    EGL, GL, fontconfig, xkbcommon and D-Bus; the xcb plugin's libraries it does not need."""
    names = list(dict.fromkeys(m for m in _SONAME.findall(error_text) if not m.startswith(("libQt6", "libpyside6",
                                                                                             "libshiboken6"))))
    known = [n for n in names if n in PACKAGES]
    said = f" ({error_text.strip().splitlines()[-1] if error_text.strip() else 'no reason given'})"
    if known:
        fix = (f"install it: sudo apt-get install {' '.join(sorted({PACKAGES[n][0] for n in known}))} "
               f"(Debian/Ubuntu) or sudo dnf install {' '.join(sorted({PACKAGES[n][1] for n in known}))} (Fedora)")
    elif names:
        fix = f"find the package for {', '.join(names)} (apt-file search NAME / dnf provides '*/NAME')"
    else:
        fix = "reinstall PySide6 (make clean && make test)"
    return (f"{command} draws its charts with Qt, offscreen, and Qt cannot load here{said}: {fix}; the other "
            "subcommands need no Qt")


def needs_xcb(environ=None) -> bool:
    """True when Qt will use the xcb plugin for a window: no other platform chosen, no Wayland."""
    environ = os.environ if environ is None else environ
    platform = environ.get("QT_QPA_PLATFORM", "").strip()
    if platform:
        return platform.split(":")[0].split(";")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def check_xcb(plugin: Path | None = None, ldd_output: str | None = None) -> str | None:
    """The install message when the xcb plugin can't load, else None (also when unknowable)."""
    if ldd_output is None:
        plugin = plugin or xcb_plugin_path()
        if plugin is None:
            return None
        ldd_output = run_ldd(plugin)
        if ldd_output is None:
            return None
    missing = missing_from_ldd(ldd_output)
    return install_message(missing) if missing else None


NO_DISPLAY_MESSAGE = ("fleetcast: error: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set, "
                      "as in an SSH session); run a headless command instead (fleetcast --help lists them, e.g. "
                      "fleetcast forecast), or set QT_QPA_PLATFORM=offscreen")


def check_before_window(environ=None, stream=None) -> bool:
    """The launcher's gate: False (after printing what to do) when a window can't open: no display
    at all (Qt aborted there, blaming xcb-cursor although it was installed), or system libraries
    the xcb plugin needs are missing."""
    environ = os.environ if environ is None else environ
    if not needs_xcb(environ):
        return True
    message = check_xcb()
    if message is None and sys.platform.startswith("linux") and not environ.get("DISPLAY"):
        message = NO_DISPLAY_MESSAGE
    if message is None:
        return True
    print(message, file=stream or sys.stderr)
    return False


def main(argv=None) -> int:
    """`python -m gui.syslibs`: exit 0 when the xcb plugin can load, 1 with the message if not."""
    message = check_xcb()
    if message is not None:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
