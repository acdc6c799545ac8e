"""QA s25 q5: Gemma 3's published config.json leaves vocab_size and max_position_embeddings to
transformers' Gemma3TextConfig (262,208 and 131,072); `models import` refused it ("vocab:
missing"). Those two defaults are now taken for model_type gemma3 / gemma3_text, with a note."""

import copy

import pytest

from engine.errors import ValidationError
from engine.hf_config import model_from_hf_config

# google/gemma-3-27b-it config.json as published (the tester's /tmp/s25/w/q5/cfg/gemma-3-27b.json)
GEMMA3_27B = {
    "architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999, "eoi_token_index": 256000,
    "eos_token_id": [1, 106], "image_token_index": 262144, "initializer_range": 0.02, "mm_tokens_per_image": 256,
    "model_type": "gemma3",
    "text_config": {"head_dim": 128, "hidden_size": 5376, "intermediate_size": 21504, "model_type": "gemma3_text",
                    "num_attention_heads": 32, "num_hidden_layers": 62, "num_key_value_heads": 16,
                    "query_pre_attn_scalar": 168, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                    "sliding_window": 1024},
    "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0",
    "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
                      "model_type": "siglip_vision_model", "num_attention_heads": 16, "num_hidden_layers": 27,
                      "patch_size": 14, "vision_use_head": False},
}


def _import(config):
    return model_from_hf_config(config, model_id="gemma-3-27b")


def test_gemma3_27b_imports_with_gemma3_text_config_defaults():
    result = _import(GEMMA3_27B)
    model = result.model
    assert model.vocab == 262_208
    # the published 128K: max_position_embeddings already includes the linear factor 8, not x 8 again
    assert model.context_len == 131_072
    # sliding_window_pattern 6 (the class default): every 6th layer full, 62 // 6 = 10 -> 52 windowed
    assert (model.windowed_layers, model.attention_window_tokens) == (52, 1024)
    assert "vocab_size missing: taken as 262,208, Gemma3TextConfig's default (model_type 'gemma3_text')" in result.notes
    assert ("max_position_embeddings missing: taken as 131,072, Gemma3TextConfig's default "
            "(model_type 'gemma3_text')") in result.notes
    # by hand: embeddings 262,208 x 5,376 (tied) = 1,409,630,208; a layer's attention
    # 5,376 x 128 x (32 + 16 + 16 + 32) = 66,060,288 and gated MLP 3 x 5,376 x 21,504 = 346,816,512;
    # x 62 layers = 25,598,361,600; total 27,007,991,808 before the norms' ~1.4 M
    assert model.total_params() == pytest.approx(27_007_991_808, abs=2_000_000)


def test_values_the_file_gives_win_over_the_defaults():
    config = copy.deepcopy(GEMMA3_27B)
    config["text_config"].update(vocab_size=256_000, max_position_embeddings=32_768)
    result = _import(config)
    assert (result.model.vocab, result.model.context_len) == (256_000, 32_768)
    assert not [n for n in result.notes if "Gemma3TextConfig's default" in n]


def test_text_only_gemma3_text_config_takes_the_defaults_too():
    config = dict(GEMMA3_27B["text_config"])   # a gemma3_text checkpoint's config.json, top level
    result = _import(config)
    assert (result.model.vocab, result.model.context_len) == (262_208, 131_072)


def test_other_families_still_need_their_vocab():
    config = copy.deepcopy(GEMMA3_27B)
    config["text_config"]["model_type"] = "gemma2"
    config["model_type"] = "gemma2"
    with pytest.raises(ValidationError, match="vocab: missing"):
        _import(config)
