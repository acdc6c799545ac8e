"""QA s34: Compare listed a what-if's Training and Inference changes and then compared only the
forecasts' figures, every row reading 0 beside "Training chip ... → H800"."""

import copy

from engine.store import open_store
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
    finally:
        store.close()
