"""`fleetcast serve`: a load over several replicas that does not divide evenly, one output token,
flags that mean nothing together, and layouts whose figures equal another's (QA review)."""

import json

import pytest

from engine.cli import main

LOAD = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "1000",
        "--output-len", "100", "--format", "json"]


def _serve(capsys, *extra):
    assert main(LOAD + list(extra)) == 0
    return json.loads(capsys.readouterr().out)


def test_clients_that_do_not_divide_over_the_replicas_are_not_rounded_up(capsys):
    """QA: --chips 16 --concurrency 1 (two TP8 replicas) read 9.83 output tokens/s per chip, one
    replica's figure: each replica was simulated with ceil(1 / 2) = 1 client. One client keeps one
    replica busy and leaves the other idle; 4 clients over 3 replicas are 2 + 1 + 1."""
    one = _serve(capsys, "--concurrency", "1")          # one client on one chip
    two = _serve(capsys, "--concurrency", "2")          # two clients on one chip
    idle = _serve(capsys, "--concurrency", "1", "--chips", "2")
    # the one client's tokens over both chips; its requests are the same requests
    assert idle["replicas"] == 2
    assert idle["output_tokens_per_s_per_chip"] == pytest.approx(one["output_tokens_per_s_per_chip"] / 2)
    assert idle["ttft_ms"] == pytest.approx(one["ttft_ms"])
    assert idle["ttft_ms_p90"] == pytest.approx(one["ttft_ms_p90"])
    assert idle["simulated_requests"] == one["simulated_requests"]
    assert idle["running_batch"] == pytest.approx(one["running_batch"] / 2)   # the idle replica runs none
    assert "1 replica idle" in idle["explanation"]

    mixed = _serve(capsys, "--concurrency", "4", "--chips", "3")
    assert mixed["replicas"] == 3
    # throughput: one replica of 2 clients and two of 1, over the 3 chips
    expected = (two["output_tokens_per_s_per_chip"] + 2 * one["output_tokens_per_s_per_chip"]) / 3
    assert mixed["output_tokens_per_s_per_chip"] == pytest.approx(expected)
    assert mixed["total_tokens_per_s_per_chip"] == pytest.approx(
        (two["total_tokens_per_s_per_chip"] + 2 * one["total_tokens_per_s_per_chip"]) / 3)
    # latency over the requests every replica serves in a common time (each simulates 500): a
    # replica's weigh replicas x clients / e2e latency (its requests per second), here about 1 : 1
    assert one["simulated_requests"] == two["simulated_requests"] == 500
    assert mixed["simulated_requests"] == 3 * 500
    w_two, w_one = 1 * 2 / two["e2e_latency_ms"], 2 * 1 / one["e2e_latency_ms"]
    for key in ("ttft_ms", "e2e_latency_ms"):
        assert mixed[key] == pytest.approx((two[key] * w_two + one[key] * w_one) / (w_two + w_one))
    assert mixed["running_batch"] == pytest.approx((two["running_batch"] + 2 * one["running_batch"]) / 3)
    assert "4 clients over 3 replicas" in mixed["explanation"]
    # an even split is one replica's figures, as before
    even = _serve(capsys, "--concurrency", "4", "--chips", "2")
    assert even["output_tokens_per_s_per_chip"] == pytest.approx(two["output_tokens_per_s_per_chip"])
    assert "replicas:" not in even["explanation"]


def test_requests_that_do_not_divide_over_the_replicas_are_not_rounded_up(capsys):
    """QA: --offline --requests 3 over two replicas reported simulated_requests 4 (ceil(3 / 2) each):
    one replica runs 2 and the other 1, and the deployment's throughput is the two summed."""
    alone = {n: _serve(capsys, "--offline", "--requests", str(n)) for n in (1, 2)}
    split = _serve(capsys, "--offline", "--requests", "3", "--chips", "2")
    assert split["simulated_requests"] == 3
    assert split["output_tokens_per_s_per_chip"] == pytest.approx(
        (alone[1]["output_tokens_per_s_per_chip"] + alone[2]["output_tokens_per_s_per_chip"]) / 2)
    # three requests' TTFTs: the mean of the two-request replica's two and the lone one
    assert split["ttft_ms"] == pytest.approx((2 * alone[2]["ttft_ms"] + alone[1]["ttft_ms"]) / 3)
    # the disaggregated run beside it splits them the same way
    assert main(LOAD + ["--offline", "--requests", "3", "--chips", "2", "--prefill-tp", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["disaggregated"]["simulated_requests"] == 3


def test_one_output_token_has_no_tpot_and_no_decode_limit(capsys):
    """QA: --output-len 1 reported tpot_ms 7.16 and "decode steps are HBM-bandwidth bound": no
    decode step runs, the one token comes from the prefill."""
    argv = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "1000",
            "--output-len", "1", "--concurrency", "4"]
    assert main(argv + ["--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("tpot_ms", "tpot_ms_p50", "tpot_ms_p90", "tpot_ms_p99", "decode_step_ms"):
        assert d[key] is None, key
    assert d["decode_breakdown_ms"] == {}
    assert "decode steps are" not in d["explanation"] and "no decode steps" in d["explanation"]
    assert d["limiting"] in ("compute", "bandwidth", "overhead")   # the prefill's, named in the explanation
    assert any("TPOT does not apply" in n for n in d["notes"])
    # each request is its prompt: 4 clients in a closed loop complete 4 requests per e2e latency
    assert d["output_tokens_per_s_per_chip"] == pytest.approx(4 / (d["e2e_latency_ms"] / 1e3), rel=0.05)
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert [line.split()[-1] for line in table.splitlines() if line.startswith("tpot_ms ")] == ["n/a"]
    # a TPOT target there is a target for nothing: not applied, and said so (QA: "TPOT 31.9 ms > 10 ms
    # even at batch 1", the prompt's prefill read as a time per output token)
    assert main(argv + ["--tpot-ms", "10", "--format", "json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert "slo" not in alone and alone["output_tokens_per_s_per_chip"] == d["output_tokens_per_s_per_chip"]
    assert any("--tpot-ms 10 is not applied" in n for n in alone["notes"])
    assert main(argv + ["--tpot-ms", "10", "--ttft-ms", "500", "--format", "json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["slo"] == {"ttft_ms": 500.0, "tpot_ms": None} and both["slo_feasible"]
    assert main(argv[:-2] + ["--tpot-ms", "10"]) == 0   # no load: was "the latency targets cannot be met"
    assert "note: --tpot-ms 10 is not applied" in capsys.readouterr().out
    # a TTFT target alone still holds, with TPOT not applicable beside it
    assert main(argv[:-2] + ["--ttft-ms", "500", "--format", "json"]) == 0
    slo = json.loads(capsys.readouterr().out)
    assert slo["slo_feasible"] and slo["slo_tpot_ms"] is None and slo["tpot_ms"] is None
    assert slo["max_throughput"]["tpot_ms"] is None


def test_a_scenarios_tpot_target_with_one_output_token_is_dropped_with_a_note(capsys, tmp_path):
    from engine.store import open_store
    from engine.studies import ServingStudy

    study = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, input_len=1000, output_len=100,
                         ttft_ms=2000.0, tpot_ms=50.0)
    path = str(tmp_path / "serve.db")
    store = open_store(path)
    params = dict(store.scenario("Story default")["params"])
    store.save_scenario("served", {**params, "ui": {"inference": study.to_dict()}})
    store.close()
    assert main(["serve", "--db", path, "--scenario", "served", "--output-len", "1", "--concurrency", "4",
                 "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["slo"] == {"ttft_ms": 2000.0, "tpot_ms": None}
    assert any("TPOT target (50 ms) is not applied" in n for n in d["notes"])
    assert d["tpot_ms"] is None and d["slo_tpot_ms"] is None


@pytest.mark.parametrize("load", [["--concurrency", "4"], ["--request-rate", "2"], ["--offline"]])
def test_a_percentile_with_a_load_and_no_target_is_refused(capsys, load):
    """QA: --slo-percentile p99 with --concurrency and no --ttft-ms/--tpot-ms was silently ignored;
    like the other flags that mean nothing together it is one line naming it (exit 1)."""
    assert main(LOAD + load + ["--slo-percentile", "p99"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--slo-percentile p99" in err and " ".join(load) in err and "Traceback" not in err
    # with a target it holds the target at that percentile, as before
    assert main(LOAD + load + ["--slo-percentile", "p99", "--ttft-ms", "5000", "--requests", "200"]) == 0
    assert json.loads(capsys.readouterr().out)["slo_percentile"] == "p99"


def test_disaggregated_prefill_without_a_tpot_target_names_the_cause(capsys):
    """QA: --ttft-ms 500 --prefill-tp 8 said "a running batch of 1017 sequences per replica is beyond
    the 512 simulated here": nothing bounded the batch (no TPOT target). The message says so and
    what bounds it; doing that runs."""
    argv = ["serve", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "8", "--input-len", "1024",
            "--output-len", "256", "--ttft-ms", "500", "--prefill-tp", "8", "--format", "json"]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no TPOT target" in err and "--tpot-ms" in err and "--max-num-seqs" in err
    assert main(argv + ["--max-num-seqs", "256"]) == 0
    assert json.loads(capsys.readouterr().out)["slo_feasible"]


def test_ep_within_the_tp_group_says_its_figures_are_ep1s(capsys):
    """QA: DeepSeek-V3 on H200 at --tp 8 --ep 8 (or --ep 2) gave EP1's figures, deliberately (experts
    inside the attention TP group need no dispatch), and echoed "ep": 8 without a word."""
    argv = ["serve", "--model", "deepseek-v3", "--chip", "h200-sxm-141gb", "--tp", "8", "--weight-dtype", "fp8",
            "--input-len", "1024", "--output-len", "64", "--concurrency", "8", "--requests", "32"]
    runs = {}
    for ep in (1, 2, 8):
        assert main(argv + ["--ep", str(ep), "--format", "json"]) == 0
        runs[ep] = json.loads(capsys.readouterr().out)
    assert [n for n in runs[1]["notes"] if not n.startswith("TTFT p50 equals p90")] == []   # (clients in step: s39)
    for ep in (2, 8):
        assert runs[ep]["ep"] == ep
        assert runs[ep]["output_tokens_per_s_per_chip"] == runs[1]["output_tokens_per_s_per_chip"]
        assert [n for n in runs[ep]["notes"] if f"EP{ep} lies within the TP8" in n and "equal EP1" in n]
    assert main(argv + ["--ep", "8"]) == 0
    assert "note: EP8 lies within the TP8 attention group" in capsys.readouterr().out


def test_an_overloaded_open_loop_says_its_latencies_grow_with_the_run(tmp_path, capsys):
    """32 requests/s on 8 H100 (about 17.5 served: 561 output tokens/s per chip x 8 / 256) gave a
    TTFT of 1.8, 16.8 or 91.9 s at 500, 2,000 or 8,000 requests, and nothing said why."""
    from engine.cli import main

    base = ["--db", str(tmp_path / "s.db"), "--format", "json", "serve", "--model", "llama3-70b", "--chip",
            "h100-sxm5-80gb", "--tp", "8", "--input-len", "1024", "--output-len", "256", "--request-rate"]
    assert main(base + ["32"]) == 0
    over = json.loads(capsys.readouterr().out)
    served = over["output_tokens_per_s_per_chip"] * 8 / 256
    assert over["overloaded"] and over["served_share_of_offered"] == pytest.approx(served / 32)
    assert any(n.startswith("overloaded: 32 requests/s offered, about 17") for n in over["notes"])
    assert main(base + ["8"]) == 0
    light = json.loads(capsys.readouterr().out)
    assert not light["overloaded"] and light["served_share_of_offered"] > 0.95 and light["notes"] == []


def test_a_short_light_run_is_not_called_overloaded(tmp_path, capsys):
    """QA: 16 requests/s over 64 H100 (0.25 a replica, half a request running) read "87% served"
    over 31 requests a replica, drain included, and was called overloaded with 4 ms of queueing."""
    from engine.cli import main

    assert main(["--db", str(tmp_path / "s.db"), "--format", "json", "serve", "--model", "llama3-8b", "--chip",
                 "h100-sxm5-80gb", "--chips", "64", "--input-len", "2000", "--output-len", "300",
                 "--request-rate", "16", "--requests", "2000"]) == 0
    light = json.loads(capsys.readouterr().out)
    assert light["served_share_of_offered"] <= 1.0 and light["queue_ms"] < 50
    # nothing said of overload; only that 64 alike replicas reuse one share's 63 requests (s30)
    assert not light["overloaded"] and [n for n in light["notes"] if "alike shares" not in n] == []


def test_alike_replicas_say_their_percentiles_know_one_shares_requests(capsys):
    """QA s29: 4 replicas at an even load simulate one replica's share and copy it, while
    simulated_requests counted all 4: the percentiles' sampling error is the share's, unstated."""
    alike = _serve(capsys, "--chips", "4", "--request-rate", "40", "--requests", "2000")
    assert alike["replicas"] == 4 and alike["simulated_requests"] == 2000
    assert [n for n in alike["notes"] if "alike shares" in n] == [
        "the 4 replicas take alike shares: 500 simulated requests stand for the 2,000 counted, and the "
        "percentiles carry the sampling error of 500"]
    # uneven shares: the distinct ones are each run (2 of 1,001 and 1,000 over 3 replicas: 2,001)
    uneven = _serve(capsys, "--chips", "3", "--request-rate", "30", "--requests", "3001")
    assert any("2,001 simulated requests stand for the 3,001 counted" in n for n in uneven["notes"])
    one = _serve(capsys, "--request-rate", "10", "--requests", "500")   # one replica: nothing to say
    assert not any("alike shares" in n for n in one["notes"])
