"""Training accuracy on runs nobody fitted: the rows of two public sources that the validation
file left out.

The public training cases include 67 of vTrain's 109 measured Megatron-DeepSpeed runs
(github.com/VIA-Research/vTrain, data/ground_truth_multi.csv) and 132 rows of MosaicML's MPT
benchmark tables (github.com/mosaicml/llm-foundry, scripts/train/benchmarking/README.md). This
script converts the others the same way (each takes the architecture and software columns of a
public row of the same model and source) and scores them with the packaged factors; nothing is
fitted to them.

    python bench/bench_external_training.py [--vtrain ground_truth_multi.csv] [--mpt README.md]

Without a file (as `make bench` runs every script here) it says what it skipped. MPT rows kept:
BF16 (amp_bf16), no activation offload, FSDP FULL_SHARD (ZeRO-3) / SHARD_GRAD_OP (ZeRO-2) /
NO_SHARD, models and GPUs (H100 80GB, A100 80/40GB) the public file has.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.catalog import reference_chips  # noqa: E402
from engine.validation import summarize, validate_training_cases  # noqa: E402

PUBLIC = Path(__file__).resolve().parents[2] / "shared" / "validation" / "training_public.csv"
MPT_GPUS = {"h100_80gb": "h100-sxm5-80gb", "a100_80gb": "a100-sxm4-80gb", "a100_40gb": "a100-sxm4-40gb"}
MPT_SHARDING = {"FULL_SHARD": "3", "SHARD_GRAD_OP": "2", "NO_SHARD": "0"}


def convert_vtrain(rows, public) -> list[dict]:
    """vTrain's measured iteration times (ms) as step_time_s cases, the public rows left out."""
    ours = [r for r in public if r["id"].startswith("VTRAIN")]
    seen = {(r["params_b"], r["tp"], r["pp"], r["dp"], r["micro_batch"]) for r in ours}
    template = {}
    for r in ours:
        template.setdefault(r["params_b"], r)
    out = []
    for g in rows:
        size = g["Parameters (billion)"].strip()
        layout = (g["tensor parallelism"], g["pipeline parallelism"], g["data parallelism"], g["micro batch"])
        t = template.get(size)
        if t is None or (size, *layout) in seen or t["hidden"] != g["hidden size"] or t["layers"] != g["# layers"]:
            continue
        r = dict(t)
        r.update(id=f"VTX-{len(out) + 1:03d}", num_chips=g["# GPUs"], tp=layout[0], pp=layout[1], dp=layout[2],
                 micro_batch=layout[3], global_batch_seqs=g["global batch"], notes="", locator="",
                 value=f"{float(g['iteration time (ms)']) / 1000:.4f}")
        out.append(r)
    return out


def convert_mpt(lines, public) -> list[dict]:
    """MosaicML's tokens/s/GPU table rows as tokens_per_s_per_chip cases, the public rows left out."""
    ours = [r for r in public if r["id"].startswith("MPT")]
    seen = {(r["model"].lower(), r["seq_len"], r["num_chips"], r["chip"], r["micro_batch"], r["global_batch_seqs"],
             r["zero_stage"], r["recompute"]) for r in ours}
    template = {}
    for r in ours:
        template.setdefault(r["model"].lower(), r)
    out = []
    for line in lines:
        if not line.startswith("|") or "---" in line or "Model |" in line:
            continue
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(c) < 20:
            continue
        model, seq, gpus, gpu, _mfu, _hfu, _tflop, mb, _ga, gbs = c[:10]
        per_gpu, precision, sharding, checkpointing, offload = c[12], c[14], c[16], c[17], c[18]
        name = f"mpt-{model.lower()}"
        if (name not in template or gpu not in MPT_GPUS or precision != "amp_bf16" or offload != "False"
                or sharding not in MPT_SHARDING):
            continue
        zero, recompute = MPT_SHARDING[sharding], ("full" if checkpointing == "True" else "none")
        if (name, seq, gpus, MPT_GPUS[gpu], mb, gbs, zero, recompute) in seen:
            continue
        r = dict(template[name])
        r.update(id=f"MPTX-{len(out) + 1:03d}", seq_len=seq, num_chips=gpus, chip=MPT_GPUS[gpu], dp=gpus,
                 micro_batch=mb, global_batch_seqs=gbs, zero_stage=zero, recompute=recompute, value=per_gpu,
                 notes="", locator="")
        out.append(r)
    return out


def _report(label: str, rows: list[dict]) -> None:
    cases = validate_training_cases(rows, reference_chips())
    cases = cases["cases"] if isinstance(cases, dict) else cases
    s = summarize(cases)["overall"]
    print(f"{label}: {len(rows)} rows not in the public file; |error| median {s['median_abs_error_pct']:.1f}%, "
          f"p90 {s['p90_abs_error_pct']:.1f}%")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vtrain", type=Path, help="vTrain data/ground_truth_multi.csv")
    ap.add_argument("--mpt", type=Path, help="llm-foundry scripts/train/benchmarking/README.md")
    args = ap.parse_args(argv)
    with open(PUBLIC, newline="", encoding="utf-8") as fh:
        public = list(csv.DictReader(fh))
    if not args.vtrain and not args.mpt:
        print("skipped: give --vtrain and/or --mpt (see the module doc)")
        return 0
    for path in (args.vtrain, args.mpt):
        if path is not None and not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 1
    if args.vtrain:
        with open(args.vtrain, newline="", encoding="utf-8-sig") as fh:
            _report("vTrain (Megatron-DeepSpeed, A100)", convert_vtrain(list(csv.DictReader(fh)), public))
    if args.mpt:
        with open(args.mpt, encoding="utf-8") as fh:
            _report("MosaicML MPT (FSDP, A100/H100)", convert_mpt(fh.readlines(), public))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
