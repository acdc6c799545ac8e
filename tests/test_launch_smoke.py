"""The real entry point, in a subprocess, offscreen: it opens the window and quits cleanly."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _launch(args, tmp_path, timeout=60):
    env = dict(os.environ)  # conftest already isolated XDG dirs, FLEETCAST_DB and the log dir
    env.update(QT_QPA_PLATFORM="offscreen", FLEETCAST_SMOKE_EXIT_MS="1500", PYTHONFAULTHANDLER="1")
    return subprocess.run([sys.executable, "-m", "gui", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _no_python_errors(result):
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream, stream
        assert "Error" not in stream.replace("error:", ""), stream


def test_window_opens_and_quits_cleanly(tmp_path):
    db = tmp_path / "smoke.db"
    result = _launch(["--db", str(db)], tmp_path)
    _no_python_errors(result)
    assert result.returncode == 0, result.stderr
    assert "FLEETCAST_SHOWN" in result.stdout
    assert db.exists()  # created and seeded on first launch
    # Settings were written on close (window geometry).
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "Fleetcast" / "Fleetcast.conf"
    assert config.exists() and "geometry" in config.read_text()
    # A second launch reuses the database and the saved geometry.
    again = _launch(["--db", str(db)], tmp_path)
    _no_python_errors(again)
    assert again.returncode == 0


def test_damaged_database_exits_1_with_message_naming_file(tmp_path):
    bad = tmp_path / "not-a-db.db"
    bad.write_text("this is not sqlite\n")
    result = _launch(["--db", str(bad)], tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(bad) in result.stderr
    assert bad.read_text() == "this is not sqlite\n"  # left unchanged


def test_damaged_database_offscreen_exits_1_without_waiting_for_an_answer(tmp_path):
    """Without the smoke hook, offscreen: the recovery question had no one to answer it, and the
    process hung after printing the error (a CI job or script stalled until killed)."""
    bad = tmp_path / "text.db"
    bad.write_text("hello world\n")
    env = dict(os.environ)
    env.pop("FLEETCAST_SMOKE_EXIT_MS", None)
    env.update(QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-m", "gui", "--db", str(bad)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and str(bad) in result.stderr and "Traceback" not in result.stderr
