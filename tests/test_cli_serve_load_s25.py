"""`fleetcast serve` under load (QA s25): a --request-rate past what the deployment serves is
flagged however much of it the steady window reads served, and loads below it are not; a run held
by the engine's sequence cap names the cap; chips_needed with no latency target says what bounds
it; small KV peaks, the per-TP line and a layout --chips forced read as they are."""

import json
import math
import re

import pytest

from engine.cli import main

EIGHT_B = ["--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "2000", "--output-len", "300"]
SEVENTY_B_DISAGG = ["--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "4", "--prefill-tp", "4",
                    "--input-len", "2000", "--output-len", "300"]


def _serve(capsys, *args) -> dict:
    assert main(["serve", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _text(capsys, *args) -> str:
    assert main(["serve", *args]) == 0
    return capsys.readouterr().out


def _saturation_per_s(capsys, *args) -> float:
    """Requests/s one replica completes offline (every request at once): the offline output rate
    over the 300-token outputs, in chips per replica."""
    off = _serve(capsys, *args, "--offline")
    return off["output_tokens_per_s_per_chip"] * off["chips"] / 300


# ---- 1. overloaded whenever the offered rate exceeds what is served ---------------------------------

def test_a_rate_past_saturation_is_overloaded_at_any_run_length(capsys):
    """QA: 12 requests/s where about 11.05 are served read 91-92% served, `overloaded: false` and no
    note, while mean TTFT went 3.3 s -> 22 s from 2,000 to 8,000 requests (the 90% bar)."""
    sat = _saturation_per_s(capsys, *EIGHT_B)
    assert 10.5 < sat < 11.5
    short = _serve(capsys, *EIGHT_B, "--request-rate", "12", "--requests", "2000")
    long = _serve(capsys, *EIGHT_B, "--request-rate", "12", "--requests", "8000")
    assert long["ttft_ms"] > 3 * short["ttft_ms"]            # the queue grows with the run
    for d in (short, long):
        assert 0.9 < d["served_share_of_offered"] < 0.97     # what the old 90% bar let through
        assert d["overloaded"] is True
        assert [n for n in d["notes"] if n.startswith("overloaded: 12 requests/s offered, about 1")]


def test_an_excess_within_the_windows_noise_is_read_off_the_queues_growth(capsys):
    """3% over saturation: the steady window serves within 3% of the load, which the simulator
    reports as all of it, while the wait rises all run. The queue's growth rate gives the served
    rate back: lambda / (1 + growth), which lands on the offline saturation."""
    sat = _saturation_per_s(capsys, *EIGHT_B)
    rate = round(1.03 * sat, 2)
    d = _serve(capsys, *EIGHT_B, "--request-rate", f"{rate}", "--requests", "8000")
    # one share: the throughput is read off the queue too (it read 100% beside the queue's 97%)
    assert d["served_share_of_offered"] == pytest.approx(d["served_share_from_queue_growth"], rel=1e-9)
    assert d["overloaded"] is True
    served_per_s = d["served_share_from_queue_growth"] * rate
    assert served_per_s == pytest.approx(sat, rel=0.03)
    note = next(n for n in d["notes"] if n.startswith("overloaded:"))
    assert f"about {served_per_s:.3g} served" in note


@pytest.mark.parametrize("share_of_saturation", [0.5, 0.8, 0.95])
def test_loads_below_saturation_are_not_overloaded(capsys, share_of_saturation):
    sat = _saturation_per_s(capsys, *EIGHT_B)
    for requests in ("2000", "8000"):
        d = _serve(capsys, *EIGHT_B, "--request-rate", f"{share_of_saturation * sat:.4f}", "--requests", requests)
        assert d["overloaded"] is False and d["notes"] == []
        assert d["served_share_of_offered"] > 0.99   # 95%: a wait that rose a few decode steps over 8,000


def test_a_stable_queue_whose_window_reads_short_is_not_overloaded(capsys):
    """Qwen2.5-72B on 2 MI300X at 95% of its saturation with CV 1 lengths: its window reads 90%
    served over 2,000 requests (a wait that rose to 1.6 s and fell back), which the old bar called
    overloaded; 8,000 and 32,000 requests read 100% and the same TTFT (1.5-1.7 s): no queue grows."""
    args = ["--model", "qwen2.5-72b", "--chip", "mi300x", "--tp", "2", "--input-len", "2000", "--output-len", "300",
            "--input-len-spread", "1", "--output-len-spread", "1", "--request-rate", "2.58", "--seed", "1"]
    short = _serve(capsys, *args)
    assert short["served_share_of_offered"] == pytest.approx(1.0)   # the window read 90%
    assert short["overloaded"] is False and short["served_share_from_queue_growth"] is None
    long = _serve(capsys, *args, "--requests", "8000")
    assert long["overloaded"] is False and long["ttft_ms"] < 1.5 * short["ttft_ms"]


def test_a_disaggregated_run_past_its_saturation_is_overloaded(capsys):
    """QA: TP4 decode + a TP4 prefill instance for Llama 3 70B saturates near 7.2 requests/s; at 8
    TTFT went 10.2 s -> 45 s from 2,000 to 8,000 requests and at 7.5 4.6 s -> 14.9 s (100% served
    at 8,000), both read `disaggregated.overloaded: false`."""
    for rate, requests in (("8", "2000"), ("7.5", "8000")):
        d = _serve(capsys, *SEVENTY_B_DISAGG, "--request-rate", rate, "--requests", requests)
        dis = d["disaggregated"]
        assert dis["overloaded"] is True, (rate, requests)
        assert dis["bound_by"] == "prefill pool"
        assert [n for n in d["notes"] if n.startswith(f"disaggregated: overloaded: {rate} requests/s offered")]
    # the last one (4% past saturation, 98% over 2,000 requests, the queue barely formed): one share
    assert dis["served_share_of_offered"] == pytest.approx(dis["served_share_from_queue_growth"], rel=1e-9)
    assert dis["served_share_of_offered"] < 0.97
    # 90% of that saturation: a queue that does not grow
    light = _serve(capsys, *SEVENTY_B_DISAGG, "--request-rate", "6.5", "--requests", "8000")["disaggregated"]
    assert light["overloaded"] is False


# ---- 2. the engine's sequence cap is named when the batch sits at it --------------------------------

def test_a_run_held_at_the_engine_cap_names_the_cap(capsys):
    """QA: --max-num-seqs 32 at 8 requests/s read "limited by bandwidth ... at batch 31", overloaded
    at 89% served; --offline named the cap."""
    capped = _serve(capsys, *EIGHT_B, "--max-num-seqs", "32", "--request-rate", "8")
    assert capped["overloaded"] is True
    assert capped["limiting"] == "engine batch cap"
    assert capped["explanation"].startswith("the engine's cap of 32 running sequences per replica is reached")
    assert f"the KV cache would hold {capped['max_concurrency']}" in capped["explanation"]
    note = next(n for n in capped["notes"] if n.startswith("overloaded:"))
    assert f"raise --max-num-seqs (the KV cache holds {capped['max_concurrency']})" in note
    assert _serve(capsys, *EIGHT_B, "--max-num-seqs", "32", "--offline")["limiting"] == "engine batch cap"
    # a batch of 23 under the cap of 32: the step's own limit
    light = _serve(capsys, *EIGHT_B, "--max-num-seqs", "32", "--request-rate", "6")
    assert light["running_batch"] < 30 and light["limiting"] == "bandwidth"


# ---- 3. chips_needed with no latency target --------------------------------------------------------

DEMAND_70B = ["--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "8", "--input-len", "2000",
              "--output-len", "300", "--demand-tokens-per-s", "100000"]


def test_chips_needed_with_no_target_says_it_is_at_saturation(capsys):
    d = _serve(capsys, *DEMAND_70B)
    assert d["chips_needed_at"] == "saturation"
    note = next(n for n in d["notes"] if n.startswith("no latency target bounds chips_needed"))
    assert f"{d['chips_needed']:,} chips run every replica at saturation" in note
    assert "--ttft-ms/--tpot-ms" in note and "TPOT" in note and "TTFT" in note


def test_chips_needed_under_a_load_with_no_target_is_at_that_loads_rate(capsys):
    """QA: --request-rate 6 simulated 225 output tokens/s per chip, and chips_needed stayed at 280,
    the offline saturation's 357.5 per chip."""
    at_saturation = _serve(capsys, *DEMAND_70B)["chips_needed"]
    d = _serve(capsys, *DEMAND_70B, "--request-rate", "6")
    rate = d["output_tokens_per_s_per_chip"]
    # whole TP8 replicas at this load's rate
    assert d["chips_needed"] == math.ceil(100000 / (rate * 8)) * 8 > at_saturation
    assert d["chips_needed_at"] == "this load"
    note = next(n for n in d["notes"] if n.startswith("no latency target bounds chips_needed"))
    assert f"{d['chips_needed']:,} chips at this load's {rate:,.1f} output tokens/s per chip" in note
    assert f"{at_saturation:,}" in note
    assert "chips_needed is at this run's load" in d["layouts_at"]


# ---- 4. words: a small KV peak, the per-TP line, a layout --chips forced ------------------------------

def test_a_small_kv_peak_keeps_a_decimal(capsys):
    """QA: "KV use peaks at 0%" beside kv_used_pct_peak 0.54."""
    d = _serve(capsys, "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--input-len", "500", "--output-len",
               "50", "--concurrency", "1")
    pct = d["kv_used_pct_peak"]
    assert 0.05 <= pct < 1
    assert d["explanation"].endswith(f"KV use peaks at {pct:.1f}%")
    from engine.commands.serve import _pct_text

    assert [_pct_text(p) for p in (0.0, 0.0074, 0.54, 0.96, 1.6, 37.6)] == [
        "0%", "under 0.1%", "0.5%", "1.0%", "2%", "38%"]


def test_the_per_tp_line_has_one_level_of_parentheses(capsys):
    """QA: "by TP (steady state (chips_needed is at p90 under load))"."""
    out = _text(capsys, *EIGHT_B, "--ttft-ms", "2000", "--tpot-ms", "50", "--slo-percentile", "p90",
                "--demand-tokens-per-s", "100000")
    line = next(x for x in out.splitlines() if x.startswith("chips needed for"))
    by_tp = line[line.index("; by TP"):]
    assert by_tp.startswith("; by TP at the steady state, except TP1 at p90 under load: TP1 ")
    depth = deepest = 0
    for ch in by_tp:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        deepest = max(deepest, depth)
    assert deepest <= 1 and depth == 0


def test_a_layout_that_chips_forced_is_said(capsys):
    """QA: --chips 6 on Llama 3 70B / H20 with targets 2 s / 50 ms silently ran TP2, where TP8 (8
    chips a replica) gives more per chip under the same targets."""
    args = ["--model", "llama3-70b", "--chip", "h20-96gb", "--input-len", "2000", "--output-len", "300",
            "--ttft-ms", "2000", "--tpot-ms", "50"]
    best = _serve(capsys, *args)
    forced = _serve(capsys, *args, "--chips", "6")
    assert best["tp"] == 8 and forced["tp"] == 2
    assert best["output_tokens_per_s_per_chip"] > forced["output_tokens_per_s_per_chip"]
    note = next(n for n in forced["notes"] if n.startswith("--chips 6 sets the layout"))
    assert (f"the best layout, TP8 ({best['output_tokens_per_s_per_chip']:,.1f} output tokens/s per chip under the "
            "targets), needs 8 chips per replica") in note
    assert f"TP2 ({forced['output_tokens_per_s_per_chip']:,.1f} output tokens/s per chip" in note
    assert "--chips 8 for TP8" in note
    text = _text(capsys, *args, "--chips", "6")
    assert re.search(r"note: --chips 6 sets the layout: the best layout, TP8 \(", text)
