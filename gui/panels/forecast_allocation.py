"""The Forecast view's Allocation rows: per chip type, the share that trains and whether the rest
serves the demand (the scenario's `demand.serve_on`; none ticked off = every chip type serves).

A what-if that served the demand on the H20 alone read capacity 124.7k against the baseline's
198k with nothing on screen saying why, and each excluded chip's tooltip said "the rest serves".
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QWidget

from engine.forecast import ForecastScenario
from gui import style
from gui.panels.forecast_editors import _spin


def allocation_chips(sc: ForecastScenario, order_chips: list[str]) -> list[str]:
    """Every chip type a row is shown for: ordered ones, ones with a training share of their own,
    and ones the scenario serves on (a serve-on chip without orders still needs its row)."""
    return list(dict.fromkeys(list(order_chips) + list(sc.allocation.training_share) + list(sc.demand.serve_on)))


def fill_allocation(form: QFormLayout, sc: ForecastScenario, chips: list[str], chip_name: Callable[[str], str],
                    on_change: Callable[..., None]) -> tuple[dict[str, QDoubleSpinBox], dict[str, QCheckBox]]:
    """Rebuild `form`'s rows for `chips`; returns the share spin boxes and the "serves" boxes."""
    while form.rowCount():
        form.removeRow(0)
    shares: dict[str, QDoubleSpinBox] = {}
    serves: dict[str, QCheckBox] = {}
    serve_on = set(sc.demand.serve_on)
    for chip in chips:
        share = sc.allocation.training_share.get(chip, sc.allocation.default_training_share)
        serving = not serve_on or chip in serve_on
        spin = _spin(0, 100, share * 100, decimals=0, step=5, suffix=" % trains", tip="")
        box = QCheckBox("rest serves")
        box.setChecked(serving)
        _describe(chip, spin, box, chip_name)
        # rows built after the view (gui.widgets.accessible names the others): each by its chip
        spin.setAccessibleName(f"{chip_name(chip)}: share that trains")
        box.setAccessibleName(f"{chip_name(chip)}: the rest serves")
        spin.valueChanged.connect(on_change)
        box.toggled.connect(on_change)
        box.toggled.connect(lambda _on, c=chip, s=spin, b=box: _describe(c, s, b, chip_name))
        box.toggled.connect(lambda on, b=box: _keep_one(serves, b, on))
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(spin, 1)
        line.addWidget(box)
        shares[chip], serves[chip] = spin, box
        form.addRow(chip_name(chip), row)
    if sc.allocation.steps:
        note = QLabel(f"{len(sc.allocation.steps)} dated change(s) of the share are kept from the saved scenario.")
        note.setWordWrap(True)
        note.setStyleSheet(style.hint_style())
        form.addRow(note)
    if not chips:
        form.addRow(QLabel("No chip types yet: add orders in the Fleet view."))
    return shares, serves


def _keep_one(serves: dict[str, QCheckBox], box: QCheckBox, on: bool) -> None:
    """Some chip type serves: with none ticked the scenario would read "every chip type serves"."""
    if not on and not any(b.isChecked() for b in serves.values()):
        box.setChecked(True)


def _describe(chip: str, spin: QDoubleSpinBox, box: QCheckBox, chip_name: Callable[[str], str]) -> None:
    name = chip_name(chip)
    rest = "serves the demand" if box.isChecked() else "is idle (it does not serve)"
    spin.setToolTip(f"Share of the installed {name} chips that trains; the rest {rest}")
    box.setToolTip(f"Ticked: the {name} chips that do not train serve the demand. Untick to keep this chip type "
                   "off serving (what-if: a chip reserved for training, or one the served model does not run on)")


def serve_on_from(serves: dict[str, QCheckBox], base: tuple[str, ...]) -> tuple[str, ...]:
    """The scenario's serve-on list from the boxes: empty (every chip type serves, also chips
    ordered later) while every shown chip is ticked and the scenario named none; else the ticked ones."""
    ticked = tuple(chip for chip, box in serves.items() if box.isChecked())
    if not base and len(ticked) == len(serves):
        return ()
    return ticked
