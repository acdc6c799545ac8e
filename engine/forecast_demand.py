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

The fitted models (`loglinear`, `decaying`) take the points' own uncertainty (`DemandPoint.sd_pct`,
`at_least`) into the fit: weighted least squares in log space, each point's (each interval's log
rate's) variance its stated one carried into the regressand plus the residual scatter those do not
explain (the residual sum of squares less its expected stated share), that scatter floored at
`growth_sigma_floor` as before. The parameters' covariance is the weighted fit's, so two points
+-100% make the growth after them far less certain (they had given the same band a year on as exact
ones), and a point known to +-100% pulls the fit less than an exact one. (Unweighted, as if each
trial refitted its own drawn points, the story with every point but the last +-100% read a P90 of
18,000x in the year after its last point, the loose short intervals' log rates dominating; weighted,
25x.) The log rate of an interval moves by (e_{i+1} - e_i) / (its log growth) with the two points'
offsets e, to first order. A floor point (`at_least`) is drawn at or above its figure (|z| x sd),
so the fit takes it where the draws put it on average (sd x sqrt(2/pi) above the figure in log
terms) with the half-normal's variance: a "more than" figure raises what is fitted through it.
With every sd_pct 0 the fit is the unweighted one, bit for bit. The last point's own draw reaches
`draw_log_growth` (the forecast has it per trial), and the growth is drawn given it: a last point
drawn high also steepens the fit through it.

After the fit, `growth_rate_multiplier` (m, a what-if) scales each trial's drawn log-growth by m
before the ceiling bends it: median and spread alike, so every quantile of the growth per year g
reads g^m (DemandCurve says it in full). The points' scatter about the curve (`level_scatter_sd`)
is a level, not growth: it is added after the multiplier, unscaled.
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
    # How the fitted parameters move with the last point's own log offset (per unit of it, one per
    # entry of `mean`), and that offset's mean and variance as the trials draw it: `draw_log_growth`
    # draws the growth given each trial's last point. Empty / 0: the last point is exact.
    last_point_coef: tuple[float, ...] = ()
    last_point_mean: float = 0.0
    last_point_var: float = 0.0
    # The points' scatter about the fitted curve that their stated uncertainty does not explain
    # (log units, `_level_scatter`; said in the note), and their mean spacing in years
    level_sd: float = 0.0
    level_spacing_years: float = 0.0
    # The points' whole scatter about the fitted curve (log sd), whatever explains it (their
    # stated uncertainty or not): the last point's and a later date's deviation from the curve
    # (`level_scatter_sd`)
    level_observed_sd: float = 0.0


def _years(ordinals) -> np.ndarray:
    return np.asarray(ordinals, dtype=float) / DAYS_PER_YEAR


def _stated_log_offsets(points) -> tuple[np.ndarray, np.ndarray]:
    """(mean, variance) of each point's log offset from its figure, as the trials draw it
    (`engine.forecast.point_log_offsets`): sd x z, or sd x |z| for a floor (half-normal)."""
    sd = np.array([float(getattr(p, "sd_pct", 0.0) or 0.0) / 100.0 for p in points])
    floor = np.array([bool(getattr(p, "at_least", False)) for p in points])
    mean = np.where(floor, sd * math.sqrt(2.0 / math.pi), 0.0)
    var = sd * sd * np.where(floor, 1.0 - 2.0 / math.pi, 1.0)
    return mean, var


def _weighted_fit(design: np.ndarray, regressand: np.ndarray, along: np.ndarray, var: np.ndarray,
                  floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(parameters, their covariance, parameters per unit of each point's log offset) of a least
    squares fit of `regressand` on `design`, the regressand moving by `along` @ (point offsets),
    the offsets' variances `var` (`_stated_log_offsets`).

    The residual scatter s is what the stated variances S do not explain: E[RSS] = s^2 dof +
    tr((I - H) S) for the unweighted fit, so s^2 = (RSS - tr) / dof, at least 0, then floored.
    Weights: the inverse of S + s^2 I (generalised least squares)."""
    pinv = np.linalg.inv(design.T @ design) @ design.T
    stated = along @ (var[:, None] * along.T)   # the regressand's stated covariance
    resid = regressand - design @ (pinv @ regressand)
    unexplained = float(np.trace(stated - design @ (pinv @ stated)))
    dof = len(regressand) - design.shape[1]
    s = math.sqrt(max(float(resid @ resid) - unexplained, 0.0) / dof) if dof > 0 else 0.0
    # a floor of 0 with exact intervals among the weighted ones: near-exact, not a singular matrix
    weight = np.linalg.inv(stated + max(s, floor, 1e-6) ** 2 * np.eye(len(regressand)))
    cov = np.linalg.inv(design.T @ weight @ design)
    gain = cov @ design.T @ weight              # parameters per unit of the regressand
    return gain @ regressand, cov, gain @ along


def _level_scatter(t_years: np.ndarray, level: np.ndarray, var: np.ndarray, params: int) -> tuple[float, float]:
    """(unexplained, observed) sd (log units) of the points about a fitted curve: `level` is each
    point's log figure (as the trials draw it on average) less the curve's shape there, its level
    free (the mean taken out), `params` the fitted parameters with that level. Observed: r^2 =
    (sum of squares) / (n - params); unexplained, what the stated variances `var` leave: s^2 =
    (sum of squares - the stated share) / (n - params), at least 0 (the story's six points
    scatter 0.26 about their curve, all of it within what they state)."""
    n = len(level)
    if n <= params:
        return 0.0, 0.0
    resid = level - level.mean()
    squares = float(resid @ resid)
    excess = squares - float(np.sum(var)) * (1.0 - 1.0 / n)
    return math.sqrt(max(excess, 0.0) / (n - params)), math.sqrt(squares / (n - params))


def _spacing_years(t_years: np.ndarray) -> float:
    return float(t_years[-1] - t_years[0]) / (len(t_years) - 1) if len(t_years) > 1 else 0.0


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
    off_mean, off_var = _stated_log_offsets(pts)
    last_point = dict(last_point_mean=float(off_mean[-1]), last_point_var=float(off_var[-1]))
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
        weighted = bool(np.any(off_var[-n:] > 0))
        if weighted:   # the points where the trials put them on average (a floor point above its figure)
            beta, cov, coef = _weighted_fit(np.column_stack([np.ones_like(t), t]), ys + off_mean[-n:],
                                            np.eye(len(t)), off_var[-n:], floor)
            slope, var = float(beta[1]), float(cov[1, 1])
            coef_last: tuple[float, ...] = (float(coef[1, -1]),)
        else:
            slope = float(t @ (ys - ys.mean()) / sxx)
            resid = ys - ys.mean() - slope * t
            dof = len(xs) - 2
            s = math.sqrt(float(resid @ resid) / dof) if dof > 0 else 0.0
            s = max(s, floor)
            se = s / math.sqrt(sxx)
            var, coef_last = se * se, ()
        falling = ", falling" if slope < 0 else ""   # followed as it is: said in words, not only as 0.0014x
        level_sd, observed_sd = _level_scatter(xs, ys + off_mean[-n:] - slope * xs, off_var[-n:], 2)
        return GrowthFit(model, *last, (slope,), ((var,),), len(xs),
                         f"log-linear on the last {len(xs)} points: {math.exp(slope):.3g}x/year{falling} "
                         f"(slope {slope:.3g} +- {math.sqrt(var):.2g} per year{_WEIGHTED_NOTE if weighted else ''})"
                         + _scatter_note(level_sd, observed_sd),
                         last_point_coef=coef_last, **last_point, level_sd=level_sd,
                         level_spacing_years=_spacing_years(xs), level_observed_sd=observed_sd)
    if model == "decaying":
        if len(pts) < 3:
            raise ValueError("demand.growth_model 'decaying' needs at least three points")
        rate = np.diff(y) / np.diff(_years(x))
        if np.any(rate <= 0):
            i = int(np.argmax(rate <= 0))
            a, b = pts[i], pts[i + 1]
            raise ValueError(f"demand.growth_model 'decaying': demand does not grow (flat or falling) between two points, "
                             f"{a.date.isoformat()} ({a.tokens_per_day:,.4g} tokens/day) and {b.date.isoformat()} "
                             f"({b.tokens_per_day:,.4g}) (the model needs growth in every interval)")
        mid = (_years(x[1:]) + _years(x[:-1])) / 2
        origin = float(mid.mean())
        X = np.column_stack([np.ones_like(mid), mid - origin])
        ly = np.log(rate)
        weighted = bool(np.any(off_var > 0))
        if weighted:
            # each interval's log rate moves with its two points' offsets, to first order:
            # d log r_i = (e_{i+1} - e_i) / (the interval's log growth)
            along = (np.eye(len(y))[1:] - np.eye(len(y))[:-1]) / np.diff(y)[:, None]
            beta, cov, coef = _weighted_fit(X, ly + along @ off_mean, along, off_var, floor)
        else:
            beta, *_ = np.linalg.lstsq(X, ly, rcond=None)
            resid = ly - X @ beta
            dof = len(ly) - 2
            s = math.sqrt(float(resid @ resid) / dof) if dof > 0 else 0.0
            s = max(s, floor)
            cov = s * s * np.linalg.inv(X.T @ X)
            coef = np.zeros((2, len(y)))
        # Re-express the intercept at the last point's time so that draws are about "the rate now".
        shift = float(_years([x[-1]])[0] - origin)
        J = np.array([[1.0, shift], [0.0, 1.0]])
        mean = J @ beta
        cov = J @ cov @ J.T
        coef_last = J @ coef[:, -1]
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
        # the fitted curve's shape through the points (log growth from the last point), its level
        # free; the slope as fitted, not capped at 0 as the draws cap it: an accelerating history's
        # misfit to a capped curve is no scatter (QA: 0.78 "scatter" of eight noiseless points)
        years = _years(x)
        rate_b = float(mean[1])
        dt_years = years - years[-1]
        shape = (math.exp(mean[0]) * np.expm1(rate_b * dt_years) / rate_b if abs(rate_b) > 1e-9
                 else math.exp(mean[0]) * dt_years)
        level_sd, observed_sd = _level_scatter(years, y + off_mean - shape, off_var, 3)
        return GrowthFit(model, *last, (float(mean[0]), float(mean[1])), tuple(map(tuple, cov.tolist())),
                         len(pts), f"{pace}, {trend}{_WEIGHTED_NOTE if weighted else ''}"
                         + _scatter_note(level_sd, observed_sd),
                         last_point_coef=tuple(float(c) for c in coef_last) if weighted else (), **last_point,
                         level_sd=level_sd, level_spacing_years=_spacing_years(years),
                         level_observed_sd=observed_sd)
    raise ValueError(f"demand.growth_model: {model!r} (must be one of {', '.join(GROWTH_MODELS)})")


# said after a fit that weighed the points by their stated uncertainty
_WEIGHTED_NOTE = "; fitted with each point weighted by its stated uncertainty, which its spread includes"


def _scatter_note(level_sd: float, observed_sd: float) -> str:
    if observed_sd <= 1e-6:
        return ""
    beyond = f", {level_sd:.2g} more than they state" if level_sd > 0.0 else ", within what they state"
    return f"; the points scatter about it by {observed_sd:.2g} in log sd{beyond}, and later dates are drawn as scattered"


def level_scatter_var(fit: GrowthFit) -> float:
    """The variance (log units) `level_scatter_sd` reaches: r^2 + max(r^2 - v, 0) (see there)."""
    r2 = float(getattr(fit, "level_observed_sd", 0.0)) ** 2
    v_last = float(getattr(fit, "last_point_var", 0.0))
    return r2 + max(r2 - v_last, 0.0)


def level_scatter_sd(fit: GrowthFit, tau_years: np.ndarray) -> np.ndarray:
    """The sd (log units) of demand about the fitted growth `tau` years after the last point from
    the points' scatter about the curve (r, their whole scatter, `GrowthFit.level_observed_sd`,
    whatever explains it). The forecast runs from the last point, off the curve as the points are
    (by r; its stated uncertainty v is drawn on its own, so what it leaves, r^2 - v, is drawn
    here), to a date off the curve as they are (r). Variance r^2 + max(r^2 - v, 0) (2 r^2 for exact
    points), reached within one spacing of the points (the next point's distance) and rising from 0
    at the last point: demand moves continuously, and the points say nothing of times shorter than
    their spacing.

    No stated uncertainty lowers it: which of the scatter is reporting error and which demand's own
    swings the points cannot tell, and counting it reporting error narrowed the band when figures
    were marked less certain (QA: +-25% on points scattered 17% raised P(meet) from 62% to 64%, on
    every point or on all but the last). Conservative where the scatter is reporting error alone.
    Left out before, twelve monthly points scattered by 17% about a 3x/year trend gave a P90/P10 of
    1.03 two weeks after the last point, and the backtest's P10-P90 bands held 0-50% of the later
    points (80% expected)."""
    var = level_scatter_var(fit)
    tau = np.maximum(np.asarray(tau_years, dtype=float), 0.0)
    if var <= 0.0:
        return np.zeros_like(tau)
    spacing = float(getattr(fit, "level_spacing_years", 0.0))
    ramp = np.minimum(tau / spacing, 1.0) if spacing > 0 else (tau > 0).astype(float)
    return np.sqrt(var * ramp)


def _given_last_point(fit: GrowthFit, z: np.ndarray | None, last_log_offset: np.ndarray | None):
    """(trials x parameters shift of the fitted mean, covariance left to draw) given each trial's
    last point: the fit moves with that point's draw by `last_point_coef`; what stays random is the
    rest (the residual part and the other points). Without a draw of the point: (0, cov)."""
    cov = np.array(fit.cov, dtype=float)
    # a fit-like object without the fields (made by hand) draws as fitted
    coef = np.array(getattr(fit, "last_point_coef", ()), dtype=float)
    var = float(getattr(fit, "last_point_var", 0.0))
    if z is None or last_log_offset is None or var <= 0.0 or not coef.size:
        return 0.0, cov
    offset = np.asarray(last_log_offset, dtype=float).reshape(-1, 1) - float(getattr(fit, "last_point_mean", 0.0))
    return offset * coef[None, :], cov - np.outer(coef, coef) * var


def draw_log_growth(fit: GrowthFit, tau_years: np.ndarray, z: np.ndarray | None,
                    ceiling_tokens_per_day: float | None = None,
                    last_log_offset: np.ndarray | None = None) -> np.ndarray:
    """Trials x len(tau) log multipliers of demand over the last point (0 at tau <= 0).

    `z`: trials x 2 standard normal draws (None: the central estimate, one row); a third column,
    where given, draws the points' scatter about the curve (`level_scatter_sd`).
    `last_log_offset`: trials x 1 log offsets of the last point from its figure (its own
    uncertainty, `DemandPoint.sd_pct`); the growth is then over that trial's last point, a fitted
    growth is drawn given it (`GrowthFit.last_point_coef`: same spread over the trials, now with
    the point), and the approach to a ceiling depends on it (a point drawn higher is nearer it).
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
        moved, cov = _given_last_point(fit, z, last_log_offset)
        if isinstance(moved, float):   # as before, bit for bit
            g = fit.mean[0] + math.sqrt(fit.cov[0][0]) * z[:, :1]
        else:
            g = fit.mean[0] + moved + math.sqrt(max(float(cov[0, 0]), 0.0)) * z[:, :1]
        out = g * tau
    elif fit.model == "decaying":
        moved, cov = _given_last_point(fit, z, last_log_offset)
        chol = np.linalg.cholesky(cov + 1e-15 * np.eye(2))
        ab = np.array(fit.mean)[None, :] + moved + z[:, :2] @ chol.T
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
    cap = None
    if ceiling_tokens_per_day:
        k = float(ceiling_tokens_per_day)
        n0 = fit.last_tokens_per_day
        if last_log_offset is not None:
            # per trial from its own last point: N = K / (1 + (K/N0 - 1) e^-L) for N0 on either
            # side of K (a last point drawn above the ceiling falls back toward it)
            ratio = k / (n0 * np.exp(np.asarray(last_log_offset, dtype=float)))
            out = np.log(ratio) - np.log1p((ratio - 1.0) * np.exp(-out))
            cap = np.log(ratio)
        elif k > n0:  # logistic on the same clock: N = K / (1 + (K/N0 - 1) e^-L)
            out = np.log(k / n0) - np.log1p((k / n0 - 1.0) * np.exp(-out))
            cap = math.log(k / n0)
    # the points' scatter about the curve, the last point's and a later date's: a level, not
    # growth (after the what-if's multiplier, which leaves it, and after a ceiling bends the
    # growth: added before the bend it turned the wrong way for a last point drawn above the
    # ceiling, and past it made log1p of less than -1); its normal is z's third column
    if z.shape[1] > 2 and level_scatter_var(fit) > 0.0:
        out = out + level_scatter_sd(fit, tau[0])[None, :] * z[:, 2:3]
        if cap is not None:
            # nor above the ceiling: "the most tokens/day demand can reach" read a P90 30-55%
            # above it with the story's 0.26 scatter (60 T a day: P90 92 T; QA s39), nor a last
            # point drawn above it (its curve falls back toward it) after that point's date
            out = np.where(tau > 0.0, np.minimum(out, cap), out)
    return out
