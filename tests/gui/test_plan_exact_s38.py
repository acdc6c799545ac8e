"""The Plan form rounds and clamps: a saved study of 5,000 trials ran as the field's 2,000, a
confidence of 0.9055 as 0.906 and a budget of 1.234567e9 USD as 1.23e9, while `plan --scenario`
refused the first and used the others exactly (QA s37). Loaded values are kept while the fields
show them; a value the field cannot hold is refused in the study's words."""

from engine.studies_forecast import PlanStudy


def test_saved_values_the_fields_round_are_kept_exactly(plan_panel):
    plan_panel.apply_scenario_state(PlanStudy(confidence=0.9055, budget_usd=1.234567e9, samples=333).to_dict())
    assert plan_panel.confidence.decimals() == 1 and plan_panel.budget.decimals() == 2   # the fields round
    study = plan_panel.study()
    assert (study.confidence, study.budget_usd, study.samples) == (0.9055, 1.234567e9, 333)
    assert plan_panel.scenario_state()["confidence"] == 0.9055


def test_a_saved_sample_count_over_the_range_is_refused_not_run_as_2000(plan_panel):
    plan_panel.apply_scenario_state(PlanStudy(samples=5000).to_dict())
    assert plan_panel.samples.value() == 2000          # what the field can show
    study = plan_panel.study()
    assert study.samples == 5000
    assert [p.message for p in study.problems() if p.field == "samples"] == ["Fitted on 5000 trials: use 20 to 2,000."]
    _cands, problems = plan_panel.candidates()
    assert "Fitted on 5000 trials: use 20 to 2,000." in problems


def test_a_field_the_user_changes_reads_its_own_value(plan_panel):
    plan_panel.apply_scenario_state(PlanStudy(confidence=0.9055, budget_usd=1.234567e9, samples=5000).to_dict())
    plan_panel.confidence.setValue(95.0)
    plan_panel.budget.setValue(2.5)
    plan_panel.samples.setValue(400)
    study = plan_panel.study()
    assert (study.confidence, study.budget_usd, study.samples) == (0.95, 2.5e9, 400)


def test_loading_another_study_forgets_the_first(plan_panel):
    plan_panel.apply_scenario_state(PlanStudy(confidence=0.9055, samples=5000).to_dict())
    plan_panel.apply_scenario_state(PlanStudy().to_dict())
    study = plan_panel.study()
    assert (study.confidence, study.budget_usd, study.samples) == (0.9, None, 200)


def test_a_hand_edited_study_with_text_shows_defaults_and_names_the_value(plan_panel):
    plan_panel.apply_scenario_state({"confidence": "high", "samples": "many", "budget_usd": None})
    fields = {p.field for p in plan_panel.study().problems()}
    assert {"confidence", "samples"} <= fields


def test_typing_the_number_the_field_shows_takes_it(plan_panel, qtbot):
    """QA s38: a saved 5,000 shown as 2,000 stayed 5,000, and refused, after the user typed 2000."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QLineEdit

    plan_panel.apply_scenario_state(PlanStudy(samples=5000).to_dict())
    edit = plan_panel.samples.findChild(QLineEdit)
    edit.selectAll()
    QTest.keyClicks(edit, "2000")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    assert plan_panel.samples.value() == 2000
    assert plan_panel.study().samples == 2000 and not plan_panel.study().problems()
