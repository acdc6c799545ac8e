"""`models import`: what --replace replaced, and windowed attention read into the preset."""

import json

from engine.cli import main

GPT2 = {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "vocab_size": 50257,
        "activation_function": "gelu_new"}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_replace_says_which_preset_it_replaced(capsys, tmp_path):
    """QA: `--id llama3-70b --replace` with a GPT-2 config said "imported 'llama3-70b': 0.124 B
    parameters", not that Llama 3 70B was gone."""
    db = str(tmp_path / "r.db")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(GPT2))
    code, out, err = run(capsys, "--db", db, "models", "import", str(path), "--id", "llama3-70b", "--replace")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("replaced 'llama3-70b' (was Llama 3 70B, 70.55 B parameters)")
    assert "0.124 B parameters" in first
    code, out, err = run(capsys, "--db", db, "models", "import", str(path), "--id", "gpt2x", "--replace",
                         "--format", "json")
    assert code == 0, err and json.loads(out)["replaced"] is None    # --replace with nothing to replace
    code, out, _ = run(capsys, "--db", db, "models", "import", str(path), "--id", "gpt2x", "--replace",
                       "--format", "json")
    assert json.loads(out)["replaced"] == {"id": "gpt2x", "name": "gpt2x", "params_b": 0.124,
                                           "active_params_b": 0.124}
    code, out, _ = run(capsys, "--db", db, "models", "import", str(path), "--id", "gpt2y")
    assert out.startswith("imported 'gpt2y': 0.124 B parameters")


def test_a_sliding_window_is_read_into_the_preset(capsys, tmp_path):
    config = {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
              "max_position_embeddings": 32768, "sliding_window": 4096}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    code, out, err = run(capsys, "--db", str(tmp_path / "w.db"), "models", "import", str(path), "--id", "m7")
    assert code == 0, err
    assert "sliding_window 4,096 on 32 of 32 layers" in out and "not modelled" not in out
    ignored = next(line for line in out.splitlines() if line.startswith("ignored fields"))
    assert "sliding_window" not in ignored
    code, out, _ = run(capsys, "--db", str(tmp_path / "w.db"), "models", "import", str(path), "--id", "m8",
                       "--format", "json")
    assert json.loads(out)["not_modelled_fields"] == []


def test_replace_without_a_name_keeps_the_presets_name(capsys, tmp_path):
    """QA: `models import CONFIG --id qwen3-235b-a22b --replace` renamed "Qwen3 235B-A22B (MoE)"
    to "qwen3-235b-a22b"; --name still sets one, and a new preset is named by its id."""
    db = str(tmp_path / "q.db")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(GPT2))
    code, out, err = run(capsys, "--db", db, "models", "import", str(path), "--id", "qwen3-235b-a22b", "--replace",
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["model"]["name"] == "Qwen3 235B-A22B (MoE)"
    code, out, _ = run(capsys, "--db", db, "models", "list", "--format", "json")
    assert next(m for m in json.loads(out) if m["id"] == "qwen3-235b-a22b")["name"] == "Qwen3 235B-A22B (MoE)"
    code, out, _ = run(capsys, "--db", db, "models", "import", str(path), "--id", "qwen3-235b-a22b", "--replace",
                       "--name", "Qwen3 retuned", "--format", "json")
    assert json.loads(out)["model"]["name"] == "Qwen3 retuned"
    code, out, _ = run(capsys, "--db", db, "models", "import", str(path), "--id", "fresh-one", "--format", "json")
    assert json.loads(out)["model"]["name"] == "fresh-one"
