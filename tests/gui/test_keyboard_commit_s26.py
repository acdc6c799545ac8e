"""F5 and Ctrl+S act on what the form shows, and leave the focus where it was."""


from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def _wait_idle(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.runner.is_running(), timeout=60000)


def test_f5_runs_a_number_typed_but_not_yet_entered(window, qtbot, monkeypatch):
    """Trials typed as 5000 (no Enter) with F5: the forecast ran on 2,000 while the field read 5000."""
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(3)
    panel = window.panels["forecast"]
    panel.auto_check.setChecked(False)
    _wait_idle(qtbot, panel)
    seen = []
    monkeypatch.setattr(panel, "run", lambda: seen.append(panel.trials_spin.value()))
    assert panel.trials_spin.value() != 5000
    panel.trials_spin.setFocus()
    qtbot.waitUntil(panel.trials_spin.hasFocus)
    panel.trials_spin.lineEdit().selectAll()
    QTest.keyClicks(panel.trials_spin.lineEdit(), "5000")
    seen.clear()
    assert window.run_current_view() is True
    assert seen == [5000]
    assert QApplication.focusWidget() is panel.trials_spin   # the user keeps their place
    window.hide()   # (edited: a shown window would ask to save when the test closes it)


def test_save_leaves_the_focus_in_the_field(window, qtbot):
    """After Ctrl+S no widget had the focus, and the next Tab went to the tab bar."""
    window.show()
    qtbot.waitExposed(window)
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    panel.count_spin.setFocus()
    qtbot.waitUntil(panel.count_spin.hasFocus)
    window.commit_pending_edits()
    assert QApplication.focusWidget() is panel.count_spin
    _wait_idle(qtbot, panel)
    window.hide()

