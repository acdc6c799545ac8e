"""Failures, checkpoints and goodput of a long training job.

Failures arrive at a rate proportional to the fleet (MTBF per chip covers every cause that
stops the job: GPU, HBM, host, network, software). The job checkpoints every `tau` seconds and
each checkpoint takes `delta`; after a failure it restarts (`R`) and redoes the work since its last
checkpoint. The expected wall-clock is Daly's complete model (J.T. Daly 2006, "A higher order
estimate of the optimum checkpoint interval for restart dumps", FGCS 22), in which failures may
strike during restarts, rework and checkpoints as well:

    T_wall = M * exp(R / M) * (exp((tau + delta) / M) - 1) * T_solve / tau

with tau at Daly's higher-order optimum. While R, tau << M it is the first-order
1 - R/M - (tau + delta)/2M - delta/tau; it stays right when a fleet fails every few minutes, where
charging each failure its full restart against the time between failures (the first order) made
262,144 H100 train 4x slower than 131,072 and 300,000 make no progress at all.

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
# The complete model's goodput never reaches 0 (it falls as exp(-R/M)); below this floor a run is
# counted as making no progress (goodput 0, refused by estimate_run): over 100x its steady time,
# restarts and rework take 99% of it, and a 66-day checkpoint read as 1e220 days to train.
MIN_GOODPUT = 0.01
# what a checkpoint holds per parameter: bf16 weights, fp32 master copy and two fp32 Adam moments
CHECKPOINT_BYTES_PER_PARAM = 14.0


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
    """Optimal checkpoint interval to first order (Young 1974): sqrt(2 * delta * M)."""
    return math.sqrt(2.0 * max(checkpoint_time_s, 1e-9) * mtbf_s)


def daly_interval_s(checkpoint_time_s: float, mtbf_s: float) -> float:
    """Optimal checkpoint interval of the complete model, Daly's (2006) higher-order estimate:
    sqrt(2 delta M) * [1 + sqrt(delta / 2M) / 3 + (delta / 2M) / 9] - delta while delta < 2M, else M
    (a checkpoint that long is worth writing once per expected failure at most)."""
    delta = max(checkpoint_time_s, 1e-9)
    if delta >= 2.0 * mtbf_s:
        return mtbf_s
    ratio = delta / (2.0 * mtbf_s)
    return math.sqrt(2.0 * delta * mtbf_s) * (1.0 + math.sqrt(ratio) / 3.0 + ratio / 9.0) - delta


def checkpoint_interval_s(checkpoint_time_s: float, mtbf_s: float) -> float:
    """The interval the model uses: Daly's estimate, or M where that is worth more. Daly's estimate
    jumps from 0.889 M to M where the checkpoint reaches 2 M, so goodput rose with more chips there
    (QA); of the two the better one is taken, which keeps goodput non-increasing in the fleet (each
    candidate's goodput falls as failures come faster, and so does their maximum). While the
    checkpoint is short against M, Daly's is by far the better and the figures are his."""
    daly = daly_interval_s(checkpoint_time_s, mtbf_s)
    if _segment_goodput(mtbf_s, checkpoint_time_s, mtbf_s) > _segment_goodput(mtbf_s, checkpoint_time_s, daly):
        return mtbf_s
    return daly


def _segment_goodput(mtbf_job_s: float, checkpoint_time_s: float, interval_s: float) -> float:
    """The part of the goodput that the interval changes (the restart's exp(-R/M) aside)."""
    return _x_over_expm1((interval_s + checkpoint_time_s) / mtbf_job_s) * interval_s / (interval_s + checkpoint_time_s)


def _x_over_expm1(x: float) -> float:
    """x / (exp(x) - 1) for x > 0, without overflow (a 66-day checkpoint is x ~ 500)."""
    return x * math.exp(-x) / -math.expm1(-x) if x > 0 else 1.0


def modelled_goodput(mtbf_job_s: float, checkpoint_time_s: float, interval_s: float, restart_s: float) -> float:
    """T_solve / T_wall of Daly's complete model, before the MIN_GOODPUT floor."""
    x = (interval_s + checkpoint_time_s) / mtbf_job_s
    return math.exp(-restart_s / mtbf_job_s) * _x_over_expm1(x) * interval_s / (interval_s + checkpoint_time_s)


def goodput(num_chips: int, checkpoint_bytes: float, *, checkpoint_write_gbps: float = 1000.0,
            restart_s: float = 600.0, mtbf_chip_hours: float | None = None,
            interval_s: float | None = None) -> Goodput:
    """Useful fraction of wall-clock time for a job on `num_chips` chips (Daly's complete model).

    `checkpoint_write_gbps`: aggregate storage write bandwidth in GB/s (the checkpoint blocks
    training while it is written). `interval_s`: checkpoint interval (default Daly's optimum, or
    M where that is better: `checkpoint_interval_s`).

    T_solve / T_wall = exp(-R/M) * x / (exp(x) - 1) * tau / (tau + delta), x = (tau + delta) / M,
    split into time lost (fractions of wall-clock, summing to 1 - goodput):
      restarts     1 - exp(-R/M)     failures at rate 1/M, each starting a restart that lasts R or
                                     until the next failure (mean M (1 - exp(-R/M)))
      checkpoints  goodput * delta / tau   the writes of the segments that complete
      rework       the rest: e^(-R/M) (1 - x / (exp(x) - 1)), work since the last checkpoint

    Below MIN_GOODPUT `goodput` is 0 (no progress; the losses keep the model's figures).
    """
    m = job_mtbf_s(num_chips, mtbf_chip_hours)
    c = checkpoint_bytes / (checkpoint_write_gbps * 1e9) if checkpoint_bytes > 0 else 0.0
    tau = interval_s if interval_s else checkpoint_interval_s(c, m)
    survive_restart = math.exp(-restart_s / m)
    segment = _x_over_expm1((tau + c) / m)
    useful = modelled_goodput(m, c, tau, restart_s)
    ckpt = useful * c / tau
    restart = 1.0 - survive_restart
    rework = survive_restart * (1.0 - segment)
    return Goodput(goodput=useful if useful >= MIN_GOODPUT else 0.0, mtbf_job_s=m, checkpoint_time_s=c,
                   checkpoint_interval_s=tau,
                   lost_to_checkpoints=ckpt, lost_to_rework=rework, lost_to_restarts=restart)


def expected_interruptions(num_chips: int, days: float, mtbf_chip_hours: float | None = None) -> float:
    return days * 86400.0 / job_mtbf_s(num_chips, mtbf_chip_hours)


def duration_text(seconds: float) -> str:
    """A duration in the unit its size reads best in: 0.11 s, 4.2 min, 3.1 h (two significant
    digits; a fixed unit printed a 0.11 s checkpoint as "0.0 min")."""
    for limit_s, unit_s, unit in ((60.0, 1.0, "s"), (3600.0, 60.0, "min"), (math.inf, 3600.0, "h")):
        # rounded first, so 59.96 s reads 1 min rather than "60 s"
        if float(f"{seconds:.2g}") < limit_s:
            value = seconds / unit_s
            return f"{value:.2g} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{seconds / 3600.0:,.0f} h"   # not reached for a finite duration (inf, nan)


def significant(value: float) -> str:
    """A figure with its significant digits: 50,677 or 0.01 (",.0f" printed an MTBF of 0.01 as 0)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def no_progress_reason(num_chips: int, g: Goodput, restart_s: float,
                       mtbf_chip_hours: float | None = None) -> str:
    """Why a job of `num_chips` makes no progress (goodput under MIN_GOODPUT), with the figures behind it."""
    mtbf = DEFAULT_MTBF_CHIP_HOURS if mtbf_chip_hours is None else float(mtbf_chip_hours)
    m, c, tau = g.mtbf_job_s, g.checkpoint_time_s, g.checkpoint_interval_s
    # work lost by a failure: its mean time into a segment of tau + c (t/2 while t << M, M beyond)
    lost_work_s = m * (1.0 - _x_over_expm1((tau + c) / m))
    modelled = modelled_goodput(m, c, tau, restart_s)
    # name what dominates: a checkpoint (or restart) longer than the time between failures is not
    # "failures are too frequent" at the default rate (a 66-day checkpoint read that way)
    if c >= max(restart_s, 1.0) and c >= 0.5 * m:
        cause = "a checkpoint takes longer than the job runs between failures, so few complete"
    else:
        cause = "failures are so frequent that restarts and redone work take nearly all the time"
    shown = f"{100 * modelled:.1f}%" if modelled >= 0.001 else "less than 0.1%"
    return (f"no progress on {num_chips:,} chips: {cause} (goodput 0: the model gives {shown}, under the "
            f"{100 * MIN_GOODPUT:g}% counted as progress). Expected interval between failures {duration_text(m)} "
            f"({significant(mtbf)} chip-hours MTBF per chip / {num_chips:,} chips); each failure costs "
            f"{duration_text(restart_s)} of restart plus {duration_text(lost_work_s)} of lost work, and a checkpoint "
            f"takes {duration_text(c)}. "
            "Use fewer chips, faster restarts or faster checkpoint storage")
