"""QA s20: Compare's charts after Export all, and which scenarios Compare ticks by default."""

import pytest
from PySide6.QtCore import Qt, QThreadPool

from engine.forecast import default_scenario, scenario_to_dict
from engine.store import open_store
from gui.panels.compare import MAX_DEFAULT_SELECTED, ComparePanel


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "compare.db")   # seeded: the baseline and three what-ifs
    yield s
    s.close()


def _panel(store, qtbot):
    p = ComparePanel(store)
    qtbot.addWidget(p)
    return p


@pytest.fixture
def panel(store, qtbot):
    p = _panel(store, qtbot)
    yield p
    p.shutdown()
    QThreadPool.globalInstance().waitForDone(5000)


def _save_what_if(store, name, stamp, monkeypatch):
    import engine.store.store as store_mod

    monkeypatch.setattr(store_mod, "_now", lambda: stamp)   # saves in one test share a second otherwise
    params = scenario_to_dict(default_scenario())
    params["trials"] = 200
    store.save_scenario(name, {**params, "name": name})


def _item(panel, name):
    return next(panel.scenario_list.item(i) for i in range(panel.scenario_list.count())
                if panel.scenario_list.item(i).text() == name)


def test_export_all_gives_the_charts_their_size_back(panel, qtbot, tmp_path):
    """After File > Export all the Compare charts stayed laid out wider than their cells (titles
    "Capacity, de", axes cut after 2026) until the window was resized: the export's full-length
    title raised the plot's minimum width, and Qt never set it narrower again."""
    from gui.export_all import export_all

    panel.resize(1280, 720)
    panel.show()
    qtbot.waitExposed(panel)
    panel.compute_now()
    qtbot.wait(100)
    before = {key: chart.plot_item.geometry() for key, chart in panel.charts().items()}
    assert all(g.width() < 500 for g in before.values())   # narrower than the export layout
    export_all({"compare": panel}, tmp_path / "out", scenario="Story default")
    qtbot.wait(100)
    after = {key: chart.plot_item.geometry() for key, chart in panel.charts().items()}
    assert after == before
    for chart in panel.charts().values():   # drawn inside its widget again
        assert chart.plot_item.sceneBoundingRect().right() <= chart.plot_widget.width() + 1


def test_a_users_new_what_if_is_compared_by_default(store, qtbot, monkeypatch):
    """Only the first three names alphabetically were ticked: a user's own "QA Huawei half" was
    left out and Compare ran the three seeded what-ifs."""
    _save_what_if(store, "QA Huawei half", "2999-01-01T00:00:00", monkeypatch)
    panel = _panel(store, qtbot)
    try:
        names = [s["name"] for s in store.scenarios()]
        assert "QA Huawei half" in panel.selected()
        assert set(panel.selected()) == set(names)   # five in all: under the cap, every one
    finally:
        panel.shutdown()


def test_the_most_recently_saved_are_ticked_up_to_the_cap(store, qtbot, monkeypatch):
    for k in range(MAX_DEFAULT_SELECTED + 2):
        _save_what_if(store, f"Z{k}", f"2999-01-01T00:00:{k:02d}", monkeypatch)
    panel = _panel(store, qtbot)
    try:
        base = store.baseline_name()
        newest = {f"Z{k}" for k in range(2, MAX_DEFAULT_SELECTED + 2)}
        assert set(panel.selected()) == newest | {base}
    finally:
        panel.shutdown()


def test_a_scenario_created_or_saved_later_is_ticked_unless_unticked_by_hand(store, panel, monkeypatch):
    _save_what_if(store, "Later", "2999-01-01T00:00:00", monkeypatch)
    panel.refresh_scenarios()
    assert "Later" in panel.selected()
    _item(panel, "Later").setCheckState(Qt.CheckState.Unchecked)   # by hand
    assert "Later" not in panel.selected()
    _save_what_if(store, "Later", "2999-01-01T00:00:05", monkeypatch)   # saved again: the user's choice stays
    panel.refresh_scenarios()
    assert "Later" not in panel.selected()
    seeded = "Huawei 6 months late"
    _item(panel, seeded).setCheckState(Qt.CheckState.Unchecked)
    panel.refresh_scenarios()   # a refresh without a save keeps every tick as it is
    assert seeded not in panel.selected()
    panel.set_selected([])
    _save_what_if(store, "Huawei delivers half", "2999-01-01T00:00:09", monkeypatch)   # saved since
    panel.refresh_scenarios()
    assert "Huawei delivers half" in panel.selected()
