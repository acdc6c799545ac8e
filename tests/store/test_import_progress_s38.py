"""A large import says how far it is and can be stopped: stopped, nothing is written (the whole
import is one transaction, as a refused file is)."""

import csv

import pytest

from engine.errors import Cancelled
from engine.store import open_store

HEADER = ["buyer", "vendor", "chip_id", "quantity", "order_date", "price_usd_per_chip", "note", "deliveries"]


def _orders_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            writer.writerow([f"Buyer {i}", "NVIDIA", "h20-96gb", 100 + i, "2024-01-01", 12500, "", "2024-06-15:50"])


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "x.db")
    yield s
    s.close()


def test_progress_runs_from_0_to_1_through_named_phases(store, tmp_path):
    _orders_csv(tmp_path / "o.csv", 3500)
    seen = []
    summary, _before, after = store.import_with_snapshots("orders", tmp_path / "o.csv",
                                                          progress=lambda f, m: seen.append((f, m)))
    assert summary.count == 3500 and len(after["orders"]) == 3500
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 0.9
    reading = [f for f, m in seen if m.startswith("Checking")]
    assert len(reading) == 1 + 3   # the phase's start, then every 1,000 rows
    assert 0.1 < reading[-1] < 0.9   # at 3,000 of 3,500 rows: most of the file read
    assert [m for _, m in seen][-1] == "Keeping the changed rows for undo…"


def test_a_stop_part_way_writes_nothing(store, tmp_path):
    _orders_csv(tmp_path / "o.csv", 2500)
    before = len(store.orders())

    def stop_at_2000_rows(fraction, message):
        if fraction > 0.1:
            raise Cancelled()

    with pytest.raises(Cancelled):
        store.import_with_snapshots("orders", tmp_path / "o.csv", progress=stop_at_2000_rows)
    assert len(store.orders()) == before
    # and the store takes the same file afterwards, whole
    summary, *_ = store.import_with_snapshots("orders", tmp_path / "o.csv")
    assert summary.count == 2500 and len(store.orders()) == before + 2500


def test_without_a_progress_hook_nothing_changes(store, tmp_path):
    _orders_csv(tmp_path / "o.csv", 1200)
    assert store.import_orders(tmp_path / "o.csv").count == 1200
