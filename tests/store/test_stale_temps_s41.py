"""A `backup` or `restore` killed with -9 left its hidden copy (as large as the database) and its
journal beside the target through every later run (QA s41). The next backup to that name, or
restore onto that database, removes its own kind of leftovers once an hour old; a young one (another
program may be writing it now) and every other file stay."""

import os
import time

from engine.store import open_store
from engine.store.transfer import restore_backup


def _leftover(path, age_s):
    path.write_bytes(b"x" * 100)
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def test_backup_and_restore_sweep_their_own_old_leftovers_only(tmp_path):
    db = tmp_path / "fleet.db"
    store = open_store(db)
    copy = tmp_path / "fleet-copy.db"
    stale_backup = [_leftover(tmp_path / ".fleet-copy.db.ab12cd34.tmp", 7200),
                    _leftover(tmp_path / ".fleet-copy.db.ab12cd34.tmp-journal", 7200)]
    young = _leftover(tmp_path / ".fleet-copy.db.zz99yy88.tmp", 60)
    others = [_leftover(tmp_path / ".fleet-copy.db.notours.tmp", 7200),      # not mkstemp's 8 characters
              _leftover(tmp_path / "fleet-copy.db.ab12cd34.tmp", 7200),        # not hidden
              _leftover(tmp_path / ".other.db.ab12cd34.tmp", 7200)]            # another name's
    try:
        store.backup_to(copy)
    finally:
        store.close()
    assert copy.exists() and not any(p.exists() for p in stale_backup)
    assert young.exists() and all(p.exists() for p in others)

    stale_restore = [_leftover(tmp_path / ".fleet.db.qw12er34.restoring", 7200),
                     _leftover(tmp_path / ".fleet.db.qw12er34.restoring-journal", 7200),
                     _leftover(tmp_path / "..fleet.db.qw12er34.restoring.as56df78.tmp", 7200)]
    young_restore = _leftover(tmp_path / ".fleet.db.rt56yu78.restoring", 60)
    restore_backup(copy, db, force=True)
    assert not any(p.exists() for p in stale_restore)
    assert young_restore.exists() and all(p.exists() for p in others)
