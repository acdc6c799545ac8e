"""QA s36: an upgrade killed while copying the database left a hidden temporary copy as large as
the database beside it, kept through every later open. The next upgrade removes such leftovers of
its own once an hour old; anything else is left alone."""

import os
import time

from engine.store import open_store
from tests.old_db import old_database


def test_a_killed_upgrades_temporary_copy_is_swept_by_the_next(tmp_path):
    path = tmp_path / "fleet.db"
    old_database(path, 6)
    stale = tmp_path / ".fleet.pre-migration-20261201-101010.db.ab12cd34.tmp"
    stale_journal = tmp_path / ".fleet.pre-migration-20261201-101010-2.db.zz99yy88.tmp-journal"
    fresh = tmp_path / ".fleet.pre-migration-20261207-080000.db.qq11ww22.tmp"   # another upgrade, now
    other = tmp_path / ".fleet.pre-migration-notes.tmp"                            # not a name it makes
    someone = tmp_path / ".other.pre-migration-20261201-101010.db.ab12cd34.tmp"   # another database's
    hour_ago = time.time() - 2 * 3600
    for f in (stale, stale_journal, fresh, other, someone):
        f.write_bytes(b"x")
    for f in (stale, stale_journal, other, someone):
        os.utime(f, (hour_ago, hour_ago))
    store = open_store(path)
    try:
        assert store.backup_path is not None and store.backup_path.exists()   # it did upgrade
    finally:
        store.close()
    assert not stale.exists() and not stale_journal.exists()
    assert fresh.exists() and other.exists() and someone.exists()
