"""QA s24 on `models delete` / `chips delete` and what names the deleted item afterwards: the views'
saved inputs (warned of), built-ins (--force), `train`/`serve --scenario` whose saved model or chip
is gone, `export`/`report` of such a scenario; MPT's expansion_ratio and grouped-query default;
the duplicate-name warning and the rope-scaled context said once."""

import csv
import io
import json

import pytest

import resources
from engine.catalog import read_csv_rows
from engine.hf_config import model_from_hf_config
from engine.store import open_store
from tests.cli_run import run_cli

QWEN7B_YARN = {"model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
               "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
               "max_position_embeddings": 32768, "tie_word_embeddings": False,
               "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}}
MPT_7B = {"model_type": "mpt", "d_model": 4096, "n_heads": 32, "n_layers": 32, "max_seq_len": 2048,
          "vocab_size": 50432, "expansion_ratio": 4, "no_bias": True,
          "attn_config": {"attn_type": "multihead_attention", "alibi": True}}


def _gui_cli(capsys, *argv):
    """`fleetcast ARGS` with the window's commands (export, report) in process."""
    from gui.__main__ import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _db_with_study_q(capsys, tmp_path, *, views=("training", "inference")) -> str:
    """A database with an imported preset qwen7b-yarn and chip cust-x1, and a scenario 'Study Q'
    whose `views` name both (its forecast names neither)."""
    db = str(tmp_path / "q.db")
    config = tmp_path / "qwen" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(QWEN7B_YARN))
    assert run_cli(capsys, "--db", db, "models", "import", str(config), "--id", "qwen7b-yarn")[0] == 0
    h100 = next(r for r in read_csv_rows(resources.read_text("chips.csv")) if r["id"] == "h100-sxm5-80gb")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(h100))
    writer.writeheader()
    writer.writerow({**h100, "id": "cust-x1", "name": "Custom X1"})
    (tmp_path / "chip.csv").write_text(text.getvalue())
    assert run_cli(capsys, "--db", db, "chips", "import", str(tmp_path / "chip.csv"))[0] == 0
    store = open_store(db)
    params = store.scenario("Story default")["params"]
    ui = {view: {"model_id": "qwen7b-yarn", "chip_id": "cust-x1", "num_chips": 64, "chips_source": "count",
                 "tp": 4} for view in views}
    store.save_scenario("Study Q", {**params, "ui": ui})
    store.close()
    return db


# ---- 1: the views that name a deleted item are warned of; built-ins need --force --------------

def test_deleting_a_model_the_views_name_warns_per_scenario(capsys, tmp_path):
    """QA: `models delete` said nothing of Study Q's Training and Inference views naming the preset."""
    db = _db_with_study_q(capsys, tmp_path)
    code, out, err = run_cli(capsys, "--db", db, "models", "delete", "qwen7b-yarn")
    assert code == 0, err
    assert ("warning: scenario 'Study Q': its Training and Inference views name qwen7b-yarn; they will show "
            "another model until you pick one") in out.splitlines()
    assert "Story default" not in out   # its views name other presets
    code, out, err = run_cli(capsys, "--db", db, "chips", "delete", "cust-x1", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["warnings"] == ["scenario 'Study Q': its Training and Inference views name cust-x1; "
                                           "they will show another chip until you pick one"]


def test_one_view_naming_the_item_is_said_in_the_singular(capsys, tmp_path):
    db = _db_with_study_q(capsys, tmp_path, views=("inference",))
    code, out, err = run_cli(capsys, "--db", db, "chips", "delete", "cust-x1")
    assert code == 0, err
    assert ("warning: scenario 'Study Q': its Inference view names cust-x1; it will show another chip until "
            "you pick one") in out


@pytest.mark.parametrize("group, item", [("models", "llama3-8b"), ("chips", "b200")])
def test_a_built_in_is_deleted_only_with_force(capsys, tmp_path, group, item):
    """QA: built-in presets and catalog chips deleted with no confirmation and no way back but a backup."""
    db = str(tmp_path / "b.db")
    code, _, err = run_cli(capsys, "--db", db, group, "delete", item)
    assert code == 1 and err.count("\n") == 1
    assert "built in, it can come back only from a backup" in err and "pass --force" in err and "nothing deleted" in err
    code, out, _ = run_cli(capsys, "--db", db, group, "list", "--format", "json")
    assert item in {row["id"] for row in json.loads(out)}
    code, out, err = run_cli(capsys, "--db", db, group, "delete", item, "--force")
    assert code == 0 and "built in" in out, err
    code, out, _ = run_cli(capsys, "--db", db, group, "list", "--format", "json")
    assert item not in {row["id"] for row in json.loads(out)}


def test_deleting_a_default_model_warns_of_the_views_that_saved_no_inputs(capsys, tmp_path):
    """A scenario with no saved Training inputs shows the view's default preset (llama3-70b)."""
    db = str(tmp_path / "d.db")
    store = open_store(db)
    params = store.scenario("Story default")["params"]
    store.save_scenario("Bare", {**params, "ui": {"inference": {"model_id": "llama3-8b"}}})
    store.close()
    code, out, err = run_cli(capsys, "--db", db, "models", "delete", "llama3-70b", "--force")
    assert code == 0, err
    assert ("warning: scenario 'Bare': its Training view names llama3-70b; it will show another model until you "
            "pick one") in out


# ---- 2: train / serve --scenario whose saved model or chip was deleted ---------------------------

def test_serve_and_train_name_the_saved_chip_that_was_deleted(capsys, tmp_path):
    """QA: "Pick a chip (the catalog is empty: add chips in the Fleet view)" beside 56 chips."""
    db = _db_with_study_q(capsys, tmp_path)
    assert run_cli(capsys, "--db", db, "chips", "delete", "cust-x1")[0] == 0
    code, _, err = run_cli(capsys, "--db", db, "serve", "--scenario", "Study Q")
    assert code == 1 and err.count("\n") == 1, err
    assert ("scenario 'Study Q', Serving study: Chip 'cust-x1' is not in the catalog (deleted?): pass --chip."
            in err) and "empty" not in err
    code, _, err = run_cli(capsys, "--db", db, "train", "--scenario", "Study Q")
    assert code == 1 and "Training study: Chip 'cust-x1' is not in the catalog (deleted?): pass --chip." in err
    # --chip answers it
    code, _, err = run_cli(capsys, "--db", db, "serve", "--scenario", "Study Q", "--chip", "h100-sxm5-80gb")
    assert code == 0, err


def test_a_deleted_model_and_chip_are_both_named(capsys, tmp_path):
    db = _db_with_study_q(capsys, tmp_path)
    assert run_cli(capsys, "--db", db, "models", "delete", "qwen7b-yarn")[0] == 0
    assert run_cli(capsys, "--db", db, "chips", "delete", "cust-x1")[0] == 0
    code, _, err = run_cli(capsys, "--db", db, "serve", "--scenario", "Study Q")
    assert code == 1 and err.count("\n") == 1
    assert ("Model 'qwen7b-yarn' is not among the model presets (deleted?): pass --model. "
            "Chip 'cust-x1' is not in the catalog (deleted?): pass --chip.") in err
    code, _, err = run_cli(capsys, "--db", db, "train", "--scenario", "Study Q", "--chip", "h100-sxm5-80gb")
    assert code == 1 and "Training study: Model 'qwen7b-yarn' is not among the model presets" in err


def test_an_empty_store_still_asks_for_one():
    from engine.studies import ServingStudy, TrainingStudy

    for study in (TrainingStudy(), ServingStudy()):
        assert [p.message for p in study.problems({}, {})][0].startswith("Pick a model preset (the store has none")
        messages = [p.message for p in study.problems({}, {"llama3-70b": object()})]
        assert messages == ["Pick a chip (the catalog is empty: add chips in the Fleet view)."]


# ---- 4: export / report of a scenario whose views name a deleted item -------------------------

def test_export_warns_of_the_views_figures_for_another_model_and_chip(capsys, tmp_path, monkeypatch):
    """QA: `export --scenario "Study Q"` exited 0 with figures for the view's fallback and no word."""
    import gui.export_all

    db = _db_with_study_q(capsys, tmp_path)
    assert run_cli(capsys, "--db", db, "models", "delete", "qwen7b-yarn")[0] == 0
    assert run_cli(capsys, "--db", db, "chips", "delete", "cust-x1")[0] == 0
    monkeypatch.setattr(gui.export_all, "export_all", lambda *a, **k: [])   # the warning, not the files
    code, out, err = _gui_cli(capsys, "--db", db, "export", "--scenario", "Study Q", "--out", str(tmp_path / "o"),
                             "--format", "json")
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("fleetcast: warning:")]
    assert len(lines) == 2, err
    assert lines[0].startswith("fleetcast: warning: scenario 'Study Q': its Training and Inference views name "
                               "model 'qwen7b-yarn', which is not among the model presets (deleted?): their "
                               "figures are for ")
    assert "chip 'cust-x1', which is not in the catalog (deleted?)" in lines[1] and lines[1].endswith(" instead")
    assert len(json.loads(out)["warnings"]) == 2


def test_report_warns_too(capsys, tmp_path, monkeypatch):
    import gui.report
    from gui.report import ReportResult

    db = _db_with_study_q(capsys, tmp_path, views=("inference",))
    assert run_cli(capsys, "--db", db, "chips", "delete", "cust-x1")[0] == 0
    out_pdf = tmp_path / "r.pdf"
    monkeypatch.setattr(gui.report, "write_report", lambda *a, **k: ReportResult(
        path=out_pdf, pages=1, charts=0, sections=[], not_computed={}))
    code, _, err = _gui_cli(capsys, "--db", db, "report", "--scenario", "Study Q", "--out", str(out_pdf))
    assert code == 0, err
    assert ("fleetcast: warning: scenario 'Study Q': its Inference view names chip 'cust-x1', which is not in the "
            "catalog (deleted?): its figures are for ") in err


def test_a_scenario_whose_views_name_held_items_exports_without_a_warning(capsys, tmp_path, monkeypatch):
    import gui.export_all

    db = _db_with_study_q(capsys, tmp_path)
    monkeypatch.setattr(gui.export_all, "export_all", lambda *a, **k: [])
    code, out, err = _gui_cli(capsys, "--db", db, "export", "--scenario", "Study Q", "--out", str(tmp_path / "o"),
                             "--format", "json")
    assert code == 0 and "warning" not in err and json.loads(out)["warnings"] == []


# ---- 5: MPT --------------------------------------------------------------------------------------

def test_mpt_expansion_ratio_sets_the_ffn_width():
    """QA: MPT-7B with expansion_ratio 8 imported with ffn_hidden 16384 ("assumed 4 x hidden")."""
    result = model_from_hf_config({**MPT_7B, "expansion_ratio": 8}, model_id="mpt")
    assert result.model.ffn_hidden == 32768
    assert result.model.total_params() / 1e9 == pytest.approx(10.94, abs=0.01)
    assert "FFN width 32,768 = expansion_ratio 8 x d_model 4,096" in result.notes
    assert not any("assumed 4 x hidden" in n for n in result.notes) and "expansion_ratio" in result.used
    assert model_from_hf_config(MPT_7B, model_id="mpt").model.ffn_hidden == 16384   # MPT-7B as published
    assert model_from_hf_config({**MPT_7B, "expansion_ratio": 2.5}, model_id="m").model.ffn_hidden == 10240


def test_a_given_ffn_width_wins_over_expansion_ratio():
    config = {**MPT_7B, "expansion_ratio": 8, "ffn_config": {"ffn_hidden_size": 11008}}
    result = model_from_hf_config(config, model_id="m")
    assert result.model.ffn_hidden == 11008
    assert "expansion_ratio not used: ffn_config.ffn_hidden_size gives the FFN width" in result.notes


@pytest.mark.parametrize("ratio, needle", [
    (0, "expansion_ratio: 0 (must be a positive number)"),
    ("8", "expansion_ratio: '8' (must be a positive number)"),
    (2.7, "expansion_ratio: 2.7 (x d_model 4,096 = 11,059.2: not a whole FFN width)"),
    (1e300, "expansion_ratio: 1e+300 (x d_model 4,096: not a real model)"),
])
def test_a_bad_expansion_ratio_is_refused(ratio, needle):
    from engine.errors import ValidationError

    with pytest.raises(ValidationError) as exc:
        model_from_hf_config({**MPT_7B, "expansion_ratio": ratio}, model_id="m")
    assert needle in exc.value.problems


def test_mpt_grouped_query_without_kv_n_heads_has_one_kv_head():
    """QA: taken as multi-head (32 KV heads); llm-foundry's default kv_n_heads is 1."""
    config = {**MPT_7B, "attn_config": {"attn_type": "grouped_query_attention"}}
    result = model_from_hf_config(config, model_id="m")
    assert result.model.kv_heads == 1
    assert any("'grouped_query_attention' without attn_config.kv_n_heads: 1 KV head" in n for n in result.notes)
    given = {**MPT_7B, "attn_config": {"attn_type": "grouped_query_attention", "kv_n_heads": 8}}
    assert model_from_hf_config(given, model_id="m").model.kv_heads == 8


# ---- 6: the duplicate-name warning, the context said once ------------------------------------------

def test_the_duplicate_name_warning_quotes_the_presets_own_name(capsys, tmp_path):
    """QA: "preset(s) llama3-8b have the name 'llama 3 8b' too" (the preset is "Llama 3 8B")."""
    db = str(tmp_path / "n.db")
    config = tmp_path / "m" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({**QWEN7B_YARN, "rope_scaling": None}))
    code, out, err = run_cli(capsys, "--db", db, "models", "import", str(config), "--id", "n3", "--name",
                             "llama 3 8b")
    assert code == 0, err
    assert ("warning: preset(s) llama3-8b have the name 'Llama 3 8B' (alike but for case or spaces); "
            "--name tells them apart") in out


def test_a_rope_scaled_context_is_said_once(capsys, tmp_path):
    """QA: "context_len 131,072 = rope_scaling yarn ...; seq_len 4,096; context_len 131,072 (the context window)"."""
    db = str(tmp_path / "r.db")
    config = tmp_path / "q" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps(QWEN7B_YARN))
    code, out, err = run_cli(capsys, "--db", db, "models", "import", str(config))
    assert code == 0, err
    notes = next(line for line in out.splitlines() if line.startswith("notes: "))
    assert notes.count("131,072") == 1 and "seq_len 4,096" in notes and "context_len 131,072 = rope_scaling" in notes
    result = model_from_hf_config({**QWEN7B_YARN, "rope_scaling": None}, model_id="q")
    assert "seq_len 4,096; context_len 32,768 (the context window)" in result.notes   # unscaled: said as before
