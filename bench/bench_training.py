"""Training-engine speed: full layout search for Llama 3 405B on 16,384 H100s, one layout
evaluation, and the vectorised search against a naive per-layout loop (same layouts)."""

import statistics
import sys
import time
from pathlib import Path

# run from anywhere: the repo root first on the path (the `resources` package lives there)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.catalog import reference_chips, reference_models
from engine.training import TrainingInputs, _arrays_of, _evaluate_arrays, candidate_arrays, evaluate_layout, search_layouts


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    chips, models = reference_chips(), reference_models()
    inp = TrainingInputs(model=models["llama3-405b"], chip=chips["h100-sxm5-80gb"], num_chips=16384)
    res = search_layouts(inp)
    t_search = median_time(lambda: search_layouts(inp), 5)
    print(f"search: {res.layouts_evaluated} layouts ({res.layouts_feasible} feasible) "
          f"median {t_search * 1e3:.1f} ms -> {res.layouts_evaluated / t_search / 1e6:.2f} M layouts/s")
    print(f"best: {res.best.layout} {res.best.tokens_per_s_per_chip:.1f} tokens/s/chip, MFU {res.best.mfu_pct:.1f}%")
    # The target speaks of >= 100k layouts: the one search has 81,300 that can exist, so the same
    # search under each pipeline schedule (what comparing them costs) is timed too.
    from dataclasses import replace

    from engine.training import SCHEDULES as schedules

    every = [replace(inp, schedule=s) for s in schedules]
    n_all = sum(search_layouts(i).layouts_evaluated for i in every)
    t_all = median_time(lambda: [search_layouts(i) for i in every], 5)
    print(f"search under {len(schedules)} schedules: {n_all} layouts median {t_all * 1e3:.1f} ms "
          f"-> {n_all / t_all / 1e6:.2f} M layouts/s")

    one = TrainingInputs(model=models["llama3-405b"], chip=chips["h100-sxm5-80gb"], num_chips=16384, tp=8, pp=16,
                         vpp=8, dp=128, cp=1, micro_batch=1, zero_stage=1, recompute="selective")
    t_one = median_time(lambda: evaluate_layout(one), 200)
    print(f"one layout (evaluate_layout): median {t_one * 1e3:.3f} ms")

    # naive: one Python call per layout over the same candidates (a sample, extrapolated)
    L = candidate_arrays(inp)
    sample = 2000
    layouts = [{k: int(v[i]) for k, v in L.items()} for i in range(0, res.layouts_evaluated, res.layouts_evaluated // sample)][:sample]
    t = time.perf_counter()
    for lay in layouts:
        _evaluate_arrays(inp, _arrays_of([lay]))
    per_layout = (time.perf_counter() - t) / len(layouts)
    naive_total = per_layout * res.layouts_evaluated
    print(f"naive per-layout loop: {per_layout * 1e3:.3f} ms/layout -> {naive_total:.1f} s for the full search "
          f"(extrapolated from {len(layouts)})")
    print(f"vectorised speed-up: {naive_total / t_search:.0f}x")
    frontier(chips, models)


def frontier(chips, models):
    """Published frontier runs with their own layouts (the targets of tests/engine/test_training_v2.py)."""
    from engine.models import training_flops_per_token

    h100 = chips["h100-sxm5-80gb"]
    for n, cp, published in ((8192, 1, 430), (16384, 1, 400), (16384, 16, 380)):
        inp = TrainingInputs(model=models["llama3-405b"], chip=h100, num_chips=n, tp=8, pp=16, cp=cp,
                             seq_len=8192 if cp == 1 else 131072, global_batch_seqs=2048 if cp == 1 else 128,
                             cp_kind="allgather")
        b = search_layouts(inp, top_k=1).best
        # Meta counts the whole s x s attention matrix (PaLM's formula), our model FLOPs its causal half
        meta = b.tokens_per_s_per_chip * training_flops_per_token(inp.model, inp.seq, causal_half=False) / 1e12
        print(f"Llama 3 405B, {n} H100, CP{cp}: {meta:.0f} TFLOP/s per GPU counted as Meta counts "
              f"({b.model_tflops_per_chip:.0f} causal-half; Meta: {published}), "
              f"{b.memory_gib_per_chip:.1f} GiB, vpp {b.layout['vpp']}, recompute {b.layout['recompute']}")
    gpt3 = TrainingInputs(model=models["gpt3-175b"], chip=chips["a100-sxm4-80gb"], num_chips=1024, tp=8, pp=16, dp=8,
                          global_batch_seqs=1536, micro_batch=1, recompute="full", sequence_parallel=False,
                          dropout=True, flash_attention=False)
    b = search_layouts(gpt3, top_k=1).best
    print(f"GPT-3 175B, 1024 A100: {b.hfu_pct / 100 * 312:.0f} TFLOP/s per GPU with recompute (Narayanan: 140)")
    dsv3 = TrainingInputs(model=models["deepseek-v3"], chip=chips["h800-sxm5-80gb"], num_chips=2048, tp=1, pp=16,
                          vpp=1, ep=64, dp=128, cp=1, dtype="fp8", schedule="dualpipe", global_batch_seqs=15360,
                          moe_route_nodes=4, seq_len=4096)
    b = search_layouts(dsv3, top_k=1).best
    days = 1e12 / (b.tokens_per_s_per_chip * 2048) / 86400
    print(f"DeepSeek-V3, 2048 H800 (FP8, PP16 DualPipe, EP64): {days:.2f} days per trillion tokens (DeepSeek: 3.7), "
          f"{b.memory_gib_per_chip:.1f} GiB per chip")


if __name__ == "__main__":
    main()
