"""Edits never change or vanish silently: the wheel leaves unfocused fields alone, every form
edit is undoable and marks the scenario modified, and switching or quitting asks first."""

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QSpinBox

from engine.store import open_store
from gui.app import MainWindow
from gui.widgets.wheel_guard import install_wheel_guard


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "edits.db")
    yield s
    s.close()


@pytest.fixture
def window(store, qtbot, qsettings_isolated, monkeypatch):
    w = MainWindow(store)
    qtbot.addWidget(w)
    yield w
    w.fleet_panel.detach()
    _forget_window_settings()


def _wheel(widget, steps: int = 1) -> None:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_wheel_changes_only_a_focused_spin_box(qtbot):
    install_wheel_guard(QApplication.instance())
    box = QSpinBox()
    box.setRange(0, 100)
    box.setValue(50)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    box.clearFocus()
    _wheel(box)
    assert box.value() == 50  # unfocused: the wheel passes by
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    _wheel(box)
    assert box.value() == 51


def test_training_edit_is_undoable_and_marks_the_scenario_modified(window, qtbot):
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    assert not window.isWindowModified()
    before = panel.count_spin.value()
    depth = window.undo_stack.count()
    panel.count_spin.setValue(before + 8)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.isWindowModified()
    assert "[*]" in window.windowTitle()  # Qt shows the marker as '*'
    assert window.undo_stack.text(depth) == "Edit Training: Chip count"   # the form's label, not "num chips"
    window.undo_stack.undo()
    assert panel.count_spin.value() == before
    assert not window.isWindowModified()
    window.undo_stack.redo()
    assert panel.count_spin.value() == before + 8
    assert window.isWindowModified()


def test_typing_a_number_merges_into_one_command(window, qtbot):
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    depth = window.undo_stack.count()
    assert panel.count_spin.value() != 2048   # (typed back to the start, the step would drop out)
    for value in (2, 20, 204, 2048):
        panel.count_spin.setValue(value)
        QApplication.processEvents()
    assert window.undo_stack.count() == depth + 1


def test_undo_from_another_area_brings_the_edit_forward_and_says_what(window, qtbot):
    """Ctrl+Z on the Fleet area undid a Training edit out of sight, without a word."""
    window.tabs.setCurrentIndex(window.tab_of(window.panel("training")))
    panel = window.panels["training"]
    before = panel.count_spin.value()
    panel.count_spin.setValue(before + 8)
    qtbot.waitUntil(window.isWindowModified)
    window.tabs.setCurrentIndex(window.tab_of(window.fleet_panel))
    assert window.tabs.currentIndex() != window.tab_of(panel)
    window.undo_action.trigger()
    assert panel.count_spin.value() == before
    assert window.tabs.currentIndex() == window.tab_of(panel)
    assert window.statusBar().currentMessage() == "Undid: Edit Training: Chip count"
    window.redo_action.trigger()
    assert panel.count_spin.value() == before + 8
    assert window.statusBar().currentMessage() == "Redid: Edit Training: Chip count"


def test_typing_back_to_the_start_leaves_no_step_that_undoes_nothing(window, qtbot):
    """Confidence 90 -> 80 -> 90 within the merge window left "Undo Edit Plan: confidence",
    whose undo changed nothing and used up the step."""
    window.tabs.setCurrentIndex(window.tab_of(window.panel("plan")))
    panel = window.panels["plan"]
    depth = window.undo_stack.count()
    start = panel.confidence.value()
    panel.confidence.setValue(start - 10)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.undo_stack.text(depth) == "Edit Plan: Confidence"
    panel.confidence.setValue(start)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth)
    assert not window.isWindowModified()


def test_a_nested_edit_is_named_by_its_field(window, qtbot):
    """The Forecast's demand is one input holding many fields: its undo step names the field."""
    window.tabs.setCurrentIndex(window.tab_of(window.panel("forecast")))
    panel = window.panels["forecast"]
    depth = window.undo_stack.count()
    panel.peak_spin.setValue(panel.peak_spin.value() + 0.5)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.undo_stack.text(depth) == "Edit Forecast: demand peak/average"


def _edit_training(window, qtbot):
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    panel.count_spin.setValue(panel.count_spin.value() + 8)
    qtbot.waitUntil(window.isWindowModified)
    return panel


def _answer(monkeypatch, button):
    asked = []

    def question(*args, **kwargs):
        asked.append(args[2] if len(args) > 2 else "")
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_switching_with_unsaved_edits_cancel_keeps_them(window, store, qtbot, monkeypatch):
    panel = _edit_training(window, qtbot)
    edited = panel.count_spin.value()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    assert not window.scenario_bar.select("Huawei delivers half")
    assert len(asked) == 1 and "Story default" in asked[0]
    assert window.scenario_bar.current_name() == "Story default"
    assert panel.count_spin.value() == edited and window.isWindowModified()


def test_switching_with_unsaved_edits_discard_and_save(window, store, qtbot, monkeypatch):
    panel = _edit_training(window, qtbot)
    edited = panel.count_spin.value()
    _answer(monkeypatch, QMessageBox.StandardButton.Save)
    assert window.scenario_bar.select("Huawei delivers half")
    assert store.scenario("Story default")["params"]["ui"]["training"]["num_chips"] == edited
    assert not window.isWindowModified()
    _edit_training(window, qtbot)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    assert window.scenario_bar.select("Story default")
    assert len(asked) == 1
    assert panel.count_spin.value() == edited  # the saved value, not the discarded edit
    assert not window.isWindowModified()


def test_quitting_with_unsaved_edits_asks(window, qtbot, monkeypatch):
    window.show()
    _edit_training(window, qtbot)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.close()
    assert asked and window.isVisible()  # Cancel: the window stays with its edits
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    window.close()
    assert asked and not window.isVisible()


def test_no_question_without_edits(window, qtbot):
    window.tabs.setCurrentIndex(1)
    assert window.scenario_bar.select("Huawei delivers half")  # a question would fail the test
    assert not window.isWindowModified()


def test_stale_results_are_greyed_while_inputs_are_invalid(store, qtbot):
    from gui.panels.base import STALE_MESSAGE, is_stale, stale_veil_shown
    from gui.panels.training import TrainingPanel

    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    panel._evaluate()
    assert not any(is_stale(w) for w in panel.result_widgets())
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("fixed"))
    panel.tp_spin.setValue(3)  # 3 divides neither 1,024 chips nor 64 heads
    panel._evaluate()
    assert panel.banner.text().endswith(STALE_MESSAGE)   # after the first field's problem
    assert all(is_stale(w) for w in panel.result_widgets())
    assert stale_veil_shown(panel.step_chart)          # the pale layer is on the chart itself
    panel.tp_spin.setValue(8)
    panel._evaluate()
    assert not any(is_stale(w) for w in panel.result_widgets())
    assert not stale_veil_shown(panel.step_chart)
    assert panel.banner.text() == ""
    panel.shutdown()


def test_help_quick_start_and_glossary(window, qtbot):
    from PySide6.QtWidgets import QTextBrowser

    items = [a.text() for a in window.help_menu.actions() if a.text()]
    assert items[:2] == ["&Quick start", "&Glossary"]
    window.glossary_action.trigger()
    dialog = window._help_dialogs["glossary"]
    text = dialog.findChild(QTextBrowser, "helpText").toPlainText()
    for term in ("P50", "910B-equivalents", "MFU", "TTFT", "TPOT", "Goodput"):
        assert term in text
    assert len(text.split()) < 500  # two minutes of reading
    window.quick_start_action.trigger()
    quick = window._help_dialogs["quick_start"].findChild(QTextBrowser, "helpText").toPlainText()
    assert "Scenarios" in quick and "fleetcast export" in quick
    for d in window._help_dialogs.values():
        d.close()


def _forget_window_settings():
    """The window saves its tab and scenario on close; the next test must not inherit them."""
    from gui.settings import settings

    for group in ("window", "scenarios", "fleet"):
        settings().remove(group)


def test_visiting_every_area_is_not_an_edit_but_a_forecast_edit_is(window, qtbot):
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        QApplication.processEvents()
    assert not window.isWindowModified()
    forecast = window.panels["forecast"]
    depth = window.undo_stack.count()
    forecast.months_spin.setValue(forecast.months_spin.value() + 12)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.isWindowModified() and "Forecast" in window.undo_stack.text(depth)
    window.undo_stack.undo()
    assert not window.isWindowModified()
    for panel in window.panels.values():
        panel.shutdown()


# ---- edits that were lost silently (a QA pass: table cells, rebuilt fields, switches) ----------

def _shutdown(window):
    for panel in window.panels.values():
        panel.shutdown()


def test_table_cells_and_rows_are_undoable_edits_that_ask_before_quitting(window, qtbot, monkeypatch):
    """A demand point typed into the Forecast table, a row added, and a Plan candidate's price were
    on screen and in `scenario_state()` but never on the undo stack: quitting asked nothing and the
    edit was gone on reopening."""
    window.tabs.setCurrentIndex(3)
    points = window.panels["forecast"].points_editor
    depth = window.undo_stack.count()
    before = points.table.item(0, 1).text()
    points.table.item(0, 1).setText("999")
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.isWindowModified() and "Forecast" in window.undo_stack.text(depth)
    window.undo_stack.undo()
    assert points.table.item(0, 1).text() == before and not window.isWindowModified()
    rows, at = points.table.rowCount(), window.undo_stack.index()
    points.add_row()
    qtbot.waitUntil(lambda: window.undo_stack.index() == at + 1)
    assert points.table.rowCount() == rows + 1
    window.undo_stack.undo()
    assert points.table.rowCount() == rows
    window.tabs.setCurrentIndex(4)
    plan = window.panels["plan"]
    at = window.undo_stack.index()
    plan.cand_table.item(0, 2).setText("12,345")
    qtbot.waitUntil(lambda: window.undo_stack.index() == at + 1)
    assert "Plan" in window.undo_stack.text(at)
    window.show()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.close()
    assert asked and window.isVisible()                    # Cancel: the edit stays, so does the window
    assert plan.cand_table.item(0, 2).text() == "12,345"
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)
    window.close()


def test_fields_rebuilt_by_a_scenario_switch_are_still_edits(window, qtbot):
    """The Forecast's per-chip training shares are made anew on every load: after a switch, a
    changed share was neither undoable nor asked about."""
    window.tabs.setCurrentIndex(3)
    forecast = window.panels["forecast"]
    assert window.scenario_bar.select("Huawei delivers half")
    spin = next(iter(forecast._share_spins.values()))
    depth = window.undo_stack.count()
    spin.setValue(spin.value() + 5)
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 1)
    assert window.isWindowModified()
    _shutdown(window)


def test_undo_after_a_switch_never_writes_one_scenarios_inputs_into_another(window, store, qtbot, monkeypatch):
    """Ctrl+Z after switching applied the previous scenario's form snapshot to the current one,
    and a Save then stored it there."""
    panel = _edit_training(window, qtbot)                   # an edit in Story default...
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    assert window.scenario_bar.select("Huawei delivers half")   # ...discarded by the switch
    shown = panel.count_spin.value()
    depth = window.undo_stack.count()
    # the Edit menu says so before Ctrl+Z (it offered the step as if it would act)
    assert window.undo_action.text() == "&Undo Edit Training: Chip count (another scenario's: skipped)"
    window.undo_stack.undo()                                # that edit's step is skipped and dropped
    assert panel.count_spin.value() == shown and not window.isWindowModified()
    assert window.undo_stack.count() == depth - 1
    assert "another scenario" in window.statusBar().currentMessage()
    _shutdown(window)


def test_a_scenario_that_saved_no_view_inputs_shows_the_views_defaults(window, store, qtbot, monkeypatch):
    """The seeded Story default saves no Training inputs: after a what-if's were saved and shown,
    switching back showed the what-if's fields, unmarked, and a Save wrote them into it."""
    assert "training" not in (store.scenario("Story default")["params"].get("ui") or {})
    assert window.scenario_bar.select("Huawei delivers half")
    panel = _edit_training(window, qtbot)
    default = panel.count_spin.value() - 8
    _answer(monkeypatch, QMessageBox.StandardButton.Save)
    assert window.scenario_bar.select("Story default")
    assert panel.count_spin.value() == default and not window.isWindowModified()
    _shutdown(window)


def test_a_saved_forecast_the_form_cannot_run_reopens_as_saved_and_a_save_keeps_it(store, qtbot, qsettings_isolated):
    """A logistic curve without a ceiling was saved, reopened as the defaults (60 months,
    piecewise), and the next Save of any view stored those defaults over it."""
    params = store.scenario("Story default")["params"]
    params = {**params, "months": 96, "demand": {**params["demand"], "kind": "logistic",
                                                   "ceiling_tokens_per_day": None}}
    store.save_scenario("Story default", params)
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.tabs.setCurrentIndex(3)
    forecast = w.panels["forecast"]
    assert forecast.months_spin.value() == 96 and forecast.curve_kind.currentData() == "logistic"
    assert not w.isWindowModified()
    w.tabs.setCurrentIndex(1)
    w.panels["training"].count_spin.setValue(2048)
    qtbot.waitUntil(w.isWindowModified)
    assert w.scenario_bar.save_current()
    saved = store.scenario("Story default")["params"]
    assert saved["months"] == 96 and saved["demand"]["kind"] == "logistic"
    _shutdown(w)
    w.fleet_panel.detach()
    _forget_window_settings()


def test_a_forecast_saved_by_a_newer_version_is_kept_by_a_save(store, qtbot, qsettings_isolated):
    params = {**store.scenario("Story default")["params"], "version": 99, "months": 96}
    store.save_scenario("Story default", params)
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.tabs.setCurrentIndex(3)
    assert "newer" in w.panels["forecast"].banner.text().lower()
    assert w.scenario_bar.save_current()
    kept = store.scenario("Story default")["params"]
    assert (kept["version"], kept["months"]) == (99, 96)                 # not the form's defaults
    _shutdown(w)
    w.fleet_panel.detach()
    _forget_window_settings()


def test_open_database_cancel_opens_nothing(window, tmp_path, qtbot, monkeypatch):
    window.show()
    _edit_training(window, qtbot)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    other = tmp_path / "other.db"
    assert window.switch_database(create=True, path=str(other)) is None
    assert asked and window.isVisible() and not other.exists()
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)
    window.close()


def test_a_cell_being_typed_into_is_committed_before_quitting(window, store, qtbot, monkeypatch):
    from PySide6.QtWidgets import QLineEdit

    window.show()
    qtbot.waitExposed(window)
    fleet = window.fleet_panel
    view = fleet.orders_table.view
    index = view.model().index(0, fleet.order_model.column_of("buyer"))
    view.setCurrentIndex(index)
    view.edit(index)
    QApplication.processEvents()
    editor = next(e for e in view.viewport().findChildren(QLineEdit) if e.isVisible())
    editor.setFocus()
    editor.setText("Typed, no Enter")
    window.commit_pending_edits()       # what closing and File > Open do before asking anything
    assert "Typed, no Enter" in {o.buyer for o in store.orders()}
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)
    window.close()


def test_undoing_an_import_keeps_what_another_program_wrote_since(window, store, tmp_path, qtbot):
    """Undo restored whole tables: an order the CLI added after the window's import was deleted."""
    header = "buyer,vendor,chip_id,quantity,order_date\n"
    (tmp_path / "mine.csv").write_text(header + "Imported,NVIDIA,h100-sxm5-80gb,10,2025-01-01\n")
    assert window.import_csv("orders", str(tmp_path / "mine.csv")) == 1
    assert "Ctrl+Z undoes the import" in window.fleet_panel.banner.text()
    other = open_store(store.path)                       # the CLI, meanwhile
    other.add_order({"buyer": "CLI", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 5,
                     "order_date": "2025-02-01"})
    other.close()
    window.undo_stack.undo()
    buyers = {o.buyer for o in store.orders()}
    assert "Imported" not in buyers and "CLI" in buyers
    assert "Ctrl+Z undoes the import" not in window.fleet_panel.banner.text()   # its summary went with it
    window.undo_stack.redo()
    imported = next(o for o in store.orders() if o.buyer == "Imported")
    store.update_order(imported.id, "quantity", 12)      # changed elsewhere since: undo can't
    window.undo_stack.undo()
    assert "Could not undo" in window.fleet_panel.banner.text() and "changed after this step" in \
        window.fleet_panel.banner.text()
    assert "Imported" in {o.buyer for o in store.orders()}   # nothing half-undone
    assert window.undo_stack.index() == window.undo_stack.count()  # and the step left the history
    _shutdown(window)


def test_another_programs_writes_show_and_its_scenario_save_is_not_overwritten_unasked(window, store, qtbot,
                                                                                        monkeypatch):
    """Two windows (or the window and the CLI) on one file: the window never showed the other's
    changes, and its Save silently put back what the other had saved."""
    other = open_store(store.path)
    other.add_order({"buyer": "Other window", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 5,
                     "order_date": "2025-02-01"})
    assert window.check_external_changes()
    assert "Other window" in {r["buyer"] for r in window.fleet_panel.order_model.rows()}
    assert not window.check_external_changes()                 # nothing new since
    params = other.scenario("Story default")["params"]
    other.save_scenario("Story default", {**params, "months": params["months"] + 12})
    other.close()
    panel = _edit_training(window, qtbot)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.No)
    assert not window.scenario_bar.save_current()
    assert asked and "changed by another window" in window.scenario_bar.message.text()
    assert store.scenario("Story default")["params"]["months"] == params["months"] + 12   # the other save kept
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    assert window.scenario_bar.save_current() and asked
    assert store.scenario("Story default")["params"]["ui"]["training"]["num_chips"] == panel.count_spin.value()
    _shutdown(window)


def test_this_windows_own_saves_and_undos_never_ask_about_other_programs(window, store, qtbot, monkeypatch):
    _edit_training(window, qtbot)
    assert window.scenario_bar.save_current()          # a question here would fail the test
    window.undo_stack.undo()                           # the save undone
    window.undo_stack.undo()                           # and the edit
    _edit_training(window, qtbot)
    assert window.scenario_bar.save_current()
    _shutdown(window)


# ---- a second QA pass ---------------------------------------------------------------------------

def test_undoing_a_save_leaves_its_edits_unsaved_again(window, store, qtbot, monkeypatch):
    """After Save then Ctrl+Z the form still showed the edit, the store no longer had it, and the
    window said nothing was unsaved: quitting lost it."""
    panel = _edit_training(window, qtbot)
    assert window.scenario_bar.save_current() and not window.isWindowModified()
    window.undo_stack.undo()                               # the save
    assert window.isWindowModified()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    window.show()
    window.close()
    assert asked and window.isVisible()
    window.undo_stack.undo()                               # the edit: form and store agree again
    assert not window.isWindowModified()
    window.undo_stack.redo()
    window.undo_stack.redo()                               # the save again
    assert not window.isWindowModified()
    assert store.scenario("Story default")["params"]["ui"]["training"]["num_chips"] == panel.count_spin.value()
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)
    window.close()


def test_views_nobody_edited_keep_their_stored_inputs_on_save(store, qtbot, qsettings_isolated):
    """Training inputs written by a newer version were replaced by the view's defaults when any
    other view was saved."""
    params = store.scenario("Story default")["params"]
    newer = {"version": 99, "num_chips": 4096}
    store.save_scenario("Story default", {**params, "ui": {"training": newer}})
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.tabs.setCurrentIndex(1)
    w.tabs.setCurrentIndex(3)
    forecast = w.panels["forecast"]
    forecast.months_spin.setValue(forecast.months_spin.value() + 12)
    qtbot.waitUntil(w.isWindowModified)
    assert w.scenario_bar.save_current()
    saved = store.scenario("Story default")["params"]
    assert saved["ui"]["training"] == newer and saved["months"] == params["months"] + 12
    _shutdown(w)
    w.fleet_panel.detach()
    _forget_window_settings()


def test_deleting_a_scenario_with_unsaved_edits_asks_first(window, store, qtbot, monkeypatch):
    assert window.scenario_bar.select("Huawei delivers half")
    _edit_training(window, qtbot)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    assert not window.scenario_bar.delete_current()
    assert asked and "Huawei delivers half" in {s["name"] for s in store.scenarios()}
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)


def test_a_new_chip_type_in_the_fleet_is_not_an_edit_of_the_forecast(window, store, qtbot):
    """With the Forecast open, an order for a chip type new to the fleet added a phantom 'Edit
    Forecast: allocation' step and marked the scenario modified; its first Ctrl+Z undid that
    phantom, not the order."""
    window.tabs.setCurrentIndex(3)
    window.tabs.setCurrentIndex(0)
    before = window.undo_stack.count()
    window.fleet_panel.add_order({"buyer": "QA", "vendor": "AMD", "chip_id": "mi300x", "quantity": 100,
                                  "order_date": "2025-01-01", "status": "assumption"})
    QApplication.processEvents()
    QApplication.processEvents()
    assert window.undo_stack.count() == before + 1 and not window.isWindowModified()
    window.undo_stack.undo()
    assert "QA" not in {o.buyer for o in store.orders()} and not window.isWindowModified()
    _shutdown(window)


def test_a_rename_is_one_step_and_the_title_follows(window, store, qtbot):
    window.tabs.setCurrentIndex(5)
    compare = window.panels["compare"]
    compare.set_selected(["Huawei delivers half"])
    window.scenario_bar.save_current()
    assert window.scenario_bar.select("Huawei delivers half")
    before = window.undo_stack.count()
    assert window.scenario_bar.rename_current("Half")
    QApplication.processEvents()
    QApplication.processEvents()
    assert window.undo_stack.count() == before + 1 and not window.isWindowModified()
    assert "Half" in compare.selected() and "— Half" in window.windowTitle()
    window.undo_stack.undo()
    QApplication.processEvents()
    assert "Huawei delivers half" in compare.selected() and "— Huawei delivers half" in window.windowTitle()
    assert not window.isWindowModified()
    _shutdown(window)


def test_saved_inputs_a_view_cannot_show_are_named_and_stay_named(store, qtbot, qsettings_isolated):
    """Training inputs of a newer version, and an Inference chip the catalog no longer has, were
    replaced on screen; the newer-version note vanished as soon as the form validated, and the
    missing chip was swapped for the first one without a word."""
    params = store.scenario("Story default")["params"]
    ui = {"training": {"version": 99, "num_chips": 4096},
          "inference": {"model_id": "llama3-70b", "chip_id": "mi300x-custom", "tp": 8}}
    store.save_scenario("Story default", {**params, "ui": ui})
    w = MainWindow(store)
    qtbot.addWidget(w)
    w.tabs.setCurrentIndex(1)
    training = w.panels["training"]
    qtbot.wait(400)                                          # past the form's debounce and first run
    assert "version 99 is newer" in training.banner.text() and "kept" in training.banner.text()
    w.tabs.setCurrentIndex(2)
    inference = w.panels["inference"]
    qtbot.wait(400)
    assert "chip 'mi300x-custom', which is not in the catalog" in inference.banner.text()
    assert w.scenario_bar.save_current()
    assert store.scenario("Story default")["params"]["ui"]["inference"]["chip_id"] == "mi300x-custom"
    _shutdown(w)
    w.fleet_panel.detach()
    _forget_window_settings()


# ---- a third QA pass ----------------------------------------------------------------------------

def test_a_value_typed_just_before_save_is_its_own_undo_step(window, store, qtbot):
    """Typing into a field and clicking Save at once left only 'Save scenario' on the stack: the
    pending edit was taken as the store's, so Ctrl+Z could never remove it."""
    window.tabs.setCurrentIndex(3)
    months = window.panels["forecast"].months_spin
    at = window.undo_stack.index()
    months.setValue(months.value() + 24)                  # its check is still pending
    assert window.scenario_bar.save_current()
    texts = [window.undo_stack.text(i) for i in range(at, window.undo_stack.count())]
    assert len(texts) == 2 and texts[0].startswith("Edit Forecast") and texts[1].startswith("Save scenario")
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert months.value() == store.scenario("Story default")["params"]["months"] and not window.isWindowModified()
    _shutdown(window)


def test_undo_of_own_save_is_not_taken_for_another_programs(window, store, qtbot, monkeypatch):
    """An unrelated write by another program, then Ctrl+Z of this window's own Save: the next
    Save asked "changed elsewhere" although nobody else had touched the scenario."""
    _edit_training(window, qtbot)
    assert window.scenario_bar.save_current()
    other = open_store(store.path)
    other.add_order({"buyer": "EXT", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 5,
                     "order_date": "2025-02-01"})
    other.close()
    window.undo_stack.undo()
    assert window.scenario_bar.save_current()              # a question here would fail the test
    _shutdown(window)


def test_undo_of_a_save_never_drops_another_programs_later_save(window, store, qtbot):
    _edit_training(window, qtbot)
    assert window.scenario_bar.save_current()
    other = open_store(store.path)
    params = other.scenario("Story default")["params"]
    other.save_scenario("Story default", {**params, "months": params["months"] + 12})
    other.close()
    window.undo_stack.undo()
    assert store.scenario("Story default")["params"]["months"] == params["months"] + 12
    assert "saved by another window or program after this step" in window.fleet_panel.banner.text()
    _shutdown(window)


def test_undoing_a_save_after_the_scenario_was_shown_again_marks_it_modified(window, store, qtbot, monkeypatch):
    _edit_training(window, qtbot)
    assert window.scenario_bar.save_current()
    assert window.scenario_bar.select("Huawei delivers half")
    assert window.scenario_bar.select("Story default")
    window.undo_stack.undo()                                # the Save: the store no longer has the edit
    assert window.isWindowModified()
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)



def test_undoing_a_save_of_another_scenario_leaves_the_one_on_screen_saved(window, store, qtbot, monkeypatch):
    """Story default edited, then "Save" on the switch to a what-if, then Ctrl+Z: the what-if on
    screen, which nobody edited, was flagged unsaved and every later switch asked to save it."""
    _edit_training(window, qtbot)
    edited = store.scenario("Story default")["params"]
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Save)
    window.show()
    assert window.scenario_bar.select("Huawei delivers half") and asked   # saved on the way out
    assert not window.isWindowModified()
    saved = store.scenario("Story default")["params"]
    window.undo_stack.undo()                                # that Save: the store no longer has the edit
    assert store.scenario("Story default")["params"] != saved
    assert not window.isWindowModified()
    window.undo_stack.redo()
    assert not window.isWindowModified() and store.scenario("Story default")["params"] == saved != edited
    asked.clear()
    assert window.scenario_bar.select("Story default") and not asked   # nothing to ask about
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)


def test_undoing_a_baseline_save_reloads_the_what_if_on_screen_that_follows_it(window, store, qtbot, monkeypatch):
    """Peak 2.5 typed into Story default, "Save" on the switch to a what-if (which then follows it
    with 2.5), Ctrl+Z: the store went back to 1.5 but the form kept 2.5, unmarked, and the next Save
    froze the undone 2.5 into the what-if as its own change."""
    half = "Huawei delivers half"
    window.tabs.setCurrentIndex(3)
    forecast = window.panels["forecast"]
    forecast.auto_check.setChecked(False)
    forecast.peak_spin.setValue(2.5)
    qtbot.waitUntil(window.isWindowModified)
    _answer(monkeypatch, QMessageBox.StandardButton.Save)
    window.show()
    assert window.scenario_bar.select(half)
    assert forecast.peak_spin.value() == 2.5 == store.scenario(half)["params"]["demand"]["peak_to_average"]
    window.undo_stack.undo()                                 # the Save of Story default
    assert store.scenario(half)["params"]["demand"]["peak_to_average"] == 1.5
    assert forecast.peak_spin.value() == 1.5 and not window.isWindowModified()   # reloaded, as stored
    window.undo_stack.redo()
    assert forecast.peak_spin.value() == 2.5 and not window.isWindowModified()
    # and a Save now writes the what-if as it stands, not the undone value as its own change
    qtbot.wait(50)
    window.undo_stack.undo()
    assert window.scenario_bar.save_current()
    assert store.scenario(half)["params"]["demand"]["peak_to_average"] == 1.5
    assert "demand.peak_to_average" not in (store.scenario(half).get("changes") or {})
    _shutdown(window)


# ---- another program renames or deletes the scenario on screen --------------------------------

def test_a_rename_elsewhere_is_followed_and_keeps_the_unsaved_inputs(window, store, qtbot, monkeypatch):
    """The other program's rename made the window fall back to another scenario: the unsaved
    inputs on screen were replaced without a question."""
    panel = _edit_training(window, qtbot)
    edited = panel.count_spin.value()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Discard)   # a question would be wrong here
    other = open_store(store.path)
    other.rename_scenario("Story default", "Story 2025")
    other.close()
    assert window.check_external_changes()
    assert not asked
    assert window.scenario_bar.current_name() == "Story 2025" and "Story 2025" in window.windowTitle()
    assert panel.count_spin.value() == edited and window.isWindowModified()
    assert window.scenario_bar.save_current()
    assert store.scenario("Story 2025")["params"]["ui"]["training"]["num_chips"] == edited
    _shutdown(window)


def test_a_delete_elsewhere_asks_before_unsaved_inputs_go(window, store, qtbot, monkeypatch):
    assert window.scenario_bar.new_scenario("Mine")
    panel = _edit_training(window, qtbot)
    edited = panel.count_spin.value()
    other = open_store(store.path)
    other.delete_scenario("Mine")
    other.close()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Save)
    assert window.check_external_changes()
    assert asked and "deleted by another window" in asked[0]
    assert window.scenario_bar.current_name() == "Mine" and not window.isWindowModified()
    assert store.scenario("Mine")["params"]["ui"]["training"]["num_chips"] == edited
    assert panel.count_spin.value() == edited
    # deleted again, and this time the user lets the inputs go: another scenario is shown, said so
    other = open_store(store.path)
    other.delete_scenario("Mine")
    other.close()
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    panel.count_spin.setValue(edited + 8)          # the edit's step is the first look at the store
    qtbot.waitUntil(lambda: bool(asked))
    assert window.scenario_bar.current_name() == "Story default"
    assert "deleted by another window" in window.scenario_bar.message.text()
    _shutdown(window)


def test_a_delete_elsewhere_without_unsaved_inputs_asks_nothing(window, store, qtbot, monkeypatch):
    assert window.scenario_bar.new_scenario("Mine")
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Save)
    other = open_store(store.path)
    other.delete_scenario("Mine")
    other.close()
    assert window.check_external_changes()
    assert not asked and window.scenario_bar.current_name() == "Story default"
    assert "Mine" not in window.scenario_bar.names()
    _shutdown(window)


def test_ctrl_s_saves_the_scenario(window, store, qtbot):
    panel = _edit_training(window, qtbot)
    assert window.save_scenario_action.shortcut().toString() == "Ctrl+S"
    window.save_scenario_action.trigger()
    assert not window.isWindowModified()
    assert store.scenario("Story default")["params"]["ui"]["training"]["num_chips"] == panel.count_spin.value()
    _shutdown(window)


def _type_without_enter(window, qtbot, tab: int, panel: str, field: str, text: str):
    """Show the window on `tab` (which builds `panel`) and type `text` over its `field`, leaving
    the focus in it."""
    from PySide6.QtTest import QTest

    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    window.tabs.setCurrentIndex(tab)
    spin = getattr(window.panels[panel], field)
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus)
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin.lineEdit(), text)
    return spin


def test_ctrl_s_saves_a_number_typed_but_not_confirmed(window, store, qtbot):
    """A value typed into a field without Enter is what the user sees: Ctrl+S (which leaves the
    focus in the field) stored the old demand scale 1.0 under a typed 3, and the reload after the
    save put 1.00 back in the field."""
    spin = _type_without_enter(window, qtbot, 3, "forecast", "scale_spin", "3")
    assert spin.value() == 1.0        # typed, not yet interpreted
    window.save_scenario_action.trigger()
    assert store.scenario("Story default")["params"]["demand"]["scale"] == 3.0
    assert spin.value() == 3.0 and not window.isWindowModified()
    _shutdown(window)


def test_reading_the_inputs_leaves_the_focus_where_it_is(window, qtbot, monkeypatch):
    """The Plan view reads the scenario as edited (the window's gather) whenever its inputs move:
    that read must not commit the field being typed in (it did for a while, for Save's sake:
    Save commits it itself)."""
    spin = _type_without_enter(window, qtbot, 4, "plan", "budget", "5")
    window.gather_scenario_params()
    window.panels["plan"].check_current()
    assert spin.hasFocus() and spin.lineEdit().text().startswith("5")
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)


def test_before_any_valid_inputs_the_banner_does_not_speak_of_last_results(tmp_path, qtbot):
    from gui.panels.base import STALE_MESSAGE
    from gui.panels.training import TrainingPanel

    empty = open_store(tmp_path / "empty.db")
    for order in empty.orders():
        empty.delete_order(order.id)
    for chip in empty.chips():
        empty.delete_chip(chip.id)
    panel = TrainingPanel(empty)
    qtbot.addWidget(panel)
    panel._evaluate()
    assert panel.banner.text().endswith("Fix the fields marked in red to see the figures.") \
        and STALE_MESSAGE not in panel.banner.text()
    panel.shutdown()
    empty.close()


def test_a_tick_in_compare_is_not_an_unsaved_forecast_edit_compare_warns_about(window, qtbot, monkeypatch):
    """Ticking a scenario in Compare is an edit of the view (saved with the scenario), but not of
    the Forecast inputs Compare runs: it said "'Story default' has unsaved edits: Compare runs it
    as saved"."""
    window.tabs.setCurrentIndex(5)
    compare = window.panels["compare"]
    compare.set_selected(["Huawei delivers half"])
    compare.compute_now()
    assert "unsaved edits" not in compare.banner.text()
    window.tabs.setCurrentIndex(3)
    forecast = window.panels["forecast"]
    forecast.auto_check.setChecked(False)
    forecast.peak_spin.setValue(2.5)                   # a Forecast input: now Compare says so
    qtbot.waitUntil(window.isWindowModified)
    qtbot.wait(50)
    compare.compute_now()
    assert "'Story default' has unsaved edits" in compare.banner.text()
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    _shutdown(window)


def test_deleting_a_scenario_ticked_in_compare_is_one_undo_step(window, store, qtbot, monkeypatch):
    """The dropped tick was pushed as 'Edit Compare: selected' after the delete: the window read
    unsaved, and the first Ctrl+Z did nothing visible."""
    window.tabs.setCurrentIndex(5)
    compare = window.panels["compare"]
    compare.set_selected(["Huawei delivers half", "Huawei 6 months late"])
    qtbot.wait(50)
    assert window.scenario_bar.save_current()
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    assert window.scenario_bar.select("Huawei delivers half")
    assert window.scenario_bar.delete_current()
    qtbot.wait(50)
    texts = [window.undo_stack.text(i) for i in range(window.undo_stack.count())]
    assert texts[-1] == "Delete scenario 'Huawei delivers half'", texts
    assert not window.isWindowModified()
    window.undo_stack.undo()
    assert "Huawei delivers half" in {s["name"] for s in store.scenarios()}
    _shutdown(window)


def test_a_count_of_one_reads_in_the_singular_and_typing_still_works(qtbot):
    """The layout fields read "1 ways", "1 sequences", "1 chunks"."""
    from gui.panels.base import spin

    box = spin(1, 64, 1, " ways")
    qtbot.addWidget(box)
    box.show()
    assert box.text() == "1 way"
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "16")     # "1" first: the suffix turns singular mid-typing
    assert box.value() == 16 and box.text() == "16 ways"
    box.setValue(1)
    assert box.text() == "1 way"
    other = spin(0, 10, 0, " GB/s")   # a unit that is not a count keeps its suffix
    qtbot.addWidget(other)
    other.setValue(1)
    assert other.suffix() == " GB/s"


def test_quick_edits_of_two_fields_in_one_group_stay_two_steps(window, qtbot):
    """Dropout then the attention kernel (both "software"), 1 s apart, were one step named after
    one of them, and one Ctrl+Z reverted both (QA)."""
    window.tabs.setCurrentIndex(1)
    panel = window.panels["training"]
    dropout, overlap = panel.software_checks["dropout"], panel.software_checks["tp_comm_overlap"]
    was_dropout, was_overlap = dropout.isChecked(), overlap.isChecked()
    depth = window.undo_stack.count()
    dropout.setChecked(not was_dropout)
    QApplication.processEvents()
    overlap.setChecked(not was_overlap)      # well inside the merge window
    qtbot.waitUntil(lambda: window.undo_stack.count() == depth + 2)
    # each step named by the field's caption in the form, not its key ("grad overlap"; QA)
    assert window.undo_stack.text(depth) == f"Edit Training: Software: {dropout.text().replace('&', '')}"
    assert window.undo_stack.text(depth + 1) == f"Edit Training: Software: {overlap.text().replace('&', '')}"
    window.undo_stack.undo()
    assert (dropout.isChecked(), overlap.isChecked()) == (not was_dropout, was_overlap)
    window.undo_stack.undo()
    assert (dropout.isChecked(), overlap.isChecked()) == (was_dropout, was_overlap)


def test_undoing_a_duplicate_with_unsaved_edits_asks_before_deleting_the_copy(window, store, qtbot, monkeypatch):
    """QA s35: undoing a Duplicate deleted the copy first, then asked "Save them before switching
    scenario?"; Cancel left the window on a scenario no longer stored. Now the question comes
    first: Cancel keeps the copy stored and shown and the step on the stack; Discard deletes it
    and shows its source, asked once."""
    assert window.scenario_bar.duplicate_current("A")
    assert window.scenario_bar.current_name() == "A"
    unsaved = {"on": True}   # the copy's inputs changed since it was saved (however they came to)
    monkeypatch.setattr(window, "is_modified", lambda: unsaved["on"])
    discard = window._discard_edits

    def discarded():
        unsaved["on"] = False
        discard()

    monkeypatch.setattr(window, "_discard_edits", discarded)
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    index = window.undo_stack.index()
    window.undo_action.trigger()
    assert len(asked) == 1 and "deletes the scenario 'A'" in asked[0]
    assert "A" in window.scenario_bar.names() and window.scenario_bar.current_name() == "A"
    assert window.scenario_bar.combo.currentText() == "A" and window.undo_stack.index() == index
    assert window.statusBar().currentMessage() == "Nothing undone: 'A' is kept with its changes"
    asked = _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    window.undo_action.trigger()
    assert len(asked) == 1   # the switch back to the source did not ask again
    assert "A" not in window.scenario_bar.names() and window.scenario_bar.current_name() == "Story default"
    assert window.undo_stack.index() == index - 1
    _shutdown(window)


def test_an_edit_saved_left_and_come_back_to_still_undoes(window, store, qtbot, monkeypatch):
    """QA s35: every edit was skipped as "another scenario's" once its scenario had been left and
    loaded again, so Ctrl+Z took the Save back but not the edit: the inputs could not go back to
    where they started. The same scenario with the step's inputs on screen keeps its steps; another
    scenario's are still skipped, and the status line names no step that was not undone."""
    panel = _edit_training(window, qtbot)
    before = panel.count_spin.value() - 8
    assert window.scenario_bar.save_current()
    assert window.scenario_bar.select("Huawei delivers half")
    assert window.scenario_bar.select("Story default")
    assert not window.undo_action.text().endswith("skipped)")
    window.undo_action.trigger()                           # the Save
    assert store.scenario("Story default")["params"].get("ui", {}).get("training", {}).get("chips") != before + 8
    window.undo_action.trigger()                           # the edit: back where it started
    assert panel.count_spin.value() == before
    assert window.statusBar().currentMessage().startswith("Undid: Edit Training")
    _shutdown(window)


def test_a_skipped_step_is_not_reported_as_the_step_below_undone(window, store, qtbot, monkeypatch):
    """QA s35: a skipped step's message was replaced by "Undid: <the step below>", which had not
    been undone."""
    _edit_training(window, qtbot)                          # an edit of Story default...
    _answer(monkeypatch, QMessageBox.StandardButton.Discard)
    assert window.scenario_bar.select("Huawei delivers half")   # ...discarded by the switch
    depth = window.undo_stack.count()
    window.undo_action.trigger()
    assert window.undo_stack.count() == depth - 1
    message = window.statusBar().currentMessage()
    assert "another scenario" in message and not message.startswith("Undid")
    _shutdown(window)


@pytest.mark.parametrize("undo_from_away", [True, False])
def test_an_edit_of_a_renamed_scenario_still_undoes(window, store, qtbot, undo_from_away):
    """QA s35: a rename undone from another scenario left the renamed one's edit steps keyed by the
    name it no longer had: back on it, the edit was skipped as another scenario's and the field
    stayed at 1,032. Every rename, shown or not, now moves the steps' name with it."""
    panel = _edit_training(window, qtbot)
    before = panel.count_spin.value() - 8
    assert window.scenario_bar.save_current()
    assert window.scenario_bar.rename_current("Renamed")
    assert window.scenario_bar.select("Huawei delivers half")
    if undo_from_away:
        window.undo_action.trigger()                       # the rename, from another scenario
        assert "Story default" in window.scenario_bar.names()
        assert window.scenario_bar.select("Story default")
    else:
        assert window.scenario_bar.select("Renamed")
        window.undo_action.trigger()                       # the rename, on screen
    window.undo_action.trigger()                           # the Save
    window.undo_action.trigger()                           # the edit
    assert panel.count_spin.value() == before, window.statusBar().currentMessage()
    _shutdown(window)
