"""QA s24 on model presets and the chip catalog: `models import` ids and names, duplicate display
names, `models delete` / `chips delete`, the `chips list` columns, and a chip's calibration family
(by its id, or the catalog chip its calibrate_as names: never guessed from a name or an id's words)."""

import csv
import io
import json

import pytest

import resources
from engine.calibration import chip_family, uncalibrated_note
from engine.catalog import calibration_rows, calibration_target, chip_from_row, read_csv_rows, resolve_calibration
from tests.cli_run import run_cli

LLAMA31_8B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
              "max_position_embeddings": 131072, "tie_word_embeddings": False}
GPT2 = {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "vocab_size": 50257,
        "activation_function": "gelu_new"}
SNAPSHOT = "models--meta-llama--Llama-3.1-8B/snapshots/0e9e39f249a16976918f6564b8830bc894c89659"


def _config(folder, config=LLAMA31_8B):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    return path


def _models(capsys, db):
    code, out, err = run_cli(capsys, "--db", db, "models", "list", "--format", "json")
    assert code == 0, err
    return {m["id"]: m for m in json.loads(out)}


# ---- 1: the existence check on the id the store keeps -----------------------------------------

def test_an_id_with_a_trailing_space_does_not_overwrite_a_preset(capsys, tmp_path):
    """QA: `--id "llama3-70b "` overwrote the built-in preset without --replace and said "imported"."""
    db = str(tmp_path / "a.db")
    path = _config(tmp_path / "gpt2", GPT2)
    code, _, err = run_cli(capsys, "--db", db, "models", "import", str(path), "--id", "llama3-70b ")
    assert code == 1 and "a preset with id 'llama3-70b' exists; pass --replace" in err
    assert _models(capsys, db)["llama3-70b"]["params_b"] == pytest.approx(70.55, abs=0.01)
    code, out, err = run_cli(capsys, "--db", db, "models", "import", str(path), "--id", " gpt2x ", "--format", "json")
    assert code == 0, err and json.loads(out)["model"]["id"] == "gpt2x"
    code, _, err = run_cli(capsys, "--db", db, "models", "import", str(path), "--id", "Bad Id")
    assert code == 1 and err.count("\n") == 1 and "--id: 'Bad Id' (use lower-case letters" in err


# ---- 7: ids and names of a Hugging Face cache snapshot, ./config.json, _name_or_path ----------

@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_hugging_face_cache_snapshot_is_named_by_its_repository(capsys, tmp_path, where):
    """QA: a cache snapshot made a preset named by its commit hash."""
    blob = _config(tmp_path / "hub" / "models--meta-llama--Llama-3.1-8B" / "blobs").rename(
        tmp_path / "hub" / "models--meta-llama--Llama-3.1-8B" / "blobs" / "5b4c3a")
    path = tmp_path / "hub" / SNAPSHOT / "config.json"
    path.parent.mkdir(parents=True)
    path.symlink_to(blob)   # as the cache keeps it: a link to a blob named by its hash
    given = path if where == "file" else path.parent
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "c.db"), "models", "import", str(given), "--format", "json")
    assert code == 0, err
    model = json.loads(out)["model"]
    assert (model["id"], model["name"]) == ("llama-3.1-8b", "Llama-3.1-8B")


def test_config_json_in_the_current_folder_is_named_by_the_folder(capsys, tmp_path, monkeypatch):
    """QA: `models import ./config.json` gave the id 'config'."""
    path = _config(tmp_path / "My-Model")
    monkeypatch.chdir(path.parent)
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "d.db"), "models", "import", "./config.json",
                             "--format", "json")
    assert code == 0, err
    assert json.loads(out)["model"]["id"] == "my-model"


def test_name_or_path_names_a_config_json(capsys, tmp_path):
    path = _config(tmp_path / "download", {**LLAMA31_8B, "_name_or_path": "meta-llama/Meta-Llama-3.1-8B"})
    code, out, err = run_cli(capsys, "--db", str(tmp_path / "e.db"), "models", "import", str(path), "--format", "json")
    assert code == 0, err
    model = json.loads(out)["model"]
    assert (model["id"], model["name"]) == ("meta-llama-3.1-8b", "Meta-Llama-3.1-8B")


# ---- 8: duplicate display names ------------------------------------------------------------------

def test_a_duplicate_display_name_is_warned_and_told_apart_in_the_menus(capsys, tmp_path):
    """QA: --name "Llama 3 8B" beside the built-in llama3-8b: two identical entries in the window's menus."""
    from engine.store import open_store
    from gui.panels.base import model_items

    db = str(tmp_path / "f.db")
    path = _config(tmp_path / "m")
    code, out, err = run_cli(capsys, "--db", db, "models", "import", str(path), "--id", "n3", "--name", "Llama 3 8B")
    assert code == 0, err
    assert "warning: preset(s) llama3-8b have the name 'Llama 3 8B' too" in out
    store = open_store(db)
    items = model_items({m.id: m for m in store.models()})
    labels = [label for label, _ in items]
    assert ("Llama 3 8B [llama3-8b]", "llama3-8b") in items and ("Llama 3 8B [n3]", "n3") in items
    assert len(labels) == len(set(labels))
    assert ("Llama 3 70B", "llama3-70b") in items   # a unique name stays as it is


# ---- 9: models delete, chips delete ----------------------------------------------------------

def test_models_delete_all_or_none(capsys, tmp_path):
    db = str(tmp_path / "g.db")
    path = _config(tmp_path / "m")
    assert run_cli(capsys, "--db", db, "models", "import", str(path), "--id", "mine")[0] == 0
    code, _, err = run_cli(capsys, "--db", db, "models", "delete", "mine", "nope")
    assert code == 1 and "model 'nope': no such preset" in err and "nothing deleted" in err
    assert "mine" in _models(capsys, db)
    # a preset the story's forecast trains (its jobs) is refused, naming the scenario
    code, _, err = run_cli(capsys, "--db", db, "models", "delete", "mine", "llama3-405b")
    assert code == 1 and "model 'llama3-405b': scenario 'Story default' (jobs[0].model_id)" in err
    assert "mine" in _models(capsys, db)
    code, out, err = run_cli(capsys, "--db", db, "models", "delete", "mine", "llama3-8b", "--force")
    assert code == 0, err
    assert out.splitlines()[0] == "deleted 2 model preset(s): mine (mine), llama3-8b (Llama 3 8B, built in)"
    assert not {"mine", "llama3-8b"} & set(_models(capsys, db))


def test_chips_delete_all_or_none(capsys, tmp_path):
    db = str(tmp_path / "h.db")

    def chip_ids():
        code, out, _ = run_cli(capsys, "--db", db, "chips", "list", "--format", "json")
        return {c["id"] for c in json.loads(out)}

    code, _, err = run_cli(capsys, "--db", db, "chips", "delete", "mi300x", "h20-96gb")
    assert code == 1 and "chip 'h20-96gb':" in err and "order(s) use it" in err and "nothing deleted" in err
    assert "mi300x" in chip_ids()
    code, _, err = run_cli(capsys, "--db", db, "chips", "delete", "mi300x", "no-such-chip")
    assert code == 1 and "chip 'no-such-chip': not in the catalog" in err
    code, out, err = run_cli(capsys, "--db", db, "chips", "delete", "mi300x", "b200", "--format", "json", "--force")
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)["deleted"]] == ["mi300x", "b200"]
    assert not {"mi300x", "b200"} & chip_ids()


# ---- 10: chips list columns ------------------------------------------------------------------

NETWORK_COLUMNS = ["fp4_tflops", "scaleup_topology", "scaleup_link_gbps", "scaleout_oversubscription"]


def test_chips_list_shows_fp4_and_the_network_shape(capsys, tmp_path):
    """QA: the table omitted fp4_tflops, scaleup_topology, scaleup_link_gbps, scaleout_oversubscription."""
    db = str(tmp_path / "i.db")
    code, out, _ = run_cli(capsys, "--db", db, "chips", "list")
    header = out.splitlines()[0].split()
    assert code == 0 and all(c in header for c in NETWORK_COLUMNS)
    code, out, _ = run_cli(capsys, "--db", db, "chips", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert all(c in rows[0] for c in NETWORK_COLUMNS)
    assert next(r for r in rows if r["id"] == "mi300x")["scaleup_topology"] == "mesh"


# ---- 11: a chip's calibration family ---------------------------------------------------------

# every catalog chip's family as chip_family gave it before s24 (by its id alone)
# (s29: B200 and GB200 joined a "blackwell" family on purpose, for its documented attention prior)
CATALOG_FAMILIES = {
    "ascend-910a": "ascend-910b", "ascend-910b1": "ascend-910b", "ascend-910b2": "ascend-910b",
    "ascend-910b3": "ascend-910b", "ascend-910b4": "ascend-910b", "ascend-910c": "ascend-910b",
    "v100-sxm2-32gb": "v100-sxm2-32gb", "a100-sxm4-40gb": "a100", "a100-sxm4-80gb": "a100", "a800-sxm4-80gb": "a100",
    "h100-sxm5-80gb": "hopper", "h100-pcie-80gb": "hopper", "h800-sxm5-80gb": "hopper", "h20-96gb": "hopper",
    "h200-sxm-141gb": "hopper", "b200": "blackwell", "gb200": "blackwell", "l20-48gb": "l20-48gb", "l40s-48gb": "l40s-48gb",
    "mi250x": "mi250x", "mi300x": "mi300x", "mi325x": "mi325x", "gaudi2": "gaudi2", "gaudi3": "gaudi3",
    "tpu-v4": "tpu-v4", "tpu-v5e": "tpu-v5e", "tpu-v5p": "tpu-v5p", "tpu-v6e": "tpu-v6e", "mlu370-x8": "mlu370-x8",
    "mlu290-m5": "mlu290-m5", "dcu-k100-ai": "dcu-k100-ai", "br100": "br100", "kunlun2": "kunlun2",
    "mtt-s4000": "mtt-s4000",
}


def _catalog_rows():
    return read_csv_rows(resources.read_text("chips.csv"))


def test_no_catalog_chip_changes_family():
    rows = _catalog_rows()
    assert {r["id"] for r in rows} == set(CATALOG_FAMILIES)
    for row in rows:
        assert chip_family(row["id"]) == CATALOG_FAMILIES[row["id"]], row["id"]
        assert chip_family(row) == chip_family(chip_from_row(row)) == CATALOG_FAMILIES[row["id"]], row["id"]
        assert calibration_target(row) == row["id"]   # its packaged factors: as before


@pytest.mark.parametrize("chip_id, name, calibrate_as, family, target", [
    ("nv-h100-sxm5-80gb", "H100 SXM5 80GB", "h100-sxm5-80gb", "hopper", "h100-sxm5-80gb"),
    ("huawei-910c", "", "ascend-910c", "ascend-910b", "ascend-910c"),
    ("hw-910b2", "Ascend 910B2", "ascend-910b2", "ascend-910b", "ascend-910b2"),
    ("h100-sxm5-80gb", "", "h100-sxm5-80gb", "hopper", "h100-sxm5-80gb"),   # its own id: fine
    # blank: by the id alone; a family's die inside an id or a name no longer counts (a rename
    # changed training 170 -> 175 tokens/s; "H100 killer (Cambricon MLU)" got Hopper factors)
    ("nv-h100-sxm5-80gb", "H100 SXM5 80GB", "", "nv-h100-sxm5-80gb", "nv-h100-sxm5-80gb"),
    ("my-chip", "H100 SXM5 80GB", "", "my-chip", "my-chip"),
    ("mlu-x", "H100 killer (Cambricon MLU)", "", "mlu-x", "mlu-x"),
    ("h800-custom", "", "", "hopper", "h800-custom"),                         # a family's id prefix
])
def test_a_chip_is_calibrated_as_its_calibrate_as_else_its_id(chip_id, name, calibrate_as, family, target):
    row = {"id": chip_id, "vendor": "NVIDIA", "name": name, "calibrate_as": calibrate_as}
    assert chip_family(row) == chip_family(chip_from_row(row)) == family
    assert calibration_target(row) == target


def test_a_copy_with_calibrate_as_takes_its_original_calibration():
    """QA: a byte-identical H100 imported as nv-h100-sxm5-80gb was said to be of a family with no
    published run, with the generic factors; calibrate_as names the chip it copies."""
    reference = next(r for r in _catalog_rows() if r["id"] == "h100-sxm5-80gb")
    row = {**reference, "id": "nv-h100-sxm5-80gb", "calibrate_as": "h100-sxm5-80gb"}
    as_stored = chip_from_row(row, resolve_calibration(row, calibration_rows()))   # what the store resolves
    assert uncalibrated_note(as_stored) is None
    assert dict(as_stored.calibration) == dict(resolve_calibration(reference, calibration_rows()))
    # without it the copy is its own chip, and said to be uncalibrated, with the fix
    bare = chip_from_row({**row, "calibrate_as": ""}, resolve_calibration({**row, "calibrate_as": ""},
                                                                          calibration_rows()))
    assert "set calibrate_as to the catalog chip it copies" in uncalibrated_note(bare)
    # a display name names nothing
    renamed = {**row, "id": "fleet-a-gpu", "name": "Huawei 910C", "calibrate_as": ""}
    assert resolve_calibration(renamed, calibration_rows()) == resolve_calibration(
        {"id": "fleet-a-gpu", "vendor": "NVIDIA"}, calibration_rows())


def test_a_copied_h100_trains_as_the_h100(tmp_path, capsys):
    """QA: the byte-identical copy trained 19% faster (9,461 against 7,962 tokens/s per chip)."""
    db = str(tmp_path / "c.db")
    rows = [r for r in _catalog_rows() if r["id"] == "h100-sxm5-80gb"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys([*rows[0], "calibrate_as"])))
    writer.writeheader()
    writer.writerow({**rows[0], "id": "nv-h100-sxm5-80gb", "calibrate_as": "h100-sxm5-80gb"})
    (tmp_path / "copy.csv").write_text(out.getvalue())
    assert run_cli(capsys, "--db", db, "chips", "import", str(tmp_path / "copy.csv"))[0] == 0
    rates = []
    for chip in ("h100-sxm5-80gb", "nv-h100-sxm5-80gb"):
        code, stdout, _ = run_cli(capsys, "--db", db, "--format", "json", "train", "--model", "llama3-8b",
                                  "--chip", chip, "--chips", "8", "--tokens", "1e12")
        assert code == 0
        rates.append(json.loads(stdout)["tokens_per_s_per_chip"])
    assert rates[0] == rates[1]
