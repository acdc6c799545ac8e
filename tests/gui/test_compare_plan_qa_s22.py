"""QA s22 (G2): the Compare CSV's differences agree with the values it files (the figures' own difference at the cells' place, 0 where they read alike); the Plan headline
says the cost expected to be delivered; long chip and scenario names are elided in legends, the
hover readout and the Compare table (full in tooltips), which keeps every column on a 1280x720
screen."""

import math

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QUndoStack

from engine.commands.plan import expected_delivered_cost
from engine.forecast_plan import usd_text
from gui.panels.compare import ComparePanel
from gui.widgets.plot_panel import NAME_CHARS, PlotPanel

LONG_CHIP = "H100 clone " + "Ω" * 150
LONG_SCENARIO = "L" * 200


def _trials(store, trials=300):
    params = store.scenario("Story default")["params"]
    params["trials"] = trials
    store.save_scenario("Story default", params)
    return params


def _long_chip_ordered(store) -> None:
    """The QA's chip: the H100 under another id and a 161-character name, one order of it."""
    row = dict(next(r for r in store.chip_rows() if r["id"].startswith("h100")))
    store.add_chip({**row, "id": "h100.v2", "name": LONG_CHIP})
    order = {k: v for k, v in store.order_rows()[0].items() if k != "id"}
    store.add_order({**order, "chip_id": "h100.v2"})


@pytest.fixture
def compare(store, qtbot):
    panel = ComparePanel(store, QUndoStack())
    qtbot.addWidget(panel)
    yield panel
    panel.shutdown()
    QThreadPool.globalInstance().waitForDone(5000)


def test_the_csv_differences_are_those_of_the_values_it_files(store, compare):
    """QA: compare_key_figures.csv read 62200 vs 61700 with a difference of 543 (and 2280000 vs
    2280000 with -496): the values were rounded to 3 significant figures, the difference not."""
    params = _trials(store)
    params["vendor_uncertainty"]["Huawei"]["extra_delay_days"] = 182.0
    store.save_scenario("Huawei late", {**params, "name": "Huawei late", "seed": 7})
    compare.refresh_scenarios()
    compare.set_selected(["Huawei late"])
    compare.compute_now()
    headers, rows = compare.tables()["key_figures"]
    assert headers == ["Figure", "Story default (baseline)", "Huawei late", "Huawei late − baseline"]
    checked = 0
    for label, base, value, difference in rows:
        if isinstance(difference, str):   # a mark after it ("1000 *")
            difference = difference.split(" ")[0]
            try:
                difference = float(difference)
            except ValueError:
                continue   # dates ("+1 month"), text
        if isinstance(value, (int, float)) and isinstance(base, (int, float)) and not isinstance(value, bool):
            # the figures' own difference at the last place both cells keep (3 significant
            # figures): within one such place of the cells' difference, and 0 where they read alike
            place = 10 ** max(math.floor(math.log10(abs(v))) - 2 for v in (value, base) if v) if value or base else 1
            expected = 0 if value == base else pytest.approx(value - base, abs=place)
            assert difference == expected, (label, value, base, difference)
            checked += 1
    assert checked >= 5
    # the window keeps its whole numbers and their own differences (unrounded)
    _, shown = compare.figure_rows()
    installed = next(r for r in shown if r[0] == "Installed P50 at horizon end, all types (chips)")
    difference = installed[3] if isinstance(installed[3], float) else float(installed[3].split(" ")[0].replace(",", ""))
    assert difference == pytest.approx(installed[2] - installed[1], abs=0.5)
    assert installed[1] != round(installed[1], -3)   # (its file value is rounded: the test means something)


def test_the_plan_headline_says_the_cost_expected_to_be_delivered(plan_panel):
    """QA: `plan` and the report say "total $732M ...; $582M of it expected to be delivered"; the
    window's headline left the delivered cost out."""
    plan_panel.compute_now()
    r = plan_panel.result
    assert r is not None and r.feasible, r.why if r else None
    paid = expected_delivered_cost(r)
    # the Story's Huawei delivers part of what is ordered (else nothing is said, as in `plan`)
    assert paid is not None and paid < 0.99 * r.total_cost_usd
    summary = plan_panel.summary_label.text()
    assert f"{usd_text(r.total_cost_usd)}</b> ({usd_text(paid)} of it expected to be delivered: " in summary
    assert "what a contract that pays on delivery pays" in summary


def test_a_legend_elides_a_long_name_and_keeps_it_whole_in_its_tooltip(qtbot):
    chart = PlotPanel("Installed", y_label="Installed", y_unit="chips", time_axis=True)
    qtbot.addWidget(chart)
    chart.resize(600, 400)
    x = [0.0, 1.0]
    chart.set_series("H20", x, [1.0, 2.0])
    chart.set_series(LONG_CHIP, x, [2.0, 3.0])
    chart.set_band(LONG_SCENARIO + ": P10–P90", x, [0.0, 1.0], [3.0, 4.0])
    assert chart.legend_names() == ["H20", LONG_CHIP, LONG_SCENARIO + ": P10–P90"]   # full names
    texts = [label.text for _sample, label in chart.legend.items]
    assert texts[0] == "H20"
    assert all(len(t) <= NAME_CHARS for t in texts) and texts[1].startswith("H100 clone Ω") and "…" in texts[1]
    assert texts[2].endswith(": P10–P90")   # the end kept: what the entry is of
    assert [label.toolTip() for _sample, label in chart.legend.items][1:] == chart.legend_names()[1:]
    assert len(chart.readout_text((LONG_CHIP, 0.0, 2.0)).split(" · ")[0]) <= NAME_CHARS
    chart.remove_series(LONG_CHIP)   # removed by its full name
    chart.remove_series(LONG_SCENARIO + ": P10–P90")
    assert chart.legend_names() == ["H20"] and len(chart.legend.items) == 1


def test_long_names_keep_the_compare_table_and_the_legends_readable_at_1280(store, compare, qtbot):
    """QA: a 161-character chip name and a 200-character scenario name left the Compare table one
    "Figure" column wide (the scenarios pushed off-screen) and the Fleet legend one clipped line."""
    from gui.panels.fleet import FleetPanel

    _long_chip_ordered(store)
    params = _trials(store)
    store.save_scenario(LONG_SCENARIO, {**params, "name": LONG_SCENARIO, "seed": 7})
    compare.refresh_scenarios()
    compare.resize(1280, 720)
    compare.show()
    compare.set_selected([LONG_SCENARIO])
    compare.compute_now()
    qtbot.waitUntil(lambda: compare.figures_table.isVisible())
    table = compare.figures_table
    labels = [table.item(i, 0).text() for i in range(table.rowCount())]
    long_label = next(t for t in labels if t.startswith("Installed P50 at horizon end, H100 clone"))
    assert "…" in long_label and long_label.endswith(" (chips)") and len(long_label) <= 72
    assert "Installed P50 at horizon end, H800 SXM5 80GB (chips)" in labels   # short ones whole
    full = next(table.item(i, 0).toolTip() for i in range(table.rowCount()) if table.item(i, 0).text() == long_label)
    assert LONG_CHIP in full
    for k in range(1, table.columnCount()):
        header = table.horizontalHeaderItem(k)
        assert len(header.text().splitlines()) <= 4, header.text()
    assert table.horizontalHeaderItem(2).toolTip() == LONG_SCENARIO
    # every column on screen: no sideways scrolling
    assert table.horizontalScrollBar().maximum() == 0
    assert sum(table.columnWidth(k) for k in range(table.columnCount())) <= table.viewport().width()
    for chart in compare.charts().values():
        assert all(len(label.text) <= NAME_CHARS for _sample, label in chart.legend.items)
        assert chart.legend.boundingRect().width() <= chart.plot_widget.width()

    stack = QUndoStack()
    fleet = FleetPanel(store, stack)
    qtbot.addWidget(fleet)
    try:
        fleet.resize(1280, 720)
        fleet.show()
        fleet.refresh()
        names = fleet.chart.legend_names()
        assert LONG_CHIP in names and len(names) >= 4
        assert fleet.chart.legend.isVisible()
        assert fleet.chart.legend.boundingRect().width() <= fleet.chart.plot_widget.width()
        fleet.chart.export_png(store.path.parent / "fleet.png")   # the file's legend is the same widget's
        assert all(len(label.text) <= NAME_CHARS for _sample, label in fleet.chart.legend.items)
    finally:
        fleet.detach()
