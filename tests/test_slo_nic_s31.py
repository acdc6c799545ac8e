"""The disaggregated SLO search reads a rate's KV transfers' NIC time as `serve --request-rate` does
(s31): the rule lives once, in engine.serving.disagg_load. Llama 3 8B 8,000 / 20 tokens on an
Ascend 910B2, TP1 decode fed by 16 TP1 prefill instances: each request's KV takes 52.4 ms of the
decode NIC, so the NIC carries at most 1 / 0.0524288 = 19.07 requests/s. Before, the search held
19.33 requests/s per replica (101.3% of the NIC's time) at 22.7 tokens/s per chip, where serve at
that rate says overloaded."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from engine.cli import main
from engine.serving.capacity import slo_capacity_sim
from engine.serving.disagg_load import RECEIVING_NICS, nic_busy_shares

from .test_load_point_s31 import _catalog, db  # noqa: F401  (the fixture)
from .test_load_point_nic_s31 import CLI, TRANSFER_S

NIC_RATE = 1.0 / TRANSFER_S   # 19.073 requests/s: the decode NIC's whole time


def _serve(capsys, path, *argv):
    assert main(["serve", "--db", path, *argv, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("chips", [None, 34])
def test_the_slo_capacity_is_a_rate_the_nics_carry_and_serve_holds(capsys, db, chips):  # noqa: F811
    more = ["--chips", str(chips)] if chips else []
    d = _serve(capsys, db, *CLI, *more)
    replicas = d["replicas"]
    assert replicas == (2 if chips else 1) and d["slo_feasible"] is True
    rate = d["slo_request_rate_per_s"]   # per replica
    # hand-derived NIC time: the transfers fit in it, and the NIC is what binds (within the search's 1.1% step)
    assert rate * TRANSFER_S <= 1.0
    assert rate >= 0.97 * NIC_RATE
    assert d["limiting"] == d["bound_by"] == "kv transfer (receiving NICs)"   # not "saturation" / "compute"
    assert "more offered load is not served (its KV transfers need more than the decode side's NICs' time)" \
        in d["explanation"]
    # serve at the found load, over every replica: not overloaded, the targets hold, the same throughput
    r = _serve(capsys, db, *CLI, *more, "--request-rate", f"{rate * replicas:g}")
    dis = r["disaggregated"]
    assert dis["kv_transfer_nic_busy_share"] == pytest.approx(rate * TRANSFER_S, rel=1e-9)
    assert dis["overloaded"] is False and r["targets_met_under_load"] is True
    assert dis["output_tokens_per_s_per_chip"] == pytest.approx(d["slo_output_tokens_per_s_per_chip"], rel=1e-9)


def test_the_search_treats_a_rate_past_the_nics_time_as_overloaded(db):  # noqa: F811
    """slo_capacity_sim itself (the Inference view's and the Forecast's search), loose targets: only
    the NIC's time binds, as `nic_busy_shares` reads it (19.5 requests/s: 102.2% of it)."""
    chips, models = _catalog(db)
    model, chip = models["llama3-8b"], chips["ascend-910b2"]
    cap = slo_capacity_sim(model, chip, input_len=8000, output_len=20, ttft_ms=20000.0, tpot_ms=100.0,
                           prefill_tp=1, prefill_instances=16)
    assert cap.feasible and 0.97 * NIC_RATE <= cap.request_rate_per_s <= NIC_RATE
    # what binds by name, as serve names a rate's (it read "saturation" until s33)
    assert cap.limiting == RECEIVING_NICS == "kv transfer (receiving NICs)"

    sim = SimpleNamespace(input_lens=np.full(4, 8000.0))   # a run's 8,000-token prompts
    # per prompt token: the decode NIC receives it all, 16 prefill instances' NICs send a 16th each
    recv, send = nic_busy_shares(sim, model, 19.5, sides=(TRANSFER_S / 8000 / 16, TRANSFER_S / 8000),
                                 attention_ranks=1, prefill_instances=16)
    assert recv == pytest.approx(19.5 * TRANSFER_S, rel=1e-12) and send == pytest.approx(recv / 256, rel=1e-12)
