"""`fleetcast export [--scenario NAME] --out DIR`: what File > Export all writes, headless."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from engine.cli import add_command
from engine.commands import Output
from engine.errors import UserError


def register(subparsers) -> None:
    p = add_command(subparsers, "export", "render every chart of a scenario offscreen to PNG and SVG, and "
                                          "write the data behind each chart and every results table as CSV")
    p.add_argument("--scenario", metavar="NAME",
                   help="a saved scenario (default: the database's baseline scenario; the name used is printed)")
    p.add_argument("--out", metavar="DIR", required=True, help="folder to write into (created if missing)")
    p.add_argument("--force", action="store_true", help="replace files of the same names already in DIR")
    p.add_argument("--partial", action="store_true",
                   help="write the other files even if a part (e.g. the forecast) cannot be computed, leaving its "
                        "files out (default: refuse, naming the part and why)")
    p.set_defaults(handler=run)


def load_qt(command: str) -> None:
    """Import Qt as `export` and `report` draw with it (offscreen); a system library it links
    (libEGL, libGL, ...) missing or broken is one line naming it, not a traceback."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    try:
        import PySide6.QtGui  # noqa: F401  (QtGui and QtWidgets load the system libraries)
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as exc:
        from gui.syslibs import headless_qt_message

        raise UserError(headless_qt_message(str(exc), command)) from None


def _application(command: str = "export"):
    load_qt(command)
    from PySide6.QtWidgets import QApplication

    from gui.settings import APP, ORG

    from PySide6.QtCore import qInstallMessageHandler

    def quiet(mode, context, message, previous=None):
        if "propagateSizeHints" not in message:  # offscreen has no window manager: expected
            import sys

            print(message, file=sys.stderr)

    qInstallMessageHandler(quiet)
    app = QApplication.instance()
    if app is None:
        app = QApplication(["fleetcast-export"])
        app.setOrganizationName(ORG)
        app.setApplicationName(APP)
    return app


# The views that show one saved model and chip: {params["ui"] key: its tab's name}
CHOICE_VIEWS = {"training": "Training", "inference": "Inference"}
CHOICES = (("model_id", "model_combo", "model", "not among the model presets"),
           ("chip_id", "chip_combo", "chip", "not in the catalog"))


def missing_choice_warnings(store, scenario: str | None, panels) -> list[str]:
    """One line per model or chip a scenario's Training or Inference view names (saved, or its
    default) that the store no longer has, with what the view shows instead: the files and the
    report hold that one's figures (they were written for another model without a word)."""
    from engine.errors import UserError
    from engine.studies import ServingStudy, TrainingStudy

    studies = {"training": TrainingStudy, "inference": ServingStudy}
    params = store.scenario(scenario)["params"] if scenario else {}
    ui = params.get("ui") if isinstance(params.get("ui"), dict) else {}
    held = {"model_id": {m.id for m in store.models()}, "chip_id": {c["id"] for c in store.chip_rows()}}
    found: dict[tuple, list[str]] = {}   # (what, saved id, where it is not, shown) -> the views
    for view, title in CHOICE_VIEWS.items():
        panel = panels.get(view)
        study_cls = studies[view]
        state = ui.get(view) if isinstance(ui.get(view), dict) else {}
        try:
            study = study_cls.from_dict(state)
        except UserError:   # a newer version's inputs: the view shows its defaults (and says so)
            study = study_cls()
        for key, combo_name, what, where in CHOICES:
            saved = getattr(study, key)
            combo = getattr(panel, combo_name, None)
            if saved in held[key] or combo is None or not combo.currentText():
                continue
            found.setdefault((what, saved, where, combo.currentText()), []).append(title)
    out = []
    for (what, saved, where, shown), views in found.items():
        one = len(views) == 1
        out.append(f"scenario '{scenario}': its {' and '.join(views)} view{'' if one else 's'} "
                   f"name{'s' if one else ''} {what} '{saved}', which is {where} (deleted?): "
                   f"{'its' if one else 'their'} figures are for {shown} instead")
    return out


def say_warnings(warnings: list[str]) -> None:
    """Each warning on its own stderr line, before the work starts (stdout keeps the answer)."""
    import sys

    for line in warnings:
        print(f"fleetcast: warning: {line}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def interrupts_between_charts():
    """Ctrl+C and SIGTERM while a headless command draws charts: noted, the work stopped at the
    next chart or step that asks (`requested()`), and raised (KeyboardInterrupt, Terminated: one
    line, exit 130 or 143) only when the block ends, after the command has put its panels away
    (engine.cli.SignalsDeferred). Raised where Qt was drawing, Ctrl+C crashed the export (exit
    139) or printed a traceback from pyqtgraph; SIGTERM ended it without a word, leaving staged
    files behind. Enter it before Qt starts: a signal while Qt builds the panels is held too."""
    from engine.cli import SignalsDeferred
    from gui import export as export_mod

    with SignalsDeferred() as signals, export_mod.checked_before_each_chart(signals.check):
        yield signals


def run(args, ctx) -> Output:
    if not args.out.strip():   # "" is the current folder to Path: 94 files written where the shell stood
        raise UserError("--out '': give the folder to write into")
    from engine.store.files import expand_user

    out = expand_user(args.out)   # '~nouser/d': one line, not a traceback
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder")
    load_qt("export")   # gui.export_all imports pyqtgraph, and so Qt
    from gui.export_all import check_targets

    # files of the names it writes: refused now, as `report --out` does, not after the panels were
    # built and every view computed (14-26 s on the story), and before the database is opened
    check_targets(out, force=args.force)
    # Ctrl+C: every file is staged first and moved when all are whole (the moves hold it off)
    ctx.unsaved = f"nothing was written to {out}"
    store = ctx.store()
    if args.scenario is not None:
        store.scenario(args.scenario)  # unknown name: UserError before Qt starts
    with interrupts_between_charts() as signals:
        written, warnings, left_out, name = _export(args, ctx, store, out, signals)
    from gui.export_all import not_computed_text

    files = [str(p) for p in written]
    rows = [{"file": f, "kind": Path(f).suffix.lstrip(".")} for f in files]
    missing = "".join(f"; {t} (its files are left out)" for t in not_computed_text(left_out))
    removed = [str(p) for p in getattr(written, "removed", [])]
    if removed:   # (--force) an earlier export's files of those views would have passed for this one's
        missing += f"; removed {len(removed)} files an earlier export wrote for them"
    return Output(data={"scenario": name, "out": str(out), "files": files, "not_computed": left_out,
                        "removed": removed, "warnings": warnings}, rows=rows,
                  text=f"scenario '{name}'" + ("" if args.scenario else " (the baseline; choose another with --scenario)")
                  + f": wrote {len(files)} files to {out}{missing}")


def _export(args, ctx, store, out: Path, signals):
    """Build the panels, export them, put them away; (written, warnings, left out, scenario)."""
    app = _application()
    from gui.export_all import (ExportStopped, build_offscreen_panels, dispose_offscreen_panels, export_all,
                                 not_computed)
    from gui.scenarios import baseline_scenario

    name = args.scenario
    if name is None:  # the baseline, never quietly the scenario last opened in the app
        # never written into the database by a command that only reads it: with none saved (the
        # last one deleted) it had saved "Story default" (QA s37)
        if not store.scenarios():
            raise UserError("no scenario is saved in this database: open it in the window once (it starts "
                            "with 'Story default'), or name one with --scenario after saving it")
        name = baseline_scenario(store)
    panels = build_offscreen_panels(store, name, should_stop=signals.requested)
    try:
        warnings = missing_choice_warnings(store, name, panels)
        say_warnings(warnings)
        from engine.commands import terminal_progress

        with terminal_progress(lambda fraction, message="": f"{fraction * 100:3.0f}% {message}") as progress:   # every view computed first: minutes on a big fleet
            try:
                written = export_all(panels, out, scenario=name, force=args.force, partial=args.partial,
                                     progress=progress, should_stop=signals.requested)
            except ExportStopped as exc:   # Ctrl+C or SIGTERM while the files were staged
                ctx.unsaved = (f"0 of {exc.planned} files written to {out}; the export stopped before moving any "
                               "into place")
                raise
        ctx.saved = f"{len(written)} files were written to {out}"
        left_out = not_computed(panels)
    finally:
        dispose_offscreen_panels(panels, app)
    return written, warnings, left_out, name
