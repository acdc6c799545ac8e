"""The Inference view's KV-cache precision follows the weights as `serve`'s default does, until the
user picks one (QA s40): with FP4 weights on B200 the view kept a BF16 cache where `serve` runs FP8,
so the same study read TP1 EP8 and 472 chips in the window and TP4 and 464 from the CLI."""


def _pick(combo, data) -> None:
    """As a user picks an item: the index changes, then `activated`."""
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def test_the_kv_cache_follows_the_weights_until_picked(inference_panel):
    p = inference_panel
    _pick(p.chip_combo, "b200")
    assert p.kv_combo.currentData() == "bf16"
    _pick(p.weight_combo, "fp4")
    assert p.kv_combo.currentData() == "fp8"          # serve: FP8 KV with FP4 weights on a chip with FP8
    _pick(p.chip_combo, "ascend-910b2")                # no FP8 rate: a 16-bit cache
    assert p.kv_combo.currentData() == "bf16"
    _pick(p.weight_combo, "int8")
    assert p.kv_combo.currentData() == "bf16"
    _pick(p.kv_combo, "int8")                          # the user's own pick stays
    _pick(p.chip_combo, "b200")
    _pick(p.weight_combo, "fp8")
    assert p.kv_combo.currentData() == "int8"
    # QA s40: BF16 picked under FP8 weights stayed through BF16 weights, then followed back to FP8
    _pick(p.kv_combo, "bf16")
    _pick(p.weight_combo, "bf16")
    _pick(p.weight_combo, "fp8")
    assert p.kv_combo.currentData() == "bf16"
    _pick(p.kv_combo, "fp8")                           # the default picked: it follows again
    _pick(p.weight_combo, "bf16")
    assert p.kv_combo.currentData() == "bf16"


def test_a_loaded_kv_precision_is_not_moved(inference_panel):
    p = inference_panel
    p.apply_scenario_state({"chip_id": "b200", "weight_dtype": "fp4", "kv_dtype": "bf16"})
    assert p.kv_combo.currentData() == "bf16"          # the study's, as saved
    _pick(p.weight_combo, "fp8")
    assert p.kv_combo.currentData() == "bf16"          # not the default for FP4 on B200 (FP8): kept
