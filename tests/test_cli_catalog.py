"""CLI contract for chips, orders, models (../shared/design/CLI.md)."""

import csv
import json
import subprocess
import sys

import pytest

from engine.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == "fleetcast 0.3.0"
    for argv in (["chips", "list", "--version"], ["train", "--version"]):   # a global option after the subcommand
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0 and capsys.readouterr().out.strip() == "fleetcast 0.3.0"


def test_chips_list_json_has_every_reference_chip_with_sources(capsys, tmp_path, shared_dir):
    code, out, err = run(capsys, "chips", "list", "--format", "json", "--db", str(tmp_path / "new.db"))
    assert code == 0, err
    chips = json.loads(out)
    with open(shared_dir / "reference" / "chips.csv", newline="", encoding="utf-8") as handle:
        reference = {row["id"]: row for row in csv.DictReader(handle)}
    assert {c["id"] for c in chips} == set(reference)
    for chip in chips:
        for key in ("id", "name", "vendor", "bf16_tflops", "hbm_gb", "hbm_gbps", "sources"):
            assert key in chip
        assert chip["sources"] == reference[chip["id"]]["sources"]


def test_global_options_work_before_the_subcommand(capsys, tmp_path):
    code, out, _ = run(capsys, "--db", str(tmp_path / "x.db"), "--format", "csv", "orders", "list")
    assert code == 0
    rows = list(csv.DictReader(out.splitlines()))
    assert {r["chip_id"] for r in rows} == {"ascend-910b2", "h20-96gb", "h800-sxm5-80gb"}


def test_orders_list_shows_the_910b_order(capsys):
    code, out, _ = run(capsys, "orders", "list", "--format", "json")
    assert code == 0
    orders = json.loads(out)
    ascend = next(o for o in orders if o["chip_id"] == "ascend-910b2")
    assert (ascend["buyer"], ascend["quantity"], ascend["delivered"]) == ("ByteDance", 100000, 30000)
    assert all(k in ascend for k in ("id", "buyer", "vendor", "chip_id", "quantity", "delivered", "order_date"))


def test_models_list_has_required_presets(capsys):
    code, out, _ = run(capsys, "models", "list", "--format", "json")
    models = {m["id"]: m for m in json.loads(out)}
    for model_id in ("llama3-8b", "llama3-70b", "llama3-405b", "gpt3-175b", "deepseek-v3", "qwen2.5-72b", "mixtral-8x7b"):
        assert model_id in models
        assert models[model_id]["params_b"] > 0 and models[model_id]["active_params_b"] > 0
    assert models["deepseek-v3"]["active_params_b"] < models["deepseek-v3"]["params_b"] / 10


def test_import_with_a_bad_row_exits_1_names_the_row_and_changes_nothing(capsys, tmp_path):
    db = str(tmp_path / "x.db")
    run(capsys, "--db", db, "orders", "list")
    before = run(capsys, "--db", db, "orders", "list", "--format", "json")[1]
    path = tmp_path / "orders.csv"
    path.write_text("buyer,vendor,chip_id,quantity,order_date\n"
                    "A,NVIDIA,h100-sxm5-80gb,8,2025-01-01\n"
                    "B,NVIDIA,h100-sxm5-80gb,8,2025-13-01\n")
    code, out, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "orders.csv row 3, column order_date" in err and "2025-13-01" in err
    assert run(capsys, "--db", db, "orders", "list", "--format", "json")[1] == before


def test_chips_import_good_file(capsys, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,vendor,name,bf16_tflops,hbm_gb,hbm_gbps\nacme-1,Acme,Acme One,500,96,3000\n")
    code, out, err = run(capsys, "chips", "import", str(path), "--format", "json")
    assert code == 0, err and json.loads(out)["imported"] == 1
    code, out, _ = run(capsys, "chips", "list", "--format", "json")
    assert any(c["id"] == "acme-1" and c["hbm_gbps"] == 3000 for c in json.loads(out))


def test_chips_import_asks_before_changing_a_chip_in_the_catalog(capsys, tmp_path):
    """A row for mi250x with another price replaced the stored one with no question and no undo."""
    db = str(tmp_path / "ch.db")
    path = tmp_path / "over.csv"
    path.write_text("id,vendor,name,bf16_tflops,hbm_gb,hbm_gbps,price_usd,notes\n"
                    "mi250x,AMD,Instinct MI250X,383,128,3277,99999,vendor sheet\n"
                    "acme-1,Acme,Acme One,500,96,3000,,\n")
    run(capsys, "--db", db, "chips", "list", "--format", "json")
    code, _, err = run(capsys, "--db", db, "chips", "import", str(path))
    assert code == 1 and err.strip().endswith(
        "over.csv: nothing imported: 1 row(s) would change existing chips (mi250x); pass --replace to update them")
    chips = {c["id"]: c for c in json.loads(run(capsys, "--db", db, "chips", "list", "--format", "json")[1])}
    assert chips["mi250x"]["price_usd"] != 99999 and "acme-1" not in chips     # all or nothing
    assert run(capsys, "--db", db, "chips", "import", str(path), "--replace")[0] == 0
    chips = {c["id"]: c for c in json.loads(run(capsys, "--db", db, "chips", "list", "--format", "json")[1])}
    assert chips["mi250x"]["price_usd"] == 99999 and "acme-1" in chips


def test_missing_file_is_a_user_error(capsys, tmp_path):
    code, _, err = run(capsys, "chips", "import", str(tmp_path / "nope.csv"))
    assert code == 1 and "nope.csv: no such file" in err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["chips", "frobnicate"])
    assert info.value.code == 2


HF_MIXTRAL_LIKE = {
    "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "num_local_experts": 8, "num_experts_per_tok": 2, "vocab_size": 32000,
    "max_position_embeddings": 32768, "rope_theta": 1e6, "hidden_act": "silu",
    "tie_word_embeddings": False, "some_new_knob": 3,
}


def test_models_import_hf_config_maps_moe_and_reports_unknown(capsys, tmp_path):
    folder = tmp_path / "my-mixtral"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(HF_MIXTRAL_LIKE))
    code, out, err = run(capsys, "models", "import", str(folder / "config.json"), "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["model"]["id"] == "my-mixtral"
    assert result["model"]["params_b"] == pytest.approx(46.7, rel=0.01)
    assert result["model"]["active_params_b"] == pytest.approx(12.9, rel=0.01)
    assert result["unknown_fields"] == ["some_new_knob"]
    assert "rope_theta" in result["ignored_fields"]
    code, _, err = run(capsys, "models", "import", str(folder / "config.json"))
    assert code == 1 and "--replace" in err


def test_models_import_deepseek_style_mla(capsys, tmp_path):
    config = {"hidden_size": 7168, "intermediate_size": 18432, "moe_intermediate_size": 2048,
              "num_hidden_layers": 61, "num_attention_heads": 128, "num_key_value_heads": 128,
              "n_routed_experts": 256, "n_shared_experts": 1, "num_experts_per_tok": 8,
              "first_k_dense_replace": 3, "q_lora_rank": 1536, "kv_lora_rank": 512,
              "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "vocab_size": 129280}
    path = tmp_path / "dsv3.json"
    path.write_text(json.dumps(config))
    code, out, err = run(capsys, "models", "import", str(path), "--id", "dsv3", "--format", "json")
    assert code == 0, err
    model = json.loads(out)["model"]
    assert model["params_b"] == pytest.approx(671, rel=0.01) and model["attention"] == "mla"


def test_models_import_missing_fields_is_reported(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"hidden_size": 10}))
    code, _, err = run(capsys, "models", "import", str(path))
    assert code == 1 and "layers: missing" in err


def test_fleetcast_entry_point_runs_subcommands_headless(tmp_path):
    db = tmp_path / "e.db"
    out = subprocess.run([sys.executable, "-m", "gui", "--db", str(db), "chips", "list", "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 34
    assert "Traceback" not in out.stderr


def test_corrupted_database_exits_1_and_is_untouched(tmp_path):
    db = tmp_path / "bad.db"
    good = subprocess.run([sys.executable, "-m", "gui", "--db", str(db), "chips", "list"], capture_output=True)
    assert good.returncode == 0
    data = bytearray(db.read_bytes())
    data[200:4000] = b"\xff" * 3800  # garbage over the first pages
    db.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        (tmp_path / ("bad.db" + suffix)).unlink(missing_ok=True)
    before = db.read_bytes()
    out = subprocess.run([sys.executable, "-m", "gui", "--db", str(db), "chips", "list"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and str(db) in out.stderr
    assert "Traceback" not in out.stderr
    assert db.read_bytes() == before


def test_models_import_accepts_a_model_folder(capsys, tmp_path):
    folder = tmp_path / "my-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "vocab_size": 128256}))
    code, out, err = run(capsys, "models", "import", str(folder), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["model"]["id"] == "my-llama"


@pytest.mark.parametrize("kind,fixture_file,needle", [
    ("training", None, "not a training cases file"),
    ("inference", "training_public.csv", "not an inference cases file: missing column(s) scenario"),
])
def test_validate_refuses_a_file_in_the_wrong_schema(capsys, tmp_path, shared_dir, kind, fixture_file, needle):
    path = shared_dir / "validation" / fixture_file if fixture_file else tmp_path / "notes.csv"
    if not fixture_file:
        path.write_text("name,age\nx,1\n")
    code, _, err = run(capsys, "validate", kind, "--cases", str(path))
    assert code == 1 and needle in err


QWEN3_30B_A3B = {"hidden_size": 2048, "intermediate_size": 6144, "moe_intermediate_size": 768,
                 "num_hidden_layers": 48, "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128,
                 "num_experts": 128, "num_experts_per_tok": 8, "vocab_size": 151936, "decoder_sparse_step": 1,
                 "mlp_only_layers": []}


@pytest.mark.parametrize("change, dense", [
    ({}, 0),                                         # Qwen3-30B-A3B as published: every layer MoE
    ({"decoder_sparse_step": 2}, 24),                # experts on every second layer
    ({"mlp_only_layers": list(range(24))}, 24),      # half the layers listed MLP-only
    ({"decoder_sparse_step": 2, "mlp_only_layers": [1, 0]}, 25),   # layer 1 was MoE by the stride
])
def test_models_import_counts_the_layers_without_experts(capsys, tmp_path, change, dense):
    """decoder_sparse_step and mlp_only_layers were listed as "no effect": half the layers dense
    imported as 30.5B like the all-MoE model instead of about 17B."""
    path = tmp_path / "qwen.json"
    path.write_text(json.dumps({**QWEN3_30B_A3B, **change}))
    code, out, err = run(capsys, "models", "import", str(path), "--id", "q", "--format", "json")
    assert code == 0, err
    model = json.loads(out)["model"]
    # by hand: attention 2*h*q + 2*h*kv per layer; a dense MLP 3*h*6144, an MoE one 128 experts
    # of 3*h*768 (+ router); embeddings and head untied
    h = 2048
    attn = h * 32 * 128 * 2 + h * 4 * 128 * 2
    moe, mlp = 128 * 3 * h * 768 + h * 128, 3 * h * 6144
    total = 48 * attn + dense * mlp + (48 - dense) * moe + 2 * 151936 * h
    assert model["params_b"] == pytest.approx(total / 1e9, rel=0.01)
    assert model.get("moe_dense_layers", 0) == dense


@pytest.mark.parametrize("change, needle", [
    ({"decoder_sparse_step": 0}, "decoder_sparse_step: 0 (must be 1 or more)"),
    ({"moe_layer_freq": 0}, "moe_layer_freq: 0 (must be 1 or more)"),
    ({"first_k_dense_replace": 48}, "first_k_dense_replace: 48 (no layer of the 48 keeps its experts)"),
    # a negative size said "(must be >= 0)" and the 0 it then got said "(must be a positive integer)"
    ({"hidden_size": -2048}, "hidden_size: -2048 (must be a positive integer)"),
    ({"hidden_size": 0}, "hidden (hidden_size): 0 (must be a positive integer)"),   # named as the config names it
])
def test_models_import_refuses_layer_patterns_no_model_can_have(capsys, tmp_path, change, needle):
    path = tmp_path / "q.json"
    path.write_text(json.dumps({**QWEN3_30B_A3B, **change}))
    code, _, err = run(capsys, "models", "import", str(path), "--id", "q")
    assert code == 1 and needle in err and "Traceback" not in err


def test_third_qa_round_inputs_are_refused_naming_the_flag_or_field(capsys, tmp_path):
    db = str(tmp_path / "q.db")
    # models import --seq-len 0 said "seq_len set to 0" and stored 4096
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"num_hidden_layers": 2, "hidden_size": 256, "num_attention_heads": 4,
                               "vocab_size": 1000, "intermediate_size": 512}))
    code, _, err = run(capsys, "--db", db, "models", "import", str(cfg), "--id", "z", "--seq-len", "0")
    assert code == 1 and "--seq-len 0: a whole number of tokens" in err
    assert "z" not in {m["id"] for m in json.loads(run(capsys, "--db", db, "models", "list", "--format", "json")[1])}
    # a chip without memory figures read "out of memory" for every layout in train: refused at import now
    chips = tmp_path / "c.csv"
    chips.write_text("id,vendor,name,bf16_tflops\nqa-chip,Acme,QA chip,500\n")
    code, _, err = run(capsys, "--db", db, "chips", "import", str(chips))
    assert code == 1 and "row 2" in err and "hbm_gb: blank" in err and "hbm_gbps: blank" in err


def test_a_delivery_dated_after_today_is_refused_and_nothing_is_imported(capsys, tmp_path):
    import datetime as dt

    db = str(tmp_path / "f.db")
    before = run(capsys, "--db", db, "orders", "list", "--format", "json")[1]
    later = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    path = tmp_path / "orders.csv"
    path.write_text(f"buyer,vendor,chip_id,quantity,order_date,deliveries\nX,NVIDIA,h20-96gb,100,2025-01-01,{later}:50\n")
    code, _, err = run(capsys, "--db", db, "orders", "import", str(path))
    assert code == 1 and f"row 2, column deliveries: {later} (after today" in err
    assert run(capsys, "--db", db, "orders", "list", "--format", "json")[1] == before


GPT2 = {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024, "vocab_size": 50257,
        "activation_function": "gelu_new"}
DSV3_ATTENTION = {"model_type": "deepseek_v3", "hidden_size": 7168, "num_hidden_layers": 61, "num_attention_heads": 128,
                  "num_key_value_heads": 128, "vocab_size": 129280, "intermediate_size": 18432,
                  "q_lora_rank": 1536, "kv_lora_rank": 512, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64,
                  "v_head_dim": 128}


def _import(capsys, tmp_path, config, model_id="m"):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return run(capsys, "models", "import", str(path), "--id", model_id, "--format", "json")


def test_models_import_takes_hugging_faces_tied_embedding_default(capsys, tmp_path):
    """GPT-2's config has no tie_word_embeddings (Hugging Face's default is True): it imported
    untied at 0.162 B, counting the 38.6 M-parameter head twice; by hand it is 0.124 B."""
    code, out, err = _import(capsys, tmp_path, GPT2)
    assert code == 0, err
    data = json.loads(out)
    tied = data["model"]["params_b"]
    assert tied == pytest.approx(0.124, abs=0.001)   # 124 M, as published
    assert any("tie_word_embeddings missing: taken as true" in n for n in data["notes"])
    code, out, _ = _import(capsys, tmp_path, {**GPT2, "model_type": "gpt_neox"}, "m2")   # a class that unties
    assert json.loads(out)["model"]["params_b"] == pytest.approx(tied + 50257 * 768 / 1e9, abs=0.0011)


def test_models_import_refuses_mla_fields_without_the_kv_rank(capsys, tmp_path):
    """Without kv_lora_rank a DeepSeek config imported as plain multi-head attention (a 12x larger
    KV cache) and said nothing was missing."""
    config = {k: v for k, v in DSV3_ATTENTION.items() if k != "kv_lora_rank"}
    code, out, err = _import(capsys, tmp_path, config)
    assert code == 1 and out == "" and "kv_lora_rank: missing" in err and "q_lora_rank" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = _import(capsys, tmp_path, {**DSV3_ATTENTION, "q_lora_rank": None})   # V2-Lite: null
    assert code == 0, err
    assert json.loads(out)["model"]["attention"] == "mla" and "q_lora_rank" not in json.loads(out)["unknown_fields"]


def test_models_import_names_a_missing_expert_top_k(capsys, tmp_path):
    config = {k: v for k, v in QWEN3_30B_A3B.items() if k != "num_experts_per_tok"}
    code, _, err = _import(capsys, tmp_path, config)
    assert code == 1 and "num_experts_per_tok: missing" in err and "moe_topk: 0" not in err


def test_models_import_refuses_zero_kv_heads_and_repeated_keys(capsys, tmp_path):
    """QA: num_key_value_heads 0 imported as full multi-head attention (4x the KV cache, no note),
    and a key given twice silently took its last value (hidden 8192: a 20B model)."""
    base = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
            "num_attention_heads": 32, "vocab_size": 32000}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**base, "num_key_value_heads": 0}))
    code, out, err = run(capsys, "models", "import", str(path), "--id", "kv0")
    assert code == 1 and "kv_heads (num_key_value_heads): 0 (must be a positive integer" in err
    path.write_text(json.dumps(base)[:-1] + ', "hidden_size": 8192}')
    code, out, err = run(capsys, "models", "import", str(path), "--id", "dup")
    assert code == 1 and "key 'hidden_size' appears twice (4096 and 8192); keep one" in err
    path.write_text(json.dumps(base))          # left out: as many KV heads as heads, as before
    code, out, err = run(capsys, "models", "import", str(path), "--id", "mha", "--format", "json")
    assert code == 0 and json.loads(out)["model"]["kv_heads"] == 32


def test_models_import_reads_a_multimodal_configs_language_model(capsys, tmp_path):
    """QA: Llama 4 / Qwen2.5-VL / Gemma 3 configs keep the language model under text_config; the
    import listed four fields as missing with no hint."""
    text = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
            "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 8192}
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llava", "vision_config": {"hidden_size": 1024}, "text_config": text}))
    code, out, err = run(capsys, "models", "import", str(path), "--id", "mm", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["model"]["params_b"] == pytest.approx(8.03, rel=0.01) and d["model"]["kv_heads"] == 8
    assert any("text_config" in n for n in d["notes"]) and "vision_config" not in d["unknown_fields"]


def test_orders_moved_to_a_new_database_can_leave_the_demo_orders_behind(capsys, tmp_path):
    """QA: a new database starts with the story's demo orders, and an import of one's own orders
    into it said '1 added (4)' while every forecast then counted 210,000 demo chips beside them.
    The import says so, and `orders delete` removes orders, all or none."""
    mine = tmp_path / "mine.csv"
    mine.write_text("buyer,vendor,chip_id,quantity,order_date\nAcme,NVIDIA,h100-sxm5-80gb,2048,2024-05-01\n",
                    encoding="utf-8")
    db = str(tmp_path / "fresh.db")
    code, out, err = run(capsys, "--db", db, "orders", "import", str(mine))
    assert code == 0, err
    assert "note: the database holds 3 other order(s) that every forecast counts too: 1 (100,000 ascend-910b2)" in out
    code, out, err = run(capsys, "--db", db, "orders", "delete", "1", "2", "99")
    assert code == 1 and "order 99: no such order in fresh.db" in err and "nothing was deleted" in err
    code, out, _ = run(capsys, "--db", db, "--format", "json", "orders", "list")
    assert len(json.loads(out)) == 4
    code, out, err = run(capsys, "--db", db, "orders", "delete", "1", "2", "3")
    assert code == 0 and out.startswith("deleted 3 order(s) with their deliveries: 1 (100,000 ascend-910b2)"), err
    code, out, _ = run(capsys, "--db", db, "--format", "json", "orders", "list")
    assert [(o["chip_id"], o["quantity"]) for o in json.loads(out)] == [("h100-sxm5-80gb", 2048)]
    code, out, _ = run(capsys, "--db", db, "--format", "json", "orders", "import", str(mine), "--again")
    assert code == 0 and json.loads(out)["other_orders_in_database"] == 1   # the first import's order


def test_an_orders_listing_is_not_an_import_file_and_says_which_is(capsys, tmp_path):
    from engine.commands.catalog import ORDER_COLUMNS

    db = str(tmp_path / "l.db")
    listing = tmp_path / "listing.csv"   # the columns `orders list --format csv` writes
    listing.write_text(",".join(ORDER_COLUMNS) + "\n1,ByteDance,Huawei,ascend-910b2,100000,30000,2023-10-01,,"
                       "16854,ordered,s,n\n", encoding="utf-8")
    code, _, err = run(capsys, "--db", db, "orders", "import", "--replace", str(listing))
    assert code == 1 and "column 'delivered' is not an order field (a listing, from `orders list`? `orders export` " \
        "writes the file an import reads)" in err
