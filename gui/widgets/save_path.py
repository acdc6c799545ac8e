"""The file a save dialog's answer names, with its suffix, asked about again when adding the
suffix made it a different, existing file (the dialog asked about the name as typed: "report"
became "report.png" and replaced that file without a word)."""

from __future__ import annotations

import os

from PySide6.QtWidgets import QMessageBox


def with_suffix_confirmed(parent, path: str, suffix: str) -> str | None:
    """`path` ending in `.suffix`; None when that is a folder or the user keeps an existing file."""
    if not path:
        return None
    if not path.lower().endswith("." + suffix):
        path += "." + suffix
        if os.path.isdir(path):
            QMessageBox.warning(parent, "Not saved", f"{path} is a folder; choose a file name.")
            return None
        if os.path.lexists(path):
            answer = QMessageBox.question(parent, "Replace file?", f"{path} already exists. Replace it?",
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return None
    elif os.path.isdir(path):
        QMessageBox.warning(parent, "Not saved", f"{path} is a folder; choose a file name.")
        return None
    return path
