"""QA s34: "The fleet installed on a date" said "30,000 Ascend 910B2 installed" on 2027-01-01 (the
Forecast: 66,022 at P50, the rest of the order still arriving) and on 2031-01-01 (past the chips'
five-year life): it counts the deliveries on record, and now says so."""

import datetime as dt

from engine.catalog import reference_chips
from engine.forecast_inputs import story_orders
from engine.studies import TrainingStudy, fleet_note


def test_the_fleet_note_says_it_counts_recorded_deliveries_and_what_it_leaves_out():
    orders = story_orders()
    chips = reference_chips()
    ordered = sum(o.quantity for o in orders if o.chip_id == "ascend-910b2")
    delivered = sum(o.delivered for o in orders if o.chip_id == "ascend-910b2")
    assert ordered > delivered > 0
    study = TrainingStudy(chip_id="ascend-910b2", chips_source="fleet", fleet_date="2031-01-01")
    note = fleet_note(study, chips, orders)
    assert note.startswith(f"{study.chips_used(orders):,} Ascend 910B2 installed on 2031-01-01 (delivered by ")
    assert f"as recorded; {ordered - delivered:,} ordered and not recorded as delivered are not counted" in note
    # (QA) on a day before some deliveries, those are named too: the note added up to the order
    early = TrainingStudy(chip_id="ascend-910b2", chips_source="fleet", fleet_date="2024-08-15")
    counted = early.chips_used(orders)
    after = delivered - counted
    assert 0 < counted < delivered
    assert (f"as recorded; {after:,} delivered after it and {ordered - delivered:,} ordered and not recorded as "
            "delivered are not counted") in fleet_note(early, chips, orders)
    assert note.endswith("failures, retirement and the share that serves are left to the Forecast, whose jobs train "
                         "on its training share of them).")
    # a chip whose orders are all delivered names nothing pending
    done = [o for o in orders if o.chip_id == "ascend-910b2" and o.outstanding == 0]
    if done:
        assert "more ordered" not in fleet_note(study, chips, done)
    assert study.day(orders) == dt.date(2031, 1, 1)
