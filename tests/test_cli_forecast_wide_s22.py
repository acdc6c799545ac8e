"""QA s22 on `fleetcast forecast` text for a large fleet: 200 chip types made the table thousands of
characters wide and printed one note per order. The text folds now; JSON and CSV keep everything."""

import contextlib
import csv
import io
import json
import sys

import pytest

from engine.cli import main
from engine.forecast_text import NOTES_SHOWN, PIPE_COLUMNS, condense_notes, text_columns
from tests.case_files import write_csv

CHIP_TYPES = 200
ARGV = ["forecast", "--trials", "100", "--months", "24"]
LONGEST_TABLE_LINE = 130


def _big_fleet_files(folder):
    """200 chip types, one order each: the odd ones resold by NVIDIA with their lot overdue (NVIDIA's
    latest delivery is 2025-01-01) and 500 chips unscheduled; the even ones from their maker,
    which has no delivery-risk profile."""
    chips = write_csv(folder / "chips.csv", ["id", "vendor", "name", "year", "bf16_tflops", "hbm_gb", "hbm_gbps",
                                             "price_usd"],
                      [[f"bigchip-{i:03d}", "Bigco", f"Big Chip {i:03d}", 2024, 400 + i, 96, 3000, 10000]
                       for i in range(CHIP_TYPES)])
    orders = []
    for i in range(CHIP_TYPES):
        quantity = 1000 + 10 * i
        if i % 2:
            orders.append(["Me", "NVIDIA", f"bigchip-{i:03d}", quantity + 500, "2024-06-01",
                           f"2024-09-01:{quantity}", "2025-01-01:10"])
        else:
            orders.append(["Me", "Bigco", f"bigchip-{i:03d}", quantity, "2024-06-01", f"2025-03-01:{quantity}", ""])
    orders_csv = write_csv(folder / "orders.csv", ["buyer", "vendor", "chip_id", "quantity", "order_date", "promised",
                                                   "deliveries"], orders)
    return chips, orders_csv


def _cli(*argv) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def big_fleet(tmp_path_factory):
    """The forecast of the big fleet in each format (run once: a module fixture, in its own folders)."""
    folder = tmp_path_factory.mktemp("wide")
    with pytest.MonkeyPatch.context() as env:
        for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            env.setenv(name, str(folder / name.lower()))
        env.setenv("FLEETCAST_LOG_DIR", str(folder / "logs"))
        db = str(folder / "big.db")
        env.setenv("FLEETCAST_DB", db)
        chips, orders = _big_fleet_files(folder)
        _cli("--db", db, "chips", "import", str(chips))
        _cli("--db", db, "orders", "import", str(orders))
        outputs = {fmt: _cli("--db", db, "--format", fmt, *ARGV) for fmt in ("table", "json", "csv")}
        env.setattr("engine.forecast_text.PIPE_COLUMNS", 80)
        outputs["narrow"] = _cli("--db", db, *ARGV)
    return outputs


def _table_part(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("month "))
    return lines[start:]


def test_the_table_of_200_chip_types_fits_the_width(big_fleet):
    text = big_fleet["table"]
    table = _table_part(text)
    assert max(len(line) for line in table) <= min(PIPE_COLUMNS, LONGEST_TABLE_LINE)
    assert len(text) < 40_000   # 285,000 characters before
    # the 5 largest chip types by installed P50 at the end keep a column; the other 198 are summed
    assert ("table: installed P50 of the 5 chip types with the most in 2026-04; the other 198 summed in one "
            "column; --format json/csv has every chip") in text
    headers = " ".join(line for line in table if line.startswith("month "))
    assert "installed_p50_chips_other (198 chip types)" in headers
    assert "installed_p50_chips_bigchip-199" in headers and "installed_p50_chips_bigchip-000" not in headers
    # every column of the monthly table is still there, in blocks led by the month
    for column in ("installed_p10_chips", "pflops_p50", "capacity_p50_chips_ascend-910b2", "prob_meet_demand"):
        assert column in headers
    narrow = _table_part(big_fleet["narrow"])
    assert max(len(line) for line in narrow) <= 80


def test_the_other_column_sums_the_folded_chip_types(big_fleet):
    data = json.loads(big_fleet["json"])
    last = {chip: series["installed_p50"][-1] for chip, series in data["by_chip"].items()}
    shown = sorted(last, key=lambda chip: -last[chip])[:5]
    other = sum(v for chip, v in last.items() if chip not in shown)
    block = next(b for b in big_fleet["table"].split("\n\n") if "installed_p50_chips_other" in b)
    header, *rows = block.splitlines()
    last_month = rows[-1][header.index("installed_p50_chips_other"):].split()[0]
    assert abs(float(last_month) - other) <= 0.1 * len(last)   # each P50 rounded to 0.1 in the JSON


def test_notes_of_one_kind_fold_beyond_five(big_fleet):
    text = big_fleet["table"]
    notes = [line for line in text.splitlines() if line.startswith("note: ")]
    overdue = [n for n in notes if "are counted as late" in n or "(counted as late)" in n]
    # the largest first: bigchip-199's 2,980 late chips, then 197's ...
    assert [n.split(":")[1] for n in overdue[:NOTES_SHOWN]] == [
        f" order {2 * i + 5} (bigchip-{2 * i + 1:03d})" for i in (99, 98, 97, 96, 95)]
    # 100 overdue orders: 5 shown, 95 counted (sum of 1,000 + 10 i - 10 late chips over odd i < 190)
    assert overdue[NOTES_SHOWN] == ("note: ... and 95 more orders with 184,300 chips due before 2025-01-01 "
                                    "(counted as late); --format json lists them all")
    assert ("note: ... and 95 more orders with 47,500 chips that have no promised date; --format json lists them "
            "all") in notes
    # the 100 Bigco orders with no delivery-risk profile: one line for the vendor, a few ids, the count
    risk = [n for n in notes if n.startswith("note: NO DELIVERY RISK: Bigco orders 4, 6, 8, 10, 12 and 95 more (")]
    assert len(risk) == 1 and "bigchip-000, bigchip-002" in risk[0] and "chips outstanding" in risk[0]
    # one note per chip type from the serving engine (INT8 weight-only) folds by its shape
    assert "note: ... and 195 more notes like the 5 above; --format json lists them all" in notes
    # and the steady-state rates of 203 chip types are cut to five
    steady = next(n for n in notes if "serving capacity is the steady state" in n)
    assert "(198 more; --format json lists them all) output tokens/s per chip" in steady
    assert len(notes) < 40   # 503 before


def test_json_and_csv_keep_every_chip_and_note(big_fleet):
    data = json.loads(big_fleet["json"])
    assert len(data["by_chip"]) == CHIP_TYPES + 3   # and the story's three
    assert sum("are counted as late" in n for n in data["throughput_notes"]) == CHIP_TYPES // 2
    assert len(data["assumptions"]["no_delivery_risk"]) == 1   # one line per vendor (Bigco)
    header = next(csv.reader(io.StringIO(big_fleet["csv"])))
    assert sum(h.startswith("installed_p50_chips_") for h in header) == CHIP_TYPES + 3
    assert not any("other" in h for h in header)


def test_the_story_text_is_as_before(capsys, tmp_path):
    """Three chip types and a few notes: a column per chip, in blocks that fit; every note in full."""
    db = str(tmp_path / "story.db")
    assert main(["--db", db, *ARGV]) == 0
    text = capsys.readouterr().out
    assert main(["--db", db, "--format", "json", *ARGV]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(["--db", db, "--format", "csv", *ARGV]) == 0
    header = next(csv.reader(io.StringIO(capsys.readouterr().out)))
    # three chip types: no column folded, but the 464-character table is cut into blocks that
    # fit, each led by the month, holding every column of the CSV once and every month
    table = _table_part(text)
    assert max(len(line) for line in table) <= PIPE_COLUMNS
    heads = [line.split() for line in table if line.startswith("month ")]
    assert len(heads) > 1 and all(h[0] == "month" for h in heads)
    assert ["month"] + [c for h in heads for c in h[1:]] == header[:-3]
    assert header[-3:] == ["scenario", "trials", "seed"]     # the run's context on every CSV row
    assert len(table) == len(heads) * (2 + len(data["months"])) + (len(heads) - 1)   # a blank line between
    assert "table:" not in text and "..." not in text
    notes = [line[len("note: "):] for line in text.splitlines() if line.startswith("note: ")]
    assert notes == data["throughput_notes"] + data["assumptions"]["no_delivery_risk"]


def test_a_few_notes_of_a_kind_are_all_shown_and_own_risk_notes_fold():
    notes = [f"order {i} (x): has a delivery risk of its own" for i in range(NOTES_SHOWN + 1)]
    assert condense_notes(notes, dict.fromkeys(notes, "own_risk")) == notes   # folding 1 would save nothing
    notes = [f"order {i} (x): {i * 100:,} chips: its own risk" for i in range(12)] + ["another note"]
    out = condense_notes(notes, dict.fromkeys(notes[:-1], "own_risk"))
    assert out[:NOTES_SHOWN] == [notes[i] for i in (11, 10, 9, 8, 7)]   # the most chips first
    assert out[NOTES_SHOWN:] == ["... and 7 more orders with a delivery risk of their own (not their vendor's); "
                                 "--format json lists them all", "another note"]


def test_the_width_is_the_terminals_or_a_fixed_cap(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert text_columns() == PIPE_COLUMNS
    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setenv("COLUMNS", "90")
    assert text_columns() == 90
