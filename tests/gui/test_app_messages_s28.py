"""What the window says stays where the user looks (QA s28, keyboard-first pass).

- An import refused while another view is on screen said only "Import of ... failed" in the status
  bar; the reason (file, row, field, value) sat in the hidden Fleet banner.
- "New scenario 'Q3': the Forecast's inputs at the story's defaults..." was replaced within about
  2 s by the Forecast's "2,000 trials x 60 months in 2295 ms".
- The Fleet's rows now select several at once (for copying): a delete still takes one, named.
"""

from gui.app import SCENARIO_MESSAGE_S


def _key_index(window, key):
    return next(i for i in range(window.tabs.count()) if window.tabs.widget(i) is window._area_widget(key))


def test_a_refused_import_says_why_on_the_view_on_screen(window, tmp_path, qtbot):
    bad = tmp_path / "bad_orders.csv"
    bad.write_text("buyer,vendor,chip_id,quantity,order_date\nX,NVIDIA,h20-96gb,abc,2025-01-01\n", encoding="utf-8")
    window.tabs.setCurrentIndex(_key_index(window, "plan"))
    plan = window.panels["plan"]
    assert window.import_csv("orders", str(bad)) is None
    said = plan.banner.text()
    assert "bad_orders.csv" in said and "quantity" in said and "'abc'" in said
    assert "quantity" in window.statusBar().currentMessage()      # not just "Import of ... failed"
    assert window.fleet_panel.banner.text() == said               # and where the Fleet shows it


def test_a_views_run_does_not_overwrite_what_the_scenario_bar_just_said(window, qtbot, monkeypatch):
    import gui.app as app

    window.tabs.setCurrentIndex(_key_index(window, "plan"))
    now = [1000.0]
    monkeypatch.setattr(app.time, "monotonic", lambda: now[0])
    window.scenario_bar.status_message.emit("New scenario 'Q3 test': the Forecast's inputs at the story's defaults")
    window._panel_status("plan", "Plan: 200 trials in 900 ms")
    assert window.statusBar().currentMessage().startswith("New scenario 'Q3 test'")
    now[0] += SCENARIO_MESSAGE_S + 0.1            # once its time is up, the held message is said
    window._say_held_status()
    assert window.statusBar().currentMessage() == "Plan: 200 trials in 900 ms"
    window._panel_status("plan", "Plan: 300 trials in 1200 ms")   # and the view speaks again at once
    assert window.statusBar().currentMessage() == "Plan: 300 trials in 1200 ms"


def test_a_delete_with_several_orders_selected_deletes_nothing_and_says_so(window, store, qtbot):
    fleet = window.fleet_panel
    before = [o["id"] for o in store.order_rows()]
    assert len(before) >= 2
    view = fleet.orders_table.view
    view.selectAll()
    said = []
    fleet.status_message.connect(said.append)
    assert fleet.delete_selected_order() is False
    assert [o["id"] for o in store.order_rows()] == before
    assert said and said[-1].startswith(f"{len(fleet.orders_table.selected_keys())} orders selected: select one")
