"""A non-modal message strip above a panel: refused edits and notices, never a dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

_STYLES = {
    "error": "QFrame#messageBanner { background: #fdecea; border: 1px solid #e0a09a; border-radius: 4px; }"
             " QLabel { color: #7a1c12; }",
    "info": "QFrame#messageBanner { background: #e8f1fb; border: 1px solid #9fc0e6; border-radius: 4px; }"
            " QLabel { color: #163d66; }",
    # what was saved and cannot be shown (stays until dismissed: a valid form does not clear it)
    "warning": "QFrame#messageBanner { background: #fff4e0; border: 1px solid #e0b86a; border-radius: 4px; }"
               " QLabel { color: #6b4400; }",
}


class MessageBanner(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        self.setStyleSheet(_STYLES.get(kind, _STYLES["info"]))
        self.label.setText(text)
        self.show()

    def show_error(self, text: str) -> None:
        self.show_message(text, "error")

    def show_info(self, text: str) -> None:
        self.show_message(text, "info")

    def show_warning(self, text: str) -> None:
        self.show_message(text, "warning")

    def text(self) -> str:
        return self.label.text() if not self.isHidden() else ""

    def dismiss_error(self) -> None:
        """Hide an error (a newer result answers it); an info or warning stays."""
        if self.kind == "error":
            self.dismiss()

    def error_text(self) -> str:
        """The error shown, or "" (for what an export or a report says was not computed)."""
        return self.label.text() if self.kind == "error" else ""

    def dismiss(self) -> None:
        self.kind = ""
        self.label.clear()
        self.hide()
