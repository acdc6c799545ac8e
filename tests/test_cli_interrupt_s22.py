"""Ctrl+C and what it leaves (QA s22 w4, findings 2, 3, 4 and 6).

Ctrl+C printed a 16-39 line traceback and nothing else, for every command; after an import had
committed, a user who re-ran it added every order twice. Now: one line saying what was or was not
saved, exit 130. An interrupted export left an empty hidden temporary file for good; an empty
--db file was filled with the demo data without a word.
"""

import signal
import sqlite3
from pathlib import Path

import pytest

from engine import cli
from engine.commands import catalog
from engine.store import open_store
from engine.store import transfer

ORDER_HEADER = "id,buyer,vendor,chip_id,quantity,order_date,deliveries\n"


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def interrupted_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("fleetcast: interrupted"), err
    return lines[0]


def order_count(db) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("select count(*) from orders").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "fleet.db"
    open_store(path).close()
    return path


@pytest.fixture
def orders_csv(tmp_path):
    path = tmp_path / "new_orders.csv"
    path.write_text(ORDER_HEADER + ",Acme,NVIDIA,h100-sxm5-80gb,1000,2025-01-01,\n"
                    ",Acme,NVIDIA,h100-sxm5-80gb,2000,2025-02-01,\n", encoding="utf-8")
    return path


def test_ctrl_c_after_the_import_committed_says_it_was_saved(capsys, db, orders_csv, monkeypatch):
    before = order_count(db)

    def interrupted(*args):   # Ctrl+C while the message after the commit is made
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "_summary_row", interrupted)
    code, out, err = run(capsys, "--db", db, "orders", "import", orders_csv)
    assert code == 130 and order_count(db) == before + 2
    line = interrupted_line(err)
    assert "the import was saved: 2 order(s) added" in line and "running it again adds them again" in line


def test_ctrl_c_before_the_import_committed_says_nothing_imported(capsys, db, orders_csv, monkeypatch):
    before = order_count(db)

    def interrupted(*args, **kwargs):   # Ctrl+C while the rows are checked, inside the transaction
        raise KeyboardInterrupt

    monkeypatch.setattr(transfer, "_order_key", interrupted)
    code, out, err = run(capsys, "--db", db, "orders", "import", orders_csv)
    assert code == 130 and order_count(db) == before
    assert interrupted_line(err) == "fleetcast: interrupted; nothing imported"


def test_ctrl_c_in_any_command_is_one_line_and_exit_130(capsys, db, monkeypatch):
    def interrupted(args, ctx):
        ctx.store()
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "chips_list", interrupted)
    code, out, err = run(capsys, "--db", db, "chips", "list")
    assert code == 130
    assert interrupted_line(err) == "fleetcast: interrupted; nothing was changed"


def test_ctrl_c_after_a_write_committed_says_the_database_changed(capsys, db, monkeypatch):
    def delete_then_interrupted(args, ctx):
        ctx.store().delete_orders([1])
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "orders_delete", delete_then_interrupted)
    code, out, err = run(capsys, "--db", db, "orders", "delete", "1")
    assert code == 130
    line = interrupted_line(err)
    assert f"a change was saved to {db}" in line


def test_ctrl_c_during_a_backup_leaves_no_file_and_says_so(capsys, db, tmp_path, monkeypatch):
    import engine.csv_io as csv_io

    copy = tmp_path / "copy.db"

    def interrupted_move(tmp, path):   # Ctrl+C with the copy made, before it is moved into place
        raise KeyboardInterrupt

    monkeypatch.setattr(csv_io, "_move_no_clobber", interrupted_move)
    code, out, err = run(capsys, "--db", db, "backup", copy)
    assert code == 130
    assert interrupted_line(err) == f"fleetcast: interrupted; no backup was written to {copy}"
    assert [p.name for p in tmp_path.iterdir() if "copy" in p.name] == []


def test_an_empty_db_file_filled_with_the_demo_data_is_said(capsys, tmp_path):
    empty = tmp_path / "zero.db"
    empty.touch()
    code, out, err = run(capsys, "--db", empty, "chips", "list")
    assert code == 0
    assert err.count("was an empty file; it now holds a new database with the demo") == 1, err
    code, out, err = run(capsys, "--db", empty, "chips", "list")   # said once: the next run opens it quietly
    assert code == 0 and err == ""


def test_export_staging_interrupted_leaves_no_temporary_file(tmp_path):
    from gui.export_all import _stage

    def interrupted_writer(path):
        Path(path).write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _stage(tmp_path / "training_step-time.csv", interrupted_writer)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_export_moves_finish_before_ctrl_c_takes_effect(tmp_path, monkeypatch):
    import gui.export_all as export_all

    out = tmp_path / "out"
    out.mkdir()
    plan = [(out / name, lambda p: Path(p).write_text("x")) for name in ("a.csv", "b.csv", "c.csv")]
    real_move = export_all._move

    def move_with_ctrl_c(tmp, path, *, force):   # Ctrl+C as the first file is moved onto its name
        real_move(tmp, path, force=force)
        if path.name == "a.csv":
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(export_all, "_move", move_with_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        export_all._write_all(plan, out, force=False)
    # taken once every file was moved: never the folder a mix of two exports
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv", "c.csv"]


def test_a_file_opened_for_viewing_only_is_said_after_the_output(capsys, db, monkeypatch):
    import os

    real_access = os.access
    # root may write anyway: make the permission check see what a user sees
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real_access(p, mode, **kw))
    code, out, err = run(capsys, "--db", db, "chips", "list")
    assert code == 0 and "h20-96gb" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"fleetcast: note: {db}: the file is read-only: opened for viewing, edits are disabled"), err
