"""Windowed attention through the CLI and the store: `models import` reads the window, `models list`
(JSON, CSV, table) carries it, the store keeps it (migration 0013 gives every older model 0 and
0), and `serve` counts a windowed layer's KV at the window."""

import csv
import io
import json
import math
import sqlite3

from engine.cli import main
from engine.store import open_store, schema
from tests.old_db import old_database

LAYERS = 36
GPT_OSS = {"model_type": "gpt_oss", "hidden_size": 2880, "intermediate_size": 11520, "num_hidden_layers": LAYERS,
           "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 201088,
           "max_position_embeddings": 131072, "sliding_window": 128, "tie_word_embeddings": False,
           "layer_types": ["sliding_attention", "full_attention"] * (LAYERS // 2)}
KV_BYTES_PER_LAYER_TOKEN = 2 * 8 * 64 * 2          # K and V, 8 heads x 64 dims, BF16


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _import(capsys, tmp_path, db, model_id, config):
    path = tmp_path / f"{model_id}.json"
    path.write_text(json.dumps(config))
    return run(capsys, "--db", db, "models", "import", str(path), "--id", model_id)


def test_import_keeps_the_window_and_every_listing_carries_it(capsys, tmp_path):
    db = str(tmp_path / "w.db")
    code, out, err = _import(capsys, tmp_path, db, "gpt-oss-style", GPT_OSS)
    assert code == 0, err
    assert "sliding_window 128 on 18 of 36 layers (layer_types)" in out
    assert "not modelled" not in out
    ignored = next(line for line in out.splitlines() if line.startswith("ignored fields"))
    assert "sliding_window" not in ignored and "layer_types" not in ignored
    code, out, _ = run(capsys, "--db", db, "--format", "json", "models", "list")
    listed = {m["id"]: m for m in json.loads(out)}
    assert (listed["gpt-oss-style"]["attention_window_tokens"], listed["gpt-oss-style"]["windowed_layers"]) == (128, 18)
    assert (listed["llama3-8b"]["attention_window_tokens"], listed["llama3-8b"]["windowed_layers"]) == (0, 0)
    code, out, _ = run(capsys, "--db", db, "--format", "csv", "models", "list")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert (rows["gpt-oss-style"]["attention_window_tokens"], rows["gpt-oss-style"]["windowed_layers"]) == ("128", "18")
    code, out, _ = run(capsys, "--db", db, "models", "list")
    header = out.splitlines()[0].split()
    assert header[-2:] == ["attention_window_tokens", "windowed_layers"]
    assert open_store(tmp_path / "w.db").model("gpt-oss-style").windowed_layers == 18


def test_serve_fits_the_sequences_a_windowed_cache_holds(capsys, tmp_path):
    """The same architecture imported with and without its window, served alone on one H100:
    each sequence of 8,000 + 192 tokens holds 2 x 8 x 64 x 2 bytes x (18 x 8,192 + 18 x 128)
    with the window and x 36 x 8,192 without, in the same free HBM."""
    db = str(tmp_path / "s.db")
    full = {k: v for k, v in GPT_OSS.items() if k not in ("sliding_window", "layer_types")}
    for model_id, config in (("windowed", GPT_OSS), ("whole", full)):
        assert _import(capsys, tmp_path, db, model_id, config)[0] == 0
    figures = {}
    for model_id in ("windowed", "whole"):
        code, out, err = run(capsys, "--db", db, "--format", "json", "serve", "--model", model_id, "--chip",
                             "h100-sxm5-80gb", "--tp", "1", "--input-len", "8000", "--output-len", "192", "--offline",
                             "--requests", "300")
        assert code == 0, err
        figures[model_id] = json.loads(out)
    w, f = figures["windowed"], figures["whole"]
    assert w["kv_gib_per_chip"] == f["kv_gib_per_chip"]
    free = f["kv_gib_per_chip"] * 2**30
    windowed_seq = KV_BYTES_PER_LAYER_TOKEN * (18 * 8192 + 18 * 128)
    whole_seq = KV_BYTES_PER_LAYER_TOKEN * 36 * 8192
    assert w["kv_gib_per_sequence"] * 2**30 == windowed_seq
    assert f["max_concurrency"] == math.floor(free / whole_seq)
    assert w["max_concurrency"] == math.floor(free / windowed_seq) > 1.9 * f["max_concurrency"]
    assert w["output_tokens_per_s_per_chip"] > f["output_tokens_per_s_per_chip"]


def test_migration_0013_gives_every_stored_model_no_window(tmp_path):
    path = tmp_path / "old.db"
    applied = schema.known_migration_names().index("0013_model_attention_window")
    old_database(path, applied)
    with sqlite3.connect(path) as con:
        columns = {row[1] for row in con.execute("pragma table_info(models)")}
    assert "attention_window_tokens" not in columns and "windowed_layers" not in columns
    store = open_store(path)
    try:
        models = store.models()
        assert models and all((m.attention_window_tokens, m.windowed_layers) == (0, 0) for m in models)
        from dataclasses import replace

        store.save_model(replace(models[0], id="win", attention_window_tokens=4096, windowed_layers=models[0].layers))
        back = store.model("win")
        assert (back.attention_window_tokens, back.windowed_layers) == (4096, models[0].layers)
    finally:
        store.close()
