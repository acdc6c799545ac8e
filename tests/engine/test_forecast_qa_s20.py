"""QA s20: P(done by the deadline) where the deadline is after the horizon, and the one limit on a
forecast's trials x months (the trial-months)."""

import datetime as dt
import json
import time
from dataclasses import replace

import numpy as np
import pytest

from engine.cli import main
from engine.errors import ValidationError
from engine.fleet import Delivery, Order
from engine.forecast import (DEADLINE_AFTER_HORIZON, MAX_TRIAL_MONTHS, Allocation, DemandCurve, DemandPoint,
                             ForecastInputs, ForecastScenario, ThroughputTable, TrainingJob, prob_done_by_deadline,
                             run_forecast, validate_scenario)
from engine.studies_forecast import ForecastStudy, forecast_job_table

D = dt.date
CHIP = "chip-a"
# 100 chips delivered on 1 Jan 2024, all training at 1 token/s each: 8.64 M tokens a day, so a job of
# 100 days' tokens started on 1 Jan 2024 is done on 10 Apr 2024 (ordinal + 100) in every trial.
TOKENS_100_DAYS = 100 * 86_400 * 100.0


def _inputs(months: int, deadline: dt.date | None) -> ForecastInputs:
    order = Order(id=1, buyer="B", vendor="V", chip_id=CHIP, quantity=100, order_date=D(2023, 6, 1),
                  deliveries=(Delivery(1, 1, D(2024, 1, 1), 100),))
    job = TrainingJob("j", "m", TOKENS_100_DAYS, CHIP, D(2024, 1, 1), deadline=deadline)
    sc = ForecastScenario(start=D(2024, 1, 1), months=months, trials=50, install_lag_days=0.0, jobs=(job,),
                          allocation=Allocation(training_share={CHIP: 1.0}),
                          demand=DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1.0),), model_id="m", chip_id=CHIP,
                                             input_tokens_per_request=0.0, output_tokens_per_request=1.0))
    return ForecastInputs(orders=(order,), scenario=sc, chip_peak_tflops={CHIP: 500.0},
                          serving_tokens_per_s_per_chip={CHIP: 1.0},
                          training_tokens_per_s_per_chip={("m", CHIP): ThroughputTable((1.0, 1e6), (1.0, 1.0))})


# ---- 1. done by a deadline after the horizon -----------------------------------------------

def test_a_job_unfinished_at_the_horizon_with_a_later_deadline_is_unknown_not_late():
    """3 months (to Mar 2024) end before the job's 10 Apr finish: whether it meets a Dec 2024
    deadline is not simulated. It read 0% (each unfinished trial counted late); 12 months say 100%."""
    short = run_forecast(_inputs(3, D(2024, 12, 31))).jobs[0]
    assert short.prob_within_horizon == 0.0
    assert short.prob_by_deadline is None and short.deadline_unknown
    longer = run_forecast(_inputs(12, D(2024, 12, 31))).jobs[0]
    assert longer.prob_by_deadline == 1.0 and not longer.deadline_unknown
    assert longer.completion_p50 == D(2024, 4, 10)     # 1 Jan + 100 days, by hand


def test_a_deadline_within_the_horizon_still_counts_an_unfinished_job_late():
    # 15 Mar is before the 3-month horizon's end (1 Apr): not done by then is known, so 0%
    job = run_forecast(_inputs(3, D(2024, 3, 15))).jobs[0]
    assert job.prob_by_deadline == 0.0 and not job.deadline_unknown
    # no deadline: None, and not "unknown"
    none = run_forecast(_inputs(3, None)).jobs[0]
    assert none.prob_by_deadline is None and not none.deadline_unknown


def test_prob_done_by_deadline_by_hand():
    end = float(D(2024, 4, 1).toordinal())     # the day after a horizon ending Mar 2024
    done = np.array([D(2024, 2, 1).toordinal(), D(2024, 3, 20).toordinal(), np.inf, np.inf], dtype=float)
    assert prob_done_by_deadline(done, None, end) is None
    assert prob_done_by_deadline(done, D(2024, 3, 1), end) == 0.25      # known: 1 of 4 by 1 Mar
    assert prob_done_by_deadline(done, D(2024, 4, 1), end) == 0.5       # the horizon's end itself: known
    assert prob_done_by_deadline(done, D(2024, 4, 2), end) is None      # after it, 2 trials unknown
    assert prob_done_by_deadline(done[:2], D(2030, 1, 1), end) == 1.0   # every trial done: known


def test_the_note_and_the_jobs_table_say_why_and_what_to_extend():
    r = run_forecast(_inputs(3, D(2024, 12, 31)))
    notes = [n for n in r.notes if n.startswith("job 'j'")]
    assert notes == ["job 'j': done by its deadline 2024-12-31 in at least 0.0% of trials (those done within the "
                     "horizon, to 2024-03); the rest is unknown: deadline after the horizon; extend the horizon to "
                     "12 months (2024-12)"]
    headers, rows = forecast_job_table(r)
    assert rows[0][headers.index("Done by deadline (%)")] == f"n/a: {DEADLINE_AFTER_HORIZON}"
    headers, rows = forecast_job_table(run_forecast(_inputs(12, D(2024, 12, 31))))
    assert rows[0][headers.index("Done by deadline (%)")] == 100.0


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_story_job_on_a_12_month_horizon_reports_null_with_a_note(capsys, tmp_path):
    """QA's case: the story job (deadline 2025-12-31) on 12 months read 0.1283, the share done within
    the horizon; on 24 months 1.0."""
    db = str(tmp_path / "b0.db")
    code, out, err = run(capsys, "--db", db, "forecast", "--trials", "400", "--months", "12", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    job = data["training_jobs"][0]
    assert job["deadline"] == "2025-12-31" and 0 < job["prob_finish_within_horizon"] < 1
    assert job["prob_done_by_deadline"] is None
    assert job["prob_done_by_deadline_note"] == "deadline after the horizon; extend the horizon"
    assert any("extend the horizon to 20 months (2025-12)" in n for n in data["throughput_notes"])
    code, out, _ = run(capsys, "--db", db, "forecast", "--trials", "400", "--months", "24", "--format", "json")
    job = json.loads(out)["training_jobs"][0]
    assert job["prob_done_by_deadline"] == 1.0 and job["prob_done_by_deadline_note"] is None
    code, out, _ = run(capsys, "--db", db, "forecast", "--trials", "400", "--months", "12")
    assert "by its deadline 2025-12-31: n/a (deadline after the horizon; extend the horizon)" in out


# ---- 2. trials x months ----------------------------------------------------------------------

TOO_MANY = ("trials x months: 500,000 x 240 = 120,000,000 trial-months, about 13 GB; at most 20,000,000 "
            "(e.g. 83,333 trials over 240 months)")


def test_trials_x_months_over_the_limit_is_one_problem_naming_both():
    base = ForecastScenario()
    assert validate_scenario(replace(base, trials=500_000, months=240)) == [TOO_MANY]
    # at the limit it runs (measured 2.19 GB peak on the story at 100,000 x 200)
    assert MAX_TRIAL_MONTHS == 20_000_000
    assert validate_scenario(replace(base, trials=100_000, months=200)) == []
    assert validate_scenario(replace(base, trials=100_000, months=201))[0].startswith(
        "trials x months: 100,000 x 201 = 20,100,000 trial-months, about 2.2 GB; at most 20,000,000 "
        "(e.g. 99,502 trials over 201 months)")
    # a value out of range on its own is that field's problem only
    assert [p.split(":")[0] for p in validate_scenario(replace(base, trials=500_000, months=700))] == ["months"]


def test_the_form_words_it_at_the_trials_field():
    problems = ForecastStudy(replace(ForecastScenario(), trials=500_000, months=240)).problems()
    assert [(p.field, p.message) for p in problems] == [
        ("trials", "Trials x horizon: 500,000 x 240 = 120,000,000 trial-months, about 13 GB; at most 20,000,000 "
                   "(e.g. 83,333 trials over 240 months).")]


def test_the_monte_carlo_refuses_it_before_allocating():
    inputs = _inputs(240, None)
    inputs = replace(inputs, scenario=replace(inputs.scenario, trials=500_000))
    t0 = time.perf_counter()
    with pytest.raises(ValidationError, match="500,000 x 240 = 120,000,000 trial-months"):
        run_forecast(inputs)
    assert time.perf_counter() - t0 < 2.0


def test_the_cli_names_the_flags_that_gave_them(capsys, tmp_path):
    db = str(tmp_path / "b0.db")
    code, _, err = run(capsys, "--db", db, "forecast", "--trials", "500000", "--months", "240")
    assert code == 1 and err.strip() == ("fleetcast: error: scenario 'Story default': --trials x --months: 500,000 x "
                                         "240 = 120,000,000 trial-months, about 13 GB; at most 20,000,000 "
                                         "(e.g. 83,333 trials over 240 months)")
    code, _, err = run(capsys, "--db", db, "forecast", "--trials", "500000")   # the story's 60 months
    assert code == 1 and "'Story default': --trials x months: 500,000 x 60 = 30,000,000 trial-months" in err


def test_an_out_of_memory_forecast_says_what_to_lower(capsys, tmp_path, monkeypatch):
    import engine.forecast

    def out_of_memory(inputs, **_kw):
        raise MemoryError("Unable to allocate 916. MiB for an array with shape (500000, 240)")

    monkeypatch.setattr(engine.forecast, "run_forecast", out_of_memory)
    code, _, err = run(capsys, "--db", str(tmp_path / "b0.db"), "forecast", "--trials", "80000", "--months", "240")
    assert code == 1 and err.strip() == ("fleetcast: error: the forecast ran out of memory at --trials 80,000 x "
                                         "--months 240: lower --trials or --months")
