"""The Plan view on the seeded store: plan, draw, add the plan as orders and undo it."""

from dataclasses import replace

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QUndoStack

from engine.store import open_store
from engine.studies_forecast import plan_deliveries
from gui.panels.plan import PlanPanel
from gui.widgets.plot_panel import to_timestamps


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "plan.db")
    yield s
    s.close()


@pytest.fixture
def panel(plan_panel):
    return plan_panel


def test_plan_is_drawn_and_added_as_undoable_orders(panel, store):
    prices = {}
    for r in range(panel.cand_table.rowCount()):  # an edited price is the price the added orders carry
        price = float(panel.cand_table.item(r, 2).text().replace(",", "")) + 1000.0
        panel.cand_table.item(r, 2).setText(f"{price:g}")
        prices[panel._candidates[r].chip_id] = price
    panel.compute_now()
    r = panel.result
    assert r is not None and r.feasible, r.why if r else None
    headers, rows = panel.tables()["orders"]
    assert len(rows) == len(r.orders) > 0
    assert sum(row[1] for row in rows) == sum(o.quantity for o in r.orders)
    assert "With plan P50" in panel.capacity_chart.series_names()
    # the chart shows the target months (4 before, 4 after), up to what is drawn there, not the
    # whole horizon's demand (2.5 M chips by 2029 hid a 39,000-chip plan in its bottom pixels)
    (x0, x1), (_y0, y1) = panel.capacity_chart.plot_item.vb.viewRange()
    shown = [i for i, m in enumerate(r.months) if x0 <= to_timestamps([m])[0] <= x1]
    first = r.months.index(r.from_month)
    assert shown[0] == max(first - 4, 0) and r.months[shown[-1]] > r.until_month
    top = max(max(r.capacity_unit_chips[2][i] for i in shown), max(r.demand_unit_chips[i] for i in shown))
    assert top <= y1 <= 1.1 * max(top, max(plan_deliveries(r)))
    # the exports say what the plan answers (QA: plan_orders.csv had no target, trials or fresh result)
    assert panel.export_context()["Plan"].startswith(f"P(meet demand) >= {r.confidence:.0%} from {r.from_month:%Y-%m} to ")
    assert "fitted on" in panel.export_context()["Plan"]
    assert "$" in panel.summary_label.text() and "B</b>" in panel.summary_label.text()
    before = len(store.orders())
    assert panel.add_as_orders() == len(r.orders)
    added = [o for o in store.orders() if o.buyer == "plan"]
    assert len(store.orders()) == before + len(r.orders)
    assert {(o.chip_id, o.quantity) for o in added} == {(o.chip_id, o.quantity) for o in r.orders}
    assert all(o.price_usd_per_chip == prices[o.chip_id] for o in added)  # 0.2 wrote the default price
    assert all(o.cost_usd == pytest.approx(o.quantity * prices[o.chip_id]) for o in r.orders)
    panel._stack.undo()  # one step takes the whole plan back out
    assert len(store.orders()) == before


def test_candidate_numbers_read_like_every_table_and_keep_every_digit(panel):
    panel._show_candidates({})         # the defaults (the fixture typed over the caps)
    rows = {c.chip_id: r for r, c in enumerate(panel._candidates)}
    text = lambda chip, col: panel.cand_table.item(rows[chip], col).text()  # noqa: E731
    # separated as in every other table: the H20's 50,000 per quarter, the 910B's catalog price
    assert text("h20-96gb", 4) == "50,000" and text("ascend-910b2", 4) == "25,000"
    price = panel._candidates[rows["ascend-910b2"]].unit_price_usd
    assert text("ascend-910b2", 2) == f"{price:,.0f}" and "," in text("ascend-910b2", 2)
    assert panel._candidate_edits() == {}   # the separators read back as the same numbers
    # a price of 1,234,567 USD was shown as 1.23457e+06 and read back as an edit to 1,234,570
    edits = {panel._candidates[0].chip_id: {"unit_price_usd": 1234567.0}}
    panel._show_candidates(edits)
    assert panel.cand_table.item(0, 2).text() == "1,234,567"
    assert panel._candidate_edits()[panel._candidates[0].chip_id]["unit_price_usd"] == 1234567.0


def test_bad_candidate_cell_is_named_and_nothing_runs(panel):
    panel.cand_table.item(0, 2).setText("cheap")
    assert panel.run() is None
    assert "price: 'cheap'" in panel.banner.text()


@pytest.mark.parametrize("typed", ["0,125", "1,5"])
def test_a_decimal_comma_in_a_candidate_cell_is_refused_not_read_as_another_number(panel, typed):
    """Every comma was dropped: a price typed "0,125" read 125 and "1,5" read 15."""
    panel.cand_table.item(0, 2).setText(typed)
    assert panel._candidate_edits()[panel._candidates[0].chip_id]["unit_price_usd"] == typed
    assert panel.run() is None and f"price: '{typed}'" in panel.banner.text()


def test_state_round_trips_through_the_plan_study(panel):
    from engine.studies_forecast import PlanStudy

    old = {"confidence": 0.8, "from": "2025-09", "until": "2026-06", "budget_usd": 5e9, "samples": 100}
    panel.apply_scenario_state(old)  # what the Plan view saved before studies
    state = panel.scenario_state()
    assert state == PlanStudy.from_dict(old).to_dict()  # the table's edits were the fixture's: reset
    assert (state["from_month"], state["until_month"], state["version"]) == ("2025-09", "2026-06", 1)
    # the candidate table is part of the study now: unticked rows and edited cells come back
    edited = {**state, "candidates": {panel._candidates[0].chip_id: {"use": False, "unit_price_usd": 999.0}}}
    panel.apply_scenario_state(edited)
    assert panel.cand_table.item(0, 0).checkState() == Qt.CheckState.Unchecked
    assert panel.cand_table.item(0, 2).text() == "999"
    assert panel.scenario_state() == PlanStudy.from_dict(edited).to_dict()
    panel.apply_scenario_state({})  # a scenario without a plan study: the defaults, table included
    assert panel.scenario_state() == PlanStudy().to_dict()
    # the default target runs to the horizon's end, as `fleetcast plan`'s: Until is greyed
    assert panel.auto_until.isChecked() and not panel.until_edit.isEnabled()
    assert panel.scenario_state()["until_month"] is None
    from engine.studies_forecast import scenario_of

    sc = scenario_of(None)
    end = sc.last_month()
    assert panel.until_edit.date() == QDate(end.year, end.month, 1)   # it showed the old fixed 2026-12


def test_unticking_the_horizons_end_over_the_month_it_shows_keeps_the_plan_current(panel):
    """The greyed Until shows the horizon's end; unticking it names that same month, so the plan
    found is still the plan for these inputs (it was greyed, and could not be added)."""
    panel.auto_until.setChecked(True)
    panel.samples.setValue(40)
    panel.compute_now()
    assert panel.result is not None and panel.check_current()
    panel.auto_until.setChecked(False)
    assert panel.scenario_state()["until_month"] == f"{panel.result.until_month:%Y-%m}"
    assert panel.check_current()
    panel.until_edit.setDate(QDate(2026, 6, 1))   # a real change still greys it
    assert not panel.check_current()


def test_the_summary_says_how_an_fp8_demand_is_served(panel, store):
    params = dict(store.scenario("Story default")["params"])
    params["demand"] = {**params["demand"], "weight_dtype": "fp8", "kv_dtype": "bf16"}
    panel.scenario_provider = lambda: params
    panel.compute_now()
    assert panel.result is not None and any("W8A16" in n for n in panel.result.notes)
    assert "W8A16" in panel.summary_label.text() and "Ascend 910B2" in panel.summary_label.text()


def test_no_plan_offers_the_longest_target_and_one_click_plans_it(panel, qtbot):
    for r in range(panel.cand_table.rowCount()):  # the fixture's uncapped cells back to the default caps
        panel.cand_table.item(r, 4).setText(f"{panel._candidates[r].max_per_quarter:g}")
    # at 90% the longest keepable target is Mar-May 2025, and its plan orders (28,000 H20 in Nov 2024,
    # $336M, README); at 85% (this test's value before the Ascend MoE factor fix, 1482034) Mar-May needs
    # no order and the plan has no "With the plan" curve to draw (measured through this panel)
    panel.confidence.setValue(90)
    panel.auto_until.setChecked(False)
    panel.until_edit.setDate(QDate(2026, 12, 1))   # demand outgrows the caps long before
    assert panel.charts()["plan_capacity"].notice().startswith("No plan yet")
    # an empty chart shows no tick values (the default 0..1 view read "00.250" on the date axis)
    assert not any(c.axis_values_shown() for c in panel.charts().values())
    # and the tables name the columns a plan will fill instead of a blank box
    assert panel.orders_table.rowCount() == 0 and panel.orders_table.columnCount() == 5
    assert panel.orders_table.horizontalHeaderItem(1).text() == "Quantity\n(chips)"
    assert panel.econ_table.columnCount() == 6
    panel.compute_now()
    r = panel.result
    assert not r.feasible and r.reachable_target is not None and not r.orders
    # the empty orders table says why rather than showing a blank box
    assert panel.orders_table.item(0, 0).text() == "No plan meets the target: see the summary above"
    assert panel.order_rows()[1] == []   # exports carry no such row
    # no plan: the curve is the fleet's own and the chart does not call it "the plan"
    assert "Without a plan P50" in panel.capacity_chart.series_names()
    assert not any(n.startswith("With plan") or "deliveries" in n for n in panel.capacity_chart.series_names())
    assert panel.prob_chart.series_names() == ["Without", "Target"]
    assert panel.capacity_chart.title == "Capacity vs peak demand (no plan)"
    first, last = r.reachable_target
    assert panel.charts()["plan_capacity"].notice() == ""   # drawn: the empty-state line is gone
    assert panel.charts()["plan_capacity"].axis_values_shown()
    # the greyed automatic From shows the month the plan started from, not a stale default
    assert panel.auto_from.isChecked() and panel.from_edit.date() == QDate(r.from_month.year, r.from_month.month, 1)
    text = panel.summary_label.text()
    assert "href='reachable'" in text and f"{first:%b %Y} – {last:%b %Y} instead" in text
    assert "--until" not in text   # a CLI flag means nothing here
    panel.summary_label.linkActivated.emit("reachable")
    assert not panel.auto_from.isChecked()
    assert (panel.from_edit.date(), panel.until_edit.date()) == (QDate(first.year, first.month, 1),
                                                                 QDate(last.year, last.month, 1))
    qtbot.waitUntil(lambda: panel.result is not r, timeout=60_000)
    assert panel.result.feasible, panel.result.why
    assert (panel.result.from_month, panel.result.until_month) == (first, last)
    assert panel.result.orders   # the premise: the offered target's plan orders something to draw
    assert "With plan P50" in panel.capacity_chart.series_names()   # the no-plan curves were replaced
    assert "Without a plan P50" not in panel.capacity_chart.series_names()
    assert set(panel.prob_chart.series_names()) >= {"With the plan", "Without"}
    # a plan found and then refused (over budget) keeps its orders but is drawn as refused
    panel._draw(replace(panel.result, feasible=False))
    assert "With the refused plan P50" in panel.capacity_chart.series_names()
    assert "With the refused plan" in panel.prob_chart.series_names()


def test_a_plan_whose_inputs_changed_is_greyed_and_cannot_be_added(panel, store):
    """A plan stays on screen after its inputs change, but greyed, named as old, and not addable;
    putting the input back (or undoing) makes it current again."""
    from gui.commands import EditOrderCommand
    from gui.panels.base import is_stale

    panel.show()        # on screen, as the user sees it (a hidden Plan checks when it is shown)
    panel.compute_now()
    r = panel.result
    assert r.feasible and r.orders and panel.add_button.isEnabled() and not is_stale(panel.tabs)
    assert "lowest month is" in panel.summary_label.text() and "inputs changed" not in panel.summary_label.text()
    panel.confidence.setValue(95)                  # this form
    assert is_stale(panel.tabs) and not panel.add_button.isEnabled()
    assert "The inputs changed since this plan was found" in panel.summary_label.text()
    panel.confidence.setValue(80)
    assert not is_stale(panel.tabs) and panel.add_button.isEnabled()
    # the fleet: a quantity edited in the Fleet view (an undoable store write)
    order = store.orders()[0]
    panel._stack.push(EditOrderCommand(store, order.id, "quantity", order.quantity + 5000))
    assert is_stale(panel.tabs) and not panel.add_button.isEnabled()
    panel._stack.undo()
    assert not is_stale(panel.tabs) and panel.add_button.isEnabled()
    # the scenario the plan is for (the Forecast's fields)
    params = dict(store.scenario("Story default")["params"])
    panel.scenario_provider = lambda: {**params, "trials": 1000}
    panel.check_current()
    assert is_stale(panel.tabs)
    panel.scenario_provider = lambda: params
    assert panel.check_current()
    # adding the plan to the fleet makes it history: it is not added twice
    panel.add_as_orders()
    assert is_stale(panel.tabs) and not panel.add_button.isEnabled()
    panel._stack.undo()
    assert not is_stale(panel.tabs) and panel.add_button.isEnabled()


def test_cancel_says_so_and_leaves_the_view_idle(panel, qtbot):
    """Cancel stopped the worker, but the bar stayed at 'Solving… 60%' with Cancel enabled: the
    button's clicked(False) reached cancel() as emit=False."""
    panel.samples.setValue(400)
    panel.run_button.click()
    qtbot.waitUntil(panel.cancel_button.isEnabled, timeout=5000)
    panel.cancel_button.click()
    assert "Cancelled" in panel.progress_bar.format() and not panel.cancel_button.isEnabled()
    assert not panel.runner.is_running()


def test_an_empty_catalog_says_what_the_plan_needs_and_notes_read_with_names(tmp_path, qtbot):
    """With no chips the banner read "plan candidates: 4 problems: --chips: 'ascend-910b2' is not in
    the chip catalog", a CLI flag in the window; and summaries named chips by their ids."""
    from gui.panels.base import with_names

    store = open_store(tmp_path / "empty.db")
    for order in store.orders():
        store.delete_order(order.id)
    for chip in store.chips():
        store.delete_chip(chip.id)
    p = PlanPanel(store, QUndoStack())
    qtbot.addWidget(p)
    assert "No chip to plan with" in p.banner.text() and "--chips" not in p.banner.text()
    assert p.cand_table.rowCount() == 0
    p.shutdown()
    store.close()
    assert with_names("h800-sxm5-80gb 900, h20-96gb 357 (not h20-96gbx)", {"h20-96gb": "H20", "h800-sxm5-80gb": "H800"}) \
        == "H800 900, H20 357 (not h20-96gbx)"


def test_the_greyed_from_month_is_not_made_up_before_a_run(panel):
    """Before any run the greyed From read 2025-06, a fixed month the plan then did not use
    (it chose 2025-03); it says the run sets it, and unticking starts from the scenario's start."""
    assert panel.auto_from.isChecked() and panel.from_edit.text() == "set by the run"
    from engine.studies_forecast import scenario_of

    panel.auto_from.setChecked(False)
    start = scenario_of(None).start
    assert panel.from_edit.isEnabled() and panel.from_edit.date() == QDate(start.year, start.month, 1)
