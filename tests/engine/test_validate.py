"""The validation layer: every bad value is rejected with its field named; nothing else escapes."""

import datetime as dt
import math

import pytest
from hypothesis import given, settings, strategies as st

from engine.catalog import CHIP_FIELDS, CHIP_FLOAT_FIELDS
from engine.errors import ValidationError
from engine.validate import (
    check_chip, check_delivery, check_model, check_order, parse_schedule,
)

hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "-1", "0", "1e400", "nan", "inf", "-inf", "1,5", "12abc", "２０", "NULL",
                     "'; drop table chips; --", "\x00", "9" * 400, "1e-400", "true", "2024-02-30"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-10**20, max_value=10**20),
    st.none(),
)

GOOD_CHIP = {"id": "acme-1", "vendor": "Acme", "name": "Acme One", "bf16_tflops": "500", "hbm_gb": "96"}


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(CHIP_FIELDS), value=hostile_text)
def test_chip_field_either_cleaned_or_rejected_naming_the_field(field, value):
    row = {**GOOD_CHIP, field: value}
    try:
        cleaned = check_chip(row)
    except ValidationError as exc:
        assert exc.problems and all(":" in p for p in exc.problems)
        assert any(p.startswith(field) or p.startswith("bf16_tflops") for p in exc.problems)
        return
    for name in CHIP_FLOAT_FIELDS:
        number = cleaned[name]
        assert number is None or (math.isfinite(number) and number >= 0)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(["buyer", "vendor", "chip_id", "quantity", "order_date", "promised",
                              "price_usd_per_chip", "status"]), value=hostile_text)
def test_order_field_either_cleaned_or_rejected(field, value):
    row = {"buyer": "B", "vendor": "V", "chip_id": "h20-96gb", "quantity": "10", "order_date": "2024-01-01",
           field: value}
    try:
        cleaned = check_order(row, known_chip_ids={"h20-96gb"})
    except ValidationError as exc:
        assert any(p.startswith(field) for p in exc.problems), exc.problems
        return
    assert isinstance(cleaned["quantity"], int) and cleaned["quantity"] >= 1
    dt.date.fromisoformat(cleaned["order_date"])


def test_order_checks_cross_field_consistency():
    base = {"buyer": "B", "vendor": "V", "chip_id": "h20-96gb", "quantity": 10, "order_date": "2024-05-01"}
    with pytest.raises(ValidationError, match="before order_date"):
        check_order({**base, "promised": "2024-04-01:5"})
    with pytest.raises(ValidationError, match="more than quantity"):
        check_order({**base, "promised": "2024-06-01:6;2024-07-01:6"})
    with pytest.raises(ValidationError, match="no such chip"):
        check_order({**base, "chip_id": "h21"}, known_chip_ids={"h20-96gb"})
    with pytest.raises(ValidationError, match="after its first delivery"):
        check_order(base, first_delivery=dt.date(2024, 4, 1))
    assert check_order({**base, "promised": "2024-07-01:4; 2024-06-01:6"})["promised"] == "2024-06-01:6;2024-07-01:4"


def test_delivery_limits():
    with pytest.raises(ValidationError, match="only 5 chips remain"):
        check_delivery({"date": "2024-06-01", "quantity": 6}, order_date=dt.date(2024, 1, 1), outstanding=5)
    with pytest.raises(ValidationError, match="quantity"):
        check_delivery({"date": "2024-06-01", "quantity": 0}, order_date=dt.date(2024, 1, 1), outstanding=5)
    assert check_delivery({"date": "2024-06-01", "quantity": "5"}, order_date=dt.date(2024, 1, 1),
                          outstanding=5)["quantity"] == 5


def test_schedule_parsing_errors_name_the_lot():
    with pytest.raises(ValidationError, match="DATE:QUANTITY"):
        parse_schedule("promised", "2024-01-01")
    with pytest.raises(ValidationError, match="not a date"):
        parse_schedule("promised", "2024-13-01:5")
    # a thousands separator splits the lot at ',': say so, not "'000' is not DATE:QUANTITY"
    with pytest.raises(ValidationError, match=r"'2024-07-01:1,000' \(',' and ';' separate lots: write a quantity "
                                              r"without thousands separators"):
        parse_schedule("promised", "2024-07-01:1,000")


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(["layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len",
                              "moe_experts", "moe_topk", "head_dim"]), value=hostile_text)
def test_model_fields_either_valid_or_rejected(field, value):
    row = {"id": "m", "name": "M", "layers": 4, "hidden": 256, "heads": 4, "kv_heads": 4, "ffn_hidden": 1024,
           "vocab": 1000, field: value}
    try:
        model = check_model(row)
    except ValidationError as exc:
        assert exc.problems
        return
    assert model.total_params() > 0 and model.validate() == []


def test_model_rejects_inconsistent_architecture():
    row = {"id": "m", "name": "M", "layers": 4, "hidden": 256, "heads": 4, "kv_heads": 3, "ffn_hidden": 1024, "vocab": 1000}
    with pytest.raises(ValidationError, match="kv_heads"):
        check_model(row)
    with pytest.raises(ValidationError, match="moe_topk"):
        check_model({**row, "kv_heads": 4, "moe_experts": 8, "moe_topk": 9, "moe_ffn_hidden": 512})


@pytest.mark.parametrize("text, number", [("8,192", 8192.0), (" 16,384 ", 16384.0), ("1,234,567.5", 1234567.5),
                                          ("-2,048", -2048.0), ("42", 42.0), ("1e3", 1000.0), ("0.25", 0.25)])
def test_cell_float_reads_thousands_grouping(text, number):
    from engine.validate import cell_float

    assert cell_float(text) == number


@pytest.mark.parametrize("text", ["1,5", "4,09", "12,3456", ",100", "1,,000", "8 192", "n/a"])
def test_cell_float_refuses_a_comma_that_is_not_grouping(text):
    from engine.validate import cell_float

    with pytest.raises(ValueError):
        cell_float(text)


@pytest.mark.parametrize("field", ["bf16_tflops", "hbm_gbps", "scaleout_gbps", "hbm_gb"])
def test_a_chip_rate_too_small_to_be_a_chip_is_refused(field):
    """QA: bf16_tflops 1e-300 was accepted and `train` printed "inf days"."""
    from engine.validate import check_chip_field

    # HBM size and bandwidth refuse 0, so the message does not offer it
    none = "" if field in ("hbm_gb", "hbm_gbps") else "0 for none, else "
    with pytest.raises(ValidationError, match=f"{field}: '1e-300' \\({none}at least 0.001"):
        check_chip_field(field, "1e-300")
    if field in ("hbm_gb", "hbm_gbps"):
        with pytest.raises(ValidationError, match=f"{field}: '0'"):
            check_chip_field(field, "0")
    assert check_chip_field(field, "0.5") == 0.5


@pytest.mark.parametrize("text", ["9_6", "1_000", "٣", "0x60", "1e", "."])
def test_a_number_cell_is_a_plain_decimal_number(text):
    """QA: float() took "9_6" as 96 (HBM 96 GB from a typo) and other scripts' digits."""
    from engine.validate import parse_float

    with pytest.raises(ValidationError, match="not a number"):
        parse_float("hbm_gb", text)


@pytest.mark.parametrize("text, value", [("96", 96.0), ("+1.5e3", 1500.0), ("8,192", 8192.0), (".5", 0.5)])
def test_plain_numbers_still_read(text, value):
    from engine.validate import parse_float

    assert parse_float("x", text) == value


@pytest.mark.parametrize("text", ["20250115", "2025-W03-1", "2025-1-5", "2025-01-15T00:00"])
def test_a_date_is_yyyy_mm_dd_only(text):
    from engine.validate import parse_date

    with pytest.raises(ValidationError, match="use YYYY-MM-DD"):
        parse_date("order_date", text)
