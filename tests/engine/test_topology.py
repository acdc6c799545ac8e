"""Network tiers (engine/topology.py): hand-derived collective times on each fabric kind."""

import numpy as np
import pytest

from engine.catalog import reference_chips
from engine.topology import topology_of

CHIPS = reference_chips()


def test_catalog_carries_the_real_scaleup_fabrics():
    assert topology_of(CHIPS["ascend-910b2"]).kind == "mesh"
    assert topology_of(CHIPS["mi300x"]).kind == "mesh"
    assert topology_of(CHIPS["h100-sxm5-80gb"]).kind == "switch"
    assert topology_of(CHIPS["tpu-v5p"]).kind == "torus"


def test_mesh_tp2_gets_one_link_not_the_aggregate():
    # 910B HCCS: 7 links x 28 GB/s per direction; a pair of chips shares one link
    topo = topology_of(CHIPS["ascend-910b2"])
    nbytes = 100e6
    t2 = topo.all_reduce_s(2, 1, nbytes)
    assert float(t2) == pytest.approx(2 * (1 / 2) * nbytes / 28e9)
    t8 = topo.all_reduce_s(8, 1, nbytes)
    assert float(t8) == pytest.approx(2 * (7 / 8) * nbytes / (7 * 28e9))
    # on an NVSwitch, a pair gets the chip's full 450 GB/s
    h100 = topology_of(CHIPS["h100-sxm5-80gb"])
    assert float(h100.all_reduce_s(2, 1, nbytes)) == pytest.approx(nbytes / 450e9)
    # MI300X xGMI: 64 GB/s per pair
    assert float(topology_of(CHIPS["mi300x"]).all_gather_s(2, 1, nbytes)) == pytest.approx(0.5 * nbytes / 64e9)


def test_groups_across_domains_use_the_nics():
    h100 = topology_of(CHIPS["h100-sxm5-80gb"])
    bw, inside = h100.group_bandwidth(np.array([16, 16, 8]), np.array([8, 1, 1]))
    assert list(inside) == [False, False, True]
    # one member per server: its own 50 GB/s NIC; eight per server: 8 NICs in parallel (400 < 450)
    assert bw == pytest.approx([50e9, 400e9, 450e9])
    # an oversubscribed fabric divides the NIC share
    from dataclasses import replace

    over = replace(h100, oversubscription=2.0)
    assert float(over.group_bandwidth(16, 8)[0]) == pytest.approx(25e9)


def test_torus_group_uses_more_dimensions_as_it_grows():
    v5p = topology_of(CHIPS["tpu-v5p"])   # 6 links x 100 GB/s
    small, _ = v5p.group_bandwidth(4, 1)
    large, _ = v5p.group_bandwidth(4096, 1)
    assert float(small) == pytest.approx(200e9)   # one ring: 2 links
    assert float(large) == pytest.approx(600e9)   # three dimensions: all 6 links


def test_all_to_all_splits_local_and_remote_parts():
    h100 = topology_of(CHIPS["h100-sxm5-80gb"])
    nbytes = 64e6
    # 64 ranks, 8 per server: 7/64 over NVLink, 56/64 over the 50 GB/s NIC (the slower part)
    t = float(h100.all_to_all_s(64, 1, nbytes))
    assert t == pytest.approx(max(nbytes * 7 / 64 / 450e9, nbytes * 56 / 64 / 50e9))


def test_one_nic_default_for_training_and_serving():
    """A chip whose catalog entry has no NIC figure gets one 400 Gb/s NIC (50 GB/s per direction),
    at most its scale-up rate, in training and in serving alike. Training assumed 25 GB/s and
    serving 50, so an H20's DP traffic and its KV transfer were priced on different NICs."""
    from engine.inference import _hw_arrays

    h20, l20, h100 = CHIPS["h20-96gb"], CHIPS["l20-48gb"], CHIPS["h100-sxm5-80gb"]
    assert h20.scaleout_gbps is None and l20.scaleout_gbps is None
    assert topology_of(h20).scaleout_gbps == 50.0
    assert topology_of(l20).scaleout_gbps == 32.0        # a PCIe 4 x16 card cannot feed a faster NIC
    assert topology_of(h100).scaleout_gbps == h100.scaleout_gbps == 50.0
    hw = _hw_arrays([h20, l20], "bf16", None)
    assert list(hw["scaleout_bps"]) == [50e9, 32e9]
    assert [t.scaleout_gbps for t in hw["topologies"]] == [50.0, 32.0]


def test_assumed_nic_is_said_where_it_carries_traffic():
    from engine.catalog import reference_models
    from engine.training import TrainingInputs, search_layouts

    m = reference_models()["llama3-8b"]
    across = search_layouts(TrainingInputs(model=m, chip=CHIPS["h20-96gb"], num_chips=64,
                                           global_batch_seqs=64), top_k=1).best
    inside = search_layouts(TrainingInputs(model=m, chip=CHIPS["h20-96gb"], num_chips=8,
                                           global_batch_seqs=64), top_k=1).best
    stated = search_layouts(TrainingInputs(model=m, chip=CHIPS["h100-sxm5-80gb"], num_chips=64,
                                           global_batch_seqs=64), top_k=1).best
    assert any("no scale-out NIC figure, so 50 GB/s per chip" in n for n in across.explanations)
    assert not any("scale-out NIC" in n for n in inside.explanations + stated.explanations)


def test_a_chip_with_no_network_figures_is_never_faster_across_servers_than_inside_one():
    """No scale-up figure: PCIe 4 x16 (25 GB/s) in an 8-chip server, and so a NIC of 25 GB/s, not 50
    (one GB between servers took 0.02 s against 0.04 s inside one); both assumptions are said."""
    from dataclasses import replace

    from engine.topology import assumed_network_note

    bare = replace(CHIPS["h100-sxm5-80gb"], scaleup_gbps=None, scaleout_gbps=None, scaleup_domain=None,
                   chips_per_node=None, name="Bare")
    t = topology_of(bare)
    assert (t.domain, t.scaleup_gbps, t.scaleout_gbps) == (8, 25.0, 25.0)
    assert t.p2p_s(8, 1e9) >= t.p2p_s(1, 1e9)
    note = assumed_network_note(bare)
    assert "no scale-up figure, so 25 GB/s" in note and "among 8 chips" in note
    assert "no scale-out NIC figure, so 25 GB/s" in note
    assert assumed_network_note(bare, scaleout=False).count("figure") == 1
    assert assumed_network_note(CHIPS["h100-sxm5-80gb"]) is None


def test_int4_weights_say_they_run_weight_only():
    from engine.inference import precision_note

    for chip_id in ("h100-sxm5-80gb", "b200"):
        assert "W4A16" in precision_note(CHIPS[chip_id], "int4", "bf16")
    assert precision_note(CHIPS["h100-sxm5-80gb"], "fp8", "fp8") == ""
