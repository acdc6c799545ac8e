"""The only code that touches SQLite (via sqlite-utils). Imports no Qt.

`open_store(path)` returns a `Store` whose methods take and return plain dicts and engine
dataclasses; see `engine/store/store.py`.
"""

from engine.store.store import Store, StoreError, default_db_path, open_store

__all__ = ["Store", "StoreError", "default_db_path", "open_store"]
