"""The Plan form was widened to its fields once, at the first show or resize: shown first in a
narrow window, it stayed cut off (394 of its 557 px at 14 pt) once the window was made wide, beside
1,000 px of empty results (QA s38). It is widened until the user moves the divider."""

from PySide6.QtWidgets import QSplitter


def _split(panel):
    return next(s for s in panel.findChildren(QSplitter) if s.count() == 2 and s.widget(0).isAncestorOf(panel.cand_table))


def test_the_form_gets_its_width_once_the_window_has_room(plan_panel, qtbot):
    plan_panel.resize(700, 700)
    plan_panel.show()
    qtbot.waitExposed(plan_panel)
    split = _split(plan_panel)
    narrow = split.sizes()[0]
    wanted = split.widget(0).sizeHint().width()
    assert narrow < wanted
    plan_panel.resize(1900, 900)
    qtbot.waitUntil(lambda: split.sizes()[0] >= wanted, timeout=3000)


def test_a_divider_the_user_moved_stays_where_they_left_it(plan_panel, qtbot):
    plan_panel.resize(700, 700)
    plan_panel.show()
    qtbot.waitExposed(plan_panel)
    split = _split(plan_panel)
    split.splitterMoved.emit(150, 1)   # as a drag of the handle does (setSizes emits nothing)
    split.setSizes([150, 530])
    before = split.sizes()[0]
    plan_panel.resize(1900, 900)
    qtbot.wait(50)
    assert split.sizes()[0] == before
