"""Memory of the running app after visiting every panel (target: <= 400 MB RSS).

Opens the main window offscreen on a fresh seeded database, shows each area in turn, lets each
panel finish its evaluations and background work (search, chip comparison, Monte Carlo), and
prints the resident set size after each visit and at the end. Then runs the Forecast view 30 times
in the same window (`--forecast-runs N`, `--trials T`) and prints the RSS every 10 runs and the
median growth per run: flat (~0) means nothing a run makes outlives it (QA s22: RSS climbed with
every run, as each finished worker stayed alive with its request). Not a test: figures only, exit 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def settle(app, pool, seconds: float = 60.0) -> None:
    """Events processed until no worker runs (a panel's debounced work has started and ended)."""
    deadline = time.perf_counter() + seconds
    app.processEvents()
    while time.perf_counter() < deadline:
        app.processEvents()
        if pool.activeThreadCount() == 0:
            app.processEvents()
            if pool.activeThreadCount() == 0:
                return
        pool.waitForDone(50)


def forecast_runs(app, window, runs: int, trials: int | None) -> None:
    """Run the Forecast view `runs` times in this window; RSS every 10 runs and per run."""
    import gc

    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    panel = window.panel("forecast")
    window.tabs.setCurrentIndex(window.tabs.indexOf(panel))
    panel.auto_check.setChecked(False)   # only the runs below
    if trials:
        panel.trials_spin.setValue(trials)
    finished: list[int] = []
    panel.result_ready.connect(lambda _result: finished.append(1))

    def run_once() -> None:
        before = len(finished)
        panel.run()
        deadline = time.perf_counter() + 120
        while len(finished) == before and time.perf_counter() < deadline:
            app.processEvents()
            pool.waitForDone(10)
        settle(app, pool)   # the worker's last queued signals too
        gc.collect()        # the app collects on a timer; here, before each reading

    run_once()              # warm-up: caches, first-draw allocations
    rss_per_run = [rss_mb()]
    for index in range(1, runs + 1):
        run_once()
        rss_per_run.append(rss_mb())
        if index % 10 == 0 or index == runs:
            print(f"after {index:>3} Forecast runs: {rss_per_run[-1]:.1f} MB RSS")
    growth_mb = [b - a for a, b in zip(rss_per_run, rss_per_run[1:])]
    total_mb = rss_per_run[-1] - rss_per_run[0]
    print(f"Forecast runs ({panel.trials_spin.value():,} trials): median {statistics.median(growth_mb) * 1024:.0f} "
          f"kB per run, {total_mb / max(runs, 1) * 1024:.0f} kB per run on average over {runs} (flat: ~0)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forecast-runs", type=int, default=30, help="Forecast runs after the visits (0: none)")
    parser.add_argument("--trials", type=int, default=0, help="trials per Forecast run (0: the view's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CONFIG_HOME"] = os.path.join(tmp, "config")
        from PySide6.QtCore import QThreadPool
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([])
        from engine.store import open_store
        from gui.app import MainWindow, configure_pyqtgraph

        configure_pyqtgraph()
        store = open_store(Path(tmp) / "bench.db")
        window = MainWindow(store)
        window.resize(1500, 950)
        window.show()
        app.processEvents()
        print(f"window shown: {rss_mb():.0f} MB RSS")
        pool = QThreadPool.globalInstance()
        for index in range(window.tabs.count()):
            window.tabs.setCurrentIndex(index)
            app.processEvents()
            time.sleep(0.3)  # let debounced evaluations start
            settle(app, pool)
            print(f"after visiting {window.tabs.tabText(index):<10}: {rss_mb():.0f} MB RSS")
        print(f"all panels visited: {rss_mb():.0f} MB RSS (target <= 400 MB)")
        if args.forecast_runs > 0:
            forecast_runs(app, window, args.forecast_runs, args.trials or None)
        window.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
