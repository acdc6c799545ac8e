"""QA s23: a plan no scale of which kept the confidence on the validation trials was sold as a
plan because its fresh trials read 90.1% ($36.5B for the story to Dec 2025, caps lifted); on
8,000 validation trials it read 89.2% and on 48,000 other trials 89.5%. The rule holds wherever a
plan is checked: such a plan is refused, with its size, cost and both readings said."""

import json

from tests.cli_run import run_cli


def test_a_plan_short_on_the_validation_trials_is_no_plan(tmp_path, capsys):
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "a.db"), "--format", "json", "plan", "--until", "2025-12",
                             "--caps", "ascend-910b2=1e7,h20-96gb=1e7")
    d = json.loads(out)
    assert code == 1 and not d["feasible"] and d["status"].endswith("short on the validation trials")
    assert "but no scale of it keeps P(meet demand) >= 90% on 8,000 validation trials drawn apart" in d["why"]
    assert d["why"].startswith("the cheapest plan fitted, ")
