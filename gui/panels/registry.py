"""The one list of the window's areas: key, tab title, module, class and tooltip.

The window's tabs and View menu, File > Export all and `fleetcast export` all read PANELS; a
new view is one entry here (no second hand-kept list to forget).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class PanelSpec:
    key: str
    title: str
    module: str
    class_name: str
    tooltip: str

    def load(self):
        """The panel class (imported on first use: a quicker start)."""
        return getattr(importlib.import_module(self.module), self.class_name)


PANELS = (
    PanelSpec("fleet", "Fleet", "gui.panels.fleet", "FleetPanel", "Orders, deliveries and the chip catalog"),
    PanelSpec("training", "Training", "gui.panels.training", "TrainingPanel",
              "Time to train, layouts and scaling for a model on a chip type"),
    PanelSpec("inference", "Inference", "gui.panels.inference", "InferencePanel",
              "Serving throughput, latency and chips needed for a demand"),
    PanelSpec("forecast", "Forecast", "gui.panels.forecast", "ForecastPanel",
              "Supply vs demand over time under delivery uncertainty"),
    PanelSpec("compare", "Compare", "gui.panels.compare", "ComparePanel", "Saved scenarios side by side"),
)
PANEL = {spec.key: spec for spec in PANELS}
ANALYSIS_PANELS = tuple(spec for spec in PANELS if spec.key != "fleet")  # built when first shown
