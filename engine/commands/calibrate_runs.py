"""Each measured run's error before and after a `calibrate` fit, worst after-fit first.

The summary ("mean |log error| 0.2231 -> 0.0774") hid that a fit left whole metrics unfitted:
13 MindIE/vLLM-Ascend runs fitted to that figure while `validate --cases` on the calibrated
database still showed the MindIE throughput rows +14.5..+20.7%. The after-fit figures here are
what `validate ... --cases` gives on a database holding the fitted values (the same predictor,
layouts searched again with them), so the two agree row for row.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

RUNS_SHOWN = 5           # runs the table/text lists; JSON's "runs" holds them all
LEFT_OFF_PCT = 10.0      # a metric whose runs' median error after the fit is beyond this (one way) is named


def run_errors(before: Sequence[Mapping], after: Sequence[Mapping]) -> list[dict]:
    """Per run predicted before the fit (`before`, validate's cases) and after (`after`, the same
    rows validated with the fitted values): {id, metric, measured, predicted_before, predicted_after,
    error_pct_before, error_pct_after}, signed errors as validate's, worst |after| first (a run with
    no prediction after the fit first of all; ties in file order). Runs validate could not predict
    before the fit are the fit's "rows not fitted", not listed here."""
    runs = []
    for b, a in zip(before, after):
        if b.get("status") != "ok" or b.get("error_pct") is None:
            continue
        ok = a.get("status") == "ok" and a.get("error_pct") is not None
        runs.append({"id": b.get("id"), "metric": b.get("metric"), "measured": b.get("measured"),
                     "predicted_before": b.get("predicted"), "predicted_after": a.get("predicted") if ok else None,
                     "error_pct_before": float(b["error_pct"]),
                     "error_pct_after": float(a["error_pct"]) if ok else None,
                     "status_after": a.get("status") or ""})
    def worst(r: Mapping) -> float:
        return -np.inf if r["error_pct_after"] is None else -abs(float(r["error_pct_after"]))

    runs.sort(key=worst)
    return runs


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1f}%"


def run_lines(runs: Sequence[Mapping]) -> list[str]:
    """The table/text lines: a heading, the worst RUNS_SHOWN runs, "... and N more"."""
    if not runs:
        return []
    lines = ["each run, worst after the fit first (measured; predicted before -> after; error before -> after):"]
    for r in runs[:RUNS_SHOWN]:
        after = (_pct(r["error_pct_after"]) if r["error_pct_after"] is not None
                 else f"no prediction ({r['status_after'] or 'not ok'})")
        lines.append(f"  {r['id']} {r['metric']}: {_num(r['measured'])}; {_num(r['predicted_before'])} -> "
                     f"{_num(r['predicted_after'])}; {_pct(r['error_pct_before'])} -> {after}")
    if len(runs) > RUNS_SHOWN:
        lines.append(f"  ... and {len(runs) - RUNS_SHOWN} more (--format json lists every run under \"runs\")")
    return lines


def metrics_left(runs: Sequence[Mapping]) -> list[tuple[str, list[Mapping], float]]:
    """(metric, its runs, signed median error %) of each metric whose runs' median error after the
    fit is still more than LEFT_OFF_PCT one way, in order of first appearance: a bias the factors
    fitted did not take up. Errors scattered both ways are not named (34 public 910B2 training
    runs sit 11% median |error| either side of any fit: the model's own spread, no factor's)."""
    by_metric: dict[str, list[Mapping]] = {}
    for r in runs:
        if r["error_pct_after"] is not None:
            by_metric.setdefault(str(r["metric"]), []).append(r)
    left = []
    for metric, rs in by_metric.items():
        errs = np.array([r["error_pct_after"] for r in rs], dtype=float)
        signed = float(np.median(errs))
        if abs(signed) > LEFT_OFF_PCT:
            left.append((metric, rs, signed))
    return left


def left_warning(metric: str, rs: Sequence[Mapping], signed: float, advice: Sequence[str] = (),
                 asked: Sequence[str] = ()) -> str:
    """"throughput: 5 runs still +14% median after the fit; ...": one line per metric left unfitted.
    Advice names factors only where they are known to move these runs' predictions."""
    n = f"{len(rs)} run{'' if len(rs) == 1 else 's'}"
    line = f"{metric}: {n} still {signed:+.0f}% median after the fit (the factors fitted do not bring them in)"
    if advice:
        line += (f"; {', '.join(advice)} move{'s' if len(advice) == 1 else ''} them: "
                 f"try --factors {','.join([*asked, *advice])}")
    return line


def inference_advice(metric_rows: list[dict], chips: Mapping, chip, asked: Sequence[str],
                     keys_of: Callable, moved_by: Callable) -> list[str]:
    """Serving factors not asked for (of engine.validation_inference.FIT_BOUNDS) that move at
    least half of `metric_rows`' predictions by over 1% when moved 25% either way, as the fit
    counts a factor's runs (engine.commands.calibrate._inference_runs_moved)."""
    from engine.validation_inference import FIT_BOUNDS

    bases = {n.split("@", 1)[0] for n in asked}
    candidates = [n for n in FIT_BOUNDS if n not in bases]
    if not candidates or not metric_rows:
        return []
    _, start = keys_of(candidates, metric_rows, chip)
    moved, _ = moved_by(metric_rows, chips, start, FIT_BOUNDS)
    need = max(1, (len(metric_rows) + 1) // 2)
    out: list[str] = []
    for key, count in moved.items():
        base = key.split("@", 1)[0]
        if count >= need and base not in out:
            out.append(base)
    return out

