"""The parcel channel's packing list: one row per order to pack, through a build of the
tiny shop (as of 2026-03-01) with a state-triggered parcel activity for the after-sale
customers (c01, c02, c12, c13)."""

from __future__ import annotations

import csv

from shop_edits import add_rows, append

from crmspec.build import build

ORDERS = (
    # c12: paid 02-28, shipped on the as-of date itself: still to pack today
    "p1,c12,2026-02-28 09:00:00,2026-02-28 09:05:00,2026-03-01 10:00:00,,50.00,paid,normal\n"
    # c13: shipped the evening before: already gone
    "p2,c13,2026-02-28 09:00:00,2026-02-28 09:05:00,2026-02-28 23:59:00,,50.00,paid,normal\n"
    # c02: not paid; c01: refunded (not a purchase status)
    "p3,c02,2026-03-01 08:00:00,,,,40.00,unpaid,normal\n"
    "p4,c01,2026-02-27 09:00:00,2026-02-27 09:05:00,,,30.00,refunded,normal\n"
    # c02: paid after the as-of date: not paid yet as of 03-01
    "p5,c02,2026-03-01 23:00:00,2026-03-02 08:00:00,,,60.00,paid,normal\n"
)

ACTIVITY = """  - id: thank_you_card
    name: 感谢卡
    kind: maintenance
    stage: after_sale
    segment: after_sale_all
    channel: parcel
    channel_options: {insert_sku: CARD-01, quantity: 2, unit_cost: 0.5}
"""


def test_state_triggered_parcels_pack_the_orders_awaiting_shipment(tiny):
    """Parcel rule for state triggers: the customers' orders with a purchase status, paid
    on or before the as-of date, not shipped before it. c01's o01 (paid 03-01, not
    shipped) and c12's p1 (shipped on 03-01); c02's and c13's earlier orders have
    shipped, p2-p5 do not qualify (see ORDERS)."""
    add_rows(tiny, "orders.csv", ORDERS)
    append(tiny, "activities.yaml", ACTIVITY)
    result = build(tiny)
    path = result.out_dir / "parcel/thank_you_card.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbforder_id,")  # staff list: BOM for Excel
    with open(path, newline="", encoding="utf-8-sig") as f:
        assert list(csv.DictReader(f)) == [
            {"order_id": "o01", "customer_id": "c01", "insert_sku": "CARD-01", "quantity": "2",
             "note": ""},
            {"order_id": "p1", "customer_id": "c12", "insert_sku": "CARD-01", "quantity": "2",
             "note": ""}]
    entry = next(a for a in result.manifest["activities"] if a["id"] == "thank_you_card")
    # four customers contacted; the cost is per insert packed: 2 orders x 2 x 0.5
    assert (entry["sent"], entry["cost"]["units"], entry["cost"]["total"]) == (4, 4, 2.0)
