"""A Serving study's load point (s31): a kind and a value the user sets, validated in the engine,
simulated for one replica exactly as `fleetcast serve --request-rate/--concurrency/--offline`
simulates it, and used by `serve --scenario` when no load flag is given."""

import json

import pytest

from engine.cli import main
from engine.store import open_store
from engine.studies import ServingStudy
from engine.studies_load import LoadPoint, load_point_of, run_load_point
from engine.studies_serving import serving_request

STUDY = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, input_len=1024, output_len=256,
                     ttft_ms=1000.0, tpot_ms=30.0, length_spread=0.5)
CLI = ["--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--tp", "1", "--input-len", "1024", "--output-len", "256",
       "--input-len-spread", "0.5", "--output-len-spread", "0.5", "--kv-dtype", "bf16"]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "load.db"
    store = open_store(str(path))
    params = dict(store.scenario("Story default")["params"])
    for name, study in (("rated", ServingStudy(**{**STUDY.__dict__, "load_point": "rate", "load_value": 3.0})),
                        ("clients", ServingStudy(**{**STUDY.__dict__, "load_point": "concurrency",
                                                    "load_value": 16.0}))):
        store.save_scenario(name, {**params, "ui": {"inference": study.to_dict()}})
    store.close()
    return str(path)


def _catalog(db):
    store = open_store(db)
    try:
        return {c.id: c for c in store.chips()}, {m.id: m for m in store.models()}
    finally:
        store.close()


def _serve(capsys, db, *argv):
    assert main(["serve", "--db", db, *argv, "--format", "json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_the_default_and_a_study_saved_before_read_at_the_targets():
    assert ServingStudy().load_point == "targets" and not load_point_of(ServingStudy()).is_set
    old = {k: v for k, v in STUDY.to_dict().items() if k not in ("load_point", "load_value")}
    assert ServingStudy.from_dict(old).load_point == "targets"
    saved = ServingStudy(load_point="rate", load_value=3.0).to_dict()
    assert json.loads(json.dumps(saved))["load_point"] == "rate"
    assert load_point_of(ServingStudy.from_dict(saved)) == LoadPoint("rate", 3.0)


@pytest.mark.parametrize("kind, value, field, message", [
    ("rate", 0.0, "load_value", "Load point 0 requests/s per replica: use a rate above 0 (at least 0.0001)."),
    ("rate", float("nan"), "load_value", "Load point nan requests/s per replica: use a rate above 0"),
    ("concurrency", 2.5, "load_value", "Load point 2.5 clients per replica: use a whole number of clients, 1 to 100,000."),
    ("concurrency", 0.0, "load_value", "Load point 0 clients per replica: use a whole number"),
    ("poisson", 1.0, "load_point", "Load point 'poisson': use one of targets, rate, concurrency, offline."),
])
def test_a_bad_load_point_is_one_message_at_its_field(db, kind, value, field, message):
    chips, models = _catalog(db)
    problems = ServingStudy(**{**STUDY.__dict__, "load_point": kind, "load_value": value}).problems(chips, models)
    assert [p.field for p in problems] == [field] and problems[0].message.startswith(message)
    # the value of a kind without one is not checked
    assert not ServingStudy(**{**STUDY.__dict__, "load_point": "offline", "load_value": -1.0}).problems(chips, models)


@pytest.mark.parametrize("point, flag", [(LoadPoint("rate", 3.0), ["--request-rate", "3"]),
                                         (LoadPoint("concurrency", 16), ["--concurrency", "16"]),
                                         (LoadPoint("offline"), ["--offline"])])
def test_the_load_point_run_is_serves_run_on_one_replica(capsys, db, point, flag):
    chips, models = _catalog(db)
    got = run_load_point(serving_request(STUDY, chips, models), point, tp=1, ep=1)
    d = _serve(capsys, db, *CLI, *flag)
    assert d["replicas"] == 1 and d["simulated_requests"] == got.run.requests
    assert got.run.output_tokens_per_s_per_chip == pytest.approx(d["output_tokens_per_s_per_chip"], rel=1e-12)
    for q in ("p50", "p90", "p99"):
        assert got.run.ttft_ms[q] == pytest.approx(d[f"ttft_ms_{q}"], rel=1e-12)
        assert got.run.tpot_ms[q] == pytest.approx(d[f"tpot_ms_{q}"], rel=1e-12)
    # the verdict: at 3 requests/s the targets hold (serve says so too, given them)
    if point.kind == "rate":
        d = _serve(capsys, db, *CLI, *flag, "--ttft-ms", "1000", "--tpot-ms", "30", "--slo-percentile", "p90")
        assert got.targets_hold and d["targets_met_under_load"] and not got.overloaded


def test_a_load_past_the_targets_names_the_target_that_breaks(db):
    chips, models = _catalog(db)
    got = run_load_point(serving_request(STUDY, chips, models), LoadPoint("rate", 40.0), tp=1, ep=1)
    assert not got.targets_hold and got.overloaded and 0 < got.served_share < 0.9
    assert [m.split(" ")[0] for m in got.missed] == ["TTFT", "TPOT"] and got.missed[1].endswith("> 30.0 ms")


def test_serve_scenario_uses_the_saved_load_point_and_a_flag_overrides_it(capsys, db):
    d = _serve(capsys, db, "--scenario", "rated")
    assert d["scenario"] == "server" and d["request_rate"] == 3.0 and d["replicas"] == 1
    assert any("the scenario's load point, 3.00 requests/s per replica" in n for n in d["notes"])
    alone = _serve(capsys, db, *CLI, "--request-rate", "3")
    assert d["output_tokens_per_s_per_chip"] == pytest.approx(alone["output_tokens_per_s_per_chip"], rel=1e-12)
    # per replica: 4 chips of TP1 are 4 replicas, 12 requests/s for the deployment
    d4 = _serve(capsys, db, "--scenario", "rated", "--chips", "4")
    assert d4["replicas"] == 4 and d4["request_rate"] == 12.0
    # a flag given overrides it, as every other flag does
    over = _serve(capsys, db, "--scenario", "rated", "--request-rate", "6")
    assert over["request_rate"] == 6.0 and not any("load point" in n for n in over["notes"])
    off = _serve(capsys, db, "--scenario", "rated", "--offline")
    assert off["scenario"] == "offline" and off["request_rate"] is None
    closed = _serve(capsys, db, "--scenario", "clients", "--chips", "2")
    assert closed["scenario"] == "concurrency" and closed["concurrency"] == 32


def test_serve_scenario_scales_a_disaggregated_load_point_by_whole_replicas(tmp_path, capsys):
    """QA s31: 16 chips of one disaggregated replica (TP1 decode + 1 x TP1 prefill = 2 chips a
    replica, so 8 replicas) scaled the saved 2 requests/s by the 16 decode-only "replicas": 32/s
    for a deployment of 8 replicas, twice the load the view ran, and its verdict flipped."""
    path = str(tmp_path / "dis.db")
    store = open_store(path)
    params = dict(store.scenario("Story default")["params"])
    study = ServingStudy(**{**STUDY.__dict__, "load_point": "rate", "load_value": 2.0, "prefill_tp": 1,
                            "prefill_instances": 1})
    store.save_scenario("dis", {**params, "ui": {"inference": study.to_dict()}})
    store.close()
    d = _serve(capsys, path, "--scenario", "dis", "--chips", "16", "--requests", "400")
    assert d["request_rate"] == 16.0   # 8 disaggregated replicas x 2 requests/s (32 before)
    assert any("2.00 requests/s per replica x 8 replicas (--request-rate 16)" in n for n in d["notes"])
