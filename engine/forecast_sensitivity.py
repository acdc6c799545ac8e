"""Which uncertainty matters: variance decomposition per month and a tornado of the inputs (numpy).

- `variance_shares`: the variance of log(serving capacity / peak demand) across trials, each month,
  that each source creates drawn alone (every other source at its median): its main effect,
  normalised over the sources so the shares of a month sum to 1. One run per source. Holding one
  source at its median instead and reading the variance it removes went negative where supply is
  step-like (lots arrive whole, late or not): holding it raised July 2025's variance from 0.072 to
  0.078, the drop was clipped to 0, and vendor supply read 0% in the months the tornado showed it
  moving P(meet) by 15 points. Drawn alone, it is 7-8% there.
- `tornado`: P(meet demand), mean shortfall and training-job completion at the two settings of
  each uncertain input (its P10 and P90, everything else as in the scenario); each setting's label
  names the percentile it was computed at.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import numpy as np

from engine.errors import Cancelled
from engine.forecast import (SOURCE_LABELS, UNCERTAINTY_SOURCES, ForecastInputs, OrderUncertainty,
                             ThroughputTable, TrainingThroughput, job_completions, meets, quantile, simulate)

Z90 = 1.2815515655446004


def _log_margin(capacity: np.ndarray, demand: np.ndarray) -> np.ndarray:
    tiny = 1e-9 * np.maximum(demand, 1e-30)
    return np.log(np.maximum(capacity, tiny)) - np.log(np.maximum(demand, 1e-30))


@dataclass(frozen=True)
class VarianceShares:
    months: tuple[dt.date, ...]
    sources: tuple[str, ...]
    shares: np.ndarray  # sources x months, each month sums to 1 (0 where nothing varies)
    total_variance: np.ndarray  # months, of log(capacity / demand)
    trials: int = 0   # of each run (its own: the forecast's own run may have more)
    seed: int | None = None

    def dominant(self) -> list[str | None]:
        """The source with the largest share each month (None where nothing varies)."""
        out = []
        for m in range(len(self.months)):
            col = self.shares[:, m]
            out.append(self.sources[int(np.argmax(col))] if col.sum() > 0 else None)
        return out

    def labels(self) -> list[str]:
        return [SOURCE_LABELS[s] for s in self.sources]


def variance_shares(inputs: ForecastInputs, trials: int | None = None,
                    should_stop: Callable[[], bool] | None = None) -> VarianceShares:
    """Per month, the share of the variance of log(capacity/demand) each source explains (its
    variance drawn alone, the others at their medians, over the sum of those)."""
    full = simulate(inputs, trials=trials, should_stop=should_stop)
    total = _log_margin(full.capacity_tps, full.demand_tps).var(axis=0)
    alone_rows = []
    for source in UNCERTAINTY_SOURCES:
        others = tuple(s for s in UNCERTAINTY_SOURCES if s != source)
        alone = simulate(inputs, fixed=others, trials=trials, should_stop=should_stop)
        alone_rows.append(_log_margin(alone.capacity_tps, alone.demand_tps).var(axis=0))
    # (float noise of a constant, 1e-23, is no variance: a CSV read it as a share)
    alone_var = np.where(np.array(alone_rows) > 1e-12, np.array(alone_rows), 0.0)
    norm = alone_var.sum(axis=0)
    shares = np.divide(alone_var, norm[None, :], out=np.zeros_like(alone_var), where=norm[None, :] > 1e-12)
    return VarianceShares(full.months, UNCERTAINTY_SOURCES, shares, total, trials=int(full.capacity_tps.shape[0]),
                          seed=inputs.scenario.seed)


# ---- tornado ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TornadoBar:
    input: str  # what was varied, in user words
    low_label: str
    high_label: str
    low: dict  # metric -> value at the low setting
    high: dict


@dataclass(frozen=True)
class Tornado:
    base: dict  # metric -> value with the scenario as it is
    bars: tuple[TornadoBar, ...]
    month: dt.date | None  # the month P(meet) and shortfall are read at (None: averaged)
    metrics: tuple[str, ...] = ("prob_meet_demand", "shortfall_mean_unit_chips", "job_completion_days")
    trials: int = 0        # of each run, its base's too (labels say so: not the forecast's own run)
    seed: int | None = None


def _unit_tput(s) -> float:
    """Output tokens/s per unit chip the run serves at: what a shortfall is divided by. Where the
    unit chip cannot serve, the forecast's own rule (engine.forecast): the first chip that can; NaN
    where none can (QA s37: 1.0 counted tokens/s as chips, 127 million "910B2 chips", and the H20's
    shortfall 2.17x too large where the forecast had switched its unit to the H20)."""
    rate = s.serving_tput.get(s.unit_chip, 0.0)
    if rate > 0:
        return rate
    able = [s.serving_tput[c] for c in dict.fromkeys(tuple(s.serve_on) + tuple(s.chip_ids))
            if s.serving_tput.get(c, 0.0) > 0]
    return able[0] if able else float("nan")


def nominal_unit_tput(inputs: ForecastInputs, should_stop: Callable[[], bool] | None = None) -> float:
    """The unit chip's rate with throughput as the scenario has it (`simulate`'s `serving_tput`):
    one rate for every bar's shortfall in chips. The throughput bar's runs pin the rate, and read at
    the pinned one the slow end divided by 99.8 tokens/s for 261: 3.3x the chips (QA s22)."""
    return _unit_tput(simulate(inputs, trials=1, fixed=UNCERTAINTY_SOURCES, should_stop=should_stop))


class _Runs:
    """The tornado's runs counted off: before each, the caller's `should_stop` is asked (raising
    engine.errors.Cancelled; `simulate` asks it again before each order) and `progress(fraction,
    message)` told which input is varied. One tornado is 15-20 runs, 2.5 s each with 2,003 orders
    (45 s of CPU), that had neither: no bar moved and Cancel did not stop it (QA s29)."""

    def __init__(self, total: int, progress: Callable[[float, str], None] | None,
                 should_stop: Callable[[], bool] | None):
        self.total, self.done = max(total, 1), 0
        self.report = progress or (lambda fraction, message: None)
        self.should_stop = should_stop

    def next(self, what: str) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Cancelled("sensitivity cancelled")
        self.report(min(self.done / self.total, 1.0), f"Sensitivity: {what}")
        self.done += 1


def _metrics(inputs: ForecastInputs, month_index: int | None, trials: int, fixed: Sequence[str] = (),
             unit_tput: float | None = None, should_stop: Callable[[], bool] | None = None) -> dict:
    """`unit_tput`: output tokens/s per unit chip a shortfall is counted in; None: the run's own."""
    s = simulate(inputs, trials=trials, fixed=fixed, should_stop=should_stop)
    ok = meets(s.capacity_tps, s.demand_tps)
    shortfall = np.maximum(s.demand_tps - s.capacity_tps, 0.0) / (unit_tput or _unit_tput(s))
    sel = slice(None) if month_index is None else slice(month_index, month_index + 1)
    out = {"prob_meet_demand": float(ok[:, sel].mean()),
           "shortfall_mean_unit_chips": float(shortfall[:, sel].mean())}
    jobs = job_completions(inputs, s)
    if jobs:
        done = jobs[-1][1]
        finite = np.where(np.isfinite(done), done, s.bounds_ord[-1] + 365.0)  # not done: a year past
        out["job_completion_days"] = float(np.median(finite) - inputs.scenario.jobs[-1].earliest_start.toordinal())
        # whether the median trial finishes within the horizon: where not, the days above are the
        # stand-in's, no P50 date to measure the bars from (QA s37: "base P50 2030-05-01")
        out["job_done_p50"] = float(np.isfinite(np.median(np.where(np.isfinite(done), done, np.inf))))
    else:
        out["job_completion_days"] = float("nan")
    return out


def _vendor_setting(unc: OrderUncertainty, which: str, q: float) -> OrderUncertainty:
    """The vendor's distribution collapsed to its q-quantile of fraction or delay."""
    if which == "fraction":
        v = float(np.clip(quantile(unc.fraction_dist, unc.fraction_low, unc.fraction_mode,
                                   unc.fraction_high, np.array([q]))[0], 0.0, 1.0))
        return replace(unc, fraction_dist="fixed", fraction_low=v, fraction_mode=v, fraction_high=v)
    v = float(quantile(unc.delay_dist, unc.delay_low_days, unc.delay_mode_days, unc.delay_high_days,
                       np.array([q]))[0])
    return replace(unc, delay_dist="fixed", delay_low_days=v, delay_mode_days=v, delay_high_days=v)


def _percentile(q: float) -> str:
    """A quantile as its label: 0.1 -> "P10"."""
    return f"P{round(q * 100)}"


def _scaled_training(source: TrainingThroughput, factor_by_chip: Mapping[str, float]) -> TrainingThroughput:
    """Training throughput with each chip's figures times its factor (a pinned multiplier)."""
    if callable(source):
        fn = source
        return lambda model_id, chip_id, n: float(fn(model_id, chip_id, n)) * factor_by_chip.get(chip_id, 1.0)
    return {(model_id, chip_id): ThroughputTable(table.n_chips, tuple(v * factor_by_chip.get(chip_id, 1.0)
                                                                      for v in table.tokens_per_s_per_chip))
            for (model_id, chip_id), table in source.items()}


def _throughput_pinned(inputs: ForecastInputs, z: float) -> ForecastInputs:
    """Every chip's serving and training multipliers pinned at exp(z sigma), sigma as `simulate`
    draws it (the family's sigma times the scenario's throughput_sigma_scale)."""
    k = inputs.scenario.throughput_sigma_scale
    serve = {c: v * float(np.exp(z * k * inputs.serving_sigma_by_chip.get(c, 0.0)))
             for c, v in inputs.serving_tokens_per_s_per_chip.items()}
    train = {c: float(np.exp(z * k * sigma)) for c, sigma in inputs.training_sigma_by_chip.items()}
    return replace(inputs, serving_sigma_by_chip={}, training_sigma_by_chip={}, serving_tokens_per_s_per_chip=serve,
                   training_tokens_per_s_per_chip=_scaled_training(inputs.training_tokens_per_s_per_chip, train))


def tornado(inputs: ForecastInputs, month: dt.date | None = None, trials: int = 1000,
            chip_names: Mapping[str, str] | None = None, *, progress: Callable[[float, str], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> Tornado:
    """Each uncertain input set to its P10 and P90; the first setting is the better end where that
    is clear (P90 of a delivered share or throughput, P10 of a delay), and each label names the
    percentile its setting was computed at.

    Inputs: each vendor's fulfilled fraction and delay; demand growth (its own uncertainty held
    at P10/P90); per-chip throughput (every family's serving and training multipliers at
    exp(+-1.28 sigma)); the request mix (at exp(-+1.28 sigma)); each uncertain export cut-off
    (none / certain); the training share of each chip type that trains (-+ 0.2, clipped to [0, 1]).
    `chip_names`: {chip id: the name the views show}; a bar names its chip by it ("cut-off h20-96gb"
    stood beside "train share Ascend 910B2").
    `progress(fraction, message)`: told before each run which input it varies (fraction: the runs
    done, non-decreasing in [0, 1]); `should_stop()` True: engine.errors.Cancelled before the next
    run or the next order of a run.
    """
    sc = inputs.scenario
    names = chip_names or {}
    months = [m for m in _months(sc)]
    month_index = months.index(month) if month in months else None
    throughput = bool(inputs.serving_sigma_by_chip or inputs.training_sigma_by_chip)
    sigma = sc.demand.request_mix_sigma
    uncertain_cuts = [i for i, e in enumerate(sc.policy_events) if 0 < e.probability < 1]
    shares = [chip for chip, share in sc.allocation.training_share.items() if share > 0]
    runs = _Runs(2 + 4 * len(sc.vendor_uncertainty) + 2 + 2 * throughput + 2 * (sigma > 0) + 2 * len(uncertain_cuts)
                 + 2 * len(shares), progress, should_stop)
    stop = should_stop

    def metrics(what: str, inp: ForecastInputs, **kw) -> dict:
        runs.next(what)
        return _metrics(inp, month_index, trials, should_stop=stop, **kw)

    base = metrics("the scenario as it is", inputs)
    runs.next("the unit chip's rate")
    nominal = nominal_unit_tput(inputs, should_stop=stop)
    bars = []
    for vendor, unc in sc.vendor_uncertainty.items():
        # good end first: more delivered (a delivered share's P90), sooner (a delay's P10). The
        # labels come from the quantiles: "P10 (good end)" on the share's 0.9 quantile read backwards.
        for which, good_q, bad_q in (("fraction", 0.9, 0.1), ("delay", 0.1, 0.9)):
            good_inp = replace(inputs, scenario=replace(sc, vendor_uncertainty={
                **sc.vendor_uncertainty, vendor: _vendor_setting(unc, which, good_q)}))
            bad_inp = replace(inputs, scenario=replace(sc, vendor_uncertainty={
                **sc.vendor_uncertainty, vendor: _vendor_setting(unc, which, bad_q)}))
            bars.append(TornadoBar(f"{vendor} {which}", f"{_percentile(good_q)} (good end)",
                                   f"{_percentile(bad_q)} (bad end)",
                                   metrics(f"{vendor} {which}", good_inp), metrics(f"{vendor} {which}", bad_inp)))
    # Demand growth: the growth draw's normal score pinned at +-1.28 (one run each, growth held).
    lo, hi = _demand_pinned(inputs, month_index, trials, base=base, runs=runs)
    bars.append(TornadoBar("demand (points and growth)", "P10", "P90", lo, hi))
    # Throughput: serving and training pinned together, with the scenario's sigma scale. Training
    # was held at its median at both ends (the completion bars read "P90 | P10" and were equal),
    # and the scale was left out (at 0 the bar still moved P(meet)).
    if throughput:
        bars.append(TornadoBar("throughput", f"{_percentile(0.9)} (fast)", f"{_percentile(0.1)} (slow)",
                               metrics("throughput", _throughput_pinned(inputs, Z90), unit_tput=nominal),
                               metrics("throughput", _throughput_pinned(inputs, -Z90), unit_tput=nominal)))
    # The request mix (peak output tokens per average token): its lognormal factor pinned at its
    # P10 / P90, as a demand scale (the mix acts on the peak alone, the scale on it too; the
    # metrics read the peak). Export cut-offs: none, or certain (their window and length as given).
    # Both were in "which uncertainty dominates" and not here (QA).
    if sigma > 0:
        mix = [metrics("request mix", replace(inputs, scenario=replace(sc, demand=replace(
            sc.demand, request_mix_sigma=0.0, scale=sc.demand.scale * float(np.exp(z * Z90 * sigma))))))
            for z in (-1.0, 1.0)]
        bars.append(TornadoBar("request mix", "P10", "P90", mix[0], mix[1]))
    for i in uncertain_cuts:
        event = sc.policy_events[i]
        label = f"cut-off {names.get(event.chip_id, event.chip_id)}"
        cut = [metrics(label, replace(inputs, scenario=replace(sc, policy_events=tuple(
            replace(e, probability=p) if j == i else e for j, e in enumerate(sc.policy_events)))))
            for p in (0.0, 1.0)]
        bars.append(TornadoBar(label, "none", "certain", cut[0], cut[1]))
    for chip in shares:
        share = sc.allocation.training_share[chip]
        settings = []
        for delta in (-0.2, 0.2):
            alloc = replace(sc.allocation, training_share={**sc.allocation.training_share,
                                                           chip: float(min(max(share + delta, 0.0), 1.0))})
            settings.append(metrics(f"train share {names.get(chip, chip)}",
                                    replace(inputs, scenario=replace(sc, allocation=alloc))))
        bars.append(TornadoBar(f"train share {names.get(chip, chip)}", f"{max(share - 0.2, 0):.0%}",
                               f"{min(share + 0.2, 1):.0%}", settings[0], settings[1]))
    if progress is not None:
        progress(1.0, "Sensitivity: done")
    return Tornado(base=base, bars=tuple(bars), month=month, trials=trials, seed=sc.seed)


def _months(sc):
    from engine.fleet import month_starts

    return month_starts(sc.start, sc.months)


def _demand_pinned(inputs: ForecastInputs, month_index: int | None, trials: int, *, base: dict | None = None,
                   runs: _Runs | None = None) -> tuple[dict, dict]:
    """Metrics with demand pinned at its P10 and its P90 draw (other sources drawn).

    Demand's own uncertainty is its points' (each reported figure's stated sd, interpolated) and
    the growth fitted after the last point. The pinned draw, growth and point offsets together, is
    the one whose demand at the month read (the horizon's end without one) is the P10 / P90 of
    4,000 draws, so both are pinned along their real spread: a month before the last point moves
    with the points alone, where pinning the growth alone left the bar at nothing.
    `base`: `_metrics` of `inputs` as they are, where the caller has it (the same seeded run: run
    again, it was 2 of a tornado's runs); `runs`: the tornado's count, asked before each run.
    """
    stop = None if runs is None else runs.should_stop

    def as_is() -> dict:
        return dict(base) if base is not None else _metrics(inputs, month_index, trials, should_stop=stop)

    from engine.forecast import _point_weights, point_log_offsets
    from engine.forecast_demand import draw_log_growth, fit_growth, level_scatter_var

    sc = inputs.scenario
    d = sc.demand
    if d.kind != "piecewise" or not d.points:
        for _ in range(2):   # (no run: the bar is the scenario as it is at both ends)
            if runs is not None:
                runs.next("demand (points and growth)")
        return as_is(), as_is()
    fit = fit_growth(d)
    months = _months(sc)
    when = months[month_index if month_index is not None else -1]
    tau = np.array([(when.toordinal() - fit.last_ordinal) / 365.25])
    draws = 4000
    z = np.random.default_rng(sc.seed).standard_normal((draws, 2))
    if level_scatter_var(fit) > 0.0:   # the points' scatter (engine.forecast.growth_normals)
        z = np.hstack([z, np.random.default_rng([sc.seed, 1]).standard_normal((draws, 1))])
    offsets = point_log_offsets(d, sc.seed + 1, draws)
    last = None if offsets is None else offsets[:, -1:]
    # before the last point growth does not act (tau <= 0: no growth drawn there)
    log_demand = (draw_log_growth(fit, np.maximum(tau, 0.0), z, d.ceiling_tokens_per_day, last_log_offset=last)[:, 0]
                  if tau[0] > 0 else np.zeros(draws))
    if offsets is not None:
        log_demand = log_demand + (offsets @ _point_weights(d, [when]))[:, 0]
    out = []
    for q in (0.1, 0.9):
        i = int(np.argmin(np.abs(log_demand - np.quantile(log_demand, q))))
        if runs is not None:
            runs.next("demand (points and growth)")
        out.append(_metrics_pinned(inputs, month_index, trials, z[i], None if offsets is None else offsets[i],
                                   as_is=as_is, should_stop=stop))
    return out[0], out[1]


def _metrics_pinned(inputs, month_index, trials, row, point_row=None, as_is: Callable[[], dict] | None = None,
                    should_stop: Callable[[], bool] | None = None):
    s = simulate(inputs, trials=trials, growth_z=row, point_offsets=point_row, should_stop=should_stop)
    ok = meets(s.capacity_tps, s.demand_tps)
    shortfall = np.maximum(s.demand_tps - s.capacity_tps, 0.0) / _unit_tput(s)
    sel = slice(None) if month_index is None else slice(month_index, month_index + 1)
    base = as_is() if as_is is not None else _metrics(inputs, month_index, trials, should_stop=should_stop)
    return {"prob_meet_demand": float(ok[:, sel].mean()),
            "shortfall_mean_unit_chips": float(shortfall[:, sel].mean()),
            # demand does not touch training
            "job_completion_days": base["job_completion_days"], "job_done_p50": base.get("job_done_p50", 1.0)}


def sensitivity_month(result, scenario):
    """The month a tornado reads: where P(meet demand) is nearest 50% (where the inputs decide
    most), else two years into the horizon. `result` may be None (no forecast yet)."""
    from engine.fleet import add_months

    if result is not None and len(result.prob_meet_demand):
        i = int(np.argmin(np.abs(result.prob_meet_demand - 0.5)))
        if 0.05 < result.prob_meet_demand[i] < 0.95:
            return result.months[i]
    return add_months(scenario.start, min(24, scenario.months - 1))


# ---- reading a tornado (the views and the report) ----------------------------------------------

def setting_change(metrics: dict, metric: str, base: float, scale: float) -> float:
    """A tornado setting's change of `metric` from the base; NaN (no bar) for a completion the
    setting's median trial never reaches: its days were the stand-in's, a year past the horizon
    (QA s37: "382.75 days later")."""
    if metric == "job_completion_days" and metrics.get("job_done_p50", 1.0) <= 0:
        return float("nan")
    return (metrics.get(metric, np.nan) - base) * scale


def job_done_p50(tornado) -> bool:
    """The tornado's base run finishes the last job within the horizon in its median trial."""
    return tornado is not None and tornado.base.get("job_done_p50", 1.0) > 0


def completion_base(tornado, job_start: dt.date | None) -> dt.date | None:
    """The last job's P50 completion date in the tornado's base run: its start plus the base's days
    (engine.forecast_sensitivity: median days from the job's earliest start); None without a job."""
    days = tornado.base.get("job_completion_days", float("nan")) if tornado is not None else float("nan")
    if job_start is None or not np.isfinite(days) or not job_done_p50(tornado):
        return None
    return job_start + dt.timedelta(days=int(round(days)))
