"""A plan refused under tight caps says what ordering at the caps reaches, and when that is within
the validation trials' noise of the confidence (QA s40): a 40,000-a-quarter H20 cap at 80% through
June 2025 was refused "raise the caps" quoting only a 36,000-chip plan at 77.9%, where the caps'
most reads 79.6% on the validation trials (independent trials read it at 80.7%)."""

import math
import types

from engine.forecast_plan_verdict import _caps_reach_text
from tests.cli_run import run_cli


def test_a_tight_cap_refusal_quotes_the_caps_reach_and_calls_it_borderline(tmp_path, capsys):
    code, _out, err = run_cli(capsys, "--db", str(tmp_path / "p.db"), "plan", "--until", "2025-06", "--confidence",
                              "0.8", "--caps", "h20-96gb=40000")
    assert code == 1
    assert ("; ordering every candidate at its caps reads 79.6% in the worst target month on the 8,000 validation "
            "trials, within one standard error (0.4 points) of 80%: a borderline case") in err
    assert err.index("in its worst month on 4,000 fresh trials") < err.index("ordering every candidate at its caps")


def test_the_reach_is_borderline_only_within_one_standard_error():
    req = types.SimpleNamespace(validation_trials=8000, confidence=0.9)
    se = math.sqrt(0.9 * 0.1 / 8000)    # 0.34 points
    near = _caps_reach_text(types.SimpleNamespace(caps_reach_lowest=0.9 - 0.9 * se), req)
    far = _caps_reach_text(types.SimpleNamespace(caps_reach_lowest=0.9 - 1.1 * se), req)
    assert "borderline" in near and "borderline" not in far and far.startswith("; ordering every candidate at")
    assert _caps_reach_text(types.SimpleNamespace(caps_reach_lowest=None), req) == ""
