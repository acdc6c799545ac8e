"""QA s37: Compare's ticks went back to those taken when the view was built on every switch to a
scenario that stores none: a what-if renamed since lost its tick (README: ticks follow a rename),
and a scenario made with New was never ticked."""


def test_compare_ticks_follow_a_rename_and_a_new_scenario_across_switches(window):
    compare, bar = window.panel("compare"), window.scenario_bar
    names = bar.names()
    compare.set_selected(names)
    what_if = next(n for n in names if n != "Story default")
    assert bar.select(what_if)
    assert bar.rename_current("Half")
    assert bar.select("Story default")
    assert "Half" in compare.selected()
    assert bar.new_scenario("Plan B")
    assert bar.select("Story default")
    assert "Plan B" in compare.selected() and "Half" in compare.selected()


def test_a_scenario_without_ticks_shows_the_defaults_not_the_previous_scenarios(window):
    """QA of the first fix: after a scenario that stores ticks, every scenario storing none
    compared that scenario's ticks, by the order they were visited."""
    compare, bar = window.panel("compare"), window.scenario_bar
    names = bar.names()
    what_if = next(n for n in names if n != "Story default")
    defaults = set(compare.selected())
    assert bar.select(what_if)
    compare.set_selected([what_if])
    assert bar.save_current()   # it stores its ticks: itself and the baseline
    assert bar.select("Story default")
    assert set(compare.selected()) == defaults
    assert bar.select(what_if)
    assert set(compare.selected()) == {what_if, "Story default"}
