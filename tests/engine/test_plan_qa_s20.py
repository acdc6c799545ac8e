"""Plan QA (session 20): bought chips rated for a training job at the size that trains it, and a
"from X a plan may reach it" hint that is planned before it is offered."""

import dataclasses
import datetime as dt

import numpy as np
import pytest

import engine.forecast_plan as fp
from engine.forecast import Allocation, ThroughputTable, TrainingJob, simulate

from tests.engine.test_forecast_plan import toy

D = dt.date
BIG = "chip-b"     # a chip the fleet has none of


def job_inputs(tokens: float):
    """toy(), plus a job on a chip the fleet has none of: the model does not fit on 8 of them,
    128 train it at 10 tokens/s per chip, 1,024 at 9."""
    inputs = toy()
    job = TrainingJob("big", "m2", tokens, BIG, earliest_start=D(2025, 1, 1), deadline=D(2025, 12, 31))
    sc = dataclasses.replace(inputs.scenario, jobs=(job,), allocation=Allocation(training_share={BIG: 1.0}))
    table = ThroughputTable((8.0, 128.0, 1024.0), (0.0, 10.0, 9.0))
    return dataclasses.replace(inputs, scenario=sc, chip_peak_tflops={**inputs.chip_peak_tflops, BIG: 100.0},
                               training_tokens_per_s_per_chip={("m2", BIG): table}), job


def test_a_job_on_a_chip_the_fleet_lacks_is_rated_at_a_size_that_trains_it():
    """Rated at the fleet's own size (none, floored at 8) every bought chip trained nothing, and no
    quantity could meet the deadline (QA: "0% of trials" at caps of 10M a quarter)."""
    window_s = (D(2025, 12, 31) - D(2025, 1, 1)).days * 86400
    small, job = job_inputs(tokens=64 * 10.0 * 0.9 * window_s)     # 64 chips at 128's rate: 128 it is
    s = simulate(small, trials=50, seed=1)
    eff = small.scenario.training_efficiency_scale
    assert fp._training_rate_per_chip(small, s, job) == pytest.approx(10.0 * eff)
    # 600 chips' worth at 10 tokens/s: rated at the size that finishes by the deadline, between
    # 128 (10) and 1,024 (9), interpolated in log2(chips)
    big, job = job_inputs(tokens=600 * 10.0 * eff * window_s)
    rate = fp._training_rate_per_chip(big, simulate(big, trials=50, seed=1), job)
    needed = 600 * 10.0 / (rate / eff)
    expected = 10.0 - (np.log2(needed) - 7.0) / 3.0
    assert rate == pytest.approx(expected * eff, rel=0.01)
    assert 9.0 * eff < rate < 10.0 * eff


def test_a_later_start_is_offered_only_when_its_plan_holds(monkeypatch):
    """The hint read off the fit's trials is planned first: named with its cost when it holds,
    else replaced by the starts that were tried."""
    result = fp.PlanResult(feasible=False, why="lead times: ...; from 2025-10 a plan may reach it (--from 2025-10)",
                           orders=(), total_cost_usd=0.0, months=[], from_month=D(2025, 9, 1),
                           until_month=D(2025, 12, 1), confidence=0.9, prob_meet_demand=np.zeros(0),
                           prob_meet_without=np.zeros(0), capacity_unit_chips=(np.zeros(0),) * 3,
                           demand_unit_chips=np.zeros(0), unit_chip_id="c", economics=(),
                           jobs_prob_by_deadline={}, solve_s=0.0, samples=200, status="infeasible")
    asked = []

    def fake(inputs, req, training_tokens_per_s=None, verify_offer=True):
        asked.append(req.from_month)
        return dataclasses.replace(result, feasible=req.from_month == D(2025, 11, 1), total_cost_usd=2e9)

    monkeypatch.setattr(fp, "solve_plan", fake)
    req = fp.PlanRequest(candidates=(), from_month=D(2025, 9, 1))
    held = fp._checked_from_hint(None, req, result, None)
    assert asked == [D(2025, 10, 1), D(2025, 11, 1)]
    assert held.why == "lead times: ...; from 2025-11 a plan holds (--from 2025-11, $2.00B)"
    asked.clear()
    monkeypatch.setattr(fp, "solve_plan", lambda *a, **k: (asked.append(a[1].from_month), result)[1])
    none = fp._checked_from_hint(None, req, result, None)
    assert none.why == "lead times: ...; a later start (2025-10 or 2025-11) does not hold either"


def test_a_plan_added_to_the_fleet_needs_no_more_orders(tmp_path, capsys):
    """QA: the 90% Mar-Jun 2025 plan (61,000 H20) added to the Fleet, planned again, bought 12,000
    H20 more ($144M): the fleet read 90.2% on the validation trials against 90% plus its standard
    error, where 20,000 trials give it 90.9%. A fleet that keeps the confidence needs no order.

    (s23: the story's demand points carry their own uncertainty and a planned order the forecast's
    own draws: at 85% Mar-Jun is no plan within the caps any more, 83.5% at most in June on the
    fitted trials, so the caps are lifted. `fleetcast plan --from 2025-03 --until 2025-06
    --confidence 0.85 --caps ascend-910b2=2000000,h20-96gb=2000000 --format json` on a fresh
    database at commit 4664896 plans 133,000 H20 ($1.60B) sized to a plateau, 85% on the validation
    trials where no quantity reaches 85.6%, and 85.4% on the fresh ones: the plan most likely to be
    re-bought, since it holds the confidence itself and no margin. Imported, the same flags plan no
    orders.)"""
    import json

    from engine.cli import main

    db = str(tmp_path / "p.db")
    args = ["--db", db, "plan", "--from", "2025-03", "--until", "2025-06", "--confidence", "0.85",
            "--caps", "ascend-910b2=2000000,h20-96gb=2000000", "--format", "json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["feasible"] and first["orders"]
    rows = ["id,buyer,vendor,chip_id,quantity,order_date,promised,price_usd_per_chip,status"]
    for o in first["orders"]:
        rows.append(f",plan,NVIDIA,{o['chip_id']},{o['quantity']},{o['order_month']},"
                    f"{o['delivery_month']}:{o['quantity']},{o['cost_usd'] / o['quantity']:.0f},assumption")
    (tmp_path / "plan.csv").write_text("\n".join(rows) + "\n")
    assert main(["--db", db, "orders", "import", str(tmp_path / "plan.csv")]) == 0
    capsys.readouterr()
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["feasible"] and again["orders"] == [] and again["total_cost_usd"] == 0
    assert again["min_prob_meet_in_target"] >= 0.85 - fp.FRESH_TOLERANCE
    assert any("the fleet as it is keeps" in n for n in again["throughput_notes"])
