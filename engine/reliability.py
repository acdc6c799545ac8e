"""Failures, checkpoints and goodput of a long training job.

Failures arrive at a rate proportional to the fleet (MTBF per chip covers every cause that
stops the job: GPU, HBM, host, network, software). The job checkpoints every `tau` seconds
(Young/Daly optimum `sqrt(2 * C * M)` for checkpoint time C and job MTBF M); each failure loses
the restart time plus on average half an interval of work.

Default MTBF is fitted to the Llama 3 report: 419 unexpected interruptions in 54 days on
16,384 H100 GPUs -> job MTBF 3.09 h -> 50,700 chip-hours per chip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LLAMA3_INTERRUPTIONS = 419
LLAMA3_DAYS = 54.0
LLAMA3_CHIPS = 16384
DEFAULT_MTBF_CHIP_HOURS = LLAMA3_DAYS * 24.0 / LLAMA3_INTERRUPTIONS * LLAMA3_CHIPS  # ~50,677


@dataclass(frozen=True)
class Goodput:
    goodput: float                 # useful fraction of wall-clock time
    mtbf_job_s: float
    checkpoint_time_s: float
    checkpoint_interval_s: float
    lost_to_checkpoints: float     # fractions of wall-clock time
    lost_to_rework: float
    lost_to_restarts: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def job_mtbf_s(num_chips: int, mtbf_chip_hours: float | None = None) -> float:
    mtbf = DEFAULT_MTBF_CHIP_HOURS if mtbf_chip_hours is None else float(mtbf_chip_hours)
    return mtbf * 3600.0 / max(int(num_chips), 1)


def young_daly_interval_s(checkpoint_time_s: float, mtbf_s: float) -> float:
    """Optimal checkpoint interval (Young 1974 / Daly 2006 first order)."""
    return math.sqrt(2.0 * max(checkpoint_time_s, 1e-9) * mtbf_s)


def goodput(num_chips: int, checkpoint_bytes: float, *, checkpoint_write_gbps: float = 1000.0,
            restart_s: float = 600.0, mtbf_chip_hours: float | None = None,
            interval_s: float | None = None) -> Goodput:
    """Useful fraction of wall-clock time for a job on `num_chips` chips.

    `checkpoint_write_gbps`: aggregate storage write bandwidth in GB/s (the checkpoint blocks
    training while it is written). `interval_s`: checkpoint interval (default Young/Daly).
    """
    m = job_mtbf_s(num_chips, mtbf_chip_hours)
    c = checkpoint_bytes / (checkpoint_write_gbps * 1e9) if checkpoint_bytes > 0 else 0.0
    tau = interval_s if interval_s else young_daly_interval_s(c, m)
    ckpt = c / (tau + c)
    rework = (tau + c) / 2.0 / m
    restart = restart_s / m
    useful = max(0.0, (1.0 - ckpt) * (1.0 - rework - restart))
    return Goodput(goodput=useful, mtbf_job_s=m, checkpoint_time_s=c, checkpoint_interval_s=tau,
                   lost_to_checkpoints=ckpt, lost_to_rework=rework * (1 - ckpt),
                   lost_to_restarts=restart * (1 - ckpt))


def expected_interruptions(num_chips: int, days: float, mtbf_chip_hours: float | None = None) -> float:
    return days * 86400.0 / job_mtbf_s(num_chips, mtbf_chip_hours)


def no_progress_reason(num_chips: int, g: Goodput, restart_s: float,
                       mtbf_chip_hours: float | None = None) -> str:
    """Why a job of `num_chips` makes no progress (goodput 0), with the figures behind it."""
    mtbf = DEFAULT_MTBF_CHIP_HOURS if mtbf_chip_hours is None else float(mtbf_chip_hours)
    lost_per_failure_s = restart_s + (g.checkpoint_interval_s + g.checkpoint_time_s) / 2.0
    # name what dominates: a checkpoint (or restart) longer than the time between failures is not
    # "failures are too frequent" at the default rate (a 66-day checkpoint read that way)
    if g.checkpoint_time_s >= max(restart_s, 1.0) and g.checkpoint_time_s >= 0.5 * g.mtbf_job_s:
        cause = "a checkpoint takes longer than the job runs between failures, so none completes"
    else:
        cause = "failures are so frequent that every one interrupts the job before it gains anything"
    return (f"no progress on {num_chips:,} chips: {cause} (goodput 0). Expected interval between failures "
            f"{g.mtbf_job_s / 60.0:.1f} min ({mtbf:,.0f} chip-hours MTBF per chip / {num_chips:,} chips); each "
            f"failure costs {restart_s / 60.0:.0f} min of restart plus {lost_per_failure_s / 60.0 - restart_s / 60.0:.1f} "
            f"min of lost work, and a checkpoint takes {g.checkpoint_time_s / 60.0:.1f} min. Use fewer chips, "
            "faster restarts or faster checkpoint storage")
