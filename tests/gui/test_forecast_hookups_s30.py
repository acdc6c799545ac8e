"""Session 30: the Forecast view's hookups to what the engine already offers.

- the form and Save check the request against the served model's context window (the engine's
  ForecastStudy.problems(models)); a request past it was accepted and saved, and every run failed;
- the tornado runs with the runner's progress and stop request: a bar under "Compute
  sensitivity", a Cancel that stops the engine between runs, the button off while it runs, a
  cancelled state that says so; the exports' tornado stops with the export;
- the assumptions box and the validation line read on a dark desktop;
- the summary folds one-per-order notes as `fleetcast forecast` does (engine.forecast_text).
"""

from __future__ import annotations

import html
import re
import shlex
import time

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QColor, QPalette, QUndoStack
from PySide6.QtWidgets import QApplication

from engine.errors import Cancelled
from gui import style
from gui.widgets.form_undo import flush_pending_edits
from tests.gui.shared_setups import run_forecast

DEFAULT = "Story default"


def _panel(store, qtbot, undo_stack=None):
    from gui.panels.forecast import ForecastPanel

    panel = ForecastPanel(store, undo_stack or QUndoStack())
    qtbot.addWidget(panel)
    panel.auto_check.setChecked(False)   # the tests start runs themselves
    panel._debounce.stop()
    return panel


@pytest.fixture
def panel(forecast_panel):   # (tests/gui/conftest.py)
    return forecast_panel


def _run(panel, qtbot):
    return run_forecast(panel, qtbot)


# ---- 1. the request against the served model's context ------------------------------------------

def test_a_request_past_the_models_context_is_refused_by_the_form_and_the_save(window, store):
    forecast = window.panel("forecast")
    forecast.auto_check.setChecked(False)
    model = store.models()[[m.id for m in store.models()].index(forecast.model_combo.currentData())]
    assert (model.id, model.context_len) == ("qwen3-235b-a22b", 40_960)
    stored_input = store.scenario(DEFAULT)["params"]["demand"]["input_tokens_per_request"]
    forecast.output_tokens_spin.setValue(200)
    forecast.input_tokens_spin.setValue(40_760)   # 40,760 + 200 = 40,960: exactly the context, served
    flush_pending_edits()
    assert window.save_problem() == "" and forecast._validate(forecast.scenario())
    forecast.input_tokens_spin.setValue(40_800)   # 41,000 tokens: 40 past it
    flush_pending_edits()
    problem = ("Input per request: input 40,800 + output 200 = 41,000 tokens exceed Qwen3 235B-A22B (MoE)'s "
               "context window of 40,960 tokens (the preset's context_len); shorten the request or pick a model "
               "with a longer context.")
    assert window.save_problem() == problem
    assert not window.scenario_bar.save_current()
    assert window.scenario_bar.message.text() == f"Not saved: {problem}"
    assert store.scenario(DEFAULT)["params"]["demand"]["input_tokens_per_request"] == stored_input
    # the form says it, marks the field, and runs nothing
    assert forecast.run() is None
    assert forecast.validation_label.text() == f"Fix before running: {problem}"
    assert "border" in forecast.input_tokens_spin.styleSheet()
    assert forecast.progress_bar.format() == "Not run: fix Input per request"
    # an output that alone fills the context names the output field
    forecast.input_tokens_spin.setValue(100)
    forecast.output_tokens_spin.setValue(41_000)
    flush_pending_edits()
    assert window.save_problem().startswith("Output per request: input 100 + output 41,000 = 41,100 tokens")
    assert forecast.run() is None   # (with the update off, the form checks itself on Run)
    assert "border" in forecast.output_tokens_spin.styleSheet() and not forecast.input_tokens_spin.styleSheet()
    forecast.output_tokens_spin.setValue(200)
    flush_pending_edits()
    assert window.save_problem() == "" and window.scenario_bar.save_current()
    assert store.scenario(DEFAULT)["params"]["demand"]["input_tokens_per_request"] == 100


# ---- 2. the tornado's progress, Cancel and busy state ------------------------------------------------

def test_the_tornado_shows_its_progress_and_disables_its_button_until_done(panel, qtbot):
    _run(panel, qtbot)
    run = panel.sensitivity
    seen: list[tuple[float, str, bool, bool]] = []
    run.runner.progress.connect(lambda f, m: seen.append(
        (f, run.progress_bar.format(), panel.view.sensitivity_button.isEnabled(), run.cancel_button.isEnabled())))
    assert run.progress_bar.isHidden() and run.cancel_button.isHidden()   # idle: no room taken
    with qtbot.waitSignal(run.runner.finished, timeout=20000):
        assert panel.run_sensitivity() is not None
        assert not panel.view.sensitivity_button.isEnabled() and run.cancel_button.isEnabled()
        assert not run.progress_bar.isHidden() and not run.cancel_button.isHidden()
    # the story's 20 runs: the base and the unit chip's rate, 4 for each of 2 vendors, 2 each for demand,
    # throughput, the request mix, the H20 cut-off and the 910B's training share; then "done"
    assert [f for f, *_ in seen] == pytest.approx([i / 20 for i in range(21)])
    formats = [fmt for _, fmt, _, _ in seen]
    assert all(fmt.startswith("Sensitivity: ") and fmt.endswith(" %p%") for fmt in formats)
    assert "Sensitivity: Huawei delay %p%" in formats and formats[-1] == "Sensitivity: done %p%"
    assert not any("ascend-910b2" in fmt for fmt in formats)   # chips by the names the view shows
    assert not any(button for _, _, button, _ in seen) and all(cancel for *_, cancel in seen)
    # done: the tornado drawn, the button back, the bar and Cancel out of the way
    assert panel.view.tornado is not None and panel.view.tornado.trials == 1000
    assert panel.view.sensitivity_button.isEnabled() and not run.cancel_button.isEnabled()
    assert run.progress_bar.isHidden()


def test_cancel_stops_the_tornado_within_half_a_second(panel, qtbot, monkeypatch):
    """The real engine asks `should_stop` before each run and each order; its worker ignored it
    and ran every setting to the end (seconds with a large fleet) after Cancel."""
    import gui.panels.forecast_tornado as ft

    _run(panel, qtbot)
    real, ended = ft.tornado, {}

    def slowed(*args, progress=None, should_stop=None, **kwargs):
        ended["given_stop"] = should_stop is not None

        def each_run(fraction, message=""):   # ~1.8 s in all: the cancel lands mid-run
            progress(fraction, message)
            time.sleep(0.1)
        try:
            result = real(*args, progress=each_run, should_stop=should_stop, **kwargs)
        except Cancelled:
            ended["how"], ended["at"] = "cancelled", time.perf_counter()
            raise
        ended["how"], ended["at"] = "finished", time.perf_counter()
        return result

    monkeypatch.setattr(ft, "tornado", slowed)
    run = panel.sensitivity
    with qtbot.waitSignal(run.runner.progress, timeout=20000):
        panel.run_sensitivity()
    assert "how" not in ended
    with qtbot.waitSignal(run.runner.cancelled, timeout=1000):
        clicked = time.perf_counter()
        run.cancel_button.click()
    qtbot.waitUntil(lambda: "how" in ended, timeout=2000)
    assert ended["given_stop"] and ended["how"] == "cancelled"
    assert ended["at"] - clicked < 0.5
    assert QThreadPool.globalInstance().waitForDone(500)
    # the cancelled state, said: nothing drawn, the button back, Cancel off
    assert panel.view.tornado is None and not run.is_running()
    assert run.progress_bar.isHidden() and run.cancel_button.isHidden()   # the label says it; the chart keeps its room
    assert panel.view.sensitivity_label.text().startswith("<b>Sensitivity cancelled</b>: press Compute sensitivity")
    assert panel.view.sensitivity_button.isEnabled() and not run.cancel_button.isEnabled()


def test_a_cancelled_rerun_keeps_the_tornado_shown_and_says_so(panel, qtbot):
    _run(panel, qtbot)
    run = panel.sensitivity
    with qtbot.waitSignal(run.runner.finished, timeout=20000):
        panel.run_sensitivity()
    first, said = panel.view.tornado, panel.view.sensitivity_label.text()
    panel.run_sensitivity()
    run.cancel()
    assert QThreadPool.globalInstance().waitForDone(5000)
    assert panel.view.tornado is first
    assert run.progress_bar.isHidden()   # (QA: the row stayed and squeezed the tornado to ~55 px at 1280x720)
    cancelled = f"<b>Sensitivity cancelled</b>; the tornado below is the one computed before. {said}"
    assert panel.view.sensitivity_label.text() == cancelled
    said_in_status = []
    panel.status_message.connect(said_in_status.append)
    panel.run_sensitivity()   # a second cancel: one prefix, not two (QA: they piled up)
    run.cancel()
    assert QThreadPool.globalInstance().waitForDone(5000)
    assert panel.view.sensitivity_label.text() == cancelled
    # the next run that finishes replaces the cancel's status message (it stayed through the run)
    with qtbot.waitSignal(run.runner.finished, timeout=20000):
        panel.run_sensitivity()
    assert said_in_status[-1] == "Sensitivity computed." and panel.view.sensitivity_label.text() == said


def test_a_tornado_of_other_inputs_is_cleared_not_shown_or_exported_under_a_new_forecast(panel, qtbot):
    """QA: Story default's tornado stayed under "Huawei delivers half"'s forecast, and Export all
    wrote it with "# Scenario: Huawei delivers half" (base P(meet) 35% in Jul 2025 against that
    scenario's own 61% in Jun 2025)."""
    _run(panel, qtbot)
    run = panel.sensitivity
    with qtbot.waitSignal(run.runner.finished, timeout=20000):
        panel.run_sensitivity()
    first = panel.view.tornado
    _run(panel, qtbot)   # the same inputs again: the tornado still stands for them
    assert panel.view.tornado is first
    panel.trials_spin.setValue(panel.trials_spin.value() // 2)   # other inputs
    _run(panel, qtbot)
    assert panel.view.tornado is None and run.drawn_for is None
    assert panel.view.sensitivity_label.text().startswith("Each bar: the change")
    assert all(c.categories == [] for c in panel.view.tornado_charts.values())
    assert all(c.notice().startswith("Press") for c in panel.view.tornado_charts.values())
    panel.compute_now()   # an export computes the tornado of what is on screen
    assert panel.view.tornado is not None and panel.view.tornado is not first
    assert panel.view.tornado.trials == 500
    # a run going for the old inputs is stopped when the forecast moves on
    panel.run_sensitivity()
    assert run.is_running()
    panel.trials_spin.setValue(panel.trials_spin.value() * 2)
    _run(panel, qtbot)
    assert not run.is_running() and panel.view.tornado is None
    assert panel.view.sensitivity_button.isEnabled() and run.progress_bar.isHidden()


def test_the_exports_tornado_stops_with_the_export(panel):
    """compute_now (Export all, the report) drew a tornado of 500 trials a setting after the
    forecast whatever the export's should_stop said."""
    asked_after_forecast = []

    def stop() -> bool:   # the export is cancelled once the forecast is on screen
        if panel.result is not None:
            asked_after_forecast.append(True)
        return panel.result is not None

    with pytest.raises(Cancelled):
        panel.compute_now(should_stop=stop)
    assert panel.result is not None and panel.view.tornado is None and asked_after_forecast
    panel.compute_now()   # not cancelled: drawn as before
    assert panel.view.tornado is not None and panel.view.tornado.trials == 500


# ---- 3. a dark desktop --------------------------------------------------------------------------------

def _dark_palette() -> QPalette:
    p = QPalette(QApplication.palette())
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Disabled):
        for role, colour in ((QPalette.ColorRole.Window, "#353535"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
                             (QPalette.ColorRole.Base, "#232323"), (QPalette.ColorRole.Text, "#e6e6e6"),
                             (QPalette.ColorRole.Link, "#64aaff")):
            p.setColor(group, role, QColor(colour))
    return p


@pytest.fixture
def dark(qapp):
    before = QPalette(qapp.palette())
    qapp.setPalette(_dark_palette())
    yield
    qapp.setPalette(before)


def _ink(widget) -> QColor:
    widget.ensurePolished()
    return widget.palette().color(widget.foregroundRole())


def test_the_assumptions_box_and_the_validation_line_read_on_a_dark_desktop(dark, store, qtbot):
    panel = _panel(store, qtbot)
    try:
        box = panel.assumptions_label
        assert style.ASSUMPTIONS_BOX.background in box.styleSheet()   # its own light background, kept
        # the palette's #e6e6e6 on the box's #fff8e6 was 1.2:1; the box's own dark text is set with it
        assert style.contrast_ratio(_ink(box), QColor(style.ASSUMPTIONS_BOX.background)) >= 4.5, _ink(box).name()
        assert "2024-12" in box.text()   # the assumptions are still written into it
        panel.trials_spin.setValue(500_000)
        panel.months_spin.setValue(240)   # over the trials x months limit: the line shows
        assert not panel._validate(panel.scenario()) and panel.validation_label.isVisibleTo(panel)
        window = QApplication.palette().color(QPalette.ColorRole.Window)
        # #a1260d on the dark window was 2.0:1
        assert style.contrast_ratio(_ink(panel.validation_label), window) >= 4.5, _ink(panel.validation_label).name()
    finally:
        panel.shutdown()


# ---- 4. many orders' notes, folded as the CLI folds them ------------------------------------------

UNSCHEDULED = re.compile(r"order (\d+) \([^)]*\): ([\d,]+) chips have no promised date")


def test_the_summary_folds_many_orders_notes_as_the_cli_does(store, qtbot, capsys):
    from engine.cli import main

    # twelve orders of 100, 200, ... 1,200 chips with no schedule: one note each
    ids = [store.add_order({"buyer": "QA", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 100 * (i + 1),
                            "order_date": "2025-01-01"}) for i in range(12)]
    panel = _panel(store, qtbot)
    try:
        result = _run(panel, qtbot)
        assert sum("have no promised date" in n for n in result.notes) == 12   # the engine writes every one
        text = panel.summary_label.text()
        shown = [int(m[1]) for m in UNSCHEDULED.finditer(text)]
        # the five with the most chips, largest first; the other seven (100 + ... + 700 = 2,800 chips) in one line
        assert shown == ids[::-1][:5]
        # the pointer names the scenario on screen (a bare `fleetcast forecast` ran the default one)
        name = shlex.quote(panel.scenario().name)   # the window sets it to the scenario on screen
        assert ("... and 7 more orders with 2,800 chips that have no promised date; `fleetcast forecast --scenario "
                f"{name} --format json` lists them all (as saved).") in html.unescape(text)
        assert main(["--db", str(store.path), "forecast"]) == 0
        cli = capsys.readouterr().out
        assert [int(m[1]) for m in UNSCHEDULED.finditer(cli)] == shown   # the same notes as the CLI's
        assert "note: ... and 7 more orders with 2,800 chips that have no promised date; --format json" in cli
        # the result itself keeps every note (exports and JSON)
        assert panel.result is result and len(panel.result.notes) == len(result.notes)
    finally:
        panel.shutdown()
        QThreadPool.globalInstance().waitForDone(5000)


def test_a_few_notes_are_shown_as_before(panel, qtbot):
    """The story's notes (no kind past five) are every one, unchanged."""
    result = _run(panel, qtbot)
    from gui.panels.forecast_common import condensed_notes

    assert condensed_notes(result, panel.inputs, {c.id: c for c in panel.store.chips()}) == tuple(result.notes)
