"""Session 27 QA findings, each checked through the command line."""

from __future__ import annotations

import pytest

from tests.cli_run import run_cli


def test_a_batch_that_dp_times_micro_batch_does_not_divide_names_the_numbers(tmp_path, capsys):
    # it said only "global batch not divisible by dp x micro-batch": which batch would run?
    layout = ["--model", "llama3-70b", "--chip", "ascend-910b2", "--chips", "1024", "--tp", "8", "--pp", "2",
              "--dp", "64", "--cp", "1", "--zero", "1", "--recompute", "selective"]
    code, _, err = run_cli(capsys, "--db", str(tmp_path / "x.db"), "train", *layout,
                           "--micro-batch", "2", "--global-batch", "500")
    assert code == 1
    assert err.strip().endswith("is infeasible: global batch 500 is not a multiple of dp 64 x micro-batch 2 = 128 "
                                "sequences (e.g. 384 or 512)")
    code, _, err = run_cli(capsys, "--db", str(tmp_path / "x.db"), "train", *layout,
                           "--micro-batch", "16", "--global-batch", "512")
    assert code == 1 and err.strip().endswith("dp 64 x micro-batch 16 = 1,024 sequences (e.g. 1,024)")
    assert len(err.strip().splitlines()) == 1


def test_orders_delete_takes_ids_written_as_digits_only(tmp_path, capsys):
    # 20e-1, 2.0, +2 named order 2 and deleted it; an import refuses the same id
    db = str(tmp_path / "x.db")
    code, out, _ = run_cli(capsys, "--db", db, "--format", "json", "orders", "list")
    assert code == 0 and '"id": 2' in out
    for text in ("20e-1", "2.0", "+2", "1e0", "0"):
        with pytest.raises(SystemExit) as usage:
            run_cli(capsys, "--db", db, "orders", "delete", text)
        assert usage.value.code == 1   # a bad value is bad input (QA s32), one line
        assert f"invalid id: '{text}' (a whole number written with digits only" in capsys.readouterr().err
    code, out, _ = run_cli(capsys, "--db", db, "--format", "json", "orders", "list")
    assert '"id": 2' in out and '"id": 1' in out
    code, out, _ = run_cli(capsys, "--db", db, "orders", "delete", " 2")
    assert code == 0 and "deleted 1 order" in out


def test_a_table_pads_wide_characters_by_their_display_width():
    from engine.cli import display_width, render_table

    table = render_table([{"buyer": "字节跳动", "quantity": 5}, {"buyer": "ByteDance", "quantity": 10}])
    header, rule, *rows = table.splitlines()
    # every row's second column starts where the header's does, counted in terminal columns
    start = header.index("quantity")
    assert all(display_width(row[: row.index(q)]) == start for row, q in zip(rows, ("5", "10")))
    assert display_width("字节跳动") == 8 and display_width("e\u0301") == 1
    clipped = render_table([{"buyer": "字" * 40}], max_width=10).splitlines()[2]
    assert clipped.rstrip() == "字" * 4 + "…"
