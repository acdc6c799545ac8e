"""The delivery-uncertainty editor shows and edits `extra_delay_days` ("days later than the delay
above"), as an undoable edit like its other fields; the assumptions and the report say "+182 days"."""

from PySide6.QtWidgets import QApplication

from engine.forecast import default_scenario
from gui.panels.forecast_uncertainty import UncertaintyEditor, assumptions_html


def _huawei_extra(panel) -> float:
    return panel.scenario_state()["vendor_uncertainty"]["Huawei"]["extra_delay_days"]


def test_the_late_what_if_shows_its_182_days_and_an_edit_is_undoable(window, qtbot):
    assert window.scenario_bar.select("Huawei 6 months late")
    window.tabs.setCurrentIndex(window.tab_of(window.panel("forecast")))
    panel = window.panels["forecast"]
    editor = panel.unc_editor
    QApplication.processEvents()
    assert editor.key == ("vendor", "Huawei")
    spin = editor.extra_delay
    assert spin.value() == 182 and spin.suffix() == " days later" and spin.isEnabled()
    assert "later than the delay above" in spin.toolTip()
    # the baseline's delay is on screen, untouched; the 182 days come on top of it
    assert (editor.delay_low.value(), editor.delay_mode.value(), editor.delay_high.value()) == (0, 90, 365)
    assert "+182 days late" in panel.assumptions_label.text()

    depth = window.undo_stack.count()
    spin.setValue(240)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert _huawei_extra(panel) == 240.0
    assert "Huawei extra delay" in window.undo_stack.text(depth)   # named as the form names it
    assert window.isWindowModified()
    window.undo_stack.undo()
    assert spin.value() == 182 and _huawei_extra(panel) == 182.0
    assert not window.isWindowModified()
    window.undo_stack.redo()
    assert spin.value() == 240 and _huawei_extra(panel) == 240.0


def test_the_baseline_has_no_extra_days_and_a_following_vendor_cannot_set_them(qtbot):
    editor = UncertaintyEditor()
    qtbot.addWidget(editor)
    sc = default_scenario()
    editor.load(sc, [], lambda c: c)
    assert editor.key == ("vendor", "Huawei") and editor.extra_delay.value() == 0
    assert "+" not in assumptions_html(sc).split("late")[0]   # no "+0 days"
    edits = []
    editor.edited.connect(lambda: edits.append(1))
    editor.extra_delay.setValue(30)
    assert edits and editor.values()[1]["Huawei"].extra_delay_days == 30.0
    # the field is one of the delay's (the form marks it with them when the delay is refused)
    assert editor.extra_delay in editor.fields()["delay"]
    # a vendor without its own distribution follows the default: nothing to edit here
    editor.specific.setChecked(False)
    assert not editor.extra_delay.isEnabled() and "Huawei" not in editor.values()[1]


def test_the_report_lists_the_extra_days_with_the_delay():
    from gui.report import _uncertainty_delay

    u = {"delay_dist": "triangular", "delay_low_days": 0.0, "delay_mode_days": 90.0, "delay_high_days": 365.0}
    assert _uncertainty_delay(u) == "0–365, most likely 90 (triangular)"
    assert _uncertainty_delay({**u, "extra_delay_days": 182.0}) == "0–365, most likely 90 (triangular), +182 on top"
    assert _uncertainty_delay({**u, "extra_delay_days": 0.0}) == "0–365, most likely 90 (triangular)"
