"""QA s36: a chip or model preset deleted by another program while the Forecast showed it unsaved
was saved into the baseline; every forecast, plan and report of it and its what-ifs then failed.
The save is refused, naming the field and the id."""

from engine.cli import main


def test_a_save_naming_a_chip_or_model_deleted_meanwhile_is_refused(window, store, capsys):
    panel = window.panel("forecast")
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("qwen2.5-72b"))
    panel.unit_chip_combo.setCurrentIndex(panel.unit_chip_combo.findData("mi300x"))
    assert window.is_modified()
    before = store.scenario("Story default")["params"]["demand"]
    # another program deletes them (no saved scenario names them yet)
    for kind, ident in (("models", "qwen2.5-72b"), ("chips", "mi300x")):
        assert main(["--db", str(store.path), kind, "delete", ident, "--force"]) == 0
    capsys.readouterr()
    assert not window.scenario_bar.save_current()
    said = window.scenario_bar.message.text()
    assert said.startswith("Not saved: the Forecast's ") and "(deleted by another program?); pick another" in said
    assert "'mi300x' is not in the chip catalog" in said or "'qwen2.5-72b' is not a model preset" in said
    assert store.scenario("Story default")["params"]["demand"] == before   # nothing written
    # the model alone (the story serves on every chip type, naming no chip itself): refused too
    panel.unit_chip_combo.setCurrentIndex(panel.unit_chip_combo.findData(before["chip_id"] or "ascend-910b2"))
    assert not window.scenario_bar.save_current()
    assert "Serving model: 'qwen2.5-72b' is not a model preset" in window.scenario_bar.message.text()
    # chosen again from what the catalog holds, the save goes through
    panel.model_combo.setCurrentIndex(panel.model_combo.findData(before["model_id"]))
    panel.unit_chip_combo.setCurrentIndex(panel.unit_chip_combo.findData(before["chip_id"] or "ascend-910b2"))
    assert window.scenario_bar.save_current()
