"""QA s36: the layout heatmap's out-of-memory cells said "out of memory" alone (a fixed layout gives
the GiB), so one GiB short and a hundred read alike. Each such cell names the least any of its
layouts needs against the HBM, in the readout and the CSV."""

import re

import numpy as np

from engine.catalog import reference_chips, reference_models
from engine.studies import run_layout_analysis
from engine.training import TrainingInputs, evaluate_layout


def test_out_of_memory_cells_name_the_least_they_need():
    inputs = TrainingInputs(model=reference_models()["llama3-70b"], chip=reference_chips()["h100-sxm5-80gb"],
                            num_chips=16)
    a = run_layout_analysis(inputs, (), ())
    cells = [(j, i) for j in range(len(a.grid_pp)) for i in range(len(a.grid_tp)) if a.grid_detail[j][i]]
    assert cells
    for j, i in cells:
        assert a.grid_reason[j][i] == "out of memory" and np.isnan(a.grid_best[j, i])
        need = float(re.fullmatch(r"needs at least ([\d,.]+) GiB per chip; 80 GiB HBM",
                                  a.grid_detail[j][i]).group(1).replace(",", ""))
        assert need > 80.0
    # the other infeasible cells (TP x PP not dividing 16) and the feasible ones say nothing more
    assert all(not a.grid_detail[j][i] for j in range(len(a.grid_pp)) for i in range(len(a.grid_tp))
               if (j, i) not in cells)
    # the figure is a layout's own: TP16 PP1 needs what that layout, fixed, is said to need at least
    j, i = list(a.grid_pp).index(1), list(a.grid_tp).index(16)
    need = float(a.grid_detail[j][i].split()[3])
    fixed = evaluate_layout(TrainingInputs(model=inputs.model, chip=inputs.chip, num_chips=16, tp=16, pp=1, cp=1))
    assert not fixed.feasible and fixed.memory_gib_per_chip >= need - 0.05
