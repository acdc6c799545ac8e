"""QA s21 on `models import`: two-matrix FFNs (OPT, Falcon, GPT-NeoX) were counted as gated,
Falcon's multi-query flag was not read, and an assumed multi-head attention went unsaid."""

import pytest

from engine.hf_config import model_from_hf_config

# facebook/opt-13b config.json (the fields that matter here)
OPT_13B = {"architectures": ["OPTForCausalLM"], "model_type": "opt", "hidden_size": 5120, "ffn_dim": 20480,
           "num_attention_heads": 40, "num_hidden_layers": 40, "vocab_size": 50272, "activation_function": "relu",
           "max_position_embeddings": 2048, "word_embed_proj_dim": 5120}
# tiiuae/falcon-7b: no activation key, no FFN width (4 x hidden), one KV head by `multi_query`
FALCON_7B = {"architectures": ["FalconForCausalLM"], "model_type": "falcon", "hidden_size": 4544,
             "num_attention_heads": 71, "num_hidden_layers": 32, "vocab_size": 65024, "multi_query": True,
             "parallel_attn": True, "new_decoder_architecture": False}
# EleutherAI/gpt-neox-20b
NEOX_20B = {"model_type": "gpt_neox", "hidden_size": 6144, "intermediate_size": 24576, "num_hidden_layers": 44,
            "num_attention_heads": 64, "vocab_size": 50432, "hidden_act": "gelu_fast", "tie_word_embeddings": False,
            "max_position_embeddings": 2048}
LLAMA3_8B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
             "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "hidden_act": "silu",
             "tie_word_embeddings": False}


def _import(config):
    return model_from_hf_config(config, model_id="m")


def _hand_count(layers, hidden, heads, kv_heads, ffn, matrices, vocab, tied):
    """Attention (Q, O full; K, V per KV head) + FFN matrices + 2 norms per layer, embeddings, final norm."""
    head_dim = hidden // heads
    per_layer = hidden * head_dim * (2 * heads + 2 * kv_heads) + matrices * hidden * ffn + 2 * hidden
    return layers * per_layer + vocab * hidden * (1 if tied else 2) + hidden


@pytest.mark.parametrize("config, hand, published_b, form", [
    # OPT-13B: 40 x (4 x 5120^2 + 2 x 5120 x 20480) + 50272 x 5120 tied = 12.84 B (published 12.85 B,
    # with biases and learned positions)
    (OPT_13B, _hand_count(40, 5120, 40, 40, 20480, 2, 50272, True), 12.85, "model_type 'opt'"),
    # Falcon-7B: 71 query heads of 64, one KV head; FFN 4 x 4544; 6.92 B published
    (FALCON_7B, _hand_count(32, 4544, 71, 1, 4 * 4544, 2, 65024, True), 6.92, "model_type 'falcon'"),
    # GPT-NeoX-20B: 20.55 B counted, 20.6 B published
    (NEOX_20B, _hand_count(44, 6144, 64, 64, 24576, 2, 50432, False), 20.6, "model_type 'gpt_neox'"),
])
def test_two_matrix_families_are_not_counted_as_gated(config, hand, published_b, form):
    """OPT-13B read 17.035 B and Falcon-7B 10.87 B: their relu / missing activation meant SwiGLU."""
    result = _import(config)
    assert not result.model.gated_ffn
    assert result.model.total_params() == hand
    assert hand / 1e9 == pytest.approx(published_b, rel=0.01)
    assert f"FFN taken as not gated (2 matrices): {form} has a two-matrix MLP" in result.notes


def test_falcons_multi_query_flag_means_one_kv_head():
    result = _import(FALCON_7B)
    assert result.model.kv_heads == 1 and result.unknown == ()
    assert "multi_query: one KV head shared by the 71 heads (multi-query attention)" in result.notes
    # Falcon's config class defaults the flag to true; its new decoder architecture counts KV heads
    default = _import({k: v for k, v in FALCON_7B.items() if k != "multi_query"})
    assert default.model.kv_heads == 1
    assert "multi_query (the default for 'falcon'): one KV head shared by the 71 heads (multi-query attention)" \
        in default.notes
    new_arch = _import({**FALCON_7B, "new_decoder_architecture": True, "num_attention_heads": 128,
                        "hidden_size": 8192, "num_kv_heads": 8})
    assert new_arch.model.kv_heads == 8


def test_gated_families_keep_their_count_whatever_the_activation():
    """LLaMA 3 8B: 8.03 B, gated, as before; a ReLU LLaMA keeps LLaMA's three-matrix MLP."""
    result = _import(LLAMA3_8B)
    assert result.model.gated_ffn
    assert result.model.total_params() == _hand_count(32, 4096, 32, 8, 14336, 3, 128256, False)
    assert "FFN taken as gated (3 matrices): model_type 'llama' has a gated MLP" in result.notes
    assert _import({**LLAMA3_8B, "hidden_act": "relu"}).model.gated_ffn


@pytest.mark.parametrize("activation, gated, why", [
    (None, True, "no activation and no model_type: SwiGLU assumed, as LLaMA's"),
    ("silu", True, "hidden_act 'silu' and no model_type: SwiGLU assumed, as LLaMA's"),
    ("swiglu", True, "hidden_act 'swiglu' is a gated linear unit"),
    # LLaMA's width (14336 of 4096, 3.5 x): gated whatever the activation (a GeGLU model is gelu)
    ("relu", True, "no model_type and an FFN width of 3.50 x hidden (not 4): a gated MLP assumed, with hidden_act 'relu'"),
    ("gelu_new", True, "no model_type and an FFN width of 3.50 x hidden (not 4): a gated MLP assumed, with "
                       "hidden_act 'gelu_new'"),
])
def test_outside_the_known_families_the_activation_decides_and_is_said(activation, gated, why):
    config = {k: v for k, v in LLAMA3_8B.items() if k not in ("model_type", "hidden_act")}
    if activation:
        config["hidden_act"] = activation
    result = _import(config)
    assert result.model.gated_ffn is gated
    assert f"FFN taken as {'gated (3 matrices)' if gated else 'not gated (2 matrices)'}: {why}" in result.notes


def test_an_assumed_multi_head_attention_is_noted():
    """No num_key_value_heads: kv heads = heads, silently; now said as other assumed fields are."""
    config = {k: v for k, v in LLAMA3_8B.items() if k != "num_key_value_heads"}
    result = _import(config)
    assert result.model.kv_heads == 32
    assert "num_key_value_heads not given: assumed multi-head attention, kv heads = 32" in result.notes
    assert not any("num_key_value_heads" in n for n in _import(LLAMA3_8B).notes)


def test_a_multi_query_flag_that_is_not_true_or_false_is_named():
    from engine.errors import ValidationError

    with pytest.raises(ValidationError) as err:
        _import({**FALCON_7B, "multi_query": "yes"})
    assert err.value.problems == ["multi_query: 'yes' (must be true or false)"]


@pytest.mark.parametrize("activation", ["relu", "gelu", "silu", None])
def test_outside_the_known_families_a_width_of_four_hidden_is_two_matrices(activation):
    config = {k: v for k, v in LLAMA3_8B.items() if k not in ("model_type", "hidden_act")}
    config["intermediate_size"] = 4 * config["hidden_size"]
    if activation:
        config["hidden_act"] = activation
    result = _import(config)
    assert result.model.gated_ffn is False
    assert ("FFN taken as not gated (2 matrices): no model_type and an FFN width of 4 x hidden: a plain "
            "two-matrix MLP assumed") in result.notes


def test_qwen_v1_gives_the_gate_and_up_widths_together():
    """Qwen-7B (v1): intermediate_size 22016 is both widths; each matrix is 11008 (12.0 B read for 7.7 B)."""
    qwen7b = {"model_type": "qwen", "hidden_size": 4096, "intermediate_size": 22016, "num_attention_heads": 32,
              "num_hidden_layers": 32, "vocab_size": 151936, "max_position_embeddings": 8192,
              "tie_word_embeddings": False}
    result = _import(qwen7b)
    assert result.model.ffn_hidden == 11008 and result.model.gated_ffn
    assert result.model.total_params() / 1e9 == pytest.approx(7.72, abs=0.01)
    assert any("intermediate_size 22016 halved to 11008" in n for n in result.notes)
    qwen72b = {**qwen7b, "hidden_size": 8192, "intermediate_size": 49152, "num_attention_heads": 64,
               "num_hidden_layers": 80, "vocab_size": 152064}
    assert _import(qwen72b).model.total_params() / 1e9 == pytest.approx(72.3, abs=0.3)
