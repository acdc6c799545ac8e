"""How a disaggregated deployment's open-loop run is read: the NICs' time its KV transfers need,
the throughput NICs short of time can carry, whether the run is overloaded and which side binds.

One rule for `fleetcast serve --prefill-tp N --request-rate R` (engine/commands/serve.py, which
words it as notes), the Inference view's load point (engine/studies_load.py) and the SLO search,
which takes no rate whose transfers need more than the NICs' time (`pool_nics_busy_share`): the load point
ran `simulate_disaggregated` without it, and at 19.5 requests/s of Llama 3 8B 8,000 / 20 on an
Ascend 910B2 (the KV transfers 102% of the decode NICs' time) said "the targets hold there"
beside serve's "overloaded", at a throughput serve caps (QA s31).

    reading = read_disaggregated_load(run, inputs, prefill_tp=1, prefill_instances=16, request_rate=19.5)
    reading.overloaded, reading.bound_by, reading.output_tokens_per_s_per_chip
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Share of the NICs' capacity the served requests must fill for the NICs to be what binds.
NIC_BINDS_SHARE = 0.95
SENDING_NICS = "kv transfer (sending NICs)"      # the prefill instances' NICs
RECEIVING_NICS = "kv transfer (receiving NICs)"  # the decode attention ranks' NICs


def transfer_sides_s_per_token(inputs, prefill_tp: int) -> tuple[float, float]:
    """(send, receive) seconds per prompt token of the KV transfers of `inputs`' decode instance
    fed by `prefill_tp`-chip prefill instances (`capacity.kv_transfer_sides_s_per_token`)."""
    from engine.serving.capacity import kv_transfer_sides_s_per_token

    return kv_transfer_sides_s_per_token(
        inputs.model, inputs.chip, tp=inputs.tp, ep=inputs.ep, pp=inputs.pp, prefill_tp=int(prefill_tp),
        kv_dtype=inputs.kv_dtype, weight_dtype=inputs.weight_dtype, engine=inputs.engine,
        factors=inputs.factors or None)


@dataclass(frozen=True)
class DisaggregatedLoad:
    """A disaggregated open-loop run as read (shares of 1; throughputs per chip of both pools)."""

    rate_per_replica: float            # requests/s offered to each replica
    receive_busy_share: float          # of each decode attention rank's NICs
    send_busy_share: float             # of each prefill instance's NICs
    attention_ranks: int               # decode ranks that each receive their own requests' KV
    served_share: float                # of the offered load: the run's, capped at 1 / NIC busy share
    output_tokens_per_s_per_chip: float   # the run's, capped as served_share is
    total_tokens_per_s_per_chip: float
    queue_grows: bool                  # the aggregated run's rule (`open_loop_verdict`)
    served_share_from_queue_growth: float | None
    overloaded: bool
    bound_by: str = ""                 # when overloaded: "prefill pool", SENDING_NICS, RECEIVING_NICS, "decode batch"

    @property
    def nic_busy_share(self) -> float:
        """The busier side's share of its NICs' time (over 1: the transfers queue without end)."""
        return max(self.receive_busy_share, self.send_busy_share)

    @property
    def sending(self) -> bool:
        """Whether the prefill instances' NICs are the busier side."""
        return self.send_busy_share > self.receive_busy_share

    @property
    def nics_bind(self) -> bool:
        return self.bound_by in (SENDING_NICS, RECEIVING_NICS)


def read_disaggregated_load(run, inputs, *, prefill_tp: int, prefill_instances: int, request_rate: float,
                            input_len: float | None = None, output_len: float | None = None,
                            sides: tuple[float, float] | None = None) -> DisaggregatedLoad:
    """`run` (a LoadRun of `simulate_disaggregated(inputs, ...)`) at `request_rate` requests/s over
    `inputs.replicas` replicas. The NICs' time the transfers need: each decode attention rank
    receives its own requests' KV over its own NICs (158% through one NIC read for 8 ranks), each
    prefill instance sends its share. NICs that need more than their time move 1 / busy of the
    prompts' KV, so no more than that is served; and their queue grows without end, so the run is
    overloaded (104% busy read "overloaded: false" while TTFT p50 went 9.4 s -> 47 s from 2,000 to
    8,000 requests). Lengths: the simulated means (`input_len`, `output_len`, default `inputs`',
    where the run has none). `sides`: `transfer_sides_s_per_token`'s, when known."""
    from engine.serving.capacity import attention_ranks
    from engine.serving.run_reading import open_loop_verdict

    sides = sides if sides is not None else transfer_sides_s_per_token(inputs, prefill_tp)
    lens = getattr(run.sim, "output_lens", None)
    mean_out = float(lens.mean()) if lens is not None and len(lens) else float(
        inputs.output_len if output_len is None else output_len)
    rate = float(request_rate) / max(int(inputs.replicas), 1)   # per replica
    ranks = attention_ranks(inputs.tp, inputs.ep)
    recv_busy, send_busy = nic_busy_shares(run.sim, inputs.model, rate, sides=sides, attention_ranks=ranks,
                                           prefill_instances=prefill_instances,
                                           input_len=inputs.input_len if input_len is None else input_len)
    busy = max(recv_busy, send_busy)
    chips = int(inputs.replicas) * run.chips_per_replica
    out_tps, total_tps = run.output_tokens_per_s_per_chip, run.total_tokens_per_s_per_chip
    share = out_tps / (float(request_rate) * mean_out / float(chips))
    if busy > 1.0 and share > 1.0 / busy:
        scale = (1.0 / busy) / share
        out_tps, total_tps = out_tps * scale, total_tps * scale
        share = 1.0 / busy
    grows, from_queue = open_loop_verdict(run.sim, rate, share)
    overloaded = grows or busy > 1.0
    side = binding_side(run.sim, busy, send_busy > recv_busy, share) if overloaded else ""
    return DisaggregatedLoad(rate_per_replica=rate, receive_busy_share=recv_busy, send_busy_share=send_busy,
                             attention_ranks=ranks, served_share=share, output_tokens_per_s_per_chip=out_tps,
                             total_tokens_per_s_per_chip=total_tps, queue_grows=bool(grows),
                             served_share_from_queue_growth=from_queue, overloaded=bool(overloaded), bound_by=side)


def nic_busy_shares(sim, model, rate_per_replica: float, *, sides: tuple[float, float], attention_ranks: int,
                    prefill_instances: int, input_len: float = 0.0) -> tuple[float, float]:
    """(receive, send): the share of a decode attention rank's and of a prefill instance's NICs'
    time the KV transfers of `sim`'s prompts (their mean length; `input_len` where the run has
    none) need at `rate_per_replica` requests/s, `sides` being (send, receive) seconds per
    prompt token (`transfer_sides_s_per_token`). Over 1: the transfers queue without end."""
    lens_in = getattr(sim, "input_lens", None)
    mean_in = float(lens_in.mean()) if lens_in is not None and len(lens_in) else float(input_len)
    kv_tokens = float(rate_per_replica) * model.kv_context_tokens(mean_in)
    send_s, recv_s = sides
    return kv_tokens * recv_s / max(int(attention_ranks), 1), kv_tokens * send_s / max(int(prefill_instances), 1)


def pool_nics_busy_share(sim, model, pool, rate_per_replica: float) -> tuple[float, str]:
    """(share, side): the busier side's `nic_busy_shares` for a run on `pool` (a `PrefillPool`, which
    holds the sides, the instances and the decode attention ranks) at `rate_per_replica`, and that
    side (`SENDING_NICS` or `RECEIVING_NICS`, as `DisaggregatedLoad.sending` picks it): what the SLO
    search reads a rate's run by (`capacity._poisson_runner`), as serve reads it (QA s31: the
    search held 19.33 requests/s of Llama 3 8B 8,000 / 20 on an Ascend 910B2, 16 x TP1 prefill,
    where the KV transfers need 101.3% of the decode NIC's time and serve says overloaded)."""
    whole = float(pool.transfer_s_per_token)
    sides = (whole if pool.send_s_per_token is None else float(pool.send_s_per_token),
             whole if pool.recv_s_per_token is None else float(pool.recv_s_per_token))
    receive, send = nic_busy_shares(sim, model, rate_per_replica, sides=sides, attention_ranks=pool.recv_queues,
                                    prefill_instances=pool.instances)
    return (send, SENDING_NICS) if send > receive else (receive, RECEIVING_NICS)


# the sides in words (the Inference view's notes, the SLO search's explanation)
NIC_SIDE_WORDS = {SENDING_NICS: "the prefill instances' NICs", RECEIVING_NICS: "the decode side's NICs"}


def slo_bound_by(cap) -> str:
    """What binds an SLO load (`inference.CapacityResult`): the KV transfers' NIC side where the
    search ran into it (the name a disaggregated --request-rate run gives `bound_by`), else what
    fills the time per token there (compute, bandwidth, overhead): serve's `bound_by` and the
    Inference view's Limiting tile. They said "compute" beside limiting "kv transfer (receiving NICs)"."""
    return cap.limiting if cap.limiting in NIC_SIDE_WORDS else cap.resource


def unserved_limit(run) -> str:
    """What a load that is not served ran into, in the SLO search (`capacity.LoadRun`): the KV
    transfers' NICs where they need more than their time (`capacity._overloaded`'s first rule; the
    side by name, as serve says it), else saturation. QA s32: a disaggregated search bound by the
    decode NICs said "saturation"."""
    if getattr(run, "nic_busy_share", 0.0) > 1.0 and getattr(run, "nic_side", ""):
        return run.nic_side
    return "saturation"


def binding_side(sim, nic_busy: float, sending: bool, served_share: float) -> str:
    """The side that binds an overloaded disaggregated run: NICs that need more than their time and
    carry about all they can for the requests served, else the wait that grows most through the
    run: for a prefill instance ("prefill pool"), for the NICs, or for a decode seat ("decode
    batch", the batch full). "Add prefill instances" was the advice also where decode bound
    (16/24/40 chips served the same 4.87 requests/s), and the offered load's NIC time named the
    NICs where the decode side served 12 of the 19 requests/s they could carry (QA s29)."""
    nics = SENDING_NICS if sending else RECEIVING_NICS
    if nic_busy > 1.0 and served_share * nic_busy >= NIC_BINDS_SHARE:
        return nics
    q = np.asarray(getattr(sim, "queue_s", []), dtype=float)
    pf = getattr(sim, "prefill_wait_s", None)
    nic = getattr(sim, "transfer_wait_s", None)
    pf = np.zeros_like(q) if pf is None else np.asarray(pf, dtype=float)
    nic = np.zeros_like(q) if nic is None else np.asarray(nic, dtype=float)
    k = max(q.size // 4, 1)

    def growth(x) -> float:
        return float(np.nanmean(x[-k:]) - np.nanmean(x[:k])) if x.size else 0.0

    parts = {"prefill pool": growth(pf), nics: growth(nic), "decode batch": growth(q - pf - nic)}
    return max(parts, key=lambda s: parts[s])


__all__ = ["NIC_BINDS_SHARE", "SENDING_NICS", "RECEIVING_NICS", "DisaggregatedLoad", "binding_side",
           "nic_busy_shares", "pool_nics_busy_share", "read_disaggregated_load", "transfer_sides_s_per_token",
           "unserved_limit", "slo_bound_by", "NIC_SIDE_WORDS"]
