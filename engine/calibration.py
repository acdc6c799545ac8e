"""Fitting efficiency factors to measured runs: least squares on log error.

`fit_factors` is generic (any predictor of any metric); `calibrate_training` wraps it for the
training engine and a user's own measured runs in the validation-case schema.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Collection, Mapping, Sequence

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
    # factors no prediction moves with (a 25% change either way leaves every case as it was): the
    # runs say nothing about them, so they stay at their start (an A100's expert-parallel overlap
    # fitted on dense runs only)
    unconstrained: tuple = field(default_factory=tuple)
    # per factor, the runs whose prediction moves by more than 1% when it moves 25% either way:
    # a factor that only 2 of 38 runs depend on is fitted to those 2 (an expert imbalance taken
    # from two MoE rows among 36 dense ones was saved and slowed every MoE forecast 15%)
    moved_runs: dict = field(default_factory=dict)
    # the objective the fit minimises (OBJECTIVE_TEXT) at the start and at the result: the median
    # |error| it also reports is not it, and can rise while this falls
    objective_before: float = 0.0
    objective_after: float = 0.0
    # why it stopped (STOP_*); converged: a rerun from `values` moves no factor by more than
    # `tolerance` (relative)
    stop: str = ""
    converged: bool = False
    tolerance: float = 0.0
    prior_center: dict = field(default_factory=dict)


# Log errors beyond this (28%) count linearly in the fit, not squared: a few far-off runs (whole-run
# rows, odd benchmarks) cannot drag it.
HUBER_SCALE = 0.25
# What fit_factors minimises, in words (the command names it beside the figures).
OBJECTIVE_TEXT = (f"trust-weighted Huber loss of the log error (squared within {HUBER_SCALE:g}, linear beyond), "
                  "plus a weak pull to the packaged values")
# A fit has converged when its next Gauss-Newton step moves no factor by more than this (relative:
# the steps are in log space); a rerun from the result then stops where it starts.
CONVERGENCE_TOL = 1e-4
STOP_CONVERGED = "converged"            # the next step is under the tolerance
STOP_NO_DESCENT = "no step lowers the objective"   # a local minimum of a model with kinks
STOP_ITERATIONS = "iteration limit"
STOP_START_KEPT = "start kept: no fitted point scores better on the objective"
# Levenberg-Marquardt damping: LAM_START * LAM_STEP ** n for a whole n in LAM_POWERS, so a rerun
# from a stalled result tries only damping values the fit gave up at (see fit_factors)
LAM_START, LAM_STEP, LAM_POWERS = 1e-2, 5.0, (-6, 14)


def _robust_weights(r: np.ndarray, scale: float) -> np.ndarray:
    """Huber weights: residuals beyond `scale` count linearly, so a few outliers (whole-run
    rows, odd benchmarks) cannot drag the fit."""
    a = np.abs(r)
    return np.where(a <= scale, 1.0, scale / np.maximum(a, 1e-12))


def _huber_loss(r: np.ndarray, scale: float) -> np.ndarray:
    """Twice the Huber loss: r^2 within `scale`, 2*scale*|r| - scale^2 beyond. Its gradient is
    what the reweighted step uses (2 * weight * r); scoring steps on weight * r^2 instead (slope
    scale beyond it, half the step's) refused descent steps and ended fits early."""
    a = np.abs(r)
    return np.where(a <= scale, a * a, 2.0 * scale * a - scale * scale)


def fit_factors(predict: Callable[[dict], np.ndarray], measured: Sequence[float],
                start: Mapping[str, float], bounds: Mapping[str, tuple[float, float]] | None = None,
                *, weights: Sequence[float] | None = None, max_iter: int = 100,
                huber_scale: float = HUBER_SCALE, prior_weight: float = 0.05,
                predict_many: Callable[[list], np.ndarray] | None = None,
                prior_center: Mapping[str, float] | None = None, tol: float = CONVERGENCE_TOL) -> FitResult:
    """Fit positive factors so that log(predict(factors)) matches log(measured).

    `predict(values) -> array` of predictions in the same order as `measured`. Works in
    log-parameter space (factors are positive, often ratios) with a damped Gauss-Newton
    (Levenberg-Marquardt) step on Huber-reweighted residuals, a finite-difference Jacobian, box
    bounds, and a weak prior pulling each factor to `prior_center` (default: the start; keeps badly
    determined factors physical). The objective (OBJECTIVE_TEXT) is
    (sum w * huber(r) + prior_weight * cases * sum (log x - log center)^2) / sum w.

    It runs until the next Gauss-Newton step moves no factor by more than `tol` (relative), or
    no step lowers the objective, or `max_iter`: a rerun from the result stops where it starts
    provided the prior is centred on something other than the start (a prior on the start pulled
    each rerun back to its own start: four --save runs in a row moved the A100 GEMM factor each
    time). A result that does not score below the start on the objective is not taken: the start
    is returned. `predict_many(list of values) -> array (k, cases)`, when given, evaluates
    several points in one call (same numbers, several times faster).
    """
    names = list(start)
    k = len(names)

    def box(n: str) -> tuple[float, float]:
        return (bounds or {}).get(n, (start[n] / 10, start[n] * 10))

    # a range from 0 (a step overhead) is log(0) = -inf: no lower bound in log space, and no
    # numpy warning printed to the user's terminal
    with np.errstate(divide="ignore"):
        x_start = np.log(np.array([float(start[n]) for n in names]))
        lo = np.log(np.array([box(n)[0] for n in names]))
        hi = np.log(np.array([box(n)[1] for n in names]))
        centre = np.log(np.array([float((prior_center or start).get(n, start[n])) for n in names]))
    centre = np.clip(centre, lo, hi)
    y = np.log(np.asarray(measured, dtype=float))
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    w_sum = float(np.sum(w)) if len(y) and np.sum(w) > 0 else 1.0
    prior_k = prior_weight * len(y)

    def to_residual(pred):
        r = np.log(np.maximum(np.asarray(pred, dtype=float), 1e-30)) - y
        return np.where(np.isfinite(r), r, 0.0)

    def values_at(x):
        return dict(zip(names, np.exp(x)))

    def residual(x):
        return to_residual(predict(values_at(x)))

    def residuals_many(xs: list) -> list:
        if predict_many is not None:
            preds = np.asarray(predict_many([values_at(p) for p in xs]), dtype=float)
            return [to_residual(preds[i]) for i in range(len(xs))]
        return [residual(p) for p in xs]

    def jacobian(x, r, movable, step=1e-3):
        cols = np.zeros((len(y), k))
        js = [j for j in range(k) if movable[j]]
        points = []
        for j in js:
            xp = x.copy()
            xp[j] += step
            points.append(xp)
        for j, c in zip(js, residuals_many(points) if points else []):
            cols[:, j] = (c - r) / step
        return cols

    def prior_term(x):
        return np.where(np.isfinite(x) & np.isfinite(centre), x - centre, 0.0)

    def objective(r, x) -> float:
        return float((np.sum(w * _huber_loss(r, huber_scale)) + prior_k * np.sum(prior_term(x) ** 2)) / w_sum)

    # a factor at -inf (a start of 0 on a range from 0) cannot move in log space: held
    movable = np.isfinite(np.clip(x_start, lo, hi))
    r_start = residual(x_start)
    obj_start = objective(r_start, x_start)
    x = np.clip(x_start, lo, hi)
    r = r_start if np.array_equal(x, x_start) else residual(x)
    obj = objective(r, x)
    moved = {n: _runs_moved(residual, predict_many, to_residual, names, x, j, lo, hi, r)
             for j, n in enumerate(names)}
    unconstrained = tuple(n for n in names if moved[n][0] == 0)

    def step(A, g, free, lam):
        """The damped step on the free factors (the others: zero), kept inside the box."""
        dx = np.zeros(k)
        if free.any():
            Af = A[np.ix_(free, free)]
            dx[free] = -np.linalg.solve(Af + lam * np.diag(np.diag(Af)) + 1e-12 * np.eye(int(free.sum())), g[free])
        return np.where(movable, np.clip(x + dx, lo, hi), x)

    power = 0   # the damping's power of LAM_STEP
    it = 0
    stop = STOP_ITERATIONS
    for it in range(1, max_iter + 1):
        if len(y) == 0:
            stop = STOP_CONVERGED
            break
        rw = _robust_weights(r, huber_scale) * w
        J = jacobian(x, r, movable)
        A = J.T @ (J * rw[:, None]) + prior_k * np.eye(k)
        g = J.T @ (rw * r) + prior_k * prior_term(x)
        # a factor on a bound that the objective would push past it stays there (active set)
        pinned = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
        free = movable & ~pinned
        if np.max(np.abs(np.where(movable, step(A, g, free, 0.0) - x, 0.0)), initial=0.0) <= tol:
            stop = STOP_CONVERGED
            break
        # damping from the current power up to the largest; on a stall, the powers from 0 up to
        # the current one as well: a rerun from here starts at 0 and so finds no step this missed
        improved = False
        for p in [*range(power, LAM_POWERS[1] + 1), *range(0, power)]:
            xn = step(A, g, free, LAM_START * LAM_STEP ** p)
            rn = residual(xn)
            obj_n = objective(rn, xn)
            if obj_n < obj:
                x, r, obj = xn, rn, obj_n
                power = max(p - 1, LAM_POWERS[0])
                improved = True
                break
        if not improved:
            stop = STOP_NO_DESCENT
            break
    if not obj < obj_start and not np.array_equal(x, x_start):
        # no point found scores better than the start (a start outside the prior range, clipped,
        # and no way back): the start is the answer
        x, r, obj, stop = x_start, r_start, obj_start, STOP_START_KEPT
    pct = lambda rr: float(np.median(np.abs(np.exp(rr) - 1.0)) * 100.0) if len(rr) else 0.0  # noqa: E731
    return FitResult(
        values={n: float(start[n]) for n in names} if np.array_equal(x, x_start)
        else {n: float(v) for n, v in zip(names, np.exp(x))},
        start={n: float(start[n]) for n in names},
        rms_log_error_before=float(np.sqrt(np.mean(r_start ** 2))) if len(y) else 0.0,
        rms_log_error_after=float(np.sqrt(np.mean(r ** 2))) if len(y) else 0.0,
        median_abs_error_pct_before=pct(r_start),
        median_abs_error_pct_after=pct(r),
        iterations=it,
        cases=len(y),
        unconstrained=unconstrained,
        moved_runs={n: moved[n][1] for n in names},
        objective_before=obj_start,
        objective_after=obj,
        stop=stop,
        converged=stop in (STOP_CONVERGED, STOP_NO_DESCENT, STOP_START_KEPT),
        tolerance=tol,
        prior_center={n: float(v) for n, v in zip(names, np.exp(centre))},
    )


def _runs_moved(residual, predict_many, to_residual, names, x, j, lo, hi, r, ratio=1.25) -> tuple[int, int]:
    """(cases whose residual moves at all, cases it moves by over 1%) when factor j moves 25% up or
    down (within its bounds)."""
    points = []
    for d in (np.log(ratio), -np.log(ratio)):
        xp = x.copy()
        xp[j] = np.clip(xp[j] + d, lo[j], hi[j])
        if xp[j] != x[j]:
            points.append(xp)
    if predict_many is not None and points:
        preds = np.asarray(predict_many([dict(zip(names, np.exp(p))) for p in points]), dtype=float)
        cols = [to_residual(preds[k]) for k in range(len(points))]
    else:
        cols = [residual(p) for p in points]
    change = np.max(np.abs(np.stack(cols) - r), axis=0) if cols else np.zeros_like(r)
    return int(np.sum(change > 1e-9)), int(np.sum(change > 0.01))


TRUST_WEIGHTS = {"high": 1.0, "medium": 0.5, "low": 0.2}
# what `fleetcast calibrate training` fits on a user's runs: the same factors as the packaged per-family fit
TRAINING_FIT_FACTORS = ("train_gemm_eff", "train_attn_eff", "train_hbm_eff", "train_scaleup_eff")
TRAINING_BOUNDS = {
    # Physical prior ranges (what microbenchmarks of these parts reach; sources in
    # resources/calibration_README.md), so a factor cannot absorb an unrelated modelling error.
    # A fit that lands on one of these bounds means the model is missing a term.
    # - GEMM: cuBLAS/cuBLASLt BF16 on large shapes 75-90% of A100 peak, 65-80% of H100 SXM peak;
    #   CANN matmul on 910B ~75-85% of the cube peak (cube ~354 of the catalogued 376).
    "train_gemm_eff": (0.5, 0.95),
    # - fused attention fwd+bwd: FlashAttention-2 50-73% of A100 peak; on H100 FA2 reaches ~35%
    #   forward and ~25-30% backward, FlashAttention-3 50-75% (Dao 2023; Shah et al. 2024)
    "train_attn_eff": (0.2, 0.8),
    # - launches and framework work per layer per micro-batch (fwd+bwd): tens to hundreds of us
    "train_layer_overhead_us": (20.0, 400.0),
    # - memory-bound kernels: 60-92% of HBM peak (STREAM-like copy 85-92% on A100/H100)
    "train_hbm_eff": (0.5, 0.95),
    # - collectives' bus bandwidth: nccl-tests all-reduce 75-85% of NVLink (DGX A100/H100),
    #   HCCL on the 910B mesh similar per link
    "train_scaleup_eff": (0.5, 0.95), "train_scaleout_eff": (0.5, 0.95),
    "train_fp8_gemm_rel": (0.4, 1.0), "train_dp_overlap": (0.01, 1.0), "train_tp_overlap": (0.01, 0.9),
    "train_step_overhead_s": (0.0, 5.0), "train_whole_run_eff": (0.4, 1.0), "train_latency_us": (1.0, 100.0),
    "train_ep_overlap": (0.01, 0.9),
    # - never fitted (FAMILY_DEFAULTS): the attention kernel path's share of the dense peak
    #   (FA2-class kernels: ~0.6 of the fraction on Hopper, ~0.27 on Blackwell; other vendors 0.5;
    #   1 where FA2 is native: A100, Ada)
    "train_attn_path_rel": (0.2, 1.0),
}

# Documented per-family defaults that the public runs cannot pin down apart from the fitted
# factors (written beside the fits into calibration_training.csv, never fitted):
# - Hopper attention: the public H100/H800 rows ran FlashAttention-2-class kernels, which issue
#   Ampere-style mma.sync without TMA or warp specialisation and reach ~35% of H100's dense peak
#   (Shah et al. 2024, FlashAttention-3 Sec. 1) where the same kernels reach 50-73% of A100's
#   (Dao 2023): about 0.6 of the fraction on Hopper. FA3/cuDNN Hopper-native kernels: set 1.0.
# - Blackwell attention: FA2-class kernels issue mma.sync, not tcgen05 with tensor memory, and run
#   at 15-16% of B200's dense peak (tritonbench PR 171, flash-attention issue 1589) against the
#   ~60% they reach where mma.sync is native: 0.16 / 0.6 = 0.27 (resources/calibration_README.md).
#   No public Blackwell run: a documented default for both the portable/native what-if and a fit.
# - Every other vendor's chips (AMD, Intel Gaudi, Google TPU, Biren, Cambricon, Hygon, Kunlunxin,
#   Moore Threads; none has a public training row): 0.5. Nothing published shows their fused
#   attention reaching the share of the dense peak FA2 reaches on A100 (the 1.0 this factor is
#   relative to). Where it was measured it does not: on CDNA the fastest forward kernels reach about
#   34% of the peak (HipKittens on MI355X, ~860 of 2,500 TFLOP/s; Hu et al. 2025, arXiv:2511.08083),
#   FA2's share on H100 (0.35 / 0.6 = 0.58), and the backward, 2.5x the forward's FLOPs, runs below
#   that (AITER's and PyTorch SDPA's GQA backward at 30% / 24% of HipKittens'; SDPA's flash backward
#   on MI300X 9.6-19.9 TFLOP/s against H100's 183 at Llama 3 8B shapes, pytorch issue 135431):
#   0.5. The rest: a prior, not a measurement -- a chip newer than its kernels does not reach its
#   full dense rate in attention (Hopper 0.6 and Blackwell 0.27 with the kernels of the generation
#   before), so no chip is priced as FA2 on A100 without a source. The Ascend 910B family (fitted on
#   public rows) keeps 1.0. resources/calibration_README.md.
FAMILY_DEFAULTS = {"hopper": {"train_attn_path_rel": 0.6}, "blackwell": {"train_attn_path_rel": 0.27}}
# the chips of OTHER_VENDOR_ATTENTION_PATH: each its own calibration family (chip_family is its id)
OTHER_VENDOR_ATTENTION_PATH = 0.5
OTHER_VENDOR_FAMILIES = {
    "AMD": ("mi250x", "mi300x", "mi325x"), "Intel": ("gaudi2", "gaudi3"),
    "Google": ("tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e"), "Biren": ("br100",),
    "Cambricon": ("mlu370-x8", "mlu290-m5"), "Hygon": ("dcu-k100-ai",), "Kunlunxin": ("kunlun2",),
    "Moore Threads": ("mtt-s4000",),
}
FAMILY_DEFAULTS.update({family: {"train_attn_path_rel": OTHER_VENDOR_ATTENTION_PATH}
                        for families in OTHER_VENDOR_FAMILIES.values() for family in families})
# the note written beside a documented default in calibration_training.csv, by family (else a generic one)
_AMD_ATTENTION_NOTE = (
    "AMD CDNA: no public source shows CK / AITER / Triton fused attention reaching the share of the dense "
    "peak FlashAttention-2 reaches on A100 (50-73%, the 1.0 of this factor). Forward: the fastest CDNA "
    "kernels reach about 34% of the peak (HipKittens on MI355X ~860 of 2,500 TFLOP/s, Mojo's 430 being half of "
    "it; Hu et al. 2025, arXiv:2511.08083), the share FA2 reaches on H100: 0.35 / 0.6 = 0.58. Backward (2.5x the "
    "forward's FLOPs) runs lower: AITER and PyTorch SDPA GQA backward at 30% / 24% of HipKittens' on MI355X "
    "(same paper); PyTorch SDPA flash backward on MI300X 9.6-19.9 TFLOP/s against H100's 183 at Llama 3 8B "
    "shapes (pytorch/pytorch issue 135431, 2024): 0.5. Documented default, not fitted (no public AMD training "
    "run; resources/calibration_README.md)")
_PRIOR_ATTENTION_NOTE = (
    "{vendor}: no public fused-attention forward + backward measurement as a share of this chip's dense peak was "
    "found: a stated prior, the measured AMD value (0.5). A chip newer than its kernels does not reach its full "
    "dense rate in attention (Hopper 0.6, Blackwell 0.27 with the previous generation's kernels), so it is not "
    "priced as FlashAttention-2 on A100 (1.0) without a source. Documented default, not fitted (no public "
    "training run; resources/calibration_README.md)")
FAMILY_DEFAULT_NOTES = {family: (_AMD_ATTENTION_NOTE if vendor == "AMD" else _PRIOR_ATTENTION_NOTE.format(vendor=vendor))
                        for vendor, families in OTHER_VENDOR_FAMILIES.items() for family in families}


def resolve_cases(rows: list[dict], chips: Mapping, chip_ids: Sequence[str] | None = None) -> list:
    """(row, complete inputs, measured) for every predictable row: blank layout fields searched
    once with the chips' current factors, then held while factors are fitted."""
    from engine.validation import validate_case

    fixed = []
    for row in rows:
        if chip_ids is not None and row.get("chip") not in chip_ids:
            continue
        case = validate_case(row, chips)
        if case["status"] == "ok":
            fixed.append((row, case["_inputs"], float(case["measured"])))
    return fixed


def _why_unusable(rows: list[dict], chips: Mapping, chip_ids: Sequence[str] | None) -> str:
    """The first rows' reasons, as `validate` gives them ("; row ID: field: value (why)")."""
    from engine.validation import validate_case

    mine = [r for r in rows if chip_ids is None or r.get("chip") in chip_ids]
    if not mine:
        return f" (no row is for {', '.join(chip_ids or [])})" if rows else " (the file has no rows)"
    reasons = []
    for row in mine[:3]:
        case = validate_case(row, chips)
        reasons.append(f"row {row.get('id') or '?'}: {case['message'] or case['status']}")
    more = f"; and {len(mine) - 3:,} more" if len(mine) > 3 else ""
    return ": " + "; ".join(reasons) + more


def packaged_factors(chip, factor_names: Sequence[str]) -> dict[str, float]:
    """The chip's packaged value of each factor (resources/calibration_*.csv by its calibrate_as or
    id, else the code's documented default): where a fit of the user's runs is pulled to, whatever
    this database has saved over it."""
    from engine.catalog import resolve_calibration
    from engine.training import DEFAULT_FACTORS

    packaged = resolve_calibration(chip, _packaged()["rows"])
    return {n: float(packaged.get(n, DEFAULT_FACTORS.get(n, 1.0))) for n in factor_names}


def calibrate_training(rows: list[dict], chips: Mapping, factor_names: Sequence[str] = TRAINING_FIT_FACTORS,
                       *, chip_ids: Sequence[str] | None = None, max_iter: int = 100,
                       prior_weight: float = 0.005, fixed: list | None = None,
                       prior_center: Mapping[str, float] | None = None) -> FitResult:
    """Fit training factors (shared by the chips `chip_ids`, default: every chip in the rows) to
    measured runs in the validation-case schema. Layouts the source leaves blank are searched once
    with the current factors and then held fixed while fitting. The fit starts from the chip's
    current factors (a saved fit included) and is pulled to `prior_center`, default its packaged
    ones (packaged_factors): a pull to the start moved every rerun from a saved fit again."""
    from engine.training import DEFAULT_FACTORS
    from engine.validation import predict_metric_sets

    if fixed is None:
        fixed = resolve_cases(rows, chips, chip_ids)
    if not fixed:
        raise ValueError("no usable measured runs to calibrate on" + _why_unusable(rows, chips, chip_ids))
    chip = fixed[0][1].chip
    start = {n: chip.factor(n, DEFAULT_FACTORS[n]) if n in DEFAULT_FACTORS else 1.0
             for n in factor_names}
    centre = dict(prior_center) if prior_center is not None else packaged_factors(chip, factor_names)

    def predict(values):
        sets = {n: np.array([values[n]], dtype=float) for n in values}
        return np.array([predict_metric_sets(row, inp, sets)[0] for row, inp, _ in fixed])

    measured = []
    for row, _, m in fixed:
        measured.append(m)
    # step time is the inverse of throughput: fit on throughput-like quantities
    sign = np.array([-1.0 if row.get("metric") == "step_time_s" else 1.0 for row, _, _ in fixed])

    def predict_signed(values):
        return np.power(predict(values), sign)

    def predict_many_signed(value_sets):
        sets = {n: np.array([v[n] for v in value_sets], dtype=float) for n in factor_names}
        cols = [predict_metric_sets(row, inp, sets) for row, inp, _ in fixed]
        return np.power(np.stack(cols, axis=1), sign)

    # (in any case: "Low" weighed as an unknown 0.5 where "low" weighs 0.2)
    weights = [TRUST_WEIGHTS.get(str(row.get("trust") or "").strip().lower(), 0.5) for row, _, _ in fixed]
    return fit_factors(predict_signed, np.power(np.array(measured), sign), start,
                       {n: TRAINING_BOUNDS.get(n, (start[n] / 10, start[n] * 10)) for n in factor_names},
                       weights=weights, max_iter=max_iter, prior_weight=prior_weight,
                       predict_many=predict_many_signed, prior_center=centre)


# ---- chip families and leave-one-group-out validation ----------------------------------------

# Calibration is per chip family (one silicon die and its software stack), never per chip SKU,
# paper or source: an export variant (H800, H20, A800) shares its die's factors, and the catalog
# carries what differs (link speeds, peak, memory).
CHIP_FAMILIES = (
    ("a100", ("a100", "a800")),
    ("hopper", ("h100", "h800", "h20", "h200", "gh200")),
    # the 910C packages two 910B-class dies (the same Da Vinci cores and CANN stack): the family's
    # factors, not the generic default it got before (GEMM 0.67 against the family's 0.59, decode
    # 0.48 against 0.17: 2.7x a 910B2 per chip where the catalog's peaks say 2.0x). The 910A is
    # the first-generation Da Vinci part on the same CANN stack, with no published run of its own:
    # on the NVIDIA-fitted generic factors it decoded faster than the 910B2 (Llama 3 70B TP8, 23.4
    # against 27.0 ms per token) though its HBM is 1.23 TB/s against 1.6
    ("ascend-910b", ("ascend-910b", "ascend-910c", "ascend-910a")),
    # one SM100 die in both; no published run, so only FAMILY_DEFAULTS (the attention path) apply
    ("blackwell", ("b200", "gb200")),
)


def _family_by_prefix(chip_id: str) -> str | None:
    for family, prefixes in CHIP_FAMILIES:
        if chip_id.startswith(prefixes):
            return family
    return None


def chip_family(chip) -> str:
    """The calibration family of a chip ('hopper' for h800-sxm5-80gb), else its id. A Chip (or a
    catalog row) is taken by its calibration_target, its calibrate_as or else its id: a copy with
    calibrate_as h100-sxm5-80gb is 'hopper' whatever its id; a bare id by itself. Never by a
    display name or a word inside an id ("H100 killer (Cambricon MLU)" was given Hopper factors)."""
    from engine.catalog import calibration_target

    target = chip if isinstance(chip, str) else calibration_target(chip)
    cid = (target or "").strip().lower()
    return _family_by_prefix(cid) or cid


def case_family(chip_id, chips: Mapping) -> str:
    """chip_family of a measured run's chip id (a validation row's `chip`): the chip's own, by its
    calibrate_as, where `chips` has it (the id as given, else lower case, as the case reader looks
    it up), else the bare id's. A copy of the H100 with calibrate_as h100-sxm5-80gb was a family of
    its own in leave-one-source-out validation and in the per-family fits."""
    cid = str(chip_id or "").strip()
    chip = chips.get(cid, chips.get(cid.lower())) if chips else None
    return chip_family(chip if chip is not None else cid)


_PACKAGED: dict = {}   # "rows", "generic", "catalog" (ids) and "makers" (id -> vendor, name): _packaged()


def _packaged() -> dict:
    """The packaged calibration rows, the generic (default-scope) factors and the catalog's ids."""
    if not _PACKAGED:
        import resources
        from engine.catalog import calibration_rows, read_csv_rows, resolve_calibration

        rows = calibration_rows()
        catalog = read_csv_rows(resources.read_text("chips.csv"))
        _PACKAGED.update(rows=rows, generic=resolve_calibration({"id": "", "vendor": ""}, rows),
                         catalog=frozenset(r["id"] for r in catalog),
                         makers={r["id"]: ((r.get("vendor") or "").strip(), (r.get("name") or "").strip())
                                 for r in catalog})
    return _PACKAGED


def calibrate_as_problem(value, known_ids: Collection[str] = ()) -> str | None:
    """A problem line for a calibrate_as that names neither a packaged catalog chip nor one of
    `known_ids` (the database's chips, the row's own id), else None. 'h100' or 'h100-typo' was
    taken and half applied: training matched the h100* scope, serving the generic factors."""
    target = str(value or "").strip()
    catalog = _packaged()["catalog"]
    if not target or target in catalog or target in known_ids:
        return None
    # the catalog id sharing the longest start with it: 'h100' -> h100-sxm5-80gb
    def shared(cid: str) -> int:
        return len(os.path.commonprefix([cid, target.lower()]))

    best = max(_packaged()["makers"], key=shared, default="")   # the first in catalog order
    example = best if best and shared(best) >= 2 else "h100-sxm5-80gb"
    return f"calibrate_as: '{target}' (no catalog chip has this id; e.g. {example})"


def uncalibrated_note(chip) -> str | None:
    """A line for figures of a chip whose training GEMM factor no chip-specific packaged scope
    (an exact id or an id prefix, matched on its calibrate_as or id) set, and that the user did
    not fit or edit: an MI300X, a Gaudi 3 or a B200 was shown at the fleet-average efficiency with
    nothing to say so, and a copy of the 910C under another id (ascend-910c-copy) served 31%
    faster than the 910C without a word. None when such a scope set it, or for a chip whose
    factor differs from the packaged one (the user's own fit or edit). Else, for a chip whose
    calibrate_as names another vendor's catalog chip, a line that says so (vendor_mismatch_note)."""
    return _generic_factors_note(chip) or vendor_mismatch_note(chip)


def vendor_mismatch_note(chip) -> str | None:
    """A line for a chip whose calibrate_as names a catalog chip of another vendor: an NVIDIA H20
    copy calibrated as ascend-910b2 served 31-60% off the H20 with nothing said. None for a blank
    calibrate_as, one naming no catalog chip, or either vendor blank."""
    target = (getattr(chip, "calibrate_as", "") or "").strip()
    maker = _packaged()["makers"].get(target)
    vendor = (chip.vendor or "").strip()
    if maker is None or not maker[0] or not vendor or maker[0].lower() == vendor.lower():
        return None
    return (f"{chip.name or chip.id} takes {maker[0]} {maker[1] or target}'s calibration (calibrate_as) "
            f"though its vendor is {vendor}")


def _generic_factors_note(chip) -> str | None:
    from engine.catalog import SCOPE_PREFIX, calibration_target, resolved_scopes

    packaged = _packaged()
    scopes = resolved_scopes(chip, packaged["rows"])
    gemm = scopes.get("train_gemm_eff")
    if gemm is None or gemm[0] >= SCOPE_PREFIX:
        return None
    generic = _still_generic(chip, scopes)
    if generic is None:
        return None
    target = calibration_target(chip)
    if target in packaged["catalog"]:
        # a catalog chip (or a copy of one) that no published run calibrated
        return (f"{chip.name}: no published run of this chip family is in the packaged calibration, so {generic} "
                "(training's fitted on A100, Hopper and 910B runs, serving's on "
                "NVIDIA A100 and Hopper runs); treat the figures as "
                "a first estimate (fit your own runs with `fleetcast calibrate`)")
    if (chip.calibrate_as or "").strip():
        return (f"{chip.name}: calibrate_as '{target}' is no catalog chip, so {generic}; "
                "set calibrate_as to the catalog chip it copies (see `fleetcast chips list`)")
    return (f"{chip.name}: no packaged calibration matches id '{chip.id}', so {generic}; "
            "set calibrate_as to the catalog chip it copies, or fit your own runs with `fleetcast calibrate`")


def _still_generic(chip, scopes: Mapping[str, tuple]) -> str | None:
    """What of a chip on the generic factors is still generic, in words ("its efficiency factors
    are the generic ones"), or None when the user has fitted or set all of it. The factors of
    one's own (a `calibrate --save`, an edit: a value no packaged scope gave it) are not: after a
    save that held train_hbm_eff at the generic value, `train` said only that the chip used
    factors fitted to the user's runs, and the generic notice went, for that factor and for
    every serving factor as well. The saved ones are named by saved_calibration_text."""
    def own(name: str) -> bool:
        value = chip.calibration.get(name)
        return value is not None and (name not in scopes or abs(float(value) - scopes[name][2]) > 1e-9)

    training = [n for n in TRAINING_FIT_FACTORS if not own(n)]
    serving = not any(own(n) for n in chip.calibration if str(n).startswith(CALIBRATION_KINDS["inference"]))
    if serving and len(training) == len(TRAINING_FIT_FACTORS):
        return "its efficiency factors are the generic ones"
    parts = ([f"its training factor{'s' if len(training) > 1 else ''} {', '.join(training)}"] if training else []) \
        + (["its serving factors"] if serving else [])
    if not parts:
        return None
    one = not serving and len(training) == 1
    return f"{' and '.join(parts)} {'is' if one else 'are'} still the generic {'one' if one else 'ones'} " \
           "(the rest are your own)"


# Factors fitted per family on measured runs; every other training factor is a documented
# default (see resources/calibration_README.md for each prior range and its microbenchmark).
# The per-layer overhead is not among them: the public runs do not constrain it (every fit left it
# at its 100 us start), so it is a documented default. Dropping HBM and scale-up efficiency as well
# was tried: in sample 8.2% / 27.6%, leave-one-source-out 12.7% / 32.6%, against 6.9% / 28.5% and
# 12.3% / 33.5% with them -- no better out of sample, worse in sample -- so they stay fitted.
FAMILY_FIT_FACTORS = TRAINING_FIT_FACTORS


def prior_chips(chips: Mapping, factor_names: Sequence[str] = FAMILY_FIT_FACTORS,
                prior: Mapping[str, float] | None = None) -> dict:
    """The chips with the fitted factors reset to their documented defaults (no fitted value) and
    their family's documented defaults (FAMILY_DEFAULTS) applied."""
    from engine.training import DEFAULT_FACTORS

    base = {n: float((prior or {}).get(n, DEFAULT_FACTORS[n])) for n in factor_names}
    return {cid: chip.with_calibration(**{**FAMILY_DEFAULTS.get(chip_family(chip), {}), **base})
            for cid, chip in chips.items()}


def fit_families(rows: list[dict], chips: Mapping, factor_names: Sequence[str] = FAMILY_FIT_FACTORS,
                 *, prior: Mapping[str, float] | None = None, max_iter: int = 100,
                 resolved: list | None = None, need_global: bool = True,
                 families: Collection[str] | None = None) -> dict:
    """Fit `factor_names` separately for every chip family in `rows`, starting from `prior`
    (default: the code defaults, so nothing fitted elsewhere leaks in). Returns
    {family: {factor: value}} and, under the key None, one fit over all rows: the starting point
    for a family with no runs of its own. `families` limits the per-family fits to those."""
    from engine.training import DEFAULT_FACTORS

    base = {n: float((prior or {}).get(n, DEFAULT_FACTORS[n])) for n in factor_names}
    stripped = prior_chips(chips, factor_names, prior)
    if resolved is None:
        resolved = resolve_cases(rows, stripped)
    by_family: dict = {}
    for item in resolved:
        by_family.setdefault(case_family(item[0].get("chip", ""), chips), []).append(item)
    fitted: dict = {}
    for family, items in sorted(by_family.items()):
        if families is not None and family not in families:
            continue  # not asked for (a holdout fold refits only the left-out rows' families)
        fit = calibrate_training([], stripped, factor_names, max_iter=max_iter, fixed=items, prior_center=base)
        fitted[family] = dict(fit.values)
        fitted[("fit", family)] = fit
    if need_global and resolved:
        fitted[None] = dict(calibrate_training([], stripped, factor_names, max_iter=max_iter, fixed=resolved,
                                               prior_center=base).values)
    else:
        fitted[None] = dict(base)
    return fitted


# Scopes of resources/calibration_training.csv that each family's fit is written to.
FAMILY_SCOPES = {"a100": ("a100-sxm4*", "a800*"), "hopper": ("h100*", "h800*", "h20*", "h200*"),
                 "ascend-910b": ("ascend-910b*", "ascend-910c", "ascend-910a"), "blackwell": ("b200*", "gb200*"),
                 **{family: (f"{family}*",) for families in OTHER_VENDOR_FAMILIES.values() for family in families}}


def training_calibration_rows(rows: list[dict], chips: Mapping) -> tuple[list[dict], dict]:
    """Rows (scope, factor, value, note) of the packaged training calibration: the per-family fit
    of FAMILY_FIT_FACTORS on `rows` (public cases), plus a `default` scope fitted on all of them
    (the starting point for a chip with no measured runs). Also returns the fits by family."""
    fitted = fit_families(rows, chips)
    out = []
    fits = {}
    for family, scopes in FAMILY_SCOPES.items():
        if family not in fitted:
            # a family with no public run keeps its documented defaults (Blackwell's attention path)
            out += [{"scope": scope, "factor": name, "value": value,
                     "note": FAMILY_DEFAULT_NOTES.get(family, "documented default, not fitted: no public run of "
                                                              "this family (engine/calibration.py FAMILY_DEFAULTS, "
                                                              "resources/calibration_README.md)")}
                    for scope in scopes for name, value in FAMILY_DEFAULTS.get(family, {}).items()]
            continue
        fit = fitted[("fit", family)]
        fits[family] = fit
        note = (f"fit_families() on the {fit.cases} public {family} cases (Huber LS on log error, trust-weighted, "
                f"start at the documented default, prior range in TRAINING_BOUNDS)")
        for scope in scopes:
            for name in FAMILY_FIT_FACTORS:
                out.append({"scope": scope, "factor": name, "value": round(fitted[family][name], 4), "note": note})
            for name, value in FAMILY_DEFAULTS.get(family, {}).items():
                out.append({"scope": scope, "factor": name, "value": value,
                            "note": "documented default, not fitted (engine/calibration.py FAMILY_DEFAULTS, "
                                    "resources/calibration_README.md)"})
    for name in FAMILY_FIT_FACTORS:
        out.append({"scope": "default", "factor": name, "value": round(fitted[None][name], 4),
                    "note": "fit_families() on every public case together: the starting point for a chip "
                            "with no measured runs; refit with `fleetcast calibrate`"})
    return out, fits


# ---- factors this database stores (a `calibrate --save`) -------------------------------------

CALIBRATION_KINDS = {"training": "train_", "inference": "inf_"}


def saved_at(note: str) -> str | None:
    """The date a `calibrate --save` wrote into its note ("fitted to runs.csv (10 runs) on
    2025-06-01"), or None for a value stored some other way."""
    import re

    found = re.search(r" on (\d{4}-\d{2}-\d{2})$", str(note or ""))
    return found.group(1) if found else None


def saved_calibrations(store, chips: Sequence, kinds: Sequence[str] = ("training", "inference"),
                       family: str | None = None) -> list[dict]:
    """[{"chip", "kind", "factors": {name: value}, "saved_at"}] for the factors this database
    stores for `chips` over the packaged ones (a `calibrate --save`): figures on them rest on the
    user's own runs, which train, serve and forecast said nowhere. With an engine `family`, only
    the serving factors that family reads: `name@family`, and a chip-wide `name` that neither a
    `name@family` key nor the family's documented prior shadows (engine.inference.resolve_factors)."""
    if store is None or not hasattr(store, "calibration_rows"):
        return []
    from engine.catalog import saved_along_chain
    from engine.serving.families import FAMILY_PRIORS

    by_id = {r["id"]: r for r in store.chip_rows()} if hasattr(store, "chip_rows") else {}
    out = []
    for chip in chips:
        # a copy takes what was saved for the chips its calibrate_as chain passes through
        stored = saved_along_chain(chip.id, by_id, store.calibration_rows)
        for kind in kinds:
            prefix = CALIBRATION_KINDS[kind]
            rows = [r for r in stored if str(r["factor"]).startswith(prefix)]
            if kind == "inference" and family is not None:
                def read_by_family(name: str) -> bool:
                    base, _, scope = name.partition("@")
                    if scope:
                        return scope == family
                    return base not in FAMILY_PRIORS.get(family, {}) and f"{base}@{family}" not in chip.calibration
                rows = [r for r in rows if read_by_family(str(r["factor"]))]
            if rows:
                dates = sorted({d for d in (saved_at(r.get("note") or "") for r in rows) if d})
                out.append({"chip": chip.id, "kind": kind, "factors": {r["factor"]: r["value"] for r in rows},
                            "saved_at": dates[-1] if dates else None,
                            "saved_for": list(dict.fromkeys(r["chip_id"] for r in rows if r["chip_id"] != chip.id))})
    return out


def saved_calibration_text(entry: Mapping) -> str:
    """One note line for `saved_calibrations` entry (train, serve and forecast print it)."""
    shown = ", ".join(f"{n} {v:.4g}" for n, v in list(entry["factors"].items())[:4])
    more = f" and {len(entry['factors']) - 4} more" if len(entry["factors"]) > 4 else ""
    when = f", saved {entry['saved_at']}" if entry.get("saved_at") else ""
    lenders = entry.get("saved_for") or []
    lent = f"; saved for {', '.join(lenders)}, which its calibrate_as names" if lenders else ""
    return (f"{entry['chip']} uses {entry['kind']} factors fitted to your own runs ({shown}{more}{when}{lent}), not "
            f"the packaged ones: `fleetcast calibrate {entry['kind']} --chip {(lenders or [entry['chip']])[0]} --show` "
            "lists them")


def main(argv=None) -> int:
    """`python -m engine.calibration CASES.csv OUT.csv`: refit the packaged training calibration."""
    import csv
    import sys

    from engine.catalog import reference_chips
    from engine.validation import read_cases_csv

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m engine.calibration CASES.csv OUT.csv", file=sys.stderr)
        return 2
    out, fits = training_calibration_rows(read_cases_csv(args[0]), reference_chips())
    with open(args[1], "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["scope", "factor", "value", "note"])
        w.writeheader()
        w.writerows(out)
    for family, fit in fits.items():
        lo_hi = {n: TRAINING_BOUNDS[n] for n in fit.values}
        on_bound = [n for n, v in fit.values.items() if min(abs(v / lo_hi[n][0] - 1), abs(v / lo_hi[n][1] - 1)) < 0.01]
        print(family, fit.cases, {n: round(v, 3) for n, v in fit.values.items()},
              f"median {fit.median_abs_error_pct_before:.1f}% -> {fit.median_abs_error_pct_after:.1f}%,",
              f"objective {fit.objective_before:.5f} -> {fit.objective_after:.5f} ({fit.stop}, {fit.iterations} it.)",
              "ON BOUND: " + ", ".join(on_bound) if on_bound else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
