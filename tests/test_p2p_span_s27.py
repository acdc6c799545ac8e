"""Point-to-point hops are priced by the group they belong to (s27).

A CP ring of cp ranks tp apart spans tp x cp chips, a pipeline of pp stages tp x cp x dp apart
spans pp times that: once the span is more than one scale-up domain, some hop of it crosses the
NICs. Before, `Topology.p2p_s` looked at the stride alone (2 x stride <= domain), so a 32-rank
ring of neighbours priced all its hops on NVLink: 0.389 s of CP traffic on an H100 with a 1 GB/s
NIC as with its real 50 GB/s one. Figures below are by hand, with the network factors pinned
(efficiency 1, no latency, no per-step overhead) so that only bytes / bandwidth is left.
"""

from dataclasses import replace

import pytest

from engine.catalog import reference_chips, reference_models
from engine.topology import topology_of
from engine.training import TrainingInputs, evaluate_layout

CHIPS = reference_chips()
MODELS = reference_models()
H100 = CHIPS["h100-sxm5-80gb"]             # switch, 8 chips, 450 GB/s NVLink, 50 GB/s NIC
PINNED = {"train_scaleup_eff": 1.0, "train_scaleout_eff": 1.0, "train_latency_us": 0.0,
          "train_step_overhead_s": 0.0}
NVLINK, NIC = 450e9, 50e9


def _nic(gbps):
    # the QA's copy: the same H100 (same id, so the same fitted factors) on a slower NIC
    return replace(H100, scaleout_gbps=gbps)


def _run(model_id, chip, **layout):
    base = dict(vpp=1, dp=1, cp=1, ep=1, zero_stage=1, micro_batch=1, recompute="full", factors=PINNED)
    base.update(layout)
    n = base["tp"] * base["pp"] * base["dp"] * base["cp"]
    return evaluate_layout(TrainingInputs(model=MODELS[model_id], chip=chip, num_chips=n, **base))


# ---- the hop itself ---------------------------------------------------------------------------

def test_a_group_inside_one_server_keeps_the_fabric_rate():
    t = topology_of(H100)
    one_gb = 1e9
    # a CP ring of 8 neighbours, of 4 ranks 2 apart, a pipeline of 4 stages 2 apart: all on NVLink
    for stride, size in ((1, 8), (2, 4), (4, 2), (1, 2)):
        assert t.p2p_s(stride, one_gb, size=size) == pytest.approx(one_gb / NVLINK, rel=1e-12), (stride, size)
    # a lone pair (the default) is priced as before: neighbours 4 apart share the server, 8 apart do not
    assert t.p2p_s(4, one_gb) == pytest.approx(one_gb / NVLINK, rel=1e-12)
    assert t.p2p_s(8, one_gb) == pytest.approx(one_gb / NIC, rel=1e-12)


def test_a_group_spanning_servers_is_paced_by_its_nic_hop():
    t = topology_of(H100)
    one_gb = 1e9
    # 8 stages 2 apart span 16 chips: the hop from stage 3 to stage 4 crosses (was NVLink)
    assert t.p2p_s(2, one_gb, size=8) == pytest.approx(one_gb / NIC, rel=1e-12)
    # the repro's ring: 32 neighbours over 4 servers
    assert t.p2p_s(1, one_gb, size=32) == pytest.approx(one_gb / NIC, rel=1e-12)
    # oversubscription and the scale-out efficiency price it, as they do every NIC transfer
    t2 = topology_of(replace(H100, scaleout_oversubscription=2.0))
    assert t2.p2p_s(1, one_gb, size=32, out_eff=0.8) == pytest.approx(one_gb / (NIC / 2 * 0.8), rel=1e-12)


def test_the_slowest_kind_of_hop_sets_the_pace_when_the_nic_outruns_a_mesh_link():
    # a mesh whose pair link (28 GB/s) is slower than a hypothetical 100 GB/s NIC: a ring of 16
    # neighbours has hops of both kinds and steps at the link's; with every hop across servers
    # (stride 8) only the NIC carries it
    mesh = replace(CHIPS["ascend-910b2"], scaleout_gbps=100.0)
    t = topology_of(mesh)
    assert (t.kind, t.domain, t.link_gbps) == ("mesh", 8, 28.0)
    assert t.p2p_s(1, 1e9, size=16) == pytest.approx(1e9 / 28e9, rel=1e-12)
    assert t.p2p_s(8, 1e9, size=4) == pytest.approx(1e9 / 100e9, rel=1e-12)


# ---- the QA's repro: CP ring and pipeline ---------------------------------------------------

CP32 = dict(tp=1, cp=32, pp=8, dp=2, global_batch_seqs=64)   # Llama 3 70B, 512 chips, full recompute


def test_cp32_ring_over_four_servers_pays_the_nic():
    """Per layer and micro-batch a ring pass costs (cp-1) hops of one K/V chunk, 4 passes under
    full recompute; what the attention hides does not depend on the NIC, so two NICs differ by
    exactly micro-batches x layers per stage x 4 x 31 x chunk x (1/bw1 - 1/bw2). Chunk: 8192/32 =
    256 tokens x (K and V: 2 x 8 KV heads x 128) x 2 bytes = 1,048,576 bytes. Before the fix the
    hop was on NVLink whatever the NIC: the difference was 0."""
    m = MODELS["llama3-70b"]
    assert (m.layers, m.kv_heads, m.head_dim_eff) == (80, 8, 128)
    chunk = 256 * 2 * 8 * 128 * 2
    micro, layers_stage = 64 / 2, 80 / 8
    slow = _run("llama3-70b", _nic(1.0), **CP32).breakdown_s["cp_comm"]
    slower = _run("llama3-70b", _nic(0.5), **CP32).breakdown_s["cp_comm"]
    assert slower - slow == pytest.approx(micro * layers_stage * 4 * 31 * chunk * (1 / 0.5e9 - 1 / 1e9), rel=1e-9)
    # and the QA's symptom: the 1 GB/s copy and the real H100 no longer read the same 0.389 s
    real = _run("llama3-70b", H100, **CP32).breakdown_s["cp_comm"]
    assert slow > 10 * real


def test_a_cp_ring_inside_one_server_ignores_the_nic():
    # TP1 CP8 and TP2 CP4 (8 chips each) stay on NVLink: the NIC's speed changes nothing
    for tp, cp in ((1, 8), (2, 4)):
        lay = dict(tp=tp, cp=cp, pp=1, dp=1, global_batch_seqs=8)
        a = _run("llama3-8b", H100, **lay).breakdown_s["cp_comm"]
        b = _run("llama3-8b", _nic(1.0), **lay).breakdown_s["cp_comm"]
        assert a == b, (tp, cp)


def _pp_hops(model_id, tp):
    m = MODELS[model_id]
    p2p = m.seq_len * m.hidden * 2 / tp          # one micro-batch's activations, 16-bit
    return p2p / NIC, p2p / NVLINK


def test_a_pipeline_of_4_stages_2_apart_inside_a_server_is_unchanged():
    """TP2 PP4 on one 8-chip server: each micro-batch sends forward and backward over NVLink,
    pp_comm = micro-batches x 2 x p2p / 450 GB/s (as before)."""
    _, near = _pp_hops("llama3-8b", 2)
    res = _run("llama3-8b", H100, tp=2, pp=4, global_batch_seqs=16)
    assert res.breakdown_s["pp_comm"] == pytest.approx(16 * 2 * near, rel=1e-9)


def test_a_pipeline_of_8_stages_2_apart_crosses_servers():
    """TP2 PP8 spans 16 chips: stages 3 and 4 sit on different servers. The stage at a server's
    edge sends one way over the NIC and the other over NVLink, every micro-batch: pp_comm =
    micro-batches x (p2p / 50 GB/s + p2p / 450 GB/s); before, 2 x p2p / 450 GB/s. The warm-up and
    cool-down cross the 7 boundaries each way, 1 of them over the NIC: 2 x (far + 6 near)."""
    far, near = _pp_hops("llama3-8b", 2)
    res = _run("llama3-8b", H100, tp=2, pp=8, global_batch_seqs=16)
    b = res.breakdown_s
    micro = 16
    assert b["pp_comm"] == pytest.approx(micro * (far + near), rel=1e-9)
    per_mb = sum(v for k, v in b.items() if k not in ("bubble", "dp_comm", "optimizer")) / micro
    comm_pp = far + near
    layers_stage = 32 / 8
    assert layers_stage == int(layers_stage)    # vpp 1: a chunk is the whole stage
    assert b["bubble"] == pytest.approx(7 * (per_mb - comm_pp) + 2 * (1 * far + 6 * near), rel=1e-9)


def test_pp32_neighbours_on_32_chips_pay_the_nic_at_its_speed():
    """The QA's TP1 PP32 DP1 (Llama 3 70B, 32 chips on four servers): the same pp_comm on a 50 and
    a 1 GB/s NIC before; now micro-batches x (p2p / NIC + p2p / 450 GB/s) on each."""
    m = MODELS["llama3-70b"]
    p2p = 8192 * m.hidden * 2
    for gbps in (50.0, 1.0):
        res = _run("llama3-70b", _nic(gbps), tp=1, pp=32, global_batch_seqs=64)
        assert res.breakdown_s["pp_comm"] == pytest.approx(64 * (p2p / (gbps * 1e9) + p2p / NVLINK), rel=1e-9), gbps


def test_stages_on_different_servers_pay_the_nic_both_ways():
    # TP8 PP4: every stage is its own server, both sends of every micro-batch cross (as before)
    far, _ = _pp_hops("llama3-8b", 8)
    res = _run("llama3-8b", H100, tp=8, pp=4, global_batch_seqs=16)
    assert res.breakdown_s["pp_comm"] == pytest.approx(16 * 2 * far, rel=1e-9)


def test_pipeline_pace_and_fill_by_hand():
    """8 stages 2 apart on 8-chip servers: 4 stages a server, 1 of the 7 boundaries crosses.
    Pace: one far and one near send; the fill crosses 1 far and 6 near boundaries each way,
    2 x (far + 6 near), which 7 x pace overstates by (7 - 2) x (far - near). Every stage on its own
    server (stride 8): both NIC, nothing overstated; the whole pipeline in one server: both NVLink."""
    t = topology_of(H100)
    far, near = 1e9 / NIC, 1e9 / NVLINK
    pace, over = t.pipeline_p2p_s(2, 8, 1e9)
    assert pace == pytest.approx(far + near, rel=1e-12)
    assert over == pytest.approx(5 * (far - near), rel=1e-12)
    assert 7 * pace - over == pytest.approx(2 * (far + 6 * near), rel=1e-12)
    assert t.pipeline_p2p_s(8, 4, 1e9) == (pytest.approx(2 * far, rel=1e-12), 0.0)
    assert t.pipeline_p2p_s(2, 4, 1e9) == (pytest.approx(2 * near, rel=1e-12), 0.0)
    # 32 stages 1 apart (the QA's PP32): 8 a server, 3 far boundaries of 31
    pace, over = t.pipeline_p2p_s(1, 32, 1e9)
    assert 31 * pace - over == pytest.approx(2 * (3 * far + 28 * near), rel=1e-12)
