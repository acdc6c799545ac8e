"""QA on disaggregated serving and precisions (s24).

1. the first token reaches the user from the decode instance, after the KV transfer and the
   decode instance's admission: an overloaded decode side's queue is in TTFT, and the
   disaggregated block carries the aggregated run's overload flag and served share;
2. / 3. one KV transfer is bound by the slower side, the prefill chips' NICs sending or the decode
   attention group's (TP x PP chips) receiving;
4. TTFT includes the transfer, and transfers share the NICs (they queue);
5. the assumed scale-out NIC is said whenever KV crosses between pools;
6. FP4 weights default to an FP8 KV cache on a chip with an FP8 rate;
7. --max-num-seqs is per attention rank; the headline names EP; wording.
"""

import json
from dataclasses import replace

import numpy as np
import pytest

from engine.catalog import reference_chips, reference_models
from engine.cli import main
from engine.inference import ServingInputs, default_kv_dtype
from engine.serving.capacity import (kv_transfer_s_per_token, prefill_pool_of, simulate_disaggregated,
                                     slo_capacity_sim)
from engine.serving.cost_model import build_cost_model
from engine.serving.simulator import PrefillPool, prefill_pool_done

CHIPS, MODELS = reference_chips(), reference_models()
NIC_EFF = 0.8   # inf_scaleout_eff: achieved share of a NIC's rate


def _serve(capsys, *args) -> dict:
    assert main(["serve", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


# ---- 1. the first token comes from the decode instance ---------------------------------------------

def test_an_overloaded_decode_instance_shows_its_queue_in_ttft_and_is_flagged(capsys):
    """Llama 3 70B, TP8 decode + TP8 prefill on H100 at 30 requests/s (500/1,000): the decode
    side serves about half the load. Before: TTFT p90 106 ms beside a 40.7 s mean queue (the
    first token was timed at the prefill pool), no overload flag on the disaggregated block."""
    d = _serve(capsys, "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--tp", "8", "--input-len", "500",
               "--output-len", "1000", "--request-rate", "30", "--prefill-tp", "8", "--requests", "4000")
    dis = d["disaggregated"]
    assert dis["ttft_ms"] >= dis["queue_ms"] > 10_000      # every wait is before the first token
    assert dis["ttft_ms_p90"] > 10_000
    assert dis["served_share_of_offered"] < 0.9 and dis["overloaded"] is True
    # TPOT is the decode steps' alone (it held the queue: p90 148 ms)
    assert dis["tpot_ms_p90"] < 100
    assert any(n.startswith("disaggregated: overloaded: 30 requests/s offered") for n in d["notes"])


def test_a_decode_instance_at_its_seat_cap_keeps_requests_from_their_first_token(capsys):
    """DeepSeek-V3 FP8 on H200, TP1 EP8 decode at 4 sequences per attention rank: before, TTFT
    p90 165 ms with a 157 s mean queue."""
    d = _serve(capsys, "--model", "deepseek-v3", "--chip", "h200-sxm-141gb", "--weight-dtype", "fp8", "--tp", "1",
               "--ep", "8", "--prefill-tp", "8", "--request-rate", "5", "--max-num-seqs", "4", "--input-len", "500",
               "--output-len", "1000")
    dis = d["disaggregated"]
    assert dis["overloaded"] is True
    assert dis["ttft_ms_p90"] > 100 * 165 and dis["ttft_ms"] >= dis["queue_ms"]


def test_a_light_load_is_not_flagged_and_each_ttft_holds_its_prefill_and_transfer(capsys):
    d = _serve(capsys, "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "2000",
               "--output-len", "100", "--request-rate", "1", "--prefill-tp", "1", "--requests", "400")
    assert d["disaggregated"]["overloaded"] is False
    inp = ServingInputs(model=MODELS["llama3-8b"], chip=CHIPS["h100-sxm5-80gb"], tp=1, input_len=2000,
                        output_len=100, scenario="server", request_rate=1.0)
    pool, _ = prefill_pool_of(inp, 1)
    run = simulate_disaggregated(inp, prefill_tp=1, requests=400)
    transfer = run.sim.input_lens * pool.transfer_s_per_token
    # TTFT: the waits (queue_s), the prefill and the transfer; before, the transfer was left out
    assert (run.sim.ttft_s - run.sim.queue_s >= transfer - 1e-12).all()


# ---- 2. / 3. the transfer's slower side ------------------------------------------------------------------

def test_one_nic_sending_bounds_the_transfer_as_one_nic_receiving_does(capsys):
    """Llama 3 70B on B200, 8,000 prompt tokens: 327,680 B/token through one 50 GB/s NIC at 80%
    is 65.5 ms whichever side has the one chip (before: 8.19 ms from TP1 prefill to TP8 decode)."""
    by_hand_ms = 327_680 * 8000 / (50e9 * NIC_EFF) * 1e3
    model, chip = MODELS["llama3-70b"], CHIPS["b200"]
    for tp, prefill_tp in ((8, 1), (1, 8)):
        ms = kv_transfer_s_per_token(model, chip, tp=tp, prefill_tp=prefill_tp) * 8000 * 1e3
        assert ms == pytest.approx(by_hand_ms, rel=1e-9), (tp, prefill_tp)
    d = _serve(capsys, "--model", "llama3-70b", "--chip", "b200", "--tp", "8", "--input-len", "8000",
               "--output-len", "10", "--offline", "--requests", "20", "--prefill-tp", "1")
    assert d["disaggregated"]["kv_transfer_ms_per_request"] == pytest.approx(by_hand_ms, rel=1e-9)


def test_the_transfer_counts_the_decode_pipeline_stages():
    """Llama 3.1 405B TP8 x PP2 decode, TP16 prefill, 2,000 tokens: 516,096 B/token over 16
    chips each way is 1.613 ms (before: 3.226 ms, the decode side priced as one stage)."""
    by_hand_s = 516_096 / 16 * 2000 / (50e9 * NIC_EFF)
    model, chip = MODELS["llama3-405b"], CHIPS["h100-sxm5-80gb"]
    assert kv_transfer_s_per_token(model, chip, tp=8, pp=2, prefill_tp=16) * 2000 == pytest.approx(by_hand_s, rel=1e-9)
    inp = ServingInputs(model=model, chip=chip, tp=8, pp=2, input_len=2000, output_len=100, scenario="offline")
    pool, chips = prefill_pool_of(inp, 16)
    assert chips == 16 and pool.transfer_s_per_token * 2000 == pytest.approx(by_hand_s, rel=1e-9)


# ---- 4. TTFT includes the transfer, and transfers share the NICs -------------------------------------------

def test_transfers_queue_for_the_nics():
    """Ten 1,000-token prompts at once, 1 ms per token on the NICs: one prefill step, then the
    transfers one after another, a second apart (before: all ten arrived together)."""
    from engine.serving.simulator import prefill_pool_ready

    cm = build_cost_model(MODELS["llama3-8b"], CHIPS["h100-sxm5-80gb"], tp=1, weight_dtype="bf16", kv_dtype="bf16")
    pool = PrefillPool(cm, instances=1, max_num_batched_tokens=16_384, transfer_s_per_token=1e-3)
    arrivals, lin = np.zeros(10), np.full(10, 1000)
    done = prefill_pool_done(pool, arrivals, lin, 0.0)
    assert np.ptp(done) == 0.0                                   # one prefill step for all ten
    ready, waited = prefill_pool_ready(pool, arrivals, lin, 0.0)
    np.testing.assert_allclose(np.sort(ready), done[0] + np.arange(1, 11) * 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.sort(waited), np.arange(10) * 1.0, rtol=1e-12, atol=1e-12)
    # the decode instance's NICs are shared by every prefill instance's transfers
    two = replace(pool, instances=2, send_s_per_token=0.5e-3, recv_s_per_token=1e-3)
    ready2, _ = prefill_pool_ready(two, arrivals, lin, 0.0)
    assert np.diff(np.sort(ready2)).min() == pytest.approx(1.0, rel=1e-9)


def test_a_slow_nic_bounds_the_slo_load_and_its_ttft_holds_the_transfer():
    """A 1 GB/s NIC: Llama 3 8B 2,000/200 moves 2,000 x 131,072 B = 328 ms per request. Before,
    TTFT left the transfer out and each transfer had the NIC to itself: a 1,000 ms p90 target was
    met with a NIC 220% busy. Now the SLO load keeps the NIC under full use and every TTFT holds
    its transfer."""
    chip = replace(CHIPS["h100-sxm5-80gb"], scaleout_gbps=1.0)
    model = MODELS["llama3-8b"]
    per_request_s = kv_transfer_s_per_token(model, chip, tp=1, prefill_tp=1) * 2000
    assert per_request_s == pytest.approx(2000 * 131_072 / (1e9 * NIC_EFF), rel=1e-9)
    found = slo_capacity_sim(model, chip, input_len=2000, output_len=200, ttft_ms=1000, prefill_tp=1)
    assert found.feasible and found.ttft_ms["p90"] <= 1000
    assert found.request_rate_per_s * per_request_s < 1.0
    inp = ServingInputs(model=model, chip=chip, tp=1, input_len=2000, output_len=200, scenario="server",
                        request_rate=found.request_rate_per_s)
    run = simulate_disaggregated(inp, prefill_tp=1, requests=1000)
    assert (run.sim.ttft_s >= per_request_s).all()


def test_serve_says_when_the_transfers_need_more_than_the_nics_time(capsys):
    """Llama 2 7B (MHA: 524,288 B/token) on V100 (6.25 GB/s NICs), 4 x TP1 prefill into one TP1
    decode chip: 8 requests/s x 210 ms of transfer is 168% of the decode chip's NIC."""
    d = _serve(capsys, "--model", "llama2-7b", "--chip", "v100-sxm2-32gb", "--weight-dtype", "fp16", "--tp", "1",
               "--input-len", "2000", "--output-len", "100", "--request-rate", "8", "--prefill-tp", "1",
               "--prefill-instances", "4", "--requests", "600")
    dis = d["disaggregated"]
    assert dis["kv_transfer_ms_per_request"] == pytest.approx(2000 * 524_288 / (6.25e9 * NIC_EFF) * 1e3, rel=1e-9)
    assert dis["kv_transfer_nic_busy_share"] == pytest.approx(8 * dis["kv_transfer_ms_per_request"] / 1e3, rel=1e-9)
    assert any("KV transfers need 168% of the NICs' time" in n for n in d["notes"])
    assert dis["overloaded"] is True


# ---- 5. the assumed NIC note ------------------------------------------------------------------------------

def test_the_assumed_nic_is_said_with_prefill_tp_alone(capsys):
    """H20 has no scale-out figure: a TP1 replica with TP1 prefill moves KV over an assumed NIC
    (before: said only when --prefill-instances was typed)."""
    d = _serve(capsys, "--model", "llama3-8b", "--chip", "h20-96gb", "--tp", "1", "--input-len", "500",
               "--output-len", "50", "--offline", "--requests", "50", "--prefill-tp", "1")
    assert any("no scale-out NIC figure" in n for n in d["notes"])


# ---- 6. FP4 weights, FP8 KV -------------------------------------------------------------------------------

def test_fp4_weights_default_to_an_fp8_kv_cache_where_the_chip_has_fp8(capsys):
    assert default_kv_dtype("fp4", CHIPS["b200"]) == "fp8"
    assert default_kv_dtype("fp4", CHIPS["h100-sxm5-80gb"]) == "fp8"
    assert default_kv_dtype("fp4", CHIPS["a100-sxm4-80gb"]) == "bf16"    # no FP8 rate
    assert [default_kv_dtype(w) for w in ("bf16", "fp16", "fp8", "int8", "int4")] == \
        ["bf16", "fp16", "fp8", "bf16", "bf16"]
    seqs = {}
    for wdt in ("fp8", "fp4"):
        d = _serve(capsys, "--model", "llama3-70b", "--chip", "b200", "--weight-dtype", wdt, "--tp", "8",
                   "--input-len", "1000", "--output-len", "1000", "--offline", "--requests", "100")
        assert d["kv_dtype"] == "fp8"
        seqs[wdt] = d["max_concurrency"]
    # smaller weights leave more room for the same cache (before: 1,978 beside FP8's 3,851)
    assert seqs["fp4"] > seqs["fp8"]


# ---- 7. wording ---------------------------------------------------------------------------------------------

def test_the_engine_cap_is_per_attention_rank_and_the_headline_names_ep(capsys):
    assert main(["serve", "--model", "deepseek-v3", "--chip", "h200-sxm-141gb", "--weight-dtype", "fp8", "--tp", "1",
                 "--ep", "16", "--max-num-seqs", "2", "--input-len", "500", "--output-len", "500", "--offline"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    assert "(tp=1, ep=16)" in head
    assert "the engine's cap of 2 running sequences per attention rank (32 per replica over 16 ranks)" in head
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "the engine's cap on running sequences per attention rank" in help_text


def test_ep_that_does_not_divide_the_experts_names_the_flag(capsys):
    assert main(["serve", "--model", "deepseek-v3", "--chip", "h200-sxm-141gb", "--weight-dtype", "fp8", "--tp", "1",
                 "--ep", "3", "--input-len", "500", "--output-len", "500", "--offline"]) != 0
    err = capsys.readouterr().err
    assert "--ep 3: must divide deepseek-v3's 256 experts" in err and "Traceback" not in err


def test_one_request_per_second_is_singular(capsys):
    assert main(["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "500",
                 "--output-len", "50", "--request-rate", "1", "--requests", "100", "--prefill-tp", "1"]) == 0
    out = capsys.readouterr().out
    assert "at 1 request/s)" in out and "at 1 requests/s" not in out
