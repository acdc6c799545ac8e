"""Network topology as tiers, and what collectives cost on it (one module for training and inference).

A chip sits in a **scale-up domain** (`Chip.scaleup_domain` chips) reached over one of three fabrics,
and reaches other domains through **scale-out** NICs:

- `switch` (NVLink + NVSwitch, also the default when the catalog says nothing): any group inside the
  domain gets the chip's full per-direction scale-up bandwidth (`scaleup_gbps`).
- `mesh` (Ascend 910B HCCS in an 8-chip Atlas 800T A2, AMD MI300X xGMI on the UBB): one link per
  pair of chips (`scaleup_link_gbps` per direction). A collective over g chips drives g-1 links at
  once (the direct "mesh" algorithms of HCCL/RCCL), so a TP2 group gets ONE link, not the aggregate.
- `torus` (TPU ICI): `scaleup_link_gbps` per link; a bidirectional ring along one dimension uses two
  links, a group spread over d dimensions 2*d links, at most all of them.

Host tier: a domain smaller than its server (`chips_per_node`, default 8) -- the NVLink-bridge pairs
of an 8-GPU H100 PCIe host, the two 4-chip HCCS groups of an 8-chip Ascend 910A server -- reaches
the other domains of that server over the host's PCIe, not over the NICs: a group beyond its domain
but within the server is priced as one across domains (members in parallel, never faster than their
fabric) at `host_gbps` per chip, with no fabric oversubscription (see `host_path_gbps`), at the
NIC path's efficiency (`out_eff`: PCIe peer-to-peer DMA, the path the NIC's RDMA takes too).

Scale-out: `scaleout_gbps` per chip per direction (one NIC per chip, rail-optimised), divided by
`scaleout_oversubscription` (1 = non-blocking fat tree). A group spread over several domains with m
members in each runs hierarchically (reduce inside the domain, then m NICs in parallel across), so its
cross-domain bandwidth is min(m x NIC, the domain-internal bandwidth of those m members).

API (all vectorised: `group` and `stride` may be numpy arrays, one entry per layout):

    topo = topology_of(chip, domain=None)
    bw, inside = topo.group_bandwidth(group, stride, up_eff=1.0, out_eff=1.0)   # bytes/s per chip
    topo.all_reduce_s(group, stride, nbytes, up_eff=, out_eff=, latency_s=)       # ring: 2(n-1)/n
    topo.all_gather_s(...) / topo.reduce_scatter_s(...)                           # ring: (n-1)/n
    topo.all_to_all_s(group, stride, nbytes, ...)   # nbytes = what one chip sends in total
    topo.p2p_s(stride, nbytes, size=n, ...)         # one hop of a ring/pipeline of n ranks `stride` apart
    topo.pipeline_p2p_s(stride, stages, nbytes, ...)  # (pace, overcharge) of a pipeline's sends

`nbytes` is always the full buffer one chip holds before the collective (all-reduce / reduce-scatter
input, all-gather output). Ranks `stride` apart: a TP group has stride 1, a DP group stride tp
(x cp x pp as the layout orders them); a group is inside one domain when group x stride <= domain.
A point-to-point hop is priced by the group it belongs to, not by its own two ends: a CP ring of
cp ranks tp apart, or a pipeline of pp stages tp x cp x dp apart, that spans more than one domain
has at least one hop over the NICs, and since its ranks step together that hop sets the pace
(`size=2`, a lone pair, is the hop between two neighbours alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TOPOLOGY_KINDS = ("switch", "mesh", "torus")


@dataclass(frozen=True)
class Topology:
    kind: str                 # scale-up fabric: switch | mesh | torus
    domain: int               # chips in one scale-up domain
    scaleup_gbps: float       # per chip per direction, all links together
    link_gbps: float          # one link per direction (mesh: one pair; torus: one neighbour)
    links: int                # links per chip
    scaleout_gbps: float      # NIC bandwidth per chip per direction
    oversubscription: float = 1.0
    host: int = 0             # chips in one server (0 or <= domain: the server is the domain)
    host_gbps: float = 0.0    # per chip per direction between domains of one server (its PCIe)

    @property
    def server(self) -> int:
        """Chips in one server: never fewer than the scale-up domain."""
        return max(self.host, self.domain)

    def beyond_domain_gbps(self, span):
        """GB/s per chip per direction for traffic that leaves the scale-up domain, for a group
        that spans `span` chips (group x stride): the host's PCIe path while it stays in one
        server, the NIC (over the fabric's oversubscription) once it leaves it."""
        nic = self.scaleout_gbps / self.oversubscription
        return np.where(np.asarray(span, dtype=float) <= self.server, self.host_gbps or nic, nic)

    # ---- bandwidth -----------------------------------------------------------------------
    def scaleup_group_gbps(self, members):
        """Per-chip bandwidth (GB/s) a collective among `members` chips of one domain gets."""
        m = np.maximum(np.asarray(members, dtype=float), 1.0)
        if self.kind == "switch":
            return self.scaleup_gbps + 0.0 * m
        if self.kind == "mesh":
            return np.minimum(np.maximum(m - 1.0, 1.0), self.links) * self.link_gbps
        if self.kind == "torus":
            # chips per dimension of a roughly cubic/square torus of `domain` chips
            dims_total = max(1, min(3, self.links // 2))
            side = max(2.0, round(self.domain ** (1.0 / dims_total)))
            dims = np.clip(np.ceil(np.log(m) / math.log(side) - 1e-9), 1, dims_total)
            return np.minimum(2.0 * dims, self.links) * self.link_gbps
        return np.full(np.shape(m), self.scaleup_gbps, dtype=float)

    def group_bandwidth(self, group, stride=1, *, up_eff: float = 1.0, out_eff: float = 1.0):
        """(bytes/s per chip, inside-one-domain mask) for a collective over `group` ranks placed
        `stride` apart."""
        g = np.maximum(np.asarray(group, dtype=float), 1.0)
        st = np.maximum(np.asarray(stride, dtype=float), 1.0)
        inside = g * st <= self.domain
        members = np.minimum(np.maximum(np.floor(self.domain / st), 1.0), g)   # == g when inside
        up = self.scaleup_group_gbps(members) * (1e9 * up_eff)
        out = members * (self.beyond_domain_gbps(g * st) * 1e9 * out_eff)
        # crossing domains: m NICs (or, inside one server, m PCIe slots) in parallel, never faster
        # than the m members' own fabric
        return np.where(inside | (out > up), up, out), inside

    # ---- collectives (seconds) -----------------------------------------------------------
    def _ring(self, factor, group, stride, nbytes, up_eff, out_eff, latency_s):
        g = np.maximum(np.asarray(group, dtype=float), 1.0)
        bw, _ = self.group_bandwidth(g, stride, up_eff=up_eff, out_eff=out_eff)
        steps = factor * np.ceil(np.log2(g))      # tree/ring-of-rings latency: log steps
        t = factor * (g - 1.0) / g * np.asarray(nbytes, dtype=float) / bw + steps * latency_s
        return np.where(g > 1, t, 0.0)

    def all_reduce_s(self, group, stride, nbytes, *, up_eff=1.0, out_eff=1.0, latency_s=0.0):
        return self._ring(2.0, group, stride, nbytes, up_eff, out_eff, latency_s)

    def all_gather_s(self, group, stride, nbytes, *, up_eff=1.0, out_eff=1.0, latency_s=0.0):
        return self._ring(1.0, group, stride, nbytes, up_eff, out_eff, latency_s)

    reduce_scatter_s = all_gather_s

    def all_to_all_s(self, group, stride, nbytes, *, up_eff=1.0, out_eff=1.0, latency_s=0.0):
        """Each chip sends `nbytes` spread evenly over the group ((n-1)/n of it leaves the chip);
        the part bound for other domains goes over the NICs, the rest over the scale-up fabric,
        and the slower of the two sets the time (they run concurrently)."""
        g = np.maximum(np.asarray(group, dtype=float), 1.0)
        st = np.maximum(np.asarray(stride, dtype=float), 1.0)
        nb = np.asarray(nbytes, dtype=float)
        members = np.clip(np.floor(self.domain / st), 1.0, g)
        local_frac = (members - 1.0) / g
        remote_frac = (g - members) / g
        t_up = nb * local_frac / (self.scaleup_group_gbps(members) * 1e9 * up_eff)
        t_out = nb * remote_frac / (self.beyond_domain_gbps(g * st) * 1e9 * out_eff)
        return np.where(g > 1, np.maximum(t_up, t_out) + (g - 1.0) * latency_s / 4.0, 0.0)

    def p2p_s(self, stride, nbytes, *, size=2, up_eff=1.0, out_eff=1.0, latency_s=0.0):
        """Seconds of the slowest hop of a ring or pipeline of `size` ranks `stride` apart, each
        hop one send of `nbytes` to the next rank.

        The hop is on the scale-up fabric only when the whole group fits one domain (stride x size
        <= domain, aligned as groups are). A group spread over several domains has hops over the
        NICs; where neighbours also share a domain (2 x stride <= domain) its other hops run inside
        it, and the slower of the two kinds is the one that paces a ring whose ranks move
        together. Pricing by the stride alone put a 32-rank CP ring of neighbours on NVLink across
        4 servers: the same 0.389 s on a 1 GB/s NIC as on the real 50 GB/s one."""
        st = np.maximum(np.asarray(stride, dtype=float), 1.0)
        n = np.maximum(np.asarray(size, dtype=float), 2.0)
        up = self.scaleup_group_gbps(2.0) * 1e9 * up_eff
        out = self.beyond_domain_gbps(st * n) * 1e9 * out_eff
        whole_inside = st * n <= self.domain
        pairs_inside = 2.0 * st <= self.domain
        bw = np.where(whole_inside, up, np.where(pairs_inside, np.minimum(up, out), out))
        return np.asarray(nbytes, dtype=float) / bw + latency_s

    def pipeline_p2p_s(self, stride, stages, nbytes, *, up_eff=1.0, out_eff=1.0, latency_s=0.0):
        """(pace, overcharge) in seconds for a pipeline of `stages` stages `stride` apart that
        sends `nbytes` across a stage boundary, forward and backward, per micro-batch and chunk.

        pace: the two sends of the slowest stage. In 1F1B's steady state every stage waits on its
        neighbours, so the slowest stage paces them all -- but not at twice the pipeline's slowest
        hop: a stage at a server's edge has one neighbour across the NIC (the far hop, `p2p_s` of
        the whole pipeline) and, where two stages share a server, the other inside it (the near
        hop, a lone pair). Both are the NIC's when every stage has servers of its own, both the
        fabric's when the pipeline fits one server.

        overcharge: what (stages - 1) x pace overstates the warm-up and cool-down by: they cross
        each boundary once each way at its own rate, and of the boundaries one per server the
        pipeline spans beyond the first is far (never more than half when stages share a server),
        so (stages - 1 - 2 x far boundaries) x (far - near); exactly 0 when all hops are alike."""
        st = np.maximum(np.asarray(stride, dtype=float), 1.0)
        n = np.maximum(np.asarray(stages, dtype=float), 1.0)
        net = {"up_eff": up_eff, "out_eff": out_eff, "latency_s": latency_s}
        far = self.p2p_s(st, nbytes, size=n, **net)
        near = self.p2p_s(st, nbytes, size=2, **net)
        stages_per_domain = np.clip(np.floor(self.domain / st), 1.0, n)
        far_boundaries = np.ceil(n / stages_per_domain) - 1.0
        return far + near, (n - 1.0 - 2.0 * far_boundaries) * (far - near)


DEFAULT_SCALEUP_GBPS = 25.0   # a chip with no scale-up figure: PCIe 4 x16, per direction
DEFAULT_DOMAIN = 8            # ... in an 8-accelerator server
PCIE_GEN5_X16_GBPS = 50.0     # per direction, effective (~64 GB/s raw less encoding and protocol)


def default_scaleout_gbps(chip) -> float:
    """The NIC bandwidth per chip per direction assumed when the catalog leaves `scaleout_gbps`
    blank: one 400 Gb/s NIC per chip (50 GB/s), the usual 8-accelerator server (HGX, UBB), and never
    more than the chip's own scale-up rate, since a card on PCIe 4 x16 (32 GB/s) cannot feed a NIC
    faster than its slot. Training and serving both take it from here: they had two defaults (25 GB/s
    in training, 50 in serving), so an H20's data-parallel traffic and its KV transfer were priced on
    different NICs. A chip with no scale-up figure either is assumed on PCIe 4 x16
    (`DEFAULT_SCALEUP_GBPS`), so its NIC is no faster than that: 50 GB/s between servers beside 25
    inside one priced a TP group across nodes faster than within one."""
    return min(float(chip.scaleup_gbps or DEFAULT_SCALEUP_GBPS), 50.0)


def host_path_gbps(chip) -> float:
    """GB/s per chip per direction between the scale-up domains of one server (the host tier).

    The catalog has no PCIe figure, so this is `default_scaleout_gbps`'s rule: the PCIe Gen5 x16
    slot of an H100 PCIe card carries ~64 GB/s raw per direction, ~50 effective
    (`PCIE_GEN5_X16_GBPS`), never more than the chip's own scale-up rate; and never less than its
    stated NIC, since the NIC sits on the same PCIe switch and reaches the card through it. For the
    910A (PCIe Gen4 x16, ~25 effective) this overstates one slot, but its 4-chip HCCS groups' four
    slots in parallel exceed the 90 GB/s their own mesh gives a TP8 group either way, where its
    12.5 GB/s NIC figure priced TP8 at 50."""
    return max(float(chip.scaleout_gbps or 0.0), default_scaleout_gbps(chip))


def assumed_network_note(chip, *, scaleup: bool = True, scaleout: bool = True,
                         host: bool | None = None) -> str | None:
    """The line that says which of a chip's network figures were assumed (None when the catalog
    states those asked about): `scaleup` when chips of a group talk inside a server, `scaleout`
    when traffic crosses servers, `host` when it crosses scale-up domains inside one server (a
    chip whose domain is smaller than its server; the host's PCIe figure is always assumed).
    `host` None takes `scaleout`, for callers that ask whether traffic leaves the domain."""
    said = []
    topo = topology_of(chip)
    tier = topo.server > topo.domain and (scaleout if host is None else host)
    if scaleup and not getattr(chip, "scaleup_gbps", None):
        dom = int(chip.scaleup_domain or chip.chips_per_node or DEFAULT_DOMAIN)
        said.append(f"no scale-up figure, so {DEFAULT_SCALEUP_GBPS:g} GB/s per chip per direction (PCIe 4 x16) "
                    f"through a switch among {dom} chips (set scaleup_gbps and scaleup_domain)")
    if tier:
        said.append(f"no PCIe figure between its {topo.domain}-chip scale-up domains in one {topo.server}-chip "
                    f"server, so {topo.host_gbps:g} GB/s per chip per direction over the host's PCIe, not a NIC "
                    f"(Gen5 x16: ~64 GB/s raw, ~{PCIE_GEN5_X16_GBPS:g} effective; at most the scale-up rate, at "
                    "least the NIC's)")
    if scaleout and not getattr(chip, "scaleout_gbps", None):
        between = " between servers" if tier else ""
        said.append(f"no scale-out NIC figure, so {default_scaleout_gbps(chip):g} GB/s per chip per direction{between} "
                    "(one 400 Gb/s NIC per chip, at most the scale-up rate; set scaleout_gbps)")
    if not said:
        return None
    return f"{chip.name}: the chip catalog has " + "; and ".join(said) + ", assumed"



def topology_of(chip, *, domain: int | None = None) -> Topology:
    """The chip's network from its catalog entry. `domain` overrides the scale-up domain (a case
    run on smaller servers); blank catalog fields take documented defaults: a switch, 25 GB/s of
    scale-up (PCIe 4 x16) and `default_scaleout_gbps` of scale-out per chip. The server is
    `chips_per_node` (default 8) around a domain no smaller than the chip's own; a case whose
    domain is cut below the chip's (its servers are smaller) has no host tier."""
    kind = (getattr(chip, "scaleup_topology", "") or "switch").strip().lower()
    if kind not in TOPOLOGY_KINDS:
        kind = "switch"
    own = int(chip.scaleup_domain or chip.chips_per_node or DEFAULT_DOMAIN)
    dom = int(domain or own)
    up = float(chip.scaleup_gbps or DEFAULT_SCALEUP_GBPS)
    link = getattr(chip, "scaleup_link_gbps", None)
    if kind == "mesh":
        links = max(dom - 1, 1)
    elif kind == "torus":
        links = 6 if dom >= 1024 else 4
    else:
        links = 1
    link = float(link) if link else up / links
    links = max(1, int(round(up / link))) if kind != "switch" else 1
    out = float(chip.scaleout_gbps or default_scaleout_gbps(chip))
    over = float(getattr(chip, "scaleout_oversubscription", None) or 1.0)
    host = max(int(chip.chips_per_node or DEFAULT_DOMAIN), dom) if dom >= own else dom
    return Topology(kind=kind, domain=dom, scaleup_gbps=up, link_gbps=link, links=links,
                    scaleout_gbps=out, oversubscription=max(over, 1.0), host=host,
                    host_gbps=host_path_gbps(chip))
