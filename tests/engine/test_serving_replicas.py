"""A load divided over replicas (engine.serving.capacity): whole clients and requests per replica,
and latency percentiles pooled over every replica's requests."""

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.inference import ServingInputs, evaluate_serving
from engine.serving.capacity import pooled_percentiles, replica_workloads, simulate_scenario
from engine.serving.simulator import percentiles

MODEL, CHIP = reference_models()["llama3-8b"], reference_chips()["h100-sxm5-80gb"]


def _inputs(**kw):
    base = dict(model=MODEL, chip=CHIP, input_len=1000, output_len=100, tp=1, scenario="concurrency")
    return ServingInputs(**{**base, **kw})


def _shares(groups):
    return [(count, None if w is None else (w.concurrency, w.requests)) for count, w in groups]


def test_clients_and_requests_split_as_whole_numbers():
    # 4 clients over 3 replicas: 2 + 1 + 1 (not ceil(4 / 3) = 2 each); default 500 requests a replica
    assert _shares(replica_workloads(_inputs(concurrency=4, replicas=3))) == [(1, (2, 500)), (2, (1, 500))]
    # 1 client over 2 replicas: one idle
    assert _shares(replica_workloads(_inputs(concurrency=1, replicas=2))) == [(1, (1, 500)), (1, None)]
    # 5 requests, 4 clients, 3 replicas: requests 2 + 2 + 1 beside clients 2 + 1 + 1
    assert _shares(replica_workloads(_inputs(concurrency=4, replicas=3), requests=5)) == [
        (1, (2, 2)), (1, (1, 2)), (1, (1, 1))]
    # offline: 3 requests over 2 replicas, 1 over 3 (two idle)
    off = _inputs(scenario="offline", replicas=2)
    assert _shares(replica_workloads(off, requests=3)) == [(1, (None, 2)), (1, (None, 1))]
    assert _shares(replica_workloads(_inputs(scenario="offline", replicas=3), requests=1)) == [
        (1, (None, 1)), (2, None)]
    # an even split is one workload
    assert _shares(replica_workloads(_inputs(concurrency=32, replicas=2))) == [(2, (16, 500))]


def test_pooled_percentiles_are_those_of_every_replicas_requests():
    rng = np.random.default_rng(1)
    a, b = rng.exponential(1.0, 7), rng.exponential(3.0, 5)
    b[0] = np.nan   # not finite: left out, as `percentiles` leaves it out
    pooled = pooled_percentiles([(2, a), (3, b)])
    every = np.concatenate([a, a, b, b, b])
    assert pooled == pytest.approx(percentiles(every))
    # one run stands for itself; idle replicas (count 0 or empty arrays) add nothing
    assert pooled_percentiles([(4, a)]) == percentiles(a)
    assert pooled_percentiles([(2, a), (3, np.empty(0))]) == percentiles(a)
    assert np.isnan(pooled_percentiles([(1, np.empty(0))])["p90"])


def test_idle_replicas_count_as_chips_doing_nothing():
    one = simulate_scenario(_inputs(concurrency=1, replicas=1), requests=40)
    two = simulate_scenario(_inputs(concurrency=1, replicas=2), requests=40)
    assert two.output_tokens_per_s_per_chip == pytest.approx(one.output_tokens_per_s_per_chip / 2)
    assert two.requests == one.requests == 40
    assert two.mean_running == pytest.approx(one.mean_running / 2)
    res = evaluate_serving(_inputs(concurrency=1, replicas=2, requests=40))
    assert res.simulated_requests == 40 and res.chips == 2


def test_pooled_percentiles_take_rate_weights():
    """A closed loop's replicas weigh by the requests they serve in a common time (count /
    makespan): weights 0.5 and 1.0 pool as counts 1 and 2 would."""
    rng = np.random.default_rng(2)
    a, b = rng.exponential(1.0, 9), rng.exponential(2.0, 6)
    assert pooled_percentiles([(0.5, a), (1.0, b)]) == pytest.approx(pooled_percentiles([(1, a), (2, b)]))
    assert pooled_percentiles([(1, a), (2, b)]) == pytest.approx(percentiles(np.concatenate([a, b, b])))
