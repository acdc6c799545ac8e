"""vLLM's and SGLang's fitted fused-MoE read factors apply only where their Triton kernel runs (s29).

`inf_moe_read_eff@vllm` 0.445 and `@sglang` 0.691 were fitted on NVIDIA rows (H200 vLLM Qwen3-235B-A22B,
H200/H100 SGLang DeepSeek-R1) running the Triton fused-MoE kernel. At the `default` scope they applied
to every vendor but Huawei (which had rows of its own at the prior 1.0), so a Gaudi 3 (Habana kernels),
a TPU (Pallas/JAX) or a user's chip of any other vendor streamed routed experts at 0.445 of its dense
weight stream under vLLM. They now sit at the vendor scopes whose builds run that kernel (NVIDIA, AMD's
ROCm, Hygon's HIP-based DTK); everything else reads experts at the documented prior 1.0.
"""

import csv

import pytest

import resources
from engine.catalog import calibration_rows, reference_chips, reference_models
from engine.inference import ServingInputs, evaluate_serving, resolve_factors

CHIPS = reference_chips()
MODELS = reference_models()
VLLM_READ, SGLANG_READ = 0.445, 0.691
TRITON_VENDORS = ("NVIDIA", "AMD", "Hygon")
INF_HBM_EFF = 0.831   # the default-scope dense weight stream efficiency every chip here takes


def _catalog_rows() -> list[dict]:
    return list(csv.DictReader(resources.read_text("chips.csv").splitlines()))


def _lone_decode(chip, engine="vllm", factors=None, model="qwen3-235b-a22b", weight_dtype="bf16"):
    """One request decoding alone (static batch of 1) at TP8: (TPOT ms, the step's breakdown)."""
    r = evaluate_serving(ServingInputs(model=MODELS[model], chip=chip, input_len=2000, output_len=300, tp=8,
                                       scenario="static_batch", batch=1, engine=engine, weight_dtype=weight_dtype,
                                       factors=factors))
    assert r.feasible, r.reason
    return r.tpot_ms, r.decode_breakdown_ms


def _expert_stream_ms(chip, model="qwen3-235b-a22b", bytes_per_param=2, tp=8) -> float:
    """By hand: at batch 1 a token touches top-k experts per MoE layer; TP8 (EP1) splits each expert's
    three matrices over 8 chips; those bytes stream at spec HBM x inf_hbm_eff (read factor 1)."""
    m = MODELS[model]
    expert_params = 3 * m.hidden * m.moe_ffn_hidden
    bytes_chip = m.moe_topk * expert_params * m.layers * bytes_per_param / tp   # every Qwen3 layer is MoE
    return 1e3 * bytes_chip / (chip.hbm_gbps * 1e9 * INF_HBM_EFF)


# ---- the packaged scopes ---------------------------------------------------------------------

def test_the_fitted_read_keys_sit_at_triton_vendor_scopes_not_the_default():
    rows = [r for r in calibration_rows() if r["factor"].strip() in ("inf_moe_read_eff@vllm", "inf_moe_read_eff@sglang")]
    by_scope = {(r["scope"].strip(), r["factor"].strip()): float(r["value"]) for r in rows}
    assert by_scope == {(v, f"inf_moe_read_eff@{fam}"): val for v in TRITON_VENDORS
                        for fam, val in (("vllm", VLLM_READ), ("sglang", SGLANG_READ))}
    prior = [r for r in calibration_rows() if (r["scope"].strip(), r["factor"].strip()) == ("default", "inf_moe_read_eff")]
    assert [float(r["value"]) for r in prior] == [1.0]


@pytest.mark.parametrize("row", _catalog_rows(), ids=lambda r: r["id"])
def test_every_catalog_chip_reads_experts_by_its_vendors_kernel(row):
    chip = CHIPS[row["id"]]
    triton = row["vendor"] in TRITON_VENDORS
    assert resolve_factors(chip, "vllm")["inf_moe_read_eff"] == (VLLM_READ if triton else 1.0)
    assert resolve_factors(chip, "sglang")["inf_moe_read_eff"] == (SGLANG_READ if triton else 1.0)
    for engine in ("trtllm", "mindie", "vllm-ascend", "tgi", "generic"):
        assert resolve_factors(chip, engine)["inf_moe_read_eff"] == 1.0, engine


# ---- serving predictions -------------------------------------------------------------------

@pytest.mark.parametrize("chip_id", ["gaudi3", "tpu-v5p"])
def test_qwen3_moe_on_vllm_off_nvidia_streams_experts_at_the_prior(chip_id):
    """Qwen3-235B-A22B BF16 TP8 on vLLM, one request: the expert part of the weight stream is
    E / bw at read factor 1 where it was E / (bw x 0.445), so TPOT falls by E / bw x (1/0.445 - 1).
    Gaudi 3: E = 8 x 3 x 4096 x 1536 x 94 x 2 B / 8 = 3.548 GB per chip, bw = 3,670 GB/s x 0.831
    = 3,050 GB/s, E / bw = 1.163 ms, so TPOT 10.479 -> 9.028 ms (-1.451 ms)."""
    chip = CHIPS[chip_id]
    expert_ms = _expert_stream_ms(chip)
    tpot_now, parts_now = _lone_decode(chip)
    tpot_then, parts_then = _lone_decode(chip, factors={"inf_moe_read_eff@vllm": VLLM_READ})
    drop_ms = expert_ms * (1.0 / VLLM_READ - 1.0)
    assert tpot_then - tpot_now == pytest.approx(drop_ms, rel=1e-6)
    assert parts_then["weights_ms"] - parts_now["weights_ms"] == pytest.approx(drop_ms, rel=1e-6)
    # vLLM now streams the experts as TensorRT-LLM's grouped GEMMs do (both at the prior)
    assert parts_now["weights_ms"] == pytest.approx(_lone_decode(chip, engine="trtllm")[1]["weights_ms"], rel=1e-12)
    if chip_id == "gaudi3":
        assert expert_ms == pytest.approx(1.163, abs=5e-4)
        assert drop_ms == pytest.approx(1.451, abs=5e-4)


@pytest.mark.parametrize("chip_id", ["h100-sxm5-80gb", "mi300x"])
def test_nvidia_and_amd_moe_serving_keeps_the_fitted_kernel_factor(chip_id):
    chip = CHIPS[chip_id]
    for engine, read in (("vllm", VLLM_READ), ("sglang", SGLANG_READ)):
        tpot, parts = _lone_decode(chip, engine=engine)
        assert (tpot, parts) == _lone_decode(chip, engine=engine, factors={f"inf_moe_read_eff@{engine}": read})
        # and the factor is live in the step: at the prior the expert stream is faster by the hand figure
        tpot_prior, _ = _lone_decode(chip, engine=engine, factors={f"inf_moe_read_eff@{engine}": 1.0})
        assert tpot - tpot_prior == pytest.approx(_expert_stream_ms(chip) * (1.0 / read - 1.0), rel=1e-6)


def test_sglang_on_a_tpu_reads_deepseek_experts_as_vllm_does():
    chip = CHIPS["tpu-v5p"]
    kw = dict(model="deepseek-v3", weight_dtype="fp8")
    assert _lone_decode(chip, engine="sglang", **kw)[1]["weights_ms"] == pytest.approx(
        _lone_decode(chip, engine="vllm", **kw)[1]["weights_ms"], rel=1e-12)


# ---- chips a user adds ------------------------------------------------------------------------

def _user_chip(tmp_path, **fields):
    from engine.store import open_store

    base = next(r for r in _catalog_rows() if r["id"] == "gaudi3")
    store = open_store(str(tmp_path / "chips.db"))
    try:
        store.add_chip({**base, "id": "acme-x1", "name": "Acme X1", **fields})
        return store.chip("acme-x1")
    finally:
        store.close()


def test_a_user_chip_of_an_unknown_vendor_reads_experts_at_the_prior(tmp_path):
    chip = _user_chip(tmp_path, vendor="Acme")
    assert resolve_factors(chip, "vllm")["inf_moe_read_eff"] == 1.0
    assert resolve_factors(chip, "sglang")["inf_moe_read_eff"] == 1.0


def test_a_user_chip_calibrated_as_the_h100_takes_the_nvidia_kernel_factor(tmp_path):
    chip = _user_chip(tmp_path, vendor="Acme", calibrate_as="h100-sxm5-80gb")
    assert resolve_factors(chip, "vllm")["inf_moe_read_eff"] == VLLM_READ
    assert resolve_factors(chip, "sglang")["inf_moe_read_eff"] == SGLANG_READ


def test_a_user_chip_naming_a_triton_vendor_takes_its_factor(tmp_path):
    """Vendor scopes match case-insensitively (engine.catalog.scope_rank)."""
    chip = _user_chip(tmp_path, vendor="amd")
    assert resolve_factors(chip, "vllm")["inf_moe_read_eff"] == VLLM_READ


# ---- the fitting code reads the keys at their new scopes ----------------------------------------

def test_the_holdout_refit_fits_the_nvidia_key_on_the_nvidia_chips():
    from engine.validation_inference import fitted_parameters

    params = {f"{p['scope']}:{p['name']}": p for p in fitted_parameters(CHIPS)}
    for vendor in TRITON_VENDORS:
        for fam in ("vllm", "sglang"):
            p = params[f"{vendor}:inf_moe_read_eff@{fam}"]
            assert p["family"] == fam
            assert p["chips"] == {cid for cid, c in CHIPS.items() if c.vendor == vendor}
    # the prior is never a fitted parameter, at any scope
    assert not [k for k in params if k.split(":", 1)[1] == "inf_moe_read_eff"]
    assert not [k for k in params if k.startswith("default:inf_moe_read_eff")]


@pytest.mark.parametrize("chip_id, start", [("gaudi3", 1.0), ("h100-sxm5-80gb", VLLM_READ)])
def test_calibrate_fits_the_vllm_key_from_the_value_the_chip_runs_at(chip_id, start):
    """`fleetcast calibrate inference --factors inf_moe_read_eff` on vLLM runs fits the @vllm key
    (the one vLLM reads) from the chip's current value: 1.0 on a Gaudi 3, 0.445 on an H100."""
    from engine.commands.calibrate import _inference_keys

    rows = [{"chip": chip_id, "engine": "vllm@0.12.0"}]
    assert _inference_keys(("inf_moe_read_eff",), rows, CHIPS[chip_id]) == (
        ("inf_moe_read_eff@vllm",), {"inf_moe_read_eff@vllm": start})
