"""Memory of the running app after visiting every panel (target: <= 400 MB RSS).

Opens the main window offscreen on a fresh seeded database, shows each area in turn, lets each
panel finish its evaluations and background work (search, chip comparison, Monte Carlo), and
prints the resident set size after each visit and at the end. Not a test: figures only, exit 0.
"""

from __future__ import annotations

import os
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


def main() -> int:
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
            deadline = time.perf_counter() + 60
            app.processEvents()
            time.sleep(0.3)  # let debounced evaluations start
            while time.perf_counter() < deadline:
                app.processEvents()
                if pool.activeThreadCount() == 0:
                    app.processEvents()
                    if pool.activeThreadCount() == 0:
                        break
                pool.waitForDone(50)
            print(f"after visiting {window.tabs.tabText(index):<10}: {rss_mb():.0f} MB RSS")
        print(f"all panels visited: {rss_mb():.0f} MB RSS (target <= 400 MB)")
        window.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
