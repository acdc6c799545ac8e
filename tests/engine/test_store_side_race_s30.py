"""CI (s30): one of three processes opening an older database at once was refused with
"fleet.db-wal: a broken link next to the database": another process created the -wal between this
one's stat (not there) and its lexists (there), and a plain file was read as a dangling link."""

import os
import sqlite3

import pytest

from engine.store import files
from engine.store.files import StoreError, examine, side_file


def _database(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()


def _stat_misses_once(monkeypatch, missed):
    """os.stat as in the race: `missed` was not there at the stat, and is (a plain file) just after."""
    real_stat, calls = os.stat, []

    def stat(p, *args, **kwargs):
        if str(p) == str(missed) and not calls:
            calls.append(p)
            missed.write_bytes(b"")   # another process makes it now
            raise FileNotFoundError(2, "No such file or directory", str(p))
        return real_stat(p, *args, **kwargs)

    monkeypatch.setattr(files.os, "stat", stat)
    return calls


@pytest.mark.parametrize("suffix", files.SIDE_SUFFIXES)
def test_a_side_file_made_by_another_process_meanwhile_is_no_broken_link(tmp_path, monkeypatch, suffix):
    path = tmp_path / "fleet.db"
    _database(path)
    calls = _stat_misses_once(monkeypatch, side_file(path, suffix))
    target = examine(path, create_folder=False)   # refused before the fix
    assert calls and target.existed and suffix not in target.side_files   # absent when looked at


def test_a_database_made_by_another_process_meanwhile_is_no_broken_link(tmp_path, monkeypatch):
    path = tmp_path / "fleet.db"
    calls = _stat_misses_once(monkeypatch, path)
    target = examine(path, create_folder=False)   # a traceback before (readlink of a plain file)
    assert calls and not target.existed


@pytest.mark.parametrize("suffix", files.SIDE_SUFFIXES)
def test_a_real_broken_link_is_still_refused_in_one_line(tmp_path, suffix):
    path = tmp_path / "fleet.db"
    _database(path)
    os.symlink(tmp_path / "gone", side_file(path, suffix))
    with pytest.raises(StoreError, match="a broken link next to the database"):
        examine(path, create_folder=False)
    os.symlink(tmp_path / "gone-too", tmp_path / "link.db")
    with pytest.raises(StoreError, match="which does not exist"):
        examine(tmp_path / "link.db", create_folder=False)
