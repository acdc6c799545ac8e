"""QA round 23 (Inference and Plan charts): empty charts say why and refuse to export, Under load
not simulated, stale exports labelled, the TPOT-vs-load chart framed, its CSVs commented, the
table export's suffix, the Plan cost charts' unit and subtitle."""

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from gui.export_all import panel_context
from gui.panels.base import is_stale
from gui.widgets.plot_panel import PlotPanel

SMALL = {"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb", "input_len": 1024, "output_len": 256,
         "ttft_ms": 1000.0, "tpot_ms": 50.0, "demand_tokens_per_s": 250_000.0, "compare_chips": ["h100-sxm5-80gb"]}
# a running batch of 575 sequences per replica: beyond what is simulated interactively
NOT_SIMULATED = {"model_id": "llama3-70b", "chip_id": "h800-sxm5-80gb", "tp": 8, "input_len": 2000,
                 "output_len": 300, "ttft_ms": 0.0, "tpot_ms": 0.0, "compare_chips": ["h800-sxm5-80gb"]}


def _comments(path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.startswith("#")]


def _load_charts(panel) -> list:
    return [panel.load_chart, panel.tpot_load_chart, panel.ttft_hist_chart, panel.kv_chart]


def test_an_empty_chart_refuses_every_export_and_says_why(qtbot, tmp_path):
    """A chart without numbers wrote a header-only CSV (and a blank picture), reported as saved."""
    chart = PlotPanel("Memory per chip", y_label="Memory", y_unit="GiB")
    qtbot.addWidget(chart)
    chart.empty_hint = "press Run search first"
    messages = []
    chart.status_message.connect(messages.append)
    out = tmp_path / "out"
    out.mkdir()
    for kind in ("csv", "png", "svg"):
        with pytest.raises(ValueError, match="Memory per chip has no data: press Run search first"):
            getattr(chart, f"export_{kind}")(out / f"c.{kind}")
        chart._export_with_dialog(kind)   # refused before any file dialog opens
    assert not list(out.iterdir())
    assert messages == ["Not exported: Memory per chip has no data: press Run search first"] * 3
    chart.set_notice("Searching layouts…")   # the picture says why: kept; the CSV is still refused
    assert chart.export_png(tmp_path / "c.png").exists()
    with pytest.raises(ValueError, match="has no data: searching layouts…"):
        chart.export_csv(tmp_path / "c.csv")
    chart.set_series("a", [1.0, 2.0], [3.0, 4.0])
    assert chart.empty_reason() == "" and chart.export_csv(tmp_path / "c.csv").exists()


def test_plan_charts_before_a_run_refuse_their_csv(plan_panel, tmp_path):
    reason = "no plan yet: Find the cheapest plan (left) draws it here"
    for chart in plan_panel.charts().values():
        assert chart.empty_reason() == reason
        with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
            chart.export_csv(tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_inference_charts_before_a_run_name_the_run_button(inference_panel, tmp_path):
    chart = inference_panel.load_chart
    chart.clear_series()
    assert chart.empty_reason() == "press Compare chips first"


def test_under_load_not_simulated_clears_each_chart_and_says_why(inference_panel, tmp_path):
    panel = inference_panel
    panel.apply_scenario_state(SMALL)
    panel.compute_now()
    assert panel.load_chart.series_names()
    panel.apply_scenario_state(NOT_SIMULATED)
    panel.compute_now()
    assert panel.comparison.load is None and "not simulated" in panel.comparison.load_error
    for chart in _load_charts(panel):
        assert chart.notice().startswith("Under load: not simulated: a running batch of"), chart.title
        assert not chart.series_names() and not chart.axis_values_shown()
        assert chart.plot_item.vb.viewRange() == [[0, 1], [0, 1]]   # not the previous run's ranges
        with pytest.raises(ValueError, match="has no data: under load: not simulated"):
            chart.export_csv(tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    panel.apply_scenario_state(SMALL)   # simulated again: the notices go
    panel.compute_now()
    assert all(not chart.notice() for chart in _load_charts(panel))


def test_exports_while_inputs_are_invalid_name_the_inputs_the_data_ran_from(inference_panel, tmp_path):
    panel = inference_panel
    panel.apply_scenario_state({**SMALL, "model_id": "llama3-70b", "chip_id": "h20-96gb",
                                "compare_chips": ["h20-96gb"]})
    panel.compute_now()
    for key, chart in panel.charts().items():
        chart.context_provider = lambda key=key: panel_context(panel, "S", key)
    panel.input_spin.setValue(16000)   # past Llama 3 70B's 8,192-token context
    panel._evaluate()
    assert panel.request is None
    head = _comments(panel.load_chart.export_csv(tmp_path / "load.csv"))
    assert any("1,024 in / 256 out tokens" in ln for ln in head), head
    assert any(ln.startswith("# Note:") and "not valid" in ln for ln in head), head
    assert not any("inputs invalid" in ln for ln in head), head
    assert is_stale(panel.load_note)   # greyed with the charts it describes


def test_tpot_vs_load_is_framed_from_zero_to_the_target_and_both_lines_labelled(inference_panel, tmp_path):
    panel = inference_panel
    panel.apply_scenario_state(SMALL)
    panel.compute_now()
    _x, (y_lo, y_hi) = panel.tpot_load_chart.plot_item.vb.viewRange()
    assert y_lo == 0 and y_hi >= 50   # the 50 ms target line is in view
    assert panel._tpot_load_line.label.format == panel._load_line.label.format
    assert panel._tpot_load_line.label.format.startswith("SLO capacity")
    for key in ("latency-vs-load", "tpot-vs-load"):   # what the note says beside the charts
        chart = panel.charts()[key]
        chart.context_provider = lambda key=key: panel_context(panel, "S", key)
        head = _comments(chart.export_csv(tmp_path / f"{key}.csv"))
        text = "\n".join(head)
        for word in ("# Marked load: SLO capacity", "# Targets: TTFT p90 ≤ 1,000 ms, TPOT p90 ≤ 50 ms", "# Knee:",
                     "# Saturation:", f"# Limiting: {panel.comparison.load.limiting}"):
            assert word in text, (word, head)


def test_table_export_adds_csv_and_asks_before_replacing(inference_panel, tmp_path, monkeypatch):
    panel = inference_panel
    messages = []
    panel.status_message.connect(messages.append)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "table"), ""))
    panel._export_table_with_dialog()   # nothing compared yet: no dialog, nothing written
    assert messages[-1].startswith("Not exported: the chip comparison has not run yet")
    panel.apply_scenario_state(SMALL)
    panel.compute_now()
    panel._export_table_with_dialog()
    assert (tmp_path / "table.csv").exists() and not (tmp_path / "table").exists()
    (tmp_path / "table.csv").write_text("mine", encoding="utf-8")
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
    panel._export_table_with_dialog()
    assert asked and (tmp_path / "table.csv").read_text(encoding="utf-8") == "mine"


def test_plan_cost_charts_unit_and_short_subtitle(plan_panel, qtbot, tmp_path):
    with qtbot.waitSignal(plan_panel.result_ready, timeout=120000):
        plan_panel.run()
    chart = plan_panel.served_cost_chart
    headers, rows = chart.data_table()
    assert rows and headers[1].endswith("(USD per million tokens)") and not headers[1].endswith("(USD)")
    assert chart.y_unit == "USD per million tokens"
    context = panel_context(plan_panel, "S", "cost_per_million_served_tokens")
    assert context["Plan"].startswith("candidate chips for P(meet demand) >=") and len(context["Plan"]) < 120
    head = _comments(chart.export_csv(tmp_path / "cost.csv", context={"Chart": chart.title, **context}))
    assert len(head) == 3 and np.isfinite(rows[0][1])
