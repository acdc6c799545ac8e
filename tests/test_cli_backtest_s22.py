"""QA s22: the backtest table printed raw tokens per day (1390000000000000) with the unit only at
the end of a long header line; its columns now name the unit and read in trillions."""

import csv
import io
import json

import pytest

from engine.cli import main


def test_the_backtest_table_names_its_unit_and_reads_in_trillions(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    assert main(["--db", db, "--format", "json", "backtest", "--as-of", "2024-09-30"]) == 0
    points = json.loads(capsys.readouterr().out)["points"]   # the JSON keeps tokens per day
    assert main(["--db", db, "--format", "csv", "backtest", "--as-of", "2024-09-30"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == ["date", "actual_T_tokens_per_day", "p10_T_tokens_per_day", "p50_T_tokens_per_day",
                             "p90_T_tokens_per_day", "inside", "p90_over_p10", "actual_over_p50"]
    for row, point in zip(rows, points, strict=True):
        assert float(row["actual_T_tokens_per_day"]) == pytest.approx(point["actual"] / 1e12, rel=5e-3)
        assert float(row["p90_T_tokens_per_day"]) == pytest.approx(point["p90"] / 1e12, rel=5e-3)
    assert main(["--db", db, "backtest", "--as-of", "2024-09-30"]) == 0
    text = capsys.readouterr().out
    assert "(the table in trillions of tokens per day)" in text and "1390000000000000" not in text
