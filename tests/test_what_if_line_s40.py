"""The text output's what-if line names the first changes and counts the rest (QA s40: a scenario
with 200 changed demand points printed a 14,043-character line before the answer); JSON keeps all."""

from engine.commands.forecast import WHAT_IF_LINE_CHANGES, what_if_line


def test_the_line_names_the_first_changes_and_counts_the_rest():
    changes = [f"demand point {i}: 1 → 2" for i in range(200)]
    line = what_if_line("Story default", changes)
    assert line.startswith("what-if of 'Story default': demand point 0: 1 → 2; ")
    assert f"demand point {WHAT_IF_LINE_CHANGES - 1}: 1 → 2; and {200 - WHAT_IF_LINE_CHANGES} more " in line
    assert f"demand point {WHAT_IF_LINE_CHANGES}:" not in line and len(line) < 500
    few = changes[:3]
    assert what_if_line("Story default", few) == "what-if of 'Story default': " + "; ".join(few)
    assert what_if_line("Story default", []) == "what-if of 'Story default': no changes from it as it is now"
    assert what_if_line(None, changes) == ""


def test_the_report_points_to_its_own_assumptions():
    line = what_if_line("Story default", [f"change {i}" for i in range(20)], more_hint="under Assumptions")
    assert line.endswith("; and 8 more (under Assumptions)")
