"""Studies: frozen, versioned descriptions of a Training and a Serving analysis, Qt-free.

A study is what a panel's form says (the state a scenario saves), with `to_dict`/`from_dict`
(plain JSON types, a `version`), `problems()` (every check the form makes, in a planner's words
and the form's units, keyed by field) and the functions that turn it into engine inputs and
results tables. The GUI binds widgets to a study; the CLI and tests use the same functions.

    study = TrainingStudy.from_dict(saved["ui"]["training"])      # old or partial dicts are fine
    problems = study.problems(chips, models, orders)               # [StudyProblem("fleet_date", "...")]
    inputs = study.training_inputs(chips, models, orders)          # TrainingInputs (UserError if problems)
    rows = training_key_figures(inputs, result, estimate)          # [[figure, value, unit], ...]
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Mapping

import numpy as np

from engine.errors import Cancelled, UserError
from engine.fleet import INSTALL_LAG_DAYS, first_month_all_installed, installed_on
from engine.layout import Infeasible, data_parallel, dtype_problem, interleave_rule, layout_problems
from engine.models import context_fields
from engine.reliability import CHECKPOINT_BYTES_PER_PARAM
from engine.training import (EXPERT_TP_MAX, REASONS, NoProgressError, SearchResult, TrainingInputs, estimate_run,
                             fewer_chips_alternative, halved_searches, search_layouts)

STUDY_VERSION = 1
SECONDS_PER_DAY = 86_400
DEFAULT_COMPARE_CHIPS = ("ascend-910b2", "h20-96gb", "h800-sxm5-80gb", "h100-sxm5-80gb")
CUSTOM_FIELDS = ("layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "moe_experts", "moe_topk",
                 "moe_ffn_hidden", "attention_window_tokens", "windowed_layers")


@dataclass(frozen=True)
class StudyProblem:
    field: str    # the form field it belongs to
    message: str  # a planner's words and the form's units
    also: tuple[str, ...] = ()   # further fields it is shown at (each factor of TP × PP × CP at fault)


def chip_name(chip) -> str:
    """One display name per chip: the catalog name's short form ("H20", "Ascend 910B2").
    `chip`: a catalog chip, or its catalog name."""
    return str(getattr(chip, "name", chip)).split(" (")[0].strip()


def chip_labels(chips) -> dict[str, str]:
    """Chip id -> the name it goes by in charts, tables and files: chip_name, unless another chip
    of `chips` has the same short name (a user's "B200 (HGX, 700W air)" beside the catalog's
    "B200 (HGX, 1000W)"): then its full catalog name, or the short name with its id when even that
    is shared. Charts key their series by these names, so two chips never merge into one line."""
    chips = list(chips)
    groups: dict[str, list] = {}
    for chip in chips:
        groups.setdefault(chip_name(chip).casefold(), []).append(chip)
    labels = {}
    for group in groups.values():
        full = [str(c.name).strip() for c in group]
        for chip in group:
            if len(group) == 1:
                labels[chip.id] = chip_name(chip)
            elif len({f.casefold() for f in full}) == len(full):
                labels[chip.id] = str(chip.name).strip()
            else:
                labels[chip.id] = f"{chip_name(chip)} [{chip.id}]"
    return labels


def missing_choice_problems(model_missing: bool, model_id: str | None, chip_missing: bool, chip_id: str | None,
                            chips: Mapping, models: Mapping) -> list[StudyProblem]:
    """A study's model or chip (those missing) that the store lacks. Nothing chosen, or an empty
    store, asks for one; a saved id the catalog no longer holds is named, both at once (a saved
    study's deleted chip read "the catalog is empty" beside 56 chips). The window never shows
    these for a catalog that has some (the view picks another and its banner says so:
    gui.panels.base's missing_choices): the flags are the CLI's."""
    out = []
    if model_missing:
        out.append(StudyProblem("model", f"Model '{model_id}' is not among the model presets (deleted?): pass --model."
                                if models and model_id else "Pick a model preset" + (
                                    "." if models else " (the store has none: add one with `fleetcast models`).")))
    if chip_missing:
        out.append(StudyProblem("chip", f"Chip '{chip_id}' is not in the catalog (deleted?): pass --chip."
                                if chips and chip_id else "Pick a chip" + (
                                    "." if chips else " (the catalog is empty: add chips in the Fleet view).")))
    return out


def _known(cls, data: Mapping | None) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in (data or {}).items() if k in names and k != "version"}


def _check_version(kind: str, data: Mapping | None) -> None:
    version = (data or {}).get("version", STUDY_VERSION)
    if isinstance(version, int) and version > STUDY_VERSION:
        raise UserError(f"{kind} study version {version} is newer than this Fleetcast reads ({STUDY_VERSION}): "
                        "update Fleetcast")


# ---- training ------------------------------------------------------------------------------

DEFAULT_LAYOUT = {"tp": 8, "pp": 4, "cp": 1, "ep": 1, "vpp": 1, "zero": 1, "micro_batch": 1, "recompute": "selective"}
# The run's software settings a study (and `fleetcast train`) sets: TrainingInputs fields, whose
# defaults (today's common practice) are the engine's own.
SOFTWARE_KEYS = ("flash_attention", "sequence_parallel", "grad_overlap", "tp_comm_overlap", "dropout", "schedule",
                 "cp_kind", "attention_kernel", "fp8_dispatch", "moe_route_nodes", "expert_tp")
SOFTWARE_DEFAULTS = {f.name: f.default for f in fields(TrainingInputs) if f.name in SOFTWARE_KEYS}
ONE_CHUNK_SCHEDULES = ("zero-bubble", "dualpipe")  # run one model chunk per pipeline stage


@dataclass(frozen=True)
class TrainingStudy:
    model_id: str = "llama3-70b"
    chip_id: str = "ascend-910b2"
    chips_source: str = "count"          # "count" or "fleet" (the fleet installed on fleet_date)
    num_chips: int = 1024
    fleet_date: str | None = None        # ISO date; None: the first month with every delivery installed
    tokens_t: float = 15.0               # token budget, trillions
    seq_len: int = 0                     # 0: the model's default
    global_batch: int = 0                # sequences; 0: auto (about 4M tokens, >= 1K tokens per chip)
    dtype: str = "bf16"
    layout_mode: str = "search"          # "search" or "fixed"
    layout: Mapping = field(default_factory=lambda: dict(DEFAULT_LAYOUT))
    price_per_chip_hour: float = 0.0     # USD; 0: list price amortised over hardware.CHIP_LIFE_YEARS
    # Reliability of the run (engine.reliability): mean time between job-stopping failures per
    # chip (0: the Llama 3 report's rate, 419 interruptions in 54 days on 16,384 H100), the time a
    # restart takes, the storage bandwidth a checkpoint is written at and what it holds per
    # parameter (14 bytes: bf16 weights, fp32 master copy and two fp32 Adam moments).
    mtbf_chip_hours: float = 0.0
    restart_min: float = 10.0
    checkpoint_write_gbps: float = 1000.0
    checkpoint_bytes_per_param: float = CHECKPOINT_BYTES_PER_PARAM
    custom: Mapping | None = None        # architecture overrides of the preset
    compare_chips: tuple = DEFAULT_COMPARE_CHIPS
    software: Mapping | None = None      # run software settings (TrainingInputs fields); None: defaults
    version: int = STUDY_VERSION
    # the scenario's install lag (its Forecast supply input, not saved with this study): "the fleet
    # installed on" a date counts deliveries this many days before it (QA s37: 30 days were counted
    # inside a what-if whose lag was 120, where the Forecast had none of those chips in service)
    install_lag_days: float = INSTALL_LAG_DAYS

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("install_lag_days")   # the scenario's, saved with its Forecast inputs
        d["layout"] = dict(self.layout)
        d["software"] = dict(self.software) if self.software is not None else None
        d["custom"] = dict(self.custom) if self.custom is not None else None
        d["compare_chips"] = list(self.compare_chips)
        return d

    @classmethod
    def from_dict(cls, data: Mapping | None) -> "TrainingStudy":
        """Tolerant of older and partial dicts (missing keys take defaults, unknown ones are
        dropped); refuses a newer version."""
        _check_version("training", data)
        known = _known(cls, data)
        known.pop("install_lag_days", None)   # never read from a saved study: the scenario's is given
        known["layout"] = {**DEFAULT_LAYOUT, **dict(known.get("layout") or {})}
        if "compare_chips" in known:
            known["compare_chips"] = tuple(known["compare_chips"] or ())
        for key in ("custom", "software"):
            if not isinstance(known.get(key), (dict, type(None))):
                known[key] = None
        for key in ("seq_len", "global_batch"):
            if key in known:
                known[key] = int(known[key] or 0)
        for key in ("price_per_chip_hour", "mtbf_chip_hours", "restart_min", "checkpoint_write_gbps",
                    "checkpoint_bytes_per_param"):
            if key in known:
                try:
                    known[key] = float(known[key] or 0.0)
                except (TypeError, ValueError):
                    raise UserError(f"training study {key}: {known[key]!r} (a number)") from None
        return cls(**known)

    # -- what the form's inputs mean
    def model(self, models: Mapping):
        model = models.get(self.model_id)
        if model is None or not self.custom:
            return model
        changes = {k: int(v) for k, v in self.custom.items() if k in CUSTOM_FIELDS}
        return replace(model, id="custom", name=f"Custom ({model.name})", params_b_reported=None, **changes)

    def day(self, orders) -> dt.date:
        try:
            return dt.date.fromisoformat(self.fleet_date) if self.fleet_date else \
                first_month_all_installed(orders, self.install_lag_days)
        except (TypeError, ValueError):
            return first_month_all_installed(orders, self.install_lag_days)

    def chips_used(self, orders) -> int:
        if self.chips_source == "fleet":
            return installed_on(orders, self.chip_id, self.day(orders), self.install_lag_days)
        return int(self.num_chips)

    def full_layout(self) -> dict:
        return {**DEFAULT_LAYOUT, **dict(self.layout or {})}

    def fixed_layout(self) -> dict:
        lay = self.full_layout()
        return {k: int(lay[k]) for k in ("tp", "pp", "cp", "ep", "vpp", "micro_batch")}

    def software_settings(self) -> dict:
        """The run's software settings: the study's, the engine's defaults for the rest."""
        given = dict(self.software or {})
        return {k: given.get(k, default) for k, default in SOFTWARE_DEFAULTS.items()}

    def price(self) -> float | None:
        """USD per chip-hour for the cost; None: the list price amortised (engine.training)."""
        return float(self.price_per_chip_hour) if self.price_per_chip_hour else None

    def estimate(self, inputs: TrainingInputs, tokens_per_s_per_chip: float, num_chips: int | None = None, chip=None):
        """The whole run (failures, checkpoints, cost) at a throughput, or None when nothing runs."""
        n = inputs.num_chips if num_chips is None else int(num_chips)
        if not (tokens_per_s_per_chip > 0) or n <= 0:
            return None
        return estimate_run(float(self.tokens_t) * 1e12, tokens_per_s_per_chip, n, chip or inputs.chip,
                            params=float(inputs.model.total_params()), price_per_chip_hour_usd=self.price(),
                            **self.reliability())

    def reliability(self) -> dict:
        """estimate_run's reliability inputs (a 0 MTBF: the Llama 3 report's rate)."""
        return {"mtbf_chip_hours": float(self.mtbf_chip_hours) or None, "restart_min": float(self.restart_min),
                "checkpoint_write_gbps": float(self.checkpoint_write_gbps),
                "checkpoint_bytes_per_param": float(self.checkpoint_bytes_per_param)}

    def problems(self, chips: Mapping, models: Mapping, orders=()) -> list[StudyProblem]:
        out: list[StudyProblem] = []
        model, chip = self.model(models), chips.get(self.chip_id)
        if model is None or chip is None:
            return missing_choice_problems(model is None, self.model_id, chip is None, self.chip_id, chips, models)
        if self.custom:
            for problem in model.validate():
                name = problem.split(":", 1)[0].strip()
                out.append(StudyProblem(f"custom_{name}" if name in CUSTOM_FIELDS else "custom_layers", problem))
        n = self.chips_used(orders)
        if self.chips_source == "fleet" and n <= 0:
            day = self.day(orders).isoformat()
            mine = [o for o in orders if o.chip_id == self.chip_id]
            # a later date helps only where chips are delivered later (QA s36: it was said of a chip
            # with no orders at all)
            if not mine:
                why = f"the fleet has no {chip_name(chip)} orders: add one in the Fleet view, pick another chip"
            elif not any(d.quantity > 0 for o in mine for d in o.deliveries):
                ordered = sum(o.quantity for o in mine)
                why = (f"none of the {ordered:,} ordered is recorded as delivered: record deliveries in the Fleet "
                       "view, pick another chip")
            else:
                why = "pick a later date, another chip"
            out.append(StudyProblem("fleet_date", f"No {chip_name(chip)} installed by {day}: {why}, or enter a count."))
        elif n <= 0:
            out.append(StudyProblem("num_chips", "Enter at least one chip."))
        if self.layout_mode == "fixed" and n > 0:
            layout_issues = layout_problems(self.fixed_layout(), n, model)
            out += [StudyProblem(p.key, p.message, p.also) for p in layout_issues]
            lay = self.fixed_layout()
            step = data_parallel(n, lay) * lay["micro_batch"]
            gb = self.global_batch
            if not layout_issues and gb and step > 0 and gb % step:
                # the run said "global batch not divisible by dp x micro-batch" on no field
                lower = gb // step * step
                use = f"{lower:,} or {lower + step:,}" if lower else f"{step:,}"
                out.append(StudyProblem("global_batch", f"Global batch {gb:,} is not a multiple of DP × micro-batch = "
                                                        f"{data_parallel(n, lay):,} × {lay['micro_batch']:,} = {step:,} "
                                                        f"sequences: use {use}, or auto."))
        problem = dtype_problem(self.dtype, chip)
        if problem:
            out.append(StudyProblem("dtype", problem))
        if not chip.peak_tflops("bf16"):
            out.append(StudyProblem("chip", f"{chip_name(chip)} has no 16-bit peak in the catalog: "
                                            "fill it in the Fleet view."))
        if not (isinstance(self.tokens_t, (int, float)) and math.isfinite(self.tokens_t) and self.tokens_t > 0):
            out.append(StudyProblem("tokens", f"Token budget {self.tokens_t!r} T: enter a positive number."))
        route = self.software_settings()["moe_route_nodes"]
        if route is not None and not (isinstance(route, int) and not isinstance(route, bool) and route >= 1):
            out.append(StudyProblem("moe_route_nodes", f"MoE routing nodes per token {route!r}: a whole number, 1 "
                                                       "or more, or blank for any node."))
        etp = self.software_settings()["expert_tp"]
        if etp is not None and not (isinstance(etp, int) and not isinstance(etp, bool) and 1 <= etp <= EXPERT_TP_MAX):
            out.append(StudyProblem("expert_tp", f"Expert TP {etp!r}: a whole number from 1 to {EXPERT_TP_MAX}, or "
                                                  "blank to derive it."))
        schedule = self.software_settings()["schedule"]
        if self.layout_mode == "fixed" and schedule in ONE_CHUNK_SCHEDULES and self.fixed_layout()["vpp"] > 1:
            out.append(StudyProblem("schedule", "Zero-bubble and DualPipe run one chunk per stage: set VPP to 1."))
        for key, name, value, low, high, unit in (
                ("mtbf", "MTBF per chip", self.mtbf_chip_hours, 0.0, 1e9, " chip-hours (0 = the Llama 3 rate)"),
                ("restart", "Restart time", self.restart_min, 0.0, 10_000.0, " min"),
                ("checkpoint", "Checkpoint write", self.checkpoint_write_gbps, 0.001, 1e7, " GB/s"),
                # (above 0, as `train --checkpoint-bytes-per-param` takes it: a checkpoint holds something)
                ("checkpoint_bytes", "Checkpoint size", self.checkpoint_bytes_per_param, 0.0, 1000.0, " bytes/param")):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and low <= value <= high) \
                    or (key == "checkpoint_bytes" and value == 0):
                above = "more than " if key == "checkpoint_bytes" else ""
                out.append(StudyProblem(key, f"{name} {value!r}: use {above}{low:g} to {high:,.0f}{unit}."))
        return out

    def training_inputs(self, chips: Mapping, models: Mapping, orders=(), software: Mapping | None = None):
        """The engine inputs of this study (UserError listing the problems when there are any);
        `software` (default: the study's) sets TrainingInputs' software fields."""
        problems = self.problems(chips, models, orders)
        if problems:
            raise UserError("; ".join(p.message for p in problems))
        n = self.chips_used(orders)
        layout = {}
        if self.layout_mode == "fixed":
            values = self.fixed_layout()
            full = self.full_layout()
            layout = dict(dp=data_parallel(n, values), zero_stage=int(full["zero"]),
                          recompute=str(full["recompute"]), **values)
        allowed = {f.name for f in fields(TrainingInputs)}
        chosen = dict(software) if software is not None else self.software_settings()
        extra = {k: v for k, v in chosen.items() if k in allowed and k not in layout}
        return TrainingInputs(model=self.model(models), chip=chips[self.chip_id], num_chips=int(n),
                              seq_len=self.seq_len or None, global_batch_seqs=self.global_batch or None,
                              dtype=self.dtype, **layout, **extra)


_SOFTWARE_FLAGS = {"flash_attention": "flash-attention", "sequence_parallel": "sequence-parallel",
                   "grad_overlap": "grad-overlap", "tp_comm_overlap": "tp-comm-overlap", "dropout": "dropout",
                   "fp8_dispatch": "fp8-dispatch", "schedule": "schedule", "cp_kind": "cp-kind",
                   "attention_kernel": "attention-kernel", "moe_route_nodes": "moe-route-nodes",
                   "expert_tp": "expert-tp"}


SOFTWARE_WORDS = {   # the Training view's Software group, in its own words
    "flash_attention": "fused attention", "sequence_parallel": "sequence parallelism",
    "grad_overlap": "overlapped gradient reduction", "tp_comm_overlap": "overlapped TP communication",
    "dropout": "dropout", "fp8_dispatch": "FP8 MoE dispatch",
}
SOFTWARE_CHOICES = {
    "schedule": {"1f1b": "1F1B schedule", "zero-bubble": "zero-bubble schedule", "dualpipe": "DualPipe schedule"},
    "cp_kind": {"ring": "ring attention for context parallelism",
                "allgather": "K/V all-gather for context parallelism"},
    "attention_kernel": {"portable": "FA2-class attention kernels", "native": "chip-native attention kernels"},
}


def software_text(settings: Mapping, *, moe: bool | None = None, fp8: bool | None = None,
                  cp: int | None = None) -> str:
    """The software settings in the form's words, as exports name them ("fused attention on,
    sequence parallelism on, ..., 1F1B schedule"). Given the run, settings that cannot act on it
    are left out (FP8 dispatch of a BF16 or dense run, MoE routing of a dense model, the context-
    parallel form at CP 1): exports listed "fp8 dispatch on" for a BF16 run."""
    parts = []
    for key, value in settings.items():
        if (key == "fp8_dispatch" and (moe is False or fp8 is False)) \
                or (key in ("moe_route_nodes", "expert_tp") and moe is False) or (key == "cp_kind" and cp == 1):
            continue
        if key in SOFTWARE_CHOICES:
            parts.append(SOFTWARE_CHOICES[key].get(str(value), f"{key.replace('_', ' ')} {value}"))
        elif key == "moe_route_nodes":
            parts.append(f"MoE routing to at most {value} nodes" if value else "MoE routing to any node")
        elif key == "expert_tp":
            parts.append(f"expert TP {value}" if value else "expert TP derived")
        elif isinstance(value, bool):
            parts.append(f"{SOFTWARE_WORDS.get(key, key.replace('_', ' '))} {'on' if value else 'off'}")
        elif value is not None:
            parts.append(f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)


def cli_head(command: str, model, chip) -> list[str] | str:
    """The start of a `fleetcast COMMAND` line for a view's exports, or why there is none: a
    custom architecture exists in the view only."""
    if model.id == "custom":
        return (f"(a custom architecture: save it as a model with `fleetcast models import` to {command} it "
                "from the CLI)")
    return [f"fleetcast {command}", f"--model {model.id}", f"--chip {chip.id}"]


def train_command(study: "TrainingStudy", inputs: TrainingInputs) -> str:
    """The `fleetcast train` line that answers what the Training view shows for `study` (its
    exports carry it, with every setting that differs from the CLI's defaults)."""
    head = cli_head("train", inputs.model, inputs.chip)
    if isinstance(head, str):
        return head
    # (flag, value) of every setting that differs from the CLI's default
    given = [("--chips", inputs.num_chips), ("--tokens", f"{float(study.tokens_t) * 1e12:g}"),
             ("--seq-len", study.seq_len or None), ("--global-batch", study.global_batch or None),
             ("--dtype", study.dtype if study.dtype != "bf16" else None)]
    if study.layout_mode == "fixed":
        lay = study.full_layout()
        given += [("--tp", lay["tp"]), ("--pp", lay["pp"]), ("--dp", inputs.dp), ("--cp", lay["cp"]),
                  ("--vpp", lay["vpp"]), ("--micro-batch", lay["micro_batch"]), ("--zero", lay["zero"]),
                  ("--recompute", lay["recompute"]), ("--ep", lay["ep"] if int(lay["ep"]) > 1 else None)]
    else:
        given += [("--search", "")]
    for key, value in study.software_settings().items():
        if key == "expert_tp" and not inputs.model.is_moe:   # `train` refuses it for a dense model
            continue
        if value != SOFTWARE_DEFAULTS.get(key):   # booleans are --flag / --no-flag
            flag = _SOFTWARE_FLAGS[key]
            given += [(f"--{flag}", "") if value is True else (f"--no-{flag}", "") if value is False
                      else (f"--{flag}", value)]
    given += [("--price-per-chip-hour", f"{study.price_per_chip_hour:g}" if study.price_per_chip_hour else None),
              ("--mtbf-chip-hours", f"{study.mtbf_chip_hours:g}" if study.mtbf_chip_hours else None),
              ("--restart-min", f"{study.restart_min:g}" if study.restart_min != TrainingStudy.restart_min else None),
              ("--checkpoint-write-gbps", f"{study.checkpoint_write_gbps:g}"
               if study.checkpoint_write_gbps != TrainingStudy.checkpoint_write_gbps else None),
              ("--checkpoint-bytes-per-param", f"{study.checkpoint_bytes_per_param:g}"
               if study.checkpoint_bytes_per_param != TrainingStudy.checkpoint_bytes_per_param else None)]
    parts = head + [f"{flag} {value}".strip() for flag, value in given if value is not None]
    return " ".join(parts)


def batch_note(inputs: TrainingInputs, set_by_user: bool) -> str:
    """The global batch a run uses, in words (the form shows it beside the batch field)."""
    batch = inputs.batch_seqs()
    text = (f"{'Set' if set_by_user else 'Auto'}: {batch:,} sequences × {inputs.seq:,} tokens = "
            f"{_big(batch * inputs.seq)} tokens per step")
    if not set_by_user:
        text += (" (4M tokens, or 1K per chip if more, to the nearest power of two in sequences; each layout "
                 "then rounds it to a multiple of its DP × micro-batch)")
    return text


def batch_note_pending(global_batch_seqs: int) -> str:
    """The batch hint while a field the batch depends on is marked: the last run's figure beside a
    changed chip count or sequence length had read as the batch the marked inputs would use."""
    if global_batch_seqs:
        return f"Set: {global_batch_seqs:,} sequences (tokens per step once the marked fields are fixed)"
    return "Auto: worked out once the marked fields are fixed"


def fleet_note(study: "TrainingStudy", chips: Mapping, orders) -> str:
    """How many chips "the fleet installed on a date" gives, in words; "" for a chip count."""
    chip = chips.get(study.chip_id)
    if study.chips_source != "fleet" or chip is None:
        return ""
    day = study.day(orders)
    n = study.chips_used(orders)
    # what it counts, said: the deliveries on record (QA s34: "30,000 installed on 2027-01-01"
    # where the Forecast has 66,022 at P50, the rest of the order still arriving, and the same
    # 30,000 in 2031, past the chips' five-year life)
    cutoff = day - dt.timedelta(days=study.install_lag_days)
    mine = [o for o in orders if o.chip_id == study.chip_id]
    pending = sum(o.outstanding for o in mine)
    after = sum(d.quantity for o in mine for d in o.deliveries if d.date > cutoff)
    left = [f"{after:,} delivered after it" if after else "",
            f"{pending:,} ordered and not recorded as delivered" if pending else ""]
    later = f"; {' and '.join(x for x in left if x)} are not counted" if any(left) else ""
    return (f"{n:,} {chip_name(chip)} installed on {day.isoformat()} "
            f"(delivered by {cutoff.isoformat()}, the scenario's {study.install_lag_days:g}-day install lag, as "
            f"recorded{later}; "
            # (QA s38: 116 days here against the Forecast's job in 208, which trains on its share)
            "failures, retirement and the share that serves are left to the Forecast, whose jobs train "
            "on its training share of them).")


def _big(x: float) -> str:
    """4.19 million: token counts span many orders of magnitude."""
    for limit, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(x) >= limit:
            return f"{x / limit:.3g} {word}"
    return f"{x:,.0f}"


def scaling_days(study: "TrainingStudy", inputs: TrainingInputs, analysis: "TrainingAnalysis",
                 chips: Mapping) -> dict[str, np.ndarray]:
    """Time to train (days, NaN where nothing fits) per compared chip id and chip count of the
    analysis' scaling curve, for the study's token budget and price."""
    out = {}
    for k, chip_id in enumerate(analysis.scaling_chips):
        chip = chips.get(chip_id)
        if chip is None:
            continue
        days = []
        for j, n in enumerate(analysis.scaling_counts):
            tps = float(analysis.scaling_tokens_per_s_per_chip[k, j])
            try:
                est = study.estimate(inputs, tps, int(n), chip) if np.isfinite(tps) else None
            except NoProgressError:   # so many chips that failures outpace progress: no finite time
                est = None
            days.append(est.time_to_train_days if est else np.nan)
        out[chip_id] = np.array(days)
    return out


def layout_label(layout: Mapping) -> str:
    parts = [f"TP{layout['tp']}", f"PP{layout['pp']}"]
    if (layout.get("vpp") or 1) > 1:   # interleaved stages change the bubble: part of the layout's name
        parts.append(f"VPP{layout['vpp']}")
    if layout.get("cp", 1) > 1:
        parts.append(f"CP{layout['cp']}")
    if layout.get("ep", 1) > 1:
        parts.append(f"EP{layout['ep']}")
    return " ".join(parts)


# how a reason names a layout field: the CLI's flags, or the Training view's field names
FLAG_NAMES = {"tp": "--tp", "pp": "--pp", "cp": "--cp", "ep": "--ep", "vpp": "--vpp", "expert_tp": "--expert-tp",
              "dtype": "--dtype", "schedule": "--schedule"}
FORM_NAMES = {"tp": "TP", "pp": "PP", "cp": "CP", "ep": "EP", "vpp": "VPP", "expert_tp": "Expert TP",
              "dtype": "Precision", "schedule": "Schedule"}
SCHEDULE_NAMES = {"1f1b": "1F1B", "zero-bubble": "Zero-bubble", "dualpipe": "DualPipe"}


def tp_heads_rule(model, tp: int, names: Mapping = FORM_NAMES) -> str:
    """Why TP `tp` splits `model`'s attention unevenly, with the numbers ("" when it does not):
    TP divides the heads, and the KV heads or a multiple of them."""
    kv = model.kv_heads
    if model.heads % tp or (tp > kv and tp % kv) or (tp <= kv and kv % tp):
        return f"{names['tp']} {tp} does not divide {model.name}'s {model.heads} heads and {kv} KV heads"
    return ""


def pp_layers_rule(model, pp: int, names: Mapping = FORM_NAMES) -> str:
    return f"{names['pp']} {pp} exceeds {model.name}'s {model.layers} layers" if pp > model.layers else ""


def cp_sequence_rule(seq: int, cp: int, names: Mapping = FORM_NAMES) -> str:
    """Ring attention splits each sequence into 2 x cp chunks (load balance of causal attention)."""
    if cp > 1 and seq % (2 * cp):
        return (f"{names['cp']} {cp}: sequences of {seq:,} tokens are not a multiple of 2 x cp = "
                f"{2 * cp:,}")
    return ""


def ep_experts_rule(model, ep: int, names: Mapping = FORM_NAMES) -> str:
    """Why EP `ep` cannot split `model`'s experts ("" when it can; the chips' rule is apart)."""
    experts = model.moe_experts if model.is_moe else 0
    if not experts:
        return f"{names['ep']} {ep}: {model.name} has no experts (a dense model runs at ep 1)" if ep != 1 else ""
    if ep > experts:
        return f"{names['ep']} {ep}: {model.name} has {experts} experts; use {names['ep']} {experts} or fewer"
    if experts % ep:
        return f"{names['ep']} {ep} does not divide {model.name}'s {experts} experts: use a divisor of {experts}"
    return ""


def dualpipe_micro_batches_rule(gb: int, dp: int, mb: int, pp: int) -> str:
    """DualPipe feeds its two directions 2 x pp micro-batches per data-parallel rank at least."""
    micro = gb // max(dp * mb, 1)
    if pp > 1 and micro < 2 * pp:
        return (f"{micro:,} micro-batch{'' if micro == 1 else 'es'} (global batch {gb:,} / (dp {dp:,} x "
                f"micro-batch {mb:,})); DualPipe needs 2 x pp = {2 * pp:,}")
    return ""


def schedule_rule(schedule: str, lay: Mapping, names: Mapping = FORM_NAMES) -> str:
    """Which of a zero-bubble or DualPipe schedule's rules a whole layout breaks, with its numbers:
    the reason read "schedule needs vpp 1 (DualPipe also: ...)" where VPP was 1 and PP odd."""
    vpp, pp = int(lay.get("vpp") or 1), int(lay.get("pp") or 1)
    sched = f"{names['schedule']} {schedule}" if names is FLAG_NAMES else SCHEDULE_NAMES.get(schedule, schedule)
    if schedule == "1f1b":
        return ""
    if vpp > 1:
        return f"{sched} runs one chunk per stage: {names['vpp']} must be 1 (not {vpp})"
    if schedule == "dualpipe" and pp % 2:
        return f"{sched} needs an even {names['pp']} (not {pp})"
    if schedule == "dualpipe":
        gb, dp, mb = (int(lay.get(k) or 1) for k in ("global_batch_seqs", "dp", "micro_batch"))
        return dualpipe_micro_batches_rule(gb, dp, mb, pp)
    return ""


def chip_count_rule(lay: Mapping, num_chips: int) -> str:
    """Why a whole layout does not take the run's chips, with the numbers ("" when tp x pp x dp x cp
    is `num_chips`): `train`, the view and a validation case's stated layout say the same."""
    tp, pp, dp, cp = (int(lay.get(k) or 1) for k in ("tp", "pp", "dp", "cp"))
    if tp * pp * dp * cp == num_chips:
        return ""
    return f"tp x pp x dp x cp = {tp} x {pp} x {dp:,} x {cp} = {tp * pp * dp * cp:,}, not {num_chips:,} chips"


def vpp_rule(model, pp: int, vpp: int, names: Mapping = FORM_NAMES) -> str:
    """Why `vpp` chunks per stage cannot interleave `pp` stages of `model` ("" when they can, or vpp
    is 1): interleaving needs pp 2 or more and a whole layer in every chunk of every stage (the
    search's rule, engine.training.interleaving_fits)."""
    from engine.training import interleaving_fits, max_vpp

    if vpp <= 1 or bool(interleaving_fits(model.layers, pp, vpp)):
        return ""
    if pp == 1:
        return f"{names['vpp']} {vpp} interleaves pipeline stages: it needs pp 2 or more"
    return (f"{names['vpp']} {vpp} needs a layer in every chunk of every stage; pp {pp} over {model.layers} "
            f"layers allows vpp {max_vpp(model.layers, pp)} at most")


def reason_numbers(result, inputs, names: Mapping = FORM_NAMES) -> str:
    """The rule a whole layout breaks as one line naming the field, its value and the rule with its
    numbers ("EP 3 does not divide Mixtral 8x7B's 8 experts"); "" where there is none to add. The
    view and `train` both say these (the view said "ep does not divide experts or tp x dp x cp")."""
    reason = Infeasible.from_text(result.reason)
    lay, model = result.layout, inputs.model
    tp, pp, dp, cp, ep = (int(lay.get(k) or 1) for k in ("tp", "pp", "dp", "cp", "ep"))
    if reason == Infeasible.TP_HEADS:
        return tp_heads_rule(model, tp, names)
    if reason == Infeasible.PP_LAYERS:
        return pp_layers_rule(model, pp, names)
    if reason == Infeasible.CP_SEQUENCE:
        return cp_sequence_rule(inputs.seq, cp, names)
    if reason == Infeasible.CHIP_COUNT:
        return chip_count_rule(lay, inputs.num_chips)
    if reason == Infeasible.EP:
        stage = tp * dp * cp
        return ep_experts_rule(model, ep, names) or (
            f"{names['ep']} {ep} does not divide tp x dp x cp = {tp} x {dp:,} x {cp} = {stage:,}" if stage % ep else "")
    if reason == Infeasible.EXPERT_TP:
        etp, stage = int(inputs.expert_tp or 1), tp * dp * cp
        if tp % etp:
            return f"{names['expert_tp']} {etp} does not divide tp {tp}"
        return (f"ep {ep} x expert tp {etp} = {ep * etp:,} does not divide tp x dp x cp = {tp} x {dp:,} x {cp} = "
                f"{stage:,}")
    if reason == Infeasible.FP8:
        return f"{names['dtype']} fp8: {dtype_problem('fp8', inputs.chip).rstrip('.')}"
    if reason == Infeasible.SCHEDULE:
        return schedule_rule(inputs.schedule, lay, names)
    if reason == Infeasible.VPP:
        return vpp_rule(model, pp, int(lay.get("vpp") or 1), names)
    if reason == Infeasible.INTERLEAVE:
        return interleave_rule(lay)
    return ""


def infeasible_detail(result, inputs=None, names: Mapping = FORM_NAMES) -> str:
    """Why a layout cannot run, in one line with its numbers (the CLI's and the view's words).
    Memory and the batch carry theirs; the other rules need `inputs` (the model, sequence,
    schedule and chip) for theirs, and are the bare rule without them."""
    if result.reason == "out of memory":
        parts = ", ".join(f"{k} {v:.1f}" for k, v in result.memory_breakdown_gib.items() if v >= 0.05)
        return (f"out of memory: {result.memory_gib_per_chip:.1f} GiB needed per chip, "
                f"{result.memory_capacity_gib:g} GiB available ({parts})")
    lay = result.layout
    if result.reason == Infeasible.INTERLEAVE.text and (rule := interleave_rule(lay)):
        # dp x micro-batch may divide the batch (12 by 1) while its micro-batches (12) are not a
        # multiple of pp (8): a reason of its own, with its numbers
        return rule
    if result.reason == "global batch not divisible by dp x micro-batch" and lay.get("global_batch_seqs"):
        # the numbers and the nearest batches that divide, as the vpp and cp lines say theirs
        dp, mb, gb = (int(lay.get(k) or 1) for k in ("dp", "micro_batch", "global_batch_seqs"))
        step = dp * mb
        if gb % step:
            below, above = gb // step * step, (gb // step + 1) * step
            near = f"e.g. {above:,}" if below == 0 else f"e.g. {below:,} or {above:,}"
            return (f"global batch {gb:,} is not a multiple of dp {dp} x micro-batch {mb} = {step:,} "
                    f"sequences ({near})")
    if inputs is not None:
        return reason_numbers(result, inputs, names) or result.reason
    return result.reason


def zero_note(layout: Mapping) -> str:
    """ZeRO-2 or 3 over a data-parallel group of one: nothing to shard over, so it runs and holds
    as ZeRO-0 (engine.training), which a planner setting ZeRO-3 for memory should be told."""
    zero, group = int(layout.get("zero_stage") or 0), int(layout.get("dp") or 1) * int(layout.get("cp") or 1)
    if zero >= 2 and group == 1:
        return (f"ZeRO-{zero} shards over the data-parallel group (dp x cp = 1 here): with one rank it shards "
                "nothing, so memory and step time are ZeRO-0's")
    return ""


def no_fit_blocker(inputs) -> str:
    """When a global batch the user set rules out every layout whatever the chip count, why, in one
    line with its numbers ("" otherwise): "try a chip count with more factors" was said where dp x
    micro-batch 2 can never divide a batch of 3, and DualPipe on a batch of 2 has too few
    micro-batches on any layout."""
    gb = int(inputs.global_batch_seqs or 0)
    if not gb:
        return ""
    mb = int(inputs.micro_batch or 1)   # (a searched micro-batch tries 1, which divides any batch)
    if gb % mb:
        return (f"global batch {gb:,} is not a multiple of micro-batch {mb} (dp x micro-batch must divide it on any "
                f"chip count): use a multiple of {mb}, or micro-batch 1")
    if inputs.schedule == "dualpipe":
        # DualPipe needs an even pp >= 2, so 2 x pp >= 4 micro-batches per data-parallel rank
        pp = int(inputs.pp or 2)
        need = 2 * max(pp, 2) * mb
        if gb < need:
            return (f"global batch {gb:,} allows at most {gb // mb:,} micro-batch{'' if gb // mb == 1 else 'es'} "
                    f"(micro-batch {mb}); DualPipe needs an even pp and 2 x pp micro-batches per data-parallel rank "
                    f"({2 * max(pp, 2)} at pp {max(pp, 2)}): use a global batch of {need:,} or more, or the 1F1B "
                    "schedule")
    return ""


def training_key_figures(inputs, result, estimate=None) -> list[list]:
    """[figure, value, unit] rows for one evaluated layout (and its run estimate), as the
    Training view's figures table and its CSV show them."""
    if result is None or inputs is None:
        return []
    batch = int(result.layout.get("global_batch_seqs") or inputs.batch_seqs())
    ok = result.feasible   # a layout that cannot run has no speed: blank, with the reason
    rows = [["Model", inputs.model.name, ""], ["Chip", chip_name(inputs.chip), ""], ["Chips", inputs.num_chips, "chips"],
            ["Layout", layout_label(result.layout), ""], ["Feasible", result.feasible, ""]]
    rows += [] if ok else [["Not feasible because", result.reason, ""]]
    rows += [["Global batch", batch, "sequences"], ["Tokens per step", batch * inputs.seq, "tokens"],
             ["Step time", result.step_time_s if ok else None, "s"],
             ["Throughput per chip", result.tokens_per_s_per_chip if ok else None, "tokens/s"],
             ["Throughput", result.tokens_per_s_per_chip * inputs.num_chips if ok else None, "tokens/s"],
             ["MFU", result.mfu_pct if ok else None, "%"],
             ["Memory per chip", result.memory_gib_per_chip, "GiB"], ["HBM per chip", result.memory_capacity_gib, "GiB"]]
    if estimate is not None:
        rows += [["Token budget", estimate.tokens, "tokens"], ["Time to train", estimate.time_to_train_days, "days"],
                 ["Chip-hours", estimate.chip_hours, "chip-hours"], ["Energy", estimate.energy_mwh, "MWh"],
                 ["Cost", estimate.cost_usd, "USD"], ["Cost basis", estimate.cost_basis, ""],
                 ["Energy basis", estimate.energy_basis, ""], ["Goodput", 100 * estimate.goodput, "%"],
                 ["Checkpoint interval", estimate.checkpoint_interval_min, "min"],
                 ["Expected failures", estimate.expected_interruptions, "failures"]]
    return rows


TOP_LAYOUT_HEADERS = ["Rank", "TP (ways)", "PP (stages)", "DP (ways)", "CP (ways)", "EP (ways)", "VPP (chunks)",
                      "ZeRO stage", "Micro-batch (sequences)", "Global batch (sequences)", "Recompute",
                      "Throughput per chip (tokens/s)", "Step time (s)", "MFU (%)", "Memory per chip (GiB)"]


def training_top_layouts(search) -> tuple[list[str], list[list]]:
    """The ranked layouts of a search as (headers with units, rows)."""
    rows = []
    for i, r in enumerate(search.top):
        lay = r.layout
        rows.append([i + 1, lay["tp"], lay["pp"], lay["dp"], lay["cp"], lay["ep"], lay["vpp"], lay["zero_stage"],
                     lay["micro_batch"], lay["global_batch_seqs"], lay["recompute"], r.tokens_per_s_per_chip,
                     r.step_time_s, r.mfu_pct, r.memory_gib_per_chip])
    return list(TOP_LAYOUT_HEADERS), rows


SCALING_FACTORS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0)  # chip counts of the scaling curve, x the current


# ---- the Training view's background job: the layout search grid and the scaling curve -----

@dataclass(frozen=True)
class TrainingAnalysis:
    key: tuple
    search: SearchResult
    grid_tp: tuple
    grid_pp: tuple
    grid_best: np.ndarray        # (pp, tp) best tokens/s per chip, NaN when nothing fits
    grid_count: np.ndarray       # (pp, tp) feasible layouts
    grid_reason: tuple           # (pp, tp) most common reason when infeasible
    scaling_counts: tuple
    scaling_chips: tuple         # chip ids
    scaling_tokens_per_s_per_chip: np.ndarray  # (chips, counts), NaN when nothing fits
    # (chips, tokens/s per chip, layout) when leaving a few chips idle trains faster
    # (engine.training.fewer_chips_alternative); None otherwise
    fewer_chips: tuple | None = None
    grid_detail: tuple = ()      # (pp, tp) the GiB an out-of-memory cell needs (heatmap_memory_details)
    # the best layout on half, a quarter, an eighth of the chips when the global batch is fixed
    # (engine.training.halved_searches); which of them is sooner is read with the days (`sooner_on_fewer`)
    halved: tuple = ()
    # False while only the layout search has run: the window shows the search's figures at once
    # and draws the scaling curve (a search per compared chip and count, 10x the time) after it
    scaling_done: bool = True


def fewer_chips_text(analysis: "TrainingAnalysis", num_chips: int) -> str:
    """The view's sentence for `TrainingAnalysis.fewer_chips` ("" when there is none)."""
    if not analysis.fewer_chips:
        return ""
    m, _tok, _layout = analysis.fewer_chips
    return f"{fewer_chips_lead(analysis.fewer_chips, num_chips)}; set Chips to {m:,}"


def fewer_chips_lead(fewer: tuple, num_chips: int) -> str:
    """The sentence's start for `TrainingAnalysis.fewer_chips` (chips, tokens/s per chip, layout)."""
    m, tok, layout = fewer
    # not "N chips leave few layouts": 1,024 has many, but none splits Llama 3 70B's layers as evenly
    # as 9 stages of 1,008 chips (QA s41)
    return (f"Leaving some of the {num_chips:,} chips idle trains faster: on {m:,} of them ({num_chips - m:,} idle) "
            f"the best layout, {layout}, trains at {tok * m:,.0f} tokens/s in all")


def sooner_on_fewer_text(sooner: tuple, num_chips: int, global_batch_seqs: int, days_here: float,
                         tokens_per_s_here: float) -> str:
    """The sentence for `sooner_on_fewer`'s answer (the caller says how to set the count), with
    why: where the fewer chips are no slower at steady state the batch cannot use the rest; else
    the failures the rest add outweigh their throughput (it blamed failures at 99.99% goodput)."""
    m, tok, layout, days = sooner
    share = {2: "half", 4: "a quarter", 8: "an eighth"}.get(num_chips // m if m else 0, f"{m / num_chips:.0%}")

    def d(x: float) -> str:
        return f"{x:,.3g}" if x < 10 else f"{x:,.1f}"

    why = (f"the batch cannot use {num_chips:,} chips ({tokens_per_s_here:,.0f} tokens/s in all at steady state)"
           if tok * m >= tokens_per_s_here else f"the failures {num_chips:,} chips add outweigh their throughput")
    return (f"with the global batch fixed at {global_batch_seqs:,} sequences, {why}: on {m:,} ({share} of them) "
            f"the best layout, {layout_label(layout)}, trains at {tok * m:,.0f} tokens/s in all and finishes in "
            f"{d(days)} days against {d(days_here)}")


def finishing_count_text(sooner: tuple, global_batch_seqs: int) -> str:
    """Where the run makes no progress, the fewer count that finishes (`sooner_on_fewer` against
    an endless run), as `train` and the Training view say it."""
    m, _tok, layout, days = sooner
    return (f"with the global batch fixed at {global_batch_seqs:,} sequences, {m:,} chips finish in {days:,.1f} days "
            f"with the best layout, {layout_label(layout)}")


def under_one_step_note(tokens: float, result, seq_len: int) -> str:
    """Said where the token budget is under one step's tokens ("" otherwise): the time to train is the
    budget over the throughput, and a real run takes at least one whole step (QA s36: 1e6 tokens read
    "2.0 s" beside an 8.25 s step of 4.19M tokens)."""
    gb = int((result.layout or {}).get("global_batch_seqs") or 0)
    per_step = gb * int(seq_len)
    if not per_step or tokens >= per_step:
        return ""
    return (f"the budget of {tokens:,.0f} tokens is under one step's {per_step:,} ({gb:,} sequences of "
            f"{int(seq_len):,}): the time to train is its share of a step; a run takes at least one step, "
            f"{result.step_time_s:,.2f} s")


def heatmap_grid(search: SearchResult):
    """Best tokens/s per chip for every (TP, PP) pair, feasible counts and the commonest reason."""
    tps = np.unique(search.tp)
    pps = np.unique(search.pp)
    ti = np.searchsorted(tps, search.tp)
    pi = np.searchsorted(pps, search.pp)
    cell = pi * len(tps) + ti
    ncell = len(tps) * len(pps)
    best = np.full(ncell, -1.0)
    feas = search.feasible
    np.maximum.at(best, cell[feas], search.tokens_per_s_per_chip[feas])
    count = np.bincount(cell[feas], minlength=ncell)
    nr = len(REASONS)
    by_reason = np.bincount(cell * nr + search.reason.astype(np.int64), minlength=ncell * nr).reshape(ncell, nr)
    by_reason[:, 0] = 0
    commonest = np.argmax(by_reason, axis=1)
    best = np.where(count > 0, best, np.nan)
    reasons = [[("" if count[j * len(tps) + i] else
                 (REASONS[commonest[j * len(tps) + i]] if by_reason[j * len(tps) + i].any()
                  else "TP × PP does not divide the chip count"))
                for i in range(len(tps))] for j in range(len(pps))]
    return (tuple(int(t) for t in tps), tuple(int(p) for p in pps), best.reshape(len(pps), len(tps)),
            count.reshape(len(pps), len(tps)), tuple(tuple(r) for r in reasons))


def heatmap_memory_details(search: SearchResult) -> tuple:
    """(pp, tp) of words for heatmap_grid's cells whose commonest reason is memory: the least any
    of their out-of-memory layouts needs against the HBM ("needs at least 91.2 GiB per chip; 80 GiB
    HBM"), "" elsewhere. The cells said "out of memory" alone, where a fixed layout gives the GiB
    (QA s36): one GiB short or a hundred read alike."""
    tps, pps = np.unique(search.tp), np.unique(search.pp)
    if search.memory_gib is None:
        return tuple(tuple("" for _ in tps) for _ in pps)
    oom_i = REASONS.index("out of memory")
    cell = np.searchsorted(pps, search.pp) * len(tps) + np.searchsorted(tps, search.tp)
    ncell = len(tps) * len(pps)
    nr = len(REASONS)
    by_reason = np.bincount(cell * nr + search.reason.astype(np.int64), minlength=ncell * nr).reshape(ncell, nr)
    by_reason[:, 0] = 0
    least = np.full(ncell, np.inf)
    oom = search.reason == oom_i
    np.minimum.at(least, cell[oom], search.memory_gib[oom])
    feasible_count = np.bincount(cell[search.feasible], minlength=ncell)
    words = [f"needs at least {least[c]:,.1f} GiB per chip; {search.memory_capacity_gib:,.0f} GiB HBM"
             if feasible_count[c] == 0 and by_reason[c].any() and np.argmax(by_reason[c]) == oom_i
             and np.isfinite(least[c]) else "" for c in range(ncell)]
    return tuple(tuple(words[j * len(tps) + i] for i in range(len(tps))) for j in range(len(pps)))


def scaling_counts(num_chips: int) -> tuple:
    out = sorted({max(8, int(round(num_chips * f / 8.0)) * 8) for f in SCALING_FACTORS})
    return tuple(out)


def run_training_analysis(inputs: TrainingInputs, compare_chips: tuple, counts: tuple, key: tuple = (), *,
                          progress=None, should_stop=None) -> TrainingAnalysis:
    """The layout search of `inputs` (free layout) and best throughput per chip type and count."""
    search = run_layout_analysis(inputs, compare_chips, counts, key, progress=progress, should_stop=should_stop)
    return run_scaling_curve(search, inputs, compare_chips, progress=progress, should_stop=should_stop)


def _free_layout(inputs: TrainingInputs) -> TrainingInputs:
    return replace(inputs, tp=None, pp=None, vpp=None, dp=None, cp=None, ep=None, zero_stage=None,
                   micro_batch=None, recompute=None)


def _analysis_steps(compare_chips: tuple, counts: tuple) -> int:
    """Progress steps of the whole analysis: the layout search, then one per curve point."""
    return 1 + len(compare_chips) * len(counts)


def run_layout_analysis(inputs: TrainingInputs, compare_chips: tuple, counts: tuple, key: tuple = (), *,
                        progress=None, should_stop=None) -> TrainingAnalysis:
    """The first part of `run_training_analysis`: the layout search, its heatmap and the
    fewer-chips alternative, with the scaling curve still to run (`scaling_done` False, its
    points NaN; `run_scaling_curve` fills them in)."""
    free = _free_layout(inputs)
    steps = _analysis_steps(compare_chips, counts)
    search = search_layouts(free, should_stop=should_stop, top_k=5,
                            progress=None if progress is None else
                            lambda f, m: progress(f / steps, f"Layout search: {m}"))
    alt = fewer_chips_alternative(free, search.best.tokens_per_s_per_chip if search.best else 0.0, should_stop)
    fewer = (alt[0], alt[1].best.tokens_per_s_per_chip, layout_label(alt[1].best.layout)) \
        if alt and alt[1].best is not None else None
    grid = heatmap_grid(search)
    detail = heatmap_memory_details(search)
    halved = halved_searches(free, should_stop) if search.best is not None else ()
    return TrainingAnalysis(key=key, search=search, halved=halved, grid_tp=grid[0], grid_pp=grid[1], grid_best=grid[2],
                            grid_count=grid[3], grid_reason=grid[4], grid_detail=detail, scaling_counts=tuple(counts),
                            scaling_chips=tuple(c.id for c in compare_chips),
                            scaling_tokens_per_s_per_chip=np.full((len(compare_chips), len(counts)), np.nan),
                            fewer_chips=fewer, scaling_done=not (compare_chips and counts))


def run_scaling_curve(analysis: TrainingAnalysis, inputs: TrainingInputs, compare_chips: tuple, *,
                      progress=None, should_stop=None) -> TrainingAnalysis:
    """`analysis` (from run_layout_analysis of the same inputs) with its scaling curve: the best
    tokens/s per chip of each compared chip at each count. Returned as is when already done."""
    if analysis.scaling_done:
        return analysis
    free = _free_layout(inputs)
    counts = analysis.scaling_counts
    steps = _analysis_steps(compare_chips, counts)
    tokens = np.full((len(compare_chips), len(counts)), np.nan)
    done = 1
    for a, chip in enumerate(compare_chips):
        for b, n in enumerate(counts):
            if should_stop is not None and should_stop():
                raise Cancelled("scaling curve cancelled")
            try:
                r = search_layouts(replace(free, chip=chip, num_chips=int(n)), top_k=1, should_stop=should_stop)
                if r.best is not None:
                    tokens[a, b] = r.best.tokens_per_s_per_chip
            except UserError:
                pass  # e.g. no 16-bit peak in the catalog: a gap in the curve
            done += 1
            if progress is not None:
                progress(done / steps, f"Scaling curve: {chip_name(chip)} on {n:,} chips")
    return replace(analysis, scaling_chips=tuple(c.id for c in compare_chips),
                   scaling_tokens_per_s_per_chip=tokens, scaling_done=True)


# ---- serving -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServingStudy:
    model_id: str = "llama3-70b"
    chip_id: str = "h20-96gb"
    tp: int | None = None                 # None: the best under the targets
    ep: int | None = None
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    engine: str = ""                      # "" = the current engine of the chip's family
    input_len: int = 1024                 # tokens per request
    output_len: int = 256
    ttft_ms: float = 2000.0               # 0: no target
    tpot_ms: float = 50.0
    prefix_cache_pct: float = 0.0         # percent of prompt tokens served from the prefix cache
    demand_tokens_per_s: float = 1_000_000.0  # output tokens per second at peak
    compare_chips: tuple = DEFAULT_COMPARE_CHIPS
    # The deployment's own scheduler limits per replica (None: the engine family's documented
    # defaults, engine.serving.families): running sequences (vLLM --max-num-seqs, TensorRT-LLM
    # max_batch_size) and prompt/decode tokens per step (vLLM --max-num-batched-tokens,
    # TensorRT-LLM max_num_tokens, SGLang --chunked-prefill-size)
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    # Coefficient of variation of the prompt and output lengths in every simulated load (the
    # Under load charts, `serve --scenario`): 0 = every request input_len/output_len long. Chat
    # traffic is wide (ShareGPT-like sets run near 1; MLPerf's OpenOrca set about 0.9).
    length_spread: float = 0.5
    # Disaggregated prefill: prompts run on `prefill_instances` separate instances of `prefill_tp`
    # chips beside each replica and their KV crosses the scale-out network (0: prompts run on the
    # replica itself, aggregated). The simulated figures (under load) follow it.
    prefill_tp: int = 0
    prefill_instances: int = 1
    # The share of requests that must meet the TTFT and TPOT targets under load: "p90" (the
    # default), "p99" or "p50" (the median).
    slo_percentile: str = "p90"
    # The load the Under load tab's TTFT spread, KV use and note read at, and `serve --scenario`
    # runs without a load flag: "targets" (the SLO capacity the search finds; a study saved
    # before this field loads so), "rate" (Poisson arrivals of `load_value` requests/s per
    # replica), "concurrency" (a closed loop of `load_value` clients per replica) or "offline"
    # (every request at once; no value). A what-if: the chips for the demand stay the SLO capacity's.
    load_point: str = "targets"
    load_value: float = 1.0
    # The value each kind with one had when last shown ((kind, value) pairs; a dict in the saved
    # form): the form keeps one per kind, and a scenario saved with 8 clients chosen brought back
    # 1 request/s, not the 2.5 typed before, when the kind was switched back (QA s35)
    load_values: tuple = (("concurrency", 16.0), ("rate", 1.0))
    version: int = STUDY_VERSION

    def to_dict(self) -> dict:
        d = asdict(self)
        d["compare_chips"] = list(self.compare_chips)
        d["load_values"] = dict(self.load_values)
        return d

    @classmethod
    def from_dict(cls, data: Mapping | None) -> "ServingStudy":
        _check_version("serving", data)
        known = _known(cls, data)
        if "compare_chips" in known:
            known["compare_chips"] = tuple(known["compare_chips"] or ())
        for key in ("ttft_ms", "tpot_ms", "prefix_cache_pct", "demand_tokens_per_s", "length_spread", "load_value"):
            if key in known:
                try:
                    known[key] = float(known[key] or 0.0)
                except (TypeError, ValueError):
                    raise UserError(f"serving study {key}: {known[key]!r} (a number)") from None
        if "slo_percentile" in known:
            known["slo_percentile"] = str(known["slo_percentile"] or "p90").strip().lower()
        if "load_point" in known:
            known["load_point"] = str(known["load_point"] or "targets").strip().lower()
        if "load_values" in known:
            kept = dict(cls.load_values)
            given = known["load_values"] or {}
            if not isinstance(given, Mapping):
                raise UserError(f"serving study load_values: {given!r} (a value for each load kind)")
            for kind, value in given.items():
                if kind in kept:   # (another kind's is dropped: no field shows it)
                    try:
                        kept[kind] = float(value)
                        if not (math.isfinite(kept[kind]) and kept[kind] >= 0):
                            raise ValueError
                    except (TypeError, ValueError):
                        raise UserError(f"serving study load_values {kind}: {value!r} (a number >= 0)") from None
            known["load_values"] = tuple(sorted(kept.items()))
        for key in ("prefill_tp", "prefill_instances"):
            if key in known:
                try:
                    known[key] = int(known[key] or 0)
                except (TypeError, ValueError):
                    raise UserError(f"serving study {key}: {known[key]!r} (a whole number)") from None
        for key in ("max_num_seqs", "max_num_batched_tokens"):
            if key in known:   # blank or 0: the engine's default
                try:
                    known[key] = int(known[key]) if known[key] else None
                except (TypeError, ValueError):
                    raise UserError(f"serving study {key}: {known[key]!r} (a whole number, or blank for the "
                                    "engine's default)") from None
        return cls(**known)

    @property
    def demand_tokens_per_day(self) -> float:
        """The same demand in the Forecast's unit (average input + output tokens a day), were the
        peak the average."""
        return forecast_tokens_per_day(self.demand_tokens_per_s, self.input_len, self.output_len)

    def problems(self, chips: Mapping, models: Mapping) -> list[StudyProblem]:
        out: list[StudyProblem] = []
        model, chip = models.get(self.model_id), chips.get(self.chip_id)
        if model is None or chip is None:
            return missing_choice_problems(model is None, self.model_id, chip is None, self.chip_id, chips, models)
        name = chip_name(chip)
        if self.tp is not None and model.heads % int(self.tp):
            out.append(StudyProblem("tp", f"TP {self.tp} does not divide the {model.heads} attention heads."))
        # (8- and 4-bit dtypes the chip has no matrix rate for run weight-only; the result says so)
        if not chip.hbm_gb or not chip.hbm_gbps:
            out.append(StudyProblem("chip", f"{name} has no HBM size or bandwidth in the catalog: "
                                            "fill them in the Fleet view."))
        if not self.input_len >= 1 or not self.output_len >= 1:
            out.append(StudyProblem("input_len", "Input and output lengths must be at least 1 token."))
        else:
            # marked on the length past the context: an output of 20,000 marked "Input length" (QA s29)
            field, too_long = context_fields(model, self.input_len, self.output_len)
            if too_long:
                out.append(StudyProblem("output_len" if field == "output_tokens_per_request" else "input_len",
                                        too_long[0].upper() + too_long[1:] + "."))
        if not 0 <= self.prefix_cache_pct < 100:
            out.append(StudyProblem("prefix", f"Prefix-cache hits {self.prefix_cache_pct:g}%: use 0 to 99%."))
        if not (math.isfinite(self.demand_tokens_per_s) and self.demand_tokens_per_s >= 0):
            out.append(StudyProblem("demand", f"Peak demand {self.demand_tokens_per_s!r} tokens/s: use 0 or more."))
        if self.max_num_seqs is not None and not 1 <= self.max_num_seqs <= 10_000_000:
            out.append(StudyProblem("max_num_seqs", f"Max running sequences {self.max_num_seqs!r}: use 1 to "
                                                    "10,000,000, or blank for the engine's default."))
        if not (math.isfinite(self.length_spread) and 0 <= self.length_spread <= 10):
            out.append(StudyProblem("length_spread", f"Length spread {self.length_spread!r}: use a coefficient of "
                                                     "variation from 0 (fixed lengths) to 10."))
        if self.max_num_batched_tokens is not None and not 1 <= self.max_num_batched_tokens <= 10_000_000:
            out.append(StudyProblem("max_num_batched_tokens",
                                    f"Token budget per step {self.max_num_batched_tokens!r}: use 1 to 10,000,000, "
                                    "or blank for the engine's default."))
        from engine.serving.families import budget_problem, engine_chip_problem

        if too_small := budget_problem(self.engine, self.max_num_batched_tokens, self.input_len):
            out.append(StudyProblem("max_num_batched_tokens", f"Token budget per step {self.max_num_batched_tokens:,}: "
                                                              f"{too_small}."))
        if wrong := engine_chip_problem(self.engine, chip):   # serve refuses it: the view says it at the field
            out.append(StudyProblem("engine", wrong[0].upper() + wrong[1:] + "."))
        if self.slo_percentile not in SLO_PERCENTILES:
            out.append(StudyProblem("slo_percentile", f"Targets hold for {self.slo_percentile!r}: use one of "
                                                      f"{', '.join(SLO_PERCENTILES)}."))
        if self.prefill_tp:
            if not 1 <= self.prefill_tp <= 64 or model.heads % int(self.prefill_tp):
                out.append(StudyProblem("prefill_tp", f"Prefill TP {self.prefill_tp}: use a TP that divides the "
                                                      f"{model.heads} attention heads (up to 64), or 0 for none."))
            if not 1 <= self.prefill_instances <= 64:
                out.append(StudyProblem("prefill_instances", f"Prefill instances {self.prefill_instances!r}: use 1 "
                                                             "to 64 per replica."))
        return out + self.load_point_problems()

    def load_point_problems(self) -> list[StudyProblem]:
        """The load point's problems, one message naming the field (serve's own limits)."""
        kind, value = self.load_point, self.load_value
        if kind not in LOAD_POINTS:
            return [StudyProblem("load_point", f"Load point {kind!r}: use one of {', '.join(LOAD_POINTS)}.")]
        if kind == "rate" and not (math.isfinite(value) and value >= MIN_LOAD_RATE_PER_S):
            return [StudyProblem("load_value", f"Load point {value:g} requests/s per replica: use a rate above 0 "
                                               f"(at least {MIN_LOAD_RATE_PER_S:g}).")]
        if kind == "concurrency" and not (math.isfinite(value) and value == int(value)
                                          and 1 <= value <= MAX_LOAD_CLIENTS):
            return [StudyProblem("load_value", f"Load point {value:g} clients per replica: use a whole number of "
                                               f"clients, 1 to {MAX_LOAD_CLIENTS:,}.")]
        # clients with disaggregated prefill (which serve refuses) is no problem of the study: the
        # load point is a what-if, so only its run says why not (engine.studies_load.run_load_point);
        # here it greyed the whole view, the SLO answer and the chips for the demand with it (QA s31)
        return []


SLO_PERCENTILES = ("p50", "p90", "p99")   # what a Serving study's targets may hold for
LOAD_POINTS = ("targets", "rate", "concurrency", "offline")   # a Serving study's load point kinds
MIN_LOAD_RATE_PER_S = 1e-4    # serve's --request-rate floor (engine.commands.serve.MIN_REQUEST_RATE)
MAX_LOAD_CLIENTS = 100_000    # serve's --concurrency ceiling (MAX_CONCURRENCY)


def demand_per_day(tokens_per_s: float) -> float:
    return float(tokens_per_s) * SECONDS_PER_DAY


def forecast_tokens_per_day(peak_output_tokens_per_s: float, input_len: float, output_len: float,
                            peak_to_average: float = 1.0) -> float:
    """Peak output tokens/s (the Inference view's demand) in the Forecast's unit: average input +
    output tokens a day (engine.forecast.peak_output_tokens_per_s inverted). The view once called
    the output tokens a day at the peak rate "the Forecast's unit": 4.3x low at 1,155 in / 211 out
    and a peak 1.5x the average."""
    return (float(peak_output_tokens_per_s) / float(peak_to_average) * (float(input_len) + float(output_len))
            / float(output_len) * SECONDS_PER_DAY)


def chips_for_demand(capacity, demand_tokens_per_s: float) -> int | None:
    """Chips to serve `demand_tokens_per_s` output tokens at peak in whole replicas at the
    capacity's operating point; None when the targets can't be met; 0 for no demand."""
    if not capacity.feasible:
        return None
    if demand_tokens_per_s <= 0:
        return 0
    per_replica = capacity.output_tokens_per_s_per_chip * capacity.chips_per_replica
    if per_replica <= 0:
        return None
    return int(math.ceil(demand_tokens_per_s / per_replica - 1e-9) * capacity.chips_per_replica)


__all__ = [
    "TrainingAnalysis", "heatmap_grid", "scaling_counts", "run_training_analysis", "run_layout_analysis",
    "run_scaling_curve", "SCALING_FACTORS",
    "STUDY_VERSION", "StudyProblem", "LOAD_POINTS", "TrainingStudy", "ServingStudy", "training_key_figures", "training_top_layouts",
    "chips_for_demand", "demand_per_day", "forecast_tokens_per_day", "layout_label", "infeasible_detail", "chip_name",
    "reason_numbers", "zero_note", "no_fit_blocker", "FLAG_NAMES", "FORM_NAMES", "INSTALL_LAG_DAYS", "SOFTWARE_DEFAULTS",
    "SOFTWARE_KEYS", "batch_note", "fleet_note", "scaling_days",
]
