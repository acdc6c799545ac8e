"""Export all and Export report compute every view with progress and Cancel (gui.export_all.compute_all,
gui.widgets.progress_dialog.WorkDialog): they had run 11-12 s on the GUI thread behind a wait cursor."""

import pytest

from engine.errors import Cancelled
from gui.export_all import compute_all


class _Panel:
    def __init__(self, log, name, steps=(0.5, 1.0), takes_progress=True):
        self.log, self.name, self.steps = log, name, steps
        if not takes_progress:
            self.compute_now = self._plain

    def compute_now(self, progress=None, should_stop=None):
        for f in self.steps:
            if should_stop():
                raise Cancelled()
            progress(f, "step")
        self.log.append(self.name)

    def _plain(self):
        self.log.append(self.name)


def test_compute_all_gives_each_view_its_slice_of_the_progress():
    log, seen = [], []
    panels = {"training": _Panel(log, "t"), "fleet": _Panel(log, "f", takes_progress=False),
              "forecast": _Panel(log, "c")}
    compute_all(panels, progress=lambda f, m="": seen.append((round(f, 4), m)))
    assert log == ["t", "f", "c"]
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # three views: the forecast's half-way step is at (2 + 0.5) / 3
    assert (round(2.5 / 3, 4), "Forecast: step") in seen
    assert ("Training: computing…" in [m for _, m in seen]) and seen[-1][1] == "Writing files…"


def test_compute_all_stops_between_and_inside_views():
    log = []
    calls = {"n": 0}

    def stop_at_fifth():   # 1: before Training, 2-3: its steps, 4: before Inference, 5: its first step
        calls["n"] += 1
        return calls["n"] >= 5
    panels = {"training": _Panel(log, "t"), "inference": _Panel(log, "i"), "plan": _Panel(log, "p")}
    with pytest.raises(Cancelled):
        compute_all(panels, should_stop=stop_at_fifth)
    assert log == ["t"]           # the Inference view was stopped inside; the Plan never started


def test_a_cancelled_plan_keeps_the_plan_and_inputs_it_shows(plan_panel):
    before = (plan_panel.result, plan_panel.planned_candidates, getattr(plan_panel, "compute_error", None))
    with pytest.raises(Cancelled):
        plan_panel.compute_now(progress=lambda f, m="": None, should_stop=lambda: True)
    assert (plan_panel.result, plan_panel.planned_candidates, getattr(plan_panel, "compute_error", None)) == before


def test_export_all_in_the_window_reports_progress_and_cancel_writes_nothing(window, tmp_path, monkeypatch):
    from gui.widgets import progress_dialog

    seen = []
    original = progress_dialog.WorkDialog.progress

    def progress(self, fraction, message=""):
        seen.append(message)
        original(self, fraction, message)

    def should_stop(self):   # the user clicks Cancel once the Training view has been computed
        self._poll()
        return any(m.startswith("Inference") for m in seen)

    monkeypatch.setattr(progress_dialog.WorkDialog, "progress", progress)
    monkeypatch.setattr(progress_dialog.WorkDialog, "should_stop", should_stop)
    out = tmp_path / "out"
    assert window.export_all(str(out)) is None
    assert not any(p for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else True
    assert window.statusBar().currentMessage() == "Export all cancelled: nothing was written"
    # the Training view's own steps came through, not only "computing…"
    assert any(m.startswith("Training: ") and m != "Training: computing…" for m in seen), seen


def test_export_report_cancel_writes_nothing(window, tmp_path, monkeypatch):
    from gui.widgets import progress_dialog

    monkeypatch.setattr(progress_dialog.WorkDialog, "should_stop", lambda self: True)
    pdf = tmp_path / "r.pdf"
    assert window.export_report(str(pdf)) is None
    assert not pdf.exists()
    assert window.statusBar().currentMessage() == "Report cancelled: nothing was written"
