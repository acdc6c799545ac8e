"""QA s20: the tornado chart and its CSV name each setting's real percentile.

"Huawei fraction P10 | P90" was drawn (and exported) over a first bar computed at the share's
0.9 quantile, under a caption saying P10 is the input's 10th percentile.
"""

import datetime as dt

import pytest

from engine.fleet import Delivery, Order, ScheduledLot
from engine.forecast import DemandCurve, DemandPoint, ForecastInputs, ForecastScenario, OrderUncertainty
from engine.forecast_sensitivity import tornado

D = dt.date
CHIP = "chip-a"


def _inputs() -> ForecastInputs:
    order = Order(id=1, buyer="B", vendor="Huawei", chip_id=CHIP, quantity=100_000, order_date=D(2024, 1, 1),
                  promised=(ScheduledLot(D(2024, 7, 1), 30_000), ScheduledLot(D(2025, 1, 1), 70_000)),
                  deliveries=(Delivery(0, 1, D(2024, 7, 1), 30_000),))
    sc = ForecastScenario(start=D(2024, 1, 1), months=24, trials=100, seed=3, install_lag_days=0.0,
                          demand=DemandCurve(points=(DemandPoint(D(2024, 1, 1), 1.0),), model_id="m", chip_id=CHIP,
                                             input_tokens_per_request=0.0, output_tokens_per_request=1.0),
                          vendor_uncertainty={"Huawei": OrderUncertainty("beta", 0.3, 0.4, 0.8, "order",
                                                                         "triangular", 0, 90, 365)})
    return ForecastInputs(orders=(order,), scenario=sc, chip_peak_tflops={CHIP: 500.0},
                          serving_tokens_per_s_per_chip={CHIP: 1.0}, family_by_chip={CHIP: "f"},
                          serving_sigma_by_chip={CHIP: 0.3})


@pytest.fixture
def charts(qtbot):
    from gui.panels.forecast_charts import ForecastCharts

    view = ForecastCharts(chip_name=lambda chip: chip)
    qtbot.addWidget(view)
    return view


def test_the_chart_and_its_csv_name_a_delivered_shares_real_percentiles(charts):
    charts.draw_tornado(tornado(_inputs(), month=D(2025, 1, 1), trials=100))
    headers, rows = charts.tornado_charts["prob_meet_demand"].data_table()
    by_input = {row[0].rsplit(" ", 3)[0]: row[0] for row in rows}
    assert by_input["Huawei fraction"] == "Huawei fraction P90 | P10"
    assert by_input["Huawei delay"] == "Huawei delay P10 | P90"
    assert by_input["throughput"] == "throughput P90 | P10"
    # the caption's key still holds: P10 / P90 are the input's own percentiles, not good / bad ends
    assert "10th / 90th percentile" in charts.sensitivity_label.text()


def test_the_label_before_a_run_does_not_call_p10_the_good_end(charts):
    assert "good (P10)" not in charts.sensitivity_label.text()
    assert "bad (P90)" not in charts.sensitivity_label.text()
