"""The main window and the entry point that opens it.

`run_app(db_path)` is what `python -m gui` / the `fleetcast` launcher call with no subcommand.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import time
import sys

import gui  # noqa: F401  (sets PYQTGRAPH_QT_LIB before pyqtgraph is imported)
from PySide6.QtCore import QByteArray, Qt, QThreadPool, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication, QFileDialog, QMainWindow, QMessageBox, QSplitter, QTabWidget, QToolBar, QVBoxLayout, QWidget,
)

from engine import __version__
from engine.errors import UserError
from gui import workers
from gui.panels import registry as _registry
from gui.panels.base_missing import drop_load_warning, missing_choices, save_words
from gui.panels.small_screen import AreaScroll, fit_view
from gui.settings import APP, ORG, last_dir, remember_dir, settings
from gui.widgets.accessible import name_inputs
from gui.widgets.undo_keys import REDO_KEYS_TEXT

SMOKE_EXIT_ENV = "FLEETCAST_SMOKE_EXIT_MS"  # quit this many ms after the window shows (tests, bench)
SCENARIO_MESSAGE_S = 8.0   # what the scenario bar says stays this long; a view's run does not overwrite it

_pyqtgraph_configured = False


def configure_pyqtgraph() -> None:
    """Once, before any plot widget exists (options don't reach widgets made earlier)."""
    global _pyqtgraph_configured
    if _pyqtgraph_configured:
        return
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    _pyqtgraph_configured = True


_gui_gc = None


def collect_garbage_on_gui_thread(interval_s: float = 1.0):
    """Turn automatic cyclic GC off; collect from a GUI-thread timer instead.

    Why: an automatic collection can start inside any allocation, including one made while Qt
    holds an internal lock (seen: inside QObject::disconnect under pyqtgraph's PlotItem.addItem).
    If that collection frees a QObject (a QMenu of a closed window), its destructor waits on the
    same lock and the app freezes. A collection started by the timer runs from the event loop on
    the GUI thread, where no Qt lock is held, and never in a worker thread. Idempotent.
    """
    global _gui_gc
    if _gui_gc is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _gui_gc = GarbageCollector(interval=interval_s)
    return _gui_gc


# The analysis areas after Fleet: key -> (tab title, module, class, tooltip), from the one
# registry (gui/panels/registry.py) that Export all reads too.
ANALYSIS_PANELS = {spec.key: (spec.title, spec.module, spec.class_name, spec.tooltip)
                   for spec in _registry.ANALYSIS_PANELS}


def window_words(message: str, at_start: bool = False) -> str:
    """A store's message in the window's words: it points to the command line's --db, where the
    window has File > Open database… and File > New database…; `at_start` (no window yet), the
    buttons of the dialog that asks what to open instead."""
    open_db, new_db = ("Open another…", "Create new…") if at_start else ("File > Open database…",
                                                                         "File > New database…")
    for cli, window in (("Open another file or create a new one with --db NEW.db",
                         f"Open another file ({open_db}) or create a new one ({new_db})"),
                        ("Give a database file path with --db", f"Open a database file ({open_db})"),
                        ("give the database file itself with --db", f"open the database file itself ({open_db})")):
        message = message.replace(cli, window)
    return message


def open_failure_text(path, exc: Exception) -> str:
    """One line for a database that can't be opened: a store's own message, or the path and the
    system's words (a path such as '~nouser/x.db' raised RuntimeError, which showed a crash dialog)."""
    if isinstance(exc, UserError):
        return str(exc)
    why = getattr(exc, "strerror", None) or str(exc)   # "Permission denied", not "[Errno 13] … '<path>'"
    return f"{path}: can't open it ({why.rstrip('.')})"


def with_access_key(text: str, taken: set, prefer: str = "") -> str:
    """`text` with an access key (&) that no other item of its menu has, added to `taken`: the
    letter `prefer` if free, else a word's first letter, else any letter; `text` unchanged when
    every letter is taken. A literal & is doubled."""
    text = text.replace("&", "&&")
    starts = [i for i, ch in enumerate(text) if ch.isalnum() and (i == 0 or not text[i - 1].isalnum())]
    letters = [i for i, ch in enumerate(text) if ch.isalnum()]
    preferred = [i for i in letters if text[i].lower() == prefer.lower()]
    for i in preferred + starts + letters:
        if text[i].lower() not in taken:
            taken.add(text[i].lower())
            return text[:i] + "&" + text[i:]
    return text


# Each area's first input, by attribute path on its panel: what Ctrl+1…6 puts the focus on (it
# stayed on a container of the area, where no key did anything). Named, not found by walking the
# focus chain: a walk wrapped every widget it passed (the menus included) in a Python object, and
# once those were collected a store write invalidated the menus and the Run action (a crash dialog
# on every tab switch, then a segfault).
FIRST_INPUTS = {"fleet": "orders_table.filter_edit", "training": "model_combo", "inference": "model_combo",
                "forecast": "start_edit", "plan": "confidence", "compare": "scenario_list"}


def first_input(panel: QWidget | None, key: str) -> QWidget | None:
    """The first input of area `key`'s panel (FIRST_INPUTS), when it is shown and enabled."""
    target = panel
    for name in FIRST_INPUTS.get(key, "").split("."):
        target = getattr(target, name, None) if target is not None and name else None
    return target if isinstance(target, QWidget) and target.isVisible() and target.isEnabled() else None


def tab_leaves_tables(widget: QWidget) -> None:
    """Tab moves on from every table in `widget` (Qt's tables walk their cells with it, wrapping
    round: 400 presses never left one); arrows move among the cells, F2 or typing edits. And Tab
    never stops on a scroll area itself (a form's: it shows no focus, and took a press before
    each view's first field); its fields and the wheel still scroll it."""
    from PySide6.QtWidgets import QScrollArea, QTableView

    for view in widget.findChildren(QTableView):
        view.setTabKeyNavigation(False)
    for scroll in widget.findChildren(QScrollArea):   # (item views are not QScrollAreas)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)


class MainWindow(QMainWindow):
    AREAS = ("Fleet",) + tuple(title for title, *_ in ANALYSIS_PANELS.values())

    def __init__(self, store, parent=None):
        super().__init__(parent)
        configure_pyqtgraph()
        from gui.panels.fleet import FleetPanel

        self.store = store
        self.owns_store = False
        self.setObjectName("FleetcastMainWindow")
        self.setWindowTitle(f"Fleetcast — {store.path.name}[*]")
        self.undo_stack = QUndoStack(self)
        from gui.widgets.undo_keys import install_undo_keys
        from gui.widgets.wheel_guard import install_wheel_guard

        install_wheel_guard(QApplication.instance())
        install_undo_keys(QApplication.instance())   # Ctrl+Z in a number field undoes the window's edit
        from gui.widgets.table_copy import install_table_copy

        install_table_copy(QApplication.instance())   # Ctrl+C in a table copies its selection, tab-separated
        self._watchers: dict = {}  # panel key -> FormUndoWatcher (every form edit is undoable)
        self._panel_defaults: dict = {}  # panel key -> its inputs as built (a scenario without them)
        self._loaded: dict = {}  # panel key -> (its stored inputs, its inputs as shown): _note_loaded

        self.tabs = QTabWidget()
        self.tabs.setObjectName("areas")
        self.fleet_panel = FleetPanel(store, self.undo_stack)
        tab_leaves_tables(self.fleet_panel)
        name_inputs(self.fleet_panel)
        self.fleet_panel.status_message.connect(lambda message: self._said("fleet", message))
        from gui.commands import refusals

        refusals.refused.connect(self._show_refusal)   # an undo or redo that could not be done
        self._label_exports("fleet", self.fleet_panel)
        # every area scrolls where the window is smaller than its view (a 125-150 % display scale, a
        # 12 pt font): no view's minimum holds the window past the screen, or after leaving the view
        self._fleet_page = AreaScroll(self.fleet_panel)
        fit_view(self.fleet_panel)
        self.tabs.addTab(self._fleet_page, "Fleet")
        # Analysis panels are built the first time their tab is shown: a quicker start.
        self.panels: dict[str, QWidget] = {"fleet": self.fleet_panel}
        self._hosts: dict[str, QWidget] = {}
        for key, (title, _module, _cls, tip) in ANALYSIS_PANELS.items():
            host = QWidget()
            host.setLayout(QVBoxLayout())
            host.layout().setContentsMargins(0, 0, 0, 0)
            self._hosts[key] = host
            index = self.tabs.addTab(host, title)
            self.tabs.setTabToolTip(index, tip)
        self.tabs.currentChanged.connect(self._on_area_changed)
        self.setCentralWidget(self.tabs)

        from gui.scenarios import ScenarioBar, ask_overwrite

        self._scenario_name: str | None = None
        self._scenario_params: dict = {}
        self.fleet_panel.install_lag_provider = self._install_lag_days   # its chart counts the scenario's lag
        self.scenario_bar = ScenarioBar(store, self.undo_stack, gather_params=self.gather_scenario_params)
        self.scenario_bar.status_message.connect(self._scenario_said)
        self.scenario_bar.combo.setAccessibleName("Scenario")
        self.scenario_bar.current_changed.connect(self.apply_scenario)
        self.scenario_bar.confirm_switch = lambda: self.maybe_save("switching scenario")
        self.scenario_bar.confirm_overwrite = lambda name: ask_overwrite(self, self.scenario_bar, name)
        self.scenario_bar.save_problem = self._save_refusal
        self.scenario_bar.sync_before_save = self.check_external_changes
        self.scenario_bar.keep_vanished = self._keep_vanished
        self.scenario_bar.gather_params_as = lambda name: self.gather_scenario_params(as_name=name)
        self.scenario_bar.unsaved = self.is_modified
        self.scenario_bar.capture_marks = self._saved_marks
        self.scenario_bar.restore_marks = self._restore_saved_marks
        self.scenario_bar.renamed.connect(self._follow_rename)
        self.scenario_bar.name_moved.connect(self._follow_name)
        self._follow_naming()
        from gui.commands import follow_store_writes

        # connected before any view's own follower: a view's re-read of the store is not an edit
        self._unfollow_writes = follow_store_writes(self.undo_stack, store, self._on_store_written)
        self._follow_writes_last()
        # Another window or the CLI may write the same file: look every 2 s (one PRAGMA) and let
        # every view re-read what changed, as after this window's own writes.
        self._data_version = self._read_data_version()
        self._external_timer = QTimer(self)
        self._external_timer.setInterval(2000)
        self._external_timer.timeout.connect(self.check_external_changes)
        self._external_timer.start()
        self.scenario_bar.saved.connect(lambda _name: self.mark_saved())
        toolbar = QToolBar("Scenario")
        toolbar.setObjectName("scenario_toolbar")
        toolbar.setMovable(False)
        toolbar.addWidget(self.scenario_bar)
        self.addToolBar(toolbar)
        self.scenario_bar.emit_current()

        self._build_menus()
        self.statusBar().showMessage(self._store_summary())
        self._restore_settings()
        if getattr(store, "notice", ""):
            self.fleet_panel.banner.show_info(f"{store.path}: {store.notice}")

    # ---- menus -------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = self.file_menu = bar.addMenu("&File")
        self.open_db_action = file_menu.addAction("&Open database…", lambda: self.switch_database(create=False))
        self.open_db_action.setShortcut(QKeySequence("Ctrl+O"))
        self.new_db_action = file_menu.addAction("&New database…", lambda: self.switch_database(create=True))
        self.new_db_action.setShortcut(QKeySequence("Ctrl+N"))
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addSeparator()
        self.save_scenario_action = file_menu.addAction("&Save scenario", self._save_scenario)
        self.save_scenario_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Save))
        self.save_scenario_action.setToolTip("Save every view's inputs into the current scenario (Ctrl+Z undoes)")
        # a read-only database's way to keep the edits (Save is off there): the close and switch
        # questions offered it, no menu did
        self.save_copy_action = None if not getattr(self.store, "read_only", False) else file_menu.addAction(
            "Save a &copy with the edits…", lambda: self.save_copy_with_edits())
        if self.save_copy_action is not None:
            self.save_copy_action.setToolTip("A copy of the whole database with the scenario on screen saved in "
                                             "it as shown (this database is read-only)")
        file_menu.addSeparator()
        # (each item its own access key: Export report shared R with Open Recent, the CSVs had none)
        self.import_chips_action = file_menu.addAction("&Import chips CSV…", lambda: self.import_csv("chips"))
        self.import_orders_action = file_menu.addAction("Import or&ders CSV…", lambda: self.import_csv("orders"))
        file_menu.addSeparator()
        self.export_chips_action = file_menu.addAction("&Export chips CSV…", lambda: self.export_csv("chips"))
        self.export_orders_action = file_menu.addAction("Expor&t orders CSV…", lambda: self.export_csv("orders"))
        self.export_all_action = file_menu.addAction("Export &all charts and tables…", lambda: self.export_all())
        self.export_all_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_all_action.setToolTip("Every chart as PNG and SVG and the data behind it as CSV, for this scenario")
        self.export_report_action = file_menu.addAction("Export re&port (PDF)…", lambda: self.export_report())
        self.export_report_action.setToolTip("Key answers, assumptions, every chart and the accuracy statement, "
                                             "as a PDF to share")
        self.backup_action = file_menu.addAction("&Back up database…", lambda: self.backup_database())
        self.backup_action.setToolTip("A copy of everything stored (chips with their calibration, orders, model "
                                      "presets, scenarios) as a database file File > Open can open")
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)
        if getattr(self.store, "read_only", False):
            self.save_scenario_action.setEnabled(False)
            self.import_chips_action.setEnabled(False)
            self.import_orders_action.setEnabled(False)

        edit_menu = self.edit_menu = bar.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        # the platform's Redo and both common bindings (gui.widgets.undo_keys hands each to this
        # action inside a number field too): Ctrl+Y was listed there but bound to nothing
        # (Ctrl+Shift+Z first: the menu shows it, as before)
        redo_keys = [QKeySequence(text) for text in REDO_KEYS_TEXT] + QKeySequence.keyBindings(
            QKeySequence.StandardKey.Redo)
        self.redo_action.setShortcuts([k for i, k in enumerate(redo_keys) if not k.isEmpty() and k not in redo_keys[:i]])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        # The window takes the step itself (the stack's own slot is let go): it asks first where
        # the step deletes the scenario on screen with unsaved edits (undoing a Duplicate deleted
        # the copy, then asked "Save them before switching?", and Cancel left the window on a
        # deleted scenario; QA s35), and says nothing of a step that dropped out
        for action, undoing in ((self.undo_action, True), (self.redo_action, False)):
            action.triggered.disconnect()
            action.triggered.connect(lambda *_, undoing=undoing: self.take_step(undoing=undoing))

        view_menu = self.view_menu = bar.addMenu("&View")
        self._view_keys: set = set()   # the View menu's access keys (the Run item takes one left free)
        for i in range(self.tabs.count()):
            action = view_menu.addAction(with_access_key(self.tabs.tabText(i), self._view_keys),
                                         lambda i=i: self.show_area(i))
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
        view_menu.addSeparator()
        # one key for the main computation of the view on screen: with "Update as I edit" off, F5
        # and Ctrl+R did nothing, and no menu item ran anything
        self.run_action = view_menu.addAction("Run", self.run_current_view)
        self.run_action.setShortcuts(RUN_SHORTCUTS)
        view_menu.setToolTipsVisible(True)
        self.tabs.currentChanged.connect(lambda _index: self.update_run_action())
        self.update_run_action()

        help_menu = self.help_menu = bar.addMenu("&Help")
        self.quick_start_action = help_menu.addAction("&Quick start", lambda: self.show_help("quick_start"))
        self.quick_start_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.glossary_action = help_menu.addAction("&Glossary", lambda: self.show_help("glossary"))
        help_menu.addSeparator()
        self.about_action = help_menu.addAction("&About Fleetcast", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)

    def show_area(self, index: int) -> None:
        """Ctrl+1…6 and the View menu: the area, the focus on its first input once its view is
        shown (a view built now shows its widgets after this returns)."""
        self.tabs.setCurrentIndex(index)
        QTimer.singleShot(0, lambda: self._focus_first_input(index))

    def area_first_input(self, index: int) -> QWidget | None:
        """The first input of the area at tab `index` (None for a view not built yet)."""
        key = ("fleet", *ANALYSIS_PANELS)[index] if 0 <= index < 1 + len(ANALYSIS_PANELS) else ""
        return first_input(self.fleet_panel if key == "fleet" else self.panels.get(key), key)

    def _focus_first_input(self, index: int) -> None:
        if self.tabs.currentIndex() == index and (target := self.area_first_input(index)) is not None:
            target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _follow_naming(self) -> None:
        """When the scenario bar's name field closes (Esc, Cancel, or a name accepted), the focus
        goes back to the button that opened it: Qt moved it on to the next widget, the Plan's form."""
        bar = self.scenario_bar
        self._naming_opener = bar.new_button
        for button in (bar.new_button, bar.rename_button, bar.duplicate_button):
            button.clicked.connect(lambda _checked=False, b=button: setattr(self, "_naming_opener", b))
        for signal in (bar.name_edit.cancelled, bar.name_cancel.clicked, bar.name_edit.returnPressed,
                       bar.name_ok.clicked):
            signal.connect(self._focus_after_naming)   # (after the bar's own slot: the field is hidden)

    def _focus_after_naming(self, *_args) -> None:
        bar = self.scenario_bar
        if bar.name_edit.isHidden():
            opener = self._naming_opener
            (opener if opener.isEnabled() and opener.isVisible() else bar.combo).setFocus(Qt.FocusReason.OtherFocusReason)

    # ---- the Run action -----------------------------------------------------------------------
    def current_panel(self) -> QWidget | None:
        """The view on screen (an analysis view once built)."""
        page = self.tabs.currentWidget()
        if page is self._fleet_page:
            return self.fleet_panel
        key = next((k for k, host in self._hosts.items() if host is page), None)
        return self.panels.get(key) if key is not None else None

    def keyPressEvent(self, event) -> None:   # noqa: N802 (Qt's name)
        """Esc that no field took (a cell editor, the scenario name, a popup take their own) stops
        what runs in the view on screen, as its Cancel buttons do (QA s32: only the buttons did)."""
        if event.key() == Qt.Key.Key_Escape and self.cancel_current_view():
            event.accept()
            return
        super().keyPressEvent(event)

    def cancel_current_view(self) -> bool:
        """Click every enabled, visible Cancel of the view on screen (its run, a sensitivity run);
        whether one was."""
        from PySide6.QtWidgets import QPushButton

        panel = self.current_panel()
        if panel is None:
            return False
        buttons = [b for b in panel.findChildren(QPushButton)
                   if b.text().replace("&", "") == "Cancel" and b.isEnabled() and b.isVisibleTo(panel)]
        for button in buttons:
            button.click()
        if buttons:
            self.show_status("Cancelled (Esc)")
        return bool(buttons)

    def update_run_action(self) -> None:
        """The Run action names the current view's run button, and is off while that view is busy
        (F5 held down must not restart a long run) or has nothing to run (Fleet)."""
        action = getattr(self, "run_action", None)
        if action is None:   # a view built before the menus
            return
        panel = self.current_panel()
        button = run_button_of(panel)
        area = self.tabs.tabText(self.tabs.currentIndex())
        keys = " or ".join(k.toString() for k in RUN_SHORTCUTS)
        key = lambda text: with_access_key(text, set(self._view_keys), prefer="r")  # noqa: E731
        if button is None:
            action.setText(key("Run"))
            action.setToolTip(f"Nothing to run in the {area} view")
            action.setEnabled(False)
            return
        label = button.text().replace("&", "")
        if view_is_busy(panel):
            action.setText(key(f"{label} (running…)"))
            action.setToolTip(f"{label} is running in the {area} view: its Cancel button stops it")
            action.setEnabled(False)
            return
        action.setText(key(label))
        action.setToolTip(f"{label} in the {area} view ({keys})")
        action.setEnabled(True)

    def run_current_view(self) -> bool:
        """F5 / Ctrl+R / View > Run: what the current view's run button does. True when it ran."""
        self.update_run_action()
        panel = self.current_panel()
        button = run_button_of(panel)
        if button is None or view_is_busy(panel):
            return False
        if not button.isEnabled():
            area = self.tabs.tabText(self.tabs.currentIndex())
            self.show_status(f"Nothing run: {button.text()} is off in the {area} view now")
            return False
        # a table cell or a field still being typed in is committed first, as a click on the
        # button does (typed 400 "Fitted on" trials read 400 while F5 planned on 200; QA)
        self.commit_pending_edits()
        button.click()
        self.update_run_action()
        return True

    def _follow_busy(self, panel) -> None:
        """The Run action follows the view's runner (off while it runs, on when it is done)."""
        runner = getattr(panel, "runner", None)
        if runner is not None and hasattr(runner, "busy_changed"):
            runner.busy_changed.connect(lambda _busy: self.update_run_action())
        button = run_button_of(panel)
        if button is not None and "F5" not in button.toolTip():
            keys = " or ".join(k.toString() for k in RUN_SHORTCUTS)
            button.setToolTip(f"{button.toolTip()} ({keys})" if button.toolTip() else keys)

    # ---- analysis panels and scenarios --------------------------------------------------------
    def panel(self, key: str) -> QWidget:
        """The panel for `key`, built (and given the current scenario's inputs) on first use."""
        if key in self.panels:
            return self.panels[key]
        spec = _registry.PANEL[key]
        _title = spec.title
        panel = spec.load()(self.store, self.undo_stack)
        self._follow_writes_last()   # after the new view's own follower
        drop_load_warning(panel)   # built on its defaults: no saved inputs name what it could not show
        tab_leaves_tables(panel)
        name_inputs(panel)
        panel.status_message.connect(lambda message, k=key: self._panel_status(k, message))
        self._hosts[key].layout().addWidget(AreaScroll(panel))
        fit_view(panel)
        self.panels[key] = panel
        restore_splitters(panel, key)
        if hasattr(panel, "scenario_provider"):  # the Plan view plans for the scenario as edited now
            panel.scenario_provider = self.gather_scenario_params
        if hasattr(panel, "install_lag_provider"):   # the Training view's fleet counts the scenario's lag
            panel.install_lag_provider = self._install_lag_days
        if key == "forecast":   # ... and runs again when it is edited (QA s37: its result stayed)
            panel.supply_editor.lag_spin.valueChanged.connect(
                lambda *_: self.panels["training"].schedule() if "training" in self.panels else None)
            panel.supply_editor.lag_spin.valueChanged.connect(lambda *_: self.fleet_panel.follow_install_lag())
        if hasattr(panel, "unsaved_scenario"):   # Compare runs saved scenarios: it says when one has edits
            # only the Forecast's inputs are what Compare runs: a tick in Compare is no such edit
            panel.unsaved_scenario = lambda: self._scenario_name if (
                "forecast" in self._watchers and self._watchers["forecast"].is_modified()) else None
        # what the view shows for a scenario that saved nothing for it (the seeded what-ifs): its
        # own defaults, never the inputs the previous scenario left on screen
        self._panel_defaults[key] = copy.deepcopy(panel.scenario_state())
        if self._scenario_params:
            self._apply_to(key, panel)
        self._watch(key, panel, _title)
        self._follow_busy(panel)
        if hasattr(panel, "choices_missing"):
            panel.choices_missing.connect(lambda gone, k=key: self._keep_stored_choices(k, gone))
        if key not in ("fleet", "forecast"):
            self._loaded[key] = self._loaded_entry(panel, (self._scenario_params.get("ui") or {}).get(key))
        return panel

    def _watch(self, key: str, panel, title: str) -> None:
        from gui.widgets.form_undo import FormUndoWatcher
        from gui.widgets.wheel_guard import prefer_click_focus

        prefer_click_focus(panel)
        self._label_exports(key, panel)
        from gui.panels.forecast_editors import rows_editors

        watcher = FormUndoWatcher(panel, self.undo_stack, title)
        watcher.scenario = self._scenario_name   # (a view built after the load: its edits are this one's)
        watcher.edited.connect(self.update_modified)
        watcher.skipped.connect(self.show_status)
        self._watchers[key] = watcher
        for editor in rows_editors(panel):   # a bad cell changes no input, yet leaves unsaved text
            editor.edited.connect(self.update_modified)

    def _label_exports(self, key: str, panel) -> None:
        """A chart's own Export menu names the scenario, model and workload, as Export all does."""
        from gui.export_all import panel_context

        for chart_key, chart in (panel.charts() if hasattr(panel, "charts") else {}).items():
            chart.context_provider = lambda panel=panel, key=chart_key: panel_context(
                panel, self._scenario_name, key, unsaved=self.is_modified())

    # ---- unsaved edits ------------------------------------------------------------------------
    def is_modified(self) -> bool:
        """Any built panel's inputs differ from what the current scenario holds, or a table cell
        holds text that is not valid yet (what is on screen is then not what a Save could store)."""
        return any(w.is_modified() for w in self._watchers.values()) or bool(self.save_problem())

    def save_problem(self) -> str:
        """Why the inputs on screen cannot be saved as they are (a table's bad cell, an edited
        Forecast field its form flags), or "".
        The tables keep their last good rows while a cell is bad: saving those stored a value the
        user no longer saw (a probability typed as 150 saved as the old 50), with no word."""
        from gui.panels.forecast_editors import save_problem_under

        return next((p for p in ((plan_cell_problem(panel) if key == "plan" else save_problem_under(panel))
                                 for key, panel in self.panels.items() if key != "fleet") if p), "") \
            or self._forecast_field_problem()

    def _save_refusal(self) -> str:
        """Why a Save (or a Duplicate of the inputs on screen) is refused: `save_problem`, or a chip
        or model preset the Forecast's edited inputs name that the database no longer holds. Another
        program may delete one while the window shows it unsaved (a delete refuses only what saved
        scenarios name): saved, the baseline and every what-if built on it stopped forecasting (QA
        s36). Read from the database at the save, not at every edit."""
        problem = self.save_problem()
        panel, watcher = self.panels.get("forecast"), self._watchers.get("forecast")
        if problem or panel is None or watcher is None or not watcher.is_modified():
            return problem
        from engine.forecast_inputs import catalog_problems

        # with the fleet's orders: a scenario that serves on every chip type names no chip itself,
        # and its model was then not checked (QA s36)
        missing = catalog_problems(panel.scenario(), {c.id: c for c in self.store.chips()},
                                   {m.id: m for m in self.store.models()}, self.store.orders())
        if not missing:
            return ""
        import re

        field, rest = missing[0].split(": ", 1)
        job = re.fullmatch(r"jobs\[(\d+)\]\.(chip|model)_id", field)
        where = ({"demand.chip_id": "Report in chips of", "demand.model_id": "Serving model",
                  "demand.serve_on": "Serve on"}.get(field, field) if job is None
                 else f"training job {int(job.group(1)) + 1}'s {job.group(2)}")
        return f"the Forecast's {where}: {rest} (deleted by another program?); pick another, then save"

    def _forecast_field_problem(self) -> str:
        """The Forecast form's first field problem ("Fix before running: ..."), or "", while its
        inputs are edited: saved, a Failures of 100 %/year made every later run of the scenario
        fail. A scenario loaded bad and left alone is not flagged (not unsaved, and saving it
        writes what is already stored)."""
        panel, watcher = self.panels.get("forecast"), self._watchers.get("forecast")
        if panel is None or watcher is None or not watcher.is_modified():
            return ""
        from engine.studies_forecast import ForecastStudy
        from gui.panels.forecast_supply import supply_problems

        scenario = panel.scenario()   # with the form's model presets: a request past the context was saved
        return next((p.message for p in supply_problems(ForecastStudy(scenario).problems(panel.model_presets), scenario)), "")

    def update_modified(self) -> None:
        self.setWindowModified(self.is_modified())
        self.scenario_bar.recheck_save_problem()   # a refusal naming a cell since fixed goes

    def mark_saved(self) -> None:
        for watcher in self._watchers.values():
            watcher.mark_saved()
        self._note_loaded()
        self.update_modified()

    def _on_store_written(self, *_) -> None:
        for watcher in self._watchers.values():
            watcher.store_changed()

    def _follow_writes_last(self) -> None:
        """Connect `_store_write_taken` after every follower of the stack (again after each view
        built): the views' changes in between are the store's."""
        from gui.commands import follow_stack

        if getattr(self, "_unfollow_taken", None) is not None:
            self._unfollow_taken()
        self._unfollow_taken = follow_stack(self.undo_stack, self._store_write_taken)

    def _store_write_taken(self, *_) -> None:
        for watcher in self._watchers.values():
            watcher.store_change_over()

    def _saved_marks(self) -> dict:
        """What each view counts as saved now (for a Save's undo to put back: undoing a Save
        leaves the edits on screen, unsaved again)."""
        return {"scenario": self._scenario_name,
                "views": {k: (w.generation, copy.deepcopy(w.saved)) for k, w in self._watchers.items()}}

    def _restore_saved_marks(self, marks: dict) -> None:
        if marks.get("scenario") != self._scenario_name:
            # a Save of another scenario (the one left with "Save" on a switch): what the views
            # on screen count as saved is this scenario's, and undoing that Save did not touch it
            # (it flagged a what-if nobody had edited as unsaved, and every switch asked to save),
            # unless the scenario on screen follows it
            self._follow_base_change(marks.get("scenario"))
            return
        for key, (generation, saved) in marks["views"].items():
            watcher = self._watchers.get(key)
            if watcher is None:
                continue
            if watcher.generation == generation:   # still that scenario's load
                watcher.saved = copy.deepcopy(saved)
            else:   # loaded again since (or another scenario built on it): what is stored changed
                self._mark_stored_changed([watcher])
        self.update_modified()

    def _mark_stored_changed(self, watchers) -> None:
        """What these views show is no longer what the scenario stores: unsaved, whatever is on screen."""
        for watcher in watchers:
            watcher.saved = {STORED_CHANGED_MARK: True}
        self.update_modified()

    def _follow_base_change(self, base: str | None) -> None:
        """An undo or redo rewrote `base`, which the what-if on screen follows: its stored inputs
        moved under the form. Untouched, the form reloads them; edited, it is marked unsaved. (The
        form kept the undone baseline value unmarked, and the next Save froze it into the what-if.)"""
        name = self._scenario_name
        if not name or not base:
            return
        try:
            row = self.store.scenario(name)
        except UserError:
            return
        if row.get("base") != base:
            return
        if self.is_modified():
            self._mark_stored_changed(self._watchers.values())
            self.show_status(f"'{base}' changed, and '{name}' follows it: the inputs on screen are not what "
                             f"'{name}' stores now; save or discard them")
            return
        self.apply_scenario(name, row["params"])
        self.show_status(f"'{base}' changed, and '{name}' follows it: its inputs were reloaded")

    def _follow_name(self, old: str, new: str) -> None:
        """A scenario was renamed (or a rename undone), shown or not: its edits stay its own."""
        for watcher in self._watchers.values():
            watcher.renamed(old, new)

    def _follow_rename(self, old: str, new: str) -> None:
        if self._scenario_name == old:
            self._scenario_name = new
            if "forecast" in self.panels:
                self.panels["forecast"].set_scenario_name(new)
            self.setWindowTitle(f"Fleetcast — {self.store.path.name} — {new}[*]")

    def _note_loaded(self) -> None:
        """Each view's inputs as the scenario stores them and as the view shows them: a Save
        writes a view back only once it was edited, so inputs a view could not show (written by
        a newer version, a chip no longer in the catalog) stay as stored."""
        try:
            stored = (self.store.scenario(self._scenario_name)["params"].get("ui") or {}) if self._scenario_name else {}
        except UserError:
            stored = {}
        self._loaded = {key: self._loaded_entry(panel, stored.get(key))
                        for key, panel in self.panels.items() if key not in ("fleet", "forecast")}

    @staticmethod
    def _loaded_entry(panel, stored) -> tuple:
        return copy.deepcopy(stored), panel.scenario_state()

    def _keep_stored_choices(self, key: str, gone: list) -> None:
        """The model or chip a view showed left the store (another program, or the Fleet view),
        and the view shows another: no edit. Unless the view was edited, a Save keeps its stored
        inputs (none, where it stores none), as for a scenario opened naming a missing one
        (`_note_loaded`): Save stored the substitute unasked. The banner says which."""
        watcher, panel = self._watchers.get(key), self.panels.get(key)
        if watcher is None or panel is None or key not in self._loaded:
            return
        stored, _shown = self._loaded[key]
        edited = watcher.is_modified()
        missing_choices(panel.banner, gone, gone=True, kept=save_words(stored is not None, edited))
        if not edited:
            self._loaded[key] = (stored, panel.scenario_state())

    def maybe_save(self, doing: str = "closing") -> bool:
        """True when it is fine to drop the panels' inputs: nothing unsaved, or the user chose
        Save (and it worked) or Discard. Cancel (or a failed save) keeps everything."""
        if not self.is_modified():
            return True
        name = self._scenario_name or "this scenario"
        if getattr(self.store, "read_only", False):   # edits made to explore: never dropped unasked
            choice = self._ask_unsaveable(name, doing)
            if choice == "save_as":
                return self.save_copy_with_edits() is not None
            if choice == "discard":
                self._discard_edits()
                return True
            return False
        answer = QMessageBox.question(
            self, "Unsaved changes",
            f"The inputs of '{name}' have changed since it was saved.\n\n"
            f"Save them before {doing}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.scenario_bar.save_current()
        if answer == QMessageBox.StandardButton.Discard:
            self._discard_edits()
            return True
        return False

    def _discard_edits(self) -> None:
        from gui.panels.forecast_editors import rows_editors

        for panel in self.panels.values():   # bad cells too: they would ask again
            for editor in rows_editors(panel):
                editor.drop_bad_cells()
        self.mark_saved()  # asked once: what follows (switch, quit) must not ask again

    def _ask_unsaveable(self, name: str, doing: str) -> str:
        """'save_as', 'discard' or 'cancel' for edits a read-only database cannot take."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved changes",
                          f"The inputs of '{name}' have changed, and these edits cannot be saved in a read-only "
                          f"database ({self.store.path.name}).\n\nSave a copy of the database with them before "
                          f"{doing}?", parent=self)
        save_as = box.addButton("Save As…", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton(QMessageBox.StandardButton.Discard)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(save_as)
        box.exec()
        clicked = box.clickedButton()
        return "save_as" if clicked is save_as else "discard" if clicked is discard else "cancel"

    def save_copy_with_edits(self, path: str | None = None) -> str | None:
        """A read-only database's edits kept: a copy of the whole database (as Back up) with the
        scenario on screen saved in it as shown. Returns the copy's path, or None (nothing kept)."""
        name = self._scenario_name
        problem = self.save_problem()
        if not name or problem:
            self.show_error(f"Not saved: {problem or 'no scenario on screen'}")
            return None
        if path is None:
            stem = os.path.splitext(os.path.basename(str(self.store.path)))[0] or "fleetcast"
            start = os.path.join(last_dir("database"), f"{stem} copy.db")
            path, _ = QFileDialog.getSaveFileName(self, "Save a copy with the edits", start,
                                                  "Fleetcast databases (*.db)")
            if not path:
                return None
        from engine.store import open_store

        params = self.gather_scenario_params()
        try:
            target = self.store.backup_to(path, force=True)  # the save dialog has asked before replacing a file
            copied = open_store(target)
            try:
                copied.save_scenario(name, params)
            finally:
                copied.close()
        except (UserError, OSError) as exc:
            self.show_error(f"Could not save a copy to {path}: {exc}")
            return None
        remember_dir("database", str(target))
        self.show_status(f"Saved a copy of the database with the edits of '{name}' as {target} "
                         "(File > Open database… opens it)")
        return str(target)

    def _on_area_changed(self, index: int) -> None:
        for key, host in self._hosts.items():
            if self.tabs.widget(index) is host:
                self.panel(key)
        # a view's passing message belongs to that view: "Delete order 3 (Ctrl+Z to undo)" read
        # as if it were about the Plan once the Plan was shown (errors stay: `show_error`)
        said_by, said = getattr(self, "_status_said", (None, ""))
        if said_by is not None and self.tabs.widget(index) is not self._area_widget(said_by):
            if self.statusBar().currentMessage() == said:
                self.statusBar().clearMessage()
            self._status_said = (None, "")

    def _apply_to(self, key: str, panel) -> None:
        params = self._scenario_params
        if key == "forecast":
            panel.apply_scenario_state({**params, "name": self._scenario_name or params.get("name", "")})
        else:
            state = (params.get("ui") or {}).get(key)
            drop_load_warning(panel)   # the load below says what it cannot show, if anything
            if state is None and key == "compare":
                # (its ticks as built named the scenarios of then: a rename since, or a New, lost
                # its tick on every switch: QA s37) the defaults from the scenarios saved now
                panel.tick_defaults()
            elif state is None:
                state = self._panel_defaults.get(key)
            if state is not None:
                panel.apply_scenario_state(copy.deepcopy(state))

    def apply_scenario(self, name: str, params: dict) -> None:
        self._scenario_name, self._scenario_params = name, dict(params)
        for key, panel in self.panels.items():
            if key == "fleet":
                continue
            watcher = self._watchers.get(key)
            with watcher.suspended() if watcher is not None else contextlib.nullcontext():
                self._apply_to(key, panel)   # loading a scenario is not an edit
                if key == "compare":
                    # its ticks follow the saved scenarios (a deleted one drops out): part of the
                    # load too (it pushed an invisible undo step and marked the scenario unsaved)
                    panel.refresh_scenarios()
            if watcher is not None:
                watcher.scenario_loaded(name)
        self._note_loaded()
        for panel in self.panels.values():   # results found for the other scenario are greyed now
            if hasattr(panel, "check_current"):
                panel.check_current()
        self.setWindowTitle(f"Fleetcast — {self.store.path.name} — {name}[*]")
        self.fleet_panel.follow_install_lag()
        self.update_modified()

    def _install_lag_days(self) -> float | None:
        """The scenario's install lag as edited now: the Forecast form's, else as saved."""
        if "forecast" in self.panels:
            return self.panels["forecast"].scenario().install_lag_days
        return self._scenario_params.get("install_lag_days")

    def gather_scenario_params(self, as_name: str | None = None) -> dict:
        """What Save writes: built panels' inputs; unbuilt panels keep what the scenario had.
        `as_name`: stored under that name instead of the current one (a Duplicate, or the inputs
        kept beside a save made elsewhere): a new what-if keeps only its changes.
        (It does not commit a field being typed in: the Plan view calls it while the user types.)"""
        for watcher in self._watchers.values():   # a value typed a moment ago is an edit of its
            watcher.check_now()                   # own, on the stack before the Save that stores it
        params = copy.deepcopy(self._scenario_params)
        if "forecast" in self.panels:
            forecast = self.panels["forecast"]
            state = forecast.scenario_state()
            kept = getattr(forecast, "unloaded_state", None)
            # inputs the form could not show stay as saved until the user edits the form
            if kept is None or state != kept[1]:
                params.update(state)
        # a what-if stores its differences from the scenario it is built on only (the baseline, or
        # the one it was built on before another was made the baseline); one stored whole stays whole
        target = as_name or self._scenario_name
        baseline = self.store.base_for_save(target) if target is not None else None
        what_if = baseline is not None
        base_ui = self._baseline_ui(baseline) if what_if else {}
        ui = dict(params.get("ui") or {})
        for key, panel in self.panels.items():
            if key not in ("fleet", "forecast"):
                state = panel.scenario_state()
                stored, shown = self._loaded.get(key, (None, None))
                watcher = self._watchers.get(key)
                # (with nothing stored, the watcher also knows a view the store re-read unedited)
                untouched = state == shown or (stored is None and watcher is not None and not watcher.is_modified())
                if untouched and stored is not None:   # a view nobody edited keeps its inputs as stored, byte for byte
                    ui[key] = stored
                elif untouched:
                    # opened, not edited, nothing stored: its defaults stay defaults. (Saved, a
                    # what-if's never followed a later edit of the baseline's view, and a model
                    # shown for a deleted default became the scenario's choice unasked.)
                    ui.pop(key, None)
                elif what_if and key != "compare":
                    # the baseline as the view shows it: its stored inputs, the view's defaults where
                    # it stores none (the seeded baseline has no "ui"): only the user's edits are
                    # changes, and the rest of the view follows the baseline. (Not Compare: its
                    # default ticks follow the saved scenarios, so they are no fixed baseline.)
                    from engine.scenario_changes import without_unstored_defaults

                    ui[key] = without_unstored_defaults(state, base_ui.get(key), self._panel_defaults.get(key) or {})
                else:
                    ui[key] = state
        if ui or not what_if:
            params["ui"] = ui
        else:   # an empty "ui" is no change either: stored as one it hid the baseline's
            params.pop("ui", None)
        return params

    def _baseline_ui(self, baseline: str | None) -> dict:
        """The views' inputs the baseline stores ({} when none, or when it cannot be read)."""
        try:
            ui = self.store.scenario(baseline)["params"].get("ui") if baseline else None
        except UserError:
            ui = None
        return dict(ui) if isinstance(ui, dict) else {}

    def export_all(self, out_dir: str | None = None) -> list | None:
        if out_dir is None:
            out_dir = QFileDialog.getExistingDirectory(self, "Export all charts and tables to", last_dir("export"))
            if not out_dir:
                return None
        from gui.export_all import WouldOverwrite, export_all

        for key in ANALYSIS_PANELS:
            self.panel(key)

        from engine.errors import Cancelled
        from gui.widgets.progress_dialog import WorkDialog

        force = False
        while True:
            try:
                # every view is computed first, with progress and Cancel (the views draw the charts,
                # so this runs on the GUI thread); a view that could not be computed shows its error,
                # its files are left out and said
                with WorkDialog(self, "Export all", "Computing the views…") as work:
                    written = export_all(self.panels, out_dir, scenario=self._scenario_name, force=force, partial=True,
                                         unsaved=self.is_modified(),   # files say what the report's title says
                                         progress=work.progress, should_stop=work.should_stop)
            except WouldOverwrite as exc:  # nothing written yet: ask before replacing the user's files
                existing = exc.existing
            except Cancelled:
                self.show_status("Export all cancelled: nothing was written")
                return None
            except UserError as exc:
                self.show_error(f"Export failed: {exc}")
                return None
            else:
                break
            names = ", ".join(p.name for p in existing[:3]) + (" …" if len(existing) > 3 else "")
            answer = QMessageBox.question(
                self, "Replace files?",
                f"Files in {out_dir} have the names Export all writes ({names}). "
                "Replace them? (No writes nothing; choose an empty folder to keep them.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes or force:
                self.show_status("Export all cancelled: nothing was written")
                return None
            force = True
        remember_dir("export", os.path.join(out_dir, "x"))
        from gui.export_all import not_computed, not_computed_text

        missing = "; ".join(not_computed_text(not_computed(self.panels)))
        removed = len(getattr(written, "removed", []))
        self.show_status(f"Exported {len(written)} files to {out_dir}" + (f"; left out: {missing}" if missing else "")
                         + (f"; removed {removed} files an earlier export wrote for them" if removed else ""))
        return written

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _read_data_version(self) -> int | None:
        from gui.commands import store_reading

        return store_reading(self.store, "data_version")

    def check_external_changes(self) -> bool:
        """True when another window or program committed to the database since the last look:
        the views re-read the store (they follow the undo stack's moves), and the status bar
        says so. A scenario saved elsewhere is kept until this window's Save asks; a what-if
        whose baseline alone was saved elsewhere is shown on the new baseline (_follow_external_base)."""
        self._say_if_file_replaced()
        now = self._read_data_version()
        if now is None or now == self._data_version:
            return False
        self._data_version = now
        self.undo_stack.indexChanged.emit(self.undo_stack.index())   # as after a write of our own
        if time.monotonic() - getattr(self, "_error_shown_at", -1e9) > 15.0:   # an error stays readable
            self.show_status("The database was changed by another window or program: the views show it now")
        self._follow_external_base()
        self._follow_external_save()
        return True

    def _follow_external_save(self) -> None:
        """Another window or program saved the scenario on screen: unedited, the views kept its old
        inputs, unmarked, while the CLI, Compare and report read the new ones (QA s39: a Plan
        confidence saved as 95 elsewhere still showed 90 here); they reload it now. Edited, the
        user's edits stay and are marked, and Save asks before writing over the other save."""
        name = self._scenario_name
        if not name or getattr(self, "_following_base", False) or not self.scenario_bar.saved_elsewhere(name):
            return
        said = f"'{name}' was saved by another window or program"
        if self.is_modified():
            self.show_status(f"{said}: your unsaved edits stay on screen, and Save asks before writing over it")
            return
        try:
            params = self.store.scenario(name)["params"]
        except UserError:
            return
        self.apply_scenario(name, params)
        self.scenario_bar.note_reloaded(name)
        self.show_status(f"{said}: its inputs were reloaded")

    def _say_if_file_replaced(self) -> None:
        """Once: the database file was replaced or moved under this window (edits are refused by
        the store from then on, each with this reason)."""
        why = None if getattr(self, "_replaced_said", False) else getattr(self.store, "file_replaced", lambda: None)()
        if why:
            self._replaced_said = True
            edits = ("" if self.store.read_only else
                     " edits are refused, they would go to the old file.")
            self.show_error(f"{self.store.path} {why} since this window opened it:{edits} File > Open it again "
                            "to see what is there now")

    def _follow_external_base(self) -> None:
        """Another window or program saved the baseline of the what-if on screen (not the what-if):
        its stored inputs moved under the forms, which showed the old baseline's values unmarked,
        and a Save then froze them into the what-if as its changes. Unedited, the forms reload it;
        edited, the user's edits are put on top of it, or dropped if the user says so."""
        name = self._scenario_name
        if not name or getattr(self, "_following_base", False):   # (the timer fires inside the question)
            return
        base = self.scenario_bar.moved_base(name)
        if not base:
            return
        try:
            params = self.store.scenario(name)["params"]
        except UserError:
            return
        self._following_base = True
        try:
            said = f"'{base}' was saved by another window or program, and '{name}' follows it"
            if not self.is_modified():
                self.apply_scenario(name, params)
                self.scenario_bar.note_reloaded(name)
                self.show_status(f"{said}: its inputs were reloaded")
                return
            answer = QMessageBox.question(
                self, "Baseline changed elsewhere",
                f"{said}.\n\nKeep your unsaved edits of '{name}' on top of the new '{base}'? "
                f"(Discard shows '{name}' as stored now.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard, QMessageBox.StandardButton.Yes)
            edits = self._unsaved_edits() if answer != QMessageBox.StandardButton.Discard else {}
            self.apply_scenario(name, params)
            self.scenario_bar.note_reloaded(name)
            from engine.scenario_changes import apply_changes

            for key, (changes, shown) in edits.items():
                watcher = self._watchers[key]
                # applied as loaded (not a new step): the view's saved mark stays the reloaded state
                reloaded = _as_stored(key, watcher.panel.scenario_state())
                watcher.apply(shown if changes is None else _as_shown(key, apply_changes(reloaded, changes)))
            self.update_modified()
            self.show_status(f"{said}: {'your unsaved edits are on top of it' if edits else 'its inputs were reloaded'}")
        finally:
            self._following_base = False

    def _unsaved_edits(self) -> dict:
        """{view key: (the fields the user changed since the load or save, the inputs shown)} for
        each edited view; the changes are None where what was loaded is not known any more (a load
        overtaken before): that view keeps everything on screen."""
        from engine.scenario_changes import diff_params

        edits: dict = {}
        for key, watcher in self._watchers.items():
            if watcher.is_modified():
                shown = copy.deepcopy(watcher.last)
                # taken where the scenario stores them, so a Plan candidate put back to its
                # default is an edit too (scenario_changes.KEYED_MAPS), not a missing key
                changes = None if STORED_CHANGED_MARK in watcher.saved else \
                    diff_params(_as_stored(key, watcher.saved), _as_stored(key, shown))
                edits[key] = (changes, shown)
        return edits

    def _keep_vanished(self, name: str) -> bool:
        """Another program deleted the scenario on screen: unsaved inputs are not dropped unasked."""
        if not self.is_modified():
            return False
        answer = QMessageBox.question(
            self, "Scenario deleted elsewhere",
            f"'{name}' was deleted by another window or program, and the inputs shown here have "
            "unsaved changes.\n\nSave them as a new scenario? (Discard shows another scenario.)",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard,
            QMessageBox.StandardButton.Save)
        return answer == QMessageBox.StandardButton.Save

    def _show_refusal(self, message: str) -> None:
        self.show_error(message)

    def show_error(self, message: str) -> None:
        """An error the user must see wherever they are: the Fleet's banner, the banner of the
        view on screen (an export failing from the Plan tab went to the hidden Fleet banner), and
        the status bar, which the next "changed by another program" note does not overwrite."""
        self.fleet_panel.banner.show_error(message)
        key = next((k for k, host in self._hosts.items() if host is self.tabs.currentWidget()), None)
        banner = getattr(self.panels.get(key), "banner", None)
        if banner is not None and banner is not self.fleet_panel.banner and hasattr(banner, "show_error"):
            banner.show_error(message)
        self.statusBar().showMessage(message, 15000)
        self._error_shown_at = time.monotonic()

    def _panel_status(self, key: str, message: str) -> None:
        """A view's message, while its tab is the one shown: a forecast finishing in the background
        must not overwrite what the Fleet just said ("Delete order 3 (Ctrl+Z to undo)"), nor, for as
        long as the status bar shows it, what the scenario bar just said (QA s28: "New scenario 'Q3':
        the Forecast's inputs at the story's defaults..." was replaced by the run's timing in 2 s)."""
        left_s = SCENARIO_MESSAGE_S - (time.monotonic() - self._scenario_said_at)
        if left_s > 0:   # said once the scenario's message has had its time, if still the view's
            self._held_status = (key, message)
            QTimer.singleShot(int(left_s * 1000) + 50, self, self._say_held_status)   # (gone with the window)
            return
        if self.tabs.currentWidget() is self._hosts.get(key):
            self._said(key, message)

    _held_status: tuple | None = None

    def _say_held_status(self) -> None:
        held, self._held_status = self._held_status, None
        if held is not None and time.monotonic() - self._scenario_said_at >= SCENARIO_MESSAGE_S:
            self._panel_status(*held)

    _scenario_said_at = -1e9

    def _scenario_said(self, message: str) -> None:
        self.statusBar().showMessage(message, int(SCENARIO_MESSAGE_S * 1000))
        self._scenario_said_at = time.monotonic()

    def _said(self, key: str, message: str) -> None:
        """Show a view's message and remember whose it is (`_on_area_changed` clears it)."""
        self.show_status(message)
        self._status_said = (key, message)

    def _area_widget(self, key: str):
        return self._fleet_page if key == "fleet" else self._hosts.get(key)

    def _store_summary(self) -> str:
        try:
            counts = self.store.table_counts()
            return (f"{self.store.path} — {counts.get('chips', 0)} chips, {counts.get('orders', 0)} orders, "
                    f"{counts.get('deliveries', 0)} deliveries")
        except Exception:
            return str(self.store.path)

    def about_text(self) -> str:
        """Version, where the data, settings and logs are (the About box)."""
        import html

        from engine.store.store import default_db_path
        from gui.crash import resolve_log_dir
        from gui.settings import settings

        def row(label, value):
            return f"<tr><td><b>{label}</b>&nbsp;</td><td>{html.escape(str(value))}</td></tr>"

        return (f"<b>Fleetcast {__version__}</b><p>What-if planner for AI compute fleets: training, "
                "serving, and supply versus demand.</p><table>"
                + row("Database", self.store.path)
                + row("Default database", default_db_path())
                + row("Log folder", resolve_log_dir())
                + row("Settings", settings().fileName())
                + "</table>")

    def show_help(self, topic: str):
        """Quick start or glossary in a window beside the app (not modal: read while working)."""
        from PySide6.QtWidgets import QDialog, QTextBrowser

        from gui import help_text

        dialogs = self.__dict__.setdefault("_help_dialogs", {})
        dialog = dialogs.get(topic)
        if dialog is None:
            title = {"quick_start": "Quick start", "glossary": "Glossary"}[topic]
            dialog = QDialog(self)
            dialog.setWindowTitle(f"Fleetcast — {title}")
            browser = QTextBrowser(dialog)
            browser.setObjectName("helpText")
            browser.setOpenExternalLinks(False)
            browser.setHtml(help_text.QUICK_START if topic == "quick_start" else help_text.GLOSSARY)
            layout = QVBoxLayout(dialog)
            layout.addWidget(browser)
            dialog.resize(560, min(620, self._available_size()[1] - 80))
            dialogs[topic] = dialog
        dialog.show()
        dialog.activateWindow()
        return dialog

    def show_about(self) -> None:
        QMessageBox.about(self, "About Fleetcast", self.about_text())

    # ---- recent databases and the report ------------------------------------------------------
    def _fill_recent_menu(self) -> None:
        from gui.recent import clear_recent, recent_databases

        menu = self.recent_menu
        menu.clear()
        paths = recent_databases()
        for path in paths:
            action = menu.addAction(path, lambda path=path: self.switch_database(create=False, path=path))
            action.setEnabled(os.path.abspath(path) != os.path.abspath(str(self.store.path)))
        if paths:
            menu.addSeparator()
            menu.addAction("Clear menu", clear_recent)
        menu.setEnabled(bool(paths))

    def export_report(self, path: str | None = None) -> object | None:
        """Write the PDF report of the current scenario (with the window's current inputs)."""
        force = False
        if path is None:
            name = (self._scenario_name or "fleetcast").replace("/", "-")
            start = os.path.join(last_dir("export"), f"{name} report.pdf")
            path, _ = QFileDialog.getSaveFileName(self, "Export report", start, "PDF files (*.pdf)")
            from gui.widgets.save_path import with_suffix_confirmed

            path = with_suffix_confirmed(self, path, "pdf")
            if not path:
                return None
            force = True  # the save dialog (or with_suffix_confirmed) has asked before replacing a file
        from gui.report import write_report

        from engine.errors import Cancelled
        from gui.export_all import WRITING_FILES
        from gui.widgets.progress_dialog import WorkDialog

        for key in ANALYSIS_PANELS:
            self.panel(key)
        try:
            # the report shows the inputs on screen: titled with the saved name alone, it disagreed
            # with `fleetcast report` on the same scenario without a word
            title = (self._scenario_name or "") + (" (with unsaved changes)" if self.is_modified() else "")
            with WorkDialog(self, "Export report", "Computing the views…") as work:
                def progress(fraction, message="", work=work):
                    # the PDF is written after the views in one go, asking nobody: its Cancel did
                    # nothing for 10-13 s beside "Writing files…"
                    if message == WRITING_FILES:
                        work.uncancellable("Writing the report…")
                    else:
                        work.progress(fraction, message)

                result = write_report(self.store, self.panels, title, self.gather_scenario_params(),
                                      path, force=force, partial=True,   # a part not computed is said first in it
                                      progress=progress, should_stop=work.should_stop)
        except Cancelled:
            self.show_status("Report cancelled: nothing was written")
            return None
        except UserError as exc:
            self.show_error(f"Report not written: {exc}")
            return None
        remember_dir("export", path)
        from gui.export_all import not_computed_text

        missing = "; ".join(not_computed_text(result.not_computed))
        self.show_status(f"Wrote {result.path} ({result.pages} pages)" + (f"; {missing}" if missing else ""))
        return result

    # ---- import / export ---------------------------------------------------------------------
    def import_csv(self, kind: str, path: str | None = None) -> int | None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, f"Import {kind} CSV", last_dir("import"),
                                                  "CSV files (*.csv);;All files (*)")
            if not path:
                return None
        from engine.errors import Cancelled
        from gui.commands import ImportCommand, push_command
        from gui.widgets.progress_dialog import WorkDialog

        command = ImportCommand(self.store, kind, path)
        file_name = os.path.basename(path)
        # a large file takes a while (100,000 orders: about 12 s): say how far, and let it be
        # stopped; a stop rolls the whole import back, as a refused file is
        with WorkDialog(self, f"Import {kind}", f"Importing {file_name}…") as work:
            def progress(fraction, message, work=work):
                work.progress(fraction, f"{file_name}: {message}")
                if work.should_stop():
                    raise Cancelled()

            command.progress = progress
            # the dialog lets timers run: the look for other programs' commits would have the
            # views read the import's rows half written (and drop them on a cancel)
            self._external_timer.stop()
            try:
                error = push_command(self.undo_stack, command)
            except Cancelled:
                error = None
                command.outcome["cancelled"] = True
            finally:
                command.progress = None   # redo swaps the kept rows: no dialog
                if not getattr(self, "_shut_down", False):
                    self._external_timer.start()
        if command.outcome.get("cancelled"):
            self.show_status(f"Import of {file_name} cancelled: nothing was imported")
            return None
        if error is not None:
            said = str(error)   # ("...: nothing imported: 2 problems ..." says it already)
            # on the view on screen too (an import from the Forecast said only "Import of ... failed",
            # the reason sat in the hidden Fleet banner; QA s28)
            self.show_error(said if "nothing imported" in said else f"Nothing was imported. {said}")
            return None
        remember_dir("import", path)
        self.fleet_panel.refresh()
        found = command.outcome.get("summary")
        count = found.count if found is not None else 0
        # "2 orders", "1 chip": the records imported ("Imported 2 orders rows" read as a typo)
        shown = count if found is not None else command.outcome.get("count", 0)
        what = f"{shown:,} {kind if shown != 1 else kind.rstrip('s')}"
        summary = found.text() if found is not None else f"imported {what}"
        changed = found is None or bool(found.added or found.updated)
        banner = self.fleet_panel.banner
        text = f"{summary[:1].upper()}{summary[1:]}" + (" (Ctrl+Z undoes the import)." if changed else
                                                          " (nothing changed: no step to undo).")
        banner.show_info(text)
        if not changed:
            self.show_status(f"Imported {what}: nothing changed")
            return count
        done_at = self.undo_stack.index()

        def undone(index: int) -> None:   # the import undone: its summary no longer holds
            if index < done_at:
                if banner.text() == text:
                    banner.dismiss()
                self.undo_stack.indexChanged.disconnect(undone)

        self.undo_stack.indexChanged.connect(undone)
        self.show_status(f"Imported {what}")
        return count

    def export_csv(self, kind: str, path: str | None = None) -> int | None:
        if path is None:
            start = os.path.join(last_dir("export"), f"fleetcast-{kind}.csv")
            path, _ = QFileDialog.getSaveFileName(self, f"Export {kind} CSV", start, "CSV files (*.csv)")
            if not path:
                return None
        method = self.store.export_chips_csv if kind == "chips" else self.store.export_orders_csv
        try:
            count = method(path, force=True)  # the save dialog has asked before replacing a file
        except (UserError, OSError) as exc:
            self.show_error(f"Could not export to {path}: {exc}")
            return None
        remember_dir("export", path)
        self.show_status(f"Exported {count:,} {kind[:-1] if count == 1 else kind} to {path}")
        return count

    def tab_of(self, widget) -> int:
        """The area (tab index) that shows `widget` (a panel sits inside its area's page), or -1."""
        for i in range(self.tabs.count()):
            page = self.tabs.widget(i)
            if page is widget or (page is not None and page.isAncestorOf(widget)):
                return i
        return -1

    def take_step(self, *, undoing: bool) -> None:
        """Undo (or redo) the next step, as the Edit menu and Ctrl+Z do, then say what it changed."""
        stack = self.undo_stack
        index = stack.index() - 1 if undoing else stack.index()
        if not 0 <= index < stack.count():
            return
        if not self._may_take(stack.command(index), undoing=undoing):
            return
        count = stack.count()
        if undoing:
            stack.undo()
        else:
            stack.redo()
        if stack.count() < count:
            # the step dropped out (another scenario's edit skipped, or refused): it said why, and
            # "Undid: …" would name the step below it, which was not undone (QA s35)
            return
        self._show_undone(undone=undoing)

    def _may_take(self, step, *, undoing: bool) -> bool:
        """False when the user keeps the scenario on screen that `step` would delete with its
        unsaved edits (a New's or Duplicate's undo, a Delete's redo)."""
        from gui.scenarios import DeleteScenarioCommand, SaveScenarioCommand

        deletes = ((undoing and isinstance(step, SaveScenarioCommand) and step.previous_row is None)
                   or (not undoing and isinstance(step, DeleteScenarioCommand)))
        name = getattr(step, "name", None) if deletes else None
        if name is None or name != self._scenario_name or not self.is_modified():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes",
            # (the step's own words carry quotes: "Undoing 'Duplicate 'A' as 'B'' deletes" read badly)
            f"{step.text()}: {'undoing' if undoing else 'redoing'} it deletes the scenario '{name}', and its inputs "
            f"have changed since it was saved.\n\nDelete it with those changes?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Discard:
            self.show_status(f"Nothing {'undone' if undoing else 'redone'}: '{name}' is kept with its changes")
            return False
        self._discard_edits()   # asked once: the switch that follows must not ask again
        return True

    def _show_undone(self, *, undone: bool) -> None:
        """Say what Ctrl+Z (or redo) just changed, and bring its area forward: undoing a
        Training edit from the Fleet area changed a field out of sight, without a word."""
        from gui.widgets.form_undo import FormEditCommand

        index = self.undo_stack.index() if undone else self.undo_stack.index() - 1
        command = self.undo_stack.command(index) if 0 <= index < self.undo_stack.count() else None
        if command is None:
            return
        target = None
        # a macro ("Add plan (3 orders)") has no area of its own: its first step says where it changes
        step = command.child(0) if command.childCount() and not hasattr(command, "area") else command
        if isinstance(step, FormEditCommand):
            target = step.watcher.panel
        elif getattr(step, "area", None) == "fleet":   # chips, orders, deliveries, imports
            target = self.fleet_panel
            self.fleet_panel.show_page(getattr(step, "fleet_page", None))   # the sub-tab too
        if target is not None:
            at = self.tab_of(target)
            if at >= 0 and at != self.tabs.currentIndex():
                self.tabs.setCurrentIndex(at)
        self.show_status(f"{'Undid' if undone else 'Redid'}: {command.text()}")

    def backup_database(self, path: str | None = None) -> str | None:
        """Copy the whole database to a file the user picks (Store.backup_to)."""
        if path is None:
            stem = os.path.splitext(os.path.basename(str(self.store.path)))[0] or "fleetcast"
            start = os.path.join(last_dir("export"), f"{stem}-backup-{dt.date.today():%Y%m%d}.db")
            path, _ = QFileDialog.getSaveFileName(self, "Back up database", start, "Fleetcast databases (*.db)")
            if not path:
                return None
        try:
            target = self.store.backup_to(path, force=True)  # the save dialog has asked before replacing a file
        except (UserError, OSError) as exc:
            self.show_error(f"Could not back up to {path}: {exc}")
            return None
        remember_dir("export", path)
        # (Save is off in a read-only database: its edits go into a copy of their own)
        first = "File > Save a copy with the edits… keeps them" if getattr(self.store, "read_only", False) \
            else "Save the scenario first"
        unsaved = f" (the views' unsaved edits are not in it: {first})" if self.isWindowModified() else ""
        self.show_status(f"Backed up the database to {target}{unsaved}")
        return str(target)

    # ---- settings ----------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = settings()
        geometry = s.value("window/geometry", QByteArray(), type=QByteArray)
        first = first_window_size(self._available_size())
        # Qt refuses a geometry saved on a much larger monitor (1920 -> 1366) and leaves 640x480:
        # then, or when what it restored is far smaller than a first window, the first window's size
        restored = geometry is not None and not geometry.isEmpty() and self.restoreGeometry(geometry)
        if restored and (self.width() >= FAR_BELOW * first.width() and self.height() >= FAR_BELOW * first.height()):
            self.fit_to_screen()  # saved on a larger monitor: never larger than this screen
        else:
            self.resize(first)
        state = s.value("window/state", QByteArray(), type=QByteArray)
        if state is not None and not state.isEmpty():
            self.restoreState(state)
        splitter = s.value("fleet/splitter", QByteArray(), type=QByteArray)
        if splitter is not None and not splitter.isEmpty():
            self.fleet_panel.splitter.restoreState(splitter)
        restore_splitters(self.fleet_panel, "fleet")   # its Orders | Deliveries split too (QA)
        tab = s.value("window/area", 0, type=int)
        if 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)

    def _available_size(self) -> tuple[int, int]:
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return PREFERRED_WINDOW_SIZE
        area = screen.availableGeometry()
        return area.width(), area.height()

    def fit_to_screen(self) -> None:
        """Shrink the window to the screen's free area (less the title bar) when it is larger."""
        width, height = self._available_size()
        room_w, room_h = width, max(height - WINDOW_FRAME_PX, 200)
        if self.width() > room_w or self.height() > room_h:
            self.resize(min(self.width(), room_w), min(self.height(), room_h))

    def save_settings(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("fleet/splitter", self.fleet_panel.splitter.saveState())
        for key, panel in self.panels.items():   # (a view never opened keeps what it saved before)
            for i, splitter in enumerate(panel.findChildren(QSplitter)):
                s.setValue(f"{key}/splitter{i}", splitter.saveState())
        s.setValue("window/area", self.tabs.currentIndex())
        s.sync()

    def switch_database(self, create: bool, path: str | None = None) -> "MainWindow | None":
        """Open another (or a new) database in a fresh window and close this one."""
        if path is None:
            path = ask_database_path(self, create)
            if not path:
                return None
        from engine.store import open_store

        if create and os.path.isfile(path) and os.path.getsize(path) > 0:
            # the save dialog's "Replace?" let New database open the old file with all its data as
            # if new; never replaced either: that file may be someone's only copy
            self.fleet_panel.banner.show_error(f"{path}: already exists, so it was left unchanged; File > Open "
                                               "database… opens it, or choose a new name for a new database")
            return None
        # an empty file is made a database with the demo data: said, not done silently
        # asked before anything opens: Cancel keeps this window and opens nothing
        if not self._may_drop_inputs("opening another database"):
            return None
        try:
            store = open_store(path)
        except (UserError, RuntimeError, OSError) as exc:
            self.fleet_panel.banner.show_error(window_words(open_failure_text(path, exc)))
            return None
        remember_dir("database", path)
        from gui.recent import remember_database

        remember_database(store.path)
        window = MainWindow(store)
        window.owns_store = True
        window.show()
        _OPEN_WINDOWS.add(window)
        self.close()
        return window

    def _save_scenario(self) -> None:
        """File > Save and Ctrl+S. A number typed but not yet confirmed (no Enter, the focus still
        in its field) is what the user sees: these leave the focus where it is, so it is committed
        first (only a click on the Save button moved it; Ctrl+S stored 1.0 under a typed 3)."""
        self.commit_pending_edits()
        self.scenario_bar.save_current()

    def commit_pending_edits(self) -> None:
        """A cell or field still being typed into is committed (to the store or the form) before
        the window decides whether anything is unsaved: moving the focus away is what commits an
        item view's editor, as switching area does."""
        focus = QApplication.focusWidget()
        if focus is None or not self.isAncestorOf(focus):
            return
        view = _item_view_of(focus)   # a cell's editor closes when committed: its table keeps the focus
        focus.clearFocus()
        # ... and the focus comes back where it was: after Ctrl+S no widget had it, and the next
        # Tab went to the tab bar (QA)
        back = view if view is not None and view is not focus else focus
        with contextlib.suppress(RuntimeError):   # (an editor deleted on commit)
            if back.isVisible():
                back.setFocus(Qt.FocusReason.OtherFocusReason)

    def _may_drop_inputs(self, doing: str) -> bool:
        """True when this window's inputs may go: nothing unsaved, or Save (done) or Discard.
        Only a window on screen asks (a hidden one has no user to answer; tests close many)."""
        self.commit_pending_edits()
        if not self.isVisible():
            return True
        return self.maybe_save(doing)   # (a read-only database's edits too: Save As… a copy, or Discard)

    def closeEvent(self, event) -> None:
        if getattr(self, "_shut_down", False):  # closed before (e.g. by a test, then its teardown)
            super().closeEvent(event)
            return
        if not self._may_drop_inputs("closing"):
            event.ignore()
            return
        self._shut_down = True
        self._external_timer.stop()
        for panel in self.panels.values():
            panel.shutdown()
        self.scenario_bar.detach()
        self._unfollow_writes()
        self._unfollow_taken()
        workers.cancel_all()
        QThreadPool.globalInstance().waitForDone(3000)
        self.save_settings()
        super().closeEvent(event)
        _OPEN_WINDOWS.discard(self)
        if self.owns_store:  # a window opened by run_app or File > Open owns its connection
            self.fleet_panel.detach()
            self.store.close()


RUN_SHORTCUTS = [QKeySequence("F5"), QKeySequence("Ctrl+R")]
# a view's saved mark when what it shows is no longer what its scenario stores (unsaved whatever is shown)
STORED_CHANGED_MARK = "__stored_changed_since_shown__"


def _as_stored(key: str, state: dict) -> dict:
    """A view's inputs where a scenario keeps them: the Forecast's at the top, another's under "ui"."""
    return state if key == "forecast" else {"ui": {key: state}}


def _as_shown(key: str, params: dict) -> dict:
    return params if key == "forecast" else params["ui"][key]


def plan_cell_problem(panel) -> str:
    """The Plan view's first bad candidate cell in one line, as the Forecast's tables say theirs
    ("Plan candidates row 2 (Most per quarter): '-5' (must be ...)"), or "". Its table keeps the
    text as typed: saved, a price "abc" made every later `fleetcast plan` of the scenario fail."""
    from gui.panels.plan import CAND_HEADERS

    bad = panel.bad_cells() if hasattr(panel, "bad_cells") else []
    if not bad:
        return ""
    r, c, why = min(bad)
    more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
    column = CAND_HEADERS[c].replace("\n", " ").split(" (")[0]   # "Most per quarter", without its unit
    return f"Plan candidates row {r + 1} ({column}): {why}{more}"


def run_button_of(panel) -> "QWidget | None":
    """The button that starts a view's main computation (Run forecast, Find the cheapest plan, Run
    search, Compare chips, Compare), or None for a view with none (Fleet)."""
    bar = getattr(panel, "run_bar", None)
    return getattr(bar, "run_button", None) if bar is not None else getattr(panel, "run_button", None)


def view_is_busy(panel) -> bool:
    runner = getattr(panel, "runner", None)
    return bool(runner is not None and runner.is_running())


def restore_splitters(panel: QWidget, key: str) -> None:
    """A view's splitters as the user left them (only the Fleet view's were kept: the Forecast's
    form | charts split came back at 470 px every time; QA). Built lazily, a view reads them when
    it is first shown; Qt refuses a state that no longer fits its splitter (returns False)."""
    s = settings()
    for i, splitter in enumerate(panel.findChildren(QSplitter)):
        state = s.value(f"{key}/splitter{i}", QByteArray(), type=QByteArray)
        if state is not None and not state.isEmpty():
            splitter.restoreState(state)


def _item_view_of(widget):
    """The table or list `widget` is in (a cell's editor), or None."""
    from PySide6.QtWidgets import QAbstractItemView

    while widget is not None:
        if isinstance(widget, QAbstractItemView):
            return widget
        widget = widget.parentWidget()
    return None


PREFERRED_WINDOW_SIZE = (1360, 880)
WINDOW_FRAME_PX = 32  # title bar and frame the window manager adds around the window
FAR_BELOW = 0.6  # a restored window smaller than this share of the first window's size is not kept


def first_window_size(available: tuple[int, int]):
    """The first window: the preferred size, or the screen's free area (less the title bar)
    on a smaller screen, e.g. 1280x720 or 1366x768 laptops."""
    from PySide6.QtCore import QSize

    width, height = available
    return QSize(min(PREFERRED_WINDOW_SIZE[0], width), min(PREFERRED_WINDOW_SIZE[1], max(height - WINDOW_FRAME_PX, 200)))


# Windows opened by File > Open/New database (kept alive until closed).
_OPEN_WINDOWS: set = set()


def ask_database_path(parent, create: bool) -> str:
    start = last_dir("database")
    if create:
        path, _ = QFileDialog.getSaveFileName(parent, "New Fleetcast database", os.path.join(start, "fleetcast.db"),
                                              "Fleetcast databases (*.db);;All files (*)")
    else:
        path, _ = QFileDialog.getOpenFileName(parent, "Open Fleetcast database", start,
                                              "Fleetcast databases (*.db);;All files (*)")
    return path


def open_store_or_recover(db_path, *, ask=None, choose_path=None):
    """Open the database; when it can't be used, say why and offer another file or a new one.

    `ask(message) -> 'open' | 'new' | 'quit'` and `choose_path(create) -> str` are the dialogs
    (injectable for tests). Returns a store, or None when the user quits. The unusable file is
    never modified.
    """
    from engine.store import open_store

    # nobody can answer the window's own question on a platform with no screen (a caller's `ask` can)
    headless = ask is None and _no_one_to_ask()
    ask = ask or _ask_recovery
    choose_path = choose_path or (lambda create: ask_database_path(None, create))
    path = db_path
    while True:
        try:
            return open_store(path)
        except (UserError, RuntimeError, OSError) as exc:
            message = open_failure_text(path, exc)
            if sys.stderr is not None:
                print(f"fleetcast: error: {message}", file=sys.stderr)
            if os.environ.get(SMOKE_EXIT_ENV) or headless:   # a headless run can't answer a dialog
                return None
            choice = ask(window_words(message, at_start=True))   # the dialog's buttons, not --db
            if choice == "quit":
                return None
            chosen = choose_path(choice == "new")
            if chosen:
                path = chosen


def _no_one_to_ask() -> bool:
    """True on a platform with no screen (offscreen, minimal): a modal question there waited
    forever, so a script or CI job opening a damaged database hung after printing the error."""
    from PySide6.QtGui import QGuiApplication

    return QGuiApplication.instance() is not None and QGuiApplication.platformName() in ("offscreen", "minimal")


def _ask_recovery(message: str) -> str:
    box = QMessageBox(QMessageBox.Icon.Warning, "Fleetcast can't open this database",
                      f"{message}\n\nThe file was not changed. You can open another database or create a new one.")
    open_button = box.addButton("Open another…", QMessageBox.ButtonRole.AcceptRole)
    new_button = box.addButton("Create new…", QMessageBox.ButtonRole.ActionRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    return "open" if clicked is open_button else "new" if clicked is new_button else "quit"


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_app(db_path: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationDisplayName("Fleetcast")
    app.setDesktopFileName("fleetcast")
    configure_pyqtgraph()
    from gui.crash import install_excepthook

    install_excepthook()
    _set_window_icon(app)
    collect_garbage_on_gui_thread()

    store = open_store_or_recover(db_path)
    if store is None:
        return 1
    from gui.recent import remember_database

    remember_database(store.path)
    window = MainWindow(store)
    window.owns_store = True
    window.show()
    smoke_ms = os.environ.get(SMOKE_EXIT_ENV)
    if smoke_ms:
        def report_and_quit():
            print(f"FLEETCAST_SHOWN rss_mb={_rss_mb():.1f}", flush=True)
            QTimer.singleShot(max(int(smoke_ms), 0), window.close)

        QTimer.singleShot(0, report_and_quit)
    return app.exec()


def _set_window_icon(app) -> None:
    """Icons need a QApplication, so they are made here, never at import time."""
    from importlib import resources

    from PySide6.QtGui import QIcon

    try:
        icon_path = resources.files("resources") / "fleetcast.svg"
        if icon_path.is_file():
            app.setWindowIcon(QIcon(str(icon_path)))
    except (ModuleNotFoundError, OSError):
        pass
