"""Menus a desktop app is expected to have: Open Recent, Export report, an About box that says where things are."""

import pytest
from PySide6.QtWidgets import QApplication

from engine import __version__
from engine.store import open_store
from gui.app import MainWindow


@pytest.fixture
def app_names(qsettings_isolated):
    QApplication.instance().setOrganizationName("Fleetcast")
    QApplication.instance().setApplicationName("Fleetcast")


def _window(qtbot, path):
    window = MainWindow(open_store(path))
    window.owns_store = True
    qtbot.addWidget(window)
    return window


def test_open_recent_lists_databases_opened_newest_first(qtbot, tmp_path, app_names):
    from gui.recent import recent_databases, remember_database

    first = _window(qtbot, tmp_path / "one.db")
    remember_database(first.store.path)
    second = first.switch_database(create=True, path=str(tmp_path / "two.db"))
    qtbot.addWidget(second)
    assert recent_databases() == [str(tmp_path / "two.db"), str(tmp_path / "one.db")]
    second._fill_recent_menu()
    actions = [a for a in second.recent_menu.actions() if a.text()]
    assert [a.text() for a in actions] == [str(tmp_path / "two.db"), str(tmp_path / "one.db"), "Clear menu"]
    assert not actions[0].isEnabled()  # the database already open
    actions[1].trigger()  # reopens one.db in a new window
    reopened = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
    qtbot.addWidget(reopened)
    assert reopened.store.path == tmp_path / "one.db"
    assert recent_databases()[0] == str(tmp_path / "one.db")
    (tmp_path / "two.db").unlink()  # a deleted file drops out of the menu
    assert recent_databases() == [str(tmp_path / "one.db")]
    reopened.close()


def test_one_recent_item_reads_back_as_a_list(app_names, tmp_path):
    from gui.recent import RECENT_KEY, recent_databases
    from gui.settings import settings

    db = tmp_path / "only.db"
    db.write_bytes(b"")
    settings().setValue(RECENT_KEY, str(db))  # what an INI file with a single entry gives back
    assert recent_databases() == [str(db)]


def test_about_names_version_database_data_and_log_folders(qtbot, tmp_path, app_names, monkeypatch):
    window = _window(qtbot, tmp_path / "about.db")
    text = window.about_text()
    assert f"Fleetcast {__version__}" in text
    assert str(tmp_path / "about.db") in text
    assert str(tmp_path / "logs") in text  # FLEETCAST_LOG_DIR (conftest)
    assert "Default database" in text and "Settings" in text
    shown = []
    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.about", staticmethod(lambda *a: shown.append(a[2])))
    window.about_action.trigger()
    assert shown == [text]


@pytest.mark.slow
def test_export_report_from_the_window(qtbot, tmp_path, app_names, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window = _window(qtbot, tmp_path / "report.db")
    target = tmp_path / "out" / "story"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window.export_report_action.trigger()
    pdf = target.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert "Wrote" in window.statusBar().currentMessage() and str(pdf) in window.statusBar().currentMessage()
    # Without the dialog (which asks before replacing), an existing file is refused and kept.
    before = pdf.read_bytes()
    assert window.export_report(str(pdf)) is None
    assert pdf.read_bytes() == before and "already exists" in window.fleet_panel.banner.text()


def test_a_report_of_unsaved_inputs_says_so_in_its_title(qtbot, tmp_path, app_names):
    """The window's report shows the inputs on screen: with the Training chips changed and not
    saved it was titled "Story default", and disagreed with `fleetcast report` on that scenario."""
    pypdf = pytest.importorskip("pypdf")
    window = _window(qtbot, tmp_path / "unsaved.db")
    training = window.panel("training")
    training.count_spin.setValue(training.count_spin.value() * 2)
    window.update_modified()
    assert window.is_modified()
    result = window.export_report(str(tmp_path / "r.pdf"))
    assert result is not None
    first = pypdf.PdfReader(str(result.path)).pages[0].extract_text()
    assert "with unsaved changes" in " ".join(first.split())
