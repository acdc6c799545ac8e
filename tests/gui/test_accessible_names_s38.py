"""A screen reader read most fields by their value alone ("spin box, 1,024 chips" with no "Chip
count"; "BF16" for both the weights and the KV cache) and every table as "table"; each chart was a
Tab stop that did nothing with the keys (QA s38; now they read values with them)."""

from collections import Counter

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from gui.app import ANALYSIS_PANELS
from gui.widgets.accessible import INPUTS, _part_of_another, unnamed_inputs


def _names(view):
    return [w.accessibleName() for w in view.findChildren(QWidget) if isinstance(w, INPUTS) and not _part_of_another(w)]


@pytest.mark.parametrize("key", ["fleet", *ANALYSIS_PANELS])
def test_every_input_of_every_view_has_a_name_and_no_two_share_one(window, key):
    view = window.fleet_panel if key == "fleet" else window.panel(key)
    assert unnamed_inputs(view) == []
    shared = {name: n for name, n in Counter(_names(view)).items() if n > 1}
    assert not shared


def test_names_read_as_the_labels_beside_the_fields(window):
    training = window.panel("training")
    assert training.count_spin.accessibleName() == "Chip count"
    inference = window.panel("inference")
    names = set(_names(inference))
    assert {"Weights", "KV cache", "TTFT target", "TPOT target"} <= names
    assert window.scenario_bar.combo.accessibleName() == "Scenario"
    assert window.fleet_panel.chips_table.view.accessibleName() == "Chip catalog"


def test_charts_are_tab_stops_that_read_with_the_keys(window):
    """s38 took them out of the Tab order (they did nothing with the keys); s39 gave them a keyboard
    readout (tests/gui/test_chart_keys_s39.py), so they are Tab stops again."""
    for key in ANALYSIS_PANELS:
        view = window.panel(key)
        charts = view.findChildren(pg.GraphicsView)
        assert charts, key
        assert {c.focusPolicy() for c in charts} == {Qt.FocusPolicy.StrongFocus}, key
