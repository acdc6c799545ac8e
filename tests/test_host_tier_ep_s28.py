"""Wide expert parallelism inside one server crosses the host's PCIe, not the NICs (s28).

An Ascend 910A server holds two 4-chip HCCS meshes (domain 4, 8 per server, 12.5 GB/s NIC, 50 GB/s
host path); an H100 PCIe server four NVLink pairs (domain 2). Experts spread over EP8 sit in the
same server, yet their dispatch and combine were priced on the NIC for every byte leaving the
domain: on the 910A 4 of every 8 bytes at 12.5 GB/s, where training and serving TP already send
that traffic over the host path. The figures below are by hand from the catalog and the factors.
"""

from dataclasses import replace

import pytest

from engine import inference as inf
from engine.catalog import reference_chips, reference_models
from engine.serving.cost_model import build_cost_model

CHIPS = reference_chips()
MODELS = reference_models()
A910 = CHIPS["ascend-910a"]
PCIE = CHIPS["h100-pcie-80gb"]
SXM = CHIPS["h100-sxm5-80gb"]
MIXTRAL = MODELS["mixtral-8x7b"]


def test_seconds_per_byte_by_hand():
    # EP8 on the 910A: 3 of 8 shares on the HCCS mesh (90 GB/s x link eff), 4 over the host's
    # PCIe (50 GB/s x link eff), none on the NIC
    up, host, nic, link_eff, out_eff = 90e9, 50e9, 12.5e9, 0.6, 0.8
    got = float(inf.ep_dispatch_s_per_byte(8, 4, 8, host, up, nic, link_eff, out_eff))
    assert got == pytest.approx(3 / 8 / (up * link_eff) + 4 / 8 / (host * link_eff))
    # EP16 leaves the server: 3/16 mesh, 4/16 host, 8/16 NIC
    got = float(inf.ep_dispatch_s_per_byte(16, 4, 8, host, up, nic, link_eff, out_eff))
    assert got == pytest.approx(3 / 16 / (up * link_eff) + 4 / 16 / (host * link_eff) + 8 / 16 / (nic * out_eff))
    # a server that is one domain (no host tier): everything past the domain on the NIC, as before
    got = float(inf.ep_dispatch_s_per_byte(16, 8, 8, 0.0, 450e9, 50e9, link_eff, out_eff))
    assert got == pytest.approx(7 / 16 / (450e9 * link_eff) + 8 / 16 / (50e9 * out_eff))


@pytest.mark.parametrize("chip", [A910, PCIE], ids=["910a", "h100-pcie"])
def test_ep_inside_one_server_does_not_depend_on_the_nic(chip):
    """A what-if that slows the NIC moves nothing that stays inside the server (it did: EP8's
    dispatch slowed with the NIC), and slows EP16, which leaves it. (A NIC faster than the host
    path raises the host path too: the NIC reaches the card through the same PCIe switch.)"""
    slow_nic = replace(chip, scaleout_gbps=5.0)
    base = build_cost_model(MIXTRAL, chip, tp=1, ep=8)
    slow = build_cost_model(MIXTRAL, slow_nic, tp=1, ep=8)
    assert base.wide_ep and base.a2a_s_per_token > 0
    assert slow.a2a_s_per_token == pytest.approx(base.a2a_s_per_token, rel=1e-12)
    assert build_cost_model(MIXTRAL, slow_nic, tp=1, ep=16).a2a_s_per_token > 1.5 * build_cost_model(
        MIXTRAL, chip, tp=1, ep=16).a2a_s_per_token


def test_the_910a_dispatch_runs_at_the_host_rate_not_the_nic_rate():
    """Per token and per MoE layer: topk x hidden elements each way, 16-bit dispatch and combine
    (2 + 2 bytes) split over TP 1, times the seconds per byte by hand."""
    cm = build_cost_model(MIXTRAL, A910, tp=1, ep=8)
    f = inf.resolve_factors(A910, None)
    per_byte = (3 / 8 / (90e9 * f["inf_link_eff"]) + 4 / 8 / (50e9 * f["inf_link_eff"]))
    want = MIXTRAL.layers * 2 * MIXTRAL.hidden * 4.0 * per_byte
    assert cm.a2a_s_per_token == pytest.approx(want, rel=1e-9)
    # the NIC pricing it had: 4/8 of the bytes at 12.5 GB/s x scale-out eff
    nic_priced = MIXTRAL.layers * 2 * MIXTRAL.hidden * 4.0 * (
        3 / 8 / (90e9 * f["inf_link_eff"]) + 4 / 8 / (12.5e9 * f["inf_scaleout_eff"]))
    assert cm.a2a_s_per_token < 0.6 * nic_priced


def test_the_arrays_path_prices_the_same_bytes():
    """engine.inference's own dispatch time (the roofline path) uses the same tiers."""
    shape = inf.model_shape(MIXTRAL)
    for chip in (A910, PCIE, SXM):
        hw = inf._hw_arrays([chip], "bf16", None)
        dep = inf._deployment(shape, hw, 1, 8, 1, "bf16", "bf16")
        cm = build_cost_model(MIXTRAL, chip, tp=1, ep=8)
        tokens_chip = 64.0
        got = float(inf._arr(inf._ep_a2a_s(dep, tokens_chip)).reshape(-1)[0])
        if not cm.wide_ep:
            continue
        assert got == pytest.approx(cm.a2a_s_per_token * tokens_chip + cm.a2a_latency_s, rel=1e-9)
