"""QA s25 (C1): Compare counts every scenario in one unit, the baseline's unit chip at its rating.

QA: a what-if whose only change was a TPOT target of 25 ms showed Dec 2025 capacity P50 of 364,132
"Ascend 910B2 chips" against the baseline's 195,373 and a largest shortfall +4.71M chips, while its
real capacity fell from 50.9M to 35.0M output tokens/s: at 25 ms one 910B2 serves 96.2 output
tokens/s instead of 260.7, so the unit itself had shrunk. The numbers below are worked out from
each run's own tokens/s and the baseline's rating."""

import csv
import datetime as dt

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QUndoStack

from engine.compare_units import OWN_RATING_LABEL, OWN_UNIT_CHIP_LABEL, rate_text
from engine.store import open_store
from gui import export as export_mod
from gui.export_all import panel_context
from gui.panels.compare import ComparePanel

BASE = "Story default"
UNIT = "ascend-910b2"
DEC_2025 = dt.date(2025, 12, 1)


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "units.db")
    params = s.scenario(BASE)["params"]
    params["trials"] = 300
    s.save_scenario(BASE, params)
    yield s
    s.close()


@pytest.fixture
def panel(store, qtbot):
    p = ComparePanel(store, QUndoStack())
    qtbot.addWidget(p)
    yield p
    p.shutdown()
    QThreadPool.globalInstance().waitForDone(5000)


def _compare(store, panel, name, edit):
    params = store.scenario(BASE)["params"]
    edit(params)
    store.save_scenario(name, {**params, "name": name})
    panel.refresh_scenarios()
    panel.set_selected([name])
    panel.compute_now()
    results = dict((n, o.result) for n, o in panel.results)
    return results[BASE], results[name]


def _rating(result):
    return result.serving_tokens_per_s_per_chip[result.unit_chip_id]


def _series(chart, name):
    return np.asarray(chart.series_data(name)[1], dtype=float)


def _tpot(ms):
    return lambda p: p["demand"].update(tpot_ms=ms)


@pytest.mark.parametrize("tpot_ms", [25.0, 100.0])
def test_a_tpot_what_if_is_drawn_in_the_baselines_unit_chips(store, panel, tpot_ms):
    """Two scenarios apart only by the TPOT target: the what-if's capacity P50 in a month is its
    output tokens/s over the baseline's tokens/s per 910B2 chip, not over its own."""
    name = f"TPOT {tpot_ms:g}ms"
    base, what_if = _compare(store, panel, name, _tpot(tpot_ms))
    rating_base, rating_what_if = _rating(base), _rating(what_if)
    assert base.unit_chip_id == what_if.unit_chip_id == UNIT
    # the unit rating differs by a known factor (a tighter TPOT slows the chip, a looser one speeds it):
    # since s28 (the 910B2's MoE reads at the Ascend prior) 283 output tokens/s per chip at 50 ms,
    # 175 at 25 ms (0.62x) and 331 at 100 ms (1.17x)
    assert (rating_what_if < 0.7 * rating_base) if tpot_ms < 50 else (rating_what_if > 1.1 * rating_base)
    m = base.months.index(DEC_2025)
    chart = panel.capacity_chart
    assert chart.y_unit == f"Ascend 910B2 chips at {rate_text(rating_base)} output tokens/s"
    shown = _series(chart, f"{name}: capacity P50")
    tokens_per_s = what_if.serving_capacity_tokens_per_s.p50[m]
    assert shown[m] == pytest.approx(tokens_per_s / rating_base, rel=1e-9)
    assert shown[m] == pytest.approx(what_if.serving_capacity_unit_chips.p50[m] * rating_what_if / rating_base,
                                     rel=1e-9)
    # the baseline's own line is as its Forecast view draws it
    np.testing.assert_array_equal(_series(chart, f"{BASE}: capacity P50"), base.serving_capacity_unit_chips.p50)
    # the chart now ranks the two as their tokens/s do (the QA saw 364k against 195k for a fall)
    real = np.sign(tokens_per_s - base.serving_capacity_tokens_per_s.p50[m])
    assert np.sign(shown[m] - base.serving_capacity_unit_chips.p50[m]) == real
    # the same demand in tokens/s is the same line in one unit: drawn once, the baseline's
    assert what_if.demand_peak_output_tokens_per_s[m] == pytest.approx(base.demand_peak_output_tokens_per_s[m])
    assert f"{name}: peak demand" not in chart.series_names()
    np.testing.assert_allclose(_series(chart, "Peak demand"), base.demand_unit_chips)


def test_the_key_figures_count_the_shortfall_in_the_same_unit(store, panel):
    base, what_if = _compare(store, panel, "TPOT 25ms", _tpot(25.0))
    rating_base, rating_what_if = _rating(base), _rating(what_if)
    unit = f"Ascend 910B2 chips at {rate_text(rating_base)} output tokens/s"
    headers, rows = panel.figure_rows()
    assert headers == ["Figure", f"{BASE} (baseline)", "TPOT 25ms", "TPOT 25ms − baseline"]
    by_label = {row[0]: row[1:] for row in rows}
    assert "Largest P50 shortfall (Ascend 910B2 chips)" not in by_label   # one row, one unit
    base_value, value, difference = by_label[f"Largest P50 shortfall ({unit})"]
    assert base_value == pytest.approx(float(np.max(base.shortfall_p50_unit_chips)))
    # the what-if's largest shortfall in tokens/s over the baseline's rating
    in_tokens = float(np.max(what_if.shortfall_p50_unit_chips)) * rating_what_if
    assert value == pytest.approx(in_tokens / rating_base, rel=1e-9)
    assert difference == pytest.approx(value - base_value, rel=1e-9)
    # each scenario's own rating is in the table, with its difference
    assert by_label[OWN_RATING_LABEL][:2] == pytest.approx([rating_base, rating_what_if])
    assert OWN_UNIT_CHIP_LABEL not in by_label   # the same unit chip: its name is in the unit already
    # figures in real chips or months are not converted
    assert by_label["Installed P50 at horizon end, all types (chips)"][0] == pytest.approx(
        float(base.installed_total.p50[-1]))
    assert by_label["Months with a P50 shortfall (months)"][1] == int(np.count_nonzero(what_if.shortfall_p50_unit_chips > 0))


def test_the_files_say_which_unit_and_carry_its_numbers(store, panel, tmp_path):
    base, what_if = _compare(store, panel, "TPOT 25ms", _tpot(25.0))
    rating_base = _rating(base)
    unit = f"Ascend 910B2 chips at {rate_text(rating_base)} output tokens/s"
    chart_csv = export_mod.export_csv(*panel.capacity_chart.data_table(), tmp_path / "capacity.csv",
                                      context=panel_context(panel, BASE, "capacity_p50"))
    lines = chart_csv.read_text(encoding="utf-8-sig").splitlines()
    comments = [line for line in lines if line.startswith("#")]
    assert any(line.startswith(f"# Unit: capacity, demand and shortfall in {unit} each ({BASE}'s unit chip")
               and f"TPOT 25ms: {rate_text(_rating(what_if))} output tokens/s per Ascend 910B2 chip" in line
               for line in comments)
    table = list(csv.reader([line for line in lines if not line.startswith("#")]))
    header = table[0]
    assert f"TPOT 25ms: capacity P50 ({unit})" in header
    dec = next(row for row in table[1:] if row[0] == DEC_2025.isoformat())
    m = base.months.index(DEC_2025)
    value = float(dec[header.index(f"TPOT 25ms: capacity P50 ({unit})")])
    assert value == pytest.approx(what_if.serving_capacity_tokens_per_s.p50[m] / rating_base, rel=1e-6)
    # the key figures' file names the unit in its label; the installed chart's file has no unit line
    headers, rows = panel.tables()["key_figures"]
    assert any(row[0] == f"Largest P50 shortfall ({unit})" for row in rows)
    assert "Unit" in panel_context(panel, BASE) and "Unit" not in panel_context(panel, BASE, "installed_p50")


def test_a_what_if_with_another_unit_chip_is_counted_in_the_baselines(store, panel):
    """It said "chips of each scenario's unit" and drew H20 chips beside 910B2 chips."""
    base, what_if = _compare(store, panel, "H20 unit", lambda p: p["demand"].update(chip_id="h20-96gb"))
    assert what_if.unit_chip_id == "h20-96gb"
    rating_base = _rating(base)
    m = base.months.index(DEC_2025)
    assert panel.capacity_chart.y_unit == f"Ascend 910B2 chips at {rate_text(rating_base)} output tokens/s"
    shown = _series(panel.capacity_chart, "H20 unit: capacity P50")
    assert shown[m] == pytest.approx(what_if.serving_capacity_tokens_per_s.p50[m] / rating_base, rel=1e-9)
    by_label = {row[0]: row[1:] for row in panel.figure_rows()[1]}
    assert by_label[OWN_UNIT_CHIP_LABEL][:2] == ["Ascend 910B2", "H20"]


def test_one_unit_at_one_rating_is_compared_as_before(store, panel):
    """A what-if that leaves the unit chip's rating alone: the chart, the table and the files read
    as they did (the scenarios' own unit chips, no rating rows, no unit line)."""
    base, what_if = _compare(store, panel, "Huawei late",
                             lambda p: p["vendor_uncertainty"]["Huawei"].update(extra_delay_days=182.0))
    assert _rating(base) == _rating(what_if)
    assert panel.capacity_chart.y_unit == "Ascend 910B2 chips"
    np.testing.assert_array_equal(_series(panel.capacity_chart, "Huawei late: capacity P50"),
                                  what_if.serving_capacity_unit_chips.p50)
    by_label = {row[0]: row[1:] for row in panel.figure_rows()[1]}
    assert by_label["Largest P50 shortfall (Ascend 910B2 chips)"][1] == float(np.max(what_if.shortfall_p50_unit_chips))
    assert OWN_RATING_LABEL not in by_label
    assert "Unit" not in panel_context(panel, BASE, "capacity_p50")
