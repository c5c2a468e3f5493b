"""Parcel inserts and gifts: a packing list for the warehouse (order, SKU, quantity, note).

A row per qualifying ORDER, not per customer: the orders of the activity's customers that
its trigger refers to, joined in SQL. With an `after_order` trigger (`paid`, `shipped`...)
those are the orders whose event falls in the trigger's window; with a state trigger,
the customers' orders awaiting shipment (paid on or before the as-of date and not
shipped before it). The note (optional part `note`, e.g. a handwritten-style card) is
rendered per customer; the insert is the option `insert_sku`.
"""

from __future__ import annotations

from crmspec import hookimpl
from crmspec.channels.base import Channel, Part, UnitCost, WriteContext
from crmspec.channels.orders import trigger_orders_sql
from crmspec.core.sql import sql_str


class ParcelChannel(Channel):
    name = "parcel"
    title = "Parcel insert"
    for_people = True  # the warehouse's packing list
    contact_field = "customer_id"
    cost = UnitCost("unit", 0.0, "per insert or gift; set unit_cost")
    parts = (Part("note", "note or card text", required=False, max_length=200),)
    main_part = "note"
    options = {
        "insert_sku": {
            "type": "string",
            "minLength": 1,
            "description": "SKU of the insert or gift the warehouse puts in the parcel.",
        },
        "quantity": {
            "type": "integer",
            "minimum": 1,
            "default": 1,
            "description": "How many per parcel.",
        },
    }

    def not_ready(self, activity, options, parts):
        if not options.get("insert_sku"):
            return "channel_options.insert_sku is not set"
        return None

    def orders_sql(self, ctx: WriteContext) -> str:
        """The packing list rows: qualifying orders of the activity's send rows."""
        orders = trigger_orders_sql(ctx)  # the orders the trigger fired on
        if orders is None:  # state trigger: orders awaiting shipment
            statuses = ", ".join(sql_str(s) for s in ctx.plan.shop.purchase_statuses)
            asof = f"DATE '{ctx.as_of.isoformat()}'"
            orders = (f"SELECT order_id, customer_id FROM orders "
                      f"WHERE status IN ({statuses}) AND paid_at IS NOT NULL "
                      f"AND CAST(paid_at AS DATE) <= {asof} "
                      f"AND (shipped_at IS NULL OR CAST(shipped_at AS DATE) >= {asof})")
        qty = int(ctx.options.get("quantity", 1))
        return (f"SELECT o.order_id, r.customer_id, {sql_str(ctx.options['insert_sku'])} "
                f"AS insert_sku, {qty} AS quantity, {ctx.msg('note')} AS note "
                f"FROM {ctx.table} AS r JOIN ({orders}) AS o ON o.customer_id = r.customer_id")

    def count_units(self, ctx: WriteContext) -> int:
        (n,) = ctx.con.execute(
            f"SELECT coalesce(sum(quantity), 0) FROM ({self.orders_sql(ctx)})").fetchone()
        return int(n)

    def write(self, ctx: WriteContext) -> list[str]:
        rel, _ = ctx.target("csv")
        ctx.copy(f"{self.orders_sql(ctx)} ORDER BY o.order_id", rel)
        return [rel]


@hookimpl(trylast=True)
def register_channels():
    return [ParcelChannel()]
