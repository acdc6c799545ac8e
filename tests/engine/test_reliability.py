"""Failures, checkpoints and goodput against the Llama 3 report."""

import math

import pytest

from engine import reliability as rel


def test_llama3_interruptions_reproduced():
    # 419 unexpected interruptions in 54 days on 16,384 H100s (Llama 3 report, Sec. 3.3.4)
    assert rel.expected_interruptions(16384, 54) == pytest.approx(419, rel=1e-9)
    assert rel.job_mtbf_s(16384) / 3600 == pytest.approx(54 * 24 / 419, rel=1e-9)


def test_llama3_effective_training_time_above_90_percent():
    g = rel.goodput(16384, 405e9 * 14)
    assert g.goodput > 0.90
    assert g.lost_to_checkpoints + g.lost_to_rework + g.lost_to_restarts == pytest.approx(1 - g.goodput, rel=1e-6)


def test_young_daly_interval():
    assert rel.young_daly_interval_s(60.0, 3 * 3600) == pytest.approx(math.sqrt(2 * 60 * 3 * 3600))
    g = rel.goodput(1024, 1e12, checkpoint_write_gbps=10.0)
    assert g.checkpoint_time_s == pytest.approx(100.0)
    assert g.checkpoint_interval_s == pytest.approx(math.sqrt(2 * 100 * g.mtbf_job_s))


def test_young_daly_interval_is_the_best_interval():
    best = rel.goodput(8192, 5e12).goodput
    for factor in (0.3, 0.6, 1.7, 3.0):
        tau = rel.goodput(8192, 5e12).checkpoint_interval_s * factor
        assert rel.goodput(8192, 5e12, interval_s=tau).goodput <= best + 1e-4


def test_goodput_falls_with_fleet_size_and_slow_storage():
    sizes = [1024, 4096, 16384, 65536]
    values = [rel.goodput(n, 5e12).goodput for n in sizes]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert rel.goodput(16384, 5e12, checkpoint_write_gbps=50).goodput < rel.goodput(16384, 5e12).goodput
    assert 0.0 <= rel.goodput(10 ** 7, 5e13).goodput < 0.5


def test_a_run_without_a_price_has_no_cost_and_an_assumed_power_is_said():
    """The 910B3 has no list price or TDP: `train` gave "cost_usd": 0.0 (a free run) and counted
    700 W as if it were catalog data. Hand check: 1e12 tokens at 1,000 tokens/s per chip on 256
    chips is 3.906e6 s of steady steps."""
    from dataclasses import replace

    from engine.catalog import reference_chips
    from engine.training import estimate_run

    chip = replace(reference_chips()["ascend-910b2"], price_usd=None, tdp_w=None)
    est = estimate_run(1e12, 1000.0, 256, chip, mtbf_chip_hours=1e12)
    assert est.cost_usd is None and "no list price" in est.cost_basis
    assert est.energy_basis == "700 W per chip (assumed: no TDP in the catalog) x 80% utilisation x PUE 1.2"
    assert est.energy_mwh == pytest.approx(est.chip_hours * 700 * 0.8 * 1.2 / 1e6)
    priced = estimate_run(1e12, 1000.0, 256, replace(chip, price_usd=35040.0, tdp_w=400.0), mtbf_chip_hours=1e12)
    # 43,800 USD over 5 x 8,760 h is 1 USD per chip-hour: the same 5-year life as the plan's cost
    # per token and the fleet's retirement
    assert priced.cost_usd == pytest.approx(priced.chip_hours * 1.0 * 35040.0 / 43800.0)
    assert priced.cost_basis.startswith("list price 35,040 USD per chip amortised over 5 years")
    given = estimate_run(1e12, 1000.0, 256, chip, price_per_chip_hour_usd=2.5, mtbf_chip_hours=1e12)
    assert given.cost_usd == pytest.approx(given.chip_hours * 2.5) and given.cost_basis == "2.5 USD per chip-hour, as given"
