"""QA s22: a contract entered as a delivered row and an outstanding row must forecast as the one row
did (MODELING.md: "Splitting an order must not shrink the spread"). The fraction "of the order" was
read per row, so the outstanding 70k row took the whole fraction as its own and its spread narrowed
(910B Dec 2025 P10/P50/P90 51.7k/67.3k/83.0k one row, 64.8k/76.5k/87.4k split)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest

import engine.forecast_sensitivity as fs

from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import (ForecastInputs, contract_totals, default_scenario, meets, simulate,
                             STORY_910B_CHIP)

D = dt.date
ORDERED = D(2024, 1, 15)
DELIVERIES = ((D(2024, 7, 15), 10_000), (D(2024, 8, 15), 10_000), (D(2024, 9, 15), 10_000))


def one_row() -> list[Order]:
    promised = (ScheduledLot(D(2024, 7, 1), 30_000), ScheduledLot(D(2024, 10, 1), 35_000),
                ScheduledLot(D(2025, 1, 1), 35_000))
    deliveries = tuple(Delivery(k + 1, 1, day, qty) for k, (day, qty) in enumerate(DELIVERIES))
    return [Order(1, "ByteDance", "Huawei", STORY_910B_CHIP, 100_000, ORDERED, promised, deliveries=deliveries)]


def split_rows() -> list[Order]:
    deliveries = tuple(Delivery(k + 1, 101, day, qty) for k, (day, qty) in enumerate(DELIVERIES))
    delivered = Order(101, "ByteDance", "Huawei", STORY_910B_CHIP, 30_000, ORDERED,
                      (ScheduledLot(D(2024, 7, 1), 30_000),), deliveries=deliveries)
    outstanding = Order(102, "ByteDance", "Huawei", STORY_910B_CHIP, 70_000, ORDERED,
                        (ScheduledLot(D(2024, 10, 1), 35_000), ScheduledLot(D(2025, 1, 1), 35_000)))
    return [delivered, outstanding]


def inputs(orders: list[Order], trials: int = 600) -> ForecastInputs:
    sc = replace(default_scenario(), trials=trials, policy_events=(), jobs=())
    return ForecastInputs(orders=tuple(orders), scenario=sc, chip_peak_tflops={STORY_910B_CHIP: 376.0},
                          serving_tokens_per_s_per_chip={STORY_910B_CHIP: 261.0},
                          training_tokens_per_s_per_chip={}, maker_by_chip={STORY_910B_CHIP: "Huawei"})


def test_contract_totals_add_the_rows_of_one_contract():
    (totals,) = contract_totals(split_rows()).values()
    assert (totals.quantity, totals.delivered, totals.outstanding) == (100_000, 30_000, 70_000)


def test_splitting_a_contract_into_delivered_and_outstanding_rows_keeps_the_installed_distribution():
    whole, split = simulate(inputs(one_row())), simulate(inputs(split_rows()))
    np.testing.assert_allclose(split.installed[STORY_910B_CHIP], whole.installed[STORY_910B_CHIP],
                               rtol=1e-9, atol=1e-6)
    dec_2025 = whole.months.index(D(2025, 12, 1))
    p10, p90 = np.percentile(whole.installed[STORY_910B_CHIP][:, dec_2025], [10, 90])
    assert p90 - p10 > 25_000   # the spread the one row has (it was ~22.6k split)
    jul_2025 = whole.months.index(D(2025, 7, 1))
    assert meets(split.capacity_tps, split.demand_tps)[:, jul_2025].mean() == \
        meets(whole.capacity_tps, whole.demand_tps)[:, jul_2025].mean()


def test_rows_of_different_contracts_keep_their_own_basis():
    """Another order date is another contract: the 70k row then is an order of its own, 0 delivered."""
    other = [split_rows()[0], replace(split_rows()[1], order_date=D(2024, 2, 1))]
    assert len(contract_totals(other)) == 2
    whole, split = simulate(inputs(one_row())), simulate(inputs(other))
    dec_2025 = whole.months.index(D(2025, 12, 1))
    assert split.installed[STORY_910B_CHIP][:, dec_2025].mean() > \
        whole.installed[STORY_910B_CHIP][:, dec_2025].mean() + 5_000


# ---- the tornado's throughput bar (QA s22) ----------------------------------------------------

JUL_2025 = D(2025, 7, 1)


def throughput_inputs(trials: int = 300) -> ForecastInputs:
    sc = replace(default_scenario(), trials=trials, months=18, jobs=())
    return replace(inputs(one_row(), trials), scenario=sc, family_by_chip={STORY_910B_CHIP: "ascend"},
                   serving_sigma_by_chip={STORY_910B_CHIP: 0.4})


def mean_shortfall_tokens(inp: ForecastInputs, month: dt.date, trials: int) -> float:
    s = simulate(inp, trials=trials)
    return float(np.maximum(s.demand_tps - s.capacity_tps, 0.0)[:, s.months.index(month)].mean())


def test_the_throughput_bar_counts_its_shortfall_in_chips_at_the_nominal_rate():
    """The slow end divided its shortfall by the pinned (slow) rate: 99.8 tokens/s per 910B for
    the nominal 261, 3.3x the chips every other bar and the forecast count."""
    inp = throughput_inputs()
    nominal = inp.serving_tokens_per_s_per_chip[STORY_910B_CHIP]
    assert fs.nominal_unit_tput(inp) == nominal
    bars = {bar.input: bar for bar in fs.tornado(inp, JUL_2025, trials=300).bars}
    fast, slow = bars["throughput"].low, bars["throughput"].high
    for z, end in ((fs.Z90, fast), (-fs.Z90, slow)):
        expected = mean_shortfall_tokens(fs._throughput_pinned(inp, z), JUL_2025, 300) / nominal
        assert end["shortfall_mean_unit_chips"] == pytest.approx(expected, rel=1e-9)
    assert slow["shortfall_mean_unit_chips"] > 1_000   # a shortfall there to count


def test_tornado_bars_name_chips_as_the_views_do():
    names = {STORY_910B_CHIP: "Ascend 910B2"}
    inp = throughput_inputs(trials=50)
    inp = replace(inp, scenario=replace(inp.scenario, policy_events=default_scenario().policy_events))
    labels = [bar.input for bar in fs.tornado(inp, JUL_2025, trials=50, chip_names=names).bars]
    assert "train share Ascend 910B2" in labels and "cut-off h20-96gb" in labels   # no name given: its id
    assert not any(STORY_910B_CHIP in label for label in labels)
