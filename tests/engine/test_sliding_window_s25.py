"""Windowed attention as a model input (ModelConfig.attention_window_tokens / windowed_layers):
KV per sequence, serving capacity and cost, the simulator's KV blocks, training FLOPs and memory,
and `models import` of each family's way of saying it. Figures are derived by hand."""

import math
from dataclasses import replace

import numpy as np
import pytest

from engine.catalog import reference_chips
from engine.errors import ValidationError
from engine.hf_config import model_from_hf_config
from engine.inference import GIB, ServingInputs, evaluate_serving, resolve_factors
from engine.models import ModelConfig, forward_flops_per_token, training_flops_per_token
from engine.serving.cost_model import build_cost_model
from engine.serving.families import scheduler_for
from engine.serving.simulator import Workload, simulate
from engine.training import TrainingInputs, evaluate_layout

H100 = reference_chips()["h100-sxm5-80gb"]
# gpt-oss's attention (36 layers, every other one a 128-token window, 8 KV heads of 64), dense FFN
GPT_OSS = ModelConfig(id="gpt-oss-style", name="gpt-oss-style", layers=36, hidden=2880, heads=64, kv_heads=8,
                      head_dim=64, ffn_hidden=11520, vocab=201088, context_len=131072,
                      attention_window_tokens=128, windowed_layers=18)
NO_WINDOW = replace(GPT_OSS, attention_window_tokens=0, windowed_layers=0)
KV_BYTES_PER_LAYER_TOKEN = 2 * 8 * 64 * 2          # K and V, 8 heads x 64 dims, BF16


# ---- the model input ------------------------------------------------------------------------

@pytest.mark.parametrize("change, line", [
    ({"windowed_layers": 40}, "windowed_layers: 40 (at most layers = 36)"),
    ({"windowed_layers": 0}, "windowed_layers: 0 (an attention window of 128 tokens needs the number of layers"),
    ({"attention_window_tokens": 0}, "attention_window_tokens: 0 (18 windowed layers need a window"),
    ({"attention_window_tokens": -5}, "attention_window_tokens: -5 (must be a whole number, 0 or more)"),
    ({"windowed_layers": -1}, "windowed_layers: -1 (must be a whole number, 0 or more)"),
])
def test_a_window_that_cannot_be_is_named_in_one_line(change, line):
    problems = replace(GPT_OSS, **change).validate()
    assert len(problems) == 1 and problems[0].startswith(line), problems
    assert GPT_OSS.validate() == [] and NO_WINDOW.validate() == []


def test_gpt_oss_kv_per_sequence_by_hand():
    """36 layers, 18 of them windowed at 128 tokens, 8 KV heads x 64 dims, BF16, 8,192 tokens:
    2 x 8 x 64 x 2 bytes x (18 x 8,192 + 18 x 128) = 306,708,480 bytes; without the window 36 x 8,192."""
    by_hand = KV_BYTES_PER_LAYER_TOKEN * (18 * 8192 + 18 * 128)
    assert by_hand == 306_708_480
    assert GPT_OSS.kv_bytes_per_sequence(8192, 2) == by_hand
    assert NO_WINDOW.kv_bytes_per_sequence(8192, 2) == KV_BYTES_PER_LAYER_TOKEN * 36 * 8192
    assert GPT_OSS.kv_bytes_per_sequence(100, 2) == NO_WINDOW.kv_bytes_per_sequence(100, 2)   # inside the window
    # the serving engine's figure per sequence (TP1: the whole cache on one chip)
    occupancy = resolve_factors(H100)["inf_kv_occupancy"]
    assert occupancy == 1.0
    r = evaluate_serving(ServingInputs(model=GPT_OSS, chip=H100, input_len=8000, output_len=192,
                                       scenario="static_batch", batch=1))
    assert r.kv_gib_per_sequence * GIB == pytest.approx(by_hand, rel=1e-12)


def test_kv_bound_max_concurrency_rises_as_the_window_frees_the_cache():
    """Same chip, same weights, same HBM left for KV: the sequences that fit are that capacity over
    each one's KV, 306.7 MB with the window against 603.98 MB (36 x 8,192 tokens) without."""
    args = dict(chip=H100, input_len=8000, output_len=192, scenario="static_batch", batch=1)
    windowed = evaluate_serving(ServingInputs(model=GPT_OSS, **args))
    full = evaluate_serving(ServingInputs(model=NO_WINDOW, **args))
    assert windowed.kv_gib_per_chip == full.kv_gib_per_chip       # the weights are the same
    free_bytes = full.kv_gib_per_chip * GIB
    assert full.max_concurrency == math.floor(free_bytes / (KV_BYTES_PER_LAYER_TOKEN * 36 * 8192)) == 100
    assert windowed.max_concurrency == math.floor(free_bytes / (KV_BYTES_PER_LAYER_TOKEN * (18 * 8192 + 18 * 128)))
    assert windowed.max_concurrency == 198


def test_a_simulated_server_holds_twice_the_sequences_when_the_cache_binds():
    """vLLM-style on-demand KV, every request 8,000 + 192 tokens, more clients than fit: the running
    set is KV-bound. Windowed, each request holds its 18 full layers' tokens in blocks of 16 plus
    its 18 windowed layers' 128 tokens (8 blocks of the same unit) beside a cache of twice as many
    such tokens: about 1.97x the sequences (some headroom goes to the blocks a decode adds)."""
    sched = scheduler_for("vllm")
    w = Workload(mode="closed", input_len=8000, output_len=192, requests=2000, concurrency=300, context_len=131072)
    runs = {}
    for model in (GPT_OSS, NO_WINDOW):
        cm = build_cost_model(model, H100)
        runs[model.windowed] = (cm, simulate(cm, sched, w))
    cm_w, sim_w = runs[True]
    cm_f, sim_f = runs[False]
    assert cm_w.kv_capacity_tokens == cm_f.kv_capacity_tokens                    # whole-model tokens
    assert cm_w.kv_block_capacity_tokens() == pytest.approx(2 * cm_w.kv_capacity_tokens)   # of 18 of 36 layers
    assert cm_w.window_blocks(np.array([8192, 100]), 16).tolist() == [8, 7]       # 128 and ceil(100 / 16) blocks
    # blocks of 16: without the window 8,192 / 16 = 512 per request; with it 512 + 128 / 16 = 520 in
    # a cache of twice the blocks: at most 2 x 512 / 520 = 1.97x the requests, less the ramp and drain
    ratio = sim_w.mean_running / sim_f.mean_running
    assert 1.8 < ratio < 1.97, ratio
    assert 95 < sim_f.mean_running < 101
    assert sim_w.kv_peak_frac <= 1.0 and sim_f.kv_peak_frac <= 1.0
    assert sim_w.output_tokens_per_s > sim_f.output_tokens_per_s


@pytest.mark.parametrize("model", [GPT_OSS, replace(GPT_OSS, attention_window_tokens=4096, windowed_layers=36)])
def test_windowed_runs_are_priced_like_the_cost_model_step_by_step(model):
    """The simulator sums runs of decode steps in closed form; with a window the step time bends
    where the batch's mean context reaches it (flat past it when every layer is windowed). The
    sums equal `decode_run_s` step by step, across that bend and stopping at an arrival."""
    import math

    from engine.serving.simulator import _RunPricer

    cm = build_cost_model(model, H100)
    pricer = _RunPricer(cm)
    assert pricer.lines_ok
    rng = np.random.default_rng(3)
    for _ in range(200):
        d = int(rng.integers(1, 300))
        s = int(rng.integers(0, d * int(model.attention_window_tokens) * 2))
        kmax = int(rng.integers(1, 3000))
        t = float(rng.uniform(0, 100))
        cum = np.cumsum(cm.decode_run_s(d, s + d * np.arange(kmax, dtype=float)))
        arrival = t + float(rng.uniform(0, 1.2)) * cum[-1] if rng.random() < 0.7 else math.inf
        k, dt = pricer.run(d, s, kmax, t, arrival)
        want = kmax if arrival == math.inf else min(int(np.searchsorted(t + cum, arrival, side="left")) + 1, kmax)
        assert k == want
        assert dt == pytest.approx(cum[k - 1], rel=1e-12)
    # the decode step's KV and attention are those of the mean context, windowed:
    # 10 sequences of 8,192 tokens read 10 x (8,192 - share x (8,192 - window)) whole-model tokens
    share = model.windowed_layers / model.layers
    eff = 10 * (8192 - share * (8192 - model.attention_window_tokens))
    assert cm.kv_context_sum(10, 10 * 8192.0) == pytest.approx(eff, rel=1e-15)
    plain = replace(cm, window_tokens=0.0)
    assert cm.step_s(10, 10 * 8192.0) == pytest.approx(plain.step_s(10, eff), rel=1e-15)


def test_a_disaggregated_prompt_sends_its_windowed_kv_only():
    """An 8,000-token prompt's KV after its prefill: 8,000 tokens in the 18 full layers, 128 in the
    18 windowed ones = 4,064 whole-model tokens, at 1 us per token."""
    from engine.serving.simulator import PrefillPool, prefill_pool_done, prefill_pool_ready

    arrivals, lin = np.zeros(1), np.array([8000])
    for model, tokens in ((GPT_OSS, 8000 - 0.5 * (8000 - 128)), (NO_WINDOW, 8000)):
        pool = PrefillPool(cost=build_cost_model(model, H100), transfer_s_per_token=1e-6)
        ready, _ = prefill_pool_ready(pool, arrivals, lin, 0.0)
        assert ready[0] - prefill_pool_done(pool, arrivals, lin, 0.0)[0] == pytest.approx(tokens * 1e-6, rel=1e-12)


def test_a_request_whose_kv_can_never_fit_is_named_with_a_window_too():
    cm = replace(build_cost_model(GPT_OSS, H100), kv_capacity_tokens=4096.0)   # 4,096 tokens of 36 layers
    w = Workload(mode="offline", input_len=8000, output_len=192, requests=4)
    with pytest.raises(Exception) as info:
        simulate(cm, scheduler_for("vllm"), w)
    assert "a 8191-token request needs more KV than fits beside the weights (520 of 512 KV blocks)" in str(info.value)


# ---- properties ----------------------------------------------------------------------------------

def test_kv_and_attention_cost_never_fall_as_the_context_grows():
    ctx = np.arange(1, 20_001, 7, dtype=float)
    kv = [GPT_OSS.kv_elements_per_sequence(int(c)) for c in ctx]
    assert all(b >= a for a, b in zip(kv, kv[1:]))
    from engine import inference as inf
    shape = inf.model_shape(GPT_OSS)
    hw = inf._hw_arrays([H100], "bf16", None)
    dep = inf._deployment(shape, hw, 1, 1, 1, "bf16", "bf16")
    step = inf._decode_step(dep, 8.0, ctx)
    for key in ("kv_s", "attn_compute_s", "total_s"):
        assert np.all(np.diff(np.asarray(step[key]).reshape(-1)) >= 0), key
    cm = build_cost_model(GPT_OSS, H100)
    prefill = [cm.chunk_attn_flops(0, int(n)) for n in ctx]
    after = [cm.chunk_attn_flops(int(o), 512) for o in ctx]
    assert all(b >= a for a, b in zip(prefill, prefill[1:])) and all(b >= a for a, b in zip(after, after[1:]))
    runs = cm.decode_run_s(16, 16 * ctx)
    assert np.all(np.diff(runs) >= 0)
    flops = [training_flops_per_token(GPT_OSS, int(s)) for s in ctx[::20]]
    assert all(b > a for a, b in zip(flops, flops[1:]))


def test_a_window_at_least_the_context_is_no_window():
    wide = replace(GPT_OSS, attention_window_tokens=8192)
    for scenario, load in (("static_batch", {"batch": 32}), ("concurrency", {"concurrency": 64}),
                           ("server", {"request_rate": 4.0}), ("offline", {})):
        args = dict(chip=H100, input_len=6000, output_len=2192, scenario=scenario, requests=200, **load)
        a = evaluate_serving(ServingInputs(model=wide, **args)).as_dict()
        b = evaluate_serving(ServingInputs(model=NO_WINDOW, **args)).as_dict()
        assert a == b, scenario
    for flash in (True, False):
        args = dict(chip=H100, num_chips=64, seq_len=8192, tp=4, pp=2, dp=8, micro_batch=1, zero_stage=1,
                    recompute="none", flash_attention=flash)
        assert (evaluate_layout(TrainingInputs(model=wide, **args)).as_dict()
                == evaluate_layout(TrainingInputs(model=NO_WINDOW, **args)).as_dict())


def test_window_zero_changes_nothing_in_the_cost_model():
    """A model with no window gives the same cost model as before the fields existed (its default
    window fields are all 0, so every branch is the old one)."""
    cm = build_cost_model(NO_WINDOW, H100)
    assert (cm.window_tokens, cm.window_share, cm.window_kv_ratio) == (0.0, 0.0, 0.0)
    assert cm.kv_block_capacity_tokens() == cm.kv_capacity_tokens
    assert cm.chunk_attn_flops(3000, 500) == cm.pf_attn_coeff * (3500 ** 2 - 3000 ** 2)


# ---- training ------------------------------------------------------------------------------------

def test_training_attention_flops_of_windowed_layers_by_hand():
    """Causal attention per query: a full layer s/2 keys, a 128-window layer 128 - 128^2 / (2 s)
    (the band's area over s); the per-layer figure is the mean of the 18 and 18."""
    s, w, q_dim = 8192, 128, 64 * 64
    full = 2.0 * 2 * q_dim * (s / 2)
    band = 2.0 * 2 * q_dim * (w - w * w / (2 * s))
    got = forward_flops_per_token(GPT_OSS, s)["attn_core_per_layer"]
    assert got == pytest.approx((full + band) / 2, rel=1e-12)
    whole = forward_flops_per_token(GPT_OSS, s, causal_half=False)["attn_core_per_layer"]
    assert whole == pytest.approx((2.0 * 2 * q_dim * s + 2.0 * 2 * q_dim * w) / 2, rel=1e-12)
    assert forward_flops_per_token(NO_WINDOW, s)["attn_core_per_layer"] == full


def test_training_step_and_score_memory_shrink_with_the_window():
    args = dict(chip=H100, num_chips=64, seq_len=8192, tp=4, pp=2, dp=8, micro_batch=1, zero_stage=1,
                recompute="none")
    for flash in (True, False):
        w = evaluate_layout(TrainingInputs(model=GPT_OSS, flash_attention=flash, **args))
        f = evaluate_layout(TrainingInputs(model=NO_WINDOW, flash_attention=flash, **args))
        assert w.step_time_s < f.step_time_s
        if flash:   # no score matrix is stored: the same activations
            assert w.memory_gib_per_chip == pytest.approx(f.memory_gib_per_chip, rel=1e-12)
        else:       # scores of 2 bytes x heads x keys per token and layer: 128 keys in half the layers
            assert w.memory_gib_per_chip < f.memory_gib_per_chip


# ---- models import -------------------------------------------------------------------------------

BASE = {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16, "num_key_value_heads": 8,
        "vocab_size": 32000, "max_position_embeddings": 131072, "tie_word_embeddings": False}


def _window(config):
    result = model_from_hf_config({**BASE, **config}, model_id="m")
    window = (result.model.attention_window_tokens, result.model.windowed_layers)
    assert not result.not_modelled and not result.unknown
    for key in ("sliding_window", "attention_chunk_size", "layer_types", "sliding_window_pattern"):
        if key in config and window != (0, 0):
            assert key in result.used and key not in result.ignored, key
    return window, result


@pytest.mark.parametrize("config, expected", [
    # gpt-oss: layer_types, every other layer a 128-token window
    ({"model_type": "gpt_oss", "num_hidden_layers": 36, "sliding_window": 128,
      "layer_types": ["sliding_attention", "full_attention"] * 18}, (128, 18)),
    # Gemma 2: no list; transformers windows the even layers
    ({"model_type": "gemma2", "num_hidden_layers": 42, "sliding_window": 4096,
      "max_position_embeddings": 8192}, (4096, 21)),
    # Gemma 3: every 6th layer full (sliding_window_pattern), 62 layers -> 10 full, 52 windowed
    ({"model_type": "gemma3_text", "num_hidden_layers": 62, "sliding_window": 1024,
      "sliding_window_pattern": 6}, (1024, 52)),
    ({"model_type": "gemma3_text", "num_hidden_layers": 62, "sliding_window": 1024}, (1024, 52)),   # its default
    # Mistral 7B v0.1: a 4,096-token window on every layer
    ({"model_type": "mistral", "num_hidden_layers": 32, "sliding_window": 4096,
      "max_position_embeddings": 32768}, (4096, 32)),
    # Qwen2: the window switched off; on, the first max_window_layers layers are full
    ({"model_type": "qwen2", "num_hidden_layers": 28, "sliding_window": 4096, "use_sliding_window": False,
      "max_window_layers": 21}, (0, 0)),
    ({"model_type": "qwen2", "num_hidden_layers": 28, "sliding_window": 4096, "use_sliding_window": True,
      "max_window_layers": 21}, (4096, 7)),
    # Llama 4: chunked attention on its RoPE layers (3 of 4), by list or by interval
    ({"model_type": "llama4_text", "num_hidden_layers": 48, "attention_chunk_size": 8192,
      "no_rope_layers": [int((i + 1) % 4 != 0) for i in range(48)]}, (8192, 36)),
    ({"model_type": "llama4_text", "num_hidden_layers": 48, "attention_chunk_size": 8192}, (8192, 36)),
    # Mistral v0.2+: no window; a window as long as the context: none either
    ({"model_type": "mistral", "num_hidden_layers": 32, "sliding_window": None}, (0, 0)),
    ({"model_type": "mistral", "num_hidden_layers": 32, "sliding_window": 131072}, (0, 0)),
])
def test_models_import_reads_each_familys_window(config, expected):
    window, result = _window(config)
    assert window == expected
    if expected != (0, 0):
        note = next(n for n in result.notes if "attend to at most" in n)
        assert f"on {expected[1]} of {result.model.layers} layers" in note


def test_models_import_names_a_window_it_cannot_read_and_keeps_a_second_kind_apart():
    with pytest.raises(ValidationError) as info:
        model_from_hf_config({**BASE, "model_type": "mistral", "num_hidden_layers": 32, "sliding_window": "4k"},
                             model_id="m")
    assert info.value.problems == ["sliding_window: '4k' (must be a whole number of tokens)"]
    result = model_from_hf_config({**BASE, "model_type": "x", "num_hidden_layers": 8, "sliding_window": 512,
                                   "attention_chunk_size": 2048}, model_id="m")
    assert (result.model.attention_window_tokens, result.model.windowed_layers) == (512, 8)
    assert result.not_modelled == ("attention_chunk_size",)
