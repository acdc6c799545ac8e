"""QA s20 on what-ifs: a view only opened is no change of the what-if; a baseline saved by another
program reaches the what-if on screen; a read-only database's edits are never dropped unasked."""

import json

import pytest
from PySide6.QtWidgets import QMessageBox

from engine.store import open_store

WHAT_IF = "Huawei delivers half"


def _changes(store, name: str) -> dict:
    return json.loads(store.scenario_row(name)["params"])["changes"]


def _answer(monkeypatch, button):
    asked: list[str] = []

    def question(*args, **kwargs):
        asked.append(args[2] if len(args) > 2 else "")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def _save_baseline_elsewhere(store, **fields) -> None:
    other = open_store(store.path)
    params = other.scenario("Story default")["params"]
    params.update(fields)
    other.save_scenario("Story default", params)
    other.close()


# ---- 1. a view opened in a what-if, not edited, is no change ------------------------------------

def test_views_opened_but_not_edited_are_no_change_and_follow_the_baseline(window, store, qtbot):
    """Opening Training and Plan in a what-if and saving a Forecast edit stored both views' defaults
    (and an empty "ui") as changes: a later edit of the baseline's Training never reached it."""
    assert window.scenario_bar.select(WHAT_IF)
    training = window.panel("training")
    window.panel("plan")
    forecast = window.panel("forecast")
    forecast.trials_spin.setValue(forecast.trials_spin.value() + 1000)
    qtbot.waitUntil(window.isWindowModified)
    assert window.scenario_bar.save_current()
    changes = _changes(store, WHAT_IF)
    assert "trials" in changes
    assert not [path for path in changes if path == "ui" or path.startswith("ui.")]

    assert window.scenario_bar.select("Story default")
    training.count_spin.setValue(4096)
    window.panels["plan"].confidence.setValue(80)
    qtbot.waitUntil(window.isWindowModified)
    assert window.scenario_bar.save_current()
    ui = store.scenario(WHAT_IF)["params"]["ui"]
    assert ui["training"]["num_chips"] == 4096 and ui["plan"]["confidence"] == pytest.approx(0.8)


def test_a_view_edited_in_a_what_if_is_kept_as_its_change(window, store, qtbot):
    assert window.scenario_bar.select(WHAT_IF)
    training = window.panel("training")
    training.count_spin.setValue(2048)
    qtbot.waitUntil(window.isWindowModified)
    assert window.scenario_bar.save_current()
    assert store.scenario(WHAT_IF)["params"]["ui"]["training"]["num_chips"] == 2048
    assert any(path.startswith("ui") for path in _changes(store, WHAT_IF))


# ---- 2. the baseline saved by another program under the what-if on screen -----------------------

def test_an_unedited_what_if_is_reloaded_when_its_baseline_is_saved_elsewhere(window, store, qtbot, monkeypatch):
    """The form kept the old baseline's horizon unmarked; Save then asked whether to overwrite the
    what-if (the baseline had been saved, not it) and froze that horizon in as a change."""
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    assert window.scenario_bar.select(WHAT_IF)
    forecast = window.panel("forecast")
    months = forecast.months_spin.value()
    _save_baseline_elsewhere(store, months=months - 24)
    assert window.check_external_changes()
    assert forecast.months_spin.value() == months - 24 and not window.is_modified()
    assert "'Story default' was saved by another window" in window.statusBar().currentMessage()
    forecast.trials_spin.setValue(forecast.trials_spin.value() + 1000)
    qtbot.waitUntil(window.isWindowModified)
    assert window.scenario_bar.save_current()
    assert not asked
    assert "months" not in _changes(store, WHAT_IF)
    assert store.scenario(WHAT_IF)["params"]["months"] == months - 24


@pytest.mark.parametrize("keep", [True, False])
def test_edits_of_a_what_if_go_on_top_of_a_baseline_saved_elsewhere(window, store, qtbot, monkeypatch, keep):
    """Saved before the 2 s look at the store: the question names the baseline, and the what-if
    stores the user's own edits only (or none, after Discard), never the old baseline's values."""
    assert window.scenario_bar.select(WHAT_IF)
    forecast = window.panel("forecast")
    months, trials = forecast.months_spin.value(), forecast.trials_spin.value()
    forecast.trials_spin.setValue(trials + 1000)
    qtbot.waitUntil(window.isWindowModified)
    _save_baseline_elsewhere(store, months=months - 24)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes if keep else QMessageBox.StandardButton.Discard)
    assert window.scenario_bar.save_current()
    assert len(asked) == 1 and "'Story default' was saved by another window" in asked[0]
    assert forecast.months_spin.value() == months - 24
    assert forecast.trials_spin.value() == (trials + 1000 if keep else trials)
    changes = _changes(store, WHAT_IF)
    assert "months" not in changes and ("trials" in changes) == keep


# ---- 3. a read-only database ----------------------------------------------------------------------

@pytest.fixture
def read_only_window(tmp_path, qtbot, qsettings_isolated):
    from gui.app import MainWindow

    path = tmp_path / "ro.db"
    open_store(path).close()
    store = open_store(path, read_only=True)
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.show()
    yield w
    w._shut_down = True
    for panel in w.panels.values():
        panel.shutdown()
    w.fleet_panel.detach()
    store.close()


def test_read_only_edits_are_not_dropped_unasked(read_only_window, qtbot, monkeypatch, tmp_path):
    """The window took the edits, showed '*', and closing dropped them without a word."""
    window = read_only_window
    forecast = window.panel("forecast")
    months = forecast.months_spin.value()
    forecast.months_spin.setValue(months + 1)
    qtbot.waitUntil(window.isWindowModified)
    choices = ["cancel", "save_as"]
    asked: list[str] = []
    monkeypatch.setattr(window, "_ask_unsaveable", lambda name, doing: (asked.append(doing), choices.pop(0))[1])
    copy_path = tmp_path / "kept.db"
    monkeypatch.setattr(window, "save_copy_with_edits",
                        lambda path=None, real=window.save_copy_with_edits: real(str(copy_path)))
    assert not window.close() and window.isVisible()   # Cancel keeps the window and its edits
    assert window.isWindowModified()
    assert window.close()                               # Save As…: a copy holds them
    assert asked == ["closing", "closing"]
    kept = open_store(copy_path)
    try:
        assert kept.scenario(window._scenario_name)["params"]["months"] == months + 1
    finally:
        kept.close()
