"""`serve` says when the simulated lengths average far from the means asked (QA s40): at CV 10 a
1,000-token prompt averaged 594 over 2,000 draws capped at 8K, and mean TTFT fell from 109 to 100 ms
as the spread rose, read as an effect of variable traffic."""

import json

from tests.cli_run import run_cli, use_packaged_catalog

RUN = ["serve", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "4", "--input-len", "1000",
       "--output-len", "200", "--request-rate", "4", "--requests", "400", "--format", "json"]


def _notes(capsys, *argv):
    code, out, err = run_cli(capsys, *RUN, *argv)
    assert code == 0, err
    return [n for n in json.loads(out)["notes"] if n.startswith("the simulated requests average")]


def test_a_spread_whose_draws_average_far_from_the_mean_is_said(capsys, monkeypatch):
    use_packaged_catalog(monkeypatch)
    wide = _notes(capsys, "--input-len-spread", "10")
    assert len(wide) == 1 and "where 1,000 was asked" in wide[0] and "output" not in wide[0].split(":")[0]
    got = float(wide[0].split("average prompt ")[1].split(" tokens")[0].replace(",", ""))
    assert not 900 <= got <= 1100
    assert _notes(capsys, "--input-len-spread", "0.5") == []     # within 10%: nothing to say
    assert _notes(capsys) == []
