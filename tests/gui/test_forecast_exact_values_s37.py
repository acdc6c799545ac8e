"""QA s37: the Forecast form rounds to its decimals and clamps to its ranges, and the window, the
report and the export computed with what it showed: a stored demand scale of 0 ran at 0.01 (the
report drew 19.5k chips of demand where `forecast` said none), 250 at 100, a goodput of 0.905 at
0.91."""

import copy

import pytest

from engine.forecast import scenario_from_dict
from engine.store import open_store


@pytest.fixture
def odd_store(tmp_path):
    store = open_store(tmp_path / "odd.db")
    base = store.scenario("Story default")["params"]
    for name, edit in (("scale 0", {"demand.scale": 0.0}), ("scale 250", {"demand.scale": 250.0}),
                       ("goodput 0.905", {"training_efficiency_scale": 0.905}),
                       ("mix 2.345", {"demand.request_mix_sigma": 2.345}),
                       ("fine", {"demand.peak_to_average": 1.2345, "demand.prefix_cache_hit": 0.1234,
                                 "demand.ceiling_tokens_per_day": 123.456e12, "serving_efficiency_scale": 0.8765})):
        params = copy.deepcopy(base)
        for path, value in edit.items():
            *parents, key = path.split(".")
            node = params
            for p in parents:
                node = node[p]
            node[key] = value
        store.save_scenario(name, {**params, "name": name})
    yield store
    store.close()


def test_the_offscreen_panels_compute_the_stored_scenario(odd_store, qapp):
    from gui.export_all import build_offscreen_panels, shutdown_panels

    for name in ("scale 0", "scale 250", "goodput 0.905", "mix 2.345", "fine"):
        stored = scenario_from_dict(odd_store.scenario(name)["params"])
        panels = build_offscreen_panels(odd_store, name)
        try:
            shown = panels["forecast"].scenario()
        finally:
            shutdown_panels(panels)
            for panel in panels.values():
                panel.close()
                panel.deleteLater()
        assert shown.demand == stored.demand, name
        assert shown.training_efficiency_scale == stored.training_efficiency_scale, name
        assert shown.serving_efficiency_scale == stored.serving_efficiency_scale, name


def test_an_edited_field_reads_its_new_value_and_the_others_stay_exact(odd_store, qtbot):
    from gui.panels.forecast import ForecastPanel

    panel = ForecastPanel(odd_store)
    qtbot.addWidget(panel)
    panel.apply_scenario_state(odd_store.scenario("fine")["params"])
    assert panel.scale_spin.minimum() == 0.0   # a scale of 0 (no demand) can be typed and shown
    sc = panel.scenario()
    assert (sc.demand.peak_to_average, sc.demand.prefix_cache_hit) == (1.2345, 0.1234)
    assert sc.demand.ceiling_tokens_per_day == 123.456e12
    panel.peak_spin.setValue(2.5)
    panel.prefix_spin.setValue(20)
    sc = panel.scenario()
    assert (sc.demand.peak_to_average, sc.demand.prefix_cache_hit) == (2.5, 0.2)
    assert sc.serving_efficiency_scale == 0.8765 and sc.demand.ceiling_tokens_per_day == 123.456e12
    panel.shutdown()


def test_a_value_typed_back_is_the_fields_and_shares_stay_exact(odd_store, qtbot):
    """QA of the first fix: typing the shown value back kept the loaded one (a ceiling of 0.004T
    that read "no ceiling" could not be removed), and training shares were read at whole percents
    (12.5% saved as 13%, and an unedited share pinned away from its default)."""
    from gui.panels.forecast import ForecastPanel

    params = copy.deepcopy(odd_store.scenario("Story default")["params"])
    params["demand"]["scale"] = 0.004
    params["allocation"]["training_share"] = {"ascend-910b2": 0.125}
    panel = ForecastPanel(odd_store)
    qtbot.addWidget(panel)
    panel.apply_scenario_state(params)
    sc = panel.scenario()
    assert sc.demand.scale == 0.004 and sc.allocation.training_share == {"ascend-910b2": 0.125}
    panel.scale_spin.setValue(1.0)
    panel.scale_spin.setValue(0.0)   # "no demand", typed: the field's own 0, not the loaded 0.004
    assert panel.scenario().demand.scale == 0.0
    share = panel._share_spins["ascend-910b2"]
    share.setValue(20)
    assert panel.scenario().allocation.training_share["ascend-910b2"] == 0.2
    panel.shutdown()


def test_the_training_and_inference_forms_keep_stored_values_exactly(odd_store, qtbot):
    """QA of the first fix: the Training and Inference forms rounded too (tokens 15.0004 -> 15.0, a
    price of 2.345 -> 2.35, TTFT 1234.567 -> 1235, TPOT 33.333 -> 33.3, prefix 12.345 -> 12)."""
    from gui.panels.inference import InferencePanel
    from gui.panels.training import TrainingPanel

    training = TrainingPanel(odd_store)
    qtbot.addWidget(training)
    training.apply_scenario_state({**training.scenario_state(), "tokens_t": 15.0004, "price_per_chip_hour": 2.345})
    state = training.scenario_state()
    assert (state["tokens_t"], state["price_per_chip_hour"]) == (15.0004, 2.345)
    training.price_spin.setValue(3.0)   # edited: the field's own value
    assert training.scenario_state()["price_per_chip_hour"] == 3.0
    inference = InferencePanel(odd_store)
    qtbot.addWidget(inference)
    odd = {"ttft_ms": 1234.567, "tpot_ms": 33.333, "prefix_cache_pct": 12.345, "length_spread": 0.555}
    inference.apply_scenario_state({**inference.scenario_state(), **odd})
    state = inference.scenario_state()
    assert {k: state[k] for k in odd} == odd
    training.shutdown()
    inference.shutdown()
