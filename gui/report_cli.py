"""`fleetcast report [--scenario NAME] --out FILE.pdf [--force]`: the PDF report, headless."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

from engine.cli import add_command
from engine.commands import Output
from engine.errors import UserError


def register(subparsers) -> None:
    p = add_command(subparsers, "report", "write a PDF report of a scenario: key answers, assumptions, every "
                                          "chart and the accuracy statement")
    p.add_argument("--scenario", metavar="NAME",
                   help="a saved scenario (default: the database's baseline scenario)")
    p.add_argument("--out", metavar="FILE.pdf", required=True, help="the PDF to write")
    p.add_argument("--force", action="store_true", help="overwrite FILE.pdf if it exists")
    p.add_argument("--partial", action="store_true",
                   help="write the report even if a part (e.g. the forecast) cannot be computed; it says so first "
                        "(default: refuse, naming the part and why)")
    p.set_defaults(handler=run)


def run(args, ctx) -> Output:
    from gui.report import refuse_existing

    if not args.out.strip():
        raise UserError("--out '': give the PDF to write (a name ending in .pdf)")
    out = Path(args.out).expanduser()
    if out.suffix.lower() != ".pdf":
        raise UserError(f"--out {out}: the report is a PDF; give a name ending in .pdf")
    refuse_existing(out, args.force)  # before any work, and before Qt starts
    ctx.unsaved = f"no report was written to {out}"   # Ctrl+C: the PDF is moved into place only whole
    store = ctx.store()
    if args.scenario is not None:
        store.scenario(args.scenario)  # unknown name: UserError naming the saved ones
    from gui.export_cli import interrupts_between_charts

    # Ctrl+C and SIGTERM stop it at the next chart (or view computed) with its temporary files
    # removed, one line and exit 130 or 143; once the PDF is being printed, it is finished first
    with _own_temporary_folder(), interrupts_between_charts() as signals:
        return _write(args, ctx, store, out, signals)


@contextlib.contextmanager
def _own_temporary_folder():
    """The report's temporary folders (its chart PNGs) made in a folder of this run's own, removed
    at the end whatever happened: SIGTERM left /tmp/fleetcast-report-XXXX with the PNGs."""
    own_tmp = Path(tempfile.mkdtemp(prefix="fleetcast-report-run-"))
    previous_tmp = tempfile.tempdir
    tempfile.tempdir = str(own_tmp)
    try:
        yield
    finally:
        tempfile.tempdir = previous_tmp
        shutil.rmtree(own_tmp, ignore_errors=True)


def _write(args, ctx, store, out: Path, signals) -> Output:
    from gui.export_cli import _application, missing_choice_warnings, say_warnings

    app = _application("report")
    from gui.export_all import build_offscreen_panels, dispose_offscreen_panels
    from gui.report import write_report
    from gui.scenarios import baseline_scenario

    name = args.scenario
    if name is None:  # the baseline, never quietly the scenario last opened in the app (as export)
        # never written into the database by a command that only reads it: with none saved (the
        # last one deleted) it had saved "Story default" (QA s37)
        if not store.scenarios():
            raise UserError("no scenario is saved in this database: open it in the window once (it starts "
                            "with 'Story default'), or name one with --scenario after saving it")
        name = baseline_scenario(store)
    # what the store holds from here on is what the whole report must read (an order imported
    # while the views were built reached the orders table but not the forecast; QA)
    from gui.report import store_version_of

    version = store_version_of(store)
    params = store.scenario(name)["params"] if name else {}
    panels = build_offscreen_panels(store, name, should_stop=signals.requested)
    try:
        # (the PDF does not say it yet: gui.report's assumptions take no such lines)
        warnings = missing_choice_warnings(store, name, panels)
        say_warnings(warnings)
        from engine.commands import terminal_progress

        with terminal_progress(lambda fraction, message="": f"{fraction * 100:3.0f}% {message}") as progress:   # every view computed first: minutes on a big fleet
            result = write_report(store, panels, name or "", params, out, force=args.force, partial=args.partial,
                                  progress=progress, should_stop=signals.requested, store_version=version)
        ctx.saved = f"{result.path} was written"
    finally:
        dispose_offscreen_panels(panels, app)
    from gui.export_all import not_computed_text

    data = {"scenario": name, "out": str(result.path), "pages": result.pages, "charts": result.charts,
            "sections": result.sections, "not_computed": result.not_computed, "warnings": warnings}
    row = {"scenario": name, "out": str(result.path), "pages": result.pages, "charts": result.charts}
    missing = "".join(f"; {t} (said first in its key answers)" for t in not_computed_text(result.not_computed))
    # which scenario, as `export` says it: with none named it is the baseline, which Make baseline moves
    return Output(data=data, rows=[row], text=f"scenario '{name}'"
                  + ("" if args.scenario else " (the baseline; choose another with --scenario)")
                  + f": wrote {result.path} ({result.pages} pages, {result.charts} charts)" + missing)
