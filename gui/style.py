"""One palette for every chart and export: a colour (and marker) per chip id and per breakdown
category, the same in every redraw, panel and file, and safe for colour-blind readers.

Colours come from Okabe & Ito's palette (distinguishable with every common colour-vision
deficiency) and Paul Tol's "muted" set for the rest. The chips of the story get fixed colours,
H100 and H800 clearly apart (reddish purple vs vermillion, and different markers); any other chip
or series name gets a colour from a stable hash of its id, never from the order it was drawn in.

    colour = chip_color("h20-96gb")                    # '#009E73' everywhere
    colour = series_color("Ascend 910B2 (TP8)")        # a series named after a chip: its colour
    colour = series_color("GEMMs")                     # a breakdown category: its own colour
"""

from __future__ import annotations

import zlib

from engine.studies import chip_labels
from engine.studies import chip_name as _chip_name

# Okabe-Ito (without its yellow, too pale on white) and Tol muted, as hex.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
TOL_MUTED = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
             "#AA4499")
EXTENDED = OKABE_ITO[:6] + TOL_MUTED

CHIP_COLORS = {
    "ascend-910b2": "#0072B2",   # blue
    "ascend-910b3": "#332288",   # indigo
    "ascend-910b1": "#88CCEE",
    "ascend-910b4": "#44AA99",
    "ascend-910c": "#56B4E9",    # sky blue
    "h20-96gb": "#009E73",       # bluish green
    "h800-sxm5-80gb": "#D55E00",  # vermillion
    "h100-sxm5-80gb": "#CC79A7",  # reddish purple: far from H800's vermillion
    "h100-pcie-80gb": "#AA4499",
    "h200-sxm-141gb": "#E69F00",  # orange
    "a800-sxm4-80gb": "#999933",
    "a100-sxm4-80gb": "#117733",
    "b200": "#882255",
    "gb200": "#CC6677",
    "mi300x": "#DDCC77",
}
CHIP_SYMBOLS = {"h100-sxm5-80gb": "t", "h800-sxm5-80gb": "s", "h20-96gb": "d", "ascend-910b2": "o"}
# Chips whose curves often coincide get a dashed line, so neither hides the other (H100/H800).
CHIP_DASHED = frozenset({"h100-sxm5-80gb", "a100-sxm4-80gb"})
SYMBOLS = ("o", "s", "t", "d", "+", "x", "star", "p", "h")

# Breakdown categories (display names as the charts show them) -> colour.
CATEGORY_COLORS = {
    # step time
    "GEMMs": "#0072B2", "Attention": "#56B4E9", "Mem-bound ops": "#009E73", "Recompute": "#999933",
    "Overhead": "#7F7F7F", "TP comm": "#D55E00", "CP comm": "#CC6677", "EP comm": "#882255",
    "PP comm": "#AA4499", "PP bubble": "#E69F00", "DP comm": "#CC79A7", "Optimizer": "#332288",
    # memory
    "Weights": "#0072B2", "Gradients": "#56B4E9", "Activations": "#E69F00", "Logits": "#DDCC77",
    "Buffers": "#999933", "Reserve": "#BBBBBB",
    # reference lines and totals
    "HBM capacity": "#C00000", "Chips needed": "#0072B2", "All chips": "#000000", "All types P50": "#000000",
    "Peak demand": "#D55E00", "Demand": "#D55E00",
    # Forecast: which uncertainty dominates (engine.forecast.SOURCE_LABELS), tornado ends
    "vendor fraction and delay": "#0072B2", "export-licence cut-offs": "#CC79A7", "demand (points and growth)": "#D55E00",
    "request mix": "#E69F00", "per-chip throughput": "#009E73",
    "good end (P10)": "#009E73", "bad end (P90)": "#D55E00",
}


def job_color(name: str) -> str:
    """A training job's colour, stable by its name; dark enough for its date labels on white."""
    return _hashed(name, ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#332288", "#117733", "#882255"))


def scenario_color(name: str, all_names, baseline: str | None = None) -> str:
    """A scenario's colour: the baseline's is the first; the others by their place among all saved
    scenarios (not among the ones ticked now), so a scenario keeps its colour when others are ticked."""
    if baseline is not None and name == baseline:
        return OKABE_ITO[0]
    others = sorted(n for n in set(all_names) | {name} if n != baseline)
    return SCENARIO_COLORS[others.index(name) % len(SCENARIO_COLORS)]


# The compared scenarios' colours after the baseline's blue: one qualitative palette, every pair
# far apart (CIELAB distance >= 25; tests/gui/test_report_s23.py). The Okabe-Ito + Tol list gave a
# 7-scenario Compare chart two light blues (#56B4E9, #88CCEE) and two teals (#009E73, #44AA99).
# Not vermillion: that is the peak demand's colour on the same chart. The first four are as before.
SCENARIO_COLORS = ("#E69F00",   # orange
                   "#009E73",   # bluish green
                   "#CC79A7",   # reddish purple
                   "#56B4E9",   # sky blue
                   "#332288",   # indigo
                   "#999933",   # olive
                   "#882255",   # wine
                   "#8C564B",   # brown
                   "#7F7F7F",   # grey
                   "#000000",   # black
                   "#9467BD")   # purple

TARGET_COLOR = "#C00000"  # latency targets, capacity lines

_chip_names: dict[str, str] = {}  # display names (short and full) -> chip id, longest first


_labels: dict[str, str] = {}  # chip id -> its name where the short form is shared (engine.studies.chip_labels)


def chip_display_name(chip) -> str:
    """The one name a chip has on screen and in files: the catalog name's short form
    ("H20" for "H20 (HGX) 96GB", "Ascend 910B2"), or a longer one where another chip of the
    catalog shares it. `chip`: a catalog chip, or its name."""
    return _labels.get(getattr(chip, "id", None) or "", None) or _chip_name(chip)


def register_chips(chips) -> None:
    """Teach the names to chip_display_name (each catalog's chips, all of them: a name two chips
    share is told apart) and to series_color, so a series called after a chip gets its colour."""
    by_id = {chip.id: chip for chip in chips}
    chips = list(by_id.values())
    _labels.clear()
    _labels.update({cid: label for cid, label in chip_labels(chips).items() if label != _chip_name(by_id[cid])})
    for chip in chips:
        for name in {chip_display_name(chip), str(chip.name), str(chip.id)}:
            _chip_names[name.lower()] = chip.id


def _hashed(key: str, choices) -> str:
    return choices[zlib.crc32(key.encode("utf-8")) % len(choices)]


def chip_color(chip_id: str) -> str:
    return CHIP_COLORS.get(chip_id) or _hashed(chip_id, EXTENDED)


def chip_symbol(chip_id: str) -> str:
    return CHIP_SYMBOLS.get(chip_id) or _hashed(chip_id, SYMBOLS)


def chip_of_series(name: str) -> str | None:
    """The chip id a series is named after ("H20 (TP4)", "Ascend 910B2 P50"), if any."""
    low = name.lower()
    best = None
    for chip_name, chip_id in _chip_names.items():
        if low == chip_name or low.startswith(chip_name + " ") or low.startswith(chip_name + "\n"):
            if best is None or len(chip_name) > len(best[0]):
                best = (chip_name, chip_id)
    return best[1] if best else None


# The Story chips' colours: a series hashed into the palette avoids them (gui.widgets.plot_panel)
RESERVED_COLORS = frozenset(CHIP_COLORS[c].lower() for c in
                            ("ascend-910b2", "h20-96gb", "h800-sxm5-80gb", "h100-sxm5-80gb"))


def has_own_color(name: str) -> bool:
    """A category's or a catalogued chip's colour (not one hashed from the name)."""
    if name in CATEGORY_COLORS:
        return True
    chip_id = chip_of_series(name)
    return chip_id is not None and chip_id in CHIP_COLORS


def series_color(name: str) -> str:
    """A stable colour for a series: its category's, its chip's, or one hashed from its name."""
    if name in CATEGORY_COLORS:
        return CATEGORY_COLORS[name]
    chip_id = chip_of_series(name)
    if chip_id is not None:
        return chip_color(chip_id)
    return _hashed(name, EXTENDED)


def series_symbol(name: str) -> str:
    chip_id = chip_of_series(name)
    return chip_symbol(chip_id) if chip_id else "o"
