"""QA s24 on what-ifs: a what-if must say what it changes. Changes of the views' inputs ("ui.*":
the Training view's reliability, a Plan candidate's price) read as "no changes"; a cut-off that
replaces the baseline's read as a probability edit; a growth model's values went unsaid; a
vendor's value showed no old value; the report never stated the training reliability inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from engine.commands.forecast import what_if_of
from engine.scenario_changes import apply_changes, describe_changes, described_views
from engine.store import open_store

BASE = "Story default"
HU = "vendor_uncertainty.Huawei."


def _what_if(store, name: str, changes: dict) -> list[str]:
    """`changes` saved as a what-if of the baseline; its changes in words, as forecast, plan and
    the report name them."""
    params = apply_changes(store.scenario(BASE)["params"], changes)
    params["name"] = name
    store.save_scenario(name, params)
    base, words = what_if_of(store, name)
    assert base == BASE
    return words


def test_the_views_inputs_that_feed_a_result_are_changes(tmp_path):
    """train gives 238 days vs 184 and plan $769M vs $492M, while the what-if said "no changes"."""
    store = open_store(tmp_path / "s.db")
    try:
        words = _what_if(store, "flaky", {"ui.training.mtbf_chip_hours": 20000.0, "ui.training.restart_min": 30.0,
                                          "ui.training.checkpoint_write_gbps": 100.0})
        assert words == ["Training checkpoint write 1,000 GB/s → 100 GB/s",
                         "Training MTBF per chip the Llama 3 rate (50,677 chip-h) → 20,000 chip-h",
                         "Training restart time 10 min → 30 min"]
        words = _what_if(store, "dear H20", {"ui.plan.candidates.h20-96gb.unit_price_usd": 18750.0,
                                             "ui.plan.candidates.h20-96gb.lead_time_months": 6,
                                             "ui.plan.confidence": 0.95})
        assert words == ["Plan candidate H20 lead time 3 months → 6 months",
                         "Plan candidate H20 price the catalog's → 18,750 USD", "Plan confidence 90% → 95%"]
        # Compare's column says the same (it said "none")
        from gui.panels.compare_text import changes_text

        assert changes_text(store, "flaky", BASE, {}).startswith("Training checkpoint write 1,000 GB/s → 100 GB/s; ")
        # the window's own state (Compare's ticked scenarios) and a study's version are no change
        assert _what_if(store, "ticks", {"ui.compare.selected": [BASE, "flaky"], "ui.training.version": 1}) == []
    finally:
        store.close()


def test_a_view_stored_whole_reads_field_by_field_against_the_baseline():
    """An older what-if stored a view's inputs whole: only what differs from the baseline is said."""
    base = {"ui": {"plan": {"candidates": {"h20-96gb": {"unit_price_usd": 12500.0}}, "samples": 200}}}
    changes = {"ui": {"plan": {"candidates": {"h20-96gb": {"unit_price_usd": 18750.0}}, "samples": 200},
                      "compare": {"selected": ["a"]}}}
    assert describe_changes(changes, base=base, chip_labels={"h20-96gb": "H20"}) == [
        "Plan candidate H20 price 12,500 USD → 18,750 USD"]
    # a candidate's edits the what-if drops: each back to its default
    assert describe_changes({"ui.plan.candidates.h20-96gb": {"$removed": True}}, base=base,
                            chip_labels={"h20-96gb": "H20"}) == ["Plan candidate H20 price 12,500 USD → the catalog's"]


def test_a_cut_off_that_replaces_the_baselines_says_so(tmp_path):
    """A ban from Sep 2025 drops the baseline's 50%-anywhere-in-2025 cut-off (one per chip), so the
    what-if reads better than the baseline; it said only "probability 50% -> 100%, window ..."."""
    store = open_store(tmp_path / "c.db")
    try:
        ban = {"chip_id": "h20-96gb", "probability": 1.0, "window_start": "2025-09-01", "window_end": "2025-09-01",
               "duration_months": None}
        assert _what_if(store, "banned", {"policy_events": [ban]}) == [
            "export cut-offs: H20 cut-off replaces the baseline's (50% in 2025-01..2025-12) with 100% from 2025-09-01"]
    finally:
        store.close()


def test_a_mode_lists_the_values_it_uses_and_values_read_old_to_new(tmp_path):
    """"growth model = user" hid the P10/P50/P90 in effect (equal to the baseline's unused ones);
    "Huawei fulfilled high = 50%" had no old value nor "of what"; "demand scale = 2" no "×"."""
    store = open_store(tmp_path / "m.db")
    try:
        assert _what_if(store, "user growth", {"demand.growth_model": "user"}) == [
            "demand growth after data decaying → user (uses growth P10 1.5 ×/year, growth P50 2 ×/year, "
            "growth P90 3 ×/year)"]
        words = _what_if(store, "half", {"demand.scale": 2.0, HU + "fraction_mode": 0.5,
                                         "vendor_uncertainty.NVIDIA.fraction_high": 0.9})
        assert words == ["demand scale ×1 → ×2", "Huawei fulfilled mode 70% → 50% of the order",
                         "NVIDIA fulfilled high 100% → 90% of what is outstanding"]
        words = _what_if(store, "fixed half", {HU + "fraction_dist": "fixed", HU + "fraction_of": "outstanding"})
        assert words == ["Huawei fulfilled distribution beta → fixed (uses fulfilled mode 70% of what is outstanding)",
                         "Huawei fulfilled fraction of the order → what is outstanding"]
    finally:
        store.close()


def _report_context(params: dict, figures: dict):
    from gui.report import ReportContext

    return ReportContext(scenario="Test", params=params, created=dt.datetime(2026, 1, 2), db_path=Path("/tmp/x.db"),
                         figures=figures, tables={}, charts=[], orders=[], chips={}, stored_calibration={},
                         accuracy={}, extra={})


def test_the_reports_assumptions_state_the_training_reliability():
    """The report gave the training time and goodput, never the MTBF, restart time or checkpoint
    bandwidth they rest on."""
    from gui.report import assumptions_section

    trained = {"training": {"Time to train": (184.0, "days")}}
    text = assumptions_section(_report_context({}, trained))
    assert "Training reliability" in text and "50,677 chip-hours (the Llama 3 report's rate" in text
    assert "10 min to restart" in text and "written at 1,000 GB/s" in text
    flaky = {"ui": {"training": {"mtbf_chip_hours": 20000.0, "restart_min": 30.0, "checkpoint_write_gbps": 100.0}}}
    text = assumptions_section(_report_context(flaky, trained))
    assert "failures of 20,000 chip-hours per chip" in text and "30 min to restart" in text
    assert "written at 100 GB/s" in text
    # no training figures in the report: nothing to rest on them
    assert "Training reliability" not in assumptions_section(_report_context(flaky, {}))


def test_the_inference_load_point_is_worded_and_the_kept_values_are_not_a_change():
    """QA s35: "load point targets -> rate" read the ids, and the value kept for a kind not chosen
    ("load typed for Poisson arrivals 1 -> 2.5") was listed as a change though no result reads it."""
    changes = {"ui.inference.load_point": "rate", "ui.inference.load_value": 2.5,
               "ui.inference.load_values.rate": 2.5}
    assert describe_changes(changes, base={}) == ["Inference load point the targets' capacity → Poisson arrivals",
                                                  "Inference load 1 → 2.5 requests/s per replica"]
    assert describe_changes({"ui.inference.load_values.concurrency": 8.0}, base={}) == []
    # the value in its kind's unit, and not at all where the kind reads none (QA s35: "load 1 -> 2.5"
    # with the targets' capacity chosen, and "load 1 -> 16" for 16 clients)
    assert describe_changes({"ui.inference.load_point": "concurrency", "ui.inference.load_value": 16},
                            base={})[1] == "Inference load 1 → 16 clients per replica"
    assert describe_changes({"ui.inference.load_value": 2.5}, base={}) == []
    assert described_views({"ui.inference.load_values.concurrency": 8.0}) == []
