"""A closed loop of fixed lengths with every client sending at t = 0 runs in step: its TTFT
percentiles read one phase (p50 equal to p90) with nothing said (s38 left undone). `serve` now says
so where they collapse, and not where a ramp or a spread breaks the step."""

import json

from engine.cli import main
from engine.serving.run_notes import lockstep_note


def _serve(tmp_path, capsys, *extra):
    args = ["--db", str(tmp_path / "x.db"), "--format", "json", "serve", "--model", "llama3-8b",
            "--chip", "h100-sxm5-80gb", "--concurrency", "32", "--input-len", "2000", "--output-len", "200", *extra]
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_clients_in_step_are_named_and_a_ramp_takes_them_out_of_step(tmp_path, capsys):
    fixed = _serve(tmp_path, capsys)
    assert fixed["ttft_ms_p90"] < 1.005 * fixed["ttft_ms_p50"]
    assert any("TTFT p50 equals p90" in n for n in fixed["notes"])
    ramped = _serve(tmp_path, capsys, "--ramp-s", "2")
    assert not any("run in step" in n for n in ramped["notes"])
    assert ramped["ttft_ms_p50"] < ramped["ttft_ms_p90"]


def test_the_note_is_for_fixed_lengths_several_clients_and_collapsed_percentiles():
    assert lockstep_note(32, 0.0, 0.0, 0.0, 192.6, 192.7)
    assert lockstep_note(32, 0.0, 0.0, 0.0, 190.5, 401.2) == ""   # two phases: the percentiles differ
    assert lockstep_note(1, 0.0, 0.0, 0.0, 192.6, 192.6) == ""
    assert lockstep_note(32, 5.0, 0.0, 0.0, 192.6, 192.6) == ""
    assert lockstep_note(32, 0.0, 0.5, 0.0, 192.6, 192.6) == lockstep_note(32, 0.0, 0.0, 0.5, 192.6, 192.6) == ""
    assert lockstep_note(32, 0.0, 0.0, 0.0, None, None) == ""
