"""File > Export all and `fleetcast export`: every chart as PNG + SVG + CSV, every table as CSV.

    panels = build_offscreen_panels(store, "Story default")   # or the window's own panels
    written = export_all(panels, "/tmp/out")                  # [Path, ...]

File names: `<panel>_<chart>.png|svg|csv` and `<panel>_<table>.csv` (panel keys as given).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping

from engine.errors import UserError
from gui import export as export_mod
from gui.panels import registry

log = logging.getLogger("fleetcast.export_all")

PNG_WIDTH_PX = 1600
OFFSCREEN_SIZE = (2200, 1400)  # each chart gets ~900 px: a 1600 px export keeps screen-like proportions

# (key, module, class) of every panel, in menu order: the window's registry.
PANEL_CLASSES = tuple((spec.key, spec.module, spec.class_name) for spec in registry.PANELS)


def panel_context(panel, scenario: str | None) -> dict:
    """What a panel's files show: the scenario, and the panel's model and workload."""
    context = {"Scenario": scenario} if scenario else {}
    if hasattr(panel, "export_context"):
        context.update(panel.export_context() or {})
    return context


def export_all(panels: Mapping[str, object], out_dir: str | os.PathLike, scenario: str | None = None) -> list[Path]:
    """Compute every panel now and write its charts and tables into `out_dir` (created if needed).
    Every file names `scenario` and the panel's model and workload (CSV comment lines, a
    second title line in PNG and SVG).

    Raises UserError naming the folder when it can't be created or written.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".fleetcast-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"--out {out}: can't write there ({exc.strerror or exc})") from None
    written: list[Path] = []
    for panel_key, panel in panels.items():
        if hasattr(panel, "compute_now"):
            panel.compute_now()
        context = panel_context(panel, scenario)
        for chart_key, chart in (panel.charts() if hasattr(panel, "charts") else {}).items():
            stem = out / f"{panel_key}_{chart_key}"
            chart_context = {"Chart": getattr(chart, "title", chart_key), **context} if context else {}
            try:
                with export_mod.titled(chart, chart_context):
                    written.append(export_mod.export_png(chart, stem.with_suffix(".png"), width=PNG_WIDTH_PX))
                    written.append(export_mod.export_svg(chart, stem.with_suffix(".svg")))
                headers, rows = chart.data_table()
                written.append(export_mod.export_csv(headers, rows, stem.with_suffix(".csv"), context=chart_context))
            except OSError as exc:
                raise UserError(f"{stem}: could not write ({exc})") from None
        for table_key, (headers, rows) in (panel.tables() if hasattr(panel, "tables") else {}).items():
            path = out / f"{panel_key}_{table_key}.csv"
            try:
                written.append(export_mod.export_csv(headers, rows, path,
                                                     context={"Table": table_key, **context} if context else {}))
            except OSError as exc:
                raise UserError(f"{path}: could not write ({exc})") from None
    return written


def build_offscreen_panels(store, scenario_name: str | None = None) -> dict[str, object]:
    """Every analysis panel, with the scenario's inputs applied (default: the baseline,
    "Story default", never quietly the one used last in the app). Needs a QApplication. Raises
    UserError for an unknown scenario name."""
    from PySide6.QtGui import QUndoStack

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
        key, cls = spec.key, spec.load()
        panel = cls(store, stack)
        panel._export_stack = stack  # the stack must outlive the panel
        panel.resize(*OFFSCREEN_SIZE)
        if key == "forecast" and params is not None:
            panel.apply_scenario_state({**params, "name": scenario_name})
        elif key == "compare" and scenario_name is not None:
            names = [s["name"] for s in store.scenarios()]
            others = [n for n in names if n != scenario_name][:2]
            panel.set_selected([scenario_name] + others)
        elif key in ui and hasattr(panel, "apply_scenario_state"):
            panel.apply_scenario_state(ui[key])
        # Lay the widgets out at a real size without a screen: charts export at this aspect.
        panel.setAttribute(__import__("PySide6.QtCore", fromlist=["Qt"]).Qt.WidgetAttribute.WA_DontShowOnScreen)
        panel.show()
        panels[key] = panel
    return panels


def shutdown_panels(panels: Mapping[str, object]) -> None:
    for panel in panels.values():
        if hasattr(panel, "shutdown"):
            panel.shutdown()
        if hasattr(panel, "detach"):
            panel.detach()
