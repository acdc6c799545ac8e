"""One unit for forecasts compared side by side.

A forecast counts capacity, demand and shortfall in chips of its unit chip at that chip's own
rating under the scenario's targets: output tokens/s per unit chip,
`serving_tokens_per_s_per_chip[unit_chip_id]`. Two scenarios with the same unit chip but other
latency targets or serving efficiency count in chips of different sizes: at a 25 ms TPOT one
Ascend 910B2 serves 96.2 output tokens/s instead of 260.7 at 50 ms, so that what-if's capacity
read 364k "Ascend 910B2 chips" against the baseline's 195k while its tokens/s fell from 50.9M to
35.0M. Compared side by side, each scenario's figures are converted to the reference scenario's
unit (the baseline's): chips x own rating / reference rating, which is the output tokens/s over the
reference rating and leaves the reference's own figures as they are.

    unit = common_unit([base_result, what_if_result], reference=0)
    unit.scaled(1, what_if_result.serving_capacity_unit_chips.p50)   # in the baseline's unit chips
    unit.text(chip_names)   # "Ascend 910B2 chips at 260.7 output tokens/s" (when converted)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from engine.forecast import ForecastResult

# ratings within this relative difference are the same rating (one set of inputs gives the same
# float; this only absorbs arithmetic noise, far below any change a target makes)
SAME_RATING_REL_TOL = 1e-9
OWN_RATING_LABEL = "Own unit chip's rating (output tokens/s per chip)"
OWN_UNIT_CHIP_LABEL = "Own unit chip"


def unit_rating(result: ForecastResult) -> float:
    """Output tokens/s one of `result`'s unit chips serves (after the efficiency scale); NaN when
    it serves none (its figures in unit chips are NaN then too)."""
    rate = float(result.serving_tokens_per_s_per_chip.get(result.unit_chip_id, 0.0))
    return rate if math.isfinite(rate) and rate > 0 else math.nan


def rate_text(tokens_per_s: float) -> str:
    """A rating to 4 significant figures, with thousands separators: 260.7, 96.21, 1,234."""
    if not math.isfinite(tokens_per_s):
        return "n/a"
    return f"{tokens_per_s:,.0f}" if abs(tokens_per_s) >= 1000 else f"{tokens_per_s:.4g}"


def rate_figure(tokens_per_s: float) -> float:
    """A rating as a number with rate_text's digits (260.7, 96.18, 349): the Compare row and its CSV
    read as the unit text above them does (they said 261 and 96.2 under "at 260.7 output tokens/s")."""
    if not math.isfinite(tokens_per_s):
        return math.nan
    value = float(rate_text(tokens_per_s).replace(",", ""))
    return int(value) if value.is_integer() else value


def rating_difference(tokens_per_s: float, base_tokens_per_s: float) -> float:
    """`tokens_per_s` - `base_tokens_per_s` from the unrounded ratings, to the last digit both show
    (rate_text's 4 figures): 96.184 - 260.74 reads -164.6 and 349.04 - 260.74 reads 88.3; 0 where
    the two read the same. Differencing the ratings as shown to 3 figures gave -164.8 and 88."""
    if not (math.isfinite(tokens_per_s) and math.isfinite(base_tokens_per_s)):
        return math.nan
    if rate_text(tokens_per_s) == rate_text(base_tokens_per_s):
        return 0
    return round_to_shown_place(tokens_per_s - base_tokens_per_s,
                                (rate_figure(tokens_per_s), rate_figure(base_tokens_per_s)), RATE_DIGITS)


RATE_DIGITS = 4   # rate_text's significant figures


def round_to_shown_place(difference: float, shown: Sequence[object], digits: int) -> float:
    """`difference` (of unrounded values) rounded at the place of the last digit the coarser of the
    `shown` values keeps at `digits` significant figures: 13,242,544 - 2,660,833 between cells
    reading 13,200,000 and 2,660,000 is 10,600,000 (the cells' own difference, 10,540,000, is not
    the figures'; 10,581,711 claims digits neither cell has). Whole where that place is >= 1."""
    exponents = [math.floor(math.log10(abs(v))) - digits + 1 for v in shown
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v != 0]
    if not exponents or not math.isfinite(difference):
        return difference
    place = max(exponents)
    if place >= 0:
        return int(round(difference / 10 ** place) * 10 ** place)
    return round(difference, -place)


def _same_rating(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=SAME_RATING_REL_TOL)


@dataclass(frozen=True)
class CommonUnit:
    """The unit compared forecasts share: chips of `chip_id` at `tokens_per_s_per_chip`."""
    chip_id: str
    tokens_per_s_per_chip: float   # NaN when no compared scenario's unit chip can serve
    reference: int                 # the index of the result whose own unit this is
    scales: tuple[float, ...]      # result i's unit chips x scales[i] = chips of this unit
    converted: bool                # some result counts in another chip or at another rating

    def scaled(self, index: int, values) -> np.ndarray:
        """Result `index`'s figures in its own unit chips, in this unit's chips."""
        return np.asarray(values, dtype=float) * self.scales[index]

    def text(self, chip_names: Mapping[str, str] | None = None) -> str:
        """The unit in words, for axes, headers and labels: "<chip> chips" as a lone forecast
        says it when no result needed converting, else with the rating the chips are counted at."""
        name = (chip_names or {}).get(self.chip_id, self.chip_id)
        if not self.converted:
            return f"{name} chips"
        if not math.isfinite(self.tokens_per_s_per_chip):   # none can serve: nothing to convert by
            return "chips of each scenario's unit"
        return f"{name} chips at {rate_text(self.tokens_per_s_per_chip)} output tokens/s"

    def note(self, results: Sequence[ForecastResult | None], names: Sequence[str],
             chip_names: Mapping[str, str] | None = None) -> str | None:
        """One line for a file saying why the unit carries a rating and whose ratings differ
        (None when nothing was converted)."""
        if not self.converted or not math.isfinite(self.tokens_per_s_per_chip):
            return None
        chips = chip_names or {}
        ref = results[self.reference]
        assert ref is not None
        others = [f"{name}: {rate_text(unit_rating(r))} output tokens/s per {chips.get(r.unit_chip_id, r.unit_chip_id)} chip"
                  for name, r in zip(names, results)
                  if r is not None and (r.unit_chip_id != ref.unit_chip_id
                                        or not _same_rating(unit_rating(r), self.tokens_per_s_per_chip))]
        return (f"capacity, demand and shortfall in {self.text(chip_names)} each ({names[self.reference]}'s unit "
                f"chip and rating); the other scenarios' own unit chips serve other rates under their targets "
                f"({'; '.join(others)}) and are converted: chips x own rate / {rate_text(self.tokens_per_s_per_chip)}")


def common_unit(results: Sequence[ForecastResult | None], reference: int | None = None) -> CommonUnit | None:
    """The unit to compare `results` in (None entries were not computed): the unit of
    `results[reference]` (the baseline) when its unit chip can serve, else of the first that can;
    None when nothing was computed. Every scale is 1 when all share one unit chip and rating."""
    computed = [i for i, r in enumerate(results) if r is not None]
    if not computed:
        return None
    rated = [i for i in computed if math.isfinite(unit_rating(results[i]))]   # type: ignore[arg-type]
    if reference in rated:
        ref = reference
    elif rated:
        ref = rated[0]
    else:
        ref = reference if reference in computed else computed[0]
    assert ref is not None
    base = results[ref]
    assert base is not None
    base_rate = unit_rating(base)
    same = all(r.unit_chip_id == base.unit_chip_id and _same_rating(unit_rating(r), base_rate)
               for r in results if r is not None)
    if same or not math.isfinite(base_rate):
        scales = tuple(1.0 for _ in results)
    else:
        scales = tuple(1.0 if r is None else unit_rating(r) / base_rate for r in results)
    return CommonUnit(base.unit_chip_id, base_rate, ref, scales, not same)


def key_figures_in_unit(figures: Sequence[tuple[str, object]], result: ForecastResult, index: int,
                        unit: CommonUnit | None, chip_names: Mapping[str, str] | None = None
                        ) -> list[tuple[str, object]]:
    """`figures` (engine.studies_forecast.forecast_key_figures of `result`, compared as result
    `index`) with each figure counted in the result's unit chips ("Largest P50 shortfall (Ascend
    910B2 chips)") converted to `unit` and labelled with it; as they are when nothing converts."""
    if unit is None or not unit.converted:
        return list(figures)
    own = f" ({(chip_names or {}).get(result.unit_chip_id, result.unit_chip_id)} chips)"
    out: list[tuple[str, object]] = []
    for label, value in figures:
        if label.endswith(own):   # a figure not counted (text) keeps its words, on the compared row
            label = f"{label[:-len(own)]} ({unit.text(chip_names)})"
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = float(value) * unit.scales[index]
        out.append((label, value))
    return out
