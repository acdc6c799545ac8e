"""Studies: versioned round trips, problems in user words and units, and the figures they give
(no Qt: the same functions serve the GUI, the CLI and scenarios)."""

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from engine.catalog import reference_chips, reference_models
from engine.errors import UserError
from engine.fleet import Delivery, Order
from engine.studies import (
    STUDY_VERSION, ServingStudy, TrainingStudy, chips_for_demand, demand_per_day, training_key_figures,
    training_top_layouts,
)
from engine.training import estimate_run, search_layouts

CHIPS = reference_chips()
MODELS = reference_models()


def _orders():
    return [Order(id=1, buyer="B", vendor="Huawei", chip_id="ascend-910b2", quantity=100_000,
                  order_date=dt.date(2024, 1, 15),
                  deliveries=(Delivery(1, 1, dt.date(2024, 7, 1), 30_000),))]


def test_training_study_round_trips_through_json():
    study = TrainingStudy(num_chips=2048, layout_mode="fixed", layout={"tp": 4, "pp": 8}, compare_chips=("h20-96gb",))
    data = json.loads(json.dumps(study.to_dict()))
    assert data["version"] == STUDY_VERSION
    again = TrainingStudy.from_dict(data)
    assert again == TrainingStudy.from_dict(again.to_dict())
    assert again.layout["tp"] == 4 and again.layout["zero"] == 1  # missing layout keys take defaults
    assert TrainingStudy.from_dict({"num_chips": 64, "unknown": 1}).num_chips == 64  # old/partial dicts load
    with pytest.raises(UserError, match="newer"):
        TrainingStudy.from_dict({"version": STUDY_VERSION + 1})


def test_training_problems_name_the_field_in_user_words():
    study = TrainingStudy(chip_id="ascend-910b2", num_chips=1024, layout_mode="fixed",
                          layout={"tp": 3, "pp": 4, "cp": 1, "ep": 1}, dtype="fp8")
    problems = {(p.field, p.message) for p in study.problems(CHIPS, MODELS)}
    assert ("tp", "TP × PP × CP = 12 does not divide 1,024 chips: use 1,020 or 1,032 chips, or another layout.") in problems
    assert ("tp", "TP 3 does not divide the 64 attention heads.") in problems
    assert ("dtype", "Ascend 910B2 has no FP8 matrix units: use BF16.") in problems
    with pytest.raises(UserError, match="does not divide"):
        study.training_inputs(CHIPS, MODELS)
    # a global batch the layout cannot split: on its field, with the sizes that work (the run said
    # "global batch not divisible by dp x micro-batch" on no field)
    fixed = TrainingStudy(chip_id="ascend-910b2", num_chips=1024, layout_mode="fixed", global_batch=100,
                          layout={"tp": 8, "pp": 4, "cp": 1, "ep": 1, "micro_batch": 1})
    assert {(p.field, p.message) for p in fixed.problems(CHIPS, MODELS)} == {
        ("global_batch", "Global batch 100 is not a multiple of DP × micro-batch = 32 × 1 = 32 sequences: "
                         "use 96 or 128, or auto.")}


def test_fleet_source_counts_installed_chips_after_the_lag():
    orders = _orders()
    study = TrainingStudy(chips_source="fleet", fleet_date="2024-07-30")
    assert study.chips_used(orders) == 0  # 29 days after the delivery
    assert [p.field for p in study.problems(CHIPS, MODELS, orders)] == ["fleet_date"]
    ready = TrainingStudy(chips_source="fleet", fleet_date="2024-07-31")
    assert ready.training_inputs(CHIPS, MODELS, orders).num_chips == 30_000
    assert TrainingStudy(chips_source="fleet").day(orders) == dt.date(2024, 8, 1)  # default: all installed


def test_key_figures_and_top_layouts_come_from_the_search():
    inputs = TrainingStudy(chip_id="h100-sxm5-80gb", num_chips=512).training_inputs(CHIPS, MODELS)
    search = search_layouts(inputs, top_k=3)
    best = search.best
    estimate = estimate_run(15e12, best.tokens_per_s_per_chip, 512, inputs.chip, params=float(inputs.model.total_params()))
    rows = {r[0]: (r[1], r[2]) for r in training_key_figures(inputs, best, estimate)}
    assert rows["Chip"] == ("H100 SXM5 80GB", "")
    assert rows["Throughput"][0] == pytest.approx(best.tokens_per_s_per_chip * 512)
    assert rows["Tokens per step"][0] == rows["Global batch"][0] * inputs.seq
    assert rows["Time to train"] == (estimate.time_to_train_days, "days")
    headers, table = training_top_layouts(search)
    assert len(table) == 3 and sum("(" in h for h in headers) == 12  # units on every numeric column
    assert [row[0] for row in table] == [1, 2, 3]
    assert table[0][11] == pytest.approx(best.tokens_per_s_per_chip)


def test_serving_study_round_trip_problems_and_demand_units():
    study = ServingStudy(chip_id="ascend-910b2", weight_dtype="fp8", kv_dtype="fp8", tp=3)
    assert ServingStudy.from_dict(json.loads(json.dumps(study.to_dict()))) == study
    fields = [p.field for p in study.problems(CHIPS, MODELS)]
    assert fields == ["tp"]  # FP8 on a 910B is answered weight-only (the result says so), not refused
    assert ServingStudy().problems(CHIPS, MODELS) == []
    assert demand_per_day(1_000_000) == 86_400_000_000
    # the Forecast's unit: average input + output tokens a day, were the peak the average:
    # 2 output tokens/s x (1,024 + 256) / 256 x 86,400 s
    study = ServingStudy(demand_tokens_per_s=2.0)
    assert (study.input_len, study.output_len) == (1024, 256)
    assert study.demand_tokens_per_day == pytest.approx(2.0 * 1280 / 256 * 86_400)


def test_serving_study_engine_limits_round_trip_and_bind_the_capacity():
    from engine.studies_serving import serving_request

    study = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, ttft_ms=0.0, tpot_ms=0.0,
                         max_num_seqs=8, max_num_batched_tokens=2048)
    assert ServingStudy.from_dict(json.loads(json.dumps(study.to_dict()))) == study
    # blank or 0 (an old study, an empty field) means the engine's default
    assert ServingStudy.from_dict({"max_num_seqs": 0, "max_num_batched_tokens": ""}).max_num_seqs is None
    assert ServingStudy.from_dict({}).max_num_batched_tokens is None
    with pytest.raises(UserError, match="max_num_seqs: 'many'"):
        ServingStudy.from_dict({"max_num_seqs": "many"})
    bad = ServingStudy(max_num_seqs=-3, max_num_batched_tokens=20_000_000)
    assert [p.field for p in bad.problems(CHIPS, MODELS)] == ["max_num_seqs", "max_num_batched_tokens"]
    # Without latency targets an 8B model on an 80 GB H100 runs hundreds of sequences; a cap of 8
    # running sequences is what bounds it then, and the capacity point sits on the cap.
    free = serving_request(ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1, ttft_ms=0.0,
                                        tpot_ms=0.0), CHIPS, MODELS).capacity()
    capped = serving_request(study, CHIPS, MODELS).capacity()
    assert free.batch > 64
    assert capped.batch == pytest.approx(8.0, rel=0.02)
    assert capped.output_tokens_per_s_per_chip < free.output_tokens_per_s_per_chip / 4
    from engine.studies_serving import concurrency_limit

    # what one replica can run at once: the KV fit (TRT-LLM's 2,048 default cap is above it), then the cap
    default_req = serving_request(ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=1,
                                               engine="trtllm"), CHIPS, MODELS)
    assert concurrency_limit(default_req.capacity()) == (free.max_concurrency, "KV cache")
    assert free.max_concurrency < 2048
    assert concurrency_limit(capped) == (8, "engine cap")
    # the simulated load analysis runs with the same scheduler limits
    req = serving_request(study, CHIPS, MODELS)
    from engine.serving.capacity import load_analysis

    kw = dict(input_len=1024, output_len=256, tp=1, engine="", points=3, requests=120)
    run = load_analysis(req.model, req.chip, max_num_seqs=8, max_num_batched_tokens=2048, **kw)
    default = load_analysis(req.model, req.chip, **kw)
    assert run.chosen.sim.mean_running <= 8.0 + 1e-9 < default.chosen.sim.mean_running


def test_chips_for_demand_rounds_up_to_whole_replicas():
    cap = SimpleNamespace(feasible=True, output_tokens_per_s_per_chip=100.0, chips_per_replica=8)
    assert chips_for_demand(cap, 0) == 0
    assert chips_for_demand(cap, 800) == 8         # exactly one replica of 800 tokens/s
    assert chips_for_demand(cap, 801) == 16        # a second replica
    assert chips_for_demand(SimpleNamespace(feasible=False), 10) is None


# ---- Forecast and Plan studies (engine.studies_forecast) -------------------------------------

from dataclasses import replace  # noqa: E402

from engine.forecast import default_scenario, scenario_to_dict, validate_scenario  # noqa: E402
from engine.scenario_changes import apply_changes  # noqa: E402
from engine.studies_forecast import (  # noqa: E402
    ForecastStudy, PlanStudy, forecast_key_figures, forecast_monthly_table, plan_order_rows,
)


def _old_saved_params():
    """Every scenario the store ever seeded: the v1 file's and the v2 baseline with its what-ifs."""
    import resources

    v1 = json.loads(resources.read_text("scenario_seed_v1.json"))
    v2 = json.loads(resources.read_text("scenario_seed_v2.json"))
    out = list(v1.items()) + [("v2 baseline", v2["baseline"])]
    out += [(name, apply_changes(v2["baseline"], changes)) for name, changes in v2["what_ifs"].items()]
    return out


@pytest.mark.parametrize("name, params", _old_saved_params(), ids=lambda x: x if isinstance(x, str) else "")
def test_forecast_study_reads_every_seeded_scenario_and_round_trips(name, params):
    saved = {**params, "ui": {"training": {"num_chips": 8}}, "a_key_from_elsewhere": 1}
    study = ForecastStudy.from_dict(saved)
    assert study.problems() == []
    assert study.scenario.demand.points  # the data came through, not the defaults
    again = ForecastStudy.from_dict(json.loads(json.dumps(study.to_dict())))
    assert again == study
    assert "version" not in study.to_dict()  # version 1 writes the stored format unchanged


def test_forecast_study_refuses_a_newer_version():
    with pytest.raises(UserError, match="newer"):
        ForecastStudy.from_dict({**scenario_to_dict(default_scenario()), "version": 2})


def _with_huawei(**changes):
    sc = default_scenario()
    hu = replace(sc.vendor_uncertainty["Huawei"], **changes)
    return ForecastStudy(replace(sc, vendor_uncertainty={**sc.vendor_uncertainty, "Huawei": hu}))


def test_fixed_distribution_ignores_greyed_low_and_high():
    assert _with_huawei(fraction_dist="fixed", fraction_low=0.3, fraction_mode=1.0, fraction_high=0.8).problems() == []


def test_forecast_problems_use_the_forms_words_and_units():
    study = _with_huawei(fraction_dist="triangular", fraction_low=0.3, fraction_mode=1.0, fraction_high=0.8)
    sc = study.scenario
    study = ForecastStudy(replace(sc, months=0, demand=replace(sc.demand, peak_to_average=0.5,
                                                                request_mix_sigma=4.0, ttft_ms=0.0)))
    problems = {p.field: p.message for p in study.problems()}
    assert problems["uncertainty.fraction"] == (
        "Huawei orders: the fulfilled share needs low ≤ most likely ≤ high (30% ≤ 100% ≤ 80% does not hold: "
        "raise high to at least 100%).")
    assert problems["months"] == "Horizon 0 months: use 1 to 600 months."
    assert problems["peak"] == "Peak / average 0.5 ×: must be at least 1 ×."
    assert problems["mix_sigma"] == "Mix uncertainty 400%: use 0 to 300%."  # the form shows percent
    assert problems["ttft"] == "TTFT target 0 ms: must be more than 0 ms."
    assert not any("vendor_uncertainty." in m or "demand." in m for m in problems.values())  # no internal paths


@pytest.mark.parametrize("change", [
    {"months": 700}, {"trials": 0}, {"seed": -1},
    {"demand.kind": "cubic"}, {"demand.peak_to_average": 0.9}, {"demand.growth_model": "user",
                                                               "demand.growth_p10_per_year": 3.0},
    {"demand.kind": "logistic"}, {"demand.growth_model": "loglinear", "demand.points": []},
    {"demand.request_mix_sigma": -0.1}, {"throughput_sigma_scale": 11.0}, {"demand.tpot_ms": -5.0},
    {"allocation.training_share.h20-96gb": 1.5}, {"install_lag_days": -1.0}, {"annual_failure_rate": 1.0},
    {"demand.weight_dtype": "int3"}, {"demand.weight_dtype": "fp4"}, {"demand.kv_dtype": "fp4"},
    {"demand.kv_dtype": "int4"}, {"default_uncertainty.vendor_common_share": 2.0},
    {"policy_events": [{"chip_id": "h20-96gb", "probability": 2.0, "window_start": "2025-01-01",
                        "window_end": "2024-01-01", "duration_months": None, "note": ""}]},
    {"jobs": [{"name": "a", "model_id": "", "tokens": 0.0, "chip_id": "h20-96gb", "earliest_start": "2025-01-01",
               "seq_len": None, "global_batch_seqs": None, "deadline": None}]},
    {},
])
def test_forecast_problems_agree_with_the_engines_validation(change):
    """Whatever the engine refuses, the study explains (and it refuses nothing the engine runs)."""
    from engine.forecast import ForecastScenario, scenario_from_dict
    from engine.errors import ValidationError

    params = apply_changes(scenario_to_dict(default_scenario()), change)
    try:
        sc = scenario_from_dict(params)
    except ValidationError:
        # scenario_from_dict validates; build the same scenario unvalidated to see what the study says
        base = scenario_from_dict(scenario_to_dict(default_scenario()))
        sc = _unvalidated(base, change)
    assert isinstance(sc, ForecastScenario)
    problems = ForecastStudy(sc).problems()
    assert bool(problems) == bool(validate_scenario(sc))


def _unvalidated(base, change):
    """`base` with one change applied to the dataclasses directly (no validation on the way)."""

    (path, value), *rest = change.items()
    if path.startswith("demand."):
        demand = base.demand
        for p, v in change.items():
            key = p.split(".", 1)[1]
            demand = replace(demand, **{key: (tuple(v) if key == "points" else v)})
        return replace(base, demand=demand)
    if path.startswith("allocation.training_share."):
        shares = {**base.allocation.training_share, path.rsplit(".", 1)[1]: value}
        return replace(base, allocation=replace(base.allocation, training_share=shares))
    if path.startswith("default_uncertainty."):
        return replace(base, default_uncertainty=replace(base.default_uncertainty, **{path.split(".")[1]: value}))
    if path == "policy_events":
        from engine.forecast import PolicyEvent

        e = value[0]
        return replace(base, policy_events=(PolicyEvent(e["chip_id"], e["probability"],
                                                        dt.date.fromisoformat(e["window_start"]),
                                                        dt.date.fromisoformat(e["window_end"])),))
    if path == "jobs":
        from engine.forecast import TrainingJob

        j = value[0]
        return replace(base, jobs=(TrainingJob(j["name"], j["model_id"], j["tokens"], j["chip_id"],
                                               dt.date.fromisoformat(j["earliest_start"])),))
    return replace(base, **change)


def _small_forecast():
    from engine.catalog import reference_chips as chips_of, reference_models as models_of
    from engine.forecast import run_forecast
    from engine.forecast_inputs import build_inputs, story_orders

    sc = replace(default_scenario(), months=24, trials=200, jobs=())
    return run_forecast(build_inputs(story_orders(), chips_of(), models_of(), sc))


def test_monthly_table_is_one_definition_for_people_and_files():
    result = _small_forecast()
    table = forecast_monthly_table(result, {"ascend-910b2": "Ascend 910B2"})
    headers, rows, records = table.headers(), table.rows(), table.records()
    assert len(rows) == len(records) == 24 and len(headers) == len(rows[0]) == len(table.keys())
    prob = headers.index("P(meet demand) (%)")
    unit = "ascend-910b2"
    for row, rec in zip(rows, records):
        assert row[prob] == pytest.approx(rec["prob_meet_demand_pct"])  # percent, named so, in both
        if rec["prob_meet_demand_pct"] > 50:  # most trials meet demand: the median shortfall is none
            assert rec[f"shortfall_p50_chips_{unit}"] == 0.0
    assert "Capacity P50 (Ascend 910B2 chips)" in headers
    assert any(r["prob_meet_demand_pct"] > 50 for r in records) and any(r["prob_meet_demand_pct"] < 50 for r in records)
    first = next((r["month"] for r in records if r[f"shortfall_p50_chips_{unit}"] > 0), None)
    figures = dict(forecast_key_figures(result))
    shown = figures["First month demand exceeds capacity P50 (date)"]
    assert (shown.isoformat() if shown != "never" else None) == first


def test_cli_forecast_rows_are_the_monthly_table(capsys):
    from engine.commands.forecast import result_rows

    result = _small_forecast()
    assert list(result_rows(result)[0]) == forecast_monthly_table(result).keys()


def test_plan_study_reads_the_views_old_state_and_round_trips():
    old = {"confidence": 0.95, "from": "2025-10", "until": "2026-06", "budget_usd": None, "samples": 400}
    study = PlanStudy.from_dict(old)
    assert (study.confidence, study.from_month, study.until_month, study.samples) == (0.95, "2025-10", "2026-06", 400)
    assert PlanStudy.from_dict(json.loads(json.dumps(study.to_dict()))) == study
    assert PlanStudy.from_dict({"budget_usd": 0}).budget_usd is None  # 0 meant "no limit" in the form
    with pytest.raises(UserError, match="newer"):
        PlanStudy.from_dict({"version": STUDY_VERSION + 1})


def test_the_plan_studys_default_target_runs_to_the_horizons_end_as_the_cli():
    """The view planned to a fixed 2026-12 while `fleetcast plan` planned to the horizon's end: the
    report said no orders were needed where the CLI bought $14 B for the same scenario."""
    from engine.commands.plan import default_candidates

    assert PlanStudy().until_month is None
    assert PlanStudy().request(default_candidates(CHIPS)).until_month is None   # engine: the horizon's end
    assert PlanStudy.from_dict({"until_month": ""}).until_month is None
    assert PlanStudy.from_dict({"until_month": "2026-12"}).until_month == "2026-12"   # a saved choice stays
    assert PlanStudy.from_dict(PlanStudy().to_dict()) == PlanStudy()


def test_plan_study_problems_and_request():
    from engine.commands.plan import default_candidates

    defaults = default_candidates(CHIPS)
    ids = [c.chip_id for c in defaults]
    study = PlanStudy(confidence=0.4, from_month="2026-12", until_month="2026-01", samples=10,
                      candidates={ids[0]: {"unit_price_usd": "abc"}, ids[1]: {"lead_time_months": -1}})
    fields = [p.field for p in study.problems(defaults)]
    assert fields == ["confidence", "from", "samples", f"candidate.{ids[0]}.unit_price_usd",
                      f"candidate.{ids[1]}.lead_time_months"]
    none = PlanStudy(candidates={i: {"use": False} for i in ids})
    assert [p.message for p in none.problems(defaults)] == ["Tick at least one candidate chip."]
    with pytest.raises(UserError, match="Tick at least one"):
        none.request(defaults)
    edited = PlanStudy(until_month="2025-12", budget_usd=5e9,
                       candidates={ids[0]: {"unit_price_usd": 1234.0, "lead_time_months": 2.0}, ids[1]: {"use": False}})
    request = edited.request(defaults)
    assert [c.chip_id for c in request.candidates] == [ids[0]] + ids[2:]
    assert request.candidates[0].unit_price_usd == 1234.0 and request.candidates[0].lead_time_months == 2
    assert request.until_month == dt.date(2025, 12, 1) and request.from_month is None and request.budget_usd == 5e9


def test_candidate_lead_times_and_caps_are_whole_numbers_within_reason():
    """QA: a lead time of 2.5 months was planned as 2 and a cap of 1.5 chips as 1, silently; a
    lead time of 1e9 months ended in 'year 83335358 is out of range'."""
    from engine.commands.plan import default_candidates

    defaults = default_candidates(CHIPS)
    ids = [c.chip_id for c in defaults]
    study = PlanStudy(candidates={ids[0]: {"lead_time_months": 2.5}, ids[1]: {"max_per_quarter": 1.5},
                                  ids[2]: {"lead_time_months": 1e9}})
    messages = {p.field: p.message for p in study.problems(defaults)}
    assert set(messages) == {f"candidate.{ids[0]}.lead_time_months", f"candidate.{ids[1]}.max_per_quarter",
                             f"candidate.{ids[2]}.lead_time_months"}
    assert "2.5 (must be a whole number of months, at most 120)" in messages[f"candidate.{ids[0]}.lead_time_months"]
    with pytest.raises(UserError, match="whole number of chips"):
        study.request(defaults)


def test_plan_orders_become_assumption_rows():
    from engine.forecast_plan import Candidate, PlannedOrder

    order = PlannedOrder("h20-96gb", 3000, dt.date(2025, 1, 1), dt.date(2025, 4, 1), 3000 * 12_000.0)
    result = SimpleNamespace(orders=(order,), from_month=dt.date(2025, 6, 1), until_month=dt.date(2025, 12, 1))
    rows = plan_order_rows(result, 0.9, [Candidate("h20-96gb", "NVIDIA", 12_000.0, 3, 50_000.0)])
    assert rows == [{"buyer": "plan", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 3000,
                     "order_date": "2025-01-01", "promised": "2025-04-01:3000", "price_usd_per_chip": 12_000.0,
                     "status": "assumption", "source": "fleetcast plan",
                     "note": "planned for P(meet demand) >= 90% on the 1st of each month, Jun 1 - Dec 1 2025"}]


def test_plan_reuses_throughputs_while_the_serving_inputs_hold(monkeypatch):
    """The Plan view re-plans on every run; the candidates' engine runs are redone only when what
    they read changes (engine.studies_forecast.compute_plan, which the view's worker runs)."""
    import engine.commands.plan as plan_cmd
    from engine.commands.plan import default_candidates
    from engine.forecast_inputs import story_orders
    from engine.studies_forecast import PlanJob, compute_plan

    calls = []
    real = plan_cmd.plan_inputs
    monkeypatch.setattr(plan_cmd, "plan_inputs", lambda *a: calls.append(1) or real(*a))
    defaults = [c for c in default_candidates(CHIPS) if c.chip_id in ("ascend-910b2", "h20-96gb")]
    sc = replace(default_scenario(), jobs=(), months=24)
    request = PlanStudy(until_month="2025-06", samples=40).request(defaults)
    job = PlanJob(tuple(story_orders()), CHIPS, MODELS, sc, request)
    first, cache = compute_plan(job)
    assert len(calls) == 1 and first.months
    again, _ = compute_plan(replace(job, scenario=replace(sc, seed=7), cached=cache))  # the draws change only
    assert len(calls) == 1 and again.months == first.months
    compute_plan(replace(job, scenario=replace(sc, demand=replace(sc.demand, tpot_ms=40.0)), cached=cache))
    assert len(calls) == 2  # a tighter TPOT target changes every chip's serving throughput
    # so do a prefix-cache what-if and a chip edited in the catalog (they reused the old figures)
    compute_plan(replace(job, scenario=replace(sc, demand=replace(sc.demand, prefix_cache_hit=0.0)), cached=cache))
    assert len(calls) == 3
    faster = {**CHIPS, "h20-96gb": replace(CHIPS["h20-96gb"], hbm_gbps=2 * CHIPS["h20-96gb"].hbm_gbps)}
    _, edited = compute_plan(replace(job, chips=faster, cached=cache))
    assert len(calls) == 4
    assert edited[1].serving_tokens_per_s_per_chip["h20-96gb"] > cache[1].serving_tokens_per_s_per_chip["h20-96gb"]


def test_forecast_precisions_are_the_serving_engines():
    """FP4 weights and an INT4 KV cache serve (W4A16 where the chip has no FP4 rate); FP4 KV does not."""
    from engine.forecast import scenario_from_dict

    params = scenario_to_dict(default_scenario())
    for change, ok in (({"demand.weight_dtype": "fp4"}, True), ({"demand.kv_dtype": "int4"}, True),
                       ({"demand.kv_dtype": "fp4"}, False), ({"demand.weight_dtype": "int3"}, False)):
        sc = _unvalidated(scenario_from_dict(params), change)
        problems = validate_scenario(sc)
        assert (not problems) == ok, (change, problems)
        fields = [p.field for p in ForecastStudy(sc).problems()]
        assert ("weight_dtype" in fields or "kv_dtype" in fields) == (not ok)


def test_serving_study_length_spread_is_an_input_with_its_checks():
    """The length spread of simulated loads is part of the saved study: 0.5 when a study saved
    before it had none, any CV from 0 to 10 kept, anything else named."""
    from engine.studies import ServingStudy

    assert ServingStudy.from_dict({"model_id": "llama3-8b"}).length_spread == 0.5
    assert ServingStudy.from_dict(ServingStudy(length_spread=1.2).to_dict()).length_spread == 1.2
    assert ServingStudy.from_dict({"length_spread": 0}).length_spread == 0.0
    with pytest.raises(UserError, match="length_spread: 'wide'"):
        ServingStudy.from_dict({"length_spread": "wide"})
    for bad in (-0.1, 11.0, float("nan")):
        problems = ServingStudy(length_spread=bad).problems(CHIPS, MODELS)
        assert [p.field for p in problems] == ["length_spread"], bad
    assert ServingStudy(length_spread=10.0).problems(CHIPS, MODELS) == []


def test_planned_deliveries_are_drawn_in_the_charts_unit_chips():
    """QA: 291,000 H20 were drawn as 291,000 on an axis of Ascend 910B2 chips."""
    import datetime as _dt

    from engine.forecast_plan import ChipEconomics, PlannedOrder, PlanResult
    from engine.studies_forecast import plan_deliveries

    np = pytest.importorskip("numpy")
    months = tuple(_dt.date(2025, m, 1) for m in range(1, 4))
    econ = (ChipEconomics("a", 1.0, 261.0, None, None, None), ChipEconomics("h", 1.0, 357.0, None, None, None))
    orders = (PlannedOrder("h", 1000, months[0], months[1], 0.0), PlannedOrder("a", 500, months[0], months[1], 0.0))
    result = PlanResult(True, "", orders, 0.0, months, months[0], months[-1], 0.9, np.zeros(3), np.zeros(3),
                        (np.zeros(3),) * 3, np.zeros(3), "a", econ)
    assert plan_deliveries(result)[1] == pytest.approx(1000 * 357 / 261 + 500)


def test_a_growth_fit_that_fails_on_enough_points_gives_its_reason():
    """Six points, one of them above the next: the falling-rate fit said it "needs at least 3
    demand points; there are 6"; the reason is that demand falls between two points."""
    sc = default_scenario()
    pts = list(sc.demand.points)
    assert len(pts) >= 3
    pts[1] = replace(pts[1], tokens_per_day=pts[2].tokens_per_day * 2)   # a dip after point 2
    study = ForecastStudy(replace(sc, demand=replace(sc.demand, points=tuple(pts), growth_model="decaying")))
    message = {p.field: p.message for p in study.problems()}["growth_model"]
    assert "demand does not grow (flat or falling) between two points" in message and "needs at least" not in message
    few = ForecastStudy(replace(sc, demand=replace(sc.demand, points=tuple(pts[:2]), growth_model="decaying")))
    assert "needs at least 3 demand points; there are 2" in {p.field: p.message for p in few.problems()}["growth_model"]


def test_changes_are_described_item_by_item_and_in_the_forms_units():
    """Compare's "Changes from the baseline" said "policy events = 1 item(s)" for a cut-off whose
    probability went from 50% to 100%, and "fraction high = 0.5" where the form shows 50%."""
    from engine.scenario_changes import describe_changes

    lines = describe_changes({
        "policy_events": [{"chip_id": "h20-96gb", "probability": 1.0, "window_start": "2025-04-09", "note": "why"}],
        "vendor_uncertainty.Huawei.fraction_high": 0.5, "months": 36, "demand.scale": 3.0,
        "jobs": []})
    assert lines[0] == "export cut-offs = [h20-96gb cut off, 100% chance on 2025-04-09]"
    assert lines[1] == "Huawei fulfilled high = 50%"
    assert lines[2:] == ["horizon = 36 months", "demand scale = ×3", "training jobs = none"]


def test_changes_read_in_the_forms_words_with_the_windows_chip_names():
    """Compare showed `policy events = [(chip id h20-96gb, ...` and `vendor uncertainty.Huawei.
    delay high days = 547`: the form's labels, units and chip names instead."""
    from engine.scenario_changes import describe_changes

    lines = describe_changes({
        "policy_events": [{"chip_id": "h20-96gb", "probability": 0.5, "window_start": "2025-01-01",
                           "window_end": "2025-12-31", "duration_months": None, "note": "why"}],
        "vendor_uncertainty.Huawei.delay_high_days": 547.0,
        "allocation.training_share.h20-96gb": 0.25,
        "order_uncertainty.12.fraction_low": 0.3,
        "jobs": [{"name": "405B", "model_id": "llama3-405b", "tokens": 15e12, "chip_id": "h20-96gb",
                  "deadline": "2025-12-31", "seq_len": None}],
        "vendor_uncertainty.Acme Inc\\.": {"$removed": True},
        "vendor_uncertainty.Huawei.note": "what-if: why",     # prose: after the changes it explains
    }, chip_labels={"h20-96gb": "H20"}, limit=None)
    assert lines == [
        "export cut-offs = [H20 cut off, 50% chance, between 2025-01-01 and 2025-12-31]",
        "Huawei delay high = 547 days",
        "training share of H20 = 25%",
        "order 12 fulfilled low = 30%",
        "training jobs = [405B (llama3-405b, on H20, 15T tokens, by 2025-12-31)]",
        "Acme Inc. removed",
        "Huawei note = what-if: why",
    ]


def test_chip_comparison_keeps_the_forms_tp_for_the_chosen_chip_and_searches_the_others():
    """A TP fixed in the form holds in the chosen chip's row (beside the tiles that use it) and
    the caption says so; other chips, whose memory may not suit it, are at their best layout."""
    from engine.studies_serving import (
        chosen_under_load, comparison_layout_note, comparison_table, run_chip_comparison, serving_request,
    )

    chips = CHIPS
    study = ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", tp=4, input_len=1024, output_len=256)
    req = serving_request(study, CHIPS, MODELS)
    best = req.capacity(fixed_layout=False)
    assert best.tp != 4                       # else this test could not tell the two apart
    c = run_chip_comparison(req, (chips["h100-sxm5-80gb"], chips["h20-96gb"]))
    headers, rows = comparison_table(c)
    table = [dict(zip(headers, r)) for r in rows]
    assert [(r["TP (ways)"], r["Layout"]) for r in table][0] == (4, "the form's")
    assert table[1]["Layout"] == "best"
    assert table[1]["TP (ways)"] == req.capacity_under_load(chips["h20-96gb"], fixed_layout=False).tp
    assert comparison_layout_note(c) == f"{c.rows[0]['name']} at the form's TP4, every other chip at its best layout"
    # the chosen chip's row is the figure the tiles show under load, computed once
    again, _ = chosen_under_load(req)
    assert c.chosen.output_tokens_per_s_per_chip == pytest.approx(again.output_tokens_per_s_per_chip)
    assert table[0]["Throughput at SLO (output tokens/s per chip)"] == pytest.approx(again.output_tokens_per_s_per_chip)
    searched = run_chip_comparison(serving_request(ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb",
                                                                input_len=1024, output_len=256), CHIPS, MODELS),
                                   (chips["h100-sxm5-80gb"],))
    assert comparison_layout_note(searched) == "each chip at its best layout"
    assert searched.rows[0]["tp"] == best.tp


def test_chips_that_share_a_short_name_get_names_that_tell_them_apart():
    from dataclasses import replace as dc_replace

    from engine.studies import chip_labels

    b200 = CHIPS["b200"]
    air = dc_replace(b200, id="b200-air", name="B200 (HGX, 700W air)")
    twin = dc_replace(b200, id="b200-twin")                     # even the full name is shared
    labels = chip_labels([b200, air, CHIPS["h20-96gb"]])
    assert labels == {"b200": "B200 (HGX, 1000W)", "b200-air": "B200 (HGX, 700W air)", "h20-96gb": "H20"}
    assert chip_labels([b200, twin]) == {"b200": "B200 [b200]", "b200-twin": "B200 [b200-twin]"}
    assert chip_labels([b200]) == {"b200": "B200"}


def test_no_demand_leaves_the_demand_out_of_the_cli_line_and_the_chips_blank():
    """Demand 0 exported `--demand-tokens-per-s 0`, which the CLI refuses, and the comparison
    table said 0 chips needed where the view's tile says '–'."""
    from engine.cli import main
    from engine.studies_serving import comparison_table, run_chip_comparison, serve_command, serving_request

    req = serving_request(ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", demand_tokens_per_s=0.0),
                          CHIPS, MODELS)
    line = serve_command(req)
    assert "--demand-tokens-per-s" not in line
    assert main(line.split()[1:] + ["--format", "json"]) == 0
    headers, rows = comparison_table(run_chip_comparison(req, (CHIPS["h100-sxm5-80gb"],)))
    assert dict(zip(headers, rows[0]))["Chips needed (chips)"] is None


def test_the_exported_cli_line_reproduces_the_view_without_latency_targets(capsys):
    """No targets: the view shows the largest Poisson load at p90 (5,160 tokens/s per chip, 194
    chips for 1M tokens/s); its exported line ran the offline case (5,381, 186 chips)."""
    from engine.cli import main
    from engine.studies_serving import chosen_under_load, serve_command, serving_request

    req = serving_request(ServingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", ttft_ms=0.0, tpot_ms=0.0),
                          CHIPS, MODELS)
    view, _ = chosen_under_load(req)
    assert main(serve_command(req).split()[1:] + ["--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["output_tokens_per_s_per_chip"] == pytest.approx(view.output_tokens_per_s_per_chip, rel=1e-9)
    assert d["chips_needed"] == req.chips_for_demand(view) and d["slo_percentile"] == "p90"


@pytest.mark.parametrize("mode", ["fixed", "search"])
def test_the_training_cli_line_reproduces_the_study(mode, capsys):
    """The Training view's exports carry the `fleetcast train` line of what they show, software
    settings and reliability included (they carried neither)."""
    from engine.cli import main
    from engine.studies import software_text, train_command

    study = TrainingStudy(model_id="llama3-8b", chip_id="h100-sxm5-80gb", num_chips=64, tokens_t=0.5,
                          layout_mode=mode, layout={"tp": 2, "pp": 2, "cp": 1, "ep": 1, "vpp": 1, "zero": 1,
                                                    "micro_batch": 1, "recompute": "selective"},
                          software={"flash_attention": False, "tp_comm_overlap": True}, mtbf_chip_hours=20_000.0,
                          restart_min=25.0, global_batch=256)
    inputs = study.training_inputs(CHIPS, MODELS)
    line = train_command(study, inputs)
    assert "--no-flash-attention" in line and "--tp-comm-overlap" in line and "--restart-min 25" in line
    assert "fused attention off" in software_text(study.software_settings())
    # in the form's words, and only what can act on this run (a dense BF16 run at CP 1)
    text = software_text(study.software_settings(), moe=False, fp8=False, cp=1)
    assert text == ("fused attention off, dropout off, sequence parallelism on, overlapped gradient reduction on, "
                    "overlapped TP communication on, 1F1B schedule, FA2-class attention kernels")
    from engine.training import evaluate_layout

    result = evaluate_layout(inputs) if mode == "fixed" else search_layouts(inputs).best
    run = study.estimate(inputs, result.tokens_per_s_per_chip)
    assert main(line.split()[1:] + ["--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["step_time_s"] == pytest.approx(result.step_time_s, rel=1e-12)
    assert d["layout"] == result.layout
    assert d["time_to_train_days"] == pytest.approx(run.time_to_train_days, rel=1e-12)


def test_a_searched_tp_passed_back_is_not_called_given():
    """The Inference view passes the steady search's TP back so as not to search twice; its
    notes then read "TP8 (given ...)" with the form at "Best under the targets"."""
    from engine.catalog import reference_chips, reference_models
    from engine.studies import ServingStudy
    from engine.studies_serving import serving_request

    request = serving_request(ServingStudy(), reference_chips(), reference_models())
    assert request.tp is None
    steady = request.capacity(fixed_layout=False)
    loaded = request.capacity_under_load(tp=steady.tp, ep=steady.ep)
    assert f"TP{steady.tp} chosen by the steady-state search" in loaded.explanation
    fixed = serving_request(ServingStudy(tp=8), reference_chips(), reference_models())
    assert "TP8 (given" in fixed.capacity_under_load(tp=8).explanation


def test_a_bad_supply_setting_is_named_as_one_not_as_a_value_off_the_form():
    """The Forecast view shows the supply settings now (Supply group): the study called a bad one
    a saved value 'not on the form: restore a backup'."""
    from dataclasses import replace

    from engine.forecast import default_scenario
    from engine.studies_forecast import ForecastStudy

    problems = ForecastStudy(replace(default_scenario(), lifetime_years=-1.0)).problems()
    supply = [p for p in problems if p.field == "supply"]
    assert supply and supply[0].message.startswith("Supply setting lifetime_years")
    assert not any("not on the form" in p.message for p in problems)
