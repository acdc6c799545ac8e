"""A test's own cases file: some rows of a public validation file, changed as the test needs."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable


def write_cases(source: Path, path: Path, keep: Callable[[dict], bool], change: Callable[[dict], None] | None = None,
                limit: int | None = None) -> Path:
    """The rows of `source` that `keep` accepts (the first `limit` of them), each passed through
    `change` (in place), written to `path` with the same header."""
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [r for r in reader if keep(r)][:limit]
        fields = reader.fieldnames or []
    for row in rows:
        if change is not None:
            change(row)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_csv(path: Path, header: list, rows: list) -> Path:
    """`header` and `rows` written to `path` as a UTF-8 CSV (a test's own import or cases file)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_chips_csv(path, rows: list[dict]) -> str:
    """A chips CSV with every catalog column (blank where a row has none), as `chips export` writes it."""
    import csv
    import io

    from engine.catalog import CHIP_FIELDS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CHIP_FIELDS))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in CHIP_FIELDS})
    path.write_text(out.getvalue())
    return str(path)
