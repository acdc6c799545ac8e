"""QA s28 (keyboard-first tester): Compare with one scenario, a narrow date axis, redo of New and
Duplicate, the words of table edits on the undo stack, chart titles at 1280x720, "1 way"."""

import datetime as dt

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QUndoStack
from PySide6.QtWidgets import QApplication

from engine.store import open_store
from gui.scenarios import DEFAULT_NAME, ScenarioBar
from tests.gui.shared_setups import story_default_alone

_BARS = []


@pytest.fixture
def one_store(tmp_path):
    """The story's default scenario alone."""
    s = story_default_alone(tmp_path / "one.db")
    yield s
    while _BARS:
        _BARS.pop().detach()
    s.close()


# ---- 1. Compare with only the baseline ------------------------------------------------------------

def test_compare_with_one_scenario_says_so_on_its_table_and_charts(one_store, qtbot, qsettings_isolated):
    from gui.panels.compare import ComparePanel
    from gui.panels.compare_text import ONE_SCENARIO_TEXT, TICK_TEXT

    panel = ComparePanel(one_store, QUndoStack())
    qtbot.addWidget(panel)
    assert panel.figures_table.rowCount() == 0
    assert panel.figures_table.placeholder == ONE_SCENARIO_TEXT
    for chart in panel.charts().values():   # no bare 0-1 axes ("00.250", "0.8 chips")
        assert chart.notice() == ONE_SCENARIO_TEXT and not chart.axis_values_shown()
    panel.compute_now()   # (Ctrl+Enter): nothing to tick, so no "Tick the scenarios…"
    assert "Tick" not in panel.banner.text() and ONE_SCENARIO_TEXT in panel.banner.text()
    # a second scenario, not ticked: now there is something to tick
    one_store.save_scenario("Q3 what-if", dict(one_store.scenario(DEFAULT_NAME)["params"], name="Q3 what-if"))
    panel.refresh_scenarios()
    panel.set_selected([])
    assert panel.figures_table.placeholder == TICK_TEXT
    assert all(chart.notice() == TICK_TEXT for chart in panel.charts().values())
    panel.shutdown()


# ---- 2. a narrow date axis labels every year ------------------------------------------------------

def test_a_five_year_date_axis_at_about_40_px_a_year_labels_every_year(qtbot):
    """5.7 years over 224 px (39.4 px a year): pyqtgraph sized a year's label by "YYYY" plus 10 px,
    then jumped from every year to every 5th: "2025" alone and no yearly grid."""
    from gui.widgets.plot_axes import YEAR_GAP_PX, DateAxisItem, to_timestamps

    axis = DateAxisItem(orientation="bottom", utcOffset=0)
    axis.fontMetrics = QFontMetrics(QFont())   # (as drawing sets it: the painter's)
    lo, hi = to_timestamps([dt.date(2024, 4, 20), dt.date(2029, 12, 31)])
    years = (hi - lo) / (365 * 86400)
    label_px = axis.fontMetrics.boundingRect("2026").width()
    size_px = years * (label_px + YEAR_GAP_PX + 1)    # a whole label and its gap fit each year
    levels = axis.tickValues(lo, hi, size_px)
    spacing, ticks = levels[0]
    shown = [dt.datetime.fromtimestamp(t, dt.timezone.utc).year for t in ticks]
    assert shown == [2025, 2026, 2027, 2028, 2029], shown
    # narrower, every second year rather than every fifth
    levels = axis.tickValues(lo, hi, years * (label_px + YEAR_GAP_PX) / 1.6)
    shown = [dt.datetime.fromtimestamp(t, dt.timezone.utc).year for t in levels[0][1]]
    assert shown == [2026, 2028], shown


# ---- 3. redo of New and Duplicate ------------------------------------------------------------------

def _bar(store, qtbot):
    stack = QUndoStack()
    bar = ScenarioBar(store, stack)
    bar._test_stack = stack
    qtbot.addWidget(bar)
    _BARS.append(bar)
    return bar


def test_redo_of_new_and_duplicate_makes_the_scenario_current_again(one_store, qtbot, qsettings_isolated):
    bar = _bar(one_store, qtbot)
    stack = bar.undo_stack
    assert bar.new_scenario("Other")
    assert bar.new_scenario("Q3 what-if") and bar.current_name() == "Q3 what-if"
    stack.undo()
    assert bar.current_name() == "Other"    # back where New was pressed, not on the default
    stack.redo()
    assert bar.current_name() == "Q3 what-if" and "Q3 what-if" in bar.names()
    assert bar.combo.currentText() == "Q3 what-if"
    stack.undo()
    assert bar.current_name() == "Other"
    stack.redo()
    assert bar.duplicate_current("Copy") and bar.current_name() == "Copy"
    stack.undo()
    assert bar.current_name() == "Q3 what-if"
    stack.redo()
    assert bar.current_name() == "Copy"
    assert bar.rename_current("Copy 2")   # acts on the copy redone, not on the scenario before it
    assert "Copy 2" in bar.names() and "Q3 what-if" in bar.names()


def test_redo_of_new_is_still_refused_when_another_program_took_the_name(one_store, qtbot, qsettings_isolated, tmp_path):
    bar = _bar(one_store, qtbot)
    stack = bar.undo_stack
    assert bar.new_scenario("Plan B")
    stack.undo()
    other = open_store(tmp_path / "one.db")
    other.save_scenario("Plan B", dict(other.scenario(DEFAULT_NAME)["params"], name="Plan B", months=12))
    other.close()
    stack.redo()
    assert one_store.scenario("Plan B")["params"]["months"] == 12   # the other program's stays
    assert bar.current_name() == DEFAULT_NAME   # the refused redo shows nothing new


# ---- 4. the words of table edits -------------------------------------------------------------------

def test_table_edits_name_what_they_did(window, qtbot):
    from gui.panels.forecast_editors import PolicyEventsEditor, TrainingJobsEditor
    from gui.panels.forecast_points import DemandPointsEditor

    panel = window.panel("forecast")
    panel.auto_check.setChecked(False)
    stack = window.undo_stack
    points = panel.findChild(DemandPointsEditor)

    def step(action, expected):
        action()
        qtbot.waitUntil(lambda: stack.undoText() == f"{expected} (Forecast)", timeout=3000)

    step(points.add_row, "Add demand point")
    day = points.table.item(1, 0).text()
    step(lambda: points.table.item(1, 1).setText("99000"), f"Edit demand point {day} Tokens per day → 99,000")
    assert points.points()[1].tokens_per_day == 99000e9
    step(lambda: (points.table.selectRow(0), points.remove_row()),
         f"Remove demand point {points.table.item(0, 0).text()}")
    jobs = panel.findChild(TrainingJobsEditor)
    step(jobs.add_row, "Add training job")
    name = jobs.table.item(jobs.table.rowCount() - 1, 0).text()
    step(lambda: (jobs.table.selectRow(jobs.table.rowCount() - 1), jobs.remove_row()), f"Remove training job {name}")
    cutoffs = panel.findChild(PolicyEventsEditor)
    if cutoffs.table.rowCount():
        chip = cutoffs.table.item(0, 0).text()
        step(lambda: cutoffs.table.item(0, 1).setText("40"), f"Edit export cut-off {chip} Probability → 40")
    stack.undo()
    assert stack.redoText().startswith("Edit export cut-off") or stack.redoText().startswith("Remove training job")
    panel.months_spin.setValue(panel.months_spin.value() + 1)   # a form field keeps the form's words
    qtbot.waitUntil(lambda: stack.undoText() == "Edit Forecast: Horizon", timeout=3000)


def test_a_keyed_table_edit_names_its_row_and_column(plan_panel):
    """The Plan's candidates ({chip: changes from the defaults}) named as the table shows them."""
    from gui.widgets.form_undo import keyed_rows_step

    table = plan_panel.cand_table
    keys = [c.chip_id for c in plan_panel._candidates]
    columns = {"use": 0, "unit_price_usd": 2, "lead_time_months": 3, "max_per_quarter": 4}
    r = keys.index("h20-96gb")
    old = plan_panel.study().candidates
    table.item(r, 4).setText("99000")
    new = plan_panel.study().candidates
    name = table.item(r, 1).text()
    assert keyed_rows_step(table, keys, columns, old, new) == f"Edit {name} Most per quarter → {table.item(r, 4).text()}"
    table.item(r, 0).setCheckState(Qt.CheckState.Unchecked)
    assert keyed_rows_step(table, keys, columns, new, plan_panel.study().candidates) == f"Edit {name} Use → off"
    assert keyed_rows_step(table, keys, columns, old, plan_panel.study().candidates) == ""   # two cells


# ---- 5. chart titles keep their subject ------------------------------------------------------------

def _one_line_px(text: str, pt: float) -> float:
    import pyqtgraph as pg

    probe = pg.LabelItem()
    probe.setText(text, size=f"{pt:g}pt")
    return probe.item.boundingRect().width()


def test_a_title_with_its_unit_goes_on_two_lines_before_its_subject_is_cut(qtbot):
    from gui.widgets.plot_panel import PlotPanel

    title, suffix = "Serving capacity vs peak demand", " (Ascend 910B2 chips)"
    chart = PlotPanel(title, y_label="Capacity", y_unit="chips", time_axis=True)
    qtbot.addWidget(chart)
    chart.resize(420, 260)
    chart.show()
    QApplication.processEvents()
    room = (_one_line_px(title, 9) + _one_line_px(title + suffix, 9)) / 2   # the title fits, not with its unit
    chart._fit_title(room, suffix)
    label = chart.plot_item.titleLabel
    assert label.text == f"{title}<br>{suffix.strip()}", label.text
    assert label.item.boundingRect().width() <= room
    # both lines inside PlotItem's 30 px title row (and an export's, which fixes it at 30 px again)
    assert chart.plot_item.layout.rowMinimumHeight(0) == 30 and label.item.boundingRect().height() <= 30
    chart._fit_title(1000, suffix)   # room again: one line, its usual margin
    assert "<br>" not in label.text and label.item.document().documentMargin() == 4


def test_a_long_title_without_a_unit_splits_between_words_before_it_is_cut(qtbot):
    from gui.widgets.plot_panel import PlotPanel

    title = "Probability of meeting peak demand"
    chart = PlotPanel(title, y_label="Probability", y_unit="%", time_axis=True)
    qtbot.addWidget(chart)
    chart.show()
    QApplication.processEvents()
    chart._fit_title(_one_line_px(title, 9) - 20)
    text = chart.plot_item.titleLabel.text
    assert text == "Probability of<br>meeting peak demand", text   # halves of about equal length
    assert chart._shown_title == title and chart.plot_widget.toolTip() == ""


# ---- 6. "1 way" ---------------------------------------------------------------------------------------

def test_layout_combos_say_one_way_not_one_ways(inference_panel):
    texts = [inference_panel.tp_combo.itemText(i) for i in range(inference_panel.tp_combo.count())]
    assert "1 way" in texts and "8 ways" in texts and "1 ways" not in texts


def test_a_cleared_text_cell_is_not_named_off(qtbot):
    """QA s28: clearing a Note or Most-per-quarter cell gave the undo step "→ off"."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTableWidgetItem

    from gui.widgets.form_undo import cell_words

    text = QTableWidgetItem("")
    assert cell_words(text) == ""
    box = QTableWidgetItem()
    box.setCheckState(Qt.CheckState.Unchecked)
    assert cell_words(box) == "off"
    box.setCheckState(Qt.CheckState.Checked)
    assert cell_words(box) == "on"
