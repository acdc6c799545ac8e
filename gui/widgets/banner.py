"""A non-modal message strip above a panel: refused edits and notices, never a dialog."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

# (background, border, text) of each kind. The banner sets its own light background, so it sets the
# colour of all its text too: its close button took the palette's (light on a dark desktop).
_COLOURS = {
    "error": ("#fdecea", "#e0a09a", "#7a1c12"),
    "info": ("#e8f1fb", "#9fc0e6", "#163d66"),
    # what was saved and cannot be shown (stays until dismissed: a valid form does not clear it)
    "warning": ("#fff4e0", "#e0b86a", "#6b4400"),
}
_STYLES = {
    kind: (f"QFrame#messageBanner {{ background: {back}; border: 1px solid {edge}; border-radius: 4px; }}"
           f" QLabel {{ color: {text}; }} QToolButton {{ color: {text}; }}")
    for kind, (back, edge, text) in _COLOURS.items()
}


class MessageBanner(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = self.close_button = QToolButton()
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
