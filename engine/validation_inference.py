"""Predict every row of an inference validation file and score the errors.

Schema: ../shared/validation/INFERENCE.md. One bad row becomes an `error` case naming the field
and value; it never stops the others. Rows of one configuration share one simulation (cached).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np

from engine.errors import UserError
from engine.hardware import Chip
from engine.inference import SCENARIOS, SERVE_DTYPES, ServingInputs, evaluate_serving
from engine.models import ModelConfig

THROUGHPUT_METRICS = ("output_tokens_per_s_per_chip", "total_tokens_per_s_per_chip")
LATENCY_METRICS = ("ttft_ms", "tpot_ms", "e2e_latency_ms", "prefill_ms", "decode_step_ms")
METRICS = THROUGHPUT_METRICS + LATENCY_METRICS
TRUST_WEIGHT = {"high": 1.0, "medium": 0.5, "low": 0.25}

# DeepSeek-V3/R1 MLA sizes, used when a row's MLA columns are blank.
MLA_DEFAULTS = {"kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128,
                "v_head_dim": 128, "q_lora_rank": 1536}


class RowError(Exception):
    """A problem with one row; the message names the field and value."""


def _text(row: Mapping, name: str) -> str:
    v = row.get(name)
    return "" if v is None else str(v).strip()


def _num(row: Mapping, name: str, *, required: bool = True, integer: bool = False, positive: bool = True):
    raw = _text(row, name)
    if raw == "":
        if required:
            raise RowError(f"{name}: blank (required)")
        return None
    try:
        value = float(raw)
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
    attention = _text(row, "attention").lower() or ("mha" if kv_heads == heads else "gqa")
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


def inputs_from_row(row: Mapping, chips: Mapping[str, Chip]) -> ServingInputs:
    chip_id = _text(row, "chip")
    if chip_id not in chips:
        raise RowError(f"chip: {chip_id!r} (not in the catalog)")
    model = model_from_row(row)
    tp = _num(row, "tp", integer=True, required=False) or 1
    pp = _num(row, "pp", integer=True, required=False) or 1
    ep = _num(row, "ep", integer=True, required=False) or 1
    replicas = _num(row, "replicas", integer=True, required=False) or 1
    num_chips = _num(row, "num_chips", integer=True, required=False)
    if num_chips and num_chips != replicas * pp * max(tp, ep):
        raise RowError(f"num_chips: {num_chips} (expected replicas x pp x max(tp, ep) = "
                       f"{replicas * pp * max(tp, ep)})")
    scenario = _text(row, "scenario")
    if scenario not in SCENARIOS:
        raise RowError(f"scenario: {scenario!r} (one of {', '.join(SCENARIOS)})")
    wdt = _text(row, "weight_dtype").lower()
    kdt = _text(row, "kv_dtype").lower() or wdt
    for label, dt in (("weight_dtype", wdt), ("kv_dtype", kdt)):
        if dt not in SERVE_DTYPES:
            raise RowError(f"{label}: {dt!r} (one of {', '.join(SERVE_DTYPES)})")
    kwargs = dict(model=model, chip=chips[chip_id], tp=tp, pp=pp, ep=ep, replicas=replicas,
                  input_len=_num(row, "input_len"), output_len=_num(row, "output_len"),
                  scenario=scenario, weight_dtype=wdt, kv_dtype=kdt, engine=_text(row, "engine"))
    if scenario == "static_batch":
        kwargs["batch"] = _num(row, "batch", integer=True)
    elif scenario == "concurrency":
        kwargs["concurrency"] = _num(row, "concurrency", integer=True)
    elif scenario == "server":
        kwargs["request_rate"] = _num(row, "request_rate")
    return ServingInputs(**kwargs)


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


def _default_scope_calibration() -> dict:
    """The calibration every chip gets before chip- or vendor-specific rows apply."""
    from engine.catalog import calibration_rows

    return {r["factor"]: float(r["value"]) for r in calibration_rows()
            if (r.get("scope") or "").strip().lower() == "default" and str(r.get("value", "")).strip()}


def holdout_chips(rows: list[dict], chips: Mapping[str, Chip], held_source: str) -> dict:
    """Chips as if no row of `held_source` had ever been seen (leave-one-source-out).

    A factor is evidence-bound to a scope: an engine family's `name@family` values and a chip
    vendor's own values. When no other source has rows of that engine family, its family keys
    are dropped (the family falls back to the base factors); when no other source has rows of
    that chip vendor, the chip gets the default-scope calibration instead of its own. The base
    factors, fitted over every NVIDIA source, are not refitted per fold (an approximation: no
    single source dominates them).
    Returns {(chip_id, family): Chip} for the rows of `held_source`.
    """
    from engine.serving.families import engine_family

    others_fam = {engine_family(_text(r, "engine")) for r in rows if _text(r, "source") != held_source}
    others_vendor = {chips[_text(r, "chip")].vendor for r in rows
                     if _text(r, "source") != held_source and _text(r, "chip") in chips}
    base = None
    out = {}
    for r in rows:
        if _text(r, "source") != held_source or _text(r, "chip") not in chips:
            continue
        chip = chips[_text(r, "chip")]
        fam = engine_family(_text(r, "engine"))
        if (chip.id, fam) in out:
            continue
        cal = dict(chip.calibration)
        if chip.vendor not in others_vendor:
            if base is None:
                base = _default_scope_calibration()
            cal = {k: v for k, v in cal.items() if not k.startswith("inf_")}
            cal.update({k: v for k, v in base.items() if k.startswith("inf_")})
        if fam not in others_fam:
            cal = {k: v for k, v in cal.items() if not k.endswith(f"@{fam}")}
        from dataclasses import replace
        from types import MappingProxyType

        out[(chip.id, fam)] = replace(chip, calibration=MappingProxyType(cal))
    return out


def validate_inference_cases(rows: list[dict], chips: dict[str, Chip], *,
                             factors: Mapping[str, float] | None = None,
                             progress: Callable[[float, str], None] | None = None,
                             should_stop: Callable[[], bool] | None = None,
                             holdout: str | None = None) -> dict:
    """Predict each row's `metric` and compare with `value`; see the module doc.

    `holdout="source"`: each row is predicted with the factors it would have without any row of
    its own source (`holdout_chips`); the summary then holds out-of-sample figures."""
    from engine.errors import Cancelled  # noqa: F401  (defined by the errors module)
    from engine.serving.families import engine_family

    if holdout is not None and holdout not in HOLDOUTS:
        raise UserError(f"holdout: {holdout!r} (one of {', '.join(HOLDOUTS)})")
    fold_chips: dict = {}
    if holdout == "source":
        for src in {_text(r or {}, "source") for r in rows}:
            for (cid, fam), chip in holdout_chips(rows, chips, src).items():
                fold_chips[(src, cid, fam)] = chip
    cache: dict = {}
    cases = []
    for i, row in enumerate(rows):
        if should_stop is not None and should_stop():
            raise Cancelled()
        if progress is not None and i % 16 == 0:
            progress(i / max(len(rows), 1), f"case {i + 1} of {len(rows)}")
        row = row or {}
        case = {"id": _text(row, "id") or f"row-{i + 1}", "metric": _text(row, "metric"),
                "source": _text(row, "source"), "chip": _text(row, "chip"), "model": _text(row, "model"),
                "engine": _text(row, "engine"), "scenario": _text(row, "scenario"),
                "trust": _text(row, "trust") or "medium",
                "measured": None, "predicted": None, "error_pct": None, "status": "error", "message": ""}
        try:
            measured = _num(row, "value")
            case["measured"] = measured
            metric = case["metric"]
            if metric not in METRICS:
                raise RowError(f"metric: {metric!r} (one of {', '.join(METRICS)})")
            key = _config_key(row)
            row_chips = chips
            if holdout == "source":
                fk = (_text(row, "source"), _text(row, "chip"), engine_family(_text(row, "engine")))
                if fk in fold_chips:
                    row_chips = dict(chips)
                    row_chips[fk[1]] = fold_chips[fk]
                key = key + (("__holdout__", _text(row, "source")),)
            if key not in cache:
                try:
                    inp = inputs_from_row(row, row_chips)
                    if factors:
                        from dataclasses import replace

                        inp = replace(inp, factors=dict(factors))
                    cache[key] = evaluate_serving(inp)
                except (RowError, UserError) as exc:
                    cache[key] = exc
            res = cache[key]
            if isinstance(res, Exception):
                raise res
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
                          should_stop: Callable[[], bool] | None = None) -> dict:
    """Fit the named factors (one value each for every row given) by coordinate search on the
    trust-weighted mean absolute log error. Returns {"factors", "loss_before", "loss_after"}.

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
    for _ in range(rounds):
        for n in names:
            for _try in range(6):
                if should_stop is not None and should_stop():
                    raise Cancelled()
                improved = False
                for sign in (1.0, -1.0):
                    trial = dict(current)
                    trial[n] = current[n] * math.exp(sign * step[n])
                    if bounds and n in bounds:
                        lo, hi = bounds[n]
                        trial[n] = min(max(trial[n], lo), hi)
                    l = loss(trial)
                    if l < best - 1e-9:
                        best, current, improved = l, trial, True
                        break
                if not improved:
                    step[n] *= 0.5
    return {"factors": current, "loss_before": before, "loss_after": best}
