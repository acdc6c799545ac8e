"""A model's context window (`context_len`): a served request's prompt and output must fit in it.

The preset's `seq_len` is its training length; the context window is max_position_embeddings,
kept from a Hugging Face config and carried by the packaged presets."""

import json
from dataclasses import replace

import pytest
import sqlite_utils

from engine.catalog import reference_chips, reference_models
from engine.cli import main
from engine.errors import ValidationError
from engine.forecast import default_scenario
from engine.forecast_inputs import build_inputs, story_orders
from engine.models import context_problem
from engine.store import open_store, schema
from engine.studies import ServingStudy

MODELS = reference_models()
CHIPS = reference_chips()


def test_a_request_longer_than_the_context_is_named_with_its_arithmetic():
    m = MODELS["llama3-70b"]   # Meta-Llama-3-70B: max_position_embeddings 8,192
    assert m.context_len == 8192 and m.seq_len == 8192
    assert context_problem(m, 8191, 1) == ""                     # exactly the window fits
    text = context_problem(m, 8192, 1024)
    assert "8,192 + output 1,024 = 9,216 tokens" in text and "context window of 8,192" in text
    assert "Llama 3 70B" in text
    # not known (a model of the user's with no context_len): nothing is checked
    assert context_problem(replace(m, context_len=0), 10**6, 10**6) == ""


def test_packaged_presets_carry_their_config_context_windows():
    # max_position_embeddings of each preset's config.json; seq_len stays the training length
    assert {k: MODELS[k].context_len for k in ("llama3-405b", "deepseek-v3", "qwen3-235b-a22b", "gpt3-175b")} == {
        "llama3-405b": 131072, "deepseek-v3": 163840, "qwen3-235b-a22b": 40960, "gpt3-175b": 2048}
    assert MODELS["llama3-405b"].seq_len == 8192
    assert all(m.context_len >= m.seq_len for m in MODELS.values())


def test_serve_refuses_a_request_beyond_the_context_with_one_line(capsys):
    code = main(["serve", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "8",
                 "--input-len", "8192", "--output-len", "1024", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "--input-len 8192, --output-len 1024" in err and "9,216 tokens" in err
    # the 3.1 405B preset's 128K window takes the same request
    assert main(["serve", "--model", "llama3-405b", "--chip", "h200-sxm-141gb", "--tp", "8",
                 "--input-len", "8192", "--output-len", "1024", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["output_tokens_per_s_per_chip"] > 0


def test_the_inference_view_and_the_forecast_name_the_context_window():
    study = ServingStudy(model_id="gpt3-175b", input_len=2000, output_len=300)
    problems = study.problems(CHIPS, MODELS)
    assert [p.field for p in problems] == ["input_len"]
    assert "2,300 tokens exceed GPT-3 175B's context window of 2,048" in problems[0].message
    assert ServingStudy(model_id="gpt3-175b", input_len=1748, output_len=300).problems(CHIPS, MODELS) == []

    sc = default_scenario()
    sc = replace(sc, trials=10, demand=replace(sc.demand, model_id="llama2-70b", input_tokens_per_request=4000.0,
                                               output_tokens_per_request=200.0))
    with pytest.raises(ValidationError) as info:
        build_inputs(story_orders(), CHIPS, MODELS, sc)
    assert any("demand.input_tokens_per_request" in p and "context window of 4,096" in p
               for p in info.value.problems)


def test_hf_import_keeps_the_context_window_beside_the_training_length(capsys, tmp_path):
    config = {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
              "max_position_embeddings": 32768, "hidden_act": "silu"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    db = tmp_path / "m.db"
    assert main(["--db", str(db), "models", "import", str(path), "--id", "my-7b", "--format", "json"]) == 0
    model = json.loads(capsys.readouterr().out)["model"]
    assert (model["seq_len"], model["context_len"]) == (4096, 32768)
    store = open_store(db)
    try:
        assert store.model("my-7b").context_len == 32768
    finally:
        store.close()


def test_an_older_database_gets_the_packaged_windows_and_keeps_its_own_models_unknown(tmp_path):
    """Migration 0007 on a database from before it: the packaged presets (same id and name) get
    their window; a model of the user's stays 0, so nothing it serves is refused."""
    path = tmp_path / "old.db"
    store = open_store(path)
    store.close()
    db = sqlite_utils.Database(path)
    mine = dict(db["models"].get("llama3-8b"), id="mine", name="My model")
    db["models"].insert(mine)
    db.execute("ALTER TABLE models DROP COLUMN context_len")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = '0007_model_context_len'")
    db.conn.commit()
    db.close()
    assert "0007_model_context_len" in schema.known_migration_names()
    store = open_store(path)
    try:
        assert store.backup_path is not None        # an upgrade is backed up first
        assert store.model("llama3-405b").context_len == 131072
        assert store.model("mine").context_len == 0
    finally:
        store.close()
