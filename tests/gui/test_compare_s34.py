"""QA s34: Compare listed a what-if's Training and Inference changes and then compared only the
forecasts' figures, every row reading 0 beside "Training chip ... → H800"."""

import copy

from engine.store import open_store
from gui.panels.compare import OTHER_MONTHS
from gui.panels.compare_text import changes_text


def test_changes_to_other_views_are_said_not_to_be_compared(tmp_path):
    store = open_store(tmp_path / "c.db")
    try:
        base = store.scenario("Story default")["params"]
        views = copy.deepcopy(base)
        views.setdefault("ui", {})["training"] = {"chip_id": "h800-sxm5-80gb", "num_chips": 4096}
        views["ui"]["inference"] = {"chip_id": "h800-sxm5-80gb"}
        store.save_scenario("views", views)
        text = changes_text(store, "views", "Story default", {})
        assert text.startswith("Inference chip h20-96gb → h800-sxm5-80gb; Training chip ascend-910b2 → h800-sxm5-80gb")
        assert text.endswith("(Inference and Training: not compared here, only the forecast's figures; their views "
                             "show them)")
        horizon = copy.deepcopy(base)
        horizon["months"] = 30
        store.save_scenario("short", horizon)
        assert changes_text(store, "short", "Story default", {}) == "horizon 60 months → 30 months"
        # Compare's own ticks and a study's version are no view's inputs: nothing said of them
        ticks = copy.deepcopy(base)
        ticks.setdefault("ui", {})["compare"] = {"selected": ["Story default", "views"]}
        ticks["ui"]["training"] = {"version": 99}
        store.save_scenario("ticks", ticks)
        assert "not compared" not in changes_text(store, "ticks", "Story default", {})
    finally:
        store.close()


def _compared(store, qtbot, name: str, **change):
    """The Compare view run on the story (200 trials) beside `name`, the story with `change`."""
    from gui.panels.compare import ComparePanel

    for scenario, edit in (("Story default", {}), (name, change)):
        params = copy.deepcopy(store.scenario("Story default")["params"])
        params.update(trials=200, **edit)
        store.save_scenario(scenario, params)
    p = ComparePanel(store)
    qtbot.addWidget(p)
    p.set_selected([name])
    p.compute_now()
    return p


def test_forecasts_over_other_months_take_no_difference(tmp_path, qtbot):
    """QA s34: a what-if starting later read -86.9 points of P(meet) "12 months in" (2026-01
    against 2025-05) and -97,352 installed chips at the horizon (2029-12 against 2029-04): date
    effects, not the scenario's."""
    store = open_store(tmp_path / "c.db")
    try:
        p = _compared(store, qtbot, "later", start="2025-01-01")
        headers, rows = p.tables()["key_figures"]
        assert headers[-1] == "later − baseline"
        figures = [row for row in rows[1:] if row[0] != "Monte Carlo runs" and row[1] not in ("", None)]
        numeric = [row for row in figures if isinstance(row[1], (int, float))]
        read_at_months = [row for row in numeric if "months in" in row[0] or "horizon end" in row[0]]
        assert len(read_at_months) > 3 and all(row[-1] == OTHER_MONTHS for row in read_at_months)
        # a job's finish is a calendar date: compared whatever the months
        assert all(row[-1] != OTHER_MONTHS for row in rows if "(date)" in row[0])
        p.shutdown()
    finally:
        store.close()


def test_a_longer_horizon_takes_differences_of_figures_read_at_the_same_months(tmp_path, qtbot):
    """QA s34: 72 months beside 60 from the same start read 'other months' everywhere, 'P(meet)
    12 months in' (the same month in both) included."""
    store = open_store(tmp_path / "c.db")
    try:
        p = _compared(store, qtbot, "longer", months=72)
        _, rows = p.tables()["key_figures"]
        by = {row[0]: row for row in rows}
        twelve = next(k for k in by if "12 months in" in k)
        assert by[twelve][-1] != OTHER_MONTHS
        assert by["Installed P50 at horizon end, all types (chips)"][-1] == OTHER_MONTHS
        p.shutdown()
    finally:
        store.close()
