"""QA s21 (N), the Training view: a fleet-on-a-date count that factors badly was told to "set Chips
to 29,952" while the count field is disabled, without the days there (`train` gives 107.2 against
116.3); and a model whose state outgrows every chip's HBM was told to pick a count with more factors."""

from types import SimpleNamespace

from engine.catalog import reference_chips, reference_models
from engine.training import TrainingInputs
from gui.panels.training import fewer_chips_note, no_fit_advice, no_fit_text, set_chips_words

OOM_AND_BATCH = {"out of memory": 25260, "global batch not divisible by dp x micro-batch": 390}


def test_no_fit_advice_asks_for_chips_where_no_layout_can_hold_the_state():
    inputs = TrainingInputs(model=reference_models()["llama3-405b"], chip=reference_chips()["ascend-910b2"],
                            num_chips=64)
    advice = no_fit_advice(OOM_AND_BATCH, None, 64, inputs)
    assert advice.startswith("Add chips: weights, gradients and Adam state (5.9 TiB) outgrow the 4.0 TiB of HBM "
                             "on 64 chips: at least ~95 chips")
    assert "factors" not in advice and "multiple of 8" not in advice
    search = SimpleNamespace(infeasible_by_reason=OOM_AND_BATCH, layouts_evaluated=25650)
    assert no_fit_text(search, None, 64, advice_first=True, inputs=inputs).startswith("Add chips: ")
    # a count whose HBM holds the state but whose layouts run out of memory: memory, not the
    # count's factors (128 is a multiple of 8; QA s23)
    roomy = TrainingInputs(model=inputs.model, chip=inputs.chip, num_chips=128)
    advice = no_fit_advice(OOM_AND_BATCH, None, 128, roomy)
    assert advice.startswith("Add chips") and "more factors" not in advice


def test_the_fewer_chips_sentence_says_how_to_set_the_count_and_the_days():
    fewer = (29952, 62.33, "TP8 PP16 VPP8 CP2")
    assert set_chips_words(29952) == "set Chips to 29,952"
    assert set_chips_words(29952, fleet=True) == "choose \u201cA chip count\u201d in Chips from and set Chip count to 29,952"
    text = fewer_chips_note(fewer, 30000, fleet=True, days=107.18, days_now=116.32)
    assert "(48 idle)" in text and ", 107.2 days to train against 116.3;" in text
    assert text.endswith("choose \u201cA chip count\u201d in Chips from and set Chip count to 29,952")
    advice = no_fit_advice({"global batch not divisible by dp x micro-batch": 60}, fewer, 30000, fleet=True, days=107.18)
    assert advice.startswith("Choose \u201cA chip count\u201d in Chips from and set Chip count to 29,952 (48 idle)")
    assert advice.endswith(", 107.2 days to train")


def test_a_fleet_on_a_date_that_factors_badly_names_the_way_and_the_days(store, qtbot):
    """30,000 Ascend 910B2 installed on 2025-03-01 (the story's fleet), Llama 3 405B."""
    from gui.panels.training import TrainingPanel

    panel = TrainingPanel(store)
    qtbot.addWidget(panel)
    try:
        panel.apply_scenario_state({**panel.scenario_state(), "model_id": "llama3-405b", "chip_id": "ascend-910b2",
                                    "chips_source": "fleet", "fleet_date": "2025-03-01", "layout_mode": "search",
                                    "tokens_t": 15})
        panel.compute_now()
        assert panel.inputs.num_chips == 30000 and not panel.count_spin.parentWidget().isEnabled()
        m = panel.analysis.fewer_chips[0]
        days = panel.study.estimate(panel.inputs, panel.analysis.fewer_chips[1], m).time_to_train_days
        notes = panel.notes.text()
        assert f"set Chips to {m:,}" not in notes
        assert f"choose \u201cA chip count\u201d in Chips from and set Chip count to {m:,}" in notes
        assert f"{days:,.1f} days to train against {panel.run_estimate.time_to_train_days:,.1f}" in notes
    finally:
        panel.shutdown()
