"""QA s21 on `fleetcast forecast`: orders forecast as certain for want of a delivery-risk profile
are named, in the table and in JSON."""

import json

from engine.cli import main

VENDOR = "Zéta Ünïcode 芯片"
CHIPS = ("id,vendor,name,year,bf16_tflops,hbm_gb,hbm_gbps,price_usd\n"
         f"zeta-1,{VENDOR},Zeta One,2025,333.3,96.5,2100,9000\n")
ORDERS = ("buyer,vendor,chip_id,quantity,order_date,promised,deliveries\n"
          f"Me,{VENDOR},zeta-1,20000,2025-01-01,2025-06-01:10000;2025-09-01:10000,\n"
          # a reseller of a chip whose maker has a profile: it carries Huawei's risk, no note
          "Me,Reseller Co,ascend-910b2,5000,2025-01-01,2025-06-01:5000,\n"
          # a reseller of the custom chip: neither it nor the maker has a profile
          "Me,Reseller Co,zeta-1,3000,2025-02-01,2025-07-01:3000,\n")
ARGV = ["forecast", "--trials", "300", "--months", "24"]


def _db_with_custom_orders(tmp_path, capsys) -> str:
    db = str(tmp_path / "f.db")
    chips, orders = tmp_path / "chips.csv", tmp_path / "orders.csv"
    chips.write_text(CHIPS, encoding="utf-8")
    orders.write_text(ORDERS, encoding="utf-8")
    assert main(["--db", db, "chips", "import", str(chips)]) == 0
    assert main(["--db", db, "orders", "import", str(orders)]) == 0
    capsys.readouterr()
    return db


def test_orders_without_a_delivery_risk_profile_are_said_to_be_certain(capsys, tmp_path):
    """A 20,000-chip zeta-1 order showed P10 = P50 = P90 with nothing saying it was taken as certain."""
    db = _db_with_custom_orders(tmp_path, capsys)
    assert main(["--db", db, "--format", "json", *ARGV]) == 0
    data = json.loads(capsys.readouterr().out)
    zeta = data["by_chip"]["zeta-1"]
    assert zeta["installed_p10"] == zeta["installed_p90"]   # what the note explains
    notes = data["assumptions"]["no_delivery_risk"]
    assert len(notes) == 2 and all(n.startswith("NO DELIVERY RISK: ") for n in notes)
    assert f"{VENDOR} order" in notes[0] and "20,000 chips outstanding" in notes[0]
    assert "Reseller Co order" in notes[1] and "3,000 chips outstanding" in notes[1]
    assert all("(P10 = P50 = P90)" in n and "add one under Delivery uncertainty" in n for n in notes)
    assert main(["--db", db, *ARGV]) == 0
    text = capsys.readouterr().out
    assert all(text.count(f"note: {n}") == 1 for n in notes)   # said once, not twice


def test_the_story_orders_all_carry_a_profile_and_get_no_such_note(capsys, tmp_path):
    assert main(["--db", str(tmp_path / "s.db"), "--format", "json", *ARGV]) == 0
    assert json.loads(capsys.readouterr().out)["assumptions"]["no_delivery_risk"] == []


def test_no_note_when_the_default_profile_has_risk_or_the_order_its_own():
    """The note is for orders drawn as certain: a risky default or an order's own profile carries risk."""
    import datetime as dt
    from dataclasses import replace

    from engine.forecast import no_profile_notes as no_delivery_risk_notes
    from engine.fleet import Order
    from engine.forecast import OrderUncertainty, default_scenario

    order = Order(id=7, buyer="Me", vendor="Acme", chip_id="x-1", quantity=100, order_date=dt.date(2025, 1, 1))
    risky = OrderUncertainty(fraction_dist="uniform", fraction_low=0.5, fraction_mode=0.8, fraction_high=1.0)
    scenario = default_scenario()
    assert len(no_delivery_risk_notes([order], scenario, {"x-1": "Acme"})) == 1
    assert no_delivery_risk_notes([order], replace(scenario, default_uncertainty=risky), {"x-1": "Acme"}) == ()
    assert no_delivery_risk_notes([order], replace(scenario, order_uncertainty={7: risky}), {"x-1": "Acme"}) == ()


def test_a_forecast_on_a_terminal_shows_where_it_is(tmp_path, monkeypatch):
    """QA s21: 2,003 orders at 20,000 x 240 ran 14.7 min with nothing on stderr."""
    import io

    from engine.cli import main

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    monkeypatch.setattr("sys.stderr", err)
    assert main(["--db", str(tmp_path / "t.db"), "forecast", "--trials", "200", "--months", "12",
                 "--format", "json"]) == 0
    assert "% supply: order" in err.getvalue() and err.getvalue().endswith("\r\x1b[K")
