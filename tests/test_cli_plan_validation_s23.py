"""QA s23: a plan no scale of which kept the confidence on the validation trials was sold as a
plan because its fresh trials read 90.1% ($36.5B for the story to Dec 2025, caps lifted); on
8,000 validation trials it read 89.2% and on 48,000 other trials 89.5%. The rule holds wherever a
plan is checked: such a plan is refused, with its size, cost and both readings said."""

import json

from tests.cli_run import run_cli


def test_a_plan_short_on_the_validation_trials_is_no_plan(tmp_path, capsys):
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "a.db"), "--format", "json", "plan", "--from", "2025-09", "--until", "2025-12",
                             "--caps", "ascend-910b2=1e7,h20-96gb=1e7")
    d = json.loads(out)
    assert code == 1 and not d["feasible"] and d["status"].endswith("short on the validation trials")
    assert "but no scale of it keeps P(meet demand) >= 90% on 8,000 validation trials drawn apart" in d["why"]
    assert d["why"].startswith("the cheapest plan fitted, ")


def test_the_plan_says_which_fresh_trials_a_forecast_reads_it_on(tmp_path, capsys):
    """QA s23: README says `forecast` reads the plan's P(meet) at the same seed and trials, but the
    fresh trials' seed was printed nowhere."""
    code, out, _ = run_cli(capsys, "--db", str(tmp_path / "a.db"), "--format", "json", "plan", "--from", "2025-03",
                           "--until", "2025-05")
    d = json.loads(out)
    assert code == 0 and d["fresh_trials"] == 4000 and d["fresh_seed"] == 2024 + 7919
    code, out, _ = run_cli(capsys, "--db", str(tmp_path / "a.db"), "plan", "--from", "2025-03", "--until", "2025-05")
    assert "on 4,000 fresh trials (seed 9943)" in out
