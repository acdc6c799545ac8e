"""File > Export all and `fleetcast export`: every chart as PNG + SVG + CSV, every table as CSV.

    panels = build_offscreen_panels(store, "Story default")   # or the window's own panels
    written = export_all(panels, "/tmp/out")                  # [Path, ...]

File names: `<panel>_<chart>.png|svg|csv` and `<panel>_<table>.csv` (panel keys as given).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import signal
import tempfile
from pathlib import Path
from typing import Mapping

from engine.errors import Cancelled, UserError
from gui import export as export_mod
from gui.panels import registry
from gui.widgets.plot_panel import chart_file_stem

log = logging.getLogger("fleetcast.export_all")

PNG_WIDTH_PX = 1600
OFFSCREEN_SIZE = (2200, 1400)  # each chart gets ~900 px: a 1600 px export keeps screen-like proportions

# (key, module, class) of every panel, in menu order: the window's registry.
PANEL_CLASSES = tuple((spec.key, spec.module, spec.class_name) for spec in registry.PANELS)


# Every chart and table Export all writes, by panel key, in the window's order: `<key>_<name>`.
# Known before any panel is built or computed, so an occupied folder is refused at once: the
# tables a view lists only once it has computed (the plan's orders, the forecast's monthly
# table) were found after 14-26 s of computing. A table here may be left out (a view that could
# not be computed, an inference comparison with no chip to compare); the test
# tests/gui/test_export_s27.py holds this list to the files an export of the story writes.
EXPORT_CHARTS: dict[str, tuple[str, ...]] = {
    "fleet": ("installed_chips",),
    "training": ("step-time", "memory", "layout-search", "scaling"),
    "inference": ("throughput-latency", "ttft", "chips-needed", "latency-vs-load", "tpot-vs-load",
                  "ttft-distribution", "kv-use"),
    "forecast": ("capacity_vs_demand", "installed_by_type", "shortfall_p50", "prob_meet_demand", "job_completion",
                 "uncertainty_shares", "tornado_prob_meet_demand", "tornado_shortfall_mean_unit_chips",
                 "tornado_job_completion_days"),
    "plan": ("plan_capacity", "plan_prob_meet", "cost_per_million_served_tokens", "cost_per_million_training_tokens"),
    "compare": ("capacity_p50", "prob_meet_demand", "installed_p50"),
}
EXPORT_TABLES: dict[str, tuple[str, ...]] = {
    "fleet": ("orders", "deliveries", "chips"),
    "training": ("figures", "top-layouts"),
    "inference": ("figures", "chip-comparison"),
    "forecast": ("monthly", "jobs", "key_figures"),
    "plan": ("orders", "chip_economics"),
    "compare": ("key_figures",),
}
CHART_FORMATS = ("png", "svg", "csv")


class WouldOverwrite(UserError):
    """Export all found files of the names it would write; nothing was written. `existing` lists them."""

    def __init__(self, existing: list[Path]):
        self.existing = list(existing)
        more = f" and {len(existing) - 1} other file(s)" if len(existing) > 1 else ""
        super().__init__(f"{existing[0]}: exists{more}; not overwritten (pass --force to replace them, "
                         "or choose an empty folder)")


class ExportStopped(Cancelled):
    """`should_stop` (or a chart's check, gui.export.checked_before_each_chart) stopped Export all
    while its files were staged: none of the `planned` files was written, the staged ones removed."""

    def __init__(self, planned: int):
        super().__init__(f"stopped before any of the {planned} files was written")
        self.planned = planned


WRITING_FILES = "Writing files…"   # compute_all's last message: the computing is done
# Export all's bar: computing the views, then writing (staging) the files took about as long
# (10-13 s on the story), and the bar sat full all that time
COMPUTE_SHARE = 0.5

UNSAVED_MARK = " (with unsaved changes)"   # as the PDF report's title says it
SAVE_FIRST = "save the scenario first; the saved one runs: "


def panel_context(panel, scenario: str | None, chart_key: str | None = None, *, unsaved: bool = False) -> dict:
    """What a panel's files show: the scenario, and the panel's model and workload (for
    `chart_key`, what that chart shows: a chart left from earlier inputs names those).
    `unsaved`: the window's inputs differ from the saved scenario's (see `marked_unsaved`)."""
    context = {"Scenario": scenario} if scenario else {}
    if chart_key is not None and hasattr(panel, "chart_export_context"):
        context.update(panel.chart_export_context(chart_key) or {})
    elif hasattr(panel, "export_context"):
        context.update(panel.export_context() or {})
    # a panel may say the window's one scenario is not what it shows (None): Compare shows several,
    # the Fleet none
    context = {k: v for k, v in context.items() if v is not None}
    return marked_unsaved(context) if unsaved else context


def marked_unsaved(context: Mapping[str, object]) -> dict:
    """`context` for figures computed from unsaved inputs: the scenario named "<name> (with unsaved
    changes)", and a command that runs a saved scenario (`--scenario`, or the forecast's, which
    runs the baseline without it) qualified, since it gives other numbers. Files named the saved
    scenario and its command under figures from edits nobody saved (8% where the command gave 94%)."""
    out = dict(context)
    name = out.get("Scenario")
    if name and not str(name).endswith(UNSAVED_MARK):
        out["Scenario"] = f"{name}{UNSAVED_MARK}"
    for key, value in out.items():
        if isinstance(value, str) and SAVE_FIRST not in value:
            start = value.find("fleetcast ")
            # (the Training and Inference lines give every input as a flag: they repeat what is shown)
            if start >= 0 and ("--scenario" in value[start:] or value.startswith("fleetcast forecast", start)):
                out[key] = value[:start] + SAVE_FIRST + value[start:]
    return out


AREA_NAMES = {"fleet": "Fleet", "training": "Training", "inference": "Inference", "forecast": "Forecast",
              "plan": "Plan", "compare": "Compare"}


def not_computed(panels: Mapping[str, object]) -> dict[str, str]:
    """{panel key: why} for each panel whose last `compute_now` failed (its `compute_error`)."""
    return {key: str(err) for key, panel in panels.items() if (err := getattr(panel, "compute_error", None))}


def not_computed_text(failed: Mapping[str, str]) -> list[str]:
    """One phrase per reason: "the Forecast, Plan and Compare could not be computed: why" (they
    share the forecast, so its error was said three times)."""
    by_reason: dict[str, list[str]] = {}
    for key, why in failed.items():
        by_reason.setdefault(why, []).append(AREA_NAMES.get(key, key.title()))
    out = []
    for why, names in by_reason.items():
        areas = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        out.append(f"the {areas} could not be computed: {why}")
    return out


def refuse_not_computed(failed: Mapping[str, str], what: str) -> None:
    """A report or an export with a part missing reads as complete (a forecast that failed left
    empty charts and a report without its P(meet)): refused, naming each part and why, unless
    the caller asked for the rest (`--partial`)."""
    if failed:
        parts = "; ".join(not_computed_text(failed))
        raise UserError(f"{parts}. Nothing was written; fix that, or pass --partial to write {what} without it")


def compute_all(panels: Mapping[str, object], *, progress=None, should_stop=None) -> None:
    """`compute_now` on every panel in turn, each given its slice of `progress(fraction, message)`
    ("Forecast: Simulating trials…", 0 to 1 over all of them) and `should_stop`, which is also asked
    between panels: Cancelled is raised as soon as it says True, and nothing is written after it.
    Export all and the report computed every view on the GUI thread with only a wait cursor
    (11-12 s on the story, a plan of 3 s included), with no progress and no way to stop."""
    report = progress or (lambda fraction, message="": None)
    stop = should_stop or (lambda: False)
    work = [(key, panel) for key, panel in panels.items() if hasattr(panel, "compute_now")]
    for i, (key, panel) in enumerate(work):
        if stop():
            raise Cancelled()
        area = AREA_NAMES.get(key, key.title())
        report(i / len(work), f"{area}: computing…")

        def part(fraction, message="", i=i, area=area):
            report((i + min(max(float(fraction), 0.0), 1.0)) / len(work), f"{area}: {message}" if message else area)

        if "progress" in inspect.signature(panel.compute_now).parameters:
            panel.compute_now(progress=part, should_stop=stop)
        else:
            panel.compute_now()
    if stop():
        raise Cancelled()
    report(1.0, WRITING_FILES)


def export_all(panels: Mapping[str, object], out_dir: str | os.PathLike, scenario: str | None = None, *,
               force: bool = False, partial: bool = False, unsaved: bool = False, progress=None,
               should_stop=None) -> list[Path]:
    """Compute every panel now and write its charts and tables into `out_dir` (created if needed).
    Every file names `scenario` and the panel's model and workload (CSV comment lines, a
    second title line in PNG and SVG); `unsaved`: the panels' inputs are not the saved
    scenario's, and the files say so (`marked_unsaved`).

    Every file name is worked out first: if any exists and `force` is False, WouldOverwrite is
    raised before anything is written. Each file is written to a temporary name in `out_dir` and
    moved into place, so no file is ever half-written and no temporary file is left behind.
    Raises UserError naming the folder when it can't be created or written, and naming the part
    when a panel could not be computed (`partial`: its files are left out, the rest written).
    `progress` and `should_stop`: see `compute_all`; `should_stop` is also asked before each file
    is staged (ExportStopped, a Cancelled naming how many files were planned: nothing was written,
    the staged files removed).
    """
    report = progress or (lambda fraction, message="": None)
    stop = should_stop or (lambda: False)
    out = Path(out_dir)
    check_targets(out, force=force, panels=panels)   # at once, before the long compute
    created = _missing_folders(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".fleetcast-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        _remove_empty(created)
        raise UserError(f"{out}: can't write there ({exc.strerror or exc})") from None
    try:
        return _compute_and_write(panels, out, scenario, force=force, partial=partial, unsaved=unsaved,
                                  report=report, stop=stop)
    except BaseException:
        # stopped, interrupted or failed before a file was moved into place: a folder this export
        # made stays behind only if something is in it (an empty `--out` folder read as an export)
        _remove_empty(created)
        raise


def _missing_folders(out: Path) -> list[Path]:
    """The folders `out.mkdir(parents=True)` would create, deepest first; a `..` or `.` step is
    none (`--out a/../b` makes `a` and `b`: the step `a/..` is not a folder to remove, and stopped
    there the clean-up left `a` behind, QA s33)."""
    missing = []
    path = out.absolute()
    while not path.exists() and path != path.parent:
        if path.name not in ("..", "."):
            missing.append(path)
        path = path.parent
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """rmdir each folder, deepest first, while it is empty (a non-empty one and its parents stay)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _compute_and_write(panels, out: Path, scenario, *, force, partial, unsaved, report, stop) -> list[Path]:
    compute_all(panels, progress=lambda fraction, message="": report(fraction * COMPUTE_SHARE, message),
                should_stop=stop)
    failed = not_computed(panels)
    if not partial:
        refuse_not_computed(failed, "the other files")
    plan: list[tuple[Path, object]] = []  # (target, writer taking a path)
    for panel_key, panel in panels.items():
        if panel_key in failed:   # (--partial) no empty charts or header-only tables for it
            continue
        context = panel_context(panel, scenario, unsaved=unsaved)
        for chart_key, chart in (panel.charts() if hasattr(panel, "charts") else {}).items():
            stem = out / chart_file_stem(panel_key, chart_key)
            chart_context = panel_context(panel, scenario, chart_key, unsaved=unsaved)
            chart_context = {"Chart": getattr(chart, "title", chart_key), **chart_context}   # (the Fleet: no scenario)
            # a chart still empty after its panel ran (Under load not simulated, no plan) keeps its
            # files, so a script finds every name, but they say why there are no numbers in them
            empty = chart.empty_reason() if hasattr(chart, "empty_reason") else ""
            if empty:
                chart_context = {**chart_context, "No data": empty}
            plan.append((stem.with_suffix(".png"), lambda p, c=chart, x=chart_context: _titled_png(c, p, x)))
            plan.append((stem.with_suffix(".svg"), lambda p, c=chart, x=chart_context: _titled_svg(c, p, x)))
            plan.append((stem.with_suffix(".csv"),
                         lambda p, c=chart, x=chart_context: export_mod.export_csv(*c.data_table(), p, context=x)))
        for table_key, (headers, rows) in (panel.tables() if hasattr(panel, "tables") else {}).items():
            plan.append((out / f"{panel_key}_{table_key}.csv",
                         lambda p, h=headers, r=rows, k=table_key, x=context:
                         export_mod.export_csv(h, r, p, context={"Table": k, **x} if x else {})))
    # again, now every name is known: a file that appeared while the views computed stays too
    _refuse_existing([path for path, _ in plan], out, force=force)
    # and the folder itself, which another export into it that was stopped meanwhile removes when
    # it made it and left it empty (QA s33: this one then failed "No such file or directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out}: can't write there ({exc.strerror or exc})") from None

    def staging(done: int) -> None:
        """Report the files staged so far, and stop there on Cancel (it was ignored while writing)."""
        report(COMPUTE_SHARE + (1.0 - COMPUTE_SHARE) * done / max(len(plan), 1), WRITING_FILES)
        if stop():
            raise Cancelled()

    # (--partial, --force) files an earlier export wrote for a view left out now: kept, they stood
    # beside the new files as this scenario's (54 forecast, plan and compare files naming 'Story
    # default' with the old numbers, QA s39). The user agreed to replace those names (check_targets
    # listed them); they are removed once the new files are in place, and said.
    stale = [p for p in planned_names(out, {k: panels[k] for k in failed}) if force and p.is_file() and not p.is_symlink()]
    written = Written(_write_all(plan, out, force=force, staging=staging))
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            written.removed.append(path)
    return written


class Written(list):
    """The files an export wrote; `removed`: those of an earlier export it removed (the views it
    left out)."""

    def __init__(self, paths=()):
        super().__init__(paths)
        self.removed: list[Path] = []


def _write_all(plan: list[tuple[Path, object]], out: Path, *, force: bool, staging=None) -> list[Path]:
    """Two phases, so a failure never leaves the folder a mix of two exports: every file is
    written to a temporary name and checked whole first (a full disk stops it there, with the
    folder as it was); only then is each moved onto its name. `staging(files staged so far)` is
    called before each file and once before the first move; what it raises (Cancelled) stops the
    export with the staged files removed and nothing written. The moves are not stopped: they
    take milliseconds, and stopped half-way they would leave two exports mixed."""
    staged: list[tuple[Path, Path]] = []   # (temporary, target)
    try:
        try:
            for path, writer in plan:
                if staging is not None:
                    staging(len(staged))
                staged.append((_stage(path, writer), path))
            if staging is not None:
                staging(len(staged))
        except Cancelled:   # the caller says how many files were not written (`fleetcast export`)
            raise ExportStopped(len(plan)) from None
        written: list[Path] = []
        with _interrupt_held():
            for tmp, path in staged:
                try:
                    _move(tmp, path, force=force)
                except OSError as exc:
                    done = f"{len(written)} of {len(staged)} files were replaced before it" if written else \
                        "nothing was written"
                    raise UserError(f"{path}: could not be moved into place ({exc.strerror or exc}); {done}") from None
                written.append(path)
        return written
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


@contextlib.contextmanager
def _interrupt_held():
    """Ctrl+C or SIGTERM during the block takes effect when it ends: stopped half-way, the moves
    would leave the folder a mix of two exports (SIGTERM, whose default ends the process at once,
    did). Only the main thread can catch signals; elsewhere a no-op. A signal ignored stays so."""
    caught: list[int] = []
    held: dict[int, object] = {}
    try:
        from engine.cli import ENDING_SIGNALS   # SIGTERM and SIGHUP (a closed terminal)

        for signum in (signal.SIGINT, *ENDING_SIGNALS):
            if signal.getsignal(signum) != signal.SIG_IGN:
                held[signum] = signal.signal(signum, lambda signum, frame: caught.append(signum))
    except ValueError:   # not the main thread
        pass
    try:
        yield
    finally:
        for signum, previous in held.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        if caught:
            # delivered again, now, to the handler that was there: KeyboardInterrupt (Python's
            # default), `fleetcast export`'s note (engine.cli.SignalsDeferred), or the default's end
            signal.raise_signal(caught[0])


def _stage(path: Path, writer) -> Path:
    """`writer(tmp)` into a temporary file next to `path`, checked whole; returns the temporary."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise UserError(f"{path}: could not write ({exc.strerror or exc}); nothing was written") from None
    tmp = Path(tmp_name)
    try:
        writer(tmp)   # PNG/SVG: checked whole and flushed by gui.export.staged_file; CSV by atomic_output
    except BaseException as exc:
        # whatever stopped it (Ctrl+C included): no temporary left behind (an empty hidden
        # .name.XXXX.tmp.csv stayed in the folder for good)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if not isinstance(exc, (OSError, ValueError, UserError)):
            raise
        reason = getattr(exc, "strerror", None) or exc
        raise UserError(f"{path}: could not write ({reason}); nothing was written") from None
    return tmp


def _move(tmp: Path, path: Path, *, force: bool) -> None:
    if force:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # no-clobber: a file that appeared since the check stays
    except FileExistsError:
        raise WouldOverwrite([path]) from None
    except OSError:
        if os.path.lexists(path):
            raise WouldOverwrite([path]) from None
        os.replace(tmp, path)


def _titled_png(chart, path: Path, context) -> Path:
    with export_mod.titled(chart, context):
        return export_mod.export_png(chart, path, width=PNG_WIDTH_PX)


def _titled_svg(chart, path: Path, context) -> Path:
    with export_mod.titled(chart, context):
        return export_mod.export_svg(chart, path)


def planned_names(out: str | os.PathLike, panels: Mapping[str, object] | None = None) -> list[Path]:
    """The files Export all may write into `out`, in the order it writes them, without building
    or computing anything (EXPORT_CHARTS, EXPORT_TABLES); with `panels`, also any chart or table
    they list now that those lack."""
    out = Path(out)
    keys = [spec.key for spec in registry.PANELS] if panels is None else list(panels)
    names: list[Path] = []
    for key in keys:
        panel = (panels or {}).get(key)
        charts = list(EXPORT_CHARTS.get(key, ()))
        charts += [c for c in (panel.charts() if hasattr(panel, "charts") else {}) if c not in charts]
        tables = list(EXPORT_TABLES.get(key, ()))
        tables += [t for t in (panel.tables() if hasattr(panel, "tables") else {}) if t not in tables]
        names += [out / f"{chart_file_stem(key, chart)}.{ext}" for chart in charts for ext in CHART_FORMATS]
        names += [out / f"{key}_{table}.csv" for table in tables]
    return names


def check_targets(out: str | os.PathLike, *, force: bool = False,
                  panels: Mapping[str, object] | None = None) -> None:
    """Refuse, before anything is built, computed or written, a folder that holds files of the
    names Export all writes (WouldOverwrite naming the first and how many; `force` lets them be
    replaced) or, even with `force`, something that is not a file under one of those names."""
    out = Path(out)
    if not out.is_dir():   # a new folder (a file there is refused by the caller, or at its mkdir)
        return
    _refuse_existing(planned_names(out, panels), out, force=force)


def _refuse_existing(names: list[Path], out: Path, *, force: bool) -> None:
    existing = [path for path in names if os.path.lexists(path)]
    if existing and not force:
        raise WouldOverwrite(existing)
    not_files = [path for path in existing if path.is_symlink() or not path.is_file()]
    if not_files:   # a folder of that name can never be replaced by a file: say so before writing
        raise UserError(f"{not_files[0]}: is not a file; nothing was written to {out}")


def build_offscreen_panels(store, scenario_name: str | None = None, *, should_stop=None) -> dict[str, object]:
    """Every analysis panel, with the scenario's inputs applied (default: the baseline,
    "Story default", never quietly the one used last in the app). Needs a QApplication. Raises
    UserError for an unknown scenario name. `should_stop()` is asked before each panel (building
    them took 2.5 s, and Ctrl+C waited for it): Cancelled, with the panels built so far put away."""
    from PySide6.QtGui import QUndoStack
    from PySide6.QtWidgets import QApplication

    from gui.app import configure_pyqtgraph
    from gui.scenarios import baseline_scenario, ensure_default_scenario

    configure_pyqtgraph()
    if scenario_name is not None:
        params = store.scenario(scenario_name)["params"]  # UserError names the saved ones
    else:
        if not getattr(store, "read_only", False):
            ensure_default_scenario(store)
        scenario_name = baseline_scenario(store)
        params = store.scenario(scenario_name)["params"] if scenario_name else None
    stack = QUndoStack()
    panels: dict[str, object] = {}
    ui = (params or {}).get("ui") or {}
    for spec in registry.PANELS:
        if should_stop is not None and should_stop():
            dispose_offscreen_panels(panels, QApplication.instance())
            raise Cancelled()
        key, cls = spec.key, spec.load()
        panel = cls(store, stack)
        panel._export_stack = stack  # the stack must outlive the panel
        panel.resize(*OFFSCREEN_SIZE)
        if hasattr(panel, "install_lag_provider") and params is not None:   # before its inputs are applied
            panel.install_lag_provider = lambda params=params: params.get("install_lag_days")
        if key == "forecast" and params is not None:
            panel.apply_scenario_state({**params, "name": scenario_name})
        elif key == "compare" and scenario_name is not None:
            # the scenario's own Compare ticks when it saved some, as the window shows them; else
            # every saved scenario (the seeded four: the first two left "Huawei delivers half" out)
            saved = (ui.get("compare") or {}).get("selected")
            names = [s["name"] for s in store.scenarios()]
            ticked = [n for n in saved if n in names] if isinstance(saved, list) else names
            panel.set_selected([scenario_name] + [n for n in ticked if n != scenario_name])
        elif key in ui and hasattr(panel, "apply_scenario_state"):
            panel.apply_scenario_state(ui[key])
        if hasattr(panel, "scenario_provider") and params is not None:
            panel.scenario_provider = lambda params=params: params
        # Lay the widgets out at a real size without a screen: charts export at this aspect.
        panel.setAttribute(__import__("PySide6.QtCore", fromlist=["Qt"]).Qt.WidgetAttribute.WA_DontShowOnScreen)
        panel.show()
        panels[key] = panel
    return panels


def dispose_offscreen_panels(panels: Mapping[str, object], app) -> None:
    """After a headless command: stop the panels' work, wait for workers, delete the widgets."""
    from PySide6.QtCore import QThreadPool

    shutdown_panels(panels)
    QThreadPool.globalInstance().waitForDone(5000)
    for panel in panels.values():
        panel.close()
        panel.deleteLater()
    app.processEvents()


def shutdown_panels(panels: Mapping[str, object]) -> None:
    for panel in panels.values():
        if hasattr(panel, "shutdown"):
            panel.shutdown()
        if hasattr(panel, "detach"):
            panel.detach()
