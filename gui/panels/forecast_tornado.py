"""The Forecast view's sensitivity (tornado) run, wired as the Plan wires its search.

The tornado is 15-20 Monte Carlo runs (seconds with a large fleet). Its worker ignored the
runner's `progress` and `should_stop`: no bar moved, nothing could stop it, and "Compute
sensitivity" could be pressed again while it ran. Here the engine's progress goes to a bar under
the button, Cancel stops the run before its next run or order (engine.forecast_sensitivity), the
button is off while it runs, and a cancelled run says so.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Mapping

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QProgressBar, QPushButton

from engine.forecast import ForecastInputs
from engine.forecast_sensitivity import Tornado, tornado
from gui.panels.base import with_names
from gui.workers import LatestRunner

# The exports' tornado (drawn with the forecast when none is on screen): ~1 s on the story
EXPORT_TORNADO_TRIALS = 500


def compute_tornado(inputs: ForecastInputs, month: dt.date | None, chip_names: Mapping[str, str], *,
                    trials: int = 1000, progress: Callable[[float, str], None] | None = None,
                    should_stop: Callable[[], bool] | None = None) -> Tornado:
    """The engine's tornado with the progress and the stop request passed on (raises
    engine.errors.Cancelled when `should_stop()` says True)."""
    return tornado(inputs, month, trials=trials, chip_names=dict(chip_names), progress=progress,
                   should_stop=should_stop)


def _parent_layout(widget) -> tuple[QBoxLayout, int] | None:
    """(the page's layout, the index of the row holding `widget`) or None."""
    page = widget.parentWidget()
    layout = page.layout() if page is not None else None
    if not isinstance(layout, QBoxLayout):
        return None
    for i in range(layout.count()):
        item = layout.itemAt(i)
        row = item.layout() if item is not None else None
        if row is not None and row.indexOf(widget) >= 0:
            return layout, i
    return None


class SensitivityRun(QObject):
    """The tornado in a worker: `start(inputs, month, chip_names, job_start)`; the bar and Cancel
    sit under the view's "Compute sensitivity" row (shown while it runs, and after a cancel or a
    failure to say so); `finished` draws the tornado into `view`."""

    def __init__(self, view, on_failed: Callable[[str], None], status: Callable[[str], None], parent=None):
        super().__init__(parent)
        self.view, self._on_failed_text, self._status = view, on_failed, status
        self._job_start: dt.date | None = None
        self._names: dict[str, str] = {}
        # the inputs of the run going and of the tornado drawn (the view's `inputs_key`, compared by
        # the view: a tornado of other inputs is cleared, not shown under a new forecast)
        self.running_for: object = None
        self.drawn_for: object = None
        self.runner = LatestRunner(self).wired(finished=self._on_finished, failed=self._on_failed, progress=self._on_progress,
                                               busy=self._on_busy, cancelled=self._on_cancelled)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)   # a reset bar (-1) hides its text
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setFormat("Idle")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the sensitivity run; the tornado shown before stays (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda: self.cancel())   # clicked(bool) is no `emit`
        self.row = QHBoxLayout()
        self.row.addWidget(self.progress_bar, 1)
        self.row.addWidget(self.cancel_button)
        placed = _parent_layout(view.sensitivity_button)
        if placed is not None:
            placed[0].insertLayout(placed[1] + 1, self.row)
        self._show_row(False)   # idle: the tornado keeps its room (1280x720)

    def _show_row(self, shown: bool) -> None:
        self.progress_bar.setVisible(shown)
        self.cancel_button.setVisible(shown)

    def is_running(self) -> bool:
        return self.runner.is_running()

    def start(self, inputs: ForecastInputs, month: dt.date | None, chip_names: Mapping[str, str],
              job_start: dt.date | None, inputs_key: object = None) -> int:
        self._job_start, self._names, self.running_for = job_start, dict(chip_names), inputs_key
        self.view.sensitivity_label.setText("Computing the sensitivity…")
        self._status("Computing the sensitivity…")   # (not a cancel's message left from before)
        return self.runner.start(compute_tornado, inputs, month, self._names)

    def forget(self) -> None:
        """The forecast's inputs changed: stop a run for the old ones and clear their tornado."""
        if self.runner.is_running():
            self.runner.cancel(emit=False)
            self._on_busy(False)
        self._show_row(False)
        self.drawn_for = self.running_for = None
        self.view.clear_tornado()

    def cancel(self, emit: bool = True) -> None:
        self.runner.cancel(emit=emit)

    def _on_busy(self, busy: bool) -> None:
        self.view.sensitivity_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        if busy:
            self._show_row(True)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Sensitivity: starting…")

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(round(fraction * 100)))
        text = with_names(message, self._names) if message else "Sensitivity"
        self.progress_bar.setFormat(f"{text} %p%")

    def _on_finished(self, result: Tornado) -> None:
        self.progress_bar.setValue(100)
        self._show_row(False)
        self.drawn_for = self.running_for
        self.view.draw_tornado(result, self._job_start)
        self._status("Sensitivity computed.")

    def _on_cancelled(self) -> None:
        kept = self.view.tornado is not None
        self.progress_bar.setValue(0)
        self._show_row(False)   # the label says it: the tornado keeps its room (1280x720)
        # (the drawn tornado's own words after it, never a previous cancel's: they piled up)
        self.view.sensitivity_label.setText(
            f"<b>Sensitivity cancelled</b>; the tornado below is the one computed before. {self.view.tornado_text}"
            if kept else "<b>Sensitivity cancelled</b>: press Compute sensitivity to run it again.")
        self._status("Sensitivity cancelled" + ("; the tornado shown before stays." if kept else "."))

    def _on_failed(self, message: str) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Sensitivity failed")
        self.view.sensitivity_label.setText("The sensitivity could not be computed (see the message above).")
        self._on_failed_text(f"Sensitivity failed: {message}")
