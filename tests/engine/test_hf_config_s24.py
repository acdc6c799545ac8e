"""QA s24 on `models import` (engine.hf_config): DBRX's nested fields, rope_scaling's context
window, --seq-len without a context, quantized checkpoints, the config's own names in errors,
and an all-MoE model's unused dense width."""

import dataclasses

import pytest

from engine.catalog import reference_models
from engine.errors import ValidationError
from engine.hf_config import model_from_hf_config

# databricks/dbrx-base config.json
DBRX = {"architectures": ["DbrxForCausalLM"], "model_type": "dbrx", "d_model": 6144, "n_heads": 48, "n_layers": 40,
        "max_seq_len": 32768, "vocab_size": 100352, "emb_pdrop": 0.0, "resid_pdrop": 0.0,
        "attn_config": {"clip_qkv": 8, "kv_n_heads": 8, "model_type": "", "rope_theta": 500000},
        "ffn_config": {"ffn_hidden_size": 10752, "model_type": "", "moe_jitter_eps": 0.01, "moe_loss_weight": 0.05,
                       "moe_num_experts": 16, "moe_top_k": 4},
        "initializer_range": 0.02, "output_router_logits": False, "router_aux_loss_coef": 0.05,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.38.2", "use_cache": True}
# Qwen/Qwen2.5-7B-Instruct config.json, with the YaRN block its model card says to add for 128K
QWEN25_7B = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 3584,
             "intermediate_size": 18944, "max_position_embeddings": 32768, "max_window_layers": 28,
             "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4, "rope_theta": 1e6,
             "sliding_window": 131072, "use_sliding_window": False, "tie_word_embeddings": False, "vocab_size": 152064}
YARN = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}
LLAMA31_8B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
              "max_position_embeddings": 131072, "tie_word_embeddings": False,
              "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                               "original_max_position_embeddings": 8192, "rope_type": "llama3"}}
# Qwen/Qwen3-235B-A22B: every layer has experts; intermediate_size is a dense width no layer uses
QWEN3_235B = {"model_type": "qwen3_moe", "hidden_size": 4096, "intermediate_size": 12288, "moe_intermediate_size": 1536,
              "num_hidden_layers": 94, "num_attention_heads": 64, "num_key_value_heads": 4, "head_dim": 128,
              "num_experts": 128, "num_experts_per_tok": 8, "decoder_sparse_step": 1, "mlp_only_layers": [],
              "vocab_size": 151936, "max_position_embeddings": 40960, "tie_word_embeddings": False}


def _import(config, **kwargs):
    return model_from_hf_config(config, model_id="m", **kwargs)


def test_dbrx_nested_fields_are_read():
    """QA: DBRX imported as a dense 25 B model with 48 KV heads; it is 132 B total, 36 B active, 8 KV heads."""
    result = _import(DBRX)
    model = result.model
    assert model.total_params() / 1e9 == pytest.approx(132, rel=0.01)
    assert model.active_params() / 1e9 == pytest.approx(36, rel=0.02)
    assert (model.kv_heads, model.moe_experts, model.moe_topk, model.moe_ffn_hidden) == (8, 16, 4, 10752)
    assert model.context_len == 32768 and model.ffn_hidden == 0
    assert result.unknown == ()
    assert {"attn_config.kv_n_heads", "ffn_config.moe_num_experts", "ffn_config.moe_top_k",
            "ffn_config.ffn_hidden_size", "max_seq_len"} <= set(result.used)


def test_mpt_attention_kind_decides_its_kv_heads():
    mpt = {"model_type": "mpt", "d_model": 4096, "n_heads": 32, "n_layers": 32, "max_seq_len": 2048,
           "vocab_size": 50432, "expansion_ratio": 4}
    multi_query = _import({**mpt, "attn_config": {"attn_type": "multiquery_attention", "kv_n_heads": 1}})
    assert multi_query.model.kv_heads == 1
    # llm-foundry writes kv_n_heads 1 into multi-head configs too: not one KV head
    multi_head = _import({**mpt, "attn_config": {"attn_type": "multihead_attention", "kv_n_heads": 1}})
    assert multi_head.model.kv_heads == 32
    grouped = _import({**mpt, "attn_config": {"attn_type": "grouped_query_attention", "kv_n_heads": 8}})
    assert grouped.model.kv_heads == 8


def test_yarn_stretches_the_context_window_as_vllm_derives():
    """QA: Qwen2.5-7B with YaRN factor 4 over 32,768 kept context_len 32,768 (vLLM serves 131,072)."""
    result = _import({**QWEN25_7B, "rope_scaling": YARN})
    assert result.model.context_len == 131072
    assert "rope_scaling" in result.used and "rope_scaling" not in result.ignored
    assert any("context_len 131,072 = rope_scaling yarn factor 4 x original_max_position_embeddings 32,768" in n
               for n in result.notes)
    assert _import(QWEN25_7B).model.context_len == 32768   # no rope_scaling: as before


def test_llama3_rope_scaling_keeps_max_position_embeddings():
    result = _import(LLAMA31_8B)
    assert result.model.context_len == 131072
    assert "rope_scaling" in result.ignored


@pytest.mark.parametrize("scaling, context", [
    ({"type": "linear", "factor": 2.0}, 65536),                                              # x the window
    ({"rope_type": "dynamic", "factor": 2.0, "original_max_position_embeddings": 16384}, 32768),
    ({"type": "mrope", "mrope_section": [16, 24, 24]}, 32768),                               # not a stretch
])
def test_other_rope_scaling_types(scaling, context):
    assert _import({**QWEN25_7B, "rope_scaling": scaling}).model.context_len == context


@pytest.mark.parametrize("scaling, needle", [
    ({"type": "yarn", "factor": "4"}, "rope_scaling.factor: '4' (must be a number of 1 or more)"),
    ({"type": "yarn", "factor": 0.5}, "rope_scaling.factor: 0.5"),
    ({"type": "yarn", "factor": 4, "original_max_position_embeddings": 0},
     "rope_scaling.original_max_position_embeddings: 0"),
])
def test_a_broken_rope_scaling_is_refused(scaling, needle):
    with pytest.raises(ValidationError) as info:
        _import({**QWEN25_7B, "rope_scaling": scaling})
    assert needle in str(info.value) and len(info.value.problems) == 1


def test_seq_len_is_applied_without_a_context_window():
    """QA: --seq-len 8192 was ignored (4096 stored) when the config had no max_position_embeddings."""
    config = {k: v for k, v in LLAMA31_8B.items() if k not in ("max_position_embeddings", "rope_scaling")}
    result = _import(config, training_seq_len=8192)
    assert result.model.seq_len == 8192 and result.model.context_len == 0
    assert any("context_len not known" in n for n in result.notes)


def test_a_zero_context_window_is_refused():
    """QA: max_position_embeddings 0 said "seq_len set to 0", stored 4096 and context_len 0."""
    with pytest.raises(ValidationError) as info:
        _import({**LLAMA31_8B, "max_position_embeddings": 0, "rope_scaling": None})
    assert str(info.value) == "max_position_embeddings: 0 (the context window must be a positive number of tokens)"


def test_a_seq_len_above_the_context_is_lowered_and_said():
    result = _import({**LLAMA31_8B, "max_position_embeddings": 4096, "rope_scaling": None}, training_seq_len=8192)
    assert result.model.seq_len == 4096
    assert "training seq_len 8,192 lowered to 4,096, the context window" in result.notes


@pytest.mark.parametrize("quant, needle", [
    # deepseek-ai/DeepSeek-V3
    ({"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]},
     "checkpoint is fp8 (quantization_config quant_method 'fp8'): serve with --weight-dtype fp8"),
    ({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm", "zero_point": True},
     "checkpoint is int4 (quantization_config quant_method 'awq', 4 bits): serve with --weight-dtype int4"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128}, "serve with --weight-dtype int4"),
    ({"quant_method": "somethingnew"}, "checkpoint is quantized (quantization_config quant_method 'somethingnew')"),
])
def test_a_quantized_checkpoint_is_said(quant, needle):
    """QA: quantization_config was listed as having no effect; serve then refused DSV3 at bf16."""
    result = _import({**LLAMA31_8B, "quantization_config": quant})
    assert any(needle in n for n in result.notes)
    assert "quantization_config" in result.used and "quantization_config" not in result.ignored


@pytest.mark.parametrize("change, needle", [
    ({"num_experts_per_tok": 200}, "moe_topk (num_experts_per_tok): 200"),
    ({"moe_intermediate_size": 0}, "moe_ffn_hidden (moe_intermediate_size): 0"),
    ({"first_k_dense_replace": 2, "intermediate_size": 0}, "intermediate_size: missing"),
])
def test_errors_name_the_configs_own_fields(change, needle):
    """QA: "moe_topk: 9" was said of a file whose field is num_experts_per_tok."""
    with pytest.raises(ValidationError) as info:
        _import({**QWEN3_235B, **change})
    assert needle in str(info.value)


def test_a_dense_width_error_names_intermediate_size():
    config = {k: v for k, v in LLAMA31_8B.items() if k != "rope_scaling"}
    with pytest.raises(ValidationError) as info:
        _import({**config, "intermediate_size": 0})
    assert "ffn_hidden (intermediate_size): 0" in str(info.value)


def test_an_all_moe_model_has_no_dense_width():
    """QA: Qwen3-235B imported with ffn_hidden 12288, where the built-in preset has 0 (no dense layer)."""
    result = _import(QWEN3_235B)
    model = result.model
    assert model.ffn_hidden == 0 and model.dense_layers == 0
    assert "intermediate_size 12288 not used: every layer has experts" in result.notes
    with_width = dataclasses.replace(model, ffn_hidden=12288)
    assert model.total_params() == with_width.total_params()
    assert model.active_params() == with_width.active_params()
    assert model.training_flops_per_token() == with_width.training_flops_per_token()
    built_in = reference_models()["qwen3-235b-a22b"]
    assert model.total_params() == built_in.total_params() and model.ffn_hidden == built_in.ffn_hidden
