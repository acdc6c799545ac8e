"""QA s22: `validate` cut a row's reason at 48 characters in its table and named only the case id;
each row not predicted is now printed whole under the summary, with its file row."""

from pathlib import Path

from engine.cli import main
from tests.case_files import write_cases

PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "validation" / "training_public.csv"


def test_a_row_not_predicted_is_said_whole_with_its_file_row(tmp_path, capsys):
    count = {"n": 0}

    def blank_the_fourth(row):
        count["n"] += 1
        if count["n"] == 4:
            row["layers"] = ""

    cases = write_cases(PUBLIC, tmp_path / "ours.csv", keep=lambda r: r["chip"].startswith("ascend"),
                        change=blank_the_fourth, limit=6)
    assert main(["--db", str(tmp_path / "v.db"), "validate", "training", "--cases", str(cases)]) == 0
    lines = capsys.readouterr().out.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1
    # the fourth data row is file row 5 (row 1 is the header); the reason whole, not cut at 48
    assert errors[0].startswith(f"error: {cases} row 5 (")
    assert errors[0].endswith("layers: '' (layers, hidden and heads must be whole numbers above 0)")
