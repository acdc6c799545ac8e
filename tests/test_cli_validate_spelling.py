"""A cases file as a spreadsheet or a person may write it reads as the schema file does."""

import csv
import io
import json
from pathlib import Path

import pytest

import engine.cli as cli

SHARED = Path(__file__).resolve().parents[2] / "shared" / "validation"


@pytest.fixture(autouse=True)
def catalog_only(monkeypatch):
    def no_store(self):
        raise ImportError("store not used in these tests")

    monkeypatch.setattr(cli.Context, "store", no_store)


def _predictions(capsys, kind, path):
    assert cli.main(["validate", kind, "--cases", str(path), "--format", "json"]) == 0
    return {c["id"]: (c["status"], c["predicted"]) for c in json.loads(capsys.readouterr().out)["cases"]}


def _respelled(src: Path, ids: set[str], tmp_path: Path) -> tuple[Path, Path]:
    """The rows `ids` as given, and as a spreadsheet writes them: upper-case padded headers, a BOM,
    CRLF, columns in another order, and integers with thousands separators."""
    rows = [r for r in csv.DictReader(src.open(encoding="utf-8")) if r["id"] in ids]
    assert len(rows) == len(ids)
    plain = tmp_path / "plain.csv"
    with plain.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cols = list(rows[0])[::-1]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([f" {c.upper()} " for c in cols])
    for r in rows:
        w.writerow([f"{int(r[c]):,}" if r[c].isdigit() else r[c] for c in cols])
    odd = tmp_path / "odd.csv"
    odd.write_text(out.getvalue(), encoding="utf-8-sig", newline="")
    return plain, odd


@pytest.mark.parametrize("kind, name, ids", [
    ("training", "training_public.csv", {"MBRIDGE-H100-15", "MCORE-H100-STRONG-02"}),
    ("inference", "inference_public.csv", {"inf-R0056", "inf-R0057"}),
])
def test_a_spreadsheet_written_cases_file_gives_the_same_predictions(capsys, tmp_path, kind, name, ids):
    src = SHARED / name
    if not src.exists():
        pytest.skip(f"{src} not found")
    plain, odd = _respelled(src, ids, tmp_path)
    assert '"1,024"' in odd.read_text(encoding="utf-8-sig") or '"2,048"' in odd.read_text(encoding="utf-8-sig")
    want = _predictions(capsys, kind, plain)
    assert all(status == "ok" for status, _ in want.values())
    assert _predictions(capsys, kind, odd) == want


def test_a_comma_that_is_not_thousands_grouping_is_an_error_naming_the_cell(capsys, tmp_path):
    src = SHARED / "training_public.csv"
    if not src.exists():
        pytest.skip(f"{src} not found")
    row = next(r for r in csv.DictReader(src.open(encoding="utf-8")) if r["id"] == "MBRIDGE-H100-15")
    path = tmp_path / "bad.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, list(row))
        w.writeheader()
        w.writerow({**row, "hidden": "4,09"})
    assert cli.main(["validate", "training", "--cases", str(path), "--format", "json"]) == 0
    case = json.loads(capsys.readouterr().out)["cases"][0]
    assert case["status"] == "error" and "hidden" in case["message"] and "4,09" in case["message"]
