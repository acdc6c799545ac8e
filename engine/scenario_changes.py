"""A named scenario is the baseline plus a list of changes (pure; the store keeps the changes).

Changes are `{dotted.path: value}` over the scenario's JSON dict (`engine.forecast.scenario_to_dict`):
nested objects are walked key by key (the views' inputs under "ui" even where the base has none),
anything else (numbers, text, lists) is replaced whole. A key
that holds a dot or a backslash (a chip id `h20.v2`, a vendor `Acme Inc.`) is written with a
backslash before each (`allocation.training_share.h20\\.v2`), so every key reads back as it was. A
key the what-if removed from one of the maps keyed by the user's own ids (KEYED_MAPS: a vendor's
own assumptions unticked) is the change `{"$removed": true}`. A scenario stored this way follows
its baseline: edit the baseline and every what-if moves with it, keeping only what its name says
is different.

The lists whose items have an identity (KEYED_LISTS: a cut-off is its chip's, a job is known by
its name, a demand point by its date) change item by item: `{"$items": {key: item or removed}}`.
A what-if that replaced the H20 cut-off then still gets a 910B cut-off added to the baseline later;
stored as the whole list it silently dropped it and read better than the baseline. A list whose
items share a key, or whose order an item change cannot give, is replaced whole, as before.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

# The mark on a note kept from a baseline whose values were since edited (notes are provenance:
# kept, but flagged; engine.studies_forecast.note_for_values sets it)
EDITED_NOTE = "edited by hand; this note was written for the earlier values: "

# Keys that are the row's identity or bookkeeping, not part of what a scenario assumes.
NOT_COMPARED = ("name",)
# The change that removes a key (JSON, so the store keeps it as it keeps any other change).
REMOVED: dict = {"$removed": True}
# The maps keyed by the user's ids (vendors, orders, chips), where a key the what-if lacks was
# removed. Everywhere else (fixed fields, view state) a missing key keeps the baseline's: a
# scenario saved before a field existed, or a save that does not carry every view.
# The Plan view's candidates ("ui.plan.candidates": chip -> its fields that differ from the catalog)
# hold only what differs from their defaults, so a missing chip or field is one put back to its
# default: a what-if pricing the H20 at the catalog's 12,000 under a 15,000 baseline, or ticking
# "Use" again, lost that edit. A "*" stands for any one key.
KEYED_MAPS = ("vendor_uncertainty", "order_uncertainty", "allocation.training_share",
              "ui.plan.candidates", "ui.plan.candidates.*")
# The views' saved inputs ("ui.<view>") are walked key by key even where the base has none: the
# seeded baseline stores no "ui", and a what-if's first edit of a view then stored all of "ui" as
# one change, so a later edit of the baseline's view never reached it.
WALKED_WHEN_MISSING = "ui"


# List paths whose items have an identity, and how to read it (JSON values, as the scenario dict
# holds them); a list sorted by `sort` in the scenario comes back sorted after items change. Not
# `demand.serve_on`: there an empty list means every chip, so removing items could turn "not the
# H20" into "every chip, the H20 too"; it changes whole.
#
# A changed item whose key the base no longer has (the baseline removed the H20 cut-off, or moved
# the demand point) is added: the what-if keeps what it says ("H20 cut off (Apr 2025)" silently
# became the baseline when it was dropped). Not a job (`"orphan": "dropped"`): a job's key is the
# name the user types, so a job gone by that name was most likely renamed, and adding the what-if's
# copy back beside it trained the 405B twice; the descriptions say it is not applied.
KEYED_LISTS: dict[str, dict] = {
    "policy_events": {"key": lambda item: item.get("chip_id")},
    "jobs": {"key": lambda item: item.get("name"), "orphan": "dropped"},
    "demand.points": {"key": lambda item: item.get("date"), "sort": True},
    "allocation.steps": {"key": lambda item: f"{item.get('start')}|{item.get('chip_id')}", "sort": True},
}
ITEMS = "$items"
# What a what-if did to an item: an item the base had is "changed" or "removed"; a new one "added".
KINDS = ("added", "changed", "removed")


def _orphan_dropped(path: str) -> bool:
    """Whether a changed item whose key the base no longer has is left out at `path` (else added)."""
    return KEYED_LISTS.get(path, {}).get("orphan") == "dropped"


def is_removed(value) -> bool:
    return isinstance(value, Mapping) and dict(value) == REMOVED


def is_item_changes(value) -> bool:
    """`{"$items": [[key, item or REMOVED, kind], ...]}`: a list, so stored JSON keeps their order."""
    return (isinstance(value, Mapping) and set(value) == {ITEMS} and isinstance(value[ITEMS], list)
            and all(isinstance(e, list) and len(e) == 3 and e[2] in KINDS for e in value[ITEMS]))


def _keyed(path: str, items) -> dict | None:
    """{key: item} of a list at a KEYED_LISTS path, or None when it can't be keyed (not a list,
    an item without its key, two items with one key)."""
    spec = KEYED_LISTS.get(path)
    if spec is None or not isinstance(items, list):
        return None
    out: dict = {}
    for item in items:
        try:
            key = spec["key"](item)
        except AttributeError:   # not an object where objects belong: replaced whole
            return None
        if not isinstance(key, str) or not key or key in out:
            return None
        out[key] = item
    return out


def _merge_items(path: str, base_list, entries: list) -> list | None:
    """`base_list` with each keyed item added, changed or removed; new items after the kept ones,
    in the order saved (in key order where the list is sorted). None when the base can't be keyed."""
    keyed = _keyed(path, base_list)
    if keyed is None:
        return None
    for key, item, kind in entries:
        if kind == "removed":
            keyed.pop(key, None)
        elif kind == "changed" and key not in keyed and _orphan_dropped(path):
            continue   # a job the baseline renamed: not trained twice (KEYED_LISTS)
        else:
            keyed[key] = copy.deepcopy(item)
    items = list(keyed.items())
    if KEYED_LISTS[path].get("sort"):
        items.sort(key=lambda kv: kv[0])
    return [item for _key, item in items]


def _list_changes(path: str, base_list, new_list):
    """The item changes turning `base_list` into `new_list` at a KEYED_LISTS path, or the whole new
    list when item changes can't give it exactly."""
    old, new = _keyed(path, base_list), _keyed(path, new_list)
    if old is None or new is None:
        return copy.deepcopy(new_list)
    entries = [[k, copy.deepcopy(v), "changed" if k in old else "added"]
               for k, v in new.items() if k not in old or old[k] != v]
    entries += [[k, dict(REMOVED), "removed"] for k in old if k not in new]
    if _merge_items(path, base_list, entries) != new_list:   # an order the items alone don't give
        return copy.deepcopy(new_list)
    return {ITEMS: entries}


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


def _is_keyed_map(prefix: str) -> bool:
    """Whether the map at `prefix` ("a.b.") is one of KEYED_MAPS ("*" matching any one key)."""
    keys = split_path(prefix[:-1])
    return any(len(pattern) == len(keys) and all(p in ("*", k) for p, k in zip(pattern, keys))
               for pattern in (split_path(m) for m in KEYED_MAPS))


def _walked_when_missing(path: str) -> bool:
    """Whether a map at `path` the base lacks is stored field by field (the views' inputs)."""
    return split_path(path)[0] == WALKED_WHEN_MISSING


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
        elif key not in base and isinstance(value, Mapping) and _walked_when_missing(path):
            out.update(diff_params({}, value, path + "."))   # one change per field (WALKED_WHEN_MISSING)
        elif key not in base or base[key] != value:
            plain = ".".join(split_path(path))
            if plain in KEYED_LISTS and key in base:
                out[path] = _list_changes(plain, base[key], value)
            else:
                out[path] = copy.deepcopy(value)
    if prefix and _is_keyed_map(prefix):
        for key in base:
            if key not in params:
                out[f"{prefix}{_escape(key)}"] = dict(REMOVED)
    return out


def without_unstored_defaults(state: Mapping, stored: Any, defaults: Mapping) -> dict:
    """A view's inputs `state` less each entry that the baseline's stored inputs for the view
    (`stored`, None when it has none) lack and that equals the view's default there: what the
    view shows for the baseline. A what-if's changes taken from the result are its edits only;
    taken from the whole `state`, every default was stored as a change and the view stopped
    following the baseline. Nested maps are walked; anything else is kept or dropped whole."""
    stored = stored if isinstance(stored, Mapping) else {}
    out: dict = {}
    for key, value in state.items():
        default = defaults.get(key, _MISSING)
        if key not in stored and default == value:
            continue
        if isinstance(value, Mapping) and isinstance(default, Mapping) \
                and isinstance(stored.get(key, {}), Mapping):
            out[key] = without_unstored_defaults(value, stored.get(key), default)
        else:
            out[key] = copy.deepcopy(value)
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
        elif is_item_changes(value):
            merged = _merge_items(".".join(keys), node.get(keys[-1], []), value[ITEMS])
            if merged is not None:
                node[keys[-1]] = merged
            else:   # the base's list can't be keyed (edited by hand): the items the change sets
                node[keys[-1]] = [copy.deepcopy(item) for _key, item, kind in value[ITEMS] if kind != "removed"]
        else:
            node[keys[-1]] = copy.deepcopy(value)
    return out


def effective_changes(base: Mapping, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes that still make a difference to `base` (the baseline as it is now): a stored
    change the baseline has since caught up with ("horizon = 30 months" under a 30-month baseline)
    is not a difference to show."""
    out: dict[str, Any] = {}
    for path, value in changes.items():
        keys = split_path(path)
        node = _at(base, keys)
        if is_item_changes(value):
            keyed = _keyed(".".join(keys), node) if node is not _MISSING else None
            if keyed is None:
                out[path] = value
                continue
            entries = [e for e in value[ITEMS]
                       if ((e[0] in keyed) if e[2] == "removed" else keyed.get(e[0], _MISSING) != e[1])]
            if entries:
                out[path] = {ITEMS: entries}
        elif is_removed(value):
            if node is not _MISSING:
                out[path] = value
        elif node is _MISSING and LATER_FIELD_DEFAULTS.get(".".join(keys), _MISSING) == value:
            continue   # the value a baseline stored before the field existed means
        elif node is _MISSING or node != value:
            out[path] = value
    return out


_MISSING = object()


def _at(node: Any, keys: list[str]) -> Any:
    """The value at `keys` in nested maps, or _MISSING."""
    for key in keys:
        node = node.get(key, _MISSING) if isinstance(node, Mapping) else _MISSING
    return node


_PERCENT_WORDS = ("fraction", "probability", "share")   # stored as 0..1, shown in % by the forms
# Fractions the forms show in % whose keys lack those words; in % at any value (the request-mix
# uncertainty goes to 300%): "prefix-cache hit = 0.3" read as 0.3 of something.
_PERCENT_FIELDS = ("prefix_cache_hit", "request_mix_sigma", "annual_failure_rate")
TOKENS_PER_DAY_UNIT = 1e12   # the forms give demand in T tokens/day

# The forms' words for a scenario's fields (a change reads as the field a user edits, not as its
# JSON key). Fields not here read as their key with spaces.
FIELD_WORDS = {
    "fraction_low": "fulfilled low", "fraction_mode": "fulfilled mode", "fraction_high": "fulfilled high",
    "fraction_dist": "fulfilled distribution", "fraction_of": "fulfilled fraction of",
    "delay_low_days": "delay low", "delay_mode_days": "delay mode", "delay_high_days": "delay high",
    "delay_dist": "delay distribution", "vendor_common_share": "share common to its orders",
    "extra_delay_days": "extra delay",
    "policy_events": "export cut-offs", "jobs": "training jobs", "months": "horizon",
    "start": "first month", "install_lag_days": "install lag", "annual_failure_rate": "annual failure rate",
    "lifetime_years": "chip life", "unscheduled_spread_months": "undated remainder spread over",
    "serving_efficiency_scale": "serving efficiency", "training_efficiency_scale": "training efficiency",
    "throughput_sigma_scale": "throughput uncertainty scale", "as_of": "as of",
    "default_training_share": "training share of other chips", "training_share": "training share",
    "growth_after_last_per_year": "growth after the last point", "ceiling_tokens_per_day": "demand ceiling",
    "peak_to_average": "peak/average", "input_tokens_per_request": "input tokens per request",
    "output_tokens_per_request": "output tokens per request", "scale": "scale",
    "model_id": "served model", "chip_id": "chip", "ttft_ms": "TTFT target", "tpot_ms": "TPOT target",
    "prefix_cache_hit": "prefix-cache hit", "slo_percentile": "SLO percentile",
    "growth_p10_per_year": "growth P10", "growth_p50_per_year": "growth P50", "growth_p90_per_year": "growth P90",
    "growth_sigma_floor": "fit error floor", "request_mix_sigma": "request-mix uncertainty",
    "length_spread": "length spread", "fit_points": "points fitted", "growth_model": "growth after data",
    "points": "points", "serve_on": "serve on", "tokens_per_day": "demand",
    "sd_pct": "uncertain", "at_least": "a floor", "growth_rate_multiplier": "growth multiplier",
    "kind": "curve", "weight_dtype": "weights precision", "kv_dtype": "KV cache precision",
}
# Fields added after scenarios were first stored, at the value that reads as "as before": a
# baseline saved earlier lacks them and means this. A what-if saved since on such a baseline holds
# the field at this value, which is no change ("demand growth = ×1" listed beside every what-if).
LATER_FIELD_DEFAULTS: dict[str, Any] = {"demand.growth_rate_multiplier": 1.0}
# Multipliers the forms show as "×2" (a bare "2" read as 2 of something).
_TIMES_FIELDS = ("growth_rate_multiplier",)
# Sections whose next key is a name the user gave (a vendor, an order id, a chip id).
_NAMED_SECTIONS = {"vendor_uncertainty": "{}", "order_uncertainty": "order {}",
                   "training_share": "training share of {}"}
_SECTION_WORDS = {"default_uncertainty": "default delivery", "demand": "demand", "allocation": ""}


def _unit(key: str) -> str:
    if key in ("months", "unscheduled_spread_months"):
        return "months"
    for suffix, unit in (("_days", "days"), ("_years", "years"), ("_ms", "ms"), ("_per_year", "×/year"),
                         ("tokens_per_day", "T tokens/day"), ("tokens_per_request", "tokens")):
        if key.endswith(suffix):
            return unit
    return ""


def _value_text(key: str, value: Any, chip_labels: Mapping[str, str] | None = None) -> str:
    chip_labels = chip_labels or {}
    if isinstance(value, bool) or value is None:
        return "not set" if value is None else ("yes" if value else "no")
    if key == "sd_pct" and isinstance(value, (int, float)):   # a demand point's 1-sd uncertainty, in %
        return f"±{value:g}%"
    if isinstance(value, (int, float)) and (key in _PERCENT_FIELDS
                                            or any(w in key for w in _PERCENT_WORDS) and 0 <= value <= 1):
        return f"{value * 100:.3g}%" + ("/year" if key == "annual_failure_rate" else "")   # the form's "%/year"
    if isinstance(value, (int, float)):
        unit = _unit(key)
        if unit == "T tokens/day":   # 100,000,000,000,000 read as a count; the form's unit
            value = value / TOKENS_PER_DAY_UNIT
        number = f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:g}"
        return f"{number} {unit}" if unit else number
    if key in ("chip_id", "serve_on") and isinstance(value, str):   # a serve-on list holds chip ids
        return chip_labels.get(value, value)
    if isinstance(value, Mapping):   # a list item: its fields, so a changed one shows
        if key == "policy_events":
            chip_id = str(value.get("chip_id") or "")
            chip = chip_labels.get(chip_id, chip_id or "every chip")
            text = f"{chip} cut off"
            prob = value.get("probability")
            if isinstance(prob, (int, float)):
                text += f", {prob * 100:.3g}% chance"
            start, end = value.get("window_start"), value.get("window_end")
            if start and end and start != end:
                text += f", between {start} and {end}"
            elif start or end:
                text += f" on {start or end}"
            if value.get("duration_months"):
                text += f", for {value['duration_months']:g} months"
            return text
        if key == "jobs":
            text = str(value.get("name") or "a job")
            what = [str(value["model_id"])] if value.get("model_id") else []
            if value.get("chip_id"):
                what.append(f"on {chip_labels.get(value['chip_id'], value['chip_id'])}")
            if isinstance(value.get("tokens"), (int, float)):
                what.append(f"{value['tokens'] / 1e12:g}T tokens")
            if value.get("earliest_start"):
                what.append(f"from {value['earliest_start']}")
            if value.get("deadline"):
                what.append(f"by {value['deadline']}")
            return f"{text} ({', '.join(what)})" if what else text
        return "(" + ", ".join(f"{FIELD_WORDS.get(k, k.replace('_', ' '))} {_value_text(k, v, chip_labels)}"
                               for k, v in value.items()
                               if v not in (None, "", [], {}) and k != "note") + ")"   # the note is prose
    if isinstance(value, list):
        return "[" + "; ".join(_value_text(key, v, chip_labels) for v in value) + "]" if value else "none"
    return str(value)


def path_words(keys: list[str], chip_labels: Mapping[str, str]) -> str:
    """A change's path in the forms' words: vendor_uncertainty.Huawei.delay_high_days ->
    "Huawei delay high"; allocation.training_share.h20-96gb -> "training share of H20"."""
    words: list[str] = []
    i = 0
    while i < len(keys):
        key = keys[i]
        if key in _NAMED_SECTIONS and i + 1 < len(keys):
            name = keys[i + 1]
            words.append(_NAMED_SECTIONS[key].format(chip_labels.get(name, name)))
            i += 2
            continue
        if key in _SECTION_WORDS:
            if _SECTION_WORDS[key]:
                words.append(_SECTION_WORDS[key])
        else:
            word = FIELD_WORDS.get(key, key.replace("_", " "))
            if words and (word == words[-1] or word.startswith(words[-1] + " ")):
                words.pop()   # the field's word names its section: "demand ceiling", not "demand demand ceiling"
            words.append(word)
        i += 1
    return " ".join(w for w in words if w) or ".".join(keys)


# ---- the views' inputs ("ui.<view>.<field>") -------------------------------------------------------
# The views whose inputs feed a result (a training time, a serving answer, a plan), with each
# field's words as the form labels it, its unit and what its "not set" value (0, None, "") means
# there. A what-if changing only the Training view's MTBF read "no changes" while train went from
# 184 to 238 days. Compare's saved ticks are the window's state, no input: not described.
_UI_VIEWS: dict[str, tuple[str, dict[str, tuple[str, str, str]]]] = {
    "training": ("Training", {
        "model_id": ("preset", "", ""), "custom": ("architecture", "", "the preset's"), "chip_id": ("chip", "", ""),
        "chips_source": ("chips from", "", ""), "num_chips": ("chip count", "chips", ""),
        "fleet_date": ("fleet on date", "", "the first month every delivery is installed"),
        "tokens_t": ("token budget", "T tokens", ""), "seq_len": ("sequence length", "tokens", "the model's default"),
        "global_batch": ("global batch", "sequences", "auto"), "dtype": ("precision", "", ""),
        "layout_mode": ("layout", "", ""), "layout": ("layout", "", ""),
        "price_per_chip_hour": ("price", "USD/chip-h", "the amortised list price"),
        "mtbf_chip_hours": ("MTBF per chip", "chip-h", "the Llama 3 rate ({mtbf:,.0f} chip-h)"),
        "restart_min": ("restart time", "min", ""), "checkpoint_write_gbps": ("checkpoint write", "GB/s", ""),
        "checkpoint_bytes_per_param": ("checkpoint size", "bytes/param", ""),
        "compare_chips": ("chips to compare", "", "none"), "software": ("software", "", "the defaults")}),
    "inference": ("Inference", {
        "model_id": ("model", "", ""), "chip_id": ("chip", "", ""), "tp": ("TP", "", "the best under the targets"),
        "ep": ("EP", "", "the best under the targets"), "weight_dtype": ("weights", "", ""),
        "kv_dtype": ("KV cache", "", ""), "engine": ("serving engine", "", "the chip family's current"),
        "input_len": ("input length", "tokens", ""), "output_len": ("output length", "tokens", ""),
        "ttft_ms": ("TTFT target", "ms", "none"), "tpot_ms": ("TPOT target", "ms", "none"),
        "prefix_cache_pct": ("prefix-cache hits", "%", ""),
        "demand_tokens_per_s": ("peak demand", "output tokens/s", ""), "compare_chips": ("chips to compare", "", "none"),
        "max_num_seqs": ("max running sequences", "", "the engine's default"),
        "max_num_batched_tokens": ("token budget per step", "tokens", "the engine's default"),
        "length_spread": ("length spread (CV)", "", ""), "prefill_tp": ("prefill TP", "", "on the replica"),
        "prefill_instances": ("prefill instances", "", ""), "slo_percentile": ("targets hold for", "", ""),
        "load_point": ("load point", "", ""), "load_value": ("load", "", "")}),
    "plan": ("Plan", {
        "confidence": ("confidence", "share", ""), "from_month": ("from", "", "set by the run"),
        "until_month": ("until", "", "the horizon's end"), "budget_usd": ("budget", "USD", "no limit"),
        "samples": ("fitted on", "trials", ""),
        # a candidate's fields (ui.plan.candidates.<chip>.<field>), the candidate table's columns
        "use": ("use", "", ""), "unit_price_usd": ("price", "USD", ""), "lead_time_months": ("lead time", "months", ""),
        "max_per_quarter": ("most per quarter", "chips", "")}),
}
_UI_NOT_DESCRIBED = ("compare", "version")   # window state (Compare's ticks), a study's format version
# a view's memory of values no result reads (the Inference load typed for the kinds not chosen): a
# what-if listed "load typed for Poisson arrivals 1 -> 2.5" beside the load it used (QA s35)
_UI_NOT_DESCRIBED_GROUPS = ("load_values",)


def described_views(changes: Mapping[str, Any]) -> list[str]:
    """The views ("Training", "Inference", "Plan") whose inputs `changes` changes, as
    describe_changes lists them (not Compare's ticks, nor a study's format version)."""
    keys = (split_path(str(path)) for path in changes)
    found = {k[1] for k in keys if len(k) >= 3 and k[0] == "ui" and k[1] in _UI_VIEWS and k[-1] not in _UI_NOT_DESCRIBED
             and k[2] not in _UI_NOT_DESCRIBED_GROUPS}
    return [_UI_VIEWS[v][0] for v in sorted(found)]
# Values of the views' choices in the form's words.
_UI_CHOICES = {"chips_source": {"count": "a chip count", "fleet": "the fleet on a date"},
               "load_point": {"targets": "the targets' capacity", "rate": "Poisson arrivals",
                              "concurrency": "concurrent clients", "offline": "offline"},
               "layout_mode": {"search": "searched", "fixed": "fixed"}}
_LAYOUT_WORDS = {"zero": "ZeRO stage", "micro_batch": "micro-batch", "recompute": "recompute"}


def _number_text(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1000 else f"{value:g}"


def _ui_value_text(view: str, field: str, value: Any, labels: Mapping[str, str]) -> str:
    """A view input's value in its form's words and units (`special`: what 0 / None means there)."""
    _words, unit, special = _UI_VIEWS[view][1].get(field, (field, "", ""))
    if special and value in (0, None, "", []) and not isinstance(value, bool):
        if "{mtbf" in special:
            from engine.reliability import DEFAULT_MTBF_CHIP_HOURS

            special = special.format(mtbf=DEFAULT_MTBF_CHIP_HOURS)
        return special
    if isinstance(value, bool) or value is None:
        return "not set" if value is None else ("yes" if value else "no")
    if field in _UI_CHOICES and isinstance(value, str):
        return _UI_CHOICES[field].get(value, value)
    if field == "chip_id" and isinstance(value, str):
        return labels.get(value, value)
    if field == "compare_chips" and isinstance(value, list):
        return ", ".join(labels.get(str(c), str(c)) for c in value)
    if isinstance(value, (int, float)):
        if unit == "share":   # stored as 0..1, the form shows %
            return f"{value * 100:.3g}%"
        if unit == "%":
            return f"{value:g}%"
        return f"{_number_text(value)} {unit}" if unit else _number_text(value)
    if isinstance(value, Mapping):
        return "(" + ", ".join(f"{k.replace('_', ' ')} {_value_text(k, v, labels)}" for k, v in value.items()) + ")"
    return str(value)


def _ui_default(keys: list[str]) -> Any:
    """What a view shows for an input the baseline stores none of: the study's default, a
    candidate's from resources/plan_candidates.csv (its price: the catalog's, not known here)."""
    from engine.studies import SOFTWARE_DEFAULTS, ServingStudy, TrainingStudy
    from engine.studies_forecast import PlanStudy

    view, rest = keys[1], keys[2:]
    if view == "plan" and rest[:1] == ["candidates"]:
        if len(rest) != 3:
            return _MISSING
        chip, field = rest[1], rest[2]
        if field == "use":
            return True
        import resources
        from engine.catalog import read_csv_rows

        row = {r["chip_id"]: r for r in read_csv_rows(resources.read_text("plan_candidates.csv"))}.get(chip)
        return float(row[field]) if row and field in row else _MISSING
    if view == "training" and rest[:1] == ["software"] and len(rest) == 2:
        return SOFTWARE_DEFAULTS.get(rest[1], _MISSING)
    studies = {"training": TrainingStudy, "inference": ServingStudy, "plan": PlanStudy}
    if view not in studies:
        return _MISSING
    return _at(studies[view]().to_dict(), rest)


def _ui_line(keys: list[str], value: Any, base: Mapping | None, labels: Mapping[str, str],
             load_kind: str = "") -> str | None:
    """A change of a view's input in the form's words (`Training MTBF per chip the Llama 3 rate
    (50,677 chip-h) → 20,000 chip-h`); None for the window's own state or no change at all.
    `load_kind`: the Inference load point the what-if runs (its load value is read only for a
    rate or clients, in their unit: "load 1 → 2.5" was listed with the targets' capacity chosen)."""
    if len(keys) < 3 or keys[1] not in _UI_VIEWS or keys[-1] in _UI_NOT_DESCRIBED or keys[2] in _UI_NOT_DESCRIBED_GROUPS:
        return None
    if keys[1:] != ["inference", "load_value"]:
        return _ui_words(keys, value, base, labels)
    from engine.studies_load import LOAD_UNITS

    line = _ui_words(keys, value, base, labels) if load_kind in LOAD_UNITS else None
    return f"{line} {LOAD_UNITS[load_kind]}" if line is not None else None


def _ui_words(keys: list[str], value: Any, base: Mapping | None, labels: Mapping[str, str]) -> str | None:
    """`_ui_line`'s words for an input it describes."""
    view = keys[1]
    title, words = _UI_VIEWS[view]
    rest = keys[2:]
    if view == "plan" and rest[0] == "candidates" and len(rest) >= 2:
        name = f"{title} candidate {labels.get(rest[1], rest[1])}"
        if len(rest) == 2:   # the whole candidate's edits
            return f"{name} as in the defaults" if is_removed(value) else None
        field = rest[2]
        name += f" {words.get(field, (field.replace('_', ' '),))[0]}"
    elif rest[0] == "layout" and len(rest) == 2:
        name, field = f"{title} layout {_LAYOUT_WORDS.get(rest[1], rest[1].upper())}", rest[1]
    elif rest[0] in ("software", "custom") and len(rest) == 2:
        name, field = f"{title} {words[rest[0]][0]} {rest[1].replace('_', ' ')}", rest[1]
    else:
        name, field = f"{title} {' '.join(words.get(k, (k.replace('_', ' '),))[0] for k in rest)}", rest[-1]
    old = _at(base, keys) if base is not None else _MISSING
    if base is not None and old is _MISSING:
        old = _ui_default(keys)
    if is_removed(value):   # back to the view's default
        value = _ui_default(keys)
    if old == value and value is not _MISSING:
        return None   # the baseline's (or the view's default) value, stored again
    # (a candidate's catalog price is not known here)
    unknown = "the catalog's" if field == "unit_price_usd" else "the preset's" if rest[0] == "custom" else "the default"
    new_text = unknown if value is _MISSING else _ui_value_text(view, field, value, labels)
    if base is None:
        return f"{name} = {new_text}"
    old_text = unknown if old is _MISSING else _ui_value_text(view, field, old, labels)
    return f"{name} {old_text} → {new_text}"


def _ui_leaves(path: str, value: Any, base: Mapping | None) -> list[tuple[str, Any]]:
    """A change under "ui" as one change per input: a view's inputs stored whole (as before
    scenarios stored changes field by field) hid which of them differ."""
    stored = _at(base, split_path(path)) if base is not None else _MISSING
    if is_removed(value) and isinstance(stored, Mapping) and stored:   # (a candidate's edits): each one undone
        return [(f"{path}.{_escape(key)}", dict(REMOVED)) for key in stored]
    if not isinstance(value, Mapping) or is_removed(value) or is_item_changes(value):
        return [(path, value)]
    return list(diff_params(stored if isinstance(stored, Mapping) else {}, value, path + ".").items())


# ---- the changes in words ------------------------------------------------------------------------
# A field that picks a mode, and the fields each mode reads: "growth model = user" hid the
# P10/P50/P90 it uses, which equal the baseline's unused ones and so are no change of their own.
_MODE_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "growth_model": {"fixed": ("growth_after_last_per_year",), "loglinear": ("fit_points", "growth_sigma_floor"),
                     "decaying": ("growth_sigma_floor",),
                     "user": ("growth_p10_per_year", "growth_p50_per_year", "growth_p90_per_year")},
    "fraction_dist": {"fixed": ("fraction_mode",), "*": ("fraction_low", "fraction_mode", "fraction_high")},
    "delay_dist": {"fixed": ("delay_mode_days",), "*": ("delay_low_days", "delay_mode_days", "delay_high_days")},
    "kind": {"logistic": ("ceiling_tokens_per_day",)},
}
_FRACTION_FIELDS = ("fraction_low", "fraction_mode", "fraction_high")
_OF_WORDS = {"order": "the order", "outstanding": "what is outstanding"}


def _of_words(section: Any) -> str:
    """" of the order" / " of what is outstanding" for a delivery profile's fulfilled share."""
    of = section.get("fraction_of") if isinstance(section, Mapping) else None
    return f" of {_OF_WORDS[of]}" if of in _OF_WORDS else ""


def _scalar_value_text(key: str, value: Any, labels: Mapping[str, str]) -> str:
    if key == "fraction_of" and value in _OF_WORDS:
        return _OF_WORDS[value]
    if (key == "scale" or key.endswith("_scale") or key in _TIMES_FIELDS) and isinstance(value, (int, float)) \
            and not isinstance(value, bool):
        return f"×{value:g}"   # a multiplier ("demand scale = 2" read as 2 of something)
    return _value_text(key, value, labels)


def _scalar_line(keys: list[str], name: str, value: Any, base: Mapping | None, resolved: Mapping | None,
                 labels: Mapping[str, str]) -> str:
    """`name old → new` (`name = new` where the base has no value there), the mode's values added."""
    # a chip's training share is keyed by the chip: the share's units (%) come from its section
    field = "training_share" if len(keys) > 1 and keys[-2] == "training_share" else keys[-1]
    old = _at(base, keys) if base is not None else _MISSING
    if base is not None and old is _MISSING:   # a baseline stored before the field existed
        old = LATER_FIELD_DEFAULTS.get(".".join(keys), _MISSING)
    new_text = _scalar_value_text(field, value, labels)
    if field in _FRACTION_FIELDS:   # 50% of what: the order, or what is still outstanding
        old_of = _of_words(_at(base, keys[:-1])) if base is not None else ""
        new_of = _of_words(_at(resolved, keys[:-1])) if resolved is not None else ""
        if old is not _MISSING and old_of == new_of:
            line = f"{name} {_scalar_value_text(field, old, labels)} → {new_text}{new_of}"
        elif old is not _MISSING:
            line = f"{name} {_scalar_value_text(field, old, labels)}{old_of} → {new_text}{new_of}"
        else:
            line = f"{name} = {new_text}{new_of}"
    elif old is _MISSING:
        line = f"{name} = {new_text}"
    else:
        line = f"{name} {_scalar_value_text(field, old, labels)} → {new_text}"
    modes = _MODE_FIELDS.get(field, {})
    used = modes.get(value, modes.get("*", ())) if isinstance(value, str) else ()
    section = _at(resolved, keys[:-1]) if resolved is not None else _MISSING
    if used and isinstance(section, Mapping):
        values = [f"{FIELD_WORDS.get(f, f.replace('_', ' '))} {_scalar_value_text(f, section[f], labels)}"
                  f"{_of_words(section) if f in _FRACTION_FIELDS else ''}" for f in used if f in section]
        if values:
            line += f" (uses {', '.join(values)})"
    return line


def _month_span(start: str, end: str) -> str:
    """2025-01-01..2025-12-31 as "2025-01..2025-12" (whole months), else the days as given."""
    import datetime as dt

    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except (TypeError, ValueError):
        return f"{start}..{end}"
    if first.day == 1 and (last + dt.timedelta(days=1)).day == 1:
        return f"{first:%Y-%m}" if (first.year, first.month) == (last.year, last.month) else f"{first:%Y-%m}..{last:%Y-%m}"
    return f"{start}..{end}"


def _cut_off_brief(event: Mapping) -> str:
    """A cut-off's chance and when, briefly: "50% in 2025-01..2025-12", "100% from 2025-09-01"."""
    prob = event.get("probability")
    text = f"{prob * 100:.3g}%" if isinstance(prob, (int, float)) else "?"
    start, end = event.get("window_start"), event.get("window_end")
    if start and end and start != end:
        text += f" in {_month_span(str(start), str(end))}"
    elif start or end:
        text += f" from {start or end}"
    if event.get("duration_months"):
        text += f" for {event['duration_months']:g} months"
    return text


def describe_changes(changes: Mapping[str, Any], limit: int | None = 8,
                     chip_labels: Mapping[str, str] | None = None, base: Mapping | None = None) -> list[str]:
    """One short line per change, in the forms' words and units (`Huawei fulfilled mode 70% → 50%
    of the order`, `H20 cut off, 100% chance on 2025-04-09`); `chip_labels` names chips as the window does.
    A list (policy events, jobs) is written out item by item: "1 item(s)" hid a cut-off whose
    probability went from 50% to 100%. With the `base` it changes, a value reads old → new, a changed
    item names the fields that differ (`training jobs: changed 405B: by 2025-12-31 → 2026-03-31`), and
    each item reads as it is applied to that base: a changed cut-off the baseline no longer has as
    added. The views' inputs ("ui") that feed a result are described too (_UI_VIEWS)."""
    labels = dict(chip_labels or {})
    resolved = apply_changes(base, changes) if base is not None else None
    lines: list[str] = []
    notes: list[str] = []   # prose about a change: after the changes it explains (files keep it)
    kind = _at(resolved, ["ui", "inference", "load_point"]) if resolved is not None else _MISSING
    load_kind = str(changes.get("ui.inference.load_point", "targets") if kind is _MISSING else kind)
    for path, value in changes.items():
        if path.startswith("ui.") or path == "ui":
            lines += [line for leaf, leaf_value in _ui_leaves(path, value, base)
                      if (line := _ui_line(split_path(leaf), leaf_value, base, labels, load_kind)) is not None]
            continue
        keys = split_path(path)
        name = path_words(keys, labels)
        if keys[-1] == "note" and isinstance(value, str):
            if value.startswith(EDITED_NOTE):   # only the mark: the whole note again says nothing new
                notes.append(f"{name}: written for the earlier values")
                continue
            notes.append(f"{name} = {value}")
            continue
        if is_removed(value):
            lines.append(f"{name} removed")
            continue
        if is_item_changes(value):   # one line per item: what a what-if adds, changes or removes
            plain = ".".join(keys)
            listed = _at(base, keys) if base is not None else None
            before = _keyed(plain, [] if listed is _MISSING else listed) if base is not None else None
            for key, item, kind in value[ITEMS]:
                shown = labels.get(key, key) if keys[-1] == "policy_events" else key
                old_item = (before or {}).get(key)
                if before is not None and kind != "removed":   # as applied to the base now (_merge_items)
                    if key in before:
                        kind = "changed"   # an added item the baseline has since: it replaces the baseline's
                    elif kind == "changed" and _orphan_dropped(plain):
                        lines.append(f"{name}: changed {shown}: not applied, the baseline has no {shown} now")
                        continue
                    else:
                        kind = "added"     # a changed item the baseline no longer has is added
                elif before is not None and key not in before:
                    continue   # removing what the baseline no longer has: nothing is applied
                if kind == "changed" and keys[-1] == "policy_events" and isinstance(old_item, Mapping) \
                        and isinstance(item, Mapping) and _cut_off_brief(old_item) != _cut_off_brief(item):
                    # one cut-off per chip: the what-if's takes the baseline's place, whatever either says
                    # (a ban from Sep 2025 dropped the baseline's 50% anywhere in 2025, and read better)
                    lines.append(f"{name}: {shown} cut-off replaces the baseline's ({_cut_off_brief(old_item)}) "
                                 f"with {_cut_off_brief(item)}")
                    continue
                if kind == "changed" and isinstance(old_item, Mapping) and isinstance(item, Mapping):
                    fields = [f"{FIELD_WORDS.get(f, f.replace('_', ' '))} {_value_text(f, old_item.get(f), labels)} → "
                              f"{_value_text(f, v, labels)}" for f, v in item.items()
                              if f != "note" and old_item.get(f) != v]
                    text = f"changed {shown}: {', '.join(fields)}" if fields else f"changed {shown}"
                elif kind == "removed":
                    text = f"{shown} removed"
                else:
                    text = f"{kind} {_value_text(keys[-1], item, labels)}"
                lines.append(f"{name}: {text}")
            continue
        if base is not None and _at(base, keys) is _MISSING \
                and LATER_FIELD_DEFAULTS.get(".".join(keys), _MISSING) == value:
            continue   # what the baseline, stored before the field existed, means too
        lines.append(_scalar_line(keys, name, value, base, resolved, labels))
    lines = lines + notes
    if limit is not None and len(lines) > limit:   # None: every change (files keep them all)
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines
