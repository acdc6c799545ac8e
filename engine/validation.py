"""Predicting published training runs (cases in the schema of ../shared/validation/README.md).

`read_cases_csv` never dies on a bad row; `validate_training_cases` predicts each case's metric
and reports it with its error, or with the reason it could not (status `infeasible`/`error`).
A case whose layout fields are blank gets the best layout the search finds consistent with the
fields that are given.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np

from engine.errors import UserError
from engine.hardware import Chip
from engine.layout import Infeasible, dtype_problem
from engine.models import ModelConfig, training_flops_per_token
from engine.training import (
    ATTENTION_KERNELS, CP_KINDS, RECOMPUTE_NAMES, SCHEDULES, LayoutResult, TrainingInputs, evaluate_layout, least_memory_layout, search_layouts,
    whole_run_goodput,
)
from engine.studies import (FLAG_NAMES, chip_count_rule, cp_sequence_rule, ep_experts_rule, infeasible_detail,
                            pp_layers_rule, tp_heads_rule, vpp_rule)
from engine.validate import case_column, cell_float

METRICS = ("tokens_per_s_per_chip", "step_time_s", "mfu_pct_model_flops")
LAYOUT_FIELDS = ("tp", "pp", "vpp", "dp", "cp", "ep", "zero_stage", "micro_batch", "recompute")
DEFAULT_NUM_CHIPS = 1024  # for whole-run rows that do not report the cluster size
# The longest training sequence the engine takes (engine.training._check_inputs, whose message
# names the `train` flag --seq-len): checked here first, so a case's error names its column.
MAX_SEQ_LEN_TOKENS = 10_000_000

# The columns a training cases file may have: those the reader reads, and the provenance ones it
# keeps for people (../shared/validation/README.md). A header outside these is named in a notice
# (`validate`, `calibrate`): a misspelt `num_chip` is otherwise never read, and the row predicted
# without it.
TRAINING_COLUMNS = frozenset((
    "id", "source", "locator", "model", "params_b", "layers", "hidden", "heads", "kv_heads", "ffn_hidden",
    "vocab", "seq_len", "moe_experts", "moe_shared_experts", "moe_topk", "moe_ffn_hidden", "moe_dense_layers",
    "chip", "num_chips", "chips_per_node", *LAYOUT_FIELDS, "global_batch_seqs", "dtype", "gated_ffn",
    "head_dim", "tied_embeddings", "attention", "kv_lora_rank", "q_lora_rank", "flash_attention",
    "sequence_parallel", "dropout", "grad_overlap", "tp_comm_overlap", "attention_kernel", "schedule", "cp_kind",
    "value_scope", "mfu_attention_flops", "metric", "value", "trust", "notes",
))
# The key under which `read_cases_csv` marks a row with fewer cells than the header: its columns
# from there on would read as blank ("not reported"), and its value as missing.
SHORT_ROW = "_short_row"
PROVENANCE_COLUMNS = frozenset(("source", "locator", "trust", "notes"))


class CaseRows(list):
    """The rows of a cases file (a list of dicts), with `numbers`: each row's number as a
    spreadsheet shows it (the header is row 1, a blank line is a row, a quoted cell over several
    lines keeps its row one row), the numbering of the imports (engine.csv_io.CsvReader)."""

    numbers: list[int]


def case_row_numbers(rows: Sequence[Mapping]) -> list[int]:
    """The file row of each of `rows` (`CaseRows.numbers`); rows built elsewhere count from 2."""
    numbers = getattr(rows, "numbers", None)
    return list(numbers) if numbers is not None and len(numbers) == len(rows) else list(range(2, len(rows) + 2))


def read_cases_csv(path) -> CaseRows:
    """Rows of a cases file as dicts (strings), with their row numbers (CaseRows). A file that
    cannot be read at all is one UserError."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        text = _decoded(path, data)
        records = csv.reader(io.StringIO(text, newline=""))
        header = next(records, None)
        rows = CaseRows()
        rows.numbers = []
        if header is None:
            return rows
        _refuse_other_separator(path, header)
        if any(_NOT_UTF8.search(name) for name in header):
            raise UserError(f"{path} header: not UTF-8 text (byte 0x{_first_bad_byte(''.join(header)):02x}); "
                            "save it as CSV UTF-8")
        columns = [case_column(name) for name in header]
        seen: dict[str, int] = {}
        for number, key in enumerate(columns, start=1):
            if key in seen:   # a dict keeps the last silently: tp 1 over the run's tp 8
                raise UserError(f"{path} header: column '{key}' appears twice (columns {seen[key]} and "
                                f"{number}); keep one")
            seen[key] = number
        i = 1   # the header's row
        for cells in records:
            i += 1
            if not cells:   # a blank line: no case, but a row of the file all the same
                continue
            given = min(len(cells), len(columns))
            row: dict[str, Any] = {key: cell.strip() for key, cell in zip(columns, cells)}
            if len(cells) > len(columns):   # cells past the header: under the blank column name
                row[""] = cells[len(columns):]
            for key in columns[given:]:
                row[key] = None
            # a tail of provenance only (notes, trust) is read as blank, as a writer that drops
            # empty trailing cells means it; any other missing cell would read as "not reported"
            if given < len(columns) and not set(columns[given:]) <= PROVENANCE_COLUMNS:
                row[SHORT_ROW] = (f"row {i} has {given} of {len(columns)} cells (short: from column "
                                  f"'{columns[given]}' on missing)")
            _mark_bytes_not_utf8(row)
            if not row.get("id"):
                row["id"] = f"row{i}"
            rows.append(row)
            rows.numbers.append(i)
        return rows
    except OSError as exc:
        raise UserError(f"{path}: cannot read cases file ({exc.strerror or exc})") from None
    except csv.Error as exc:
        raise UserError(f"{path}: cannot read cases file ({exc})") from None


# A byte that is not UTF-8 decodes (surrogateescape) to one of these: each stands for its byte
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def _first_bad_byte(text: str) -> int:
    found = _NOT_UTF8.search(text)
    return ord(found.group()) - 0xDC00 if found else 0


def _decoded(path, data: bytes) -> str:
    """The text of a cases file. A byte that is not UTF-8 is kept as a stand-in (surrogateescape)
    for its row to name: one row saved from another program is that row's error, never fatal to
    the others (CLI.md: a bad row is reported, never fatal to the others)."""
    body = data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    return body.decode("utf-8", errors="surrogateescape")


def _mark_bytes_not_utf8(row: dict) -> None:
    """A row with bytes that are not UTF-8: an error naming the first such column and byte, unless
    they are all in provenance columns (notes, source, locator, trust), which no prediction reads:
    those are predicted as if the byte were blank. Every stand-in becomes U+FFFD, so nothing
    printed or written later carries an undecodable character."""
    bad = [key for key, value in row.items() if isinstance(value, str) and _NOT_UTF8.search(value)]
    if not bad:
        return
    data_columns = [key for key in bad if key not in PROVENANCE_COLUMNS]
    if data_columns and not row.get(SHORT_ROW):
        key = data_columns[0]
        row[SHORT_ROW] = (f"{key}: not UTF-8 text (byte 0x{_first_bad_byte(row[key]):02x}); "
                          "save the file as CSV UTF-8")
    for key in bad:
        row[key] = _NOT_UTF8.sub("\ufffd", row[key])
    if isinstance(row.get(""), list):   # cells past the header
        row[""] = [_NOT_UTF8.sub("\ufffd", cell) for cell in row[""]]


def _refuse_other_separator(path, header: Sequence[str]) -> None:
    """UserError for a header of one column that splits on ';' (or a tab) into known ones: Excel
    in many locales saves ';'-separated "CSV", which read as missing layers, hidden, heads, ...
    (as `chips import` tells it)."""
    if len(header) != 1:
        return
    for separator, name in ((";", "semicolons"), ("\t", "tabs")):
        cells = [case_column(cell) for cell in header[0].split(separator)]
        if sum(cell in TRAINING_COLUMNS for cell in cells) >= 2:   # inference files share id, chip, metric, value
            raise UserError(f"{path} header: the columns are separated by {name}; save the file as "
                            "comma-separated CSV (UTF-8)")


# ---- row parsing ----------------------------------------------------------------------------

def _num(row: Mapping, name: str, kind=float):
    value = row.get(name)
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        x = cell_float(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{name}: {value!r} is not finite")
    if kind is int and x != round(x):
        raise ValueError(f"{name}: {value!r} is not a whole number")
    return int(round(x)) if kind is int else x


def _count(row: Mapping, name: str, *, zero_ok: bool = False) -> int | None:
    """A whole-number column; blank = not reported = None. A count no run can have (0 kv heads,
    a vocab of 0, -8 chips per node) is an error naming it, never read as "not reported"."""
    value = _num(row, name, int)
    if value is not None and value < (0 if zero_ok else 1):
        raise ValueError(f"{name}: {row.get(name)!r} (must be {'>= 0' if zero_ok else '> 0'})")
    return value


def _flag(row: Mapping, name: str, default: bool) -> bool:
    """A yes/no column; blank = not reported = `default` (today's common practice)."""
    value = (row.get(name) or "").strip().lower()
    if value == "":
        return default
    if value in ("yes", "y", "true", "1"):
        return True
    if value in ("no", "n", "false", "0"):
        return False
    raise ValueError(f"{name}: {row.get(name)!r} (yes, no or blank)")


def model_from_case(row: Mapping) -> ModelConfig:
    """The architecture from the row's columns (never from `notes`)."""
    # not an input (the architecture columns give the parameters), but a stated column is read: "abc"
    # or -5 passed silently where the inference reader refuses them (QA s39)
    params_b = _num(row, "params_b")
    if params_b is not None and params_b <= 0:
        raise ValueError(f"params_b: {row.get('params_b')!r} (billions of parameters, must be > 0, or blank)")
    layers = _num(row, "layers", int)
    hidden = _num(row, "hidden", int)
    heads = _num(row, "heads", int)
    missing = [f"{n}: {row.get(n)!r}" for n, v in (("layers", layers), ("hidden", hidden), ("heads", heads))
               if not (v and v > 0)]
    if missing:
        raise ValueError(f"{'; '.join(missing)} (layers, hidden and heads must be whole numbers above 0)")
    # `or DEFAULT` below only ever replaces a blank (None): _count refuses an explicit 0 or less
    kv_heads = _count(row, "kv_heads") or heads
    ffn = _count(row, "ffn_hidden", zero_ok=True) or 0   # 0 as blank: the model's own (an all-MoE model)
    experts = _count(row, "moe_experts", zero_ok=True) or 0   # 0 routed experts: dense, as blank
    # blank gated_ffn: a width of exactly 4h is the plain GPT block, anything else gated
    gated = _flag(row, "gated_ffn", not (ffn and ffn == 4 * hidden))
    head_dim = _count(row, "head_dim", zero_ok=True) or 0   # 0 as blank: hidden / heads
    if head_dim * heads == hidden:
        head_dim = 0
    attention = (row.get("attention") or "").strip().lower()
    if attention not in ("", "mha", "gqa", "mqa", "mla"):
        raise ValueError(f"attention: {row.get('attention')!r} (mha, gqa, mqa or mla)")
    kw: dict[str, Any] = {}
    kv_lora_rank = _count(row, "kv_lora_rank", zero_ok=attention != "mla")   # 0 outside MLA: none
    if attention == "mla" or kv_lora_rank:
        kw = dict(kv_lora_rank=kv_lora_rank or 512,
                  q_lora_rank=_count(row, "q_lora_rank", zero_ok=True) or 0,   # 0: queries not compressed
                  qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128)
    return ModelConfig(
        id=row.get("id") or "case", name=row.get("model") or "case", layers=layers, hidden=hidden,
        heads=heads, kv_heads=kv_heads, ffn_hidden=ffn, vocab=_count(row, "vocab") or 32000,
        seq_len=_count(row, "seq_len") or 2048, head_dim=head_dim, gated_ffn=gated,
        tied_embeddings=_flag(row, "tied_embeddings", False),
        moe_experts=experts, moe_shared_experts=_count(row, "moe_shared_experts", zero_ok=True) or 0,
        # a dense row may write 0 in the expert columns it does not use
        moe_topk=_count(row, "moe_topk", zero_ok=not experts) or (1 if experts else 0),
        moe_ffn_hidden=_count(row, "moe_ffn_hidden", zero_ok=not experts) or 0,
        moe_dense_layers=_count(row, "moe_dense_layers", zero_ok=True) or 0, **kw,
    )


def inputs_from_case(row: Mapping, chips: Mapping[str, Chip]) -> TrainingInputs:
    """Training inputs from the row's columns only; blank layout fields stay None (searched)."""
    model = model_from_case(row)
    problems = model.validate()
    if problems:
        raise ValueError("; ".join(_case_words(problem, model) for problem in problems))
    if model.seq_len > MAX_SEQ_LEN_TOKENS:
        raise ValueError(f"seq_len: {model.seq_len} (must be 1 to {MAX_SEQ_LEN_TOKENS:,} tokens for training)")
    chip_id = (row.get("chip") or "").strip()
    if chip_id not in chips and chip_id.lower() in chips:     # catalog ids are lower case
        chip_id = chip_id.lower()
    if chip_id not in chips:
        raise ValueError(f"chip: {chip_id!r} not in the catalog")
    chip = chips[chip_id]
    layout = {name: _num(row, name, int) for name in LAYOUT_FIELDS if name != "recompute"}
    for name, value in layout.items():   # a given field is what ran: it must be one that can run
        if value is not None and not (0 <= value <= 3 if name == "zero_stage" else value >= 1):
            raise ValueError(f"{name}: {value} ({'0 to 3' if name == 'zero_stage' else 'at least 1'})")
    recompute = (row.get("recompute") or "").strip().lower() or None
    if recompute is not None and recompute not in RECOMPUTE_NAMES:
        raise ValueError(f"recompute: {recompute!r} (none, selective or full, or blank to search)")
    n = _num(row, "num_chips", int)
    gb = _num(row, "global_batch_seqs", int)
    for name, value in (("num_chips", n), ("global_batch_seqs", gb)):
        if value is not None and value < 1:
            raise ValueError(f"{name}: {value} (at least 1; leave it blank when not reported)")
    tp, pp, cp = layout["tp"], layout["pp"], layout["cp"]
    if not n and tp and pp and layout["dp"]:
        # the cluster is the layout the case gives (num_chips = tp x pp x dp x cp; blank cp = 1)
        n = tp * pp * layout["dp"] * (cp or 1)
    if not n:
        n = DEFAULT_NUM_CHIPS
        if gb:
            n = min(n, 2 ** int(math.log2(gb)))
    if layout["dp"] is None and tp and pp and cp and n % (tp * pp * cp) == 0:
        layout["dp"] = n // (tp * pp * cp)
    # a stated dp stays what the row says: one that does not fit the chips is the row's error
    # (stated_layout_problem), never replaced by the quotient (8 x 1 x 3 ran as "8 x 1 x 1")
    dtype = (row.get("dtype") or "").strip().lower() or "bf16"
    if dtype == "fp16":
        dtype = "bf16"
    cpn = _count(row, "chips_per_node")
    domain = chip.scaleup_domain
    if cpn and domain and cpn < domain:
        domain = cpn
    # optional software columns (not in the public files; blank = the engine's default, as the
    # `train` flags): the attention kernel, the pipeline schedule, the context-parallel form
    kernel = _choice(row, "attention_kernel", ATTENTION_KERNELS)
    schedule = _choice(row, "schedule", SCHEDULES)
    cp_kind = _choice(row, "cp_kind", CP_KINDS)
    return TrainingInputs(
        model=model, chip=chip, num_chips=n, seq_len=model.seq_len, global_batch_seqs=gb,
        dtype=dtype, tp=tp, pp=pp, vpp=layout["vpp"], dp=layout["dp"], cp=cp, ep=layout["ep"],
        zero_stage=layout["zero_stage"], micro_batch=layout["micro_batch"], recompute=recompute,
        scaleup_domain=domain,
        flash_attention=_flag(row, "flash_attention", True),
        sequence_parallel=_flag(row, "sequence_parallel", True),
        dropout=_flag(row, "dropout", False),
        grad_overlap=_flag(row, "grad_overlap", True),
        tp_comm_overlap=_flag(row, "tp_comm_overlap", False),
        attention_kernel=kernel, schedule=schedule, cp_kind=cp_kind,
    )


def _case_words(problem: str, model: ModelConfig) -> str:
    """A model problem as a cases row needs it said: the model's kv_heads check names kv_heads
    alone ("kv_heads: 56 (must divide heads = 7)"), where in a row either column may be the typo
    (a heads of 7 beside the model's 56 kv heads)."""
    if problem == f"kv_heads: {model.kv_heads} (must divide heads = {model.heads})":
        return (f"heads {model.heads} / kv_heads {model.kv_heads}: kv_heads must divide heads (each key/value "
                "head serves a whole group of query heads)")
    return problem


def _choice(row: Mapping, name: str, allowed: tuple[str, ...]) -> str:
    """An optional text column; blank or absent = not reported = the engine's default (the first
    of `allowed`, TrainingInputs' own default)."""
    value = (row.get(name) or "").strip().lower()
    if value and value not in allowed:
        raise ValueError(f"{name}: {row.get(name)!r} ({', '.join(allowed)} or blank)")
    return value or allowed[0]


def _whole_run(row: Mapping) -> bool:
    scope = (row.get("value_scope") or "").strip().lower()
    if scope not in ("", "step", "whole_run"):
        raise ValueError(f"value_scope: {row.get('value_scope')!r} (step, whole_run or blank)")
    return scope == "whole_run"


# A layout rule in a cases file's own column names ("pp 64 exceeds Llama 3 8B's 32 layers"); the
# rules and their words are the engine's (engine.studies), the ones `train` refuses its flags with.
CASE_NAMES = {key: key.replace("_", " ") for key in FLAG_NAMES}


def stated_layout_problem(inp: TrainingInputs) -> str:
    """Why the layout fields a case states cannot have run together ("" when they can), each rule
    with its numbers, in the engine's words: tp x pp x dp x cp against the chips (all four given),
    tp against the heads, pp against the layers, vpp against pp, cp against the sequence, ep
    against the experts. These hold whatever the blank fields become; a whole stated layout also
    meets the batch and schedule rules when it is evaluated (`validate_case`). Such a row is a
    typo, not a run: predicting it anyway (pp 64 over 32 layers: -97%) put it into a fit."""
    model = inp.model
    given = {k: getattr(inp, k) for k in ("tp", "pp", "dp", "cp")}
    problems = [
        chip_count_rule(given, inp.num_chips) if None not in given.values() else "",
        tp_heads_rule(model, inp.tp, CASE_NAMES) if inp.tp else "",
        pp_layers_rule(model, inp.pp, CASE_NAMES) if inp.pp else "",
        # (over the layers, pp's own rule says it; vpp's would read "allows vpp 1")
        vpp_rule(model, inp.pp, inp.vpp, CASE_NAMES) if inp.vpp and inp.pp and inp.pp <= model.layers else "",
        cp_sequence_rule(inp.seq, inp.cp, CASE_NAMES) if inp.cp else "",
        ep_experts_rule(model, inp.ep, CASE_NAMES) if inp.ep else "",
    ]
    return "; ".join(p for p in problems if p)


def _fully_given(inp: TrainingInputs) -> bool:
    keys = ("tp", "pp", "vpp", "dp", "cp", "micro_batch", "zero_stage", "recompute") + (("ep",) if inp.model.is_moe else ())
    return all(getattr(inp, k) is not None for k in keys) and inp.global_batch_seqs is not None


def resolve_layout(inp: TrainingInputs) -> tuple[TrainingInputs, str]:
    """A complete layout for a case: the given one, or the best the search finds that agrees
    with the given fields (a blank field, vpp included, is "not reported"). A run that really
    ran but fits no layout in the memory model is reported infeasible, never forced."""
    problem = dtype_problem(inp.dtype, inp.chip)
    if problem:  # it rules out every layout, a published one too: the reason, not one count among the search's
        raise LookupError(f"dtype {inp.dtype}: {problem}")
    if _fully_given(inp):
        return replace(inp, ep=inp.ep or 1), "layout as published"
    result = search_layouts(inp, top_k=1)
    least = least_memory_layout(inp, result) if result.best is None else None
    if least is not None and least.memory_gib_per_chip > MEMORY_MISS_MAX * least.memory_capacity_gib:
        least = None   # not a miss of the memory model: the given fields describe no run that fits
    if least is not None:
        # every layout the given fields allow fails on memory alone, and the run ran: predicted on
        # the one needing least memory, flagged, as a fully given layout that does not fit is (QA
        # s32: blanking a tp the chip count fixed anyway turned MODELLINK-NPU-39 from predicted,
        # 66.5 of 64 GiB, into a lost row)
        lay = least.layout
        filled = replace(inp, tp=lay["tp"], pp=lay["pp"], vpp=lay["vpp"], dp=lay["dp"], cp=lay["cp"],
                         ep=lay["ep"], zero_stage=lay["zero_stage"], micro_batch=lay["micro_batch"],
                         recompute=lay["recompute"], global_batch_seqs=lay["global_batch_seqs"])
        return filled, ("layout searched, none fits the memory model: the one needing least memory ("
                        + ", ".join(f"{k}={v}" for k, v in lay.items() if k != "global_batch_seqs") + ")")
    if result.best is None:
        # "tp does not divide heads (3 layouts)": a bare "heads 3" read as a head count of 3
        reasons = ", ".join(f"{k} ({v} layout{'' if v == 1 else 's'})" for k, v in result.infeasible_by_reason.items())
        if not reasons:
            given = ", ".join(f"{k}={getattr(inp, k)}" for k in ("tp", "pp", "dp", "cp", "ep")
                              if getattr(inp, k) is not None)
            reasons = f"no layout of {inp.num_chips} chips has {given or 'these fields'}"
        raise LookupError("no layout consistent with the given fields fits: " + reasons)
    lay = result.best.layout
    filled = replace(inp, tp=lay["tp"], pp=lay["pp"], vpp=lay["vpp"], dp=lay["dp"], cp=lay["cp"],
                     ep=lay["ep"], zero_stage=lay["zero_stage"], micro_batch=lay["micro_batch"],
                     recompute=lay["recompute"], global_batch_seqs=lay["global_batch_seqs"])
    return filled, "layout searched (" + ", ".join(f"{k}={v}" for k, v in lay.items() if k != "global_batch_seqs") + ")"


def _metric_name(row: Mapping) -> str:
    """The row's metric; names are lower case, whatever case a file writes them in."""
    return str(row.get("metric") or "").strip().lower()


def _metric_value(row: Mapping, inp: TrainingInputs, tokens_per_s_per_chip, step_time_s):
    """The row's own metric from the model's throughput and step time (scalars or arrays)."""
    metric = _metric_name(row)
    if metric == "tokens_per_s_per_chip":
        value = tokens_per_s_per_chip
        if _whole_run(row):
            value = value * whole_run_goodput(inp)
    elif metric == "step_time_s":
        value = step_time_s
    elif metric == "mfu_pct_model_flops":
        # the source's FLOP convention (column mfu_attention_flops; blank = causal_half, today's)
        convention = (row.get("mfu_attention_flops") or "").strip().lower() or "causal_half"
        if convention not in ("causal_half", "full"):
            raise ValueError(f"mfu_attention_flops: {row.get('mfu_attention_flops')!r} (causal_half, full or blank)")
        causal_half = convention == "causal_half"
        flops = training_flops_per_token(inp.model, inp.seq, causal_half=causal_half)
        peak_tflops = inp.chip.peak_tflops("bf16")
        if not peak_tflops:
            raise ValueError(f"chip {inp.chip.id}: no BF16 peak to compute MFU against")
        value = tokens_per_s_per_chip * flops / (peak_tflops * 1e12) * 100.0
    else:
        raise ValueError(f"metric: {metric!r} (expected one of {', '.join(METRICS)})")
    return value


def predict_metric(row: Mapping, inp: TrainingInputs) -> tuple[float, LayoutResult]:
    """The prediction of the row's own metric for complete inputs."""
    res = evaluate_layout(inp)
    return _metric_value(row, inp, res.tokens_per_s_per_chip, res.step_time_s), res


def predict_metric_sets(row: Mapping, inp: TrainingInputs, factor_sets: Mapping[str, np.ndarray]) -> np.ndarray:
    """The row's metric for complete inputs under k factor sets at once (one vectorised call;
    what the calibration fit evaluates for its Jacobian)."""
    from engine.training import evaluate_factor_sets

    out = evaluate_factor_sets(inp, factor_sets)
    return np.asarray(_metric_value(row, inp, out["tokens_per_s_per_chip"], out["step_time_s"]), dtype=float)


def validate_training_cases(rows: list[dict], chips: Mapping[str, Chip], models_hint=None,
                            *, factors: Mapping[str, float] | None = None,
                            progress=None, should_stop=None) -> dict:
    """Predict every case; never raises for a bad row. Returns {"cases": [...], "summary": {...}}."""
    from engine.errors import Cancelled

    cases = []
    for i, row in enumerate(rows):
        if should_stop is not None and should_stop():
            raise Cancelled("validation cancelled")
        if progress is not None:
            progress(i / max(len(rows), 1), f"case {row.get('id')}")
        cases.append(validate_case(row, chips, factors=factors))
    return {"cases": cases, "summary": summarize(cases, chips)}


def validate_case(row: Mapping, chips: Mapping[str, Chip], *, factors=None, fixed_inputs=None) -> dict:
    metric = _metric_name(row)
    case: dict[str, Any] = {"id": row.get("id"), "source": row.get("source", ""), "chip": row.get("chip", ""),
            "metric": metric, "trust": row.get("trust", ""), "measured": None,
            "predicted": None, "error_pct": None, "status": "error", "message": ""}
    try:
        if row.get(SHORT_ROW):   # its blank tail is a cut row, not "not reported"
            raise ValueError(row[SHORT_ROW])
        measured = _num(row, "value")
        case["measured"] = measured
        if measured is None or measured <= 0:
            raise ValueError(f"value: {row.get('value')!r} (must be a positive number)")
        if metric not in METRICS:
            raise ValueError(f"metric: {row.get('metric')!r} (expected one of {', '.join(METRICS)})")
        if fixed_inputs is not None:
            inp, note = fixed_inputs, "layout fixed"
        else:
            inp = inputs_from_case(row, chips)
            problem = stated_layout_problem(inp)
            if problem:
                raise ValueError(problem)
            if factors:
                inp = replace(inp, factors={**dict(factors), **dict(inp.factors)})
            try:
                inp, note = resolve_layout(inp)
            except LookupError as exc:
                case["status"] = "infeasible"
                case["message"] = str(exc)
                return case
        _check_possible(row, inp, measured)
        predicted, res = predict_metric(row, inp)
        if not res.feasible and res.reason != Infeasible.OUT_OF_MEMORY.text:
            # a published layout that breaks another of `train`'s rules (a batch its micro-batches
            # do not divide, a schedule it cannot run) did not run as written: an error, not fitted.
            # Out of memory alone is the memory model's miss on a run that ran: predicted below.
            raise ValueError(infeasible_detail(res, inp, CASE_NAMES))
        case.update(predicted=predicted, error_pct=(predicted - measured) / measured * 100.0, status="ok",
                    layout=res.layout, mfu_pct=res.mfu_pct, step_time_s=res.step_time_s,
                    memory_gib_per_chip=res.memory_gib_per_chip)
        msgs = [note]
        if not res.feasible:
            msgs.append(f"model says {res.reason} ({res.memory_gib_per_chip:.1f} of "
                        f"{res.memory_capacity_gib:.0f} GiB) but the run ran: predicted anyway")
        case["message"] = "; ".join(msgs)
        case["_inputs"] = inp
    except (ValueError, UserError, ZeroDivisionError, KeyError, TypeError) as exc:
        case["status"] = "error"
        case["message"] = str(exc)
    return case


# How far over a chip's memory the memory model may put a run that ran before the given fields are
# taken to describe no run at all (a searched layout only; a fully given one is predicted anyway).
# The public runs it rejects need 1.04x (MODELLINK-NPU-39, 66.5 of 64 GiB) and 1.08x (torchtitan at
# a 256K vocabulary, 86.2 of 80 GiB): misses of a few percent to tens of percent (allocator, what a
# framework frees early). A 110B model on one 64 GiB chip (2,219 GiB, 35x) is not one (QA s32).
MEMORY_MISS_MAX = 1.5

# The least share of a chip's dense BF16 peak a measured run is taken to reach in model FLOPs.
# The public cases' lowest is 8.7% (VTRAIN-GT-026: a 1,024-GPU GPT at small batch), most run at
# 20-60%; a value implying under 0.1% is some 90x below the slowest published run: a typo or a
# unit slip (1e-300 tokens/s was "predicted" with an error of 6.8e304%), not a measurement.
MIN_PEAK_FRACTION = 0.001


def _check_possible(row: Mapping, inp: TrainingInputs, measured: float) -> None:
    """ValueError for a measurement no chip could make: more model FLOPs per second per chip (the
    causal-half count, the smallest) than the chip's highest dense peak, or fewer than
    MIN_PEAK_FRACTION of its BF16 peak. A typo (1e300 or 1e-300 tokens/s, a step time in ms under
    step_time_s) must not be fitted as a run (QA: `calibrate` fitted one)."""
    metric = _metric_name(row)
    peak = max(inp.chip.peak_tflops("fp8") or 0.0, inp.chip.peak_tflops("bf16") or 0.0)
    if not peak:
        return
    flops = training_flops_per_token(inp.model, inp.seq, causal_half=True)
    if metric == "tokens_per_s_per_chip":
        tflops = measured * flops / 1e12
    elif metric == "step_time_s" and inp.global_batch_seqs and inp.num_chips:
        tflops = inp.global_batch_seqs * inp.seq * flops / measured / inp.num_chips / 1e12
    elif metric == "mfu_pct_model_flops":
        tflops = measured / 100.0 * (inp.chip.peak_tflops("bf16") or peak)
    else:
        return
    if not tflops <= peak:
        shown = f"{tflops:,.0f}" if math.isfinite(tflops) else "unboundedly many"
        raise ValueError(f"value: {row.get('value')!r} {metric} implies {shown} TFLOP/s of model FLOPs "
                         f"per chip, above the {peak:,.0f} TFLOP/s peak of {inp.chip.id}: not a possible "
                         "measurement (check the value and its unit)")
    floor_peak = inp.chip.peak_tflops("bf16") or peak
    if tflops < MIN_PEAK_FRACTION * floor_peak:
        raise ValueError(f"value: {row.get('value')!r} {metric} implies {tflops:.3g} TFLOP/s of model FLOPs "
                         f"per chip, below {MIN_PEAK_FRACTION:.1%} of the {floor_peak:,.0f} TFLOP/s BF16 peak of "
                         f"{inp.chip.id}: not a plausible measurement (check the value and its unit)")


def _stats(errors: list[float]) -> dict:
    if not errors:
        return {"n": 0, "median_abs_error_pct": None, "p90_abs_error_pct": None, "mean_signed_error_pct": None}
    a = np.abs(np.array(errors))
    return {"n": len(errors), "median_abs_error_pct": float(np.median(a)),
            "p90_abs_error_pct": float(np.percentile(a, 90)),
            "mean_signed_error_pct": float(np.mean(errors))}


def summarize(cases: list[dict], chips: Mapping[str, Chip] | None = None) -> dict:
    """Error statistics of `cases`, overall and by group; a case's family is its chip's (by its
    calibrate_as) where `chips` has the chip, else its bare id's."""
    ok = [c for c in cases if c["status"] == "ok"]
    by_status: dict[str, int] = {}
    for c in cases:
        by_status[c["status"]] = by_status.get(c["status"], 0) + 1
    summary: dict[str, Any] = {"cases": len(cases), "by_status": by_status}
    summary["overall"] = _stats([c["error_pct"] for c in ok])
    for key, name in (("source", "by_source"), ("chip", "by_chip"), ("metric", "by_metric"), ("trust", "by_trust")):
        groups: dict[str, list[float]] = {}
        for c in ok:
            # the whole name: two sources alike in their first 60 characters are two groups
            groups.setdefault(str(c.get(key) or ""), []).append(c["error_pct"])
        summary[name] = {k: _stats(v) for k, v in sorted(groups.items())}
    from engine.calibration import case_family

    families: dict[str, list[float]] = {}
    for c in ok:
        families.setdefault(case_family(c.get("chip"), chips or {}), []).append(c["error_pct"])
    summary["by_family"] = {k: _stats(v) for k, v in sorted(families.items())}
    worst = sorted(ok, key=lambda c: -abs(c["error_pct"]))[:10]
    summary["worst"] = [{"id": c["id"], "error_pct": c["error_pct"]} for c in worst]
    return summary


def public_cases(cases: list[dict]) -> list[dict]:
    """Cases without private keys (for JSON output)."""
    return [{k: v for k, v in c.items() if not k.startswith("_")} for c in cases]


def validate_training_holdout(rows: list[dict], chips: Mapping[str, Chip], *, key: str = "source",
                              progress=None, should_stop=None) -> dict:
    """Leave-one-group-out validation: for every value of `key` (a source), refit the per-family
    factors on the other groups' rows only (starting from the code's documented defaults, not from
    factors fitted on everything), then predict the left-out rows. `summary.overall` is out of
    sample; `summary.in_sample` is the ordinary run beside it. A family whose fold is too thin to
    fit predicts at the documented defaults, said in `summary.notes` (one line per such fold):
    never at the chips' current factors, which may be a fit to the very rows held out (the
    packaged fit to the public cases, or a `calibrate --save` to the user's own)."""
    from engine.calibration import FAMILY_FIT_FACTORS, case_family, fit_families, prior_chips, resolve_cases
    from engine.errors import Cancelled

    # layouts the sources leave blank are searched once, at the documented default factors (no
    # fitted value), and held in every fold
    unfitted = prior_chips(chips)
    resolved = resolve_cases(rows, unfitted)
    groups = sorted({(row.get(key) or "").strip() for row in rows})
    # `calibrate` refuses a fit to fewer runs than the factors it fits (one run "fitted" 4 factors
    # and predicted BLOOM 95% high from a single DeepSeek-V2 H800 run)
    min_runs = len(FAMILY_FIT_FACTORS)
    predicted: dict = {}
    notes: list[str] = []
    for gi, group in enumerate(groups):
        if should_stop is not None and should_stop():
            raise Cancelled("validation cancelled")
        if progress is not None:
            progress(gi / max(len(groups), 1), f"leaving out {group[:40]}")
        train = [item for item in resolved if (item[0].get(key) or "").strip() != group]
        test = [r for r in rows if (r.get(key) or "").strip() == group]
        runs_by_family: dict[str, int] = {}
        for item in train:
            family = case_family(item[0].get("chip", ""), chips)
            runs_by_family[family] = runs_by_family.get(family, 0) + 1
        test_families = {case_family(r.get("chip", ""), chips) for r in test}
        own_fit = {fam for fam in test_families if runs_by_family.get(fam, 0) >= min_runs}
        # a family with no run left starts from one fit over every other family's runs (what a
        # chip with no measured runs gets), when there are enough of them
        all_run_fit = {fam for fam in test_families if fam not in runs_by_family and len(train) >= min_runs}
        kept = test_families - own_fit - all_run_fit
        # only the families of the left-out rows are refitted: the others predict nothing here
        fitted = fit_families([], chips, resolved=train, need_global=bool(all_run_fit), families=own_fit)
        for row in test:
            family = case_family(row.get("chip", ""), chips)
            if family in kept:
                case = validate_case(row, unfitted)
                if case["status"] == "ok":
                    # first: a table cuts a long message at its end
                    case["message"] = KEPT_MESSAGE + case["message"]
            else:
                # the chips the fit started from (its values replace the fitted factors)
                case = validate_case(row, unfitted, factors=fitted.get(family, fitted[None]))
            predicted[id(row)] = case
        note = _fold_note(group, [(fam, runs_by_family.get(fam, 0), len(train)) for fam in sorted(test_families)
                                  if any(predicted[id(r)]["status"] == "ok" and case_family(r.get("chip", ""), chips) == fam
                                         for r in test)],
                          kept, min_runs)
        if note:
            notes.append(note)
    cases = [predicted[id(row)] for row in rows]
    summary = summarize(cases, chips)
    summary["holdout"] = key
    summary["groups"] = len(groups)
    summary["fitted_factors"] = list(FAMILY_FIT_FACTORS)
    summary["notes"] = notes
    in_sample = summarize([validate_case(row, chips) for row in rows], chips)
    summary["in_sample"] = in_sample["overall"]
    summary["in_sample_by_family"] = in_sample["by_family"]
    return {"cases": cases, "summary": summary}


# What a fold too thin to refit predicts with, said first in each such row's message.
KEPT_MESSAGE = "default factors, none fitted (too few runs left to refit); "


def _fold_note(group: str, families: list[tuple[str, int, int]], kept: set, min_runs: int) -> str | None:
    """One line for a fold that did not fit every family of its predicted rows on their own runs
    (families: (family, its runs left, runs left in all)), or None."""
    parts = []
    for family, runs, train_runs in families:
        if family in kept and runs:
            parts.append(f"{runs} {family} run{'' if runs == 1 else 's'} left for {min_runs} factors; "
                         "predicted at the documented default factors")
        elif family in kept:
            parts.append(f"{train_runs} run{'' if train_runs == 1 else 's'} left for {min_runs} factors, none "
                         f"of them {family}; predicted at the documented default factors")
        elif not runs:
            parts.append(f"no {family} run left; fitted to the other families' {train_runs} runs")
    if not parts:
        return None
    shown = group if len(group) <= 40 else group[:39] + "…"
    return f"fold '{shown}': " + "; ".join(parts)
