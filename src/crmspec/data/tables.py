"""The canonical tables every plan is compiled against.

A shop's own export rarely uses these names; `shop.yaml` maps its columns onto them
(see `crmspec.data.sources`). Keeping the contract in one place lets the loader check a
shop's data, the demo generator produce it, the SQL filter allowlist know which
columns exist, and the docs describe every column from the same source of truth.

Timestamps are naive local times in the shop's timezone (what Taobao/Tmall exports
contain); dates are calendar dates in that timezone.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    required: bool
    doc: str


CUSTOMERS = (
    Column("customer_id", "VARCHAR", True, "Unique customer id (the platform's buyer id)."),
    Column("phone", "VARCHAR", False, "Mobile number, 11 digits starting with 1 (mainland China)."),
    Column("email", "VARCHAR", False, "Email address."),
    Column("wechat_openid", "VARCHAR", False, "WeChat openid of the shop's official account."),
    Column("nick", "VARCHAR", False, "Platform nickname (Taobao/Tmall buyer nick, for Wangwang)."),
    Column("name", "VARCHAR", False, "Real name, for parcels and phone calls."),
    Column("birthday", "DATE", False, "Date of birth."),
    Column("gender", "VARCHAR", False, "'F', 'M' or NULL."),
    Column("province", "VARCHAR", False, "Province, in Chinese (e.g. 浙江)."),
    Column("city_tier", "INTEGER", False, "City tier 1-4; 5 means rural."),
    Column("registered_at", "TIMESTAMP", False,
           "When the customer joined the shop (membership start)."),
    Column(
        "source",
        "VARCHAR",
        False,
        "Acquisition source: organic, search, ad, live, group_buy (聚划算) "
        "or the shop's own labels.",
    ),
    Column("opt_out_sms", "BOOLEAN", False, "Customer replied T / asked for no SMS."),
    Column("opt_out_email", "BOOLEAN", False, "Customer unsubscribed from email."),
    Column("opt_out_wechat", "BOOLEAN", False, "Customer blocked WeChat template messages."),
    Column("opt_out_phone", "BOOLEAN", False, "Customer asked not to be called."),
    Column("opt_out_all", "BOOLEAN", False, "Do not contact this customer on any channel."),
)

ORDERS = (
    Column("order_id", "VARCHAR", True, "Unique order id."),
    Column("customer_id", "VARCHAR", True, "The buyer (customers.customer_id)."),
    Column("created_at", "TIMESTAMP", True, "When the order was placed."),
    Column("paid_at", "TIMESTAMP", False, "When it was paid; NULL if never paid."),
    Column("shipped_at", "TIMESTAMP", False, "When it was shipped; NULL if not (yet)."),
    Column("signed_at", "TIMESTAMP", False,
           "When the buyer signed for the parcel; NULL if not (yet)."),
    Column("amount", "DECIMAL(12,2)", True,
           "Amount paid (or due, if unpaid), in the shop's currency."),
    Column("status", "VARCHAR", True, "unpaid, paid, closed (unpaid and cancelled) or refunded."),
    Column("source", "VARCHAR", False,
           "Order source: normal, group_buy, promotion or the shop's own labels."),
)

EVENTS = (
    Column("customer_id", "VARCHAR", True, "Who (customers.customer_id)."),
    Column("event_type", "VARCHAR", True, "visit, favorite, cart, inquiry, search or ad_click."),
    Column("event_at", "TIMESTAMP", True, "When."),
    Column("item_id", "VARCHAR", False, "The item concerned, if any."),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "customers": CUSTOMERS,
    "orders": ORDERS,
    "events": EVENTS,
}

ORDER_STATUSES = ("unpaid", "paid", "closed", "refunded")
EVENT_TYPES = ("visit", "favorite", "cart", "inquiry", "search", "ad_click")

# Per-customer facts the compiler derives; segment `sql:` filters may use them beside the
# customer columns. (name, DuckDB type, doc)
FACTS = (
    Column("stage", "VARCHAR", True, "Lifecycle stage id on the as-of date."),
    Column("customer_type", "VARCHAR", True, "potential, new, returning or fans."),
    Column("tier", "VARCHAR", False, "Member tier id; NULL below the lowest tier."),
    Column("tier_rank", "INTEGER", True, "0 below every tier, then 1, 2... upwards."),
    Column("purchases", "INTEGER", True, "Purchases up to the as-of date (see shop purchase)."),
    Column("spend", "DECIMAL(14,2)", True, "Spend counted for tiers (tier window)."),
    Column("first_purchase_date", "DATE", False, "Date of the first purchase."),
    Column("last_purchase_date", "DATE", False, "Date of the last purchase."),
    Column("days_since_last_purchase", "INTEGER", False, "As-of date minus last purchase date."),
    Column("r", "INTEGER", False,
           "Recency score 1-5 (5: most recent), the RFM window's buyers only."),
    Column("f", "INTEGER", False,
           "Frequency score 1-5 (5: most purchases in the RFM window), its buyers only."),
    Column("m", "INTEGER", False,
           "Monetary score 1-5 (5: highest spend in the RFM window), its buyers only."),
    Column("as_of", "DATE", True, "The build's as-of date (for date arithmetic in filters)."),
)


def filter_columns() -> dict[str, str]:
    """Columns a segment `sql:` filter may read: customer columns and derived facts."""
    return {c.name: c.type for c in CUSTOMERS + FACTS}
