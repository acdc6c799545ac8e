"""`fleetcast` / `python -m gui`: no subcommand opens the window; subcommands run headless."""

from __future__ import annotations

import sys


INTERRUPTED_EXIT = 130   # 128 + SIGINT, as a shell reports it


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        # Ctrl+C while the libraries load or the arguments are read: nothing has been opened
        # yet, so say so in one line (a command's own interruption is `run_command`'s to report)
        from engine import cli

        parser = cli.build_parser(extra_registrars=_gui_registrars())
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("fleetcast: interrupted before it started; nothing was opened or saved", file=sys.stderr)
        return INTERRUPTED_EXIT
    if getattr(args, "handler", None) is not None:
        return cli.run_command(args)
    from gui.syslibs import check_before_window

    if not check_before_window():  # says which system libraries to install, instead of Qt's abort
        return 1
    from gui.app import run_app

    return run_app(db_path=args.db)


def _gui_registrars():
    """Subcommands that need Qt (export) or the desktop (install-desktop-entry)."""
    from gui import commands_cli, report_cli

    return [commands_cli.register, report_cli.register]


if __name__ == "__main__":
    sys.exit(main())
