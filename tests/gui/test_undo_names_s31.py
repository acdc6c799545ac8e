"""The Forecast's undo steps name chips as the form shows them (QA s31: "training share of
h20-96gb" where the form reads "H20") and its serving precisions in the form's words."""

from gui.panels.base import select_data


def _step_after(window, qtbot, edit) -> str:
    depth = window.undo_stack.count()
    edit()
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    return window.undo_stack.undoText()


def test_forecast_undo_steps_name_chips_and_precisions_as_the_form(window, qtbot):
    f = window.panel("forecast")
    spin = f._share_spins["h20-96gb"]
    text = _step_after(window, qtbot, lambda: spin.setValue(spin.value() + spin.singleStep()))
    assert text == "Edit Forecast: training share of H20"
    text = _step_after(window, qtbot, lambda: select_data(f.kv_dtype, "fp8"))
    assert text == "Edit Forecast: demand KV cache precision"
    text = _step_after(window, qtbot, lambda: select_data(f.weight_dtype, "fp8"))
    assert text == "Edit Forecast: demand weights precision"
