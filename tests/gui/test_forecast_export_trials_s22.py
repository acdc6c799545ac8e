"""QA s22: the exported tornado and variance-share charts named the forecast's run ("Run: 2,000
trials ... --trials 2000") while the tornado ran 500 trials a setting and the shares 1,000 a run, and
the tornado's own base P(meet) was not in its files. Its bars named chips two ways: "cut-off
h20-96gb" beside "train share Ascend 910B2"."""

from engine.studies_forecast import prob_percent_text
from gui.export_all import export_all


def _header(path) -> dict:
    """The '# Key: value' lines above an exported CSV's table."""
    lines = [line[2:] for line in path.read_text().splitlines() if line.startswith("# ")]
    return dict(line.split(": ", 1) for line in lines)


def test_tornado_and_share_exports_name_their_own_runs_and_chips_by_name(forecast_panel, tmp_path):
    panel = forecast_panel
    assert panel.scenario().trials == 2000
    export_all({"forecast": panel}, tmp_path / "out")
    out = tmp_path / "out"
    tornado, shares = panel.view.tornado, panel.view.shares
    assert (tornado.trials, shares.trials) == (500, 1000)
    assert "--trials 2000" in _header(out / "forecast_capacity_vs_demand.csv")["Run"]   # the forecast's own
    for metric in ("prob_meet_demand", "shortfall_mean_unit_chips"):
        header = _header(out / f"forecast_tornado_{metric}.csv")
        assert "500 trials" in header["Run"] and "2,000" not in header["Run"], header
        assert header["Base P(meet)"].startswith(prob_percent_text(tornado.base["prob_meet_demand"]))
        assert f"{tornado.month:%b %Y}" in header["Base P(meet)"]
    # the completion tornado's base is a completion date, not a P(meet) (QA s26)
    header = _header(out / "forecast_tornado_job_completion_days.csv")
    assert "500 trials" in header["Run"] and header["Base P50 completion"][:4].isdigit()
    assert "Base P(meet)" in (out / "forecast_tornado_prob_meet_demand.svg").read_text()
    header = _header(out / "forecast_uncertainty_shares.csv")
    assert "1,000 trials" in header["Run"] and "2,000" not in header["Run"], header
    # every bar names its chip by the display name the views use, never by its id
    rows = (out / "forecast_tornado_prob_meet_demand.csv").read_text()
    chips = {c.id: panel.chip_name(c.id) for c in panel.store.chips()}
    assert "train share Ascend 910B2" in rows and f"cut-off {chips['h20-96gb']} " in rows
    assert "h20-96gb" not in rows and "ascend-910b2" not in rows
