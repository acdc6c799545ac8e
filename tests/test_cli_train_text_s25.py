"""`fleetcast train`'s table text (QA s25): counts with thousands separators, "1 chip" for one, a run
with under one expected interruption said so, small energies with figures; JSON and CSV unchanged."""

import json

import pytest

import engine.cli as cli

LLAMA_70B_1024 = ["train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "1024", "--tokens", "15e12"]
LLAMA_8B_64 = ["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tokens", "3e11"]


@pytest.fixture(autouse=True)
def catalog_only(monkeypatch):
    """The packaged catalog: the CLI falls back to it when the store cannot be imported."""
    def no_store(self):
        raise ImportError("store not used in these tests")

    monkeypatch.setattr(cli.Context, "store", no_store)


def run(capsys, argv, fmt="table"):
    code = cli.main(list(argv) + ["--format", fmt])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_words_for_counts_interruptions_and_energy():
    from engine.commands.train import chips_words, energy_text, interruptions_text

    assert chips_words(1) == "1 chip" and chips_words(1024) == "1,024 chips"
    assert interruptions_text(0.27) == "under 1 interruption (0.27 expected)"
    assert interruptions_text(0.00025) == "under 1 interruption (0.00025 expected)"
    assert interruptions_text(1.2) == "about 1 interruption"
    assert interruptions_text(95.6) == "about 96 interruptions"
    assert interruptions_text(4180.4) == "about 4,180 interruptions"
    assert interruptions_text(0.0) == "no interruptions expected"
    assert interruptions_text(0.5, "failure") == "under 1 failure (0.5 expected)"
    assert energy_text(3261.1) == "3,261 MWh" and energy_text(7.06) == "7.1 MWh" and energy_text(0.0124) == "0.012 MWh"


def test_search_counts_and_chips_have_separators(capsys):
    code, data_text, _ = run(capsys, LLAMA_70B_1024, "json")
    data = json.loads(data_text)
    assert code == 0 and data["layouts_evaluated"] >= 1000   # the separators must show
    code, text, _ = run(capsys, LLAMA_70B_1024)
    lines = text.splitlines()
    assert code == 0 and lines[0].startswith("Llama 3 70B on 1,024 x H100")
    assert lines[1].startswith(f"searched {data['layouts_evaluated']:,} layouts ({data['layouts_feasible']:,} feasible)")
    x = data["run"]["expected_interruptions"]
    assert x > 10 and f"about {round(x):,} interruptions" in text


def test_a_short_run_has_under_one_interruption_and_its_energy(capsys):
    code, data_text, _ = run(capsys, LLAMA_8B_64, "json")
    run_data = json.loads(data_text)["run"]
    assert code == 0 and 0 < run_data["expected_interruptions"] < 1 and 1 < run_data["energy_mwh"] < 10
    code, text, _ = run(capsys, LLAMA_8B_64)
    assert f"under 1 interruption ({run_data['expected_interruptions']:.2g} expected)" in text
    assert f", {run_data['energy_mwh']:.2g} MWh," in text
    assert "about 0 interruptions" not in text and " 7 MWh" not in text


def test_one_chip_is_one_chip(capsys):
    code, _, err = run(capsys, ["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "1",
                                "--tokens", "1e9"])
    # Llama 3 8B's weights, gradients and Adam state (16 bytes x 8.03e9 = 120 GiB) outgrow one 80 GiB H100
    assert code == 1 and "of HBM on 1 chip: at least ~2 chips hold them" in err and "1 chips" not in err


def test_json_and_csv_keep_their_keys_and_values(capsys):
    """Only the text changed: the JSON's run figures are the numbers the text rounds."""
    code, data_text, _ = run(capsys, LLAMA_8B_64, "json")
    data = json.loads(data_text)
    assert code == 0 and isinstance(data["layouts_evaluated"], int) and isinstance(data["run"]["expected_interruptions"], float)
    assert {"expected_interruptions", "energy_mwh", "chip_hours"} <= set(data["run"])
    code, csv_text, _ = run(capsys, LLAMA_8B_64, "csv")
    header = csv_text.splitlines()[0].split(",")
    assert code == 0 and header[:3] == ["tp", "pp", "vpp"] and "energy_mwh" in header and "goodput" in header
