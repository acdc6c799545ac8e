"""The CLI under hostile input: one line and exit 1, never a traceback, nothing lost (issue 10).

Every test here failed on the code before the fix (tracebacks, exit 0 for an infeasible layout,
silent overwrites, raw formulas and control characters, no paging).
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main, render_csv

REPO = Path(__file__).resolve().parents[1]
ORDER_HEADER = "id,buyer,vendor,chip_id,quantity,order_date,deliveries\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fleetcast: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "fleet.db")


# ---- 1. orders import ------------------------------------------------------------------------

@pytest.mark.parametrize("order_id", ["1.7", "inf", "1e19", "12345678901234567890123"])
def test_orders_import_bad_id_exits_1_and_keeps_the_910b_order(capsys, tmp_path, db, order_id):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEADER + f"{order_id},X,Huawei,ascend-910b2,5,2024-01-20,\n")
    code, _, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 1
    assert f"o.csv row 2, column id: '{order_id}'" in one_line_error(err)
    code, out, _ = run(capsys, "--db", db, "orders", "list", "--format", "json")
    ascend = next(o for o in json.loads(out) if o["id"] == 1)
    assert ascend["quantity"] == 100_000 and ascend["delivered"] == 30_000 and len(ascend["deliveries"]) == 3


def test_orders_import_duplicate_ids_exit_1_naming_both_rows(capsys, tmp_path, db):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEADER + "9,A,NVIDIA,h20-96gb,5,2025-01-01,\n9,B,NVIDIA,h20-96gb,6,2025-01-01,\n")
    code, _, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 1 and "row 3, column id: 9 (also given on row 2" in one_line_error(err)


def test_orders_import_summary_lists_added_and_updated_ids(capsys, tmp_path, db):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEADER + "1,ByteDance,Huawei,ascend-910b2,110000,2024-01-15,\n"
                                   ",Acme,NVIDIA,h20-96gb,8,2025-01-01,2025-02-01:8\n")
    # a row that would change an existing order is asked for: another database's export carries
    # ids that are this one's other orders, and the CLI has no undo
    code, out, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 1 and one_line_error(err).endswith(
        "o.csv: nothing imported: 1 row(s) would change existing orders (1); pass --replace to update them")
    code, out, _ = run(capsys, "--db", db, "orders", "list", "--format", "json")
    before = {o["id"]: o["quantity"] for o in json.loads(out)}
    assert len(before) == 3 and before[1] == 100000   # nothing written
    code, out, err = run(capsys, "--db", db, "orders", "import", str(path), "--replace")
    assert code == 0, err
    assert out.startswith("imported 2 order(s) from ") and "1 added (4), 1 updated (1)" in out
    assert "deliveries kept for order(s) 1" in out
    # again: a row without an id that equals a stored order is refused unless asked (--again), then added
    code, out, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 1 and "1 row(s) without an id equal stored orders in every field and delivery (row 3 = order 4)" in err
    code, out, err = run(capsys, "--db", db, "orders", "import", str(path), "--again")
    assert code == 0 and "1 added (5), 0 updated, 1 unchanged (1)" in out, err


def test_orders_import_json_keys(capsys, tmp_path, db):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEADER + "2,ByteDance,NVIDIA,h20-96gb,100000,2024-02-01,2024-04-01:20000\n")
    code, out, err = run(capsys, "--db", db, "--format", "json", "orders", "import", str(path), "--replace")
    assert code == 0, err
    data = json.loads(out)
    assert data["imported"] == 1 and data["updated"] == [2] and data["added"] == []
    assert data["deliveries_replaced"] == [2] and data["deliveries_kept"] == []


# ---- 2. exports never overwrite silently -----------------------------------------------------

@pytest.mark.parametrize("kind", ["orders", "chips"])
def test_export_refuses_an_existing_file_unless_forced(capsys, tmp_path, db, kind):
    target = tmp_path / "fleet_orders.csv"
    target.write_bytes(b"a user's own file\n")
    code, _, err = run(capsys, "--db", db, kind, "export", str(target))
    assert code == 1 and f"{target}: exists; not overwritten (pass --force" in one_line_error(err)
    assert target.read_bytes() == b"a user's own file\n"
    code, _, err = run(capsys, "--db", db, kind, "export", str(target), "--force")
    assert code == 0, err
    assert target.read_text(encoding="utf-8-sig").startswith("id,")


@pytest.mark.parametrize("where", ["folder", "missing"])
def test_export_to_a_folder_or_missing_folder_is_one_line(capsys, tmp_path, db, where):
    target = tmp_path if where == "folder" else tmp_path / "nope" / "x.csv"
    code, _, err = run(capsys, "--db", db, "orders", "export", str(target))
    assert code == 1
    one_line_error(err)
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


@pytest.mark.slow
def test_export_all_refuses_to_overwrite_a_users_file(tmp_path):
    out = tmp_path / "charts"
    out.mkdir()
    mine = out / "fleet_orders.csv"
    mine.write_bytes(b"mine\n")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    cmd = [sys.executable, "-m", "gui", "--db", str(tmp_path / "f.db"), "export", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=420)
    assert proc.returncode == 1, proc.stderr
    assert f"{mine}: exists" in proc.stderr and "--force" in proc.stderr and "Traceback" not in proc.stderr
    assert mine.read_bytes() == b"mine\n" and sorted(p.name for p in out.iterdir()) == ["fleet_orders.csv"]
    proc = subprocess.run(cmd + ["--force"], capture_output=True, text=True, env=env, cwd=REPO, timeout=420)
    assert proc.returncode == 0, proc.stderr
    assert mine.read_text(encoding="utf-8") != "mine\n" and not [p for p in out.iterdir() if ".tmp" in p.name]


# ---- 3. training at a scale where failures win; infeasible explicit layouts ------------------

# (Daly's complete model: 300,000 chips train at 32% goodput, where the first-order model that
# charged each failure its whole restart against the time between failures said no progress)
@pytest.mark.parametrize("chips, interval", [(2_000_000, "1.5 min"), (10_000_000, "18 s")])
def test_train_where_goodput_reaches_zero_says_why(capsys, db, chips, interval):
    code, _, err = run(capsys, "--db", db, "train", "--model", "llama3-405b", "--chip", "ascend-910b2",
                       "--chips", str(chips), "--search", "--tokens", "15e12")
    line = one_line_error(err)
    assert code == 1 and "goodput 0" in line and f"{chips:,} chips" in line
    # hand-derived: 54 days x 24 h / 419 interruptions x 16,384 chips = 50,677 chip-hours per chip;
    # / 2,000,000 chips = 0.0253 h = 1.5 min between failures: a 10 min restart completes with
    # probability exp(-10 / 1.5) = 0.1%, under the 1% counted as progress; at 10,000,000 chips 18 s
    assert interval in line and "50,677 chip-hours" in line


def test_estimate_run_never_divides_by_zero():
    from engine.catalog import reference_chips
    from engine.errors import UserError
    from engine.training import estimate_run

    chip = reference_chips()["ascend-910b2"]
    with pytest.raises(UserError, match="no progress"):
        estimate_run(15e12, 100.0, 2_000_000, chip, params=405e9)


@pytest.mark.parametrize("flags, needle", [
    (["--chips", "8", "--tp", "8", "--pp", "1", "--dp", "1"], "is infeasible: out of memory:"),
    # 64 chunks of 8 stages need 512 layers; Llama 3 70B has 80 (--vpp above 64 is refused as an argument)
    (["--chips", "64", "--tp", "8", "--pp", "8", "--dp", "1", "--vpp", "64"], "vpp needs pp > 1 and enough layers"),
])
def test_an_explicit_infeasible_layout_exits_1_with_the_reason(capsys, db, flags, needle):
    model = "llama3-405b" if "memory" in needle else "llama3-70b"
    chip = "ascend-910b2" if "memory" in needle else "h100-sxm5-80gb"
    code, _, err = run(capsys, "--db", db, "train", "--model", model, "--chip", chip, *flags,
                       "--micro-batch", "1", "--recompute", "none", "--zero", "0")
    assert code == 1 and "is infeasible" in one_line_error(err) and needle in err


# ---- 4. models import of hostile JSON --------------------------------------------------------

BASE_CONFIG = {"num_hidden_layers": 32, "hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 32000,
               "intermediate_size": 11008, "max_position_embeddings": 4096}


@pytest.mark.parametrize("text, needle", [
    ("[" * 100_000, "nested too deeply"),
    ('{"rope_scaling": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001, "nested too deeply"),
    ({"max_position_embeddings": float("nan")}, "max_position_embeddings: nan (must be a finite whole number)"),
    ({"max_position_embeddings": float("inf")}, "max_position_embeddings: inf (must be a finite whole number)"),
    ({"max_position_embeddings": "lots"}, "max_position_embeddings: 'lots' (must be a whole number)"),
    ({"max_position_embeddings": [1, 2]}, "max_position_embeddings: [1, 2] (must be a whole number)"),
    ({"head_dim": "x"}, "head_dim: 'x' (must be a whole number)"),
    ({"num_experts": 8, "num_experts_per_tok": 2, "shared_expert_intermediate_size": "big"},
     "shared_expert_intermediate_size: 'big' (must be a whole number)"),
    ({"hidden_size": True}, "hidden_size: True (must be a whole number)"),
    ({"num_hidden_layers": 40.5}, "num_hidden_layers: 40.5 (must be a whole number)"),
    ('{"num_hidden_layers": 32, "hidden_size": ' + "9" * 5000 + ', "num_attention_heads": 32, "vocab_size": 32000}',
     "hidden_size: a 5000-digit number (larger than"),
    ({"vocab_size": 10**12}, "vocab_size: 1000000000000 (larger than 1,000,000,000"),
    ({"hidden_act": ["silu"]}, "hidden_act: ['silu'] (must be text)"),
])
def test_models_import_hostile_config_is_one_line_naming_field_and_value(capsys, tmp_path, db, text, needle):
    path = tmp_path / "config.json"
    if isinstance(text, dict):
        path.write_text(json.dumps({**BASE_CONFIG, **text}))  # json.dumps writes NaN / Infinity as Python does
    else:
        path.write_text(text)
    code, _, err = run(capsys, "--db", db, "models", "import", str(path), "--id", "hostile")
    assert code == 1
    line = one_line_error(err)
    assert str(path) in line and needle in line


def test_models_import_refuses_a_huge_file_and_a_fifo(capsys, tmp_path, db):
    big = tmp_path / "big.json"
    with open(big, "w") as handle:
        handle.write('{"pad": "' + "x" * (11 * 1024 * 1024) + '"}')
    code, _, err = run(capsys, "--db", db, "models", "import", str(big))
    assert code == 1 and "MB is more than the 10 MB a config.json may have" in one_line_error(err)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    code, _, err = run(capsys, "--db", db, "models", "import", str(fifo))  # blocked forever before the fix
    assert code == 1 and "is a pipe (FIFO)" in one_line_error(err)


# ---- 5. formula injection in every CSV the CLI writes ------------------------------------------

def test_csv_output_neutralises_text_formulas_and_keeps_negative_numbers(capsys, tmp_path, db):
    text = render_csv([{"n": -5.0, "i": -3, "t": "-5", "f": "=HYPERLINK(\"http://x\")", "a": "@A1", "p": "+1",
                        "ok": "fine"}])
    row = next(csv.DictReader(text.splitlines()))
    assert row == {"n": "-5.0", "i": "-3", "t": "'-5", "f": "'=HYPERLINK(\"http://x\")", "a": "'@A1", "p": "'+1",
                   "ok": "fine"}
    path = tmp_path / "chips.csv"
    path.write_text("id,vendor,name,bf16_tflops,hbm_gb,hbm_gbps,notes\nevil-1,Acme,=cmd|' /C calc'!A0,100,16,900,@SUM(1+1)\n")
    assert run(capsys, "--db", db, "chips", "import", str(path))[0] == 0
    code, out, _ = run(capsys, "--db", db, "chips", "list", "--format", "csv")
    evil = next(r for r in csv.DictReader(out.splitlines()) if r["id"] == "evil-1")
    assert evil["name"] == "'=cmd|' /C calc'!A0" and evil["notes"] == "'@SUM(1+1)"
    code, out, _ = run(capsys, "--db", db, "chips", "list", "--format", "json")
    assert next(c for c in json.loads(out) if c["id"] == "evil-1")["name"] == "=cmd|' /C calc'!A0"  # stored intact


# ---- 6. control characters ------------------------------------------------------------------

def test_orders_import_with_terminal_escapes_is_refused_escaped(capsys, tmp_path, db):
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEADER + ",Evil\x1b]0;owned\x07,NVIDIA,h20-96gb,5,2025-01-01,\n")
    code, _, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 1
    line = one_line_error(err)
    assert "row 2, column buyer" in line and "\\x1b" in line and "\x1b" not in err and "\x07" not in err


# ---- 7. paging and streaming ------------------------------------------------------------------

def test_orders_list_pages_the_table_and_streams_csv_and_json(capsys, tmp_path, db):
    path = tmp_path / "many.csv"
    path.write_text(ORDER_HEADER + "".join(f",Buyer {i},NVIDIA,h20-96gb,5,2025-01-01,\n" for i in range(247)))
    assert run(capsys, "--db", db, "orders", "import", str(path))[0] == 0
    code, out, _ = run(capsys, "--db", db, "orders", "list")
    assert code == 0 and out.startswith("orders 1-100 of 250 (--limit N --offset K")
    assert len(out.strip().splitlines()) == 1 + 2 + 100
    code, out, _ = run(capsys, "--db", db, "orders", "list", "--limit", "10", "--offset", "5", "--format", "csv")
    rows = list(csv.DictReader(out.splitlines()))
    code, every, _ = run(capsys, "--db", db, "orders", "list", "--format", "json")
    every = json.loads(every)
    assert len(every) == 250 and [r["id"] for r in rows] == [str(o["id"]) for o in every[5:15]]
    assert set(every[0]) == {"id", "buyer", "vendor", "chip_id", "quantity", "delivered", "order_date", "promised",
                             "price_usd_per_chip", "status", "source", "note", "deliveries"}
    code, out, _ = run(capsys, "--db", db, "orders", "list", "--format", "json", "--limit", "0")
    assert json.loads(out) == []
    code, _, err = run(capsys, "--db", db, "orders", "list", "--offset", "-1")
    assert code == 1 and "--offset: -1" in one_line_error(err)
    code, out, _ = run(capsys, "--db", db, "orders", "list", "--offset", "300")   # said "orders 300-300 of 250"
    assert code == 0 and out.startswith("no orders at --offset 300 (250 in all)")


def test_stream_json_list_is_the_same_text_as_json_dumps():
    import io

    from engine.cli import stream_json_list

    items = [{"a": 1, "b": [1, {"c": None}]}, {"a": 2.5, "b": []}]
    for value in (items, []):
        out = io.StringIO()
        stream_json_list(iter(value), out)
        assert out.getvalue() == json.dumps(value, indent=2) + "\n"


# ---- 8. forecast memory budget ----------------------------------------------------------------

def test_forecast_beyond_the_memory_budget_is_refused_with_the_limit(capsys, db):
    code, _, err = run(capsys, "--db", db, "forecast", "--trials", "1000000", "--months", "600")
    line = one_line_error(err)
    assert code == 1 and "--trials x --months: 1,000,000 x 600 = 600,000,000 trial-months" in line
    # hand check: about 106 bytes a trial-month measured on the story (3 chip types): 63.6e9 bytes
    assert "about 64 GB; at most 20,000,000" in line


def test_forecast_memory_error_is_one_line(capsys, db, monkeypatch):
    import engine.forecast

    def out_of_memory(inputs, **_kw):
        raise MemoryError

    monkeypatch.setattr(engine.forecast, "run_forecast", out_of_memory)
    code, _, err = run(capsys, "--db", db, "forecast", "--trials", "100", "--months", "12")
    assert code == 1 and "ran out of memory" in one_line_error(err)


def test_an_order_whose_vendor_is_not_its_chips_is_imported_with_a_warning(capsys, tmp_path, db):
    """A Huawei-tagged H100 order took Huawei's delivery risk (P50 25% lower) and nothing was said;
    a reseller is possible, so the row is kept, with a warning naming row, vendor and chip."""
    path = tmp_path / "o.csv"
    path.write_text(ORDER_HEADER + ",X,Huawei,h100-sxm5-80gb,10000,2024-03-01,\n,Y,nvidia,h20-96gb,5,2024-03-01,\n")
    code, out, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 0, err
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: o.csv row 2: vendor 'Huawei' is not the vendor of chip h100-sxm5-80gb (NVIDIA); "
                        "the forecast gives this order Huawei's delivery risk"]   # 'nvidia' is NVIDIA: no warning
    path.write_text(ORDER_HEADER + ",Z,Huawei,h100-sxm5-80gb,1,2024-03-01,\n")
    code, out, _ = run(capsys, "--db", db, "orders", "import", str(path), "--format", "json")
    assert code == 0 and len(json.loads(out)["warnings"]) == 1


# ---- 8. a whole-database backup ---------------------------------------------------------------

def test_backup_copies_everything_the_csv_exports_leave_out(capsys, tmp_path, db):
    """`chips export` leaves out calibration, and presets and scenarios have no export: `backup`
    copies the whole database, opens as one, never overwrites unasked, never copies onto itself."""
    from engine.store import open_store

    store = open_store(db)
    store.set_calibration("h20-96gb", "train_gemm_eff", 0.61, "mine")
    calibration = {c.id: dict(c.calibration) for c in store.chips()}
    assert calibration["h20-96gb"]["train_gemm_eff"] == 0.61
    scenarios = {s["name"]: s["params"] for s in store.scenarios()}
    models = store.model_rows()
    store.close()
    copy = tmp_path / "copy.db"
    code, out, err = run(capsys, "--db", db, "backup", str(copy))
    assert code == 0, err
    assert out.startswith(f"backed up {db} to {copy}: ") and "3 orders" in out and "scenarios" in out
    again = open_store(copy)
    try:
        assert {c.id: dict(c.calibration) for c in again.chips()} == calibration
        assert {s["name"]: s["params"] for s in again.scenarios()} == scenarios
        assert again.model_rows() == models and again.order_count() == 3
    finally:
        again.close()
    code, _, err = run(capsys, "--db", db, "backup", str(copy))
    assert code == 1 and "copy.db: exists; not overwritten (pass --force" in one_line_error(err)
    assert run(capsys, "--db", db, "backup", str(copy), "--force")[0] == 0
    code, _, err = run(capsys, "--db", db, "backup", db, "--force")
    assert code == 1 and "database itself" in one_line_error(err)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_backup_counts_what_the_copy_holds(capsys, tmp_path, db, monkeypatch):
    """QA s34: the counts were read from the live database after the copy: an order another
    program committed in between was counted ("53 orders") and not in the file (3)."""
    from engine.store import open_store
    from engine.store.store import Store

    real = Store.backup_to

    def copy_then_another_commits(self, path, *, force=False):
        target = real(self, path, force=force)
        other = open_store(db)
        try:
            other.delete_order(other.order_rows()[0]["id"])
        finally:
            other.close()
        return target

    monkeypatch.setattr(Store, "backup_to", copy_then_another_commits)
    copy = tmp_path / "copy.db"
    code, out, err = run(capsys, "--db", db, "--format", "json", "backup", str(copy))
    assert code == 0, err
    held = open_store(copy, read_only=True)
    try:
        assert json.loads(out)["orders"] == held.order_count() == 3
    finally:
        held.close()


def test_backup_refuses_a_target_with_another_databases_side_files(capsys, tmp_path, db):
    """A -wal or -journal beside the target (another program has that file open, or crashed with it
    open) is merged into the file on its first open: the backup then held the other database's
    pages (QA: 'backed up ... 4 orders' and the copy listed 3, one edited elsewhere)."""
    import sqlite3
    import stat

    from engine.store import open_store

    open_store(db).close()
    other = tmp_path / "team.db"
    for side in ("-wal", "-journal"):
        (tmp_path / f"team.db{side}").write_bytes(b"not this database's pages")
        code, _, err = run(capsys, "--db", db, "backup", str(other), "--force")
        assert code == 1 and f"team.db{side}: exists (another program has team.db open" in one_line_error(err)
        assert not other.exists()
        (tmp_path / f"team.db{side}").unlink()
    old = os.umask(0o022)
    try:
        assert run(capsys, "--db", db, "backup", str(other))[0] == 0
    finally:
        os.umask(old)
    # readable like the database and an export (mkstemp had left it 0600)
    assert stat.S_IMODE(other.stat().st_mode) == 0o644
    with sqlite3.connect(other) as conn:
        assert conn.execute("select count(*) from orders").fetchone()[0] == 3


@pytest.mark.parametrize("argv", [
    ("chips", "export", "{db}", "--force"),
    ("orders", "export", "{db}", "--force"),
    ("orders", "export", "{db}-wal", "--force"),
])
def test_no_export_writes_onto_the_open_database(capsys, tmp_path, argv):
    """QA: `chips export DB --force` wrote CSV over the database it had open (every chip, order
    and scenario gone) and exited 0; the next open then said the file 'was left unchanged'."""
    db = tmp_path / "fleet.db"
    assert main(["--db", str(db), "chips", "list", "--format", "json"]) == 0
    capsys.readouterr()
    before = db.read_bytes()
    code, out, err = run(capsys, "--db", str(db), *[a.format(db=db) for a in argv])
    assert code == 1 and "open database" in one_line_error(err)
    assert db.read_bytes() == before
    link = tmp_path / "chips.csv"          # by another name that reaches it
    link.symlink_to(db)
    code, _out, err = run(capsys, "--db", str(db), "chips", "export", str(link), "--force")
    assert code == 1 and "is the open database itself" in err and db.read_bytes() == before


def test_a_report_is_never_written_onto_the_open_database(capsys, tmp_path):
    db = tmp_path / "fleet.pdf"      # a database that happens to carry the report's suffix
    assert main(["--db", str(db), "chips", "list", "--format", "json"]) == 0
    capsys.readouterr()
    before = db.read_bytes()
    from gui.__main__ import main as gui_main   # `report` is registered by the desktop package

    code = gui_main(["--db", str(db), "report", "--out", str(db), "--force"])
    err = capsys.readouterr().err
    assert code == 1 and "is the open database itself" in one_line_error(err)
    assert db.read_bytes() == before


@pytest.mark.parametrize("argv", [
    ("forecast", "--scenario", "", "--trials", "10", "--months", "2"),
    ("backtest", "--scenario", "", "--as-of", "2025-01-01"),
    ("serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "100", "--output-len", "10",
     "--engine", ""),
    # QA s38: `plan --orders-csv ''` wrote nothing and exited 0; `--caps ''` planned with the packaged caps
    ("plan", "--orders-csv", ""),
    ("plan", "--caps", ""),
    ("validate", "training", "--cases", ""),
])
def test_an_empty_name_is_a_usage_error_not_the_default(capsys, db, argv):
    """QA: `--scenario "$S"` with S empty gave the baseline's figures and exit 0 (an empty --db is
    refused for the same reason)."""
    with pytest.raises(SystemExit) as info:
        main(["--db", db, *argv])
    assert info.value.code == 2
    assert "the value is empty" in capsys.readouterr().err


def test_fourth_qa_round_cli_messages(capsys, tmp_path, db):
    # a chips file whose first row is data: named as not a header, not as "column '900' appears twice"
    assert run(capsys, "--db", db, "chips", "export", str(tmp_path / "c.csv"))[0] == 0
    lines = (tmp_path / "c.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "nohdr.csv").write_text("\n".join(lines[1:4]) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "--db", db, "chips", "import", str(tmp_path / "nohdr.csv"))
    assert code == 1 and "nohdr.csv row 1: not a header" in one_line_error(err)
    # a cases file that is not UTF-8: the imports' words, not Python's codec message
    (tmp_path / "cases.csv").write_bytes(b"id,metric,caf\xe9\nr1,ttft_ms,1\n")
    code, _, err = run(capsys, "--db", db, "validate", "inference", "--cases", str(tmp_path / "cases.csv"))
    assert code == 1 and "not UTF-8 text (byte 0xe9); save it as CSV UTF-8" in one_line_error(err)
    # --limit 0 read "orders 1-0 of 3"
    code, out, _ = run(capsys, "--db", db, "orders", "list", "--limit", "0")
    assert code == 0 and "no orders shown (--limit 0; 3 in all)" in out
    # each listed layout carries its days to train in JSON, as in the CSV
    code, out, _ = run(capsys, "--db", db, "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64",
                       "--search", "--top", "2", "--tokens", "1e12", "--format", "json")
    d = json.loads(out)
    assert code == 0 and d["top"][0]["time_to_train_days"] == pytest.approx(d["time_to_train_days"])
    # 1e12 tokens / (64 chips x tokens/s per chip) in days
    assert d["top"][1]["time_to_train_days"] == pytest.approx(
        1e12 / (64 * d["top"][1]["tokens_per_s_per_chip"]) / 86400, rel=0.02)


def test_imports_and_backup_print_one_csv_row(capsys, tmp_path, db):
    """CLI.md: every subcommand takes --format csv; imports and backup printed nothing in csv."""
    assert run(capsys, "--db", db, "chips", "export", str(tmp_path / "c.csv"))[0] == 0
    code, out, _ = run(capsys, "--db", db, "chips", "import", str(tmp_path / "c.csv"), "--replace", "--format", "csv")
    rows = list(csv.DictReader(out.splitlines()))
    assert code == 0 and len(rows) == 1 and rows[0]["imported"] == rows[0]["unchanged"] == "34"
    code, out, _ = run(capsys, "--db", db, "backup", str(tmp_path / "b.db"), "--format", "csv")
    rows = list(csv.DictReader(out.splitlines()))
    assert code == 0 and (rows[0]["chips"], rows[0]["orders"], rows[0]["scenarios"]) == ("34", "3", "4")


def test_a_database_opened_through_a_link_keeps_its_real_wal_safe(capsys, tmp_path):
    """QA: with --db LINK, an export onto the real file's -wal was not refused (the guard knew only
    the link's name), and a crash after it lost a committed scenario."""
    real = tmp_path / "y.db"
    assert main(["--db", str(real), "chips", "list", "--format", "json"]) == 0
    capsys.readouterr()
    link = tmp_path / "link.db"
    link.symlink_to(real)
    for target in (tmp_path / "y.db-wal", tmp_path / "link.db-wal"):
        code, _out, err = run(capsys, "--db", str(link), "chips", "export", str(target), "--force")
        assert code == 1 and "open database's WAL file" in one_line_error(err), target


@pytest.mark.parametrize("argv", [
    ("forecast", "--trials", "1_000"), ("forecast", "--trials", "١٠٠"),
    ("serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "100", "--output-len", "10",
     "--ttft-ms", "1_000"),
])
def test_number_flags_are_plain_numbers_as_in_files(capsys, db, argv):
    """QA: files refused 9_6 and other scripts' digits, flags still read them (--trials 1_000 ran 1,000)."""
    with pytest.raises(SystemExit) as info:
        main(["--db", db, *argv])
    err = capsys.readouterr().err   # a bad value is bad input: exit 1, one line (QA s32)
    assert info.value.code == 1 and "invalid" in err and len(err.strip().splitlines()) == 1


def test_a_seed_in_other_digits_is_refused_as_every_bad_seed_is(capsys, db):
    """A full-width 0 is no seed: refused in --seed's one wording (exit 1, as -1 and 1.5 are)."""
    code, _out, err = run(capsys, "--db", db, "forecast", "--seed", "０")
    assert code == 1 and "--seed: ０ (must be a whole number from 0 to 4,294,967,295)" in one_line_error(err)


def test_caps_are_plain_numbers(capsys, db):
    code, _out, err = run(capsys, "--db", db, "plan", "--caps", "h20-96gb=1_000")
    assert code == 1 and "--caps: 'h20-96gb=1_000'" in one_line_error(err)


def test_a_text_export_never_replaces_another_database(tmp_path, capsys):
    """QA: `orders export other.db --force` wrote CSV over another Fleetcast database."""
    from engine.cli import main
    from engine.store import open_store

    other = tmp_path / "other.db"
    open_store(other).close()
    before = other.read_bytes()
    for kind in ("orders", "chips"):
        assert main(["--db", str(tmp_path / "a.db"), kind, "export", str(other), "--force"]) == 1
        assert "is a SQLite database" in capsys.readouterr().err
    assert other.read_bytes() == before


def test_an_infeasible_json_answer_into_a_reader_that_leaves_is_no_traceback(tmp_path):
    """QA: `serve ... --format json | true` on targets that cannot be met printed a BrokenPipeError
    traceback (the feasible answer exited quietly)."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "x"), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    cmd = (f"{sys.executable} -m engine.cli --db {tmp_path / 'p.db'} serve --model llama3-405b --chip h100-sxm5-80gb "
           "--input-len 2000 --output-len 300 --ttft-ms 2000 --tpot-ms 50 --format json | true")
    proc = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=420)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
    assert proc.stderr.startswith("fleetcast: error: llama3-405b on h100-sxm5-80gb: the latency targets cannot be met")


def test_ctrl_c_while_arguments_are_read_is_one_line_and_exit_130(monkeypatch, capsys):
    """Ctrl+C before any command ran (while the libraries load or argparse reads the line)
    printed a KeyboardInterrupt traceback; it is one line and the shell's 130, nothing opened."""
    from engine import cli
    from gui.__main__ import main as gui_main

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert gui_main(["chips", "list"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "fleetcast: interrupted before it started; nothing was opened or saved"


def test_an_empty_file_name_is_a_usage_error(capsys, db):
    """`orders import ''` read as the folder '.' ("is a folder, not a CSV file")."""
    with pytest.raises(SystemExit) as info:
        main(["--db", db, "orders", "import", ""])
    assert info.value.code == 2
    assert "argument FILE: the file name is empty" in capsys.readouterr().err


def test_a_file_not_in_utf8_names_the_row_column_and_cell(capsys, tmp_path, db):
    """QA s41: "latin1.csv: not UTF-8 text (byte 0xfc)" alone, for one Latin-1 'ü' in a 3,000-row
    file: the row, its column and the cell are named now (the byte shown as U+FFFD)."""
    rows = ["buyer,vendor,chip_id,quantity,order_date"] + [f"b{i},NVIDIA,h20-96gb,10,2025-01-01" for i in range(20)]
    data = ("\n".join(rows) + "\n").encode() + b'"M\xfcller, Berlin",NVIDIA,h20-96gb,10,2025-01-01\n'
    (tmp_path / "latin1.csv").write_bytes(data)
    code, _, err = run(capsys, "--db", db, "orders", "import", str(tmp_path / "latin1.csv"))
    assert code == 1 and one_line_error(err).endswith(
        "latin1.csv row 22, column buyer: 'M\ufffdller, Berlin': not UTF-8 text (byte 0xfc); save it as CSV UTF-8")
    code, out, _ = run(capsys, "--db", db, "--format", "json", "orders", "list")
    assert len(json.loads(out)) == 3   # nothing imported


def test_an_unwritable_folder_is_refused_before_the_work(tmp_path, monkeypatch):
    """QA s41: `plan --orders-csv rodir/plan.csv` worked the plan out for 11 s, then "can't write
    in rodir"; an existing file was refused at once. (os.access is answered here: root may write
    anywhere.)"""
    import os

    import pytest

    from engine.csv_io import check_can_create
    from engine.errors import UserError

    folder = tmp_path / "rodir"
    folder.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == str(folder) else real(p, mode, **kw))
    with pytest.raises(UserError, match=r"rodir: can't write in it \(for plan.csv\): not writable; nothing was written"):
        check_can_create(folder / "plan.csv")
    assert check_can_create(tmp_path / "plan.csv") == tmp_path / "plan.csv"
