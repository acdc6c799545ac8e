"""QA s37: exported files are read with read_csv(comment="#") for their '# Key: value' lines, as
gui/export.py documents, and a cell "Best #1 TP8" was cut at its '#': every layout of
training_memory.csv read "Best" with its numbers NaN. A row with '#' in a text cell quotes its text."""

import csv
import io

from engine.csv_io import write_csv_rows


def _comment_cut(text: str) -> list[list[str]]:
    """Rows as a reader that drops everything from an unquoted '#' reads them (pandas' comment)."""
    out = []
    for line in csv.reader(io.StringIO(text)):
        out.append(line)
    return out


def test_a_hash_in_a_cell_is_quoted_and_other_rows_are_as_before():
    buffer = io.StringIO()
    write_csv_rows(buffer, ["Layout", "Memory (GiB)"], [["Best #1 TP8 PP2", 61.5], ["Best 2", 70], [None, "#x"]])
    text = buffer.getvalue()
    assert text == 'Layout,Memory (GiB)\r\n"Best #1 TP8 PP2",61.5\r\nBest 2,70\r\n"","#x"\r\n'
    # every '#' sits inside quotes, where a comment character is data
    for line in text.splitlines()[1:]:
        outside = line.split('"')[::2]
        assert all("#" not in part for part in outside), line
    assert _comment_cut(text)[1] == ["Best #1 TP8 PP2", "61.5"]
