"""The launcher's system-library check: what it reports, and that headless use never hits it."""

import io
import shutil

import pytest

from gui import syslibs

# What `ldd libqxcb.so` printed on a Debian 12 machine without libxcb-icccm4 / libxcb-keysyms1
# (abridged; the unresolved libraries appear once per library that needs them).
LDD_DEBIAN_BARE = """\
\tlinux-vdso.so.1 (0x00007fe6857eb000)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007fe684b79000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007fe6856f7000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibEGL.so.1 => not found
\tlibQt6Gui.so.6 => /opt/x/PySide6/Qt/lib/libQt6Gui.so.6 (0x00007fe683ed5000)
"""


def test_missing_libraries_are_named_once_with_both_install_commands():
    message = syslibs.check_xcb(ldd_output=LDD_DEBIAN_BARE)
    first, *rest = message.splitlines()
    assert first.endswith("missing system libraries: libxcb-cursor.so.0, libxcb-icccm.so.4, "
                          "libxcb-keysyms.so.1, libEGL.so.1")
    assert "  Debian/Ubuntu: sudo apt-get install libegl1 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in rest
    assert "  Fedora:        sudo dnf install libglvnd-egl xcb-util-cursor xcb-util-keysyms xcb-util-wm" in rest


def test_nothing_missing_means_no_message():
    resolved = "\n".join(line for line in LDD_DEBIAN_BARE.splitlines() if "not found" not in line)
    assert syslibs.check_xcb(ldd_output=resolved) is None


def test_unknown_library_gets_a_search_hint_not_a_wrong_package():
    message = syslibs.install_message(["libfoo-bar.so.7"])
    assert "apt-get" not in message
    assert "apt-file search NAME" in message and "libfoo-bar.so.7" in message


@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_real_ldd_on_a_plugin_cut_off_from_its_libraries(tmp_path, monkeypatch):
    """The real plugin copied alone: its RPATH ($ORIGIN/../../lib) now points at nothing."""
    plugin = syslibs.xcb_plugin_path()
    assert plugin is not None, "PySide6 ships libqxcb.so on Linux"
    lonely = tmp_path / "platforms" / "libqxcb.so"
    lonely.parent.mkdir()
    shutil.copy(plugin, lonely)
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path / "nowhere"))
    message = syslibs.check_xcb(plugin=lonely)
    assert message is not None
    assert "libQt6XcbQpa.so.6" in message and "libQt6Gui.so.6" in message
    assert "PySide6 install is incomplete" in message


def test_gate_prints_and_refuses_only_when_xcb_is_needed(monkeypatch):
    monkeypatch.setattr(syslibs, "check_xcb", lambda: syslibs.install_message(["libxcb-cursor.so.0"]))
    out = io.StringIO()
    assert syslibs.check_before_window({"QT_QPA_PLATFORM": "xcb"}, stream=out) is False
    assert "sudo apt-get install libxcb-cursor0" in out.getvalue()
    assert "sudo dnf install xcb-util-cursor" in out.getvalue()
    assert syslibs.check_before_window({"QT_QPA_PLATFORM": "offscreen"}, stream=out) is True
    assert syslibs.check_before_window({"WAYLAND_DISPLAY": "wayland-0"}, stream=out) is True
    assert syslibs.check_before_window({}, stream=io.StringIO()) is False  # X11 default


def test_launcher_stops_with_exit_1_but_subcommands_run(monkeypatch, capsys, tmp_path):
    from gui.__main__ import main

    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(syslibs, "check_xcb", lambda: syslibs.install_message(["libxcb-icccm.so.4"]))
    assert main(["--db", str(tmp_path / "x.db")]) == 1
    err = capsys.readouterr().err
    assert "libxcb-icccm4" in err and "xcb-util-wm" in err
    assert not (tmp_path / "x.db").exists()  # stopped before anything was opened
    assert main(["--db", str(tmp_path / "x.db"), "chips", "list"]) == 0  # headless: never checked


def test_no_display_is_said_in_one_line_instead_of_qts_abort(monkeypatch):
    """An SSH session: Qt aborted blaming xcb-cursor, which was installed."""
    monkeypatch.setattr(syslibs, "check_xcb", lambda: None)
    monkeypatch.setattr(syslibs.sys, "platform", "linux")
    out = io.StringIO()
    assert syslibs.check_before_window({}, stream=out) is False
    assert out.getvalue().startswith("fleetcast: error: no display") and "QT_QPA_PLATFORM=offscreen" in out.getvalue()
    assert syslibs.check_before_window({"DISPLAY": ":0"}, stream=io.StringIO()) is True
    assert syslibs.check_before_window({"QT_QPA_PLATFORM": "offscreen"}, stream=io.StringIO()) is True
