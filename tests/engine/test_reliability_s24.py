"""QA s24 on training goodput: goodput rose with more chips where Daly's interval jumps (a
checkpoint of 2x the job's MTBF), the no-progress message printed an MTBF of 0.01 as 0, the
run's reliability inputs and losses were in no output, and the forecast's training jobs took a
fixed efficiency whatever the fleet's size or failure rate."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.reliability as rel
from engine.catalog import reference_chips
from engine.training import NoProgressError, estimate_run

D = dt.date
PARAMS_405B = 405e9


def _sweep(gbps: float, restart_s: float, mtbf: float | None = None) -> np.ndarray:
    counts = np.unique(np.round(np.geomspace(1, 4e6, 6000)))
    return np.array([rel.goodput(int(n), PARAMS_405B * 14.0, checkpoint_write_gbps=gbps, restart_s=restart_s,
                                 mtbf_chip_hours=mtbf).goodput for n in counts])


def test_goodput_does_not_rise_where_dalys_interval_jumps_to_the_mtbf():
    # 405B at 1 GB/s: a 5,670 s checkpoint reaches 2 x the job's MTBF near 64,350 chips, where
    # the interval jumped from 0.889 M to M and goodput rose (4.2383% on 64,349 chips, 4.2400% on
    # 64,352)
    m = 5670.0 / 2.0
    n = rel.DEFAULT_MTBF_CHIP_HOURS * 3600.0 / m
    below, above = (rel.goodput(int(k), PARAMS_405B * 14.0, checkpoint_write_gbps=1.0).goodput
                    for k in (int(n) - 1, int(n) + 2))
    assert below > 0 and above <= below
    good = _sweep(1.0, 600.0)
    assert np.all(np.diff(good) <= 0.0)


@settings(max_examples=40, deadline=None)
@given(gbps=st.floats(0.01, 5000.0), restart_s=st.floats(0.0, 3600.0), mtbf=st.floats(100.0, 1e6),
       params=st.floats(1e8, 2e12), n=st.integers(1, 2_000_000), more=st.integers(1, 200_000))
def test_goodput_never_rises_with_more_chips(gbps, restart_s, mtbf, params, n, more):
    def good(k):
        return rel.goodput(k, params * 14.0, checkpoint_write_gbps=gbps, restart_s=restart_s,
                           mtbf_chip_hours=mtbf).goodput
    assert good(n + more) <= good(n) + 1e-12


def test_the_usual_interval_is_still_dalys():
    g = rel.goodput(16384, PARAMS_405B * 14.0)
    assert g.checkpoint_interval_s == rel.daly_interval_s(g.checkpoint_time_s, g.mtbf_job_s)


def test_no_progress_names_a_small_mtbf_with_its_digits():
    g = rel.goodput(64, PARAMS_405B * 14.0, mtbf_chip_hours=0.01)
    text = rel.no_progress_reason(64, g, 600.0, 0.01)
    assert "(0.01 chip-hours MTBF per chip" in text
    assert "(50,677 chip-hours" in rel.no_progress_reason(1_000_000, rel.goodput(1_000_000, 0.0), 600.0)


def test_the_run_estimate_carries_its_reliability_inputs_and_losses():
    chip = reference_chips()["h800-sxm5-80gb"]
    est = estimate_run(15e12, 162.4, 65536, chip, params=PARAMS_405B)
    d = est.as_dict()
    assert d["mtbf_chip_hours"] == pytest.approx(rel.DEFAULT_MTBF_CHIP_HOURS)
    assert (d["restart_min"], d["checkpoint_write_gbps"], d["checkpoint_bytes_per_param"]) == (10.0, 1000.0, 14.0)
    assert d["job_mtbf_h"] == pytest.approx(rel.DEFAULT_MTBF_CHIP_HOURS / 65536)
    assert d["checkpoint_write_s"] == pytest.approx(PARAMS_405B * 14 / 1e12)
    assert (d["utilisation"], d["pue"]) == (0.8, 1.2)
    lost = d["lost_to_restarts_pct"] + d["lost_to_rework_pct"] + d["lost_to_checkpoints_pct"]
    assert lost + 100 * d["goodput"] == pytest.approx(100.0)
    bigger = estimate_run(15e12, 162.4, 65536, chip, params=PARAMS_405B, checkpoint_bytes_per_param=28.0)
    assert bigger.checkpoint_write_s == pytest.approx(2 * est.checkpoint_write_s)
    assert bigger.goodput < est.goodput
    with pytest.raises(NoProgressError):
        estimate_run(15e12, 162.4, 65536, chip, params=PARAMS_405B, mtbf_chip_hours=0.01)


# ---- the forecast's training jobs ------------------------------------------------------------

CHIP = "chip-a"
