"""The layout schema: ranges, user-word problems and the reason enum (no Qt)."""

import argparse

from engine.catalog import reference_chips, reference_models
from engine.layout import DIMENSION, DIMENSIONS, Infeasible, data_parallel, dtype_problem, layout_problems
from engine.training import REASONS


def test_reason_enum_matches_the_search_codes():
    assert [Infeasible(i).text for i in range(len(REASONS))] == list(REASONS)
    assert Infeasible.from_text("out of memory") is Infeasible.OUT_OF_MEMORY
    assert Infeasible.from_text("no such reason") is None
    assert Infeasible.OUT_OF_MEMORY.code == "OOM"


def test_layout_problems_in_user_words():
    model = reference_models()["llama3-70b"]  # 64 heads, 80 layers, dense
    problems = layout_problems({"tp": 3, "pp": 4, "cp": 1, "ep": 2}, num_chips=1024, model=model)
    assert [(p.key, p.message) for p in problems] == [
        ("tp", "TP × PP × CP = 12 does not divide 1,024 chips: use 1,020 or 1,032 chips, or another layout."),
        ("tp", "TP 3 does not divide the 64 attention heads."),
        ("ep", "EP applies to MoE models only; set 1 for a dense model."),
    ]
    assert layout_problems({"tp": 8, "pp": 4, "cp": 1, "ep": 1}, num_chips=1024, model=model) == []
    assert [p.key for p in layout_problems({"pp": 96}, 96, model)] == ["pp"]
    out_of_range = layout_problems({"tp": 128}, 1024, model)
    assert out_of_range[0].message == "TP 128: use 1 to 64 ways."
    assert data_parallel(1024, {"tp": 8, "pp": 4}) == 32


def test_dimension_ranges_drive_argparse_and_checks():
    parser = argparse.ArgumentParser()
    for d in DIMENSIONS:
        parser.add_argument(d.flag, type=int, dest=d.key)
    args = parser.parse_args(["--tp", "8", "--micro-batch", "2"])
    assert args.tp == 8 and args.micro_batch == 2
    assert DIMENSION["tp"].check(65) == "--tp: 65 (must be a whole number from 1 to 64 ways)"
    assert DIMENSION["tp"].check(64) == ""


def test_dtype_problem():
    chips = reference_chips()
    assert dtype_problem("fp8", chips["ascend-910b2"]) == "Ascend 910B2 has no FP8 matrix units: use BF16."
    assert dtype_problem("fp8", chips["h100-sxm5-80gb"]) == ""
    assert dtype_problem("bf16", chips["ascend-910b2"]) == ""
