"""`fleetcast install-desktop-entry` writes a per-user launcher with absolute paths."""

import configparser
import os
import subprocess
import sys
from pathlib import Path

from gui import commands_cli

REPO = Path(__file__).resolve().parents[1]


def _entry(path: Path) -> dict:
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_command_writes_desktop_file_and_icon(tmp_path):
    env = dict(os.environ)  # XDG_DATA_HOME points into tmp_path (conftest)
    result = subprocess.run([sys.executable, "-m", "gui", "install-desktop-entry"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    data_home = Path(env["XDG_DATA_HOME"])
    desktop = data_home / "applications" / "fleetcast.desktop"
    icon = data_home / "fleetcast" / "fleetcast.svg"
    assert str(desktop) in result.stdout and str(icon) in result.stdout
    entry = _entry(desktop)
    assert entry["Type"] == "Application" and entry["Name"] == "Fleetcast"
    assert entry["StartupWMClass"] == "Fleetcast"
    assert entry["Icon"] == str(icon) and Path(entry["Icon"]).is_absolute()
    assert icon.read_bytes().startswith(b"<?xml")
    program = entry["Exec"].split()[0].strip('"')
    assert Path(program).is_absolute() and os.access(program, os.X_OK)
    assert "@" not in "".join(entry.values())  # every template field filled


def test_exec_falls_back_to_interpreter_module(monkeypatch, tmp_path):
    fake_python = tmp_path / "my env" / "bin" / "python3"
    fake_python.parent.mkdir(parents=True)
    fake_python.write_text("")
    monkeypatch.setattr(sys, "executable", str(fake_python))
    assert commands_cli.launch_command() == [str(fake_python), "-m", "gui"]
    text = commands_cli.desktop_entry_text(commands_cli.launch_command(), tmp_path / "i.svg")
    exec_line = next(l for l in text.splitlines() if l.startswith("Exec="))
    assert exec_line == f'Exec="{fake_python}" -m gui'


def test_exec_quoting_follows_the_spec():
    assert commands_cli._quote_exec_arg("/usr/bin/fleetcast") == "/usr/bin/fleetcast"
    assert commands_cli._quote_exec_arg('/a b/"x"$y') == '"/a b/\\"x\\"\\$y"'
    assert commands_cli._quote_exec_arg("/100%/py") == "/100%%/py"


def test_respects_xdg_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "elsewhere"))
    desktop, icon = commands_cli.install_desktop_entry(["/opt/fleetcast/bin/fleetcast"])
    assert desktop == tmp_path / "elsewhere" / "applications" / "fleetcast.desktop"
    assert _entry(desktop)["Exec"] == "/opt/fleetcast/bin/fleetcast"
    assert icon.is_file()


def test_print_option_writes_nothing(tmp_path):
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-m", "gui", "install-desktop-entry", "--print"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("[Desktop Entry]")
    assert not (Path(env["XDG_DATA_HOME"]) / "applications").exists()


def test_a_db_given_is_the_database_the_launcher_opens(tmp_path):
    """`--db team.db install-desktop-entry` wrote a launcher for the default database."""
    env = dict(os.environ)
    team = tmp_path / "team db.db"
    result = subprocess.run([sys.executable, "-m", "gui", "--db", str(team), "install-desktop-entry", "--print"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    exec_line = next(line for line in result.stdout.splitlines() if line.startswith("Exec="))
    assert exec_line.endswith(f'--db "{team}"')
    plain = subprocess.run([sys.executable, "-m", "gui", "install-desktop-entry", "--print"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=60)
    assert "--db" not in next(line for line in plain.stdout.splitlines() if line.startswith("Exec="))
