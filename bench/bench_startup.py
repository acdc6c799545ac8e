"""Start-up: seconds from spawning `python -m gui` to the window shown (offscreen), and RSS then.

Prints the median of 5 launches against an existing database, plus one first launch that
creates and seeds a new database. Not a test: figures only, exit 0.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 5


def launch(db: Path, home: Path) -> tuple[float, float]:
    env = dict(os.environ)
    env.update(QT_QPA_PLATFORM="offscreen", FLEETCAST_SMOKE_EXIT_MS="0",
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_STATE_HOME=str(home / "state"), FLEETCAST_LOG_DIR=str(home / "logs"))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gui", "--db", str(db)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    shown_s, rss_mb = float("nan"), float("nan")
    for line in proc.stdout:
        if line.startswith("FLEETCAST_SHOWN"):
            shown_s = time.perf_counter() - start
            rss_mb = float(line.split("rss_mb=")[1])
    proc.wait(timeout=60)
    if proc.returncode != 0:
        raise SystemExit(f"launch failed with exit code {proc.returncode}")
    return shown_s, rss_mb


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        db = home / "bench.db"
        first_s, first_rss = launch(db, home)
        runs = [launch(db, home) for _ in range(RUNS)]
    times = [t for t, _ in runs]
    rss = [r for _, r in runs]
    print(f"first launch (creates + seeds the database): {first_s:.2f} s to window shown, RSS {first_rss:.0f} MB")
    print(f"start-up to window shown (existing db, offscreen): median {statistics.median(times):.2f} s "
          f"over {RUNS} runs (min {min(times):.2f}, max {max(times):.2f})")
    print(f"RSS after the window is shown: median {statistics.median(rss):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
