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
    # Daly's higher-order estimate: sqrt(2 d M) [1 + sqrt(d/2M)/3 + (d/2M)/9] - d
    d, m = 100.0, g.mtbf_job_s
    assert g.checkpoint_interval_s == pytest.approx(
        math.sqrt(2 * d * m) * (1 + math.sqrt(d / (2 * m)) / 3 + d / (2 * m) / 9) - d)
    assert rel.daly_interval_s(3000.0, 1000.0) == 1000.0   # a checkpoint over 2M: one per failure


def test_complete_model_matches_the_first_order_where_failures_are_rare():
    """R, tau << M: goodput -> 1 - R/M - sqrt(2 delta / M) (Young's optimum: delta/tau and
    tau/2M each sqrt(delta/2M)), to second order. Hand figures: 1 failure per 10^7 s, a 60 s
    restart and 10 s checkpoints: 1 - 6e-6 - 1.414e-3 = 0.998580."""
    m_s = 1e7
    g = rel.goodput(1, 10.0 * 1e9, checkpoint_write_gbps=1.0, restart_s=60.0, mtbf_chip_hours=m_s / 3600)
    assert g.mtbf_job_s == pytest.approx(m_s) and g.checkpoint_time_s == pytest.approx(10.0)
    assert g.goodput == pytest.approx(1 - 60 / m_s - math.sqrt(2 * 10 / m_s), abs=1e-5)
    assert g.goodput == pytest.approx(0.998580, abs=1e-5)
    assert g.lost_to_restarts == pytest.approx(60 / m_s, rel=1e-3)
    assert g.lost_to_checkpoints == pytest.approx(math.sqrt(10 / (2 * m_s)), rel=1e-2)
    assert g.lost_to_rework == pytest.approx(math.sqrt(10 / (2 * m_s)), rel=1e-2)


def test_large_fleets_follow_dalys_complete_model():
    """QA: the first order (1 - R/M - tau/2M) charged each failure its full restart against the
    time between failures: 405B on 262,144 H100 trained 4x slower than on 131,072, and 300,000
    made no progress. Daly's complete model, with 10-min restarts and 405e9 x 14 bytes at
    1,000 GB/s (5.67 s): 131,072 -> 59%, 262,144 -> 37%, 300,000 -> 32%, 16,384 -> 91.8%."""
    ckpt_bytes = 405e9 * 14
    for chips, expected in ((16384, 0.918), (131072, 0.593), (262144, 0.371), (300000, 0.324)):
        g = rel.goodput(chips, ckpt_bytes)
        m, d, tau, r = g.mtbf_job_s, ckpt_bytes / 1e12, g.checkpoint_interval_s, 600.0
        # by hand: T_wall / T_solve = M exp(R/M) (exp((tau + delta)/M) - 1) / tau
        assert g.goodput == pytest.approx(tau / (m * math.exp(r / m) * (math.exp((tau + d) / m) - 1)), rel=1e-9)
        assert g.goodput == pytest.approx(expected, abs=0.002)
        assert g.lost_to_checkpoints + g.lost_to_rework + g.lost_to_restarts == pytest.approx(1 - g.goodput, rel=1e-9)
    # twice the chips never trains slower than the goodput halves: 262,144 x 37% > 131,072 x 59%
    assert 262144 * rel.goodput(262144, ckpt_bytes).goodput > 131072 * rel.goodput(131072, ckpt_bytes).goodput


def test_under_one_percent_goodput_is_no_progress_with_its_figures():
    """Goodput of the complete model only tends to 0: under MIN_GOODPUT (1%) the run is no
    progress. 2,000,000 chips fail every 50,677 x 3,600 / 2e6 = 91 s against a 10-min restart:
    exp(-600/91) = 0.14% of the time survives the restart alone."""
    g = rel.goodput(2_000_000, 405e9 * 14)
    assert g.goodput == 0.0
    assert 0 < rel.modelled_goodput(g.mtbf_job_s, g.checkpoint_time_s, g.checkpoint_interval_s, 600.0) < 0.01
    line = rel.no_progress_reason(2_000_000, g, 600.0)
    assert line.startswith("no progress on 2,000,000 chips: failures are so frequent")
    assert "1.5 min" in line and "50,677 chip-hours" in line and "under the 1% counted as progress" in line
    # a 66-day checkpoint (405B at 1 MB/s) against 3.1 h between failures: the checkpoint is named
    slow = rel.goodput(16384, 405e9 * 14, checkpoint_write_gbps=0.001)
    assert slow.goodput == 0.0 and slow.checkpoint_interval_s == pytest.approx(slow.mtbf_job_s)
    assert "a checkpoint takes longer than the job runs between failures" in rel.no_progress_reason(16384, slow, 600.0)


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
