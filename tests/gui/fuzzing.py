"""Drive a widget tree with random and hostile input, as an impatient user with a clipboard would."""

from __future__ import annotations

import random

from PySide6.QtCore import QDate, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractItemView, QAbstractSpinBox, QCheckBox, QComboBox, QDateEdit,
    QDoubleSpinBox, QLineEdit, QPlainTextEdit, QSpinBox, QTextEdit, QWidget,
)

HOSTILE = [
    "", " ", "-1", "0", "-0", "1e308", "1e400", "-1e400", "nan", "NaN", "inf", "-inf", "1,5", "12abc",
    "２０", "١٢", "NULL", "None", "'; drop table orders; --", "\x00", "9" * 300, "1e-400", "true",
    "2024-02-30", "2024-13-01", "0000-00-00", "😀🚀", "ｆｕｌｌｗｉｄｔｈ", "\t\n", "<b>html</b>", "%s%s%n",
    "1/0", "-2147483649", "18446744073709551616", "0x1F", "3.", ".5", "1_000", "１００", "Ascend 910B",
    "h20-96gb", "2025-01-01:5;2025-02-01:x", "2025-01-01:99999999999",
]

# Buttons whose click opens a native dialog or menu (tested elsewhere with the dialog patched).
SKIP_BUTTON_WORDS = ("export", "import", "…", "...", "browse", "open", "about", "quit")


def _value(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return rng.choice(HOSTILE)
    alphabet = "0123456789.-+eE:;,/ abcxyzé中😀\t"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))


def _editable_indexes(view: QAbstractItemView, limit: int = 200):
    model = view.model()
    if model is None:
        return []
    out = []
    try:
        columns = model.columnCount(QModelIndex())
    except TypeError:  # list models keep columnCount private
        columns = 1
    for row in range(min(model.rowCount(QModelIndex()), 20)):
        for col in range(columns):
            index = model.index(row, col)
            if model.flags(index) & Qt.ItemFlag.ItemIsEditable:
                out.append(index)
                if len(out) >= limit:
                    return out
    return out


def fuzz(root: QWidget, qtbot, rng: random.Random, rounds: int = 60, click_buttons: bool = True) -> int:
    """Apply `rounds` random actions; returns how many actions ran."""
    actions = 0
    for _ in range(rounds):
        interactive = (QLineEdit, QPlainTextEdit, QTextEdit, QAbstractSpinBox, QComboBox, QCheckBox,
                       QAbstractItemView, QAbstractButton)
        widgets = [w for w in root.findChildren(QWidget) if w.isEnabled() and isinstance(w, interactive)]
        rng.shuffle(widgets)
        for widget in widgets[:8]:
            try:
                if isinstance(widget, QLineEdit) and not widget.isReadOnly():
                    widget.setText(_value(rng))
                    widget.editingFinished.emit()
                    widget.returnPressed.emit()
                elif isinstance(widget, (QPlainTextEdit, QTextEdit)) and not widget.isReadOnly():
                    widget.setPlainText(_value(rng))
                elif isinstance(widget, QSpinBox):
                    widget.setValue(rng.choice([widget.minimum(), widget.maximum(), rng.randint(-10**6, 10**9)]))
                elif isinstance(widget, QDoubleSpinBox):
                    widget.setValue(rng.choice([widget.minimum(), widget.maximum(), rng.uniform(-1e9, 1e12)]))
                elif isinstance(widget, QDateEdit):
                    widget.setDate(QDate(rng.randint(1900, 2200), rng.randint(1, 12), rng.randint(1, 28)))
                elif isinstance(widget, QAbstractSpinBox):
                    widget.lineEdit().setText(_value(rng))
                    widget.editingFinished.emit()
                elif isinstance(widget, QComboBox) and widget.count():
                    if widget.isEditable() and rng.random() < 0.4:
                        widget.setEditText(_value(rng))
                    else:
                        widget.setCurrentIndex(rng.randrange(widget.count()))
                elif isinstance(widget, QCheckBox):
                    widget.setChecked(not widget.isChecked())
                elif isinstance(widget, QAbstractItemView):
                    indexes = _editable_indexes(widget)
                    if indexes:
                        index = rng.choice(indexes)
                        widget.model().setData(index, _value(rng), Qt.ItemDataRole.EditRole)
                    model = widget.model()
                    if model is not None and model.rowCount(QModelIndex()):
                        widget.setCurrentIndex(model.index(rng.randrange(min(model.rowCount(QModelIndex()), 20)), 0))
                elif click_buttons and isinstance(widget, QAbstractButton) and widget.isVisibleTo(root):
                    text = (widget.text() or widget.toolTip() or "").lower()
                    if not any(word in text for word in SKIP_BUTTON_WORDS) and widget.menu() is None:
                        widget.click()
                else:
                    continue
                actions += 1
            except RuntimeError:  # a widget deleted by a refresh during this round
                continue
        qtbot.wait(1)
    return actions
