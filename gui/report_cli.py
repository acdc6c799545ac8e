"""`fleetcast report [--scenario NAME] --out FILE.pdf [--force]`: the PDF report, headless."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
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
    with _cleaned_up_on_sigterm(ctx, out):
        return _write(args, ctx, store, out)


@contextlib.contextmanager
def _cleaned_up_on_sigterm(ctx, out: Path):
    """SIGTERM while the report is made: its temporary files removed, one line, exit 143. It left
    /tmp/fleetcast-report-XXXX with the chart PNGs. An exception raised while Qt draws a chart
    (how Ctrl+C stops other commands) crashed the process, so the handler cleans up and exits:
    the report's temporary folders are made in a folder of this run's own, and the half-written
    PDF is the `.NAME.XXXX.partial` beside `out` that was not there before."""
    from engine.cli import TERMINATED_EXIT

    own_tmp = Path(tempfile.mkdtemp(prefix="fleetcast-report-run-"))
    partials = f".{out.name}.*.partial"
    before = set(out.parent.glob(partials))

    def clean_up_and_exit(signum, frame):
        shutil.rmtree(own_tmp, ignore_errors=True)
        for partial in set(out.parent.glob(partials)) - before:
            with contextlib.suppress(OSError):
                partial.unlink()
        with contextlib.suppress(Exception):
            print("fleetcast: terminated" + ctx.interrupted_text()[len("interrupted"):], file=sys.stderr, flush=True)
        os._exit(TERMINATED_EXIT)

    previous_tmp = tempfile.tempdir
    tempfile.tempdir = str(own_tmp)
    try:
        previous = signal.signal(signal.SIGTERM, clean_up_and_exit)
    except ValueError:   # not the main thread
        previous = None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        tempfile.tempdir = previous_tmp
        shutil.rmtree(own_tmp, ignore_errors=True)


def _write(args, ctx, store, out: Path) -> Output:
    from gui.export_cli import _application, missing_choice_warnings, say_warnings

    app = _application()
    from gui.export_all import build_offscreen_panels, dispose_offscreen_panels
    from gui.report import write_report
    from gui.scenarios import baseline_scenario, ensure_default_scenario

    name = args.scenario
    if name is None:  # the baseline, never quietly the scenario last opened in the app (as export)
        if not getattr(store, "read_only", False):
            ensure_default_scenario(store)
        name = baseline_scenario(store)
    params = store.scenario(name)["params"] if name else {}
    panels = build_offscreen_panels(store, name)
    try:
        # (the PDF does not say it yet: gui.report's assumptions take no such lines)
        warnings = missing_choice_warnings(store, name, panels)
        say_warnings(warnings)
        from engine.commands import terminal_progress

        with terminal_progress(lambda fraction, message="": f"{fraction * 100:3.0f}% {message}") as progress:   # every view computed first: minutes on a big fleet
            result = write_report(store, panels, name or "", params, out, force=args.force, partial=args.partial,
                                  progress=progress)
        ctx.saved = f"{result.path} was written"
    finally:
        dispose_offscreen_panels(panels, app)
    from gui.export_all import not_computed_text

    data = {"scenario": name, "out": str(result.path), "pages": result.pages, "charts": result.charts,
            "sections": result.sections, "not_computed": result.not_computed, "warnings": warnings}
    row = {"scenario": name, "out": str(result.path), "pages": result.pages, "charts": result.charts}
    missing = "".join(f"; {t} (said first in its key answers)" for t in not_computed_text(result.not_computed))
    return Output(data=data, rows=[row], text=f"wrote {result.path} ({result.pages} pages, {result.charts} charts)"
                  + missing)
