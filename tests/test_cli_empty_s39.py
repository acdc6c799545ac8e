"""`export --out ""`, `report --out ""` and `backtest --as-of ""` exited 1 where every other empty
value is a usage error (exit 2); `backup -` wrote a database file named '-' and said "backed up to
-" (export's '-' is standard output; QA s39)."""

import pytest

from gui.__main__ import main   # (export and report are the window's commands)


@pytest.mark.parametrize("argv, flag", [(["export", "--out", ""], "--out"), (["report", "--out", ""], "--out"),
                                        (["backtest", "--as-of", ""], "--as-of")])
def test_an_empty_required_value_is_a_usage_error(tmp_path, capsys, argv, flag):
    with pytest.raises(SystemExit) as exit_:
        main(["--db", str(tmp_path / "x.db"), *argv])
    assert exit_.value.code == 2
    assert f"argument {flag}: the value is empty" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()   # refused before the database was opened


def test_backup_to_dash_writes_no_file_named_dash(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--db", str(tmp_path / "x.db"), "backup", "-"]) == 1
    assert "a backup is a database file, not standard output" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


def test_an_older_backups_note_is_said_of_the_restored_file():
    """"the file it replaced is now X.before-restore.db (its schema is older ...)": the set-aside
    file has the current schema; the restored one is older (QA s39)."""
    from pathlib import Path

    from engine.store.transfer import RestoreSummary

    summary = RestoreSummary(Path("old.db"), Path("live.db"), {"chips": 3, "orders": 2}, saved=Path("live.aside.db"),
                             replaced_file=True, note="its schema is older (0007): the next open upgrades it")
    assert summary.text() == ("restored old.db to live.db (3 chips, 2 orders; its schema is older (0007): the next "
                              "open upgrades it); the file it replaced is now live.aside.db")
