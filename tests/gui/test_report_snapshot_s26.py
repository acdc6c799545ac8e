"""A report is one snapshot of the database: a change while it is made refuses it (QA: the
forecast had the orders, the plan paragraph and the orders table had none)."""

import pytest

from engine.errors import UserError
from engine.store import open_store
from gui import report


class _Panel:
    """A view whose computing takes a while; `during` runs meanwhile (another program's write)."""

    def __init__(self, during=None):
        self.during = during

    def tables(self):
        if self.during:
            self.during()
        return {}

    def charts(self):
        return {}


def test_a_database_changed_while_the_report_is_made_is_refused(tmp_path, qapp):
    path = tmp_path / "r.db"
    store = open_store(path)
    before = len(store.order_rows())
    assert before > 0

    def other_program_deletes_an_order():
        other = open_store(path)
        try:
            other.db.conn.execute("DELETE FROM deliveries WHERE order_id = 1")
            other.db.conn.execute("DELETE FROM orders WHERE id = 1")
            other.db.conn.commit()
        finally:
            other.close()

    out = tmp_path / "r.pdf"
    try:
        with pytest.raises(UserError, match="the database changed while the report was being made"):
            report.write_report(store, {"forecast": _Panel(other_program_deletes_an_order)}, "Test", {}, out)
        assert not out.exists()
        # unchanged meanwhile: written
        result = report.write_report(store, {"forecast": _Panel()}, "Test", {}, out)
        assert result.path == out and out.stat().st_size > 0
    finally:
        store.close()


def test_a_change_before_the_views_are_computed_counts_too(tmp_path, qapp):
    """`fleetcast report` reads the scenario and builds its views before computing them: an order
    imported in between reached the orders table but not the forecast (QA). The version taken
    first is the one compared."""
    path = tmp_path / "r.db"
    store = open_store(path)
    try:
        version = report.store_version_of(store)
        other = open_store(path)
        other.db.conn.execute("DELETE FROM deliveries WHERE order_id = 1")
        other.db.conn.execute("DELETE FROM orders WHERE id = 1")
        other.db.conn.commit()
        other.close()
        with pytest.raises(UserError, match="the database changed"):
            report.write_report(store, {"forecast": _Panel()}, "Test", {}, tmp_path / "r.pdf", store_version=version)
        assert not (tmp_path / "r.pdf").exists()
    finally:
        store.close()
