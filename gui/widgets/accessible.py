"""Names a screen reader reads for the inputs of a view.

Qt names a field after its form label only where the label was given to the field itself
(`QFormLayout.addRow("Caption", field)`). Most views put a field and its error line in a holder
widget, so a screen reader heard "spin box, 1,024 chips" with no "Chip count", a drop-down by its
value alone ("BF16" for both the weights and the KV cache), and each table as "table" (QA s38).
`name_inputs` gives every input without a name the one a sighted user reads beside it: its form
label (with the group it sits in where two fields share one), its placeholder, or the first words
of its tooltip.
"""

from __future__ import annotations

import re

from PySide6.QtWidgets import (
    QAbstractItemView, QAbstractSpinBox, QComboBox, QFormLayout, QGroupBox, QHeaderView, QLabel, QLineEdit,
    QStackedWidget, QTabWidget, QWidget,
)

INPUTS = (QAbstractSpinBox, QComboBox, QLineEdit, QAbstractItemView)
NAME_CHARS = 80


def _plain(text: str) -> str:
    text = re.sub(r"<[^>]+>", "", text or "").replace("&&", "\0").replace("&", "").replace("\0", "&")
    return " ".join(text.split()).rstrip(":").strip()


def _tip_words(tip: str) -> str:
    """The tooltip's first clause: what the field is, not the whole explanation."""
    first = re.split(r"(?<=[a-z0-9)])[.;:]\s|\s\(|\n", _plain(tip), maxsplit=1)[0]
    return first[:NAME_CHARS].rstrip(" ,")


def _form_label(widget: QWidget) -> str:
    """The label of the form row that holds `widget` (or the holder it sits in)."""
    node = widget
    while node is not None:
        parent = node.parentWidget()
        if parent is None:
            return ""
        layout = parent.layout()
        if isinstance(layout, QFormLayout):
            label = layout.labelForField(node)
            if isinstance(label, QLabel) and _plain(label.text()):
                return _plain(label.text())
            return ""
        if isinstance(node, QGroupBox) or node.property("accessible_scope"):
            return ""
        node = parent
    return ""


def _group_title(widget: QWidget) -> str:
    node = widget.parentWidget()
    while node is not None:
        if isinstance(node, QGroupBox) and _plain(node.title()):
            return _plain(node.title())
        node = node.parentWidget()
    return ""


def _context_title(widget: QWidget) -> str:
    """A table's title as a user sees it: the group box it sits in, the tab that shows it, or the
    label just above it."""
    node = widget
    while node is not None:
        parent = node.parentWidget()
        if isinstance(node, QGroupBox) and _plain(node.title()):
            return _plain(node.title())
        if isinstance(parent, QStackedWidget) and isinstance(parent.parentWidget(), QTabWidget):
            tabs = parent.parentWidget()
            return _plain(tabs.tabText(tabs.indexOf(node)))
        layout = parent.layout() if parent is not None else None
        if layout is not None:
            at = layout.indexOf(node)
            for k in range(at - 1, -1, -1):
                item = layout.itemAt(k).widget()
                if isinstance(item, QLabel) and _plain(item.text()) and item.isVisibleTo(parent):
                    return _plain(item.text())[:NAME_CHARS]
                if item is not None:
                    break
        node = parent
    return ""


def _part_of_another(widget: QWidget) -> bool:
    """A spin box's own line edit, a drop-down's popup list, a table's header: read with their owner."""
    if isinstance(widget, QHeaderView):
        return True
    node = widget.parentWidget()
    while node is not None:
        if isinstance(node, QAbstractSpinBox | QComboBox):
            return True
        node = node.parentWidget()
    return False


def _buddy_text(widget: QWidget, labels: list[QLabel]) -> str:
    return next((_plain(label.text()) for label in labels if label.buddy() is widget and _plain(label.text())), "")


def name_inputs(root: QWidget) -> None:
    """Give every input under `root` without an accessible name the words shown beside it.
    Two fields of one row (a low, mode and high of each vendor) are told apart by their tooltips."""
    labels = root.findChildren(QLabel)
    fields = [w for w in root.findChildren(QWidget) if isinstance(w, INPUTS) and not w.accessibleName()
              and not _part_of_another(w)]
    found: dict[QWidget, str] = {}
    for widget in fields:
        tip = _tip_words(widget.toolTip())
        placeholder = _plain(widget.placeholderText()) if isinstance(widget, QLineEdit) else ""
        if isinstance(widget, QAbstractItemView):   # a table by its title; its tooltip says how to use it
            name = _context_title(widget) or tip
        else:
            name = _buddy_text(widget, labels) or _form_label(widget) or placeholder or tip or _group_title(widget)
        if name:
            found[widget] = name
    shared: dict[str, list[QWidget]] = {}
    for widget, name in found.items():
        shared.setdefault(name, []).append(widget)
    for name, widgets in shared.items():
        if len(widgets) > 1:   # one caption over several fields: each by its own tooltip where it has one
            for widget in widgets:
                tip = _tip_words(widget.toolTip())
                if tip and tip != name:
                    found[widget] = tip if name.lower() in tip.lower() else f"{name}: {tip}"
    for widget, name in found.items():
        widget.setAccessibleName(name[:NAME_CHARS])


def unnamed_inputs(root: QWidget) -> list[QWidget]:
    """The inputs under `root` a screen reader would read without a name (tests, checks)."""
    return [w for w in root.findChildren(QWidget) if isinstance(w, INPUTS) and not w.accessibleName()
            and not _part_of_another(w)]
