"""`fleetcast train` when no layout runs: the hint names what to change (QA: a flag that rules out
every layout was told to "try a chip count with more factors (a multiple of 8)" on 512, 64 and 8
chips, and a fixed layout out of memory that "more chips are needed")."""

import json

import pytest

import engine.cli as cli
from tests.cli_run import use_packaged_catalog


@pytest.fixture(autouse=True)
def catalog_only(monkeypatch):
    use_packaged_catalog(monkeypatch)


def train(capsys, *flags, fmt="table"):
    code = cli.main(["--format", fmt, "train", "--chip", "h100-sxm5-80gb", *flags])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("flags, fix", [
    # zero-bubble runs one chunk per stage: every layout with --vpp 5 breaks it
    (["--model", "llama3-70b", "--chips", "512", "--tp", "8", "--pp", "4", "--dp", "16", "--vpp", "5",
      "--schedule", "zero-bubble"], "--schedule zero-bubble runs one chunk per stage: drop --vpp 5"),
    # Mixtral 8x7B has 8 experts: EP 16 cannot split them
    (["--model", "mixtral-8x7b", "--chips", "64", "--ep", "16", "--search"],
     "--ep 16: Mixtral 8x7B has 8 experts; use --ep 8 or fewer"),
    (["--model", "mixtral-8x7b", "--chips", "64", "--ep", "3", "--search"],
     "--ep 3 does not divide Mixtral 8x7B's 8 experts"),
    # interleaving needs stages to interleave
    (["--model", "llama3-8b", "--chips", "8", "--vpp", "2", "--pp", "1"],
     "--vpp 2 interleaves pipeline stages: give --pp 2 or more"),
    # QA: 12 micro-batches on 8 interleaved stages read "global batch not divisible by dp x
    # micro-batch" (1 divides 12) and was told to try another chip count
    (["--model", "llama3-70b", "--chips", "64", "--tp", "8", "--pp", "8", "--dp", "1", "--global-batch", "12",
      "--vpp", "2"], "--vpp 2 interleaves: its micro-batches (--global-batch 12 / 1) must be a multiple of --pp 8; "
                     "e.g. --global-batch 16"),
    # Llama 3 8B has 32 layers: 2 stages of 16 cannot hold 32 chunks each
    (["--model", "llama3-8b", "--chips", "64", "--pp", "2", "--vpp", "32", "--search"],
     "--vpp 32 needs a layer in every chunk of every stage; --pp 2 over 32 layers allows --vpp 16 at most"),
])
def test_a_flag_that_rules_out_every_layout_is_named_as_the_fix(capsys, flags, fix):
    code, _, err = train(capsys, *flags)
    assert code == 1 and fix in err, err
    assert "more factors" not in err and "multiple of 8" not in err and "Traceback" not in err


def test_the_zero_bubble_reason_names_zero_bubble_not_dualpipe(capsys):
    code, _, err = train(capsys, "--model", "llama3-70b", "--chips", "512", "--tp", "8", "--pp", "4", "--dp", "16",
                         "--vpp", "5", "--schedule", "zero-bubble")
    assert code == 1 and "zero-bubble needs vpp 1" in err and "dualpipe" not in err
    # the JSON keeps the search's reason as its key (stable for scripts)
    code, out, _ = train(capsys, "--model", "llama3-70b", "--chips", "512", "--tp", "8", "--pp", "4", "--dp", "16",
                         "--vpp", "5", "--schedule", "zero-bubble", fmt="json")
    assert any(k.startswith("schedule needs vpp 1") for k in json.loads(out)["infeasible_by_reason"])


def test_a_fixed_layout_out_of_memory_says_the_layout_does_not_fit_not_more_chips(capsys):
    """70B at TP1 PP4 with ZeRO-1 on 512 H100: 4 stages of a 70B model do not fit in 80 GiB, on any
    chip count; ZeRO-3 with the layout kept, or a searched TP x PP, does fit on these 512."""
    code, _, err = train(capsys, "--model", "llama3-70b", "--chips", "512", "--tp", "1", "--pp", "4",
                         "--micro-batch", "1", "--zero", "1", "--recompute", "selective")
    assert code == 1 and "out of memory" in err and "more chips are needed" not in err
    assert "the fixed --tp 1 --pp 4 does not fit in memory: keep it with --zero 3" in err
    assert "drop --tp --pp to search" in err
    # the fix it names runs
    code, out, err = train(capsys, "--model", "llama3-70b", "--chips", "512", "--tp", "1", "--pp", "4",
                           "--micro-batch", "1", "--zero", "3", "--recompute", "selective")
    assert code == 0, err


def test_only_factor_count_reasons_get_the_chip_count_hint():
    """The chip-count hint is for counts that factor badly (a multiple of 8 said only where the
    count is not one); no flag named, nothing pinned."""
    from argparse import Namespace
    from types import SimpleNamespace

    from engine.catalog import reference_chips, reference_models
    from engine.commands.train import _no_layout_hint
    from engine.training import TrainingInputs

    flags = {k: None for k in ("tp", "pp", "dp", "cp", "ep", "vpp", "micro_batch", "zero", "recompute")}
    result = SimpleNamespace(infeasible_by_reason={"tp does not divide heads": 3, "out of memory": 5})
    # 20 chips: not a multiple of 8, the count is the problem; 64: a multiple of 8 whose layouts that
    # pass the other rules run out of memory: memory is (QA s23: "more factors" was said for 128 H800)
    for chips, said in ((20, "; try a chip count with more factors (a multiple of 8) or another --global-batch"),
                        (64, "; more chips are needed: the 5 layouts that pass the other rules run out of memory")):
        inputs = TrainingInputs(model=reference_models()["llama3-70b"], chip=reference_chips()["h100-sxm5-80gb"],
                                num_chips=chips)
        assert _no_layout_hint(Namespace(chips=chips, **flags), inputs, result, None).startswith(said)


def test_the_search_summary_counts_layouts_after_the_reason(capsys):
    """"tp does not divide heads 3": the 3 was a count of layouts and read as a head count."""
    code, out, _ = train(capsys, "--model", "llama3-8b", "--chips", "64", "--search", "--schedule", "zero-bubble")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("infeasible layouts by reason: "))
    assert "tp does not divide heads (30 layouts)" in line and "heads 30" not in line


def test_a_fixed_interleaved_layout_names_the_micro_batch_rule():
    from engine.catalog import reference_chips, reference_models
    from engine.studies import infeasible_detail
    from engine.training import TrainingInputs, evaluate_layout

    inputs = TrainingInputs(model=reference_models()["llama3-70b"], chip=reference_chips()["h100-sxm5-80gb"],
                            num_chips=64, tp=8, pp=8, vpp=2, dp=1, cp=1, zero_stage=1, micro_batch=1,
                            global_batch_seqs=12, recompute="selective")
    res = evaluate_layout(inputs)
    assert not res.feasible
    assert infeasible_detail(res) == "interleaved pipeline (vpp 2): its 12 micro-batches are not a multiple of pp 8"


def test_a_layout_given_but_dp_is_evaluated_with_its_memory_figures(capsys):
    """QA: --tp 1 --pp 1 --cp 1 --zero 0 --recompute full --micro-batch 1 on 64 chips searched its one
    layout and said only 'out of memory: 1'; with --dp 64 it named the 150.7 GiB and each part."""
    code, _, err = train(capsys, "--model", "llama3-8b", "--chips", "64", "--tp", "1", "--pp", "1", "--cp", "1",
                         "--zero", "0", "--recompute", "full", "--micro-batch", "1")
    assert code == 1 and "layout TP1 x PP1 x VPP1 x DP64 x CP1" in err
    assert "out of memory: 150.7 GiB needed per chip, 80 GiB available (weights 15.0, gradients 29.9" in err
