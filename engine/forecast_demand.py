"""Demand growth after the last observed point, with its uncertainty (pure numpy).

Models (`DemandCurve.growth_model`), each giving per trial the log of demand relative to the last
point, `tau` years after it:
- `fixed`: `growth_after_last_per_year` every year, no uncertainty (version 0.1's behaviour).
- `loglinear`: least squares of log tokens/day on time over the last `fit_points` points; the
  slope is drawn from a normal with its standard error (residual sd floored at
  `growth_sigma_floor`, because three points on a line say little about the next year). A
  negative slope is followed: points that fall give falling demand.
- `decaying`: the growth rate between consecutive points, log r_i, regressed on the interval's
  mid-time: log r(t) = a + b t. Doubao's rates fall from ~8.6 per year in log units (mid 2024) to ~2 (late
  2025), almost log-linearly. Demand then follows log N = log N_last + integral of r; with b < 0
  it saturates on its own (a Gompertz curve). (a, b) are drawn from a normal with the fit's
  covariance, residual sd floored as above; b is kept <= 0 (accelerating growth is not
  extrapolated).
- `user`: the user's P10/P50/P90 growth per year (x per year), a two-piece lognormal.
An optional `ceiling_tokens_per_day` turns any of them into a logistic approach to that ceiling.
After the fit, `growth_rate_multiplier` (m, a what-if) scales each trial's drawn log-growth by m
before the ceiling bends it: median and spread alike, so every quantile of the growth per year g
reads g^m (DemandCurve says it in full).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

DAYS_PER_YEAR = 365.25
GROWTH_MODELS = ("fixed", "loglinear", "decaying", "user")
Z90 = 1.2815515655446004  # standard normal 90th percentile


@dataclass(frozen=True)
class GrowthFit:
    """What a model fitted on the points: shown to the user and used to draw trials."""

    model: str
    last_ordinal: float
    last_tokens_per_day: float
    mean: tuple[float, ...]  # loglinear: (slope/yr,); decaying: (a, b); user: (log p10, p50, p90)
    cov: tuple[tuple[float, ...], ...]
    points_used: int
    note: str
    # The what-if's multiplier on the log-growth (DemandCurve.growth_rate_multiplier), kept with the
    # fit so that every reader of it (forecast, sensitivity, backtest) draws the same growth.
    rate_multiplier: float = 1.0


def _years(ordinals) -> np.ndarray:
    return np.asarray(ordinals, dtype=float) / DAYS_PER_YEAR


def fit_growth(curve) -> GrowthFit:
    """Fit `curve.growth_model` to `curve.points` (sorted by date), the what-if's growth multiplier
    kept beside the fit (and said in its note); raises ValueError when it cannot be fitted."""
    fit = _fit(curve)
    m = float(getattr(curve, "growth_rate_multiplier", 1.0))
    if m == 1.0:
        return fit
    return replace(fit, rate_multiplier=m,
                   note=f"{fit.note}; what-if: growth x{m:g} in log terms (g x/year reads g^{m:g} x/year)")


def _fit(curve) -> GrowthFit:
    pts = sorted(curve.points, key=lambda p: p.date)
    if not pts:
        raise ValueError("demand.points: none (growth needs at least one point)")
    x = np.array([p.date.toordinal() for p in pts], dtype=float)
    y = np.log(np.array([p.tokens_per_day for p in pts], dtype=float))
    last = (float(x[-1]), float(math.exp(y[-1])))
    floor = float(curve.growth_sigma_floor)
    model = curve.growth_model
    if model == "fixed":
        g = math.log(curve.growth_after_last_per_year)
        return GrowthFit(model, *last, (g,), ((0.0,),), len(pts), f"fixed {curve.growth_after_last_per_year:g}x/year")
    if model == "user":
        lo, mid, hi = (math.log(v) for v in (curve.growth_p10_per_year, curve.growth_p50_per_year,
                                              curve.growth_p90_per_year))
        return GrowthFit(model, *last, (lo, mid, hi), ((0.0,),), len(pts),
                         f"user: P10/P50/P90 {curve.growth_p10_per_year:g}/{curve.growth_p50_per_year:g}/"
                         f"{curve.growth_p90_per_year:g}x per year")
    if model == "loglinear":
        n = max(2, int(curve.fit_points))
        xs, ys = _years(x[-n:]), y[-n:]
        if len(xs) < 2:
            raise ValueError("demand.growth_model 'loglinear' needs at least two points")
        t = xs - xs.mean()
        sxx = float(t @ t)
        slope = float(t @ (ys - ys.mean()) / sxx)
        resid = ys - ys.mean() - slope * t
        dof = len(xs) - 2
        s = math.sqrt(float(resid @ resid) / dof) if dof > 0 else 0.0
        s = max(s, floor)
        se = s / math.sqrt(sxx)
        falling = ", falling" if slope < 0 else ""   # followed as it is: said in words, not only as 0.0014x
        return GrowthFit(model, *last, (slope,), ((se * se,),), len(xs),
                         f"log-linear on the last {len(xs)} points: {math.exp(slope):.3g}x/year{falling} "
                         f"(slope {slope:.3g} +- {se:.2g} per year)")
    if model == "decaying":
        if len(pts) < 3:
            raise ValueError("demand.growth_model 'decaying' needs at least three points")
        rate = np.diff(y) / np.diff(_years(x))
        if np.any(rate <= 0):
            raise ValueError("demand.growth_model 'decaying': demand falls between two points "
                             "(the model needs growth in every interval)")
        mid = (_years(x[1:]) + _years(x[:-1])) / 2
        origin = float(mid.mean())
        X = np.column_stack([np.ones_like(mid), mid - origin])
        ly = np.log(rate)
        beta, *_ = np.linalg.lstsq(X, ly, rcond=None)
        resid = ly - X @ beta
        dof = len(ly) - 2
        s = math.sqrt(float(resid @ resid) / dof) if dof > 0 else 0.0
        s = max(s, floor)
        cov = s * s * np.linalg.inv(X.T @ X)
        # Re-express the intercept at the last point's time so that draws are about "the rate now".
        shift = float(_years([x[-1]])[0] - origin)
        J = np.array([[1.0, shift], [0.0, 1.0]])
        mean = J @ beta
        cov = J @ cov @ J.T
        pace = (f"growth rate {math.exp(mean[0]):.3g} per year in log units at the last point "
                f"(x{math.exp(math.exp(mean[0])):,.3g} a year at that pace)")
        if mean[1] < 0:
            # the log of the rate falls linearly: the rate halves every ln 2 / slope years ("falling by
            # 2.48 in log per year" read as the rate itself falling 2.48 a year)
            trend = (f"its log falling by {-mean[1]:.3g} a year, so the rate halves every "
                     f"{math.log(2) / -mean[1]:.2g} years")
        else:   # the draws hold it at the last pace (the slope is capped at 0): said, not "half-life inf"
            trend = ("NOT falling: the points imply accelerating growth, which this model cannot follow; it is "
                     "extrapolated at the last pace with no decline, so check the latest points or pick "
                     "another growth model")
        return GrowthFit(model, *last, (float(mean[0]), float(mean[1])), tuple(map(tuple, cov.tolist())),
                         len(pts), f"{pace}, {trend}")
    raise ValueError(f"demand.growth_model: {model!r} (must be one of {', '.join(GROWTH_MODELS)})")


def draw_log_growth(fit: GrowthFit, tau_years: np.ndarray, z: np.ndarray | None,
                    ceiling_tokens_per_day: float | None = None,
                    last_log_offset: np.ndarray | None = None) -> np.ndarray:
    """Trials x len(tau) log multipliers of demand over the last point (0 at tau <= 0).

    `z`: trials x 2 standard normal draws (None: the central estimate, one row).
    `last_log_offset`: trials x 1 log offsets of the last point from its figure (its own
    uncertainty, `DemandPoint.sd_pct`); the growth is then over that trial's last point, and only
    the approach to a ceiling depends on it (a point drawn higher is nearer the ceiling).
    """
    tau = np.maximum(np.asarray(tau_years, dtype=float), 0.0)[None, :]
    if z is None:
        z = np.zeros((1, 2))
    if fit.model == "fixed":
        out = np.broadcast_to(fit.mean[0] * tau, (len(z), tau.shape[1])).copy()
    elif fit.model == "user":
        lo, mid, hi = fit.mean
        zz = z[:, :1]
        # Through the user's P10, P50 and P90 (straight in the score between them); beyond P10 and
        # P90 at the average half-spread, which the P50 does not move. Extending each half's own
        # slope made the tail below P10 fall as the P50 rose (P50 2.0 -> 2.5 x/yr lowered the 2.3rd
        # percentile from 1.28 to 1.13 x/yr), so a higher growth lowered the demand P(meet) reads.
        tail = (hi - lo) / (2.0 * Z90)
        g = np.where(zz < -Z90, lo + (zz + Z90) * tail,
                     np.where(zz > Z90, hi + (zz - Z90) * tail,
                              mid + np.where(zz < 0, (mid - lo), (hi - mid)) / Z90 * zz))
        out = g * tau
    elif fit.model == "loglinear":
        # The drawn slope as it is, falling included: clipping it at 0 held a fit falling ~700x a
        # year flat with no spread (P10 = P50 = P90) and cut the lower tail of slowly growing fits.
        g = fit.mean[0] + math.sqrt(fit.cov[0][0]) * z[:, :1]
        out = g * tau
    elif fit.model == "decaying":
        chol = np.linalg.cholesky(np.array(fit.cov) + 1e-15 * np.eye(2))
        ab = np.array(fit.mean)[None, :] + z[:, :2] @ chol.T
        a, b = ab[:, :1], np.minimum(ab[:, 1:2], 0.0)
        rate0 = np.exp(a)  # growth rate (log per year) at the last point
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            integral = np.where(b < -1e-9, rate0 * np.expm1(b * tau) / np.where(b < -1e-9, b, 1.0), rate0 * tau)
        out = integral
    else:
        raise ValueError(fit.model)
    # the what-if, on the whole draw (median and spread) before any ceiling; a fit-like object
    # without the field (made by hand) draws as fitted
    multiplier = getattr(fit, "rate_multiplier", 1.0)
    if multiplier != 1.0:
        out = out * multiplier
    if ceiling_tokens_per_day:
        k = float(ceiling_tokens_per_day)
        n0 = fit.last_tokens_per_day
        if last_log_offset is not None:
            # per trial from its own last point: N = K / (1 + (K/N0 - 1) e^-L) for N0 on either
            # side of K (a last point drawn above the ceiling falls back toward it)
            ratio = k / (n0 * np.exp(np.asarray(last_log_offset, dtype=float)))
            out = np.log(ratio) - np.log1p((ratio - 1.0) * np.exp(-out))
        elif k > n0:  # logistic on the same clock: N = K / (1 + (K/N0 - 1) e^-L)
            out = np.log(k / n0) - np.log1p((k / n0 - 1.0) * np.exp(-out))
    return out
