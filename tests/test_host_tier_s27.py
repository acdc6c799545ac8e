"""A TP group past its scale-up domain but inside its server runs on the host's PCIe (s27).

An H100 PCIe sits in NVLink-bridge pairs (domain 2) in an 8-GPU host; an Ascend 910A in two
4-chip HCCS groups of an 8-chip server. Serving either at TP8 was priced as a deployment over
several servers: an inter-node all-reduce latency every layer (150 us on top of the in-server
10 us per doubling) and the NIC's bandwidth, so Llama 3 70B decoded at 35.6 ms a token on H100
PCIe (22.8 ms of it collective latency) against 30.8 ms on a PCIe-only L40S, and 8B at TP8 (11.9
ms) slower than at TP2 (6.7 ms). The figures below are by hand from the catalog and the factors
(10 us per layer per doubling of the group; the host path 50 GB/s per chip per direction).
"""

import json
from dataclasses import replace

import pytest

from engine import inference as inf
from engine.catalog import reference_chips, reference_models
from engine.cli import main
from engine.topology import assumed_network_note, topology_of

CHIPS = reference_chips()
MODELS = reference_models()
PCIE = CHIPS["h100-pcie-80gb"]       # domain 2 (NVLink bridge, 300 GB/s), 8 per host, no NIC figure
A910 = CHIPS["ascend-910a"]          # 4-chip HCCS mesh (3 links x 30 GB/s), 8 per server, 12.5 GB/s NIC
SXM = CHIPS["h100-sxm5-80gb"]        # domain = server = 8, 450 GB/s NVLink, 50 GB/s NIC


def _dep(chip, model_id, tp, ep=1):
    hw = inf._hw_arrays([chip], "bf16", None)
    return inf._deployment(inf.model_shape(MODELS[model_id]), hw, tp, ep, 1, "bf16", "bf16")


def _latency_by_hand(chip, model_id, doublings, across_servers=False):
    f = inf.resolve_factors(chip, None)
    per_layer_us = f["inf_comm_layer_overhead_us"] * doublings + (
        f["inf_scaleout_layer_overhead_us"] if across_servers else 0.0)
    return f["inf_overhead_scale"] * MODELS[model_id].layers * per_layer_us * 1e-6


def _one(x):
    return float(inf._arr(x).reshape(-1)[0])


# ---- the topology -------------------------------------------------------------------------------

def test_the_host_tier_of_a_chip_smaller_than_its_server():
    t = topology_of(PCIE)
    assert (t.domain, t.server, t.host_gbps, t.scaleout_gbps) == (2, 8, 50.0, 50.0)
    a = topology_of(A910)
    assert (a.domain, a.server, a.host_gbps, a.scaleout_gbps) == (4, 8, 50.0, 12.5)
    # TP8 on the 910A: 4 members of a domain on their own PCIe slots (4 x 50 GB/s), capped by what
    # the 4-chip mesh gives them (3 links x 30 GB/s); before, their NICs: 4 x 12.5 = 50 GB/s
    bw, inside = a.group_bandwidth(8, 1)
    assert float(bw) == pytest.approx(90e9) and not bool(inside)
    # TP16 leaves the server: the NICs again, 4 x 12.5 GB/s
    assert float(a.group_bandwidth(16, 1)[0]) == pytest.approx(50e9)
    # a lone hop between the two HCCS groups of one server: 1 GB over 50 GB/s of PCIe, not 12.5 of NIC
    assert float(a.p2p_s(4, 1e9)) == pytest.approx(1e9 / 50e9)
    assert float(a.p2p_s(8, 1e9)) == pytest.approx(1e9 / 12.5e9)       # the next server: the NIC


def test_a_server_equal_to_its_domain_has_no_host_tier():
    t = topology_of(SXM)
    assert t.server == t.domain == 8
    # TP16 over two HGX servers: 8 NICs of 50 GB/s in parallel, under the 450 GB/s of NVLink
    assert float(t.group_bandwidth(16, 1)[0]) == pytest.approx(400e9)
    # a case run on 4-chip servers (validation's chips_per_node below the domain) has none either
    assert topology_of(SXM, domain=4).server == 4
    assert topology_of(A910, domain=2).server == 2
    assert float(topology_of(SXM, domain=4).group_bandwidth(8, 1)[0]) == pytest.approx(4 * 50e9)


# ---- serving: latency and bandwidth of the TP all-reduce -----------------------------------------

def test_h100_pcie_tp8_all_reduces_inside_its_server():
    dep = _dep(PCIE, "llama3-70b", 8)
    # log2(8) = 3 doublings at 10 us per layer, no inter-node 150 us (before: 22.75 ms a token)
    assert _one(inf._collective_latency_s(dep)) == pytest.approx(_latency_by_hand(PCIE, "llama3-70b", 3))
    # bandwidth: each NVLink pair's 2 members on their own PCIe slots, 2 x 50 GB/s (< 300 NVLink)
    assert _one(dep.tp_group_bps) == pytest.approx(100e9)


def test_h100_pcie_tp2_inside_its_nvlink_pair_is_unchanged():
    dep = _dep(PCIE, "llama3-8b", 2)
    assert _one(inf._collective_latency_s(dep)) == pytest.approx(_latency_by_hand(PCIE, "llama3-8b", 1))
    assert _one(dep.tp_group_bps) == pytest.approx(300e9)         # the NVLink bridge


def test_h100_pcie_tp16_still_crosses_servers():
    dep = _dep(PCIE, "llama3-70b", 16)
    assert _one(inf._collective_latency_s(dep)) == pytest.approx(
        _latency_by_hand(PCIE, "llama3-70b", 4, across_servers=True))


def test_ascend_910a_tp8_uses_in_server_latency_and_the_host_path():
    dep = _dep(A910, "llama3-8b", 8)
    assert _one(inf._collective_latency_s(dep)) == pytest.approx(_latency_by_hand(A910, "llama3-8b", 3))
    assert _one(dep.tp_group_bps) == pytest.approx(90e9)


def test_h100_sxm_is_unchanged():
    for tp, hops, across in ((8, 3, False), (16, 4, True)):
        dep = _dep(SXM, "llama3-70b", tp)
        assert _one(inf._collective_latency_s(dep)) == pytest.approx(
            _latency_by_hand(SXM, "llama3-70b", hops, across_servers=across))
    assert _one(_dep(SXM, "llama3-70b", 8).tp_group_bps) == pytest.approx(450e9)
    assert _one(_dep(SXM, "llama3-70b", 16).tp_group_bps) == pytest.approx(400e9)


def test_a_same_chip_with_an_8_chip_domain_prices_tp8_alike():
    """The host tier is the in-server latency an 8-chip domain has: the same H100 PCIe with its
    domain stretched to the server (at the same 100 GB/s) has the same TP8 collective latency."""
    whole = replace(PCIE, scaleup_domain=8, scaleup_gbps=100.0)
    assert _one(inf._collective_latency_s(_dep(PCIE, "llama3-70b", 8))) == pytest.approx(
        _one(inf._collective_latency_s(_dep(whole, "llama3-70b", 8))))


# ---- end to end: the QA's repro ----------------------------------------------------------------

def _serve(capsys, model, chip, tp):
    assert main(["serve", "--model", model, "--chip", chip, "--tp", str(tp), "--input-len", "2000",
                 "--output-len", "300", "--concurrency", "1", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_h100_pcie_tp8_decodes_faster_than_l40s_tp8(capsys):
    pcie = _serve(capsys, "llama3-70b", "h100-pcie-80gb", 8)
    l40s = _serve(capsys, "llama3-70b", "l40s-48gb", 8)
    # H100 PCIe reads its 17.6 GB of weights per chip at 2.0 TB/s, the L40S at 0.86: with the same
    # in-server all-reduce latency it is the faster one (before: 35.6 ms against 30.8)
    assert pcie["decode_breakdown_ms"]["comm_latency_ms"] == pytest.approx(
        l40s["decode_breakdown_ms"]["comm_latency_ms"])
    assert pcie["tpot_ms"] < l40s["tpot_ms"]
    notes = " ".join(pcie["notes"])
    assert "over the host's PCIe, not a NIC" in notes and "50 GB/s per chip per direction over the host" in notes


def test_llama3_8b_tp8_on_h100_pcie_beats_its_tp2(capsys):
    tp2 = _serve(capsys, "llama3-8b", "h100-pcie-80gb", 2)
    tp8 = _serve(capsys, "llama3-8b", "h100-pcie-80gb", 8)
    assert tp8["tpot_ms"] < tp2["tpot_ms"]
    assert not any("PCIe" in n for n in tp2["notes"])      # the pair's NVLink is a stated figure


# ---- the note ------------------------------------------------------------------------------------

def test_the_note_names_the_host_path_not_the_nic():
    inside = assumed_network_note(PCIE, scaleup=True, scaleout=False, host=True)
    assert "2-chip scale-up domains in one 8-chip server" in inside and "host's PCIe" in inside
    assert "scale-out NIC" not in inside
    across = assumed_network_note(PCIE, scaleup=True, scaleout=True, host=True)
    assert "scale-out NIC figure, so 50 GB/s per chip per direction between servers" in across
    # the 910A states its NIC, never its PCIe: the host path is said, the NIC is not
    note = assumed_network_note(A910, scaleup=True, scaleout=True)
    assert "host's PCIe" in note and "scale-out NIC" not in note
    assert assumed_network_note(A910, scaleup=True, scaleout=False) is None
    assert assumed_network_note(SXM) is None
