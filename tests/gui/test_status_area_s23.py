"""A view's passing status message is cleared when another area is shown; errors stay."""


def _key_index(window, key):
    host = window._area_widget(key)
    return next(i for i in range(window.tabs.count()) if window.tabs.widget(i) is host)


def test_fleet_message_does_not_stay_under_another_area(window, qtbot):
    window.tabs.setCurrentIndex(_key_index(window, "fleet"))
    window.fleet_panel.status_message.emit("Delete order 3 (Ctrl+Z to undo)")
    assert window.statusBar().currentMessage() == "Delete order 3 (Ctrl+Z to undo)"
    window.tabs.setCurrentIndex(_key_index(window, "plan"))
    assert window.statusBar().currentMessage() == ""


def test_an_error_stays_when_the_area_changes(window, qtbot):
    window.tabs.setCurrentIndex(_key_index(window, "fleet"))
    window.show_error("orders.csv row 3, field chips: 'x' is not a number")
    window.tabs.setCurrentIndex(_key_index(window, "plan"))
    assert "orders.csv row 3" in window.statusBar().currentMessage()


def test_a_window_wide_message_is_kept(window, qtbot):
    window.tabs.setCurrentIndex(_key_index(window, "fleet"))
    window.show_status("Exported 12 files to /tmp/x")
    window.tabs.setCurrentIndex(_key_index(window, "forecast"))
    assert window.statusBar().currentMessage() == "Exported 12 files to /tmp/x"
