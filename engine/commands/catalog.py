"""`chips`, `orders` and `models`: list, import and export the catalog data."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from engine.cli import add_command, add_group
from engine.commands import Output
from engine.errors import UserError, ValidationError

CHIP_TABLE_COLUMNS = ["id", "vendor", "name", "bf16_tflops", "fp8_tflops", "hbm_gb", "hbm_gbps",
                      "scaleup_gbps", "scaleup_domain", "scaleout_gbps", "tdp_w", "price_usd",
                      "china_market", "confidence"]
ORDER_COLUMNS = ["id", "buyer", "vendor", "chip_id", "quantity", "delivered", "order_date", "promised",
                 "price_usd_per_chip", "status", "source", "note"]
MODEL_COLUMNS = ["id", "name", "params_b", "active_params_b", "attention", "layers", "hidden", "heads",
                 "kv_heads", "ffn_hidden", "moe_experts", "moe_topk", "vocab", "seq_len"]


def register(subparsers) -> None:
    chips = add_group(subparsers, "chips", "the chip catalog (dense TFLOP/s, GB, GB/s per direction)")
    add_command(chips, "list", "list every chip with its specs and sources").set_defaults(handler=chips_list)
    p = add_command(chips, "import", "validate every row of a CSV, then write all rows or none")
    p.add_argument("file", metavar="FILE.csv")
    p.set_defaults(handler=chips_import)
    p = add_command(chips, "export", "write the catalog to a CSV file")
    p.add_argument("file", metavar="FILE.csv")
    p.set_defaults(handler=chips_export)

    orders = add_group(subparsers, "orders", "chip orders and their deliveries")
    add_command(orders, "list", "list orders with delivered quantities").set_defaults(handler=orders_list)
    p = add_command(orders, "import", "validate every row of a CSV (deliveries as DATE:QTY;...), then write all or none")
    p.add_argument("file", metavar="FILE.csv")
    p.set_defaults(handler=orders_import)
    p = add_command(orders, "export", "write orders (with their deliveries) to a CSV file")
    p.add_argument("file", metavar="FILE.csv")
    p.set_defaults(handler=orders_export)

    models = add_group(subparsers, "models", "model presets (transformer architectures)")
    add_command(models, "list", "list model presets").set_defaults(handler=models_list)
    p = add_command(models, "import", "turn a Hugging Face config.json (read offline) into a preset")
    p.add_argument("file", metavar="FILE.json")
    p.add_argument("--id", help="preset id (default: from the file or folder name)")
    p.add_argument("--name", help="display name")
    p.add_argument("--seq-len", type=int, default=4096, help="training sequence length (default 4096)")
    p.add_argument("--replace", action="store_true", help="overwrite an existing preset with this id")
    p.set_defaults(handler=models_import)


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


def chips_import(args, ctx) -> Output:
    store = ctx.store()
    existing = {row["id"] for row in store.chip_rows()}
    count = store.import_chips_csv(args.file)
    ids = [row["id"] for row in store.chip_rows()]
    imported = _csv_ids(args.file)
    updated = sorted(i for i in imported if i in existing)
    added = sorted(i for i in imported if i not in existing and i in ids)
    text = f"imported {count} chip(s) from {args.file}: {len(added)} added"
    if updated:
        text += f", {len(updated)} replaced ({', '.join(updated[:8])}{' …' if len(updated) > 8 else ''})"
    return Output(data={"imported": count, "added": added, "replaced": updated, "file": str(args.file)},
                  text=text, rows=[])


def _csv_ids(path) -> list[str]:
    import csv

    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [(row.get("id") or "").strip() for row in csv.DictReader(handle) if (row.get("id") or "").strip()]


def chips_export(args, ctx) -> Output:
    count = ctx.store().export_chips_csv(args.file)
    return Output(data={"exported": count, "file": str(args.file)}, rows=[{"exported": count, "file": str(args.file)}])


# ---- orders ----------------------------------------------------------------------------------

def orders_list(args, ctx) -> Output:
    store = ctx.store()
    deliveries: dict[int, list[dict]] = {}
    for row in store.delivery_rows():
        deliveries.setdefault(row["order_id"], []).append(
            {"id": row["id"], "date": row["date"], "quantity": row["quantity"], "note": row["note"]})
    rows = store.order_rows()
    data = [{**{k: r.get(k) for k in ORDER_COLUMNS}, "deliveries": deliveries.get(r["id"], [])} for r in rows]
    return Output(data=data, rows=[{k: r.get(k) for k in ORDER_COLUMNS} for r in rows], columns=ORDER_COLUMNS)


def orders_import(args, ctx) -> Output:
    count = ctx.store().import_orders_csv(args.file)
    return Output(data={"imported": count, "file": str(args.file)}, text=f"imported {count} order(s) from {args.file}",
                  rows=[])


def orders_export(args, ctx) -> Output:
    count = ctx.store().export_orders_csv(args.file)
    return Output(data={"exported": count, "file": str(args.file)}, rows=[{"exported": count, "file": str(args.file)}])


# ---- models ----------------------------------------------------------------------------------

def model_summary(model) -> dict:
    data = asdict(model)
    data["params_b"] = round(model.total_params() / 1e9, 3)
    data["active_params_b"] = round(model.active_params() / 1e9, 3)
    data["attention"] = model.attention
    return data


def models_list(args, ctx) -> Output:
    data = [model_summary(m) for m in ctx.store().models()]
    return Output(data=data, columns=MODEL_COLUMNS if args.format == "table" else None)


def models_import(args, ctx) -> Output:
    from engine.hf_config import model_from_hf_config, slug

    path = Path(args.file)
    if path.is_dir():  # a downloaded model folder: its config.json
        path = path / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: can't be read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    default_id = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    model_id = args.id or slug(default_id)
    try:
        result = model_from_hf_config(config, model_id=model_id, name=args.name or model_id,
                                      training_seq_len=args.seq_len)
    except ValidationError as exc:
        raise ValidationError(exc.problems, context=str(path)) from None
    store = ctx.store()
    if not args.replace and any(m.id == model_id for m in store.models()):
        raise UserError(f"{path}: a preset with id '{model_id}' exists; pass --replace or --id NEW_ID")
    store.save_model(result.model)
    summary = model_summary(result.model)
    data = {"model": summary, "used_fields": list(result.used), "ignored_fields": list(result.ignored),
            "unknown_fields": list(result.unknown), "notes": list(result.notes)}
    text = (f"imported '{model_id}': {summary['params_b']} B parameters ({summary['active_params_b']} B active)\n"
            f"unknown fields (not used; check them): {', '.join(result.unknown) or 'none'}\n"
            f"ignored fields (no effect on the model): {', '.join(result.ignored) or 'none'}"
            + (f"\nnotes: {'; '.join(result.notes)}" if result.notes else ""))
    return Output(data=data, rows=[{k: summary[k] for k in MODEL_COLUMNS}], columns=MODEL_COLUMNS, text=text)
