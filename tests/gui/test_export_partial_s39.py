"""`export --force --partial` into a folder holding an earlier export left that export's files of
the views it could not compute beside the new ones, naming the same scenario with the old numbers
(54 forecast, plan and compare files; QA s39). They are removed once the new files are in place,
and said."""

import pytest

from gui.export_all import WouldOverwrite, export_all


class _Panel:
    def __init__(self, error=None):
        self.compute_error = None
        self._error = error

    def compute_now(self):
        self.compute_error = self._error

    def charts(self):
        return {}

    def tables(self):
        return {} if self._error else {"orders": (["id"], [[1]])}


def _earlier_export(out):
    out.mkdir()
    stale = [out / "forecast_monthly.csv", out / "forecast_capacity_vs_demand.png"]
    for path in stale + [out / "fleet_orders.csv", out / "my_notes.txt"]:
        path.write_text("earlier")
    return stale


def test_forced_partial_export_removes_the_left_out_views_earlier_files(tmp_path):
    out = tmp_path / "ex"
    stale = _earlier_export(out)
    panels = {"fleet": _Panel(), "forecast": _Panel("demand is blank")}
    written = export_all(panels, out, scenario="S", force=True, partial=True)
    assert [p.name for p in written] == ["fleet_orders.csv"]
    assert sorted(p.name for p in written.removed) == sorted(p.name for p in stale)
    assert not any(p.exists() for p in stale)
    assert (out / "my_notes.txt").read_text() == "earlier"          # not a name Export all writes: kept
    assert (out / "fleet_orders.csv").read_text() != "earlier"


def test_without_force_nothing_is_written_or_removed(tmp_path):
    out = tmp_path / "ex"
    stale = _earlier_export(out)
    with pytest.raises(WouldOverwrite):
        export_all({"fleet": _Panel(), "forecast": _Panel("demand is blank")}, out, scenario="S", partial=True)
    assert all(p.read_text() == "earlier" for p in stale)
