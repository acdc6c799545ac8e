"""`fleetcast calibrate training|inference --cases FILE.csv --chip ID [--factors ...] [--save]`.

Fits a chip's efficiency factors to the user's own measured runs (the validation-case schema of
../shared/validation), reports the error before and after, and with --save stores the fitted
values in this database's calibration table (they then override the packaged defaults).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
import math
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from engine.commands import Output, terminal_progress
from engine.commands.calibrate_runs import run_lines
from engine.errors import UserError

INFERENCE_FIT_FACTORS = ("inf_hbm_eff", "inf_prefill_mfu", "inf_step_overhead_ms")


def register(subparsers) -> None:
    from engine.cli import add_command

    p = add_command(subparsers, "calibrate", "fit a chip's efficiency factors to your own measured runs")
    p.add_argument("kind", choices=("training", "inference"))
    p.add_argument("--cases", metavar="FILE.csv",
                   help="measured runs in the validation-case schema (the columns of the public training cases "
                        "file); required unless --show or --reset")
    p.add_argument("--chip", required=True, metavar="ID", help="the chip whose factors are fitted")
    p.add_argument("--factors", metavar="NAME[,NAME...]",
                   help="factors to fit (default: training train_gemm_eff, train_attn_eff, train_hbm_eff, "
                        "train_scaleup_eff; inference inf_hbm_eff, inf_prefill_mfu, inf_step_overhead_ms)")
    p.add_argument("--save", action="store_true", help="store the fitted values in the database")
    p.add_argument("--replace", action="store_true",
                   help="with --save: overwrite the factors of this kind an earlier --save stored for --chip "
                        "(without it such a --save is refused, naming them)")
    p.add_argument("--show", action="store_true",
                   help="list the factors of this kind that this database stores for --chip; removes nothing")
    p.add_argument("--reset", action="store_true",
                   help="remove the factors of this kind that this database stores for --chip (a --save, or an "
                        "edit), back to the packaged ones; prints what it removed")
    p.set_defaults(handler=run)


def _stored(store, chip, kind: str) -> list[dict]:
    """This database's own factors of `kind` for `chip` (a --save), as {factor, value, note, saved_at}."""
    from engine.calibration import CALIBRATION_KINDS, saved_at

    return [{"factor": r["factor"], "value": r["value"], "note": r.get("note") or "",
             "saved_at": saved_at(r.get("note") or "")}
            for r in store.calibration_rows(chip.id) if str(r["factor"]).startswith(CALIBRATION_KINDS[kind])]


def _taken(store, chip, kind: str) -> list[dict]:
    """The factors of `kind` that `chip` takes from the chips its calibrate_as chain passes
    through (a copy of my-910b takes what `calibrate --save` stored for my-910b), as
    {factor, value, chip, saved_at}; its own stored factors are not among them."""
    from engine.calibration import CALIBRATION_KINDS, saved_at
    from engine.catalog import saved_along_chain

    rows = saved_along_chain(chip.id, {r["id"]: r for r in store.chip_rows()}, store.calibration_rows)
    # only what the chip's figures use (its resolved calibration holds that value)
    return [{"factor": r["factor"], "value": r["value"], "chip": r["chip_id"], "saved_at": saved_at(r.get("note") or "")}
            for r in rows if r["chip_id"] != chip.id and str(r["factor"]).startswith(CALIBRATION_KINDS[kind])
            and chip.calibration.get(r["factor"]) == r["value"]]


def _taken_words(taken: list[dict], kind: str) -> str:
    """"; it takes the 3 training factor(s) saved for my-910b (its calibrate_as chain): ...": said
    by --show and --reset, whose "the packaged values apply" was not so for a copy of a fitted chip."""
    if not taken:
        return ""
    owners = list(dict.fromkeys(r["chip"] for r in taken))
    return (f"; it takes {len(taken)} {kind} factor(s) saved for {', '.join(owners)} (its calibrate_as chain): "
            f"{_stored_words([{**r, 'note': ''} for r in taken])} (`--show --chip {owners[0]}` lists "
            f"{'them' if len(owners) == 1 else 'the first'}, `--reset` there removes them)")


def _show(store, chip, kind: str) -> Output:
    """What --reset would remove, without removing it (only --reset listed the saved factors)."""
    rows = _stored(store, chip, kind)
    taken = _taken(store, chip, kind)
    text = (f"this database stores {len(rows)} {kind} factor(s) for {chip.id}, used over the packaged ones "
            f"(`--reset` removes them)" if rows else
            f"this database stores no {kind} factors for {chip.id}"
            + ("" if taken else ": the packaged values apply")) + _taken_words(taken, kind)
    return Output(data={"chip": chip.id, "kind": kind, "stored": rows, "taken": taken}, rows=rows,
                  columns=["factor", "value", "saved_at", "note"], text=text)


def _stored_words(rows: list[dict]) -> str:
    """"inf_hbm_eff = 0.2815, ... (fitted to runs.csv (3 runs) on 2025-06-01)": what a --save would replace."""
    values = ", ".join(f"{r['factor']} = {r['value']:.4g}" for r in rows[:4]) + (
        f" and {len(rows) - 4} more" if len(rows) > 4 else "")
    notes = sorted({r["note"] for r in rows if r["note"]})
    return values + (f" ({notes[0]})" if len(notes) == 1 else "")


def _runs(n: float) -> str:
    return f"{int(n)} measured run{'' if n == 1 else 's'}"


def _reset(store, chip, kind: str) -> Output:
    """A saved fit had no way back short of a backup: remove this database's factors of `kind`
    (train_* or inf_*) for `chip`; the packaged ones apply again."""
    prefix = "train_" if kind == "training" else "inf_"
    removed = store.clear_calibration(chip.id, prefix)
    rows = [{"factor": r["factor"], "removed_value": r["value"], "note": r.get("note") or ""} for r in removed]
    taken = _taken(store, chip, kind)
    text = (f"removed {len(rows)} {kind} factor(s) this database stored for {chip.id}; "
            + ("the packaged values apply again" if not taken else "the rest of its factors apply again")
            + " (the values removed are listed: `fleetcast calibrate ... --save` fits them again)"
            if rows else f"this database stores no {kind} factors for {chip.id}: nothing to remove") \
        + _taken_words(taken, kind)
    return Output(data={"chip": chip.id, "kind": kind, "removed": rows, "taken": taken}, rows=rows, text=text)


FIT_LEFT_MAX_PCT = 50.0   # a fit leaving more error than this on its own runs is not saved


def run(args, ctx) -> Output:
    from engine.commands.validate import _first_of_each_id, check_columns
    from engine.validation import case_row_numbers, read_cases_csv

    store = ctx.store()
    chip = store.chip(args.chip)
    if args.reset or args.show:
        flag = "--reset" if args.reset else "--show"
        if args.cases or args.save or args.factors or args.replace or (args.reset and args.show):
            raise UserError(f"{flag}: give only the kind and --chip (it {'removes' if args.reset else 'lists'} "
                            "saved factors; it fits nothing)")
        return _reset(store, chip, args.kind) if args.reset else _show(store, chip, args.kind)
    if not args.cases:
        raise UserError("--cases FILE.csv: the measured runs to fit (or --show / --reset for saved factors)")
    if args.replace and not args.save:
        raise UserError("--replace: it overwrites saved factors with this fit; give --save with it")
    earlier = _stored(store, chip, args.kind)
    if args.save and earlier and not args.replace:
        # a second --save replaced the first fit, saying only "saved to the database"
        raise UserError(f"--save: {chip.id} already has {len(earlier)} saved {args.kind} factor(s) "
                        f"({_stored_words(earlier)}); add --replace to overwrite them")
    chips = {c.id: c for c in store.chips()}
    all_rows = read_cases_csv(args.cases)
    check_columns(args.cases, args.kind, all_rows)   # a file of the other kind fits nothing: refuse it
    # each row's number as validate and the imports count it (a blank line is a row)
    numbers = {id(r): n for r, n in zip(all_rows, case_row_numbers(all_rows))}
    # a row repeating an earlier row's id and metric is not another run: dropped and named as
    # `validate` does (4 copies of one run were counted as 4, and 3 factors fitted to them saved)
    first_rows, repeat_cases = _first_of_each_id(all_rows)
    first_ids = {id(r) for r in first_rows}
    repeat_rows = [r for r in all_rows if id(r) not in first_ids]   # in file order, as repeat_cases

    def chip_of(row: Mapping) -> str:
        # as validate reads it: catalog ids are lower case, so 'Ascend-910B2' is the 910B2 (it was
        # dropped unsaid, "fitted to 9 measured runs")
        cid = (row.get("chip") or "").strip()
        return cid.lower() if cid not in chips and cid.lower() in chips else cid

    def label(row: Mapping) -> str:
        return f"row {numbers[id(row)]} ({(row.get('id') or '').strip() or '?'})"

    def mine(row: Mapping) -> bool:
        return chip_of(row) == chip.id

    repeats = [(label(r), c["status"], c["message"]) for r, c in zip(repeat_rows, repeat_cases) if mine(r)]
    # a chip no catalog has ('ascend-910x') is a typo'd row, named and refused as validate flags it;
    # another catalog chip's rows are simply not this fit's
    unknown_chip = [(label(r), "error", f"chip: {chip_of(r)!r} not in the catalog")
                    for r in first_rows if chip_of(r) not in chips]
    other_chip = [(label(r), "other_chip", f"chip {chip_of(r)}, not {chip.id}")
                  for r in first_rows if chip_of(r) in chips and not mine(r)]
    rows = [r for r in first_rows if mine(r)]
    if not rows:
        raise UserError(f"{args.cases}: no rows with chip '{chip.id}' to calibrate on"
                        + (f" ({unknown_chip[0][0]}: {unknown_chip[0][2]})" if unknown_chip else
                           f" ({repeats[0][2]})" if repeats else ""))
    names = tuple(dict.fromkeys(n.strip() for n in args.factors.split(",") if n.strip())) \
        if args.factors is not None else None
    if names is not None and not names:
        raise UserError(f"--factors {args.factors!r}: no factor names (give NAME,NAME,...)")
    skipped: list[tuple] = []   # (id, status, why) of rows not fitted
    odd_engines: list[str] = []   # a line per engine name no family has (fitted as `generic`)
    if args.kind == "training":
        from engine.calibration import (HUBER_SCALE, OBJECTIVE_TEXT, STOP_START_KEPT, TRAINING_BOUNDS,
                                        TRAINING_FIT_FACTORS, calibrate_training)
        from engine.training import DEFAULT_FACTORS

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

        usable, judged = [], []
        for row in rows:   # every row judged once: a bad one is named below, never fitted
            case = validate_case(row, chips)
            if case["status"] == "ok":
                usable.append((row, case["_inputs"], float(case["measured"])))
                judged.append(case)
            else:
                skipped.append((label(row), case["status"], case["message"]))
        run_rows = [r for r, _, _ in usable]
        try:
            fit = calibrate_training(rows, chips, names, chip_ids=[chip.id], fixed=usable)
            start = dict(fit.start)
            held = _held_factors(fit, TRAINING_BOUNDS)
            rest = [n for n in names if n not in held and n not in fit.unconstrained]
            if (held or fit.unconstrained) and rest:
                # the others refitted with these at their current values (a factor no run moves
                # went to its prior's centre in the first fit; the objective reported is the
                # refit's, with it where it stays)
                refit = calibrate_training(rows, chips, rest, chip_ids=[chip.id], fixed=usable)
                fit = replace(refit, values={**start, **refit.values}, start=start,
                              unconstrained=fit.unconstrained, moved_runs=fit.moved_runs)
            elif held or fit.unconstrained:
                fit = replace(fit, values=dict(start), median_abs_error_pct_after=fit.median_abs_error_pct_before,
                              objective_after=fit.objective_before, stop="nothing fitted", converged=True)
        except ValueError as exc:
            raise UserError(f"{args.cases}: {exc}") from None
        fitted, before, after = dict(fit.values), fit.median_abs_error_pct_before, fit.median_abs_error_pct_after
        unconstrained = set(fit.unconstrained)
        summary: dict[str, Any] = {
            "median_abs_error_pct_before": before, "median_abs_error_pct_after": after, "cases": fit.cases,
            "objective": OBJECTIVE_TEXT, "objective_before": fit.objective_before,
            "objective_after": fit.objective_after, "converged": fit.converged, "stop": fit.stop,
            "tolerance_pct": 100.0 * fit.tolerance, "iterations": fit.iterations,
            "start_kept": fit.stop == STOP_START_KEPT}
    else:
        from engine.validation_inference import FIT_BOUNDS as _KNOWN
        from engine.validation_inference import fit_inference_factors, validate_inference_cases

        asked = names or INFERENCE_FIT_FACTORS
        ranged = [n for n in asked if n.split("@", 1)[0] not in _KNOWN]
        if ranged:
            raise UserError(f"--factors: '{ranged[0]}' is not a serving factor with a documented range to fit "
                            f"within ({', '.join(_KNOWN)})")
        judged = validate_inference_cases(rows, chips)["cases"]   # a bad row is named, never fitted
        run_rows = list(rows)
        skipped += [(label(r), c["status"], c["message"]) for r, c in zip(rows, judged) if c["status"] != "ok"]
        rows = [r for r, c in zip(rows, judged) if c["status"] != "error"]
        if not rows:
            raise UserError(f"{args.cases}: no usable rows with chip '{chip.id}' ({skipped[0][0]}: {skipped[0][2]})")
        odd_engines = _unknown_engine_lines(rows, label)
        names, start = _inference_keys(asked, rows, chip)
        moved, moved_any = _inference_runs_moved(rows, chips, start, _KNOWN)
        unconstrained = {n for n in names if moved_any[n] == 0}
        # fewer runs than MIN_RUNS_PER_FACTOR depending on a factor fit it to those few (one serving
        # run moved every 910B serving figure 25%): held at its value, as the training fit holds it
        held = {n: f"{moved[n]} of {len(rows)} runs depend on it" for n in names
                if n not in unconstrained and moved[n] < MIN_RUNS_PER_FACTOR}
        free = [n for n in names if n not in unconstrained and n not in held]
        # each try runs every row's simulation: a large file's fit takes a minute or more
        with terminal_progress(lambda name, value, loss: f"fitting {name} = {value:.4g} "
                                                         f"(mean |log error| {loss:.4f})") as progress:
            # held to the documented ranges, as the training fit is: a fit that wants to leave one
            # lands on it and is refused below (0.05 HBM efficiency was saved, unsaid)
            result = fit_inference_factors(rows, chips, free, start={n: start[n] for n in free},
                                           progress=progress, bounds=_KNOWN)
        fitted = {**start, **result["factors"]}
        unconstrained |= set(result["unconstrained"])
        summary = {"mean_abs_log_error_before": result["loss_before"],
                   "mean_abs_log_error_after": result["loss_after"], "cases": len(rows)}
    skipped = unknown_chip + skipped + repeats   # a row's own fault is named before its copies
    # A factor no run moves is not fitted: it keeps its value, is named, and is never saved as if
    # these runs had measured it.
    for n in unconstrained:
        fitted[n] = start[n]
    from engine.calibration import TRAINING_BOUNDS
    from engine.validation_inference import FIT_BOUNDS

    bounds: Mapping[str, tuple] = TRAINING_BOUNDS if args.kind == "training" else FIT_BOUNDS
    # each factor with its documented prior range and whether the fit landed on it (the range was
    # only in the on-bound warning); "constrained" (a name scripts read): these runs pin it down, so
    # it was fitted, where False is unconstrained or held (the "held" column says why)
    factors = [{"factor": n, "before": start.get(n), "fitted": fitted[n],
                "constrained": n not in unconstrained and n not in held, "held": held.get(n, ""),
                **_prior_fields(n, fitted[n], bounds, fitted_here=n not in unconstrained)}
               for n in names]
    runs, left_lines = _each_run(args, chip, chips, fitted, names, run_rows, judged)
    objective_lines = []
    if args.kind == "training":
        # judged on what the fit minimises: the median |error| is not it, and can rise while the
        # objective falls (133 A100-80GB runs: 8.00% -> 9.98% median; refused as "worse", though
        # the fit had only stopped early)
        worse = summary["objective_after"] > summary["objective_before"]
        measure = (f"median error {before:.2f}% -> {after:.2f}%, objective "
                   f"{summary['objective_before']:.4g} -> {summary['objective_after']:.4g}")
        tol = f"{summary['tolerance_pct']:.2g}%"
        state = (f"converged to {tol} (a rerun from the fitted values moves no factor by more than that)"
                 if summary["converged"] else f"not converged to {tol}")
        objective_lines.append(f"objective: {OBJECTIVE_TEXT}; {state}")
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
    fitted_names = [n for n in names if n not in unconstrained and n not in held]
    kept_saved = _kept_saved(names, fitted_names, start, earlier) if args.save else {}
    held_lines = [f"{n}: held at {start[n]:.4g}, not fitted ({_held_words(why)})"
                  + ("; the others were fitted with it there"
                     + ((", so its saved value stays saved" if n in kept_saved else " and it is not saved") if args.save else "")
                     if fitted_names else "") for n, why in held.items()]
    warnings += held_lines
    warnings += [f"{args.cases}, {line}" for line in odd_engines]
    # as many factors as runs leaves no run to check the fit against (3 runs "fitted" 3 factors exactly)
    few = 0 < summary["cases"] <= len(fitted_names)
    if few:
        warnings.append(f"{_runs(summary['cases'])} cannot pin down {len(fitted_names)} factors (more runs than "
                        "factors are needed): fit fewer (--factors) or add runs")
    warnings += [f"{n}: no run among these {summary['cases']} moves it (25% either way changes no prediction), so "
                 f"they cannot fit it; kept at {start[n]:.4g}"
                 + ((", its saved value, which stays saved" if n in kept_saved else " and not saved") if args.save else "")
                 for n in names if n in unconstrained]
    if fitted_names:   # a fit of nothing leaves every run where it was: the refusal says so
        warnings += left_lines
    errors = [(i, why) for i, status, why in skipped if status == "error"]
    def row_line(i: str, status: str, why: str) -> str:
        return f"not fitted: {why}" if _names_its_row(why) else f"{i}: not fitted, {status} ({why})"

    row_lines = [row_line(*s) for s in skipped[:10]]
    warnings += row_lines
    if len(skipped) > 10:
        warnings.append(f"... and {len(skipped) - 10} more rows not fitted")
    if other_chip:
        others_ids = sorted({why.split(",")[0][5:] for _, _, why in other_chip})
        more = f" and {len(others_ids) - 3} more" if len(others_ids) > 3 else ""   # (the H800's went unsaid)
        warnings.append(f"{len(other_chip)} row(s) for other chips ({', '.join(others_ids[:3])}{more}) not fitted: "
                        f"this fit is {chip.id}'s")
    skipped += other_chip
    if worse:
        warnings.append(f"the fit scores worse than the current factors ({measure})")
    elif args.kind == "training" and after > before:
        warnings.append(f"the median error rises ({before:.2f}% -> {after:.2f}%) while the objective the fit "
                        f"minimises falls ({summary['objective_before']:.4g} -> {summary['objective_after']:.4g}): "
                        f"it weighs each run by its trust and squares errors up to {math.expm1(HUBER_SCALE):.0%} "
                        "(larger ones count linearly); the median run is not what it minimises")
    if args.kind == "training" and not summary["converged"]:
        warnings.append(f"the fit stopped at {summary['iterations']} iterations before converging to "
                        f"{summary['tolerance_pct']:.2g}%: a rerun from these values moves them further")
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
    shown = set()   # warnings the refusal already says: not repeated after it
    if errors:   # a file with unusable rows (a typo'd value, a missing field) is fixed first
        first = errors[0][1] if _names_its_row(errors[0][1]) else f"{errors[0][0]}: {errors[0][1]}"
        refusal = f"{len(errors)} row(s) of the file can't be used ({first}); fix or remove them"
        shown.add(row_line(errors[0][0], "error", errors[0][1]))
    elif odd_engines:
        # a typo'd engine ('mindei') fits the generic family, which the engine meant never reads:
        # "saved" with nothing said, and `serve --engine mindie` unchanged. The user says what the
        # runs are by writing a known name (or generic, or a blank for the default) in the file.
        refusal = odd_engines[0] + (f" (and {len(odd_engines) - 1} other unrecognised engine name(s))"
                                    if len(odd_engines) > 1 else "")
        shown.add(f"{args.cases}, {odd_engines[0]}")
    elif worse:
        refusal = f"the fit scores worse than the current factors on these {summary['cases']} runs ({measure})"
    elif summary.get("start_kept"):
        refusal = f"no fitted point scores better than the current factors on the objective ({measure})"
    elif args.kind == "training" and after > before:
        # a lower loss bought with a worse median run is not what a planner saved before: kept as
        # the factors they have (the warning above says both figures)
        refusal = f"the median error of these {summary['cases']} runs rises ({measure})"
    elif on_bound:
        refusal = f"{', '.join(on_bound)} on {'its' if len(on_bound) == 1 else 'their'} prior bound"
    elif few:
        refusal = f"{_runs(summary['cases'])} cannot pin down {len(fitted_names)} factors (more runs than factors are needed)"
        shown.update(w for w in warnings if w.startswith(f"{_runs(summary['cases'])} cannot pin down"))
    elif far:
        refusal = f"the fit still misses these runs by {left:.0f}%"
    elif not fitted_names:
        # each held factor with its own reason: "3 runs per factor are needed" was appended to a
        # factor held on its bound with 34 runs given
        refusal = ("nothing fitted: every factor asked for is held ("
                   + "; ".join(f"{n}: {_held_words(why)}" for n, why in held.items()) + ")" if held else
                   "nothing fitted: no run among these moves any factor asked for")
        shown.update(held_lines)
    saved = bool(args.save) and refusal is None
    data = {"chip": chip.id, "kind": args.kind, "factors": factors, "summary": summary, "saved": saved,
            "warnings": warnings, "measure": measure, "replaced": [], "kept": [], "runs": runs,
            "rows_not_fitted": [{"row": i.split(" (")[0], "id": i.split(" (", 1)[1][:-1] if " (" in i else i,
                                 "status": status, "message": why} for i, status, why in skipped]}
    if refusal is not None and (args.save or not fitted_names):
        # the fit and its warnings are still shown (JSON printed too), exit 1; a fit of nothing
        # exits 1 with or without --save (it exited 0, "fitted to 10 measured runs (11.11% -> 11.11%)")
        from engine.errors import InfeasibleRequest

        others = "".join(f"; {w}" for w in warnings
                         if w not in shown and not w.startswith(("the fit scores worse", refusal)))
        kept = "not saved: " if args.save else ""
        raise InfeasibleRequest(f"{args.cases}: {kept}{refusal}; the current factors are kept{others}", data=data)
    if saved:
        note = f"fitted to {Path(args.cases).name} ({_runs(summary['cases'])}) on {dt.date.today().isoformat()}"
        with store.db.atomic():   # the earlier fit goes only with this one written (--replace)
            if earlier:
                from engine.calibration import CALIBRATION_KINDS

                store.clear_calibration(chip.id, CALIBRATION_KINDS[args.kind])
            for name in fitted_names:
                store.set_calibration(chip.id, name, fitted[name], note=note)
            for row in kept_saved.values():   # as it was saved, with the note of the runs that measured it
                store.set_calibration(chip.id, row["factor"], row["value"], note=row["note"])
        data["replaced"] = [r for r in earlier if r["factor"] not in kept_saved]
        data["kept"] = list(kept_saved.values())
    text = (f"{args.kind} factors of {chip.id} fitted to {_runs(summary['cases'])} ({measure})"
            + ("; saved to the database" + _replaced_words(data["replaced"], data["kept"])
               if saved else f"; --save would be refused: {refusal}" if refusal
               else "; not saved (add --save to keep them)")
            + "".join(f"\n{line}" for line in objective_lines)
            + "".join(f"\n{line}" for line in run_lines(runs))
            + "".join(f"\nwarning: {w}" for w in warnings))
    if args.format != "table":
        # csv and json print the factors alone on stdout: the refusal, the held factors and the
        # rows not fitted went unsaid there (the table shows them above the factors); a line each,
        # as the error line of a refused --save says them (what the refusal names is not repeated)
        notices = [f"note: {args.cases}: --save would be refused: {refusal}"] if refusal and not saved else []
        notices += [f"warning: {w}" for w in warnings if not (refusal and not saved and w in shown)]
        for notice in notices:
            print(f"fleetcast: {' '.join(notice.splitlines())}", file=sys.stderr)
    return Output(data=data, rows=factors, columns=["factor", "before", "fitted", "prior_low", "prior_high",
                                                    "on_bound", "constrained", "held"], text=text)


def _prior_fields(name: str, value: float, bounds: Mapping[str, tuple], *, fitted_here: bool) -> dict:
    """A factor's documented prior range (None where it has none) and whether its fitted value
    sits on it (within 0.1%, as the on-bound warning reads it)."""
    edges = bounds.get(name.split("@", 1)[0])
    if not edges:
        return {"prior_low": None, "prior_high": None, "on_bound": False}
    low, high = (float(e) for e in edges)
    on = fitted_here and any(abs(value - e) <= 1e-3 * abs(e) for e in (low, high))
    return {"prior_low": low, "prior_high": high, "on_bound": bool(on)}


MIN_RUNS_PER_FACTOR = 3


def _each_run(args, chip, chips: Mapping, fitted: Mapping[str, float], names, rows: list[dict],
              before: list[dict]) -> tuple[list[dict], list[str]]:
    """(each run's error before and after the fit, worst after first; a warning per metric still
    more than 10% off one way, median). After is `validate` with the fitted values in the chip's
    calibration, as a database holding them gives it; the fit's own figures hold the layouts."""
    from engine.commands.calibrate_runs import (inference_advice, left_warning, metrics_left,
                                                run_errors)

    after_chips = {**chips, chip.id: chip.with_calibration(**{n: float(v) for n, v in fitted.items()})}
    if args.kind == "training":
        from engine.validation import validate_case

        after = [validate_case(row, after_chips) for row in rows]
    else:
        from engine.validation_inference import validate_inference_cases

        after = validate_inference_cases(rows, after_chips)["cases"]
    runs = run_errors(before, after)
    # the --factors a rerun would give: these, or the default names (unscoped) and the advice
    asked = list(dict.fromkeys(n.strip() if args.factors else n.split("@", 1)[0]
                               for n in (args.factors.split(",") if args.factors else names) if n.strip()))
    lines = []
    for metric, rs, signed in metrics_left(runs):
        advice: list[str] = []
        if args.kind == "inference":   # a training factor's reach is not counted per metric: no advice
            ids = {r["id"] for r in rs}
            mine = [row for row, case in zip(rows, after) if case.get("id") in ids and case.get("metric") == metric]
            advice = inference_advice(mine, after_chips, after_chips[chip.id], asked, _inference_keys,
                                      _inference_runs_moved)
        lines.append(left_warning(metric, rs, signed, advice, asked))
    return runs, lines


def _held_words(why: str) -> str:
    """A held factor's reason with what it means: a factor fit on its bound says the model misses
    something on these runs; one too few runs depend on says how many are needed."""
    if why.startswith("fit on its bound"):
        return f"{why}: the model misses something on these runs"
    return f"{why}; {MIN_RUNS_PER_FACTOR} runs per factor are needed"


def _kept_saved(names, fitted_names, start: Mapping[str, float], earlier: list[dict]) -> dict[str, dict]:
    """The saved rows (of `earlier`) that a --save --replace keeps: a factor asked for but not
    fitted (held, or moved by no run) whose value in the fit was its saved one, so the factors
    fitted now were fitted with it there. Clearing it dropped it to the packaged value: a held
    H100 scale-up efficiency of 0.9244 fell to 0.8388 and the saved set was not the set fitted.
    Empty when nothing is fitted (nothing is saved then)."""
    if not fitted_names:
        return {}
    saved = {r["factor"]: r for r in earlier}
    return {n: saved[n] for n in names if n not in fitted_names and n in saved
            and math.isclose(float(start[n]), float(saved[n]["value"]), rel_tol=1e-9)}


def _replaced_words(replaced: list[dict], kept: list[dict]) -> str:
    """", replacing ...; keeping ... (held at their saved values)": what a --save --replace did to the earlier fit."""
    words = f", replacing {_stored_words(replaced)}" if replaced else ""
    if kept:
        values = ", ".join(f"{r['factor']} = {r['value']:.4g}" for r in kept)
        it = "it at its saved value" if len(kept) == 1 else "them at their saved values"
        words += f"{';' if replaced else ','} keeping {values} as saved (not fitted now: the others were fitted with {it})"
    return words


def _inference_keys(asked, rows: list[dict], chip) -> tuple[tuple[str, ...], dict[str, float]]:
    """(the keys to fit, each one's value now) for the serving factors `asked`, under the scope the
    rows' engines read (engine.inference.resolve_factors): a fit of vLLM-Ascend runs saved as the
    chip-wide `inf_hbm_eff` never reached vLLM-Ascend (its `inf_hbm_eff@vllm-ascend` wins) and cut
    every other engine's figures by 70-80%. Runs of one engine family fit `name@family`; runs of
    several fit `name@family` for each family with a key of its own (in the chip's calibration or
    its documented prior), and the chip-wide `name` only where two or more families read it (a
    lone family fits its own key). Each starts from the value those rows run at now."""
    from engine.inference import resolve_factors
    from engine.serving.families import FAMILY_PRIORS, engine_family

    families = sorted({engine_family(r.get("engine")) for r in rows})
    keys: dict[str, float] = {}
    for name in asked:
        base, _, scope = name.partition("@")
        if scope:   # a key given whole is fitted as given
            keys[name] = resolve_factors(chip, scope)[base]
            continue
        own = [f for f in families if f"{base}@{f}" in chip.calibration or base in FAMILY_PRIORS.get(f, {})]
        shared = [f for f in families if f not in own]
        for f in own + (shared if len(shared) == 1 else []):
            keys[f"{base}@{f}"] = resolve_factors(chip, f)[base]
        if len(shared) > 1:
            keys[base] = resolve_factors(chip, shared[0])[base]
    return tuple(keys), keys


def _inference_runs_moved(rows: list[dict], chips: Mapping, start: Mapping[str, float],
                          bounds: Mapping[str, tuple]) -> tuple[dict[str, int], dict[str, int]]:
    """Per key, (runs whose prediction moves by over 1%, runs it moves at all) when the key moves
    25% either way within its range, as the training fit counts them (engine.calibration)."""
    from engine.validation_inference import validate_inference_cases

    def predictions(values) -> np.ndarray:
        cases = validate_inference_cases(rows, dict(chips), factors=dict(values))["cases"]
        return np.array([c["predicted"] if c["status"] == "ok" and c["predicted"] else np.nan for c in cases])

    base = predictions(start)
    moved, moved_any = {}, {}
    for key, value in start.items():
        lo, hi = bounds.get(key.split("@", 1)[0], (value / 10, value * 10))
        change = np.zeros(len(rows))
        for ratio in (1.25, 1 / 1.25):
            trial = min(max(value * ratio, lo), hi)
            if trial != value:
                with np.errstate(invalid="ignore", divide="ignore"):
                    step = np.abs(np.log(predictions({**start, key: trial}) / base))
                change = np.fmax(change, np.nan_to_num(step, nan=0.0))
        moved[key], moved_any[key] = int(np.sum(change > 0.01)), int(np.sum(change > 1e-9))
    return moved, moved_any


def _unknown_engine_lines(rows: list[dict], label) -> list[str]:
    """A line per engine name of `rows` that no serving family has ('mindei@2.1rc1'), naming its
    first row, the value and the nearest known name's family: such runs are modelled and fitted
    as the `generic` family, whose factors the engine the user meant never reads."""
    import difflib

    from engine.serving.families import _ALIASES, FAMILIES, engine_family, known_engine

    by_name: dict[str, list[tuple[str, str]]] = {}   # name (versions aside) -> (row label, value)
    for row in rows:
        if not known_engine(row.get("engine")):
            value = str(row.get("engine") or "").strip()
            base = "-".join(value.lower().split("@", 1)[0].replace("_", " ").split())
            by_name.setdefault(base, []).append((label(row), value))
    lines = []
    for base, found in by_name.items():
        # a hint only for a near miss ('mindei', 'vlm', 'tensort-llm'): at 0.6 'inhouse-server' was
        # offered mindie-server and 'ollama' vllm
        close = difflib.get_close_matches(base, list(_ALIASES), n=1, cutoff=0.75)
        family = engine_family(close[0]) if close else ""
        where = found[0][0] + (f" and {len(found) - 1} more" if len(found) > 1 else "")
        hint = (f" (nearest known: {close[0]}, of the {family} family)" if close and close[0] != family
                else f" (nearest known: {family})" if family else "")
        reads = f", which `serve --engine {family}` never reads" if family and family != "generic" else ""
        fix = "" if family else f" (one of {', '.join(FAMILIES)})"
        lines.append(f"{where}: engine {found[0][1]!r} not recognised{hint}: "
                     f"{'its run is' if len(found) == 1 else 'these runs are'} fitted as the generic family"
                     f"{reads}; correct the engine column{fix}, or write generic for a stack no family covers")
    return lines


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

