"""The Inference view's load point on the Under load tab: the TTFT spread and KV use read at the
load the user set (engine.studies_load), its line beside the SLO capacity's on the latency-vs-load
charts, the note's sentence on it and its export lines. Kept apart from gui/panels/inference.py.
The SLO capacity's tiles and "Chips for the demand" never read it: it is a what-if.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from engine.serving.disagg_load import NIC_SIDE_WORDS
from engine.studies_load import load_point_of  # noqa: F401  (the panel reads the form's through here)
from engine.studies_serving import ttft_histogram, with_load_point  # noqa: F401  (and runs it)
from gui.panels.base import fmt

POINT_COLOR = "#8E24AA"   # the user's load: not the targets' and SLO capacity's red, nor a series' colour (its green read as the TTFT p99 curve; QA s31)
HIST_TITLE = "TTFT distribution at the chosen load"
KV_TITLE = "KV cache use over time at the chosen load"
POINT_LABEL_AT = 0.55     # the user's rate label's height along its line (0 bottom, 1 top)


def make_point_lines(panel) -> None:
    """The user's rate as a vertical line on the TTFT- and TPOT-vs-load charts (hidden until set); its
    label mid-height, below the targets' labels the frame leaves room for near the top (at 0.8 it
    sat on "TTFT p90 target 1,000 ms", QA s31)."""
    panel._point_lines = []
    panel.load_point = None   # the form's LoadPoint, once its inputs are valid (read_request)
    for chart in (panel.load_chart, panel.tpot_load_chart):
        line = pg.InfiniteLine(angle=90, pen=pg.mkPen(POINT_COLOR, width=1.5, style=Qt.PenStyle.DashDotLine),
                               label="", labelOpts={"position": POINT_LABEL_AT, "color": POINT_COLOR})
        chart.plot_item.addItem(line, ignoreBounds=True)
        line.hide()
        panel._point_lines.append(line)


def point_lags(panel) -> bool:
    """Whether the comparison on screen was run at another load point than the form's."""
    c, point = panel.comparison, getattr(panel, "load_point", None)
    return c is not None and point is not None and (c.load_point or point) != point


def point_title(point) -> str:
    """ "at 3.00 requests/s per replica (your load point)" """
    return f"at {point.text()} (your load point)" if point.kind != "offline" else f"{point.text()} (your load point)"


def draw_load_point(panel, pct: str) -> str:
    """Draw the TTFT spread and KV use at the comparison's load point (the SLO load's stay when
    none is set), the user's rate beside the SLO capacity's line; the note's sentence on it."""
    c = panel.comparison
    point, run = (c.load_point, c.point) if c is not None else (None, None)
    for line in panel._point_lines:
        line.hide()
    mine = point is not None and point.is_set and run is not None
    # the SLO load's run, or none where the curve was not simulated (the point's run still shows)
    sim = run.run.sim if mine else c.load.chosen.sim if c is not None and c.load is not None else None
    panel.ttft_hist_chart.set_title(f"TTFT distribution {point_title(point)}" if mine else HIST_TITLE)
    panel.kv_chart.set_title(f"KV cache use over time {point_title(point)}" if mine else KV_TITLE)
    if sim is not None:
        centres, share, width = ttft_histogram(sim.ttft_s)
        if centres.size:
            panel.ttft_hist_chart.set_bars("Requests", centres, share, width=0.9 * width)
        panel.kv_chart.set_series("KV used", sim.kv_time_s, 100.0 * sim.kv_used_frac, symbol=None)
    if point is None or not point.is_set:
        return ""
    if run is None:
        return f"Your load point, {point.text()}, not simulated: {c.point_error or 'no layout to run'}. "
    if point.kind == "rate" and c.load is not None:
        req = panel.request
        targets = (req.ttft_ms, req.tpot_ms) if req is not None else (None, None)
        for line, chart, target in zip(panel._point_lines, (panel.load_chart, panel.tpot_load_chart), targets):
            line.show()   # first: a hidden line's label does not take its text
            line.setValue(point.value)
            line.label.setFormat(f"your load {point.value:.2f}/s")
            line.label.setPosition(label_height(chart, target))
            rates = np.asarray(c.load.curve.offered_rate_per_s if c.load is not None else [], dtype=float)
            low = float(np.nanmin(rates)) if rates.size else 0.0
            high = float(np.nanmax(rates)) if rates.size else 0.0
            if not rates.size or not low <= point.value <= high:   # off the curve: still in view, label and all
                chart.plot_item.setXRange(0, max(point.value, high) * 1.05, padding=0)
    return point_sentence(run) + " "


def draw_point_alone(panel, why: str) -> str:
    """The Under load tab when its latency-vs-load curve was not simulated (`why`): the TTFT
    spread and KV use still at the user's load point where it ran (QA s31: a MoE model's run at
    32 clients was made, exported and never shown); the note's sentence on it ("" without one)."""
    c = panel.comparison
    if c is None:
        return ""
    if c.point is not None:
        for chart in (panel.ttft_hist_chart, panel.kv_chart):
            chart.set_notice("")
            chart.plot_item.enableAutoRange()
    return draw_load_point(panel, c.point.percentile if c.point is not None else "p90")


def label_height(chart, target) -> float:
    """Where along the user's rate line its label sits: mid-height, or clear of the target's label
    where that one (just above its line, drawn by draw_load_targets) is there (QA s31: "your load
    5.00/s" over "TPOT p90 target 30 ms")."""
    y0, y1 = chart.plot_item.viewRange()[1]
    if not target or y1 <= y0:
        return POINT_LABEL_AT
    at = (float(target) - y0) / (y1 - y0)   # the target line's height in the plot, 0 to 1
    return 0.25 if at - 0.06 <= POINT_LABEL_AT <= at + 0.14 else POINT_LABEL_AT


def point_sentence(run) -> str:
    """What the user's load point gives and whether the targets hold there."""
    r, pct, point = run.run, run.percentile, run.point
    layout = f"TP{run.tp}" + (f" EP{run.ep}" if run.ep > 1 else "")
    text = (f"Your load point, {point.text()} ({layout}): {fmt(r.output_tokens_per_s_per_chip)} output tokens/s "
            f"per chip, TTFT p50/p90/p99 {_ms(r.ttft_ms['p50'])} / {_ms(r.ttft_ms['p90'])} / {_ms(r.ttft_ms['p99'])} "
            f"ms, TPOT {pct} {r.tpot_ms[pct]:,.1f} ms")
    if run.overloaded:
        share = f"about {run.served_share:.0%} of it served" if run.served_share is not None else "not all served"
        if run.bound_by in NIC_SIDE_WORDS:   # serve's bound_by: the KV transfers need more than the NICs' time
            text += (f"; overloaded ({share}): the KV transfers need {run.nic_busy_share:.0%} of "
                     f"{NIC_SIDE_WORDS[run.bound_by]}' time, so they queue without end and TTFT grows with the run's "
                     "length")
        else:
            text += f"; overloaded ({share}): the queue grows through the run, so TTFT grows with its length"
    if run.unsettled:   # serve's "not settled" (engine.serving.run_reading.unsettled_share)
        text += ("; not settled: the running batch was still growing when the run ended, with no queue to read, "
                 "so the run cannot tell whether this load is kept up with (a lower load settles)")
    if run.missed:
        text += f"; the targets break there: {'; '.join(run.missed)}."
    elif run.overloaded:
        text += "; the targets do not hold there."
    elif run.unsettled and run.has_targets:
        text += f"; the {pct} targets held while it ran (an early reading)."
    else:
        text += f"; the {pct} targets hold there." if run.has_targets else " (no latency targets)."
    return text


def _ms(ms: float) -> str:
    return f"{ms:,.0f}" if np.isfinite(ms) else "n/a"


def point_context(context: dict, comparison, chart_key: str) -> dict:
    """`context` with the lines saying which load point an Under load chart was read at: the
    TTFT spread and KV use are at the user's point when one is set ("Load"), the latency-vs-load
    charts mark it beside the SLO capacity."""
    if chart_key not in ("ttft-distribution", "kv-use", "latency-vs-load", "tpot-vs-load") or comparison is None:
        return context
    point = comparison.load_point
    if point is None or not point.is_set:
        return {**context, "Load point": "at the targets' capacity (the SLO search's load)"}
    if comparison.point is None:
        return {**context, "Load point": f"{point.text()}: not simulated ({comparison.point_error})"}
    said = f"{point.text()} (the user's" + ("; Poisson arrivals)" if point.kind == "rate" else ")")
    out = {**context, "Load point": said, "At the load point": point_sentence(comparison.point)}
    if "CLI" in context:   # the line that gives these figures (one replica, the layout they ran at)
        run = comparison.point
        tp = "" if " --tp " in context["CLI"] else f" --tp {run.tp}"
        # the EP it ran at too (QA s31: a searched TP4 EP8 exported "--tp 4", which serve runs at EP1)
        ep = "" if " --ep " in context["CLI"] or run.ep <= 1 else f" --ep {run.ep}"
        out["CLI at the load point"] = f"{context['CLI']}{tp}{ep} {point.serve_flag()}"
    if chart_key in ("ttft-distribution", "kv-use"):   # one run, at the user's load
        out["Load"] = said
    return out
