"""The window on a dark desktop palette and with a large application font: chart texts keep the
charts' own (dark) colours in the window and in files, hints and headings read on the window
(>= 4.5:1), boxes with a background of their own set their text and link colours too, small print
follows the application font; a chart's Export… suggests Export all's short file name; the
scenario bar's naming buttons say what they do."""

import re

import numpy as np
import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from gui import style

DARK_WINDOW, DARK_TEXT = "#353535", "#e6e6e6"


def _dark_palette() -> QPalette:
    """The QA's dark desktop: #353535 window, #e6e6e6 text, a pale blue link."""
    p = QPalette(QApplication.palette())
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive, QPalette.ColorGroup.Disabled):
        for role, colour in ((QPalette.ColorRole.Window, DARK_WINDOW), (QPalette.ColorRole.WindowText, DARK_TEXT),
                             (QPalette.ColorRole.Base, "#232323"), (QPalette.ColorRole.Text, DARK_TEXT),
                             (QPalette.ColorRole.Button, DARK_WINDOW), (QPalette.ColorRole.ButtonText, DARK_TEXT),
                             (QPalette.ColorRole.Link, "#64aaff")):
            p.setColor(group, role, QColor(colour))
    return p


@pytest.fixture
def desktop(qapp):
    """set(kind): the application's palette "light" (as the tests run) or "dark"; font(pt): its
    font size. Both restored after the test."""
    palette, font = QPalette(qapp.palette()), qapp.font()

    class Desktop:
        @staticmethod
        def set(kind: str) -> None:
            qapp.setPalette(_dark_palette() if kind == "dark" else palette)

        @staticmethod
        def font(pt: float) -> None:
            bigger = qapp.font()
            bigger.setPointSizeF(pt)
            qapp.setFont(bigger)

    yield Desktop
    qapp.setPalette(palette)
    qapp.setFont(font)


def _text_colour(widget) -> QColor:
    widget.ensurePolished()
    return widget.palette().color(widget.foregroundRole())


def _window() -> QColor:
    return QApplication.palette().color(QPalette.ColorRole.Window)


def test_the_helpers_contrast_and_mix_by_hand():
    assert style.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert style.contrast_ratio("#777777", "#777777") == pytest.approx(1.0)
    # #e6e6e6 on #353535: luminances 0.7912 and 0.0356 -> (0.8412) / (0.0856) = 9.83
    assert style.contrast_ratio(DARK_TEXT, DARK_WINDOW) == pytest.approx(9.83, abs=0.02)
    # 60% of #e6e6e6 (230) and 40% of #353535 (53): 159 = #9f9f9f
    assert style.mixed(DARK_TEXT, DARK_WINDOW, 0.6).name() == "#9f9f9f"


@pytest.mark.parametrize("kind", ["light", "dark"])
def test_headings_and_hints_read_on_the_window(kind, desktop, qtbot):
    from gui.panels.base import RunBar, notes_label, section

    desktop.set(kind)
    heading, note, bar = section("Model"), notes_label(), RunBar()
    for w in (heading, note, bar):
        qtbot.addWidget(w)
    bar.set_message("Done")
    hint = QLabel("a hint")
    hint.setStyleSheet(style.hint_style(small=True))
    qtbot.addWidget(hint)
    for label in (heading, note, bar.message, hint):
        assert style.contrast_ratio(_text_colour(label), _window()) >= 4.5, (kind, label.text())
    # a hint stays muted: weaker than the heading, which is near the palette's text
    assert style.contrast_ratio(_text_colour(hint), _window()) < style.contrast_ratio(_text_colour(heading), _window())
    bar.set_message("Token budget: 0 is below 0.001", error=True)
    assert style.contrast_ratio(_text_colour(bar.message), _window()) >= 4.5


def test_light_look_kept(desktop):
    """On the light palette the hint and heading greys are the old ones, within a few steps."""
    desktop.set("light")
    back = _window()
    for colour, old in ((style.hint_color(), "#5f6368"), (style.heading_color(), "#202124")):
        assert max(abs(a - b) for a, b in zip(colour.getRgb()[:3], QColor(old).getRgb()[:3])) <= 8, colour.name()
        assert style.contrast_ratio(colour, back) >= 4.5


@pytest.mark.slow
def test_form_hints_on_a_dark_window(desktop, store, qtbot):
    from gui.panels.inference import InferencePanel
    from gui.panels.training import TrainingPanel

    desktop.set("dark")
    training, inference = TrainingPanel(store), InferencePanel(store)
    for p in (training, inference):
        qtbot.addWidget(p)
    try:
        for hint in (training.fleet_hint, training.batch_hint, inference.limits_hint, inference.demand_hint):
            colour = _text_colour(hint)
            assert style.contrast_ratio(colour, QColor(DARK_WINDOW)) >= 4.5, colour.name()   # was #5f6368: 2.1
    finally:
        training.shutdown()
        inference.shutdown()


def test_small_print_follows_the_application_font(desktop, qtbot):
    from gui.widgets.plot_panel import PlotPanel

    def hint_pt() -> float:
        hint = QLabel("hint")
        hint.setStyleSheet(style.hint_style(small=True))
        qtbot.addWidget(hint)
        hint.ensurePolished()
        return hint.font().pointSizeF()

    desktop.font(9.0)
    assert hint_pt() == pytest.approx(8.0)   # as before at the usual 9 pt
    desktop.font(12.0)
    assert hint_pt() == pytest.approx(12.0 * 8 / 9, abs=0.1)   # 10.7 pt; it stayed 8 pt
    chart = PlotPanel("Installed", y_label="Installed", y_unit="chips")
    qtbot.addWidget(chart)
    chart.resize(700, 500)
    chart.set_series("A", np.arange(3.0), np.arange(3.0))
    chart.layout_legend()
    assert float(chart.legend.opts["labelTextSize"].removesuffix("pt")) == pytest.approx(10.7, abs=0.1)
    desktop.font(6.0)
    assert hint_pt() == pytest.approx(7.0)   # never below 7 pt


def _svg_text_fills(path) -> dict[str, str]:
    """{text: fill} of an SVG's text elements."""
    svg = open(path, encoding="utf-8").read()
    return {text.strip(): fill for fill, text in re.findall(r'<text fill="(#[0-9a-fA-F]{6})"[^>]*>([^<]*)<', svg)}


def test_dark_desktop_chart_texts_keep_the_charts_colours_in_files(desktop, qtbot, tmp_path):
    """A value-axis title fitted at a smaller size (a short chart) lost its colour and took the
    palette's #e6e6e6, on the white chart and in every export."""
    from gui.app import configure_pyqtgraph
    from gui.widgets.plot_panel import PlotPanel

    configure_pyqtgraph()
    desktop.set("dark")
    chart = PlotPanel("Shortfall at peak", y_label="Shortfall", y_unit="Ascend 910B2 chips", time_axis=True)
    qtbot.addWidget(chart)
    chart.show()
    qtbot.waitExposed(chart)
    chart.set_series("Shortfall P50", np.arange(12.0) * 2.6e6, np.linspace(0, 2e6, 12))
    normal_pt = chart.plot_item.getAxis("left").label.font().pointSizeF()
    for height in range(200, 600, 10):   # a height where the title fits only at a smaller size
        chart.resize(380, height)
        QApplication.processEvents()
        chart._fit_texts()
        if chart._shown_y_label and chart._shown_y_label[1] < normal_pt:
            break
    assert chart._shown_y_label[1] < normal_pt, chart._shown_y_label   # the path that dropped the colour
    chart.export_svg(tmp_path / "c.svg", context={})
    fills = _svg_text_fills(tmp_path / "c.svg")
    title = next(t for t in fills if "Ascend 910B2 chips" in t)
    assert fills[title].lower() == "#000000", (title, fills[title])   # was #e6e6e6
    assert DARK_TEXT not in {f.lower() for f in fills.values()}
    assert "color: #000000" in chart.plot_item.getAxis("left").labelString()   # on screen too
    # the notice and the legend too
    chart.set_notice("No demand")
    chart.export_svg(tmp_path / "d.svg", context={})
    assert DARK_TEXT not in {f.lower() for f in _svg_text_fills(tmp_path / "d.svg").values()}


def test_dark_desktop_readout_banner_and_boxes(desktop, qtbot):
    from gui.widgets.banner import MessageBanner
    from gui.widgets.plot_panel import PlotPanel

    desktop.set("dark")
    chart = PlotPanel("t", y_label="y", y_unit="chips")
    qtbot.addWidget(chart)
    assert style.contrast_ratio(_text_colour(chart.readout), QColor(DARK_WINDOW)) >= 4.5   # was #444: 1.2
    banner = MessageBanner()
    qtbot.addWidget(banner)
    for kind, (back, _edge, _text) in {"error": ("#fdecea", "", ""), "info": ("#e8f1fb", "", "")}.items():
        banner.show_message("x", kind)
        button = banner.close_button
        button.ensurePolished()
        ink = button.palette().color(QPalette.ColorRole.ButtonText)
        assert style.contrast_ratio(ink, QColor(back)) >= 4.5, (kind, ink.name())   # was #e6e6e6
    # a box with its own background sets its text and its links: dark on the light box
    box = QLabel("Summary")
    box.setStyleSheet(style.box_style(style.SUMMARY_BOX))
    qtbot.addWidget(box)
    assert style.contrast_ratio(_text_colour(box), QColor(style.SUMMARY_BOX.background)) >= 4.5
    linked = style.box_html(style.SUMMARY_BOX, "Plan <a href='x'>May – Jun instead</a>")
    link = re.search(r"a \{ color: (#[0-9a-f]{6}); \}", linked).group(1)
    assert style.contrast_ratio(link, style.SUMMARY_BOX.background) >= 4.5   # not the palette's #64aaff
    desktop.set("light")   # the light palette's own text and link read on the box: kept
    assert style.SUMMARY_BOX.text_color() == "#000000" and style.SUMMARY_BOX.link_color() == "#0000ff"


@pytest.mark.slow
def test_forecast_summary_box_on_a_dark_desktop(desktop, store, qtbot):
    from PySide6.QtGui import QUndoStack

    from gui.panels.forecast import ForecastPanel

    desktop.set("dark")
    panel = ForecastPanel(store, QUndoStack())
    qtbot.addWidget(panel)
    try:
        colour = _text_colour(panel.summary_label)
        assert style.contrast_ratio(colour, QColor(style.SUMMARY_BOX.background)) >= 4.5, colour.name()
    finally:
        panel.shutdown()


def test_chart_export_suggests_export_alls_short_name(window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    from gui.export_all import planned_names

    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda _parent, _caption, start, _filter:
                                                                     (asked.append(start), ("", ""))[1]))
    chart = window.fleet_panel.chart
    assert len(chart.title) > 100
    chart._export_with_dialog("png")
    name = asked[-1].rsplit("/", 1)[-1]
    assert name == "fleet_installed_chips.png"
    # every built view's charts: the name Export all writes
    for key in ("training", "forecast"):
        window.panel(key)
    planned = {p.name for p in planned_names(tmp_path, window.panels)}
    for key, panel in window.panels.items():
        for chart_key, chart in panel.charts().items():
            assert f"{chart.export_file_stem()}.svg" in planned, (key, chart_key)


def test_a_chart_outside_the_window_gets_a_short_name(qtbot):
    from gui.widgets.plot_panel import PlotPanel

    chart = PlotPanel("Installed chips over time by chip type, P50 of 2,000 trials from the scenario's "
                      "delivery uncertainty and export-licence cut-offs")
    qtbot.addWidget(chart)
    stem = chart.export_file_stem()
    assert stem == "installed-chips-over-time-by-chip-type"   # cut at a word, <= 40 characters


def test_scenario_naming_buttons_say_what_they_do(window):
    bar = window.scenario_bar
    for button, mode, word in ((bar.new_button, "new", "Create"), (bar.rename_button, "rename", "name"),
                               (bar.duplicate_button, "duplicate", "copy")):
        button.click()
        assert word in bar.name_ok.toolTip(), mode
        assert bar.name_cancel.toolTip()
        bar._cancel_name()
