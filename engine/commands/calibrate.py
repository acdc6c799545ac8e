"""`fleetcast calibrate training|inference --cases FILE.csv --chip ID [--factors ...] [--save]`.

Fits a chip's efficiency factors to the user's own measured runs (the validation-case schema of
../shared/validation), reports the error before and after, and with --save stores the fitted
values in this database's calibration table (they then override the packaged defaults).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
import math
from pathlib import Path
from typing import Mapping

from engine.commands import Output, terminal_progress
from engine.errors import UserError

INFERENCE_FIT_FACTORS = ("inf_hbm_eff", "inf_prefill_mfu", "inf_step_overhead_ms")


def register(subparsers) -> None:
    from engine.cli import add_command

    p = add_command(subparsers, "calibrate", "fit a chip's efficiency factors to your own measured runs")
    p.add_argument("kind", choices=("training", "inference"))
    p.add_argument("--cases", metavar="FILE.csv",
                   help="measured runs in the validation-case schema (the columns of the public training cases "
                        "file); required unless --reset")
    p.add_argument("--chip", required=True, metavar="ID", help="the chip whose factors are fitted")
    p.add_argument("--factors", metavar="NAME[,NAME...]",
                   help="factors to fit (default: training train_gemm_eff, train_attn_eff, train_hbm_eff, "
                        "train_scaleup_eff; inference inf_hbm_eff, inf_prefill_mfu, inf_step_overhead_ms)")
    p.add_argument("--save", action="store_true", help="store the fitted values in the database")
    p.add_argument("--reset", action="store_true",
                   help="remove the factors of this kind that this database stores for --chip (a --save, or an "
                        "edit), back to the packaged ones; prints what it removed")
    p.set_defaults(handler=run)


def _reset(store, chip, kind: str) -> Output:
    """A saved fit had no way back short of a backup: remove this database's factors of `kind`
    (train_* or inf_*) for `chip`; the packaged ones apply again."""
    prefix = "train_" if kind == "training" else "inf_"
    removed = store.clear_calibration(chip.id, prefix)
    rows = [{"factor": r["factor"], "removed_value": r["value"], "note": r.get("note") or ""} for r in removed]
    text = (f"removed {len(rows)} {kind} factor(s) this database stored for {chip.id}; the packaged values apply "
            "again (the values removed are listed: `fleetcast calibrate ... --save` fits them again)"
            if rows else f"this database stores no {kind} factors for {chip.id}: nothing to remove")
    return Output(data={"chip": chip.id, "kind": kind, "removed": rows}, rows=rows, text=text)


FIT_LEFT_MAX_PCT = 50.0   # a fit leaving more error than this on its own runs is not saved


def run(args, ctx) -> Output:
    from engine.commands.validate import _first_of_each_id, check_columns
    from engine.validation import read_cases_csv

    store = ctx.store()
    chip = store.chip(args.chip)
    if args.reset:
        if args.cases or args.save or args.factors:
            raise UserError("--reset: give only the kind and --chip (it removes saved factors; it fits nothing)")
        return _reset(store, chip, args.kind)
    if not args.cases:
        raise UserError("--cases FILE.csv: the measured runs to fit (or --reset to remove saved factors)")
    chips = {c.id: c for c in store.chips()}
    all_rows = read_cases_csv(args.cases)
    check_columns(args.cases, args.kind, all_rows)   # a file of the other kind fits nothing: refuse it
    # a row repeating an earlier row's id and metric is not another run: dropped and named as
    # `validate` does (4 copies of one run were counted as 4, and 3 factors fitted to them saved)
    first_rows, repeat_cases = _first_of_each_id(all_rows)
    first_ids = {id(r) for r in first_rows}
    repeat_rows = [r for r in all_rows if id(r) not in first_ids]   # in file order, as repeat_cases

    def mine(row: Mapping) -> bool:
        return (row.get("chip") or "").strip() == chip.id

    repeats = [(c["id"], c["status"], c["message"]) for r, c in zip(repeat_rows, repeat_cases) if mine(r)]
    rows = [r for r in first_rows if mine(r)]
    if not rows:
        raise UserError(f"{args.cases}: no rows with chip '{chip.id}' to calibrate on"
                        + (f" ({repeats[0][2]})" if repeats else ""))
    names = tuple(dict.fromkeys(n.strip() for n in args.factors.split(",") if n.strip())) \
        if args.factors is not None else None
    if names is not None and not names:
        raise UserError(f"--factors {args.factors!r}: no factor names (give NAME,NAME,...)")
    skipped: list[tuple] = []   # (id, status, why) of rows not fitted
    if args.kind == "training":
        from engine.calibration import TRAINING_FIT_FACTORS, calibrate_training
        from engine.training import DEFAULT_FACTORS

        from engine.calibration import TRAINING_BOUNDS

        names = names or TRAINING_FIT_FACTORS
        unknown = [n for n in names if n not in DEFAULT_FACTORS]
        if unknown:
            raise UserError(f"--factors: '{unknown[0]}' is not a training factor ({', '.join(DEFAULT_FACTORS)})")
        # only a factor with a documented physical range is fitted: without one a fit can take any
        # value ten times either way (an expert imbalance of 1.97 from two MoE rows was saved)
        fittable = [n for n in DEFAULT_FACTORS if n in TRAINING_BOUNDS and n != "train_attn_path_rel"]
        ranged = [n for n in names if n not in fittable]
        if ranged:
            raise UserError(f"--factors: '{ranged[0]}' has no documented range to fit within; fit from "
                            f"{', '.join(fittable)}")
        from engine.validation import validate_case

        usable = []
        for row in rows:   # every row judged once: a bad one is named below, never fitted
            case = validate_case(row, chips)
            if case["status"] == "ok":
                usable.append((row, case["_inputs"], float(case["measured"])))
            else:
                skipped.append((case["id"], case["status"], case["message"]))
        try:
            fit = calibrate_training(rows, chips, names, chip_ids=[chip.id], fixed=usable)
            start = dict(fit.start)
            held = _held_factors(fit, TRAINING_BOUNDS)
            rest = [n for n in names if n not in held and n not in fit.unconstrained]
            if held and rest:   # the others refitted with these at their current values
                refit = calibrate_training(rows, chips, rest, chip_ids=[chip.id], fixed=usable)
                fit = replace(refit, values={**start, **refit.values}, start=start,
                              unconstrained=fit.unconstrained, moved_runs=fit.moved_runs)
            elif held:
                fit = replace(fit, values=dict(start), median_abs_error_pct_after=fit.median_abs_error_pct_before)
        except ValueError as exc:
            raise UserError(f"{args.cases}: {exc}") from None
        fitted, before, after = dict(fit.values), fit.median_abs_error_pct_before, fit.median_abs_error_pct_after
        unconstrained = set(fit.unconstrained)
        summary = {"median_abs_error_pct_before": before, "median_abs_error_pct_after": after, "cases": fit.cases}
    else:
        from engine.inference import DEFAULT_FACTORS as INF_DEFAULTS
        from engine.validation_inference import fit_inference_factors

        from engine.validation_inference import validate_inference_cases

        from engine.validation_inference import FIT_BOUNDS as _KNOWN

        names = names or INFERENCE_FIT_FACTORS
        ranged = [n for n in names if n.split("@", 1)[0] not in _KNOWN]
        if ranged:
            raise UserError(f"--factors: '{ranged[0]}' is not a serving factor with a documented range to fit "
                            f"within ({', '.join(_KNOWN)})")
        start = {n: chip.factor(n, INF_DEFAULTS.get(n.split("@", 1)[0], 1.0)) for n in names}
        judged = validate_inference_cases(rows, chips)["cases"]   # a bad row is named, never fitted
        skipped += [(c["id"], c["status"], c["message"]) for c in judged if c["status"] != "ok"]
        bad = {c["id"] for c in judged if c["status"] == "error"}
        rows = [r for r in rows if r.get("id") not in bad]
        if not rows:
            raise UserError(f"{args.cases}: no usable rows with chip '{chip.id}' ({skipped[0][0]}: {skipped[0][2]})")
        # each try runs every row's simulation: a large file's fit takes a minute or more
        with terminal_progress(lambda name, value, loss: f"fitting {name} = {value:.4g} "
                                                         f"(mean |log error| {loss:.4f})") as progress:
            # held to the documented ranges, as the training fit is: a fit that wants to leave one
            # lands on it and is refused below (0.05 HBM efficiency was saved, unsaid)
            from engine.validation_inference import FIT_BOUNDS as _RANGES

            result = fit_inference_factors(rows, chips, names, start=start, progress=progress, bounds=_RANGES)
        fitted = dict(result["factors"])
        unconstrained = set(result["unconstrained"])
        held = {}
        summary = {"mean_abs_log_error_before": result["loss_before"],
                   "mean_abs_log_error_after": result["loss_after"], "cases": len(rows)}
    skipped += repeats   # after the judged rows: a row's own fault is named before its copies
    # A factor no run moves is not fitted: it keeps its value, is named, and is never saved as if
    # these runs had measured it.
    for n in unconstrained:
        fitted[n] = start[n]
    factors = [{"factor": n, "before": start.get(n), "fitted": fitted[n],
                "constrained": n not in unconstrained and n not in held, "held": held.get(n, "")} for n in names]
    from engine.calibration import TRAINING_BOUNDS
    from engine.validation_inference import FIT_BOUNDS

    bounds: Mapping[str, tuple] = TRAINING_BOUNDS if args.kind == "training" else FIT_BOUNDS
    if args.kind == "training":
        worse = after > before
        measure = f"median error {before:.2f}% -> {after:.2f}%"
    else:
        worse = summary["mean_abs_log_error_after"] > summary["mean_abs_log_error_before"]
        measure = (f"mean |log error| {summary['mean_abs_log_error_before']:.4f} -> "
                   f"{summary['mean_abs_log_error_after']:.4f}")
    # A factor on its documented prior bound means the model misses something on these runs (the
    # factor is absorbing it), and a fit that scores worse than the factors it replaces is no fit.
    on_bound = [n for n in names if n.split("@", 1)[0] in bounds and n not in unconstrained
                and any(abs(fitted[n] - edge) <= 1e-3 * abs(edge) for edge in bounds[n.split("@", 1)[0]])]
    warnings = [f"{n} = {fitted[n]:.4g} is on its prior bound {bounds[n.split('@', 1)[0]]}: the model misses "
                "something on these runs, not a value to trust" for n in on_bound]
    warnings += [f"{n}: held at {start[n]:.4g}, not fitted ({why}"
                 + (": the model misses something on these runs" if "bound" in why
                    else f"; {MIN_RUNS_PER_FACTOR} are needed") + "); the others were fitted with it there"
                 + (" and it is not saved" if args.save else "") for n, why in held.items()]
    fitted_names = [n for n in names if n not in unconstrained and n not in held]
    if summary["cases"] < len(fitted_names):
        warnings.append(f"{summary['cases']} runs cannot pin down {len(fitted_names)} factors: fit fewer (--factors) "
                        "or add runs")
    warnings += [f"{n}: no run among these {summary['cases']} moves it (25% either way changes no prediction), so "
                 f"they cannot fit it; kept at {start[n]:.4g}" + (" and not saved" if args.save else "")
                 for n in names if n in unconstrained]
    errors = [(i, why) for i, status, why in skipped if status == "error"]
    warnings += [f"not fitted: {why}" if _names_its_row(why) else f"row {i}: not fitted, {status} ({why})"
                 for i, status, why in skipped[:10]]
    if len(skipped) > 10:
        warnings.append(f"... and {len(skipped) - 10} more rows not fitted")
    if worse:
        warnings.append(f"the fit scores worse than the current factors ({measure})")
    # Saved only when the runs can stand behind it: no worse than the factors it replaces, no
    # factor on its prior bound (one run "fitted" 3 of 4 factors onto their bounds and was saved),
    # and at least as many runs as factors fitted.
    # a fit that still misses its own runs by half has absorbed what the model lacks (one factor
    # took a 3x slowdown as 1.7 s of step overhead, 125% median error left, and was saved)
    left = after if args.kind == "training" else 100.0 * (math.exp(summary["mean_abs_log_error_after"]) - 1.0)
    far = left > FIT_LEFT_MAX_PCT
    if far:
        warnings.append(f"the fit still misses these runs by {left:.0f}% ({measure}): the model misses something "
                        "on them; these factors are not what the runs measured")
    refusal = None
    if errors:   # a file with unusable rows (a typo'd value, a missing field) is fixed first
        first = errors[0][1] if _names_its_row(errors[0][1]) else f"row {errors[0][0]}: {errors[0][1]}"
        refusal = f"{len(errors)} row(s) of the file can't be used ({first}); fix or remove them"
    elif worse:
        refusal = f"the fit scores worse than the current factors on these {summary['cases']} runs ({measure})"
    elif on_bound:
        refusal = f"{', '.join(on_bound)} on {'its' if len(on_bound) == 1 else 'their'} prior bound"
    elif summary["cases"] < len(fitted_names):
        refusal = f"{summary['cases']} runs cannot pin down {len(fitted_names)} factors"
    elif far:
        refusal = f"the fit still misses these runs by {left:.0f}%"
    elif not fitted_names:
        refusal = "no factor left to fit (" + "; ".join(f"{n}: {why}" for n, why in held.items()) + ")" \
            if held else "no run among these moves any factor asked for"
    saved = bool(args.save) and refusal is None
    data = {"chip": chip.id, "kind": args.kind, "factors": factors, "summary": summary, "saved": saved,
            "warnings": warnings, "measure": measure,
            "rows_not_fitted": [{"id": i, "status": status, "message": why} for i, status, why in skipped]}
    if args.save and refusal is not None:   # the fit and its warnings are still shown (JSON printed too), exit 1
        from engine.errors import InfeasibleRequest

        others = "".join(f"; {w}" for w in warnings if not w.startswith(("the fit scores worse", refusal)))
        raise InfeasibleRequest(f"{args.cases}: not saved: {refusal}; the current factors are kept{others}", data=data)
    if saved:
        note = f"fitted to {Path(args.cases).name} ({summary['cases']} runs) on {dt.date.today().isoformat()}"
        for name in fitted_names:
            store.set_calibration(chip.id, name, fitted[name], note=note)
    text = (f"{args.kind} factors of {chip.id} fitted to {summary['cases']} measured runs ({measure})"
            + ("; saved to the database" if args.save else "; not saved (add --save to keep them)")
            + "".join(f"\nwarning: {w}" for w in warnings))
    return Output(data=data, rows=factors, columns=["factor", "before", "fitted", "constrained", "held"], text=text)


MIN_RUNS_PER_FACTOR = 3


def _names_its_row(why: str) -> bool:
    """Whether a reason already names its file row ("row 3: id 'X' ... repeats row 2"): prefixing
    the run id as well read "row X: row 3: id 'X' ...", the id twice."""
    return why.startswith("row ") and why[4:5].isdigit()


def _held_factors(fit, bounds: Mapping[str, tuple]) -> dict[str, str]:
    """The factors a training fit should not move, with why: one the fit put on its documented
    bound (the model misses something on these runs, and the factor would absorb it: any 910B
    file 10% slower than the public runs put train_hbm_eff on 0.5 and nothing was saved), and one
    that fewer than MIN_RUNS_PER_FACTOR runs depend on (fitted to those few alone). They keep their
    current values and the rest are fitted again."""
    held = {}
    for n, value in fit.values.items():
        if n in fit.unconstrained:
            continue
        edges = bounds.get(n, ())
        if any(abs(value - edge) <= 1e-3 * abs(edge) for edge in edges):
            held[n] = f"fit on its bound {edge_text(edges)}"
        elif fit.moved_runs.get(n, MIN_RUNS_PER_FACTOR) < MIN_RUNS_PER_FACTOR:
            held[n] = f"{fit.moved_runs[n]} of {fit.cases} runs depend on it"
    return held


def edge_text(edges: tuple) -> str:
    return f"({edges[0]:g}, {edges[1]:g})" if edges else ""

