"""When a customer qualifies for an activity: trigger kinds and their SQL conditions.

A trigger narrows an activity's segment to the customers for whom *today* (the as-of
date) is the day: N days after an order event, on a birthday, before a holiday, on a
weekday, after a tier change. Conditions are sqlglot expressions over the `features`
table (one row per customer). Triggers that depend only on the date (calendar, weekly)
become constant TRUE/FALSE for the build, decided here in Python once.

Day arithmetic is in calendar days in the shop's timezone, like everything else.
"""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlglot import exp

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORDER_EVENTS = ("ordered_unpaid", "paid", "shipped", "signed", "first_purchase",
                "last_purchase")
# Events of a day of purchases (the customer's first or last), not of one order: they
# compare dates of `features`, and an order amount does not apply to them.
PURCHASE_DAY_EVENTS = ("first_purchase", "last_purchase")
_EVENT_COLUMN = {"ordered_unpaid": "created_at", "paid": "paid_at", "shipped": "shipped_at",
                 "signed": "signed_at"}


@dataclass(frozen=True)
class Trigger:
    type: str  # state | after_order | birthday | membership_anniversary | calendar | weekly
    #            | tier_upgrade | tier_downgrade_warning
    event: str | None = None
    first_day: int | None = None
    last_day: int | None = None
    cooldown_days: int | None = None
    lead_days: int = 0
    holiday: str | None = None
    dates: tuple[date, ...] = ()
    weekdays: tuple[int, ...] = ()  # ISO weekdays, Monday = 1
    days_before: int | None = None
    # after_order: only orders of at least amount_min and below amount_max (e.g. a
    # payment reminder split by order value: {max: 500} and {min: 500} never overlap)
    amount_min: float | None = None
    amount_max: float | None = None

    @property
    def once_within_days(self) -> int | None:
        """Days within which a customer gets the activity at most once (from the ledger).

        A state trigger's cooldown; an order-event window's length (the contact goes
        once per window); anniversaries and calendar days once a year is implied by the
        date itself, weekly ones once a week.
        """
        if self.type == "state":
            return self.cooldown_days
        if self.type == "after_order" and self.last_day is not None:
            return self.last_day - self.first_day + 1 if self.last_day > self.first_day else None
        if self.cooldown_days:
            return self.cooldown_days
        return None


def parse_trigger(raw: dict | None) -> Trigger:
    """A Trigger from schema-valid YAML (None: the default state trigger)."""
    if not raw:
        return Trigger("state")
    kind = raw["type"]
    common = {"cooldown_days": raw.get("cooldown_days")}
    if kind == "after_order":
        first, last = raw["window"] if "window" in raw else (raw.get("days", 0),) * 2
        amount = raw.get("amount", {})
        return Trigger(kind, event=raw["event"], first_day=first, last_day=last,
                       amount_min=amount.get("min"), amount_max=amount.get("max"), **common)
    if kind in ("birthday", "membership_anniversary"):
        return Trigger(kind, lead_days=raw.get("lead_days", 0), **common)
    if kind == "calendar":
        return Trigger(kind, holiday=raw.get("holiday"),
                       dates=tuple(date.fromisoformat(d) for d in raw.get("dates", [])),
                       lead_days=raw.get("lead_days", 0), **common)
    if kind == "weekly":
        days = raw["weekdays"] if isinstance(raw["weekdays"], list) else [raw["weekdays"]]
        return Trigger(kind, weekdays=tuple(WEEKDAYS.index(d) + 1 for d in days), **common)
    if kind == "tier_downgrade_warning":
        return Trigger(kind, days_before=raw["days_before"], **common)
    return Trigger(kind, **common)


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _date(d: date) -> exp.Expression:
    return exp.cast(exp.Literal.string(d.isoformat()), "DATE")


def _month_day_is(column: str, target: date) -> exp.Expression:
    """column's month and day equal target's; Feb 29 counts on Feb 28 in common years."""
    c = _col(column)
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
    lo, hi = _date(as_of - timedelta(days=t.last_day)), _date(as_of - timedelta(days=t.first_day))
    purchase = _qcol("status", orders).isin(*map(exp.Literal.string, purchase_statuses))
    if t.event in PURCHASE_DAY_EVENTS:
        day = exp.cast(_qcol("paid_at", orders), "DATE")
        return exp.and_(purchase, day.eq(_qcol(f"{t.event}_date", customers)),
                        exp.Between(this=day, low=lo, high=hi))
    day = exp.cast(_qcol(_EVENT_COLUMN[t.event], orders), "DATE")
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
    return (exp.select(_col("customer_id"), _col("order_id"),
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
            return exp.Between(this=_col(f"{t.event}_date"), low=_date(lo), high=_date(hi))
        return _col(order_flag_column(t))  # see order_flags_sql
    if t.type == "birthday":
        return _month_day_is("birthday", as_of + timedelta(days=t.lead_days))
    if t.type == "membership_anniversary":
        target = as_of + timedelta(days=t.lead_days)
        joined_before = exp.func("year", _col("registered_at")) < target.year
        return exp.and_(_month_day_is("registered_at", target), joined_before)
    if t.type == "calendar":
        days = set(t.dates) | set(ctx.holidays.get(t.holiday, ()) if t.holiday else ())
        return exp.true() if as_of + timedelta(days=t.lead_days) in days else exp.false()
    if t.type == "weekly":
        return exp.true() if as_of.isoweekday() in t.weekdays else exp.false()
    if t.type == "tier_upgrade":
        return _col("tier_rank") > _col("previous_tier_rank")
    if t.type == "tier_downgrade_warning":
        return exp.and_(_col("review_date").eq(_date(as_of + timedelta(days=t.days_before))),
                        _col("review_tier_rank") < _col("tier_rank"))
    raise ValueError(f"unknown trigger type {t.type!r}")  # the schema forbids this
