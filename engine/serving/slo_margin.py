"""The margin of a simulated SLO capacity: the load one sample of requests held, held on several.

The SLO search (`capacity.slo_capacity_sim`) bisects the offered load on one sample (one seed's
arrivals and lengths), so the load it finds sits where that sample's percentile touches the
target, and another sample at the same load misses it about as often as not: Llama 3 70B on
8 x 910B2, 2,000/300 tokens, p90 TTFT 1 s / TPOT 50 ms, found 1.448 requests/s with TPOT p90
49.98 ms on seed 0, where seeds 2 and 3 read 51.0 ms (and the same load stated to four figures,
1.4484, read 50.06 on seed 0: a load a hair away is a new draw too). `hold_on_samples` runs the
load found on fresh samples and backs off until every one of them meets the targets, at a load
stated to `RATE_FIGURES` significant figures, so a run at the load as printed is one of the runs
checked. `margin_words` says so in the answer. The cost: 3 runs where the samples hold at once,
about 8-12 where they back off (a search alone runs ~9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

SAMPLES = 4           # the search's own sample and 3 fresh ones (seeds s, s+1, s+2, s+3)
BACK_OFF = 0.97       # a sample that misses: the load stepped down this much on it alone (QA: ~3% held),
MAX_BACK_OFFS = 5     # the step squared at each further miss: down to 0.97^31 = 39% of the load found,
PRECISION = 0.035     # then bisected (log scale) to within this: a first 3% step that holds needs no more
MAX_ROUNDS = 8        # samples that miss in turn, each below the last one's edge
RATE_FIGURES = 4      # the load held is a number of this many significant figures, printed as such


def stated_rate(rate: float) -> float:
    """`rate` rounded down to `RATE_FIGURES` significant figures: the number a user reads and
    types back (`f"{r:.4g}"` prints it exactly, and float() of that text is this float)."""
    if not rate > 0 or not math.isfinite(rate):
        return rate
    unit = 10.0 ** (math.floor(math.log10(rate)) - (RATE_FIGURES - 1))
    # (the 1e-9 keeps a rate already stated, 1.448, from flooring to 1.447 on its binary error)
    return float(f"{math.floor(rate / unit + 1e-9) * unit:.{RATE_FIGURES}g}")


def rate_text(rate: float) -> str:
    """A stated rate as printed: every figure it was held at, no more ("1.448", "0.04117", "12",
    "12340")."""
    return f"{rate:.0f}" if rate >= 10 ** RATE_FIGURES else f"{rate:.{RATE_FIGURES}g}"


@dataclass(frozen=True)
class Held:
    """The outcome of `hold_on_samples`."""

    rate: float                   # per replica, stated: every sample meets the targets at it
    runs: tuple                   # (((requests, seed), LoadRun), ...) at `rate`, in the samples' order
    found_rate: float             # the load the search found (on its own sample)
    missed_rate: float = 0.0      # the lightest load a sample missed the targets at (0: none missed)
    missed: tuple = (0, 0)        # that sample, (requests, seed)
    missed_run: Any = None        # its LoadRun there

    def run_of(self, sample: tuple):
        """The LoadRun of `sample` ((requests, seed)) at the load held."""
        return dict(self.runs)[tuple(sample)]


def hold_on_samples(rate: float, run_at: Callable, samples: tuple,
                    meets: Callable[[Any, float], bool]) -> Held | None:
    """The load near `rate` (stated: `stated_rate`) at which every one of `samples` ((requests,
    seed) pairs, run by `run_at(rate, requests, seed)`) meets the targets (`meets(run, rate)`);
    None when none does down to `BACK_OFF`^31 of it.

    A sample that misses sets the next load: its own edge below, found on it alone (one run a
    load), stepping down by `BACK_OFF` (the step squared at each further miss) until it holds,
    then bisecting to `PRECISION`; every sample is then run at that load, the one that missed
    last first (the one nearest the edge decides), the rest in their order (cheapest first).
    Loads only fall, so it ends."""
    order = [tuple(x) for x in samples]

    def ok(r: float, sample: tuple) -> bool:
        return bool(meets(run_at(r, *sample), r))

    def first_miss(r: float) -> tuple | None:
        for sample in list(order):
            if not ok(r, sample):
                order.remove(sample)
                order.insert(0, sample)
                return sample
        return None

    r, missed, missed_sample = stated_rate(rate), 0.0, (0, 0)
    for _ in range(MAX_ROUNDS):
        miss = first_miss(r)
        if miss is None:
            return Held(rate=r, runs=tuple((tuple(x), run_at(r, *x)) for x in samples), found_rate=float(rate),
                        missed_rate=missed, missed=missed_sample,
                        missed_run=run_at(missed, *missed_sample) if missed else None)
        hi, step, lo = r, BACK_OFF, 0.0
        for _ in range(MAX_BACK_OFFS):
            lo = stated_rate(hi * step)
            if ok(lo, miss):
                break
            hi, step = lo, step * step
        else:
            return None
        while hi > lo * (1.0 + PRECISION):
            mid = stated_rate(math.sqrt(lo * hi))
            if not lo < mid < hi:
                break
            if ok(mid, miss):
                lo = mid
            else:
                hi = mid
        r, missed, missed_sample = lo, hi, miss
    return None


def _seeds_text(seeds: list) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)}"


def _over(run, ttft_ms, tpot_ms, pct: str, only_missed: bool = False) -> str:
    """What a run read against the targets ("TTFT p90 1,012 ms, TPOT p90 50.3 ms"), its targets
    only; `only_missed`: those it missed."""
    said = []
    if ttft_ms and not (only_missed and run.ttft_ms[pct] <= ttft_ms):
        said.append(f"TTFT {pct} {run.ttft_ms[pct]:,.0f} ms")
    if tpot_ms and math.isfinite(run.tpot_ms[pct]) and not (only_missed and run.tpot_ms[pct] <= tpot_ms):
        said.append(f"TPOT {pct} {run.tpot_ms[pct]:.1f} ms")
    return ", ".join(said)


def samples_text(samples) -> str:
    """"4 samples of 2,000 requests (seeds 0-3)", "... and 1 of 8,000 (seed 1)": by request count."""
    counts = sorted({n for n, _ in samples})
    parts = []
    for i, n in enumerate(counts):
        seeds = [s for m, s in samples if m == n]
        k = len(seeds)
        what = (f"{k} sample{'s' if k > 1 else ''} of {n:,} requests" if i == 0 else f"{k} of {n:,}")
        parts.append(f"{what} ({_seeds_text(seeds)})")
    return " and ".join(parts)


def margin_words(held: Held, ttft_ms, tpot_ms, pct: str) -> str:
    """The margin in words: the samples that hold the targets at the load, the worst of them, and
    how far below the load the search's own sample held that is (and why)."""
    worst = _over(_Worst(held.runs, pct), ttft_ms, tpot_ms, pct)
    text = (f"that load holds the targets on {samples_text([x for x, _ in held.runs])}"
            + (f", the worst {worst}" if worst else ""))
    if held.missed_rate:
        below = 100.0 * (1.0 - held.rate / held.found_rate)
        # (nothing over its target: the sample fell behind the load, `capacity._overloaded`)
        why = _over(held.missed_run, ttft_ms, tpot_ms, pct, only_missed=True) or "the load not served"
        (n, seed), own_seed = held.missed, held.runs[0][0][1]
        where = ("there" if rate_text(held.missed_rate) == rate_text(stated_rate(held.found_rate)) else
                 f"at {rate_text(held.missed_rate)} requests/s")
        text += (f": {below:.1f}% below the {rate_text(held.found_rate)} requests/s found on seed {own_seed}'s sample "
                 f"alone (seed {seed}'s {n:,} requests missed them {where}: {why})")
    return text


class _Worst:
    """The worst (highest) TTFT and TPOT of several runs at one percentile, read as one run."""

    def __init__(self, runs: tuple, pct: str):
        self.ttft_ms = {pct: max(r.ttft_ms[pct] for _, r in runs)}
        tpots = [r.tpot_ms[pct] for _, r in runs if math.isfinite(r.tpot_ms[pct])]
        self.tpot_ms = {pct: max(tpots) if tpots else math.nan}
