"""Ctrl+C and SIGTERM during `fleetcast export` and `report` (QA s25, F4).

Ctrl+C while Qt drew a chart crashed the export (exit 139 in 3 of 30 tries) or printed
pyqtgraph's paint traceback and exited 1; SIGTERM ended it at once without a word (exit 143),
leaving up to 81 staged hidden files in the folder. Now both are only noted while Qt works
(engine.cli.SignalsDeferred): the export stops before its next file, removes what it staged, puts
its panels away and exits 130 or 143 with one line saying what is on disk.

Each end-to-end test runs the command in a subprocess (a crash must not take pytest with it) and
delivers the signal at a chosen point, not after a delay: from inside Qt's drawing of an axis once
a file is staged, or as the first file is moved into place, or from outside once a staged file
exists.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import cli
from engine.errors import Cancelled

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 240   # an export of the demo data takes 15-20 s on two cores

# Runs `fleetcast export|report` in this process with the signal raised at one point:
#   paint: inside pyqtgraph's AxisItem.paint (called by Qt's C++ while a chart is drawn), once
#          a staged file exists in the export folder (export) or a chart PNG in the report's
#          temporary folder (report);
#   move:  right after the first staged file is moved onto its name.
# It writes how many files the export planned to PLANNED (the count the line must give).
DRIVER = r'''
import os, signal, sys
from pathlib import Path

command, mode, signame, db, out, planned_file = sys.argv[1:7]
sig = getattr(signal, signame)
sent = []

import pyqtgraph as pg

from gui import export_all

real_write_all = export_all._write_all


def write_all(plan, *args, **kwargs):
    Path(planned_file).write_text(str(len(plan)))
    return real_write_all(plan, *args, **kwargs)


export_all._write_all = write_all


def staged():
    if command == "export":   # ".NAME.XXXX.tmp.png" (not the write probe made before computing)
        return any(".tmp." in p.name for p in Path(out).iterdir())
    return any(Path(os.environ["TMPDIR"]).glob("*/fleetcast-report-*/*.png"))


if mode == "paint":
    real_paint = pg.AxisItem.paint

    def paint(self, *args):
        if not sent and Path(out if command == "export" else os.environ["TMPDIR"]).exists() and staged():
            sent.append(True)
            signal.raise_signal(sig)
        return real_paint(self, *args)

    pg.AxisItem.paint = paint
elif mode == "move":
    real_move = export_all._move

    def move(tmp, path, *, force):
        real_move(tmp, path, force=force)
        if not sent:
            sent.append(True)
            signal.raise_signal(sig)

    export_all._move = move

from gui.__main__ import main

code = main(["--db", db, command, "--out", out])
if not sent:
    print("driver: the signal was never sent", file=sys.stderr)
sys.exit(code)
'''


def _env(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    home = tmp_path / "home"
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO), "TMPDIR": str(temp),
            "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}


def _default_signals():
    """As in a terminal: a shell's background job starts with SIGINT ignored, and Python then
    never installs its Ctrl+C handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def drive(tmp_path, command, mode, signame, out):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    planned = tmp_path / "planned.txt"
    proc = subprocess.run([sys.executable, str(driver), command, mode, signame, str(tmp_path / "f.db"), str(out),
                           str(planned)], capture_output=True, text=True, env=_env(tmp_path), cwd=REPO,
                          timeout=RUN_TIMEOUT_S, preexec_fn=_default_signals)
    return proc, int(planned.read_text()) if planned.exists() else None


def whole(path: Path) -> bool:
    data = path.read_bytes()
    if path.suffix == ".png":
        return data.endswith(b"\x00\x00\x00\x00IEND\xaeB`\x82")
    if path.suffix == ".svg":
        return data.rstrip().endswith(b"</svg>")
    return data.count(b"\n") >= 2


@pytest.mark.slow
def test_ctrl_c_while_qt_draws_a_chart_stops_before_the_next_file(tmp_path):
    out = tmp_path / "charts"
    proc, planned = drive(tmp_path, "export", "paint", "SIGINT", out)
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert planned and planned > 50   # the demo data's ~97 files
    assert proc.stderr.splitlines() == [
        f"fleetcast: interrupted; 0 of {planned} files written to {out}; the export stopped before moving any "
        "into place"], proc.stderr[-3000:]
    assert not out.exists()   # nothing under a final name, no staged file, not the folder it made
    assert proc.stdout == ""


@pytest.mark.slow
def test_sigterm_as_the_files_are_moved_finishes_the_moves_and_says_all_were_written(tmp_path):
    out = tmp_path / "charts"
    proc, planned = drive(tmp_path, "export", "move", "SIGTERM", out)
    assert proc.returncode == 143, proc.stderr[-3000:]
    assert proc.stderr.splitlines() == [f"fleetcast: terminated after {planned} files were written to {out}"]
    files = sorted(out.iterdir())
    # stopped half-way the moves would leave the folder a mix of two exports: every file whole
    assert len(files) == planned and all(not f.name.startswith(".") and whole(f) for f in files)


@pytest.mark.slow
def test_sigterm_from_outside_once_a_file_is_staged_leaves_nothing_and_says_so(tmp_path):
    out = tmp_path / "charts"
    proc = subprocess.Popen([sys.executable, "-m", "gui", "--db", str(tmp_path / "f.db"), "export", "--out", str(out)],
                            cwd=REPO, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            # a staged file: ".NAME.XXXX.tmp.png" (not the write probe made before computing)
            if out.is_dir() and any(".tmp." in p.name for p in out.iterdir()):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the export ended before a file was staged"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, err[-3000:]
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fleetcast: terminated; 0 of "), err[-3000:]
    assert lines[0].endswith(f" files written to {out}; the export stopped before moving any into place")
    assert not out.exists()


@pytest.mark.slow
def test_ctrl_c_while_the_report_draws_a_chart_writes_no_pdf_and_says_so(tmp_path):
    out = tmp_path / "r.pdf"
    proc, _ = drive(tmp_path, "report", "paint", "SIGINT", out)
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert proc.stderr.splitlines() == [f"fleetcast: interrupted; no report was written to {out}"]
    assert not out.exists() and not list(tmp_path.glob(".r.pdf.*"))
    assert list((tmp_path / "tmp").iterdir()) == []   # its chart PNGs removed


# ---- the parts, in this process --------------------------------------------------------------

def test_signals_are_noted_in_the_block_and_raised_when_it_ends():
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    after_signal = []
    with pytest.raises(cli.Terminated):
        with cli.SignalsDeferred() as signals:
            signal.raise_signal(signal.SIGTERM)
            after_signal.append(signals.requested())   # the work goes on to a point where it may stop
            signal.raise_signal(signal.SIGINT)   # a second signal does not change the first's exit
    assert after_signal == [True]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_the_check_stops_the_work_and_ctrl_c_is_raised_for_it():
    stopped = []
    with pytest.raises(KeyboardInterrupt) as raised:
        with cli.SignalsDeferred() as signals:
            signals.check()   # nothing yet: goes on
            signal.raise_signal(signal.SIGINT)
            try:
                signals.check()
            except Cancelled:
                stopped.append(True)
                raise
    assert stopped == [True] and type(raised.value) is KeyboardInterrupt


def test_no_signal_leaves_the_block_as_it_was():
    with cli.SignalsDeferred() as signals:
        pass
    assert not signals.requested()
    with pytest.raises(ValueError):   # the work's own error passes through unchanged
        with cli.SignalsDeferred():
            raise ValueError("its own")


def test_an_ignored_signal_stays_ignored():
    """`nohup fleetcast export ...` and a shell's background job start with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with cli.SignalsDeferred() as signals:
            signal.raise_signal(signal.SIGINT)
        assert not signals.requested() and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigterm_during_the_moves_waits_for_the_last_move(tmp_path, monkeypatch):
    import gui.export_all as export_all

    out = tmp_path / "out"
    out.mkdir()
    plan = [(out / name, lambda p: Path(p).write_text("x")) for name in ("a.csv", "b.csv", "c.csv")]
    real_move = export_all._move

    def move_with_sigterm(tmp, path, *, force):
        real_move(tmp, path, force=force)
        if path.name == "a.csv":
            signal.raise_signal(signal.SIGTERM)

    monkeypatch.setattr(export_all, "_move", move_with_sigterm)
    with pytest.raises(cli.Terminated):
        with cli.SignalsDeferred() as signals:
            written = export_all._write_all(plan, out, force=False)
            assert signals.requested() and [p.name for p in written] == ["a.csv", "b.csv", "c.csv"]
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv", "c.csv"]


def test_a_stop_while_staging_says_how_many_files_were_planned_and_leaves_none(tmp_path):
    import gui.export_all as export_all

    out = tmp_path / "out"
    out.mkdir()
    calls = []

    def staging(done):
        calls.append(done)
        if done == 2:   # two files staged, then Ctrl+C
            raise Cancelled()

    plan = [(out / f"{n}.csv", lambda p: Path(p).write_text("x")) for n in "abcde"]
    with pytest.raises(export_all.ExportStopped) as stopped:
        export_all._write_all(plan, out, force=False, staging=staging)
    assert stopped.value.planned == 5 and calls == [0, 1, 2]
    assert list(out.iterdir()) == []


def test_a_chart_check_stops_before_the_chart_is_drawn(tmp_path):
    from gui import export as export_mod

    folder = tmp_path / "charts"
    folder.mkdir()

    def stop():
        raise Cancelled()

    with export_mod.checked_before_each_chart(stop):
        with pytest.raises(Cancelled):
            export_mod.export_png(object(), folder / "c.png")   # not a chart: would fail if drawn
        with pytest.raises(Cancelled):
            export_mod.export_svg(object(), folder / "c.svg")
    assert export_mod._BEFORE_EACH_CHART == [] and list(folder.iterdir()) == []
