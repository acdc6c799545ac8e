"""Serving QA (s23b): the token budget is per attention rank (and said so), the SLO figure never
exceeds the offline run's, the budget names itself as the limit, a prefix cache shortens what an
unchunked engine's budget must hold, and the curves see the prefix cache. (Pricing the steady
state's prompt work as the simulator's busiest rank was tried and not kept: see
resources/calibration_README.md, serving.)"""

import json

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.cli import main
from engine.inference import ServingInputs, evaluate_serving, serving_curve, slo_capacity
from engine.serving.families import budget_problem, limit_factors

CHIPS = reference_chips()
MODELS = reference_models()
H100 = CHIPS["h100-sxm5-80gb"]


def _offline(model, chip, L_in, L_out, budget, tp, ep=1, engine=""):
    return evaluate_serving(ServingInputs(model=model, chip=chip, input_len=L_in, output_len=L_out, tp=tp, ep=ep,
                                          scenario="offline", engine=engine, max_num_batched_tokens=budget))


def test_the_budget_is_per_attention_rank_and_said_so(capsys):
    """QA: the help said per replica while the closed form and the simulator pool it over the
    attention ranks, and 'beyond 704 sequences the token budget of 512 cannot take the decodes'
    contradicted itself (finding 5)."""
    cap = slo_capacity(MODELS["qwen3-235b-a22b"], H100, input_len=2000, output_len=200, tpot_ms=1e6, tp=4,
                       ep=8, factors=limit_factors(None, 512))
    assert cap.limiting == "token budget"
    assert "512 per step per attention rank (2 ranks: 1,024 per replica)" in cap.explanation
    assert "cannot take" not in cap.explanation
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "per attention rank" in " ".join(capsys.readouterr().out.split())


def test_a_binding_budget_is_named_not_a_hardware_bottleneck(capsys):
    """QA: 4000/500 budget 512 said 'prefill saturation' and bound by bandwidth while raising the
    budget raised the capacity (finding 6)."""
    m = MODELS["llama3-8b"]
    kw = dict(input_len=4000, output_len=500, ttft_ms=3000.0, tpot_ms=100.0, tp=1)
    small = slo_capacity(m, H100, **kw, factors=limit_factors(None, 512))
    larger = slo_capacity(m, H100, **kw, factors=limit_factors(None, 1024))
    assert small.limiting == "token budget" and small.resource == "token budget"
    assert "--max-num-batched-tokens" in small.explanation
    assert larger.output_tokens_per_s_per_chip > small.output_tokens_per_s_per_chip
    assert main(["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "4000",
                 "--output-len", "500", "--ttft-ms", "3000", "--tpot-ms", "100", "--max-num-batched-tokens",
                 "512", "--slo-percentile", "steady", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["limiting"] == "token budget" and d["bound_by"] == "token budget"


def test_prompts_mostly_prefill_stay_prefill_saturated():
    """4,000-token prompts with 4 output tokens: the steps are prompt work whatever budget feeds
    them, so the limit stays prefill saturation (it names the budget that the prompts fill)."""
    cap = slo_capacity(MODELS["llama3-8b"], H100, input_len=4000, output_len=4, tp=1, ttft_ms=2000.0)
    assert cap.limiting == "prefill saturation" and "token budget of 8,192" in cap.explanation


def test_an_unchunked_budget_holds_only_the_uncached_prompt():
    """QA: trtllm 4,000-token prompts at 90% prefix cache with a 1,024 budget were refused as if
    the whole prompt prefilled (finding 8)."""
    assert budget_problem("trtllm", 1024, 4000, 0.9) == ""
    assert "4,000 tokens" in budget_problem("trtllm", 1024, 4000, 0.0)
    assert "3,000 tokens" in budget_problem("trtllm", 1024, 4000, 0.25)


def test_the_serving_curves_see_the_prefix_cache():
    """QA: the Inference window's throughput-latency and TTFT curves ignored the prefix cache
    (finding 4)."""
    m = MODELS["llama3-8b"]
    batches = [1, 8, 32]
    kw = dict(input_len=8000, output_len=100)
    none = serving_curve(m, [H100], [1], batches, **kw)
    cached = serving_curve(m, [H100], [1], batches, prefix_cache_hit=0.9, **kw)
    assert np.all(cached.ttft_ms[0, 0] < 0.5 * none.ttft_ms[0, 0])
    closed = [evaluate_serving(ServingInputs(model=m, chip=H100, tp=1, scenario="concurrency", concurrency=8,
                                             simulate=False, prefix_cache_hit=h, **kw)) for h in (0.0, 0.9)]
    assert closed[1].ttft_ms < 0.5 * closed[0].ttft_ms
