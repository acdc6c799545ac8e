"""Setups that several GUI tests share: a story store with an "All serve" what-if, and typing a
chip count into the Training view's count field."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.forecast import default_scenario, scenario_to_dict
from engine.store import open_store
from gui.scenarios import DEFAULT_NAME


def story_default_alone(path: Path):
    """A new store at `path` holding the story's default scenario and no other."""
    s = open_store(path)
    for row in s.scenarios():
        if row["name"] != DEFAULT_NAME:
            s.delete_scenario(row["name"])
    return s


def story_store_with_all_serve(path: Path, trials: int):
    """The story's default and one variant (the 910B trains nothing), both on `trials` trials."""
    s = story_default_alone(path)
    params = scenario_to_dict(default_scenario())
    params["allocation"]["training_share"]["ascend-910b2"] = 0.0
    params["trials"] = trials
    s.save_scenario("All serve", {**params, "name": "All serve"})
    return s


def story_store_on_trials(path: Path, trials: int = 200):
    """The seeded story with every scenario on `trials` trials a forecast: the laptop-layout tests'
    store (layouts, not figures, are tested; the caller closes it)."""
    s = open_store(path)
    for row in s.scenarios():
        params = s.scenario(row["name"])["params"]
        params["trials"] = trials
        s.save_scenario(row["name"], params)
    return s


def inference_panel(store, qtbot):
    """An Inference view on `store`, as a fixture's generator body: yields it, then shuts it down."""
    from gui.panels.inference import InferencePanel

    p = InferencePanel(store)
    qtbot.addWidget(p)
    yield p
    p.shutdown()


def type_training_chip_count(window, qtbot, text: str):
    """Type `text` into the Training view's chip count and press Enter; returns (field, old value)."""
    window.tabs.setCurrentIndex(1)
    count = window.panels["training"].count_spin
    start = count.value()
    count.setFocus()
    qtbot.waitUntil(count.hasFocus)
    count.lineEdit().selectAll()
    QTest.keyClicks(count.lineEdit(), text)
    QTest.keyClick(count.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.undo_stack.canUndo() and count.value() == int(text))
    return count, start


def reveal(widget) -> None:
    """Bring forward every tab page that holds `widget` (a widget on a hidden page has no geometry
    and takes no focus)."""
    from PySide6.QtWidgets import QApplication, QTabWidget

    page = widget
    while page is not None:
        parent = page.parentWidget()
        tabs = parent.parentWidget() if parent is not None else None  # a page sits in the tabs' stack
        if isinstance(tabs, QTabWidget) and tabs.indexOf(page) >= 0:
            tabs.setCurrentWidget(page)
        page = parent
    QApplication.processEvents()


def shut_unshown_window(w) -> None:
    """Take down a window a test never showed, without its closing questions (a test leaves edits)."""
    w._shut_down = True
    w._external_timer.stop()
    for panel in w.panels.values():
        panel.shutdown()
    w.scenario_bar.detach()
    w.fleet_panel.detach()


def short_scenario_store(path):
    """A database at `path` with a short scenario, "Short" (24 months, 300 trials): the Export-all
    tests' store (the caller closes it)."""
    s = open_store(path)
    params = scenario_to_dict(default_scenario())
    params.update(name="Short", months=24, trials=300)
    s.save_scenario("Short", params)
    return s


def offscreen_export_panels(store, qtbot):
    """The offscreen panels Export all builds for "Short", as a fixture's generator body: yields
    them, then shuts them down and waits for their workers."""
    from PySide6.QtCore import QThreadPool

    from gui.export_all import build_offscreen_panels, shutdown_panels

    built = build_offscreen_panels(store, "Short")
    for panel in built.values():
        qtbot.addWidget(panel)
    yield built
    shutdown_panels(built)
    QThreadPool.globalInstance().waitForDone(5000)


def run_forecast(panel, qtbot):
    """A Forecast view's run to its result (the view's `result_ready`)."""
    with qtbot.waitSignal(panel.result_ready, timeout=20000) as blocker:
        assert panel.run() is not None
    return blocker.args[0]


def forecast_without_orders(store, qtbot):
    """A Forecast view on `store` with every order deleted, not updating as it is edited, as a
    generator body: yields it, then shuts it down and waits for its workers."""
    from PySide6.QtCore import QThreadPool
    from PySide6.QtGui import QUndoStack

    from gui.panels.forecast import ForecastPanel

    for order in store.orders():
        store.delete_order(order.id)
    panel = ForecastPanel(store, QUndoStack())
    qtbot.addWidget(panel)
    panel.auto_check.setChecked(False)
    try:
        yield panel
    finally:
        panel.shutdown()
        QThreadPool.globalInstance().waitForDone(5000)
