"""Time of one serving step for an exact mix of prefill chunks and decode sequences.

The physics is the calibrated roofline of `engine.inference` (`_decode_step`, `_prefill`):
weights and KV read from HBM, GEMM and attention FLOPs, TP/EP collectives, a fixed per-step
overhead. Here it is reduced once to scalar coefficients for one deployment, so the simulator
can price thousands of steps in pure float arithmetic (one step) or numpy (a run of decode
steps that differ only in their context length).

A mixed step reads the weights once: its GEMM kernels take max(weight and expert reads, decode +
prefill GEMM compute), its decode attention max(KV reads, attention FLOPs), and the step adds the
two, plus collectives for all its tokens plus one step overhead. A pure decode step equals
`inference._decode_step`, a pure prefill step `inference._prefill` (tested).

Windowed attention (a model's `windowed_layers`, engine.models): the full-attention layers keep
per-token quantities, the windowed ones a per-sequence term capped at the window.
- Pricing: a decode step's KV reads and attention are those of `decode_ctx_sum` as whole-model
  tokens, d x windowed_context(ctx_sum / d) for d sequences: the batch's mean context, exact when
  every sequence is on one side of the window and a little over the exact sum when they straddle
  it (the windowed part is concave in the context). Prefill chunks attend to the window only
  (`chunk_attn_flops`).
- Capacity: `kv_capacity_tokens` counts tokens of the whole model's KV, as without a window. Where
  the window binds, the simulator's KV blocks count tokens of the full-attention layers' KV
  (`kv_block_capacity_tokens`; of the windowed layers' when every layer is windowed) and a
  sequence also holds `window_kv_ratio` x min(its length, window) of those for its windowed
  layers (`window_blocks`, engine.serving.simulator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.hardware import Chip
from engine.models import ModelConfig, windowed_context, windowed_span_sq


def _s(x) -> float:
    return float(np.asarray(x, dtype=float).reshape(-1)[0])


@dataclass(frozen=True)
class StepCostModel:
    """Scalar coefficients of one model instance (seconds unless named otherwise)."""

    pp: float
    attn_groups: float
    tp: float
    weights_s: float              # non-expert weights + output head, one read
    expert_all_s: float           # every routed expert of the chip read once (/moe_read_eff)
    expert_decode_mult: float     # 2 with wide-EP two-batch overlap (experts read per micro-batch)
    topk_frac: float              # topk / experts (0: dense)
    kv_s_per_token: float         # reading one context token's KV on one chip
    dec_lin_s_per_seq: float      # dense + head GEMMs of one decode token on a chip
    dec_exp_s_per_seq: float      # expert GEMMs of one decode token (per instance batch)
    dec_attn_s_per_ctx: float     # decode attention FLOPs per context token on a chip
    pf_lin_flops_per_token: float  # prefill dense GEMM FLOPs per token on a chip (2 x params / tp)
    pf_head_flops_per_seq: float  # logits of the last prompt token
    pf_attn_coeff: float          # causal attention FLOPs = coeff x ((o + c)^2 - o^2) per chunk
    pf_exp_flops_per_token: float  # expert FLOPs per prompt token (instance)
    experts: float
    topk: float
    peak_flops: float
    peak16_flops: float
    prefill_mfu: float
    half_tokens: float
    moe_eff: float
    tp_comm_s_per_token: float    # TP all-reduces per token on a chip
    a2a_s_per_token: float        # EP all-to-all per token (inside the domain, or wide over NICs)
    a2a_latency_s: float          # wide EP: fixed dispatch + combine latency per step
    wide_ep: bool
    ep_overlap: float
    ep: float
    overhead_s: float             # per step (one stage)
    prefill_overhead_scale: float
    kv_capacity_tokens: float     # KV tokens one instance holds (all attention groups)
    # windowed attention (see the module doc): the window (0: none), the share of the layers that
    # use it, and their KV per token over the full-attention layers' (every layer windowed: 1)
    window_tokens: float = 0.0
    window_share: float = 0.0
    window_kv_ratio: float = 0.0

    def kv_context_sum(self, decode_seqs, ctx_sum):
        """The context sum of `decode_seqs` sequences as whole-model KV tokens (read and attended
        to); `ctx_sum` itself without a window."""
        if not self.window_tokens:
            return ctx_sum
        return ctx_sum - self.window_share * np.maximum(np.asarray(ctx_sum, dtype=float)
                                                        - decode_seqs * self.window_tokens, 0.0)

    def kv_block_capacity_tokens(self) -> float:
        """`kv_capacity_tokens` in tokens of the full-attention layers' KV (every layer windowed: of
        the windowed layers'), the unit of `window_blocks`."""
        if not self.window_tokens or self.window_share >= 1.0:
            return self.kv_capacity_tokens
        return self.kv_capacity_tokens / (1.0 - self.window_share)

    def window_blocks(self, lengths, block_size: int) -> np.ndarray:
        """KV blocks of `block_size` units each request of `lengths` tokens holds for its windowed
        layers, min(length, window) of their tokens, in `kv_block_capacity_tokens`' unit; zeros
        without a window."""
        if not self.window_tokens:
            return np.zeros(len(lengths), dtype=np.int64)
        held = self.window_kv_ratio * np.minimum(np.asarray(lengths, dtype=float), self.window_tokens)
        return np.ceil(held / block_size - 1e-9).astype(np.int64)

    def in_context_sum(self, env: list, decode_seqs: int) -> list:
        """[(from, intercept, slope), ...] pieces in the windowed context sum x (`kv_context_sum`, as
        `decode_lines` are) as pieces in the context sum S: x = S up to S = d x window, past it
        x = S - share x (S - d x window), so a line a + b x is (a + b x share x d x window) + b (1 -
        share) S there (every layer windowed: flat, the later pieces never reached). As is without
        a window."""
        if not self.window_tokens:
            return env
        brk = decode_seqs * self.window_tokens
        keep = 1.0 - self.window_share
        shift = brk * self.window_share
        at_break = next(p for p in reversed(env) if p[0] <= brk)
        out = [p for p in env if p[0] < brk] + [(brk, at_break[1] + at_break[2] * shift, at_break[2] * keep)]
        if keep > 0.0:
            out += [(brk + (x0 - brk) / keep, a + b * shift, b * keep) for x0, a, b in env if x0 > brk]
        return out

    def kv_tokens(self, tokens):
        """Whole-model KV tokens of sequences of `tokens` (an array: a prompt's KV sent after its
        prefill); `tokens` itself without a window."""
        return windowed_context(tokens, self.window_tokens, self.window_share)

    # ---- pieces ----
    def _comm(self, tokens_chip: float, busy: float) -> float:
        tp_t = self.tp_comm_s_per_token * tokens_chip
        if self.ep <= 1:
            return tp_t
        a2a = self.a2a_s_per_token * tokens_chip
        if self.wide_ep:
            a2a += self.a2a_latency_s
            hidden = min(a2a, busy)
            a2a = a2a - hidden + (1.0 - self.ep_overlap) * hidden
        return tp_t + a2a

    def _touched(self, tokens: float) -> float:
        if self.topk_frac <= 0.0:
            return 0.0
        return 1.0 - (1.0 - self.topk_frac) ** tokens

    def prefill_compute_s(self, tokens: float, seqs: float, attn_flops: float, largest_chunk: float) -> tuple:
        """(compute seconds, tokens on the busiest chip) of prefill chunks in one step."""
        if tokens <= 0:
            return 0.0, 0.0
        g = self.attn_groups
        tokens_chip = max(tokens / g, largest_chunk)
        seqs_chip = max(seqs / g, 1.0)
        eff = self.prefill_mfu * tokens_chip / (tokens_chip + self.half_tokens)
        attn_chip = attn_flops * tokens_chip / tokens
        t = (self.pf_lin_flops_per_token * tokens_chip + self.pf_head_flops_per_seq * seqs_chip) / (
            self.peak_flops * eff) + attn_chip / (self.peak16_flops * eff)
        if self.experts:
            rows = tokens * self.topk / self.experts
            eff_x = self.prefill_mfu * self.moe_eff * rows / (rows + self.half_tokens)
            t += self.pf_exp_flops_per_token * tokens / (self.peak_flops * eff_x)
        return t, tokens_chip

    def chunk_attn_flops(self, offset: float, chunk: float) -> float:
        """Causal attention FLOPs of `chunk` prompt tokens after `offset` cached ones."""
        if self.window_tokens:
            w, share = self.window_tokens, self.window_share
            return self.pf_attn_coeff * (windowed_span_sq(float(offset + chunk), w, share)
                                         - windowed_span_sq(float(offset), w, share))
        return self.pf_attn_coeff * ((offset + chunk) ** 2 - offset * offset)

    # ---- one step ----
    def step_s(self, decode_seqs: float, decode_ctx_sum: float, prefill_tokens: float = 0.0,
               prefill_seqs: float = 0.0, prefill_attn_flops: float = 0.0, largest_chunk: float = 0.0) -> float:
        """Seconds of one step of the whole instance (all pipeline stages)."""
        pp = self.pp
        if decode_seqs <= 0:
            if prefill_tokens <= 0:
                return 0.0
            pf_c, pf_tok_chip = self.prefill_compute_s(prefill_tokens, prefill_seqs, prefill_attn_flops, largest_chunk)
            mem = pp * (self.weights_s + self.expert_all_s * self._touched(prefill_tokens))
            busy = max(pf_c, mem)
            return busy + pp * self._comm(pf_tok_chip, pf_c) + pp * self.overhead_s * self.prefill_overhead_scale
        d, seq_chip, mem, comp, attn = self._decode_stage(decode_seqs, decode_ctx_sum)
        if prefill_tokens <= 0:
            busy = max(mem, comp) + attn
            return pp * (busy + self._comm(seq_chip, busy) + self.overhead_s)
        # The step is a round of pp micro-batches through every stage; the prompts ride in one of
        # them, so each stage does its 1/pp of their layers once per round (pf_c is the whole
        # model's prefill on one TP group): a round of pp stages charged the whole pf_c each
        # (PP8 served a 70B model at a fifth of TP8's rate with 1K prompts)
        pf_c, pf_tok_chip = self.prefill_compute_s(prefill_tokens, prefill_seqs, prefill_attn_flops, largest_chunk)
        # (the experts the prompts touch beyond the batch's; none to read without experts)
        mem_pf = (mem + self.expert_all_s * max(self._touched(prefill_tokens) - self._touched(d), 0.0)
                  if self.expert_all_s else mem)
        busy_pf = max(mem_pf, comp + pf_c / pp) + attn
        comm_pf = self._comm(seq_chip + pf_tok_chip, busy_pf)
        if pp == 1.0:   # one stage: no other micro-batches' round ((pp - 1) x stage is 0)
            return busy_pf + comm_pf + self.overhead_s
        busy = max(mem, comp) + attn
        stage = busy + self._comm(seq_chip, busy) + self.overhead_s
        return (pp - 1.0) * stage + busy_pf + comm_pf + self.overhead_s

    def _decode_stage(self, decode_seqs: float, decode_ctx_sum: float) -> tuple[float, float, float, float, float]:
        """One pipeline stage's share of a decode batch: (sequences per stage, per attention rank,
        the GEMMs' weight-read time, their compute time, attention's time): GEMM kernels (weights
        vs FLOPs) then attention (KV vs FLOPs)."""
        d = decode_seqs / self.pp
        seq_chip = d / self.attn_groups
        ctx_chip = (self.kv_context_sum(decode_seqs, decode_ctx_sum) if self.window_tokens else
                    decode_ctx_sum) / self.pp / self.attn_groups
        mem = self.weights_s + self.expert_all_s * self._touched(d) * self.expert_decode_mult
        comp = seq_chip * self.dec_lin_s_per_seq + d * self.dec_exp_s_per_seq
        attn = max(ctx_chip * self.kv_s_per_token, ctx_chip * self.dec_attn_s_per_ctx)
        return d, seq_chip, mem, comp, attn

    def prefill_latency_s(self, decode_seqs: float, decode_ctx_sum: float, prefill_tokens: float,
                          prefill_seqs: float, prefill_attn_flops: float, largest_chunk: float) -> float:
        """Seconds from the start of a step until its prompt chunks have crossed every pipeline
        stage: their first tokens exist only then. `step_s` is the round's throughput time, where
        each stage runs its 1/pp of the prompt once while the other micro-batches overlap it; the
        chunk's micro-batch itself passes the pp stages one after another, pp x the stage that
        holds it (a TP4 PP4 Llama 3 70B read TTFT p50 99 ms for a 285 ms prefill). One stage, or
        a step with no decodes (priced as one pass through the pipeline): `step_s`."""
        step = self.step_s(decode_seqs, decode_ctx_sum, prefill_tokens, prefill_seqs, prefill_attn_flops,
                           largest_chunk)
        if self.pp <= 1 or decode_seqs <= 0 or prefill_tokens <= 0:
            return step
        pp = self.pp
        pf_c, pf_tok_chip = self.prefill_compute_s(prefill_tokens, prefill_seqs, prefill_attn_flops, largest_chunk)
        # the stage holding the prompt micro-batch, as in `step_s`
        d, seq_chip, mem, comp, attn = self._decode_stage(decode_seqs, decode_ctx_sum)
        mem_pf = mem + self.expert_all_s * max(self._touched(prefill_tokens) - self._touched(d), 0.0)
        busy_pf = max(mem_pf, comp + pf_c / pp) + attn
        stage_pf = busy_pf + self._comm(seq_chip + pf_tok_chip, busy_pf) + self.overhead_s
        return max(step, pp * stage_pf)

    def decode_run_s(self, decode_seqs: int, ctx_sums: np.ndarray) -> np.ndarray:
        """Times of consecutive pure-decode steps of the same batch whose context sums are given."""
        pp = self.pp
        d = decode_seqs / pp
        seq_chip = d / self.attn_groups
        ctx_chip = np.asarray(self.kv_context_sum(decode_seqs, np.asarray(ctx_sums, dtype=float)),
                              dtype=float) / pp / self.attn_groups
        base_mem = self.weights_s + self.expert_all_s * self._touched(d) * self.expert_decode_mult
        gemm = max(base_mem, seq_chip * self.dec_lin_s_per_seq + d * self.dec_exp_s_per_seq)
        busy = gemm + np.maximum(ctx_chip * self.kv_s_per_token, ctx_chip * self.dec_attn_s_per_ctx)
        tp_t = self.tp_comm_s_per_token * seq_chip
        comm: np.ndarray | float
        if self.ep > 1:
            a2a = self.a2a_s_per_token * seq_chip
            if self.wide_ep:
                a2a = a2a + self.a2a_latency_s
                hidden = np.minimum(a2a, busy)
                comm = tp_t + a2a - hidden + (1.0 - self.ep_overlap) * hidden
            else:
                comm = tp_t + a2a
        else:
            comm = tp_t
        return pp * (busy + comm + self.overhead_s)

    def decode_lines(self, decode_seqs: int) -> list[tuple[float, float]]:
        """`decode_run_s` of a fixed batch as lines (intercept s, slope s per context token):
        the step time is the largest of intercept + slope x ctx_sum. Memory and compute are each
        linear in the context and the step takes the larger; a wide-EP all-to-all hides under
        the step up to its own length, which is again the larger of two lines. The simulator
        sums runs of decode steps in closed form with these (and checks them against
        `decode_run_s`, falling back to it if the two ever disagree). With a window the lines are
        in the windowed context sum (`kv_context_sum`), which the simulator maps back."""
        pp = self.pp
        d = decode_seqs / pp
        seq_chip = d / self.attn_groups
        per_ctx = 1.0 / pp / self.attn_groups
        # GEMMs (constant in the context) then attention: gemm + max(KV line, attention-FLOP line)
        gemm = max(self.weights_s + self.expert_all_s * self._touched(d) * self.expert_decode_mult,
                   seq_chip * self.dec_lin_s_per_seq + d * self.dec_exp_s_per_seq)
        busy = [(gemm, self.kv_s_per_token * per_ctx), (gemm, self.dec_attn_s_per_ctx * per_ctx)]
        const = self.tp_comm_s_per_token * seq_chip + self.overhead_s
        if self.ep > 1:
            a2a = self.a2a_s_per_token * seq_chip
            if self.wide_ep:
                a2a += self.a2a_latency_s
                keep = 1.0 - self.ep_overlap
                # busy + a2a - overlap x min(a2a, busy) = max(keep x busy + a2a, busy + keep x a2a)
                busy = [(keep * a + a2a, keep * b) for a, b in busy] + [(a + keep * a2a, b) for a, b in busy]
            else:
                const += a2a
        return [(pp * (a + const), pp * b) for a, b in busy]


def build_cost_model(model: ModelConfig, chip: Chip, *, tp: int = 1, ep: int = 1, pp: int = 1,
                     weight_dtype: str = "bf16", kv_dtype: str = "bf16", engine: str = "",
                     factors=None) -> StepCostModel:
    """Coefficients of one deployment, from the same deployment arrays as `engine.inference`."""
    from engine import inference as inf

    shape = inf.model_shape(model)
    hw = inf._hw_arrays([chip], weight_dtype, engine, factors)
    dep = inf._deployment(shape, hw, tp, ep, pp, weight_dtype, kv_dtype)
    f = {k: _s(v) for k, v in dep.f.items()}
    bw = _s(dep.hbm_bps) * f["inf_hbm_eff"]
    tp_f, ep_f, pp_f = float(tp), float(ep), float(pp)
    group = max(tp_f, ep_f)
    peak, peak16 = _s(dep.peak_flops), _s(dep.peak16_flops)
    s = shape
    wide = bool(_s(inf._wide_ep(dep)))
    overlap = f["inf_ep_overlap"]
    # collectives: linear in the tokens on a chip (see inference._comm_s)
    act_per_tok = s.hidden * 2.0
    domain = _s(dep.domain)
    # the TP group's fabric as inference._comm_s has it (across nodes: engine/topology.py's
    # hierarchical NICs, as training prices its groups)
    tp_link = _s(dep.tp_group_bps) * f["inf_link_eff"]
    tp_comm = 2.0 * (s.layers / pp_f) * _s(inf._allreduce_traffic(dep)) * act_per_tok / tp_link if tp_f > 1 else 0.0
    if wide:
        tok_bytes = max(s.topk, 1) * s.hidden * (_s(dep.dispatch_bytes) + 2.0) / tp_f
        a2a_tok = (s.moe_layers / pp_f) * tok_bytes * _s(inf.ep_dispatch_s_per_byte(
            ep_f, domain, _s(dep.host), _s(dep.host_bps), _s(dep.scaleup_bps), _s(dep.scaleout_bps),
            f["inf_link_eff"], f["inf_scaleout_eff"]))
        a2a_lat = (s.moe_layers / pp_f) * 2.0 * f["inf_a2a_latency_us"] * 1e-6
    else:
        link = _s(dep.link_bps) * f["inf_link_eff"]
        a2a_tok = (2.0 * (s.moe_layers / pp_f) * max(s.topk, 1) * act_per_tok
                   * float(inf.local_dispatch_share(ep_f, tp_f)) / link) if s.experts else 0.0
        a2a_lat = 0.0
    if not s.experts:
        a2a_tok = 2.0 * (s.moe_layers / pp_f) * 1 * act_per_tok * (ep_f - 1) / ep_f / (_s(dep.link_bps) * f["inf_link_eff"])
    kv_tokens = _s(dep.kv_capacity_bytes_chip) / max(_s(dep.kv_bytes_token_chip), 1e-30) * _s(dep.attn_groups)
    full = model.layers - model.windowed_layers
    window_kv_ratio = (model.windowed_layers / full if full else 1.0) if model.windowed else 0.0
    return StepCostModel(
        pp=pp_f, attn_groups=_s(dep.attn_groups), tp=tp_f,
        weights_s=_s(dep.nonexpert_read_chip) / bw,
        expert_all_s=_s(dep.expert_bytes_chip_all) / (bw * f["inf_moe_read_eff"]),
        expert_decode_mult=2.0 if (wide and overlap > 0) else 1.0,
        topk_frac=(s.topk / s.experts) if s.experts else 0.0,
        kv_s_per_token=_s(dep.kv_bytes_token_chip) / (bw * f["inf_kv_eff"]),
        dec_lin_s_per_seq=2.0 * (s.nonexpert_params + s.head_params) / (tp_f * pp_f) / (peak * f["inf_decode_mfu"]),
        dec_exp_s_per_seq=(2.0 * s.topk * s.expert_params * s.moe_layers / (group * pp_f)) / f["inf_moe_eff"] / (
            peak * f["inf_decode_mfu"]) if s.experts else 0.0,
        dec_attn_s_per_ctx=s.attn_decode_flops_per_ctx / (tp_f * pp_f) / (peak16 * f["inf_decode_mfu"]),
        pf_lin_flops_per_token=2.0 * s.nonexpert_params / tp_f,
        pf_head_flops_per_seq=2.0 * s.head_params / tp_f,
        pf_attn_coeff=s.attn_prefill_flops_coeff / tp_f,
        pf_exp_flops_per_token=2.0 * s.topk * s.expert_params * s.moe_layers / group if s.experts else 0.0,
        experts=float(s.experts), topk=float(s.topk), peak_flops=peak, peak16_flops=peak16,
        prefill_mfu=f["inf_prefill_mfu"], half_tokens=f["inf_gemm_half_tokens"], moe_eff=f["inf_moe_eff"],
        tp_comm_s_per_token=tp_comm, a2a_s_per_token=a2a_tok, a2a_latency_s=a2a_lat, wide_ep=wide,
        ep_overlap=overlap, ep=ep_f, overhead_s=_s(inf._overhead_s(dep)),
        prefill_overhead_scale=f["inf_prefill_overhead_scale"],
        kv_capacity_tokens=float(max(math.floor(kv_tokens), 0.0)),
        window_tokens=s.window_tokens, window_share=s.window_share, window_kv_ratio=window_kv_ratio,
    )
