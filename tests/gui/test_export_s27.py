"""QA s27: `fleetcast export` into a folder holding a file of a name it writes refused only after
computing every view (14-26 s), when the file was a table a view lists once computed
(plan_orders.csv); and a full disk printed Qt's "libpng error: Write Error" and then named a
hidden temporary file instead of the file meant."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import qInstallMessageHandler, qWarning
from PySide6.QtGui import QImage

from engine.errors import UserError
from tests.gui.shared_setups import offscreen_export_panels, short_scenario_store
from gui import export as export_mod
from gui import export_all as export_all_mod
from gui.export_all import (WouldOverwrite, compute_all, export_all, planned_names)
from gui.widgets.plot_panel import PlotPanel

REPO = Path(__file__).resolve().parents[2]
NO_SPACE = f"could not write ({os.strerror(errno.ENOSPC)}); nothing was written"


@pytest.fixture
def store(tmp_path):
    s = short_scenario_store(tmp_path / "export.db")
    yield s
    s.close()


@pytest.fixture
def panels(store, qtbot, qsettings_isolated):
    yield from offscreen_export_panels(store, qtbot)


def _names_from(panels, out: Path) -> list[Path]:
    """What export_all writes from computed panels, in its order (charts' three files, then tables)."""
    names = []
    for key, panel in panels.items():
        names += [out / f"{key}_{chart}.{ext}" for chart in panel.charts() for ext in ("png", "svg", "csv")]
        names += [out / f"{key}_{table}.csv" for table in panel.tables()]
    return names


def test_every_file_export_writes_is_named_before_anything_is_built(panels, tmp_path):
    out = tmp_path / "all"
    before = _names_from(panels, out)
    assert out / "plan_orders.csv" not in before   # the plan's tables appear only once it has run
    compute_all(panels)
    computed = _names_from(panels, out)
    assert len(computed) == 97   # what the QA export of the story wrote
    assert planned_names(out) == computed   # no panel built: the same names, in the same order
    assert planned_names(out, panels) == computed


def test_a_table_listed_only_after_computing_is_refused_before_computing(panels, tmp_path, monkeypatch):
    out = tmp_path / "exp3"
    out.mkdir()
    (out / "plan_orders.csv").write_text("mine\n")

    def computed(*args, **kwargs):
        raise AssertionError("the views were computed before the folder was checked")

    monkeypatch.setattr(export_all_mod, "compute_all", computed)
    with pytest.raises(WouldOverwrite) as refused:
        export_all(panels, out)
    assert str(refused.value) == (f"{out / 'plan_orders.csv'}: exists; not overwritten (pass --force to replace "
                                  "them, or choose an empty folder)")
    (out / "forecast_monthly.csv").write_text("mine too\n")
    with pytest.raises(WouldOverwrite, match=r"exp3/forecast_monthly.csv: exists and 1 other file\(s\);"):
        export_all(panels, out)   # the first in the order written, and how many more
    assert sorted(p.name for p in out.iterdir()) == ["forecast_monthly.csv", "plan_orders.csv"]
    assert (out / "plan_orders.csv").read_text() == "mine\n"


def _fleetcast(tmp_path, *argv):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO),
           "XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "xdgc")}
    return subprocess.run([sys.executable, "-m", "gui", "--db", str(tmp_path / "f.db"), *argv],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def test_the_command_refuses_before_opening_the_database(tmp_path):
    out = tmp_path / "exp3"
    out.mkdir()
    (out / "plan_orders.csv").write_text("mine\n")
    proc = _fleetcast(tmp_path, "export", "--out", str(out))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (f"fleetcast: error: {out / 'plan_orders.csv'}: exists; not overwritten (pass --force "
                           "to replace them, or choose an empty folder)\n")
    # nothing was done: no database created (no panel built, no view computed), the folder as it was
    assert not (tmp_path / "f.db").exists()
    assert [p.name for p in out.iterdir()] == ["plan_orders.csv"] and (out / "plan_orders.csv").read_text() == "mine\n"
    (out / "plan_orders.csv").unlink()
    (out / "training_top-layouts.csv").mkdir()   # --force replaces files, never a folder
    proc = _fleetcast(tmp_path, "export", "--out", str(out), "--force")
    assert proc.returncode == 1
    assert proc.stderr == f"fleetcast: error: {out / 'training_top-layouts.csv'}: is not a file; nothing was written to {out}\n"
    assert not (tmp_path / "f.db").exists()


class _OneChart:
    """A panel with one real chart, as the Fleet view has: Export all writes its PNG, SVG and CSV."""

    def __init__(self, chart):
        self.chart = chart

    def charts(self):
        return {"installed_chips": self.chart}


@pytest.fixture
def fleet(qtbot):
    chart = PlotPanel("Installed chips", y_label="Installed", y_unit="chips")
    qtbot.addWidget(chart)
    chart.resize(900, 500)
    chart.set_series("H100", [1, 2, 3], [10, 20, 40])
    return {"fleet": _OneChart(chart)}


@pytest.fixture
def qt_said():
    """Qt's messages as a headless command's handler gets them (it prints each on stderr)."""
    said: list[str] = []
    previous = qInstallMessageHandler(lambda mode, context, message: said.append(message))
    yield said
    qInstallMessageHandler(previous)


@pytest.fixture
def full_disk(monkeypatch):
    """A disk that fills at the n-th file flushed (`full_disk(n)`): Qt's PNG writer fails on it as
    it does, libpng printing "libpng error: Write Error" on stderr itself and Qt returning False,
    and Python's flush says ENOSPC."""
    real_save, real_fsync = QImage.save, os.fsync

    def arm(from_file: int):
        flushed = []

        def save(image, target, *args):
            if isinstance(target, (str, os.PathLike)):   # to a file on this disk
                os.write(2, b"libpng error: Write Error\n")
                return False
            return real_save(image, target, *args)

        def fsync(fd):
            flushed.append(fd)
            if len(flushed) >= from_file:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_fsync(fd)

        monkeypatch.setattr(QImage, "save", save)
        monkeypatch.setattr(os, "fsync", fsync)

    return arm


@pytest.mark.parametrize("from_file, kind", [(1, "png"), (2, "svg"), (3, "csv")])
def test_a_full_disk_says_the_file_meant_in_one_line(fleet, full_disk, qt_said, tmp_path, capfd, from_file,
                                                      kind):
    out = tmp_path / "e"
    capfd.readouterr()
    full_disk(from_file)
    with pytest.raises(UserError) as failed:
        export_all(fleet, out)
    assert str(failed.value) == f"{out / f'fleet_installed_chips.{kind}'}: {NO_SPACE}"
    assert capfd.readouterr().err == "" and qt_said == []   # no "libpng error: Write Error" line before it
    assert not out.exists()   # nothing written, no temporary left, not the folder it made


def test_a_write_error_in_the_svg_is_not_retried_with_qt(fleet, qt_said, tmp_path, monkeypatch):
    """pyqtgraph's SVG writer meeting a full disk fell back to Qt's, which left a short file: the
    disk's reason was lost ("came out incomplete (is the disk full?)")."""
    from pyqtgraph.exporters import SVGExporter

    def no_space(self, fileName=None, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), fileName)

    monkeypatch.setattr(SVGExporter, "export", no_space)
    monkeypatch.setattr(export_mod, "_export_svg_qt", lambda item, path: pytest.fail("retried with Qt"))
    out = tmp_path / "e"
    with pytest.raises(UserError) as failed:
        export_all(fleet, out)
    assert str(failed.value) == f"{out / 'fleet_installed_chips.svg'}: {NO_SPACE}"
    assert not out.exists()


def test_what_qt_says_when_a_png_cannot_be_encoded_is_in_the_one_line(fleet, qt_said, tmp_path, monkeypatch):
    def refused(image, target, *args):   # (Qt's PNG writer warns through Qt; libpng's errors print)
        qWarning("libpng warning: Image width exceeds user limit in IHDR")
        return False

    monkeypatch.setattr(QImage, "save", refused)
    chart, one = fleet["fleet"].chart, tmp_path / "one"
    one.mkdir()
    with pytest.raises(OSError) as failed:
        export_mod.export_png(chart, one / "a.png")
    assert str(failed.value) == "the PNG could not be encoded: libpng warning: Image width exceeds user limit in IHDR"
    assert list(one.iterdir()) == [] and qt_said == []
    qWarning("after the save")   # the command's own handler is back
    assert qt_said == ["after the save"]
    out = tmp_path / "e"
    with pytest.raises(UserError) as failed:
        export_all(fleet, out)
    assert str(failed.value) == (f"{out / 'fleet_installed_chips.png'}: could not write (the PNG could not be "
                                 "encoded: libpng warning: Image width exceeds user limit in IHDR); nothing was "
                                 "written")
