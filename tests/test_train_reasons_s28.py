"""`train` explains every infeasible layout by its reason, with its numbers (QA s28): the rules and
their words live once in engine.studies, used by the CLI and the Training view; ZeRO over a
data-parallel group of one shards nothing."""

import json

import pytest

import engine.cli as cli
from engine.catalog import reference_chips, reference_models
from engine.training import TrainingInputs, evaluate_layout
from tests.cli_run import use_packaged_catalog

H100 = "h100-sxm5-80gb"


@pytest.fixture(autouse=True)
def catalog_only(monkeypatch):
    use_packaged_catalog(monkeypatch)


def train(capsys, *flags, fmt="table"):
    code = cli.main(["--format", fmt, "train", "--chip", H100, *flags])
    out = capsys.readouterr()
    return code, out.out, out.err


def fixed(model, chips, tp, pp, dp, cp=1, **more):
    return TrainingInputs(model=reference_models()[model], chip=reference_chips()[more.pop("chip", H100)],
                          num_chips=chips, tp=tp, pp=pp, dp=dp, cp=cp, vpp=more.pop("vpp", 1),
                          micro_batch=more.pop("micro_batch", 1), zero_stage=more.pop("zero_stage", 1),
                          recompute=more.pop("recompute", "full"), **more)


@pytest.mark.parametrize("inputs, view, flags", [
    # EP 3 on Mixtral's 8 experts: "ep does not divide experts or tp x dp x cp" named no value
    (fixed("mixtral-8x7b", 24, 1, 1, 24, ep=3), "EP 3 does not divide Mixtral 8x7B's 8 experts: use a divisor of 8",
     "--ep 3 does not divide Mixtral 8x7B's 8 experts: use a divisor of 8"),
    # 32-token sequences cut into 2 x 64 chunks
    (fixed("llama3-8b", 64, 1, 1, 1, cp=64, seq_len=32, global_batch_seqs=1),
     "CP 64: sequences of 32 tokens are not a multiple of 2 x cp = 128",
     "--cp 64: sequences of 32 tokens are not a multiple of 2 x cp = 128"),
    # DualPipe on PP 3 with VPP 1: the reason led with "schedule needs vpp 1"
    (fixed("llama3-8b", 72, 8, 3, 3, schedule="dualpipe"), "DualPipe needs an even PP (not 3)",
     "--schedule dualpipe needs an even --pp (not 3)"),
    # batch 2 over dp 2 x micro-batch 1: 1 micro-batch per rank, DualPipe on pp 4 needs 8
    (fixed("llama3-8b", 64, 8, 4, 2, schedule="dualpipe", global_batch_seqs=2),
     "1 micro-batch (global batch 2 / (dp 2 x micro-batch 1)); DualPipe needs 2 x pp = 8",
     "1 micro-batch (global batch 2 / (dp 2 x micro-batch 1)); DualPipe needs 2 x pp = 8"),
    (fixed("llama3-70b", 24, 3, 1, 8), "TP 3 does not divide Llama 3 70B's 64 heads and 8 KV heads",
     "--tp 3 does not divide Llama 3 70B's 64 heads and 8 KV heads"),
])
def test_a_fixed_layouts_reason_names_the_field_value_and_rule(inputs, view, flags):
    from engine.studies import FLAG_NAMES, infeasible_detail

    result = evaluate_layout(inputs)
    assert not result.feasible
    assert infeasible_detail(result, inputs) == view
    assert infeasible_detail(result, inputs, FLAG_NAMES) == flags


def test_train_says_the_dualpipe_micro_batch_rule_with_its_numbers(capsys):
    code, _, err = train(capsys, "--model", "llama3-8b", "--chips", "64", "--tp", "8", "--pp", "4", "--dp", "2",
                         "--cp", "1", "--schedule", "dualpipe", "--global-batch", "2", "--micro-batch", "1",
                         "--zero", "1", "--recompute", "full")
    assert code == 1
    assert err.rstrip().endswith("is infeasible: 1 micro-batch (global batch 2 / (dp 2 x micro-batch 1)); "
                                 "DualPipe needs 2 x pp = 8"), err
    assert "vpp 1" not in err   # VPP is 1: not the rule at fault


def test_a_batch_that_no_chip_count_divides_is_named_not_the_chip_count(capsys):
    """dp x micro-batch 2 never divides a batch of 3: "try a chip count with more factors" was said."""
    code, _, err = train(capsys, "--model", "llama3-8b", "--chips", "64", "--search", "--global-batch", "3",
                         "--micro-batch", "2")
    assert code == 1 and "more factors" not in err
    assert ("global batch 3 is not a multiple of micro-batch 2 (dp x micro-batch must divide it on any chip "
            "count): use a multiple of 2, or micro-batch 1") in err
    code, _, err = train(capsys, "--model", "llama3-70b", "--chips", "64", "--search", "--global-batch", "2",
                         "--schedule", "dualpipe")
    assert code == 1 and "more factors" not in err
    # an even pp >= 2 needs 2 x 2 = 4 micro-batches of 1 per rank; 2 sequences give 2
    assert "global batch 2 allows at most 2 micro-batches (micro-batch 1); DualPipe needs an even pp" in err
    assert "use a global batch of 4 or more, or the 1F1B schedule" in err


@pytest.mark.parametrize("flags, said", [
    (["--dp", "3"], "matches --dp 3: dp = 3 does not divide 64 chips"),
    (["--tp", "8", "--dp", "3"], "matches --tp 8, --dp 3: tp x dp = 24 does not divide 64 chips"),
])
def test_an_unmatched_dp_says_it_does_not_divide_the_chips(capsys, flags, said):
    """pp and cp are free: "dp = 3 = 3, not 64" and "8 x 3 = 24, not 64" asked for a product of 64."""
    code, _, err = train(capsys, "--model", "llama3-70b", "--chips", "64", *flags)
    assert code == 1 and err.rstrip().endswith(said), err
    assert ", not 64" not in err


def test_fp8_on_a_chip_without_fp8_says_the_same_on_a_fixed_layout(capsys):
    fixed_flags = ["--tp", "8", "--pp", "1", "--dp", "1", "--cp", "1", "--micro-batch", "1", "--zero", "1",
                   "--recompute", "full"]
    answers = []
    for flags in (fixed_flags, ["--search"]):
        code = cli.main(["train", "--model", "llama3-8b", "--chip", "ascend-910b2", "--chips", "8", "--dtype", "fp8",
                         *flags])
        answers.append((code, capsys.readouterr().err.strip()))
    assert answers[0] == answers[1]
    assert answers[0][1].endswith("--dtype fp8: Ascend 910B2 has no FP8 matrix units: use BF16.")
    assert "fp8 not supported by chip" not in answers[0][1]


def test_zero3_over_one_rank_holds_what_zero0_holds():
    """Llama 3 8B at TP8 on 8 H100: dp x cp = 1, so ZeRO-3 shards nothing. It read 18.8 GiB against
    20.6 (the 16-bit copy, 8.03e9 / 8 x 2 bytes = 1.87 GiB, dropped as if sharded, less its gather
    buffers); FSDP runs NO_SHARD at world size 1."""
    from engine.studies import zero_note

    by_zero = {z: evaluate_layout(fixed("llama3-8b", 8, 8, 1, 1, zero_stage=z)) for z in (0, 1, 2, 3)}
    zero0 = by_zero[0]
    for z, r in by_zero.items():
        assert r.memory_gib_per_chip == pytest.approx(zero0.memory_gib_per_chip, rel=1e-12), z
        assert r.step_time_s == pytest.approx(zero0.step_time_s, rel=1e-12), z
        assert r.memory_breakdown_gib["weights"] == pytest.approx(8.03e9 / 8 * 2 / 2 ** 30, rel=0.01)
    assert zero_note(by_zero[3].layout).startswith("ZeRO-3 shards over the data-parallel group (dp x cp = 1 here)")
    assert zero_note(by_zero[1].layout) == ""   # ZeRO-1 is the default; nothing said
    # over two ranks ZeRO-3 still drops the 16-bit copy (weights 0) and saves memory
    two = {z: evaluate_layout(fixed("llama3-8b", 16, 8, 1, 2, zero_stage=z)) for z in (0, 3)}
    assert two[3].memory_breakdown_gib["weights"] == 0.0
    assert two[3].memory_gib_per_chip < two[0].memory_gib_per_chip - 1.5
    assert zero_note(two[3].layout) == ""


def test_the_cli_notes_zero3_over_one_rank(capsys):
    code, out, _ = train(capsys, "--model", "llama3-8b", "--chips", "8", "--tp", "8", "--pp", "1", "--dp", "1",
                         "--cp", "1", "--zero", "3", "--micro-batch", "1", "--recompute", "full", fmt="json")
    d = json.loads(out)
    assert code == 0 and d["zero_note"].startswith("ZeRO-3 shards over the data-parallel group")
    assert d["memory_gib_per_chip"] == pytest.approx(20.58, abs=0.01)


def test_a_rules_refusal_in_json_has_no_speed_notes(capsys):
    """TP 3 on Llama 3 70B: step_time_s null, yet "exposed TP communication takes 7% of the step"."""
    code, out, _ = train(capsys, "--model", "llama3-70b", "--chips", "24", "--tp", "3", "--pp", "1", "--dp", "8",
                         "--cp", "1", "--zero", "1", "--micro-batch", "1", "--recompute", "full", fmt="json")
    d = json.loads(out)
    assert code == 1 and d["step_time_s"] is None
    assert d["explanations"] and not any("of the step" in e for e in d["explanations"])
    # out of memory keeps them: the speed it would run at is flagged and kept
    code, out, _ = train(capsys, "--model", "llama3-8b", "--chips", "64", "--tp", "1", "--pp", "1", "--dp", "64",
                         "--micro-batch", "16", "--zero", "3", "--recompute", "full", fmt="json")
    d = json.loads(out)
    assert code == 1 and d["step_time_s"] > 0 and any("of the step" in e for e in d["explanations"])
