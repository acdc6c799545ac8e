"""The mouse wheel never changes a field that does not have the keyboard focus.

Scrolling a form with the wheel used to change whichever spin box, combo or slider happened to
pass under the pointer (a growth rate of 2.00 became 1.00 with no trace). One filter on the
application catches wheel events aimed at an unfocused value widget and hands them to the
scroll area around it instead, so the form scrolls and the value stays.

    install_wheel_guard(QApplication.instance())   # once; the window does it
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QScrollBar, QWidget,
)

_GUARDED = (QAbstractSpinBox, QComboBox, QAbstractSlider)


def _guarded_widget(obj) -> QWidget | None:
    """The value widget an event is for (a spin box's inner line edit counts as the spin box)."""
    if not isinstance(obj, QWidget) or isinstance(obj, QScrollBar):
        return None
    for candidate in (obj, obj.parentWidget()):
        if isinstance(candidate, _GUARDED) and not isinstance(candidate, QScrollBar):
            return candidate
    return None


class WheelGuard(QObject):
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
        if event.type() != QEvent.Type.Wheel:
            return False
        widget = _guarded_widget(obj)
        if widget is None or widget.hasFocus() or (widget.focusProxy() and widget.focusProxy().hasFocus()):
            return False
        if isinstance(widget, QComboBox) and widget.view().isVisible():
            return False  # the open drop-down list scrolls itself
        scroll = widget.parentWidget()
        while scroll is not None and not isinstance(scroll, QAbstractScrollArea):
            scroll = scroll.parentWidget()
        if scroll is not None:
            bar = scroll.verticalScrollBar()
            if bar is not None and bar.maximum() > bar.minimum():
                QApplication.sendEvent(bar, event)
        event.accept()
        return True  # the value widget never sees it


_guard: WheelGuard | None = None


def install_wheel_guard(app=None) -> WheelGuard:
    """Install the one application-wide guard (idempotent)."""
    global _guard
    app = app or QApplication.instance()
    if _guard is None:
        _guard = WheelGuard()
        app.installEventFilter(_guard)
    return _guard


def prefer_click_focus(widget: QWidget) -> None:
    """Value widgets take focus by click or Tab, never by the wheel."""
    for child in widget.findChildren(QWidget):
        if isinstance(child, _GUARDED) and not isinstance(child, QScrollBar):
            child.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
