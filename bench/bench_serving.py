"""Speed of the continuous-batching simulator (prints medians).

Targets (issue 12): 2,000 requests simulated in <= 50 ms; the SLO search (best Poisson load
under percentile targets) <= 0.5 s per chip.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.catalog import reference_chips, reference_models  # noqa: E402
from engine.serving.capacity import slo_capacity_sim  # noqa: E402
from engine.serving.cost_model import build_cost_model  # noqa: E402
from engine.serving.families import scheduler_for  # noqa: E402
from engine.serving.simulator import Workload, simulate  # noqa: E402


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
    cm = build_cost_model(models["llama3-70b"], chips["h100-sxm5-80gb"], tp=8, weight_dtype="fp8", kv_dtype="fp8")
    cases = {
        "offline, fixed 1000/200": Workload("offline", 1000, 200, requests=2000),
        "closed loop C=64, fixed 1000/200": Workload("closed", 1000, 200, requests=2000, concurrency=64),
        "closed loop C=64, spread 0.5": Workload("closed", 1000, 200, requests=2000, concurrency=64,
                                                  input_spread=0.5, output_spread=0.5),
        "Poisson 8 req/s, MLPerf-like lengths (222/291, spread 0.9)": Workload(
            "poisson", 222, 291, requests=2000, request_rate=8.0, input_spread=0.9, output_spread=0.9),
    }
    print("continuous-batching simulator, Llama 3 70B fp8 on 8 x H100 (TP8), vLLM scheduler")
    for name, w in cases.items():
        sched = scheduler_for("vllm")
        t = median_s(lambda: simulate(cm, sched, w), 5)
        res = simulate(cm, sched, w)
        print(f"  2,000 requests, {name}: {t * 1e3:.0f} ms ({res.steps:,} steps; target <= 50 ms)")
    for chip in ("h100-sxm5-80gb", "h20-96gb", "ascend-910b2"):
        def search():
            return slo_capacity_sim(models["llama3-70b"], chips[chip], input_len=2000, output_len=300, ttft_ms=2000,
                                    tpot_ms=50, percentile="p90", tp=8, engine="vllm")
        t = median_s(search, 3)
        cap = search()
        print(f"  SLO search (TTFT p90 <= 2 s, TPOT p90 <= 50 ms) on {chip}: {t:.2f} s "
              f"-> {cap.output_tokens_per_s_per_chip:.0f} output tokens/s per chip (target <= 0.5 s)")


if __name__ == "__main__":
    main()
