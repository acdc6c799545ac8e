"""QA s32: Huawei delivering a fixed half of its orders, 182 days late ("QA half late"); 90% over
Mar-May 2025 is no plan (89.5% at most on 1 May, whatever is bought), and the offer read "the
longest target a plan could keep at 90% runs from 2025-03 through 2025-04", with the window's link
"Plan Mar 2025 - Apr 2025 instead" giving a plan of 0 orders: a target the fleet already keeps read
as one to order for. The offer now says it needs no orders, with its cost (0) in the JSON."""

import json

from engine.store import open_store
from tests.cli_run import run_cli


def test_an_offer_the_fleet_already_keeps_says_it_needs_no_orders(tmp_path, capsys, monkeypatch):
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    db = tmp_path / "a.db"
    store = open_store(db)
    params = store.scenario("Story default")["params"]
    huawei = params["vendor_uncertainty"]["Huawei"]
    huawei.update(extra_delay_days=182.0, fraction_dist="fixed", fraction_mode=0.5)
    store.save_scenario("QA half late", params)
    store.close()
    code, out, _ = run_cli(capsys, "--db", str(db), "--format", "json", "plan", "--scenario", "QA half late",
                           "--from", "2025-03", "--until", "2025-05")
    data = json.loads(out)
    assert code == 1 and data["feasible"] is False
    assert data["reachable_target"] == {"from_month": "2025-03-01", "until_month": "2025-04-01", "total_cost_usd": 0.0}
    assert data["why"].endswith("runs from 2025-03 through 2025-04, with no orders: the fleet as it is keeps 90% "
                                "there, and the months after need chips no order delivers in time")


def test_the_window_shows_such_an_offer_rather_than_planning_it():
    import datetime as dt
    from types import SimpleNamespace

    from gui.panels.plan_text import plan_summary_html

    def result(cost):
        return SimpleNamespace(from_month=dt.date(2025, 3, 1), until_month=dt.date(2025, 5, 1), notes=(), feasible=False,
                               reachable_target=(dt.date(2025, 3, 1), dt.date(2025, 4, 1)),
                               reachable_target_cost_usd=cost, why="no plan", confidence=0.9)

    assert "Show Mar 2025 – Apr 2025 instead" in plan_summary_html(result(0.0), "chips", {}, 200)
    assert "Plan Mar 2025 – Apr 2025 instead" in plan_summary_html(result(5e8), "chips", {}, 200)
    assert "Plan Mar 2025 – Apr 2025 instead" in plan_summary_html(result(None), "chips", {}, 200)


def test_the_plan_notes_write_the_signs_the_head_line_writes():
    import datetime as dt
    from types import SimpleNamespace

    from gui.panels.plan_text import plan_summary_html

    r = SimpleNamespace(from_month=dt.date(2025, 3, 1), until_month=dt.date(2025, 5, 1), feasible=False,
                        notes=("the fleet as it is keeps P(meet demand) >= 90%, +-1.1 points",),
                        reachable_target=None, reachable_target_cost_usd=None, why="no plan", confidence=0.9)
    text = plan_summary_html(r, "chips", {}, 200)
    assert "keeps P(meet demand) ≥ 90%, ±1.1 points" in text and "&gt;=" not in text and "+-" not in text
