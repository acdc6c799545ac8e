"""Tensor-parallel traffic of one layer and micro-batch for the training model (engine/training.py).

A transformer layer has two TP blocks, attention and MLP. With sequence parallelism each block
all-gathers its b*s*h input before its column-parallel GEMM and reduce-scatters after its
row-parallel one, forward, and the transposes of both backward: 4 ring passes of (t-1)/t of b*s*h
per block (without sequence parallelism 2 all-reduces, the same cost), and full recompute repeats
the forward's 2. That holds for the attention of every layer, for a dense MLP and for a MoE layer's
shared experts, which are a dense TP MLP (Megatron-Core SharedExpertMLP on the TP group).

A MoE layer's routed experts move differently (Megatron-Core's all-to-all dispatcher, which
requires sequence parallelism with TP): the router sees the sequence-sharded tokens, the EP
all-to-all sends each of a rank's T/tp tokens to its k experts, and a rank receives about k*T/tp
token copies. With expert TP (ETP) > 1 those are all-gathered over the ETP group before the
expert GEMMs (`gather_from_sequence_parallel_region` in dispatch_postprocess) and reduce-scattered
back in combine: each collective's gathered buffer is k*T*(etp/tp)*h elements, forward AG + RS,
backward their transposes, and the forward's again under full recompute. With ETP = 1 the experts'
tokens stay sequence-sharded and no TP collective runs for them.
"""

from __future__ import annotations

import numpy as np


def tp_comm_per_layer_s(topo, net: dict, *, tp, etp, tokens, hidden: float, act_bytes: float, rc,
                        dense_frac: float, moe_frac: float, moe_topk: int, moe_shared_experts: int,
                        linear_hidden, dispatch_hidden):
    """Exposed TP seconds per layer (averaged over the dense and MoE layers by their shares) for
    one micro-batch of `tokens` per CP rank, `tp` and `etp` arrays of the layouts, `rc` the
    recompute code (2 = full). `linear_hidden` is the fraction of the linear layers' collectives
    hidden behind their GEMMs (TransformerEngine's TP comm overlap works inside its linear
    modules); `dispatch_hidden` the same for the MoE dispatcher's gathers, which run outside them."""
    passes_per_block = 4.0 + np.where(rc == 2, 2.0, 0.0)
    one_pass = topo.all_gather_s(tp, 1.0, tokens * hidden * act_bytes, **net)
    # attention in every layer, the dense MLP in dense layers, the shared experts in MoE layers
    blocks = 1.0 + dense_frac + (moe_frac if moe_shared_experts else 0.0)
    linear = np.where(tp > 1, passes_per_block * blocks * one_pass, 0.0)
    exposed = linear * (1.0 - linear_hidden)
    if moe_frac:
        gathered = moe_topk * tokens * (etp / tp) * hidden * act_bytes
        dispatch = np.where(etp > 1, passes_per_block * topo.all_gather_s(etp, 1.0, gathered, **net), 0.0)
        exposed = exposed + moe_frac * dispatch * (1.0 - dispatch_hidden)
    return exposed
