"""A trigger (`crmspec.plan.triggers`) as SQL: for whom today is the day.

Conditions are sqlglot expressions over the `features` table (one row per customer);
order-event triggers are flags that `features` carries, computed in one pass over the
orders (`trigger_orders_sql`). Triggers that depend only on the date (calendar,
weekly) become constant TRUE/FALSE for the build, decided here in Python once.
"""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlglot import exp

from crmspec.compile.sql import col, date_lit, false_if_null
from crmspec.plan.model import Activity, Plan
from crmspec.plan.triggers import EVENT_COLUMN, PURCHASE_DAY_EVENTS, Trigger


def _month_day_is(column: str, target: date) -> exp.Expression:
    """column's month and day equal target's; Feb 29 counts on Feb 28 in common years."""
    c = col(column)
    same = exp.and_(exp.func("month", c).eq(target.month), exp.func("day", c).eq(target.day))
    if target.month == 2 and target.day == 28 and not _calendar.isleap(target.year):
        leap = exp.and_(exp.func("month", c).eq(2), exp.func("day", c).eq(29))
        return exp.paren(exp.or_(same, leap))
    return same


def _qcol(name: str, table: str | None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def order_condition(t: Trigger, purchase_statuses: tuple[str, ...], as_of: date,
                    orders: str | None = None, customers: str | None = None) -> exp.Expression:
    """The orders an `after_order` trigger refers to, as a condition on `orders` columns.

    `orders`/`customers` qualify the columns when used in a join; first/last purchase
    events compare the paid date with the customer's first/last purchase date. Only
    orders whose status counts as a purchase count, except for `ordered_unpaid`.
    """
    lo = date_lit(as_of - timedelta(days=t.last_day))
    hi = date_lit(as_of - timedelta(days=t.first_day))
    purchase = _qcol("status", orders).isin(*map(exp.Literal.string, purchase_statuses))
    if t.event in PURCHASE_DAY_EVENTS:
        day = exp.cast(_qcol("paid_at", orders), "DATE")
        return exp.and_(purchase, day.eq(_qcol(f"{t.event}_date", customers)),
                        exp.Between(this=day, low=lo, high=hi))
    day = exp.cast(_qcol(EVENT_COLUMN[t.event], orders), "DATE")
    status = (_qcol("status", orders).eq(exp.Literal.string("unpaid"))
              if t.event == "ordered_unpaid" else purchase)
    conds = [status, exp.Between(this=day, low=lo, high=hi)]
    amount = _qcol("amount", orders)
    if t.amount_min is not None:
        conds.append(amount >= exp.Literal.number(t.amount_min))
    if t.amount_max is not None:
        conds.append(amount < exp.Literal.number(t.amount_max))
    return exp.and_(*conds)


def order_flag_column(t: Trigger) -> str | None:
    """The `features` column that flags the customers an `after_order` trigger fires for
    by one of their orders (None: the trigger reads no orders)."""
    if t.type != "after_order" or t.event in PURCHASE_DAY_EVENTS:
        return None
    days = (f"{t.first_day}" if t.first_day == t.last_day else f"{t.first_day}_{t.last_day}")
    amounts = "".join(f"_{bound}{_number(value)}" for bound, value in
                      (("min", t.amount_min), ("max", t.amount_max)) if value is not None)
    return f"after_{t.event}_{days}d{amounts}"


def _number(value: float) -> str:
    """An amount as part of a column name: 500 -> 500, 99.5 -> 99_5."""
    text = str(int(value)) if float(value).is_integer() else repr(float(value))
    return re.sub(r"\W", "_", text)


def trigger_orders_sql(flags: dict[str, exp.Expression]) -> str:
    """SELECT customer_id, order_id and one boolean per flag column (its
    `order_condition`): the orders today's order triggers refer to, in one pass over
    `orders` (a per-activity `IN (SELECT ... FROM orders)` was a scan per activity).
    The build keeps them as the `trigger_orders` table: `features` flags their customers,
    and the parcel channel packs these orders."""
    conds = list(flags.values())
    return (exp.select(col("customer_id"), col("order_id"),
                       *[exp.alias_(exp.func("coalesce", c.copy(), exp.false()), name,
                                    quoted=True) for name, c in flags.items()])
            .from_("orders")
            .where(exp.or_(*[exp.paren(c.copy()) for c in conds]) if len(conds) > 1
                   else conds[0].copy())
            .sql("duckdb"))


def order_flags_sql(flags: list[str], trigger_orders: str = "trigger_orders") -> str:
    """SELECT customer_id, one boolean per flag column: has a trigger order of it."""
    cols = ", ".join(f'bool_or("{name}") AS "{name}"' for name in flags)
    return f"SELECT customer_id, {cols} FROM {trigger_orders} GROUP BY customer_id"


@dataclass
class TriggerContext:
    """What conditions need beyond the trigger: the date, purchases, the calendar."""

    as_of: date
    purchase_statuses: tuple[str, ...]
    holidays: dict[str, tuple[date, ...]] = field(default_factory=dict)


def trigger_condition(t: Trigger, ctx: TriggerContext) -> exp.Expression:
    """Boolean expression over `features` that holds for customers the trigger fires for."""
    as_of = ctx.as_of
    if t.type == "state":
        return exp.true()
    if t.type == "after_order":
        if t.event in PURCHASE_DAY_EVENTS:
            lo, hi = as_of - timedelta(days=t.last_day), as_of - timedelta(days=t.first_day)
            return exp.Between(this=col(f"{t.event}_date"), low=date_lit(lo), high=date_lit(hi))
        return col(order_flag_column(t))  # see order_flags_sql
    if t.type == "birthday":
        return _month_day_is("birthday", as_of + timedelta(days=t.lead_days))
    if t.type == "membership_anniversary":
        target = as_of + timedelta(days=t.lead_days)
        joined_before = exp.func("year", col("registered_at")) < target.year
        return exp.and_(_month_day_is("registered_at", target), joined_before)
    if t.type == "calendar":
        days = set(t.dates) | set(ctx.holidays.get(t.holiday, ()) if t.holiday else ())
        return exp.true() if as_of + timedelta(days=t.lead_days) in days else exp.false()
    if t.type == "weekly":
        return exp.true() if as_of.isoweekday() in t.weekdays else exp.false()
    if t.type == "tier_upgrade":
        # previous_tier_rank is NULL on a first build: no previous state, no upgrade
        return false_if_null(col("tier_rank") > col("previous_tier_rank"))
    if t.type == "tier_downgrade_warning":
        return exp.and_(col("review_date").eq(date_lit(as_of + timedelta(days=t.days_before))),
                        col("review_tier_rank") < col("tier_rank"))
    raise ValueError(f"unknown trigger type {t.type!r}")  # the schema forbids this


def activity_order_condition(a: Activity, plan: Plan, as_of: date, orders: str | None = None,
                             customers: str | None = None) -> exp.Expression | None:
    """The orders an activity's `after_order` trigger refers to (`order_condition`);
    None for other triggers. The parcel channel joins its send rows with these orders."""
    if a.trigger.type != "after_order":
        return None
    return order_condition(a.trigger, plan.shop.purchase_statuses, as_of, orders, customers)


def activity_trigger_condition(a: Activity, plan: Plan, as_of: date) -> exp.Expression:
    """Who the activity's trigger fires for today (birthdays never, when the shop does
    not send birthday greetings)."""
    if a.trigger.type == "birthday" and not plan.shop.contact.birthday_greetings:
        return exp.false()  # shop.yaml contact.birthday_greetings: false
    ctx = TriggerContext(as_of, plan.shop.purchase_statuses, plan.holidays)
    return trigger_condition(a.trigger, ctx)
