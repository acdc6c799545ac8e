"""Hugging Face `config.json` (read offline) -> ModelConfig, with a report of what was not used.

Dense (Llama, Qwen, Mistral, GPT-2/NeoX style) and MoE (Mixtral, Qwen-MoE, DeepSeek with MLA,
DBRX's nested attn_config/ffn_config: NESTED_SECTIONS) field names are mapped (the FFN's form
and multi-query attention by family: GATED_FFN_TYPES, MULTI_QUERY_TYPES); fields that don't
affect a performance model are listed as ignored, and names we don't know are listed as unknown
so the user can check nothing important was missed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from engine.errors import ValidationError
from engine.models import ModelConfig

# First name found wins.
FIELD_ALIASES = {
    "layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
    "hidden": ("hidden_size", "n_embd", "d_model", "dim"),
    "heads": ("num_attention_heads", "n_head", "n_heads", "num_heads"),
    "kv_heads": ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "multi_query_group_num", "n_head_kv",
                 "attn_config.kv_n_heads"),
    "head_dim": ("head_dim",),
    "vocab": ("vocab_size", "padded_vocab_size"),
    "seq_len": ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length", "max_seq_len"),
    "q_lora_rank": ("q_lora_rank",),
    "kv_lora_rank": ("kv_lora_rank",),
    "qk_nope_head_dim": ("qk_nope_head_dim",),
    "qk_rope_head_dim": ("qk_rope_head_dim",),
    "v_head_dim": ("v_head_dim",),
}
# The sizes every model has (ModelConfig.validate refuses 0 for them as well).
POSITIVE_FIELDS = ("layers", "hidden", "heads", "kv_heads", "vocab", "seq_len")
EXPERT_COUNT = ("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts", "ffn_config.moe_num_experts")
EXPERT_TOPK = ("num_experts_per_tok", "moe_topk", "num_experts_per_token", "top_k", "ffn_config.moe_top_k")
SHARED_EXPERTS = ("n_shared_experts", "num_shared_experts")
EXPERT_WIDTH = ("moe_intermediate_size", "expert_intermediate_size", "ffn_config.ffn_hidden_size")
FFN_WIDTH = ("intermediate_size", "n_inner", "ffn_hidden_size", "ffn_dim", "ffn_config.ffn_hidden_size")
# DBRX (and MPT) keep attention and FFN sizes one level down: {"attn_config": {"kv_n_heads": 8},
# "ffn_config": {"ffn_hidden_size": 10752, "moe_num_experts": 16, "moe_top_k": 4}}. Their fields
# are read as "section.field" (named so in every message and field list); unread, DBRX imported
# as a dense 25 B model with 48 KV heads instead of 132 B total / 36 B active with 8.
NESTED_SECTIONS = ("attn_config", "ffn_config")
# MPT's attention kind, where its attn_config says it (kv_n_heads counts only for grouped-query)
MPT_ATTN_TYPE = "attn_config.attn_type"
# llm-foundry's GroupedQueryAttention without kv_n_heads: one KV head (its default)
MPT_DEFAULT_KV_HEADS = 1
# MPT's FFN width as a multiple of d_model (llm-foundry's resolve_ffn_hidden_size: used when no
# ffn_hidden_size is given, and d_model x ratio must be whole); absent, MPTConfig's default of 4
EXPANSION_RATIO = "expansion_ratio"
# Llama 4: `intermediate_size` is the experts' width, this one the dense (non-MoE) layers'
DENSE_FFN_WIDTH = ("intermediate_size_mlp",)
# Only Llama 4 has these: its MoE layers have one shared expert of the experts' width, with no
# field for it (Llama4TextMoe.shared_expert)
LLAMA4_TYPES = ("llama4", "llama4_text")
LLAMA4_ONLY = ("interleave_moe_layer_step", "intermediate_size_mlp")

# The FFN's form (ModelConfig.gated_ffn), by the config's family first, as the width's name does
# not tell (GPT-NeoX calls its two-matrix width intermediate_size): gated (gate, up and down
# matrices: SwiGLU/GeGLU) in the families built on LLaMA's MLP, whatever the activation (a ReLU
# LLaMA is still gated); two matrices (up, down) in the classic GPT/BERT families. An activation
# that names a GLU ("swiglu", "geglu") is gated in any family. In a family on neither list the
# activation decides: silu/swish, or none given (LLaMA's default), is SwiGLU; any other (relu,
# gelu, gelu_new...) a two-matrix FFN. The import notes say which was taken and why.
GATED_FFN_TYPES = {
    "llama", "llama4", "llama4_text", "mistral", "mistral3", "mixtral", "qwen", "qwen2", "qwen2_moe", "qwen2_vl",
    "qwen2_5_vl", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3", "gemma3_text", "deepseek", "deepseek_v2",
    "deepseek_v3", "phi3", "phimoe", "olmo", "olmo2", "olmoe", "granite", "granitemoe", "dbrx", "jamba", "cohere",
    "cohere2", "internlm", "internlm2", "baichuan", "chatglm", "glm", "glm4", "stablelm", "yi", "exaone",
    "minicpm", "hunyuan", "ernie4_5", "ernie4_5_moe", "arctic",
}
PLAIN_FFN_TYPES = {
    "gpt2", "gpt_neo", "gpt_neox", "gpt_neox_japanese", "gptj", "codegen", "opt", "bloom", "falcon", "refinedweb",
    "refinedwebmodel", "mpt", "gpt_bigcode", "starcoder2", "phi", "persimmon", "nemotron", "xglm", "biogpt",
    "bert", "roberta", "xlm-roberta", "distilbert", "electra",
}
# Families whose intermediate_size is the gate and up widths together (each is half of it).
HALVED_FFN_TYPES = {"qwen"}
# Multi-query attention (one K/V head shared by every query head) said by a flag, not a count:
# Falcon-7B, StarCoder (gpt_bigcode). Their config classes default the flag to true; Falcon's
# new decoder architecture (40B, 180B) gives its KV heads as a count instead.
MULTI_QUERY_TYPES = {"falcon", "refinedweb", "refinedwebmodel", "gpt_bigcode"}
FLAG_FIELDS = ("tie_word_embeddings", "multi_query", "new_decoder_architecture")

# Fields only multi-head latent attention (DeepSeek-V2/V3) has: with any of them set, kv_lora_rank
# must be there too.
MLA_ONLY = ("q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim")
# model_type values whose Hugging Face config class defaults tie_word_embeddings to False
# (PretrainedConfig's own default, which GPT-2, Gemma, BLOOM, OPT, Falcon inherit, is True).
UNTIED_BY_DEFAULT = {
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "deepseek_v2", "deepseek_v3",
    "phi", "phi3", "gpt_neox", "olmo", "olmo2", "granite", "dbrx", "jamba", "llama4", "llama4_text",
}
# Windowed attention (a sliding window; Llama 4's chunked attention): a windowed layer caches and
# attends over at most the window's tokens (ModelConfig.attention_window_tokens, windowed_layers).
# Which layers use it, by what the config says (`_windowed_attention`): `layer_types` (gpt-oss,
# newer Gemma/Qwen/Llama 4 configs); Gemma 3's and Cohere 2's `sliding_window_pattern` p (every
# p-th layer full); Qwen2's `use_sliding_window` with `max_window_layers` (the first that many
# full); Llama 4's `no_rope_layers` (its RoPE layers are chunked) or `no_rope_layer_interval`;
# Gemma 2 every other layer; any other family (Mistral 7B v0.1, Phi-3, Starcoder2) every layer.
# Without a window that applies (none, `use_sliding_window: false`, a window as long as the
# context, no layer using it) the fields have no effect and are ignored. A second window kind
# beside the first (a sliding window and chunks in one config) is reported as not modelled.
WINDOW_SIZE = ("sliding_window", "attention_chunk_size")
WINDOW_FIELDS = WINDOW_SIZE + ("use_sliding_window", "max_window_layers", "layer_types", "sliding_window_pattern")
NOT_MODELLED_WHY = "one attention window per model; this one's layers are counted over the full context"
# Sizes a family's config.json may leave to its transformers config class, and that class's
# defaults. Gemma 3's published configs (gemma-3-4b/12b/27b) give no vocab_size or
# max_position_embeddings in text_config: Gemma3TextConfig.__init__ (transformers
# models/gemma3/configuration_gemma3.py) defaults them to 262_208 and 131_072. Only defaults a
# class documents, for families whose files are known to omit them: a guessed vocabulary would
# be a wrong parameter count and a guessed window a wrong context check.
FAMILY_SIZE_DEFAULTS: dict[str, tuple[str, dict[str, int]]] = {
    "gemma3": ("Gemma3TextConfig", {"vocab": 262_208, "seq_len": 131_072}),
    "gemma3_text": ("Gemma3TextConfig", {"vocab": 262_208, "seq_len": 131_072}),
}
ALTERNATING_WINDOW_TYPES = ("gemma2",)            # even layers windowed, odd ones full (transformers)
DEFAULT_WINDOW_PATTERN = {"gemma3": 6, "gemma3_text": 6, "cohere2": 4}
LLAMA4_NOPE_INTERVAL = 4                          # Llama4TextConfig's no_rope_layer_interval default

# Fields with no effect on throughput or memory in this model. rope_scaling and
# quantization_config are read where they say something (_rope_context, _quantization_note) and
# listed here otherwise.
IGNORED = {
    "architectures", "model_type", "torch_dtype", "dtype", "transformers_version", "bos_token_id",
    "eos_token_id", "pad_token_id", "rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon",
    "rope_theta", "rope_scaling", "initializer_range", "use_cache", "attention_dropout",
    "attention_bias", "mlp_bias", "hidden_dropout", "resid_pdrop", "embd_pdrop", "attn_pdrop",
    "pretraining_tp", "quantization_config", "sliding_window", "use_sliding_window",
    "max_window_layers", "sliding_window_pattern", "attention_chunk_size", "router_aux_loss_coef",
    "output_router_logits", "aux_loss_alpha",
    "norm_topk_prob", "scoring_func", "topk_method", "routed_scaling_factor", "n_group",
    "topk_group", "seq_aux", "ep_size", "moe_layer_freq", "num_nextn_predict_layers",
    "auto_map", "name_or_path", "_name_or_path", "tie_word_embeddings", "hidden_act",
    "activation_function", "decoder_sparse_step", "mlp_only_layers", "first_k_dense_replace",
    "shared_expert_intermediate_size", "rotary_pct", "rotary_emb_base", "use_parallel_residual",
    "bias", "layer_types", "attn_implementation", "rope_interleave", "qkv_bias",
    "n_ctx", "summary_type", "summary_use_proj", "summary_activation", "summary_first_dropout",
    "summary_proj_to_labels", "scale_attn_weights", "reorder_and_upcast_attn",
    "scale_attn_by_inverse_layer_idx", "task_specific_params", "partial_rotary_factor",
    "router_jitter_noise", "id2label", "label2id",
    # multimodal token ids; Llama 4's attention details without parameters or cache
    "image_token_id", "image_token_index", "video_token_id", "boi_token_index", "eoi_token_index",
    "no_rope_layers", "no_rope_layer_interval", "use_qk_norm", "attn_temperature_tuning", "floor_scale",
    "attn_scale", "for_llm_compressor",
    # Falcon: the attention and MLP side by side, ALiBi positions, where the residual is taken
    "parallel_attn", "alibi", "apply_residual_connection_post_layernorm",
    # DBRX / MPT: dropout, the router's training knobs, the activation, QKV clipping, kernels
    "emb_pdrop", "attn_config.model_type", "attn_config.clip_qkv", "attn_config.rope_theta",
    "attn_config.attn_pdrop", "attn_config.attn_impl", "attn_config.qk_ln", "attn_config.softmax_scale",
    "attn_config.prefix_lm", "attn_config.attn_uses_sequence_id", "attn_config.alibi",
    "attn_config.alibi_bias_max", "ffn_config.model_type", "ffn_config.ffn_act_fn", "ffn_config.moe_jitter_eps",
    "ffn_config.moe_loss_weight", "ffn_config.moe_normalize_expert_weights", "ffn_config.uniform_expert_assignment",
}
# rope_scaling types whose `factor` stretches the pre-training window (vLLM's max_model_len:
# yarn -> factor x original_max_position_embeddings, linear/dynamic -> factor x the window). In
# "llama3", "longrope" and "su" configs max_position_embeddings is already the extended length.
ROPE_STRETCHING = ("yarn", "linear", "dynamic")
# quantization_config -> the weight dtype `serve --weight-dtype` takes for the checkpoint as stored
QUANT_METHOD_DTYPES = {"fp8": "fp8", "fbgemm_fp8": "fp8", "mxfp4": "fp4"}
BITS_QUANT_METHODS = ("awq", "gptq", "marlin", "gptq_marlin", "awq_marlin", "exl2", "hqq", "aqlm", "eetq")


# Every field whose value enters arithmetic: checked to be a whole number before any is used.
WHOLE_NUMBER_FIELDS = tuple(dict.fromkeys(
    [name for aliases in FIELD_ALIASES.values() for name in aliases]
    + list(EXPERT_COUNT + EXPERT_TOPK + SHARED_EXPERTS + EXPERT_WIDTH + FFN_WIDTH)
    + list(DENSE_FFN_WIDTH)
    + ["first_k_dense_replace", "shared_expert_intermediate_size", "decoder_sparse_step", "moe_layer_freq",
       "interleave_moe_layer_step"]))
# hidden_activation: Gemma's name for the activation (its hidden_act is a legacy copy)
ACTIVATION = ("hidden_act", "hidden_activation", "activation_function")
TEXT_FIELDS = ACTIVATION + ("model_type", "_name_or_path", MPT_ATTN_TYPE)
# Far above any real architecture (context windows reach ~10M); a larger value is a broken file.
MAX_CONFIG_INTEGER = 10**9


def _layer_list(config: dict, name: str, layers: int, problems: list) -> list | None:
    """`config[name]` as a list of layer numbers 0..layers-1 (None when absent, or refused)."""
    value = config.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < layers
                                              for i in value):
        problems.append(f"{name}: {str(value)[:60]} (must be a list of layer numbers 0 to {layers - 1})")
        return None
    return value


def _dense_layers(config: dict, layers: int, problems: list, notes: list) -> int:
    """How many of an MoE model's layers have a dense MLP instead of experts: the first
    `first_k_dense_replace`, those in `mlp_only_layers`, and those off the MoE stride
    (`decoder_sparse_step`, Llama 4's `interleave_moe_layer_step`: layer i has experts when
    (i + 1) % step == 0, as Qwen2/3-MoE and Llama 4; `moe_layer_freq`: when i % freq == 0 past the
    first k, as DeepSeek-V2/V3). Llama 4's `moe_layers`, the list of layers with experts, takes the
    place of its stride when given, as in transformers. The model counts them as leading dense
    layers: parameters, FLOPs and memory depend on how many, not where."""
    first = config.get("first_k_dense_replace") or 0
    strides = {name: config.get(name, 1) for name in ("decoder_sparse_step", "interleave_moe_layer_step",
                                                       "moe_layer_freq")}
    for name, value in strides.items():
        if value is not None and value < 1:   # `layer % 0`: the model's own code cannot load it
            problems.append(f"{name}: {value} (must be 1 or more)")
            return 0
    step = strides["decoder_sparse_step"] or 1
    interleave = strides["interleave_moe_layer_step"] or 1
    freq = strides["moe_layer_freq"] or 1
    if first >= layers:
        problems.append(f"first_k_dense_replace: {first} (no layer of the {layers} keeps its experts)")
        return 0
    refused: list[str] = []
    only = (_layer_list(config, "mlp_only_layers", layers, refused) if config.get("mlp_only_layers") else None) or []
    moe_listed = _layer_list(config, "moe_layers", layers, refused)
    if refused:
        problems.extend(refused)
        return 0
    dense = {i for i in range(layers)
             if i < first or i in only or (i + 1) % step != 0 or i % freq != 0
             or (moe_listed is None and (i + 1) % interleave != 0)
             or (moe_listed is not None and i not in moe_listed)}
    if len(dense) >= layers:
        problems.append(f"decoder_sparse_step/interleave_moe_layer_step/moe_layer_freq/mlp_only_layers/moe_layers: "
                        f"no layer keeps its experts (step {step}, interleave {interleave}, freq {freq}, "
                        f"{len(only)} MLP-only layers of {layers}"
                        + (f", {len(moe_listed)} listed MoE layers" if moe_listed is not None else "") + ")")
    elif len(dense) > first:
        how = (f"{len(moe_listed)} listed in moe_layers" if moe_listed is not None
               else f"stride {step if interleave == 1 else interleave}/{freq}")
        notes.append(f"{len(dense)} of {layers} layers have a dense MLP (first {first}, {how}, "
                     f"{len(only)} listed MLP-only): counted as {len(dense)} dense layers")
    return len(dense)


def _windowed_attention(config: dict, layers: int, context: int | None, notes: list,
                        problems: list) -> tuple[int, int, list[str], list[str]]:
    """(window tokens, windowed layers, fields read, fields not modelled) of `config`'s windowed
    attention (see WINDOW_FIELDS); (0, 0, [], []) when no window applies."""
    found = []   # (key, size, layers using it, where the count comes from)
    for key in WINDOW_SIZE:
        size = config.get(key)
        if size is None or size is False or size == 0:
            continue
        if key == "sliding_window" and config.get("use_sliding_window") is False:
            continue   # Qwen2/2.5: a window given but switched off
        if isinstance(size, OversizedNumber) or (isinstance(size, float) and not math.isfinite(size)):
            problems.append(f"{key}: {_show(size)} (larger than {MAX_CONFIG_INTEGER:,}; not a real model)")
            continue
        if isinstance(size, bool) or not isinstance(size, (int, float)) or size != int(size) or size < 0:
            problems.append(f"{key}: {_show(size)} (must be a whole number of tokens)")
            continue
        if size > MAX_CONFIG_INTEGER:
            problems.append(f"{key}: {_show(size)} (larger than {MAX_CONFIG_INTEGER:,}; not a real model)")
            continue
        if context and size >= context:
            continue   # as long as the context: no token ever leaves it
        count, source = _windowed_layer_count(config, key, layers, problems)
        if count:
            found.append((key, int(size), count, source))
    if not found:
        return 0, 0, [], []
    key, size, count, source = found[0]
    others = [other for other, *_ in found[1:]]
    read = [k for k in WINDOW_FIELDS + ("no_rope_layers", "no_rope_layer_interval")
            if k in config and k not in others and (k in WINDOW_FIELDS or source.startswith(k + ":")
                                                     or source.startswith(k + " "))]
    kind = "chunks" if key == "attention_chunk_size" else "a sliding window"
    notes.append(f"{key} {size:,} on {count} of {layers} layers ({source}): those layers cache and attend to "
                 f"at most {size:,} tokens ({kind})" + ("; chunked attention counted as a window of the chunk, "
                                                         "its attention overstated up to 2x" if kind == "chunks" else ""))
    not_modelled = []
    for other, other_size, other_count, _ in found[1:]:
        notes.append(f"{other} {other_size:,} on {other_count} of {layers} layers not modelled ({NOT_MODELLED_WHY})")
        not_modelled.append(other)
    return size, count, read, not_modelled


def _windowed_layer_count(config: dict, key: str, layers: int, problems: list) -> tuple[int, str]:
    """(how many of the layers use the `key` window, where that count comes from)."""
    pattern = config.get("layer_types")
    if isinstance(pattern, list):
        word = "chunked" if key == "attention_chunk_size" else "sliding"
        return min(sum(1 for t in pattern if isinstance(t, str) and word in t), layers), "layer_types"
    model_type = str(config.get("model_type") or "").lower()
    every = config.get("sliding_window_pattern", DEFAULT_WINDOW_PATTERN.get(model_type))
    if key == "sliding_window" and every is not None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            problems.append(f"sliding_window_pattern: {_show(every)} (must be a whole number, 1 or more)")
            return 0, ""
        given = "sliding_window_pattern" if "sliding_window_pattern" in config else f"{model_type}'s default"
        return layers - layers // every, f"{given} {every}: 1 in {every} layers full"
    if key == "sliding_window" and config.get("use_sliding_window") is True and "max_window_layers" in config:
        first = config["max_window_layers"]
        if isinstance(first, bool) or not isinstance(first, int) or first < 0:
            problems.append(f"max_window_layers: {_show(first)} (must be a whole number, 0 or more)")
            return 0, ""
        return max(layers - first, 0), f"max_window_layers {first}: the first {min(first, layers)} full"
    if key == "sliding_window" and model_type in ALTERNATING_WINDOW_TYPES:
        return (layers + 1) // 2, f"{model_type}: every other layer"
    if key == "attention_chunk_size":
        flags = config.get("no_rope_layers")
        if isinstance(flags, list) and flags:
            return min(sum(1 for flag in flags if flag), layers), "no_rope_layers: its RoPE layers"
        every = config.get("no_rope_layer_interval", LLAMA4_NOPE_INTERVAL)
        if isinstance(every, int) and not isinstance(every, bool) and every >= 1:
            return layers - layers // every, f"no_rope_layer_interval {every}: 1 in {every} layers full"
    return layers, "every layer"


def _flattened(config: dict) -> dict:
    """`config` with each NESTED_SECTIONS object's fields moved up as "section.field"."""
    flat = dict(config)
    for section in NESTED_SECTIONS:
        inner = flat.get(section)
        if isinstance(inner, dict):
            del flat[section]
            flat.update({f"{section}.{key}": value for key, value in inner.items()})
    return flat


def _number(value) -> float | None:
    """A finite JSON number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _rope_context(config: dict, context: int, context_key: str, notes: list, problems: list) -> int | None:
    """The context window `rope_scaling` stretches `context` (from `context_key`) to, as vLLM
    derives max_model_len: factor x original_max_position_embeddings (yarn; linear and dynamic
    when given), else factor x the window (ROPE_STRETCHING); None when rope_scaling changes nothing.
    Gemma 3's max_position_embeddings is already scaled (vLLM skips it too)."""
    scaling = config.get("rope_scaling")
    if not isinstance(scaling, dict) or str(config.get("model_type") or "").startswith("gemma3"):
        return None
    kind = str(scaling.get("rope_type") or scaling.get("type") or "").lower()
    if kind not in ROPE_STRETCHING:
        return None
    factor = _number(scaling.get("factor"))
    if factor is None or factor < 1:
        problems.append(f"rope_scaling.factor: {_show(scaling.get('factor'))} (must be a number of 1 or more)")
        return None
    original = scaling.get("original_max_position_embeddings")
    if original is not None:
        whole, problem = _whole_number("rope_scaling.original_max_position_embeddings", original)
        if problem or not whole:
            problems.append(problem or "rope_scaling.original_max_position_embeddings: 0 (must be a positive integer)")
            return None
        base, base_key = whole, "original_max_position_embeddings"
    else:
        base, base_key = context, context_key
    derived = int(base * factor)
    if derived > MAX_CONFIG_INTEGER:
        problems.append(f"rope_scaling.factor: {_show(scaling['factor'])} (x {base:,} = {derived:,} tokens; "
                        "not a real context window)")
        return None
    notes.append(f"context_len {derived:,} = rope_scaling {kind} factor {factor:g} x {base_key} {base:,} "
                 f"(as vLLM derives; {context_key} {context:,})")
    return derived


def _expanded_width(config: dict, hidden: int, hidden_key: str, problems: list, notes: list) -> int | None:
    """MPT's FFN width, expansion_ratio x d_model, as llm-foundry resolves it (a note says so);
    None with a problem when the ratio is no positive number or the width is not whole. Unread,
    MPT-7B with a ratio of 8 imported with 4 x hidden: 6.7 B parameters for 10.9 B."""
    ratio = _number(config[EXPANSION_RATIO])
    if ratio is None or ratio <= 0:
        problems.append(f"{EXPANSION_RATIO}: {_show(config[EXPANSION_RATIO])} (must be a positive number)")
        return None
    width = hidden * ratio
    if not math.isfinite(width) or width > MAX_CONFIG_INTEGER:
        problems.append(f"{EXPANSION_RATIO}: {_show(config[EXPANSION_RATIO])} (x {hidden_key} {hidden:,}: "
                        "not a real model)")
        return None
    if width != int(width):
        problems.append(f"{EXPANSION_RATIO}: {_show(config[EXPANSION_RATIO])} (x {hidden_key} {hidden:,} = "
                        f"{width:,g}: not a whole FFN width)")
        return None
    notes.append(f"FFN width {int(width):,} = {EXPANSION_RATIO} {ratio:g} x {hidden_key} {hidden:,}")
    return int(width)


def _quantization_note(config: dict) -> str | None:
    """What `quantization_config` says of the stored weights, for serving them: the
    `serve --weight-dtype` that matches (fp8 DeepSeek-V3, 4-bit AWQ/GPTQ), else what it is."""
    quant = config.get("quantization_config")
    if not isinstance(quant, dict):
        return None
    method = str(quant.get("quant_method") or "").lower()
    dtype = QUANT_METHOD_DTYPES.get(method)
    bits = quant.get("bits", quant.get("w_bit"))
    if dtype is None and method in BITS_QUANT_METHODS and bits in (4, 8):
        dtype = "int4" if bits == 4 else "int8"
    if dtype is None and method == "bitsandbytes":
        dtype = "int4" if quant.get("load_in_4bit") else "int8" if quant.get("load_in_8bit") else None
    if dtype is None and method == "compressed-tensors":
        groups = quant.get("config_groups")
        weights: list[dict] = [g["weights"] for g in (groups.values() if isinstance(groups, dict) else [])
                               if isinstance(g, dict) and isinstance(g.get("weights"), dict)]
        kinds = {(w.get("num_bits"), w.get("type")) for w in weights}
        if len(kinds) == 1:
            by_bits: dict[tuple, str] = {(8, "float"): "fp8", (4, "float"): "fp4", (8, "int"): "int8", (4, "int"): "int4"}
            dtype = by_bits.get(kinds.pop())
    what = (f"quant_method {method!r}" if method else "no quant_method") + (
        f", {bits} bits" if isinstance(bits, int) and method in BITS_QUANT_METHODS else "")
    if dtype:
        return f"checkpoint is {dtype} (quantization_config {what}): serve with --weight-dtype {dtype}"
    return (f"checkpoint is quantized (quantization_config {what}): its weights' dtype "
            "was not read; serve with the --weight-dtype it stores")


class OversizedNumber(str):
    """A JSON integer literal too long to be a real value, kept as text so the field is named."""


def parse_json_int(text: str):
    """`parse_int` hook for json.loads: huge literals don't reach int() (4,300-digit limit, CPU)."""
    return int(text) if len(text) <= 30 else OversizedNumber(text)


def _show(value) -> str:
    if isinstance(value, OversizedNumber):
        return f"a {len(value.lstrip('-'))}-digit number"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _whole_number(key: str, value) -> tuple[int | None, str | None]:
    """(value as int, None) or (None, 'key: value (why)')."""
    if isinstance(value, OversizedNumber) or (isinstance(value, int) and not isinstance(value, bool)
                                              and abs(value) > MAX_CONFIG_INTEGER):
        return None, f"{key}: {_show(value)} (larger than {MAX_CONFIG_INTEGER:,}; not a real model)"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"{key}: {_show(value)} (must be a whole number)"
    if isinstance(value, float):
        if not math.isfinite(value):
            return None, f"{key}: {_show(value)} (must be a finite whole number)"
        if value != int(value):
            return None, f"{key}: {_show(value)} (must be a whole number)"
        if abs(value) > MAX_CONFIG_INTEGER:
            return None, f"{key}: {_show(value)} (larger than {MAX_CONFIG_INTEGER:,}; not a real model)"
    if value < 0:
        # a size every model has (hidden_size, num_hidden_layers, ...) says what a 0 would be told
        if any(key in names for name, names in FIELD_ALIASES.items() if name in POSITIVE_FIELDS):
            return None, f"{key}: {_show(value)} (must be a positive integer)"
        return None, f"{key}: {_show(value)} (must be >= 0)"
    return int(value), None


def checked_config(config: dict) -> dict:
    """`config` with every field used in arithmetic checked and turned into an int; every problem
    listed as 'field: value (why)' before any value is used."""
    clean, problems = dict(config), []
    for key in WHOLE_NUMBER_FIELDS:
        if config.get(key) is None:
            continue
        number, problem = _whole_number(key, config[key])
        if problem:
            problems.append(problem)
        else:
            clean[key] = number
    for key in TEXT_FIELDS:
        if config.get(key) is not None and not isinstance(config[key], str):
            problems.append(f"{key}: {_show(config[key])} (must be text)")
    for flag in FLAG_FIELDS:
        value = config.get(flag)
        if value is not None and value not in (True, False, 0, 1):
            problems.append(f"{flag}: {_show(value)} (must be true or false)")
    if problems:
        raise ValidationError(problems)
    return clean


@dataclass(frozen=True)
class HfImport:
    model: ModelConfig
    used: tuple[str, ...]
    ignored: tuple[str, ...]
    unknown: tuple[str, ...]
    notes: tuple[str, ...]
    # fields that change the figures but that ModelConfig has no field for (NOT_MODELLED_WHY)
    not_modelled: tuple[str, ...] = ()


def _first(config: dict, names) -> tuple[str | None, int | None]:
    """The first of `names` that has a value, and the value: a whole number, as every name looked
    up here is in WHOLE_NUMBER_FIELDS and `config` has been through `checked_config`."""
    for name in names:
        if name in config and config[name] is not None:
            return name, config[name]
    return None, None


def slug(text: str) -> str:
    text = re.sub(r"[^a-z0-9._+-]+", "-", text.lower()).strip("-._+")   # an id starts with a letter or digit
    return text[:64] or "model"


def _with_config_name(problem: str, names: dict) -> str:
    field, sep, rest = problem.partition(":")
    key = names.get(field)
    return f"{field} ({key}){sep}{rest}" if sep and key and key != field else problem


def _ffn_form(config: dict, model_type: str, hidden: float | None = None, ffn: float | None = None) -> tuple[bool, str]:
    """(gated, why in words) by the rule of GATED_FFN_TYPES; in a family not known here, a width
    of 4 x hidden is the classic two-matrix MLP and another width (LLaMA's 8/3) a gated one,
    whatever the activation (a GeGLU model with gelu and 11008 of 4096 read as two matrices)."""
    key = next((k for k in ACTIVATION if config.get(k)), None)
    act = str(config[key]).lower() if key else ""
    if "glu" in act or "gated" in act:
        return True, f"{key} {act!r} is a gated linear unit"
    if model_type in GATED_FFN_TYPES:
        return True, f"model_type {model_type!r} has a gated MLP"
    if model_type in PLAIN_FFN_TYPES:
        return False, f"model_type {model_type!r} has a two-matrix MLP"
    family = f"model_type {model_type!r} not known here" if model_type else "no model_type"
    if hidden and ffn:
        if abs(ffn / hidden - 4.0) < 0.05:
            return False, f"{family} and an FFN width of 4 x hidden: a plain two-matrix MLP assumed"
        if act not in ("silu", "swish", ""):
            return True, (f"{family} and an FFN width of {ffn / hidden:.2f} x hidden (not 4): a gated MLP "
                          f"assumed, with {key} {act!r}")
    if not act:
        return True, f"no activation and {family}: SwiGLU assumed, as LLaMA's"
    if act in ("silu", "swish"):
        return True, f"{key} {act!r} and {family}: SwiGLU assumed, as LLaMA's"
    return False, f"{key} {act!r} and {family}: a plain two-matrix MLP assumed"


def model_from_hf_config(config: dict, *, model_id: str, name: str | None = None,
                         training_seq_len: int = 4096) -> HfImport:
    from engine.validate import check_model

    if not isinstance(config, dict):
        raise ValidationError(["config.json: top level must be a JSON object"])
    notes: list[str] = []
    inner = config.get("text_config")
    if isinstance(inner, dict) and _first(config, FIELD_ALIASES["layers"])[0] is None \
            and _first(inner, FIELD_ALIASES["layers"])[0] is not None:
        # a multimodal model (Llama 4, Qwen2.5-VL, Gemma 3) keeps its language model one level
        # down; its vision tower is not counted (the text model is what serves the tokens)
        outer = {k: v for k, v in config.items() if k != "text_config" and "vision" not in k}
        config = {**outer, **inner}
        notes.append("read the language model from text_config (a multimodal model; its vision encoder is "
                     "not counted)")
    elif isinstance(config.get("vision_config"), dict):
        # Qwen2-VL / Qwen2.5-VL: the language model's fields at the top level, the vision tower's
        # in vision_config; read as the text_config case above
        config = {k: v for k, v in config.items() if "vision" not in k}
        notes.append("a multimodal model (vision_config): its vision encoder is not counted")
    config = checked_config(_flattened(config))
    used, problems = set(), []
    fields: dict[str, Any] = {}  # ModelConfig field -> value, for check_model
    # MPT: kv_n_heads counts only for grouped-query attention (llm-foundry's default of 1 sits in
    # every multi-head config)
    attn_type = str(config.get(MPT_ATTN_TYPE) or "")
    skip = {"attn_config.kv_n_heads"} if attn_type in ("multihead_attention", "multiquery_attention") else set()
    for field, aliases in FIELD_ALIASES.items():
        key, value = _first(config, [a for a in aliases if a not in skip])
        if key is not None:
            used.add(key)
            fields[field] = value
    if attn_type:
        used.add(MPT_ATTN_TYPE)
        used.update(k for k in skip if k in config)
        if attn_type == "multiquery_attention" and "kv_heads" not in fields:
            fields["kv_heads"] = 1
            notes.append(f"{MPT_ATTN_TYPE} {attn_type!r}: one KV head shared by every head")
        elif attn_type == "grouped_query_attention" and "kv_heads" not in fields:
            # taken as multi-head it had a KV cache n_heads times llm-foundry's
            fields["kv_heads"] = MPT_DEFAULT_KV_HEADS
            notes.append(f"{MPT_ATTN_TYPE} {attn_type!r} without attn_config.kv_n_heads: "
                         f"{MPT_DEFAULT_KV_HEADS} KV head, llm-foundry's default")
    family = str(config.get("model_type") or "").lower()
    if family in FAMILY_SIZE_DEFAULTS:
        source, defaults = FAMILY_SIZE_DEFAULTS[family]
        for field, value in defaults.items():
            if field not in fields:
                fields[field] = value
                notes.append(f"{FIELD_ALIASES[field][0]} missing: taken as {value:,}, {source}'s default "
                             f"(model_type {family!r})")
    for required in ("layers", "hidden", "heads", "vocab"):
        if required not in fields:
            problems.append(f"{required}: missing (looked for {', '.join(FIELD_ALIASES[required])})")
    mla = [k for k in MLA_ONLY if config.get(k)]
    if mla and not config.get("kv_lora_rank"):
        # without the KV rank the model would be read as plain attention: a 12x larger KV cache
        problems.append(f"kv_lora_rank: missing (the config has the MLA fields {', '.join(mla)}; MLA "
                        "attention needs its compressed KV rank)")
    if problems:
        raise ValidationError(problems)

    # The training sequence is the caller's (--seq-len) whatever the file has; the context window,
    # what a served request must fit in, is the file's, stretched by rope_scaling where it says so.
    context_key = _first(config, FIELD_ALIASES["seq_len"])[0]
    context = fields.pop("seq_len", None)
    if context is not None and context <= 0:
        # 0 was stored as "no context window known" (and seq_len as 4096, the note said 0)
        raise ValidationError([f"{context_key}: {context} (the context window must be a positive number of tokens)"])
    if context is not None:
        derived = _rope_context(config, int(context), str(context_key), notes, problems)
        if problems:
            raise ValidationError(problems)
        if derived is not None:
            used.add("rope_scaling")
            context = derived
        fields["context_len"] = int(context)
        fields["seq_len"] = min(int(context), training_seq_len)
        if training_seq_len > context:
            notes.append(f"training seq_len {training_seq_len:,} lowered to {context:,}, the context window")
        elif derived is not None:   # the rope_scaling note said the context window already
            notes.append(f"seq_len {training_seq_len:,}")
        else:
            notes.append(f"seq_len {training_seq_len:,}; context_len {context:,} (the context window)")
    else:
        fields["seq_len"] = training_seq_len
        notes.append(f"seq_len {training_seq_len:,}; context_len not known (no {', '.join(FIELD_ALIASES['seq_len'][:2])}): "
                     "requests are not checked against a context window")
    quantized = _quantization_note(config)
    if quantized:
        used.add("quantization_config")
        notes.append(quantized)

    model_type = str(config.get("model_type") or "").lower()
    def _num(v):
        try:
            return float(v)
        except (TypeError, ValueError):
            return None
    ffn_key, ffn = _first(config, FFN_WIDTH)
    if ffn_key is None and EXPANSION_RATIO in config:
        ffn = _expanded_width(config, int(fields["hidden"]), str(_first(config, FIELD_ALIASES["hidden"])[0]),
                              problems, notes)
        if problems:
            raise ValidationError(problems)
        ffn_key = EXPANSION_RATIO
    elif ffn_key is not None and EXPANSION_RATIO in config:   # llm-foundry reads the width given
        used.add(EXPANSION_RATIO)
        notes.append(f"{EXPANSION_RATIO} not used: {ffn_key} gives the FFN width")
    fields["gated_ffn"], ffn_why = _ffn_form(config, model_type, _num(fields.get("hidden")), _num(ffn))
    if "kv_heads" not in fields and not mla:
        # with no count, a multi-query flag (see MULTI_QUERY_TYPES) or else one KV head per head
        multi_query = config.get("multi_query", model_type in MULTI_QUERY_TYPES)
        if multi_query and not config.get("new_decoder_architecture"):
            fields["kv_heads"] = 1
            flag = "multi_query" if "multi_query" in config else f"multi_query (the default for {model_type!r})"
            notes.append(f"{flag}: one KV head shared by the {fields['heads']} heads (multi-query attention)")
        elif attn_type == "multihead_attention":
            fields["kv_heads"] = fields["heads"]
            notes.append(f"{MPT_ATTN_TYPE} {attn_type!r}: kv heads = {fields['heads']}")
        else:
            fields["kv_heads"] = fields["heads"]
            notes.append(f"num_key_value_heads not given: assumed multi-head attention, kv heads = {fields['heads']}")
    for flag in ("multi_query", "new_decoder_architecture"):
        if flag in config:
            used.add(flag)
    if "tie_word_embeddings" in config:
        fields["tied_embeddings"] = bool(config["tie_word_embeddings"])
    else:
        # Hugging Face's own default: True (PretrainedConfig), False for the families whose config
        # class sets it; GPT-2 without the field counted its 38.6M-parameter head twice. Without a
        # model_type there is no class to ask: untied, as almost every large model is.
        model_type = str(config.get("model_type") or "")
        fields["tied_embeddings"] = bool(model_type) and model_type not in UNTIED_BY_DEFAULT
        notes.append(f"tie_word_embeddings missing: taken as {str(fields['tied_embeddings']).lower()}, the "
                     f"default for model_type {model_type or '(none)'!r}")

    if ffn_key:
        used.add(ffn_key)
    # ModelConfig field -> the config's own name for it, for messages: "moe_topk: 9" was said of a
    # file whose field is num_experts_per_tok
    config_names = {f: key for f in FIELD_ALIASES if f != "seq_len" and (key := _first(config, FIELD_ALIASES[f])[0])}
    if context_key:
        config_names["context_len"] = str(context_key)
    config_names["ffn_hidden"] = ffn_key or ""
    n_key, experts = _first(config, EXPERT_COUNT)
    if n_key and not experts:   # read, and found to say "no experts": not an unknown field
        used.add(n_key)
        ignored_topk = [k for k in EXPERT_TOPK if config.get(k)]
        used.update(ignored_topk)
        notes.append(f"{n_key} 0: imported as a dense model"
                     + (f" ({', '.join(ignored_topk)} not used)" if ignored_topk else ""))
    if n_key and experts:
        used.add(n_key)
        fields["moe_experts"] = experts
        config_names["moe_experts"] = n_key
        k_key, topk = _first(config, EXPERT_TOPK)
        if k_key:
            used.add(k_key)
            fields["moe_topk"] = topk
            config_names["moe_topk"] = k_key
        else:
            problems.append(f"num_experts_per_tok: missing (an MoE config with {experts} experts; looked for "
                            f"{', '.join(EXPERT_TOPK)})")
        s_key, shared = _first(config, SHARED_EXPERTS)
        if s_key:
            used.add(s_key)
            fields["moe_shared_experts"] = shared or 0
            config_names["moe_shared_experts"] = s_key
        w_key, width = _first(config, EXPERT_WIDTH)
        if w_key:
            used.add(w_key)
            fields["moe_ffn_hidden"] = width
            fields["ffn_hidden"] = ffn or 0
            config_names["moe_ffn_hidden"] = w_key
        else:  # Mixtral, Llama 4: intermediate_size is the expert width (Mixtral: every layer is MoE)
            fields["moe_ffn_hidden"] = ffn or 0
            config_names["moe_ffn_hidden"] = ffn_key or ""
            d_key, dense_width = _first(config, DENSE_FFN_WIDTH)   # Llama 4: the dense layers' own width
            if d_key:
                used.add(d_key)
            fields["ffn_hidden"] = dense_width or 0
            config_names["ffn_hidden"] = d_key or ""
        dense = _dense_layers(config, int(fields["layers"]), problems, notes)
        if not dense and fields["ffn_hidden"] and not problems:
            # every layer has experts: no dense FFN to size (the built-in Qwen3-235B has 0; the
            # width entered no parameter, FLOP or memory figure, which count dense layers only)
            if w_key and ffn_key != w_key:
                notes.append(f"{ffn_key} {fields['ffn_hidden']} not used: every layer has experts")
            fields["ffn_hidden"] = 0
        if dense:
            fields["moe_dense_layers"] = dense
            if _first(config, DENSE_FFN_WIDTH)[0] and not w_key:
                notes.append(f"dense layers' FFN width {fields['ffn_hidden']} (intermediate_size_mlp), the "
                             f"experts' {fields['moe_ffn_hidden']} (intermediate_size)")
        llama4 = str(config.get("model_type") or "") in LLAMA4_TYPES or any(k in config for k in LLAMA4_ONLY)
        if llama4 and not s_key and not config.get("shared_expert_intermediate_size"):
            fields["moe_shared_experts"] = 1
            notes.append(f"one shared expert of width {fields['moe_ffn_hidden']} counted in every MoE layer "
                         "(Llama 4's architecture; config.json has no field for it)")
        if config.get("shared_expert_intermediate_size"):
            shared_width = config["shared_expert_intermediate_size"]
            width = fields.get("moe_ffn_hidden") or 1
            fields["moe_shared_experts"] = max(1, round(shared_width / width))
            notes.append(f"shared expert of width {shared_width} counted as {fields['moe_shared_experts']} "
                         f"expert(s) of width {width}")
        if fields.get("moe_dense_layers") and not fields.get("ffn_hidden"):
            problems.append("intermediate_size: missing (needed for the leading dense layers)")
    else:
        if ffn is None:
            ffn = 4 * int(fields["hidden"])
            notes.append("intermediate_size missing: assumed 4 x hidden")
        elif model_type in HALVED_FFN_TYPES and ffn_key == "intermediate_size":
            # Qwen (v1) gives the gate and up matrices' widths together: QWenMLP builds each at
            # intermediate_size // 2 (Qwen-7B: 22016 -> 11008). Read whole it counted 12.0 B for 7.7 B.
            ffn = int(ffn) // 2
            notes.append(f"intermediate_size {int(ffn) * 2} halved to {ffn}: model_type {model_type!r} gives the "
                         "gate and up widths together")
        fields["ffn_hidden"] = ffn
    if problems:
        raise ValidationError(problems)
    if fields.get("head_dim") and int(fields["head_dim"]) * int(fields["heads"]) == int(fields["hidden"]):
        fields["head_dim"] = 0  # the default; keep presets uniform
    fields["id"] = model_id
    fields["name"] = name or str(config.get("_name_or_path") or model_id)
    fields["source"] = "imported from a Hugging Face config.json"
    try:
        model = check_model(fields)
    except ValidationError as exc:   # named as the config names them: "kv_heads (num_key_value_heads)"
        raise ValidationError([_with_config_name(p, config_names) for p in exc.problems]) from None
    if model.dense_layers and model.ffn_hidden:   # (an all-MoE model's experts are gated either way)
        notes.append(f"FFN taken as {'gated (3 matrices)' if model.gated_ffn else 'not gated (2 matrices)'}: {ffn_why}")
    for flag in ACTIVATION + ("tie_word_embeddings", "first_k_dense_replace", "shared_expert_intermediate_size",
                              "decoder_sparse_step", "mlp_only_layers", "moe_layer_freq", "interleave_moe_layer_step",
                              "moe_layers"):
        if flag in config and (flag != "moe_layers" or model.is_moe):
            used.add(flag)
    window, windowed, read, not_modelled = _windowed_attention(config, model.layers, model.context_len or None,
                                                               notes, problems)
    if problems:
        raise ValidationError(problems)
    if windowed:
        # (set after check_model, which reads the fields a preset stores)
        model = replace(model, attention_window_tokens=window, windowed_layers=windowed)
        window_problems = model.validate()
        if window_problems:
            raise ValidationError(window_problems)
        used.update(read)
    # a known field set to null ("q_lora_rank": null in DeepSeek-V2-Lite: no query compression)
    # was read, as "not set"; it is not an unknown name
    used.update(k for k in WHOLE_NUMBER_FIELDS if k in config and config[k] is None)
    ignored = sorted(k for k in config if k in IGNORED and k not in used and k not in not_modelled)
    unknown = sorted(k for k in config if k not in IGNORED and k not in used and k not in not_modelled)
    return HfImport(model=model, used=tuple(sorted(used)), ignored=tuple(ignored),
                    unknown=tuple(unknown), notes=tuple(notes), not_modelled=tuple(not_modelled))
