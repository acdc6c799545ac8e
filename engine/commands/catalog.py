"""`chips`, `orders` and `models`: list, import and export the catalog data."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict
from pathlib import Path

from engine.cli import add_command, add_group
from engine.commands import Output, record_id, whole_number
from engine.csv_io import CHIP_COLUMN_UNITS, STDOUT_NAME
from engine.errors import UserError, ValidationError

# fp4 and the network's shape change results a lot (serving at fp4; collectives on a mesh or an
# oversubscribed fabric): shown beside the peaks and link speeds they qualify
CHIP_TABLE_COLUMNS = ["id", "vendor", "name", "bf16_tflops", "fp8_tflops", "fp4_tflops", "hbm_gb", "hbm_gbps",
                      "scaleup_gbps", "scaleup_domain", "scaleup_topology", "scaleup_link_gbps", "scaleout_gbps",
                      "scaleout_oversubscription", "tdp_w", "price_usd", "china_market", "confidence", "calibrate_as"]
ORDER_COLUMNS = ["id", "buyer", "vendor", "chip_id", "quantity", "delivered", "order_date", "promised",
                 "price_usd_per_chip", "status", "source", "note"]
ORDERS_TABLE_LIMIT = 100  # a table is for reading; csv/json stream every order
# A line break in a table cell, shown: printed raw it started a new table line
TABLE_LINE_BREAK = " \u23ce "   # ⏎
# (the attention window and its layers change the KV cache per sequence: shown beside the context)
MODEL_COLUMNS = ["id", "name", "params_b", "active_params_b", "attention", "layers", "hidden", "heads",
                 "kv_heads", "ffn_hidden", "moe_experts", "moe_topk", "vocab", "seq_len", "context_len",
                 "attention_window_tokens", "windowed_layers"]


def _chip_columns_help() -> str:
    """`chips import --help`'s list of the columns a file may have, each with its unit."""
    from engine.catalog import CHIP_FIELDS

    # what check_chip refuses a new chip without (QA s37: the help named only id and the HBM pair)
    required = {name: "required" for name in ("id", "vendor", "name", "hbm_gb", "hbm_gbps")}
    cells = []
    for name in CHIP_FIELDS:
        said = "; ".join(x for x in (CHIP_COLUMN_UNITS.get(name), required.get(name)) if x)
        cells.append(f"{name} ({said})" if said else name)
    return ("columns (a header row names them, in any order; a chip already in the catalog keeps the columns "
            "the file leaves out): " + ", ".join(cells) + ". A chip needs at least one of bf16_tflops, "
            "fp16_tflops, fp8_tflops and int8_tops above 0. Peaks are dense (no sparsity), HBM in GiB (2^30 "
            "bytes, as the vendor's 'GB' label), link bandwidths in GB/s per direction.")


_EXPORT_FILE_HELP = f"the CSV file to write ('{STDOUT_NAME}': stdout, without the byte order mark a file gets for Excel)"


def register(subparsers) -> None:
    chips = add_group(subparsers, "chips", "the chip catalog (dense TFLOP/s, HBM in GiB, GB/s per direction)")
    add_command(chips, "list", "list every chip with its specs and sources").set_defaults(handler=chips_list)
    p = add_command(chips, "import", "validate every row of a CSV, then write all rows or none",
                    epilog=_chip_columns_help())
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--replace", action="store_true",
                   help="let rows with the id of an existing chip change it (without it such a file imports nothing)")
    p.set_defaults(handler=chips_import)
    p = add_command(chips, "export", "write the catalog to a CSV file (its fields; factors fitted in this "
                                     "database with `calibrate --save` are not in it: `backup` keeps them)")
    p.add_argument("file", metavar="FILE.csv", help=_EXPORT_FILE_HELP)
    p.add_argument("--force", action="store_true", help="replace FILE.csv if it exists")
    p.set_defaults(handler=chips_export)
    p = add_command(chips, "delete", "delete chips with their calibration, all or none (not one that orders or a "
                                     "scenario's forecast use; a built-in one only with --force; `backup` first "
                                     "to keep a copy)")
    p.add_argument("ids", metavar="ID", nargs="+", help="chip ids (see `chips list`)")
    p.add_argument("--force", action="store_true",
                   help="let a built-in catalog chip be deleted (it comes back only from a backup or a chips CSV: "
                        "`chips export` first)")
    p.set_defaults(handler=chips_delete)

    orders = add_group(subparsers, "orders", "chip orders and their deliveries")
    p = add_command(orders, "list", "list orders with delivered quantities")
    p.add_argument("--limit", type=whole_number, metavar="N",
                   help=f"at most N orders (default: {ORDERS_TABLE_LIMIT} in a table, all for csv/json)")
    p.add_argument("--offset", type=whole_number, default=0, metavar="K", help="skip the first K orders")
    p.set_defaults(handler=orders_list)
    p = add_command(orders, "import", "validate every row of a CSV (deliveries as DATE:QTY;..., their notes as a JSON list in delivery_notes), then write all or none")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--replace", action="store_true",
                   help="let rows with the id of an existing order change it and its deliveries (without it such a "
                        "file imports nothing; ids are this database's: another database's export carries other orders)")
    p.add_argument("--again", action="store_true",
                   help="add rows without an id that equal stored orders in every field and delivery as more orders "
                        "(without it such a file imports nothing: the same sheet imported twice doubled the fleet)")
    p.set_defaults(handler=orders_import)
    p = add_command(orders, "delete", "delete orders with their deliveries, all or none (a new database starts "
                                      "with the story's demo orders; `backup` first to keep a copy)")
    p.add_argument("ids", metavar="ID", nargs="+", type=record_id, help="order ids (see `orders list`)")
    p.set_defaults(handler=orders_delete)
    p = add_command(orders, "export", "write orders (with their deliveries) to a CSV file")
    p.add_argument("file", metavar="FILE.csv", help=_EXPORT_FILE_HELP)
    p.add_argument("--force", action="store_true", help="replace FILE.csv if it exists")
    p.set_defaults(handler=orders_export)

    models = add_group(subparsers, "models", "model presets (transformer architectures)")
    add_command(models, "list", "list model presets").set_defaults(handler=models_list)
    p = add_command(models, "import", "turn a Hugging Face config.json (read offline) into a preset")
    p.add_argument("file", metavar="FILE.json")
    p.add_argument("--id", help="preset id (default: the Hugging Face cache folder's repo; else a file not named config.json by its "
                        "own name (m50.json: m50); else config.json by the config's _name_or_path, else its folder)")
    p.add_argument("--name", help="display name")
    p.add_argument("--seq-len", type=whole_number, default=4096, help="training sequence length (default 4096)")
    p.add_argument("--replace", action="store_true", help="overwrite an existing preset with this id")
    p.set_defaults(handler=models_import)
    p = add_command(models, "delete", "delete model presets, all or none (not one a scenario's forecast uses; a "
                                      "built-in one only with --force; `backup` first to keep a copy)")
    p.add_argument("ids", metavar="ID", nargs="+", help="preset ids (see `models list`)")
    p.add_argument("--force", action="store_true",
                   help="let a built-in preset be deleted (it comes back only from a backup or its config.json)")
    p.set_defaults(handler=models_delete)

    p = add_command(subparsers, "backup", "copy the whole database (chips with their calibration, orders and "
                    "deliveries, model presets, scenarios) to FILE.db, consistent even while the window writes; "
                    "open the copy with --db FILE.db")
    p.add_argument("file", metavar="FILE.db")
    p.add_argument("--force", action="store_true", help="replace FILE.db if it exists")
    p.set_defaults(handler=backup)


# ---- chips -----------------------------------------------------------------------------------

def chips_list(args, ctx) -> Output:
    store = ctx.store()
    effective = {chip.id: dict(chip.calibration) for chip in store.chips()}
    data = [{**row, "calibration": effective.get(row["id"], {})} for row in store.chip_rows()]
    rows = data if args.format == "csv" else None
    columns = None if args.format == "csv" else CHIP_TABLE_COLUMNS
    if args.format == "csv":
        rows = [{k: v for k, v in r.items() if k != "calibration"} for r in data]
    return Output(data=data, rows=rows if rows is not None else data, columns=columns)


def _saved_import(summary) -> str:
    """Ctrl+C's words once an import has committed: it must not be run again unawares."""
    again = "; running it again adds them again" if summary.kind == "order" and summary.added else ""
    return (f"the import was saved: {len(summary.added):,} {summary.kind}(s) added, "
            f"{len(summary.updated):,} updated{again}")


def _warn_on_stderr(summary, args) -> None:
    """An import's warnings for `--format csv`, whose stdout holds one row of counts: table and
    json show them, csv dropped them ("the same as order 4 ... (imported twice?)" went unsaid)."""
    if args.format != "csv":
        return
    for warning in summary.warnings:
        print(f"fleetcast: warning: {' '.join(str(warning).splitlines())}", file=sys.stderr)


def _to_stdout(args) -> bool:
    """`export -`: the CSV on stdout, as command-line tools read '-' (it wrote a file named '-')."""
    return args.file == STDOUT_NAME


def _refuse_stdin(args) -> None:
    """'-' is standard output for an export; an import does not read standard input, and a file
    that happened to be named '-' was imported silently in its place (QA s28)."""
    if args.file == STDOUT_NAME:
        raise UserError(f"{STDOUT_NAME}: an import reads a file, not standard input; save the CSV to a file "
                        "and give its name ('-' is standard output for export only)")


def chips_import(args, ctx) -> Output:
    _refuse_stdin(args)
    ctx.unsaved = "nothing imported"
    summary = ctx.store().import_chips(args.file, update_existing=args.replace)
    ctx.saved = _saved_import(summary)
    _warn_on_stderr(summary, args)
    return Output(data=summary.as_dict(), text=summary.text(), rows=_summary_row(summary, args))


def chips_export(args, ctx) -> Output:
    store = ctx.store()
    # a chip fitted here and moved by export -> import lost its fit without a word
    fitted = sorted(store._calibration_by_chip()) if hasattr(store, "_calibration_by_chip") else []
    text = (f"note: the factors fitted in this database for {', '.join(fitted[:4])}{' ...' if len(fitted) > 4 else ''} "
            "are not in the CSV (`fleetcast backup` keeps them)") if fitted else ""
    if _to_stdout(args):
        from engine.store.transfer import write_chips_csv

        def stream(out) -> None:   # the CSV alone on stdout; the note, if any, on stderr
            write_chips_csv(store, out, lineterminator="\n")
            if text:
                print(f"fleetcast: {text}", file=sys.stderr)

        return Output(data=None, stream=stream)
    ctx.unsaved = f"nothing was written to {args.file}"
    count = store.export_chips_csv(args.file, force=args.force)
    ctx.saved = f"{args.file} was written"
    return Output(data={"exported": count, "file": str(args.file), "calibration_not_exported": fitted},
                  rows=[{"exported": count, "file": str(args.file)}], text=text)


# ---- orders ----------------------------------------------------------------------------------

def _order_record(order: dict, deliveries: list[dict]) -> dict:
    return {**{k: order.get(k) for k in ORDER_COLUMNS},
            "deliveries": [{"id": d["id"], "date": d["date"], "quantity": d["quantity"], "note": d["note"]}
                           for d in deliveries]}


def orders_list(args, ctx) -> Output:
    if args.limit is not None and args.limit < 0:
        raise UserError(f"--limit: {args.limit} (must be 0 or more)")
    if args.offset < 0:
        raise UserError(f"--offset: {args.offset} (must be 0 or more)")
    store = ctx.store()
    limit = args.limit if args.limit is not None or args.format != "table" else ORDERS_TABLE_LIMIT
    if args.format == "table":
        records = list(store.iter_orders(limit=limit, offset=args.offset))
        rows = [{k: _one_line(order.get(k)) for k in ORDER_COLUMNS} for order, _ in records]
        text = ""
        total = store.order_count()
        if args.offset and not rows:
            text = f"no orders at --offset {args.offset:,} ({total:,} in all)"
        elif not rows and total:   # --limit 0 read "orders 1-0 of 3"
            text = f"no orders shown (--limit 0; {total:,} in all)"
        elif args.offset or len(rows) < total:
            text = (f"orders {args.offset + 1}-{args.offset + len(rows)} of {total:,} "
                    "(--limit N --offset K for others; --format csv or json for all)")
        return Output(data=[_order_record(o, d) for o, d in records], rows=rows, columns=ORDER_COLUMNS, text=text)

    def stream(out) -> None:  # one order at a time: a million orders never sit in memory
        from engine.cli import stream_csv, stream_json_list

        records = store.iter_orders(limit=limit, offset=args.offset)
        if args.format == "json":
            stream_json_list((_order_record(o, d) for o, d in records), out)
        else:
            stream_csv(({k: o.get(k) for k in ORDER_COLUMNS} for o, _ in records), ORDER_COLUMNS, out)

    return Output(data=None, stream=stream)


def _one_line(value):
    """A table cell's text on one line (csv and json keep the text as it is)."""
    if not isinstance(value, str):
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", TABLE_LINE_BREAK).replace("\t", " ")


def orders_import(args, ctx) -> Output:
    _refuse_stdin(args)
    ctx.unsaved = "nothing imported"
    store = ctx.store()
    summary = store.import_orders(args.file, update_existing=args.replace, allow_twins=args.again)
    ctx.saved = _saved_import(summary)
    _warn_on_stderr(summary, args)
    data, text = summary.as_dict(), summary.text()
    # orders the file does not hold still count in every forecast: said (a file moved into a new
    # database came back with the story's 210,000 demo chips beside it, "1 added (4)" unsaid).
    # Ids, quantities and chips only: reading every order back in full took a second after the
    # commit, and a Ctrl+C then read as if nothing had been imported.
    mine = {int(i) for i in summary.added + summary.updated + summary.unchanged if str(i).isdigit()}
    rest = [brief for brief in store.order_briefs() if brief[0] not in mine]
    others = len(rest)
    data["other_orders_in_database"] = others
    if others > 0:
        # named, not guessed at: "a new database starts with the story's demo orders" was said of
        # a user's own orders 10-12 after the demo ones were deleted
        named = ", ".join(f"{order_id} ({_thousands(quantity)} {chip_id})" for order_id, quantity, chip_id in rest[:4]) + (
            f" and {others - 4:,} more" if others > 4 else "")
        text += (f"\nnote: the database holds {others:,} other order(s) that every forecast counts too: {named}; "
                 "`fleetcast orders delete ID ...` removes orders")
    return Output(data=data, text=text, rows=_summary_row(summary, args))


def _thousands(value) -> str:
    return f"{value:,}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def orders_delete(args, ctx) -> Output:
    snapshots = ctx.store().delete_orders(args.ids)
    rows = [{"id": s["order"]["id"], "chip_id": s["order"]["chip_id"], "quantity": s["order"]["quantity"],
             "deliveries": len(s.get("deliveries") or [])} for s in snapshots]
    text = (f"deleted {len(rows)} order(s) with their deliveries: "
            + ", ".join(f"{r['id']} ({r['quantity']:,} {r['chip_id']})" for r in rows))
    return Output(data={"deleted": rows}, rows=rows, text=text)


def orders_export(args, ctx) -> Output:
    if _to_stdout(args):
        from engine.store.transfer import write_orders_csv

        store = ctx.store()

        def stream(out) -> None:
            write_orders_csv(store, out, lineterminator="\n")

        return Output(data=None, stream=stream)
    ctx.unsaved = f"nothing was written to {args.file}"
    count = ctx.store().export_orders_csv(args.file, force=args.force)
    ctx.saved = f"{args.file} was written"
    return Output(data={"exported": count, "file": str(args.file)}, rows=[{"exported": count, "file": str(args.file)}])


def _summary_row(summary, args) -> list[dict]:
    """An import's figures as one CSV row (counts, not the id lists); the table prints the sentence."""
    if args.format != "csv":
        return []
    data = summary.as_dict()
    return [{k: len(v) if isinstance(v, (list, tuple)) else v for k, v in data.items()}]


# ---- models ----------------------------------------------------------------------------------

def billions(params: float) -> float:
    """Parameters in billions to 3 decimals, or 3 significant digits below 0.1 B: a 0.26 M-parameter
    import read "params_b": 0.0."""
    b = float(params) / 1e9
    if b <= 0 or b >= 0.1:
        return round(b, 3)
    return round(b, 2 - math.floor(math.log10(b)))


def params_text(params: float) -> str:
    """'70.554 B', or '0.262 M' below 0.1 B (where the B figure read '0.0 B')."""
    if float(params) >= 1e8 or params <= 0:
        return f"{billions(params)} B"
    return f"{float(params) / 1e6:.3g} M"


def model_summary(model) -> dict:
    data = asdict(model)
    data["params_b"] = billions(model.total_params())
    data["active_params_b"] = billions(model.active_params())
    data["attention"] = model.attention
    return data


def models_list(args, ctx) -> Output:
    data = [model_summary(m) for m in ctx.store().models()]
    return Output(data=data, columns=MODEL_COLUMNS if args.format == "table" else None)


def _hf_cache_repo(parts) -> str | None:
    """NAME of a Hugging Face cache path (.../models--ORG--NAME/snapshots/COMMIT/...), else None:
    its snapshot folder is named by a commit hash."""
    parts = list(parts)
    for i, part in enumerate(parts[:-1]):
        if part.startswith("models--") and parts[i + 1] == "snapshots":
            return part.split("--")[-1] or None
    return None


def import_name(path: Path, config) -> str:
    """What a config.json is named after when --id/--name don't say: the repository of a Hugging
    Face cache snapshot, else the config's _name_or_path (its last part), else its folder; a file
    with a name of its own, by that ("./config.json" made a preset 'config', a cache snapshot one
    named by its commit hash)."""
    # not resolve(): a cache snapshot's config.json is a link into the cache's blobs/ folder
    full = Path(os.path.abspath(path))
    repo = _hf_cache_repo(full.parts)
    if repo:
        return repo
    if path.name != "config.json":
        return path.stem
    given = config.get("_name_or_path") if isinstance(config, dict) else None
    if isinstance(given, str) and given.strip():
        parts = [p for p in given.strip().replace("\\", "/").split("/") if p not in ("", ".", "..")]
        repo = _hf_cache_repo(parts)
        if repo or parts:
            return repo or parts[-1]
    return full.parent.name or path.stem


def _preset_id(text: str, field: str = "--id") -> str:
    """--id as the store keeps it (parse_id: trimmed), checked before anything is compared with it:
    "llama3-70b " overwrote the built-in preset without --replace."""
    from engine.validate import parse_id

    try:
        return parse_id(field, text)
    except ValidationError as exc:
        raise UserError("; ".join(exc.problems)) from None


def _same_name_warning(presets, name: str) -> str:
    """The presets an import's display name matches, each name as it is stored: the menus take
    names alike but for case as one, and "llama3-8b have the name 'llama 3 8b'" misquoted
    "Llama 3 8B"."""
    names = list(dict.fromkeys(m.name for m in presets))
    said = ", ".join(f"'{n}'" for n in names)
    alike = " too" if names == [name] else " (alike but for case or spaces)"
    return (f"preset(s) {', '.join(m.id for m in presets)} have the name{'s' if len(names) > 1 else ''} {said}"
            f"{alike}; --name tells them apart")


def models_import(args, ctx) -> Output:
    from engine.hf_config import model_from_hf_config, slug

    from engine.csv_io import read_json_file
    from engine.hf_config import parse_json_int

    if args.seq_len is not None and not 1 <= args.seq_len <= 10_000_000:
        # 0 was reported as "seq_len set to 0" and stored as 4096
        raise UserError(f"--seq-len {args.seq_len}: a whole number of tokens, 1 to 10,000,000")
    model_id = _preset_id(args.id) if args.id is not None else None
    path = Path(args.file)
    if path.is_dir():  # a downloaded model folder: its config.json
        path = path / "config.json"
    config = read_json_file(path, what="config.json", parse_int=parse_json_int)
    derived_name = import_name(path, config)
    model_id = model_id or slug(derived_name)
    store = ctx.store()
    presets = store.models()
    old = next((m for m in presets if m.id == model_id), None)
    # --replace without --name keeps the preset's name ("Qwen3 235B-A22B (MoE)" became its id)
    name = args.name or (old.name if old is not None and args.replace else model_id if args.id else derived_name)
    try:
        result = model_from_hf_config(config, model_id=model_id, name=name, training_seq_len=args.seq_len)
    except ValidationError as exc:
        raise ValidationError(exc.problems, context=str(path)) from None
    from engine.hf_config import NOT_MODELLED_WHY

    if old is not None and not args.replace:
        raise UserError(f"{path}: a preset with id '{model_id}' exists; pass --replace or --id NEW_ID")
    # the window's model menus list presets by name: two of one name read as one preset twice
    same_name = [m for m in presets if m.id != model_id
                 and m.name.strip().casefold() == result.model.name.strip().casefold()]
    warnings = [_same_name_warning(same_name, result.model.name)] if same_name else []
    # what --replace overwrote, said: "imported 'llama3-70b': 0.124 B" read as if Llama 3 70B were still there
    replaced = None
    if old is not None:
        was = model_summary(old)
        replaced = {k: was[k] for k in ("id", "name", "params_b", "active_params_b")}
    store.save_model(result.model)
    summary = model_summary(result.model)
    data = {"model": summary, "replaced": replaced, "used_fields": list(result.used),
            "ignored_fields": list(result.ignored), "not_modelled_fields": list(result.not_modelled),
            "unknown_fields": list(result.unknown), "notes": list(result.notes), "warnings": warnings}
    if old is not None and replaced is not None:
        was_size = f"{replaced['params_b']:.2f} B" if old.total_params() >= 1e8 else params_text(old.total_params())
        head = f"replaced '{model_id}' (was {replaced['name']}, {was_size} parameters) with"
    else:
        head = f"imported '{model_id}':"
    new_model = result.model
    text = (f"{head} {params_text(new_model.total_params())} parameters "
            f"({params_text(new_model.active_params())} active)\n"
            f"unknown fields (not used; check them): {', '.join(result.unknown) or 'none'}\n"
            + (f"not modelled ({NOT_MODELLED_WHY}): {', '.join(result.not_modelled)}\n" if result.not_modelled else "")
            + f"ignored fields (no effect on the model): {', '.join(result.ignored) or 'none'}"
            + (f"\nnotes: {'; '.join(result.notes)}" if result.notes else "")
            + "".join(f"\nwarning: {w}" for w in warnings))
    return Output(data=data, rows=[{k: summary[k] for k in MODEL_COLUMNS}], columns=MODEL_COLUMNS, text=text)


# Where a scenario's forecast names a chip or a model preset: a key holding the id, or a table keyed
# by chip id. The views' saved inputs ("ui") do not stop a delete: the window shows another choice
# (gui.panels.training_form.missing_choices) where the forecast would stop; they are warned of after it
# (_views_naming).
SCENARIO_KEYED_BY_CHIP = ("training_share",)
# The views whose saved inputs name one model and one chip: {params["ui"] key: the view's tab name}
NAMING_VIEWS = {"training": "Training", "inference": "Inference"}


def _scenario_uses(store, key: str, ids) -> dict[str, list[str]]:
    """{id: ["scenario 'NAME' (path)", ...]} for the saved scenarios whose forecast inputs name it;
    whole scenarios before the what-ifs that inherit from them."""
    wanted: set[str] = set(ids)
    found: dict[str, list[str]] = {}

    def walk(value, where: str, scenario: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                k = str(k)
                here = f"{where}.{k}" if where else k
                keyed = key == "chip_id" and where.rsplit(".", 1)[-1] in SCENARIO_KEYED_BY_CHIP and k in wanted
                if keyed or (k == key and isinstance(v, str) and v in wanted):
                    uses = found.setdefault(k if keyed else v, [])
                    if not any(u.startswith(f"scenario '{scenario}' ") for u in uses):
                        uses.append(f"scenario '{scenario}' ({here})")
                walk(v, here, scenario)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]", scenario)

    for scenario in _scenarios_in_order(store):
        params = {k: v for k, v in (scenario.get("params") or {}).items() if k != "ui"}
        walk(params, "", scenario["name"])
    return found


def _scenarios_in_order(store) -> list[dict]:
    """Whole scenarios before the what-ifs that inherit from them, each by name."""
    return sorted(store.scenarios(), key=lambda sc: (sc.get("base") is not None, sc["name"]))


def _views_naming(store, key: str, ids, what: str) -> list[str]:
    """One warning per scenario whose Training or Inference view shows one of `ids` (`key` is
    "model_id" or "chip_id"): saved so, or the view's default where it saved no inputs. After the
    delete the window shows another `what` there, and `export`/`report` figures for it: a study
    saved with the deleted preset read as kept."""
    from engine.studies import ServingStudy, TrainingStudy

    defaults = {"training": getattr(TrainingStudy(), key), "inference": getattr(ServingStudy(), key)}
    wanted = set(ids)
    warnings = []
    for scenario in _scenarios_in_order(store):
        ui = (scenario.get("params") or {}).get("ui")
        ui = ui if isinstance(ui, dict) else {}
        named: dict[str, list[str]] = {}   # id -> the views naming it
        for view, title in NAMING_VIEWS.items():
            state = ui.get(view)
            chosen = state.get(key, defaults[view]) if isinstance(state, dict) else defaults[view]
            if isinstance(chosen, str) and chosen in wanted:
                named.setdefault(chosen, []).append(title)
        for item, views in named.items():
            one = len(views) == 1
            warnings.append(f"scenario '{scenario['name']}': its {' and '.join(views)} view{'' if one else 's'} "
                            f"name{'s' if one else ''} {item}; {'it' if one else 'they'} will show another {what} "
                            "until you pick one")
        if key == "chip_id":
            warnings += _chip_lists_naming(scenario["name"], ui, wanted)
    return warnings


def _chip_lists_naming(scenario: str, ui: dict, wanted: set[str]) -> list[str]:
    """The warnings for a scenario whose views list a deleted chip among several: the Training
    view's scaling curve and the Inference view's chip comparison (saved, else the views' default
    DEFAULT_COMPARE_CHIPS), and the Plan's candidates it names. Deleting the H100 took it from
    the Training curve (4 chip types to 3) with no word."""
    from engine.studies import ServingStudy, TrainingStudy

    defaults = {"training": TrainingStudy().compare_chips, "inference": ServingStudy().compare_chips}
    comparing: dict[str, list[str]] = {}   # id -> the views comparing it
    for view, title in NAMING_VIEWS.items():
        state = ui.get(view)
        chips = state.get("compare_chips", defaults[view]) if isinstance(state, dict) else defaults[view]
        for chip_id in dict.fromkeys(chips if isinstance(chips, (list, tuple)) else ()):
            if isinstance(chip_id, str) and chip_id in wanted:
                comparing.setdefault(chip_id, []).append(title)
    warnings = []
    for chip_id, views in comparing.items():
        one = len(views) == 1
        warnings.append(f"scenario '{scenario}': its {' and '.join(views)} view{'' if one else 's'} "
                        f"compare{'s' if one else ''} {chip_id} among {'its' if one else 'their'} chips; "
                        f"{'it' if one else 'they'} will compare one chip type fewer")
    plan = ui.get("plan")
    candidates = plan.get("candidates") if isinstance(plan, dict) else None
    for chip_id, edits in (candidates.items() if isinstance(candidates, dict) else ()):
        # {"use": False} takes a packaged candidate off the list: the plan never bought it anyway
        if chip_id in wanted and not (isinstance(edits, dict) and edits.get("use", True) is False):
            warnings.append(f"scenario '{scenario}': its Plan view lists {chip_id} among the chips to buy; "
                            "the plan will no longer consider it")
    return warnings


def _refuse_if_used(what: str, used: dict[str, list[str]]) -> None:
    if used:
        item, uses = next(iter(used.items()))
        more = f" and {len(uses) - 1} other scenario(s)" if len(uses) > 1 else ""
        raise UserError(f"{what} '{item}': {uses[0]}{more} use it; change or delete those first; nothing deleted")


# Where a deleted built-in comes back from: a chip is one CSV row (`chips import` puts it back
# with its packaged calibration), a preset needs its Hugging Face config.json (`models import`)
COMES_BACK_FROM = {"chip": "a backup or a chips CSV (chips export first)",
                   "model": "a backup or its config.json"}


def _refuse_built_in(what: str, ids, built_in, force: bool) -> None:
    """A packaged preset or catalog chip is deleted only with --force: a new database starts from
    the packaged ones, this one gets it back only as COMES_BACK_FROM says."""
    packaged = [i for i in ids if i in built_in]
    if packaged and not force:
        more = f" (and {len(packaged) - 1} more)" if len(packaged) > 1 else ""
        raise UserError(f"{what} '{packaged[0]}'{more}: built in, it can come back only from "
                        f"{COMES_BACK_FROM[what]}; pass --force to delete it; nothing deleted")


def _ids_to_delete(ids) -> list[str]:
    """The ids as given, trimmed, once each, in order."""
    return list(dict.fromkeys(_preset_id(i, "ID") for i in ids))


def _with_warnings(text: str, warnings: list[str]) -> str:
    return text + "".join(f"\nwarning: {w}" for w in warnings)


def models_delete(args, ctx) -> Output:
    from engine.catalog import reference_models

    ctx.unsaved = "nothing deleted"
    ids = _ids_to_delete(args.ids)
    store = ctx.store()
    presets = {m.id: m for m in store.models()}
    missing = [i for i in ids if i not in presets]
    if missing:
        raise UserError(f"model '{missing[0]}': no such preset (see `fleetcast models list`); nothing deleted")
    _refuse_if_used("model", _scenario_uses(store, "model_id", ids))
    built_in = reference_models()
    _refuse_built_in("model", ids, built_in, args.force)
    with store.db.atomic():   # all or none
        for model_id in ids:
            store.delete_model(model_id)
    ctx.saved = f"{len(ids)} preset(s) were deleted"
    warnings = _views_naming(store, "model_id", ids, "model")
    rows = [{"id": i, "name": presets[i].name, "built_in": i in built_in} for i in ids]
    text = (f"deleted {len(rows)} model preset(s): "
            + ", ".join(f"{r['id']} ({r['name']}{', built in' if r['built_in'] else ''})" for r in rows))
    return Output(data={"deleted": rows, "warnings": warnings}, rows=rows, text=_with_warnings(text, warnings))


def chips_delete(args, ctx) -> Output:
    import resources
    from engine.catalog import read_csv_rows

    ctx.unsaved = "nothing deleted"
    ids = _ids_to_delete(args.ids)
    store = ctx.store()
    chips = {c["id"]: c for c in store.chip_rows()}
    missing = [i for i in ids if i not in chips]
    if missing:
        raise UserError(f"chip '{missing[0]}': not in the catalog (see `fleetcast chips list`); nothing deleted")
    ordered: dict[str, int] = {}
    for _, quantity, chip_id in store.order_briefs():
        if chip_id in ids:
            ordered[chip_id] = ordered.get(chip_id, 0) + 1
    if ordered:
        cid, count = next(iter(ordered.items()))
        raise UserError(f"chip '{cid}': {count:,} order(s) use it; delete those orders first "
                        "(`fleetcast orders delete ID ...`); nothing deleted")
    _refuse_if_used("chip", _scenario_uses(store, "chip_id", ids))
    built_in = {row["id"] for row in read_csv_rows(resources.read_text("chips.csv"))}
    _refuse_built_in("chip", ids, built_in, args.force)
    with store.db.atomic():   # all or none
        snapshots = [store.delete_chip(chip_id) for chip_id in ids]
    ctx.saved = f"{len(ids)} chip(s) were deleted"
    warnings = _views_naming(store, "chip_id", ids, "chip")
    rows = [{"id": i, "name": chips[i].get("name"), "calibration_values": len(s.get("calibration") or []),
             "built_in": i in built_in} for i, s in zip(ids, snapshots)]
    text = (f"deleted {len(rows)} chip(s): "
            + ", ".join(f"{r['id']} ({r['name']}{', built in' if r['built_in'] else ''}"
                        f"{f', {n} fitted value(s)' if (n := r['calibration_values']) else ''})" for r in rows))
    return Output(data={"deleted": rows, "warnings": warnings}, rows=rows, text=_with_warnings(text, warnings))


def backup(args, ctx) -> Output:
    if args.file == STDOUT_NAME:   # it wrote a database file named '-' and said "backed up to -" (QA s39)
        raise UserError(f"{STDOUT_NAME}: a backup is a database file, not standard output; give its file name "
                        "(FILE.db)")
    ctx.unsaved = f"no backup was written to {args.file}"
    store = ctx.store()
    target = store.backup_to(args.file, force=args.force)
    ctx.saved = f"the backup was written to {target}"
    # counted in the copy: the live database, read after it, also counted what another program
    # committed meanwhile (53 orders said, 3 in the file)
    from engine.store import open_store

    copy = open_store(target, read_only=True)
    try:
        counts = {"chips": len(copy.chip_rows()), "orders": copy.order_count(), "models": len(copy.model_rows()),
                  "scenarios": len(copy.scenarios())}
    finally:
        copy.close()
    data = {"file": str(target), **counts}
    note = store.backup_note()   # an older read-only file is copied at its own schema: said on the line
    if note:
        data["note"] = note
    return Output(data=data, rows=[data] if args.format == "csv" else [],
                  text=f"backed up {store.path} to {target}: " + ", ".join(f"{n:,} {k}" for k, n in counts.items())
                  + (f" ({note})" if note else ""))
