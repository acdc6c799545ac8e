"""One schema for a training layout: each parallel dimension's flag, label, unit and range, the
checks a layout must pass (in a planner's words), and why an option is infeasible, as an enum.

The search (engine.training), `fleetcast train` (its flags and range checks) and the Training
view (its spin boxes, captions and field errors) all read DIMENSIONS, so adding a dimension is
one entry here instead of a dozen hand-kept lists.

    for d in DIMENSIONS: parser.add_argument(d.flag, type=int, dest=d.key, help=d.help)
    problems = layout_problems({"tp": 3, "pp": 4}, num_chips=1024, model=model)
    # [LayoutProblem(key='tp', message='TP × PP × CP = 12 does not divide 1,024 chips.'), ...]
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


@dataclass(frozen=True)
class Dimension:
    key: str       # TrainingInputs field and saved-state key
    flag: str      # `fleetcast train` option
    label: str     # caption in the Training view
    unit: str      # suffix in the view and unit in tables ("ways", "stages")
    low: int
    high: int
    help: str

    def check(self, value) -> str:
        """'' when `value` is within range, else one line naming the flag, value and range."""
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
            return f"{self.flag}: {value!r} (must be a whole number from {self.low:,} to {self.high:,} {self.unit})"
        return ""


# Ranges cover every published run in ../shared/validation (VPP 24, micro-batch 128).
DIMENSIONS = (
    Dimension("tp", "--tp", "Tensor parallel TP", "ways", 1, 64, "Tensor-parallel degree (splits every layer)"),
    Dimension("pp", "--pp", "Pipeline parallel PP", "stages", 1, 256, "Pipeline stages (layers split across chips)"),
    Dimension("cp", "--cp", "Context parallel CP", "ways", 1, 64, "Splits each sequence across chips"),
    Dimension("ep", "--ep", "Expert parallel EP", "ways", 1, 1024, "Experts split across chips (MoE only)"),
    Dimension("vpp", "--vpp", "Virtual stages VPP", "chunks", 1, 64, "Interleaved pipeline chunks per stage"),
    Dimension("micro_batch", "--micro-batch", "Micro-batch", "sequences", 1, 1024, "Sequences per micro-batch"),
    Dimension("dp", "--dp", "Data parallel DP", "ways", 1, 10_000_000, "Data-parallel replicas (chips / (TP × PP × CP))"),
)
DIMENSION = {d.key: d for d in DIMENSIONS}


class Infeasible(IntEnum):
    """Why a layout cannot run; the values are the search's reason codes (engine.training)."""

    OK = 0
    OUT_OF_MEMORY = 1
    TP_HEADS = 2
    CHIP_COUNT = 3
    BATCH = 4
    PP_LAYERS = 5
    VPP = 6
    CP_SEQUENCE = 7
    EP = 8
    FP8 = 9
    SCHEDULE = 10
    EXPERT_TP = 11
    INTERLEAVE = 12   # interleaved 1F1B: micro-batches per rank not a multiple of pp
    NO_LAYOUT = 100  # a heatmap cell with no candidate at all: TP × PP does not divide the count

    @property
    def text(self) -> str:
        return _TEXT[self]

    @property
    def code(self) -> str:
        """A short cell label for the heatmap."""
        return _CODE[self]

    @classmethod
    def from_text(cls, text: str) -> "Infeasible | None":
        return _BY_TEXT.get(text)


_TEXT = {
    Infeasible.OK: "ok",
    Infeasible.OUT_OF_MEMORY: "out of memory",
    Infeasible.TP_HEADS: "tp does not divide heads",
    Infeasible.CHIP_COUNT: "layout does not match the chip count",
    Infeasible.BATCH: "global batch not divisible by dp x micro-batch",
    Infeasible.PP_LAYERS: "pp exceeds layers",
    Infeasible.VPP: "vpp needs pp > 1 and enough layers",
    Infeasible.CP_SEQUENCE: "cp does not divide sequence",
    Infeasible.EP: "ep does not divide experts or tp x dp x cp",
    Infeasible.FP8: "fp8 not supported by chip",
    Infeasible.SCHEDULE: "schedule needs vpp 1 (DualPipe also: even pp, 2 x pp micro-batches)",
    Infeasible.EXPERT_TP: "expert tp must divide tp, and ep x expert tp divide tp x dp x cp",
    Infeasible.INTERLEAVE: "interleaved: micro-batches not a multiple of pp",
    Infeasible.NO_LAYOUT: "TP × PP does not divide the chip count",
}
_CODE = {
    Infeasible.OK: "", Infeasible.OUT_OF_MEMORY: "OOM", Infeasible.TP_HEADS: "heads", Infeasible.CHIP_COUNT: "count",
    Infeasible.BATCH: "batch", Infeasible.PP_LAYERS: "layers", Infeasible.VPP: "vpp", Infeasible.CP_SEQUENCE: "seq",
    Infeasible.EP: "EP", Infeasible.FP8: "fp8", Infeasible.SCHEDULE: "sched", Infeasible.EXPERT_TP: "ETP",
    Infeasible.INTERLEAVE: "mb/pp", Infeasible.NO_LAYOUT: "n/a",
}
_BY_TEXT = {text: reason for reason, text in _TEXT.items()}


def reason_words(text: str, schedule: str) -> str:
    """A search reason (Infeasible.text, the JSON's key) in the words of the run's schedule: the
    schedule reason names the one the user chose (zero-bubble was told about DualPipe's rules)."""
    if text != Infeasible.SCHEDULE.text:
        return text
    if schedule == "dualpipe":
        return "dualpipe needs vpp 1, an even pp and 2 x pp micro-batches"
    return f"{schedule} needs vpp 1 (it does not interleave)"


def interleave_rule(layout) -> str:
    """Why an interleaved layout (its JSON keys) breaks the micro-batch rule, with its numbers ("" when
    it does not): Megatron's interleaved 1F1B runs the micro-batches of each data-parallel rank in
    groups of pp, so global batch / (dp x micro-batch) must be a multiple of pp."""
    vpp, pp, dp, mb, gb = (int(layout.get(k) or 1) for k in ("vpp", "pp", "dp", "micro_batch", "global_batch_seqs"))
    if vpp <= 1 or gb % (dp * mb) or (gb // (dp * mb)) % pp == 0:
        return ""
    return f"interleaved pipeline (vpp {vpp}): its {gb // (dp * mb):,} micro-batches are not a multiple of pp {pp}"


@dataclass(frozen=True)
class LayoutProblem:
    key: str      # the field it belongs to (a Dimension key, or "dtype")
    message: str  # a planner's words, the form's units
    also: tuple[str, ...] = ()   # further fields at fault (the factors of a product that does not divide)


PRODUCT_NAME = "TP × PP × CP"   # the group of chips one replica takes: its problem names it, not one field


def product_fields(values: dict, num_chips: int) -> tuple[str, ...]:
    """The fields of TP × PP × CP to show a "does not divide" problem at: those whose value alone does
    not divide `num_chips` (TP 8 × PP 3 on 1,024 chips: PP), else every factor other than 1 (TP 8 ×
    PP 16 on 96 chips: both). The problem sat under TP whichever field the user had changed (QA)."""
    given = [(k, int(values.get(k) or 1)) for k in ("tp", "pp", "cp")]
    factors = [k for k, v in given if v > 1]
    alone = [k for k, v in given if v > 1 and num_chips % v]
    return tuple(alone or factors)


def layout_problems(values: dict, num_chips: int, model) -> list[LayoutProblem]:
    """Every problem of an explicit layout (tp, pp, cp, ep, vpp, micro_batch given) on
    `num_chips` chips for `model`, one per field, as the Training view shows them."""
    out = []
    for d in DIMENSIONS:
        if d.key in values and values[d.key] is not None:
            value = values[d.key]
            if isinstance(value, bool) or not isinstance(value, int) or not d.low <= value <= d.high:
                out.append(LayoutProblem(d.key, f"{d.label.split()[-1]} {value!r}: use {d.low:,} to {d.high:,} {d.unit}."))
    if out:
        return out
    tp, pp, cp = (int(values.get(k) or 1) for k in ("tp", "pp", "cp"))
    group = tp * pp * cp
    if num_chips > 0 and num_chips % group:
        lower = num_chips // group * group
        counts = f"{lower:,} or {lower + group:,}" if lower else f"{group:,}"
        at = product_fields(values, num_chips)
        out.append(LayoutProblem(at[0], f"{PRODUCT_NAME} = {group:,} does not divide {num_chips:,} chips: use {counts} "
                                        "chips, or another layout.", also=at[1:]))
    if model.heads % tp:
        out.append(LayoutProblem("tp", f"TP {tp} does not divide the {model.heads} attention heads."))
    if pp > model.layers:
        out.append(LayoutProblem("pp", f"PP {pp} exceeds the {model.layers} layers."))
    vpp = int(values.get("vpp") or 1)
    if vpp > 1 and pp == 1:
        out.append(LayoutProblem("vpp", f"VPP {vpp} interleaves pipeline stages: set PP 2 or more, or VPP 1."))
    elif vpp > 1 and pp <= model.layers:
        from engine.training import max_vpp   # (engine.training is the heavier module; it does not import this one)

        most = max_vpp(model.layers, pp)
        if vpp > most:
            # the search's rule: every chunk of every stage holds a whole layer (end stages count
            # their embedding or logits as one), so PP 33 over 126 layers leaves end chunks empty
            out.append(LayoutProblem("vpp", f"VPP {vpp} leaves chunks with no layer: PP {pp} over "
                                            f"{model.layers} layers allows VPP {most} at most."))
    if int(values.get("ep") or 1) > 1 and not model.is_moe:
        out.append(LayoutProblem("ep", "EP applies to MoE models only; set 1 for a dense model."))
    return out


def data_parallel(num_chips: int, values: dict) -> int:
    """DP of an explicit layout: chips / (TP × PP × CP), at least 1."""
    group = int(values.get("tp") or 1) * int(values.get("pp") or 1) * int(values.get("cp") or 1)
    return max(num_chips // group, 1)


def dtype_problem(dtype: str, chip) -> str:
    """'' when `chip` can train in `dtype`, else why not (the Training view's precision field)."""
    name = str(chip.name).split(" (")[0]
    if dtype == "fp8" and not chip.fp8_tflops:
        # the 16-bit format the chip has: "use BF16" sent a V100 (FP16 only) to a format it lacks
        return f"{name} has no FP8 matrix units: use {sixteen_bit_format(chip).upper()}."
    return ""


def sixteen_bit_format(chip) -> str:
    """The 16-bit format `chip` runs 16-bit training in: "bf16", or "fp16" on a chip without BF16
    matrix units (V100, Ascend 910A), whose FP16 rate engine.hardware uses for both."""
    return "fp16" if not chip.bf16_tflops and chip.fp16_tflops else "bf16"
