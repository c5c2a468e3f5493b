"""When an activity fires, as the plan says it: the trigger kinds and their settings.

A trigger narrows an activity's segment to the customers for whom *today* (the as-of
date) is the day: N days after an order event, on a birthday, before a holiday, on a
weekday, after a tier change. `crmspec.compile.triggers` turns a `Trigger` into SQL.
Day arithmetic is in calendar days in the shop's timezone, like everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


ORDER_EVENTS = ("ordered_unpaid", "paid", "shipped", "signed", "first_purchase",
                "last_purchase")


# Events of a day of purchases (the customer's first or last), not of one order: they
# compare dates of `features`, and an order amount does not apply to them.
PURCHASE_DAY_EVENTS = ("first_purchase", "last_purchase")


EVENT_COLUMN = {"ordered_unpaid": "created_at", "paid": "paid_at", "shipped": "shipped_at",
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
