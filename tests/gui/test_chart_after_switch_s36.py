"""QA s36: at 1280x720, a scenario chosen while the Forecast was first drawing left the capacity
chart wider than its view ("2029" read "202") until the window was resized: the chart had been laid
out while its title was too long for it, and kept that width once the title was shortened."""

from PySide6.QtWidgets import QApplication

from gui.app import ANALYSIS_PANELS, WINDOW_FRAME_PX
from tests.gui.test_laptop_fit import _assert_chart_not_clipped, _forget_window_settings, _shown_window


def test_the_forecast_charts_fit_their_views_after_a_switch_at_1280(store, qtbot, qsettings_isolated):
    params = store.scenario("Story default")["params"]
    params["demand"]["scale"] = 0.3
    params["name"] = "small"
    store.save_scenario("small", params)
    window = _shown_window(store, qtbot, (1280, 720 - WINDOW_FRAME_PX))
    try:
        window.tabs.setCurrentIndex(list(ANALYSIS_PANELS).index("forecast") + 1)
        QApplication.processEvents()
        panel = window.panels["forecast"]
        for name in ("small", "Story default", "small"):
            assert window.scenario_bar.select(name)
            qtbot.waitUntil(lambda: not panel.is_running() and panel.result is not None, timeout=60000)
            QApplication.processEvents()
            for key, chart in panel.charts().items():
                _assert_chart_not_clipped(chart, (name, key))
    finally:
        for panel in window.panels.values():
            panel.shutdown()
        window.fleet_panel.detach()
        _forget_window_settings()
