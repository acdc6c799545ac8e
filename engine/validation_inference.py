"""Predict every row of an inference validation file and score the errors.

Schema: ../shared/validation/INFERENCE.md. One bad row becomes an `error` case naming the field
and value; it never stops the others. Rows of one configuration share one simulation (cached).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from engine.errors import UserError
from engine.hardware import DTYPE_BYTES, Chip
from engine.inference import (SCENARIOS, SERVE_DTYPES, ServingInputs, compute_dtype, default_kv_dtype,
                              evaluate_serving, precision_note)
from engine.models import ModelConfig
from engine.serving.families import budget_problem, engine_chip_problem, known_engine
from engine.validate import cell_float
from engine.validation import SHORT_ROW

THROUGHPUT_METRICS = ("output_tokens_per_s_per_chip", "total_tokens_per_s_per_chip")
LATENCY_METRICS = ("ttft_ms", "tpot_ms", "e2e_latency_ms", "prefill_ms", "decode_step_ms")
METRICS = THROUGHPUT_METRICS + LATENCY_METRICS
TRUST_WEIGHT = {"high": 1.0, "medium": 0.5, "low": 0.25}

# DeepSeek-V3/R1 MLA sizes, used when a row's MLA columns are blank.
MLA_DEFAULTS = {"kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
                "v_head_dim": 128, "q_lora_rank": 1536}
# Optional deployment columns (not in the public file; blank or absent = the engine's defaults).
DEPLOYMENT_COLUMNS = ("max_num_batched_tokens", "max_num_seqs", "requests_per_client")
# The columns an inference cases file may have: those the reader reads, and the provenance ones it
# keeps for people (../shared/validation/INFERENCE.md). A header outside these is named in a
# notice (`validate`, `calibrate`): a misspelt column is otherwise never read.
INFERENCE_COLUMNS = frozenset((
    "id", "source", "locator", "model", "params_b", "layers", "hidden", "heads", "kv_heads", "head_dim",
    "ffn_hidden", "vocab", "moe_experts", "moe_shared_experts", "moe_topk", "moe_ffn_hidden", "moe_dense_layers",
    "attention", "weight_dtype", "kv_dtype", "chip", "num_chips", "tp", "pp", "ep", "replicas", "engine",
    "scenario", "input_len", "output_len", "batch", "concurrency", "request_rate", *MLA_DEFAULTS,
    *DEPLOYMENT_COLUMNS, "metric", "value", "trust", "notes",
))


class RowError(Exception):
    """A problem with one row; the message names the field and value."""


def _text(row: Mapping, name: str) -> str:
    v = row.get(name)
    return "" if v is None else str(v).strip()


def _engine(row: Mapping) -> str:
    """The row's serving stack; a blank cell is "not reported", as `unknown` ("the serving stack is
    not stated", INFERENCE.md): the same prediction (QA s32: blank read as vLLM, `unknown` as an
    eager stack, up to 14x apart on one row)."""
    return _text(row, "engine") or "unknown"


def _num(row: Mapping, name: str, *, required: bool = True, integer: bool = False, positive: bool = True):
    raw = _text(row, name)
    if raw == "":
        if required:
            raise RowError(f"{name}: blank (required)")
        return None
    try:
        value = cell_float(raw)
    except ValueError:
        raise RowError(f"{name}: {raw!r} (not a number)") from None
    if not math.isfinite(value):
        raise RowError(f"{name}: {raw!r} (not finite)")
    if positive and value <= 0:
        raise RowError(f"{name}: {raw!r} (must be > 0)")
    if value < 0:
        raise RowError(f"{name}: {raw!r} (must be >= 0)")
    if integer:
        if value != int(value):
            raise RowError(f"{name}: {raw!r} (must be an integer)")
        return int(value)
    return value


def model_from_row(row: Mapping) -> ModelConfig:
    """A ModelConfig from the row's architecture columns (FFN gating and tied embeddings are
    chosen to match `params_b`; MLA sizes and leading dense layers come from their columns, blank
    MLA sizes take the DeepSeek-V3/R1 values). Provenance columns (notes, source) are never read."""
    name = _text(row, "model") or "model"
    layers = _num(row, "layers", integer=True)
    hidden = _num(row, "hidden", integer=True)
    heads = _num(row, "heads", integer=True)
    kv_heads = _num(row, "kv_heads", integer=True)
    head_dim = _num(row, "head_dim", integer=True, required=False) or 0
    vocab = _num(row, "vocab", integer=True)
    ffn = _num(row, "ffn_hidden", integer=True, required=False) or 0
    params_b = _num(row, "params_b", required=False)
    experts = _num(row, "moe_experts", integer=True, required=False) or 0
    attention = _text(row, "attention").lower()
    if not attention:   # not stated: MLA when its latent sizes are given, else from the KV heads
        latent = _num(row, "kv_lora_rank", integer=True, required=False)
        attention = "mla" if latent else ("mha" if kv_heads == heads else "gqa")
    if attention not in ("mha", "gqa", "mla"):
        raise RowError(f"attention: {attention!r} (one of mha, gqa, mla)")
    kw: dict = dict(id=name.lower(), name=name, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads,
                    head_dim=head_dim, ffn_hidden=ffn, vocab=vocab)
    if experts:
        kw.update(moe_experts=experts,
                  moe_shared_experts=_num(row, "moe_shared_experts", integer=True, required=False, positive=False) or 0,
                  moe_topk=_num(row, "moe_topk", integer=True),
                  moe_ffn_hidden=_num(row, "moe_ffn_hidden", integer=True))
        dense = _num(row, "moe_dense_layers", integer=True, required=False, positive=False)
        if dense is None:   # not stated: none without a dense FFN width, else matched to params_b below
            dense = 0 if ffn == 0 else -1
        kw["moe_dense_layers"] = dense
    if attention == "mla":
        # MLA sizes from their columns (INFERENCE.md); blank = the DeepSeek-V3/R1 values
        for name, default in MLA_DEFAULTS.items():
            kw[name] = _num(row, name, integer=True, required=False) or default
    candidates = []
    dense_opts = [kw.get("moe_dense_layers", 0)]
    if kw.get("moe_dense_layers", 0) == -1:
        dense_opts = list(range(0, min(layers, 6)))
    for gated in (True, False):
        for tied in (False, True):
            for d in dense_opts:
                args = dict(kw, gated_ffn=gated, tied_embeddings=tied)
                if experts:
                    args["moe_dense_layers"] = d
                m = ModelConfig(**args)
                candidates.append(m)
    if params_b:
        target = params_b * 1e9
        model = min(candidates, key=lambda m: abs(m.total_params() - target))
    else:
        model = candidates[0]
    problems = model.validate()
    if problems:
        raise RowError("; ".join(problems))
    return model


def _weights_fit(model: ModelConfig, weight_dtype: str, chip: Chip, chips_per_instance: int) -> bool:
    """Whether the model's weights alone, split over `chips_per_instance`, fit in a chip's HBM
    (True when the dtype or the capacity is unknown: nothing to decide on)."""
    per_param = DTYPE_BYTES.get(weight_dtype.strip().lower())
    hbm_gib = chip.hbm_gib
    if not per_param or not hbm_gib:
        return True
    return model.total_params() * per_param / chips_per_instance / 2**30 <= hbm_gib


def inputs_from_row(row: Mapping, chips: Mapping[str, Chip]) -> ServingInputs:
    chip_id = _text(row, "chip")
    if chip_id not in chips and chip_id.lower() in chips:     # catalog ids are lower case
        chip_id = chip_id.lower()
    if chip_id not in chips:
        raise RowError(f"chip: {chip_id!r} (not in the catalog)")
    model = model_from_row(row)
    pp = _num(row, "pp", integer=True, required=False) or 1
    given_ep = _num(row, "ep", integer=True, required=False)
    ep = given_ep or 1
    num_chips = _num(row, "num_chips", integer=True, required=False)
    given_replicas = _num(row, "replicas", integer=True, required=False)
    given_tp = _num(row, "tp", integer=True, required=False)
    # Blank = not reported (INFERENCE.md: num_chips = replicas x pp x max(tp, ep)): a blank tp is
    # what the chips hold after pp and the replicas (tensor-parallel attention over the expert
    # group; attention data-parallel, tp = 1, is the case a source states), a blank replica count
    # what the chips hold of one instance.
    replicas = given_replicas or 1
    tp = given_tp or 1
    if given_tp is None and num_chips and num_chips % (replicas * pp) == 0:
        tp = num_chips // (replicas * pp)
    elif (given_ep is None and model.is_moe and num_chips and num_chips % (replicas * pp) == 0
          and num_chips // (replicas * pp) > tp
          and (given_replicas is not None
               or not _weights_fit(model, _text(row, "weight_dtype"), chips[chip_id], tp * pp))):
        # a blank ep on an MoE row whose tp is known: the experts spread over what one instance
        # holds (attention data-parallel, DeepSeek's TP1 EP8; QA s32: an error, "expected 1"). With
        # the replicas blank too, only where one instance of tp x pp chips cannot hold the weights
        # (DeepSeek-R1 TP1 on 8 chips read as 8 replicas of 627 GiB each); where they fit, replicas
        ep = num_chips // (replicas * pp)
    elif given_replicas is None and num_chips and num_chips % (pp * max(tp, ep)) == 0:
        replicas = num_chips // (pp * max(tp, ep))
    if num_chips and num_chips != replicas * pp * max(tp, ep):
        raise RowError(f"num_chips: {num_chips} (expected replicas x pp x max(tp, ep) = "
                       f"{replicas * pp * max(tp, ep)})")
    scenario = _text(row, "scenario").lower()
    if scenario not in SCENARIOS:
        raise RowError(f"scenario: {scenario!r} (one of {', '.join(SCENARIOS)})")
    wdt = _text(row, "weight_dtype").lower()
    kdt = _text(row, "kv_dtype").lower() or default_kv_dtype(wdt, chips[chip_id])
    for label, dt in (("weight_dtype", wdt), ("kv_dtype", kdt)):
        if dt not in SERVE_DTYPES:
            raise RowError(f"{label}: {dt!r} (one of {', '.join(SERVE_DTYPES)})")
    _deployment_rules(row, model, chips[chip_id], pp, ep)
    kwargs = dict(model=model, chip=chips[chip_id], tp=tp, pp=pp, ep=ep, replicas=replicas,
                  input_len=_num(row, "input_len"), output_len=_num(row, "output_len"),
                  scenario=scenario, weight_dtype=wdt, kv_dtype=kdt, engine=_engine(row))
    if scenario == "static_batch":
        kwargs["batch"] = _num(row, "batch", integer=True)
    elif scenario == "concurrency":
        kwargs["concurrency"] = _num(row, "concurrency", integer=True)
    elif scenario == "server":
        kwargs["request_rate"] = _num(row, "request_rate")
    # Optional columns (blank or absent: the engine family's defaults and the simulator's
    # closed-loop protocol): the deployment's own scheduler limits and the benchmark's requests
    # per client. They describe the run, like tp or concurrency; provenance stays unread.
    for name in DEPLOYMENT_COLUMNS:
        v = _num(row, name, integer=True, required=False)
        if v is not None:
            kwargs[name] = v
    if "requests_per_client" in kwargs and scenario != "concurrency":
        raise RowError(f"requests_per_client: {kwargs['requests_per_client']} (only a concurrency row has clients)")
    budget = kwargs.get("max_num_batched_tokens")
    if too_small := budget_problem(kwargs["engine"], budget, kwargs["input_len"]):
        raise RowError(f"max_num_batched_tokens: {budget} ({too_small})")
    return ServingInputs(**kwargs)


# The names the shared layout rules (engine.studies) give the row's columns.
_COLUMN_NAMES = {"pp": "pp", "ep": "ep"}


def _deployment_rules(row: Mapping, model: ModelConfig, chip: Chip, pp: int, ep: int) -> None:
    """RowError for a deployment `fleetcast serve` refuses (engine.commands.serve.run): an engine
    on a chip it has no build for, EP on a dense model (or not splitting the experts), more
    pipeline stages than layers. Each rule is the engine's own function, worded once; a row that
    breaks one describes a run nobody made, and calibrating on it saved factors under a family
    the chip cannot run (`inf_hbm_eff@trtllm` on a 910B)."""
    from engine.studies import ep_experts_rule, pp_layers_rule

    engine = _engine(row)
    if wrong_engine := engine_chip_problem(engine, chip):
        raise RowError(f"engine: {engine!r} on chip {chip.id}: {wrong_engine}")
    if wrong_ep := ep_experts_rule(model, ep, _COLUMN_NAMES):
        raise RowError(wrong_ep)
    if wrong_pp := pp_layers_rule(model, pp, _COLUMN_NAMES):
        raise RowError(wrong_pp)


# How far past the physical limit (`physical_limit`) a measurement may lie before it is refused.
# The limit leaves out every overhead and efficiency, so no engine reaches it: the public cases come
# to at most 0.66 of it (inf-R0185, a prefill at batch 1 on an A100; 0.49 for a throughput row).
# A value 3x past it is a typo or a unit slip (546,550 tokens/s on one 910B at batch 10 for 546.55),
# not a run. Speculative decoding (several tokens per weight read, which this model does not
# describe) is the one real way past it: a run accepting over ~3 tokens a step is refused with it.
PHYSICAL_MARGIN = 3.0


def _weights_read(model: ModelConfig) -> float:
    """Parameters one forward step reads at least: the active ones (top-k and shared experts), the
    output head included, less the input embedding (a step reads only its tokens' rows of it)."""
    return float(model.active_params() - (0 if model.tied_embeddings else model.vocab * model.hidden))


def _figure(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def physical_limit(inp: ServingInputs, metric: str) -> tuple[float, str]:
    """(the best `metric` physics allows this deployment, what sets it), or (nan, "") where the
    chip lacks a rate. Throughput: an output token costs 2 FLOPs per active parameter at the
    chip's peak for the weights' GEMM dtype, and a decode step reads the active weights once for
    at most the row's batch or clients per instance (offline and server rows state none). Latency:
    one request reads the active weights once per step over every chip of its instance, and its
    prompt takes 2 FLOPs per active parameter per token at peak. Every term favours the run: no
    attention, KV reads, communication or overhead; the pipeline's stages counted as parallel."""
    chip, model = inp.chip, inp.model
    bw_gbps = chip.hbm_gbps or 0.0
    peak_tflops = chip.peak_tflops(compute_dtype(inp.weight_dtype, chip)) or 0.0
    if bw_gbps <= 0 or peak_tflops <= 0:
        return math.nan, ""
    params = _weights_read(model)
    weight_gb = params * DTYPE_BYTES[inp.weight_dtype] / 1e9
    L_in, L_out = float(inp.input_len), float(inp.output_len)
    if metric in THROUGHPUT_METRICS:
        limit = peak_tflops * 1e12 / (2.0 * params)
        how = (f"{chip.id}'s {peak_tflops:,.0f} TFLOP/s peak allows at 2 FLOPs per active parameter "
               f"({params / 1e9:.3g} billion) per output token")
        batch = {"static_batch": inp.batch, "concurrency": inp.concurrency}.get(inp.scenario)
        if batch:
            per_instance = max(batch / inp.replicas, 1.0)
            streamed = per_instance * bw_gbps / weight_gb
            if streamed < limit:
                limit = streamed
                how = (f"{chip.id}'s {bw_gbps:,.0f} GB/s of HBM allows reading {model.name}'s {weight_gb:.3g} GB "
                       f"of active weights once per decode step for {per_instance:,.4g} sequences per instance")
        if metric == "total_tokens_per_s_per_chip":   # each request's prompt tokens count with its output
            limit *= (L_in + L_out) / L_out
            how += f", counting {L_in:,.0f} prompt tokens with every {L_out:,.0f} output tokens"
        return limit, how
    chips = inp.pp * max(inp.tp, inp.ep)
    over = f"{chips} chip{'s' if chips > 1 else ''}"
    read_ms = weight_gb / (chips * bw_gbps) * 1e3
    read = f"{model.name}'s {weight_gb:.3g} GB of active weights read once over {over} at {bw_gbps:,.0f} GB/s each"
    prompt_ms = 2.0 * params * L_in / (chips * peak_tflops * 1e12) * 1e3
    prompt = (f"2 FLOPs per active parameter ({params / 1e9:.3g} billion) for each of {L_in:,.0f} prompt tokens "
              f"at {peak_tflops:,.0f} TFLOP/s over {over}")
    first_ms, first = (read_ms, read) if read_ms >= prompt_ms else (prompt_ms, prompt)
    if metric in ("ttft_ms", "prefill_ms"):
        return first_ms, first
    if metric in ("tpot_ms", "decode_step_ms"):
        return read_ms, read
    if metric == "e2e_latency_ms":
        return first_ms + (L_out - 1.0) * read_ms, f"{first}, then {read} for each of {L_out - 1.0:,.0f} more tokens"
    return math.nan, ""


def plausibility_problem(inp: ServingInputs, metric: str, measured: float, raw: str) -> str:
    """Why `measured` cannot be a measurement of this deployment ('' when it can): faster than
    PHYSICAL_MARGIN times what `physical_limit` allows, with the numbers. Training refuses a run
    past its chip's peak the same way (engine.validation)."""
    limit, how = physical_limit(inp, metric)
    if not (limit > 0 and math.isfinite(limit)):
        return ""
    m = PHYSICAL_MARGIN
    if metric in THROUGHPUT_METRICS:
        if measured <= limit * m:
            return ""
        where = f"above {m:g}x the {_figure(limit)} tokens/s per chip that {how} ({_figure(limit * m)} at most)"
    else:
        if measured >= limit / m:
            return ""
        where = f"below 1/{m:g} of the {limit:.3g} ms that {how} takes ({limit / m:.3g} ms at least)"
    return f"value: {raw!r} {metric} is {where}: not a possible measurement (check the value and its unit)"


def predict_metric(result, metric: str) -> float:
    if metric not in METRICS:
        raise RowError(f"metric: {metric!r} (one of {', '.join(METRICS)})")
    return float(getattr(result, metric))


def _config_key(row: Mapping) -> tuple:
    skip = {"id", "metric", "value", "notes", "trust", "locator"}
    return tuple(sorted((k, _text(row, k)) for k in row if k not in skip))


def _stats(errors: Sequence[float], weights: Sequence[float] | None = None) -> dict:
    e = np.abs(np.asarray(errors, dtype=float))
    if e.size == 0:
        return {"n": 0, "median_abs_error_pct": None, "p90_abs_error_pct": None, "mean_abs_error_pct": None}
    out = {"n": int(e.size), "median_abs_error_pct": float(np.median(e)),
           "p90_abs_error_pct": float(np.percentile(e, 90)), "mean_abs_error_pct": float(np.mean(e))}
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        order = np.argsort(e)
        cw = np.cumsum(w[order]) / w.sum()
        out["weighted_median_abs_error_pct"] = float(e[order][np.searchsorted(cw, 0.5)])
    return out


HOLDOUTS = ("source",)

# Documented prior ranges of the fitted serving factors. A leave-one-source-out fold refits every
# factor inside its range; a fitted value on a bound is reported (it means the model is missing a
# term, not that the factor is that value). Sources for each range: resources/calibration_README.md.
FIT_BOUNDS: Mapping[str, tuple] = {
    # decode weight streams reach 60-92% of spec HBM bandwidth on NVIDIA parts (STREAM-like copies
    # 85-92%); eager stacks and young kernels on other accelerators far less (vLLM-Ascend ~25%)
    "inf_hbm_eff": (0.2, 0.95),
    # paged-attention KV reads relative to the weight stream: scattered blocks, 50-120%
    "inf_kv_eff": (0.5, 1.2),
    # large-prefill GEMM efficiency: cuBLAS 65-80% of H100 dense peak, CANN ~75% of the 910B cube
    "inf_prefill_mfu": (0.3, 0.9),
    # decode GEMMs at batch tens-hundreds: skinny shapes, 5-80% of dense peak
    "inf_decode_mfu": (0.05, 0.8),
    # GEMM rows at which efficiency halves: tens to a few hundred (wave quantisation, tile sizes)
    "inf_gemm_half_tokens": (16.0, 512.0),
    # fixed per-step cost: scheduler, sampling, detokenisation hand-off, 0.1-10 ms
    "inf_step_overhead_ms": (0.1, 10.0),
    # kernel launches per layer not hidden by CUDA graphs: 2-100 us
    "inf_layer_overhead_us": (2.0, 100.0),
    # all-reduce latency per layer per doubling of the group: NVLink one-shot 5-30 us, rings more
    "inf_comm_layer_overhead_us": (2.0, 100.0),
    # all-reduce across nodes per layer: tens to hundreds of us (InfiniBand/RoCE round trips)
    "inf_scaleout_layer_overhead_us": (20.0, 1000.0),
    # collectives' share of the link: nccl-tests 75-85% of NVLink; eager rings without overlap less
    "inf_link_eff": (0.1, 0.95),
    # grouped expert GEMM FLOPs relative to dense GEMMs (routing, permutation, tens of rows per
    # expert): 20-100%
    "inf_moe_eff": (0.2, 1.0),
    # routed expert weight reads relative to the dense weight stream: grouped-GEMM kernels stream
    # weights like dense GEMMs (prior 1); young fused-MoE kernels far less. Up to 1.15 (0.95 of
    # spec HBM at the default 0.83 stream efficiency)
    "inf_moe_read_eff": (0.3, 1.15),
    # HBM kept from the KV cache (activations, graphs, fragmentation): vLLM 10%, TRT-LLM 5-10%
    "inf_mem_reserve_frac": (0.02, 0.3),
    # per-step overhead of an engine family relative to a CUDA-graph engine: 0.2-10x
    "inf_overhead_scale": (0.2, 10.0),
    # prefill step overhead relative to a decode step's: 0.2-3x
    "inf_prefill_overhead_scale": (0.2, 3.0),
    # 8-bit GEMM efficiency relative to 16-bit (activation quantisation each layer): 0.4-1.0
    "inf_fp8_gemm_rel": (0.4, 1.0),
}
# `inf_fp8_gemm_rel` (8-bit GEMMs relative to 16-bit, 0.85) is a documented default, not fitted:
# an all-rows fit inside 0.4-1.0 leaves it at its prior.
FITTED_FACTORS = tuple(FIT_BOUNDS)
# Multipliers that are 1 by definition at the default scope (a modern CUDA-graph engine): only
# their engine-family keys are fitted.
_UNIT_AT_DEFAULT = ("inf_overhead_scale", "inf_prefill_overhead_scale")
# Documented defaults at the default scope that only a chip family's own row refits: the FP8
# GEMM share is the training model's prior (0.85) for every chip without one; the 910B's W8A8
# value is fitted on its INT8 rows, and returns to that prior in a fold that cannot see them.
# The expert read efficiency's prior is the dense weight stream (1); engine families whose
# fused-MoE kernels stream slower carry fitted `@family` keys.
_FIXED_AT_DEFAULT = ("inf_fp8_gemm_rel", "inf_moe_read_eff")
_FOLD_STEP = 0.1           # log step of the finite-difference sensitivities
FOLD_PRIOR_WEIGHT = 0.1   # pull toward the documented prior, relative to the data's total weight
FOLD_TRUST_REGION = 1.5    # a refit moves a factor at most 1.5x from where the model was linearised


def _scope_rank(scope: str, chip: Chip) -> int:
    """engine.catalog.scope_rank on the chip's calibration_target (its calibrate_as, else its id),
    -1 where the scope does not name it: a copy of the H100 takes the rows the H100 takes, as
    resolve_calibration gives it (matched on its own id, it was refitted as a chip of its own)."""
    from engine.catalog import calibration_target, scope_rank

    rank = scope_rank(scope, calibration_target(chip), chip.vendor or "")
    return -1 if rank is None else rank


def fitted_parameters(chips: Mapping[str, Chip], cal_rows: Sequence[Mapping] | None = None) -> list[dict]:
    """The fitted serving factors as parameters: one per calibration row whose factor is in
    FIT_BOUNDS (`scope`, `name` such as `inf_overhead_scale@generic`, the engine `family` it is
    keyed on or None, and the ids of the chips whose value that row sets: the most specific scope
    wins, as in `engine.catalog.resolve_calibration`)."""
    if cal_rows is None:
        from engine.catalog import calibration_rows

        cal_rows = calibration_rows()
    rows = [r for r in cal_rows if (r.get("factor") or "").split("@", 1)[0].strip() in FIT_BOUNDS
            and str(r.get("value", "")).strip()
            and not ((r.get("scope") or "").strip() == "default"
                     and (r.get("factor") or "").strip() in _UNIT_AT_DEFAULT + _FIXED_AT_DEFAULT)]
    params: dict = {}
    for chip in chips.values():
        best: dict = {}
        for r in rows:
            rank = _scope_rank(r.get("scope", ""), chip)
            name = r["factor"].strip()
            if rank >= 0 and (name not in best or rank >= best[name][0]):
                best[name] = (rank, (r.get("scope") or "").strip())
        for name, (_, scope) in best.items():
            p = params.setdefault((scope, name), {"scope": scope, "name": name, "chips": set(),
                                                  "family": name.split("@", 1)[1] if "@" in name else None})
            p["chips"].add(chip.id)
    return [dict(p, chips=frozenset(p["chips"])) for _, p in sorted(params.items())]


def _prior_value(param: dict) -> float:
    """The documented value a parameter takes before any fit: the family's prior, else the code
    default (engine.inference.DEFAULT_FACTORS)."""
    from engine.inference import DEFAULT_FACTORS
    from engine.serving.families import FAMILY_PRIORS

    base = param["name"].split("@", 1)[0]
    if param["family"]:
        return float(FAMILY_PRIORS.get(param["family"], {}).get(base, DEFAULT_FACTORS[base]))
    return float(DEFAULT_FACTORS[base])


def _param_value(chips: Mapping[str, Chip], param: dict) -> float:
    from engine.inference import DEFAULT_FACTORS

    cid = sorted(param["chips"])[0]
    return float(chips[cid].calibration.get(param["name"], DEFAULT_FACTORS[param["name"].split("@", 1)[0]]))


def _chips_with(chips: Mapping[str, Chip], values: Mapping[str, tuple], drop: Sequence[dict] = ()) -> dict:
    """Chips with parameters set: `values` maps a parameter key to (param, value); `drop` lists
    family-keyed parameters removed (the family falls back to its prior)."""
    from dataclasses import replace
    from types import MappingProxyType

    cal = {cid: dict(c.calibration) for cid, c in chips.items()}
    for param in drop:
        for cid in param["chips"]:
            cal[cid].pop(param["name"], None)
    for param, value in values.values():
        for cid in param["chips"]:
            cal[cid][param["name"]] = float(value)
    return {cid: replace(c, calibration=MappingProxyType(cal[cid])) for cid, c in chips.items()}


def _param_key(param: dict) -> str:
    return f"{param['scope']}:{param['name']}"


def _row_uses(param: dict, row: Mapping) -> bool:
    from engine.serving.families import engine_family

    if _text(row, "chip") not in param["chips"]:
        return False
    return param["family"] is None or engine_family(_engine(row)) == param["family"]


def sensitivities(rows: list[dict], chips: Mapping[str, Chip], params: Sequence[dict], *,
                  should_stop: Callable[[], bool] | None = None,
                  progress: Callable[[float, str], None] | None = None) -> tuple:
    """(cases at the current factors, J) where J[i, p] = d log(prediction of row i) /
    d log(parameter p), by a finite difference of `_FOLD_STEP` (only the rows a parameter can move
    are re-predicted)."""
    from engine.errors import Cancelled

    base = validate_inference_cases(rows, dict(chips))["cases"]
    J = np.zeros((len(rows), len(params)))
    logp0 = np.array([math.log(c["predicted"]) if c["status"] == "ok" and (c["predicted"] or 0) > 0 else np.nan
                      for c in base])
    for j, param in enumerate(params):
        if should_stop is not None and should_stop():
            raise Cancelled()
        if progress is not None:
            progress(j / max(len(params), 1), f"sensitivity to {param['name']} ({param['scope']})")
        idx = [i for i, r in enumerate(rows) if _row_uses(param, r)]
        if not idx:
            continue
        v = _param_value(chips, param) * math.exp(_FOLD_STEP)
        moved = _chips_with(chips, {_param_key(param): (param, v)})
        sub = validate_inference_cases([rows[i] for i in idx], moved)["cases"]
        for i, c in zip(idx, sub):
            if c["status"] == "ok" and (c["predicted"] or 0) > 0 and np.isfinite(logp0[i]):
                J[i, j] = (math.log(c["predicted"]) - logp0[i]) / _FOLD_STEP
    return base, J


def refit_linearised(rows: list[dict], base_cases: list[dict], J: np.ndarray, params: Sequence[dict],
                     chips: Mapping[str, Chip], train: Sequence[int], *, prior_weight: float = FOLD_PRIOR_WEIGHT,
                     trust_region: float = FOLD_TRUST_REGION) -> dict:
    """Refit every parameter that a training row depends on, on the training rows only.

    Objective: the trust-weighted mean |log error| (the loss the packaged calibration was fitted
    on), plus `prior_weight` x |log(value / documented prior)| per parameter (so a factor the rows
    barely constrain stays physical), with the predictions linearised around the current factors
    (log prediction + J . change in log factors; a Gauss-Newton model of the full simulation).
    Being piecewise linear it is solved exactly as a linear programme (SciPy HiGHS), so the result
    does not depend on a starting point. Each factor stays inside its documented range
    (FIT_BOUNDS) and within `trust_region` x of where the model was linearised. Parameters that no
    training row depends on are not identified and return None (their prior applies).
    Returns {"values": {key: value or None}, "identified": [...], "on_bound": [...]}."""
    from scipy.optimize import linprog

    train = [i for i in train if base_cases[i]["status"] == "ok" and (base_cases[i]["predicted"] or 0) > 0
             and (base_cases[i]["measured"] or 0) > 0]
    ident = [j for j in range(len(params)) if train and np.any(np.abs(J[train, j]) > 1e-9)]
    values: dict = {_param_key(p): None for p in params}
    on_bound: list = []
    if ident:
        n, P = len(train), len(ident)
        Jt = J[np.ix_(train, ident)]
        r = np.log([base_cases[i]["predicted"] / base_cases[i]["measured"] for i in train])
        w = np.array([TRUST_WEIGHT.get(base_cases[i].get("trust") or "medium", 0.5) for i in train])
        x0 = np.log([_param_value(chips, params[j]) for j in ident])
        prior = np.log([_prior_value(params[j]) for j in ident])
        rng = [FIT_BOUNDS[params[j]["name"].split("@", 1)[0]] for j in ident]
        lo = np.maximum(np.log([a for a, _ in rng]), x0 - math.log(trust_region))
        hi = np.minimum(np.log([b for _, b in rng]), x0 + math.log(trust_region))
        # variables: d = x - x0 (P), t >= |r + J d| (n), u >= |x - prior| (P)
        lam = prior_weight * float(w.sum()) / P
        c = np.concatenate([np.zeros(P), w, np.full(P, lam)])
        eye_n, eye_p = np.eye(n), np.eye(P)
        A = np.vstack([np.hstack([Jt, -eye_n, np.zeros((n, P))]),
                       np.hstack([-Jt, -eye_n, np.zeros((n, P))]),
                       np.hstack([eye_p, np.zeros((P, n)), -eye_p]),
                       np.hstack([-eye_p, np.zeros((P, n)), -eye_p])])
        b = np.concatenate([-r, r, prior - x0, x0 - prior])
        box = [(float(l0 - x), float(h0 - x)) for l0, h0, x in zip(lo, hi, x0)] + [(0.0, None)] * (n + P)
        sol = linprog(c, A_ub=A, b_ub=b, bounds=box, method="highs")
        d = sol.x[:P] if sol.status == 0 else np.zeros(P)
        for k, j in enumerate(ident):
            key = _param_key(params[j])
            x = float(x0[k] + d[k])
            values[key] = math.exp(x)
            if min(abs(x - math.log(rng[k][0])), abs(x - math.log(rng[k][1]))) < 1e-6:
                on_bound.append(key)
    return {"values": values, "identified": [_param_key(params[j]) for j in ident], "on_bound": on_bound}


def _fold_chips(chips: Mapping[str, Chip], params: Sequence[dict], values: Mapping[str, float | None]) -> dict:
    """Chips carrying a fold's refitted values; an unidentified family key is dropped (the family
    prior applies), an unidentified chip- or vendor-scope factor takes the fold's default-scope
    value, an unidentified default-scope factor its documented code default."""
    setv: dict = {}
    drop = []
    default_vals = {p["name"]: values.get(_param_key(p)) for p in params if p["scope"] == "default"}
    for p in params:
        k = _param_key(p)
        v = values.get(k)
        if v is None:
            if p["family"]:
                drop.append(p)
                continue
            v = default_vals.get(p["name"]) if p["scope"] != "default" else None
            if v is None:
                v = _prior_value(p)
        setv[k] = (p, v)
    return _chips_with(chips, setv, drop)


# Where an unidentified parameter's fold value comes from (`_fold_chips`): a documented value no
# row of the fold set, or the fit of a wider scope to other rows.
_PRIOR_KEPT = "prior kept"
_OTHER_ENGINES = "fitted on other engines' rows"
_OTHER_CHIPS = "fitted on other chips' rows"


def _fold_fallback(param: dict, params: Sequence[dict], values: Mapping[str, float | None], chip_id: str) -> str:
    """What a row on `chip_id` gets in a fold for `param`, which no training row identified
    (mirrors `_fold_chips` and the engine's lookup: chip `name@family` > family prior > chip
    `name`): _PRIOR_KEPT, _OTHER_ENGINES or _OTHER_CHIPS."""
    from engine.serving.families import FAMILY_PRIORS

    name = param["name"].split("@", 1)[0]
    if param["family"]:
        if name in FAMILY_PRIORS.get(param["family"], {}):
            return _PRIOR_KEPT
        # the family key is dropped: the chip's own (unkeyed) factor applies
        unkeyed = next((p for p in params if p["name"] == name and chip_id in p["chips"]), None)
        if unkeyed is None:           # not fitted at all (a unit or fixed default): its documented value
            return _PRIOR_KEPT
        if values.get(_param_key(unkeyed)) is not None:
            return _OTHER_ENGINES
        param = unkeyed
    if param["scope"] != "default":
        wider = next((p for p in params if p["scope"] == "default" and p["name"] == param["name"]), None)
        if wider is not None and values.get(_param_key(wider)) is not None:
            return _OTHER_CHIPS
    return _PRIOR_KEPT


def _factor_label(key: str) -> str:
    """A parameter key as people read it: the factor alone at the default scope."""
    return key.split(":", 1)[1] if key.startswith("default:") else key


def _fallback_text(fallbacks: Iterable[tuple[str, str]]) -> str:
    """(key, fallback) pairs as "prior kept (no rows left to refit): a, b; fitted on other chips'
    rows: c": the outcome first (a table cuts a row's message after 48 characters)."""
    by_kind: dict[str, list[str]] = {}
    for key, kind in sorted(set(fallbacks)):
        by_kind.setdefault(kind, []).append(_factor_label(key))
    kinds = [kind for kind in (_PRIOR_KEPT, _OTHER_ENGINES, _OTHER_CHIPS) if kind in by_kind]
    return "; ".join(f"{kind}{' (no rows left to refit)' if n == 0 else ''}: {', '.join(by_kind[kind])}"
                     for n, kind in enumerate(kinds))


def _fold_note(group: str, fallbacks: Iterable[tuple[str, str]]) -> str | None:
    """One line for a fold whose predicted rows depend on factors no training row was left to
    refit (as engine.validation's `_fold_note` says it for training), or None."""
    if not fallbacks:
        return None
    shown = group if len(group) <= 40 else group[:39] + "…"
    return f"fold '{shown}': " + _fallback_text(fallbacks)


def holdout_refit(rows: list[dict], chips: Mapping[str, Chip], *, key: str = "source",
                  progress: Callable[[float, str], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> dict:
    """Leave-one-`key`-out with every fitted factor (base factors and family keys) refitted per
    fold on the other groups' rows (`refit_linearised`), then the left-out rows predicted by the
    full simulation at the fold's factors. A factor that a left-out row depends on but no other
    group's row does is not refitted (its prior, or a wider scope's fit, applies): said in the
    row's message and in one note per fold. Returns {"cases", "folds", "notes",
    "in_sample_cases", "params"}."""
    from engine.errors import Cancelled

    params = fitted_parameters(chips)
    base, J = sensitivities(rows, chips, params, should_stop=should_stop,
                            progress=(lambda f, m: progress(0.7 * f, m)) if progress else None)
    groups = sorted({_text(r, key) for r in rows})
    out: list = [None] * len(rows)
    folds = {}
    notes: list[str] = []
    for gi, g in enumerate(groups):
        if should_stop is not None and should_stop():
            raise Cancelled()
        if progress is not None:
            progress(0.7 + 0.3 * gi / max(len(groups), 1), f"leaving out {g[:40]}")
        test = [i for i, r in enumerate(rows) if _text(r, key) == g]
        train = [i for i, r in enumerate(rows) if _text(r, key) != g]
        fit = refit_linearised(rows, base, J, params, chips, train)
        fchips = _fold_chips(chips, params, fit["values"])
        pred = validate_inference_cases([rows[i] for i in test], fchips)["cases"]
        fold_fallbacks: set[tuple[str, str]] = set()
        for i, c in zip(test, pred):
            # the unrefitted factors this row's prediction moves with (its sensitivities), and
            # what it gets instead (a family key's fallback depends on the row's chip)
            row_fallbacks = {(_param_key(params[j]), _fold_fallback(params[j], params, fit["values"], _text(rows[i], "chip")))
                             for j in range(len(params))
                             if fit["values"].get(_param_key(params[j])) is None and abs(J[i, j]) > 1e-9}
            if c["status"] == "ok" and row_fallbacks:
                fold_fallbacks |= row_fallbacks
                # first: a table cuts a long message at its end
                c["message"] = "; ".join(x for x in (_fallback_text(row_fallbacks), c["message"]) if x)
            out[i] = c
        folds[g] = {"values": {k: v for k, v in fit["values"].items() if v is not None},
                    "not_identified": sorted(k for k, v in fit["values"].items() if v is None),
                    "on_bound": fit["on_bound"],
                    # {factor: what the left-out rows got instead}
                    "not_refitted": {k: " / ".join(sorted(kind for kk, kind in fold_fallbacks if kk == k))
                                     for k in sorted({k for k, _ in fold_fallbacks})}}
        note = _fold_note(g, fold_fallbacks)
        if note:
            notes.append(note)
    return {"cases": out, "folds": folds, "notes": notes, "in_sample_cases": base, "params": params}


def validate_inference_cases(rows: list[dict], chips: dict[str, Chip], *,
                             factors: Mapping[str, float] | None = None,
                             progress: Callable[[float, str], None] | None = None,
                             should_stop: Callable[[], bool] | None = None,
                             holdout: str | None = None) -> dict:
    """Predict each row's `metric` and compare with `value`; see the module doc.

    `holdout="source"`: leave one source out, every fitted factor refitted per fold on the other
    sources (`holdout_refit`); `summary.overall` is then out of sample and `summary.in_sample` the
    ordinary run beside it, with the per-fold factors in `summary.folds`."""
    from engine.errors import Cancelled  # noqa: F401  (defined by the errors module)

    if holdout is not None:
        if holdout not in HOLDOUTS:
            raise UserError(f"holdout: {holdout!r} (one of {', '.join(HOLDOUTS)})")
        if factors:
            raise UserError("holdout: explicit factor overrides cannot be combined with a refit per fold")
        res = holdout_refit([r or {} for r in rows], chips, key=holdout, progress=progress, should_stop=should_stop)
        summary = summarize(res["cases"])
        ins = summarize(res["in_sample_cases"])
        summary["holdout"] = holdout
        summary["in_sample"] = ins["overall"]
        summary["in_sample_by_metric"] = ins["by_metric"]
        summary["in_sample_by_engine"] = ins["by_engine"]
        summary["fitted_factors"] = [_param_key(p) for p in res["params"]]
        summary["folds"] = res["folds"]
        summary["notes"] = res["notes"]
        return {"cases": res["cases"], "summary": summary}
    cache: dict = {}
    cases = []
    for i, row in enumerate(rows):
        if should_stop is not None and should_stop():
            raise Cancelled()
        if progress is not None and i % 16 == 0:
            progress(i / max(len(rows), 1), f"case {i + 1} of {len(rows)}")
        row = row or {}
        case: dict[str, Any] = {"id": _text(row, "id") or f"row-{i + 1}", "metric": _text(row, "metric").lower(),
                "source": _text(row, "source"), "chip": _text(row, "chip"), "model": _text(row, "model"),
                "engine": _engine(row), "scenario": _text(row, "scenario"),
                "trust": _text(row, "trust").lower() or "medium",   # any case ("Low" weighed as unknown)
                "measured": None, "predicted": None, "error_pct": None, "status": "error", "message": ""}
        try:
            if row.get(SHORT_ROW):   # its blank tail is a cut row, not "not reported"
                raise RowError(row[SHORT_ROW])
            measured = _num(row, "value")
            case["measured"] = measured
            metric = case["metric"]
            if metric not in METRICS:
                raise RowError(f"metric: {metric!r} (one of {', '.join(METRICS)})")
            key = _config_key(row)
            row_chips = chips
            if key not in cache:
                try:
                    inp = inputs_from_row(row, row_chips)
                    if factors:
                        from dataclasses import replace

                        inp = replace(inp, factors=dict(factors))
                    cache[key] = (inp, evaluate_serving(inp))
                except (RowError, UserError) as exc:
                    cache[key] = (None, exc)
            inp, res = cache[key]
            if isinstance(res, Exception):
                raise res
            # a value no deployment could measure is named, never scored or fitted
            if impossible := plausibility_problem(inp, metric, measured, _text(row, "value")):
                raise RowError(impossible)
            if not res.feasible:
                case["status"] = "infeasible"
                case["message"] = res.reason
            else:
                pred = predict_metric(res, metric)
                if not math.isfinite(pred):
                    raise RowError(f"metric {metric}: prediction is not finite")
                case["predicted"] = pred
                case["error_pct"] = 100.0 * (pred - measured) / measured
                case["status"] = "ok"
                case["limiting"] = res.limiting
                if not known_engine(case["engine"]):   # a typo ("vlm@0.6") must not move a figure unseen
                    case["message"] = (f"engine {case['engine']!r} not recognised: modelled as the generic family "
                                       "(no engine's scheduler defaults); give a family such as vllm, sglang or trtllm")
                # how a precision the chip has no matrix rate for was read (FP8 weights on an A100: W8A16),
                # as serve says it (QA s32: the row said nothing)
                if precision := precision_note(inp.chip, inp.weight_dtype, inp.kv_dtype):
                    case["message"] = "; ".join(x for x in (case["message"], precision) if x)
        except (RowError, UserError) as exc:
            case["status"] = "error"
            case["message"] = str(exc)
        except Exception as exc:  # a bug must not hide the other rows
            case["status"] = "error"
            case["message"] = f"{type(exc).__name__}: {exc}"
        cases.append(case)
    if progress is not None:
        progress(1.0, "done")
    summary = summarize(cases)
    if holdout:
        summary["holdout"] = holdout
    return {"cases": cases, "summary": summary}


def validate_inference_holdout(rows: list[dict], chips: dict[str, Chip], *, key: str = "source",
                               progress=None, should_stop=None) -> dict:
    """`fleetcast validate inference --holdout source` (engine/commands/validate.py's runner)."""
    return validate_inference_cases(rows, chips, holdout=key, progress=progress, should_stop=should_stop)


def summarize(cases: list[dict]) -> dict:
    from engine.serving.families import engine_family

    ok = [c for c in cases if c["status"] == "ok"]

    def group(key_fn) -> dict:
        groups: dict = {}
        for c in ok:
            groups.setdefault(key_fn(c), []).append(c)
        return {k: _stats([c["error_pct"] for c in v], [TRUST_WEIGHT.get(c["trust"], 0.5) for c in v])
                for k, v in sorted(groups.items())}

    counts = {s: sum(1 for c in cases if c["status"] == s) for s in ("ok", "infeasible", "error")}
    overall = _stats([c["error_pct"] for c in ok], [TRUST_WEIGHT.get(c["trust"], 0.5) for c in ok])
    by_class = group(lambda c: "throughput" if c["metric"] in THROUGHPUT_METRICS else "latency")
    worst = sorted(ok, key=lambda c: -abs(c["error_pct"]))[:10]
    return {
        "cases": len(cases), "counts": counts, "overall": overall, "by_class": by_class,
        "by_source": group(lambda c: c["source"]), "by_chip": group(lambda c: c["chip"]),
        "by_metric": group(lambda c: c["metric"]), "by_engine": group(lambda c: engine_family(c["engine"])),
        "by_scenario": group(lambda c: c.get("scenario") or ""),
        "worst": [{"id": c["id"], "metric": c["metric"], "measured": c["measured"],
                   "predicted": c["predicted"], "error_pct": c["error_pct"]} for c in worst],
    }


# ---- calibration: fit factors to measurements ------------------------------------------------------

def fit_inference_factors(rows: list[dict], chips: dict[str, Chip], names: Sequence[str],
                          start: Mapping[str, float] | None = None, *, rounds: int = 3,
                          bounds: Mapping[str, tuple] | None = None,
                          should_stop: Callable[[], bool] | None = None, min_step: float = 0.01,
                          progress: Callable[[str, float, float], None] | None = None) -> dict:
    """Fit the named factors (one value each for every row given) by coordinate search on the
    trust-weighted mean absolute log error. Returns {"factors", "loss_before", "loss_after",
    "unconstrained"}. A factor's step halves after each try that does not help and stops below
    `min_step` (log units: 1%); each loss runs every row's simulation, seconds on a large file.
    `progress(name, value, loss)` is told before each try.

    Callers select the rows (e.g. one chip and engine) and store the result under that scope.
    """
    from engine.errors import Cancelled
    from engine.inference import DEFAULT_FACTORS

    unknown = [n for n in names if n.split("@", 1)[0] not in DEFAULT_FACTORS]
    if unknown:
        raise UserError(f"factor {unknown[0]!r}: not an inference factor ({', '.join(DEFAULT_FACTORS)})")
    current = {n: float((start or {}).get(n, DEFAULT_FACTORS[n.split("@", 1)[0]])) for n in names}

    def loss(f) -> float:
        res = validate_inference_cases(rows, chips, factors=f)
        errs, ws = [], []
        for c in res["cases"]:
            if c["status"] == "ok" and c["predicted"] > 0:
                errs.append(abs(math.log(c["predicted"] / c["measured"])))
                ws.append(TRUST_WEIGHT.get(c["trust"], 0.5))
            else:
                errs.append(2.0)
                ws.append(TRUST_WEIGHT.get(c.get("trust", "medium"), 0.5))
        return float(np.average(errs, weights=ws)) if errs else 0.0

    before = loss(current)
    best = before
    step = {n: 0.5 for n in names}
    moved = set()   # factors some trial's loss differed with: the rest no row depends on
    for _ in range(rounds):
        for n in names:
            for _try in range(6):
                if step[n] < min_step:   # a finer step than the rows can tell apart: done with n
                    break
                if progress is not None:
                    progress(n, current[n], best)
                if should_stop is not None and should_stop():
                    raise Cancelled()
                improved = False
                for sign in (1.0, -1.0):
                    trial = dict(current)
                    trial[n] = current[n] * math.exp(sign * step[n])
                    key = n if bounds and n in bounds else n.split("@", 1)[0]   # family keys share a range
                    if bounds and key in bounds:
                        lo, hi = bounds[key]
                        trial[n] = min(max(trial[n], lo), hi)
                    l = loss(trial)
                    if abs(l - best) > 1e-12:
                        moved.add(n)
                    if l < best - 1e-9:
                        best, current, improved = l, trial, True
                        break
                if not improved:
                    step[n] *= 0.5
    return {"factors": current, "loss_before": before, "loss_after": best,
            "unconstrained": tuple(n for n in names if n not in moved)}
