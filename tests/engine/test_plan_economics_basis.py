"""The chip-economics table states the basis of its costs, so they can be recomputed from it: a
training cost of 1.8925 USD per million tokens read 1.70 by hand from the exported columns (the
scenario's 90% goodput was in it and said nowhere)."""

import dataclasses
import re

import pytest

from engine.forecast import DAYS_PER_YEAR, SECONDS_PER_DAY
from engine.forecast_plan import economics
from engine.studies_forecast import plan_economics_table
from tests.engine.test_forecast_plan import CAND, toy


def test_costs_follow_from_the_columns_and_the_stated_basis():
    inputs = toy()
    inputs = dataclasses.replace(inputs, scenario=dataclasses.replace(inputs.scenario, training_efficiency_scale=0.9))
    econ = economics(inputs, [CAND], training_tokens_per_s={CAND.chip_id: 62.71})
    result = type("R", (), {"economics": econ})()
    headers, rows = plan_economics_table(result)
    row = dict(zip(headers, rows[0]))
    train_head = next(h for h in headers if h.startswith("USD per million training tokens"))
    served_head = next(h for h in headers if h.startswith("USD per million served tokens"))
    assert "input + output" in served_head   # (beside an output-only tokens/s column)
    life = float(re.search(r"([\d.]+)-year life", train_head).group(1))
    goodput = float(re.search(r"at (\d+)% goodput", train_head).group(1)) / 100
    ratio = float(re.search(r"peak / ([\d.]+)", served_head).group(1))
    life_s = life * DAYS_PER_YEAR * SECONDS_PER_DAY
    assert goodput == 0.9
    assert row[train_head] == pytest.approx(
        row["Price (USD)"] / (row["Training (tokens/s per chip, before goodput)"] * goodput * life_s) * 1e6)
    # served: output tokens/s over the output share (toy: all output), at the average load
    assert row[served_head] == pytest.approx(
        row["Price (USD)"] / (row["Serving (output tokens/s per chip)"] * life_s / ratio) * 1e6)
