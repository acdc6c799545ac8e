"""Subcommands that belong to the desktop app rather than the engine.

`gui/__main__.py` loads this module if it exists and calls `register(subparsers)`.
Add further GUI-side subcommands to REGISTRARS below (the chart `export` command goes there:
write `gui/export_cli.py` with its own `register(subparsers)` and list it).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

from engine.commands import Output
from engine.errors import UserError

DESKTOP_FILE_NAME = "fleetcast.desktop"
ICON_FILE_NAME = "fleetcast.svg"
_EXEC_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")


def register(subparsers) -> None:
    _register_install_desktop_entry(subparsers)
    for name in REGISTRARS:
        _register_optional(subparsers, name)


# Modules with a `register(subparsers)` of their own, loaded when present.
REGISTRARS = (
    "gui.export_cli",  # `fleetcast export ...` (charts to PNG/SVG/CSV headless), added later
)


def _register_optional(subparsers, module_name: str) -> None:
    import importlib

    importlib.import_module(module_name).register(subparsers)


# ---- install-desktop-entry ---------------------------------------------------------------------

def _register_install_desktop_entry(subparsers) -> None:
    from engine.cli import add_command

    parser = add_command(
        subparsers, "install-desktop-entry",
        help="add Fleetcast to your desktop's application menu (writes a per-user .desktop file)")
    parser.add_argument("--print", dest="print_only", action="store_true",
                        help="print the .desktop file instead of writing it")
    parser.set_defaults(handler=run_install_desktop_entry)


def applications_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "applications"


def icon_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("fleetcast", appauthor=False))


def _quote_exec_arg(arg: str) -> str:
    """Quote one Exec= argument per the Desktop Entry spec (and escape % field codes)."""
    arg = arg.replace("%", "%%")
    if not _EXEC_RESERVED.search(arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


def launch_command() -> list[str]:
    """The installed `fleetcast` launcher beside this interpreter, else `<python> -m gui`."""
    python = Path(sys.executable).absolute()
    for candidate in (python.parent / "fleetcast", python.parent / "fleetcast.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    return [str(python), "-m", "gui"]


def exec_line_text(exec_args: list[str]) -> str:
    """The value of the entry's Exec= line: each argument quoted as the spec asks."""
    return " ".join(_quote_exec_arg(a) for a in exec_args)


def desktop_entry_text(exec_args: list[str], icon_path: Path) -> str:
    from resources import read_text

    template = read_text(DESKTOP_FILE_NAME)
    exec_line = exec_line_text(exec_args)
    # Icon= is a plain string (no quoting rules); only newlines would break the file.
    icon = str(icon_path).replace("\n", " ")
    return template.replace("@EXEC@", exec_line).replace("@ICON@", icon)


def install_desktop_entry(exec_args: list[str] | None = None) -> tuple[Path, Path]:
    """Copy the icon to the user data dir and write the .desktop file. Returns both paths."""
    from importlib import resources

    exec_args = exec_args or launch_command()
    icon_target = icon_dir() / ICON_FILE_NAME
    desktop_target = applications_dir() / DESKTOP_FILE_NAME
    try:
        icon_target.parent.mkdir(parents=True, exist_ok=True)
        with resources.as_file(resources.files("resources") / ICON_FILE_NAME) as source:
            shutil.copyfile(source, icon_target)
        desktop_target.parent.mkdir(parents=True, exist_ok=True)
        tmp = desktop_target.with_suffix(".desktop.tmp")
        tmp.write_text(desktop_entry_text(exec_args, icon_target.absolute()), encoding="utf-8")
        tmp.chmod(0o755)  # some desktops only trust executable launchers
        os.replace(tmp, desktop_target)
    except OSError as exc:
        raise UserError(f"{exc.filename or desktop_target}: can't write the desktop entry ({exc.strerror})") from None
    return desktop_target, icon_target


# install-desktop-entry's fields, the same with --print or without and in JSON and CSV: `exec` as
# the Exec= line has it (quoted), `text` the entry itself. The JSON alone also has "desktop_file",
# the name its key had before `file` (an alias kept for scripts that read it).
DESKTOP_ENTRY_FIELDS = ("file", "written", "icon", "exec", "text")


def run_install_desktop_entry(args, ctx) -> Output:
    # --db given: the launcher opens that database (it was accepted and left out, so the menu
    # entry for a team's database opened the default one)
    command = launch_command() + (["--db", str(Path(args.db).expanduser().absolute())] if getattr(args, "db", None) else [])
    fmt = getattr(args, "format", "table")
    if args.print_only:
        desktop, icon = applications_dir() / DESKTOP_FILE_NAME, (icon_dir() / ICON_FILE_NAME).absolute()
    else:
        desktop, icon = install_desktop_entry(command)
        icon = icon.absolute()   # (as the entry's Icon= line has it)
    text = desktop_entry_text(command, icon)
    # (each mode had its own keys: no desktop_file with --print, no text without it, and an
    # unquoted exec beside the entry's quoted Exec= line)
    row = dict(zip(DESKTOP_ENTRY_FIELDS, (str(desktop), not args.print_only, str(icon), exec_line_text(command), text)))
    data = {**row, "desktop_file": row["file"]}
    if fmt != "table":
        return Output(data=data, rows=[row], columns=list(DESKTOP_ENTRY_FIELDS))
    if args.print_only:   # the .desktop text, as it was
        return Output(data=data, rows=[], text=text.rstrip("\n"))
    # Plain lines, not a table: the table renderer would clip long paths.
    return Output(data=data, rows=[], text=f"Wrote {desktop}\nWrote {icon}\nLaunches: {row['exec']}\n"
                  "Fleetcast is now in your application menu; if it does not show, log out and back in.")
