"""A what-if's Save stores only what the user edited in a view (QA s21): the rest of the view
follows the baseline, a Plan candidate put back to its catalog value is an edit too, and a bad
Plan candidate cell is refused as the Forecast's tables refuse theirs."""

import json

from PySide6.QtCore import Qt

from engine.studies import TrainingStudy

BASELINE = "Story default"
WHAT_IF = "Huawei delivers half"


def _stored_ui_changes(store, name: str) -> dict:
    changes = json.loads(store.scenario_row(name)["params"])["changes"]
    return {k: v for k, v in changes.items() if k == "ui" or k.startswith("ui.")}


def _plan_rows(panel) -> dict:
    return {c.chip_id: r for r, c in enumerate(panel._candidates)}


def test_a_what_ifs_first_view_edit_stores_that_field_only_and_the_view_follows_the_baseline(window, store):
    bar = window.scenario_bar
    training, inference = window.panel("training"), window.panel("inference")
    assert "ui" not in store.scenario(BASELINE)["params"]   # the seeded baseline saved no view
    assert bar.select(WHAT_IF)
    training.count_spin.setValue(2048)
    ttft = inference.ttft_spin.value()
    inference.ttft_spin.setValue(ttft + 100)                # edited and put back: no change
    inference.ttft_spin.setValue(ttft)
    window.panel("plan")                                    # opened, not edited: no change
    assert bar.save_current()
    # it stored the whole "ui" (every Training input): the view no longer followed the baseline
    assert _stored_ui_changes(store, WHAT_IF) == {"ui.training.num_chips": 2048}

    assert bar.select(BASELINE)
    training.model_combo.setCurrentIndex(training.model_combo.findData("llama3-405b"))
    assert bar.save_current()
    assert bar.select(WHAT_IF)
    shown = training.scenario_state()
    assert (shown["model_id"], shown["num_chips"]) == ("llama3-405b", 2048)
    # `fleetcast train --scenario` reads the same stored inputs
    saved = TrainingStudy.from_dict(store.scenario(WHAT_IF)["params"]["ui"]["training"])
    assert (saved.model_id, saved.num_chips) == ("llama3-405b", 2048)
    assert not window.is_modified()


def test_a_what_if_stored_whole_before_loads_and_saves_as_it_was(window, store):
    """What-ifs saved before this fix hold a whole view: it still shows, and an untouched Save
    keeps what it resolves to."""
    whole = {**window.panel("training").scenario_state(), "model_id": "llama3-405b", "num_chips": 4096}
    stored = json.loads(store.scenario_row(WHAT_IF)["params"])
    stored["changes"]["ui"] = {"training": whole}
    store.save_scenario(WHAT_IF, stored)
    before = store.scenario(WHAT_IF)["params"]
    bar = window.scenario_bar
    assert bar.select(WHAT_IF)
    assert window.panel("training").scenario_state() == whole
    assert bar.save_current()
    assert store.scenario(WHAT_IF)["params"] == before


def test_a_plan_candidate_put_back_to_its_catalog_value_in_a_what_if_is_saved(window, store):
    bar = window.scenario_bar
    plan = window.panel("plan")
    h20 = _plan_rows(plan)["h20-96gb"]
    catalog = plan.cand_table.item(h20, 2).text()
    assert bar.select(BASELINE)
    plan.cand_table.item(h20, 2).setText("15000")
    plan.cand_table.item(h20, 0).setCheckState(Qt.CheckState.Unchecked)
    assert bar.save_current()

    assert bar.select(WHAT_IF)
    plan.cand_table.item(h20, 2).setText(catalog)                         # back to the catalog price
    plan.cand_table.item(h20, 0).setCheckState(Qt.CheckState.Checked)     # and used again
    assert window.is_modified()
    assert bar.save_current()
    assert _stored_ui_changes(store, WHAT_IF) == {"ui.plan.candidates.h20-96gb": {"$removed": True}}
    assert bar.select(BASELINE) and bar.select(WHAT_IF)
    assert plan.cand_table.item(h20, 2).text() == catalog                 # it showed 15,000 again
    assert plan.cand_table.item(h20, 0).checkState() == Qt.CheckState.Checked
    assert store.scenario(WHAT_IF)["params"]["ui"]["plan"]["candidates"] == {}


def test_use_ticked_again_keeps_the_baselines_other_candidate_edits(window, store):
    bar = window.scenario_bar
    plan = window.panel("plan")
    h20 = _plan_rows(plan)["h20-96gb"]
    assert bar.select(BASELINE)
    plan.cand_table.item(h20, 2).setText("15000")
    plan.cand_table.item(h20, 0).setCheckState(Qt.CheckState.Unchecked)
    assert bar.save_current()
    assert bar.select(WHAT_IF)
    plan.cand_table.item(h20, 0).setCheckState(Qt.CheckState.Checked)
    assert bar.save_current()
    assert _stored_ui_changes(store, WHAT_IF) == {"ui.plan.candidates.h20-96gb.use": {"$removed": True}}
    assert store.scenario(WHAT_IF)["params"]["ui"]["plan"]["candidates"] == {"h20-96gb": {"unit_price_usd": 15000.0}}


def test_bad_plan_candidate_cells_are_not_saved(window, store):
    bar = window.scenario_bar
    plan = window.panel("plan")
    rows = _plan_rows(plan)
    assert bar.select(BASELINE)
    before = store.scenario_row(BASELINE)["params"]
    plan.cand_table.item(rows["h20-96gb"], 4).setText("-5")
    plan.cand_table.item(rows["ascend-910b2"], 2).setText("abc")
    assert window.isWindowModified()
    depth = window.undo_stack.count()   # (each typed cell is an undoable edit of the form)
    assert not bar.save_current()
    said = bar.message.text()
    first = min(rows["h20-96gb"], rows["ascend-910b2"]) + 1
    assert said.startswith(f"Not saved: Plan candidates row {first} ("), said
    assert "'abc'" in said and "(+1 more)" in said, said
    assert store.scenario_row(BASELINE)["params"] == before and window.undo_stack.count() == depth

    plan.cand_table.item(rows["ascend-910b2"], 2).setText("20000")
    assert not bar.save_current()
    assert bar.message.text() == (f"Not saved: Plan candidates row {rows['h20-96gb'] + 1} (Most per quarter): "
                                  "'-5' (must be a number of chips, 0 or more)")
    plan.cand_table.item(rows["h20-96gb"], 4).setText("5")
    assert bar.message.text() == ""                          # the refusal goes once nothing is bad
    assert bar.save_current()
    stored = store.scenario(BASELINE)["params"]["ui"]["plan"]["candidates"]
    assert stored["h20-96gb"]["max_per_quarter"] == 5 and stored["ascend-910b2"]["unit_price_usd"] == 20000


def test_a_candidate_put_back_stays_on_top_of_a_baseline_saved_elsewhere(window, store, monkeypatch):
    """Keeping unsaved edits over a baseline another program saved: the H20 put back to its
    catalog price was no edit (a missing key), and the reload showed 15,000 again."""
    from PySide6.QtWidgets import QMessageBox

    from engine.store import open_store

    bar = window.scenario_bar
    plan = window.panel("plan")
    h20 = _plan_rows(plan)["h20-96gb"]
    catalog = plan.cand_table.item(h20, 2).text()
    assert bar.select(BASELINE)
    plan.cand_table.item(h20, 2).setText("15000")
    assert bar.save_current()
    assert bar.select(WHAT_IF)
    plan.cand_table.item(h20, 2).setText(catalog)
    assert window.is_modified()   # (the edit noted, as the event loop does long before the 2 s look)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    other = open_store(store.path)
    params = other.scenario(BASELINE)["params"]
    other.save_scenario(BASELINE, {**params, "months": params["months"] + 1})
    other.close()
    assert window.check_external_changes()
    assert plan.cand_table.item(h20, 2).text() == catalog and window.is_modified()
    assert bar.save_current()
    assert store.scenario(WHAT_IF)["params"]["ui"]["plan"]["candidates"] == {}
