"""What the Inference view says in words: the no-fit advice, the run bar after a comparison,
the caveats `serve` prints, advice put in the window's terms, the throughput-latency chart
whose CSV carries each point's running batch, and where the Under load charts' target lines and
their labels go. Kept apart from gui/panels/inference.py (drawing).
"""

from __future__ import annotations

import re

import numpy as np

from engine.serving.disagg_load import NIC_SIDE_WORDS
from engine.studies_serving import comparison_basis_text, serving_caveats
from gui.panels.base import short_chip_label
from gui.panels.inference_form import ENGINES, TP_CHOICES
from gui.widgets.plot_panel import PlotPanel

# engine.inference._pipeline_hint's advice in the CLI's flags: the window has no PP field and no
# fixed load, so there it says what the command line can run
_CLI_PIPELINE_HINT = re.compile(r"try --tp (\d+) --pp (\d+) with a load \([^)]*\)")
# families.blank_engine_note's `--engine mindie or vllm-ascend`: the window's field is "Serving engine"
_CLI_ENGINE_HINT = re.compile(r"--engine ([\w-]+(?: or [\w-]+)*)")
BATCH_HEADER = "Running batch (sequences per replica)"


def window_terms(text: str) -> str:
    """Engine advice said in the window's terms: `try --tp 8 --pp 2 with a load (--concurrency...)`
    becomes what the command line can try, with the line that runs it."""
    labels = {value: label for label, value in ENGINES if value}
    text = _CLI_PIPELINE_HINT.sub(
        lambda m: f"the command line can try TP{m[1]} x PP{m[2]}: fleetcast serve ... --tp {m[1]} "
                  f"--pp {m[2]} --concurrency N", text or "")
    return _CLI_ENGINE_HINT.sub(
        lambda m: "Serving engine " + " or ".join(labels.get(e, e) for e in m[1].split(" or ")), text)


def limiting_detail(cap) -> str:
    """The limiting tile's detail: what fills the time per token, unless a TTFT target binds
    (then the time to first token: the prompt's queue and prefill, on the prefill pool when
    disaggregated); "TTFT p90 target" beside "time per token: compute" read as a contradiction."""
    if "TTFT" in (cap.limiting or ""):
        return "time to first token" + (": prefill pool" if getattr(cap, "prefill_chips", 0) else "")
    if cap.limiting in NIC_SIDE_WORDS:   # serve's bound_by (`slo_bound_by`); it read "time per token: compute"
        return "NICs full: KV transfers"   # (which NICs: the tile's value; short, to fit it at 1280 x 720)
    return f"time per token: {cap.resource}" if cap.resource else ""


def does_not_fit_text(req, cap) -> str:
    """Why a chip cannot hold the model, with the numbers, and what to change ("" when it fits),
    as `serve` says it: the run bar said "the p90 targets were not simulated" and the tile "no load
    meets the targets" for Llama 3 70B's 131.4 GiB of weights on a 96 GiB H20 at TP 1."""
    if cap is None or cap.feasible or cap.limiting != "memory capacity":
        return ""
    hbm = req.chip.hbm_gib
    weights = (f"weights {cap.weights_gib_per_chip:.1f} GiB per chip > {hbm:g} GiB" if cap.weights_gib_per_chip > hbm
               else f"weights {cap.weights_gib_per_chip:.1f} GiB per chip plus reserve exceed {hbm:g} GiB")
    return f"{req.model.name} does not fit on {short_chip_label(req.chip)} at TP{cap.tp}: {weights}; {no_fit_fix(req, cap)}"


def no_fit_fix(req, cap) -> str:
    """What to change when the model does not fit: a larger TP where one was fixed."""
    return ("use a larger TP" if req.tp is not None and cap.tp < max(TP_CHOICES) else
            "pick a chip with more memory or lower-precision Weights")


def caveats_text(req, cap) -> str:
    """The assumptions `serve` prints as notes (engine.studies_serving.serving_caveats), as the
    notes' closing sentences ('' for none)."""
    return "".join(f" Note: {window_terms(n)}." for n in serving_caveats(req, cap))


def run_bar_text(req, comparison) -> str:
    """The run bar after a comparison: how many chips meet the targets, on which basis each row's
    latencies are (a percentile under load or steady-state means), and why the chosen chip's
    tiles are steady-state means when they are, in the same words as the Under load tab."""
    rows = comparison.rows
    feasible = sum(1 for r in rows if r["capacity"] is not None and r["capacity"].feasible)
    basis = comparison_basis_text(comparison)
    basis = f" Latencies: {basis}." if basis else ""
    chosen, load = comparison.chosen, comparison.load
    extra = ""
    no_fit = does_not_fit_text(req, chosen)
    if no_fit:   # not "the p90 targets were not simulated": there was nothing to simulate
        extra = f" {no_fit[0].upper()}{no_fit[1:]}."
    elif chosen is not None and chosen.latency_basis == "mean":
        name, pct = short_chip_label(req.chip), req.slo_percentile
        if not chosen.feasible and load is not None:
            # the steady state misses the targets, yet Under load simulates the chip: say what it found
            extra = (f" {name}: the {pct} targets are missed at every load simulated (Under load); the tiles are "
                     "steady-state means." if load.note.startswith("targets missed at every load") else
                     f" {name}: the tiles are steady-state means, which miss the targets; Under load simulates "
                     f"{load.chosen_rate_per_s:.2f} requests/s.")
        else:
            # (DeepSeek-V3: a running batch beyond what the simulator runs) the targets were held
            # on means, not the percentile asked: "4 meet the targets" said otherwise
            extra = f" The {pct} targets were not simulated for {name}: its figures are steady-state means (see the notes)."
    if not req.ttft_ms and not req.tpot_ms:
        # nothing to meet: each chip is at the load it saturates at, whatever the latency
        return (f"Compared {len(rows)} chip types with no latency targets: each at its saturation load "
                "(see TTFT under load)." + basis + extra)
    return f"Compared {len(rows)} chip types; {feasible} meet the targets." + basis + extra


class BatchCurveChart(PlotPanel):
    """The throughput-latency chart: its CSV carries each point's running batch beside the
    TPOT and the throughput (the batch is what moves along each curve)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._batches: dict[str, np.ndarray] = {}

    def set_curve(self, name: str, tpot_ms, tokens, batches) -> None:
        self._batches[name] = np.asarray(batches, dtype=float)
        self.set_series(name, tpot_ms, tokens, symbol=None)

    def remove_series(self, name: str) -> None:
        self._batches.pop(name, None)
        super().remove_series(name)

    def data_table(self) -> tuple[list[str], list[list]]:
        headers, rows = super().data_table()
        names = self.series_names()
        if not names or any(n not in self._batches for n in names):
            return headers, rows
        rows = []
        for name in names:
            x, y = self.series_data(name)
            rows += [[name, float(a), float(b), float(n)] for a, b, n in zip(x, y, self._batches[name])]
        return ["Series", self._x_header(), self._y_header(self.y_label or "Value"), BATCH_HEADER], rows


def load_point_text(comparison, req) -> str:
    """The label of the load the Under load figures are read at (the dashed line on the latency-
    and TPOT-vs-load charts): the SLO capacity, the saturation load without targets, else the load
    shown."""
    c, a = comparison, comparison.load
    slo_point = c.chosen is not None and c.chosen.feasible and c.chosen.request_rate_per_s == a.chosen_rate_per_s
    no_targets = req is not None and not req.ttft_ms and not req.tpot_ms
    return (f"saturation {a.chosen_rate_per_s:.2f}/s (no targets)" if slo_point and no_targets else
            f"SLO capacity {a.chosen_rate_per_s:.2f}/s" if slo_point else f"shown load {a.chosen_rate_per_s:.2f}/s")


def load_curve_context(comparison) -> dict:
    """The comment lines of the latency- and TPOT-vs-load files: what the Under load note says
    beside those charts (the load read, the targets, knee, saturation estimate, limiting resource),
    for the request the comparison ran from."""
    c, a = comparison, comparison.load
    req, cv = c.key[0], a.curve
    pct = c.chosen.latency_basis if c.chosen is not None and c.chosen.latency_basis in ("p50", "p99") else "p90"
    targets = ([f"TTFT {pct} ≤ {req.ttft_ms:,.0f} ms"] if req.ttft_ms else []) + \
        ([f"TPOT {pct} ≤ {req.tpot_ms:g} ms"] if req.tpot_ms else [])
    knee = f"{cv.knee_rate_per_s:.2f} requests/s" if np.isfinite(cv.knee_rate_per_s) else "none in the loads shown"
    # not "Load": these charts span many loads; this is the one the dashed line marks
    return {"Marked load": load_point_text(c, req).replace("/s", " requests/s per replica", 1) + " (dashed line)",
            "Targets": ", ".join(targets) or "none",
            "Knee": f"{knee} (TTFT p90 three times its light-load value)",
            "Saturation": f"{cv.saturation_rate_per_s:.2f} requests/s (offline estimate)",
            "Limiting": a.limiting}


# the y range's top over a target line: its label sits above the line (at 8% over the TPOT target,
# "TPOT p90 target 50 ms" was clipped at the top of the plot at 1280 x 720)
TARGET_HEADROOM = 1.3
DATA_HEADROOM = 1.08   # over the highest point (the TPOT chart's frame before; near autorange's padding)


def draw_load_targets(panel, pct: str, tpot_ms) -> None:
    """The TTFT and TPOT target lines of the Under load charts (panel: the Inference view, its
    comparison drawn). The TPOT chart runs from 0 (11.75-12.03 ms magnified a flat line) to above
    its points and its target; the TTFT chart keeps its autorange unless the target needs more room.
    A label sits above its line at the left end, or at the right end when the line is in the top
    half of the plot and the load line (labelled at the top) is in the left half: at 1920 x 1080,
    "TPOT p90 target 50 ms" was drawn over "SLO capacity 0.39/s"."""
    c, req = panel.comparison, panel.request
    cv = c.load.curve
    rate = np.asarray(cv.offered_rate_per_s, dtype=float)
    lo, hi = (float(np.nanmin(rate)), float(np.nanmax(rate))) if rate.size else (0.0, 0.0)
    load_left = hi <= lo or (c.load.chosen_rate_per_s - lo) / (hi - lo) < 0.5
    for key, chart, series, target in (
            ("TTFT", panel.load_chart, (cv.ttft_ms_p50, cv.ttft_ms_p90, cv.ttft_ms_p99), req.ttft_ms if req else None),
            ("TPOT", panel.tpot_load_chart, (tpot_ms,), req.tpot_ms if req else None)):
        values = np.concatenate([np.asarray(v, dtype=float).ravel() for v in series])
        values = values[np.isfinite(values)]
        data_top = (float(values.max()) if values.size else 0.0) * DATA_HEADROOM
        top = max(data_top, (target or 0.0) * TARGET_HEADROOM)
        if key == "TPOT" or top > data_top:
            chart.plot_item.setYRange(0, top or 1.0, padding=0)
        line = panel._load_targets[key]
        line.setVisible(bool(target))
        if not target:
            continue
        line.setValue(target)
        line.label.setFormat(f"{key} {pct} target {target:,.0f} ms")
        right = load_left and target >= 0.5 * top
        pos, anchor = (0.97, (1, 1)) if right else (0.03, (0, 1))
        line.label.anchors = [anchor, anchor]   # the label's corner on the line: above it, inward
        line.label.setPosition(pos)
