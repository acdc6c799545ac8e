"""QA round on `models import`: Llama 4's interleaved MoE layers, windowed attention, multimodal
configs with the language model at the top level, Gemma's `hidden_activation`."""

import pytest

from engine.hf_config import model_from_hf_config

# meta-llama/Llama-4-Maverick-17B-128E config.json (the fields that matter here)
MAVERICK_TEXT = {
    "model_type": "llama4_text", "num_hidden_layers": 48, "hidden_size": 5120, "num_attention_heads": 40,
    "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 202048, "max_position_embeddings": 1048576,
    "num_local_experts": 128, "num_experts_per_tok": 1, "interleave_moe_layer_step": 2,
    "intermediate_size": 8192, "intermediate_size_mlp": 16384, "hidden_act": "silu",
    "attention_chunk_size": 8192, "no_rope_layers": [int((i + 1) % 4 != 0) for i in range(48)],
    "use_qk_norm": False, "attn_temperature_tuning": True, "floor_scale": 8192, "attn_scale": 0.1,
    "rope_theta": 500000.0, "router_aux_loss_coef": 0.001, "router_jitter_noise": 0.0, "rms_norm_eps": 1e-5,
}
MAVERICK = {"architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4",
            "tie_word_embeddings": False, "boi_token_index": 200080, "eoi_token_index": 200081,
            "image_token_index": 200092, "vision_config": {"hidden_size": 1408}, "text_config": MAVERICK_TEXT}

# Hand count (norms, router and final norm left out: < 0.01%)
H = 5120
ATTENTION = 48 * H * 128 * (2 * 40 + 2 * 8)          # 3.02 B
EXPERT = 3 * H * 8192                                # one expert (or the shared expert)
MOE = 24 * 128 * EXPERT                              # 386.5 B routed
SHARED = 24 * EXPERT                                 # 3.02 B: Llama 4's shared expert in every MoE layer
DENSE = 24 * 3 * H * 16384                           # 6.04 B: the other 24 layers' FFN
EMBEDDINGS = 2 * 202048 * H                          # 2.07 B, untied
HAND_TOTAL = ATTENTION + MOE + SHARED + DENSE + EMBEDDINGS             # 400.6 B
HAND_ACTIVE = ATTENTION + 24 * 2 * EXPERT + DENSE + EMBEDDINGS         # 17.2 B


def _import(config, **kw):
    return model_from_hf_config(config, model_id="m", **kw)


@pytest.mark.parametrize("change", [
    {},                                                   # interleave_moe_layer_step alone
    {"moe_layers": list(range(1, 48, 2))},                # as transformers writes it back
    {"interleave_moe_layer_step": 1, "moe_layers": list(range(1, 48, 2))},   # the list wins, as in transformers
])
def test_maverick_counts_interleaved_moe_layers_and_the_dense_ffn_width(change):
    """QA: 778 B total / 11.2 B active (every layer read as MoE, no shared expert); Meta: ~400 B / 17 B."""
    result = _import({**MAVERICK, "text_config": {**MAVERICK_TEXT, **change}})
    model = result.model
    assert (model.moe_dense_layers, model.ffn_hidden, model.moe_ffn_hidden) == (24, 16384, 8192)
    assert model.moe_shared_experts == 1
    assert model.total_params() == pytest.approx(HAND_TOTAL, rel=0.001)
    assert model.active_params() == pytest.approx(HAND_ACTIVE, rel=0.001)
    assert model.total_params() / 1e9 == pytest.approx(400, rel=0.02)
    assert model.active_params() / 1e9 == pytest.approx(17, rel=0.02)
    for field in ("interleave_moe_layer_step", "intermediate_size_mlp", *change):
        assert field in result.used and field not in result.unknown
    assert any("shared expert" in n for n in result.notes)
    notes = "; ".join(result.notes)
    assert "24 of 48 layers have a dense MLP" in notes and "dense layers' FFN width 16384" in notes


def test_scout_every_layer_moe_with_its_shared_expert():
    """Llama 4 Scout: 16 experts on all 48 layers (step 1), 109 B total / 17 B active."""
    scout = {**MAVERICK_TEXT, "num_local_experts": 16, "interleave_moe_layer_step": 1, "tie_word_embeddings": False}
    model = _import(scout).model
    assert model.moe_dense_layers == 0 and model.moe_shared_experts == 1
    assert model.total_params() / 1e9 == pytest.approx(109, rel=0.02)
    assert model.active_params() / 1e9 == pytest.approx(17, rel=0.02)


def test_llama4_unties_embeddings_by_default():
    text = {k: v for k, v in MAVERICK_TEXT.items()}
    result = _import(text)     # no tie_word_embeddings: Llama4TextConfig's default is False
    assert result.model.tied_embeddings is False


@pytest.mark.parametrize("change, needle", [
    ({"interleave_moe_layer_step": 0}, "interleave_moe_layer_step: 0 (must be 1 or more)"),
    ({"moe_layers": [1, 48]}, "moe_layers: [1, 48] (must be a list of layer numbers 0 to 47)"),
    ({"moe_layers": []}, "no layer keeps its experts"),
])
def test_llama4_layer_patterns_no_model_can_have_are_refused(change, needle):
    from engine.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        _import({**MAVERICK_TEXT, **change})
    assert any(needle in p for p in info.value.problems), info.value.problems


GPT_OSS = {"model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 2880, "num_hidden_layers": 24,
           "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 201088,
           "max_position_embeddings": 131072, "num_local_experts": 32, "num_experts_per_tok": 4,
           "sliding_window": 128, "layer_types": ["sliding_attention", "full_attention"] * 12,
           "tie_word_embeddings": False}


def test_a_sliding_window_is_modelled_rather_than_of_no_effect():
    """QA: sliding_window was listed as "no effect", but gpt-oss's 128-token window on half its
    layers bounds their KV cache; it is now a model input (12 of 24 layers at 128 tokens)."""
    result = _import(GPT_OSS)
    assert "sliding_window" not in result.ignored and "layer_types" not in result.ignored
    assert result.not_modelled == ()
    assert (result.model.attention_window_tokens, result.model.windowed_layers) == (128, 12)
    note = next(n for n in result.notes if "sliding_window" in n)
    assert "12 of 24 layers" in note and "at most 128 tokens" in note


def test_llama4_chunked_attention_is_counted_as_a_window_of_the_chunk():
    result = _import(MAVERICK)
    assert "attention_chunk_size" not in result.not_modelled and "attention_chunk_size" not in result.unknown
    assert (result.model.attention_window_tokens, result.model.windowed_layers) == (8192, 36)
    note = next(n for n in result.notes if "attention_chunk_size" in n)
    assert "36 of 48 layers" in note and "overstated up to 2x" in note


@pytest.mark.parametrize("change", [
    {"use_sliding_window": False},                 # Qwen2/2.5: the window is off
    {"sliding_window": None},                      # Mistral v0.2+: no window
    {"sliding_window": 131072},                    # a window as long as the context: no effect
    {"layer_types": ["full_attention"] * 24},      # no layer uses it
])
def test_a_sliding_window_that_does_not_apply_is_still_of_no_effect(change):
    result = _import({**GPT_OSS, **change})
    assert result.not_modelled == () and "sliding_window" in result.ignored
    assert not any("full context" in n for n in result.notes)


QWEN25_VL = {"model_type": "qwen2_5_vl", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
             "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
             "max_position_embeddings": 128000, "tie_word_embeddings": False,
             "vision_config": {"depth": 32, "hidden_size": 1280}, "vision_start_token_id": 151652,
             "vision_end_token_id": 151653, "vision_token_id": 151654, "image_token_id": 151655,
             "video_token_id": 151656}


def test_a_multimodal_config_with_the_language_model_at_the_top_level_says_the_vision_encoder_is_not_counted():
    result = _import(QWEN25_VL)
    assert result.unknown == ()
    assert any("vision encoder is not counted" in n for n in result.notes)
    assert result.model.total_params() == _import({k: v for k, v in QWEN25_VL.items()
                                                    if "vision" not in k}).model.total_params()


def test_gemmas_hidden_activation_is_read_as_the_activation():
    gemma = {"model_type": "gemma", "hidden_size": 3072, "intermediate_size": 24576, "num_hidden_layers": 28,
             "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256, "vocab_size": 256000,
             "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh"}
    result = _import(gemma)
    assert "hidden_activation" in result.used and result.unknown == ()
    assert result.model.gated_ffn and result.model.total_params() / 1e9 == pytest.approx(8.54, rel=0.01)
    only = _import({k: v for k, v in gemma.items() if k != "hidden_act"})   # Gemma 2/3 may give only this one
    assert "hidden_activation" in only.used and only.model.gated_ffn
