"""QA s24: a scenario whose saved Training or Inference inputs name a model and a chip the store no
longer has (deleted): the view's banner names both, each where it is looked for, and what it shows
instead; `export`'s warning lines say the same of the panels it builds."""

import pytest

from engine.store import open_store


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "refs.db")
    yield s
    s.close()


def _panel(kind, store, qtbot):
    if kind == "training":
        from gui.panels.training import TrainingPanel as cls
    else:
        from gui.panels.inference import InferencePanel as cls
    panel = cls(store)
    qtbot.addWidget(panel)
    return panel


@pytest.mark.parametrize("kind", ["training", "inference"])
def test_the_banner_names_both_a_missing_model_and_a_missing_chip(store, qtbot, kind):
    """QA: the chip's banner replaced the model's; the model was said to be "not in the catalog"."""
    panel = _panel(kind, store, qtbot)
    try:
        panel.apply_scenario_state({"model_id": "qwen7b-yarn", "chip_id": "cust-x1"})
        text = panel.banner.text()
        model, chip = panel.model_combo.currentText(), panel.chip_combo.currentText()
        assert (f"model 'qwen7b-yarn', which is not among the model presets: showing {model}; "
                f"chip 'cust-x1', which is not in the catalog: showing {chip}.") in text
        assert "kept unless you edit this view" in text
    finally:
        panel.shutdown()


@pytest.mark.parametrize("kind", ["training", "inference"])
def test_a_missing_model_alone_is_not_said_to_be_missing_from_the_catalog(store, qtbot, kind):
    panel = _panel(kind, store, qtbot)
    try:
        panel.apply_scenario_state({"model_id": "qwen7b-yarn", "chip_id": "h100-sxm5-80gb"})
        text = panel.banner.text()
        assert "model 'qwen7b-yarn', which is not among the model presets: showing" in text
        assert "catalog" not in text and "chip" not in text
        panel.banner.dismiss()
        panel.apply_scenario_state({"model_id": "llama3-8b", "chip_id": "h100-sxm5-80gb"})
        assert "which is not" not in panel.banner.text()
    finally:
        panel.shutdown()


def test_export_warnings_name_what_the_built_panels_show(store, qtbot):
    """The lines `export`/`report` print name the fallback the offscreen views computed."""
    from gui.export_all import build_offscreen_panels, dispose_offscreen_panels
    from gui.export_cli import missing_choice_warnings

    from PySide6.QtWidgets import QApplication

    params = store.scenario("Story default")["params"]
    store.save_scenario("Study Q", {**params, "ui": {"training": {"model_id": "gone-model"},
                                                     "inference": {"chip_id": "gone-chip"}}})
    panels = build_offscreen_panels(store, "Study Q")
    try:
        shown_model = panels["training"].model_combo.currentText()
        shown_chip = panels["inference"].chip_combo.currentText()
        assert missing_choice_warnings(store, "Study Q", panels) == [
            f"scenario 'Study Q': its Training view names model 'gone-model', which is not among the model presets "
            f"(deleted?): its figures are for {shown_model} instead",
            f"scenario 'Study Q': its Inference view names chip 'gone-chip', which is not in the catalog (deleted?): "
            f"its figures are for {shown_chip} instead"]
        assert missing_choice_warnings(store, "Story default", panels) == []
    finally:
        dispose_offscreen_panels(panels, QApplication.instance())
