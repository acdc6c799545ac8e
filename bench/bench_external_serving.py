"""Serving accuracy on measurements nobody fitted: NVIDIA AIConfigurator's public silicon sample.

Most public serving rows (`../shared/validation/inference_public.csv`) were taken from NVIDIA's
AIConfigurator `silicon_sample.csv` (github.com/ai-dynamo/aiconfigurator,
aic-core/src/aiconfigurator_core/systems/silicon_sample.csv): closed-loop benchmarks of vLLM,
SGLang and TensorRT-LLM with C concurrent clients at fixed input/output lengths. That file holds
about 2,000 further H100/H200 rows of the same five models. This script converts them to the
validation schema and scores them with the factors as shipped: nothing here is fitted, it is a
check of how the model holds on runs it never saw.

    python bench/bench_external_serving.py PATH/TO/silicon_sample.csv [--write OUT.csv]

The file is not bundled (it is NVIDIA's); download it at any commit. Without a path (as `make
bench` runs every script here) it looks at $FLEETCAST_SILICON_SAMPLE and otherwise says it skipped. Rows already in the public
validation file are left out. The mapping, per the public file's own conversions:
chips = attention TP x attention DP; tp = attention TP; ep = MoE EP; engine = backend[@version];
weights bf16 when the GEMM quantisation is blank, fp8 for fp8 / fp8_block; KV cache bf16 (not
recorded); C from `silicon_concurrency`. Model architectures come from the public file's rows of
the same model; rows of other models, other chips, disaggregated mode, pipeline parallelism or
more than 8 chips are skipped.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.catalog import reference_chips  # noqa: E402
from engine.validation_inference import summarize, validate_inference_cases  # noqa: E402

PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "validation" / "inference_public.csv"
MODELS = {
    "meta-llama/Llama-3.1-70B": "Llama-3.1-70B", "meta-llama/Llama-3.1-8B-Instruct": "Llama-3.1-8B",
    "nvidia/Llama-3.1-8B-Instruct-FP8": "Llama-3.1-8B", "Qwen/Qwen3-32B": "Qwen3-32B",
    "Qwen/Qwen3-235B-A22B-FP8": "Qwen3-235B-A22B", "deepseek-ai/DeepSeek-R1": "DeepSeek-R1",
    "deepseek-ai/DeepSeek-V3": "DeepSeek-R1",   # same architecture
}
CHIPS = {"h100_sxm": "h100-sxm5-80gb", "h200_sxm": "h200-sxm-141gb"}
ARCHITECTURE = ("params_b", "layers", "hidden", "heads", "kv_heads", "head_dim", "ffn_hidden", "vocab",
                "moe_experts", "moe_shared_experts", "moe_topk", "moe_ffn_hidden", "attention",
                "moe_dense_layers", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim",
                "v_head_dim")


def _int(text: str, default: int = 1) -> int:
    return int(text) if text.strip() else default


def convert(silicon_rows, public_rows) -> list[dict]:
    columns = list(public_rows[0].keys())
    in_public = {r["locator"].split("row id=", 1)[1] for r in public_rows if "row id=" in r["locator"]}
    architecture = {}
    for r in public_rows:
        architecture.setdefault(r["model"], r)
    out = []
    for s in silicon_rows:
        model = MODELS.get(s["model_path"])
        if (s["system"] not in CHIPS or s["mode"] != "agg" or model not in architecture
                or s["id"] in in_public or "silicon_concurrency=" not in s["silicon_data_source"]):
            continue
        tp, attn_dp = _int(s["tp_size"]), _int(s["attention_dp_size"])
        ep, moe_tp = _int(s["moe_ep_size"]), _int(s["moe_tp_size"])
        chips = tp * attn_dp
        if _int(s["pp_size"]) != 1 or chips > 8 or moe_tp * ep > chips:
            continue
        quant = s["gemm_quant_mode"] or s["precision"]
        if quant in ("", "bf16", "fp16"):
            weights = "bf16"
        elif quant.startswith("fp8"):
            weights = "fp8"
        else:
            continue
        concurrency = s["silicon_data_source"].split("silicon_concurrency=", 1)[1].split(";", 1)[0].strip()
        engine = s["backend"] + (f"@{s['backend_version']}" if s["backend_version"] else "")
        for metric, key in (("ttft_ms", "silicon_ttft_ms"), ("tpot_ms", "silicon_tpot_ms")):
            if not s[key].strip():
                continue
            row = dict.fromkeys(columns, "")
            row.update({c: architecture[model][c] for c in ARCHITECTURE})
            row.update(id=f"aic-{len(out) + 1:05d}", source=f"AIConfigurator silicon sample ({s['backend']})",
                       locator=s["id"], model=model, weight_dtype=weights, kv_dtype="bf16",
                       chip=CHIPS[s["system"]], num_chips=str(chips), tp=str(tp), pp="1", ep=str(ep),
                       replicas="1", engine=engine, scenario="concurrency", input_len=s["isl"],
                       output_len=s["osl"], concurrency=concurrency, metric=metric,
                       value=f"{float(s[key]):.4f}", trust="medium")
            out.append(row)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("silicon", type=Path, nargs="?", help="AIConfigurator silicon_sample.csv "
                    "(default: $FLEETCAST_SILICON_SAMPLE)")
    ap.add_argument("--write", type=Path, help="also write the converted rows here (validation schema)")
    args = ap.parse_args(argv)
    if args.silicon is None:
        env = os.environ.get("FLEETCAST_SILICON_SAMPLE", "")
        if not env:
            print("skipped: no silicon_sample.csv given (pass its path or set FLEETCAST_SILICON_SAMPLE)")
            return 0
        args.silicon = Path(env)
    if not args.silicon.is_file():
        print(f"{args.silicon}: no such file", file=sys.stderr)
        return 1
    with open(PUBLIC, newline="", encoding="utf-8") as fh:
        public = list(csv.DictReader(fh))
    with open(args.silicon, newline="", encoding="utf-8") as fh:
        rows = convert(csv.DictReader(fh), public)
    if args.write:
        with open(args.write, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(public[0].keys()))
            w.writeheader()
            w.writerows(rows)
    result = validate_inference_cases(rows, reference_chips())
    cases = result["cases"] if isinstance(result, dict) else result
    s = summarize(cases)
    o = s["overall"]
    print(f"{len(rows)} rows not in the public file; {s['counts']}")
    print(f"overall |error| median {o['median_abs_error_pct']:.1f}%  p90 {o['p90_abs_error_pct']:.1f}%")
    for metric, st in s["by_metric"].items():
        print(f"  {metric:8s} n={st['n']:5d}  median {st['median_abs_error_pct']:5.1f}%  p90 {st['p90_abs_error_pct']:6.1f}%")
    groups = defaultdict(list)
    for c in cases:
        if c["status"] == "ok":
            groups[(c["metric"], c["engine"], c["model"], c["chip"])].append(c["error_pct"])
    print("signed median error by metric, engine, model, chip (n >= 10):")
    for key, errs in sorted(groups.items()):
        if len(errs) >= 10:
            print(f"  {' / '.join(key):70s} n={len(errs):4d}  {statistics.median(errs):+7.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
