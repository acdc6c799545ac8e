"""QA s32: the Forecast summary wrote a demand point's spread "2024-07 +-62%" (the engine's ASCII,
for terminals) beside the assumptions box's "±62%"."""

from __future__ import annotations


def test_the_summary_writes_plus_minus_as_the_window_does(forecast_panel, qtbot):
    with qtbot.waitSignal(forecast_panel.result_ready, timeout=20000) as blocker:
        assert forecast_panel.run() is not None
    result = blocker.args[0]
    assert any("+-" in note for note in result.notes)   # the story's uncertain demand points
    html = forecast_panel.view.summary_html()
    assert "±" in html and "+-" not in html


def test_the_monthly_table_gives_p_meet_to_two_decimals_as_the_cli(forecast_panel, qtbot):
    """It read "82.35", "53.60", "23", "7.30" in one column; the CLI's CSV writes "23.00"."""
    import re

    with qtbot.waitSignal(forecast_panel.result_ready, timeout=20000):
        assert forecast_panel.run() is not None
    table = forecast_panel.view.monthly_table
    column = next(k for k in range(table.columnCount()) if table.horizontalHeaderItem(k).toolTip().startswith("P(meet"))
    texts = [table.item(i, column).text() for i in range(table.rowCount())]
    assert texts and all(re.fullmatch(r"\d{1,3}\.\d\d", t) for t in texts), texts


def test_notes_about_unused_settings_name_what_they_are_not_the_fields(tmp_path, qtbot):
    """With no orders, the summary read "policy_events[0].chip_id 'H20': no order of it in the
    fleet, so this cut-off changes nothing" and "vendor_uncertainty 'Huawei': ..."."""
    from engine.store import open_store
    from tests.gui.shared_setups import forecast_without_orders, run_forecast

    store = open_store(tmp_path / "empty.db")
    try:
        for panel in forecast_without_orders(store, qtbot):
            run_forecast(panel, qtbot)
            html = panel.view.summary_html()
            assert "policy_events[" not in html and "vendor_uncertainty" not in html
            assert "The export cut-off of H20: no order of it in the fleet, so it changes nothing" in html
            assert "Huawei&#x27;s delivery uncertainty" in html or "Huawei's delivery uncertainty" in html
    finally:
        store.close()
