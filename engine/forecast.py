"""Supply vs demand over time under delivery uncertainty, and when training jobs finish.

Pure numpy. Inputs are the orders (with their deliveries), a `ForecastScenario` and per-chip
throughputs handed in by the caller (`engine.forecast_inputs` computes them from the inference
and training engines); this module never calls the other engines.

Model (monthly grid, values at each month's first day):
- Supply. Delivered chips count from `install_lag_days` after their delivery date. What is still
  undelivered follows the promised schedule (lots already delivered are taken first-in-first-out;
  a lot overdue at the as-of date ships at its due date plus the delay given that lateness, never
  before the as-of date (`delay_given_overdue`), nor does any other undelivered lot (a negative
  delay brings it forward to the as-of date at the earliest); quantity with no promised date is
  spread evenly over `unscheduled_spread_months` months after the as-of date, and never before
  `UNSCHEDULED_LEAD_MONTHS` after the order date). Installed chips
  decay at `annual_failure_rate` (exponential, net of repairs) and retire after `lifetime_years`.
  Both are applied as expected values: a fleet of thousands has negligible binomial noise.
- Uncertainty, per order: a fulfilled fraction (of the order, or of what is outstanding) scales
  every undelivered lot alike, and one delay shifts them all. Each order draws from its own seeded
  stream, so editing one order's distribution leaves the others' draws unchanged.
- Vectorised Monte Carlo: the installed curve of an order's undelivered lots is tabulated once per
  day; a trial's delay is then a shift, i.e. a gather of trials x months indices.
- Demand: tokens/day from data points and a growth curve, times peak-to-average, split into input
  and output by the request mix; output tokens/s at peak over SLO-bounded output tokens/s per chip
  gives chips needed.
- Allocation: a training share per chip type (changing at dates); the rest serves. Training jobs
  queue per chip type on their share and integrate throughput month by month.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable, Mapping, Sequence

import numpy as np

from engine.errors import Cancelled, UserError, ValidationError
from engine.fleet import Order, month_starts
from engine.hardware import CHIP_LIFE_YEARS
from engine.validate import iso_day

DAYS_PER_YEAR = 365.25
SECONDS_PER_DAY = 86400.0
H100_BF16_TFLOPS = 989.4  # H100 SXM dense BF16: the unit of "H100-equivalents"

DISTRIBUTIONS = ("fixed", "uniform", "triangular", "beta")
# What a trial draws; each can be switched off (held at its median) to see what it contributes.
UNCERTAINTY_SOURCES = ("supply", "policy", "demand", "mix", "throughput")
SOURCE_LABELS = {"supply": "vendor fraction and delay", "policy": "export-licence cut-offs",
                 "demand": "demand (points and growth)", "mix": "request mix", "throughput": "per-chip throughput"}
FRACTION_BASES = ("order", "outstanding")
CURVE_KINDS = ("piecewise", "exponential", "logistic")
# The first months a forecast may start in: a start outside is a typo (1990 for 2025), never a
# fleet this tool plans, and a 1990 start quietly answered "0 chips installed" for 35 years.
START_YEARS = (2000, 2100)


# ---- scenario dataclasses ------------------------------------------------------------------

@dataclass(frozen=True)
class OrderUncertainty:
    """Distributions of an order's fulfilled fraction and of its delay.

    Kinds: `fixed` (the mode), `uniform` (low..high), `triangular` (low, mode, high) and `beta`
    (PERT: a beta on [low, high] with that mode, shape 4; mean = (low + 4 mode + high) / 6).
    `fraction_of`: `order` = share of the ordered quantity eventually delivered, chips already
    delivered included, drawn given what has arrived (90k of 100k delivered: the share is drawn
    from 0.9 up, `fraction_given_floor`; a share above the distribution's lowest value only); the
    quantity is the contract's (every row with one `contract_key`: buyer, vendor, chip, order
    date), so splitting an order into rows changes nothing; `outstanding` = share of what is still undelivered.
    `extra_delay_days`: every undelivered lot ships this many days later, on top of the drawn delay
    (a what-if's "6 months later than the baseline assumes", which stays that when the baseline's
    delay distribution is edited; see `delay_given_overdue` for a lot already overdue).
    """

    fraction_dist: str = "fixed"
    fraction_low: float = 1.0
    fraction_mode: float = 1.0
    fraction_high: float = 1.0
    fraction_of: str = "order"
    delay_dist: str = "fixed"
    delay_low_days: float = 0.0
    delay_mode_days: float = 0.0
    delay_high_days: float = 0.0
    note: str = ""
    # Share of the draw (in normal scores) that is the vendor's common shock in a trial (yields,
    # export rules, the vendor's priorities hit every order alike); the rest is the contract's own
    # noise. 1: every order of the vendor moves together, 0: independent contracts.
    vendor_common_share: float = 0.7
    extra_delay_days: float = 0.0


@dataclass(frozen=True)
class PolicyEvent:
    """An export-licence cut-off of `chip_id`: with `probability` it starts on a day drawn
    uniformly in [window_start, window_end] and lasts `duration_months` (None: for good).
    Undelivered lots that would ship during it are lost (the licence is refused, the order
    cancelled); chips already delivered stay. Example: the H20 needed a US licence from 9 Apr 2025.
    """

    chip_id: str
    probability: float
    window_start: dt.date
    window_end: dt.date
    duration_months: float | None = None
    note: str = ""


@dataclass(frozen=True)
class DemandPoint:
    """A reported tokens/day figure and how far it may be off.

    `sd_pct`: one standard deviation of the figure, in percent, lognormal: a trial's true
    tokens/day is the figure x exp(sd_pct/100 x z), z standard normal, each point drawn on its own.
    A reported figure is rarely exact: a date known to about a month, at a local growth of g per
    year, is off by about ln(g)/12 in log terms (~17% at 8x/year, ~8% at 2.6x/year), and a
    secondary source adds its own error. Interpolating such points exactly made the forecast more
    certain than its inputs (P10 = P90 of demand up to the last point). `at_least`: the figure is a
    lower bound ("more than"): draws are the figure x exp(sd_pct/100 x |z|), never below it (with
    sd_pct 0 it is the figure). Both are the user's inputs, never read from `note`.
    """

    date: dt.date
    tokens_per_day: float
    note: str = ""
    sd_pct: float = 0.0
    at_least: bool = False


@dataclass(frozen=True)
class DemandCurve:
    """Tokens per day over time and how they turn into chips.

    `piecewise`: log-linear between points, flat before the first, growing by
    `growth_after_last_per_year` (x per year) after the last. `exponential`: least-squares fit of
    log tokens vs time. `logistic`: ceiling `ceiling_tokens_per_day`, rate and midpoint fitted on
    the logit of the points. Served by `model_id` with requests of `input_tokens_per_request` in /
    `output_tokens_per_request` out under TTFT/TPOT targets; chips needed are reported in units of
    `chip_id`; `serve_on` lists the chip types that serve (empty = every chip type in the fleet);
    `weight_dtype`/`kv_dtype` are handed to the inference engine.

    `growth_rate_multiplier` (m, a what-if; 1 = as fitted) multiplies the growth after the last
    point in log terms: log(demand / last point) is m times what the curve gives, so 3x/year reads
    3^m x/year (m = 2: 9x a year later, not 6x). It acts after the fit, on every growth model
    (fixed, log-linear, decaying, the user's P10/P50/P90) and curve kind (the exponential fit's
    slope, the logistic rate), and on each trial's whole draw: the median and the spread of the
    log-growth both scale by m (P10/P50/P90 of 1.5/2/3x a year read 2.25/4/9x at m = 2). A ceiling
    still holds (the approach to it runs m times as fast); the points themselves do not move, nor
    does their scatter about the fitted curve, drawn after the last point as a level (engine.
    forecast_demand.level_scatter_sd), which the multiplier leaves as it is.
    """

    points: tuple[DemandPoint, ...] = ()
    kind: str = "piecewise"
    growth_after_last_per_year: float = 1.0
    ceiling_tokens_per_day: float | None = None
    peak_to_average: float = 1.0
    input_tokens_per_request: float = 1000.0
    output_tokens_per_request: float = 200.0
    scale: float = 1.0
    model_id: str = ""
    ttft_ms: float = 2000.0
    tpot_ms: float = 50.0
    chip_id: str = ""
    serve_on: tuple[str, ...] = ()
    weight_dtype: str = "bf16"
    kv_dtype: str = "bf16"
    note: str = ""
    # Fraction of input tokens served from a prefix cache (system prompts, earlier turns of a
    # chat): they occupy KV but skip prefill. DeepSeek reported 56% for its API (STORY.md).
    prefix_cache_hit: float = 0.0
    # The share of requests whose TTFT and TPOT must meet the targets under load (the simulated
    # SLO capacity): "p90", "p99" or "p50".
    slo_percentile: str = "p90"
    # Coefficient of variation of prompt and output lengths around the means above in the
    # simulated SLO load (0: every request the mean length, as before this field existed).
    length_spread: float = 0.0
    # Growth after the last point and its uncertainty (engine.forecast_demand; `piecewise` only).
    growth_model: str = "fixed"
    fit_points: int = 3
    growth_sigma_floor: float = 0.25
    growth_p10_per_year: float = 1.5
    growth_p50_per_year: float = 2.0
    growth_p90_per_year: float = 3.0
    # Lognormal sigma of the serving work per token from the request mix (tokens in/out per
    # request, prompt cache): the chips a token needs are only as certain as the mix behind them.
    request_mix_sigma: float = 0.0
    # What-if: x on the log-growth after the last point (1 = as fitted; see the docstring).
    growth_rate_multiplier: float = 1.0

    @property
    def output_fraction(self) -> float:
        return self.output_tokens_per_request / (self.input_tokens_per_request + self.output_tokens_per_request)


@dataclass(frozen=True)
class AllocationStep:
    """From `start` on, `training_share` of chip type `chip_id` trains."""

    start: dt.date
    chip_id: str
    training_share: float


@dataclass(frozen=True)
class Allocation:
    training_share: Mapping[str, float] = field(default_factory=dict)
    default_training_share: float = 0.0
    steps: tuple[AllocationStep, ...] = ()

    def share(self, chip_id: str, months: Sequence[dt.date]) -> np.ndarray:
        """Training share of `chip_id` at each month start."""
        base = float(self.training_share.get(chip_id, self.default_training_share))
        out = np.full(len(months), base)
        month_ord = np.array([m.toordinal() for m in months])
        for step in sorted((s for s in self.steps if s.chip_id == chip_id), key=lambda s: s.start):
            out[month_ord >= step.start.toordinal()] = step.training_share
        return out


@dataclass(frozen=True)
class TrainingJob:
    """`tokens` training tokens of `model_id` on the training share of `chip_id`.

    Jobs on the same chip type run one after another in list order.
    """

    name: str
    model_id: str
    tokens: float
    chip_id: str
    earliest_start: dt.date
    seq_len: int | None = None
    global_batch_seqs: int | None = None
    deadline: dt.date | None = None


@dataclass(frozen=True)
class ForecastScenario:
    name: str = "default"
    start: dt.date = dt.date(2024, 5, 1)
    months: int = 60
    trials: int = 2000
    seed: int = 0
    as_of: dt.date | None = None  # None: per order, the latest delivery recorded from its vendor
    install_lag_days: float = 30.0
    annual_failure_rate: float = 0.0
    lifetime_years: float | None = None
    unscheduled_spread_months: int = 12
    default_uncertainty: OrderUncertainty = OrderUncertainty()
    vendor_uncertainty: Mapping[str, OrderUncertainty] = field(default_factory=dict)
    order_uncertainty: Mapping[int, OrderUncertainty] = field(default_factory=dict)
    demand: DemandCurve = DemandCurve()
    allocation: Allocation = Allocation()
    jobs: tuple[TrainingJob, ...] = ()
    serving_efficiency_scale: float = 1.0
    training_efficiency_scale: float = 1.0
    note: str = ""
    policy_events: tuple[PolicyEvent, ...] = ()
    # Multiplies the per-chip-family throughput sigmas (0: engines' figures taken as exact).
    throughput_sigma_scale: float = 1.0

    def last_month(self) -> dt.date:
        """The horizon's last month (a plan's default target end)."""
        from engine.fleet import add_months

        return add_months(self.start.replace(day=1), self.months - 1)

    def uncertainty_for(self, order: Order, maker: str | None = None) -> OrderUncertainty:
        """The most specific distribution: order id, then vendor (case-insensitive), then the
        chip's maker (`maker`, the catalog's vendor), then default."""
        return effective_uncertainty(order.id, order.vendor, self.default_uncertainty, self.vendor_uncertainty,
                                     self.order_uncertainty, maker)


def supply_vendor(vendor: str | None, by_vendor: Mapping[str, OrderUncertainty], maker: str | None = None) -> str:
    """Whose delivery risk an order carries: its vendor when the scenario has a profile for it;
    else the chip's maker when it has one (a reseller, or "Huawei Technologies" for "Huawei", does
    not make a 910B order certain); else its own vendor (the default applies)."""
    names = {name.lower() for name in by_vendor}
    if (vendor or "").lower() in names or not maker or maker.lower() not in names:
        return vendor or ""
    return maker


def effective_uncertainty(order_id, vendor: str | None, default: OrderUncertainty,
                          by_vendor: Mapping[str, OrderUncertainty],
                          by_order: Mapping[int, OrderUncertainty], maker: str | None = None) -> OrderUncertainty:
    """The one precedence rule (the Monte Carlo and the form's fallback display both use it): an
    order's own distribution, else its vendor's (names compared case-insensitively), else its
    chip maker's, else the default."""
    if order_id in by_order:
        return by_order[order_id]
    who = supply_vendor(vendor, by_vendor, maker).lower()
    for name, unc in by_vendor.items():
        if name.lower() == who:
            return unc
    return default


# ---- inputs and results --------------------------------------------------------------------

@dataclass(frozen=True)
class ThroughputTable:
    """Training tokens/s per chip measured at a few fleet sizes; interpolated in log2(chips).

    A zero marks an infeasible size (e.g. the model does not fit); below the smallest feasible
    size throughput is zero, above the largest the per-chip figure holds.
    """

    n_chips: tuple[float, ...]
    tokens_per_s_per_chip: tuple[float, ...]

    def per_chip(self, n_chips: np.ndarray) -> np.ndarray:
        n = np.asarray(self.n_chips, dtype=float)
        v = np.asarray(self.tokens_per_s_per_chip, dtype=float)
        order = np.argsort(n)
        n, v = n[order], v[order]
        feasible = v > 0
        if not feasible.any():
            return np.zeros_like(n_chips, dtype=float)
        first = int(np.argmax(feasible))
        n, v = n[first:], v[first:]
        x = np.log2(np.maximum(n_chips, 1e-9))
        out = np.interp(x, np.log2(n), v)
        return np.where(n_chips >= n[0], out, 0.0)


TrainingThroughput = Mapping[tuple[str, str], ThroughputTable] | Callable[[str, str, int], float]


@dataclass(frozen=True)
class ForecastInputs:
    """Everything `run_forecast` needs, as plain values.

    `serving_tokens_per_s_per_chip`: SLO-bounded output tokens/s per chip of the demand's model.
    `training_tokens_per_s_per_chip`: {(model_id, chip_id): ThroughputTable} or a callable
    (model_id, chip_id, n_chips) -> tokens/s per chip, evaluated at powers of two.
    """

    orders: tuple[Order, ...]
    scenario: ForecastScenario
    chip_peak_tflops: Mapping[str, float]
    serving_tokens_per_s_per_chip: Mapping[str, float]
    training_tokens_per_s_per_chip: TrainingThroughput = field(default_factory=dict)
    h100_bf16_tflops: float = H100_BF16_TFLOPS
    throughput_source: str = "given"
    notes: tuple[str, ...] = ()
    # Lognormal sigmas of per-chip throughput from the validation error of the chip's family
    # (resources/throughput_sigma.csv); a chip missing here is taken as exact.
    family_by_chip: Mapping[str, str] = field(default_factory=dict)
    serving_sigma_by_chip: Mapping[str, float] = field(default_factory=dict)
    training_sigma_by_chip: Mapping[str, float] = field(default_factory=dict)
    # The catalog's vendor of each chip: an order whose vendor has no delivery profile carries
    # its chip maker's (supply_vendor)
    maker_by_chip: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bands:
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray

    def scaled(self, k: float) -> "Bands":
        return Bands(self.p10 * k, self.p50 * k, self.p90 * k)


@dataclass(frozen=True)
class JobForecast:
    job: TrainingJob
    start_p50: dt.date | None
    completion_p10: dt.date | None  # None: after the horizon
    completion_p50: dt.date | None
    completion_p90: dt.date | None
    prob_within_horizon: float
    completion_ordinals: np.ndarray  # per trial, days (proleptic ordinal, fractional); inf = not done
    # None: the job has no deadline, or it is not known (`deadline_unknown`)
    prob_by_deadline: float | None = None

    @property
    def deadline_unknown(self) -> bool:
        """The job has a deadline after the horizon and some trials don't finish within it: whether
        they make it is not simulated (see `prob_done_by_deadline`)."""
        return self.job.deadline is not None and self.prob_by_deadline is None


@dataclass(frozen=True)
class ForecastResult:
    scenario: ForecastScenario
    months: tuple[dt.date, ...]
    chip_ids: tuple[str, ...]
    installed_by_chip: Mapping[str, Bands]  # chips
    promised_by_chip: Mapping[str, np.ndarray]  # chips if every order arrives in full, on time
    pflops_by_chip: Mapping[str, Bands]  # PFLOP/s dense BF16
    installed_total: Bands  # chips, all types
    pflops_total: Bands
    h100_equiv_total: Bands
    training_share_by_chip: Mapping[str, np.ndarray]
    serving_tokens_per_s_per_chip: Mapping[str, float]  # after the efficiency scale
    serving_capacity_tokens_per_s: Bands  # output tokens/s, serving shares only
    serving_capacity_unit_chips: Bands  # the same in chips of `unit_chip_id`
    demand_tokens_per_day: np.ndarray  # average, all tokens (input + output)
    demand_peak_output_tokens_per_s: np.ndarray
    demand_chips_by_chip: Mapping[str, np.ndarray]  # if served on that chip type alone
    demand_unit_chips: np.ndarray
    unit_chip_id: str
    shortfall_p50_unit_chips: np.ndarray  # max(demand - capacity P50, 0)
    balance_p50_unit_chips: np.ndarray  # capacity P50 - demand (negative = shortfall)
    prob_meet_demand: np.ndarray
    jobs: tuple[JobForecast, ...]
    trials: int
    seed: int
    throughput_source: str = "given"
    notes: tuple[str, ...] = ()
    demand_unit_chips_bands: Bands | None = None  # demand P10/P50/P90 (growth and mix drawn)
    shortfall_unit_chips: Bands | None = None  # per-trial max(demand - capacity, 0) quantiles
    shortfall_mean_unit_chips: np.ndarray | None = None
    demand_tokens_per_day_bands: Bands | None = None
    growth_note: str = ""
    samples: "Samples | None" = None


# ---- sampling ------------------------------------------------------------------------------

def sample(kind: str, low: float, mode: float, high: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` draws of one of DISTRIBUTIONS; a zero-width range gives the value without drawing."""
    if kind == "fixed" or high <= low:
        return np.full(n, float(mode if kind == "fixed" else low))
    if kind == "uniform":
        return rng.uniform(low, high, n)
    if kind == "triangular":
        return rng.triangular(low, mode, high, n)
    if kind == "beta":
        span = high - low
        a = 1.0 + 4.0 * (mode - low) / span
        b = 1.0 + 4.0 * (high - mode) / span
        return low + span * rng.beta(a, b, n)
    raise ValueError(f"unknown distribution {kind!r}")


def quantile(kind: str, low: float, mode: float, high: float, u: np.ndarray) -> np.ndarray:
    """The inverse CDF of one of DISTRIBUTIONS at probabilities `u` (same kinds as `sample`)."""
    u = np.asarray(u, dtype=float)
    if kind == "fixed":
        return np.full(u.shape, float(mode))
    if high <= low:
        return np.full(u.shape, float(low))
    span = high - low
    if kind == "uniform":
        return low + span * u
    if kind == "triangular":
        c = (mode - low) / span
        return np.where(u < c, low + np.sqrt(u * span * (mode - low)),
                        high - np.sqrt((1.0 - u) * span * (high - mode)))
    if kind == "beta":
        from scipy.special import betaincinv

        a = 1.0 + 4.0 * (mode - low) / span
        b = 1.0 + 4.0 * (high - mode) / span
        return low + span * betaincinv(a, b, u)
    raise ValueError(f"unknown distribution {kind!r}")


def _stream(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *key])))


def growth_normals(fit, seed: int, trials: int) -> np.ndarray:
    """The standard normals a fitted demand growth is drawn from (engine.forecast_demand.
    draw_log_growth): two for its parameters, and a third, from its own stream, for the points'
    unexplained scatter where the fit has one (so a fit without it draws as before, bit for bit).
    The forecast, the backtest and the sensitivity draw them alike."""
    from engine.forecast_demand import level_scatter_var

    z = _stream(seed, 5).standard_normal((trials, 2))
    if level_scatter_var(fit) > 0.0:
        z = np.hstack([z, _stream(seed, 5, 1).standard_normal((trials, 1))])
    return z


def _text_key(text: str) -> int:
    return zlib.crc32(text.strip().lower().encode("utf-8"))


def vendor_shocks(seed: int, vendor: str, trials: int) -> np.ndarray:
    """2 x trials standard normal scores of a vendor's common shock (fraction, delay)."""
    return _stream(seed, 1, _text_key(vendor or "")).standard_normal((2, trials))


def supply_key(order: Order) -> str:
    """Vendor, chip and order date: a contract's key before its buyer counted (`contract_stream_keys`)."""
    return f"{order.vendor}|{order.chip_id}|{order.order_date.isoformat() if order.order_date else ''}"


def contract_key(order: Order) -> str:
    """Rows of one contract (buyer, vendor, chip, order date) share their own noise and are read as
    one quantity: entering an order as many rows must not make it more certain. Without the buyer,
    another buyer's fully delivered order of the same day was pooled with this one (an undelivered
    50k 910B order drew 40% for 70%)."""
    return f"{(order.buyer or '').strip()}|{supply_key(order)}"


def contract_stream_keys(orders: Sequence[Order]) -> list[str]:
    """The key of each order's own-noise stream, in the order of `orders`: `supply_key` for the
    buyer of the lowest-id order of that vendor, chip and date, that key and the buyer for any
    other buyer. A fleet with one buyer per vendor, chip and date draws exactly what it drew before
    the buyer was part of the contract, and a new buyer's order leaves earlier orders' draws alone."""
    first_buyer: dict[int, str] = {}
    for order in sorted(orders, key=lambda o: o.id):
        first_buyer.setdefault(_text_key(supply_key(order)), (order.buyer or "").strip().lower())
    out = []
    for order in orders:
        key, buyer = supply_key(order), (order.buyer or "").strip().lower()
        out.append(key if buyer == first_buyer[_text_key(key)] else f"{key}|{buyer}")
    return out


_SCORE_GRID = np.linspace(-7.0, 7.0, 4001)
_QUANTILE_TABLES: dict[tuple, np.ndarray] = {}


def quantile_of_scores(kind: str, low: float, mode: float, high: float, z: np.ndarray) -> np.ndarray:
    """`quantile` at Phi(z), from a table over normal scores (interpolated; exact at the grid
    points, within 1e-4 of the range between them): the inverse beta CDF is slow on every draw."""
    if kind == "fixed" or high <= low:
        return quantile(kind, low, mode, high, np.zeros(np.shape(z)))
    key = (kind, float(low), float(mode), float(high))
    table = _QUANTILE_TABLES.get(key)
    if table is None:
        from scipy.special import ndtr

        table = quantile(kind, low, mode, high, np.clip(ndtr(_SCORE_GRID), 1e-15, 1 - 1e-15))
        if len(_QUANTILE_TABLES) > 256:
            _QUANTILE_TABLES.clear()
        _QUANTILE_TABLES[key] = table
    return np.interp(z, _SCORE_GRID, table)


def fraction_given_floor(unc: OrderUncertainty, scores: np.ndarray, floor: float) -> np.ndarray:
    """The fulfilled fraction at normal `scores` given that it is at least `floor`: the inverse
    CDF on the range above it, each trial at its own quantile there (so trials keep their streams
    and their order). A floor at or below the distribution's lowest value changes nothing."""
    from scipy.special import ndtr, ndtri

    kind, low, mode, high = unc.fraction_dist, unc.fraction_low, unc.fraction_mode, unc.fraction_high
    if kind == "fixed" or high <= low or floor >= high:   # nothing to draw above the floor
        return np.maximum(quantile_of_scores(kind, low, mode, high, scores), floor)
    table = quantile_of_scores(kind, low, mode, high, _SCORE_GRID)   # fraction at each score, non-decreasing
    u_floor = float(ndtr(np.interp(floor, table, _SCORE_GRID)))
    u = u_floor + ndtr(scores) * (1.0 - u_floor)
    return np.interp(ndtri(np.clip(u, 1e-15, 1.0 - 1e-15)), _SCORE_GRID, table)


def draw_fraction_delay(unc: OrderUncertainty, common: np.ndarray | None, own: np.ndarray | None,
                        trials: int, fraction_floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(fulfilled fraction, delay days) per trial; `common`/`own`: 2 x trials normal scores, or
    None for the median of each distribution (the source switched off). `fraction_floor`: the
    share known to have arrived already (`delivered_share_floor`); the fraction is drawn given it."""
    if common is None or own is None:
        z = np.zeros((2, trials))
    else:
        rho = min(max(float(unc.vendor_common_share), 0.0), 1.0)
        z = math.sqrt(rho) * common + math.sqrt(1.0 - rho) * own
    if fraction_floor > unc.fraction_low:
        drawn = fraction_given_floor(unc, z[0], float(fraction_floor))
    else:   # the unconditioned draw, bit for bit (the story's 30% of 100k is below Huawei's 40%)
        drawn = quantile_of_scores(unc.fraction_dist, unc.fraction_low, unc.fraction_mode, unc.fraction_high, z[0])
    fraction = np.clip(drawn, 0.0, 1.0)
    delay = quantile_of_scores(unc.delay_dist, unc.delay_low_days, unc.delay_mode_days, unc.delay_high_days, z[1])
    return fraction, delay + float(unc.extra_delay_days)


@dataclass(frozen=True)
class ContractTotals:
    """Ordered, delivered and outstanding chips of every row of one contract (`contract_key`)."""

    quantity: float
    delivered: float
    outstanding: float


def delivered_share_floor(unc: OrderUncertainty, contract: ContractTotals) -> float:
    """The share of the contract already delivered when the fraction is "of the order" (0 else, or
    with nothing outstanding): no trial may deliver less than what has arrived. Drawn blind and
    clipped, 90k of a 100k 910B order delivered against Huawei's 40-100% left every trial short of
    the last 10k, and 70k left half the trials adding nothing."""
    if unc.fraction_of != "order" or contract.outstanding <= 0 or contract.quantity <= 0:
        return 0.0
    return min(contract.delivered / contract.quantity, 1.0)


def contract_totals(orders: Sequence[Order]) -> dict[int, ContractTotals]:
    """Totals per contract, keyed as the contract's shared noise is (`_text_key(contract_key(...))`)."""
    sums: dict[int, list[float]] = {}
    for order in orders:
        total = sums.setdefault(_text_key(contract_key(order)), [0.0, 0.0, 0.0])
        total[0] += float(order.quantity)
        total[1] += float(order.delivered)
        total[2] += float(order.outstanding)
    return {key: ContractTotals(*total) for key, total in sums.items()}


def _draw_scale_and_delay(order: Order, unc: OrderUncertainty, trials: int, seed: int, index: int,
                          random: bool = True, vendor: str | None = None, common: np.ndarray | None = None,
                          contract: ContractTotals | None = None, stream_key: str | None = None):
    """(scale of the undelivered lots, delay days, the delay's normal scores) per trial.

    `common`: the vendor's shocks when the caller has them already (`vendor_shocks` of `vendor`).
    `contract`: the totals of the order's contract (`contract_totals`); None: the order alone.
    `stream_key`: the key of the contract's own noise (`contract_stream_keys`); None: `supply_key`."""
    # shocks common to every order of the vendor whose risk it carries (supply_vendor)
    if not random:
        common = None
    elif common is None:
        common = vendor_shocks(seed, order.vendor if vendor is None else vendor, trials)
    key = supply_key(order) if stream_key is None else stream_key
    own = _stream(seed, 2, _text_key(key)).standard_normal((2, trials)) if random else None
    if contract is None:
        contract = ContractTotals(float(order.quantity), float(order.delivered), float(order.outstanding))
    # what has arrived bounds the share "of the order" from below (`delivered_share_floor`)
    floor = delivered_share_floor(unc, contract)
    fraction, delay = draw_fraction_delay(unc, common, own, trials, fraction_floor=floor)
    # A fraction "of the order" is of the whole contract: a 100k order entered as a delivered 30k
    # row and an outstanding 70k row read each row on its own basis, so the 70k row was scaled by
    # the fraction alone (not (fraction x 100k - 30k) / 70k) and its spread narrowed and rose
    # (910B Dec 2025 P10 51.7k -> 64.8k). Every row scales its outstanding lots alike: its share.
    if unc.fraction_of == "order" and contract.outstanding > 0:
        scale = np.clip((fraction * contract.quantity - contract.delivered) / contract.outstanding, 0.0, 1.0)
    else:
        scale = fraction
    if common is None or own is None:
        scores = np.zeros(trials)
    else:
        rho = min(max(float(unc.vendor_common_share), 0.0), 1.0)
        scores = math.sqrt(rho) * common[1] + math.sqrt(1.0 - rho) * own[1]
    return scale, np.rint(delay).astype(np.int64), scores


# A lot later than this share of the profile's lots starts to be redrawn (delay_given_overdue).
REDRAW_FROM_QUANTILE = 0.9


def delay_given_overdue(unc: OrderUncertainty, scores: np.ndarray, overdue_days: float) -> np.ndarray:
    """Delay days per trial of a lot known to be `overdue_days` late already (due before the date
    deliveries are known to, and not delivered): the delay distribution given delay > overdue_days,
    at each trial's own quantile of it (so the order's lots stay comonotonic). Adding the whole
    delay again after the known date counted the lateness twice, and a delivery recorded on another
    order of the vendor (which moves that date) then pushed this order's lots a whole delay later.

    `extra_delay_days` comes on top, after that: the lateness conditions the drawn delay (what the
    distribution says about this lot), and the lot then ships the extra days after the date it
    would have without them, never before the as-of date (so `max(delay, overdue_days) + extra`).
    Every lot, overdue or not, thus ships exactly the extra days later than in the same trial
    without them. (Conditioning the drawn delay plus the extra on the lateness instead would let
    a lot 300 days overdue ship sooner with the extra days than without.)"""
    from scipy.special import ndtr, ndtri

    extra = float(unc.extra_delay_days)
    if extra:
        known = delay_given_overdue(replace(unc, extra_delay_days=0.0), scores, overdue_days)
        return np.rint(np.maximum(known, float(overdue_days)) + extra)
    kind, low, mode, high = unc.delay_dist, unc.delay_low_days, unc.delay_mode_days, unc.delay_high_days
    if kind == "fixed" or high <= low:
        # One certain delay is the limit of a narrowing range around it, and is read as that limit:
        # a lot no later than the delay still ships at its due date plus the delay; a lot later than
        # it is past the profile's maximum, so it is drawn the delay again after the known date. It
        # had shipped on the known date, so a fixed 90 days put a lot 151 days overdue 90 days
        # before a 89/90/91 triangle did (910B Apr 2025 P50 49.5k against 29.5k).
        certain = float(quantile_of_scores(kind, low, mode, high, np.zeros(1))[0])
        late_by = certain + float(overdue_days) if overdue_days > certain else certain
        return np.rint(np.full(np.shape(scores), late_by))
    table = quantile_of_scores(kind, low, mode, high, _SCORE_GRID)   # delay at each score, non-decreasing
    # P(delay <= overdue_days), read off the same table (interpolated between its scores)
    # Later than the profile allows, it no longer describes this lot, whose timing is no surer for
    # it: the lot is drawn the profile's delay again after the known date (each trial at its own
    # quantile). It shipped at the known date in every trial: 70,000 910B 426-516 days overdue
    # against a 365-day maximum all arrived within a month, P10 = P90. Conditioning alone squeezes
    # the lots in the profile's last tenth into the days left before its maximum, so from its 90th
    # percentile on the redraw takes over gradually (fully at the maximum): no jump in the arrival
    # between 364 and 366 days overdue, and no near-certain date just under the maximum.
    redraw = float(overdue_days) + np.interp(scores, _SCORE_GRID, table)
    if overdue_days >= table[-1]:
        return np.rint(redraw)
    if overdue_days < table[0]:
        u_known = 0.0
    else:
        u_known = float(ndtr(np.interp(overdue_days, table, _SCORE_GRID)))
    u = u_known + ndtr(scores) * (1.0 - u_known)
    z = ndtri(np.clip(u, 1e-15, 1.0 - 1e-15))
    conditioned = np.interp(z, _SCORE_GRID, table)
    weight = min(max((u_known - REDRAW_FROM_QUANTILE) / (1.0 - REDRAW_FROM_QUANTILE), 0.0), 1.0)
    return np.rint((1.0 - weight) * conditioned + weight * redraw)


def _cutoff_order(event: PolicyEvent) -> tuple:
    """Where a cut-off sorts among its chip's: by window, then chance, then duration (for good last)."""
    duration = math.inf if event.duration_months is None else float(event.duration_months)
    return (event.window_start, event.window_end, float(event.probability), duration)


def cutoff_ranks(events: Sequence[PolicyEvent]) -> list[int]:
    """Per cut-off, its rank among the cut-offs of the same chip (chip ids compared as the stream
    key reads them), in `_cutoff_order`: with the chip it keys the cut-off's random stream.

    Keyed on its place in the list, a cut-off's draws moved when one for another chip was put
    before it (its P(meet) changed though nothing about it did). Now adding, removing or reordering
    another chip's cut-off leaves them as they are, and a chip's only cut-off (the one a scenario
    may hold) is rank 0, the stream the first cut-off of a list always had."""
    by_chip: dict[int, list[int]] = {}
    for k, event in enumerate(events):
        by_chip.setdefault(_text_key(event.chip_id), []).append(k)
    ranks = [0] * len(events)
    for members in by_chip.values():
        for rank, k in enumerate(sorted(members, key=lambda k: _cutoff_order(events[k]))):
            ranks[k] = rank
    return ranks


def draw_policy(event: PolicyEvent, rank: int, seed: int, trials: int, random: bool = True):
    """(start, end) ordinals per trial of a cut-off; +inf start where it does not happen.

    `rank`: its place among its own chip's cut-offs (`cutoff_ranks`). Whether it happens is a
    uniform below `probability`, so a higher chance keeps each trial's uniforms and adds trials
    (common random numbers: P(occurs) never falls as the probability rises)."""
    lo, hi = event.window_start.toordinal(), event.window_end.toordinal()
    rng = _stream(seed, 3, _text_key(event.chip_id), rank)
    if random:
        occurs = rng.random(trials) < event.probability
        start = lo + np.floor(rng.random(trials) * (hi - lo + 1))
    else:  # switched off: the more likely outcome, at the window's middle
        occurs = np.full(trials, event.probability >= 0.5)
        start = np.full(trials, float((lo + hi) // 2))
    start = np.where(occurs, start, np.inf)
    if event.duration_months is None:
        end = np.where(occurs, np.inf, np.inf)
    else:
        end = start + float(event.duration_months) * DAYS_PER_YEAR / 12.0
    return start, end


# ---- supply --------------------------------------------------------------------------------

def _add_months(day: dt.date, k: int) -> dt.date:
    y, m = divmod(day.month - 1 + k, 12)
    return dt.date(day.year + y, m + 1, 1)


def resolve_as_of(orders: Sequence[Order], scenario: ForecastScenario, order: Order | None = None) -> dt.date:
    """The date up to which deliveries are known (`as_of_and_source`)."""
    return as_of_and_source(orders, scenario, order)[0]


def as_of_and_source(orders: Sequence[Order], scenario: ForecastScenario,
                     order: Order | None = None) -> tuple[dt.date, str]:
    """The date up to which deliveries are known, and where it comes from in words: the scenario's,
    else the latest delivery recorded from the same vendor as `order` (another vendor's records say
    nothing about this one's shipments), else the latest of all, else the start."""
    return AsOfLookup(orders, scenario)(order)


class AsOfLookup:
    """`as_of_and_source` for many orders of one fleet: the latest delivery per vendor and overall
    is found once. Asked per order, the scan of every order's deliveries made the notes and the
    supply loop quadratic (2,003 orders spent minutes there)."""

    def __init__(self, orders: Sequence[Order], scenario: ForecastScenario):
        self.scenario = scenario
        # vendor names compared as everywhere else: without case ("huawei" is Huawei)
        self.latest_by_vendor: dict[str, dt.date] = {}
        self.latest: dt.date | None = None
        for o in orders:
            if not o.deliveries:
                continue
            last = max(d.date for d in o.deliveries)
            vendor = (o.vendor or "").strip().lower()
            known = self.latest_by_vendor.get(vendor)
            self.latest_by_vendor[vendor] = last if known is None else max(known, last)
            self.latest = last if self.latest is None else max(self.latest, last)

    def __call__(self, order: Order | None = None) -> tuple[dt.date, str]:
        scenario = self.scenario
        if scenario.as_of is not None:
            return scenario.as_of, "the scenario's 'as of' date"
        if order is not None:
            same_vendor = self.latest_by_vendor.get((order.vendor or "").strip().lower())
            if same_vendor is not None:
                return same_vendor, f"{order.vendor}'s latest recorded delivery"
        if self.latest is not None:
            who = f": {order.vendor} has none" if order is not None else ""
            return self.latest, f"the latest delivery recorded from any vendor{who}"
        if order is not None:
            # nothing recorded from anyone: what is known is the order itself. The forecast's first
            # month stood here, so --start 2026-01 made a 2025 order's chips overdue and moved them
            # (Jun 2026: 831 installed from --start 2025-01, 0 from --start 2026-01)
            return order.order_date, "its order date: no delivery is recorded"
        return scenario.start, "the forecast's first month: no delivery is recorded"


def _efficiency_note(scenario: ForecastScenario, serving_tput: Mapping[str, float]) -> tuple[str, ...]:
    """The rates the figures use when the Serving efficiency field scales the engine's (the notes
    above name the engine's own: 'h800 900' where the forecast counted 450 at x0.5)."""
    if scenario.serving_efficiency_scale == 1.0 or not serving_tput:
        return ()
    rates = ", ".join(f"{chip} {v:.4g}" for chip, v in serving_tput.items())
    return (f"serving efficiency x{scenario.serving_efficiency_scale:g} applied: the forecast counts {rates} "
            "output tokens/s per chip",)


def idle_job_notes(scenario: ForecastScenario, months: Sequence[dt.date]) -> tuple[str, ...]:
    """One line per training job on a chip whose training share is 0 in every month: it gets no
    chips, so it never finishes (an 8B job on the H20, which the story keeps for serving, read
    "0% within the horizon" with 80,000 H20 installed and no reason)."""
    return tuple(f"job '{job.name}' trains on {job.chip_id}, whose training share is 0% in every month of the "
                 "scenario: it gets no chips and never finishes; give that chip a training share (Allocation) "
                 "or move the job to a training chip"
                 for job in scenario.jobs if not np.any(scenario.allocation.share(job.chip_id, months) > 0))


def own_risk_notes(orders: Sequence[Order], scenario: ForecastScenario,
                   maker_by_chip: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """One line per order with a delivery risk of its own while its vendor (or chip maker) has a
    profile too: the order's wins, so an edit of the vendor's profile, or a what-if such as "Huawei
    delivers half", does not reach it. A baseline that set order 1's risk made both Huawei what-ifs
    identical to it, without a word."""
    out = []
    names = {n.lower(): n for n in scenario.vendor_uncertainty}
    for order in sorted(orders, key=lambda o: o.id):
        if order.id not in scenario.order_uncertainty or order.outstanding <= 0:
            continue
        who = supply_vendor(order.vendor, scenario.vendor_uncertainty,
                            maker_by_chip.get(order.chip_id) if maker_by_chip else None)
        if who.lower() in names:
            out.append(f"order {order.id} ({order.chip_id}) has a delivery risk of its own: {names[who.lower()]}'s "
                       "profile, and any what-if of it, does not apply to it")
    return tuple(out)


def unreached_vendor_notes(changed_keys, orders: Sequence[Order], scenario: ForecastScenario,
                           maker_by_chip: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """One line per vendor a what-if changes the profile of (`changed_keys`: its changes' dotted
    keys, "vendor_uncertainty.Huawei.fraction_mode") where that profile reaches none of the orders
    it would supply: each outstanding one has a delivery risk of its own (`own_risk_notes`). Compare
    had listed "Huawei delivers half" as "70% -> 50%" beside differences of 0 in every figure (QA
    s40)."""
    changed = {str(k).split(".")[1].lower() for k in changed_keys
               if str(k).startswith("vendor_uncertainty.")}
    names = {n.lower(): n for n in scenario.vendor_uncertainty}
    supplied: dict[str, list[Order]] = {}
    for order in orders:
        if order.outstanding <= 0:
            continue
        who = supply_vendor(order.vendor, scenario.vendor_uncertainty,
                            maker_by_chip.get(order.chip_id) if maker_by_chip else None).lower()
        supplied.setdefault(who, []).append(order)
    out = []
    for who in sorted(changed & set(names)):
        mine = sorted(supplied.get(who, ()), key=lambda o: o.id)
        if mine and all(o.id in scenario.order_uncertainty for o in mine):
            ids = ", ".join(str(o.id) for o in mine)
            out.append(f"{names[who]}'s changes move nothing here: every outstanding {names[who]} order "
                       f"(order{'s' if len(mine) > 1 else ''} {ids}) has a delivery risk of its own, which wins")
    return tuple(out)


def unscheduled_notes(orders: Sequence[Order], scenario: ForecastScenario) -> tuple[str, ...]:
    """One line per order with chips that have no promised date: when the forecast assumes they
    come (an order added without a schedule read as delivered from a date nobody saw)."""
    out = []
    as_of_for = AsOfLookup(orders, scenario)
    for order in sorted(orders, key=lambda o: o.id):
        promised = sum(float(lot.quantity) for lot in order.promised)
        unscheduled = float(order.outstanding) - max(promised - float(order.delivered), 0.0)
        if unscheduled <= 1e-9:
            continue
        as_of, _known = as_of_for(order)
        first = unscheduled_start(order, as_of)
        out.append(f"order {order.id} ({order.chip_id}): {unscheduled:,.0f} chips have no promised date; assumed "
                   f"to arrive evenly over {scenario.unscheduled_spread_months} months from {first:%Y-%m} (at least "
                   f"{UNSCHEDULED_LEAD_MONTHS} months after the order, and after the deliveries known to "
                   f"{as_of:%Y-%m-%d}); add its schedule in the Fleet view")
    return tuple(out)


def overdue_notes(orders: Sequence[Order], scenario: ForecastScenario,
                  maker_by_chip: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """One line per order with lots due before the date its deliveries are known to and not
    delivered: they are counted as late, which is why a delivery recorded on another order of the
    same vendor (it moves that date) can move this order's lots later."""
    out = []
    as_of_for = AsOfLookup(orders, scenario)
    for order in sorted(orders, key=lambda o: o.id):
        as_of, known = as_of_for(order)
        lots = [(due, q) for due, q in outstanding_lots(order, as_of, scenario.unscheduled_spread_months, floor=False)
                if due < as_of]
        late = sum(q for _, q in lots)
        if late > 0:
            unc = scenario.uncertainty_for(order, maker_by_chip.get(order.chip_id) if maker_by_chip else None)
            # the rule of delay_given_overdue: past a range's maximum (from it on), past a certain
            # delay (a fixed one, or a range of no width) once later than it
            certain = unc.delay_dist == "fixed" or unc.delay_high_days <= unc.delay_low_days
            high = (unc.delay_mode_days if unc.delay_dist == "fixed" else unc.delay_low_days) if certain \
                else unc.delay_high_days
            past = sum(q for due, q in lots if ((as_of - due).days > high if certain else (as_of - due).days >= high))
            what = f"the profile's {'fixed' if certain else 'maximum'} delay ({high:g} days)"
            beyond = (f"; {past:,.0f} of them are later than {what}, so they "
                      f"are drawn that delay again after {as_of:%Y-%m-%d}" if past > 0 else "")
            out.append(f"order {order.id} ({order.chip_id}): {late:,.0f} chips due before {as_of:%Y-%m-%d} ({known}) "
                       "are not recorded as delivered, so they are counted as late: their promised dates plus the "
                       f"vendor's delay given that lateness{beyond}")
    return tuple(out)


def delivered_as_promised(unc: OrderUncertainty) -> bool:
    """Whether `unc` delivers every order in full and on time (P10 = P50 = P90 of its orders)."""
    return (unc.fraction_dist == "fixed" and unc.fraction_mode >= 1.0 and unc.delay_dist == "fixed"
            and unc.delay_mode_days == 0 and unc.extra_delay_days == 0)


def _few(items, shown: int = 5) -> str:
    """'a, b, c' or, past `shown`, 'a, b, c, d, e and 95 more'."""
    items = list(items)
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"


def no_profile_notes(orders: Sequence[Order], scenario: ForecastScenario,
                     maker_by_chip: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """One line per vendor whose outstanding orders carry no delivery risk: no profile for the
    vendor nor its chips' maker, no risk of their own, and a default that delivers in full and on
    time. A Cambricon order read P10 = P50 = P90 with a note that named neither it nor the fix.
    (A scenario whose default has a risk gives these orders the default's: no line then.)"""
    if not delivered_as_promised(scenario.default_uncertainty):
        return ()
    profiles = {name.lower() for name in scenario.vendor_uncertainty}
    by_vendor: dict[str, list[Order]] = {}
    for order in sorted(orders, key=lambda o: o.id):
        maker = maker_by_chip.get(order.chip_id) if maker_by_chip else None
        if order.outstanding <= 0 or order.id in scenario.order_uncertainty or \
                supply_vendor(order.vendor, scenario.vendor_uncertainty, maker).lower() in profiles:
            continue
        # one line per vendor however its name is cased ("Cambricon" and "cambricon" made two)
        by_vendor.setdefault((order.vendor or "").strip().lower(), []).append(order)
    out = []
    for held in by_vendor.values():
        vendor = (held[0].vendor or "").strip()   # as the first order spells it
        # a few ids and chips, then a count: 100 orders of one vendor made a line of 100 ids
        ids = _few(str(o.id) for o in held)
        chips = _few(dict.fromkeys(o.chip_id for o in held))
        many = len(held) > 1
        out.append(f"NO DELIVERY RISK: {vendor or '(no vendor)'} order{'s' if many else ''} {ids} ({chips}, "
                   f"{sum(o.outstanding for o in held):,} chips outstanding) {'are' if many else 'is'} forecast in "
                   "full and on time "
                   f"(P10 = P50 = P90): no profile for {vendor or 'a blank vendor'}; add one under Delivery "
                   f"uncertainty (vendor_uncertainty.{vendor or '<vendor>'}) or set a default")
    return tuple(out)


def contract_notes(orders: Sequence[Order], scenario: ForecastScenario,
                   maker_by_chip: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Per contract (`contract_key`) with chips outstanding: a line when several rows are read as
    one contract (one draw, one quantity), and a line when more has arrived than the profile's
    lowest share of the order (the share is then drawn given what has arrived)."""
    rows: dict[int, list[Order]] = {}
    for order in sorted(orders, key=lambda o: o.id):
        rows.setdefault(_text_key(contract_key(order)), []).append(order)
    totals = contract_totals(orders)
    out = []
    for key, members in rows.items():
        total = totals[key]
        if total.outstanding <= 0:
            continue
        first = members[0]
        ids = ", ".join(str(o.id) for o in members)
        if len(members) > 1:
            out.append(f"orders {ids} ({first.buyer or 'no buyer'}, {first.vendor} {first.chip_id}, ordered "
                       f"{first.order_date:%Y-%m-%d}) are read as one contract of {total.quantity:,.0f} chips "
                       f"({total.delivered:,.0f} delivered): one delivery draw for them all")
        unc = scenario.uncertainty_for(next(o for o in members if o.outstanding > 0),
                                       maker_by_chip.get(first.chip_id) if maker_by_chip else None)
        floor = delivered_share_floor(unc, total)
        lowest = unc.fraction_mode if unc.fraction_dist == "fixed" else unc.fraction_low
        if floor > lowest:
            highest = unc.fraction_mode if unc.fraction_dist == "fixed" else unc.fraction_high
            what = ((f"the profile's fixed share ({highest:.0%})" if unc.fraction_dist == "fixed" else
                     f"the profile's highest share ({highest:.0%})") + " is no more, so no more arrive"
                    if unc.fraction_dist == "fixed" or floor >= unc.fraction_high else
                    f"the share delivered is drawn from {floor:.0%} up (the profile's {lowest:.0%} to "
                    f"{unc.fraction_high:.0%}, given what arrived)")
            out.append(f"order{'s' if len(members) > 1 else ''} {ids} ({first.chip_id}): {total.delivered:,.0f} of "
                       f"{total.quantity:,.0f} delivered, more than the lowest share of the order its delivery "
                       f"risk allows; {what}")
    return tuple(out)


def _lowest_delay_days(unc: OrderUncertainty) -> float:
    """The earliest a profile may ship a lot, in days after its due date (extra days included)."""
    low = unc.delay_mode_days if unc.delay_dist == "fixed" else min(unc.delay_low_days, unc.delay_mode_days)
    return float(low) + float(unc.extra_delay_days)


def early_delay_notes(orders: Sequence[Order], scenario: ForecastScenario,
                      maker_by_chip: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """One line per order whose profile's negative delay would ship undelivered lots before the
    date its deliveries are known to: they are counted from that date at the earliest
    (`_floored_lot_rows`), so a what-if of "60 days early" moves less than it says."""
    out = []
    as_of_for = AsOfLookup(orders, scenario)
    for order in sorted(orders, key=lambda o: o.id):
        if order.outstanding <= 0:
            continue
        unc = scenario.uncertainty_for(order, maker_by_chip.get(order.chip_id) if maker_by_chip else None)
        earliest = _lowest_delay_days(unc)
        if earliest >= 0:
            continue
        as_of, _known = as_of_for(order)
        # (lots overdue already ship on the as-of date at the earliest anyway: overdue_notes)
        lots = outstanding_lots(order, as_of, scenario.unscheduled_spread_months, floor=False)
        early = sum(q for due, q in lots if due >= as_of and due.toordinal() + earliest < as_of.toordinal())
        if early > 0:
            out.append(f"order {order.id} ({order.chip_id}): a delay down to {earliest:g} days would ship "
                       f"{early:,.0f} undelivered chips before {as_of:%Y-%m-%d}, the date its deliveries are "
                       "known to; they are counted from that date at the earliest")
    return tuple(out)


# The lead time of chips ordered with no promised dates (the plan's default lead for a candidate
# chip with none of its own, resources/plan_candidates.csv).
UNSCHEDULED_LEAD_MONTHS = 3


def unscheduled_start(order: Order, as_of: dt.date) -> dt.date:
    """The first month an order's chips with no promised date are assumed to come."""
    return max(_add_months(as_of, 1), _add_months(order.order_date, UNSCHEDULED_LEAD_MONTHS))


def outstanding_lots(order: Order, as_of: dt.date, spread_months: int,
                     floor: bool = True) -> list[tuple[dt.date, float]]:
    """The undelivered part of an order as (due date, chips), due dates not before `as_of` (with
    `floor` False, an overdue lot keeps its promised date: the forecast dates it from there)."""
    delivered = float(order.delivered)
    lots = []
    for lot in sorted(order.promised, key=lambda lot: lot.due_date):
        take = min(delivered, float(lot.quantity))  # deliveries fill the earliest lots first
        delivered -= take
        if lot.quantity - take > 0:
            lots.append((max(lot.due_date, as_of) if floor else lot.due_date, float(lot.quantity) - take))
    remainder = float(order.outstanding) - sum(q for _, q in lots)
    if remainder > 1e-9:
        n = max(int(spread_months), 1)
        # never before a lead time after the order: an order placed Nov 2026 with no dates was
        # spread from the vendor's last delivery, installed from Feb 2025, and cut the story's plan
        # from $732M to $60M
        first = unscheduled_start(order, as_of)
        lots += [(_add_months(first, k), remainder / n) for k in range(n)]
    elif remainder < -1e-9:  # promised more than ordered: trim the latest lots
        excess = -remainder
        for i in range(len(lots) - 1, -1, -1):
            cut = min(excess, lots[i][1])
            lots[i] = (lots[i][0], lots[i][1] - cut)
            excess -= cut
        lots = [lot for lot in lots if lot[1] > 0]
    return lots


def _survival(age_days: np.ndarray, scenario: ForecastScenario) -> np.ndarray:
    """Share of chips still installed `age_days` after they became ready (0 before that)."""
    age = np.asarray(age_days, dtype=float)
    alive = age >= 0
    if scenario.annual_failure_rate > 0:
        surv = np.power(1.0 - scenario.annual_failure_rate, np.maximum(age, 0.0) / DAYS_PER_YEAR)
    else:
        surv = np.ones_like(age)
    if scenario.lifetime_years is not None:
        alive &= age < scenario.lifetime_years * DAYS_PER_YEAR
    return np.where(alive, surv, 0.0)


def _installed_curve(ready_ordinals: Sequence[float], quantities: Sequence[float], days: np.ndarray,
                     scenario: ForecastScenario) -> np.ndarray:
    """Chips installed on each of `days` (ordinals) from lots ready on `ready_ordinals`."""
    out = np.zeros(len(days))
    for ready, qty in zip(ready_ordinals, quantities):
        out += qty * _survival(days - ready, scenario)
    return out


def order_installed(order: Order, scenario: ForecastScenario, months: Sequence[dt.date], as_of: dt.date,
                    scale: np.ndarray, delay_days: np.ndarray,
                    cutoff: tuple[np.ndarray, np.ndarray] | None = None,
                    overdue_delay: Callable[[float], np.ndarray] | None = None,
                    into: np.ndarray | None = None) -> np.ndarray:
    """Trials x months chips installed from one order, given per-trial scale and integer delay.

    `cutoff`: per-trial (start, end) ordinals of an export-licence cut-off; undelivered lots that
    would ship in [start, end) are lost.
    A lot due before `as_of` and not delivered is known to be late: it ships on its due date plus
    `overdue_delay(days overdue)` (per trial; the delay given that it is that late), and never
    before `as_of`. Without `overdue_delay`, plus the trial's delay, floored at `as_of`.
    `into`: a trials x months array the chips are added to (and returned); else a new one.
    """
    month_ord = np.array([m.toordinal() for m in months], dtype=np.int64)
    lag = float(scenario.install_lag_days)
    delivered = _installed_curve([d.date.toordinal() + lag for d in order.deliveries],
                                 [float(d.quantity) for d in order.deliveries], month_ord.astype(float),
                                 scenario)
    every = outstanding_lots(order, as_of, scenario.unscheduled_spread_months, floor=False)
    overdue = [(day, qty) for day, qty in every if day < as_of]
    lots = sorted((day, qty) for day, qty in every if day >= as_of)
    late_part: tuple[np.ndarray, np.ndarray] | None = None  # (rows, row of each trial)
    if overdue:
        trials = max(len(scale), len(delay_days))
        ships, kept = [], []
        for due_day, qty in overdue:
            gap = float(as_of.toordinal() - due_day.toordinal())
            late_by = overdue_delay(gap) if overdue_delay is not None else delay_days
            ship = np.maximum(due_day.toordinal() + np.broadcast_to(late_by, (trials,)).astype(float),
                              float(as_of.toordinal()))
            ships.append(ship)
            if cutoff is not None:
                start, end = cutoff
                kept.append(~((ship >= start) & (ship < end)))
        # Ship days are whole days and a cut-off keeps or loses a lot: trials agreeing on both for
        # every overdue lot share one row, computed once (the survival over every trial x month
        # took most of a 2,000-order forecast). Each row adds the lots in the same order as before.
        keys = np.column_stack(ships + [k.astype(float) for k in kept])
        _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        late_rows = np.zeros((len(first), len(months)))
        for j, (_due, qty) in enumerate(overdue):
            # the survival once per ship day of this lot (a cut-off multiplies many trials' rows)
            days, at = np.unique(ships[j][first], return_inverse=True)
            got = (qty * _survival(month_ord[None, :] - (days[:, None] + lag), scenario))[at.reshape(-1)]
            if cutoff is not None:
                got *= kept[j][first][:, None]
            late_rows += got
        late_part = (late_rows, inv.reshape(-1))
    trials = max(len(scale), len(delay_days))
    if into is None:
        into = np.zeros((trials, len(months)))
    if not lots and late_part is None:
        into += delivered[None, :]
        return into
    rows: np.ndarray | None = None
    # Tabulate the undelivered lots' curve on every day a delayed month start can map to; trials
    # sharing a delay (and cut-off lots) share a row, so the per-trial work is one row gather.
    if lots:
        # no lot ships before the as-of date, nor before its order (one dated after the as-of
        # date: a plan's orders, imported, drew as the plan did only with this; s26 QA)
        floor = max(as_of, order.order_date or as_of)
        rows, inv = _lot_rows(lots, scenario, month_ord, lag, delay_days, cutoff, floor.toordinal())
    _add_rows(into, rows, inv if rows is not None else None, np.broadcast_to(scale, (trials,)), delivered, late_part)
    return into


def _lot_rows(lots: list[tuple[dt.date, float]], scenario: ForecastScenario, month_ord: np.ndarray, lag: float,
              delay_days: np.ndarray, cutoff: tuple[np.ndarray, np.ndarray] | None,
              as_of_ordinal: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The installed curve of lots due on or after the as-of date, one row per distinct (delay,
    cut-off) outcome, and each trial's row (`order_installed`). `as_of_ordinal`: no lot ships
    before it (a negative delay brings a lot forward to the as-of date at the earliest)."""
    if as_of_ordinal is not None and lots and delay_days.size and \
            lots[0][0].toordinal() + int(delay_days.min()) < as_of_ordinal:   # lots come sorted by due date
        return _floored_lot_rows(lots, scenario, month_ord, lag, delay_days, cutoff, as_of_ordinal)
    lo = int(month_ord[0] - delay_days.max())
    hi = int(month_ord[-1] - delay_days.min())
    days = np.arange(lo, hi + 1)
    if cutoff is None:
        curve = _installed_curve([d.toordinal() + lag for d, _ in lots], [q for _, q in lots],
                                 days.astype(float), scenario)
        uniq, inv = np.unique(delay_days, return_inverse=True)
        rows = curve[month_ord[None, :] - uniq[:, None] - lo]
    else:
        # Prefix curves: row k holds the first k lots (by due date); the lots lost to a cut-off
        # are a contiguous run [k1, k2) of them (a lot ships on its due date + the delay).
        due = np.array([d.toordinal() for d, _ in lots], dtype=float)
        prefix = np.zeros((len(lots) + 1, len(days)))
        for k, (d, q) in enumerate(lots):
            prefix[k + 1] = prefix[k] + q * _survival(days - (d.toordinal() + lag), scenario)
        start, end = cutoff
        k1 = np.searchsorted(due, start - delay_days, side="left")
        k2 = np.maximum(np.searchsorted(due, end - delay_days, side="left"), k1)
        key = (delay_days - delay_days.min()) * (len(lots) + 1) ** 2 + k1 * (len(lots) + 1) + k2
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        idx = month_ord[None, :] - delay_days[first][:, None] - lo
        rows = prefix[len(lots)][idx] - prefix[k2[first][:, None], idx] + prefix[k1[first][:, None], idx]
    return rows, inv.ravel()


def _floored_lot_rows(lots: list[tuple[dt.date, float]], scenario: ForecastScenario, month_ord: np.ndarray,
                      lag: float, delay_days: np.ndarray, cutoff: tuple[np.ndarray, np.ndarray] | None,
                      as_of_ordinal: int) -> tuple[np.ndarray, np.ndarray]:
    """`_lot_rows` where some trial's delay would ship a lot before the as-of date: those lots (the
    first k by due date) ship on the as-of date instead, the rest at due date + delay. A delay of
    -60 days put chips not yet delivered into months already past (910B P50 29,974 installed on 1
    Sep 2024 against 9,985 recorded), and -200 days installed them before the first delivery."""
    n = len(lots)
    if cutoff is not None:   # one delay for every trial (a promised curve) meets per-trial cut-offs
        delay_days = np.broadcast_to(delay_days, np.broadcast(delay_days, cutoff[0]).shape)
    due = np.array([d.toordinal() for d, _ in lots], dtype=float)
    qty_before = np.concatenate([[0.0], np.cumsum([q for _, q in lots])])   # chips of the first k lots
    k = np.searchsorted(due, as_of_ordinal - delay_days, side="left")   # lots due + delay < as-of
    lo = int(month_ord[0] - delay_days.max())
    hi = int(month_ord[-1] - delay_days.min())
    days = np.arange(lo, hi + 1)
    prefix = np.zeros((n + 1, len(days)))   # row j: the first j lots at their due dates
    for j, (d, q) in enumerate(lots):
        prefix[j + 1] = prefix[j] + q * _survival(days - (d.toordinal() + lag), scenario)
    if cutoff is None:
        k1 = k2 = k
        floor_lost = np.zeros(len(delay_days), dtype=bool)
    else:   # lots lost to the cut-off: a run [k1, k2) of those shipping late; the floored ones together
        start, end = cutoff
        k1 = np.maximum(np.searchsorted(due, start - delay_days, side="left"), k)
        k2 = np.maximum(np.searchsorted(due, end - delay_days, side="left"), k1)
        floor_lost = (as_of_ordinal >= start) & (as_of_ordinal < end)
    key = np.column_stack([delay_days, k, k1, k2, floor_lost]).astype(np.int64)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    idx = month_ord[None, :] - delay_days[first][:, None] - lo
    shifted = prefix[n][idx] - prefix[k[first][:, None], idx] - prefix[k2[first][:, None], idx] \
        + prefix[k1[first][:, None], idx]
    at_as_of = _survival(month_ord - (as_of_ordinal + lag), scenario)
    floored = qty_before[k[first]] * ~floor_lost[first]
    return shifted + floored[:, None] * at_as_of[None, :], inv.reshape(-1)


# Trials per block when per-trial rows are summed (`_add_rows`): a block of each array (this many
# months x trials elements) stays in the cache through every step instead of streaming trials x
# months arrays through memory several times per order.
_BLOCK_ELEMENTS = 1 << 15


def _add_rows(into: np.ndarray, rows: np.ndarray | None, inv: np.ndarray | None, scale: np.ndarray,
              delivered: np.ndarray, late: tuple[np.ndarray, np.ndarray] | None) -> None:
    """`into` += rows[inv] x scale + delivered + late rows x scale, per trial, block by block.

    Each element takes the same steps in the same order as the whole-array form (the gather, times
    the trial's scale, plus the delivered chips, plus the overdue lots' part times the scale), so
    the sums are the same to the bit."""
    trials, n_months = into.shape
    step = max(1, _BLOCK_ELEMENTS // max(n_months, 1))
    part = np.empty((min(step, trials), n_months))
    late_part = np.empty_like(part) if late is not None else None
    for lo in range(0, trials, step):
        hi = min(lo + step, trials)
        block = part[:hi - lo]
        factor = scale[lo:hi, None]
        if rows is not None and inv is not None:
            np.take(rows, inv[lo:hi], axis=0, out=block, mode="clip")  # indices valid: no buffered copy
            block *= factor
            block += delivered[None, :]
        else:
            block[...] = delivered[None, :]
        if late is not None and late_part is not None:
            late_block = late_part[:hi - lo]
            np.take(late[0], late[1][lo:hi], axis=0, out=late_block, mode="clip")
            late_block *= factor
            block += late_block
        into[lo:hi] += block


def deterministic_installed(orders: Sequence[Order], scenario: ForecastScenario, fraction_scale: Mapping[int, float],
                            delay_days: Mapping[int, int]) -> dict[str, np.ndarray]:
    """Installed chips per chip type for one fixed draw per order, computed lot by lot.

    An independent path (no tabulation, no gather) used to check the Monte Carlo: each lot adds
    its surviving chips at each month start. `fraction_scale` / `delay_days` are keyed by order id
    (scale of the undelivered lots; defaults 1 and 0).
    """
    months = month_starts(scenario.start, scenario.months)
    out: dict[str, np.ndarray] = {}
    for order in orders:
        as_of = resolve_as_of(orders, scenario, order)
        series = out.setdefault(order.chip_id, np.zeros(len(months)))
        s = fraction_scale.get(order.id, 1.0)
        d = delay_days.get(order.id, 0)
        for i, month in enumerate(months):
            t = month.toordinal()
            for delivery in order.deliveries:
                series[i] += delivery.quantity * float(_survival(
                    np.array(t - (delivery.date.toordinal() + scenario.install_lag_days)), scenario))
            for due, qty in outstanding_lots(order, as_of, scenario.unscheduled_spread_months, floor=False):
                # an overdue lot: its own delay, and not before the date deliveries are known to
                ready = max(due.toordinal() + d, as_of.toordinal(),
                            (order.order_date or as_of).toordinal()) + scenario.install_lag_days
                series[i] += s * qty * float(_survival(np.array(t - ready), scenario))
    return out


# ---- demand --------------------------------------------------------------------------------

# Said wherever a forecast with no demand points would read "covers demand": its demand is 0 in every
# month, so P(meet demand) is 100% with nothing to meet (QA s36: a planner who deleted or mis-imported
# the points read "P(meet demand) 100%" and no warning)
NO_DEMAND_WORDS = ("no demand to meet: demand is 0 in every month (no demand points, or demand scaled to 0), so "
                   "P(meet demand) is 100% with nothing to meet")


def demand_tokens_per_day(curve: DemandCurve, days: Sequence[dt.date]) -> np.ndarray:
    """Average tokens/day on each of `days` (before `scale`)."""
    t = np.array([d.toordinal() for d in days], dtype=float)
    pts = sorted(curve.points, key=lambda p: p.date)
    if not pts:
        return np.zeros(len(t))
    x = np.array([p.date.toordinal() for p in pts], dtype=float)
    y = np.log(np.array([p.tokens_per_day for p in pts], dtype=float))
    m = float(curve.growth_rate_multiplier)   # the what-if's pace after the last point (DemandCurve)
    after = t > x[-1]
    if curve.kind == "piecewise":
        log_n = np.interp(t, x, y)
        log_n[after] = y[-1] + np.log(curve.growth_after_last_per_year) * m * (t[after] - x[-1]) / DAYS_PER_YEAR
        return np.exp(log_n)

    def faster(arg: np.ndarray, rate: float) -> np.ndarray:
        # the fit's own line up to the last point, m times its slope after it (untouched at m = 1,
        # so a scenario without the what-if reads bit for bit as before)
        return arg if m == 1.0 else np.where(after, arg + (m - 1.0) * rate * (t - x[-1]), arg)

    if curve.kind == "exponential":
        if len(pts) < 2:
            return np.full(len(t), math.exp(y[0]))
        slope, intercept = np.polyfit(x - x[0], y, 1)
        return np.exp(faster(intercept + slope * (t - x[0]), slope))
    if curve.kind == "logistic":
        assert curve.ceiling_tokens_per_day is not None  # validate_scenario requires one for logistic
        k = float(curve.ceiling_tokens_per_day)
        n = np.exp(y)
        logit = np.log(n / (k - n))
        if len(pts) < 2:
            return np.full(len(t), n[0])
        rate, intercept = np.polyfit(x - x[0], logit, 1)
        return k / (1.0 + np.exp(-faster(intercept + rate * (t - x[0]), rate)))
    raise ValueError(f"unknown demand curve {curve.kind!r}")


def peak_output_tokens_per_s(curve: DemandCurve, tokens_per_day: np.ndarray) -> np.ndarray:
    """Output tokens/s at peak: average rate x peak-to-average x the output share of tokens."""
    return tokens_per_day * curve.scale * curve.peak_to_average * curve.output_fraction / SECONDS_PER_DAY


# ---- training jobs -------------------------------------------------------------------------

def _throughput_table(source: TrainingThroughput, model_id: str, chip_id: str, max_chips: float) -> ThroughputTable:
    if callable(source):
        sizes = [2 ** k for k in range(0, max(int(math.ceil(math.log2(max(max_chips, 1.0)))), 0) + 1)]
        values = [float(source(model_id, chip_id, n)) for n in sizes]
        return ThroughputTable(tuple(float(n) for n in sizes), tuple(values))
    table = source.get((model_id, chip_id))
    if table is None:
        raise ValidationError([f"training throughput: none given for model {model_id!r} on chip {chip_id!r}"],
                              "forecast inputs")
    return table


def _quantile_dates(ordinals: np.ndarray, q: float) -> dt.date | None:
    value = float(np.quantile(ordinals, q, method="inverted_cdf"))
    if not math.isfinite(value):
        return None
    return dt.date.fromordinal(int(math.floor(value)))


# What the jobs table and the JSON say for a job whose P(done by the deadline) is not known.
DEADLINE_AFTER_HORIZON = "deadline after the horizon; extend the horizon"


def prob_done_by_deadline(done_ordinals: np.ndarray, deadline: dt.date | None,
                          horizon_end_ordinal: float) -> float | None:
    """Share of trials done by `deadline` (`done_ordinals` as `job_completions`: inf = not done
    by the horizon's end, `horizon_end_ordinal`, the day after its last month). None without a
    deadline, and None where it is after the horizon's end and some trials don't finish within it:
    they may still make it (counting them late read 12.8% on a 12-month horizon for a job done by
    its deadline in every trial of a 24-month one)."""
    if deadline is None:
        return None
    day = deadline.toordinal()
    if day > horizon_end_ordinal and not np.isfinite(done_ordinals).all():
        return None
    return float((done_ordinals <= day).mean())


def _deadline_note(job: TrainingJob, within_horizon: float, months: Sequence[dt.date]) -> str:
    """The lower bound and the horizon that would answer, for a job whose chance is unknown."""
    assert job.deadline is not None
    first = months[0]
    months_needed = (job.deadline.year - first.year) * 12 + job.deadline.month - first.month + 1
    return (f"job {job.name!r}: done by its deadline {job.deadline} in at least {within_horizon:.1%} of trials "
            f"(those done within the horizon, to {months[-1]:%Y-%m}); the rest is unknown: {DEADLINE_AFTER_HORIZON} "
            f"to {months_needed} months ({job.deadline:%Y-%m})")


def _job_completion(rate: np.ndarray, bounds_ord: np.ndarray, start_ord: np.ndarray, tokens: float) -> np.ndarray:
    """Per trial, the day (fractional ordinal) `tokens` are done from `start_ord` at `rate`.

    `rate` (trials x months) tokens/s holds over each month [bounds[m], bounds[m+1]).
    """
    trials, months = rate.shape
    seconds = np.diff(bounds_ord) * SECONDS_PER_DAY
    cum = np.zeros((trials, months + 1))
    np.cumsum(rate * seconds[None, :], axis=1, out=cum[:, 1:])
    rows = np.arange(trials)
    start = np.clip(start_ord, bounds_ord[0], bounds_ord[-1])
    m = np.clip(np.searchsorted(bounds_ord, start, side="right") - 1, 0, months - 1)
    done_at_start = cum[rows, m] + rate[rows, m] * (start - bounds_ord[m]) * SECONDS_PER_DAY
    target = done_at_start + tokens
    reached = cum >= target[:, None] * (1 - 1e-12)
    finished = reached[:, -1] & np.isfinite(start_ord) & (start_ord <= bounds_ord[-1])
    k = np.argmax(reached, axis=1)  # first boundary at or past the target
    j = np.clip(k - 1, 0, months - 1)  # the month in which it is reached
    r = rate[rows, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        day = bounds_ord[j] + np.where(r > 0, (target - cum[rows, j]) / r, 0.0) / SECONDS_PER_DAY
    day = np.maximum(day, start)
    return np.where(finished, day, np.inf)


# ---- the forecast --------------------------------------------------------------------------

def _bands(x: np.ndarray) -> Bands:
    """P10/P50/P90 over trials (axis 0), as np.percentile's linear method: one partition of the
    transposed (contiguous) array instead of a strided sort per percentile."""
    x = np.asarray(x)
    n = x.shape[0]
    if n == 1:
        return Bands(x[0].copy(), x[0].copy(), x[0].copy())
    pos = np.array([0.1, 0.5, 0.9]) * (n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    kth = np.unique(np.concatenate([lo, hi]))
    part = np.partition(np.ascontiguousarray(x.T), kth, axis=1)
    w = pos - lo
    out = [part[:, lo[i]] + (part[:, hi[i]] - part[:, lo[i]]) * w[i] for i in range(3)]
    # equal neighbours can round one ulp apart: keep the bands ordered
    return Bands(out[0], np.maximum(out[1], out[0]), np.maximum(out[2], np.maximum(out[1], out[0])))


def _check(should_stop) -> None:
    if should_stop is not None and should_stop():
        raise Cancelled("forecast cancelled")


@dataclass
class Samples:
    """The trials of one forecast, kept for the planner, the sensitivity and the decomposition."""

    months: tuple[dt.date, ...]
    bounds_ord: np.ndarray
    chip_ids: tuple[str, ...]
    serve_on: tuple[str, ...]
    unit_chip: str
    installed: dict[str, np.ndarray]  # chip -> trials x months
    promised: dict[str, np.ndarray]
    share: dict[str, np.ndarray]  # chip -> months, training share
    serving_tput: dict[str, float]  # output tokens/s per chip (efficiency scale applied)
    serve_mult: dict[str, np.ndarray]  # chip -> trials, throughput multiplier (serving)
    train_mult: dict[str, np.ndarray]
    capacity_tps: np.ndarray  # trials x months, output tokens/s of the serving shares
    demand_tps: np.ndarray  # trials x months, peak output tokens/s needed
    tokens_day: np.ndarray  # trials x months, average tokens/day
    vendor_z: dict[str, np.ndarray]  # vendor (lower case) -> 2 x trials normal scores
    cutoffs: dict[str, tuple[np.ndarray, np.ndarray]]  # chip -> per-trial (start, end) ordinals
    growth_note: str = ""


def _family_multipliers(inputs: ForecastInputs, chips: Sequence[str], trials: int, seed: int,
                        random: bool) -> tuple[dict, dict]:
    """Per chip, lognormal throughput multipliers (median 1) shared by every chip of a family."""
    sc = inputs.scenario
    serve, train = {}, {}
    for chip in chips:
        family = inputs.family_by_chip.get(chip, chip)
        z = _stream(seed, 4, _text_key(family)).standard_normal((2, trials)) if random else np.zeros((2, trials))
        s_sig = float(inputs.serving_sigma_by_chip.get(chip, 0.0)) * sc.throughput_sigma_scale
        t_sig = float(inputs.training_sigma_by_chip.get(chip, 0.0)) * sc.throughput_sigma_scale
        serve[chip] = np.exp(s_sig * z[0])
        train[chip] = np.exp(t_sig * z[1])
    return serve, train


LOG_DEMAND_GROWTH_CAP = math.log(1e6)
DEMAND_POINT_STREAM = 7   # _stream key of the demand points' own draws (1-6 are taken above)


def point_log_offsets(curve: DemandCurve, seed: int, trials: int) -> np.ndarray | None:
    """Trials x points (in date order) log offsets of each demand point from its figure, or None
    when every point is exact (sd_pct 0: the curve is interpolated as it was, bit for bit).

    Each point draws from its own stream keyed by its date, so editing one point leaves the
    others' draws as they were. `at_least`: |z|, the figure is a floor.
    """
    pts = sorted(curve.points, key=lambda p: p.date)
    if not any(p.sd_pct > 0 for p in pts):
        return None
    out = np.zeros((trials, len(pts)))
    for i, p in enumerate(pts):
        if p.sd_pct > 0:
            z = _stream(seed, DEMAND_POINT_STREAM, p.date.toordinal()).standard_normal(trials)
            out[:, i] = p.sd_pct / 100.0 * (np.abs(z) if p.at_least else z)
    return out


def demand_points_note(curve: DemandCurve) -> str:
    """One line on the points' stated uncertainty ("" when every point is exact), for the notes
    beside a forecast and the assumptions: "2024-12 +-26%, 2025-09 >= figure, +21%"."""
    uncertain = [p for p in sorted(curve.points, key=lambda p: p.date) if p.sd_pct > 0 or p.at_least]
    if not uncertain or curve.kind != "piecewise":
        return ""

    def words(p: DemandPoint) -> str:   # short: the line sits in the Forecast view's summary
        if not p.at_least:
            return f"+-{p.sd_pct:g}%"
        return f"+{p.sd_pct:g}% floor" if p.sd_pct > 0 else "floor"

    parts = [f"{p.date:%Y-%m} {words(p)}" for p in uncertain]
    return "demand points, 1 sd (lognormal, per trial): " + ", ".join(parts)


def _point_weights(curve: DemandCurve, months: Sequence[dt.date]) -> np.ndarray:
    """Points x months: how much of each point's log offset reaches each month. Interpolation is
    linear in the log values, so a perturbed curve is the curve plus offsets @ these weights; the
    months after the last point take its offset (growth is drawn from the perturbed last point)."""
    x = np.array([p.date.toordinal() for p in sorted(curve.points, key=lambda p: p.date)], dtype=float)
    t = np.array([m.toordinal() for m in months], dtype=float)
    return np.array([np.interp(t, x, unit) for unit in np.eye(len(x))])


def _demand_samples(sc: ForecastScenario, months: Sequence[dt.date], trials: int, random_growth: bool,
                    random_mix: bool, growth_z: np.ndarray | None = None,
                    point_offsets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(tokens/day, peak output tokens/s) per trial and month, and a note on the growth fit."""
    from engine.forecast_demand import draw_log_growth, fit_growth

    d = sc.demand
    note = ""
    # The points' own uncertainty is part of the "demand" source: held at the figures when it is fixed.
    offsets = point_log_offsets(d, sc.seed, trials) if random_growth and d.kind == "piecewise" else None
    if point_offsets is not None and d.kind == "piecewise":   # one pinned draw for every trial (sensitivity)
        offsets = np.broadcast_to(np.asarray(point_offsets, dtype=float)[None, :], (trials, len(d.points)))
    if d.kind == "piecewise" and d.points:
        fit = fit_growth(d)
        note = fit.note
        flat = demand_tokens_per_day(replace(d, growth_after_last_per_year=1.0), months)
        tau = (np.array([m.toordinal() for m in months], dtype=float) - fit.last_ordinal) / DAYS_PER_YEAR
        z = growth_normals(fit, sc.seed, trials) if random_growth else None
        if growth_z is not None:  # one pinned draw for every trial (sensitivity)
            pinned = np.asarray(growth_z, dtype=float)
            z = np.broadcast_to(pinned[None, :], (trials, len(pinned)))
        log_g = draw_log_growth(fit, tau, z, d.ceiling_tokens_per_day,
                                last_log_offset=None if offsets is None else offsets[:, -1:])
        # A point far off the others (1,234.6 typed for 500 billion tokens a day) makes the fit's
        # growth rate so uncertain that its draws overflowed: a P90 of 3e24 chips and blank charts,
        # unsaid. Demand is held at a millionfold of the last point, and that is said.
        over = ~(log_g <= LOG_DEMAND_GROWTH_CAP)
        if over.any():
            log_g = np.where(over, LOG_DEMAND_GROWTH_CAP, log_g)
            # counted, not a percentage: 3 of 2,000 trials read "in 0% of trials" (QA s36); and a growth
            # what-if is named where it set the pace, not only the points (it read "check them for a
            # typo" of the story's own points at growth x1.5)
            held = int(np.count_nonzero(over.any(axis=1)))
            m = float(d.growth_rate_multiplier)
            # the growth the user set is named, not the points (QA s36: "check them for a typo" of a
            # fixed 100x/year)
            setting = ({"fixed": f"the fixed growth after the last point of {d.growth_after_last_per_year:g}x/year",
                        "user": f"your growth of P10/P50/P90 {d.growth_p10_per_year:g}/{d.growth_p50_per_year:g}/"
                                f"{d.growth_p90_per_year:g}x/year"}.get(d.growth_model))
            what_if = f"the growth what-if (x{m:g} in log terms)"
            if setting:
                why = setting + (f" and {what_if}" if m != 1.0 else "")
            else:
                why = ("the demand points imply a growth rate that uncertain (check them for a typo)" if m == 1.0 else
                       f"{what_if} on the growth rate the demand points imply")
            note = ((note + "; ") if note else "") + (
                f"in {held:,} of {over.shape[0]:,} trials demand grew past a millionfold of the last point "
                f"({fit.last_tokens_per_day / 1e9:,.0f} billion tokens/day) within the horizon and is held there: {why}")
        tokens = flat[None, :] * np.exp(log_g)
        if offsets is not None:
            tokens = tokens * np.exp(offsets @ _point_weights(d, months))
        if tokens.shape[0] == 1:
            tokens = np.broadcast_to(tokens, (trials, len(months)))
    else:
        tokens = np.broadcast_to(demand_tokens_per_day(d, months)[None, :], (trials, len(months)))
    tokens = tokens * d.scale
    mix: np.ndarray | float  # per-trial factor (trials x 1), or none
    if random_mix and d.request_mix_sigma > 0:
        mix = np.exp(d.request_mix_sigma * _stream(sc.seed, 6).standard_normal(trials))[:, None]
    else:
        mix = 1.0
    peak = peak_output_tokens_per_s(replace(d, scale=1.0), tokens) * mix
    return tokens, peak, note


def simulate(inputs: ForecastInputs, *, fixed: Sequence[str] = (), trials: int | None = None,
             seed: int | None = None, progress: Callable[[float, str], None] | None = None,
             should_stop: Callable[[], bool] | None = None, growth_z: np.ndarray | None = None,
             point_offsets: np.ndarray | None = None) -> Samples:
    """The Monte Carlo trials of supply, throughput and demand (no summaries).

    `fixed`: UNCERTAINTY_SOURCES held at their medians (to see what each contributes).
    """
    sc = inputs.scenario
    report = progress or (lambda fraction, message: None)
    problems = validate_scenario(sc)
    orders = tuple(sorted(inputs.orders, key=lambda o: (o.id, o.chip_id)))
    # a training job's chip counts even with no order for it (none installed yet; a plan may buy it)
    chip_ids = tuple(dict.fromkeys([o.chip_id for o in orders] + [j.chip_id for j in sc.jobs]))
    for chip in chip_ids:
        if not inputs.chip_peak_tflops.get(chip):
            problems.append(f"chip_peak_tflops[{chip!r}]: missing (needed for PFLOP/s)")
    serve_on = tuple(sc.demand.serve_on) or tuple(dict.fromkeys(o.chip_id for o in orders))
    unit_chip = sc.demand.chip_id or (serve_on[0] if serve_on else "")
    for chip in dict.fromkeys(serve_on + ((unit_chip,) if unit_chip else ())):
        if chip not in inputs.serving_tokens_per_s_per_chip:
            problems.append(f"serving_tokens_per_s_per_chip[{chip!r}]: missing")
    if problems:
        raise ValidationError(problems, f"forecast scenario {sc.name!r}")
    unknown = set(fixed) - set(UNCERTAINTY_SOURCES)
    if unknown:
        raise ValueError(f"unknown uncertainty sources {sorted(unknown)}")

    trials = sc.trials if trials is None else int(trials)
    seed = sc.seed if seed is None else int(seed)
    too_big = memory_problem(trials, sc.months, len(chip_ids))
    if too_big:   # before any array is made: 200 chip types at 20,000 x 240 took 8.2 GB, 35 s
        raise UserError(f"forecast scenario {sc.name!r}: {too_big}")
    n_months = sc.months
    months = tuple(month_starts(sc.start, n_months))
    bounds = months + (_add_months(months[-1], 1),)
    bounds_ord = np.array([b.toordinal() for b in bounds], dtype=float)
    random_supply = "supply" not in fixed
    cutoffs = {}
    for event, rank in zip(sc.policy_events, cutoff_ranks(sc.policy_events)):
        cutoffs[event.chip_id] = draw_policy(event, rank, seed, trials, random="policy" not in fixed)
    vendor_z: dict[str, np.ndarray] = {}  # as in Samples.vendor_z
    installed = {chip: np.zeros((trials, n_months)) for chip in chip_ids}
    promised = {chip: np.zeros(n_months) for chip in chip_ids}
    no_delay = np.zeros(1, dtype=np.int64)
    as_of_for = AsOfLookup(orders, sc)
    by_contract = contract_totals(orders)
    stream_keys = contract_stream_keys(orders)
    for i, order in enumerate(orders):
        if should_stop is not None and should_stop():
            raise Cancelled("forecast cancelled")
        maker = inputs.maker_by_chip.get(order.chip_id)
        who = supply_vendor(order.vendor, sc.vendor_uncertainty, maker)   # shocks shared with that vendor's orders
        if who.lower() not in vendor_z:   # drawn once per vendor, not once per order
            vendor_z[who.lower()] = vendor_shocks(seed, who, trials)
        unc = sc.uncertainty_for(order, maker)
        scale, delay, delay_scores = _draw_scale_and_delay(order, unc, trials, seed, i, random_supply, vendor=who,
                                                           common=vendor_z[who.lower()],
                                                           contract=by_contract[_text_key(contract_key(order))],
                                                           stream_key=stream_keys[i])
        as_of = as_of_for(order)[0]
        order_installed(order, sc, months, as_of, scale, delay, cutoffs.get(order.chip_id),
                        overdue_delay=partial(delay_given_overdue, unc, delay_scores), into=installed[order.chip_id])
        promised[order.chip_id] += order_installed(order, sc, months, as_of, np.ones(1), no_delay)[0]
        report(0.6 * (i + 1) / max(len(orders), 1), f"supply: order {order.id} ({order.chip_id})")

    share = {chip: np.clip(sc.allocation.share(chip, months), 0.0, 1.0) for chip in chip_ids}
    serving_tput = {chip: float(v) * sc.serving_efficiency_scale
                    for chip, v in inputs.serving_tokens_per_s_per_chip.items()}
    mult_chips = tuple(dict.fromkeys(chip_ids + tuple(serving_tput) + tuple(j.chip_id for j in sc.jobs)))
    serve_mult, train_mult = _family_multipliers(inputs, mult_chips, trials, seed, "throughput" not in fixed)
    tokens_day, demand_tps, note = _demand_samples(replace(sc, seed=seed), months, trials,
                                                   "demand" not in fixed, "mix" not in fixed, growth_z,
                                                   point_offsets)
    capacity_tps = np.zeros((trials, n_months))
    for chip in serve_on:
        if chip in installed:
            capacity_tps += installed[chip] * (1.0 - share[chip])[None, :] * \
                (serving_tput[chip] * serve_mult[chip])[:, None]
    report(0.8, "demand")
    return Samples(months=months, bounds_ord=bounds_ord, chip_ids=chip_ids, serve_on=serve_on,
                   unit_chip=unit_chip, installed=installed, promised=promised, share=share,
                   serving_tput=serving_tput, serve_mult=serve_mult, train_mult=train_mult,
                   capacity_tps=capacity_tps, demand_tps=demand_tps, tokens_day=np.asarray(tokens_day),
                   vendor_z=vendor_z, cutoffs=cutoffs, growth_note=note)


def meets(capacity_tps: np.ndarray, demand_tps: np.ndarray) -> np.ndarray:
    """Per trial and month: does the serving capacity cover the peak demand."""
    return capacity_tps >= demand_tps * (1 - 1e-12)


def job_completions(inputs: ForecastInputs, s: Samples, extra_training_chips: Mapping[str, np.ndarray] | None = None
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per job (start, completion) ordinals per trial; jobs on one chip type queue in list order.

    `extra_training_chips`: chip -> trials x months chips added to that type's training share
    (the planner's purchases). Every job runs at the scenario's training efficiency
    (training_efficiency_scale: failures, restarts and checkpoints as one fraction, the Forecast
    view's "Training efficiency"), whatever its fleet's size; `train`'s reliability model (the
    Training view's MTBF, restart and checkpoint inputs) does not feed it, and the notes say so.
    """
    sc = inputs.scenario
    trials, n_months = s.capacity_tps.shape
    out = []
    queue_free: dict[str, np.ndarray] = {}
    for job in sc.jobs:
        fleet = s.installed[job.chip_id] * s.share[job.chip_id][None, :] if job.chip_id in s.installed \
            else np.zeros((trials, n_months))
        if extra_training_chips and job.chip_id in extra_training_chips:
            fleet = fleet + extra_training_chips[job.chip_id]
        table = _throughput_table(inputs.training_tokens_per_s_per_chip, job.model_id, job.chip_id,
                                  float(fleet.max(initial=0.0)))
        mult = s.train_mult.get(job.chip_id, np.ones(trials))[:, None]
        rate = fleet * table.per_chip(fleet) * sc.training_efficiency_scale * mult
        start = np.full(trials, float(job.earliest_start.toordinal()))
        if job.chip_id in queue_free:
            start = np.maximum(start, queue_free[job.chip_id])
        done = _job_completion(rate, s.bounds_ord, start, float(job.tokens))
        queue_free[job.chip_id] = done
        out.append((start, done))
    return out


def run_forecast(inputs: ForecastInputs, *, progress: Callable[[float, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, fixed: Sequence[str] = (),
                 keep_samples: bool = False) -> ForecastResult:
    """Monte Carlo of supply, demand and training jobs (trials x months arrays, seeded)."""
    sc = inputs.scenario
    report = progress or (lambda fraction, message: None)
    s = simulate(inputs, fixed=fixed, progress=report, should_stop=should_stop)
    _check(should_stop)
    chip_ids, trials, n_months = s.chip_ids, sc.trials, sc.months
    total_chips = np.zeros((trials, n_months))
    total_pflops = np.zeros((trials, n_months))
    for chip in chip_ids:
        total_chips += s.installed[chip]
        total_pflops += s.installed[chip] * (inputs.chip_peak_tflops[chip] / 1000.0)
    installed_by_chip = {chip: _bands(s.installed[chip]) for chip in chip_ids}
    pflops_by_chip = {chip: installed_by_chip[chip].scaled(inputs.chip_peak_tflops[chip] / 1000.0)
                      for chip in chip_ids}
    pflops_total = _bands(total_pflops)
    report(0.85, "supply bands")

    prob_meet = meets(s.capacity_tps, s.demand_tps).mean(axis=0)
    capacity_bands = _bands(s.capacity_tps)
    unit_chip = s.unit_chip
    demand_bands = _bands(s.demand_tps)
    demand_p50 = demand_bands.p50
    demand_chips = {}
    for chip in dict.fromkeys(s.serve_on + ((unit_chip,) if unit_chip else ())):
        tput = s.serving_tput.get(chip, 0.0)
        demand_chips[chip] = demand_p50 / tput if tput > 0 else np.full(n_months, np.inf)
    unit_tput = s.serving_tput.get(unit_chip, 0.0)
    unit_note: tuple[str, ...] = ()
    if not unit_tput > 0:
        # the chip the figures are counted in cannot serve (a spec blanked in the catalog, a dtype
        # it lacks): every figure in its chips was NaN and the summary read "capacity covers
        # demand in every month"; count in the first chip that serves, and say so
        able = [c for c in dict.fromkeys(s.serve_on + tuple(chip_ids)) if s.serving_tput.get(c, 0.0) > 0]
        if able:
            unit_note = (f"capacity and demand are counted in {able[0]} chips: {unit_chip} cannot serve "
                         "this model (see the note above)",)
            unit_chip = able[0]
            unit_tput = s.serving_tput[unit_chip]
            demand_chips.setdefault(unit_chip, demand_p50 / unit_tput)
    per_unit = 1.0 / unit_tput if unit_tput > 0 else float("nan")
    fastest = max((v for v in s.serving_tput.values() if v > 0), default=0.0)
    if unit_tput > 0 and fastest >= 4.0 * unit_tput:
        # the unit is that chip's own rate under these targets: a target that slows it makes every
        # other chip worth more of it (a 25 ms TPOT showed 2.5 M "910B2 chips" of capacity)
        unit_note = unit_note + (
            f"capacity and demand are counted in {unit_chip} chips at its own rate under these targets "
            f"({unit_tput:,.3g} output tokens/s per chip, 1/{fastest / unit_tput:,.0f} of the fastest chip's): a "
            "target that slows it raises every other chip's worth in this unit; P(meet demand) does not depend on "
            "the unit",)
    capacity_unit = capacity_bands.scaled(per_unit)
    demand_unit = demand_p50 * per_unit
    tokens_bands = _bands(s.tokens_day)
    shortfall = np.maximum(s.demand_tps - s.capacity_tps, 0.0)
    shortfall_bands = _bands(shortfall).scaled(per_unit)
    balance = capacity_unit.p50 - demand_unit
    _check(should_stop)

    jobs = []
    for job, (start, done) in zip(sc.jobs, job_completions(inputs, s)):
        by_deadline = prob_done_by_deadline(done, job.deadline, float(s.bounds_ord[-1]))
        jobs.append(JobForecast(
            job=job,
            start_p50=_quantile_dates(np.maximum(start, s.bounds_ord[0]), 0.5),
            completion_p10=_quantile_dates(done, 0.1),
            completion_p50=_quantile_dates(done, 0.5),
            completion_p90=_quantile_dates(done, 0.9),
            prob_within_horizon=float(np.isfinite(done).mean()),
            completion_ordinals=done, prob_by_deadline=by_deadline,
        ))
    report(1.0, "done")

    return ForecastResult(
        scenario=sc, months=s.months, chip_ids=chip_ids,
        installed_by_chip=installed_by_chip, promised_by_chip=s.promised, pflops_by_chip=pflops_by_chip,
        installed_total=_bands(total_chips), pflops_total=pflops_total,
        h100_equiv_total=pflops_total.scaled(1000.0 / inputs.h100_bf16_tflops),
        training_share_by_chip=s.share, serving_tokens_per_s_per_chip=s.serving_tput,
        serving_capacity_tokens_per_s=capacity_bands, serving_capacity_unit_chips=capacity_unit,
        demand_tokens_per_day=tokens_bands.p50, demand_peak_output_tokens_per_s=demand_p50,
        demand_chips_by_chip=demand_chips, demand_unit_chips=demand_unit, unit_chip_id=unit_chip,
        shortfall_p50_unit_chips=shortfall_bands.p50, balance_p50_unit_chips=balance,
        prob_meet_demand=prob_meet, jobs=tuple(jobs), trials=trials, seed=sc.seed,
        throughput_source=inputs.throughput_source, notes=tuple(
            f"{NO_DEMAND_WORDS}; add demand points (and a demand scale above 0) to compare capacity with demand"
            for _ in [0] if not sc.demand.points or sc.demand.scale == 0) + tuple(inputs.notes) + tuple(
            # the months before the forecast's first are not simulated: a job that may start
            # earlier is counted from that month (--start 2025-05 moved a Jan 2025 job's finish
            # from 11 Jun to 24 Aug); say so rather than let the window move the answer silently
            f"job {job.name!r} may start {job.earliest_start:%Y-%m}, before the forecast's first month "
            f"{sc.start:%Y-%m}: it is counted from {sc.start:%Y-%m} (start the forecast by "
            f"{job.earliest_start:%Y-%m} to count the months before)"
            for job in sc.jobs if job.earliest_start < sc.start) + tuple(
            f"demand before its first point ({first:%Y-%m}) is held at that point's value"
            for first in [min((p.date for p in sc.demand.points), default=None)]
            if first is not None and sc.start < first.replace(day=1) and sc.demand.kind == "piecewise") + tuple(
            note for note in [demand_points_note(sc.demand)] if note) + unit_note
        + overdue_notes(inputs.orders, sc, inputs.maker_by_chip) + unscheduled_notes(inputs.orders, sc)
        + contract_notes(inputs.orders, sc, inputs.maker_by_chip) + early_delay_notes(inputs.orders, sc,
                                                                                      inputs.maker_by_chip)
        + own_risk_notes(inputs.orders, sc, inputs.maker_by_chip)
        + _efficiency_note(sc, s.serving_tput) + tuple(
            _deadline_note(j.job, j.prob_within_horizon, s.months) for j in jobs if j.deadline_unknown)
        + idle_job_notes(sc, s.months),
        demand_unit_chips_bands=demand_bands.scaled(per_unit), shortfall_unit_chips=shortfall_bands,
        shortfall_mean_unit_chips=shortfall.mean(axis=0) * per_unit,
        demand_tokens_per_day_bands=tokens_bands, growth_note=s.growth_note,
        samples=s if keep_samples else None,
    )


# ---- validation and (de)serialisation ------------------------------------------------------

# The most an `extra_delay_days` may add: ten years, as for the delay itself.
MAX_EXTRA_DELAY_DAYS = 3650.0


def _extra_delay_ok(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and 0.0 <= value <= MAX_EXTRA_DELAY_DAYS


def _validate_uncertainty(path: str, u: OrderUncertainty, problems: list[str]) -> None:
    for kind_field, lo, mode, hi, bounds in (
        ("fraction", u.fraction_low, u.fraction_mode, u.fraction_high, (0.0, 1.0)),
        ("delay", u.delay_low_days, u.delay_mode_days, u.delay_high_days, (-3650.0, 3650.0)),
    ):
        kind = getattr(u, f"{kind_field}_dist")
        if kind not in DISTRIBUTIONS:
            problems.append(f"{path}.{kind_field}_dist: {kind!r} (must be one of {', '.join(DISTRIBUTIONS)})")
        suffix = "" if kind_field == "fraction" else "_days"
        # A fixed distribution uses the mode only: low/high left over from another kind are
        # not read, so they must not refuse the scenario.
        checked = (("mode", mode),) if kind == "fixed" else (("low", lo), ("mode", mode), ("high", hi))
        for name, value in checked:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and bounds[0] <= value <= bounds[1]):
                problems.append(f"{path}.{kind_field}_{name}{suffix}: {value!r} (must be in [{bounds[0]:g}, {bounds[1]:g}])")
        if kind != "fixed" and isinstance(lo, (int, float)) and isinstance(mode, (int, float)) \
                and isinstance(hi, (int, float)) and not lo <= mode <= hi:
            problems.append(f"{path}.{kind_field}: low {lo!r} <= mode {mode!r} <= high {hi!r} does not hold")
    if not (isinstance(u.vendor_common_share, (int, float)) and 0 <= u.vendor_common_share <= 1):
        problems.append(f"{path}.vendor_common_share: {u.vendor_common_share!r} (must be in [0, 1])")
    if not _extra_delay_ok(u.extra_delay_days):
        problems.append(f"{path}.extra_delay_days: {u.extra_delay_days!r} "
                        f"(must be in [0, {MAX_EXTRA_DELAY_DAYS:g}] days)")
    if u.fraction_of not in FRACTION_BASES:
        problems.append(f"{path}.fraction_of: {u.fraction_of!r} (must be 'order' or 'outstanding')")


def uncertainty_problems(u: OrderUncertainty, applies_to: str) -> list[str]:
    """The problems of one uncertainty in a planner's words and the form's units (percent of
    the order, days), e.g. "Huawei orders: the fulfilled share needs low <= most likely <= high
    (30% <= 100% <= 80% does not hold: raise high to at least 100%)". `applies_to` names what
    it covers ("Every order", "Huawei orders", "Order 3")."""
    out: list[str] = []
    for what, kind, lo, mode, hi, scale, unit, bounds in (
        ("fulfilled share", u.fraction_dist, u.fraction_low, u.fraction_mode, u.fraction_high, 100.0, "%",
         (0.0, 1.0)),
        ("delay", u.delay_dist, u.delay_low_days, u.delay_mode_days, u.delay_high_days, 1.0, " days",
         (-3650.0, 3650.0)),
    ):
        def shown(value):
            return f"{value * scale:,.4g}{unit}" if isinstance(value, (int, float)) else repr(value)

        if kind not in DISTRIBUTIONS:
            out.append(f"{applies_to}: the {what} distribution {kind!r} is unknown "
                       f"(pick {', '.join(DISTRIBUTIONS)})")
            continue
        values = (("most likely", mode),) if kind == "fixed" else (("low", lo), ("most likely", mode), ("high", hi))
        bad = False
        for name, value in values:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and bounds[0] <= value <= bounds[1]):
                out.append(f"{applies_to}: the {what} {name} {shown(value)} must be between "
                           f"{shown(bounds[0])} and {shown(bounds[1])}")
                bad = True
        if kind != "fixed" and not bad and not lo <= mode <= hi:
            fix = (f"raise high to at least {shown(mode)}" if hi < mode else
                   f"lower low to at most {shown(mode)}" if lo > mode else "make low at most high")
            out.append(f"{applies_to}: the {what} needs low ≤ most likely ≤ high "
                       f"({shown(lo)} ≤ {shown(mode)} ≤ {shown(hi)} does not hold: {fix})")
    if not _extra_delay_ok(u.extra_delay_days):   # "the delay": the form marks the delay fields
        value = u.extra_delay_days
        shown_extra = f"{value:,.4g} days" if isinstance(value, (int, float)) else repr(value)
        out.append(f"{applies_to}: the delay added on top (extra delay) {shown_extra} must be between "
                   f"0 days and {MAX_EXTRA_DELAY_DAYS:,.0f} days")
    return out


def _positive(problems: list[str], name: str, value, allow_zero: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (value >= 0 if allow_zero else value > 0)
    if not ok:
        problems.append(f"{name}: {value!r} (must be {'>= 0' if allow_zero else '> 0'})")


# The Monte Carlo's peak memory grows with trials x months, the trial-months: about 13 float64
# arrays of trials x months with the story's 3 chip types (each chip type more adds one). Peak RSS
# of `fleetcast forecast` on the story: 1.34 GB at 50,000 x 240 (12 M), 2.19 GB at 100,000 x 200
# (20 M), 2.61 GB at 100,000 x 240 (24 M); the Forecast view 2.28 GB at 100,000 x 200 (500,000 x
# 240 ran out of memory there after 20 s). The limit keeps a forecast under about 2.5 GB.
MAX_TRIAL_MONTHS = 20_000_000
# The demand growth what-if's largest multiplier: 100x the log-growth turns the slowest growth
# worth asking about (1.1x a year) into 1.4e4x a year; beyond it draws overflow, not a question.
MAX_GROWTH_RATE_MULTIPLIER = 100.0
BYTES_PER_TRIAL_MONTH = 106.0   # the slope of those peaks
BASE_BYTES = 0.1e9              # the process before the trials


# Each chip type beyond the story's three keeps one float64 array of trials x months more (installed
# chips by type): 200 chip types at 20,000 x 240 peaked at 8.2 GB (QA s21), 1.7 kB a trial-month.
BYTES_PER_CHIP_TRIAL_MONTH = 8.0
STORY_CHIP_TYPES = 3
MAX_FORECAST_BYTES = BASE_BYTES + MAX_TRIAL_MONTHS * BYTES_PER_TRIAL_MONTH   # what the trial-month limit allows


def memory_problem(trials: int, months: int, chip_types: int) -> str:
    """Why a run of `trials` x `months` over `chip_types` chip types would need more memory than the
    trial-month limit allows a story-sized fleet (about 2.2 GB), or "" (the limit counted trials x
    months alone, so 200 chip types passed it at 8.2 GB)."""
    per_tm = BYTES_PER_TRIAL_MONTH + BYTES_PER_CHIP_TRIAL_MONTH * max(chip_types - STORY_CHIP_TYPES, 0)
    need = BASE_BYTES + trials * months * per_tm
    if need <= MAX_FORECAST_BYTES:
        return ""
    fits = int((MAX_FORECAST_BYTES - BASE_BYTES) / (months * per_tm))
    return (f"{trials:,} trials x {months} months over {chip_types} chip types need about {need / 1e9:,.1f} GB, "
            f"more than the {MAX_FORECAST_BYTES / 1e9:.1f} GB a forecast may use; lower the trials (at most "
            f"{max(fits, 0):,} over {months} months) or the months")


def trial_months_problem(trials, months) -> str:
    """Why `trials` x `months` is refused, or "" (also "" for values refused on their own):
    '500,000 x 240 = 120,000,000 trial-months, about 13 GB; at most 20,000,000 (e.g. 83,333
    trials over 240 months)'."""
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (trials, months)):
        return ""
    trial_months = trials * months
    if trial_months <= MAX_TRIAL_MONTHS:
        return ""
    gb = (BASE_BYTES + trial_months * BYTES_PER_TRIAL_MONTH) / 1e9
    return (f"{trials:,} x {months} = {trial_months:,} trial-months, about {gb:,.{0 if gb >= 10 else 1}f} GB; "
            f"at most {MAX_TRIAL_MONTHS:,} (e.g. {MAX_TRIAL_MONTHS // months:,} trials over {months} months)")


def validate_scenario(sc: ForecastScenario, *, fit: bool = True) -> list[str]:
    """Every problem of a scenario as a one-line string naming field and value (`fit=False`: the
    demand growth is not fitted on every point; a backtest fits it on the points known then)."""
    p: list[str] = []
    if not START_YEARS[0] <= sc.start.year <= START_YEARS[1]:
        p.append(f"start: {sc.start.isoformat()[:7]} (must be from {START_YEARS[0]}-01 to {START_YEARS[1]}-12)")
    if not isinstance(sc.months, int) or not 1 <= sc.months <= 600:
        p.append(f"months: {sc.months!r} (must be a whole number from 1 to 600)")
    if not isinstance(sc.trials, int) or not 1 <= sc.trials <= 1_000_000:
        p.append(f"trials: {sc.trials!r} (must be a whole number from 1 to 1000000)")
    too_many = trial_months_problem(sc.trials, sc.months)
    if too_many and not any(x.startswith(("months:", "trials:")) for x in p):   # each a whole number in range
        p.append(f"trials x months: {too_many}")
    if not isinstance(sc.seed, int) or sc.seed < 0:
        p.append(f"seed: {sc.seed!r} (must be a whole number >= 0)")
    if not isinstance(sc.unscheduled_spread_months, int) or not 1 <= sc.unscheduled_spread_months <= 240:
        p.append(f"unscheduled_spread_months: {sc.unscheduled_spread_months!r} (must be 1 to 240)")
    _positive(p, "install_lag_days", sc.install_lag_days, allow_zero=True)
    if not (isinstance(sc.annual_failure_rate, (int, float)) and 0 <= sc.annual_failure_rate < 1):
        p.append(f"annual_failure_rate: {sc.annual_failure_rate!r} (must be in [0, 1))")
    if sc.lifetime_years is not None:
        _positive(p, "lifetime_years", sc.lifetime_years)
    _positive(p, "serving_efficiency_scale", sc.serving_efficiency_scale)
    _positive(p, "training_efficiency_scale", sc.training_efficiency_scale)
    _validate_uncertainty("default_uncertainty", sc.default_uncertainty, p)
    for vendor, u in sc.vendor_uncertainty.items():
        _validate_uncertainty(f"vendor_uncertainty.{vendor}", u, p)
    for order_id, u in sc.order_uncertainty.items():
        _validate_uncertainty(f"order_uncertainty.{order_id}", u, p)
    d = sc.demand
    if d.kind not in CURVE_KINDS:
        p.append(f"demand.kind: {d.kind!r} (must be one of {', '.join(CURVE_KINDS)})")
    for i, point in enumerate(d.points):
        _positive(p, f"demand.points[{i}].tokens_per_day", point.tokens_per_day)
        sd = point.sd_pct
        if isinstance(sd, bool) or not isinstance(sd, (int, float)) or not 0 <= sd <= 100:
            p.append(f"demand.points[{i}].sd_pct: {sd!r} (must be 0 to 100, % at 1 sd)")
        elif sd > 0 and d.kind != "piecewise":   # exponential/logistic fits are not redrawn per trial
            p.append(f"demand.points[{i}].sd_pct: {sd:g} (a point's uncertainty needs a piecewise curve)")
        if not isinstance(point.at_least, bool):
            p.append(f"demand.points[{i}].at_least: {point.at_least!r} (must be true or false)")
    if len({pt.date for pt in d.points}) != len(d.points):
        p.append("demand.points: two points share a date")
    _positive(p, "demand.growth_after_last_per_year", d.growth_after_last_per_year)
    m = d.growth_rate_multiplier
    if not (isinstance(m, (int, float)) and not isinstance(m, bool) and 0 < m <= MAX_GROWTH_RATE_MULTIPLIER):
        p.append(f"demand.growth_rate_multiplier: {m!r} (must be > 0 and at most {MAX_GROWTH_RATE_MULTIPLIER:g})")
    if d.kind == "logistic":
        top = max((pt.tokens_per_day for pt in d.points), default=0.0)
        if d.ceiling_tokens_per_day is None or not d.ceiling_tokens_per_day > top:
            p.append(f"demand.ceiling_tokens_per_day: {d.ceiling_tokens_per_day!r} "
                     f"(a logistic curve needs a ceiling above the largest point, {top:g})")
    elif d.kind == "piecewise" and isinstance(d.ceiling_tokens_per_day, (int, float)) and d.ceiling_tokens_per_day > 0:
        top = max((pt.tokens_per_day for pt in d.points), default=0.0)
        if d.ceiling_tokens_per_day <= top:   # was dropped without a word (the curve bends toward one above)
            p.append(f"demand.ceiling_tokens_per_day: {d.ceiling_tokens_per_day:g} (must be above the largest "
                     f"demand point, {top:g}, or 0/blank for none)")
    if not (isinstance(d.prefix_cache_hit, (int, float)) and 0 <= d.prefix_cache_hit < 1):
        p.append(f"demand.prefix_cache_hit: {d.prefix_cache_hit!r} (must be in [0, 1))")
    if d.slo_percentile not in ("p50", "p90", "p99"):
        p.append(f"demand.slo_percentile: {d.slo_percentile!r} (one of p50, p90, p99)")
    if not (isinstance(d.length_spread, (int, float)) and 0 <= d.length_spread <= 10):
        p.append(f"demand.length_spread: {d.length_spread!r} (a coefficient of variation from 0 to 10)")
    if not (isinstance(d.peak_to_average, (int, float)) and d.peak_to_average >= 1):
        p.append(f"demand.peak_to_average: {d.peak_to_average!r} (must be >= 1)")
    _positive(p, "demand.input_tokens_per_request", d.input_tokens_per_request, allow_zero=True)
    _positive(p, "demand.output_tokens_per_request", d.output_tokens_per_request)
    _positive(p, "demand.scale", d.scale, allow_zero=True)
    _positive(p, "demand.ttft_ms", d.ttft_ms)
    _positive(p, "demand.tpot_ms", d.tpot_ms)
    from engine.hardware import KV_DTYPES, SERVE_DTYPES

    for name, allowed in (("weight_dtype", SERVE_DTYPES), ("kv_dtype", KV_DTYPES)):
        # (fp32 is read from older scenarios; no chip serves it, and the forecast says so)
        if getattr(d, name) not in allowed + ("fp32",):
            p.append(f"demand.{name}: {getattr(d, name)!r} (must be {', '.join(allowed)})")
    from engine.forecast_demand import GROWTH_MODELS, fit_growth

    if d.growth_model not in GROWTH_MODELS:
        p.append(f"demand.growth_model: {d.growth_model!r} (must be one of {', '.join(GROWTH_MODELS)})")
    elif d.kind == "piecewise" and d.points and not any("demand.points" in x for x in p):
        if d.growth_model == "user":
            g = (d.growth_p10_per_year, d.growth_p50_per_year, d.growth_p90_per_year)
            if not all(isinstance(v, (int, float)) and v > 0 for v in g) or not g[0] <= g[1] <= g[2]:
                p.append(f"demand.growth_p10/p50/p90_per_year: {g!r} (must be > 0 and P10 <= P50 <= P90)")
        if not (isinstance(d.fit_points, int) and d.fit_points >= 2):
            p.append(f"demand.fit_points: {d.fit_points!r} (must be a whole number >= 2)")
        if not (isinstance(d.growth_sigma_floor, (int, float)) and 0 <= d.growth_sigma_floor <= 5):
            p.append(f"demand.growth_sigma_floor: {d.growth_sigma_floor!r} (must be in [0, 5])")
        if not p and fit:
            try:
                fit_growth(d)
            except ValueError as exc:
                p.append(str(exc))
    if d.ceiling_tokens_per_day is not None and d.kind == "piecewise":
        _positive(p, "demand.ceiling_tokens_per_day", d.ceiling_tokens_per_day)
    if not (isinstance(d.request_mix_sigma, (int, float)) and 0 <= d.request_mix_sigma <= 3):
        p.append(f"demand.request_mix_sigma: {d.request_mix_sigma!r} (must be in [0, 3])")
    if not (isinstance(sc.throughput_sigma_scale, (int, float)) and 0 <= sc.throughput_sigma_scale <= 10):
        p.append(f"throughput_sigma_scale: {sc.throughput_sigma_scale!r} (must be in [0, 10])")
    seen_chips = set()
    for i, ev in enumerate(sc.policy_events):
        path = f"policy_events[{i}]"
        if not ev.chip_id:
            p.append(f"{path}.chip_id: {ev.chip_id!r} (required)")
        elif ev.chip_id in seen_chips:
            p.append(f"{path}.chip_id: {ev.chip_id!r} (one cut-off per chip type)")
        seen_chips.add(ev.chip_id)
        if not (isinstance(ev.probability, (int, float)) and 0 <= ev.probability <= 1):
            p.append(f"{path}.probability: {ev.probability!r} (must be in [0, 1])")
        if ev.window_end < ev.window_start:
            p.append(f"{path}.window_end: {ev.window_end} (before window_start {ev.window_start})")
        if ev.duration_months is not None:
            _positive(p, f"{path}.duration_months", ev.duration_months)
    a = sc.allocation
    for chip, share in list(a.training_share.items()) + [("default", a.default_training_share)]:
        if not (isinstance(share, (int, float)) and 0 <= share <= 1):
            p.append(f"allocation.training_share.{chip}: {share!r} (must be in [0, 1])")
    for i, step in enumerate(a.steps):
        if not (isinstance(step.training_share, (int, float)) and 0 <= step.training_share <= 1):
            p.append(f"allocation.steps[{i}].training_share: {step.training_share!r} (must be in [0, 1])")
    names = set()
    for i, job in enumerate(sc.jobs):
        _positive(p, f"jobs[{i}].tokens", job.tokens)
        if not job.model_id:
            p.append(f"jobs[{i}].model_id: {job.model_id!r} (required)")
        if not job.chip_id:
            p.append(f"jobs[{i}].chip_id: {job.chip_id!r} (required)")
        if job.name in names:
            p.append(f"jobs[{i}].name: {job.name!r} (used twice)")
        names.add(job.name)
    return p


def _unc_to_dict(u: OrderUncertainty) -> dict:
    return {f: getattr(u, f) for f in OrderUncertainty.__dataclass_fields__}


def _point_to_dict(pt: DemandPoint) -> dict:
    """A demand point's JSON; its uncertainty only where set, so a scenario without any is stored
    exactly as before the fields existed (no what-if reads a change it never made)."""
    out: dict = {"date": pt.date.isoformat(), "tokens_per_day": pt.tokens_per_day, "note": pt.note}
    if pt.sd_pct:
        out["sd_pct"] = pt.sd_pct
    if pt.at_least:
        out["at_least"] = pt.at_least
    return out


def scenario_to_dict(sc: ForecastScenario) -> dict:
    """A JSON-able dict (the store keeps it as a scenario's `params`); inverse of scenario_from_dict."""
    iso = lambda d: d.isoformat() if d is not None else None  # noqa: E731
    d = sc.demand
    return {
        "name": sc.name, "start": iso(sc.start), "months": sc.months, "trials": sc.trials, "seed": sc.seed,
        "as_of": iso(sc.as_of), "install_lag_days": sc.install_lag_days,
        "annual_failure_rate": sc.annual_failure_rate, "lifetime_years": sc.lifetime_years,
        "unscheduled_spread_months": sc.unscheduled_spread_months,
        "default_uncertainty": _unc_to_dict(sc.default_uncertainty),
        "vendor_uncertainty": {k: _unc_to_dict(v) for k, v in sc.vendor_uncertainty.items()},
        "order_uncertainty": {str(k): _unc_to_dict(v) for k, v in sc.order_uncertainty.items()},
        "demand": {
            "points": [_point_to_dict(pt) for pt in d.points],
            "kind": d.kind, "growth_after_last_per_year": d.growth_after_last_per_year,
            "ceiling_tokens_per_day": d.ceiling_tokens_per_day, "peak_to_average": d.peak_to_average,
            "input_tokens_per_request": d.input_tokens_per_request,
            "output_tokens_per_request": d.output_tokens_per_request, "scale": d.scale,
            "model_id": d.model_id, "ttft_ms": d.ttft_ms, "tpot_ms": d.tpot_ms, "chip_id": d.chip_id,
            "serve_on": list(d.serve_on), "weight_dtype": d.weight_dtype, "kv_dtype": d.kv_dtype,
            "note": d.note, "prefix_cache_hit": d.prefix_cache_hit, "slo_percentile": d.slo_percentile,
            "length_spread": d.length_spread,
            "growth_model": d.growth_model, "fit_points": d.fit_points,
            "growth_sigma_floor": d.growth_sigma_floor, "growth_p10_per_year": d.growth_p10_per_year,
            "growth_p50_per_year": d.growth_p50_per_year, "growth_p90_per_year": d.growth_p90_per_year,
            "request_mix_sigma": d.request_mix_sigma, "growth_rate_multiplier": d.growth_rate_multiplier,
        },
        "allocation": {
            "training_share": dict(sc.allocation.training_share),
            "default_training_share": sc.allocation.default_training_share,
            "steps": [{"start": iso(s.start), "chip_id": s.chip_id, "training_share": s.training_share}
                      for s in sc.allocation.steps],
        },
        "jobs": [{"name": j.name, "model_id": j.model_id, "tokens": j.tokens, "chip_id": j.chip_id,
                  "earliest_start": iso(j.earliest_start), "seq_len": j.seq_len,
                  "global_batch_seqs": j.global_batch_seqs, "deadline": iso(j.deadline)} for j in sc.jobs],
        "serving_efficiency_scale": sc.serving_efficiency_scale,
        "training_efficiency_scale": sc.training_efficiency_scale,
        "note": sc.note,
        "policy_events": [{"chip_id": e.chip_id, "probability": e.probability,
                           "window_start": iso(e.window_start), "window_end": iso(e.window_end),
                           "duration_months": e.duration_months, "note": e.note} for e in sc.policy_events],
        "throughput_sigma_scale": sc.throughput_sigma_scale,
    }


class _Reader:
    """Reads typed fields from nested dicts, collecting one problem per bad field."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def obj(self, data, path: str, known: Sequence[str]) -> dict:
        if not isinstance(data, Mapping):
            self.problems.append(f"{path or 'params'}: {data!r} (must be an object)")
            return {}
        for key in data:
            if key not in known:
                self.problems.append(f"{path + '.' if path else ''}{key}: unknown field")
        return dict(data)

    def list_of(self, data: dict, key: str, path: str) -> list:
        """data[key] as a list ([] when absent); a problem, and [], when it is something else."""
        value = data.get(key, [])
        if isinstance(value, list):
            return value
        self.problems.append(f"{path}.{key}: {value!r} (must be a list)" if path else f"{key}: {value!r} (must be a list)")
        return []

    def get(self, data: dict, key: str, path: str, kind: str, default):
        name = f"{path}.{key}" if path else key
        if key not in data:
            return default
        value = data[key]
        if value is None and kind in ("date?", "float?", "int?"):
            return None
        base = kind.rstrip("?")
        try:
            if base == "str":
                if not isinstance(value, str):
                    raise TypeError
                return value
            if base == "int":
                if isinstance(value, bool) or not (isinstance(value, int) or
                                                   (isinstance(value, float) and value.is_integer())):
                    raise TypeError
                return int(value)
            if base == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise TypeError
                return float(value)
            if base == "date":
                return iso_day(value)
            if base == "bool":
                if not isinstance(value, bool):
                    raise TypeError
                return value
        except (TypeError, ValueError):
            expected = {"str": "text", "int": "a whole number", "float": "a number",
                        "date": "an ISO date YYYY-MM-DD", "bool": "true or false"}[base]
            self.problems.append(f"{name}: {value!r} (must be {expected})")
            return default
        raise AssertionError(kind)


_UNC_FIELDS = {"fraction_dist": "str", "fraction_low": "float", "fraction_mode": "float",
               "fraction_high": "float", "fraction_of": "str", "delay_dist": "str",
               "delay_low_days": "float", "delay_mode_days": "float", "delay_high_days": "float",
               "note": "str", "vendor_common_share": "float", "extra_delay_days": "float"}


def _read_unc(r: _Reader, data, path: str) -> OrderUncertainty:
    obj = r.obj(data, path, list(_UNC_FIELDS))
    base = OrderUncertainty()
    return OrderUncertainty(**{k: r.get(obj, k, path, kind, getattr(base, k)) for k, kind in _UNC_FIELDS.items()})


def scenario_from_dict(params: Mapping, *, check: bool = True, fit: bool = True) -> ForecastScenario:
    """A validated ForecastScenario from `scenario_to_dict` output (missing fields take defaults).

    Raises ValidationError listing every bad field with its value. `check=False` still refuses
    values of the wrong type but returns a scenario whose values don't fit together (a logistic
    curve without a ceiling), so a form can show what was saved and name what to fix.
    """
    r = _Reader()
    base = ForecastScenario()
    top = r.obj(params, "", [
        "name", "start", "months", "trials", "seed", "as_of", "install_lag_days", "annual_failure_rate",
        "lifetime_years", "unscheduled_spread_months", "default_uncertainty", "vendor_uncertainty",
        "order_uncertainty", "demand", "allocation", "jobs", "serving_efficiency_scale",
        "training_efficiency_scale", "note", "policy_events", "throughput_sigma_scale",
        "ui"])  # "ui": the GUI panels' saved inputs; not part of the forecast model
    kw: dict = {}
    for key, kind in (("name", "str"), ("start", "date"), ("months", "int"), ("trials", "int"),
                      ("seed", "int"), ("as_of", "date?"), ("install_lag_days", "float"),
                      ("annual_failure_rate", "float"), ("lifetime_years", "float?"),
                      ("unscheduled_spread_months", "int"), ("serving_efficiency_scale", "float"),
                      ("training_efficiency_scale", "float"), ("note", "str"),
                      ("throughput_sigma_scale", "float")):
        kw[key] = r.get(top, key, "", kind, getattr(base, key))
    if isinstance(kw["start"], dt.date):
        kw["start"] = kw["start"].replace(day=1)
    if "default_uncertainty" in top:
        kw["default_uncertainty"] = _read_unc(r, top["default_uncertainty"], "default_uncertainty")
    vendors = r.obj(top.get("vendor_uncertainty", {}), "vendor_uncertainty", list(top.get("vendor_uncertainty", {}) or {}))
    kw["vendor_uncertainty"] = {str(k): _read_unc(r, v, f"vendor_uncertainty.{k}") for k, v in vendors.items()}
    per_order = r.obj(top.get("order_uncertainty", {}), "order_uncertainty", list(top.get("order_uncertainty", {}) or {}))
    kw["order_uncertainty"] = {}
    for k, v in per_order.items():
        try:
            kw["order_uncertainty"][int(k)] = _read_unc(r, v, f"order_uncertainty.{k}")
        except ValueError:
            r.problems.append(f"order_uncertainty.{k}: not an order id (must be a whole number)")

    dbase = DemandCurve()
    dfields = {"kind": "str", "growth_after_last_per_year": "float", "ceiling_tokens_per_day": "float?",
               "peak_to_average": "float", "input_tokens_per_request": "float",
               "output_tokens_per_request": "float", "scale": "float", "model_id": "str", "ttft_ms": "float",
               "tpot_ms": "float", "chip_id": "str", "weight_dtype": "str", "kv_dtype": "str",
               "note": "str", "prefix_cache_hit": "float", "slo_percentile": "str", "length_spread": "float",
               "growth_model": "str",
               "fit_points": "int",
               "growth_sigma_floor": "float", "growth_p10_per_year": "float", "growth_p50_per_year": "float",
               "growth_p90_per_year": "float", "request_mix_sigma": "float", "growth_rate_multiplier": "float"}
    if "demand" in top:
        dd = r.obj(top["demand"], "demand", list(dfields) + ["points", "serve_on"])
        dkw = {k: r.get(dd, k, "demand", kind, getattr(dbase, k)) for k, kind in dfields.items()}
        points = []
        raw_points = r.list_of(dd, "points", "demand")
        for i, pt in enumerate(raw_points):
            path = f"demand.points[{i}]"
            po = r.obj(pt, path, ["date", "tokens_per_day", "note", "sd_pct", "at_least"])
            if "date" not in po or "tokens_per_day" not in po:
                r.problems.append(f"{path}: needs date and tokens_per_day")
                continue
            day = r.get(po, "date", path, "date", None)
            tokens = r.get(po, "tokens_per_day", path, "float", None)
            if day is not None and tokens is not None:
                points.append(DemandPoint(day, tokens, r.get(po, "note", path, "str", ""),
                                          r.get(po, "sd_pct", path, "float", 0.0),
                                          r.get(po, "at_least", path, "bool", False)))
        serve_on = dd.get("serve_on", [])
        if not isinstance(serve_on, list) or not all(isinstance(c, str) for c in serve_on):
            r.problems.append(f"demand.serve_on: {serve_on!r} (must be a list of chip ids)")
            serve_on = []
        kw["demand"] = DemandCurve(points=tuple(points), serve_on=tuple(serve_on), **dkw)

    if "allocation" in top:
        ad = r.obj(top["allocation"], "allocation", ["training_share", "default_training_share", "steps"])
        shares = r.obj(ad.get("training_share", {}), "allocation.training_share", list(ad.get("training_share", {}) or {}))
        share_values = {str(k): r.get(shares, k, "allocation.training_share", "float", 0.0) for k in shares}
        steps = []
        raw_steps = r.list_of(ad, "steps", "allocation")
        for i, st in enumerate(raw_steps):
            path = f"allocation.steps[{i}]"
            so = r.obj(st, path, ["start", "chip_id", "training_share"])
            steps.append(AllocationStep(r.get(so, "start", path, "date", base.start),
                                        r.get(so, "chip_id", path, "str", ""),
                                        r.get(so, "training_share", path, "float", 0.0)))
        kw["allocation"] = Allocation(share_values, r.get(ad, "default_training_share", "allocation", "float", 0.0),
                                      tuple(steps))

    jobs = []
    raw_jobs = r.list_of(top, "jobs", "")
    for i, jd in enumerate(raw_jobs):
        path = f"jobs[{i}]"
        jo = r.obj(jd, path, ["name", "model_id", "tokens", "chip_id", "earliest_start", "seq_len",
                              "global_batch_seqs", "deadline"])
        jobs.append(TrainingJob(
            name=r.get(jo, "name", path, "str", f"job {i + 1}"),
            model_id=r.get(jo, "model_id", path, "str", ""),
            tokens=r.get(jo, "tokens", path, "float", 0.0),
            chip_id=r.get(jo, "chip_id", path, "str", ""),
            earliest_start=r.get(jo, "earliest_start", path, "date", kw.get("start") or base.start),
            seq_len=r.get(jo, "seq_len", path, "int?", None),
            global_batch_seqs=r.get(jo, "global_batch_seqs", path, "int?", None),
            deadline=r.get(jo, "deadline", path, "date?", None)))
    kw["jobs"] = tuple(jobs)
    events = []
    raw_events = r.list_of(top, "policy_events", "")
    for i, ed in enumerate(raw_events):
        path = f"policy_events[{i}]"
        eo = r.obj(ed, path, ["chip_id", "probability", "window_start", "window_end", "duration_months", "note"])
        start = r.get(eo, "window_start", path, "date", base.start)
        events.append(PolicyEvent(
            chip_id=r.get(eo, "chip_id", path, "str", ""),
            probability=r.get(eo, "probability", path, "float", 1.0),
            window_start=start, window_end=r.get(eo, "window_end", path, "date", start),
            duration_months=r.get(eo, "duration_months", path, "float?", None),
            note=r.get(eo, "note", path, "str", "")))
    kw["policy_events"] = tuple(events)
    name = kw.get("name") or "scenario"
    if r.problems:
        raise ValidationError(r.problems, f"scenario {name!r}")
    sc = ForecastScenario(**kw)
    problems = validate_scenario(sc, fit=fit) if check else []
    if problems:
        raise ValidationError(problems, f"scenario {name!r}")
    return sc


# ---- the story's defaults ------------------------------------------------------------------

# Doubao's average daily tokens, company statements as reported in the press (STORY.md); the same
# rows with sources live in resources/demand_doubao.csv. Month-only figures sit on the 15th.
DOUBAO_TOKENS_PER_DAY: tuple[tuple[str, float, str], ...] = (
    ("2024-05-15", 120e9, "paid API launch (Volcano Engine Force conference)"),
    ("2024-07-15", 500e9, "secondary source; date approximate"),
    ("2024-09-15", 1.3e12, "'more than'; date approximate"),
    ("2024-12-15", 4e12, "date approximate"),
    ("2025-09-15", 30e12, "'more than'; date approximate"),
    ("2025-12-15", 50e12, "'more than'; date approximate"),
)
# Each point's uncertainty (DemandPoint.sd_pct, at_least), by date, from what its note states. A
# date known to about a month is off by ln(g)/12 in log terms at the local growth g per year,
# g from the neighbouring points (the slope between them; the last point's from its one
# neighbour): 7.08, 4.96, 3.14, 2.53 and 2.05 per year in log units -> 59, 41, 26, 21 and 17%.
# The secondary source adds 20% (in quadrature: 62%); "more than" makes the figure a floor. The
# launch figure is exact.
DOUBAO_POINT_UNCERTAINTY: dict[str, tuple[float, bool]] = {
    "2024-05-15": (0.0, False),
    "2024-07-15": (62.0, False),
    "2024-09-15": (41.0, True),
    "2024-12-15": (26.0, False),
    "2025-09-15": (21.0, True),
    "2025-12-15": (17.0, True),
}

STORY_910B_CHIP = "ascend-910b2"  # CHIPS.md: use 910B2 whenever a source only says "910B"
STORY_H20_CHIP = "h20-96gb"


def default_scenario() -> ForecastScenario:
    """The story's defaults: ByteDance's 910B order under Huawei's supply limits, Doubao's demand.

    Every figure that is not a published number is an assumption, named in `note`.
    """
    huawei = OrderUncertainty(
        fraction_dist="beta", fraction_low=0.4, fraction_mode=0.7, fraction_high=1.0, fraction_of="order",
        delay_dist="triangular", delay_low_days=0.0, delay_mode_days=90.0, delay_high_days=365.0,
        vendor_common_share=0.7,
        note="assumption: Huawei delivers 40-100% of the order (mode 70%, median ~70%): output is capped "
             "by 7 nm yields and HBM supply, 30% had arrived by autumn 2024; deliveries 0-12 months late "
             "(mode 3); 70% of the variation is common to every Huawei order")
    nvidia = OrderUncertainty(
        fraction_dist="beta", fraction_low=0.8, fraction_mode=0.95, fraction_high=1.0, fraction_of="outstanding",
        delay_dist="triangular", delay_low_days=0.0, delay_mode_days=30.0, delay_high_days=180.0,
        vendor_common_share=0.7,
        note="assumption: NVIDIA delivers 80-100% of what is outstanding, 0-6 months late; the export "
             "licence risk is the separate H20 cut-off event")
    h20_cutoff = PolicyEvent(
        chip_id=STORY_H20_CHIP, probability=0.5, window_start=dt.date(2025, 1, 1),
        window_end=dt.date(2025, 12, 31), duration_months=None,
        note="assumption: as of the end of 2024 (the last H20 delivery was in Oct 2024) a US licence "
             "requirement for the H20 in 2025 was a coin flip; it came on 9 Apr 2025")
    demand = DemandCurve(
        points=tuple(DemandPoint(dt.date.fromisoformat(d), v, n, *DOUBAO_POINT_UNCERTAINTY[d])
                     for d, v, n in DOUBAO_TOKENS_PER_DAY),
        kind="piecewise", growth_after_last_per_year=2.0, ceiling_tokens_per_day=None,
        peak_to_average=1.5, input_tokens_per_request=1155.0, output_tokens_per_request=211.0, scale=1.0,
        model_id="qwen3-235b-a22b", ttft_ms=2000.0, tpot_ms=50.0, chip_id=STORY_910B_CHIP, serve_on=(),
        weight_dtype="int8", kv_dtype="bf16", prefix_cache_hit=0.5,
        growth_model="decaying", fit_points=3, growth_sigma_floor=0.25, request_mix_sigma=0.15,
        note="prefix-cache hit 50% of input tokens (DeepSeek reported 56%; chat turns resend the history); "
             "the inference engine picks the layout (TP, or EP with TP/data-parallel attention, up to 32 "
             "scale-up domains wide with the expert all-to-all over the NICs overlapped with compute, as "
             "production MoE serving runs; checked against DeepSeek's ~428M tokens per H800-day) and the "
             "largest batch within the SLOs; Doubao tokens/day (STORY.md), each point uncertain as its "
             "note says: a date known to about a month is off by ln(growth per year)/12 (17-41% at the "
             "local growth; 62% for the secondary Jul 2024 source), a 'more than' figure is a floor; "
             "growth after Dec 2025: the "
             # (rates in log units per year; resources/scenario_seed_v2.json froze the wording before the
             # points carried their uncertainty)
             "growth rate between the published points falls about log-linearly (8.6/year mid 2024 to "
             "2/year late 2025), fitted with its uncertainty (residual sd floored at 0.25) and extrapolated "
             "(it saturates on its own); peak/average 1.5 (consumer chat 1.4-1.6 hourly); request mix 1155 "
             "in / 211 out (Azure chat trace), serving work per token uncertain by 15% (lognormal sigma); "
             "served model: Qwen3-235B-A22B as a stand-in for Doubao-pro (a ~20B-active MoE) with int8 "
             "weights (W8A8 serving), TTFT 2 s, TPOT 50 ms (assumptions)")
    return ForecastScenario(
        name="default", start=dt.date(2024, 5, 1), months=60, trials=2000, seed=2024, as_of=None,
        install_lag_days=30.0, annual_failure_rate=0.03, lifetime_years=CHIP_LIFE_YEARS, unscheduled_spread_months=12,
        default_uncertainty=OrderUncertainty(),
        vendor_uncertainty={"Huawei": huawei, "NVIDIA": nvidia},
        order_uncertainty={},
        demand=demand,
        allocation=Allocation(training_share={STORY_910B_CHIP: 0.5, STORY_H20_CHIP: 0.0},
                              default_training_share=0.0),
        jobs=(TrainingJob(name="405B dense on 15T tokens", model_id="llama3-405b", tokens=15e12,
                          chip_id=STORY_910B_CHIP, earliest_start=dt.date(2025, 1, 1),
                          deadline=dt.date(2025, 12, 31)),),
        policy_events=(h20_cutoff,), throughput_sigma_scale=1.0,
        serving_efficiency_scale=1.0, training_efficiency_scale=0.9,
        note="assumptions: install lag 30 days; 3%/year net attrition; 5-year life; half the 910B fleet "
             "trains (the reported plan), the rest and every H20 serve; training goodput 90% "
             "(failures, checkpoints, restarts); undelivered quantity with no promised dates is "
             "spread over 12 months after the last recorded delivery; the 405B job is wanted by the end "
             "of 2025; per-chip throughput uncertain by its family's validation error "
             "(resources/throughput_sigma.csv)")
