"""Huawei Ascend chips take the Ascend family's serving factors, never NVIDIA kernel fits (s28).

1. `inf_moe_read_eff@vllm` 0.445 and `@sglang` 0.691 were fitted on NVIDIA rows (vLLM's Triton
   fused-MoE kernel, SGLang's). At the default scope they applied on every chip, so a 910B2 with a
   blank engine (the forecast passes none) streamed routed experts at 0.445 x 0.526 of its HBM
   bandwidth: Qwen3-235B-A22B int8 TP8 served 23.0 output tokens/s per chip against MindIE's 57.4.
   On Ascend vLLM and SGLang run CANN kernels: Huawei chips read experts at the documented prior 1.0.
2. The Ascend 910A matched no Ascend row and took the generic (NVIDIA-fitted) inf_hbm_eff 0.831
   against the 910B family's 0.526, so it decoded faster than the 910B2 (Llama 3 70B TP8 lone
   request: 23.4 against 27.0 ms per token) though its HBM is 1,228 GB/s against 1,600.
"""

import pytest

import resources
from engine.calibration import FAMILY_SCOPES, chip_family
from engine.catalog import calibration_rows, read_csv_rows, reference_chips, reference_models, resolve_calibration
from engine.inference import ServingInputs, evaluate_serving, resolve_factors

CHIPS = reference_chips()
MODELS = reference_models()
A910, B2 = CHIPS["ascend-910a"], CHIPS["ascend-910b2"]
ENGINES = (None, "vllm", "sglang", "mindie", "vllm-ascend")
# the rows this fix added: every other chip resolves as it did without them
ADDED_SCOPES = ("Huawei", "ascend-910a")


def _lone_decode(chip, model="llama3-70b", tp=8, engine="", weight_dtype="bf16"):
    """The closed-form decode step of one request (static batch of 1): total and its parts, ms."""
    r = evaluate_serving(ServingInputs(model=MODELS[model], chip=chip, input_len=2000, output_len=300, tp=tp,
                                       scenario="static_batch", batch=1, engine=engine, weight_dtype=weight_dtype))
    return r.decode_breakdown_ms


# ---- 2: the 910A is an Ascend family chip ----------------------------------------------------

def test_the_910a_takes_the_910b_familys_serving_factors():
    b2_inf = {n: v for n, v in B2.calibration.items() if n.startswith("inf_")}
    assert b2_inf["inf_hbm_eff"] == pytest.approx(0.526)      # the family's fit, not the generic 0.831
    for name, value in b2_inf.items():
        assert A910.factor(name, -1.0) == value, name
    for engine in ENGINES:
        assert resolve_factors(A910, engine) == resolve_factors(B2, engine), engine


def test_the_910a_is_in_the_ascend_training_family_and_its_scopes():
    assert chip_family("ascend-910a") == chip_family("ascend-910b2") == chip_family("ascend-910c") == "ascend-910b"
    # a refit of the packaged training calibration writes the family's values for the 910A too
    assert "ascend-910a" in FAMILY_SCOPES["ascend-910b"]


def test_the_910a_trains_on_the_910b_familys_factors():
    for name in ("train_gemm_eff", "train_attn_eff", "train_hbm_eff", "train_scaleup_eff"):
        assert A910.factor(name, -1.0) == B2.factor(name, -2.0), name


def test_910b2_decodes_faster_than_910a_by_its_bandwidth():
    """By hand: the same Llama 3 70B TP8 shard (bytes per chip) read at the same efficiency, so the
    weight stream takes 1,600 / 1,228 as long on the 910A; the rest of the step is no shorter there."""
    a, b = _lone_decode(A910), _lone_decode(B2)
    assert a["weights_ms"] / b["weights_ms"] == pytest.approx(B2.hbm_gbps / A910.hbm_gbps, rel=1e-9)
    bytes_per_chip = b["weights_ms"] * 1e-3 * B2.hbm_gbps * 1e9 * 0.526
    assert bytes_per_chip == pytest.approx(70.6e9 * 2 / 8, rel=0.03)          # a 70B bf16 shard over 8 chips
    assert a["total_ms"] - a["weights_ms"] >= b["total_ms"] - b["weights_ms"]
    assert a["total_ms"] > b["total_ms"] + 5.0                                # 33.4 against 27.1 ms


# ---- 1: vLLM and SGLang on Ascend read experts at the prior ------------------------------------

@pytest.mark.parametrize("chip_id", ["ascend-910a", "ascend-910b1", "ascend-910b2", "ascend-910b3", "ascend-910b4",
                                     "ascend-910c"])
def test_vllm_and_sglang_on_ascend_read_routed_experts_at_the_prior(chip_id):
    for engine in ENGINES:
        assert resolve_factors(CHIPS[chip_id], engine)["inf_moe_read_eff"] == 1.0, engine


def test_qwen3_moe_on_a_910b2_streams_experts_alike_under_vllm_and_mindie():
    """The decode step's weight stream (dense and routed expert weights, batch 1) is one rate on a
    910B2 whichever engine runs it: 0.445 under vLLM had made it 2.2x MindIE's for the expert part."""
    kw = dict(model="qwen3-235b-a22b", weight_dtype="int8")
    vllm, blank, mindie = (_lone_decode(B2, engine=e, **kw) for e in ("vllm", "", "mindie"))
    assert vllm["weights_ms"] == pytest.approx(mindie["weights_ms"], rel=1e-9)
    assert blank["weights_ms"] == pytest.approx(mindie["weights_ms"], rel=1e-9)


def test_nvidia_and_amd_chips_keep_the_fitted_kernel_factors():
    for cid, chip in CHIPS.items():
        if (chip.vendor or "") in ("NVIDIA", "AMD"):
            assert resolve_factors(chip, "vllm")["inf_moe_read_eff"] == 0.445, cid
            assert resolve_factors(chip, "sglang")["inf_moe_read_eff"] == 0.691, cid
            assert resolve_factors(chip, "trtllm")["inf_moe_read_eff"] == 1.0, cid
    # on an H100 vLLM's expert stream is still slower than TRT-LLM's (the fit's physics)
    kw = dict(model="qwen3-235b-a22b", weight_dtype="fp8")
    h100 = CHIPS["h100-sxm5-80gb"]
    assert _lone_decode(h100, engine="vllm", **kw)["weights_ms"] > 1.2 * _lone_decode(h100, engine="trtllm", **kw)["weights_ms"]


def test_every_chip_but_huaweis_resolves_as_without_the_added_rows():
    rows = calibration_rows()
    before = [r for r in rows if (r.get("scope") or "").strip() not in ADDED_SCOPES]
    assert len(before) < len(rows)
    for row in read_csv_rows(resources.read_text("chips.csv")):
        if (row.get("vendor") or "").strip() == "Huawei":
            continue
        assert resolve_calibration(row, rows) == resolve_calibration(row, before), row["id"]


def test_a_calibrate_as_copy_under_another_vendor_serves_as_its_target():
    """QA s28: a copy of the 910B2 (vendor 'HiSilicon', calibrate_as ascend-910b2) matched the vendor
    scope on its own vendor and took NVIDIA's fused-MoE read factor: Qwen3-235B TP4 EP16 read 23.3
    output tokens/s per chip against the 910B2's 44.5, while its note said it took the 910B2's
    calibration. Every factor, vendor-scoped ones included, is the target's."""
    from dataclasses import replace as _replace

    from engine.catalog import calibration_rows, resolve_calibration

    rows = calibration_rows()
    target = dict(resolve_calibration(B2, rows))
    copy = _replace(B2, id="my-910b2", vendor="HiSilicon", calibrate_as="ascend-910b2")
    assert resolve_calibration(copy, rows) == target
    assert target["inf_moe_read_eff@vllm"] == 1.0
    # a chip of its own (no calibrate_as) still matches on its own vendor
    own = _replace(B2, id="my-npu", vendor="HiSilicon", calibrate_as="")
    assert resolve_calibration(own, rows)["inf_moe_read_eff@vllm"] == pytest.approx(0.445)
