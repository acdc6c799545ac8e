"""QA s37: "abc" in a Plan candidate's Most per quarter, or -5 in a Price, was not marked (Help >
Quick start: an invalid input turns its field red); only a plan run said so."""

from PySide6.QtCore import Qt

from gui.app import plan_cell_problem
from gui.panels.plan import CAND_TIPS


def test_a_refused_candidate_cell_turns_red_with_its_reason(window):
    plan = window.panel("plan")
    item = plan.cand_table.item(0, 4)
    item.setText("abc")
    assert item.background().color().name() == "#fde2df"
    assert item.toolTip().startswith("'abc' (must")
    assert plan_cell_problem(plan).startswith("Plan candidates row 1 (Most per quarter): 'abc' (must")
    item.setText("1000")
    assert item.background().style() == Qt.BrushStyle.NoBrush and item.toolTip() == CAND_TIPS[4]
    assert plan_cell_problem(plan) == ""
