"""`fleetcast ARGS` in process for a CLI test: (exit code, stdout, stderr)."""

from __future__ import annotations

from engine.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def use_packaged_catalog(monkeypatch) -> None:
    """The CLI on the packaged catalog alone: it falls back to it when the store cannot be imported."""
    import engine.cli as cli

    def no_store(self):
        raise ImportError("store not used in these tests")

    monkeypatch.setattr(cli.Context, "store", no_store)
