"""QA s20 on the training engine: the recompute note's wording, the FP8 refusal on a chip
without BF16, and ZeRO stages at a data-parallel group of one."""

from dataclasses import replace

import pytest

from engine.catalog import reference_chips, reference_models
from engine.layout import dtype_problem, sixteen_bit_format
from engine.training import TrainingInputs, candidate_arrays, evaluate_layout, search_layouts

CHIPS = reference_chips()
MODELS = reference_models()


def test_the_recompute_note_gives_its_share_of_the_step():
    """Full recompute took 19.28 s of an 89.33 s step and the note said "adds 22%": the step
    without it was 68.26 s, so it added 31%. The note now says what the 22% is."""
    base = TrainingInputs(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=8, tp=2, pp=1,
                          dp=4, cp=1, zero_stage=1, micro_batch=1, global_batch_seqs=512)
    full = evaluate_layout(replace(base, recompute="full"))
    share = full.breakdown_s["recompute"] / full.step_time_s
    notes = [e for e in full.explanations if e.startswith("activation recompute")]
    assert notes == [f"activation recompute (full) takes {share:.0%} of the step"]
    assert not any(" adds " in e for e in full.explanations)


def test_the_fp8_refusal_names_the_16_bit_format_the_chip_has():
    """A V100 has FP16 matrix units only: "use BF16" sent it to a format it lacks."""
    v100, b2 = CHIPS["v100-sxm2-32gb"], CHIPS["ascend-910b2"]
    assert sixteen_bit_format(v100) == "fp16" and sixteen_bit_format(b2) == "bf16"
    assert dtype_problem("fp8", v100) == "V100 SXM2 32GB has no FP8 matrix units: use FP16."
    assert dtype_problem("fp8", b2) == "Ascend 910B2 has no FP8 matrix units: use BF16."


def _llama8b(num_chips, **kw):
    return TrainingInputs(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=num_chips,
                          global_batch_seqs=64, **kw)


def test_zero_stages_1_and_2_are_not_searched_without_a_group_to_shard_over():
    """TP8 on 8 chips (dp = cp = 1) listed ZeRO 0, 1, 2 and 3 as four layouts with one set of
    figures. Stages 1 and 2 are not searched there; 3 is (it keeps no 16-bit weight copy)."""
    L = candidate_arrays(_llama8b(8, tp=8, pp=1, cp=1))
    assert set(L["zero"]) == {0, 3}
    L = candidate_arrays(_llama8b(8))   # with dp x cp > 1 every stage is still searched
    alone = L["dp"] * L["cp"] == 1
    assert set(L["zero"][~alone]) == {0, 1, 2, 3} and set(L["zero"][alone]) == {0, 3}
    # a stage the user gives is evaluated as given
    assert set(candidate_arrays(_llama8b(8, tp=8, pp=1, cp=1, zero_stage=2))["zero"]) == {2}


def test_the_top_list_holds_no_zero_3_twin_of_a_layout_that_fits_at_zero_0():
    res = search_layouts(_llama8b(8, tp=8, pp=1, cp=1), top_k=4)
    assert [r.layout["zero_stage"] for r in res.top] == [0, 0, 0, 0]
    figures = [(r.step_time_s, r.memory_gib_per_chip) for r in res.top]
    assert len(set(figures)) == len(figures)
    # where only ZeRO-3 fits (8B on 2 H100 at TP2) it is still found and listed
    res = search_layouts(_llama8b(2, tp=2, pp=1, cp=1), top_k=10)
    listed = {(r.layout["micro_batch"], r.layout["recompute"], r.layout["zero_stage"]) for r in res.top}
    assert any(z == 3 for _, _, z in listed)
    for mb, rc, zero in listed:
        assert zero == 0 or (mb, rc, 0) not in listed
    twins = evaluate_layout(_llama8b(2, tp=2, pp=1, cp=1, dp=1, micro_batch=2, recompute="full", zero_stage=3))
    assert twins.feasible and (2, "full", 3) not in listed and (2, "full", 0) in listed


@pytest.mark.parametrize("zero", [1, 2, 3])
def test_a_group_of_one_runs_every_stage_at_the_speed_of_zero_0(zero):
    """What makes dropping the stages safe: at dp = cp = 1 they change no step time."""
    kw = dict(tp=8, pp=1, dp=1, cp=1, micro_batch=2, recompute="none")
    base = evaluate_layout(_llama8b(8, zero_stage=0, **kw))
    other = evaluate_layout(_llama8b(8, zero_stage=zero, **kw))
    assert other.step_time_s == base.step_time_s
    if zero < 3:
        assert other.memory_gib_per_chip == base.memory_gib_per_chip
