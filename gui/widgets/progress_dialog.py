"""A window-modal progress dialog with Cancel for work that must run on the GUI thread.

File > Export all and Export report draw every view's charts, which only the GUI thread may do, so
their computing runs there too. The engine functions take `progress(fraction, message)` and
`should_stop()`; this dialog gives them both, and lets the window repaint and the Cancel button be
clicked by processing events at most every `POLL_S` (the main window takes no input meanwhile: the
dialog is window-modal).

    with WorkDialog(window, "Export all", "Computing the views…") as work:
        export_all(panels, folder, progress=work.progress, should_stop=work.should_stop)
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QProgressDialog

POLL_S = 0.05          # events handled at most this often: a repaint, a click on Cancel
STEPS = 1000


class WorkDialog:
    def __init__(self, parent, title: str, label: str, show_after_ms: int = 300):
        dialog = QProgressDialog(label, "Cancel", 0, STEPS, parent)
        dialog.setWindowTitle(title)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(show_after_ms)   # a quick export shows no dialog at all
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumWidth(420)                # a long "Forecast: Simulating trials…" does not resize it
        dialog.setValue(0)
        self.dialog = dialog
        self._polled = 0.0

    def __enter__(self) -> "WorkDialog":
        return self

    def __exit__(self, *exc) -> None:
        self.dialog.reset()
        self.dialog.hide()
        self.dialog.deleteLater()

    def _poll(self) -> None:
        now = time.monotonic()
        if now - self._polled >= POLL_S:
            self._polled = now
            QApplication.processEvents()

    def progress(self, fraction: float, message: str = "") -> None:
        self.dialog.setValue(int(round(min(max(float(fraction), 0.0), 1.0) * (STEPS - 1))))  # STEPS would close it
        if message:
            self.dialog.setLabelText(message)
        self._poll()

    def should_stop(self) -> bool:
        self._poll()
        return self.dialog.wasCanceled()
