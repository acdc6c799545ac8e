"""The bundled app (`make bundle`): its size, and seconds from spawn to `--version` and to the
window shown (offscreen), medians of 5 launches against an existing database.

Usage: python bench/bench_bundle.py [BUNDLE_DIR]   (default dist/fleetcast)
Skips with a note when no bundle is built. Not a test: figures only, exit 0.
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


def folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def timed(args: list[str], home: Path, until: str | None = None) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(QT_QPA_PLATFORM="offscreen", FLEETCAST_SMOKE_EXIT_MS="0",
               XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_STATE_HOME=str(home / "state"), FLEETCAST_LOG_DIR=str(home / "logs"))
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = float("nan")
    for line in proc.stdout:
        if until is None or line.startswith(until):
            seen = time.perf_counter() - start
            if until is not None:
                break
    proc.stdout.read()
    proc.wait(timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"{args}: exit code {proc.returncode}")
    return seen


def main() -> int:
    bundle = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "dist" / "fleetcast").resolve()
    binary = bundle / "fleetcast"
    if not binary.is_file():
        print(f"skipped: no bundle at {bundle} (run `make bundle` first)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        db = home / "bench.db"
        timed([str(binary), "--db", str(db)], home, until="FLEETCAST_SHOWN")  # first launch seeds the db
        version = [timed([str(binary), "--version"], home) for _ in range(RUNS)]
        shown = [timed([str(binary), "--db", str(db)], home, until="FLEETCAST_SHOWN") for _ in range(RUNS)]
        source = [timed([sys.executable, "-m", "gui", "--db", str(db)], home, until="FLEETCAST_SHOWN")
                  for _ in range(RUNS)] if (REPO / "gui").is_dir() else []
    print(f"bundle {bundle}: {folder_size_mb(bundle):.0f} MB on disk")
    print(f"--version: median {statistics.median(version):.2f} s over {RUNS} runs")
    print(f"start to window shown (offscreen, existing db): median {statistics.median(shown):.2f} s "
          f"(min {min(shown):.2f}, max {max(shown):.2f})")
    if source:
        print(f"same from the source tree (python -m gui): median {statistics.median(source):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
