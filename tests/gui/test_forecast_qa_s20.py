"""QA s20 in the Forecast view: trials x months over the limit is refused at the form before it
runs (500,000 x 240 ran out of memory after 20 s), an out-of-memory run is one line, and the jobs
table says why P(done by the deadline) is not known on a horizon ending before the deadline."""

import pytest

from engine.errors import UserError


@pytest.fixture
def panel(forecast_panel):   # tests/gui/conftest.py
    return forecast_panel


def test_trials_x_months_over_the_limit_is_refused_at_the_form_before_running(panel):
    panel.trials_spin.setValue(500_000)
    panel.months_spin.setValue(240)
    assert panel.run() is None and not panel.is_running()
    assert panel.validation_label.isVisibleTo(panel)
    assert panel.validation_label.text() == (
        "Fix before running: Trials x horizon: 500,000 x 240 = 120,000,000 trial-months, about 13 GB; "
        "at most 20,000,000 (e.g. 83,333 trials over 240 months).")
    assert "c0392b" in panel.trials_spin.styleSheet()
    panel.trials_spin.setValue(80_000)   # 19,200,000: within it, and the mark goes
    assert panel._request() is not None
    assert not panel.validation_label.isVisibleTo(panel) and "c0392b" not in panel.trials_spin.styleSheet()


def test_an_out_of_memory_run_is_one_line_saying_what_to_lower(panel, qtbot, monkeypatch):
    import gui.panels.forecast_common as common

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 916. MiB for an array with shape (500000, 240) and data type float64")

    monkeypatch.setattr(common, "run_forecast", out_of_memory)
    panel.trials_spin.setValue(80_000)
    panel.months_spin.setValue(240)
    with qtbot.waitSignal(panel.runner.failed, timeout=20000) as blocker:
        assert panel.run() is not None
    assert blocker.args[0] == "out of memory at 80,000 trials over 240 months: lower Trials or Horizon"
    assert panel.banner.text() == ("The forecast could not run: out of memory at 80,000 trials over 240 months: "
                                   "lower Trials or Horizon")
    with pytest.raises(UserError, match="^out of memory at 80,000 trials"):
        common.compute_forecast(panel._request())


def test_the_jobs_table_says_na_and_why_on_a_horizon_ending_before_the_deadline(panel, qtbot):
    panel.months_spin.setValue(12)     # May 2024 to Apr 2025; the story job's deadline is 31 Dec 2025
    with qtbot.waitSignal(panel.result_ready, timeout=30000):
        assert panel.run() is not None
    headers, rows = panel.tables()["jobs"]
    column = headers.index("Done by deadline (%)")
    assert rows[0][column] == "n/a: deadline after the horizon; extend the horizon"
    assert panel.jobs_table.item(0, column).text() == "n/a: deadline after the horizon; extend the horizon"
    assert "extend the horizon to 20 months (2025-12)" in panel.summary_label.text()
