"""Model FLOPs per token against hand-derived Megatron-LM `num_floating_point_operations`."""

import pytest

from engine.catalog import reference_models
from engine.models import ModelConfig, forward_flops_per_token, training_flops_per_token


def tiny_dense():
    return ModelConfig(id="t", name="t", layers=2, hidden=64, heads=4, kv_heads=2, head_dim=16,
                       ffn_hidden=128, vocab=100, seq_len=32, gated_ffn=True)


def test_dense_gqa_swiglu_matches_megatron_by_hand():
    # Megatron: 12*L*h*(ffn*3/2) + 12*L*h^2*(1 + g/a + s/(2h))*q_ratio + 6*h*V per token
    # = 12*2*64*192 + 12*2*4096*(1 + 0.5 + 0.25) + 6*64*100 = 294912 + 172032 + 38400
    assert training_flops_per_token(tiny_dense()) == pytest.approx(505344)


def test_the_model_method_gives_the_same_hand_derived_figure():
    # ModelConfig.training_flops_per_token was attached after the class (invisible to mypy);
    # it is now a method in the class body and must still give the figure above.
    assert tiny_dense().training_flops_per_token() == pytest.approx(505344)


def test_unhalved_causal_attention_adds_the_other_half():
    # old convention: s/h instead of s/(2h): + 12*2*4096*0.25 = 24576
    m = tiny_dense()
    assert training_flops_per_token(m, causal_half=False) - training_flops_per_token(m) == pytest.approx(24576)


def test_moe_with_shared_expert_and_leading_dense_layer():
    m = ModelConfig(id="m", name="m", layers=2, hidden=64, heads=4, kv_heads=4, ffn_hidden=128, vocab=100,
                    seq_len=32, moe_experts=4, moe_topk=2, moe_shared_experts=1, moe_ffn_hidden=32,
                    moe_dense_layers=1)
    # MLP: 12*L*h*1.5*(ffn*1/2 + moe_ffn*topk*1/2 + shared*1/2) = 1536*(96+48+24) = 258048
    # attention (MHA): 12*2*4096*(1 + 1 + 0.25) = 221184; logits 6*64*100 = 38400
    assert training_flops_per_token(m) == pytest.approx(258048 + 221184 + 38400)


def test_gpt3_matches_narayanan_formula_without_halving():
    # Narayanan et al. 2021: 72*l*h^2*(1 + s/(6h) + V/(12*l*h)) per token (FFN = 4h, MHA)
    m = reference_models()["gpt3-175b"]
    l, h, s, V = m.layers, m.hidden, m.seq_len, m.vocab
    expected = 72 * l * h * h * (1 + s / (6 * h) + V / (12 * l * h))
    assert training_flops_per_token(m, causal_half=False) == pytest.approx(expected, rel=1e-12)


def test_mla_deepseek_v3_close_to_six_active_params():
    m = reference_models()["deepseek-v3"]
    per_token = training_flops_per_token(m, 4096)
    # DeepSeek-V3 reports ~37B active parameters; 6N plus attention core lands 1.0-1.25 x 6N
    assert 1.0 < per_token / (6 * m.active_params()) < 1.25
    terms = forward_flops_per_token(m, 4096)
    assert terms["attn_core_per_layer"] == pytest.approx(2 * 4096 * 128 * (192 + 128) / 2)


def test_flops_grow_with_sequence_only_through_attention():
    m = reference_models()["llama3-8b"]
    diff = training_flops_per_token(m, 8192) - training_flops_per_token(m, 4096)
    # 3 passes x layers x 2 (QK^T, AV) x 2 flops x 4096 extra keys x q_dim / 2 (causal)
    assert diff == pytest.approx(3 * 32 * 2 * 2 * 4096 * 4096 / 2)
