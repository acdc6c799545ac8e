"""The store's own error: a database file that can't be used as asked."""

from engine.errors import UserError


class StoreError(UserError):
    """The database file can't be used as asked; the message names the file and what to do."""
