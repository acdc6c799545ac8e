"""QA s24 on the CLI as a scripting interface: output that can't be written, closed streams,
abbreviated and repeated flags, long values and undecodable file names in messages, one seed
range, the forecast CSV's precision, install-desktop-entry's formats, SIGTERM, every problem."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from engine import cli
from engine.cli import main
from engine.commands import Output
from tests.case_files import write_csv
from tests.cli_run import run_cli

REPO = Path(__file__).resolve().parents[1]
INFEASIBLE_TRAIN = "train --model deepseek-v3 --chip h20-96gb --chips 1 --tokens 1e12"


def _shell(command: str, tmp_path) -> subprocess.CompletedProcess:
    """`python -m gui COMMAND` with the redirections in `command` (fleetcast's streams)."""
    python = f"'{sys.executable}' -m gui --db '{tmp_path / 's.db'}'"
    return subprocess.run(["bash", "-c", command.replace("FLEETCAST", python)], cwd=REPO, capture_output=True,
                          timeout=120)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", ["--format json models list", f"--format json {INFEASIBLE_TRAIN}"])
def test_output_to_a_full_disk_is_one_error_line_not_a_traceback(tmp_path, args):
    result = _shell(f"FLEETCAST {args} > /dev/full", tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 1
    assert err.splitlines()[-1] == "fleetcast: error: cannot write output (No space left on device)"
    assert "Traceback" not in err and err.count("fleetcast: error") == 1


def test_a_closed_stdout_is_an_error_not_a_silent_success(tmp_path):
    result = _shell("FLEETCAST --format json models list >&-", tmp_path)
    assert result.returncode == 1
    assert result.stderr.decode().splitlines()[-1] == "fleetcast: error: cannot write output (stdout is closed)"


def test_with_stderr_closed_the_error_never_lands_on_stdout(tmp_path):
    """stdout stays one JSON document (the error line was printed after it)."""
    result = _shell(f"FLEETCAST --format json {INFEASIBLE_TRAIN} 2>&-", tmp_path)
    assert result.returncode == 1
    data = json.loads(result.stdout.decode())   # one document, nothing after it
    assert data["model"] == "deepseek-v3" and b"fleetcast: error" not in result.stdout


@pytest.mark.parametrize("argv", [["--d", "DB", "models", "list"], ["--db", "DB", "--form", "json", "models", "list"],
                                  ["--db", "DB", "forecast", "--tri", "100"],
                                  ["--db", "DB", "train", "--model", "llama2-70b", "--chip", "h20-96gb", "--tok", "1e12"]])
def test_abbreviated_flags_are_usage_errors(capsys, tmp_path, argv):
    argv = [str(tmp_path / "a.db") if a == "DB" else a for a in argv]
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_a_global_flag_repeated_with_another_value_is_refused(capsys, tmp_path):
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    for argv in (["--db", a, "models", "list", "--db", b], ["--db", a, "--db", b, "models", "list"],
                 ["--format", "json", "chips", "list", "--format", "csv"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
        assert "given twice" in capsys.readouterr().err
    assert not Path(b).exists()
    # the same value twice is no conflict
    code, out, _ = run_cli(capsys, "--db", a, "--format", "json", "models", "list", "--db", a, "--format", "json")
    assert code == 0 and json.loads(out)


def test_a_long_value_is_elided_in_the_error_line(capsys, tmp_path):
    name = "s" * 50_000 + "THE-END"
    code, _, err = run_cli(capsys, "--db", str(tmp_path / "a.db"), "forecast", "--scenario", name)
    assert code == 1 and len(err) < 1000 and err.count("\n") == 1
    assert "sss" in err and "THE-END" in err and "characters)" in err and "not found" in err


def test_undecodable_file_names_are_backslash_escapes_in_json(capsys, tmp_path):
    folder = tmp_path / os.fsdecode(b"caf\xe9")
    folder.mkdir()
    code, out, _ = run_cli(capsys, "--db", str(tmp_path / "a.db"), "--format", "json", "chips", "export",
                           str(folder / "c.csv"))
    assert code == 0
    assert "\\udc" not in out
    shown = json.loads(out)["file"]
    shown.encode("utf-8")   # no lone surrogates
    assert shown.endswith("caf\\xe9/c.csv")


@pytest.mark.parametrize("command", [["forecast", "--trials", "100", "--months", "6"], ["backtest", "--as-of", "2024-06-01"]])
@pytest.mark.parametrize("seed", ["4294967296", "99999999999999999999", "-1"])
def test_every_command_takes_the_same_seed_range(capsys, tmp_path, command, seed):
    code, _, err = run_cli(capsys, "--db", str(tmp_path / "a.db"), *command, "--seed", seed)
    assert code == 1
    assert f"--seed: {seed} (must be a whole number from 0 to 4,294,967,295)" in err
    assert cli.SEED_MAX == 2 ** 32 - 1


def test_the_forecast_csv_gives_p_meet_to_two_decimals(capsys, tmp_path):
    argv = ["--db", str(tmp_path / "a.db"), "forecast", "--trials", "300", "--months", "30"]
    code, out, _ = run_cli(capsys, "--format", "json", *argv)
    shares = json.loads(out)["prob_meet_demand"]
    code, out, _ = run_cli(capsys, "--format", "csv", *argv)
    cells = [row["prob_meet_demand_pct"] for row in csv.DictReader(io.StringIO(out))]
    assert all(len(c.split(".")[1]) == 2 for c in cells), cells
    for cell, share in zip(cells, shares):
        assert float(cell) == pytest.approx(100 * share, abs=0.005)
    assert any(0 < s < 1 and 100 * s != round(100 * s) for s in shares)   # a month that whole percent rounded


def test_the_file_percent_never_reads_certain_where_it_is_not():
    from engine.commands.forecast import file_percent

    assert [file_percent(s) for s in (0.0, 1.0, 0.9665, 0.99996, 0.00001)] == \
        ["0.00", "100.00", "96.65", "99.99", "0.01"]


def _gui_main(argv):
    from gui.__main__ import main as gui_main

    return gui_main(argv)


def test_install_desktop_entry_follows_format(capsys, tmp_path):
    assert _gui_main(["--format", "json", "install-desktop-entry", "--print"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["written"] is False and "[Desktop Entry]" in printed["text"]
    assert printed["file"].endswith("applications/fleetcast.desktop") and not Path(printed["file"]).exists()
    assert _gui_main(["--format", "json", "install-desktop-entry"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["written"] is True and Path(written["file"]).is_file() and written["file"] == printed["file"]
    assert _gui_main(["--format", "csv", "install-desktop-entry"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1 and rows[0]["file"] == written["file"] and rows[0]["written"] == "True"
    # table: the .desktop text as it was
    assert _gui_main(["install-desktop-entry", "--print"]) == 0
    assert capsys.readouterr().out.startswith("[Desktop Entry]")


def test_sigterm_unwinds_like_ctrl_c_removing_temporary_folders(capsys, tmp_path, monkeypatch):
    """`report` killed with SIGTERM left /tmp/fleetcast-report-XXXX with its PNGs; any command now
    unwinds as on Ctrl+C (where no Qt application runs: the test process may hold one)."""
    monkeypatch.setattr(cli, "_qt_in_use", lambda: False)
    made = []

    def handler(args, ctx):
        with tempfile.TemporaryDirectory(prefix="fleetcast-report-", dir=tmp_path) as folder:
            made.append(folder)
            (Path(folder) / "chart.png").write_bytes(b"png")
            ctx.unsaved = "no report was written to r.pdf"
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("SIGTERM did not stop the command")
        return Output(data=None)

    args = cli.build_parser().parse_args(["--db", str(tmp_path / "a.db"), "models", "list"])
    args.handler = handler
    before = signal.getsignal(signal.SIGTERM)
    assert cli.run_command(args) == 143
    assert made and not Path(made[0]).exists()
    assert capsys.readouterr().err == "fleetcast: terminated; no report was written to r.pdf\n"
    assert signal.getsignal(signal.SIGTERM) is before


def test_every_problem_of_an_import_is_shown(capsys, tmp_path):
    """8 bad rows printed "... and 3 more" and never the last three, in table and JSON formats."""
    path = write_csv(tmp_path / "bad.csv", ["id", "vendor", "name", "bf16_tflops", "hbm_gb", "hbm_gbps"],
                     [[f"c{i}", "V", "N", "-1", "80", "2000"] for i in range(8)])
    db = str(tmp_path / "a.db")
    code, out, err = run_cli(capsys, "--db", db, "chips", "import", str(path))
    lines = err.splitlines()
    assert code == 1 and out == ""
    # one line names the problems (CLI.md), five of them; the three past those a line each (s33)
    assert lines[0].startswith("fleetcast: error: nothing imported: 8 problems: bad.csv row 2, column bf16_tflops")
    assert lines[0].count("bad.csv row ") == 5 and lines[0].endswith("; and 3 more below")
    assert [line.split(",")[0] for line in lines[1:]] == [f"  bad.csv row {r}" for r in range(7, 10)]
    code, out, err = run_cli(capsys, "--db", db, "--format", "json", "chips", "import", str(path))
    data = json.loads(out)
    assert code == 1 and data["error"] == "nothing imported: 8 problems" and len(data["problems"]) == 8
    assert "bad.csv row 9, column bf16_tflops" in data["problems"][-1]


def test_sigterm_during_report_removes_its_temporary_files(tmp_path):
    """The report killed while it draws its charts (in Qt: an exception there crashed the process)."""
    import time

    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "QT_QPA_PLATFORM": "offscreen"}
    out = tmp_path / "r.pdf"
    proc = subprocess.Popen([sys.executable, "-m", "gui", "--db", str(tmp_path / "r.db"), "report", "--out", str(out)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while not list(temp.glob("*/fleetcast-report-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()[-2000:]
    assert err.decode().splitlines()[-1] == f"fleetcast: terminated; no report was written to {out}"
    assert list(temp.iterdir()) == [] and not out.exists()
    assert not list(tmp_path.glob(".r.pdf.*"))
