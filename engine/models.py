"""Decoder-only transformer architectures: parameter counts and KV-cache sizes.

Dense (MHA/GQA/MQA, gated or plain FFN) and MoE (routed + shared experts, leading dense
layers), with DeepSeek's multi-head latent attention (MLA) as an attention variant.

Windowed attention: `windowed_layers` of the layers attend to (and cache) only the last
`attention_window_tokens` tokens (a sliding window: Mistral 7B v0.1, Gemma 2/3, gpt-oss), the
rest to the whole context. Llama 4's chunked attention (a token attends to the tokens of its own
8,192-token chunk) is entered as a window of the chunk's size: its cache holds at most one chunk,
as counted; its attention is counted as a sliding window's, up to twice what the chunks attend to
on average at contexts well past a chunk (a token attends to half a chunk on average), so its
attention time is overstated there and never understated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


# Upper bounds far above any published model (Llama 3 405B: 126 layers, hidden 16,384, 128 heads,
# vocab 128,256, 128K context), so a typo or a 1e30 is named instead of computed with.
MAX_MODEL_SIZE = {"layers": 100_000, "hidden": 10_000_000, "heads": 1_000_000, "kv_heads": 1_000_000,
                  "vocab": 100_000_000, "seq_len": 1_000_000_000}


@dataclass(frozen=True)
class ModelConfig:
    id: str
    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn_hidden: int  # width of the dense FFN layers (0 when every layer is MoE)
    vocab: int
    seq_len: int = 4096   # the training sequence length
    # The context window a served request must fit in, prompt and output together
    # (max_position_embeddings of config.json); 0 = not known, and nothing is checked against it.
    context_len: int = 0
    head_dim: int = 0  # 0 = hidden // heads
    gated_ffn: bool = True  # SwiGLU/GeGLU: three matrices; else two (GELU, FFN = 4h)
    tied_embeddings: bool = False
    # MoE (moe_experts == 0 means dense)
    moe_experts: int = 0
    moe_shared_experts: int = 0
    moe_topk: int = 0
    moe_ffn_hidden: int = 0
    moe_dense_layers: int = 0
    # MLA (kv_lora_rank == 0 means ordinary attention)
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # Windowed attention (see the module doc): the window in tokens and how many of the layers use
    # it; 0 and 0 = every layer attends to the whole context
    attention_window_tokens: int = 0
    windowed_layers: int = 0
    params_b_reported: float | None = None
    source: str = ""

    # ---- derived shape -------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.moe_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def attention(self) -> str:
        if self.is_mla:
            return "mla"
        return "mha" if self.kv_heads == self.heads else "gqa"

    @property
    def head_dim_eff(self) -> int:
        return self.head_dim or self.hidden // self.heads

    @property
    def moe_layers(self) -> int:
        return self.layers - self.moe_dense_layers if self.is_moe else 0

    @property
    def dense_layers(self) -> int:
        return self.layers - self.moe_layers

    @property
    def ffn_matrices(self) -> int:
        return 3 if self.gated_ffn else 2

    @property
    def windowed(self) -> bool:
        return self.attention_window_tokens > 0 and self.windowed_layers > 0

    @property
    def windowed_share(self) -> float:
        """Share of the layers (and so of the KV cache per token, and of attention) that is windowed."""
        return self.windowed_layers / self.layers if self.windowed else 0.0

    # ---- parameters ------------------------------------------------------------------
    def attention_params_per_layer(self) -> int:
        h = self.hidden
        if self.is_mla:
            qk_dim = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * self.heads * qk_dim
            else:
                q = h * self.heads * qk_dim
            kv_down = h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
            kv_up = self.kv_lora_rank * self.heads * (self.qk_nope_head_dim + self.v_head_dim)
            out = self.heads * self.v_head_dim * h
            return q + kv_down + kv_up + out
        d = self.head_dim_eff
        return h * d * (2 * self.heads + 2 * self.kv_heads)

    def dense_ffn_params_per_layer(self) -> int:
        return self.ffn_matrices * self.hidden * self.ffn_hidden

    def expert_params(self) -> int:
        """Parameters of one expert (routed or shared); experts are gated."""
        return 3 * self.hidden * self.moe_ffn_hidden

    def moe_ffn_params_per_layer(self, active: bool = False) -> int:
        experts = (self.moe_topk if active else self.moe_experts) + self.moe_shared_experts
        router = self.hidden * self.moe_experts
        return experts * self.expert_params() + router

    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    def _params(self, active: bool) -> int:
        norms = 2 * self.hidden
        per_dense = self.attention_params_per_layer() + self.dense_ffn_params_per_layer() + norms
        per_moe = self.attention_params_per_layer() + self.moe_ffn_params_per_layer(active) + norms
        return (
            self.dense_layers * per_dense
            + self.moe_layers * per_moe
            + self.embedding_params()
            + self.hidden
        )

    def total_params(self) -> int:
        return self._params(active=False)

    def active_params(self) -> int:
        """Parameters touched by one token (top-k + shared experts for MoE)."""
        return self._params(active=True)

    def non_embedding_params(self, active: bool = False) -> int:
        return self._params(active) - self.embedding_params()

    # ---- KV cache ----------------------------------------------------------------------
    def kv_elements_per_token(self) -> int:
        """Cached elements per token over all layers: K and V (MLA: the latent + rope key)."""
        if self.is_mla:
            return self.layers * (self.kv_lora_rank + self.qk_rope_head_dim)
        return 2 * self.layers * self.kv_heads * self.head_dim_eff

    def kv_bytes_per_token(self, bytes_per_element: float) -> float:
        return self.kv_elements_per_token() * bytes_per_element

    def kv_elements_per_sequence(self, context_tokens: int) -> int:
        """Cached elements of one sequence of `context_tokens`: the full-attention layers hold
        every token, the windowed ones at most the window's."""
        per_layer = self.kv_elements_per_token() // self.layers   # every layer caches alike
        ctx = int(context_tokens)
        if not self.windowed:
            return per_layer * self.layers * ctx
        full = self.layers - self.windowed_layers
        return per_layer * (full * ctx + self.windowed_layers * min(ctx, self.attention_window_tokens))

    def kv_bytes_per_sequence(self, context_tokens: int, bytes_per_element: float) -> float:
        return self.kv_elements_per_sequence(context_tokens) * bytes_per_element

    def kv_context_tokens(self, context_tokens):
        """`context_tokens` (a number or an array) as tokens of the whole model's KV cache: what one
        sequence caches, and what a new token's attention reads, over every layer = this x the
        per-token figures (`kv_elements_per_token`, decode attention FLOPs per context token)."""
        return windowed_context(context_tokens, self.attention_window_tokens, self.windowed_share)

    def prefill_attention_span_sq(self, tokens):
        """Causal attention of a `tokens`-long prefix in units where full attention is tokens^2
        (2 x the pairs attended): the prefill attention FLOPs of tokens o..o+n are a per-layer
        coefficient x (this at o + n - this at o)."""
        return windowed_span_sq(tokens, self.attention_window_tokens, self.windowed_share)

    def training_flops_per_token(self, seq_len: int | None = None, *, causal_half: bool = True) -> float:
        """Model FLOPs per trained token: the module function `training_flops_per_token` below."""
        return training_flops_per_token(self, seq_len, causal_half=causal_half)

    def validate(self) -> list[str]:
        """Problems with this architecture, as 'field: value (why)' strings; empty when sound."""
        problems = []
        for name in ("layers", "hidden", "heads", "kv_heads", "vocab", "seq_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                problems.append(f"{name}: {value!r} (must be a positive integer)")
            elif value > MAX_MODEL_SIZE[name]:
                # far beyond any real model: arithmetic on it would only mislead (a case with
                # layers 1e30 was blamed on its measured value)
                shown = f"{value:,}" if value < 10**15 else f"{float(value):.3g}"
                problems.append(f"{name}: {shown} (at most {MAX_MODEL_SIZE[name]:,}; not a real model)")
        if problems:
            return problems
        if self.kv_heads > self.heads or self.heads % self.kv_heads:
            problems.append(f"kv_heads: {self.kv_heads} (must divide heads = {self.heads})")
        if not self.head_dim and self.hidden % self.heads:
            problems.append(f"hidden: {self.hidden} (not divisible by heads = {self.heads}; give head_dim)")
        if self.is_moe:
            if not (0 < self.moe_topk <= self.moe_experts):
                problems.append(f"moe_topk: {self.moe_topk} (must be 1..moe_experts = {self.moe_experts})")
            if self.moe_ffn_hidden <= 0:
                problems.append(f"moe_ffn_hidden: {self.moe_ffn_hidden} (must be positive for MoE)")
            if not (0 <= self.moe_dense_layers < self.layers):
                problems.append(f"moe_dense_layers: {self.moe_dense_layers} (must be 0..layers-1)")
            if self.moe_dense_layers and self.ffn_hidden <= 0:
                problems.append(f"ffn_hidden: {self.ffn_hidden} (dense layers need a width)")
        elif self.ffn_hidden <= 0:
            problems.append(f"ffn_hidden: {self.ffn_hidden} (must be positive)")
        if self.is_mla and (self.qk_rope_head_dim <= 0 or self.v_head_dim <= 0 or self.qk_nope_head_dim <= 0):
            problems.append("MLA needs qk_nope_head_dim, qk_rope_head_dim and v_head_dim > 0")
        problems.extend(self._window_problems())
        return problems

    def _window_problems(self) -> list[str]:
        window, windowed = self.attention_window_tokens, self.windowed_layers
        for name, value in (("attention_window_tokens", window), ("windowed_layers", windowed)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                return [f"{name}: {value!r} (must be a whole number, 0 or more)"]
        if window > MAX_MODEL_SIZE["seq_len"]:
            return [f"attention_window_tokens: {window:,} (at most {MAX_MODEL_SIZE['seq_len']:,}; not a real model)"]
        if windowed > self.layers:
            return [f"windowed_layers: {windowed} (at most layers = {self.layers})"]
        if window and not windowed:
            return [f"windowed_layers: 0 (an attention window of {window:,} tokens needs the number of layers "
                    "that use it, 1 or more)"]
        if windowed and not window:
            return [f"attention_window_tokens: 0 ({windowed} windowed layers need a window of 1 token or more)"]
        return []


def context_problem(model: ModelConfig, input_tokens: float, output_tokens: float) -> str:
    """Why a request of `input_tokens` in and `output_tokens` out can't be served by `model`
    ('' when it can, or when the model's context window is not known). A server refuses a prompt
    longer than its context (vLLM's max_model_len) and stops generating at its end, so figures
    for a longer request would describe a request no deployment of that model runs."""
    total = float(input_tokens) + float(output_tokens)
    if not model.context_len or not total > model.context_len:
        return ""
    return (f"input {float(input_tokens):,.0f} + output {float(output_tokens):,.0f} = {total:,.0f} tokens exceed "
            f"{model.name}'s context window of {model.context_len:,} tokens (the preset's context_len); "
            "shorten the request or pick a model with a longer context")


def context_fields(model: ModelConfig, input_tokens: float, output_tokens: float) -> tuple[str, str]:
    """(the request field to change, context_problem's words), or ("", "") when the request fits
    `model`'s context: the output's where it alone fills the context, whatever the prompt (an
    output raised to 50,000 tokens against 40,960 read "input tokens" in the error), else the
    input's (the words name both lengths)."""
    too_long = context_problem(model, input_tokens, output_tokens)
    if not too_long:
        return "", ""
    output_alone = bool(model.context_len) and float(output_tokens) >= model.context_len
    return ("output_tokens_per_request" if output_alone else "input_tokens_per_request"), too_long


def windowed_context(context_tokens, window: float, share: float):
    """Tokens a sequence of `context_tokens` caches and attends to, averaged over the layers, when
    `share` of them see only the last `window` (0: no window; `context_tokens` returned as is):
    context - share x max(context - window, 0). Numbers or numpy arrays."""
    if not window or not share:
        return context_tokens
    if isinstance(context_tokens, (int, float)):   # a plain number stays one (reports, JSON)
        return context_tokens - share * max(context_tokens - window, 0.0)
    return context_tokens - share * np.maximum(np.asarray(context_tokens, dtype=float) - window, 0.0)


def windowed_span_sq(tokens, window: float, share: float):
    """Twice the causal attention pairs of a `tokens`-long prefix, averaged over the layers (full
    attention: tokens^2): a windowed layer's token i attends to min(i, window) tokens, so its
    prefix has tokens^2 - max(tokens - window, 0)^2. Numbers or numpy arrays."""
    if not window or not share:
        return tokens * tokens
    if isinstance(tokens, (int, float)):
        return tokens * tokens - share * max(tokens - window, 0.0) ** 2
    over = np.maximum(np.asarray(tokens, dtype=float) - window, 0.0)
    return tokens * tokens - share * over * over


def windowed_mean_span(seq_len: float, window: float, share: float, causal_half: bool) -> float:
    """Training's attended tokens per query, averaged over the layers, in units of the full
    layers' (so a model without a window gives `seq_len`): a full layer attends to s/2 tokens per
    query causally (s counting the whole matrix, as older Megatron did), a windowed one to
    m - m^2/(2s) causally, m = min(s, window) (the band's area over s; m counted whole)."""
    s = float(seq_len)
    if not window or not share or window >= s:
        return seq_len
    m = float(window)
    band = (2.0 * m - m * m / s) if causal_half else m   # (its span) / (the full layer's scale)
    return (1.0 - share) * s + share * band


# ---- FLOPs (Megatron-LM `num_floating_point_operations` semantics) -------------------------
# Added for the training engine. Every GEMM costs 2 FLOPs per multiply-add; a training step runs
# each GEMM three times (forward, weight gradient, data gradient), so model FLOPs per trained
# token = 3 x the forward FLOPs below. Norms, softmax, rotary and the router are not counted,
# exactly as Megatron does not count them.

def _forward_flop_terms(model: ModelConfig, seq_len: int, causal_half: bool = True) -> dict:
    h = model.hidden
    a = model.heads
    # windowed layers attend to fewer tokens: the mean over the layers, in the full layers' terms
    s = windowed_mean_span(seq_len, model.attention_window_tokens, model.windowed_share, causal_half)
    core_scale = 0.5 if causal_half else 1.0
    if model.is_mla:
        qk = model.qk_nope_head_dim + model.qk_rope_head_dim
        if model.q_lora_rank:
            q_term = model.q_lora_rank * (h + a * qk + 1)
        else:
            q_term = h * a * qk
        kv_term = model.kv_lora_rank * (h + a * (model.qk_nope_head_dim + model.v_head_dim) + 1)
        proj_macs = q_term + kv_term + h * model.qk_rope_head_dim + a * model.v_head_dim * h
        core_macs = s * a * qk + s * a * model.v_head_dim
        attn_proj = 2.0 * proj_macs
        attn_core = 2.0 * core_macs * core_scale
    else:
        d = model.head_dim_eff
        q_dim = a * d
        kv_dim = model.kv_heads * d
        attn_proj = 2.0 * (2 * h * q_dim + 2 * h * kv_dim)  # Q, O and K, V projections
        attn_core = 2.0 * 2 * s * q_dim * core_scale        # QK^T and AV
    dense_mlp = 2.0 * model.ffn_matrices * h * model.ffn_hidden
    if model.is_moe:
        active_experts = model.moe_topk + model.moe_shared_experts
        moe_mlp = 2.0 * 3 * h * model.moe_ffn_hidden * active_experts
    else:
        moe_mlp = 0.0
    return {
        "attn_proj_per_layer": attn_proj,
        "attn_core_per_layer": attn_core,
        "dense_mlp_per_layer": dense_mlp,
        "moe_mlp_per_layer": moe_mlp,
        "logits": 2.0 * h * model.vocab,
        "dense_layers": model.dense_layers,
        "moe_layers": model.moe_layers,
    }


def forward_flops_per_token(model: ModelConfig, seq_len: int | None = None, *,
                            causal_half: bool = True) -> dict:
    """Forward FLOPs per token by term (per layer where named so), plus layer counts.

    `causal_half`: count half of the s x s attention matrix, as current Megatron-LM does
    (older releases, and Narayanan et al. 2021, counted all of it). With windowed layers
    `attn_core_per_layer` is the mean over all the layers (`windowed_mean_span`).
    """
    return _forward_flop_terms(model, seq_len or model.seq_len, causal_half)


def training_flops_per_token(model: ModelConfig, seq_len: int | None = None, *,
                             causal_half: bool = True) -> float:
    """Model FLOPs per trained token (forward + backward, no recompute) = Megatron-LM's
    `num_floating_point_operations(args, batch)` / (batch * seq_length)."""
    t = _forward_flop_terms(model, seq_len or model.seq_len, causal_half)
    per_dense = t["attn_proj_per_layer"] + t["attn_core_per_layer"] + t["dense_mlp_per_layer"]
    per_moe = t["attn_proj_per_layer"] + t["attn_core_per_layer"] + t["moe_mlp_per_layer"]
    forward = t["dense_layers"] * per_dense + t["moe_layers"] * per_moe + t["logits"]
    return 3.0 * forward

