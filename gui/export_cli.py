"""`fleetcast export [--scenario NAME] --out DIR`: what File > Export all writes, headless."""

from __future__ import annotations

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


def _application():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
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


def run(args, ctx) -> Output:
    if not args.out.strip():   # "" is the current folder to Path: 94 files written where the shell stood
        raise UserError("--out '': give the folder to write into")
    from engine.store.files import expand_user

    out = expand_user(args.out)   # '~nouser/d': one line, not a traceback
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file, not a folder")
    # Ctrl+C: every file is staged first and moved when all are whole (the moves hold it off)
    ctx.unsaved = f"nothing was written to {out}"
    store = ctx.store()
    if args.scenario is not None:
        store.scenario(args.scenario)  # unknown name: UserError before Qt starts
    app = _application()
    from gui.export_all import (build_offscreen_panels, dispose_offscreen_panels, export_all, not_computed,
                                 not_computed_text)
    from gui.scenarios import baseline_scenario, ensure_default_scenario

    name = args.scenario
    if name is None:  # the baseline, never quietly the scenario last opened in the app
        if not getattr(store, "read_only", False):
            ensure_default_scenario(store)
        name = baseline_scenario(store)
    panels = build_offscreen_panels(store, name)
    try:
        from engine.commands import terminal_progress

        with terminal_progress(lambda fraction, message="": f"{fraction * 100:3.0f}% {message}") as progress:   # every view computed first: minutes on a big fleet
            written = export_all(panels, out, scenario=name, force=args.force, partial=args.partial,
                                 progress=progress)
        ctx.saved = f"{len(written)} files were written to {out}"
        left_out = not_computed(panels)
    finally:
        dispose_offscreen_panels(panels, app)
    files = [str(p) for p in written]
    rows = [{"file": f, "kind": Path(f).suffix.lstrip(".")} for f in files]
    missing = "".join(f"; {t} (its files are left out)" for t in not_computed_text(left_out))
    return Output(data={"scenario": name, "out": str(out), "files": files, "not_computed": left_out}, rows=rows,
                  text=f"scenario '{name}'" + ("" if args.scenario else " (the baseline; choose another with --scenario)")
                  + f": wrote {len(files)} files to {out}{missing}")
