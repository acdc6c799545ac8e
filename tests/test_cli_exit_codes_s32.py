"""One exit code per kind of mistake (QA s32): a flag's bad value was exit 2 with the usage above it
when argparse typed the flag (`--concurrency 2.5`, `plan --budget abc`) and exit 1 with one line when
the command checked it (`--input-len 2000.5`, `forecast --seed abc`)."""

from __future__ import annotations

import pytest

from engine.cli import main

SERVE = ("serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "100", "--output-len", "10")


def _exit(capsys, argv) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as done:
        code = done.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    (*SERVE, "--concurrency", "2.5"),          # argparse's whole number
    (*SERVE, "--input-len", "2000.5"),         # the command's own check
    ("plan", "--budget", "abc"),
    ("plan", "--confidence", "abc"),
    ("train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "8", "--tokens", "abc"),
    ("train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "8", "--recompute", "some"),
    ("forecast", "--seed", "abc"),
    ("orders", "delete", "2.0"),
    # a negative number with an exponent is a value, as -1 is (s33: "expected one argument", exit 2)
    ("train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "8", "--tokens", "-1e12"),
    (*SERVE, "--request-rate", "-1e-1"),
    (*SERVE, "--request-rate", "-3E0"),
])
def test_a_bad_value_is_exit_1_in_one_line_whichever_flag(capsys, tmp_path, argv):
    code, err = _exit(capsys, ["--db", str(tmp_path / "x.db"), *argv])
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1 and "usage:" not in err


@pytest.mark.parametrize("argv", [("chipz", "list"), ("chips", "foo"), (*SERVE, "--bogus", "1"),
                                  ("serve", "--model", "llama3-8b")])
def test_a_usage_error_stays_exit_2_with_the_usage(capsys, tmp_path, argv):
    code, err = _exit(capsys, ["--db", str(tmp_path / "x.db"), *argv])
    assert code == 2 and "usage:" in err


def test_an_import_with_two_bad_rows_is_one_line_naming_both(capsys, tmp_path):
    """CLI.md: exit 1 with a one-line message naming file, row, field and value. Two bad rows
    printed "nothing imported: 2 problems:" and then a line each (QA s33): the first line named none."""
    bad = tmp_path / "bad.csv"
    bad.write_text("id,vendor,name,bf16_tflops,hbm_gb,hbm_gbps\nc1,V,N,abc,80,2000\nc2,V,N,100,-5,2000\n",
                   encoding="utf-8")
    code, err = _exit(capsys, ["--db", str(tmp_path / "x.db"), "chips", "import", str(bad)])
    assert code == 1
    assert err.splitlines() == [
        "fleetcast: error: nothing imported: 2 problems: bad.csv row 2, column bf16_tflops: 'abc' (not a number); "
        "bad.csv row 3, column hbm_gb: '-5' (must be > 0)"]
