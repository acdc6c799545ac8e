"""QA s24 (second round) on today's CLI and store changes: a write error after a saved command says
what was saved, an SQLite file with no tables is an empty file, a read-only database's backup is
the owner's to write, nothing but results on stdout (closed stderr, full disk for --help and
--version), the import's update hint, one --seed wording, a mistyped global flag named,
install-desktop-entry's keys, and P(meet) in exported files to 2 decimals."""

import csv
import errno
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.store import open_store, transfer
from engine.store.store import StoreError
from tests.case_files import write_csv
from tests.cli_run import run_cli

REPO = Path(__file__).resolve().parents[1]
ORDER_HEADER = ["buyer", "vendor", "chip_id", "quantity", "order_date", "deliveries"]
NEW_ORDERS = [["Acme", "NVIDIA", "h20-96gb", 1000, "2024-01-20", "2024-02-01:1000"],
              ["Acme", "NVIDIA", "h20-96gb", 2000, "2024-01-21", ""]]
FILLED = "was an empty file; it now holds a new database with the demo chips, orders and scenarios"
NEEDS_FULL = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


def _shell(command: str, tmp_path) -> subprocess.CompletedProcess:
    """`python -m gui COMMAND` with the redirections in `command` (fleetcast's streams)."""
    python = f"'{sys.executable}' -m gui"
    return subprocess.run(["bash", "-c", command.replace("FLEETCAST", python)], cwd=tmp_path, capture_output=True,
                          timeout=120)


class _FullDisk(io.StringIO):
    """stdout on a full disk: every write fails as `> /dev/full` does."""

    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _on_full_disk(monkeypatch, *argv) -> tuple[int, str]:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", _FullDisk())
    monkeypatch.setattr(sys, "stderr", err)
    code = main(list(argv))
    monkeypatch.undo()
    return code, err.getvalue()


# ---- 1. a write error after a saved command ---------------------------------------------------

def test_a_write_error_after_a_saved_command_says_what_was_saved(monkeypatch, tmp_path):
    """`orders import my_orders.csv > /dev/full` said only "cannot write output": the obvious retry
    imported the orders twice."""
    db = str(tmp_path / "v.db")
    path = write_csv(tmp_path / "my_orders.csv", ORDER_HEADER, NEW_ORDERS)
    code, err = _on_full_disk(monkeypatch, "--db", db, "orders", "import", str(path))
    assert code == 1
    assert err.splitlines()[-1].startswith("fleetcast: error: cannot write output (No space left on device); "
                                           "the import was saved: 2 order(s) added")
    store = open_store(db)
    added = [o.id for o in store.orders() if o.quantity in (1000, 2000) and o.order_date.day in (20, 21)]
    store.close()
    assert len(added) == 2
    # a command without words of its own: that the database changed, as on Ctrl+C
    code, err = _on_full_disk(monkeypatch, "--db", db, "orders", "delete", str(added[0]))
    assert code == 1
    assert err.splitlines()[-1] == (f"fleetcast: error: cannot write output (No space left on device); a change "
                                    f"was saved to {db}; check it before running the command again")
    code, err = _on_full_disk(monkeypatch, "--db", db, "backup", str(tmp_path / "b.db"))
    assert code == 1 and err.splitlines()[-1].endswith(f"; the backup was written to {tmp_path / 'b.db'}")
    # nothing saved: the line as before
    code, err = _on_full_disk(monkeypatch, "--db", db, "orders", "list")
    assert code == 1 and err.splitlines()[-1] == "fleetcast: error: cannot write output (No space left on device)"


@NEEDS_FULL
def test_an_import_to_a_full_disk_says_it_was_saved(tmp_path):
    write_csv(tmp_path / "my_orders.csv", ORDER_HEADER, NEW_ORDERS)
    result = _shell("FLEETCAST --db v1.db orders import my_orders.csv > /dev/full", tmp_path)
    assert result.returncode == 1
    assert "cannot write output (No space left on device); the import was saved: 2 order(s) added" in \
        result.stderr.decode().splitlines()[-1]


# ---- 2. an SQLite file with no tables -----------------------------------------------------------

def _empty_sqlite(path: Path, *pragmas: str) -> Path:
    conn = sqlite3.connect(path)
    for pragma in pragmas:
        conn.execute(pragma)
    conn.execute("vacuum")
    conn.close()
    return path


def test_an_sqlite_file_with_no_tables_says_it_was_filled_as_an_empty_file(capsys, tmp_path):
    """It silently got the demo orders, where a 0-byte file said so."""
    path = _empty_sqlite(tmp_path / "v2.db")
    assert path.stat().st_size > 0
    store = open_store(path)
    try:
        assert store.filled_notice == FILLED and FILLED in store.notice
        assert store.orders()   # the demo orders, said
    finally:
        store.close()
    again = open_store(path)   # the second time it is the database it now is: nothing said
    try:
        assert again.filled_notice == ""
    finally:
        again.close()
    code, _, err = run_cli(capsys, "--db", str(_empty_sqlite(tmp_path / "v3.db")), "orders", "list")
    assert code == 0 and f"fleetcast: note: {tmp_path / 'v3.db'}: {FILLED}" in err
    code, _, err = run_cli(capsys, "--db", str(tmp_path / "new.db"), "orders", "list")   # a new file: no note
    assert code == 0 and FILLED not in err


@pytest.mark.parametrize("pragma", ["PRAGMA user_version = 7", "PRAGMA application_id = 1234"])
def test_an_sqlite_file_with_another_programs_mark_is_still_foreign(tmp_path, pragma):
    path = _empty_sqlite(tmp_path / "theirs.db", pragma)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a Fleetcast database"):
        open_store(path)
    assert path.read_bytes() == before


# ---- 3. a read-only database's backup --------------------------------------------------------

@pytest.mark.parametrize("source_mode, copy_mode", [(0o444, 0o644), (0o400, 0o600), (0o600, 0o600),
                                                   (0o640, 0o640), (0o664, 0o644)])
def test_a_backup_is_the_owners_to_write_and_as_private_as_the_database(tmp_path, source_mode, copy_mode):
    """A 0444 database's backup was 0444, though its note says opening it writable upgrades it."""
    path = tmp_path / "fleet.db"
    open_store(path).close()
    os.chmod(path, source_mode)
    store = open_store(path)
    try:
        target = store.backup_to(tmp_path / "copy.db")
    finally:
        store.close()
        os.chmod(path, 0o600)
    assert stat.S_IMODE(target.stat().st_mode) == copy_mode


# ---- 4 and 5. stdout holds results only, and a failed --help/--version says so ------------------

def test_a_usage_error_with_stderr_closed_prints_nothing_on_stdout(tmp_path):
    """`fleetcast chips lis 2>&- | cat` printed the usage text on stdout."""
    for command in ("FLEETCAST chips lis 2>&-", "FLEETCAST --form json chips list 2>&-", "FLEETCAST 2>&- --bogus"):
        result = _shell(command, tmp_path)
        assert result.returncode == 2 and result.stdout == b"", command


@NEEDS_FULL
@pytest.mark.parametrize("flags", ["--version", "--help", "chips --help", "chips list --version"])
def test_help_and_version_to_a_full_disk_fail_with_one_line(tmp_path, flags):
    result = _shell(f"FLEETCAST {flags} > /dev/full", tmp_path)
    assert result.returncode == 1
    assert result.stderr.decode() == "fleetcast: error: cannot write output (No space left on device)\n"


def test_help_and_version_still_print_and_exit_0(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("fleetcast ")
    with pytest.raises(SystemExit) as done:
        main(["chips", "--help"])
    assert done.value.code == 0 and "usage: fleetcast chips" in capsys.readouterr().out


# ---- 6. the import's update hint -----------------------------------------------------------------

def test_the_update_hint_names_the_order_just_added_and_works_as_said(tmp_path, capsys):
    """It said "`orders delete 2` first, or give the row id 2" though the row was already added as
    order 4, and a row with id 2 is refused without --replace."""
    order = ["Acme", "NVIDIA", "h20-96gb", 3000, "2024-01-20"]
    db = tmp_path / "fleet.db"
    store = open_store(db)
    try:
        jan = write_csv(tmp_path / "jan.csv", ORDER_HEADER, [order + ["2024-02-01:1000"]])
        [stored] = transfer.import_orders(store, jan).added
        feb = write_csv(tmp_path / "feb.csv", ORDER_HEADER, [order + ["2024-02-01:1000;2024-03-01:500"]])
        second = transfer.import_orders(store, feb)
        [added] = second.added
        assert second.warnings == [
            f"feb.csv row 2: looks like an update of order {stored}: the same buyer, vendor, chip, quantity and "
            f"order date, differing in deliveries; added as order {added}; to update order {stored} instead: "
            f"`orders delete {added}`, then import the row with id {stored} and --replace"]
    finally:
        store.close()
    # what it says to do does what it says
    assert run_cli(capsys, "--db", str(db), "orders", "delete", str(added))[0] == 0
    fixed = write_csv(tmp_path / "fixed.csv", ["id"] + ORDER_HEADER,
                      [[stored] + order + ["2024-02-01:1000;2024-03-01:500"]])
    code, _, err = run_cli(capsys, "--db", str(db), "orders", "import", str(fixed), "--replace")
    assert code == 0, err
    store = open_store(db)
    try:
        deliveries = {(str(d["date"]), d["quantity"]) for d in store.delivery_rows(stored)}
        assert deliveries == {("2024-02-01", 1000), ("2024-03-01", 500)}
        assert added not in {o.id for o in store.orders()}
    finally:
        store.close()


# ---- 7. one --seed wording ------------------------------------------------------------------------

SERVE = ["serve", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--input-len", "1000", "--output-len", "100"]


@pytest.mark.parametrize("command", [["forecast", "--trials", "100", "--months", "6"],
                                     ["backtest", "--as-of", "2024-06-01"], SERVE])
@pytest.mark.parametrize("seed", ["-1", "1.5", "4294967296", "x"])
def test_every_commands_seed_is_refused_in_one_wording_and_exit_code(capsys, tmp_path, command, seed):
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "a.db"), *command, "--seed", seed)
    assert code == 1 and out == ""
    assert err == f"fleetcast: error: --seed: {seed} (must be a whole number from 0 to 4,294,967,295)\n"


def test_a_seed_in_e_notation_is_still_a_whole_number(capsys, tmp_path):
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "a.db"), "--format", "json", "forecast",
                             "--trials", "100", "--months", "6", "--seed", "1e3")
    assert code == 0, err
    assert json.loads(out)["params"]["seed"] == 1000


# ---- 8. a mistyped global flag before the command -------------------------------------------------

@pytest.mark.parametrize("argv, named", [(["--form", "json", "chips", "list"], "--form"),
                                         (["--fmt=json", "chips", "list"], "--fmt"),
                                         (["--db", "x.db", "--dbb", "y.db", "chips", "list"], "--dbb")])
def test_a_mistyped_global_flag_before_the_command_is_named(capsys, argv, named):
    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert err.splitlines()[-1] == (f"fleetcast: error: unrecognized option {named} "
                                    "(before the command: --db, --format, --version)")


def test_the_global_flags_before_the_command_still_work(capsys, tmp_path):
    code, out, _ = run_cli(capsys, f"--db={tmp_path / 'a.db'}", "--format", "csv", "chips", "list")
    assert code == 0 and out.startswith("id,")


# ---- 9. install-desktop-entry's keys ---------------------------------------------------------------

def _gui_main(argv):
    from gui.__main__ import main as gui_main

    return gui_main(argv)


def test_install_desktop_entry_has_the_same_keys_in_every_mode(capsys):
    fields = ["file", "written", "icon", "exec", "text"]
    for mode in (["--print"], []):
        assert _gui_main(["--format", "json", "install-desktop-entry", *mode]) == 0
        data = json.loads(capsys.readouterr().out)
        assert list(data) == fields + ["desktop_file"] and data["desktop_file"] == data["file"]
        assert data["written"] is not bool(mode)
        exec_line = next(line for line in data["text"].splitlines() if line.startswith("Exec="))
        assert exec_line == f"Exec={data['exec']}"   # quoted as the entry has it
        assert f"Icon={data['icon']}" in data["text"]
        assert _gui_main(["--format", "csv", "install-desktop-entry", *mode]) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert len(rows) == 1 and list(rows[0]) == fields
        assert rows[0]["exec"] == data["exec"] and rows[0]["file"] == data["file"]


def test_install_desktop_entry_gives_exec_quoted(capsys, monkeypatch, tmp_path):
    from gui import commands_cli

    program = tmp_path / "my env" / "bin" / "fleetcast"
    monkeypatch.setattr(commands_cli, "launch_command", lambda: [str(program)])
    assert _gui_main(["--format", "json", "install-desktop-entry", "--print"]) == 0
    assert json.loads(capsys.readouterr().out)["exec"] == f'"{program}"'
    assert _gui_main(["install-desktop-entry"]) == 0
    assert f'Launches: "{program}"' in capsys.readouterr().out


# ---- 10. P(meet) in exported files ---------------------------------------------------------------

def test_the_monthly_tables_file_rows_give_p_meet_as_the_forecast_csv_does():
    """The export wrote 99.9, 100 and 96.65 where `forecast --format csv` writes "99.90", "100.00"."""
    from dataclasses import replace

    from engine.catalog import reference_chips, reference_models
    from engine.commands.forecast import file_percent
    from engine.forecast import default_scenario, run_forecast
    from engine.forecast_inputs import build_inputs, story_orders
    from engine.studies_forecast import file_percent_text, forecast_monthly_table

    sc = replace(default_scenario(), months=24, trials=200, jobs=())
    result = run_forecast(build_inputs(story_orders(), reference_chips(), reference_models(), sc))
    table = forecast_monthly_table(result)
    col = table.headers().index("P(meet demand) (%)")
    for people, filed, share in zip(table.rows(), table.file_rows(), result.prob_meet_demand):
        assert people[col] == pytest.approx(100 * share)   # the window's table keeps its numbers
        assert filed[col] == file_percent(float(share))
        assert filed[:col] == people[:col] and filed[col + 1:] == people[col + 1:]
    assert [file_percent_text(p) for p in (100.0, 99.9, 96.65, 99.996, 0.0)] == \
        ["100.00", "99.90", "96.65", "99.99", "0.00"]
