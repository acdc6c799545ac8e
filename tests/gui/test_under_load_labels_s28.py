"""Under load, TPOT vs offered load (QA s28): the "TPOT p90 target 50 ms" label was clipped at the
top of the plot at 1280 x 720 (the frame stopped 8% over the target, the label sits above its
line) and at 1920 x 1080 drawn over "SLO capacity 0.39/s" (both at the plot's top left). Llama 3
70B on 8 x 910B2 with one TP4 prefill instance, 2,000/300 tokens, p90 TTFT 1 s / TPOT 50 ms."""

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from gui.panels.inference_notes import TARGET_HEADROOM

QA = {"model_id": "llama3-70b", "chip_id": "ascend-910b2", "tp": 8, "prefill_tp": 4, "input_len": 2000,
      "output_len": 300, "ttft_ms": 1000.0, "tpot_ms": 50.0, "compare_chips": ["ascend-910b2"]}


def _show_under_load(panel, qtbot, size):
    for i in range(panel.chart_tabs.count()):
        if "load" in panel.chart_tabs.tabText(i).lower():
            panel.chart_tabs.setCurrentIndex(i)
    panel.resize(*size)
    panel.show()
    qtbot.waitExposed(panel)
    for _ in range(20):
        QApplication.processEvents()


@pytest.mark.parametrize("size", [(1280, 650), (1920, 1010)])   # the panel in a 1280 x 720 / 1920 x 1080 window
def test_the_tpot_target_label_is_inside_the_plot_and_clear_of_the_load_label(inference_panel, qtbot, size):
    panel = inference_panel
    panel.apply_scenario_state(QA)
    panel.compute_now()
    a = panel.comparison.load
    assert a is not None, panel.comparison.load_error
    _show_under_load(panel, qtbot, size)
    target, load = panel._load_targets["TPOT"], panel._tpot_load_line
    assert target.isVisible() and target.label.toPlainText() == "TPOT p90 target 50 ms"
    assert load.label.toPlainText().startswith("SLO capacity")
    view = panel.tpot_load_chart.plot_item.vb.sceneBoundingRect()
    label = target.label.sceneBoundingRect()
    assert view.contains(label), (view, label)   # not clipped at the top (or anywhere)
    assert not label.intersects(load.label.sceneBoundingRect()), (label, load.label.sceneBoundingRect())
    # the load line is in the left half, so the target's label went to the right end
    assert label.center().x() > view.center().x()
    # the frame: from 0 to 1.3 x the target (the TPOT points, about 28 ms, are below it)
    _x, (y_lo, y_hi) = panel.tpot_load_chart.plot_item.vb.viewRange()
    assert y_lo == 0 and y_hi == pytest.approx(50.0 * TARGET_HEADROOM)


def test_a_low_target_keeps_its_label_at_the_left_above_its_line(inference_panel, qtbot):
    """TTFT 1,000 ms on an axis to 40 s: the label stays where it was, at the left end, and the
    chart keeps its autorange (a target far below the top needs no room)."""
    panel = inference_panel
    panel.apply_scenario_state(QA)
    panel.compute_now()
    _show_under_load(panel, qtbot, (1920, 1010))
    line = panel._load_targets["TTFT"]
    view = panel.load_chart.plot_item.vb.sceneBoundingRect()
    label = line.label.sceneBoundingRect()
    assert view.contains(label) and label.center().x() < view.center().x()
    _x, (_lo, y_hi) = panel.load_chart.plot_item.vb.viewRange()
    assert y_hi > 1000.0 * TARGET_HEADROOM
    # above its line: the label's bottom at the line's height (scene y grows downward)
    line_y = panel.load_chart.plot_item.vb.mapViewToScene(QPointF(0.0, 1000.0)).y()
    assert label.bottom() == pytest.approx(line_y, abs=2.0)
