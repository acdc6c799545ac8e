"""QA s22: serve's served share agrees with its overloaded flag at a load the server keeps up with."""

import json

from engine.cli import main


def test_a_sustained_load_with_spread_lengths_reads_served(tmp_path, capsys):
    """14.07 requests/s of CV 1 lengths on 8 x H100 (the SLO load found for TPOT p90 50 ms): it read
    'overloaded: false' beside 79% served, the whole run's long drain counted."""
    rc = main(["--db", str(tmp_path / "s.db"), "serve", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb",
               "--tp", "8", "--input-len", "1024", "--output-len", "256", "--input-len-spread", "1",
               "--output-len-spread", "1", "--seed", "1", "--request-rate", "14.07", "--requests", "2000",
               "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert d["overloaded"] is False and d["served_share_of_offered"] > 0.9
