"""`serve --demand-tokens-per-s` on an MoE model lists the chips needed at each TP with the EP that
count is at (session 40): "TP8 448" named no layout a planner could run, and `--tp 8` alone keeps EP1.

Each listed TP and EP, run as a layout of its own, needs the count the list gives.
"""

import json

from tests.cli_run import run_cli, use_packaged_catalog

QWEN_H20 = ["serve", "--model", "qwen3-235b-a22b", "--chip", "h20-96gb", "--weight-dtype", "int8",
            "--input-len", "1024", "--output-len", "256", "--ttft-ms", "2000", "--tpot-ms", "50",
            "--demand-tokens-per-s", "100000"]


def _json(capsys, *argv):
    code, out, err = run_cli(capsys, *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_each_tp_names_its_ep_and_that_layout_needs_the_listed_chips(capsys, monkeypatch):
    use_packaged_catalog(monkeypatch)
    data = _json(capsys, *QWEN_H20)
    eps = data["layouts_ep"]
    assert list(eps) == [t for t, n in data["layouts"].items() if n is not None]
    assert all(e > 1 for e in eps.values())
    for tp in ("1", "8"):
        alone = _json(capsys, *QWEN_H20, "--tp", tp, "--ep", str(eps[tp]))
        assert alone["chips_needed"] == data["layouts"][tp]
    # the searched answer's own layout is the list's at its TP (a tie in chips goes to the higher rate)
    assert (str(data["tp"]), data["ep"]) in eps.items()
    code, out, _err = run_cli(capsys, *QWEN_H20)
    assert code == 0
    listed = out.split("by TP at the steady state: ")[1].splitlines()[0]
    assert listed.startswith(f"TP1 EP{eps['1']} {data['layouts']['1']:,}, ")


def test_a_dense_model_lists_tp_alone(capsys, monkeypatch):
    use_packaged_catalog(monkeypatch)
    argv = ["serve", "--model", "llama3-8b", "--chip", "h20-96gb", "--input-len", "1024", "--output-len", "256",
            "--ttft-ms", "2000", "--tpot-ms", "50", "--demand-tokens-per-s", "100000"]
    assert "layouts_ep" not in _json(capsys, *argv)
    code, out, _err = run_cli(capsys, *argv)
    assert code == 0 and " EP" not in out.split("by TP at")[1].splitlines()[0]
