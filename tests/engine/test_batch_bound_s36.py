"""With the global batch fixed, more chips than it can use made a run longer and nothing said so
(QA s36: Llama 3 8B at 512 sequences trained in 0.368 days on 32,768 H100, 0.401 on 65,536 and 0.505
on 131,072). The search of such inputs also searches half, a quarter and an eighth of the chips, and
the count whose run ends soonest (failures included) is named when it saves at least 1%."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from engine.catalog import reference_chips, reference_models
from engine.cli import main
from engine.training import SOONER_MIN, TrainingInputs, halved_searches, sooner_on_fewer

H100 = reference_chips()["h100-sxm5-80gb"]
LLAMA8B = reference_models()["llama3-8b"]


def test_the_halvings_are_searched_only_with_the_batch_fixed():
    free = TrainingInputs(model=LLAMA8B, chip=H100, num_chips=1024)
    assert halved_searches(free) == ()
    assert halved_searches(replace(free, global_batch_seqs=512, dp=8)) == ()   # a fixed dp fixes the count
    halved = halved_searches(replace(free, global_batch_seqs=512))
    assert [m for m, _, _ in halved] == [512, 256, 128]
    assert all(tok > 0 and layout["global_batch_seqs"] == 512 for _, tok, layout in halved)


def test_the_soonest_count_is_named_only_where_it_saves_enough():
    halved = ((512, 100.0, {}), (256, 150.0, {}), (128, 150.0, {}))

    def days_at(m: int, tok: float) -> float:   # a stand-in: days = 1e6 / fleet tokens/s
        return 1e6 / (m * tok)

    here = days_at(1024, 40.0)   # 24.4 days; 512 chips: 19.5; 256: 26.0; 128: 52.1
    assert sooner_on_fewer(halved, days_at, here) == (512, 100.0, {}, days_at(512, 100.0))
    # a saving under SOONER_MIN is no suggestion
    assert sooner_on_fewer(halved, days_at, days_at(512, 100.0) * (1 + SOONER_MIN / 2)) is None
    # a count where failures outpace progress (None) is passed over
    assert sooner_on_fewer(halved, lambda m, tok: None if m == 512 else days_at(m, tok), 30.0)[0] == 256
    assert sooner_on_fewer(halved, days_at, None) is None


def _train(capsys, chips: int, *extra: str) -> tuple[dict, str]:
    argv = ["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", str(chips), "--search",
            "--tokens", "1e12", *extra]
    assert main(["--format", "json", *argv]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    return data, capsys.readouterr().out


def test_train_names_the_sooner_count(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    data, text = _train(capsys, 65536, "--global-batch", "512")
    sooner = data["sooner_on_fewer_chips"]
    assert sooner["chips"] == 32768 and sooner["time_to_train_days"] < data["time_to_train_days"] * (1 - SOONER_MIN)
    # the days there are the days `train` gives on that count
    half, _ = _train(capsys, 32768, "--global-batch", "512")
    assert abs(half["time_to_train_days"] - sooner["time_to_train_days"]) < 1e-9
    assert "sooner_on_fewer_chips" not in half   # on 32,768 none of 16,384 / 8,192 / 4,096 is sooner
    note = next(line for line in text.splitlines() if "global batch fixed" in line)
    assert note.startswith("note: with the global batch fixed at 512 sequences, the failures 65,536 chips add "
                           "outweigh their throughput: on 32,768 (half of them) the best layout, ")
    assert note.endswith(f"finishes in {sooner['time_to_train_days']:.3g} days against "
                         f"{data['time_to_train_days']:.3g} (--chips 32768)")
    # at the default batch (it grows with the chips) nothing is said
    default, text = _train(capsys, 65536)
    assert "sooner_on_fewer_chips" not in default and "global batch fixed" not in text


def test_a_budget_under_one_step_says_a_run_takes_a_whole_step(capsys, tmp_path, monkeypatch):
    """QA s36: 1e6 tokens read "time to train: 2.0 s" beside an 8.25 s step of 4.19M tokens."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    argv = ["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--search"]
    assert main([*argv, "--tokens", "1e6"]) == 0
    out = capsys.readouterr().out
    step = re.search(r"step ([\d.]+) s", out).group(1)
    assert (f"note: the budget of 1,000,000 tokens is under one step's 4,194,304 (512 sequences of 8,192): the "
            f"time to train is its share of a step; a run takes at least one step, {step} s") in out
    assert main([*argv, "--tokens", "1e9"]) == 0
    assert "under one step" not in capsys.readouterr().out


def test_the_note_blames_failures_only_where_the_fewer_chips_are_slower_at_steady_state():
    """QA s36: at 99.99% goodput the note said "the failures 131,072 chips add outweigh their
    throughput" where the fewer chips were faster at steady state as well."""
    from engine.studies import sooner_on_fewer_text

    layout = {"tp": 32, "pp": 2, "cp": 4, "vpp": 8}
    faster = sooner_on_fewer_text((32768, 598.9, layout, 8.85), 131072, 256, 9.4, 18_466_453.0)
    assert faster.startswith("with the global batch fixed at 256 sequences, the batch cannot use 131,072 chips "
                             "(18,466,453 tokens/s in all at steady state): on 32,768 (a quarter of them)")
    slower = sooner_on_fewer_text((32768, 1075.1, layout, 0.368), 65536, 512, 0.401, 36_130_000.0)
    assert slower.startswith("with the global batch fixed at 512 sequences, the failures 65,536 chips add outweigh "
                             "their throughput: on 32,768 (half of them)")


def test_a_run_that_makes_no_progress_names_the_fewer_count_that_finishes(capsys, tmp_path, monkeypatch):
    """QA s36: where failures outpace progress on every chip the batch cannot use, the error said
    "use fewer chips" without the count the search had just found."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    argv = ["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--search", "--tokens", "15e12",
            "--global-batch", "512", "--mtbf-chip-hours", "2000"]
    assert main([*argv, "--chips", "65536"]) == 1
    err = capsys.readouterr().err
    said = re.search(r"with the global batch fixed at 512 sequences, ([\d,]+) chips finish in ([\d.]+) days with "
                     r"the best layout, [^(]+\(--chips (\d+)\)$", err.strip())
    assert err.startswith("fleetcast: error: no progress on 65,536 chips") and said
    assert int(said.group(1).replace(",", "")) == int(said.group(3)) in (32768, 16384, 8192)
    assert main(["--format", "json", *argv, "--chips", said.group(3)]) == 0
    assert abs(json.loads(capsys.readouterr().out)["time_to_train_days"] - float(said.group(2))) < 0.06
