"""QA s24 on CSV imports: an updated tracking sheet imported again, a chip without HBM, and the
formula guard's apostrophe on a round trip."""

import pytest

from engine import csv_io
from engine.errors import ValidationError
from engine.store import open_store, transfer
from tests.case_files import write_csv

ORDER_HEADER = ["buyer", "vendor", "chip_id", "quantity", "order_date", "deliveries"]
ASCEND = ["Acme", "Huawei", "ascend-910b2", 100000, "2024-01-15"]
H20 = ["Acme", "NVIDIA", "h20-96gb", 5000, "2024-01-20", "2024-02-01:5000"]


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "fleet.db")
    yield s
    s.close()


def test_an_updated_tracking_sheet_imported_again_says_which_order_it_updates(store, tmp_path):
    """jan.csv, then feb.csv (jan + one more 910B delivery): only the unchanged H20 row was said
    ("imported twice?"); the 910B row became a second 100,000-chip order without a word. It is
    still added (what is imported is unchanged), and now said."""
    jan = write_csv(tmp_path / "jan.csv", ORDER_HEADER, [ASCEND + ["2024-03-01:20000"], H20])
    feb = write_csv(tmp_path / "feb.csv", ORDER_HEADER,
                    [ASCEND + ["2024-03-01:20000;2024-04-01:20000"], H20])
    ascend_id, h20_id = transfer.import_orders(store, jan).added
    with pytest.raises(transfer.TwinsRefused) as refused:   # the unchanged H20 row: asked first (QA s41)
        transfer.import_orders(store, feb)
    assert refused.value.lines == [3] and refused.value.twins == [h20_id]
    assert len(store.orders()) == 5   # the 3 seeded and jan's 2: nothing written
    second = transfer.import_orders(store, feb, allow_twins=True)
    assert len(second.added) == 2   # the same rows as before: nothing refused or merged
    new_ascend = second.added[0]
    assert second.warnings == [
        f"feb.csv row 3: the same as order {h20_id} in every field and delivery; added as another order, as asked",
        f"feb.csv row 2: looks like an update of order {ascend_id}: the same buyer, vendor, chip, quantity and "
        f"order date, differing in deliveries; added as order {new_ascend}; to update order {ascend_id} instead: "
        f"`orders delete {new_ascend}`, then import the row with id {ascend_id} and --replace"]
    # another quantity is another order: nothing said
    other = write_csv(tmp_path / "mar.csv", ORDER_HEADER, [["Acme", "Huawei", "ascend-910b2", 50000, "2024-01-15",
                                                            "2024-03-01:20000"]])
    assert transfer.import_orders(store, other).warnings == []


CHIP_HEADER = ["id", "vendor", "name", "bf16_tflops", "hbm_gb", "hbm_gbps"]


@pytest.mark.parametrize("hbm_gb, hbm_gbps, missing", [
    ("", "2000", ["hbm_gb"]), ("80", "", ["hbm_gbps"]), ("", "", ["hbm_gb", "hbm_gbps"])])
def test_a_chip_without_hbm_size_or_bandwidth_is_refused_at_import(store, tmp_path, hbm_gb, hbm_gbps, missing):
    """It was accepted; serve and train then refused the chip and the forecast counted it as no capacity."""
    path = write_csv(tmp_path / "chips.csv", CHIP_HEADER, [["newchip", "V", "New chip", "100", hbm_gb, hbm_gbps]])
    with pytest.raises(ValidationError) as caught:
        transfer.import_chips(store, path)
    assert [p.split(":")[0] for p in caught.value.problems] == [f"chips.csv row 2, column {f}" for f in missing]
    assert all("blank" in p for p in caught.value.problems)
    assert "newchip" not in {r["id"] for r in store.chip_rows()}
    whole = write_csv(tmp_path / "whole.csv", CHIP_HEADER, [["newchip", "V", "New chip", "100", "80", "2000"]])
    assert transfer.import_chips(store, whole).added == ["newchip"]


NOTES = ["'=quoted already", "=formula", "-10% discount", "'plain", "''=two", "'", "plain"]


def test_notes_with_apostrophes_and_formula_triggers_round_trip_exactly(store, tmp_path):
    """Export then import gives every note back as typed: the guard's apostrophe is added before
    a trigger and before apostrophes that precede one, and exactly one is removed on import."""
    ids = [store.add_order({"buyer": "B", "vendor": "NVIDIA", "chip_id": "h20-96gb", "quantity": 10,
                            "order_date": "2024-01-01", "note": note}) for note in NOTES]
    path = tmp_path / "orders.csv"
    store.export_orders_csv(path)
    other = open_store(tmp_path / "other.db")
    try:
        other.import_orders(path)
        back = {r["id"]: r["note"] for r in other.order_rows()}
    finally:
        other.close()
    assert [back[i] for i in ids] == NOTES
    # and cell by cell
    for note in NOTES:
        written = csv_io.neutralise_cell(note)
        assert not written.startswith(csv_io.FORMULA_TRIGGERS)
        assert csv_io.restore_cell(written) == note
