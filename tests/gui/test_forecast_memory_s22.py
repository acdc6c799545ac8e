"""QA s22: memory grew ~1.1 MB per Forecast run in one window. The charts were not the cause (their
items are updated in place); every finished worker stayed alive with the request it ran (the chips,
the models and the cached throughputs), because the thread pool took it from Python and, set not
to delete it, never freed it. Both are checked here: the charts' items and legends stay as after
the first run, and no finished run's worker outlives it."""

import gc
import weakref

import pytest
from PySide6.QtCore import QThreadPool

RUNS = 4
TRIALS = 200   # the smallest the form takes is 100; enough to draw every chart


@pytest.fixture
def panel(forecast_panel):   # tests/gui/conftest.py
    forecast_panel.trials_spin.setValue(TRIALS)
    return forecast_panel


def _run(panel, qtbot):
    """One run to the end, its worker's last queued signals delivered; the worker (weakly)."""
    with qtbot.waitSignal(panel.result_ready, timeout=30000):
        assert panel.run() is not None
        worker = weakref.ref(panel.runner._current)
    QThreadPool.globalInstance().waitForDone(5000)
    qtbot.wait(20)   # the queued "done" that drops it from the running set
    return worker


def _chart_items(panel) -> dict[str, tuple[int, int, int]]:
    """Per chart: items in its plot, in its scene, and legend entries."""
    return {name: (len(chart.plot_item.items), len(chart.plot_item.scene().items()),
                   len(chart.legend.items) if chart.legend is not None else 0)
            for name, chart in panel.view.charts().items()}


def test_repeated_runs_keep_every_charts_items_and_legend_as_after_the_first(panel, qtbot):
    _run(panel, qtbot)
    first = _chart_items(panel)
    assert first["capacity_vs_demand"][2] >= 3 and first["job_completion"][2] >= 1   # drawn, not empty
    for seed in range(1, RUNS):
        panel.seed_spin.setValue(seed)   # new figures each run: the items are updated, not added
        _run(panel, qtbot)
        assert _chart_items(panel) == first, f"run {seed + 1}"


def test_no_finished_run_keeps_its_worker_and_request_alive(panel, qtbot):
    workers = [_run(panel, qtbot) for _ in range(RUNS)]
    gc.collect()
    alive = [ref() for ref in workers if ref() is not None]
    # each held its request: every chip and model of the store and the cached throughputs
    assert not alive, f"{len(alive)} of {RUNS} finished forecast workers still alive"
