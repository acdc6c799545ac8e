"""Uncertainty problems: a fixed distribution is never refused over the low/high it does not
read, and the planner-facing messages use percent and days, not field paths or fractions."""

from dataclasses import replace

from engine.forecast import OrderUncertainty, default_scenario, uncertainty_problems, validate_scenario


def test_fixed_distribution_ignores_leftover_low_and_high():
    # The state the issue reports: triangular 0.3/0.5/0.8, then switched to fixed at 100%.
    u = OrderUncertainty(fraction_dist="fixed", fraction_low=0.3, fraction_mode=1.0, fraction_high=0.8)
    assert uncertainty_problems(u, "Huawei orders") == []
    sc = replace(default_scenario(), vendor_uncertainty={"Huawei": u})
    assert not [p for p in validate_scenario(sc) if "Huawei" in p]


def test_triangular_with_mode_above_high_is_reported_in_percent():
    u = OrderUncertainty(fraction_dist="triangular", fraction_low=0.3, fraction_mode=1.0, fraction_high=0.8)
    problems = uncertainty_problems(u, "Huawei orders")
    assert problems == ["Huawei orders: the fulfilled share needs low ≤ most likely ≤ high "
                        "(30% ≤ 100% ≤ 80% does not hold: raise high to at least 100%)"]
    assert "vendor_uncertainty" not in problems[0] and "0.8" not in problems[0]


def test_delay_out_of_range_in_days_and_fixed_mode_still_checked():
    u = OrderUncertainty(delay_dist="uniform", delay_low_days=-5000.0, delay_mode_days=0.0, delay_high_days=30.0)
    assert uncertainty_problems(u, "Order 3") == [
        "Order 3: the delay low -5,000 days must be between -3,650 days and 3,650 days"]
    fixed = OrderUncertainty(fraction_dist="fixed", fraction_mode=1.5)
    assert uncertainty_problems(fixed, "Every order") == [
        "Every order: the fulfilled share most likely 150% must be between 0% and 100%"]
