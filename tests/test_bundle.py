"""The PyInstaller folder app (`make bundle`): built once, then started as a user would, offscreen.

The build is cached under build/bundle-test/<hash of the sources and tool versions>, so a rerun
with unchanged sources reuses it; a fresh clone builds it once (about 1-2 minutes on 2 cores).
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "build" / "bundle-test"
SOURCES = ("engine", "gui", "resources", "packaging")

pyinstaller = pytest.importorskip("PyInstaller", reason="the bundle extra is not installed (pip install -e '.[bundle]')")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux bundle")]


def _source_key() -> str:
    import PySide6

    digest = hashlib.sha256()
    digest.update(f"{pyinstaller.__version__} {PySide6.__version__} {sys.version}".encode())
    digest.update((REPO / "pyproject.toml").read_bytes())
    for folder in SOURCES:
        for path in sorted((REPO / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def bundle() -> Path:
    key = _source_key()
    dist = CACHE / key / "dist"
    if (dist / "fleetcast" / "fleetcast.desktop").is_file():  # written last: only a finished build is reused
        return dist / "fleetcast"
    for stale in CACHE.glob("*"):  # one cached build at a time (~220 MB each); keep the work dir
        if stale.name != "work":
            shutil.rmtree(stale, ignore_errors=True)
    partial = CACHE / f"{key}.partial"
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", str(partial),
         "--workpath", str(CACHE / "work"), str(REPO / "packaging" / "fleetcast.spec")],
        cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    dist.parent.mkdir(parents=True, exist_ok=True)
    partial.rename(dist)
    subprocess.run([sys.executable, str(REPO / "packaging" / "write_desktop_entry.py"), str(dist / "fleetcast")],
                   check=True, capture_output=True, timeout=60)
    return dist / "fleetcast"


def _run(bundle_dir: Path, args, tmp_path, timeout=240, **env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}  # no Python setup leaks in
    env.update(QT_QPA_PLATFORM="offscreen", **env_extra)  # XDG dirs and FLEETCAST_DB: conftest's tmp dirs
    return subprocess.run([str(bundle_dir / "fleetcast"), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.timeout(1200)
def test_bundle_runs_headless_commands_without_python(bundle, tmp_path):
    from engine import __version__
    from engine.store import open_store

    version = _run(bundle, ["--version"], tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"fleetcast {__version__}"

    db = tmp_path / "bundle.db"
    chips = _run(bundle, ["chips", "list", "--db", str(db), "--format", "json"], tmp_path)
    assert chips.returncode == 0, chips.stderr
    reference = open_store(tmp_path / "reference.db")  # the same seed, read from the source tree
    try:
        expected_ids = {chip.id for chip in reference.chips()}
    finally:
        reference.close()
    assert {row["id"] for row in json.loads(chips.stdout)} == expected_ids  # seed data came from the bundle's resources

    out = tmp_path / "charts"
    export = _run(bundle, ["export", "--db", str(db), "--out", str(out)], tmp_path)
    assert export.returncode == 0, export.stderr
    assert "Traceback" not in export.stderr
    png = sorted(out.glob("fleet_*.png"))[0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert sorted(out.glob("fleet_*.svg"))[0].read_text(encoding="utf-8").lstrip().startswith("<?xml")

    pdf = tmp_path / "story.pdf"
    made = _run(bundle, ["report", "--db", str(db), "--out", str(pdf), "--format", "json"], tmp_path)
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert pdf.read_bytes().startswith(b"%PDF-") and summary["pages"] >= 5 and summary["charts"] >= 10
    # The accuracy figures are package data read through importlib.resources, frozen too.
    assert summary["sections"][-1] == "accuracy"


@pytest.mark.timeout(1200)
def test_bundle_opens_its_window_and_ships_a_desktop_entry(bundle, tmp_path):
    shown = _run(bundle, ["--db", str(tmp_path / "w.db")], tmp_path, FLEETCAST_SMOKE_EXIT_MS="0")
    assert shown.returncode == 0, shown.stderr
    assert "FLEETCAST_SHOWN" in shown.stdout
    assert "Traceback" not in shown.stderr
    for name in ("calibration_training.csv", "calibration_inference.csv", "chips.csv", "orders_seed.csv",
                 "fleetcast.svg"):
        assert (bundle / "_internal" / "resources" / name).is_file(), name

    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(bundle / "fleetcast.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Exec"] == str(bundle / "fleetcast")
    assert entry["Icon"] == str(bundle / "_internal" / "resources" / "fleetcast.svg")
    validator = shutil.which("desktop-file-validate")
    if validator:
        check = subprocess.run([validator, str(bundle / "fleetcast.desktop")], capture_output=True, text=True)
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout
