"""Compare (QA s21 K): one scenario that can't be computed no longer fails the whole comparison;
differences Monte Carlo noise may explain are marked; the CSV figures carry 3 significant figures;
a renamed baseline keeps the comparison current; with the baseline deleted the what-ifs are said to
be stored in full."""

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QUndoStack

from engine.store import open_store
from gui.panels.compare import NOISE_MARK, SEED_MARK, ComparePanel, _noise_mark


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "compare.db")
    for name in ("Story default",):
        params = s.scenario(name)["params"]
        params["trials"] = 300
        s.save_scenario(name, params)
    yield s
    s.close()


def _what_if(store, name, edit):
    params = store.scenario("Story default")["params"]
    edit(params)
    store.save_scenario(name, {**params, "name": name})


@pytest.fixture
def panel(store, qtbot):
    p = ComparePanel(store, QUndoStack())
    qtbot.addWidget(p)
    yield p
    p.shutdown()
    QThreadPool.globalInstance().waitForDone(5000)


def _by_label(rows):
    return {row[0]: row for row in rows}


def test_a_scenario_that_cannot_be_computed_is_marked_and_the_others_compared(store, panel, tmp_path):
    """QA: prompts past the model's context window in one ticked what-if failed the whole Compare
    ("The comparison could not run", no columns) and every report and export with it."""
    _what_if(store, "Long prompts", lambda p: p["demand"].update(input_tokens_per_request=300000.0))
    _what_if(store, "All serve", lambda p: p["allocation"]["training_share"].update({"ascend-910b2": 0.0}))
    panel.refresh_scenarios()
    panel.set_selected(["Long prompts", "All serve"])
    panel.compute_now()
    assert panel.compute_error is None   # report and export go through
    headers, rows = panel.tables()["key_figures"]
    assert headers == ["Figure", "Story default (baseline)", "All serve", "All serve − baseline",
                       "Long prompts", "Long prompts − baseline"]
    rows = _by_label(rows)
    why = rows["Could not be computed"][4]
    assert why.startswith("demand.input_tokens_per_request: input 300,000") and "context window" in why
    installed = rows["Installed P50 at horizon end, all types (chips)"]
    assert isinstance(installed[1], (int, float)) and isinstance(installed[2], (int, float))
    assert installed[4:] == ["not computed", ""]
    assert panel.banner.kind == "warning" and "'Long prompts'" in panel.banner.text()
    assert panel.progress_bar.format() == "Done: 2 of 3 scenarios"
    assert set(panel.probability_chart.series_names()) == {"Story default", "All serve"}
    # the chart files list it with the others: they say why it has no line (QA s37: only the
    # key-figures CSV did)
    note = panel.chart_export_context("prob_meet")["Note"]
    assert note.startswith("'Long prompts' is not drawn: demand.input_tokens_per_request: input 300,000")


def test_only_a_comparison_with_nothing_computed_fails(store, panel):
    _what_if(store, "Long prompts", lambda p: p["demand"].update(input_tokens_per_request=300000.0))
    base = store.scenario("Story default")["params"]
    base["demand"]["input_tokens_per_request"] = 300000.0
    store.save_scenario("Story default", base)
    panel.refresh_scenarios()
    panel.set_selected(["Long prompts"])
    panel.compute_now()
    assert panel.compute_error and "context window" in panel.compute_error
    assert panel.banner.kind == "error" and not panel.outcomes


def test_probability_differences_within_monte_carlo_error_are_marked():
    """sqrt(p(1-p)/n) for each run, combined: 96% and 94% at 2,000 trials are 2.9 standard errors
    apart (noise); 96% and 90% are not."""
    p96, p94, p90 = ("p", 0.96, 2000), ("p", 0.94, 2000), ("p", 0.90, 2000)
    assert _noise_mark(p94, p96, -2, "") == NOISE_MARK
    assert _noise_mark(p90, p96, -6, "") == ""
    assert _noise_mark(p94, p96, 0, "") == ""          # nothing to flag
    # a month: the months other seeds may give overlap, or they don't
    assert _noise_mark(("span", 10, 11), ("span", 11, 11), "-1 month", "") == NOISE_MARK
    assert _noise_mark(("span", 3, 3), ("span", 11, 12), "-8 months", "other seed") == ""
    # chip counts: only that the runs differ can be said
    assert _noise_mark(None, None, 782.0, "other seed") == SEED_MARK
    assert _noise_mark(None, None, 782.0, "") == ""


def test_a_seed_only_what_if_reads_as_noise_not_effects(store, panel, tmp_path):
    """QA: a what-if changing only the seed showed "Largest P50 shortfall +136,646 chips" and
    "First month ... -1 month" as effects."""
    _what_if(store, "Other seed", lambda p: p.update(seed=p["seed"] + 1))
    panel.refresh_scenarios()
    panel.set_selected(["Other seed"])
    panel.compute_now()
    headers, rows = panel.figure_rows()
    rows = _by_label(rows)
    assert rows["Monte Carlo runs"][1:] == ["300 trials, seed 2024", "300 trials, seed 2025", "other seed"]
    shortfall = next(row for label, row in rows.items() if label.startswith("Largest P50 shortfall"))
    assert shortfall[3].endswith(f" {SEED_MARK}")
    p12 = rows["P(meet demand) 12 months in (%)"]
    assert p12[3] == 0 or p12[3].endswith(f" {NOISE_MARK}")
    first = rows["First month demand exceeds capacity P50 (date)"]
    assert first[3] == "+0 months" or first[3].endswith(f" {NOISE_MARK}")
    marked = {cell[-1] for row in rows.values() for cell in row[3:4] if isinstance(cell, str) and cell[-2:-1] == " "}
    assert marked == {NOISE_MARK, SEED_MARK}
    for mark in marked:   # each mark used is said in a last row, the CSV's too
        assert any(label.startswith(f"{mark} ") for label in rows)
    out = tmp_path / "k.csv"
    from gui import export as export_mod
    export_mod.export_csv(*panel.tables()["key_figures"], out)
    text = out.read_text()
    assert f"{SEED_MARK} from runs with other seeds or trials" in text


def test_the_csv_carries_three_significant_figures_and_the_windows_probabilities(store, panel):
    """QA: compare_key_figures.csv read "61652.59624" chips and a difference of "543.382251"."""
    _what_if(store, "Huawei late", lambda p: p["vendor_uncertainty"]["Huawei"].update(extra_delay_days=182.0))
    panel.refresh_scenarios()
    panel.set_selected(["Huawei late"])
    panel.compute_now()
    _, shown = panel.figure_rows()
    _, filed = panel.tables()["key_figures"]
    for screen_row, file_row in zip(shown, filed):
        for on_screen, in_file in zip(screen_row[1:], file_row[1:]):
            if isinstance(in_file, float) and in_file:
                assert len(f"{abs(in_file):.15g}".replace(".", "").strip("0")) <= 3, (file_row[0], in_file)
            if isinstance(on_screen, int):   # probabilities (whole percent) and counts as shown
                assert in_file == on_screen
    installed = _by_label(filed)["Installed P50 at horizon end, all types (chips)"]
    assert all(isinstance(v, int) and len(str(abs(v)).rstrip("0")) <= 3 for v in installed[1:] if v), installed


def test_renaming_the_baseline_keeps_the_comparison_and_deleting_it_says_stored_in_full(store, qtbot):
    """QA (gui5.py): renaming the baseline alone greyed the comparison ("Inputs changed: Compare
    again"); with the baseline deleted every column read "none (or stored in full)"."""
    from gui.scenarios import DeleteScenarioCommand, RenameScenarioCommand

    _what_if(store, "Huawei late", lambda p: p["vendor_uncertainty"]["Huawei"].update(extra_delay_days=182.0))
    _what_if(store, "All serve", lambda p: p["allocation"]["training_share"].update({"ascend-910b2": 0.0}))
    stack = QUndoStack()
    p = ComparePanel(store, stack)
    qtbot.addWidget(p)
    try:
        p.set_selected(["Huawei late", "All serve"])
        p.compute_now()
        stack.push(RenameScenarioCommand(store, "Story default", "Base v2"))
        assert p.check_current() and p.progress_bar.format() == "Done: 3 scenarios"
        headers, rows = p.figure_rows()   # the columns took the new name, without comparing again
        assert headers[1] == "Base v2 (baseline)" and "Huawei extra delay 0 days → 182 days" in rows[0][4]
        stack.push(DeleteScenarioCommand(store, "Base v2"))
        p.compute_now()
        headers, rows = p.figure_rows()
        assert headers == ["Figure", "All serve", "Huawei late"]
        assert rows[0] == ["Changes from the baseline"] + ["stored in full (no baseline)"] * 2
        # a what-if no different from its baseline says "none"
        stack.undo()
        store.save_scenario("Same", {**store.scenario("Base v2")["params"], "name": "Same"})
        p.refresh_scenarios()
        p.set_selected(["Same"])
        p.compute_now()
        assert _by_label(p.figure_rows()[1])["Changes from the baseline"][2] == "none"
    finally:
        p.shutdown()
        QThreadPool.globalInstance().waitForDone(5000)
