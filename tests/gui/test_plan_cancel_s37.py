"""QA s37: Esc before any plan read "Cancelled: the plan shown before stays"; there was none."""


def test_a_cancel_before_any_plan_says_there_is_none(window):
    plan = window.panel("plan")
    assert plan.result is None
    plan._on_cancelled()
    assert plan.progress_bar.format() == "Cancelled: no plan yet"
    plan.result = object()   # a plan on screen: it stays
    plan._on_cancelled()
    assert plan.progress_bar.format() == "Cancelled: the plan shown before stays"
    plan.result = None
