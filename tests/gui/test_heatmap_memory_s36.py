"""QA s36: out-of-memory heatmap cells name the GiB they need (engine: tests/engine/test_heatmap_memory_s36.py)."""

import numpy as np


def test_the_heatmap_shows_them_in_the_readout_and_the_csv(qtbot):
    from gui.widgets.heatmap import HeatmapPanel

    heat = HeatmapPanel("Best throughput", x_label="TP", y_label="PP")
    qtbot.addWidget(heat)
    values = np.array([[np.nan, 10.0]])
    heat.set_grid([1, 2], [1], values, [["out of memory", ""]], counts=np.array([[0, 3]]),
                  details=[["needs at least 90.2 GiB per chip; 80 GiB HBM", ""]])
    assert heat.cell_text(0, 0).endswith("infeasible — out of memory (needs at least 90.2 GiB per chip; 80 GiB HBM)")
    _headers, rows = heat.data_table()
    assert rows[0][-1] == "out of memory (needs at least 90.2 GiB per chip; 80 GiB HBM)" and rows[1][-1] == ""
