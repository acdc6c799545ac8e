"""QA s22 on `fleetcast forecast` text and files, and import row numbers: P(meet demand) in the
table and CSV carries its unit (percent), the JSON's serving capacity says it is output tokens/s,
and an import error names the row a spreadsheet shows, however many lines a quoted cell spans."""

import csv
import io
import json

import pytest

from engine.cli import main
from engine.errors import UserError


def _out(capsys, *argv) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_p_meet_in_the_table_and_csv_is_in_percent_and_the_json_keeps_its_share(capsys, tmp_path):
    """QA: the CSV column prob_meet_demand read 0.5315 (and 0.01 for 1%) beside a summary in
    percent and the export's "P(meet demand) (%)"."""
    from engine.commands.forecast import file_percent

    db = str(tmp_path / "f.db")
    argv = ["--db", db, "forecast", "--months", "30", "--trials", "200"]
    data = json.loads(_out(capsys, "--format", "json", *argv))
    rows = list(csv.DictReader(io.StringIO(_out(capsys, "--format", "csv", *argv))))
    assert "prob_meet_demand" not in rows[0] and "prob_meet_demand_pct" in rows[0]
    shares = data["prob_meet_demand"]   # the JSON contract: a share of trials, 0 to 1
    assert all(0 <= p <= 1 for p in shares) and any(0 < p < 1 for p in shares)
    for row, share in zip(rows, shares):
        assert row["prob_meet_demand_pct"] == file_percent(share)
    assert any(float(row["prob_meet_demand_pct"]) > 1 for row in rows)
    assert "prob_meet_demand_pct" in _out(capsys, *argv)


def test_the_monthly_table_keys_its_percent_column_as_percent():
    """The GUI's table (headers/rows) and the files (keys/records) give the same percent."""
    from dataclasses import replace

    from engine.catalog import reference_chips, reference_models
    from engine.forecast import default_scenario, run_forecast
    from engine.forecast_inputs import build_inputs, story_orders
    from engine.studies_forecast import forecast_monthly_table

    sc = replace(default_scenario(), months=24, trials=200, jobs=())
    result = run_forecast(build_inputs(story_orders(), reference_chips(), reference_models(), sc))
    table = forecast_monthly_table(result)
    col = table.headers().index("P(meet demand) (%)")
    assert table.keys()[col] == "prob_meet_demand_pct"
    for row, rec, share in zip(table.rows(), table.records(), result.prob_meet_demand):
        assert row[col] == rec["prob_meet_demand_pct"] == pytest.approx(100 * share)


def test_the_serving_capacity_in_tokens_per_s_says_output_tokens():
    from engine.commands.forecast import UNITS

    assert "output tokens/s" in UNITS["serving_capacity_tokens_per_s_p50"]


ORDERS_HEADER = "buyer,vendor,chip_id,quantity,order_date,note\n"


def _import_error(capsys, tmp_path, text: str) -> str:
    path = tmp_path / "rowno.csv"
    path.write_text(text, encoding="utf-8")
    assert main(["--db", str(tmp_path / "i.db"), "orders", "import", str(path)]) != 0
    return capsys.readouterr().err


def test_an_import_error_names_the_spreadsheet_row_after_a_cell_over_several_lines(capsys, tmp_path):
    """QA: after a note over three lines, the next record's error said "row 5" (text lines) where
    a spreadsheet shows row 3."""
    err = _import_error(capsys, tmp_path, ORDERS_HEADER + 'B,NVIDIA,h20-96gb,10,2024-06-01,"line1\nline2\nline3"\n'
                                          "B,NVIDIA,h20-96gb,-5,2024-06-01,x\n")
    assert "rowno.csv row 3, column quantity" in err and "row 5" not in err
    # a blank row is a row in a spreadsheet too
    err = _import_error(capsys, tmp_path, ORDERS_HEADER + "B,NVIDIA,h20-96gb,10,2024-06-01,x\n\n"
                                          "B,NVIDIA,h20-96gb,-5,2024-06-01,x\n")
    assert "rowno.csv row 4, column quantity" in err


def test_a_quote_never_closed_after_a_multiline_cell_names_its_row(tmp_path):
    from engine.csv_io import CsvReader

    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,"x\ny\nz"\n2,"open\n3,4\n', encoding="utf-8")
    seen = []
    with CsvReader(path) as reader, pytest.raises(UserError, match=r"q.csv row 3: a quoted cell opens on this row"):
        for line, _ in reader.rows():
            seen.append(line)
    assert seen == [2]
