"""What the checks on open cost: medians of opening a seeded database and one with 100,000 more
orders (each with a delivery), split into SQLite's own page check and Fleetcast's checks
(schema against the migrations, text that is not UTF-8, values another tool wrote).

Usage: python bench/bench_open.py   (temporary folder; not a test: figures only, exit 0)
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store import boundary, open_store, schema, schema_check  # noqa: E402

RUNS = 5
EXTRA_ORDERS = 100_000


def median_s(action) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def grow(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executemany(
        "insert into orders (buyer, vendor, chip_id, quantity, order_date, promised, status) values (?,?,?,?,?,?,?)",
        [(f"buyer {i}", "NVIDIA", "h20-96gb", 10, "2025-01-01", "2025-03-01:10", "assumption")
         for i in range(EXTRA_ORDERS)])
    first_new = conn.execute("select min(id) from orders where buyer like 'buyer %'").fetchone()[0]
    conn.executemany("insert into deliveries (order_id, date, quantity) values (?,?,?)",
                     [(first_new + i, "2025-02-01", 5) for i in range(EXTRA_ORDERS)])
    conn.commit()
    conn.close()


def report(label: str, path: Path) -> None:
    applied = tuple(schema.known_migration_names())
    conn = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True)
    quick_s = median_s(lambda: conn.execute("PRAGMA quick_check").fetchone())
    schema_s = median_s(lambda: schema_check.problems(conn, list(applied)))
    values_s = median_s(lambda: boundary.check_file(conn, path, applied))
    conn.close()
    open_s = median_s(lambda: open_store(path).close())
    print(f"{label:<28} open {open_s * 1e3:8.1f} ms   quick_check {quick_s * 1e3:8.1f} ms   "
          f"schema {schema_s * 1e3:6.1f} ms   text+values {values_s * 1e3:8.1f} ms")


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["FLEETCAST_DB"] = str(Path(folder) / "unused.db")
        seeded = Path(folder) / "seeded.db"
        open_store(seeded).close()
        report("seeded (3 orders)", seeded)
        big = Path(folder) / "big.db"
        open_store(big).close()
        grow(big)
        report(f"+{EXTRA_ORDERS:,} orders", big)
    return 0


if __name__ == "__main__":
    sys.exit(main())
