"""QA s22: interleaving (vpp > 1) needs a whole layer in every chunk of every stage, end stages too.

126 layers on 33 stages put 4 layers on each middle stage and 1 on each end; the search checked only
the fullest stage, so it proposed TP4 PP33 VPP4, whose end stages ran three of their four chunks
empty, and a user's --vpp 4 was priced as if it ran.
"""

from dataclasses import replace

import numpy as np
import pytest

import engine.cli as cli
from engine.catalog import reference_chips, reference_models
from engine.layout import layout_problems
from engine.training import (TrainingInputs, candidate_arrays, evaluate_layout, interleaving_fits, max_vpp,
                             search_layouts)

MODELS = reference_models()
CHIPS = reference_chips()
VPP_REASON = "vpp needs pp > 1 and enough layers"


def _llama405b(num_chips: int) -> TrainingInputs:
    return TrainingInputs(model=MODELS["llama3-405b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=num_chips)


@pytest.mark.parametrize(("layers", "pp", "most"), [
    (126, 33, 2),    # ends hold 1 layer + the embedding / logits: two chunks, not four
    (126, 16, 8),    # Llama 3's own PP16 x VPP8: ends hold 7 layers + the embedding / logits
    (126, 32, 4),    # ends 3 + 1
    (126, 64, 2),    # ends 1 + 1
    (60, 16, 3),     # DeepSeek-V2: 4 per middle stage, 2 + 1 on each end
    (105, 28, 3),    # the ends cannot give up 7 layers: an even spread, 3 or 4 per stage
    (126, 1, 1),     # no pipeline, no interleaving
])
def test_the_most_chunks_a_pipeline_allows_counts_its_lightest_stage(layers, pp, most):
    assert max_vpp(layers, pp) == most
    assert interleaving_fits(layers, pp, most) == (pp > 1)
    assert not interleaving_fits(layers, pp, most + 1)


def test_the_search_leaves_no_chunk_of_an_end_stage_empty():
    inp = _llama405b(16368)                       # 16,368 = 2^4 x 3 x 11 x 31: pp 33 is a candidate
    cand = candidate_arrays(inp)
    on_33 = cand["pp"] == 33
    assert on_33.any() and cand["vpp"][on_33].max() == 2
    top = search_layouts(inp).top
    assert top and all(r.layout["vpp"] <= max_vpp(126, r.layout["pp"]) for r in top)


def test_a_given_layout_with_empty_end_chunks_is_refused_with_its_reason():
    fixed = replace(_llama405b(16368), tp=4, pp=33, vpp=4, cp=4, dp=31, micro_batch=1, zero_stage=1, recompute="none")
    assert evaluate_layout(fixed).reason == VPP_REASON and not evaluate_layout(fixed).feasible
    assert evaluate_layout(replace(fixed, vpp=2)).reason != VPP_REASON
    # Meta's layout keeps its interleaving: 7 layers and the embedding on each end stage, 8 chunks
    meta = replace(_llama405b(8192), tp=8, pp=16, vpp=8, cp=1, seq_len=8192, global_batch_seqs=2048)
    assert evaluate_layout(meta).feasible


def test_the_training_view_names_the_vpp_that_fits():
    model = MODELS["llama3-405b"]
    problems = layout_problems({"tp": 4, "pp": 33, "cp": 4, "ep": 1, "vpp": 4, "micro_batch": 1}, 16368, model)
    assert [(p.key, p.message) for p in problems] == [
        ("vpp", "VPP 4 leaves chunks with no layer: PP 33 over 126 layers allows VPP 2 at most.")]
    assert layout_problems({"tp": 8, "pp": 16, "cp": 1, "ep": 1, "vpp": 8, "micro_batch": 1}, 8192, model) == []
    assert [p.key for p in layout_problems({"tp": 8, "pp": 1, "vpp": 2}, 8, MODELS["llama3-8b"])] == ["vpp"]


def test_train_refuses_the_layout_in_one_line_and_suggests_none(capsys, tmp_path):
    db = str(tmp_path / "t.db")
    given = ["--db", db, "train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb", "--chips", "16368",
             "--tp", "4", "--pp", "33", "--vpp", "4", "--cp", "4", "--dp", "31"]
    assert cli.main(given) != 0
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and VPP_REASON in err and "Traceback" not in err
    searched = ["--db", db, "train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb", "--chips", "16381", "--search"]
    cli.main(searched)
    assert "PP33 VPP4" not in capsys.readouterr().err
    assert np.all(interleaving_fits(126, np.array([16, 32]), np.array([8, 4])))


def test_the_refusal_of_a_given_vpp_names_the_most_the_stages_allow(tmp_path, capsys):
    """`train --pp 33 --vpp 4` on 126 layers: the fix names VPP 2, not "more layers per stage" (the
    fullest stage has 4) nor another chip count."""
    from gui.__main__ import main

    code = main(["--db", str(tmp_path / "v.db"), "train", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb",
                 "--chips", "16368", "--tp", "4", "--pp", "33", "--vpp", "4", "--cp", "4", "--dp", "31"])
    err = capsys.readouterr().err
    assert code != 0
    assert "--vpp 4 needs a layer in every chunk of every stage; --pp 33 over 126 layers allows --vpp 2 at most" in err
