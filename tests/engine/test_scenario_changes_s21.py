"""A what-if stores the views' inputs ("ui") field by field, as edits of what the view shows for the
baseline, and a Plan candidate put back to its default is a change too (QA s21)."""

from engine.scenario_changes import (
    REMOVED, apply_changes, diff_params, effective_changes, without_unstored_defaults,
)

TRAINING_DEFAULTS = {"model_id": "llama3-70b", "num_chips": 1024, "layout": {"tp": 1, "pp": 1},
                     "custom": None, "compare_chips": ["a", "b"]}
PLAN_DEFAULTS = {"confidence": 0.9, "samples": 200, "candidates": {}}


def test_a_view_the_base_lacks_is_stored_field_by_field_and_follows_the_base_later():
    """The seeded baseline has no "ui": the what-if's first view edit stored all of "ui" as one
    change, and a later edit of the baseline's model never reached it."""
    base = {"demand": {"scale": 1.0}}
    what_if = {"demand": {"scale": 1.0}, "ui": {"training": {"num_chips": 2048}}}
    changes = diff_params(base, what_if)
    assert changes == {"ui.training.num_chips": 2048}
    later_base = {**base, "ui": {"training": {**TRAINING_DEFAULTS, "model_id": "llama3-405b"}}}
    resolved = apply_changes(later_base, changes)["ui"]["training"]
    assert resolved["model_id"] == "llama3-405b" and resolved["num_chips"] == 2048
    assert apply_changes(base, changes) == what_if   # and it reads as before, the base unchanged


def test_outside_the_views_a_map_the_base_lacks_is_still_one_change():
    base = {"vendor_uncertainty": {"Huawei": {"fraction_mode": 0.8}}}
    params = {"vendor_uncertainty": {"Huawei": {"fraction_mode": 0.8}, "Acme": {"fraction_mode": 0.5}}}
    assert diff_params(base, params) == {"vendor_uncertainty.Acme": {"fraction_mode": 0.5}}


def test_only_the_edits_of_a_view_the_baseline_stores_nothing_for_are_kept():
    edited = {**TRAINING_DEFAULTS, "num_chips": 2048, "layout": {"tp": 8, "pp": 1}}
    assert without_unstored_defaults(edited, None, TRAINING_DEFAULTS) == {"num_chips": 2048, "layout": {"tp": 8}}
    # what the baseline stores is compared with, not dropped: a what-if back at the default model
    # under a 405B baseline keeps that model
    stored = {"model_id": "llama3-405b"}
    assert without_unstored_defaults(edited, stored, TRAINING_DEFAULTS) == {
        "model_id": "llama3-70b", "num_chips": 2048, "layout": {"tp": 8}}
    assert without_unstored_defaults(TRAINING_DEFAULTS, None, TRAINING_DEFAULTS) == {}


def test_a_plan_candidate_put_back_to_its_catalog_value_is_a_change():
    """Baseline H20 at 15,000; the what-if back at the catalog's 12,000 stores no H20 edit (the table
    keeps only differences from the catalog): a missing key, which diff_params dropped."""
    base = {"ui": {"plan": {**PLAN_DEFAULTS, "candidates": {"h20-96gb": {"unit_price_usd": 15000.0}}}}}
    what_if = {"ui": {"plan": dict(PLAN_DEFAULTS)}}
    changes = diff_params(base, what_if)
    assert changes == {"ui.plan.candidates.h20-96gb": REMOVED}
    assert apply_changes(base, changes) == what_if
    assert effective_changes(base, changes) == changes


def test_use_ticked_again_on_a_candidate_the_baseline_unticked_is_a_change():
    base = {"ui": {"plan": {**PLAN_DEFAULTS, "candidates": {
        "h20-96gb": {"use": False, "unit_price_usd": 15000.0}, "h20.v2": {"use": False}}}}}
    what_if = {"ui": {"plan": {**PLAN_DEFAULTS, "candidates": {"h20-96gb": {"unit_price_usd": 15000.0}}}}}
    changes = diff_params(base, what_if)
    assert changes == {"ui.plan.candidates.h20-96gb.use": REMOVED, "ui.plan.candidates.h20\\.v2": REMOVED}
    assert apply_changes(base, changes) == what_if
    # the other way: fields set (a chip the base lacks, field by field, as every view input)
    assert diff_params(what_if, base) == {"ui.plan.candidates.h20-96gb.use": False,
                                          "ui.plan.candidates.h20\\.v2.use": False}


def test_a_view_missing_from_a_save_still_keeps_the_baselines():
    """A save that does not carry a view (nobody opened it) is no removal of it."""
    base = {"ui": {"plan": {**PLAN_DEFAULTS, "candidates": {"h20-96gb": {"use": False}}}, "training": {}}}
    assert diff_params(base, {"ui": {"training": {}}}) == {}
