"""The Forecast form's "Supply" group: the date deliveries are known to, the install lag, failures,
chip life and how undated chips arrive (ForecastScenario's supply fields, which no field showed)."""

from __future__ import annotations

import datetime as dt
import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDateEdit, QFormLayout, QGroupBox, QHBoxLayout

from engine.forecast import UNSCHEDULED_LEAD_MONTHS, ForecastScenario
from engine.studies_forecast import StudyProblem
from gui import style
from gui.panels.forecast_editors import _int_spin, _pydate, _qdate, _spin
from gui.panels.forecast_uncertainty import assumptions_html as _delivery_assumptions_html

SUPPLY_KEYS = ("as_of", "install_lag_days", "annual_failure_rate", "lifetime_years", "unscheduled_spread_months")
SPREAD_MONTHS_MAX = 240        # the engine's limit
AS_OF_RANGE = (dt.date(2000, 1, 1), dt.date(2100, 12, 31))


def _latest_by_vendor(orders) -> dict[str, dt.date]:
    """Each vendor's latest recorded delivery (names as the engine compares them: without case)."""
    latest: dict[str, tuple[str, dt.date]] = {}
    for order in orders:
        name = (order.vendor or "").strip()
        for delivery in order.deliveries:
            seen = latest.get(name.lower())
            if seen is None or delivery.date > seen[1]:
                latest[name.lower()] = (name or "no vendor", delivery.date)
    return dict(sorted(latest.values(), key=lambda item: item[0].lower()))


def supply_html(sc: ForecastScenario) -> str:
    """The supply assumptions in one line of the Forecast's assumptions box."""
    known = "each vendor's latest recorded delivery" if sc.as_of is None else f"{sc.as_of:%Y-%m-%d}"
    life = "never retire" if sc.lifetime_years is None else f"retire after {sc.lifetime_years:g} years"
    return (f"<b>supply</b>: deliveries known to {known}; chips count {sc.install_lag_days:g} days after "
            f"delivery, fail {sc.annual_failure_rate * 100:g}%/year and {life}; undated chips arrive over "
            f"{sc.unscheduled_spread_months} months")


def assumptions_html(sc: ForecastScenario, chip_name=lambda c: c, orders=None) -> str:
    """The Forecast's assumptions box: the delivery, demand and throughput lines, then the supply's."""
    return _delivery_assumptions_html(sc, chip_name, orders).removesuffix(".") + "; " + supply_html(sc) + "."


def assumptions_box(sc: ForecastScenario, chip_name, orders) -> str:
    """`assumptions_html` in the view's assumptions box (its colours)."""
    return style.box_html(style.ASSUMPTIONS_BOX, assumptions_html(sc, chip_name, orders))


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value, per: float = 1) -> str:
    return f"{value * per:,.6g}" if _finite(value) else repr(value)


def supply_problems(problems: list[StudyProblem], sc: ForecastScenario) -> list[StudyProblem]:
    """`problems` (ForecastStudy.problems) with the supply's in the form's words and fields (the
    engine's "Supply setting ..." lines give way to the fields' own)."""
    out = [p for p in problems if p.field != "supply"]
    lag, rate, life, spread = sc.install_lag_days, sc.annual_failure_rate, sc.lifetime_years, sc.unscheduled_spread_months
    if not (_finite(lag) and lag >= 0):
        out.append(StudyProblem("install_lag_days", f"Install lag {_text(lag)} days: use 0 days or more."))
    if not (_finite(rate) and 0 <= rate < 1):
        out.append(StudyProblem("annual_failure_rate", f"Failures {_text(rate, 100)} %/year: use 0 to 99.99 %/year."))
    if life is not None and not (_finite(life) and life > 0):
        out.append(StudyProblem("lifetime_years", f"Chip life {_text(life)} years: use more than 0, or no retirement."))
    if not (isinstance(spread, int) and 1 <= spread <= SPREAD_MONTHS_MAX):
        out.append(StudyProblem("unscheduled_spread_months",
                                f"Unscheduled chips spread over {_text(spread)} months: use 1 to {SPREAD_MONTHS_MAX}."))
    return out


class SupplyEditor(QGroupBox):
    """The supply fields; `load` shows a scenario's, `values` gives them back for `replace`."""

    edited = Signal()

    def __init__(self, on_edited=None, parent=None):
        super().__init__("Supply", parent)
        self._loading = False
        self._latest: dt.date | None = None
        self._exact: dict[str, tuple[float, float]] = {}   # key -> (value shown, value loaded)
        self.as_of_auto = QCheckBox("latest recorded")
        self.as_of_edit = QDateEdit()
        self.as_of_edit.setDisplayFormat("yyyy-MM-dd")
        self.as_of_edit.setCalendarPopup(True)
        self.as_of_edit.setToolTip("Deliveries are known to this day (uncheck 'latest recorded' to set it)")
        self.lag_spin = _spin(0, 3650, 30, decimals=0, step=5, suffix=" days",
                              tip="Days from delivery until a chip counts as installed (racking, burn-in). "
                                  "Default 30 days")
        self.failure_spin = _spin(0, 99.99, 3, decimals=2, step=0.5, suffix=" %/year",
                                  tip="Installed chips lost per year, net of repairs (exponential). Default "
                                      "3 %/year; a scenario saved without it: 0")
        self.life_spin = _spin(0, 100, 5, decimals=1, step=0.5, suffix=" years",
                               tip="Chips retire this many years after they are installed; 0 = no retirement. "
                                   "Default 5 years; a scenario saved without it: no retirement")
        self.life_spin.setSpecialValueText("no retirement")
        self.spread_spin = _int_spin(1, SPREAD_MONTHS_MAX, 12, suffix=" months",
                                     tip="Undelivered chips with no promised dates arrive evenly over this many "
                                         "months after the date deliveries are known to (not before "
                                         f"{UNSCHEDULED_LEAD_MONTHS} months after the order). Default 12 months")
        self._spins = {"install_lag_days": (self.lag_spin, 1.0), "annual_failure_rate": (self.failure_spin, 100.0),
                       "lifetime_years": (self.life_spin, 1.0), "unscheduled_spread_months": (self.spread_spin, 1)}
        self._ranges = {key: (spin.minimum(), spin.maximum()) for key, (spin, _per) in self._spins.items()}
        as_of_row = QHBoxLayout()
        as_of_row.addWidget(self.as_of_auto)
        as_of_row.addWidget(self.as_of_edit, 1)
        form = QFormLayout(self)
        form.addRow("Deliveries known to", as_of_row)
        form.addRow("Install lag", self.lag_spin)
        form.addRow("Failures", self.failure_spin)
        form.addRow("Chip life", self.life_spin)
        form.addRow("Unscheduled chips spread over", self.spread_spin)
        self.as_of_auto.toggled.connect(self._on_auto_toggled)
        self.as_of_edit.dateChanged.connect(self._changed)
        for spin, _per in self._spins.values():
            spin.valueChanged.connect(self._changed)
        self._describe_auto()
        if on_edited is not None:
            self.edited.connect(on_edited)

    def fields(self) -> dict[str, tuple]:
        """Problem field -> the widgets to mark (the form's red border)."""
        return {"as_of": (self.as_of_edit,), **{key: (spin,) for key, (spin, _per) in self._spins.items()}}

    def load(self, sc: ForecastScenario, orders=()) -> None:
        """Show `sc`'s supply fields (no `edited`); `orders` say what 'latest recorded' resolves to."""
        self._loading = True
        try:
            dates = [d.date for o in orders for d in o.deliveries]
            self._latest = max(dates) if dates else None
            self._describe_auto(orders)
            shown = sc.as_of or self._latest or sc.start
            low, high = min(shown, AS_OF_RANGE[0]), max(shown, AS_OF_RANGE[1])   # a saved date is never moved
            self.as_of_edit.setDateRange(_qdate(low), _qdate(high))
            self.as_of_edit.setDate(_qdate(shown))
            self.as_of_auto.setChecked(sc.as_of is None)
            self.as_of_edit.setEnabled(sc.as_of is not None)
            self._exact = {}
            for key, (spin, per) in self._spins.items():
                value = getattr(sc, key)
                shown_value = 0 if value is None else value * per
                low, high = self._ranges[key]
                if _finite(shown_value):
                    # a saved value outside the field's range is shown as it is (and named), not clamped;
                    # below "no retirement" (the minimum's text) a chip life is kept and named only
                    spin.setRange(low if key == "lifetime_years" else min(low, shown_value), max(high, shown_value))
                    spin.setValue(shown_value)
                    self._exact[key] = (spin.value(), value)
        finally:
            self._loading = False

    def values(self) -> dict:
        """The fields as ForecastScenario keywords; a value loaded with more digits than its field
        shows (3.125 %/year in 2 decimals) is kept exactly while the field is left alone."""
        out: dict = {"as_of": None if self.as_of_auto.isChecked() else _pydate(self.as_of_edit.date())}
        for key, (spin, per) in self._spins.items():
            shown, loaded = self._exact.get(key, (None, None))
            value = spin.value()
            if shown is not None and value == shown:
                out[key] = loaded
            elif key == "lifetime_years":
                out[key] = value if value > 0 else None
            else:
                out[key] = value if key == "unscheduled_spread_months" else value / per
        return out

    def _describe_auto(self, orders=()) -> None:
        by_vendor = ", ".join(f"{name} {day:%Y-%m-%d}" for name, day in _latest_by_vendor(orders).items())
        self.as_of_auto.setToolTip(
            "The day deliveries are known to: a lot due before it and not delivered counts as late, and nothing "
            "still to come arrives before it. Checked (the default): each order's vendor's latest recorded "
            "delivery" + (f" ({by_vendor})" if by_vendor else " (none recorded: the order date)"))

    def _on_auto_toggled(self, automatic: bool) -> None:
        self.as_of_edit.setEnabled(not automatic)
        if not self._loading and not automatic and self._latest is not None:
            self.as_of_edit.setDate(_qdate(self._latest))   # a set date starts from what 'latest' was
        self._changed()

    def _changed(self, *_) -> None:
        if not self._loading:
            self.edited.emit()
