"""Compare beside a scenario with no demand points: its P(meet) read "+13" and "+100" points and its
shortfall "-46 months" against the story, as if it served the demand better (left undone in s36)."""

import copy

from engine.store import open_store
from tests.gui.test_compare_s34 import _compared


def test_figures_that_read_demand_take_no_difference_against_no_demand(tmp_path, qtbot):
    store = open_store(tmp_path / "c.db")
    try:
        demand = copy.deepcopy(store.scenario("Story default")["params"]["demand"])
        demand["points"] = []
        p = _compared(store, qtbot, "no demand", demand=demand)
        headers, rows = p.tables()["key_figures"]
        assert headers == ["Figure", "Story default (baseline)", "no demand", "no demand − baseline"]
        by = {row[0]: row for row in rows}
        demand_rows = [label for label in by if label.startswith(
            ("P(meet demand)", "Months with a P50 shortfall", "Largest P50 shortfall", "First month demand"))]
        assert len(demand_rows) >= 5
        for label in demand_rows:
            assert by[label][-1] == "— (no demand in no demand)", (label, by[label])
        assert by["P(meet demand) 24 months in (%)"][2] == 100   # the value itself stays what it is
        # figures that do not read demand keep their differences
        assert by["Horizon end (date)"][-1] == "+0 months"
        job = next(label for label in by if label.startswith("Job ") and "within horizon" in label)
        assert by[job][-1] == 0
        # the window's table as the file
        shown = {row[0]: row for row in p.figure_rows()[1]}
        assert shown["P(meet demand) 12 months in (%)"][-1] == "— (no demand in no demand)"
        p.shutdown()
    finally:
        store.close()
