"""Backtest of the demand forecast: fit on the points known on a date, score the later ones (numpy)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np

from engine.forecast import DAYS_PER_YEAR, DemandCurve, _stream, growth_normals
from engine.forecast_demand import draw_log_growth, fit_growth


# How a later point is scored against its P10-P90 band. A "more than" figure (DemandPoint.at_least,
# the story's 2025-09 "30T" and 2025-12 "over 50T") bounds the outcome from below only: above P90
# it is a miss, wherever the true figure is; at or below P90 the true figure may lie inside the
# band or above it, so it is "consistent", not "inside". A floor below P10 is no miss either: the
# true figure is only known to be at least the floor, not to be below P10.
FLOOR_SCORING_NOTE = ("a floor point (a \"more than\" figure, the demand point's at_least flag) is scored as a "
                      "floor: above P90 it is outside the band ('above'); at or below P90 it is 'consistent' "
                      "(the true figure, at least the floor, may lie inside the band or above it; a floor below "
                      "P10 is no miss-low, as the figure is not known to be below P10); coverage counts the "
                      "exact points only, and a floor's actual/P50 is a lower bound (>=)")


@dataclass(frozen=True)
class BacktestPoint:
    date: dt.date
    actual: float
    p10: float
    p50: float
    p90: float
    # the actual is a lower bound ("more than"), from the demand point's at_least flag, never its note
    actual_is_floor: bool = False

    @property
    def outcome(self) -> str:
        """'inside', 'below' or 'above' the P10-P90 band; for a floor, 'above' or 'consistent'."""
        if self.actual > self.p90:
            return "above"
        if self.actual_is_floor:
            return "consistent"
        return "below" if self.actual < self.p10 else "inside"

    @property
    def inside(self) -> bool | None:
        """Whether the point lies in the P10-P90 band: an exact point, True or False; a floor
        above P90, False; a floor at or below P90 (`outcome` 'consistent'), None: the true figure
        may lie inside the band or above it, so "inside" is not known (it read True, and a script
        counting `inside` over the points counted floors nobody knows the answer for)."""
        if self.outcome == "consistent":
            return None
        return self.outcome == "inside"


@dataclass(frozen=True)
class Backtest:
    as_of: dt.date
    known: int  # points used for the fit
    fit_note: str
    points: tuple[BacktestPoint, ...]
    trials: int = 20_000
    seed: int = 0
    # the largest relative standard error of P10, P50, P90 over the points, from batches of the
    # trials (None: too few trials or no later points): how far another seed moves each quantile
    # (20,000 trials of the story from 2024-09-30: P90 about 9%, P50 about 2%)
    relative_se: tuple[float, float, float] | None = None

    @property
    def exact_points(self) -> tuple[BacktestPoint, ...]:
        return tuple(p for p in self.points if not p.actual_is_floor)

    @property
    def floor_points(self) -> tuple[BacktestPoint, ...]:
        return tuple(p for p in self.points if p.actual_is_floor)

    @property
    def coverage(self) -> float | None:
        """Share of the exact later points inside P10-P90 (None without one): a floor point cannot
        be scored as inside (it counted as inside at its floor's value, the outcome it is not)."""
        exact = self.exact_points
        return sum(p.outcome == "inside" for p in exact) / len(exact) if exact else None


def backtest_refusal(curve: DemandCurve) -> str:
    """Why `curve` has no backtest ("" when it has one): only a piecewise curve draws its fitted
    growth after the last point; an exponential or logistic curve is one least-squares line through
    every point with nothing drawn, and scoring the growth fit for it scored a model the forecast
    does not use (QA: "log-linear ... bands span 1.2x" where its forecast had P10 = P90)."""
    if curve.kind == "piecewise":
        return ""
    return (f"the demand curve is {curve.kind!r}: one least-squares curve through every point, drawn with no "
            "uncertainty, so there is no band to score; backtest scores the growth a 'piecewise' curve draws "
            "after its last point (set the curve to piecewise to backtest it)")


def backtest(curve: DemandCurve, as_of: dt.date, trials: int = 20_000, seed: int = 0) -> Backtest:
    """P10/P50/P90 of tokens/day at each point after `as_of`, from the points on or before it.

    Raises ValueError when the growth model cannot be fitted on what was known (too few points),
    or the curve is not piecewise (`backtest_refusal`).
    """
    refusal = backtest_refusal(curve)
    if refusal:
        raise ValueError(refusal)
    known = tuple(p for p in sorted(curve.points, key=lambda p: p.date) if p.date <= as_of)
    later = tuple(p for p in sorted(curve.points, key=lambda p: p.date) if p.date > as_of)
    if not known:
        first = min((p.date for p in curve.points), default=None)
        after = f" (the first is {first.isoformat()})" if first is not None else " (the curve has none)"
        raise ValueError(f"no demand point on or before {as_of.isoformat()}{after}")
    try:
        fit = fit_growth(replace(curve, points=known))
    except ValueError as exc:   # too few points known then: say how many, and from when enough are
        need = {"loglinear": 2, "decaying": 3}.get(curve.growth_model, 1)
        ordered = sorted(p.date for p in curve.points)
        # (only where too few were known: a dip among them is not cured by a later date)
        when = (f"; the earliest --as-of with {need} is {ordered[need - 1].isoformat()}"
                if len(known) < need <= len(ordered) else "")
        raise ValueError(f"{exc}; {len(known)} known on or before {as_of.isoformat()}{when}") from None
    tau = np.array([(p.date.toordinal() - fit.last_ordinal) / DAYS_PER_YEAR for p in later])
    z = growth_normals(fit, seed, trials)
    # the last known point's own uncertainty (DemandPoint.sd_pct, a floor where at_least), as the
    # forecast draws it: growth runs from each trial's drawn last point (it had run from the figure,
    # a narrower and lower forecast than the one Fleetcast makes)
    from engine.forecast import LOG_DEMAND_GROWTH_CAP, point_log_offsets

    offsets = point_log_offsets(replace(curve, points=known), seed, trials)
    last = None if offsets is None else offsets[:, -1:]
    # held at the forecast's millionfold of the last point, as the forecast holds it: two points
    # months apart, each uncertain by half, leave the growth rate so uncertain that draws overflowed
    log_values = np.minimum(draw_log_growth(fit, tau, z, curve.ceiling_tokens_per_day, last_log_offset=last),
                            LOG_DEMAND_GROWTH_CAP)
    if last is not None:
        log_values = log_values + last
    # a later point is scored as reported: its figure is the true demand off by its own stated
    # uncertainty (DemandPoint.sd_pct), so its band is the forecast's widened by that (it was
    # scored against the band for true demand, narrower than what the figure can be). A "more than"
    # figure is scored as a floor instead (at or below the truth whatever its sd).
    sd = np.array([0.0 if p.at_least else float(p.sd_pct or 0.0) / 100.0 for p in later])
    if np.any(sd > 0):
        log_values = log_values + sd[None, :] * _stream(seed, 9, 1).standard_normal((trials, len(later)))
    values = fit.last_tokens_per_day * np.exp(log_values)
    q = np.percentile(values, [10, 50, 90], axis=0) if len(later) else np.zeros((3, 0))
    return Backtest(as_of, len(known), fit.note,
                    tuple(BacktestPoint(p.date, p.tokens_per_day, float(q[0, i]), float(q[1, i]), float(q[2, i]),
                                       actual_is_floor=bool(p.at_least))
                          for i, p in enumerate(later)), trials, seed, quantile_relative_se(values, q))


SE_BATCHES = 20       # batches the trials are split into to estimate the quantiles' Monte Carlo error
SE_BATCH_TRIALS = 100  # the fewest trials a batch's P10/P90 is read from
SE_MIN_BATCHES = 5     # fewer batches' spread is too rough to print as an error
SE_MIN_TRIALS = SE_MIN_BATCHES * SE_BATCH_TRIALS   # below it the error is not estimated (None)


def quantile_relative_se(values: np.ndarray, quantiles: np.ndarray) -> tuple[float, float, float] | None:
    """The largest relative standard error of P10/P50/P90 over the columns of `values` (trials x
    points), by batch means: a quantile's error falls as 1/sqrt(trials), so the spread of the
    quantiles of B batches, over sqrt(B), is that of the whole run's. The draws are the run's own:
    nothing is drawn again and the printed quantiles do not change."""
    trials = values.shape[0]
    batches = min(SE_BATCHES, trials // SE_BATCH_TRIALS)
    if batches < SE_MIN_BATCHES or values.shape[1] == 0:
        return None
    size = trials // batches
    per_batch = np.percentile(values[:batches * size].reshape(batches, size, -1), [10, 50, 90], axis=1)
    se = per_batch.std(axis=1, ddof=1) / np.sqrt(batches)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(quantiles > 0, se / quantiles, np.nan)
    worst = np.nanmax(rel, axis=1) if np.isfinite(rel).any() else None
    return None if worst is None else (float(worst[0]), float(worst[1]), float(worst[2]))
