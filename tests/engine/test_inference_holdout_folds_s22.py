"""`validate inference --holdout source` (QA s22): a left-out source that holds every row of a
chip's or an engine family's factors leaves nothing to refit them on. The fold then predicts with
the documented prior (or a wider scope's fit to other rows) and said nothing, where the training
holdout says it per fold. Wording only: the predictions are the same."""

import csv
import json

import pytest

from engine.catalog import reference_chips
from engine.cli import main
from engine.validation_inference import validate_inference_cases
from tests.case_files import write_csv

HEADER = ["id", "source", "model", "params_b", "layers", "hidden", "heads", "kv_heads", "head_dim", "ffn_hidden",
          "vocab", "attention", "weight_dtype", "kv_dtype", "chip", "num_chips", "tp", "engine", "scenario",
          "input_len", "output_len", "batch", "metric", "value", "trust"]
# A Yi-1.5-6B-like dense model on one chip, static batches (closed forms: a fold refits in seconds)
_MODEL = ["Yi-1.5-6B", "6.1", "32", "4096", "32", "4", "128", "11008", "64000", "gqa", "fp16", "fp16"]
# (input_len, output_len, batch, metric, value on H100, value on 910B)
_RUNS = [("1000", "1", "1", "prefill_ms", "40", "87.3"),
         ("1000", "1", "10", "prefill_ms", "230", "527.5"),
         ("1", "100", "1", "output_tokens_per_s_per_chip", "160", "68"),
         ("1", "100", "100", "output_tokens_per_s_per_chip", "9000", "4435")]
H100_LAB, ASCEND_LAB = "Lab H100", "Lab 910B"


def _rows():
    rows = []
    for n, (inp, out, batch, metric, h100, ascend) in enumerate(_RUNS):
        rows.append([f"h-{n}", H100_LAB, *_MODEL, "h100-sxm5-80gb", "1", "1", "trtllm", "static_batch",
                     inp, out, batch, metric, h100, "high"])
        # the only 910B rows, all in one source: its fold has no 910B (or MindIE) row left
        rows.append([f"a-{n}", ASCEND_LAB, *_MODEL, "ascend-910b2", "1", "1", "mindie", "static_batch",
                     inp, out, batch, metric, ascend, "high"])
    return rows


def _validate(tmp_path, capsys, path, *extra):
    code = main(["--db", str(tmp_path / "v.db"), "validate", "inference", "--cases", str(path), *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_a_fold_that_holds_every_row_of_a_chip_says_what_was_not_refitted(tmp_path, capsys):
    path = write_csv(tmp_path / "cases.csv", HEADER, _rows())
    held = json.loads(_validate(tmp_path, capsys, path, "--holdout", "source", "--format", "json"))
    notes = held["summary"]["notes"]
    ascend = next(n for n in notes if n.startswith(f"fold '{ASCEND_LAB}': "))
    kept, other = ascend[len(f"fold '{ASCEND_LAB}': prior kept (no rows left to refit): "):].split(
        "; fitted on other chips' rows: ")
    # MindIE's overhead multiplier has no family prior and no unkeyed 910B value: the documented 1;
    # no H100 row is compute-bound in decode, so the default scope cannot stand in for the 910B's
    assert kept == "ascend-910b*:inf_decode_mfu, ascend-910b*:inf_overhead_scale@mindie"
    # the 910B's own bandwidth and prefill efficiencies fall back to the default scope's fold fit
    assert other == "ascend-910b*:inf_hbm_eff, ascend-910b*:inf_prefill_mfu"
    fold = held["summary"]["folds"][ASCEND_LAB]["not_refitted"]
    assert fold["ascend-910b*:inf_overhead_scale@mindie"] == "prior kept"
    assert fold["ascend-910b*:inf_hbm_eff"] == "fitted on other chips' rows"
    # every predicted 910B row says so first (a table cuts a long message at its end)
    cases = {c["id"]: c for c in held["cases"]}
    for n in range(len(_RUNS)):
        case = cases[f"a-{n}"]
        assert case["status"] == "ok"
        assert case["message"].startswith(("prior kept (no rows left to refit): ",
                                           "fitted on other chips' rows (no rows left to refit): ")), case["message"]
    assert "ascend-910b*:inf_prefill_mfu" in cases["a-0"]["message"]
    # ... and the text output shows the notes
    text = _validate(tmp_path, capsys, path, "--holdout", "source")
    assert f"\nnote: fold '{ASCEND_LAB}': prior kept (no rows left to refit): " in text


def test_only_factors_a_fold_could_not_refit_are_named(tmp_path):
    """A factor refitted on the other source's rows (the step overhead every row shares) is not
    named; one no left-in row depends on is; an in-sample run names none."""
    rows = [dict(zip(HEADER, r)) for r in _rows()]
    res = validate_inference_cases(rows, reference_chips(), holdout="source")
    folds = res["summary"]["folds"]
    for source in (ASCEND_LAB, H100_LAB):
        assert folds[source]["not_refitted"]
        assert set(folds[source]["not_refitted"]) <= set(folds[source]["not_identified"])
        assert "default:inf_step_overhead_ms" in folds[source]["values"]
    assert folds[H100_LAB]["not_refitted"] == {"default:inf_hbm_eff": "prior kept", "default:inf_prefill_mfu": "prior kept"}
    assert all("inf_step_overhead_ms" not in n for n in res["summary"]["notes"])
    ins = validate_inference_cases(rows, reference_chips())
    assert all(not c["message"] for c in ins["cases"]) and "notes" not in ins["summary"]


# Public sources whose folds must say something, and what (the factors no other source has rows for)
_PUBLIC_SOURCES = ("GPUStack performance lab Qwen3-8B/910B", "lmdeploy PR 2278 thread (user report)",
                   "tenstorrent tt-inference-server issue 356", "kipply FasterTransformer 13B",
                   "TensorRT-LLM performance.md v0.6.1")


@pytest.mark.slow
def test_public_folds_that_cannot_refit_a_factor_say_so(shared_dir):
    path = shared_dir / "validation" / "inference_public.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["source"] in _PUBLIC_SOURCES]
    res = validate_inference_cases(rows, reference_chips(), holdout="source")
    notes = {n.split("': ", 1)[0][len("fold '"):]: n for n in res["summary"]["notes"]}
    # vLLM-Ascend runs only in GPUStack's rows; its W8A8 MindIE rows are the 910B's only INT8 rows
    gpustack = notes["GPUStack performance lab Qwen3-8B/910B"]
    assert "prior kept (no rows left to refit): ascend-910b*:inf_fp8_gemm_rel, " \
           "ascend-910b*:inf_overhead_scale@vllm-ascend" in gpustack
    assert "fitted on other engines' rows: ascend-910b*:inf_decode_mfu@vllm-ascend, " \
           "ascend-910b*:inf_hbm_eff@vllm-ascend" in gpustack
    # the TP16 inter-node overhead is seen only in the tenstorrent rows
    assert "inf_scaleout_layer_overhead_us" in notes["tenstorrent tt-inference-server issue 3…"]
    # MindIE on the 910B is also in GPUStack's rows: the lmdeploy fold refits everything it uses
    assert "lmdeploy PR 2278 thread (user report)" not in notes
    cases = [c for c in res["cases"] if c["source"].startswith("GPUStack")]
    assert all(c["message"].startswith("prior kept (no rows left to refit): ascend-910b*:") for c in cases
               if c["engine"].startswith("vllm-ascend"))
