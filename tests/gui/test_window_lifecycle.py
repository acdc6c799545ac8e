"""Windows come and go without leaks or hangs; garbage is collected only on the GUI thread."""

import gc
import weakref

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication

from engine.store import open_store
from gui.app import ANALYSIS_PANELS, MainWindow, collect_garbage_on_gui_thread


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "lifecycle.db")
    yield s
    s.close()


def _parentless_windows() -> list:
    return [w for w in QApplication.topLevelWidgets() if w.parentWidget() is None]


def _close_and_delete(window) -> None:
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.mark.slow
def test_main_window_created_and_destroyed_50_times_leaves_no_window(store, qtbot, qsettings_isolated):
    baseline = len(_parentless_windows())
    destroyed = []
    for round_index in range(50):
        window = MainWindow(store)
        window.show()
        # Every few rounds also build an analysis panel: that path (PlotItem.addItem ->
        # disconnect) is where the automatic collector once hung on a closed window's QMenu.
        if round_index % 10 == 0:
            window.tabs.setCurrentIndex(1 + (round_index // 10) % len(ANALYSIS_PANELS))
        QCoreApplication.processEvents()
        assert sum(isinstance(w, MainWindow) for w in _parentless_windows()) == 1
        window.tabs.setCurrentIndex(0)  # close saves the area; the next window would reopen it
        window.fleet_panel.detach()
        _close_and_delete(window)
        destroyed.append(weakref.ref(window))
        del window
        gc.collect(1)  # a safe point (main thread, no Qt call on the stack); this round's objects are young
        # pyqtgraph's context menus are parentless QMenus owned by Python objects: they must go
        # too, freed by the collection above rather than by a collection inside some Qt call.
        survivors = _parentless_windows()
        assert len(survivors) == baseline, f"round {round_index}: survived: {survivors}"
    assert all(ref() is None for ref in destroyed)  # Python wrappers freed too, not only the C++ side


def test_collector_is_gui_thread_only(qapp):
    assert gc.isenabled() is False  # the test session runs without automatic collection (conftest)
    collector = collect_garbage_on_gui_thread(interval_s=0.05)
    assert collector is collect_garbage_on_gui_thread()  # installed once
    assert collector.timer.isActive() and collector.timer.thread() is QApplication.instance().thread()
    assert not gc.isenabled()


def test_timer_collects_cycles_once_over_the_threshold(qapp, qtbot):
    collector = collect_garbage_on_gui_thread(interval_s=0.05)

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    probe = weakref.ref(a)
    del a, b
    # Push the young generation over its threshold (kept alive: freeing lowers the count again).
    junk = [[] for _ in range(gc.get_threshold()[0] + 10)]
    assert probe() is not None  # automatic collection is off: the cycle waits for the timer
    qtbot.waitUntil(lambda: probe() is None, timeout=3000)
    del junk
    assert collector.timer.isActive()
