"""QA s37: with every scenario deleted, `report` and `export` saved "Story default" into the user's
database; they refuse in one line and write nothing."""

from engine.store import open_store
from tests.test_no_scenario_s37 import _emptied


def test_report_and_export_refuse_and_write_nothing(tmp_path, capsys, qapp):
    from gui.__main__ import main

    db = _emptied(tmp_path)
    for argv in (("report", "--out", str(tmp_path / "r.pdf")), ("export", "--out", str(tmp_path / "out"))):
        code = main(["--db", str(db), *argv])
        err = capsys.readouterr().err
        assert code == 1 and err.strip().endswith(
            "no scenario is saved in this database: open it in the window once (it starts with 'Story default'), "
            "or name one with --scenario after saving it"), err
    store = open_store(db)
    try:
        assert store.scenarios() == []
    finally:
        store.close()
    assert not (tmp_path / "r.pdf").exists()
