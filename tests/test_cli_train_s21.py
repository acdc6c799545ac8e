"""QA s21 on `fleetcast train`: the table names the power behind its energy figure."""

import json

import engine.cli as cli

# A custom chip with no TDP in its row: its energy is counted at the assumed 700 W.
NO_TDP_CHIP = ("id,vendor,name,year,bf16_tflops,hbm_gb,hbm_gbps,price_usd\n"
               "zeta-1,Zeta,Zeta One,2025,333.3,96.5,2100,9000\n")


def test_table_prints_the_energy_basis_beside_the_cost_basis(capsys, tmp_path):
    """"59 MWh" on a chip without a TDP hid the assumed 700 W: only JSON had energy_basis."""
    chips = tmp_path / "chips.csv"
    chips.write_text(NO_TDP_CHIP, encoding="utf-8")
    db = str(tmp_path / "t.db")
    assert cli.main(["--db", db, "chips", "import", str(chips)]) == 0
    capsys.readouterr()
    argv = ["--db", db, "train", "--model", "llama3-8b", "--chip", "zeta-1", "--chips", "64", "--tokens", "1e12"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    cost = next(i for i, line in enumerate(lines) if line.startswith("cost "))
    assert "MWh" in lines[cost]
    assert lines[cost + 1] == ("energy basis: 700 W per chip (assumed: no TDP in the catalog) x 80% utilisation "
                               "x PUE 1.2")
    assert cli.main(["--db", db, "--format", "json", *argv[2:]]) == 0
    run = json.loads(capsys.readouterr().out)["run"]
    assert lines[cost + 1] == f"energy basis: {run['energy_basis']}"
