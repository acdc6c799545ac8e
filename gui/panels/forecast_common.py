"""Forecast work and figures shared by the Forecast, Plan and Compare views (no store access)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np
import pyqtgraph as pg

from engine.forecast import ForecastInputs, ForecastResult, ForecastScenario, run_forecast
from gui.widgets.plot_panel import PlotPanel, format_number


def throughput_key(scenario: ForecastScenario) -> tuple:
    """What `build_inputs` reads from a scenario: equal keys give equal throughputs."""
    d = scenario.demand
    return (d.model_id, d.input_tokens_per_request, d.output_tokens_per_request, d.ttft_ms, d.tpot_ms,
            d.chip_id, tuple(d.serve_on), d.weight_dtype, d.kv_dtype, tuple(scenario.jobs))


@dataclass(frozen=True)
class ForecastRequest:
    orders: tuple
    chips: Mapping
    models: Mapping
    scenario: ForecastScenario
    cached_inputs: ForecastInputs | None = None  # reusable throughputs, when still valid
    with_shares: bool = True  # also the variance shares by source (five more runs)


@dataclass(frozen=True)
class ForecastOutcome:
    inputs: ForecastInputs
    result: ForecastResult
    seconds: float
    reused_throughputs: bool
    request: ForecastRequest
    shares: object = None  # engine.forecast_sensitivity.VarianceShares


def compute_forecast(request: ForecastRequest, *, progress=None, should_stop=None) -> ForecastOutcome:
    from engine.errors import Cancelled
    from engine.forecast_inputs import build_inputs

    report = progress or (lambda fraction, message="": None)
    t0 = time.perf_counter()
    reused = request.cached_inputs is not None
    if reused:
        inputs = replace(request.cached_inputs, scenario=request.scenario)
    else:
        report(0.02, "Estimating serving and training throughput per chip…")
        inputs = build_inputs(list(request.orders), request.chips, request.models, request.scenario)
    if should_stop is not None and should_stop():
        raise Cancelled()

    def scaled(fraction, message=""):
        report(0.1 + 0.9 * fraction, message or "Monte Carlo…")

    result = run_forecast(inputs, progress=lambda f, m="": scaled(0.8 * f, m), should_stop=should_stop)
    if not request.with_shares:
        return ForecastOutcome(inputs, result, time.perf_counter() - t0, reused, request)
    from engine.forecast_sensitivity import variance_shares

    report(0.92, "Which uncertainty dominates…")
    # one run per source held at its median; 1,000 trials are plenty for a share of variance
    shares = variance_shares(inputs, trials=min(request.scenario.trials, 1000), should_stop=should_stop)
    return ForecastOutcome(inputs, result, time.perf_counter() - t0, reused, request, shares)


# ---- figures shared with the Compare view --------------------------------------------------

def _months_index(result: ForecastResult, months_in: int) -> int | None:
    return months_in if 0 <= months_in < len(result.months) else None


def first_shortfall_month(result: ForecastResult) -> dt.date | None:
    """First month whose peak demand exceeds the P50 serving capacity."""
    short = np.flatnonzero(result.shortfall_p50_unit_chips > 0)
    return result.months[int(short[0])] if short.size else None


def key_figures(result: ForecastResult, chip_names: Mapping[str, str] | None = None) -> list[tuple[str, object]]:
    """(label with unit, value) pairs summarising a forecast; values are numbers, dates or text."""
    names = chip_names or {}
    end = len(result.months) - 1
    rows: list[tuple[str, object]] = [("Horizon end (date)", result.months[end])]
    for chip in result.chip_ids:
        rows.append((f"Installed P50 at horizon end, {names.get(chip, chip)} (chips)",
                     float(result.installed_by_chip[chip].p50[end])))
    rows.append(("Installed P50 at horizon end, all types (chips)", float(result.installed_total.p50[end])))
    rows.append(("Installed P50 at horizon end (H100-equivalents)", float(result.h100_equiv_total.p50[end])))
    rows.append(("Months with a P50 shortfall (months)", int(np.count_nonzero(result.shortfall_p50_unit_chips > 0))))
    rows.append(("First month demand exceeds capacity P50 (date)", first_shortfall_month(result) or "never"))
    unit = names.get(result.unit_chip_id, result.unit_chip_id)
    rows.append((f"Largest P50 shortfall ({unit} chips)", float(np.max(result.shortfall_p50_unit_chips, initial=0.0))))
    for months_in in (12, 24):
        i = _months_index(result, months_in)
        label = f"P(meet demand) {months_in} months in (%)"
        rows.append((label, float(result.prob_meet_demand[i]) * 100 if i is not None else "beyond horizon"))
    for job in result.jobs:
        for q, value in (("P50", job.completion_p50), ("P90", job.completion_p90)):
            rows.append((f"Job '{job.job.name}' done {q} (date)", value or "after the horizon"))
        rows.append((f"Job '{job.job.name}' done within horizon (%)", job.prob_within_horizon * 100))
    return rows


def figure_text(value) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(float(value))
    return str(value)


def fit_left_axis(chart: PlotPanel, values) -> None:
    """Widen the value axis to its longest tick label: pyqtgraph drops labels that don't fit."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    biggest = float(np.max(np.abs(finite))) if finite.size else 0.0
    axis = chart.plot_item.getAxis("left")
    text = f"{biggest * 1.2:,.0f}"
    width = pg.QtGui.QFontMetrics(axis.style.get("tickFont") or chart.font()).horizontalAdvance(text)
    axis.setWidth(int(width) + 38)  # + tick length and the rotated axis title


def unc_key_text(key: tuple) -> str:
    """Combo data for an uncertainty target: 'default', 'vendor:Huawei', 'order:3'."""
    return "default" if key[0] == "default" else f"{key[0]}:{key[1]}"


def unc_key_of(text: str | None) -> tuple:
    if not text or text == "default":
        return ("default", None)
    kind, _, value = text.partition(":")
    return (kind, int(value)) if kind == "order" else (kind, value)


def legend_top_right(chart: PlotPanel) -> None:
    """For charts whose data start high on the left (probabilities that fall)."""
    if chart.legend is not None:
        chart.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-10, 10))
