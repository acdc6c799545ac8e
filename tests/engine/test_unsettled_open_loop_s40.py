"""An open loop whose engine takes an overload into its running set forms no queue to read in a
short run (QA s40): Llama 3 8B on one H100, 100 / 100 tokens, about 16,000 output tokens/s at most,
read 17,000 served in full at 170 requests/s and "overloaded: false". The run now says it did not
settle (the batch still growing) and leaves the verdict open; a longer run reads the queue."""

import json

import pytest

from engine.serving.run_reading import UNSETTLED_SHARE, unsettled_share
from tests.cli_run import run_cli, use_packaged_catalog

EIGHT_B = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "100",
           "--output-len", "100", "--format", "json"]


def test_a_growing_batch_reads_as_the_share_it_leaves_served():
    # running-sequence-seconds 0, 1,000, 2,400 at 0, 10, 20 s: a batch of 100 then 140, growing 4 a
    # second between the halves' centres (10 s apart): 4 of 100 requests/s not served
    marks = ((0.0, 0.0), (10.0, 1000.0), (20.0, 2400.0))
    # running-sequence-seconds 0, 1,000, 3,000: a batch of 100 then 200, growing 10 a second
    grown = ((0.0, 0.0), (10.0, 1000.0), (20.0, 3000.0))
    assert unsettled_share(grown, 100.0) is None          # 90% served: a batch still filling grows so
    assert unsettled_share(grown, 50.0) == pytest.approx(0.8)
    assert unsettled_share(marks, 20.0) == pytest.approx(0.8)
    assert unsettled_share(marks, 100.0) is None and 1.0 - 4.0 / 100.0 >= UNSETTLED_SHARE
    assert unsettled_share(((0.0, 0.0), (10.0, 1000.0), (20.0, 2000.0)), 100.0) is None   # flat
    assert unsettled_share(marks[:2], 100.0) is None      # no window


def _serve(capsys, *argv):
    code, out, err = run_cli(capsys, *EIGHT_B, *argv)
    assert code == 0, err
    return json.loads(out)


def test_past_saturation_a_short_run_is_not_judged_and_a_long_one_is_overloaded(capsys, monkeypatch):
    use_packaged_catalog(monkeypatch)
    short = _serve(capsys, "--request-rate", "170")
    assert short["overloaded"] is None and short["settled"] is False
    assert short["served_share_of_offered"] is None    # not read (it had said 1: all served)
    assert any(n.startswith("not settled: ") and "--requests 8,000" in n for n in short["notes"])
    long = _serve(capsys, "--request-rate", "170", "--requests", "8000")
    assert long["overloaded"] is True and long["output_tokens_per_s_per_chip"] < 16_000
    assert "settled" not in long
    easy = _serve(capsys, "--request-rate", "100")      # 63% of the most it serves: settles, judged
    assert easy["overloaded"] is False and "settled" not in easy
    assert easy["served_share_of_offered"] == pytest.approx(1.0, abs=0.02)
    assert not any("not settled" in n for n in easy["notes"])


def test_lengths_spread_to_cv_half_and_the_disaggregated_run_are_judged_too(capsys, monkeypatch):
    """QA of the fix: at the Inference view's default spread (CV 0.5) 190 requests/s read 18,997
    output tokens/s per chip served, 31% above the offline 14,481; with --prefill-tp the disaggregated
    block said "serves the 300 requests/s offered" where 8,000 requests read 82% served."""
    use_packaged_catalog(monkeypatch)
    spread = ["--input-len-spread", "0.5", "--output-len-spread", "0.5"]
    past = _serve(capsys, *spread, "--request-rate", "190")
    assert past["overloaded"] is None and past["settled"] is False
    within = _serve(capsys, *spread, "--request-rate", "80")    # about half the offline rate: judged
    assert within["overloaded"] is False and "settled" not in within
    dis = _serve(capsys, "--request-rate", "300", "--prefill-tp", "1")
    assert dis["disaggregated"]["overloaded"] is None and dis["disaggregated"]["settled"] is False
    assert dis["disaggregated"]["served_share_of_offered"] is None
    assert any(n.startswith("disaggregated: not settled: ") for n in dis["notes"])
    assert not any(n.startswith("disaggregated: serves the 300") for n in dis["notes"])
