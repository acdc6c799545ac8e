"""Speed of the continuous-batching simulator (prints medians).

Targets (issue 12): 2,000 requests simulated in <= 50 ms, whatever the arrivals (offline,
closed loop, Poisson) and length spreads; the SLO search (best Poisson load under percentile
targets) <= 0.5 s per chip, the layout left to it included (the slowest case: three layouts within
2% of each other, each raced under load and the best searched in full: 34 simulations).

Each simulation is timed cold: what the simulator caches per cost model (its lines, checked
against the step time, and one envelope per batch size) is dropped first, as for a single
`fleetcast serve`. Wall-clock medians are the figures; the CPU-time median follows in
brackets, since on a shared machine wall time includes waiting for a core.

`python bench/bench_serving.py slo` times the SLO searches alone.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.catalog import reference_chips, reference_models  # noqa: E402
from engine.serving import simulator  # noqa: E402
from engine.serving.capacity import slo_capacity_sim, slo_capacity_tokens_per_s_per_chip  # noqa: E402
from engine.serving.cost_model import build_cost_model  # noqa: E402
from engine.serving.families import scheduler_for  # noqa: E402
from engine.serving.simulator import Workload, simulate  # noqa: E402


def medians(fn, repeats, before=None):
    """(wall s, CPU s): medians over `repeats` timed calls after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        if before:
            before()
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(wall), statistics.median(cpu)


def cold():
    """Forget what the simulator caches per cost model (its checked lines and envelopes)."""
    simulator._ENVELOPES.clear()
    simulator._LINES_OK.clear()
    simulator._LINES.clear()


def main():
    chips = reference_chips()
    models = reference_models()
    cm = build_cost_model(models["llama3-70b"], chips["h100-sxm5-80gb"], tp=8, weight_dtype="fp8", kv_dtype="fp8")
    mlperf = dict(input_spread=0.9, output_spread=0.9)        # OpenOrca-like: input mean 222, output 291
    cases = [
        ("vllm", "offline, fixed 1000/200", Workload("offline", 1000, 200, requests=2000)),
        ("vllm", "offline, MLPerf-like lengths (222/291, spread 0.9)", Workload("offline", 222, 291, requests=2000,
                                                                                **mlperf)),
        ("vllm", "closed loop C=64, fixed 1000/200", Workload("closed", 1000, 200, requests=2000, concurrency=64)),
        ("vllm", "closed loop C=64, spread 0.5", Workload("closed", 1000, 200, requests=2000, concurrency=64,
                                                           input_spread=0.5, output_spread=0.5)),
        ("vllm", "closed loop C=64, fixed 1000/200, clients ramped over 5 s, 128 warm-up",
         Workload("closed", 1000, 200, requests=2000, concurrency=64, ramp_s=5.0, warmup=128)),
        ("vllm", "closed loop C=1024, 2000/4000 spread 0.5 (KV full: preemption)", Workload(
            "closed", 2000, 4000, requests=2000, concurrency=1024, input_spread=0.5, output_spread=0.5)),
        ("vllm", "Poisson 4 req/s, fixed 1000/200", Workload("poisson", 1000, 200, requests=2000, request_rate=4.0)),
        ("vllm", "Poisson 8 req/s, MLPerf-like lengths", Workload("poisson", 222, 291, requests=2000,
                                                                   request_rate=8.0, **mlperf)),
        ("vllm", "Poisson 40 req/s (overloaded), MLPerf-like lengths", Workload(
            "poisson", 222, 291, requests=2000, request_rate=40.0, **mlperf)),
        ("sglang", "Poisson 8 req/s, MLPerf-like lengths, SGLang (prefill steps alone)", Workload(
            "poisson", 222, 291, requests=2000, request_rate=8.0, **mlperf)),
        ("trtllm", "Poisson 8 req/s, MLPerf-like lengths, TensorRT-LLM (reserved KV)", Workload(
            "poisson", 222, 291, requests=2000, request_rate=8.0, **mlperf)),
    ]
    slo_only = sys.argv[1:] == ["slo"]
    print("continuous-batching simulator, Llama 3 70B fp8 on 8 x H100 (TP8); wall median [CPU median]")
    for family, name, w in ([] if slo_only else cases):
        sched = scheduler_for(family)
        wall, cpu = medians(lambda: simulate(cm, sched, w), 7, before=cold)
        res = simulate(cm, sched, w)
        print(f"  2,000 requests, {name}: {wall * 1e3:.0f} ms [{cpu * 1e3:.0f} ms] "
              f"({res.steps:,} steps, {res.preemptions} preemptions; target <= 50 ms)")
    searches = [(chip, "TTFT p90 <= 2 s, TPOT p90 <= 50 ms, 2000/300", dict(input_len=2000, output_len=300))
                for chip in ("h100-sxm5-80gb", "h20-96gb", "ascend-910b2")]
    searches.append(("h100-sxm5-80gb", "same targets, MLPerf-like lengths",
                     dict(input_len=222, output_len=291, **mlperf)))
    for chip, name, lengths in searches:
        def search(chip=chip, lengths=lengths):
            return slo_capacity_sim(models["llama3-70b"], chips[chip], ttft_ms=2000, tpot_ms=50, percentile="p90",
                                    tp=8, engine="vllm", **lengths)
        wall, cpu = medians(search, 3)
        cap = search()
        print(f"  SLO search ({name}) on {chip}: {wall:.3f} s [{cpu:.3f} s] "
              f"-> {cap.output_tokens_per_s_per_chip:.0f} output tokens/s per chip (target <= 0.5 s)")
    def split_search():
        return slo_capacity_sim(models["llama3-70b"], chips["h100-sxm5-80gb"], ttft_ms=2000, tpot_ms=50,
                                percentile="p90", tp=8, engine="vllm", input_len=2000, output_len=300,
                                prefill_tp=8, prefill_instances=1)
    wall, cpu = medians(split_search, 3)
    cap = split_search()
    print(f"  SLO search, disaggregated (1 x TP8 prefill + TP8 decode) on h100-sxm5-80gb: {wall:.3f} s [{cpu:.3f} s] "
          f"-> {cap.output_tokens_per_s_per_chip:.0f} output tokens/s per chip over both pools (target <= 0.5 s)")
    # The layout left to the search: the steady search's pick and the layouts within 2x of it raced
    # under load, the best searched in full (engine.serving.slo_layout). Llama 3 8B on H20 at the
    # Inference view's targets has TP1, TP2 and TP4 within 5% of each other at the steady state.
    layout_cases = [
        ("Llama 3 8B, 1024/256 spread 0.5, p90 TTFT 2 s / TPOT 50 ms, 1M output tokens/s",
         dict(input_len=1024, output_len=256, ttft_ms=2000, tpot_ms=50, input_spread=0.5, output_spread=0.5,
              demand_output_tokens_per_s=1e6)),
        ("Llama 3 8B, 2000/300 spread 1, p90 TTFT 500 ms / TPOT 25 ms, 100k output tokens/s",
         dict(input_len=2000, output_len=300, ttft_ms=500, tpot_ms=25, input_spread=1.0, output_spread=1.0,
              demand_output_tokens_per_s=1e5)),
    ]
    for name, kw in layout_cases:
        def layout_search(kw=kw):
            return slo_capacity_tokens_per_s_per_chip(models["llama3-8b"], chips["h20-96gb"], percentile="p90",
                                                      **kw)
        wall, cpu = medians(layout_search, 5, before=cold)
        cap = layout_search()
        print(f"  SLO search, layout left to it ({name}) on h20-96gb: {wall:.3f} s [{cpu:.3f} s] -> TP{cap.tp}, "
              f"{cap.output_tokens_per_s_per_chip:.0f} output tokens/s per chip (target <= 0.5 s)")
    if slo_only:
        return
    # The Inference view's background comparison: per chip the steady-state search, its SLO
    # capacity under load (p90, CV 0.5), then the chosen chip's load curve and run.
    from engine.studies import ServingStudy
    from engine.studies_serving import run_chip_comparison, serving_request

    study = ServingStudy()
    request = serving_request(study, chips, models)
    compared = tuple(chips[c] for c in study.compare_chips)
    wall, cpu = medians(lambda: run_chip_comparison(request, compared), 3)
    print(f"  Inference view comparison (4 chips under load + the chosen chip's load curve): {wall:.2f} s "
          f"[{cpu:.2f} s] (in a worker with progress and Cancel)")


if __name__ == "__main__":
    main()
