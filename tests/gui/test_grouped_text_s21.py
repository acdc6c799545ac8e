"""A window cell's "0,125" is a decimal comma, refused like "1,5"; it was read as 125 (QA s21)."""

import pytest

from gui.panels.base import parse_positive


@pytest.mark.parametrize("text", ["0,125", "00,125", "+0,500", "1,5"])
def test_a_decimal_comma_in_a_cell_is_refused(text):
    value, why = parse_positive(text, "Price")
    assert value is None and why == f"Price {text!r} is not a number"


@pytest.mark.parametrize(("text", "number"), [("1,300", 1300.0), ("12,500.5", 12500.5), ("100,000", 100000.0)])
def test_thousands_grouping_in_a_cell_still_reads(text, number):
    assert parse_positive(text, "Price") == (number, "")
