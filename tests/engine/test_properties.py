"""Cross-engine properties over random architectures, chips and layouts (hypothesis).

Whatever the input, an engine either returns finite numbers or rejects the input with a
`UserError` naming the problem; more of any hardware resource never makes a result worse.
"""

import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from engine.catalog import reference_chips
from engine.errors import UserError
from engine.models import ModelConfig

CHIPS = reference_chips()
CHIP_IDS = ["h100-sxm5-80gb", "a100-sxm4-80gb", "ascend-910b2", "h20-96gb", "h800-sxm5-80gb", "mi300x", "tpu-v5p"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def architectures(draw):
    heads = draw(st.sampled_from([8, 16, 32, 64, 128]))
    head_dim = draw(st.sampled_from([64, 128]))
    kv_heads = draw(st.sampled_from([h for h in (1, 2, 4, 8, heads) if heads % h == 0]))
    layers = draw(st.integers(2, 96))
    hidden = heads * head_dim
    moe = draw(st.booleans())
    kwargs = dict(id="rand", name="random", layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads,
                  vocab=draw(st.sampled_from([32000, 128256])), seq_len=draw(st.sampled_from([1024, 2048, 4096, 8192])),
                  gated_ffn=draw(st.booleans()))
    if moe:
        experts = draw(st.sampled_from([8, 16, 64]))
        kwargs.update(moe_experts=experts, moe_topk=draw(st.integers(1, min(8, experts))),
                      moe_ffn_hidden=draw(st.sampled_from([512, 1024, 4096])), ffn_hidden=0)
    else:
        kwargs.update(ffn_hidden=draw(st.sampled_from([2, 3, 4])) * hidden)
    model = ModelConfig(**kwargs)
    assert model.validate() == []
    return model


def _finite(*values):
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


# ---- training ----------------------------------------------------------------------------------

def _training_result(model, chip, n, tp, pp, recompute):
    from engine.training import TrainingInputs, evaluate_layout

    inputs = TrainingInputs(model=model, chip=chip, num_chips=n, tp=tp, pp=pp, dp=n // (tp * pp), cp=1, ep=1,
                            vpp=1, zero_stage=1, micro_batch=1, recompute=recompute,
                            global_batch_seqs=max(n // (tp * pp), 1) * 8)
    return evaluate_layout(inputs)


@SETTINGS
@given(model=architectures(), chip_id=st.sampled_from(CHIP_IDS), log_n=st.integers(0, 10),
       tp=st.sampled_from([1, 2, 4, 8]), pp=st.sampled_from([1, 2, 4]),
       recompute=st.sampled_from(["none", "selective", "full"]))
def test_training_is_finite_or_rejected_and_breakdown_sums(model, chip_id, log_n, tp, pp, recompute):
    n = 2 ** log_n
    assume(n % (tp * pp) == 0)
    try:
        result = _training_result(model, CHIPS[chip_id], n, tp, pp, recompute)
    except UserError as exc:
        assert str(exc)
        return
    if not result.feasible:
        assert result.reason  # infeasible always says why
        return
    assert _finite(result.step_time_s, result.tokens_per_s_per_chip, result.mfu_pct, result.memory_gib_per_chip)
    assert result.step_time_s > 0 and result.tokens_per_s_per_chip > 0
    assert 0 < result.mfu_pct <= 100
    assert sum(result.breakdown_s.values()) == pytest.approx(result.step_time_s, rel=1e-6)
    assert all(v >= 0 for v in result.breakdown_s.values())


@SETTINGS
@given(model=architectures(), chip_id=st.sampled_from(CHIP_IDS), log_n=st.integers(3, 9),
       tp=st.sampled_from([1, 2, 8]), pp=st.sampled_from([1, 2]),
       field=st.sampled_from(["bf16_tflops", "hbm_gbps", "scaleup_gbps", "scaleout_gbps"]))
def test_training_more_hardware_is_never_slower(model, chip_id, log_n, tp, pp, field):
    n = 2 ** log_n
    assume(n % (tp * pp) == 0)
    chip = CHIPS[chip_id]
    assume(getattr(chip, field))
    faster = replace(chip, **{field: getattr(chip, field) * 2})
    if field == "bf16_tflops":
        faster = replace(faster, fp16_tflops=(chip.fp16_tflops or 0) * 2 or None)
    try:
        base = _training_result(model, chip, n, tp, pp, "selective")
        more = _training_result(model, faster, n, tp, pp, "selective")
    except UserError:
        return
    assume(base.feasible and more.feasible)
    assert more.step_time_s <= base.step_time_s * (1 + 1e-9)


# ---- inference ---------------------------------------------------------------------------------

def _serving(model, chip, tp, concurrency, input_len, output_len):
    from engine.inference import ServingInputs, evaluate_serving

    return evaluate_serving(ServingInputs(model=model, chip=chip, input_len=input_len, output_len=output_len,
                                          tp=tp, scenario="concurrency", concurrency=concurrency,
                                          requests=max(2 * concurrency, 16)))


@SETTINGS
@given(model=architectures(), chip_id=st.sampled_from(CHIP_IDS), tp=st.sampled_from([1, 2, 4, 8]),
       concurrency=st.integers(1, 512), input_len=st.integers(1, 32000), output_len=st.integers(1, 4000))
def test_serving_is_finite_or_rejected(model, chip_id, tp, concurrency, input_len, output_len):
    try:
        result = _serving(model, CHIPS[chip_id], tp, concurrency, input_len, output_len)
    except UserError as exc:
        assert str(exc)
        return
    if not result.feasible:
        assert result.reason
        return
    assert _finite(result.ttft_ms, result.tpot_ms, result.output_tokens_per_s_per_chip, result.max_concurrency)
    assert result.ttft_ms > 0 and result.tpot_ms > 0 and result.output_tokens_per_s_per_chip > 0


@SETTINGS
@given(model=architectures(), chip_id=st.sampled_from(CHIP_IDS), tp=st.sampled_from([1, 2, 8]),
       concurrency=st.integers(1, 256), field=st.sampled_from(["hbm_gbps", "bf16_tflops", "scaleup_gbps"]))
def test_serving_more_hardware_never_lowers_throughput(model, chip_id, tp, concurrency, field):
    chip = CHIPS[chip_id]
    assume(getattr(chip, field))
    faster = replace(chip, **{field: getattr(chip, field) * 2})
    if field == "bf16_tflops":
        faster = replace(faster, fp16_tflops=(chip.fp16_tflops or 0) * 2 or None)
    try:
        base = _serving(model, chip, tp, concurrency, 1000, 200)
        more = _serving(model, faster, tp, concurrency, 1000, 200)
    except UserError:
        return
    assume(base.feasible and more.feasible)
    assert more.output_tokens_per_s_per_chip >= base.output_tokens_per_s_per_chip * (1 - 1e-9)
    assert more.tpot_ms <= base.tpot_ms * (1 + 1e-9)
