"""QA s25 (C1): compared forecasts share one unit, the reference's unit chip at its rating.

The results here are stand-ins holding only what engine.compare_units reads (the unit chip and
the tokens/s per chip), so every number is worked out by hand."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from engine.compare_units import common_unit, key_figures_in_unit, rate_text, unit_rating

NAMES = {"a": "Chip A", "b": "Chip B"}


def _result(unit_chip: str, **rates: float):
    return SimpleNamespace(unit_chip_id=unit_chip, serving_tokens_per_s_per_chip=rates)


def test_a_slower_unit_chip_is_converted_at_the_reference_rating():
    """The baseline's chip A serves 200 output tokens/s; under a tighter target the what-if's
    serves 50. The what-if's 1,000 chips of its own unit are 50,000 tokens/s: 250 baseline chips."""
    unit = common_unit([_result("a", a=200.0), _result("a", a=50.0)], reference=0)
    assert unit.converted and unit.chip_id == "a" and unit.tokens_per_s_per_chip == 200.0
    assert unit.scales == (1.0, 0.25)
    assert unit.scaled(1, [1000.0, 400.0]).tolist() == [250.0, 100.0]
    assert unit.scaled(0, [1000.0]).tolist() == [1000.0]   # the reference's own figures stay
    assert unit.text(NAMES) == "Chip A chips at 200 output tokens/s"
    # a looser target makes the unit chip bigger: the what-if's chips are worth more baseline chips
    assert common_unit([_result("a", a=200.0), _result("a", a=300.0)], 0).scales == (1.0, 1.5)


def test_one_unit_chip_at_one_rating_changes_nothing():
    unit = common_unit([_result("a", a=200.0, b=80.0), _result("a", a=200.0, b=40.0)], reference=0)
    assert not unit.converted
    assert unit.scales == (1.0, 1.0)
    assert unit.text(NAMES) == "Chip A chips"   # as a lone forecast names it
    assert unit.note([_result("a", a=200.0)] * 2, ["x", "y"], NAMES) is None
    figures = [("Largest P50 shortfall (Chip A chips)", 4000.0)]
    assert key_figures_in_unit(figures, _result("a", a=200.0), 1, unit, NAMES) == figures


def test_another_unit_chip_is_counted_in_the_references():
    """The what-if counts in chip B (100 tokens/s): its chips are half of a chip A of 200."""
    base, other = _result("a", a=200.0), _result("b", a=150.0, b=100.0)
    unit = common_unit([base, other], reference=0)
    assert unit.converted and unit.scales == (1.0, 0.5)
    note = unit.note([base, other], ["Base", "Other"], NAMES)
    assert note.startswith("capacity, demand and shortfall in Chip A chips at 200 output tokens/s each "
                           "(Base's unit chip and rating)")
    assert "Other: 100 output tokens/s per Chip B chip" in note and note.endswith("chips x own rate / 200")


def test_the_reference_is_the_baseline_when_it_can_serve_else_the_first_that_can():
    # the baseline (index 1) not computed: the first computed one's unit
    unit = common_unit([_result("a", a=50.0), None, _result("a", a=200.0)], reference=1)
    assert unit.reference == 0 and unit.scales == (1.0, 1.0, 4.0)
    # the baseline's unit chip cannot serve (its figures are NaN): the next one's unit
    unit = common_unit([_result("a", a=0.0), _result("a", a=100.0), _result("a", a=25.0)], reference=0)
    assert unit.reference == 1 and unit.scales[1:] == (1.0, 0.25) and math.isnan(unit.scales[0])
    # none can serve: nothing to convert by, and the words say so
    unit = common_unit([_result("a", a=0.0), _result("b")], reference=0)
    assert unit.scales == (1.0, 1.0) and unit.text(NAMES) == "chips of each scenario's unit"
    assert common_unit([None, None], reference=0) is None


def test_a_key_figure_in_unit_chips_is_converted_and_labelled_with_the_unit():
    """The what-if's largest shortfall of 4,000 of its chips at 50 tokens/s is 200,000 tokens/s:
    1,000 baseline chips. Installed chips and counts are real chips and months: unchanged."""
    base, what_if = _result("a", a=200.0), _result("a", a=50.0)
    unit = common_unit([base, what_if], reference=0)
    figures = [("Installed P50 at horizon end, Chip A (chips)", 10.0),
               ("Months with a P50 shortfall (months)", 3),
               ("Largest P50 shortfall (Chip A chips)", 4000.0)]
    assert key_figures_in_unit(figures, what_if, 1, unit, NAMES) == [
        ("Installed P50 at horizon end, Chip A (chips)", 10.0),
        ("Months with a P50 shortfall (months)", 3),
        ("Largest P50 shortfall (Chip A chips at 200 output tokens/s)", 1000.0)]
    # the baseline's value stays, under the same label (one row in the table)
    assert key_figures_in_unit(figures, base, 0, unit, NAMES)[2] == (
        "Largest P50 shortfall (Chip A chips at 200 output tokens/s)", 4000.0)


@pytest.mark.parametrize("rate, text", [(260.70692, "260.7"), (96.18040, "96.18"), (12345.6, "12,346"),
                                        (float("nan"), "n/a")])
def test_a_rating_is_written_to_four_significant_figures(rate, text):
    assert rate_text(rate) == text


def test_a_unit_chip_that_cannot_serve_has_no_rating():
    assert math.isnan(unit_rating(_result("a", a=0.0)))
    assert math.isnan(unit_rating(_result("a")))
    assert np.isclose(unit_rating(_result("a", a=96.2)), 96.2)
