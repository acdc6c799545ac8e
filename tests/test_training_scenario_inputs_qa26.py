"""QA s26: `train` flags the Training view had no field for, so a scenario could not save them and
`train --scenario` could not reproduce them: --checkpoint-bytes-per-param (the window always ran
the default 14) and --dtype fp16 (the Precision combo offered BF16 and FP8 only; `--scenario X
--dtype fp16` was stored as bf16 and reported as a BF16 run)."""

import json

import pytest

import engine.cli as cli
from engine.reliability import CHECKPOINT_BYTES_PER_PARAM
from engine.studies import TrainingStudy, train_command

LAYOUT = {"tp": 2, "pp": 2, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1, "recompute": "selective"}
# 50 chip-hours MTBF and 1 GB/s storage: the checkpoint's size moves the days, not only a digit
BASE = dict(model_id="llama3-8b", chip_id="h100-sxm5-80gb", num_chips=64, tokens_t=1.0, layout_mode="fixed",
            layout=LAYOUT, mtbf_chip_hours=50.0, checkpoint_write_gbps=1.0)


@pytest.fixture
def db(tmp_path):
    from engine.store import open_store

    path = str(tmp_path / "t.db")
    store = open_store(path)
    params = dict(store.scenario("Story default")["params"])
    for name, study in (("X", TrainingStudy(**BASE, checkpoint_bytes_per_param=28.0)),
                        ("DEFAULT", TrainingStudy(**BASE)),
                        ("FP16", TrainingStudy(**BASE, dtype="fp16"))):
        store.save_scenario(name, {**params, "ui": {"training": study.to_dict()}})
    old = TrainingStudy(**BASE).to_dict()
    del old["checkpoint_bytes_per_param"]   # saved before the field existed
    store.save_scenario("OLD", {**params, "ui": {"training": old}})
    store.close()
    return path


def _train(capsys, *argv) -> dict:
    code = cli.main(["--format", "json", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_a_scenarios_checkpoint_size_is_run(capsys, db):
    d = _train(capsys, "train", "--db", db, "--scenario", "X")
    run = d["run"]
    from engine.store import open_store

    store = open_store(db)
    params = store.model("llama3-8b").total_params()
    store.close()
    assert run["checkpoint_bytes_per_param"] == 28.0
    assert run["checkpoint_write_s"] == pytest.approx(params * 28.0 / 1e9, rel=1e-12)   # at 1 GB/s
    default = _train(capsys, "train", "--db", db, "--scenario", "DEFAULT")["run"]
    assert default["checkpoint_bytes_per_param"] == CHECKPOINT_BYTES_PER_PARAM == 14.0
    assert default["checkpoint_write_s"] == pytest.approx(run["checkpoint_write_s"] / 2, rel=1e-12)
    # twice the bytes: more time lost to checkpoints, a longer run
    assert run["goodput"] < default["goodput"] and d["time_to_train_days"] > default["time_to_train_days"]


def test_an_old_scenario_without_the_key_runs_the_default(capsys, db):
    old = _train(capsys, "train", "--db", db, "--scenario", "OLD")["run"]
    default = _train(capsys, "train", "--db", db, "--scenario", "DEFAULT")["run"]
    assert old["checkpoint_bytes_per_param"] == 14.0 and old == default


def test_the_flag_overrides_the_scenario(capsys, db):
    flagged = _train(capsys, "train", "--db", db, "--scenario", "X", "--checkpoint-bytes-per-param", "14")
    default = _train(capsys, "train", "--db", db, "--scenario", "DEFAULT")
    assert flagged["run"]["checkpoint_bytes_per_param"] == 14.0
    assert flagged["time_to_train_days"] == default["time_to_train_days"]
    assert flagged["run"]["goodput"] == default["run"]["goodput"]


def test_a_bad_saved_size_is_one_line_naming_the_scenario(capsys, tmp_path):
    from engine.store import open_store

    path = str(tmp_path / "bad.db")
    store = open_store(path)
    params = dict(store.scenario("Story default")["params"])
    store.save_scenario("B", {**params, "ui": {"training": {**TrainingStudy(**BASE).to_dict(),
                                                            "checkpoint_bytes_per_param": 5000}}})
    store.close()
    code = cli.main(["train", "--db", path, "--scenario", "B"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err
    assert "scenario 'B'" in err and "Checkpoint size 5000.0: use more than 0 to 1,000 bytes/param." in err


def test_a_study_refuses_what_the_flag_refuses():
    """`train --checkpoint-bytes-per-param` takes more than 0 to 1,000 (RUN_FLAG_RANGES)."""
    from engine.catalog import reference_chips, reference_models

    chips, models = reference_chips(), reference_models()
    for value, ok in ((0.0, False), (-1.0, False), (1000.5, False), (float("nan"), False), (0.5, True),
                      (1000.0, True)):
        fields = [p.field for p in TrainingStudy(**BASE, checkpoint_bytes_per_param=value).problems(chips, models)]
        assert ("checkpoint_bytes" not in fields) == ok, value


def test_the_views_cli_line_carries_the_size_and_fp16(capsys, db):
    from engine.catalog import reference_chips, reference_models

    chips, models = reference_chips(), reference_models()
    study = TrainingStudy(**BASE, checkpoint_bytes_per_param=28.0, dtype="fp16")
    line = train_command(study, study.training_inputs(chips, models))
    assert "--checkpoint-bytes-per-param 28" in line and "--dtype fp16" in line
    assert "--checkpoint-bytes-per-param" not in train_command(TrainingStudy(**BASE),
                                                               TrainingStudy(**BASE).training_inputs(chips, models))
    argv = line.split()[1:]   # (after "fleetcast")
    by_line = _train(capsys, "--db", db, *argv)
    assert by_line["dtype"] == "fp16" and by_line["run"]["checkpoint_bytes_per_param"] == 28.0


def test_an_fp16_scenario_runs_fp16_at_the_bf16_figures(capsys, db):
    fp16 = _train(capsys, "train", "--db", db, "--scenario", "FP16")
    bf16 = _train(capsys, "train", "--db", db, "--scenario", "DEFAULT")
    assert fp16["dtype"] == "fp16" and bf16["dtype"] == "bf16"
    for key in ("tokens_per_s_per_chip", "step_time_s", "memory_gib_per_chip", "time_to_train_days"):
        assert fp16[key] == bf16[key], key
    # the flag on a BF16 scenario: an FP16 run (it was stored, and reported, as bf16)
    flagged = _train(capsys, "train", "--db", db, "--scenario", "DEFAULT", "--dtype", "fp16")
    assert flagged["dtype"] == "fp16" and flagged["time_to_train_days"] == bf16["time_to_train_days"]
    assert _train(capsys, "train", "--db", db, "--scenario", "FP16", "--dtype", "bf16")["dtype"] == "bf16"
