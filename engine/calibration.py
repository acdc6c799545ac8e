"""Fitting efficiency factors to measured runs: least squares on log error.

`fit_factors` is generic (any predictor of any metric); `calibrate_training` wraps it for the
training engine and a user's own measured runs in the validation-case schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class FitResult:
    values: dict                  # factor name -> fitted value
    start: dict
    rms_log_error_before: float
    rms_log_error_after: float
    median_abs_error_pct_before: float
    median_abs_error_pct_after: float
    iterations: int
    cases: int
    notes: tuple = field(default_factory=tuple)


def _robust_weights(r: np.ndarray, scale: float) -> np.ndarray:
    """Huber weights: residuals beyond `scale` count linearly, so a few outliers (whole-run
    rows, odd benchmarks) cannot drag the fit."""
    a = np.abs(r)
    return np.where(a <= scale, 1.0, scale / np.maximum(a, 1e-12))


def fit_factors(predict: Callable[[dict], np.ndarray], measured: Sequence[float],
                start: Mapping[str, float], bounds: Mapping[str, tuple[float, float]] | None = None,
                *, weights: Sequence[float] | None = None, max_iter: int = 25,
                huber_scale: float = 0.25, prior_weight: float = 0.05) -> FitResult:
    """Fit positive factors so that log(predict(factors)) matches log(measured).

    `predict(values) -> array` of predictions in the same order as `measured`. Works in
    log-parameter space (factors are positive, often ratios) with a damped Gauss-Newton
    (Levenberg-Marquardt) step, a finite-difference Jacobian, box bounds, Huber reweighting, and
    a weak prior pulling each factor to its start (keeps badly determined factors physical).
    """
    names = list(start)
    x0 = np.log(np.array([float(start[n]) for n in names]))
    lo = np.log(np.array([(bounds or {}).get(n, (start[n] / 10, start[n] * 10))[0] for n in names]))
    hi = np.log(np.array([(bounds or {}).get(n, (start[n] / 10, start[n] * 10))[1] for n in names]))
    y = np.log(np.asarray(measured, dtype=float))
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)

    def residual(x):
        pred = np.asarray(predict(dict(zip(names, np.exp(x)))), dtype=float)
        r = np.log(np.maximum(pred, 1e-30)) - y
        return np.where(np.isfinite(r), r, 0.0)

    def cost(r, x):
        rw = _robust_weights(r, huber_scale) * w
        return float(np.sum(rw * r * r) + prior_weight * len(y) * np.sum((x - x0) ** 2))

    x = np.clip(x0.copy(), lo, hi)
    r = residual(x)
    r_before = r.copy()
    lam = 1e-2
    it = 0
    for it in range(1, max_iter + 1):
        rw = _robust_weights(r, huber_scale) * w
        J = np.empty((len(y), len(names)))
        for j in range(len(names)):
            step = 1e-3
            xp = x.copy()
            xp[j] += step
            J[:, j] = (residual(xp) - r) / step
        A = J.T @ (J * rw[:, None]) + prior_weight * len(y) * np.eye(len(names))
        g = J.T @ (rw * r) + prior_weight * len(y) * (x - x0)
        improved = False
        for _ in range(12):
            dx = -np.linalg.solve(A + lam * np.diag(np.diag(A) + 1e-9), g)
            xn = np.clip(x + dx, lo, hi)
            rn = residual(xn)
            if cost(rn, xn) < cost(r, x):
                x, r = xn, rn
                lam = max(lam / 3, 1e-6)
                improved = True
                break
            lam *= 5
        if not improved or np.max(np.abs(dx)) < 1e-5:
            break
    pct = lambda rr: float(np.median(np.abs(np.exp(rr) - 1.0)) * 100.0) if len(rr) else 0.0  # noqa: E731
    return FitResult(
        values={n: float(v) for n, v in zip(names, np.exp(x))},
        start={n: float(start[n]) for n in names},
        rms_log_error_before=float(np.sqrt(np.mean(r_before ** 2))) if len(y) else 0.0,
        rms_log_error_after=float(np.sqrt(np.mean(r ** 2))) if len(y) else 0.0,
        median_abs_error_pct_before=pct(r_before),
        median_abs_error_pct_after=pct(r),
        iterations=it,
        cases=len(y),
    )


TRUST_WEIGHTS = {"high": 1.0, "medium": 0.5, "low": 0.2}
TRAINING_FIT_FACTORS = ("train_gemm_eff", "train_attn_eff", "train_layer_overhead_us")
TRAINING_BOUNDS = {
    # ranges kept physical (what microbenchmarks of these parts reach), so a factor cannot
    # absorb an unrelated modelling error
    "train_gemm_eff": (0.3, 0.95), "train_attn_eff": (0.2, 0.8), "train_layer_overhead_us": (5.0, 2000.0),
    "train_hbm_eff": (0.4, 0.9), "train_scaleup_eff": (0.3, 0.9), "train_scaleout_eff": (0.3, 0.9),
    "train_fp8_gemm_rel": (0.4, 1.0), "train_dp_overlap": (0.01, 1.0), "train_tp_overlap": (0.01, 0.9),
    "train_step_overhead_s": (0.0, 5.0), "train_whole_run_eff": (0.4, 1.0), "train_latency_us": (1.0, 100.0),
    "train_ep_overlap": (0.01, 0.9),
}


def calibrate_training(rows: list[dict], chips: Mapping, factor_names: Sequence[str] = TRAINING_FIT_FACTORS,
                       *, chip_ids: Sequence[str] | None = None, max_iter: int = 40,
                       prior_weight: float = 0.005) -> FitResult:
    """Fit training factors (shared by the chips `chip_ids`, default: every chip in the rows) to
    measured runs in the validation-case schema. Layouts the source leaves blank are searched once
    with the current factors and then held fixed while fitting."""
    from dataclasses import replace

    from engine.training import DEFAULT_FACTORS
    from engine.validation import predict_metric, validate_case

    fixed = []
    for row in rows:
        if chip_ids is not None and row.get("chip") not in chip_ids:
            continue
        case = validate_case(row, chips)
        if case["status"] == "ok":
            fixed.append((row, case["_inputs"], float(case["measured"])))
    if not fixed:
        raise ValueError("no usable measured runs to calibrate on")
    chip0 = fixed[0][1]
    start = {n: fixed[0][1].factor(n) if n in DEFAULT_FACTORS else 1.0 for n in factor_names}
    del chip0

    def predict(values):
        out = []
        for row, inp, _ in fixed:
            merged = dict(values)
            merged.update(inp.factors)   # settings the case states (e.g. no DP overlap) win
            out.append(predict_metric(row, replace(inp, factors=merged))[0])
        return np.array(out)

    measured = []
    for row, _, m in fixed:
        measured.append(m)
    # step time is the inverse of throughput: fit on throughput-like quantities
    sign = np.array([-1.0 if row.get("metric") == "step_time_s" else 1.0 for row, _, _ in fixed])

    def predict_signed(values):
        return np.power(predict(values), sign)

    weights = [TRUST_WEIGHTS.get(row.get("trust", ""), 0.5) for row, _, _ in fixed]
    return fit_factors(predict_signed, np.power(np.array(measured), sign), start,
                       {n: TRAINING_BOUNDS.get(n, (start[n] / 10, start[n] * 10)) for n in factor_names},
                       weights=weights, max_iter=max_iter, prior_weight=prior_weight)


# ---- chip families and leave-one-group-out validation ----------------------------------------

# Calibration is per chip family (one silicon die and its software stack), never per chip SKU,
# paper or source: an export variant (H800, H20, A800) shares its die's factors, and the catalog
# carries what differs (link speeds, peak, memory).
CHIP_FAMILIES = (
    ("a100", ("a100", "a800")),
    ("hopper", ("h100", "h800", "h20", "h200", "gh200")),
    ("ascend-910b", ("ascend-910b",)),
)


def chip_family(chip_id: str) -> str:
    """The calibration family of a chip id ('hopper' for h800-sxm5-80gb), else the id itself."""
    cid = (chip_id or "").strip().lower()
    for family, prefixes in CHIP_FAMILIES:
        if cid.startswith(prefixes):
            return family
    return cid


# Factors fitted per family on measured runs; every other training factor is a documented
# default (see resources/calibration_README.md for each prior range and its microbenchmark).
FAMILY_FIT_FACTORS = TRAINING_FIT_FACTORS + ("train_hbm_eff", "train_scaleup_eff")


def fit_families(rows: list[dict], chips: Mapping, factor_names: Sequence[str] = FAMILY_FIT_FACTORS,
                 *, prior: Mapping[str, float] | None = None, max_iter: int = 25) -> dict:
    """Fit `factor_names` separately for every chip family in `rows`, starting from `prior`
    (default: the code defaults, so nothing fitted elsewhere leaks in). Returns
    {family: {factor: value}} and, under the key None, one fit over all rows: the starting point
    for a family with no runs of its own."""
    from engine.training import DEFAULT_FACTORS

    base = {n: float((prior or {}).get(n, DEFAULT_FACTORS[n])) for n in factor_names}
    stripped = {cid: chip.with_calibration(**base) for cid, chip in chips.items()}
    by_family: dict = {}
    for row in rows:
        by_family.setdefault(chip_family(row.get("chip", "")), []).append(row)
    fitted: dict = {}
    for family, fam_rows in sorted(by_family.items()):
        try:
            fit = calibrate_training(fam_rows, stripped, factor_names, max_iter=max_iter)
        except ValueError:
            continue
        fitted[family] = dict(fit.values)
    try:
        fitted[None] = dict(calibrate_training(rows, stripped, factor_names, max_iter=max_iter).values)
    except ValueError:
        fitted[None] = dict(base)
    return fitted
