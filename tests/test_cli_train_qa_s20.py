"""QA s20 on `fleetcast train` (and `models import`): what MFU is measured against, a chip
without BF16, one set of per-layout figures in JSON and CSV, and a small model's size."""

import csv
import io
import json

import pytest

import engine.cli as cli

H100_8B = ["train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--search", "--top", "2"]
V100_8B = ["train", "--model", "llama3-8b", "--chip", "v100-sxm2-32gb", "--chips", "64", "--search", "--top", "2"]


@pytest.fixture
def catalog_only(monkeypatch):
    """The packaged catalog: the CLI falls back to it when the store cannot be imported."""
    def no_store(self):
        raise ImportError("store not used in these tests")

    monkeypatch.setattr(cli.Context, "store", no_store)


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_fp8_mfu_says_its_basis_in_json_and_csv(capsys, catalog_only):
    """The table said "MFU 51.4% of the BF16 peak"; JSON and CSV gave mfu_pct alone."""
    code, out, err = _run(capsys, *H100_8B, "--dtype", "fp8", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["mfu_basis"] == "bf16 dense peak"
    assert all(entry["mfu_basis"] == "bf16 dense peak" for entry in data["top"])
    code, out, _ = _run(capsys, *H100_8B, "--dtype", "fp8", "--format", "csv")
    rows = _csv_rows(out)
    assert rows and all(r["mfu_basis"] == "bf16 dense peak" and r["dtype"] == "fp8" for r in rows)
    assert float(rows[0]["mfu_pct"]) == pytest.approx(data["mfu_pct"])


def test_fp8_mfu_also_gives_its_share_of_the_fp8_peak(capsys, catalog_only):
    """QA s41: "MFU 97.3% of the BF16 peak" alone, for a GPT-3 175B run on H20 at 48.6% of its FP8
    peak; the window's tile gives both. By hand: model TFLOP/s per chip over the H100's 1,979 FP8."""
    code, out, err = _run(capsys, *H100_8B, "--dtype", "fp8", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["mfu_fp8_pct"] == pytest.approx(100 * data["model_tflops_per_chip"] / 1979.0, rel=1e-3)
    assert data["mfu_fp8_pct"] == pytest.approx(data["mfu_pct"] * 989.0 / 1979.0, rel=1e-3)
    assert all("mfu_fp8_pct" in entry for entry in data["top"])
    code, out, _ = _run(capsys, *H100_8B, "--dtype", "fp8")
    assert f"of the BF16 peak ({data['mfu_fp8_pct']:.1f}% of the FP8 peak)" in out.splitlines()[0]
    code, out, _ = _run(capsys, *H100_8B, "--format", "json")   # a BF16 run: no FP8 share
    assert "mfu_fp8_pct" not in json.loads(out)


def test_a_chip_without_bf16_says_so_in_every_format(capsys, catalog_only):
    """A V100 ran "bf16" at its FP16 rate; the FP8 refusal told it to use BF16, which it lacks."""
    code, _, err = _run(capsys, *V100_8B, "--dtype", "fp8")
    assert code != 0 and "V100 SXM2 32GB has no FP8 matrix units: use FP16." in err
    assert "BF16" not in err and len(err.strip().splitlines()) == 1
    code, out, err = _run(capsys, *V100_8B)
    assert code == 0, err
    assert "MFU" in out.splitlines()[0] and "of the FP16 peak" in out.splitlines()[0]
    assert "note: V100 SXM2 32GB has no BF16 matrix units: 16-bit training runs in FP16" in out
    code, out, _ = _run(capsys, *V100_8B, "--format", "json")
    data = json.loads(out)
    assert data["dtype"] == "fp16" and data["mfu_basis"] == "fp16 dense peak" and "dtype_note" in data
    code, out, _ = _run(capsys, *V100_8B, "--format", "csv")
    assert all(r["dtype"] == "fp16" and r["mfu_basis"] == "fp16 dense peak" for r in _csv_rows(out))
    code, out, _ = _run(capsys, *H100_8B)   # an H100 runs BF16: its peak needs no naming
    assert "of the" not in out.splitlines()[0]


def test_the_search_lists_no_zero_stage_twins_at_dp_1(capsys, catalog_only):
    """TP8 on 8 chips listed four rows identical but for zero_stage 0-3."""
    code, out, err = _run(capsys, "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "8",
                          "--tp", "8", "--pp", "1", "--cp", "1", "--search", "--top", "4", "--format", "csv")
    assert code == 0, err
    rows = _csv_rows(out)
    assert len(rows) == 4
    same = [{k: v for k, v in r.items() if k != "zero_stage"} for r in rows]
    assert all(same.count(r) == 1 for r in same)


def test_json_top_entries_carry_the_csv_rows_run_figures(capsys, catalog_only):
    """CSV rows had cost_usd per layout and JSON top entries did not; CSV lacked hfu_pct and the
    step breakdown that JSON has."""
    argv = ["train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "1024", "--search",
            "--tokens", "1e12", "--price-per-chip-hour", "2", "--top", "2"]
    code, out, err = _run(capsys, *argv, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    code, out, _ = _run(capsys, *argv, "--format", "csv")
    rows = _csv_rows(out)
    assert len(rows) == len(data["top"]) == 2
    for entry, row in zip(data["top"], rows):
        for key in ("time_to_train_days", "cost_usd", "chip_hours", "energy_mwh", "goodput", "hfu_pct",
                    "mfu_pct", "tokens_per_s_per_chip", "step_time_s"):
            assert float(row[key]) == pytest.approx(entry[key], rel=1e-9), key
        for term, seconds in entry["breakdown_s"].items():
            assert float(row[f"breakdown_{term}_s"]) == pytest.approx(seconds, rel=1e-9, abs=1e-12), term
    # the best layout's entry agrees with the run it heads
    assert data["top"][0]["cost_usd"] == pytest.approx(data["run"]["cost_usd"])
    assert data["top"][0]["chip_hours"] == pytest.approx(data["run"]["chip_hours"])
    assert data["top"][1]["cost_usd"] > data["top"][0]["cost_usd"]   # the slower layout costs more


def test_a_small_imported_model_shows_its_size(capsys, tmp_path):
    """A 0.25 M-parameter import read "0.0 B parameters" and "params_b": 0.0."""
    config = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000,
              "max_position_embeddings": 2048}
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    db = str(tmp_path / "t.db")
    code, out, err = _run(capsys, "--db", db, "models", "import", str(folder / "config.json"))
    assert code == 0, err
    assert out.startswith("imported 'tiny': 0.251 M parameters (0.251 M active)")
    code, out, _ = _run(capsys, "--db", db, "models", "list", "--format", "json")
    tiny = next(m for m in json.loads(out) if m["id"] == "tiny")
    assert tiny["params_b"] == tiny["active_params_b"] == 0.000251
    presets = {m["id"]: m for m in json.loads(out)}
    assert presets["llama3-8b"]["params_b"] == 8.03   # 3 decimals above 0.1 B, as before
    code, out, _ = _run(capsys, "--db", db, "models", "import", str(folder / "config.json"), "--replace")
    assert out.startswith("replaced 'tiny' (was tiny, 0.251 M parameters) with 0.251 M parameters")


def test_fewer_chips_that_train_faster_are_offered_whatever_the_gain(tmp_path, capsys):
    """QA: 832 H100 train Llama 3 70B at 704,464 tokens/s where 768 of them reach 709,441 (0.7%
    more, 64 chips fewer); below the old 5% bar nothing was said."""
    import json

    from engine.cli import main

    code = main(["--db", str(tmp_path / "t.db"), "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb",
                 "--chips", "832", "--search", "--global-batch", "1024", "--format", "json"])
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["fewer_chips"] is not None
    assert d["fewer_chips"]["chips"] < 832
    assert d["fewer_chips"]["tokens_per_s"] > d["tokens_per_s_per_chip"] * 832


def test_the_seq_len_range_error_names_the_flag(tmp_path, capsys):
    from engine.cli import main

    code = main(["--db", str(tmp_path / "t.db"), "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb",
                 "--chips", "64", "--seq-len", "100000000"])
    err = capsys.readouterr().err
    assert code != 0 and "--seq-len: 100000000 (must be 1 to 10,000,000 tokens)" in err
