"""Figure tiles at a 150 % display scale (1280x720, 853 logical px wide; s30 screenshots): five
tiles a row left each about 95 px, and "12.8 million" (Chip-hours) read "12.8 millior" even at the
smallest value size, "TP8 PP2 VPP8" read "TP8 PP2 VP", and the captions stopped mid-word
("Energy (MWl"). A value too wide at the smallest size now takes two lines; a caption ends in "…"
with the whole caption in its tooltip."""

from PySide6.QtGui import QFont, QFontMetrics

from gui.panels.base import FigureTiles

TILE_ROW_PX = 5 * 95   # five tiles of about 95 px, as at 150 %


def _tiles(qtbot) -> FigureTiles:
    tiles = FigureTiles([("hours", "Chip-hours", "chips x hours"), ("energy", "Energy (MWh)", "energy drawn"),
                         ("mfu", "MFU (%)", ""), ("cost", "Cost (USD)", ""), ("layout", "Layout", "")], columns=5)
    qtbot.addWidget(tiles)
    tiles.resize(TILE_ROW_PX, 160)
    tiles.show()
    qtbot.waitExposed(tiles)
    return tiles


def _value_font(label) -> QFont:
    font = QFont(label.font())
    font.setPointSizeF(label.shown_pt())
    font.setWeight(QFont.Weight.DemiBold)
    return font


def test_a_value_too_wide_at_the_smallest_size_takes_two_lines_not_cut(qtbot):
    tiles = _tiles(qtbot)
    tiles.set("hours", "12.8 million", "1,024 chips")
    tiles.set("layout", "TP8 PP2 VPP8", "DP64")
    tiles.set("mfu", "39.1")
    qtbot.wait(20)
    for key, text in (("hours", "12.8 million"), ("layout", "TP8 PP2 VPP8")):
        label = tiles._values[key]
        metrics = QFontMetrics(_value_font(label))
        room = label.contentsRect().width()
        assert label.shown_pt() == label.SIZES_PT[-1]
        assert metrics.horizontalAdvance(text) > room               # one line would be cut ...
        assert label.wordWrap()                                     # ... so it wraps
        assert all(metrics.horizontalAdvance(word) <= room for word in text.split()), (key, room)
        assert label.height() >= 2 * metrics.lineSpacing(), (key, label.height())   # both lines shown
    # a short value stays large on one line; on a wide row the long one goes back to one line
    assert tiles._values["mfu"].shown_pt() == 13 and not tiles._values["mfu"].wordWrap()
    tiles.resize(5 * 220, 160)
    qtbot.wait(20)
    assert not tiles._values["hours"].wordWrap()


def test_a_caption_wider_than_its_tile_ends_in_an_ellipsis(qtbot):
    tiles = _tiles(qtbot)
    long_caption = "Energy (MWh) drawn by the whole fleet"
    tiles2 = FigureTiles([("energy", long_caption, "energy drawn")], columns=1)
    qtbot.addWidget(tiles2)
    tiles2.resize(95, 80)
    tiles2.show()
    qtbot.waitExposed(tiles2)
    caption = next(w for w in tiles2.findChildren(type(tiles2._details["energy"])) if w.text() == long_caption)
    shown = caption.shown_text()
    assert shown.endswith("…") and long_caption.startswith(shown[:-1])   # cut at a character, marked
    assert long_caption in caption.toolTip() and "energy drawn" in caption.toolTip()
    # a caption that fits is drawn whole
    short = next(w for w in tiles.findChildren(type(tiles._details["mfu"])) if w.text() == "MFU (%)")
    assert short.shown_text() == "MFU (%)"


def test_a_caption_goes_onto_a_second_line_before_it_loses_its_unit(qtbot):
    """QA s38: at 12-14 pt on 1280x720 "Time to train (d…" and "Throughput (to…" lost their units."""
    tiles = FigureTiles([("days", "Time to train (days)", "wall-clock days")], columns=1)
    qtbot.addWidget(tiles)
    caption = next(w for w in tiles.findChildren(type(tiles._details["days"])) if w.text() == "Time to train (days)")
    metrics = caption.fontMetrics()
    tiles.resize(metrics.horizontalAdvance("Time to train") + 30, 120)
    tiles.show()
    qtbot.waitExposed(tiles)
    assert caption.shown_text() == "Time to train (days)"   # whole, on two lines
    assert caption.height() >= 2 * metrics.lineSpacing()
    tiles.set("days", "521.3", "518 days at steady state")
    assert tiles._values["days"].accessibleName() == "Time to train (days): 521.3, 518 days at steady state"


def test_a_unit_wider_than_its_tile_breaks_after_a_slash_not_at_the_edge(qtbot):
    """QA s38: at 14 pt "SLO throughput (tokens/s/chip)" lost its unit, one word wider than the tile."""
    tiles = FigureTiles([("slo", "SLO throughput (tokens/s/chip)", "")], columns=1)
    qtbot.addWidget(tiles)
    caption = next(w for w in tiles.findChildren(type(tiles._details["slo"])) if w.text().startswith("SLO"))
    metrics = caption.fontMetrics()
    tiles.resize(max(metrics.horizontalAdvance("SLO throughput"), metrics.horizontalAdvance("(tokens/s/")) + 24, 120)
    tiles.show()
    qtbot.waitExposed(tiles)
    lines = caption._lines(caption.contentsRect().width())
    assert len(lines) == 2 and "…" not in "".join(lines), lines
    assert "".join(lines).replace(" ", "") == "SLOthroughput(tokens/s/chip)"
