"""The Forecast view shows and edits which chip types serve the demand (demand.serve_on)."""

from dataclasses import replace

from gui.panels.forecast_uncertainty import assumptions_html


def test_every_chip_serves_by_default_and_unticking_one_sets_serve_on(forecast_panel):
    p = forecast_panel
    assert p.scenario().demand.serve_on == ()
    chips = list(p._serve_checks)
    assert len(chips) >= 2 and all(box.isChecked() for box in p._serve_checks.values())
    p._serve_checks[chips[0]].setChecked(False)
    assert p.scenario().demand.serve_on == tuple(chips[1:])
    assert "is idle" in p._share_spins[chips[0]].toolTip()
    assert "serves the demand" in p._share_spins[chips[1]].toolTip()


def test_a_serve_on_scenario_loads_ticked_and_named_in_the_assumptions(forecast_panel):
    p = forecast_panel
    sc = p.scenario()
    only = next(iter(p._serve_checks))
    p._load(replace(sc, demand=replace(sc.demand, serve_on=(only,))))
    assert [c for c, box in p._serve_checks.items() if box.isChecked()] == [only]
    assert p.scenario().demand.serve_on == (only,)
    assert f"served on {p.chip_name(only)} only" in p.assumptions_label.text()


def test_a_serve_on_chip_without_orders_gets_its_row(forecast_panel):
    p = forecast_panel
    sc = p.scenario()
    p._load(replace(sc, demand=replace(sc.demand, serve_on=("h100-sxm5-80gb",))))
    assert "h100-sxm5-80gb" in p._serve_checks and p._serve_checks["h100-sxm5-80gb"].isChecked()
    assert p.scenario().demand.serve_on == ("h100-sxm5-80gb",)


def test_the_last_serving_chip_cannot_be_unticked(forecast_panel):
    """None ticked would be saved as an empty list, which reads "every chip type serves"."""
    p = forecast_panel
    for box in p._serve_checks.values():
        box.setChecked(False)
    assert sum(box.isChecked() for box in p._serve_checks.values()) == 1
    assert len(p.scenario().demand.serve_on) == 1


def test_assumptions_say_every_chip_serves_when_none_is_named(forecast_panel):
    assert "every chip type's non-training chips serve" in assumptions_html(forecast_panel.scenario())


def test_unticking_is_an_undoable_edit(window, qtbot):
    panel = window.panel("forecast")
    panel.auto_check.setChecked(False)
    chip = next(iter(panel._serve_checks))
    panel._serve_checks[chip].setChecked(False)
    qtbot.waitUntil(lambda: window.undo_stack.canUndo())
    assert chip not in panel.scenario().demand.serve_on and panel.scenario().demand.serve_on
    window.undo_stack.undo()
    qtbot.waitUntil(lambda: panel.scenario().demand.serve_on == ())
    assert panel._serve_checks[chip].isChecked()
