"""Training throughput, memory and layout search for decoder transformers on a fleet of chips.

One vectorised model serves both a single layout and a search: `_evaluate_arrays` takes every
layout field as a numpy array (one entry per layout) and returns arrays of figures, so a search
over 10^5 layouts costs a few dozen array operations. Terms follow MODELING.md: GEMM time with a
shape-dependent efficiency, memory-bound ops at HBM speed, collectives on the network tiers of
engine/topology.py (TP: engine/training_comm.py; ZeRO-2/3 traffic every micro-batch;
CP ring or all-gather; MoE all-to-all with node-limited routing and FP8 dispatch), the pipeline
bubble of the schedule (1F1B/interleaved, zero-bubble, DualPipe), data-parallel traffic partly
hidden behind backward, and memory per chip after Korthikanti et al. 2022 on the fuller of the
first and last pipeline stages, plus one runtime-reserve/fragmentation term. Windowed attention
layers (ModelConfig.windowed_layers) attend to at most the window: their attention FLOPs
(engine.models.windowed_mean_span) and, without flash attention, the scores they store and pass
over cover the band, not the whole sequence; context-parallel K/V traffic is counted as for
full-attention layers (an overstatement for them).

Every input is a field a user can set (TrainingInputs: layout, software settings); nothing is
read from free text. Efficiency factors come from the chip's calibration (`train_*` names; see
DEFAULT_FACTORS and resources/calibration_README.md for their prior ranges).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from engine.errors import Cancelled, UserError
from engine.hardware import CHIP_LIFE_YEARS, GB_PER_GIB, Chip
from engine.models import ModelConfig, forward_flops_per_token, training_flops_per_token
from engine.topology import assumed_network_note, topology_of
from engine.training_comm import tp_comm_per_layer_s

GIB = 2.0 ** 30
RECOMPUTE_NAMES = ("none", "selective", "full")
SCHEDULES = ("1f1b", "zero-bubble", "dualpipe")
CP_KINDS = ("ring", "allgather")
# Attention kernels: "portable" = FlashAttention-2-class kernels written for Ampere instructions
# (on Hopper and Blackwell they reach the family's documented train_attn_path_rel share of the dense
# peak); "native" = kernels using the chip's newest instruction path (FlashAttention-3 or cuDNN on
# Hopper, cuDNN or FlashAttention-4 on Blackwell), path share 1. Identical on chips whose path share
# is already 1. `train` says which class it assumes (engine/commands/train.py attention_kernel_note).
ATTENTION_KERNELS = ("portable", "native")

# Factor defaults when a chip has no calibration row (documented in calibration_training.csv).
DEFAULT_FACTORS: Mapping[str, float] = {
    # Centres of the physical prior ranges (engine/calibration.py TRAINING_BOUNDS cites the
    # microbenchmarks). The first five are fitted per chip family (resources/calibration_training.csv);
    # every other one is a documented default the public measurements cannot pin down.
    "train_gemm_eff": 0.75,          # best sustained fraction of dense peak on large GEMMs
    "train_attn_eff": 0.45,          # fused (flash) attention fwd+bwd, fraction of the peak its path can issue
    # what fraction of the dense 16-bit peak the attention kernel's instruction path can issue at
    # all: 1.0 where the kernel uses the chip's native matrix path (A100 mma.sync, Ascend cube,
    # Hopper with FA3/cuDNN wgmma+TMA kernels); Hopper family 0.6 in calibration_training.csv for
    # FA2-class kernels (Ampere-style mma.sync, no TMA or warp specialisation): FA2 reaches ~35%
    # of H100 peak against 50-73% of A100's (Dao 2023; Shah et al. 2024). A documented default.
    # Every other vendor's chips 0.5 (AMD measured below FA2's A100 share, the rest a prior:
    # engine/calibration.py OTHER_VENDOR_FAMILIES); the 1.0 here is for A100/Ada/V100 and the 910B.
    "train_attn_path_rel": 1.0,
    "train_scaleup_eff": 0.75,       # bus-bandwidth fraction collectives reach inside a domain
    "train_layer_overhead_us": 100.0,  # launches/framework per layer per micro-batch (fwd+bwd)
    "train_hbm_eff": 0.75,           # sustained fraction of HBM bandwidth in memory-bound ops
    "train_gemm_half_dim": 48.0,     # a GEMM dimension this small halves that dimension's factor
    "train_fp8_gemm_rel": 0.85,      # fp8 GEMM efficiency relative to 16-bit (casts, scaling)
    "train_scaleout_eff": 0.8,       # the same across domains (RoCE/IB: nccl-tests 80-90% of line rate)
    "train_latency_us": 8.0,         # per collective step
    "train_step_overhead_s": 0.05,        # per optimizer step (data, logging, synchronisation)
    "train_tp_overlap": 0.0,         # fraction of TP collectives hidden behind GEMMs
    "train_tp_overlap_enabled": 0.6,  # the same with TP comm/GEMM overlap on (TransformerEngine userbuffers)
    "train_dp_overlap": 0.8,         # fraction of DP/ZeRO traffic hidden behind compute when overlapped
    "train_ep_overlap": 0.3,         # fraction of expert all-to-all hidden (a2a/compute overlap)
    # memory beyond the tensors, one term: runtime reserve (CUDA/CANN context ~0.5-1 GiB, NCCL/HCCL
    # buffers ~1 GiB) + allocator fragmentation in proportion to what is allocated (PyTorch's
    # caching allocator: a few percent with expandable segments, up to ~10% without)
    "train_mem_reserve_gb": 2.0,
    "train_mem_frag": 0.05,
    "train_moe_imbalance": 1.15,     # busiest expert's load over the mean (aux-loss-balanced routers)
    # whole-run goodput (engine/reliability.py): failures at the Llama 3 rate, restarts, checkpoints
    "train_restart_min": 15.0,       # detect, drain, reschedule, reload (Llama 3: ~90% effective time at 16K)
    "train_ckpt_write_gbps": 200.0,  # storage write bandwidth for checkpoints, GB/s for the job
    "train_run_idle_frac": 0.05,     # evaluation pauses, data stalls, batch ramp-up: a documented default
}

REASONS = (
    "ok",
    "out of memory",
    "tp does not divide heads",
    "layout does not match the chip count",
    "global batch not divisible by dp x micro-batch",
    "pp exceeds layers",
    "vpp needs pp > 1 and enough layers",
    "cp does not divide sequence",
    "ep does not divide experts or tp x dp x cp",
    "fp8 not supported by chip",
    "schedule needs vpp 1 (DualPipe also: even pp, 2 x pp micro-batches)",
    "expert tp must divide tp, and ep x expert tp divide tp x dp x cp",
    "interleaved: micro-batches not a multiple of pp",   # (new reasons last: engine.layout.Infeasible's values)
)
INTERLEAVE_REASON = REASONS[12]
REASON_INDEX = {name: i for i, name in enumerate(REASONS)}


@dataclass(frozen=True)
class TrainingInputs:
    """What to train on what. Layout fields left None are searched (or defaulted by
    `evaluate_layout`)."""

    model: ModelConfig
    chip: Chip
    num_chips: int
    seq_len: int | None = None
    global_batch_seqs: int | None = None
    dtype: str = "bf16"
    tp: int | None = None
    pp: int | None = None
    vpp: int | None = None
    dp: int | None = None
    cp: int | None = None
    ep: int | None = None
    zero_stage: int | None = None
    micro_batch: int | None = None
    recompute: str | None = None
    chips_per_node: int | None = None
    scaleup_domain: int | None = None
    # Software settings (user inputs; defaults are today's common practice)
    flash_attention: bool = True
    dropout: bool = False
    sequence_parallel: bool = True  # False: norms/dropout/residuals run replicated on every TP rank
    grad_overlap: bool = True       # DP gradient reduction bucketed and overlapped with backward
    tp_comm_overlap: bool = False   # TP collectives overlapped with GEMMs (TransformerEngine)
    schedule: str = "1f1b"          # pipeline schedule: 1f1b (interleaved when vpp > 1), zero-bubble, dualpipe
    cp_kind: str = "ring"           # context parallelism: ring (K/V passed round) or allgather (Llama 3)
    attention_kernel: str = "portable"  # fused attention: portable (FA2-class) or native (FA3/cuDNN on Hopper)
    fp8_dispatch: bool = True       # with dtype fp8, MoE tokens are dispatched in fp8 (combine in bf16)
    moe_route_nodes: int | None = None  # node-limited routing: a token reaches at most this many nodes,
    #                                     dispatched once per node (None: one copy per remote expert)
    # expert tensor parallelism (Megatron-Core's --expert-tensor-parallel-size): the chips each
    # expert's weights are split over, in every layout. None: derived, gcd(TP, TP x CP x DP / EP)
    # (MoE parallel folding, see _expert_tp). Ignored for dense models.
    expert_tp: int | None = None
    grad_reduce_bytes: float = 4.0
    factors: Mapping[str, float] = field(default_factory=dict)  # overrides of chip factors

    @property
    def seq(self) -> int:
        return int(self.seq_len or self.model.seq_len)

    def batch_seqs(self) -> int:
        """Global batch; default max(4M tokens, 1K tokens per chip) in whole sequences, a power
        of two (Llama 3 405B: 16M tokens on 16K GPUs)."""
        if self.global_batch_seqs:
            return int(self.global_batch_seqs)
        tokens = max(4 * 2 ** 20, 1024 * self.num_chips)
        return 2 ** max(0, int(round(math.log2(max(tokens / self.seq, 1.0)))))

    def factor(self, name: str):
        if name in self.factors:
            value = self.factors[name]
            # an array of values (one per layout) evaluates several factor sets at once (fitting)
            return value if isinstance(value, np.ndarray) else float(value)
        return self.chip.factor(name, DEFAULT_FACTORS[name])


@dataclass(frozen=True)
class LayoutResult:
    layout: dict
    feasible: bool
    reason: str
    step_time_s: float
    tokens_per_s_per_chip: float
    mfu_pct: float
    hfu_pct: float
    model_tflops_per_chip: float
    memory_gib_per_chip: float
    memory_capacity_gib: float
    memory_breakdown_gib: dict
    breakdown_s: dict
    limiting: str
    explanations: tuple

    def as_dict(self) -> dict:
        return {
            "layout": dict(self.layout),
            "feasible": self.feasible,
            "reason": self.reason,
            "step_time_s": self.step_time_s,
            "tokens_per_s_per_chip": self.tokens_per_s_per_chip,
            "mfu_pct": self.mfu_pct,
            "hfu_pct": self.hfu_pct,
            "model_tflops_per_chip": self.model_tflops_per_chip,
            # GiB, the unit of the chips' HBM capacity; the contract's _gb keys in decimal GB, as
            # their names say (serve does the same)
            "memory_gib_per_chip": self.memory_gib_per_chip,
            "memory_capacity_gib": self.memory_capacity_gib,
            "memory_breakdown_gib": dict(self.memory_breakdown_gib),
            "memory_gb_per_chip": self.memory_gib_per_chip * GB_PER_GIB,
            "memory_capacity_gb": self.memory_capacity_gib * GB_PER_GIB,
            "memory_breakdown_gb": {k: v * GB_PER_GIB for k, v in self.memory_breakdown_gib.items()},
            "breakdown_s": dict(self.breakdown_s),
            "limiting": self.limiting,
            "explanations": list(self.explanations),
        }


@dataclass(frozen=True)
class SearchResult:
    layouts_evaluated: int
    layouts_feasible: int
    infeasible_by_reason: dict
    search_seconds: float
    top: tuple  # LayoutResult, best first
    # one entry per evaluated layout, for heatmaps
    tp: np.ndarray
    pp: np.ndarray
    tokens_per_s_per_chip: np.ndarray
    feasible: np.ndarray
    reason: np.ndarray  # index into REASONS
    # memory per chip of each layout and the chip's HBM (GiB): what an out-of-memory cell misses by
    memory_gib: np.ndarray | None = None
    memory_capacity_gib: float = 0.0

    @property
    def best(self) -> LayoutResult | None:
        return self.top[0] if self.top else None


# ---- the vectorised model -----------------------------------------------------------------

BREAKDOWN_KEYS = (
    "gemm", "attention", "memory_bound", "recompute", "overhead", "tp_comm", "cp_comm",
    "ep_comm", "pp_comm", "bubble", "dp_comm", "optimizer",
)
MEMORY_KEYS = ("weights", "gradients", "optimizer", "activations", "logits", "buffers", "reserve")


def _gemm_time(flops, m, k, n, peak_flops, eff_max, half, hbm_bps, weight_copies=1.0):
    """Seconds for GEMMs of shape (m x k) @ (k x n) totalling `flops`: compute at a
    shape-dependent efficiency, or the bytes moved at HBM speed when that is slower."""
    shape = (m / (m + half)) * (k / (k + half)) * (n / (n + half))
    t_compute = flops / (peak_flops * eff_max * shape)
    bytes_moved = 2.0 * (m * k + weight_copies * k * n + m * n) * (flops / (2.0 * m * k * n))
    return np.maximum(t_compute, bytes_moved / hbm_bps)


def fp8_pays(inp: "TrainingInputs") -> bool:
    """True when FP8 GEMMs beat 16-bit ones on the chip: its FP8 rate at `train_fp8_gemm_rel`
    above its BF16 rate (every factor set, when several are evaluated at once)."""
    peak16 = inp.chip.peak_tflops("bf16") or 0.0
    peak_fp8 = inp.chip.peak_tflops("fp8") or 0.0
    return bool(peak_fp8) and bool(np.all(peak_fp8 * np.asarray(inp.factor("train_fp8_gemm_rel")) > peak16))


def _stage_layers(n_layers: int, pp):
    """Layers of the fullest stage, and of the first and last stages. When `pp` does not divide
    the layers, the missing layers come off the first and the last stage (Llama 3: 126 layers on
    16 stages, 7 on each end, which also hold the embedding and the logits)."""
    full = np.ceil(n_layers / pp)
    deficit = full * pp - n_layers
    last = full - np.ceil(deficit / 2.0)
    first = full - np.floor(deficit / 2.0)
    return full, np.maximum(first, 1.0), np.maximum(last, 1.0)


def _chunk_slots(n_layers: int, pp):
    """Whole-layer slots of the emptiest stage of _stage_layers' split: the most virtual chunks
    (vpp) every stage can fill. An end stage counts its embedding or logits as one slot, since it
    gave up a layer for them: Llama 3 ran 126 layers as PP16 x VPP8, the first stage's first chunk
    holding only the embedding (Megatron's account_for_{embedding,loss}_in_pipeline_split count
    each as a layer). Where the ends cannot give up the whole deficit (105 layers on 28 stages),
    the layers spread evenly and the lightest stage holds floor(layers / pp)."""
    pp = np.asarray(pp, dtype=float)
    full = np.ceil(n_layers / pp)
    lightest_end = full - np.ceil((full * pp - n_layers) / 2.0)
    return np.where(lightest_end >= 1.0, np.minimum(full, lightest_end + 1.0), np.floor(n_layers / pp))


def interleaving_fits(n_layers: int, pp, vpp):
    """True where `vpp` chunks per stage can interleave: pp > 1 and every stage fills each of its
    chunks with at least one whole layer. Checking only the fullest stage passed 126 layers on
    PP33 x VPP4, whose end stages hold one layer each and ran three of their four chunks empty."""
    return (np.asarray(pp) > 1) & (_chunk_slots(n_layers, pp) >= np.asarray(vpp))


def max_vpp(n_layers: int, pp: int) -> int:
    """The most virtual chunks per stage `pp` stages of `n_layers` layers allow (1: no interleaving)."""
    return int(_chunk_slots(n_layers, float(pp))) if 1 < pp <= n_layers else 1


# The most parameters per chip ZeRO-3 gathers as one unit: DeepSpeed's stage3_max_live_parameters
# default (1e9), which releases gathered parameters beyond it; FSDP units (one transformer block)
# stay below it up to 70B-class layers (Llama 3 70B: 0.86e9 a layer at TP1)
ZERO3_UNIT_MAX_PARAMS = 1e9


def _expert_tp(inp: TrainingInputs, L: dict) -> np.ndarray:
    """ETP of each layout in `L` (int64): the one set (`inp.expert_tp`, MoE models), else
    Megatron-Core's MoE parallel folding, gcd(TP, TP x CP x DP / EP): the largest divisor of TP
    with EP x ETP dividing the TP x CP x DP chips of a stage."""
    if inp.expert_tp and inp.model.is_moe:
        return np.full(np.shape(L["tp"]), int(inp.expert_tp), dtype=np.int64)
    stage_chips = L["tp"] * L["dp"] * L["cp"]
    return np.gcd(L["tp"], np.maximum(stage_chips // np.maximum(L["ep"], 1), 1)).astype(np.int64)


def _evaluate_arrays(inp: TrainingInputs, L: dict) -> dict:
    """Every figure for the layouts in `L` (arrays tp, pp, vpp, dp, cp, ep, mb, zero, rc, gb)."""
    model, chip = inp.model, inp.chip
    f = inp.factor
    s = float(inp.seq)
    h = float(model.hidden)
    d = float(model.head_dim_eff)
    qd = model.heads * d
    kvd = model.kv_heads * d
    fwd = forward_flops_per_token(model, inp.seq)   # (windowed layers' attention: engine.models)
    fwd_nc = forward_flops_per_token(model, inp.seq, causal_half=False)
    # keys per query of the score matrix a layer keeps, averaged over the layers: s, or the window
    # in a windowed layer (a banded kernel stores and passes over only the band)
    s_keys = s if not model.windowed else s - model.windowed_share * max(s - model.attention_window_tokens, 0.0)

    tp = L["tp"].astype(float)
    pp = L["pp"].astype(float)
    vpp = L["vpp"].astype(float)
    dp = L["dp"].astype(float)
    cp = L["cp"].astype(float)
    ep = L["ep"].astype(float)
    mb = L["mb"].astype(float)
    zero = L["zero"]
    rc = L["rc"]
    gb = L["gb"].astype(float)

    peak16 = (chip.peak_tflops("bf16") or 0.0) * 1e12
    fp8_asked = inp.dtype == "fp8"
    peak_fp8 = (chip.peak_tflops("fp8") or 0.0) * 1e12
    # FP8 on a chip whose FP8 rate is no higher than its 16-bit one (Gaudi 3, TPU v5p) is counted as
    # BF16: its GEMMs at train_fp8_gemm_rel of the same peak, plus the casts, made it 11% slower,
    # where serving bounds the same GEMMs at the 16-bit rate (inference._hw_arrays)
    fp8 = fp8_asked and fp8_pays(inp)
    gemm_peak = peak_fp8 if fp8 and peak_fp8 else peak16
    eff = f("train_gemm_eff") * (f("train_fp8_gemm_rel") if fp8 and peak_fp8 else 1.0)
    half = f("train_gemm_half_dim")
    hbm = (chip.hbm_gbps or 1000.0) * 1e9 * f("train_hbm_eff")
    topo = topology_of(chip, domain=inp.scaleup_domain)
    up_eff, out_eff = f("train_scaleup_eff"), f("train_scaleout_eff")
    lat = f("train_latency_us") * 1e-6
    net = {"up_eff": up_eff, "out_eff": out_eff, "latency_s": lat}
    act_bytes = 2.0
    dualpipe = inp.schedule == "dualpipe"

    n_layers = model.layers
    layers_stage, layers_first, layers_last = _stage_layers(n_layers, pp)
    moe_frac = model.moe_layers / n_layers
    dense_frac = 1.0 - moe_frac
    micro = np.maximum(gb / (dp * mb), 1.0)                    # micro-batches per step
    T = mb * s / cp                                            # tokens per micro-batch per chip

    # -- GEMMs of one layer, forward, per chip
    if model.is_mla:
        attn_proj_t = _gemm_time(T * fwd["attn_proj_per_layer"] / tp, T, h, qd / tp, gemm_peak, eff, half, hbm)
    else:
        qkv_flops = T * 2.0 * h * (qd + 2 * kvd) / tp
        o_flops = T * 2.0 * qd * h / tp
        attn_proj_t = (_gemm_time(qkv_flops, T, h, (qd + 2 * kvd) / tp, gemm_peak, eff, half, hbm)
                       + _gemm_time(o_flops, T, qd / tp, h, gemm_peak, eff, half, hbm))
    dense_t = 0.0
    if model.dense_layers:
        fw = float(model.ffn_hidden)
        up_n = fw * (2 if model.gated_ffn else 1)
        dense_t = (_gemm_time(T * 2.0 * h * up_n / tp, T, h, up_n / tp, gemm_peak, eff, half, hbm)
                   + _gemm_time(T * 2.0 * fw * h / tp, T, fw / tp, h, gemm_peak, eff, half, hbm))
    # -- expert layers: Megatron-Core's MoE parallel folding. The EP x ETP group of the experts is a
    # sub-group of the TP x CP x DP chips of a stage; ETP (expert tensor parallelism) defaults to TP,
    # which needs EP to divide DP x CP. An EP beyond that folds into the TP ranks, and ETP must come
    # down so that EP x ETP still divides TP x CP x DP (Megatron-Bridge runs Qwen3-235B as TP2 EP32
    # on 16 DP ranks with ETP 1). One rule for both: ETP = gcd(TP, TP x CP x DP / EP), the largest
    # divisor of TP that fits. Each expert's weights are split over ETP chips, the experts over EP,
    # and the rest, TP x CP x DP / (EP x ETP), is the expert-data-parallel group. A user may set
    # ETP (`expert_tp`): then it is that in every layout, and infeasible where it does not fit.
    etp_int = _expert_tp(inp, L)
    etp = etp_int.astype(float)
    edp = np.maximum(tp * dp * cp / (ep * etp), 1.0)
    moe_t = 0.0
    if model.is_moe:
        fe = float(model.moe_ffn_hidden)
        # the stage's dp x cp x T x topk token copies spread over its tp x dp x cp chips: each chip
        # computes T x topk / tp of them, on E / ep experts whose width it holds 1 / etp of, so each
        # of its experts sees T x topk x ep x etp / (tp x E) tokens (ETP = TP: T x topk x ep / E).
        # Routing is never perfectly even; the busiest expert sets the pace (`train_moe_imbalance`)
        tok_expert = np.maximum(T * model.moe_topk * ep * etp / (tp * model.moe_experts), 1.0)
        routed = T * model.moe_topk * 2.0 * 3 * h * fe / tp
        moe_t = (_gemm_time(routed * 2 / 3, tok_expert, h, 2 * fe / etp, gemm_peak, eff, half, hbm)
                 + _gemm_time(routed / 3, tok_expert, fe / etp, h, gemm_peak, eff, half, hbm)) * f("train_moe_imbalance")
        if model.moe_shared_experts:
            sh = fe * model.moe_shared_experts
            moe_t = moe_t + _gemm_time(T * 2.0 * 3 * h * sh / tp, T, h, 3 * sh / tp, gemm_peak, eff, half, hbm)
    gemm_layer_fwd = attn_proj_t + dense_frac * dense_t + moe_frac * moe_t

    # -- attention core (s x s), forward, per chip; fused kernels run at 16-bit
    core_flops = T * fwd["attn_core_per_layer"] / tp
    if inp.flash_attention:
        path = 1.0 if inp.attention_kernel == "native" else f("train_attn_path_rel")
        attn_fwd = core_flops / (peak16 * path * f("train_attn_eff"))
        attn_bwd = 2.5 * attn_fwd                       # flash backward recomputes the scores
        score_fwd_passes = score_bwd_passes = 0.0
    else:
        # batched GEMMs over the full (not halved) matrix: their thin inner dimension (head_dim)
        # makes them write (QK^T) and read (PV) the s x s matrix about as fast as they compute it,
        # which the d/(d+half) shape factor carries. Beyond the GEMMs, the fused scale-mask-softmax
        # reads the scores and writes the probabilities (2 passes of the matrix at 2 bytes); its
        # backward reads P and dP and writes dS (3). Attention dropout (a separate kernel) reads
        # and writes the matrix and writes a 1-byte mask (2.5 passes) forward, and reads the
        # gradient and the mask and writes the gradient (2.5) backward.
        full_core = T * fwd_nc["attn_core_per_layer"] / tp
        attn_fwd = full_core / (peak16 * f("train_gemm_eff") * (d / (d + half)))
        attn_bwd = 2.0 * attn_fwd
        drop_passes = 2.5 if inp.dropout else 0.0
        score_fwd_passes, score_bwd_passes = 2.0 + drop_passes, 3.0 + drop_passes
    score_bytes = mb * (model.heads / tp) * s_keys * (s / cp) * act_bytes      # one pass over the matrix
    attn_layer_fwd = attn_fwd + score_fwd_passes * score_bytes / hbm
    attn_layer_bwd = attn_bwd + score_bwd_passes * score_bytes / hbm
    if inp.flash_attention:
        # A fused kernel is never slower than the unfused kernels it replaces (the full matrix as
        # batched GEMMs plus the softmax passes; no dropout). The flash efficiency is fitted on
        # H100, where the softmax's exponentials, not the tensor cores, limit it; the H20 inherits
        # it at a sixth of H100's matrix rate, and read 378 days for the 405B on 16,384 of them with
        # flash attention and 364 without (QA).
        full_core = T * fwd_nc["attn_core_per_layer"] / tp
        unfused = (3.0 * full_core / (peak16 * f("train_gemm_eff") * (d / (d + half)))
                   + 5.0 * score_bytes / hbm)
        scale = np.minimum(1.0, unfused / (attn_layer_fwd + attn_layer_bwd))
        attn_fwd, attn_bwd = attn_fwd * scale, attn_bwd * scale
        attn_layer_fwd, attn_layer_bwd = attn_layer_fwd * scale, attn_layer_bwd * scale

    # -- memory-bound elementwise work (norms, residuals, activation, rotary, MoE permute)
    act_elems = (3.0 if model.gated_ffn else 2.0) * model.ffn_hidden
    elems = 16.0 * h + 2.0 * (qd + kvd) + dense_frac * act_elems
    if model.is_moe:
        elems = elems + moe_frac * (model.moe_topk * (3.0 * model.moe_ffn_hidden + 4.0 * h)
                                    + 3.0 * model.moe_shared_experts * model.moe_ffn_hidden)
    if fp8:
        elems = elems + 4.0 * h                          # casts to and from fp8
    if inp.dropout:
        elems = elems + 6.0 * h                          # two dropout masks written and read
    elem_fwd = T * elems * act_bytes / tp / hbm
    if not inp.sequence_parallel:
        # without sequence parallelism the norm/residual/dropout part (~16h) is not split by TP
        elem_fwd = elem_fwd + T * 16.0 * h * act_bytes * (1.0 - 1.0 / tp) / hbm

    # -- per-layer totals for one micro-batch (forward + backward), with recompute
    layer_fwd = gemm_layer_fwd + attn_layer_fwd + elem_fwd
    # selective: Megatron's granularity re-runs the attention core (with flash attention too: TE
    # checkpoints the core), while the memory model below saves what op-level selective
    # checkpointing drops (torchtitan, DeepSeek-V3). Charging the element-wise ops instead, to match
    # it, moved in-sample 7.05 / 27.87 -> 7.13 / 28.10 and Hopper's leave-one-source-out p90
    # 25.5 -> 29.4 (torchtitan 31.3 -> 32.4): the rows ran Megatron's, so its cost stays.
    recompute_layer = np.where(rc == 2, layer_fwd, np.where(rc == 1, attn_layer_fwd, 0.0))
    overhead_layer = f("train_layer_overhead_us") * 1e-6
    layer_compute = 3.0 * gemm_layer_fwd + attn_layer_fwd + attn_layer_bwd + 3.0 * elem_fwd + recompute_layer

    # -- TP, per layer and micro-batch (engine/training_comm.py): 4 ring passes of (t-1)/t * b*s*h
    # for attention and 4 for a dense MLP or a MoE layer's shared experts (+2 each under full
    # recompute); a MoE layer's routed-expert tokens are gathered over ETP only where ETP > 1
    tp_layer = tp_comm_per_layer_s(
        topo, net, tp=tp, etp=etp, tokens=T, hidden=h, act_bytes=act_bytes, rc=rc, dense_frac=dense_frac,
        moe_frac=moe_frac, moe_topk=model.moe_topk, moe_shared_experts=model.moe_shared_experts,
        linear_hidden=f("train_tp_overlap_enabled") if inp.tp_comm_overlap else f("train_tp_overlap"),
        dispatch_hidden=f("train_tp_overlap"))

    # -- CP (ranks tp apart). Ring: K/V chunks go round the ring under the attention kernels
    # (forward K,V; backward K,V and their gradients). All-gather (Llama 3; TransformerEngine's
    # AttnFuncWithCPAndKVAllGather): K/V of the whole sequence gathered before attention, exposed;
    # only the local chunk is saved, so backward gathers them again and reduce-scatters dK/dV
    # (3 collectives, 4 with full recompute; the memory model keeps no gathered K/V either).
    # Both assume the causal load balance of 2*cp chunks (every rank gets an early and a late one).
    # K and V of the chunk; MLA passes its up-projected K (nope+rope) and V per head (its heads are
    # not hidden/heads wide)
    kv_width = (model.heads * (model.qk_nope_head_dim + model.qk_rope_head_dim + model.v_head_dim)
                if model.is_mla else 2.0 * kvd)
    kv_chunk = T * kv_width / np.minimum(tp, model.kv_heads) * act_bytes
    rc_full = np.where(rc == 2, 1.0, 0.0)
    if inp.cp_kind == "allgather":
        cp_layer = np.where(cp > 1, (3.0 + rc_full) * topo.all_gather_s(cp, tp, kv_chunk * cp, **net), 0.0)
        cp_layer_bwd = cp_layer * (2.0 + rc_full) / (3.0 + rc_full)   # the backward's gathers (+ recompute's)
        cp_hidden = 0.0   # (exposed, before attention: nothing of the compute is taken to hide them)
    else:
        # cp-1 hops per ring pass: forward K,V; backward K,V and dK,dV (2 chunks); full recompute
        # runs the forward ring again under the recomputed attention. What the attention kernels
        # of those passes cannot hide shows, plus one synchronisation per hop. Every rank waits for
        # its next chunk before the next attention block, so the ring steps at its slowest hop:
        # the NIC's once its cp ranks, tp apart, span more than one server.
        hop = topo.p2p_s(tp, kv_chunk, size=cp, up_eff=up_eff, out_eff=out_eff, latency_s=lat)
        # Each pass hides its ring under its own attention (forward K,V under the forward's;
        # backward K,V and dK,dV under the backward's; full recompute's forward ring under the
        # recomputed attention): one pass's excess does not hide under another's kernels
        ring = np.where(cp > 1, (cp - 1) * hop, 0.0)
        sync = np.where(cp > 1, (cp - 1) * lat, 0.0)
        fwd_shows = np.maximum(ring - attn_fwd, 0.0) + sync
        # the backward's share is part of its wall time, under which the gradients are reduced
        # (the DP window below)
        cp_layer_bwd = rc_full * fwd_shows + np.maximum(2.0 * ring - attn_bwd, 0.0) + sync
        cp_layer = fwd_shows + cp_layer_bwd
        # the attention time the ring's transfers take to hide under (no other transfer hides there)
        cp_hidden = (1.0 + rc_full) * np.minimum(ring, attn_fwd) + np.minimum(2.0 * ring, attn_bwd)

    # -- EP all-to-all per MoE layer: dispatch and combine, forward and backward (+ recompute).
    # Every token goes to top-k experts; with node-limited routing (DeepSeek: at most 4 nodes) a
    # token crosses the scale-out fabric once per node it reaches, and the copies for several
    # experts on one node travel on inside it. FP8 dispatch sends 1 byte per element.
    ep_layer = 0.0
    if model.is_moe:
        # the EP ranks of a folded expert group are ETP chips apart (ETP innermost, then EP):
        # CP and EP fold together and stay inside the scale-up domain where it holds them
        members = np.clip(np.floor(topo.domain / etp), 1.0, ep)
        tok = T / tp
        k = float(model.moe_topk)
        local_copies = k * (members - 1.0) / ep
        remote_copies = k * (ep - members) / ep
        domains = np.maximum(ep / members, 1.0)
        if inp.moe_route_nodes:
            # dispatched per node (DeepEP): one crossing per remote node reached, of at most the
            # nodes the expert group spans (QA s33: R = 4, 5, 6 on a 4-node group gave three answers,
            # and R = 8 counted 6 remote nodes of 3); a limit at or past them only dedups per node
            reached = np.minimum(float(inp.moe_route_nodes), domains)
            remote_copies = np.minimum(remote_copies, reached * (domains - 1.0) / domains)
            local_copies = k * (ep - 1.0) / ep - remote_copies  # forwarded on inside the node
        disp_bytes = 1.0 if (fp8 and inp.fp8_dispatch) else act_bytes
        per_elem = tok * h * np.maximum(local_copies, 0.0)
        t_up = per_elem / (topo.scaleup_group_gbps(members) * 1e9 * up_eff)
        t_out = tok * h * remote_copies / (topo.scaleout_gbps / topo.oversubscription * 1e9 * out_eff)
        t_one = np.maximum(t_up, t_out) + (ep - 1.0) * lat / 4.0          # per byte-per-element
        t_pass = t_one * (disp_bytes + act_bytes)                          # dispatch + combine
        n_pass = 2.0 + np.where(rc == 2, 1.0, 0.0)                         # fwd, bwd (+ recompute)
        t_ep = np.where(ep > 1, n_pass * t_pass, 0.0)
        if dualpipe:
            # DualPipe pairs a forward chunk with a backward chunk and hides the all-to-all of
            # one under the computation of the other: only what exceeds the compute shows, less
            # the attention the CP ring already hides under (counted for both, a faster attention
            # kernel exposed both: a Qwen3-235B CP16 layout read 31% slower with it, QA s36)
            ep_layer = moe_frac * np.maximum(t_ep - (layer_compute - cp_hidden), 0.0)
        else:
            ep_layer = moe_frac * t_ep * (1.0 - f("train_ep_overlap"))

    # -- logits + loss on the last stage (GEMM at 16-bit, fp32 softmax/CE memory-bound)
    V = float(model.vocab)
    logits_fwd = (_gemm_time(T * 2.0 * h * V / tp, T, h, V / tp, peak16, f("train_gemm_eff"), half, hbm)
                  + T * V / tp * 4.0 * 3.0 / hbm)

    # -- one micro-batch through the slowest stage (a middle one, or the last with the logits)
    per_layer = (layer_compute + overhead_layer * (1.0 + 0.5 * (rc == 2)) + tp_layer + cp_layer + ep_layer)
    pace_layers = np.where(pp > 1, np.maximum(layers_stage, layers_last + 3.0 * logits_fwd / per_layer), layers_stage)
    logits_on_pace = np.where(pp > 1, np.maximum(layers_last * per_layer + 3.0 * logits_fwd - layers_stage * per_layer, 0.0),
                              3.0 * logits_fwd)
    comp_gemm = layers_stage * (3.0 * gemm_layer_fwd) + np.where(pp > 1, 0.0, 2.0 * logits_fwd)
    comp_attn = layers_stage * (attn_layer_fwd + attn_layer_bwd)
    comp_mem = layers_stage * 3.0 * elem_fwd + np.where(pp > 1, 0.0, logits_fwd)
    comp_logits_extra = np.where(pp > 1, logits_on_pace, 0.0)
    comp_rc = layers_stage * recompute_layer
    comp_over = layers_stage * overhead_layer * (1.0 + 0.5 * (rc == 2))
    comm_tp = layers_stage * tp_layer
    comm_cp = layers_stage * cp_layer
    comm_ep = layers_stage * ep_layer
    # -- PP sends (stages tp*cp*dp apart), forward and backward every micro-batch and model chunk,
    # at the slowest stage's pace; `pp_overcharge`: what that pace overstates the bubble's fill by
    p2p = T * h * act_bytes / tp
    pp_pace, pp_overcharge = topo.pipeline_p2p_s(tp * cp * dp, pp, p2p, **net)
    comm_pp = np.where(pp > 1, vpp * pp_pace, 0.0)
    per_mb = (comp_gemm + comp_attn + comp_mem + comp_logits_extra + comp_rc + comp_over + comm_tp + comm_cp
              + comm_ep + comm_pp)
    del pace_layers

    # -- pipeline bubble of the schedule. A micro-batch's pass through a stage is F (forward), B
    # (backward for the inputs) and W (backward for the weights), one forward-equivalent each:
    # per_mb = F + B + W. 1F1B (pp-1)(F+B+W)/vpp; DualPipe (pp/2-1)(F&B+B-3W) (DeepSeek-V3
    # report, Table 2). Zero-bubble ZB-H1 (Qi et al. 2023, "Zero Bubble Pipeline Parallelism",
    # Sec. 2.1): W leaves the critical path and fills the cool-down, bubble (pp-1)(F+B-W) = 1/3 of
    # 1F1B's, when m >= pp micro-batches. With m < pp there are too few W passes to fill it. The
    # step then ends no earlier than the chain: micro-batch 1's F reaches the last stage ((pp-1)F),
    # that stage runs all m F and m B passes (m(F+B)), the last B walks back through pp-1 stages
    # ((pp-1)B) and the first stage runs the last W: (pp-1)(F+B) + m(F+B) + W, which ZB-H1's
    # order (B first, W deferred into the gaps of F between B arrivals) reaches. Less the m(F+B+W)
    # of work, the bubble is (pp-1)(F+B) - (min(m, pp)-1)W: (2pp-1-m)/3 x per_mb, and at m = pp
    # the paper's (pp-1)/3. One micro-batch on 8 stages: 17 F-sized steps, not the 10 of 1/3 of
    # 1F1B's bubble.
    if inp.schedule == "zero-bubble":
        bubble = (2.0 * (pp - 1.0) - (np.minimum(micro, pp) - 1.0)) / 3.0 * per_mb
    elif dualpipe:
        bubble = np.maximum(pp / 2.0 - 1.0, 0.0) * (2.0 / 3.0) * per_mb
    else:
        # interleaved 1F1B: the warm-up and cool-down run (pp - 1) model chunks, and a chunk is
        # whole layers: with layers per stage not a multiple of vpp the largest chunk,
        # ceil(layers/vpp) layers, sets the pace ((pp-1)/vpp x per_mb when vpp divides them).
        # Every stage boundary still costs its forward and backward p2p, each at its own rate.
        chunk_frac = np.ceil(layers_stage / vpp) / layers_stage
        bubble = (pp - 1.0) * (chunk_frac * (per_mb - comm_pp) + comm_pp / vpp) - pp_overcharge

    # -- parameters held per chip (the stage with the most layers; embedding/logits on ends)
    attn_p = float(model.attention_params_per_layer()) + 2.0 * h
    dense_ffn_p = float(model.dense_ffn_params_per_layer())
    expert_p = float(model.expert_params()) * model.moe_experts if model.is_moe else 0.0
    shared_p = float(model.expert_params()) * model.moe_shared_experts + h * model.moe_experts if model.is_moe else 0.0
    emb_p = float(model.vocab * model.hidden)
    layer_nonexpert_p = attn_p + dense_frac * dense_ffn_p + moe_frac * shared_p
    nonexpert_mid = layers_stage * layer_nonexpert_p / tp
    emb_end = emb_p * np.where(pp > 1, 1.0, 1.0 if model.tied_embeddings else 2.0) / tp
    nonexpert_first = layers_first * layer_nonexpert_p / tp + emb_end
    nonexpert_chip = np.maximum(nonexpert_mid, nonexpert_first)          # for traffic: the fullest
    expert_chip = layers_stage * moe_frac * expert_p / (ep * etp)

    # -- data-parallel gradient sync / ZeRO traffic (DP group ranks tp*cp apart; expert weights
    # are replicated only over the expert-data-parallel group `edp`, ep x etp apart). ZeRO-0/1: one
    # all-reduce (or reduce-scatter + all-gather) per step. ZeRO-2 reduce-scatters the gradients
    # every micro-batch; ZeRO-3 also all-gathers the parameters in forward and in backward.
    gbytes = inp.grad_reduce_bytes
    dp_group = dp * cp

    def dp_time(n, stride, p):
        # ring passes of (n-1)/n of the buffer (an all-reduce is a reduce-scatter + all-gather);
        # one bandwidth lookup per group, the passes in closed form
        bw, _ = topo.group_bandwidth(n, stride, up_eff=up_eff, out_eff=out_eff)
        one = np.where(n > 1, (n - 1.0) / n / bw, 0.0)
        # a ring pass costs one hop latency per rank (n-1 steps), once per collective. Gradients
        # travel in buckets that grow with the group to amortise those hops (Megatron-LM's DDP:
        # max(40M, 1M x dp) elements per bucket), so the hops per step stay ~ constant in n;
        # ZeRO-3 gathers each layer's weights on use (one flat buffer per layer, forward and
        # backward, as FSDP) -- at thousands of ranks those hops add up
        hop = np.where(n > 1, (n - 1.0) * lat, 0.0)
        buckets = np.ceil(p / np.maximum(40e6, 1e6 * n))
        rs = one * (p * gbytes) + hop * buckets
        ag = one * (p * 2.0) + hop * buckets
        ag_layers = one * (p * 2.0) + hop * layers_stage
        grads = np.where(zero == 0, 2.0 * rs, np.where(zero == 1, rs, micro * rs))
        # ZeRO-3 gathers each layer's weights for its forward and again for its backward; with
        # full recompute the recomputed forward needs them a third time (the gathered copy is
        # freed after the forward: DeepSpeed ZeRO-3 and FSDP reshard after forward by default)
        gathers = 2.0 + np.where(rc == 2, 1.0, 0.0)
        params = np.where(zero == 0, 0.0, np.where(zero <= 2, ag, micro * gathers * ag_layers))
        return grads, params

    g_ne, p_ne = dp_time(dp_group, tp, nonexpert_chip)
    g_ex, p_ex = dp_time(edp, ep * etp, expert_chip)
    grad_comm, param_comm = g_ne + g_ex, p_ne + p_ex
    dp_comm = grad_comm + param_comm
    # the backward's wall time, its exposed context-parallel traffic included: a faster attention
    # kernel that leaves more of the ring exposed moved that time out of the window and the
    # gradients with it (QA s36: the FA3-class kernel read 2.6% slower on CP layouts)
    # (its exposed EP all-to-all too: the backward's and full recompute's passes of the 2 or 3; under
    # DualPipe all of it, each exposed transfer sitting in a forward-and-backward chunk pair)
    ep_bwd_share = 1.0 if dualpipe else (1.0 + rc_full) / (2.0 + rc_full)
    bwd_mb = layers_stage * (2.0 * gemm_layer_fwd + attn_layer_bwd + 2.0 * elem_fwd + recompute_layer
                             + cp_layer_bwd + ep_layer * ep_bwd_share)
    # per-micro-batch traffic (ZeRO-2/3) runs under every micro-batch's compute; once-per-step
    # traffic only under the last backward. Gradients hide only when they are bucketed and
    # reduced during backward (`grad_overlap`); ZeRO-3's parameter gathers are prefetched
    # either way (they do not wait for gradients)
    window = np.where(zero >= 2, micro * per_mb, bwd_mb)
    # ZeRO-1 and ZeRO-2 gather the updated parameters once per step, after the optimizer: that
    # gather overlaps the next step's forward only where the framework overlaps the data-parallel
    # traffic at all (Megatron's --overlap-param-gather rides on --overlap-grad-reduce), so without
    # grad overlap it is exposed in both (with one micro-batch ZeRO-2 moves exactly ZeRO-1's bytes,
    # and hid its gather as if prefetched). ZeRO-3's per-layer gathers are prefetched either way.
    hideable = np.where(zero >= 3, param_comm, 0.0) + (grad_comm + np.where(zero >= 3, 0.0, param_comm)
                                                       if inp.grad_overlap else 0.0)
    dp_exposed = dp_comm - f("train_dp_overlap") * np.minimum(hideable, window)

    # -- optimizer step: mixed-precision Adam streams ~30 bytes per locally owned parameter
    inv_ne = {st: 1.0 / np.where(zero >= st, dp_group, 1.0) for st in (1, 2, 3)}
    expert_sh = {st: expert_chip / np.where(zero >= st, edp, 1.0) for st in (1, 2, 3)} if model.is_moe \
        else {st: 0.0 for st in (1, 2, 3)}

    def sharded(stage, nbytes, nonexpert=nonexpert_chip):
        return (nonexpert * inv_ne[stage] + expert_sh[stage]) * nbytes

    opt = sharded(1, 30.0) / hbm + f("train_step_overhead_s")

    comp_total = micro * per_mb
    step = comp_total + bubble + dp_exposed + opt

    tokens_step = gb * s
    n_chips = tp * pp * dp * cp
    tok_chip = tokens_step / step / n_chips
    model_flops_tok = training_flops_per_token(model, inp.seq)
    mfu = tok_chip * model_flops_tok / peak16 * 100.0
    hw_extra = np.where(rc == 2, model_flops_tok / 3.0,
                        np.where(rc == 1, (fwd["dense_layers"] + fwd["moe_layers"]) * fwd["attn_core_per_layer"], 0.0))
    hfu = tok_chip * (model_flops_tok + hw_extra) / peak16 * 100.0

    # -- memory per chip (bytes), on the first stage (most micro-batches in flight, embedding)
    # and on the last (logits); the larger is the peak
    copies = 2.0 if dualpipe else 1.0          # DualPipe keeps both directions' stage weights
    nonexpert_last = layers_last * layer_nonexpert_p / tp + emb_end

    # ZeRO shards over the data-parallel group (dp x cp). With a group of one there is nothing to
    # shard over: PyTorch FSDP switches FULL_SHARD to NO_SHARD at world size 1, and DeepSpeed's
    # ZeRO-3 16-bit partition is then the whole copy. Such a ZeRO-3 layout holds and runs as ZeRO-0
    # (it once dropped the 16-bit copy, ~1.8 GiB of Llama 3 8B at TP8, as if sharded over itself).
    sharding = (zero >= 3) & (dp_group > 1)

    def static(nonexpert):
        # mixed-precision Adam: 16-bit weights (2 bytes), gradients (`gbytes`), fp32 master weights
        # and two moments (12). Fully sharded (ZeRO-3/FSDP) keeps no persistent 16-bit copy: the
        # fp32 shard is the weight and 16-bit layers are gathered on use (the `buffers` term).
        w = np.where(sharding, 0.0, copies * sharded(3, 2.0, nonexpert))
        return (w, copies * sharded(2, gbytes, nonexpert), copies * sharded(1, 12.0, nonexpert))

    w_first, g_first, o_first = static(nonexpert_first)
    w_last, g_last, o_last = static(nonexpert_last)
    w_mid, g_mid, o_mid = static(nonexpert_mid)
    # activations per layer per micro-batch (Korthikanti et al. 2022, generalised to GQA/gated)
    drop = 1.0 if inp.dropout else 0.0
    attn_a = 2 * h + 4 * qd + 4 * kvd + drop * h
    mla_sel_saving = 0.0
    if model.is_mla:
        # MLA heads are not hidden/heads wide: attention keeps Q and K of nope+rope per head and V
        # and O of v_head_dim (2 bytes each), and the up-projections keep their latent inputs
        # (c_q, c_kv + rope key) for their weight gradients. Recomputing the up-projections from
        # the latents in backward (DeepSeek-V3; "selective" with flash attention) drops Q, K, V.
        qk_dim = model.qk_nope_head_dim + model.qk_rope_head_dim
        attn_a = (2 * h + 4 * model.heads * (qk_dim + model.v_head_dim)
                  + 2 * (model.q_lora_rank + model.kv_lora_rank + model.qk_rope_head_dim) + drop * h)
        mla_sel_saving = 2.0 * model.heads * (2 * qk_dim + model.v_head_dim)
    ffn_w = model.ffn_hidden if model.dense_layers else 0
    mlp_dense = 2 * h + (6.0 if model.gated_ffn else 4.0) * ffn_w + drop * h
    mlp_moe = 0.0
    if model.is_moe:
        mlp_moe = 2 * h + model.moe_topk * (2 * h + 6.0 * model.moe_ffn_hidden) + 6.0 * model.moe_shared_experts * model.moe_ffn_hidden
    per_tok_layer = attn_a + 4 * h + dense_frac * mlp_dense + moe_frac * mlp_moe
    if fp8:
        # FP8 GEMMs save their inputs (QKV, output projection, FFN up and down) in one byte; the
        # output projection's input is heads x v_head_dim under MLA (16,384 for DeepSeek-V3, where
        # hidden / heads x heads is 7,168)
        o_proj_in = model.heads * model.v_head_dim if model.is_mla else qd
        fp8_saved = h + o_proj_in + h + dense_frac * ffn_w
        if model.is_moe:
            fp8_saved = fp8_saved + moe_frac * (model.moe_topk * (h + model.moe_ffn_hidden))
        per_tok_layer = per_tok_layer - fp8_saved
    # Korthikanti et al. 2022: without sequence parallelism 10sbh of the 34sbh stay whole
    replicated = 0.0 if inp.sequence_parallel else (10.0 - (0.0 if inp.dropout else 2.0)) * h * (tp - 1.0)
    per_tok_layer = per_tok_layer + replicated
    # selective recompute without flash attention is Megatron's attention-core recompute
    # (Korthikanti et al. 2022: the s x s scores). With flash attention the scores are never
    # stored, so a run that still says "selective" recomputes the cheap element-wise ops instead
    # (torchtitan op-level SAC; DeepSeek-V3: RMSNorms, MLA up-projections, SwiGLU): the norm
    # inputs (~4h) and the activation-function outputs are not kept
    sel_saving = ((4.0 * h + 2.0 * (dense_frac * ffn_w + moe_frac * model.moe_topk * model.moe_ffn_hidden)
                   + mla_sel_saving) if inp.flash_attention else 0.0)
    scores = 0.0 if inp.flash_attention else (5.0 if inp.dropout else 2.0) * model.heads * s_keys / cp
    full_layer = T * (per_tok_layer + scores) / tp                 # bytes per token-element are in coefficients
    sel_layer = T * np.maximum(per_tok_layer - sel_saving, 2.0 * h) / tp
    # full recompute keeps each layer's input (2 bytes x h per token); without sequence parallelism
    # every tensor-parallel rank holds it whole (Korthikanti et al. 2022, Table 2: 2sbh; Megatron's
    # --distribute-saved-activations, which splits it, is not the default)
    ckpt_layer = T * 2.0 * h / (tp if inp.sequence_parallel else 1.0)
    act_layer = np.where(rc == 0, full_layer, np.where(rc == 1, sel_layer, ckpt_layer))
    if dualpipe:
        inflight = np.minimum(pp + 1.0, micro)
    else:
        # 1F1B: pp micro-batches. Interleaved: Megatron's warm-up of 2(pp - 1) + (vpp - 1) pp chunks
        # and one more, pp + (pp - 1) / vpp micro-batches (Korthikanti et al. 2022), and never more
        # than the step's micro-batches (with micro x vpp chunks in all, every forward runs first)
        inflight = np.where(vpp > 1, np.minimum(pp + (pp - 1.0) / vpp, micro), np.minimum(pp, micro))
    a_first = act_layer * layers_first * inflight
    a_first = np.where(rc == 2, a_first + full_layer, a_first)    # one layer recomputed at a time
    a_last = act_layer * layers_last * np.where(pp > 1, 1.0, inflight)
    a_last = np.where(rc == 2, a_last + full_layer, a_last)
    # The second stage: the fullest layer count (layers that do not divide come off the end
    # stages) with fewer micro-batches in flight than the first. Sized at the ends alone, Llama 3
    # 70B TP1 PP32 on 910B "fit" in 31.5 GiB on 1-layer end stages while its 3-layer second stage
    # needs about 69 GiB of 64. 1F1B: pp - 1 micro-batches. Interleaved: Megatron warms rank 1 up
    # with 2(pp - 2) + (vpp - 1) pp chunks, so it holds that + 1 chunks of 1/vpp stage each,
    # pp + (pp - 3) / vpp micro-batches: 2/vpp fewer than the first stage, not a whole one (the
    # whole one left 405B TP2 PP32 VPP4 CP8 on H800 at 79.6 of 80 GiB, where it needs 80.6).
    if dualpipe:
        inflight_mid = inflight
    else:
        inflight_mid = np.where(vpp > 1, np.minimum(pp + (pp - 3.0) / vpp, micro), np.minimum(pp - 1.0, micro))
    a_mid = act_layer * layers_stage * np.maximum(inflight_mid, 1.0)
    a_mid = np.where(rc == 2, a_mid + full_layer, a_mid)
    mid_total = np.where(pp > 2, w_mid + g_mid + o_mid + a_mid, 0.0)
    # logits: 16-bit logits kept for backward + the fp32 log-softmax of the loss (its gradient
    # reuses that buffer in fused cross-entropy kernels)
    l_mem = T * V / tp * 4.0
    last_total = w_last + g_last + o_last + a_last + l_mem
    first_total = w_first + g_first + o_first + a_first + np.where(pp > 1, 0.0, l_mem)
    on_last = (last_total > first_total) & (last_total >= mid_total)
    on_mid = (mid_total > first_total) & (mid_total > last_total)
    w_mem = np.where(on_mid, w_mid, np.where(on_last, w_last, w_first))
    g_mem = np.where(on_mid, g_mid, np.where(on_last, g_last, g_first))
    o_mem = np.where(on_mid, o_mid, np.where(on_last, o_last, o_first))
    a_mem = np.where(on_mid, a_mid, np.where(on_last, a_last, a_first))
    l_mem = np.where((on_last & ~on_mid) | (pp == 1), l_mem, 0.0)
    # ZeRO-3/FSDP working set beyond the shards, at its peak in backward: the gathered 16-bit
    # weights of the layer being computed and of the next one, prefetched under it, plus the
    # layer's whole gradient at the reduce dtype (`gbytes`) until its reduce-scatter frees it.
    # PyTorch FSDP's BackwardPrefetch.BACKWARD_PRE (its default): "at the peak, it holds
    # the current set of parameters, next set of parameters, and current set of gradients"; the
    # gradient is reduce-scattered at the reduce dtype (MixedPrecision.reduce_dtype). The unit is
    # a layer up to ZERO3_UNIT_MAX_PARAMS per chip: a larger layer ran gathered a module at a time
    # (GPT 529.6B at TP1 has 5.0B parameters a layer, 37.5 GiB of working set whole, and ran ZeRO-3
    # on 640 A100 80GB; Narayanan et al. 2021, Table 2)
    layer_p_chip = ((attn_p + dense_frac * dense_ffn_p + moe_frac * shared_p) / tp
                    + moe_frac * expert_p / (ep * etp))
    unit_p = np.minimum(layer_p_chip, ZERO3_UNIT_MAX_PARAMS)
    gather = np.where(sharding, (2.0 * 2.0 + gbytes) * unit_p, 0.0)
    buffers = gather
    allocated = np.maximum(np.maximum(first_total, last_total), mid_total) + buffers
    # one documented term for what the framework and allocator hold beyond the tensors: a fixed
    # runtime reserve (CUDA/CANN context, communicator buffers) plus fragmentation in proportion
    reserve = f("train_mem_reserve_gb") * GIB + f("train_mem_frag") * allocated
    mem_total = allocated + reserve
    capacity = chip.hbm_bytes

    # -- validity
    reason = np.zeros(tp.shape, dtype=np.int8)

    def mark(cond, name):
        nonlocal reason
        reason = np.where((reason == 0) & cond, REASON_INDEX[name], reason).astype(np.int8)

    mark(n_chips != inp.num_chips, "layout does not match the chip count")
    mark((model.heads % L["tp"] != 0) | ((L["tp"] > model.kv_heads) & (L["tp"] % model.kv_heads != 0))
         | ((L["tp"] <= model.kv_heads) & (model.kv_heads % L["tp"] != 0)), "tp does not divide heads")
    mark(pp > n_layers, "pp exceeds layers")
    mark((vpp > 1) & ~interleaving_fits(n_layers, pp, vpp), "vpp needs pp > 1 and enough layers")
    mark(L["gb"] % (L["dp"] * L["mb"]) != 0, "global batch not divisible by dp x micro-batch")
    # Megatron's interleaved schedule runs its micro-batches in groups of pp (a rule of its own:
    # 64 sequences on dp 8 divide, and their 8 micro-batches still do not fill pp 16)
    mark((vpp > 1) & (np.mod(micro, pp) != 0), INTERLEAVE_REASON)
    mark((inp.seq % (2 * L["cp"]) != 0) & (L["cp"] > 1), "cp does not divide sequence")
    if model.is_moe:
        mark((model.moe_experts % L["ep"] != 0) | ((L["dp"] * L["cp"] * L["tp"]) % L["ep"] != 0),
             "ep does not divide experts or tp x dp x cp")
        if inp.expert_tp:   # the derived ETP always fits
            mark((L["tp"] % etp_int != 0) | ((L["dp"] * L["cp"] * L["tp"]) % (L["ep"] * etp_int) != 0),
                 "expert tp must divide tp, and ep x expert tp divide tp x dp x cp")
    else:
        mark(L["ep"] != 1, "ep does not divide experts or tp x dp x cp")
    if fp8_asked and not peak_fp8:
        mark(np.ones(tp.shape, dtype=bool), "fp8 not supported by chip")
    if inp.schedule != "1f1b":
        mark((vpp > 1) | ((pp % 2 != 0) & dualpipe) | ((micro < 2 * pp) & dualpipe & (pp > 1)),
             "schedule needs vpp 1 (DualPipe also: even pp, 2 x pp micro-batches)")
    mark(mem_total > capacity, "out of memory")

    return {
        "step_time_s": step,
        "tokens_per_s_per_chip": tok_chip,
        "mfu_pct": mfu,
        "hfu_pct": hfu,
        "model_tflops_per_chip": tok_chip * model_flops_tok / 1e12,
        "micro_batches": micro,
        "breakdown": {
            "gemm": micro * (comp_gemm + comp_logits_extra),
            "attention": micro * comp_attn,
            "memory_bound": micro * comp_mem,
            "recompute": micro * comp_rc,
            "overhead": micro * comp_over + f("train_step_overhead_s"),
            "tp_comm": micro * comm_tp,
            "cp_comm": micro * comm_cp,
            "ep_comm": micro * comm_ep,
            "pp_comm": micro * comm_pp,
            "bubble": bubble,
            "dp_comm": dp_exposed,
            "optimizer": opt - f("train_step_overhead_s"),
        },
        "memory": {
            "weights": w_mem, "gradients": g_mem, "optimizer": o_mem, "activations": a_mem,
            "logits": l_mem, "buffers": buffers, "reserve": reserve,
        },
        "memory_total": mem_total,
        "capacity": capacity,
        "reason": reason,
        "dp_comm_total": dp_comm,
        "expert_tp": etp_int,
    }


# ---- single layout ------------------------------------------------------------------------

def _arrays_of(layouts: list[dict]) -> dict:
    keys = ("tp", "pp", "vpp", "dp", "cp", "ep", "mb", "zero", "rc", "gb")
    return {k: np.array([lay[k] for lay in layouts], dtype=np.int64) for k in keys}


def default_layout(inp: TrainingInputs) -> dict:
    """The given layout fields, with plain defaults for the missing ones."""
    tp = inp.tp or 1
    pp = inp.pp or 1
    cp = inp.cp or 1
    dp = inp.dp or max(1, inp.num_chips // (tp * pp * cp))
    rc = RECOMPUTE_NAMES.index(inp.recompute) if inp.recompute else 1
    return {
        "tp": tp, "pp": pp, "vpp": inp.vpp or 1, "dp": dp, "cp": cp, "ep": inp.ep or 1,
        "mb": inp.micro_batch or 1, "zero": 1 if inp.zero_stage is None else inp.zero_stage,
        "rc": rc, "gb": int(_layout_batch(inp, dp, inp.micro_batch or 1, pp, inp.vpp or 1)),
    }


def _layout_public(lay: dict, expert_tp: int | None = None) -> dict:
    """The layout in the JSON's names; `expert_tp` (MoE models: the ETP used, set or derived) last."""
    out = {
        "tp": int(lay["tp"]), "pp": int(lay["pp"]), "vpp": int(lay["vpp"]), "dp": int(lay["dp"]),
        "cp": int(lay["cp"]), "ep": int(lay["ep"]), "zero_stage": int(lay["zero"]),
        "micro_batch": int(lay["mb"]), "global_batch_seqs": int(lay["gb"]),
        "recompute": RECOMPUTE_NAMES[int(lay["rc"])],
    }
    if expert_tp is not None:
        out["expert_tp"] = int(expert_tp)
    return out


def expert_tp_note(inp: TrainingInputs, lay: dict, etp: int) -> str:
    """The ETP a MoE layout runs, set or derived, and its expert-data-parallel group, in words."""
    how = "set" if inp.expert_tp else "derived: gcd(TP, TP x CP x DP / EP)"
    stage, group = int(lay["tp"]) * int(lay["dp"]) * int(lay["cp"]), int(lay["ep"]) * etp
    edp = f", expert data parallel {stage // group}" if stage % group == 0 else ""   # (none where it does not fit)
    return f"expert tensor parallel ETP {etp} ({how}){edp}"


def _result_at(inp: TrainingInputs, out: dict, L: dict, i: int) -> LayoutResult:
    lay = {k: int(v[i]) for k, v in L.items()}
    breakdown = {k: float(v[i]) if np.ndim(v) else float(v) for k, v in out["breakdown"].items()}
    memory = {k: float(v[i] if np.ndim(v) else v) / GIB for k, v in out["memory"].items()}
    step = float(out["step_time_s"][i])
    reason_code = int(out["reason"][i])
    comm = {k: breakdown[k] for k in ("tp_comm", "cp_comm", "ep_comm", "pp_comm", "dp_comm")}
    compute = breakdown["gemm"] + breakdown["attention"] + breakdown["memory_bound"] + breakdown["recompute"]
    parts = {"compute": compute, "bubble": breakdown["bubble"], "overhead": breakdown["overhead"],
             **comm, "optimizer": breakdown["optimizer"]}
    limiting = max(parts, key=lambda k: parts[k])
    notes = []
    if breakdown["bubble"] > 0.05 * step:
        notes.append(f"pipeline bubble costs {breakdown['bubble'] / step:.0%} of the step (pp={lay['pp']}, "
                     f"{out['micro_batches'][i]:.0f} micro-batch{'' if round(out['micro_batches'][i]) == 1 else 'es'}, "
                     f"vpp={lay['vpp']})")
    for k, v in comm.items():
        if v > 0.05 * step:
            notes.append(f"exposed {k.replace('_comm', '').upper()} communication takes {v / step:.0%} of the step")
    if breakdown["recompute"] > 0.05 * step:
        # its share of the step, as the other notes say theirs: "adds 22%" read as 22% more time,
        # where 19.3 s of an 89.3 s step is 28% more than the rest (and full recompute also repeats
        # TP traffic and launches, not in this term)
        notes.append(f"activation recompute ({RECOMPUTE_NAMES[lay['rc']]}) takes {breakdown['recompute'] / step:.0%} "
                     "of the step")
    from engine.calibration import uncalibrated_note

    uncalibrated = uncalibrated_note(inp.chip)
    if uncalibrated:
        notes.append(uncalibrated)
    # the assumed figures of the tiers that carry this run's traffic
    topo = topology_of(inp.chip, domain=inp.scaleup_domain)
    net_note = assumed_network_note(inp.chip, scaleup=inp.num_chips > 1, scaleout=inp.num_chips > topo.server,
                                    host=inp.num_chips > topo.domain)
    if net_note:
        notes.append(net_note)
    if inp.dtype == "fp8" and inp.chip.peak_tflops("fp8") and not fp8_pays(inp):
        rel = np.asarray(inp.factor("train_fp8_gemm_rel")).reshape(-1)[0]
        notes.append(f"FP8 brings no speed on {inp.chip.name}: its FP8 rate ({inp.chip.peak_tflops('fp8'):g} TFLOP/s) "
                     f"at FP8's {rel:g} GEMM efficiency is below its BF16 rate ({inp.chip.peak_tflops('bf16'):g}), "
                     "so the run is counted as BF16 (no FP8 activation or dispatch savings either)")
    etp = int(out["expert_tp"][i]) if inp.model.is_moe else None
    if etp is not None:
        notes.append(expert_tp_note(inp, lay, etp))
    if reason_code:
        notes.append(f"infeasible: {REASONS[reason_code]}")
    return LayoutResult(
        layout=_layout_public(lay, etp),
        feasible=reason_code == 0,
        reason=REASONS[reason_code],
        step_time_s=step,
        tokens_per_s_per_chip=float(out["tokens_per_s_per_chip"][i]),
        mfu_pct=float(out["mfu_pct"][i]),
        hfu_pct=float(out["hfu_pct"][i]),
        model_tflops_per_chip=float(out["model_tflops_per_chip"][i]),
        memory_gib_per_chip=float(out["memory_total"][i]) / GIB,
        memory_capacity_gib=float(out["capacity"]) / GIB,
        memory_breakdown_gib=memory,
        breakdown_s=breakdown,
        limiting=limiting,
        explanations=tuple(notes),
    )


# No fleet is larger; beyond it a chip count is a typo (and would only slow the search down).
MAX_CHIPS = 10_000_000
EXPERT_TP_MAX = 64   # ETP divides TP, whose range (engine.layout) ends at 64


def _check_inputs(inp: TrainingInputs) -> None:
    problems = inp.model.validate()
    if problems:
        raise UserError(f"model {inp.model.id}: " + "; ".join(problems))
    if not 0 < inp.num_chips <= MAX_CHIPS:
        raise UserError(f"num_chips: {inp.num_chips} (must be 1 to {MAX_CHIPS:,})")
    if inp.seq_len is not None and not 0 < inp.seq_len <= 10_000_000:
        raise UserError(f"--seq-len: {inp.seq_len} (must be 1 to 10,000,000 tokens)")
    if inp.global_batch_seqs is not None and not 0 < inp.global_batch_seqs <= 100_000_000:
        raise UserError(f"global_batch_seqs: {inp.global_batch_seqs} (must be 1 to 100,000,000)")
    if not inp.chip.peak_tflops("bf16"):
        raise UserError(f"chip {inp.chip.id}: no 16-bit peak in the catalog")
    if not inp.chip.hbm_gb or not inp.chip.hbm_gbps:
        # without them every layout read "out of memory" (0 GiB per chip), not what is missing
        raise UserError(f"chip {inp.chip.id}: hbm_gb and hbm_gbps are needed for training; fill them in the "
                        "chip catalog")
    if inp.dtype not in ("bf16", "fp16", "fp8"):
        raise UserError(f"dtype: {inp.dtype!r} (bf16, fp16 or fp8)")
    from engine.layout import DIMENSION

    for key in ("tp", "pp", "cp", "ep", "vpp", "micro_batch"):  # the ranges the GUI and CLI offer
        problem = DIMENSION[key].check(getattr(inp, key))
        if problem:
            raise UserError(problem.replace(DIMENSION[key].flag, key, 1))
    if inp.recompute is not None and inp.recompute not in RECOMPUTE_NAMES:
        raise UserError(f"recompute: {inp.recompute!r} (none, selective or full)")
    if inp.schedule not in SCHEDULES:
        raise UserError(f"schedule: {inp.schedule!r} ({', '.join(SCHEDULES)})")
    if inp.cp_kind not in CP_KINDS:
        raise UserError(f"cp_kind: {inp.cp_kind!r} ({', '.join(CP_KINDS)})")
    if inp.attention_kernel not in ATTENTION_KERNELS:
        raise UserError(f"attention_kernel: {inp.attention_kernel!r} ({', '.join(ATTENTION_KERNELS)})")
    etp = inp.expert_tp
    if etp is not None and (isinstance(etp, bool) or not isinstance(etp, int) or not 1 <= etp <= EXPERT_TP_MAX):
        raise UserError(f"expert_tp: {etp!r} (must be a whole number from 1 to {EXPERT_TP_MAX} ways, or None: "
                        "derived)")


def evaluate_layout(inputs: TrainingInputs) -> LayoutResult:
    """Figures for one layout (missing layout fields take plain defaults)."""
    _check_inputs(inputs)
    L = _arrays_of([default_layout(inputs)])
    out = _evaluate_arrays(inputs, L)
    return _result_at(inputs, out, L, 0)


def evaluate_factor_sets(inputs: TrainingInputs, factor_sets: Mapping[str, np.ndarray]) -> dict:
    """The arrays of `_evaluate_arrays` for one complete layout under k sets of factors at once
    (each value in `factor_sets` an array of k): the calibration fit's Jacobian in one call."""
    k = len(next(iter(factor_sets.values())))
    L = {name: np.repeat(v, k) for name, v in _arrays_of([default_layout(inputs)]).items()}
    # factor values may be arrays here: one column per factor set, broadcast by _evaluate_arrays
    merged: dict[str, Any] = {**dict(inputs.factors), **{n: np.asarray(v, dtype=float) for n, v in factor_sets.items()}}
    from dataclasses import replace as _replace

    return _evaluate_arrays(_replace(inputs, factors=merged), L)


def evaluate_layouts(inputs: TrainingInputs, layouts: list[dict]) -> list[LayoutResult]:
    """Several explicit layouts (keys tp, pp, vpp, dp, cp, ep, mb, zero, rc, gb) at once."""
    _check_inputs(inputs)
    L = _arrays_of(layouts)
    out = _evaluate_arrays(inputs, L)
    return [_result_at(inputs, out, L, i) for i in range(len(layouts))]


# ---- search -------------------------------------------------------------------------------

def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def _layout_batch(inp: TrainingInputs, dp, mb, pp=1, vpp=1):
    """The global batch of each layout: the given one, or the default rounded to the nearest
    multiple of dp x micro-batch (a run on 7,968 chips does not use a power-of-two batch), and of
    pp micro-batches per rank when the schedule is interleaved (Megatron's rule, checked below)."""
    if inp.global_batch_seqs:
        return np.full(np.shape(dp), int(inp.global_batch_seqs), dtype=np.int64)
    interleaved_pp = np.where(np.asarray(vpp) > 1, np.asarray(pp, dtype=np.int64), 1)
    unit = np.asarray(dp, dtype=np.int64) * np.asarray(mb, dtype=np.int64) * interleaved_pp
    target = inp.batch_seqs()
    if inp.dp:
        # A layout the case gives really ran, so its batch held at least one micro-batch per
        # data-parallel rank (and pp of them interleaved): the default never falls below that.
        target = max(target, inp.dp * (inp.micro_batch or 1)
                     * (inp.pp if (inp.vpp or 1) > 1 and inp.pp else 1))
    rounded = np.maximum(np.round(target / unit), 1).astype(np.int64) * unit
    # Rounding must not blow the batch up: DP30000 on a 4,096-sequence default once became a
    # 30,000-sequence (246M-token) batch. Beyond MAX_BATCH_GROWTH x the default the layout keeps
    # the default batch, which dp x micro-batch does not divide: it is reported infeasible.
    return np.where(rounded <= MAX_BATCH_GROWTH * target, rounded, target).astype(np.int64)


MAX_BATCH_GROWTH = 1.5  # how far rounding to dp x micro-batch may raise the default global batch


def default_batch_tokens(inp: TrainingInputs) -> int:
    """Tokens in the default global batch (what "auto" means for these inputs)."""
    return inp.batch_seqs() * inp.seq


def candidate_arrays(inp: TrainingInputs) -> dict:
    """Every layout of the search space for `inp` (fields given in `inp` are fixed)."""
    model = inp.model
    n = inp.num_chips
    pow2 = [1, 2, 4, 8, 16, 32, 64]
    tps = [inp.tp] if inp.tp else [t for t in pow2 if n % t == 0]
    pps = [inp.pp] if inp.pp else [p for p in _divisors(n) if p <= min(model.layers, 128)]
    cps = [inp.cp] if inp.cp else [c for c in (1, 2, 4, 8, 16) if n % c == 0]
    vpps = [inp.vpp] if inp.vpp else [1, 2, 3, 4, 5, 6, 7, 8]
    mbs = [inp.micro_batch] if inp.micro_batch else [1, 2, 4, 8, 16]
    rcs = [RECOMPUTE_NAMES.index(inp.recompute)] if inp.recompute else [0, 1, 2]
    zeros = [inp.zero_stage] if inp.zero_stage is not None else [0, 1, 2, 3]
    if model.is_moe:
        eps = [inp.ep] if inp.ep else [e for e in _divisors(model.moe_experts) if e <= min(n, 256)]
    else:
        eps = [inp.ep or 1]
    grids = np.meshgrid(np.array(tps), np.array(pps), np.array(cps), np.array(vpps), np.array(mbs),
                        np.array(rcs), np.array(zeros), np.array(eps), indexing="ij")
    tp, pp, cp, vpp, mb, rc, zero, ep = (g.ravel().astype(np.int64) for g in grids)
    denom = tp * pp * cp
    keep = n % denom == 0
    if inp.dp:
        keep &= denom * inp.dp == n
    if not inp.vpp:
        # Interleaving is searched only where it means something: pp > 1 and at least one layer
        # per virtual stage on every stage. The combinations that cannot exist are not layouts, and
        # counting them as rejected by "vpp" hid what really stops a tp x pp cell (memory, the batch).
        keep &= (vpp == 1) | interleaving_fits(model.layers, pp, vpp)
        if inp.schedule != "1f1b":   # zero-bubble and DualPipe run whole stages (vpp 1)
            keep &= vpp == 1
    if inp.zero_stage is None:
        # ZeRO shards over the dp x cp group: with a group of one, stages 1 and 2 run exactly as 0
        # (the same time and memory), and were listed as four layouts with one set of figures.
        # Stage 3 stays in the count (it too runs as 0 there: _top_indices lists one of the twins).
        keep &= ~((tp * pp == n) & (cp == 1) & ((zero == 1) | (zero == 2)))
    tp, pp, cp, vpp, mb, rc, zero, ep = (a[keep] for a in (tp, pp, cp, vpp, mb, rc, zero, ep))
    dp = n // (tp * pp * cp)
    gb = _layout_batch(inp, dp, mb, pp, vpp)
    return {"tp": tp, "pp": pp, "vpp": vpp, "dp": dp, "cp": cp, "ep": ep, "mb": mb, "zero": zero,
            "rc": rc, "gb": gb}


# the fields that make a layout other than its ZeRO stage (dp and cp are 1 where this is used)
_TWIN_KEYS = ("tp", "pp", "vpp", "cp", "ep", "mb", "rc", "gb")


def _top_indices(inp: TrainingInputs, L: dict, feasible: np.ndarray, order: np.ndarray, top_k: int) -> list[int]:
    """The first `top_k` feasible layouts in `order`, without a ZeRO-3 layout of a data-parallel
    group of one whose ZeRO-0 twin fits: it runs the same step at the same speed (nothing to shard
    over), so listing both showed one run twice; where only ZeRO-3 fits it is listed."""
    alone = (L["dp"] * L["cp"] == 1) if inp.zero_stage is None else np.zeros(len(feasible), dtype=bool)
    fitting_zero0 = np.flatnonzero(alone & feasible & (L["zero"] == 0))
    twins = {tuple(int(L[k][i]) for k in _TWIN_KEYS) for i in fitting_zero0}
    out: list[int] = []
    for i in order:
        if len(out) >= top_k or not feasible[i]:   # feasible layouts come first in `order`
            break
        if alone[i] and L["zero"][i] == 3 and tuple(int(L[k][i]) for k in _TWIN_KEYS) in twins:
            continue
        out.append(int(i))
    return out


def search_layouts(inputs: TrainingInputs, *, progress: Callable[[float, str], None] | None = None,
                   should_stop: Callable[[], bool] | None = None, top_k: int = 10,
                   chunk: int = 65536, rank_by: str = "tokens_per_s_per_chip") -> SearchResult:
    """Evaluate every layout consistent with the given fields; rank the feasible ones."""
    _check_inputs(inputs)
    start = time.perf_counter()
    L = candidate_arrays(inputs)
    total = len(L["tp"])
    tok = np.zeros(total)
    reason = np.zeros(total, dtype=np.int8)
    memory_gib = np.zeros(total)
    capacity_gib = 0.0
    for lo in range(0, max(total, 1), chunk):
        if should_stop is not None and should_stop():
            raise Cancelled("layout search cancelled")
        part = {k: v[lo:lo + chunk] for k, v in L.items()}
        if len(part["tp"]) == 0:
            break
        out = _evaluate_arrays(inputs, part)
        tok[lo:lo + chunk] = out["tokens_per_s_per_chip"]
        reason[lo:lo + chunk] = out["reason"]
        memory_gib[lo:lo + chunk] = out["memory_total"] / GIB
        capacity_gib = float(out["capacity"]) / GIB
        if progress is not None:
            progress(min(1.0, (lo + chunk) / total), f"evaluated {min(total, lo + chunk):,} of {total:,} layouts")
    tok = np.where(np.isfinite(tok), tok, 0.0)
    feasible = reason == 0
    counts = {REASONS[i]: int(np.sum(reason == i)) for i in range(1, len(REASONS)) if np.any(reason == i)}
    order = np.argsort(-np.where(feasible, tok, -1.0), kind="stable")
    best_idx = _top_indices(inputs, L, feasible, order, top_k)
    top: tuple[LayoutResult, ...] = ()
    if best_idx:
        sub = {k: v[best_idx] for k, v in L.items()}
        out = _evaluate_arrays(inputs, sub)
        top = tuple(_result_at(inputs, out, sub, j) for j in range(len(best_idx)))
    return SearchResult(
        layouts_evaluated=total,
        layouts_feasible=int(feasible.sum()),
        infeasible_by_reason=counts,
        search_seconds=time.perf_counter() - start,
        top=top,
        tp=L["tp"], pp=L["pp"], tokens_per_s_per_chip=tok, feasible=feasible, reason=reason,
        memory_gib=memory_gib, memory_capacity_gib=capacity_gib,
    )


def least_memory_layout(inputs: TrainingInputs, result: SearchResult) -> LayoutResult | None:
    """Of the layouts `result` (a search of `inputs`) rejected for memory alone, the one needing the
    least (the fastest among equals); None when no layout failed on memory alone. For a run that
    really ran where the memory model fits no layout consistent with its given fields: the layout
    it most plausibly ran, to predict as a fully given one that does not fit is (validate)."""
    oom = np.asarray(result.reason) == REASON_INDEX["out of memory"]
    if not np.any(oom):
        return None
    L = candidate_arrays(inputs)
    sub = {k: v[oom] for k, v in L.items()}
    out = _evaluate_arrays(inputs, sub)
    j = int(np.lexsort((-np.nan_to_num(out["tokens_per_s_per_chip"]), out["memory_total"]))[0])
    one = {k: v[j:j + 1] for k, v in sub.items()}
    return _result_at(inputs, _evaluate_arrays(inputs, one), one, 0)


IDLE_SHARE_MAX = 0.1   # most of the chips a suggestion leaves idle
# and the least it must gain in total throughput: any gain, as fewer chips that train faster cost
# less too (at 5%, 832 H100 were left at 704,464 tokens/s where 768 of them train at 709,441; QA)
IDLE_GAIN_MIN = 1.0
IDLE_NEAR_FASTEST = 0.95   # of the counts that gain, the fewest idle chips within 5% of the fastest


# Odd factors a count below the fleet may add besides powers of two: a pipeline of 3, 5, 7 or 9
# stages (or a multiple) can split the layers plus the output layer more evenly. Llama 3 70B (80
# layers and a head of 1.23 layers' weights) has its slowest of 8 stages at 11.23 layers against a
# mean of 10.15, of 9 stages at 9.23 against 9.03: 1,008 of 1,024 chips train it 4.3% sooner (H100
# and 910B; QA s41), a count that multiples of 2 alone never reach below a power of two.
ODD_STAGE_FACTORS = (3, 5, 7, 9)


def idle_counts(n: int) -> set[int]:
    """The chip counts below `n` that `fewer_chips_alternative` searches: the largest multiples of
    2, 4, ..., 1,024 at or below it, and of 3, 5, 7 or 9 times 8, 16, ..., 1,024 (whole 8-chip
    servers), leaving at most IDLE_SHARE_MAX of the chips idle. The odd multiples are of at least
    n / 64, so the counts stay round enough to lay out (16,384 chips: 16,320, 16,128, 16,000 and
    15,360, not 16,368 = 16 x 3 x 11 x 31): each count is a search of its own."""
    steps = {2 ** k for k in range(1, 11)} | {q * 2 ** k for q in ODD_STAGE_FACTORS for k in range(3, 11)
                                            if q * 2 ** k >= n / 64}
    return {m for m in (n - n % d for d in steps) if 0 < m < n and m >= (1.0 - IDLE_SHARE_MAX) * n}


def fewer_chips_alternative(inputs: TrainingInputs, tokens_per_s_per_chip: float,
                            should_stop: Callable[[], bool] | None = None) -> tuple[int, SearchResult] | None:
    """(chips used, their search) when leaving a few of `inputs.num_chips` idle trains faster.

    A count that factors badly has few layouts: 1,023 = 3 x 11 x 31 H100 took 27.6 days for
    Llama 3 70B where 1,022 took 13.2 (and a prime count had none). The counts tried are
    `idle_counts`' (multiples of powers of two, and of a few odd stage counts); of
    those whose whole-fleet throughput beats this count's (by IDLE_GAIN_MIN; or this count has no
    feasible layout), the one with the fewest idle chips within 5% of the fastest. Layout fields
    the user fixed stay fixed (a fixed dp fixes the count)."""
    n = int(inputs.num_chips)
    if inputs.dp:
        return None
    counts = sorted(idle_counts(n), reverse=True)
    to_beat = n * max(float(tokens_per_s_per_chip), 0.0) * IDLE_GAIN_MIN * (1.0 + 1e-9)
    found = []   # (whole-fleet tokens/s, chips, search) of the counts that gain
    for m in counts:
        try:
            result = search_layouts(replace(inputs, num_chips=m), top_k=3, should_stop=should_stop)
        except UserError:
            continue
        if result.best is not None and m * result.best.tokens_per_s_per_chip > to_beat:
            found.append((m * result.best.tokens_per_s_per_chip, m, result))
    if not found:
        return None
    # the fewest idle chips within 5% of the fastest count: the first that gained could be far
    # slower (16,381 H100: 16,380 trained Llama 3 405B at half the speed of 16,128)
    fastest = max(f[0] for f in found)
    _, m, result = max((f for f in found if f[0] >= IDLE_NEAR_FASTEST * fastest), key=lambda f: f[1])
    return m, result


# With the global batch fixed, chips past what can split it add failures but little throughput, and
# the run ends later (QA s36: Llama 3 8B at 512 sequences trained in 0.368 days on 32,768 H100, 0.401
# on 65,536 and 0.505 on 131,072, with nothing said). A search of such inputs also searches these
# fractions of the count (`halved_searches`); the days decide (`sooner_on_fewer`), as they depend
# on the reliability inputs (failures grow with the chips) and the search does not.
BATCH_HALVINGS = (2, 4, 8)
SOONER_MIN = 0.01   # the least share of the days a fewer-chip run must save to be suggested


def halved_searches(inputs: TrainingInputs, should_stop: Callable[[], bool] | None = None) -> tuple:
    """((chips, tokens/s per chip, layout), ...): the best feasible layout on half, a quarter and an
    eighth of the chips, when the global batch is fixed (given) and dp is not; () otherwise."""
    n = int(inputs.num_chips)
    if inputs.global_batch_seqs is None or inputs.dp:
        return ()
    out = []
    for m in (n // k for k in BATCH_HALVINGS if n // k >= 1):
        try:
            best = search_layouts(replace(inputs, num_chips=m), top_k=1, should_stop=should_stop).best
        except UserError:
            continue
        if best is not None and best.feasible:
            out.append((m, best.tokens_per_s_per_chip, dict(best.layout)))
    return tuple(out)


def sooner_on_fewer(halved: Sequence, days_at: Callable[[int, float], float | None],
                    days_here: float | None) -> tuple[int, float, dict, float] | None:
    """(chips, tokens/s per chip, layout, days) of `halved_searches`' counts whose run ends soonest,
    when that is at least SOONER_MIN sooner than `days_here`; None otherwise. `days_at(chips,
    tokens/s per chip)`: the time to train there (None where failures outpace progress)."""
    if days_here is None or not days_here > 0:
        return None
    best = None
    for m, tok, layout in halved:
        days = days_at(m, tok)
        if days is not None and days < days_here * (1.0 - SOONER_MIN) and (best is None or days < best[3]):
            best = (m, tok, layout, days)
    return best


def best_tokens_per_s_per_chip(model: ModelConfig, chip: Chip, num_chips: int, *,
                               seq_len: int | None = None, global_batch_seqs: int | None = None) -> float:
    """Throughput of the best feasible layout (0.0 when nothing fits), for the forecast."""
    try:
        result = search_layouts(TrainingInputs(model=model, chip=chip, num_chips=int(num_chips),
                                               seq_len=seq_len, global_batch_seqs=global_batch_seqs), top_k=1)
    except UserError:
        return 0.0
    return result.best.tokens_per_s_per_chip if result.best else 0.0


def whole_run_goodput(inp: TrainingInputs) -> float:
    """Useful fraction of a whole run's wall-clock (what GPU-hours figures include beyond steady
    steps): failures at the Llama 3 rate (419 interruptions in 54 days on 16,384 H100) with
    restarts and lost work, Young/Daly checkpoints of weights + optimizer (14 bytes/param), and
    evaluation/idle pauses. Grows worse with the fleet size."""
    from engine import reliability

    g = reliability.goodput(inp.num_chips, float(inp.model.total_params()) * reliability.CHECKPOINT_BYTES_PER_PARAM,
                            checkpoint_write_gbps=inp.factor("train_ckpt_write_gbps"),
                            restart_s=inp.factor("train_restart_min") * 60.0)
    return g.goodput * (1.0 - inp.factor("train_run_idle_frac"))


# ---- whole run ----------------------------------------------------------------------------

ASSUMED_TDP_W = 700.0   # energy of a chip whose catalog entry has no TDP (an H100 SXM's)

@dataclass(frozen=True)
class RunEstimate:
    tokens: float
    tokens_per_s_per_chip: float
    num_chips: int
    steady_days: float
    goodput: float
    time_to_train_days: float
    chip_hours: float
    energy_mwh: float
    cost_usd: float | None            # None: no price (the chip has no list price and none was given)
    checkpoint_interval_min: float
    expected_interruptions: float
    cost_basis: str = ""              # what the cost counts, in words
    energy_basis: str = ""            # the power behind the energy, in words
    # the reliability inputs used (defaults filled in) and what they come to: the time lost to
    # failures was one goodput figure, its causes and inputs in no output (QA)
    mtbf_chip_hours: float = 0.0
    restart_min: float = 0.0
    checkpoint_write_gbps: float = 0.0
    checkpoint_bytes_per_param: float = 0.0
    job_mtbf_h: float = 0.0           # between failures of the whole job: MTBF per chip / chips
    checkpoint_write_s: float = 0.0
    lost_to_restarts_pct: float = 0.0     # of wall-clock time; with goodput they sum to 100
    lost_to_rework_pct: float = 0.0
    lost_to_checkpoints_pct: float = 0.0
    utilisation: float = 0.0          # of TDP, on average, for the energy
    pue: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class NoProgressError(UserError):
    """Failures (restart plus lost work) outpace progress: the job never finishes. A property of
    the inputs (chips, failure rate, restart time), told like any other bad input."""


def estimate_run(tokens: float, tokens_per_s_per_chip: float, num_chips: int, chip: Chip, *,
                 params: float | None = None, utilisation: float = 0.8, pue: float = 1.2,
                 price_per_chip_hour_usd: float | None = None, amortisation_years: float = CHIP_LIFE_YEARS,
                 mtbf_chip_hours: float | None = None, checkpoint_write_gbps: float = 1000.0,
                 restart_min: float = 10.0, checkpoint_bytes_per_param: float | None = None) -> RunEstimate:
    """Time to train `tokens`, chip-hours, energy and cost, with goodput under failures.
    `checkpoint_bytes_per_param`: default reliability.CHECKPOINT_BYTES_PER_PARAM (weights, master
    copy and Adam moments)."""
    from engine import reliability

    per_param = reliability.CHECKPOINT_BYTES_PER_PARAM if checkpoint_bytes_per_param is None \
        else float(checkpoint_bytes_per_param)

    if tokens_per_s_per_chip <= 0 or num_chips <= 0:
        raise UserError("estimate_run: throughput and chip count must be positive")
    steady_s = tokens / (tokens_per_s_per_chip * num_chips)
    ckpt_bytes = (params or 0.0) * per_param
    g = reliability.goodput(num_chips, ckpt_bytes, checkpoint_write_gbps=checkpoint_write_gbps,
                            restart_s=restart_min * 60.0, mtbf_chip_hours=mtbf_chip_hours)
    if g.goodput <= 0.0:  # failures outpace progress: no finite time to train
        raise NoProgressError(reliability.no_progress_reason(num_chips, g, restart_min * 60.0, mtbf_chip_hours))
    wall_s = steady_s / g.goodput
    chip_hours = wall_s / 3600.0 * num_chips
    # a chip without a TDP in the catalog is counted at 700 W, and said to be (it read as data)
    power_w = float(chip.tdp_w or ASSUMED_TDP_W)
    energy_mwh = chip_hours * power_w * utilisation * pue / 1e6
    energy_basis = (f"{power_w:.0f} W per chip{'' if chip.tdp_w else ' (assumed: no TDP in the catalog)'} x "
                    f"{utilisation:.0%} utilisation x PUE {pue:g}")
    price: float | None
    if price_per_chip_hour_usd is not None:
        price, cost_basis = price_per_chip_hour_usd, f"{price_per_chip_hour_usd:g} USD per chip-hour, as given"
    elif chip.price_usd:
        price = chip.price_usd / (amortisation_years * 365.0 * 24.0)
        cost_basis = (f"list price {chip.price_usd:,.0f} USD per chip amortised over {amortisation_years:g} years "
                      "of use; energy not included")
    else:   # $0 read as a free run
        price, cost_basis = None, "no list price for this chip and none given (--price-per-chip-hour)"
    return RunEstimate(
        tokens=float(tokens), tokens_per_s_per_chip=float(tokens_per_s_per_chip), num_chips=int(num_chips),
        steady_days=steady_s / 86400.0, goodput=g.goodput, time_to_train_days=wall_s / 86400.0,
        chip_hours=chip_hours, energy_mwh=energy_mwh, cost_usd=None if price is None else chip_hours * price,
        cost_basis=cost_basis, energy_basis=energy_basis,
        checkpoint_interval_min=g.checkpoint_interval_s / 60.0,
        expected_interruptions=wall_s / g.mtbf_job_s,
        mtbf_chip_hours=reliability.DEFAULT_MTBF_CHIP_HOURS if mtbf_chip_hours is None else float(mtbf_chip_hours),
        restart_min=float(restart_min), checkpoint_write_gbps=float(checkpoint_write_gbps),
        checkpoint_bytes_per_param=per_param, job_mtbf_h=g.mtbf_job_s / 3600.0,
        checkpoint_write_s=g.checkpoint_time_s, lost_to_restarts_pct=100.0 * g.lost_to_restarts,
        lost_to_rework_pct=100.0 * g.lost_to_rework, lost_to_checkpoints_pct=100.0 * g.lost_to_checkpoints,
        utilisation=float(utilisation), pue=float(pue),
    )
