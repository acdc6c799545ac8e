"""The Fleet view against a real seeded store: edits, undo/redo, deletes, refusals, the chart."""

import datetime as dt

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from engine.fleet import installed_timeline
from engine.store import open_store
from gui.panels.fleet import TOTAL_SERIES, FleetPanel, timeline_months
from gui.widgets.plot_panel import to_timestamps


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "fleet.db")
    yield s
    s.close()


@pytest.fixture
def panel(store, qtbot):
    stack = QUndoStack()
    p = FleetPanel(store, stack)
    p._test_stack = stack  # keep the stack alive as long as the panel
    qtbot.addWidget(p)
    yield p
    p.detach()


def _cell(table, key, field):
    return table.source_index(key, field)


def _order(store, order_id):
    return next(r for r in store.order_rows() if r["id"] == order_id)


def test_seed_is_shown(panel, store):
    assert panel.order_model.rowCount() == len(store.order_rows()) > 0
    assert panel.chip_model.rowCount() == len(store.chip_rows())
    assert panel.selected_order_id() == panel.order_model.key_at(0)
    assert panel.delivery_model.rowCount() == len(store.delivery_rows(panel.selected_order_id()))


def test_editing_a_chip_cell_changes_the_store_and_undo_redo_round_trip(panel, store):
    before = next(r for r in store.chip_rows() if r["id"] == "h20-96gb")["hbm_gbps"]
    index = _cell(panel.chips_table, "h20-96gb", "hbm_gbps")
    assert panel.chip_model.setData(index, "4321.5", Qt.ItemDataRole.EditRole)
    assert store.chip("h20-96gb").hbm_gbps == 4321.5
    assert panel.chip_model.data(index, Qt.ItemDataRole.DisplayRole) == "4,321.5"
    panel.undo_stack.undo()
    assert next(r for r in store.chip_rows() if r["id"] == "h20-96gb")["hbm_gbps"] == before
    assert panel.chip_model.data(index, Qt.ItemDataRole.EditRole) == str(before).removesuffix(".0")
    panel.undo_stack.redo()
    assert store.chip("h20-96gb").hbm_gbps == 4321.5


def test_order_edit_undo_restores_exact_values_and_updates_chart(panel, store):
    order_id = 1
    original = _order(store, order_id)
    name = panel._chip_names[original["chip_id"]]
    index = _cell(panel.orders_table, order_id, "price_usd_per_chip")
    assert panel.order_model.setData(index, "17000.25")
    assert _order(store, order_id)["price_usd_per_chip"] == 17000.25
    # A delivery date edit moves the chart.
    delivery = store.delivery_rows(order_id)[0]
    before = panel.chart.series_data(name)[1].copy()
    panel.select_order(order_id)
    d_index = _cell(panel.deliveries_table, delivery["id"], "date")
    later = (dt.date.fromisoformat(delivery["date"]) + dt.timedelta(days=92)).isoformat()
    assert panel.delivery_model.setData(d_index, later)
    after = panel.chart.series_data(name)[1]
    assert after.sum() < before.sum()  # installed later, so fewer chip-months
    panel.undo_stack.undo()
    panel.undo_stack.undo()
    assert _order(store, order_id) == original
    assert store.delivery_rows(order_id)[0] == delivery
    assert np.array_equal(panel.chart.series_data(name)[1], before)


def test_delete_order_with_deliveries_then_undo_restores_same_ids(panel, store):
    order_id = 2
    order = _order(store, order_id)
    deliveries = store.delivery_rows(order_id)
    assert deliveries
    assert panel.select_order(order_id)
    assert panel.delete_selected_order()
    assert order_id not in [r["id"] for r in store.order_rows()]
    assert store.delivery_rows(order_id) == []
    assert panel.order_model.row_of_key(order_id) == -1
    assert panel._chip_names[order["chip_id"]] not in panel.chart.series_names()
    panel.undo_stack.undo()
    assert _order(store, order_id) == order
    assert store.delivery_rows(order_id) == deliveries
    assert panel._chip_names[order["chip_id"]] in panel.chart.series_names()
    panel.undo_stack.redo()
    assert order_id not in [r["id"] for r in store.order_rows()]


def test_bad_value_shows_message_and_changes_nothing(panel, store):
    before_rows = store.order_rows()
    depth = panel.undo_stack.count()
    messages = []
    panel.status_message.connect(messages.append)
    index = _cell(panel.orders_table, 1, "quantity")
    assert not panel.order_model.setData(index, "-5")
    assert store.order_rows() == before_rows
    assert panel.undo_stack.count() == depth
    # named as the column is ("Quantity (chips)"), not by its stored name
    assert panel.banner.text() == "Not saved: order 1, Quantity (chips): '-5' (must be >= 1)"
    assert messages and messages[-1] == panel.banner.text()
    panel.order_model.setData(_cell(panel.orders_table, 1, "price_usd_per_chip"), "12000")
    assert panel.undo_stack.text(panel.undo_stack.count() - 1) == "Edit order 1 Price (USD/chip) → 12000"
    # A good edit afterwards clears the error.
    assert panel.order_model.setData(index, "100001")
    assert panel.banner.text() == ""


def test_delivery_beyond_outstanding_is_refused_with_store_message(panel, store):
    order_id = 1
    order = _order(store, order_id)
    outstanding = order["quantity"] - order["delivered"]
    panel.select_order(order_id)
    before = store.delivery_rows(order_id)
    new_id = panel.add_delivery({"order_id": order_id, "date": "2025-03-01", "quantity": outstanding + 1})
    assert new_id is None
    assert store.delivery_rows(order_id) == before
    assert panel.banner.text()  # the store's own words
    # Exactly the outstanding quantity is fine, and undo removes it again.
    new_id = panel.add_delivery({"order_id": order_id, "date": "2025-03-01", "quantity": outstanding})
    assert new_id is not None
    assert _order(store, order_id)["delivered"] == order["quantity"]
    assert panel.delivery_model.row_of_key(new_id) >= 0
    assert f"{order['quantity']:,} of {order['quantity']:,} chips; 0 outstanding" in panel.deliveries_caption.text()
    panel.undo_stack.undo()
    assert store.delivery_rows(order_id) == before
    panel.undo_stack.redo()  # redo re-inserts the same id
    assert new_id in [r["id"] for r in store.delivery_rows(order_id)]


def test_add_order_from_form_then_delivery_and_undo_all(panel, store, qtbot):
    count = len(store.order_rows())
    panel.buyer_edit.setText("Example Labs")
    panel.chip_combo.setCurrentIndex(panel.chip_combo.findData("h20-96gb"))
    panel.order_qty_spin.setValue(2500)
    panel.order_date_edit.setDate(panel.order_date_edit.date().fromString("2025-01-10", "yyyy-MM-dd"))
    qtbot.mouseClick(panel.add_order_button, Qt.MouseButton.LeftButton)
    assert len(store.order_rows()) == count + 1
    new = store.order_rows()[-1] if store.order_rows()[-1]["buyer"] == "Example Labs" else \
        next(r for r in store.order_rows() if r["buyer"] == "Example Labs")
    assert (new["vendor"], new["chip_id"], new["quantity"], new["order_date"]) == \
        ("NVIDIA", "h20-96gb", 2500, "2025-01-10")
    assert panel.selected_order_id() == new["id"]
    panel.delivery_date_edit.setDate(panel.delivery_date_edit.date().fromString("2025-02-01", "yyyy-MM-dd"))
    panel.delivery_qty_spin.setValue(1000)
    qtbot.mouseClick(panel.add_delivery_button, Qt.MouseButton.LeftButton)
    assert [r["quantity"] for r in store.delivery_rows(new["id"])] == [1000]
    panel.undo_stack.undo()
    panel.undo_stack.undo()
    assert len(store.order_rows()) == count
    panel.undo_stack.redo()
    assert _order(store, new["id"])["buyer"] == "Example Labs"  # same id back


def test_an_order_added_under_a_filter_that_hides_it_is_the_one_selected(panel, store, qtbot):
    """QA s34: with 'Huawei' in the orders filter and order 1 selected, Add order left the new
    H100 order hidden and order 1 selected: Delete order then deleted order 1 (100,000 910B2)."""
    table = panel.orders_table
    assert panel.select_order(1)
    table.filter_edit.setText("Huawei")
    panel.buyer_edit.setText("Acme")
    panel.chip_combo.setCurrentIndex(panel.chip_combo.findData("h100-sxm5-80gb"))
    panel.order_qty_spin.setValue(100)
    qtbot.mouseClick(panel.add_order_button, Qt.MouseButton.LeftButton)
    new = next(r for r in store.order_rows() if r["buyer"] == "Acme")
    assert panel.selected_order_id() == new["id"] and table.filter_edit.text() == ""
    assert panel.delete_selected_order()
    assert _order(store, 1) is not None and not any(r["buyer"] == "Acme" for r in store.order_rows())
    # a key no row has: nothing selected, never the previous row
    assert panel.select_order(1) and not panel.select_order(999) and panel.selected_order_id() is None


def test_add_order_with_blank_buyer_is_refused(panel, store):
    count = len(store.order_rows())
    panel.buyer_edit.setText("")
    assert panel.add_order_from_form() is None
    assert len(store.order_rows()) == count
    assert "Buyer:" in panel.banner.text()   # (the column's word, s34)


def test_chart_matches_engine_timeline(panel, store):
    orders = store.orders()
    months = timeline_months(orders)
    expected = installed_timeline(orders, months, install_lag_days=30.0)
    x = to_timestamps(months)
    for chip_id, values in expected.items():
        got_x, got_y = panel.chart.series_data(panel._chip_names[chip_id])
        assert np.array_equal(got_x, x)
        assert np.array_equal(got_y, values)
    total_x, total_y = panel.chart.series_data(TOTAL_SERIES)
    assert total_y[-1] == sum(d.quantity for o in orders for d in o.deliveries)
    headers, rows = panel.chart.data_table()
    assert headers[0] == "Date" and all(h.endswith("(chips)") for h in headers[1:])
    assert len(rows) == len(months)


def test_timeline_months_spans_orders_and_promises():
    from engine.fleet import Delivery, Order, ScheduledLot

    order = Order(1, "b", "v", "c", 10, dt.date(2024, 3, 15), promised=(ScheduledLot(dt.date(2025, 1, 1), 10),),
                  deliveries=(Delivery(1, 1, dt.date(2024, 6, 1), 5),))
    months = timeline_months([order], today=dt.date(2024, 7, 1))
    assert months[0] == dt.date(2024, 2, 1)
    assert months[-1] == dt.date(2025, 4, 1)  # Jan 1 + 30 days install -> Jan 31, + 3 months
    assert timeline_months([order], today=dt.date(2026, 11, 26))[-1] == dt.date(2027, 2, 1)  # runs to today
    assert timeline_months([]) == []


def test_promised_timeline_counts_lots_on_their_dates():
    from engine.fleet import Delivery, Order, ScheduledLot
    from gui.panels.fleet import promised_timeline

    scheduled = Order(1, "b", "v", "c", 30, dt.date(2024, 1, 1),
                      promised=(ScheduledLot(dt.date(2024, 2, 1), 10), ScheduledLot(dt.date(2024, 4, 1), 20)),
                      deliveries=(Delivery(1, 1, dt.date(2024, 2, 1), 10),))
    unscheduled = Order(2, "b", "v", "d", 5, dt.date(2024, 1, 1), deliveries=(Delivery(2, 2, dt.date(2024, 1, 10), 5),))
    months = [dt.date(2024, m, 1) for m in range(1, 7)]
    # lag 0: lots count from their own month; the unscheduled order counts its deliveries
    assert list(promised_timeline([scheduled, unscheduled], months, 0)) == [0, 15, 15, 35, 35, 35]
    assert promised_timeline([unscheduled], months, 0) is None


def test_read_only_store_disables_editing(qtbot, tmp_path):
    path = tmp_path / "ro.db"
    open_store(path).close()
    ro = open_store(path, read_only=True)
    try:
        p = FleetPanel(ro, QUndoStack())
        qtbot.addWidget(p)
        p.detach()
        assert not p.chip_model.flags(p.chip_model.index(0, 1)) & Qt.ItemFlag.ItemIsEditable
        assert not p.order_form.isEnabled()
        assert "read-only" in p.banner.text()
    finally:
        ro.close()


def test_editing_through_the_table_view_delegate(panel, store, qtbot):
    from PySide6.QtWidgets import QLineEdit

    panel.show()
    qtbot.waitExposed(panel)
    panel.tabs.setCurrentIndex(1)
    table = panel.chips_table
    proxy_index = table.proxy.mapFromSource(table.source_index("h800-sxm5-80gb", "tdp_w"))
    table.view.setCurrentIndex(proxy_index)
    table.view.edit(proxy_index)
    editors = [w for w in table.view.findChildren(QLineEdit) if w.isVisible()]
    assert editors, "no cell editor opened"
    editor = editors[0]
    editor.selectAll()
    qtbot.keyClicks(editor, "650")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits on a queued call
    qtbot.waitUntil(lambda: store.chip("h800-sxm5-80gb").tdp_w == 650.0, timeout=2000)
    assert table.proxy.data(proxy_index, Qt.ItemDataRole.DisplayRole) == "650"
    panel.undo_stack.undo()
    assert store.chip("h800-sxm5-80gb").tdp_w != 650.0


def test_an_empty_fleet_says_what_to_do_and_offers_no_delete(panel, store):
    ordered = {r["chip_id"] for r in store.order_rows()}
    assert panel.chip_combo.currentData() in ordered       # the fleet's chips first, not the catalog's first
    assert panel.chart.notice() == "" and panel.delete_order_button.isEnabled()
    for row in store.order_rows():
        assert panel.select_order(row["id"]) and panel.delete_selected_order()
    assert panel.chart.notice().startswith("No orders yet")
    assert not panel.delete_order_button.isEnabled()        # nothing selected, nothing to delete
    panel.undo_stack.undo()
    assert panel.chart.notice() == "" and panel.chart.series_names()


def test_two_chips_with_one_short_name_are_two_lines_and_the_total_counts_both(panel, store):
    """A user's "B200 (HGX, 700W air)" beside the catalog's "B200 (HGX, 1000W)": the chart keyed
    both by "B200", so the second overwrote the first and the total lost 1,000 chips."""
    row = next(r for r in store.chip_rows() if r["id"] == "b200")
    store.add_chip({**row, "id": "b200-air", "name": "B200 (HGX, 700W air)"})
    for chip_id, quantity in (("b200", 1000), ("b200-air", 500)):
        order_id = store.add_order({"buyer": "B", "vendor": "NVIDIA", "chip_id": chip_id, "quantity": quantity,
                                    "order_date": "2024-01-10"})
        store.add_delivery({"order_id": order_id, "date": "2024-03-01", "quantity": quantity})
    panel.refresh()
    assert panel.chart.series_data("B200 (HGX, 1000W)")[1][-1] == 1000
    assert panel.chart.series_data("B200 (HGX, 700W air)")[1][-1] == 500
    total = sum(d.quantity for o in store.orders() for d in o.deliveries)
    assert panel.chart.series_data(TOTAL_SERIES)[1][-1] == total
    by_chip = sum(panel.chart.series_data(panel._chip_names[c])[1][-1] for c in {o.chip_id for o in store.orders()})
    assert by_chip == total


def test_an_order_moved_to_another_makers_chip_is_warned_about_as_an_import_is(panel, store):
    """Order 2 is NVIDIA's H20s: set its chip to the 910B in the table and the forecast would give
    those chips NVIDIA's delivery risk; the banner says so (orders import warned, the table did not)."""
    order = _order(store, 2)
    assert order["vendor"] == "NVIDIA"
    assert panel._edit_order(2, "chip_id", "ascend-910b2")
    assert panel.banner.kind == "warning"
    text = panel.banner.text()
    assert "vendor 'NVIDIA' is not the vendor of chip ascend-910b2 (Huawei)" in text and "Order 2" in text
    panel.undo_stack.undo()                                   # an undo puts the H20 back: no warning left
    assert panel.banner.kind != "warning"
    assert panel._edit_order(2, "chip_id", "ascend-910b2") and panel.banner.kind == "warning"
    assert panel._edit_order(2, "vendor", "Huawei")          # the fix: the warning goes
    assert panel.banner.kind != "warning"


def test_a_chip_typed_by_the_name_the_cell_shows_is_taken(panel, store):
    """The Chip column shows names ("H20") but took ids only: typing the name shown was refused
    with a rule about lower-case letters."""
    index = _cell(panel.orders_table, 1, "chip_id")
    shown = panel.order_model.chip_names["h20-96gb"]
    assert panel.order_model.setData(index, shown)
    assert _order(store, 1)["chip_id"] == "h20-96gb"
    assert not panel.banner.text().startswith("Not saved")   # (a vendor-mismatch warning may follow)
    # a name the catalog does not know is said to be no chip id, not a spelling rule
    assert not panel.order_model.setData(index, "H100")
    assert "not a chip id of the catalog" in panel.banner.text() and "lower-case" not in panel.banner.text()


def test_delete_key_deletes_the_selected_order_and_enter_adds_one(panel, store, qtbot):
    """The Delete key did nothing on a selected order, and Enter in Buyer did not add the order."""
    from PySide6.QtCore import Qt as _Qt

    panel.show()
    qtbot.waitExposed(panel)
    assert panel.select_order(2)
    view = panel.orders_table.view
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, _Qt.Key.Key_Delete)
    assert 2 not in {o.id for o in store.orders()}
    panel.undo_stack.undo()
    assert 2 in {o.id for o in store.orders()}
    count = len(store.orders())
    panel.buyer_edit.setText("Acme")
    panel.buyer_edit.setFocus()
    qtbot.keyClick(panel.buyer_edit, _Qt.Key.Key_Return)
    assert len(store.orders()) == count + 1 and any(o.buyer == "Acme" for o in store.orders())


def test_a_filter_that_hides_every_order_says_so(panel):
    """Typing "zzz" in the filter left an empty table and a disabled deliveries pane, without a word."""
    table = panel.orders_table
    table.filter_edit.setText("zzz")
    assert table.proxy.rowCount() == 0
    assert table.no_match.text() == "No row contains “zzz” (3 hidden): clear the filter to see them."
    assert not table.no_match.isHidden()
    table.filter_edit.clear()
    assert table.no_match.isHidden()


def test_undoing_a_delete_selects_the_order_it_put_back(panel, store):
    """Undo of "Delete order" brought order 1 back with no row selected and the deliveries pane
    disabled."""
    assert panel.select_order(1)
    assert panel.delete_selected_order()
    assert panel.selected_order_id() != 1
    panel.undo_stack.undo()
    assert panel.selected_order_id() == 1
    assert panel.delete_order_button.isEnabled()
    panel.undo_stack.redo()
    assert 1 not in {o.id for o in store.orders()}


def test_a_refusal_naming_several_fields_uses_every_columns_header():
    """QA: "Not saved: 2 problems: promised: ...; quantity: ..." named the stored fields where a
    one-field refusal said "Quantity (chips)"."""
    from gui.commands import in_table_words

    said = in_table_words("order", "quantity", "2 problems: promised: 100000 chips scheduled (more than quantity "
                          "10); quantity: 10 (less than the 30000 already delivered)")
    assert said.startswith("2 problems: Promised (") and "; Quantity (chips): 10 (less than" in said
    assert "more than quantity 10" in said    # words inside a message are left alone


def test_the_vendor_warning_names_the_profiles_of_the_databases_baseline(panel, store):
    """The table's warning read the built-in story's profiles: a baseline that gives NVIDIA's
    reseller a profile of its own must be named as the one the forecast applies."""
    from engine.studies_forecast import baseline_name

    name = baseline_name((s["name"] for s in store.scenarios()), store.baseline_name())
    params = store.scenario(name)["params"]
    vendors = dict(params.get("vendor_uncertainty") or {})
    vendors["Reseller Co"] = vendors.get("NVIDIA") or next(iter(vendors.values()))
    store.save_scenario(name, {**params, "vendor_uncertainty": vendors})
    assert panel._edit_order(2, "vendor", "Reseller Co")
    text = panel.banner.text()
    assert "the forecast gives this order Reseller Co's delivery risk" in text, text


def test_orders_filter_by_the_chip_id_as_well_as_its_name(panel, store):
    """The Chip column shows names ("Ascend 910B2"): typing the id the CLI prints ("ascend-910b2")
    hid every order."""
    table = panel.orders_table
    by_chip = {}
    for o in store.orders():
        by_chip.setdefault(o.chip_id, set()).add(o.id)
    chip_id, ids = next((c, i) for c, i in by_chip.items() if "-" in c)   # an id unlike its name
    shown_name = panel.order_model.chip_names.get(chip_id, chip_id)
    assert chip_id.lower() not in shown_name.lower()   # the premise: the id is not in the cell's text
    for text in (chip_id, chip_id.upper()):
        table.filter_edit.setText(text)
        assert table.proxy.rowCount() == len(ids), text
        assert table.no_match.isHidden()
    table.filter_edit.setText(shown_name)   # its name still finds them
    assert table.proxy.rowCount() == len(ids)
    table.filter_edit.setText("zzz")
    assert table.proxy.rowCount() == 0


def test_the_edit_menu_names_a_two_line_note_on_one_line(panel, store):
    """QA s34: the Edit menu read "Undo line two + three" after a two-line note was typed (Qt's
    menu text stops at a line break) and the status bar "… → line one"."""
    assert panel.order_model.setData(_cell(panel.orders_table, 1, "note"), "line one\nline two + three")
    assert "\n" not in panel.undo_stack.undoText()
    assert panel.undo_stack.undoText().endswith("→ line one line two + three")
    assert _order(store, 1)["note"] == "line one\nline two + three"   # stored as typed


def test_the_edit_menu_shows_an_ampersand_as_typed(panel, store):
    """A note "R&D pool" read "Undo Edit … → RD pool" in the Edit menu, the D underlined (Qt reads
    '&' in an action's text as a shortcut); the status bar's words keep the one '&'."""
    action = panel.undo_stack.createUndoAction(panel, "&Undo")
    assert panel.order_model.setData(_cell(panel.orders_table, 1, "note"), "R&D pool")
    assert action.text().endswith("→ R&&D pool")   # Qt shows '&&' as one '&'
    command = panel.undo_stack.command(panel.undo_stack.index() - 1)
    assert command.text().endswith("→ R&D pool") and "\n" not in command.text()
    panel.undo_stack.undo()
    assert _order(store, 1)["note"] != "R&D pool"
    panel.undo_stack.redo()
    assert _order(store, 1)["note"] == "R&D pool"


def test_an_add_form_refusal_speaks_the_tables_words(panel, store, qtbot):
    """QA s34: the Add delivery form over what is outstanding said "Not saved: quantity: 70001
    (...)", where the cell's refusal names the column and the row."""
    assert panel.select_order(1)
    left = _order(store, 1)["quantity"] - sum(r["quantity"] for r in store.delivery_rows(1))
    panel.delivery_qty_spin.setValue(left + 1)
    qtbot.mouseClick(panel.add_delivery_button, Qt.MouseButton.LeftButton)
    assert panel.banner.text().startswith(f"Not saved: order 1, Quantity (chips): {left + 1}")
    panel.buyer_edit.setText("")
    qtbot.mouseClick(panel.add_order_button, Qt.MouseButton.LeftButton)
    assert "buyer:" not in panel.banner.text()


def test_a_refresh_keeps_the_users_filter(panel, store):
    """QA s34: another program's edit made order 1 fall out of the filter 'huawei'; the refresh
    that re-selected it cleared the filter."""
    table = panel.orders_table
    assert panel.select_order(1)
    table.filter_edit.setText("huawei")
    order = dict(_order(store, 1))
    other = open_store(store.path)
    try:
        other.update_order(1, "vendor", "NVIDIA")
    finally:
        other.close()
    panel.refresh()
    assert table.filter_edit.text() == "huawei" and panel.selected_order_id() is None
    assert order["vendor"] == "Huawei"
