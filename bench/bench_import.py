"""Orders import and listing at scale: 100,000 orders with a delivery each, in a temporary folder.

Prints the median of a few runs for: the import (streamed and validated row by row inside one
transaction), peak traced memory of one import, a CSV export of everything, and the first page
of `orders list`. Figures, not a timed test; exits 0. Usage: python bench/bench_import.py [ROWS] [RUNS]
"""

from __future__ import annotations

import csv
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store import open_store  # noqa: E402

HEADER = ["buyer", "vendor", "chip_id", "quantity", "order_date", "price_usd_per_chip", "note", "deliveries"]


def write_orders(path: Path, rows: int) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            month = 1 + i % 12
            writer.writerow([f"Buyer {i % 97}", "NVIDIA", "h20-96gb", 100 + i % 900, f"2024-{month:02d}-01", 12500,
                             f"bench row {i}", f"2025-{month:02d}-15:50"])


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(prefix="fleetcast-bench-import-") as tmp:
        base = Path(tmp)
        source = base / "orders.csv"
        write_orders(source, rows)
        size_mb = source.stat().st_size / 1e6
        import_s, export_s, page_s = [], [], []
        for run in range(runs):
            store = open_store(base / f"run{run}.db")
            try:
                start = time.perf_counter()
                summary = store.import_orders(source)
                import_s.append(time.perf_counter() - start)
                assert summary.count == rows
                start = time.perf_counter()
                store.export_orders_csv(base / f"export{run}.csv")
                export_s.append(time.perf_counter() - start)
                start = time.perf_counter()
                page = list(store.iter_orders(limit=100))
                page_s.append(time.perf_counter() - start)
                assert len(page) == 100
            finally:
                store.close()
        store = open_store(base / "traced.db")
        try:
            tracemalloc.start()
            store.import_orders(source)
            peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        finally:
            store.close()
    median = statistics.median
    print(f"orders import, {rows:,} rows ({size_mb:.1f} MB CSV), median of {runs}: {median(import_s):.2f} s "
          f"({median(import_s) / rows * 1e6:.0f} us/row); peak traced memory {peak_mb:.1f} MB")
    print(f"orders export of {rows + 3:,} orders: {median(export_s):.2f} s; first page of `orders list` (100 rows): "
          f"{median(page_s) * 1e3:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
