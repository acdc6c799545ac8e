"""The SLO layout choice under load lives in engine.serving.slo_layout (issue 12: capacity.py was
1,165 lines against a 1,000-line budget).

- capacity.py and slo_layout.py are within the budget;
- slo_layout imports on its own, first, in a fresh interpreter (it builds on capacity, and
  capacity reaches it only from inside its entry point, so neither order of import is a cycle);
- capacity's entry point answers with the moved search's own result, and the moved helpers keep
  their arithmetic (chips in whole replicas, the layout's name).
"""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.catalog import reference_chips, reference_models

ROOT = Path(__file__).resolve().parents[1]
BUDGET_LINES = 1000


def test_capacity_and_the_layout_choice_are_within_the_line_budget():
    sizes = {name: len((ROOT / "engine" / "serving" / name).read_text().splitlines())
             for name in ("capacity.py", "slo_layout.py")}
    assert all(100 < n <= BUDGET_LINES for n in sizes.values()), sizes


@pytest.mark.parametrize("first", ["engine.serving.slo_layout", "engine.serving.capacity"])
def test_either_module_imports_first_in_a_fresh_interpreter(first):
    code = (f"import {first}\n"
            "import engine.serving.capacity as c, engine.serving.slo_layout as s\n"
            "assert s.slo_capacity_sim is c.slo_capacity_sim\n"
            "assert not hasattr(c, '_best_layout_under_load') and not hasattr(c, '_under_load')\n"
            "print(s.best_layout_under_load.__module__)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "engine.serving.slo_layout"


def test_chips_for_a_demand_are_whole_replicas_and_the_layout_is_named():
    from engine.serving.slo_layout import _chips_for, _layout_words

    # 100 output tokens/s per chip on 8-chip replicas: 800 per replica, 10,000 needs 12.5 -> 13 replicas
    cap = SimpleNamespace(feasible=True, output_tokens_per_s_per_chip=100.0, chips_per_replica=8)
    assert _chips_for(cap, 10_000.0) == 104
    assert _chips_for(cap, 9_600.0) == 96                 # exactly 12 replicas (no rounding up by float noise)
    assert _chips_for(cap, None) is None and _chips_for(SimpleNamespace(**{**vars(cap), "feasible": False}), 1.0) is None
    assert _layout_words(SimpleNamespace(tp=2, ep=1)) == "TP2"
    assert _layout_words(SimpleNamespace(tp=1, ep=8)) == "TP1 EP8"


def test_the_entry_point_answers_with_the_moved_layout_search():
    """Llama 3 8B at 2,000/300 on H20, fixed lengths, p90 TTFT 500 ms / TPOT 25 ms, 100,000
    tokens/s: the steady search picks TP2, the search under load TP4 (200 chips, the QA case of
    tests/engine/test_slo_best_layout_s25.py); the entry point's answer is the moved race's."""
    from engine.inference import slo_capacity
    from engine.serving.capacity import slo_capacity_tokens_per_s_per_chip
    from engine.serving.slo_layout import best_layout_under_load

    model, chip = reference_models()["llama3-8b"], reference_chips()["h20-96gb"]
    kw = dict(input_len=2000, output_len=300, ttft_ms=500.0, tpot_ms=25.0, weight_dtype="bf16", kv_dtype="bf16",
              engine="", factors=None, prefix_cache_hit=0.0)
    steady = slo_capacity(model, chip, demand_output_tokens_per_s=100_000.0, **kw)
    assert steady.tp == 2 and len(steady.layout_ranking) > 1
    load = dict(kw, percentile="p90", input_spread=0.0, output_spread=0.0, prefill_tp=None, prefill_instances=1,
                seed=0, demand=100_000.0)
    moved = best_layout_under_load(model, chip, steady, load)
    answer = slo_capacity_tokens_per_s_per_chip(model, chip, percentile="p90", demand_output_tokens_per_s=100_000.0,
                                                **{k: v for k, v in kw.items()})
    assert answer == moved
    assert answer.tp == 4 and answer.layout_choice.startswith("TP4: the fewest chips for 100,000 output tokens/s")
    per_replica = answer.output_tokens_per_s_per_chip * answer.chips_per_replica
    assert -(-100_000.0 // per_replica) * answer.chips_per_replica == 200
