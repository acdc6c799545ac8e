"""QA s32: Esc did nothing while a view ran; only its Cancel button stopped it. Esc that no field
takes now stops what runs in the view on screen, and a field's own Esc (the scenario name) is its own."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from gui.app import ANALYSIS_PANELS


def test_esc_stops_the_plan_run_on_screen(window, qtbot):
    window.resize(1280, 720)
    window.show()
    window.show_area(("fleet", *ANALYSIS_PANELS).index("plan"))
    panel = window.panel("plan")
    panel.run_button.click()   # (no edit: closing the window must not ask to save)
    qtbot.waitUntil(panel.cancel_button.isEnabled, timeout=5000)
    assert "(Esc)" in panel.cancel_button.toolTip()
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert "Cancelled" in panel.progress_bar.format() and not panel.cancel_button.isEnabled()
    assert not panel.runner.is_running()
    assert "Esc" in window.statusBar().currentMessage()


def test_esc_with_nothing_running_changes_nothing(window, qtbot):
    window.show()
    window.show_area(("fleet", *ANALYSIS_PANELS).index("plan"))
    window.statusBar().clearMessage()
    assert not window.cancel_current_view()
    QTest.keyClick(window, Qt.Key.Key_Escape)
    assert window.statusBar().currentMessage() == ""
