"""The only code that touches SQLite (via sqlite-utils). Imports no Qt.

`open_store(path)` returns a `Store` whose methods take and return plain dicts and engine
dataclasses; see `engine/store/store.py`. Which paths are opened and how: `engine/store/files.py`.
`transfer.restore_backup(backup, db, force=...)` puts a backup in place of a database that is
not open (imported when used: the CSV code it sits beside is not needed to open a database).
"""

from engine.store.errors import StoreError
from engine.store.files import default_db_path
from engine.store.store import Store, open_store

__all__ = ["Store", "StoreError", "default_db_path", "open_store"]
