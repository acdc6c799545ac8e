"""The delivery-uncertainty editor of the Forecast view, and the scenario's assumptions in words."""

from __future__ import annotations


from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel

from engine.forecast import (DISTRIBUTIONS, MAX_EXTRA_DELAY_DAYS, ForecastScenario, OrderUncertainty,
                             effective_uncertainty)
from gui import style
from gui.panels.forecast_common import unc_key_of, unc_key_text
from gui.panels.forecast_editors import _combo, _set_combo, _spin

DIST_LABELS = {"fixed": "fixed", "uniform": "uniform", "triangular": "triangular", "beta": "PERT (beta)"}
DEFAULT_LABEL = "Any other vendor (default)"


def _range(unc: OrderUncertainty, what: str) -> str:
    if what == "fraction":
        lo, mode, hi, pct = unc.fraction_low * 100, unc.fraction_mode * 100, unc.fraction_high * 100, "%"
        kind = unc.fraction_dist
    else:
        lo, mode, hi, pct = unc.delay_low_days, unc.delay_mode_days, unc.delay_high_days, " days"
        kind = unc.delay_dist
    if kind == "fixed" or hi <= lo:
        return f"{mode if kind == 'fixed' else lo:.0f}{pct}"
    if kind == "uniform":
        return f"{lo:.0f}–{hi:.0f}{pct}"
    return f"{lo:.0f}–{hi:.0f}{pct} (mode {mode:.0f}{pct.strip() if pct == '%' else ''})"


def _delay(unc: OrderUncertainty) -> str:
    """The delay in words, its extra days on top ("0–365 days (mode 90) +182 days")."""
    extra = f" +{unc.extra_delay_days:,.0f} days" if unc.extra_delay_days else ""
    return _range(unc, "delay") + extra


def assumptions_html(sc: ForecastScenario, chip_name=lambda c: c, orders=None) -> str:
    """What the scenario assumes, one line per source of uncertainty (shown first in the view).
    With `orders` (the store's), an order's own risk on an order fully delivered, or on one not
    in the store, says it applies to nothing, not that it wins over its vendor's line."""
    lines = []
    by_id = None if orders is None else {o.id: o for o in orders}
    for vendor, unc in sc.vendor_uncertainty.items():
        of = "of its orders" if unc.fraction_of == "order" else "of what it still owes"
        lines.append(f"<b>{vendor}</b> delivers {_range(unc, 'fraction')} {of}, "
                     f"{_delay(unc)} late ({unc.vendor_common_share:.0%} common to its orders)")
    for order_id, unc in sorted(sc.order_uncertainty.items()):
        # an order's own risk wins over its vendor's line above, which a what-if of that vendor then does
        # not reach: "Huawei delivers 50%" read alone where Huawei's only order ran on its own 40-100% (QA s40)
        of = "of the order" if unc.fraction_of == "order" else "of what is outstanding"
        order = None if by_id is None else by_id.get(order_id)
        if by_id is not None and order is None:   # deleted since: it moves nothing (QA s40)
            lines.append(f"<b>order {order_id}</b> has a delivery risk of its own but is not in the fleet: "
                         "it applies to nothing")
            continue
        if order is not None and order.outstanding <= 0:
            lines.append(f"<b>order {order_id}</b> has a delivery risk of its own but is fully delivered: "
                         "nothing is left for it to apply to")
            continue
        lines.append(f"<b>order {order_id}</b> delivers {_range(unc, 'fraction')} {of}, {_delay(unc)} late "
                     "(its own risk: its vendor's line does not apply to it)")
    d = sc.default_uncertainty
    if (d.fraction_dist, d.fraction_mode, d.delay_dist, d.delay_mode_days) != ("fixed", 1.0, "fixed", 0.0) \
            or d.extra_delay_days:
        lines.append(f"other vendors deliver {_range(d, 'fraction')}, {_delay(d)} late")
    for ev in sc.policy_events:
        when = (f"on {ev.window_start}" if ev.window_start == ev.window_end
                else f"between {ev.window_start} and {ev.window_end}")
        lasts = "for good" if ev.duration_months is None else f"for {ev.duration_months:g} months"
        lines.append(f"<b>{chip_name(ev.chip_id)}</b> export cut-off: {ev.probability:.0%} chance, {when}, {lasts}")
    dm = sc.demand
    growth = {"fixed": f"{dm.growth_after_last_per_year:g}×/year after the last point (no uncertainty)",
              "loglinear": f"log-linear fit on the last {dm.fit_points} points, with its error",
              "decaying": "growth rate fitted as falling over time (it saturates), with its error",
              "user": f"P10/P50/P90 {dm.growth_p10_per_year:g}/{dm.growth_p50_per_year:g}/"
                      f"{dm.growth_p90_per_year:g}×/year"}.get(dm.growth_model, dm.growth_model)
    if dm.kind != "piecewise":
        growth = f"{dm.kind} fit through the points (no uncertainty)"
    served = (f"; served on {', '.join(chip_name(c) for c in dm.serve_on)} only" if dm.serve_on
              else "; every chip type's non-training chips serve")
    from engine.forecast import demand_points_note

    points = demand_points_note(dm)
    points = ("; " + points.replace("+-", "±")) if points else (
        "; demand points exact (no ± set)" if dm.kind == "piecewise" and dm.points else "")
    lines.append(f"<b>demand</b>: {growth}{points}; request mix ±{dm.request_mix_sigma:.0%}{served}")
    from engine.forecast_text import demand_what_if_words

    lines += [f"<b>what-if</b>: {words}" for words in demand_what_if_words(dm.growth_rate_multiplier, dm.scale)]
    scale = sc.throughput_sigma_scale   # "× 1." read as a stray figure: 1 is the error as validated
    lines.append("<b>throughput</b> per chip: its family's validation error"
                 + (" (as validated)" if scale == 1 else f" × {scale:g}"))
    return "This scenario assumes: " + "; ".join(lines) + "."


# marks a note written for values since edited by hand (the note is provenance: kept, but flagged);
# one rule for the demand, cut-off and uncertainty notes, in the engine
from engine.studies_forecast import EDITED_NOTE, note_for_values  # noqa: E402,F401


class UncertaintyEditor(QGroupBox):
    """Fulfilled fraction and delay per vendor or order (the most specific distribution wins)."""

    edited = Signal()

    def __init__(self, parent=None):
        super().__init__("Delivery uncertainty", parent)
        self.uncertainty: dict[tuple, OrderUncertainty] = {("default", None): OrderUncertainty()}
        self.key: tuple = ("default", None)
        self._orders = []
        self._loading = False
        self.target = _combo([], "Which orders this distribution applies to: a vendor's orders, one order, or "
                                 "every other vendor (the most specific wins)")
        self.target.currentIndexChanged.connect(lambda _i: self.show_key(unc_key_of(self.target.currentData())))
        self.specific = QCheckBox("Own distribution (else the vendor's or the default)")
        self.specific.setToolTip("Unchecked: this vendor/order follows the less specific distribution")
        self.frac_dist = _combo([(k, DIST_LABELS[k]) for k in DISTRIBUTIONS],
                                "Distribution of the fulfilled fraction: fixed = the mode; uniform low..high; "
                                "triangular/PERT with that mode")
        self.frac_low = _spin(0, 100, 100, decimals=0, step=5, suffix=" %", tip="Lowest fulfilled fraction")
        self.frac_mode = _spin(0, 100, 100, decimals=0, step=5, suffix=" %", tip="Most likely fulfilled fraction")
        self.frac_high = _spin(0, 100, 100, decimals=0, step=5, suffix=" %", tip="Highest fulfilled fraction")
        self.frac_of = _combo([("order", "of the ordered quantity"), ("outstanding", "of what is outstanding")],
                              "order: share of the whole order eventually delivered (delivered chips count); "
                              "outstanding: share of what is not delivered yet")
        self.delay_dist = _combo([(k, DIST_LABELS[k]) for k in DISTRIBUTIONS],
                                 "Distribution of the delay of every undelivered lot of the order")
        self.delay_low = _spin(0, 3650, 0, decimals=0, step=30, suffix=" days", tip="Shortest delay")
        self.delay_mode = _spin(0, 3650, 0, decimals=0, step=30, suffix=" days", tip="Most likely delay")
        self.delay_high = _spin(0, 3650, 0, decimals=0, step=30, suffix=" days", tip="Longest delay")
        self.extra_delay = _spin(0, MAX_EXTRA_DELAY_DAYS, 0, decimals=0, step=30, suffix=" days later",
                                 tip="Days later than the delay above: every undelivered lot ships this much "
                                     "later, on top of the delay drawn from low/mode/high. A what-if \"6 months "
                                     "late\" sets this, so it stays 6 months later than its baseline when the "
                                     "baseline's low/mode/high are edited (a baseline's own extra delay is "
                                     "replaced by the what-if's, not added to)")
        self.common = _spin(0, 100, 70, decimals=0, step=10, suffix=" %",
                            tip="Share of the variation common to every order of the vendor in a trial (yields, "
                                "export rules, its priorities); the rest is each contract's own. Splitting an "
                                "order into rows of one contract never narrows the band")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet(style.hint_style())
        form = QFormLayout(self)
        form.addRow("Applies to", self.target)
        form.addRow(self.specific)
        form.addRow("Fulfilled", self.frac_dist)
        frac_row = QHBoxLayout()
        for w in (self.frac_low, self.frac_mode, self.frac_high):
            frac_row.addWidget(w)
        form.addRow("Low/mode/high", frac_row)
        form.addRow("Fraction", self.frac_of)
        form.addRow("Delay", self.delay_dist)
        delay_row = QHBoxLayout()
        for w in (self.delay_low, self.delay_mode, self.delay_high):
            delay_row.addWidget(w)
        form.addRow("Low/mode/high", delay_row)
        form.addRow("Extra delay", self.extra_delay)
        form.addRow("Common to vendor", self.common)
        form.addRow(self.note)
        for w in (self.frac_low, self.frac_mode, self.frac_high, self.delay_low, self.delay_mode, self.delay_high,
                  self.extra_delay, self.common):
            w.setMinimumWidth(50)
            w.valueChanged.connect(self._on_edited)
        for w in (self.frac_dist, self.frac_of, self.delay_dist):
            w.currentIndexChanged.connect(self._on_edited)
        self.specific.toggled.connect(self._on_edited)

    def fields(self) -> dict:
        """Widgets by the validation-message prefix they answer to."""
        return {"fraction": (self.frac_low, self.frac_mode, self.frac_high),
                "delay": (self.delay_low, self.delay_mode, self.delay_high, self.extra_delay)}

    def load(self, sc: ForecastScenario, orders, chip_name, makers=None) -> None:
        self._makers = dict(makers or {})   # chip id -> the catalog's vendor (engine.forecast.supply_vendor)
        before = dict(self.uncertainty) if hasattr(self, "uncertainty") else None   # edits included
        self.uncertainty = {("default", None): sc.default_uncertainty}
        self.uncertainty.update({("vendor", k): v for k, v in sc.vendor_uncertainty.items()})
        self.uncertainty.update({("order", k): v for k, v in sc.order_uncertainty.items()})
        self._orders = list(orders)
        # Show what this load changed (an undo of the default's 90% -> 100%, another scenario's
        # Huawei): the editor used to jump to the first vendor, so an undo happened off screen.
        changed = [k for k in dict.fromkeys([*(before or {}), *self.uncertainty])
                   if (before or {}).get(k) != self.uncertainty.get(k)] if before is not None else []
        if changed:   # the key on screen stays when it is one of them (a vendor's own entry removed)
            if self.key not in changed:
                self.key = next((k for k in changed if k[0] == "vendor"), changed[0])
        elif before is None or self.key not in self.uncertainty and self.key[0] != "order":
            # first load: open on the first vendor with its own assumptions, not the catch-all default
            self.key = next((k for k in self.uncertainty if k[0] == "vendor"), ("default", None))
        self.target.blockSignals(True)
        self.target.clear()
        vendors = list(dict.fromkeys([k[1] for k in self.uncertainty if k[0] == "vendor"]
                                     + [o.vendor for o in self._orders if o.vendor]))
        for vendor in vendors:
            self.target.addItem(f"Vendor: {vendor}", unc_key_text(("vendor", vendor)))
        for o in self._orders:
            self.target.addItem(f"Order #{o.id}: {o.quantity:,} × {chip_name(o.chip_id)}", unc_key_text(("order", o.id)))
        self.target.addItem(DEFAULT_LABEL, "default")
        i = self.target.findData(unc_key_text(self.key))
        self.target.setCurrentIndex(max(i, 0))
        self.target.blockSignals(False)
        self.show_key(unc_key_of(self.target.currentData()))

    def values(self) -> tuple[OrderUncertainty, dict, dict]:
        return (self.uncertainty[("default", None)],
                {k[1]: v for k, v in self.uncertainty.items() if k[0] == "vendor"},
                {k[1]: v for k, v in self.uncertainty.items() if k[0] == "order"})

    def effective(self, key) -> OrderUncertainty:
        if key in self.uncertainty:
            return self.uncertainty[key]
        default, by_vendor, by_order = self.values()
        if key[0] == "order":
            order = next((o for o in self._orders if o.id == key[1]), None)
            if order is not None:  # the engine's precedence: order, then vendor, then default
                return effective_uncertainty(order.id, order.vendor, default, by_vendor, by_order,
                                             getattr(self, "_makers", {}).get(order.chip_id))
        return default

    def show_key(self, key) -> None:
        self.key = key
        loading, self._loading = self._loading, True
        try:
            unc = self.effective(key)
            self.specific.setVisible(key[0] != "default")
            self.specific.setChecked(key in self.uncertainty)
            _set_combo(self.frac_dist, unc.fraction_dist)
            self.frac_low.setValue(unc.fraction_low * 100)
            self.frac_mode.setValue(unc.fraction_mode * 100)
            self.frac_high.setValue(unc.fraction_high * 100)
            _set_combo(self.frac_of, unc.fraction_of)
            _set_combo(self.delay_dist, unc.delay_dist)
            self.delay_low.setValue(unc.delay_low_days)
            self.delay_mode.setValue(unc.delay_mode_days)
            self.delay_high.setValue(unc.delay_high_days)
            self.extra_delay.setValue(unc.extra_delay_days)
            self.common.setValue(unc.vendor_common_share * 100)
            self.note.setText(unc.note)
            self.note.setVisible(bool(unc.note))
            self._enable()
        finally:
            self._loading = loading

    def _enable(self) -> None:
        own = self.key[0] == "default" or self.specific.isChecked()
        for dist, low, mode, high in ((self.frac_dist, self.frac_low, self.frac_mode, self.frac_high),
                                      (self.delay_dist, self.delay_low, self.delay_mode, self.delay_high)):
            kind = dist.currentData()
            dist.setEnabled(own)
            low.setEnabled(own and kind != "fixed")
            high.setEnabled(own and kind != "fixed")
            mode.setEnabled(own and kind != "uniform")
        self.frac_of.setEnabled(own)
        self.extra_delay.setEnabled(own)
        self.common.setEnabled(own)

    def _on_edited(self, *_):
        if self._loading:
            return
        key = self.key
        if key[0] != "default" and not self.specific.isChecked():
            self.uncertainty.pop(key, None)
            self.show_key(key)  # show what it falls back to
        else:
            previous = self.effective(key)
            note = previous.note if key in self.uncertainty else ""
            new = OrderUncertainty(
                fraction_dist=self.frac_dist.currentData(), fraction_low=self.frac_low.value() / 100,
                fraction_mode=self.frac_mode.value() / 100, fraction_high=self.frac_high.value() / 100,
                fraction_of=self.frac_of.currentData(), delay_dist=self.delay_dist.currentData(),
                delay_low_days=self.delay_low.value(), delay_mode_days=self.delay_mode.value(),
                delay_high_days=self.delay_high.value(), extra_delay_days=self.extra_delay.value(),
                vendor_common_share=self.common.value() / 100, note=note)
            # the note argued for the values before the edit ("Huawei delivers 40-100%") and sat
            # under a fixed 30%: it says now that it describes earlier values
            new = note_for_values(previous, new)
            if new.note != note:
                self.note.setText(new.note)
            self.uncertainty[key] = new
            self._enable()
        self.edited.emit()
