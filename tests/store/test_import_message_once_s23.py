"""A refused import names its file once: "orders.csv: nothing imported: orders.csv row 5, ..."
named it twice in the window's banner and on the command line."""

import pytest

from engine.errors import ValidationError
from engine.store import open_store
from tests.case_files import write_csv

HEADER = ["id", "buyer", "vendor", "chip_id", "quantity", "order_date", "deliveries"]


def test_a_row_problem_names_the_file_once(tmp_path):
    store = open_store(tmp_path / "f.db")
    path = write_csv(tmp_path / "orders.csv", HEADER, [["7", "X", "Huawei", "ascend-910b2", "five", "2024-01-20", ""]])
    with pytest.raises(ValidationError) as info:
        store.import_orders(path)
    message = str(info.value)
    assert message.count("orders.csv") == 1, message
    assert message.startswith("nothing imported: orders.csv row 2, column quantity")
    store.close()
