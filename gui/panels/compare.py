"""The Compare view: saved scenarios side by side, each against the baseline.

The baseline (the scenario what-ifs are stored against) is always in the comparison, first. Each
checked scenario's forecast runs in one worker (one after another, progress across all); the
results show as a table of key figures with each scenario's difference from the baseline and the
changes that define it, and overlaid charts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView, QGroupBox, QLabel, QListWidget, QListWidgetItem,
    QSplitter, QTableWidgetItem, QVBoxLayout, QWidget,
)

from engine.errors import Cancelled, UserError, ValidationError
from engine.forecast import scenario_from_dict, unreached_vendor_notes
from engine.studies_forecast import no_demand, serves_nothing
from gui.commands import follow_store_writes
from gui.panels.base import mark_stale, run_controls
from engine.compare_units import (
    OWN_RATING_LABEL, OWN_UNIT_CHIP_LABEL, common_unit, key_figures_in_unit, rate_figure, rate_text, rating_difference,
    unit_rating,
)
from gui.panels.compare_text import (  # noqa: F401 (the marks are imported from here too)
    MARK_WORDS, MARKS, NOISE_MARK, ONE_SCENARIO_TEXT, PRESS_TEXT, SEED_MARK, TICK_TEXT, FiguresTable, changes_and_keys,
    changes_text,
    difference as _difference, file_value as _file_value,
    header_lines as _header_lines, noise_mark as _noise_mark, noise_sources as _noise_sources, runs_differ as _runs_differ,
    OTHER_MONTHS, no_demand_difference, other_months,
    shown_difference as _shown_difference,
)
from gui.panels.forecast import NO_MODELS_HINT
from gui.panels.forecast_common import (
    ForecastRequest, NamedAxisChart, compute_forecast, counts_from_zero, figure_text, fit_left_axis, key_figures,
    legend_top_right,
)
from gui.widgets.banner import MessageBanner
from gui import style
from gui.widgets.plot_panel import SHORT_NAME_CHARS, PlotPanel, elide_name, to_timestamps, percent_y_range
from gui.workers import LatestRunner

# Ticked at first besides the baseline: the most recently saved scenarios (a user's own what-if,
# not the first names alphabetically, which were the seeded ones and left the user's out).
MAX_DEFAULT_SELECTED = 6
# A figure's label is elided past this many characters: the longest of the figures' own labels
# ("First month demand exceeds capacity P50, Monte Carlo range (date)", 65) stays whole.
ROW_LABEL_CHARS = 72
# The progress text: at most this many characters, and elided to the bar's width less its frame
# and the gap around the text.
PROGRESS_CHARS = 44
PROGRESS_PADDING_PX = 16
# The charts' starting widths (px; a splitter keeps their proportions): the capacity chart's axis
# title takes up to 3 lines when its unit is converted ("Capacity, demand / (Ascend 910B2 chips /
# at 260.7 output tokens/s)"), and at equal widths its plot at 1280x720 had under 40 px a year, so
# the time axis labelled every 5th year only; the probability chart's axis is the narrowest
CHART_SHARES = (380, 325, 345)


@dataclass(frozen=True)
class NotComputed:
    """A compared scenario that could not be computed, and why (one line): its column says so and
    the others are compared (one scenario's prompts past the model's context window failed the
    whole Compare, and with it every report and export)."""
    why: str


@dataclass(frozen=True)
class CompareRequest:
    items: tuple  # ((scenario name, ForecastRequest or NotComputed), ...)


def compare_forecasts(request: CompareRequest, *, progress=None, should_stop=None) -> list:
    """[(name, ForecastOutcome or NotComputed)] for every scenario, in order."""
    report = progress or (lambda fraction, message="": None)
    out: list = []
    n = len(request.items)
    for i, (name, item) in enumerate(request.items):
        def scaled(fraction, message="", i=i, name=name):
            report((i + fraction) / n, f"{name}: {message}" if message else name)

        if should_stop is not None and should_stop():
            raise Cancelled()
        if isinstance(item, NotComputed):
            out.append((name, item))
            continue
        try:
            out.append((name, compute_forecast(item, progress=scaled, should_stop=should_stop)))
        except UserError as exc:   # (Cancelled is not one: a stop still stops the whole comparison)
            why = str(exc)
            prefix = f"forecast scenario '{name}': "   # the column names it
            out.append((name, NotComputed(why[len(prefix):] if why.startswith(prefix) else why)))
    report(1.0, "done")
    return out


def _computed(results: list) -> list:
    return [(name, o) for name, o in results if not isinstance(o, NotComputed)]


def _not_computed_text(results: list) -> str:
    return "; ".join(f"'{name}': {o.why}" for name, o in results if isinstance(o, NotComputed))


class ComparePanel(QWidget):
    # the form's labels for its inputs (the undo menu names an edit by them)
    STATE_LABELS = {
        "selected": "Scenarios compared",
    }

    status_message = Signal(str)

    def __init__(self, store, undo_stack: QUndoStack | None = None, parent=None):
        super().__init__(parent)
        self.store = store
        self.undo_stack = undo_stack
        self.outcomes: list = []       # [(name, ForecastOutcome)] of the scenarios computed
        self.results: list = []        # every compared scenario in order: ForecastOutcome or NotComputed
        self._chip_names: dict[str, str] = {}
        self._shown_request = None     # the inputs of the comparison on screen
        # {name: its changes from the baseline} as read when the comparison on screen ran: read
        # at display time, a what-if deleted since read "none" though its run had changed things
        self._shown_changes: dict[str, str] = {}
        self._running_changes: dict[str, str] = {}
        # the window's: the name of the scenario on screen while it has unsaved edits, else None
        # (Compare runs the scenarios as saved, which a user editing one may not expect)
        self.unsaved_scenario: Callable[[], str | None] | None = None
        self._ticks: set[str] | None = None   # the names ticked, remembered across a delete and its undo
        # each listed scenario's last save time: one new or saved since is ticked when it appears
        self._saved_at: dict[str, str | None] = {}
        self._unticked_by_hand: set[str] = set()   # never ticked again by a save
        self._running_request = None

        self.runner = LatestRunner(self)
        self.runner.finished.connect(self._show)
        self.runner.failed.connect(self._on_failed)
        self.runner.progress.connect(self._on_progress)
        self.runner.busy_changed.connect(lambda busy: self.cancel_button.setEnabled(busy))
        self.runner.cancelled.connect(self._on_cancelled)

        self.banner = MessageBanner()
        self.scenario_list = QListWidget()
        self.scenario_list.setToolTip("Tick two or more saved scenarios to compare")
        self.scenario_list.itemChanged.connect(self._on_checks_changed)
        self._run_row = run_controls(self, "Compare", "Run the forecast of every ticked scenario",
                                     "Stop; the previous comparison stays on screen")
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet(style.hint_style())
        pick = QGroupBox("Scenarios")
        pick_layout = QVBoxLayout(pick)
        pick_layout.addWidget(self.scenario_list, 1)
        pick_layout.addLayout(self._run_row)
        pick_layout.addWidget(self.progress_bar)
        pick_layout.addWidget(self.hint)

        self.figures_table = FiguresTable()   # value columns fitted to their words, scrolled when short of room
        self.figures_table.setAccessibleName("Key figures of the compared scenarios")
        self.figures_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.figures_table.setAlternatingRowColors(True)
        self.figures_table.verticalHeader().setVisible(False)
        self.figures_table.verticalHeader().setDefaultSectionSize(22)
        # the Forecast's chart kind: at 1280x720 a converted unit ("Ascend 910B2 chips at 260.7
        # output tokens/s") left the axis its unit alone, never saying it counts capacity and demand
        self.capacity_chart = NamedAxisChart("Capacity P50 vs peak demand", y_label="Capacity",
                                             y_unit="chips", time_axis=True)
        self.probability_chart = PlotPanel("P(meet peak demand)", y_label="Probability",
                                           y_unit="%", time_axis=True)
        self.installed_chart = PlotPanel("Installed P50 by scenario", y_label="Installed", y_unit="chips",
                                         time_axis=True)
        for chart in self.charts().values():
            chart.status_message.connect(self.status_message)
        legend_top_right(self.probability_chart)

        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.capacity_chart)
        charts.addWidget(self.probability_chart)
        charts.addWidget(self.installed_chart)
        charts.setSizes(list(CHART_SHARES))
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.figures_table)
        right.addWidget(charts)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        right.setSizes([330, 520])
        right.setChildrenCollapsible(False)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(pick)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([220, 1180])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)

        self.refresh_scenarios()
        if undo_stack is not None:
            self._unfollow_stack = follow_store_writes(undo_stack, store, self._on_store_changed)

    def _on_store_changed(self, *_):
        self.refresh_scenarios()
        self.check_current()

    def _note_unsaved(self) -> bool:
        """Say so when a compared scenario has edits on screen that are not saved: Compare runs the
        saved inputs (a what-if's Fulfilled mode set to 20% and not saved showed 43,877 Ascend
        chips here against 26,122 in the Forecast). True when the note is shown."""
        name = self.unsaved_scenario() if self.unsaved_scenario is not None else None
        if name is not None and name in self.compared_names() and self.banner.kind != "error":
            self.banner.show_info(f"'{elide_name(name, SHORT_NAME_CHARS)}' has unsaved edits: Compare runs it as saved. Save it (Ctrl+S) to "
                                  "compare the inputs on screen.")
            return True
        if self.banner.kind == "info" and "unsaved edits" in self.banner.text():
            self.banner.dismiss()
        return False

    def check_current(self) -> bool:
        """Grey the comparison on screen when what it compared changed since (the ticks, a saved
        scenario, the fleet, the catalog); True while it is current."""
        self._note_unsaved()
        if not self.outcomes:
            return True
        request, _ = self._build_request()
        current = request == self._shown_request or self._follow_renames(request)
        mark_stale(list(self.charts().values()) + [self.figures_table], not current)
        if not self.is_running():
            self.progress_bar.setFormat(self._done_text() if current else "Inputs changed: Compare again")
        return current

    def _done_text(self) -> str:
        done, total = len(self.outcomes), len(self.results)
        return f"Done: {done} scenarios" if done == total else f"Done: {done} of {total} scenarios"

    def _follow_renames(self, request) -> bool:
        """Whether `request` differs from the comparison on screen by the scenarios' names alone
        (the baseline renamed): then the columns take the new names and it stays current (a
        rename greyed it, "Inputs changed: Compare again", though no input had changed)."""
        shown = self._shown_request
        if request is None or shown is None or len(request.items) != len(shown.items):
            return False
        unmatched = [(old, _unnamed(item)) for old, item in shown.items]
        old_name: dict[str, str] = {}
        for name, item in request.items:
            key = _unnamed(item)
            at = next((k for k, (_old, other) in enumerate(unmatched) if other == key), None)
            if at is None:
                return False
            old_name[name] = unmatched.pop(at)[0]
        by_name = dict(self.results)
        self._set_results([(name, by_name[old_name[name]]) for name, _ in request.items])
        shown_changes = self._shown_changes
        self._shown_changes = {name: shown_changes[old] for name, old in old_name.items() if old in shown_changes}
        self._shown_request = request
        self._draw()
        return True

    # ---- scenario list -------------------------------------------------------------------------
    def refresh_scenarios(self, *_):
        """Re-read the saved scenarios, keeping the ticks. At first the most recently saved few are
        ticked; later a scenario created or saved since is ticked, unless the user unticked it."""
        first_time = self._ticks is None
        ticked = self._ticks or set()
        rows = self.store.scenarios()
        names = [s["name"] for s in rows]
        saved_at = {s["name"]: s.get("updated_at") for s in rows}
        shown = {self.scenario_list.item(i).text() for i in range(self.scenario_list.count())}
        gone, new = shown - set(names), set(names) - shown
        if len(gone) == len(new) == 1:   # a rename (or its undo): the tick, or its absence, follows
            (old_name,), (new_name,) = gone, new
            if old_name in ticked:
                ticked = (ticked - gone) | new
                self._ticks = ticked
            if old_name in self._unticked_by_hand:
                self._unticked_by_hand = (self._unticked_by_hand - gone) | new
            self._saved_at[new_name] = saved_at[new_name]   # renamed, not saved: its tick stays as it was
        if first_time:
            # newest first; ISO times sort as text, and a name breaks ties (the seeded ones share a second)
            newest = sorted(names, key=lambda n: (saved_at[n] or "", n), reverse=True)
            ticked = set([n for n in newest if n != self.baseline()][:MAX_DEFAULT_SELECTED])
        else:
            saved_since = {n for n in names if saved_at[n] != self._saved_at.get(n, "never seen")}
            ticked = ticked | (saved_since - self._unticked_by_hand)
            self._ticks = ticked
        self._saved_at = saved_at
        base = self.baseline()
        self.scenario_list.blockSignals(True)
        self.scenario_list.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            on = name in ticked
            if name == base:   # compared whatever its tick: an unticked box read as "left out"
                on = True
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("The baseline is always compared: every other scenario is shown against it")
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.scenario_list.addItem(item)
        self.scenario_list.blockSignals(False)
        if first_time:
            self._ticks = set(self.selected())
        self._on_checks_changed()

    def selected(self) -> list[str]:
        return [self.scenario_list.item(i).text() for i in range(self.scenario_list.count())
                if self.scenario_list.item(i).checkState() == Qt.CheckState.Checked]

    def tick_defaults(self) -> None:
        """The ticks a scenario that stores none shows: the most recently saved few, as the view
        first ticks them, from the scenarios saved now (QA s37: the ticks taken when the view was
        built named scenarios renamed since, and another scenario's ticks carried over)."""
        self._ticks, self._unticked_by_hand = None, set()
        self.refresh_scenarios()
        self.set_selected(self.selected())

    def set_selected(self, names) -> None:
        wanted = set(names) | ({self.baseline()} - {None})   # the baseline stays ticked: always compared
        self._ticks = set(wanted)
        self.scenario_list.blockSignals(True)
        for i in range(self.scenario_list.count()):
            item = self.scenario_list.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in wanted else Qt.CheckState.Unchecked)
        self.scenario_list.blockSignals(False)
        self._on_checks_changed()

    def export_context(self) -> dict:
        """Its files compare several scenarios: "Scenario: Story default" above four lines misled."""
        names = self.compared_names()
        base = self.baseline()
        shown = ", ".join(f"{n} (baseline)" if n == base else n for n in names)
        edited = self.unsaved_scenario() if self.unsaved_scenario is not None else None
        # it runs each as saved: a file must not pass for the edits on screen (the banner says so too)
        note = f"'{edited}' is compared as saved, without the unsaved changes on screen" if edited in names else None
        common = self.compared_unit() if self.outcomes else None
        results = [None if isinstance(o, NotComputed) else o.result for _, o in self.results]
        unit = common.note(results, [n for n, _ in self.results], self._chip_names) if common is not None else None
        # a scenario listed above and missing from the lines: why, in the file too (QA s37: only the
        # key-figures CSV had its "Could not be computed" row)
        missing = "; ".join(f"'{name}' is not drawn: {o.why}" for name, o in self.results if isinstance(o, NotComputed))
        # a scenario no chip serves has P(meet) and installed lines but none for capacity and demand
        # in unit chips (they are not counted): the file says why, as its key figures do
        blank = "; ".join(f"'{name}' has no capacity or demand line: no chip serves its model under its targets"
                          for name, o in self.results if not isinstance(o, NotComputed) and serves_nothing(o.result))
        note = "; ".join(x for x in (note, missing, blank) if x) or None
        return {"Scenario": None, "Scenarios": shown or None, "Note": note, "Unit": unit}

    def chart_export_context(self, chart_key: str) -> dict:
        """export_context, with the unit's line only on the chart drawn in it (capacity, demand)."""
        context = self.export_context()
        return context if chart_key == "capacity_p50" else {**context, "Unit": None}

    def compared_names(self) -> list[str]:
        """What Compare runs: the ticked scenarios, the baseline first (always compared too)."""
        names = self.selected()
        base = self.baseline()
        if names and base is not None:
            names = [base] + [n for n in names if n != base]
        return names

    def _on_checks_changed(self, item=None, *_):
        if item is not None and self._ticks is not None:   # a tick by hand (a refresh passes none)
            on = item.checkState() == Qt.CheckState.Checked
            (self._ticks.add if on else self._ticks.discard)(item.text())
            (self._unticked_by_hand.discard if on else self._unticked_by_hand.add)(item.text())
        n = len(self.compared_names())
        total = self.scenario_list.count()
        base = elide_name(self.baseline() or "", SHORT_NAME_CHARS) or None   # a 200-character name widened the form
        if total < 2:
            self.hint.setText("Only one scenario is saved. Create another with New or Duplicate in the "
                              "scenario bar, change it, then compare.")
        elif n < 2:
            self.hint.setText(f"Tick a scenario besides the baseline ({base}) to compare it." if base is not None
                              else "Tick at least two scenarios to compare them.")
        else:
            self.hint.setText(f"{n} scenarios will be compared side by side.")
            if base is not None:
                self.hint.setText(self.hint.text() + f" The baseline ({base}) is always compared too; each "
                                                     "scenario's difference from it has its own column.")
        self.run_button.setEnabled(n >= 2)
        # nothing compared yet: the empty table and charts say why, as Forecast's and Plan's do
        # (bare 0-1 axes read "00.250" and "0.8 chips"); one saved scenario has nothing to tick
        if not self.outcomes and not self.is_running() and (
                n < 2 or self.figures_table.placeholder in (ONE_SCENARIO_TEXT, TICK_TEXT)):
            self._say_empty(ONE_SCENARIO_TEXT if total < 2 else TICK_TEXT if n < 2 else PRESS_TEXT)
        self.check_current()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.check_current()
        # First visit: compare what is ticked rather than show empty charts.
        if not self.outcomes and not self.is_running() and len(self.selected()) >= 2:
            self.run()

    # ---- protocol ------------------------------------------------------------------------------
    def charts(self) -> dict[str, PlotPanel]:
        return {"capacity_p50": self.capacity_chart, "prob_meet_demand": self.probability_chart,
                "installed_p50": self.installed_chart}

    def tables(self) -> dict[str, tuple[list[str], list[list]]]:
        return {"key_figures": self.figure_rows(for_file=True)} if self.outcomes else {}

    def compute_now(self, progress=None, should_stop=None) -> None:
        self.runner.cancel(emit=False)
        request = self._request()
        if request is None:
            self.compute_error = self.banner.error_text() or None   # (no model preset: export says so)
            return
        try:
            results = compare_forecasts(request, progress=progress, should_stop=should_stop)
        except UserError as exc:
            self._on_failed(str(exc))
            self.compute_error = str(exc)   # export and report say so (gui.export_all.not_computed)
            return
        self._show(results)
        # a scenario that could not be computed is marked in its column; only none computed fails
        self.compute_error = None if _computed(results) else _not_computed_text(results)

    def scenario_state(self) -> dict:
        return {"selected": self.selected()}

    def apply_scenario_state(self, state: dict) -> None:
        if isinstance(state, dict) and isinstance(state.get("selected"), list):
            self.set_selected(state["selected"])

    def shutdown(self) -> None:
        self.runner.cancel(emit=False)
        if self.undo_stack is not None:
            self._unfollow_stack()

    # ---- running -------------------------------------------------------------------------------
    def baseline(self) -> str | None:
        return self.store.baseline_name() if hasattr(self.store, "baseline_name") else None

    def _request(self) -> CompareRequest | None:
        if len(self.compared_names()) < 2:   # (no "Tick…" with one scenario: nothing to tick)
            self.banner.show_info((ONE_SCENARIO_TEXT if self.scenario_list.count() < 2 else TICK_TEXT) + ".")
            return None
        if not self.store.models():   # said once, not each scenario's stored ids "is not a model preset"
            self._on_failed(NO_MODELS_HINT, whole=True)
            return None
        chips = self.store.chips()
        style.register_chips(chips)
        self._chip_names = {c.id: style.chip_display_name(c) for c in chips}
        request, _problems = self._build_request()   # (each is in the request, marked NotComputed)
        if not self._note_unsaved() and self.banner.kind:
            self.banner.dismiss()
        self._running_request = request
        base = self.baseline()
        described = {name: changes_and_keys(self.store, name, base, self._chip_names)
                     for name, _ in (request.items if request is not None else ())}
        # first, where the elided cell shows it (at the end it was cut off in the window)
        self._running_changes = {name: "".join(f"NOTE: {n}; " for n in self._unreached(keys, request, name)) + text
                                 for name, (text, keys) in described.items()}
        return request

    def _build_request(self) -> tuple[CompareRequest | None, list[str]]:
        """(the request for the compared scenarios as saved now, the scenarios that can't run)."""
        names = self.compared_names()
        if len(names) < 2:
            return None, []
        orders = tuple(self.store.orders())
        chips = {c.id: c for c in self.store.chips()}
        models = {m.id: m for m in self.store.models()}
        items, problems = [], []
        for name in names:
            try:
                params = {k: v for k, v in self.store.scenario(name)["params"].items() if k != "ui"}
                params["name"] = name
                items.append((name, ForecastRequest(orders, chips, models, scenario_from_dict(params),
                                                    with_shares=False)))
            except (UserError, ValidationError) as exc:   # its column says why (NotComputed)
                problems.append(f"{name}: {exc}")
                items.append((name, NotComputed(str(exc))))
        return (CompareRequest(tuple(items)) if items else None), problems

    def run(self) -> int | None:
        request = self._request()
        if request is None:
            return None
        if not self.outcomes:   # the first run: say so on the empty charts, not bare 0-1 axes
            self._say_empty("Comparing scenarios…")
        return self.runner.start(compare_forecasts, request)

    def cancel(self) -> None:
        self.runner.cancel()

    def is_running(self) -> bool:
        return self.runner.is_running()

    def _on_progress(self, fraction, message):
        self.progress_bar.setValue(int(round(fraction * 100)))
        # one line in the bar, elided to its width (44 characters wrapped onto a second line and was
        # cut in a 195-px bar at 1280); the whole text in its tooltip
        bar = self.progress_bar
        metrics = QFontMetrics(bar.font())
        room_px = bar.contentsRect().width() - metrics.horizontalAdvance(" 100%") - PROGRESS_PADDING_PX
        short = message if len(message) <= PROGRESS_CHARS else message[:PROGRESS_CHARS - 1].rstrip() + "…"
        short = metrics.elidedText(short, Qt.TextElideMode.ElideRight, max(room_px, 0))
        self.progress_bar.setFormat(f"{short.rstrip()} %p%" if short else "%p%")
        self.progress_bar.setToolTip(message)

    def _on_cancelled(self):
        if not self.outcomes:
            self._say_empty("Comparison cancelled: press Compare")
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("Cancelled — showing the previous comparison")

    def _on_failed(self, message, whole: bool = False):
        """`whole`: the message is a sentence of its own (the banner shows it as it is)."""
        if not self.outcomes:
            self._say_empty("Comparison failed: see the message above")
        self.progress_bar.setFormat("Failed")
        self.banner.show_error(message if whole else f"The comparison could not run: {message}")
        self.status_message.emit(f"Compare failed: {message}")

    # ---- drawing -------------------------------------------------------------------------------
    def _say_empty(self, text: str) -> None:
        """`text` over the empty figures table and charts ("" takes it away)."""
        self.figures_table.set_placeholder(text)
        for chart in self.charts().values():
            chart.set_notice(text)

    def chip_name(self, chip_id: str) -> str:
        return self._chip_names.get(chip_id, chip_id)

    def figure_rows(self, for_file: bool = False) -> tuple[list[str], list[list]]:
        """Key figures per scenario; after each scenario but the baseline, its difference from it
        (numbers: value - baseline; dates: days later (+) or earlier (-)), and a first row with
        the changes that define it. A difference Monte Carlo noise may explain is marked (MARKS,
        said in a last row). `for_file`: numbers to 3 significant figures (the CSV carried
        "61652.59624" chips; the window shows whole numbers), probabilities as the window has them,
        and differences of the unrounded values rounded at the coarser cell's place (shown_difference:
        a difference may then differ from the two cells' own by one unit of that place)."""
        names = [name for name, _ in self.results]
        base = self.baseline()
        base_i = names.index(base) if base in names else None
        results = [o.result if not isinstance(o, NotComputed) else None for _, o in self.results]
        unit = self.compared_unit()   # figures in unit chips in one unit (a 25 ms TPOT's 910B2 is a smaller chip)
        per = [dict(key_figures_in_unit(key_figures(r, self._chip_names), r, i, unit, self._chip_names))
               if r is not None else {} for i, r in enumerate(results)]
        noise = [_noise_sources(r) if r is not None else {} for r in results]
        labels = list(dict.fromkeys(label for figures in per for label in figures))
        headers = ["Figure"]
        for i, name in enumerate(names):
            headers.append(f"{name} (baseline)" if i == base_i else name)
            if base_i is not None and i != base_i:
                headers.append(f"{name} − baseline")

        def row_of(label: str, cell, difference=lambda i: "") -> list:
            row = [label]
            for i in range(len(names)):
                row.append(cell(i))
                if base_i is not None and i != base_i:
                    row.append(difference(i))
            return row

        rows = [row_of("Changes from the baseline", self._changes_text)]
        if any(r is None for r in results):
            rows.append(row_of("Could not be computed", lambda i: self.results[i][1].why if results[i] is None else ""))
        used: set[str] = set()
        for label in labels:
            def value(i, label=label):
                return "not computed" if results[i] is None else _file_value(per[i].get(label, ""), for_file)

            def difference(i, label=label):
                if base_i is None or results[i] is None or results[base_i] is None:
                    return ""
                if other_months(results[i], results[base_i], label):   # of other months: no difference
                    return OTHER_MONTHS
                without = next((names[j] for j in (i, base_i) if no_demand(results[j])), None)
                if (words := no_demand_difference(label, without)):
                    return words
                # from the unrounded values at the file's 3 figures, 0 where the cells read the same
                # (2280000 and 2280000 differed by "-496"; 13200000 - 2660000 read 10540000, not 10600000)
                diff = _shown_difference(per[i].get(label, ""), per[base_i].get(label, ""), value(i), value(base_i),
                                         3 if for_file else None)
                mark = _noise_mark(noise[i].get(label), noise[base_i].get(label), diff,
                                   _runs_differ(results[i], results[base_i]))
                if not mark:
                    return diff
                used.add(mark)
                return f"{diff if for_file else figure_text(diff)} {mark}"
            rows.append(row_of(label, value, difference))
        if unit is not None and unit.converted:   # each one's own unit, which its Forecast view counts in
            def own(i, unit_chip=False):
                r = results[i]
                if r is None or unit_chip:
                    return "" if r is None else self.chip_name(r.unit_chip_id)
                rate = unit_rating(r)   # NaN: its unit chip serves nothing under its targets
                if not np.isfinite(rate):
                    return "cannot serve"
                return rate_figure(rate) if for_file else rate   # the window writes it as rate_text does

            def own_difference(i):
                if base_i is None or results[i] is None or results[base_i] is None:
                    return ""
                diff = rating_difference(unit_rating(results[i]), unit_rating(results[base_i]))
                return diff if np.isfinite(diff) else ""
            if len({r.unit_chip_id for r in results if r is not None}) > 1:
                rows.append(row_of(OWN_UNIT_CHIP_LABEL, lambda i: own(i, True)))
            rows.append(row_of(OWN_RATING_LABEL, own, own_difference))
        if results:
            def runs(i):
                r = results[i]
                return "" if r is None else f"{r.trials:,} trials, seed {r.scenario.seed}"

            def runs_differ(i):
                if base_i is None or results[i] is None or results[base_i] is None:
                    return ""
                return _runs_differ(results[i], results[base_i])
            rows.append(row_of("Monte Carlo runs", runs, runs_differ))
        for mark in MARKS:
            if mark in used:
                rows.append(row_of(f"{mark} {MARK_WORDS[mark][0]}", lambda i, m=mark: MARK_WORDS[m][1] if i == 0 else ""))
        return headers, rows

    def compared_unit(self):
        """The unit capacity, demand and shortfall are compared in (engine.compare_units): the
        baseline's unit chip at its rating; None when nothing was computed."""
        names = [name for name, _ in self.results]
        results = [None if isinstance(o, NotComputed) else o.result for _, o in self.results]
        return common_unit(results, names.index(self.baseline()) if self.baseline() in names else None)

    @staticmethod
    def _unreached(keys: tuple, request, name: str) -> tuple[str, ...]:
        """A vendor change of `name`'s that moves none of its figures, said beside its changes:
        each order it would supply has a delivery risk of its own (QA s40: "Huawei delivers half"
        read "70% -> 50%" beside 0 chips' difference in every figure)."""
        item = dict(request.items).get(name) if request is not None else None
        scenario = getattr(item, "scenario", None)
        if not keys or scenario is None:
            return ()
        makers = {cid: c.vendor for cid, c in dict(item.chips).items() if getattr(c, "vendor", "")}
        return unreached_vendor_notes(keys, item.orders, scenario, makers)

    def _changes_text(self, i: int) -> str:
        """Column i's changes from the baseline as its run used them (read when it ran)."""
        name = self.results[i][0]
        if name in self._shown_changes:
            return self._shown_changes[name]
        return changes_text(self.store, name, self.baseline(), self._chip_names)

    def _set_results(self, results: list) -> None:
        self.results = list(results)
        self.outcomes = _computed(self.results)

    def _show(self, results: list) -> None:
        if not _computed(results):   # nothing to compare: the previous comparison stays
            self._on_failed(_not_computed_text(results))
            return
        self._say_empty("")
        self._set_results(results)
        self._shown_request = self._running_request
        self._shown_changes = self._running_changes
        self.progress_bar.setValue(100)
        missing = _not_computed_text(results)
        if missing:
            self.banner.show_warning(f"Not computed, marked in its column: {missing}")
        elif self.banner.kind == "warning" and self.banner.text().startswith("Not computed"):
            self.banner.dismiss()
        self._draw()
        self.status_message.emit(f"Compared {len(self.outcomes)} scenarios")

    def _draw(self) -> None:
        outcomes = self.outcomes
        self.progress_bar.setFormat(self._done_text())
        headers, rows = self.figure_rows()
        t = self.figures_table
        t.clear()
        t.setColumnCount(len(headers))
        t.setRowCount(len(rows))
        t.setHorizontalHeaderLabels([_header_lines(h) for h in headers])
        for k, header in enumerate(headers):
            t.horizontalHeaderItem(k).setToolTip(header)
        for i, row in enumerate(rows):
            for k, value in enumerate(row):
                # a figure's label elided ("Installed P50 at horizon end, <a 200-character chip name>"
                # held the other columns off the window); the tooltip has it in full
                text = figure_text(value)
                if k and row[0] == OWN_RATING_LABEL and isinstance(value, (int, float)):
                    text = rate_text(value)   # the unit's digits ("at 260.7 output tokens/s" over "261")
                item = QTableWidgetItem(elide_name(text, ROW_LABEL_CHARS) if k == 0 else text)
                item.setToolTip(f"{headers[k]}: {text}")  # cells narrower than their text
                if k and (isinstance(value, (int, float)) or str(value).endswith(MARKS)):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(i, k, item)
        t.fit_columns()

        # one unit for every scenario: the baseline's unit chip at its rating (a what-if whose TPOT
        # target slowed that chip counted its capacity in smaller chips and showed it as more)
        common = self.compared_unit()
        at = {name: k for k, (name, _) in enumerate(self.results)}
        unit = common.text(self._chip_names) if common is not None else "chips"
        wanted = set()
        cap_values, inst_values, demands = [], [], []
        caps = []
        all_names = [s["name"] for s in self.store.scenarios()]
        base = self.baseline()
        scaled = common.scaled if common is not None else (lambda _k, values: values)
        for i, (name, o) in enumerate(outcomes):
            r = o.result
            capacity, demand = scaled(at[name], r.serving_capacity_unit_chips.p50), scaled(at[name], r.demand_unit_chips)
            # the same whichever others are ticked, and never one a ticked scenario has
            colour = style.scenario_color(name, all_names, base, shown=[n for n, _ in outcomes])
            x = to_timestamps(r.months)
            # a line equal to one drawn is not drawn again (converted, a TPOT what-if's demand is the baseline's)
            demand_same = i > 0 and any(
                r.months == p.result.months and (r.scenario.demand == p.result.scenario.demand or (
                    common is not None and common.converted and np.allclose(demand, demands[k], rtol=1e-9, atol=0)))
                for k, (_, p) in enumerate(outcomes[:i]))
            demands.append(demand)
            self.capacity_chart.set_series(f"{name}: capacity P50", x, capacity, color=colour, symbol=None)
            wanted.add(f"{name}: capacity P50")
            if not demand_same:
                label = "Peak demand" if i == 0 else f"{name}: peak demand"
                self.capacity_chart.set_series(label, x, demand, color="#D55E00" if i == 0 else colour,
                                               symbol=None, dashed=True, width=1.5)
                wanted.add(label)
            self.probability_chart.set_series(name, x, r.prob_meet_demand * 100, color=colour, symbol=None)
            self.installed_chart.set_series(name, x, r.installed_total.p50, color=colour, symbol=None)
            cap_values.append(scaled(at[name], r.serving_capacity_unit_chips.p90))
            inst_values.append(r.installed_total.p50)
            caps.append(float(np.max(cap_values[-1], initial=0.0)))
        names = {name for name, _ in outcomes}
        for chart, keep in ((self.capacity_chart, wanted), (self.probability_chart, names),
                            (self.installed_chart, names)):
            for series in chart.series_names():
                if series not in keep:
                    chart.remove_series(series)
        self.capacity_chart.set_axis_labels(y_label="Capacity, demand", y_unit=unit)   # it carries both
        top = max(caps, default=0.0)
        demand_top = max((float(np.max(d, initial=0.0)) for d in demands), default=0.0)
        if top > 0 and demand_top > 4 * top:
            self.capacity_chart.plot_item.setYRange(0, 3 * top, padding=0.02)
            # zoomed in on capacity: the demand runs off the top, and the title says so (short: the
            # chart is a third of the width; "(zoomed: demand reaches 2,455,782)" was cut at 1280)
            self.capacity_chart.set_title("Capacity, demand (zoomed)")
            fit_left_axis(self.capacity_chart, [3 * top])
        else:
            self.capacity_chart.plot_item.enableAutoRange()
            self.capacity_chart.set_title("Capacity vs demand")
            fit_left_axis(self.capacity_chart, np.concatenate(cap_values + demands))
        fit_left_axis(self.installed_chart, np.concatenate(inst_values) if inst_values else [0])
        counts_from_zero(self.installed_chart, np.concatenate(inst_values) if inst_values else [0])
        percent_y_range(self.probability_chart)
        if max((float(np.max(v, initial=0.0)) for v in inst_values), default=0.0) <= 0:
            # every scenario's fleet is empty: bare 0-1 axes and zeros said nothing of why. The
            # 0-1 range only on a chart whose every line is zero: the capacity chart's demand is
            # not, and a 0-1 axis hid the demand line its legend lists
            for chart, highest in ((self.capacity_chart, demand_top), (self.installed_chart, 0.0)):
                if highest <= 0:
                    chart.plot_item.setYRange(0, 1, padding=0)
                chart.set_notice("No chips installed in any scenario: add orders in the Fleet view")
        self.check_current()


def _unnamed(item):
    """A compared scenario's inputs without its name (a rename changes no input)."""
    if isinstance(item, ForecastRequest):
        return replace(item, scenario=replace(item.scenario, name=""))
    return item
