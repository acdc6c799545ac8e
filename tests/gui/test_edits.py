"""Edits never change or vanish silently: the wheel leaves unfocused fields alone, every form
edit is undoable and marks the scenario modified, and switching or quitting asks first."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QSpinBox

from engine.store import open_store
from gui.app import MainWindow
from gui.widgets.wheel_guard import install_wheel_guard


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "edits.db")
    yield s
    s.close()


@pytest.fixture
def window(store, qtbot, qsettings_isolated, monkeypatch):
    w = MainWindow(store)
    qtbot.addWidget(w)
    yield w
    w.fleet_panel.detach()
    _forget_window_settings()


def _wheel(widget, steps: int = 1) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_wheel_changes_only_a_focused_spin_box(qtbot):
    install_wheel_guard(QApplication.instance())
    box = QSpinBox()
    box.setRange(0, 100)
    box.setValue(50)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    box.clearFocus()
    _wheel(box)
    assert box.value() == 50  # unfocused: the wheel passes by
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    _wheel(box)
    assert box.value() == 51


def test_training_edit_is_undoable_and_marks_the_scenario_modified(window, qtbot):
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    assert not window.isWindowModified()
    before = panel.count_spin.value()
    depth = window.undo_stack.count()
    panel.count_spin.setValue(before + 8)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.isWindowModified()
    assert "[*]" in window.windowTitle()  # Qt shows the marker as '*'
    assert "Training" in window.undo_stack.text(depth)
    window.undo_stack.undo()
    assert panel.count_spin.value() == before
    assert not window.isWindowModified()
    window.undo_stack.redo()
    assert panel.count_spin.value() == before + 8
    assert window.isWindowModified()


def test_typing_a_number_merges_into_one_command(window, qtbot):
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    depth = window.undo_stack.count()
    for value in (1, 10, 102, 1024):
        panel.count_spin.setValue(value)
        QApplication.processEvents()
    assert window.undo_stack.count() == depth + 1


def _edit_training(window, qtbot):
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    panel.count_spin.setValue(panel.count_spin.value() + 8)
    qtbot.waitUntil(window.isWindowModified)
    return panel


def _answer(monkeypatch, button):
    asked = []

    def question(*args, **kwargs):
        asked.append(args[2] if len(args) > 2 else "")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_switching_with_unsaved_edits_cancel_keeps_them(window, store, qtbot, monkeypatch):
    panel = _edit_training(window, qtbot)
    edited = panel.count_spin.value()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    assert not window.scenario_bar.select("Huawei delivers half")
    assert len(asked) == 1 and "Story default" in asked[0]
    assert window.scenario_bar.current_name() == "Story default"
    assert panel.count_spin.value() == edited and window.isWindowModified()


def test_switching_with_unsaved_edits_discard_and_save(window, store, qtbot, monkeypatch):
    panel = _edit_training(window, qtbot)
    edited = panel.count_spin.value()
    _answer(monkeypatch, QMessageBox.StandardButton.Save)
    assert window.scenario_bar.select("Huawei delivers half")
    assert store.scenario("Story default")["params"]["ui"]["training"]["num_chips"] == edited
    assert not window.isWindowModified()
    _edit_training(window, qtbot)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    assert window.scenario_bar.select("Story default")
    assert len(asked) == 1
    assert panel.count_spin.value() == edited  # the saved value, not the discarded edit
    assert not window.isWindowModified()


def test_quitting_with_unsaved_edits_asks(window, qtbot, monkeypatch):
    window.show()
    _edit_training(window, qtbot)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.close()
    assert asked and window.isVisible()  # Cancel: the window stays with its edits
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    window.close()
    assert asked and not window.isVisible()


def test_no_question_without_edits(window, qtbot):
    window.tabs.setCurrentIndex(1)
    assert window.scenario_bar.select("Huawei delivers half")  # a question would fail the test
    assert not window.isWindowModified()


def test_stale_results_are_greyed_while_inputs_are_invalid(store, qtbot):
    from gui.panels.base import STALE_MESSAGE, is_stale, stale_veil_shown
    from gui.panels.training import TrainingPanel

    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    panel._evaluate()
    assert not any(is_stale(w) for w in panel.result_widgets())
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("fixed"))
    panel.tp_spin.setValue(3)  # 3 divides neither 1,024 chips nor 64 heads
    panel._evaluate()
    assert panel.banner.text() == STALE_MESSAGE
    assert all(is_stale(w) for w in panel.result_widgets())
    assert stale_veil_shown(panel.step_chart)          # the pale layer is on the chart itself
    panel.tp_spin.setValue(8)
    panel._evaluate()
    assert not any(is_stale(w) for w in panel.result_widgets())
    assert not stale_veil_shown(panel.step_chart)
    assert panel.banner.text() == ""
    panel.shutdown()


def test_help_quick_start_and_glossary(window, qtbot):
    from PySide6.QtWidgets import QTextBrowser

    items = [a.text() for a in window.help_menu.actions() if a.text()]
    assert items[:2] == ["&Quick start", "&Glossary"]
    window.glossary_action.trigger()
    dialog = window._help_dialogs["glossary"]
    text = dialog.findChild(QTextBrowser, "helpText").toPlainText()
    for term in ("P50", "910B-equivalents", "MFU", "TTFT", "TPOT", "Goodput"):
        assert term in text
    assert len(text.split()) < 500  # two minutes of reading
    window.quick_start_action.trigger()
    quick = window._help_dialogs["quick_start"].findChild(QTextBrowser, "helpText").toPlainText()
    assert "Scenarios" in quick and "fleetcast export" in quick
    for d in window._help_dialogs.values():
        d.close()


def _forget_window_settings():
    """The window saves its tab and scenario on close; the next test must not inherit them."""
    from gui.settings import settings

    for group in ("window", "scenarios", "fleet"):
        settings().remove(group)


def test_visiting_every_area_is_not_an_edit_but_a_forecast_edit_is(window, qtbot):
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        QApplication.processEvents()
    assert not window.isWindowModified()
    forecast = window.panels["forecast"]
    depth = window.undo_stack.count()
    forecast.months_spin.setValue(forecast.months_spin.value() + 12)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.isWindowModified() and "Forecast" in window.undo_stack.text(depth)
    window.undo_stack.undo()
    assert not window.isWindowModified()
    for panel in window.panels.values():
        panel.shutdown()
