"""QA s20: serving prices a TP group across nodes with engine/topology.py, as training does (the
same cross-node all-reduce cost about 10x more in `serve` than in `train`)."""

from __future__ import annotations

import numpy as np
import pytest

from engine import inference as inf
from engine.catalog import reference_chips, reference_models
from engine.serving.cost_model import build_cost_model
from engine.topology import topology_of

MODELS, CHIPS = reference_models(), reference_chips()


def _dep(chip_id: str, tp: int, model_id: str = "llama3-70b"):
    chip = CHIPS[chip_id]
    hw = inf._hw_arrays([chip], "bf16", "", None)
    return inf._deployment(inf.model_shape(MODELS[model_id]), hw, tp, 1, 1, "bf16", "bf16")


def _one(x) -> float:
    return float(np.asarray(x).reshape(-1)[0])


def test_a_tp_group_over_two_nodes_gets_the_nics_of_a_node_in_parallel():
    """TP16 on 8-GPU H100 servers: eight NICs per node carry the all-reduce (hierarchically), as
    `Topology.group_bandwidth` prices training's groups; it was one NIC (50 GB/s)."""
    chip = CHIPS["h100-sxm5-80gb"]
    dep = _dep("h100-sxm5-80gb", 16)
    training_bw, inside = topology_of(chip, domain=chip.scaleup_domain).group_bandwidth(16, 1)
    assert not bool(inside)
    assert _one(dep.tp_group_bps) == pytest.approx(float(training_bw)) == pytest.approx(8 * chip.scaleout_gbps * 1e9)
    assert _one(dep.tp_group_bps) > 4 * _one(dep.scaleout_bps)
    # the simulator's step cost prices the same bytes at the same rate as the closed form
    cm = build_cost_model(MODELS["llama3-70b"], chip, tp=16)
    assert cm.tp_comm_s_per_token == pytest.approx(_one(inf._comm_s(dep, 1.0)))


@pytest.mark.parametrize("chip_id", ["h100-sxm5-80gb", "ascend-910b2", "mi300x", "tpu-v5p", "a100-sxm4-80gb"])
@pytest.mark.parametrize("tp", [1, 2, 4, 8])
def test_a_tp_group_inside_one_domain_is_priced_as_before(chip_id, tp):
    dep = _dep(chip_id, tp)
    assert _one(dep.tp_group_bps) == _one(dep.scaleup_tp_bps)


def test_tp16_prefill_is_not_several_times_slower_than_tp8():
    """QA: TP8 -> TP16 made a lone 8,000-token prompt's TTFT 3.5x worse (324 -> 1,150 ms): half the
    FLOPs per chip were buried under an all-reduce over one NIC."""
    from engine.inference import ServingInputs, evaluate_serving

    def ttft(tp: int) -> float:
        res = evaluate_serving(ServingInputs(model=MODELS["llama3-70b"], chip=CHIPS["h100-sxm5-80gb"],
                                             input_len=8000.0, output_len=100.0, tp=tp, scenario="concurrency",
                                             concurrency=1, requests=4))
        return res.ttft_ms

    assert ttft(16) < 1.2 * ttft(8)
