"""Compare says when a what-if's vendor changes reach none of that vendor's orders (QA s40): with
order 1 given a delivery risk of its own in the baseline, "Huawei delivers half" read "70% -> 50%"
beside a difference of 0 in every figure, and nothing said why."""

import copy

from engine.store import open_store

NOTE = ("NOTE: Huawei's changes move nothing here: every outstanding Huawei order (order 1) has a delivery "
        "risk of its own, which wins")


def _compare_half(store, qtbot):
    from gui.panels.compare import ComparePanel

    p = ComparePanel(store)
    qtbot.addWidget(p)
    p.set_selected(["Huawei delivers half"])
    p.compute_now()
    return p


def _changes(p) -> str:
    headers, rows = p.tables()["key_figures"]
    row = next(r for r in rows if r[0] == "Changes from the baseline")
    return row[headers.index("Huawei delivers half")]


def test_a_vendor_change_that_reaches_no_order_is_said_beside_it(tmp_path, qtbot):
    store = open_store(tmp_path / "c.db")
    try:
        params = copy.deepcopy(store.scenario("Story default")["params"])
        params["trials"] = 200
        store.save_scenario("Story default", params)
        p = _compare_half(store, qtbot)
        assert "NOTE" not in _changes(p)          # the profile reaches order 1: halves it
        p.shutdown()
        own = copy.deepcopy(params["vendor_uncertainty"]["Huawei"])
        own["delay_high_days"] = 120.0
        params["order_uncertainty"] = {"1": own}
        store.save_scenario("Story default", params)
        p = _compare_half(store, qtbot)
        text = _changes(p)
        assert text.startswith(NOTE + "; Huawei fulfilled") and "50%" in text
        headers, rows = p.tables()["key_figures"]
        diff = headers.index("Huawei delivers half − baseline")
        installed = next(r for r in rows if r[0] == "Installed P50 at horizon end, Ascend 910B2 (chips)")
        assert installed[diff] == 0                  # what the note says
        p.shutdown()
    finally:
        store.close()
