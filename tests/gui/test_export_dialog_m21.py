"""QA s21 (M3): Export all and Export report read "Writing files…" for 10-13 s after computing, with
Cancel enabled and ignored (compute_all reported 1.0 and nobody asked should_stop after it). Export
all now stops on Cancel while it stages its files (the staged files removed, nothing written) and
its bar moves while it writes; the report, written in one go, says "Writing the report…" and greys
Cancel."""

import pytest

from engine.errors import Cancelled
from gui.export_all import COMPUTE_SHARE, WRITING_FILES, export_all


class _TablesPanel:
    """A view with three small tables and nothing to draw."""

    def compute_now(self, progress=None, should_stop=None):
        progress(1.0, "done")

    def tables(self):
        return {f"t{i}": (["Month", "Chips"], [["2025-01", i]]) for i in range(3)}


def test_export_all_stops_while_staging_its_files_and_writes_nothing(tmp_path):
    seen = []

    def should_stop():   # Cancel clicked once the second file is being written
        return sum(message == WRITING_FILES for _, message in seen) >= 2

    out = tmp_path / "out"
    with pytest.raises(Cancelled):
        export_all({"training": _TablesPanel()}, out, progress=lambda f, m="": seen.append((f, m)),
                   should_stop=should_stop)
    assert not out.exists()   # no file, no staged temporary, and not the folder it made (s33)


def test_export_all_is_stopped_before_its_moves_not_during_them(tmp_path):
    seen = []
    out = tmp_path / "out"
    # Cancel clicked after the last file was staged: still nothing written
    with pytest.raises(Cancelled):
        export_all({"training": _TablesPanel()}, out, progress=lambda f, m="": seen.append((f, m)),
                   should_stop=lambda: sum(m == WRITING_FILES for _, m in seen) >= 4)
    assert not out.exists()


def test_a_stopped_export_removes_the_folders_it_made_and_keeps_those_it_found(tmp_path):
    """QA s32: an export stopped into a new folder left it there, empty, where a script or a user
    read it as an export. The folders it made go (parents too); one that was there stays, with what
    was in it."""
    stop = dict(should_stop=lambda: True)
    base = tmp_path / "work"
    base.mkdir()
    with pytest.raises(Cancelled):
        export_all({"training": _TablesPanel()}, base / "new" / "deeper" / "out", **stop)
    assert list(base.iterdir()) == []
    found = base / "found"
    found.mkdir()
    with pytest.raises(Cancelled):
        export_all({"training": _TablesPanel()}, found / "out", **stop)
    assert found.is_dir() and list(found.iterdir()) == []
    (found / "keep.txt").write_text("mine")
    with pytest.raises(Cancelled):
        export_all({"training": _TablesPanel()}, found, **stop)
    assert [p.name for p in found.iterdir()] == ["keep.txt"]


def test_a_stopped_export_through_dot_dot_removes_every_folder_it_made(tmp_path, monkeypatch):
    """`--out a/../b/c` makes a, b and b/c; the clean-up stopped at the step a/.. and left a (QA s33)."""
    base = tmp_path / "work"
    base.mkdir()
    monkeypatch.chdir(base)
    with pytest.raises(Cancelled):
        export_all({"training": _TablesPanel()}, "a/../b/c", should_stop=lambda: True)
    assert list(base.iterdir()) == []


def test_an_export_into_a_folder_another_stopped_export_removed_writes_its_files(tmp_path):
    """Two exports into one new folder: the first, stopped, removes the folder it made while the
    second computes; the second made it again and wrote its files, where it failed "No such file
    or directory" (QA s33)."""
    out = tmp_path / "shared"

    class _RemovedWhileComputing(_TablesPanel):
        def compute_now(self, progress=None, should_stop=None):
            out.rmdir()   # what the stopped export's clean-up did meanwhile
            super().compute_now(progress, should_stop)

    out.mkdir()   # the first export's folder, there when the second starts
    written = export_all({"training": _RemovedWhileComputing()}, out)
    assert sorted(p.name for p in written) == ["training_t0.csv", "training_t1.csv", "training_t2.csv"]


def test_export_all_bar_moves_while_it_writes(tmp_path):
    seen = []
    written = export_all({"training": _TablesPanel()}, tmp_path / "out",
                         progress=lambda f, m="": seen.append((round(f, 4), m)))
    assert len(written) == 3
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions)
    writing = [f for f, m in seen if m == WRITING_FILES]
    assert writing[0] == COMPUTE_SHARE and writing[-1] == 1.0 and len(set(writing)) == 4   # 0, 1, 2, 3 of 3 files


def test_an_uncancellable_step_greys_cancel_and_ignores_a_close(qtbot):
    from PySide6.QtWidgets import QWidget

    from gui.widgets.progress_dialog import WorkDialog

    parent = QWidget()
    qtbot.addWidget(parent)
    with WorkDialog(parent, "Export report", "Computing the views…", show_after_ms=0) as work:
        work.dialog.show()
        work.uncancellable("Writing the report…")
        assert work.dialog.labelText() == "Writing the report…"
        assert not work.dialog.cancel_button.isEnabled()
        work.dialog.close()   # the title bar's close: the writing goes on, shown
        assert work.dialog.isVisible() and not work.should_stop()


def test_export_report_says_it_writes_the_report_with_cancel_greyed(window, tmp_path, monkeypatch):
    from gui.widgets import progress_dialog

    seen = {}
    original = progress_dialog.WorkDialog.uncancellable

    def uncancellable(self, label):
        original(self, label)
        seen.update(label=self.dialog.labelText(), cancel=self.dialog.cancel_button.isEnabled())

    monkeypatch.setattr(progress_dialog.WorkDialog, "uncancellable", uncancellable)
    pdf = tmp_path / "r.pdf"
    assert window.export_report(str(pdf)) is not None and pdf.exists()
    assert seen == {"label": "Writing the report…", "cancel": False}
