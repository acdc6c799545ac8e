"""The main window and the entry point that opens it.

`run_app(db_path)` is what `python -m gui` / the `fleetcast` launcher call with no subcommand.
"""

from __future__ import annotations

import os
import sys

import gui  # noqa: F401  (sets PYQTGRAPH_QT_LIB before pyqtgraph is imported)
from PySide6.QtCore import QByteArray, QThreadPool, QTimer, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication, QFileDialog, QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget,
)

from engine import __version__
from engine.errors import UserError
from gui import workers
from gui.settings import APP, ORG, last_dir, remember_dir, settings

SMOKE_EXIT_ENV = "FLEETCAST_SMOKE_EXIT_MS"  # quit this many ms after the window shows (tests, bench)

_pyqtgraph_configured = False


def configure_pyqtgraph() -> None:
    """Once, before any plot widget exists (options don't reach widgets made earlier)."""
    global _pyqtgraph_configured
    if _pyqtgraph_configured:
        return
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    _pyqtgraph_configured = True


# Areas still to come. Each says what it will hold, so the window reads as planned, not broken.
PLACEHOLDERS = {
    "Training": (
        "Training planner",
        "Pick a model and a chip, then compare parallel layouts (tensor, pipeline, data, expert): "
        "step time, memory per chip and MFU for each, with the best layout highlighted and the "
        "time to train a token budget on your fleet.",
    ),
    "Inference": (
        "Serving capacity",
        "Choose a model, chip and latency targets (time to first token, time per output token) "
        "to see tokens per second per chip, the batch size that meets them, and how many chips "
        "a given demand needs.",
    ),
    "Forecast": (
        "Supply versus demand",
        "Orders and deliveries from the Fleet view, with delivery uncertainty, against a demand "
        "curve: P10–P90 bands of installed capacity and the months where demand outruns supply.",
    ),
    "Compare": (
        "Side-by-side scenarios",
        "Save what-if scenarios and compare them: chips, layouts and forecasts next to each other, "
        "with the differences called out.",
    ),
}


class EmptyState(QWidget):
    """A calm placeholder: a heading and what will appear here."""

    def __init__(self, heading: str, description: str, parent=None):
        super().__init__(parent)
        self.heading = QLabel(heading)
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heading.setStyleSheet("font-size: 16pt; font-weight: 600; color: #333;")
        self.description = QLabel(description)
        self.description.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.description.setWordWrap(True)
        font = self.description.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.description.setFont(font)  # a font (not a style sheet) so the height below is right
        self.description.setStyleSheet("color: #666;")
        width = 560
        self.description.setFixedWidth(width)
        # Qt doesn't give a centred, word-wrapped label the height its text needs: reserve it.
        rect = self.description.fontMetrics().boundingRect(
            0, 0, width, 10_000, int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignCenter), description)
        self.description.setMinimumHeight(rect.height() + 8)
        self.coming = QLabel("Coming in a later version of Fleetcast.")
        self.coming.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.coming.setStyleSheet("color: #999;")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.heading, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addWidget(self.description, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(12)
        layout.addWidget(self.coming, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)


class MainWindow(QMainWindow):
    AREAS = ("Fleet", "Training", "Inference", "Forecast", "Compare")

    def __init__(self, store, parent=None):
        super().__init__(parent)
        configure_pyqtgraph()
        from gui.panels.fleet import FleetPanel

        self.store = store
        self.owns_store = False
        self.setObjectName("FleetcastMainWindow")
        self.setWindowTitle(f"Fleetcast — {store.path.name}")
        self.undo_stack = QUndoStack(self)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("areas")
        self.fleet_panel = FleetPanel(store, self.undo_stack)
        self.fleet_panel.status_message.connect(self.show_status)
        self.tabs.addTab(self.fleet_panel, "Fleet")
        self.placeholders: dict[str, EmptyState] = {}
        for name in self.AREAS[1:]:
            heading, text = PLACEHOLDERS[name]
            page = EmptyState(heading, text)
            self.placeholders[name] = page
            self.tabs.addTab(page, name)
        self.setCentralWidget(self.tabs)

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
        file_menu.addSeparator()
        self.import_chips_action = file_menu.addAction("Import chips CSV…", lambda: self.import_csv("chips"))
        self.import_orders_action = file_menu.addAction("Import orders CSV…", lambda: self.import_csv("orders"))
        file_menu.addSeparator()
        self.export_chips_action = file_menu.addAction("Export chips CSV…", lambda: self.export_csv("chips"))
        self.export_orders_action = file_menu.addAction("Export orders CSV…", lambda: self.export_csv("orders"))
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)
        if getattr(self.store, "read_only", False):
            self.import_chips_action.setEnabled(False)
            self.import_orders_action.setEnabled(False)

        edit_menu = self.edit_menu = bar.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)

        help_menu = self.help_menu = bar.addMenu("&Help")
        self.about_action = help_menu.addAction("&About Fleetcast", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)

    def show_status(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _store_summary(self) -> str:
        try:
            counts = self.store.table_counts()
            return (f"{self.store.path} — {counts.get('chips', 0)} chips, {counts.get('orders', 0)} orders, "
                    f"{counts.get('deliveries', 0)} deliveries")
        except Exception:
            return str(self.store.path)

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About Fleetcast",
            f"<b>Fleetcast {__version__}</b><p>What-if planner for AI compute fleets: training, "
            f"serving, and supply versus demand.</p><p>Database: {self.store.path}</p>")

    # ---- import / export ---------------------------------------------------------------------
    def import_csv(self, kind: str, path: str | None = None) -> int | None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, f"Import {kind} CSV", last_dir("import"),
                                                  "CSV files (*.csv);;All files (*)")
            if not path:
                return None
        method = self.store.import_chips_csv if kind == "chips" else self.store.import_orders_csv
        try:
            count = method(path)
        except UserError as exc:
            self.fleet_panel.banner.show_error(f"Nothing was imported. {exc}")
            self.show_status(f"Import of {path} failed")
            return None
        remember_dir("import", path)
        # Commands on the stack refer to rows the import may have replaced: start afresh.
        self.undo_stack.clear()
        self.fleet_panel.refresh()
        self.fleet_panel.banner.show_info(f"Imported {count} {kind} rows from {path}. "
                                          "Imports can't be undone; the undo history was cleared.")
        self.show_status(f"Imported {count} {kind} rows")
        return count

    def export_csv(self, kind: str, path: str | None = None) -> int | None:
        if path is None:
            start = os.path.join(last_dir("export"), f"fleetcast-{kind}.csv")
            path, _ = QFileDialog.getSaveFileName(self, f"Export {kind} CSV", start, "CSV files (*.csv)")
            if not path:
                return None
        method = self.store.export_chips_csv if kind == "chips" else self.store.export_orders_csv
        try:
            count = method(path)
        except (UserError, OSError) as exc:
            self.fleet_panel.banner.show_error(f"Could not export to {path}: {exc}")
            return None
        remember_dir("export", path)
        self.show_status(f"Exported {count} {kind} rows to {path}")
        return count

    # ---- settings ----------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = settings()
        geometry = s.value("window/geometry", QByteArray(), type=QByteArray)
        if geometry is not None and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1360, 880)
        state = s.value("window/state", QByteArray(), type=QByteArray)
        if state is not None and not state.isEmpty():
            self.restoreState(state)
        splitter = s.value("fleet/splitter", QByteArray(), type=QByteArray)
        if splitter is not None and not splitter.isEmpty():
            self.fleet_panel.splitter.restoreState(splitter)
        tab = s.value("window/area", 0, type=int)
        if 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)

    def save_settings(self) -> None:
        s = settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("fleet/splitter", self.fleet_panel.splitter.saveState())
        s.setValue("window/area", self.tabs.currentIndex())
        s.sync()

    def switch_database(self, create: bool, path: str | None = None) -> "MainWindow | None":
        """Open another (or a new) database in a fresh window and close this one."""
        if path is None:
            path = ask_database_path(self, create)
            if not path:
                return None
        from engine.store import open_store

        try:
            store = open_store(path)
        except UserError as exc:
            self.fleet_panel.banner.show_error(f"{exc}")
            return None
        remember_dir("database", path)
        window = MainWindow(store)
        window.owns_store = True
        window.show()
        _OPEN_WINDOWS.add(window)
        self.close()
        return window

    def closeEvent(self, event) -> None:
        workers.cancel_all()
        QThreadPool.globalInstance().waitForDone(3000)
        self.save_settings()
        super().closeEvent(event)
        _OPEN_WINDOWS.discard(self)
        if self.owns_store:  # a window opened by run_app or File > Open owns its connection
            self.fleet_panel.detach()
            self.store.close()


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

    ask = ask or _ask_recovery
    choose_path = choose_path or (lambda create: ask_database_path(None, create))
    path = db_path
    while True:
        try:
            return open_store(path)
        except UserError as exc:
            if sys.stderr is not None:
                print(f"fleetcast: error: {exc}", file=sys.stderr)
            if os.environ.get(SMOKE_EXIT_ENV):  # a headless smoke run can't answer a dialog
                return None
            choice = ask(str(exc))
            if choice == "quit":
                return None
            chosen = choose_path(choice == "new")
            if chosen:
                path = chosen


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

    store = open_store_or_recover(db_path)
    if store is None:
        return 1
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
