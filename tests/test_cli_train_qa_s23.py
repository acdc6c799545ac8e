"""QA s23 on `fleetcast train`'s reasons and advice: memory was blamed on the chip count's factors
(128 chips told "try a chip count with more factors"), --expert-tp was blamed where memory stops
the run, a fixed layout's refusal named neither the flag nor its numbers, the memory advice raised
a pinned --micro-batch that was no problem, and an infeasible layout's JSON disagreed with itself."""

import json
from types import SimpleNamespace

import pytest

import engine.cli as cli

H800_DSV3 = ["train", "--model", "deepseek-v3", "--chip", "h800-sxm5-80gb", "--chips", "128", "--search"]
MIXTRAL_64 = ["train", "--model", "mixtral-8x7b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--micro-batch", "1",
              "--zero", "1", "--recompute", "selective"]


@pytest.fixture
def catalog_only(monkeypatch):
    """The packaged catalog: the CLI falls back to it when the store cannot be imported."""
    def no_store(self):
        raise ImportError("store not used in these tests")

    monkeypatch.setattr(cli.Context, "store", no_store)


def _err(capsys, *argv) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def _json(capsys, *argv) -> tuple[int, dict]:
    code = cli.main(["--format", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def _hint(err: str) -> str:
    """The advice after the counts by reason."""
    return err.split("); ", 1)[1] if "); " in err else err


def test_a_tight_fit_is_memory_not_the_chip_counts_factors(capsys, catalog_only):
    """DeepSeek-V3 on 128 H800: its state (9.8 TiB) just fits the 10.0 TiB of HBM and every layout
    passing the rules is out of memory; "try a chip count with more factors" was told."""
    code, err = _err(capsys, *H800_DSV3)
    assert code == 1 and "Traceback" not in err
    hint = _hint(err)
    assert "more factors" not in hint and "--global-batch" not in hint
    assert hint.startswith("more chips are needed: the 189,036 layouts that pass the other rules run out of memory")
    assert "160 chips fit (" in hint and "--chips 160)" in hint
    # --global-batch given already: the count that fits is named, not "another --global-batch"
    code, err = _err(capsys, "train", "--model", "llama3-405b", "--chip", "h20-96gb", "--chips", "64", "--search",
                     "--global-batch", "512")
    assert code == 1 and "more factors" not in err and "80 chips fit (" in err


def test_pinned_memory_settings_get_the_smallest_change_that_fits(capsys, catalog_only):
    """--zero 0 was the problem; "keep it with --zero 3 --micro-batch 2" raised a pinned
    --micro-batch 1 that --zero 3 fits with (and "try a chip count with more factors" was told)."""
    base = ["train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "1", "--pp", "1",
            "--zero", "0"]
    for extra in ([], ["--micro-batch", "1"]):
        code, err = _err(capsys, *base, *extra)
        assert code == 1 and "more factors" not in err
        assert "the fixed --tp 1 --pp 1 does not fit in memory: keep it with --zero 3," in err
        assert "--micro-batch 2" not in err


def test_expert_tp_is_blamed_only_where_it_stops_every_layout(capsys, catalog_only):
    """Dropping --expert-tp 4 still finds nothing on 128 H800 (memory is the limit); where it does
    rule out every layout, the fix names the values that pass ("use a smaller one" named failing ones)."""
    code, err = _err(capsys, *H800_DSV3, "--expert-tp", "4")
    hint = _hint(err)
    assert code == 1 and "--expert-tp" not in hint and "drop" not in hint and "more chips are needed" in hint
    code, err = _err(capsys, "train", "--model", "mixtral-8x7b", "--chip", "h100-sxm5-80gb", "--chips", "32",
                     "--tp", "8", "--ep", "8", "--expert-tp", "8", "--search")
    assert code == 1 and _hint(err).startswith("--expert-tp 8: ")
    assert err.rstrip().endswith("use --expert-tp 1, 2 or 4, or drop it to derive it")


def test_a_fixed_layout_names_the_flag_and_its_numbers(capsys, catalog_only):
    code, err = _err(capsys, *MIXTRAL_64, "--tp", "8", "--pp", "1", "--dp", "8", "--ep", "16")
    assert code == 1 and "layout TP8 x PP1 x VPP1 x DP8 x CP1 x EP16 x ETP4 " in err
    assert "--ep 16: Mixtral 8x7B has 8 experts; use --ep 8 or fewer" in err
    code, err = _err(capsys, *MIXTRAL_64, "--tp", "8", "--pp", "4", "--dp", "2", "--ep", "8", "--expert-tp", "4")
    assert code == 1 and "x EP8 x ETP4 " in err
    assert "ep 8 x etp 4 = 32 does not divide tp x dp x cp = 16; derived ETP would be 2" in err
    code, err = _err(capsys, "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "8",
                     "--pp", "8", "--dp", "1", "--vpp", "12", "--micro-batch", "1", "--zero", "1", "--recompute",
                     "selective")
    assert code == 1 and "--vpp 10 at most" in err and "EP1" not in err   # a dense model has no EP to name


def test_an_infeasible_layouts_json_agrees_with_itself(capsys, catalog_only):
    """The top-level batch was the default (512) beside the layout's 1,024, and a TP that splits no
    heads printed 820 tokens/s and MFU 37.2%; the window blanks the figures of a layout that cannot run."""
    code, d = _json(capsys, "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "1",
                    "--pp", "1", "--dp", "64", "--micro-batch", "16", "--zero", "3", "--recompute", "full")
    assert code == 1 and d["feasible"] is False
    assert d["global_batch_seqs"] == d["layout"]["global_batch_seqs"]
    assert d["figures_note"].startswith("out of memory: ") and d["tokens_per_s"] > 0   # flagged, kept
    code, d = _json(capsys, "train", "--model", "llama3-70b", "--chip", "h100-sxm5-80gb", "--chips", "48", "--tp", "6",
                    "--pp", "8", "--dp", "1", "--micro-batch", "1", "--zero", "1", "--recompute", "selective")
    assert code == 1 and d["feasible"] is False and d["infeasible_reason"].startswith("tp does not divide heads; --tp 6")
    assert d["tokens_per_s"] is None and d["tokens_per_s_per_chip"] is None and d["mfu_pct"] is None
    assert d["step_time_s"] is None and d["memory_gib_per_chip"] > 0   # memory still said


def test_no_layout_names_the_rule_with_its_numbers(capsys, catalog_only):
    code, err = _err(capsys, "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "8",
                     "--pp", "4", "--dp", "4", "--search")
    assert code == 1 and err.rstrip().endswith("--tp 8, --pp 4, --dp 4: tp x pp x dp = 8 x 4 x 4 = 128, not 64")


def test_the_batch_refusal_says_the_default_batch_was_kept(capsys, catalog_only):
    """No --global-batch given: DP64 x 16 = 1,024 is beyond 1.5x the default 512, which is kept;
    "global batch not divisible" alone, with "try a chip count with more factors", hid why."""
    code, err = _err(capsys, "train", "--model", "llama3-8b", "--chip", "h100-sxm5-80gb", "--chips", "64", "--tp", "1",
                     "--pp", "1", "--cp", "1", "--micro-batch", "16", "--search")
    assert code == 1 and "more factors" not in err
    assert "dp x micro-batch 64 x 16 = 1,024 exceeds 1.5x the default batch 512" in err


def test_a_dense_models_saved_expert_tp_is_reported_as_not_applying(capsys, tmp_path):
    """A scenario's Expert TP 2 was reported in the JSON's software for Llama 3 8B, which
    --expert-tp refuses; a MoE model keeps it."""
    from engine.store import open_store
    from engine.studies import TrainingStudy

    db = str(tmp_path / "t.db")
    store = open_store(db)
    params = dict(store.scenario("Story default")["params"])
    study = TrainingStudy(model_id="mixtral-8x7b", chip_id="h100-sxm5-80gb", num_chips=64, tokens_t=1.0,
                          software={"expert_tp": 2})
    store.save_scenario("etp", {**params, "ui": {"training": study.to_dict()}})
    store.close()
    code, d = _json(capsys, "train", "--db", db, "--scenario", "etp", "--model", "llama3-8b")
    assert code == 0 and d["software"]["expert_tp"] is None
    code, d = _json(capsys, "train", "--db", db, "--scenario", "etp")
    assert code == 0 and d["software"]["expert_tp"] == 2


def test_the_window_gives_memory_advice_and_no_search_for_rules_of_every_layout():
    """128 chips (a multiple of 8) were told to "pick a chip count with more factors (a multiple
    of 8)" where memory stops the run; a fixed layout with a bad Expert TP or FP8 on a chip without
    it was sent to Search, which fails too."""
    from gui.panels.training import infeasible_fix, no_fit_advice

    advice = no_fit_advice({"out of memory": 189036, "global batch not divisible by dp x micro-batch": 2208,
                            "ep does not divide experts or tp x dp x cp": 56676}, None, 128)
    assert "factors" not in advice and advice.startswith("Add chips")
    lay = {"tp": 8, "pp": 1, "dp": 8, "cp": 1, "ep": 8, "zero_stage": 1, "recompute": "selective", "micro_batch": 1}
    etp = infeasible_fix(SimpleNamespace(layout=lay, reason="expert tp must divide tp, and ep x expert tp divide tp "
                                                             "x dp x cp"))
    assert "Search keeps" not in etp and etp.startswith("Set Expert TP to derived (8 here)")
    fp8 = infeasible_fix(SimpleNamespace(layout=lay, reason="fp8 not supported by chip"))
    assert "Search keeps" not in fp8 and fp8.startswith("Train in BF16")
    assert infeasible_fix(SimpleNamespace(layout=lay, reason="tp does not divide heads")).startswith("Layout: Search")
