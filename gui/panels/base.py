"""Pieces shared by the Training and Inference panels: key-figure tiles, a run bar with progress
and Cancel, a chip-set picker, field-level validation messages and small form helpers."""

from __future__ import annotations

import datetime as dt
import math
import re

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QPainter
from PySide6.QtWidgets import (
    QApplication, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QGridLayout, QHBoxLayout, QLabel, QMenu,
    QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget,
)

from engine.errors import UserError  # noqa: E402
from gui.panels.base_missing import MISSING_FROM, missing_choices, vanished_choices  # noqa: F401 (the forms')
from gui import style  # noqa: E402
from gui.style import chip_display_name  # noqa: E402

# 910B vs H20 vs H800 vs H100, as the issue asks; missing ids are skipped.
DEFAULT_COMPARE_CHIPS = ("ascend-910b2", "h20-96gb", "h800-sxm5-80gb", "h100-sxm5-80gb")

STALE_OPACITY = 0.35
STALE_MESSAGE = ("Fix the fields marked in red to update the figures. The greyed figures and charts "
                 "are from the last valid inputs.")


class _StaleVeil(QWidget):
    """A pale layer over results that no longer match the inputs. (A QGraphicsOpacityEffect drew
    pyqtgraph's views dark, and let another view's charts show through.) Hover and clicks pass
    through to the chart below."""

    def __init__(self, target: QWidget):
        super().__init__(target)
        self.setObjectName("staleVeil")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setToolTip("")
        target.installEventFilter(self)
        self.setGeometry(target.rect())

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.setGeometry(watched.rect())
        return False

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(255, 255, 255, round(255 * (1.0 - STALE_OPACITY))))


def run_controls(owner, run_text: str, run_tip: str, cancel_tip: str, cancel=None) -> QHBoxLayout:
    """Run and Cancel buttons and an idle progress bar, set on `owner` as `run_button`,
    `cancel_button` and `progress_bar`; returns the row of the two buttons. Run calls `owner.run()`; Cancel calls `cancel` (default
    `owner.cancel`) with no argument: connected directly, clicked(bool) arrived as cancel(emit=False)
    and the Plan view stayed at "Solving... 60%" with Cancel enabled."""
    owner.run_button = QPushButton(run_text)
    owner.run_button.setToolTip(run_tip)
    owner.run_button.clicked.connect(lambda: owner.run())
    owner.cancel_button = QPushButton("Cancel")
    owner.cancel_button.setEnabled(False)
    owner.cancel_button.setToolTip(f"{cancel_tip} (Esc)")
    owner.cancel_button.clicked.connect(lambda: (cancel or owner.cancel)())
    owner.progress_bar = QProgressBar()
    owner.progress_bar.setRange(0, 100)
    owner.progress_bar.setValue(0)  # a reset bar (-1) hides its text
    owner.progress_bar.setTextVisible(True)
    owner.progress_bar.setFormat("Idle")
    row = QHBoxLayout()
    row.addWidget(owner.run_button)
    row.addWidget(owner.cancel_button)
    return row


def mark_stale(widgets, stale: bool) -> None:
    """Grey out results that no longer match the inputs (invalid inputs, or inputs changed since
    a run), so old numbers never pass for current ones; `is_stale(w)` tells tests and exports."""
    for widget in widgets:
        if bool(widget.property("stale")) == bool(stale):
            continue  # most evaluations: nothing changes, nothing to restyle
        veil = widget.findChild(_StaleVeil, "staleVeil", Qt.FindChildOption.FindDirectChildrenOnly)
        if stale:
            veil = veil or _StaleVeil(widget)
            veil.setGeometry(widget.rect())
            veil.show()
            veil.raise_()
        elif veil is not None:
            veil.hide()
        widget.setProperty("stale", bool(stale))


def stale_veil_shown(widget) -> bool:
    veil = widget.findChild(_StaleVeil, "staleVeil", Qt.FindChildOption.FindDirectChildrenOnly)
    return veil is not None and not veil.isHidden()


def is_stale(widget) -> bool:
    return bool(widget.property("stale"))


def chip_label(chip) -> str:
    """One name per chip everywhere (combos, charts, tables, files): the catalog's short form."""
    return chip_display_name(chip)


def short_chip_label(chip) -> str:
    return chip_display_name(chip)


def fmt(value, digits: int = 3) -> str:
    """Readable number: thousands separators, `digits` significant figures for small values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    v = float(value)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if v == 0:
        return "0"
    return f"{v:.{digits}g}"


def counted(n: float, word: str, plural: str | None = None) -> str:
    """'1 chip', '8 chips', '1,024 sequences': a count with its noun ("1 failures" read wrong)."""
    text = f"{n:,.0f}"
    return f"{text} {word if text == '1' else plural or word + 's'}"


def fmt_big(value: float, unit: str = "") -> str:
    """12.3 million / 4.5 billion: for figures that span many orders of magnitude."""
    if value is None or not math.isfinite(value):
        return "–"
    v = float(value)
    for limit, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(v) >= limit:
            return f"{v / limit:.3g} {word}{(' ' + unit) if unit else ''}"
    return f"{fmt(v)}{(' ' + unit) if unit else ''}"


class _ElidedLabel(QLabel):
    """One line that ends in "…" when the tile is narrower than the text (the tooltip has it
    whole), rather than stopping mid-word at the tile's edge ("147 TFLOP/s/chi")."""

    def shown_text(self) -> str:
        """The text as painted: elided to the label's width."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setFont(self.font())
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         self.shown_text())


class _CaptionLabel(_ElidedLabel):
    """A tile's caption on up to three lines, the last ending in "…" when even three are too few: at
    12-14 pt on 1280x720 one elided line lost the unit ("Time to train (d…", "Throughput (to…";
    QA s38), which the tooltip alone gave, to the mouse only."""

    LINES = 3   # (at 14 pt on 1280x720 "SLO throughput (tokens/s/chip)" needs three)

    def _lines(self, width: int) -> list[str]:
        metrics = self.fontMetrics()
        if width <= 0 or metrics.horizontalAdvance(self.text()) <= width:
            return [self.text()]
        # pieces broken at spaces, and after a "/" inside a unit ("(tokens/s/chip)" is one word wider
        # than a 14 pt tile: it was cut; QA s38): (the piece, what joins it to the one before)
        pieces: list[tuple[str, str]] = []
        for word in self.text().split():
            parts = re.findall(r"[^/]*/|[^/]+", word)
            pieces += [(part, " " if k == 0 else "") for k, part in enumerate(parts)]
        lines, line = [], ""
        for k, (piece, join) in enumerate(pieces):
            trial = f"{line}{join}{piece}" if line else piece
            if metrics.horizontalAdvance(trial) <= width or not line:
                line = trial
                continue
            lines.append(line)
            if len(lines) == self.LINES - 1:   # the rest on the last line, elided
                rest = "".join((j if i else "") + p for i, (p, j) in enumerate(pieces[k:]))
                return lines + [metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width)]
            line = piece
        lines.append(line)
        return [metrics.elidedText(x, Qt.TextElideMode.ElideRight, width) for x in lines]

    def shown_text(self) -> str:
        return " ".join(self._lines(self.contentsRect().width()))

    def hasHeightForWidth(self) -> bool:   # noqa: N802 (Qt's name)
        return True

    def heightForWidth(self, width: int) -> int:   # noqa: N802
        margins = self.contentsMargins()
        lines = len(self._lines(width - margins.left() - margins.right()))
        return lines * self.fontMetrics().lineSpacing() + margins.top() + margins.bottom()

    def sizeHint(self):   # noqa: N802
        hint = super().sizeHint()
        hint.setHeight(self.heightForWidth(max(self.width(), 1)))
        return hint

    def resizeEvent(self, event) -> None:   # noqa: N802
        super().resizeEvent(event)
        if self.heightForWidth(event.size().width()) != self.height():
            self.updateGeometry()

    def paintEvent(self, event) -> None:   # noqa: N802
        painter = QPainter(self)
        painter.setFont(self.font())
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect()
        lines = self._lines(rect.width())
        step = self.fontMetrics().lineSpacing()
        top = rect.top() + max(0, (rect.height() - step * len(lines)) // 2)
        for k, line in enumerate(lines):
            painter.drawText(rect.left(), top + k * step, rect.width(), step,
                             int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), line)


class _FittedValueLabel(QLabel):
    """A tile's value at 13 pt, set smaller (to 9 pt) when the tile is narrower than the text, so a
    layout such as "TP4 PP32 VPP4 CP8" is read whole at 1280x720 instead of stopping at "TP4 PP32
    VPP4 (" (the tooltip has the text at any size)."""

    STYLE = "font-weight: 600; color: #202124; font-size: {pt}pt;"   # on its tile's own light background
    SIZES_PT = (13, 12, 11, 10, 9)

    def __init__(self, text: str = ""):
        super().__init__(text)
        self._pt = 0
        self._fit()

    def setText(self, text: str) -> None:   # noqa: N802 (Qt's name)
        super().setText(text)
        self.setToolTip(text if len(text) > 8 else "")
        self._fit()

    def resizeEvent(self, event) -> None:   # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def shown_pt(self) -> int:
        return self._pt

    def _fit(self) -> None:
        from PySide6.QtGui import QFont, QFontMetrics

        room = self.contentsRect().width()
        chosen = self.SIZES_PT[-1]
        for pt in self.SIZES_PT:
            font = QFont(self.font())
            font.setPointSizeF(pt)
            font.setWeight(QFont.Weight.DemiBold)
            if room <= 0 or QFontMetrics(font).horizontalAdvance(self.text()) <= room:
                chosen = pt
                break
        # narrower still (a 150 % display scale: "12.8 million" read "12.8 millior"): the smallest
        # size on two lines rather than cut at the tile's edge
        wrap = chosen == self.SIZES_PT[-1] and room > 0 and QFontMetrics(font).horizontalAdvance(self.text()) > room
        if wrap != self.wordWrap():
            self.setWordWrap(wrap)
        if chosen != self._pt:
            self._pt = chosen
            self.setStyleSheet(self.STYLE.format(pt=chosen))


class FigureTiles(QWidget):
    """Key figures as a grid of small tiles: a caption, a large value, a detail line."""

    def __init__(self, keys: list[tuple[str, str, str]], columns: int = 5, parent=None):
        """keys: (key, caption with unit, tooltip)."""
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(6)
        self._values: dict[str, QLabel] = {}
        self._details: dict[str, QLabel] = {}
        self._captions: dict[str, str] = {}
        for n, (key, caption, tip) in enumerate(keys):
            tile = QFrame()
            tile.setObjectName("figureTile")
            tile.setStyleSheet("QFrame#figureTile { background: #f6f8fa; border: 1px solid #dde2e6;"
                               " border-radius: 4px; }")
            tile.setToolTip(tip)
            box = QVBoxLayout(tile)
            box.setContentsMargins(8, 4, 8, 4)
            box.setSpacing(0)
            # on two lines, then elided with "…" on a narrow tile (it stopped mid-word at 125 %:
            # "Energy (MWl"), whole in its tooltip
            cap = _CaptionLabel(caption)
            cap.setToolTip(f"{caption}: {tip}" if tip else caption)
            # (the tile's background is its own and light: its texts keep their dark greys, in
            # sizes that follow the application font)
            cap.setStyleSheet(f"color: #5f6368; font-size: {style.small_pt(1.0):g}pt;")
            value = _FittedValueLabel("–")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            detail = _ElidedLabel("")
            detail.setStyleSheet(f"color: #5f6368; font-size: {style.small_pt():g}pt;")
            for w in (cap, value, detail):
                w.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
                box.addWidget(w)
            grid.addWidget(tile, n // columns, n % columns)
            self._values[key] = value
            self._details[key] = detail
            self._captions[key] = caption
            value.setAccessibleName(caption)
        for c in range(columns):
            grid.setColumnStretch(c, 1)

    def set(self, key: str, value: str, detail: str = "", tip: str = "") -> None:
        """`tip`: the detail in full words where the line itself must be short (default: the detail)."""
        self._values[key].setText(value)
        self._details[key].setText(detail)
        # a screen reader reads the figure with its caption and unit (the caption may be cut on screen)
        self._values[key].setAccessibleName(f"{self._captions[key]}: {value}" + (f", {tip or detail}" if tip or detail else ""))
        self._details[key].setToolTip(tip or detail)

    def detail_label(self, key: str) -> QLabel:
        return self._details[key]

    def value(self, key: str) -> str:
        return self._values[key].text()

    def detail(self, key: str) -> str:
        return self._details[key].text()

    def clear(self, text: str = "–") -> None:
        for key in self._values:
            self.set(key, text)


class RunBar(QWidget):
    """Progress, a status line, Run and Cancel for the panel's background job."""

    run_clicked = Signal()
    cancel_clicked = Signal()

    def __init__(self, run_text: str = "Run", parent=None):
        super().__init__(parent)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.setFixedWidth(160)
        self.progress.setFormat("%p%")
        self.message = _ElidedLabel("")   # the fix was cut mid-word under Run search: "…; set Chi"
        self.message.setStyleSheet(style.hint_style())
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.run_button = QPushButton(run_text)
        self.run_button.clicked.connect(self.run_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running computation (the charts keep the last result) (Esc)")
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress)
        row.addWidget(self.message, 1)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)

    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        if busy:
            self.progress.setValue(0)

    def set_progress(self, fraction: float, message: str = "") -> None:
        self.progress.setValue(int(round(fraction * 100)))
        if message:
            self.message.setText(message)
            self.message.setToolTip(message)

    def set_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.setStyleSheet(style.error_style() if error else style.hint_style())


class ChipSetButton(QToolButton):
    """A drop-down of checkable chip types (which chips a comparison chart shows)."""

    changed = Signal()

    def __init__(self, text: str = "Compare chips", parent=None):
        super().__init__(parent)
        self.setText(text)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self._menu = QMenu(self)
        self.setMenu(self._menu)
        self._actions: dict[str, QAction] = {}

    def set_chips(self, chips, selected) -> None:
        keep = set(selected)
        self._menu.clear()
        self._actions = {}
        for chip in chips:
            action = QAction(chip_label(chip), self._menu)
            action.setCheckable(True)
            action.setChecked(chip.id in keep)
            action.toggled.connect(lambda *_: self._on_toggled())
            self._menu.addAction(action)
            self._actions[chip.id] = action
        self._update_text()

    def _on_toggled(self) -> None:
        self._update_text()
        self.changed.emit()

    def _update_text(self) -> None:
        self.setText(f"Compare chips ({len(self.selected())})")

    def selected(self) -> list[str]:
        return [cid for cid, a in self._actions.items() if a.isChecked()]

    def set_selected(self, ids) -> None:
        ids = set(ids)
        for cid, action in self._actions.items():
            action.blockSignals(True)
            action.setChecked(cid in ids)
            action.blockSignals(False)
        self._update_text()


class FieldErrors:
    """Validation messages shown under their fields (no dialogs)."""

    def __init__(self):
        self._labels: dict[str, QLabel] = {}
        self._captions: dict[str, str] = {}   # key -> the field's caption in the form ("TP")

    def add_row(self, form: QFormLayout, key: str, label: str, widget: QWidget, tip: str) -> QLabel:
        widget.setToolTip(tip)
        caption = QLabel(label)
        caption.setToolTip(tip)
        caption.setBuddy(widget)   # a screen reader names the field by it (gui.widgets.accessible)
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(1)
        column.addWidget(widget)
        error = QLabel("")
        error.setWordWrap(True)
        error.setStyleSheet(style.error_style(small=True))
        error.hide()
        column.addWidget(error)
        form.addRow(caption, holder)
        self._labels[key] = error
        self._captions[key] = label
        return error

    def label(self, key: str) -> QLabel:
        return self._labels[key]

    def name(self, key: str, caption: str) -> None:
        """The caption of a field shown without an error row (a check box's own text)."""
        self._captions[key] = caption

    def caption_of(self, key: str) -> str | None:
        """The field's caption in the form ("TP", "Expert TP"); None when it has none here. The
        Edit menu names an edit by it ("Software: Expert TP", not "software: expert tp")."""
        return self._captions.get(key)

    def set(self, key: str, message: str) -> None:
        label = self._labels[key]
        label.setText(message)
        label.setVisible(bool(message))

    def clear(self) -> None:
        for key in self._labels:
            self.set(key, "")

    def messages(self) -> dict[str, str]:
        return {k: l.text() for k, l in self._labels.items() if l.text()}

    def first(self) -> tuple[str, str, QLabel] | None:
        """(caption, message, its label) of the first field in the form with a message, or None."""
        for key, label in self._labels.items():   # (in the order the form adds its rows)
            if label.text():
                return self._captions.get(key, key), label.text(), label
        return None


def _number_box(box, lo, hi, value, step, suffix: str, special: str | None):
    """Range, value, step, thousands separators, suffix and the text shown at the minimum."""
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSingleStep(step)
    box.setGroupSeparatorShown(True)
    if suffix:
        box.setSuffix(suffix)
    if special:
        box.setSpecialValueText(special)
    return box


# count words a spin box's unit may be, and their singular ("1 ways" read wrong)
SINGULAR = {"ways": "way", "stages": "stage", "chunks": "chunk", "sequences": "sequence", "chips": "chip",
            "nodes": "node", "tokens": "token", "trials": "trial", "months": "month", "instances": "instance"}


def spin(lo: int, hi: int, value: int, suffix: str = "", special: str | None = None, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setKeyboardTracking(True)
    _number_box(box, lo, hi, value, step, suffix, special)
    word = suffix.strip()
    if word in SINGULAR and suffix == f" {word}":
        def follow(v: int) -> None:
            wanted = f" {SINGULAR[word]}" if v == 1 else suffix
            if box.suffix() != wanted:
                box.setSuffix(wanted)
        box.valueChanged.connect(follow)
        follow(box.value())
    return box


def dspin(lo: float, hi: float, value: float, decimals: int, suffix: str = "", special: str | None = None,
          step: float = 1.0) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)  # before the value: it rounds to the decimals
    return _number_box(box, lo, hi, value, step, suffix, special)


def combo(items: list[tuple[str, object]]) -> QComboBox:
    box = QComboBox()
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(12)
    for text, data in items:
        box.addItem(text, data)
    return box


def refill_combo(box: QComboBox, items: list[tuple[str, object]], keep) -> None:
    """Replace a combo's items without emitting, keeping `keep` selected while it is still there
    (else the first item, and then one change signal so the view evaluates again)."""
    box.blockSignals(True)
    try:
        box.clear()
        for text, data in items:
            box.addItem(text, data)
        kept = select_data(box, keep)
        if not kept and box.count():
            box.setCurrentIndex(0)
    finally:
        box.blockSignals(False)
    if not kept:
        box.currentIndexChanged.emit(box.currentIndex())


def select_data(box: QComboBox, data) -> bool:
    i = box.findData(data)
    if i >= 0:
        box.setCurrentIndex(i)
        return True
    return False


def section(title: str) -> QLabel:
    label = QLabel(title)
    label.setStyleSheet(style.heading_style() + " padding-top: 6px;")
    return label


def form_page() -> tuple[QWidget, QVBoxLayout]:
    """The page an analysis panel's form is built on, and its column (the margins every form uses)."""
    page = QWidget()
    column = QVBoxLayout(page)
    column.setContentsMargins(4, 0, 8, 0)
    return page, column


def model_items(models) -> list[tuple[str, str]]:
    """The store's model presets by name, as combo items; a name two presets share is followed by
    each one's id in brackets (an import named "Llama 3 8B" beside the built-in read as one preset
    listed twice)."""
    ordered = sorted(models.values(), key=lambda m: (m.name, m.id))
    seen: dict[str, int] = {}
    for m in ordered:
        seen[m.name.strip().casefold()] = seen.get(m.name.strip().casefold(), 0) + 1
    return [(f"{m.name} [{m.id}]" if seen[m.name.strip().casefold()] > 1 else m.name, m.id) for m in ordered]


def model_combo(models) -> QComboBox:
    return combo(model_items(models))


def saved_study(study_cls, state, defaults: dict, banner) -> dict:
    """A view's saved state read through its engine study; one saved by a newer Fleetcast (or
    damaged) gives the defaults, and the banner says why."""
    try:
        return study_cls.from_dict(state).to_dict()
    except UserError as exc:   # a warning, not an error: a valid form must not clear it
        banner.show_warning(f"{exc} The saved inputs are kept unless you edit this view.")
        return dict(defaults)


def form_scroll_area(form: QWidget, width: int = 350) -> QScrollArea:
    """The inputs column of an analysis panel: fixed width, scrolls vertically when short of room."""
    scroll = QScrollArea()
    scroll.setWidget(form)
    scroll.setWidgetResizable(True)
    # room for the vertical scroll bar too: without it the form, wider than what was left, had
    # its fields' right edges cut off at 1280x720
    bar = scroll.style().pixelMetric(scroll.style().PixelMetric.PM_ScrollBarExtent)
    scroll.setFixedWidth(max(width, form.minimumSizeHint().width()) + bar)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return scroll


def reveal_in_form(widget: QWidget) -> None:
    """Scroll the form `widget` is in so that it shows, unless the user is typing in another of
    its fields (the banner names the field; the form must not jump away from the caret)."""
    scroll = widget.parentWidget()
    while scroll is not None and not isinstance(scroll, QScrollArea):
        scroll = scroll.parentWidget()
    if scroll is None or not widget.isVisible():
        return
    focus = QApplication.focusWidget()
    holder = widget.parentWidget()   # the field and its message
    if focus is not None and scroll.isAncestorOf(focus) and not (holder is not None and holder.isAncestorOf(focus)):
        return
    scroll.ensureWidgetVisible(widget, 0, 8)


def notes_label() -> QLabel:
    """A wrapped, muted line under the figures saying why (the limiting term, the explanation)."""
    label = QLabel("")
    label.setWordWrap(True)
    label.setStyleSheet(style.note_style())
    return label


_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# thousands grouped with commas ("1,300"); a leading group of 0 ("0,125") is a decimal comma, refused
_GROUPED_TEXT = re.compile(r"[+]?(?!0+,)\d{1,3}(,\d{3})+(\.\d*)?", re.ASCII)


def ungrouped(text: str) -> str:
    """`text` stripped, with its thousands commas taken out ("1,300" -> "1300"); any other comma
    stays ("1,5", "0,125": a decimal comma, which a caller then refuses). Dropping every comma
    read a price of "0,125" as 125 and "1,5" as 15."""
    t = (text or "").strip()
    return t.replace(",", "") if _GROUPED_TEXT.fullmatch(t) else t


def parse_positive(text: str, what: str) -> tuple[float | None, str]:
    """(value, "") for a positive finite number typed in plain ASCII digits, else (None, message)."""
    t = (text or "").strip()
    if _GROUPED_TEXT.fullmatch(t):  # "1,300" with thousands separators; "1,5" stays refused
        t = t.replace(",", "")
    if not t:
        return None, f"{what} is empty (type a positive number)"
    if not _NUMBER_TEXT.fullmatch(t):
        return None, f"{what} {text!r} is not a number"
    value = float(t)
    if not math.isfinite(value) or value <= 0:
        return None, f"{what} {text!r} must be a positive finite number"
    return value, ""


def parse_iso_date(text: str, what: str, low_year: int = 1900, high_year: int = 2200) -> tuple[dt.date | None, str]:
    """(date, "") for YYYY-MM-DD within [low_year, high_year], else (None, message)."""
    t = (text or "").strip()
    if not t:
        return None, f"{what} is empty (type a date as YYYY-MM-DD)"
    try:
        if not _DATE_TEXT.fullmatch(t):
            raise ValueError
        day = dt.date.fromisoformat(t)
    except ValueError:
        return None, f"{what} {text!r} is not a date (YYYY-MM-DD)"
    if not low_year <= day.year <= high_year:
        return None, f"{what} {text!r} must be between {low_year} and {high_year}"
    return day, ""


class AnalysisPanel(QWidget):
    """The base of the analysis views (Training, Inference): a debounced single evaluation on
    every edit, a latest-wins background runner for the long work with a run bar (progress,
    Cancel), a banner, field errors, greyed stale results, and the protocol the window, the
    exports and the scenarios use: `charts()`, `tables()`, `export_context()`,
    `scenario_state()`/`apply_scenario_state()`, `compute_now()`, `shutdown()`.

    A subclass calls `_init_analysis(...)` first in its constructor, builds its form and charts,
    then `gui.panels.small_screen.layout_form_and_results(self, form, [rows above the charts], charts)`.
    """

    status_message = Signal(str)
    evaluated = Signal()  # after every redraw from a single evaluation (tests, bench)
    # the model or chip on screen left the store and another is shown: no edit (the window keeps
    # the stored inputs for a Save until the view is edited, and words the banner's last sentence
    # by what it stores). Carries (what, id, shown instead) for each.
    choices_missing = Signal(list)
    # An evaluation costs about a millisecond: coalesce one burst of events, no more (the
    # edit-to-redrawn-chart target is 50 ms; bench/bench_gui_edit.py).
    DEBOUNCE_MS = 8

    def _init_analysis(self, *, evaluate, finished, failed, cancelled, run_text: str) -> None:
        from PySide6.QtCore import QTimer

        from gui.widgets.banner import MessageBanner
        from gui.workers import LatestRunner

        self._loading = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(self.DEBOUNCE_MS)
        self.timer.timeout.connect(evaluate)
        self.run_bar = RunBar(run_text)
        self.runner = LatestRunner(self)
        self.runner.progress.connect(lambda f, m: self.run_bar.set_progress(f, m))
        self.runner.finished.connect(finished)
        self.runner.failed.connect(failed)
        self.runner.cancelled.connect(cancelled)
        self.runner.busy_changed.connect(lambda busy: self.run_bar.set_busy(busy))
        self.errors = FieldErrors()
        self.banner = MessageBanner()

    # ---- edits and validity --------------------------------------------------------------------
    def schedule(self, *_) -> None:
        """Re-evaluate DEBOUNCE_MS after the last edit (not while a scenario is being applied)."""
        if not self._loading:
            self.timer.start()

    def show_invalid(self) -> None:
        """Inputs invalid: say so and grey the results that no longer match them (or, before any
        valid inputs, that there are none yet: an empty catalog spoke of 'the last valid inputs').
        The banner names the first field in red and its problem, and the form scrolls to it: at
        1280x688 the red message under TP sat below the form's viewport."""
        first = self.errors.first()
        named = f"{first[0]}: {first[1].rstrip('.')}. " if first is not None else ""
        self.banner.show_error(named + (STALE_MESSAGE if getattr(self, "_shown_valid", False)
                                        else "Fix the fields marked in red to see the figures."))
        mark_stale(self.result_widgets(), True)
        if first is not None and first[2] is not self._revealed_error:
            self._revealed_error = first[2]
            # after the layout has placed the message (it was hidden until now)
            QTimer.singleShot(0, self, lambda label=first[2]: reveal_in_form(label))

    _revealed_error: QLabel | None = None   # the field message the form last scrolled to

    def show_valid(self) -> None:
        self._shown_valid = True
        self._revealed_error = None
        self.banner.dismiss_error()
        mark_stale(self.result_widgets(), False)

    # ---- protocol ------------------------------------------------------------------------------
    def result_widgets(self) -> list:
        """What shows results (greyed while the inputs are invalid)."""
        return [w for w in (getattr(self, "tiles", None), getattr(self, "notes", None)) if w is not None] \
            + list(self.charts().values())

    def charts(self) -> dict:
        return {}

    def tables(self) -> dict:
        return {}

    def export_context(self) -> dict:
        """{"Model": ..., "Workload": ...}: what this view's exported files show."""
        return {}

    def chart_export_context(self, chart_key: str) -> dict:
        """What one chart's exports show; a view whose charts can lag its inputs says so here."""
        return self.export_context()

    # ---- the store ------------------------------------------------------------------------------
    def _follow_store(self, undo_stack) -> None:
        """Evaluate again whenever the store moves (an edit, undo or redo in the Fleet view): a
        chip's edited bandwidth, a new chip or model preset must reach this view's figures."""
        from gui.commands import follow_store_writes

        self._unfollow_store = (follow_store_writes(undo_stack, self.store, self._on_store_changed)
                                if undo_stack is not None else None)

    def _on_store_changed(self, *_) -> None:
        chips_before = list(self._chips)
        models_before = list(self._models)
        shown = {"model": self.model_combo.currentData(), "chip": self.chip_combo.currentData()}
        self._reload_store()
        if list(self._chips) != chips_before:
            current = self.chip_combo.currentData()
            refill_combo(self.chip_combo, [(chip_label(c), c.id) for c in self._chips.values()], current)
            self.compare_button.set_chips(self._chips.values(),
                                          [i for i in self.compare_button.selected() if i in self._chips])
        if list(self._models) != models_before:
            refill_combo(self.model_combo, model_items(self._models), self.model_combo.currentData())
        # one deleted while shown: said as when a scenario naming it is opened (the view switched
        # to another in silence, and a Save stored that one)
        gone = vanished_choices(shown, {"model": (self._models, self.model_combo),
                                        "chip": (self._chips, self.chip_combo)})
        if gone:
            missing_choices(self.banner, gone, gone=True)
            self.choices_missing.emit(gone)
        self.schedule()

    def _reload_store(self) -> None:
        """Take the catalog (and whatever else the view reads) from the store again."""
        raise NotImplementedError

    def shutdown(self) -> None:
        if getattr(self, "_unfollow_store", None) is not None:
            self._unfollow_store()
        self.timer.stop()
        self.runner.cancel(emit=False)


def with_names(text: str, names: dict[str, str]) -> str:
    """An engine message (written with chip and model ids for the command line) with the names the
    views show: "qwen3-235b-a22b ... h800-sxm5-80gb 900" read as ids in the Forecast's summary."""
    keys = sorted((k for k in names if k), key=len, reverse=True)
    if not keys:
        return text
    pattern = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(k) for k in keys) + r")(?![\w.-])")
    return pattern.sub(lambda m: names[m.group(1)], text)
