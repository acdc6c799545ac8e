"""The cases-file readers of `validate` (and `calibrate`): a value no run can have is a row error,
not a default; a column the reader does not know is named once; a short row says it is short;
summaries group by whole source names."""

import csv
import json

import pytest

from engine.cli import main

TRAINING_ROW = "MODELLINK-NPU-03"   # a dense GQA row with every layout field given


def _public(shared_dir, kind):
    path = shared_dir / "validation" / f"{kind}_public.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _validate(tmp_path, capsys, kind, path, *extra):
    code = main(["--db", str(tmp_path / "v.db"), "validate", kind, "--cases", path, "--format", "json", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


def test_a_count_no_run_can_have_is_a_row_error_not_a_default(tmp_path, capsys, shared_dir):
    """QA: chips_per_node -8 narrowed the scale-up domain (316.1, -56%, status ok); kv_heads 0 was
    taken as MHA, vocab 0 as 32000 and seq_len 0 as 2048."""
    header, rows = _public(shared_dir, "training")
    base = next(r for r in rows if r["id"] == TRAINING_ROW)
    assert base["kv_heads"] and base["chips_per_node"] and not base["moe_experts"]
    changes = {"CPN-NEG": {"chips_per_node": "-8"}, "KV-0": {"kv_heads": "0"}, "VOCAB-0": {"vocab": "0"},
               "SEQ-0": {"seq_len": "0"}, "HEADDIM-NEG": {"head_dim": "-128"}, "LAYERS-NEG": {"layers": "-60"},
               # blank is "not reported", and a dense row may write 0 in the expert columns
               "KV-BLANK": {"kv_heads": ""}, "DENSE-ZEROS": {"moe_experts": "0", "moe_topk": "0", "moe_ffn_hidden": "0"}}
    cases = [base] + [{**base, "id": name, **change} for name, change in changes.items()]
    d, _ = _validate(tmp_path, capsys, "training", _write(tmp_path / "bad.csv", header, cases))
    by_id = {c["id"]: c for c in d["cases"]}
    for name, shown in (("CPN-NEG", "chips_per_node: '-8' (must be > 0)"), ("KV-0", "kv_heads: '0' (must be > 0)"),
                        ("VOCAB-0", "vocab: '0' (must be > 0)"), ("SEQ-0", "seq_len: '0' (must be > 0)"),
                        ("HEADDIM-NEG", "head_dim: '-128' (must be >= 0)"), ("LAYERS-NEG", "layers: '-60'")):
        assert by_id[name]["status"] == "error" and shown in by_id[name]["message"], by_id[name]
    assert by_id["KV-BLANK"]["status"] == "ok"
    assert by_id["DENSE-ZEROS"]["status"] == "ok"
    assert by_id["DENSE-ZEROS"]["predicted"] == by_id[TRAINING_ROW]["predicted"]


@pytest.mark.parametrize("kind", ["training", "inference"])
def test_columns_the_reader_does_not_know_are_named_once_and_every_row_still_predicted(tmp_path, capsys,
                                                                                         shared_dir, kind):
    """QA: headers num_chip, tensor_parallel, recompute_mode were ignored without a word."""
    header, rows = _public(shared_dir, kind)
    rows = rows[:3]
    _, err = _validate(tmp_path, capsys, kind, _write(tmp_path / "public.csv", header, rows))
    assert "columns not read" not in err    # the public schema is known in full
    renamed = {"num_chips": "num_chip", "tp": "tensor_parallel", "notes": "my_notes"}
    typo_header = [renamed.get(c, c) for c in header]
    typo_rows = [{renamed.get(k, k): v for k, v in r.items()} for r in rows]
    path = _write(tmp_path / "typo.csv", typo_header, typo_rows)
    d, err = _validate(tmp_path, capsys, kind, path)
    notices = [line for line in err.splitlines() if "columns not read" in line]
    assert notices == [f"fleetcast: note: {path}: columns not read: "
                       + ", ".join(c for c in typo_header if c in renamed.values())]
    assert len(d["cases"]) == len(rows) and not any("column" in c["message"] for c in d["cases"])


def _reads(kind, rows):
    """Every column the `kind` reader asks a row for, over `rows`."""
    asked: set = set()

    class Recording(dict):
        def get(self, key, default=None):
            asked.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            asked.add(key)
            return super().__getitem__(key)

    recorded = [Recording(r) for r in rows]
    if kind == "training":
        from engine.catalog import reference_chips
        from engine.validation import validate_case

        chips = reference_chips()
        for row in recorded:
            validate_case(row, chips)
    else:
        from engine.catalog import reference_chips
        from engine.validation_inference import inputs_from_row, validate_inference_cases

        chips = reference_chips()
        validate_inference_cases(recorded, chips)
        for row in recorded:
            try:
                inputs_from_row(row, chips)   # a cached configuration is read once per run above
            except Exception:
                pass
    return asked


@pytest.mark.parametrize("kind", ["training", "inference"])
def test_every_column_the_reader_reads_is_a_known_column(shared_dir, kind):
    """The notice's list of known columns is the readers' own: a column read but not listed would
    be named as "not read"."""
    from engine.validation import SHORT_ROW, TRAINING_COLUMNS
    from engine.validation_inference import INFERENCE_COLUMNS

    known = TRAINING_COLUMNS if kind == "training" else INFERENCE_COLUMNS
    header, rows = _public(shared_dir, kind)
    assert set(header) <= known
    optional = ({"attention_kernel": "flash2", "schedule": "1f1b", "cp_kind": "ring"} if kind == "training"
                else {"max_num_seqs": "256", "max_num_batched_tokens": "8192"})
    rows = rows[::12] + [{**rows[0], **optional}]
    assert _reads(kind, rows) - {SHORT_ROW} <= known


@pytest.mark.parametrize("kind", ["training", "inference"])
def test_a_short_row_is_an_error_saying_so(tmp_path, capsys, shared_dir, kind):
    """QA: a row cut short read its missing cells as blank: "value: None (must be a positive
    number)", with no row number and no word of the cut."""
    header, rows = _public(shared_dir, kind)
    with open(shared_dir / "validation" / f"{kind}_public.csv", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    cells = next(csv.reader([lines[2]]))
    short = ",".join(f'"{c}"' for c in cells[:20])
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join([lines[0], lines[1], short, lines[3]]) + "\n", encoding="utf-8")
    d, _ = _validate(tmp_path, capsys, kind, str(path))
    statuses = [c["status"] for c in d["cases"]]
    assert statuses[1] == "error" and statuses[0] != "error" and statuses[2] != "error"
    assert d["cases"][1]["message"].startswith(f"row 3 has 20 of {len(header)} cells (short: from column "
                                               f"'{header[20]}' on missing)")
    # a row that only lacks its provenance tail (a writer that drops empty trailing cells) is read
    tail = [i for i, h in enumerate(header) if h in ("trust", "notes")]
    assert tail == list(range(len(header) - len(tail), len(header)))
    path.write_text("\n".join([lines[0], ",".join(f'"{c}"' for c in cells[:tail[0]])]) + "\n", encoding="utf-8")
    d, _ = _validate(tmp_path, capsys, kind, str(path))
    assert d["cases"][0]["status"] == "ok", d["cases"][0]


def test_sources_alike_in_their_first_60_characters_are_two_groups(tmp_path, capsys, shared_dir):
    """QA: by_source cut names to 60 characters and merged two sources that differ after that."""
    header, rows = _public(shared_dir, "training")
    base = next(r for r in rows if r["id"] == TRAINING_ROW)
    stem = "A long publication title that runs well past sixty characters, part "
    cases = [{**base, "id": "SRC-A", "source": stem + "one"}, {**base, "id": "SRC-B", "source": stem + "two"}]
    d, _ = _validate(tmp_path, capsys, "training", _write(tmp_path / "two.csv", header, cases))
    assert sorted(d["summary"]["by_source"]) == [stem + "one", stem + "two"]


def test_holdout_without_named_sources_says_so_plainly(tmp_path, capsys, shared_dir):
    """QA: "(this file has no named); ..." lost its noun."""
    header, rows = _public(shared_dir, "training")
    path = _write(tmp_path / "blank.csv", header, [{**r, "source": ""} for r in rows[:4]])
    assert main(["--db", str(tmp_path / "v.db"), "validate", "training", "--cases", path, "--holdout", "source"]) == 1
    assert "(this file names no sources); without it" in capsys.readouterr().err
    one = _write(tmp_path / "one.csv", header, [{**r, "source": "S"} for r in rows[:4]])
    assert main(["--db", str(tmp_path / "v.db"), "validate", "training", "--cases", one, "--holdout", "source"]) == 1
    assert "(this file names 1 source); without it" in capsys.readouterr().err


def test_an_infeasible_case_counts_layouts_not_heads(monkeypatch):
    """QA: "tp does not divide heads 3" read as a head count of 3; it was 3 layouts."""
    import engine.validation as validation
    from engine.catalog import reference_chips
    from engine.models import ModelConfig
    from engine.training import TrainingInputs

    class NoLayout:
        best = None
        infeasible_by_reason = {"tp does not divide heads": 3, "out of memory": 1}

    monkeypatch.setattr(validation, "search_layouts", lambda inp, top_k: NoLayout())
    # (a layout failing on memory alone would be predicted, flagged: here none is, the wording is tested)
    monkeypatch.setattr(validation, "least_memory_layout", lambda inp, result: None)
    model = ModelConfig(id="m", name="m", layers=4, hidden=512, heads=8, kv_heads=8, ffn_hidden=2048, vocab=32000,
                        seq_len=2048)
    inp = TrainingInputs(model=model, chip=reference_chips()["h100-sxm5-80gb"], num_chips=8, seq_len=2048)
    with pytest.raises(LookupError) as info:
        validation.resolve_layout(inp)
    assert str(info.value).endswith(": tp does not divide heads (3 layouts), out of memory (1 layout)")
