"""One reading of an aggregated Poisson run for `fleetcast serve --request-rate` and the Inference
view's load point (`studies_serving.open_loop_reading`, s33): serve had its own copy, without the
verdict's rule that a queue rising at under 97% of the load served is overloaded whatever the
throughput window reads."""

from types import SimpleNamespace

import numpy as np
import pytest

from engine.studies_serving import open_loop_reading


def _run(rate_per_replica, served_share, requests=400, output_len=200):
    """A run whose wait grows as a deployment serving `served_share` of the load: by
    1/share - 1 seconds per second of arrivals (`served_share_from_queue`)."""
    arrivals_s = np.arange(requests) / rate_per_replica
    return SimpleNamespace(queue_s=arrivals_s * (1.0 / served_share - 1.0), output_lens=np.full(requests, output_len))


def test_the_offered_load_is_read_at_the_simulated_lengths():
    # 2 requests/s per replica of 200-token outputs on 4 chips: 100 output tokens/s per chip offered
    run = _run(2.0, 1.0)
    run.queue_s = np.zeros(400)
    over, said, measured, from_queue = open_loop_reading(run, 2.0, 99.0, 4, output_len=999.0)
    assert measured == pytest.approx(0.99) and said == measured and from_queue is None and over is False


def test_a_queue_rising_at_90_percent_is_overloaded_though_the_window_read_all_served():
    run = _run(2.0, 0.90)
    over, said, measured, from_queue = open_loop_reading(run, 2.0, 100.0, 4, output_len=200.0)
    assert measured == pytest.approx(1.0)
    assert from_queue == pytest.approx(0.90, rel=1e-9)
    # serve's old copy (open_loop_verdict alone) said not overloaded at a measured 100%
    assert over is True and said == pytest.approx(0.90, rel=1e-9)


def test_a_window_short_of_the_load_is_overloaded_in_its_own_words():
    run = _run(2.0, 0.80)
    over, said, measured, _ = open_loop_reading(run, 2.0, 50.0, 4, output_len=200.0)
    assert over is True and said == measured == pytest.approx(0.5)
