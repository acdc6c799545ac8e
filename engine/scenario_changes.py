"""A named scenario is the baseline plus a list of changes (pure; the store keeps the changes).

Changes are `{dotted.path: value}` over the scenario's JSON dict (`engine.forecast.scenario_to_dict`):
nested objects are walked key by key, anything else (numbers, text, lists) is replaced whole. A key
that holds a dot or a backslash (a chip id `h20.v2`, a vendor `Acme Inc.`) is written with a
backslash before each (`allocation.training_share.h20\\.v2`), so every key reads back as it was. A
key the what-if removed from one of the maps keyed by the user's own ids (KEYED_MAPS: a vendor's
own assumptions unticked) is the change `{"$removed": true}`. A scenario stored this way follows
its baseline: edit the baseline and every what-if moves with it, keeping only what its name says
is different.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

# Keys that are the row's identity or bookkeeping, not part of what a scenario assumes.
NOT_COMPARED = ("name",)
# The change that removes a key (JSON, so the store keeps it as it keeps any other change).
REMOVED: dict = {"$removed": True}
# The maps keyed by the user's ids (vendors, orders, chips), where a key the what-if lacks was
# removed. Everywhere else (fixed fields, view state) a missing key keeps the baseline's: a
# scenario saved before a field existed, or a save that does not carry every view.
KEYED_MAPS = ("vendor_uncertainty", "order_uncertainty", "allocation.training_share")


def is_removed(value) -> bool:
    return isinstance(value, Mapping) and dict(value) == REMOVED


def _escape(key) -> str:
    return str(key).replace("\\", "\\\\").replace(".", "\\.")


def split_path(path: str) -> list[str]:
    """The keys of a dotted change path, dots and backslashes escaped in a key restored."""
    keys, current, chars = [], [], iter(path)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, "\\"))
        elif ch == ".":
            keys.append("".join(current))
            current = []
        else:
            current.append(ch)
    keys.append("".join(current))
    return keys


def diff_params(base: Mapping, params: Mapping, prefix: str = "") -> dict[str, Any]:
    """The changes that turn `base` into `params`. A key missing from `params` keeps the base's,
    except in the maps of KEYED_MAPS, where it was removed and says so (REMOVED)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if not prefix and key in NOT_COMPARED:
            continue
        path = f"{prefix}{_escape(key)}"
        if key in base and isinstance(value, Mapping) and isinstance(base[key], Mapping):
            out.update(diff_params(base[key], value, path + "."))
        elif key not in base or base[key] != value:
            out[path] = copy.deepcopy(value)
    if prefix and ".".join(split_path(prefix[:-1])) in KEYED_MAPS:
        for key in base:
            if key not in params:
                out[f"{prefix}{_escape(key)}"] = dict(REMOVED)
    return out


def apply_changes(base: Mapping, changes: Mapping[str, Any]) -> dict:
    """`base` with every change applied (a new dict; the base is untouched)."""
    out = copy.deepcopy(dict(base))
    for path, value in changes.items():
        keys = split_path(path)
        node = out
        for key in keys[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        if is_removed(value):
            node.pop(keys[-1], None)
        else:
            node[keys[-1]] = copy.deepcopy(value)
    return out


_PERCENT_WORDS = ("fraction", "probability", "share")   # stored as 0..1, shown in % by the forms


def _value_text(key: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)) and any(w in key for w in _PERCENT_WORDS) and 0 <= value <= 1:
        return f"{value * 100:.3g}%"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):   # a list item: its fields, so a changed one shows
        return "(" + ", ".join(f"{k.replace('_', ' ')} {_value_text(k, v)}" for k, v in value.items()
                               if v not in (None, "", [], {}) and k != "note") + ")"   # the note is prose
    if isinstance(value, list):
        return "[" + "; ".join(_value_text(key, v) for v in value) + "]" if value else "none"
    return str(value)


def describe_changes(changes: Mapping[str, Any], limit: int | None = 8) -> list[str]:
    """One short line per change, in user words (`vendor uncertainty.Huawei.fraction mode = 50%`).
    A list (policy events, jobs) is written out item by item: "1 item(s)" hid a cut-off whose
    probability went from 50% to 100%."""
    lines = []
    for path, value in changes.items():
        if path.startswith("ui.") or path == "ui":
            continue
        name = ".".join(split_path(path)).replace("_", " ")
        if is_removed(value):
            lines.append(f"{name} removed")
            continue
        lines.append(f"{name} = {_value_text(split_path(path)[-1], value)}")
    if limit is not None and len(lines) > limit:   # None: every change (files keep them all)
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines
