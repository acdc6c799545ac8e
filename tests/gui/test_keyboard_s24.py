"""The window by keyboard (QA s24): Tab leaves tables, Enter runs the plan, Ctrl+1…6 and Esc leave
the focus somewhere useful, every menu item has its own access key, and a database that can't be
opened at start is named in the dialog's words."""

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableView

from engine.errors import UserError
from gui.app import open_store_or_recover
from tests.gui.shared_setups import reveal


def _active(window, qtbot):
    window.resize(1280, 688)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()   # the focus and the window's shortcuts need it active
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)


_reveal = reveal


def _tab_from(widget, qtbot, presses: int, backwards: bool = False) -> list:
    """The widgets the focus visits on `presses` Tabs (Shift+Tab) from `widget`."""
    widget.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=2000)
    visited = []
    for _ in range(presses):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backtab if backwards else Qt.Key.Key_Tab,
                       Qt.KeyboardModifier.ShiftModifier if backwards else Qt.KeyboardModifier.NoModifier)
        visited.append(QApplication.focusWidget())
    return visited


def test_tab_leaves_the_fleet_orders_table_for_the_add_order_form(window, qtbot):
    """400 Tabs cycled the orders table's cells: the Add-order fields could not be reached."""
    _active(window, qtbot)
    fleet = window.fleet_panel
    view = fleet.orders_table.view
    assert not view.tabKeyNavigation()
    visited = _tab_from(view, qtbot, 12)
    assert visited[0] is not view
    assert fleet.buyer_edit in visited and fleet.add_order_button in visited
    assert view not in _tab_from(view, qtbot, 1, backwards=True)   # Shift+Tab leaves it too


def test_tab_leaves_the_forecast_and_plan_tables(window, qtbot):
    _active(window, qtbot)
    window.tabs.setCurrentIndex(3)
    forecast = window.panel("forecast")
    editor = forecast.policy_editor
    if editor.table.rowCount() == 0:
        editor.add_row()
    _reveal(editor.table)
    assert _tab_from(editor.table, qtbot, 1) == [editor.add_button]
    assert editor.table not in _tab_from(editor.table, qtbot, 1, backwards=True)
    window.tabs.setCurrentIndex(4)
    plan = window.panel("plan")
    qtbot.waitUntil(lambda: plan.cand_table.isVisible())
    visited = _tab_from(plan.cand_table, qtbot, 3)
    assert plan.cand_table not in visited
    # every table of every view lets Tab through (Compare's, the Forecast's results, Inference's)
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
    QApplication.processEvents()
    trapping = [t.objectName() or type(t.parentWidget()).__name__ for t in window.findChildren(QTableView)
                if t.tabKeyNavigation()]
    assert trapping == []


def test_enter_in_a_plan_field_runs_the_plan_with_the_value_typed(plan_panel, qtbot, monkeypatch):
    """Enter in Confidence did nothing (F5 and the button ran the plan; Enter runs the other views)."""
    plan_panel.show()
    qtbot.waitExposed(plan_panel)
    seen = []
    monkeypatch.setattr(plan_panel, "run", lambda: seen.append(plan_panel.confidence.value()))
    plan_panel.confidence.setFocus()
    plan_panel.confidence.lineEdit().selectAll()
    qtbot.keyClicks(plan_panel.confidence, "85")
    qtbot.keyClick(plan_panel.confidence, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: seen == [85.0], timeout=2000)
    qtbot.keyClick(plan_panel.samples, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=2000)
    monkeypatch.setattr(plan_panel.runner, "is_running", lambda: True)   # not while a search runs (as F5)
    qtbot.keyClick(plan_panel.budget, Qt.Key.Key_Return)
    qtbot.wait(50)
    assert len(seen) == 2


@pytest.mark.parametrize("area, expected", [(2, "model_combo"), (4, "confidence"), (3, "start_edit")])
def test_ctrl_number_puts_the_focus_on_the_areas_first_input(window, qtbot, area, expected):
    """After Ctrl+3 the focus sat on an unnamed container in Inference, where arrows did nothing."""
    _active(window, qtbot)
    qtbot.keyClick(window, getattr(Qt.Key, f"Key_{area + 1}"), Qt.KeyboardModifier.ControlModifier)
    key = {2: "inference", 3: "forecast", 4: "plan"}[area]
    qtbot.waitUntil(lambda: key in window.panels and QApplication.focusWidget() is getattr(window.panels[key], expected),
                    timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)   # Fleet: its first field
    qtbot.waitUntil(lambda: window.fleet_panel.isAncestorOf(QApplication.focusWidget()), timeout=5000)


def test_esc_in_the_scenario_name_field_gives_the_focus_back_to_new(window, qtbot):
    """The focus went to the Plan's scroll area after Esc: Tab then walked the Plan's form."""
    _active(window, qtbot)
    window.tabs.setCurrentIndex(4)
    bar = window.scenario_bar
    for opener in (bar.new_button, bar.duplicate_button):
        qtbot.mouseClick(opener, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: QApplication.focusWidget() is bar.name_edit, timeout=2000)
        qtbot.keyClick(bar.name_edit, Qt.Key.Key_Escape)
        assert bar.name_edit.isHidden()
        assert QApplication.focusWidget() is opener
    qtbot.mouseClick(bar.rename_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(bar.name_cancel, Qt.MouseButton.LeftButton)
    assert QApplication.focusWidget() is bar.rename_button


def _access_keys(menu) -> list:
    """Each item's access key (None for an item with none), separators left out."""
    keys = []
    for action in menu.actions():
        if action.isSeparator():
            continue
        found = re.search(r"&([^&])", action.text().replace("&&", ""))
        keys.append((action.text(), found[1].lower() if found else None))
    return keys


def test_every_menu_item_has_its_own_access_key(window, qtbot):
    """File had Open Recent and Export report both on R and four CSV items with none; View none."""
    menus = [window.file_menu, window.edit_menu, window.help_menu]
    for menu in menus:
        keys = _access_keys(menu)
        assert all(k for _t, k in keys), keys
        assert len({k for _t, k in keys}) == len(keys), keys
    for index in range(window.tabs.count()):   # the Run item names each view's own run
        window.tabs.setCurrentIndex(index)
        keys = _access_keys(window.view_menu)
        assert all(k for _t, k in keys), keys
        assert len({k for _t, k in keys}) == len(keys), keys
    assert window.run_action.text().replace("&", "") == "Compare"
    assert window.import_chips_action.text() == "&Import chips CSV…"
    assert window.export_report_action.text() == "Export re&port (PDF)…"


def test_with_access_key_prefers_the_letter_asked_then_word_starts():
    from gui.app import with_access_key

    taken = {"f", "t", "i", "o", "p", "c"}
    assert with_access_key("Run search", set(taken), prefer="r") == "&Run search"
    assert with_access_key("Compare chips", set(taken), prefer="r") == "Compa&re chips"
    assert with_access_key("Find the cheapest plan", set(taken), prefer="r") == "Fi&nd the cheapest plan"
    assert with_access_key("R&D", set()) == "&R&&D"   # a literal & stays one


def test_start_up_dialog_names_its_buttons_not_the_command_line(tmp_path, monkeypatch):
    """"…create a new one with --db NEW.db" in a window started from a desktop icon."""
    monkeypatch.delenv("FLEETCAST_SMOKE_EXIT_MS", raising=False)
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database at all" * 50)
    asked = []
    for path in (damaged, tmp_path):   # a damaged file; a folder ("Give a database file path with --db")
        assert open_store_or_recover(path, ask=lambda m: asked.append(m) or "quit", choose_path=lambda c: "") is None
    assert len(asked) == 2
    for message in asked:
        assert "--db" not in message and "Open another…" in message, message
    assert "Create new…" in asked[0]


def test_a_path_the_system_refuses_is_one_line_not_a_crash(tmp_path, monkeypatch, window):
    """'~nouser/x.db' raised RuntimeError, not UserError: a crash dialog (and a hang offscreen)."""
    monkeypatch.delenv("FLEETCAST_SMOKE_EXIT_MS", raising=False)
    import engine.store as engine_store

    def refuse(path, *args, **kwargs):
        if "nouser" in str(path):
            raise RuntimeError("Could not determine home directory.")
        if "denied" in str(path):
            raise PermissionError(13, "Permission denied")
        raise UserError("unexpected")

    monkeypatch.setattr(engine_store, "open_store", refuse)
    asked = []
    for path in ("~nouser-s24/x.db", str(tmp_path / "denied.db")):
        assert open_store_or_recover(path, ask=lambda m: asked.append(m) or "quit", choose_path=lambda c: "") is None
    assert asked[0] == "~nouser-s24/x.db: can't open it (Could not determine home directory)"
    assert asked[1] == f"{tmp_path / 'denied.db'}: can't open it (Permission denied)"
    # File > Open says the same in its banner, and the window stays
    assert window.switch_database(create=False, path="~nouser-s24/x.db") is None
    assert "~nouser-s24/x.db: can't open it" in window.fleet_panel.banner.text()


def test_finding_an_areas_first_input_leaves_the_window_whole_after_garbage_collection(window, qtbot):
    """QA: finding an area's first input by walking the focus chain wrapped every widget it passed
    (menus included); once collected, the next store write invalidated the menus and the Run
    action (a crash dialog on each tab switch, then a segfault; F5 dead)."""
    import gc

    import shiboken6

    _active(window, qtbot)
    for index in (3, 0, 4, 0, 2, 1, 5):
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{index + 1}"), Qt.KeyboardModifier.ControlModifier)
        qtbot.wait(20)
        gc.collect()
    model = window.fleet_panel.chip_model   # a store write after the collection
    assert model.setData(model.index(model.row_of_key("mi300x"), model.column_of("notes")), "checked",
                         Qt.ItemDataRole.EditRole)
    gc.collect()
    QApplication.processEvents()
    for name in ("file_menu", "edit_menu", "view_menu", "help_menu", "run_action", "undo_action"):
        assert shiboken6.isValid(getattr(window, name)), name
    window.tabs.setCurrentIndex(3)
    window.update_run_action()   # raised "Internal C++ object already deleted"
    window.tabs.setCurrentIndex(2)
    QApplication.processEvents()
    assert window.area_first_input(2) is window.panels["inference"].model_combo


def test_tab_never_stops_on_a_views_bare_form_scroll_area(window, qtbot):
    """QA: between the scenario bar's Delete and each view's first field, Tab stopped on the
    form's scroll area, which shows no focus."""
    from PySide6.QtWidgets import QScrollArea

    _active(window, qtbot)
    for index in (1, 2, 4):
        window.tabs.setCurrentIndex(index)
        QApplication.processEvents()
        page = window.tabs.widget(index)
        scrolls = [s for s in page.findChildren(QScrollArea) if s.widget() is not None and s.isVisible()]
        assert scrolls and not any(s.focusPolicy() & Qt.FocusPolicy.TabFocus for s in scrolls
                                   if s.objectName() != "qt_scrollarea_viewport"), index
