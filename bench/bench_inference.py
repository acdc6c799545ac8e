"""Speed of the serving model (prints medians; targets: one evaluation < 1 ms, full curve < 50 ms)."""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engine.catalog import reference_chips, reference_models  # noqa: E402
from engine.inference import ServingInputs, evaluate_serving, serving_curve, slo_capacity  # noqa: E402


def median_s(fn, repeats):
    fn()  # warm up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    chips = reference_chips()
    models = reference_models()
    model = models["llama3-70b"]
    inp = ServingInputs(model=model, chip=chips["h100-sxm5-80gb"], input_len=2000, output_len=300, tp=8,
                        scenario="concurrency", concurrency=64, simulate=False)
    one = median_s(lambda: evaluate_serving(inp), 200)
    from dataclasses import replace

    simulated = replace(inp, simulate=True, requests=256)
    sim_one = median_s(lambda: evaluate_serving(simulated), 5)
    five = [chips[c] for c in ("h100-sxm5-80gb", "h200-sxm-141gb", "h20-96gb", "ascend-910b2", "a100-sxm4-80gb")]
    batches = np.unique(np.round(np.geomspace(1, 1024, 64)))
    batches = np.arange(1, 65) if len(batches) < 64 else batches
    tps = [1, 2, 4, 8, 16, 32, 64, 3]  # 8 TP choices (64-way and 3-way are legal shapes for the curve)
    curve = median_s(lambda: serving_curve(model, five, tps, batches, input_len=2000, output_len=300), 20)
    slo = median_s(lambda: slo_capacity(model, chips["h20-96gb"], input_len=2000, output_len=300,
                                        ttft_ms=2000, tpot_ms=50), 50)
    print(f"evaluate_serving, steady-state closed form (simulate=False): median {one * 1e3:.3f} ms  (target < 1 ms)")
    print(f"evaluate_serving, simulated closed loop C=64, 256 requests: median {sim_one * 1e3:.1f} ms "
          "(bench_serving.py times the simulator)")
    print(f"serving_curve 64 batches x 8 TP x 5 chips: median {curve * 1e3:.2f} ms  (target < 50 ms)")
    moe = median_s(lambda: slo_capacity(models["deepseek-v3"], chips["h800-sxm5-80gb"], input_len=2880,
                                        output_len=800, ttft_ms=2000, tpot_ms=50, weight_dtype="fp8",
                                        kv_dtype="fp8", prefix_cache_hit=0.56), 20)
    print(f"slo_capacity (best TP of 4, 96 batch sizes each): median {slo * 1e3:.2f} ms")
    print(f"slo_capacity MoE layout search (DeepSeek-V3 on H800: TP and EP 8..256 layouts): "
          f"median {moe * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
