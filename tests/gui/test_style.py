"""One palette: a chip's colour is the same whatever the drawing order, H100 and H800 differ,
breakdown categories keep their colours, every chip has one short name, and charts say why
they are empty or scale their axis instead of leaving it blank."""

import numpy as np
import pytest

from engine.catalog import reference_chips
from gui import style
from gui.widgets.plot_panel import GroupedAxisItem, PlotPanel


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)


def test_chip_colours_are_stable_and_h100_h800_clearly_apart():
    assert style.chip_color("h100-sxm5-80gb") != style.chip_color("h800-sxm5-80gb")
    distance = np.linalg.norm(_rgb(style.chip_color("h100-sxm5-80gb")) - _rgb(style.chip_color("h800-sxm5-80gb")))
    assert distance > 100  # not two oranges
    assert style.chip_symbol("h100-sxm5-80gb") != style.chip_symbol("h800-sxm5-80gb")
    # an unlisted chip: the same colour every time (a hash of the id, not the drawing order)
    assert style.chip_color("some-new-chip") == style.chip_color("some-new-chip")


def test_series_named_after_a_chip_take_its_colour_in_any_order(qtbot):
    style.register_chips(reference_chips().values())
    first, second = PlotPanel("a"), PlotPanel("b")
    qtbot.addWidget(first)
    qtbot.addWidget(second)
    x = np.arange(3.0)
    for name in ("H20 (TP4)", "Ascend 910B2 (TP8)"):
        first.set_series(name, x, x)
    for name in ("Ascend 910B2 (TP8)", "H800 SXM5 80GB (TP4)", "H20 (TP4)"):
        second.set_series(name, x, x)
    assert first.color_for("H20 (TP4)") == second.color_for("H20 (TP4)") == style.chip_color("h20-96gb")
    assert second.color_for("H800 SXM5 80GB (TP4)") == style.chip_color("h800-sxm5-80gb")
    assert style.series_color("H20 (HGX) 96GB P50") == style.chip_color("h20-96gb")  # the full name too
    assert style.series_color("GEMMs") == style.CATEGORY_COLORS["GEMMs"]


def test_one_short_display_name_per_chip():
    chips = reference_chips()
    assert style.chip_display_name(chips["h20-96gb"]) == "H20"
    assert style.chip_display_name(chips["ascend-910b2"]) == "Ascend 910B2"
    names = [style.chip_display_name(c) for c in chips.values()]
    assert len(set(names)) == len(names)


def test_huge_values_get_compact_ticks():
    axis = GroupedAxisItem(orientation="left")
    assert axis.tickStrings([0.0, 5e9, 1e10], 1.0, 5e9) == ["0", "5B", "10B"]   # zero is 0, not 0B (QA s37)
    assert axis.tickStrings([0.0, 2e7], 1.0, 2e7) == ["0", "20M"]
    assert axis.tickStrings([-2e7, 0.0, 2e7], 1.0, 2e7) == ["-20M", "0", "20M"]
    assert axis.tickStrings([0.0, 50_000.0], 1.0, 50_000.0) == ["0", "50,000"]


@pytest.mark.slow
def test_zero_demand_says_why_the_chips_chart_is_empty(tmp_path, qtbot):
    from engine.store import open_store
    from gui.panels.inference import InferencePanel

    store = open_store(tmp_path / "s.db")
    panel = InferencePanel(store)
    qtbot.addWidget(panel)
    panel.demand_spin.setValue(0.0)
    panel.compute_now()
    assert "No peak demand" in panel.chips_chart.notice()
    assert "No demand" in panel.demand_hint.text()
    panel.demand_spin.setValue(2_000_000.0)
    panel.compute_now()
    assert panel.chips_chart.notice() == ""
    # the Forecast's unit is average input + output tokens a day (it said 173 billion, the output
    # tokens a day at the peak rate): 2M/s x (1,024 + 256) / 256 x 86,400 s = 864 billion
    assert (panel.input_spin.value(), panel.output_spin.value()) == (1024, 256)
    assert "864 billion if the peak were the average" in panel.demand_hint.text()
    panel.shutdown()
    store.close()


def test_a_scenario_keeps_its_colour_whichever_others_are_compared():
    saved = ["Story default", "H20 cut off", "Huawei late", "Huawei half"]
    colour = style.scenario_color("Huawei late", saved, "Story default")
    # the colour depends on the saved list, not on which or how many scenarios are ticked now
    assert style.scenario_color("Huawei late", saved, "Story default") == colour
    assert style.scenario_color("Story default", saved, "Story default") == style.OKABE_ITO[0]
    others = {style.scenario_color(n, saved, "Story default") for n in saved[1:]}
    assert len(others) == 3 and style.OKABE_ITO[0] not in others
    assert style.CATEGORY_COLORS["Peak demand"] not in others  # never the demand curve's colour


def test_forecast_colours_come_from_the_palette():
    from engine.forecast import SOURCE_LABELS

    colours = [style.series_color(label) for label in SOURCE_LABELS.values()]
    assert len(set(colours)) == len(colours)
    assert all(label in style.CATEGORY_COLORS for label in SOURCE_LABELS.values())
    assert style.job_color("405B dense") == style.job_color("405B dense")
    assert all(_rgb(style.job_color(f"job {i}")).sum() < 3 * 200 for i in range(20))  # readable on white


def test_installed_by_type_uses_each_chips_own_colour(tmp_path, qtbot):
    from engine.store import open_store
    from gui.panels.forecast import ForecastPanel

    store = open_store(tmp_path / "s.db")
    try:
        panel = ForecastPanel(store)
        qtbot.addWidget(panel)
        panel.auto_check.setChecked(False)
        panel._debounce.stop()
        with qtbot.waitSignal(panel.result_ready, timeout=20000) as blocker:
            panel.run()
        result = blocker.args[0]
        chart = panel.view.installed_chart
        for chip in result.chip_ids:
            item = chart._series[f"{panel.view.chip_name(chip)} P50"].item
            assert item.opts["pen"].color().name().lower() == style.chip_color(chip).lower(), chip
        panel.shutdown()
    finally:
        from PySide6.QtCore import QThreadPool

        QThreadPool.globalInstance().waitForDone(5000)
        store.close()


def test_two_series_of_one_chart_never_share_a_colour(qtbot):
    """A chip without a colour of its own was hashed into the palette: Instinct MI250X drew in
    the H800's vermillion beside it in the Inference view's throughput chart."""
    import numpy as np

    from gui.widgets.plot_panel import PlotPanel

    chart = PlotPanel("t")
    qtbot.addWidget(chart)
    names = ["Ascend 910B2 (TP8)", "H20 (TP8)", "H100 SXM5 80GB (TP4)", "H800 SXM5 80GB (TP4)",
             "Instinct MI250X (TP4)", "Instinct MI300X (TP2)", "Gaudi 2 (TP8)", "A100 SXM4 80GB (TP8)"]
    for i, name in enumerate(names):
        chart.set_series(name, np.arange(3.0), np.arange(3.0) + i)
    colours = [chart.color_for(n).lower() for n in names]
    assert len(set(colours)) == len(names)


def test_scenarios_drawn_together_never_share_a_colour_however_many_are_saved():
    # 14 saved scenarios besides the baseline and 11 colours: the 1st and the 12th had one colour
    saved = ["Story default"] + [f"What-if {k:02d}" for k in range(14)]
    first, twelfth = "What-if 00", "What-if 11"
    assert style.scenario_color(first, saved, "Story default") == style.scenario_color(twelfth, saved, "Story default")
    shown = ["Story default", first, twelfth]
    colours = [style.scenario_color(n, saved, "Story default", shown=shown) for n in shown]
    assert len(set(colours)) == 3
    # the earlier keeps its own colour; the drawn set, not the saved list, moves the later one
    assert colours[1] == style.scenario_color(first, saved, "Story default")
    assert colours[2] == style.SCENARIO_COLORS[1]
    # every colour distinct up to as many scenarios as there are colours
    shown = saved[:1 + len(style.SCENARIO_COLORS)]
    colours = [style.scenario_color(n, saved, "Story default", shown=shown) for n in shown]
    assert len(set(colours)) == len(shown)
    # a scenario with no clash keeps its colour whichever others are drawn
    alone = style.scenario_color("What-if 05", saved, "Story default")
    assert style.scenario_color("What-if 05", saved, "Story default", shown=["What-if 05", first, twelfth]) == alone
