"""Import parsing found by QA (s21): decimal commas read as thousands, a display export blamed on
semicolons, a delivery-risk profile named that does not exist, a 0 peak called blank, short rows
imported with blanks, and the same id-less row twice in one file imported unsaid."""

import re

import pytest

from engine.errors import ValidationError
from engine.store import open_store
from engine.store import transfer
from engine.validate import cell_float, check_chip, parse_float, parse_int, vendor_mismatch
from tests.case_files import write_csv

ORDER_HEADER = ["id", "buyer", "vendor", "chip_id", "quantity", "order_date", "promised"]
CHIP_HEADER = ["id", "vendor", "name", "bf16_tflops", "hbm_gb", "hbm_gbps"]


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "fleet.db")
    yield s
    s.close()




def _problem(exc_info) -> str:
    [problem] = exc_info.value.problems
    return problem


# ---- 1. a leading group of 0 is a decimal comma, not thousands ---------------------------------

@pytest.mark.parametrize("text", ["0,125", "-0,500", "00,125", "+0,950", "0,512"])
def test_a_decimal_comma_with_three_digits_is_refused_not_read_as_thousands(text):
    with pytest.raises(ValueError):
        cell_float(text)
    with pytest.raises(ValidationError, match=rf"^fp32_tflops: '{re.escape(text)}' \(not a number\)$"):
        parse_float("fp32_tflops", text, minimum=None)


@pytest.mark.parametrize(("text", "number"), [("1,500", 1500.0), ("8,192", 8192.0), ("-1,500", -1500.0),
                                              ("12,345,678.5", 12345678.5), ("100,000", 100000.0)])
def test_thousands_grouping_still_reads(text, number):
    assert cell_float(text) == number
    assert parse_float("x", text, minimum=None) == number
    assert parse_int("quantity", "1,500", minimum=1) == 1500


def test_an_imported_chip_and_order_price_with_a_decimal_comma_are_refused_naming_row_field_value(store, tmp_path):
    chips = write_csv(tmp_path / "c.csv", CHIP_HEADER + ["fp32_tflops"], [["y10", "V", "Y", "500", "64", "1000", "0,125"]])
    with pytest.raises(ValidationError) as info:
        transfer.import_chips(store, chips)
    assert _problem(info) == "c.csv row 2, column fp32_tflops: '0,125' (not a number)"
    assert "y10" not in {c["id"] for c in store.chip_rows()}
    orders = write_csv(tmp_path / "o.csv", ORDER_HEADER + ["price_usd_per_chip"],
                    [["", "Me", "Huawei", "ascend-910b2", "50", "2025-01-01", "", "0,950"]])
    before = store.order_rows()
    with pytest.raises(ValidationError) as info:
        transfer.import_orders(store, orders)
    assert _problem(info) == "o.csv row 2, column price_usd_per_chip: '0,950' (not a number)"
    assert store.order_rows() == before


# ---- 2. a display export is named as one, semicolons only when the header is one cell ----------

def test_a_display_export_is_named_not_blamed_on_semicolons(store, tmp_path):
    header = ["ID", "Buyer", "Vendor", "Chip", "Quantity (chips)", "Delivered (chips)", "Ordered (date)",
              "Promised (date:chips; …)", "Price (USD/chip)", "Status", "Source", "Note"]
    path = write_csv(tmp_path / "fleet_orders.csv", header, [[3, "B", "NVIDIA", "h20-96gb", 10, 0, "2024-01-01",
                                                           "2024-06-01:5;2024-09-01:5", 1, "assumption", "", ""]])
    with pytest.raises(ValidationError) as info:
        transfer.import_orders(store, path)
    problem = _problem(info)
    assert "semicolon" not in problem
    assert problem == ("fleet_orders.csv header: a display export (column 'Quantity (chips)'): its columns are the "
                       "view's, not the import format; `fleetcast orders export` writes a file that imports")
    chips = write_csv(tmp_path / "fleet_chips.csv", ["ID", "Vendor", "Name", "BF16 (TFLOP/s)", "HBM (GiB)"],
                   [["y1", "V", "Y", "500", "64"]])
    with pytest.raises(ValidationError, match=r"display export \(column 'BF16 \(TFLOP/s\)'\).*`fleetcast chips "
                                              r"export`"):
        transfer.import_chips(store, chips)
    # one bracketed column of the user's own is just an unknown column
    own = write_csv(tmp_path / "own.csv", CHIP_HEADER + ["notes (internal)"], [["y1", "V", "Y", "500", "64", "1", ""]])
    with pytest.raises(ValidationError) as info:
        transfer.import_chips(store, own)
    assert _problem(info) == "own.csv header: column 'notes (internal)' is not a chip field"


def test_a_semicolon_header_in_capitals_is_still_named(store, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(";".join(h.upper() for h in ORDER_HEADER) + "\n;A;NVIDIA;h20-96gb;5;2025-01-01;\n",
                    encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        transfer.import_orders(store, path)
    assert _problem(info).startswith("o.csv header: the columns are separated by semicolons;")


# ---- 3. the vendor warning names the profile the forecast applies ------------------------------

def test_the_vendor_warning_names_the_makers_profile_when_the_vendor_has_none(store, tmp_path):
    path = write_csv(tmp_path / "hv.csv", ORDER_HEADER,
                  [["", "Me", "Huawei Technologies", "ascend-910b2", "50000", "2025-01-01", "2025-06-01:50000"]])
    summary = transfer.import_orders(store, path)
    assert summary.warnings == ["hv.csv row 2: vendor 'Huawei Technologies' is not the vendor of chip ascend-910b2 "
                                "(Huawei); the forecast gives this order Huawei's delivery risk (no profile is "
                                "named 'Huawei Technologies')"]


def test_the_vendor_warning_follows_the_forecasts_rule():
    from engine.forecast import OrderUncertainty, effective_uncertainty

    # a vendor with its own profile keeps it (as effective_uncertainty gives it)
    assert vendor_mismatch("NVIDIA", "ascend-910b2", "Huawei", ["Huawei", "NVIDIA"]).endswith(
        "the forecast gives this order NVIDIA's delivery risk")
    # neither the vendor nor the maker has one: the default
    assert vendor_mismatch("Acme", "x1", "Zeta", ["Huawei"]).endswith(
        "the forecast gives this order the default delivery risk (no profile for 'Acme' or Zeta)")
    maker = OrderUncertainty(extra_delay_days=30.0)
    assert effective_uncertainty(None, "Acme", OrderUncertainty(), {"Zeta": maker}, {}, "Zeta") is maker
    assert "Zeta's delivery risk (no profile is named 'Acme')" in vendor_mismatch("Acme", "x1", "Zeta", ["Zeta"])
    assert vendor_mismatch("huawei", "ascend-910b2", "Huawei", ["Huawei"]) == ""


# ---- 4. a 0 peak is named by its value --------------------------------------------------------

def test_a_chip_with_a_zero_peak_is_refused_naming_the_zero():
    row = {"id": "y11", "vendor": "V", "name": "Y", "bf16_tflops": "0", "hbm_gb": "64", "hbm_gbps": "100"}
    with pytest.raises(ValidationError) as info:
        check_chip(row)
    assert _problem(info) == "bf16_tflops: '0' (a chip needs at least one of bf16/fp16/fp8/int8 peak above 0)"
    with pytest.raises(ValidationError, match=r"^bf16_tflops: blank "):
        check_chip({**row, "bf16_tflops": ""})
    with pytest.raises(ValidationError, match=r"^fp8_tflops: '0.0' "):
        check_chip({**row, "bf16_tflops": "", "fp8_tflops": "0.0"})


# ---- 5. a row with fewer cells than the header is refused -------------------------------------

def test_a_chip_row_with_fewer_cells_than_the_header_is_refused(store, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(",".join(CHIP_HEADER) + "\ny10,V,Y,500,64\n", encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        transfer.import_chips(store, path)
    assert _problem(info) == "c.csv row 2: 5 cells, the header has 6"
    assert "y10" not in {c["id"] for c in store.chip_rows()}


def test_an_order_row_with_fewer_cells_than_the_header_is_refused(store, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(",".join(ORDER_HEADER) + "\n,Me,Huawei,ascend-910b2,50,2025-01-01,\n,Me,Huawei,ascend-910b2,50\n",
                    encoding="utf-8")
    before = store.order_rows()
    with pytest.raises(ValidationError) as info:
        transfer.import_orders(store, path)
    assert _problem(info) == "o.csv row 3: 5 cells, the header has 7"
    assert store.order_rows() == before


# ---- 6. the same id-less row twice in one file is said ----------------------------------------

def test_the_same_id_less_order_twice_in_one_file_is_warned(store, tmp_path):
    row = ["", "Me", "Huawei", "ascend-910b2", "50", "2025-01-01", "2025-06-01:50"]
    path = write_csv(tmp_path / "o.csv", ORDER_HEADER, [row, [*row[:4], "60", *row[5:]], row])
    summary = transfer.import_orders(store, path)
    assert len(summary.added) == 3
    assert summary.warnings == ["o.csv row 4: the same as row 2 in every field and delivery; added as another "
                                "order (pasted twice?)"]


def test_many_repeated_rows_are_counted_and_the_first_three_named(store, tmp_path):
    a = ["", "Me", "Huawei", "ascend-910b2", "50", "2025-01-01", ""]
    b = [*a[:4], "70", *a[5:]]
    c = [*a[:4], "90", *a[5:]]
    path = write_csv(tmp_path / "o.csv", ORDER_HEADER, [b, a, c, a, b, a, c, b])   # lines 2..9
    summary = transfer.import_orders(store, path)
    assert summary.warnings == [
        "o.csv row 5: the same as row 3 in every field and delivery; added as another order (pasted twice?)",
        "o.csv row 6: the same as row 2 in every field and delivery; added as another order (pasted twice?)",
        "o.csv row 7: the same as row 3 in every field and delivery; added as another order (pasted twice?)",
        "o.csv: 2 more rows equal an earlier row the same way"]


def test_the_other_kinds_file_is_named_in_one_line(tmp_path, capsys):
    """A chips export given to `orders import` read "29 problems: column 'name' is not an order field; ..."."""
    from engine.cli import main

    db = str(tmp_path / "k.db")
    chips, orders = tmp_path / "chips.csv", tmp_path / "orders.csv"
    assert main(["--db", db, "chips", "export", str(chips)]) == 0
    assert main(["--db", db, "orders", "export", str(orders)]) == 0
    capsys.readouterr()
    assert main(["--db", db, "orders", "import", str(chips)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "this is a chips file, not an orders file" in err and "`fleetcast chips import`" in err
    assert main(["--db", db, "chips", "import", str(orders)]) == 1
    err = capsys.readouterr().err.strip()
    assert "this is an orders file, not a chips file" in err and "`fleetcast orders import`" in err


def test_an_export_all_table_and_a_long_row_are_named(tmp_path, capsys):
    from engine.cli import main

    db = str(tmp_path / "t.db")
    table = tmp_path / "plan_orders.csv"
    table.write_text("# Table: orders\n# Scenario: Story default\nChip,Quantity (chips)\nH20,5\n", encoding="utf-8")
    assert main(["--db", db, "orders", "import", str(table)]) == 1
    assert "is a display export (Export all's table" in capsys.readouterr().err
    long = tmp_path / "long.csv"
    long.write_text("buyer,vendor,chip_id,quantity,order_date\nA,NVIDIA,h20-96gb,10,2024-01-01,extra\n",
                    encoding="utf-8")
    assert main(["--db", db, "orders", "import", str(long)]) == 1
    assert "row 2: 6 cells, the header has 5" in capsys.readouterr().err
