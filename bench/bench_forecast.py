"""Forecast Monte Carlo speed and memory: 10,000 trials x 60 months x 10 orders (target < 0.3 s, < 500 MB),
and a big fleet: 2,000 orders x 2,000 trials x 240 months, with overdue and unscheduled lots, deliveries
recorded from several vendors and no scenario 'as of' (a 2,003-order fleet at 20,000 x 240 took 14.7 min).

Every source of uncertainty is on: vendor common shocks plus contract noise, an H20 export-licence
cut-off, demand growth fitted with its error (decaying model) and request-mix noise, and per-family
throughput sigmas.

Prints medians of several runs and the peak traced memory; exits 0 (figures, not a timed test).
Pin to one core for the target: `taskset -c 0 python bench/bench_forecast.py`; `--big` runs only the big
fleet (`--big ORDERS TRIALS MONTHS RUNS` to size it).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from engine.fleet import Delivery, Order, ScheduledLot  # noqa: E402
from engine.forecast import (ForecastInputs, OrderUncertainty, ThroughputTable, default_scenario,  # noqa: E402
                             run_forecast)

CHIPS = ("ascend-910b2", "h20-96gb", "h800-sxm5-80gb")


def synthetic_orders(n: int = 10) -> list[Order]:
    orders = []
    for k in range(n):
        chip = CHIPS[k % len(CHIPS)]
        start = dt.date(2024, 1 + k % 12, 1)
        lots = tuple(ScheduledLot(dt.date(2024 + (k % 12 + i) // 12, (k % 12 + i) % 12 + 1, 1), 1000 * (k + 1))
                     for i in range(12))
        deliveries = tuple(Delivery(100 * k + i, k + 1, lots[i].due_date, lots[i].quantity) for i in range(3))
        orders.append(Order(id=k + 1, buyer="B", vendor=("Huawei", "NVIDIA")[k % 2], chip_id=chip,
                            quantity=12 * 1000 * (k + 1), order_date=start, promised=lots, deliveries=deliveries))
    return orders


VENDORS = ("Huawei", "NVIDIA", "huawei ", "Reseller A", "Reseller B")


def big_fleet_orders(n: int = 2000) -> list[Order]:
    """`n` orders over three years from five vendor spellings: 1-6 promised lots each, every 4th
    with chips that have no promised date, most with some lots delivered (so many lots are overdue
    at their vendor's latest delivery)."""
    orders, delivery_id = [], 0
    for k in range(n):
        ordered = dt.date(2023 + (k % 36) // 12, k % 12 + 1, 1 + k % 28)
        lots = []
        for i in range(1 + k % 6):
            month = ordered.month - 1 + 2 + 2 * i
            lots.append(ScheduledLot(dt.date(ordered.year + month // 12, month % 12 + 1, 1 + (k + i) % 27),
                                     100 + 37 * ((k + i) % 11)))
        deliveries = []
        for lot in lots[:(k % 3 if k % 7 else 0)]:
            delivery_id += 1
            deliveries.append(Delivery(delivery_id, k + 1, lot.due_date + dt.timedelta(days=10 * (k % 5)),
                                       lot.quantity))
        quantity = sum(lot.quantity for lot in lots) + (0 if k % 4 else 500)
        orders.append(Order(id=k + 1, buyer="B", vendor=VENDORS[k % len(VENDORS)], chip_id=CHIPS[k % len(CHIPS)],
                            quantity=quantity, order_date=ordered, promised=tuple(lots),
                            deliveries=tuple(deliveries)))
    return orders


def make_big_inputs(orders: int = 2000, trials: int = 2000, months: int = 240) -> ForecastInputs:
    from dataclasses import replace

    inputs = make_inputs(trials=trials, months=months)
    sc = inputs.scenario
    unc = sc.vendor_uncertainty["Huawei"]
    sc = replace(sc, as_of=None, vendor_uncertainty={**sc.vendor_uncertainty,
                                                     "Reseller A": replace(unc, extra_delay_days=45.0)})
    return replace(inputs, orders=tuple(big_fleet_orders(orders)), scenario=sc,
                   maker_by_chip={"ascend-910b2": "Huawei", "h20-96gb": "NVIDIA", "h800-sxm5-80gb": "NVIDIA"})


def bench_big(orders: int = 2000, trials: int = 2000, months: int = 240, runs: int = 3) -> None:
    inputs = make_big_inputs(orders, trials, months)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = run_forecast(inputs)
        times.append(time.perf_counter() - t0)
    print(f"big fleet: {orders} orders x {trials} trials x {months} months, {len(result.notes)} notes")
    print(f"  median {statistics.median(times):.2f} s, min {min(times):.2f} s over {len(times)} runs")


def make_inputs(trials: int = 10_000, months: int = 60) -> ForecastInputs:
    from dataclasses import replace

    sc = default_scenario()
    unc = OrderUncertainty("beta", 0.3, 0.6, 1.0, "order", "triangular", 0, 60, 300)
    sc = replace(sc, trials=trials, months=months, start=dt.date(2024, 1, 1), as_of=dt.date(2024, 6, 1),
                 vendor_uncertainty={"Huawei": unc, "NVIDIA": replace(unc, fraction_of="outstanding")})
    table = ThroughputTable((8.0, 32.0, 128.0, 512.0, 2048.0, 8192.0, 32768.0, 131072.0),
                            (0.0, 0.0, 0.0, 50.0, 48.0, 45.0, 42.0, 38.0))
    from engine.forecast_inputs import throughput_sigmas

    family, serving_sigma, training_sigma = throughput_sigmas(list(CHIPS))
    assert sc.policy_events and sc.demand.growth_model == "decaying" and sc.demand.request_mix_sigma > 0
    return ForecastInputs(orders=tuple(synthetic_orders()), scenario=sc, family_by_chip=family,
                          serving_sigma_by_chip=serving_sigma, training_sigma_by_chip=training_sigma,
                          chip_peak_tflops={"ascend-910b2": 376.0, "h20-96gb": 148.0, "h800-sxm5-80gb": 989.4},
                          serving_tokens_per_s_per_chip={"ascend-910b2": 76.0, "h20-96gb": 128.0,
                                                         "h800-sxm5-80gb": 268.0},
                          training_tokens_per_s_per_chip={("llama3-405b", "ascend-910b2"): table})


def main() -> int:
    if "--big" in sys.argv:
        bench_big(*(int(a) for a in sys.argv[sys.argv.index("--big") + 1:]))
        return 0
    inputs = make_inputs()
    run_forecast(inputs)  # warm-up
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        result = run_forecast(inputs)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    run_forecast(inputs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    try:
        import resource

        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:  # pragma: no cover (Windows)
        rss_mb = float("nan")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"forecast Monte Carlo: {inputs.scenario.trials} trials x {inputs.scenario.months} months x "
          f"{len(inputs.orders)} orders, {len(result.chip_ids)} chip types, {len(result.jobs)} training job")
    print(f"  median {statistics.median(times) * 1000:.1f} ms, min {min(times) * 1000:.1f} ms over {len(times)} runs "
          f"(target < 300 ms on one core; cores available to this process: {affinity})")
    print(f"  peak traced memory {peak / 1e6:.1f} MB (target < 500 MB); process max RSS {rss_mb:.0f} MB")
    for trials in (1000, 100_000):
        small = make_inputs(trials=trials)
        t0 = time.perf_counter()
        run_forecast(small)
        print(f"  {trials} trials: {(time.perf_counter() - t0) * 1000:.1f} ms (one run)")
    bench_big(runs=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
