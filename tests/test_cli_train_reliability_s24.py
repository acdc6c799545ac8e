"""QA s24 on `train`'s reliability flags: with --scenario a bad flag was copied into the study
first (0 MTBF then meant the Llama 3 rate; -5 was told as the scenario's field), and the run's
failure model (its inputs, the job MTBF, the checkpoint's write time, where the time goes) and
the checkpoint's 14 bytes per parameter were in no output."""

import json

import pytest

import engine.cli as cli

RUN = ["train", "--model", "llama3-405b", "--chip", "h800-sxm5-80gb", "--chips", "16384", "--search",
       "--tokens", "15e12"]


@pytest.fixture
def scenario_db(tmp_path):
    from engine.store import open_store
    from engine.studies import TrainingStudy

    db = str(tmp_path / "t.db")
    store = open_store(db)
    params = dict(store.scenario("Story default")["params"])
    study = TrainingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", num_chips=64, tokens_t=1.0)
    store.save_scenario("X", {**params, "ui": {"training": study.to_dict()}})
    store.close()
    return db


@pytest.mark.parametrize("flag, value, words", [
    ("--mtbf-chip-hours", "0", "--mtbf-chip-hours: 0 (must be more than 0"),
    ("--mtbf-chip-hours", "-5", "--mtbf-chip-hours: -5 (must be more than 0"),
    ("--restart-min", "-5", "--restart-min: -5 (must be 0 to"),
    ("--checkpoint-write-gbps", "0", "--checkpoint-write-gbps: 0 (must be 0.001 to"),
    ("--checkpoint-bytes-per-param", "0", "--checkpoint-bytes-per-param: 0 (must be more than 0"),
])
def test_a_bad_reliability_flag_is_named_with_or_without_a_scenario(capsys, scenario_db, flag, value, words):
    for argv in (["--db", scenario_db, "--scenario", "X"], ["--model", "llama3-8b", "--chip", "h100-sxm5-80gb",
                                                             "--chips", "64"]):
        code = cli.main(["train", *argv, "--tokens", "1e12", flag, value])
        err = capsys.readouterr().err
        assert code != 0 and words in err, err
        assert "scenario" not in err and "Traceback" not in err


def test_a_scenarios_run_takes_a_good_flag(capsys, scenario_db):
    code = cli.main(["--format", "json", "train", "--db", scenario_db, "--scenario", "X",
                     "--mtbf-chip-hours", "1000", "--restart-min", "2.5"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["run"]["mtbf_chip_hours"] == 1000.0 and d["run"]["restart_min"] == 2.5


def test_the_json_and_text_carry_the_failure_model(capsys):
    code = cli.main(["--format", "json", *RUN])
    run = json.loads(capsys.readouterr().out)["run"]
    assert code == 0
    assert run["checkpoint_bytes_per_param"] == 14.0 and run["checkpoint_write_gbps"] == 1000.0
    assert run["job_mtbf_h"] == pytest.approx(run["mtbf_chip_hours"] / 16384)
    assert run["checkpoint_write_s"] == pytest.approx(405.8e9 * 14 / 1e12, rel=0.01)
    lost = run["lost_to_restarts_pct"] + run["lost_to_rework_pct"] + run["lost_to_checkpoints_pct"]
    assert lost + 100 * run["goodput"] == pytest.approx(100.0)
    assert (run["utilisation"], run["pue"]) == (0.8, 1.2)
    code = cli.main([*RUN, "--checkpoint-bytes-per-param", "28"])
    out = capsys.readouterr().out
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("failures: "))
    assert "MTBF 50,677 chip-hours per chip (Llama 3 rate)" in line and "restart 10 min" in line
    assert "28 bytes/param at 1,000 GB/s = 11 s" in line and "time lost: restarts" in line
    assert "80% utilisation x PUE 1.2" in out


def test_checkpoint_bytes_per_param_needs_tokens(capsys):
    code = cli.main(["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64",
                     "--checkpoint-bytes-per-param", "20"])
    assert code != 0 and "--checkpoint-bytes-per-param: used for the time and cost" in capsys.readouterr().err


def test_the_forecast_says_its_jobs_do_not_take_the_reliability_model(tmp_path, capsys):
    """QA: a what-if on the Training view's MTBF moved `train` from 184 to 238 days and no forecast
    job date, with nothing saying the forecast's jobs run at one fixed efficiency."""
    db = str(tmp_path / "f.db")
    assert cli.main(["--db", db, "--format", "json", "forecast", "--trials", "100", "--months", "12"]) == 0
    notes = json.loads(capsys.readouterr().out)["throughput_notes"]
    said = [n for n in notes if n.startswith("training jobs run at the training efficiency (90%)")]
    assert len(said) == 1 and "feed `train` only" in said[0]
