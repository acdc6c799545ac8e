"""TP traffic of MoE layers and all-gather CP traffic, by hand (engine/training_comm.py).

Megatron-Core with sequence parallelism and the all-to-all dispatcher: attention and any dense TP
MLP (a dense layer's, or a MoE layer's shared experts) all-gather and reduce-scatter b*s*h forward
and backward (4 ring passes each); a MoE layer's routed experts all-gather their ~k*T/tp received
token copies over the expert-TP group after the EP all-to-all and reduce-scatter them back in
combine (4 collectives of k*T*(etp/tp)*h), and nothing at all with ETP = 1. All-gather CP
(TransformerEngine's AttnFuncWithCPAndKVAllGather) gathers K/V forward, gathers them again in
backward (only the local chunk is saved) and reduce-scatters dK/dV: 3 collectives, 4 with full
recompute.
"""

from dataclasses import replace

import pytest

from engine.catalog import reference_chips, reference_models
from engine.training import TrainingInputs, evaluate_layout

CHIPS = reference_chips()
MODELS = reference_models()
H20 = CHIPS["h20-96gb"]
H100 = CHIPS["h100-sxm5-80gb"]
CLEAN = {"train_scaleup_eff": 1.0, "train_latency_us": 0.0, "train_tp_overlap": 0.0}


def _ring_s(group, nbytes, gbps=450.0, eff=1.0, latency_s=0.0):
    """One all-gather or reduce-scatter by hand: (g-1)/g of the gathered buffer at the group's
    NVLink rate, plus ceil(log2 g) latency steps."""
    steps = {2: 1, 4: 2, 8: 3}[group]
    return (group - 1) / group * nbytes / (gbps * 1e9 * eff) + steps * latency_s


def _qwen235b_h20(**kw):
    """QA's case: fleetcast train --model qwen3-235b-a22b --chip h20-96gb --chips 512 --tp 4 --ep 8
    --pp 8 --vpp 1 --cp 1 --micro-batch 1 --zero 1 --recompute selective --global-batch 1024."""
    base = dict(model=MODELS["qwen3-235b-a22b"], chip=H20, num_chips=512, tp=4, pp=8, vpp=1, cp=1, ep=8,
                dp=16, micro_batch=1, zero_stage=1, recompute="selective", global_batch_seqs=1024)
    base.update(kw)
    return TrainingInputs(**base)


def test_qa_qwen3_235b_on_h20_moe_layers_gather_their_expert_tokens_over_etp():
    """By hand. Qwen3-235B-A22B: 94 layers, all MoE (no dense layers, no shared experts), hidden
    4,096, top-8. TP4 EP8 DP16 on 512 H20: ETP is derived as gcd(4, 4 x 16 / 8) = 4, so after the
    all-to-all every rank's ~8 x 4,096 / 4 token copies are gathered over 4 ranks.
    Stage: ceil(94 / 8) = 12 layers; 1,024 / 16 = 64 micro-batches; T = 4,096 tokens.
    H20 NVLink 450 GB/s at the Hopper family's scale-up efficiency (0.8388 in the packaged
    calibration), 8 us per ring step, 2 steps in a 4-rank group:
      attention pass: 3/4 x 4,096 x 4,096 x 2 B = 25.17 MB / 377.5 GB/s = 66.67 us + 16 us = 82.67 us
      expert gather:  3/4 x 8 x 4,096 x (4/4) x 4,096 x 2 B = 201.3 MB -> 533.4 us + 16 us = 549.4 us
    per layer 4 x 82.67 + 4 x 549.4 = 2,528 us (was 8 x 82.67 = 661.4 us, the MLP charged as dense);
    64 x 12 x 2,528 us = 1.942 s against QA's 0.508 s: 1.434 s more, QA's ~1.4 s estimate."""
    eff = H20.factor("train_scaleup_eff", 0.75)
    assert eff == pytest.approx(0.8388)
    lat = 8e-6
    attn_pass = _ring_s(4, 4096 * 4096 * 2, eff=eff, latency_s=lat)
    gather = _ring_s(4, 8 * 4096 * (4 / 4) * 4096 * 2, eff=eff, latency_s=lat)
    assert attn_pass == pytest.approx(82.67e-6, rel=1e-3)
    assert gather == pytest.approx(549.4e-6, rel=1e-3)
    res = evaluate_layout(_qwen235b_h20())
    assert res.layout["expert_tp"] == 4
    assert res.breakdown_s["tp_comm"] == pytest.approx(64 * 12 * (4 * attn_pass + 4 * gather), rel=1e-9)
    old = 64 * 12 * 8 * attn_pass
    assert old == pytest.approx(0.508, abs=0.001)                       # QA's figure before the fix
    assert res.breakdown_s["tp_comm"] - old == pytest.approx(1.434, abs=0.005)
    # the breakdown still adds up to the step
    assert sum(res.breakdown_s.values()) == pytest.approx(res.step_time_s, rel=1e-9)


def test_expert_tp_1_moves_no_tp_traffic_for_the_routed_experts():
    """Megatron-Bridge's Qwen3-235B layout, TP2 EP32 on 16 DP ranks, ETP 1 (derived: gcd(2, 32 / 32)):
    the experts' tokens stay sequence-sharded, so only attention's 4 passes of T*h remain per layer
    (12 layers a stage, 1,024 / 16 = 64 micro-batches, 1/2 of 32 MiB per pass on 450 GB/s)."""
    inp = _qwen235b_h20(num_chips=256, tp=2, ep=32, factors=CLEAN)
    res = evaluate_layout(inp)
    assert res.layout["expert_tp"] == 1
    one = _ring_s(2, 4096 * 4096 * 2)
    assert res.breakdown_s["tp_comm"] == pytest.approx(64 * 12 * 4 * one, rel=1e-9)
    # ETP 2 set by hand: the experts' 8 x T x (2/2) x h copies are gathered as well, 8x a pass's bytes
    res2 = evaluate_layout(replace(inp, expert_tp=2))
    assert res2.breakdown_s["tp_comm"] == pytest.approx(64 * 12 * (4 * one + 4 * 8 * one), rel=1e-9)


def _dsv3(expert_tp, recompute="none", **kw):
    base = dict(model=MODELS["deepseek-v3"], chip=H100, num_chips=128, tp=2, pp=1, vpp=1, cp=1, ep=64, dp=64,
                micro_batch=1, zero_stage=1, recompute=recompute, global_batch_seqs=64, seq_len=4096,
                expert_tp=expert_tp, factors=CLEAN)
    base.update(kw)
    return TrainingInputs(**base)


def test_shared_experts_and_dense_layers_keep_the_dense_mlp_traffic():
    """DeepSeek-V3: 61 layers, the first 3 dense, 1 shared expert, top-8, hidden 7,168. TP2, one
    micro-batch of 4,096 tokens, pp 1. One pass: 1/2 x 4,096 x 7,168 x 2 B / 450 GB/s.
    ETP 1: attention 61 x 4 + dense MLP 3 x 4 + shared experts 58 x 4 = 488 passes.
    ETP 2: + 58 layers x 4 gathers of 8 x T x (2/2) x h (8 passes' bytes each) = + 1,856 passes.
    Full recompute repeats every forward's AG + RS: 1.5 x either."""
    one = _ring_s(2, 4096 * 7168 * 2)
    etp1 = evaluate_layout(_dsv3(1))
    etp2 = evaluate_layout(_dsv3(2))
    assert etp1.breakdown_s["tp_comm"] == pytest.approx(488 * one, rel=1e-9)
    assert etp2.breakdown_s["tp_comm"] == pytest.approx((488 + 58 * 4 * 8) * one, rel=1e-9)
    for e, res in ((1, etp1), (2, etp2)):
        full = evaluate_layout(_dsv3(e, recompute="full"))
        assert full.breakdown_s["tp_comm"] == pytest.approx(1.5 * res.breakdown_s["tp_comm"], rel=1e-9), e


def test_dense_models_keep_eight_passes_and_tp_overlap_hides_only_linear_layers():
    """A dense model is unchanged (8 passes of T*h a layer). TransformerEngine's TP comm overlap
    works inside its linear modules: with it on, the attention's passes are 60% hidden but the MoE
    dispatcher's expert-token gathers (outside them) are not."""
    llama = TrainingInputs(model=MODELS["llama2-7b"], chip=H100, num_chips=16, global_batch_seqs=64, tp=8, pp=1,
                           vpp=1, dp=2, cp=1, micro_batch=1, zero_stage=1, recompute="none", factors=CLEAN)
    m = llama.model
    assert evaluate_layout(llama).breakdown_s["tp_comm"] == pytest.approx(
        32 * m.layers * 8 * _ring_s(8, 4096 * m.hidden * 2), rel=1e-9)
    inp = _qwen235b_h20(num_chips=256, tp=2, ep=32, expert_tp=2, factors=CLEAN)
    one = _ring_s(2, 4096 * 4096 * 2)
    hidden = evaluate_layout(replace(inp, tp_comm_overlap=True,
                                     factors={**CLEAN, "train_tp_overlap_enabled": 0.6}))
    assert hidden.breakdown_s["tp_comm"] == pytest.approx(64 * 12 * (0.4 * 4 * one + 4 * 8 * one), rel=1e-9)


def _meta_128k(**kw):
    base = dict(model=MODELS["llama3-405b"], chip=H100, num_chips=16384, tp=8, pp=16, vpp=1, cp=16, dp=8,
                seq_len=131072, global_batch_seqs=128, micro_batch=1, zero_stage=1, recompute="none",
                cp_kind="allgather")
    base.update(kw)
    return TrainingInputs(**base)


def test_allgather_cp_gathers_kv_again_in_backward():
    """Meta's 128K layout, by hand: 1 KV head per TP8 rank, K+V 512 B per token, a 64 MiB gathered
    buffer, 15/16 of it over one 50 GB/s NIC (the 16 CP ranks are 8 apart, one per node) = 1.258 ms.
    Per layer: forward all-gather, backward all-gather again (only the local chunk was saved) and
    reduce-scatter of dK/dV: 3 (4 with full recompute); 8 layers a stage, 16 micro-batches.
    The gathered K/V is not kept: activations are those of ring CP (same local chunks)."""
    f = {"train_scaleout_eff": 1.0, "train_latency_us": 0.0}
    one_s = 15 / 16 * (131072 * 2 * 1 * 128 * 2) / 50e9
    assert one_s == pytest.approx(1.258e-3, rel=1e-3)
    for rc, n in (("none", 3), ("full", 4)):
        res = evaluate_layout(_meta_128k(recompute=rc, factors=f))
        assert res.breakdown_s["cp_comm"] == pytest.approx(16 * 8 * n * one_s, rel=1e-9), rc
        assert sum(res.breakdown_s.values()) == pytest.approx(res.step_time_s, rel=1e-9)
        ring = evaluate_layout(_meta_128k(recompute=rc, factors=f, cp_kind="ring"))
        assert res.memory_breakdown_gib["activations"] == ring.memory_breakdown_gib["activations"]
