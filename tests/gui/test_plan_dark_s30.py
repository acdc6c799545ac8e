"""The Plan view on a dark desktop palette (s30): its summary box sets its own dark text and link
colours (it took the palette's light text and pale blue link on its light background), and its
notes under the form and the cost charts take the palette's muted text (a fixed #555 read 1.5:1 on
the dark #353535 window)."""

import re

import pytest
from PySide6.QtCore import QDate, Qt, QThreadPool
from PySide6.QtGui import QColor, QPalette, QUndoStack
from PySide6.QtWidgets import QApplication, QLabel

from gui import style
from tests.gui.test_dark_s29 import DARK_WINDOW, _dark_palette


@pytest.fixture
def dark_plan(store, qtbot, qapp):
    """The Plan view built on the dark palette (a view takes its text colours when it is built),
    the 910B and the H20 its only candidates, at their default caps; the palette restored after."""
    from gui.panels.plan import PlanPanel

    light = QPalette(qapp.palette())
    qapp.setPalette(_dark_palette())
    panel = PlanPanel(store, QUndoStack())
    qtbot.addWidget(panel)
    for r in range(panel.cand_table.rowCount()):
        if panel.cand_table.item(r, 1).text().split()[0] not in ("Ascend", "H20"):
            panel.cand_table.item(r, 0).setCheckState(Qt.CheckState.Unchecked)
    panel.samples.setValue(100)
    yield panel
    panel.shutdown()
    QThreadPool.globalInstance().waitForDone(5000)
    qapp.setPalette(light)


def _text_colour(widget) -> QColor:
    widget.ensurePolished()
    return widget.palette().color(widget.foregroundRole())


def _form_note(panel) -> QLabel:
    return next(label for label in panel.findChildren(QLabel) if label.text().startswith("The plan keeps the confidence"))


@pytest.mark.slow
def test_plan_texts_read_on_a_dark_desktop(dark_plan):
    panel = dark_plan
    box = QColor(style.SUMMARY_BOX.background)
    window = QApplication.palette().color(QPalette.ColorRole.Window)
    assert window == QColor(DARK_WINDOW)
    # before a plan: the summary's dark text on its light box (the palette's #e6e6e6 read 1.1:1)
    colour = _text_colour(panel.summary_label)
    assert style.contrast_ratio(colour, box) >= 4.5, colour.name()
    # the notes on the dark window itself
    for label in (_form_note(panel), panel.econ_caption):
        colour = _text_colour(label)
        assert style.contrast_ratio(colour, window) >= 4.5, (label.text()[:30], colour.name())
    # a target the caps cannot keep: the summary offers the longest one as a link, in the box's
    # dark blue (a QLabel draws links in the application palette's #64aaff otherwise: 2.4:1 on it)
    panel.confidence.setValue(90)
    panel.auto_until.setChecked(False)
    panel.until_edit.setDate(QDate(2026, 12, 1))
    panel.compute_now()
    assert panel.result is not None and not panel.result.feasible and panel.result.reachable_target is not None
    text = panel.summary_label.text()
    assert "href='reachable'" in text
    link = re.search(r"a \{ color: (#[0-9a-f]{6}); \}", text)
    assert link is not None, text[:200]
    assert style.contrast_ratio(link.group(1), box) >= 4.5, link.group(1)
    colour = _text_colour(panel.summary_label)   # the text kept its colour with the result
    assert style.contrast_ratio(colour, box) >= 4.5, colour.name()
