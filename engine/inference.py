"""LLM serving: prefill and decode step times, KV capacity, scenarios, SLO capacity, chips needed.

The model is a calibrated roofline (see ../shared/design/MODELING.md, "Inference"):

- decode step = max(weight bytes / (HBM x eta_hbm), GEMM FLOPs / (peak x eta_decode))
  + max(KV bytes / (HBM x eta_hbm x eta_kv), attention FLOPs / (peak x eta_decode)) (GEMMs and
  attention are separate kernels, each on its own roofline) + TP/EP collective bandwidth time
  (a ring's 2(n-1)/n per all-reduce byte, less where the switch reduces in the fabric) + a
  per-step overhead that grows with layers and the size of the communicating group (kernel
  launches, all-reduce latency, sampling, scheduler);
- prefill = max(FLOPs / (peak x eta_prefill(tokens)), weight bytes / HBM) + collectives + overhead,
  where the GEMM efficiency falls for short prompts (tokens / (tokens + half-saturation tokens));
- wide expert parallelism (experts over several scale-up domains, data-parallel or TP attention)
  pays the expert dispatch/combine as bytes over the scale-out NICs plus a latency per message,
  overlapped with the other micro-batch's compute (two-batch overlap); the per-layer inter-node
  all-reduce overhead applies only to a TP group that spans nodes;
- the running batch is capped by the KV cache that fits in HBM after weights and a reserve;
- windowed layers (ModelConfig.windowed_layers, a sliding window or Llama 4's chunks) cache and
  read at most the window's tokens and attend to at most those: a context c counts as
  c - share x max(c - window, 0) tokens of the whole model (engine.models.windowed_context). The
  closed forms price a batch at its mean context, which for contexts on both sides of the window
  overstates it a little (the windowed part is concave in the context);
- scenarios: a static batch is a closed form (one prefill, then decode steps); concurrency
  (closed loop), server (Poisson arrivals) and offline are simulated request by request by
  `engine.serving.simulator` (continuous batching, token budget, chunked prefill, paged KV
  with preemption), each step priced by `engine.serving.cost_model` from the functions here.
  The steady-state closed forms (`_closed_loop`, `_server_like`) remain for quick curves and
  the layout search of `slo_capacity`; `engine.serving.capacity` refines it under load.

Every efficiency and overhead is a calibration factor read from the chip (`inf_*` names, see
resources/calibration_inference.csv); an engine FAMILY (engine.serving.families: vllm, sglang,
trtllm, vllm-ascend, mindie, tgi, generic) can override a factor with the key
`<factor>@<family>` (e.g. `inf_hbm_eff@vllm-ascend`); versions never select a factor. All math
is numpy and broadcasts, so the GUI curve evaluates many batches x TP choices x chips at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence, cast

import numpy as np

from engine.errors import UserError
from engine.hardware import DTYPE_BYTES, KV_DTYPES, SERVE_DTYPES, Chip
from engine.models import ModelConfig, windowed_context, windowed_span_sq
from engine.serving.families import engine_family  # noqa: F401  (re-exported: the family parser)
from engine.topology import DEFAULT_DOMAIN, DEFAULT_SCALEUP_GBPS, default_scaleout_gbps, topology_of

GIB = 1024.0**3
SCENARIOS = ("static_batch", "concurrency", "offline", "server")

# Defaults used when neither the chip nor the engine carries a calibrated value. They are the
# fitted NVIDIA/modern-engine values, so an uncalibrated chip is treated like a mature stack.
DEFAULT_FACTORS: Mapping[str, float] = {
    "inf_hbm_eff": 0.80,             # fraction of spec HBM bandwidth reached by decode reads
    "inf_prefill_mfu": 0.60,         # GEMM efficiency of large prefills
    "inf_decode_mfu": 0.45,          # GEMM efficiency of the decode step when compute-bound
    "inf_gemm_half_tokens": 96.0,    # tokens per GEMM at which prefill efficiency halves
    "inf_step_overhead_ms": 1.0,     # fixed per-step cost (scheduler, sampling, launch)
    "inf_layer_overhead_us": 12.0,   # per layer per step (kernel launches)
    "inf_comm_layer_overhead_us": 10.0,  # per layer per step per doubling of the TP/EP group
    "inf_overhead_scale": 1.0,       # engine-generation multiplier on all overheads
    "inf_prefill_overhead_scale": 1.0,   # prefill overhead relative to a decode step's
    "inf_link_eff": 0.60,            # achieved fraction of link bandwidth for collectives
    "inf_mem_reserve_frac": 0.08,    # HBM kept back (activations, graphs, fragmentation)
    "inf_mem_reserve_gb": 3.0,       # fixed HBM kept back per chip
    "inf_max_batch": 1024.0,         # the engine's cap on running sequences per instance
    "inf_kv_eff": 1.0,               # attention-kernel KV reads relative to inf_hbm_eff
    "inf_prefill_chunk_tokens": 8192.0,  # token budget of one batched prefill (max_num_tokens)
    "inf_moe_eff": 0.6,              # expert GEMM FLOPs relative to dense ones (grouped GEMM, routing)
    # Routed expert weights read per step relative to the dense weight stream (`inf_hbm_eff`):
    # grouped-GEMM kernels stream each touched expert's weights as a dense GEMM streams its own
    # (prior 1); an engine whose fused-MoE kernel streams them slower has a family key.
    "inf_moe_read_eff": 1.0,
    "inf_fp8_gemm_rel": 0.85,        # 8-/4-bit GEMM efficiency relative to 16-bit (activation
                                     # quantisation, scaling, dequant epilogues; training's prior)
    "inf_scaleout_layer_overhead_us": 150.0,  # per layer per step when the TP group spans nodes
    # Expert parallelism across nodes (wide EP, DeepEP-style all-to-all over the scale-out NICs):
    "inf_scaleout_eff": 0.80,        # achieved fraction of scale-out (RDMA) bandwidth in all-to-all
    "inf_a2a_latency_us": 15.0,      # fixed cost of one cross-node dispatch or combine
    "inf_ep_overlap": 0.85,          # share of cross-node all-to-all hidden behind the other
                                     # micro-batch's compute (two-batch overlap; 0 = none)
    "inf_kv_occupancy": 1.0,         # fraction of the output length reserved per sequence
    # Where the scale-up switch reduces in the fabric (NVLink SHARP / NVLS, NVSwitch gen 3+): the
    # bytes a chip moves per byte of a TP all-reduce message, at the ring's link efficiency (ideal
    # 1: the message goes into the switch once and the sum comes back once; a ring moves
    # 2(n-1)/n). 0 = ring (or mesh) all-reduce, the default.
    "inf_switch_allreduce": 0.0,
}
FACTOR_NAMES = tuple(DEFAULT_FACTORS)


def resolve_factors(chip: Chip, engine: str | None = None, overrides: Mapping[str, float] | None = None) -> dict:
    """Every inference factor for a chip and engine family: override `name@family` > override
    `name` > chip `name@family` > the family's documented prior > chip `name` > default.

    Factors are keyed by the engine FAMILY only (`engine.serving.families.engine_family`): a
    version string or a publication never selects a factor.
    """
    from engine.serving.families import FAMILY_PRIORS, SCHEDULERS

    family = engine_family(engine)
    # The running-sequence cap is the family's documented scheduler maximum, the one the simulator
    # runs (MindIE 200, TRT-LLM 2048): one engine must not batch more in the closed form than it does
    # when simulated. A chip's `inf_max_batch@family` or an override still wins.
    prior = {"inf_max_batch": float(SCHEDULERS[family].max_num_seqs), **FAMILY_PRIORS.get(family, {})}
    out = {}
    for name, default in DEFAULT_FACTORS.items():
        value = chip.factor(name, default)
        value = prior.get(name, value)
        value = chip.factor(f"{name}@{family}", value)
        if overrides:
            value = overrides.get(name, value)
            value = overrides.get(f"{name}@{family}", value)
        out[name] = float(value)
    return out


# ---- dtypes -----------------------------------------------------------------------------------

def compute_dtype(weight_dtype: str, chip: Chip | None = None) -> str:
    """GEMM dtype: fp8/int8 weights run fp8/int8 GEMMs (W8A8); fp4 (NVFP4/MXFP4) runs FP4 GEMMs
    on parts with an FP4 rate (Blackwell); int4 runs 16-bit (W4A16). On a `chip` without the
    weights' matrix rate (FP8 on A100, FP4 on H100) the weights are dequantised to 16 bits in the
    GEMM (weight-only, as vLLM's Marlin kernels run FP8 on Ampere and NVFP4 before Blackwell)."""
    if weight_dtype not in ("fp8", "int8", "fp4"):
        return "bf16"
    if chip is not None and chip.peak_tflops(weight_dtype) is None:
        return "bf16"
    return weight_dtype


def default_kv_dtype(weight_dtype: str, chip: Chip | None = None) -> str:
    """The KV-cache dtype when none is given: the engines' "auto" keeps KV in the activation
    dtype (16-bit; fp16 with fp16 weights), except that an FP8 deployment usually runs an FP8 KV
    cache as well (TensorRT-LLM's FP8 recipes, vLLM/SGLang `--kv-cache-dtype fp8`), and so does
    an FP4 one on a chip with an FP8 rate (NVIDIA's NVFP4 checkpoints ship an FP8 KV cache; a
    16-bit one held 1,978 sequences on B200 where FP8 weights held 3,851). W8A8 INT8 and INT4
    weights keep a 16-bit cache (MindIE, AWQ/GPTQ), and so do FP8 weights run weight-only on a
    `chip` without FP8 (activations stay 16-bit there)."""
    if weight_dtype in ("fp8", "fp4") and compute_dtype("fp8", chip) == "fp8":
        return "fp8"
    return "fp16" if weight_dtype == "fp16" else "bf16"


def precision_note(chip: Chip, weight_dtype: str, kv_dtype: str) -> str:
    """What a precision the chip has no matrix rate for means in the prediction ("" when none):
    the what-if is still answered, and says how."""
    bits = []
    if weight_dtype in ("fp8", "int8", "fp4") and compute_dtype(weight_dtype, chip) == "bf16":
        width = 4 if weight_dtype == "fp4" else 8
        bits.append(f"{weight_dtype.upper()} weights run weight-only on {chip.name}, which has no "
                    f"{weight_dtype.upper()} matrix rate: {width}-bit weights, 16-bit GEMMs (W{width}A16)")
    if weight_dtype == "int4":
        # INT4 (AWQ/GPTQ) is weight-only on every chip: no catalog chip has an INT4 matrix rate,
        # so prefill runs at the 16-bit rate and only the weight reads shrink (FP4 said it; INT4 not)
        bits.append("INT4 weights run weight-only: 4-bit weights, 16-bit GEMMs (W4A16), so prefill runs at the "
                    "16-bit rate and only weight reads shrink")
    if kv_dtype == "fp8" and not chip.fp8_tflops:
        bits.append(f"the FP8 KV cache is stored in 8 bits and read into 16-bit attention on {chip.name}")
    if weight_dtype == "bf16" and not chip.bf16_tflops and chip.fp16_tflops:
        # a V100 has no BF16 matrix units: 16-bit serving there is FP16 (train says the same)
        bits.append(f"{chip.name} has no BF16 matrix units: 16-bit weights are served in FP16 at its "
                    f"{chip.fp16_tflops:g} TFLOP/s")
    return "; ".join(bits)


def check_dtypes(chip: Chip, weight_dtype: str, kv_dtype: str) -> None:
    """UserError naming the dtype when the chip cannot run it."""
    for label, dt, allowed in (("weight dtype", weight_dtype, SERVE_DTYPES), ("kv dtype", kv_dtype, KV_DTYPES)):
        if dt not in allowed:
            raise UserError(f"{label} {dt!r}: not one of {', '.join(allowed)}")
    # (a low-precision dtype the chip has no rate for runs weight-only: `precision_note`)
    if chip.peak_tflops("fp16") is None:
        # attention (and a weight-only GEMM) runs in 16 bits whatever the weights' dtype
        raise UserError(f"chip {chip.id}: {chip.name} has no 16-bit matrix rate (bf16_tflops and fp16_tflops are "
                        "blank or 0), which attention needs; fill one in the chip catalog")
    if not chip.hbm_gb or not chip.hbm_gbps:
        raise UserError(f"chip {chip.id}: hbm_gb and hbm_gbps are needed for serving")


# ---- model geometry ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelShape:
    """Parameter groups of a model that serving needs (counts, not bytes)."""

    layers: int
    hidden: int
    heads: int
    vocab: int
    nonexpert_params: float   # attention + dense FFN + shared experts + routers (per model)
    expert_params_total: float  # all routed experts of all MoE layers
    expert_params: float      # one routed expert
    moe_layers: int
    experts: int
    topk: int
    embed_params: float       # input embedding (+ head when untied) held in memory
    head_params: float        # the output projection read every step
    kv_elems_per_token: float  # per token over all layers (full model, no TP split)
    kv_heads: int
    is_mla: bool
    attn_decode_flops_per_ctx: float   # FLOPs per generated token per context token
    attn_prefill_flops_coeff: float    # causal prefill attention FLOPs = coeff * L^2 per seq
    # windowed attention: the window (0: none) and the share of the layers that use it
    window_tokens: float = 0.0
    window_share: float = 0.0


def model_shape(model: ModelConfig) -> ModelShape:
    L, h = model.layers, model.hidden
    attn = model.attention_params_per_layer() + 2 * h
    nonexpert = L * attn + model.dense_layers * model.dense_ffn_params_per_layer()
    expert_total = 0.0
    if model.is_moe:
        nonexpert += model.moe_layers * (model.moe_shared_experts * model.expert_params() + h * model.moe_experts)
        expert_total = float(model.moe_layers * model.moe_experts * model.expert_params())
    head = float(model.vocab * h)
    embed = float(model.embedding_params())
    if model.is_mla:
        lat = model.kv_lora_rank + model.qk_rope_head_dim
        dec = 2.0 * L * model.heads * (lat + model.kv_lora_rank)  # absorbed MLA
        pre = 1.0 * L * model.heads * (model.qk_nope_head_dim + model.qk_rope_head_dim + model.v_head_dim)
    else:
        d = model.head_dim_eff
        dec = 4.0 * L * model.heads * d
        pre = 2.0 * L * model.heads * d  # causal: half of 4*L*heads*d*s^2
    return ModelShape(
        layers=L, hidden=h, heads=model.heads, vocab=model.vocab,
        nonexpert_params=float(nonexpert), expert_params_total=expert_total,
        expert_params=float(model.expert_params()) if model.is_moe else 0.0,
        moe_layers=model.moe_layers, experts=model.moe_experts, topk=model.moe_topk,
        embed_params=embed, head_params=head,
        kv_elems_per_token=float(model.kv_elements_per_token()), kv_heads=model.kv_heads,
        is_mla=model.is_mla, attn_decode_flops_per_ctx=dec, attn_prefill_flops_coeff=pre,
        window_tokens=float(model.attention_window_tokens) if model.windowed else 0.0,
        window_share=model.windowed_share,
    )


def kv_context(shape: ModelShape, ctx):
    """`ctx` context tokens as tokens of the whole model's KV (what one sequence holds and a decode
    step reads): windowed layers hold at most the window. `ctx` itself when there is no window."""
    return windowed_context(ctx, shape.window_tokens, shape.window_share)


# ---- deployment (arrays broadcast over chips x TP x batch) -------------------------------------

@dataclass
class _Deployment:
    """Per-chip quantities of one model instance; every field may be a numpy array."""

    shape: ModelShape
    tp: np.ndarray
    ep: np.ndarray
    pp: np.ndarray
    group: np.ndarray          # chips that exchange activations each layer (max(tp, ep))
    attn_groups: np.ndarray    # independent attention groups (attention data parallel)
    chips: np.ndarray          # chips per instance
    wbytes: float
    kbytes: float
    emb_bytes: float
    peak_flops: np.ndarray     # FLOP/s for GEMMs in the compute dtype
    peak16_flops: np.ndarray   # FLOP/s for attention (16-bit)
    hbm_bps: np.ndarray
    hbm_bytes: np.ndarray
    link_bps: np.ndarray
    f: dict                    # factor name -> array
    weight_bytes_chip: np.ndarray
    nonexpert_read_chip: np.ndarray
    expert_bytes_chip_all: np.ndarray
    kv_bytes_token_chip: np.ndarray
    kv_capacity_bytes_chip: np.ndarray
    crosses_nodes: np.ndarray
    domain: np.ndarray | float = 8.0           # chips per scale-up domain
    host: np.ndarray | float = 8.0             # chips per server (> domain: a PCIe host tier between domains)
    host_bps: np.ndarray | float = 0.0         # per chip between domains of one server (0: none, the NICs)
    scaleup_bps: np.ndarray | float = 0.0
    scaleout_bps: np.ndarray | float = 0.0
    dispatch_bytes: np.ndarray | float = 2.0  # bytes per activation element sent to the experts
    scaleup_tp_bps: np.ndarray | float = 0.0   # per chip, what the TP group gets on the scale-up fabric
    # per chip, what the TP group's all-reduce gets wherever it runs: the scale-up fabric inside a
    # domain; across domains each node's members on their own NICs in parallel (engine/topology.py)
    tp_group_bps: np.ndarray | float = 0.0


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _hw_arrays(chips: Sequence[Chip], weight_dtype: str, engine: str | None,
               overrides: Mapping[str, float] | None = None) -> dict:
    peak = []
    peak16 = []
    low_gemm = []
    facs = [resolve_factors(c, engine, overrides) for c in chips]
    topos = [topology_of(c, domain=c.scaleup_domain or DEFAULT_DOMAIN) for c in chips]
    for c, fa in zip(chips, facs):
        cdt = compute_dtype(weight_dtype, c)
        p16 = c.peak_tflops("bf16") or c.peak_tflops("fp16") or 0.0
        p_low = c.peak_tflops(cdt) if cdt != "bf16" else None
        low_gemm.append(p_low is not None)
        # an 8-/4-bit GEMM reaches a smaller share of its (2x/4x) peak than a 16-bit one:
        # activations are quantised and scaled every layer (W8A8), so FP8 prefill on Hopper
        # rarely runs at twice the BF16 rate; never slower than the 16-bit path it replaces
        p = max(p_low * fa["inf_fp8_gemm_rel"], p16) if p_low else p16
        peak.append(p * 1e12)
        peak16.append(p16 * 1e12)
    return {
        "peak": _arr(peak), "peak16": _arr(peak16),
        # DeepEP-style dispatch sends fp8 activations when the expert GEMMs run in 8 bits;
        # the combine returns 16-bit partial outputs.
        "dispatch_bytes": np.where(low_gemm, 1.0, 2.0),
        "hbm_bps": _arr([(c.hbm_gbps or 0.0) * 1e9 for c in chips]),
        "hbm_bytes": _arr([(c.hbm_gb or 0.0) * GIB for c in chips]),
        "scaleup_bps": _arr([(c.scaleup_gbps or DEFAULT_SCALEUP_GBPS) * 1e9 for c in chips]),
        # a chip without a stated NIC gets one 400 Gb/s NIC (50 GB/s), the usual 8-GPU-server
        # design, never its scale-up rate: wide EP would otherwise cross nodes for free
        "scaleout_bps": _arr([(c.scaleout_gbps or default_scaleout_gbps(c)) * 1e9 for c in chips]),
        "domain": _arr([c.scaleup_domain or DEFAULT_DOMAIN for c in chips]),
        "f": {k: _arr([fa[k] for fa in facs]) for k in FACTOR_NAMES},
        # network tiers (engine/topology.py): what a group of chips gets on the scale-up fabric
        # (with the NIC default of `scaleout_bps` above, so both price the same NIC)
        "topologies": topos,
        # a domain smaller than its server (H100 PCIe NVLink pairs in an 8-GPU host) reaches the
        # rest of the server over the host's PCIe, not the NICs (engine.topology.host_path_gbps)
        "host": _arr([t.server for t in topos]), "host_bps": _arr([t.host_gbps * 1e9 for t in topos]),
    }


def _deployment(shape: ModelShape, hw: dict, tp, ep, pp, weight_dtype: str, kv_dtype: str) -> _Deployment:
    tp, ep, pp = _arr(tp), _arr(ep), _arr(pp)
    group = np.maximum(tp, ep)
    attn_groups = group / tp
    chips = group * pp
    wb = DTYPE_BYTES[weight_dtype]
    kb = DTYPE_BYTES[kv_dtype]
    # Quantised checkpoints keep embeddings and the output head in 16 bits.
    eb = 2.0 if wb < 2.0 else wb
    nonexpert_chip = shape.nonexpert_params * wb / (tp * pp)
    head_chip = shape.head_params * eb / (tp * pp)
    embed_chip = shape.embed_params * eb / (tp * pp)
    expert_chip = shape.expert_params_total * wb / (group * pp)
    weight_chip = nonexpert_chip + embed_chip + expert_chip
    if shape.is_mla:  # the latent is shared by all heads: every TP rank keeps all of it
        kv_tok = shape.kv_elems_per_token * kb / pp + 0.0 * tp
    else:
        per_layer_heads = np.maximum(shape.kv_heads / tp, 1.0)
        kv_tok = shape.kv_elems_per_token / shape.kv_heads * per_layer_heads * kb / pp
    up_group, up_tp = _scaleup_group_bps(hw, group), _scaleup_group_bps(hw, tp)
    # a TP group inside one domain keeps its scale-up figure as it was (the same number either way)
    tp_bps = np.where(tp <= hw["domain"], up_tp, _tp_group_bps(hw, tp))
    host = hw.get("host", hw["domain"])
    beyond = np.where(group <= host, hw.get("host_bps", hw["scaleout_bps"]), hw["scaleout_bps"])
    link = np.where(group <= hw["domain"], up_group, beyond)
    f = hw["f"]
    free = hw["hbm_bytes"] * (1.0 - f["inf_mem_reserve_frac"]) - f["inf_mem_reserve_gb"] * GIB - weight_chip
    return _Deployment(
        shape=shape, tp=tp, ep=ep, pp=pp, group=group, attn_groups=attn_groups, chips=chips,
        wbytes=wb, kbytes=kb, emb_bytes=eb, peak_flops=hw["peak"], peak16_flops=hw["peak16"],
        hbm_bps=hw["hbm_bps"], hbm_bytes=hw["hbm_bytes"], link_bps=link, f=f,
        weight_bytes_chip=weight_chip, nonexpert_read_chip=nonexpert_chip + head_chip,
        expert_bytes_chip_all=expert_chip, kv_bytes_token_chip=kv_tok,
        kv_capacity_bytes_chip=np.maximum(free, 0.0), crosses_nodes=group > host,
        domain=hw["domain"], host=host, host_bps=hw.get("host_bps", hw["scaleout_bps"]),
        scaleup_bps=hw["scaleup_bps"], scaleout_bps=hw["scaleout_bps"], scaleup_tp_bps=up_tp,
        tp_group_bps=tp_bps, dispatch_bytes=hw["dispatch_bytes"],
    )


def _scaleup_group_bps(hw: dict, group) -> np.ndarray:
    """Bytes/s per chip that a collective among `group` chips of one scale-up domain gets, from
    `engine.topology` (a switch gives every group the chip's full rate; a full mesh such as the
    910B's HCCS or MI300X's xGMI gives a group of g chips g-1 links). Chips stack on axis 0."""
    topos = hw.get("topologies")
    if not topos:
        return hw["scaleup_bps"]
    per_chip = [np.atleast_1d(np.asarray(t.scaleup_group_gbps(group), dtype=float) * 1e9) for t in topos]
    if len(per_chip) == 1:
        return per_chip[0].reshape(np.shape(np.asarray(group))) if np.ndim(group) else per_chip[0]
    return np.concatenate(per_chip, axis=0)


def _tp_group_bps(hw: dict, tp) -> np.ndarray:
    """Bytes/s per chip that a TP all-reduce over `tp` neighbouring ranks gets, priced as training
    prices its groups (`Topology.group_bandwidth`): inside a domain its scale-up fabric; across
    domains hierarchically, each domain's members on their own NICs (or, inside one server, their
    own PCIe slots) in parallel, never faster than their own fabric (one NIC for the whole group
    made TP16 3.5x slower than TP8 to prefill, where the 8 NICs of a node carry it). Chips stack
    on axis 0."""
    topos = hw.get("topologies")
    if not topos:   # no tiers: the domain's members' NICs in parallel, capped by the scale-up rate
        members = np.minimum(_arr(tp), hw["domain"])
        return np.minimum(members * hw["scaleout_bps"], hw["scaleup_bps"])
    per_chip = [np.atleast_1d(np.asarray(t.group_bandwidth(tp, 1)[0], dtype=float)) for t in topos]
    if len(per_chip) == 1:
        return per_chip[0].reshape(np.shape(np.asarray(tp))) if np.ndim(tp) else per_chip[0]
    return np.concatenate(per_chip, axis=0)


def _max_sequences(dep: _Deployment, ctx_tokens) -> np.ndarray:
    """Sequences one instance can hold in KV at `ctx_tokens` each (0 when weights do not fit)."""
    per_chip = np.floor(dep.kv_capacity_bytes_chip / np.maximum(dep.kv_bytes_token_chip
                                                                * _arr(kv_context(dep.shape, ctx_tokens)), 1.0))
    return per_chip * dep.attn_groups


def _overhead_s(dep: _Deployment) -> np.ndarray:
    """Fixed per-step cost. The collective-latency part grows with the log of the group inside a
    server; a TP group that spans servers pays an inter-node all-reduce latency per layer
    (fitted on TP16 rows). Expert all-to-all across nodes is not an all-reduce: its cost is in
    `_ep_a2a_s` (bytes over the NICs plus a latency per message), not here."""
    return _collective_latency_s(dep) + _launch_overhead_s(dep)


def _collective_latency_s(dep: _Deployment) -> np.ndarray:
    """The part of `_overhead_s` that is the collectives' latency (per layer, growing with the log
    of the group; an inter-node all-reduce latency when TP spans servers): communication in the
    breakdowns, not launch overhead. A TP group past its scale-up domain but inside its server
    (H100 PCIe TP8 over NVLink pairs) all-reduces in-server, as the PCIe-only L40S's TP8 does: it
    paid the inter-node latency, 22.8 ms of a 35.6 ms 70B token, slower than the L40S."""
    f = dep.f
    layers = dep.shape.layers / dep.pp
    tp_crosses = dep.tp > dep.host
    log_group = np.where(tp_crosses, np.log2(dep.group), np.log2(np.minimum(dep.group, dep.host)))
    per_layer = f["inf_comm_layer_overhead_us"] * log_group + np.where(tp_crosses, f["inf_scaleout_layer_overhead_us"], 0.0)
    return f["inf_overhead_scale"] * layers * per_layer * 1e-6


def _launch_overhead_s(dep: _Deployment) -> np.ndarray:
    """Scheduler, sampling and kernel launches: per step and per layer."""
    f = dep.f
    layers = dep.shape.layers / dep.pp
    return f["inf_overhead_scale"] * (f["inf_step_overhead_ms"] * 1e-3 + layers * f["inf_layer_overhead_us"] * 1e-6)


def _experts_touched(shape, tokens):
    """The share of a MoE layer's routed experts `tokens` tokens read, each routed to top-k of them."""
    return 1.0 - np.power(1.0 - shape.topk / shape.experts, tokens)


def _decode_step(dep: _Deployment, batch, ctx) -> dict:
    """One decode iteration of one pipeline stage for `batch` sequences (whole instance)."""
    s = dep.shape
    f = dep.f
    batch = np.maximum(_arr(batch), 1e-9)
    ctx = _arr(kv_context(s, ctx))   # KV read and attended per sequence (windowed layers: the window)
    seq_chip = batch / dep.attn_groups  # sequences whose attention runs on one chip
    # Routed experts actually read: each token picks top-k of E experts.
    if s.experts:
        expert_read = dep.expert_bytes_chip_all * _experts_touched(s, batch)
        expert_flops = 2.0 * batch * s.topk * s.expert_params * s.moe_layers / (dep.group * dep.pp)
    else:
        expert_read = 0.0 * batch
        expert_flops = 0.0 * batch
    kv_read = seq_chip * ctx * dep.kv_bytes_token_chip
    bw = dep.hbm_bps * f["inf_hbm_eff"]
    # Two-batch overlap runs each micro-batch through the experts separately: expert weights are
    # read once per micro-batch.
    expert_read = expert_read * np.where(_wide_ep(dep), 1.0 + (f["inf_ep_overlap"] > 0), 1.0)
    t_weights = dep.nonexpert_read_chip / bw + expert_read / (bw * f["inf_moe_read_eff"])
    t_kv = kv_read / (bw * f["inf_kv_eff"])
    dense_flops = 2.0 * seq_chip * (s.nonexpert_params + s.head_params) / (dep.tp * dep.pp)
    attn_flops = seq_chip * ctx * s.attn_decode_flops_per_ctx / (dep.tp * dep.pp)
    t_gemm = (dense_flops + expert_flops / f["inf_moe_eff"]) / (dep.peak_flops * f["inf_decode_mfu"])
    t_attn = attn_flops / (dep.peak16_flops * f["inf_decode_mfu"])
    t_compute = t_gemm + t_attn
    t_over = _overhead_s(dep) + 0.0 * batch
    # GEMMs and attention are separate kernels that run one after the other in every layer: each
    # is bounded by its own roofline (weights vs GEMM FLOPs, KV vs attention FLOPs) and the step
    # adds them; a large batch's compute-bound GEMMs do not hide its memory-bound KV reads
    busy = np.maximum(t_weights, t_gemm) + np.maximum(t_kv, t_attn)
    t_comm = _comm_s(dep, seq_chip, busy)
    total = busy + t_comm + t_over
    # the collectives' latency is communication: the breakdown read 0.01 ms of comm at TP8 with 160
    # all-reduces per token, their latency counted as overhead (the total is the same either way)
    latency = _collective_latency_s(dep) + 0.0 * batch
    return {"weights_s": t_weights, "kv_s": t_kv, "compute_s": t_compute, "gemm_s": t_gemm + 0.0 * batch,
            "attn_compute_s": t_attn + 0.0 * batch,
            "comm_s": t_comm + latency, "comm_latency_s": latency, "overhead_s": t_over - latency,
            "busy_s": busy, "total_s": total}


def _wide_ep(dep: _Deployment) -> np.ndarray:
    """Experts spread over more chips than one scale-up domain (all-to-all over the NICs)."""
    return (dep.ep > dep.domain) & (dep.tp <= dep.domain)


def ep_dispatch_s_per_byte(ep, domain, host, host_bps, scaleup_bps, scaleout_bps, link_eff, scaleout_eff):
    """Seconds per byte a chip's expert dispatch (or combine) takes when its bytes spread evenly over
    `ep` expert ranks: the share on its own scale-up domain at the link rate, the share on other
    domains of the same server over the host's PCIe (a PCIe server of NVLink pairs: `host` chips per
    server, `host_bps` each; 0 means no such tier), the rest over the NICs at `scaleout_eff`.
    Without the host tier, an H100 PCIe server's EP8 sent 6 of every 8 bytes over the NIC."""
    ep = np.asarray(ep, dtype=float)
    in_host = np.minimum(ep, np.maximum(host, domain))
    on = (np.minimum(ep, domain) - 1.0) / ep
    via_host = np.where(np.asarray(host_bps) > 0, np.maximum(in_host - domain, 0.0), 0.0) / ep
    via_nic = np.maximum(ep - domain, 0.0) / ep - via_host
    host_rate = np.where(np.asarray(host_bps) > 0, host_bps, 1.0) * link_eff
    return on / (scaleup_bps * link_eff) + via_host / host_rate + via_nic / (scaleout_bps * scaleout_eff)


def _ep_a2a_s(dep: _Deployment, tokens_chip) -> np.ndarray:
    """Un-overlapped time of the cross-node expert dispatch + combine of one step (wide EP).

    Each chip sends its tokens (those of its attention group, split over its TP ranks) to top-k
    experts: `tokens x topk x hidden` elements each way, fp8 dispatch when the GEMMs are 8-bit,
    16-bit combine. Experts on other nodes ((ep - domain) / ep of them) are reached over the
    scale-out NICs at `inf_scaleout_eff`, the rest over the scale-up links; each dispatch and
    combine also pays a fixed latency `inf_a2a_latency_us`."""
    s = dep.shape
    f = dep.f
    tok = tokens_chip / dep.tp
    elems = tok * max(s.topk, 1) * s.hidden
    bytes_ = elems * (dep.dispatch_bytes + 2.0)
    per_layer = bytes_ * ep_dispatch_s_per_byte(dep.ep, dep.domain, dep.host, dep.host_bps, dep.scaleup_bps,
                                                dep.scaleout_bps, f["inf_link_eff"], f["inf_scaleout_eff"])
    per_layer = per_layer + 2.0 * f["inf_a2a_latency_us"] * 1e-6
    return (s.moe_layers / dep.pp) * per_layer


def _allreduce_traffic(dep: _Deployment) -> np.ndarray:
    """Bytes each chip moves per byte of a TP all-reduce message. A ring (reduce-scatter then
    all-gather) moves 2(n-1)/n. A switch that reduces in the fabric (NVLS) ideally moves 1 (the
    message goes in once, the sum comes back once); `inf_switch_allreduce` is what it moves in
    practice at the ring's link efficiency, used inside the scale-up domain for groups over 4
    chips: nccl-tests measure NVLS at the ring's bus bandwidth for 2-4 GPUs and gaining from 5 up
    (365-370 GB/s to 480 at 8 on H100; NVIDIA/nccl issue 1455, nccl-tests issue 212). A TP group
    over nodes rings over the NICs."""
    ring = 2.0 * (dep.tp - 1) / dep.tp
    nvls = dep.f["inf_switch_allreduce"]
    in_switch = (nvls > 0) & (dep.tp <= dep.domain) & (dep.tp > 4)
    return np.where(in_switch, np.minimum(ring, nvls), ring)


def local_dispatch_share(ep, tp):
    """Share of a chip's attention-group tokens it sends to (and gets back from) experts inside its
    scale-up domain: only experts outside its attention TP group, (ep - tp) / ep of them, and each
    of the group's tp ranks sends 1/tp of the tokens (the serving simulator's cost model uses the
    same). 0 when TP attention spans the EP group."""
    return np.maximum(np.asarray(ep, float) - tp, 0.0) / ep / tp


def _comm_s(dep: _Deployment, tokens_chip, busy=None) -> np.ndarray:
    """Exposed time of TP all-reduces (2 per layer) and EP all-to-alls (2 per MoE layer).

    Inside a scale-up domain both run on the scale-up links, in the critical path. Wide EP
    (experts over several domains) uses `_ep_a2a_s`, overlapped with the compute of the other
    micro-batch (two-batch overlap): exposed = max(0, a2a - busy) + (1 - overlap) x min(a2a, busy),
    where `busy` is the step's compute/memory time."""
    s = dep.shape
    f = dep.f
    act = tokens_chip * s.hidden * 2.0  # 16-bit activations
    tp_link = dep.tp_group_bps * f["inf_link_eff"]   # across nodes: the NICs of each node in parallel
    tp_t = np.where(dep.tp > 1, 2.0 * (s.layers / dep.pp) * _allreduce_traffic(dep) * act / tp_link, 0.0)
    link = dep.link_bps * f["inf_link_eff"]
    # Expert dispatch + combine inside the scale-up domain. A token is already on every rank of its
    # attention TP group (after the attention all-reduce), so only experts outside that group need
    # it, (ep - tp) / ep of them, and each of the group's tp ranks sends 1/tp of its tokens. With
    # TP attention over the whole EP group (tp = ep) nothing moves: each rank runs its own experts
    # and the combine is the MoE all-reduce already in `tp_t` (vLLM's and TRT-LLM's TP + EP).
    # Charging every chip all its tokens' dispatch made TP8 EP8 half as fast as TP8.
    a2a_local = 2.0 * (s.moe_layers / dep.pp) * max(s.topk, 1) * act * local_dispatch_share(dep.ep, dep.tp) / link
    if s.experts:
        wide = _wide_ep(dep)
        a2a_wide = _ep_a2a_s(dep, tokens_chip)
        if busy is not None:
            hidden_by = np.minimum(a2a_wide, busy)
            a2a_wide = a2a_wide - hidden_by + (1.0 - f["inf_ep_overlap"]) * hidden_by
        a2a = np.where(wide, a2a_wide, a2a_local)
    else:
        a2a = a2a_local
    return tp_t + np.where(dep.ep > 1, a2a, 0.0)


def _prefill_compute(dep: _Deployment, batch, prompt, seqs_rank, cached=0.0) -> tuple:
    """GEMM + attention time of a prefill whose most loaded chip holds `seqs_rank` prompts of
    `prompt` new tokens, each after `cached` tokens already in KV (a prefix-cache hit)."""
    s = dep.shape
    f = dep.f
    tokens = batch * prompt
    tokens_chip = seqs_rank * prompt                # rows of that chip's GEMMs
    linear = 2.0 * tokens_chip * s.nonexpert_params / dep.tp
    head = 2.0 * seqs_rank * s.head_params / dep.tp  # logits of the last token only
    # causal attention of the new tokens over the cached prefix and each other (the simulator's
    # cost_model.chunk_attn_flops): 3,000 new tokens after 27,000 cached cost ~19x the attention
    # of a lone 3,000-token prompt
    if s.window_tokens:   # windowed layers attend to the window only (engine.models.windowed_span_sq)
        span = s.window_share
        attn = seqs_rank * s.attn_prefill_flops_coeff * (
            windowed_span_sq(prompt + cached, s.window_tokens, span) - windowed_span_sq(cached, s.window_tokens, span)
        ) / dep.tp
    else:
        attn = seqs_rank * s.attn_prefill_flops_coeff * ((prompt + cached)**2 - cached**2) / dep.tp
    half = f["inf_gemm_half_tokens"]
    eff = f["inf_prefill_mfu"] * tokens_chip / (tokens_chip + half)
    t_compute = (linear + head) / (dep.peak_flops * eff) + attn / (dep.peak16_flops * eff)
    if s.experts:  # each expert's GEMM only sees tokens * topk / experts rows
        expert_flops = 2.0 * tokens * s.topk * s.expert_params * s.moe_layers / dep.group
        rows = tokens * s.topk / s.experts
        eff_x = f["inf_prefill_mfu"] * f["inf_moe_eff"] * rows / (rows + half)
        t_compute = t_compute + expert_flops / (dep.peak_flops * eff_x)
    return t_compute, dep.pp * _comm_s(dep, tokens_chip, t_compute)


def _prefill(dep: _Deployment, batch, prompt, cached=0.0) -> dict:
    """Prefill of `batch` prompts of `prompt` new tokens (whole instance, all pipeline stages),
    each after `cached` prompt tokens served from a prefix cache (their KV is read, not computed)."""
    s = dep.shape
    f = dep.f
    batch = np.maximum(_arr(batch), 1e-9)
    prompt = np.maximum(_arr(prompt), 1.0)
    cached = np.maximum(_arr(cached), 0.0)
    tokens = batch * prompt
    # Attention data parallel: a prompt runs its attention and dense layers on one rank, so on
    # its own the busiest rank holds at least a whole prompt and the others wait for it at the
    # expert all-to-all (latency). Prompts riding along a busy engine are spread evenly over
    # the ranks (throughput cost, `marginal_s`).
    even = batch / dep.attn_groups
    t_compute, t_comm = _prefill_compute(dep, batch, prompt, np.maximum(even, np.minimum(batch, 1.0)), cached)
    m_compute, m_comm = _prefill_compute(dep, batch, prompt, even, cached)
    touched = _experts_touched(s, tokens) if s.experts else 0.0
    t_mem = dep.pp * (dep.nonexpert_read_chip + dep.expert_bytes_chip_all * touched / f["inf_moe_read_eff"]) / (
        dep.hbm_bps * f["inf_hbm_eff"])
    t_over = dep.pp * _overhead_s(dep) * f["inf_prefill_overhead_scale"] + 0.0 * tokens
    busy = np.maximum(t_compute, t_mem)
    total = busy + t_comm + t_over
    # Marginal cost when the prompt rides along in a running decode batch (weights already read):
    # with pp stages each does its 1/pp of the prompt's layers while the others work on other
    # micro-batches, so a round of the pipeline grows by a pp-th of the whole prefill
    marginal = (m_compute + m_comm) / dep.pp
    return {"compute_s": t_compute, "weights_s": t_mem, "comm_s": t_comm, "overhead_s": t_over,
            "total_s": total, "marginal_s": marginal, "marginal_compute_s": m_compute / dep.pp}


# ---- public dataclasses -------------------------------------------------------------------------

@dataclass(frozen=True)
class ServingInputs:
    model: ModelConfig
    chip: Chip
    input_len: float
    output_len: float
    tp: int = 1
    pp: int = 1
    ep: int = 1
    replicas: int = 1
    scenario: str = "concurrency"      # static_batch | concurrency | offline | server
    batch: int | None = None           # static_batch: requests that start together (all replicas)
    concurrency: int | None = None     # concurrency: requests in flight (all replicas)
    request_rate: float | None = None  # server: Poisson arrivals per second (all replicas)
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    engine: str = ""
    factors: Mapping[str, float] = field(default_factory=dict)  # explicit overrides
    # Load simulation (concurrency, server, offline): engine.serving.simulator
    requests: int | None = None        # simulated requests (default: enough for a steady state)
    input_len_spread: float = 0.0      # coefficient of variation of the prompt length (0 = fixed)
    output_len_spread: float = 0.0
    prefix_cache_hit: float = 0.0      # fraction of each prompt served from a prefix cache
    seed: int = 0
    simulate: bool = True              # False: the steady-state closed forms (quick curves only)
    # Closed-loop benchmark protocol (concurrency scenario; see engine.serving.capacity.workload_for)
    requests_per_client: int | None = None  # measured requests = this x clients (default: `requests` or the rule)
    warmup_requests: int = 0           # run before the measured ones, left out of the figures
    ramp_s: float = 0.0                # the clients start evenly over this many seconds (0: all at once)
    # The engine's scheduler limits per instance (blank: the family's documented defaults,
    # engine.serving.families): vLLM --max-num-batched-tokens / --max-num-seqs, TensorRT-LLM
    # max_num_tokens / max_batch_size, SGLang --chunked-prefill-size / --max-running-requests
    max_num_batched_tokens: int | None = None
    max_num_seqs: int | None = None

    @property
    def chips(self) -> int:
        return self.replicas * self.pp * max(self.tp, self.ep)


@dataclass(frozen=True)
class ServingResult:
    scenario: str
    feasible: bool
    reason: str
    ttft_ms: float
    tpot_ms: float
    prefill_ms: float
    decode_step_ms: float
    e2e_latency_ms: float
    output_tokens_per_s_per_chip: float
    total_tokens_per_s_per_chip: float
    running_batch: float               # sequences decoding together per instance
    max_concurrency: int               # sequences that fit in KV, all replicas
    kv_gib_per_sequence: float         # per chip, at input+output tokens
    kv_gib_per_chip: float             # KV capacity per chip
    weights_gib_per_chip: float        # GiB, the unit of the catalog's HBM capacity (Chip.hbm_gib)
    chips: int
    limiting: str                      # compute | bandwidth | memory capacity | overhead | latency target
    explanation: str
    decode_breakdown_ms: Mapping[str, float]
    prefill_breakdown_ms: Mapping[str, float]
    # Under load (simulated scenarios); NaN / 0 for a static batch or an infeasible deployment.
    ttft_ms_p50: float = float("nan")
    ttft_ms_p90: float = float("nan")
    ttft_ms_p99: float = float("nan")
    tpot_ms_p50: float = float("nan")
    tpot_ms_p90: float = float("nan")
    tpot_ms_p99: float = float("nan")
    e2e_latency_ms_p90: float = float("nan")
    e2e_latency_ms_p99: float = float("nan")
    queue_ms: float = float("nan")     # mean wait from arrival to first scheduled
    simulated_requests: int = 0
    distinct_requests: int = 0        # of those, drawn and run once (alike replicas reuse one share's run)
    preemptions: int = 0
    simulation: object = None          # engine.serving.simulator.SimResult (arrays; not in as_dict)
    # sequences that can run at once, all replicas: the fewer of max_concurrency (the KV fit)
    # and the engine's cap on running sequences (the family's default or max_num_seqs)
    max_running: int = 0
    # simulated requests whose drawn lengths (a spread) ran past the model's context window and
    # were capped to it (engine.serving.simulator.cap_to_context)
    capped_requests: int = 0

    def as_dict(self) -> dict:
        from dataclasses import fields

        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "simulation"}
        d["decode_breakdown_ms"] = dict(self.decode_breakdown_ms)
        d["prefill_breakdown_ms"] = dict(self.prefill_breakdown_ms)
        return d


def _validate_inputs(inp: ServingInputs) -> None:
    problems = inp.model.validate()
    if problems:
        raise UserError(f"model {inp.model.id}: " + "; ".join(problems))
    check_dtypes(inp.chip, inp.weight_dtype, inp.kv_dtype)
    for name in ("tp", "pp", "ep", "replicas"):
        v = getattr(inp, name)
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise UserError(f"{name}: {v!r} (must be a positive integer)")
    if not (inp.input_len >= 1) or not math.isfinite(inp.input_len):
        raise UserError(f"input_len: {inp.input_len!r} (must be >= 1)")
    if not (inp.output_len >= 1) or not math.isfinite(inp.output_len):
        raise UserError(f"output_len: {inp.output_len!r} (must be >= 1)")
    if inp.scenario not in SCENARIOS:
        raise UserError(f"scenario: {inp.scenario!r} (one of {', '.join(SCENARIOS)})")
    if inp.scenario == "static_batch" and not (inp.batch and inp.batch >= 1):
        raise UserError(f"batch: {inp.batch!r} (static_batch needs a batch >= 1)")
    if inp.scenario == "concurrency" and not (inp.concurrency and inp.concurrency >= 1):
        raise UserError(f"concurrency: {inp.concurrency!r} (must be >= 1)")
    if inp.scenario == "server" and not (inp.request_rate and inp.request_rate > 0):
        raise UserError(f"request_rate: {inp.request_rate!r} (server needs a rate > 0)")
    if inp.tp > inp.model.heads:
        raise UserError(f"tp: {inp.tp} (more than the model's {inp.model.heads} attention heads)")
    if inp.model.heads % inp.tp:
        # vLLM, SGLang and TensorRT-LLM refuse such a layout: each rank takes whole heads
        raise UserError(f"tp: {inp.tp} does not divide the model's {inp.model.heads} attention heads")
    if inp.chips > 10_000_000:
        raise UserError(f"chips: {inp.chips:,} (more than 10,000,000; check tp, pp, ep and replicas)")
    for name in ("batch", "concurrency"):
        value = getattr(inp, name)
        if value is not None and value > 100_000_000:
            raise UserError(f"{name}: {value:,} (more than 100,000,000 requests)")
    if inp.request_rate is not None and not math.isfinite(inp.request_rate):
        raise UserError(f"request_rate: {inp.request_rate!r} (must be a finite rate)")
    if inp.model.is_moe and inp.ep > 1 and inp.model.moe_experts % inp.ep:
        raise UserError(f"ep: {inp.ep} (must divide moe_experts = {inp.model.moe_experts})")
    if inp.requests is not None and not (1 <= inp.requests <= 1_000_000):
        raise UserError(f"requests: {inp.requests!r} (must be 1 to 1,000,000)")
    for name in ("input_len_spread", "output_len_spread"):
        v = getattr(inp, name)
        if not (0.0 <= v <= 10.0):
            raise UserError(f"{name}: {v!r} (a coefficient of variation in [0, 10])")
    if not (0.0 <= inp.prefix_cache_hit < 1.0):
        raise UserError(f"prefix_cache_hit: {inp.prefix_cache_hit!r} (must be in [0, 1))")
    if inp.requests_per_client is not None and not (1 <= inp.requests_per_client <= 10_000):
        raise UserError(f"requests_per_client: {inp.requests_per_client!r} (must be 1 to 10,000)")
    if not (0 <= inp.warmup_requests <= 1_000_000):
        raise UserError(f"warmup_requests: {inp.warmup_requests!r} (must be 0 to 1,000,000)")
    if not (0.0 <= inp.ramp_s < math.inf):
        raise UserError(f"ramp_s: {inp.ramp_s!r} (a ramp-up in seconds, 0 or more)")
    for name in ("max_num_batched_tokens", "max_num_seqs"):
        v = getattr(inp, name)
        if v is not None and not (isinstance(v, (int, np.integer)) and 1 <= v <= 10_000_000):
            raise UserError(f"{name}: {v!r} (a whole number from 1 to 10,000,000)")
    if (inp.requests_per_client is not None or inp.ramp_s > 0) and inp.scenario != "concurrency":
        raise UserError("requests_per_client and ramp_s describe a closed loop: they need the concurrency scenario")


# ---- scenarios (vectorised) -----------------------------------------------------------------------

def _prompt_split(L_in: float, prefix_cache_hit: float) -> tuple[float, float]:
    """(tokens prefilled, tokens served from the prefix cache) of an `L_in`-token prompt: at least
    one token is prefilled; the cached ones are attended to, not computed."""
    L_pf = max(L_in * (1.0 - prefix_cache_hit), 1.0)
    return L_pf, (L_in - L_pf if prefix_cache_hit > 0 else 0.0)


def _prefill_marginal(dep: _Deployment, n, L_in, L_out, cached=0.0) -> np.ndarray:
    """Prefill compute per request when a saturated engine batches the prompts that arrive in one
    iteration (n / L_out of them), up to its prefill token budget; `L_in` new tokens after
    `cached` ones from a prefix cache."""
    per_iter = _arr(n) / np.maximum(L_out, 1.0)
    cap = np.maximum(dep.f["inf_prefill_chunk_tokens"] / np.maximum(L_in, 1.0), 1.0)
    b = np.clip(per_iter, 1.0, cap)
    return _prefill(dep, b, L_in, cached)["marginal_s"] / b


def _closed_loop(dep: _Deployment, conc_inst, L_in, L_out, cap, prefix_cache_hit: float = 0.0) -> dict:
    """Steady state of a closed loop with `conc_inst` requests in flight per instance; a prefix-cache
    hit rate h prefills only the rest of each prompt (attending to the cached part)."""
    f = dep.f
    conc_inst = _arr(conc_inst)
    n = np.maximum(np.minimum(conc_inst, cap), 1.0)
    ctx = L_in + f["inf_kv_occupancy"] * L_out * 0.5
    # pipeline stages: the batch splits into pp micro-batches, one per stage
    dec = _decode_step(dep, n / dep.pp, ctx)
    step = dec["total_s"] * dep.pp
    L_pf, cached = _prompt_split(L_in, prefix_cache_hit)
    pf1 = _prefill(dep, 1.0, L_pf, cached)
    marg = _prefill_marginal(dep, n, L_pf, L_out, cached)
    # Each iteration admits n / L_out new prompts on average; their compute stalls the decode.
    tpot = step + n / np.maximum(L_out, 1.0) * marg
    # Steady state without queueing structure: a prompt waits for about one step, then prefills.
    # (`engine.serving.simulator` runs the real schedule; this closed form feeds quick curves.)
    ttft_run = pf1["total_s"] + step
    latency = ttft_run + np.maximum(L_out - 1.0, 0.0) * tpot
    # Completions per second: Little's law on the running set, bounded by the work per request
    # (its prefill plus L_out shared decode steps).
    rate = np.minimum(n / latency, n / (L_out * step + n * marg))
    queue = np.maximum(conc_inst / rate - latency, 0.0)  # waiting for a free slot (KV full)
    return {"n": n, "dec": dec, "pf1": pf1, "tpot": tpot, "ttft": ttft_run + queue,
            "rate": rate, "latency": latency + queue}


def _server(dep: _Deployment, lam_inst, L_in, L_out, cap) -> dict:
    """Open loop, Poisson arrivals at `lam_inst` requests/s per instance."""
    f = dep.f
    lam = _arr(lam_inst)
    ctx = L_in + f["inf_kv_occupancy"] * L_out * 0.5
    pf1 = _prefill(dep, 1.0, L_in)
    n = np.ones(np.broadcast(lam, dep.tp, dep.hbm_bps).shape)
    for _ in range(40):  # fixed point n = lam * latency(n)
        dec = _decode_step(dep, n / dep.pp, ctx)
        step = dec["total_s"] * dep.pp
        tpot = step + n / np.maximum(L_out, 1.0) * pf1["marginal_s"]
        rho = np.minimum(lam * pf1["marginal_s"], 0.999)
        wait = rho * pf1["marginal_s"] / (2.0 * (1.0 - rho))  # M/D/1
        ttft = pf1["total_s"] + wait + 0.5 * step
        latency = ttft + np.maximum(L_out - 1.0, 0.0) * tpot
        n_new = np.minimum(lam * latency, cap)
        n = 0.5 * n + 0.5 * np.maximum(n_new, 1.0)
    dec = _decode_step(dep, n / dep.pp, ctx)
    step = dec["total_s"] * dep.pp
    tpot = step + n / np.maximum(L_out, 1.0) * pf1["marginal_s"]
    latency = ttft + np.maximum(L_out - 1.0, 0.0) * tpot
    capacity_rate = n / latency
    stable = (lam * latency <= cap * 1.0001) & (lam * pf1["marginal_s"] < 0.999)
    served = np.where(stable, lam, np.minimum(lam, capacity_rate))
    return {"n": n, "dec": dec, "pf1": pf1, "tpot": tpot, "ttft": ttft, "rate": served,
            "latency": latency, "stable": stable}


def _engine_cap(dep: _Deployment, L_in, L_out) -> tuple[np.ndarray, np.ndarray]:
    ctx = L_in + dep.f["inf_kv_occupancy"] * L_out
    kv_cap = _max_sequences(dep, ctx)
    return np.minimum(kv_cap, dep.f["inf_max_batch"] * dep.attn_groups), kv_cap


# ---- one evaluation -----------------------------------------------------------------------------------

def _f(x) -> float:
    v = float(np.asarray(x).reshape(-1)[0])
    return v


def evaluate_serving(inputs: ServingInputs) -> ServingResult:
    """Serving figures of one deployment and workload (see module doc)."""
    _validate_inputs(inputs)
    result = _evaluate_serving(inputs)
    note = precision_note(inputs.chip, inputs.weight_dtype, inputs.kv_dtype)
    return replace(result, explanation=f"{result.explanation}; {note}") if note else result


def _evaluate_serving(inputs: ServingInputs) -> ServingResult:
    inp = inputs
    shape = model_shape(inp.model)
    # the deployment's own limits (max running sequences, token budget per step) are the
    # closed-form model's cap and prefill budget too, so every path uses the same limits
    from engine.serving.families import limit_factors

    facs = {**(inp.factors or {}), **limit_factors(inp.max_num_seqs, inp.max_num_batched_tokens)}
    hw = _hw_arrays([inp.chip], inp.weight_dtype, inp.engine, facs)
    dep = _deployment(shape, hw, inp.tp, inp.ep, inp.pp, inp.weight_dtype, inp.kv_dtype)
    L_in, L_out = float(inp.input_len), float(inp.output_len)
    chips_inst = _f(dep.chips)
    chips_total = int(chips_inst * inp.replicas)
    cap, kv_cap = _engine_cap(dep, L_in, L_out)
    cap_f, kv_cap_f = _f(cap), _f(kv_cap)
    # GiB throughout: the catalog's HBM capacity is in GiB (Chip.hbm_gib), so is what fills it
    weights_gib = _f(dep.weight_bytes_chip) / GIB
    kv_seq_gib = _f(dep.kv_bytes_token_chip) * kv_context(shape, L_in + L_out) / GIB
    kv_chip_gib = _f(dep.kv_capacity_bytes_chip) / GIB
    base: dict[str, Any] = dict(scenario=inp.scenario, max_concurrency=int(kv_cap_f * inp.replicas),
                max_running=int(cap_f * inp.replicas),
                kv_gib_per_sequence=kv_seq_gib, kv_gib_per_chip=kv_chip_gib,
                weights_gib_per_chip=weights_gib, chips=chips_total)
    if kv_cap_f < 1:
        hbm = inp.chip.hbm_gib
        reason = (f"does not fit: weights {weights_gib:.1f} GiB per chip plus reserve and one "
                  f"{L_in + L_out:.0f}-token sequence exceed {hbm:g} GiB of HBM on {inp.chip.name} "
                  f"(tp={inp.tp}, pp={inp.pp}, ep={inp.ep}); use more chips per replica or a smaller dtype")
        nan = float("nan")
        return ServingResult(feasible=False, reason=reason, ttft_ms=nan, tpot_ms=nan, prefill_ms=nan,
                             decode_step_ms=nan, e2e_latency_ms=nan, output_tokens_per_s_per_chip=0.0,
                             total_tokens_per_s_per_chip=0.0, running_batch=0.0,
                             limiting="memory capacity", explanation=reason,
                             decode_breakdown_ms={}, prefill_breakdown_ms={}, **base)

    sc = inp.scenario
    reps = inp.replicas
    if sc == "static_batch":
        b_inst = max(float(cast(int, inp.batch)) / reps, 1.0)  # validated: static_batch has a batch
        waves = math.ceil(b_inst / cap_f) if b_inst > cap_f else 1
        b_run = b_inst / waves
        pf = _prefill(dep, b_run, L_in)
        dec = _decode_step(dep, b_run / dep.pp, L_in + 0.5 * L_out)
        step = _f(dec["total_s"]) * _f(dep.pp)
        prefill_s = _f(pf["total_s"])
        e2e = waves * (prefill_s + max(L_out - 1.0, 0.0) * step)
        ttft = prefill_s
        tpot = step
        out_tps = b_inst * L_out / e2e
        running = b_run
        limited_by_capacity = waves > 1
    elif inp.simulate:
        return _simulated(inp, dep, base, L_in, L_out, chips_inst, cap_f, kv_cap_f)
    elif sc in ("concurrency", "offline"):
        # steady-state closed form: no queueing structure, for quick curves (GUI sweeps)
        conc = float(cast(int, inp.concurrency)) / reps if sc == "concurrency" else cap_f
        r = _closed_loop(dep, conc, L_in, L_out, cap, inp.prefix_cache_hit)
        dec, pf = r["dec"], r["pf1"]
        step = _f(dec["total_s"]) * _f(dep.pp)
        prefill_s = _f(pf["total_s"])
        tpot, ttft = _f(r["tpot"]), _f(r["ttft"])
        e2e = _f(r["latency"])
        out_tps = _f(r["rate"]) * L_out
        running = _f(r["n"])
        limited_by_capacity = conc > cap_f
    else:
        r = _server(dep, float(cast(float, inp.request_rate)) / reps, L_in, L_out, cap)
        dec, pf = r["dec"], r["pf1"]
        step = _f(dec["total_s"]) * _f(dep.pp)
        prefill_s = _f(pf["total_s"])
        tpot, ttft = _f(r["tpot"]), _f(r["ttft"])
        e2e = _f(r["latency"])
        out_tps = _f(r["rate"]) * L_out
        running = _f(r["n"])
        limited_by_capacity = not bool(np.asarray(r["stable"]).reshape(-1)[0])

    out_chip = out_tps / chips_inst
    tot_chip = out_chip * (L_in + L_out) / L_out
    dbd = {k[:-2] + "_ms": _f(v) * 1e3 for k, v in dec.items() if k not in ("busy_s",)}
    pbd = {k[:-2] + "_ms": _f(v) * 1e3 for k, v in pf.items()}
    # a request's prefill against its share of the decode steps (static: all prompts at once)
    phases = ((prefill_s, max(L_out - 1.0, 0.0) * step, pf) if sc == "static_batch" else
              (_prefill_work_s(dep, running, L_in, L_out, 0.0), max(L_out - 1.0, 0.0) * step / max(running, 1.0), pf))
    limiting, why = _limiting(dec, running, cap_f, kv_cap_f, limited_by_capacity, inp, phases)
    return ServingResult(
        feasible=True, reason="", ttft_ms=ttft * 1e3, tpot_ms=tpot * 1e3, prefill_ms=prefill_s * 1e3,
        decode_step_ms=step * 1e3, e2e_latency_ms=e2e * 1e3, output_tokens_per_s_per_chip=out_chip,
        total_tokens_per_s_per_chip=tot_chip, running_batch=running, limiting=limiting,
        explanation=why, decode_breakdown_ms=dbd, prefill_breakdown_ms=pbd, **base)


def _simulated(inp: ServingInputs, dep: _Deployment, base: dict, L_in: float, L_out: float,
               chips_inst: float, cap_f: float, kv_cap_f: float) -> ServingResult:
    """A loaded scenario (concurrency, server, offline) run request by request."""
    from engine.serving.capacity import simulate_inputs

    run = simulate_inputs(inp)
    sim = run.sim   # the busiest replica's run (all of them when the load divides evenly)
    pf = _prefill(dep, 1.0, *_prompt_split(L_in, inp.prefix_cache_hit))
    # per replica, over every replica (idle ones run 0); both over the runs' steady windows, as the
    # throughput is read (`SimResult.steady_running`: the whole run took in the ramp and the drain)
    running = float(run.mean_running)
    busiest = float(sim.steady_running)
    dec = _decode_step(dep, max(running, 1.0) / dep.pp, L_in + 0.5 * L_out)
    dec_busiest = dec if busiest == running else _decode_step(dep, max(busiest, 1.0) / dep.pp, L_in + 0.5 * L_out)
    tpot = dict(run.tpot_ms)
    decodes = math.isfinite(tpot["mean"])   # False: every output is one token, no decode step ran
    step_s = run.mean_decode_step_s if math.isfinite(run.mean_decode_step_s) else _f(dec["total_s"]) * _f(dep.pp)
    dbd = {k[:-2] + "_ms": _f(v) * 1e3 for k, v in dec.items() if k not in ("busy_s",)}
    pbd = {k[:-2] + "_ms": _f(v) * 1e3 for k, v in pf.items()}
    queued = run.queue_ms["mean"] / 1e3 if math.isfinite(run.queue_ms["mean"]) else 0.0
    capped = busiest >= 0.9 * cap_f or (run.preemptions > 0) or queued > 0.5 * run.e2e_ms["mean"] / 1e3
    if decodes:
        # a request's prefill work against its share of the decode steps (the simulated steps' mean)
        phases = (_prefill_work_s(dep, busiest, L_in, L_out, inp.prefix_cache_hit),
                  max(L_out - 1.0, 0.0) * step_s / max(busiest, 1.0), pf)
        limiting, why = _limiting(dec_busiest, busiest, cap_f, kv_cap_f, capped, inp, phases)
    else:
        # what limits is the prompts' prefill, not a decode step nobody ran
        limiting, why = _limiting_prefill_only(pf, busiest, cap_f, kv_cap_f, capped, inp)
        # the next token would cost a step: a finite TPOT for the curves and sweeps (`fleetcast
        # serve` reports TPOT as not applicable with one output token)
        tpot = {k: step_s * 1e3 for k in tpot}
    if run.preemptions:
        why += f"; {_count(run.preemptions, 'preemption')} (KV full: sequences recomputed)"
    # the fullest the cache got, read before finished sequences free their blocks (the series
    # samples after each step and misses it): `fleetcast serve`'s kv_used_pct_peak, in its words
    kv_peak = max(float(np.max(sim.kv_used_frac)), float(sim.kv_peak_frac)) if sim.kv_used_frac.size else 0.0
    why += f"; KV use peaks at {pct_text(100 * kv_peak)}"
    if run.split:
        why += f"; {run.split}"
    return ServingResult(
        feasible=True, reason="", ttft_ms=run.ttft_ms["mean"], tpot_ms=tpot["mean"],
        prefill_ms=_f(pf["total_s"]) * 1e3, decode_step_ms=step_s * 1e3, e2e_latency_ms=run.e2e_ms["mean"],
        output_tokens_per_s_per_chip=run.output_tokens_per_s_per_chip,
        total_tokens_per_s_per_chip=run.total_tokens_per_s_per_chip, running_batch=running, limiting=limiting,
        explanation=why, decode_breakdown_ms=dbd, prefill_breakdown_ms=pbd,
        ttft_ms_p50=run.ttft_ms["p50"], ttft_ms_p90=run.ttft_ms["p90"], ttft_ms_p99=run.ttft_ms["p99"],
        tpot_ms_p50=tpot["p50"], tpot_ms_p90=tpot["p90"], tpot_ms_p99=tpot["p99"],
        e2e_latency_ms_p90=run.e2e_ms["p90"], e2e_latency_ms_p99=run.e2e_ms["p99"], queue_ms=run.queue_ms["mean"],
        simulated_requests=int(run.requests), distinct_requests=int(run.distinct_requests),
        preemptions=run.preemptions, simulation=sim,
        capped_requests=run.capped_requests, **base)


def _limiting_prefill_only(pf: dict, running: float, cap: float, kv_cap: float, capped: bool,
                           inp: ServingInputs):
    """What limits a run whose requests each generate one token: their prompts' prefill (no
    decode step runs), or the KV cache / engine cap when requests queue for a slot."""
    if capped and _at_cap(running, cap):
        return _limiting({"weights_s": 0.0, "kv_s": 0.0, "compute_s": 0.0, "overhead_s": 0.0, "comm_s": 0.0},
                         running, cap, kv_cap, capped, inp)
    parts = {"compute": _f(pf["compute_s"]), "bandwidth": _f(pf["weights_s"]),
             "overhead": _f(pf["overhead_s"]) + _f(pf["comm_s"])}
    kind = max(parts, key=lambda k: parts[k])
    # its share of the prefill's time (`total_s`), as a decode step's is (`_limiting`)
    total = _f(pf.get("total_s", 0.0)) or sum(parts.values())
    share = 100.0 * min(parts[kind] / total, 1.0) if total > 0 else 0.0
    text = {"compute": "compute bound", "bandwidth": "HBM-bandwidth bound (weights read)",
            "overhead": "dominated by fixed overhead and collectives"}[kind]
    return kind, (f"no decode steps (each request's one output token comes from its prefill): a prompt's "
                  f"prefill is {text}, {share:.0f}% of it")


def pct_text(pct: float) -> str:
    """A percentage in words: one decimal under 1% (a peak of 0.54% read "0%"), whole above."""
    if pct <= 0.0:
        return "0%"
    if pct < 0.05:
        return "under 0.1%"
    return f"{pct:.1f}%" if pct < 1.0 else f"{pct:.0f}%"


def _at_cap(running: float, cap: float) -> bool:
    """A mean running batch that reads as the cap reached: within one sequence or 2% of it. A
    mean under Poisson arrivals sits below the cap while requests queue for a seat (the batch
    empties a little between arrivals), so "within half a sequence" missed a full engine."""
    return running >= cap - max(1.0, 0.02 * cap)


def _count(n: float, noun: str) -> str:
    """'1 sequence', '335 sequences' (whole count)."""
    return f"{n:.0f} {noun}{'' if round(n) == 1 else 's'}"


def batch_text(n: float) -> str:
    """A mean running batch in words: one decimal below 10 (a mean of 0.38 read "batch 0"), whole above."""
    if n < 0.05:
        return "under 0.1"
    return f"{n:.1f}" if n < 10 and abs(n - round(n)) >= 0.05 else f"{n:,.0f}"


def _prefill_work_s(dep: _Deployment, running: float, L_in: float, L_out: float, prefix_cache_hit: float) -> float:
    """Prefill compute one request costs a busy engine (its prompt batched with the others that
    arrive in a step, up to the token budget), to weigh against its share of the decode steps."""
    L_pf, cached = _prompt_split(L_in, prefix_cache_hit)
    return _f(_prefill_marginal(dep, max(running, 1.0), L_pf, L_out, cached))


def _limiting(dec: dict, running: float, cap: float, kv_cap: float, capped: bool, inp: ServingInputs,
              phases: tuple[float, float, dict] | None = None):
    """What limits the run, and why in words. `phases` (prefill seconds per request, decode
    seconds per request, the prefill's parts): when prompts' prefill takes more of a request's
    time than its share of the decode steps, the prefill's limit is named, not the decode
    step's (a 7,000-token prompt with 20 output tokens is ~97% prefill)."""
    parts = {"bandwidth": _f(dec["weights_s"]) + _f(dec["kv_s"]), "compute": _f(dec["compute_s"]),
             "overhead": _f(dec["overhead_s"]) + _f(dec["comm_s"])}
    if capped and _at_cap(running, cap):
        if cap >= kv_cap - 0.5:
            # the cap counts sequences at their average length; paged KV admits by the tokens each
            # holds now, so a simulated batch of young sequences runs a few more (337.9 beside 335)
            paged = (f" (paged, {running:.0f} ran at once on average: a new sequence holds fewer tokens)"
                     if running > cap + 0.5 else "")
            return "memory capacity", (
                f"the KV cache that fits beside the weights on {inp.chip.name} holds about {_count(cap, 'sequence')} "
                f"per replica at their average length{paged}; more requests queue")
        # the scheduler's cap (max_num_seqs), not memory: KV would hold more
        # --max-num-seqs is per attention rank: with data-parallel attention (EP beyond TP) each rank has it
        groups = max(int(inp.ep or 1), int(inp.tp)) / int(inp.tp)
        per = (f" per attention rank ({cap:.0f} per replica over {groups:.0f} ranks)" if groups > 1 else
               " per replica")
        return "engine batch cap", (f"the engine's cap of {_count(cap / groups, 'running sequence')}{per} is "
                                    f"reached (the KV cache would hold {kv_cap:.0f})")
    if phases is not None and phases[0] > phases[1]:
        pf_s, dec_s, pf = phases
        pf_parts = {"compute": _f(pf["compute_s"]), "bandwidth": _f(pf["weights_s"]),
                    "overhead": _f(pf["overhead_s"]) + _f(pf["comm_s"])}
        kind = max(pf_parts, key=lambda k: pf_parts[k])
        text = {"compute": "compute bound", "bandwidth": "HBM-bandwidth bound (weights read)",
                "overhead": "dominated by fixed overhead and collectives"}[kind]
        share_pf = pf_s / (pf_s + dec_s)
        why = (f"prompt prefill takes about {100.0 * share_pf:.0f}% of each request's engine time "
               f"({inp.input_len:,.0f}-token prompts, {inp.output_len:,.0f} output tokens) and is {text}")
        if share_pf < 2.0 / 3.0:   # near balance: the decode steps' own limit is half the answer
            dkind = max(parts, key=lambda k: parts[k])
            dtext = {"bandwidth": "HBM-bandwidth bound", "compute": "compute bound",
                     "overhead": "dominated by per-step overhead and collectives"}[dkind]
            why += f"; the decode steps (the rest) are {dtext} at batch {batch_text(running)}"
        return kind, why
    kind = max(parts, key=lambda k: parts[k])
    # its share of the step's time (`total_s`): the sum of the parts counts compute hidden under
    # the memory reads as well, and said 75% where weights + KV were 16.8 of an 18.4 ms step (QA s33)
    total = _f(dec.get("total_s", 0.0)) or sum(parts.values())
    share = 100.0 * min(parts[kind] / total, 1.0) if total > 0 else 0.0
    text = {"bandwidth": "decode steps are HBM-bandwidth bound (weights and KV read every step)",
            "compute": "decode steps are compute bound (batch large enough to saturate the GEMMs)",
            "overhead": "decode steps are dominated by fixed per-step overhead and collectives"}[kind]
    return kind, f"{text}: {share:.0f}% of the step at batch {batch_text(running)}"


# ---- SLO capacity and chips needed -----------------------------------------------------------------

@dataclass(frozen=True)
class CapacityResult:
    feasible: bool
    reason: str
    tp: int
    batch: float                      # running sequences per replica at the capacity point
    output_tokens_per_s_per_chip: float
    total_tokens_per_s_per_chip: float
    ttft_ms: float
    tpot_ms: float
    max_concurrency: int              # per replica, from KV capacity
    limiting: str                     # compute | bandwidth | memory capacity | latency target | overhead |
                                      # prefill saturation | token budget
    explanation: str
    chips_per_replica: int
    weights_gib_per_chip: float
    kv_gib_per_sequence: float
    resource: str = ""                # what fills the time per token there: compute | bandwidth | overhead
    ep: int = 1                       # expert-parallel degree (tp=1, ep=N: attention data parallel)
    prefix_cache_hit: float = 0.0     # fraction of input tokens served from a prefix cache
    max_running: int = 0              # per replica: the fewer of max_concurrency and the engine's cap
    latency_basis: str = "mean"       # the latencies the targets were held on: "mean" (steady state) or a
                                      # percentile under simulated load ("p90")
    request_rate_per_s: float = 0.0   # per replica: the simulated Poisson load of that point (0: not simulated)
    prefill_chips: int = 0            # per replica, in chips_per_replica: a disaggregated prefill pool (0: none)
    # per replica, sequences running at the simulated point (time-weighted over its run, queued
    # requests not counted); None when not simulated. `batch` stays the steady-state search's,
    # which sizes the simulation (rerunning the point needs the same request count)
    batch_simulated: float | None = None
    # the simulated point's latency distributions ({"ttft_ms": {"mean", "p50", "p90", "p99"},
    # "tpot_ms": {...}}); None when not simulated. ttft_ms / tpot_ms above are at latency_basis
    latencies_ms: dict | None = None
    # with a demand, why this layout: the fewest chips in whole replicas, which need not be the
    # highest rate per chip (one EP128 replica for 10,000 tokens/s where TP8 needs 32 chips); ""
    # when no demand was given or the layout was fixed
    layout_choice: str = ""
    # infeasible only: a lone request (the simulator's concurrency 1) meets every target, so only
    # the steady loads searched (one sequence always running, or more) miss them
    met_by_lone_request: bool = False
    # searched layouts only: those that meet the targets at the steady state, best first (the
    # search's own order: fewest chips for the demand, else the highest rate per chip), as (tp,
    # ep, output tokens/s per chip, chips for the demand or None); the percentile search under
    # load (engine.serving.capacity) simulates the leading ones
    layout_ranking: tuple = ()
    # simulated under load: the layouts held to the percentile targets, as (tp, ep, output tokens/s
    # per chip, chips for the demand, chips on which it missed them): searched in full (the first
    # two, None where no load meets the targets), or, with a demand, dropped from the layout
    # search where another held them (the last: it needs more chips than that at the percentile)
    layouts_under_load: tuple = ()

    @property
    def batch_at_slo(self) -> float:
        """The running batch to report at the capacity point: the simulated one when there is one."""
        return self.batch if self.batch_simulated is None else self.batch_simulated


def _tp_choices(model: ModelConfig, chip: Chip) -> list[int]:
    dom = chip.scaleup_domain or 8
    out = []
    for t in (1, 2, 4, 8, 16, 32, 64):
        if t > max(dom, 1) and t > 8:
            break
        if model.heads % t == 0:
            out.append(t)
    return out or [1]


def _cross_node_tps(model: ModelConfig, chip: Chip) -> list[int]:
    """TP degrees past the scale-up domain that split the heads (up to 64): tried only when no
    layout within one domain holds the model."""
    dom = max(int(chip.scaleup_domain or 8), 1)
    return [t for t in (16, 32, 64) if t > dom and model.heads % t == 0]


def tp_list_text(tps: Sequence[int]) -> str:
    """[1] -> 'TP 1'; [1, 2, 4] -> 'TP 1, 2 or 4' (a Python list read oddly in a note)."""
    items = [str(int(t)) for t in tps]
    return "TP " + (items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}")


def _ep_base(model: ModelConfig, chip: Chip) -> int:
    """The widest expert-parallel degree within one scale-up domain that splits the experts evenly:
    the domain itself when it divides them (8 on an HGX node), else its largest divisor of the
    expert count (64 of a GB200 NVL72's 72 chips for 128 or 256 experts; multiples of 72 divide
    neither, and GB200 got no EP layout at all). 1 when none above 1 does."""
    dom = max(int(chip.scaleup_domain or 8), 1)
    experts = max(int(model.moe_experts or 1), 1)
    return max((e for e in range(1, dom + 1) if experts % e == 0), default=1)


def _layout_choices(model: ModelConfig, chip: Chip, tp: int | None = None, ep: int | None = None) -> list:
    """(tp, ep) layouts one replica may use. Dense models: TP over the scale-up domain. MoE models
    also get what production MoE serving uses: experts spread over the whole scale-up domain
    (EP = domain) with attention either tensor-parallel inside it or data-parallel (tp=1,
    one attention replica per chip, DeepSeek/SGLang 'DP attention')."""
    if tp and ep:
        return [(int(tp), int(ep))]
    tps = [int(tp)] if tp else _tp_choices(model, chip)
    out = [(t, 1) for t in tps]
    base = _ep_base(model, chip) if model.is_moe else 1
    if base > 1:
        # wide EP across nodes (DeepSeek serves decode on EP 144-320): fewer experts per chip,
        # so a step reads less and the batch under a TPOT target grows; scale-out costs apply.
        # within a large domain (NVL72) the narrower node-sized degrees too: EP8 of 72 chips serves a
        # small demand in 8 chips where EP64 needs 64 (never below 8 or the domain-wide degree, so
        # an 8-chip node searches what it did). With a TP given, its EP is searched the same way:
        # TP8 alone had meant EP1, 1,072 H20 for a Qwen3-235B demand that TP8 EP64 serves on 640
        # (QA s38; the help promised the best EP under the SLOs)
        dom = max(int(chip.scaleup_domain or 8), 1)
        inside = {e for e in range(min(8, base), dom + 1) if model.moe_experts % e == 0}
        for e in sorted(inside | {base * m for m in (1, 2, 4, 8, 16, 32)}):
            if e > 1 and model.moe_experts % e == 0:
                out += [(t, e) for t in tps if t < e and e % t == 0]
                if e in tps:
                    out.append((e, e))
    if ep:
        out = [(t, e) for t, e in out if e == int(ep)] or [(1, int(ep))]
    return list(dict.fromkeys(out))


def _capacity_arrays(model, chips, tps, L_in, L_out, ttft_s, tpot_s, wdt, kdt, engine, overrides=None,
                     n_grid: int = 96, eps=None, prefix_cache_hit: float = 0.0):
    """SLO-bounded throughput for every (chip, tp) over a grid of running batch sizes.

    Returns arrays shaped (chips, tps) plus the grid results. Throughput is monotone in the
    running batch below the KV cap, so the best feasible batch is the largest that meets both
    targets (TPOT and TTFT also grow with the batch).
    """
    shape = model_shape(model)
    hw = _hw_arrays(chips, wdt, engine, overrides)
    hw = {k: (v[:, None, None] if isinstance(v, np.ndarray) else
              {kk: vv[:, None, None] for kk, vv in v.items()} if isinstance(v, dict) else v)
          for k, v in hw.items()}
    tp = _arr(tps)[None, :, None]
    ep = _arr(eps if eps is not None else [1] * len(tps))[None, :, None]
    dep = _deployment(shape, hw, tp, ep, 1.0, wdt, kdt)
    cap, kv_cap = _engine_cap(dep, L_in, L_out)
    # running sequences per replica: the same per-attention-group grid for every layout, so wide
    # data-parallel attention (hundreds of chips per replica) is searched as finely as TP8
    per_group = np.unique(np.round(np.geomspace(1, 8192, n_grid)))[None, None, :]
    grid = per_group * np.broadcast_to(dep.attn_groups, (1, len(tps), 1))
    r = _server_like(dep, grid, L_in, L_out, prefix_cache_hit, engine, rising_batches=True)
    # a running batch the prompts can never fill (infinite TTFT) is no operating point, targets or not
    ok = (grid <= cap) & (r["tpot"] <= tpot_s) & (r["ttft"] <= ttft_s) & np.isfinite(r["ttft"])
    tps_chip = np.where(ok, r["out_tps"] / dep.chips, 0.0)
    best = np.argmax(tps_chip, axis=-1)
    return dep, cap, kv_cap, grid, r, ok, tps_chip, best


def _server_like(dep, n, L_in, L_out, prefix_cache_hit: float = 0.0, engine: str = "",
                 rising_batches: bool = False) -> dict:
    """Steady state of a server running `n` sequences with Poisson arrivals (for SLO search).

    A prefix-cache hit rate h means h of each prompt's tokens are already in KV (shared system
    prompts, earlier turns): only the rest is prefilled (attending to the cached prefix), but the
    whole prompt occupies KV.

    The token budget per step (`inf_prefill_chunk_tokens`, --max-num-batched-tokens) binds as the
    simulator's scheduler does (`engine.serving.simulator`): an engine that mixes prompts with
    decodes spends one token of it per running sequence, so a steady state needs the n / L_out
    prompts that arrive per step to fit in the rest (else that many sequences never run at once),
    and a chunking engine spreads a prompt longer than the rest over several steps (TTFT)."""
    from engine.serving.families import scheduler_for

    f = dep.f
    sched = scheduler_for(engine)
    ctx = L_in + f["inf_kv_occupancy"] * L_out * 0.5
    dec = _decode_step(dep, n, ctx)
    L_pf, cached = _prompt_split(L_in, prefix_cache_hit)
    pf1 = _prefill(dep, 1.0, L_pf, cached)
    # Prompts batch per iteration (n / L_out arrive each step) up to the prefill token budget.
    # With data-parallel attention a prompt is never split over ranks: each rank prefills whole
    # prompts, so a batch holds at least one prompt per attention group.
    per_iter = np.maximum(_arr(n) / max(L_out, 1.0), dep.attn_groups)
    b = np.clip(per_iter, 1.0, np.maximum(f["inf_prefill_chunk_tokens"] / L_pf, 1.0) * dep.attn_groups)
    riding = _prefill(dep, b, L_pf, cached)
    marg = riding["marginal_s"] / b
    pf1 = dict(pf1, marginal_s=marg)
    # prompt tokens one step may take beside the decodes (the whole instance's budget, as the
    # simulator's); an engine that runs prefill steps alone gives them the whole budget each
    # (a request spends one of its L_out steps in prefill, the rest decoding: a 1-token output
    # never decodes)
    budget_tokens = f["inf_prefill_chunk_tokens"] * dep.attn_groups
    decoding = _arr(n) * max(L_out - 1.0, 0.0) / max(L_out, 1.0)
    prefill_share = budget_tokens - decoding if sched.mixed_batches else budget_tokens + 0.0 * decoding
    # an unchunked prompt runs whole, at least one per step (the simulator's rule)
    prompts_per_step = prefill_share / L_pf if sched.chunked_prefill else np.maximum(prefill_share / L_pf, 1.0)
    fed = (_arr(n) / max(L_out, 1.0) <= prompts_per_step) if sched.mixed_batches else np.ones(np.shape(_arr(n)), bool)
    # steps a prompt spans (FCFS: it takes the whole share while it prefills): its compute is in
    # pf1, each further step adds the decode step it rides with
    steps_per_prompt = (np.ceil(L_pf / np.maximum(prefill_share, 1.0) - 1e-9)
                        if sched.chunked_prefill else 1.0 + 0.0 * _arr(n))
    extra_steps_s = np.maximum(steps_per_prompt - 1.0, 0.0) * dec["total_s"]
    # A step carrying prompt work: its prompts' compute joins the decode's GEMMs under the same
    # roofline as the weights those GEMMs read, as the simulator prices a mixed step
    # (`engine.serving.cost_model.step_s`: max(weights, GEMMs + prompts) + attention); their
    # communication adds. With q = n / L_out prompts arriving per step, each prompt whole or cut as
    # the scheduler cuts it (FCFS: chunks of the step's share, then the rest), a step carries one
    # chunk where q x chunks <= 1, else every step carries q prompts' work. Added whole to every
    # decode step (the old form), a MoE model's prompts, whose decode reads every expert far below
    # its compute roof, cost a steady state up to 1.8x the p90 simulated one's chips (QA s35:
    # Qwen3-235B on B200 TP4, 456 steady against 812 output tokens/s per chip); cut into equal
    # chunks, a 2,000-token prompt over a share of 1,999 hid its halves under the weights and the
    # rate jumped 1.6x with one more running sequence (QA s35; the scheduler cuts 1,999 + 1). Past
    # one chunk a step (q x chunks > 1) the scheduler fills a step's share from the queue: a share
    # q L / share of the steps carries a full share. Each chunk's compute is its own: its rows set
    # its GEMMs' efficiency and its offset its attention, as the simulator prices a step's chunk (a
    # pro-rata share of the whole prompt's compute hid a 468-token chunk under the weight read
    # where it costs 12 ms past it, and a longer prompt read up to 3.3x the simulated p50: QA s35).
    per_step = n / max(L_out, 1.0)
    p_comm = (riding["marginal_s"] - riding["marginal_compute_s"]) / b   # one prompt's, riding along
    plain = np.maximum(dec["weights_s"], dec["gemm_s"])

    def own(tokens, prompts, offset):
        """The compute of `prompts` prompts' `tokens` new tokens in one step, after `offset` in KV."""
        return _prefill(dep, prompts, np.maximum(tokens / np.maximum(prompts, 1e-9), 1.0), offset)["marginal_compute_s"]

    def carried(tokens, compute):
        """What a step carrying `tokens` prompt tokens (of `compute` seconds) adds to a decode step."""
        part = tokens / L_pf
        weights = dec["weights_s"]
        if dep.shape.experts:   # the experts the prompts touch beyond the decodes' (the simulator's mem_pf)
            more = _experts_touched(dep.shape, tokens) - _experts_touched(dep.shape, np.maximum(_arr(n), 1e-9))
            weights = weights + dep.expert_bytes_chip_all * np.maximum(more, 0.0) / (
                dep.hbm_bps * f["inf_hbm_eff"] * f["inf_moe_read_eff"])
        return np.maximum(weights, dec["gemm_s"] + compute) - plain + p_comm * part

    chunk = np.minimum(np.maximum(prefill_share, 1.0), L_pf) if sched.chunked_prefill else L_pf + 0.0 * _arr(n)
    rest = np.maximum(L_pf - (steps_per_prompt - 1.0) * chunk, 0.0)
    # the full chunks at their mean offset (their attention is linear in it), then the rest
    at_chunk = own(chunk, 1.0, cached + 0.5 * np.maximum(steps_per_prompt - 2.0, 0.0) * chunk)
    at_rest = np.where(rest > 0, own(rest, 1.0, cached + (steps_per_prompt - 1.0) * chunk), 0.0)
    alone = (steps_per_prompt - 1.0) * carried(chunk, at_chunk) + carried(rest, at_rest)   # each chunk rides a step
    full = np.maximum(prefill_share, 1.0)   # (prompts from the queue, several where they fit)
    lumpy = np.minimum(per_step * L_pf / full, 1.0) * carried(full, own(full, full / L_pf, cached))
    mixed = dec["total_s"] + np.where(per_step * steps_per_prompt <= 1.0, per_step * alone, lumpy)
    # An engine that runs its prompts in steps of their own reads the weights for them apart. With
    # data-parallel attention the closed form stands in for prefill on instances of its own, as
    # large MoE serving runs (README, "Wide expert parallelism"): the prompts' work adds to the
    # decode's, as the chip-time of separate pools does (the simulator's aggregated engine stalls
    # every rank on the one that holds a prompt, which that deployment avoids).
    apart = dec["total_s"] + per_step * marg
    tpot = np.where(dep.attn_groups > 1, apart, mixed) if sched.mixed_batches else apart
    if rising_batches:
        # `n` rises along its last axis (the search's grid): a token never gets faster with more
        # sequences running, where the regimes above meet (one chunk a step, then full shares)
        tpot = np.maximum.accumulate(np.broadcast_to(tpot, np.broadcast(tpot, _arr(n)).shape), axis=-1)
    # The arrival rate that keeps n sequences in the server (Little's law: n = rate x latency),
    # where the latency holds the prompt's queueing wait, which grows with the rate (M/D/1 on the
    # prefill work, rho = rate x marginal prefill). Solved, not iterated once: with outputs as
    # short as the batch (a request's life is mostly its prompt) one step from n / prefill put rho
    # near 1 and TTFT at 12 s for two 1-token requests that a server runs in 50 ms.
    m = np.broadcast_to(pf1["marginal_s"], np.broadcast(_arr(n), pf1["marginal_s"], tpot).shape)
    fixed = pf1["total_s"] + extra_steps_s + 0.5 * dec["total_s"] + max(L_out - 1.0, 0.0) * tpot   # latency without waiting

    def in_server(rate):
        rho = rate * m
        return rate * (fixed + rho * m / (2.0 * (1.0 - rho)))

    lo = np.zeros(m.shape)
    hi = np.broadcast_to(RHO_MAX / m, m.shape).copy()
    # else n never run at once: the prompts saturate first (compute, or the token budget)
    reachable = (in_server(hi) >= n) & fed
    for _ in range(48):              # bisection: in_server rises with the rate
        mid = 0.5 * (lo + hi)
        over = in_server(mid) > n
        hi = np.where(over, mid, hi)
        lo = np.where(over, lo, mid)
    rho = 0.5 * (lo + hi) * m
    wait = rho * m / (2.0 * (1.0 - rho))
    # a Poisson arrival lands inside a running step and waits out its rest (half a step on
    # average); the first token leaves with the step that finishes its prompt (overhead in pf1)
    ttft = pf1["total_s"] + extra_steps_s + wait + 0.5 * dec["total_s"]
    lat = ttft + max(L_out - 1.0, 0.0) * tpot
    lam = n / lat
    return {"dec": dec, "pf1": pf1, "tpot": tpot, "ttft": np.where(reachable, ttft, np.inf),
            "out_tps": lam * L_out, "rate": lam, "budget_fed": fed}


RHO_MAX = 0.95   # prefill utilisation beyond which a steady state is not counted (queues explode)


def slo_capacity(model: ModelConfig, chip: Chip, *, input_len: float, output_len: float,
                 ttft_ms: float | None = None, tpot_ms: float | None = None, weight_dtype: str = "bf16",
                 kv_dtype: str = "bf16", tp: int | None = None, engine: str = "",
                 factors: Mapping[str, float] | None = None, ep: int | None = None,
                 prefix_cache_hit: float = 0.0,
                 demand_output_tokens_per_s: float | None = None) -> CapacityResult:
    """Largest per-chip load that meets the TTFT and TPOT targets (see `_slo_capacity`)."""
    result = _slo_capacity(model, chip, input_len=input_len, output_len=output_len, ttft_ms=ttft_ms,
                           tpot_ms=tpot_ms, weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp, engine=engine,
                           factors=factors, ep=ep, prefix_cache_hit=prefix_cache_hit,
                           demand_output_tokens_per_s=demand_output_tokens_per_s)
    note = precision_note(chip, weight_dtype, kv_dtype)
    return replace(result, explanation=f"{result.explanation}; {note}") if note else result


def _slo_capacity(model: ModelConfig, chip: Chip, *, input_len: float, output_len: float,
                  ttft_ms: float | None = None, tpot_ms: float | None = None, weight_dtype: str = "bf16",
                  kv_dtype: str = "bf16", tp: int | None = None, engine: str = "",
                  factors: Mapping[str, float] | None = None, ep: int | None = None,
                  prefix_cache_hit: float = 0.0,
                  demand_output_tokens_per_s: float | None = None) -> CapacityResult:
    """Largest per-chip load that meets the TTFT and TPOT targets.

    With `tp` None the best layout is searched: TP over the scale-up domain, and for MoE models
    expert parallelism over the domain with TP or data-parallel attention (`_layout_choices`).
    `prefix_cache_hit` is the fraction of input tokens that skip prefill (cached prefixes).
    `demand_output_tokens_per_s` (searched layouts only): pick the layout that serves that demand
    on the fewest chips in whole replicas (ties: the higher rate per chip), not the highest rate
    per chip, whose replica may be far wider than the demand needs."""
    check_dtypes(chip, weight_dtype, kv_dtype)
    problems = model.validate()
    if problems:
        raise UserError(f"model {model.id}: " + "; ".join(problems))
    if input_len < 1 or output_len < 1:
        raise UserError(f"input_len/output_len: {input_len}/{output_len} (must be >= 1)")
    if not (0.0 <= prefix_cache_hit < 1.0):
        raise UserError(f"prefix_cache_hit: {prefix_cache_hit!r} (must be in [0, 1))")
    if ep and model.is_moe and model.moe_experts % int(ep):
        raise UserError(f"ep: {ep} (must divide moe_experts = {model.moe_experts})")
    layouts = _layout_choices(model, chip, tp, ep)
    tps = [lt for lt, _ in layouts]
    eps = [le for _, le in layouts]
    ttft_s = ttft_ms / 1e3 if ttft_ms else np.inf
    tpot_s = tpot_ms / 1e3 if tpot_ms else np.inf
    dep, cap, kv_cap, grid, r, ok, tps_chip, best = _capacity_arrays(
        model, [chip], tps, float(input_len), float(output_len), ttft_s, tpot_s,
        weight_dtype, kv_dtype, engine, factors, eps=eps, prefix_cache_hit=float(prefix_cache_hit))
    wider = [t for t in _cross_node_tps(model, chip) if t > max(tps)] if tp is None and ep is None else []
    across_nodes = bool(wider) and not (np.asarray(kv_cap) >= 1).any()
    in_node_tp = max(tps)
    if across_nodes:
        # nothing fits within one scale-up domain: TP across nodes (the per-layer scale-out
        # overhead applies), as `--tp 16` served Llama 3 405B where the search stopped at TP8
        tps, eps = wider, [1] * len(wider)
        dep, cap, kv_cap, grid, r, ok, tps_chip, best = _capacity_arrays(
            model, [chip], tps, float(input_len), float(output_len), ttft_s, tpot_s,
            weight_dtype, kv_dtype, engine, factors, eps=eps, prefix_cache_hit=float(prefix_cache_hit))
    per_tp = tps_chip[0].max(axis=-1)
    i = int(np.argmax(per_tp))
    choice = ""
    searched = len(tps) > 1
    widths = [int(max(lt, le)) for lt, le in zip(tps, eps)]
    demanded = bool(demand_output_tokens_per_s and demand_output_tokens_per_s > 0)
    need = [int(math.ceil(float(demand_output_tokens_per_s or 0.0) / (float(per_tp[k]) * widths[k]) - 1e-9) * widths[k])
            if demanded and per_tp[k] > 0 else None for k in range(len(tps))]
    # the search's order of the layouts that meet the targets (the first is its choice)
    order = sorted((k for k in range(len(tps)) if per_tp[k] > 0),
                   key=lambda k: (need[k], -float(per_tp[k])) if demanded else -float(per_tp[k]))
    ranking = tuple((int(tps[k]), int(eps[k]), float(per_tp[k]), need[k]) for k in order) if searched else ()
    if searched and demanded and per_tp[i] > 0:
        fastest = i
        i = min((k for k in range(len(tps)) if need[k] is not None), key=lambda k: (need[k], -float(per_tp[k])))
        # (chosen at these steady-state rates: a percentile target under load can need more of the
        # chosen layout's chips, which the answer's chips_needed then says; QA read 12 beside 16)
        if i != fastest:
            choice = (f"at steady-state rates {_layout_name(tps[i], eps[i])} needs {need[i]:,} chips for "
                      f"{demand_output_tokens_per_s:,.0f} output tokens/s in whole replicas of {widths[i]}; the "
                      f"highest rate per chip, {_layout_name(tps[fastest], eps[fastest])} "
                      f"({float(per_tp[fastest]):,.0f} tokens/s per chip), would need {need[fastest]:,}")
        else:
            choice = (f"{_layout_name(tps[i], eps[i])}: at steady-state rates the fewest chips for "
                      f"{demand_output_tokens_per_s:,.0f} output tokens/s ({need[i]:,}) and the highest rate per chip")
    t = tps[i]
    e = eps[i]
    j = int(best[0, i])
    g = grid[0, i]
    weights_gib = float(np.broadcast_to(dep.weight_bytes_chip, (1, len(tps), 1))[0, i, 0]) / GIB
    kv_seq_gib = float(np.broadcast_to(dep.kv_bytes_token_chip, (1, len(tps), 1))[0, i, 0]) \
        * kv_context(dep.shape, input_len + output_len) / GIB
    cap_i = float(np.broadcast_to(cap, (1, len(tps), 1))[0, i, 0])
    kvcap_i = float(np.broadcast_to(kv_cap, (1, len(tps), 1))[0, i, 0])
    if per_tp[i] <= 0:
        # nothing meets the targets: say why with the smallest batch at the best-fitting TP
        fits = [k for k in range(len(tps)) if float(np.broadcast_to(kv_cap, (1, len(tps), 1))[0, k, 0]) >= 1]
        met_alone = False
        if not fits:
            # the fewest weights per chip over the TPs tried: alone over the HBM, the reserve is no part of why
            least_gib = float(np.min(np.broadcast_to(dep.weight_bytes_chip, (1, len(tps), 1)))) / GIB
            over = "weights alone exceed" if least_gib > (chip.hbm_gib or 0.0) else "weights plus reserve exceed"
            reason = (f"{model.name} does not fit on {chip.name} at {tp_list_text(tps)} with "
                      f"{weight_dtype} weights ({over} {chip.hbm_gib:g} GiB)")
            limiting = "memory capacity"
            k = len(tps) - 1
        else:
            k = min(fits, key=lambda q: float(r["tpot"][0, q, 0]))
            # The search's lightest load is one sequence per attention group ALWAYS running under
            # Poisson arrivals: a prompt waits for the step in progress and the prompts ahead, and
            # rides with other prompts' prefill. A lone request (nothing else in the server: the
            # simulator's concurrency 1) is faster; "TTFT 92 ms > 88 ms even at batch 1" sat
            # beside a concurrency-1 run of 84 ms. Both are said, each under its own name.
            steady = {"TPOT": float(r["tpot"][0, k, 0]) * 1e3, "TTFT": float(r["ttft"][0, k, 0]) * 1e3}
            alone = _lone_request_ms(model, chip, input_len=input_len, output_len=output_len, tp=tps[k],
                                     ep=eps[k], weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine,
                                     factors=factors, prefix_cache_hit=prefix_cache_hit)
            groups = float(np.broadcast_to(dep.attn_groups, (1, len(tps), 1))[0, k, 0])
            running = "one sequence running" if groups <= 1 else f"one sequence per attention group ({groups:.0f})"
            bits = []
            for name, target, fmt in (("TPOT", tpot_ms, ".1f"), ("TTFT", ttft_ms, ".0f")):
                lone = alone.get(name) if alone else None
                if not target:
                    continue
                if lone is not None and lone > target:
                    bits.append(f"{name} {lone:{fmt}} ms > {target:g} ms even for a lone request")
                elif steady[name] > target:
                    bits.append(f"{name} {steady[name]:{fmt}} ms > {target:g} ms at the lightest steady load ("
                                + running + (f"; a lone request: {lone:{fmt}} ms" if lone is not None else "") + ")")
            met_alone = bool(alone) and all(
                not target or (alone.get(name) is not None and alone[name] <= target)
                for name, target in (("TPOT", tpot_ms), ("TTFT", ttft_ms)))
            reason = f"latency target not met on {chip.name} (best tp={tps[k]}): " + "; ".join(bits or ["no feasible batch"])
            if across_nodes:
                reason += "; " + _pipeline_hint(min(tps[q] for q in fits), in_node_tp, model)
            limiting = "latency target"
        cap_k = float(np.broadcast_to(cap, (1, len(tps), 1))[0, k, 0])
        kvcap_k = float(np.broadcast_to(kv_cap, (1, len(tps), 1))[0, k, 0])
        # the figures of the layout named (tps[k]), not of the first one tried: the view showed
        # the whole 70B (131 GiB "of 96") and 0 sequences beside "TP8"
        weights_k = float(np.broadcast_to(dep.weight_bytes_chip, (1, len(tps), 1))[0, k, 0]) / GIB
        kv_seq_k = float(np.broadcast_to(dep.kv_bytes_token_chip, (1, len(tps), 1))[0, k, 0]) \
            * kv_context(dep.shape, input_len + output_len) / GIB
        return CapacityResult(False, reason, tps[k], 0.0, 0.0, 0.0, float("nan"), float("nan"),
                              int(max(kvcap_k, 0)), limiting, reason, int(max(tps[k], eps[k])), weights_k,
                              kv_seq_k, "memory capacity" if limiting == "memory capacity" else "latency target",
                              int(eps[k]), float(prefix_cache_hit), int(max(min(cap_k, kvcap_k), 0)),
                              met_by_lone_request=met_alone)
    n = float(g[j])
    tpot_v = float(r["tpot"][0, i, j]) * 1e3
    ttft_v = float(r["ttft"][0, i, j]) * 1e3
    out_chip = float(per_tp[i])
    # why it stops here: the next batch would break a target, or the KV cache is full
    nxt = j + 1 if j + 1 < len(g) else j
    if j + 1 >= len(g) or g[nxt] > cap_i:
        if cap_i >= kvcap_i - 0.5:
            limiting = "memory capacity"
            # the KV fit (the concurrency tile's figure), not the batch grid's last point below it
            # (the notes said 476 beside a tile of 497)
            why = (f"KV cache full: it holds {_count(kvcap_i, 'sequence')} per replica ({kv_seq_gib:.2f} GiB per sequence "
                   f"per chip)" + (f"; the largest batch searched below that is {n:.0f}" if n < kvcap_i - 0.5 else ""))
        else:   # the scheduler's cap (max_num_seqs), not memory: KV would hold more
            limiting = "engine batch cap"
            why = f"engine batch cap of {_count(cap_i, 'sequence')} reached (the KV cache would hold {kvcap_i:.0f})"
    else:
        tpot_n = float(r["tpot"][0, i, nxt]) * 1e3
        ttft_n = float(r["ttft"][0, i, nxt]) * 1e3
        which = []
        if tpot_ms and tpot_n > tpot_ms:
            which.append(f"TPOT {tpot_ms:g} ms")
        if ttft_ms and ttft_n > ttft_ms:
            which.append(f"TTFT {ttft_ms:g} ms")
        # an infinite next TTFT is no target broken but prefill saturated: read as "over the TTFT
        # target" it blamed a 600,000 ms target for a 947 ms TTFT
        if np.isfinite(ttft_n) and which:
            limiting = "latency target"
            why = f"a larger batch would break the {' and '.join(which)} target"
        elif np.isfinite(ttft_n):
            # nothing broken: the batch is where the rate per chip peaks (a 100 s TPOT target read
            # "a larger batch would break the latency target" at 82 ms; QA s38)
            limiting = "throughput peak"
            why = (f"beyond {_count(n, 'sequence')} per replica a step's prompt work grows faster than its decodes: "
                   "a larger batch serves fewer tokens per second (no latency target binds)")
        else:   # no target broken: beyond this batch the prompts arrive faster than prefill runs them
            budget_full = not bool(np.broadcast_to(r["budget_fed"], r["tpot"].shape)[0, i, nxt])
            # share of a step that is prompt work: steps mostly prefill are prefill saturated,
            # whatever budget feeds them (4,000-token prompts, 4 output tokens)
            tpot_j = float(np.broadcast_to(r["tpot"], r["tpot"].shape)[0, i, j])
            dec_j = float(np.broadcast_to(r["dec"]["total_s"], r["tpot"].shape)[0, i, j])
            prompt_share = (tpot_j - dec_j) / tpot_j if tpot_j > 0 else 1.0
            if budget_full and prompt_share < 2.0 / 3.0:
                # the deployment's own token budget binds, not the hardware: a larger budget serves
                # more (it read "prefill saturation" and "bandwidth" while 512 -> 1,024 raised it 8%)
                limiting = "token budget"
                budget = float(np.broadcast_to(dep.f["inf_prefill_chunk_tokens"], r["tpot"].shape)[0, i, nxt])
                groups = float(np.broadcast_to(dep.attn_groups, r["tpot"].shape)[0, i, nxt])
                per = (f" per attention rank ({groups:.0f} ranks: {budget * groups:,.0f} per replica)"
                       if groups > 1 else "")
                why = (f"token budget of {budget:,.0f} per step{per} is full at {n:,.1f} sequences per replica "
                       "(their decodes plus the prompts that arrive); a larger --max-num-batched-tokens serves more")
            else:
                limiting = "prefill saturation"
                why = (f"beyond {_count(n, 'sequence')} per replica prompts arrive faster than prefill runs them "
                       "(requests this short are mostly their prompt)")
                if budget_full:
                    budget = float(np.broadcast_to(dep.f["inf_prefill_chunk_tokens"], r["tpot"].shape)[0, i, nxt])
                    why += f"; they fill the token budget of {budget:,.0f} per step"
    def at(v):
        return float(np.broadcast_to(v, r["tpot"].shape)[0, i, j])

    bw = at(r["dec"]["weights_s"]) + at(r["dec"]["kv_s"])
    shares = {"bandwidth": bw if bw >= at(r["dec"]["compute_s"]) else 0.0,
              "compute": at(r["dec"]["compute_s"]) if at(r["dec"]["compute_s"]) > bw else 0.0,
              "overhead": at(r["dec"]["overhead_s"]) + at(r["dec"]["comm_s"]),
              "prefill": at(r["tpot"]) - at(r["dec"]["total_s"])}
    resource = max(shares, key=lambda k: shares[k])
    words = {"bandwidth": "HBM bandwidth (decode reads)", "compute": "compute (decode GEMMs)",
             "overhead": "per-step overhead and collectives",
             "prefill": "compute (prompt prefills interleaved with decode)"}
    if output_len > 1:   # one output token: no decode step to break down (TPOT does not apply)
        why += (f"; of the {tpot_v:.1f} ms per token, {1e3 * shares[resource]:.1f} ms is {words[resource]}")
    resource = "compute" if resource == "prefill" else resource
    if limiting == "token budget":   # the engine setting, not a hardware bottleneck, holds it here
        resource = "token budget"
    if e > 1:
        why += f" (layout: {'data-parallel' if t == 1 else f'TP{t}'} attention, experts over EP{e})"
    if across_nodes:
        dom = max(int(chip.scaleup_domain or 8), 1)
        # the fewest nodes that hold the model: its pipeline stages (same chips as that TP)
        kv_fit = np.broadcast_to(kv_cap, (1, len(tps), 1))[0, :, 0]
        fit_tp = min((tps[q] for q in range(len(tps)) if kv_fit[q] >= 1), default=t)
        why += (f"; TP{t} spans {math.ceil(t / dom)} nodes (scale-out overhead per layer): the model does not fit "
                f"within one {dom}-chip scale-up domain; {_pipeline_hint(fit_tp, in_node_tp, model)}")
    return CapacityResult(True, "", t, n, out_chip, out_chip * (input_len + output_len) / output_len,
                          ttft_v, tpot_v, int(kvcap_i), limiting, why, int(max(t, e)), weights_gib, kv_seq_gib,
                          resource, int(e), float(prefix_cache_hit), int(max(cap_i, 0)), layout_choice=choice,
                          layout_ranking=ranking)


def _lone_request_ms(model: ModelConfig, chip: Chip, *, input_len: float, output_len: float, tp: int, ep: int,
                     weight_dtype: str, kv_dtype: str, engine: str, factors: Mapping[str, float] | None,
                     prefix_cache_hit: float) -> dict:
    """{"TTFT": ms, "TPOT": ms (absent with one output token)} of one request alone in the server,
    simulated as `serve --concurrency 1` runs it (the same steps: chunked prefill at the token
    budget, then decode); {} when it cannot run (its KV does not fit)."""
    from engine.serving.capacity import simulate_scenario

    one = ServingInputs(model=model, chip=chip, input_len=float(input_len), output_len=float(output_len),
                        tp=int(tp), ep=int(ep or 1), scenario="concurrency", concurrency=1, requests=1,
                        weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine or "",
                        factors=dict(factors or {}), prefix_cache_hit=float(prefix_cache_hit))
    try:
        run = simulate_scenario(one, requests=1, prefix_cache_hit=float(prefix_cache_hit))
    except UserError:
        return {}
    out = {"TTFT": float(run.ttft_ms["mean"]), "TPOT": float(run.tpot_ms["mean"])}
    return {k: v for k, v in out.items() if math.isfinite(v)}


def _pipeline_hint(tp_across: int, tp_in_node: int, model: ModelConfig) -> str:
    """The layout the search does not try when a model needs more than one node: TP within a node
    and pipeline stages across nodes (same chips, one scale-out hop per stage instead of per
    layer; Llama 3 405B on H100 runs TP8 x PP2 at 4.8x TP16's rate per chip)."""
    pp = min(max(math.ceil(tp_across / max(tp_in_node, 1)), 2), model.layers)
    return (f"TP within a node x PP across nodes is not searched here: try --tp {tp_in_node} --pp {pp} with a "
            "load (--concurrency, --request-rate or --offline)")


def _layout_name(tp: int, ep: int) -> str:
    """'TP8', 'TP1 EP128' (a layout in the words the notes use)."""
    return f"TP{int(tp)}" + (f" EP{int(ep)}" if int(ep) > 1 else "")


def chips_needed(model: ModelConfig, chip: Chip, *, demand_output_tokens_per_s: float, input_len: float,
                 output_len: float, ttft_ms: float | None = None, tpot_ms: float | None = None,
                 weight_dtype: str = "bf16", kv_dtype: str = "bf16", tp: int | None = None,
                 engine: str = "", factors: Mapping[str, float] | None = None, ep: int | None = None,
                 prefix_cache_hit: float = 0.0) -> int:
    """Chips of this type to serve a peak output-token demand under the SLOs (whole replicas)."""
    cap = slo_capacity(model, chip, input_len=input_len, output_len=output_len, ttft_ms=ttft_ms,
                       tpot_ms=tpot_ms, weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=tp,
                       engine=engine, factors=factors, ep=ep, prefix_cache_hit=prefix_cache_hit)
    if not cap.feasible:
        raise UserError(f"chips needed on {chip.id}: {cap.reason}")
    if demand_output_tokens_per_s <= 0:
        return 0
    per_replica = cap.output_tokens_per_s_per_chip * cap.chips_per_replica
    replicas = math.ceil(demand_output_tokens_per_s / per_replica - 1e-9)
    return int(replicas * cap.chips_per_replica)


# ---- curves for the GUI -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ServingCurve:
    """Arrays shaped (chips, tps, batches); NaN where the batch does not fit in memory."""

    chip_ids: tuple
    tps: np.ndarray
    batches: np.ndarray
    output_tokens_per_s_per_chip: np.ndarray
    tpot_ms: np.ndarray
    ttft_ms: np.ndarray
    decode_step_ms: np.ndarray
    max_concurrency: np.ndarray       # (chips, tps), per replica


def serving_curve(model: ModelConfig, chips: Sequence[Chip], tps: Sequence[int], batches,
                  *, input_len: float = 1024, output_len: float = 256, weight_dtype: str = "bf16",
                  kv_dtype: str = "bf16", engine: str = "", factors: Mapping[str, float] | None = None,
                  prefix_cache_hit: float = 0.0) -> ServingCurve:
    """Throughput-latency curve as the running batch grows, for every chip and TP at once
    (`prefix_cache_hit`: the share of each prompt served from a prefix cache)."""
    for c in chips:
        check_dtypes(c, weight_dtype, kv_dtype)
    shape = model_shape(model)
    hw = _hw_arrays(list(chips), weight_dtype, engine, factors)
    hw = {k: (v[:, None, None] if isinstance(v, np.ndarray) else
              {kk: vv[:, None, None] for kk, vv in v.items()} if isinstance(v, dict) else v)
          for k, v in hw.items()}
    tp = _arr(list(tps))[None, :, None]
    b = _arr(batches)[None, None, :]
    dep = _deployment(shape, hw, tp, 1.0, 1.0, weight_dtype, kv_dtype)
    cap, kv_cap = _engine_cap(dep, float(input_len), float(output_len))
    r = _server_like(dep, b, float(input_len), float(output_len), prefix_cache_hit, engine)
    # a running batch exists only up to the fewer of the KV fit and the engine's cap on running
    # sequences (the family's default or the deployment's own `max_num_seqs`)
    fits = (b <= cap) & np.isfinite(r["ttft"])
    nan = np.nan
    out = np.where(fits, r["out_tps"] / dep.chips, nan)
    return ServingCurve(
        chip_ids=tuple(c.id for c in chips), tps=_arr(list(tps)), batches=_arr(batches).reshape(-1),
        output_tokens_per_s_per_chip=out,
        tpot_ms=np.where(fits, r["tpot"] * 1e3, nan),
        ttft_ms=np.where(fits, r["ttft"] * 1e3, nan),
        decode_step_ms=np.where(fits, r["dec"]["total_s"] * 1e3 + 0.0 * b, nan),
        max_concurrency=np.broadcast_to(kv_cap, (len(chips), len(tps), 1))[..., 0].copy(),
    )


def best_layouts(model: ModelConfig, chips: Sequence[Chip], *, demand_output_tokens_per_s: float,
                 input_len: float, output_len: float, ttft_ms: float | None = None,
                 tpot_ms: float | None = None, weight_dtype: str = "bf16", kv_dtype: str = "bf16",
                 engine: str = "", factors: Mapping[str, float] | None = None,
                 prefix_cache_hit: float = 0.0) -> list[dict]:
    """For each chip, chips needed for the demand at every TP (a MoE model at its best EP for
    that TP, as the answer's own search), and the best TP (fewest chips)."""
    out = []
    for chip in chips:
        by_tp: dict[int, int | None] = {}
        # each TP's EP where it serves (an MoE TP8 row of 640 chips is TP8 EP128: a planner copies the layout)
        ep_by_tp: dict[int, int] = {}
        rate_by_tp: dict[int, float] = {}
        row: dict[str, Any] = {"chip": chip.id, "by_tp": by_tp, "ep_by_tp": ep_by_tp, "best_tp": None,
                               "chips_needed": None, "reason": ""}
        try:
            check_dtypes(chip, weight_dtype, kv_dtype)
        except UserError as exc:
            row["reason"] = str(exc)
            out.append(row)
            continue
        layouts = _layout_choices(model, chip) if model.is_moe else [(t, None) for t in _tp_choices(model, chip)]
        # dense: TP across nodes too when no TP within one domain serves (slo_capacity's own search)
        wider = [] if model.is_moe else [(t, None) for t in _cross_node_tps(model, chip)
                                         if t > max(lt for lt, _ in layouts)]
        for t, e in layouts + wider:
            if e is None and t > max(lt for lt, _ in layouts) and any(n is not None for n in by_tp.values()):
                break
            cap = slo_capacity(model, chip, input_len=input_len, output_len=output_len, ttft_ms=ttft_ms,
                               tpot_ms=tpot_ms, weight_dtype=weight_dtype, kv_dtype=kv_dtype, tp=t, engine=engine,
                               factors=factors, prefix_cache_hit=prefix_cache_hit, ep=e)
            n = None
            if cap.feasible:
                k = cap.chips_per_replica   # TP x EP chips: an expert-parallel replica is wider than its TP
                per = cap.output_tokens_per_s_per_chip * k
                n = int(math.ceil(demand_output_tokens_per_s / per - 1e-9) * k) if demand_output_tokens_per_s > 0 else 0
            known = row["by_tp"].get(t)
            # a tie in chips goes to the higher rate per chip, as the answer's own layout choice does
            if n is not None and (known is None or n < known or (
                    n == known and cap.output_tokens_per_s_per_chip > rate_by_tp[t])):
                by_tp[t], rate_by_tp[t] = n, cap.output_tokens_per_s_per_chip
                if e is not None:
                    ep_by_tp[t] = cap.ep
            elif t not in by_tp:
                by_tp[t] = None
        feas = {t: n for t, n in row["by_tp"].items() if n is not None}
        if feas:
            best = min(feas, key=lambda t: (feas[t], t))
            row["best_tp"], row["chips_needed"] = best, feas[best]
        else:
            row["reason"] = "no TP meets the targets"
        out.append(row)
    return out
