"""A window-modal progress dialog with Cancel for work that must run on the GUI thread.

File > Export all and Export report draw every view's charts, which only the GUI thread may do, so
their computing runs there too. The engine functions take `progress(fraction, message)` and
`should_stop()`; this dialog gives them both, and lets the window repaint and the Cancel button be
clicked by processing events at most every `POLL_S` (the main window takes no input meanwhile: the
dialog is window-modal).

    with WorkDialog(window, "Export all", "Computing the views…") as work:
        export_all(panels, folder, progress=work.progress, should_stop=work.should_stop)

A phase that does not ask `should_stop` calls `uncancellable(label)` first: its Cancel is greyed
(the report's writing showed an enabled Cancel that did nothing for 10-13 s).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QShortcut
from PySide6.QtWidgets import QApplication, QProgressDialog, QPushButton

POLL_S = 0.05          # events handled at most this often: a repaint, a click on Cancel
STEPS = 1000


class _ProgressDialog(QProgressDialog):
    """Escape and the title bar's close cancel, as the button does, only while it can be clicked."""

    def reject(self) -> None:
        if self.cancel_button.isEnabled():
            super().reject()

    def closeEvent(self, event) -> None:
        if self.cancel_button.isEnabled():
            super().closeEvent(event)
        else:
            event.ignore()


class WorkDialog:
    def __init__(self, parent, title: str, label: str, show_after_ms: int = 300):
        dialog = _ProgressDialog(label, "Cancel", 0, STEPS, parent)
        dialog.cancel_button = QPushButton("Cancel", dialog)   # kept, to grey it (uncancellable)
        dialog.setCancelButton(dialog.cancel_button)
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

    def uncancellable(self, label: str) -> None:
        """From now on the work cannot be stopped: say `label`, grey Cancel, and show a busy bar
        (the work reports no progress)."""
        self.dialog.cancel_button.setEnabled(False)
        for shortcut in self.dialog.findChildren(QShortcut):   # Escape: Qt's own shortcut to cancel
            shortcut.setEnabled(False)
        self.dialog.cancel_button.setToolTip("This step cannot be stopped")
        self.dialog.setRange(0, 0)
        self.dialog.setLabelText(label)
        self._polled = 0.0   # shown now, not at the next poll (there may be none)
        self._poll()

    def should_stop(self) -> bool:
        self._poll()
        return self.dialog.wasCanceled()
