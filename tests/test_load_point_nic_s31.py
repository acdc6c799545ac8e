"""A disaggregated load point reads its KV transfers' NICs as `serve --prefill-tp` does (s31): the
rule lives once, in engine.serving.disagg_load. Llama 3 8B 8,000 / 20 tokens on an Ascend 910B2,
TP1 decode fed by 16 TP1 prefill instances: each request's KV takes 52.4 ms of the decode NIC, so
19.5 requests/s need 19.5 x 0.0524288 = 102.2% of its time. Before, the load point skipped the
rule: not overloaded, 22.44 output tokens/s per chip uncapped, "the targets hold" beside serve's
overloaded, NIC-bound and capped figures."""

import json

import pytest

from engine.cli import main
from engine.serving.disagg_load import RECEIVING_NICS
from engine.studies import ServingStudy
from engine.studies_load import LoadPoint, run_load_point
from engine.studies_serving import serving_request

from .test_load_point_s31 import _catalog, db  # noqa: F401  (the fixture)

STUDY = ServingStudy(model_id="llama3-8b", chip_id="ascend-910b2", tp=1, input_len=8000, output_len=20,
                     ttft_ms=20000.0, tpot_ms=100.0, length_spread=0.0, prefill_tp=1, prefill_instances=16)
CLI = ["--model", "llama3-8b", "--chip", "ascend-910b2", "--tp", "1", "--input-len", "8000", "--output-len", "20",
       "--kv-dtype", "bf16", "--prefill-tp", "1", "--prefill-instances", "16", "--ttft-ms", "20000",
       "--tpot-ms", "100", "--slo-percentile", "p90"]
# one request's KV over the decode NIC: 8,000 tokens x (K, V) x 32 layers x 8 KV heads x 128 x 2 bytes (bf16)
# over 25 GB/s at 80% RDMA efficiency: 52.4288 ms
TRANSFER_S = 8000 * 2 * 32 * 8 * 128 * 2 / (25e9 * 0.8)


def _serve(capsys, path, *argv):
    assert main(["serve", "--db", path, *argv, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("rate", [19.5, 25.0])
def test_an_nic_bound_load_point_is_serves_disaggregated_run(capsys, db, rate):  # noqa: F811
    chips, models = _catalog(db)
    got = run_load_point(serving_request(STUDY, chips, models), LoadPoint("rate", rate), tp=1, ep=1)
    d = _serve(capsys, db, *CLI, "--request-rate", f"{rate:g}")
    dis = d["disaggregated"]
    assert dis["simulated_requests"] == got.run.requests and dis["replicas"] == 1
    assert dis["kv_transfer_nic_busy_share"] == pytest.approx(rate * TRANSFER_S, rel=1e-9)
    # the throughput the NICs carry: 1 / busy of the offered 19.5 x 20 tokens/s over 17 chips
    assert got.run.output_tokens_per_s_per_chip == pytest.approx(dis["output_tokens_per_s_per_chip"], rel=1e-12)
    assert got.run.output_tokens_per_s_per_chip == pytest.approx(rate * 20 / 17 / (rate * TRANSFER_S), rel=1e-9)
    assert got.run.total_tokens_per_s_per_chip == pytest.approx(dis["total_tokens_per_s_per_chip"], rel=1e-12)
    assert got.served_share == pytest.approx(dis["served_share_of_offered"], rel=1e-12)
    for q in ("p50", "p90", "p99"):
        assert got.run.ttft_ms[q] == pytest.approx(dis[f"ttft_ms_{q}"], rel=1e-12)
    # the verdict: overloaded, the decode NICs bind, the targets do not hold (serve: not met)
    assert got.overloaded and dis["overloaded"] is True
    assert got.bound_by == dis["bound_by"] == RECEIVING_NICS
    assert got.nic_busy_share == pytest.approx(dis["kv_transfer_nic_busy_share"], rel=1e-12)
    assert not got.targets_hold and d["targets_met_under_load"] is False


def test_below_the_nics_time_the_load_point_holds_as_serve(capsys, db):  # noqa: F811
    """15 requests/s: 78.6% of the NIC's time, served in full, the targets hold in both."""
    chips, models = _catalog(db)
    got = run_load_point(serving_request(STUDY, chips, models), LoadPoint("rate", 15.0), tp=1, ep=1)
    d = _serve(capsys, db, *CLI, "--request-rate", "15")
    dis = d["disaggregated"]
    assert got.nic_busy_share == pytest.approx(15 * TRANSFER_S, rel=1e-9) and not got.overloaded and not got.bound_by
    assert got.run.output_tokens_per_s_per_chip == pytest.approx(dis["output_tokens_per_s_per_chip"], rel=1e-12)
    assert dis["overloaded"] is False and got.targets_hold and d["targets_met_under_load"] is True
