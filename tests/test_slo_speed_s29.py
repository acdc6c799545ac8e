"""The SLO search made faster again without changing a figure (issue 12's 0.5 s per chip; timings in
bench/bench_serving.py). Session 29 trimmed the simulator's loop and the step pricing; every
answer stays the same to the bit.

- a step's price is the formula's as it read before, to the bit, for dense, MoE (expert and wide
  expert parallel), pipelined and windowed deployments;
- a step of decodes alone prices no prompt chunks, and a one-stage step its collectives once;
- simulations of every kind (Poisson, closed loop with preemption and a ramp, offline, pipelined,
  MoE, windowed, disaggregated, TGI's throttle, SGLang's prefill steps) read as the code before
  this session did: digests of every per-request array and figure, recorded from commit 61ec32b;
- the bench's layout-race search and its disaggregated search answer as recorded there.
"""

import hashlib
import math
from dataclasses import fields

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.models import ModelConfig
from engine.serving.cost_model import build_cost_model
from engine.serving.families import scheduler_for
from engine.serving.simulator import Workload, simulate

CHIPS = reference_chips()
MODELS = reference_models()
# gpt-oss's attention (every other layer a 128-token window), as in test_sliding_window_s25
GPT_OSS = ModelConfig(id="gpt-oss-style", name="gpt-oss-style", layers=36, hidden=2880, heads=64, kv_heads=8,
                      head_dim=64, ffn_hidden=11520, vocab=201088, context_len=131072,
                      attention_window_tokens=128, windowed_layers=18)

LAYOUTS = {   # name: (model, chip, tp, ep, pp, dtype)
    "dense TP8": (MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"], 8, 1, 1, "fp8"),
    "dense TP2 PP4": (MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"], 2, 1, 4, "fp8"),
    "MoE TP4 EP4": (MODELS["qwen3-235b-a22b"], CHIPS["h200-sxm-141gb"], 4, 4, 1, "fp8"),
    "MoE wide EP16 PP2": (MODELS["deepseek-v3"], CHIPS["h200-sxm-141gb"], 1, 16, 2, "fp8"),
    "windowed TP1": (GPT_OSS, CHIPS["h100-sxm5-80gb"], 1, 1, 1, "bf16"),
}


def _cm(name):
    model, chip, tp, ep, pp, dt = LAYOUTS[name]
    return build_cost_model(model, chip, tp=tp, ep=ep, pp=pp, weight_dtype=dt, kv_dtype=dt)


def _step_by_the_formula(cm, decode_seqs, ctx_sum, tokens=0.0, seqs=0.0, attn_flops=0.0, largest=0.0):
    """`StepCostModel.step_s` as it read before this session, every term computed afresh."""
    pp = cm.pp
    pf_c, pf_tok_chip = cm.prefill_compute_s(tokens, seqs, attn_flops, largest)
    if decode_seqs <= 0:
        if tokens <= 0:
            return 0.0
        mem = pp * (cm.weights_s + cm.expert_all_s * cm._touched(tokens))
        return max(pf_c, mem) + pp * cm._comm(pf_tok_chip, pf_c) + pp * cm.overhead_s * cm.prefill_overhead_scale
    d = decode_seqs / pp
    seq_chip = d / cm.attn_groups
    ctx_chip = cm.kv_context_sum(decode_seqs, ctx_sum) / pp / cm.attn_groups
    mem = cm.weights_s + cm.expert_all_s * cm._touched(d) * cm.expert_decode_mult
    comp = seq_chip * cm.dec_lin_s_per_seq + d * cm.dec_exp_s_per_seq
    attn = max(ctx_chip * cm.kv_s_per_token, ctx_chip * cm.dec_attn_s_per_ctx)
    busy = max(mem, comp) + attn
    stage = busy + cm._comm(seq_chip, busy) + cm.overhead_s
    if tokens <= 0:
        return pp * stage
    mem_pf = mem + cm.expert_all_s * max(cm._touched(tokens) - cm._touched(d), 0.0)
    busy_pf = max(mem_pf, comp + pf_c / pp) + attn
    return (pp - 1.0) * stage + busy_pf + cm._comm(seq_chip + pf_tok_chip, busy_pf) + cm.overhead_s


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_a_steps_price_is_the_formulas_to_the_bit(name):
    cm = _cm(name)
    rng = np.random.default_rng(29)
    cases = [(0, 0.0, 0, 0, 0.0, 0), (1, 0.0), (1, 1.0), (3, 3000)]    # (an int context sum too, as the simulator's)
    for _ in range(300):
        d = int(rng.integers(0, 600))
        ctx = float(rng.integers(0, 4000)) * max(d, 1)
        chunks = [(int(rng.integers(0, 3000)), int(rng.integers(1, 4000))) for _ in range(int(rng.integers(0, 4)))]
        tokens = sum(c for _, c in chunks)
        attn = sum(cm.chunk_attn_flops(off, c) for off, c in chunks)
        cases.append((d, ctx, tokens, len(chunks), attn, max((c for _, c in chunks), default=0)))
    assert [cm.step_s(*case) for case in cases] == [_step_by_the_formula(cm, *case) for case in cases]
    if cm.pp > 1:   # the pipelined prompt's latency reads the same stage terms
        d, ctx, tokens, seqs, attn, largest = cases[-1]
        step = _step_by_the_formula(cm, d, ctx, tokens, seqs, attn, largest)
        assert cm.prefill_latency_s(d, ctx, tokens, seqs, attn, largest) >= step


def _counting(monkeypatch, *names):
    """Count the calls of StepCostModel's methods `names` (the real ones still answer)."""
    from engine.serving.cost_model import StepCostModel

    calls = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(StepCostModel, name)

        def counted(self, *a, _name=name, _real=real):
            calls[_name] += 1
            return _real(self, *a)

        monkeypatch.setattr(StepCostModel, name, counted)
    return calls


def test_a_decode_step_prices_no_prompt_chunks(monkeypatch):
    """A step of decodes alone (most steps a simulation prices one by one: every run cut short by an
    arrival ends in one) priced an empty prefill first."""
    cm = _cm("dense TP8")
    calls = _counting(monkeypatch, "prefill_compute_s", "kv_context_sum")
    cm.step_s(64, 64 * 1500.0)
    assert calls == {"prefill_compute_s": 0, "kv_context_sum": 0}     # no window to read it through
    cm.step_s(64, 64 * 1500.0, 1000, 1, cm.chunk_attn_flops(0, 1000), 1000)
    assert calls == {"prefill_compute_s": 1, "kv_context_sum": 0}
    windowed = _cm("windowed TP1")
    windowed.step_s(8, 8 * 3000.0)
    assert calls["kv_context_sum"] == 1


def test_a_one_stage_step_prices_its_collectives_once(monkeypatch):
    """With one pipeline stage the round of other micro-batches ((pp - 1) x a stage) is nothing:
    its stage was priced, collectives included, and multiplied by 0. Two stages price it."""
    calls = _counting(monkeypatch, "_comm", "_touched")
    flops_of = {}
    for name, comms in (("dense TP8", 1), ("dense TP2 PP4", 2)):
        cm = _cm(name)
        flops_of[name] = cm.chunk_attn_flops(0, 1000)
        calls.update(_comm=0, _touched=0)
        cm.step_s(64, 64 * 1500.0, 1000, 1, flops_of[name], 1000)
        assert calls["_comm"] == comms, name
        assert calls["_touched"] == 1, name      # dense: the batch's experts only (none), not the prompt's


# ---- simulations read as before, to the bit ---------------------------------------------------------

ML = dict(input_spread=0.9, output_spread=0.9)
CV = dict(input_spread=0.5, output_spread=0.5)
SIMS = {   # name: (layout or (model, chip, tp), engine, workload, prefill TP)
    "race run, 8B TP2 on H20, Poisson CV 0.5": (
        (MODELS["llama3-8b"], CHIPS["h20-96gb"], 2), "", Workload("poisson", 1024, 256, requests=2000,
                                                                request_rate=7.31, seed=1, context_len=8192, **CV), 0),
    "closed loop C=1024, KV full: preemption": (
        "dense TP8", "vllm", Workload("closed", 2000, 4000, requests=1500, concurrency=1024, **CV), 0),
    "closed loop, ramp and warm-up": (
        "dense TP8", "vllm", Workload("closed", 1000, 200, requests=1000, concurrency=64, ramp_s=5.0, warmup=128), 0),
    "offline, MLPerf-like lengths": ("dense TP8", "vllm", Workload("offline", 222, 291, requests=1500, **ML), 0),
    "pipelined PP4, Poisson": ("dense TP2 PP4", "vllm", Workload("poisson", 1000, 200, requests=1000,
                                                                 request_rate=6.0, **CV), 0),
    "MoE EP4, SGLang's prefill steps": ("MoE TP4 EP4", "sglang", Workload("poisson", 222, 291, requests=1000,
                                                                          request_rate=8.0, **ML), 0),
    "wide EP, TensorRT-LLM's reserved KV": ("MoE wide EP16 PP2", "trtllm", Workload(
        "poisson", 1000, 300, requests=800, request_rate=10.0, **CV), 0),
    "windowed, past its window": ("windowed TP1", "vllm", Workload("poisson", 3000, 500, requests=800,
                                                                   request_rate=6.0, **CV), 0),
    "TGI's throttle, prefix cache": ("dense TP8", "tgi", Workload("poisson", 2000, 291, requests=1000, request_rate=3.0,
                                                                  prefix_cache_hit=0.5, **ML), 0),
    "disaggregated, 2 x TP8 prefill": ("dense TP8", "vllm", Workload("poisson", 2000, 300, requests=1000,
                                                                     request_rate=9.0, **CV), 8),
}
# sha256 of every array and figure of each run (`_digest`), recorded from the code at commit 61ec32b
# the same run read bit for bit under another numpy: with numpy 2.4.6 the preemption case's sums
# differ in their last bits (55f9ea9 itself reads this digest there, s40)
OTHER_NUMPY_DIGESTS = {
    'closed loop C=1024, KV full: preemption': ('a33265d3dc9c63dfa498042f105adcc418c4ba0d642adfa3b9aaaf846ae82814',),
}
DIGESTS = {
    'race run, 8B TP2 on H20, Poisson CV 0.5': 'e4ec713c448d13fe69acb90f46fe3aa3ff88fc64ecd57313437e2199e8a5922e',
    'closed loop C=1024, KV full: preemption': 'd5ec502de8aadcff19f32021686705b051969cccbaf05ce50689044d9d13e30b',
    'closed loop, ramp and warm-up': '4e5d669f260ee7e7253e523047e017242353dc671b862730882c580b5207b0e9',
    'offline, MLPerf-like lengths': 'b38eed3f8879026bca921d0c4bfa00686538e0a5e18d73249120a3d9b72db390',
    'pipelined PP4, Poisson': '43505f8fb0c0176092ead6963b10cf526ea20dfd0ec42f35cf722e0e5ee8b2e0',
    "MoE EP4, SGLang's prefill steps": '89e42d99ee0b4065ca48bd8dd3ce90137e520c2b349a788ac65e7bcfec975cd7',
    "wide EP, TensorRT-LLM's reserved KV": '99b8f6848b6065141992b67d74e30085f798a106ea5ac911378105347eb1dc44',
    'windowed, past its window': '68e81c82b0b13bf4dc0fe41fbcb746439ad1b8edcea1386ca39bf47e63e953b1',
    "TGI's throttle, prefix cache": '56a25597ca705d7d892deac7eaff15811c2b6467436e8aa078a4e0fd8ac682c1',
    'disaggregated, 2 x TP8 prefill': '2e808d56205750ba064346a7aa2b0867dea8ecd3f8f76178372b8beb1755bf83',
}


def _run(name):
    from engine.serving.capacity import _base_inputs, prefill_pool_of

    layout, engine, w, prefill_tp = SIMS[name]
    if isinstance(layout, str):
        cm = _cm(layout)
        model, chip, tp, ep, _, dt = LAYOUTS[layout]
    else:
        (model, chip, tp), ep, dt = layout, 1, "bf16"
        cm = build_cost_model(model, chip, tp=tp)
    pool = None
    if prefill_tp:
        inputs = _base_inputs(model, chip, input_len=w.input_len, output_len=w.output_len, tp=tp, ep=ep,
                              weight_dtype=dt, kv_dtype=dt, engine=engine, factors=None)
        pool = prefill_pool_of(inputs, prefill_tp, 2)[0]
    return simulate(cm, scheduler_for(engine), w, prefill_pool=pool)


# the steady-window figures (s30, tests/test_sim_window_s30.py), not in the recorded runs
# fields added since the digests were recorded (s30: the steady window; s40: the unsettled verdict),
# so that every field recorded before is checked to read as it did
STEADY_FIELDS = ("steady_running", "steady_decode_step_s", "steady_window_s", "unsettled_share")


def _digest(sim) -> str:
    h = hashlib.sha256()
    for f in fields(sim):
        if f.name in STEADY_FIELDS:   # (added later; every field recorded before reads as it did)
            continue
        v = getattr(sim, f.name)
        h.update(f.name.encode())
        h.update(v.dtype.str.encode() + v.tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
    return h.hexdigest()


@pytest.mark.parametrize("name", list(SIMS))
def test_simulations_read_as_before_to_the_bit(name):
    sim = _run(name)
    assert sim.steps > 0 and math.isfinite(sim.makespan_s)
    assert _digest(sim) in (DIGESTS[name], *OTHER_NUMPY_DIGESTS.get(name, ()))


# ---- the bench's searches answer as before ----------------------------------------------------------

# recorded from the code at commit 61ec32b (the answer's repr: every figure and word of it; the repr
# re-recorded in s30, where only the batch at the point moved, to its steady window's: 45 -> 48 running;
# and in s33, where only the words gained the search's resolution and SloCapacity its bracket_pct,
# the two reprs diffed against 8ef25b9's; and in s35, where only "miss them on N chips" became "miss
# them at the load per chip of N chips", the reprs equal once those words are swapped back)
RACE = {"answer": (2, 935.3857724999999), "latency": (459.4023771867942, 38.72212942785393),
        "race": "TP2 1,070 chips, TP4 and TP8 miss them at the load per chip of 1,040 chips, TP1 misses them at the "
                "load per chip of 1,102 chips",
        "repr": "f95c8de44402d259caef762efac1bdfeb4bf2a4034a512efaee825217d9ccbb9"}
DISAGG = {"figures": (214.3125, 11.43, 901.3588097192071, 14.823686882467745),
          "repr": "14c384bd6e5e467e5d07c69d4544f8b533fabc68a0a9b9d2478a501e80c85a4a"}

def test_the_layout_race_search_answers_as_before():
    """bench/bench_serving.py's 'layout left to it' case (Llama 3 8B on H20, 1,024/256 at CV 0.5,
    p90 TTFT 2 s / TPOT 50 ms, 1M output tokens/s): 19 race runs and the winner's search."""
    from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip

    cap = slo_capacity_tokens_per_s_per_chip(MODELS["llama3-8b"], CHIPS["h20-96gb"], percentile="p90", input_len=1024,
                                             output_len=256, ttft_ms=2000, tpot_ms=50, input_spread=0.5,
                                             output_spread=0.5, demand_output_tokens_per_s=1e6)
    assert (cap.tp, cap.output_tokens_per_s_per_chip) == RACE["answer"]
    assert (cap.ttft_ms, cap.tpot_ms) == RACE["latency"]
    assert RACE["race"] in cap.explanation
    assert hashlib.sha256(repr(cap).encode()).hexdigest() == RACE["repr"]


def test_the_disaggregated_search_answers_as_before():
    from engine.serving.capacity import slo_capacity_sim

    cap = slo_capacity_sim(MODELS["llama3-70b"], CHIPS["h100-sxm5-80gb"], ttft_ms=2000, tpot_ms=50, percentile="p90",
                           tp=8, engine="vllm", input_len=2000, output_len=300, prefill_tp=8, prefill_instances=1)
    assert (cap.output_tokens_per_s_per_chip, cap.request_rate_per_s, cap.ttft_ms["p90"], cap.tpot_ms["p90"]) == (
        DISAGG["figures"])
    assert hashlib.sha256(repr(cap).encode()).hexdigest() == DISAGG["repr"]

