"""One palette for every chart and export: a colour (and marker) per chip id and per breakdown
category, the same in every redraw, panel and file, and safe for colour-blind readers.

Colours come from Okabe & Ito's palette (distinguishable with every common colour-vision
deficiency) and Paul Tol's "muted" set for the rest. The chips of the story get fixed colours,
H100 and H800 clearly apart (reddish purple vs vermillion, and different markers); any other chip
or series name gets a colour from a stable hash of its id, never from the order it was drawn in.

    colour = chip_color("h20-96gb")                    # '#009E73' everywhere
    colour = series_color("Ascend 910B2 (TP8)")        # a series named after a chip: its colour
    colour = series_color("GEMMs")                     # a breakdown category: its own colour

The window's own texts (hints, headings, boxes) take their colours from the desktop palette and
their sizes from the application font, so they read on a dark desktop and with a large font:

    label.setStyleSheet(hint_style(small=True))        # muted, >= 4.5:1 on the window, 0.89x font
    label.setStyleSheet(box_style(SUMMARY_BOX))        # background, border and text together
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from PySide6.QtGui import QColor, QGuiApplication, QPalette

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


def scenario_color(name: str, all_names, baseline: str | None = None, shown=()) -> str:
    """A scenario's colour: the baseline's is the first; the others by their place among all saved
    scenarios (not among the ones ticked now), so a scenario keeps its colour when others are ticked.
    `shown`: the scenarios drawn beside it. With more saved scenarios than colours, two of them can
    have the same place modulo the palette (the 1st and the 12th); drawn together, the later one
    takes the first colour none of the others drawn has (until more are drawn than there are colours)."""
    if baseline is not None and name == baseline:
        return OKABE_ITO[0]
    others = sorted(n for n in set(all_names) | {name} | set(shown) if n != baseline)
    own = lambda n: others.index(n) % len(SCENARIO_COLORS)  # noqa: E731
    drawn = sorted((n for n in set(shown) | {name} if n != baseline), key=others.index)
    taken: set[int] = set()
    for n in drawn:   # in saved order: the earlier keeps its own colour
        k = own(n)
        if k in taken and len(taken) < len(SCENARIO_COLORS):
            k = next(j for j in range(len(SCENARIO_COLORS)) if j not in taken)
        taken.add(k)
        if n == name:
            return SCENARIO_COLORS[k]
    return SCENARIO_COLORS[own(name)]   # (not reached: name is drawn)


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


def series_color_among(name: str, taken) -> str:
    """`name`'s colour (series_color) in a chart whose other series have the colours `taken`."""
    color = series_color(name)
    # a hashed colour may be another series' here (Instinct MI250X drew in H800's
    # vermillion): take the first palette colour this chart does not use yet
    taken = {c.lower() for c in taken}
    if color.lower() in taken or not has_own_color(name):
        # a hashed colour: one no series here has, and not the Story chips' own (they may
        # come next and should keep theirs)
        free = [c for c in EXTENDED if c.lower() not in taken]
        keep = [c for c in free if c.lower() not in RESERVED_COLORS]
        if color.lower() in taken or color.lower() in RESERVED_COLORS:
            color = (keep or free or [color])[0]
    return color


# ---- window texts: colours from the desktop palette, sizes from the application font ----------
# The charts have a fixed white background and take pyqtgraph's foreground (black) for every text;
# the rest of the window sits on the desktop's palette, which may be dark (#353535 with #e6e6e6
# text). A grey written into a style sheet (#5f6368 hints, #202124 headings) vanished on a dark
# window, and a light box's text took the palette's light text. Every text colour below is worked
# out from the palette when a widget is built (the palette is set before the window is).

MIN_CONTRAST = 4.5   # WCAG AA for body text
# WindowText's share when mixed toward Window: a hint at 0.6 is #606060 on Fusion's light #efefef
# (the old fixed #5f6368) and #9f9f9f on a #353535 dark window (4.6:1); a note, once #444, at 0.72.
HINT_WEIGHT = 0.6
NOTE_WEIGHT = 0.72
HEADING_WEIGHT = 0.88   # #1d1d1d on light (the old #202124), #d1d1d1 on dark
# Small print (hints, tile details, legends) as a share of the application font: 8 pt at the
# usual 9 pt, and larger for a reader who set a larger font (it stayed 8 pt at 12 pt).
SMALL_SCALE = 8.0 / 9.0
SMALLER_SCALE = 7.0 / 9.0   # a short chart's legend (7 pt at 9 pt)
SMALL_MIN_PT = 7.0
# Errors: the usual dark red where it reads on the window, else a light red (a dark window).
ERROR_DARK, ERROR_LIGHT = "#b3261e", "#f28b82"


def _qcolor(colour) -> QColor:
    return colour if isinstance(colour, QColor) else QColor(colour)


def _luminance(colour) -> float:
    """WCAG relative luminance of a colour (0 black .. 1 white)."""
    c = _qcolor(colour)

    def linear(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(c.redF()) + 0.7152 * linear(c.greenF()) + 0.0722 * linear(c.blueF())


def contrast_ratio(a, b) -> float:
    """WCAG contrast ratio of two colours (1 .. 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def mixed(foreground, background, weight: float) -> QColor:
    """`weight` of `foreground` and the rest of `background`, channel by channel."""
    f, b = _qcolor(foreground), _qcolor(background)
    return QColor.fromRgbF(*(weight * x + (1.0 - weight) * y for x, y in
                             zip((f.redF(), f.greenF(), f.blueF()), (b.redF(), b.greenF(), b.blueF()))))


def _palette(palette: QPalette | None) -> QPalette:
    return palette if palette is not None else QGuiApplication.palette()


def muted_color(weight: float, palette: QPalette | None = None,
                background: QPalette.ColorRole = QPalette.ColorRole.Window) -> QColor:
    """The palette's text mixed toward `background` by `weight`, made stronger where that reads
    below MIN_CONTRAST on it (a low-contrast palette gets its full text colour at worst)."""
    pal = _palette(palette)
    text_role = QPalette.ColorRole.WindowText if background == QPalette.ColorRole.Window else QPalette.ColorRole.Text
    text, back = pal.color(text_role), pal.color(background)
    colour = mixed(text, back, weight)
    while contrast_ratio(colour, back) < MIN_CONTRAST and weight < 1.0:
        weight = min(weight + 0.04, 1.0)
        colour = mixed(text, back, weight)
    return colour


def hint_color(palette: QPalette | None = None,
               background: QPalette.ColorRole = QPalette.ColorRole.Window) -> QColor:
    """A hint's grey: muted, and at least MIN_CONTRAST on light and dark palettes alike."""
    return muted_color(HINT_WEIGHT, palette, background)


def heading_color(palette: QPalette | None = None) -> QColor:
    return muted_color(HEADING_WEIGHT, palette)


def error_color(palette: QPalette | None = None) -> str:
    back = _palette(palette).color(QPalette.ColorRole.Window)
    return ERROR_DARK if contrast_ratio(ERROR_DARK, back) >= MIN_CONTRAST else ERROR_LIGHT


def small_pt(scale: float = SMALL_SCALE) -> float:
    """A small text's size in points: `scale` of the application font, never below SMALL_MIN_PT."""
    app_pt = QGuiApplication.font().pointSizeF()
    return max(round((app_pt if app_pt > 0 else 9.0) * scale, 1), SMALL_MIN_PT)


def hint_style(*, small: bool = False, weight: float = HINT_WEIGHT) -> str:
    """A style sheet for a hint label: the palette's muted text (`weight`), smaller when `small`."""
    colour = muted_color(weight).name()
    return f"color: {colour};" + (f" font-size: {small_pt():g}pt;" if small else "")


def note_style() -> str:
    """A wrapped note under figures: a little stronger than a hint (once #444)."""
    return hint_style(weight=NOTE_WEIGHT)


def heading_style() -> str:
    """A form section's heading: bold, in the palette's text colour (once #202124 on any window)."""
    return f"font-weight: 600; color: {heading_color().name()};"


def error_style(*, small: bool = False) -> str:
    return f"color: {error_color()};" + (f" font-size: {small_pt():g}pt;" if small else "")


@dataclass(frozen=True)
class Box:
    """A framed text box with a background of its own: its text and links are set with it, from
    the palette where those read on the background, else its own dark ones (a dark desktop's light
    text on the light box was unreadable)."""
    background: str
    border: str
    text: str = "#202124"
    link: str = "#0b57d0"

    def text_color(self, palette: QPalette | None = None) -> str:
        own = _palette(palette).color(QPalette.ColorRole.WindowText)
        return own.name() if contrast_ratio(own, self.background) >= MIN_CONTRAST else self.text

    def link_color(self, palette: QPalette | None = None) -> str:
        own = _palette(palette).color(QPalette.ColorRole.Link)
        return own.name() if contrast_ratio(own, self.background) >= MIN_CONTRAST else self.link


SUMMARY_BOX = Box("#f4f6f8", "#d8dde3")       # the Forecast's and the Plan's result summaries
ASSUMPTIONS_BOX = Box("#fff8e6", "#e6d3a3")   # what the Forecast's scenario assumes


def box_style(box: Box, *, padding_px: int = 6, selector: str = "QLabel", extra: str = "") -> str:
    """The style sheet of a `selector` drawn as `box`: background, border and text colour together;
    `extra`: more rules after it ("QLabel:focus { border-color: #3b7dd8; }")."""
    rule = (f"{selector} {{ background: {box.background}; color: {box.text_color()}; "
            f"border: 1px solid {box.border}; border-radius: 4px; padding: {padding_px}px; }}")
    return f"{rule} {extra}".strip()


def box_html(box: Box, html: str) -> str:
    """Rich text for a `box` label with its links in the box's link colour: a QLabel draws links in
    the application palette's link colour whatever its own palette or style sheet says (a dark
    desktop's pale blue on the light box), so the colour goes into the text."""
    return f"<style>a {{ color: {box.link_color()}; }}</style>{html}" if "<a " in html else html

