"""`fleetcast validate training|inference --cases FILE.csv` (CLI.md)."""

from __future__ import annotations

import sys

from engine.commands import Output, terminal_progress
from engine.errors import UserError


def register(subparsers) -> None:
    from engine.cli import add_command

    p = add_command(subparsers, "validate", "predict published runs and report the error")
    p.add_argument("kind", choices=("training", "inference"))
    p.add_argument("--cases", required=True, metavar="FILE.csv",
                   help="measured cases in the schema of the public validation files")
    p.add_argument("--holdout", choices=HOLDOUT_KEYS, default=None,
                   help="predict each case with factors fitted without its own group "
                        "(source: leave-one-source-out); summary.overall is then out of sample")
    p.set_defaults(handler=run)


# Grouping columns `--holdout` can leave out, and where each kind's out-of-sample validator lives
# (module, function). Each function takes (rows, chips, key=...) and returns the same
# {"cases", "summary"} shape as the in-sample validator, with summary["holdout"] = key.
HOLDOUT_KEYS = ("source",)
HOLDOUT_RUNNERS = {
    "training": ("engine.validation", "validate_training_holdout"),
    "inference": ("engine.validation_inference", "validate_inference_holdout"),
}


def holdout_runner(kind: str):
    """The out-of-sample validator of `kind`, or a UserError while that kind has none."""
    import importlib

    module_name, func_name = HOLDOUT_RUNNERS[kind]
    try:
        func = getattr(importlib.import_module(module_name), func_name, None)
    except ImportError:
        func = None
    if func is None:
        raise UserError(f"--holdout: not available for {kind} validation yet")
    return func


def _chips(ctx) -> dict:
    try:
        store = ctx.store()
    except ImportError:
        store = None
    if store is not None:
        return {c.id: c for c in store.chips()}
    from engine.catalog import reference_chips

    return reference_chips()


# Columns without which no row of a cases file can be predicted.
REQUIRED_COLUMNS = {
    "training": ("id", "layers", "hidden", "heads", "chip", "metric", "value"),
    "inference": ("id", "layers", "hidden", "heads", "chip", "scenario", "input_len", "output_len", "metric", "value"),
}


def check_columns(path, kind: str, rows: list[dict]) -> None:
    """A file in the wrong schema (or not a cases file at all) is one clear error, not N bad rows;
    columns the reader does not know are named in one notice on stderr (a misspelt `num_chip` is
    never read). Only a notice: a cases file may carry columns of its own, and every row is still
    predicted."""
    if not rows:
        raise UserError(f"{path}: no cases (expected a header row and one row per measured run)")
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in rows[0]]
    other = "inference" if kind == "training" else "training"
    if not missing and kind == "training" and all(c in rows[0] for c in REQUIRED_COLUMNS["inference"]):
        raise UserError(f"{path}: not a training cases file: it has the serving columns scenario, input_len and "
                        f"output_len (an {other} cases file: fleetcast validate {other})")
    if missing:
        raise UserError(f"{path}: not {'an' if kind == 'inference' else 'a'} {kind} cases file: missing column(s) {', '.join(missing)} "
                        f"(schema: ../shared/validation/{'README' if kind == 'training' else 'INFERENCE'}.md)")
    unread = unread_columns(kind, rows[0])
    if unread:
        print(f"fleetcast: note: {path}: columns not read: {', '.join(unread)}", file=sys.stderr)


def unread_columns(kind: str, row: dict) -> list[str]:
    """The columns of a row read from a cases file that the `kind` reader does not know, in file
    order (a blank header names no column)."""
    from engine.validation import SHORT_ROW, TRAINING_COLUMNS

    if kind == "training":
        known = TRAINING_COLUMNS
    else:
        from engine.validation_inference import INFERENCE_COLUMNS as known
    return [name for name in row if name and name != SHORT_ROW and name not in known]


def _first_of_each_id(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(rows to predict, error cases for rows that repeat an earlier row's id and metric): two
    measurements under one name can't both be scored, and neither is silently dropped."""
    from engine.validation import case_row_numbers

    seen: dict[tuple, int] = {}
    keep, repeated = [], []
    for number, row in zip(case_row_numbers(rows), rows):      # the file's rows (the header is 1)
        key = ((row.get("id") or "").strip(), (row.get("metric") or "").strip())
        if key[0] and key in seen:
            try:
                measured = float(row.get("value") or "")
            except (TypeError, ValueError):
                measured = None
            repeated.append({"id": key[0], "metric": key[1], "measured": measured, "predicted": None,
                             "error_pct": None, "status": "error",
                             "message": f"row {number}: id {key[0]!r} with metric {key[1]!r} repeats row {seen[key]} "
                                        "(each measured run needs its own id); not predicted"})
            continue
        seen.setdefault(key, number)
        keep.append(row)
    return keep, repeated


# Rows not predicted whose reasons are printed whole under the summary line
ERRORS_SHOWN = 10


def _pct(value: float) -> str:
    """An error percentage for the summary line: one decimal, or 3 significant figures where that
    would run to dozens of digits (a p90 of 6.8e304% was printed whole)."""
    return f"{value:.1f}" if abs(value) < 1e6 else f"{value:.3g}"


def _set_aside(chips: dict, calibrated: list[dict], kind: str) -> dict:
    """`chips` with the factors of `kind` that this database stores (`saved_calibrations`: a
    `calibrate --save`, an edit) back at their packaged values, as `calibrate --reset` leaves
    them: a holdout fold must not predict a row with a fit to that very row."""
    from dataclasses import replace
    from types import MappingProxyType

    from engine.catalog import calibration_rows, resolve_calibration

    saved = {entry["chip"]: entry["factors"] for entry in calibrated if entry["kind"] == kind}
    if not saved:
        return chips
    packaged_rows = calibration_rows()
    out = dict(chips)
    for chip_id, chip in chips.items():
        if chip_id not in saved:
            continue
        packaged = resolve_calibration(chip, packaged_rows)
        calibration = {k: v for k, v in chip.calibration.items() if k not in saved[chip_id]}
        calibration.update({k: packaged[k] for k in saved[chip_id] if k in packaged})
        out[chip_id] = replace(chip, calibration=MappingProxyType(calibration))
    return out


def _shown(value):
    """A text cell as the terminal may show it (engine.validate.escape_controls); others as they are."""
    from engine.validate import escape_controls

    return escape_controls(value) if isinstance(value, str) else value


def run(args, ctx) -> Output:
    from engine.calibration import saved_calibrations
    from engine.commands import optional_store
    from engine.validate import escape_controls
    from engine.validation import case_row_numbers, read_cases_csv

    all_rows = read_cases_csv(args.cases)
    check_columns(args.cases, args.kind, all_rows)
    rows, repeated = _first_of_each_id(all_rows)
    # the file row of each case, in the order of the cases below: the predicted rows, then the
    # repeats (a repeat's error line was never printed: the numbers ran out before it)
    predicted_ids = {id(row) for row in rows}
    all_numbers = list(zip(all_rows, case_row_numbers(all_rows)))
    case_numbers = ([n for row, n in all_numbers if id(row) in predicted_ids]
                    + [n for row, n in all_numbers if id(row) not in predicted_ids])
    # "the current factors" of a chip this database calibrated are the user's own fit, perhaps to
    # these very runs (0.8% "error" on the runs just fitted): said, with the chips and factors
    store = optional_store(ctx)
    chip_ids = {str(r.get("chip") or "").strip().lower() for r in rows}
    calibrated = saved_calibrations(store, [c for c in store.chips() if c.id.lower() in chip_ids] if store else [],
                                    (args.kind,))
    if args.holdout:
        named = len({str(r.get(args.holdout) or "").strip() for r in rows} - {""})
        if named < 2:
            # one group (or a blank column) left every case predicted with nothing fitted, and the
            # output still said "out of sample"
            raise UserError(f"{args.cases}: --holdout {args.holdout} needs cases from at least 2 "
                            f"{args.holdout}s in the '{args.holdout}' column (this file names "
                            f"{named or 'no'} {args.holdout}{'' if named == 1 else 's'}); without it, "
                            "run the in-sample validation")
        # out of sample means no fitted value from the held-out rows: a saved fit to them is set
        # aside, every fold (and the in-sample line beside it) at the packaged factors
        chips = _set_aside(_chips(ctx), calibrated, args.kind)
        # a holdout run refits every fold (most of a minute): the fold it is on, on a terminal
        with terminal_progress(lambda fraction, message: f"{fraction * 100:3.0f}% {message}") as progress:
            result = holdout_runner(args.kind)(rows, chips, key=args.holdout, progress=progress)
    elif args.kind == "training":
        from engine.validation import validate_training_cases

        result = validate_training_cases(rows, _chips(ctx))
    else:
        from engine.validation_inference import validate_inference_cases

        result = validate_inference_cases(rows, _chips(ctx))
    if args.kind == "training":
        from engine.validation import public_cases

        result = {"cases": public_cases(result["cases"]), "summary": result["summary"]}
    cases = result["cases"] = list(result["cases"]) + repeated
    s = result.setdefault("summary", {})
    counts = {"ok": 0, "infeasible": 0, "error": 0, **(s.get("by_status") or s.get("counts") or {})}
    if repeated:
        counts["error"] = counts.get("error", 0) + len(repeated)
    s["by_status"] = s["counts"] = counts     # one key in both kinds (training said by_status, inference counts)
    # ids, metrics and messages quote the file's cells: a control character in one ("MPT\x1b[2J")
    # is written as its escape, never sent to the terminal (as the imports show a cell)
    table = [{k: _shown(c.get(k)) for k in ("id", "metric", "measured", "predicted", "error_pct", "status", "message")}
             for c in cases]
    s = result.get("summary", {})
    overall = s.get("overall", {})
    statuses = s.get("by_status") or s.get("counts") or {}
    text = (("out of sample (leave one " + s["holdout"] + " out): " if s.get("holdout") else
             "with the current factors (in sample for the public cases they were fitted on): ")
            + f"{len(cases)} cases: " + ", ".join(f"{k} {v}" for k, v in statuses.items())
            + (f"; median |error| {_pct(overall['median_abs_error_pct'])}%, p90 {_pct(overall['p90_abs_error_pct'])}%"
               if overall.get("median_abs_error_pct") is not None else ""))
    ins = s.get("in_sample") or {}
    if s.get("holdout") and ins.get("median_abs_error_pct") is not None:
        # the headline out of sample, the in-sample figure beside it (README states both): it was
        # only in the JSON
        text += (f"; with the current factors (in sample for the public cases they were fitted on): median |error| "
                 f"{_pct(ins['median_abs_error_pct'])}%, p90 {_pct(ins['p90_abs_error_pct'])}%")
    # folds too thin to refit predict at the documented defaults (engine.validation): said, not only in the JSON
    text += "".join(f"\nnote: {escape_controls(str(n))}" for n in s.get("notes") or [])
    result["calibrated"] = calibrated
    if calibrated and args.holdout:
        set_aside = s["saved_factors_set_aside"] = sorted({entry["chip"] for entry in calibrated})
        text += (f"\nnote: the {args.kind} factors this database saved for {', '.join(set_aside)} (`fleetcast calibrate "
                 f"{args.kind} --chip ID --show` lists them) were set aside: every fold, and the in-sample "
                 "figures beside them, use the packaged ones (a fit to these runs is no out-of-sample test)")
    elif calibrated:
        from engine.calibration import saved_calibration_text

        text += "".join(f"\nnote: {saved_calibration_text(entry)}" for entry in calibrated)
    # a row not predicted, whole and with its file row: the table cuts a message at 48 characters
    # ("layers: '' (layers, hidden and heads must be wh…") and names only the case id
    failed = [(number, c) for number, c in zip(case_numbers, cases) if c.get("status") == "error"]
    for number, c in failed[:ERRORS_SHOWN]:
        # (a repeat's message opens with its row for the table, which names none: not said twice)
        message = str(c.get("message") or "").removeprefix(f"row {number}: ")
        text += f"\nerror: {escape_controls(str(args.cases))} row {number} ({_shown(c.get('id'))}): {_shown(message)}"
    if len(failed) > ERRORS_SHOWN:
        text += f"\nerror: ... and {len(failed) - ERRORS_SHOWN} more rows not predicted (--format json lists them all)"
    extra = []
    for key in ("by_family", "by_chip", "by_source"):
        if key in s:
            title = key.replace("_", " ") + (" (out of sample)" if s.get("holdout") else "")
            rows_out = [{"group": _shown(g), **v} for g, v in s[key].items()]
            if key == "by_family" and s.get("in_sample_by_family"):
                # out-of-sample beside in-sample, per chip family (the README headline)
                for r in rows_out:
                    ins = s["in_sample_by_family"].get(r["group"], {})
                    r["in_sample_median_pct"] = ins.get("median_abs_error_pct")
                    r["in_sample_p90_pct"] = ins.get("p90_abs_error_pct")
            extra.append((title, rows_out))
    return Output(data=result, rows=table, text=text, extra_tables=extra)

