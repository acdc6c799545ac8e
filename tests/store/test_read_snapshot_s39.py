"""Reads of several statements see one state of the file. `orders export` read the orders, then
each batch's deliveries: another program's commit in between gave an order of 10 chips with the
20 delivered of a newer state, a file its own import refused; `Store.orders()` (what the analyses
read) gave 118 such orders in 10 s (QA s39)."""


from engine.store import open_store
from engine.store.transfer import iter_orders_with_deliveries


def _two_orders(path):
    store = open_store(path)
    ids = []
    for day in (1, 2):   # the last two in list order (after the demo orders)
        oid = store.add_order({"buyer": "ByteDance", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 10,
                               "order_date": f"2026-11-0{day}", "status": "sourced"})
        store.add_delivery({"order_id": oid, "date": "2026-11-15", "quantity": 10})
        ids.append(oid)
    return store, ids


def _grow(other, oid):
    """Another program: the order becomes 20 chips with a second lot, in one transaction."""
    with other.db.atomic():
        other.db.execute("update orders set quantity = 20 where id = ?", [oid])
        other.db.execute("insert into deliveries (order_id, date, quantity, note) values (?, '2026-11-20', 10, '')", [oid])


def test_a_commit_between_two_batches_is_in_neither(tmp_path):
    path = tmp_path / "f.db"
    store, ids = _two_orders(path)
    other = open_store(path)
    rows = iter_orders_with_deliveries(store, batch=1)
    while next(rows)[0]["id"] != ids[0]:
        pass
    _grow(other, ids[1])   # between two batches; the last order's row was already read ahead
    second = next(rows)
    assert list(rows) == []
    order, lots = second
    # one state: the order as it was with its deliveries as they were (torn, it read 10 ordered and 2 lots)
    assert (order["quantity"], len(lots), order["delivered"]) == (10, 1, 10)
    assert not store.db.conn.in_transaction   # the read ended with the rows
    # and the next read sees the commit
    assert [(o.quantity, len(o.deliveries)) for o in store.orders() if o.id == ids[1]] == [(20, 2)]


def test_an_abandoned_listing_ends_its_read(tmp_path):
    store, ids = _two_orders(tmp_path / "f.db")
    rows = store.iter_orders()
    next(rows)
    rows.close()
    assert not store.db.conn.in_transaction


def test_inside_a_write_the_write_transaction_holds(tmp_path):
    store, ids = _two_orders(tmp_path / "f.db")
    with store.db.atomic():
        store.db.execute("update orders set quantity = 30 where id = ?", [ids[0]])
        assert [o.quantity for o in store.orders() if o.id == ids[0]] == [30]   # its own uncommitted write
        assert store.db.conn.in_transaction
    assert [o.quantity for o in store.orders() if o.id == ids[0]] == [30]
