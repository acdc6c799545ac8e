"""The Forecast view's tables as files write them, rounded by the engine's rules, so that Export
all, `fleetcast forecast` and the Compare view give one figure for one quantity.

QA s28: the export wrote "Installed P50 at horizon end, Ascend 910B2 (chips)" as 61652.59624 and
installed chips as 9797.832847, where `forecast --format json` key_figures and the Compare export
said 61700 and the CLI's CSV 9798. A P50 over a few thousand trials moves by about 1% with the
seed: its last five digits were noise presented as data.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.forecast import ForecastResult
from engine.forecast_text import table_cell
from engine.studies_forecast import MonthlyTable, forecast_key_figures, round_figure

KEY_FIGURE_HEADERS = ["Figure", "Value"]


def key_figure_rows(result: ForecastResult, chip_names: Mapping[str, str] | None = None
                    ) -> tuple[list[str], list[list]]:
    """The key figures as `fleetcast forecast --format json` gives them: numbers that are not
    whole to 3 significant figures (engine.studies_forecast.round_figure, the one rule), dates,
    counts and words as they are."""
    return KEY_FIGURE_HEADERS, [[label, round_figure(value)] for label, value in
                                forecast_key_figures(result, chip_names)]


def monthly_file_rows(table: MonthlyTable) -> list[list]:
    """The monthly table for a file, each cell as `fleetcast forecast --format csv` writes it
    (engine.forecast_text.table_cell: whole numbers from 10 up, chips as whole chips; P(meet) by
    its column's own file text). Cells stay floats (9798.0; a CSV writes it "9798") so that a
    reader of the rows gets numbers, as before."""
    return [[row[0]] + [float(table_cell(value)) if isinstance(value, float) else value for value in row[1:]]
            for row in table.file_rows()]


__all__ = ["KEY_FIGURE_HEADERS", "key_figure_rows", "monthly_file_rows"]
