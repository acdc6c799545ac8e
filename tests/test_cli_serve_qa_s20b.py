"""QA s20b: serve's notes on the closed-loop throughput window and the served share at capped lengths."""

import json

import pytest

from engine.cli import main


def _serve(capsys, *args):
    rc = main(["serve", *args, "--format", "json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    return json.loads(out)


def test_a_ramp_longer_than_the_run_is_said(capsys):
    d = _serve(capsys, "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "2000", "--output-len", "300",
               "--concurrency", "32", "--ramp-s", "120")
    assert d["throughput_window_s"] == 0.0
    assert any("never all busy" in n for n in d["notes"])


def test_no_window_note_without_a_ramp(capsys):
    d = _serve(capsys, "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "2000", "--output-len", "300",
               "--concurrency", "32")
    assert "throughput_window_s" not in d


def test_served_share_compares_at_the_capped_lengths(capsys):
    d = _serve(capsys, "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "8", "--input-len", "2000",
               "--output-len", "300", "--input-len-spread", "3", "--output-len-spread", "3", "--request-rate", "2")
    assert d["context_capped_requests"] > 0
    assert d["served_share_of_offered"] > 0.99


def test_a_pipelined_decode_breakdown_says_it_is_one_stage(tmp_path, capsys):
    """PP2: the parts summed to one stage (14.3 ms) beside a 28.7 ms step, labelled the step."""
    code = main(["--db", str(tmp_path / "pp.db"), "serve", "--model", "llama3-405b", "--chip", "h100-sxm5-80gb",
                 "--tp", "8", "--pp", "2", "--weight-dtype", "fp8", "--input-len", "2000", "--output-len", "200",
                 "--concurrency", "1", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and "one of the 2 pipeline stages" in d["decode_breakdown_at"]
    assert d["decode_breakdown_ms"]["total_ms"] == pytest.approx(d["decode_step_ms"] / 2, rel=0.05)
