"""What Fleetcast exports imports back exactly, and counts are never read two ways (QA round s19).

Each test here failed on the code before the fix: '100.000' was stored as 100 chips, empty delivery
notes came back as 'imported', an order with long notes exported a cell the import called
malformed, an id-less order after id 2^53 - 1 got an id no import takes, and `orders list` printed
a note's line breaks into the table.
"""

import csv
import json

import pytest

from engine.cli import main
from engine.csv_io import CsvReader
from engine.errors import UserError
from engine.store import open_store
from engine.store.transfer import ORDER_ID_MAX

ORDER_HEADER = ["id", "buyer", "vendor", "chip_id", "quantity", "order_date", "price_usd_per_chip", "deliveries",
                "delivery_notes", "note"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fleetcast: error: "), err
    return lines[0]


def write_orders(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ORDER_HEADER)
        writer.writeheader()
        for row in rows:
            writer.writerow({"id": "", "buyer": "Acme", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": "100",
                             "order_date": "2024-01-01", "price_usd_per_chip": "", "deliveries": "",
                             "delivery_notes": "", "note": "", **row})
    return path


def notes_by_lot(db_path, buyer="Acme"):
    store = open_store(db_path)
    try:
        ids = {o.id for o in store.orders() if o.buyer == buyer}
        return sorted((d["date"], d["quantity"], d["note"]) for d in store.delivery_rows() if d["order_id"] in ids)
    finally:
        store.close()


# ---- 1. a whole number with a point and three digits ---------------------------------------------

@pytest.mark.parametrize("column, cell, shown", [
    ("quantity", "100.000", "'100.000'"),
    ("deliveries", "2024-02-01:30.000", "'30.000'"),
    ("quantity", "2.000", "'2.000'"),
])
def test_a_count_written_with_a_point_and_three_digits_is_refused(capsys, tmp_path, column, cell, shown):
    """'100.000' is 100,000 in much of Europe: it was stored as 100 chips with exit 0."""
    db = str(tmp_path / "eu.db")
    path = write_orders(tmp_path / "eu.csv", [{column: cell}])
    code, _, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 1
    line = one_line_error(err)
    assert f"eu.csv row 2, column {column}: {shown}" in line and "whole number" in line
    store = open_store(db)
    try:
        assert not [o for o in store.orders() if o.buyer == "Acme"]
    finally:
        store.close()


def test_a_chip_count_with_a_point_and_three_digits_is_refused_and_prices_keep_their_decimals(capsys, tmp_path):
    db = str(tmp_path / "c.db")
    chips = tmp_path / "c.csv"
    chips.write_text("id,vendor,name,bf16_tflops,hbm_gb,hbm_gbps,scaleup_domain\nnewchip,Acme,New,100,80,2000,8.000\n")
    code, _, err = run(capsys, "--db", db, "chips", "import", str(chips))
    assert code == 1 and "c.csv row 2, column scaleup_domain: '8.000'" in one_line_error(err)
    # a price is a fraction, not a count: 12.500 is 12.5 dollars as before; 100.0 chips is 100
    path = write_orders(tmp_path / "ok.csv", [{"quantity": "100.0", "price_usd_per_chip": "12.500"}])
    code, _, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 0, err
    store = open_store(db)
    try:
        order = next(o for o in store.order_rows() if o["buyer"] == "Acme")
    finally:
        store.close()
    assert (order["quantity"], order["price_usd_per_chip"]) == (100, 12.5)


# ---- 2. empty delivery notes survive a round trip ------------------------------------------------

def test_empty_delivery_notes_are_empty_after_export_and_import_into_a_fresh_database(capsys, tmp_path):
    first, second = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    path = write_orders(tmp_path / "o.csv", [
        {"deliveries": "2024-02-01:10;2024-03-01:20", "delivery_notes": '["", ""]'},
        {"buyer": "Beta", "deliveries": "2024-02-01:5", "delivery_notes": '["imported"]'},
    ])
    assert run(capsys, "--db", first, "orders", "import", str(path))[0] == 0
    assert notes_by_lot(first) == [("2024-02-01", 10, ""), ("2024-03-01", 20, "")]
    out = tmp_path / "out.csv"
    assert run(capsys, "--db", first, "orders", "export", str(out))[0] == 0
    fresh = open_store(second)
    for order_id in [o.id for o in fresh.orders()]:
        fresh.delete_order(order_id)
    fresh.close()
    code, _, err = run(capsys, "--db", second, "orders", "import", str(out))
    assert code == 0, err
    assert notes_by_lot(second) == notes_by_lot(first)
    assert notes_by_lot(second, "Beta") == [("2024-02-01", 5, "imported")]
    # a blank cell is still written where it imports the same notes
    beta = next(r for r in csv.DictReader(open(out, encoding="utf-8")) if r["buyer"] == "Beta")
    assert beta["delivery_notes"] == ""


# ---- 3. a long notes cell Fleetcast wrote imports back -------------------------------------------

def test_an_order_with_long_delivery_notes_exports_and_imports_back(capsys, tmp_path):
    """24 lots with 8,000-character notes (each within the 10,000 limit): one ~190K-character
    cell, refused as 'malformed CSV (field larger than field limit (131072))'."""
    first, second = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    lots = ";".join(f"2024-02-{day:02d}:1" for day in range(1, 25))
    notes = [f"lot {day}; " + "x" * 7990 for day in range(1, 25)]
    path = write_orders(tmp_path / "o.csv", [{"deliveries": lots, "delivery_notes": json.dumps(notes)}])
    code, _, err = run(capsys, "--db", first, "orders", "import", str(path))
    assert code == 0, err
    out = tmp_path / "out.csv"
    assert run(capsys, "--db", first, "orders", "export", str(out))[0] == 0
    code, _, err = run(capsys, "--db", second, "orders", "import", str(out), "--replace")
    assert code == 0, err
    assert notes_by_lot(second) == notes_by_lot(first) and len(notes_by_lot(second)) == 24


def test_a_cell_past_the_limit_is_named_as_too_long_on_its_row(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text('id,note\n1,short\n2,"' + "y" * 50 + '\n' + "y" * 2000 + '"\n')
    with pytest.raises(UserError) as info:
        with CsvReader(path, columns=["id", "note"], max_cell_chars=1000) as reader:
            list(reader.rows())
    assert str(info.value).endswith("long.csv row 3: a cell longer than 1,000 characters (the limit for one cell; "
                                    "nothing imported)")
    with CsvReader(path, columns=["id", "note"]) as reader:   # the default takes it
        assert len(list(reader.rows())[1][1]["note"]) == 2051


# ---- 4. the ids the database hands out import back -----------------------------------------------

def test_no_order_id_is_handed_out_past_the_largest_an_import_takes(capsys, tmp_path):
    """QA: a file gave 2^53 - 1, the next id-less order got 2^53, and the database's own export was
    then refused ('an order id is a whole number from 1 to 9,007,199,254,740,991')."""
    db = str(tmp_path / "big.db")
    path = write_orders(tmp_path / "big.csv", [{"id": str(ORDER_ID_MAX - 1)}])
    assert run(capsys, "--db", db, "orders", "import", str(path))[0] == 0
    path = write_orders(tmp_path / "next.csv", [{"buyer": "Next"}, {"buyer": "Then"}])
    code, _, err = run(capsys, "--db", db, "orders", "import", str(path), "--format", "json")
    assert code == 1 and f"no id left for a new row (ids up to {ORDER_ID_MAX:,} have been given)" in one_line_error(err)
    store = open_store(db)
    try:
        assert store.order_count() == 4   # the import took nothing
        last = store.add_order({"buyer": "W", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 1,
                                "order_date": "2024-01-01"})
        assert last == ORDER_ID_MAX
        with pytest.raises(UserError, match="no id left"):
            store.add_order({"buyer": "W", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 1,
                             "order_date": "2024-01-01"})
    finally:
        store.close()
    out_path = tmp_path / "out.csv"
    assert run(capsys, "--db", db, "orders", "export", str(out_path))[0] == 0
    code, _, err = run(capsys, "--db", str(tmp_path / "fresh.db"), "orders", "import", str(out_path), "--replace")
    assert code == 0, err


# ---- 5. line breaks in a table -------------------------------------------------------------------

def test_orders_list_table_shows_a_notes_line_breaks_as_a_marker(capsys, tmp_path):
    db = str(tmp_path / "n.db")
    path = write_orders(tmp_path / "n.csv", [{"note": "first line\nsecond line", "buyer": "Multi"}])
    assert run(capsys, "--db", db, "orders", "import", str(path))[0] == 0
    code, out, _ = run(capsys, "--db", db, "orders", "list")
    assert code == 0
    table = out.splitlines()
    store = open_store(db)
    try:
        assert len(table) == 2 + store.order_count()   # header, rule, one line per order
    finally:
        store.close()
    assert "first line \u23ce second line" in next(line for line in table if "Multi" in line)
    code, out, _ = run(capsys, "--db", db, "orders", "list", "--format", "json")
    assert next(o for o in json.loads(out) if o["buyer"] == "Multi")["note"] == "first line\nsecond line"
    code, out, _ = run(capsys, "--db", db, "orders", "list", "--format", "csv")
    assert next(r for r in csv.DictReader(out.splitlines(keepends=True)) if r["buyer"] == "Multi")["note"] == \
        "first line\nsecond line"
