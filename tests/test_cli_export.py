"""`fleetcast export --out DIR` in a subprocess: a valid PNG, SVG and CSV for every chart."""

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def fleetcast(*argv, db, env_extra=None, cwd=None):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "gui", "--db", str(db), *argv], capture_output=True,
                          text=True, env=env, cwd=cwd or REPO, timeout=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    out = base / "charts"
    proc = fleetcast("export", "--out", str(out), "--format", "json", db=base / "fleetcast.db",
                     env_extra={"XDG_CONFIG_HOME": str(base / "config")})
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout), proc


def test_every_chart_has_a_valid_png_svg_and_csv(exported):
    from PySide6.QtGui import QImage

    out, data, _ = exported
    assert data["scenario"] == "Story default"  # the baseline, named, when --scenario is absent
    files = [Path(f) for f in data["files"]]
    assert files and all(f.parent == out and f.exists() for f in files)
    stems = {f.stem for f in files if f.suffix == ".png"}
    # the forecast and compare charts at least (other panels add theirs)
    for stem in ("forecast_capacity_vs_demand", "forecast_installed_by_type", "forecast_shortfall_p50",
                 "forecast_prob_meet_demand", "forecast_job_completion", "compare_capacity_p50",
                 "compare_prob_meet_demand"):
        assert stem in stems
    for stem in stems:
        image = QImage(str(out / f"{stem}.png"))
        assert not image.isNull() and image.width() == 1600, stem
        root = ET.parse(out / f"{stem}.svg").getroot()
        assert root.tag.endswith("svg"), stem
        text = (out / f"{stem}.csv").read_text(encoding="utf-8-sig")
        assert text.startswith("# Chart: "), stem
        # the scenario a file shows: Compare's several; the Fleet's chart the scenario whose install
        # lag it counts (QA s39), its tables none (they are the database's)
        if stem.startswith("compare_"):
            assert "\n# Scenarios: Story default (baseline), " in text and "\n# Scenario: " not in text, stem
        elif stem.startswith("fleet_"):
            assert "\n# Scenario: Story default\n# Install lag: 30 days after delivery\n" in text, stem
        else:
            assert "\n# Scenario: Story default\n" in text, stem
        rows = list(csv.reader(line for line in text.splitlines() if not line.startswith("#")))
        assert len(rows) >= 2 and len(rows[0]) >= 2, stem
        assert any("(" in h for h in rows[0]), f"{stem}: no unit in the headers {rows[0]}"
    monthly = list(csv.DictReader(line for line in open(out / "forecast_monthly.csv", encoding="utf-8-sig")
                                  if not line.startswith("#")))
    assert len(monthly) == 60 and "Installed P50 (chips)" in monthly[0]


def test_unknown_scenario_and_unwritable_folder_exit_1_with_one_line(tmp_path):
    db = tmp_path / "f.db"
    proc = fleetcast("export", "--scenario", "No such", "--out", str(tmp_path / "o"), db=db)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "No such" in proc.stderr and "Traceback" not in proc.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = fleetcast("export", "--out", str(blocker / "sub"), db=db)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert str(blocker) in proc.stderr and proc.stderr.strip().count("\n") == 0


def test_the_baselines_compare_holds_every_seeded_what_if(exported):
    """The headless Compare took the first two other scenarios: "Huawei delivers half" was left out
    of the baseline's export and report without a word."""
    out, _, _ = exported
    header = next(line for line in open(out / "compare_prob_meet_demand.csv", encoding="utf-8-sig")
                  if not line.startswith("#"))
    for name in ("Story default", "H20 cut off (Apr 2025)", "Huawei 6 months late", "Huawei delivers half"):
        assert name in header, name


def test_an_empty_out_is_refused_not_the_current_folder(tmp_path):
    """--out "" wrote 94 files into the folder the shell stood in."""
    proc = fleetcast("export", "--out", "", db=tmp_path / "f.db", cwd=tmp_path)
    assert proc.returncode == 2 and "argument --out: the value is empty" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".png", ".svg", ".csv")) == []


def test_the_table_never_clips_a_file_name():
    """`export` printed "…/inference_throughput-latency…": the name could not be read off."""
    from engine.cli import render_table

    name = "/tmp/charts/inference_throughput-latency_steady_state_of_a_long_name.csv"
    table = render_table([{"file": name, "kind": "csv", "note": "x" * 60}])
    assert name in table and "x" * 60 not in table    # other long cells are still clipped
