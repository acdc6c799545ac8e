"""`fleetcast ARGS` in process for a CLI test: (exit code, stdout, stderr)."""

from __future__ import annotations

from engine.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
