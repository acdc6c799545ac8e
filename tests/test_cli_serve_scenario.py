"""`fleetcast serve --scenario NAME`: the Inference view's saved Serving study, headless, gives the
figures the view shows for it."""

import json

import pytest

from engine.cli import main
from engine.store import open_store
from engine.studies import ServingStudy, chips_for_demand
from engine.studies_serving import chosen_under_load, serving_request

STUDY = ServingStudy(model_id="llama3-70b", chip_id="h20-96gb", tp=8, input_len=2000, output_len=300,
                     ttft_ms=2000.0, tpot_ms=50.0, prefix_cache_pct=50.0, demand_tokens_per_s=100_000.0)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "serve.db"
    store = open_store(str(path))
    params = dict(store.scenario("Story default")["params"])
    store.save_scenario("served", {**params, "ui": {"inference": STUDY.to_dict()}})
    store.save_scenario("bad serving", {**params, "ui": {"inference": {**STUDY.to_dict(), "tp": 3}}})
    store.close()
    return str(path)


def test_scenario_gives_the_views_figures(capsys, db):
    assert main(["serve", "--db", db, "--scenario", "served", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    store = open_store(db)
    chips, models = {c.id: c for c in store.chips()}, {m.id: m for m in store.models()}
    store.close()
    request = serving_request(STUDY, chips, models)
    cap, _ = chosen_under_load(request)  # what the Inference view shows: the targets as p90s under load
    assert d["model"] == "llama3-70b" and d["chip"] == "h20-96gb" and d["tp"] == 8
    assert d["slo_percentile"] == "p90" and cap.latency_basis == "p90"
    assert d["slo_output_tokens_per_s_per_chip"] == pytest.approx(cap.output_tokens_per_s_per_chip)
    # whole TP8 replicas: ceil(1e5 / 8 / per-chip rate) x 8, at the rate reported (not a second,
    # steady-state search)
    replicas = -(-100_000.0 // (8 * cap.output_tokens_per_s_per_chip))
    assert d["chips_needed"] == chips_for_demand(cap, 100_000.0) == 8 * int(replicas)
    # --slo-percentile steady: the steady-state estimate, which queueing only lowers
    assert main(["serve", "--db", db, "--scenario", "served", "--slo-percentile", "steady", "--format", "json"]) == 0
    steady = json.loads(capsys.readouterr().out)
    assert steady["slo_percentile"] == "steady"   # the flag's value: passed back, it gives the same run
    assert main(["serve", "--db", db, "--scenario", "served", "--slo-percentile", steady["slo_percentile"],
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == steady
    assert steady["slo_output_tokens_per_s_per_chip"] == pytest.approx(request.capacity().output_tokens_per_s_per_chip)
    assert steady["slo_output_tokens_per_s_per_chip"] > d["slo_output_tokens_per_s_per_chip"]
    assert steady["chips_needed"] == chips_for_demand(request.capacity(), 100_000.0) <= d["chips_needed"]
    # the saved prefix-cache share is used: without it prefill costs more, never less
    assert main(["serve", "--db", db, "--scenario", "served", "--prefix-cache-pct", "0", "--format", "json"]) == 0
    cold = json.loads(capsys.readouterr().out)
    assert cold["slo_ttft_ms"] >= d["slo_ttft_ms"]


@pytest.mark.parametrize("name, needle", [
    ("nope", "scenario 'nope': not found"),
    ("bad serving", "TP 3 does not divide the 64 attention heads"),
])
def test_scenario_problems_are_one_line_exit_1(capsys, db, name, needle):
    assert main(["serve", "--db", db, "--scenario", name]) == 1
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_without_scenario_the_workload_flags_are_required(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--model", "llama3-8b", "--chip", "h20-96gb"])
    assert exc.value.code == 2
    assert "--input-len, --output-len (or --scenario NAME)" in capsys.readouterr().err


def test_scenario_engine_limits_reach_the_slo_figures(capsys, tmp_path):
    """The view's engine-limit fields travel with the scenario: the SLO capacity headless equals
    the view's, and a cap of 8 running sequences bounds its batch."""
    capped = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, input_len=1024, output_len=256,
                          ttft_ms=5000.0, tpot_ms=200.0, demand_tokens_per_s=0.0, max_num_seqs=8)
    path = tmp_path / "limits.db"
    store = open_store(str(path))
    params = dict(store.scenario("Story default")["params"])
    store.save_scenario("capped", {**params, "ui": {"inference": capped.to_dict()}})
    chips, models = {c.id: c for c in store.chips()}, {m.id: m for m in store.models()}
    store.close()
    assert main(["serve", "--db", str(path), "--scenario", "capped", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    view, _ = chosen_under_load(serving_request(capped, chips, models))
    # the simulated point's running batch: the cap of 8 binds (below it only by the run's ramp and drain)
    assert d["slo_batch"] == pytest.approx(view.batch_at_slo)
    assert 0.85 * 8 <= d["slo_batch"] <= 8.0 and view.batch == pytest.approx(8.0, rel=0.02)
    assert d["slo_output_tokens_per_s_per_chip"] == pytest.approx(view.output_tokens_per_s_per_chip)
    # a flag given on the command line wins over the saved field
    assert main(["serve", "--db", str(path), "--scenario", "capped", "--max-num-seqs", "16", "--format", "json"]) == 0
    assert 0.85 * 16 <= json.loads(capsys.readouterr().out)["slo_batch"] <= 16.0


def test_scenario_length_spread_reaches_the_simulation_unless_a_flag_overrides_it(capsys, tmp_path):
    """The Serving study's length spread (the Inference view's "Length spread (CV)") is the
    workload's: `serve --scenario` simulates with it, as the view's Under load charts do; the
    spread flags override it."""
    path = str(tmp_path / "spread.db")
    store = open_store(path)
    params = dict(store.scenario("Story default")["params"])
    wide = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, input_len=1000, output_len=200,
                        ttft_ms=0.0, tpot_ms=0.0, length_spread=0.8)
    store.save_scenario("wide", {**params, "ui": {"inference": wide.to_dict()}})
    store.close()
    base = ["serve", "--db", path, "--scenario", "wide", "--request-rate", "5", "--requests", "600",
            "--format", "json"]
    runs = {}
    for name, extra in (("study", []), ("flags", ["--input-len-spread", "0.8", "--output-len-spread", "0.8"]),
                        ("fixed", ["--input-len-spread", "0", "--output-len-spread", "0"])):
        assert main(base + extra) == 0
        runs[name] = json.loads(capsys.readouterr().out)
    for key in ("ttft_ms_p99", "e2e_latency_ms_p99", "tpot_ms_p90"):
        assert runs["study"][key] == pytest.approx(runs["flags"][key], rel=1e-12), key
    # fixed lengths: every request lives about as long as every other; spread ones do not
    assert runs["fixed"]["e2e_latency_ms_p99"] < 0.7 * runs["study"]["e2e_latency_ms_p99"]


def test_scenario_disaggregated_prefill_reaches_the_slo_figures(capsys, tmp_path):
    """A Serving study with prompts on a separate TP4 prefill instance: `serve --scenario` reports
    the view's figure for that deployment (prefill chips counted in the chips needed) and the
    simulated disaggregated load beside it."""
    study = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, input_len=1024, output_len=256,
                         ttft_ms=1000.0, tpot_ms=30.0, demand_tokens_per_s=250_000.0, prefill_tp=4)
    path = str(tmp_path / "disagg.db")
    store = open_store(path)
    params = dict(store.scenario("Story default")["params"])
    store.save_scenario("split", {**params, "ui": {"inference": study.to_dict()}})
    chips, models = {c.id: c for c in store.chips()}, {m.id: m for m in store.models()}
    store.close()
    assert main(["serve", "--db", path, "--scenario", "split", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    view, _ = chosen_under_load(serving_request(study, chips, models))
    assert view.prefill_chips == 4 and view.chips_per_replica == 5
    assert d["slo_output_tokens_per_s_per_chip"] == pytest.approx(view.output_tokens_per_s_per_chip)
    assert d["chips_needed"] == chips_for_demand(view, 250_000.0) and d["chips_needed"] % 5 == 0
    assert d["disaggregated"]["prefill_chips"] == 4 and d["disaggregated"]["decode_chips"] == 1


def test_scenario_percentile_is_the_studys_unless_a_flag_says_otherwise(capsys, tmp_path):
    strict = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, input_len=1024, output_len=256,
                          ttft_ms=1000.0, tpot_ms=30.0, demand_tokens_per_s=0.0, slo_percentile="p99")
    path = str(tmp_path / "p99.db")
    store = open_store(path)
    params = dict(store.scenario("Story default")["params"])
    store.save_scenario("strict", {**params, "ui": {"inference": strict.to_dict()}})
    store.save_scenario("odd", {**params, "ui": {"inference": {**strict.to_dict(), "slo_percentile": "p75"}}})
    store.close()
    assert main(["serve", "--db", path, "--scenario", "strict", "--format", "json"]) == 0
    d99 = json.loads(capsys.readouterr().out)
    assert main(["serve", "--db", path, "--scenario", "strict", "--slo-percentile", "p90", "--format", "json"]) == 0
    d90 = json.loads(capsys.readouterr().out)
    assert d99["slo_percentile"] == "p99" and d90["slo_percentile"] == "p90"
    assert d99["slo_output_tokens_per_s_per_chip"] <= d90["slo_output_tokens_per_s_per_chip"]
    assert main(["serve", "--db", path, "--scenario", "odd"]) == 1
    assert "Targets hold for 'p75'" in capsys.readouterr().err


def test_a_scenario_without_a_serving_study_answers_with_the_views_defaults(capsys, db):
    """`report` said the Story's Serving needs 13,016 H20 chips (the Inference view's defaults)
    while `serve --scenario` refused it ("has no Serving study")."""
    from engine.studies import ServingStudy

    assert main(["serve", "--db", db, "--scenario", "Story default", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    default = ServingStudy()
    assert (d["model"], d["chip"], d["input_len"]) == (default.model_id, default.chip_id, default.input_len)
    assert d["chips_needed"] > 0 and d["slo_percentile"] == "p90"


def test_serve_names_the_saved_scenario_apart_from_the_load(capsys, db):
    """`scenario` in serve's JSON is the load ("slo"); the saved scenario's name was nowhere."""
    assert main(["serve", "--db", db, "--scenario", "Story default", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["scenario_name"] == "Story default" and d["load"] == d["scenario"] == "slo"


def test_a_bad_flag_over_a_saved_study_names_the_flag(capsys, tmp_path):
    """QA: `train --scenario S --chips 0` said "scenario 'S', Training study: Enter at least one
    chip." (the saved study was fine; the flag was not)."""
    db = str(tmp_path / "s.db")
    assert main(["--db", db, "train", "--scenario", "Story default", "--chips", "0"]) == 1
    assert "--chips 0: Enter at least one chip." in capsys.readouterr().err
    assert main(["--db", db, "serve", "--scenario", "Story default", "--output-len", "0"]) == 1
    assert "--output-len 0: Input and output lengths must be at least 1 token." in capsys.readouterr().err
