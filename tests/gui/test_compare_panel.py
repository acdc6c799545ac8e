"""The Compare view with two saved scenarios: key figures side by side, overlaid charts, cancel."""

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool

from engine.forecast import default_scenario, scenario_to_dict
from engine.store import open_store
from gui.panels.compare import ComparePanel


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "compare.db")
    for row in s.scenarios():  # keep only the story's default, then add one variant
        if row["name"] != "Story default":
            s.delete_scenario(row["name"])
    params = scenario_to_dict(default_scenario())
    params["allocation"]["training_share"]["ascend-910b2"] = 0.0  # everything serves
    params["trials"] = 500
    s.save_scenario("All serve", {**params, "name": "All serve"})
    yield s
    s.close()


@pytest.fixture
def panel(store, qtbot):
    p = ComparePanel(store)
    qtbot.addWidget(p)
    yield p
    p.shutdown()
    QThreadPool.globalInstance().waitForDone(5000)


def test_two_scenarios_side_by_side(panel, qtbot):
    assert panel.selected() == ["All serve", "Story default"]
    with qtbot.waitSignal(panel.runner.finished, timeout=30000):
        panel.run()
    headers, rows = panel.tables()["key_figures"]
    assert headers == ["Figure", "Story default (baseline)", "All serve", "All serve − baseline"]
    figures = {row[0]: row[1:] for row in rows}
    # All-serve has no chips training: the job never runs, and more chips serve
    story, all_serve, _ = figures["Job '405B dense on 15T tokens' done P50 (date)"]
    assert all_serve == "after the horizon" and story != "after the horizon"
    cap = {name: o.result.serving_capacity_unit_chips.p50 for name, o in panel.outcomes}
    assert cap["All serve"][-1] > cap["Story default"][-1]
    assert np.array_equal(panel.capacity_chart.series_data("All serve: capacity P50")[1], cap["All serve"])
    # same demand in both: drawn once
    assert "Story default: peak demand" not in panel.capacity_chart.series_names()
    assert set(panel.probability_chart.series_names()) == {"All serve", "Story default"}
    assert panel.figures_table.columnCount() == 4


def test_an_empty_fleet_says_why_the_charts_are_empty(store, panel, qtbot):
    """With every order deleted, Compare drew zeros on bare 0-1 axes without a word."""
    for order in store.orders():
        store.delete_order(order.id)
    with qtbot.waitSignal(panel.runner.finished, timeout=30000):
        panel.run()
    for chart in (panel.capacity_chart, panel.installed_chart):
        assert chart.notice() == "No chips installed in any scenario: add orders in the Fleet view"


def test_cancel_keeps_previous_comparison(panel, qtbot):
    panel.compute_now()
    previous = panel.outcomes
    with qtbot.waitSignal(panel.runner.progress, timeout=10000):
        panel.run()
    with qtbot.waitSignal(panel.runner.cancelled, timeout=5000):
        panel.cancel()
    assert not panel.is_running()
    assert QThreadPool.globalInstance().waitForDone(10000)
    qtbot.wait(50)
    assert panel.outcomes is previous


def test_selection_is_the_panel_state_and_unticking_all_refuses_to_run(panel):
    panel.apply_scenario_state({"selected": ["Story default"]})
    assert panel.scenario_state() == {"selected": ["Story default"]}
    panel.set_selected([])
    assert panel.run() is None and "Tick" in panel.banner.text()


def test_baseline_is_always_compared_and_differences_are_shown(store, qtbot):
    from engine.store.seed import story_what_ifs

    params = store.scenario("Story default")["params"]
    params.update(trials=300, name="Huawei delivers half")
    for path, value in story_what_ifs()["Huawei delivers half"].items():
        *keys, last = path.split(".")
        node = params
        for k in keys:
            node = node[k]
        node[last] = value
    store.save_scenario("Huawei delivers half", params)
    p = ComparePanel(store)
    qtbot.addWidget(p)
    p.set_selected(["Huawei delivers half"])  # the baseline is not ticked
    for name in ("Story default",):
        params = store.scenario(name)["params"]
        params["trials"] = 300
        store.save_scenario(name, params)
    p.compute_now()
    headers, rows = p.tables()["key_figures"]
    assert headers == ["Figure", "Story default (baseline)", "Huawei delivers half",
                       "Huawei delivers half − baseline"]
    assert rows[0][0] == "Changes from the baseline" and "Huawei fulfilled low 40% → 50% of the order" in rows[0][2]
    # every change is written out (the CSV said "... and 1 more" and lost the what-if's note)
    changes = store.scenario("Huawei delivers half")["changes"]
    assert "... and" not in rows[0][2] and changes["vendor_uncertainty.Huawei.note"] in rows[0][2]
    assert len([k for k in changes if not k.startswith("ui")]) > 4   # more than the old cut of 4
    by_label = {row[0]: row for row in rows}
    label = next(k for k in by_label if k.startswith("Installed P50 at horizon end, Ascend"))
    _, base, half, diff = by_label[label]
    assert diff == pytest.approx(half - base, rel=0.01) and diff < 0  # fewer 910B (each figure to 3 significant figures)
    p.shutdown()


def test_a_comparison_whose_inputs_changed_is_greyed(store, qtbot):
    """Compare follows the fleet and the ticks: old figures are greyed and say so, and come back
    to current when the change is undone. Only the baseline ticked is not a comparison."""
    from PySide6.QtGui import QUndoStack

    from gui.commands import EditOrderCommand
    from gui.panels.base import is_stale

    stack = QUndoStack()
    p = ComparePanel(store, stack)
    qtbot.addWidget(p)
    try:
        p.set_selected(["Story default"])               # the baseline alone
        assert not p.run_button.isEnabled() and "besides the baseline" in p.hint.text()
        p.set_selected(["All serve"])                    # + the baseline: two
        assert p.run_button.isEnabled() and p.compared_names() == ["Story default", "All serve"]
        p.compute_now()
        assert p.outcomes and not is_stale(p.figures_table) and p.progress_bar.format() == "Done: 2 scenarios"
        order = store.orders()[0]
        stack.push(EditOrderCommand(store, order.id, "quantity", order.quantity + 5000))
        assert is_stale(p.figures_table) and is_stale(p.capacity_chart)
        assert p.progress_bar.format().startswith("Inputs changed")
        stack.undo()
        assert not is_stale(p.figures_table) and p.progress_bar.format() == "Done: 2 scenarios"
        p.set_selected([])                               # nothing ticked: the old charts are greyed
        assert is_stale(p.capacity_chart) and not p.run_button.isEnabled()
    finally:
        p.shutdown()


def test_a_deleted_scenario_comes_back_ticked_and_current(store, qtbot):
    """Deleting a ticked scenario greys the comparison; undoing the delete brings the scenario
    back ticked, so the comparison is current again (it came back unticked, and stayed greyed)."""
    from gui.panels.base import is_stale

    p = ComparePanel(store)
    qtbot.addWidget(p)
    try:
        p.set_selected(["All serve"])
        p.compute_now()
        assert not is_stale(p.figures_table)
        params = store.scenario("All serve")["params"]
        store.delete_scenario("All serve")
        p._on_store_changed()
        assert is_stale(p.figures_table)
        store.save_scenario("All serve", params)          # what undoing the delete writes
        p._on_store_changed()
        assert "All serve" in p.selected()
        assert not is_stale(p.figures_table)
    finally:
        p.shutdown()


def test_a_ticked_scenario_stays_ticked_when_renamed(panel, store):
    assert "All serve" in panel.selected()
    store.rename_scenario("All serve", "Everything serves")
    panel.refresh_scenarios()
    assert "Everything serves" in panel.selected()
    store.rename_scenario("Everything serves", "All serve")    # the undo of the rename
    panel.refresh_scenarios()
    assert "All serve" in panel.selected()


def test_a_compared_scenario_with_unsaved_edits_is_named(panel):
    """Compare runs scenarios as saved: with edits on screen in one of them it showed the saved
    figures and said nothing."""
    on_screen = {"name": None}
    panel.unsaved_scenario = lambda: on_screen["name"]
    panel.check_current()
    assert panel.banner.kind == ""
    on_screen["name"] = "All serve"       # the window has unsaved edits of a compared scenario
    panel.check_current()
    assert panel.banner.kind == "info" and "'All serve' has unsaved edits" in panel.banner.text()
    on_screen["name"] = "Not compared"    # edits of a scenario not ticked: nothing to say
    panel.check_current()
    assert panel.banner.kind == ""
    on_screen["name"] = "All serve"
    assert panel._request() is not None and "unsaved edits" in panel.banner.text()   # a run says it too
    on_screen["name"] = None              # saved: the note goes
    panel.check_current()
    assert panel.banner.kind == ""


def test_the_first_comparison_says_what_the_empty_charts_wait_for(panel, qtbot):
    """Its first run showed "00.250" ticks on empty charts and a progress text wrapped and cut."""
    with qtbot.waitSignal(panel.runner.progress, timeout=10000):
        panel.run()
    chart = next(iter(panel.charts().values()))
    assert chart.notice() == "Comparing scenarios…" and not chart.axis_values_shown()
    assert len(panel.progress_bar.format()) <= 49
    with qtbot.waitSignal(panel.runner.cancelled, timeout=5000):
        panel.cancel()
    qtbot.wait(50)
    assert chart.notice() == "Comparison cancelled: press Compare"
    panel.compute_now()
    assert chart.notice() == "" and chart.axis_values_shown()


def test_differences_of_month_starts_are_in_months():
    """QA: "First month demand exceeds capacity" 2025-07 against 2025-08 read "-31 days" in a
    monthly model."""
    import datetime as dt

    from gui.panels.compare import _difference

    assert _difference(dt.date(2025, 7, 1), dt.date(2025, 8, 1)) == "-1 month"
    assert _difference(dt.date(2026, 2, 1), dt.date(2025, 8, 1)) == "+6 months"
    assert _difference(dt.date(2025, 6, 13), dt.date(2025, 6, 11)) == "+2 days"   # a job's day stays in days


def test_its_exports_name_every_scenario_compared_not_the_windows_one(panel):
    """QA: Compare's files said "Scenario: Story default" above four scenarios' lines."""
    from gui.export_all import panel_context

    context = panel_context(panel, "Story default")
    assert "Scenario" not in context
    assert context["Scenarios"] == "Story default (baseline), All serve"
