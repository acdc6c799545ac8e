"""Serving QA (s22): the Poisson throughput readout past the ramp, the prefill-saturation answer
under a TTFT target, and the latency basis in the exported key figures."""

from dataclasses import replace

import pytest

from engine.catalog import reference_chips, reference_models
from engine.inference import slo_capacity
from engine.serving.capacity import _base_inputs, cost_model_for, scheduler_of
from engine.serving.simulator import Workload, simulate
from engine.studies import ServingStudy
from engine.studies_serving import serving_key_figures, serving_request

CHIPS = reference_chips()
MODELS = reference_models()


def _sim_70b(rate: float, seed: int, requests: int = 2000):
    inp = _base_inputs(MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"], input_len=1024, output_len=256, tp=8, ep=1,
                       weight_dtype="bf16", kv_dtype="bf16", engine="", factors=None)
    cm = cost_model_for(inp)
    w = Workload("poisson", 1024, 256, requests=requests, request_rate=rate, input_spread=1.0, output_spread=1.0,
                 seed=seed, context_len=8192)
    sim = simulate(cm, scheduler_of(inp, cm), w)
    return sim, rate * float(sim.output_lens.mean())


def test_a_sustained_load_with_spread_lengths_is_not_read_off_its_drain():
    """CV 1 lengths at 14.07 requests/s (the SLO load found): the window's ramp read 91% and the
    whole run, long drain included, 79% of a load 8,000 requests showed the server keeps up."""
    sim, offered = _sim_70b(14.07, 1)
    assert sim.output_tokens_per_s >= 0.9 * offered
    # another seed's window read 95% (under 97%, so the whole run's 84%): past the ramp it keeps up
    other, other_offered = _sim_70b(14.07, 0)
    assert other.keeps_up and other.output_tokens_per_s == pytest.approx(other_offered)


def test_a_server_falling_behind_still_reads_short_of_the_offered_load():
    """20 requests/s where about 18 are served (16,000 requests read 89.6%): over 8,000 requests
    the queue rises all run and reads 88%. (Over 2,000 it has barely formed: the running set takes
    the excess in, and the run reads 98.6%, within the noise band.)"""
    sim, offered = _sim_70b(20.0, 1, requests=8000)
    assert not sim.keeps_up and sim.output_tokens_per_s < 0.95 * offered


@pytest.mark.parametrize("ttft_ms", [2000.0, 600000.0])
def test_prefill_saturation_is_not_blamed_on_the_ttft_target(ttft_ms):
    """The next batch's TTFT is infinite (prompts outrun prefill): read as over the target, any
    TTFT target, 600,000 ms included, was said broken by a 947 ms TTFT."""
    cap = slo_capacity(MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"], input_len=4000, output_len=4, tp=1,
                       ttft_ms=ttft_ms)
    assert cap.limiting == "prefill saturation"
    assert "TTFT" not in cap.reason and "break" not in cap.reason


def test_one_output_token_has_no_decode_breakdown():
    cap = slo_capacity(MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"], input_len=1, output_len=1, tp=1,
                       ttft_ms=100000.0)
    assert cap.limiting == "prefill saturation"
    assert "per token" not in cap.reason and "decode" not in cap.reason


def test_key_figures_name_the_latency_basis():
    """The export's TTFT/TPOT rows are p90 under load; unlabelled they read as the CLI line's means."""
    req = serving_request(ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, input_len=1024,
                                       output_len=256, tpot_ms=20.0), CHIPS, MODELS)
    cap = slo_capacity(req.model, req.chip, input_len=1024, output_len=256, tp=1, tpot_ms=20.0)
    assert cap.feasible
    for basis in ("p90", "mean"):
        names = [row[0] for row in serving_key_figures(req, replace(cap, latency_basis=basis), 1)]
        assert f"TTFT {basis}" in names and f"TPOT {basis}" in names and "TTFT" not in names
