"""One validation layer for every value a user can type or import.

Each `check_*` function takes a row dict (strings from a CSV or a form, or numbers), returns the
cleaned row with proper types, and raises `ValidationError` listing every problem as
'field: value (why)'. Nothing here touches a database; cross-row checks (unknown chip ids,
over-delivery) take the needed facts as arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import TYPE_CHECKING, Any, Iterable, Literal, overload

from engine.catalog import CHIP_FIELDS, CHIP_FLOAT_FIELDS, CHIP_INT_FIELDS
from engine.errors import ValidationError

if TYPE_CHECKING:
    from engine.models import ModelConfig

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}$")
CHINA_MARKET_VALUES = ("", "yes", "restricted", "no")
CONFIDENCE_VALUES = ("", "high", "medium", "low")
ORDER_STATUS_VALUES = ("sourced", "partial", "assumption")
ORDER_FIELDS = ("id", "buyer", "vendor", "chip_id", "quantity", "order_date", "promised",
                "price_usd_per_chip", "status", "source", "note")
DELIVERY_FIELDS = ("id", "order_id", "date", "quantity", "note")

# Upper bounds that no real part or order reaches; beyond them a value is a typo.
CHIP_LIMITS = {
    "fp32_tflops": 1e5, "tf32_tflops": 1e5, "bf16_tflops": 1e5, "fp16_tflops": 1e5,
    "fp8_tflops": 2e5, "int8_tops": 2e5, "fp4_tflops": 4e5, "hbm_gb": 1e4, "hbm_gbps": 1e6, "scaleup_gbps": 1e5,
    "scaleout_gbps": 1e4, "tdp_w": 1e5, "price_usd": 1e8, "year": 2100,
    "scaleup_domain": 1_000_000, "chips_per_node": 1024,
    "scaleup_link_gbps": 1e5, "scaleout_oversubscription": 100.0,
}
SCALEUP_TOPOLOGY_VALUES = ("", "switch", "mesh", "torus")
MAX_ORDER_QUANTITY = 100_000_000
TEXT_LIMIT = 10_000


# C0 controls, DEL and C1 controls: a terminal runs them (ESC starts a control sequence, BEL
# rings); in text a user typed or imported they are corruption or an attack, never content.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MULTILINE_ALLOWED = "\t\n"  # kept in free-text notes and sources, refused in single-line fields


def escape_controls(text: str) -> str:
    """`text` with every control character written as a Python escape ('\\x1b', '\\n')."""
    return CONTROL_CHARS.sub(lambda m: repr(m.group())[1:-1], text)


def _show(value) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{escape_controls(value)}'"
    return text if len(text) <= 60 else text[:57] + "...'"


# Thousands grouped with commas, as a spreadsheet writes "8,192". A leading group of 0 ("0,125",
# "-0,500") is no grouping (no one writes 125 as "0,125"): it is a decimal comma, refused like "1,5".
_GROUPED_NUMBER = re.compile(r"[+-]?(?!0+,)\d{1,3}(?:,\d{3})+(?:\.\d*)?")


# A whole number written with a point and three digits ("100.000", "2.500"): in much of Europe the
# point groups thousands, so it is 100,000 as often as 100; a count is never written with decimals,
# so it is refused as ambiguous, as "1,5" is. Fractional fields (prices, rates) read it as a decimal.
_DOT_GROUPED_WHOLE = re.compile(r"[+-]?\d{1,3}\.\d{3}", re.ASCII)


# What a number cell may hold: ASCII digits, a sign, a point and an exponent (and nan/inf words,
# which the callers refuse by name). float() also takes "9_6" (96: a typo or a grouping slip became
# another number without a word) and other scripts' digits.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)", re.IGNORECASE | re.ASCII)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def iso_day(text: str) -> dt.date:
    """YYYY-MM-DD only (ValueError otherwise): date.fromisoformat also takes 20250115 and
    2025-W03-1, which the messages never offer."""
    text = str(text).strip()
    if not _ISO_DAY.fullmatch(text):
        raise ValueError(f"not YYYY-MM-DD: {text!r}")
    return dt.date.fromisoformat(text)


def cell_float(text: str) -> float:
    """A cases-file cell as a number: "8,192" reads as 8192. Raises ValueError for anything that
    is not a plain decimal number; "1,5" is neither 1.5 nor 15, it is an error, and so is "9_6"."""
    text = text.strip()
    if _GROUPED_NUMBER.fullmatch(text):
        text = text.replace(",", "")
    if not _PLAIN_NUMBER.fullmatch(text):
        raise ValueError(f"not a plain number: {text!r}")
    return float(text)


def case_column(header: str | None) -> str:
    """A cases-file header as the schema spells it: "Num_Chips " is `num_chips`."""
    return (header or "").strip().lower()


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def parse_float(field: str, value, *, minimum: float | None = 0.0, maximum: float | None = None,
                allow_blank: bool = True, strict_min: bool = False) -> float | None:
    if _blank(value):
        if allow_blank:
            return None
        raise ValidationError([f"{field}: value is required"])
    if isinstance(value, bool):
        raise ValidationError([f"{field}: {_show(value)} (not a number)"])
    try:
        # "8,192" (thousands grouped) reads as 8192; "1,5" is neither 1.5 nor 15: refused
        number = cell_float(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValidationError([f"{field}: {_show(value)} (not a number)"]) from None
    if not math.isfinite(number):
        raise ValidationError([f"{field}: {_show(value)} (must be a finite number)"])
    if minimum is not None and (number <= minimum if strict_min else number < minimum):
        op = ">" if strict_min else ">="
        raise ValidationError([f"{field}: {_show(value)} (must be {op} {minimum:g})"])
    if maximum is not None and number > maximum:
        raise ValidationError([f"{field}: {_show(value)} (must be <= {maximum:g})"])
    return number


@overload
def parse_int(field: str, value, *, minimum: int | None = 0, maximum: float | None = None,
              allow_blank: Literal[False]) -> int: ...
@overload
def parse_int(field: str, value, *, minimum: int | None = 0, maximum: float | None = None,
              allow_blank: bool = True) -> int | None: ...
def parse_int(field: str, value, *, minimum: int | None = 0, maximum: float | None = None,
              allow_blank: bool = True) -> int | None:
    """A whole number, or None for a blank when `allow_blank`. `maximum` may be a float limit
    (CHIP_LIMITS holds both kinds)."""
    if isinstance(value, str) and _DOT_GROUPED_WHOLE.fullmatch(value.strip()):
        whole, _, thousands = value.strip().partition(".")
        raise ValidationError([f"{field}: {_show(value)} (a whole number: {whole} or {whole}{thousands}? "
                               "write it without '.' or separators)"])
    number = parse_float(field, value, minimum=None, maximum=None, allow_blank=allow_blank)
    if number is None:
        return None
    if number != int(number):
        raise ValidationError([f"{field}: {_show(value)} (must be a whole number)"])
    number = int(number)
    if minimum is not None and number < minimum:
        raise ValidationError([f"{field}: {_show(value)} (must be >= {minimum})"])
    if maximum is not None and number > maximum:
        raise ValidationError([f"{field}: {_show(value)} (must be <= {maximum})"])
    return number


_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")   # (calendar.month_name follows the locale)


def _not_a_date_why(text: str) -> str:
    """Why `text` is no date: a day its month lacks or a month that does not exist, where it is
    written as asked ("2024-02-30": "use YYYY-MM-DD" sent the user after the format); else the format."""
    import calendar
    import re

    found = re.fullmatch(r"\s*(\d{4})-(\d{2})-(\d{2})\s*", text)
    if found:
        year, month, day = (int(g) for g in found.groups())
        if not 1 <= month <= 12:
            return f"not a date: there is no month {month}; use YYYY-MM-DD"
        days = calendar.monthrange(year, month)[1] if year >= 1 else 31
        if not 1 <= day <= days:
            return f"{_MONTH_NAMES[month - 1]} {year} has {days} days: there is no day {day}"
    return "not a date; use YYYY-MM-DD"


@overload
def parse_date(field: str, value, *, allow_blank: Literal[False] = False) -> dt.date: ...
@overload
def parse_date(field: str, value, *, allow_blank: bool) -> dt.date | None: ...
def parse_date(field: str, value, *, allow_blank: bool = False) -> dt.date | None:
    if _blank(value):
        if allow_blank:
            return None
        raise ValidationError([f"{field}: value is required (a date like 2024-07-01)"])
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        day = iso_day(str(value))
    except ValueError:
        raise ValidationError([f"{field}: {_show(value)} ({_not_a_date_why(str(value))})"]) from None
    if not (1990 <= day.year <= 2100):
        raise ValidationError([f"{field}: {_show(value)} (year must be 1990-2100)"])
    return day


def parse_text(field: str, value, *, required: bool = False, choices=None, limit: int = TEXT_LIMIT,
               multiline: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise ValidationError([f"{field}: value is required"])
    if len(text) > limit:
        raise ValidationError([f"{field}: text of {len(text)} characters (limit {limit})"])
    if multiline:
        text = text.replace("\r\n", "\n")  # a Windows line break in a note is still a line break
    bad = [c for c in CONTROL_CHARS.findall(text) if not (multiline and c in MULTILINE_ALLOWED)]
    if bad:
        kind = "a NUL character" if bad[0] == "\x00" else "a control character"
        raise ValidationError([f"{field}: {_show(text)} (contains {kind}, '{escape_controls(bad[0])}'; "
                               f"remove it{', or use a note for several lines' if bad[0] in MULTILINE_ALLOWED else ''})"])
    if choices is not None and text.lower() not in choices:
        allowed = ", ".join(c for c in choices if c) or "blank"
        raise ValidationError([f"{field}: {_show(value)} (must be one of {allowed})"])
    return text.lower() if choices is not None else text


def _order_chip_id(value) -> str:
    """An order's chip: a catalog id. "H100" was refused with the id spelling rules, where the user
    had typed a chip's name: say what an order's chip is first."""
    try:
        return parse_id("chip_id", value)
    except ValidationError:
        raise ValidationError([f"chip_id: {_show(value)} (not a chip id of the catalog: give the chip's id, "
                               "e.g. h100-sxm5-80gb, as `fleetcast chips list` shows it)"]) from None


def parse_id(field: str, value) -> str:
    text = parse_text(field, value, required=True)
    if not ID_PATTERN.match(text):
        raise ValidationError([f"{field}: {_show(value)} (use lower-case letters, digits, '.', '-', '_', '+', starting with a letter or digit; at most 64)"])
    return text


def _collect(row: dict, parsers: dict) -> dict:
    """Run every field's parser; gather all problems before raising."""
    cleaned, problems = {}, []
    for name, parse in parsers.items():
        try:
            cleaned[name] = parse(row.get(name))
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return cleaned


# ---- chips -----------------------------------------------------------------------------------

# A rate or a size this small is a slip of unit or exponent (1e-300 TFLOP/s gave "inf days"),
# not a chip: 0 or blank is "has none"; above 0, at least this much (TFLOP/s, GB, GB/s).
CHIP_RATE_FLOOR = 1e-3


def _above_floor(name: str, raw, number):
    if number is not None and name not in ("price_usd", "tdp_w") and 0 < number < CHIP_RATE_FLOOR:
        # HBM size and bandwidth have no "none": 0 is refused for them, so it is not offered
        none = "" if name in ("hbm_gb", "hbm_gbps") else "0 for none, else "
        raise ValidationError([f"{name}: {_show(raw)} ({none}at least {CHIP_RATE_FLOOR:g}: check the unit)"])
    return number


def _calibrate_as(value) -> str:
    """A chip's calibrate_as: blank, or a chip id (the catalog chip whose calibration it takes;
    its own id is fine). Which chips have a packaged calibration is said where figures are shown
    (engine.calibration.uncalibrated_note), not here: an import has no catalog at hand."""
    if _blank(value):
        return ""
    try:
        return parse_id("calibrate_as", value)
    except ValidationError:
        raise ValidationError([f"calibrate_as: {_show(value)} (a catalog chip's id, e.g. h100-sxm5-80gb, "
                               "or blank)"]) from None


def _link_within_chip(cleaned: dict) -> list[str]:
    """One per-pair link can't be faster than the chip's whole scale-up bandwidth: 500 GB/s per
    link on a 196 GB/s chip made its mesh faster than a switch."""
    link, total = cleaned.get("scaleup_link_gbps"), cleaned.get("scaleup_gbps")
    if link is not None and total is not None and link > total:
        return [f"scaleup_link_gbps: {link:g} (more than scaleup_gbps {total:g}: one link is a share of "
                "the chip's scale-up bandwidth)"]
    return []


def chip_field_parser(name: str):
    if name == "id":
        return lambda v: parse_id("id", v)
    if name in ("vendor", "name"):
        return lambda v, n=name: parse_text(n, v, required=True, limit=200)
    if name == "china_market":
        return lambda v: parse_text(name, v, choices=CHINA_MARKET_VALUES)
    if name == "confidence":
        return lambda v: parse_text(name, v, choices=CONFIDENCE_VALUES)
    if name == "scaleup_topology":
        return lambda v: parse_text(name, v, choices=SCALEUP_TOPOLOGY_VALUES)
    if name == "scaleout_oversubscription":
        return lambda v: parse_float(name, v, minimum=1.0, maximum=CHIP_LIMITS[name])
    if name in CHIP_FLOAT_FIELDS:
        strict = name in ("hbm_gb", "hbm_gbps")
        return lambda v, n=name, s=strict: _above_floor(n, v, parse_float(n, v, maximum=CHIP_LIMITS[n], strict_min=s))
    if name == "year":
        return lambda v: parse_int("year", v, minimum=1990, maximum=2100)
    if name in CHIP_INT_FIELDS:
        return lambda v, n=name: parse_int(n, v, minimum=1, maximum=CHIP_LIMITS[n])
    if name in ("sources", "notes"):
        return lambda v, n=name: parse_text(n, v, multiline=True)
    if name == "calibrate_as":
        return _calibrate_as
    if name in CHIP_FIELDS:
        return lambda v, n=name: parse_text(n, v)
    raise ValidationError([f"{name}: unknown chip field"])


def check_chip(row: dict) -> dict:
    unknown = [k for k in row if k not in CHIP_FIELDS]
    if unknown:
        raise ValidationError([f"{k}: unknown column" for k in unknown])
    cleaned = _collect(row, {name: chip_field_parser(name) for name in CHIP_FIELDS})
    peaks = ("bf16_tflops", "fp16_tflops", "fp8_tflops", "int8_tops")
    if not any(cleaned.get(f) for f in peaks):
        # name a peak given as 0 by its value: "blank" sent the user after a cell that was filled in
        zero = next((f for f in peaks if not _blank(row.get(f))), None)
        shown = f"{zero}: {_show(row.get(zero))}" if zero else "bf16_tflops: blank"
        raise ValidationError([f"{shown} (a chip needs at least one of bf16/fp16/fp8/int8 peak above 0)"])
    problems = _link_within_chip(cleaned)
    if problems:
        raise ValidationError(problems)
    return cleaned


def check_chip_field(name: str, value):
    return chip_field_parser(name)(value)


# ---- orders and deliveries -------------------------------------------------------------------

def parse_schedule(field: str, value) -> list[tuple[dt.date, int]]:
    """'2024-07-01:10000;2024-10-01:20000' -> [(date, qty), ...] sorted by date."""
    return sorted(parse_schedule_in_order(field, value))


def parse_schedule_in_order(field: str, value) -> list[tuple[dt.date, int]]:
    """The lots of a schedule (text 'DATE:QTY;...' or (date, qty) pairs) in the order given
    (delivery notes follow that order); parse_schedule sorts them."""
    if _blank(value):
        return []
    if isinstance(value, (list, tuple)):
        return [(parse_date(field, d), parse_int(field, q, minimum=1, maximum=MAX_ORDER_QUANTITY, allow_blank=False))
                for d, q in value]
    lots = []
    for part in str(value).replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        if ":" not in part:
            if part.isdigit() and "," in str(value):   # 2024-07-01:1,000 split at its thousands separator
                raise ValidationError([f"{field}: {_show(value)} (',' and ';' separate lots: write a quantity "
                                       "without thousands separators, e.g. 2024-07-01:1000)"])
            raise ValidationError([f"{field}: {_show(part)} (each lot is DATE:QUANTITY, e.g. 2024-07-01:10000)"])
        day_text, qty_text = part.split(":", 1)
        lots.append((parse_date(field, day_text),
                     parse_int(field, qty_text, minimum=1, maximum=MAX_ORDER_QUANTITY, allow_blank=False)))
    return lots


def vendor_mismatch(vendor: str, chip_id: str, chip_vendor: str, profiles: Iterable[str] | None = None) -> str:
    """'' when an order's vendor is its chip's maker; else why that matters. A reseller is
    possible, so such an order is kept, but the forecast draws its delivery risk by vendor (a
    Huawei-tagged H100 order lost 25% of its P50 chips without a word). `profiles`: the vendors
    with a delivery-risk profile in the scenario the forecast runs (None: the built-in story's)."""
    if not chip_vendor or (vendor or "").strip().casefold() == chip_vendor.strip().casefold():
        return ""
    from engine.forecast import OrderUncertainty, default_scenario, supply_vendor

    names = list(default_scenario().vendor_uncertainty if profiles is None else profiles)
    # the forecast's own rule (supply_vendor): the vendor's profile, else the chip maker's, else
    # the default; "Huawei Technologies's delivery risk" was named where no such profile exists
    who = supply_vendor(vendor, {n: OrderUncertainty() for n in names}, chip_vendor)
    if who.casefold() in {n.casefold() for n in names}:
        risk = f"{who}'s delivery risk" + ("" if who == vendor else f" (no profile is named '{vendor}')")
    else:
        risk = f"the default delivery risk (no profile for '{vendor}' or {chip_vendor})"
    return f"vendor '{vendor}' is not the vendor of chip {chip_id} ({chip_vendor}); the forecast gives this order {risk}"


def parse_delivery_notes(field: str, value, lots: int) -> list[str] | None:
    """The `delivery_notes` cell of an orders CSV: a JSON list of texts, one per lot of the
    `deliveries` cell, in that cell's order (notes hold any text, ';' and ',' included, which a
    DATE:QTY list cannot). Blank: None (no notes given)."""
    if _blank(value):
        return None
    try:
        notes = json.loads(str(value))
    except ValueError:
        notes = None
    if not isinstance(notes, list) or not all(isinstance(n, str) or n is None for n in notes):
        raise ValidationError([f"{field}: {_show(value)} (a JSON list of texts, one per delivery lot, "
                               'e.g. ["first lot", ""])'])
    if len(notes) != lots:
        raise ValidationError([f"{field}: {len(notes)} note(s) for {lots} delivery lot(s) (one per lot, in the "
                               "deliveries cell's order)"])
    return [parse_text(field, n, multiline=True) for n in notes]


def format_schedule(lots) -> str:
    return ";".join(f"{d.isoformat()}:{q}" for d, q in lots)


ORDER_PARSERS = {
    "buyer": lambda v: parse_text("buyer", v, required=True, limit=200),
    "vendor": lambda v: parse_text("vendor", v, required=True, limit=200),
    "chip_id": lambda v: _order_chip_id(v),
    "quantity": lambda v: parse_int("quantity", v, minimum=1, maximum=MAX_ORDER_QUANTITY, allow_blank=False),
    "order_date": lambda v: parse_date("order_date", v),
    "promised": lambda v: parse_schedule("promised", v),
    "price_usd_per_chip": lambda v: parse_float("price_usd_per_chip", v, maximum=1e8),
    "status": lambda v: parse_text("status", v or "assumption", choices=ORDER_STATUS_VALUES),
    "source": lambda v: parse_text("source", v, multiline=True),
    "note": lambda v: parse_text("note", v, multiline=True),
}


def check_order(row: dict, *, known_chip_ids=None, delivered: int = 0,
                first_delivery: dt.date | None = None, deliveries_given: bool = False) -> dict:
    """Clean an order row; `promised` comes back as 'DATE:QTY;...' text. `deliveries_given`: the
    deliveries come with the row (an import's deliveries column), so too many is said of them."""
    cleaned = _collect(row, ORDER_PARSERS)
    problems = []
    if known_chip_ids is not None and cleaned["chip_id"] not in known_chip_ids:
        problems.append(f"chip_id: '{cleaned['chip_id']}' (no such chip in the catalog)")
    lots = cleaned["promised"]
    if sum(q for _, q in lots) > cleaned["quantity"]:
        problems.append(f"promised: {sum(q for _, q in lots)} chips scheduled (more than quantity {cleaned['quantity']})")
    early = [d for d, _ in lots if d < cleaned["order_date"]]
    if early:
        problems.append(f"promised: {early[0].isoformat()} (before order_date {cleaned['order_date'].isoformat()})")
    if delivered > cleaned["quantity"] and deliveries_given:
        problems.append(f"deliveries: {delivered:,} chips delivered (more than quantity {cleaned['quantity']:,})")
    elif delivered > cleaned["quantity"]:
        problems.append(f"quantity: {cleaned['quantity']} (less than the {delivered} already delivered)")
    if first_delivery is not None and first_delivery < cleaned["order_date"]:
        problems.append(f"order_date: {cleaned['order_date'].isoformat()} (after its first delivery on {first_delivery.isoformat()})")
    if problems:
        raise ValidationError(problems)
    cleaned["promised"] = format_schedule(lots)
    cleaned["order_date"] = cleaned["order_date"].isoformat()
    return cleaned


def future_delivery(field: str, day: dt.date, today: dt.date | None = None) -> str | None:
    """A delivery records chips received: one dated after today is a typo or a promise (an import
    took '2031-03-10:50' as delivered and the forecast counted those chips as installed)."""
    today = today or dt.date.today()
    if day > today:
        return (f"{field}: {day.isoformat()} (after today, {today.isoformat()}: a delivery records chips received; "
                "put expected lots in promised)")
    return None


def check_delivery(row: dict, *, order_date: dt.date, outstanding: int) -> dict:
    cleaned = _collect(row, {
        "date": lambda v: parse_date("date", v),
        "quantity": lambda v: parse_int("quantity", v, minimum=1, maximum=MAX_ORDER_QUANTITY, allow_blank=False),
        "note": lambda v: parse_text("note", v, multiline=True),
    })
    problems = []
    if cleaned["date"] < order_date:
        problems.append(f"date: {cleaned['date'].isoformat()} (before the order date {order_date.isoformat()})")
    late = future_delivery("date", cleaned["date"])
    if late:
        problems.append(late)
    if cleaned["quantity"] > outstanding:
        problems.append(f"quantity: {cleaned['quantity']} (only {outstanding} chips remain undelivered on this order)")
    if problems:
        raise ValidationError(problems)
    cleaned["date"] = cleaned["date"].isoformat()
    return cleaned


# ---- models ----------------------------------------------------------------------------------

MODEL_INT_FIELDS = ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len", "context_len",
                    "head_dim", "moe_experts", "moe_shared_experts", "moe_topk", "moe_ffn_hidden", "moe_dense_layers",
                    "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
                    "attention_window_tokens", "windowed_layers")
MODEL_LIMITS = {"layers": 1000, "hidden": 1_000_000, "heads": 10_000, "kv_heads": 10_000,
                "ffn_hidden": 10_000_000, "vocab": 10_000_000, "seq_len": 100_000_000,
                "context_len": 100_000_000, "attention_window_tokens": 100_000_000, "windowed_layers": 1000}


def check_model(row: dict) -> ModelConfig:
    """A validated ModelConfig from a dict of its fields."""
    from dataclasses import fields

    from engine.models import ModelConfig

    known = {f.name for f in fields(ModelConfig)}
    problems = [f"{k}: unknown model field" for k in row if k not in known]
    cleaned: dict[str, Any] = {}  # ModelConfig field -> parsed value
    for name in known:
        if name not in row:
            continue
        value = row[name]
        try:
            if name == "id":
                cleaned[name] = parse_id("id", value)
            elif name in ("name", "source"):
                cleaned[name] = parse_text(name, value, required=(name == "name"), limit=500,
                                           multiline=(name == "source"))
            elif name in ("gated_ffn", "tied_embeddings"):
                cleaned[name] = _parse_bool(name, value)
            elif name == "params_b_reported":
                cleaned[name] = parse_float(name, value, maximum=1e6)
            elif name in MODEL_INT_FIELDS:
                blank_ok = name not in ("layers", "hidden", "heads", "vocab")
                parsed = parse_int(name, value, minimum=0, maximum=MODEL_LIMITS.get(name, 10_000_000),
                                   allow_blank=blank_ok)
                cleaned[name] = 0 if parsed is None else parsed
        except ValidationError as exc:
            problems.extend(exc.problems)
    for required in ("id", "name", "layers", "hidden", "heads", "vocab"):
        if required not in row:
            problems.append(f"{required}: value is required")
    if "kv_heads" in row and str(row["kv_heads"]).strip() not in ("", "None") and cleaned.get("kv_heads") == 0:
        # given as 0 (a config's num_key_value_heads: 0) is not "not given": read as one KV head per
        # attention head it imported silently as full multi-head attention, with 4x the KV cache
        problems.append(f"kv_heads: 0 (must be a positive integer that divides heads = {cleaned.get('heads')}; "
                        "leave it out for as many as heads)")
    if problems:
        raise ValidationError(problems)
    cleaned.setdefault("kv_heads", cleaned["heads"])
    if not cleaned.get("kv_heads"):
        cleaned["kv_heads"] = cleaned["heads"]
    cleaned.setdefault("ffn_hidden", 0)
    if not cleaned.get("seq_len"):
        cleaned["seq_len"] = 4096
    model = ModelConfig(**cleaned)
    problems = model.validate()
    if problems:
        raise ValidationError(problems)
    return model


def _parse_bool(field: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y"):
        return True
    if text in ("0", "false", "no", "n", ""):
        return False
    raise ValidationError([f"{field}: {_show(value)} (must be true or false)"])
