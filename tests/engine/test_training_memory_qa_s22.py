"""QA s22 on the training memory model: expert parallelism folded into the TP ranks, the ZeRO-3
working set (current + prefetched layer and the current layer's gradient), and the FP8 saving
of MLA's output projection."""

import pytest

from engine.catalog import reference_chips, reference_models
from engine.training import GIB, TrainingInputs, evaluate_layout, search_layouts

CHIPS = reference_chips()
MODELS = reference_models()


def _mixtral_tp8(ep):
    return TrainingInputs(model=MODELS["mixtral-8x7b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=8, tp=8, pp=1,
                          dp=1, cp=1, ep=ep, zero_stage=1, micro_batch=1, recompute="full", global_batch_seqs=64)


def test_ep_beyond_dp_x_cp_does_not_shard_experts_past_the_chips():
    """TP8 EP8 on 8 H100 split each expert over TP and the experts over EP: 64-way on 8 chips,
    1.69 GiB of weights for a 46.7B model (at least 87 GiB / 8 = 10.9). Folded EP takes ETP down
    so EP x ETP stays within the stage's chips: every EP holds the same weights, and none fits."""
    results = [evaluate_layout(_mixtral_tp8(ep)) for ep in (1, 2, 8)]
    floor_gib = MODELS["mixtral-8x7b"].total_params() * 2.0 / 8 / GIB
    for r in results:
        assert r.memory_breakdown_gib["weights"] >= 0.99 * floor_gib
        assert not r.feasible and r.reason == "out of memory"
    assert results[2].memory_breakdown_gib["weights"] == pytest.approx(results[0].memory_breakdown_gib["weights"])


def test_folded_ep_costs_deepseek_v3_the_same_expert_memory():
    """DeepSeek-V3 on 256 910B, TP4 PP32 DP2: EP2 (ETP 4) and EP8 (folded, ETP 1) both split the
    experts 8 ways; EP8 "fit" in 42.9 GiB where EP2 needed 78.3."""
    base = dict(model=MODELS["deepseek-v3"], chip=CHIPS["ascend-910b2"], num_chips=256, tp=4, pp=32, dp=2, cp=1,
                vpp=1, zero_stage=1, micro_batch=1, recompute="none")
    ep2, ep8 = (evaluate_layout(TrainingInputs(ep=ep, **base)) for ep in (2, 8))
    for key in ("weights", "gradients", "optimizer"):
        assert ep8.memory_breakdown_gib[key] == pytest.approx(ep2.memory_breakdown_gib[key])
    assert not ep8.feasible and not ep2.feasible


def test_search_on_8_chips_finds_no_layout_that_loses_mixtral_weights():
    """The search picked TP2 PP2 DP2 EP4 on 8 H100 (EP > DP x CP) at 75.7 GiB, counting the experts
    16-way on 8 chips. Weights, gradients and Adam state of 46.7B params (~700 GiB) outgrow 640 GiB."""
    result = search_layouts(TrainingInputs(model=MODELS["mixtral-8x7b"], chip=CHIPS["h100-sxm5-80gb"], num_chips=8),
                            top_k=1)
    assert result.best is None and result.layouts_feasible == 0


def test_zero3_holds_two_gathered_layers_and_one_layer_gradient():
    """The 70B-on-1,024-910B search winner (TP1 PP2 VPP8 DP256 CP2 ZeRO-3) read 63.81 of 64 GiB with
    one layer's 16-bit weights as its only working set. FSDP's backward prefetch holds the current
    and the next layer's gathered weights and the current layer's gradient (at 4 bytes): OOM."""
    model = MODELS["llama3-70b"]
    r = evaluate_layout(TrainingInputs(model=model, chip=CHIPS["ascend-910b2"], num_chips=1024, tp=1, pp=2, vpp=8,
                                       dp=256, cp=2, zero_stage=3, micro_batch=1, recompute="selective"))
    layer_params = 855.6e6
    assert r.memory_breakdown_gib["buffers"] == pytest.approx(layer_params * (2 + 2 + 4) / GIB, rel=0.01)
    assert not r.feasible and 67.0 <= r.memory_gib_per_chip <= 70.0


def test_mla_fp8_saves_the_output_projection_input_at_its_width():
    """DeepSeek-V3's output projection reads heads x v_head_dim = 16,384 per token, not hidden (7,168):
    FP8 saves 9,216 more bytes per token and layer than counted (41.46 -> ~39.1 GiB)."""
    r = evaluate_layout(TrainingInputs(model=MODELS["deepseek-v3"], chip=CHIPS["h800-sxm5-80gb"], num_chips=2048,
                                       tp=1, pp=16, vpp=1, ep=64, dp=128, dtype="fp8", schedule="dualpipe",
                                       global_batch_seqs=15360, moe_route_nodes=4, seq_len=4096))
    assert r.memory_breakdown_gib["activations"] == pytest.approx(39.07, abs=0.1)
    assert r.feasible
