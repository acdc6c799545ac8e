"""`export` and `report` draw with Qt offscreen, and Qt links system libraries (libEGL, libGL, ...)
even then. With one missing or broken they ended in a 22-26 line traceback (QA s41); now one line
names the library and the package that brings it, and nothing is written."""

import os
import subprocess
import sys

from gui.syslibs import headless_qt_message


def test_the_message_names_the_library_and_its_packages():
    text = headless_qt_message("libEGL.so.1: cannot open shared object file: No such file or directory", "export")
    assert text.startswith("export draws its charts with Qt, offscreen, and Qt cannot load here (libEGL.so.1: ")
    assert "sudo apt-get install libegl1 (Debian/Ubuntu) or sudo dnf install libglvnd-egl (Fedora)" in text
    assert "\n" not in text
    odd = headless_qt_message("/x/libfoo.so.3: file too short", "report")
    assert "find the package for libfoo.so.3" in odd and odd.startswith("report draws")
    # Qt's own libraries are the wheel's: reinstall, not a system package
    own = headless_qt_message("libQt6Gui.so.6: cannot open shared object file", "export")
    assert "reinstall PySide6" in own


def test_a_broken_libegl_is_one_line_for_export_and_report(tmp_path):
    fake = tmp_path / "fakelib"
    fake.mkdir()
    (fake / "libEGL.so.1").write_bytes(b"")   # "file too short" to the loader, as a broken install
    env = dict(os.environ, LD_LIBRARY_PATH=str(fake), QT_QPA_PLATFORM="offscreen")
    db = str(tmp_path / "q.db")
    for argv, out in ((["export", "--out", str(tmp_path / "charts")], tmp_path / "charts"),
                      (["report", "--out", str(tmp_path / "r.pdf")], tmp_path / "r.pdf")):
        run = subprocess.run([sys.executable, "-m", "gui", "--db", db, *argv], env=env,
                             capture_output=True, text=True, timeout=120)
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 1 and len(lines) == 1, run.stderr
        assert "Traceback" not in run.stderr and "libEGL.so.1: file too short" in lines[0]
        assert "sudo apt-get install libegl1" in lines[0]
        assert not out.exists()
